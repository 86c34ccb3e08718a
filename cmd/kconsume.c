/* klog - kconsume: records of topics to stdout, or to a command, alone or in a group. MIT licence. */
/*
 * Three ways to use a record: print it (-f, -J), or run a command with it
 * (--exec); alone (every partition named) or as a member of a consumer
 * group (-g: the group's share of the topics, with committed offsets).
 *
 * What a group member commits is what it has used: printed records once
 * the write of the output buffer succeeded (flush_out runs before every
 * commit), executed records once their command exited 0 or they went to
 * the dead-letter topic.  The member's bookkeeping (commits, revokes, the
 * in-flight record) is libklog/cmd-member.c; the command per record (its
 * environment, retries, the dead-letter topic) libklog/cmd-exec.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"
#include "cmdgroup.h"

#define SYNOPSIS "kconsume [-d DIR | -b HOST:PORT[,...] [--timeout MS]] [-g GROUP [--strategy S] [--instance-id ID] " \
	"[--session-timeout MS] [--commit-interval MS]] [-o OFFSET] [-o e@TS] [-e] [-c COUNT] " \
	"[-f FORMAT | -J | --exec CMD [--retries N] [--retry-backoff MS] [--dead-letter TOPIC]] " \
	"[-u] [-q] [-v] TOPIC[:PARTITION]..."

static const char help[] =
"usage: kconsume [options] TOPIC[:PARTITION]...\n"
"Print the records of topics (all partitions, or the ones named) on stdout,\n"
"or run a command for each; alone, or as a member of a consumer group.\n"
"\n"
"  -d, --dir DIR        log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT[,...]  read through a kbrokerd, or a cluster: each\n"
"                       partition from its leader (default $KLOG_BROKERS)\n"
"      --timeout MS     a cluster: how long to look for a partition's leader\n"
"                       (METADATA, elections) before failing (default 30000)\n"
"  -o, --offset OFFSET  where to start in each partition: beginning (default), end,\n"
"                       N (absolute), -N (N before the end), s@TIMESTAMP (ms);\n"
"                       with -g only where the group has no commit;\n"
"                       again as e@TIMESTAMP (ms): stop each partition at its\n"
"                       first record with a timestamp at or past it\n"
"  -e, --exit           exit when every partition is at its end (default: follow)\n"
"  -c, --count N        exit after N records\n"
"  -f, --format FORMAT  output format (default \"%s\\n\"): %t topic, %p partition,\n"
"                       %o offset, %k key, %K key length, %s value, %S value length,\n"
"                       %T timestamp (ms), %h headers (k=v,k=v), %% percent;\n"
"                       escapes \\n \\r \\t \\\\ \\xNN\n"
"  -J, --json           one JSON object per record and line (kcat's shape)\n"
"  -u, --unbuffered     write each record at once\n"
"  -g, --group GROUP    consume as a member of GROUP: its share of the topics,\n"
"                       from the group's committed offsets, committing what was\n"
"                       written (or executed)\n"
"      --strategy S     range (default), roundrobin or sticky\n"
"      --instance-id ID static membership: a quick restart keeps the partitions\n"
"      --session-timeout MS  through a broker: silence before removal (10000)\n"
"      --commit-interval MS  commit this often (default 1000)\n"
"      --exec CMD       run /bin/sh -c CMD per record: the value on its stdin;\n"
"                       KLOG_TOPIC, KLOG_PARTITION, KLOG_OFFSET, KLOG_KEY,\n"
"                       KLOG_TIMESTAMP, KLOG_HEADER_<name> in its environment\n"
"      --retries N      run a failing command again N times (default 0)\n"
"      --retry-backoff MS  wait MS before the first retry, doubling (100; at\n"
"                       most 30000)\n"
"      --dead-letter TOPIC  write a record that still fails to TOPIC (created\n"
"                       with the source's partition count) and go on\n"
"  -q, --quiet          no warnings\n"
"  -v, --verbose        say where each partition starts and when it reaches its end,\n"
"                       group events and commits, and routine events\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"\n"
"Exit 0 on success (also when the reader of stdout goes away), 1 on failure\n"
"(damaged data, missing topic, a failed commit), 2 on a usage error, 3 when a\n"
"record's command still failed after its retries and there is no dead-letter\n"
"topic (nothing past it committed).\n";

#define OUT_FLUSH ((size_t)256 << 10)

enum { OPT_STRATEGY = 256, OPT_INSTANCE, OPT_SESSION, OPT_COMMIT_INTERVAL, OPT_EXEC,
	OPT_RETRIES, OPT_BACKOFF, OPT_DEAD_LETTER, OPT_TIMEOUT };

static volatile sig_atomic_t stop_flag;

static void flush_out(void *arg);

static struct klog_cmd_member M = { .commit_interval = 1000, .flush = flush_out };
static struct klog_cmd_exec X = { .valfd = -1, .backoff = 100, .stop = &stop_flag };
static struct klog_fmt *fmt;
static int json, unbuffered;
static struct klog_buf out;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* write the output buffer; an EPIPE ends the run quietly (a group member
 * then commits nothing more: what it wrote last is not known to be read) */
