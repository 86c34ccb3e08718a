#!/bin/sh
# klog - replication: a leader cut off from its followers (kswitch) stops acknowledging acks=all. MIT licence.

test_description='a network cut between a leader and its followers: no acknowledgement, NOT_ENOUGH_REPLICAS; healed, it catches up'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-cluster.sh"

# a replica lag time of 3 s: the first batch after the cut is surely there
# before the leader gives up on its followers
test_expect_success 'setup: three brokers behind a switch, replication 3, min.insync.replicas=2' '
	start_cluster --switch 3 --broker-session-timeout-ms 1000 --replica-lag-time-max-ms 3000 &&
	test "$NODE_ADDR_2" = "$SWITCH_ADDR_n2" &&
	metadata >meta &&
	grep "^node 2 $SWITCH_ADDR_n2 alive$" meta &&
	create_topic t 3 3 min.insync.replicas=2 &&
	P=$(part_led_by t 2) &&
	test -n "$P" &&
	wait_isr t $P 1,2,3 &&
	ktest seq 1000 "before-" >in.1 &&
	kproduce -b "$BROKERS" --acks all -p $P t <in.1 &&
	switch_ctl stat n2 &&
	grep "accepted=[1-9]" switch.answer
'

test_expect_success 'the followers still fetch through the switch: traffic to node 2 goes there' '
	wait_replicas_identical t $P 1,2,3
'

test_expect_success 'node 2 cut off: a producer on its real port gets no acknowledgement, then NOT_ENOUGH_REPLICAS' '
	switch_ctl cut n2 &&
	test_must_fail kbclient -b "$NODE_REAL_2" produce t $P 100 -a all -n 10 -w 1 -k -P cut >acked 2>err &&
	{ grep -v "^ERR " acked >ok.lines || true; } &&
	test_line_count = 0 ok.lines &&
	test_line_count = 10 acked &&
	head -n 1 acked | grep "^ERR NOT_ENOUGH_REPLICAS_AFTER_APPEND .*written, but the ISR shrank to 1" &&
	{ sed 1d acked | grep -v -c "nothing written" >n.other || true; } &&
	echo 0 >expect &&
	test_cmp expect n.other &&
	wait_isr t $P 2 &&
	test "$(leader_of t $P)" = 2
'

test_expect_success 'node 2 is alive for the controller all along (its heartbeats pass)' '
	metadata >meta &&
	grep "^node 2 .* alive$" meta
'

test_expect_success 'healed: the followers catch up and rejoin, acks=all works again' '
	switch_ctl heal n2 &&
	wait_isr t $P 1,2,3 &&
	ktest seq 100 "after-" >in.3 &&
	kproduce -b "$BROKERS" --acks all -v -p $P t <in.3 2>err.3 &&
	grep "kproduce: acked t $P" err.3 &&
	wait_replicas_identical t $P 1,2,3
'

test_expect_success 'what was written during the cut is replicated, never acknowledged' '
	kconsume -b "$BROKERS" -e t:$P >all &&
	# the first batch waited for the ISR to shrink (written, not
	# acknowledged); the others came after it (refused, nothing written)
	ktest seq 10 cut- >cut.lines &&
	cat in.1 cut.lines in.3 >expect &&
	test_cmp expect all
'

test_done
