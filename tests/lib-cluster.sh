# klog - a kbrokerd cluster on loopback for the replication tests; source after lib.sh. MIT licence.
#
# start_switch NAME...     a kswitch (tests/kswitch.c) with one port per NAME;
#                          sets SWITCH_PID, SWITCH_CTL and SWITCH_ADDR_<NAME>
# switch_ctl CMD NAME [ARG]  a kswitch control command (cut, hang, heal,
#                          delay, set, stat), answered once applied
# start_cluster [--switch] N [KBROKERD_FLAGS...]
#                          N brokers, node ids 1..N, directories $TRASH/n1..,
#                          stderr appended to $TRASH/nI.err; node 1, the
#                          controller, starts first on port 0, the others
#                          with its real port in --cluster; --switch: each
#                          behind its kswitch port nI (--advertise, and the
#                          others reach the controller through n1 too);
#                          returns once the controller's METADATA shows all
#                          N alive.  Sets NODE_ADDR_I (the advertised
#                          address), NODE_REAL_I (the bound one), NODE_PID_I,
#                          NODE_DIR_I, BROKERS (all NODE_ADDR_I, commas) and
#                          KLOG_BROKERS=$BROKERS
# stop_node I              SIGTERM, wait for its exit
# kill_node I [SIG]        SIGKILL (or SIG); KILL and TERM wait for it to be
#                          gone; STOP marks it stopped (not asked for
#                          metadata) until CONT
# restart_node I           start it again on its directory with the same
#                          flags (the controller on its old port when there
#                          is no switch; otherwise the switch is pointed at
#                          the new port) and wait until the controller sees
#                          it alive
# metadata [TOPIC...]      METADATA from the controller (or, when it is
#                          down, the first live node), the lines after "OK N"
# meta_from I [TOPIC...]   METADATA from node I
# leader_of TOPIC PART     the leader's node id (-1: none)
# isr_of TOPIC PART        the ISR, sorted ids with commas
# wait_isr TOPIC PART IDS  poll until the ISR is IDS (in any order)
# wait_leader TOPIC PART [NOT]  poll until the partition has a leader (other
#                          than node NOT); prints nothing, sets LEADER
# wait_alive I...          poll until the controller sees the nodes alive
# wait_dead I...           and dead
# wait_replicas_identical TOPIC PART IDS
#                          poll until the nodes' .log segment files of the
#                          partition are byte for byte the same (names and
#                          contents; cmp)
# node_of_addr ADDR        the node id whose NODE_ADDR_I is ADDR
#
# cluster_poll CMD...     test_poll, bounded by time (15 s) rather than by
#                          turns, as each turn asks brokers over the network
#
# Every node and the switch are stopped at exit (broker_gone_).

test -n "$(command -v broker_gone_)" || . "$TEST_DIRECTORY/lib-broker.sh"

CLUSTER_N=0
CLUSTER_SWITCH=
CLUSTER_FLAGS=
SWITCH_PID=
SWITCH_CTL=

start_switch() {
	test_fifo switch.ready &&
	{ kswitch -r 3 "$@" 3>switch.ready 2>switch.err & } &&
	SWITCH_PID=$! &&
	test_atexit "broker_gone_ $SWITCH_PID" &&
	timeout 10 cat switch.ready >switch.addrs &&
	SWITCH_CTL=$(awk '$1 == "control" { print $2 }' switch.addrs) &&
	test -n "$SWITCH_CTL" || {
		echo "start_switch: no control address: $(cat switch.err)" >&2
		return 1
	}
	while read ss_name ss_addr; do
		eval "SWITCH_ADDR_$ss_name=\$ss_addr"
	done <switch.addrs
}

switch_ctl() {
	kswitch -C "$SWITCH_CTL" "$@" >switch.answer || {
		echo "switch_ctl $*: $(cat switch.answer)" >&2
		return 1
	}
}

cluster_poll() {
	cp_end=$(($(date +%s) + 15))
	until "$@"; do
		test "$(date +%s)" -ge $cp_end && return 1
		sleep 0.02
	done
	return 0
}

# talk_to ADDR: stdin to ADDR on one connection, what comes back until it
# closes (kswitch -t: one process, where bash's /dev/tcp takes three)
talk_to() {
	kswitch -t "$1"
}

