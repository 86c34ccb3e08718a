#!/bin/sh
# klog - kbrokerd against garbage, random bytes, limits and authentication. MIT licence.

test_description='kbrokerd survives hostile input; limits and the shared secret hold'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t -p 2 &&
	start_broker b --max-request 100000 --max-connections 8
'

test_expect_success 'binary bytes in a request line: an error, then the connection closes' '
	printf "PING\n\001\002\377garbage\nPING\n" | talk >out &&
	printf "OK PONG\nERR BAD_REQUEST binary bytes in a request line\n" >expect &&
	test_cmp expect out &&
	alive
'

test_expect_success 'a line over 64 KiB: an error and a close' '
	head -c 70000 /dev/zero | tr "\0" a | talk >out &&
	grep -q "^ERR TOO_LARGE request line over 65536 bytes$" out &&
	test_line_count = 1 out &&
	alive
'

test_expect_success 'a payload over the limit: TOO_LARGE and a close' '
	printf "PRODUCE t 0 1 200000\nPING\n" | talk >out &&
	grep -q "^ERR TOO_LARGE " out &&
	test_line_count = 1 out &&
	alive
'

test_expect_success 'a payload length that is not a number: close' '
	printf "PRODUCE t 0 1 lots\nPING\n" | talk >out &&
	grep -q "^ERR BAD_REQUEST payload length" out &&
	test_line_count = 1 out &&
	alive
'

test_expect_success 'a payload that is not a batch: CORRUPT_BATCH, the stream goes on' '
	printf "PRODUCE t 0 1 10\n0123456789PING\nQUIT\n" | talk >out &&
	printf "ERR CORRUPT_BATCH\nOK PONG\nOK BYE\n" >expect &&
	cut -d" " -f1,2 out >codes &&
	test_cmp expect codes
'

test_expect_success 'a batch with a bad CRC is refused and nothing is written' '
	kbclient produce t 1 3 >/dev/null &&
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf \"FETCH t 1 0 100000\nQUIT\n\" >&3; timeout 5 cat <&3" >fetched &&
	head -n 1 fetched >hdr &&
	n=$(cut -d" " -f2 hdr) &&
	test "$n" -gt 61 &&
	hl=$(($(wc -c <hdr))) &&
	tail -c +$((hl + 1)) fetched | head -c $n >batch &&
	# flip one byte of the last record value: the CRC no longer matches
	{ head -c $((n - 1)) batch; printf Z; } >bad &&
	{ printf "PRODUCE t 1 1 $n\n"; cat bad; printf "OFFSETS t 1\nQUIT\n"; } | talk >out &&
	cut -d" " -f1,2 out >codes &&
	printf "ERR CORRUPT_BATCH\nOK 0\nOK BYE\n" >expect &&
	test_cmp expect codes &&
	grep -q "^OK 0 3$" out
'

test_expect_success 'random bytes never crash the broker' '
	i=0 &&
	while test $i -lt 40; do
		head -c $((i * 797 + 1)) /dev/urandom | talk >/dev/null 2>&1
		i=$((i + 1))
	done &&
	# random bytes after a valid request header
	i=0 &&
	while test $i -lt 20; do
		{ printf "PRODUCE t 0 1 500\n"; head -c 500 /dev/urandom; printf "QUIT\n"; } |
			talk >out 2>&1 &&
		grep -q "^ERR CORRUPT_BATCH" out || return 1
		i=$((i + 1))
	done &&
	alive &&
	kill -0 $b_pid
'

test_expect_success 'a client that never reads cannot grow the broker' '
	# about 13 KB of STATS per request: unbounded, this would be hundreds of MB
	{ timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; yes STATS >&3" & } &&
	wpid=$! &&
	test_when_finished "kill $wpid 2>/dev/null; wait $wpid; true" &&
	# wait until the broker has stopped reading it (its queue is full)
	until printf "STATS\nQUIT\n" | talk >stats && grep -q "^klog_buffer_bytes [1-9][0-9]\{6\}$" stats; do
		kill -0 $wpid || return 1
	done &&
	buf=$(sed -n "s/^klog_buffer_bytes //p" stats) &&
	test "$buf" -lt 8000000 &&
	alive
'

test_expect_success 'connection limit: the one too many takes the place of the oldest idle one' '
	bash -c "
		exec 3<>/dev/tcp/127.0.0.1/$PORT && echo PING >&3 && read -r l <&3
		for i in 2 3 4 5 6 7 8; do
			exec {fd}<>/dev/tcp/127.0.0.1/$PORT && echo PING >&\$fd && read -r l <&\$fd
		done
		exec 9<>/dev/tcp/127.0.0.1/$PORT && echo PING >&9 && read -r l <&9 && echo \"\$l\"
		timeout 5 cat <&3
	" >out &&
	printf "OK PONG\nERR BUSY connection closed to make room: the broker is full\n" >expect &&
	test_cmp expect out &&
	alive
'

test_expect_success 'after all that the log verifies clean' '
	stop_broker b &&
	if test -x "$TOP/kdump"; then
		kdump --verify "$KLOG_DIR/t-0" "$KLOG_DIR/t-1" >out &&
		grep -q "^ok .*records=3" out
	fi
'

test_expect_success 'idle connections are closed after the idle timeout' '
	start_broker idle --idle-timeout 1 &&
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; timeout 10 cat <&3" >out &&
	test_cmp /dev/null out &&
	stop_broker idle
'

test_expect_success 'with a secret every connection must AUTH first' '
	echo s3cret >secret &&
	start_broker auth -s secret &&
	printf "PING\nPING\n" | talk >out &&
	echo "ERR AUTH authentication required: AUTH SECRET" >expect &&
	test_cmp expect out &&
	printf "AUTH wrong\nPING\n" | talk >out &&
	echo "ERR AUTH wrong secret" >expect &&
	test_cmp expect out &&
	printf "AUTH s3cret\nPING\nQUIT\n" | talk >out &&
	printf "OK\nOK PONG\nOK BYE\n" >expect &&
	test_cmp expect out &&
	test_must_fail kbclient ping 2>err &&
	grep -q "authentication required" err &&
	kbclient -s s3cret ping &&
	KLOG_SECRET=s3cret kbclient ping &&
	stop_broker auth
'

test_expect_success 'KLOG_SECRET sets the secret too' '
	KLOG_SECRET=other start_broker auth2 &&
	test_must_fail kbclient -s s3cret ping 2>err &&
	kbclient -s other ping &&
	stop_broker auth2
'

test_done
