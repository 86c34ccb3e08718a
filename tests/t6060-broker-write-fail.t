#!/bin/sh
# klog - kbrokerd: a write or a segment roll that fails. MIT licence.

test_description='write ENOSPC leaves nothing and the partition writable, EIO fails it; a roll that cannot create its files changes nothing'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"

# end TOPIC: the log end of partition 0
end() {
	kbclient offsets "$1" 0 | cut -d" " -f2
}

# verified: kdump --verify finds nothing wrong in the whole log directory
verified() {
	kdump --verify "$KLOG_DIR" >verify &&
	! grep -v "^ok" verify
}

not_failed() {
	test "$(state 0)" = online &&
	test "$(online 0)" = 1 &&
	test "$(metric klog_partitions_failed)" = 0
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker b --fsync always &&
	kbclient create t 2 &&
	kbclient produce t 0 3 -n 1 -P a >acked &&
	test_line_count = 3 acked &&
	seg=$(segfile 0 0)
'

# --- a full disk -------------------------------------------------------------------

# ENOSPC after half of the batch reached the file (a disk filling up): the
# half is cut off again, the produce fails with the errno, nothing else
test_expect_success 'write ENOSPC after a partial write: the half batch is taken back' '
	pre=$(ktest size "$seg") &&
	arm "write:ENOSPC:partial:path=*/t-0/*.log" &&
	{ kbclient produce t 0 1 -k -r 300 -P b >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0.*No space left on device" out &&
	grep "^write $seg partial [0-9]*/[0-9]* ENOSPC$" "$FLOG" &&
	grep "^ftruncate 0 $seg$" "$TRACE" &&
	test "$(ktest size "$seg")" = $pre &&
	not_failed &&
	test "$(end t)" = 3
'

test_expect_success 'write ENOSPC, nothing written: the produce fails, nothing changes' '
	arm "write:ENOSPC:path=*/t-0/*.log" &&
	{ kbclient produce t 0 1 -k -P c >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0.*No space left on device" out &&
	test "$(ktest size "$seg")" = $pre &&
	not_failed
'

test_expect_success 'once the disk has room, the next produce works; offsets go on' '
	disarm &&
	kbclient produce t 0 2 -n 1 -P d >acked &&
	test_line_count = 2 acked &&
	kbclient consume t 0 >got &&
	printf "0 a-0\n1 a-1\n2 a-2\n3 d-0\n4 d-1\n" >expect &&
	test_cmp expect got &&
	verified
'

test_expect_success 'a short write is finished: the batch is whole' '
	pre=$(ktest size "$seg") &&
	arm "write:short:count=1:path=*/t-0/*.log" &&
	kbclient produce t 0 1 -P e >acked &&
	echo e-0 >expect &&
	test_cmp expect acked &&
	grep "^write $seg short " "$FLOG" &&
	disarm &&
	kbclient consume t 0 -o 5 >got &&
	echo "5 e-0" >expect &&
	test_cmp expect got &&
	verified
'

# --- an I/O error --------------------------------------------------------------------

test_expect_success 'write EIO fails the partition; t-1 goes on' '
	pre=$(ktest size "$seg") &&
	arm "write:EIO:path=*/t-0/*.log" &&
	{ kbclient produce t 0 1 -k -P f >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	disarm &&
	{ kbclient produce t 0 1 -k -P g >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	test "$(state 0)" = failed &&
	test "$(online 0)" = 0 &&
	test "$(metric klog_partitions_failed)" = 1 &&
	test "$(ktest size "$seg")" = $pre &&
	test "$(end t)" = 6 &&
	kbclient produce t 1 1 >acked &&
	test_line_count = 1 acked
'

test_expect_success 'REPAIR brings it back' '
	printf "REPAIR t 0\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	not_failed &&
	kbclient produce t 0 1 -P h >acked &&
	kbclient consume t 0 -o 6 >got &&
	echo "6 h-0" >expect &&
	test_cmp expect got &&
	verified
'

test_expect_success 'write EIO after a partial write: taken back, failed, REPAIR has nothing to cut' '
	pre=$(ktest size "$seg") &&
	arm "write:EIO:partial:path=*/t-0/*.log" &&
	{ kbclient produce t 0 1 -k -r 300 -P i >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0.*Input/output error" out &&
	test "$(state 0)" = failed &&
	test "$(ktest size "$seg")" = $pre &&
	disarm &&
	printf "REPAIR t 0\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	test_path_is_missing "$seg.damaged" &&
	not_failed &&
	verified
'

# the half batch cannot be cut off again: the partition fails with it in
# the file, and REPAIR moves it to .damaged
test_expect_success 'a partial write that cannot be taken back: failed, REPAIR cuts the half batch' '
	pre=$(ktest size "$seg") &&
	arm "write:ENOSPC:partial:count=1:path=*/t-0/*.log;ftruncate:EIO:path=*/t-0/*.log" &&
	{ kbclient produce t 0 1 -k -r 300 -P j >out; test $? = 1; } &&
	grep "^ERR STORAGE_ERROR .*t-0" out &&
	test "$(state 0)" = failed &&
	test "$(ktest size "$seg")" -gt $pre &&
	cp "$seg" seg.half &&
	disarm &&
	printf "REPAIR t 0\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	test "$(ktest size "$seg")" = $pre &&
	tail -c +$((pre + 1)) seg.half >damaged.expect &&
	cmp damaged.expect "$seg.damaged" &&
	not_failed &&
	kbclient produce t 0 1 -P k >acked &&
	test_line_count = 1 acked &&
	verified
'

# --- a roll that cannot create the next segment ------------------------------------
#
# Topic r: segment.bytes=1000.  A batch of 10 records of 70 bytes is 851
# bytes, one of a 1-byte record 71, one of a 200-byte record 270.  Each
# round: fill (851 bytes, maybe rolling), arm, a 270-byte batch needs a
# roll and fails; a 71-byte batch still fits the old segment and works;
# no file is left of the segment that was not made; disarmed, the roll works.

# roll_fails RULE ERRTEXT: one round
roll_fails() {
	kbclient produce r 0 10 -n 10 -r 70 -P fill >acked &&
	test_line_count = 10 acked &&
	ls "$KLOG_DIR/r-0" >files.before &&
	e0=$(end r) &&
	arm "$1" &&
	{ kbclient produce r 0 1 -k -r 200 -P big >out; test $? = 1; } &&
	grep "^ERR [A-Z_]* .*r-0.*$2" out &&
	test "$(end r)" = $e0 &&
	kbclient produce r 0 1 -r 1 -P small >acked &&
	echo small-0 >expect &&
	test_cmp expect acked &&
	ls "$KLOG_DIR/r-0" >files.after &&
	test_cmp files.before files.after &&
	printf "DESCRIBE r\nQUIT\n" | talk | cut -f7 | sed -n 2p >st &&
	echo online >expect &&
	test_cmp expect st &&
	disarm &&
	kbclient produce r 0 1 -r 200 -P big >acked &&
	echo big-0 >expect &&
	test_cmp expect acked &&
	ls "$KLOG_DIR/r-0" | grep "\.log$" >logs &&
	test $(grep -c "\.log$" files.before) -lt $(wc -l <logs) &&
	test "$(end r)" = $((e0 + 2)) &&
	verified
}

test_expect_success 'roll: EMFILE creating the new .log' '
	kbclient create r 1 segment.bytes=1000 &&
	roll_fails "open:EMFILE:path=*/r-0/*.log" "Too many open files" &&
	grep "^open EMFILE $KLOG_DIR/r-0/[0-9]*\.log$" "$TRACE"
'

test_expect_success 'roll: ENOSPC creating the new .index (the new .log is removed again)' '
	roll_fails "open:ENOSPC:path=*/r-0/*.index" "No space left on device" &&
	grep "^open ENOSPC $KLOG_DIR/r-0/[0-9]*\.index$" "$TRACE"
'

test_expect_success 'roll: EMFILE creating the new .timeindex (.log and .index removed again)' '
	roll_fails "open:EMFILE:path=*/r-0/*.timeindex" "Too many open files" &&
	grep "^open EMFILE $KLOG_DIR/r-0/[0-9]*\.timeindex$" "$TRACE"
'

# roll() must append the sealed segment's last time index entry once, when
# the next segment exists: a failed attempt must not leave one behind
test_expect_success 'failed rolls do not repeat the old segment'"'"'s time index entry' '
	kbclient produce r 0 10 -n 10 -r 70 -P fill >acked &&
	ti=$(ls "$KLOG_DIR"/r-0/*.timeindex | tail -n 1) &&
	arm "open:EMFILE:path=*/r-0/*.log" &&
	for i in 1 2 3; do
		{ kbclient produce r 0 1 -k -r 200 -P big >out; test $? = 1; } || return 1
	done &&
	disarm &&
	kbclient produce r 0 1 -r 200 -P big >acked &&
	kdump -i "$ti" >entries &&
	test_line_count -ge 1 entries &&
	uniq -d entries >repeated &&
	test_line_count = 0 repeated
'

test_expect_success 'the whole log reads back after a clean stop' '
	e=$(end r) &&
	stop_broker b &&
	verified &&
	kconsume -d "$KLOG_DIR" -e r >all &&
	test_line_count = $e all &&
	grep -c "^big-0\.*$" all >n &&
	echo 4 >expect &&
	test_cmp expect n
'

test_done
