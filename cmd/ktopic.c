/* klog - ktopic: create, list, describe, alter and delete topics. MIT licence. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"

#define SYNOPSIS \
	"ktopic [-d DIR | -b HOST:PORT[,...]] create NAME [-p N] [--replication-factor R] [-c key=value]...\n" \
	"              [--if-not-exists]\n" \
	"       ktopic [-d DIR | -b HOST:PORT] list [-0]\n" \
	"       ktopic [-d DIR | -b HOST:PORT] describe [-H] [-r | -J] [NAME...]\n" \
	"       ktopic [-d DIR | -b HOST:PORT] describe -c NAME...\n" \
	"       ktopic [-d DIR | -b HOST:PORT] alter NAME [--partitions N] [--config key=value]...\n" \
	"       ktopic [-d DIR | -b HOST:PORT] delete NAME [--if-exists]\n" \
	"       ktopic [-d DIR | -b HOST:PORT] compact NAME [PARTITION] [--map-entries N] [-s]"

static const char help[] =
"usage: ktopic [-d DIR | -b HOST:PORT] COMMAND ...\n"
"Manage the topics of a klog log directory.\n"
"\n"
"  create NAME [-p N] [--replication-factor R] [-c key=value]... [--if-not-exists]\n"
"                  create a topic (1 partition unless -p/--partitions N); in a\n"
"                  cluster with R replicas per partition (default 1), and wait\n"
"                  (at most 30 s) until every broker knows a leader for each\n"
"  list [-0]       topic names, sorted, one per line (NUL-terminated with -0)\n"
"  describe [-H] [-r | -J] [NAME...]\n"
"                  one line per partition of the topics named (of every topic without\n"
"                  names): TOPIC PARTITION LOG_START LOG_END SEGMENTS BYTES STATE,\n"
"                  tab-separated; a header line first when stdout is a terminal,\n"
"                  never with -H/--no-header; -r/--rates adds RECORDS_PER_S\n"
"                  BYTES_PER_S, the recent write rates (last 10 s); -J/--json: one\n"
"                  JSON object per partition, rates included; in a cluster a\n"
"                  line \"Topic: T  PartitionCount: N  ReplicationFactor: R\" per\n"
"                  topic, then per partition \"Topic: T  Partition: P  Leader: L\n"
"                  Replicas: 1,2,3  Isr: 1,2,3  LogStart: S  LogEnd: E  Segments:\n"
"                  N  Bytes: B  State: S\" (tab-separated, as kafka-topics\n"
"                  --describe; the log columns from the leader; -r adds\n"
"                  RecordsPerS: and BytesPerS:), and -J adds leader, leader_epoch,\n"
"                  replicas, isr\n"
"  describe -c NAME...\n"
"                  the effective configuration (-c/--config), key=value lines\n"
"  alter NAME [--partitions N] [--config key=value]...\n"
"                  add partitions (never fewer), set configuration keys\n"
"  delete NAME [--if-exists]\n"
"                  remove the topic and all its data\n"
"  compact NAME [PARTITION] [--map-entries N] [-s]\n"
"                  compact a cleanup.policy=compact topic now (every partition\n"
"                  unless PARTITION): the last record per key is kept; --map-entries\n"
"                  keys per pass (default 524288, a 16 MiB map); -s/--stats one line\n"
"                  per partition on stdout\n"
"\n"
"  -d, --dir DIR   log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT[,...]  through a kbrokerd, or any brokers of a cluster\n"
"                  (default $KLOG_BROKERS)\n"
"  -v, --verbose   routine events too (retention deleted segments)\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"Configuration keys (Kafka's names): segment.bytes, segment.ms, retention.ms,\n"
"retention.bytes, max.message.bytes, index.interval.bytes, segment.index.bytes,\n"
"cleanup.policy (delete, compact, compact,delete), delete.retention.ms,\n"
"min.cleanable.dirty.ratio, message.timestamp.type, compression.type.\n"
"Exit 0 on success, 1 on failure, 2 on a usage or configuration error (also\n"
"when the broker refuses a create or alter as INVALID, e.g. a replication\n"
"factor larger than the live brokers).\n";

static const char *dir, *brokers;

static void
check_name(const char *name)
{
	char err[KLOG_ERRLEN];

	if (klog_topic_name_check(name, err) < 0)
		klog_cmd_die(2, "%s", err);
}

static int
parse_partitions(const char *s)
{
	int64_t v;

	if (klog_parse_i64(s, &v) < 0 || v < 1 || v > INT32_MAX)
		klog_cmd_die(2, "bad partition count '%s'", s);
	return (int)v;
}

/* validate key=value settings up front: a bad one is a configuration error (2) */
static void
check_config(char **kv, int n)
{
	struct klog_config c;
	char err[KLOG_ERRLEN], key[256];
	int i;

	klog_config_defaults(&c);
	for (i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		size_t kl;
		if (!eq || eq == kv[i])
			klog_cmd_die(2, "bad config '%s': expected key=value", kv[i]);
		kl = (size_t)(eq - kv[i]);
		if (kl >= sizeof key)
			klog_cmd_die(2, "unknown topic config '%.40s...'", kv[i]);
		memcpy(key, kv[i], kl);
		key[kl] = 0;
		if (!strcmp(key, "partitions") || !strcmp(key, "replication.factor")) {
			parse_partitions(eq + 1);
			continue;
		}
		if (klog_config_set(&c, key, eq + 1, err) < 0)
			klog_cmd_die(2, "%s", err);
	}
}

