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

int
kb_part_open(struct klog_broker *b, struct bpart *bp, char *err)
{
	struct klog_part_info pi;

	bp->p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_WRITE | KLOG_BROKER, err);
	if (!bp->p)
		return -1;
	if (klog_part_info(bp->p, &pi, err) < 0)
		return -1;
	bp->log_end = pi.log_end;
	return 0;
}

/* open partitions [t->np, np) */
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
		if (!bp)
			return kerr_sys(err, "topic '%s'", t->name);
		bp->t = t;
		bp->id = t->np;
		if (kb_part_open(b, bp, err) < 0) {
			klog_part_close(bp->p);
			free(bp);
			return -1;
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
		klog_part_close(bp->p);
		free(bp);
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
