#!/bin/sh
# klog - kgroup list, describe and delete; live members refuse reset and delete. MIT licence.

test_description='kgroup list, describe (partitions, --state, --members, -J) and delete, with and without live members, embedded and through a broker'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

tab=$(printf '\t')

# describe lines of a group with no members: GROUP TOPIC PARTITION COMMITTED LOG_END LAG
committed() {
	while read -r g t p c e l; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\n' "$g" "$t" "$p" "$c" "$e" "$l"
	done
}

# assigns N: kgmember (member.out) has been given N partitions
assigns() {
	test "$(grep -c "^assign " member.out)" = "$1"
}

# start_member GROUP TOPIC...: a group member in the background, its stdin
# held open on fd 9; sets member_pid, member_id once it owns every partition
# of the topic t (3)
start_member() {
	rm -f member.in member.out &&
	mkfifo member.in &&
	{ kgmember "$@" <member.in >member.out 2>member.err & } &&
	member_pid=$! &&
	test_atexit "kill -9 $member_pid 2>/dev/null" &&
	exec 9>member.in &&
	test_poll assigns 3 || {
		echo "the member got no partitions: $(cat member.out member.err)" >&2
		return 1
	}
	member_id=$(sed -n "s/^joined //p" member.out) &&
	test -n "$member_id"
}

# stop_member: close its stdin, it leaves the group cleanly
stop_member() {
	exec 9>&- &&
	test_wait_line member.out "^left" &&
	wait $member_pid
}

no_members() {
	test "$(kgroup describe --state "$1" | cut -f5)" = 0
}

for mode in embedded broker; do
G=g-$mode
KLOG_DIR=$TRASH/log-$mode
export KLOG_DIR

test_expect_success "$mode: setup: t has 10, 5 and 0 records, u 4" '
	mkdir -p "$KLOG_DIR" &&
	if test $mode = broker; then start_broker b1; fi &&
	ktopic create t -p 3 &&
	ktopic create u &&
	seq 1 10 | kproduce -p 0 t &&
	seq 1 5 | kproduce -p 1 t &&
	seq 1 4 | kproduce u
'


test_expect_success "$mode: list with no groups: nothing, exit 0" '
	kgroup list >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	kgroup describe >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err
'

test_expect_success "$mode: groups made by reset: list sorted, -0, -J" '
	kgroup reset $G-b --topic t --to-latest --execute >/dev/null &&
	kgroup reset $G-a --topic t --to-earliest --execute >/dev/null &&
	kgroup reset $G-c --topic t:1 --topic u --to-offset 2 --execute >/dev/null &&
	kgroup list >actual &&
	printf "%s-a\n%s-b\n%s-c\n" $G $G $G >expect &&
	test_cmp expect actual &&
	kgroup list -0 >actual &&
	printf "%s-a\000%s-b\000%s-c\000" $G $G $G >expect &&
	cmp expect actual &&
	kgroup list -J >actual &&
	printf "{\"group\":\"%s-a\"}\n{\"group\":\"%s-b\"}\n{\"group\":\"%s-c\"}\n" $G $G $G >expect &&
	test_cmp expect actual &&
	kgroup -J list >actual2 &&
	test_cmp expect actual2
'

test_expect_success "$mode: describe: one line per committed partition, lag from the log end" '
	kgroup describe $G-a >actual &&
	committed >expect <<-EOF &&
	$G-a t 0 0 10 10
	$G-a t 1 0 5 5
	$G-a t 2 0 0 0
	EOF
	test_cmp expect actual &&
	kgroup describe $G-c >actual &&
	committed >expect <<-EOF &&
	$G-c t 1 2 5 3
	$G-c u 0 2 4 2
	EOF
	test_cmp expect actual &&
	seq 1 3 | kproduce -p 0 t &&
	kgroup describe $G-a $G-b >actual &&
	committed >expect <<-EOF &&
	$G-a t 0 0 13 13
	$G-a t 1 0 5 5
	$G-a t 2 0 0 0
	$G-b t 0 10 13 3
	$G-b t 1 5 5 0
	$G-b t 2 0 0 0
	EOF
	test_cmp expect actual
'

