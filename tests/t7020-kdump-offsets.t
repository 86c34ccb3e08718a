#!/bin/sh
# klog - kdump decodes __consumer_offsets; the embedded commit store. MIT licence.

test_description='kdump decodes __consumer_offsets records; commits load back'
. "$(dirname "$0")/lib.sh"
test_embedded_only "commits go to the log directory through the library"
. "$TEST_DIRECTORY/lib-broker.sh"

# t0062-gstore.t is the driver (see its top comment): commit, load,
# groups, delete, raw, damaged.  The partitions below are Java's
# String.hashCode (UTF-16 units, int32), abs, % 50, computed by hand:
# billing 9, shop 12, kafka-group 42.
G=t0062-gstore.t
OFF=$KLOG_DIR/__consumer_offsets

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	$G partition billing >p &&
	echo 9 >expect &&
	test_cmp expect p
'

test_expect_success 'a commit makes __consumer_offsets and kdump shows it decoded' '
	$G commit "$KLOG_DIR" billing orders 0 42 orders 1 7 &&
	test_path_is_dir "$OFF-0" &&
	test_path_is_dir "$OFF-49" &&
	grep -x "cleanup.policy=compact" "$KLOG_DIR/__consumer_offsets.topic" &&
	kdump -r "$OFF-9" >out &&
	grep "^    offsets commit group=billing topic=orders partition=0 offset=42 leader_epoch=-1 metadata= commit_ts=[0-9]* expire_ts=-1 key_version=1 value_version=3\$" out &&
	grep "^    offsets commit group=billing topic=orders partition=1 offset=7 " out &&
	grep -c "^    offsets " out >n &&
	echo 2 >expect &&
	test_cmp expect n &&
	kdump -r "$OFF-9"/00000000000000000000.log >out2 &&
	grep -v "^file " out >out1 &&
	test_cmp out1 out2
'

test_expect_success 'the whole log directory and other topics' '
	ktopic create plain &&
	echo hello | kproduce plain &&
	kdump -r "$KLOG_DIR" >out &&
	grep -c "^    offsets " out >n &&
	echo 2 >expect &&
	test_cmp expect n &&
	kdump -r "$KLOG_DIR/plain-0" >out &&
	! grep "^    offsets" out
'

test_expect_success '--decode=json and --decode=none' '
	kdump -r --decode=json "$OFF-9" >out &&
	sed -n "s/^    offsets //p" out >json &&
	test_line_count = 2 json &&
	grep "^{\"type\":\"commit\",\"group\":\"billing\",\"topic\":\"orders\",\"partition\":0,\"key_version\":1,\"value_version\":3,\"offset\":42,\"leader_epoch\":-1,\"metadata\":\"\",\"commit_ts\":[0-9]*,\"expire_ts\":-1}\$" json &&
	if command -v python3 >/dev/null; then
		python3 -c "import json, sys; [json.loads(l) for l in sys.stdin]" <json
	fi &&
	kdump -r --decode=none "$OFF-9" >out &&
	! grep "^    offsets" out &&
	test_expect_code 2 kdump -r --decode=yaml "$OFF-9" 2>err &&
	grep "^usage: " err
'

test_expect_success 'load after commit, overwrite, tombstone' '
	$G load "$KLOG_DIR" billing >out &&
	printf "orders 0 42\norders 1 7\n" >expect &&
	test_cmp expect out &&
	$G commit "$KLOG_DIR" billing orders 0 50 &&
	$G load "$KLOG_DIR" billing >out &&
	printf "orders 0 50\norders 1 7\n" >expect &&
	test_cmp expect out &&
	$G commit "$KLOG_DIR" billing orders 1 -1 &&
	$G load "$KLOG_DIR" billing >out &&
	echo "orders 0 50" >expect &&
	test_cmp expect out &&
	kdump -r "$OFF-9" >out &&
	grep "^  record offset=3 .* value=null " out &&
	grep "^    offsets commit group=billing topic=orders partition=1 tombstone key_version=1\$" out
'

test_expect_success 'groups and delete' '
	$G commit "$KLOG_DIR" shop carts 3 11 &&
	$G groups "$KLOG_DIR" >out &&
	printf "billing\nshop\n" >expect &&
	test_cmp expect out &&
	$G delete "$KLOG_DIR" billing &&
	$G load "$KLOG_DIR" billing >out &&
	test_line_count = 0 out &&
	$G groups "$KLOG_DIR" >out &&
	echo shop >expect &&
	test_cmp expect out &&
	kdump -r "$OFF-9" >out &&
	grep "^    offsets group group=billing tombstone key_version=2\$" out &&
	grep "^    offsets commit group=billing topic=orders partition=0 tombstone key_version=1\$" out &&
	test_must_fail $G delete "$KLOG_DIR" billing 2>err &&
	grep "no such group .billing." err
'

