#!/usr/bin/env bash
# klog replication benchmark (called by share/bench.sh): kbrokerd clusters on
# loopback.  Three brokers, a topic of 3 partitions replicated 3 times
# (min.insync.replicas=2, one leader per broker): the shared workload
# produced with acks=all (and acks=1) against cat; end-to-end latency with
# replication (one-record produces at 10,000/s, a long-polling consumer that
# sees a record once the high watermark covers it); follower catch-up (a
# follower stopped, the workload produced again, the follower restarted:
# MB/s of log copied until its logs match the leader's).  Then four brokers,
# node 1 the controller and no replica of the partition under test: KILLS
# (default 20) SIGKILLs of its leader, each timed from the kill to the first
# acks=all produce that succeeds (kproduce -b with every broker, one record,
# tried again until it works), the killed broker restarted and back in the
# ISR before the next.  A part that cannot run prints "unavailable: reason"
# and the others go on; the script exits 0.
# usage: bench-repl.sh RECORDS_FILE N
# Env: WORK (default bench-data), KILLS (default 20), REPL_FLAGS (more
# kbrokerd flags for every node).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top:$top/tests:$PATH"
REC=$1 N=$2
WORK=${WORK:-$top/bench-data}
mkdir -p "$WORK"
KILLS=${KILLS:-20}
R=$WORK/repl
PAYLOAD=$((N * 100))
NN=0
declare -a NPID NREAL NSPEC
BROKERS=

now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rate() { awk -v n="$N" -v b="$PAYLOAD" -v t="$2" -v c="$3" -v name="$1" 'BEGIN {
	s = t / 1e9; printf "%-30s %10.0f rec/s %8.1f MB/s  %5.2fx cat\n", name, n / s, b / s / 1e6, c / t }'; }
WHY=$WORK/repl.why
# why: the last line of what the failed step said
why() { tail -n 1 "$WHY" 2>/dev/null | tr -d '\r'; }
unavailable() { printf '%-30s unavailable: %s\n' "$1" "$2"; }
say() { echo "# $*"; }

# poll SECONDS CMD...: until CMD succeeds, every 10 ms; 1 on timeout
poll() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.01
	done
}

# meta ADDR [TOPIC]: METADATA's lines (without the OK lines), 5 s at most
meta() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
		printf "METADATA%s\nQUIT\n" "${2:+ $2}" >&3 && cat <&3' meta "$1" "${2:-}" 2>/dev/null |
		awk 'NR == 1 && !/^OK [0-9]/ { exit 1 } NR > 1 && !/^OK BYE$/'
}

node_start() { # I LISTEN: NPID[I], NREAL[I]
	local i=$1 fifo=$R/n$1.ready addr
	mkdir -p "$R/n$i"
	rm -f "$fifo"; mkfifo "$fifo"
	kbrokerd -d "$R/n$i" -l "$2" -q -r 3 --node-id "$i" --cluster "${NSPEC[$i]}" ${REPL_FLAGS:-} \
		3>"$fifo" </dev/null >/dev/null 2>>"$R/n$i.err" &
	NPID[$i]=$!
	addr=$(timeout 30 head -n 1 "$fifo")
	rm -f "$fifo"
	case "$addr" in
	*:[0-9]*) NREAL[$i]=$addr ;;
	*) echo "node $i did not start: $(tail -n 1 "$R/n$i.err")"; return 1 ;;
	esac
}
node_stop() { # I [SIG]
	[ -n "${NPID[$1]:-}" ] || return 0
	kill -"${2:-TERM}" "${NPID[$1]}" 2>/dev/null
	wait "${NPID[$1]}" 2>/dev/null
	NPID[$1]=
}
cluster_stop() {
	local i
	for ((i = NN; i >= 1; i--)); do node_stop $i; done
	NN=0
}
trap cluster_stop EXIT

all_alive_() { [ "$(meta "${NREAL[1]}" | grep -c '^node .* alive$')" = "$NN" ]; }

cluster_start() { # N: node 1 first, the others with its real port
	local i spec= probe
	cluster_stop
	rm -rf "$R"; mkdir -p "$R"
	NN=$1
	for ((i = 1; i <= NN; i++)); do spec="$spec${spec:+,}$i@127.0.0.1:0"; done
	NSPEC[1]=$spec
	node_start 1 127.0.0.1:0 || return 1
	probe=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && printf "METADATA\nQUIT\n" >&3 &&
		head -n 1 <&3' probe "${NREAL[1]}" 2>&1)
	case "$probe" in
	"OK "*) ;;
	*) echo "kbrokerd answers METADATA with '$probe'"; return 1 ;;
	esac
	BROKERS=${NREAL[1]}
	for ((i = 2; i <= NN; i++)); do
		NSPEC[$i]=${spec/#1@127.0.0.1:0/1@${NREAL[1]}}
		node_start $i 127.0.0.1:0 || return 1
		BROKERS=$BROKERS,${NREAL[$i]}
	done
	poll 15 all_alive_ || { echo "not all $NN brokers alive at the controller"; return 1; }
}

