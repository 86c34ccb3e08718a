# klog - fish completion for ktopic, kproduce, kconsume, kgroup, kdump, kbrokerd and kreplicate. MIT licence.
#
# Installed as vendor_completions.d/klog.fish with a symlink named after each
# tool (fish loads <command>.fish on first use); every load defines all the
# tools, so later loads are skipped.  Topic names come from `ktopic list`
# and group names from `kgroup list`, asked where the tool itself would look: the broker of -b/--brokers, else
# the directory of -d/--dir on the command line, else $KLOG_BROKERS, else
# $KLOG_DIR.

if set -q __klog_completions_loaded
    return
end
set -g __klog_completions_loaded 1

# where the tool would work, as ktopic options, one per line: -b BROKERS
# from the command line, else -d DIR from it, else $KLOG_BROKERS, else
# $KLOG_DIR (the tools' own order); nothing when there is nowhere
function __klog_where
    set -l words (commandline -opc)
    set -l dir
    set -l brokers
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case -d --dir -b --brokers
                set -l j (math $i + 1)
                if test $j -le (count $words)
                    if contains -- $words[$i] -d --dir
                        set dir $words[$j]
                    else
                        set brokers $words[$j]
                    end
                end
            case '--dir=*'
                set dir (string replace -- '--dir=' '' $words[$i])
            case '-d?*'
                set dir (string sub -s 3 -- $words[$i])
            case '--brokers=*'
                set brokers (string replace -- '--brokers=' '' $words[$i])
            case '-b?*'
                set brokers (string sub -s 3 -- $words[$i])
        end
        set i (math $i + 1)
    end
    if test -n "$brokers"
        printf '%s\n' -b $brokers
    else if test -n "$dir"
        printf '%s\n' -d (string replace -r '^~' $HOME -- $dir)
    else if test -n "$KLOG_BROKERS"
        printf '%s\n' -b $KLOG_BROKERS
    else if test -n "$KLOG_DIR"
        printf '%s\n' -d (string replace -r '^~' $HOME -- $KLOG_DIR)
    end
end

# ktopic ARGS... where the tool would work; a broker that does not answer
# costs at most 3 seconds
function __klog_ktopic_run
    set -l where (__klog_where)
    test (count $where) -gt 0; or return
    if command -q timeout
        timeout 3 ktopic $where $argv 2>/dev/null
    else
        ktopic $where $argv 2>/dev/null
    end
end

function __klog_topics
    __klog_ktopic_run list
end

# group names from `kgroup list`, where the tool would work
function __klog_groups
    set -l where (__klog_where)
    test (count $where) -gt 0; or return
    if command -q timeout
        timeout 3 kgroup $where list 2>/dev/null
    else
        kgroup $where list 2>/dev/null
    end
end

# TOPIC and TOPIC:PARTITION for kconsume
function __klog_topic_partitions
    set -l cur (commandline -ct)
    if string match -q '*:*' -- $cur
        set -l topic (string split -m1 : -- $cur)[1]
        __klog_ktopic_run describe $topic | while read -l t p rest
            echo $t:$p
        end
    else
        __klog_ktopic_run list
    end
end

# broker addresses: $KLOG_BROKERS and the default
function __klog_brokers
    if test -n "$KLOG_BROKERS"
        printf '%s\tKLOG_BROKERS\n' $KLOG_BROKERS
    end
    printf '%s\tthe default\n' 127.0.0.1:7092
end

function __klog_config_keys
    set -l cur (commandline -ct)
    switch $cur
        case 'cleanup.policy=*'
            printf 'cleanup.policy=%s\n' delete compact compact,delete
        case 'message.timestamp.type=*'
            printf 'message.timestamp.type=%s\n' CreateTime LogAppendTime
        case 'compression.type=*'
            printf 'compression.type=%s\n' producer none gzip snappy lz4 zstd
        case '*'
            printf '%s\n' \
                'segment.bytes=	roll segments at this size' \
                'segment.ms=	roll segments at this age' \
                'retention.ms=	delete segments older than this' \
                'retention.bytes=	keep at most this much per partition' \
                'max.message.bytes=	largest batch accepted' \
                'index.interval.bytes=	bytes between index entries' \
                'segment.index.bytes=	largest offset index' \
                'cleanup.policy=	delete, compact or compact,delete' \
                'delete.retention.ms=	keep tombstones this long after compaction' \
                'min.cleanable.dirty.ratio=	compact when this share of the log is dirty' \
                'message.timestamp.type=	CreateTime or LogAppendTime' \
                'compression.type=	codec producers use'
    end
