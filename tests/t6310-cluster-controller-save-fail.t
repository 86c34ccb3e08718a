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

# the last answer fake node 1 printed is OK
last_ok() {
	tail -n 1 n1.out | grep -q "^OK"
}

fake() {
	{ kfakenode "$CTL" "$@" >"n$1.out" 2>&1 & } &&
	eval "n$1_pid=$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	test_poll grep -qs "^OK" "n$1.out"
}

test_expect_success 'setup: a controller of 2 nodes under the shim, both alive' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker c --node-id 1 --cluster 1@127.0.0.1:0,2@127.0.0.1:1 \
		--broker-session-timeout-ms 1000 &&
	CTL=$ADDR &&
	fake 1 1 "$CTL" &&
	fake 2 &&
	meta_has "node 2 127.0.0.1:9002 alive" &&
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
	kill $n2_pid &&
	test_poll grep -q "node 2: its session.s connection closed; dead" c.err &&
	test_poll grep -q "the cluster state is not saved" c.err &&
	test_poll grep -q "^ERR INTERNAL the controller cannot save the cluster state" n1.out &&
	grep -x "node 2 127.0.0.1:9002 alive" "$KLOG_DIR/cluster-state" &&
	disarm &&
	test_poll grep -q "the cluster state is saved again" c.err &&
	grep -x "node 2 127.0.0.1:9002 dead" "$KLOG_DIR/cluster-state" &&
	grep -x "part t 1 1 1 1 2,1 1" "$KLOG_DIR/cluster-state" &&
	test_poll last_ok
'

test_done
