#!/bin/sh
# klog - quiet by default: routine events only with -v, warnings kept. MIT licence.

test_description='retention and index rebuilds are not warnings; -v shows them'
. "$(dirname "$0")/lib.sh"

test_embedded_only "the events are the writer's: through a broker kbrokerd logs them"

test_expect_success 'setup: a topic whose retention deletes a segment on every run' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create rb --config segment.bytes=4096 --config retention.bytes=8192 &&
	seq 1 5000 | kproduce rb 2>err &&
	test_must_fail test -s err
'

test_expect_success 'retention deleting segments: nothing on stderr by default' '
	seq 1 5000 | kproduce rb 2>err &&
	test_must_fail test -s err &&
	kconsume -e rb >/dev/null 2>err &&
	test_must_fail test -s err
'

test_expect_success 'kproduce -v: the event, as a plain line (not a warning)' '
	seq 1 5000 | kproduce -v rb 2>err &&
	grep "^kproduce: partition .rb-0.: retention deleted [0-9]* segments*; log starts at offset [0-9]*$" err &&
	test_must_fail grep "warning" err
'

test_expect_success 'an index rebuilt is routine too: said only with -v' '
	ktopic create ix --config segment.bytes=4096 &&
	seq 1 3000 | kproduce ix &&
	seq 1 3000 | kproduce ix &&
	rm "$KLOG_DIR/ix-0/$(ls "$KLOG_DIR/ix-0" | grep "\.index$" | tail -n 1)" &&
	echo x | kproduce ix 2>err &&
	test_must_fail test -s err &&
	rm "$KLOG_DIR/ix-0/$(ls "$KLOG_DIR/ix-0" | grep "\.index$" | tail -n 1)" &&
	echo y | kproduce -v ix 2>err &&
	grep "^kproduce: partition .ix-0.: rebuilt the indexes of segment" err
'

test_expect_success 'what a user must act on is still a warning' '
	kconsume -e -o 0 rb >/dev/null 2>err &&
	grep "^kconsume: warning: offset 0 is below the log start of .rb-0." err &&
	kconsume -e -q -o 0 rb >/dev/null 2>err &&
	test_must_fail test -s err
'

test_done
