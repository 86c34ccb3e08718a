#!/bin/sh
# klog - bad input: names, options, offsets, read-only and full disks. MIT licence.

test_description='bad input gets one line naming the object and a documented exit code'
. "$(dirname "$0")/lib.sh"

# EMBEDDED tests change permissions or limits on the log directory itself.
# permissions only bite a user other than root: as root, run the tool as
# nobody (setpriv) on a log directory given to nobody
if test "$(id -u)" != 0; then
	test_set_prereq UNPRIV
	as_unpriv() { "$@"; }
	give_away() { :; }
elif setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	test_set_prereq UNPRIV
	as_unpriv() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	give_away() { chown -R 65534:65534 "$@"; }
fi

SEG=00000000000000000000
longname=$(printf "%0250d" 0 | tr 0 a)

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t --partitions 3 &&
	printf "a\nb\n" | kproduce -p 0 t
'

# one_line_naming WHAT: stderr (file err) is one line that contains 'WHAT'
one_line_naming() {
	test_line_count = 1 err || { cat err >&2; return 1; }
	# a very long name may be shortened: 'aaaa...'
	grep -F -e "'$1'" -e "'$(echo "$1" | cut -c1-20)" err >/dev/null || {
		echo "the error does not name '$1': $(cat err)" >&2
		return 1
	}
}

# bad_topic NAME: every tool refuses it with exit 2 and one line naming it
bad_topic() {
	for cmd in "ktopic create" "ktopic describe" "ktopic delete" "kproduce" \
		"kproduce --create" "kconsume -e" "kconsume -e -o end"; do
		# shellcheck disable=SC2086
		echo x | test_expect_code 2 $cmd "$1" >out 2>err || {
			echo "$cmd '$1'" >&2
			return 1
		}
		one_line_naming "$1" || return 1
		if test -s out; then
			echo "$cmd: data on stdout" >&2
			return 1
		fi
	done
}

test_expect_success 'bad topic names, every tool: exit 2, one line naming it' '
	for name in "../x" "a/b" "" "$longname" "." ".." "x y" "t\$" "a*b"; do
		bad_topic "$name" || return 1
	done &&
	test_path_is_missing "$TRASH/x" &&
	test_path_is_missing "$TRASH/x.topic" &&
	test_path_is_missing "$KLOG_DIR/a" &&
	ktopic list >actual &&
	echo t >expect &&
	test_cmp expect actual
'

test_expect_success 'kconsume TOPIC:PARTITION with a bad name or partition' '
	test_expect_code 2 kconsume -e "../x:0" >out 2>err &&
	one_line_naming "../x" &&
	test_expect_code 2 kconsume -e "t:abc" >out 2>err &&
	test_expect_code 2 kconsume -e "t:" >out 2>err &&
	test_must_fail kconsume -e "t:-1" >out 2>err &&
	test_must_fail test -s out
'

test_expect_success EMBEDDED 'no log directory: every tool exits 2 with the same message' '
	for tool in ktopic kproduce kconsume kgroup; do
		(
			unset KLOG_DIR &&
			case $tool in
			ktopic) test_expect_code 2 ktopic list 2>err ;;
			kgroup) test_expect_code 2 kgroup list 2>err ;;
			kproduce) echo x | test_expect_code 2 kproduce t 2>err ;;
			kconsume) test_expect_code 2 kconsume -e t 2>err ;;
			esac
		) &&
		echo "$tool: no log directory: use -d DIR or set KLOG_DIR" >expect &&
		test_cmp expect err || return 1
	done
'

test_expect_success EMBEDDED 'a log directory that does not exist: exit 1 naming it' '
	test_expect_code 1 ktopic -d nowhere list >out 2>err &&
	grep "nowhere" err &&
	test_line_count = 1 err &&
	test_expect_code 1 kconsume -d nowhere -e t 2>err &&
	grep "nowhere" err &&
	echo x | test_expect_code 1 kproduce -d nowhere t 2>err &&
	grep "nowhere" err &&
	test_expect_code 1 kgroup -d nowhere list >out 2>err &&
	grep "nowhere" err &&
	test_line_count = 1 err &&
	test_must_fail test -s out &&
	test_path_is_missing nowhere
'

