#!/bin/sh
# klog - log compaction: last value per key, offsets, tombstones, passes, crashes. MIT licence.

test_description='ktopic compact keeps exactly the last record per key'
. "$(dirname "$0")/lib.sh"
test_embedded_only "ktopic compact and the files it leaves are embedded"

# gen SEED N KEYS: random "kN:value" updates, one in eight a tombstone ("kN:")
gen() {
	awk -v seed="$1" -v n="$2" -v keys="$3" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++) {
			k = int(rand() * keys)
			if (rand() < 0.125)
				printf "k%d:\n", k
			else
				printf "k%d:v%d-%d\n", k, i, int(rand() * 100000)
		}
	}'
}

# fill N: keys used once, enough to push everything before them out of the
# active segment
fill() {
	seq -f "${2:-fill}%05g:xxxxxxxxxxxxxxxxxxxxxxxx" 1 "$1"
}

# model [tomb]: from the input lines (offset = line - 1), the last record
# of each key as kconsume -f "%o %k %S %s\n" prints it; tombstones kept
# with "tomb", dropped without
model() {
	awk -F: -v tomb="$1" '{
		k = $1; v = substr($0, length(k) + 2)
		last[k] = NR - 1; val[k] = v
	} END {
		for (k in last) {
			if (val[k] == "" && tomb == "")
				continue
			if (val[k] == "")
				printf "%d %s -1 \n", last[k], k
			else
				printf "%d %s %d %s\n", last[k], k, length(val[k]), val[k]
		}
	}' | sort -n
}

# lastper: the last record of each key of kconsume output (what a reader
# rebuilding the table gets), tombstones included
lastper() {
	awk '{ last[$2] = $0; off[$2] = $1 } END { for (k in last) print last[k] }' | sort -n
}

leftovers() {
	ls "$KLOG_DIR/$1-0" | grep -E "\.(cleaned|swap|deleted)\$"
}

test_expect_success 'setup: random updates and tombstones in many segments, not yet compacted' '
	mkdir -p "$KLOG_DIR" &&
	gen 7 4000 300 >in &&
	fill 400 >>in &&
	ktopic create c -c segment.bytes=4096 &&
	kproduce -Z -K : -B 300 c in &&
	ktopic alter c -c cleanup.policy=compact &&
	kconsume -e -f "%o %k %S %s\n" c >before &&
	test_line_count = 4400 before &&
	ls "$KLOG_DIR/c-0" | grep -c "\.log\$" >nseg &&
	test "$(cat nseg)" -gt 10 &&
	cp -R "$KLOG_DIR" pristine
'

test_expect_success 'a topic that is not compacted is refused' '
	ktopic create plain &&
	test_must_fail ktopic compact plain 2>err &&
	grep "not compacted" err
'

test_expect_success 'compact: exactly the last record per key, at its offset, tombstones kept' '
	ktopic compact -s c >stats &&
	grep "passes=1 " stats &&
	kconsume -e -f "%o %k %S %s\n" c >actual &&
	model tomb <in >expect &&
	test_cmp expect actual &&
	cat "$KLOG_DIR/cleaner-offset-checkpoint" >ckpt &&
	grep "^c 0 [1-9]" ckpt &&
	test_must_fail leftovers c
'

test_expect_success 'a compacted partition verifies clean; offsets have gaps' '
	kdump --verify "$KLOG_DIR/c-0" &&
	kdump --verify "$KLOG_DIR" &&
	test "$(wc -l <actual)" -lt 1000
'

test_expect_success 'compacting again changes nothing (tombstones within delete.retention.ms)' '
	ktopic compact c &&
	kconsume -e -f "%o %k %S %s\n" c >again &&
	test_cmp actual again
'

test_expect_success 'reads from an offset inside a gap start at the next record' '
	gap=$(awk "NR > 1 && \$1 > prev + 1 { print prev + 1; exit } { prev = \$1 }" actual) &&
	test -n "$gap" &&
	kconsume -e -o "$gap" -c 1 -f "%o\n" c >one &&
	awk -v g="$gap" "\$1 >= g { print \$1; exit }" actual >expect1 &&
	test_cmp expect1 one
'

test_expect_success 'tombstones go after delete.retention.ms, on the next compaction' '
	rm -rf "$KLOG_DIR" && cp -R pristine "$KLOG_DIR" &&
	ktopic alter c -c delete.retention.ms=0 &&
	ktopic compact -s c >stats1 &&
	grep "tombstones_removed=0$" stats1 &&
	kconsume -e -f "%o %k %S %s\n" c >with &&
	model tomb <in >expect &&
	test_cmp expect with &&
	ktopic compact -s c >stats2 &&
	! grep "tombstones_removed=0$" stats2 &&
	kconsume -e -f "%o %k %S %s\n" c >without &&
	model <in >expect &&
	test_cmp expect without
'

test_expect_success 'a tiny map compacts in several passes, same result' '
	rm -rf "$KLOG_DIR" && cp -R pristine "$KLOG_DIR" &&
	ktopic compact -s --map-entries 40 c >stats &&
	passes=$(sed -n "s/.*passes=\([0-9]*\).*/\1/p" stats) &&
	test "$passes" -gt 3 &&
	kconsume -e -f "%o %k %S %s\n" c >actual &&
	model tomb <in >expect &&
	test_cmp expect actual &&
	kdump --verify "$KLOG_DIR/c-0"
'