test_expect_success "$mode: describe with no names: every group, sorted; names in the order given" '
	kgroup describe >actual &&
	{ kgroup describe $G-a && kgroup describe $G-b && kgroup describe $G-c; } >expect &&
	test_cmp expect actual &&
	kgroup describe $G-c $G-a >actual &&
	{ kgroup describe $G-c && kgroup describe $G-a; } >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: describe an unknown group: exit 1 naming it, the others still shown" '
	test_expect_code 1 kgroup describe $G-none >out 2>err &&
	test_must_fail test -s out &&
	test_line_count = 1 err &&
	grep "'"'"'$G-none'"'"'" err &&
	test_expect_code 1 kgroup describe $G-a $G-none $G-c >actual 2>err &&
	test_line_count = 1 err &&
	{ kgroup describe $G-a && kgroup describe $G-c; } >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: describe --state and --members of a group with no members" '
	kgroup describe --state $G-a $G-c >actual &&
	cut -f1,2,5 actual >cols &&
	printf "%s-a\tEmpty\t0\n%s-c\tEmpty\t0\n" $G $G >expect &&
	test_cmp expect cols &&
	awk -F"$tab" "NF != 5 || \$3 !~ /^-?[0-9]+\$/ { exit 1 }" actual &&
	kgroup describe --members $G-a >actual &&
	test_must_fail test -s actual
'

test_expect_success "$mode: describe -J: one object per group with members and partitions" '
	kgroup describe -J $G-c $G-a >actual &&
	test_line_count = 2 actual &&
	python3 -c "
