/* klog - kgroup: list, describe, reset and delete consumer groups. MIT licence. */
/*
 * A thin main over klog_group_list/describe/set_offsets/delete, which work
 * on a log directory (embedded) or through a kbrokerd (remote) alike.  The
 * only logic of its own is `reset`: which partitions, what offset each
 * gets (clamped to the log), printed as a plan and applied only with
 * --execute.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"

#define SYNOPSIS \
	"kgroup [-d DIR | -b HOST:PORT] list [-0 | -J]\n" \
	"       kgroup [-d DIR | -b HOST:PORT] describe [-H] [-J] [--state | --members] [GROUP...]\n" \
	"       kgroup [-d DIR | -b HOST:PORT] reset GROUP [--topic TOPIC[:PARTITION]]...\n" \
	"              (--to-earliest | --to-latest | --to-offset N | --shift-by N |\n" \
	"               --to-datetime TS) [--execute] [-H] [-J]\n" \
	"       kgroup [-d DIR | -b HOST:PORT] delete GROUP... [--if-exists]"

static const char help[] =
"usage: kgroup [-d DIR | -b HOST:PORT] COMMAND ...\n"
"Manage the consumer groups of a klog log directory or broker.\n"
"\n"
"  list [-0 | -J]  group names, sorted, one per line (NUL-terminated with -0)\n"
"  describe [-H] [-J] [--state | --members] [GROUP...]\n"
"                  one line per partition of the groups named (of every group\n"
"                  without names): GROUP TOPIC PARTITION COMMITTED LOG_END LAG\n"
"                  OWNER HOST PID, tab-separated, - for none; a header line\n"
"                  first when stdout is a terminal, never with -H/--no-header;\n"
"                  --state: GROUP STATE GENERATION STRATEGY MEMBERS per group;\n"
"                  --members: GROUP MEMBER INSTANCE CLIENT HOST PID ASSIGNMENT\n"
"                  per member; -J: one JSON object per group with all of it\n"
"  reset GROUP [--topic TOPIC[:PARTITION]]... SPEC [--execute]\n"
"                  plan new committed offsets: GROUP TOPIC PARTITION CURRENT NEW\n"
"                  NOTE per partition; --execute applies the plan (refused while\n"
"                  the group has live members).  --topic may be repeated; without\n"
"                  it, the partitions the group has commits for.  SPEC is one of\n"
"                    --to-earliest      the log start\n"
"                    --to-latest        the log end\n"
"                    --to-offset N      offset N\n"
"                    --shift-by N       the committed offset plus N (N may be < 0)\n"
"                    --to-datetime TS   the first record at or after TS:\n"
"                                       YYYY-MM-DDTHH:MM:SS[.mmm][Z|+hh:mm|-hh:mm]\n"
"                                       (local time without a zone) or epoch ms\n"
"                  new offsets are clamped to [log start, log end] (NOTE says so)\n"
"  delete GROUP... [--if-exists]\n"
"                  remove the groups' committed offsets (refused while live)\n"
"\n"
"  -d, --dir DIR   log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT  through a kbrokerd (default $KLOG_BROKERS)\n"
"  -J, --json      JSON lines instead of tab-separated text\n"
"  -H, --no-header no header line, even on a terminal\n"
"  -q, --quiet     no warnings\n"
"  -v, --verbose   routine events too\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"Exit 0 on success, 1 on failure (unknown group or topic, a group with live\n"
"members, an unreachable broker), 2 on a usage error (bad option, bad group or\n"
"topic name, bad offset or date).\n";

enum { RESET_NONE, RESET_EARLIEST, RESET_LATEST, RESET_OFFSET, RESET_SHIFT, RESET_TIME };
enum { VIEW_PARTS, VIEW_STATE, VIEW_MEMBERS };

struct opts {
	int json, no_header, nul, if_exists, execute, view;
	int spec;
	int64_t arg;                    /* offset, shift or timestamp (ms) */
	char **topics;                  /* --topic values */
	size_t ntopics;
};

/* one partition of a reset plan */
struct target {
	char *topic;
	int partition;
	int64_t current;                /* -1 no commit */
	int64_t log_start, log_end;
	int64_t want, next;             /* asked for, after clamping */
};

static const char *dir, *brokers;
static int quiet;

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		klog_cmd_die(1, "out of memory");
	return p;
}

