#!/bin/sh
# klog - damage trials: random bit flips and truncations against checks and readers. MIT licence.

test_description='every flipped header bit and every truncated sealed segment is found; readers never serve damage'
. "$(dirname "$0")/lib.sh"
test_embedded_only "damages segment files behind the tools' backs"
. "$TEST_DIRECTORY/lib-broker.sh"

# KLOG_DAMAGE_TRIALS flips (default 200), a quarter as many truncations,
# a fifth as many index trials and a tenth as many trials through a
# broker (at least 5: one of each kind).  KLOG_DAMAGE_SEED makes a run
# repeatable (it is printed with -v and with a failure).
FLIPS=${KLOG_DAMAGE_TRIALS:-200}
TRUNCS=$((FLIPS / 4 > 0 ? FLIPS / 4 : 1))
INDEXES=$((FLIPS / 5 > 0 ? FLIPS / 5 : 1))
REMOTE=$((FLIPS / 10 > 5 ? FLIPS / 10 : 5))
SEED=${KLOG_DAMAGE_SEED:-$(($(date +%s) % 100000 + $$))}
T=dt
P=$T-0

# a failure line for kind $1 (offset.read ...): "$2" (the trial) and why
fail() {
	echo "$2: $3" >>"$TRASH/fail.$1"
}

# counters of checks per kind, in shell variables (the test bodies run in
# this shell): count KIND, counted KIND
count() {
	eval "n_${1%%.*}_${1#*.}=\$((\${n_${1%%.*}_${1#*.}:-0} + 1))"
}
counted() {
	eval "echo \${n_${1%%.*}_${1#*.}:-0}"
}

# the damaged file back from the pristine copy (readers write nothing;
# the last test checks that)
restore() {
	cp "$TRASH/pristine/$P/$DAMAGED" "$KLOG_DIR/$P/$DAMAGED"
}

# check_verify KIND TRIAL SEGNAME BYTE: kdump --verify exits 1 naming both
check_verify() {
	count "$1.verify"
	kdump --verify "$KLOG_DIR" >v.out 2>v.err
	cv_rc=$?
	if test $cv_rc != 1; then
		fail "$1.verify" "$2" "kdump --verify exit $cv_rc"
		return
	fi
	# (read and case are built in: no process per line)
	while IFS= read -r cv_line; do
		case $cv_line in
		*"$3'"*"byte $4"|*"$3'"*"byte $4"[!0-9]*) return ;;
		esac
	done <v.err
	fail "$1.verify" "$2" "no message naming '$3' and byte $4: $(head -n 3 v.err | tr '\n' '|')"
}

# check_read KIND TRIAL SEGNAME EXPECT [KCONSUME ARGS]: the records read
# are EXPECT exactly, or the read fails naming the segment, having printed
# a prefix of EXPECT
check_read() {
	cr_kind=$1 cr_trial=$2 cr_seg=$3 cr_expect=$4
	shift 4
	count "$cr_kind"
	kconsume "$@" -e -f '%o %s\n' $T >r.out 2>r.err
	cr_rc=$?
	if test $cr_rc -gt 128; then
		fail "$cr_kind" "$cr_trial" "killed by signal $((cr_rc - 128)): $(head -n 2 r.err | tr '\n' '|')"
		return
	fi
	if cmp -s r.out "$cr_expect"; then
		cr_cmp=
	else
		cr_cmp=$(cmp r.out "$cr_expect" 2>&1)
	fi
	if test $cr_rc = 0; then
		test -z "$cr_cmp" ||
		fail "$cr_kind" "$cr_trial" "exit 0 with other records than the pristine log: $cr_cmp"
		return
	fi
	case $cr_cmp in
	""|*"EOF on r.out"*) ;;
	*)
		fail "$cr_kind" "$cr_trial" "exit $cr_rc after printing records that are not the pristine ones: $cr_cmp"
		return ;;
	esac
	while IFS= read -r cr_line; do
		case $cr_line in
		*"$cr_seg"*) return ;;
		esac
	done <r.err
	fail "$cr_kind" "$cr_trial" "exit $cr_rc without naming segment '$cr_seg': $(head -n 2 r.err | tr '\n' '|')"
}

# report KIND...: how many checks of each kind failed, and a few of them
report() {
	rp_bad=0
	echo "# seed $SEED" >&2
	for rp_k in "$@"; do
		report1_ "$rp_k" >&2 || rp_bad=1
	done
	return $rp_bad
}

report1_() {
	r1_n=$(counted "$1")
	if test "$r1_n" = 0; then
		echo "# $1: no checks ran"
		return 1
	fi
	if test -s "$TRASH/fail.$1"; then
		echo "# $1: $(wc -l <"$TRASH/fail.$1") of $r1_n checks failed, e.g.:"
		head -n 3 "$TRASH/fail.$1" | sed 's/^/#   /'
		return 1
	fi
	echo "# $1: all $r1_n checks passed"
}

