#!/bin/sh
# klog - kbrokerd bounds waiting fetches (BUSY beyond) and wakes thousands at once. MIT licence.

test_description='long polls: per-connection and total limits answer BUSY; 20,000 waiters all woken by one produce'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

FETCH_ERRORS='klog_request_errors_total{command="FETCH"}'

# park_bg NAME PER_CONN CONNS: long polls at the log end of t/0 in the
# background (NAME.out gets the tally, NAME_pid the process)
park_bg() {
	pb_end=$(kbclient offsets t 0 | cut -d" " -f2) &&
	{ timeout 60 kbclient park t 0 "$2" "$3" -o "$pb_end" -W 30000 >"$1.out" & } &&
	eval "${1}_pid=\$!" &&
	test_atexit "kill \$${1}_pid 2>/dev/null"
}

# park_result NAME: wait for it and print its tally
park_result() {
	eval "wait \$${1}_pid" &&
	sed -n 2p "$1.out"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	start_broker b --max-connection-fetches 100 --max-waiting-fetches 250
'

test_expect_success 'past the per-connection limit a fetch gets BUSY at once; the rest wait for data' '
	park_bg p1 150 1 &&
	wait_metric klog_fetches_waiting -eq 100 &&
	wait_metric "$FETCH_ERRORS" -eq 50 &&
	alive &&
	kbclient produce t 0 1 >/dev/null &&
	park_result p1 >got &&
	echo "data 100 busy 50 other 0" >want &&
	test_cmp want got &&
	wait_metric klog_fetches_waiting -eq 0
'

test_expect_success 'past the total limit a fetch gets BUSY, whichever connection sends it' '
	park_bg p2 100 3 &&
	wait_metric klog_fetches_waiting -eq 250 &&
	wait_metric "$FETCH_ERRORS" -eq 100 &&
	kbclient produce t 0 1 >/dev/null &&
	park_result p2 >got &&
	echo "data 250 busy 50 other 0" >want &&
	test_cmp want got
'

test_expect_success 'at the limit, a long poll with data at hand is answered, not refused' '
	park_bg p3 100 3 &&
	wait_metric klog_fetches_waiting -eq 250 &&
	wait_metric "$FETCH_ERRORS" -eq 150 &&
	kbclient consume t 0 -c 2 -W 30000 >got &&
	test_line_count = 2 got &&
	test "$(metric "$FETCH_ERRORS")" = 150 &&
	kbclient produce t 0 1 >/dev/null &&
	park_result p3 >got &&
	echo "data 250 busy 50 other 0" >want &&
	test_cmp want got
'

test_expect_success 'the default limit is 1000 waiting fetches per connection' '
	stop_broker b &&
	start_broker b2 &&
	park_bg p4 1001 1 &&
	wait_metric klog_fetches_waiting -eq 1000 &&
	wait_metric "$FETCH_ERRORS" -eq 1 &&
	kbclient produce t 0 1 >/dev/null &&
	park_result p4 >got &&
	echo "data 1000 busy 1 other 0" >want &&
	test_cmp want got
'

test_expect_success '20,000 fetches waiting on 20 connections: all answered after one produce, PING served' '
	park_bg p5 1000 20 &&
	wait_metric klog_fetches_waiting -eq 20000 &&
	alive &&
	kbclient produce t 0 1 >/dev/null &&
	alive &&
	park_result p5 >got &&
	echo "data 20000 busy 0 other 0" >want &&
	test_cmp want got &&
	wait_metric klog_fetches_waiting -eq 0 &&
	test "$(metric "$FETCH_ERRORS")" = 1 &&
	alive
'

test_expect_success 'woken fetches whose answers cannot go out yet share descriptors' '
	end=$(kbclient offsets t 0 | cut -d" " -f2) &&
	test_fifo noread.out &&
	{ kbclient noread t 0 1000 5 -o "$end" -W 30000 >noread.out & } &&
	noread_pid=$! &&
	test_when_finished "kill $noread_pid 2>/dev/null" &&
	test_wait_line noread.out "^sent" 30 &&
	wait_metric klog_fetches_waiting -eq 5000 &&
	kbclient produce t 0 1 -r 65536 >/dev/null &&
	wait_metric klog_fetches_waiting -eq 0 &&
	nfd=$(ls /proc/$b2_pid/fd | wc -l) &&
	echo "broker descriptors: $nfd" &&
	test "$nfd" -lt 500 &&
	alive
'

test_expect_success 'the broker stops cleanly' '
	stop_broker b2
'

test_done
