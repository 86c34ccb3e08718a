#!/bin/sh
# klog - power loss under kbrokerd --fsync always: acknowledged records survive. MIT licence.

test_description='power loss at random moments: every acknowledged record survives once, the log reopens'
. "$(dirname "$0")/lib.sh"

# Each round: a fresh log directory (two partitions, small segments so that
# rolls are frequent; the topic made by ktopic before the baseline or
# through the broker after it), a kbrokerd --fsync always under tests/libfault.so
# with the power-loss shadow (tests/fault.c), producers printing every
# acknowledged record, SIGKILL once producer 0 has a random number of
# acknowledgements, then kpowercut builds what a power loss at that
# instant leaves (drop, partial or garbage tails) and a plain kbrokerd
# serves the image.  Every acknowledged record must be there exactly once,
# offsets contiguous.
#
# KLOG_POWERLOSS_ROUNDS (default 12), KLOG_POWERLOSS_SEED (the first
# round's seed; round R uses SEED+R).  A failing round names its seed;
# KLOG_POWERLOSS_SEED=S KLOG_POWERLOSS_ROUNDS=1 replays its choices (the
# moment of the kill relative to the broker's syncs still varies).

SHIM=$TEST_DIRECTORY/libfault.so
ASAN_PRELOAD="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
ROUNDS=${KLOG_POWERLOSS_ROUNDS:-12}
BASE=${KLOG_POWERLOSS_SEED:-$((($$ * 7919 + $(date +%s)) % 999983 + 1))}

test -f "$SHIM" || test_skip_all "tests/libfault.so is not built (make check builds it)"
env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" true 2>"$TRASH/preload.err"
if grep -q "cannot be preloaded" "$TRASH/preload.err"; then
	test_skip_all "tests/libfault.so cannot be preloaded: $(cat "$TRASH/preload.err")"
fi
command -v kpowercut >/dev/null && command -v kbclient >/dev/null ||
	test_skip_all "tests/kpowercut or tests/kbclient is not built"

seed=1
random() {
	seed=$(((seed * 1103515245 + 12345) % 2147483648))
	echo $((seed / 65536 % $1))
}

# pl_start NAME DIR [SHADOW]: a kbrokerd on DIR, under the shim with SHADOW
# (and --fsync $POLICY) if given; sets pl_pid and pl_addr, stderr in NAME.err
pl_start() {
	test_fifo "$1.ready" &&
	if test -n "$3"; then
		{ env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_SHADOW="$3" \
			KLOG_FAULT_ROOT="$2" kbrokerd -d "$2" -l 127.0.0.1:0 -r 3 -q --fsync $POLICY \
			3>"$1.ready" 2>"$1.err" </dev/null & }
	else
		{ kbrokerd -d "$2" -l 127.0.0.1:0 -r 3 3>"$1.ready" 2>"$1.err" </dev/null & }
	fi &&
	pl_pid=$! &&
	test_atexit "kill -9 $pl_pid 2>/dev/null" &&
	pl_addr=$(timeout 30 head -n 1 "$1.ready") &&
	case "$pl_addr" in
	*:[0-9]*) ;;
	*) echo "kbrokerd on $2 did not start: $(cat "$1.err")" >&2; return 1 ;;
	esac
}

# values FILE...: the record values of kbclient consume output, unpadded
values() {
	awk '{ v = $2; sub(/\.+$/, "", v); print v }' "$@"
}

: >"$TRASH/totals"
POLICY=always
MODE=
SEG=

