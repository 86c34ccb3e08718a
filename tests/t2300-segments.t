#!/bin/sh
# klog - segments: roll by size and age, retention, max.message.bytes, lookups. MIT licence.

test_description='segments roll, retention moves the log start, lookups across segments'
. "$(dirname "$0")/lib.sh"

# The tests marked EMBEDDED look at segment files (ls, kdump); the others use
# ktopic/kproduce/kconsume only.

tab=$(printf '\t')

# field TOPIC PARTITION COLUMN: one column of ktopic describe
field() {
	ktopic describe "$1" | awk -F"$tab" -v p="$2" -v c="$3" '$2 == p { print $c }'
}

test_expect_success 'setup: 5000 records in small batches, segment.bytes=4096' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create s --config segment.bytes=4096 &&
	seq -f "rec-%05g" 0 4999 >input &&
	kproduce -B 500 s input &&
	test "$(field s 0 4)" = 5000 &&
	test "$(field s 0 3)" = 0
'

test_expect_success 'many segments' '
	segs=$(field s 0 5) &&
	test "$segs" -gt 15
'

test_expect_success 'everything reads back in order across segments' '
	kconsume -e -f "%o %s\n" s >actual &&
	awk "{ printf \"%d %s\n\", NR - 1, \$0 }" input >expect &&
	test_cmp expect actual
'

test_expect_success '-o N anywhere returns exactly the record at N' '
	for n in 0 1 2 99 100 101 1234 2500 2501 3333 4998 4999; do
		kconsume -e -o $n -c 1 -f "%o %s\n" s >actual &&
		printf "%d rec-%05d\n" $n $n >expect &&
		test_cmp expect actual || return 1
	done
'

test_expect_success '-o -N across a segment boundary' '
	kconsume -e -o -1500 -f "%o\n" s >actual &&
	seq 3500 4999 >expect &&
	test_cmp expect actual
'

test_expect_success EMBEDDED 'segment files: 20-digit names, ascending, indexes present' '
	(cd "$KLOG_DIR/s-0" && ls *.log) >logs &&
	test "$(wc -l <logs)" = "$(field s 0 5)" &&
	test_must_fail grep -v "^[0-9]\{20\}\.log\$" logs &&
	sort -c logs &&
	head -n 1 logs >first &&
	echo 00000000000000000000.log >expect &&
	test_cmp expect first &&
	while read -r log; do
		base=${log%.log} &&
		test_path_is_file "$KLOG_DIR/s-0/$base.index" &&
		test_path_is_file "$KLOG_DIR/s-0/$base.timeindex" || return 1
	done <logs
'

test_expect_success EMBEDDED 'each segment is named by the first offset it holds' '
	prev_last=-1 &&
	while read -r log; do
		kdump "$KLOG_DIR/s-0/$log" >dump &&
		grep "^batch " dump >batches &&
		first=$(head -n 1 batches | sed "s/.* base=\([0-9]*\) .*/\1/") &&
		last=$(tail -n 1 batches | sed "s/.* last=\([0-9]*\) .*/\1/") &&
		test "$first" = "$(expr "${log%.log}" + 0)" &&
		test "$first" = $((prev_last + 1)) &&
		prev_last=$last || {
			echo "segment $log: first $first, previous last $prev_last" >&2
			return 1
		}
	done <logs &&
	test "$prev_last" = 4999 &&
	kdump --verify "$KLOG_DIR/s-0" >verify &&
	test "$(grep -c "^ok " verify)" = "$(wc -l <logs)"
'

test_expect_success EMBEDDED '-o at each segment base and just before it' '
	while read -r log; do
		base=$(expr "${log%.log}" + 0) &&
		for n in $base $((base - 1)); do
			if test $n -ge 0; then
				kconsume -e -o $n -c 1 -f "%o %s\n" s >actual &&
				printf "%d rec-%05d\n" $n $n >expect &&
				test_cmp expect actual || return 1
			fi
		done
	done <logs
'

