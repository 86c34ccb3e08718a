/* klog - kbrokerd: group commit in a sync thread, the fsync policies, checkpoints. MIT licence. */
/*
 * The event loop never waits on a disk sync.  Produces only write(2);
 * syncs run in one thread of their own, a job at a time:
 *
 *   loop (before_sleep)   takes every partition written or rolled since
 *                         its last sync (kpart_sync_prepare: dups of the
 *                         files, the log end they cover), the log starts
 *                         retention moved and, every RP_INTERVAL_MS, the
 *                         recovery points, into one job;
 *   sync thread           fdatasyncs/fsyncs the files, then writes the
 *                         checkpoint files (one write each for all
 *                         partitions), and signals an eventfd;
 *   loop (on_synced)      kpart_sync_done per partition: its durable end
 *                         moves, or the partition fails; acknowledgements
 *                         waiting for it go out (or become errors), long
 *                         polls wake; then the next job starts at once if
 *                         partitions were written meanwhile.
 *
 * So while one fdatasync runs, every produce that arrives is written and
 * waits for the next: group commit, one sync per partition per job.
 *
 * Policies.  always: a produce's "OK" waits until its partition is
 * durable past the batch (broker-out.c, kb_reply_ack), and consumers see
 * only durable records: the visible end of a partition (its high
 * watermark) is its durable end, so nothing a consumer saw can vanish in a
 * power loss; with --visible written they see records once written, as
 * under the other policies (Kafka's high watermark of one replica: its log
 * end), at the price of that promise and without waiting for the sync.  interval=MS: a timer asks for a sync of what
 * was written; acknowledgements and reads do not wait.  never: only the
 * files of rolled segments and new directory entries are synced (and
 * everything at shutdown).  Under every policy a failed sync fails the
 * partition (fail-stop): it refuses produces, consumers see only what was
 * durable, and pending acknowledgements become STORAGE_ERROR.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "broker.h"

#define RP_INTERVAL_MS 10000

struct jpart {
	struct bpart *bp;
	struct klog_part *p;            /* the partition object the files came from */
	char topic[KLOG_TOPIC_MAX + 1]; /* for the thread: bp->t may go meanwhile */
	int id;
	struct ksync s;
	int rp;                         /* record s.end as its recovery point */
};

struct job {
	struct jpart *v;
	size_t n, cap;
	struct klog_ckpt_entry *start;  /* log starts to record */
	size_t nstart;
	struct klog_ckpt_entry *rpx;    /* recovery points of partitions closed idle */
	size_t nrpx;
	int ckpt_failed;
	char ckpt_err[KLOG_ERRLEN];
};

struct ksyncer {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *done;
	int quit, busy;
	int efd;
	struct klog_dir *d;
};

static void *
sync_main(void *arg)
{
	struct ksyncer *sy = arg;
	struct klog_ckpt_entry *rp;
	struct job *j;
	size_t i, nrp;
	uint64_t one = 1;
	ssize_t w;

	for (;;) {
		pthread_mutex_lock(&sy->mu);
		while (!sy->todo && !sy->quit)
			pthread_cond_wait(&sy->cv, &sy->mu);
		j = sy->todo;
		sy->todo = NULL;
		pthread_mutex_unlock(&sy->mu);
		if (!j)
			return NULL;
		for (i = 0; i < j->n; i++)
			ksync_run(&j->v[i].s);
		/* recovery points only of what really was synced; those of
		 * closed partitions first, so a reopened one's own comes later */
		rp = calloc(j->nrpx + j->n + 1, sizeof *rp);
		if (rp && j->nrpx)
			memcpy(rp, j->rpx, j->nrpx * sizeof *rp);
		for (i = 0, nrp = rp ? j->nrpx : 0; rp && i < j->n; i++)
			if (j->v[i].rp && !j->v[i].s.err) {
				snprintf(rp[nrp].topic, sizeof rp[nrp].topic, "%s", j->v[i].topic);
				rp[nrp].partition = j->v[i].id;
				rp[nrp++].offset = j->v[i].s.end;
			}
		if (!rp || (nrp && klog_ckpt_update_many(sy->d, "recovery-point-offset-checkpoint",
		    rp, nrp, j->ckpt_err) < 0) || (j->nstart && klog_ckpt_update_many(sy->d,
		    "log-start-offset-checkpoint", j->start, j->nstart, j->ckpt_err) < 0)) {
			j->ckpt_failed = 1;
			if (!rp)
				snprintf(j->ckpt_err, sizeof j->ckpt_err, "checkpoints: out of memory");
		}
		free(rp);
		pthread_mutex_lock(&sy->mu);
		sy->done = j;
		pthread_mutex_unlock(&sy->mu);
		w = write(sy->efd, &one, sizeof one);   /* cannot fail: the loop reads it */
		(void)w;
	}
}

