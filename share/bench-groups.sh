#!/usr/bin/env bash
# klog group benchmark (called by share/bench.sh): the shared workload in a
# topic of 6 partitions read by a consumer group of three members (kconsume
# -g -e, started together) against one plain consumer and against cat; the
# commit rate (a commit after every record); and the time from a member's
# SIGKILL to its partitions being consumed again by the other member.
# Embedded (a log directory) and through a kbrokerd on loopback.
# usage: bench-groups.sh RECORDS_FILE N
# Env: WORK (default bench-data), REPS (default 3; medians), COMMITS (records
# committed one by one for the commit rate, default 2000).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$PATH"
REC=$1 N=$2
WORK=${WORK:-$top/bench-data}
REPS=${REPS:-3}
COMMITS=${COMMITS:-2000}
PAYLOAD=$((N * 100))
D=$WORK/glog
BPID=

now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rate() { awk -v n="$N" -v b="$PAYLOAD" -v t="$2" -v c="$3" -v name="$1" -v x="${4:-}" 'BEGIN {
	s = t / 1e9; printf "%-30s %10.0f rec/s %8.1f MB/s  %5.2fx cat%s\n", name, n / s, b / s / 1e6, c / t, x }'; }
stop_broker() { [ -n "$BPID" ] || return 0; kill -TERM "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; BPID=; }
cleanup() { stop_broker; }
trap cleanup EXIT

# held FILE: the partitions a member's -v talk says it holds now
held() {
	awk '{ if (!match($0, /: (assigned|released|lost) [^ ]+ [0-9]+/)) next
		split(substr($0, RSTART + 2, RLENGTH - 2), w, " ")
		if (w[1] == "assigned") h[w[3]] = 1; else delete h[w[3]] }
		END { for (p in h) print p }' "$1" | sort -n
}
# wait_held N FILE...: until the members hold N partitions together, each some (10 s at most)
wait_held() {
	local n=$1 i f total ok
	shift
	for i in $(seq 1000); do
		total=0 ok=1
		for f in "$@"; do
			c=$(held "$f" | wc -l)
			[ "$c" -gt 0 ] || ok=0
			total=$((total + c))
		done
		[ $ok = 1 ] && [ "$total" = "$n" ] && return 0
		sleep 0.01
	done
	echo "# members never settled: $*" >&2
	return 1
}

# bench MODE LOGOPT: one set of figures; LOGOPT is -d DIR or -b ADDR
bench() {
	local mode=$1 lo=("${@:2}") i ns ts=() cat_ns shares g t0 t1 c pids a b pa m members
	ktopic "${lo[@]}" create gbench -p 6 >/dev/null
	kproduce "${lo[@]}" gbench <"$REC"
	ktopic "${lo[@]}" create fo -p 6 >/dev/null
	seq 1 6000 | awk '{ print $1 "\t" $1 }' | kproduce "${lo[@]}" -K '\t' fo

	ts=()
	for i in $(seq "$REPS"); do
		t0=$(now); cat "$REC" | cat >/dev/null; t1=$(now); ts+=($((t1 - t0)))
	done
	cat_ns=$(printf '%s\n' "${ts[@]}" | median)

	ts=()
	for i in $(seq "$REPS"); do
		t0=$(now); kconsume "${lo[@]}" -e gbench | cat >/dev/null; t1=$(now); ts+=($((t1 - t0)))
	done
	ns=$(printf '%s\n' "${ts[@]}" | median)
	rate "$mode plain consumer" "$ns" "$cat_ns"

	for members in 1 3; do
		ts=()
		for i in $(seq "$REPS"); do
			g=g$members.$i.$RANDOM
			t0=$(now)
			pids=()
			for m in $(seq "$members"); do
				kconsume "${lo[@]}" -g "$g" -e gbench | wc -l >"$WORK/share.$m" &
				pids+=($!)
			done
			wait "${pids[@]}"
			t1=$(now)
			ts+=($((t1 - t0)))
			shares=$(cat $(seq -f "$WORK/share.%g" "$members") | paste -sd/)
			c=$(echo "$shares" | tr / '\n' | awk '{ s += $1 } END { print s }')
			[ "$c" = "$N" ] || echo "# $mode group of $members read $c records, not $N" >&2
		done
		ns=$(printf '%s\n' "${ts[@]}" | median)
		rate "$mode group, $members member(s)" "$ns" "$cat_ns" "  (shares $shares)"
	done

	# commits: one after every record (--commit-interval 0), each durable
	t0=$(now)
	c=$(kconsume "${lo[@]}" -g "commits.$RANDOM" -v -c "$COMMITS" --commit-interval 0 -f x gbench \
		2>&1 >/dev/null | grep -c ': committed ')
	t1=$(now)
	awk -v c="$c" -v t=$((t1 - t0)) -v m="$mode" 'BEGIN {
		printf "%-30s %10.0f commits/s (%d commits, one per record)\n", m " commit rate", c / (t / 1e9), c }'

	# failover, on a small topic: A holds some partitions and has committed
	# nothing for them, B the others; A is killed; time until B prints a
	# record of one of A's (from the beginning: no commit)
	ts=()
	for i in $(seq "$REPS"); do
		g=fo.$i.$RANDOM
		kconsume "${lo[@]}" -g "$g" -v -u --commit-interval 600000 -f '%p\n' fo \
			>/dev/null 2>"$WORK/a.err" &
		a=$!
		disown "$a"     # killed below: no "Killed" line from bash
		wait_held 6 "$WORK/a.err" || return 1
		: >"$WORK/b.out"
		kconsume "${lo[@]}" -g "$g" -v -u --commit-interval 600000 -f '%p\n' fo \
			>"$WORK/b.out" 2>"$WORK/b.err" &
		b=$!
		wait_held 6 "$WORK/a.err" "$WORK/b.err" || return 1
		pa=$(held "$WORK/a.err" | paste -sd'|')
		t0=$EPOCHREALTIME
		kill -9 "$a"
		until grep -qxE "$pa" "$WORK/b.out"; do :; done
		t1=$EPOCHREALTIME
		ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1e6 }')")
		kill -TERM "$b"; wait "$b" 2>/dev/null || true
	done
	printf '%-30s %10.1f ms (median of %d; runs %s us)\n' "$mode SIGKILL to re-consumed" \
		"$(printf '%s\n' "${ts[@]}" | median | awk '{ print $1 / 1000 }')" "$REPS" "$(echo "${ts[@]}" | tr ' ' /)"
	return 0
}

echo "# groups: topic of 6 partitions, N=$N; a group of 1 or 3 kconsume -g -e started together"
rm -rf "$D"
mkdir -p "$D"
bench embedded -d "$D" || echo "# embedded group bench failed"
rm -rf "$D"
mkdir -p "$D"
fifo=$WORK/gready
rm -f "$fifo"; mkfifo "$fifo"
kbrokerd -d "$D" -l 127.0.0.1:0 -q -r 3 3>"$fifo" >/dev/null 2>>"$WORK/broker.log" &
BPID=$!
read -r ADDR <"$fifo"
rm -f "$fifo"
bench broker -b "$ADDR" || echo "# broker group bench failed"
stop_broker
rm -rf "$D" "$WORK"/share.* "$WORK"/a.err "$WORK"/b.err "$WORK"/b.out
