#!/bin/sh
# klog - partitioning: murmur2 for keys (Java client), spreading, -p. MIT licence.

test_description='keyed records land where the Java client puts them'
. "$(dirname "$0")/lib.sh"

# Tools only (kproduce/kconsume/ktopic): holds in remote mode as well.

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create p3 --partitions 3 &&
	ktopic create p5 --partitions 5 &&
	ktopic create p8 --partitions 8 &&
	ktopic create p16 --partitions 16
'

test_expect_success 'key foo lands in partition 2 of 3 (-K and -k)' '
	echo "foo:bar" | kproduce -K : p3 &&
	echo "bar" | kproduce -k foo p3 &&
	kconsume -e -f "%p %k %s\n" p3 >actual &&
	printf "2 foo bar\n2 foo bar\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'key foo lands in partition 0 of 8' '
	echo "foo:bar" | kproduce -K : p8 &&
	kconsume -e -f "%p %k\n" p8 >actual &&
	echo "0 foo" >expect &&
	test_cmp expect actual
'

# murmur2 values from the reference (../shared/reference/kafka-format.md,
# section 3.1: Kafka's UtilsTest and librdkafka's rdmurmur2 unit test);
# partition = (h & 0x7fffffff) % n, computed here by the shell.
cat >vectors <<\EOF
21 0xc5f2f8ec
foobar 0xd0e47bbe
a-little-bit-long-string 0xc53b1da0
a-little-bit-longer-string 0xa768c9c3
abc 0x1c94221b
lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8 0xfc7d49cd
kafka 0xd067cf64
giberish123456789 0x8f552b0c
1234 0x9fc97b14
foo 0x23a256d0
EOF

for n in 3 5 8 16; do
	test_expect_success "murmur2 reference vectors over $n partitions" '
		ktopic delete p$n && ktopic create p$n --partitions $n &&
		: >expect &&
		while read -r key hash; do
			echo "$(( (hash & 0x7fffffff) % n )) $key" >>expect &&
			echo "$key|value" | kproduce -K "|" p$n || return 1
		done <vectors &&
		kconsume -e -f "%p %k\n" p$n >actual &&
		sort expect >e && sort actual >a &&
		test_cmp e a
	'
done

test_expect_success 'one kproduce run with many keys sends each to its partition' '
	ktopic delete p3 && ktopic create p3 --partitions 3 &&
	awk "{ print \$1 \"|\" NR }" vectors | kproduce -K "|" p3 &&
	: >expect &&
	while read -r key hash; do
		echo "$(( (hash & 0x7fffffff) % 3 )) $key" >>expect || return 1
	done <vectors &&
	kconsume -e -f "%p %k\n" p3 >actual &&
	sort expect >e && sort actual >a &&
	test_cmp e a
'

test_expect_success 'an empty key is a key (hashed), not a null key' '
	ktopic create e8 --partitions 8 &&
	# murmur2 of zero bytes is 0x106e08d9: partition 1 of 8
	echo "|v" | kproduce -K "|" e8 &&
	kconsume -e -f "%p %K\n" e8 >actual &&
	echo "1 0" >expect &&
	test_cmp expect actual
'

test_expect_success 'the same key always goes to the same partition, in order' '
	ktopic create same --partitions 5 &&
	seq 1 1000 | sed "s/^/user7:/" | kproduce -K : -B 300 same &&
	kconsume -e -f "%p\n" same | sort -u >parts &&
	test_line_count = 1 parts &&
	kconsume -e same >actual &&
	seq 1 1000 >expect &&
	test_cmp expect actual
'

test_expect_success 'unkeyed records spread over every partition (> 20% each)' '
	ktopic create spread --partitions 3 &&
	seq 1 30000 | kproduce -B 1000 spread &&
	kconsume -e -f "%p\n" spread | sort | uniq -c >counts &&
	test_line_count = 3 counts &&
	awk "\$1 <= 6000 { print \"partition \" \$2 \" has only \" \$1 >\"/dev/stderr\"; exit 1 }" counts &&
	kconsume -e spread | sort -n >all &&
	seq 1 30000 >expect &&
	test_cmp expect all
'

test_expect_success 'unkeyed records: each partition keeps input order' '
	kconsume -e -f "%p %s\n" spread >actual &&
	awk "{ if (\$2 <= last[\$1]) exit 1; last[\$1] = \$2 }" actual
'

test_expect_success '-p forces the partition, even for keyed records' '
	ktopic create forced --partitions 3 &&
	printf "foo:1\nbar:2\nabc:3\n" | kproduce -K : -p 1 forced &&
	seq 1 100 | kproduce -p 0 forced &&
	kconsume -e -f "%p\n" forced:1 >p1 &&
	test_line_count = 3 p1 &&
	kconsume -e -f "%p\n" forced:0 >p0 &&
	test_line_count = 100 p0 &&
	kconsume -e forced:2 >p2 &&
	test_must_fail test -s p2
'

test_done
