#!/bin/sh
# klog - kbrokerd: readiness, commands by hand, produce and fetch, ownership, clean stop. MIT licence.

test_description='kbrokerd serves a log directory: by hand, through the client, one owner'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

test_expect_success 'setup: an empty log directory' '
	mkdir -p "$KLOG_DIR"
'

test_expect_success 'kbrokerd -h prints help and exits 0; a bad option exits 2' '
	kbrokerd -h >out &&
	grep -q "usage: kbrokerd" out &&
	test_expect_code 2 kbrokerd --no-such-option 2>err &&
	test_expect_code 2 kbrokerd -d "$KLOG_DIR" --fsync sometimes 2>err &&
	grep -q "bad fsync policy" err
'

test_expect_success 'starts, announces readiness and writes its pid file' '
	start_broker b &&
	echo "$b_pid $ADDR" >expect &&
	test_cmp expect "$KLOG_DIR/kbrokerd.pid"
'

test_expect_success 'PING, CREATE, TOPICS, DESCRIBE, CONFIG by hand' '
	printf "PING\nping hello\n\nCREATE orders 3\nTOPICS\nDESCRIBE orders\nCONFIG orders\nQUIT\n" |
		talk >out &&
	cat >expect <<-\EOF &&
	OK PONG
	OK PONG hello
	OK
	OK 1
	orders
	OK 3
	orders	0	0	0	0	0	online
	orders	1	0	0	0	0	online
	orders	2	0	0	0	0	online
	EOF
	head -n 9 out >head &&
	test_cmp expect head &&
	grep -q "^partitions=3$" out &&
	tail -n 1 out >last &&
	echo "OK BYE" >expect &&
	test_cmp expect last
'

test_expect_success 'errors are one line with a stable code word' '
	printf "CREATE orders 1\nDESCRIBE nosuch\nOFFSETS orders 7\nFETCH orders 0 5 100\nFROB\nOFFSETS orders x\nCREATE ../x 1\nQUIT\n" |
		talk >out &&
	cut -d" " -f1,2 out >codes &&
	cat >expect <<-\EOF &&
	ERR TOPIC_EXISTS
	ERR UNKNOWN_TOPIC
	ERR UNKNOWN_PARTITION
	ERR OFFSET_OUT_OF_RANGE
	ERR UNKNOWN_COMMAND
	ERR BAD_REQUEST
	ERR INVALID
	OK BYE
	EOF
	test_cmp expect codes
'

test_expect_success 'produce and fetch through the client library' '
	kbclient produce orders 1 1000 -n 64 >acked &&
	test_line_count = 1000 acked &&
	kbclient consume orders 1 >got &&
	awk "{print \$2}" got >values &&
	test_cmp acked values &&
	awk "{print \$1}" got >offsets &&
	seq 0 999 >expect &&
	test_cmp expect offsets &&
	kbclient offsets orders 1 >out &&
	echo "0 1000" >expect &&
	test_cmp expect out
'

test_expect_success 'fetch from the middle of a batch starts at that offset' '
	kbclient consume orders 1 -o 500 -c 3 >got &&
	cat >expect <<-\EOF &&
	500 r-500
	501 r-501
	502 r-502
	EOF
	test_cmp expect got
'

test_expect_success 'pipelined requests are answered in order' '
	{
		printf "PING a\nOFFSETS orders 1\nPING b\nFETCH orders 2 0 100\nOFFSETS orders 0\nPING c\nQUIT\n"
	} | talk >out &&
	cat >expect <<-\EOF &&
	OK PONG a
	OK 0 1000
	OK PONG b
	DATA 0 0 0
	OK 0 0
	OK PONG c
	OK BYE
	EOF
	test_cmp expect out
'

test_expect_success 'the records are in the log directory for embedded readers' '
	ktopic -d "$KLOG_DIR" describe orders >out &&
	grep -q "^orders	1	0	1000	" out
'

test_expect_success 'a long-poll fetch wakes up when a produce arrives' '
	kbclient consume orders 2 -W 10000 -c 1 >got &
	cpid=$! &&
	kbclient produce orders 2 1 -P late >acked &&
	wait $cpid &&
	echo "0 late-0" >expect &&
	test_cmp expect got
'

test_expect_success 'a long-poll fetch with nothing to say answers after MAX_WAIT_MS' '
	printf "FETCH orders 2 1 1000 200 1\nQUIT\n" | talk >out &&
	printf "DATA 0 1 1\nOK BYE\n" >expect &&
	test_cmp expect out
'

test_expect_success 'STATS is Prometheus text with per-partition offsets' '
	printf "STATS\nQUIT\n" | talk >out &&
	head -n 1 out | grep -q "^DATA [0-9]" &&
	grep -q "^klog_partition_log_end_offset{topic=\"orders\",partition=\"1\"} 1000$" out &&
	grep -q "^klog_records_in_total 1001$" out &&
	grep -q "^klog_connections [0-9]" out &&
	grep -q "^klog_request_duration_seconds_count{command=\"PRODUCE\"} [0-9]" out &&
	grep -q "^# TYPE klog_request_duration_seconds histogram$" out
'

test_expect_success 'a second broker on the same directory is refused at once' '
	test_expect_code 1 kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 2>err &&
	grep -q "already served by kbrokerd ($b_pid $ADDR)" err
'

test_expect_success 'embedded writers refuse, naming the broker' '
	if test -x "$TOP/kproduce"; then
		echo x | test_must_fail kproduce -d "$KLOG_DIR" -p 0 orders 2>err &&
		grep -q "$ADDR" err
	fi
'

test_expect_success 'SIGTERM drains, checkpoints, removes the pid file and exits 0' '
	kill -TERM $b_pid &&
	wait $b_pid &&
	test_path_is_missing "$KLOG_DIR/kbrokerd.pid" &&
	grep -q "^orders 1 1000$" "$KLOG_DIR/recovery-point-offset-checkpoint"
'

# Known breakage in partition.c (not the broker): reopening a partition for
# writing trims its offset index before the end offset is known, so every
# index entry is "past the log" and the index is rebuilt, with warnings.
test_expect_success 'a restart after a clean stop needs no recovery' '
	start_broker b2 &&
	kbclient consume orders 1 -o 998 >got &&
	test_line_count = 2 got &&
	kill -TERM $b2_pid &&
	wait $b2_pid &&
	grep -v -e "serving" -e "shutting down" -e "stopped" b2.err >unexpected;
	test_cmp /dev/null unexpected
'

test_done
