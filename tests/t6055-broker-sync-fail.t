#!/bin/sh
# klog - kbrokerd: a failed sync fails the partition (fail-stop) under every fsync policy. MIT licence.

test_description='fdatasync or directory fsync EIO: STORAGE_ERROR, failed state, durable reads, REPAIR'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"

# Each policy gets a log directory of its own, a topic t of two
# partitions, and a broker under the shim; the fault is armed on t-0 only,
# t-1 must go on working.

# use NAME: the log directory $TRASH/NAME from now on
use() {
	KLOG_DIR=$TRASH/$1 &&
	mkdir -p "$KLOG_DIR"
}

# fetch_line OFFSET: the first line of FETCH t 0 OFFSET (DATA N NEXT END, or ERR)
fetch_line() {
	printf "FETCH t 0 %s 100000\nQUIT\n" "$1" | talk | head -n 1 | cut -d" " -f1-4
}

# failed_everywhere: t-0 failed in DESCRIBE and STATS, t-1 online
failed_everywhere() {
	test "$(state 0)" = failed &&
	test "$(state 1)" = online &&
	test "$(online 0)" = 0 &&
	test "$(online 1)" = 1 &&
	test "$(metric klog_partitions_failed)" = 1
}

online_again() {
	test "$(state 0)" = online &&
	test "$(online 0)" = 1 &&
	test "$(metric klog_partitions_failed)" = 0
}

# repaired SEGFILE COPY PRE: REPAIR t 0 answers OK N and N lines, the
# segment is cut back to PRE bytes and SEGFILE.damaged holds what COPY
# (the segment as it was before) had past PRE
repaired() {
	printf "REPAIR t 0\nQUIT\n" | talk >repair.out &&
	head -n 1 repair.out >repair.first &&
	n=$(sed -n "s/^OK \([0-9][0-9]*\)$/\1/p" repair.first) &&
	test -n "$n" && test "$n" -ge 1 &&
	test_line_count = $((n + 2)) repair.out &&
	tail -n 1 repair.out >repair.last &&
	echo "OK BYE" >expect &&
	test_cmp expect repair.last &&
	test "$(ktest size "$1")" = "$3" &&
	tail -c +$(($3 + 1)) "$2" >damaged.expect &&
	test -s damaged.expect &&
	cmp damaged.expect "$1.damaged"
}

# --- fsync always ---------------------------------------------------------------

test_expect_success 'always: setup' '
	use always &&
	start_fault_broker always --fsync always &&
	kbclient create t 2 &&
	kbclient produce t 0 5 -n 1 -P good -T "$TRACE" >acked &&
	test_line_count = 5 acked &&
	seg=$(segfile 0 0) &&
	pre=$(ktest size "$seg")
'

# three produces arrive while the failing (slow) sync runs or just before:
# none is acknowledged, each gets STORAGE_ERROR naming t-0 and the errno;
# the produce to t-1 and the PING behind them are answered, in order
test_expect_success 'always: fdatasync EIO: the waiting acknowledgements become STORAGE_ERROR' '
	arm "fdatasync:EIO:delay=300:count=1:path=*/t-0/*.log" &&
	{
		produce_req t 0 1 && produce_req t 0 1 && produce_req t 0 1 &&
		produce_req t 1 1 &&
		printf "PING\nQUIT\n"
	} | talk >out &&
	head -n 3 out >errs &&
	grep -c "^ERR STORAGE_ERROR .*t-0.*Input/output error" errs >n &&
	echo 3 >expect &&
	test_cmp expect n &&
	tail -n 3 out >rest &&
	printf "OK 0 0\nOK PONG\nOK BYE\n" >expect &&
	test_cmp expect rest &&
	grep "^fdatasync EIO $seg$" "$TRACE" &&
	cp "$seg" seg.failed &&
	test $(ktest size seg.failed) -gt $pre
'

test_expect_success 'always: later produces are refused; STATS and DESCRIBE say failed' '
	test_must_fail kbclient produce t 0 1 2>err &&
	grep "STORAGE_ERROR\|t-0.*Input/output error" err &&
	kbclient produce t 0 1 -k >out ; test $? = 1 &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	failed_everywhere &&
	kbclient produce t 1 2 >acked &&
	test_line_count = 2 acked
'

