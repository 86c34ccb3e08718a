#!/bin/sh
# klog - kbrokerd as group coordinator: join, heartbeat, handover, commit, fencing. MIT licence.

test_description='broker groups: members share partitions, commits are fenced and stored'
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

test_expect_success 'one member gets every partition, no commit yet' '
	member m1 5 g1 t &&
	test_poll holds_n 6 m1 &&
	grep "^assign" m1.out | sort >assigned &&
	cat >expect <<-\EOF &&
	assign t 0 -1
	assign t 1 -1
	assign t 2 -1
	assign t 3 -1
	assign t 4 -1
	assign t 5 -1
	EOF
	test_cmp expect assigned
'

test_expect_success 'commit, then COMMITTED and DESCRIBEGROUP show it' '
	ask m1 5 "commit t 2 7" commit >out &&
	echo "commit ok" >expect &&
	test_cmp expect out &&
	printf "COMMITTED g1\nQUIT\n" | talk >out &&
	printf "OK 1\nt\t2\t7\nOK BYE\n" >expect &&
	test_cmp expect out &&
	kgroupr describe g1 >desc &&
	grep "^group g1 Stable 1 range$" desc &&
	grep "^member .* - klog .* [1-9][0-9]*$" desc &&
	id=$(ask m1 5 gen gen | cut -d" " -f3) &&
	grep "^partition t 2 7 10 3 $id$" desc &&
	grep "^partition t 0 -1 10 10 $id$" desc
'

test_expect_success 'three members over six partitions: disjoint and complete' '
	member m2 6 g1 t &&
	member m3 7 g1 t &&
	test_poll holds_n 2 m1 m2 m3 &&
	union m1 m2 m3 >held &&
	all_parts t 6 >expect &&
	test_cmp expect held &&
	# every revoke was answered by a release, nothing was lost
	for m in m1 m2 m3; do
		test $(grep -c "^revoke " $m.out) = $(grep -c "^released " $m.out) &&
		! grep "^lost " $m.out || return 1
	done &&
	grep "^revoke " m1.out
'

test_expect_success 'the new owner of a committed partition starts from its commit' '
	# (t6210 shows the handover waits for the release)
	owner= &&
	for m in m2 m3; do
		if held $m | grep -qx "t:2"; then
			owner=$m &&
			grep "^assign t 2 7$" $m.out || return 1
		fi
	done &&
	test -n "$owner" || held m1 | grep -qx "t:2"
'

test_expect_success 'a member whose connection closes loses its partitions at once' '
	kill -9 $m3_pid &&
	exec 7>&- &&
	test_poll holds_n 3 m1 m2 &&
	union m1 m2 >held &&
	all_parts t 6 >expect &&
	test_cmp expect held &&
	gdescribe g1 >desc &&
	test $(grep -c "^member " desc) = 2
'

test_expect_success 'a member that hangs is removed after its session timeout' '
	member h 7 g1 t -s 1000 &&
	test_poll holds_n 2 m1 m2 h &&
	say 7 hang &&
	test_poll holds_n 3 m1 m2 &&
	grep "member .* removed: no heartbeat for 1000 ms" b.err &&
	say 7 wake &&
	test_wait_line h.out "^lost " &&
	test_poll holds_n 2 m1 m2 h &&
	union m1 m2 h >held &&
	all_parts t 6 >expect &&
	test_cmp expect held
'

