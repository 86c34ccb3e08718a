#!/bin/sh
# klog - embedded consumer groups: sharing, death, leave, fencing, static members. MIT licence.

test_description='embedded groups: members share partitions through files and flock leases'
. "$(dirname "$0")/lib.sh"

test_embedded_only "members lock files in the log directory"

# start NAME [ARGS...]: a member (tests/kgroupdrv) of group $G in the
# background, its events in NAME.out, what it holds in NAME.held; NAME_pid
G=g1
start() {
	st_n=$1 &&
	shift &&
	rm -f $st_n.held &&
	{ kgroupdrv -d "$KLOG_DIR" -g $G -o $st_n.held "$@" >$st_n.out 2>$st_n.err & } &&
	eval "${st_n}_pid=$!" &&
	test_atexit "kill -9 $! 2>/dev/null"
}

# holding FILE NAMES...: the members' held partitions together are exactly
# FILE's lines (so disjoint and covering)
holding() {
	hd_expect=$1 &&
	shift &&
	for hd_n in "$@"; do test -f $hd_n.held || return 1; cat $hd_n.held; done | sort >held.all &&
	cmp -s "$hd_expect" held.all
}

# has N NAME: NAME holds N partitions
has() {
	test -f $2.held && test $(wc -l <$2.held) -eq $1
}

# settled FILE N NAMES...: holding FILE, and each of NAMES holds N (polled
# as one condition: while a handover is under way the first can hold alone)
settled() {
	sd_f=$1 &&
	sd_k=$2 &&
	shift 2 &&
	holding "$sd_f" "$@" || return 1
	for sd_n in "$@"; do has "$sd_k" "$sd_n" || return 1; done
}

# last_assign MS NAMES...: the time of the last ASSIGN at or after MS
last_assign() {
	la_t=$1 &&
	shift &&
	for la_n in "$@"; do cat $la_n.out; done |
	awk -v t=$la_t '$1 == "assign" && $9 >= t { if ($9 > m) m = $9 } END { printf "%.0f\n", m }'
}

now_ms() {
	date +%s%3N
}

test_expect_success 'setup: topic t with 6 partitions, u with 2' '
	ktopic create t --partitions 6 &&
	ktopic create u --partitions 2 &&
	printf "t-%d\n" 0 1 2 3 4 5 | sort >all6 &&
	{ printf "t-%d\n" 0 1 2 3 4 5; printf "u-%d\n" 0 1; } | sort >all8
'

test_expect_success 'three members over six partitions: two each, disjoint, all covered' '
	start m1 t &&
	start m2 t &&
	start m3 t &&
	test_poll settled all6 2 m1 m2 m3 &&
	grep "^joined klog-" m1.out &&
	test_path_is_file "$KLOG_DIR/.klog-groups/g1/state" &&
	test $(ls "$KLOG_DIR/.klog-groups/g1/members" | wc -l) -eq 3
'

test_expect_success 'range: each member holds a contiguous range' '
	for n in m1 m2 m3; do
		set -- $(sed "s/t-//" $n.held) &&
		test $(($2 - $1)) -eq 1 || return 1
	done
'

test_expect_success 'describe: Stable, three members, every partition owned' '
	test_poll eval "kgroupdrv -d \"\$KLOG_DIR\" describe g1 >desc && grep -q \"^group Stable \" desc" &&
	test $(grep -c "^member " desc) -eq 3 &&
	test $(grep -c "^part t " desc) -eq 6 &&
	! grep "owner -$" desc &&
	grep "^group Stable generation [0-9]* strategy range$" desc &&
	grep "^member klog-[0-9a-f]* - klog [^ ]* $m1_pid$" desc
'

test_expect_success 'a commit for a partition not owned is fenced (ESTALE), an owned one is not' '
	start f t -x -c t:0 -c t:1 -c t:2 -c t:3 -c t:4 -c t:5 &&
	test_poll grep -q "^commit t-5 " f.out &&
	wait $f_pid &&
	grep "^assign t " f.out &&
	for p in 0 1 2 3 4 5; do
		if grep "^assign t $p " f.out; then
			grep "^commit t-$p ok" f.out || return 1
		else
			grep "^commit t-$p ESTALE: group .g1.: member .klog-[0-9a-f]*. does not own partition .t-$p. (generation [0-9]*): commit refused$" f.out ||
			return 1
		fi
	done
'

