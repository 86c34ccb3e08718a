#!/bin/sh
# klog - kproduce --max-lag GROUP:N: wait while a consumer group lags. MIT licence.

test_description='--max-lag blocks a producer while the group lags more than N records, commits release it'
. "$(dirname "$0")/lib.sh"

# Runs embedded and, with KLOG_TEST_REMOTE, through a broker (the group's
# lag then comes from the broker's coordinator); kgroup commits offsets.

test_expect_success 'setup: a topic with 150 records over two partitions' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create t --partitions 2 &&
	seq 1 150 | kproduce t &&
	# the end of each partition: where the waiting producer will write
	ktopic describe t | cut -f 2,4 >ends150 &&
	ktopic create probe &&
	seq 1 10 >ten
'

# total LOG_END of topic t
t_end() {
	ktopic describe t | awk -F "\t" '{ n += $4 } END { print n }'
}

# the producer wrote its 10 records: t holds N
t_end_is() {
	test "$(t_end)" = "$1"
}

said_waiting() {
	grep -q "^kproduce: waiting: group '$1' lags $2 records on 't' (limit 100)$" "$3"
}

test_expect_success 'a group with no commit lags the whole topic: the producer waits, writes nothing' '
	{ kproduce --max-lag g:100 t <ten 2>p1.err & } &&
	p1=$! &&
	test_atexit "kill $p1 2>/dev/null || :" &&
	test_poll said_waiting g 150 p1.err &&
	kill -0 $p1 &&
	test "$(t_end)" = 150 &&
	grep -c waiting p1.err >n &&
	echo 1 >expect &&
	test_cmp expect n
'

test_expect_success 'committing to the end releases it: the records are written, it exits 0' '
	kgroup reset g --topic t --to-latest --execute >reset.out &&
	test_poll t_end_is 160 &&
	wait $p1 &&
	grep "^kproduce: resumed: group '"'"'g'"'"' lags 0 records on '"'"'t'"'"' (limit 100)$" p1.err &&
	# partitions come out one after another, not in the order written:
	# read each one from where it ended before the producer wrote
	while read p off; do
		kconsume -e -o $off -f "%s\n" t:$p || return 1
	done <ends150 >new &&
	sort -n new >last &&
	test_cmp ten last
'

test_expect_success 'under the limit: no wait, nothing said' '
	kproduce --max-lag g:100 t <ten 2>p2.err &&
	test ! -s p2.err &&
	test "$(t_end)" = 170 &&
	kproduce --max-lag other:1000 t <ten 2>p3.err &&
	test ! -s p3.err
'

test_expect_success 'SIGTERM while waiting: what was read is written, exit 0' '
	# a batch for each partition (one salted key): said once all the same
	{ kproduce --salt 2 -k x --max-lag h:100 t <ten 2>p4.err & } &&
	p4=$! &&
	test_when_finished "kill $p4 2>/dev/null || :" &&
	test_poll said_waiting h 180 p4.err &&
	kill -TERM $p4 &&
	wait $p4 &&
	test "$(t_end)" = 190 &&
	grep -c "waiting" p4.err >n &&
	echo 1 >expect &&
	test_cmp expect n &&
	! grep resumed p4.err
'

test_expect_success 'a pipe into a waiting producer fills and blocks its writer' '
	test_fifo in.fifo &&
	{ kproduce --max-lag h:100 t <in.fifo 2>p5.err & } &&
	p5=$! &&
	test_when_finished "kill $p5 2>/dev/null || :" &&
	# more than the producer holds (4 MiB pending at most) and the pipe
	{ seq 1 1000000 >in.fifo 2>/dev/null & } &&
	w=$! &&
	test_when_finished "kill $w 2>/dev/null || :" &&
	test_poll said_waiting h 190 p5.err &&
	test "$(t_end)" = 190 &&
	kill -0 $w &&
	kill -TERM $p5 &&
	wait $p5 &&
	test "$(t_end)" -gt 190
'

test_expect_success 'bad --max-lag values are usage errors' '
	for v in g g: :5 g:-1 g:x "b@d:5" ""; do
		test_expect_code 2 kproduce --max-lag "$v" t </dev/null 2>err &&
		grep "bad --max-lag" err || return 1
	done &&
	kproduce -h >help &&
	grep -- "--max-lag GROUP:N" help
'

test_done
