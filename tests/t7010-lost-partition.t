#!/bin/sh
# klog - a partition directory removed by hand is lost data, not an empty partition. MIT licence.

test_description='a missing partition directory reads as empty only when no records in it were ever durable'
. "$(dirname "$0")/lib.sh"
test_embedded_only "the test removes a partition directory by hand"
. "$TEST_DIRECTORY/lib-broker.sh"

test_expect_success 'setup: three partitions, records in partition 1' '
	ktopic create lost --partitions 3 &&
	printf "a\nb\nc\n" | kproduce -p 1 lost &&
	grep "^lost 1 3$" "$KLOG_DIR/recovery-point-offset-checkpoint"
'

test_expect_success 'a never-written partition whose directory is missing reads as empty' '
	rm -rf "$KLOG_DIR/lost-2" &&
	kconsume -e lost:2 >out &&
	! test -s out &&
	kdump --verify "$KLOG_DIR"
'

test_expect_success 'a removed directory that held durable records: readers fail naming it' '
	rm -rf "$KLOG_DIR/lost-1" &&
	test_must_fail kconsume -e lost:1 >out 2>err &&
	! test -s out &&
	grep "lost-1.*directory missing.*up to 3.*records lost" err &&
	test_expect_code 1 kdump --verify "$KLOG_DIR" >out 2>err &&
	grep "lost-1.*records lost" out err
'

test_expect_success 'and the writer refuses it rather than start it again at offset 0' '
	echo d | test_must_fail kproduce -p 1 lost 2>err &&
	grep "lost-1.*records lost" err &&
	test_path_is_missing "$KLOG_DIR/lost-1"
'

test_expect_success 'a broker fences it offline and serves the others' '
	start_broker b &&
	printf "FETCH lost 1 0 1000\nOFFSETS lost 1\nFETCH lost 0 0 1000\nQUIT\n" | talk >out &&
	sed -n 1p out | grep "^ERR OFFLINE .*lost-1.*records lost" &&
	sed -n 2p out | grep "^ERR OFFLINE " &&
	sed -n 3p out | grep "^DATA 0 0 " &&
	stop_broker b &&
	test_path_is_missing "$KLOG_DIR/lost-1"
'

test_expect_success 'a deleted topic leaves no checkpoint entries: made again, it is empty, not lost' '
	start_broker b2 &&
	printf "CREATE again 2\nQUIT\n" | talk >out &&
	echo x | kproduce -b "$ADDR" -p 1 again &&
	stop_broker b2 &&
	grep "^again 1 1$" "$KLOG_DIR/recovery-point-offset-checkpoint" &&
	start_broker b3 &&
	printf "DELETE again\nCREATE again 2\nFETCH again 1 0 1000\nQUIT\n" | talk >out &&
	sed -n 3p out | grep "^DATA 0 0 0$" &&
	! grep "^again " "$KLOG_DIR/recovery-point-offset-checkpoint" &&
	stop_broker b3 &&
	env -u KLOG_BROKERS kconsume -e again:1 >out &&
	! test -s out
'

test_done
