#!/bin/sh
# klog - kcat habits: -o e@TS, -o past the end with -e, every broker named. MIT licence.

test_description='kconsume stops at a timestamp; errors say what they mean'
. "$(dirname "$0")/lib.sh"

# Tools only: holds through a broker as well.

# produce LINE to TOPIC:PART, then wait (busy, a millisecond at most)
# until the clock is past that record's timestamp, so the next differs
produce_at () {
	echo "$1" | kproduce -p "$3" "$2" &&
	last=$(kconsume -e -o -1 -f "%T" "$2:$3") &&
	while test "$(date +%s%3N)" -le "$last"; do :; done
}

test_expect_success 'setup: records with increasing timestamps' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create ts -p 2 &&
	produce_at a ts 0 &&
	produce_at c ts 1 &&
	produce_at b ts 0 &&
	produce_at d ts 0 &&
	kconsume -e -f "%p %T %s\n" ts | sort -k2,2n >all &&
	test_line_count = 4 all &&
	tb=$(awk "\$3 == \"b\" { print \$2 }" all) &&
	td=$(awk "\$3 == \"d\" { print \$2 }" all) &&
	test -n "$tb" && test -n "$td" &&
	echo "$tb" >tb && echo "$td" >td
'

test_expect_success '-o e@TS: each partition up to its first record at or past TS' '
	kconsume -e -o "e@$(cat tb)" -f "%p %s\n" ts | sort >actual &&
	printf "0 a\n1 c\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-o e@TS without -e ends once every partition has passed TS' '
	produce_at e ts 1 &&
	timeout 20 kconsume -o "e@$(cat td)" -f "%p %s\n" ts >out &&
	sort out >actual &&
	printf "0 a\n0 b\n1 c\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-o e@TS with a start: s@TS and e@TS together' '
	kconsume -e -o "s@$(cat tb)" -o "e@$(cat td)" -f "%s\n" ts:0 >actual &&
	echo b >expect &&
	test_cmp expect actual
'

test_expect_success '-o e@TS far in the future with -e: everything' '
	kconsume -e -o e@99999999999999 ts | sort >actual &&
	printf "a\nb\nc\nd\ne\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a bad e@ is a usage error' '
	test_expect_code 2 kconsume -o e@x ts 2>err &&
	grep "bad end offset .e@x." err &&
	test_expect_code 2 kconsume -o e@-5 ts 2>err
'

test_expect_success '-o past the end with -e: exit 0, no output, nothing about waiting' '
	kconsume -e -o 1000 ts >out 2>err &&
	test_must_fail test -s out &&
	grep "offset 1000 is past the end of .ts-0. (3)" err &&
	test_must_fail grep -i "wait" err
'

test_expect_success '-o past the end without -e: the record comes once the log reaches it' '
	{ timeout 20 kconsume -o 3 -c 1 -f "%o %s\n" ts:1 >out 2>err & } &&
	pid=$! &&
	printf "f\ng\n" | kproduce -p 1 ts &&
	wait $pid &&
	echo "3 g" >expect &&
	test_cmp expect out
'

test_expect_success 'several -b addresses: the error names each and why it failed' '
	test_expect_code 1 kconsume -b "127.0.0.1:1,[::1" ts 2>err &&
	grep "cannot connect to brokers .127.0.0.1:1. (Connection refused), .\[::1. (" err &&
	test_line_count = 1 err &&
	test_expect_code 1 ktopic -b 127.0.0.1:1 list 2>err &&
	grep "cannot connect to broker .127.0.0.1:1.: Connection refused" err
'

test_done
