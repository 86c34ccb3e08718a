#!/bin/sh
# klog - kbrokerd fences a partition it cannot open and REPAIR brings it back. MIT licence.

test_description='a damaged partition is offline, the others serve; REPAIR makes it whole'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

SEG=00000000000000000000

test_expect_success 'setup: two partitions, closed cleanly (recovery points at the end)' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t -p 2 &&
	printf "a\nb\nc\n" | kproduce -d "$KLOG_DIR" -p 0 t &&
	printf "d\ne\n" | kproduce -d "$KLOG_DIR" -p 0 t &&
	printf "x\ny\n" | kproduce -d "$KLOG_DIR" -p 1 t &&
	grep -q "^t 0 5$" "$KLOG_DIR/recovery-point-offset-checkpoint"
'

test_expect_success 'a flipped baseOffset below the recovery point of t-0' '
	# batch 2 starts at byte 85: its baseOffset 3 becomes 7 (not under the CRC)
	ktest batches "$KLOG_DIR/t-0/$SEG.log" >batches &&
	test "$(sed -n 2p batches)" = "85 77 3" &&
	ktest flip "$KLOG_DIR/t-0/$SEG.log" 92 2 &&
	cp "$KLOG_DIR/t-0/$SEG.log" damaged.copy
'

test_expect_success 'the broker starts all the same and names what it fenced' '
	start_broker b &&
	grep "partition '"'"'t-0'"'"' is offline: segment '"'"'t-0/$SEG.log'"'"' damaged at byte 85" b.err &&
	grep "below the recovery point 5" b.err &&
	cmp damaged.copy "$KLOG_DIR/t-0/$SEG.log"
'

test_expect_success 'DESCRIBE and STATS show t-0 offline, t-1 online' '
	printf "DESCRIBE t\nQUIT\n" | talk >out &&
	grep "^t	0	.*	offline$" out &&
	grep "^t	1	0	2	1	.*	online$" out &&
	test "$(metric klog_partitions_offline)" = 1 &&
	test "$(metric "klog_partition_online{topic=\"t\",partition=\"0\"}")" = 0 &&
	test "$(metric "klog_partition_online{topic=\"t\",partition=\"1\"}")" = 1 &&
	ktopic describe t >d &&
	cut -f1,2,7 d >states &&
	printf "t\t0\toffline\nt\t1\tonline\n" >expect &&
	test_cmp expect states
'

test_expect_success 'errors name the fenced partition; the other one serves' '
	printf "f\n" >f &&
	test_expect_code 1 kproduce -p 0 t <f 2>err &&
	grep "OFFLINE\|offline" err &&
	grep "t-0" err &&
	printf "FETCH t 0 0 1000\nOFFSETS t 0\nQUIT\n" | talk >out &&
	test "$(cut -d" " -f1,2 out | head -n 2 | tr "\n" " ")" = "ERR OFFLINE ERR OFFLINE " &&
	printf "z\n" | kproduce -p 1 t &&
	kconsume -e -f "%o %s\n" t:1 >actual &&
	printf "0 x\n1 y\n2 z\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'REPAIR of a healthy partition changes nothing' '
	printf "REPAIR t 1\nQUIT\n" | talk >out &&
	printf "OK 1\n" >expect &&
	head -n 1 out >first &&
	test_cmp expect first &&
	grep "nothing to repair" out
'

test_expect_success 'REPAIR cuts the damage into .damaged and brings t-0 back' '
	printf "REPAIR t 0\nQUIT\n" | talk >out &&
	head -n 1 out | grep "^OK [1-9]" &&
	grep "moved to '"'"'$SEG.log.damaged'"'"'" out &&
	grep "recovery point 5 lowered to the end of the log, 3" out &&
	test -s "$KLOG_DIR/t-0/$SEG.log.damaged" &&
	test "$(metric klog_partitions_offline)" = 0 &&
	printf "g\n" | kproduce -p 0 t &&
	kconsume -e -f "%o %s\n" t:0 >actual &&
	printf "0 a\n1 b\n2 c\n3 g\n" >expect &&
	test_cmp expect actual &&
	stop_broker b &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_expect_success 'the cut bytes are the damaged batch and the one after it' '
	tail -c +86 damaged.copy >expect &&
	test_cmp expect "$KLOG_DIR/t-0/$SEG.log.damaged"
'

test_done
