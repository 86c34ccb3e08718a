#!/bin/sh
# klog - self-test of tests/lib.sh. MIT licence.

test_description='the shell test library itself'
. "$(dirname "$0")/lib.sh"

# run_sub NAME BODY [OPTION]: write BODY as a test script sub/NAME.t
# (lib.sh sourced from the real tests/), run it with its stdout on a pipe
# as under prove (a process left holding the pipe would hang it: the
# timeout catches that), leave its TAP in NAME.out, stderr in NAME.err and
# exit code in NAME.code
run_sub() {
	mkdir -p sub &&
	{
		echo '#!/bin/sh'
		echo "test_description='nested $1'"
		echo '. "$TEST_DIRECTORY/lib.sh"'
		printf '%s\n' "$2"
	} >"sub/$1.t" &&
	chmod +x "sub/$1.t" &&
	(
		unset TEST_VERBOSE TEST_TRACE TEST_IMMEDIATE
		TEST_DIRECTORY=$TEST_DIRECTORY
		export TEST_DIRECTORY
		timeout 60 sh -c '
			{ "./sub/$1.t" $2 2>"$1.err"; echo $? >"$1.code"; } | cat >"$1.out"
		' run_sub "$1" "$3"
	)
}

test_expect_success 'a passing test runs in the scratch directory' '
	test "$(pwd)" = "$TRASH" &&
	test -d "$TRASH" &&
	case "$TRASH" in */tests/trash.t0000-lib) ;; *) false ;; esac
'

test_expect_success 'variables set in a test persist to the next' '
	persisted=yes
'

test_expect_success 'variables persisted' '
	test "$persisted" = yes
'

test_expect_success 'the directory is reset between tests (part 1)' '
	mkdir -p deeper && cd deeper
'

test_expect_success 'the directory is reset between tests (part 2)' '
	test "$(pwd)" = "$TRASH"
'

test_expect_success 'environment: KLOG_DIR, TOP, TEST_DIRECTORY, SHARED, PATH' '
	test "$KLOG_DIR" = "$TRASH/log" &&
	test_path_is_missing "$KLOG_DIR" &&
	test -f "$TOP/Makefile" &&
	test -f "$TEST_DIRECTORY/lib.sh" &&
	test "$SHARED" = "$(cd "$TOP/.." && pwd)/shared" &&
	case "$PATH" in "$TOP:$TOP/tests:"*) ;; *) false ;; esac &&
	sh -c "test \"\$KLOG_DIR\" = \"$TRASH/log\""
'

test_expect_success 'test_must_fail accepts an ordinary failure' '
	test_must_fail false &&
	test_must_fail sh -c "exit 1" &&
	test_must_fail sh -c "exit 2" &&
	test_must_fail sh -c "exit 125"
'

test_expect_success 'test_must_fail rejects success, 126, 127 and signals' '
	! test_must_fail true 2>err &&
	grep "command succeeded" err &&
	! test_must_fail sh -c "exit 127" 2>err &&
	! test_must_fail no-such-command-klog 2>err &&
	grep "not found" err &&
	! test_must_fail sh -c "exit 126" 2>err &&
	! test_must_fail sh -c "kill -9 \$\$" 2>err &&
	grep "signal 9" err &&
	! test_must_fail sh -c "kill -TERM \$\$" 2>err &&
	grep "signal 15" err
'

test_expect_success 'test_expect_code' '
	test_expect_code 0 true &&
	test_expect_code 2 sh -c "exit 2" &&
	! test_expect_code 1 sh -c "exit 2" 2>err &&
	grep "exited with 2, want 1" err
'

test_expect_success 'test_cmp' '
	printf "a\nb\n" >one &&
	printf "a\nb\n" >two &&
	printf "a\nc\n" >three &&
	test_cmp one two &&
	! test_cmp one three 2>err &&
	grep "^-b" err && grep "^+c" err
'

test_expect_success 'test_line_count and test_path_*' '
	printf "1\n2\n3\n" >three &&
	test_line_count = 3 three &&
	! test_line_count = 2 three 2>/dev/null &&
	test_path_is_file three &&
	mkdir d && test_path_is_dir d &&
	test_path_is_missing nothing &&
	! test_path_is_missing three 2>/dev/null
'

test_expect_success 'test_when_finished runs after the test' '
	test_when_finished "rm -f cleanme; echo ran >>cleanup.log" &&
	: >cleanme &&
	test -f cleanme
'

test_expect_success 'test_when_finished ran' '
	test_path_is_missing cleanme &&
	test "$(cat cleanup.log)" = ran
'

test_expect_success 'test_fifo and test_wait_line on a fifo' '
	test_fifo ready &&
	test -p ready &&
	{ (sleep 0.1; echo starting; echo READY 1234) >ready & } &&
	test_wait_line ready "^READY" 5 &&
	wait
'

