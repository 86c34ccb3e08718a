# klog - a git-style TAP library for shell scenario tests. MIT licence.
#
# A test script is tests/tNNNN-area-what.t, executable, #!/bin/sh:
#
#	#!/bin/sh
#	test_description='what this script covers'
#	. "$(dirname "$0")/lib.sh"
#
#	test_expect_success 'create a topic' '
#		ktopic create orders -p 3 &&
#		ktopic list >actual &&
#		echo orders >expect &&
#		test_cmp expect actual
#	'
#	test_done
#
# Each test body is eval'd in the current shell (no subshell), so variables
# set in one test are seen by the next; the working directory is reset to
# $TRASH before each test.  Bodies should be &&-chained: the status of the
# body is the status of its last command.
#
# Variables: $TRASH (this script's scratch directory, made fresh and cd'd
# into; removed when every test passed, kept on failure), $TEST_DIRECTORY
# (absolute tests/), $TOP (project root), $SHARED ($TOP/../shared),
# $KLOG_DIR (exported, $TRASH/log, not created), $TEST_NUMBER (NNNN).
# PATH starts with $TOP and $TOP/tests.
#
# Background processes: `&` ends a whole &&-chain, so `a && b >out &`
# runs a too in the background and $! is not b's pid.  Write
#
#	{ kconsume -u t >out & } &&
#	pid=$! &&
#
# and stop daemons with test_atexit (or test_when_finished).  Background
# jobs still running when the script ends are killed, with a warning, so
# that a forgotten one cannot hold prove's pipe open.
#
# Options: -v/--verbose (show command output on stderr), -x (trace the
# bodies, implies -v), -i/--immediate (stop at the first failure); or the
# environment TEST_VERBOSE=1, TEST_TRACE=1, TEST_IMMEDIATE=1.
#
# This file must stay POSIX sh (it runs under dash).

if test -z "$test_description"; then
	echo "lib.sh: set test_description before sourcing lib.sh" >&2
	exit 1
fi

# --- options -------------------------------------------------------------

test_verbose=${TEST_VERBOSE:-}
test_trace=${TEST_TRACE:-}
test_immediate=${TEST_IMMEDIATE:-}
while test $# -gt 0; do
	case "$1" in
	-v|--verbose) test_verbose=1 ;;
	-x|--trace) test_trace=1 ;;
	-i|--immediate) test_immediate=1 ;;
	-vx|-xv) test_verbose=1; test_trace=1 ;;
	-h|--help)
		echo "$test_description"
		exit 0 ;;
	*)
		echo "lib.sh: unknown option '$1' (use -v, -x, -i)" >&2
		exit 1 ;;
	esac
	shift
done
test "$test_verbose" = 0 && test_verbose=
test "$test_trace" = 0 && test_trace=
test "$test_immediate" = 0 && test_immediate=
test -n "$test_trace" && test_verbose=1

# --- where we are --------------------------------------------------------

test_script_dir=$(cd "$(dirname "$0")" && pwd) || exit 1
if test -z "$TEST_DIRECTORY"; then
	TEST_DIRECTORY=$test_script_dir
fi
TOP=$(cd "$TEST_DIRECTORY/.." && pwd) || exit 1
SHARED=$(cd "$TOP/.." && pwd)/shared
TEST_NAME=$(basename "$0" .t)
TEST_NUMBER=$(expr "$TEST_NAME" : 't\([0-9][0-9]*\)')
test -n "$TEST_NUMBER" || TEST_NUMBER=0
TRASH="$test_script_dir/trash.$TEST_NAME"

PATH="$TOP:$TOP/tests:$PATH"
KLOG_DIR="$TRASH/log"
HOME="$TRASH"
LC_ALL=C
LANG=C
TZ=UTC
export PATH KLOG_DIR HOME LC_ALL LANG TZ
unset KLOG_BROKERS CDPATH

# --- state ---------------------------------------------------------------

