#!/bin/sh
# klog - compression: every built-in codec round-trips; others are named. MIT licence.

test_description='kproduce -z compresses batches; kconsume decodes them'
. "$(dirname "$0")/lib.sh"

# Tests marked EMBEDDED read the segment files with kdump; the rest use the
# tools only.

test_expect_success 'setup: sample input, codec probe' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create probe &&
	# compressible and not: repeated words, then numbers, a long line
	{
		seq 1 3000 | sed "s/.*/record & of the compression test, same words again/" &&
		awk "BEGIN { srand(7); for (i = 0; i < 500; i++) print int(rand() * 1e9) }" &&
		awk "BEGIN { for (i = 0; i < 20000; i++) printf \"x\"; print \"\" }"
	} >input &&
	: >built &&
	for c in gzip snappy lz4 zstd; do
		echo x | kproduce -z $c probe 2>err
		code=$?
		case $code in
		0) echo $c >>built ;;
		2)
			# not built in: one line naming the codec
			test_line_count = 1 err &&
			grep "$c" err || return 1 ;;
		*)
			echo "kproduce -z $c: exit $code: $(cat err)" >&2
			return 1 ;;
		esac
	done &&
	grep -x gzip built &&
	echo "# codecs built in: $(cat built | tr "\n" " ")"
'

for c in none gzip snappy lz4 zstd; do
	if test $c = none || grep -x $c built >/dev/null 2>&1; then
		test_set_prereq "$c"
	fi
done

for c in none gzip snappy lz4 zstd; do
	test_expect_success $c "$c: round trip, keys and headers included" '
		ktopic create z$c &&
		kproduce -z $c -B 4000 z$c input &&
		kconsume -e z$c >actual &&
		test_cmp input actual &&
		printf "k1:v1\nnull key\nk2:\n" | kproduce -z $c -K : -H h=1 z$c &&
		kconsume -e -o -3 -f "%K %k|%S %s|%h\n" z$c >actual &&
		printf "2 k1|2 v1|h=1\n-1 |8 null key|h=1\n2 k2|0 |h=1\n" >expect &&
		test_cmp expect actual
	'

	test_expect_success $c "$c: offsets inside compressed batches (-o N, -c)" '
		kconsume -e -o 1234 -c 3 -f "%o %s\n" z$c >actual &&
		sed -n "1235,1237p" input | awk "{ print 1234 + NR - 1 \" \" \$0 }" >expect &&
		test_cmp expect actual
	'

	test_expect_success EMBEDDED,$c "$c: kdump names the codec of every batch" '
		kdump "$KLOG_DIR/z$c-0" >dump &&
		grep "^batch " dump >batches &&
		test_line_count -gt 5 batches &&
		grep -v " codec=$c " batches >other;
		test_must_fail test -s other &&
		kdump --verify "$KLOG_DIR/z$c-0" >/dev/null
	'
done

for c in gzip snappy lz4 zstd; do
	test_expect_success $c "$c: compressible data takes less room than none" '
		none=$(ktopic describe znone | cut -f6) &&
		this=$(ktopic describe z$c | cut -f6) &&
		test "$this" -lt "$none"
	'
done

test_expect_success 'a codec not built in, or unknown: exit 2 naming it' '
	for c in snappy lz4 zstd brotli; do
		grep -x $c built >/dev/null && continue
		echo x | test_expect_code 2 kproduce -z $c probe 2>err &&
		test_line_count = 1 err &&
		grep "$c" err || return 1
	done
'

test_expect_success 'topic compression.type is used when -z is not given' '
	ktopic create tz --config compression.type=gzip &&
	kproduce -B 4000 tz input &&
	kconsume -e tz >actual &&
	test_cmp input actual &&
	gz=$(ktopic describe tz | cut -f6) &&
	none=$(ktopic describe znone | cut -f6) &&
	test "$gz" -lt "$none"
'

test_expect_success EMBEDDED 'topic compression.type: kdump shows codec=gzip' '
	kdump "$KLOG_DIR/tz-0" | grep "^batch " >batches &&
	test_must_fail grep -v " codec=gzip " batches
'

test_done
