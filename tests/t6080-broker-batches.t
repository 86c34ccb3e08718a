#!/bin/sh
# klog - kbrokerd refuses hostile but CRC-valid batches and writes nothing. MIT licence.

test_description='PRODUCE validates every batch whole: each hostile kind refused, nothing written'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

# produce_raw FILE: one PRODUCE of the file's bytes, then OFFSETS; the codes
produce_raw() {
	{
		printf "PRODUCE t 0 1 %s\n" "$(wc -c <"$1")"
		cat "$1"
		printf "OFFSETS t 0\nQUIT\n"
	} | talk >out
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	printf "a\nb\n" | kproduce -d "$KLOG_DIR" t &&
	start_broker b &&
	kbatch list >kinds &&
	test "$(wc -l <kinds)" -gt 20
'

test_expect_success 'every hostile kind: CORRUPT_BATCH or INVALID_RECORD as a client batch, log unchanged' '
	n=0 &&
	while IFS="	" read -r kind client disk msg what; do
		case "$client" in
		ok) continue ;;
		EILSEQ) code=CORRUPT_BATCH ;;
		*) code=INVALID_RECORD ;;
		esac
		kbatch hostile "$kind" >batch || return 1
		produce_raw batch || return 1
		sed -n 1p out | cut -d" " -f1,2 >got &&
		echo "ERR $code" >want &&
		if ! test_cmp want got; then
			echo "kind $kind: $(sed -n 1p out)" >&2
			return 1
		fi
		# the message says what is wrong
		sed -n 1p out | grep -F -q "$msg" || { echo "kind $kind: $(sed -n 1p out), want $msg" >&2; return 1; }
		test "$(sed -n 2p out)" = "OK 0 2" || { echo "kind $kind wrote something: $(sed -n 2p out)" >&2; return 1; }
		n=$((n + 1))
	done <kinds &&
	echo "# $n hostile kinds refused" &&
	test $n -gt 20
'

test_expect_success 'a bad batch among good ones: nothing of the request is written' '
	kbatch good 3 >good &&
	kbatch hostile overrun >bad &&
	cat good bad good >mixed &&
	produce_raw mixed &&
	sed -n 1p out | grep "^ERR INVALID_RECORD .*batch 2 of the request" &&
	test "$(sed -n 2p out)" = "OK 0 2"
'

# AddressSanitizer keeps freed memory in quarantine: RSS says nothing there
if ! nm -D "$TOP/kbrokerd" 2>/dev/null | grep -q __asan_init; then
	test_set_prereq UNSANITIZED
fi

test_expect_success UNSANITIZED 'the decompression bombs cost the broker no lasting memory' '
	kbatch hostile bomb-zstd >bomb &&
	produce_raw bomb &&
	sed -n 1p out | grep "^ERR INVALID_RECORD" &&
	alive &&
	kbatch hostile bomb-gzip >bomb &&
	produce_raw bomb &&
	sed -n 1p out | grep "^ERR INVALID_RECORD" &&
	rss=$(awk "/^VmRSS:/ { print \$2 }" /proc/$b_pid/status) &&
	echo "# broker RSS after the bombs: $rss KiB" &&
	test "$rss" -lt 65536
'

test_expect_success 'good batches of every codec go through and read back' '
	for z in none gzip snappy lz4 zstd; do
		kbatch good 4 $z >g.$z || return 1
		produce_raw g.$z || return 1
		sed -n 1p out | grep "^OK " || { echo "codec $z: $(cat out)" >&2; return 1; }
	done &&
	kconsume -e t >all &&
	test_line_count = 22 all &&
	stop_broker b &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_done
