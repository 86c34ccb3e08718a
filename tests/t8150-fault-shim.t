#!/bin/sh
# klog - the fault shim (tests/libfault.so) and the power-loss model (kpowercut) themselves. MIT licence.

test_description='libfault.so injects the faults its rules name; kpowercut images keep only what was synced'
. "$(dirname "$0")/lib.sh"

SHIM=$TEST_DIRECTORY/libfault.so
ROOT=$TRASH/root
SH=$TRASH/shadow
ASAN_PRELOAD="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

test -f "$SHIM" || test_skip_all "tests/libfault.so is not built (make check builds it)"
env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" true 2>"$TRASH/preload.err"
if grep -q "cannot be preloaded" "$TRASH/preload.err"; then
	test_skip_all "tests/libfault.so cannot be preloaded: $(cat "$TRASH/preload.err")"
fi
command -v kfaultprobe >/dev/null && command -v kpowercut >/dev/null ||
	test_skip_all "tests/kfaultprobe or tests/kpowercut is not built"

# fp RULES OP...: kfaultprobe under the shim with the rules; faults logged in flog
fp() {
	fp_rules=$1
	shift
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT="$fp_rules" \
		KLOG_FAULT_ROOT="$ROOT" KLOG_FAULT_LOG="$TRASH/flog" kfaultprobe "$@"
}

# pl OP...: kfaultprobe under the power-loss model; every operation must succeed
pl() {
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_SHADOW="$SH" \
		KLOG_FAULT_ROOT="$ROOT" KLOG_FAULT="${PL_RULES:-}" kfaultprobe "$@" >pl.out &&
	if grep -v " ok" pl.out >pl.bad; then
		echo "pl: a call failed: $(cat pl.bad)" >&2
		return 1
	fi
}

# fresh: an empty root (plus files given as NAME=CONTENT) and its baseline
fresh() {
	rm -rf "$ROOT" "$SH" img img2 &&
	mkdir "$ROOT" &&
	for fr_kv in "$@"; do
		printf "%s" "${fr_kv#*=}" >"$ROOT/${fr_kv%%=*}" || return 1
	done &&
	kpowercut baseline "$ROOT" "$SH"
}

# image [ARGS]: the power-loss image of root in img
image() {
	rm -rf img &&
	kpowercut image "$ROOT" "$SH" img "$@"
}

# is FILE CONTENT: FILE holds exactly CONTENT
is() {
	printf "%s" "$2" >is.expect &&
	test_cmp is.expect "$1"
}

test_must_be_empty_() {
	if test -s "$1"; then
		echo "'$1' is not empty: $(cat "$1")" >&2
		return 1
	fi
}

# --- faults ------------------------------------------------------------------

test_expect_success 'without rules every call passes through' '
	mkdir "$ROOT" &&
	fp "" open root/a c write hello pwrite 0 J pwrite64 1 E writev " w" "v" fsync fdatasync \
		sfr ftruncate 4 dup close close creat root/b close open64 root/c c close \
		openat root d c close mkdir root/m mkdirat root n rename root/b root/b2 \
		renameat root b2 b3 renameat2 root b3 b4 unlink root/b4 unlinkat root c rmdir root/m \
		dirfsync root dirfdatasync root truncate root/a 2 >out &&
	test_must_fail grep -v " ok" out &&
	test_line_count = 29 out &&
	is root/a JE &&
	test_path_is_missing flog
'

# check RULE OPS...: the last operation of OPS fails with the errno that
# check_want names, the fault log has one line naming the call
check() {
	ck_rule=$1
	shift
	rm -rf "$ROOT" flog &&
	mkdir "$ROOT" "$ROOT/dir" &&
	echo old >"$ROOT/old" &&
	fp "$ck_rule" "$@" >out &&
	tail -n 1 out >last &&
	echo "$check_want" >last.expect &&
	test_cmp last.expect last &&
	test_line_count = 1 flog &&
	echo "$check_log" >flog.expect &&
	test_cmp flog.expect flog
}

