#!/bin/sh
# klog - kgroup reset: every spec, the plan, clamping, --execute. MIT licence.

test_description='kgroup reset plans and applies committed offsets, embedded and through a broker'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

tab=$(printf '\t')

# plan lines from "GROUP TOPIC PARTITION CURRENT NEW NOTE" words (NOTE one
# word: clamped-start / clamped-end become the text kgroup prints)
plan() {
	while read -r g t p c n note; do
		case $note in
		clamped-start) note="clamped to log start" ;;
		clamped-end) note="clamped to log end" ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$g" "$t" "$p" "$c" "$n" "$note"
	done
}

# describe lines of a group with no members: GROUP TOPIC PARTITION COMMITTED LOG_END LAG
committed() {
	while read -r g t p c e l; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\n' "$g" "$t" "$p" "$c" "$e" "$l"
	done
}

echo "kgroup: plan only, nothing changed: add --execute to apply it" >dryrun.expect

test_expect_success 'setup: t has 10, 5 and 0 records, u 4, r lost its first segments' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t -p 3 &&
	ktopic create u &&
	seq 1 10 | kproduce -p 0 t &&
	seq 1 5 | kproduce -p 1 t &&
	seq 1 4 | kproduce u &&
	ktopic create r -c segment.bytes=100 -c retention.bytes=150 &&
	for i in 1 2 3 4 5 6 7 8; do echo "rec$i" | kproduce r || return 1; done &&
	rstart=$(ktopic describe r | cut -f3) &&
	test "$rstart" -gt 0 &&
	test "$(ktopic describe r | cut -f4)" = 8 &&
	ktopic create ts &&
	seq 1 50 | kproduce -B 200 ts &&
	seq 51 100 | kproduce -B 200 ts &&
	kconsume -e -f "%o %T\n" ts >ts.all &&
	test_line_count = 100 ts.all
'

# iso MS [ZONE_SECONDS SUFFIX]: MS as YYYY-MM-DDTHH:MM:SS.mmm in UTC + zone
iso() {
	iso_s=$(($1 / 1000 + ${2:-0})) &&
	printf '%s.%03d%s\n' "$(date -u -d "@$iso_s" +%Y-%m-%dT%H:%M:%S)" $(($1 % 1000)) "${3-Z}"
}

# first offset in ts.all with a timestamp >= MS (100, the log end, if none)
first_at() {
	awk -v t="$1" '$2 >= t { print $1; found = 1; exit } END { if (!found) print 100 }' \
		"$TRASH/ts.all"
}

for mode in embedded broker; do
G=g-$mode

if test $mode = broker; then
	test_expect_success 'start a broker on the directory' '
		start_broker b1
	'
fi

test_expect_success "$mode: a dry run of a new group prints the plan and changes nothing" '
	kgroup reset $G --topic t --to-earliest >actual 2>err &&
	plan >expect <<-EOF &&
	$G t 0 - 0 -
	$G t 1 - 0 -
	$G t 2 - 0 -
	EOF
	test_cmp expect actual &&
	test_cmp "$TRASH/dryrun.expect" err &&
	test_expect_code 1 kgroup describe $G >out 2>err &&
	test_must_fail test -s out &&
	test_line_count = 1 err &&
	grep "$G" err &&
	kgroup list >groups &&
	test_must_fail grep -x "$G" groups
'

test_expect_success "$mode: --execute --to-latest creates the commits, describe shows them" '
	kgroup reset $G --topic t --to-latest --execute >actual 2>err &&
	plan >expect <<-EOF &&
	$G t 0 - 10 -
	$G t 1 - 5 -
	$G t 2 - 0 -
	EOF
	test_cmp expect actual &&
	test_must_fail test -s err &&
	kgroup describe $G >actual &&
	committed >expect <<-EOF &&
	$G t 0 10 10 0
	$G t 1 5 5 0
	$G t 2 0 0 0
	EOF
	test_cmp expect actual &&
	kgroup list >groups &&
	grep -x "$G" groups
