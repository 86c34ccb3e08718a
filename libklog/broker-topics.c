/* klog - kbrokerd: the topic registry (topics and partitions the broker holds open). MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

/* --- topics and partitions ------------------------------------------- */

/* FNV-1a: the broker's hash tables (topics here, source addresses in
 * broker-conn.c) */
unsigned
kb_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static unsigned
thash(const char *s)
{
	return kb_hash(s) % THASH;
}

struct btopic *
kb_topic_find(struct klog_broker *b, const char *name)
{
	struct btopic *t;

	for (t = b->topics[thash(name)]; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* --- the partition cache (see broker.h) ------------------------------- */

static void
lru_unlink(struct klog_broker *b, struct bpart *bp)
{
	if (bp->lprev)
		bp->lprev->lnext = bp->lnext;
	else
		b->lru_head = bp->lnext;
	if (bp->lnext)
		bp->lnext->lprev = bp->lprev;
	else
		b->lru_tail = bp->lprev;
	bp->lprev = bp->lnext = NULL;
}

static void
lru_push(struct klog_broker *b, struct bpart *bp)
{
	bp->lprev = NULL;
	bp->lnext = b->lru_head;
	if (b->lru_head)
		b->lru_head->lprev = bp;
	else
		b->lru_tail = bp;
	b->lru_head = bp;
}

/* can bp be closed now without losing or delaying anything?  *rp: the
 * recovery point to record for it, -1 if none */
static int
idle(struct bpart *bp, int64_t *rp)
{
	return bp->p && !bp->deleted && !bp->dirty && !bp->grew && !bp->syncing && !bp->refs &&
	    !bp->waiters && bp->durable == bp->log_end && kpart_idle(bp->p, rp);
}

/* the recovery point of a partition closed idle, for the next sync job
 * (broker-sync.c); should it be lost, the next open syncs what it finds */
static void
rp_queue(struct klog_broker *b, struct bpart *bp, int64_t rp)
{
	struct klog_ckpt_entry *e;

	if (b->nrpv == b->crpv) {
		size_t nc = b->crpv ? b->crpv * 2 : 64;
		if (!(e = realloc(b->rpv, nc * sizeof *e)))
			return;
		b->rpv = e;
		b->crpv = nc;
	}
	e = &b->rpv[b->nrpv++];
	snprintf(e->topic, sizeof e->topic, "%s", bp->t->name);
	e->partition = bp->id;
	e->offset = rp;
}

/* close an idle partition (see idle), remembering what DESCRIBE shows */
void
kb_part_close(struct klog_broker *b, struct bpart *bp)
{
	int64_t rp;

	if (!bp->p)
		return;
	if (kpart_idle(bp->p, &rp) && rp >= 0)
		rp_queue(b, bp, rp);
	bp->ci_known = klog_part_info(bp->p, &bp->ci, NULL) == 0;
	lru_unlink(b, bp);
	b->nopen--;
	b->part_closes++;
	kpart_discard(bp->p);
	bp->p = NULL;
}

/* a slot for one more open partition: close idle ones, coldest first */
static int
make_room(struct klog_broker *b)
{
	struct bpart *bp, *prev;
	int64_t rp;

	for (bp = b->lru_tail; bp && b->nopen >= b->max_open; bp = prev) {
		prev = bp->lprev;
		if (idle(bp, &rp))
			kb_part_close(b, bp);
	}
	if (b->nopen < b->max_open)
		return 0;
	/* written ones become idle once synced: ask for it */
	b->want_sync = 1;
	return -1;
}

/*
 * Before a request runs: one for a closed partition while the cache is
 * full of busy ones (written, not yet synced; long polls) waits, its
 * connection paused, until a sync job or the idle timer frees a slot
 * (kb_slot_resume) -- for at most SLOT_WAIT_MS, then it runs and gets
 * BUSY.  So a producer pipelining to more partitions than may be open is
 * slowed down, not refused.  1: wait.
 */
#define SLOT_WAIT_MS 10000

int
kb_slot_wait(struct conn *c, struct klog_req *r)
{
	struct klog_broker *b = c->b;
	struct btopic *t;
	int64_t p;

	if (r->verb == KLOG_V_COMPACT)
		return kb_compact_wait(c, r);   /* broker-compact.c */
	if (r->verb != KLOG_V_PRODUCE && r->verb != KLOG_V_FETCH && r->verb != KLOG_V_OFFSETS &&
	    r->verb != KLOG_V_TIMEOFFSET)
		goto run;
	if (b->nopen < b->max_open || !(t = kb_topic_find(b, r->argv[1])) ||
	    klog_parse_i64(r->argv[2], &p) < 0 || p < 0 || p >= t->np || t->parts[p]->p ||
	    t->parts[p]->offline || make_room(b) == 0)
		goto run;
	if (!c->slot_wait) {
		c->slot_wait = klog_now_ms();
		b->nslot_wait++;
	} else if (klog_now_ms() - c->slot_wait > SLOT_WAIT_MS)
		goto run;
	c->paused = 1;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE);
	return 1;
run:
	if (c->slot_wait) {
		c->slot_wait = 0;
		if (b->nslot_wait > 0)
			b->nslot_wait--;
	}
	return 0;
}

/* slots may have come free: let the waiting connections try again (the
 * before-sleep hook runs them) */
void
kb_slot_resume(struct klog_broker *b)
{
	struct conn *c;

	if (!b->nslot_wait)
		return;
	b->nslot_wait = 0;      /* counted again: closed ones drop out */
	for (c = b->conns; c; c = c->next)
		if (c->slot_wait && c->fd >= 0) {
			b->nslot_wait++;
			if (!c->resume) {
				c->resume = 1;
				b->nresume++;
			}
		}
}

/* the descriptor budget: max_open from the limit, or a given one checked
 * against it; room is kept for connections and the broker's own files */
int
kb_cache_init(struct klog_broker *b, char *err)
{
	struct rlimit rl;
	long lim = 1024, room, avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576 ? 1048576 : (long)rl.rlim_cur;
	room = (long)b->o.max_conns + 64;
	if (room > lim / 2)
		room = lim / 2;
	avail = lim - room;
	if (b->o.max_open_partitions > 0) {
		if ((long)b->o.max_open_partitions * KB_FDS_PER_PART > lim - 64) {
			errno = EMFILE;
			return kerr(err, "--max-open-partitions %d needs about %ld file descriptors "
			    "(%d each); the limit is %ld (ulimit -n)", b->o.max_open_partitions,
			    (long)b->o.max_open_partitions * KB_FDS_PER_PART + 64, KB_FDS_PER_PART, lim);
		}
		b->max_open = b->o.max_open_partitions;
	} else {
		/* a sync job holds a dup of each file it syncs, and sealed
		 * segments being read one more each: half the rest */
		b->max_open = (int)(avail / KB_FDS_PER_PART / 2);
		if (b->max_open < 1) {
			errno = EMFILE;
			return kerr(err, "file descriptor limit %ld is too low (ulimit -n)", lim);
		}
	}
	return 0;
}

/*
 * Open (and so recover) a partition, closing idle ones if the cache is
 * full.  One that cannot be opened -- damage below its recovery point, a
 * failed sync of what it found -- is fenced: it stays in the registry
 * offline, with the reason, so that its errors name it, STATS and
 * DESCRIBE show it, and REPAIR can bring it back, while every other
 * partition serves.  Running out of descriptors or memory fences nothing:
 * -1 with errno EMFILE, ENFILE, ENOMEM or EBUSY (no idle one to close).
 */
int
kb_part_open(struct klog_broker *b, struct bpart *bp, char *err)
{
	struct klog_part_info pi;
	char e[KLOG_ERRLEN];
	int en;

	if (bp->p)
		return 0;
	if (b->nopen >= b->max_open && make_room(b) < 0) {
		b->part_busy++;
		errno = EBUSY;
		return kerr(err, "partition '%s-%d': %d partitions are open and none is idle "
		    "(--max-open-partitions); try again", bp->t->name, bp->id, b->nopen);
	}
	if (!(bp->p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_WRITE | KLOG_BROKER, e)) ||
	    klog_part_info(bp->p, &pi, e) < 0) {
		en = errno;
		if (bp->p)
			kpart_discard(bp->p);
		bp->p = NULL;
		if (en == EMFILE || en == ENFILE || en == ENOMEM) {
			b->part_busy++;
			kb_log(b, LOG_WARNING, "%s", e);
			errno = en;
			return kerr(err, "%s", e);
		}
		free(bp->offline);
		if (!(bp->offline = malloc(KLOG_ERRLEN)))
			return kerr_sys(err, "partition '%s-%d'", bp->t->name, bp->id);
		snprintf(bp->offline, KLOG_ERRLEN, "partition '%s-%d' is offline: %.400s", bp->t->name,
		    bp->id, e);
		kb_log(b, LOG_ERR, "%s", bp->offline);
		return kerr(err, "%s", bp->offline);
	}
	free(bp->offline);
	bp->offline = NULL;
	bp->ci_known = 0;
	lru_push(b, bp);
	b->nopen++;
	b->part_opens++;
	bp->log_end = pi.log_end;
	bp->durable = kpart_synced_end(bp->p);
	/* what it found past its recovery point is synced at open; what
	 * retention deleted at open (directory, log start) goes with a job */
	if (kpart_needs_sync(bp->p))
		kb_written(b, bp);
	return 0;
}