test_expect_success 'garbage options: usage on stderr, exit 2, stdout empty' '
	for cmd in "ktopic --frob list" "ktopic list --frob" "ktopic -Z list" \
		"kproduce --frob t" "kproduce -% t" "kproduce -p" "kproduce -B x t" \
		"kproduce -l x t" "kproduce -H nokeyvalue t" "kproduce -D \\q t" \
		"kconsume --frob t" "kconsume -Z t" "kconsume -c x t" "kconsume -c" \
		"kconsume -f" "kconsume -o" "kconsume -g" "kconsume --strategy range t" \
		"kconsume -g g --strategy bogus t" "kconsume -g g --retries x t" \
		"kconsume -g g --commit-interval x t" "kconsume -g g --dead-letter" \
		"ktopic compact" "ktopic compact t --map-entries x" "ktopic compact t --frob" \
		"kgroup --frob list" "kgroup list --frob" "kgroup -Z list" "kgroup frob" \
		"kgroup" "kgroup describe --frob" "kgroup reset g --topic t --to-offset" \
		"kgroup reset g --topic t --to-offset x" "kgroup delete --frob g" \
		"kdump --frob x" "kdump -Z x"; do
		# shellcheck disable=SC2086
		echo x | test_expect_code 2 $cmd >out 2>err || {
			echo "in: $cmd" >&2
			return 1
		}
		if test -s out; then
			echo "$cmd: data on stdout" >&2
			return 1
		fi
		test_line_count -ge 1 err || return 1
	done &&
	kconsume -e t:0 >actual &&
	printf "a\nb\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'usage errors print a usage line' '
	for cmd in "ktopic --frob" "kproduce --frob t" "kconsume --frob t" "kgroup --frob" \
		"kgroup list --frob" "kdump --frob"; do
		# shellcheck disable=SC2086
		test_expect_code 2 $cmd </dev/null 2>err &&
		grep "^usage: " err || { echo "$cmd" >&2; return 1; }
	done
'

test_expect_success 'bad -o values: exit 2 before reading' '
	for o in abc "" s@ s@abc 1x -x "- 1" 12abc beginningx s@-5x; do
		test_expect_code 2 kconsume -e -o "$o" t >out 2>err || {
			echo "-o '\''$o'\''" >&2
			return 1
		}
		test_line_count = 1 err || return 1
		test_must_fail test -s out || return 1
	done
'

test_expect_success 'bad -f: unknown %-token or escape, exit 2 before reading' '
	for f in "%x" "%s %Q" "%s\n%"; do
		test_expect_code 2 kconsume -e -f "$f" t >out 2>err || {
			echo "-f '\''$f'\''" >&2
			return 1
		}
		test_must_fail test -s out || return 1
	done
'

test_expect_success '-p out of range (kproduce, kconsume): refused naming the topic' '
	# the contract is silent; the tools say 1 (no such partition), kept so
	echo x | test_expect_code 1 kproduce -p 3 t >out 2>err &&
	one_line_naming t-3 &&
	test_expect_code 1 kconsume -e t:3 >out 2>err &&
	one_line_naming t-3 &&
	echo x | test_expect_code 2 kproduce -p -1 t 2>err &&
	ktopic describe t | cut -f4 >ends &&
	printf "2\n0\n0\n" >expect &&
	test_cmp expect ends
'

test_expect_success 'bad partition counts and configs for ktopic' '
	test_expect_code 2 ktopic create z --partitions 0 2>err &&
	test_expect_code 2 ktopic create z --partitions -1 2>err &&
	test_expect_code 2 ktopic create z --partitions many 2>err &&
	test_expect_code 2 ktopic create z --config segment.bytes 2>err &&
	test_expect_code 2 ktopic create z --config =1 2>err &&
	test_expect_code 2 ktopic create z --config nosuch=1 2>err &&
	ktopic list >actual &&
	echo t >expect &&
	test_cmp expect actual
'

test_expect_success 'unknown codec: exit 2 naming it' '
	echo x | test_expect_code 2 kproduce -z lzma t 2>err &&
	grep lzma err &&
	test_line_count = 1 err
'

