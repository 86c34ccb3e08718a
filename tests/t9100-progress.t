#!/bin/sh
# klog - progress of long work on stderr, only when it is a terminal. MIT licence.

test_description='kproduce, kconsume -e and kdump --verify/--repair show progress on a terminal only'
. "$(dirname "$0")/lib.sh"

# Tools only (kdump reads the directory, which a broker also serves; the
# repair wants the writer lock, so it is embedded only).

# the progress line: "PROG: N records, SIZE, RATE[, P%]", redrawn after
# carriage returns; the last one drawn is what lines() keeps
lines () {
	tr "\r" "\n" | sed "s/$(printf "\033")\[K//g" | grep -v "^$"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create p -p 3 &&
	seq 1 300000 >in
'

test_expect_success TTY 'kproduce from a file on a terminal: records, bytes, rate, percent' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "kproduce p in" >tty &&
	lines <tty >said &&
	tail -n 1 said >last &&
	grep "^kproduce: 300000 records, 1\.9 MiB, [0-9.]* [KMG]*i*B/s, 100%$" last &&
	# the line ends with a newline
	test "$(tail -c 2 tty | od -An -c | tr -d " ")" = "\r\n" &&
	kconsume -e p | sort -n >out &&
	test_cmp in out
'

test_expect_success 'kproduce with stderr a file: no progress at all' '
	KLOG_PROGRESS_DELAY_MS=0 kproduce p in 2>err &&
	test_must_fail test -s err
'

test_expect_success TTY 'short work shows nothing on a terminal by default' '
	test_on_tty "echo x | kproduce p" >tty &&
	test_must_fail test -s tty
'

test_expect_success TTY 'stdin from a pipe: no percent' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "seq 1 1000 | kproduce p" >tty &&
	lines <tty | tail -n 1 >last &&
	grep "^kproduce: 1000 records, 3\.8 KiB, " last &&
	test_must_fail grep "%" last
'

test_expect_success TTY 'kconsume -e into a file on a terminal: records and bytes' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "kconsume -e p >out" >tty &&
	lines <tty | tail -n 1 >last &&
	grep "^kconsume: 601001 records, [0-9.]* MiB, " last &&
	test_line_count = 601001 out
'

test_expect_success TTY 'kconsume writing records to the terminal: no progress among them' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "kconsume -e -c 5 p" >tty &&
	test_must_fail grep "records," tty &&
	KLOG_PROGRESS_DELAY_MS=0 kconsume -e p >/dev/null 2>err &&
	test_must_fail test -s err
'

test_expect_success TTY 'kdump --verify: percent of the segment bytes' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "kdump --verify \"$KLOG_DIR\" >out" >tty &&
	lines <tty | tail -n 1 >last &&
	grep "^kdump: 601001 records, [0-9.]* MiB, [0-9.]* [KMG]*i*B/s, 100%$" last &&
	grep "^ok p-0/" out &&
	KLOG_PROGRESS_DELAY_MS=0 kdump --verify "$KLOG_DIR" >out 2>err &&
	test_must_fail test -s err
'

test_expect_success TTY,EMBEDDED 'kdump --repair: bytes and percent per partition' '
	KLOG_PROGRESS_DELAY_MS=0 test_on_tty "kdump --repair \"$KLOG_DIR/p-0\" \"$KLOG_DIR/p-1\" >out" >tty &&
	lines <tty | tail -n 1 >last &&
	grep "^kdump: [0-9.]* [KM]iB, [0-9.]* [KMG]*i*B/s, 100%$" last &&
	KLOG_PROGRESS_DELAY_MS=0 kdump --repair "$KLOG_DIR/p-0" >out 2>err &&
	echo "partition '"'"'p-0'"'"': nothing to repair" >expect &&
	test_cmp expect err
'

test_done