'

test_expect_success "$mode: --to-offset N: past the log end is clamped, and the plan says so" '
	kgroup reset $G --topic t --to-offset 7 --execute >actual &&
	plan >expect <<-EOF &&
	$G t 0 10 7 -
	$G t 1 5 5 clamped-end
	$G t 2 0 0 clamped-end
	EOF
	test_cmp expect actual &&
	kgroup describe $G >actual &&
	committed >expect <<-EOF &&
	$G t 0 7 10 3
	$G t 1 5 5 0
	$G t 2 0 0 0
	EOF
	test_cmp expect actual
'

test_expect_success "$mode: --shift-by N, back and forth, clamped at both ends" '
	kgroup reset $G --topic t:0 --shift-by -2 --execute >actual &&
	plan >expect <<-EOF &&
	$G t 0 7 5 -
	EOF
	test_cmp expect actual &&
	kgroup reset $G --shift-by -3 --execute >actual &&
	plan >expect <<-EOF &&
	$G t 0 5 2 -
	$G t 1 5 2 -
	$G t 2 0 0 clamped-start
	EOF
	test_cmp expect actual &&
	kgroup reset $G --shift-by 4 --execute >actual &&
	plan >expect <<-EOF &&
	$G t 0 2 6 -
	$G t 1 2 5 clamped-end
	$G t 2 0 0 clamped-end
	EOF
	test_cmp expect actual &&
	kgroup describe $G | cut -f1-6 >actual &&
	printf "%s\tt\t0\t6\t10\t4\n%s\tt\t1\t5\t5\t0\n%s\tt\t2\t0\t0\t0\n" $G $G $G >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: --shift-by where there is no commit: exit 1 naming it, nothing applied" '
	kgroup describe $G >before &&
	test_expect_code 1 kgroup reset $G --topic t --topic u --shift-by 1 --execute >out 2>err &&
	test_must_fail test -s out &&
	echo "kgroup: group '"'"'$G'"'"' has no committed offset for '"'"'u-0'"'"' to shift" >expect &&
	test_cmp expect err &&
	kgroup describe $G >after &&
	test_cmp before after &&
	test_expect_code 1 kgroup reset $G-new --topic u --shift-by 1 >out 2>err &&
	grep "u-0" err &&
	test_expect_code 1 kgroup describe $G-new 2>err
'

test_expect_success "$mode: without --topic, an unknown group is an error naming it" '
	test_expect_code 1 kgroup reset $G-none --to-earliest >out 2>err &&
	test_must_fail test -s out &&
	test_line_count = 1 err &&
	grep "'"'"'$G-none'"'"'" err
'

test_expect_success "$mode: --topic repeated, T and T:P together: sorted, each partition once" '
	kgroup reset $G --topic u --topic t:1 --topic t --topic t:1 --to-earliest >actual 2>err &&
	plan >expect <<-EOF &&
	$G t 0 6 0 -
	$G t 1 5 0 -
	$G t 2 0 0 -
	$G u 0 - 0 -
	EOF
	test_cmp expect actual &&
	kgroup reset $G --to-earliest >actual &&
	head -n 3 expect >expect3 &&
	test_cmp expect3 actual
'

test_expect_success "$mode: a log that lost its start: earliest is the log start, below it clamps" '
	rstart=$(ktopic describe r | cut -f3) &&
	kgroup reset $G --topic r --to-earliest >actual &&
	plan >expect <<-EOF &&
	$G r 0 - $rstart -
	EOF
	test_cmp expect actual &&
	kgroup reset $G --topic r --to-offset 0 --execute >actual &&
	plan >expect <<-EOF &&
	$G r 0 - $rstart clamped-start
	EOF
	test_cmp expect actual &&
	kgroup describe $G | grep "^$G${tab}r${tab}" >actual &&
	committed >expect <<-EOF &&
	$G r 0 $rstart 8 $((8 - rstart))
	EOF
	test_cmp expect actual &&
	kgroup reset $G --topic r --shift-by -1 >actual &&
	plan >expect <<-EOF &&
	$G r 0 $rstart $rstart clamped-start
	EOF
	test_cmp expect actual
