#!/bin/sh
# klog - kconsume --exec: a command per record, retries, backoff, dead letters. MIT licence.

test_description='kconsume --exec runs a command per record, retries it, then dead-letters it or stops'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

# Every scenario runs twice: embedded (its own log directory), then
# through a kbrokerd serving another one.  No group here: the commit side
# is in t4120 and t4130.

# ms since the epoch
now_ms () {
	date +%s%3N
}

scenarios () {
	mode=$1

	test_expect_success "$mode: setup" '
		mkdir -p "$KLOG_DIR" &&
		ktopic create t -p 2 &&
		printf "alice\tone\nbob\ttwo\n" | kproduce -p 0 -K "\t" -H trace-id=x1 -H "a.b c=y" t &&
		printf "three\n" | kproduce -p 1 t
	'

	test_expect_success "$mode: the value on stdin, the record in the environment" '
		kconsume -e --exec "printf \"%s|%s|%s|%s|%s|%s|%s|\" \"\$KLOG_TOPIC\" \
			\"\$KLOG_PARTITION\" \"\$KLOG_OFFSET\" \"\${KLOG_KEY-(null)}\" \
			\"\${KLOG_HEADER_trace_id-}\" \"\${KLOG_HEADER_a_b_c-}\" \"\$KLOG_ATTEMPT\" &&
			cat && echo" t >out &&
		sort out >actual &&
		cat >expect <<-\EOF &&
		t|0|0|alice|x1|y|1|one
		t|0|1|bob|x1|y|1|two
		t|1|0|(null)|||1|three
		EOF
		test_cmp expect actual &&
		kconsume -e -f "%p %o %T\n" t | sort >ts &&
		kconsume -e --exec "echo \$KLOG_PARTITION \$KLOG_OFFSET \$KLOG_TIMESTAMP" t |
			sort >actual &&
		test_cmp ts actual
	'

	test_expect_success "$mode: records of a partition run in order, one at a time" '
		seq 1 30 | kproduce -p 0 t &&
		kconsume -e --exec "v=\$(cat); test ! -e busy && touch busy &&
			echo \$KLOG_PARTITION \$v && rm busy" t:0 >out &&
		seq 1 30 | sed "s/^/0 /" >expect &&
		grep -v "^0 [a-z]" out >actual &&
		test_cmp expect actual
	'

	test_expect_success "$mode: a command that fails without --dead-letter stops the run (exit 3)" '
		ktopic create p -p 1 &&
		printf "a\nb\npoison\nc\n" | kproduce p &&
		rm -f ran &&
		test_expect_code 3 kconsume -e --exec "v=\$(cat); echo \$v >>ran;
			test \$v != poison || { echo \"cannot digest \$v\" >&2; exit 7; }" p 2>err &&
		printf "a\nb\npoison\n" >expect &&
		test_cmp expect ran &&
		grep "^kconsume: p 0 offset 2: command failed after 1 attempt: exit 7: cannot digest poison$" err
	'

	test_expect_success "$mode: --retries N runs it N more times, backing off (doubling)" '
		rm -f ran &&
		t0=$(now_ms) &&
		test_expect_code 3 kconsume -e --retries 3 --retry-backoff 60 --exec "v=\$(cat);
			echo \$v \$KLOG_ATTEMPT >>ran; test \$v != poison || exit 1" p 2>err &&
		t1=$(now_ms) &&
		printf "a 1\nb 1\npoison 1\npoison 2\npoison 3\npoison 4\n" >expect &&
		test_cmp expect ran &&
		grep "command failed after 4 attempts: exit 1$" err &&
		# 60 + 120 + 240 ms of backoff at least
		test $((t1 - t0)) -ge 420
	'

	test_expect_success "$mode: a record killed by a signal counts as failed" '
		test_expect_code 3 kconsume -e --exec "v=\$(cat); test \$v != poison || kill -9 \$\$" p \
			2>err &&
		grep "command failed after 1 attempt: signal 9$" err
	'

	test_expect_success "$mode: --dead-letter: the record goes there with its origin, the run goes on" '
		rm -f ran &&
		kconsume -e --retries 1 --retry-backoff 10 --dead-letter p.dlq --exec "v=\$(cat);
			echo \$v >>ran; test \$v != poison || { echo first >&2; echo \"no good\" >&2; exit 4; }" \
			p 2>err &&
		printf "a\nb\npoison\npoison\nc\n" >expect &&
		test_cmp expect ran &&
		grep "warning: created the dead-letter topic .p.dlq. (1 partitions)" err &&
		grep "warning: p 0 offset 2: exit 4: no good; written to the dead-letter topic .p.dlq.$" err &&
		kconsume -e -f "%p %k|%s|%h\n" p.dlq >actual &&
		echo "0 |poison|klog.origin.topic=p,klog.origin.partition=0,klog.origin.offset=2,klog.error=exit 4: no good" >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: the dead-letter topic gets the source partition count, keys and headers" '
		kconsume -e --dead-letter t.dlq --exec "cat >/dev/null;
			case \$KLOG_PARTITION.\$KLOG_OFFSET in 0.1|1.0) exit 1;; esac" t 2>err &&
		ktopic describe t.dlq >desc &&
		test_line_count = 2 desc &&
		kconsume -e -J t.dlq >dl &&
		test_line_count = 2 dl &&
		grep "\"partition\":0,.*\"headers\":\[\"trace-id\",\"x1\",\"a.b c\",\"y\",\"klog.origin.topic\",\"t\",\"klog.origin.partition\",\"0\",\"klog.origin.offset\",\"1\",\"klog.error\",\"exit 1\"\],\"key\":\"bob\",\"payload\":\"two\"" dl &&
		grep "\"partition\":1,.*\"headers\":\[\"klog.origin.topic\",\"t\",\"klog.origin.partition\",\"1\",\"klog.origin.offset\",\"0\",\"klog.error\",\"exit 1\"\],\"key\":null,\"payload\":\"three\"" dl
	'

	test_expect_success "$mode: an existing dead-letter topic is used as it is" '
		ktopic create few.dlq -p 1 &&
		kconsume -e -q --dead-letter few.dlq --exec "false" t:1 &&
		ktopic describe few.dlq >desc &&
		test_line_count = 1 desc &&
		kconsume -e -f "%s\n" few.dlq >actual &&
		echo three >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: the command writes to kconsume's stdout; its stderr passes through" '
		kconsume -e --exec "echo out:\$(cat); echo err:\$KLOG_OFFSET >&2" p >out 2>err &&
		printf "out:a\nout:b\nout:poison\nout:c\n" >expect &&
		test_cmp expect out &&
		printf "err:0\nerr:1\nerr:2\nerr:3\n" >expect &&
		test_cmp expect err
	'

	test_expect_success "$mode: SIGTERM during a backoff ends the run at once, exit 0" '
		test_fifo started &&
		{ kconsume -e --retries 5 --retry-backoff 20000 --exec "cat >/dev/null;
			test \$KLOG_OFFSET != 2 || { echo x >started; exit 1; }" p 2>err & } &&
		pid=$! &&
		test -n "$(timeout 30 head -n 1 started)" &&
		t0=$(now_ms) &&
		kill -TERM $pid &&
		wait $pid &&
		t1=$(now_ms) &&
		test $((t1 - t0)) -lt 5000
	'

	test_expect_success "$mode: -c counts records run" '
		kconsume -c 2 --exec "cat; echo" p >actual &&
		printf "a\nb\n" >expect &&
		test_cmp expect actual
	'
}

test_expect_success 'usage: options that need another one' '
	test_expect_code 2 kconsume -d x --retries 2 t 2>err &&
	grep "need --exec" err &&
	test_expect_code 2 kconsume -d x --dead-letter d t 2>err &&
	grep "need --exec" err &&
	test_expect_code 2 kconsume -d x --exec true --dead-letter t t:1 2>err &&
	grep "dead-letter topic .t. is also read" err &&
	test_expect_code 2 kconsume -d x --exec true --dead-letter "a/b" t 2>err &&
	test_expect_code 2 kconsume -d x --exec true --retries -1 t 2>err &&
	grep "bad retry count" err &&
	test_expect_code 2 kconsume -d x --exec true --retry-backoff x t 2>err &&
	grep "bad retry backoff" err
'

KLOG_DIR=$TRASH/embedded
scenarios embedded

KLOG_DIR=$TRASH/broker
mkdir -p "$KLOG_DIR"
test_expect_success 'start a broker' '
	start_broker b
'
scenarios broker

test_done
