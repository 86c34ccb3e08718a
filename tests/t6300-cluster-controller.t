#!/bin/sh
# klog - kbrokerd as a cluster's controller: sessions, assignment, elections, ALTERISR, its state file. MIT licence.

test_description='the controller of a 3-node cluster driven by fake nodes (kfakenode)'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# meta [TOPIC...]: the controller's METADATA lines, the OK N line first
meta() {
	printf "METADATA %s\nQUIT\n" "$*" | talk | grep -v "^OK BYE"
}

# cmd LINE: one request's answer
cmd() {
	printf "%s\nQUIT\n" "$1" | talk | grep -v "^OK BYE"
}

meta_has() {
	meta >meta.now && grep -qx "$1" meta.now
}

# fake NODE [INCARNATION]: node NODE heartbeats to the controller from now on
fake() {
	{ kfakenode "$CTL" "$@" >"n$1.out" 2>&1 & } &&
	eval "n$1_pid=$!" &&
	test_atexit "kill -CONT $! 2>/dev/null; kill $! 2>/dev/null" &&
	test_poll grep -qs "^OK" "n$1.out" || {
		echo "fake node $1: $(cat "n$1.out")" >&2
		return 1
	}
}

test_expect_success 'setup: a controller of 3 nodes (node 1 of 1@,2@,3@)' '
	mkdir -p "$KLOG_DIR" &&
	start_broker c --node-id 1 --cluster 1@127.0.0.1:0,2@127.0.0.1:1,3@127.0.0.1:2 \
		--broker-session-timeout-ms 1000 --replica-lag-time-max-ms 600000 &&
	CTL=$ADDR &&
	meta >out &&
	test -f "$KLOG_DIR/cluster-state" &&
	head -n 1 out >actual &&
	echo "OK 4" >expect &&
	test_cmp expect actual &&
	grep -x "cluster 1 [01] 1" out &&
	grep -x "node 2 127.0.0.1:1 dead" out &&
	grep -x "node 3 127.0.0.1:2 dead" out
'

# once the broker registers itself (replication's heartbeats, every 50 ms),
# node 1 is alive by itself within a second; without them a fake node 1
# stands in for it.  The controller's broker leads partitions whose fake
# followers never fetch: a long replica lag time keeps its ISRs as they are.
self_registered() {
	sr_i=0
	until meta_has "node 1 $CTL alive"; do
		sr_i=$((sr_i + 1))
		test $sr_i -gt 8 && return 1
		sleep 0.1
	done
}

test_expect_success 'node 1 alive (itself, or a fake node 1)' '
	if ! self_registered; then
		fake 1 1 "$CTL" &&
		meta_has "node 1 $CTL alive"
	fi
'

test_expect_success 'BROKERHB: answers OK VERSION; an unknown node or a bad address refused' '
	cmd "BROKERHB 7 1 127.0.0.1:5 0" >out &&
	echo "ERR INVALID node 7 is not in the cluster" >expect &&
	test_cmp expect out &&
	cmd "BROKERHB 2 1 nowhere 0" >out &&
	grep "^ERR INVALID node 2: bad address" out &&
	meta_has "node 2 127.0.0.1:1 dead"
'

test_expect_success 'CREATE replication.factor=3 refused while 1, then 2 nodes live' '
	cmd "CREATE t3 3 replication.factor=3" >out &&
	echo "ERR INVALID topic '\''t3'\'': replication factor 3 larger than the 1 live broker" >expect &&
	test_cmp expect out &&
	fake 2 &&
	meta_has "node 2 127.0.0.1:9002 alive" &&
	cmd "CREATE t3 3 replication.factor=3" >out &&
	echo "ERR INVALID topic '\''t3'\'': replication factor 3 larger than the 2 live brokers" >expect &&
	test_cmp expect out &&
	meta >out &&
	! grep "^topic" out
'

test_expect_success 'CREATE with 3 nodes live: replicas and leaders spread' '
	fake 3 &&
	cmd "CREATE t3 3 replication.factor=3 min.insync.replicas=2" >out &&
	echo OK >expect &&
	test_cmp expect out &&
	cmd "CREATE t2 2 replication.factor=3" >out &&
	test_cmp expect out &&
	meta t3 t2 >out &&
	grep -e "^topic" -e "^part" out >actual &&
	cat >expect <<-\EOF &&
	topic t3 3 3 min.insync.replicas=2
	part t3 0 1 0 0 1,2,3 1,2,3
	part t3 1 2 0 0 2,3,1 2,3,1
	part t3 2 3 0 0 3,1,2 3,1,2
	topic t2 2 3
	part t2 0 2 0 0 2,3,1 2,3,1
	part t2 1 3 0 0 3,1,2 3,1,2
	EOF
	test_cmp expect actual &&
	head -n 1 out >actual &&
	echo "OK 11" >expect &&
	test_cmp expect actual &&
	grep "created topic .t3. with 3 partitions, replication factor 3" c.err
'

