#!/usr/bin/env bash
# klog load benchmark (called at the end of share/bench-remote.sh): broker RSS
# before, during and after a burst of BURST_N clients (default 40) that each
# announce a BURST_SIZE payload (default 16 MiB) and send BURST_SENT of it
# (default half), while one other client stays connected, on a broker that
# has seen one big payload before; "after" is the RSS once the burst's
# connections are gone (waiting at most 3 s for it to come near idle).
# usage: bench-load-mem.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$top/tests:$PATH"
WORK=${WORK:-$top/bench-data}
LISTEN=${BENCH_LISTEN:-127.0.0.1:0}
N=${BURST_N:-40} SIZE=${BURST_SIZE:-16777216}
SENT=${BURST_SENT:-$((SIZE / 2))}
D=$WORK/mlog
ADDR= BPID= HPID= CPID=

now() { date +%s%N; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
conns() { kbclient -b "$ADDR" stats | awk '$1 == "klog_connections" { print $2 }'; }
start_broker() { # dir -> sets BPID, ADDR (the port the kernel picked)
	local fifo=$WORK/ready
	rm -f "$fifo"; mkfifo "$fifo"
	kbrokerd -d "$1" -l "$LISTEN" -q -r 3 3>"$fifo" >/dev/null 2>>"$WORK/broker.log" &
	BPID=$!
	read -r ADDR <"$fifo"
	rm -f "$fifo"
}
cleanup() {
	exec 5>&- 6>&- || true
	for p in $CPID $HPID; do kill "$p" 2>/dev/null || true; done
	if [ -n "$BPID" ]; then kill -TERM "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; fi
	rm -rf "$D" "$WORK/burst.ctl" "$WORK/hold.ctl" "$WORK/burst.out" "$WORK/hold.out"
}
trap cleanup EXIT

mkdir -p "$WORK"
rm -rf "$D"; mkdir -p "$D"
start_broker "$D"
idle=$(rss "$BPID")
# a broker that has seen a big payload before (as any busy one has: glibc
# then serves big buffers from its heap, not from their own mappings)
echo | kbclient -b "$ADDR" burst 1 "$SIZE" >/dev/null
# the burst: N connections hold SENT bytes each of an announced SIZE payload
rm -f "$WORK/burst.ctl"; mkfifo "$WORK/burst.ctl"
kbclient -b "$ADDR" burst "$N" "$SIZE" "$SENT" <"$WORK/burst.ctl" >"$WORK/burst.out" &
CPID=$!
exec 5>"$WORK/burst.ctl"
until grep -q '^sent' "$WORK/burst.out"; do kill -0 "$CPID" || exit 1; sleep 0.02; done
# what is sent is in the broker's buffers once its RSS stops growing
prev=0 during=$(rss "$BPID")
while [ "$during" -gt "$prev" ]; do prev=$during; sleep 0.1; during=$(rss "$BPID"); done
# a client that comes meanwhile and stays
rm -f "$WORK/hold.ctl"; mkfifo "$WORK/hold.ctl"
kbclient -b "$ADDR" hold 1 <"$WORK/hold.ctl" >"$WORK/hold.out" 5>&- &
HPID=$!
exec 6>"$WORK/hold.ctl"
until grep -q '^ready' "$WORK/hold.out"; do kill -0 "$HPID" || exit 1; sleep 0.02; done
# the burst ends
exec 5>&-
wait "$CPID"; CPID=
t0=$(now)
until [ "$(conns)" -le 2 ]; do sleep 0.02; done
while after=$(rss "$BPID") && [ "$after" -ge $((idle + 8192)) ] && [ $(( ($(now) - t0) / 1000000 )) -lt 3000 ]; do
	sleep 0.1
done
ms=$(( ($(now) - t0) / 1000000 ))
echo "broker rss with a burst of $N clients announcing $((SIZE >> 20)) MiB payloads ($((SENT >> 20)) MiB sent each):" \
	"idle ${idle} KiB, during ${during} KiB, after ${after} KiB (${ms} ms after they closed)"
