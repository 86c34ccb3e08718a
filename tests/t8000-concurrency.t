#!/bin/sh
# klog - many writers, one partition; a follower never sees a torn batch. MIT licence.

test_description='8 concurrent kproduce processes and a follower on one partition'
. "$(dirname "$0")/lib.sh"

# The last test looks at the segment files (kdump): EMBEDDED.

N=8
PER=5000
TOTAL=$((N * PER))

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create c --config segment.bytes=65536 &&
	ktopic create c3 --partitions 3 &&
	i=0 &&
	while test $i -lt $N; do
		seq -f "p$i-%05g" 0 $((PER - 1)) >in$i || return 1
		i=$((i + 1))
	done
'

test_expect_success "$N producers in parallel, a follower reading along" '
	timeout 120 kconsume -c $TOTAL -f "%o %s\n" c >follow 2>follow.err &
	follower=$! &&
	pids= &&
	i=0 &&
	while test $i -lt $N; do
		kproduce -p 0 -B 2000 c in$i 2>err$i &
		pids="$pids $!" &&
		i=$((i + 1))
	done &&
	for pid in $pids; do
		wait $pid || { echo "a producer failed" >&2; cat err* >&2; return 1; }
	done &&
	wait $follower &&
	test_must_fail test -s follow.err
'

test_expect_success 'exactly the records sent, each once, offsets contiguous' '
	kconsume -e -f "%o %s\n" c >all &&
	test_line_count = $TOTAL all &&
	cut -d" " -f1 all >offsets &&
	seq 0 $((TOTAL - 1)) >expect &&
	test_cmp expect offsets &&
	cut -d" " -f2 all | sort >got &&
	cat in* | sort >sent &&
	test_cmp sent got &&
	ktopic describe c | cut -f3,4 >ends &&
	printf "0\t$TOTAL\n" >expect &&
	test_cmp expect ends
'

test_expect_success 'every producer'\''s records are in its own order' '
	i=0 &&
	while test $i -lt $N; do
		cut -d" " -f2 all | grep "^p$i-" >mine &&
		test_cmp in$i mine || return 1
		i=$((i + 1))
	done
'

test_expect_success 'the follower saw the same records in offset order' '
	test_cmp all follow
'

test_expect_success 'the batches of different producers interleave (real concurrency)' '
	cut -d" " -f2 all | cut -d- -f1 | uniq | wc -l >runs &&
	test "$(cat runs)" -gt $N
'

test_expect_success 'concurrent producers on 3 partitions, keyed and not' '
	pids= &&
	i=0 &&
	while test $i -lt 4; do
		if test $((i % 2)) = 0; then
			sed "s/^/k$i:/" in$i | kproduce -K : -B 2000 c3 2>err$i &
		else
			kproduce -B 2000 c3 in$i 2>err$i &
		fi
		pids="$pids $!" &&
		i=$((i + 1))
	done &&
	for pid in $pids; do
		wait $pid || return 1
	done &&
	kconsume -e -f "%p %o %s\n" c3 >all3 &&
	test_line_count = $((4 * PER)) all3 &&
	for p in 0 1 2; do
		awk -v p=$p "\$1 == p { print \$2 }" all3 >offs &&
		n=$(wc -l <offs) &&
		if test "$n" -gt 0; then
			seq 0 $((n - 1)) >expect &&
			sort -n offs >sorted &&
			test_cmp expect sorted || return 1
		fi
	done &&
	cut -d" " -f3 all3 | sort >got &&
	sort in0 in1 in2 in3 >sent &&
	test_cmp sent got
'

test_expect_success EMBEDDED 'kdump --verify: the log is sound' '
	kdump --verify "$KLOG_DIR/c-0" >out &&
	test_must_fail grep -v "^ok " out &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_done