test_expect_success 'CREATE, ALTER, DELETE refusals' '
	cmd "CREATE t3 1" >out &&
	echo "ERR TOPIC_EXISTS topic '\''t3'\'' already exists" >expect &&
	test_cmp expect out &&
	cmd "CREATE x 1 no.such.key=1" >out &&
	grep "^ERR INVALID topic .x.: unknown topic config .no.such.key." out &&
	cmd "CREATE x 1 replication.factor=0" >out &&
	grep "^ERR INVALID topic .x.: bad replication factor .0." out &&
	cmd "CREATE x 1 unclean.leader.election.enable=maybe" >out &&
	grep "^ERR INVALID topic .x.: bad value .maybe." out &&
	cmd "ALTER t2 1" >out &&
	grep "^ERR INVALID topic .t2. has 2 partitions; cannot shrink to 1" out &&
	cmd "ALTER t2 - replication.factor=2" >out &&
	grep "^ERR INVALID .*replication factor is set at creation only" out &&
	cmd "ALTER nope 3" >out &&
	grep "^ERR UNKNOWN_TOPIC" out &&
	cmd "DELETE nope" >out &&
	grep "^ERR UNKNOWN_TOPIC" out
'

test_expect_success 'ALTER grows over the live nodes and sets keys; DELETE' '
	cmd "ALTER t2 3 retention.ms=1000" >out &&
	echo OK >expect &&
	test_cmp expect out &&
	cmd "ALTER t2 - partitions=4" >out &&
	test_cmp expect out &&
	meta t2 >out &&
	grep -e "^topic" -e "^part" out >actual &&
	cat >expect <<-\EOF &&
	topic t2 4 3 retention.ms=1000
	part t2 0 2 0 0 2,3,1 2,3,1
	part t2 1 3 0 0 3,1,2 3,1,2
	part t2 2 1 0 0 1,2,3 1,2,3
	part t2 3 2 0 0 2,3,1 2,3,1
	EOF
	test_cmp expect actual &&
	cmd "CREATE gone 1 partitions=5" >out &&
	meta_has "topic gone 1 1" &&
	cmd "DELETE gone" >out &&
	echo OK >expect &&
	test_cmp expect out &&
	meta >out &&
	! grep " gone " out
'

test_expect_success 'STATS: live brokers, offline partitions' '
	test "$(metric klog_controller_live_brokers)" = 3 &&
	test "$(metric klog_offline_partitions)" = 0 &&
	test "$(metric klog_controller_elections_total)" = 0
'

test_expect_success 'node 2 closes its session: it leaves the ISRs, its partitions get leader 3' '
	kill $n2_pid &&
	test_poll meta_has "node 2 127.0.0.1:9002 dead" &&
	meta t3 >out &&
	grep "^part" out >actual &&
	cat >expect <<-\EOF &&
	part t3 0 1 0 1 1,2,3 1,3
	part t3 1 3 1 1 2,3,1 3,1
	part t3 2 3 0 1 3,1,2 3,1
	EOF
	test_cmp expect actual &&
	grep "node 2: its session.s connection closed; dead" c.err &&
	grep "partition t3-1: leader 2 -> 3 (epoch 1), isr 3,1" c.err &&
	grep "partition t3-0: isr 1,2,3 -> 1,3 (partition epoch 1)" c.err &&
	test "$(metric klog_controller_live_brokers)" = 2 &&
	test "$(metric klog_controller_elections_total)" = 3
'

test_expect_success 'node 3 stops heartbeating: dead after the session timeout; the last ISR member stays' '
	kill -STOP $n3_pid &&
	test_poll meta_has "node 3 127.0.0.1:9003 dead" &&
	grep "node 3: no heartbeat for [0-9]* ms; dead" c.err &&
	meta t3 t2 >out &&
	grep "^part" out >actual &&
	cat >expect <<-\EOF &&
	part t3 0 1 0 2 1,2,3 1
	part t3 1 1 2 2 2,3,1 1
	part t3 2 1 1 2 3,1,2 1
	part t2 0 1 2 2 2,3,1 1
	part t2 1 1 1 2 3,1,2 1
	part t2 2 1 0 2 1,2,3 1
	part t2 3 1 2 2 2,3,1 1
	EOF
	test_cmp expect actual
'

test_expect_success 'node 3 heartbeats again: alive, out of every ISR, leads nothing' '
	kill -CONT $n3_pid &&
	test_poll meta_has "node 3 127.0.0.1:9003 alive" &&
	meta t3 >out &&
	grep -x "part t3 2 1 1 2 3,1,2 1" out
'

