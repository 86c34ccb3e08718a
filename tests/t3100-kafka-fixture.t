#!/bin/sh
# klog - a log directory written by Apache Kafka, read in place. MIT licence.

test_description='kdump, kconsume and ktopic read a real Kafka log directory'
. "$(dirname "$0")/lib.sh"
test_embedded_only "reads the Kafka fixture directory in place"

FIXTURE=$TOP/../shared/fixtures/kafka-logdir
if ! test -d "$FIXTURE/foo-0"; then
	test_skip_all "no Kafka fixture at ../shared/fixtures/kafka-logdir"
fi
FIXTURE=$(cd "$FIXTURE" && pwd)
FOO=$FIXTURE/foo-0
SEG=00000000000000000000

# a fingerprint of every file in the fixture: the tools must not touch it
fingerprint() {
	(cd "$FIXTURE" && find . -print | sort | while read -r f; do
		if test -f "$f"; then
			echo "$f $(cksum <"$f")"
		else
			echo "$f"
		fi
	done)
}

test_expect_success 'fingerprint the fixture' '
	fingerprint >before
'

test_expect_success 'kdump --verify accepts the whole directory' '
	kdump --verify "$FIXTURE" >out 2>err &&
	grep "^ok .*foo-0.*$SEG.log batches=2 records=3\$" out &&
	grep "^ok .*__cluster_metadata-0.*$SEG.log " out
'

test_expect_success 'kdump of foo-0: two batches, CRCs valid' '
	kdump "$FOO" >out &&
	grep "^batch " out >batches &&
	test_line_count = 2 batches &&
	grep "^batch pos=0 base=0 last=1 count=2 size=80 epoch=0 magic=2 crc=591ef58f crc_ok=1 codec=none ts_type=create " batches &&
	grep "^batch pos=80 base=2 last=2 count=1 size=70 epoch=0 magic=2 crc=cedf1477 crc_ok=1 codec=none ts_type=create " batches &&
	grep " base_ts=1725272040411 max_ts=1725272040952 " batches &&
	test_must_fail grep "crc_ok=0" out
'

test_expect_success 'kdump -r of the segment shows the three records' '
	kdump -r "$FOO/$SEG.log" >out &&
	grep "^  record " out >records &&
	test_line_count = 3 records &&
	grep "^  record offset=0 ts=1725272040411 key=null value=m1" records &&
	grep "^  record offset=1 ts=1725272040952 key=null value=m2" records &&
	grep "^  record offset=2 ts=1725272041932 key=null value=m3" records
'

test_expect_success 'kdump reads the indexes Kafka wrote' '
	kdump "$FOO/$SEG.timeindex" >out &&
	echo "timeindex ts=1725272041932 offset=2" >expect &&
	test_cmp expect out &&
	kdump "$FOO/$SEG.index" >out &&
	test_must_fail test -s out &&
	kdump "$FIXTURE/__cluster_metadata-0/$SEG.index" >out &&
	echo "index offset=56 pos=4123" >expect &&
	test_cmp expect out
'

test_expect_success 'kdump reads Kafka checkpoint files' '
	kdump "$FIXTURE/recovery-point-offset-checkpoint" >out &&
	grep "foo" out && grep "3" out &&
	kdump "$FOO/leader-epoch-checkpoint" >out
'

test_expect_success 'kconsume prints the records Kafka stored' '
	kconsume -d "$FIXTURE" -e -f "%o %s\n" foo >actual &&
	printf "0 m1\n1 m2\n2 m3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'kconsume: timestamps, null keys, JSON' '
	kconsume -d "$FIXTURE" -e -f "%o %T %K %k|%S\n" foo:0 >actual &&
	cat >expect <<-\EOF &&
	0 1725272040411 -1 |2
	1 1725272040952 -1 |2
	2 1725272041932 -1 |2
	EOF
	test_cmp expect actual &&
	kconsume -d "$FIXTURE" -e -J foo >json &&
	python3 -c "
import json, sys
r = [json.loads(l) for l in sys.stdin]
assert [(o[\"offset\"], o[\"ts\"], o[\"key\"], o[\"payload\"]) for o in r] == [
    (0, 1725272040411, None, \"m1\"), (1, 1725272040952, None, \"m2\"),
    (2, 1725272041932, None, \"m3\")], r
" <json
'

test_expect_success 'kconsume positions on the Kafka log: -o 1, -o -1, s@TS' '
	kconsume -d "$FIXTURE" -e -o 1 foo >actual &&
	printf "m2\nm3\n" >expect &&
	test_cmp expect actual &&
	kconsume -d "$FIXTURE" -e -o -1 foo >actual &&
	echo m3 >expect &&
	test_cmp expect actual &&
	kconsume -d "$FIXTURE" -e -o s@1725272040500 foo >actual &&
	printf "m2\nm3\n" >expect &&
	test_cmp expect actual &&
	kconsume -d "$FIXTURE" -e -o s@1725272041932 foo >actual &&
	echo m3 >expect &&
	test_cmp expect actual
'

test_expect_success 'ktopic list shows the topics Kafka wrote' '
	ktopic -d "$FIXTURE" list >actual &&
	printf "__cluster_metadata\nfoo\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'ktopic describe foo: log start 0, end 3, one segment, 150 bytes' '
	ktopic -d "$FIXTURE" describe foo >actual &&
	printf "foo\t0\t0\t3\t1\t150\tonline\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'KLOG_DIR works like -d' '
	KLOG_DIR=$FIXTURE kconsume -e foo >actual &&
	printf "m1\nm2\nm3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the fixture is unchanged' '
	fingerprint >after &&
	test_cmp before after
'

test_done
