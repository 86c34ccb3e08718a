#!/bin/sh
# klog - broker groups: handover, static membership, commits across restarts, administration. MIT licence.

test_description='broker groups: clean handover, static members, durable commits, set and delete'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-group.sh"

test_expect_success 'setup: a broker, topic t with 6 partitions of 10 records' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b &&
	kbclient create t 6 &&
	for p in 0 1 2 3 4 5; do
		kbclient produce t $p 10 >/dev/null || return 1
	done
'

# the owner column of DESCRIBEGROUP for topic t partition $2 of group $1
owner_of() {
	gdescribe "$1" | awk -v p="$2" '$1 == "partition" && $2 == "t" && $3 == p { print $7 }'
}

test_expect_success 'a revoked partition stays with its owner until released' '
	member h1 5 gh t -m &&
	test_poll holds_n 6 h1 &&
	id1=$(ask h1 5 gen gen | cut -d" " -f3) &&
	member h2 6 gh t &&
	test_wait_line h1.out "^revoke " &&
	test_poll eval "test \$(grep -c \"^revoke \" h1.out) = 3" &&
	gdescribe gh >desc &&
	grep "^group gh PreparingRebalance 2 range$" desc &&
	test $(grep -c "^partition t .* $id1$" desc) = 6 &&
	ask h2 6 owned owned >out &&
	echo "owned -" >expect &&
	test_cmp expect out &&
	set -- $(grep "^revoke " h1.out | head -n 1) &&
	ask h1 5 "commit t $3 5" commit >out &&
	echo "commit ok" >expect &&
	test_cmp expect out &&
	ask h1 5 "release t $3" release >out &&
	echo "released t $3" >expect &&
	test_cmp expect out &&
	test_wait_line h2.out "^assign t $3 5$" &&
	for p in $(grep "^revoke " h1.out | sed 1d | cut -d" " -f3); do
		test "$(owner_of gh $p)" = "$id1" || return 1
	done &&
	for p in $(grep "^revoke " h1.out | sed 1d | cut -d" " -f3); do
		ask h1 5 "release t $p" release >/dev/null || return 1
	done &&
	test_poll holds_n 3 h1 h2 &&
	union h1 h2 >held &&
	all_parts t 6 >expect &&
	test_cmp expect held &&
	gdescribe gh >desc &&
	grep "^group gh Stable 2 range$" desc
'

test_expect_success 'LEAVE hands the partitions over at once' '
	say 6 leave &&
	test_wait_line h2.out "^left" &&
	exec 6>&- &&
	test_poll holds_n 6 h1 &&
	say 5 leave &&
	test_wait_line h1.out "^left" &&
	exec 5>&- &&
	gdescribe gh >desc &&
	grep "^group gh Empty" desc &&
	! grep "^member" desc
'

test_expect_success 'static membership: a quick restart gets the same partitions, nobody else moves' '
	member s1 5 gs t -i one -s 3000 &&
	member s2 6 gs t -i two -s 3000 &&
	test_poll holds_n 3 s1 s2 &&
	held s1 >before &&
	gen=$(ask s2 6 gen gen | cut -d" " -f2) &&
	old=$(ask s1 5 gen gen | cut -d" " -f3) &&
	kill -9 $s1_pid &&
	exec 5>&- &&
	gdescribe gs >desc &&
	test $(grep -c "^member " desc) = 2 &&
	lines=$(grep -cv "^gen " s2.out) &&
	member s1b 5 gs t -i one -s 3000 &&
	test_poll holds_n 3 s1b &&
	held s1b >after &&
	test_cmp before after &&
	ask s2 6 gen gen >g2 &&
	echo "$gen" >expect &&
	cut -d" " -f2 g2 >got &&
	test_cmp expect got &&
	test $(grep -cv "^gen " s2.out) = $lines &&
	grep "instance .one. is member .* .$old. fenced" b.err &&
	set -- $(head -n 1 before | tr : " ") &&
	printf "COMMIT gs %s %d 6\n%s %s 1\nQUIT\n" "$old" "$gen" "$1" "$2" | talk >out &&
	grep "^ERR FENCED member .$old. is not in group" out
'