test_count=0
test_failed=0
test_fixed=0
test_broken=0
test_skipped=0
test_prereqs=' '
test_cleanup_cmds=
test_atexit_cmds=
test_in_body=
test_title=
test_finished=
test_out="$TRASH.out"
test_err="$TRASH.err"

# --- scratch directory ---------------------------------------------------

test_remove_trash_() {
	case "$TRASH" in
	*/trash.*) ;;
	*) echo "lib.sh: refusing to remove '$TRASH'" >&2; return 1 ;;
	esac
	cd "$test_script_dir" || return 1
	if test -e "$TRASH"; then
		chmod -R u+rwx "$TRASH" 2>/dev/null
		rm -rf "$TRASH" || return 1
	fi
	rm -f "$test_out" "$test_err"
}

test_remove_trash_ || exit 1
mkdir -p "$TRASH" || exit 1
cd "$TRASH" || exit 1
: >"$test_out"
: >"$test_err"

# --- exit handling -------------------------------------------------------

test_run_atexit_() {
	if test -n "$test_atexit_cmds"; then
		cd "$TRASH" 2>/dev/null
		(eval "$test_atexit_cmds") </dev/null >>"$test_out" 2>>"$test_err"
		test_atexit_cmds=
	fi
}

# kill a process and its descendants (by parent pid, never by name)
test_kill_tree_() {
	for test_kt_child_ in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		test_kill_tree_ "$test_kt_child_"
	done
	kill -9 "$1" 2>/dev/null
}

# background jobs of this script still running at its end
test_kill_jobs_() {
	jobs -p >"$TRASH.jobs" 2>/dev/null || return 0
	for test_kj_pid_ in $(cat "$TRASH.jobs"); do
		if kill -0 "$test_kj_pid_" 2>/dev/null; then
			echo "# warning: killed leftover background job $test_kj_pid_"
			test_kill_tree_ "$test_kj_pid_"
		fi
	done
	rm -f "$TRASH.jobs"
}

test_on_exit_() {
	code=$?
	test -n "$test_finished" && return
	test_finished=1
	if test -n "$test_in_body"; then
		test_count=$((test_count + 1))
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $test_title"
		echo "# FATAL: the test body exited the script (code $code)"
		test_in_body=
	else
		echo "# FATAL: unexpected exit with code $code (missing test_done?)"
	fi
	test_run_atexit_
	test_kill_jobs_
	echo "1..$test_count"
	echo "# trash directory kept: $TRASH"
	exit 1
}

trap 'test_on_exit_' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites -------------------------------------------------------

# test_set_prereq NAME: declare that NAME holds
test_set_prereq() {
	test_prereqs="$test_prereqs$1 "
}

# test_have_prereq A,B,!C: all of A and B hold and C does not
test_have_prereq() {
	test_hp_list=$(echo "$1" | tr ',' ' ')
	for test_hp in $test_hp_list; do
		case "$test_hp" in
		!*)
			case "$test_prereqs" in
			*" ${test_hp#!} "*) return 1 ;;
			esac ;;
		*)
			case "$test_prereqs" in
			*" $test_hp "*) ;;
			*) return 1 ;;
			esac ;;
		esac
	done
	return 0
}

# --- running tests -------------------------------------------------------

test_eval_() {
	if test -n "$test_trace"; then
		set -x
		eval "$1"
		test_eval_ret_=$?
		{ set +x; } 2>/dev/null
		return $test_eval_ret_
	fi
	eval "$1"
}

test_comment_() {
	sed -e 's/^/# /' "$@"
}

