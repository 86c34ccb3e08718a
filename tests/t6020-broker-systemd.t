#!/bin/sh
# klog - kbrokerd under a stand-in systemd: notify, socket activation, journald, units. MIT licence.

test_description='kbrokerd speaks systemd: READY=1, LISTEN_FDS, priorities, signals, units'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# notify_listen SOCKET: a stand-in notify socket; waits until it is bound
notify_listen() {
	notify-listen "$1" 20 >notify.out 2>notify.err &
	notify_pid=$! &&
	test_atexit "kill $notify_pid 2>/dev/null" &&
	test_wait_line notify.out "^listening$"
}

# status_addr FILE: the address in a STATUS=serving DIR on ADDR notification
status_addr() {
	sed -n "s/^STATUS=serving .* on //p" "$1"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t
'

test_expect_success 'READY=1 reaches a path NOTIFY_SOCKET once the broker serves' '
	notify_listen "$TRASH/notify.sock" &&
	{ NOTIFY_SOCKET="$TRASH/notify.sock" kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 2>b1.err & } &&
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	wait $notify_pid &&
	grep -q "^READY=1$" notify.out &&
	grep -q "^MAINPID=$pid$" notify.out &&
	KLOG_BROKERS=$(status_addr notify.out) &&
	case "$KLOG_BROKERS" in 127.0.0.1:[1-9]*) ;; *) false ;; esac &&
	# readiness means it already answers
	kbclient ping &&
	kill -TERM $pid &&
	wait $pid
'

test_expect_success 'READY=1 reaches an abstract NOTIFY_SOCKET (@name)' '
	sock="@klog-test-$$-notify" &&
	notify_listen "$sock" &&
	{ NOTIFY_SOCKET="$sock" kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 2>b2.err & } &&
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	wait $notify_pid &&
	grep -q "^READY=1$" notify.out &&
	KLOG_BROKERS=$(status_addr notify.out) &&
	kbclient ping &&
	kill -INT $pid &&
	wait $pid
'

test_expect_success 'a broker that cannot start never says READY=1' '
	notify_listen "$TRASH/notify2.sock" &&
	NOTIFY_SOCKET="$TRASH/notify2.sock" test_expect_code 1 kbrokerd -d "$TRASH/nonexistent" 2>err &&
	grep -q "nonexistent" err &&
	kill $notify_pid &&
	! grep -q READY notify.out
'

test_expect_success 'socket activation: the broker serves the socket it is given' '
	test_fifo ready &&
	{ notify-listen -a 127.0.0.1:0 kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:1 -r 4 4>ready 2>b3.err & } &&
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	KLOG_BROKERS=$(timeout 20 head -n 1 ready) &&
	grep -q "listening on $KLOG_BROKERS$" b3.err &&
	kbclient ping &&
	echo "$pid $KLOG_BROKERS" >expect &&
	test_cmp expect "$KLOG_DIR/kbrokerd.pid" &&
	kill -TERM $pid &&
	wait $pid
'

test_expect_success 'socket activation: connections made before readiness are served' '
	test_fifo go &&
	{ notify-listen -a 127.0.0.1:0 sh -c "read x <go; exec kbrokerd -d \"$KLOG_DIR\"" 2>b4.err & } &&
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	test_wait_line b4.err "listening on" &&
	KLOG_BROKERS=$(sed -n "s/^notify-listen: listening on //p" b4.err) &&
	# the socket listens, the broker is not started yet: this ping waits
	{ kbclient ping >pong & } &&
	ping_pid=$! &&
	echo go >go &&
	wait $ping_pid &&
	echo pong >expect &&
	test_cmp expect pong &&
	kill -TERM $pid &&
	wait $pid
'

test_expect_success 'when stderr is the journal (JOURNAL_STREAM), lines carry <N> priorities' '
	test_fifo ready &&
	: >j.err &&
	js=$(stat -c %d:%i j.err) &&
	{ JOURNAL_STREAM=$js kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 -r 3 3>ready 2>>j.err & } &&
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	test_wait_line ready "^" 20 &&
	kill -TERM $pid &&
	wait $pid &&
	grep -q "^<6>serving " j.err &&
	! grep -v "^<[0-7]>" j.err &&
	: >j2.err &&
	JOURNAL_STREAM=$(stat -c %d:%i j2.err) test_expect_code 1 kbrokerd -d "$TRASH/nonexistent" 2>>j2.err &&
	grep -q "^<3>" j2.err &&
	# a JOURNAL_STREAM inherited by a process whose stderr went elsewhere
	JOURNAL_STREAM=$js test_expect_code 1 kbrokerd -d "$TRASH/nonexistent" 2>j3.err &&
	grep -q "^kbrokerd: " j3.err
'

test_expect_success 'without it, plain "kbrokerd: " lines' '
	test_expect_code 1 kbrokerd -d "$TRASH/nonexistent" 2>err &&
	grep -q "^kbrokerd: log directory" err
'

test_expect_success 'usage and configuration errors exit 2 (no restart loop)' '
	test_expect_code 2 kbrokerd -d "$KLOG_DIR" -s "$TRASH/no-such-secret" 2>err &&
	test_expect_code 2 kbrokerd -d "$KLOG_DIR" --max-connections 0 2>err &&
	test_expect_code 2 kbrokerd -d "$KLOG_DIR" extra-argument 2>err &&
	(unset KLOG_DIR && test_expect_code 2 kbrokerd 2>err)
'

test_expect_success 'the units: notify, socket activation, a template, exit 2 stops restarts' '
	u="$TOP/share" &&
	grep -q "^Type=notify$" "$u/kbrokerd.service" &&
	grep -q "^RestartPreventExitStatus=2$" "$u/kbrokerd.service" &&
	grep -q "^ListenStream=127.0.0.1:7092$" "$u/kbrokerd.socket" &&
	grep -q "^Type=notify$" "$u/kbrokerd@.service" &&
	grep -q "^RestartPreventExitStatus=2$" "$u/kbrokerd@.service" &&
	grep -q "/var/lib/klog/%i" "$u/kbrokerd@.service"
'

if command -v systemd-analyze >/dev/null 2>&1; then
	test_set_prereq ANALYZE
fi

test_expect_success ANALYZE 'systemd-analyze verify accepts the units' '
	mkdir units &&
	for f in kbrokerd.service kbrokerd.socket kbrokerd@.service; do
		sed "s|/usr/local/bin/kbrokerd|$TOP/kbrokerd|" "$TOP/share/$f" >"units/$f" || return 1
	done &&
	(cd units && timeout 60 systemd-analyze verify --man=no ./kbrokerd.service \
		./kbrokerd.socket ./kbrokerd@x.service) >out 2>&1 &&
	test_cmp /dev/null out
'

test_done
