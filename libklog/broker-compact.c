/* klog - kbrokerd: log compaction in a thread, in the background and on COMPACT. MIT licence. */
/*
 * One compaction at a time runs in a thread of its own, so the loop keeps
 * serving.  Every KB_COMPACT_CHECK_MS (Kafka's log.cleaner.backoff.ms;
 * KLOG_COMPACT_CHECK_MS in the environment, for tests) a timer queues
 * every partition of every topic whose cleanup.policy has
 * compact; the thread runs klog_compact_partition on each in turn, which
 * does nothing below min.cleanable.dirty.ratio.  COMPACT TOPIC [PARTITION]
 * queues a forced job in front and pauses its connection (as a request
 * waiting for a partition slot is paused, kb_slot_wait) until the job is
 * done; the request then runs again and answers with the figures:
 *
 *	OK PASSES SEGMENTS BYTES_READ BYTES_WRITTEN RECORDS REMOVED TOMBSTONES_REMOVED
 *
 * The thread reads sealed segments and writes .cleaned files without
 * taking anything from the loop.  The swap (renames, a directory fsync)
 * holds b->compact->mu, which retention (kb_retention) holds too, so a
 * segment is never deleted and swapped at once; the partition's flock is
 * the broker's already.  When a job is done, the loop (a 20 ms timer while
 * one runs) forgets what it knew of the replaced segments' files
 * (kcompact_refresh): a fetch already queued keeps its dup of the old
 * file, later ones open the new one.  Shutdown stops the job at its next
 * batch (what it wrote is removed, nothing is swapped) and joins it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"

#define KB_COMPACT_CHECK_MS 15000
#define KB_COMPACT_POLL_MS 20

struct cjob {
	struct cjob *next;
	char *topic;
	int partition;                  /* -1: every one */
	int np;
	int force;
	struct conn *c;                 /* COMPACT's connection, NULL in the background */
	int done, rc, errnum;
	char err[KLOG_ERRLEN];
	struct klog_compact_stats st;
};

struct kb_compactor {
	pthread_mutex_t mu;             /* the swap vs retention */
	pthread_t th;
	int running;                    /* a thread to join */
	volatile int finished;          /* the thread's job is done */
	volatile int stop;
	struct cjob *queue, *cur;
	struct cjob *done;              /* COMPACT jobs waiting for their connection */
	int64_t timer, next_scan;
	int64_t check_ms;               /* the background check's period */
	uint64_t jobs, segments, errors;
	int64_t bytes_read, bytes_written, records_removed;
};

static void
swap_lock(void *arg, int lock)
{
	struct kb_compactor *k = arg;

	if (lock)
		pthread_mutex_lock(&k->mu);
	else
		pthread_mutex_unlock(&k->mu);
}

static void
add(struct klog_compact_stats *sum, const struct klog_compact_stats *one)
{
	sum->passes += one->passes;
	sum->segments += one->segments;
	sum->bytes_read += one->bytes_read;
	sum->bytes_written += one->bytes_written;
	sum->records_read += one->records_read;
	sum->records_removed += one->records_removed;
	sum->tombstones_removed += one->tombstones_removed;
}

struct targ {
	struct klog_broker *b;
	struct cjob *j;
};