test_expect_success 'setup: a topic of several sealed segments, with indexes' '
	echo "# seed $SEED (KLOG_DAMAGE_SEED to repeat)" &&
	mkdir -p "$KLOG_DIR" &&
	ktopic create $T --config segment.bytes=1500 --config index.interval.bytes=200 &&
	i=0 &&
	while test $i -lt 24; do
		ktest seq 12 "r$i-" | kproduce -B 180 $T || return 1
		i=$((i + 1))
	done &&
	kdump --verify "$KLOG_DIR" >ok &&
	test "$(wc -l <ok)" -ge 5 &&
	cp -R "$KLOG_DIR" pristine &&
	kconsume -e -f "%o %s\n" $T >all &&
	test_line_count = 288 all &&
	kconsume -e -f "%o %T\n" $T >stamps &&
	(cd "$KLOG_DIR/$P" && ls *.log) >segments &&
	test "$(wc -l <segments)" -ge 5 &&
	: >batches &&
	while read -r s; do
		ktest batches "$KLOG_DIR/$P/$s" | sed "s/^/$s /" >>batches || return 1
	done <segments &&
	test "$(wc -l <batches)" -gt 20 &&
	(cd "$KLOG_DIR/$P" && for f in *.index *.timeindex; do
		test -s "$f" && echo "$f $(wc -c <"$f")"; done) >indexes &&
	test "$(wc -l <indexes)" -ge 5
'