static void
check_group(const char *name)
{
	char err[KLOG_ERRLEN];

	if (klog_group_name_check(name, err) < 0)
		klog_cmd_die(2, "%s", err);
}

/* a JSON string (names are restricted; member and client ids are not) */
static void
json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

static void
json_str_or_null(const char *s)
{
	if (s)
		json_str(s);
	else
		fputs("null", stdout);
}

static void
json_i64_or_null(int64_t v)
{
	if (v < 0)
		fputs("null", stdout);
	else
		printf("%" PRId64, v);
}

static const char *
dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "-" for -1 (none), else the number, in buf */
static const char *
num_or_dash(char *buf, size_t n, int64_t v)
{
	if (v < 0)
		return "-";
	snprintf(buf, n, "%" PRId64, v);
	return buf;
}

/*
 * --to-datetime: epoch milliseconds (digits only), or ISO-8601
 * YYYY-MM-DDTHH:MM:SS[.fraction][Z|+hh:mm|-hh:mm|+hhmm|+hh], local time
 * when no zone is given (as Kafka's tool does).  -1 on junk.
 */
static int
digits(const char **s, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	*out = v;
	return 0;
}

static int
parse_datetime(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	int y, mo, d, h, mi, sec, frac = 0, fdig = 0, zone = 0, zs = 1, zh = 0, zm = 0;
	int leap;
	time_t t;

	if (*s && strspn(s, "0123456789") == strlen(s))
		return klog_parse_i64(s, ms) < 0 ? -1 : 0;
	if (digits(&s, 4, &y) < 0 || *s++ != '-' || digits(&s, 2, &mo) < 0 || *s++ != '-' ||
	    digits(&s, 2, &d) < 0 || (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if (digits(&s, 2, &h) < 0 || *s++ != ':' || digits(&s, 2, &mi) < 0 || *s++ != ':' ||
	    digits(&s, 2, &sec) < 0)
		return -1;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (fdig < 3)
				frac = frac * 10 + (*s - '0');
			fdig++;
			s++;
		}
		if (fdig == 0 || fdig > 9)
			return -1;
		for (int i = fdig; i < 3; i++)
			frac *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		zone = 1;
		s++;
	} else if (*s == '+' || *s == '-') {
		zone = 1;
		zs = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &zh) < 0)
			return -1;
		if (*s == ':')
			s++;
		if (*s && digits(&s, 2, &zm) < 0)
			return -1;
		if (zh > 23 || zm > 59)
			return -1;
	}
	if (*s)
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (zone) {
		t = timegm(&tm);
		t -= (time_t)zs * (zh * 3600 + zm * 60);
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t < 0)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

static void
set_spec(struct opts *o, int spec)
{
	if (o->spec != RESET_NONE && o->spec != spec) {
		klog_cmd_error("reset: give one of --to-earliest, --to-latest, --to-offset, "
		    "--shift-by, --to-datetime");
		klog_cmd_usage(SYNOPSIS);
	}
	o->spec = spec;
}

static void
add_topic(struct opts *o, char *t)
{
	char **n = realloc(o->topics, (o->ntopics + 1) * sizeof *n);

	if (!n)
		klog_cmd_die(1, "out of memory");
	o->topics = n;
	o->topics[o->ntopics++] = t;
}

enum {
	OPT_STATE = 256, OPT_MEMBERS, OPT_IF_EXISTS, OPT_EXECUTE, OPT_DRY_RUN, OPT_TOPIC,
	OPT_EARLIEST, OPT_LATEST, OPT_OFFSET, OPT_SHIFT, OPT_DATETIME
};

