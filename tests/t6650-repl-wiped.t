#!/bin/sh
# klog - replication: a broker whose log directory was wiped re-replicates everything. MIT licence.

test_description='a log directory wiped, the broker restarted: it copies its partitions back, byte for byte'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

test_expect_success 'setup: three brokers, two topics replicated 3, several segments' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 1000 &&
	create_topic t 3 3 min.insync.replicas=2 segment.bytes=65536 &&
	create_topic u 1 3 &&
	ktest seq 20000 "record-" >in &&
	kproduce -b "$BROKERS" --acks all -B 16384 t <in &&
	ktest seq 100 "u-" | kproduce -b "$BROKERS" --acks all u &&
	for p in 0 1 2; do
		wait_replicas_identical t $p 1,2,3 || return 1
	done &&
	test $(ls n3/t-*/*.log | wc -l) -gt 3
'

test_expect_success 'node 3 stopped, its directory wiped, restarted' '
	stop_node 3 &&
	rm -rf n3 &&
	restart_node 3
'

test_expect_success 'it re-replicates every partition and rejoins every ISR' '
	for p in 0 1 2; do
		wait_isr t $p 1,2,3 &&
		wait_replicas_identical t $p 1,2,3 || return 1
	done &&
	wait_isr u 0 1,2,3 &&
	wait_replicas_identical u 0 1,2,3 &&
	for p in 0 1 2; do
		test_path_is_file n3/t-$p/leader-epoch-checkpoint || return 1
	done
'

test_expect_success 'node 2 killed: nodes 1 and 3 serve every record' '
	kill_node 2 &&
	wait_dead 2 &&
	for p in 0 1 2; do
		wait_leader t $p 2 || return 1
	done &&
	wait_meta_converged t &&
	kconsume -b "$NODE_ADDR_1,$NODE_ADDR_3" -e t >all &&
	sort in >expect &&
	sort all >actual &&
	test_cmp expect actual
'

test_done
