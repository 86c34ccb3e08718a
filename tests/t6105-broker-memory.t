#!/bin/sh
# klog - kbrokerd gives memory back: buffers follow the bytes, shrink, and are trimmed. MIT licence.

test_description='memory comes back after a burst of big payloads'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# AddressSanitizer keeps freed memory in quarantine: RSS says nothing there
if ! nm -D "$TOP/kbrokerd" 2>/dev/null | grep -q __asan_init; then
	test_set_prereq UNSANITIZED
fi

# bg_start NAME FD CMD...: CMD in the background, its stdin the fifo
# NAME.ctl held open on FD until bg_end; waits for its first line of output
bg_start() {
	bs_name=$1 bs_fd=$2
	shift 2
	test_fifo "$bs_name.ctl" &&
	{ "$@" <"$bs_name.ctl" >"$bs_name.out" 2>"$bs_name.err" 5>&- 6>&- & } &&
	eval "${bs_name}_bpid=\$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	eval "exec $bs_fd>\"\$bs_name.ctl\"" &&
	test_wait_line "$bs_name.out" "."
}

bg_end() {
	eval "exec $2>&-" &&
	eval "wait \$${1}_bpid"
}

rss() {
	awk "/^VmRSS:/ { print \$2 }" /proc/$b_pid/status
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	start_broker b
'

test_expect_success 'an announced payload costs what has arrived, not what it announced' '
	bg_start ann 5 kbclient burst 8 16777216 1000 &&
	grep -q "^sent 8 of 8$" ann.out &&
	wait_metric klog_connections -ge 9 &&
	buf=$(metric klog_buffer_bytes) &&
	echo "# buffers with 8 x 16 MiB announced, 1000 bytes sent: $buf bytes" &&
	test "$buf" -lt 1048576 &&
	bg_end ann 5
'

test_expect_success 'a big input buffer does not stay behind the request that needed it' '
	wait_metric klog_connections -eq 1 &&
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT || exit 1
		{ printf \"PRODUCE t 0 1 1000000\n\"; head -c 1000000 /dev/zero; printf PIN; } >&3
		read -r l <&3 && echo \"\$l\" | cut -d\" \" -f1,2 &&
		kbclient stats | sed -n \"s/^klog_buffer_bytes //p\"" >out &&
	echo "ERR CORRUPT_BATCH" >expect &&
	head -n 1 out >got &&
	test_cmp expect got &&
	buf=$(sed -n 2p out) &&
	echo "# buffers with the PIN that followed a 1 MB payload: $buf bytes" &&
	test "$buf" -lt 300000
'

test_expect_success UNSANITIZED 'RSS after a burst of big payloads comes back near idle' '
	wait_metric klog_connections -eq 1 &&
	idle=$(rss) &&
	echo | kbclient burst 1 8388608 >/dev/null &&
	bg_start burst 5 kbclient burst 8 8388608 4000000 &&
	grep -q "^sent 8 of 8$" burst.out &&
	wait_metric klog_buffer_bytes -ge 32000000 &&
	during=$(rss) &&
	# a connection made after the burst: its memory lies above that of the burst
	bg_start late 6 kbclient hold 1 &&
	bg_end burst 5 &&
	wait_metric klog_connections -eq 2 &&
	i=0 &&
	while after=$(rss) && test "$after" -ge $((idle + 8192)) && test $i -lt 50; do
		sleep 0.1
		i=$((i + 1))
	done &&
	echo "# broker RSS idle $idle KiB, during the burst $during KiB, after $after KiB" &&
	test "$during" -gt $((idle + 30000)) &&
	test "$after" -lt $((idle + 8192)) &&
	wait_metric klog_memory_trims_total -ge 1 &&
	bg_end late 6
'

test_expect_success 'the broker stops clean' '
	stop_broker b
'

test_done
