#!/bin/sh
# klog - kgroup's bash completion: commands, options, topics, group names. MIT licence.

test_description='the bash completion of kgroup offers its commands, options, topics and groups'
. "$(dirname "$0")/lib.sh"

if ! command -v bash >/dev/null; then
	test_skip_all "no bash"
fi

# comp LINE: the candidates bash would offer at the end of LINE, one per line
comp() {
	bash -c '
		. "$1/completions/klog.bash" &&
		COMP_LINE=$2 COMP_POINT=${#2} COMP_WORDBREAKS=" \"'"'"'><=;|&(:" &&
		COMPREPLY=() &&
		_klog_kgroup &&
		printf "%s\n" "${COMPREPLY[@]}"' comp "$TOP" "$1" | sed "/^\$/d"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create orders -p 2 &&
	ktopic create audit
'

test_expect_success 'the commands, then options before one' '
	comp "kgroup " >actual &&
	printf "list\ndescribe\nreset\ndelete\n" >expect &&
	test_cmp expect actual &&
	comp "kgroup de" >actual &&
	printf "describe\ndelete\n" >expect &&
	test_cmp expect actual &&
	comp "kgroup --" >actual &&
	grep -x -e --dir actual && grep -x -e --brokers actual && grep -x -e --json actual
'

test_expect_success 'each command its own options' '
	comp "kgroup list -" >actual &&
	printf "%s\n" -0 --null -J --json >expect &&
	test_cmp expect actual &&
	comp "kgroup describe --" >actual &&
	printf "%s\n" --no-header --json --state --members >expect &&
	test_cmp expect actual &&
	comp "kgroup reset g --to-" >actual &&
	printf "%s\n" --to-earliest --to-latest --to-offset --to-datetime >expect &&
	test_cmp expect actual &&
	comp "kgroup delete --" >actual &&
	echo --if-exists >expect &&
	test_cmp expect actual &&
	comp "kgroup reset g --to-offset " >actual &&
	test_must_fail test -s actual
'

test_expect_success 'reset --topic: topic names, then partitions after the colon' '
	comp "kgroup reset g --topic " >actual &&
	printf "audit\norders\n" >expect &&
	test_cmp expect actual &&
	comp "kgroup -d $KLOG_DIR reset g --topic orders:" >actual &&
	printf "0\n1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'group names from kgroup list, where the tool would look' '
	kgroup reset billing --topic orders --to-latest --execute >/dev/null &&
	kgroup reset audit-g --topic audit --to-latest --execute >/dev/null &&
	comp "kgroup describe " >actual &&
	printf "audit-g\nbilling\n" >expect &&
	test_cmp expect actual &&
	comp "kgroup reset b" >actual &&
	echo billing >expect &&
	test_cmp expect actual &&
	comp "kgroup reset billing " >actual &&
	test_must_fail test -s actual &&
	(
		unset KLOG_DIR &&
		comp "kgroup -d $TRASH/log delete " >actual &&
		printf "audit-g\nbilling\n" >expect &&
		test_cmp expect actual &&
		comp "kgroup delete " >actual &&
		test_must_fail test -s actual
	)
'

test_done
