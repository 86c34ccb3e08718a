#!/bin/sh
# klog - kproduce --salt: a hot key spread over N partitions. MIT licence.

test_description='--salt N spreads each key over its murmur2 partition and the N-1 after it'
. "$(dirname "$0")/lib.sh"

# Tools only: holds in remote mode as well (the partition choice is the
# producer's, the same code either way).

# home TOPIC: the one partition the records of TOPIC went to (fails unless one)
home() {
	kconsume -e -f "%p\n" "$1" | sort -u >home.parts &&
	test_line_count = 1 home.parts &&
	cat home.parts
}

# expect_spread HOME N PARTS COUNT: counts ("COUNT PARTITION" lines) are the
# N partitions HOME, HOME+1, ... (mod PARTS), COUNT records each
expect_spread() {
	awk -v h="$1" -v n="$2" -v p="$3" -v c="$4" "BEGIN {
		for (i = 0; i < n; i++) printf \"%d %d\n\", c, (h + i) % p }" | sort -k2n >spread.expect &&
	sort -k2n counts >spread.actual &&
	test_cmp spread.expect spread.actual
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create plain --partitions 8 &&
	ktopic create salted --partitions 8 &&
	ktopic create two --partitions 8 &&
	ktopic create capped --partitions 8 &&
	ktopic create one --partitions 8
'

test_expect_success 'without --salt a hot key lands on one partition' '
	seq 1 400 | kproduce -k hot plain &&
	hp=$(home plain) &&
	echo "$hp" >hot.home &&
	kconsume -e -f "%p\n" plain | sort | uniq -c | sed "s/^ *//" >counts &&
	echo "400 $hp" >expect &&
	test_cmp expect counts
'

test_expect_success '--salt 4 over 8 partitions: 4 distinct partitions, 100 records each' '
	seq 1 400 | kproduce --salt 4 -k hot salted &&
	kconsume -e -f "%p\n" salted | sort | uniq -c | sed "s/^ *//" >counts &&
	test_line_count = 4 counts &&
	expect_spread "$(cat hot.home)" 4 8 100
'

test_expect_success 'the stored key is the original one, every record is there once' '
	kconsume -e -f "%k %s\n" salted >actual &&
	cut -d" " -f1 actual | sort -u >keys &&
	echo hot >expect &&
	test_cmp expect keys &&
	cut -d" " -f2 actual | sort -n >values &&
	seq 1 400 >expect &&
	test_cmp expect values
'

test_expect_success 'within each partition the key keeps its input order' '
	kconsume -e -f "%p %s\n" salted >po &&
	awk "{ if (\$2 <= last[\$1]) exit 1; last[\$1] = \$2 }" po &&
	# the records rotate: record i goes to salt (i - 1) % 4
	awk -v h="$(cat hot.home)" "{ if (\$1 != (h + (\$2 - 1) % 4) % 8) exit 1 }" po
'

test_expect_success '-K: two keys interleaved, each spread over its own 3 partitions' '
	for i in $(seq 1 150); do echo "a:$i"; echo "b:$i"; done | kproduce --salt 3 -K : two &&
	for k in a b; do
		echo "$k:x" | kproduce -K : one &&
		kconsume -e -f "%k %p\n" one | awk -v k=$k "\$1 == k { print \$2 }" | sort -u >kh &&
		test_line_count = 1 kh &&
		kconsume -e -f "%k %p\n" two | awk -v k=$k "\$1 == k { print \$2 }" |
			sort | uniq -c | sed "s/^ *//" >counts &&
		expect_spread "$(cat kh)" 3 8 50 || return 1
	done
'

test_expect_success '--salt past the partition count uses every partition; --salt 1 is no salt' '
	seq 1 800 | kproduce --salt 20 -k hot capped &&
	kconsume -e -f "%p\n" capped | sort | uniq -c | sed "s/^ *//" >counts &&
	expect_spread 0 8 8 100 &&
	ktopic create s1 --partitions 8 &&
	seq 1 10 | kproduce --salt 1 -k hot s1 &&
	test "$(home s1)" = "$(cat hot.home)"
'

test_expect_success 'unkeyed records are not salted: the sticky partitioner as before' '
	ktopic create unkeyed --partitions 4 &&
	seq 1 20 | kproduce --salt 4 unkeyed &&
	kconsume -e -f "%p\n" unkeyed | sort -u >parts &&
	test_line_count = 1 parts
'

test_expect_success 'bad --salt values and --salt with -p are usage errors' '
	for v in 0 -1 x 1x ""; do
		test_expect_code 2 kproduce --salt "$v" -k hot salted </dev/null 2>err &&
		grep "bad salt" err || return 1
	done &&
	test_expect_code 2 kproduce --salt 2 -p 1 -k hot salted </dev/null 2>err &&
	grep "exclude each other" err &&
	kproduce -h >help &&
	grep -- "--salt N" help
'

test_done