import json, sys
g = [json.loads(l) for l in open(\"actual\")]
assert [x[\"group\"] for x in g] == [\"$G-c\", \"$G-a\"], g
c = g[0]
assert c[\"state\"] == \"Empty\" and c[\"members\"] == [], c
assert isinstance(c[\"generation\"], int), c
assert c[\"partitions\"] == [
    {\"topic\": \"t\", \"partition\": 1, \"committed\": 2, \"log_end\": 5, \"lag\": 3, \"owner\": None},
    {\"topic\": \"u\", \"partition\": 0, \"committed\": 2, \"log_end\": 4, \"lag\": 2, \"owner\": None},
], c
assert [p[\"log_end\"] for p in g[1][\"partitions\"]] == [13, 5, 0], g[1]
"
'

test_expect_success TTY "$mode: describe on a terminal: a header line, none with -H" '
	test_on_tty "kgroup describe $G-c" | tr -d "\r" >actual &&
	{ printf "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tLOG_END\tLAG\tOWNER\tHOST\tPID\n" &&
	  kgroup describe $G-c; } >expect &&
	test_cmp expect actual &&
	test_on_tty "kgroup describe -H $G-c" | tr -d "\r" >actual &&
	kgroup describe $G-c >expect &&
	test_cmp expect actual &&
	test_on_tty "kgroup describe --state $G-c" | tr -d "\r" | head -n 1 >actual &&
	printf "GROUP\tSTATE\tGENERATION\tSTRATEGY\tMEMBERS\n" >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: delete: the group goes, the others stay" '
	kgroup describe $G-a >a.before &&
	kgroup delete $G-b >out 2>err &&
	test_must_fail test -s out &&
	test_must_fail test -s err &&
	kgroup list >actual &&
	printf "%s-a\n%s-c\n" $G $G >expect &&
	test_cmp expect actual &&
	test_expect_code 1 kgroup describe $G-b 2>err &&
	kgroup describe $G-a >a.after &&
	test_cmp a.before a.after
'

test_expect_success "$mode: delete an unknown group: exit 1 naming it; --if-exists: 0" '
	test_expect_code 1 kgroup delete $G-b >out 2>err &&
	test_line_count = 1 err &&
	grep "'"'"'$G-b'"'"'" err &&
	kgroup delete --if-exists $G-b 2>err &&
	test_must_fail test -s err &&
	kgroup reset $G-d --topic u --to-latest --execute >/dev/null &&
	test_expect_code 1 kgroup delete $G-d $G-none $G-c 2>err &&
	test_line_count = 1 err &&
	grep "'"'"'$G-none'"'"'" err &&
	kgroup list >actual &&
	printf "%s-a\n" $G >expect &&
	test_cmp expect actual
'

test_expect_success "$mode: a deleted group starts again from a reset" '
	kgroup reset $G-b --topic u --to-offset 1 --execute >/dev/null &&
	kgroup describe $G-b >actual &&
	committed >expect <<-EOF &&
	$G-b u 0 1 4 3
	EOF
	test_cmp expect actual
'

test_expect_success "$mode: a live member: describe shows it as the owner, with host and pid" '
	kgroup reset $G-live --topic t:0 --to-offset 4 --execute >/dev/null &&
	if test $mode = broker; then set -- -b "$KLOG_BROKERS"; else set -- -d "$KLOG_DIR"; fi &&
	start_member "$@" $G-live t &&
	kgroup describe $G-live >actual &&
	test_line_count = 3 actual &&
	cut -f1-6 actual >cols &&
	printf "%s\tt\t0\t4\t13\t9\n%s\tt\t1\t-\t5\t5\n%s\tt\t2\t-\t0\t0\n" $G-live $G-live $G-live \
		>expect &&
	test_cmp expect cols &&
	cut -f7 actual | sort -u >owners &&
	echo "$member_id" >expect &&
	test_cmp expect owners &&
	cut -f9 actual | sort -u >pids &&
	echo "$member_pid" >expect &&
	test_cmp expect pids &&
	cut -f8 actual | sort -u >hosts &&
	test_line_count = 1 hosts &&
	test "$(cat hosts)" != -
'

test_expect_success "$mode: a live member: --state and --members" '
	kgroup describe --state $G-live | cut -f1,2,5 >actual &&
	printf "%s\tStable\t1\n" $G-live >expect &&
	test_cmp expect actual &&
	kgroup describe --members $G-live >actual &&
	test_line_count = 1 actual &&
	cut -f1,2,4,6,7 actual >cols &&
	printf "%s\t%s\tkgmember\t%s\tt:0,t:1,t:2\n" $G-live "$member_id" $member_pid >expect &&
	test_cmp expect cols &&
	kgroup describe -J $G-live >actual &&
	python3 -c "
import json
g = json.loads(open(\"actual\").read())
assert g[\"state\"] == \"Stable\", g
assert [m[\"member_id\"] for m in g[\"members\"]] == [\"$member_id\"], g
assert g[\"members\"][0][\"pid\"] == $member_pid, g
assert [p[\"owner\"] for p in g[\"partitions\"]] == [\"$member_id\"] * 3, g
"
'

test_expect_success "$mode: a live member: reset --execute and delete refused naming it" '
	kgroup describe $G-live >before &&
	test_expect_code 1 kgroup reset $G-live --topic t --to-earliest --execute >out 2>err &&
	test_must_fail test -s out &&
	test_line_count = 1 err &&
	grep -F "$member_id" err &&
	test_expect_code 1 kgroup delete $G-live >out 2>err &&
	test_line_count = 1 err &&
	grep -F "$member_id" err &&
	kgroup describe $G-live >after &&
	test_cmp before after &&
	kgroup list >groups &&
	grep -x $G-live groups
'

test_expect_success "$mode: a live member: a dry run still plans, and warns it would be refused" '
	kgroup reset $G-live --topic t:0 --to-earliest >actual 2>err &&
	printf "%s\tt\t0\t4\t0\t-\n" $G-live >expect &&
	test_cmp expect actual &&
	grep "warning: .*'"'"'$G-live'"'"'.*live" err &&
	grep -F "$member_id" err
'

test_expect_success "$mode: the member leaves: the group is empty, reset and delete work" '
	stop_member &&
	kgroup describe --state $G-live | cut -f2,5 >actual &&
	printf "Empty\t0\n" >expect &&
	test_cmp expect actual &&
	kgroup describe $G-live | cut -f7-9 | sort -u >actual &&
	printf -- "-\t-\t-\n" >expect &&
	test_cmp expect actual &&
	kgroup reset $G-live --topic t --to-latest --execute >/dev/null &&
	kgroup describe $G-live | cut -f4 >actual &&
	printf "13\n5\n0\n" >expect &&
	test_cmp expect actual &&
	kgroup delete $G-live &&
	test_expect_code 1 kgroup describe $G-live 2>/dev/null
'

test_expect_success "$mode: a member killed with SIGKILL: no longer live, delete works" '
	kgroup reset $G-kill --topic t --to-earliest --execute >/dev/null &&
	if test $mode = broker; then set -- -b "$KLOG_BROKERS"; else set -- -d "$KLOG_DIR"; fi &&
	start_member "$@" $G-kill t &&
	test_expect_code 1 kgroup delete $G-kill 2>err &&
	kill -9 $member_pid &&
	{ wait $member_pid; :; } &&
	exec 9>&- &&
	test_poll no_members $G-kill &&
	kgroup delete $G-kill &&
	kgroup list >groups &&
	test_must_fail grep -x $G-kill groups
'

done

test_done