# node_start_ I LISTEN: start node I listening on LISTEN; sets NODE_REAL_I, NODE_PID_I
node_start_() {
	ns_i=$1
	ns_listen=$2
	ns_dir=$TRASH/n$ns_i
	mkdir -p "$ns_dir" &&
	test_fifo "n$ns_i.ready" &&
	eval "ns_adv=\${NODE_ADV_$ns_i}" &&
	eval "ns_spec=\${NODE_SPEC_$ns_i}" &&
	if test -n "$ns_adv"; then
		set -- --advertise "$ns_adv"
	else
		set --
	fi &&
	{ kbrokerd -d "$ns_dir" -l "$ns_listen" -r 3 --node-id "$ns_i" --cluster "$ns_spec" "$@" \
		$CLUSTER_FLAGS 3>"n$ns_i.ready" 2>>"n$ns_i.err" </dev/null & } &&
	ns_pid=$! &&
	test_atexit "broker_gone_ $ns_pid" &&
	ns_addr=$(timeout 30 head -n 1 "n$ns_i.ready") &&
	case "$ns_addr" in
	*:[0-9]*) ;;
	*) echo "start_cluster: node $ns_i gave no address: $(tail -n 5 "n$ns_i.err")" >&2; return 1 ;;
	esac &&
	eval "NODE_PID_$ns_i=\$ns_pid NODE_REAL_$ns_i=\$ns_addr NODE_DIR_$ns_i=\$ns_dir NODE_STOPPED_$ns_i=" &&
	if test -n "$CLUSTER_SWITCH"; then
		switch_ctl set "n$ns_i" "$ns_addr"
	else
		eval "NODE_ADDR_$ns_i=\$ns_addr"
	fi
}

start_cluster() {
	if test "$1" = --switch; then
		CLUSTER_SWITCH=1
		shift
	fi
	CLUSTER_N=$1
	shift
	CLUSTER_FLAGS="$*"
	sc_spec=
	sc_names=
	sc_i=1
	while test $sc_i -le $CLUSTER_N; do
		sc_spec="$sc_spec${sc_spec:+,}$sc_i@127.0.0.1:0"
		sc_names="$sc_names n$sc_i"
		sc_i=$((sc_i + 1))
	done
	if test -n "$CLUSTER_SWITCH"; then
		start_switch $sc_names || return 1
		sc_i=1
		while test $sc_i -le $CLUSTER_N; do
			eval "NODE_ADV_$sc_i=\$SWITCH_ADDR_n$sc_i NODE_ADDR_$sc_i=\$SWITCH_ADDR_n$sc_i"
			sc_i=$((sc_i + 1))
		done
	fi
	NODE_SPEC_1=$sc_spec
	node_start_ 1 127.0.0.1:0 || return 1
	# the others reach the controller at its real (or switched) address
	sc_ctrl=${NODE_ADDR_1}
	sc_i=2
	while test $sc_i -le $CLUSTER_N; do
		eval "NODE_SPEC_$sc_i=\$(echo \"\$sc_spec\" | sed \"s/^1@127.0.0.1:0/1@\$sc_ctrl/\")" &&
		node_start_ $sc_i 127.0.0.1:0 || return 1
		sc_i=$((sc_i + 1))
	done
	BROKERS=
	sc_i=1
	while test $sc_i -le $CLUSTER_N; do
		eval "BROKERS=\$BROKERS\${BROKERS:+,}\$NODE_ADDR_$sc_i"
		sc_i=$((sc_i + 1))
	done
	KLOG_BROKERS=$BROKERS
	export BROKERS KLOG_BROKERS
	wait_alive $(seq 1 $CLUSTER_N)
}

stop_node() {
	eval "sn_pid=\$NODE_PID_$1" &&
	kill -TERM "$sn_pid" &&
	wait "$sn_pid"
	sn_rc=$?
	# 0, or 143 when the shell reports the signal
	test $sn_rc = 0 || test $sn_rc = 143
}

kill_node() {
	eval "kn_pid=\$NODE_PID_$1" &&
	kill -"${2:-KILL}" "$kn_pid" || return 1
	case "${2:-KILL}" in
	KILL|TERM|9|15) wait "$kn_pid" 2>/dev/null; return 0 ;;
	STOP)
		eval "NODE_STOPPED_$1=1"
		# woken before the end-of-script SIGTERM (last registered runs first)
		test_atexit "kill -CONT $kn_pid 2>/dev/null"
		;;
	CONT) eval "NODE_STOPPED_$1=" ;;
	esac
	return 0
}

