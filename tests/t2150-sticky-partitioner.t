#!/bin/sh
# klog - unkeyed records: the sticky partitioner moves on every 16 KiB. MIT licence.

test_description='a long run of unkeyed records spreads like Kafka'"'"'s default producer'
. "$(dirname "$0")/lib.sh"

# Tools only: holds in remote mode as well (the producer's remote path
# pipelines batches; the partition choice is the same code).

# fail when a partition of counts ("N PARTITION" lines) is missing or has
# more than twice its share of TOTAL over PARTS partitions
check_spread () {
	test_line_count = "$2" counts &&
	awk -v total="$1" -v parts="$2" "
		\$1 > 2 * total / parts { print \"partition \" \$2 \" has \" \$1 >\"/dev/stderr\"; bad = 1 }
		END { exit bad }" counts
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create s6 --partitions 6 &&
	ktopic create s6b --partitions 6 &&
	ktopic create s4 --partitions 4
'

test_expect_success '100,000 short lines: every partition of 6 gets records, none twice its share' '
	seq 1 100000 | kproduce s6 &&
	kconsume -e -f "%p\n" s6 | sort | uniq -c >counts &&
	check_spread 100000 6
'

test_expect_success 'every record is there once, each partition in input order' '
	kconsume -e -f "%p %s\n" s6 >actual &&
	awk "{ if (\$2 <= last[\$1]) exit 1; last[\$1] = \$2 }" actual &&
	cut -d" " -f2 actual | sort -n >all &&
	seq 1 100000 >expect &&
	test_cmp expect all
'

test_expect_success 'the partition changes after about 16 KiB, not per batch' '
	# 2,000 lines of 100 bytes (200 KB) in one 1 MB batch size: before
	# the sticky partitioner all of them went to one partition
	awk "BEGIN { for (i = 0; i < 2000; i++) printf \"%099d\n\", i }" >lines &&
	kproduce s4 <lines &&
	kconsume -e -f "%p\n" s4 | sort | uniq -c >counts &&
	check_spread 2000 4 &&
	# runs of one partition are about 16 KiB long: 100-byte records,
	# so well under 400 input lines in a row in one partition
	kconsume -e -f "%p %s\n" s4 >po &&
	awk "{ v = \$2 + 0; if (\$1 == p && v == last + 1) run++; else run = 1;
		p = \$1; last = v; if (run > max) max = run }
		END { print max; exit !(max >= 100 && max < 400) }" po
'

test_expect_success 'several files given on the command line spread as well' '
	seq 1 30000 >f1 &&
	seq 30001 60000 >f2 &&
	kproduce s6b f1 f2 &&
	kconsume -e -f "%p\n" s6b | sort | uniq -c >counts &&
	check_spread 60000 6
'

test_done
