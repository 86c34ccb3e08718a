#!/bin/sh
# klog - offset and time lookups go through the indexes, not a scan. MIT licence.

test_description='kconsume -o N and -o s@TS read a handful of batch headers, not the segment'
. "$(dirname "$0")/lib.sh"

test_embedded_only "counts the reads a lookup makes in the segment files"
command -v strace >/dev/null || test_skip_all "strace is not installed"

# reads: how many pread64 calls a command makes (LeakSanitizer cannot run
# under ptrace: off for this one command in sanitizer builds)
reads() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=pread64 -o trace "$@" >out &&
	grep -c pread64 trace
}

test_expect_success 'setup: one segment of 200000 records in 2 KiB batches' '
	ktopic create t &&
	ktest seq 200000 r- | kproduce -B 2048 t &&
	ktopic describe t >d &&
	cut -f4,5 d >actual &&
	printf "200000\t1\n" >expect &&
	test_cmp expect actual &&
	test "$(ktest size "$KLOG_DIR/t-0/00000000000000000000.index")" -gt 2000
'

test_expect_success 'an offset in the middle: found through the offset index' '
	n=$(reads kconsume -e -c 1 -o 150000 -f "%o %s\n" t) &&
	echo "150000 r-150000" >expect &&
	test_cmp expect out &&
	echo "reads: $n" &&
	test "$n" -lt 60
'

test_expect_success 'a timestamp: found through the time index' '
	ts=$(kconsume -e -c 1 -o 123456 -f "%T" t) &&
	n=$(reads kconsume -e -c 1 -o "s@$ts" -f "%o\n" t) &&
	echo "reads: $n" &&
	o=$(cat out) &&
	test "$o" -le 123456 &&
	# the time entries used are checked against the batches they name
	# (a handful of reads each); a scan would take over a thousand
	test "$n" -lt 150
'

test_expect_success 'without the index the same lookup scans (the test can tell)' '
	mv "$KLOG_DIR/t-0/00000000000000000000.index" saved.index &&
	n=$(reads kconsume -e -c 1 -o 150000 -f "%o %s\n" t) &&
	mv saved.index "$KLOG_DIR/t-0/00000000000000000000.index" &&
	echo "150000 r-150000" >expect &&
	test_cmp expect out &&
	echo "reads: $n" &&
	test "$n" -gt 1000
'

test_done