test_expect_success 'ALTERISR: accepted from the current epochs, STALE_EPOCH after, INVALID ISRs' '
	cmd "ALTERISR t3 2 1 2 1,3" >out &&
	echo "OK 3" >expect &&
	test_cmp expect out &&
	meta_has "part t3 2 1 1 3 3,1,2 1,3" &&
	grep "partition t3-2: isr 1 -> 1,3 (partition epoch 3)" c.err &&
	cmd "ALTERISR t3 2 1 2 1" >out &&
	grep "^ERR STALE_EPOCH t3-2: epochs 1 2, the partition.s are 1 3" out &&
	cmd "ALTERISR t3 2 0 3 1" >out &&
	grep "^ERR STALE_EPOCH" out &&
	cmd "ALTERISR t3 2 1 3 3" >out &&
	grep "^ERR INVALID t3-2: the ISR must hold the leader (1)" out &&
	cmd "ALTERISR t3 2 1 3 1,2" >out &&
	grep "^ERR INVALID t3-2: node 2 is not alive" out &&
	cmd "ALTERISR t3 2 1 3 1,4" >out &&
	grep "^ERR INVALID t3-2: node 4 is not a replica" out &&
	cmd "ALTERISR t3 9 1 3 1" >out &&
	grep "^ERR UNKNOWN_PARTITION" out &&
	cmd "ALTERISR t3 2 1 3 x" >out &&
	grep "^ERR BAD_REQUEST" out &&
	meta_has "part t3 2 1 1 3 3,1,2 1,3"
'

test_expect_success 'a new incarnation of node 3 is a death and a birth' '
	kill $n3_pid &&
	test_poll meta_has "node 3 127.0.0.1:9003 dead" &&
	meta_has "part t3 2 1 1 4 3,1,2 1" &&
	fake 3 4242 &&
	meta_has "node 3 127.0.0.1:9003 alive" &&
	cmd "BROKERHB 3 999 127.0.0.1:9003 0" >out &&
	grep "^OK [0-9]*\$" out &&
	grep "node 3: restarted (incarnation 4242 -> 999); dead" c.err &&
	test_poll meta_has "node 3 127.0.0.1:9003 alive"
'

test_expect_success 'the state file holds what METADATA shows' '
	meta >out &&
	sed -n "2,\$p" out | sed "1s/ 1\$/ -1/" >expect &&
	test_cmp expect "$KLOG_DIR/cluster-state"
'

test_expect_success 'SIGKILL and restart on the same port: the state persisted, nodes wait out a session timeout' '
	meta >before &&
	kill -KILL $c_pid &&
	{ wait $c_pid 2>/dev/null || :; } &&
	test_poll grep -q closed n3.out &&
	start_broker c2 --node-id 1 --cluster 1@127.0.0.1:0,2@127.0.0.1:1,3@127.0.0.1:2 \
		--broker-session-timeout-ms 1000 --replica-lag-time-max-ms 600000 -l "$CTL" &&
	test "$ADDR" = "$CTL" &&
	meta >after &&
	grep -e "^topic" -e "^part" before >expect &&
	grep -e "^topic" -e "^part" after >actual &&
	test_cmp expect actual &&
	grep -x "node 3 127.0.0.1:9003 alive" after &&
	grep "state version [0-9]* loaded: 2 topics" c2.err &&
	test_poll meta_has "node 3 127.0.0.1:9003 dead" &&
	grep "node 3: not registered within 1000 ms of the controller.s start; dead" c2.err
'

test_expect_success 'another node of the cluster answers NOT_CONTROLLER' '
	mkdir d2 &&
	dir1=$KLOG_DIR &&
	KLOG_DIR=$PWD/d2 &&
	start_broker n2 --node-id 2 --cluster "1@$CTL,2@127.0.0.1:0,3@127.0.0.1:2" &&
	KLOG_DIR=$dir1 &&
	cmd "CREATE x 1" >out &&
	echo "ERR NOT_CONTROLLER controller is node 1 at $CTL" >expect &&
	test_cmp expect out &&
	cmd "ALTERISR t3 0 0 0 1" >out &&
	test_cmp expect out &&
	stop_broker n2 &&
	PORT=${CTL##*:} ADDR=$CTL KLOG_BROKERS=$CTL
'

test_expect_success 'restarted on another port: its node line has the new address' '
	stop_broker c2 &&
	start_broker c3 --node-id 1 --cluster 1@127.0.0.1:0,2@127.0.0.1:1,3@127.0.0.1:2 \
		--replica-lag-time-max-ms 600000 &&
	test "$ADDR" != "$CTL" &&
	meta >out &&
	grep "^node 1 $ADDR " out &&
	grep "^node 1 $ADDR " "$KLOG_DIR/cluster-state"
'

test_expect_success 'a node id not in the description, a bad description, a bad state file: no start' '
	test_must_fail kbrokerd -d d2 -l 127.0.0.1:0 --node-id 9 --cluster 1@127.0.0.1:1 2>err &&
	grep "node 9 is not in the cluster description" err &&
	test_must_fail kbrokerd -d d2 -l 127.0.0.1:0 --node-id 1 --cluster 1@nowhere 2>err &&
	grep "bad address" err &&
	mkdir d3 &&
	printf "cluster 1 0 -1\nnode 1 127.0.0.1:0 alive\nbogus\n" >d3/cluster-state &&
	test_must_fail kbrokerd -d d3 -l 127.0.0.1:0 --node-id 1 --cluster 1@127.0.0.1:0 2>err &&
	grep "cluster-state.: cluster state: line 3: unknown line kind .bogus." err
'

test_done
