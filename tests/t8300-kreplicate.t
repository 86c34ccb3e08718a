#!/bin/sh
# klog - kreplicate: follower copies, live directory copies, mirrors with an offset map. MIT licence.

test_description='kreplicate copies topics byte for byte from a broker or a live directory,
resumes after SIGKILL, follows new data, and mirrors with new offsets and an offset map'
. "$(dirname "$0")/lib.sh"

test_embedded_only "it compares segment files"
. "$TEST_DIRECTORY/lib-broker.sh"

# same_logs SRC DST TOPIC: every segment of SRC's TOPIC is in DST, byte for byte
same_logs() {
	n=0 &&
	for f in "$1"/"$3"-*/*.log; do
		cmp "$f" "$2/${f#$1/}" || return 1
		n=$((n + 1))
	done &&
	test $n -gt 0 &&
	(cd "$1" && ls -d "$3"-*/*.log) >sl.src &&
	(cd "$2" && ls -d "$3"-*/*.log) >sl.dst &&
	test_cmp sl.src sl.dst
}

# ends DIR TOPIC: "PARTITION LOG_START LOG_END" per partition
ends() {
	ktopic -d "$1" describe "$2" | cut -f 2-4
}

same_ends() {
	ends "$1" "$3" >se.1 && ends "$2" "$3" >se.2 && cmp -s se.1 se.2
}

# 20 writers one after the other, 1000 records each, into src's topic live
write_live() {
	i=0
	while test $i -lt 20; do
		seq $((i * 1000 + 1)) $((i * 1000 + 1000)) | kproduce -d src live || exit 1
		i=$((i + 1))
	done
}

test_expect_success 'setup: a broker with a topic of rolled segments' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create orders -p 3 --config segment.bytes=65536 \
		--config retention.ms=86400000 &&
	start_broker b &&
	seq 1 20000 | kproduce -b "$ADDR" orders &&
	ktopic -b "$ADDR" describe orders >desc &&
	test_line_count = 3 desc
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 kreplicate -d copy &&
	test_expect_code 2 kreplicate -b "$ADDR" -s "$KLOG_DIR" -d copy &&
	test_expect_code 2 kreplicate -b "$ADDR" &&
	test_expect_code 2 kreplicate -b "$ADDR" --mirror -d m &&
	test_expect_code 2 kreplicate -b "$ADDR" -d c --offset-map map &&
	test_expect_code 2 kreplicate -s "$KLOG_DIR" -d "$KLOG_DIR" &&
	kreplicate -h >help &&
	grep -e "--offset-map" help
'

test_expect_success 'a follower copy (-e): the same segments, byte for byte' '
	kreplicate -q -b "$ADDR" -d copy -e &&
	same_logs "$KLOG_DIR" copy orders &&
	same_ends "$KLOG_DIR" copy orders &&
	kconsume -d copy -e orders | sort -n >got &&
	seq 1 20000 >want &&
	test_cmp want got &&
	ktopic -d copy describe orders >d &&
	test_line_count = 3 d &&
	grep "segment.bytes=65536" copy/orders.topic &&
	grep "retention.ms=86400000" copy/orders.topic
'

test_expect_success 'only the topics named' '
	ktopic -b "$ADDR" create other -p 1 &&
	echo x | kproduce -b "$ADDR" other &&
	kreplicate -q -b "$ADDR" -d only -e other &&
	test -d only/other-0 &&
	test_path_is_missing only/orders-0 &&
	test_expect_code 1 kreplicate -q -b "$ADDR" -d none -e nosuch
'

test_expect_success 'a copy that did not change is left alone by another run' '
	cp -R copy copy.before &&
	kreplicate -q -b "$ADDR" -d copy -e orders &&
	same_logs copy.before copy orders
'

test_expect_success 'it follows new data until SIGTERM, then exits 0' '
	{ kreplicate -q -b "$ADDR" -d copy orders 2>follow.err & } &&
	rpid=$! &&
	test_atexit "kill -KILL $rpid 2>/dev/null" &&
	seq 20001 30000 | kproduce -b "$ADDR" orders &&
	test_poll same_ends "$KLOG_DIR" copy orders &&
	kill -TERM $rpid &&
	wait $rpid &&
	same_logs "$KLOG_DIR" copy orders &&
	test_must_fail test -s follow.err
'

test_expect_success 'killed with SIGKILL mid-copy, it resumes to the same bytes' '
	seq 30001 200000 | kproduce -b "$ADDR" orders &&
	{ kreplicate -q -b "$ADDR" -d resumed --max-bytes 4096 orders & } &&
	rpid=$! &&
	test_atexit "kill -KILL $rpid 2>/dev/null" &&
	test_poll test -s resumed/orders-2/00000000000000000000.log &&
	kill -KILL $rpid &&
	{ wait $rpid; test $? = 137; } &&
	# it had not finished
	! same_ends "$KLOG_DIR" resumed orders &&
	kreplicate -q -b "$ADDR" -d resumed -e orders &&
	same_logs "$KLOG_DIR" resumed orders &&
	same_ends "$KLOG_DIR" resumed orders
'

test_expect_success 'a torn tail in the copy (a crash in a write) is recovered and fetched again' '
	f=$(ls resumed/orders-1/*.log | tail -n 1) &&
	printf "\000\000\000\000\000\001\000\000\000\000\001" >>"$f" &&
	kreplicate -q -b "$ADDR" -d resumed -e orders &&
	same_logs "$KLOG_DIR" resumed orders
'

test_expect_success 'a copy whose records are gone at the source starts at the log start' '
	ktopic -d lonely create orders -p 3 --config segment.bytes=65536 &&
	seq 1 10 | kproduce -d lonely -p 0 orders &&
	ktopic -b "$ADDR" create fresh -p 1 &&
	seq 1 5 | kproduce -b "$ADDR" fresh &&
	kreplicate -q -b "$ADDR" -d lonely -e fresh &&
	kconsume -d lonely -e fresh >got &&
	seq 1 5 >want &&
	test_cmp want got
'

test_expect_success 'local mode: a live directory copied while a writer runs' '
	ktopic -d src create live -p 2 --config segment.bytes=32768 &&
	{ write_live & } &&
	wpid=$! &&
	{ kreplicate -q -s src -d backup 2>local.err & } &&
	rpid=$! &&
	test_atexit "kill -KILL $rpid $wpid 2>/dev/null" &&
	wait $wpid &&
	test_poll same_ends src backup live &&
	kill -TERM $rpid &&
	wait $rpid &&
	same_logs src backup live &&
	kconsume -d backup -e live | sort -n >got &&
	seq 1 20000 >want &&
	test_cmp want got &&
	test_must_fail test -s local.err
'

test_expect_success 'local mode --once, and again with nothing new' '
	seq 20001 25000 | kproduce -d src live &&
	kreplicate -q -s src -d backup -e &&
	same_logs src backup live &&
	kreplicate -q -s src -d backup -e &&
	same_logs src backup live
'

test_expect_success 'local mode picks up a topic created at the source while it runs' '
	{ kreplicate -q -s src -d backup 2>rescan.err & } &&
	rpid=$! &&
	test_atexit "kill -KILL $rpid 2>/dev/null" &&
	ktopic -d src create later -p 2 &&
	seq 1 100 | kproduce -d src later &&
	test_poll test -d backup/later-1 &&
	test_poll same_ends src backup later &&
	kill -TERM $rpid &&
	wait $rpid &&
	same_logs src backup later &&
	test_must_fail test -s rescan.err
'

# map_check SRC_LINES DST_LINES MAP: every source record, moved by the map,
# is the destination's record at that offset ("P OFFSET VALUE" lines)
map_check() {
	awk -v map="$3" '
		BEGIN {
			while ((getline l < map) > 0) {
				split(l, f, " ")
				for (i = 0; i < f[5]; i++)
					m[f[2] " " f[3] + i] = f[4] + i
			}
		}
		FNR == NR { k = $1 " " $2; if (!(k in m)) { print "unmapped " k; bad = 1 }
			want[$1 " " m[k]] = $3; n++; next }
		{ k = $1 " " $2; if (want[k] != $3) { print "differs " k; bad = 1 } d++ }
		END { if (n != d) { print n " source records, " d " copies"; bad = 1 }; exit bad }
	' "$1" "$2"
}

test_expect_success 'mirror a directory into a broker: new offsets, an offset map' '
	ktopic -b "$ADDR" create live -p 2 &&
	echo "already there" | kproduce -b "$ADDR" -p 1 live &&
	kreplicate -q -s src -B "$ADDR" --offset-map map -e live &&
	kconsume -d src -e -f "%p %o %s\n" live >src.lines &&
	kconsume -b "$ADDR" -e -f "%p %o %s\n" live | grep -v "already there" >dst.lines &&
	test_line_count = 25000 dst.lines &&
	map_check src.lines dst.lines map &&
	# partition 1 moved by one
	grep "^live 1 0 1 " map
'

test_expect_success 'a mirror resumes from its map: nothing twice' '
	kreplicate -q -s src -B "$ADDR" --offset-map map -e live &&
	kconsume -b "$ADDR" -e -f "%p %o %s\n" live | grep -v "already there" >dst.lines &&
	test_line_count = 25000 dst.lines &&
	seq 25001 26000 | kproduce -d src live &&
	kreplicate -q -s src -B "$ADDR" --offset-map map -e live &&
	kconsume -d src -e -f "%p %o %s\n" live >src.lines &&
	kconsume -b "$ADDR" -e -f "%p %o %s\n" live | grep -v "already there" >dst.lines &&
	test_line_count = 26000 dst.lines &&
	map_check src.lines dst.lines map
'

test_expect_success 'a torn last map line is cut off and its batch copied again' '
	kreplicate -q -b "$ADDR" --mirror -d mdir --offset-map map2 -e orders &&
	kconsume -d mdir -e orders | sort -n >got &&
	seq 1 200000 >want &&
	test_cmp want got &&
	kconsume -b "$ADDR" -e -f "%p %o %s\n" orders >src.lines &&
	kconsume -d mdir -e -f "%p %o %s\n" orders >dst.lines &&
	map_check src.lines dst.lines map2 &&
	# a crash while the last line was written: it goes, that batch comes again
	size=$(wc -c <map2) &&
	truncate -s $((size - 3)) map2 &&
	kreplicate -q -b "$ADDR" --mirror -d mdir --offset-map map2 -e orders &&
	tail -c 1 map2 | od -An -c | grep -q "\\\\n" &&
	kconsume -d mdir -e orders | sort -n | uniq -d >dups &&
	test_line_count -gt 0 dups &&
	kconsume -b "$ADDR" -e -f "%p %o %s\n" orders >src.lines &&
	kconsume -d mdir -e -f "%p %o %s\n" orders >dst.lines &&
	awk "{ print \$1 }" map2 | sort -u >t &&
	echo orders >t.want &&
	test_cmp t.want t
'

test_expect_success TTY 'progress on a terminal: records/s and lag per partition' '
	test_on_tty "kreplicate -b $ADDR -d ttycopy -e orders" >tty &&
	tr "\r" "\n" <tty | sed "s/$(printf "\033")\[K//g" | grep -v "^\$" | tail -n 1 >last &&
	grep "^kreplicate: 200000 records, [0-9]* records/s, lag orders-0 0 orders-1 0 orders-2 0" last
'

test_expect_success 'no progress when stderr is not a terminal' '
	kreplicate -b "$ADDR" -d quiet -e orders 2>err &&
	test_must_fail test -s err
'

test_done
