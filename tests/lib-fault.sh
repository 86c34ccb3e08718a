# klog - what the fault-injection scenarios share; source after lib.sh. MIT licence.
#
# The shim (tests/libfault.so, see tests/fault.c) goes into one process
# only: a kbrokerd started by start_fault_broker, or whatever fault_run
# runs.  Its rules come from the file $TRASH/rules, which arm and disarm
# rewrite while the process runs; injected faults are logged in
# $TRASH/flog, every call on a file under $KLOG_DIR is traced in
# $TRASH/trace.  The script is skipped where the shim cannot be used.

SHIM=$TEST_DIRECTORY/libfault.so
ASAN_PRELOAD="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
RULES=$TRASH/rules
FLOG=$TRASH/flog
TRACE=$TRASH/trace

test -f "$SHIM" || test_skip_all "tests/libfault.so is not built (make check builds it)"
env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" true 2>"$TRASH/preload.err"
if grep -q "cannot be preloaded" "$TRASH/preload.err"; then
	test_skip_all "tests/libfault.so cannot be preloaded: $(cat "$TRASH/preload.err")"
fi

# fault_run CMD [ARGS...]: CMD under the shim
fault_run() {
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT_ROOT="$KLOG_DIR" \
		KLOG_FAULT_FILE="$RULES" KLOG_FAULT_LOG="$FLOG" KLOG_FAULT_TRACE="$TRACE" "$@"
}

# arm RULES: the rules file holds RULES (';'-separated), from now on (a new
# file renamed over the old one, so the shim always sees the change)
arm() {
	printf "%s\n" "$1" >"$RULES.new" &&
	mv -f "$RULES.new" "$RULES"
}

disarm() {
	rm -f "$RULES"
}

# start_fault_broker NAME [ARGS...]: start_broker (lib-broker.sh) with the
# kbrokerd under the shim: a wrapper script that execs it, found first in
# PATH only while start_broker runs, so NAME_pid is kbrokerd's own pid
start_fault_broker() {
	mkdir -p "$TRASH/fault-bin" &&
	cat >"$TRASH/fault-bin/kbrokerd" <<-EOF &&
	#!/bin/sh
	exec env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT_ROOT="$KLOG_DIR" \\
		KLOG_FAULT_FILE="$RULES" KLOG_FAULT_LOG="$FLOG" KLOG_FAULT_TRACE="$TRACE" \\
		"$TOP/kbrokerd" "\$@"
	EOF
	chmod +x "$TRASH/fault-bin/kbrokerd" &&
	sfb_path=$PATH &&
	PATH=$TRASH/fault-bin:$PATH &&
	start_broker "$@"
	sfb_rc=$?
	PATH=$sfb_path
	return $sfb_rc
}

# trace_mark: remember where the trace ends now; trace_wait PATTERN: wait
# (at most ~10 s) for a line matching PATTERN after the mark
trace_mark() {
	tm_mark=$(cat "$TRACE" 2>/dev/null | wc -l)
}

trace_has_() {
	tail -n +$((tm_mark + 1)) "$TRACE" 2>/dev/null | grep -q -e "$1"
}

trace_wait() {
	test_poll trace_has_ "$1" || {
		echo "trace_wait: no line matching '$1' in the trace after line $tm_mark" >&2
		return 1
	}
}

# synced_past FILE: wait (at most ~10 s) until the trace shows a successful
# fdatasync of FILE that was called after the last write to it
synced_now_() {
	awk -v f="$1" '
		$3 == f && $1 == "write" { lw = NR; ok = 0 }
		$3 == f && $1 == "fdatasync" && $2 == "begin" { b = NR }
		$3 == f && $1 == "fdatasync" && $2 == "0" && b > lw { ok = 1 }
		END { exit !ok }' "$TRACE"
}

synced_past() {
	test_poll synced_now_ "$1" || {
		echo "synced_past: no sync of '$1' after its last write" >&2
		return 1
	}
}

# produce_req TOPIC PART N: a PRODUCE request (acks 1) of one batch of N records
produce_req() {
	kbatch good "$3" >pr.batch &&
	printf "PRODUCE %s %s 1 %s\n" "$1" "$2" "$(wc -c <pr.batch)" &&
	cat pr.batch
}

# segfile PART BASE [SUFFIX]: the path of a segment file of topic t
segfile() {
	printf "%s/t-%s/%020d%s" "$KLOG_DIR" "$1" "$2" "${3:-.log}"
}

# state PART: partition PART's state in DESCRIBE t (its 7th column)
state() {
	printf "DESCRIBE t\nQUIT\n" | talk | awk -F "\t" -v p="$1" 'NF >= 7 && $2 == p { print $7 }'
}

# online PART: klog_partition_online of t's partition PART
online() {
	metric "klog_partition_online{topic=\"t\",partition=\"$1\"}"
}

# check_acks P: a broker runs under the shim with the trace in $TRACE and
# kbclient -T appends its "kbclient ok t P FIRST LAST PID" lines to the same
# file (both O_APPEND, one write a line), so the file's order is the order
# of events: a write to a segment is traced when it returned, a sync when
# it was called and when it returned, an acknowledgement when the client
# had it.  When every batch produced to t holds one record, the record of
# offset N is the (N+1)th successful write to t-P's .log files, whichever
# client sent it.  Every acknowledgement of t-P in the trace must come after
#  - a successful fdatasync of the segment file its record went to that
#    BEGAN after that write (a sync that began before it proves nothing,
#    even if it ended after: the group commit's durable end is the log
#    end when the sync was prepared), and
#  - a successful fsync of the partition directory that began after that
#    segment file was created (the new segment's name is durable);
# and the offsets acknowledged to one client go up.  Prints how many it
# checked.
check_acks() {
	awk -v dir="$KLOG_DIR/t-$1" -v p="$1" '
	function seg(f) { return index(f, dir "/") == 1 && f ~ /\.log$/ }
	$1 == "open" && $2 == "0" && seg($3) { created = NR }
	$1 == "write" && $2 == "0" && seg($3) { nw++; w[nw] = NR; wf[nw] = $3; wc[nw] = created }
	($1 == "fdatasync" || $1 == "fsync") && seg($3) {
		if ($2 == "begin")
			b[$3] = NR
		else if ($2 == "0" && b[$3] > good[$3])
			good[$3] = b[$3]
	}
	$1 == "dirfsync" && $3 == dir {
		if ($2 == "begin")
			bd = NR
		else if ($2 == "0" && bd > gooddir)
			gooddir = bd
	}
	$1 == "kbclient" && $2 == "ok" && $3 == "t" && $4 == p {
		na++
		k = $5 + 1
		if ($5 != $6) {
			print "line " NR ": not a one-record batch: " $0
			bad = 1
		} else if (!(k in w)) {
			print "line " NR ": offset " $5 " acknowledged before it was written"
			bad = 1
		} else {
			if (good[wf[k]] <= w[k]) {
				print "line " NR ": offset " $5 " acknowledged with no sync of " wf[k] \
				    " begun after its write (line " w[k] ")"
				bad = 1
			}
			if (gooddir <= wc[k]) {
				print "line " NR ": offset " $5 " acknowledged before the name of " \
				    wf[k] " (created at line " wc[k] ") was synced"
				bad = 1
			}
		}
		if (($7 in last) && $5 <= last[$7]) {
			print "line " NR ": offset " $5 " acknowledged after " last[$7]
			bad = 1
		}
		last[$7] = $6
	}
	END {
		print na + 0
		exit bad
	}' "$TRACE"
}