test_expect_success 'write, pwrite, pwrite64, writev fail with the errno named; nothing written' '
	check_want="write EIO" check_log="write $ROOT/f EIO" &&
	check write:EIO open root/f c write abc &&
	test_must_be_empty_ root/f &&
	check_want="pwrite ENOSPC" check_log="pwrite $ROOT/f ENOSPC" &&
	check pwrite:ENOSPC open root/f c pwrite 3 abc &&
	check_want="pwrite64 EDQUOT" check_log="pwrite $ROOT/f EDQUOT" &&
	check pwrite64:EDQUOT open root/f c pwrite64 3 abc &&
	check_want="writev EFBIG" check_log="writev $ROOT/f EFBIG" &&
	check writev:EFBIG open root/f c writev ab cd &&
	test_must_be_empty_ root/f
'

test_expect_success 'fsync and fdatasync of a file, dirfsync of a directory, sync_file_range' '
	check_want="fsync EIO" check_log="fsync $ROOT/f EIO" &&
	check fsync:EIO open root/f c fdatasync dirfsync root fsync &&
	printf "open ok\nfdatasync ok\ndirfsync ok\n" >expect &&
	head -n 3 out >actual &&
	test_cmp expect actual &&
	check_want="fdatasync EIO" check_log="fdatasync $ROOT/f EIO" &&
	check fdatasync:EIO open root/f c fsync dirfdatasync root fdatasync &&
	check_want="dirfsync EROFS" check_log="dirfsync $ROOT EROFS" &&
	check dirfsync:EROFS open root/f c fsync fdatasync dirfsync root &&
	check_want="dirfdatasync ENOSPC" check_log="dirfsync $ROOT/dir ENOSPC" &&
	check dirfsync:ENOSPC dirfdatasync root/dir &&
	check_want="sfr EIO" check_log="sync_file_range $ROOT/f EIO" &&
	check sync_file_range:EIO open root/f c sfr
'

test_expect_success 'ftruncate and truncate fail; the file keeps its length' '
	check_want="ftruncate EPERM" check_log="ftruncate $ROOT/old EPERM" &&
	check ftruncate:EPERM open root/old - ftruncate 1 &&
	is root/old "old
" &&
	check_want="truncate EIO" check_log="ftruncate $ROOT/old EIO" &&
	check truncate:EIO truncate root/old 0 &&
	is root/old "old
"
'

test_expect_success 'open, open64, openat, creat fail only with O_CREAT; nothing created' '
	check_want="open EMFILE" check_log="open $ROOT/f EMFILE" &&
	check open:EMFILE open root/old - close open root/old t close open root/f c &&
	test_path_is_missing root/f &&
	check_want="open64 ENOSPC" check_log="open $ROOT/f ENOSPC" &&
	check open64:ENOSPC open64 root/f cx &&
	check_want="openat EMFILE" check_log="open $ROOT/dir/f EMFILE" &&
	check openat:EMFILE openat root/dir f c &&
	check_want="creat EDQUOT" check_log="open $ROOT/f EDQUOT" &&
	check creat:EDQUOT creat root/f &&
	test_path_is_missing root/f &&
	test_path_is_missing root/dir/f
'

test_expect_success 'mkdir, mkdirat, rename, renameat, renameat2, unlink, unlinkat, rmdir' '
	check_want="mkdir ENOSPC" check_log="mkdir $ROOT/d ENOSPC" &&
	check mkdir:ENOSPC mkdir root/d &&
	test_path_is_missing root/d &&
	check_want="mkdirat EROFS" check_log="mkdir $ROOT/dir/d EROFS" &&
	check mkdirat:EROFS mkdirat root/dir d &&
	check_want="rename EXDEV" check_log="rename $ROOT/new EXDEV" &&
	check rename:EXDEV rename root/old root/new &&
	is root/old "old
