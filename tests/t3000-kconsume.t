#!/bin/sh
# klog - kconsume: formats, JSON, start offsets, -e, -c, follow, EPIPE. MIT licence.

test_description='kconsume reads records back: formats, positions, follow mode'
. "$(dirname "$0")/lib.sh"

# Only ktopic/kproduce/kconsume are used here (remote mode can run it all).

# json_check: every stdin line is one strict JSON object
json_check() {
	python3 -c '
import json, sys
n = 0
for l in sys.stdin:
    assert l.endswith("\n")
    o = json.loads(l)
    assert isinstance(o, dict), l
    n += 1
print(n)
'
}

test_expect_success 'setup: t with 5 records, k3 with 3 partitions' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t &&
	ktopic create k3 --partitions 3 &&
	before=$(($(date +%s) * 1000)) &&
	printf "a\nb\nc\nd\ne\n" | kproduce t &&
	after=$((($(date +%s) + 1) * 1000)) &&
	printf "x\n" | kproduce -p 0 k3 &&
	printf "y\nz\n" | kproduce -p 2 -k key -H h=1 k3
'

test_expect_success EMBEDDED 'no -d and no KLOG_DIR: exit 2' '
	(
		unset KLOG_DIR &&
		test_expect_code 2 kconsume -e t 2>err
	) &&
	echo "kconsume: no log directory: use -d DIR or set KLOG_DIR" >expect &&
	test_cmp expect err
'

test_expect_success 'usage, help and version' '
	test_expect_code 2 kconsume --bogus t >out 2>err &&
	grep "^usage: " err &&
	test_must_fail test -s out &&
	test_expect_code 2 kconsume 2>err &&
	grep "^usage: " err &&
	test_expect_code 2 kconsume -e -c 2>err &&
	kconsume -h >out &&
	test -s out &&
	kconsume -V >out &&
	echo "kconsume 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success 'default format is the value and a newline' '
	kconsume -e t >actual &&
	printf "a\nb\nc\nd\ne\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a missing topic: exit 1 naming it' '
	test_expect_code 1 kconsume -e nope >out 2>err &&
	grep "'\''nope'\''" err &&
	test_line_count = 1 err
'

test_expect_success 'format tokens %t %p %o %k %K %s %S %%' '
	kconsume -e -f "%t|%p|%o|%k|%K|%s|%S|%%\n" k3:2 >actual &&
	printf "k3|2|0|key|3|y|1|%%\nk3|2|1|key|3|z|1|%%\n" >expect &&
	test_cmp expect actual &&
	kconsume -e -f "%t|%p|%o|%k|%K|%s|%S\n" k3:0 >actual &&
	printf "k3|0|0||-1|x|1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'format escapes: tab, backslash, hex byte, CR, newline' '
	kconsume -e -c 1 -f "%s\t%o\\\\\x41\r\n" t >actual &&
	printf "a\t0\\\\A\r\n" >expect &&
	cmp expect actual
'

test_expect_success '%T is the create time in ms, %h the headers' '
	kconsume -e -f "%T\n" t >ts &&
	test_line_count = 5 ts &&
	while read -r ts; do
		test "$ts" -ge "$before" && test "$ts" -le "$after" || {
			echo "timestamp $ts not in [$before, $after]" >&2
			return 1
		}
	done <ts &&
	kconsume -e -f "%h;%s\n" k3:2 >actual &&
	printf "h=1;y\nh=1;z\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'an unknown %x exits 2 before reading anything' '
	test_expect_code 2 kconsume -e -f "%s %x\n" t >out 2>err &&
	test_must_fail test -s out &&
	grep "%x" err &&
	test_line_count = 1 err &&
	# even in follow mode, where reading would never end
	test_expect_code 2 timeout 10 kconsume -f "%s %x" t >out 2>err &&
	test_must_fail test -s out
'

test_expect_success '-J: one strict JSON object per line, kcat field names' '
	kconsume -e -J k3 >json &&
	test "$(json_check <json)" = 3 &&
	python3 -c "
