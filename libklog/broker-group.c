/* klog - kbrokerd: the consumer group coordinator. MIT licence. */
/*
 * The broker coordinates consumer groups over the text protocol (the
 * commands are specified in proto.c and klog-protocol.7).  Everything
 * runs in the event loop; nothing here blocks but the lazy load of a
 * group's __consumer_offsets partition.
 *
 * Members.  A member joins through a connection (JOIN) and is bound to
 * it: when that connection closes, a dynamic member is removed at once;
 * a static one (an instance id) keeps its partitions until its session
 * times out, so that the same instance, joining again, gets them back
 * without moving anybody else's (the old member id is then fenced).  A
 * member not heard from (HEARTBEAT, COMMIT, RELEASE) for its session
 * timeout is removed by a timer.
 *
 * Generations and handover.  Every change of membership (or of the
 * subscribed topics' partitions) is a new generation: the coordinator
 * computes the target owner of each partition with the group's strategy
 * (kg_assign, prev = the current owners).  A partition without an owner
 * goes to its target at once; one whose owner is not its target stays
 * with that owner, flagged for revocation in its heartbeat answers, until
 * the owner RELEASEs it (after committing) or is removed.  So at no time
 * do two members own a partition.
 *
 * Fencing.  COMMIT and RELEASE name the member and a generation; the
 * member must be in the group, the generation one it has been part of
 * (from the one it joined in to the current one) and every partition
 * owned by it; else FENCED and nothing is written.
 *
 * Committed offsets.  A commit is appended as Kafka's offset-commit
 * records (key 1 / value 3) to __consumer_offsets partition
 * klog_offsets_partition(group) through the broker's own write path (the
 * partition object, group commit in the sync thread) and answered once
 * durable, as a produce with acks all.  The topic is created, 50
 * partitions and cleanup.policy=compact, at the first commit.  The
 * coordinator caches the committed offsets: a group's partition of
 * __consumer_offsets is read once, at the first command that needs it
 * (the last record per key wins, tombstones delete, a record that does
 * not decode is skipped with a warning naming its offset).  Each new
 * generation is recorded as Kafka's group metadata record (key 2 / value
 * 3), written from the timer once the topic exists; loading takes the
 * generation from it, so generations go on across restarts.  A group that
 * is left empty with no commit gets a tombstone instead, and goes.
 *
 * A failed sync of a __consumer_offsets partition (fail-stop, as for any
 * partition) makes the coordinator read its groups' offsets again, up to
 * the durable end: an offset whose commit failed is never served.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"
#include "group.h"

#define TICK_MS 50

/* --- offsets.c and group-assign.c ------------------------------------- */

static int
gpart(const char *group)
{
	return klog_offsets_partition(group);
}

static int
genc(const struct klog_orec *r, struct klog_buf *k, struct klog_buf *v, char *err)
{
	return klog_orec_encode(r, k, v, err);
}

static int
gdec(struct kbg *G, const void *k, int32_t kl, const void *v, int32_t vl, struct klog_orec *r,
    char *err)
{
	(void)G;
	memset(r, 0, sizeof *r);
	return klog_orec_decode(k, kl, v, vl, r, err);
}

static void
gfree(struct kbg *G, struct klog_orec *r)
{
	(void)G;
	klog_orec_free(r);
}

int
kbg_strategy_ok(const char *s, char *err)
{
	return kg_strategy_check(s, err);
}

/* --- the cache ---------------------------------------------------------- */

int
kbg_tpcmp(const char *t1, int p1, const char *t2, int p2)
{
	int c = strcmp(t1, t2);

	return c ? c : (p1 > p2) - (p1 < p2);
}

void
kbg_member_free(struct kbg_member *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->instance);
	free(m->client_id);
	free(m->host);
	klog_strv_free(m->topics, m->ntopics);
	free(m);
}

static void
tp_clear(struct kbg_group *g)
{
	size_t i;

	for (i = 0; i < g->ntp; i++)
		free((char *)g->tp[i].topic);
	free(g->tp);
	free(g->owner);
	free(g->target);
	g->tp = NULL;
	g->owner = g->target = NULL;
	g->ntp = 0;
}

