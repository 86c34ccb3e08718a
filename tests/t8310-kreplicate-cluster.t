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

# map_check SRC_LINES DST_LINES MAP: every source record, moved by the map,
# is the destination's record at that offset ("P OFFSET VALUE" lines)
map_check() {
	awk -v map="$3" '
		BEGIN {
			while ((getline l < map) > 0) {
				split(l, f, " ")
				for (i = 0; i < f[5]; i++)
					m[f[2] " " f[3] + i] = f[4] + i
			}
		}
		FNR == NR { k = $1 " " $2; if (!(k in m)) { print "unmapped " k; bad = 1 }
			want[$1 " " m[k]] = $3; n++; next }
		{ k = $1 " " $2; if (want[k] != $3) { print "differs " k; bad = 1 } d++ }
		END { if (n != d) { print n " source records, " d " copies"; bad = 1 }; exit bad }
	' "$1" "$2"
}

test_expect_success 'mirror the cluster into a standalone broker, with an offset map' '
	mkdir -p "$KLOG_DIR" &&
	start_broker m &&
	kbclient -b "$m_addr" create t 3 &&
	echo before | kproduce -b "$m_addr" -p 0 t &&
	kreplicate -q -b "$BROKERS" -B "$m_addr" --offset-map map -e t &&
	kconsume -b "$BROKERS" -e -f "%p %o %s\n" t >src.lines &&
	kconsume -b "$m_addr" -e -f "%p %o %s\n" t | grep -v before >dst.lines &&
	test_line_count = 9000 dst.lines &&
	map_check src.lines dst.lines map &&
	grep "^t 0 0 1 " map &&
	kreplicate -q -b "$BROKERS" -B "$m_addr" --offset-map map -e t &&
	kconsume -b "$m_addr" -e t | grep -v before >again &&
	test_line_count = 9000 again
'

test_done