test_expect_success 'a member killed with SIGKILL: the others take its partitions at once' '
	test_poll holding all6 m1 m2 m3 &&
	before=$(now_ms) &&
	kill -9 $m2_pid &&
	test_poll settled all6 3 m1 m3 &&
	last=$(last_assign $before m1 m3) &&
	echo "# the last of its partitions assigned again $((last - before)) ms after the SIGKILL" &&
	test $((last - before)) -ge 0 &&
	test $((last - before)) -lt 1000 &&
	test_poll eval "test \$(ls \"\$KLOG_DIR/.klog-groups/g1/members\" | wc -l) -eq 2"
'

test_expect_success 'a clean leave (SIGTERM): its partitions go to the other, its file is removed' '
	kill -TERM $m3_pid &&
	wait $m3_pid &&
	grep "^left$" m3.out &&
	test ! -s m3.held &&
	test_poll holding all6 m1 &&
	test $(ls "$KLOG_DIR/.klog-groups/g1/members" | wc -l) -eq 1
'

test_expect_success 'a member joining: the holder revokes, then each holds three' '
	start m4 t &&
	test_poll settled all6 3 m1 m4 &&
	grep "^revoke t " m1.out
'

test_expect_success 'two topics, roundrobin: every partition of both held once' '
	kill -TERM $m1_pid $m4_pid &&
	wait $m1_pid $m4_pid;
	G=rr &&
	start r1 -s roundrobin t u &&
	start r2 -s roundrobin t u &&
	test_poll settled all8 4 r1 r2 &&
	grep "^strategy roundrobin$" "$KLOG_DIR/.klog-groups/rr/state" &&
	kill -TERM $r1_pid $r2_pid &&
	wait $r1_pid $r2_pid
'

test_expect_success 'static members: a quick restart gets the same partitions, no rebalance' '
	G=st &&
	start a -s sticky -i inst-a t &&
	start b -s sticky -i inst-b t &&
	start c -s sticky -i inst-c t &&
	test_poll settled all6 2 a b c &&
	cp b.held b.before &&
	wc -l <a.out >a.lines && wc -l <c.out >c.lines &&
	kill -9 $b_pid &&
	# the others noticed: inst-b is kept, marked gone, its partitions reserved
	test_poll grep -q "^member inst-b static 10000 [1-9][0-9]* t$" "$KLOG_DIR/.klog-groups/st/state" &&
	has 2 a && has 2 c &&
	test $(wc -l <a.out) -eq $(cat a.lines) &&
	start b -s sticky -i inst-b t &&
	test_poll has 2 b &&
	test_cmp b.before b.held &&
	test_poll holding all6 a b c &&
	grep "^joined inst-b " b.out &&
	test $(wc -l <a.out) -eq $(cat a.lines) &&
	test $(wc -l <c.out) -eq $(cat c.lines) &&
	grep "^member inst-b static 10000 0 t$" "$KLOG_DIR/.klog-groups/st/state"
'

test_expect_success 'a static member that stays away past its session: the others take over' '
	kill -TERM $c_pid && wait $c_pid &&
	G=st &&
	start c -s sticky -i inst-c -S 300 t &&
	test_poll has 2 c &&
	before=$(now_ms) &&
	kill -9 $c_pid &&
	test_poll settled all6 3 a b &&
	after=$(now_ms) &&
	echo "# taken over $((after - before)) ms after the SIGKILL (session 300 ms)" &&
	test $((after - before)) -ge 300 &&
	! grep "^member inst-c " "$KLOG_DIR/.klog-groups/st/state"
'

test_expect_success 'a subscribed topic grows: the new partitions are assigned too' '
	G=grow &&
	ktopic create grow --partitions 2 &&
	start w1 grow &&
	start w2 grow &&
	printf "grow-%d\n" 0 1 | sort >grow2 &&
	test_poll holding grow2 w1 w2 &&
	ktopic alter grow --partitions 5 &&
	printf "grow-%d\n" 0 1 2 3 4 | sort >grow5 &&
	test_poll holding grow5 w1 w2 &&
	grep "^topic grow 5$" "$KLOG_DIR/.klog-groups/grow/state" &&
	kill -TERM $w1_pid $w2_pid &&
	wait $w1_pid $w2_pid
'

test_expect_success 'a clean handover: the new owner starts at what the old one committed' '
	G=hand &&
	start h1 -R 7 t &&
	test_poll has 6 h1 &&
	grep "^assign t 0 committed -1 " h1.out &&
	start h2 -R 7 t &&
	test_poll settled all6 3 h1 h2 &&
	test $(grep -c "^commit t-[0-9] ok$" h1.out) -eq 3 &&
	test $(grep -c "^assign t [0-9] committed 7 " h2.out) -eq 3 &&
	kill -TERM $h1_pid $h2_pid &&
	wait $h1_pid $h2_pid