restart_node() {
	rn_i=$1
	if test "$rn_i" = 1 && test -z "$CLUSTER_SWITCH"; then
		rn_listen=$NODE_REAL_1
	else
		rn_listen=127.0.0.1:0
	fi
	node_start_ "$rn_i" "$rn_listen" &&
	wait_alive "$rn_i"
}

# the lines of a METADATA answer from ADDR, without "OK N" and "OK BYE"
meta_at_() {
	ma_addr=$1
	shift
	printf "METADATA%s\nQUIT\n" "${*:+ $*}" | kswitch -t "$ma_addr" >meta.raw 2>/dev/null
	awk 'NR == 1 { ok = /^OK [0-9]/; if (!ok) exit 1; next } !/^OK BYE$/ { print }
		END { exit !ok }' meta.raw
}

meta_from() {
	mf_i=$1
	shift
	eval "mf_addr=\$NODE_REAL_$mf_i"
	meta_at_ "$mf_addr" "$@"
}

# a node that runs (not killed, not stopped): the controller first
node_up_() {
	eval "nu_pid=\$NODE_PID_$1 nu_stopped=\$NODE_STOPPED_$1"
	test -z "$nu_stopped" && kill -0 "$nu_pid" 2>/dev/null
}

metadata() {
	md_i=1
	while test $md_i -le $CLUSTER_N; do
		if node_up_ $md_i; then
			meta_from $md_i "$@" && return 0
			# it answered, but not with metadata: no use asking the others
			test -s meta.raw && break
		fi
		md_i=$((md_i + 1))
	done
	echo "metadata: no node answered: $(head -n 1 meta.raw 2>/dev/null)" >&2
	return 1
}

leader_of() {
	metadata "$1" | awk -v t="$1" -v p="$2" '$1 == "part" && $2 == t && $3 == p { print $4 }'
}

sorted_ids_() {
	echo "$1" | awk -F, '{
		for (i = 1; i <= NF; i++) {
			v = $i + 0
			for (j = i - 1; j >= 1 && a[j] > v; j--)
				a[j + 1] = a[j]
			a[j + 1] = v
		}
		for (i = 1; i <= NF; i++)
			printf "%s%d", (i > 1 ? "," : ""), a[i]
		print ""
	}'
}

isr_of() {
	io_isr=$(metadata "$1" | awk -v t="$1" -v p="$2" '$1 == "part" && $2 == t && $3 == p { print $8 }')
	sorted_ids_ "$io_isr"
}

isr_is_() {
	wi_got=$(isr_of "$1" "$2")
	test "$wi_got" = "$3"
}

wait_isr() {
	wi_want=$(sorted_ids_ "$3")
	cluster_poll isr_is_ "$1" "$2" "$wi_want" || {
		echo "wait_isr: $1-$2 ISR is '$wi_got', want '$wi_want'" >&2
		return 1
	}
}

has_leader_() {
	LEADER=$(leader_of "$1" "$2")
	test -n "$LEADER" && test "$LEADER" != -1 && test "$LEADER" != "$3"
}

wait_leader() {
	cluster_poll has_leader_ "$1" "$2" "${3:-}" || {
		echo "wait_leader: $1-$2 leader is '$LEADER'${3:+, want another than $3}" >&2
		return 1
	}
}

nodes_are_() {
	na_state=$1
	shift
	metadata >meta.nodes || return 1
	for na_i in "$@"; do
		grep -q "^node $na_i [^ ]* $na_state\$" meta.nodes || return 1
	done
}

wait_alive() {
	cluster_poll nodes_are_ alive "$@" || {
		echo "wait_alive: not all of $* alive:" >&2
		grep "^node" meta.nodes >&2
		return 1
	}
}

wait_dead() {
	cluster_poll nodes_are_ dead "$@" || {
		echo "wait_dead: not all of $* dead:" >&2
		grep "^node" meta.nodes >&2
		return 1
	}
}

node_of_addr() {
	noa_i=1
	while test $noa_i -le $CLUSTER_N; do
		eval "noa_a=\$NODE_ADDR_$noa_i"
		test "$noa_a" = "$1" && { echo $noa_i; return 0; }
		noa_i=$((noa_i + 1))
	done
	return 1
}