# test_run_ TITLE BODY: sets test_ok_ to 1 when the body and its cleanups passed
test_run_() {
	test_title=$1
	test_cleanup_cmds=
	cd "$TRASH" || exit 1
	: >"$test_out"
	: >"$test_err"
	test_in_body=1
	if test -n "$test_verbose"; then
		test_eval_ "$2" </dev/null >&2
	else
		test_eval_ "$2" </dev/null >>"$test_out" 2>>"$test_err"
	fi
	test_ret_=$?
	test_in_body=
	cd "$TRASH" || exit 1
	if test -n "$test_cleanup_cmds"; then
		test_cleanup_failed_=
		if test -n "$test_verbose"; then
			eval "$test_cleanup_cmds" </dev/null >&2
		else
			eval "$test_cleanup_cmds" </dev/null >>"$test_out" 2>>"$test_err"
		fi
		test_cleanup_cmds=
		cd "$TRASH" || exit 1
		if test -n "$test_cleanup_failed_" && test $test_ret_ = 0; then
			echo "test_when_finished: a cleanup command failed" >>"$test_err"
			test_ret_=1
		fi
	fi
	test_ok_=
	test $test_ret_ = 0 && test_ok_=1
}

test_report_failure_() {
	printf '%s\n' "$2" | sed -e '/^[[:space:]]*$/d' -e 's/^	//' -e 's/^/#	/'
	if test -z "$test_verbose" && test -s "$test_err"; then
		echo "# stderr:"
		test_comment_ "$test_err"
	fi
}

test_check_args_() {
	if test $# -lt 3 || test $# -gt 4; then
		echo "lib.sh: bug in the test script: $1 takes [PREREQ] 'title' 'commands'" >&2
		exit 1
	fi
}

# a test whose prerequisite is missing: TAP skip
test_skip_() {
	test_count=$((test_count + 1))
	test_skipped=$((test_skipped + 1))
	echo "ok $test_count # skip $1 (missing $2)"
}

# test_expect_success [PREREQ] 'title' 'commands'
test_expect_success() {
	test_check_args_ test_expect_success "$@"
	if test $# = 3; then
		if ! test_have_prereq "$1"; then
			test_skip_ "$2" "$1"
			return 0
		fi
		shift
	fi
	test_run_ "$1" "$2"
	test_count=$((test_count + 1))
	if test -n "$test_ok_"; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		test_report_failure_ "$1" "$2"
		if test -n "$test_immediate"; then
			test_run_atexit_
			test_kill_jobs_
			test_finished=1
			echo "1..$test_count"
			echo "# stopping at the first failure (-i); trash directory kept: $TRASH"
			exit 1
		fi
	fi
	return 0
}

# test_expect_failure [PREREQ] 'title' 'commands': a known breakage (TAP TODO)
test_expect_failure() {
	test_check_args_ test_expect_failure "$@"
	if test $# = 3; then
		if ! test_have_prereq "$1"; then
			test_skip_ "$2" "$1"
			return 0
		fi
		shift
	fi
	test_run_ "$1" "$2"
	test_count=$((test_count + 1))
	if test -n "$test_ok_"; then
		test_fixed=$((test_fixed + 1))
		echo "ok $test_count - $1 # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		echo "not ok $test_count - $1 # TODO known breakage"
	fi
	return 0
}

# test_when_finished CMD...: run CMD after the current test, pass or fail
# (last registered runs first); a failing cleanup fails the test
test_when_finished() {
	if test -z "$test_in_body"; then
		echo "lib.sh: bug in the test script: test_when_finished outside a test" >&2
		return 1
	fi
	test_cleanup_cmds="{ $*
} || test_cleanup_failed_=1
$test_cleanup_cmds"
}

# test_atexit CMD...: run CMD when the script ends, however it ends (stop
# daemons here); last registered runs first
test_atexit() {
	test_atexit_cmds="{ $*
}
$test_atexit_cmds"
}

# test_skip_all 'reason': skip the whole script
test_skip_all() {
	test_run_atexit_
	test_kill_jobs_
	test_finished=1
	echo "1..0 # SKIP $*"
	test_remove_trash_
	exit 0
}