test_expect_success 'a static member that does not come back is removed after its session' '
	kill -9 $s1b_pid &&
	exec 5>&- &&
	gdescribe gs >desc &&
	test $(grep -c "^member " desc) = 2 &&
	test_poll holds_n 6 s2 &&
	grep "member .* removed: no heartbeat for 3000 ms" b.err
'

test_expect_success 'commits survive a clean stop of the broker (SIGTERM)' '
	say 6 "commit t 4 6" &&
	test_wait_line s2.out "^commit ok" &&
	ask s2 6 gen gen | cut -d" " -f2 >gen.before &&
	printf "COMMITTED gs\nQUIT\n" | talk >before &&
	stop_broker b &&
	exec 6>&- &&
	start_broker b2 &&
	printf "COMMITTED gs\nQUIT\n" | talk >after &&
	test_cmp before after &&
	grep "^t	4	6$" after
'

test_expect_success 'a new member starts from the commit, in a later generation' '
	member r1 5 gs t &&
	test_poll holds_n 6 r1 &&
	grep "^assign t 4 6$" r1.out &&
	# the generation goes on from the last one recorded (group metadata)
	test $(sed -n "s/^joined [^ ]* //p" r1.out) -gt $(cat gen.before)
'

test_expect_success 'commits acknowledged before a SIGKILL of the broker survive it' '
	ask r1 5 "commit t 4 9" commit >out &&
	echo "commit ok" >expect &&
	test_cmp expect out &&
	ask r1 5 "commit t 1 10" commit >out &&
	test_cmp expect out &&
	kill -9 $b2_pid &&
	exec 5>&- &&
	start_broker b3 &&
	printf "COMMITTED gs\nQUIT\n" | talk >out &&
	printf "OK 2\nt\t1\t10\nt\t4\t9\nOK BYE\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the commits are offset-commit records in __consumer_offsets' '
	test -f "$KLOG_DIR/__consumer_offsets.topic" &&
	grep "^cleanup.policy=compact" "$KLOG_DIR/__consumer_offsets.topic" &&
	ls -d "$KLOG_DIR"/__consumer_offsets-* >dirs &&
	test -s dirs
'

test_expect_success 'a record that does not decode is skipped with a warning naming it' '
	for d in "$KLOG_DIR"/__consumer_offsets-*; do
		for f in "$d"/*.log; do
			test -s "$f" && grep -qa gs "$f" && echo "${d##*-}"
		done
	done >part &&
	test_line_count = 1 part &&
	p=$(cat part) &&
	# a commit key (version 1) whose group string runs past the key
	printf "\000\001\000\011gs:value\n" | kproduce -b "$ADDR" -K: -p $p __consumer_offsets &&
	stop_broker b3 &&
	start_broker b4 &&
	printf "COMMITTED gs\nQUIT\n" | talk >out &&
	test_cmp expect out &&
	grep "__consumer_offsets-$p: record at offset [0-9]* skipped" b4.err
'

test_expect_success 'SETOFFSETS with no live member; GROUPS; DESCRIBEGROUP lag' '
	kgroupr set gs t 0 3 t 4 -1 &&
	printf "COMMITTED gs\nQUIT\n" | talk >out &&
	printf "OK 2\nt\t0\t3\nt\t1\t10\nOK BYE\n" >expect &&
	test_cmp expect out &&
	test_must_fail kgroupr set gs t 0 11 2>err &&
	grep "ERANGE: offset 11 of .t-0. is past its log end 10" err &&
	test_must_fail kgroupr set gs nosuch 0 1 2>err &&
	grep "ENOENT" err &&
	kgroupr list >groups &&
	printf "gh\ngs\n" >expect &&
	test_cmp expect groups &&
	kgroupr describe gs >desc &&
	grep "^group gs Empty" desc &&
	grep "^partition t 0 3 10 7 -$" desc
'

test_expect_success 'DELETEGROUP removes the commits, for good' '
	kgroupr delete gs &&
	test_must_fail kgroupr describe gs 2>err &&
	grep "ENOENT: no such group .gs." err &&
	stop_broker b4 &&
	start_broker b5 &&
	kgroupr list >groups &&
	echo gh >expect &&
	test_cmp expect groups &&
	test_must_fail kgroupr delete gs 2>err &&
	grep ENOENT err
'

test_done
