#!/bin/sh
# klog - broker groups: a commit is acknowledged only once durable; a failed sync loses none. MIT licence.

test_description='broker groups: fdatasync EIO on __consumer_offsets fails the commit, the cache keeps the durable offset'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-fault.sh"
. "$TEST_DIRECTORY/lib-group.sh"

test_expect_success 'setup: a broker under the shim, a member, a first commit' '
	mkdir -p "$KLOG_DIR" &&
	start_fault_broker b --fsync always &&
	kbclient create t 2 &&
	kbclient produce t 0 20 >/dev/null &&
	member m 5 gf t &&
	test_poll holds_n 2 m &&
	ask m 5 "commit t 0 5" commit >out &&
	echo "commit ok" >expect &&
	test_cmp expect out &&
	for d in "$KLOG_DIR"/__consumer_offsets-*; do
		for f in "$d"/*.log; do
			test -s "$f" && echo "${d##*-}"
		done
	done >part &&
	test_line_count = 1 part
'

test_expect_success 'fdatasync EIO: the commit fails, COMMITTED keeps the durable offset' '
	p=$(cat part) &&
	arm "fdatasync:EIO:delay=200:count=1:path=*/__consumer_offsets-$p/*.log" &&
	ask m 5 "commit t 0 8" commit >out &&
	grep "^commit EIO .*Input/output error" out &&
	printf "COMMITTED gf\nQUIT\n" | talk >out &&
	printf "OK 1\nt\t0\t5\nOK BYE\n" >expect &&
	test_cmp expect out &&
	grep "__consumer_offsets-$p failed: committed offsets read again" b.err &&
	ask m 5 "commit t 0 9" commit >out &&
	grep "^commit EIO" out
'

test_expect_success 'after REPAIR commits go on; a restart reads the same' '
	disarm &&
	p=$(cat part) &&
	printf "REPAIR __consumer_offsets $p\nQUIT\n" | talk >out &&
	grep "^OK [1-9]" out &&
	ask m 5 "commit t 0 10" commit >out &&
	echo "commit ok" >expect &&
	test_cmp expect out &&
	printf "COMMITTED gf\nQUIT\n" | talk >before &&
	printf "OK 1\nt\t0\t10\nOK BYE\n" >expect &&
	test_cmp expect before &&
	exec 5>&- &&
	stop_broker b &&
	start_broker b2 &&
	printf "COMMITTED gf\nQUIT\n" | talk >after &&
	test_cmp expect after
'

test_done