import json, sys
recs = sorted((json.loads(l) for l in sys.stdin), key=lambda o: (o[\"partition\"], o[\"offset\"]))
want = [
    dict(topic=\"k3\", partition=0, offset=0, key=None, payload=\"x\", headers=None),
    dict(topic=\"k3\", partition=2, offset=0, key=\"key\", payload=\"y\", headers=[\"h\", \"1\"]),
    dict(topic=\"k3\", partition=2, offset=1, key=\"key\", payload=\"z\", headers=[\"h\", \"1\"]),
]
for o, w in zip(recs, want):
    for k, v in w.items():
        assert o[k] == v, (k, o, w)
    assert o[\"tstype\"] == \"create\", o
    assert o[\"broker\"] == -1, o
    assert isinstance(o[\"ts\"], int) and o[\"ts\"] > 1600000000000, o
assert len(recs) == 3
" <json
'

test_expect_success '-J: tstype is the batch timestamp type (logappend under LogAppendTime)' '
	ktopic create lat -c message.timestamp.type=LogAppendTime &&
	echo a | kproduce lat &&
	kconsume -e -J lat >json &&
	grep "\"tstype\":\"logappend\"" json &&
	kconsume -e -J k3 >json &&
	test_must_fail grep logappend json
'

test_expect_success '-J escapes quotes, control bytes and invalid UTF-8' '
	ktopic create j &&
	printf "q\"b\\\\s\tc\001 caf\303\251 bad\377\n" | kproduce -K " " j &&
	kconsume -e -J j >json &&
	test "$(json_check <json)" = 1 &&
	grep -F "\\u00ff" json &&
	python3 -c "
import json, sys
o = json.loads(sys.stdin.readline())
assert o[\"key\"] == \"q\\\"b\\\\s\\tc\\x01\", repr(o[\"key\"])
assert o[\"payload\"] == \"caf\\u00e9 bad\\u00ff\", repr(o[\"payload\"])
" <json
'

test_expect_success '-o beginning, end, N, -N' '
	kconsume -e -o beginning t >actual &&
	printf "a\nb\nc\nd\ne\n" >expect &&
	test_cmp expect actual &&
	kconsume -e -o end t >actual &&
	test_must_fail test -s actual &&
	kconsume -e -o 3 -f "%o %s\n" t >actual &&
	printf "3 d\n4 e\n" >expect &&
	test_cmp expect actual &&
	kconsume -e -o -2 -f "%o %s\n" t >actual &&
	test_cmp expect actual &&
	kconsume -e -o 0 t >actual &&
	printf "a\nb\nc\nd\ne\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-o -N applies to each partition' '
	printf "1\n2\n3\n" | kproduce -p 1 k3 &&
	kconsume -e -o -1 -f "%p %s\n" k3 >actual &&
	sort actual >sorted &&
	printf "0 x\n1 3\n2 z\n" >expect &&
	test_cmp expect sorted
'

test_expect_success '-o past the end with -e: nothing, exit 0' '
	kconsume -e -o 5 t >actual &&
	test_must_fail test -s actual
'

test_expect_success '-o s@TS: the first record with timestamp >= TS, then on' '
	ktopic create ts &&
	seq 1 50 | kproduce -B 200 ts &&
	seq 51 100 | kproduce -B 200 ts &&
	kconsume -e -f "%o %T %s\n" ts >all &&
	test_line_count = 100 all &&
	for pick in 1 25 50 51 77 100; do
		t=$(sed -n "${pick}p" all | cut -d" " -f2) &&
		awk -v t=$t "\$2 >= t { on = 1 } on" all >expect &&
		kconsume -e -o "s@$t" -f "%o %T %s\n" ts >actual &&
		test_cmp expect actual || return 1
	done &&
	kconsume -e -o s@0 ts >actual &&
	test_line_count = 100 actual &&
	last=$(tail -n 1 all | cut -d" " -f2) &&
	kconsume -e -o "s@$((last + 1))" ts >actual &&
	test_must_fail test -s actual
'

test_expect_success '-c N stops after N records' '
	kconsume -c 2 t >actual &&
	printf "a\nb\n" >expect &&
	test_cmp expect actual &&
	kconsume -e -c 100 t >actual &&
	test_line_count = 5 actual
'

test_expect_success 'TOPIC:PARTITION selects partitions' '
	kconsume -e -f "%p %s\n" k3:2 k3:0 >actual &&
	sort actual >sorted &&
	printf "0 x\n2 y\n2 z\n" >expect &&
	test_cmp expect sorted &&
	test_must_fail kconsume -e k3:3 2>err &&
	grep k3 err &&
	test_expect_code 2 kconsume -e k3:x 2>err
'

test_expect_success 'several topics in one run (%t tells them apart)' '
	kconsume -e -f "%t %p %s\n" t k3:2 >actual &&
	sort actual >sorted &&
	printf "k3 2 y\nk3 2 z\nt 0 a\nt 0 b\nt 0 c\nt 0 d\nt 0 e\n" >expect &&
	test_cmp expect sorted
'

test_expect_success 'partitions are interleaved but each stays in order' '
	ktopic create many --partitions 4 &&
	seq 1 4000 | kproduce -B 500 many &&
	kconsume -e -f "%p %o\n" many >actual &&
	test_line_count = 4000 actual &&
	awk "{ if (\$1 in last && \$2 != last[\$1] + 1) exit 1; last[\$1] = \$2 }" actual
'

test_expect_success 'kconsume | head -1 ends quietly with exit 0' '
	ktopic create big &&
	seq 1 200000 | kproduce big &&
	{ kconsume -e big 2>err; echo $? >code; } | head -n 1 >actual &&
	echo 1 >expect &&
	test_cmp expect actual &&
	echo 0 >expect &&
	test_cmp expect code &&
	test_must_fail test -s err &&
	{ timeout 20 kconsume big 2>err; echo $? >code; } | head -n 1 >actual &&
	test_cmp expect code &&
	test_must_fail test -s err
'

test_expect_success 'follow: a waiting consumer returns once records arrive' '
	ktopic create f &&
	{ timeout 20 kconsume -c 3 -f "%o %s\n" f >actual & } &&
	consumer=$! &&
	printf "1\n" | kproduce f &&
	printf "2\n3\n" | kproduce f &&
	wait $consumer &&
	printf "0 1\n1 2\n2 3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'follow: several partitions, records keep coming' '
	ktopic create f3 --partitions 3 &&
	{ timeout 20 kconsume -c 6 -f "%p %s\n" f3 >actual & } &&
	consumer=$! &&
	for i in 0 1 2; do
		echo "a$i" | kproduce -p $i f3 || return 1
	done &&
	for i in 2 1 0; do
		echo "b$i" | kproduce -p $i f3 || return 1
	done &&
	wait $consumer &&
	sort actual >sorted &&
	printf "0 a0\n0 b0\n1 a1\n1 b1\n2 a2\n2 b2\n" >expect &&
	test_cmp expect sorted
'

test_expect_success '-u flushes every record; SIGTERM exits 0' '
	ktopic create u &&
	test_fifo out &&
	{ kconsume -u u >out & } &&
	consumer=$! &&
	echo hello | kproduce u &&
	test_wait_line out "^hello\$" 10 &&
	kill -TERM $consumer &&
	wait $consumer
'

test_expect_success 'an idle follower does not busy-poll' '
	test_fifo out3 &&
	{ kconsume -u u >out3 & } &&
	consumer=$! &&
	test_when_finished "kill $consumer 2>/dev/null; true" &&
	test_wait_line out3 "^hello\$" 10 &&
	t0=$(cut -d" " -f14,15 /proc/$consumer/stat | tr " " +) &&
	# a measurement, not a wait: one idle second
	sleep 1 &&
	t1=$(cut -d" " -f14,15 /proc/$consumer/stat | tr " " +) &&
	used=$(( $t1 - ( $t0 ) )) &&
	echo "# idle follower used $used clock ticks in 1 s" &&
	test "$used" -le 5
'

test_expect_success 'SIGINT exits 0 as well' '
	test_fifo out2 &&
	{ kconsume -u u >out2 & } &&
	consumer=$! &&
	test_wait_line out2 "^hello\$" 10 &&
	kill -INT $consumer &&
	wait $consumer
'

test_done