test_expect_success 'a record over max.message.bytes: exit 1, named, others kept' '
	ktopic create small --config max.message.bytes=100 &&
	{ echo ok1 && seq -s , 1 100 && echo ok2; } | test_expect_code 1 kproduce small 2>err &&
	one_line_naming small &&
	grep "max.message.bytes 100" err &&
	kconsume -e small >actual &&
	printf "ok1\nok2\n" >expect &&
	test_cmp expect actual
'

test_expect_success EMBEDDED,UNPRIV 'read-only partition: kproduce exit 1, one line, data kept' '
	test_when_finished "chmod -R u+w \"$KLOG_DIR\"" &&
	give_away "$KLOG_DIR" &&
	chmod -R a-w "$KLOG_DIR/t-0" &&
	echo x | test_expect_code 1 as_unpriv kproduce -p 0 t 2>err &&
	test_line_count = 1 err &&
	grep "^kproduce: .*t-0.*: Permission denied\$" err &&
	as_unpriv kconsume -e t:0 >actual &&
	printf "a\nb\n" >expect &&
	test_cmp expect actual
'

test_expect_success EMBEDDED,UNPRIV 'read-only log directory: ktopic create exit 1, one line' '
	test_when_finished "chmod u+w \"$KLOG_DIR\"" &&
	give_away "$KLOG_DIR" &&
	chmod a-w "$KLOG_DIR" &&
	test_expect_code 1 as_unpriv ktopic create ro 2>err &&
	test_line_count = 1 err &&
	grep "^ktopic: .*ro.*: Permission denied\$" err &&
	ktopic list >actual &&
	test_must_fail grep -x ro actual
'

test_expect_success EMBEDDED 'full disk (ulimit -f): exit 1, one line, acked data intact' '
	ktopic create full &&
	seq -f "early%g" 1 100 | kproduce -v full 2>acks0 &&
	seq -f "r%06g" 1 200000 >big &&
	# SIGXFSZ ignored, as a full disk gives an error, not a signal
	test_expect_code 1 sh -c "trap \"\" XFSZ; ulimit -f 64; exec kproduce -v -B 2000 full big" 2>err &&
	grep -v "acked" err >errors &&
	test_line_count = 1 errors &&
	grep "full-0" errors &&
	grep "File too large" errors &&
	{ grep "acked" err || true; } >acks1 &&
	echo "# $(wc -l <acks1) batches acked before the limit" &&
	kconsume -e -f "%o %s\n" full >all &&
	seq -f "early%g" 1 100 | awk "{ print NR - 1 \" \" \$0 }" >expect &&
	head -n 100 all >first &&
	test_cmp expect first &&
	last=$(tail -n 1 acks1 | cut -d" " -f6) &&
	if test -n "$last"; then
		test "$(wc -l <all)" -ge $((last + 1)) &&
		sed -n "101,$((last + 1))p" all | cut -d" " -f2 >got &&
		head -n $((last - 99)) big >want &&
		test_cmp want got
	fi
'

test_expect_success EMBEDDED 'after the full disk: the log verifies and takes appends' '
	kdump --verify "$KLOG_DIR/full-0" >/dev/null &&
	end=$(ktopic describe full | cut -f4) &&
	echo after | kproduce full &&
	kconsume -e -o $end -f "%o %s\n" full >actual &&
	echo "$end after" >expect &&
	test_cmp expect actual &&
	kconsume -e -f "%o\n" full >offs &&
	seq 0 $end >expect &&
	test_cmp expect offs
'

test_expect_success EMBEDDED 'a garbage .topic file: refused, naming it' '
	ktopic create g &&
	printf "partitions=zero\n" >"$KLOG_DIR/g.topic" &&
	test_must_fail ktopic describe g 2>err &&
	test_line_count = 1 err &&
	grep "g.topic" err
'

test_expect_success EMBEDDED 'a bit flipped: kconsume exit 1 naming the segment' '
	ktopic create flip &&
	printf "a\nb\nc\n" | kproduce flip &&
	printf "\001" | dd of="$KLOG_DIR/flip-0/$SEG.log" bs=1 seek=70 conv=notrunc 2>/dev/null &&
	test_expect_code 1 kconsume -e flip >out 2>err &&
	test_line_count = 1 err &&
	grep "flip-0/$SEG.log" err &&
	test_expect_code 1 kdump --verify "$KLOG_DIR/flip-0" >/dev/null 2>&1
'

test_done