test_expect_success 'always: readers see only what was synced' '
	echo "0 5" >expect &&
	kbclient offsets t 0 >got &&
	test_cmp expect got &&
	kbclient consume t 0 >got &&
	ktest seq 5 good- | awk "{ print NR - 1, \$0 }" >expect &&
	test_cmp expect got &&
	echo "DATA 0 5 5" >expect &&
	fetch_line 5 >got &&
	test_cmp expect got
'

# klog-protocol.7: "OFFSET above LOG_END: ERR OFFSET_OUT_OF_RANGE", LOG_END
# being the visible end: the records past it of a failed partition will
# never become durable (a healthy one's would, so there a fetch waits)
test_expect_success 'always: a fetch past the visible end of the failed partition is out of range' '
	fetch_line 6 | cut -d" " -f1-2 >got &&
	echo "ERR OFFSET_OUT_OF_RANGE" >expect &&
	test_cmp expect got
'

test_expect_success 'always: REPAIR cuts the unsynced tail into .damaged; produces go on' '
	disarm &&
	repaired "$seg" seg.failed $pre &&
	online_again &&
	kbclient produce t 0 2 -n 1 -P after -T "$TRACE" >acked &&
	kbclient consume t 0 >got &&
	{ ktest seq 5 good- && ktest seq 2 after-; } | awk "{ print NR - 1, \$0 }" >expect &&
	test_cmp expect got
'

# a roll makes a new segment whose name must be durable (the directory
# synced) before anything in it is acknowledged
test_expect_success 'always: directory fsync EIO after a roll: no ack for the new segment' '
	kbclient create d 1 segment.bytes=1000 &&
	kbclient produce d 0 5 -n 1 -P a >acked &&
	arm "dirfsync:EIO:path=*/d-0" &&
	kbclient produce d 0 20 -n 1 -w 1 -k -P b -T "$TRACE" >out ; test $? = 1 &&
	ls "$KLOG_DIR/d-0" | grep "^[0-9]*\.log$" >logs &&
	test_line_count = 2 logs &&
	base=$(sed -n "2s/\.log$//p" logs | sed "s/^0*//") &&
	test "$base" -gt 5 &&
	grep "^dirfsync EIO $KLOG_DIR/d-0$" "$TRACE" &&
	# the records of the old segment are acknowledged, none of the new one
	grep -c "^b-" out >nok &&
	echo $((base - 5)) >expect &&
	test_cmp expect nok &&
	grep -v "^b-" out >errs &&
	test_line_count = $((20 - base + 5)) errs &&
	! grep -v "^ERR STORAGE_ERROR .*d-0.*Input/output error" errs &&
	awk "\$1 == \"kbclient\" && \$2 == \"ok\" && \$3 == \"d\" && \$6 >= $base" "$TRACE" >late &&
	test_line_count = 0 late &&
	echo "0 $base" >expect &&
	kbclient offsets d 0 >got &&
	test_cmp expect got &&
	printf "DESCRIBE d\nQUIT\n" | talk | cut -f7 | sed -n 2p >st &&
	echo failed >expect &&
	test_cmp expect st &&
	newseg=$(printf "%s/d-0/%020d.log" "$KLOG_DIR" $base) &&
	cp "$newseg" newseg.copy &&
	disarm &&
	printf "REPAIR d 0\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	test_path_is_missing "$newseg" &&
	cmp newseg.copy "$newseg.damaged" &&
	kbclient produce d 0 3 -n 1 -P c >acked &&
	test_line_count = 3 acked &&
	echo "0 $((base + 3))" >expect &&
	kbclient offsets d 0 >got &&
	test_cmp expect got
'

test_expect_success 'always: a clean stop; the log verifies' '
	stop_broker always &&
	kdump --verify "$KLOG_DIR" >verify &&
	! grep -v "^ok" verify
'

# --- fsync interval=50 ------------------------------------------------------------
#
# Acknowledgements do not wait for syncs under interval (klog-protocol.7):
# the records produced after the fault is armed ARE acknowledged, and then
# lost from the log when their sync fails (REPAIR keeps them in .damaged).
# What the policy still promises: the partition fails, later produces are
# refused, readers see only what was synced.

