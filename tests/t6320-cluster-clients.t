#!/bin/sh
# klog - the tools in a 3-broker cluster: create with replicas, describe, produce and consume through any broker, a leader's death. MIT licence.

test_description='ktopic, kproduce and kconsume follow leaders in a cluster of three kbrokerd'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# METADATA at the broker of port $1: its node lines
nodes_at() {
	(PORT=$1 && printf "METADATA\nQUIT\n" | talk) | grep "^node "
}

# every node of the cluster is alive, as the controller sees it
all_alive() {
	test "$(nodes_at "$b1_port" | grep -c " alive\$")" = 3
}

# the partition's leader, from describe
leader_of() {
	ktopic -b "$b1_addr" describe -H "$1" |
		awk -F '\t' -v p="Partition: $2" '$2 == p { sub("Leader: ", "", $3); print $3 }'
}

test_expect_success 'setup: a controller (node 1), then nodes 2 and 3' '
	mkdir -p d1 d2 d3 &&
	KLOG_DIR=$PWD/d1 start_broker b1 --node-id 1 \
		--cluster 1@127.0.0.1:0,2@127.0.0.1:0,3@127.0.0.1:0 &&
	b1_port=$PORT &&
	KLOG_DIR=$PWD/d2 start_broker b2 --node-id 2 \
		--cluster "1@$b1_addr,2@127.0.0.1:0,3@127.0.0.1:0" &&
	b2_port=$PORT &&
	KLOG_DIR=$PWD/d3 start_broker b3 --node-id 3 \
		--cluster "1@$b1_addr,2@127.0.0.1:0,3@127.0.0.1:0" &&
	b3_port=$PORT &&
	unset KLOG_BROKERS &&
	test_poll all_alive
'

test_expect_success 'create --replication-factor 3 through a broker that is not the controller' '
	ktopic -b "$b3_addr" create orders --partitions 3 --replication-factor 3
'

test_expect_success 'describe: one leader per broker, three replicas, all in sync' '
	ktopic -b "$b2_addr" describe -H orders >out &&
	printf "Topic: orders\tPartitionCount: 3\tReplicationFactor: 3\n" >expect &&
	head -n 1 out >actual &&
	test_cmp expect actual &&
	test $(wc -l <out) = 4 &&
	awk -F "\t" "NR > 1 { print \$3 }" out | sort >leaders &&
	printf "Leader: 1\nLeader: 2\nLeader: 3\n" >expect &&
	test_cmp expect leaders &&
	awk -F "\t" "NR > 1 { split(\$4, r, \": \"); split(\$5, i, \": \");
		n = split(r[2], a, \",\"); m = split(i[2], b, \",\");
		if (n != 3 || m != 3) print \"bad: \" \$0 }" out >bad &&
	test ! -s bad &&
	grep -q "	LogEnd: 0	" out
'

test_expect_success 'describe -J has leader, leader_epoch, replicas and isr' '
	ktopic -b "$b1_addr" describe -J orders >out &&
	test $(grep -c "\"leader\":[123],\"leader_epoch\":[0-9]*,\"replicas\":\[[123],[123],[123]\],\"isr\":\[[123],[123],[123]\]" out) = 3
'

test_expect_success 'a replication factor above the live brokers is refused: one line, exit 2' '
	test_expect_code 2 ktopic -b "$b1_addr" create big --replication-factor 4 2>err &&
	test $(wc -l <err) = 1 &&
	grep -q "replication factor 4" err &&
	ktopic -b "$b1_addr" list >list &&
	! grep -q "^big\$" list
'

test_expect_success 'produce through two brokers: every batch acknowledged' '
	seq 1 300 | kproduce -b "$b2_addr,$b3_addr" -a all -B 200 -v orders 2>acks &&
	grep -q "^kproduce: acked orders " acks &&
	! grep -q "^kproduce: failed" acks
'

test_expect_success 'consume from any one broker: every record, once' '
	kconsume -b "$b3_addr" -e orders >out &&
	sort -n out >sorted &&
	seq 1 300 >expect &&
	test_cmp expect sorted
'

test_expect_success 'the leader of a partition dies: produce and consume go on at the new one' '
	l=$(leader_of orders 0) &&
	test -n "$l" &&
	if test "$l" = 1; then l=$(leader_of orders 1); fi &&
	test "$l" != 1 &&
	eval "kill -KILL \$b${l}_pid" &&
	if test "$l" = 2; then live=$b3_addr; else live=$b2_addr; fi &&
	seq 301 600 | kproduce -b "$b2_addr,$b3_addr,$b1_addr" -a all -B 200 -v orders 2>acks &&
	! grep -q "^kproduce: failed" acks &&
	kconsume -b "$live,$b1_addr" -e orders >out &&
	sort -n out >sorted &&
	seq 1 600 >expect &&
	test_cmp expect sorted
'

test_done
