/* klog - kproduce: records from files or stdin into a topic. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"

#define SYNOPSIS "kproduce [-d DIR | -b HOST:PORT[,...]] [-a ACKS] [--retries N] [--retry-backoff MS] [--timeout MS] [-p N] [-k KEY] [-K DELIM] [-D DELIM | -0] [-Z] [-H key=value]... " \
	"[-z CODEC]\n                [-B BYTES] [-l MS] [--salt N] [--max-lag GROUP:N] [--create] [-v] [-q] TOPIC [FILE...]"

static const char help[] =
"usage: kproduce [options] TOPIC [FILE...]\n"
"Write records read from FILEs (or stdin; \"-\" is stdin) to TOPIC, one per delimiter.\n"
"\n"
"  -d, --dir DIR            log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT[,...]  write through a kbrokerd, or a cluster: each\n"
"                           partition's leader (default $KLOG_BROKERS)\n"
"  -a, --acks 0|1|all       remote: wait for no, the leader's or all in-sync\n"
"                           replicas' acknowledgement (default all; one broker:\n"
"                           all = 1)\n"
"      --retries N          a cluster: send a batch refused (nothing written:\n"
"                           NOT_LEADER, NOT_ENOUGH_REPLICAS...) again up to N times\n"
"                           (default 5; 0 never)\n"
"      --retry-backoff MS   before the first retry, doubling up to 1000 (default 100)\n"
"      --timeout MS         a cluster: how long to look for a partition's leader\n"
"                           (METADATA, elections) before failing (default 30000)\n"
"  -p, --partition N        write every record to partition N\n"
"  -k, --key KEY            the same key on every record\n"
"  -K, --key-delimiter D    the key is what precedes the first D in each record\n"
"  -D, --delimiter D        record delimiter (default \\n; escapes \\n \\t \\r \\0 \\\\ \\xNN)\n"
"  -0                       records end with NUL bytes\n"
"  -Z                       an empty value is sent as null (a tombstone), as kcat's -Z\n"
"  -H, --header key=value   a header on every record (repeatable)\n"
"  -z, --compression CODEC  none, gzip, snappy, lz4, zstd (default: the topic's, else none)\n"
"  -B, --batch-size BYTES   batch size (default 1000000, at most max.message.bytes)\n"
"  -l, --linger-ms MS       write a batch when input pauses this long (default 5)\n"
"      --salt N             spread each key over N partitions: its murmur2 partition\n"
"                           and the N-1 after it, in turn (per-key order is lost)\n"
"      --max-lag GROUP:N    before each batch, wait while consumer group GROUP has more\n"
"                           than N records of TOPIC left to consume (says so once)\n"
"      --create             create TOPIC (1 partition) if it does not exist\n"
"  -v, --verbose            print \"kproduce: acked TOPIC PARTITION FIRST LAST\" per batch,\n"
"                           and routine events (retention, an index rebuilt)\n"
"  -q, --quiet              no warnings\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"Keyed records go to murmur2(key) % partitions, like Kafka's Java client; unkeyed\n"
"records go to one partition for about 16 KiB, then the next (Kafka's sticky\n"
"partitioner). In a cluster a batch whose answer was lost (its leader died)\n"
"is not sent again -- it may have been written -- but reported, as are\n"
"batches refused after the retries, with or without -v, as\n"
"\"kproduce: failed TOPIC PARTITION RECORDS CODE: message\", and the next batches go\n"
"to the new leader. Exit 0 on success, 1 on failure (also when a batch failed\n"
"or a record over max.message.bytes was skipped), 2 on a usage error.\n";

static volatile sig_atomic_t stop_flag;
static int verbose;
static struct klog_producer *pr;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* polled between input chunks: the place to show progress */
static int
should_stop(void *arg)
{
	int64_t records, bytes;

	(void)arg;
	if (pr) {
		klog_producer_counts(pr, &records, &bytes);
		klog_cmd_progress(records, bytes);
	}
	return stop_flag;
}

/* the input's size when every FILE (or stdin) is a regular file, else -1 */
static int64_t
input_size(char **names, int n)
{
	int64_t total = 0;
	struct stat st;
	int i;

	for (i = 0; i < n; i++) {
		int r = strcmp(names[i], "-") ? stat(names[i], &st) : fstat(0, &st);
		if (r < 0 || !S_ISREG(st.st_mode))
			return -1;
		total += st.st_size;
	}
	return total;
}

static void
acked(void *arg, const char *topic, int partition, int64_t first, int64_t last)
{
	(void)arg;
	if (verbose && first >= 0)      /* acks 0: nothing was acknowledged */
		fprintf(stderr, "kproduce: acked %s %d %" PRId64 " %" PRId64 "\n", topic, partition,
		    first, last);
}

