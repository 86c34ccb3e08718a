#!/bin/sh
# klog - kbrokerd counts appends per partition: STATS and DESCRIBE TOPIC RATES. MIT licence.

test_description='the broker'"'"'s per-partition write counters and 10 s rates show a hot partition'
. "$(dirname "$0")/lib.sh"

test_embedded_only "starts a broker of its own to read its STATS from a known start"

. "$TEST_DIRECTORY/lib-broker.sh"

# rate NAME P: klog_partition_NAME{topic="skew",partition="P"}
pm() {
	metric "klog_partition_$1{topic=\"skew\",partition=\"$2\"}"
}

gt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

test_expect_success 'setup: a broker, a skewed load (1000 records to 0, 30 to 1, none to 2)' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b &&
	ktopic create skew -p 3 &&
	seq 1 1000 | kproduce -p 0 skew &&
	seq 1 30 | kproduce -p 1 skew
'

test_expect_success 'STATS: records and bytes appended per partition since start-up' '
	test "$(pm records_in_total 0)" = 1000 &&
	test "$(pm records_in_total 1)" = 30 &&
	test "$(pm records_in_total 2)" = 0 &&
	# a fresh log holds exactly the batches appended
	test "$(pm bytes_in_total 0)" = "$(pm bytes 0)" &&
	test "$(pm bytes_in_total 1)" = "$(pm bytes 1)" &&
	test "$(pm bytes_in_total 2)" = 0
'

# the rates look 10 s back: each test that reads them writes its load
# first (skew2: 1000 records to 0, 30 to 1, none to 2), so that a slow
# machine does not see the load age out of the window
load2() {
	seq 1 1000 | kproduce -p 0 skew2 &&
	seq 1 30 | kproduce -p 1 skew2
}

# rate NAME P: klog_partition_NAME{topic="skew2",partition="P"}
pm2() {
	metric "klog_partition_$1{topic=\"skew2\",partition=\"$2\"}"
}

test_expect_success 'STATS: the 10 s rates put partition 0 first, 2 at zero' '
	ktopic create skew2 -p 3 &&
	load2 &&
	r0=$(pm2 records_in_rate 0) && r1=$(pm2 records_in_rate 1) &&
	gt "$r0" "$r1" && gt "$r1" 0 &&
	test "$(pm2 records_in_rate 2)" = 0.0 &&
	# at most everything over the window (less if this took seconds)
	awk -v r="$r0" "BEGIN { exit !(r <= 100) }" &&
	gt "$(pm2 bytes_in_rate 0)" "$(pm2 bytes_in_rate 1)" &&
	test "$(pm2 bytes_in_rate 2)" = 0.0
'

test_expect_success 'DESCRIBE TOPIC RATES by hand: one line per partition' '
	load2 &&
	printf "DESCRIBE skew2 RATES\nDESCRIBE skew2 rates\nDESCRIBE skew2 FAST\nQUIT\n" | talk >out &&
	head -n 1 out >first &&
	echo "OK 3" >expect &&
	test_cmp expect first &&
	sed -n 2,4p out | cut -f1,2 >parts &&
	printf "skew2\t0\nskew2\t1\nskew2\t2\n" >expect &&
	test_cmp expect parts &&
	sed -n 4p out >p2 &&
	printf "skew2\t2\t0.0\t0.0\n" >expect &&
	test_cmp expect p2 &&
	sed -n 2,3p out | awk -F "\t" "NR == 1 { a = \$3; ab = \$4 } NR == 2 { b = \$3; bb = \$4 }
		END { exit !(a > b && b > 0 && ab > bb && a <= 200) }" &&
	sed -n 5p out >lower &&
	echo "OK 3" >expect &&
	test_cmp expect lower &&
	grep "^ERR BAD_REQUEST .*FAST" out &&
	tail -n 1 out >bye &&
	echo "OK BYE" >expect &&
	test_cmp expect bye
'

test_expect_success 'plain DESCRIBE is unchanged: seven columns' '
	printf "DESCRIBE skew\nQUIT\n" | talk >out &&
	sed -n 2,4p out | awk -F "\t" "NF != 7 { exit 1 }"
'

test_expect_success 'ktopic -b describe -r shows the broker rates' '
	load2 &&
	ktopic describe -r skew2 >rates &&
	awk -F "\t" "\$2 == 0 { a = \$8 } \$2 == 1 { b = \$8 } \$2 == 2 { c = \$8 }
		END { exit !(a > b && b > 0 && c == 0) }" rates
'

test_expect_success 'the counters start again with the broker; a new partition counts from 0' '
	stop_broker b &&
	start_broker b &&
	test "$(pm records_in_total 0)" = 0 &&
	test "$(pm records_in_rate 0)" = 0.0 &&
	seq 1 5 | kproduce -p 2 skew &&
	test "$(pm records_in_total 2)" = 5 &&
	ktopic alter skew --partitions 4 &&
	test "$(pm records_in_total 3)" = 0 &&
	seq 1 7 | kproduce -p 3 skew &&
	test "$(pm records_in_total 3)" = 7
'

test_expect_success 'a deleted topic leaves no counters behind' '
	ktopic delete skew &&
	ktopic delete skew2 &&
	kbclient stats >stats &&
	! grep "topic=\"skew\"" stats &&
	alive
'

test_done
