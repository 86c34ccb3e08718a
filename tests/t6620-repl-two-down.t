#!/bin/sh
# klog - replication: two followers down, acks=all refused with NOT_ENOUGH_REPLICAS, then recovery. MIT licence.

test_description='two of three replicas dead: NOT_ENOUGH_REPLICAS, nothing written or acknowledged; recovery'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

test_expect_success 'setup: three brokers, replication 3, min.insync.replicas=2, some records' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 3 3 min.insync.replicas=2 &&
	P=$(part_led_by t 1) &&
	test -n "$P" &&
	ktest seq 1000 "first-" >in.1 &&
	kproduce -b "$BROKERS" --acks all -p $P t <in.1 &&
	wait_replicas_identical t $P 1,2,3
'

test_expect_success 'both followers killed: the ISR is the leader alone' '
	kill_node 2 &&
	kill_node 3 &&
	wait_dead 2 3 &&
	wait_isr t $P 1 &&
	test "$(leader_of t $P)" = 1
'

test_expect_success 'acks=all: NOT_ENOUGH_REPLICAS, nothing acknowledged, nothing written' '
	size0=$(cat n1/t-$P/*.log | wc -c) &&
	ktest seq 100 "refused-" >in.x &&
	test_must_fail kproduce -b "$NODE_ADDR_1" --acks all --retries 0 -v -p $P t <in.x >out 2>err &&
	grep NOT_ENOUGH_REPLICAS err &&
	! grep "acked" err &&
	test_must_fail kbclient -b "$NODE_REAL_1" produce t $P 50 -a all -P raw >acked 2>err &&
	grep "min.insync.replicas is 2; nothing written" err &&
	test_line_count = 0 acked &&
	test "$(cat n1/t-$P/*.log | wc -c)" = "$size0" &&
	kconsume -b "$NODE_ADDR_1" -e t:$P >all &&
	test_cmp in.1 all
'

test_expect_success 'acks=1 still goes to the leader alone' '
	ktest seq 10 "one-" >in.2 &&
	kproduce -b "$NODE_ADDR_1" --acks 1 -p $P t <in.2
'

test_expect_success 'the followers return: ISR whole again, acks=all works, replicas identical' '
	restart_node 2 &&
	restart_node 3 &&
	wait_isr t $P 1,2,3 &&
	ktest seq 1000 "last-" >in.3 &&
	kproduce -b "$BROKERS" --acks all -v -p $P t <in.3 2>err.3 &&
	grep "kproduce: acked" err.3 &&
	wait_replicas_identical t $P 1,2,3 &&
	kconsume -b "$BROKERS" -e t:$P >all &&
	cat in.1 in.2 in.3 >expect &&
	test_cmp expect all
'

test_done
