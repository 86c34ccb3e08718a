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

static unsigned
thash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % THASH;
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

/*
 * Open (and so recover) a partition.  One that cannot be opened -- damage
 * below its recovery point, a failed sync of what it found -- is fenced:
 * it stays in the registry offline, with the reason, so that its errors
 * name it, STATS and DESCRIBE show it, and REPAIR can bring it back,
 * while every other partition serves.
 */
int
kb_part_open(struct klog_broker *b, struct bpart *bp, char *err)
{
	struct klog_part_info pi;
	char e[KLOG_ERRLEN];

	free(bp->offline);
	bp->offline = NULL;
	if (!(bp->p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_WRITE | KLOG_BROKER, e)) ||
	    klog_part_info(bp->p, &pi, e) < 0) {
		if (bp->p)
			kpart_discard(bp->p);
		bp->p = NULL;
		if (!(bp->offline = malloc(KLOG_ERRLEN)))
			return kerr_sys(err, "partition '%s-%d'", bp->t->name, bp->id);
		snprintf(bp->offline, KLOG_ERRLEN, "partition '%s-%d' is offline: %.400s", bp->t->name,
		    bp->id, e);
		kb_log(b, LOG_ERR, "%s", bp->offline);
		return kerr(err, "%s", bp->offline);
	}
	bp->log_end = pi.log_end;
	bp->durable = kpart_synced_end(bp->p);
	/* what it found past its recovery point is synced at open */
	return 0;
}

/* 0 when bp can serve; else -1, code and err say why */
int
kb_part_online(struct bpart *bp, const char **code, char *err)
{
	if (bp->p)
		return 0;
	*code = "OFFLINE";
	return kerr(err, "%s", bp->offline ? bp->offline : "partition is offline");
}

/* retention by time and size; the files go at once, the directory and the
 * log-start checkpoint with the next sync */
void
kb_retention(struct klog_broker *b, struct bpart *bp)
{
	char e[KLOG_ERRLEN];

	if (!bp->p || klog_part_failed(bp->p))
		return;
	if (klog_part_retention(bp->p, klog_now_ms(), e) < 0)
		kb_log(b, LOG_ERR, "%s", e);
	kb_written(b, bp);
}

/* what DESCRIBE and STATS show; an offline partition as its files say */
int
kb_part_info(struct klog_broker *b, struct bpart *bp, struct klog_part_info *pi, char *err)
{
	struct klog_part *p;

	if (bp->p)
		return klog_part_info(bp->p, pi, err);
	memset(pi, 0, sizeof *pi);
	pi->log_start = pi->log_end = -1;
	if ((p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_RDONLY, NULL))) {
		klog_part_info(p, pi, NULL);
		klog_part_close(p);
	}
	snprintf(pi->state, sizeof pi->state, "offline");
	return 0;
}

void
kb_part_put(struct klog_broker *b, struct bpart *bp)
{
	if (--bp->refs > 0 || !bp->deleted)
		return;
	free(bp->offline);
	free(bp);
}

/* open partitions [t->np, np); those that cannot be opened stay offline */
int
kb_topic_grow(struct klog_broker *b, struct btopic *t, int np, char *err)
{
	struct bpart **v;

	if (np <= t->np)
		return 0;
	if (!(v = realloc(t->parts, (size_t)np * sizeof *v)))
		return kerr_sys(err, "topic '%s'", t->name);
	t->parts = v;
	while (t->np < np) {
		struct bpart *bp = calloc(1, sizeof *bp);
		char e[KLOG_ERRLEN];
		if (!bp)
			return kerr_sys(err, "topic '%s'", t->name);
		bp->t = t;
		bp->id = t->np;
		if (kb_part_open(b, bp, e) < 0 && !bp->offline) {
			free(bp);
			return kerr(err, "%s", e);
		}
		t->parts[t->np++] = bp;
	}
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
		kb_waiters_fail(bp, "UNKNOWN_TOPIC", "topic deleted");
		vec_del(b->dirtyv, &b->ndirty, bp);
		vec_del(b->growv, &b->ngrow, bp);
		bp->dirty = bp->grew = 0;
		if (unlink_it)
			kpart_discard(bp->p);
		else
			klog_part_close(bp->p);
		bp->p = NULL;
		bp->deleted = 1;
		bp->refs++;
		kb_part_put(b, bp);     /* freed now, or by the last acknowledgement or job */
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