# replicas_identical_ TOPIC PART ID...: the same .log files, the same bytes
replicas_identical_() {
	ri_t=$1 ri_p=$2
	shift 2
	ri_first=$1
	shift
	ri_d1=$TRASH/n$ri_first/$ri_t-$ri_p
	test -d "$ri_d1" || return 1
	(cd "$ri_d1" && ls *.log) >ri.list 2>/dev/null || return 1
	test -s ri.list || return 1
	for ri_i in "$@"; do
		ri_d=$TRASH/n$ri_i/$ri_t-$ri_p
		(cd "$ri_d" 2>/dev/null && ls *.log) >ri.other 2>/dev/null || return 1
		cmp -s ri.list ri.other || return 1
		while read ri_f; do
			cmp -s "$ri_d1/$ri_f" "$ri_d/$ri_f" || return 1
		done <ri.list || return 1
	done
}

wait_replicas_identical() {
	wri_ids=$(echo "$3" | tr ',' ' ')
	cluster_poll replicas_identical_ "$1" "$2" $wri_ids || {
		echo "wait_replicas_identical: $1-$2 differs on nodes $3:" >&2
		for wri_i in $wri_ids; do
			ls -l "$TRASH/n$wri_i/$1-$2" >&2
		done
		return 1
	}
}

# create_topic TOPIC PARTITIONS RF [KEY=VALUE...]: CREATE at the controller,
# then wait until every running node's METADATA shows the topic's partitions
# as the controller does
create_topic() {
	ct_t=$1 ct_np=$2 ct_rf=$3
	shift 3
	kbclient -b "$NODE_REAL_1" create "$ct_t" "$ct_np" replication.factor="$ct_rf" "$@" &&
	wait_meta_converged "$ct_t"
}

# the part lines of TOPIC as node I has them
parts_at_() {
	meta_from "$1" "$2" >pa.raw && grep "^part " pa.raw | sort
}

meta_converged_() {
	parts_at_ 1 "$1" >mc.ctrl || return 1
	test -s mc.ctrl || return 1
	grep -q "^part [^ ]* [0-9]* -1 " mc.ctrl && return 1
	mc_i=2
	while test $mc_i -le $CLUSTER_N; do
		if node_up_ $mc_i; then
			parts_at_ $mc_i "$1" >mc.node || return 1
			cmp -s mc.ctrl mc.node || return 1
		fi
		mc_i=$((mc_i + 1))
	done
}

# wait_meta_converged TOPIC: every partition has a leader, and every
# running node's part lines are the controller's
wait_meta_converged() {
	cluster_poll meta_converged_ "$1" || {
		echo "wait_meta_converged: $1 differs (or has no leader):" >&2
		cat mc.ctrl >&2
		echo "node $mc_i:" >&2
		cat mc.node >&2 2>/dev/null
		return 1
	}
}

# replicas_of TOPIC PART: the replica list as METADATA has it
replicas_of() {
	metadata "$1" | awk -v t="$1" -v p="$2" '$1 == "part" && $2 == t && $3 == p { print $7 }'
}

# part_without TOPIC NODE: the first partition whose replicas do not hold NODE
part_without() {
	metadata "$1" | awk -v t="$1" -v n="$2" '$1 == "part" && $2 == t {
		k = split($7, r, ","); hit = 0
		for (i = 1; i <= k; i++) if (r[i] == n) hit = 1
		if (!hit) { print $3; exit }
	}'
}

# part_led_by TOPIC NODE: the first partition NODE leads
part_led_by() {
	metadata "$1" | awk -v t="$1" -v n="$2" '$1 == "part" && $2 == t && $4 == n { print $3; exit }'
}

# metric_of I NAME: a STATS value of node I
metric_of() {
	eval "mo_addr=\$NODE_REAL_$1"
	kbclient -b "$mo_addr" stats | awk -v n="$2" '$1 == n { print $2 }'
}

# metric_sum NAME: the sum over the running nodes
metric_sum() {
	ms_sum=0
	ms_i=1
	while test $ms_i -le $CLUSTER_N; do
		if node_up_ $ms_i; then
			ms_v=$(metric_of $ms_i "$1")
			ms_sum=$((ms_sum + ${ms_v:-0}))
		fi
		ms_i=$((ms_i + 1))
	done
	echo $ms_sum
}