static void
job_free(struct job *j)
{
	size_t i;

	if (!j)
		return;
	for (i = 0; i < j->n; i++)
		ksync_free(&j->v[i].s);
	free(j->v);
	free(j->start);
	free(j->rpx);
	free(j);
}

static struct jpart *
job_add(struct job *j)
{
	if (j->n == j->cap) {
		size_t nc = j->cap ? j->cap * 2 : 16;
		struct jpart *v = realloc(j->v, nc * sizeof *v);
		if (!v)
			return NULL;
		j->v = v;
		j->cap = nc;
	}
	memset(&j->v[j->n], 0, sizeof j->v[j->n]);
	return &j->v[j->n++];
}

/* durable only under always, unless --visible written; a failed
 * partition shows what was synced, whatever the policy */
static int
durable_visible(struct klog_broker *b)
{
	return b->o.fsync_policy == KLOG_FSYNC_ALWAYS && !b->o.visible_written;
}

int64_t
kb_visible_end(struct klog_broker *b, struct bpart *bp)
{
	int64_t v = bp->log_end;

	if (durable_visible(b) || (bp->p && klog_part_failed(bp->p)))
		v = bp->durable;
	/* a replicated partition: consumers see up to the high watermark */
	if (bp->r && v > bp->r->hw)
		v = bp->r->hw;
	return v;
}

/* wake the long polls of a partition whose visible end grew */
void
kb_wake(struct klog_broker *b, struct bpart *bp)
{
	if (!bp->waiters)
		return;
	kb_waiters_move(bp);
	if (!bp->grew && kb_vec_add(&b->growv, &b->ngrow, &b->cgrow, bp) == 0)
		bp->grew = 1;
}

/* a produce wrote to bp (or a roll or retention changed its files) */
void
kb_written(struct klog_broker *b, struct bpart *bp)
{
	int64_t start;

	if (!bp->dirty) {
		bp->dirty = 1;
		kb_vec_add(&b->dirtyv, &b->ndirty, &b->cdirty, bp);
	}
	if (b->o.fsync_policy == KLOG_FSYNC_ALWAYS)
		b->want_sync = 1;
	if (!durable_visible(b) || bp->r)
		kb_wake(b, bp);         /* consumers, or followers (they fetch what is written) */
	if (bp->r)
		kb_repl_durable(b, bp); /* under interval and never, written is acknowledged */
	if (bp->p && kpart_take_log_start(bp->p, &start)) {
		if (kb_vec_add(&b->startv, &b->nstart, &b->cstart, bp) == 0)
			bp->refs++;
	}
}

/* hand the next job to the thread: every dirty partition, log starts, and
 * recovery points when they are due */
