# klog - bash completion for ktopic, kproduce, kconsume, kgroup, kdump, kbrokerd and kreplicate. MIT licence.
#
# Installed as .../bash-completion/completions/klog with a symlink named
# after each tool, so bash-completion loads it on first use; or source it.
# Topic names come from `ktopic list` and group names from `kgroup list`,
# asked where the tool itself would look: the broker of -b/--brokers, else the directory of -d/--dir on the
# command line, else $KLOG_BROKERS, else $KLOG_DIR.  Works with or without
# bash-completion.

# the words before the cursor, split on blanks only (so "orders:1" and
# "retention.ms=1" stay whole): sets _klog_words (array) and _klog_cur
_klog_split()
{
	local line=${COMP_LINE:0:COMP_POINT}
	read -r -a _klog_words <<<"$line"
	if [[ -z $line || $line == *[[:blank:]] ]]; then
		_klog_cur=
	else
		_klog_cur=${_klog_words[${#_klog_words[@]}-1]}
		unset '_klog_words[${#_klog_words[@]}-1]'
	fi
}

# reply with the candidates matching $_klog_cur, trimmed the way bash
# splits words at ':', '=' and '@'
_klog_reply()
{
	local IFS=$'\n' cls= pre c
	COMPREPLY=($(compgen -W "$*" -- "$_klog_cur"))
	[[ $COMP_WORDBREAKS == *:* ]] && cls+=:
	[[ $COMP_WORDBREAKS == *=* ]] && cls+==
	[[ $COMP_WORDBREAKS == *@* ]] && cls+=@
	[[ -n $cls && $_klog_cur == *["$cls"]* ]] || return 0
	pre=${_klog_cur%"${_klog_cur##*["$cls"]}"}
	for c in "${!COMPREPLY[@]}"; do
		COMPREPLY[c]=${COMPREPLY[c]#"$pre"}
	done
}

_klog_files()
{
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -f -- "$_klog_cur"))
}

_klog_dirs()
{
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$_klog_cur"))
}

# where the tool would work, as ktopic options: -b BROKERS from the command
# line, else -d DIR from it, else $KLOG_BROKERS, else $KLOG_DIR (the tools'
# own order); sets _klog_where (array, empty when there is nowhere)
_klog_where()
{
	local i w dir= brokers=
	for ((i = 1; i < ${#_klog_words[@]}; i++)); do
		w=${_klog_words[i]}
		case $w in
		-d|--dir) dir=${_klog_words[i+1]} ;;
		--dir=*) dir=${w#--dir=} ;;
		-d?*) dir=${w#-d} ;;
		-b|--brokers) brokers=${_klog_words[i+1]} ;;
		--brokers=*) brokers=${w#--brokers=} ;;
		-b?*) brokers=${w#-b} ;;
		esac
	done
	if [[ -n $brokers ]]; then
		_klog_where=(-b "$brokers")
	elif [[ -n $dir ]]; then
		_klog_where=(-d "${dir/#\~/$HOME}")
	elif [[ -n $KLOG_BROKERS ]]; then
		_klog_where=(-b "$KLOG_BROKERS")
	elif [[ -n $KLOG_DIR ]]; then
		_klog_where=(-d "${KLOG_DIR/#\~/$HOME}")
	else
		_klog_where=()
	fi
}

# ktopic where the tool would work; a broker that does not answer costs
# at most 3 seconds
_klog_ktopic_run()
{
	local -a _klog_where
	_klog_where
	((${#_klog_where[@]})) || return 0
	if type -P timeout >/dev/null; then
		timeout 3 ktopic "${_klog_where[@]}" "$@" 2>/dev/null
	else
		ktopic "${_klog_where[@]}" "$@" 2>/dev/null
	fi
}

_klog_topics()
{
	_klog_ktopic_run list
}

# group names from `kgroup list`, where the tool would work
_klog_groups()
{
	local -a _klog_where
	_klog_where
	((${#_klog_where[@]})) || return 0
	if type -P timeout >/dev/null; then
		timeout 3 kgroup "${_klog_where[@]}" list 2>/dev/null
	else
		kgroup "${_klog_where[@]}" list 2>/dev/null
	fi
}

# TOPIC:PARTITION for kconsume: partitions from `ktopic describe`
_klog_topic_partitions()
{
	local topic=${_klog_cur%%:*}
	_klog_ktopic_run describe "$topic" |
		while IFS=$'\t' read -r t p _; do printf '%s:%s\n' "$t" "$p"; done
}

# broker addresses: $KLOG_BROKERS and the default
_klog_brokers()
{
	_klog_reply ${KLOG_BROKERS:+"$KLOG_BROKERS"} 127.0.0.1:7092
}

_klog_config_keys='segment.bytes= segment.ms= retention.ms= retention.bytes=
max.message.bytes= index.interval.bytes= segment.index.bytes= cleanup.policy=
delete.retention.ms= min.cleanable.dirty.ratio= message.timestamp.type=
compression.type='

_klog_config_value()
{
	case $_klog_cur in
	cleanup.policy=*)
		_klog_reply cleanup.policy=delete cleanup.policy=compact \
			cleanup.policy=compact,delete ;;
	message.timestamp.type=*)
		_klog_reply message.timestamp.type=CreateTime message.timestamp.type=LogAppendTime ;;
	compression.type=*)
		_klog_reply compression.type={producer,none,gzip,snappy,lz4,zstd} ;;
	*=*)
		COMPREPLY=() ;;
	*)
		compopt -o nospace 2>/dev/null
		_klog_reply $_klog_config_keys ;;
	esac
}

# count the positional arguments before the cursor, given the options of
# a tool that take a value: sets _klog_npos
_klog_positionals()
{
	local takes=" $1 " i w skip=0
	_klog_npos=0
	for ((i = ${2:-1}; i < ${#_klog_words[@]}; i++)); do
		w=${_klog_words[i]}
		if ((skip)); then
			skip=0
			continue
		fi
		case $w in
		--) continue ;;
		--*=*) ;;
		-*) [[ $takes == *" $w "* ]] && skip=1 ;;
		*) ((_klog_npos++)) ;;
		esac
	done
}

_klog_ktopic()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]} i w cmd= cmdi=0
	for ((i = 1; i < ${#_klog_words[@]}; i++)); do
		w=${_klog_words[i]}
		case $w in
		-d|--dir|-b|--brokers) ((i++)) ;;
		-*) ;;
		*) cmd=$w; cmdi=$i; break ;;
		esac
	done
	case $prev in
	-d|--dir)
		_klog_dirs; return ;;
	-b|--brokers)
		_klog_brokers; return ;;
	esac
	if [[ -z $cmd ]]; then
		case $_klog_cur in
		-*) _klog_reply -d --dir -b --brokers -v --verbose -h --help -V --version ;;
		*) _klog_reply create list describe alter delete compact ;;
		esac
		return
	fi
	case $cmd:$prev in
	create:-p|create:--partitions|alter:--partitions|alter:-p|create:--replication-factor)
		COMPREPLY=(); return ;;
	create:-c|create:--config|alter:-c|alter:--config)
		_klog_config_value; return ;;
	compact:--map-entries)
		COMPREPLY=(); return ;;
	esac
	case $_klog_cur in
	--config=*)
		local save=$_klog_cur
		_klog_cur=${save#--config=}
		_klog_config_value
		_klog_cur=$save
		return ;;
	esac
	_klog_positionals "-p --partitions --replication-factor -c --config --map-entries" $((cmdi + 1))
	case $cmd in
	create)
		case $_klog_cur in
		-*) _klog_reply -p --partitions --replication-factor -c --config --if-not-exists ;;
		esac ;;
	list)
		_klog_reply -0 --null ;;
	describe)
		case $_klog_cur in
		-*) _klog_reply -c --config -H --no-header -r --rates -J --json ;;
		*) _klog_reply $(_klog_topics) ;;
		esac ;;
	alter)
		case $_klog_cur in
		-*) _klog_reply --partitions --config ;;
		*) ((_klog_npos == 0)) && _klog_reply $(_klog_topics) ;;
		esac ;;
	delete)
		case $_klog_cur in
		-*) _klog_reply --if-exists ;;
		*) ((_klog_npos == 0)) && _klog_reply $(_klog_topics) ;;
		esac ;;
	compact)
		case $_klog_cur in
		-*) _klog_reply --map-entries -s --stats ;;
		*)
			# NAME, then one of its partitions
			if ((_klog_npos == 0)); then
				_klog_reply $(_klog_topics)
			elif ((_klog_npos == 1)); then
				local name=
				for ((i = cmdi + 1; i < ${#_klog_words[@]}; i++)); do
					w=${_klog_words[i]}
					case $w in
					--map-entries) ((i++)) ;;
					-*) ;;
					*) name=$w; break ;;
					esac
				done
				_klog_reply $(_klog_ktopic_run describe "$name" | cut -f2)
			fi ;;
		esac ;;
	esac
}