/* what DESCRIBE shows of a partition never written (no directory) */
static void
empty_info(struct bpart *bp)
{
	memset(&bp->ci, 0, sizeof bp->ci);
	snprintf(bp->ci.state, sizeof bp->ci.state, "online");
	bp->ci_known = 1;
}

/*
 * The start-up sweep: every partition that has a directory is opened once
 * (recovered, or fenced) and closed again if idle, KB_SWEEP_BATCH per loop
 * turn; the retention timer starts it again, so that closed partitions
 * get their retention too.  A timer callback (0: again next turn).
 */
int64_t
kb_sweep(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	char e[KLOG_ERRLEN], nm[KLOG_TOPIC_MAX + 16];
	struct btopic *t;
	int64_t rp;
	int n = 0;

	if (b->draining) {
		b->sweep_timer = -1;
		return -1;
	}
	for (; b->sweep_h < THASH; b->sweep_h++)
		for (t = b->topics[b->sweep_h]; t; t = t->next)
			for (; t->swept < t->np; t->swept++) {
				struct bpart *bp = t->parts[t->swept];
				if (bp->p || bp->offline)
					continue;
				snprintf(nm, sizeof nm, "%s-%d", t->name, bp->id);
				if (faccessat(b->d->fd, nm, F_OK, 0) < 0) {
					empty_info(bp);         /* never written (topic.c) */
					continue;
				}
				if (n++ == KB_SWEEP_BATCH)
					return 0;
				if (kb_part_open(b, bp, e) < 0 && !bp->offline)
					return 100;     /* no room now */
				if (idle(bp, &rp))
					kb_part_close(b, bp);
			}
	b->sweeps++;
	b->sweep_timer = -1;
	return -1;
}

