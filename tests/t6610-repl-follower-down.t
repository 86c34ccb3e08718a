#!/bin/sh
# klog - replication: a follower killed leaves the ISR, produce goes on, it returns and catches up. MIT licence.

test_description='a follower dies: ISR shrinks, acks=all continues with min.insync.replicas=2; it rejoins'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

test_expect_success 'setup: three brokers, a topic with replication 3, min.insync.replicas=2' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 3 3 min.insync.replicas=2 &&
	P=$(part_led_by t 1) &&
	test -n "$P" &&
	wait_isr t $P 1,2,3 &&
	ktest seq 3000 "before-" >in.1 &&
	kproduce -b "$BROKERS" --acks all -v -p $P t <in.1 2>err.1 &&
	grep "kproduce: acked t $P 0 " err.1
'

test_expect_success 'follower 3 killed: the ISR shrinks to 1,2, and says so' '
	shrinks0=$(metric_sum klog_isr_shrinks_total) &&
	kill_node 3 &&
	wait_dead 3 &&
	wait_isr t $P 1,2 &&
	ktopic -b "$NODE_ADDR_1" describe t >desc &&
	test "$(sorted_ids_ "$(desc_field desc $P Isr)")" = 1,2 &&
	test "$(desc_field desc $P Leader)" = 1 &&
	test "$(metric_sum klog_isr_shrinks_total)" -gt "$shrinks0"
'

test_expect_success 'acks=all produce continues with two in-sync replicas' '
	ktest seq 3000 "during-" >in.2 &&
	kproduce -b "$NODE_ADDR_1,$NODE_ADDR_2" --acks all -v -p $P t <in.2 2>err.2 &&
	awk "/kproduce: acked t / { n += \$6 - \$5 + 1 } END { print n }" err.2 >n &&
	echo 3000 >expect &&
	test_cmp expect n &&
	wait_replicas_identical t $P 1,2
'

test_expect_success 'the follower returns, catches up and rejoins the ISR' '
	expands0=$(metric_sum klog_isr_expands_total) &&
	restart_node 3 &&
	wait_isr t $P 1,2,3 &&
	wait_replicas_identical t $P 1,2,3 &&
	test "$(metric_sum klog_isr_expands_total)" -gt "$expands0"
'

test_expect_success 'every record once, in order, from the leader' '
	kconsume -b "$BROKERS" -e t:$P >all &&
	cat in.1 in.2 >expect &&
	test_cmp expect all
'

test_expect_success 'and produce with three in-sync replicas again' '
	ktest seq 100 "after-" >in.3 &&
	kproduce -b "$BROKERS" --acks all -p $P t <in.3 &&
	wait_replicas_identical t $P 1,2,3
'

test_done
