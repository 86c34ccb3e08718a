#!/bin/sh
# klog - replication: three brokers, replication 3, acks=all producers, byte-identical replicas. MIT licence.

test_description='a cluster of three: metadata, spread leaders, acks=all, byte-identical replicas'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

test_expect_success 'setup: three brokers, all alive at the controller' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	metadata >meta &&
	grep "^cluster 1 [0-9]* 1$" meta &&
	test $(grep -c "^node [123] 127.0.0.1:[0-9]* alive$" meta) = 3
'

test_expect_success 'every broker answers metadata for the whole cluster, naming itself' '
	for i in 1 2 3; do
		meta_from $i >meta.$i &&
		grep "^cluster 1 [0-9]* $i$" meta.$i &&
		grep "^node 1 $NODE_ADDR_1 alive$" meta.$i &&
		grep "^node 2 $NODE_ADDR_2 alive$" meta.$i &&
		grep "^node 3 $NODE_ADDR_3 alive$" meta.$i || return 1
	done
'

test_expect_success 'a replication factor above the live brokers is refused clearly' '
	test_must_fail ktopic -b "$BROKERS" create big -p 1 --replication-factor 4 2>err &&
	grep "replication factor 4 larger than the 3 live brokers" err
'

test_expect_success 'ktopic create: 3 partitions, replication 3, one leader per broker' '
	ktopic -b "$BROKERS" create t -p 3 --replication-factor 3 -c min.insync.replicas=2 &&
	wait_meta_converged t &&
	metadata t >meta &&
	grep "^topic t 3 3 .*min.insync.replicas=2" meta &&
	awk "\$1 == \"part\" { print \$4 }" meta | sort >leaders &&
	printf "1\n2\n3\n" >expect &&
	test_cmp expect leaders &&
	# per partition: replicas 1,2,3 in some order, the first the leader, ISR all
	awk "\$1 == \"part\" { print \$3, \$4, \$7, \$8 }" meta >parts &&
	while read p l r isr; do
		test "$(sorted_ids_ $r)" = 1,2,3 &&
		test "${r%%,*}" = "$l" &&
		test "$(sorted_ids_ $isr)" = 1,2,3 || return 1
	done <parts &&
	test_line_count = 3 parts
'

test_expect_success 'ktopic describe shows leader, replicas and ISR per partition' '
	ktopic -b "$BROKERS" describe t >desc &&
	test_line_count = 4 desc &&
	grep "^Topic: t	PartitionCount: 3	ReplicationFactor: 3" desc &&
	while read p l r isr; do
		test "$(desc_field desc $p Leader)" = "$l" &&
		test "$(desc_field desc $p Replicas)" = "$r" &&
		test "$(sorted_ids_ "$(desc_field desc $p Isr)")" = 1,2,3 || return 1
	done <parts
'

test_expect_success 'three producers at once, acks=all: every batch acknowledged' '
	for i in 1 2 3; do
		ktest seq 20000 "producer$i-" >in.$i || return 1
	done &&
	{ kproduce -b "$BROKERS" --acks all -v -B 16384 t <in.1 >out.1 2>err.1 & } && p1=$! &&
	{ kproduce -b "$BROKERS" --acks all -v -B 16384 t <in.2 >out.2 2>err.2 & } && p2=$! &&
	{ kproduce -b "$BROKERS" --acks all -v -B 16384 t <in.3 >out.3 2>err.3 & } && p3=$! &&
	wait $p1 && wait $p2 && wait $p3 &&
	for i in 1 2 3; do
		awk "/kproduce: acked t / { n += \$6 - \$5 + 1 } END { print n }" err.$i >n.$i &&
		echo 20000 >expect &&
		test_cmp expect n.$i || return 1
	done
'

test_expect_success 'consumers read every record once, in each producer'"'"'s order per partition' '
	kconsume -b "$BROKERS" -e t >all &&
	cat in.1 in.2 in.3 | sort >expect &&
	sort all >actual &&
	test_cmp expect actual &&
	for p in 0 1 2; do
		kconsume -b "$BROKERS" -e t:$p >part.$p &&
		for i in 1 2 3; do
			grep "^producer$i-" part.$p >got &&
			grep -F -x -f got in.$i >want &&
			test_cmp want got || return 1
		done
	done
'

test_expect_success 'the replicas are byte-identical to their leader' '
	for p in 0 1 2; do
		wait_replicas_identical t $p 1,2,3 || return 1
	done &&
	for p in 0 1 2; do
		ls n1/t-$p/*.log | wc -l >nseg &&
		test "$(cat nseg)" -ge 1 || return 1
	done
'

test_expect_success 'high watermarks and leader epochs are checkpointed in Kafka'"'"'s files' '
	for i in 1 2 3; do
		test_path_is_file n$i/replication-offset-checkpoint &&
		for p in 0 1 2; do
			test_path_is_file n$i/t-$p/leader-epoch-checkpoint &&
			sed -n 1p n$i/t-$p/leader-epoch-checkpoint >v &&
			echo 0 >expect &&
			test_cmp expect v || return 1
		done
	done
'

test_expect_success 'the high watermark is checkpointed: the leader'"'"'s at the end, no replica'"'"'s beyond' '
	for p in 0 1 2; do
		grep -c "" part.$p >n.$p &&
		leader_of t $p >l.$p || return 1
	done &&
	stop_node 3 && stop_node 2 && stop_node 1 &&
	for p in 0 1 2; do
		grep "^t $p $(cat n.$p)$" n$(cat l.$p)/replication-offset-checkpoint &&
		for i in 1 2 3; do
			hw=$(awk -v p=$p "\$1 == \"t\" && \$2 == p { print \$3 }" n$i/replication-offset-checkpoint) &&
			test -n "$hw" && test "$hw" -le "$(cat n.$p)" || return 1
		done
	done
'

test_done