test_expect_success 'test_wait_line on a fifo whose writer goes away' '
	test_fifo gone &&
	{ (echo nothing here) >gone & } &&
	test_must_fail test_wait_line gone "^READY" 5 2>err &&
	grep "closed" err &&
	wait
'

test_expect_success 'test_wait_line waits for a fifo that does not exist yet' '
	{ (sleep 0.2; mkfifo late; echo READY >late) & } &&
	test_wait_line late "^READY" 5 &&
	wait
'

test_expect_success 'test_wait_line times out' '
	test_fifo never &&
	test_must_fail test_wait_line never "^READY" 1 2>err &&
	grep "timed out" err
'

test_expect_success 'test_wait_line on a regular file' '
	: >log.txt &&
	{ (sleep 0.2; echo "listening" >>log.txt) & } &&
	test_wait_line log.txt listening 5 &&
	wait &&
	test_must_fail test_wait_line log.txt absent 1 2>/dev/null
'

test_expect_success 'prerequisites' '
	! test_have_prereq NOPE &&
	test_set_prereq YES &&
	test_have_prereq YES &&
	test_have_prereq !NOPE &&
	test_have_prereq YES,!NOPE &&
	! test_have_prereq YES,NOPE &&
	! test_have_prereq !YES
'

test_expect_success 'nested: a passing script' '
	run_sub pass "
test_expect_success \"one\" \"true\"
test_expect_success \"two\" \"x=1 && test \\\$x = 1\"
test_done" &&
	printf "ok 1 - one\nok 2 - two\n1..2\n" >expect &&
	test_cmp expect pass.out &&
	test "$(cat pass.code)" = 0 &&
	test_path_is_missing sub/trash.pass
'

test_expect_success 'nested: test_must_fail of a signal death is reported as failure' '
	run_sub sig "
test_expect_success \"killed\" \"test_must_fail sh -c '\''kill -9 \\\$\\\$'\''\"
test_expect_success \"term\" \"test_must_fail sh -c '\''kill -TERM \\\$\\\$'\''\"
test_expect_success \"plain failure\" \"test_must_fail sh -c '\''exit 3'\''\"
test_done" &&
	grep "^not ok 1 - killed\$" sig.out &&
	grep "^not ok 2 - term\$" sig.out &&
	grep "^ok 3 - plain failure\$" sig.out &&
	grep "^# test_must_fail: died by signal 9" sig.out &&
	grep "^1\\.\\.3\$" sig.out &&
	grep "^# failed 2 among 3" sig.out &&
	test "$(cat sig.code)" = 1 &&
	test_path_is_dir sub/trash.sig
'

test_expect_success 'nested: a failure shows the commands and their stderr' '
	run_sub fail "
test_expect_success \"bad\" \"
	echo to-stdout &&
	echo to-stderr >&2 &&
	false
\"
test_expect_success \"good\" \"true\"
test_done" &&
	grep "^not ok 1 - bad\$" fail.out &&
	grep "^#	echo to-stdout &&\$" fail.out &&
	grep "^# to-stderr\$" fail.out &&
	! grep "^# to-stdout" fail.out &&
	grep "^ok 2 - good\$" fail.out &&
	test "$(cat fail.code)" = 1
'

test_expect_success 'nested: -v shows command output on stderr' '
	run_sub verbose "
test_expect_success \"talk\" \"echo hello-out && echo hello-err >&2\"
test_done" -v &&
	grep "^hello-out\$" verbose.err &&
	grep "^hello-err\$" verbose.err &&
	! grep hello verbose.out &&
	test "$(cat verbose.code)" = 0
'

test_expect_success 'nested: -i stops at the first failure' '
	run_sub imm "
test_expect_success \"first\" \"false\"
test_expect_success \"second\" \"true\"
test_done" -i &&
	grep "^not ok 1 - first\$" imm.out &&
	! grep "second" imm.out &&
	grep "^1\\.\\.1\$" imm.out &&
	test "$(cat imm.code)" = 1
'

test_expect_success 'nested: test_when_finished runs after a failing test; failing cleanup fails' '
	run_sub when "
test_expect_success \"fails\" \"test_when_finished \\\"echo cleaned >../cleaned\\\" && false\"
test_expect_success \"cleanup fails\" \"test_when_finished false && true\"
test_done" &&
	test "$(cat sub/cleaned)" = cleaned &&
	grep "^not ok 1 - fails\$" when.out &&
	grep "^not ok 2 - cleanup fails\$" when.out
'

test_expect_success 'nested: test_atexit runs at the end, also after an unexpected exit' '
	run_sub atexit "
test_atexit \"echo bye >../atexit1\"
test_expect_success \"one\" \"true\"
test_done" &&
	test "$(cat sub/atexit1)" = bye &&
	run_sub atexit2 "