_klog_kgroup()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]} i w cmd= cmdi=0
	for ((i = 1; i < ${#_klog_words[@]}; i++)); do
		w=${_klog_words[i]}
		case $w in
		-d|--dir|-b|--brokers) ((i++)) ;;
		-*) ;;
		*) cmd=$w; cmdi=$i; break ;;
		esac
	done
	case $prev in
	-d|--dir)
		_klog_dirs; return ;;
	-b|--brokers)
		_klog_brokers; return ;;
	esac
	if [[ -z $cmd ]]; then
		case $_klog_cur in
		-*) _klog_reply -d --dir -b --brokers -J --json -H --no-header -q --quiet \
			-v --verbose -h --help -V --version ;;
		*) _klog_reply list describe reset delete ;;
		esac
		return
	fi
	case $cmd:$prev in
	reset:--topic)
		case $_klog_cur in
		*:*) _klog_reply $(_klog_topic_partitions) ;;
		*) _klog_reply $(_klog_topics) ;;
		esac
		return ;;
	reset:--to-offset|reset:--shift-by|reset:--to-datetime)
		COMPREPLY=(); return ;;
	esac
	_klog_positionals "--topic --to-offset --shift-by --to-datetime" $((cmdi + 1))
	case $cmd in
	list)
		_klog_reply -0 --null -J --json ;;
	describe)
		case $_klog_cur in
		-*) _klog_reply -H --no-header -J --json --state --members ;;
		*) _klog_reply $(_klog_groups) ;;
		esac ;;
	reset)
		case $_klog_cur in
		-*) _klog_reply --topic --to-earliest --to-latest --to-offset --shift-by \
			--to-datetime --execute --dry-run -H --no-header -J --json ;;
		*) ((_klog_npos == 0)) && _klog_reply $(_klog_groups) ;;
		esac ;;
	delete)
		case $_klog_cur in
		-*) _klog_reply --if-exists ;;
		*) _klog_reply $(_klog_groups) ;;
		esac ;;
	esac
}

