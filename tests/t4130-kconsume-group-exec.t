#!/bin/sh
# klog - kconsume -g --exec: commits after the command, poison records, static members. MIT licence.

test_description='kconsume -g --exec commits what ran, dead-letters a poison record, never commits past one it stopped on; static members keep their partitions'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

# Every scenario runs twice: embedded, then through a kbrokerd.

# start_member NAME GROUP TOPIC [ARGS...]: a following member printing
# "PARTITION OFFSET VALUE" (-v talk in NAME.err); its pid in NAME_pid
start_member () {
	sm_name=$1 sm_group=$2 sm_topic=$3
	shift 3
	{ kconsume -g "$sm_group" -v -u -f "%p %o %s\n" "$@" "$sm_topic" \
		>"$sm_name.out" 2>"$sm_name.err" & } &&
	eval "${sm_name}_pid=$!" &&
	test_atexit "kill -9 $! 2>/dev/null"
}

# held NAME: the partitions NAME holds now, from its talk
held () {
	awk '{
		if (!match($0, /: (assigned|released|lost) [^ ]+ [0-9]+/))
			next
		split(substr($0, RSTART + 2, RLENGTH - 2), w, " ")
		if (w[1] == "assigned")
			h[w[3]] = 1
		else
			delete h[w[3]]
	} END { for (p in h) print p }' "$1.err" | sort -n
}

# holds N NAME: NAME holds N partitions
holds () {
	test "$(held "$2" | wc -l)" = "$1"
}

test_must_be_empty_ () {
	if test -s "$1"; then
		echo "'$1' is not empty:" >&2
		head -n 20 "$1" >&2
		return 1
	fi
}

scenarios () {
	mode=$1

	test_expect_success "$mode: setup: a poison record among others" '
		mkdir -p "$KLOG_DIR" &&
		ktopic create q -p 2 &&
		printf "a\nb\npoison\nc\n" | kproduce -p 0 -H src=web q &&
		printf "x\ny\n" | kproduce -p 1 q
	'

	test_expect_success "$mode: without a dead-letter topic: exit 3, nothing past the poison committed" '
		rm -f ran &&
		test_expect_code 3 kconsume -g Q -e --retries 1 --retry-backoff 10 --exec "v=\$(cat);
			echo \$KLOG_GROUP \$v >>ran; test \$v != poison" q 2>err &&
		grep "^kconsume: q 0 offset 2: command failed after 2 attempts: exit 1$" err &&
		grep "^Q poison$" ran &&
		# the next run starts at the poison record in partition 0
		rm -f ran &&
		kconsume -g Q -e --exec "echo \$KLOG_PARTITION \$(cat) >>ran" q &&
		grep "^0 " ran >actual &&
		printf "0 poison\n0 c\n" >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: with --dead-letter: the poison goes there with its origin, the group commits past it" '
		rm -f ran &&
		kconsume -g D -e --retries 2 --retry-backoff 10 --dead-letter q.dead --exec "v=\$(cat);
			echo \$v >>ran; test \$v != poison || { echo \"bad \$v\" >&2; exit 3; }" q 2>err &&
		sort ran >actual &&
		printf "a\nb\nc\npoison\npoison\npoison\nx\ny\n" >expect &&
		test_cmp expect actual &&
		ktopic describe q.dead >desc &&
		test_line_count = 2 desc &&
		kconsume -e -f "%p|%s|%h\n" q.dead >actual &&
		echo "0|poison|src=web,klog.origin.topic=q,klog.origin.partition=0,klog.origin.offset=2,klog.error=exit 3: bad poison" >expect &&
		test_cmp expect actual &&
		rm -f ran &&
		kconsume -g D -e --exec "cat >>ran" q &&
		test_path_is_missing ran
	'

	test_expect_success "$mode: a record whose command runs is committed only once it exits 0" '
		ktopic create w -p 1 &&
		printf "1\n2\n3\n" | kproduce w &&
		test_fifo running &&
		{ kconsume -g W -v --commit-interval 50 --exec "v=\$(cat);
			if test \$v = 2; then echo \$\$ >running; exec sleep 600; fi" w 2>w.err & } &&
		pid=$! &&
		cmd=$(timeout 30 head -n 1 running) &&
		test -n "$cmd" &&
		# commits go on while it runs, up to the record before it
		test_wait_line w.err "committed w 0 at 1$" &&
		kill -9 $pid $cmd &&
		! grep "committed w 0 at [2-9]" w.err &&
		kconsume -g W -e --exec "cat; echo" w >actual &&
		printf "2\n3\n" >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: static membership: a member back quickly gets its partitions, the other does not move" '
		ktopic create st -p 4 &&
		start_member s1 ST st --instance-id one --session-timeout 5000 &&
		start_member s2 ST st --instance-id two --session-timeout 5000 &&
		test_poll holds 2 s1 &&
		test_poll holds 2 s2 &&
		held s1 >before &&
		moves=$(grep -c "assigned\|released" s2.err) &&
		kill -9 $s1_pid &&
		start_member s1b ST st --instance-id one --session-timeout 5000 &&
		test_poll holds 2 s1b &&
		held s1b >after &&
		test_cmp before after &&
		test "$(grep -c "assigned\|released" s2.err)" = "$moves" &&
		kill -TERM $s1b_pid $s2_pid &&
		wait $s1b_pid && wait $s2_pid
	'
}

KLOG_DIR=$TRASH/embedded
scenarios embedded

KLOG_DIR=$TRASH/broker
mkdir -p "$KLOG_DIR"
test_expect_success 'start a broker' '
	start_broker b
'
scenarios broker

test_done