# test_done: the plan, a summary and the exit code
test_done() {
	test_run_atexit_
	test_kill_jobs_
	test_finished=1
	if test $test_fixed -gt 0; then
		echo "# $test_fixed known breakage(s) vanished; please update the test(s)"
	fi
	if test $test_broken -gt 0; then
		echo "# still have $test_broken known breakage(s)"
	fi
	echo "1..$test_count"
	if test $test_failed -gt 0; then
		echo "# failed $test_failed among $test_count test(s)"
		echo "# trash directory kept: $TRASH"
		exit 1
	fi
	test_remove_trash_ ||
		echo "# warning: could not remove '$TRASH'"
	exit 0
}

# --- assertions ----------------------------------------------------------

# test_must_fail CMD...: CMD must fail the ordinary way (exit 1..125); a
# success, 126/127 (not runnable, not found) or a death by signal (>128) is
# a test failure
test_must_fail() {
	"$@"
	test_mf_code_=$?
	if test $test_mf_code_ = 0; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif test $test_mf_code_ -gt 128; then
		echo "test_must_fail: died by signal $((test_mf_code_ - 128)): $*" >&2
		return 1
	elif test $test_mf_code_ = 127; then
		echo "test_must_fail: command not found: $*" >&2
		return 1
	elif test $test_mf_code_ -gt 125; then
		echo "test_must_fail: invalid exit code $test_mf_code_: $*" >&2
		return 1
	fi
	return 0
}

# test_expect_code N CMD...: CMD must exit with code N
test_expect_code() {
	test_ec_want_=$1
	shift
	"$@"
	test_ec_code_=$?
	if test "$test_ec_code_" = "$test_ec_want_"; then
		return 0
	fi
	echo "test_expect_code: command exited with $test_ec_code_, want $test_ec_want_: $*" >&2
	return 1
}

# test_cmp EXPECT ACTUAL: identical files (diff -u on stderr otherwise)
test_cmp() {
	if test $# != 2; then
		echo "lib.sh: bug in the test script: test_cmp takes 2 files" >&2
		return 1
	fi
	diff -u "$1" "$2" >&2
}

# test_line_count OP N FILE: e.g. test_line_count = 3 actual
test_line_count() {
	if test $# != 3; then
		echo "lib.sh: bug in the test script: test_line_count OP N FILE" >&2
		return 1
	fi
	test_lc_=$(wc -l <"$3" | tr -d ' ')
	if ! test "$test_lc_" "$1" "$2"; then
		echo "test_line_count: '$3' has $test_lc_ line(s), want $1 $2" >&2
		return 1
	fi
}

# test_path_is_file F, test_path_is_dir D, test_path_is_missing P
test_path_is_file() {
	test -f "$1" || { echo "file '$1' does not exist" >&2; return 1; }
}
test_path_is_dir() {
	test -d "$1" || { echo "directory '$1' does not exist" >&2; return 1; }
}
test_path_is_missing() {
	if test -e "$1" || test -L "$1"; then
		echo "path '$1' exists" >&2
		return 1
	fi
}

# --- daemons and readiness -----------------------------------------------

# test_fifo NAME: make a named pipe (e.g. for a readiness line)
test_fifo() {
	rm -f "$1" && mkfifo "$1"
}