" &&
	test_path_is_missing root/new &&
	check_want="renameat EIO" check_log="rename $ROOT/new EIO" &&
	check renameat:EIO renameat root old new &&
	check_want="renameat2 EIO" check_log="rename $ROOT/new EIO" &&
	check rename:EIO renameat2 root old new &&
	check_want="unlink EBUSY" check_log="unlink $ROOT/old EBUSY" &&
	check unlink:EBUSY unlink root/old &&
	test_path_is_file root/old &&
	check_want="unlinkat EROFS" check_log="unlink $ROOT/old EROFS" &&
	check unlinkat:EROFS unlinkat root old &&
	check_want="rmdir EBUSY" check_log="unlink $ROOT/dir EBUSY" &&
	check unlink:EBUSY rmdir root/dir &&
	test_path_is_dir root/dir
'

test_expect_success 'a numeric errno; an unknown call or errno aborts with the rule' '
	check_want="write ENOSPC" check_log="write $ROOT/f ENOSPC" &&
	check write:28 open root/f c write x &&
	test_must_fail fp "wirte:EIO" open root/f c 2>err &&
	grep "bad rule in KLOG_FAULT" err &&
	grep wirte:EIO err &&
	test_must_fail fp "write:ENOPE" open root/f c 2>err &&
	grep write:ENOPE err &&
	test_must_fail fp "fsync:short" open root/f c 2>err &&
	grep fsync:short err
'

test_expect_success 'after=N lets N calls pass, count=M fails M times' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	fp "write:EIO:after=2:count=3" open root/f c write a write b write c write d write e \
		write f write g >out &&
	printf "open ok\nwrite ok 1\nwrite ok 1\nwrite EIO\nwrite EIO\nwrite EIO\nwrite ok 1\nwrite ok 1\n" >expect &&
	test_cmp expect out &&
	is root/f abfg &&
	test_line_count = 3 flog &&
	fp "fsync:EIO:count=1" open root/g c fsync fsync >out &&
	printf "open ok\nfsync EIO\nfsync ok\n" >expect &&
	test_cmp expect out
'

test_expect_success 'path=GLOB: only matching files; rename matches the old or the new name' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	fp "write:EIO:path=*/b*" open root/a c write x close open root/b1 c write x close \
		open root/c c write x >out &&
	printf "open ok\nwrite ok 1\nclose ok\nopen ok\nwrite EIO\nclose ok\nopen ok\nwrite ok 1\n" >expect &&
	test_cmp expect out &&
	echo "write $ROOT/b1 EIO" >expect &&
	test_cmp expect flog &&
	rm flog &&
	fp "rename:EIO:path=*.final" rename root/a root/a2 rename root/a2 root/a.final \
		rename root/c.final root/c2 >out &&
	printf "rename ok\nrename EIO\nrename EIO\n" >expect &&
	test_cmp expect out &&
	printf "rename $ROOT/a.final EIO\nrename $ROOT/c.final EIO\n" >expect &&
	test_cmp expect flog
'

test_expect_success 'only regular files and directories under KLOG_FAULT_ROOT' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	fp "write:EIO;fsync:EIO;open:EMFILE;mkdir:EIO" open outside c write x fsync close \
		mkdir outdir open root/in c >out &&
	printf "open ok\nwrite ok 1\nfsync ok\nclose ok\nmkdir ok\nopen EMFILE\n" >expect &&
	test_cmp expect out &&
	is outside x &&
	test_line_count = 1 flog
'

test_expect_success 'a descriptor follows its file through rename, dup and a reused number' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	fp "write:EIO:path=*/b" open root/a c write 1 dup rename root/a root/b write 2 close \
		write 3 close open root/b - write 4 close open root/x c write 5 >out &&
	printf "open ok\nwrite ok 1\ndup ok\nrename ok\nwrite EIO\nclose ok\nwrite EIO\nclose ok\nopen ok\nwrite EIO\nclose ok\nopen ok\nwrite ok 1\n" >expect &&
	test_cmp expect out &&
	is root/b 1 &&
	test_line_count = 3 flog
'

