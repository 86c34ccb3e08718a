#!/usr/bin/env bash
# klog remote benchmark (called by share/bench.sh): the same workload through
# a kbrokerd on loopback, one producer; then end-to-end latency at 10,000
# records/s, broker start-to-ready with 1,000 partitions, broker RSS idle and
# under load, and the peers of ../shared/bench/peers.sh (Redis Streams, NATS
# JetStream) in the same run (BENCH_PEERS=0 skips them).
# usage: bench-remote.sh RECORDS_FILE N
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$top/tests:$PATH"
REC=$1 N=$2
WORK=${WORK:-$top/bench-data}
SHARED=${SHARED:-$top/../shared}
LISTEN=${BENCH_LISTEN:-127.0.0.1:0}
ADDR=
D=$WORK/rlog
PAYLOAD=$((N * 100))

now() { date +%s%N; }
rate() { awk -v n="$N" -v b="$PAYLOAD" -v t="$2" -v c="$3" -v name="$1" 'BEGIN {
	s = t / 1e9; printf "%-24s %10.0f rec/s %8.1f MB/s  %5.2fx cat\n", name, n / s, b / s / 1e6, c / t }'; }
rss() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' "/proc/$1/status"; }
start_broker() { # dir -> sets BPID, ADDR (the port the kernel picked) and READY_MS
	local fifo=$WORK/ready t0 t1
	rm -f "$fifo"; mkfifo "$fifo"
	t0=$(now)
	kbrokerd -d "$1" -l "$LISTEN" ${start_broker_opts:-} -q -r 3 3>"$fifo" >/dev/null 2>>"$WORK/broker.log" &
	BPID=$!
	read -r ADDR <"$fifo"
	t1=$(now)
	rm -f "$fifo"
	READY_MS=$(( (t1 - t0) / 1000000 ))
}
stop_broker() { [ -n "${BPID:-}" ] || return 0; kill -TERM "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; BPID=; }
trap 'stop_broker' EXIT

t0=$(now); cat "$REC" > "$WORK/cat.out"; t1=$(now); cat_ns=$((t1 - t0))
rm -rf "$D"; mkdir -p "$D"
start_broker "$D"
echo "# remote: kbrokerd on $ADDR, fsync policy always (group commit), acks all"
read -r idle_rss _ < <(rss "$BPID")
ktopic -b "$ADDR" create bench
t0=$(now); kproduce -b "$ADDR" bench < "$REC"; t1=$(now)
rate "remote produce" $((t1 - t0)) "$cat_ns"
t0=$(now); cat "$WORK/cat.out" | cat > /dev/null; t1=$(now); cat_ns=$((t1 - t0))
t0=$(now); kconsume -b "$ADDR" -e bench | cat > /dev/null; t1=$(now)
rate "remote consume" $((t1 - t0)) "$cat_ns"
kconsume -b "$ADDR" -e bench | cmp - "$REC" && echo "# remote consumed bytes identical to the input"
read -r load_rss load_hwm < <(rss "$BPID")
echo "broker rss idle ${idle_rss} KiB, after load ${load_rss} KiB, peak ${load_hwm} KiB"
ktopic -b "$ADDR" create lat
# latency_runs: LAT_RUNS runs (default 3), each on its own line, then the range of p99
latency_runs() {
	local i out p99s=
	for i in $(seq "${LAT_RUNS:-3}"); do
		out=$(kbclient -b "$ADDR" latency lat 0 10000 5)
		echo "$out"
		p99s="$p99s $(echo "$out" | sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p')"
	done
	echo "$p99s" | tr ' ' '\n' | awk 'NF { n++; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
		END { printf "latency p99 over %d runs: %s to %s ms\n", n, min, max }'
}
echo "# end-to-end latency, one-record produces at 10000/s for 5 s, a long-polling follower;"
echo "# --fsync always: the follower sees a record once it is durable (acknowledged)"
latency_runs
stop_broker
echo "# the same with --fsync interval=1000 (acknowledged and visible once written; fsync every second)"
start_broker_opts="--fsync interval=1000"
start_broker "$D"
latency_runs
stop_broker
start_broker_opts=

rm -rf "$D"; mkdir -p "$D"
ktopic -d "$D" create p1000 --partitions 1000
seq 1 100000 | kproduce -d "$D" p1000
start_broker "$D"
echo "broker start to ready, 1000 partitions (100000 records): ${READY_MS} ms"
stop_broker
rm -rf "$D" "$WORK/cat.out"

if [ "${BENCH_PEERS:-1}" != 0 ] && [ -f "$SHARED/bench/peers.sh" ]; then
	echo "# peers, same workload, same run: $SHARED/bench/peers.sh (redis, nats)"
	if ! (unset PEERS; WORK=$WORK/peers N=$N bash "$SHARED/bench/peers.sh" >"$WORK/peers.out" 2>&1); then
		echo "# peers.sh failed:"; tail -3 "$WORK/peers.out"
	fi
	grep -v '^#' "$WORK/peers.out" || true
fi
WORK=$WORK "$top/share/bench-load-wake.sh"
WORK=$WORK "$top/share/bench-load-parts.sh" 10000 3
WORK=$WORK bash "$top/share/bench-load-mem.sh"   # RSS before, during, after a burst of big payloads
