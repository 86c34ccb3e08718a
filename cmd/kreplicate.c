/* klog - kreplicate: keep a copy of topics from a broker or a live log directory. MIT licence. */
/*
 * Two sources, two kinds of destination, one event loop:
 *
 *   source -b BROKERS   a follower that is not in any ISR (node -1, an
 *                       observer): per partition one fetcher (fetcher.c) on
 *                       the partition's leader, found with METADATA (a
 *                       broker without METADATA: the one answering leads
 *                       everything); served up to the high watermark
 *   source -s SRCDIR    a live log directory read with klog_part_read:
 *                       whole, CRC-checked batches only, never past what its
 *                       writer completed; woken by inotify
 *
 *   copy (-d DIR)       the same batches at the same offsets
 *                       (klog_part_append_raw): DIR's segments are
 *                       byte-identical to the source's for the same range;
 *                       resumable from its own log end after any kill
 *   mirror (--mirror, -d DIR or -B BROKERS)
 *                       new offsets at the destination (a plain append or
 *                       PRODUCE), each batch's offsets recorded in the
 *                       --offset-map file: "TOPIC PARTITION SRC_BASE
 *                       DST_BASE COUNT" (COUNT offsets from SRC_BASE map to
 *                       as many from DST_BASE), appended and synced after
 *                       the destination holds the batch; read at start to
 *                       resume after the last batch mapped (a crash between
 *                       the two copies that batch again: at least once)
 *
 * Nothing here decides what a replica keeps: fetcher.c (truncation by leader
 * epochs, resets, divergence) and partition-repl.c (verbatim appends) do,
 * as for the brokers' own followers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"
#include "kserver.h"
#include "cluster.h"

#define SYNOPSIS "kreplicate (-b BROKERS | -s SRCDIR) (-d DIR | --mirror (-d DIR | -B BROKERS) " \
	"--offset-map FILE) [-e] [-q] [-v] [TOPIC...]"

static const char help[] =
"usage: kreplicate (-b BROKERS | -s SRCDIR) -d DIR [options] [TOPIC...]\n"
"       kreplicate (-b BROKERS | -s SRCDIR) --mirror (-d DIR | -B BROKERS)\n"
"                  --offset-map FILE [options] [TOPIC...]\n"
"Copy topics (all when none is named) from a broker or cluster, or from a live\n"
"log directory, and follow new records until SIGTERM or SIGINT.\n"
"\n"
"  -b, --brokers BROKERS  the source: any brokers of a cluster (HOST:PORT,...);\n"
"                         copies what the leaders have under their high watermark\n"
"  -s, --source SRCDIR    the source: a log directory, read while its writers run\n"
"  -d, --dir DIR          the destination log directory (created); without\n"
"                         --mirror a copy with the same offsets, byte for byte\n"
"  -m, --mirror           new offsets at the destination, recorded in the map\n"
"  -B, --to-brokers BROKERS\n"
"                         mirror into a broker or cluster (implies --mirror)\n"
"      --offset-map FILE  mirror: one line per batch copied,\n"
"                         \"TOPIC PARTITION SRC_BASE DST_BASE COUNT\"; read at\n"
"                         start to resume\n"
"  -e, --once             stop once caught up\n"
"      --max-bytes N      per fetch or read (default 1048576)\n"
"  -q, --quiet            no warnings, no progress\n"
"  -v, --verbose          every event (reconnects, leader changes) on stderr\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"On a terminal a progress line shows records/s and the lag of each partition.\n"
"Exit 0 when stopped by a signal or caught up (-e), 1 when a partition failed,\n"
"2 on a usage error.\n";

struct job {
	char *topic;
	int part;
	char name[300];                 /* "topic-N" */
	/* -b */
	struct klog_fetcher *f;
	char leader[KC_ADDR_MAX];
	int32_t epoch;
	/* -s */
	struct klog_part *sp;
	int wfd;
	int64_t src_end;                /* the source's log end, last seen */
	int64_t bad_since;              /* a read failing since (ms), 0 none */
	/* copy */
	struct klog_part *dp;
	int dirty;
	/* mirror */
	struct klog_lpart *dl;
	int64_t next;                   /* the next source offset */
	int64_t hw;                     /* the source's HW / end, last seen; -1 unknown */
	int caught, failed;
	int mapped;                     /* mirror: the map had a line for it */
	int64_t records, bytes;
	struct klog_buf buf;
};