/* 0 when bp can serve (opened if it was closed); else -1, code and err
 * say why */
int
kb_part_online(struct bpart *bp, const char **code, char *err)
{
	struct klog_broker *b;

	if (bp->p) {
		b = bp->t->b;
		if (b->lru_head != bp) {
			lru_unlink(b, bp);
			lru_push(b, bp);
		}
		return 0;
	}
	if (bp->deleted || bp->offline) {
		*code = "OFFLINE";
		return kerr(err, "%s", bp->offline ? bp->offline : "partition is offline");
	}
	if (kb_part_open(bp->t->b, bp, err) < 0) {
		*code = bp->offline ? "OFFLINE" : "BUSY";
		return -1;
	}
	return 0;
}

/* retention by time and size; the files go at once, the directory and the
 * log-start checkpoint with the next sync */
void
kb_retention(struct klog_broker *b, struct bpart *bp)
{
	char e[KLOG_ERRLEN];

	if (!bp->p || klog_part_failed(bp->p))
		return;
	kb_compact_lock(b, 1);          /* not while a compaction swaps segments */
	if (klog_part_retention(bp->p, klog_now_ms(), e) < 0)
		kb_log(b, LOG_ERR, "%s", e);
	kb_compact_lock(b, 0);
	kb_written(b, bp);
}

/* what DESCRIBE and STATS show; a closed one as it was closed, or (not
 * opened since start-up) as its files say, online: it opens on use; an
 * offline one as its files say */
int
kb_part_info(struct klog_broker *b, struct bpart *bp, struct klog_part_info *pi, char *err)
{
	struct klog_part *p;

	if (bp->p)
		return klog_part_info(bp->p, pi, err);
	if (bp->ci_known && !bp->offline) {
		*pi = bp->ci;           /* closed: nobody else writes it */
		return 0;
	}
	memset(pi, 0, sizeof *pi);
	pi->log_start = pi->log_end = -1;
	if ((p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_RDONLY, NULL))) {
		klog_part_info(p, pi, NULL);
		klog_part_close(p);
	}
	snprintf(pi->state, sizeof pi->state, bp->offline ? "offline" : "online");
	return 0;
}

void
kb_part_put(struct klog_broker *b, struct bpart *bp)
{
	if (--bp->refs > 0 || !bp->deleted)
		return;
	free(bp->offline);
	free(bp->rate);
	free(bp);
}

/* partitions [t->np, np), closed: they open at first use */
int
kb_topic_grow(struct klog_broker *b, struct btopic *t, int np, char *err)
{
	struct bpart **v;
	int old = t->np;

	if (np <= t->np)
		return 0;
	if (!(v = realloc(t->parts, (size_t)np * sizeof *v)))
		return kerr_sys(err, "topic '%s'", t->name);
	t->parts = v;
	while (t->np < np) {
		struct bpart *bp = calloc(1, sizeof *bp);
		if (!bp)
			return kerr_sys(err, "topic '%s'", t->name);
		bp->t = t;
		bp->id = t->np;
		if (b->fresh)
			empty_info(bp); /* CREATE, ALTER: made now, empty */
		t->parts[t->np++] = bp;
		b->nparts++;
	}
	/* new partitions, empty: the sweep need not look at them */
	if (b->fresh && t->swept >= old)
		t->swept = np;
	return 0;
}