test_expect_success EMBEDDED 'segments hold about segment.bytes each' '
	for f in "$KLOG_DIR"/s-0/*.log; do
		size=$(wc -c <"$f") &&
		test "$size" -le 4096 || {
			echo "$f is $size bytes" >&2
			return 1
		}
	done
'

test_expect_success 's@TS across segments: produce, note the time, produce more' '
	ktopic create ts --config segment.bytes=4096 &&
	seq -f "a%g" 1 2000 | kproduce -B 500 ts &&
	seq -f "b%g" 1 2000 | kproduce -B 500 ts &&
	test "$(field ts 0 5)" -gt 10 &&
	kconsume -e -f "%o %T %s\n" ts >all &&
	test_line_count = 4000 all &&
	tb=$(grep " b1\$" all | cut -d" " -f2) &&
	ta=$(grep " a2000\$" all | cut -d" " -f2) &&
	# the second run began later than the first ended
	test "$tb" -ge "$ta" &&
	for t in $tb $ta $(sed -n "777p;2999p" all | cut -d" " -f2); do
		awk -v t=$t "\$2 >= t { on = 1 } on" all >expect &&
		kconsume -e -o "s@$t" -f "%o %T %s\n" ts >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'segment.ms rolls by age' '
	ktopic create age --config segment.ms=1 &&
	for v in a b c; do
		echo $v | kproduce age &&
		# let the clock pass the last record by 2 ms (a roll needs > 1 ms)
		ts=$(kconsume -e -o -1 -f "%T" age) &&
		while test "$(date +%s%3N)" -le $((ts + 2)); do :; done || return 1
	done &&
	kconsume -e -f "%T\n" age >ts &&
	test "$(sort -u ts | wc -l)" = 3 &&
	test "$(field age 0 5)" = 3 &&
	test "$(field age 0 4)" = 3 &&
	ktopic create noage &&
	echo a | kproduce noage &&
	echo b | kproduce noage &&
	test "$(field noage 0 5)" = 1
'

test_expect_success 'retention.bytes deletes old segments and moves the log start' '
	ktopic create rb --config segment.bytes=4096 --config retention.bytes=8192 &&
	kproduce -B 500 rb input &&
	start=$(field rb 0 3) &&
	test "$start" -gt 0 &&
	test "$(field rb 0 4)" = 5000 &&
	# retention runs on roll (and when a writer opens or closes): what is
	# left is retention.bytes plus at most the active segment and one more
	test "$(field rb 0 6)" -le $((8192 + 2 * 4096)) &&
	test "$(field rb 0 5)" -le 5 &&
	kconsume -e -f "%o %s\n" rb >actual &&
	awk -v s=$start "NR > s { printf \"%d %s\n\", NR - 1, \$0 }" input >expect &&
	test_cmp expect actual
'

test_expect_success 'an offset below the log start starts there, with a warning' '
	start=$(field rb 0 3) &&
	kconsume -e -o 0 -c 1 -f "%o\n" rb >actual 2>err &&
	echo "$start" >expect &&
	test_cmp expect actual &&
	grep "warning" err
'

test_expect_success EMBEDDED 'after retention.bytes the first segment is named by the log start' '
	start=$(field rb 0 3) &&
	first=$(cd "$KLOG_DIR/rb-0" && ls *.log | head -n 1) &&
	test "$(expr "${first%.log}" + 0)" = "$start" &&
	test "$(cd "$KLOG_DIR/rb-0" && ls *.log | wc -l)" = "$(field rb 0 5)"
'

test_expect_success 'retention.ms: old segments go when a writer opens the partition' '
	ktopic create rm --config segment.bytes=4096 &&
	kproduce -B 500 rm input &&
	test "$(field rm 0 3)" = 0 &&
	segs=$(field rm 0 5) &&
	test "$segs" -gt 15 &&
	ktopic alter rm --config retention.ms=1 &&
	echo late | kproduce rm &&
	start=$(field rm 0 3) &&
	test "$start" -gt 4000 &&
	test "$(field rm 0 5)" -le 2 &&
	test "$(field rm 0 4)" = 5001 &&
	kconsume -e -f "%o %s\n" rm >actual &&
	{
		awk -v s=$start "NR > s { printf \"%d %s\n\", NR - 1, \$0 }" input &&
		echo "5000 late"
	} >expect &&
	test_cmp expect actual
'

test_expect_success 'retention.ms=-1 keeps everything' '
	ktopic create keep --config segment.bytes=4096 --config retention.ms=-1 &&
	kproduce -B 500 keep input &&
	echo more | kproduce keep &&
	test "$(field keep 0 3)" = 0
'

test_expect_success 'max.message.bytes: a record too big is refused, others delivered' '
	ktopic create m --config max.message.bytes=200 &&
	{
		echo small1 &&
		awk "BEGIN { for (i = 0; i < 300; i++) printf \"y\"; print \"\" }" &&
		echo small2
	} >in &&
	test_expect_code 1 kproduce m in 2>err &&
	test_line_count = 1 err &&
	grep "record 2" err &&
	grep "'\''in'\''" err &&
	grep "max.message.bytes 200" err &&
	grep "'\''m'\''" err &&
	kconsume -e m >actual &&
	printf "small1\nsmall2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'max.message.bytes from stdin, and a record that just fits' '
	awk "BEGIN { for (i = 0; i < 300; i++) printf \"z\"; print \"\" }" |
		test_expect_code 1 kproduce m 2>err &&
	test_line_count = 1 err &&
	grep "'\''m'\''" err &&
	# 61-byte batch header + 8-byte record overhead: 131 bytes of value fit
	awk "BEGIN { for (i = 0; i < 100; i++) printf \"w\"; print \"\" }" >fits &&
	kproduce m fits &&
	kconsume -e -o 2 m >actual &&
	test_cmp fits actual
'

test_expect_success 'max.message.bytes caps the batch size: many small records pass' '
	seq -f "r%03g" 1 300 | kproduce m &&
	kconsume -e -o 3 m >actual &&
	seq -f "r%03g" 1 300 >expect &&
	test_cmp expect actual
'

test_expect_success EMBEDDED 'max.message.bytes: every batch on disk is within the limit' '
	kdump "$KLOG_DIR/m-0" | grep "^batch " >batches &&
	test_line_count -gt 10 batches &&
	sed "s/.* size=\([0-9]*\) .*/\1/" batches >sizes &&
	awk "\$1 > 200 { exit 1 }" sizes
'

test_done