_klog_kproduce()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]}
	case $prev in
	-d|--dir) _klog_dirs; return ;;
	-b|--brokers) _klog_brokers; return ;;
	-a|--acks) _klog_reply 0 1 all; return ;;
	-z|--compression) _klog_reply none gzip snappy lz4 zstd; return ;;
	-p|--partition|-D|--delimiter|-K|--key-delimiter|-k|--key|-H|--header|-B|--batch-size|-l|--linger-ms|--salt|--max-lag|--retries|--retry-backoff|--timeout)
		COMPREPLY=(); return ;;
	esac
	case $_klog_cur in
	-*)
		_klog_reply -d --dir -b --brokers -a --acks -p --partition -k --key \
			-K --key-delimiter -D --delimiter -0 -Z -H --header -z --compression \
			-B --batch-size -l --linger-ms --salt --max-lag --retries --retry-backoff \
			--timeout --create -v --verbose -q --quiet -h --help -V --version
		return ;;
	esac
	_klog_positionals "-d --dir -b --brokers -a --acks -p --partition -k --key -K --key-delimiter -D --delimiter -H --header -z --compression -B --batch-size -l --linger-ms --salt --max-lag --retries --retry-backoff --timeout"
	if ((_klog_npos == 0)); then
		_klog_reply $(_klog_topics)
	else
		_klog_files
	fi
}

