#!/bin/sh
# klog - replication: a leader frozen past its session is replaced; woken, it is fenced and follows. MIT licence.

test_description='SIGSTOP the leader: a new one is elected; SIGCONT: the old one cannot ack, rejoins, keeps nothing divergent'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

acked_lines() {
	grep -v -c "^ERR " "$1" 2>/dev/null
}

enough_acked_() {
	test "$(acked_lines "$1")" -ge "$2"
}

# node I's own metadata names a leader for TOPIC-PART other than NOT
sees_other_leader_() {
	meta_from $1 t >sol.meta &&
	sol_l=$(awk -v p="$P" "\$1 == \"part\" && \$3 == p { print \$4 }" sol.meta) &&
	test -n "$sol_l" && test "$sol_l" != -1 && test "$sol_l" != "$2"
}

test_expect_success 'setup: four brokers, a partition on 2, 3 and 4, a producer on its leader' '
	start_cluster 4 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 4 3 min.insync.replicas=2 &&
	P=$(part_without t 1) &&
	test -n "$P" &&
	wait_isr t $P 2,3,4 &&
	L=$(leader_of t $P) &&
	eval "la=\$NODE_REAL_$L" &&
	{ kbclient -b "$la" produce t $P 10000000 -a all -n 20 -w 4 -P old -T trace.old \
		>acked.old 2>perr.old & } &&
	pp=$! &&
	test_poll enough_acked_ acked.old 200
'

test_expect_success 'the leader stopped past the session timeout: another is elected' '
	epoch0=$(metadata t | awk -v p=$P "\$1 == \"part\" && \$3 == p { print \$5 }") &&
	kill_node $L STOP &&
	wait_dead $L &&
	wait_leader t $P $L &&
	N=$LEADER &&
	epoch1=$(metadata t | awk -v p=$P "\$1 == \"part\" && \$3 == p { print \$5 }") &&
	test "$epoch1" -gt "$epoch0" &&
	wait_meta_converged t
'

test_expect_success 'the new leader acknowledges acks=all' '
	eval "na=\$NODE_REAL_$N" &&
	kbclient -b "$na" produce t $P 500 -a all -n 10 -P new -T trace.new >acked.new &&
	test_line_count = 500 acked.new
'

test_expect_success 'woken, the old leader acknowledges nothing more and learns it is deposed' '
	kill_node $L CONT &&
	cluster_poll sees_other_leader_ $L $L &&
	{ kill $pp 2>/dev/null; wait $pp; true; } &&
	test_must_fail kbclient -b "$la" produce t $P 10 -a all -P late >acked.late 2>err &&
	test_line_count = 0 acked.late &&
	grep "leader is node" err
'

test_expect_success 'it rejoins the ISR as a follower, its log the same bytes as the others' '
	wait_isr t $P 2,3,4 &&
	test "$(leader_of t $P)" = $N &&
	wait_replicas_identical t $P 2,3,4
'

test_expect_success 'every acknowledged record is there once, at its offset; nothing divergent kept' '
	dump_part $N t $P >log &&
	check_acked log acked.old trace.old acked.new trace.new &&
	grep -c " new-" log >nnew &&
	echo 500 >expect &&
	test_cmp expect nnew
'

test_done