test_expect_success 'interval: records synced by the timer, then a timer sync fails' '
	use interval &&
	start_fault_broker iv --fsync interval=50 &&
	kbclient create t 2 &&
	kbclient produce t 0 5 -n 1 -P good >acked &&
	seg=$(segfile 0 0) &&
	synced_past "$seg" &&
	pre=$(ktest size "$seg") &&
	arm "fdatasync:EIO:path=*/t-0/*.log" &&
	trace_mark &&
	kbclient produce t 0 2 -n 2 -P lost >acked &&
	ktest seq 2 lost- >expect &&
	test_cmp expect acked &&
	trace_wait "^fdatasync EIO $seg$" &&
	wait_metric klog_partitions_failed = 1 &&
	cp "$seg" seg.failed &&
	test $(ktest size seg.failed) -gt $pre
'

test_expect_success 'interval: later produces refused, reads stop at the synced end, t-1 works' '
	kbclient produce t 0 1 -k >out ; test $? = 1 &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	failed_everywhere &&
	echo "0 5" >expect &&
	kbclient offsets t 0 >got &&
	test_cmp expect got &&
	kbclient consume t 0 >got &&
	test_line_count = 5 got &&
	kbclient produce t 1 2 >acked &&
	test_line_count = 2 acked
'

test_expect_success 'interval: REPAIR, then produces go on' '
	disarm &&
	repaired "$seg" seg.failed $pre &&
	online_again &&
	kbclient produce t 0 1 -P after >acked &&
	echo "0 6" >expect &&
	kbclient offsets t 0 >got &&
	test_cmp expect got &&
	stop_broker iv &&
	kdump --verify "$KLOG_DIR" >verify &&
	! grep -v "^ok" verify
'

# --- fsync never -----------------------------------------------------------------
#
# Under never only a roll syncs (the sealed segment's files and the new
# name), so the fault is met at a roll.  Acknowledgements came before, as
# under interval.  The first rolls' syncs succeed: those segments are
# durable; the third roll's sync fails.

test_expect_success 'never: the first rolls sync, a later one fails' '
	use never &&
	start_fault_broker nv --fsync never &&
	kbclient create t 2 segment.bytes=1000 &&
	kbclient produce t 0 20 -n 1 -w 1 -P one >acked &&
	test_line_count = 20 acked &&
	seg=$(segfile 0 0) &&
	synced_past "$seg" &&
	ls "$KLOG_DIR/t-0" | grep "^[0-9]*\.log$" >logs &&
	test_line_count = 2 logs &&
	base=$(sed -n "2s/\.log$//p" logs | sed "s/^0*//") &&
	seg2=$(segfile 0 $base) &&
	cp "$seg" seg1.copy &&
	arm "fdatasync:EIO:path=*/t-0/*.log" &&
	# (those after the failure are refused)
	{ kbclient produce t 0 20 -n 1 -w 1 -k -P two >out || :; } &&
	grep -q "^two-0$" out &&
	trace_wait "^fdatasync EIO $seg2$" &&
	wait_metric klog_partitions_failed = 1
'

test_expect_success 'never: later produces refused; t-1 works' '
	kbclient produce t 0 1 -k >out ; test $? = 1 &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	failed_everywhere &&
	kbclient produce t 1 2 >acked &&
	test_line_count = 2 acked &&
	kbclient offsets t 0 >got &&
	end=$(cut -d" " -f2 got) &&
	test "$end" -le "$base"
'

# The first roll synced segment 0 (fdatasync and the directory, both
# succeeded: see the trace), so everything below $base is durable, and the
# failed partition shows readers that much
test_expect_success 'never: readers still see what the first roll synced' '
	echo "0 $base" >expect &&
	kbclient offsets t 0 >got &&
	test_cmp expect got
'

test_expect_success 'never: REPAIR; the partition takes produces again' '
	disarm &&
	printf "REPAIR t 0\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	online_again &&
	kbclient produce t 0 1 -P after >acked &&
	kbclient consume t 0 >got &&
	test "$(tail -n 1 got | cut -d" " -f2)" = after-0 &&
	stop_broker nv &&
	kdump --verify "$KLOG_DIR" >verify &&
	! grep -v "^ok" verify
'

# ... and REPAIR, cutting back to that durable end, keeps segment 0
test_expect_success 'never: REPAIR kept the segment the first roll synced' '
	test_path_is_missing "$seg.damaged" &&
	head -c $(ktest size seg1.copy) "$seg" >seg1.now &&
	cmp seg1.copy seg1.now
'

test_done