# round NAME SEED: one power loss; the report in report.NAME, the counts
# in totals (acknowledged, lost, 1 if the log did not reopen), a failure on
# stderr; the directory rNAME is kept when the round fails
round() {
	s=$2 &&
	seed=$s &&
	d=$TRASH/r$1 &&
	mkdir "$d" &&
	cd "$d" &&
	seg=${SEG:-$((4096 << $(random 5)))} &&
	m=$(random 3) &&
	mode=${MODE:-$(echo "drop partial garbage" | cut -d" " -f$((m + 1)))} &&
	np=$((2 + $(random 3))) &&
	kill_at=$((1 + $(random 600))) &&
	how=$(random 2) &&
	if test $how = 0; then
		ktopic -d "$d/log" create t -p 2 --config segment.bytes=$seg &&
		how="topic made by ktopic before"
	else
		mkdir "$d/log" &&
		how="topic made through the broker"
	fi &&
	kpowercut baseline "$d/log" "$d/shadow" &&
	pl_start live "$d/log" "$d/shadow" &&
	live_pid=$pl_pid &&
	case $how in
	*broker) kbclient -b "$pl_addr" create t 2 segment.bytes=$seg ;;
	esac &&
	pids= &&
	j=0 &&
	while test $j -lt $np; do
		kbclient -b "$pl_addr" produce t $((j % 2)) 10000000 -n $((1 + $(random 20))) \
			-w $((1 + $(random 8))) -r $(random 300) -P "r$1p$j" >acked.$j 2>perr.$j &
		pids="$pids $!"
		j=$((j + 1))
	done &&
	what="seed $s: --fsync $POLICY, segment.bytes=$seg, $how, $np producers, kill after $kill_at acks of p0, image $mode" &&
	echo "round $1, $what" >"$TRASH/report.$1" &&
	if ! test_wait_line acked.0 "^r$1p0-$kill_at\$" 60; then
		echo "round $1 ($what): producer 0 never got $kill_at acks: $(cat perr.0 live.err)" >&2
		kill -9 $live_pid $pids 2>/dev/null
		return 1
	fi &&
	if ! kill -0 $live_pid 2>/dev/null; then
		echo "round $1 ($what): kbrokerd under the shim died: $(cat live.err)" >&2
		return 1
	fi &&
	kill -9 $live_pid &&
	{ wait $live_pid; test $? = 137; } 2>/dev/null &&
	for pid in $pids; do
		wait $pid || :
	done &&
	kpowercut image "$d/log" "$d/shadow" "$d/img" --mode $mode --seed $s -v 2>cut || {
		echo "round $1 ($what): kpowercut failed: $(cat cut)" >&2
		return 1
	}
	cat acked.* | sort >acked &&
	acks=$(wc -l <acked | tr -d " ") &&
	echo "  $(tail -n 1 cut | sed "s/^kpowercut: image of .* (.*): //")" >>"$TRASH/report.$1" &&
	if ! pl_start img "$d/img"; then
		echo "$acks 0 1" >>"$TRASH/totals"
		echo "  the log does not reopen: $(cat img.err)" >>"$TRASH/report.$1"
		echo "round $1 ($what): kbrokerd does not start on the image: $(cat img.err)" >&2
		echo "replay: KLOG_POWERLOSS_SEED=$s KLOG_POWERLOSS_ROUNDS=1" >&2
		return 1
	fi &&
	kbclient -b "$pl_addr" consume t 0 >got.0 &&
	kbclient -b "$pl_addr" consume t 1 >got.1 &&
	kill -TERM $pl_pid &&
	wait $pl_pid &&
	values got.0 got.1 | sort >all &&
	uniq -d all >dups &&
	comm -23 acked all >missing &&
	: >gaps &&
	for p in 0 1; do
		awk -v p=$p '$1 != NR - 1 { print "partition " p ": offset " $1 " at line " NR; exit }' \
			got.$p >>gaps || return 1
	done &&
	lost=$(wc -l <missing | tr -d " ") &&
	ndup=$(wc -l <dups | tr -d " ") &&
	echo "$acks $lost 0" >>"$TRASH/totals" &&
	echo "  $acks acknowledged, $lost lost$(test $lost = 0 || echo " ($(head -n 3 missing | tr "\n" " ")...)"), $ndup duplicated, $(cat got.0 got.1 | wc -l | tr -d " ") records read back" >>"$TRASH/report.$1" &&
	if test $lost != 0 || test $ndup != 0 || test -s gaps; then
		{
			echo "round $1 ($what):"
			test $lost = 0 || echo "  $lost acknowledged records lost, e.g. $(head -n 5 missing | tr "\n" " ")"
			test $ndup = 0 || echo "  $ndup records twice, e.g. $(head -n 5 dups | tr "\n" " ")"
			test -s gaps && cat gaps
			echo "  what the power loss took:"
			sed "s/^/    /" cut
			echo "  replay: KLOG_POWERLOSS_SEED=$s KLOG_POWERLOSS_ROUNDS=1"
		} >&2
		return 1
	fi &&
	cd "$TRASH" &&
	rm -rf "$d"
}

# the harness finds losses: under --fsync never (and segments too large to
# roll, which would sync) acknowledged records are only in the page cache,
# and a power loss takes every one
test_expect_success 'control: --fsync never loses acknowledged records in a power loss' '
	POLICY=never MODE=drop SEG=1073741824 &&
	test_when_finished "POLICY=always MODE= SEG=" &&
	test_must_fail round never $BASE 2>"$TRASH/control.err" &&
	test -s "$TRASH/rnever/acked" &&
	test_cmp "$TRASH/rnever/acked" "$TRASH/rnever/missing" &&
	grep "acknowledged records lost" "$TRASH/control.err" &&
	grep "replay: KLOG_POWERLOSS_SEED=$BASE " "$TRASH/control.err" &&
	rm -rf "$TRASH/rnever" &&
	: >"$TRASH/totals"
'
test -f "$TRASH/report.never" && sed "s/^/# /" "$TRASH/report.never"

r=0
while test $r -lt $ROUNDS; do
	test_expect_success "power loss $r (seed $((BASE + r)))" "round $r $((BASE + r))"
	test -f "$TRASH/report.$r" && sed "s/^/# /" "$TRASH/report.$r"
	r=$((r + 1))
done

awk '{ a += $1; l += $2; n++; if ($2 > 0 || $3 > 0) bad++ }
	END { printf "# %d images: %d acknowledged records, %d lost; %d images lost some or did not reopen\n",
		n, a, l, bad }' "$TRASH/totals"

test_done