test_expect_success 'a CRC-valid record with a truncated value: skipped with a warning' '
	$G commit "$KLOG_DIR" shop carts 0 10 &&
	$G damaged "$KLOG_DIR" shop carts 0 99 3 &&
	kdump --verify "$OFF-12" >/dev/null &&
	$G load "$KLOG_DIR" shop >out 2>err &&
	printf "carts 0 10\ncarts 3 11\n" >expect &&
	test_cmp expect out &&
	grep "^warning: partition .__consumer_offsets-12.: record at offset 2 skipped: .*field .commitTimestamp.: truncated" err &&
	test_line_count = 1 err &&
	kdump -r "$OFF-12" >out &&
	grep "^    offsets error: __consumer_offsets offset commit value v3: field .commitTimestamp.: truncated" out &&
	$G commit "$KLOG_DIR" shop carts 0 12 &&
	$G load "$KLOG_DIR" shop >out 2>err &&
	printf "carts 0 12\ncarts 3 11\n" >expect &&
	test_cmp expect out
'

# records as Kafka writes them (reference 2.8), bytes laid out by hand:
# offset commit key v1 (group kafka-group, topic events, partition 4),
# value v3 (offset 1234, leaderEpoch 5, metadata "", ts 1726045973899);
# an older value v1 (offset 77, metadata "m", commit and expire
# timestamps); group metadata key v2, value v3: protocolType consumer,
# generation 1, protocol range, leader consumer-1-abc, state timestamp,
# one member (no instance id, clientId consumer-1, host /127.0.0.1,
# rebalance 300000, session 45000, an 18-byte subscription and a 26-byte
# assignment in the consumer protocol)
CK=0001000b6b61666b612d67726f757000066576656e747300000004
CV=000300000000000004d200000005000000000191e05b6d8b
CV1=0001000000000000004d00016d00000191e05b6d8b00000191e581c98b
GK=0002000b6b61666b612d67726f7570
GV=00030008636f6e73756d657200000001000572616e6765000e636f6e73756d65722d312d61626300000191e05b6a0800000001000e636f6e73756d65722d312d616263ffff000a636f6e73756d65722d31000a2f3132372e302e302e31000493e00000afc80000001200010000000100066576656e7473ffffffff0000001a00010000000100066576656e747300000001000000040000ffff

test_expect_success 'records in Kafka'"'"'s own bytes decode and load' '
	$G raw "$KLOG_DIR" kafka-group $GK $GV &&
	$G raw "$KLOG_DIR" kafka-group $CK $CV &&
	kdump -r "$OFF-42" >out &&
	grep "^    offsets group group=kafka-group protocol_type=consumer generation=1 protocol=range leader=consumer-1-abc state_ts=1726045973000 members=1 key_version=2 value_version=3 member=consumer-1-abc instance_id=null client_id=consumer-1 client_host=/127.0.0.1 rebalance_timeout=300000 session_timeout=45000 subscription_bytes=18 assignment_bytes=26\$" out &&
	grep "^    offsets commit group=kafka-group topic=events partition=4 offset=1234 leader_epoch=5 metadata= commit_ts=1726045973899 expire_ts=-1 key_version=1 value_version=3\$" out &&
	$G load "$KLOG_DIR" kafka-group >out &&
	echo "events 4 1234" >expect &&
	test_cmp expect out &&
	$G raw "$KLOG_DIR" kafka-group $CK $CV1 &&
	kdump -r "$OFF-42" >out &&
	grep "^    offsets commit group=kafka-group topic=events partition=4 offset=77 leader_epoch=-1 metadata=m commit_ts=1726045973899 expire_ts=1726132373899 key_version=1 value_version=1\$" out &&
	$G load "$KLOG_DIR" kafka-group >out &&
	echo "events 4 77" >expect &&
	test_cmp expect out &&
	$G groups "$KLOG_DIR" >out &&
	printf "kafka-group\nshop\n" >expect &&
	test_cmp expect out &&
	kdump -r --decode=json "$OFF-42" >out &&
	grep "^    offsets {\"type\":\"group\",\"group\":\"kafka-group\",.*\"members\":\[{\"member\":\"consumer-1-abc\",\"instance_id\":null,.*\"assignment\":\"00010000000100066576656e747300000001000000040000ffff\"}\]}\$" out
'

# the first commits of several processes race to make the topic: each
# either makes it or finds it made (EEXIST), and waits for its partition
test_expect_success 'concurrent first commits in a fresh directory all succeed' '
	mkdir fresh &&
	for i in 1 2 3 4 5 6; do
		{ $G commit fresh r$i t 0 $i >/dev/null 2>"race$i.err" & } &&
		eval "pid$i=\$!" || return 1
	done &&
	for i in 1 2 3 4 5 6; do
		eval "wait \$pid$i" || { cat "race$i.err" >&2; return 1; }
	done &&
	$G groups fresh >out &&
	printf "r1\nr2\nr3\nr4\nr5\nr6\n" >expect &&
	test_cmp expect out &&
	$G load fresh r4 >out &&
	echo "t 0 4" >expect &&
	test_cmp expect out &&
	ls -d fresh/__consumer_offsets-* >dirs &&
	test_line_count = 50 dirs
'

test_expect_success 'a kbrokerd serving the directory: embedded commits are refused' '
	start_broker b &&
	test_must_fail $G commit "$KLOG_DIR" shop carts 0 13 2>err &&
	grep "served by kbrokerd (.*$PORT)" err &&
	$G load "$KLOG_DIR" shop >out &&
	printf "carts 0 12\ncarts 3 11\n" >expect &&
	test_cmp expect out
'

test_done
