#!/bin/sh
# klog - ktopic: create, list, describe, alter, delete, config, names. MIT licence.

test_description='ktopic manages topics: exact output, config, names, usage'
. "$(dirname "$0")/lib.sh"

# Tests marked EMBEDDED look at the files of the log directory; the others reach
# the log only through the tools, so they also hold in remote mode.

tab=$(printf '\t')

test_expect_success EMBEDDED 'no -d and no KLOG_DIR: exit 2 with the contract message' '
	(
		unset KLOG_DIR &&
		test_expect_code 2 ktopic list >out 2>err
	) &&
	test_must_fail test -s out &&
	echo "ktopic: no log directory: use -d DIR or set KLOG_DIR" >expect &&
	test_cmp expect err
'

test_expect_success '-h prints help on stdout, exit 0; -V the version' '
	ktopic -h >out 2>err &&
	test -s out &&
	test_must_fail test -s err &&
	grep create out && grep describe out &&
	ktopic -V >out &&
	echo "ktopic 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success 'an unknown option: usage on stderr, exit 2, nothing on stdout' '
	test_expect_code 2 ktopic --no-such-option list >out 2>err &&
	test_must_fail test -s out &&
	grep "^usage: " err &&
	test_expect_code 2 ktopic -Q list >out 2>err &&
	grep "^usage: " err &&
	test_expect_code 2 ktopic >out 2>err &&
	grep "^usage: " err &&
	test_expect_code 2 ktopic frobnicate >out 2>err &&
	test_must_fail test -s out
'

test_expect_success 'create and list: sorted, one per line' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create orders --partitions 3 &&
	ktopic create alpha &&
	ktopic create zeta -p 2 &&
	ktopic list >actual &&
	printf "alpha\norders\nzeta\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'list -0 terminates names with NUL' '
	ktopic list -0 >actual &&
	printf "alpha\000orders\000zeta\000" >expect &&
	cmp expect actual
'

test_expect_success 'describe: one tab-separated line per partition, empty log' '
	ktopic describe orders >actual &&
	test_line_count = 3 actual &&
	cut -f1-4 actual >cols &&
	printf "orders\t0\t0\t0\norders\t1\t0\t0\norders\t2\t0\t0\n" >expect &&
	test_cmp expect cols &&
	# seven fields, no header, sizes of an empty partition are 0 bytes
	awk -F"$tab" "NF != 7 || \$6 != 0 || \$5 !~ /^[01]\$/ || \$7 != \"online\" { exit 1 }" actual
'

test_expect_success 'describe after producing: exact log end, segments and bytes' '
	# one batch holding one record "x": 61-byte header + 8-byte record
	printf "x\n" | kproduce -p 1 orders &&
	ktopic describe orders >actual &&
	sed -n 2p actual >line &&
	printf "orders\t1\t0\t1\t1\t69\tonline\n" >expect &&
	test_cmp expect line &&
	printf "y\nz\n" | kproduce -p 1 orders &&
	ktopic describe orders >actual &&
	sed -n 2p actual | cut -f1-4 >line &&
	printf "orders\t1\t0\t3\n" >expect &&
	test_cmp expect line
'

test_expect_success 'describe several topics at once' '
	ktopic describe alpha zeta >actual &&
	cut -f1,2 actual >cols &&
	printf "alpha\t0\nzeta\t0\nzeta\t1\n" >expect &&
	test_cmp expect cols
'

test_expect_success 'create an existing topic: exit 1; --if-not-exists: exit 0' '
	test_expect_code 1 ktopic create orders 2>err &&
	grep "orders" err &&
	test_line_count = 1 err &&
	ktopic create orders --if-not-exists &&
	ktopic describe orders >actual &&
	test_line_count = 3 actual
'

test_expect_success 'alter grows partitions, keeps data' '
	ktopic alter orders --partitions 5 &&
	ktopic describe orders >actual &&
	cut -f1-4 actual >cols &&
	printf "orders\t0\t0\t0\norders\t1\t0\t3\norders\t2\t0\t0\norders\t3\t0\t0\norders\t4\t0\t0\n" >expect &&
	test_cmp expect cols &&
	kconsume -e -f "%p %s\n" orders:1 >actual &&
	printf "1 x\n1 y\n1 z\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'alter refuses to shrink partitions (exit 1)' '
	test_expect_code 1 ktopic alter orders --partitions 2 2>err &&
	grep "orders" err &&
	test_line_count = 1 err &&
	ktopic describe orders >actual &&
	test_line_count = 5 actual
'

test_expect_success '--config is stored and shown by describe -c' '
	ktopic create conf --config retention.ms=1000 -c segment.bytes=4096 \
		--config cleanup.policy=compact &&
	ktopic describe -c conf >actual &&
	grep "^retention.ms=1000\$" actual &&
	grep "^segment.bytes=4096\$" actual &&
	grep "^cleanup.policy=compact\$" actual &&
	# effective configuration: defaults are shown too
	grep "^max.message.bytes=1048588\$" actual &&
	grep "^retention.bytes=-1\$" actual &&
	ktopic describe --config conf >actual2 &&
	test_cmp actual actual2
'

test_expect_success 'alter --config changes one key and keeps the others' '
	ktopic alter conf --config retention.ms=2000 &&
	ktopic describe -c conf >actual &&
	grep "^retention.ms=2000\$" actual &&
	grep "^segment.bytes=4096\$" actual &&
	ktopic describe conf >parts &&
	test_line_count = 1 parts
'