static void
commit_start(struct klog_broker *b)
{
	struct ksyncer *sy = b->syncer;
	int data = b->want_sync || b->o.fsync_policy == KLOG_FSYNC_ALWAYS;
	int rp = klog_now_ms() >= b->ckpt_due;
	char err[KLOG_ERRLEN];
	struct job *j;
	size_t i, keep = 0;
	struct btopic *t;
	int k;

	if (!sy || sy->busy || (!b->ndirty && !b->nstart && !b->nrpv && !rp))
		return;
	if (!(j = calloc(1, sizeof *j)))
		return;
	if (rp) {
		/* every partition whose durable end moved since its last record */
		b->ckpt_due = klog_now_ms() + RP_INTERVAL_MS;
		for (i = 0; i < THASH; i++)
			for (t = b->topics[i]; t; t = t->next)
				for (k = 0; k < t->np; k++) {
					struct bpart *bp = t->parts[k];
					if (bp->p && !bp->dirty && kpart_rp_stale(bp->p) &&
					    kb_vec_add(&b->dirtyv, &b->ndirty, &b->cdirty, bp) == 0)
						bp->dirty = 1;
				}
	}
	for (i = 0; i < b->ndirty; i++) {
		struct bpart *bp = b->dirtyv[i];
		struct jpart *jp;
		int n;
		if (!bp->p || bp->deleted || klog_part_failed(bp->p)) {
			bp->dirty = 0;
			continue;
		}
		if (!(jp = job_add(j))) {
			b->dirtyv[keep++] = bp;
			continue;
		}
		n = kpart_sync_prepare(bp->p, &jp->s, (data ? 0 : KSYNC_PENDING) |
		    (rp ? KSYNC_INDEXES : 0), err);
		if (n < 0 || (n == 0 && !(rp && kpart_rp_stale(bp->p)))) {
			j->n--;
			if (n < 0)
				kb_log(b, LOG_ERR, "%s", err);
			/* unsynced data under interval/never, or descriptors short:
			 * stays dirty for a later job */
			if (n < 0 || (!data && bp->log_end > bp->durable))
				b->dirtyv[keep++] = bp;
			else
				bp->dirty = 0;
			continue;
		}
		jp->bp = bp;
		jp->p = bp->p;
		jp->rp = rp;
		snprintf(jp->topic, sizeof jp->topic, "%s", bp->t->name);
		jp->id = bp->id;
		bp->refs++;
		bp->syncing = 1;
		if (data)
			bp->dirty = 0;
		else
			b->dirtyv[keep++] = bp;
	}
	b->ndirty = keep;
	if (data)
		b->want_sync = 0;
	if (b->nstart && (j->start = calloc(b->nstart, sizeof *j->start))) {
		for (i = 0; i < b->nstart; i++) {
			struct bpart *bp = b->startv[i];
			if (!bp->deleted && bp->p) {
				struct klog_part_info pi;
				if (klog_part_info(bp->p, &pi, err) == 0) {
					snprintf(j->start[j->nstart].topic, sizeof j->start[j->nstart].topic,
					    "%s", bp->t->name);
					j->start[j->nstart].partition = bp->id;
					j->start[j->nstart++].offset = pi.log_start;
				}
			}
			kb_part_put(b, bp);
		}
		b->nstart = 0;
	}
	if (b->nrpv) {
		j->rpx = b->rpv;
		j->nrpx = b->nrpv;
		b->rpv = NULL;
		b->nrpv = b->crpv = 0;
	}
	if (!j->n && !j->nstart && !j->nrpx) {
		job_free(j);
		return;
	}
	sy->busy = 1;
	pthread_mutex_lock(&sy->mu);
	sy->todo = j;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
}

