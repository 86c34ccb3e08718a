# klog - what the kbrokerd scenario tests share; source after lib.sh. MIT licence.
#
# start_broker, stop_broker, talk (a raw protocol conversation), alive, and
# metric and wait_metric (STATS values).
# Brokers listen on a port the kernel picks (-l 127.0.0.1:0): start_broker
# reads the bound address from the readiness fd and sets PORT, ADDR and
# KLOG_BROKERS (for kbclient and the tools) to it, so two copies of the
# suite never meet.

KLOG_BROKERS=
export KLOG_BROKERS

# start_broker NAME [ARGS...]: start kbrokerd on $KLOG_DIR, wait for its
# readiness line; sets ${NAME}_pid, ${NAME}_addr, PORT, ADDR, KLOG_BROKERS;
# stderr in NAME.err
start_broker() {
	sb_name=$1
	shift
	test_fifo "$sb_name.ready" &&
	{ kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 -r 3 "$@" 3>"$sb_name.ready" 2>"$sb_name.err" & } &&
	eval "${sb_name}_pid=$!" &&
	test_atexit "broker_gone_ $!" &&
	sb_addr=$(timeout 30 head -n 1 "$sb_name.ready") &&
	case "$sb_addr" in
	*:[0-9]*) ;;
	*) echo "start_broker: $sb_name gave no address: $(cat "$sb_name.err")" >&2; return 1 ;;
	esac &&
	eval "${sb_name}_addr=\$sb_addr" &&
	ADDR=$sb_addr &&
	PORT=${sb_addr##*:} &&
	KLOG_BROKERS=$ADDR &&
	export KLOG_BROKERS
}

# at exit: SIGTERM, and wait (10 s at most, then SIGKILL) until it is gone,
# so that no broker outlives the trash directory it writes in
broker_gone_() {
	kill -TERM "$1" 2>/dev/null || return 0
	bg_n=0
	while kill -0 "$1" 2>/dev/null && test $bg_n -lt 200; do
		sleep 0.05
		bg_n=$((bg_n + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
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

# metric NAME: a value from STATS (the whole first word of its line, labels and all)
metric() {
	kbclient stats | awk -v n="$1" '$1 == n { print $2 }'
}

# wait_metric NAME OP VALUE: poll STATS until the test holds (at most ~10 s)
metric_holds_() {
	wm_v=$(metric "$1")
	test -n "$wm_v" && test "$wm_v" "$2" "$3"
}

wait_metric() {
	test_poll metric_holds_ "$1" "$2" "$3" || {
		echo "wait_metric: $1 is '$wm_v', want $2 $3" >&2
		return 1
	}
}