static void *
run(void *arg)
{
	struct targ *ta = arg;
	struct kb_compactor *k = ta->b->compact;
	struct cjob *j = ta->j;
	struct klog_compact_opts o = { 0 };
	struct klog_compact_stats one;
	int i, lo = j->partition < 0 ? 0 : j->partition;
	int hi = j->partition < 0 ? j->np : j->partition + 1;

	o.force = j->force;
	o.broker = 1;
	o.swap_lock = swap_lock;
	o.arg = k;
	o.stop = &k->stop;
	for (i = lo; i < hi && !k->stop; i++) {
		if (klog_compact_partition(ta->b->d, j->topic, i, &o, &one, j->err) < 0) {
			j->rc = -1;
			j->errnum = errno;
			break;
		}
		add(&j->st, &one);
	}
	free(ta);
	__atomic_store_n(&k->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int
start(struct klog_broker *b)
{
	struct kb_compactor *k = b->compact;
	struct targ *ta;
	struct cjob *j = k->queue;

	if (k->running || !j || b->draining)
		return 0;
	if (!(ta = malloc(sizeof *ta)))
		return -1;
	k->queue = j->next;
	j->next = NULL;
	k->cur = j;
	ta->b = b;
	ta->j = j;
	k->finished = 0;
	if (pthread_create(&k->th, NULL, run, ta) != 0) {
		free(ta);
		j->rc = -1;
		j->errnum = EAGAIN;
		snprintf(j->err, sizeof j->err, "cannot start the compaction thread");
		k->finished = 1;
		k->running = 0;
		return -1;
	}
	k->running = 1;
	return 0;
}

static struct cjob *
job_new(struct btopic *t, int partition, int force, struct conn *c)
{
	struct cjob *j = calloc(1, sizeof *j);

	if (!j || !(j->topic = strdup(t->name))) {
		free(j);
		return NULL;
	}
	j->partition = partition;
	j->np = t->np;
	j->force = force;
	j->c = c;
	return j;
}

static void
job_free(struct cjob *j)
{
	if (j) {
		free(j->topic);
		free(j);
	}
}

static int
conn_alive(struct klog_broker *b, struct conn *c)
{
	struct conn *x;

	for (x = b->conns; x; x = x->next)
		if (x == c && x->fd >= 0)
			return 1;
	return 0;
}

/* the loop: a job finished; apply it, start the next */
static void
reap(struct klog_broker *b)
{
	struct kb_compactor *k = b->compact;
	struct cjob *j = k->cur;
	struct btopic *t;
	int i;

	pthread_join(k->th, NULL);
	k->running = 0;
	k->cur = NULL;
	k->jobs++;
	k->segments += (uint64_t)j->st.segments;
	k->bytes_read += j->st.bytes_read;
	k->bytes_written += j->st.bytes_written;
	k->records_removed += j->st.records_removed;
	if (j->rc < 0 && j->errnum != ECANCELED) {
		k->errors++;
		kb_log(b, LOG_ERR, "compaction: %s", j->err);
	}
	if (j->st.segments && (t = kb_topic_find(b, j->topic)))
		for (i = 0; i < t->np; i++)
			if ((j->partition < 0 || i == j->partition) && t->parts[i]->p)
				kcompact_refresh(t->parts[i]->p);
	if (j->st.segments)
		kb_log(b, LOG_INFO, "compacted '%s': %d segment%s, %" PRId64 " records removed",
		    j->topic, j->st.segments, j->st.segments == 1 ? "" : "s", j->st.records_removed);
	if (j->c && conn_alive(b, j->c)) {
		j->done = 1;
		j->next = k->done;
		k->done = j;
		if (!j->c->resume) {
			j->c->resume = 1;
			b->nresume++;
		}
	} else
		job_free(j);
	start(b);
}

/* the background check, and the poll of a running job */
static int64_t
tick(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct kb_compactor *k = b->compact;
	int64_t now = klog_now_ms();
	struct btopic *t;
	size_t h;

	if (k->running && __atomic_load_n(&k->finished, __ATOMIC_ACQUIRE))
		reap(b);
	if (!k->next_scan)
		k->next_scan = now + k->check_ms;
	if (now >= k->next_scan && !k->queue && !k->running) {
		k->next_scan = now + k->check_ms;
		for (h = 0; h < THASH; h++)
			for (t = b->topics[h]; t; t = t->next) {
				struct klog_config cfg;
				struct cjob *j;
				char e[KLOG_ERRLEN];
				if (klog_topic_load(b->d, t->name, &cfg, e) < 0 || !cfg.compact)
					continue;
				if (!(j = job_new(t, -1, 0, NULL)))
					continue;
				j->next = k->queue;
				k->queue = j;
			}
		start(b);
	}
	if (k->running)
		return KB_COMPACT_POLL_MS;
	return k->next_scan > now ? k->next_scan - now : 1;
}

int
kb_compact_start(struct klog_broker *b, char *err)
{
	struct kb_compactor *k = calloc(1, sizeof *k);
	const char *e = getenv("KLOG_COMPACT_CHECK_MS");

	if (!k)
		return kerr_sys(err, "compactor");
	pthread_mutex_init(&k->mu, NULL);
	/* a test's shorter period (tests/t5010) */
	k->check_ms = KB_COMPACT_CHECK_MS;
	if (e && klog_parse_i64(e, &k->check_ms) < 0)
		k->check_ms = KB_COMPACT_CHECK_MS;
	if (k->check_ms < 10)
		k->check_ms = 10;
	b->compact = k;
	k->timer = klog_loop_timer(b->loop, KB_COMPACT_POLL_MS, tick, b);
	return 0;
}

void
kb_compact_stop(struct klog_broker *b)
{
	struct kb_compactor *k = b->compact;
	struct cjob *j;

	if (!k)
		return;
	k->stop = 1;
	if (k->running)
		pthread_join(k->th, NULL);
	job_free(k->cur);
	while ((j = k->queue)) {
		k->queue = j->next;
		job_free(j);
	}
	while ((j = k->done)) {
		k->done = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&k->mu);
	free(k);
	b->compact = NULL;
}

void
kb_compact_lock(struct klog_broker *b, int lock)
{
	if (b->compact)
		swap_lock(b->compact, lock);
}

/* COMPACT TOPIC [PARTITION]: its topic and partition, or -1 with code and err */
static struct btopic *
target(struct klog_broker *b, struct klog_req *r, int *partition, const char **code, char *err)
{
	struct klog_config cfg;
	struct btopic *t;
	int64_t p = -1;

	if (!(t = kb_topic_get(b, r->argv[1], code, err)))
		return NULL;
	if (r->argc > 2 && kb_parse_num(r->argv[2], 0, t->np - 1, &p) < 0) {
		*code = "UNKNOWN_PARTITION";
		kerr(err, "no partition '%s' in topic '%s' (%d partitions)", r->argv[2], t->name,
		    t->np);
		return NULL;
	}
	if (klog_topic_load(b->d, t->name, &cfg, err) < 0) {
		*code = "INTERNAL";
		return NULL;
	}
	if (!cfg.compact) {
		*code = "INVALID";
		kerr(err, "topic '%s' is not compacted (cleanup.policy=delete)", t->name);
		return NULL;
	}
	*partition = (int)p;
	return t;
}

/* before COMPACT runs: queue its job and pause the connection; 1 wait */
int
kb_compact_wait(struct conn *c, struct klog_req *r)
{
	struct klog_broker *b = c->b;
	struct kb_compactor *k = b->compact;
	struct cjob *j, **pp;
	struct btopic *t;
	const char *code;
	char err[KLOG_ERRLEN];
	int partition;

	if (!k || b->draining)
		return 0;
	for (j = k->done; j; j = j->next)
		if (j->c == c)
			return 0;       /* done: COMPACT answers */
	for (j = k->queue; j; j = j->next)
		if (j->c == c)
			goto wait;
	if (k->cur && k->cur->c == c)
		goto wait;
	if (!(t = target(b, r, &partition, &code, err)) || !(j = job_new(t, partition, 1, c)))
		return 0;       /* COMPACT answers the error */
	/* in front of the background jobs, after other COMPACTs */
	for (pp = &k->queue; *pp && (*pp)->c; pp = &(*pp)->next)
		;
	j->next = *pp;
	*pp = j;
	start(b);
	if (k->timer >= 0)
		klog_loop_timer_del(b->loop, k->timer);
	k->timer = klog_loop_timer(b->loop, KB_COMPACT_POLL_MS, tick, b);
wait:
	c->paused = 1;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE);
	return 1;
}

void
kb_cmd_compact(struct conn *c, struct klog_req *r)
{
	struct klog_broker *b = c->b;
	struct kb_compactor *k = b->compact;
	struct cjob *j, **pp;
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN];
	int partition;

	for (pp = k ? &k->done : NULL; pp && *pp; pp = &(*pp)->next)
		if ((*pp)->c == c)
			break;
	if (!pp || !*pp) {
		if (!target(b, r, &partition, &code, err)) {
			kb_reply_err(c, code, err);
			return;
		}
		kb_reply_err(c, "INTERNAL", "the broker is shutting down");
		return;
	}
	j = *pp;
	*pp = j->next;
	if (j->rc < 0)
		kb_reply_err(c, j->errnum == ECANCELED ? "BUSY" : "INTERNAL", j->err);
	else
		kb_reply(c, "OK %d %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
		    j->st.passes, j->st.segments, j->st.bytes_read, j->st.bytes_written,
		    j->st.records_read, j->st.records_removed, j->st.tombstones_removed);
	job_free(j);
}