'

test_expect_success "$mode: --to-datetime: ISO-8601 in UTC, with an offset, epoch ms" '
	for pick in 1 25 50 51 77 100; do
		ms=$(sed -n "${pick}p" ts.all | cut -d" " -f2) &&
		want=$(first_at "$ms") &&
		for ts in "$(iso "$ms")" "$(iso "$ms" 7200 +02:00)" "$(iso "$ms" -19800 -0530)" \
			"$ms"; do
			kgroup reset $G --topic ts --to-datetime "$ts" >actual 2>/dev/null &&
			plan >expect <<-EOF &&
			$G ts 0 - $want -
			EOF
			test_cmp expect actual || { echo "at $ts" >&2; return 1; }
		done || return 1
	done
'

test_expect_success "$mode: --to-datetime: a zone-less time is local time (TZ)" '
	ms=$(sed -n 60p ts.all | cut -d" " -f2) &&
	want=$(first_at "$ms") &&
	local=$(iso "$ms" 7200 "") &&
	TZ=XXX-2 kgroup reset $G --topic ts --to-datetime "$local" >actual &&
	plan >expect <<-EOF &&
	$G ts 0 - $want -
	EOF
	test_cmp expect actual
'

test_expect_success "$mode: --to-datetime before the first record and after the last" '
	last=$(tail -n 1 ts.all | cut -d" " -f2) &&
	kgroup reset $G --topic ts --to-datetime 1970-01-01T00:00:00Z >actual &&
	plan >expect <<-EOF &&
	$G ts 0 - 0 -
	EOF
	test_cmp expect actual &&
	kgroup reset $G --topic ts --to-datetime "$(iso $((last + 1)))" --execute >actual &&
	plan >expect <<-EOF &&
	$G ts 0 - 100 -
	EOF
	test_cmp expect actual &&
	kgroup describe $G | grep "^$G${tab}ts${tab}" | cut -f4-6 >actual &&
	printf "100\t100\t0\n" >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: -J: one JSON object per partition of the plan" '
	kgroup reset $G --topic t:0 --to-offset 99 -J >actual 2>err &&
	printf "{\"group\":\"%s\",\"topic\":\"t\",\"partition\":0,\"current\":6,\"new\":10,\"log_start\":0,\"log_end\":10,\"clamped\":\"log_end\",\"executed\":false}\n" $G >expect &&
	test_cmp expect actual &&
	kgroup -J reset $G --topic u --to-earliest --execute >actual &&
	printf "{\"group\":\"%s\",\"topic\":\"u\",\"partition\":0,\"current\":null,\"new\":0,\"log_start\":0,\"log_end\":4,\"clamped\":null,\"executed\":true}\n" $G >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: the plan and a reset of one group leave other groups alone" '
	kgroup reset $G-other --topic u --to-latest --execute >/dev/null &&
	kgroup describe $G >before &&
	kgroup reset $G-other --topic u --to-earliest --execute >/dev/null &&
	kgroup describe $G >after &&
	test_cmp before after &&
	kgroup describe $G-other | cut -f4 >actual &&
	echo 0 >expect &&
	test_cmp expect actual
'

test_expect_success TTY "$mode: on a terminal: a header line, none with -H" '
	test_on_tty "kgroup reset $G --topic u --to-latest 2>/dev/null" | tr -d "\r" >actual &&
	printf "GROUP\tTOPIC\tPARTITION\tCURRENT\tNEW\tNOTE\n%s\tu\t0\t0\t4\t-\n" $G >expect &&
	test_cmp expect actual &&
	test_on_tty "kgroup reset -H $G --topic u --to-latest 2>/dev/null" | tr -d "\r" >actual &&
	tail -n 1 expect >expect1 &&
	test_cmp expect1 actual
'

done

test_done
