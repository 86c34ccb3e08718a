#!/bin/sh
# klog - kgroup's bash completion: commands, options, topics, group names. MIT licence.

test_description='the bash completion of kgroup offers its commands, options, topics and groups;
kconsume, ktopic, kdump and kproduce offer the group, compaction and decoding options'
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

# compk FUNC LINE: as comp, for another tool's completion function
compk() {
	bash -c '
		. "$1/completions/klog.bash" &&
		COMP_LINE=$2 COMP_POINT=${#2} COMP_WORDBREAKS=" \"'"'"'><=;|&(:" &&
		COMPREPLY=() &&
		$3 &&
		printf "%s\n" "${COMPREPLY[@]}"' comp "$TOP" "$2" "$1" | sed "/^\$/d"
}

test_expect_success 'kconsume: the group options, group names after -g' '
	compk _klog_kconsume "kconsume --" >actual &&
	for o in --group --strategy --instance-id --session-timeout \
		--commit-interval --exec --retries --retry-backoff --dead-letter
	do
		grep -x -e "$o" actual || return 1
	done &&
	compk _klog_kconsume "kconsume -g " >actual &&
	printf "audit-g\nbilling\n" >expect &&
	test_cmp expect actual &&
	compk _klog_kconsume "kconsume --group b" >actual &&
	echo billing >expect &&
	test_cmp expect actual &&
	compk _klog_kconsume "kconsume -g billing --strategy " >actual &&
	printf "range\nroundrobin\nsticky\n" >expect &&
	test_cmp expect actual &&
	compk _klog_kconsume "kconsume -g billing --dead-letter " >actual &&
	printf "__consumer_offsets\naudit\norders\n" >expect &&
	test_cmp expect actual &&
	compk _klog_kconsume "kconsume -g billing --retries " >actual &&
	test_must_fail test -s actual
'

test_expect_success 'ktopic: compact, its options and partitions; describe -r and -J' '
	compk _klog_ktopic "ktopic c" >actual &&
	printf "create\ncompact\n" >expect &&
	test_cmp expect actual &&
	compk _klog_ktopic "ktopic compact " >actual &&
	printf "__consumer_offsets\naudit\norders\n" >expect &&
	test_cmp expect actual &&
	compk _klog_ktopic "ktopic compact orders " >actual &&
	printf "0\n1\n" >expect &&
	test_cmp expect actual &&
	compk _klog_ktopic "ktopic compact --map-entries 10 orders " >actual &&
	test_cmp expect actual &&
	compk _klog_ktopic "ktopic compact orders -" >actual &&
	printf "%s\n" --map-entries -s --stats >expect &&
	test_cmp expect actual &&
	compk _klog_ktopic "ktopic describe -" >actual &&
	grep -x -e --rates actual && grep -x -e --json actual
'

test_expect_success 'config keys and values of compaction; kdump --decode; kproduce -Z' '
	compk _klog_ktopic "ktopic create t -c " >actual &&
	grep -x delete.retention.ms= actual &&
	grep -x min.cleanable.dirty.ratio= actual &&
	compk _klog_ktopic "ktopic alter t --config cleanup.policy=" >actual &&
	printf "delete\ncompact\ncompact,delete\n" >expect &&
	test_cmp expect actual &&
	compk _klog_kdump "kdump --decode=" >actual &&
	printf "text\njson\nnone\n" >expect &&
	test_cmp expect actual &&
	compk _klog_kproduce "kproduce -" >actual &&
	grep -x -e -Z actual
'

test_done