test_expect_success 'write:short writes half; :partial then fails the next write' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	fp "write:short:count=1" open root/f c write hello write world >out &&
	printf "open ok\nwrite ok 2\nwrite ok 5\n" >expect &&
	test_cmp expect out &&
	is root/f heworld &&
	echo "write $ROOT/f short 2/5" >expect &&
	test_cmp expect flog &&
	rm flog &&
	fp "write:ENOSPC:partial:count=1" open root/g c write abcdefgh write more write again >out &&
	printf "open ok\nwrite ok 4\nwrite ENOSPC\nwrite ok 5\n" >expect &&
	test_cmp expect out &&
	is root/g abcdagain &&
	printf "write $ROOT/g partial 4/8 ENOSPC\nwrite $ROOT/g ENOSPC\n" >expect &&
	test_cmp expect flog &&
	rm flog &&
	fp "writev:short" open root/h c writev abc def >out &&
	is root/h abc &&
	fp "pwrite:short" open root/i c pwrite 0 abcdef >out &&
	is root/i abc
'

test_expect_success 'rules separated by ";" and newlines, with comments, from KLOG_FAULT and a file' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	printf "# comment\nfsync:EIO:count=1\n\n  mkdir:EROFS\n" >rules &&
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT="write:EIO:count=1; ftruncate:EPERM" \
		KLOG_FAULT_FILE="$TRASH/rules" KLOG_FAULT_ROOT="$ROOT" KLOG_FAULT_LOG="$TRASH/flog" \
		kfaultprobe open root/f c write a write b fsync fsync ftruncate 0 mkdir root/d >out &&
	printf "open ok\nwrite EIO\nwrite ok 1\nfsync EIO\nfsync ok\nftruncate EPERM\nmkdir EROFS\n" >expect &&
	test_cmp expect out &&
	test_line_count = 4 flog
'

test_expect_success 'KLOG_FAULT_FILE armed and disarmed while the process runs' '
	rm -rf "$ROOT" flog rules && mkdir "$ROOT" &&
	{
		test_wait_line out "^write ok" &&
		echo "write:EIO" >rules &&
		echo go &&
		test_wait_line out "^write EIO" &&
		echo "fsync:ENOSPC:count=1" >rules &&
		echo go &&
		test_wait_line out "^fsync" &&
		rm rules &&
		echo go
	} | env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT_FILE="$TRASH/rules" \
		KLOG_FAULT_ROOT="$ROOT" KLOG_FAULT_LOG="$TRASH/flog" \
		kfaultprobe open root/f c write a read write b read write c fsync read write d fsync >out &&
	printf "open ok\nwrite ok 1\nread ok\nwrite EIO\nread ok\nwrite ok 1\nfsync ENOSPC\nread ok\nwrite ok 1\nfsync ok\n" >expect &&
	test_cmp expect out &&
	printf "write $ROOT/f EIO\nfsync $ROOT/f ENOSPC\n" >expect &&
	test_cmp expect flog
'

# now_ms: milliseconds on a clock (for "took at least"; never an upper bound)
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

test_expect_success 'delay=MS: a none rule waits, then lets the call through' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	t0=$(now_ms) &&
	fp "fdatasync:none:delay=300" open root/f c write abc fdatasync fdatasync >out &&
	t1=$(now_ms) &&
	printf "open ok\nwrite ok 3\nfdatasync ok\nfdatasync ok\n" >expect &&
	test_cmp expect out &&
	test $((t1 - t0)) -ge 600 &&
	is root/f abc &&
	printf "fdatasync $ROOT/f none delay=300\nfdatasync $ROOT/f none delay=300\n" >expect &&
	test_cmp expect flog
'

test_expect_success 'delay=MS with an errno waits, then fails; after and count pick the calls' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	t0=$(now_ms) &&
	fp "fsync:EIO:delay=200:count=1;write:none:after=1:count=1" open root/g c write x write y \
		write z fsync fsync >out &&
	t1=$(now_ms) &&
	printf "open ok\nwrite ok 1\nwrite ok 1\nwrite ok 1\nfsync EIO\nfsync ok\n" >expect &&
	test_cmp expect out &&
	test $((t1 - t0)) -ge 200 &&
	is root/g xyz &&
	printf "write $ROOT/g none\nfsync $ROOT/g EIO delay=200\n" >expect &&
	test_cmp expect flog &&
	test_must_fail fp "fsync:none:partial" open root/f c 2>err &&
	grep fsync:none:partial err &&
	test_must_fail fp "write:EIO:delay=soon" open root/f c 2>err &&
	grep delay=soon err