_klog_kconsume()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]}
	case $prev in
	-d|--dir) _klog_dirs; return ;;
	-b|--brokers) _klog_brokers; return ;;
	-o|--offset) _klog_reply beginning end s@ e@; return ;;
	-g|--group) _klog_reply $(_klog_groups); return ;;
	--strategy) _klog_reply range roundrobin sticky; return ;;
	--dead-letter) _klog_reply $(_klog_topics); return ;;
	--exec)
		local IFS=$'\n'
		COMPREPLY=($(compgen -c -- "$_klog_cur"))
		return ;;
	-c|--count|-f|--format|--instance-id|--session-timeout|--commit-interval|\
	--retries|--retry-backoff|--timeout)
		COMPREPLY=(); return ;;
	esac
	case $_klog_cur in
	-*)
		_klog_reply -d --dir -b --brokers -o --offset -e --exit -c --count \
			-f --format -J --json -u --unbuffered -g --group --strategy \
			--instance-id --session-timeout --commit-interval --exec --retries \
			--retry-backoff --dead-letter --timeout -q --quiet -v --verbose -h --help \
			-V --version
		;;
	*:*)
		_klog_reply $(_klog_topic_partitions) ;;
	*)
		_klog_reply $(_klog_topics) ;;
	esac
}

_klog_kdump()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]}
	case $prev in
	-d|--dir) _klog_dirs; return ;;
	esac
	case $_klog_cur in
	--decode=*)
		_klog_reply --decode=text --decode=json --decode=none
		;;
	-*)
		_klog_reply -r --records -i --indexes --decode= --verify --repair --force \
			-d --dir -q --quiet -v --verbose -h --help -V --version
		_klog_nospace_eq
		;;
	*)
		_klog_files ;;
	esac
}

# no space after a lone candidate that wants a value (interval=)
_klog_nospace_eq()
{
	[[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
	return 0
}

_klog_kbrokerd()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]}
	case $prev in
	-d|--dir) _klog_dirs; return ;;
	-s|--secret-file) _klog_files; return ;;
	-l|--listen)
		_klog_reply 127.0.0.1:7092 '*:7092' '[::1]:7092' '[::]:7092'
		return ;;
	--fsync)
		_klog_reply always interval= never
		_klog_nospace_eq
		return ;;
	--visible)
		_klog_reply durable written
		return ;;
	--max-connections|--idle-timeout|--max-request|--max-memory|--max-partitions|\
	--max-topic-partitions|--max-open-partitions|--max-waiting-fetches|\
	--max-connection-fetches|--request-timeout|--max-connections-per-ip|-r|--ready-fd)
		COMPREPLY=(); return ;;
	esac
	case $_klog_cur in
	--fsync=*)
		_klog_reply --fsync=always --fsync=interval= --fsync=never
		_klog_nospace_eq
		;;
	-*)
		_klog_reply -d --dir -l --listen -s --secret-file --fsync --visible \
			--max-connections --idle-timeout --max-request --max-memory \
			--max-waiting-fetches --max-connection-fetches \
			--max-partitions --max-topic-partitions --max-open-partitions \
			--request-timeout --max-connections-per-ip --insecure \
			-r --ready-fd -q --quiet -h --help -V --version
		;;
	*)
		COMPREPLY=() ;;
	esac
}

_klog_kreplicate()
{
	_klog_split
	local prev=${_klog_words[${#_klog_words[@]}-1]} i w src=
	case $prev in
	-d|--dir|-s|--source) _klog_dirs; return ;;
	--offset-map) _klog_files; return ;;
	-b|--brokers|-B|--to-brokers) _klog_brokers; return ;;
	--max-bytes) COMPREPLY=(); return ;;
	esac
	case $_klog_cur in
	-*)
		_klog_reply -b --brokers -s --source -d --dir -m --mirror -B --to-brokers \
			--offset-map -e --once --max-bytes -q --quiet -v --verbose \
			-h --help -V --version
		;;
	*)
		# topics of the source: -b BROKERS or -s SRCDIR
		for ((i = 1; i < ${#_klog_words[@]}; i++)); do
			w=${_klog_words[i]}
			case $w in
			-b|--brokers) src="-b ${_klog_words[i+1]}" ;;
			-s|--source) src="-d ${_klog_words[i+1]/#\~/$HOME}" ;;
			esac
		done
		[[ -n $src ]] || return 0
		_klog_reply $(timeout 3 ktopic $src list 2>/dev/null)
		;;
	esac
}

complete -F _klog_ktopic ktopic
complete -F _klog_kproduce kproduce
complete -F _klog_kconsume kconsume
complete -F _klog_kgroup kgroup
complete -F _klog_kdump kdump
complete -F _klog_kbrokerd kbrokerd
complete -F _klog_kreplicate kreplicate
