#!/bin/sh
# klog - replication: the leader SIGKILLed mid-stream, ten times over; no acknowledged record lost. MIT licence.

test_description='leader killed under acks=all load, again and again: every acknowledged record kept, once'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

ROUNDS=${KLOG_TEST_ROUNDS:-10}

# four brokers: node 1 is the controller and holds no replica of the
# partition under test, so killing its leaders never stops elections
test_expect_success 'setup: four brokers, a partition replicated on 2, 3 and 4' '
	start_cluster 4 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 4 3 min.insync.replicas=2 &&
	P=$(part_without t 1) &&
	test -n "$P" &&
	R=$(replicas_of t $P | tr , "\n" | sort -n | paste -s -d, -) &&
	test "$R" = 2,3,4 &&
	: >traces
'

# acked_lines FILE: acknowledged values kbclient printed so far
acked_lines() {
	grep -v -c "^ERR " "$1" 2>/dev/null
}

enough_acked_() {
	test "$(acked_lines "$1")" -ge "$2"
}

round() {
	i=$1 &&
	wait_isr t $P 2,3,4 &&
	L=$(leader_of t $P) &&
	wait_knows_leader t $P $L &&
	eval "la=\$NODE_REAL_$L" &&
	{ kbclient -b "$la" produce t $P 10000000 -a all -n 20 -w 4 -k -P r$i -T trace.$i \
		>acked.$i 2>perr.$i & } &&
	pp=$! &&
	echo "acked.$i trace.$i" >>traces &&
	test_poll enough_acked_ acked.$i 100 &&
	kill_node $L KILL &&
	wait_leader t $P $L &&
	# it died with its connection, unless its client followed the leader
	{ kill $pp 2>/dev/null; wait $pp; true; } &&
	restart_node $L
}

test_expect_success "the leader killed mid-stream $ROUNDS times, restarted each time" '
	# and all along a kproduce that follows the leader from the broker
	# list, fed some 20000 records/s
	{ awk "BEGIN { for (i = 0; i < 5000000; i++) { print \"kp-\" i
		if (i % 200 == 199) { fflush(); system(\"sleep 0.01\") } } }" |
		kproduce -b "$BROKERS" --acks all -v -p $P -B 4096 t >/dev/null 2>kp.err & } &&
	kp=$! &&
	test_poll eval "grep -q \"kproduce: acked\" kp.err" &&
	n=1 &&
	while test $n -le $ROUNDS; do
		round $n || { echo "round $n failed" >&2; return 1; }
		n=$((n + 1))
	done &&
	{ kill $kp 2>/dev/null; wait $kp; true; }
'

test_expect_success 'all three replicas back in the ISR, byte-identical' '
	wait_isr t $P 2,3,4 &&
	wait_replicas_identical t $P 2,3,4
'

test_expect_success 'every acknowledged record is on the leader once, at its acknowledged offset' '
	wait_meta_converged t &&
	L=$(leader_of t $P) &&
	dump_part $L t $P >log &&
	test $(grep -c "" log) -ge $((ROUNDS * 100)) &&
	check_acked log $(cat traces)
'

test_expect_success 'every batch kproduce -v reported acknowledged is there, once, at its offsets' '
	check_kproduce_acked log kp.err t $P kp-
'

test_expect_success 'every round acknowledged records, and the log holds at least those' '
	n=1 &&
	while test $n -le $ROUNDS; do
		grep -v "^ERR " acked.$n >a &&
		test -s a &&
		test "$(awk "{ print \$2 }" log | grep -c "^r$n-")" -ge "$(grep -c "" a)" || return 1
		n=$((n + 1))
	done
'

test_done