# the plan: one line per trial, drawn from the batches with the seed
test_expect_success 'draw the trials' '
	sed "\$d" segments >sealed &&
	awk -v seed=$SEED -v flips=$FLIPS -v truncs=$TRUNCS -v idx=$INDEXES \
	    -v remote=$REMOTE "
		BEGIN { nb = ns = ni = nt = 0 }
		FILENAME == \"batches\" { seg[nb] = \$1; pos[nb] = \$2; size[nb] = \$3; nb++;
			end[\$1] = \$2 + \$3; next }
		FILENAME == \"sealed\" { sealed[ns++] = \$1; next }
		FILENAME == \"indexes\" { ixf[ni] = \$1; ixs[ni] = \$2; ni++; next }
		FILENAME == \"stamps\" { if (!nt || \$2 < tmin) tmin = \$2; if (\$2 > tmax) tmax = \$2;
			nt++; next }
		function flip(kind,   k, b) {
			k = int(rand() * nb)
			if (kind == \"\")
				kind = rand()
			if (kind == \"offset\" || kind < 0.25) { b = int(rand() * 8); kind = \"offset\" }
			else if (kind == \"length\" || kind < 0.5) { b = 8 + int(rand() * 4); kind = \"length\" }
			else { b = 16 + int(rand() * (size[k] - 16)); kind = \"body\" }
			return kind \" \" seg[k] \" \" (pos[k] + b) \" \" int(rand() * 8) \" \" pos[k]
		}
		function trunc(   s, t, j, p) {
			s = sealed[int(rand() * ns)]
			t = int(rand() * end[s])
			p = 0
			for (j = 0; j < nb; j++)
				if (seg[j] == s && pos[j] <= t) p = pos[j]
			return \"trunc \" s \" \" t \" 0 \" p
		}
		function ixtrial(   k, n, e, es) {
			k = int(rand() * ni)
			es = ixf[k] ~ /timeindex/ ? 12 : 8
			n = int(ixs[k] / es)
			e = int(rand() * n)
			if (rand() < 0.5)
				return \"zero \" ixf[k] \" \" (e * es) \" \" es
			return \"iflip \" ixf[k] \" \" (e * es + int(rand() * es)) \" \" int(rand() * 8)
		}
		function queries(   i, s) {
			s = \"\"
			for (i = 0; i < 2; i++) s = s \" \" int(rand() * nt)
			for (i = 0; i < 1; i++)
				s = s \" s@\" sprintf(\"%.0f\", tmin - 1 + int(rand() * (tmax - tmin + 3)))
			return s
		}
		END {
			srand(seed)
			for (i = 0; i < flips; i++) print flip(\"\") >\"plan.flips\"
			for (i = 0; i < truncs; i++) print trunc() >\"plan.truncs\"
			for (i = 0; i < idx; i++) print ixtrial() queries() >\"plan.index\"
			print flip(\"offset\") >\"plan.remote\"
			print flip(\"length\") >\"plan.remote\"
			print flip(\"body\") >\"plan.remote\"
			print trunc() >\"plan.remote\"
			print ixtrial() queries() >\"plan.remote\"
			for (i = 5; i < remote; i++) {
				r = rand()
				if (r < 0.4) print flip(\"\") >\"plan.remote\"
				else if (r < 0.6) print trunc() >\"plan.remote\"
				else print ixtrial() queries() >\"plan.remote\"
			}
		}
	" batches sealed indexes stamps &&
	test_line_count = $FLIPS plan.flips &&
	test_line_count = $TRUNCS plan.truncs &&
	test_line_count = $INDEXES plan.index
'

# damage LINE: apply one plan line to $KLOG_DIR; sets SEGNAME (the damaged
# segment, "dt-0/<base>.log") and BYTE (where the damage starts)
damage() {
	set -- $1
	case $1 in
	offset|length|body)
		ktest flip "$KLOG_DIR/$P/$2" "$3" "$4" && SEGNAME=$P/$2 && BYTE=$5 ;;
	trunc)
		ktest truncate "$KLOG_DIR/$P/$2" "$3" && SEGNAME=$P/$2 && BYTE=$5 ;;
	zero)
		ktest zero "$KLOG_DIR/$P/$2" "$3" "$4" && SEGNAME=$P/${2%.*}.log ;;
	iflip)
		ktest flip "$KLOG_DIR/$P/$2" "$3" "$4" && SEGNAME=$P/${2%.*}.log ;;
	esac &&
	DAMAGED=$2
}

# index_reads KIND TRIAL Q...: kconsume from the beginning, from offsets,
# from timestamps gives the pristine answers
index_reads() {
	ir_kind=$1 ir_trial=$2
	shift 2
	check_read "$ir_kind" "$ir_trial (from the beginning)" "$SEGNAME" all "$@"
	for q in $QUERIES; do
		case $q in
		s@*)
			kconsume -d pristine -e -o "$q" -f "%o %s\n" $T >expect.q ;;
		*)
			sed -n "$((q + 1)),\$p" all >expect.q ;;
		esac
		check_read "$ir_kind" "$ir_trial (-o $q)" "$SEGNAME" expect.q -o "$q" "$@"
	done
}

test_expect_success 'run the flip and truncation trials (kdump --verify, kconsume -d)' '
	cat plan.flips plan.truncs >plan.embedded &&
	while read -r line; do
		set -- $line
		damage "$line" &&
		check_verify $1 "$line" "$SEGNAME" "$BYTE" &&
		check_read $1.read "$line" "$SEGNAME" all -d "$KLOG_DIR" &&
		restore || return 1
	done <plan.embedded
'

test_expect_success 'kdump --verify names the segment and byte of every baseOffset flip' '
	report offset.verify
'

test_expect_success 'kdump --verify names the segment and byte of every batchLength flip' '
	report length.verify
'

test_expect_success 'kdump --verify names the segment and byte of every flip under the CRC' '
	report body.verify
'

test_expect_success 'kdump --verify names the segment and byte of every truncated sealed segment' '
	report trunc.verify
'

test_expect_success 'the readers changed nothing; the log is whole again' '
	diff -r pristine "$KLOG_DIR" &&
	kdump --verify "$KLOG_DIR" >/dev/null
'

test_expect_success 'kconsume -d after a baseOffset flip: the pristine records, or an error naming the segment' '
	report offset.read
'

test_expect_success 'kconsume -d after a batchLength flip: the pristine records, or an error naming the segment' '
	report length.read
'

test_expect_success 'kconsume -d after a flip under the CRC: the pristine records, or an error naming the segment' '
	report body.read
'

test_expect_success 'kconsume -d after a sealed segment was truncated: the pristine records, or an error naming the segment' '
	report trunc.read
'

test_expect_success 'run the index trials (kconsume -d from the beginning, offsets, timestamps)' '
	while read -r kind file a b rest; do
		line="$kind $file $a $b"
		QUERIES=$rest
		damage "$line" &&
		index_reads index.read "$line" -d "$KLOG_DIR" &&
		restore || return 1
	done <plan.index
'

test_expect_success 'a damaged index is only a hint: kconsume -d gives the pristine answers' '
	report index.read
'

# through a broker on a copy of its own: a broker that will not start
# must name the damaged segment; else the reads follow the embedded rules
test_expect_success 'run the trials through a broker (kconsume -b)' '
	n=0 &&
	saved_dir=$KLOG_DIR &&
	KLOG_DIR=$TRASH/rlog &&
	while read -r kind file a b rest; do
		line="$kind $file $a $b${rest:+ $rest}"
		case $kind in
		zero|iflip) QUERIES=$rest; line="$kind $file $a $b"; k=index ;;
		*) QUERIES=; k=$kind ;;
		esac
		n=$((n + 1)) &&
		rm -rf rlog && cp -R pristine rlog &&
		damage "$line" || return 1
		if ! start_broker b$n 2>/dev/null; then
			eval "kill \$b${n}_pid 2>/dev/null"
			count remote.$k
			grep -q -F "$SEGNAME" b$n.err ||
			fail remote.$k "$line" "the broker did not start, without naming the segment: $(head -n 2 b$n.err | tr "\n" "|")"
			continue
		fi
		case $k in
		index) index_reads remote.$k "$line" -b "$KLOG_BROKERS" ;;
		*) check_read remote.$k "$line" "$SEGNAME" all -b "$KLOG_BROKERS" ;;
		esac
		stop_broker b$n 2>/dev/null
		KLOG_BROKERS=
	done <plan.remote
	KLOG_DIR=$saved_dir
'

test_expect_success 'through a broker: the pristine records, or an error naming the segment' '
	report remote.offset remote.length remote.body remote.trunc remote.index
'

test_done