/* parse a subcommand's options; returns its operands */
struct sub {
	int partitions;
	char **kv;
	int nkv;
	int if_flag;
	int config_flag;
	int nul;
	int no_header;
	int64_t map_entries;
	int stats;
	int rates;
	int json;
	int rf;                         /* create --replication-factor, 0 not given */
};

static void
add_kv(struct sub *s, char *kv)
{
	char **n = realloc(s->kv, (size_t)(s->nkv + 1) * sizeof *n);

	if (!n)
		klog_cmd_die(1, "out of memory");
	s->kv = n;
	s->kv[s->nkv++] = kv;
}

static int
sub_options(const char *cmd, int argc, char **argv, struct sub *s)
{
	static const struct option create_opts[] = {
		{ "partitions", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "if-not-exists", no_argument, NULL, 'I' },
		{ "replication-factor", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option list_opts[] = {
		{ "null", no_argument, NULL, '0' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option describe_opts[] = {
		{ "config", no_argument, NULL, 'c' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "rates", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option compact_opts[] = {
		{ "map-entries", required_argument, NULL, 'M' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option delete_opts[] = {
		{ "if-exists", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	const struct option *lo;
	const char *so;
	int c;

	memset(s, 0, sizeof *s);
	if (!strcmp(cmd, "create") || !strcmp(cmd, "alter")) {
		lo = create_opts;
		so = "p:c:h";
	} else if (!strcmp(cmd, "list")) {
		lo = list_opts;
		so = "0h";
	} else if (!strcmp(cmd, "describe")) {
		lo = describe_opts;
		so = "cHrJh";
	} else if (!strcmp(cmd, "delete")) {
		lo = delete_opts;
		so = "h";
	} else if (!strcmp(cmd, "compact")) {
		lo = compact_opts;
		so = "sh";
	} else {
		klog_cmd_error("unknown command '%s'", cmd);
		klog_cmd_usage(SYNOPSIS);
	}
	optind = 0;      /* 0: glibc starts over (argv[0] is the command) */
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			s->partitions = parse_partitions(optarg);
			break;
		case 'c':
			if (!strcmp(cmd, "describe"))
				s->config_flag = 1;
			else
				add_kv(s, optarg);
			break;
		case 'R':
			if (strcmp(cmd, "create"))
				klog_cmd_usage(SYNOPSIS);
			s->rf = parse_partitions(optarg);
			break;
		case 'I':
			if (!strcmp(cmd, "alter"))
				klog_cmd_usage(SYNOPSIS);
			s->if_flag = 1;
			break;
		case '0':
			s->nul = 1;
			break;
		case 'H':
			s->no_header = 1;
			break;
		case 'M':
			if (klog_parse_i64(optarg, &s->map_entries) < 0 || s->map_entries < 1 ||
			    s->map_entries > ((int64_t)1 << 32))
				klog_cmd_die(2, "bad --map-entries '%s'", optarg);
			break;
		case 's':
			s->stats = 1;
			break;
		case 'r':
			s->rates = 1;
			break;
		case 'J':
			s->json = 1;
			break;
		case 'h':
			fputs(help, stdout);
			exit(0);
		default:
			klog_cmd_usage(SYNOPSIS);
		}
	}
	return optind;
}

static int
cmd_create(struct klog_log *d, const char *name, struct sub *s)
{
	char err[KLOG_ERRLEN], rf[48];

	if (s->rf > 1 && !klog_log_cluster(d))
		klog_cmd_die(2, "topic '%s': replication factor %d needs a cluster (-b with brokers "
		    "started with --cluster)", name, s->rf);
	/* a standalone broker or a directory: one replica, nothing to say */
	if (s->rf > 0 && klog_log_cluster(d)) {
		snprintf(rf, sizeof rf, "replication.factor=%d", s->rf);
		add_kv(s, rf);
	}
	if (klog_log_create(d, name, s->partitions, s->kv, s->nkv, err) < 0) {
		if (errno == EEXIST && s->if_flag)
			return 0;
		klog_cmd_error("%s", err);
		return errno == EINVAL ? 2 : 1;
	}
	return 0;
}

static int
cmd_list(struct klog_log *d, struct sub *s)
{
	char err[KLOG_ERRLEN], **names;
	size_t n, i;

	if (klog_log_topics(d, &names, &n, err) < 0) {
		klog_cmd_error("%s", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		fputs(names[i], stdout);
		putchar(s->nul ? '\0' : '\n');
	}
	klog_strv_free(names, n);
	return 0;
}

static int
describe_config(struct klog_log *d, const char *name)
{
	struct klog_config c;
	struct klog_buf out = {0};
	char err[KLOG_ERRLEN];

	if (klog_log_config(d, name, &c, err) < 0) {
		klog_cmd_error("%s", err);
		return 1;
	}
	if (klog_config_format(&c, &out) < 0) {
		klog_cmd_error("topic '%s': %s", name, strerror(errno));
		return 1;
	}
	fwrite(out.data, 1, out.len, stdout);
	klog_buf_free(&out);
	return 0;
}

/* "1,2,3" ("" when empty: JSON's [] and Kafka's "Isr: ") */
static void
ids(const int *v, int n, char *buf, size_t len)
{
	size_t at = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", v[i]);
}

/* all: a topic gone since it was listed is not an error */
static int
describe(struct klog_log *d, const char *name, int all, struct sub *s)
{
	struct klog_part_info *info;
	struct klog_part_rate *rate = NULL;
	struct klog_part_replicas *rep = NULL;
	char err[KLOG_ERRLEN], rs[KLOG_MAX_REPLICAS * 12], is[KLOG_MAX_REPLICAS * 12];
	int i, n, nr = 0, nrep = 0;

	if (!klog_log_exists(d, name)) {
		if (all)
			return 0;
		klog_cmd_error("no such topic '%s'", name);
		return 1;
	}
	if (klog_log_describe(d, name, &info, &n, err) < 0 ||
	    klog_log_replicas(d, name, &rep, &nrep, err) < 0) {
		free(info);
		if (all && errno == ENOENT)
			return 0;
		klog_cmd_error("%s", err);
		return 1;
	}
	/* a partition added since: no rate for it (0) */
	if ((s->rates || s->json) && klog_log_rates(d, name, &rate, &nr, err) < 0) {
		free(info);
		free(rep);
		if (all && errno == ENOENT)
			return 0;
		klog_cmd_error("%s", err);
		return 1;
	}
	if (nrep && !s->json)
		printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\n", name, nrep,
		    rep[0].nreplicas);
	for (i = 0; i < n; i++) {
		double rr = i < nr ? rate[i].records : 0, rb = i < nr ? rate[i].bytes : 0;
		if (i < nrep) {
			ids(rep[i].replicas, rep[i].nreplicas, rs, sizeof rs);
			ids(rep[i].isr, rep[i].nisr, is, sizeof is);
		}
		if (i < nrep && s->json)
			printf("{\"topic\":\"%s\",\"partition\":%d,\"leader\":%d,\"leader_epoch\":%d,"
			    "\"replicas\":[%s],\"isr\":[%s],\"log_start\":%" PRId64 ","
			    "\"log_end\":%" PRId64 ",\"segments\":%d,\"bytes\":%" PRId64 ","
			    "\"state\":\"%s\",\"records_per_s\":%.1f,\"bytes_per_s\":%.1f}\n", name, i,
			    rep[i].leader, (int)rep[i].leader_epoch, rs, is, info[i].log_start,
			    info[i].log_end, info[i].segments, info[i].bytes, info[i].state, rr, rb);
		else if (i < nrep) {
			printf("Topic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\t"
			    "LogStart: %" PRId64 "\tLogEnd: %" PRId64 "\tSegments: %d\tBytes: %" PRId64
			    "\tState: %s", name, i, rep[i].leader, rs, is, info[i].log_start,
			    info[i].log_end, info[i].segments, info[i].bytes, info[i].state);
			if (s->rates)
				printf("\tRecordsPerS: %.1f\tBytesPerS: %.1f", rr, rb);
			putchar('\n');
		} else if (s->json)
			printf("{\"topic\":\"%s\",\"partition\":%d,\"log_start\":%" PRId64 ","
			    "\"log_end\":%" PRId64 ",\"segments\":%d,\"bytes\":%" PRId64 ","
			    "\"state\":\"%s\",\"records_per_s\":%.1f,\"bytes_per_s\":%.1f}\n", name, i,
			    info[i].log_start, info[i].log_end, info[i].segments, info[i].bytes,
			    info[i].state, rr, rb);
		else if (s->rates)
			printf("%s\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%" PRId64 "\t%s\t%.1f\t%.1f\n",
			    name, i, info[i].log_start, info[i].log_end, info[i].segments,
			    info[i].bytes, info[i].state, rr, rb);
		else
			printf("%s\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%" PRId64 "\t%s\n", name, i,
			    info[i].log_start, info[i].log_end, info[i].segments, info[i].bytes,
			    info[i].state);
	}
	free(info);
	free(rate);
	free(rep);
	return 0;
}

/* the named topics, or every topic; a header for a human (df, ps) */
static int
cmd_describe(struct klog_log *d, char **names, int nargs, struct sub *s)
{
	char err[KLOG_ERRLEN], **all = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (nargs == 0) {
		if (klog_log_topics(d, &all, &n, err) < 0) {
			klog_cmd_error("%s", err);
			return 1;
		}
		names = all;
	} else
		n = (size_t)nargs;
	if (!s->no_header && !s->json && isatty(1) && !klog_log_cluster(d))
		printf("TOPIC\tPARTITION\tLOG_START\tLOG_END\tSEGMENTS\tBYTES\tSTATE%s\n",
		    s->rates ? "\tRECORDS_PER_S\tBYTES_PER_S" : "");
	for (i = 0; i < n; i++)
		if (describe(d, names[i], all != NULL, s))
			rc = 1;
	if (all)
		klog_strv_free(all, n);
	return rc;
}

/* compact one partition or all, embedded or through a broker */
static int
cmd_compact(struct klog_log *lg, const char *name, int partition, struct sub *s)
{
	struct klog_compact_opts o = { 0 };
	struct klog_compact_stats st;
	struct klog_config cfg;
	char err[KLOG_ERRLEN];
	int i, rc = 0;

	if (klog_log_config(lg, name, &cfg, err) < 0) {
		klog_cmd_error("%s", err);
		return 1;
	}
	if (partition >= cfg.partitions) {
		klog_cmd_error("no such partition '%s-%d' (topic '%s' has %d)", name, partition, name,
		    cfg.partitions);
		return 1;
	}
	o.map_entries = s->map_entries;
	o.force = 1;
	for (i = partition < 0 ? 0 : partition; i < (partition < 0 ? cfg.partitions : partition + 1);
	    i++) {
		if (klog_log_compact(lg, name, i, &o, &st, err) < 0) {
			klog_cmd_error("%s", err);
			rc = 1;
			continue;
		}
		if (s->stats)
			printf("%s\t%d\tpasses=%d segments=%d read=%" PRId64 " written=%" PRId64
			    " records=%" PRId64 " removed=%" PRId64 " tombstones_removed=%" PRId64 "\n",
			    name, i, st.passes, st.segments, st.bytes_read, st.bytes_written,
			    st.records_read, st.records_removed, st.tombstones_removed);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_log *d;
	struct sub s;
	const char *cmd;
	char err[KLOG_ERRLEN];
	int c, rc = 0, i, nargs;

	klog_cmd_init("ktopic");
	while ((c = getopt_long(argc, argv, "+d:b:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'v':
			klog_cmd_verbose(1);
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
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	i = sub_options(cmd, argc, argv, &s);
	argc -= i;
	argv += i;
	nargs = argc;

	if (!strcmp(cmd, "list")) {
		if (nargs != 0)
			klog_cmd_usage(SYNOPSIS);
		d = klog_cmd_open_log(dir, brokers, 0);
		rc = cmd_list(d, &s);
	} else if (!strcmp(cmd, "describe")) {
		if (s.config_flag && (nargs < 1 || s.no_header || s.rates || s.json))
			klog_cmd_usage(SYNOPSIS);
		if (s.rates && s.json)
			klog_cmd_usage(SYNOPSIS);
		for (i = 0; i < nargs; i++)
			check_name(argv[i]);
		d = klog_cmd_open_log(dir, brokers, 0);
		if (s.config_flag) {
			for (i = 0; i < nargs; i++)
				if (describe_config(d, argv[i]))
					rc = 1;
		} else
			rc = cmd_describe(d, argv, nargs, &s);
	} else if (!strcmp(cmd, "compact")) {
		int64_t part = -1;
		if (nargs < 1 || nargs > 2)
			klog_cmd_usage(SYNOPSIS);
		check_name(argv[0]);
		if (nargs == 2 && (klog_parse_i64(argv[1], &part) < 0 || part < 0 || part > INT32_MAX))
			klog_cmd_die(2, "bad partition '%s'", argv[1]);
		d = klog_cmd_open_log(dir, brokers, 0);
		rc = cmd_compact(d, argv[0], (int)part, &s);
	} else {
		if (nargs != 1)
			klog_cmd_usage(SYNOPSIS);
		check_name(argv[0]);
		check_config(s.kv, s.nkv);
		if (!strcmp(cmd, "create")) {
			d = klog_cmd_open_log(dir, brokers, KLOG_CREATE);
			rc = cmd_create(d, argv[0], &s);
		} else if (!strcmp(cmd, "alter")) {
			d = klog_cmd_open_log(dir, brokers, 0);
			if (klog_log_alter(d, argv[0], s.partitions, s.kv, s.nkv, err) < 0) {
				klog_cmd_error("%s", err);
				rc = 1;
			}
		} else {
			d = klog_cmd_open_log(dir, brokers, 0);
			if (klog_log_delete(d, argv[0], err) < 0 && !(errno == ENOENT && s.if_flag)) {
				klog_cmd_error("%s", err);
				rc = 1;
			}
		}
	}
	free(s.kv);
	klog_log_close(d);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			klog_cmd_error("cannot write output: %s", strerror(errno));
		rc = rc ? rc : 1;
	}
	return rc;
}
