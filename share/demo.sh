#!/bin/sh
# klog demo: the main job on an embedded log directory, no daemon.
# Run from the project root after `make` (or via `make demo`).
#
# The log directory is ./demo-data (or $KLOG_DEMO_DIR), never an inherited
# $KLOG_DIR: the demo starts by removing it.  Nothing but the log itself is
# written there; what the demo keeps aside (kproduce's acknowledgements)
# goes to a temporary file removed at the end.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$PATH"
KLOG_DIR=${KLOG_DEMO_DIR:-$top/demo-data}
export KLOG_DIR
unset KLOG_BROKERS      # embedded: the tools must not go to a broker
if [ -t 1 ]; then b='\033[1m' d='\033[2m' n='\033[0m'; else b= d= n=; fi
say() { printf "\n$b\$ %s$n\n" "$*"; }
# why: one line on a flag that is not obvious, said as the command runs
why() { printf "$d  # %s$n\n" "$*"; }
run() { say "$*"; "$@"; }

acks=$(mktemp "${TMPDIR:-/tmp}/klog-demo-acks.XXXXXX")
trap 'rm -f "$acks"' EXIT

rm -rf "$KLOG_DIR"
echo "klog demo: log directory $KLOG_DIR"
say "ktopic create orders --partitions 3 --config segment.bytes=65536"
why "segment.bytes=65536: roll a new segment file every 64 KiB, so the demo shows several"
ktopic create orders --partitions 3 --config segment.bytes=65536
run ktopic list
say "seq 1 20000 | awk '{ print \"customer-\" \$1 % 7 \":order-\" \$1 }' | kproduce -K : -B 16384 -v orders 2>acks"
why "-K :  the key is what comes before the first ':' (same key, same partition)"
why "-B 16384  batches of at most 16 KiB; -v  one 'acked' line per durable batch, on stderr"
seq 1 20000 | awk '{ print "customer-" $1 % 7 ":order-" $1 }' | kproduce -K : -B 16384 -v orders 2>"$acks"
say "head -3 acks"
why "acked TOPIC PARTITION FIRST LAST: the offsets of each batch once it is synced"
head -3 "$acks"
say "seq 1 1000 | kproduce -z zstd orders"
why "-z zstd  compress each batch; no key: 16 KiB to one partition, then the next"
seq 1 1000 | kproduce -z zstd orders
say "printf 'alice:1 apple\\nbob:2 pears\\nalice:3 plums\\n' | kproduce -K : -H source=demo orders"
why "-H source=demo  a record header on every record"
printf 'alice:1 apple\nbob:2 pears\nalice:3 plums\n' | kproduce -K : -H source=demo orders
say "ktopic describe orders"
why "TOPIC PARTITION LOG_START LOG_END SEGMENTS BYTES STATE, tab-separated"
ktopic describe orders
say "kconsume -e -o -2 -f '%t [%p] @%o key=%k %s headers=%h\\n' orders"
why "-e  exit at the end instead of following; -o -2  the last 2 records of each partition"
why "-f  kcat's format: %t topic, %p partition, %o offset, %k key, %s value, %h headers"
kconsume -e -o -2 -f '%t [%p] @%o key=%k %s headers=%h\n' orders
say "kconsume -e -c 2 -J orders:2"
why "-c 2  stop after 2 records; -J  one JSON object per record (kcat's); orders:2  partition 2 only"
kconsume -e -c 2 -J orders:2
say "kconsume -e -f '%p %k\\n' orders | grep customer | sort | uniq -c"
why "a key always lands in the same partition (murmur2, as Kafka's Java client)"
kconsume -e -f '%p %k\n' orders | grep customer | sort | uniq -c
say "kconsume -e orders | wc -l"
kconsume -e orders | wc -l
say "ls \$KLOG_DIR/orders-0"
why "<first offset>.log segments with their .index and .timeindex, as Kafka lays them out"
ls "$KLOG_DIR/orders-0"
say "kdump --verify $KLOG_DIR/orders-0"
why "--verify  check every batch's CRC, the offsets and the indexes, offline"
kdump --verify "$KLOG_DIR/orders-0"
if [ -d "$top/../shared/fixtures/kafka-logdir" ]; then
	say "kconsume -d ../shared/fixtures/kafka-logdir -e -f '%o %s\\n' foo"
	why "-d  read a log directory Apache Kafka wrote, in place"
	kconsume -d "$top/../shared/fixtures/kafka-logdir" -e -f '%o %s\n' foo
fi
echo
echo "demo done: the data is in $KLOG_DIR (try: KLOG_DIR=$KLOG_DIR kconsume -e orders:1 | head)"