test_expect_success EMBEDDED 'config lives in DIR/NAME.topic as key=value lines' '
	test_path_is_file "$KLOG_DIR/conf.topic" &&
	grep "^retention.ms=2000\$" "$KLOG_DIR/conf.topic" &&
	grep "^segment.bytes=4096\$" "$KLOG_DIR/conf.topic" &&
	grep "^partitions=1\$" "$KLOG_DIR/conf.topic" &&
	grep "^partitions=5\$" "$KLOG_DIR/orders.topic" &&
	test_path_is_dir "$KLOG_DIR/orders-0" &&
	test_path_is_dir "$KLOG_DIR/orders-4"
'

test_expect_success EMBEDDED 'a hand-edited .topic file is honoured (comments allowed)' '
	{
		echo "# edited by hand" &&
		echo "partitions=1" &&
		echo "retention.ms=12345"
	} >"$KLOG_DIR/conf.topic" &&
	ktopic describe -c conf >actual &&
	grep "^retention.ms=12345\$" actual
'

test_expect_success 'an unknown config key: exit 2, nothing created' '
	test_expect_code 2 ktopic create bad1 --config no.such.key=1 2>err &&
	grep "no.such.key" err &&
	test_line_count = 1 err &&
	ktopic list >actual &&
	test_must_fail grep "^bad1\$" actual &&
	test_expect_code 2 ktopic alter conf --config no.such.key=1 2>err &&
	grep "no.such.key" err
'

test_expect_success 'a bad config value: exit 2' '
	test_expect_code 2 ktopic create bad2 --config segment.bytes=lots 2>err &&
	test_line_count = 1 err &&
	test_expect_code 2 ktopic create bad3 --config cleanup.policy=sometimes 2>err &&
	test_expect_code 2 ktopic create bad4 --config compression.type=brotli 2>err &&
	ktopic list >actual &&
	test_must_fail grep "^bad" actual
'

longname=$(printf "%0250d" 0 | tr 0 a)
name249=$(printf "%0249d" 0 | tr 0 b)

# bad_name NAME: every ktopic command refuses NAME with exit 2 and one line naming it
bad_name() {
	for cmd in create describe delete alter; do
		extra=
		test $cmd = alter && extra="--partitions 9"
		# shellcheck disable=SC2086
		test_expect_code 2 ktopic $cmd "$1" $extra >out 2>err || return 1
		test_line_count = 1 err || return 1
		# a very long name may be shortened: 'aaaa...'
		grep -F -e "'$1'" -e "'$(echo "$1" | cut -c1-20)" err >/dev/null || {
			echo "ktopic $cmd: the error does not name '$1': $(cat err)" >&2
			return 1
		}
		if test -s out; then
			echo "ktopic $cmd: output on stdout" >&2
			return 1
		fi
	done
	return 0
}

test_expect_success 'bad topic names: exit 2 and one line naming the topic' '
	bad_name "../x" &&
	bad_name "a/b" &&
	bad_name "" &&
	bad_name "$longname" &&
	bad_name "." &&
	bad_name ".." &&
	bad_name "a b" &&
	bad_name "caf\303\251" &&
	test_path_is_missing "$TRASH/x" &&
	test_path_is_missing "$KLOG_DIR/a" &&
	ktopic list >actual &&
	printf "alpha\nconf\norders\nzeta\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'names with every allowed character class are fine' '
	ktopic create "A.z_0-9" &&
	ktopic create "_.-" &&
	ktopic list >actual &&
	grep -x "A.z_0-9" actual &&
	grep -x "_.-" actual &&
	ktopic delete "A.z_0-9" &&
	ktopic delete "_.-"
'

test_expect_success 'a 249-byte name (the longest Kafka allows) works' '
	ktopic create "$name249" --partitions 2 &&
	ktopic list >actual &&
	grep -x "$name249" actual &&
	ktopic describe -c "$name249" >/dev/null &&
	ktopic alter "$name249" --config retention.ms=5 &&
	echo x | kproduce "$name249" &&
	ktopic delete "$name249" &&
	ktopic list >actual &&
	test_must_fail grep -x "$name249" actual
'

test_expect_success 'delete removes the topic; --if-exists' '
	ktopic delete orders &&
	ktopic list >actual &&
	printf "alpha\nconf\nzeta\n" >expect &&
	test_cmp expect actual &&
	test_expect_code 1 ktopic describe orders 2>err &&
	grep "orders" err &&
	test_expect_code 1 ktopic delete orders 2>err &&
	grep "orders" err &&
	ktopic delete orders --if-exists
'

test_expect_success EMBEDDED 'delete leaves no files behind' '
	test_path_is_missing "$KLOG_DIR/orders.topic" &&
	for p in 0 1 2 3 4; do
		test_path_is_missing "$KLOG_DIR/orders-$p" || return 1
	done
'

test_expect_success 'a deleted topic can be created again, empty' '
	ktopic create orders -p 2 &&
	ktopic describe orders >actual &&
	cut -f1-4 actual >cols &&
	printf "orders\t0\t0\t0\norders\t1\t0\t0\n" >expect &&
	test_cmp expect cols &&
	kconsume -e orders >out &&
	test_must_fail test -s out
'

test_expect_success EMBEDDED 'KLOG_DIR and -d name the same thing; -d wins' '
	mkdir other &&
	ktopic -d other create elsewhere &&
	ktopic -d other list >actual &&
	echo elsewhere >expect &&
	test_cmp expect actual &&
	ktopic list >actual &&
	test_must_fail grep elsewhere actual
'

test_done