# the part lines of TOPIC, as node I has them
parts() { meta "${NREAL[$1]}" "$2" | grep '^part ' | sort; }
converged_() { # TOPIC: a leader everywhere, every node's part lines the controller's
	local c i
	c=$(parts 1 "$1")
	[ -n "$c" ] || return 1
	echo "$c" | awk '$4 == -1 { exit 1 }' || return 1
	for ((i = 2; i <= NN; i++)); do
		[ -z "${NPID[$i]:-}" ] && continue
		[ "$(parts $i "$1")" = "$c" ] || return 1
	done
}
create() { # TOPIC PARTITIONS [k=v...]: replication 3
	local t=$1 np=$2
	shift 2
	kbclient -b "${NREAL[1]}" create "$t" "$np" replication.factor=3 "$@" 2>&1 || return 1
	poll 15 converged_ "$t" || { echo "metadata of '$t' never agreed across the brokers"; return 1; }
}
field() { # TOPIC PART FIELD (4 leader, 7 replicas, 8 ISR)
	parts 1 "$1" | awk -v p="$2" -v f="$3" '$3 == p { print $f }'
}
sorted() { tr , '\n' <<<"$1" | sort -n | paste -sd, -; }
isr_is_() { [ "$(sorted "$(field "$1" "$2" 8)")" = "$3" ]; }
logbytes() { # NODE TOPIC: bytes of the topic's .log files on NODE
	cat "$R/n$1"/"$2"-*/*.log 2>/dev/null | wc -c
}
sizes_() { # NODE TOPIC PARTS: the .log bytes of each partition, one line
	local p
	for ((p = 0; p < $3; p++)); do
		cat "$R/n$1/$2-$p"/*.log 2>/dev/null | wc -c
	done | paste -sd' ' -
}
same_sizes_() { # TOPIC PARTS: every node's partitions as large as node 1's
	local i s1
	s1=$(sizes_ 1 "$1" "$2")
	for ((i = 2; i <= NN; i++)); do
		[ "$(sizes_ $i "$1" "$2")" = "$s1" ] || return 1
	done
}
identical_() { # TOPIC PARTS: every partition's .log files the same on 1..NN
	local p i f
	for ((p = 0; p < $2; p++)); do
		for f in "$R/n1/$1-$p"/*.log; do
			for ((i = 2; i <= NN; i++)); do
				cmp -s "$f" "$R/n$i/$1-$p/${f##*/}" || return 1
			done
		done
	done
}

echo "# replication: kbrokerd clusters on loopback, --fsync always; topic replication 3,"
echo "# min.insync.replicas=2; kbrokerd flags: ${REPL_FLAGS:-(defaults)}"

t0=$(now); cat "$REC" > "$WORK/cat.out"; t1=$(now); cat_ns=$((t1 - t0))
rm -f "$WORK/cat.out"