static void
failed(void *arg, const char *topic, int partition, int64_t records, const char *code,
    const char *msg)
{
	(void)arg;
	klog_cmd_progress_clear();
	fprintf(stderr, "kproduce: failed %s %d %" PRId64 " %s: %s\n", topic, partition, records,
	    code, msg);
}

static void
skipped(void *arg, const char *msg)
{
	(void)arg;
	klog_cmd_error("%s", msg);
}

static int quiet;

static void
waiting(void *arg, const char *group, const char *topic, int64_t lag, int64_t limit, int resumed)
{
	(void)arg;
	if (quiet)
		return;
	klog_cmd_progress_clear();
	klog_cmd_error("%s: group '%s' lags %" PRId64 " records on '%s' (limit %" PRId64 ")",
	    resumed ? "resumed" : "waiting", group, lag, topic, limit);
}

/* --max-lag GROUP:N */
static void
parse_max_lag(char *s, struct klog_producer_opts *po)
{
	char err[KLOG_ERRLEN], *colon = strrchr(s, ':');
	int64_t v;

	if (!colon || klog_parse_i64(colon + 1, &v) < 0 || v < 0)
		klog_cmd_die(2, "bad --max-lag '%s': expected GROUP:N, N records (0 or more)", s);
	*colon = 0;
	if (klog_group_name_check(s, err) < 0)
		klog_cmd_die(2, "bad --max-lag: %s", err);
	po->lag_group = s;
	po->max_lag = v;
	po->waiting = waiting;
}