test_expect_success 'compressed batches are compacted and stay compressed' '
	ktopic create z -c segment.bytes=4096 &&
	gen 11 2000 100 >zin &&
	fill 400 >>zin &&
	kproduce -Z -K : -z gzip -B 600 z zin &&
	ktopic alter z -c cleanup.policy=compact &&
	ktopic compact z &&
	kconsume -e -f "%o %k %S %s\n" z >actual &&
	model tomb <zin >expect &&
	test_cmp expect actual &&
	kdump "$KLOG_DIR/z-0" | grep -c "codec=gzip" >ngz &&
	test "$(cat ngz)" -gt 0
'

for stage in cleaned swap swapped final ckpt; do
	test_expect_success "SIGKILL at '$stage': nothing lost; the next run finishes the job" '
		rm -rf "$KLOG_DIR" && cp -R pristine "$KLOG_DIR" &&
		test_expect_code 137 env KLOG_TEST_COMPACT_KILL='$stage' ktopic compact --map-entries 100 c &&
		kconsume -e -f "%o %k %S %s\n" c >mid &&
		lastper <mid >midlast &&
		model tomb <in >expect &&
		test_cmp expect midlast &&
		kdump --verify "$KLOG_DIR/c-0" &&
		ktopic compact c &&
		test_must_fail leftovers c &&
		kconsume -e -f "%o %k %S %s\n" c >actual &&
		test_cmp expect actual
	'
done

test_expect_success 'SIGKILL mid-swap: a writer opening the partition finishes the swap' '
	rm -rf "$KLOG_DIR" && cp -R pristine "$KLOG_DIR" &&
	test_expect_code 137 env KLOG_TEST_COMPACT_KILL=swapped ktopic compact c &&
	leftovers c >files &&
	grep "log.swap" files &&
	echo "new:1" | kproduce -K : c &&
	test_must_fail leftovers c &&
	kconsume -e -f "%o %k %S %s\n" c >actual &&
	{ model tomb <in && echo "4400 new 1 1"; } >expect &&
	test_cmp expect actual
'

test_expect_success 'rolling a segment compacts when min.cleanable.dirty.ratio is passed' '
	ktopic create r -c segment.bytes=4096 -c cleanup.policy=compact &&
	gen 3 3000 50 >rin &&
	fill 400 >>rin &&
	kproduce -Z -K : -B 300 r rin &&
	test -s "$KLOG_DIR/cleaner-offset-checkpoint" &&
	grep "^r 0 [1-9]" "$KLOG_DIR/cleaner-offset-checkpoint" &&
	kconsume -e -f "%o %k %S %s\n" r >racc &&
	test "$(wc -l <racc)" -lt 3400 &&
	lastper <racc >rlast &&
	model tomb <rin >expect &&
	test_cmp expect rlast
'

test_expect_success 'a writer and readers keep working while compaction runs' '
	rm -rf "$KLOG_DIR" && cp -R pristine "$KLOG_DIR" &&
	gen 99 3000 300 >more &&
	{ kproduce -Z -K : -B 200 -l 0 c more & } && wpid=$! &&
	i=0 && while test $i -lt 6; do
		ktopic compact --map-entries 200 c || exit 1
		kconsume -e -f "%o %k %S %s\n" c >r$i || exit 1
		awk "NR > 1 && \$1 <= prev { exit 1 } { prev = \$1 }" r$i || exit 1
		i=$((i + 1))
	done &&
	wait $wpid &&
	fill 400 tail | kproduce -K : c &&
	ktopic compact c &&
	cat in more >all &&
	fill 400 tail >>all &&
	kconsume -e -f "%o %k %S %s\n" c >actual &&
	model tomb <all >expect &&
	test_cmp expect actual
'

test_expect_success 'a recovery point inside what compaction removed still opens for writing' '
	ktopic create rp -c segment.bytes=4096 &&
	seq -f "a:%g" 1 300 | kproduce -K : -B 200 rp &&
	rp=$(awk "\$1 == \"rp\" { print \$3 }" "$KLOG_DIR/recovery-point-offset-checkpoint") &&
	test "$rp" = 300 &&
	seq -f "a:%g" 301 900 | kproduce -K : -B 200 rp &&
	ktopic alter rp -c cleanup.policy=compact &&
	ktopic compact rp &&
	# a writer that died after the first run left its recovery point behind
	sed "s/^rp 0 .*/rp 0 300/" "$KLOG_DIR/recovery-point-offset-checkpoint" >ck &&
	cp ck "$KLOG_DIR/recovery-point-offset-checkpoint" &&
	echo "b:1" | kproduce -K : rp &&
	kconsume -e -f "%k %s\n" rp >actual &&
	test "$(tail -n 1 actual)" = "b 1" &&
	grep -c "^a " actual >na &&
	test "$(cat na)" -lt 300
'

test_expect_success 'kproduce -Z: an empty value is null; without -Z it is empty' '
	ktopic create zz &&
	printf "a:\nb:x\n" | kproduce -K : -Z zz &&
	printf "c:\n" | kproduce -K : zz &&
	kconsume -e -f "%k %S\n" zz >actual &&
	printf "a -1\nb 1\nc 0\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'cleanup.policy=compact,delete and the new keys are accepted and shown' '
	ktopic create cd -c cleanup.policy=compact,delete -c min.cleanable.dirty.ratio=0.2 \
		-c delete.retention.ms=5 &&
	ktopic describe -c cd >conf &&
	grep "^cleanup.policy=compact,delete\$" conf &&
	grep "^min.cleanable.dirty.ratio=0.2\$" conf &&
	grep "^delete.retention.ms=5\$" conf &&
	test_expect_code 2 ktopic create bad -c min.cleanable.dirty.ratio=2
'

test_done
