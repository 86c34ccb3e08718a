#!/bin/sh
# klog - the demo: runs, leaves only the log in its directory. MIT licence.

test_description='share/demo.sh leaves its log directory clean and never touches $KLOG_DIR'
. "$(dirname "$0")/lib.sh"

demo="$TEST_DIRECTORY/../share/demo.sh"

test_expect_success 'the demo runs and explains its flags' '
	mkdir -p "$KLOG_DIR" &&
	echo keep >"$KLOG_DIR/precious" &&
	KLOG_DEMO_DIR="$PWD/demo" TMPDIR="$PWD" "$demo" >out 2>err &&
	test_must_fail test -s err &&
	grep "^demo done" out &&
	grep "^  # -K :  the key is what comes before" out &&
	grep "^  # -e  exit at the end" out
'

test_expect_success 'an inherited $KLOG_DIR is left alone' '
	test "$(cat "$KLOG_DIR/precious")" = keep
'

test_expect_success 'only the log is left in the demo directory, nothing in $TMPDIR' '
	ls -A demo >actual &&
	printf ".klog-checkpoint.lock\norders-0\norders-1\norders-2\norders.topic\nrecovery-point-offset-checkpoint\n" >expect &&
	test_cmp expect actual &&
	test_must_fail ls klog-demo-acks.* 2>/dev/null
'

test_done