static struct {
	struct klog_loop *loop;
	const char *brokers, *srcdir, *dir, *dbrokers, *mapfile, *secret;
	int mirror, once, quiet, verbose;
	size_t max_bytes;
	char **want;                    /* topics named, or NULL: all */
	int nwant;
	struct klog_dir *sd, *dd;
	struct klog_log *dlog;
	int mapfd;
	struct job **jobs;
	size_t njobs;
	int failed, stopping;
	/* metadata (-b) */
	struct klog_lc *meta;
	int meta_cur;                   /* which of the brokers */
	int meta_busy, meta_ok, standalone;
	int starting;                   /* the first metadata: calls may wait */
	int64_t meta_timer, meta_due;   /* the refresh timer and when it fires */
	int progress;
	int64_t pg_last_ms, pg_last_records;
	double pg_rate;
} R;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
say(int warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(int warn, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (R.quiet && warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	klog_cmd_progress_clear();
	if (warn)
		klog_cmd_warn("%s", msg);
	else
		klog_cmd_error("%s", msg);
}

static int
errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
errf(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, KLOG_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

static int
wanted(const char *topic)
{
	if (!R.nwant)
		return !(R.mirror && !strncmp(topic, "__", 2));    /* internal topics: named only */
	for (int i = 0; i < R.nwant; i++)
		if (!strcmp(R.want[i], topic))
			return 1;
	return 0;
}

static struct job *
job_find(const char *topic, int part)
{
	for (size_t i = 0; i < R.njobs; i++)
		if (R.jobs[i]->part == part && !strcmp(R.jobs[i]->topic, topic))
			return R.jobs[i];
	return NULL;
}

/* records and the offset after the last of whole batches */
static void
count_batches(const unsigned char *p, size_t len, int64_t *records, int64_t *next)
{
	struct klog_batch b;
	size_t pos = 0;

	while (pos < len && klog_batch_parse(p + pos, len - pos, &b, NULL) == 1) {
		*records += b.count;
		*next = klog_batch_last(&b) + 1;
		pos += klog_batch_size(&b);
	}
}

static void
job_fail(struct job *j, const char *why)
{
	if (j->failed)
		return;
	j->failed = 1;
	R.failed = 1;
	say(0, "%s: %s", j->name, why);
	if (j->f) {
		klog_fetcher_free(j->f);
		j->f = NULL;
	}
}

/* --- the offset map (mirror) ----------------------------------------- */

/* read the map: each partition resumes after its last batch mapped; a
 * torn last line (a crash while it was written) is cut off */
static void
map_load(void)
{
	char *data, err[KLOG_ERRLEN], *line, *nl;
	size_t len, good = 0;

	R.mapfd = open(R.mapfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (R.mapfd < 0)
		klog_cmd_die(1, "cannot open offset map '%s': %s", R.mapfile, strerror(errno));
	if (klog_read_file(R.mapfile, &data, &len, err) < 0)
		klog_cmd_die(1, "%s", err);
	for (line = data; (size_t)(line - data) < len && (nl = memchr(line, '\n',
	    len - (size_t)(line - data))); line = nl + 1) {
		char topic[256];
		int part;
		int64_t src, dst, count;
		struct job *j;
		*nl = 0;
		good = (size_t)(nl - data) + 1;
		if (sscanf(line, "%255s %d %" SCNd64 " %" SCNd64 " %" SCNd64, topic, &part, &src, &dst,
		    &count) != 5 || count < 0)
			klog_cmd_die(1, "offset map '%s': a bad line '%.80s'", R.mapfile, line);
		if ((j = job_find(topic, part)) && (!j->mapped || src + count > j->next)) {
			j->next = src + count;
			j->mapped = 1;
		}
	}
	if (good < len && ftruncate(R.mapfd, (off_t)good) < 0)
		klog_cmd_die(1, "cannot cut offset map '%s': %s", R.mapfile, strerror(errno));
	free(data);
}

/* --- destinations ---------------------------------------------------- */

/* the destination topic, with the source's partition count and config */
static void
ensure_topic(const char *topic, int np, char **kv, int nkv)
{
	char err[KLOG_ERRLEN], *keep[64];
	struct klog_config cfg;
	int n = 0;

	klog_config_defaults(&cfg);
	for (int i = 0; i < nkv && n < 64; i++) {
		/* keys this klog knows; replication.factor is the cluster's business */
		char k[128], *eq = strchr(kv[i], '=');
		if (!eq || (size_t)(eq - kv[i]) >= sizeof k || !strncmp(kv[i], "replication.factor=", 19))
			continue;
		memcpy(k, kv[i], (size_t)(eq - kv[i]));
		k[eq - kv[i]] = 0;
		if (klog_config_set(&cfg, k, eq + 1, err) < 0) {
			say(1, "topic '%s': config %s not copied: %s", topic, kv[i], err);
			continue;
		}
		keep[n++] = kv[i];
	}
	if (R.dd) {
		struct klog_config have;
		if (klog_topic_exists(R.dd, topic)) {
			if (klog_topic_load(R.dd, topic, &have, err) < 0)
				klog_cmd_die(1, "%s", err);
			if (have.partitions < np && klog_topic_alter(R.dd, topic, np, NULL, 0, err) < 0)
				klog_cmd_die(1, "%s", err);
			return;
		}
		if (klog_topic_create(R.dd, topic, np, keep, n, err) < 0)
			klog_cmd_die(1, "%s", err);
		return;
	}
	if (klog_log_exists(R.dlog, topic) == 1) {
		struct klog_part_info *pi = NULL;
		int have = 0;
		if (klog_log_describe(R.dlog, topic, &pi, &have, err) < 0)
			klog_cmd_die(1, "%s", err);
		free(pi);
		if (have < np && klog_log_alter(R.dlog, topic, np, NULL, 0, err) < 0)
			klog_cmd_die(1, "%s", err);
		return;
	}
	if (klog_log_create(R.dlog, topic, np, keep, n, err) < 0)
		klog_cmd_die(1, "%s", err);
}

/* batches (whole, checked) arrived for j: store them; -1 with err */
static int
sink(struct job *j, const unsigned char *data, size_t len, char *err)
{
	int64_t records = 0, next = -1;

	if (!len)
		return 0;
	count_batches(data, len, &records, &next);
	if (!R.mirror) {
		if (klog_part_append_raw(j->dp, data, len, err) < 0)
			return -1;
		j->dirty = 1;
	} else {
		struct klog_buf lines = { 0 };
		struct klog_batch b;
		int64_t first, last, dst;
		size_t pos = 0;
		j->buf.len = 0;
		if (klog_buf_append(&j->buf, data, len) < 0)
			return errf(err, "out of memory");
		if (klog_lpart_append(j->dl, j->buf.data, len, &first, &last, err) < 0 ||
		    klog_lpart_sync(j->dl, err) < 0)
			return -1;
		dst = first;
		while (pos < len && klog_batch_parse(data + pos, len - pos, &b, NULL) == 1) {
			int64_t span = (int64_t)b.last_offset_delta + 1;
			klog_buf_printf(&lines, "%s %d %" PRId64 " %" PRId64 " %" PRId64 "\n", j->topic,
			    j->part, b.base_offset, dst, span);
			dst += span;
			pos += klog_batch_size(&b);
		}
		if (klog_cmd_write(R.mapfd, lines.data, lines.len) < 0 || fdatasync(R.mapfd) < 0) {
			klog_buf_free(&lines);
			return errf(err, "cannot write offset map '%s': %s", R.mapfile,
			    strerror(errno));
		}
		klog_buf_free(&lines);
		j->next = next;
	}
	j->records += records;
	j->bytes += (int64_t)len;
	return 0;
}

static int64_t
dest_end(struct job *j)
{
	return R.mirror ? j->next : klog_part_log_end(j->dp);
}

/* --- the -b source: fetchers ----------------------------------------- */

static int64_t
op_log_end(void *arg)
{
	return dest_end(arg);
}

static int32_t
op_latest_epoch(void *arg)
{
	struct job *j = arg;

	return R.mirror ? -1 : klog_part_epoch_latest(j->dp);
}

static int64_t
op_epoch_end(void *arg, int32_t epoch)
{
	struct job *j = arg;
	char err[KLOG_ERRLEN];
	int32_t found;
	int64_t end;

	if (R.mirror || klog_part_epoch_end(j->dp, epoch, &found, &end, err) < 0 || found < 0)
		return -1;
	return end;
}

static int
op_truncate(void *arg, int64_t offset, char *err)
{
	struct job *j = arg;

	if (R.mirror) {
		say(1, "%s: the source's log was cut back to %" PRId64 ": offsets from there are "
		    "copied again", j->name, offset);
		j->next = offset;
		return 0;
	}
	j->dirty = 1;
	return klog_part_truncate(j->dp, offset, err) < 0 ? -1 : 0;
}

static int
op_reset(void *arg, int64_t start, char *err)
{
	struct job *j = arg;

	if (R.mirror) {
		if (j->mapped || j->records)
			say(1, "%s: offsets %" PRId64 " to %" PRId64 " were deleted at the source "
			    "before they were copied", j->name, j->next, start);
		j->next = start;
		return 0;
	}
	j->dirty = 1;
	return klog_part_reset(j->dp, start, err);
}

/* the leader's segment the next batches come from: the copy rolls there too */
static int
op_segment(void *arg, int64_t base, char *err)
{
	struct job *j = arg;

	if (R.mirror)
		return 0;
	return klog_part_roll_at(j->dp, base, err) < 0 ? -1 : 0;
}

static int
op_append(void *arg, const unsigned char *data, size_t len, int64_t hw, char *err)
{
	struct job *j = arg;

	j->hw = hw;
	if (sink(j, data, len, err) < 0)
		return -1;
	if (!len && dest_end(j) >= hw && !j->caught) {
		j->caught = 1;
		if (R.once)
			klog_loop_nowait(R.loop);
	}
	return 1;
}

static void schedule_meta(int ms);

static void
op_event(void *arg, const char *code, const char *msg)
{
	struct job *j = arg;
	int loud = !strcmp(code, "TRUNCATED") || !strcmp(code, "RESET") ||
	    !strcmp(code, "DIVERGED") || !strcmp(code, "CORRUPT_BATCH");

	if (!strcmp(code, "FAILED")) {
		/* job_fail frees the fetcher: from inside its callback, allowed */
		job_fail(j, msg);
		return;
	}
	if (R.verbose || loud)
		say(1, "%s", msg);
	if (!R.standalone && (!strcmp(code, "NOT_LEADER") || !strcmp(code, "STALE_EPOCH") ||
	    !strcmp(code, "DISCONNECTED") || !strcmp(code, "UNKNOWN_TOPIC") ||
	    !strcmp(code, "UNKNOWN_PARTITION")))
		schedule_meta(200);
}

static const struct klog_fetcher_ops fops = {
	.log_end = op_log_end,
	.latest_epoch = op_latest_epoch,
	.epoch_end = op_epoch_end,
	.truncate = op_truncate,
	.reset = op_reset,
	.append = op_append,
	.event = op_event,
	.segment = op_segment,
};

static void
job_open_dest(struct job *j)
{
	char err[KLOG_ERRLEN];

	if (!R.mirror) {
		if (!(j->dp = klog_part_open(R.dd, j->topic, j->part, KLOG_WRITE, err)))
			klog_cmd_die(1, "%s", err);
	} else if (!(j->dl = klog_lpart_open(R.dlog, j->topic, j->part, KLOG_WRITE, err)))
		klog_cmd_die(1, "%s", err);
}

static struct job *
job_add(const char *topic, int part)
{
	struct job *j = calloc(1, sizeof *j), **v;

	if (!j || !(j->topic = strdup(topic)) ||
	    !(v = realloc(R.jobs, (R.njobs + 1) * sizeof *v)))
		klog_cmd_die(1, "out of memory");
	R.jobs = v;
	R.jobs[R.njobs++] = j;
	j->part = part;
	j->wfd = -1;
	j->hw = -1;
	snprintf(j->name, sizeof j->name, "%s-%d", topic, part);
	return j;
}

/* (re)start j's fetcher on its leader */
static void
job_follow(struct job *j, const char *leader, int32_t epoch)
{
	char err[KLOG_ERRLEN];

	if (j->failed)
		return;
	if (j->f && !strcmp(j->leader, leader) && j->epoch == epoch)
		return;
	if (j->f) {
		if (R.verbose)
			say(1, "%s: leader now %s (epoch %" PRId32 ")", j->name, leader, epoch);
		klog_fetcher_free(j->f);
	}
	snprintf(j->leader, sizeof j->leader, "%s", leader);
	j->epoch = epoch;
	j->f = klog_fetcher_new(R.loop, leader, R.secret, j->topic, j->part, -1, epoch,
	    R.once ? 0 : 500, R.max_bytes, &fops, j, err);
	if (!j->f)
		job_fail(j, err);
}

static int
dest_has(const char *topic)
{
	return R.dd ? klog_topic_exists(R.dd, topic) == 1 : klog_log_exists(R.dlog, topic) == 1;
}

struct call {
	int done, kind;
	char code[48];
	size_t nlines;
	struct klog_buf line, data;     /* data: the body, "\n", then a NUL past len */
};

static void
on_call(struct klog_lc *lc, void *arg, struct klog_lc_reply *r)
{
	struct call *c = arg;

	c->done = 1;
	c->kind = r->kind;
	snprintf(c->code, sizeof c->code, "%s", r->code);
	klog_buf_append(&c->line, r->line ? r->line : "", strlen(r->line ? r->line : "") + 1);
	c->nlines = r->nlines;
	if (r->data && r->len)
		klog_buf_append(&c->data, r->data, r->len);
	if (klog_buf_append(&c->data, "\n", 2) == 0)
		c->data.len--;
}

/* one request, the loop run until it is answered (start-up only) */
static int
call(struct klog_lc *lc, int expect, const char *line, struct call *c)
{
	memset(c, 0, sizeof *c);
	if (klog_lc_send(lc, expect, line, NULL, 0, on_call, c) < 0)
		return -1;
	while (!c->done && !R.stopping)
		klog_loop_once(R.loop, 100);
	return c->done ? 0 : -1;
}

static void
call_free(struct call *c)
{
	klog_buf_free(&c->line);
	klog_buf_free(&c->data);
}

static struct klog_lc *meta_conn(void);

/* "key=value" lines into a topic's kv */
static void
set_kv(struct kc_topic *kt, char *lines)
{
	char *kv, *save = NULL;
	size_t cap = 0;

	for (kv = strtok_r(lines, "\n", &save); kv; kv = strtok_r(NULL, "\n", &save)) {
		char **v;
		if (kt->nkv == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(v = realloc(kt->kv, cap * sizeof *v)))
				klog_cmd_die(1, "out of memory");
			kt->kv = v;
		}
		if (!(kt->kv[kt->nkv] = strdup(kv)))
			klog_cmd_die(1, "out of memory");
		kt->nkv++;
	}
}

struct pending_topic {
	char *name;
	int np;
};

static void
on_config(struct klog_lc *lc, void *arg, struct klog_lc_reply *r)
{
	struct pending_topic *pt = arg;

	if (r->kind == KLOG_LC_LIST && !R.stopping) {
		struct kc_topic kt = { .name = pt->name, .np = pt->np };
		set_kv(&kt, r->len ? (char *)r->data : (char *)"");
		if (!dest_has(pt->name))
			ensure_topic(pt->name, pt->np, kt.kv, (int)kt.nkv);
		for (size_t i = 0; i < kt.nkv; i++)
			free(kt.kv[i]);
		free(kt.kv);
		schedule_meta(0);       /* now its partitions get jobs */
	}
	free(pt->name);
	free(pt);
}

/* the source's configuration of kt (CONFIG): at start-up waited for (1),
 * later asked and applied when it comes (0) */
static int
need_config(struct kc_topic *kt)
{
	char line[512];

	snprintf(line, sizeof line, "CONFIG %s", kt->name);
	if (R.starting) {
		struct call c;
		int rc = 0;
		if (call(meta_conn(), KLOG_LC_LIST, line, &c) == 0 && c.kind == KLOG_LC_LIST) {
			set_kv(kt, (char *)c.data.data);
			rc = 1;
		}
		call_free(&c);
		return rc;
	} else {
		struct pending_topic *pt = calloc(1, sizeof *pt);
		if (!pt || !(pt->name = strdup(kt->name)))
			klog_cmd_die(1, "out of memory");
		pt->np = kt->np;
		if (klog_lc_send(meta_conn(), KLOG_LC_LIST, line, NULL, 0, on_config, pt) < 0) {
			free(pt->name);
			free(pt);
		}
		return 0;
	}
}

/* a METADATA answer (or the standalone equivalent): new topics get jobs,
 * moved leaders new fetchers */
static void
apply_state(struct kc_state *st)
{
	for (size_t t = 0; t < st->ntopics; t++) {
		struct kc_topic *kt = &st->topics[t];
		if (!wanted(kt->name))
			continue;
		if (!job_find(kt->name, 0) || !job_find(kt->name, kt->np - 1)) {
			/* a standalone broker's METADATA has no configuration */
			if (!kt->nkv && !dest_has(kt->name) && !need_config(kt))
				continue;
			ensure_topic(kt->name, kt->np, kt->kv, (int)kt->nkv);
		}
		for (int p = 0; p < kt->np; p++) {
			struct job *j = job_find(kt->name, p);
			struct kc_node *n;
			if (!j) {
				j = job_add(kt->name, p);
				job_open_dest(j);
			}
			if (kt->parts[p].leader < 0 || !(n = kc_node_find(st, kt->parts[p].leader))) {
				if (j->f) {
					klog_fetcher_free(j->f);
					j->f = NULL;
				}
				j->leader[0] = 0;
				schedule_meta(500);
				continue;
			}
			job_follow(j, n->addr, kt->parts[p].leader_epoch);
		}
	}
}

/* --- metadata over an lclient ------------------------------------------ */

/* the n-th address of the broker list */
static int
broker_at(int n, char *out, size_t len)
{
	const char *s = R.brokers;

	for (int i = 0; s && *s; i++) {
		const char *c = strchr(s, ',');
		size_t l = c ? (size_t)(c - s) : strlen(s);
		if (i == n) {
			snprintf(out, len, "%.*s", (int)l, s);
			return 0;
		}
		s = c ? c + 1 : NULL;
	}
	return -1;
}

static struct klog_lc *
meta_conn(void)
{
	char addr[256], err[KLOG_ERRLEN];

	if (R.meta && klog_lc_alive(R.meta))
		return R.meta;
	if (R.meta) {
		klog_lc_close(R.meta);
		R.meta = NULL;
		R.meta_cur++;
	}
	if (broker_at(R.meta_cur, addr, sizeof addr) < 0) {
		R.meta_cur = 0;
		broker_at(0, addr, sizeof addr);
	}
	if (!(R.meta = klog_lc_open(R.loop, addr, R.secret, err)))
		klog_cmd_die(2, "%s", err);
	klog_lc_set_timeout(R.meta, 10000);
	return R.meta;
}

/* a broker without METADATA: TOPICS, DESCRIBE and CONFIG, it leads all */
static int
standalone_state(struct klog_lc *lc, struct kc_state *st)
{
	struct call c, d, g;
	char *names, *name, *save = NULL, line[512];
	int rc = -1;

	kc_state_init(st);
	st->nodes = calloc(1, sizeof *st->nodes);
	if (!st->nodes)
		return -1;
	st->nnodes = 1;
	snprintf(st->nodes[0].addr, sizeof st->nodes[0].addr, "%s", klog_lc_addr(lc));
	st->nodes[0].alive = 1;
	if (call(lc, KLOG_LC_LIST, "TOPICS", &c) < 0 || c.kind != KLOG_LC_LIST) {
		call_free(&c);
		return -1;
	}
	names = (char *)c.data.data;
	for (name = strtok_r(names, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
		struct kc_topic *t, *v;
		int np = 0;
		if (!*name || !wanted(name))
			continue;
		snprintf(line, sizeof line, "DESCRIBE %s", name);
		if (call(lc, KLOG_LC_LIST, line, &d) < 0 || d.kind != KLOG_LC_LIST) {
			call_free(&d);
			continue;       /* deleted meanwhile */
		}
		np = (int)d.nlines;
		call_free(&d);
		snprintf(line, sizeof line, "CONFIG %s", name);
		if (call(lc, KLOG_LC_LIST, line, &g) < 0 || g.kind != KLOG_LC_LIST || np <= 0) {
			call_free(&g);
			continue;
		}
		if (!(v = realloc(st->topics, (st->ntopics + 1) * sizeof *v)))
			goto out;
		st->topics = v;
		t = &st->topics[st->ntopics++];
		memset(t, 0, sizeof *t);
		t->name = strdup(name);
		t->np = np;
		t->rf = 1;
		t->parts = calloc((size_t)np, sizeof *t->parts);
		{
			char *kv, *s2 = NULL;
			size_t cap = 0;
			for (kv = strtok_r((char *)g.data.data, "\n", &s2); kv;
			    kv = strtok_r(NULL, "\n", &s2)) {
				if (t->nkv == cap) {
					cap = cap ? cap * 2 : 16;
					t->kv = realloc(t->kv, cap * sizeof *t->kv);
				}
				t->kv[t->nkv++] = strdup(kv);
			}
		}
		call_free(&g);
		for (int p = 0; p < np; p++)
			t->parts[p].leader = 0;
	}
	rc = 0;
out:
	call_free(&c);
	return rc;
}

static int parse_metadata(const struct klog_lc_reply *r, struct kc_state *st);

static void
on_meta(struct klog_lc *lc, void *arg, struct klog_lc_reply *r)
{
	struct kc_state st;

	R.meta_busy = 0;
	if (r->kind == KLOG_LC_CLOSED && !strcmp(r->code, "CLOSED"))
		return;
	if (R.stopping)
		return;
	if (r->kind != KLOG_LC_LIST || parse_metadata(r, &st) < 0) {
		if (R.verbose)
			say(1, "metadata from '%s': %s %s", klog_lc_addr(lc), r->code, r->line);
		schedule_meta(1000);
		return;
	}
	apply_state(&st);
	kc_state_free(&st);
	if (!R.once)
		schedule_meta(5000);    /* new topics, partitions, leaders */
}

static int
parse_metadata(const struct klog_lc_reply *r, struct kc_state *st)
{
	char err[KLOG_ERRLEN];
	char *text = malloc(r->len + 2);
	int rc;

	if (!text)
		return -1;
	memcpy(text, r->data, r->len);
	text[r->len] = '\n';
	rc = kc_state_parse(text, r->len + (r->len ? 1 : 0), st, err);
	free(text);
	if (rc < 0 && R.verbose)
		say(1, "metadata: %s", err);
	return rc;
}

static int64_t
t_meta(struct klog_loop *l, void *data)
{
	struct klog_lc *lc;

	R.meta_timer = 0;
	if (R.stopping)
		return -1;
	if (R.meta_busy) {
		schedule_meta(200);     /* after the answer under way */
		return -1;
	}
	lc = meta_conn();
	if (klog_lc_send(lc, KLOG_LC_LIST, "METADATA", NULL, 0, on_meta, NULL) == 0)
		R.meta_busy = 1;
	else
		schedule_meta(500);
	return -1;
}

/* read the metadata again in ms at the latest */
static void
schedule_meta(int ms)
{
	int64_t due = mono_ms() + ms;

	if (R.standalone || R.stopping)
		return;
	if (R.meta_timer) {
		if (R.meta_due <= due)
			return;
		klog_loop_timer_del(R.loop, R.meta_timer);
	}
	R.meta_due = due;
	R.meta_timer = klog_loop_timer(R.loop, ms, t_meta, NULL);
	if (R.meta_timer < 0)
		R.meta_timer = 0;
}

/* start-up: the first metadata, synchronously; exits on failure */
static void
source_brokers(void)
{
	struct kc_state st;
	struct call c;
	int tries = 0, nbrokers = 1;

	for (const char *p = R.brokers; *p; p++)
		nbrokers += *p == ',';
	R.starting = 1;
	for (;;) {
		struct klog_lc *lc = meta_conn();
		if (call(lc, KLOG_LC_LIST, "METADATA", &c) == 0) {
			if (c.kind == KLOG_LC_LIST) {
				struct klog_lc_reply r = { .data = c.data.data, .len = c.data.len - 1 };
				if (parse_metadata(&r, &st) < 0)
					klog_cmd_die(1, "broker '%s': bad METADATA answer", klog_lc_addr(lc));
				break;
			}
			if (c.kind == KLOG_LC_ERR && !strcmp(c.code, "UNKNOWN_COMMAND")) {
				R.standalone = 1;
				if (standalone_state(lc, &st) < 0)
					klog_cmd_die(1, "broker '%s': cannot list its topics",
					    klog_lc_addr(lc));
				break;
			}
			if (c.kind == KLOG_LC_ERR)
				klog_cmd_die(1, "broker '%s': %s", klog_lc_addr(lc), (char *)c.line.data);
		}
		if (R.stopping)
			exit(0);
		/* this broker did not answer: the next of the list, three rounds */
		if (++tries >= 3 * nbrokers)
			klog_cmd_die(1, "%s", klog_lc_error(lc));
		call_free(&c);
		for (int i = 0; i < 2 && !R.stopping; i++)
			klog_loop_once(R.loop, 100);
	}
	call_free(&c);
	for (int i = 0; i < R.nwant; i++)
		if (!kc_topic_find(&st, R.want[i]))
			klog_cmd_die(1, "no such topic '%s' at the source", R.want[i]);
	apply_state(&st);
	kc_state_free(&st);
	R.starting = 0;
	/* new topics and partitions (when none were named), leaders moved */
	if (!R.once)
		schedule_meta(5000);
}

/* --- the -s source: a live directory --------------------------------- */

static void pull(struct job *j);

static void
on_inotify(struct klog_loop *l, int fd, void *data, int mask)
{
	char buf[4096];

	while (read(fd, buf, sizeof buf) > 0)
		;
	pull(data);
}

/* copy what the source's writers have completed, 16 MiB a turn */
static void
pull(struct job *j)
{
	char err[KLOG_ERRLEN];
	struct klog_part_info pi;
	size_t done = 0;

	if (j->failed)
		return;
	while (done < (16u << 20)) {
		int64_t pos = dest_end(j);
		struct klog_batch b;
		size_t skip = 0, off = 0;
		ssize_t n;
		j->buf.len = 0;
		n = klog_part_read(j->sp, pos, R.max_bytes, &j->buf, err);
		if (n < 0 && errno == ERANGE) {
			if (klog_part_info(j->sp, &pi, err) < 0 || op_reset(j, pi.log_start, err) < 0) {
				job_fail(j, err);
				return;
			}
			if (!R.mirror)
				say(1, "%s: offsets below %" PRId64 " were deleted at the source: "
				    "starting there", j->name, pi.log_start);
			continue;
		}
		if (n < 0) {
			/* a batch being written reads as damaged for a moment */
			int64_t now = mono_ms();
			if (!j->bad_since)
				j->bad_since = now;
			else if (now - j->bad_since > 5000) {
				job_fail(j, err);
				return;
			}
			return;
		}
		j->bad_since = 0;
		if (n == 0) {
			if (klog_part_info(j->sp, &pi, err) == 0) {
				j->src_end = pi.log_end;
				j->hw = pi.log_end;
				if (pi.log_end < pos && !R.mirror) {
					say(1, "%s: the source ends at %" PRId64 ", below the copy's %" PRId64
					    ": cut to match", j->name, pi.log_end, pos);
					if (op_truncate(j, pi.log_end, err) < 0) {
						job_fail(j, err);
						return;
					}
					continue;
				}
			}
			if (!j->caught) {
				j->caught = 1;
				if (R.once)
					klog_loop_nowait(R.loop);
			}
			return;
		}
		/* from the batch holding pos: skip what is below it */
		while (off < (size_t)n && klog_batch_parse(j->buf.data + off, (size_t)n - off, &b,
		    NULL) == 1 && klog_batch_last(&b) < pos)
			off += klog_batch_size(&b);
		skip = off;
		if (skip < (size_t)n && klog_batch_parse(j->buf.data + skip, (size_t)n - skip, &b,
		    NULL) == 1 && b.base_offset < pos) {
			if (R.mirror) {
				/* a resumed mirror inside a batch: copy from the next one */
				skip += klog_batch_size(&b);
				if (skip >= (size_t)n) {
					j->next = klog_batch_last(&b) + 1;
					continue;
				}
			} else {
				say(1, "%s: the source's batch %" PRId64 "..%" PRId64 " holds the copy's end %"
				    PRId64 ": the copy diverged, cut to %" PRId64, j->name, b.base_offset,
				    klog_batch_last(&b), pos, b.base_offset);
				if (op_truncate(j, b.base_offset, err) < 0) {
					job_fail(j, err);
					return;
				}
				continue;
			}
		}
		if (skip < (size_t)n && sink(j, j->buf.data + skip, (size_t)n - skip, err) < 0) {
			job_fail(j, err);
			return;
		}
		if (skip >= (size_t)n)
			return;
		j->caught = 0;
		done += (size_t)n;
	}
	klog_loop_nowait(R.loop);
}

static int64_t
t_pull(struct klog_loop *l, void *data)
{
	for (size_t i = 0; i < R.njobs; i++)
		pull(R.jobs[i]);
	return R.once ? 50 : 1000;
}

/* a job of the -s source starts: where to begin, the first copy, the watch */
static void
job_start_dir(struct job *j)
{
	struct klog_part_info pi;
	char err[KLOG_ERRLEN];

	if (R.mirror && !j->mapped && klog_part_info(j->sp, &pi, err) == 0)
		j->next = pi.log_start;
	pull(j);        /* reading once sets up the watch */
	if ((j->wfd = klog_part_wait_fd(j->sp)) >= 0)
		klog_loop_add(R.loop, j->wfd, KLOG_READABLE, on_inotify, j);
}

/* the source directory's topics and partitions that have no job yet get
 * one (at start-up: all; later: topics created, partitions added); at
 * start-up an error ends the program, later it is said and tried again */
static void
scan_source(int initial)
{
	char err[KLOG_ERRLEN], **names = NULL;
	size_t n = 0;

	if (R.nwant) {
		for (int i = 0; i < R.nwant; i++)
			if (initial && !klog_topic_exists(R.sd, R.want[i]))
				klog_cmd_die(1, "no such topic '%s' in '%s'", R.want[i], R.srcdir);
	} else if (klog_topic_list(R.sd, &names, &n, err) < 0) {
		if (initial)
			klog_cmd_die(1, "%s", err);
		say(1, "%s", err);
		return;
	}
	for (size_t t = 0; t < (R.nwant ? (size_t)R.nwant : n); t++) {
		const char *topic = R.nwant ? R.want[t] : names[t];
		struct klog_config cfg;
		struct klog_buf kvb = { 0 };
		char *kv[64], *s, *save = NULL;
		int nkv = 0;
		if (!wanted(topic))
			continue;
		if (klog_topic_load(R.sd, topic, &cfg, err) < 0) {
			if (initial)
				klog_cmd_die(1, "%s", err);
			continue;       /* deleted meanwhile */
		}
		if (job_find(topic, cfg.partitions - 1))
			continue;
		klog_config_format(&cfg, &kvb);
		klog_buf_append(&kvb, "", 1);
		for (s = strtok_r((char *)kvb.data, "\n", &save); s && nkv < 64;
		    s = strtok_r(NULL, "\n", &save))
			kv[nkv++] = s;
		ensure_topic(topic, cfg.partitions, kv, nkv);
		klog_buf_free(&kvb);
		for (int p = 0; p < cfg.partitions; p++) {
			struct job *j;
			struct klog_part *sp;
			if (job_find(topic, p))
				continue;
			if (!(sp = klog_part_open(R.sd, topic, p, KLOG_RDONLY, err))) {
				if (initial)
					klog_cmd_die(1, "%s", err);
				say(1, "%s", err);
				continue;
			}
			j = job_add(topic, p);
			j->sp = sp;
			job_open_dest(j);
			if (!initial) {
				if (R.verbose)
					say(1, "%s: new at the source", j->name);
				job_start_dir(j);
			}
		}
	}
	if (names)
		klog_strv_free(names, n);
}

static int64_t
t_rescan(struct klog_loop *l, void *data)
{
	scan_source(0);
	return 5000;
}

static void
source_dir(void)
{
	char err[KLOG_ERRLEN];

	if (!(R.sd = klog_dir_open(R.srcdir, 0, err)))
		klog_cmd_die(1, "%s", err);
	scan_source(1);
}

static void
source_dir_start(void)
{
	for (size_t i = 0; i < R.njobs; i++)
		job_start_dir(R.jobs[i]);
	klog_loop_timer(R.loop, R.once ? 50 : 1000, t_pull, NULL);
	if (!R.once)
		klog_loop_timer(R.loop, 5000, t_rescan, NULL);
}

/* --- progress, durability, signals ----------------------------------- */

static int64_t
job_lag(struct job *j)
{
	int64_t end = dest_end(j);

	if (j->f) {
		struct klog_fetcher_stats st;
		klog_fetcher_stats(j->f, &st);
		if (st.leader_hw > j->hw)
			j->hw = st.leader_hw;
	} else if (j->sp && !j->failed) {
		struct klog_part_info pi;
		char err[KLOG_ERRLEN];
		if (klog_part_info(j->sp, &pi, err) == 0)
			j->hw = pi.log_end;
	}
	return j->hw < 0 ? -1 : j->hw > end ? j->hw - end : 0;
}

static int64_t
t_progress(struct klog_loop *l, void *data)
{
	char line[400];
	int64_t now = mono_ms(), total = 0;
	size_t n = 0;
	int k;

	for (size_t i = 0; i < R.njobs; i++)
		total += R.jobs[i]->records;
	if (R.pg_last_ms && now > R.pg_last_ms)
		R.pg_rate = 0.5 * R.pg_rate + 0.5 * (double)(total - R.pg_last_records) * 1000 /
		    (double)(now - R.pg_last_ms);
	R.pg_last_ms = now;
	R.pg_last_records = total;
	k = snprintf(line, sizeof line, "kreplicate: %" PRId64 " records, %.0f records/s, lag",
	    total, R.pg_rate);
	n = k > 0 ? (size_t)k : 0;
	for (size_t i = 0; i < R.njobs; i++) {
		char one[340];
		int64_t lag = job_lag(R.jobs[i]);
		if (lag < 0)
			snprintf(one, sizeof one, " %s ?", R.jobs[i]->name);
		else
			snprintf(one, sizeof one, " %s %" PRId64, R.jobs[i]->name, lag);
		if (n + strlen(one) > 160) {
			snprintf(line + n, sizeof line - n, " ...");
			break;
		}
		memcpy(line + n, one, strlen(one) + 1);
		n += strlen(one);
	}
	fprintf(stderr, "\r\033[K%s", line);
	return 250;
}

static void
sync_all(void)
{
	char err[KLOG_ERRLEN];

	for (size_t i = 0; i < R.njobs; i++) {
		struct job *j = R.jobs[i];
		if (j->dp && j->dirty) {
			if (klog_part_sync(j->dp, err) < 0)
				job_fail(j, err);
			j->dirty = 0;
		}
	}
}

static int64_t
t_sync(struct klog_loop *l, void *data)
{
	sync_all();
	return 1000;
}

static void
on_signal(struct klog_loop *l, int fd, void *data, int mask)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == sizeof si)
		;
	R.stopping = 1;
	klog_loop_stop(l);
}

/* --once: everyone caught up (or failed)? */
static void
before_sleep(struct klog_loop *l, void *data)
{
	if (!R.once || !R.njobs)
		return;
	for (size_t i = 0; i < R.njobs; i++)
		if (!R.jobs[i]->caught && !R.jobs[i]->failed)
			return;
	klog_loop_stop(l);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "source", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "mirror", no_argument, NULL, 'm' },
		{ "to-brokers", required_argument, NULL, 'B' },
		{ "offset-map", required_argument, NULL, 'M' },
		{ "once", no_argument, NULL, 'e' },
		{ "max-bytes", required_argument, NULL, 'X' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	char err[KLOG_ERRLEN];
	sigset_t mask;
	int c, sfd;
	int64_t v;

	klog_cmd_init("kreplicate");
	R.max_bytes = 1 << 20;
	R.mapfd = -1;
	while ((c = getopt_long(argc, argv, "b:s:d:mB:eqvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			R.brokers = optarg;
			break;
		case 's':
			R.srcdir = optarg;
			break;
		case 'd':
			R.dir = optarg;
			break;
		case 'm':
			R.mirror = 1;
			break;
		case 'B':
			R.dbrokers = optarg;
			R.mirror = 1;
			break;
		case 'M':
			R.mapfile = optarg;
			break;
		case 'e':
			R.once = 1;
			break;
		case 'X':
			if (klog_parse_i64(optarg, &v) < 0 || v < 1024 || v > (64 << 20))
				klog_cmd_die(2, "bad --max-bytes '%s': 1024 to 67108864", optarg);
			R.max_bytes = (size_t)v;
			break;
		case 'q':
			R.quiet = 1;
			break;
		case 'v':
			R.verbose = 1;
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
	klog_cmd_quiet(R.quiet);
	if (!R.brokers == !R.srcdir)
		klog_cmd_die(2, "one source: -b BROKERS or -s SRCDIR");
	if (!R.dir == !R.dbrokers)
		klog_cmd_die(2, "one destination: -d DIR, or -B BROKERS with --mirror");
	if (R.mirror && !R.mapfile)
		klog_cmd_die(2, "--mirror needs --offset-map FILE (to map offsets and to resume)");
	if (!R.mirror && R.mapfile)
		klog_cmd_die(2, "--offset-map is for --mirror (a copy keeps the offsets)");
	if (R.srcdir && R.dir && !R.mirror) {
		struct stat a, b;
		if (stat(R.srcdir, &a) == 0 && stat(R.dir, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			klog_cmd_die(2, "the source and the destination are one directory");
	}
	R.want = argv + optind;
	R.nwant = argc - optind;
	for (int i = 0; i < R.nwant; i++)
		if (klog_topic_name_check(R.want[i], err) < 0)
			klog_cmd_die(2, "%s", err);
	R.secret = getenv("KLOG_SECRET");
	if (R.secret && !*R.secret)
		R.secret = NULL;
	signal(SIGPIPE, SIG_IGN);

	if (!(R.loop = klog_loop_new(65536, err)))
		klog_cmd_die(1, "%s", err);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    klog_loop_add(R.loop, sfd, KLOG_READABLE, on_signal, NULL) < 0)
		klog_cmd_die(1, "signalfd: %s", strerror(errno));

	if (R.mirror) {
		if (!(R.dlog = klog_log_open(R.dir, R.dbrokers, KLOG_CREATE, err)))
			klog_cmd_die(1, "%s", err);
	} else if (!(R.dd = klog_dir_open(R.dir, KLOG_CREATE, err)))
		klog_cmd_die(1, "%s", err);

	if (R.srcdir) {
		source_dir();
		if (R.mirror)
			map_load();
		source_dir_start();
	} else {
		if (R.mirror) {
			/* the jobs exist after the first metadata: load the map
			 * before any fetcher asks where to start (next turn) */
			source_brokers();
			map_load();
		} else
			source_brokers();
	}
	if (!R.njobs && R.once)
		return 0;
	if (!R.mirror)
		klog_loop_timer(R.loop, 1000, t_sync, NULL);
	if (!R.quiet && isatty(2)) {
		R.progress = 1;
		klog_loop_timer(R.loop, 250, t_progress, NULL);
	}
	klog_loop_before_sleep(R.loop, before_sleep, NULL);
	if (!R.stopping)
		klog_loop_run(R.loop);
	if (R.progress) {
		t_progress(R.loop, NULL);
		fputc('\n', stderr);
	}
	sync_all();
	for (size_t i = 0; i < R.njobs; i++) {
		struct job *j = R.jobs[i];
		klog_fetcher_free(j->f);
		if (j->sp)
			klog_part_close(j->sp);
		if (j->dp)
			klog_part_close(j->dp);
		if (j->dl)
			klog_lpart_close(j->dl);
		klog_buf_free(&j->buf);
		free(j->topic);
		free(j);
	}
	free(R.jobs);
	if (R.meta)
		klog_lc_close(R.meta);
	if (R.dlog)
		klog_log_close(R.dlog);
	if (R.dd)
		klog_dir_close(R.dd);
	if (R.sd)
		klog_dir_close(R.sd);
	if (R.mapfd >= 0)
		close(R.mapfd);
	klog_loop_free(R.loop);
	return R.failed ? 1 : 0;
}