'

# fpt RULES OP...: fp with the trace in $TRASH/trace
fpt() {
	fpt_rules=$1
	shift
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_PRELOAD" KLOG_FAULT="$fpt_rules" \
		KLOG_FAULT_ROOT="$ROOT" KLOG_FAULT_LOG="$TRASH/flog" \
		KLOG_FAULT_TRACE="$TRASH/trace" kfaultprobe "$@"
}

test_expect_success 'KLOG_FAULT_TRACE: a line per call on an eligible file, failures too' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	echo before >trace &&
	fpt "write:EIO:count=1:path=*/g" open root/f c write ab pwrite 0 x writev a b ftruncate 1 \
		fdatasync fsync sfr close open root/f - close open root/g c write 1 close \
		open outside c write x fsync close dirfsync root mkdir root/d rename root/f root/d/f \
		unlink root/g rmdir root/nothing >out &&
	cat >expect <<-EOF &&
	before
	open 0 $ROOT/f
	write 0 $ROOT/f
	pwrite 0 $ROOT/f
	writev 0 $ROOT/f
	ftruncate 0 $ROOT/f
	fdatasync begin $ROOT/f
	fdatasync 0 $ROOT/f
	fsync begin $ROOT/f
	fsync 0 $ROOT/f
	sync_file_range 0 $ROOT/f
	open 0 $ROOT/g
	write EIO $ROOT/g
	dirfsync begin $ROOT
	dirfsync 0 $ROOT
	mkdir 0 $ROOT/d
	rename 0 $ROOT/f $ROOT/d/f
	unlink 0 $ROOT/g
	unlink ENOENT $ROOT/nothing
	EOF
	test_cmp expect trace &&
	grep -c " EIO$" flog >n &&
	echo 1 >expect &&
	test_cmp expect n
'

test_expect_success 'the trace is appended to: other writers interleave, also during a delay' '
	rm -rf "$ROOT" flog && mkdir "$ROOT" &&
	: >trace &&
	{
		test_wait_line out "^fsync ok" &&
		echo "marker 1" >>trace &&
		echo go &&
		test_wait_line trace "^fdatasync begin" &&
		echo "marker 2" >>trace
	} | fpt "fdatasync:none:delay=1500" open root/f c fsync read write x fdatasync >out &&
	cat >expect <<-EOF &&
	open 0 $ROOT/f
	fsync begin $ROOT/f
	fsync 0 $ROOT/f
	marker 1
	write 0 $ROOT/f
	fdatasync begin $ROOT/f
	marker 2
	fdatasync 0 $ROOT/f
	EOF
	test_cmp expect trace
'

test_expect_success 'the shim defines every file call the klog binaries import' '
	nm -D --defined-only "$SHIM" | awk "{print \$3}" | sort >defined &&
	for b in kbrokerd kproduce ktopic kdump; do
		nm -D --undefined-only "$TOP/$b" | awk "{print \$2}" | sed "s/@.*//" || return 1
	done | grep -E "open|write|sync|rename|trunc|mkdir|unlink|rmdir|creat" |
		grep -v -E "^(ZSTD|LZ4|deflate|inflate|snappy|epoll|inotify)" |
		grep -v -E "^(fdopendir|opendir|fopen|fopen64|fdopen|fwrite|fputs|fflush|pthread_create)$" |
		sort -u >imported &&
	test -s imported &&
	comm -23 imported defined >missing &&
	test_must_be_empty_ missing
'

# --- the power-loss model ------------------------------------------------------