static void
flush_out(void *arg)
{
	(void)arg;
	if (!out.len)
		return;
	if (klog_cmd_write(1, out.data, out.len) < 0) {
		if (errno == EPIPE) {
			klog_cmd_progress_end();
			klog_cmd_member_exit(&M, 0, 0);
		}
		klog_cmd_die(1, "cannot write output: %s", strerror(errno));
	}
	out.len = 0;
}

/* ------------------------------------------------------------------ main */

static int64_t
parse_ms(const char *opt, const char *s, int64_t min)
{
	int64_t v;

	if (klog_parse_i64(s, &v) < 0 || v < min || v > INT32_MAX)
		klog_cmd_die(2, "bad %s '%s'", opt, s);
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "offset", required_argument, NULL, 'o' },
		{ "exit", no_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "unbuffered", no_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "instance-id", required_argument, NULL, OPT_INSTANCE },
		{ "session-timeout", required_argument, NULL, OPT_SESSION },
		{ "commit-interval", required_argument, NULL, OPT_COMMIT_INTERVAL },
		{ "exec", required_argument, NULL, OPT_EXEC },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "retry-backoff", required_argument, NULL, OPT_BACKOFF },
		{ "dead-letter", required_argument, NULL, OPT_DEAD_LETTER },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_group_opts go = { 0 };
	struct klog_record r;
	struct sigaction sa;
	const char *dir = NULL, *brokers = NULL, *format = "%s\\n", *topic;
	char err[KLOG_ERRLEN];
	int exit_at_end = 0, quiet = 0, c, i, rc = 0, n, partition, leader_ms = -1;
	int64_t count = -1, seen = 0, next, *ended = NULL, stop_ts = -1, bytes = 0;

	klog_cmd_init("kconsume");
	M.st.from = KLOG_FROM_BEGINNING;
	while ((c = getopt_long(argc, argv, "d:o:ec:f:Juqvb:g:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			if (!strncmp(optarg, "e@", 2)) {
				if (klog_parse_i64(optarg + 2, &stop_ts) < 0 || stop_ts < 0)
					klog_cmd_die(2, "bad end offset '%s': expected e@TIMESTAMP", optarg);
				break;
			}
			if (klog_start_parse(optarg, &M.st, err) < 0)
				klog_cmd_die(2, "%s", err);
			break;
		case 'e':
			exit_at_end = 1;
			break;
		case 'c':
			if (klog_parse_i64(optarg, &count) < 0 || count < 0)
				klog_cmd_die(2, "bad count '%s'", optarg);
			break;
		case 'f':
			format = optarg;
			json = 0;
			break;
		case 'J':
			json = 1;
			break;
		case 'u':
			unbuffered = 1;
			break;
		case 'g':
			M.group = optarg;
			break;
		case OPT_STRATEGY:
			go.strategy = optarg;
			break;
		case OPT_INSTANCE:
			go.instance_id = optarg;
			break;
		case OPT_SESSION:
			go.session_ms = (int)parse_ms("session timeout", optarg, 1);
			break;
		case OPT_COMMIT_INTERVAL:
			M.commit_interval = parse_ms("commit interval", optarg, 0);
			break;
		case OPT_EXEC:
			X.cmd = optarg;
			break;
		case OPT_RETRIES:
			X.retries = parse_ms("retry count", optarg, 0);
			break;
		case OPT_BACKOFF:
			X.backoff = parse_ms("retry backoff", optarg, 0);
			break;
		case OPT_TIMEOUT:
			leader_ms = (int)parse_ms("timeout", optarg, 0);
			break;
		case OPT_DEAD_LETTER:
			X.dead_letter = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			M.verbose = 1;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		case 'V':
			klog_cmd_version();
		default:
			klog_cmd_usage(SYNOPSIS);
		}
	}
	if (optind >= argc)
		klog_cmd_usage(SYNOPSIS);
	if (!M.group && (go.strategy || go.instance_id || go.session_ms))
		klog_cmd_die(2, "--strategy, --instance-id and --session-timeout need -g GROUP");
	if (!X.cmd && (X.retries || X.dead_letter))
		klog_cmd_die(2, "--retries and --dead-letter need --exec CMD");
	if (X.dead_letter && klog_topic_name_check(X.dead_letter, err) < 0)
		klog_cmd_die(2, "%s", err);
	klog_cmd_quiet(quiet);
	klog_cmd_verbose(M.verbose);
	/* an unknown %-token stops us before any data is read */
	if (!X.cmd && !json && !(fmt = klog_fmt_compile(format, err)))
		klog_cmd_die(2, "%s", err);
	if (M.group) {
		if (klog_group_name_check(M.group, err) < 0)
			klog_cmd_die(2, "%s", err);
		for (i = optind; i < argc; i++) {
			if (strchr(argv[i], ':'))
				klog_cmd_die(2, "'%s': a group member reads whole topics, "
				    "the group shares out their partitions", argv[i]);
			if (klog_topic_name_check(argv[i], err) < 0)
				klog_cmd_die(2, "%s", err);
		}
	}
	for (i = optind; X.dead_letter && i < argc; i++) {
		size_t tl = strcspn(argv[i], ":");
		if (strlen(X.dead_letter) == tl && !strncmp(argv[i], X.dead_letter, tl))
			klog_cmd_die(2, "the dead-letter topic '%s' is also read", X.dead_letter);
	}

	M.lg = klog_cmd_open_log(dir, brokers, 0);
	if (leader_ms >= 0)
		klog_log_set_timeout(M.lg, leader_ms);
	if (!(M.con = klog_consumer_new(M.lg, err)))
		klog_cmd_die(1, "%s", err);
	if (stop_ts >= 0)
		klog_consumer_stop_at(M.con, stop_ts);

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (M.group) {
		go.group = M.group;
		go.topics = argv + optind;
		go.ntopics = (size_t)(argc - optind);
		go.client_id = "kconsume";
		if (!(M.g = klog_group_join(M.lg, &go, err)))
			klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);
		if (M.verbose)
			fprintf(stderr, "kconsume: group '%s': joined as %s\n", M.group,
			    klog_group_member_id(M.g));
		M.last_event = M.last_commit = klog_now_ms();
		klog_cmd_member_poll(&M);
	} else {
		for (i = optind; i < argc; i++)
			if (klog_consumer_add(M.con, argv[i], &M.st, err) < 0)
				klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);
		n = klog_consumer_count(M.con);
		if (M.verbose) {
			if (!(ended = calloc((size_t)n + 1, sizeof *ended)))
				klog_cmd_die(1, "out of memory");
			for (i = 0; i < n; i++) {
				klog_consumer_position(M.con, i, &topic, &partition, &next);
				fprintf(stderr, "kconsume: %s %d: starting at offset %" PRId64 "\n",
				    topic, partition, next);
			}
		}
	}

	/* progress of a long -e run, when the records go somewhere else than
	 * the terminal; -v talks on stderr itself */
	if (exit_at_end && !M.verbose && !X.cmd && !isatty(1))
		klog_cmd_progress_start(-1);
	while (!stop_flag && count != 0) {
		int got;

		klog_cmd_member_tick(&M);
		got = klog_consumer_next(M.con, &r, &topic, &partition, err);
		if (got < 0) {
			flush_out(NULL);
			klog_cmd_progress_end();
			klog_cmd_error("%s", err);
			rc = 1;
			break;
		}
		if (got == 1) {
			if (X.cmd) {
				if (klog_cmd_exec_record(&X, &M, &r, topic, partition))
					continue;
			} else if ((json ? klog_json_record(&out, topic, partition, &r) :
			    klog_fmt_record(fmt, &out, topic, partition, &r)) < 0)
				klog_cmd_die(1, "cannot format record: %s", strerror(errno));
			seen++;
			bytes += (r.key_len > 0 ? r.key_len : 0) + (r.value_len > 0 ? r.value_len : 0);
			if (!(seen & 1023))
				klog_cmd_progress(seen, bytes);
			if (unbuffered || out.len >= OUT_FLUSH)
				flush_out(NULL);
			if (count > 0 && seen >= count)
				break;
			continue;
		}
		/* every partition is at its end for now */
		flush_out(NULL);
		if (M.verbose && !M.g) {
			n = klog_consumer_count(M.con);
			for (i = 0; i < n; i++) {
				klog_consumer_position(M.con, i, &topic, &partition, &next);
				if (ended[i] != next + 1) {
					fprintf(stderr, "kconsume: %s %d: at the end, offset %" PRId64 "\n",
					    topic, partition, next);
					ended[i] = next + 1;
				}
			}
		}
		if (M.g && exit_at_end) {
			/* at the end of what the group gave us, and the group has
			 * nothing new for us (a member given nothing waits a little) */
			int grace = klog_group_interval(M.g) * 3;

			if (klog_cmd_member_poll(&M))
				continue;
			if ((M.ngp || klog_now_ms() - M.last_event >= (grace > 1000 ? grace : 1000)) &&
			    klog_cmd_member_settled(&M))
				break;
		} else if (exit_at_end || klog_consumer_done(M.con))
			break;
		if (M.g && klog_consumer_done(M.con))
			break;
		while (!stop_flag && klog_consumer_wait(M.con,
		    klog_cmd_member_until_tick(&M, 500)) == 0 &&
		    (!M.g || klog_cmd_member_until_tick(&M, 500) > 0))
			;
	}
	flush_out(NULL);
	klog_cmd_progress(seen, bytes);
	klog_cmd_progress_end();
	if (M.g)
		klog_cmd_member_exit(&M, rc, 1);
	klog_buf_free(&out);
	klog_fmt_free(fmt);
	free(ended);
	klog_consumer_free(M.con);
	klog_log_close(M.lg);
	return rc;
}
