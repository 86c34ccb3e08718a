#!/usr/bin/env bash
# klog benchmark (called at the end of share/bench-remote.sh): broker
# start-to-ready and idle RSS with many partitions.  One topic of
# PARTITIONS partitions is created once through a broker, records are
# produced to it (keyed, so most partitions get a segment), the broker is
# stopped, then restarted ROUNDS times: the time from exec to the readiness
# line (-r FD, port 0), and VmRSS once it is ready and has answered a PING.
# usage: bench-load-parts.sh [PARTITIONS [ROUNDS]]
# KLOG_BENCH_BIN=DIR runs the binaries of another build (e.g. a checkout of main).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${KLOG_BENCH_BIN:-$top}
PATH="$bin:$bin/tests:$top:$top/tests:$PATH"
NP=${1:-10000} ROUNDS=${2:-3}
WORK=${WORK:-$top/bench-data}
D=$WORK/plog
ADDR= BPID=

now() { date +%s%N; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
start_broker() { # -> BPID, ADDR, READY_MS; returns 1 if the broker did not get ready
	local fifo=$WORK/ready.$$ t0 t1
	rm -f "$fifo"; mkfifo "$fifo"
	t0=$(now)
	kbrokerd -d "$D" -l 127.0.0.1:0 -q -r 3 3>"$fifo" >/dev/null 2>>"$WORK/broker-parts.log" &
	BPID=$!
	ADDR=
	read -r ADDR <"$fifo" || true
	t1=$(now)
	rm -f "$fifo"
	READY_MS=$(( (t1 - t0) / 1000000 ))
	[ -n "$ADDR" ]
}
stop_broker() { [ -n "${BPID:-}" ] || return 0; kill -TERM "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; BPID=; }
trap 'stop_broker' EXIT

mkdir -p "$WORK"
rm -rf "$D"; mkdir -p "$D"
: >"$WORK/broker-parts.log"
echo "# $NP partitions: start to ready and idle RSS of kbrokerd (descriptor limit $(ulimit -n))"
if ! start_broker; then
	echo "broker did not start on an empty directory"; exit 1
fi
echo "start to ready on an empty directory (for scale): ${READY_MS} ms, rss $(rss "$BPID") KiB"
if ! ktopic -b "$ADDR" create parts --partitions "$NP" 2>>"$WORK/broker-parts.log" ||
   ! seq 1 "$NP" | sed 's/^/k/; s/$/:v/' | kproduce -b "$ADDR" -K : parts 2>>"$WORK/broker-parts.log"; then
	echo "creating and filling $NP partitions failed: $(tail -n 1 "$WORK/broker-parts.log")"
	stop_broker
	rm -rf "$D"
	exit 0
fi
stop_broker
ms= kb=
for i in $(seq "$ROUNDS"); do
	if ! start_broker; then
		echo "round $i: the broker did not get ready: $(tail -n 1 "$WORK/broker-parts.log")"
		stop_broker
		continue
	fi
	kbclient -b "$ADDR" ping >/dev/null
	r=$(rss "$BPID")
	echo "round $i: start to ready ${READY_MS} ms, idle rss ${r} KiB"
	ms="$ms $READY_MS" kb="$kb $r"
	stop_broker
done
if [ -n "$ms" ]; then
	echo "$ms" | tr ' ' '\n' | awk 'NF { n++; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
		END { printf "broker start to ready, '"$NP"' partitions, %d rounds: %s to %s ms\n", n, min, max }'
	echo "$kb" | tr ' ' '\n' | awk 'NF { n++; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
		END { printf "broker idle rss, '"$NP"' partitions: %.1f to %.1f MB\n", min / 1024, max / 1024 }'
fi
rm -rf "$D"