test_expect_success 'stale generation and partitions not owned: FENCED, nothing stored' '
	say 7 leave &&
	test_wait_line h.out "^left" &&
	exec 7>&- &&
	test_poll holds_n 3 m1 m2 &&
	gen=$(ask m1 5 gen gen) &&
	g=$(echo "$gen" | cut -d" " -f2) &&
	id=$(echo "$gen" | cut -d" " -f3) &&
	mine=$(held m1 | head -n 1) &&
	theirs=$(held m2 | head -n 1) &&
	tp=$(echo $mine | tr : " ") &&
	otp=$(echo $theirs | tr : " ") &&
	printf "COMMIT g1 %s %d %d\n%s 5\n" "$id" $((g + 1)) $((${#tp} + 3)) "$tp" >req &&
	printf "COMMIT g1 %s 0 %d\n%s 5\n" "$id" $((${#tp} + 3)) "$tp" >>req &&
	printf "COMMIT g1 %s %d %d\n%s 5\n" "$id" $g $((${#otp} + 3)) "$otp" >>req &&
	printf "COMMIT g1 nosuchmember %d %d\n%s 5\n" $g $((${#tp} + 3)) "$tp" >>req &&
	printf "COMMIT g1 %s %d %d\n%s 99\n" "$id" $g $((${#tp} + 4)) "$tp" >>req &&
	printf "COMMITTED g1\nQUIT\n" >>req &&
	talk <req >out &&
	cut -d" " -f1,2 out >codes &&
	cat >expect <<-\EOF &&
	ERR FENCED
	ERR FENCED
	ERR FENCED
	ERR FENCED
	ERR OFFSET_OUT_OF_RANGE
	OK 1
	t	2	7
	OK BYE
	EOF
	test_cmp expect codes &&
	ask m1 5 "commit $otp 3" commit >out &&
	grep "^commit ESTALE" out
'

test_expect_success 'garbage group commands: one-line errors, the connection stays' '
	cat >req <<-\EOF &&
	JOIN ../x - - 1000 range t c h 1
	JOIN g2 - - 5 range t c h 1
	JOIN g2 - - 1000 nosuch t c h 1
	JOIN g2 - - 1000 range nosuchtopic c h 1
	JOIN g2 - - 1000 range t c h -4
	JOIN g2 - - 1000 range t c
	HEARTBEAT nosuchgroup m 1
	HEARTBEAT g1 m x
	HEARTBEAT g1 nosuchmember 1
	COMMITTED nosuchgroup
	COMMITTED bad/name
	DESCRIBEGROUP nosuchgroup
	DELETEGROUP nosuchgroup
	RELEASE g1 m 1 t
	LEAVE g1 nosuchmember
	PING still
	QUIT
	EOF
	talk <req >out &&
	cut -d" " -f1,2 out >codes &&
	cat >expect <<-\EOF &&
	ERR INVALID
	ERR BAD_REQUEST
	ERR INVALID
	ERR UNKNOWN_TOPIC
	ERR BAD_REQUEST
	ERR BAD_REQUEST
	ERR UNKNOWN_GROUP
	ERR FENCED
	ERR FENCED
	ERR UNKNOWN_GROUP
	ERR INVALID
	ERR UNKNOWN_GROUP
	ERR UNKNOWN_GROUP
	ERR BAD_REQUEST
	ERR FENCED
	OK PONG
	OK BYE
	EOF
	test_cmp expect codes &&
	test_line_count = 17 out
'

test_expect_success 'a commit payload that is not offset lines is refused whole' '
	gen=$(ask m1 5 gen gen) &&
	set -- $gen &&
	mine=$(held m1 | head -n 1 | tr : " ") &&
	printf "COMMIT g1 %s %d 13\n%s 1\nt 0 zz\n" $3 $2 "$mine" >req &&
	printf "COMMIT g1 %s %d 8\n%s 1 2\n" $3 $2 "$mine" >>req &&
	printf "COMMIT g1 %s %d 0\n" $3 $2 >>req &&
	printf "COMMITTED g1\nPING\nQUIT\n" >>req &&
	talk <req >out &&
	cut -d" " -f1,2 out >codes &&
	printf "ERR BAD_REQUEST\nERR BAD_REQUEST\nERR BAD_REQUEST\nOK 1\nt\t2\t7\nOK PONG\nOK BYE\n" >expect &&
	test_cmp expect codes
'

test_expect_success 'at most 1024 members join on one connection; they go with it' '
	i=0 &&
	while test $i -lt 1025; do
		echo "JOIN many - - 60000 range t c h 1"
		i=$((i + 1))
	done >req &&
	echo "DESCRIBEGROUP many" >>req &&
	echo QUIT >>req &&
	talk <req >out &&
	test $(grep -c "^OK [^ ]* [0-9]*$" out) = 1024 &&
	sed -n 1025p out | cut -d" " -f1,2 >code &&
	echo "ERR BUSY" >code.expect &&
	test_cmp code.expect code &&
	grep "^OK 1030 PreparingRebalance 1024 range$" out &&
	test $(grep -c "^member	" out) = 1024 &&
	test_poll test_must_fail kgroupr describe many 2>err &&
	grep "ENOENT: no such group" err
'

test_expect_success 'SETOFFSETS and DELETEGROUP are refused while members live, naming them' '
	id=$(ask m1 5 gen gen | cut -d" " -f3) &&
	test_must_fail kgroupr set g1 t 0 1 2>err &&
	grep "EBUSY: group .g1. has 2 live members: .*$id" err &&
	test_must_fail kgroupr delete g1 2>err &&
	grep "EBUSY" err
'

test_done