end

# ktopic: the subcommand, if one was given yet
function __klog_ktopic_cmd
    set -l words (commandline -opc)
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case -d --dir -b --brokers
                set i (math $i + 1)
            case '-*'
            case '*'
                echo $words[$i]
                return 0
        end
        set i (math $i + 1)
    end
    return 1
end

function __klog_ktopic_no_cmd
    not __klog_ktopic_cmd >/dev/null
end

function __klog_ktopic_using
    set -l cmd (__klog_ktopic_cmd)
    and contains -- $cmd $argv
end

# positional arguments after the ktopic subcommand (options skipped)
function __klog_ktopic_nargs
    set -l words (commandline -opc)
    set -l n 0
    set -l seen 0
    set -l skip 0
    for w in $words[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case -d --dir -b --brokers -p --partitions -c --config --map-entries
                set skip 1
            case '-*'
            case '*'
                if test $seen -eq 0
                    set seen 1
                else
                    set n (math $n + 1)
                end
        end
    end
    echo $n
end

function __klog_ktopic_first_arg
    test (__klog_ktopic_nargs) -eq 0
end

# ktopic compact NAME PARTITION: the partitions of NAME, once it is given
function __klog_ktopic_compact_partitions
    test (__klog_ktopic_nargs) -eq 1; or return
    set -l words (commandline -opc)
    set -l seen 0
    set -l skip 0
    for w in $words[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case -d --dir -b --brokers --map-entries
                set skip 1
            case '-*'
            case '*'
                if test $seen -eq 0
                    set seen 1
                else
                    __klog_ktopic_run describe $w | while read -l t p rest
                        echo $p
                    end
                    return
                end
        end
    end
end

# kgroup: its subcommand is found as ktopic's (-d and -b take a value)
function __klog_kgroup_using
    set -l cmd (__klog_ktopic_cmd)
    and contains -- $cmd $argv
end

# kgroup: no positional argument after the subcommand yet
function __klog_kgroup_first_arg
    set -l words (commandline -opc)
    set -l seen 0
    set -l skip 0
    for w in $words[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case -d --dir -b --brokers --topic --to-offset --shift-by --to-datetime
                set skip 1
            case '-*'
            case '*'
                if test $seen -eq 0
                    set seen 1
                else
                    return 1
                end
        end
    end
    return 0
end

# kproduce: is the next positional argument the topic?
function __klog_kproduce_topic_next
    set -l words (commandline -opc)
    set -l skip 0
    for w in $words[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case -d --dir -b --brokers -a --acks -p --partition -k --key \
                -K --key-delimiter -D --delimiter -H --header -z --compression \
                -B --batch-size -l --linger-ms --salt --max-lag --retries --retry-backoff --timeout
                set skip 1
            case '-*'
            case '*'
                return 1
        end
    end
    return 0
end

# ktopic
complete -c ktopic -f
complete -c ktopic -n __klog_ktopic_no_cmd -s d -l dir -r -F -d 'log directory'
complete -c ktopic -n __klog_ktopic_no_cmd -s b -l brokers -x -a '(__klog_brokers)' -d 'work through a kbrokerd'
complete -c ktopic -n __klog_ktopic_no_cmd -s v -l verbose -d 'routine events too'
complete -c ktopic -n __klog_ktopic_no_cmd -s h -l help -d 'print help'
complete -c ktopic -n __klog_ktopic_no_cmd -s V -l version -d 'print the version'
complete -c ktopic -n __klog_ktopic_no_cmd -a create -d 'create a topic'
complete -c ktopic -n __klog_ktopic_no_cmd -a list -d 'list topic names'
complete -c ktopic -n __klog_ktopic_no_cmd -a describe -d 'partitions, offsets and sizes'
complete -c ktopic -n __klog_ktopic_no_cmd -a alter -d 'add partitions, set configuration'
complete -c ktopic -n __klog_ktopic_no_cmd -a delete -d 'remove a topic and its data'
complete -c ktopic -n __klog_ktopic_no_cmd -a compact -d 'compact a cleanup.policy=compact topic now'
complete -c ktopic -n '__klog_ktopic_using create alter' -s p -l partitions -x -d 'number of partitions'
complete -c ktopic -n '__klog_ktopic_using create alter' -s c -l config -x -a '(__klog_config_keys)' -d 'configuration key=value'
complete -c ktopic -n '__klog_ktopic_using create' -l if-not-exists -d 'an existing topic is not an error'
complete -c ktopic -n '__klog_ktopic_using create' -l replication-factor -x -d 'replicas per partition (a cluster)'
complete -c ktopic -n '__klog_ktopic_using list' -s 0 -l null -d 'end names with NUL'
complete -c ktopic -n '__klog_ktopic_using describe' -s c -l config -d 'print the configuration'
complete -c ktopic -n '__klog_ktopic_using describe' -s H -l no-header -d 'no header line, even on a terminal'
complete -c ktopic -n '__klog_ktopic_using describe' -s r -l rates -d 'add the recent write rates'
complete -c ktopic -n '__klog_ktopic_using describe' -s J -l json -d 'one JSON object per partition'
complete -c ktopic -n '__klog_ktopic_using describe' -a '(__klog_topics)'
complete -c ktopic -n '__klog_ktopic_using alter delete; and __klog_ktopic_first_arg' -a '(__klog_topics)'
complete -c ktopic -n '__klog_ktopic_using delete' -l if-exists -d 'a missing topic is not an error'
complete -c ktopic -n '__klog_ktopic_using compact; and __klog_ktopic_first_arg' -a '(__klog_topics)'
complete -c ktopic -n '__klog_ktopic_using compact' -a '(__klog_ktopic_compact_partitions)' -d partition
complete -c ktopic -n '__klog_ktopic_using compact' -l map-entries -x -d 'keys per pass (524288)'
complete -c ktopic -n '__klog_ktopic_using compact' -s s -l stats -d 'one line per partition on stdout'

# kproduce
complete -c kproduce -s d -l dir -r -F -d 'log directory'
complete -c kproduce -s b -l brokers -x -a '(__klog_brokers)' -d 'write through a kbrokerd'
complete -c kproduce -s a -l acks -x -a '0\t"no acknowledgement" 1\t"the broker wrote it" all\t"every in-sync replica (default)"' -d 'acknowledgement to wait for (remote)'
complete -c kproduce -s p -l partition -x -d 'write every record to this partition'
complete -c kproduce -s k -l key -x -d 'the same key on every record'
complete -c kproduce -s K -l key-delimiter -x -d 'key ends at this delimiter'
complete -c kproduce -s D -l delimiter -x -d 'record delimiter'
complete -c kproduce -s 0 -d 'records end with NUL bytes'
complete -c kproduce -s Z -d 'an empty value is sent as null (a tombstone)'
complete -c kproduce -s H -l header -x -d 'header key=value on every record'
complete -c kproduce -s z -l compression -x -a 'none gzip snappy lz4 zstd' -d 'compression codec'
complete -c kproduce -s B -l batch-size -x -d 'batch size in bytes'
complete -c kproduce -s l -l linger-ms -x -d 'write batches after this pause (ms)'
complete -c kproduce -l salt -x -d 'spread each key over N partitions'
complete -c kproduce -l max-lag -x -d 'wait while GROUP lags more than N records (GROUP:N)'
complete -c kproduce -l create -d 'create the topic if missing'
complete -c kproduce -s v -l verbose -d 'report each acknowledged batch'
complete -c kproduce -s q -l quiet -d 'no warnings'
complete -c kproduce -l retries -x -d 'send a batch refused NOT_ENOUGH_REPLICAS again N times'
complete -c kproduce -l retry-backoff -x -d 'wait before the first retry (ms)'
complete -c kproduce -l timeout -x -d 'how long to look for a leader (ms, a cluster)'
complete -c kproduce -s h -l help -d 'print help'
complete -c kproduce -s V -l version -d 'print the version'
complete -c kproduce -n __klog_kproduce_topic_next -f -a '(__klog_topics)' -d topic

# kconsume
complete -c kconsume -f
complete -c kconsume -s d -l dir -r -F -d 'log directory'
complete -c kconsume -s b -l brokers -x -a '(__klog_brokers)' -d 'read through a kbrokerd'
complete -c kconsume -s o -l offset -x -a 'beginning end s@ e@' -d 'where to start'
complete -c kconsume -s e -l exit -d 'exit at the end of every partition'
complete -c kconsume -s c -l count -x -d 'exit after this many records'
complete -c kconsume -s f -l format -x -d 'output format (%t %p %o %k %K %s %S %T %h)'
complete -c kconsume -s J -l json -d 'JSON lines'
complete -c kconsume -s u -l unbuffered -d 'write each record at once'
complete -c kconsume -s g -l group -x -a '(__klog_groups)' -d 'consume as a member of this group'
complete -c kconsume -l strategy -x -a 'range roundrobin sticky' -d 'partition assignment'
complete -c kconsume -l instance-id -x -d 'static membership: a quick restart keeps the partitions'
complete -c kconsume -l session-timeout -x -d 'through a broker: silence before removal (10000 ms)'
complete -c kconsume -l commit-interval -x -d 'commit this often (1000 ms)'
complete -c kconsume -l exec -x -a '(__fish_complete_command)' -d 'run a command per record, the value on its stdin'
complete -c kconsume -l retries -x -d 'run a failing command again N times (0)'
complete -c kconsume -l retry-backoff -x -d 'wait MS before the first retry, doubling (100)'
complete -c kconsume -l dead-letter -x -a '(__klog_topics)' -d 'write a record that still fails to this topic'
complete -c kconsume -l timeout -x -d 'how long to look for a leader (ms, a cluster)'
complete -c kconsume -s q -l quiet -d 'no warnings'
complete -c kconsume -s v -l verbose -d 'report start and end offsets, group events'
complete -c kconsume -s h -l help -d 'print help'
complete -c kconsume -s V -l version -d 'print the version'
complete -c kconsume -a '(__klog_topic_partitions)'

# kgroup
complete -c kgroup -f
complete -c kgroup -n __klog_ktopic_no_cmd -s d -l dir -r -F -d 'log directory'
complete -c kgroup -n __klog_ktopic_no_cmd -s b -l brokers -x -a '(__klog_brokers)' -d 'work through a kbrokerd'
complete -c kgroup -n __klog_ktopic_no_cmd -s q -l quiet -d 'no warnings'
complete -c kgroup -n __klog_ktopic_no_cmd -s v -l verbose -d 'routine events too'
complete -c kgroup -n __klog_ktopic_no_cmd -s h -l help -d 'print help'
complete -c kgroup -n __klog_ktopic_no_cmd -s V -l version -d 'print the version'
complete -c kgroup -n __klog_ktopic_no_cmd -a list -d 'list group names'
complete -c kgroup -n __klog_ktopic_no_cmd -a describe -d 'committed offsets, lag and owners'
complete -c kgroup -n __klog_ktopic_no_cmd -a reset -d 'plan or apply new committed offsets'
complete -c kgroup -n __klog_ktopic_no_cmd -a delete -d 'remove a group and its committed offsets'
complete -c kgroup -n '__klog_ktopic_no_cmd; or __klog_kgroup_using list describe reset' -s J -l json -d 'JSON lines'
complete -c kgroup -n '__klog_ktopic_no_cmd; or __klog_kgroup_using describe reset' -s H -l no-header -d 'no header line, even on a terminal'
complete -c kgroup -n '__klog_kgroup_using list' -s 0 -l null -d 'end names with NUL'
complete -c kgroup -n '__klog_kgroup_using describe' -l state -d 'one line per group'
complete -c kgroup -n '__klog_kgroup_using describe' -l members -d 'one line per member'
complete -c kgroup -n '__klog_kgroup_using describe delete' -a '(__klog_groups)'
complete -c kgroup -n '__klog_kgroup_using reset; and __klog_kgroup_first_arg' -a '(__klog_groups)'
complete -c kgroup -n '__klog_kgroup_using reset' -l topic -x -a '(__klog_topic_partitions)' -d 'topic or topic:partition to reset'
complete -c kgroup -n '__klog_kgroup_using reset' -l to-earliest -d 'the log start'
complete -c kgroup -n '__klog_kgroup_using reset' -l to-latest -d 'the log end'
complete -c kgroup -n '__klog_kgroup_using reset' -l to-offset -x -d 'this offset'
complete -c kgroup -n '__klog_kgroup_using reset' -l shift-by -x -d 'the committed offset plus N'
complete -c kgroup -n '__klog_kgroup_using reset' -l to-datetime -x -d 'first record at or after (ISO 8601 or epoch ms)'
complete -c kgroup -n '__klog_kgroup_using reset' -l execute -d 'apply the plan'
complete -c kgroup -n '__klog_kgroup_using reset' -l dry-run -d 'print the plan only (the default)'
complete -c kgroup -n '__klog_kgroup_using delete' -l if-exists -d 'a missing group is not an error'

# kdump
complete -c kdump -s r -l records -d 'list records too'
complete -c kdump -s i -l indexes -d 'list index and checkpoint files too'
complete -c kdump -l decode -x -a 'text json none' -d 'with -r, how to show __consumer_offsets records'
complete -c kdump -l verify -d 'check instead of listing'
complete -c kdump -l repair -d 'cut a damaged tail, rebuild indexes'
complete -c kdump -l force -d 'with --repair: even under a running kbrokerd'
complete -c kdump -s d -l dir -r -F -d 'log directory'
complete -c kdump -s q -l quiet -d 'no warnings'
complete -c kdump -s v -l verbose -d 'routine events too'
complete -c kdump -s h -l help -d 'print help'
complete -c kdump -s V -l version -d 'print the version'

# kbrokerd
complete -c kbrokerd -f
complete -c kbrokerd -s d -l dir -x -a '(__fish_complete_directories)' -d 'log directory to serve'
complete -c kbrokerd -s l -l listen -x -a '127.0.0.1:7092 "*:7092" "[::1]:7092" "[::]:7092"' -d 'address to listen on'
complete -c kbrokerd -s s -l secret-file -r -F -d 'clients must AUTH with its first line'
complete -c kbrokerd -l fsync -x -a 'always\t"sync before acknowledging (default)" interval=\t"sync every MS milliseconds" never\t"the kernel syncs"' -d 'when to sync'
complete -c kbrokerd -l visible -x -a 'durable\t"consumers see synced records (default)" written\t"consumers see written records"' -d 'under --fsync always, what consumers see'
complete -c kbrokerd -l max-connections -x -d 'most connections at once (1024)'
complete -c kbrokerd -l idle-timeout -x -d 'close idle connections after SEC (600, 0 never)'
complete -c kbrokerd -l max-request -x -d 'largest produce payload (16777216)'
complete -c kbrokerd -l max-memory -x -d 'all connection buffers (1073741824)'
complete -c kbrokerd -l max-waiting-fetches -x -d 'long polls waiting in all (100000)'
complete -c kbrokerd -l max-connection-fetches -x -d 'long polls waiting on one connection (1000)'
complete -c kbrokerd -l max-partitions -x -d 'partitions in the directory (100000)'
complete -c kbrokerd -l max-topic-partitions -x -d 'partitions in one topic (10000)'
complete -c kbrokerd -l max-open-partitions -x -d 'partitions open at once (from the descriptor limit)'
complete -c kbrokerd -l request-timeout -x -d 'a request line, and each 64 KiB of payload, within SEC (10, 0 never)'
complete -c kbrokerd -l max-connections-per-ip -x -d 'most connections from one address (0 no limit)'
complete -c kbrokerd -l insecure -d 'serve a non-loopback address without a secret'
complete -c kbrokerd -s r -l ready-fd -x -d 'write a newline to FD when ready'
complete -c kbrokerd -s q -l quiet -d 'log warnings and errors only'
complete -c kbrokerd -s h -l help -d 'print help'
complete -c kbrokerd -s V -l version -d 'print the version'

# kreplicate
complete -c kreplicate -f
complete -c kreplicate -s b -l brokers -x -d 'source brokers'
complete -c kreplicate -s s -l source -x -a '(__fish_complete_directories)' -d 'source log directory'
complete -c kreplicate -s d -l dir -x -a '(__fish_complete_directories)' -d 'destination log directory'
complete -c kreplicate -s m -l mirror -d 'new offsets at the destination, with an offset map'
complete -c kreplicate -s B -l to-brokers -x -d 'mirror into these brokers'
complete -c kreplicate -l offset-map -r -F -d 'mirror: the offset map'
complete -c kreplicate -s e -l once -d 'stop once caught up'
complete -c kreplicate -l max-bytes -x -d 'per fetch or read (1048576)'
complete -c kreplicate -s q -l quiet -d 'no warnings, no progress'
complete -c kreplicate -s v -l verbose -d 'every event'
complete -c kreplicate -s h -l help -d 'print help'
complete -c kreplicate -s V -l version -d 'print the version'

