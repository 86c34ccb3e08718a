#!/bin/sh
# klog - ktopic describe -r/-J: recent write rates per partition, so skew shows. MIT licence.

test_description='a skewed load shows in describe -r and -J (from the log, or the broker'"'"'s counts)'
. "$(dirname "$0")/lib.sh"

# Tools only: runs embedded (rates read off the log's time index) and, with
# KLOG_TEST_REMOTE, through a broker (its own counts, DESCRIBE TOPIC RATES).

# field N of partition P in describe -r output (file rates)
field() {
	awk -F "\t" -v p="$1" -v f="$2" '$2 == p { print $f }' rates
}

# a > b, decimals
gt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

# load NAME: a topic of 4 partitions, most records to 0, a few to 1 and 2,
# none to 3, written just now (the rates look 10 s back: each test that
# reads rates writes its load first, so a slow machine does not see it age)
load() {
	ktopic create "$1" --partitions 4 &&
	seq 1 2000 | kproduce -p 0 "$1" &&
	seq 1 50 | kproduce -p 1 "$1" &&
	seq 1 20 | kproduce -p 2 "$1"
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR"
'

test_expect_success 'describe -r: nine columns, partition 0 writes fastest, 3 not at all' '
	load skew &&
	ktopic describe -r skew >rates &&
	test_line_count = 4 rates &&
	awk -F "\t" "NF != 9 { exit 1 }" rates &&
	r0=$(field 0 8) && r1=$(field 1 8) && r2=$(field 2 8) && r3=$(field 3 8) &&
	gt "$r0" "$r1" && gt "$r0" "$r2" && gt "$r1" "$r2" && gt "$r2" 0 &&
	test "$r3" = 0.0 &&
	b0=$(field 0 9) && b1=$(field 1 9) &&
	gt "$b0" "$b1" && test "$(field 3 9)" = 0.0
'

test_expect_success 'the rate is records over the 10 s window (all written just now)' '
	load skew2 &&
	ktopic describe -r skew2 >rates &&
	# 2000 records in the last 10 s: 200 a second, unless this machine
	# took seconds to get here (then less, never more)
	r0=$(field 0 8) &&
	awk -v r="$r0" "BEGIN { exit !(r <= 200 && r > 0) }" &&
	# bytes: at least the values themselves (4 bytes and more a record)
	awk -v r="$(field 0 9)" -v n="$r0" "BEGIN { exit !(r >= 4 * n) }"
'

test_expect_success 'the first seven columns are those of plain describe' '
	ktopic describe skew >plain &&
	ktopic describe -r skew | cut -f1-7 >first7 &&
	test_cmp plain first7
'

test_expect_success 'describe -J: one JSON object per partition with the rates' '
	load skew3 &&
	ktopic describe -J skew3 >json &&
	ktopic describe skew3 >plain &&
	test_line_count = 4 json &&
	# the fields in a fixed order; the same values as describe
	sed -E "s/^\{\"topic\":\"([^\"]*)\",\"partition\":([0-9]+),\"log_start\":(-?[0-9]+),\"log_end\":(-?[0-9]+),\"segments\":([0-9]+),\"bytes\":([0-9]+),\"state\":\"([a-z]+)\",\"records_per_s\":([0-9.]+),\"bytes_per_s\":([0-9.]+)\}\$/\1	\2	\3	\4	\5	\6	\7	\8	\9/" json >rates &&
	cut -f1-7 rates >first7j &&
	test_cmp plain first7j &&
	awk -F "\t" "NF != 9 { exit 1 }" rates &&
	gt "$(field 0 8)" "$(field 1 8)" && gt "$(field 1 8)" "$(field 2 8)" &&
	test "$(field 3 8)" = 0.0 && gt "$(field 0 9)" "$(field 1 9)"
'

test_expect_success 'a hot key shows: unsalted on one partition, salted over four' '
	ktopic create hot --partitions 8 &&
	seq 1 800 | kproduce -k user42 hot &&
	ktopic describe -r hot | awk -F "\t" "\$8 > 0" >busy &&
	test_line_count = 1 busy &&
	ktopic create hot4 --partitions 8 &&
	seq 1 800 | kproduce --salt 4 -k user42 hot4 &&
	ktopic describe -r hot4 | awk -F "\t" "\$8 > 0" >busy &&
	test_line_count = 4 busy
'

test_expect_success 'every topic without names; -r and -J exclude each other and -c' '
	ktopic describe -r >all &&
	test_line_count = 28 all &&
	test_expect_code 2 ktopic describe -r -J skew 2>err &&
	grep usage err &&
	test_expect_code 2 ktopic describe -c -r skew 2>err &&
	grep usage err
'

test_expect_success TTY 'on a terminal -r has a header naming the rate columns' '
	test_on_tty "ktopic describe -r skew" | tr -d "\r" | head -n 1 >actual &&
	printf "TOPIC\tPARTITION\tLOG_START\tLOG_END\tSEGMENTS\tBYTES\tSTATE\tRECORDS_PER_S\tBYTES_PER_S\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a missing topic is an error, as for plain describe' '
	test_expect_code 1 ktopic describe -r nosuch 2>err &&
	grep "nosuch" err
'

test_done