# test_wait_line FILE PATTERN [TIMEOUT_S]: wait until a line of FILE matches
# the grep pattern; default timeout 10s.  A fifo is read (blocking, no
# polling) and closed after the match, so use it for a line the writer
# sends once (a readiness line); a writer that keeps writing gets SIGPIPE.
# A regular file is polled with short sleeps.  A FILE that does not exist
# yet is waited for.
test_wait_line() {
	test_wl_t_=${3:-10}
	test_wl_end_=$(($(date +%s) + test_wl_t_))
	test_wl_nap_=0.01
	while :; do
		if test -p "$1"; then
			test_wl_left_=$((test_wl_end_ - $(date +%s)))
			test $test_wl_left_ -lt 1 && test_wl_left_=1
			timeout "$test_wl_left_" grep -q -m 1 -e "$2" "$1"
			test_wl_ret_=$?
			test $test_wl_ret_ = 0 && return 0
			if test $test_wl_ret_ = 124; then
				echo "test_wait_line: timed out after ${test_wl_t_}s waiting for '$2' in '$1'" >&2
			else
				echo "test_wait_line: '$1' closed without a line matching '$2'" >&2
			fi
			return 1
		fi
		if test -f "$1" && grep -q -e "$2" "$1"; then
			return 0
		fi
		if test "$(date +%s)" -ge "$test_wl_end_"; then
			echo "test_wait_line: timed out after ${test_wl_t_}s waiting for '$2' in '$1'" >&2
			return 1
		fi
		sleep $test_wl_nap_
		case $test_wl_nap_ in
		0.01) test_wl_nap_=0.02 ;;
		0.02) test_wl_nap_=0.05 ;;
		*) test_wl_nap_=0.1 ;;
		esac
	done
}

# test_poll CMD...: run CMD in this shell until it succeeds, every 20 ms for
# at most ~10 s; 1 when it never did (the caller says what it waited for)
test_poll() {
	test_poll_i_=0
	until "$@"; do
		test_poll_i_=$((test_poll_i_ + 1))
		test $test_poll_i_ -gt 500 && return 1
		sleep 0.02
	done
	return 0
}

# --- a terminal -------------------------------------------------------------
#
# test_on_tty CMD: run the shell command CMD with a pseudo-terminal as its
# stdin, stdout and stderr (util-linux's script(1)); what it writes to the
# terminal comes out on stdout, carriage returns kept.  Redirect inside CMD
# to give it a file instead of the terminal.  Tests that need it say TTY.
test_on_tty() {
	script -qfec "$1" /dev/null </dev/null
}

if script -qfec true /dev/null </dev/null >/dev/null 2>&1; then
	test_set_prereq TTY
fi

# --- the same scenarios through a broker ---------------------------------
#
# With KLOG_TEST_REMOTE=1 (make check runs the REMOTE_TESTS scripts a second
# time so), a kbrokerd serves $KLOG_DIR for the whole script and
# KLOG_BROKERS points the tools at it: ktopic, kproduce and kconsume then
# go through the broker, with no change to the test bodies.  A script that
# looks at files directly says test_embedded_only first; a single test
# says so with the EMBEDDED prerequisite (test_expect_success EMBEDDED ...).

test_embedded_only() {
	if test -n "$KLOG_TEST_REMOTE"; then
		test_skip_all "embedded only: ${1:-this script reads the log directory itself}"
	fi
}

test_start_broker_() {
	mkdir -p "$KLOG_DIR" &&
	test_fifo "$TRASH.ready" &&
	{ kbrokerd -d "$KLOG_DIR" -l 127.0.0.1:0 -q -r 3 \
		3>"$TRASH.ready" 2>>"$TRASH.broker" </dev/null & } &&
	test_broker_pid=$! &&
	read test_sb_addr_ <"$TRASH.ready" &&
	rm -f "$TRASH.ready" &&
	test -n "$test_sb_addr_" &&
	kill -0 "$test_broker_pid" || {
		echo "Bail out! kbrokerd did not start: $(cat "$TRASH.broker" 2>/dev/null)"
		exit 1
	}
	KLOG_BROKERS=$test_sb_addr_
	export KLOG_BROKERS
	# stop it and let it finish its checkpoints before the trash goes
	test_atexit 'kill -TERM "$test_broker_pid" 2>/dev/null; n=0
		while kill -0 "$test_broker_pid" 2>/dev/null && test $n -lt 100; do
			sleep 0.05; n=$((n + 1)); done; rm -f "$TRASH.broker"'
}

if test -n "$KLOG_TEST_REMOTE"; then
	test_start_broker_
else
	test_set_prereq EMBEDDED
fi
