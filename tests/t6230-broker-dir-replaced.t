#!/bin/sh
# klog - a broker whose log directory is removed keeps to its own: never the new one at its path. MIT licence.

test_description='a kbrokerd still running after its log directory was removed and another made at the same path (a test run after an earlier one, a directory restored by hand) writes its checkpoints and pid file into its own directory, not the new one: its recovery points there would make the new broker fence a partition it has never written as lost'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

# the old broker has written one partition of __consumer_offsets (g-d's;
# -0 is made with the topic) and not yet recorded its recovery point: it
# does at its shutdown
test_expect_success 'setup: an old broker with a commit of group g-d' '
	mkdir -p "$KLOG_DIR" &&
	start_broker old &&
	ktopic create u &&
	seq 1 4 | kproduce u &&
	kgroup reset g-d --topic u --to-offset 1 --execute >/dev/null &&
	(cd "$KLOG_DIR" && ls -d __consumer_offsets-*) | grep -v -- "-0$" >old.parts &&
	test_line_count = 1 old.parts
'

test_expect_success 'the directory is removed and made again; a new broker serves it' '
	rm -rf "$KLOG_DIR" &&
	mkdir "$KLOG_DIR" &&
	start_broker new &&
	test_path_is_file "$KLOG_DIR/kbrokerd.pid" &&
	ktopic create u &&
	seq 1 4 | kproduce u &&
	kgroup reset g-a --topic u --to-offset 2 --execute >/dev/null &&
	test_path_is_missing "$KLOG_DIR/$(cat old.parts)"
'

test_expect_success 'the old broker stops: nothing of it in the new directory' '
	stop_broker old &&
	p=$(sed "s/^__consumer_offsets-//" old.parts) &&
	if test -f "$KLOG_DIR/recovery-point-offset-checkpoint"; then
		test_must_fail grep "^__consumer_offsets $p " \
			"$KLOG_DIR/recovery-point-offset-checkpoint"
	fi &&
	test_path_is_file "$KLOG_DIR/kbrokerd.pid" &&
	echo "$new_pid $new_addr" >expect &&
	test_cmp expect "$KLOG_DIR/kbrokerd.pid"
'

test_expect_success 'the new broker commits to the old group as to a new one' '
	kgroup reset g-d --topic u --to-offset 3 --execute >/dev/null 2>err &&
	test_must_fail test -s err &&
	kgroup describe g-d | cut -f4 >actual &&
	echo 3 >expect &&
	test_cmp expect actual &&
	kgroup describe g-a | cut -f4 >actual &&
	echo 2 >expect &&
	test_cmp expect actual
'

test_done