struct btopic *
kb_topic_load(struct klog_broker *b, const char *name, char *err)
{
	struct klog_config cfg;
	struct btopic *t;
	unsigned h;

	if (klog_topic_load(b->d, name, &cfg, err) < 0)
		return NULL;
	if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name))) {
		free(t);
		kerr_sys(err, "topic '%s'", name);
		return NULL;
	}
	t->b = b;
	h = thash(name);
	t->next = b->topics[h];
	b->topics[h] = t;
	if (kb_topic_grow(b, t, cfg.partitions, err) < 0)
		return NULL;    /* kept, partially open: retried on use */
	return t;
}

static void
vec_del(struct bpart **v, size_t *n, struct bpart *bp)
{
	size_t i, j;

	for (i = j = 0; i < *n; i++)
		if (v[i] != bp)
			v[j++] = v[i];
	*n = j;
}

int
kb_vec_add(struct bpart ***v, size_t *n, size_t *cap, struct bpart *bp)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct bpart **nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = bp;
	return 0;
}

/* unlink_it: the topic is being deleted (its partitions are dropped
 * without a sync); else the broker is stopping (closed cleanly) */
void
kb_topic_free(struct klog_broker *b, struct btopic *t, int unlink_it)
{
	struct btopic **pp;
	int i;

	for (i = 0; i < t->np; i++) {
		struct bpart *bp = t->parts[i];
		kb_repl_part_drop(b, bp);
		kb_waiters_fail(bp, "UNKNOWN_TOPIC", "topic deleted");
		vec_del(b->dirtyv, &b->ndirty, bp);
		vec_del(b->growv, &b->ngrow, bp);
		bp->dirty = bp->grew = 0;
		if (bp->p) {
			lru_unlink(b, bp);
			b->nopen--;
		}
		if (unlink_it)
			kpart_discard(bp->p);
		else
			klog_part_close(bp->p);
		bp->p = NULL;
		b->nparts--;
		bp->deleted = 1;
		bp->refs++;
		kb_part_put(b, bp);     /* freed now, or by the last acknowledgement or job */
	}
	if (unlink_it) {
		size_t j, k;
		/* recovery points of its closed partitions are not recorded */
		for (j = k = 0; j < b->nrpv; j++)
			if (strcmp(b->rpv[j].topic, t->name))
				b->rpv[k++] = b->rpv[j];
		b->nrpv = k;
	}
	if (unlink_it)
		for (pp = &b->topics[thash(t->name)]; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
	free(t->parts);
	free(t->name);
	free(t);
}

/* the topic, loading one created behind our back; code set on failure */
struct btopic *
kb_topic_get(struct klog_broker *b, const char *name, const char **code, char *err)
{
	struct btopic *t;

	if (klog_topic_name_check(name, err) < 0) {
		*code = "INVALID";
		return NULL;
	}
	if ((t = kb_topic_find(b, name)))
		return t;
	if (!klog_topic_exists(b->d, name)) {
		*code = "UNKNOWN_TOPIC";
		kerr(err, "no such topic '%s'", name);
		return NULL;
	}
	if (!(t = kb_topic_load(b, name, err)))
		*code = "INTERNAL";
	return t;
}

struct bpart *
kb_part_get(struct klog_broker *b, const char *name, const char *ps, const char **code, char *err)
{
	struct btopic *t = kb_topic_get(b, name, code, err);
	struct klog_config cfg;
	int64_t p;

	if (!t)
		return NULL;
	if (klog_parse_i64(ps, &p) < 0 || p < 0 || p > INT32_MAX) {
		*code = "BAD_REQUEST";
		kerr(err, "bad partition '%s'", ps);
		return NULL;
	}
	if (p >= t->np) {
		/* grown by someone else? */
		if (klog_topic_load(b->d, name, &cfg, err) == 0 && cfg.partitions > t->np &&
		    kb_topic_grow(b, t, cfg.partitions, err) < 0) {
			*code = "INTERNAL";
			return NULL;
		}
		if (p >= t->np) {
			*code = "UNKNOWN_PARTITION";
			kerr(err, "topic '%s' has %d partition%s", name, t->np, t->np == 1 ? "" : "s");
			return NULL;
		}
	}
	return t->parts[p];
}
