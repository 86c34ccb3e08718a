#!/bin/sh
# klog - ktopic describe: every topic without names, a header for a human. MIT licence.

test_description='ktopic describe with no name describes every topic; a header only on a terminal'
. "$(dirname "$0")/lib.sh"

# Tools only: holds through a broker as well.

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create beta -p 2 &&
	ktopic create alpha &&
	printf "a\nb\nc\n" | kproduce -p 0 alpha
'

test_expect_success 'describe with no name: every topic, sorted, no header into a pipe' '
	ktopic describe >actual &&
	ktopic describe alpha beta >expect &&
	test_cmp expect actual &&
	test_line_count = 3 actual &&
	cut -f1,2,4 actual >short &&
	printf "alpha\t0\t3\nbeta\t0\t0\nbeta\t1\t0\n" >expect &&
	test_cmp expect short
'

test_expect_success 'describe with no topic at all prints nothing, exit 0' '
	mkdir -p empty2 &&
	ktopic -d "$PWD/empty2" describe >actual &&
	test_must_fail test -s actual
'

test_expect_success TTY 'on a terminal: one header line first, then the partitions' '
	test_on_tty "ktopic describe" | tr -d "\r" >actual &&
	printf "TOPIC\tPARTITION\tLOG_START\tLOG_END\tSEGMENTS\tBYTES\tSTATE\n" >expect &&
	ktopic describe >>expect &&
	test_cmp expect actual &&
	test_on_tty "ktopic describe beta" | tr -d "\r" >actual &&
	test_line_count = 3 actual &&
	head -n 1 actual | grep "^TOPIC	PARTITION	"
'

test_expect_success TTY '-H and --no-header drop the header on a terminal' '
	test_on_tty "ktopic describe -H" | tr -d "\r" >actual &&
	ktopic describe >expect &&
	test_cmp expect actual &&
	test_on_tty "ktopic describe --no-header beta" | tr -d "\r" >actual &&
	ktopic describe beta >expect &&
	test_cmp expect actual
'

test_expect_success 'describe -c still wants names; -H is not for -c' '
	test_expect_code 2 ktopic describe -c 2>err &&
	grep "^usage:" err &&
	test_expect_code 2 ktopic describe -c -H alpha 2>err &&
	ktopic describe -c alpha >conf &&
	grep "^partitions=1$" conf
'

test_expect_success 'a missing topic named is still an error; the others are described' '
	test_expect_code 1 ktopic describe alpha nope >actual 2>err &&
	grep "no such topic .nope." err &&
	test_line_count = 1 actual
'

test_done
