#!/bin/sh
# klog demo: the main job on an embedded log directory, no daemon.
# Run from the project root after `make` (or via `make demo`).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$PATH"
KLOG_DIR=${KLOG_DIR:-$top/demo-data}
export KLOG_DIR
if [ -t 1 ]; then b='\033[1m' n='\033[0m'; else b= n=; fi
say() { printf "\n$b\$ %s$n\n" "$*"; }
run() { say "$*"; "$@"; }

rm -rf "$KLOG_DIR"
echo "klog demo: log directory $KLOG_DIR"
run ktopic create orders --partitions 3 --config segment.bytes=65536
run ktopic list
say "seq 1 20000 | awk '{ print \"customer-\" \$1 % 7 \":order-\" \$1 }' | kproduce -K : -B 16384 -v orders 2>acks"
seq 1 20000 | awk '{ print "customer-" $1 % 7 ":order-" $1 }' | kproduce -K : -B 16384 -v orders 2>"$KLOG_DIR/acks"
say "head -3 acks   # kproduce -v: what was acknowledged"
head -3 "$KLOG_DIR/acks"
say "seq 1 1000 | kproduce -z zstd orders   # unkeyed, compressed"
seq 1 1000 | kproduce -z zstd orders
say "printf 'alice:1 apple\\nbob:2 pears\\nalice:3 plums\\n' | kproduce -K : -H source=demo orders"
printf 'alice:1 apple\nbob:2 pears\nalice:3 plums\n' | kproduce -K : -H source=demo orders
run ktopic describe orders
say "kconsume -e -o -2 -f '%t [%p] @%o key=%k %s headers=%h\\n' orders"
kconsume -e -o -2 -f '%t [%p] @%o key=%k %s headers=%h\n' orders
say "kconsume -e -c 2 -J orders:2"
kconsume -e -c 2 -J orders:2
say "kconsume -e -f '%p %k\\n' orders | grep customer | sort | uniq -c   # a key stays in one partition"
kconsume -e -f '%p %k\n' orders | grep customer | sort | uniq -c
say "kconsume -e orders | wc -l"
kconsume -e orders | wc -l
say "ls \$KLOG_DIR/orders-0"
ls "$KLOG_DIR/orders-0"
run kdump --verify "$KLOG_DIR/orders-0"
if [ -d "$top/../shared/fixtures/kafka-logdir" ]; then
	say "kconsume -d ../shared/fixtures/kafka-logdir -e -f '%o %s\\n' foo   # a log Apache Kafka wrote"
	kconsume -d "$top/../shared/fixtures/kafka-logdir" -e -f '%o %s\n' foo
fi
echo
echo "demo done: the data is in $KLOG_DIR (try: KLOG_DIR=$KLOG_DIR kconsume -e orders:1 | head)"
