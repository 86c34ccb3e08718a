#!/bin/sh
# klog - clients that pipeline fetches and never read do not make the broker run them all. MIT licence.

test_description='a non-reading client: its output is bounded (file ranges included), its requests wait, others are served'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

FETCHES='klog_requests_total{command="FETCH"}'

test_expect_success 'setup: 2 MiB in t/0' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	start_broker b &&
	kbclient produce t 0 16 -r 131072 -n 1 >/dev/null &&
	test "$(kbclient offsets t 0)" = "0 16"
'

test_expect_success '4 connections pipeline 500 fetches of 1 MiB each and never read' '
	test_fifo noread.out &&
	{ kbclient noread t 0 500 4 -m 1048576 >noread.out & } &&
	noread_pid=$! &&
	test_atexit "kill $noread_pid 2>/dev/null" &&
	test_wait_line noread.out "^sent" 30
'

# the broker saw the 2,000 fetches before the new connection (the kernel
# had them in its buffers first): before this change it ran them all
# (reading and checking 2 GiB) before it answered anyone else
test_expect_success 'a new connection is served: PING and FETCH' '
	alive &&
	kbclient consume t 0 -c 1 -m 200000 >got &&
	test_line_count = 1 got
'

test_expect_success 'the non-reading connections ran few of their fetches' '
	n=$(metric "$FETCHES") &&
	echo "fetches run: $n" &&
	test "$n" -ge 5 &&
	test "$n" -le 400
'

test_expect_success 'their memory is bounded; closing them frees it' '
	test "$(metric klog_buffer_bytes)" -lt $((4 * 8 * 1048576)) &&
	kill $noread_pid &&
	wait_metric klog_connections -eq 1 &&
	alive
'

test_expect_success 'the broker stops cleanly' '
	stop_broker b
'

test_done
