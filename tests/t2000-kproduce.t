#!/bin/sh
# klog - kproduce: delimiters, keys, headers, partitions, missing topics. MIT licence.

test_description='kproduce turns byte streams into records; kconsume gives them back'
. "$(dirname "$0")/lib.sh"

# Everything here goes through ktopic/kproduce/kconsume only (no file
# inspection), so the script also holds against a broker.

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t
'

# fresh NAME [PARTITIONS]: a new empty topic
fresh() {
	ktopic delete "$1" --if-exists &&
	ktopic create "$1" --partitions "${2:-1}"
}

test_expect_success EMBEDDED 'no -d and no KLOG_DIR: exit 2' '
	(
		unset KLOG_DIR &&
		echo x | test_expect_code 2 kproduce t 2>err
	) &&
	echo "kproduce: no log directory: use -d DIR or set KLOG_DIR" >expect &&
	test_cmp expect err
'

test_expect_success 'usage and help' '
	echo x | test_expect_code 2 kproduce --bogus t >out 2>err &&
	grep "^usage: " err &&
	test_must_fail test -s out &&
	test_expect_code 2 kproduce </dev/null 2>err &&
	grep "^usage: " err &&
	kproduce -h >out 2>err &&
	test -s out && test_must_fail test -s err &&
	kproduce -V >out &&
	echo "kproduce 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success 'one record per line, in order' '
	printf "a\nb\nc\n" | kproduce t &&
	kconsume -e -f "%o %s\n" t >actual &&
	printf "0 a\n1 b\n2 c\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a final record without a trailing newline is sent' '
	fresh t &&
	printf "a\nlast" | kproduce t &&
	kconsume -e -f "[%s]\n" t >actual &&
	printf "[a]\n[last]\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'empty input produces nothing' '
	fresh t &&
	kproduce t </dev/null &&
	ktopic describe t | cut -f4 >end &&
	echo 0 >expect &&
	test_cmp expect end &&
	kconsume -e t >actual &&
	test_must_fail test -s actual
'

test_expect_success 'an empty line is an empty (not null) record' '
	fresh t &&
	printf "a\n\nb\n" | kproduce t &&
	kconsume -e -f "%S:%s\n" t >actual &&
	printf "1:a\n0:\n1:b\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'bytes pass through untouched (CR, tabs, high bytes)' '
	fresh t &&
	printf "a\rb\tc\377\001\n" >in &&
	kproduce t in &&
	kconsume -e t >actual &&
	test_cmp in actual
'

test_expect_success 'FILE arguments are read in order; - is stdin' '
	fresh t &&
	printf "1\n2\n" >f1 &&
	printf "4\n" >f2 &&
	echo 3 | kproduce t f1 - f2 &&
	kconsume -e t >actual &&
	printf "1\n2\n3\n4\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a missing input file: exit 1 naming it' '
	fresh t &&
	test_expect_code 1 kproduce t no-such-file 2>err &&
	grep "no-such-file" err &&
	test_line_count = 1 err
'

test_expect_success '-0 splits on NUL' '
	fresh t &&
	printf "a\000b c\nd\000e" | kproduce -0 t &&
	kconsume -e -f "[%s]\n" t >actual &&
	printf "[a]\n[b c\nd]\n[e]\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-D with a multi-byte delimiter' '
	fresh t &&
	printf "one<>two<three<>>four<>" | kproduce -D "<>" t &&
	kconsume -e -f "[%s]\n" t >actual &&
	printf "[one]\n[two<three]\n[>four]\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-D understands escapes (tab, hex byte, NUL)' '
	fresh t &&
	printf "a\tb\tc" | kproduce -D "\t" t &&
	printf "d\036e" | kproduce -D "\x1e" t &&
	printf "f\000g" | kproduce -D "\0" t &&
	kconsume -e -f "[%s]\n" t >actual &&
	printf "[a]\n[b]\n[c]\n[d]\n[e]\n[f]\n[g]\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-K splits key and value; no delimiter means a null key' '
	fresh t &&
	printf "k1:v1\nnokey\nk2:v:2\n:empty\nk3:\n" | kproduce -K : t &&
	kconsume -e -f "%K|%k|%S|%s\n" t >actual &&
	cat >expect <<-\EOF &&
	2|k1|2|v1
	-1||5|nokey
	2|k2|3|v:2
	0||5|empty
	2|k3|0|
	EOF
	test_cmp expect actual
'

test_expect_success '-K with a multi-byte delimiter and -D together' '
	fresh t &&
	printf "a=>1;b=>2=>x;c" | kproduce -K "=>" -D ";" t &&
	kconsume -e -f "%K %k %s\n" t >actual &&
	printf "1 a 1\n1 b 2=>x\n-1  c\n" >expect &&
	test_cmp expect actual
'

test_expect_success '-k puts the same key on every record' '
	fresh t &&
	printf "x\ny\n" | kproduce -k user42 t &&
	kconsume -e -f "%k=%s\n" t >actual &&
	printf "user42=x\nuser42=y\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'records without -k/-K have a null key' '
	fresh t &&
	echo x | kproduce t &&
	kconsume -e -f "%K\n" t >actual &&
	echo -1 >expect &&
	test_cmp expect actual
