/* klog - committed offsets of consumer groups in a log directory. MIT licence. */
/*
 * A group's committed offsets are Kafka's offset-commit records (offsets.c)
 * in partition klog_offsets_partition(group) of the log directory's
 * __consumer_offsets topic, so that a directory moved between klog and
 * Kafka keeps its groups' positions.  The topic is made at the first
 * commit: 50 partitions, cleanup.policy=compact, as Kafka makes it.
 *
 * A commit is one append of one batch (more only past max.message.bytes)
 * of key 1 / value 3 records, then klog_part_sync: when it returns, the
 * commit is on disk.  A failed sync is an error, never retried (the
 * partition refuses appends until it is recovered, see partition-sync.c).
 * An offset of -1 commits a tombstone (a null value) for that key.
 *
 * Loading reads the group's partition from its log start: the last record
 * per key wins and a tombstone removes the key.  Records of other groups
 * (those hashing to the same partition) are passed over by their key's
 * group field before anything else is decoded.  A record that does not
 * decode, or an offset commit with a negative offset or partition, is
 * skipped with a warning naming the partition and offset: it never becomes
 * an offset, and the key keeps what the records before it said.  Keys of
 * KIP-848's records (version 3 and up) are ignored.
 *
 * While a kbrokerd serves the directory, the broker is the only writer:
 * commits and deletes are refused (EBUSY, the broker named), as every
 * embedded write is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define OTOPIC KLOG_OFFSETS_TOPIC
#define READ_CHUNK ((size_t)1 << 20)

/* last state per key of one partition: an open-addressing hash table */
struct gent {
	char *group, *topic;            /* topic NULL: group metadata */
	int32_t partition;
	int64_t offset, commit_ts;
	int live;
	uint64_t hash;
};
struct gmap {
	struct gent *v;
	size_t n, cap;
	size_t *slot;                   /* index + 1; 0 empty */
	size_t nslot;
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t
key_hash(const char *group, const char *topic, int32_t partition)
{
	uint64_t h = 14695981039346656037ULL;

	h = fnv(h, group, strlen(group) + 1);
	if (topic)
		h = fnv(h, topic, strlen(topic) + 1);
	return fnv(h, &partition, sizeof partition);
}

static void
gmap_free(struct gmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].group);
		free(m->v[i].topic);
	}
	free(m->v);
	free(m->slot);
	memset(m, 0, sizeof *m);
}

static int
gmap_grow(struct gmap *m)
{
	size_t ns = m->nslot ? m->nslot * 2 : 64, i, j;
	size_t *s = calloc(ns, sizeof *s);

	if (!s)
		return -1;
	for (i = 0; i < m->n; i++) {
		for (j = m->v[i].hash & (ns - 1); s[j]; j = (j + 1) & (ns - 1))
			;
		s[j] = i + 1;
	}
	free(m->slot);
	m->slot = s;
	m->nslot = ns;
	return 0;
}

/* the entry for the key, made (not live) when new; NULL ENOMEM */
static struct gent *
gmap_get(struct gmap *m, const char *group, const char *topic, int32_t partition)
{
	uint64_t h = key_hash(group, topic, partition);
	struct gent *e;
	size_t j;

	if ((m->n + 1) * 2 > m->nslot && gmap_grow(m) < 0)
		return NULL;
	for (j = h & (m->nslot - 1); m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
		e = &m->v[m->slot[j] - 1];
		if (e->hash == h && e->partition == partition && !strcmp(e->group, group) &&
		    (topic ? e->topic && !strcmp(e->topic, topic) : !e->topic))
			return e;
	}
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 32;
		struct gent *v = realloc(m->v, nc * sizeof *v);
		if (!v)
			return NULL;
		m->v = v;
		m->cap = nc;
	}
	e = &m->v[m->n];
	memset(e, 0, sizeof *e);
	e->hash = h;
	e->partition = partition;
	if (!(e->group = strdup(group)) || (topic && !(e->topic = strdup(topic)))) {
		free(e->group);
		return NULL;
	}
	m->slot[j] = ++m->n;
	return e;
}

/* a record whose well-formed key names another group than `group` */
static int
other_group(const struct klog_record *r, const char *group, size_t glen)
{
	const unsigned char *k = r->key;
	int16_t ver, len;

	if (!group || r->key_len < 4)
		return 0;
	ver = (int16_t)(k[0] << 8 | k[1]);
	len = (int16_t)(k[2] << 8 | k[3]);
	if (ver < 0 || len < 0 || (int32_t)len > r->key_len - 4)
		return 0;               /* let the decoder say what is wrong */
	if (ver > 2)
		return 1;               /* KIP-848: no group of ours */
	return (size_t)len != glen || memcmp(k + 4, group, glen);
}