'

test_expect_success 'set offsets with nobody in the group; describe and a new member see them' '
	kgroupdrv -d "$KLOG_DIR" reset hand t:0:3 t:5:0 &&
	kgroupdrv -d "$KLOG_DIR" describe hand >desc &&
	grep "^group Empty " desc &&
	grep "^part t 0 committed 3 end 0 lag 0 owner -$" desc &&
	G=hand &&
	start h3 t &&
	test_poll has 6 h3 &&
	grep "^assign t 0 committed 3 " h3.out &&
	grep "^assign t 5 committed 0 " h3.out &&
	kill -TERM $h3_pid &&
	wait $h3_pid
'

test_expect_success 'a second member with a live instance id is refused' '
	test_must_fail kgroupdrv -d "$KLOG_DIR" -g st -i inst-a t 2>err &&
	grep "^kgroupdrv: EBUSY: group .st.: member .inst-a. is already a live member (instance id in use)$" err
'

test_expect_success 'set offsets and delete are refused while members live, naming them' '
	test_must_fail kgroupdrv -d "$KLOG_DIR" reset st t:0:5 2>err &&
	grep "^kgroupdrv: EBUSY: group .st. has live members: inst-a (host [^ ]*, pid $a_pid), inst-b (host [^ ]*, pid $b_pid)$" err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" delete st 2>err &&
	grep "^kgroupdrv: EBUSY: group .st. has live members: inst-a" err
'

test_expect_success 'list names every group with a directory' '
	kgroupdrv -d "$KLOG_DIR" list >list &&
	printf "g1\ngrow\nhand\nrr\nst\n" >expect &&
	test_cmp expect list
'

test_expect_success 'delete, once nobody is left; unknown groups: ENOENT' '
	kill -TERM $a_pid $b_pid &&
	wait $a_pid $b_pid &&
	kgroupdrv -d "$KLOG_DIR" delete st &&
	test_path_is_missing "$KLOG_DIR/.klog-groups/st" &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" delete st 2>err &&
	echo "kgroupdrv: ENOENT: group '"'"'st'"'"' does not exist" >expect &&
	test_cmp expect err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" describe nosuch 2>err &&
	echo "kgroupdrv: ENOENT: group '"'"'nosuch'"'"' does not exist" >expect &&
	test_cmp expect err
'

test_expect_success 'delete removes the committed offsets too' '
	kgroupdrv -d "$KLOG_DIR" describe hand >desc &&
	grep "^part t 0 committed 3 " desc &&
	kgroupdrv -d "$KLOG_DIR" delete hand &&
	test_path_is_missing "$KLOG_DIR/.klog-groups/hand" &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" describe hand 2>err &&
	grep "^kgroupdrv: ENOENT: " err &&
	! kgroupdrv -d "$KLOG_DIR" list | grep "^hand$"
'

test_expect_success 'invalid group names, unknown topics, strategies and instance ids' '
	for name in "bad/name" ".." "a b" "$(printf "%0250d" 0)"; do
		test_must_fail kgroupdrv -d "$KLOG_DIR" -g "$name" t 2>err &&
		grep "^kgroupdrv: EINVAL: invalid group name '"'"'.*'"'"': group names follow the topic rule" err ||
		return 1
	done &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" describe "bad/name" 2>err &&
	grep "EINVAL: invalid group name" err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" -g ok nosuch 2>err &&
	echo "kgroupdrv: ENOENT: group '"'"'ok'"'"': topic '"'"'nosuch'"'"' does not exist" >expect &&
	test_cmp expect err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" -g ok -s fair t 2>err &&
	echo "kgroupdrv: EINVAL: unknown assignment strategy '"'"'fair'"'"' (range, roundrobin or sticky)" >expect &&
	test_cmp expect err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" -g ok -i "x/y" t 2>err &&
	grep "^kgroupdrv: EINVAL: invalid instance id '"'"'x/y'"'"'" err &&
	test_path_is_missing "$KLOG_DIR/.klog-groups/ok"
'

test_expect_success 'a directory a kbrokerd serves: embedded groups refuse, naming it' '
	. "$TEST_DIRECTORY/lib-broker.sh" &&
	start_broker b &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" -g g2 t 2>err &&
	grep "^kgroupdrv: EBUSY: group .g2.: log directory .* is served by kbrokerd [0-9]* 127.0.0.1:[0-9]*: use its groups (-b)$" err &&
	test_must_fail kgroupdrv -d "$KLOG_DIR" list 2>err &&
	grep "served by kbrokerd" err &&
	stop_broker b
'

test_done