/* a subcommand's options (argv[0] is the command); returns optind */
static int
sub_options(const char *cmd, int argc, char **argv, struct opts *o)
{
	static const struct option list_opts[] = {
		{ "null", no_argument, NULL, '0' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option describe_opts[] = {
		{ "no-header", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'J' },
		{ "state", no_argument, NULL, OPT_STATE },
		{ "members", no_argument, NULL, OPT_MEMBERS },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option reset_opts[] = {
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "to-earliest", no_argument, NULL, OPT_EARLIEST },
		{ "to-latest", no_argument, NULL, OPT_LATEST },
		{ "to-offset", required_argument, NULL, OPT_OFFSET },
		{ "shift-by", required_argument, NULL, OPT_SHIFT },
		{ "to-datetime", required_argument, NULL, OPT_DATETIME },
		{ "execute", no_argument, NULL, OPT_EXECUTE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "no-header", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	static const struct option delete_opts[] = {
		{ "if-exists", no_argument, NULL, OPT_IF_EXISTS },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 }
	};
	const struct option *lo;
	const char *so;
	int c, dry_run = 0;

	if (!strcmp(cmd, "list")) {
		lo = list_opts;
		so = "0Jh";
	} else if (!strcmp(cmd, "describe")) {
		lo = describe_opts;
		so = "HJh";
	} else if (!strcmp(cmd, "reset")) {
		lo = reset_opts;
		so = "HJh";
	} else if (!strcmp(cmd, "delete")) {
		lo = delete_opts;
		so = "h";
	} else {
		klog_cmd_error("unknown command '%s'", cmd);
		klog_cmd_usage(SYNOPSIS);
	}
	optind = 0;      /* 0: glibc starts over (argv[0] is the command) */
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (c) {
		case '0':
			o->nul = 1;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'H':
			o->no_header = 1;
			break;
		case OPT_STATE:
		case OPT_MEMBERS:
			if (o->view != VIEW_PARTS) {
				klog_cmd_error("describe: --state and --members do not go together");
				klog_cmd_usage(SYNOPSIS);
			}
			o->view = c == OPT_STATE ? VIEW_STATE : VIEW_MEMBERS;
			break;
		case OPT_IF_EXISTS:
			o->if_exists = 1;
			break;
		case OPT_EXECUTE:
			o->execute = 1;
			break;
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case OPT_TOPIC:
			add_topic(o, optarg);
			break;
		case OPT_EARLIEST:
			set_spec(o, RESET_EARLIEST);
			break;
		case OPT_LATEST:
			set_spec(o, RESET_LATEST);
			break;
		case OPT_OFFSET:
			set_spec(o, RESET_OFFSET);
			if (klog_parse_i64(optarg, &o->arg) < 0 || o->arg < 0)
				klog_cmd_die(2, "bad offset '%s': expected a number >= 0", optarg);
			break;
		case OPT_SHIFT:
			set_spec(o, RESET_SHIFT);
			if (klog_parse_i64(optarg, &o->arg) < 0)
				klog_cmd_die(2, "bad shift '%s': expected a number", optarg);
			break;
		case OPT_DATETIME:
			set_spec(o, RESET_TIME);
			if (parse_datetime(optarg, &o->arg) < 0)
				klog_cmd_die(2, "bad date and time '%s': expected "
				    "YYYY-MM-DDTHH:MM:SS[.mmm][Z|+hh:mm] or epoch milliseconds", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			exit(0);
		default:
			klog_cmd_usage(SYNOPSIS);
		}
	}
	if (dry_run && o->execute) {
		klog_cmd_error("reset: --dry-run and --execute do not go together");
		klog_cmd_usage(SYNOPSIS);
	}
	if (o->nul && o->json) {
		klog_cmd_error("list: -0 and -J do not go together");
		klog_cmd_usage(SYNOPSIS);
	}
	return optind;
}

/* --- list ------------------------------------------------------------- */

static int
cmd_list(struct klog_log *lg, struct opts *o)
{
	char err[KLOG_ERRLEN], **names;
	size_t n, i;

	if (klog_group_list(lg, &names, &n, err) < 0) {
		klog_cmd_error("%s", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (o->json) {
			fputs("{\"group\":", stdout);
			json_str(names[i]);
			fputs("}\n", stdout);
		} else {
			fputs(names[i], stdout);
			putchar(o->nul ? '\0' : '\n');
		}
	}
	klog_strv_free(names, n);
	return 0;
}

/* --- describe ---------------------------------------------------------- */

static void
describe_json(const char *group, const struct klog_group_info *gi)
{
	size_t i;

	fputs("{\"group\":", stdout);
	json_str(group);
	fputs(",\"state\":", stdout);
	json_str(gi->state);
	printf(",\"generation\":%" PRId32 ",\"strategy\":", gi->generation);
	json_str_or_null(gi->strategy[0] ? gi->strategy : NULL);
	fputs(",\"members\":[", stdout);
	for (i = 0; i < gi->nmembers; i++) {
		const struct klog_gmember_info *m = &gi->members[i];

		fputs(i ? ",{\"member_id\":" : "{\"member_id\":", stdout);
		json_str_or_null(m->member_id);
		fputs(",\"instance_id\":", stdout);
		json_str_or_null(m->instance_id);
		fputs(",\"client_id\":", stdout);
		json_str_or_null(m->client_id);
		fputs(",\"host\":", stdout);
		json_str_or_null(m->host);
		fputs(",\"pid\":", stdout);
		json_i64_or_null(m->pid > 0 ? m->pid : -1);
		putchar('}');
	}
	fputs("],\"partitions\":[", stdout);
	for (i = 0; i < gi->nparts; i++) {
		const struct klog_gpart_info *p = &gi->parts[i];

		fputs(i ? ",{\"topic\":" : "{\"topic\":", stdout);
		json_str(p->topic);
		printf(",\"partition\":%d,\"committed\":", p->partition);
		json_i64_or_null(p->committed);
		printf(",\"log_end\":%" PRId64 ",\"lag\":%" PRId64 ",\"owner\":", p->log_end,
		    p->lag);
		json_str_or_null(p->owner >= 0 && (size_t)p->owner < gi->nmembers ?
		    gi->members[p->owner].member_id : NULL);
		putchar('}');
	}
	fputs("]}\n", stdout);
}

static void
describe_text(const char *group, const struct klog_group_info *gi, int view)
{
	char b1[24], b2[24];
	size_t i, j;

	if (view == VIEW_STATE) {
		printf("%s\t%s\t%" PRId32 "\t%s\t%zu\n", group, dash(gi->state), gi->generation,
		    dash(gi->strategy), gi->nmembers);
		return;
	}
	if (view == VIEW_MEMBERS) {
		for (i = 0; i < gi->nmembers; i++) {
			const struct klog_gmember_info *m = &gi->members[i];
			int first = 1;

			printf("%s\t%s\t%s\t%s\t%s\t%s\t", group, dash(m->member_id),
			    dash(m->instance_id), dash(m->client_id), dash(m->host),
			    num_or_dash(b1, sizeof b1, m->pid > 0 ? m->pid : -1));
			for (j = 0; j < gi->nparts; j++) {
				if (gi->parts[j].owner != (int)i)
					continue;
				printf("%s%s:%d", first ? "" : ",", gi->parts[j].topic,
				    gi->parts[j].partition);
				first = 0;
			}
			fputs(first ? "-\n" : "\n", stdout);
		}
		return;
	}
	for (i = 0; i < gi->nparts; i++) {
		const struct klog_gpart_info *p = &gi->parts[i];
		const struct klog_gmember_info *m = p->owner >= 0 &&
		    (size_t)p->owner < gi->nmembers ? &gi->members[p->owner] : NULL;

		printf("%s\t%s\t%d\t%s\t%" PRId64 "\t%" PRId64 "\t%s\t%s\t%s\n", group, p->topic,
		    p->partition, num_or_dash(b1, sizeof b1, p->committed), p->log_end, p->lag,
		    dash(m ? m->member_id : NULL), dash(m ? m->host : NULL),
		    num_or_dash(b2, sizeof b2, m && m->pid > 0 ? m->pid : -1));
	}
}

/* all: a group gone since it was listed is not an error */
static int
describe(struct klog_log *lg, const char *group, struct opts *o, int all)
{
	struct klog_group_info gi;
	char err[KLOG_ERRLEN];

	if (klog_group_describe(lg, group, &gi, err) < 0) {
		if (all && errno == ENOENT)
			return 0;
		klog_cmd_error("%s", err);
		return 1;
	}
	if (o->json)
		describe_json(group, &gi);
	else
		describe_text(group, &gi, o->view);
	klog_group_info_free(&gi);
	return 0;
}

static int
cmd_describe(struct klog_log *lg, char **names, int nargs, struct opts *o)
{
	static const char *const header[] = {
		"GROUP\tTOPIC\tPARTITION\tCOMMITTED\tLOG_END\tLAG\tOWNER\tHOST\tPID\n",
		"GROUP\tSTATE\tGENERATION\tSTRATEGY\tMEMBERS\n",
		"GROUP\tMEMBER\tINSTANCE\tCLIENT\tHOST\tPID\tASSIGNMENT\n",
	};
	char err[KLOG_ERRLEN], **all = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (nargs == 0) {
		if (klog_group_list(lg, &all, &n, err) < 0) {
			klog_cmd_error("%s", err);
			return 1;
		}
		names = all;
	} else
		n = (size_t)nargs;
	if (!o->json && !o->no_header && isatty(1))
		fputs(header[o->view], stdout);
	for (i = 0; i < n; i++)
		if (describe(lg, names[i], o, all != NULL))
			rc = 1;
	if (all)
		klog_strv_free(all, n);
	return rc;
}

/* --- reset ------------------------------------------------------------- */

static int
target_cmp(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

struct plan {
	struct target *t;
	size_t n, cap;
};

static void
plan_add(struct plan *pl, const char *topic, int partition)
{
	struct target *t;

	for (size_t i = 0; i < pl->n; i++)
		if (pl->t[i].partition == partition && !strcmp(pl->t[i].topic, topic))
			return;
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		struct target *nt = realloc(pl->t, cap * sizeof *nt);

		if (!nt)
			klog_cmd_die(1, "out of memory");
		pl->t = nt;
		pl->cap = cap;
	}
	t = &pl->t[pl->n++];
	memset(t, 0, sizeof *t);
	if (!(t->topic = strdup(topic)))
		klog_cmd_die(1, "out of memory");
	t->partition = partition;
	t->current = -1;
}

static void
plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->t[i].topic);
	free(pl->t);
}

/* TOPIC or TOPIC:PARTITION (-1: every partition); a bad one exits 2 */
static char *
split_topic(const char *arg, int *partition)
{
	const char *colon = strrchr(arg, ':');
	char err[KLOG_ERRLEN], *topic;
	int64_t p;

	*partition = -1;
	if (!(topic = strdup(arg)))
		klog_cmd_die(1, "out of memory");
	if (colon) {
		topic[colon - arg] = 0;
		if (klog_parse_i64(colon + 1, &p) < 0 || p < 0 || p > INT32_MAX)
			klog_cmd_die(2, "bad partition in '%s': expected TOPIC:PARTITION", arg);
		*partition = (int)p;
	}
	if (klog_topic_name_check(topic, err) < 0)
		klog_cmd_die(2, "%s", err);
	return topic;
}

/* the partitions of the topics named (every partition, or the one given) */
static int
plan_named(struct klog_log *lg, struct opts *o, struct plan *pl)
{
	struct klog_part_info *info;
	char err[KLOG_ERRLEN];
	int n, part;

	for (size_t i = 0; i < o->ntopics; i++) {
		char *topic = split_topic(o->topics[i], &part);

		if (!klog_log_exists(lg, topic)) {
			klog_cmd_error("no such topic '%s'", topic);
			free(topic);
			return 1;
		}
		if (klog_log_describe(lg, topic, &info, &n, err) < 0) {
			klog_cmd_error("%s", err);
			free(topic);
			return 1;
		}
		free(info);
		if (part >= n) {
			klog_cmd_error("no such partition '%s-%d' (topic '%s' has %d)", topic, part,
			    topic, n);
			free(topic);
			return 1;
		}
		for (int p = 0; p < n; p++)
			if (part < 0 || p == part)
				plan_add(pl, topic, p);
		free(topic);
	}
	return 0;
}

/* sorted; the current commits and the log's bounds of each partition */
static int
plan_fill(struct klog_log *lg, const struct klog_group_info *gi, struct plan *pl)
{
	struct klog_part_info *info = NULL;
	char err[KLOG_ERRLEN];
	int n = 0, rc = 1;

	qsort(pl->t, pl->n, sizeof *pl->t, target_cmp);
	for (size_t i = 0; i < pl->n; i++) {
		struct target *t = &pl->t[i];

		for (size_t j = 0; j < gi->nparts; j++)
			if (gi->parts[j].partition == t->partition &&
			    !strcmp(gi->parts[j].topic, t->topic))
				t->current = gi->parts[j].committed;
		if (i == 0 || strcmp(t->topic, pl->t[i - 1].topic)) {
			free(info);
			info = NULL;
			if (klog_log_describe(lg, t->topic, &info, &n, err) < 0) {
				klog_cmd_error("%s", err);
				goto out;
			}
		}
		/* a commit for a partition the topic no longer has */
		if (t->partition >= n) {
			klog_cmd_error("no such partition '%s-%d' (topic '%s' has %d)", t->topic,
			    t->partition, t->topic, n);
			goto out;
		}
		t->log_start = info[t->partition].log_start;
		t->log_end = info[t->partition].log_end;
	}
	rc = 0;
out:
	free(info);
	return rc;
}

/* the new offset of each partition, clamped to the log */
static int
plan_offsets(struct klog_log *lg, const char *group, struct opts *o, struct plan *pl)
{
	char err[KLOG_ERRLEN];

	for (size_t i = 0; i < pl->n; i++) {
		struct target *t = &pl->t[i];
		struct klog_lpart *lp;

		switch (o->spec) {
		case RESET_EARLIEST:
			t->want = t->log_start;
			break;
		case RESET_LATEST:
			t->want = t->log_end;
			break;
		case RESET_OFFSET:
			t->want = o->arg;
			break;
		case RESET_SHIFT:
			if (t->current < 0) {
				klog_cmd_error("group '%s' has no committed offset for '%s-%d' to shift",
				    group, t->topic, t->partition);
				return 1;
			}
			if ((o->arg > 0 && t->current > INT64_MAX - o->arg))
				t->want = INT64_MAX;
			else
				t->want = t->current + o->arg;
			break;
		case RESET_TIME:
			if (!(lp = klog_lpart_open(lg, t->topic, t->partition, 0, err))) {
				klog_cmd_error("%s", err);
				return 1;
			}
			if (klog_lpart_offset_for_time(lp, o->arg, &t->want, err) < 0) {
				klog_cmd_error("%s", err);
				klog_lpart_close(lp);
				return 1;
			}
			klog_lpart_close(lp);
			break;
		}
		t->next = t->want;
		if (t->next < t->log_start)
			t->next = t->log_start;
		if (t->next > t->log_end)
			t->next = t->log_end;
	}
	return 0;
}

static const char *
clamp_note(const struct target *t, int json)
{
	if (t->want < t->log_start)
		return json ? "log_start" : "clamped to log start";
	if (t->want > t->log_end)
		return json ? "log_end" : "clamped to log end";
	return NULL;
}

static void
plan_print(const char *group, const struct plan *pl, struct opts *o)
{
	char b[24];

	if (!o->json && !o->no_header && isatty(1))
		fputs("GROUP\tTOPIC\tPARTITION\tCURRENT\tNEW\tNOTE\n", stdout);
	for (size_t i = 0; i < pl->n; i++) {
		const struct target *t = &pl->t[i];

		if (o->json) {
			fputs("{\"group\":", stdout);
			json_str(group);
			fputs(",\"topic\":", stdout);
			json_str(t->topic);
			printf(",\"partition\":%d,\"current\":", t->partition);
			json_i64_or_null(t->current);
			printf(",\"new\":%" PRId64 ",\"log_start\":%" PRId64 ",\"log_end\":%" PRId64
			    ",\"clamped\":", t->next, t->log_start, t->log_end);
			json_str_or_null(clamp_note(t, 1));
			printf(",\"executed\":%s}\n", o->execute ? "true" : "false");
		} else
			printf("%s\t%s\t%d\t%s\t%" PRId64 "\t%s\n", group, t->topic, t->partition,
			    num_or_dash(b, sizeof b, t->current), t->next, dash(clamp_note(t, 0)));
	}
}

/* a dry run of a group with members: what --execute would say */
static void
warn_live(const char *group, const struct klog_group_info *gi)
{
	char names[512];
	size_t i, len = 0;

	names[0] = 0;
	for (i = 0; i < gi->nmembers && len + 8 < sizeof names; i++) {
		int w = snprintf(names + len, sizeof names - len, "%s'%s'", i ? ", " : "",
		    dash(gi->members[i].member_id));

		if (w < 0 || (size_t)w >= sizeof names - len) {
			snprintf(names + len, sizeof names - len, ", ...");
			break;
		}
		len += (size_t)w;
	}
	klog_cmd_warn("group '%s' has live members (%s): --execute is refused until they leave",
	    group, names);
}

static int
cmd_reset(struct klog_log *lg, const char *group, struct opts *o)
{
	struct klog_group_info gi;
	struct klog_gcommit *c = NULL;
	struct plan pl = {0};
	char err[KLOG_ERRLEN];
	int rc = 1;
	int64_t now = klog_now_ms();

	memset(&gi, 0, sizeof gi);
	if (plan_named(lg, o, &pl))
		goto out;
	if (klog_group_describe(lg, group, &gi, err) < 0) {
		/* a new group gets its first commits from a reset of named topics */
		if (errno != ENOENT || o->ntopics == 0) {
			klog_cmd_error("%s", err);
			goto out;
		}
	}
	if (o->ntopics == 0) {
		/* no topic named: the partitions the group has commits for */
		for (size_t i = 0; i < gi.nparts; i++)
			if (gi.parts[i].committed >= 0)
				plan_add(&pl, gi.parts[i].topic, gi.parts[i].partition);
		if (pl.n == 0) {
			klog_cmd_error("group '%s' has no committed offsets: name the topics with "
			    "--topic", group);
			goto out;
		}
	}
	if (plan_fill(lg, &gi, &pl) || plan_offsets(lg, group, o, &pl))
		goto out;
	if (!o->execute) {
		plan_print(group, &pl, o);
		if (gi.nmembers > 0)
			warn_live(group, &gi);
		if (!quiet)
			klog_cmd_error("plan only, nothing changed: add --execute to apply it");
		rc = 0;
		goto out;
	}
	c = xcalloc(pl.n, sizeof *c);
	for (size_t i = 0; i < pl.n; i++) {
		c[i].topic = pl.t[i].topic;
		c[i].partition = pl.t[i].partition;
		c[i].offset = pl.t[i].next;
		c[i].commit_ts = now;
	}
	if (klog_group_set_offsets(lg, group, c, pl.n, err) < 0) {
		klog_cmd_error("%s", err);
		goto out;
	}
	plan_print(group, &pl, o);
	rc = 0;
out:
	free(c);
	plan_free(&pl);
	klog_group_info_free(&gi);
	return rc;
}

/* --- main -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_log *lg;
	struct opts o;
	const char *cmd;
	char err[KLOG_ERRLEN];
	int c, rc = 0, i, nargs;

	klog_cmd_init("kgroup");
	memset(&o, 0, sizeof o);
	while ((c = getopt_long(argc, argv, "+d:b:JHqvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'J':
			o.json = 1;
			break;
		case 'H':
			o.no_header = 1;
			break;
		case 'q':
			quiet = 1;
			klog_cmd_quiet(1);
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
	i = sub_options(cmd, argc, argv, &o);
	argc -= i;
	argv += i;
	nargs = argc;

	if (!strcmp(cmd, "list")) {
		if (nargs != 0)
			klog_cmd_usage(SYNOPSIS);
		lg = klog_cmd_open_log(dir, brokers, 0);
		rc = cmd_list(lg, &o);
	} else if (!strcmp(cmd, "describe")) {
		for (i = 0; i < nargs; i++)
			check_group(argv[i]);
		lg = klog_cmd_open_log(dir, brokers, 0);
		rc = cmd_describe(lg, argv, nargs, &o);
	} else if (!strcmp(cmd, "reset")) {
		if (nargs != 1)
			klog_cmd_usage(SYNOPSIS);
		if (o.spec == RESET_NONE) {
			klog_cmd_error("reset: give one of --to-earliest, --to-latest, --to-offset, "
			    "--shift-by, --to-datetime");
			klog_cmd_usage(SYNOPSIS);
		}
		check_group(argv[0]);
		/* bad topic arguments are usage errors, before anything is opened */
		for (size_t t = 0; t < o.ntopics; t++) {
			int part;

			free(split_topic(o.topics[t], &part));
		}
		lg = klog_cmd_open_log(dir, brokers, 0);
		rc = cmd_reset(lg, argv[0], &o);
	} else {
		if (nargs < 1)
			klog_cmd_usage(SYNOPSIS);
		for (i = 0; i < nargs; i++)
			check_group(argv[i]);
		lg = klog_cmd_open_log(dir, brokers, 0);
		for (i = 0; i < nargs; i++)
			if (klog_group_delete(lg, argv[i], err) < 0 &&
			    !(errno == ENOENT && o.if_exists)) {
				klog_cmd_error("%s", err);
				rc = 1;
			}
	}
	free(o.topics);
	klog_log_close(lg);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			klog_cmd_error("cannot write output: %s", strerror(errno));
		rc = rc ? rc : 1;
	}
	return rc;
}
