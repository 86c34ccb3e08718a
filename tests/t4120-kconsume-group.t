#!/bin/sh
# klog - kconsume -g: members share a topic, commits, SIGKILL, resume. MIT licence.

test_description='kconsume -g: three members share six partitions; a killed member skips nothing; a group resumes from its commits'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

# Every scenario runs twice: embedded (processes sharing a log directory),
# then through a kbrokerd (the group coordinator).  Members run with -v:
# their "assigned", "released", "lost" and "committed" lines on stderr say
# what they hold and what they committed.

# start_member NAME GROUP TOPIC [ARGS...]: a following member, output
# "PARTITION OFFSET VALUE" lines in NAME.out (written at once), talk in
# NAME.err; its pid in NAME_pid
start_member () {
	sm_name=$1 sm_group=$2 sm_topic=$3
	shift 3
	{ kconsume -g "$sm_group" -v -u -f "%p %o %s\n" "$@" "$sm_topic" \
		>"$sm_name.out" 2>"$sm_name.err" & } &&
	eval "${sm_name}_pid=$!" &&
	test_atexit "kill -9 $! 2>/dev/null"
}

# stop_member NAME: SIGTERM, and its exit status must be 0
stop_member () {
	eval "sm_pid=\$${1}_pid" &&
	kill -TERM $sm_pid &&
	wait $sm_pid
}

# held NAME: the partitions NAME holds now, one per line, from its talk
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

# all six shared and two each, polled as one condition (while a handover
# is under way the shares can be complete but uneven)
two_each() {
	shared 6 m1 m2 m3 &&
	test $(wc -l <m1.held) -eq 2 && test $(wc -l <m2.held) -eq 2 && test $(wc -l <m3.held) -eq 2
}

# shared NPARTS NAME...: every member holds something, together all
# NPARTS partitions, each once
shared () {
	sh_n=$1
	shift
	for sh_m in "$@"; do
		held $sh_m >$sh_m.held &&
		test -s $sh_m.held || return 1
	done
	for sh_m in "$@"; do cat $sh_m.held; done | sort -n >held.all &&
	test "$(wc -l <held.all)" = "$sh_n" &&
	test "$(sort -u held.all | wc -l)" = "$sh_n"
}

# lines_at_least N FILE...: together the files have N lines or more
lines_at_least () {
	la_n=$1
	shift
	test "$(cat "$@" | wc -l)" -ge "$la_n"
}

# distinct_values N FILE...: the third field takes N distinct values
distinct_values () {
	dv_n=$1
	shift
	test "$(cat "$@" | awk '{ print $3 }' | sort -u | wc -l)" -ge "$dv_n"
}

# in_order FILE: within each partition, offsets rise by one
in_order () {
	awk '{ if (($1 in last) && $2 != last[$1] + 1) { print "out of order: " $0; bad = 1 }
		last[$1] = $2 } END { exit bad }' "$1"
}

# keyed FROM TO TOPIC: records "kI<TAB>I" for I in FROM..TO
keyed () {
	seq "$1" "$2" | awk '{ print "k" $1 "\t" $1 }' | kproduce -K "\t" "$3"
}