# dump_part I TOPIC PART: "OFFSET VALUE" of every record node I serves
dump_part() {
	eval "dp_addr=\$NODE_REAL_$1"
	kbclient -b "$dp_addr" consume "$2" "$3" -o 0
}

# check_acked LOG VALUES TRACE [VALUES TRACE...]: LOG is "OFFSET VALUE"
# lines (dump_part); each VALUES file holds what one kbclient produce -k
# printed (the values acknowledged, and ERR lines), TRACE its -T file: no
# value is in LOG twice, and every acknowledged value is in LOG at the
# offset its acknowledgement gave (the trace's "ok" lines, in the order
# of the values)
check_acked() {
	ca_log=$1
	shift
	awk '{ print $2 }' "$ca_log" | sort | uniq -d >ca.dups &&
	if test -s ca.dups; then
		echo "check_acked: values twice in the log:" >&2
		head ca.dups >&2
		return 1
	fi &&
	: >ca.expect &&
	while test $# -ge 2; do
		awk 'FNR == NR { if ($2 == "ok") for (o = $5; o <= $6; o++) offs[++n] = o; next }
			!/^ERR / { print offs[++k], $0 }' "$2" "$1" >>ca.expect || return 1
		shift 2
	done &&
	awk 'FNR == NR { have[$0] = 1; next } !($0 in have) { print }' "$ca_log" ca.expect >ca.missing &&
	if test -s ca.missing; then
		echo "check_acked: $(wc -l <ca.missing) of $(wc -l <ca.expect) acknowledged records not in the log at their offsets:" >&2
		head ca.missing >&2
		return 1
	fi
}

# check_kproduce_acked LOG ERR TOPIC PART PREFIX: ERR holds kproduce -v's
# talk for records PREFIX0, PREFIX1, ... (ktest seq) sent to TOPIC-PART;
# every "kproduce: acked TOPIC PART FIRST LAST" range is in LOG ("OFFSET
# VALUE" lines) as consecutive records of that input, and no PREFIX record
# is in LOG twice
check_kproduce_acked() {
	awk -v t="$3" -v p="$4" -v pre="$5" '
	FNR == NR { val[$1] = $2; if (index($2, pre) == 1) { if (seen[$2]++) print "twice in the log: " $2 }; next }
	$1 == "kproduce:" && $2 == "acked" && $3 == t && $4 == p && NF == 6 {
		batches++
		for (o = $5; o <= $6; o++) {
			if (!(o in val)) { print "acked offset " o " not in the log"; continue }
			v = val[o]
			if (index(v, pre) != 1) { print "acked offset " o " holds " v; continue }
			n = substr(v, length(pre) + 1) + 0
			if (o > $5 && n != first + (o - $5)) print "acked offset " o " holds " v ", not record " first + (o - $5)
			if (o == $5) first = n
		}
	}
	END { if (!batches) print "no acknowledged batch" }' "$1" "$2" >cka.out &&
	if test -s cka.out; then
		echo "check_kproduce_acked: $(wc -l <cka.out) problems:" >&2
		head cka.out >&2
		return 1
	fi
}

# desc_field FILE PART KEY: the value of "KEY: VALUE" on partition PART's
# line of ktopic describe's cluster output ("Topic: T<TAB>Partition: P<TAB>
# Leader: L<TAB>Replicas: R<TAB>Isr: I...")
desc_field() {
	awk -F '	' -v p="Partition: $2" -v k="$3: " '$2 == p {
		for (i = 1; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$1"
}

# wait_knows_leader TOPIC PART I: poll until node I's own METADATA names it
# the partition's leader (it serves produces as leader)
knows_leader_() {
	meta_from "$3" "$1" >kl.meta &&
	awk -v t="$1" -v p="$2" -v n="$3" '$1 == "part" && $2 == t && $3 == p && $4 == n { f = 1 }
		END { exit !f }' kl.meta
}

wait_knows_leader() {
	cluster_poll knows_leader_ "$1" "$2" "$3" || {
		echo "wait_knows_leader: node $3 does not lead $1-$2:" >&2
		grep "^part" kl.meta >&2
		return 1
	}
}