/* the thread finished a job: apply it */
static void
on_synced(struct klog_loop *l, int fd, void *data, int mask)
{
	struct klog_broker *b = data;
	struct ksyncer *sy = b->syncer;
	char err[KLOG_ERRLEN];
	uint64_t n;
	struct job *j;
	size_t i;

	if (read(fd, &n, sizeof n) < 0)
		return;
	pthread_mutex_lock(&sy->mu);
	j = sy->done;
	sy->done = NULL;
	pthread_mutex_unlock(&sy->mu);
	if (!j)
		return;
	sy->busy = 0;
	b->commits++;
	if (j->ckpt_failed)
		kb_log(b, LOG_ERR, "%s", j->ckpt_err);
	for (i = 0; i < j->n; i++) {
		struct jpart *jp = &j->v[i];
		struct bpart *bp = jp->bp;
		int64_t before = bp->durable;
		b->fsyncs += jp->s.n;
		bp->syncing = 0;
		if (bp->p != jp->p) {           /* closed or reopened meanwhile */
			ksync_free(&jp->s);
		} else if (kpart_sync_done(bp->p, &jp->s, err) < 0) {
			b->fsync_errors++;
			kb_log(b, LOG_CRIT, "%s", err);
		} else {
			bp->durable = kpart_synced_end(bp->p);
			if (jp->rp && !j->ckpt_failed)
				kpart_recorded_recovery_point(bp->p, jp->s.end);
		}
		if (bp->durable > before || (bp->p && klog_part_failed(bp->p)))
			kb_wake(b, bp);
		if (bp->r && bp->durable > before)
			kb_repl_durable(b, bp);
		kb_part_put(b, bp);
	}
	job_free(j);
	kb_commit_waiters(b);
	kb_slot_resume(b);
	commit_start(b);
}

/* wait (blocking the loop) until no sync job holds bp: one about to be
 * truncated must not have its old end recorded as its recovery point
 * by a job that was under way (that would claim synced data it no longer
 * has).  At most two jobs: the one out, and one it started that took bp */
void
kb_sync_quiesce(struct klog_broker *b, struct bpart *bp)
{
	struct ksyncer *sy = b->syncer;
	struct pollfd pfd;

	while (sy && bp->syncing && sy->busy) {
		pfd.fd = sy->efd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return;
		if (pfd.revents & POLLIN)
			on_synced(b->loop, sy->efd, b, KLOG_READABLE);
	}
}

