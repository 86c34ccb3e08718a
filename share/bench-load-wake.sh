#!/usr/bin/env bash
# klog benchmark (called by share/bench-remote.sh): PING latency while a
# broker wakes 30,000 long-poll fetches.  CONNS connections each park
# PER_CONN fetches at the end of one partition; one produce wakes them all
# and a PING on a new connection is timed at once (connect included); over
# ROUNDS rounds, min/median/max, and how long until every fetch was answered.
# usage: bench-load-wake.sh [CONNS [PER_CONN [ROUNDS]]]   (the built tree on PATH)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$top/tests:$PATH"
CONNS=${1:-30} PER=${2:-1000} ROUNDS=${3:-5}
WORK=${WORK:-$top/bench-data}
D=$WORK/wlog
TOTAL=$((CONNS * PER))
mkdir -p "$WORK"

now() { date +%s%N; }
start_broker() { # dir -> sets BPID, ADDR
	local fifo=$WORK/ready-wake
	rm -f "$fifo"; mkfifo "$fifo"
	kbrokerd -d "$1" -l 127.0.0.1:0 -q -r 3 3>"$fifo" >/dev/null 2>>"$WORK/broker.log" &
	BPID=$!
	read -r ADDR <"$fifo"
	rm -f "$fifo"
}
stop_broker() { [ -n "${BPID:-}" ] || return 0; kill -TERM "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; BPID=; }
PARK=
trap 'stop_broker; [ -z "$PARK" ] || kill "$PARK" 2>/dev/null || true' EXIT
waiting() { kbclient -b "$ADDR" stats | awk '$1 == "klog_fetches_waiting" { print $2 }'; }

rm -rf "$D"; mkdir -p "$D"
ktopic -d "$D" create wake
start_broker "$D"
pings= alls=
for r in $(seq "$ROUNDS"); do
	end=$(kbclient -b "$ADDR" offsets wake 0 | cut -d' ' -f2)
	kbclient -b "$ADDR" park wake 0 "$PER" "$CONNS" -o "$end" -W 120000 >"$WORK/park.out" &
	PARK=$!
	i=0
	until [ "$(waiting)" = "$TOTAL" ]; do
		i=$((i + 1))
		if [ $i -gt 1200 ]; then echo "bench-load-wake: fetches did not park ($(waiting) of $TOTAL)" >&2; exit 1; fi
		sleep 0.05
	done
	t0=$(now)
	pings="$pings $(kbclient -b "$ADDR" wake-ping wake 0)"
	wait "$PARK"
	PARK=
	t1=$(now)
	alls="$alls $(( (t1 - t0) / 1000000 ))"
	grep -q "^data $TOTAL busy 0 other 0\$" "$WORK/park.out" ||
		{ echo "bench-load-wake: round $r: $(tail -1 "$WORK/park.out")" >&2; exit 1; }
done
stop_broker
rm -rf "$D" "$WORK/park.out"
summary() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
	printf "min %s median %s max %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
echo "ping while waking $TOTAL fetches ($CONNS connections x $PER), $ROUNDS rounds: $(echo "$pings" | summary) ms"
echo "all $TOTAL fetches answered after the produce: $(echo "$alls" | summary) ms"
