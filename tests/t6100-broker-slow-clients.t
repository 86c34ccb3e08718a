#!/bin/sh
# klog - kbrokerd against slow clients: request deadline, per-address limit, shedding. MIT licence.

test_description='slow clients cannot lock others out: deadlines, a limit per address, shedding'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# hold_start NAME FD ARGS...: kbclient hold ARGS in the background, its
# stdin the fifo NAME.ctl, held open on FD (5 to 8) until hold_end; waits
# for its "ready"
hold_start() {
	hs_name=$1 hs_fd=$2
	shift 2
	test_fifo "$hs_name.ctl" &&
	{ kbclient hold "$@" <"$hs_name.ctl" >"$hs_name.out" 2>"$hs_name.err" 5>&- 6>&- 7>&- 8>&- & } &&
	eval "${hs_name}_hpid=\$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	eval "exec $hs_fd>\"\$hs_name.ctl\"" &&
	test_wait_line "$hs_name.out" "^ready$"
}

# hold_end NAME FD: end of its stdin; it reports open or shed for each connection
hold_end() {
	eval "exec $2>&-" &&
	eval "wait \$${1}_hpid"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	start_broker b --request-timeout 1
'

test_expect_success 'a request line sent a byte at a time is cut off, and logged' '
	printf "PING drip-drip-drip\nQUIT\n" | kbclient drip -i 200 >out &&
	grep "^closed after" out &&
	! grep "OK PONG" out &&
	grep "connection 127.0.0.1:[0-9]*: request line not whole within 1 s; closing" b.err &&
	test "$(metric klog_request_timeouts_total)" = 1 &&
	alive
'

test_expect_success 'a payload that trickles in is cut off' '
	{ printf "PRODUCE t 0 1 100000\n"; head -c 100000 /dev/zero; printf "QUIT\n"; } |
		kbclient drip -c 2000 -i 300 >out &&
	grep "^closed after" out &&
	! grep "^ERR\|^OK" out &&
	grep "connection 127.0.0.1:[0-9]*: payload slower than 64 KiB in 1 s" b.err &&
	test "$(metric klog_request_timeouts_total)" = 2
'

test_expect_success 'a payload at the minimum rate may take longer than the timeout' '
	# 64 KiB every 0.4 s: 1.6 s in all, each 64 KiB well within 1 s
	{ printf "PRODUCE t 0 1 262144\n"; head -c 262144 /dev/zero; printf "PING\nQUIT\n"; } |
		kbclient drip -c 65536 -i 400 >out &&
	cut -d" " -f1,2 out >codes &&
	printf "ERR CORRUPT_BATCH\nOK PONG\nOK BYE\nclosed after\n" >expect &&
	test_cmp expect codes &&
	test "$(metric klog_request_timeouts_total)" = 2
'

test_expect_success 'time between requests is not slowness' '
	printf "PING\nPING\nQUIT\n" | kbclient drip -c 5 -i 1500 >out &&
	printf "OK PONG\nOK PONG\nOK BYE\nclosed after 15 of 15 bytes\n" >expect &&
	test_cmp expect out &&
	stop_broker b
'

test_expect_success 'connections per source address are limited' '
	start_broker lim --max-connections 8 --max-connections-per-ip 2 &&
	hold_start a 5 -B 127.0.0.2 3 &&
	hold_start c 6 -B 127.0.0.3 1 &&
	cut -d" " -f1,3- a.out >got &&
	printf "0 OK PONG\n1 OK PONG\n2 ERR BUSY too many connections from 127.0.0.2\nready\n" >expect &&
	test_cmp expect got &&
	grep -q "^0 [0-9]* OK PONG$" c.out &&
	test "$(metric klog_connections_rejected_total)" = 1 &&
	hold_end a 5 &&
	hold_end c 6 &&
	grep -q "^1 [0-9]* open$" a.out &&
	# a freed place can be taken again
	wait_metric klog_connections -eq 1 &&
	echo | kbclient hold -B 127.0.0.2 2 >again &&
	test "$(grep -c "OK PONG" again)" = 2 &&
	stop_broker lim
'

test_expect_success 'a full table sheds the connection idle longest, not an older busy one' '
	start_broker shed --max-connections 6 --max-connections-per-ip 3 --request-timeout 60 &&
	# older, each with a request in progress
	hold_start busy 5 -B 127.0.0.2 -p "PIN" 3 &&
	# newer, idle
	hold_start idle 6 -B 127.0.0.3 3 &&
	echo | kbclient hold -B 127.0.0.4 1 >new &&
	grep -q "^0 [0-9]* OK PONG$" new &&
	hold_end idle 6 &&
	hold_end busy 5 &&
	grep -q "^0 [0-9]* shed: ERR BUSY connection closed to make room: the broker is full$" idle.out &&
	test "$(grep -c " open$" idle.out)" = 2 &&
	test "$(grep -c " open$" busy.out)" = 3 &&
	port=$(sed -n "s/^0 \([0-9]*\) OK PONG$/\1/p" idle.out) &&
	grep -q "connection 127.0.0.3:$port: idle for [0-9]* s; closed to make room for 127.0.0.4:" shed.err &&
	test "$(metric klog_connections_shed_total)" = 1
'

test_expect_success 'with no idle connection, the slowest request in progress goes' '
	wait_metric klog_connections -eq 1 &&
	hold_start slow 5 -B 127.0.0.2 -p "PIN" 3 &&
	hold_start slow2 6 -B 127.0.0.3 -p "PIN" 3 &&
	echo | kbclient hold -B 127.0.0.4 1 >new &&
	grep -q "^0 [0-9]* OK PONG$" new &&
	hold_end slow2 6 &&
	hold_end slow 5 &&
	grep -q "^0 [0-9]* shed: ERR BUSY connection closed to make room" slow.out &&
	test "$(grep -c " open$" slow.out)" = 2 &&
	test "$(grep -c " open$" slow2.out)" = 3 &&
	grep -q "slowest request in progress; closed to make room for 127.0.0.4:" shed.err &&
	test "$(metric klog_connections_shed_total)" = 2
'

test_expect_success 'long polls are not shed: a table of waiting fetches refuses the newcomer' '
	wait_metric klog_connections -eq 1 &&
	hold_start f1 5 -B 127.0.0.2 -p "FETCH t 0 0 1000 60000
" 3 &&
	hold_start f2 6 -B 127.0.0.3 -p "FETCH t 0 0 1000 60000
" 3 &&
	echo | kbclient hold -B 127.0.0.4 1 >new &&
	grep -q "^0 [0-9]* ERR BUSY too many connections$" new &&
	hold_end f1 5 &&
	hold_end f2 6 &&
	test "$(grep -c " open$" f1.out f2.out | awk -F: "{ n += \$2 } END { print n }")" = 6 &&
	stop_broker shed
'

test_done