static void
group_free(struct kbg_group *g)
{
	size_t i;

	for (i = 0; i < g->nm; i++) {
		if (g->m[i]->c)
			g->m[i]->c->gmembers--;
		kbg_member_free(g->m[i]);
	}
	free(g->m);
	tp_clear(g);
	for (i = 0; i < g->ncm; i++)
		free(g->cm[i].topic);
	free(g->cm);
	free(g->name);
	free(g);
}

int
kbg_group_exists(const struct kbg_group *g)
{
	return g->nm || g->ncm || g->has_meta;
}

static struct kbg_group *
group_find(struct kbg *G, const char *name, int create)
{
	struct kbg_group *g;

	for (g = G->groups; g; g = g->next)
		if (!strcmp(g->name, name))
			return g;
	if (!create || !(g = calloc(1, sizeof *g)))
		return NULL;
	if (!(g->name = strdup(name))) {
		free(g);
		return NULL;
	}
	snprintf(g->strategy, sizeof g->strategy, "-");
	g->next = G->groups;
	G->groups = g;
	return g;
}

/* a group nobody uses and with nothing stored goes */
void
kbg_group_gc(struct kbg *G, struct kbg_group *g)
{
	struct kbg_group **pp;

	if (kbg_group_exists(g))
		return;
	for (pp = &G->groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			group_free(g);
			return;
		}
}