/* STATS lines */
int
kb_compact_stats(struct klog_broker *b, struct klog_buf *out)
{
	struct kb_compactor *k = b->compact;

	if (!k)
		return 0;
	return klog_buf_printf(out, "# HELP klog_compactions_total Compaction jobs finished.\n"
	    "# TYPE klog_compactions_total counter\nklog_compactions_total %" PRIu64 "\n"
	    "# HELP klog_compaction_errors_total Compaction jobs that failed.\n"
	    "# TYPE klog_compaction_errors_total counter\nklog_compaction_errors_total %" PRIu64 "\n"
	    "# HELP klog_compacted_segments_total Segments replaced by compaction.\n"
	    "# TYPE klog_compacted_segments_total counter\nklog_compacted_segments_total %" PRIu64 "\n"
	    "# HELP klog_compaction_read_bytes_total Bytes compaction read.\n"
	    "# TYPE klog_compaction_read_bytes_total counter\n"
	    "klog_compaction_read_bytes_total %" PRId64 "\n"
	    "# HELP klog_compaction_written_bytes_total Bytes compaction wrote.\n"
	    "# TYPE klog_compaction_written_bytes_total counter\n"
	    "klog_compaction_written_bytes_total %" PRId64 "\n"
	    "# HELP klog_compaction_removed_records_total Records compaction removed.\n"
	    "# TYPE klog_compaction_removed_records_total counter\n"
	    "klog_compaction_removed_records_total %" PRId64 "\n",
	    k->jobs, k->errors, k->segments, k->bytes_read, k->bytes_written, k->records_removed);
}
