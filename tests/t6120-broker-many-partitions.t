#!/bin/sh
# klog - kbrokerd with 10,000 partitions and few file descriptors: limits, lazy partitions, restarts. MIT licence.

test_description='partition limits; a topic of the largest size is made at once, serves under a low descriptor limit, and restarts after SIGKILL'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# few descriptors for everything from here on (soft and hard: kbrokerd
# raises its soft limit to the hard one): the broker keeps at most a few
# partitions open, derived from this
ulimit -n 256 || skip_all "cannot lower the file descriptor limit"

# dirs TOPIC: how many TOPIC-N partition directories there are
dirs() {
	ls "$KLOG_DIR" | grep -c "^$1-[0-9]*$"
}

test_expect_success 'setup: a broker with partition limits' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b --max-partitions 10020 --max-topic-partitions 10000 &&
	kbclient create small 3 &&
	kbclient produce small 0 5 >acked &&
	test_line_count = 5 acked
'

test_expect_success 'CREATE past the per-topic limit: INVALID, nothing made' '
	printf "CREATE toobig 10001\nQUIT\n" | talk >out &&
	grep "^ERR INVALID .*toobig.*10001 partitions.*--max-topic-partitions 10000" out &&
	test_path_is_missing "$KLOG_DIR/toobig.topic" &&
	test_path_is_missing "$KLOG_DIR/toobig-0"
'

test_expect_success 'CREATE of the largest topic: one directory now, the others at first write' '
	printf "CREATE many 10000\nQUIT\n" | talk >out &&
	printf "OK\nOK BYE\n" >expect &&
	test_cmp expect out &&
	test "$(dirs many)" = 1 &&
	grep "^partitions=10000$" "$KLOG_DIR/many.topic"
'

test_expect_success 'CREATE and ALTER past the per-broker limit: INVALID, nothing changed' '
	# 3 + 10000 partitions now; the limit is 10020
	printf "CREATE more 18\nALTER small 30\nALTER small - partitions=40\nCREATE ok 17\nQUIT\n" |
		talk >out &&
	grep "^ERR INVALID .*more.*would make 10021 .*--max-partitions 10020" out &&
	grep "^ERR INVALID .*small.*would make 10030" out &&
	grep "^ERR INVALID .*small.*would make 10040" out &&
	grep "^OK$" out &&
	test_path_is_missing "$KLOG_DIR/more.topic" &&
	grep "^partitions=3$" "$KLOG_DIR/small.topic" &&
	test "$(metric klog_partitions)" = 10020
'

test_expect_success 'the broker keeps few partitions open; produce anywhere works' '
	max=$(metric klog_partitions_open_max) &&
	test "$max" -ge 1 && test "$max" -lt 100 &&
	for p in 0 1 4999 9998 9999; do
		kbclient produce many $p 3 -P m$p >acked.$p &&
		test_line_count = 3 acked.$p || return 1
	done &&
	# keyed records to 200 partitions in one pipelined stream
	seq 1 200 | sed "s/^/k/; s/\$/:v/" | kproduce -K : many &&
	test "$(metric klog_partitions_open)" -le "$max" &&
	test "$(metric klog_partition_closes_total)" -gt 0 &&
	test "$(metric klog_partition_open_busy_total)" = 0 &&
	kbclient produce small 1 2 >acked &&
	test_line_count = 2 acked &&
	alive
'

test_expect_success 'embedded readers take unwritten partitions for empty ones' '
	ktopic -d "$KLOG_DIR" describe many >desc &&
	test_line_count = 10000 desc &&
	grep "^many	9997	0	0	0	0	" desc &&
	grep "^many	9999	0	3	" desc &&
	kconsume -d "$KLOG_DIR" -e many:9997 >empty &&
	test ! -s empty &&
	kconsume -d "$KLOG_DIR" -e -f "%s\n" many:9999 >got &&
	printf "m9999-0\nm9999-1\nm9999-2\n" >expect &&
	test_cmp expect got &&
	kbclient describe many >rdesc &&
	grep "^many	9999	0	3	" rdesc &&
	grep "^many	9997	0	0	" rdesc
'

test_expect_success 'SIGKILL, restart under the same limit: ready, every record there' '
	kill -KILL $b_pid &&
	wait $b_pid;
	test $? = 137 &&
	start_broker b2 --max-partitions 10020 &&
	alive &&
	for p in 0 1 4999 9998 9999; do
		kbclient consume many $p >got.$p &&
		sed "s/^[0-9]* //" got.$p >vals.$p &&
		printf "m$p-0\nm$p-1\nm$p-2\n" >expect.$p &&
		test_cmp expect.$p vals.$p || return 1
	done &&
	kconsume -e -f "%k\n" many >keys &&
	grep -c "^k" keys >n &&
	echo 200 >expect &&
	test_cmp expect n &&
	kbclient consume small 0 >got &&
	test_line_count = 5 got
'

test_expect_success 'a clean stop and a second restart: the same' '
	stop_broker b2 &&
	start_broker b3 &&
	kbclient consume many 9999 >got &&
	test_line_count = 3 got &&
	stop_broker b3 &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_done
