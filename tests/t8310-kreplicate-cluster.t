#!/bin/sh
# klog - kreplicate from a 3-broker cluster: leaders found by METADATA, followed through a failover. MIT licence.

test_description='kreplicate -b on a cluster copies each partition from its leader, byte for byte,
and follows a new leader after the old one is killed'
. "$(dirname "$0")/lib.sh"

test_embedded_only "it compares segment files"
. "$TEST_DIRECTORY/lib-cluster.sh"

# copy_same_as I TOPIC PART: the copy's segments of TOPIC-PART are node I's
copy_same_as() {
	(cd "$TRASH/n$1/$2-$3" && ls *.log) >cs.src &&
	(cd "copy/$2-$3" && ls *.log) >cs.dst &&
	cmp -s cs.src cs.dst &&
	while read f; do
		cmp -s "$TRASH/n$1/$2-$3/$f" "copy/$2-$3/$f" || return 1
	done <cs.src
}

# copy_end TOPIC PART: the copy's log end
copy_end() {
	ktopic -d copy describe "$1" | awk -v p="$2" '$2 == p { print $4 }'
}

copy_end_is() {
	test "$(copy_end "$1" "$2")" = "$3"
}

test_expect_success 'setup: three brokers, a topic with replication 3' '
	start_cluster 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 2000 &&
	create_topic t 3 3 segment.bytes=32768 &&
	P=$(part_led_by t 2) &&
	test -n "$P" &&
	wait_isr t $P 1,2,3 &&
	seq 1 6000 | kproduce -b "$BROKERS" --acks all t &&
	for p in 0 1 2; do wait_replicas_identical t $p 1,2,3 || return 1; done
'

test_expect_success 'a copy from the leaders (-e): the leaders segments, byte for byte' '
	kreplicate -q -b "$BROKERS" -d copy -e t &&
	for p in 0 1 2; do
		L=$(leader_of t $p) &&
		copy_same_as $L t $p || return 1
	done &&
	kconsume -d copy -e t | sort -n >got &&
	seq 1 6000 >want &&
	test_cmp want got &&
	grep "segment.bytes=32768" copy/t.topic
'

test_expect_success 'following: the leader of a partition killed, the copy follows the new one' '
	{ kreplicate -v -b "$BROKERS" -d copy t 2>follow.err & } &&
	rpid=$! &&
	test_atexit "kill -KILL $rpid 2>/dev/null" &&
	seq 6001 7000 | kproduce -b "$BROKERS" --acks all -p $P t &&
	kill_node 2 &&
	wait_leader t $P 2 &&
	seq 7001 9000 | kproduce -b "$BROKERS" --acks all -p $P t &&
	eval "laddr=\$NODE_REAL_$LEADER" &&
	end=$(kbclient -b "$laddr" offsets t $P | awk "{ print \$2 }") &&
	test -n "$end" &&
	cluster_poll copy_end_is t $P "$end" &&
	kill -TERM $rpid &&
	wait $rpid &&
	copy_same_as $LEADER t $P &&
	grep "^kreplicate: warning: t-$P: leader now $laddr (epoch [1-9]" follow.err &&
	kconsume -d copy -e t | sort -n >got &&
	seq 1 9000 >want &&
	test_cmp want got
'

test_done