static void
unescape_opt(const char *s, const char *what, struct klog_buf *out)
{
	char err[KLOG_ERRLEN];

	out->len = 0;
	if (klog_unescape(s, out, err) < 0)
		klog_cmd_die(2, "bad %s '%s': %s", what, s, err);
	if (out->len == 0)
		klog_cmd_die(2, "bad %s '%s': empty", what, s);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "acks", required_argument, NULL, 'a' },
		{ "partition", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "key-delimiter", required_argument, NULL, 'K' },
		{ "delimiter", required_argument, NULL, 'D' },
		{ "header", required_argument, NULL, 'H' },
		{ "compression", required_argument, NULL, 'z' },
		{ "batch-size", required_argument, NULL, 'B' },
		{ "linger-ms", required_argument, NULL, 'l' },
		{ "create", no_argument, NULL, 'C' },
		{ "salt", required_argument, NULL, 'S' },
		{ "max-lag", required_argument, NULL, 'L' },
		{ "retries", required_argument, NULL, 'R' },
		{ "retry-backoff", required_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_producer_opts po = { .partition = -1, .codec = -1, .retries = 5,
	    .retry_backoff_ms = 100 };
	int timeout = -1;
	struct klog_feed_opts fo = { .key_len = -1, .linger_ms = 5 };
	struct klog_buf delim = {0}, kdelim = {0};
	struct klog_header *hdrs = NULL;
	struct klog_log *lg;
	struct sigaction sa;
	const char *dir = NULL, *brokers = NULL, *topic;
	int acks = -1;
	char err[KLOG_ERRLEN];
	int create = 0, nul = 0, nh = 0, c, i, rc = 0, r;
	int64_t v;

	klog_cmd_init("kproduce");
	while ((c = getopt_long(argc, argv, "d:p:k:K:D:0ZH:z:B:l:b:a:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'p':
			if (klog_parse_i64(optarg, &v) < 0 || v < 0 || v > INT32_MAX)
				klog_cmd_die(2, "bad partition '%s'", optarg);
			po.partition = (int)v;
			break;
		case 'k':
			if (strlen(optarg) > INT32_MAX)
				klog_cmd_die(2, "key too long");
			fo.key = optarg;
			fo.key_len = (int32_t)strlen(optarg);
			break;
		case 'K':
			unescape_opt(optarg, "key delimiter", &kdelim);
			break;
		case 'D':
			unescape_opt(optarg, "delimiter", &delim);
			nul = 0;
			break;
		case 'Z':
			fo.null_empty = 1;
			break;
		case '0':
			nul = 1;
			break;
		case 'H': {
			const char *eq = strchr(optarg, '=');
			struct klog_header *n;
			if (!eq || eq == optarg)
				klog_cmd_die(2, "bad header '%s': expected key=value", optarg);
			if (!(n = realloc(hdrs, (size_t)(nh + 1) * sizeof *n)))
				klog_cmd_die(1, "out of memory");
			hdrs = n;
			hdrs[nh].key = (const unsigned char *)optarg;
			hdrs[nh].key_len = (int32_t)(eq - optarg);
			hdrs[nh].value = (const unsigned char *)eq + 1;
			hdrs[nh].value_len = (int32_t)strlen(eq + 1);
			nh++;
			break;
		}
		case 'z':
			if ((po.codec = klog_codec_parse(optarg)) < 0)
				klog_cmd_die(2, "unknown codec '%s': expected none, gzip, snappy, lz4 or zstd",
				    optarg);
			if (!klog_codec_available(po.codec))
				klog_cmd_die(2, "codec '%s' is not built in", optarg);
			break;
		case 'B':
			if (klog_parse_i64(optarg, &v) < 0 || v < 1 || v > INT32_MAX)
				klog_cmd_die(2, "bad batch size '%s'", optarg);
			po.batch_bytes = (size_t)v;
			break;
		case 'l':
			if (klog_parse_i64(optarg, &v) < 0 || v < 0 || v > INT32_MAX)
				klog_cmd_die(2, "bad linger '%s'", optarg);
			fo.linger_ms = (int)v;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'a':
			if (!strcmp(optarg, "all") || !strcmp(optarg, "-1"))
				acks = -1;
			else if (!strcmp(optarg, "0") || !strcmp(optarg, "1"))
				acks = atoi(optarg);
			else
				klog_cmd_die(2, "bad acks '%s': expected 0, 1 or all", optarg);
			break;
		case 'C':
			create = 1;
			break;
		case 'S':
			if (klog_parse_i64(optarg, &v) < 0 || v < 1 || v > INT32_MAX)
				klog_cmd_die(2, "bad salt '%s': expected a count of partitions, 1 or more",
				    optarg);
			po.salt = (int)v;
			break;
		case 'L':
			parse_max_lag(optarg, &po);
			break;
		case 'R':
			if (klog_parse_i64(optarg, &v) < 0 || v < 0 || v > 1000000)
				klog_cmd_die(2, "bad retries '%s'", optarg);
			po.retries = (int)v;
			break;
		case 'F':
			if (klog_parse_i64(optarg, &v) < 0 || v < 1 || v > 30000)
				klog_cmd_die(2, "bad retry backoff '%s': expected 1 to 30000 ms", optarg);
			po.retry_backoff_ms = (int)v;
			break;
		case 'T':
			if (klog_parse_i64(optarg, &v) < 0 || v < 0 || v > INT32_MAX)
				klog_cmd_die(2, "bad timeout '%s'", optarg);
			timeout = (int)v;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'q':
			quiet = 1;
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
	topic = argv[optind++];
	if (po.salt > 1 && po.partition >= 0)
		klog_cmd_die(2, "--salt and -p exclude each other: -p puts every record in one partition");
	if (klog_topic_name_check(topic, err) < 0)
		klog_cmd_die(2, "%s", err);
	if (nul) {
		delim.len = 0;
		klog_buf_append(&delim, "", 1);
	}
	if (delim.len) {
		fo.delim = delim.data;
		fo.delim_len = delim.len;
	}
	if (kdelim.len) {
		fo.key_delim = kdelim.data;
		fo.key_delim_len = kdelim.len;
	}
	po.headers = hdrs;
	po.nheaders = nh;
	po.acked = acked;
	po.failed = failed;
	po.skipped = skipped;
	po.stop = should_stop;

	lg = klog_cmd_open_log(dir, brokers, create ? KLOG_CREATE : 0);
	klog_log_set_acks(lg, acks);
	if (timeout >= 0)
		klog_log_set_timeout(lg, timeout);
	if (!klog_log_exists(lg, topic)) {
		if (!create)
			klog_cmd_die(1, "no such topic '%s'", topic);
		if (klog_log_create(lg, topic, 1, NULL, 0, err) < 0 && errno != EEXIST)
			klog_cmd_die(1, "%s", err);
	}
	if (!(pr = klog_producer_open(lg, topic, &po, err)))
		klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);

	/* SIGXFSZ would kill us at the file size limit: see EFBIG instead */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;      /* no SA_RESTART: a blocked read returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (optind >= argc)
		argv[--optind] = "-";
	/* -v prints a line per batch on stderr: no progress line among them */
	if (!verbose)
		klog_cmd_progress_start(input_size(argv + optind, argc - optind));
	for (i = optind; i < argc && !stop_flag; i++) {
		const char *name = argv[i];
		int fd = 0;

		if (strcmp(name, "-")) {
			if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
				klog_cmd_error("cannot open '%s': %s", name, strerror(errno));
				rc = 1;
				continue;
			}
		} else
			name = "stdin";
		r = klog_producer_feed(pr, fd, name, &fo, err);
		if (fd > 0)
			close(fd);
		if (r < 0) {
			klog_cmd_progress_end();
			klog_cmd_error("%s", err);
			klog_producer_close(pr);
			klog_log_close(lg);
			return 1;
		}
	}
	if (klog_producer_flush(pr, err) < 0) {
		klog_cmd_error("%s", err);
		rc = 1;
	}
	klog_cmd_progress_end();
	if (klog_producer_skipped(pr) || klog_producer_failed(pr))
		rc = 1;
	klog_producer_close(pr);
	klog_log_close(lg);
	klog_buf_free(&delim);
	klog_buf_free(&kdelim);
	free(hdrs);
	return rc;
}