test_atexit \"echo bye >../atexit2\"
test_expect_success \"exits\" \"exit 7\"
test_expect_success \"never\" \"true\"
test_done" &&
	test "$(cat sub/atexit2)" = bye &&
	grep "^not ok 1 - exits\$" atexit2.out &&
	grep "FATAL" atexit2.out &&
	! grep never atexit2.out &&
	test "$(cat atexit2.code)" = 1
'

test_expect_success 'nested: prerequisites skip single tests' '
	run_sub prereq "
test_set_prereq HAVE
test_expect_success HAVE \"runs\" \"true\"
test_expect_success MISSING \"skipped\" \"false\"
test_expect_success !MISSING \"negated\" \"true\"
test_done" &&
	printf "%s\n" "ok 1 - runs" "ok 2 # skip skipped (missing MISSING)" \
		"ok 3 - negated" "1..3" >expect &&
	test_cmp expect prereq.out &&
	test "$(cat prereq.code)" = 0
'

test_expect_success 'nested: test_expect_failure is a TODO' '
	run_sub todo "
test_expect_failure \"known\" \"false\"
test_expect_failure \"fixed\" \"true\"
test_done" &&
	grep "^not ok 1 - known # TODO known breakage\$" todo.out &&
	grep "^ok 2 - fixed # TODO known breakage vanished\$" todo.out &&
	test "$(cat todo.code)" = 0
'

test_expect_success 'nested: test_skip_all' '
	run_sub skip "
test_skip_all \"no frobnicator\"
test_expect_success \"never\" \"false\"
test_done" &&
	echo "1..0 # SKIP no frobnicator" >expect &&
	test_cmp expect skip.out &&
	test "$(cat skip.code)" = 0 &&
	test_path_is_missing sub/trash.skip
'

test_expect_success 'nested: leftover background jobs are killed at the end' '
	run_sub leftover "
test_expect_success \"forgets a job\" \"{ sleep 1000 & } && echo \\\$! >../sleeper.pid\"
test_expect_success \"forgets a blocked chain\" \"test_fifo f && sleep 1000 >f &\"
test_done" &&
	test "$(cat leftover.code)" = 0 &&
	grep "^ok 1 - forgets a job\$" leftover.out &&
	grep "^ok 2 - forgets a blocked chain\$" leftover.out &&
	test $(grep -c "^# warning: killed leftover background job" leftover.out) = 2 &&
	! kill -0 "$(cat sub/sleeper.pid)" 2>/dev/null
'

test_expect_success 'nested: a missing test_done is an error' '
	run_sub nodone "
test_expect_success \"one\" \"true\"" &&
	grep "^ok 1 - one\$" nodone.out &&
	grep "FATAL" nodone.out &&
	test "$(cat nodone.code)" = 1
'


# ktest, the fault-injection helper, when it is built
test -x "$TOP/tests/ktest" && test_set_prereq KTEST

test_expect_success KTEST 'ktest size, truncate, flip, zero, garbage' '
	printf abcdef >f &&
	test "$(ktest size f)" = 6 &&
	ktest flip f 0 1 &&
	test "$(head -c 1 f)" = c &&
	ktest flip f -1 &&
	test "$(tail -c 1 f)" = g &&
	ktest truncate f -2 &&
	test "$(cat f)" = cbcd &&
	ktest zero f 1 2 &&
	printf "c\000\000d" >expect &&
	cmp expect f &&
	ktest garbage f 10000 &&
	test "$(ktest size f)" = 10004 &&
	cp f g && ktest garbage g 0 && cmp f g &&
	printf x >h && ktest garbage h 100 &&
	printf x >i && ktest garbage i 100 && cmp h i &&
	test_must_fail ktest flip f 10004 2>err &&
	grep "past the end" err
'

test_expect_success KTEST 'ktest batches walks the 12-byte log overhead' '
	{
		printf "\000\000\000\000\000\000\000\000\000\000\000\004abcd" &&
		printf "\000\000\000\000\000\000\000\005\000\000\000\002xy" &&
		printf "\000\000\000\000\000\000\000\007\000\000\000\011tor"
	} >seg.log &&
	printf "0 16 0\n16 14 5\n" >expect &&
	ktest batches seg.log >actual 2>err &&
	test_cmp expect actual &&
	grep "torn batch at byte 30" err
'

test_expect_success KTEST 'ktest seq and usage errors' '
	ktest seq 3 k >actual &&
	printf "k0\nk1\nk2\n" >expect &&
	test_cmp expect actual &&
	test "$(ktest seq 100000 | wc -l)" = 100000 &&
	test_expect_code 2 ktest 2>/dev/null &&
	test_expect_code 2 ktest nope 2>/dev/null &&
	test_expect_code 2 ktest flip f 2>/dev/null &&
	test_expect_code 2 ktest flip f x 2>/dev/null &&
	test_expect_code 1 ktest size missing-file 2>/dev/null
'

test_done
