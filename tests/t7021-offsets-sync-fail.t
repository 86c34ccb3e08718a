#!/bin/sh
# klog - a commit whose sync fails is an error, and is not left as committed. MIT licence.

test_description='klog_gstore_commit: fdatasync EIO fails the commit, naming the partition; the offset stays'
. "$(dirname "$0")/lib.sh"
test_embedded_only "the commit store writes the log directory itself, under the fault shim"
. "$TEST_DIRECTORY/lib-fault.sh"

# t0062-gstore.t is the commit store's driver (see its top comment).
# Group g lives in partition 3 of __consumer_offsets (Java hash of "g" is
# 103; 103 % 50 = 3).
G=t0062-gstore.t
P=__consumer_offsets-3

test_expect_success 'setup: a first commit' '
	mkdir -p "$KLOG_DIR" &&
	$G commit "$KLOG_DIR" g t 0 5 &&
	$G load "$KLOG_DIR" g >out &&
	echo "t 0 5" >expect &&
	test_cmp expect out &&
	: >"$TRACE"
'

test_expect_success 'fdatasync EIO: the commit fails once, naming the partition and the error' '
	arm "fdatasync:EIO:count=1:path=*/$P/*.log" &&
	test_expect_code 1 fault_run $G commit "$KLOG_DIR" g t 0 9 2>err &&
	disarm &&
	grep "^t0062-gstore: .*$P.*Input/output error" err &&
	grep -c "^fdatasync EIO $KLOG_DIR/$P/" "$TRACE" >n &&
	echo 1 >expect &&
	test_cmp expect n
'

test_expect_success 'what was written after the last good sync is cut aside: the offset stays' '
	$G load "$KLOG_DIR" g >out &&
	echo "t 0 5" >expect &&
	test_cmp expect out &&
	test -s "$KLOG_DIR/$P/00000000000000000000.log.damaged"
'

test_expect_success 'the next commit works' '
	$G commit "$KLOG_DIR" g t 0 10 &&
	$G load "$KLOG_DIR" g >out &&
	echo "t 0 10" >expect &&
	test_cmp expect out
'

test_done
