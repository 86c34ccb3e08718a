#!/bin/sh
# klog - kgroup: options, usage, bad names and values, unknown topics. MIT licence.

test_description='kgroup: usage and bad input get one line and a documented exit code, embedded and through a broker'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-broker.sh"

longname=$(printf "%0250d" 0 | tr 0 a)

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t -p 2 &&
	printf "a\nb\n" | kproduce -p 0 t
'

# one_line_naming WHAT: stderr (file err) is one line that contains 'WHAT'
one_line_naming() {
	test_line_count = 1 err || { cat err >&2; return 1; }
	grep -F -e "'$1'" -e "'$(echo "$1" | cut -c1-20)" err >/dev/null || {
		echo "the error does not name '$1': $(cat err)" >&2
		return 1
	}
}

# usage_error CMD...: exit 2, "usage: " on stderr, nothing on stdout
usage_error() {
	test_expect_code 2 "$@" >out 2>err || return 1
	if test -s out; then
		echo "$*: data on stdout" >&2
		return 1
	fi
	grep "^usage: kgroup" err >/dev/null || {
		echo "$*: no usage line: $(cat err)" >&2
		return 1
	}
}

test_expect_success '-h prints help on stdout, exit 0; -V the version' '
	kgroup -h >out 2>err &&
	test_must_fail test -s err &&
	for w in list describe reset delete --to-earliest --to-latest --to-offset \
		--shift-by --to-datetime --execute --topic; do
		grep -e "$w" out >/dev/null || { echo "help lacks $w" >&2; return 1; }
	done &&
	kgroup reset -h >out2 &&
	test_cmp out out2 &&
	kgroup -V >out &&
	echo "kgroup 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success 'no command, an unknown command or option: usage, exit 2' '
	usage_error kgroup &&
	usage_error kgroup frobnicate &&
	grep "unknown command .frobnicate." err &&
	usage_error kgroup --frob list &&
	usage_error kgroup -Z list &&
	usage_error kgroup list --frob &&
	usage_error kgroup describe --frob g &&
	usage_error kgroup reset g --frob --to-latest &&
	usage_error kgroup delete --frob g
'

test_expect_success 'wrong operands: list takes none, reset one group, delete at least one' '
	usage_error kgroup list g &&
	usage_error kgroup reset --to-latest &&
	usage_error kgroup reset g h --to-latest &&
	usage_error kgroup delete &&
	usage_error kgroup list -0 -J &&
	usage_error kgroup describe --state --members g &&
	usage_error kgroup reset g --to-latest --execute --dry-run
'

test_expect_success 'reset needs exactly one of the five specs' '
	usage_error kgroup reset g --topic t &&
	grep "give one of" err &&
	usage_error kgroup reset g --to-earliest --to-latest &&
	usage_error kgroup reset g --to-offset 3 --shift-by 1 &&
	usage_error kgroup reset g --to-latest --to-datetime 0 &&
	usage_error kgroup reset g --topic t --to-offset &&
	usage_error kgroup reset g --topic
'

test_expect_success 'reset: bad numbers are usage errors naming the value' '
	for v in x -1 1.5 "" 99999999999999999999 "3 "; do
		test_expect_code 2 kgroup reset g --topic t --to-offset "$v" >out 2>err &&
		one_line_naming "$v" &&
		test_must_fail test -s out || return 1
	done &&
	for v in x 1.5 "" 99999999999999999999 +-1; do
		test_expect_code 2 kgroup reset g --topic t --shift-by "$v" >out 2>err &&
		one_line_naming "$v" || return 1
	done
'

test_expect_success 'reset --to-datetime: malformed dates are usage errors naming them' '
	for v in x "" 2024-01-01 2024-01-01T00:00 "2024-01-01T00:00:00 " \
		2024-13-01T00:00:00 2024-00-10T00:00:00 2024-02-30T00:00:00 2023-02-29T00:00:00 \
		2024-01-32T00:00:00 2024-01-01T24:00:00 2024-01-01T00:60:00 2024-01-01T00:00:60 \
		2024-01-01T00:00:00. 2024-01-01T00:00:00.1234567890 2024-01-01T00:00:00+2 \
		2024-01-01T00:00:00+24:00 2024-01-01T00:00:00+01:60 2024-01-01T00:00:00Q \
		2024-01-01X00:00:00 24-01-01T00:00:00 -5 1969-12-31T23:59:59Z \
		1970-01-01T00:00:00+01:00; do
		test_expect_code 2 kgroup reset g --topic t --to-datetime "$v" >out 2>err || {
			echo "accepted: $v" >&2
			return 1
		}
		one_line_naming "$v" || return 1
	done
'