static struct kbg_commit *
commit_find(struct kbg_group *g, const char *topic, int partition, size_t *at)
{
	size_t lo = 0, hi = g->ncm;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = kbg_tpcmp(g->cm[mid].topic, g->cm[mid].partition, topic, partition);
		if (c == 0)
			return &g->cm[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return NULL;
}

/* offset -1: delete */
static int
commit_set(struct kbg_group *g, const char *topic, int partition, int64_t offset, int64_t ts)
{
	struct kbg_commit *c, *v;
	size_t at = 0;

	if ((c = commit_find(g, topic, partition, &at))) {
		if (offset >= 0) {
			c->offset = offset;
			c->ts = ts;
			return 0;
		}
		at = (size_t)(c - g->cm);
		free(c->topic);
		memmove(c, c + 1, (g->ncm - at - 1) * sizeof *c);
		g->ncm--;
		return 0;
	}
	if (offset < 0)
		return 0;
	if (!(v = realloc(g->cm, (g->ncm + 1) * sizeof *v)))
		return -1;
	g->cm = v;
	memmove(v + at + 1, v + at, (g->ncm - at) * sizeof *v);
	if (!(v[at].topic = strdup(topic))) {
		memmove(v + at, v + at + 1, (g->ncm - at) * sizeof *v);
		return -1;
	}
	v[at].partition = partition;
	v[at].offset = offset;
	v[at].ts = ts;
	g->ncm++;
	return 0;
}

int64_t
kbg_committed(struct kbg_group *g, const char *topic, int partition)
{
	struct kbg_commit *c = commit_find(g, topic, partition, NULL);

	return c ? c->offset : -1;
}

/* one record of __consumer_offsets into the cache */
static void
load_record(struct klog_broker *b, int part, const struct klog_record *rec)
{
	struct kbg *G = b->groups;
	struct klog_orec r;
	struct kbg_group *g;
	char err[KLOG_ERRLEN];

	if (gdec(G, rec->key, rec->key_len, rec->value, rec->value_len, &r, err) < 0) {
		kb_log(b, LOG_WARNING, "%s-%d: record at offset %" PRId64 " skipped: %s",
		    KLOG_OFFSETS_TOPIC, part, rec->offset, err);
		return;
	}
	if ((r.kind == KLOG_OREC_COMMIT || r.kind == KLOG_OREC_GROUP) && r.group &&
	    klog_group_name_check(r.group, err) == 0 && (g = group_find(G, r.group, 1))) {
		if (r.kind == KLOG_OREC_GROUP) {
			g->has_meta = r.value_version >= 0;
			/* generations go on from the last recorded */
			if (g->has_meta && !g->nm && r.generation > g->generation)
				g->generation = r.generation;
		}
		else if (!r.topic || klog_topic_name_check(r.topic, err) < 0 || r.partition < 0 ||
		    (r.value_version >= 0 && r.offset < 0))
			kb_log(b, LOG_WARNING, "%s-%d: record at offset %" PRId64 " skipped: bad "
			    "topic, partition or offset", KLOG_OFFSETS_TOPIC, part, rec->offset);
		else
			commit_set(g, r.topic, r.partition, r.value_version < 0 ? -1 : r.offset,
			    r.commit_ts);
		kbg_group_gc(G, g);
	}
	gfree(G, &r);
}

/*
 * A sync of the group's partition of __consumer_offsets failed: what was
 * written after its durable end may never reach the disk, so the cache of
 * its groups is read again, up to that end (once per failure; REPAIR cuts
 * the rest).
 */
static void
failed_check(struct klog_broker *b, int part)
{
	struct kbg *G = b->groups;
	struct kbg_group *g;
	struct btopic *t;
	struct bpart *bp;
	size_t i;

	if (!(t = kb_topic_find(b, KLOG_OFFSETS_TOPIC)) || part >= t->np)
		return;
	bp = t->parts[part];
	if (!bp->p || !klog_part_failed(bp->p)) {
		G->failed[part] = 0;
		return;
	}
	if (G->failed[part] || !G->loaded[part])
		return;
	G->failed[part] = 1;
	G->loaded[part] = 0;
	for (g = G->groups; g; g = g->next)
		if (gpart(g->name) == part) {
			for (i = 0; i < g->ncm; i++)
				free(g->cm[i].topic);
			g->ncm = 0;
			g->has_meta = 0;
		}
	kb_log(b, LOG_WARNING, "%s-%d failed: committed offsets read again up to its durable "
	    "end %" PRId64, KLOG_OFFSETS_TOPIC, part, bp->durable);
}

/* read one partition of __consumer_offsets into the cache, once */
static int
load_part(struct klog_broker *b, int part, const char **code, char *err)
{
	struct kbg *G = b->groups;
	struct klog_buf buf = { 0 };
	struct klog_rec_iter it;
	struct klog_part_info pi;
	struct bpart *bp;
	char ps[16];
	int64_t off, end;
	int rc = -1;

	failed_check(b, part);
	if (G->loaded[part])
		return 0;
	if (!klog_topic_exists(b->d, KLOG_OFFSETS_TOPIC)) {
		G->loaded[part] = 1;
		return 0;
	}
	snprintf(ps, sizeof ps, "%d", part);
	if (!(bp = kb_part_get(b, KLOG_OFFSETS_TOPIC, ps, code, err)) ||
	    kb_part_online(bp, code, err) < 0)
		return -1;
	if (klog_part_info(bp->p, &pi, err) < 0) {
		*code = "STORAGE_ERROR";
		return -1;
	}
	/* a failed partition: only what was synced counts */
	end = pi.log_end;
	if (klog_part_failed(bp->p) && bp->durable < end)
		end = bp->durable;
	klog_rec_iter_init0(&it);
	for (off = pi.log_start; off < end;) {
		size_t pos = 0;
		ssize_t n;
		buf.len = 0;
		if ((n = klog_part_read(bp->p, off, 1 << 20, &buf, err)) < 0) {
			*code = "STORAGE_ERROR";
			goto out;
		}
		if (n == 0)
			break;
		while (pos < buf.len) {
			struct klog_batch bt;
			struct klog_record rec;
			int64_t last;
			if (klog_batch_parse(buf.data + pos, buf.len - pos, &bt, err) != 1)
				break;
			last = klog_batch_last(&bt);
			if (klog_batch_verify(buf.data + pos, &bt, err) < 0 ||
			    klog_rec_iter_start(&it, buf.data + pos, &bt, err) < 0)
				kb_log(b, LOG_WARNING, "%s-%d: batch at offset %" PRId64 " skipped: %s",
				    KLOG_OFFSETS_TOPIC, part, bt.base_offset, err);
			else if (!(bt.attributes & KLOG_ATTR_CONTROL)) {
				int r;
				while ((r = klog_rec_iter_next(&it, &rec, err)) == 1)
					if (rec.offset >= off && rec.offset < end)
						load_record(b, part, &rec);
				if (r < 0)
					kb_log(b, LOG_WARNING, "%s-%d: batch at offset %" PRId64 ": %s",
					    KLOG_OFFSETS_TOPIC, part, bt.base_offset, err);
			}
			pos += klog_batch_size(&bt);
			if (last + 1 > off)
				off = last + 1;
		}
		if (pos == 0) {
			kb_log(b, LOG_WARNING, "%s-%d: cannot read past offset %" PRId64 ": %s",
			    KLOG_OFFSETS_TOPIC, part, off, err);
			break;
		}
	}
	G->loaded[part] = 1;
	rc = 0;
out:
	klog_rec_iter_free(&it);
	klog_buf_free(&buf);
	return rc;
}

int
kbg_load_all(struct klog_broker *b, const char **code, char *err)
{
	int i;

	for (i = 0; i < KLOG_OFFSETS_PARTITIONS; i++)
		if (load_part(b, i, code, err) < 0)
			return -1;
	return 0;
}

/* the group named by a request: name checked, its offsets loaded */
struct kbg_group *
kbg_group_get(struct klog_broker *b, const char *name, int create, const char **code, char *err)
{
	struct kbg_group *g;

	if (klog_group_name_check(name, err) < 0) {
		*code = "INVALID";
		return NULL;
	}
	if (load_part(b, gpart(name), code, err) < 0)
		return NULL;
	g = group_find(b->groups, name, create);
	if (!g && create) {
		*code = "INTERNAL";
		kerr(err, "group '%s': out of memory", name);
	} else if (!g || (!create && !kbg_group_exists(g))) {
		*code = "UNKNOWN_GROUP";
		kerr(err, "no such group '%s'", name);
		return NULL;
	}
	return g;
}

/* --- writing to __consumer_offsets ------------------------------------- */

static struct bpart *
offsets_part(struct klog_broker *b, const char *group, const char **code, char *err)
{
	char *kv[] = { "cleanup.policy=compact" };
	struct bpart *bp;
	char ps[16];

	if (!kb_topic_find(b, KLOG_OFFSETS_TOPIC) && !klog_topic_exists(b->d, KLOG_OFFSETS_TOPIC)) {
		struct btopic *t;
		if (ktopic_create(b->d, KLOG_OFFSETS_TOPIC, KLOG_OFFSETS_PARTITIONS, kv, 1, 1,
		    err) < 0 && errno != EEXIST) {
			*code = "STORAGE_ERROR";
			return NULL;
		}
		b->fresh = 1;
		t = kb_topic_load(b, KLOG_OFFSETS_TOPIC, err);
		b->fresh = 0;
		if (!t) {
			*code = "INTERNAL";
			return NULL;
		}
		kb_log(b, LOG_INFO, "created topic '%s' with %d partitions (cleanup.policy=compact)",
		    KLOG_OFFSETS_TOPIC, KLOG_OFFSETS_PARTITIONS);
	}
	snprintf(ps, sizeof ps, "%d", gpart(group));
	if (!(bp = kb_part_get(b, KLOG_OFFSETS_TOPIC, ps, code, err)) ||
	    kb_part_online(bp, code, err) < 0)
		return NULL;
	if (klog_part_failed(bp->p)) {
		*code = "STORAGE_ERROR";
		kerr(err, "%s", klog_part_failed(bp->p));
		return NULL;
	}
	return bp;
}

/*
 * Append the commits (offset -1: a tombstone) and, with meta, a group
 * metadata tombstone, as one batch; *bpo and *need tell when it is
 * durable.  The cache is updated once written.
 */
int
kbg_offsets_write(struct klog_broker *b, struct kbg_group *g, const struct kbg_commit *c, size_t n,
    int meta_tomb, struct bpart **bpo, int64_t *need, const char **code, char *err)
{
	struct klog_builder bb;
	struct klog_buf k = { 0 }, v = { 0 };
	struct klog_orec r;
	struct bpart *bp;
	unsigned char *data;
	int64_t now = klog_now_ms(), first, last;
	size_t i, len;
	int rc = -1;

	if (!(bp = offsets_part(b, g->name, code, err)))
		return -1;
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	for (i = 0; i < n + (meta_tomb ? 1 : 0); i++) {
		memset(&r, 0, sizeof r);
		r.group = g->name;
		if (i < n) {
			r.kind = KLOG_OREC_COMMIT;
			r.key_version = 1;
			r.value_version = c[i].offset < 0 ? -1 : 3;
			r.topic = c[i].topic;
			r.partition = c[i].partition;
			r.offset = c[i].offset;
			r.leader_epoch = -1;
			r.metadata = "";
			r.commit_ts = now;
			r.expire_ts = -1;
		} else {
			r.kind = KLOG_OREC_GROUP;
			r.key_version = 2;
			r.value_version = -1;
		}
		k.len = v.len = 0;
		if (genc(&r, &k, &v, err) < 0) {
			*code = "INTERNAL";
			goto out;
		}
		if (klog_builder_add(&bb, now, k.data, (int32_t)k.len, v.data,
		    r.value_version < 0 ? -1 : (int32_t)v.len, NULL, 0) < 0) {
			*code = "INTERNAL";
			kerr_sys(err, "group '%s'", g->name);
			goto out;
		}
	}
	if (klog_builder_finish(&bb, &data, &len, err) < 0) {
		*code = "INTERNAL";
		goto out;
	}
	if (klog_part_append(bp->p, data, len, &first, &last, err) < 0) {
		*code = errno == ENOSPC || errno == EIO || errno == EDQUOT ? "STORAGE_ERROR" : "INTERNAL";
		kb_log(b, LOG_ERR, "group '%s': commit: %s", g->name, err);
		kb_written(b, bp);
		goto out;
	}
	bp->log_end = last + 1;
	kb_written(b, bp);
	for (i = 0; i < n; i++)
		commit_set(g, c[i].topic, c[i].partition, c[i].offset, now);
	if (meta_tomb)
		g->has_meta = 0;
	*bpo = bp;
	*need = last + 1;
	rc = 0;
out:
	klog_builder_free(&bb);
	klog_buf_free(&k);
	klog_buf_free(&v);
	return rc;
}

/* an answer that goes out once bp is durable up to need (as a produce's
 * under --fsync always) */
void
kbg_reply_synced(struct conn *c, struct bpart *bp, int64_t need, const char *line)
{
	struct klog_broker *b = c->b;
	struct oitem *it = kb_item_new(c, O_MEM);

	if (!it || klog_buf_printf(&it->buf, "%s", line) < 0) {
		if (it)
			klog_buf_free(&it->buf);
		free(it);
		c->closing = 1;
		return;
	}
	if (b->o.fsync_policy == KLOG_FSYNC_ALWAYS && bp->durable < need) {
		it->abp = bp;
		it->need = need;
		bp->refs++;
	}
	c->out_mem += it->buf.cap;
	b->mem += it->buf.cap;
	kb_item_push(c, it);
}

/* --- membership and assignment ---------------------------------------- */

struct kbg_member *
kbg_member_find(struct kbg_group *g, const char *id, size_t *at)
{
	size_t i;

	for (i = 0; i < g->nm; i++)
		if (!strcmp(g->m[i]->id, id)) {
			if (at)
				*at = i;
			return g->m[i];
		}
	return NULL;
}

int
kbg_tp_index(struct kbg_group *g, const char *topic, int partition)
{
	size_t lo = 0, hi = g->ntp;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = kbg_tpcmp(g->tp[mid].topic, g->tp[mid].partition, topic, partition);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int
m_index(struct kbg_group *g, struct kbg_member *m)
{
	size_t i;

	for (i = 0; m && i < g->nm; i++)
		if (g->m[i] == m)
			return (int)i;
	return -1;
}

/* give every partition without an owner to its target */
void
kbg_reconcile(struct kbg_group *g)
{
	size_t i;

	for (i = 0; i < g->ntp; i++)
		if (!g->owner[i] && g->target[i]) {
			g->owner[i] = g->target[i];
			g->owner[i]->ver++;
		}
}

int
kbg_strcmpp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the partitions of the topics the members subscribe to, in order */
static int
tp_build(struct klog_broker *b, struct kbg_group *g, struct kg_tp **tpo, size_t *ntpo)
{
	char **names = NULL;
	size_t nn = 0, i, j, k, ntp = 0;
	struct kg_tp *tp = NULL;
	int rc = -1;

	for (i = 0; i < g->nm; i++)
		nn += g->m[i]->ntopics;
	if (nn && !(names = calloc(nn, sizeof *names)))
		return -1;
	for (i = k = 0; i < g->nm; i++)
		for (j = 0; j < g->m[i]->ntopics; j++)
			names[k++] = g->m[i]->topics[j];
	if (nn)
		qsort(names, nn, sizeof *names, kbg_strcmpp);
	for (i = 0; i < nn; i++) {
		struct btopic *t;
		if (i && !strcmp(names[i], names[i - 1]))
			continue;
		if (!(t = kb_topic_find(b, names[i])))
			continue;       /* deleted: its partitions go */
		for (j = 0; j < (size_t)t->np; j++) {
			struct kg_tp *v = realloc(tp, (ntp + 1) * sizeof *v);
			if (!v)
				goto out;
			tp = v;
			if (!(tp[ntp].topic = strdup(names[i])))
				goto out;
			tp[ntp++].partition = (int)j;
		}
	}
	*tpo = tp;
	*ntpo = ntp;
	tp = NULL;
	ntp = 0;
	rc = 0;
out:
	for (i = 0; i < ntp; i++)
		free((char *)tp[i].topic);
	free(tp);
	free(names);
	return rc;
}

/*
 * A new generation: the subscribed partitions again, the strategy's
 * targets (prev: the current owners), then every free partition to its
 * target.  Owners keep what they own until they release it or go.
 */
void
kbg_rebalance(struct klog_broker *b, struct kbg_group *g)
{
	struct kbg_member **owner = NULL, **target = NULL;
	struct kg_member *km = NULL;
	struct kg_tp *tp = NULL;
	int *prev = NULL, *out = NULL;
	char err[KLOG_ERRLEN];
	size_t ntp = 0, i;

	g->generation++;
	g->meta_dirty = 1;
	for (i = 0; i < g->nm; i++)
		g->m[i]->ver++;
	if (tp_build(b, g, &tp, &ntp) < 0)
		goto oom;
	if (ntp && (!(owner = calloc(ntp, sizeof *owner)) || !(target = calloc(ntp, sizeof *target)) ||
	    !(prev = calloc(ntp, sizeof *prev)) || !(out = calloc(ntp, sizeof *out))))
		goto oom;
	if (g->nm && !(km = calloc(g->nm, sizeof *km)))
		goto oom;
	for (i = 0; i < g->nm; i++) {
		km[i].id = g->m[i]->id;
		km[i].topics = g->m[i]->topics;
		km[i].ntopics = g->m[i]->ntopics;
	}
	for (i = 0; i < ntp; i++) {
		int k = kbg_tp_index(g, tp[i].topic, tp[i].partition);
		owner[i] = k >= 0 ? g->owner[k] : NULL;
		prev[i] = m_index(g, owner[i]);
		out[i] = -1;
	}
	if (g->nm && ntp && kg_assign(g->strategy, km, g->nm, tp, ntp, prev, out, err) < 0) {
		goto oom;       /* the strategy was checked at JOIN: ENOMEM */
	}
	for (i = 0; i < ntp; i++)
		target[i] = out[i] >= 0 && (size_t)out[i] < g->nm ? g->m[out[i]] : NULL;
	tp_clear(g);
	g->tp = tp;
	g->ntp = ntp;
	g->owner = owner;
	g->target = target;
	kbg_reconcile(g);
	free(km);
	free(prev);
	free(out);
	return;
oom:
	kb_log(b, LOG_ERR, "group '%s': out of memory in a rebalance", g->name);
	for (i = 0; i < ntp; i++)
		free((char *)tp[i].topic);
	free(tp);
	free(owner);
	free(target);
	free(prev);
	free(out);
	free(km);
}

void
kbg_member_remove(struct klog_broker *b, struct kbg_group *g, size_t at, const char *why)
{
	struct kbg_member *m = g->m[at];
	size_t i;

	kb_log(b, LOG_INFO, "group '%s': member '%s' removed: %s", g->name, m->id, why);
	for (i = 0; i < g->ntp; i++) {
		if (g->owner[i] == m)
			g->owner[i] = NULL;
		if (g->target[i] == m)
			g->target[i] = NULL;
	}
	if (m->c)
		m->c->gmembers--;
	memmove(g->m + at, g->m + at + 1, (g->nm - at - 1) * sizeof *g->m);
	g->nm--;
	kbg_member_free(m);
	kbg_rebalance(b, g);
	if (!g->nm)
		tp_clear(g);
}

static void
bput_str(struct klog_buf *b, const char *s)
{
	unsigned char l[2];
	size_t n = strlen(s);

	put16(l, (uint16_t)n);
	klog_buf_append(b, l, 2);
	klog_buf_append(b, s, n);
}

static void
bput32(struct klog_buf *b, int32_t v)
{
	unsigned char x[4];

	put32(x, (uint32_t)v);
	klog_buf_append(b, x, 4);
}

/* ConsumerProtocol Subscription v0 and Assignment v0 (the generation's
 * targets), as a Java consumer group's metadata holds them (no user data) */
static void
proto_member(struct kbg_group *g, const struct kbg_member *m, struct klog_buf *sub,
    struct klog_buf *asg)
{
	unsigned char v0[2] = { 0, 0 };
	size_t i, j, nt = 0;

	klog_buf_append(sub, v0, 2);
	bput32(sub, (int32_t)m->ntopics);
	for (i = 0; i < m->ntopics; i++)
		bput_str(sub, m->topics[i]);
	bput32(sub, -1);
	for (i = 0; i < g->ntp; i = j) {
		int own = 0;
		for (j = i; j < g->ntp && !strcmp(g->tp[j].topic, g->tp[i].topic); j++)
			own |= g->target[j] == m;
		nt += own;
	}
	klog_buf_append(asg, v0, 2);
	bput32(asg, (int32_t)nt);
	for (i = 0; i < g->ntp; i = j) {
		int32_t np = 0;
		for (j = i; j < g->ntp && !strcmp(g->tp[j].topic, g->tp[i].topic); j++)
			np += g->target[j] == m;
		if (!np)
			continue;
		bput_str(asg, g->tp[i].topic);
		bput32(asg, np);
		for (j = i; j < g->ntp && !strcmp(g->tp[j].topic, g->tp[i].topic); j++)
			if (g->target[j] == m)
				bput32(asg, g->tp[j].partition);
	}
	bput32(asg, -1);
}

/*
 * The group's metadata record (key 2, value 3) for its current
 * generation, as Kafka's coordinator writes it; from the loop's timer,
 * never from inside a request, and only once __consumer_offsets exists
 * (its first commit makes it).  Not waited for: group commit syncs it.
 */
static void
meta_write(struct klog_broker *b, struct kbg_group *g)
{
	struct kbg *G = b->groups;
	struct klog_omember *om = NULL;
	struct klog_buf *mb = NULL, k = { 0 }, v = { 0 };
	struct klog_builder bb;
	struct klog_orec r;
	struct bpart *bp;
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN] = "out of memory";
	unsigned char *data;
	size_t len, i;
	int64_t first, last;
	int gone;

	g->meta_dirty = 0;
	if (b->draining || !b->syncer || !kb_topic_find(b, KLOG_OFFSETS_TOPIC))
		return;
	/* an empty group with no commit goes, as Kafka's cleanup does */
	gone = !g->nm && !g->ncm;
	if (gone && !g->has_meta)
		return;
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (g->nm && (!(om = calloc(g->nm, sizeof *om)) || !(mb = calloc(2 * g->nm, sizeof *mb))))
		goto fail;
	for (i = 0; i < g->nm; i++) {
		struct kbg_member *m = g->m[i];
		proto_member(g, m, &mb[2 * i], &mb[2 * i + 1]);
		om[i].member_id = m->id;
		om[i].instance_id = m->instance;
		om[i].client_id = m->client_id;
		om[i].client_host = m->host;
		om[i].rebalance_timeout = m->session_ms;
		om[i].session_timeout = m->session_ms;
		om[i].subscription = mb[2 * i].data;
		om[i].subscription_len = (int32_t)mb[2 * i].len;
		om[i].assignment = mb[2 * i + 1].data;
		om[i].assignment_len = (int32_t)mb[2 * i + 1].len;
	}
	memset(&r, 0, sizeof r);
	r.kind = KLOG_OREC_GROUP;
	r.key_version = 2;
	r.value_version = gone ? -1 : 3;
	r.group = g->name;
	r.protocol_type = "consumer";
	r.generation = g->generation;
	r.protocol = g->nm ? g->strategy : NULL;
	r.leader = g->nm ? g->m[0]->id : NULL;
	r.state_ts = klog_now_ms();
	r.members = om;
	r.nmembers = (int)g->nm;
	r.leader_epoch = -1;
	r.expire_ts = -1;
	if (genc(&r, &k, &v, err) < 0 || !(bp = offsets_part(b, g->name, &code, err)))
		goto fail;
	if (klog_builder_add(&bb, r.state_ts, k.data, (int32_t)k.len, gone ? NULL : v.data,
	    gone ? -1 : (int32_t)v.len, NULL, 0) < 0 ||
	    klog_builder_finish(&bb, &data, &len, err) < 0)
		goto fail;
	if (klog_part_append(bp->p, data, len, &first, &last, err) < 0) {
		kb_written(b, bp);
		goto fail;
	}
	bp->log_end = last + 1;
	kb_written(b, bp);
	g->has_meta = !gone;
	goto out;
fail:
	if (!G->meta_warned)
		kb_log(b, LOG_WARNING, "group '%s': generation %d not recorded: %s", g->name,
		    g->generation, err);
	G->meta_warned = 1;
out:
	for (i = 0; mb && i < 2 * g->nm; i++)
		klog_buf_free(&mb[i]);
	free(mb);
	free(om);
	klog_buf_free(&k);
	klog_buf_free(&v);
	klog_builder_free(&bb);
}

static int64_t
session_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct kbg_group *g, *n;
	int64_t now = klog_now_ms();
	size_t i;

	for (g = b->groups->groups; g; g = n) {
		n = g->next;
		for (i = 0; i < g->nm;) {
			struct kbg_member *m = g->m[i];
			char why[64];
			if (now - m->last_seen <= m->session_ms) {
				i++;
				continue;
			}
			snprintf(why, sizeof why, "no heartbeat for %d ms", m->session_ms);
			kbg_member_remove(b, g, i, why);
		}
		/* a subscribed topic grew or went: a new generation */
		if (g->nm) {
			size_t want = 0, j;
			for (j = 0; j < g->ntp; j++)
				if (j == 0 || strcmp(g->tp[j].topic, g->tp[j - 1].topic)) {
					struct btopic *t = kb_topic_find(b, g->tp[j].topic);
					want += t ? (size_t)t->np : 0;
				}
			if (want != g->ntp)
				kbg_rebalance(b, g);
		}
		if (g->meta_dirty)
			meta_write(b, g);
		kbg_group_gc(b->groups, g);
	}
	return TICK_MS;
}

