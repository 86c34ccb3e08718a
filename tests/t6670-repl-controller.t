#!/bin/sh
# klog - replication: the controller down and back; brokers from a --cluster-file. MIT licence.

test_description='while the controller is down nothing is elected and nothing acknowledged falsely; it resumes from cluster-state'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

# leader of T P as node I sees it
leader_at_() {
	meta_from "$1" "$2" | awk -v t="$2" -v p="$3" '$1 == "part" && $2 == t && $3 == p { print $4 }'
}

test_expect_success 'setup: three brokers, replication 3, min.insync.replicas=2' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 3 3 min.insync.replicas=2 &&
	P2=$(part_led_by t 2) && P3=$(part_led_by t 3) &&
	test -n "$P2" && test -n "$P3" &&
	wait_isr t $P2 1,2,3 &&
	ktest seq 500 "before-" >in.1 &&
	kproduce -b "$BROKERS" --acks all -p $P2 t <in.1 &&
	metadata t >meta.before &&
	grep "^part t $P2 " meta.before >p2.before
'

test_expect_success 'the controller killed: other brokers still answer METADATA' '
	kill_node 1 &&
	meta_from 2 t >meta.2 &&
	grep "^part t $P2 2 " meta.2
'

test_expect_success 'no ISR change without it: acks=all on a partition whose ISR holds it is never acknowledged' '
	test_expect_code 124 timeout 2 kbclient -b "$NODE_REAL_2" produce t $P2 5 -a all -P stuck \
		>acked.stuck 2>err.stuck &&
	test_line_count = 0 acked.stuck
'

test_expect_success 'acks=1 goes on: the leader alone' '
	ktest seq 200 "one-" >in.2 &&
	kproduce -b "$NODE_ADDR_2" --acks 1 -v -p $P2 t <in.2 2>err.2 &&
	grep "kproduce: acked t $P2 " err.2
'

test_expect_success 'a leader dies while the controller is down: nobody is elected' '
	kill_node 3 &&
	meta_from 2 >meta.2b &&
	grep "^node 3 .* alive" meta.2b &&
	test "$(leader_at_ 2 t $P3)" = 3
'

test_expect_success 'the controller returns: the state is its persisted one, the dead leader replaced' '
	restart_node 1 &&
	metadata t >meta.after &&
	grep "^topic t 3 3 " meta.after &&
	wait_leader t $P3 3 &&
	test "$LEADER" != 3 &&
	awk "\$1 == \"part\" && \$3 == $P3 { print \$5 }" meta.before >e.before &&
	metadata t | awk "\$1 == \"part\" && \$3 == $P3 { print \$5 }" >e.after &&
	test "$(cat e.after)" -gt "$(cat e.before)"
'

test_expect_success 'node 3 back: ISRs whole again, acks=all acknowledged again' '
	restart_node 3 &&
	wait_isr t $P2 1,2,3 &&
	wait_isr t $P3 1,2,3 &&
	ktest seq 100 "after-" >in.3 &&
	kproduce -b "$BROKERS" --acks all -v -p $P2 t <in.3 2>err.3 &&
	grep "kproduce: acked t $P2 " err.3 &&
	wait_replicas_identical t $P2 1,2,3
'

test_expect_success 'every acknowledged record is there, once, in order' '
	kconsume -b "$BROKERS" -e t:$P2 >all &&
	grep -v "^stuck-" all >acked.all &&
	cat in.1 in.2 in.3 >expect &&
	test_cmp expect acked.all &&
	test "$(grep -c "^stuck-" all)" -le 5
'

test_expect_success 'a broker takes the cluster from --cluster-file' '
	printf "# the cluster\n1@%s\n2@127.0.0.1:0\n3@127.0.0.1:0 # last\n" "$NODE_REAL_1" >cluster.list &&
	stop_node 3 &&
	mkdir -p n3f &&
	test_fifo n3f.ready &&
	{ kbrokerd -d n3f -l 127.0.0.1:0 -r 3 --node-id 3 --cluster-file cluster.list \
		--broker-session-timeout-ms 1000 3>n3f.ready 2>>n3f.err </dev/null & } &&
	n3f_pid=$! &&
	test_atexit "broker_gone_ $n3f_pid" &&
	n3f_addr=$(timeout 30 head -n 1 n3f.ready) &&
	cluster_poll eval "metadata | grep -q \"^node 3 $n3f_addr alive\"" &&
	cluster_poll test -f n3f/t-$P2/00000000000000000000.log &&
	wait_isr t $P2 1,2,3
'

test_done
