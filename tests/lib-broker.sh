# klog - what the kbrokerd scenario tests share; source after lib.sh. MIT licence.
#
# PORT, ADDR (127.0.0.1:PORT) and KLOG_BROKERS for kbclient; start_broker,
# stop_broker, talk (a raw protocol conversation) and alive.

PORT=$(test_port)
ADDR=127.0.0.1:$PORT
export KLOG_BROKERS=$ADDR

# start_broker NAME [ARGS...]: start kbrokerd on $KLOG_DIR, wait for its
# readiness fd; sets ${NAME}_pid; stderr in NAME.err
start_broker() {
	sb_name=$1
	shift
	test_fifo "$sb_name.ready" &&
	{ kbrokerd -d "$KLOG_DIR" -l "$ADDR" -r 3 "$@" 3>"$sb_name.ready" 2>"$sb_name.err" & } &&
	eval "${sb_name}_pid=$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	test_wait_line "$sb_name.ready" "^" 20
}

# stop_broker NAME: SIGTERM, and wait for the exit status
stop_broker() {
	eval "sb_pid=\$${1}_pid" &&
	kill -TERM $sb_pid &&
	wait $sb_pid
}

# talk: send stdin on one connection, print what comes back until the broker closes
talk() {
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		cat >&3 && timeout 10 cat <&3' talk "$PORT"
}

# alive: the broker still answers a new connection
alive() {
	kbclient ping >pong &&
	echo pong >pong.expect &&
	test_cmp pong.expect pong
}
