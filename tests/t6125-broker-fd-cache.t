#!/bin/sh
# klog - kbrokerd keeps at most --max-open-partitions open; closed ones reopen, recover, fence. MIT licence.

test_description='the partition cache: idle partitions close, reopen with recovery, and are fenced there when damaged'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

SEG=00000000000000000000
RP=$KLOG_DIR/recovery-point-offset-checkpoint

test_expect_success 'setup: a broker that keeps two partitions open' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b --max-open-partitions 2 &&
	test "$(metric klog_partitions_open_max)" = 2 &&
	kbclient create c 6
'

test_expect_success 'a produce to each of six partitions: two open at most, the others closed' '
	for p in 0 1 2 3 4 5; do
		kbclient produce c $p 3 -P c$p >acked.$p &&
		test_line_count = 3 acked.$p || return 1
	done &&
	test "$(metric klog_partitions_open)" -le 2 &&
	test "$(metric klog_partition_closes_total)" -ge 4 &&
	for p in 0 1 2 3 4 5; do
		kbclient consume c $p >got.$p &&
		sed "s/^[0-9]* //" got.$p >vals.$p &&
		test_cmp acked.$p vals.$p || return 1
	done &&
	test "$(metric klog_partitions_open)" -le 2
'

test_expect_success 'DESCRIBE shows closed partitions as they are on disk' '
	kbclient describe c | cut -f1-5 >remote &&
	ktopic -d "$KLOG_DIR" describe c | cut -f1-5 >local &&
	test_cmp local remote &&
	grep "^c	5	0	3	1$" remote &&
	test "$(metric klog_partitions_offline)" = 0
'

test_expect_success 'a producer pipelining to 60 partitions is slowed down, not refused' '
	printf "ALTER c 60\nQUIT\n" | talk >out &&
	grep "^OK$" out &&
	seq 1 300 | sed "s/^/k/; s/\$/:v/" | kproduce -K : c &&
	test "$(metric klog_partition_open_busy_total)" = 0 &&
	test "$(metric klog_partitions_open)" -le 2 &&
	kconsume -e -f "%k\n" c | grep -c "^k" >n &&
	echo 300 >expect &&
	test_cmp expect n
'

test_expect_success 'a closed partition is kept from embedded writers by the broker lock' '
	test_expect_code 1 kproduce -d "$KLOG_DIR" -p 3 c <acked.3 2>err &&
	grep "served by kbrokerd" err
'

test_expect_success 'two batches in d-0, then d-0 closed: its recovery point recorded' '
	kbclient create d 4 &&
	kbclient produce d 0 3 -P a >a &&
	kbclient produce d 0 2 -P b >b &&
	test_line_count = 2 b &&
	# two other partitions in use close d-0 (the coldest idle one)
	kbclient produce d 1 1 >/dev/null &&
	kbclient produce d 2 1 >/dev/null &&
	test_wait_line "$RP" "^d 0 5$" &&
	ktest batches "$KLOG_DIR/d-0/$SEG.log" >batches &&
	test_line_count = 2 batches
'

test_expect_success 'damage below it, while closed: fenced at reopen, the others serve' '
	pos=$(sed -n "2s/ .*//p" batches) &&
	ktest flip "$KLOG_DIR/d-0/$SEG.log" $((pos + 7)) 2 &&
	printf "FETCH d 0 0 1000\nOFFSETS d 0\nQUIT\n" | talk >out &&
	test "$(cut -d" " -f1,2 out | head -n 2 | tr "\n" " ")" = "ERR OFFLINE ERR OFFLINE " &&
	grep "d-0" out &&
	grep "partition '"'"'d-0'"'"' is offline: .*below the recovery point 5" b.err &&
	test "$(metric klog_partitions_offline)" = 1 &&
	printf "DESCRIBE d\nQUIT\n" | talk >desc &&
	grep "^d	0	.*	offline$" desc &&
	grep "^d	1	0	1	1	.*	online$" desc &&
	kbclient produce d 3 1 >acked &&
	test_line_count = 1 acked
'

test_expect_success 'REPAIR brings it back; it closes and reopens again' '
	printf "REPAIR d 0\nQUIT\n" | talk >out &&
	head -n 1 out | grep "^OK [1-9]" &&
	test "$(metric klog_partitions_offline)" = 0 &&
	kbclient produce d 0 1 -P z >acked &&
	kbclient produce d 1 1 >/dev/null &&
	kbclient produce d 2 1 >/dev/null &&
	kbclient consume d 0 >got &&
	sed "s/^[0-9]* //" got >vals &&
	cat a acked >expect &&
	test_cmp expect vals
'

test_expect_success 'kdump --repair --force reaches a closed partition; the broker reopens it' '
	kdump --repair --force "$KLOG_DIR/c-4" 2>err &&
	grep "nothing to repair" err &&
	kbclient consume c 4 >got &&
	test_line_count -ge 3 got
'

test_expect_success 'a clean stop records every recovery point; a restart serves all' '
	stop_broker b &&
	grep "^d 0 4$" "$RP" &&
	start_broker b2 --max-open-partitions 3 &&
	kconsume -e -f "%o\n" c >all &&
	test_line_count = 318 all &&
	kconsume -e -f "%o\n" d >all &&
	test_line_count = 9 all &&
	stop_broker b2 &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_done