/* note one record of the partition in the map */
static int
note(struct gmap *m, const char *pname, const struct klog_record *r, const char *group,
    size_t glen, char *err)
{
	struct klog_orec o;
	struct gent *e;
	char e2[KLOG_ERRLEN];

	if (other_group(r, group, glen))
		return 0;
	if (klog_orec_decode(r->key, r->key_len, r->value, r->value_len, &o, e2) < 0) {
		if (errno == ENOMEM)
			return kerr_sys(err, "partition '%s': offset %" PRId64, pname, r->offset);
		kwarn("partition '%s': record at offset %" PRId64 " skipped: %s", pname, r->offset,
		    e2);
		return 0;
	}
	if (o.kind == KLOG_OREC_OTHER || (group && strcmp(o.group, group)))
		goto out;
	if (o.kind == KLOG_OREC_COMMIT && o.value_version >= 0 && (o.offset < 0 ||
	    o.partition < 0)) {
		kwarn("partition '%s': record at offset %" PRId64 " skipped: group '%s' topic '%s' "
		    "partition %" PRId32 ": negative offset or partition (offset %" PRId64 ")",
		    pname, r->offset, o.group, o.topic, o.partition, o.offset);
		goto out;
	}
	if (!(e = gmap_get(m, o.group, o.kind == KLOG_OREC_COMMIT ? o.topic : NULL,
	    o.kind == KLOG_OREC_COMMIT ? o.partition : -1))) {
		klog_orec_free(&o);
		errno = ENOMEM;
		return kerr_sys(err, "partition '%s'", pname);
	}
	e->live = o.value_version >= 0;
	e->offset = o.offset;
	e->commit_ts = o.commit_ts;
out:
	klog_orec_free(&o);
	return 0;
}

/*
 * Read partition `part` of __consumer_offsets from its log start into m,
 * only group's records (NULL: every group's).  A partition or topic that
 * does not exist yet reads as empty.
 */
static int
scan(struct klog_dir *d, int part, const char *group, struct gmap *m, char *err)
{
	struct klog_buf buf = {0};
	struct klog_rec_iter it;
	struct klog_part_info info;
	struct klog_record r;
	struct klog_batch b;
	struct klog_part *p;
	char pname[64];
	size_t pos, glen = group ? strlen(group) : 0;
	int64_t next;
	ssize_t got;
	int rc = -1, k;

	snprintf(pname, sizeof pname, "%s-%d", OTOPIC, part);
	if (!klog_topic_exists(d, OTOPIC))
		return 0;
	if (!(p = klog_part_open(d, OTOPIC, part, KLOG_RDONLY, err)))
		return errno == ENOENT ? 0 : -1;
	klog_rec_iter_init0(&it);
	if (klog_part_info(p, &info, err) < 0)
		goto out;
	next = info.log_start;
	for (;;) {
		buf.len = 0;
		got = klog_part_read(p, next, READ_CHUNK, &buf, err);
		if (got < 0 && errno == ERANGE) {
			/* retention or compaction moved the log start meanwhile */
			if (klog_part_info(p, &info, err) < 0)
				goto out;
			if (info.log_start <= next)
				goto out;
			next = info.log_start;
			continue;
		}
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		for (pos = 0; pos < buf.len; pos += klog_batch_size(&b)) {
			if (klog_batch_parse(buf.data + pos, buf.len - pos, &b, err) != 1)
				goto out;
			if (klog_batch_last(&b) < next)
				continue;
			if (!(b.attributes & KLOG_ATTR_CONTROL)) {
				if (klog_rec_iter_start(&it, buf.data + pos, &b, err) < 0)
					goto out;
				while ((k = klog_rec_iter_next(&it, &r, err)) == 1)
					if (r.offset >= next && note(m, pname, &r, group, glen, err) < 0)
						goto out;
				if (k < 0)
					goto out;
			}
			next = klog_batch_last(&b) + 1;
		}
	}
	rc = 0;
out:
	if (rc < 0 && err) {
		int e = errno;
		char m2[KLOG_ERRLEN];
		snprintf(m2, sizeof m2, "%s", err);
		kerr(err, "partition '%s': %s", pname, m2);
		errno = e;
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&buf);
	klog_part_close(p);
	return rc;
}

