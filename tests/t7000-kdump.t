#!/bin/sh
# klog - kdump: listings, records, indexes, verification, repair. MIT licence.

test_description='kdump lists, verifies and repairs segments'
. "$(dirname "$0")/lib.sh"
test_embedded_only "kdump reads and damages segment files"
. "$TEST_DIRECTORY/lib-broker.sh"

# This whole script inspects and damages segment files: local mode only.

SEG=00000000000000000000

# flip_bit FILE BYTE: flip the low bit of byte BYTE (from 0) of FILE
flip_bit() {
	if command -v ktest >/dev/null 2>&1 && ktest flip "$1" "$2" 2>/dev/null; then
		return 0
	fi
	fb_old=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d " ") &&
	test -n "$fb_old" &&
	printf "\\$(printf %o $((fb_old ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# put32 FILE BYTE VALUE: write VALUE as a big-endian int32 at BYTE
put32() {
	printf "\\$(printf %o $(($3 >> 24 & 255)))\\$(printf %o $(($3 >> 16 & 255)))\\$(printf %o $(($3 >> 8 & 255)))\\$(printf %o $(($3 & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# three batches of 3, 2 and 1 one-byte records: 85, 77 and 69 bytes
make_topic() {
	ktopic create "$1" &&
	printf "a\nb\nc\n" | kproduce "$1" &&
	printf "d\ne\n" | kproduce "$1" &&
	printf "f\n" | kproduce "$1"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	make_topic d &&
	D=$KLOG_DIR/d-0
'

test_expect_success 'usage, help, a missing file' '
	(
		unset KLOG_DIR &&
		test_expect_code 2 kdump 2>err
	) &&
	grep "^usage: " err &&
	test_expect_code 2 kdump --bogus "$D" 2>err &&
	grep "^usage: " err &&
	kdump -h >out &&
	test -s out &&
	kdump -V >out &&
	echo "kdump 0.1.0" >expect &&
	test_cmp expect out &&
	test_expect_code 1 kdump no-such-file 2>err &&
	grep "no-such-file" err &&
	test_line_count = 1 err
'

test_expect_success 'a fresh segment: one line per batch, every field' '
	kdump "$D/$SEG.log" >out &&
	test_line_count = 3 out &&
	re="^batch pos=[0-9]+ base=[0-9]+ last=[0-9]+ count=[0-9]+ size=[0-9]+ epoch=-?[0-9]+ magic=2 crc=[0-9a-f]{8} crc_ok=1 codec=none ts_type=create base_ts=[0-9]+ max_ts=[0-9]+ pid=-?[0-9]+ pepoch=-?[0-9]+ seq=-?[0-9]+ txn=0 control=0\$" &&
	grep -E -v "$re" out >bad;
	test_must_fail test -s bad &&
	sed "s/^batch \(pos=[0-9]* base=[0-9]* last=[0-9]* count=[0-9]* size=[0-9]*\) .*/\1/" out >short &&
	cat >expect <<-\EOF &&
	pos=0 base=0 last=2 count=3 size=85
	pos=85 base=3 last=4 count=2 size=77
	pos=162 base=5 last=5 count=1 size=69
	EOF
	test_cmp expect short &&
	test "$(wc -c <"$D/$SEG.log")" = 231
'

test_expect_success 'base_ts <= max_ts, both near now' '
	now=$(($(date +%s) * 1000)) &&
	kdump "$D/$SEG.log" | sed "s/.* base_ts=\([0-9]*\) max_ts=\([0-9]*\) .*/\1 \2/" >ts &&
	awk -v now=$now "\$1 > \$2 || \$1 < now - 600000 || \$2 > now + 600000 { exit 1 }" ts
'

test_expect_success 'kdump -r adds the records' '
	kdump -r "$D/$SEG.log" >out &&
	grep "^  record " out >records &&
	test_line_count = 6 records &&
	i=0 &&
	for v in a b c d e f; do
		sed -n "$((i + 1))p" records | grep -E "^  record offset=$i ts=[0-9]+ key=null value=$v( |\$)" || return 1
		i=$((i + 1))
	done
'

test_expect_success 'kdump -r escapes non-printable bytes and shows keys and headers' '
	ktopic create esc &&
	printf "k\001:v\377w\n" | kproduce -K : -H h=1 esc &&
	kdump -r "$KLOG_DIR/esc-0/$SEG.log" >out &&
	grep "^  record offset=0 ts=[0-9]* key=k\\\\x01 value=v\\\\xffw headers=h=1\$" out
'

test_expect_success 'a partition directory and a whole log directory' '
	kdump "$D" >out &&
	test "$(grep -c "^batch " out)" = 3 &&
	kdump "$KLOG_DIR" >out &&
	test "$(grep -c "^batch " out)" = 4
'

test_expect_success '--verify: exit 0, one summary line per segment' '
	kdump --verify "$D" >out 2>err &&
	test_line_count = 1 out &&
	grep "^ok .*d-0/$SEG.log batches=3 records=6\$" out &&
	test_must_fail test -s err &&
	kdump --verify "$KLOG_DIR" >out &&
	test_line_count = 2 out
'

test_expect_success 'index entries point at batch starts; timeindex ascends' '
	ktopic create ix --config index.interval.bytes=200 &&
	seq 1 3000 | kproduce -B 300 ix &&
	I=$KLOG_DIR/ix-0 &&
	kdump "$I/$SEG.index" >index &&
	test_line_count -gt 10 index &&
	test_must_fail grep -v -E "^index offset=[0-9]+ pos=[0-9]+\$" index &&
	kdump "$I/$SEG.log" >batches &&
	# each entry: pos is a batch start, offset within [base, last]
	sed "s/^index offset=\([0-9]*\) pos=\([0-9]*\)/\1 \2/" index >entries &&
	sed "s/^batch pos=\([0-9]*\) base=\([0-9]*\) last=\([0-9]*\) .*/\1 \2 \3/" batches >starts &&
	awk "
		NR == FNR { base[\$1] = \$2; last[\$1] = \$3; next }
		!(\$2 in base) || \$1 < base[\$2] || \$1 > last[\$2] { print \"bad entry \" \$0; bad = 1 }
		END { exit bad }
	" starts entries &&
	kdump "$I/$SEG.timeindex" >tindex &&
	test_must_fail grep -v -E "^timeindex ts=[0-9]+ offset=[0-9]+\$" tindex &&
	sed "s/^timeindex ts=\([0-9]*\) offset=\([0-9]*\)/\1 \2/" tindex >tentries &&
	awk "NR > 1 && (\$1 < ts || \$2 <= off) { exit 1 } { ts = \$1; off = \$2 }" tentries &&
	kdump --verify "$I" >/dev/null
'

test_expect_success 'a bad index entry is found by --verify' '
	cp "$I/$SEG.index" saved.index &&
	test_when_finished "cp saved.index \"$I/$SEG.index\"" &&
	pos=$(sed -n 2p entries | cut -d" " -f2) &&
	put32 "$I/$SEG.index" 12 $((pos + 1)) &&
	kdump "$I/$SEG.index" | sed -n 2p >entry &&
	grep "pos=$((pos + 1))\$" entry &&
	test_expect_code 1 kdump --verify "$I" >out 2>&1 &&
	grep "$SEG.index" out
'

test_expect_success 'a bit flipped in the middle: --verify exit 1, names segment and byte' '
	make_topic bad &&
	B=$KLOG_DIR/bad-0 &&
	# byte 140 is inside the second batch (85..161), in its records
	flip_bit "$B/$SEG.log" 140 &&
	cp "$B/$SEG.log" damaged.copy &&
	test_expect_code 1 kdump --verify "$B" >out 2>&1 &&
	grep "bad-0/$SEG.log'\'': bad CRC in batch at byte 85 (offset 3)" out &&
	cmp damaged.copy "$B/$SEG.log"
'

test_expect_success 'kdump lists the damaged batch with crc_ok=0, changes nothing' '
	kdump "$B/$SEG.log" >out 2>err;
	grep "^batch pos=85 .* crc_ok=0 " out &&
	grep "^batch pos=0 .* crc_ok=1 " out &&
	cmp damaged.copy "$B/$SEG.log" &&
	test_path_is_missing "$B/$SEG.log.damaged"
'

test_expect_success 'kconsume stops with exit 1 naming the segment' '
	test_expect_code 1 kconsume -e bad >out 2>err &&
	grep "^kconsume: segment '\''bad-0/$SEG.log'\'' damaged at byte 85: .*bad CRC" err &&
	test_line_count = 1 err &&
	# nothing from the damaged batch or after it
	test_must_fail grep -v -x -e a -e b -e c out &&
	cmp damaged.copy "$B/$SEG.log"
'

test_expect_success 'kconsume delivers the whole batches before the damage' '
	test_expect_code 1 kconsume -e -u bad >out 2>err &&
	printf "a\nb\nc\n" >expect &&
	test_cmp expect out
'

test_expect_success '--repair cuts from the first bad batch, keeps the cut bytes' '
	kdump --repair "$B" >out 2>err &&
	test -s err &&
	test "$(wc -c <"$B/$SEG.log")" = 85 &&
	tail -c +86 damaged.copy >cut &&
	cmp cut "$B/$SEG.log.damaged" &&
	head -c 85 damaged.copy >kept &&
	cmp kept "$B/$SEG.log" &&
	kdump --verify "$B" >out &&
	grep "^ok .*batches=1 records=3\$" out
'

test_expect_success 'after repair: records before the damage intact, appends go on' '
	kconsume -e -f "%o %s\n" bad >actual &&
	printf "0 a\n1 b\n2 c\n" >expect &&
	test_cmp expect actual &&
	echo g | kproduce bad &&
	kconsume -e -f "%o %s\n" bad >actual &&
	printf "0 a\n1 b\n2 c\n3 g\n" >expect &&
	test_cmp expect actual &&
	kdump --verify "$B" >/dev/null
'

test_expect_success '--repair of a tail truncated mid-batch' '
	make_topic tr &&
	T=$KLOG_DIR/tr-0 &&
	cp "$T/$SEG.log" whole &&
	truncate -s 200 "$T/$SEG.log" &&
	test_expect_code 1 kdump --verify "$T" >out 2>&1 &&
	kdump --repair "$T" 2>err &&
	test "$(wc -c <"$T/$SEG.log")" = 162 &&
	head -c 200 whole | tail -c +163 >cut &&
	cmp cut "$T/$SEG.log.damaged" &&
	kdump --verify "$T" >/dev/null &&
	kconsume -e tr >actual &&
	printf "a\nb\nc\nd\ne\n" >expect &&
	test_cmp expect actual
'

test_expect_success '--repair of a healthy partition changes nothing' '
	cp "$D/$SEG.log" healthy &&
	kdump --repair "$D" >out 2>err &&
	cmp healthy "$D/$SEG.log" &&
	test_path_is_missing "$D/$SEG.log.damaged"
'

test_expect_success 'garbage appended to a segment is reported by --verify' '
	make_topic gb &&
	G=$KLOG_DIR/gb-0 &&
	printf "this is not a record batch, just some garbage bytes..." >>"$G/$SEG.log" &&
	test_expect_code 1 kdump --verify "$G" >out 2>&1 &&
	grep "gb-0/$SEG.log" out &&
	grep "231" out
'

test_expect_success 'a flipped baseOffset bit (not under the CRC): --verify names segment and byte' '
	make_topic bo &&
	O=$KLOG_DIR/bo-0 &&
	# the second batch (offsets 3-4, at byte 85) claims offset 3 ^ 16 = 19
	ktest flip "$O/$SEG.log" 92 4 &&
	kdump "$O/$SEG.log" >out &&
	grep "^batch pos=85 base=19 last=20 .* crc_ok=1 " out &&
	test_expect_code 1 kdump --verify "$O" >out 2>err &&
	grep "bo-0/$SEG.log'\'': batch at byte 85: offset 19 does not follow the previous batch'\''s last offset 2" err &&
	grep "bo-0/$SEG.log'\'': batch at byte 162: offset 5 is not after the previous batch'\''s last offset 20" err &&
	test_must_fail grep "^ok " out
'

test_expect_success 'a flipped baseOffset in the first batch: not the segment base offset' '
	ktest flip "$O/$SEG.log" 92 4 &&
	kdump --verify "$O" >/dev/null &&
	ktest flip "$O/$SEG.log" 7 1 &&
	test_expect_code 1 kdump --verify "$O" 2>err &&
	grep "batch at byte 0: offset 2 of the segment'\''s first batch is not its base offset 0" err
'

test_expect_success 'a baseOffset near 2^63: reported, no overflow (UBSan-clean)' '
	make_topic of &&
	F=$KLOG_DIR/of-0 &&
	# the first batch (3 records, lastOffsetDelta 2) at INT64_MAX - 1
	printf "\\177\\377\\377\\377\\377\\377\\377\\376" |
		dd of="$F/$SEG.log" bs=1 seek=0 conv=notrunc 2>/dev/null &&
	test_expect_code 1 kdump --verify "$F" >out 2>err &&
	grep "of-0/$SEG.log'\'': batch at byte 0: offset 9223372036854775806 + 2 runs past the largest offset" err &&
	kdump "$F/$SEG.log" >out &&
	grep "^batch pos=0 base=9223372036854775806 " out &&
	kdump -r "$F/$SEG.log" >out &&
	kdump --repair "$F" 2>err &&
	test "$(wc -c <"$F/$SEG.log")" = 0 &&
	kdump --verify "$F" >/dev/null
'

test_expect_success 'a sealed segment truncated at a batch boundary: records lost, found' '
	ktopic create sl --config segment.bytes=200 &&
	for r in a b c d e f g h; do echo $r | kproduce sl || return 1; done &&
	S=$KLOG_DIR/sl-0 &&
	ls "$S"/*.log >segs &&
	test "$(wc -l <segs)" -ge 3 &&
	first=$(head -n 1 segs) &&
	kdump --verify "$S" >/dev/null &&
	size=$(wc -c <"$first") &&
	# the last batch of the first segment goes: no torn batch is left
	cut=$(ktest batches "$first" | tail -n 1 | cut -d" " -f1) &&
	cp "$first" whole.seg &&
	ktest truncate "$first" $cut &&
	test_expect_code 1 kdump --verify "$S" >out 2>err &&
	grep "sl-0/$(basename "$first")'\'': at byte $cut, the end of the sealed segment: it ends with offset" err &&
	grep "missing" err &&
	test_must_fail grep "$(basename "$first")" out
'

test_expect_success '--repair after a short sealed segment: later segments move to .damaged' '
	kdump --repair "$S" 2>err &&
	grep "the end of the sealed segment" err &&
	test "$(ls "$S"/*.log | wc -l)" = 1 &&
	kdump --verify "$S" >/dev/null &&
	second=$(sed -n 2p segs) &&
	cmp "$second" "$second.damaged" 2>/dev/null ||
	test -s "$second.damaged"
'

test_expect_success 'a compacted topic may have offset gaps; others may not' '
	ktopic create cp --config cleanup.policy=compact &&
	printf "a\nb\nc\n" | kproduce cp &&
	printf "d\n" | kproduce cp &&
	C=$KLOG_DIR/cp-0 &&
	# the second batch moves from offset 3 to 7: a gap, as compaction leaves
	ktest flip "$C/$SEG.log" 92 2 &&
	kdump --verify "$C" >out &&
	grep "^ok " out &&
	mkdir -p elsewhere/cp-0 &&
	cp "$C/$SEG.log" elsewhere/cp-0/ &&
	test_expect_code 1 kdump --verify elsewhere/cp-0 2>err &&
	grep "offset 7 does not follow" err
'

test_expect_success '--repair refuses a log directory a kbrokerd serves, naming it' '
	KLOG_DIR=$TRASH/served &&
	mkdir -p "$KLOG_DIR" &&
	make_topic sv &&
	V=$KLOG_DIR/sv-0 &&
	cp "$V/$SEG.log" before.repair &&
	start_broker rb &&
	test_expect_code 1 kdump --repair "$V" >out 2>err &&
	grep "^kdump: log directory .* is served by kbrokerd (.*$ADDR): a repair of partition '\''sv-0'\'' would cut" err &&
	grep -- "or use --force" err &&
	test_must_fail grep "nothing to repair" err &&
	cmp before.repair "$V/$SEG.log" &&
	# the broker holds the partitions it has open (a fetch opens sv-0):
	# --force reaches only those it fenced or closed, and says to ask the
	# broker for the others
	kbclient consume sv 0 >/dev/null &&
	test_expect_code 1 kdump --repair --force "$V" 2>err &&
	grep "partition '"'"'sv-0'"'"' is held by its writer .*REPAIR TOPIC PARTITION" err &&
	stop_broker rb &&
	kdump --repair "$V" 2>err &&
	grep "nothing to repair" err &&
	test_expect_code 2 kdump --force "$V"
'

test_done
