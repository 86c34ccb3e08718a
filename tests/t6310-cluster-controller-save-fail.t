#!/bin/sh
# klog - the controller answers nothing that depends on a cluster-state it could not save. MIT licence.

test_description='cluster-state rename or fsync fails: CREATE refused unchanged, heartbeats ERR until saved'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"

meta() {
	printf "METADATA %s\nQUIT\n" "$*" | talk | grep -v "^OK BYE"
}

cmd() {
	printf "%s\nQUIT\n" "$1" | talk | grep -v "^OK BYE"
}

meta_has() {
	meta >meta.now && grep -qx "$1" meta.now
}

# the last answer fake node 2 printed is OK
last_ok() {
	tail -n 1 n2.out | grep -q "^OK"
}

# node 1 alive: by itself (replication's heartbeats), else a fake one
self_registered() {
	sr_i=0
	until meta_has "node 1 $CTL alive"; do
		sr_i=$((sr_i + 1))
		test $sr_i -gt 8 && return 1
		sleep 0.1
	done
}

fake() {
	{ kfakenode "$CTL" "$@" >"n$1.out" 2>&1 & } &&
	eval "n$1_pid=$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	test_poll grep -qs "^OK" "n$1.out"
}

test_expect_success 'setup: a controller of 3 nodes under the shim, all alive' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker c --node-id 1 --cluster 1@127.0.0.1:0,2@127.0.0.1:1,3@127.0.0.1:2 \
		--broker-session-timeout-ms 1000 --replica-lag-time-max-ms 600000 &&
	CTL=$ADDR &&
	{ self_registered || fake 1 1 "$CTL"; } &&
	fake 2 &&
	fake 3 &&
	meta_has "node 3 127.0.0.1:9003 alive" &&
	cp "$KLOG_DIR/cluster-state" state.before
'

test_expect_success 'rename of cluster-state fails: CREATE is ERR INTERNAL, nothing changed' '
	arm "rename:EIO:path=*/cluster-state" &&
	cmd "CREATE t 2 replication.factor=2" >out &&
	grep "^ERR INTERNAL the controller cannot save the cluster state: cannot rename" out &&
	grep -q "rename .*cluster-state EIO" "$FLOG" &&
	meta >out &&
	! grep "^topic" out &&
	test_cmp state.before "$KLOG_DIR/cluster-state"
'

test_expect_success 'fsync of its temporary file fails: the same' '
	arm "fsync:EIO:path=*/.tmp.*" &&
	cmd "CREATE t 2 replication.factor=2" >out &&
	grep "^ERR INTERNAL the controller cannot save the cluster state: cannot write" out &&
	test_cmp state.before "$KLOG_DIR/cluster-state" &&
	disarm &&
	cmd "CREATE t 2 replication.factor=2" >out &&
	echo OK >expect &&
	test_cmp expect out &&
	grep -x "topic t 2 2" "$KLOG_DIR/cluster-state"
'

test_expect_success 'a death that cannot be saved: heartbeats get ERR INTERNAL until it is' '
	arm "rename:EIO:path=*/cluster-state" &&
	kill $n3_pid &&
	test_poll grep -q "node 3: its session.s connection closed; dead" c.err &&
	test_poll grep -q "the cluster state is not saved" c.err &&
	test_poll grep -q "^ERR INTERNAL the controller cannot save the cluster state" n2.out &&
	grep -x "node 3 127.0.0.1:9003 alive" "$KLOG_DIR/cluster-state" &&
	disarm &&
	test_poll grep -q "the cluster state is saved again" c.err &&
	grep -x "node 3 127.0.0.1:9003 dead" "$KLOG_DIR/cluster-state" &&
	grep -x "part t 1 2 0 1 2,3 2" "$KLOG_DIR/cluster-state" &&
	test_poll last_ok
'

test_done
