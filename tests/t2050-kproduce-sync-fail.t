#!/bin/sh
# klog - embedded kproduce -v: "acked" means synced; a failed sync ends it. MIT licence.

test_description='kproduce -d: acked lines only for synced batches; fdatasync EIO: exit 1, the partition and errno named'
. "$(dirname "$0")/lib.sh"
test_embedded_only "kproduce writes the log directory itself, under the fault shim"
. "$TEST_DIRECTORY/lib-fault.sh"

# kproduce runs under the shim with its stderr appended (O_APPEND) to the
# trace, so its "kproduce: acked TOPIC P FIRST LAST" lines sit among the
# writes and syncs of the segment files.
#
# acks_synced TOPIC: at every acked line of TOPIC-0, everything written to
# its .log files so far was covered by a successful fdatasync that began
# after the last write; no acked line follows a failed sync of one of them.
acks_synced() {
	awk -v dir="$KLOG_DIR/$1-0" -v t="$1" '
	function seg(f) { return index(f, dir "/") == 1 && f ~ /\.log$/ }
	$1 == "write" && $2 == "0" && seg($3) { lw = NR }
	$1 == "fdatasync" && seg($3) {
		if ($2 == "begin")
			b = NR
		else if ($2 == "0" && b > good)
			good = b
		else if ($2 != "0")
			failed = NR
	}
	$1 == "kproduce:" && $2 == "acked" && $3 == t {
		n++
		if (good < lw) {
			print "line " NR ": acked with the write at line " lw " not synced: " $0
			bad = 1
		}
		if (failed) {
			print "line " NR ": acked after the failed sync at line " failed ": " $0
			bad = 1
		}
	}
	END { print n + 0; exit bad }' "$TRACE"
}

# acked TOPIC: the acked lines of TOPIC as "FIRST LAST"
acked() {
	awk -v t="$1" '$1 == "kproduce:" && $2 == "acked" && $3 == t { print $5, $6 }' "$TRACE"
}

# errors: kproduce's error lines (not acked, not warnings)
errors() {
	grep "^kproduce: " "$TRACE" | grep -v "^kproduce: acked \|^kproduce: warning: "
}

test_expect_success 'setup' '
	ktopic create t &&
	ktopic create u &&
	ktopic create v -c segment.bytes=2000 &&
	: >"$TRACE"
'

test_expect_success 'without faults every batch is acked, after its sync' '
	ktest seq 50 r | fault_run kproduce -v -p 0 t 2>>"$TRACE" &&
	echo "0 49" >expect &&
	acked t >got &&
	test_cmp expect got &&
	acks_synced t >n &&
	echo 1 >expect &&
	test_cmp expect n
'

# the input comes in two parts with a pause between: the first is synced
# and acked at the pause; then the fault is armed and the second part's
# sync (at the end of the input) fails, once: the disk works again when
# kproduce, closing the failed partition, cuts what it wrote after the
# last good sync into .damaged
test_expect_success 'fdatasync EIO: exit 1, one line naming the partition and errno; no ack past the last good sync' '
	: >"$TRACE" &&
	{
		ktest seq 10 a &&
		test_wait_line "$TRACE" "^kproduce: acked u 0 0 9$" &&
		arm "fdatasync:EIO:count=1:path=*/u-0/*.log" &&
		ktest seq 10 b
	} | test_expect_code 1 fault_run kproduce -v -p 0 u 2>>"$TRACE" &&
	disarm &&
	echo "0 9" >expect &&
	acked u >got &&
	test_cmp expect got &&
	acks_synced u >n &&
	echo 1 >expect &&
	test_cmp expect n &&
	grep "^fdatasync EIO $KLOG_DIR/u-0/" "$TRACE" &&
	errors >err &&
	test_line_count = 1 err &&
	grep "u-0.*Input/output error" err
'

# the failure is said by kproduce, not also as a library warning; the
# cut at close is said as a warning of its own
test_expect_success 'the failure is said once, the cut once' '
	grep "^kproduce: " "$TRACE" | grep -v "^kproduce: acked " >said &&
	test_line_count = 2 said &&
	grep "^kproduce: warning: partition .u-0.: cut segment .* (written after the last good sync): .* kept in .*\.damaged" said
'

# what followed the last good sync (perhaps never on the disk) is not left
# for the next writer to take for synced: the log holds what was acked,
# the rest is in .damaged
test_expect_success 'what kconsume reads: exactly the acked records; the rest kept aside' '
	kconsume -e -f "%o %s\n" u >read &&
	ktest seq 10 a | awk "{ print NR - 1, \$0 }" >expect &&
	test_cmp expect read &&
	test -s "$KLOG_DIR/u-0/00000000000000000000.log.damaged" &&
	grep -a -c "b[0-9]" "$KLOG_DIR/u-0/00000000000000000000.log.damaged" >n &&
	test "$(cat n)" -ge 1 &&
	echo c | kproduce u &&
	kconsume -e -o -1 -f "%o %s\n" u >last &&
	echo "10 c" >expect &&
	test_cmp expect last
'

test_expect_success 'fdatasync EIO on the first sync: no acked line at all' '
	: >"$TRACE" &&
	ktest seq 100 c | test_expect_code 1 fault_run env \
		KLOG_FAULT="fdatasync:EIO:path=*/t-0/*.log" kproduce -v -p 0 t 2>>"$TRACE" &&
	acked t >got &&
	test_line_count = 0 got &&
	errors >err &&
	test_line_count = 1 err &&
	grep "t-0.*Input/output error" err
'

# embedded, a roll syncs the sealed segment at once: its failure ends the run
test_expect_success 'the sync of a roll fails: exit 1, nothing acked after the last good sync' '
	: >"$TRACE" &&
	{
		ktest seq 10 a &&
		test_wait_line "$TRACE" "^kproduce: acked v 0 0 9$" &&
		arm "fdatasync:EIO:path=*/v-0/*.log" &&
		ktest seq 2000 b
	} | test_expect_code 1 fault_run kproduce -v -p 0 -B 500 v 2>>"$TRACE" &&
	disarm &&
	# the sync of the sealed segment at the roll is the one that failed
	grep "^fdatasync EIO $KLOG_DIR/v-0/00000000000000000000.log" "$TRACE" &&
	echo "0 9" >expect &&
	acked v >got &&
	test_cmp expect got &&
	acks_synced v >n &&
	echo 1 >expect &&
	test_cmp expect n &&
	errors >err &&
	test_line_count = 1 err &&
	grep "v-0.*Input/output error" err
'

test_done
