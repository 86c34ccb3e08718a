#!/bin/sh
# klog - kbrokerd: topic changes under waiting fetches; the fsync policies. MIT licence.

test_description='kbrokerd: alter and delete under long polls; fsync always, interval, never'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b
'

test_expect_success 'fetches waiting on a deleted topic get UNKNOWN_TOPIC' '
	printf "CREATE w 2\nQUIT\n" | talk >out &&
	{ printf "FETCH w 0 0 1000 8000\nFETCH w 1 0 1000 8000\nPING\nQUIT\n" | talk >waiting & } &&
	wpid=$! &&
	wait_metric klog_fetches_waiting = 2 &&
	printf "ALTER w 3 retention.ms=86400000\nCONFIG w\nDELETE w\nTOPICS\nQUIT\n" | talk >out &&
	wait $wpid &&
	cut -d" " -f1,2 waiting >codes &&
	printf "ERR UNKNOWN_TOPIC\nERR UNKNOWN_TOPIC\nOK PONG\nOK BYE\n" >expect &&
	test_cmp expect codes &&
	grep -q "^retention.ms=86400000$" out &&
	grep -q "^partitions=3$" out &&
	tail -n 2 out >last &&
	printf "OK 0\nOK BYE\n" >expect &&
	test_cmp expect last &&
	test_path_is_missing "$KLOG_DIR/w-0"
'

test_expect_success 'a topic created again after a delete starts empty' '
	printf "CREATE w 1\nOFFSETS w 0\nQUIT\n" | talk >out &&
	printf "OK\nOK 0 0\nOK BYE\n" >expect &&
	test_cmp expect out
'

test_expect_success 'embedded ktopic refuses to change a served directory; -b goes through' '
	test_expect_code 1 ktopic -d "$KLOG_DIR" create side -p 2 2>err &&
	grep -q "served by kbrokerd" err &&
	test_line_count = 1 err &&
	test_expect_code 1 ktopic -d "$KLOG_DIR" delete w 2>err &&
	grep -q "served by kbrokerd" err &&
	ktopic -b "$ADDR" create side -p 2 &&
	kbclient produce side 1 3 >acked &&
	kbclient consume side 1 >got &&
	test_line_count = 3 got
'

test_expect_success 'fsync always: a produce is synced before its ack' '
	n0=$(metric klog_fsyncs_total) &&
	kbclient produce w 0 10 >/dev/null &&
	n1=$(metric klog_fsyncs_total) &&
	test "$n1" -gt "$n0" &&
	stop_broker b
'

test_expect_success 'fsync never: acks without syncs' '
	start_broker never --fsync never &&
	kbclient produce w 0 10 >/dev/null &&
	kbclient produce w 0 10 >/dev/null &&
	test "$(metric klog_fsyncs_total)" = 0 &&
	kbclient consume w 0 >got &&
	test_line_count = 30 got &&
	stop_broker never
'

test_expect_success 'fsync interval=MS: syncs come from the timer' '
	start_broker iv --fsync interval=20 &&
	kbclient produce w 0 10 >/dev/null &&
	wait_metric klog_fsyncs_total -ge 1 &&
	kbclient consume w 0 >got &&
	test_line_count = 40 got &&
	stop_broker iv
'

test_done
