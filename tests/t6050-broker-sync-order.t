#!/bin/sh
# klog - kbrokerd --fsync always: no acknowledgement before its sync, responses in order. MIT licence.

test_description='fsync always: every OK FIRST LAST follows a sync that began after the write; order kept'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"

# The broker runs under the shim with the trace in $TRACE; kbclient -T
# appends its "kbclient ok t P FIRST LAST PID" lines to the same file, and
# check_acks (lib-fault.sh) checks each against the syncs before it.

test_expect_success 'setup: a broker under the shim, fsync always, small segments' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker b --fsync always &&
	kbclient create t 2 segment.bytes=1500 &&
	: >"$TRACE"
'

test_expect_success 'slow syncs: every ack after a sync begun after its write, one at a time' '
	arm "fdatasync:none:delay=50:path=*/t-0/*.log" &&
	kbclient produce t 0 30 -n 1 -w 1 -T "$TRACE" >acked &&
	ktest seq 30 r- >expect &&
	test_cmp expect acked &&
	check_acks 0 >checked &&
	echo 30 >expect &&
	test_cmp expect checked &&
	grep -c "^open 0 .*/t-0/[0-9]*\.log$" "$TRACE" >segs &&
	test $(cat segs) -ge 2
'

test_expect_success 'pipelined (-w 8): acks in order, each after its own sync' '
	kbclient produce t 0 60 -n 1 -w 8 -P p -T "$TRACE" >acked &&
	ktest seq 60 p- >expect &&
	test_cmp expect acked &&
	grep "^kbclient ok t 0 " "$TRACE" | tail -n 60 | cut -d" " -f5 >offsets &&
	seq 30 89 >expect &&
	test_cmp expect offsets &&
	check_acks 0 >checked &&
	echo 90 >expect &&
	test_cmp expect checked
'

# a second producer writes while the first one'"'"'s sync runs: its record is in
# the page cache when that sync returns, but not covered by it
test_expect_success 'a batch written during a slow sync waits for the next one' '
	arm "fdatasync:none:delay=1500:count=1:path=*/t-0/*.log" &&
	trace_mark &&
	{ kbclient produce t 0 1 -n 1 -P a -T "$TRACE" >a.out & } &&
	apid=$! &&
	trace_wait "^fdatasync begin .*/t-0/.*\.log$" &&
	kbclient produce t 0 1 -n 1 -P b -T "$TRACE" >b.out &&
	wait $apid &&
	echo a-0 >expect &&
	test_cmp expect a.out &&
	echo b-0 >expect &&
	test_cmp expect b.out &&
	check_acks 0 >checked &&
	echo 92 >expect &&
	test_cmp expect checked &&
	# b was written while a'"'"'s sync ran: the case is real
	tail -n +$((tm_mark + 1)) "$TRACE" | awk "/^fdatasync begin .*\/t-0\/.*\.log\$/ { on = 1 }
		/^fdatasync [0-9A-Z]* .*\/t-0\/.*\.log\$/ && !/ begin / { on = 0 }
		/^write 0 .*\/t-0\/.*\.log\$/ && on { found = 1 } END { exit !found }"
'

test_expect_success 'while the sync runs, consumers do not see the record' '
	end0=$(kbclient offsets t 0 | cut -d" " -f2) &&
	arm "fdatasync:none:delay=1500:count=1:path=*/t-0/*.log" &&
	trace_mark &&
	{ kbclient produce t 0 1 -n 1 -P c -T "$TRACE" >c.out & } &&
	cpid=$! &&
	trace_wait "^fdatasync begin .*/t-0/.*\.log$" &&
	kbclient offsets t 0 >during &&
	kbclient consume t 0 -o $end0 >seen &&
	echo "test looked" >>"$TRACE" &&
	wait $cpid &&
	echo "0 $end0" >expect &&
	test_cmp expect during &&
	test_line_count = 0 seen &&
	# the look fell inside the slow sync: after its begin, before its end
	awk "/^fdatasync begin .*\/t-0\/.*\.log\$/ { on = 1 }
		/^fdatasync [0-9A-Z]* .*\/t-0\/.*\.log\$/ && !/ begin / { on = 0 }
		/^test looked\$/ { ok = on } END { exit !ok }" "$TRACE" &&
	kbclient consume t 0 -o $end0 >seen &&
	echo "$end0 c-0" >expect &&
	test_cmp expect seen
'

test_expect_success 'an acknowledgement waiting for its sync holds back what follows it' '
	arm "fdatasync:none:delay=500:count=1:path=*/t-0/*.log" &&
	{
		produce_req t 0 1 &&
		printf "PING one\n" &&
		produce_req t 1 1 &&
		printf "PING two\nQUIT\n"
	} | talk >out &&
	sed "s/^OK [0-9][0-9]* [0-9][0-9]*$/OK FIRST LAST/" out >got &&
	printf "OK FIRST LAST\nOK PONG one\nOK FIRST LAST\nOK PONG two\nOK BYE\n" >expect &&
	test_cmp expect got &&
	grep -q "^fdatasync:none:delay=500" "$RULES" &&
	grep -q "/t-0/.* none delay=500$" "$FLOG"
'

test_expect_success 'a clean shutdown; the log verifies' '
	disarm &&
	stop_broker b &&
	kdump --verify "$KLOG_DIR" >verify &&
	! grep -v "^ok" verify
'

test_done
