#!/bin/sh
# klog - SIGKILL writers at random moments; acknowledged data survives. MIT licence.

test_description='crash safety: kill -9 producers, then check every acknowledged record'
. "$(dirname "$0")/lib.sh"

# The torn-tail tests at the end damage segment files on purpose: EMBEDDED.

ROUNDS=${KLOG_CRASH_ROUNDS:-30}
SEG=00000000000000000000

# a small pseudo-random number generator, seeded by the test run
seed=$(($$ % 1000 + 1))
random() {
	seed=$(((seed * 1103515245 + 12345) % 2147483648))
	echo $((seed / 65536 % $1))
}

# check_round START: the records from offset START on (one round) are whole
# batches of each producer in order (values 1, 2, 3 ... per key), and every
# range a producer acknowledged (its err.R.J lines) holds its own records
check_round() {
	kconsume -e -o "$1" -f "%o %k %s\n" k >round &&
	for f in err.$r.*; do
		key=$(echo "$f" | sed "s/^err\.\([0-9]*\)\.\([0-9]*\)\$/r\1p\2/") &&
		{ grep "acked" "$f" || true; } | sed "s/^/$key /" || return 1
	done >acks.$r &&
	cat acks.$r >>acks &&
	awk -v start="$1" '
		NR == FNR {
			if ($1 != start + FNR - 1) { print "offset " $1 " at " FNR; bad = 1; exit }
			key[$1] = $2; val[$1] = $3
			if ($2 != "mark") {
				if ($3 != n[$2] + 1) { print "offset " $1 ": " $2 " " $3 " after " n[$2]; bad = 1; exit }
				n[$2] = $3
			}
			next
		}
		{
			# KEY kproduce: acked k 0 FIRST LAST
			if ($2 != "kproduce:" || $3 != "acked" || $4 != "k" || $5 != 0) { print "bad ack: " $0; bad = 1; exit }
			for (o = $6; o <= $7; o++) {
				want = seen[$1] + 1
				if (key[o] != $1 || val[o] != want) {
					print "acked offset " o " of " $1 ": found " key[o] " " val[o] ", want " want
					bad = 1; exit
				}
				seen[$1] = want
			}
		}
		END { exit bad }
	' round acks.$r >&2
}

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic create k --config segment.bytes=262144 &&
	seq 1 50000 >nums &&
	echo "# seed $seed" &&
	: >acks
'

test_expect_success "$ROUNDS rounds of producers killed with SIGKILL" '
	r=0 &&
	while test $r -lt $ROUNDS; do
		start=$(ktopic describe k | cut -f4) &&
		n=$(($(random 4) + 1)) &&
		mode=$(random 3) &&
		pids= &&
		j=0 &&
		while test $j -lt $n; do
			# key r<round>p<j> tells whose record it is; values count up from 1
			kproduce -v -p 0 -B $((100 + $(random 400))) -k "r${r}p$j" k nums \
				2>"err.$r.$j" &
			pids="$pids $!" &&
			j=$((j + 1))
		done &&
		case $mode in
		0) ;;   # at once, maybe before anything is written
		1) sleep "0.$(random 2)$(random 10)" ;;
		2) test_wait_line "err.$r.0" "acked" 10 ;;
		esac &&
		for pid in $pids; do
			kill -9 $pid 2>/dev/null
			wait $pid
			test $? = 0 || echo killed >>killed
		done
		# the next writer must work (it may say it cut a torn tail and
		# rebuilt indexes past the recovery point)
		echo "mark$r" | kproduce -v -p 0 -k mark k 2>"mark.$r" || {
			echo "round $r: kproduce after the kill failed: $(cat mark.$r)" >&2
			return 1
		}
		grep -q "acked k 0 " "mark.$r" || return 1
		grep -v -e "acked" -e "warning: .*cut segment .*an unsynced, damaged tail" \
			-e "^kproduce: partition .*: rebuilt the indexes" "mark.$r" >unexpected
		if test -s unexpected; then
			echo "round $r: unexpected stderr: $(cat unexpected)" >&2
			return 1
		fi
		kconsume -e -o -1 -f "%k %s\n" k >last &&
		echo "mark mark$r" >expect &&
		test_cmp expect last &&
		check_round $start || {
			echo "round $r (start $start, $n producers, mode $mode) failed" >&2
			return 1
		}
		r=$((r + 1))
	done &&
	echo "# $(wc -l <killed 2>/dev/null || echo 0) producers killed while running" &&
	echo "# $(wc -l <acks) acknowledged batches, all present" &&
	echo "# torn tails cut after a kill: $(cat mark.* | grep -c "an unsynced, damaged tail")"
'

test_expect_success 'the whole log reads back: offsets contiguous from 0' '
	kconsume -e -f "%o %k %s\n" k >all &&
	awk "\$1 != NR - 1 { print \"offset \" \$1 \" at line \" NR; exit 1 }" all &&
	test "$(ktopic describe k | cut -f4)" = "$(wc -l <all | tr -d " ")" &&
	echo "# $(wc -l <all) records, $(ktopic describe k | cut -f5) segments"
'