# --- three brokers: throughput, latency, catch-up ---------------------------
three() {
	local t0 t1 n l p0 before miss t_ready t_isr
	if ! cluster_start 3 >"$WHY" 2>&1; then
		unavailable "repl cluster of 3" "$(why)"
		return
	fi
	if ! create rbench 3 min.insync.replicas=2 >"$WHY" 2>&1; then
		unavailable "repl produce acks=all" "$(why)"
		return
	fi
	say "3 brokers, topic of 3 partitions, leaders $(parts 1 rbench | awk '{ print $4 }' | paste -sd, -)"
	t0=$(now)
	if ! kproduce -b "$BROKERS" --acks all rbench <"$REC" 2>"$R/produce.err"; then
		unavailable "repl produce acks=all" "kproduce failed: $(tail -n 1 "$R/produce.err")"
		return
	fi
	t1=$(now)
	rate "repl produce acks=all rf3" $((t1 - t0)) "$cat_ns"
	n=$(timeout 120 kconsume -b "$BROKERS" -e rbench | wc -l)
	[ "$n" = "$N" ] || say "WARNING: $n records consumed back, not $N"
	if poll 30 same_sizes_ rbench 3 && identical_ rbench 3; then
		say "the three replicas' logs are byte-identical"
	else
		say "WARNING: the replicas' logs still differ 30 s after the load"
	fi
	if create rbench1 3 >"$WHY" 2>&1; then
		t0=$(now)
		if kproduce -b "$BROKERS" --acks 1 rbench1 <"$REC" 2>"$R/produce1.err"; then
			t1=$(now)
			rate "repl produce acks=1 rf3" $((t1 - t0)) "$cat_ns"
		else
			unavailable "repl produce acks=1" "kproduce failed: $(tail -n 1 "$R/produce1.err")"
		fi
	else
		unavailable "repl produce acks=1" "$(why)"
	fi

	# latency: the consumer sees a record once the high watermark covers it
	if create rlat 1 min.insync.replicas=2 >"$WHY" 2>&1; then
		l=$(field rlat 0 4)
		say "end-to-end latency, replication 3, one-record produces at 10000/s for 5 s to the leader (node $l),"
		say "a long-polling consumer on it (records visible at the high watermark)"
		if ! timeout 60 kbclient -b "${NREAL[$l]}" latency rlat 0 10000 5 2>&1 | sed 's/^/repl /'; then
			unavailable "repl latency" "kbclient latency failed"
		fi
	else
		unavailable "repl latency" "$(why)"
	fi

	# catch-up: node 3 stopped, the workload again into rbench, node 3 back
	node_stop 3
	if ! poll 30 isr_is_ rbench 0 1,2; then
		unavailable "repl follower catch-up" "node 3 never left the ISR of rbench-0"
		return
	fi
	if ! kproduce -b "${NREAL[1]},${NREAL[2]}" --acks all rbench <"$REC" 2>"$R/produce2.err"; then
		unavailable "repl follower catch-up" "kproduce without node 3 failed: $(tail -n 1 "$R/produce2.err")"
		return
	fi
	before=$(logbytes 3 rbench)
	miss=$(($(logbytes 1 rbench) - before))
	t0=$(now)
	if ! node_start 3 127.0.0.1:0 >"$WHY" 2>&1; then
		unavailable "repl follower catch-up" "$(why)"
		return
	fi
	t_ready=$(now)
	if ! poll 120 same_sizes_ rbench 3; then
		unavailable "repl follower catch-up" "node 3's logs did not reach the leaders' size within 120 s"
		return
	fi
	t1=$(now)
	identical_ rbench 3 || say "WARNING: node 3's logs differ from the leaders' after the catch-up"
	for p0 in 0 1 2; do poll 30 isr_is_ rbench $p0 1,2,3 || break; done
	t_isr=$(now)
	awk -v b="$miss" -v t=$((t1 - t0)) -v r=$((t_ready - t0)) -v i=$((t_isr - t0)) 'BEGIN {
		printf "%-30s %10.1f MB/s  (%.1f MB of log in %.2f s from restart, ready after %.2f s; back in every ISR after %.2f s)\n",
		"repl follower catch-up", b / (t / 1e9) / 1e6, b / 1e6, t / 1e9, r / 1e9, i / 1e9 }'
}

# --- four brokers: failover --------------------------------------------------
kill_one() { # the leader of rfo-$P: prints the ms from its SIGKILL to a successful acks=all produce
	local l t0 t1 tries=0
	l=$(field rfo "$P" 4)
	[ -n "$l" ] && [ "$l" != -1 ] || { echo "no leader"; return 1; }
	t0=$(now)
	node_stop "$l" KILL
	until echo "k" | timeout 5 kproduce -b "$BROKERS" --acks all -p "$P" rfo 2>>"$R/failover.err"; do
		tries=$((tries + 1))
		[ $tries -ge 2000 ] && { echo "no produce succeeded after the kill of node $l"; return 1; }
		sleep 0.005
	done
	t1=$(now)
	echo $(((t1 - t0) / 1000)) >>"$R/failover.us"
	node_start "$l" 127.0.0.1:0 >/dev/null || { echo "node $l did not restart"; return 1; }
	poll 30 isr_is_ rfo "$P" 2,3,4 || { echo "node $l did not rejoin the ISR"; return 1; }
	poll 15 converged_ rfo || { echo "metadata of rfo never agreed"; return 1; }
}

four() {
	local k
	if ! cluster_start 4 >"$WHY" 2>&1; then
		unavailable "repl failover" "$(why)"
		return
	fi
	if ! create rfo 4 min.insync.replicas=2 >"$WHY" 2>&1; then
		unavailable "repl failover" "$(why)"
		return
	fi
	P=$(parts 1 rfo | awk '$7 !~ /(^|,)1(,|$)/ { print $3; exit }')
	if [ -z "$P" ]; then
		unavailable "repl failover" "no partition of rfo without node 1: $(parts 1 rfo | tr '\n' ';')"
		return
	fi
	say "failover: 4 brokers, node 1 the controller; partition rfo-$P on $(field rfo "$P" 7);"
	say "$KILLS SIGKILLs of its leader, each to the first acks=all produce that succeeds (kproduce -b all)"
	: >"$R/failover.us"
	for ((k = 1; k <= KILLS; k++)); do
		# kill_one runs in this shell: NPID must follow the restarts
		if ! kill_one >"$R/kill.out"; then
			unavailable "repl failover" "kill $k: $(cat "$R/kill.out")"
			return
		fi
	done
	sort -n "$R/failover.us" | awk '{ a[NR] = $1 } END {
		printf "%-30s p50 %8.1f ms  max %8.1f ms  (%d kills)\n", "repl failover", a[int((NR + 1) / 2)] / 1000, a[NR] / 1000, NR }'
}

three
cluster_stop
four
cluster_stop
rm -rf "$R" "$WHY"
exit 0