static int
cmp_commit(const void *a, const void *b)
{
	const struct klog_gcommit *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

static int
check_group(const char *group, char *err)
{
	if (klog_group_name_check(group, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
klog_gstore_load(struct klog_dir *d, const char *group, struct klog_gcommit **c, size_t *n,
    char *err)
{
	struct gmap m = {0};
	struct klog_gcommit *v = NULL;
	size_t i, k = 0;
	int rc = -1;

	*c = NULL;
	*n = 0;
	if (check_group(group, err) < 0)
		return -1;
	if (scan(d, klog_offsets_partition(group), group, &m, err) < 0)
		goto out;
	if (m.n && !(v = calloc(m.n, sizeof *v))) {
		kerr_sys(err, "group '%s'", group);
		goto out;
	}
	for (i = 0; i < m.n; i++) {
		struct gent *e = &m.v[i];
		if (!e->topic || !e->live)
			continue;
		if (!(v[k].topic = strdup(e->topic))) {
			kerr_sys(err, "group '%s'", group);
			klog_gcommits_free(v, k);
			v = NULL;
			goto out;
		}
		v[k].partition = e->partition;
		v[k].offset = e->offset;
		v[k].commit_ts = e->commit_ts;
		k++;
	}
	if (k)
		qsort(v, k, sizeof *v, cmp_commit);
	else {
		free(v);
		v = NULL;
	}
	*c = v;
	*n = k;
	rc = 0;
out:
	gmap_free(&m);
	return rc;
}

/* embedded writes to a directory a kbrokerd serves go through it */
static int
served(struct klog_dir *d, const char *group, char *err)
{
	char who[256];

	if (!klog_dir_broker(d, who, sizeof who))
		return 0;
	errno = EBUSY;
	return kerr(err, "log directory '%s' is served by kbrokerd (%s): commit group '%s' "
	    "through it with -b, or stop it", klog_dir_path(d), who, group);
}

/* __consumer_offsets exists (made now if need be; a process racing us may
 * be making it), and its partition `part` is open for writing */
static struct klog_part *
open_for_write(struct klog_dir *d, int part, char *err)
{
	static char compact[] = "cleanup.policy=compact";
	char *kv[] = { compact };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct klog_part *p;
	int tries;

	if (!klog_topic_exists(d, OTOPIC) &&
	    klog_topic_create(d, OTOPIC, KLOG_OFFSETS_PARTITIONS, kv, 1, err) < 0 &&
	    errno != EEXIST)
		return NULL;
	/* a racing creator may not have made every partition or written the
	 * topic file yet: give it two seconds */
	for (tries = 0; tries < 200; tries++) {
		if ((p = klog_part_open(d, OTOPIC, part, KLOG_WRITE, err)) || errno != ENOENT)
			return p;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* append the records as batches (each within max.message.bytes) and sync */
static int
append(struct klog_dir *d, const char *group, const struct klog_orec *o, size_t n, char *err)
{
	struct klog_builder bb;
	struct klog_buf key = {0}, val = {0}, all = {0};
	struct klog_config cfg;
	struct klog_part *p = NULL;
	unsigned char *out;
	size_t len, i, max;
	int64_t first, last, now = klog_now_ms();
	int part = klog_offsets_partition(group), rc = -1;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (served(d, group, err) < 0)
		goto out;
	if (!(p = open_for_write(d, part, err)))
		goto out;
	if (klog_topic_load(d, OTOPIC, &cfg, err) < 0)
		goto out;
	max = cfg.max_message_bytes > 1024 ? (size_t)cfg.max_message_bytes : 1024;
	for (i = 0; i < n; i++) {
		key.len = val.len = 0;
		if (klog_orec_encode(&o[i], &key, &val, err) < 0)
			goto out;
		if (bb.count && klog_builder_size(&bb) + klog_record_size(0, bb.count,
		    (int32_t)key.len, (int32_t)val.len, NULL, 0) + 64 > max) {
			if (klog_builder_finish(&bb, &out, &len, err) < 0 ||
			    klog_buf_append(&all, out, len) < 0)
				goto nomem;
			klog_builder_reset(&bb);
		}
		if (klog_builder_add(&bb, now, key.data, (int32_t)key.len,
		    o[i].value_version < 0 ? NULL : val.data,
		    o[i].value_version < 0 ? -1 : (int32_t)val.len, NULL, 0) < 0)
			goto nomem;
	}
	if (klog_builder_finish(&bb, &out, &len, err) < 0 || klog_buf_append(&all, out, len) < 0)
		goto nomem;
	if (klog_part_append(p, all.data, all.len, &first, &last, err) < 0 ||
	    klog_part_sync(p, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	if (errno == ENOMEM)
		kerr_sys(err, "group '%s': cannot build the commit", group);
out:
	klog_builder_free(&bb);
	klog_buf_free(&key);
	klog_buf_free(&val);
	klog_buf_free(&all);
	if (p)
		klog_part_close(p);
	return rc;
}

int
klog_gstore_commit(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err)
{
	struct klog_orec *o;
	int64_t now = klog_now_ms();
	size_t i;
	int rc;

	if (check_group(group, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (klog_topic_name_check(c[i].topic, err) < 0)
			return -1;
		if (c[i].partition < 0 || c[i].offset < -1) {
			errno = EINVAL;
			return kerr(err, "group '%s': bad commit for '%s-%d': offset %" PRId64,
			    group, c[i].topic, c[i].partition, c[i].offset);
		}
	}
	if (!n)
		return 0;
	if (!(o = calloc(n, sizeof *o)))
		return kerr_sys(err, "group '%s'", group);
	for (i = 0; i < n; i++) {
		o[i].kind = KLOG_OREC_COMMIT;
		o[i].key_version = 1;
		o[i].value_version = c[i].offset < 0 ? -1 : 3;
		o[i].group = (char *)group;
		o[i].topic = c[i].topic;
		o[i].partition = c[i].partition;
		o[i].offset = c[i].offset;
		o[i].leader_epoch = -1;
		o[i].metadata = (char *)"";
		o[i].commit_ts = c[i].commit_ts > 0 ? c[i].commit_ts : now;
		o[i].expire_ts = -1;
	}
	rc = append(d, group, o, n, err);
	free(o);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
klog_gstore_groups(struct klog_dir *d, char ***names, size_t *n, char *err)
{
	struct gmap m = {0};
	char **v = NULL, **nv;
	size_t k = 0, cap = 0, i, j;
	int part;

	*names = NULL;
	*n = 0;
	for (part = 0; part < KLOG_OFFSETS_PARTITIONS; part++) {
		if (scan(d, part, NULL, &m, err) < 0)
			goto fail;
		for (i = 0; i < m.n; i++) {
			if (!m.v[i].live)
				continue;
			for (j = 0; j < k && strcmp(v[j], m.v[i].group); j++)
				;
			if (j < k)
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				if (!(nv = realloc(v, cap * sizeof *v)))
					goto nomem;
				v = nv;
			}
			if (!(v[k] = strdup(m.v[i].group)))
				goto nomem;
			k++;
		}
		gmap_free(&m);
	}
	if (k)
		qsort(v, k, sizeof *v, cmp_str);
	*names = v;
	*n = k;
	return 0;
nomem:
	kerr_sys(err, "partition '%s-%d'", OTOPIC, part);
fail:
	gmap_free(&m);
	klog_strv_free(v, k);
	return -1;
}

int
klog_gstore_delete(struct klog_dir *d, const char *group, char *err)
{
	struct gmap m = {0};
	struct klog_orec *o = NULL;
	size_t i, k = 0;
	int live = 0, rc = -1;

	if (check_group(group, err) < 0)
		return -1;
	if (served(d, group, err) < 0)
		return -1;
	if (scan(d, klog_offsets_partition(group), group, &m, err) < 0)
		goto out;
	for (i = 0; i < m.n; i++)
		live += m.v[i].live;
	if (!live) {
		errno = ENOENT;
		kerr(err, "no such group '%s'", group);
		goto out;
	}
	if (!(o = calloc(m.n + 1, sizeof *o))) {
		kerr_sys(err, "group '%s'", group);
		goto out;
	}
	/* the group's metadata first, then each live offset */
	o[k].kind = KLOG_OREC_GROUP;
	o[k].key_version = 2;
	o[k].value_version = -1;
	o[k++].group = (char *)group;
	for (i = 0; i < m.n; i++) {
		if (!m.v[i].live || !m.v[i].topic)
			continue;
		o[k].kind = KLOG_OREC_COMMIT;
		o[k].key_version = 1;
		o[k].value_version = -1;
		o[k].group = (char *)group;
		o[k].topic = m.v[i].topic;
		o[k++].partition = m.v[i].partition;
	}
	rc = append(d, group, o, k, err);
out:
	free(o);
	gmap_free(&m);
	return rc;
}