test_expect_success 'each producer'\''s records are whole batches: 1, 2, 3, ... no gap' '
	awk "
		\$2 == \"mark\" { next }
		{
			want = n[\$2] + 1
			if (\$3 != want) {
				print \"offset \" \$1 \": \" \$2 \" has \" \$3 \", want \" want
				exit 1
			}
			n[\$2] = want
		}
	" all
'

test_expect_success 'consumer and producer work normally afterwards' '
	end=$(ktopic describe k | cut -f4) &&
	seq 1 1000 | kproduce -k after k &&
	kconsume -e -o $end -f "%s\n" k >actual &&
	seq 1 1000 >expect &&
	test_cmp expect actual
'

test_expect_success EMBEDDED 'kdump --verify: sound after all the kills' '
	kdump --verify "$KLOG_DIR/k-0" >out &&
	test_must_fail grep -v "^ok " out
'

# Torn tails made on purpose: a batch cut in the middle, garbage after the
# last batch.

test_expect_success EMBEDDED 'setup: a partition of three batches' '
	ktopic create torn &&
	printf "a\nb\nc\n" | kproduce torn &&
	printf "d\ne\n" | kproduce torn &&
	printf "f\ng\nh\n" | kproduce torn &&
	T=$KLOG_DIR/torn-0 &&
	size=$(wc -c <"$T/$SEG.log") &&
	kdump "$T/$SEG.log" | grep "^batch pos=162 " >/dev/null
'

test_expect_success EMBEDDED 'a batch cut in the middle: -e reader stops at the last whole batch' '
	truncate -s $((size - 10)) "$T/$SEG.log" &&
	kconsume -e -f "%o %s\n" torn >actual &&
	printf "0 a\n1 b\n2 c\n3 d\n4 e\n" >expect &&
	test_cmp expect actual
'

# The last clean close recorded the end (8) as the recovery point: a batch
# torn below it is synced data lost, not a torn tail.
test_expect_success EMBEDDED 'torn below the recovery point: the writer refuses and cuts nothing' '
	echo i | test_expect_code 1 kproduce torn 2>err &&
	grep "torn-0/$SEG.log'"'"' damaged at byte 162: .*below the recovery point 8" err &&
	test_line_count = 1 err &&
	test "$(wc -c <"$T/$SEG.log")" = $((size - 10)) &&
	test_path_is_missing "$T/$SEG.log.damaged"
'

# A writer killed in the middle of a write never recorded a recovery point.
test_expect_success EMBEDDED 'above it the next writer cuts the torn tail, keeps it and says so' '
	rm "$KLOG_DIR/recovery-point-offset-checkpoint" &&
	echo i | kproduce torn 2>err &&
	grep "^kproduce: warning: .*torn-0.* cut segment .* at byte 162 (an unsynced, damaged tail" err &&
	test "$(wc -c <"$T/$SEG.log.damaged")" = $((size - 10 - 162)) &&
	kconsume -e -f "%o %s\n" torn >actual &&
	printf "0 a\n1 b\n2 c\n3 d\n4 e\n5 i\n" >expect &&
	test_cmp expect actual &&
	kdump --verify "$T" >/dev/null
'

test_expect_success EMBEDDED 'garbage after the last batch (past the recovery point): cut by the next writer' '
	printf "garbage, not a batch, longer than a batch header would be.............." >>"$T/$SEG.log" &&
	test_must_fail kconsume -e torn >/dev/null 2>err &&
	grep "torn-0/$SEG.log'"'"' damaged at byte" err &&
	echo j | kproduce torn 2>err &&
	grep "^kproduce: warning: .*cut segment .*an unsynced, damaged tail" err &&
	kconsume -e -f "%o %s\n" torn >actual &&
	printf "0 a\n1 b\n2 c\n3 d\n4 e\n5 i\n6 j\n" >expect &&
	test_cmp expect actual &&
	kdump --verify "$T" >/dev/null
'

test_expect_success EMBEDDED 'a tail of zeros (preallocated, never written) is cut too' '
	head -c 4096 /dev/zero >>"$T/$SEG.log" &&
	echo k | kproduce torn 2>err &&
	kconsume -e -o -1 -f "%o %s\n" torn >actual &&
	echo "7 k" >expect &&
	test_cmp expect actual &&
	kdump --verify "$T" >/dev/null
'

test_expect_success EMBEDDED 'a torn tail and a lost index: the writer rebuilds the index' '
	ktopic create ri --config index.interval.bytes=100 &&
	seq 1 2000 | kproduce -B 300 ri &&
	R=$KLOG_DIR/ri-0 &&
	kdump "$R/$SEG.index" >before &&
	test -s before &&
	rm -f "$R/$SEG.index" "$R/$SEG.timeindex" "$KLOG_DIR/recovery-point-offset-checkpoint" &&
	size=$(wc -c <"$R/$SEG.log") &&
	truncate -s $((size - 5)) "$R/$SEG.log" &&
	echo more | kproduce ri 2>err &&
	test -s err &&
	kdump --verify "$R" >/dev/null &&
	kconsume -e -o 1500 -c 1 ri >actual &&
	echo 1501 >expect &&
	test_cmp expect actual
'

test_done