# a date that parses gets as far as the topic: "no such topic", exit 1
test_expect_success 'reset --to-datetime: well-formed dates and epoch ms are accepted' '
	for v in 0 2024 1700000000000 2024-02-29T12:00:00Z 2024-02-29t12:00:00z \
		"2024-02-29 12:00:00" 2024-01-01T00:00:00 2024-01-01T00:00:00.5 \
		2024-01-01T00:00:00.123456789Z 2024-01-01T00:00:00+02:00 \
		2024-01-01T00:00:00-0530 1970-01-01T00:00:00Z 2000-02-29T23:59:59.999-23:59; do
		test_expect_code 1 kgroup reset g --topic nope --to-datetime "$v" >out 2>err || {
			echo "refused: $v: $(cat err)" >&2
			return 1
		}
		echo "kgroup: no such topic '"'"'nope'"'"'" >expect &&
		test_cmp expect err || return 1
	done
'

test_expect_success 'invalid group names, every command: exit 2, one line naming it' '
	for name in "../x" "a/b" "" "$longname" "." ".." "x y" "g\$" "a*b" "a:b"; do
		for cmd in "describe" "delete" "reset --topic t --to-latest" \
			"reset --to-earliest --execute"; do
			# shellcheck disable=SC2086
			test_expect_code 2 kgroup $cmd "$name" >out 2>err || {
				echo "kgroup $cmd '"'"'$name'"'"'" >&2
				return 1
			}
			one_line_naming "$name" || return 1
			grep "invalid group name" err >/dev/null || return 1
			test_must_fail test -s out || return 1
		done
	done &&
	test_path_is_missing "$TRASH/x" &&
	test_path_is_missing "$KLOG_DIR/__consumer_offsets.topic" &&
	test_path_is_missing "$KLOG_DIR/__consumer_offsets-0"
'

test_expect_success 'describe: a bad name among good ones stops before any output' '
	test_expect_code 2 kgroup describe g "a/b" >out 2>err &&
	one_line_naming "a/b" &&
	test_must_fail test -s out
'

test_expect_success 'reset --topic: bad topic names and partitions are usage errors' '
	for v in "../x" "a/b" "" "$longname" "t:" "t:x" "t:-1" "t:1:2" ":0" "t:99999999999"; do
		test_expect_code 2 kgroup reset g --topic "$v" --to-latest >out 2>err || {
			echo "accepted --topic $v" >&2
			return 1
		}
		test_line_count = 1 err || return 1
		test_must_fail test -s out || return 1
	done
'

test_expect_success EMBEDDED 'no -d and no KLOG_DIR: exit 2 with the contract message' '
	(
		unset KLOG_DIR &&
		test_expect_code 2 kgroup list >out 2>err
	) &&
	test_must_fail test -s out &&
	echo "kgroup: no log directory: use -d DIR or set KLOG_DIR" >expect &&
	test_cmp expect err
'

test_expect_success EMBEDDED 'a log directory that does not exist: exit 1 naming it' '
	test_expect_code 1 kgroup -d nowhere list >out 2>err &&
	grep nowhere err &&
	test_line_count = 1 err &&
	test_path_is_missing nowhere
'

# unknown topics and partitions, the same both ways
unknown_topics() {
	test_expect_code 1 kgroup reset g --topic nope --to-latest >out 2>err &&
	echo "kgroup: no such topic 'nope'" >expect &&
	test_cmp expect err &&
	test_must_fail test -s out &&
	test_expect_code 1 kgroup reset g --topic t --topic nope:0 --to-earliest --execute \
		>out 2>err &&
	echo "kgroup: no such topic 'nope'" >expect &&
	test_cmp expect err &&
	test_must_fail test -s out &&
	test_expect_code 1 kgroup reset g --topic t:2 --to-latest >out 2>err &&
	echo "kgroup: no such partition 't-2' (topic 't' has 2)" >expect &&
	test_cmp expect err &&
	test_must_fail test -s out
}

test_expect_success 'reset of an unknown topic or partition: exit 1 naming it' '
	unknown_topics
'

test_expect_success 'through a broker: the same usage errors and unknown topics' '
	start_broker b1 &&
	usage_error kgroup reset g --to-earliest --to-latest &&
	test_expect_code 2 kgroup describe "a/b" >out 2>err &&
	one_line_naming "a/b" &&
	test_expect_code 2 kgroup reset g --topic t --to-datetime 2024-02-30T00:00:00 2>err &&
	one_line_naming 2024-02-30T00:00:00 &&
	unknown_topics &&
	test_expect_code 1 kgroup -b 127.0.0.1:1 list >out 2>err &&
	test_line_count = 1 err &&
	grep "127.0.0.1:1" err
'

test_done
