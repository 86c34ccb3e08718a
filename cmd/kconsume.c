/* klog - kconsume: records of topics to stdout. MIT licence. */
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

#define SYNOPSIS "kconsume [-d DIR | -b HOST:PORT] [-o OFFSET] [-o e@TS] [-e] [-c COUNT] [-f FORMAT | -J] [-u] [-q] [-v] " \
	"TOPIC[:PARTITION]..."

static const char help[] =
"usage: kconsume [options] TOPIC[:PARTITION]...\n"
"Print the records of topics (all partitions, or the ones named) on stdout.\n"
"\n"
"  -d, --dir DIR        log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT  read through a kbrokerd (default $KLOG_BROKERS)\n"
"  -o, --offset OFFSET  where to start in each partition: beginning (default), end,\n"
"                       N (absolute), -N (N before the end), s@TIMESTAMP (ms);\n"
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
"  -q, --quiet          no warnings\n"
"  -v, --verbose        say where each partition starts and when it reaches its end,\n"
"                       and routine events (retention deleted segments)\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"\n"
"Exit 0 on success (also when the reader of stdout goes away), 1 on failure\n"
"(damaged data, missing topic), 2 on a usage error.\n";

#define OUT_FLUSH ((size_t)256 << 10)

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* write the output buffer; an EPIPE ends the run quietly */
static void
flush_out(struct klog_buf *out)
{
	if (!out->len)
		return;
	if (klog_cmd_write(1, out->data, out->len) < 0) {
		if (errno == EPIPE) {
			klog_cmd_progress_end();
			exit(0);
		}
		klog_cmd_die(1, "cannot write output: %s", strerror(errno));
	}
	out->len = 0;
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_start st = { KLOG_FROM_BEGINNING, 0 };
	struct klog_fmt *fmt = NULL;
	struct klog_consumer *con;
	struct klog_record r;
	struct klog_buf out = {0};
	struct klog_log *lg;
	struct sigaction sa;
	const char *dir = NULL, *brokers = NULL, *format = "%s\\n", *topic;
	char err[KLOG_ERRLEN];
	int exit_at_end = 0, json = 0, unbuffered = 0, quiet = 0, verbose = 0, c, i, rc = 0, n;
	int partition;
	int64_t count = -1, seen = 0, next, *ended = NULL, stop_ts = -1, bytes = 0;

	klog_cmd_init("kconsume");
	while ((c = getopt_long(argc, argv, "d:o:ec:f:Juqvb:hV", longopts, NULL)) != -1) {
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
			if (klog_start_parse(optarg, &st, err) < 0)
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
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
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
	klog_cmd_quiet(quiet);
	klog_cmd_verbose(verbose);
	/* an unknown %-token stops us before any data is read */
	if (!json && !(fmt = klog_fmt_compile(format, err)))
		klog_cmd_die(2, "%s", err);

	lg = klog_cmd_open_log(dir, brokers, 0);
	if (!(con = klog_consumer_new(lg, err)))
		klog_cmd_die(1, "%s", err);
	if (stop_ts >= 0)
		klog_consumer_stop_at(con, stop_ts);
	for (i = optind; i < argc; i++)
		if (klog_consumer_add(con, argv[i], &st, err) < 0)
			klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);
	n = klog_consumer_count(con);
	if (verbose) {
		if (!(ended = calloc((size_t)n + 1, sizeof *ended)))
			klog_cmd_die(1, "out of memory");
		for (i = 0; i < n; i++) {
			klog_consumer_position(con, i, &topic, &partition, &next);
			fprintf(stderr, "kconsume: %s %d: starting at offset %" PRId64 "\n", topic,
			    partition, next);
		}
	}

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* progress of a long -e run, when the records go somewhere else than
	 * the terminal; -v talks on stderr itself */
	if (exit_at_end && !verbose && !isatty(1))
		klog_cmd_progress_start(-1);
	while (!stop_flag && count != 0) {
		int got = klog_consumer_next(con, &r, &topic, &partition, err);

		if (got < 0) {
			flush_out(&out);
			klog_cmd_progress_end();
			klog_cmd_error("%s", err);
			rc = 1;
			break;
		}
		if (got == 1) {
			if ((json ? klog_json_record(&out, topic, partition, &r) :
			    klog_fmt_record(fmt, &out, topic, partition, &r)) < 0)
				klog_cmd_die(1, "cannot format record: %s", strerror(errno));
			seen++;
			bytes += (r.key_len > 0 ? r.key_len : 0) + (r.value_len > 0 ? r.value_len : 0);
			if (!(seen & 1023))
				klog_cmd_progress(seen, bytes);
			if (unbuffered || out.len >= OUT_FLUSH)
				flush_out(&out);
			if (count > 0 && seen >= count)
				break;
			continue;
		}
		/* every partition is at its end for now */
		flush_out(&out);
		if (verbose)
			for (i = 0; i < n; i++) {
				klog_consumer_position(con, i, &topic, &partition, &next);
				if (ended[i] != next + 1) {
					fprintf(stderr, "kconsume: %s %d: at the end, offset %" PRId64 "\n",
					    topic, partition, next);
					ended[i] = next + 1;
				}
			}
		if (exit_at_end || klog_consumer_done(con))
			break;
		while (!stop_flag && klog_consumer_wait(con, 500) == 0)
			;
	}
	flush_out(&out);
	klog_cmd_progress(seen, bytes);
	klog_cmd_progress_end();
	klog_buf_free(&out);
	klog_fmt_free(fmt);
	free(ended);
	klog_consumer_free(con);
	klog_log_close(lg);
	return rc;
}