test_expect_success 'synced bytes survive, the unsynced tail does not' '
	fresh log=base &&
	pl open root/log a write +one fsync write +two close &&
	image &&
	is img/log base+one &&
	is root/log base+one+two &&
	ls img >names &&
	echo log >expect &&
	test_cmp expect names
'

test_expect_success 'fdatasync counts like fsync; a failed fsync records nothing' '
	fresh log=base &&
	pl open root/log a write +one fdatasync write +two close &&
	image &&
	is img/log base+one &&
	fresh log=base &&
	PL_RULES=fsync:EIO &&
	test_when_finished "PL_RULES=" &&
	test_must_fail pl open root/log a write +one fsync &&
	PL_RULES= &&
	image &&
	is img/log base
'

test_expect_success 'a new file: its name needs the directory synced, its data itself synced' '
	fresh &&
	pl open root/named c write never-synced close dirfsync root \
		open root/late c write synced fsync close &&
	image &&
	ls img >names &&
	echo named >expect &&
	test_cmp expect names &&
	test_must_be_empty_ img/named
'

test_expect_success 'temp file, fsync, rename, directory fsync: the new content' '
	fresh ckpt=old &&
	pl open root/.tmp c write new fsync close rename root/.tmp root/ckpt dirfsync root &&
	image &&
	is img/ckpt new &&
	test_path_is_missing img/.tmp
'

test_expect_success 'a rename without the directory fsync: the old content, no temp name' '
	fresh ckpt=old &&
	pl open root/.tmp c write new fsync close rename root/.tmp root/ckpt &&
	image &&
	is img/ckpt old &&
	test_path_is_missing img/.tmp &&
	fresh ckpt=old &&
	pl open root/.tmp c write new fsync close dirfsync root rename root/.tmp root/ckpt &&
	image &&
	is img/ckpt old &&
	is img/.tmp new
'

test_expect_success 'unlink without a directory fsync: the name comes back with its synced data' '
	fresh gone=base &&
	pl open root/gone a write +synced fsync write +not close unlink root/gone &&
	image &&
	is img/gone base+synced &&
	pl dirfsync root &&
	image &&
	test_path_is_missing img/gone
'

test_expect_success 'an unlinked file is not mistaken for a new file that took its place' '
	fresh a=aaaa &&
	pl unlink root/a open root/b c write bbbbbbbb fsync close \
		open root/c c write cccccccc fsync close &&
	image &&
	is img/a aaaa &&
	ls img >names &&
	echo a >expect &&
	test_cmp expect names
'

test_expect_success 'a directory whose parent never synced is gone with all it holds' '
	fresh &&
	pl mkdir root/sub open root/sub/f c write data fsync close dirfsync root/sub \
		mkdir root/sub/deep dirfsync root/sub/deep &&
	image &&
	ls img >names &&
	test_must_be_empty_ names &&
	pl dirfsync root &&
	image &&
	is img/sub/f data &&
	test_path_is_missing img/sub/deep &&
	pl mkdir root/empty dirfsync root open root/empty/f c write x fsync close &&
	image &&
	test_path_is_dir img/empty &&
	ls img/empty >names &&
	test_must_be_empty_ names
'

test_expect_success 'ftruncate after a sync is undone; after a second sync it holds' '
	fresh f=0123456789 &&
	pl open root/f - ftruncate 4 close &&
	image &&
	is img/f 0123456789 &&
	pl open root/f - ftruncate 2 write XY fsync close &&
	image &&
	is img/f XY &&
	pl truncate root/f 1 &&
	image &&
	is img/f XY &&
	pl open root/f a ftruncate 0 write 0123456789ABCDEF fsync close &&
	image &&
	is img/f 0123456789ABCDEF
'

