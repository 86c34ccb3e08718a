#!/bin/sh
# klog - checkpoints and topic files are replaced atomically, or not at all. MIT licence.

test_description='a failed rename or fsync of a checkpoint or topic file: an error, the old file intact, nothing half made'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"

# Files are written as temp file (.tmp.PID beside it), fsync, rename,
# directory fsync (klog_write_atomic).

RP=$KLOG_DIR/recovery-point-offset-checkpoint

no_temp() {
	ls -a "$KLOG_DIR" | grep "^\.tmp\." >temps
	test_line_count = 0 temps
}

# partition_dirs TOPIC: how many TOPIC-N directories there are
partition_dirs() {
	ls "$KLOG_DIR" | grep -c "^$1-[0-9]*$"
}

test_expect_success 'setup: a recovery point written at a clean stop' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker b1 --fsync always &&
	kbclient create t 2 &&
	kbclient produce t 0 3 >acked &&
	stop_broker b1 &&
	# t-1 was never used: never opened, no recovery point
	printf "0\n1\nt 0 3\n" >expect &&
	test_cmp expect "$RP" &&
	cp "$RP" rp.old
'

test_expect_success 'the checkpoint rename fails at shutdown: logged, the old file intact' '
	start_fault_broker b2 --fsync always &&
	kbclient produce t 0 3 >acked &&
	arm "rename:EIO:path=*/recovery-point-offset-checkpoint" &&
	{ stop_broker b2 || :; } &&
	grep "^rename $RP EIO$" "$FLOG" &&
	grep "recovery-point-offset-checkpoint.*Input/output error" b2.err &&
	test_cmp rp.old "$RP" &&
	no_temp
'

test_expect_success 'the next start recovers past the old recovery point' '
	disarm &&
	start_fault_broker b3 --fsync always &&
	kbclient consume t 0 >got &&
	test_line_count = 6 got &&
	kbclient produce t 0 1 >acked &&
	stop_broker b3 &&
	printf "0\n1\nt 0 7\n" >expect &&
	test_cmp expect "$RP" &&
	cp "$RP" rp.old
'

test_expect_success 'the checkpoint temp file fsync fails at shutdown: the same' '
	start_fault_broker b4 --fsync always &&
	kbclient produce t 0 2 >acked &&
	arm "fsync:EIO:path=*/.tmp.*" &&
	{ stop_broker b4 || :; } &&
	grep "^fsync $KLOG_DIR/\.tmp\.[0-9][^ ]* EIO$" "$FLOG" &&
	grep "Input/output error" b4.err &&
	test_cmp rp.old "$RP" &&
	no_temp
'

# --- topic files -------------------------------------------------------------------

test_expect_success 'CREATE with the topic file rename failing: an error, no topic' '
	disarm &&
	start_fault_broker b5 --fsync always &&
	arm "rename:EIO:path=*.topic" &&
	printf "CREATE u 2\nTOPICS\nQUIT\n" | talk >out &&
	head -n 1 out >first &&
	grep "^ERR [A-Z_]* .*u\.topic.*Input/output error" first &&
	sed 1d out >rest &&
	printf "OK 1\nt\nOK BYE\n" >expect &&
	test_cmp expect rest &&
	test_path_is_missing "$KLOG_DIR/u.topic" &&
	test "$(partition_dirs u)" = 0 &&
	no_temp &&
	test_must_fail kbclient produce u 0 1 2>err &&
	grep "UNKNOWN_TOPIC\|no such topic\|u" err
'

test_expect_success 'CREATE with the temp file fsync failing: an error, no topic' '
	arm "fsync:EIO:path=*/.tmp.*" &&
	printf "CREATE u 2\nQUIT\n" | talk >out &&
	grep "^ERR [A-Z_]* .*Input/output error" out &&
	test_path_is_missing "$KLOG_DIR/u.topic" &&
	test "$(partition_dirs u)" = 0 &&
	no_temp
'

test_expect_success 'disarmed, the same CREATE works' '
	disarm &&
	printf "CREATE u 2\nQUIT\n" | talk >out &&
	printf "OK\nOK BYE\n" >expect &&
	test_cmp expect out &&
	kbclient produce u 1 2 >acked &&
	test_line_count = 2 acked
'

test_expect_success 'ALTER with the rename failing: an error, the old topic file intact' '
	cp "$KLOG_DIR/t.topic" topic.old &&
	arm "rename:EIO:path=*.topic" &&
	printf "ALTER t 3 retention.ms=1000000\nDESCRIBE t\nQUIT\n" | talk >out &&
	grep "^ERR [A-Z_]* .*t\.topic.*Input/output error" out &&
	grep "^OK 2$" out &&
	test_cmp topic.old "$KLOG_DIR/t.topic" &&
	no_temp
'

# a broker makes partition directories at first write: the refused t-2 has none
test_expect_success 'ALTER that fails leaves no new partition directory' '
	test_path_is_missing "$KLOG_DIR/t-2" &&
	test "$(partition_dirs t)" = 1
'

# the rename worked, the directory fsync after it failed: CREATE answers
# ERR, and the topic it refused must not exist (no u2.topic, no u2-0)
test_expect_success 'CREATE whose directory fsync fails leaves no topic' '
	arm "dirfsync:EIO:count=1:path=$KLOG_DIR" &&
	printf "CREATE u2 1\nQUIT\n" | talk >out &&
	grep "^ERR [A-Z_]* .*Input/output error" out &&
	disarm &&
	test_path_is_missing "$KLOG_DIR/u2.topic" &&
	kbclient topics >topics &&
	! grep "^u2$" topics
'

test_expect_success 'stop' '
	disarm &&
	stop_broker b5 &&
	unset KLOG_BROKERS
'

# --- embedded ktopic ---------------------------------------------------------------

test_expect_success 'ktopic create, the rename failing: exit 1, the errno, nothing left' '
	test_expect_code 1 fault_run env KLOG_FAULT="rename:EIO:path=*.topic" \
		ktopic -d "$KLOG_DIR" create v -p 3 2>err &&
	grep "^ktopic: .*v\.topic.*Input/output error$" err &&
	test_line_count = 1 err &&
	test_path_is_missing "$KLOG_DIR/v.topic" &&
	test "$(partition_dirs v)" = 0 &&
	no_temp &&
	! ktopic -d "$KLOG_DIR" list | grep "^v$"
'

test_expect_success 'ktopic create, the temp file fsync failing: exit 1, nothing left' '
	test_expect_code 1 fault_run env KLOG_FAULT="fsync:EIO:path=*/.tmp.*" \
		ktopic -d "$KLOG_DIR" create v -p 3 2>err &&
	grep "^ktopic: .*Input/output error$" err &&
	test_path_is_missing "$KLOG_DIR/v.topic" &&
	test "$(partition_dirs v)" = 0 &&
	no_temp
'

test_expect_success 'ktopic create, the directory fsync failing after the rename: exit 1, no topic' '
	test_expect_code 1 fault_run env KLOG_FAULT="dirfsync:EIO:count=1:path=$KLOG_DIR" \
		ktopic -d "$KLOG_DIR" create w -p 2 2>err &&
	grep "^ktopic: .*Input/output error$" err &&
	test_path_is_missing "$KLOG_DIR/w.topic" &&
	! ktopic -d "$KLOG_DIR" list | grep "^w$"
'

test_done