struct kbg *
kbg_get(struct klog_broker *b)
{
	if (!b->groups) {
		if (!(b->groups = calloc(1, sizeof *b->groups)))
			return NULL;
		b->groups->timer = klog_loop_timer(b->loop, TICK_MS, session_timer, b);
		b->groups->seq = (uint64_t)kb_now_us();
	}
	return b->groups;
}

void
kb_group_conn_closed(struct conn *c)
{
	struct klog_broker *b = c->b;
	struct kbg_group *g;
	size_t i;

	if (!c->gmembers || !b->groups)
		return;
	for (g = b->groups->groups; g && c->gmembers > 0; g = g->next)
		for (i = 0; i < g->nm;) {
			struct kbg_member *m = g->m[i];
			if (m->c != c) {
				i++;
				continue;
			}
			if (m->instance) {      /* static: back within its session, or gone then */
				m->c = NULL;
				c->gmembers--;
				i++;
				continue;
			}
			kbg_member_remove(b, g, i, "its connection closed");
		}
}

void
kb_group_free(struct klog_broker *b)
{
	struct kbg_group *g;

	if (!b->groups)
		return;
	while ((g = b->groups->groups)) {
		b->groups->groups = g->next;
		group_free(g);
	}
	free(b->groups);
	b->groups = NULL;
}
