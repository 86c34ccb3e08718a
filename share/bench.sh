#!/usr/bin/env bash
# klog benchmark: the shared workload (N records of 100 bytes, one per line,
# from ../shared/bench/src/benchgen.c), embedded produce and consume, each
# next to `cat` moving the same bytes in the same run, plus peak RSS.
# Env: N (default 1000000), WORK (default bench-data), REPS (default 3, the
# median is reported).  Output: "path records_per_sec MB_per_sec ratio_vs_cat
# peak_rss_KiB".  MB = 10^6 bytes of record payload.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$PATH"
N=${N:-1000000}
REPS=${REPS:-3}
WORK=${WORK:-$top/bench-data}
SHARED=${SHARED:-$top/../shared}
mkdir -p "$WORK/bin"
REC=$WORK/records.txt

if [ ! -f "$REC" ] || [ "$(stat -c %s "$REC")" != $((N * 101)) ]; then
	if [ -f "$SHARED/bench/src/benchgen.c" ]; then
		gcc -O2 -o "$WORK/bin/benchgen" "$SHARED/bench/src/benchgen.c"
		"$WORK/bin/benchgen" lines "$N" 100 > "$REC"
	else
		awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%0100d\n", i }' > "$REC"
	fi
fi
PAYLOAD=$((N * 100))

now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# run CMD... REPS times; print median nanoseconds and max peak RSS (KiB)
timeit() {
	local i t0 t1 ts=() rss=0 r
	for i in $(seq "$REPS"); do
		[ -n "${SETUP:-}" ] && eval "$SETUP"
		t0=$(now)
		/usr/bin/time -f %M -o "$WORK/rss" "$@"
		t1=$(now)
		ts+=($((t1 - t0)))
		r=$(tail -n 1 "$WORK/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	echo "$(printf '%s\n' "${ts[@]}" | median) $rss"
}
report() { # name ns rss cat_ns
	awk -v n="$1" -v t="$2" -v r="$3" -v c="$4" -v N="$N" -v B="$PAYLOAD" 'BEGIN {
		s = t / 1e9; printf "%-24s %10.0f rec/s %8.1f MB/s  %5.2fx cat  rss %6d KiB\n",
		n, N / s, B / s / 1e6, c / t, r }'
}

D=$WORK/log
echo "# klog bench $(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(hostname) cpus=$(nproc) N=$N reps=$REPS (median)"
echo "# ratio = cat's time / klog's time on the same bytes (1.00 = as fast as cat)"

# produce: file -> log, against cat file -> file on the same filesystem
read -r cat_ns cat_rss < <(SETUP="rm -f '$WORK/cat.out'" timeit sh -c "cat '$REC' > '$WORK/cat.out'")
report "cat file>file" "$cat_ns" "$cat_rss" "$cat_ns"
for z in none lz4 zstd gzip; do
	read -r ns rss < <(SETUP="rm -rf '$D'; ktopic -d '$D' create bench >/dev/null 2>&1 || ktopic -d '$D' create bench" \
		timeit sh -c "kproduce -d '$D' -z $z bench < '$REC'" 2>/dev/null) || continue
	report "produce -z $z" "$ns" "$rss" "$cat_ns"
	[ "$z" = none ] && { rm -rf "$WORK/log.none"; cp -r "$D" "$WORK/log.none"; }
done
rm -rf "$D"; mv "$WORK/log.none" "$D"

# consume: log -> pipe, against cat file -> pipe
read -r cat_ns cat_rss < <(timeit sh -c "cat '$WORK/cat.out' | cat > /dev/null")
report "cat file|cat" "$cat_ns" "$cat_rss" "$cat_ns"
read -r ns rss < <(timeit sh -c "kconsume -d '$D' -e bench | cat > /dev/null")
report "consume" "$ns" "$rss" "$cat_ns"
read -r ns rss < <(timeit sh -c "kconsume -d '$D' -e -f '%o %k %s\n' bench | cat > /dev/null")
report "consume -f '%o %k %s'" "$ns" "$rss" "$cat_ns"
kconsume -d "$D" -e bench | cmp - "$REC" && echo "# consumed bytes identical to the input"
[ -x "$top/share/bench-groups.sh" ] && "$top/share/bench-groups.sh" "$REC" "$N"

[ -x "$top/share/bench-remote.sh" ] && "$top/share/bench-remote.sh" "$REC" "$N"
[ -x "$top/share/bench-compact.sh" ] && "$top/share/bench-compact.sh" "$REC" "$N"
[ -x "$top/share/bench-repl.sh" ] && { "$top/share/bench-repl.sh" "$REC" "$N" || echo "# bench-repl.sh failed"; }
rm -f "$WORK/cat.out" "$WORK/rss"
