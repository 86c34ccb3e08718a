#!/bin/sh
# klog - kbrokerd killed with SIGKILL under 32 connections; acknowledged records survive. MIT licence.

test_description='SIGKILL of a loaded broker: every acknowledged record present exactly once'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"
PRODUCERS=${KLOG_CRASH_PRODUCERS:-24}
CONSUMERS=${KLOG_CRASH_CONSUMERS:-8}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create c -p 4 --config segment.bytes=262144 &&
	start_broker b
'

test_expect_success "$PRODUCERS producers and $CONSUMERS consumers, then SIGKILL" '
	pids= &&
	i=0 &&
	while test $i -lt $PRODUCERS; do
		kbclient produce c $((i % 4)) 100000 -n 10 -w 4 -P p$i >acked.$i 2>perr.$i &
		pids="$pids $!"
		i=$((i + 1))
	done &&
	i=0 &&
	while test $i -lt $CONSUMERS; do
		kbclient consume c $((i % 4)) -W 2000 -m 65536 >consumed.$i 2>cerr.$i &
		pids="$pids $!"
		i=$((i + 1))
	done &&
	# mid-stream: every producer has some acknowledgements
	i=0 &&
	while test $i -lt $PRODUCERS; do
		test_wait_line acked.$i "^p$i-" 30 || return 1
		i=$((i + 1))
	done &&
	printf "STATS\n" | bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; timeout 2 head -c 100000 <&3" >stats 2>/dev/null;
	kill -KILL $b_pid &&
	wait $b_pid;
	test $? = 137 &&
	for pid in $pids; do
		wait $pid
	done;
	grep -q "^klog_connections \(3[2-9]\|[4-9][0-9]\)$" stats
'

test_expect_success 'the clients saw the broker go away, not a protocol error' '
	cat perr.* cerr.* >errs &&
	! grep -v -e "connection closed" -e "Connection reset" -e "Broken pipe" errs
'

test_expect_success 'restart: every acknowledged record is there exactly once' '
	start_broker b2 &&
	for p in 0 1 2 3; do
		kbclient consume c $p >log.$p || return 1
	done &&
	cat log.0 log.1 log.2 log.3 | awk "{print \$2}" | sort >all &&
	uniq -d all >dups &&
	if test -s dups; then
		echo "$(wc -l <dups) records twice, e.g. $(head -n 3 dups)" >&2
		return 1
	fi &&
	cat acked.* | sort >acked &&
	test -s acked &&
	comm -23 acked all >missing &&
	if test -s missing; then
		echo "$(wc -l <missing) acknowledged records missing, e.g. $(head -n 3 missing)" >&2
		return 1
	fi
'

test_expect_success 'offsets are contiguous in every partition' '
	for p in 0 1 2 3; do
		awk "{ if (\$1 != NR - 1) { print \"gap at \" NR - 1; exit 1 } }" log.$p || return 1
	done
'

test_expect_success 'what consumers read before the crash is the same log' '
	i=0 &&
	while test $i -lt $CONSUMERS; do
		p=$((i % 4)) &&
		head -n $(wc -l <consumed.$i) log.$p >prefix &&
		cmp -s prefix consumed.$i || {
			echo "consumer $i read something else than partition $p holds" >&2
			return 1
		}
		i=$((i + 1))
	done
'

test_expect_success 'the restarted broker takes new records after the old ones' '
	kbclient produce c 0 5 -P after >acked.after &&
	kbclient consume c 0 -o $(wc -l <log.0) >tail &&
	awk "{print \$2}" tail >values &&
	test_cmp acked.after values &&
	kill -TERM $b2_pid &&
	wait $b2_pid
'

test_done
