#!/usr/bin/env bash
# klog benchmark: log compaction (ktopic compact) on the shared workload.
# Usage: bench-compact.sh [RECORDS_FILE N]  (from bench.sh; alone it makes
# N 100-byte lines).  Each record gets a key, one of KEYS (default N/10),
# so nine in ten records are superseded; the log (segment.bytes 4 MiB,
# written uncompacted) is then compacted from a fresh copy, REPS times.
# Output: "name MB/s (log bytes read per second) peak_rss_KiB passes
# kept/total" for the default map (one pass) and for a map of 64K keys
# (several passes: memory stays bounded, time grows).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$PATH"
N=${2:-${N:-1000000}}
REPS=${REPS:-3}
WORK=${WORK:-$top/bench-data}
mkdir -p "$WORK"
REC=${1:-$WORK/records.txt}
if [ ! -f "$REC" ]; then
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%0100d\n", i }' > "$REC"
fi
KEYS=${KEYS:-$((N / 10))}
D=$WORK/compact-src
C=$WORK/compact-run

rm -rf "$D" "$C"
ktopic -d "$D" create cb -c segment.bytes=4194304 >/dev/null
awk -v k="$KEYS" '{ printf "key%d:%s\n", NR % k, $0 }' "$REC" |
	kproduce -d "$D" -K : cb
ktopic -d "$D" alter cb -c cleanup.policy=compact
bytes=$(du -sb "$D/cb-0" | cut -f1)

now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() { # name [ktopic compact options]
	local name=$1 i t0 t1 ts=() rss=0 r passes
	shift
	for i in $(seq "$REPS"); do
		rm -rf "$C"; cp -r "$D" "$C"; sync
		t0=$(now)
		/usr/bin/time -f %M -o "$WORK/rss" ktopic -d "$C" compact -s "$@" cb > "$WORK/cstats"
		t1=$(now)
		ts+=($((t1 - t0)))
		r=$(tail -n 1 "$WORK/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	passes=$(sed -n 's/.*passes=\([0-9]*\).*/\1/p' "$WORK/cstats")
	kept=$(kconsume -d "$C" -e cb | wc -l)
	printf '%s\n' "${ts[@]}" | median | awk -v n="$name" -v b="$bytes" -v r="$rss" \
	    -v p="$passes" -v k="$kept" -v N="$N" '{
		s = $1 / 1e9; printf "%-24s %8.1f MB/s  rss %6d KiB  passes %d  kept %d/%d\n",
		n, b / s / 1e6, r, p, k, N }'
}
echo "# compaction: $N records, $KEYS keys, log $((bytes / 1000000)) MB, reps=$REPS (median)"
run "compact (16 MiB map)"
run "compact --map-entries 64K" --map-entries 65536
rm -rf "$D" "$C" "$WORK/rss" "$WORK/cstats"
