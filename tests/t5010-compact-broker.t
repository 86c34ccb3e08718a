#!/bin/sh
# klog - log compaction through kbrokerd: COMPACT, the background thread. MIT licence.

test_description='kbrokerd compacts in a thread, on COMPACT and in the background'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"
test_embedded_only "this script starts its own broker"

# gen SEED N KEYS: random "kN:value" updates, one in eight a tombstone
gen() {
	awk -v seed="$1" -v n="$2" -v keys="$3" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++) {
			k = int(rand() * keys)
			if (rand() < 0.125)
				printf "k%d:\n", k
			else
				printf "k%d:v%d\n", k, i
		}
	}'
}
fill() {
	seq -f "${2:-fill}%05g:xxxxxxxxxxxxxxxxxxxxxxxx" 1 "$1"
}
# the last record of each key, as kconsume -f "%o %k %S %s\n" prints it
model() {
	awk -F: '{
		k = $1; v = substr($0, length(k) + 2)
		last[k] = NR - 1; val[k] = v
	} END {
		for (k in last)
			if (val[k] == "")
				printf "%d %s -1 \n", last[k], k
			else
				printf "%d %s %d %s\n", last[k], k, length(val[k]), val[k]
	}' | sort -n
}

test_expect_success 'setup: a broker (background check every 15 s: not in these tests)' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b &&
	gen 5 3000 200 >in &&
	fill 400 >>in
'

test_expect_success 'ktopic compact -b: the last record per key, offsets kept' '
	ktopic create c -c segment.bytes=4096 &&
	kproduce -Z -K : -B 300 c in &&
	kconsume -e c >before &&
	test_line_count = 3400 before &&
	ktopic alter c -c cleanup.policy=compact &&
	ktopic compact -s c >stats &&
	grep "segments=[1-9]" stats &&
	kconsume -e -f "%o %k %S %s\n" c >actual &&
	model <in >expect &&
	test_cmp expect actual &&
	metric klog_compacted_segments_total >segs &&
	test "$(cat segs)" -gt 0
'

test_expect_success 'COMPACT answers in order with the requests around it' '
	printf "PING a\nCOMPACT c\nPING b\nCOMPACT c 0\nCOMPACT nope\nCOMPACT c 7\nQUIT\n" | talk >out &&
	sed -n 1p out | grep "^OK PONG a" &&
	sed -n 2p out | grep "^OK [0-9]* 0 " &&
	sed -n 3p out | grep "^OK PONG b" &&
	sed -n 4p out | grep "^OK " &&
	sed -n 5p out | grep "^ERR UNKNOWN_TOPIC" &&
	sed -n 6p out | grep "^ERR UNKNOWN_PARTITION"
'

test_expect_success 'COMPACT of a topic that is not compacted: INVALID' '
	ktopic create plain &&
	printf "COMPACT plain\nQUIT\n" | talk >out &&
	grep "^ERR INVALID" out &&
	test_must_fail ktopic compact plain 2>err &&
	grep "not compacted" err
'

test_expect_success 'the background check compacts a topic with enough dirty bytes' '
	stop_broker b &&
	KLOG_COMPACT_CHECK_MS=100 start_broker b &&
	before=$(metric klog_compacted_segments_total) &&
	ktopic create bg -c segment.bytes=4096 -c cleanup.policy=compact \
		-c min.cleanable.dirty.ratio=0.1 &&
	kproduce -Z -K : -B 300 bg in &&
	wait_metric klog_compacted_segments_total -gt "$before" &&
	test_poll test -s "$KLOG_DIR/cleaner-offset-checkpoint" &&
	test_poll grep -q "^bg 0 [1-9]" "$KLOG_DIR/cleaner-offset-checkpoint" &&
	kconsume -e -f "%o %k %S %s\n" bg >all &&
	awk "{ last[\$2] = \$0 } END { for (k in last) print last[k] }" all | sort -n >lastper &&
	test_cmp expect lastper
'

test_expect_success 'a producer and consumers keep going while the broker compacts' '
	ktopic create w -c segment.bytes=4096 -c cleanup.policy=compact &&
	gen 9 3000 300 >more &&
	{ kproduce -Z -K : -B 200 -l 0 w more & } && wpid=$! &&
	i=0 && while test $i -lt 5; do
		ktopic compact w || exit 1
		kconsume -e -f "%o %k %S %s\n" w >r$i || exit 1
		awk "NR > 1 && \$1 <= prev { exit 1 } { prev = \$1 }" r$i || exit 1
		i=$((i + 1))
	done &&
	wait $wpid &&
	fill 400 tail | kproduce -K : w &&
	ktopic compact w &&
	{ cat more && fill 400 tail; } >all2 &&
	kconsume -e -f "%o %k %S %s\n" w >actual &&
	model <all2 >expect2 &&
	test_cmp expect2 actual
'

test_expect_success 'the broker stops cleanly with compaction in its loop' '
	stop_broker b
'

test_done
