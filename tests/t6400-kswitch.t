#!/bin/sh
# klog - kswitch, the tests' fault-injecting proxy, in front of one broker. MIT licence.

test_description='kswitch forwards, cuts, hangs, heals and delays connections to a broker'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"
. "$TEST_DIRECTORY/lib-cluster.sh"

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 kswitch 2>err &&
	grep "usage: kswitch" err &&
	test_expect_code 2 kswitch b=nowhere 2>err &&
	grep "not HOST:PORT" err &&
	test_expect_code 2 kswitch control 2>err
'

test_expect_success 'setup: a broker, and a switch with one port to it and one without upstream' '
	mkdir -p "$KLOG_DIR" &&
	start_broker b &&
	start_switch b=$ADDR x &&
	test -n "$SWITCH_ADDR_b" && test -n "$SWITCH_ADDR_x" &&
	test "$SWITCH_ADDR_b" != "$ADDR" &&
	switch_ctl stat b &&
	echo "OK b open $ADDR accepted=0 dropped=0 open=0" >expect &&
	test_cmp expect switch.answer
'

test_expect_success 'PING through the switch' '
	kbclient -b "$SWITCH_ADDR_b" ping >pong &&
	echo pong >expect &&
	test_cmp expect pong &&
	switch_ctl stat b &&
	grep "accepted=1 dropped=0" switch.answer
'

test_expect_success 'a port without an upstream drops what it accepts; set gives it one' '
	test_must_fail kbclient -b "$SWITCH_ADDR_x" ping &&
	switch_ctl stat x &&
	grep "accepted=1 dropped=1" switch.answer &&
	switch_ctl set x "$ADDR" &&
	kbclient -b "$SWITCH_ADDR_x" ping
'

test_expect_success 'bad control commands are refused' '
	test_expect_code 1 kswitch -C "$SWITCH_CTL" cut nosuch >out &&
	grep "^ERR no port" out &&
	test_expect_code 1 kswitch -C "$SWITCH_CTL" delay b soon >out &&
	grep "^ERR" out &&
	test_expect_code 1 kswitch -C "$SWITCH_CTL" set b nowhere >out &&
	grep "^ERR" out &&
	test_expect_code 1 kswitch -C "$SWITCH_CTL" frobnicate b >out &&
	grep "^ERR" out
'

test_expect_success 'megabytes both ways through the switch, unchanged' '
	ktopic -b "$SWITCH_ADDR_b" create big -p 1 &&
	ktest seq 40000 "a record of some length, number " >in &&
	kproduce -b "$SWITCH_ADDR_b" big <in &&
	kconsume -b "$SWITCH_ADDR_b" -e big >out &&
	test_cmp in out
'

test_expect_success 'cut closes a connection waiting in a long poll, and refuses new ones' '
	{ kbclient -b "$SWITCH_ADDR_b" consume big 0 -o 40000 -W 60000 >lp.out 2>lp.err & } &&
	lp=$! &&
	test_poll eval "switch_ctl stat b && grep -q \"open=1\" switch.answer" &&
	switch_ctl cut b &&
	test_expect_code 1 wait $lp &&
	test_must_fail kbclient -b "$SWITCH_ADDR_b" ping &&
	switch_ctl stat b &&
	grep "^OK b cut .* open=0$" switch.answer &&
	kbclient ping
'

test_expect_success 'heal: connections go through again' '
	switch_ctl heal b &&
	kbclient -b "$SWITCH_ADDR_b" ping
'

test_expect_success 'hang: a connection freezes, and resumes at heal' '
	switch_ctl hang b &&
	test_expect_code 124 timeout 1 kbclient -b "$SWITCH_ADDR_b" ping &&
	{ kbclient -b "$SWITCH_ADDR_b" ping >hung.out & } &&
	hung=$! &&
	test_poll eval "switch_ctl stat b && grep -q \"open=1\" switch.answer" &&
	switch_ctl heal b &&
	wait $hung &&
	echo pong >expect &&
	test_cmp expect hung.out
'

test_expect_success 'delay: a PING through takes at least the delay both ways' '
	switch_ctl delay b 300 &&
	t0=$(date +%s%N) &&
	kbclient -b "$SWITCH_ADDR_b" ping &&
	t1=$(date +%s%N) &&
	test $(((t1 - t0) / 1000000)) -ge 600 &&
	switch_ctl delay b 0 &&
	t0=$(date +%s%N) &&
	kbclient -b "$SWITCH_ADDR_b" ping &&
	t1=$(date +%s%N) &&
	test $(((t1 - t0) / 1000000)) -lt 600
'

test_expect_success 'kswitch -t: a raw conversation, through the switch or not' '
	printf "PING\nQUIT\n" | kswitch -t "$SWITCH_ADDR_b" >out &&
	printf "OK PONG\nOK BYE\n" >expect &&
	test_cmp expect out &&
	printf "PING\nQUIT\n" | kswitch -t "$ADDR" >out &&
	test_cmp expect out &&
	switch_ctl cut b &&
	printf "PING\nQUIT\n" | kswitch -t "$SWITCH_ADDR_b" >out &&
	test_line_count = 0 out &&
	switch_ctl heal b
'

test_expect_success 'quit ends the switch' '
	switch_ctl quit &&
	wait $SWITCH_PID
'

test_done