'

test_expect_success '-H adds headers to every record (%h and -J)' '
	fresh t &&
	printf "x\ny\n" | kproduce -H a=1 -H trace=abc=d t &&
	kconsume -e -f "%h %s\n" t >actual &&
	printf "a=1,trace=abc=d x\na=1,trace=abc=d y\n" >expect &&
	test_cmp expect actual &&
	kconsume -e -J t >json &&
	python3 -c "
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    assert o[\"headers\"] == [\"a\", \"1\", \"trace\", \"abc=d\"], o
" <json
'

test_expect_success 'no headers: %h is empty, JSON headers null' '
	fresh t &&
	echo x | kproduce t &&
	kconsume -e -f "[%h]\n" t >actual &&
	echo "[]" >expect &&
	test_cmp expect actual &&
	kconsume -e -J t | python3 -c "
import json, sys
o = json.loads(sys.stdin.readline())
assert o[\"headers\"] is None, o
"
'

test_expect_success '-p N forces a partition' '
	fresh t3 3 &&
	printf "a\nb\n" | kproduce -p 1 t3 &&
	printf "c\n" | kproduce -p 2 -k foo t3 &&
	kconsume -e -f "%p %o %s\n" t3 >actual &&
	sort actual >sorted &&
	printf "1 0 a\n1 1 b\n2 0 c\n" >expect &&
	test_cmp expect sorted &&
	kconsume -e t3:0 >p0 &&
	test_must_fail test -s p0
'

test_expect_success '-p out of range is refused before reading, naming the topic' '
	test_must_fail kproduce -p 3 t3 </dev/null 2>err &&
	grep "t3" err &&
	test_line_count = 1 err &&
	test_must_fail kproduce -p -1 t3 </dev/null 2>err &&
	test_expect_code 2 kproduce -p x t3 </dev/null 2>err &&
	ktopic describe t3 | cut -f4 >ends &&
	printf "0\n2\n1\n" >expect &&
	test_cmp expect ends
'

test_expect_success 'a missing topic: exit 1 "no such topic"; --create makes it' '
	echo x | test_expect_code 1 kproduce nope 2>err &&
	echo "kproduce: no such topic '\''nope'\''" >expect &&
	test_cmp expect err &&
	ktopic list >topics &&
	test_must_fail grep "^nope\$" topics &&
	echo x | kproduce --create nope &&
	ktopic describe nope >actual &&
	printf "nope\t0\t0\t1\n" >expect &&
	cut -f1-4 actual >cols &&
	test_cmp expect cols
'

test_expect_success '-v reports acknowledged batches on stderr' '
	fresh t &&
	printf "a\nb\nc\n" | kproduce -v t 2>err &&
	echo "kproduce: acked t 0 0 2" >expect &&
	test_cmp expect err &&
	printf "d\n" | kproduce -v t 2>err &&
	echo "kproduce: acked t 0 3 3" >expect &&
	test_cmp expect err
'

test_expect_success 'small -B makes several batches; acks cover every offset once' '
	fresh t &&
	seq 1 2000 | kproduce -v -B 1000 t 2>err &&
	test_line_count -gt 5 err &&
	awk "
		\$1 != \"kproduce:\" || \$2 != \"acked\" || \$3 != \"t\" || \$4 != 0 { exit 1 }
		\$5 != next_ { exit 1 }
		{ next_ = \$6 + 1 }
		END { if (next_ != 2000) exit 1 }
	" next_=0 err &&
	kconsume -e t >actual &&
	seq 1 2000 >expect &&
	test_cmp expect actual
'

test_expect_success 'a large record (100 kB) round-trips' '
	fresh t &&
	awk "BEGIN { for (i = 0; i < 100000; i++) printf \"%c\", 97 + i % 26; print \"\" }" >big &&
	kproduce t big &&
	kconsume -e t >actual &&
	test_cmp big actual
'

test_expect_success 'an unknown codec: exit 2 naming it' '
	echo x | test_expect_code 2 kproduce -z brotli t 2>err &&
	grep brotli err &&
	test_line_count = 1 err
'

test_expect_success 'stdin that stays open: records are written after the linger' '
	fresh t &&
	{
		echo early &&
		timeout 20 kconsume -c 1 t >seen &&
		echo late
	} | kproduce -l 5 t &&
	echo early >expect &&
	test_cmp expect seen &&
	kconsume -e t >actual &&
	printf "early\nlate\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'SIGTERM: exit 0, everything acknowledged is there' '
	fresh t &&
	test_fifo in &&
	{ { echo one; exec sleep 30; } >in & } &&
	writer=$! &&
	test_when_finished "kill $writer 2>/dev/null; wait $writer; true" &&
	{ kproduce -v t <in 2>err & } &&
	producer=$! &&
	test_wait_line err "acked t 0 0 0" 10 &&
	kill -TERM $producer &&
	wait $producer &&
	kconsume -e t >actual &&
	echo one >expect &&
	test_cmp expect actual
'

test_done