test_expect_success 'rewrites below the synced length are seen (pwrite, write at 0, O_TRUNC)' '
	fresh f=0123456789 &&
	pl open root/f - pwrite 2 XY fsync close &&
	image &&
	is img/f 01XY456789 &&
	pl open root/f - write ZZ fsync close &&
	image &&
	is img/f ZZXY456789 &&
	pl open root/f a write abc fsync close &&
	image &&
	is img/f ZZXY456789abc &&
	pl open root/f - write Q fsync pwrite64 1 R fsync write S fsync close &&
	image &&
	is img/f QSXY456789abc &&
	pl open root/f wt write abcdefghijklmnopq fsync close &&
	image &&
	is img/f abcdefghijklmnopq &&
	pl open root/f wt write unsynced close &&
	image &&
	is img/f abcdefghijklmnopq
'

test_expect_success 'appends synced many times, across processes, make the live file' '
	fresh f=start &&
	pl open root/f a fill 5000 fsync fill 70000 fsync write x fdatasync close &&
	pl open root/f a fill 3 fsync write y close &&
	image &&
	size=$(wc -c <root/f) &&
	test $(wc -c <img/f) = $((size - 1)) &&
	head -c $((size - 1)) root/f >expect &&
	cmp expect img/f
'

test_expect_success 'partial: the synced bytes and a prefix of the tail, decided by the seed' '
	fresh f=synced &&
	pl open root/f a fill 1000 close dirfsync root &&
	: >lengths &&
	for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
		image --mode partial --seed $seed &&
		len=$(wc -c <img/f) &&
		test $len -ge 6 && test $len -le 1006 &&
		head -c $len root/f >expect &&
		cmp expect img/f &&
		echo $len >>lengths || return 1
	done &&
	sort -u lengths >distinct &&
	test_line_count -gt 2 distinct &&
	grep -v -x -e 6 -e 1006 lengths
'

test_expect_success 'garbage: the synced bytes intact, something else in the kept tail' '
	fresh f=synced &&
	pl open root/f a fill 1000 &&
	: >changed &&
	for seed in 1 2 3 4 5 6 7 8; do
		image --mode garbage --seed $seed &&
		len=$(wc -c <img/f) &&
		test $len -gt 6 && test $len -le 1006 &&
		head -c 6 img/f >head &&
		is head synced &&
		head -c $len root/f >prefix &&
		{ cmp -s prefix img/f || echo $seed >>changed; } || return 1
	done &&
	test_line_count = 8 changed
'

test_expect_success 'an image is the same for the same seed; drop ignores the seed' '
	fresh a=x b=y &&
	pl open root/a a fill 3000 fsync fill 3000 close open root/b a fill 5000 close \
		mkdir root/d open root/d/c c fill 100 fsync close dirfsync root/d dirfsync root &&
	for m in partial garbage; do
		image --mode $m --seed 77 && mv img img2 &&
		image --mode $m --seed 77 &&
		diff -r img img2 &&
		rm -rf img2 || return 1
	done &&
	image --seed 5 && mv img img2 &&
	image --mode drop --seed 6 &&
	diff -r img img2 &&
	rm -rf img2 &&
	image --mode partial --seed 1 && mv img img2 &&
	image --mode partial --seed 2 &&
	test_must_fail diff -r img img2 >/dev/null
'

test_expect_success 'kpowercut -v says what each file lost' '
	fresh log=base keep=k &&
	pl open root/log a write +synced fsync write +lost close open root/new c write x fsync \
		close unlink root/keep &&
	image -v 2>report &&
	grep "^kpowercut: log: 16 bytes live, 11 synced, kept 0 unsynced, lost 5$" report &&
	grep "^kpowercut: new: dropped, the name never synced (1 bytes live)$" report &&
	grep "^kpowercut: keep: removed, not durably: back with 1 bytes$" report &&
	grep "5 unsynced bytes and 1 names lost" report
'

test_expect_success 'kpowercut: usage, no baseline, an existing OUT' '
	test_expect_code 2 kpowercut &&
	test_expect_code 2 kpowercut image "$ROOT" "$SH" img --mode nope &&
	test_expect_code 1 kpowercut image "$ROOT" "$TRASH/none" img 2>err &&
	grep "baseline" err &&
	mkdir -p img &&
	test_expect_code 1 kpowercut image "$ROOT" "$SH" img
'

test_done