int
kb_sync_start(struct klog_broker *b, char *err)
{
	struct ksyncer *sy = calloc(1, sizeof *sy);

	if (!sy)
		return kerr_sys(err, "sync thread");
	sy->d = b->d;
	if ((sy->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(sy);
		return kerr_sys(err, "sync thread: eventfd");
	}
	pthread_mutex_init(&sy->mu, NULL);
	pthread_cond_init(&sy->cv, NULL);
	if ((errno = pthread_create(&sy->thr, NULL, sync_main, sy)) != 0) {
		close(sy->efd);
		free(sy);
		return kerr_sys(err, "cannot start the sync thread");
	}
	b->syncer = sy;
	b->ckpt_due = klog_now_ms() + RP_INTERVAL_MS;
	if (klog_loop_add(b->loop, sy->efd, KLOG_READABLE, on_synced, b) < 0)
		return kerr_sys(err, "sync thread: event loop");
	return 0;
}

/* wait for the job out, apply it, end the thread */
void
kb_sync_stop(struct klog_broker *b)
{
	struct ksyncer *sy = b->syncer;

	if (!sy)
		return;
	pthread_mutex_lock(&sy->mu);
	sy->quit = 1;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	pthread_join(sy->thr, NULL);
	if (sy->todo) {         /* never taken: run it here */
		size_t i;
		for (i = 0; i < sy->todo->n; i++)
			ksync_run(&sy->todo->v[i].s);
		sy->done = sy->todo;
		sy->todo = NULL;
	}
	if (sy->done) {
		uint64_t one = 1;
		if (write(sy->efd, &one, sizeof one) == sizeof one)
			on_synced(b->loop, sy->efd, b, KLOG_READABLE);
	}
	sy->busy = 1;           /* no more jobs */
	klog_loop_del(b->loop, sy->efd, KLOG_READABLE);
	close(sy->efd);
	pthread_mutex_destroy(&sy->mu);
	pthread_cond_destroy(&sy->cv);
	free(sy);
	b->syncer = NULL;
}

/* at shutdown, with the thread stopped: sync everything, record every
 * recovery point and log start in one write each */
void
kb_sync_all(struct klog_broker *b)
{
	struct klog_ckpt_entry *rp = NULL, *ls = NULL;
	size_t nrp = 0, nls = 0, cap = 0, h;
	char err[KLOG_ERRLEN];
	struct btopic *t;
	int64_t off;
	int k;

	for (h = 0; h < THASH; h++)
		for (t = b->topics[h]; t; t = t->next)
			cap += (size_t)t->np;
	cap += b->nrpv;
	if (cap && (!(rp = calloc(cap, sizeof *rp)) || !(ls = calloc(cap, sizeof *ls)))) {
		kb_log(b, LOG_ERR, "shutdown: out of memory for checkpoints");
		cap = 0;
	}
	/* partitions closed idle since the last job first */
	if (cap && b->nrpv) {
		memcpy(rp, b->rpv, b->nrpv * sizeof *rp);
		nrp = b->nrpv;
	}
	b->nrpv = 0;
	for (h = 0; h < THASH; h++)
		for (t = b->topics[h]; t; t = t->next)
			for (k = 0; k < t->np; k++) {
				struct bpart *bp = t->parts[k];
				if (!bp->p || klog_part_failed(bp->p))
					continue;
				if (kpart_needs_sync(bp->p)) {
					b->fsyncs++;
					if (klog_part_sync(bp->p, err) < 0) {
						b->fsync_errors++;
						kb_log(b, LOG_CRIT, "%s", err);
						continue;
					}
				}
				bp->durable = kpart_synced_end(bp->p);
				if (cap && kpart_take_recovery_point(bp->p, &off)) {
					snprintf(rp[nrp].topic, sizeof rp[nrp].topic, "%s", t->name);
					rp[nrp].partition = k;
					rp[nrp++].offset = off;
				}
				if (cap && kpart_take_log_start(bp->p, &off)) {
					snprintf(ls[nls].topic, sizeof ls[nls].topic, "%s", t->name);
					ls[nls].partition = k;
					ls[nls++].offset = off;
				}
			}
	if (nrp && klog_ckpt_update_many(b->d, "recovery-point-offset-checkpoint", rp, nrp, err) < 0)
		kb_log(b, LOG_ERR, "%s", err);
	if (nls && klog_ckpt_update_many(b->d, "log-start-offset-checkpoint", ls, nls, err) < 0)
		kb_log(b, LOG_ERR, "%s", err);
	free(rp);
	free(ls);
}

/* --- the loop's hooks -------------------------------------------------- */

void
kb_before_sleep(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	size_t i, keep;
	int budget = WAKE_BUDGET;
	struct conn *c;

	b->turn++;
	/* connections whose output drained: run what they sent meanwhile */
	if (b->nresume) {
		b->nresume = 0;
		for (c = b->conns; c; c = c->next)
			if (c->resume && c->fd >= 0) {
				c->resume = 0;
				c->paused = 0;
				kb_conn_process(c);
				if (c->fd >= 0 && !c->paused)
					kb_conn_want_read(c);
				if (c->fd >= 0)
					kb_conn_flush(c);
			}
	}
	/* check the fetches waiting on partitions that grew, at most
	 * WAKE_BUDGET a turn; partitions with more stay for the next turn,
	 * which then does not block */
	for (i = keep = 0; i < b->ngrow; i++) {
		struct bpart *bp = b->growv[i];
		if (budget > 0)
			budget -= kb_waiters_check(bp, budget);
		if (bp->waking)
			b->growv[keep++] = bp;
		else
			bp->grew = 0;
	}
	b->ngrow = keep;
	if (keep)
		klog_loop_nowait(l);
	kb_sfile_release(b);
	commit_start(b);
	kb_reap(b);
}

int64_t
kb_sync_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;

	b->want_sync = 1;
	commit_start(b);
	return b->o.fsync_interval_ms;
}