scenarios () {
	mode=$1

	test_expect_success "$mode: three members over six partitions take two each" '
		mkdir -p "$KLOG_DIR" &&
		ktopic create t -p 6 &&
		start_member m1 G t --commit-interval 100 &&
		start_member m2 G t --commit-interval 100 &&
		start_member m3 G t --commit-interval 100 &&
		test_poll two_each &&
		test_line_count = 2 m1.held &&
		test_line_count = 2 m2.held &&
		test_line_count = 2 m3.held
	'

	test_expect_success "$mode: each record once, each partition to one member, in order" '
		keyed 1 600 t &&
		test_poll lines_at_least 600 m1.out m2.out m3.out &&
		stop_member m1 && stop_member m2 && stop_member m3 &&
		cat m1.out m2.out m3.out | awk "{ print \$3 }" | sort -n >actual &&
		seq 1 600 >expect &&
		test_cmp expect actual &&
		for m in m1 m2 m3; do
			test -s $m.out &&
			in_order $m.out &&
			awk "{ print \$1 }" $m.out | sort -un >$m.parts &&
			test_cmp $m.held $m.parts || return 1
		done &&
		kconsume -e -f "%p %o %s\n" t | sort -k3n >all &&
		cat m1.out m2.out m3.out | sort -k3n >got &&
		test_cmp all got
	'

	test_expect_success "$mode: the group resumes from its commits" '
		keyed 601 660 t &&
		kconsume -g G -e -f "%s\n" t >out &&
		sort -n out >actual &&
		seq 601 660 >expect &&
		test_cmp expect actual &&
		kconsume -g G -e -f "%s\n" t >again &&
		test_must_be_empty_ again
	'

	test_expect_success "$mode: a member killed mid-stream skips nothing; only what it had not committed comes twice" '
		ktopic create k -p 6 &&
		start_member k1 K k --commit-interval 200 &&
		start_member k2 K k --commit-interval 200 &&
		start_member k3 K k --commit-interval 200 &&
		test_poll shared 6 k1 k2 k3 &&
		{ (i=0; while test $i -lt 30; do
			keyed $((i * 100 + 1)) $((i * 100 + 100)) k || exit 1
			i=$((i + 1)); sleep 0.05; done) & } &&
		producer=$! &&
		test_poll lines_at_least 100 k2.out &&
		kill -9 $k2_pid &&
		wait $producer &&
		test_poll distinct_values 3000 k1.out k2.out k3.out &&
		stop_member k1 && stop_member k3 &&
		cat k1.out k2.out k3.out | awk "{ print \$3 }" | sort -n >values &&
		sort -un values >actual &&
		seq 1 3000 >expect &&
		test_cmp expect actual &&
		# the others took over what k2 held
		held k2 >k2.held &&
		cat k1.out k3.out | awk "{ print \$1 }" | sort -un >others.parts &&
		for p in $(cat k2.held); do grep -qx "$p" others.parts || return 1; done &&
		# duplicates: only records k2 printed at or past its last commit
		uniq -d values >dups &&
		awk "/committed k [0-9]+ at/ { c[\$6] = \$8 } END { for (p in c) print p, c[p] }" \
			k2.err >k2.commits &&
		awk "NR == FNR { c[\$1] = \$2; next }
			{ lim = (\$1 in c) ? c[\$1] : 0; if (\$2 >= lim) print \$3 }" \
			k2.commits k2.out | sort -n >k2.uncommitted &&
		comm -23 dups k2.uncommitted >bad &&
		test_must_be_empty_ bad &&
		echo "# duplicates: $(wc -l <dups), bound $(wc -l <k2.uncommitted)"
	'

	test_expect_success "$mode: a member joining takes its share without a record seen twice" '
		ktopic create j -p 2 &&
		start_member j1 J j --commit-interval 60000 &&
		test_poll shared 2 j1 &&
		keyed 1 100 j &&
		test_poll lines_at_least 100 j1.out &&
		start_member j2 J j --commit-interval 60000 &&
		test_poll shared 2 j1 j2 &&
		keyed 101 200 j &&
		test_poll lines_at_least 200 j1.out j2.out &&
		stop_member j1 && stop_member j2 &&
		cat j1.out j2.out | awk "{ print \$3 }" | sort -n >actual &&
		seq 1 200 >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: SIGTERM commits and leaves: the other member takes over at once, nothing twice" '
		ktopic create s -p 2 &&
		start_member s1 S s --commit-interval 60000 --session-timeout 60000 &&
		start_member s2 S s --commit-interval 60000 --session-timeout 60000 &&
		test_poll shared 2 s1 s2 &&
		keyed 1 100 s &&
		test_poll lines_at_least 100 s1.out s2.out &&
		held s1 >s1.had &&
		stop_member s1 &&
		test_poll shared 2 s2 &&
		keyed 101 120 s &&
		test_poll lines_at_least 120 s1.out s2.out &&
		stop_member s2 &&
		cat s1.out s2.out | awk "{ print \$3 }" | sort -n >actual &&
		seq 1 120 >expect &&
		test_cmp expect actual &&
		grep "committed s $(head -n 1 s1.had) at" s1.err &&
		grep "left" s1.err
	'

	test_expect_success "$mode: -e: members exit once their partitions are at the end" '
		ktopic create e -p 6 &&
		keyed 1 300 e &&
		{ kconsume -g E -e -f "%p %o %s\n" e >e1.out 2>e1.err & } &&
		e1=$! &&
		{ kconsume -g E -e -f "%p %o %s\n" e >e2.out 2>e2.err & } &&
		e2=$! &&
		wait $e1 && wait $e2 &&
		cat e1.out e2.out | awk "{ print \$3 }" | sort -n >actual &&
		seq 1 300 >expect &&
		test_cmp expect actual &&
		kconsume -g E -e e >again &&
		test_must_be_empty_ again
	'

	test_expect_success "$mode: with no commit, -o end starts at the end (and commits it)" '
		kconsume -g L -e -o end -f "%s\n" e >out &&
		test_must_be_empty_ out &&
		keyed 301 305 e &&
		kconsume -g L -e -f "%s\n" e | sort -n >actual &&
		seq 301 305 >expect &&
		test_cmp expect actual
	'

	test_expect_success "$mode: bad group input" '
		test_expect_code 2 kconsume -g "no/such" -e e 2>err &&
		grep "invalid group name" err &&
		test_expect_code 2 kconsume -g G -e e:1 2>err &&
		grep "a group member reads whole topics" err &&
		test_expect_code 1 kconsume -g G -e nosuch 2>err &&
		test_expect_code 2 kconsume -e --strategy range e 2>err &&
		grep "need -g GROUP" err &&
		test_expect_code 2 kconsume -g G --commit-interval x e 2>err
	'
}

# test_must_be_empty_ FILE: say what is in it when it is not
test_must_be_empty_ () {
	if test -s "$1"; then
		echo "'$1' is not empty:" >&2
		head -n 20 "$1" >&2
		return 1
	fi
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
