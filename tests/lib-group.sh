# klog - what the broker group tests share; source after lib-broker.sh. MIT licence.
#
# member NAME FD GROUP TOPICS [kgroupr options]: start a tests/kgroupr
# member whose commands come from fd FD of this shell (NAME.in, a fifo)
# and whose events go to NAME.out; sets ${NAME}_pid.  Closing FD (or
# "exec FD>&-") makes it exit without leaving, as a dying process.
# say FD LINE: send a command.  held NAME: the partitions NAME holds now
# by its event log ("t:0" lines, sorted).  ask NAME FD CMD PREFIX: send CMD,
# wait for a new line starting with PREFIX and print it.

member() {
	m_name=$1 m_fd=$2
	shift 2
	test_fifo "$m_name.in" &&
	{ kgroupr member "$@" <"$m_name.in" >"$m_name.out" 2>"$m_name.err" & } &&
	eval "${m_name}_pid=$!" &&
	test_atexit "kill $! 2>/dev/null" &&
	eval "exec $m_fd>\"\$m_name.in\"" &&
	test_wait_line "$m_name.out" "^joined "
}

say() {
	eval "echo \"\$2\" >&$1"
}

held() {
	awk '$1 == "assign" { h[$2 ":" $3] = 1 }
	     $1 == "released" || $1 == "lost" { delete h[$2 ":" $3] }
	     END { for (k in h) print k }' "$1.out" | sort
}

ask_more_() {
	test "$(grep -c "^$2" "$1.out")" -gt "$3"
}

ask() {
	a_n=$(grep -c "^$4" "$1.out")
	say "$2" "$3" &&
	test_poll ask_more_ "$1" "$4" "$a_n" &&
	grep "^$4" "$1.out" | tail -n 1
}

# holds_n N NAME...: each NAME holds N partitions now
holds_n() {
	h_n=$1
	shift
	for h_m in "$@"; do
		test "$(held "$h_m" | wc -l)" -eq "$h_n" || return 1
	done
}

# union NAME...: every partition held, one a line, sorted (duplicates kept)
union() {
	for u_m in "$@"; do
		held "$u_m"
	done | sort
}

# the partitions of topic $1 numbered 0 to $2 - 1, as held prints them
all_parts() {
	i=0
	while test $i -lt "$2"; do
		echo "$1:$i"
		i=$((i + 1))
	done | sort
}

# gdescribe GROUP: kgroupr describe, or nothing (the group is unknown)
gdescribe() {
	kgroupr describe "$1" 2>/dev/null
}
