/* klog - log compaction: the last record per key survives. MIT licence. */
/*
 * A topic with cleanup.policy=compact (or compact,delete) keeps, for each
 * key, the record with the highest offset; older records of that key are
 * removed from the sealed segments.  The active segment is never touched.
 * Offsets do not change, so compacted segments have gaps (readers allow
 * forward gaps in compacted topics only, segment.c).
 *
 * The dirty section runs from the partition's cleaner-offset-checkpoint
 * entry (Kafka's file and format: "0\nN\n<topic> <partition> <offset>\n",
 * the first offset not yet cleaned; the log start when absent) to the
 * active segment's base.  A pass:
 *
 *  1. Map.  Walk the dirty section's records, key -> last offset, keyed by
 *     the XXH3 64-bit hash of the key, in an open-addressing table of a
 *     fixed number of entries (map_entries, 16 bytes a slot, at most half
 *     full).  When the next batch's records would not fit, the pass stops
 *     there: map_end is that batch's base offset, and the next pass starts
 *     from it.  A batch larger than the whole map fails the run.
 *  2. Clean.  Every sealed segment with base < map_end is rewritten into
 *     <base>.log.cleaned (and .index.cleaned, .timeindex.cleaned, built
 *     as recovery builds them): a record below map_end is kept when no
 *     later offset of its key is in the map.  A kept tombstone (null value)
 *     of a batch without a delete horizon gets one: the batch is written
 *     with attribute bit 6 (hasDeleteHorizonMs) and baseTimestamp = now +
 *     delete.retention.ms, record timestamp deltas relative to it, as
 *     Kafka's cleaner does (KIP-534); a later pass after that time drops
 *     the tombstone.  Batches keep their base offset, lastOffsetDelta,
 *     leader epoch, producer id, epoch and base sequence, codec and
 *     timestamp type; a batch left without records is dropped, unless it
 *     carries a producer id (idempotent producer state): then it stays as
 *     an empty batch (recordsCount 0), as Kafka keeps one.  A batch with
 *     nothing removed and no horizon to set is copied byte for byte; a
 *     segment with nothing removed is neither written nor replaced.
 *     Records without a key, control batches and batches in a codec not
 *     built in are kept as they are.  Damage (a CRC that fails) stops the
 *     run: nothing is replaced.
 *  3. Swap, under the partition's writer lock (flock on its directory):
 *     each source segment must still be the file that was read (same
 *     inode), else the pass is abandoned.  Segments are then committed in
 *     ascending base order: rename .index.cleaned, .timeindex.cleaned,
 *     .log.cleaned to .swap, fsync the directory (the .log.swap name is a
 *     segment's commit point); then each .swap is renamed over its final
 *     name and the directory fsynced.  The old segment is replaced by
 *     rename(2) rather than renamed to .deleted first (Kafka's way), so
 *     that a reader opening a segment by name always finds one version
 *     of it; a reader with the old file open keeps reading it.
 *  4. cleaner-offset-checkpoint := map_end.
 *
 * Crash safety: before step 3 every .cleaned file is fdatasynced.  A
 * writer opening the partition (partition.c) finishes what a dead
 * compactor left: a <base>.log.swap is renamed over <base>.log, with the
 * indexes in .swap or .cleaned form; every other .cleaned, .swap and
 * .deleted file is removed.  Because segments commit in ascending order, a
 * crash leaves a prefix of the pass committed: a record is only ever
 * removed when a later record of its key is in a committed or an
 * untouched segment, and a tombstone whose horizon passed is removed only
 * with the older records of its key, which lie in earlier segments.  A
 * pass that died is run again (the checkpoint did not move).
 *
 * One compactor at a time per log directory: it holds flock(LOCK_EX) on
 * DIR/.klog-cleaner.lock for the whole run, and a writer's clean-up of
 * leftovers runs only when it can take that lock (no live compactor).
 * Memory: the map, one batch's records, a 1 MiB output buffer and the
 * walker's window: bounded by map_entries and the largest batch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "partition.h"

#define CLEANER_LOCK ".klog-cleaner.lock"
#define CKPT "cleaner-offset-checkpoint"
#define OUT_FLUSH ((size_t)1 << 20)

/* key hash -> last offset; hash 0 marks a free slot */
struct kmap {
	uint64_t *h;
	int64_t *off;
	size_t mask, n, max;
};

struct cseg {
	int64_t base;
	dev_t dev;
	ino_t ino;
	int changed;
};

struct kc {
	struct klog_dir *d;
	const char *topic;
	int partition;
	char pname[KLOG_TOPIC_MAX + 16];
	int dfd;
	struct klog_config cfg;
	int64_t now;
	struct kmap m;
	int64_t *bases;                 /* every segment; the last is the active one */
	size_t nbase;
	int64_t start, map_end;
	struct cseg *segs;              /* rewritten this pass */
	size_t nseg;
	struct klog_rec_iter it;
	struct klog_buf out, enc, z;
	struct klog_record *keep;
	size_t nkeep, capkeep;
	struct kindex_builder ib;
	int64_t opos;                   /* bytes of the cleaned segment so far */
	int ifd, ofd;                   /* the segment read, its .cleaned (from the first change) */
	int64_t obase;
	int changed;
	int sweep;                      /* a forced run looks for expired tombstones */
	struct klog_compact_stats *st;
	const struct klog_compact_opts *o;
};

/* a test stops the run here with SIGKILL (KLOG_TEST_COMPACT_KILL=stage) */
static void
killpoint(const char *stage)
{
	const char *e = getenv("KLOG_TEST_COMPACT_KILL");

	if (e && !strcmp(e, stage))
		raise(SIGKILL);
}

static int
stopped(const struct kc *c)
{
	return c->o && c->o->stop && *c->o->stop;
}

static uint64_t
key_hash(const unsigned char *k, int32_t n)
{
	uint64_t h = XXH3_64bits(k, (size_t)n);

	return h ? h : 1;
}

static int
map_init(struct kmap *m, int64_t entries)
{
	size_t slots = 16;

	while (slots < (size_t)entries * 2)
		slots <<= 1;
	m->h = calloc(slots, sizeof *m->h);
	m->off = malloc(slots * sizeof *m->off);
	if (!m->h || !m->off)
		return -1;
	m->mask = slots - 1;
	m->max = (size_t)entries;
	m->n = 0;
	return 0;
}

static void
map_free(struct kmap *m)
{
	free(m->h);
	free(m->off);
	memset(m, 0, sizeof *m);
}

static void
map_clear(struct kmap *m)
{
	memset(m->h, 0, (m->mask + 1) * sizeof *m->h);
	m->n = 0;
}

/* 0 set, -1 the table is full */
static int
map_put(struct kmap *m, uint64_t h, int64_t off)
{
	size_t i = (size_t)h & m->mask;

	while (m->h[i] && m->h[i] != h)
		i = (i + 1) & m->mask;
	if (!m->h[i]) {
		if (m->n + 1 >= m->mask)
			return -1;
		m->h[i] = h;
		m->n++;
	}
	m->off[i] = off;
	return 0;
}

/* the last offset of the key, -1 if not in the map */
static int64_t
map_get(const struct kmap *m, uint64_t h)
{
	size_t i = (size_t)h & m->mask;

	while (m->h[i]) {
		if (m->h[i] == h)
			return m->off[i];
		i = (i + 1) & m->mask;
	}
	return -1;
}

/* records of a batch can be read here (not a control batch, codec built in) */
static int
readable(const struct klog_batch *b)
{
	return !(b->attributes & KLOG_ATTR_CONTROL) && b->count > 0 &&
	    klog_codec_available(b->attributes & KLOG_ATTR_CODEC);
}

static int
open_seg(struct kc *c, int64_t base, struct stat *st, char *err)
{
	char nm[KSEG_NAMELEN];
	int fd;

	kseg_name(nm, sizeof nm, base, ".log");
	if ((fd = openat(c->dfd, nm, O_RDONLY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open segment '%s/%s'", c->pname, nm);
	if (fstat(fd, st) < 0) {
		kerr_sys(err, "cannot stat segment '%s/%s'", c->pname, nm);
		close(fd);
		return -1;
	}
	return fd;
}

/* a batch that fails its CRC or its records stops the run */
static int
damaged(struct kc *c, int64_t base, int64_t pos, const char *msg, char *err)
{
	errno = EILSEQ;
	return kerr(err, "segment '%s/" SEG_FMT ".log' damaged at byte %" PRId64 ": %s; not "
	    "compacted", c->pname, base, pos, msg);
}

/* step 1: the map over [start, ...), setting map_end */
static int
build_map(struct kc *c, char *err)
{
	struct kseg_walk w;
	struct klog_record r;
	struct stat st;
	char e[KLOG_ERRLEN];
	size_t i;
	int fd, k;

	map_clear(&c->m);
	c->map_end = c->bases[c->nbase - 1];
	for (i = 0; i + 1 < c->nbase; i++) {
		if (c->bases[i + 1] <= c->start)
			continue;       /* wholly clean */
		if ((fd = open_seg(c, c->bases[i], &st, err)) < 0)
			return -1;
		kseg_walk_init(&w, fd, 0, st.st_size);
		while ((k = kseg_walk_next(&w)) == 1) {
			c->st->bytes_read += (int64_t)klog_batch_size(&w.b);
			if (stopped(c)) {
				kseg_walk_free(&w);
				close(fd);
				errno = ECANCELED;
				return kerr(err, "partition '%s': compaction stopped", c->pname);
			}
			if (klog_batch_last(&w.b) < c->start || !readable(&w.b)) {
				kseg_walk_skip(&w);
				continue;
			}
			if (c->m.n + (size_t)w.b.count > c->m.max && c->m.n > 0) {
				c->map_end = w.b.base_offset;
				kseg_walk_free(&w);
				close(fd);
				return 0;
			}
			if (klog_batch_verify(w.p, &w.b, e) < 0 ||
			    klog_rec_iter_start(&c->it, w.p, &w.b, e) < 0)
				goto bad;
			while ((k = klog_rec_iter_next(&c->it, &r, e)) == 1) {
				if (r.offset < c->start || r.key_len < 0)
					continue;
				if (map_put(&c->m, key_hash(r.key, r.key_len), r.offset) < 0) {
					kseg_walk_free(&w);
					close(fd);
					errno = E2BIG;
					return kerr(err, "partition '%s': the batch at offset %" PRId64
					    " has more keys than the compaction map holds (%zu)",
					    c->pname, w.b.base_offset, c->m.max);
				}
			}
			if (k < 0)
				goto bad;
			kseg_walk_skip(&w);
		}
		kseg_walk_free(&w);
		close(fd);
		if (k == -2)
			return kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", c->pname,
			    c->bases[i]);
		if (k == -1)
			return damaged(c, c->bases[i], w.pos, w.msg, err);
		continue;
bad:
		kseg_walk_free(&w);
		close(fd);
		return damaged(c, c->bases[i], w.pos, e, err);
	}
	return 0;
}

static int
flush_out(struct kc *c, char *err)
{
	size_t off = 0;

	while (off < c->out.len) {
		ssize_t n = write(c->ofd, c->out.data + off, c->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kerr_sys(err, "cannot write a cleaned segment of '%s'", c->pname);
		off += (size_t)n;
	}
	c->st->bytes_written += (int64_t)c->out.len;
	c->out.len = 0;
	return 0;
}

/*
 * The first batch that changes: until then the cleaned segment is the
 * segment's own bytes, which were not written; now they are (the .cleaned
 * file is made here, so a segment that does not change costs no write).
 */
static int
first_change(struct kc *c, char *err)
{
	char nm[KSEG_NAMELEN];
	loff_t in = 0;

	if (c->changed)
		return 0;
	kseg_name(nm, sizeof nm, c->obase, ".log.cleaned");
	if ((c->ofd = openat(c->dfd, nm, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create '%s/%s'", c->pname, nm);
	while (in < c->opos) {
		ssize_t n = copy_file_range(c->ifd, &in, c->ofd, NULL, (size_t)(c->opos - in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kerr_sys(err, "cannot write '%s/%s'", c->pname, nm);
	}
	c->st->bytes_written += c->opos;
	c->changed = 1;
	return 0;
}

/* one batch of the cleaned segment */
static int
emit(struct kc *c, const unsigned char *p, size_t len, char *err)
{
	struct klog_batch b;

	klog_batch_parse(p, len, &b, NULL);
	if (kindex_builder_add(&c->ib, &b, c->opos) < 0 ||
	    (c->changed && klog_buf_append(&c->out, p, len) < 0))
		return kerr_sys(err, "partition '%s': compaction", c->pname);
	c->opos += (int64_t)len;
	if (c->out.len >= OUT_FLUSH)
		return flush_out(c, err);
	return 0;
}

static unsigned char *
put_field(unsigned char *q, const unsigned char *data, int32_t len)
{
	q += klog_varint_put(q, len < 0 ? -1 : len);
	if (len > 0) {
		memcpy(q, data, (size_t)len);
		q += len;
	}
	return q;
}

/* the kept records (c->keep) as a batch shaped like the original */
static int
encode(struct kc *c, const struct klog_batch *b, int64_t horizon, char *err)
{
	int lat = !!(b->attributes & KLOG_ATTR_LOG_APPEND_TIME);
	int codec = b->attributes & KLOG_ATTR_CODEC;
	int64_t base_ts, max_ts = b->max_timestamp;
	struct klog_buf *body = &c->enc;
	int16_t attr;
	unsigned char *p;
	size_t i;

	if (c->nkeep == 0)
		codec = KLOG_CODEC_NONE;
	base_ts = horizon >= 0 ? horizon : lat || !c->nkeep ? b->base_timestamp : c->keep[0].timestamp;
	if (!lat && c->nkeep) {
		max_ts = c->keep[0].timestamp;
		for (i = 1; i < c->nkeep; i++)
			if (c->keep[i].timestamp > max_ts)
				max_ts = c->keep[i].timestamp;
	}
	body->len = 0;
	if (klog_buf_reserve(body, KLOG_BATCH_OVERHEAD) < 0)
		goto nomem;
	body->len = KLOG_BATCH_OVERHEAD;
	for (i = 0; i < c->nkeep; i++) {
		const struct klog_record *r = &c->keep[i];
		int64_t tsd = lat ? 0 : (int64_t)((uint64_t)r->timestamp - (uint64_t)base_ts);
		int64_t od = r->offset - b->base_offset;
		size_t hl = (size_t)(r->headers_end - r->headers), n;
		unsigned char *q;
		n = 1 + klog_varint_len(tsd) + klog_varint_len(od) +
		    (r->key_len < 0 ? 1 : klog_varint_len(r->key_len) + (size_t)r->key_len) +
		    (r->value_len < 0 ? 1 : klog_varint_len(r->value_len) + (size_t)r->value_len) +
		    klog_varint_len(r->header_count) + hl;
		if (klog_buf_reserve(body, n + 10) < 0)
			goto nomem;
		q = body->data + body->len;
		q += klog_varint_put(q, (int64_t)n);
		*q++ = 0;
		q += klog_varint_put(q, tsd);
		q += klog_varint_put(q, od);
		q = put_field(q, r->key, r->key_len);
		q = put_field(q, r->value, r->value_len);
		q += klog_varint_put(q, r->header_count);
		if (hl)
			memcpy(q, r->headers, hl);
		q += hl;
		body->len = (size_t)(q - body->data);
	}
	if (codec != KLOG_CODEC_NONE) {
		c->z.len = 0;
		if (klog_buf_reserve(&c->z, KLOG_BATCH_OVERHEAD) < 0)
			goto nomem;
		c->z.len = KLOG_BATCH_OVERHEAD;
		if (klog_compress(codec, body->data + KLOG_BATCH_OVERHEAD,
		    body->len - KLOG_BATCH_OVERHEAD, &c->z, err) < 0)
			return -1;
		body = &c->z;
	}
	attr = (int16_t)((b->attributes & ~(KLOG_ATTR_DELETE_HORIZON | KLOG_ATTR_CODEC)) | codec |
	    (horizon >= 0 ? KLOG_ATTR_DELETE_HORIZON : 0));
	p = body->data;
	put64(p, (uint64_t)b->base_offset);
	put32(p + 8, (uint32_t)(body->len - KLOG_LOG_OVERHEAD));
	put32(p + 12, (uint32_t)b->leader_epoch);
	p[16] = 2;
	put16(p + 21, (uint16_t)attr);
	put32(p + 23, (uint32_t)b->last_offset_delta);
	put64(p + 27, (uint64_t)base_ts);
	put64(p + 35, (uint64_t)max_ts);
	put64(p + 43, (uint64_t)b->producer_id);
	put16(p + 51, (uint16_t)b->producer_epoch);
	put32(p + 53, (uint32_t)b->base_sequence);
	put32(p + 57, (uint32_t)c->nkeep);
	put32(p + 17, klog_crc32c(0, p + 21, body->len - 21));
	return emit(c, p, body->len, err);
nomem:
	return kerr_sys(err, "partition '%s': compaction", c->pname);
}

/* step 2 for one batch */
static int
filter_batch(struct kc *c, const unsigned char *p, const struct klog_batch *b, int64_t seg,
    int64_t pos, char *err)
{
	int has_h = !!(b->attributes & KLOG_ATTR_DELETE_HORIZON);
	int64_t removed = 0, tombs = 0, m, horizon = -1;
	struct klog_record r;
	char e[KLOG_ERRLEN];
	int k;

	if (klog_batch_verify(p, b, e) < 0)
		return damaged(c, seg, pos, e, err);
	if (!readable(b) || b->base_offset >= c->map_end)
		return emit(c, p, klog_batch_size(b), err);
	if (klog_rec_iter_start(&c->it, p, b, e) < 0)
		return damaged(c, seg, pos, e, err);
	c->nkeep = 0;
	while ((k = klog_rec_iter_next(&c->it, &r, e)) == 1) {
		int drop = 0;
		c->st->records_read++;
		if (r.key_len >= 0 && (m = map_get(&c->m, key_hash(r.key, r.key_len))) > r.offset)
			drop = 1;
		else if (r.key_len >= 0 && r.value_len < 0) {
			if (has_h && c->now >= b->base_timestamp) {
				drop = 1;
				c->st->tombstones_removed++;
			} else
				tombs++;
		}
		if (drop) {
			removed++;
			continue;
		}
		if (c->nkeep == c->capkeep) {
			size_t cap = c->capkeep ? c->capkeep * 2 : 256;
			struct klog_record *t = realloc(c->keep, cap * sizeof *t);
			if (!t)
				return kerr_sys(err, "partition '%s': compaction", c->pname);
			c->keep = t;
			c->capkeep = cap;
		}
		c->keep[c->nkeep++] = r;
	}
	if (k < 0)
		return damaged(c, seg, pos, e, err);
	c->st->records_removed += removed;
	if (removed == 0 && (tombs == 0 || has_h))
		return emit(c, p, klog_batch_size(b), err);
	if (first_change(c, err) < 0)
		return -1;
	if (c->nkeep == 0 && b->producer_id < 0)
		return 0;
	if (tombs)
		horizon = has_h ? b->base_timestamp : c->now + c->cfg.delete_retention_ms;
	return encode(c, b, horizon, err);
}

static void
unlink_cleaned(struct kc *c, int64_t base)
{
	static const char *const suf[] = { ".index.cleaned", ".timeindex.cleaned", ".log.cleaned" };
	char nm[KSEG_NAMELEN];
	size_t i;

	for (i = 0; i < 3; i++) {
		kseg_name(nm, sizeof nm, base, suf[i]);
		unlinkat(c->dfd, nm, 0);
	}
}

/* write a whole buffer to a new file in the partition, synced */
static int
write_synced(struct kc *c, const char *nm, const struct klog_buf *b, char *err)
{
	int fd = openat(c->dfd, nm, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || (b->len && write(fd, b->data, b->len) != (ssize_t)b->len) ||
	    fdatasync(fd) < 0) {
		kerr_sys(err, "cannot write '%s/%s'", c->pname, nm);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* step 2 for one segment: <base>.*.cleaned, synced; s->changed */
static int
clean_segment(struct kc *c, struct cseg *s, char *err)
{
	char nm[KSEG_NAMELEN];
	struct kseg_walk w;
	struct stat st;
	int fd, k, rc = -1;

	if ((fd = open_seg(c, s->base, &st, err)) < 0)
		return -1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	c->ifd = fd;
	c->obase = s->base;
	c->ofd = -1;
	kseg_name(nm, sizeof nm, s->base, ".log.cleaned");
	kindex_builder_init(&c->ib, s->base, c->cfg.index_interval_bytes);
	c->opos = 0;
	c->out.len = 0;
	c->changed = 0;
	kseg_walk_init(&w, fd, 0, st.st_size);
	while ((k = kseg_walk_next(&w)) == 1) {
		c->st->bytes_read += (int64_t)klog_batch_size(&w.b);
		if (stopped(c)) {
			errno = ECANCELED;
			kerr(err, "partition '%s': compaction stopped", c->pname);
			goto out;
		}
		if (filter_batch(c, w.p, &w.b, s->base, w.pos, err) < 0)
			goto out;
		kseg_walk_skip(&w);
	}
	if (k == -2) {
		kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", c->pname, s->base);
		goto out;
	}
	if (k == -1) {
		damaged(c, s->base, w.pos, w.msg, err);
		goto out;
	}
	if (!c->changed) {
		rc = 0;
		goto out;
	}
	if (flush_out(c, err) < 0)
		goto out;
	if (fdatasync(c->ofd) < 0) {
		kerr_sys(err, "cannot sync '%s/%s'", c->pname, nm);
		goto out;
	}
	if (kindex_builder_seal(&c->ib) < 0) {
		kerr_sys(err, "partition '%s': compaction", c->pname);
		goto out;
	}
	kseg_name(nm, sizeof nm, s->base, ".index.cleaned");
	if (write_synced(c, nm, &c->ib.ix, err) < 0)
		goto out;
	kseg_name(nm, sizeof nm, s->base, ".timeindex.cleaned");
	if (write_synced(c, nm, &c->ib.tx, err) < 0)
		goto out;
	s->changed = 1;
	rc = 0;
out:
	kseg_walk_free(&w);
	kindex_builder_free(&c->ib);
	close(fd);
	if (c->ofd >= 0)
		close(c->ofd);
	c->ofd = -1;
	c->ifd = -1;
	if (!s->changed)
		unlink_cleaned(c, s->base);
	return rc;
}

static int
rename_seg(struct kc *c, int64_t base, const char *from, const char *to, int must, char *err)
{
	static const char *const suf[] = { ".index", ".timeindex", ".log" };
	char a[KSEG_NAMELEN], b[KSEG_NAMELEN], sa[24], sb[24];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(sa, sizeof sa, "%s%s", suf[i], from);
		snprintf(sb, sizeof sb, "%s%s", suf[i], to);
		kseg_name(a, sizeof a, base, sa);
		kseg_name(b, sizeof b, base, sb);
		if (renameat(c->dfd, a, c->dfd, b) < 0 && (must || errno != ENOENT))
			return kerr_sys(err, "cannot rename '%s/%s' to '%s'", c->pname, a, b);
	}
	return 0;
}

/* step 3, under the writer lock: 1 swapped, 0 abandoned (a segment changed) */
static int
swap(struct kc *c, char *err)
{
	char nm[KSEG_NAMELEN];
	struct stat st;
	size_t i;
	int first = 1;

	for (i = 0; i < c->nseg; i++) {
		struct cseg *s = &c->segs[i];
		if (!s->changed)
			continue;
		kseg_name(nm, sizeof nm, s->base, ".log");
		if (fstatat(c->dfd, nm, &st, 0) < 0 || st.st_dev != s->dev || st.st_ino != s->ino)
			return 0;
	}
	for (i = 0; i < c->nseg; i++) {
		if (!c->segs[i].changed)
			continue;
		if (rename_seg(c, c->segs[i].base, ".cleaned", ".swap", 1, err) < 0)
			return -1;
		if (fsync(c->dfd) < 0)
			return kerr_sys(err, "cannot sync partition '%s'", c->pname);
		if (first)
			killpoint("swap");
		first = 0;
	}
	killpoint("swapped");
	first = 1;
	for (i = 0; i < c->nseg; i++) {
		if (!c->segs[i].changed)
			continue;
		if (rename_seg(c, c->segs[i].base, ".swap", "", 1, err) < 0)
			return -1;
		c->st->segments++;
		if (first)
			killpoint("final");
		first = 0;
	}
	if (fsync(c->dfd) < 0)
		return kerr_sys(err, "cannot sync partition '%s'", c->pname);
	killpoint("ckpt");
	return 1;
}

/* does the name end in one of the compaction's suffixes? */
static int
leftover(const char *name)
{
	size_t n = strlen(name);

	return (n > 8 && !strcmp(name + n - 8, ".cleaned")) || (n > 5 && !strcmp(name + n - 5, ".swap")) ||
	    (n > 8 && !strcmp(name + n - 8, ".deleted"));
}

/* names in the partition that a compaction left; *n 0 when none */
static int
list_leftovers(int dfd, const char *pname, char ***names, size_t *n, char *err)
{
	struct dirent *de;
	DIR *dp;
	size_t cap = 0;
	int fd;

	*names = NULL;
	*n = 0;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return kerr_sys(err, "cannot read partition '%s'", pname);
	}
	while ((de = readdir(dp))) {
		if (!leftover(de->d_name))
			continue;
		if (*n == cap) {
			char **t;
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(*names, cap * sizeof *t)))
				goto nomem;
			*names = t;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(dp);
	return 0;
nomem:
	closedir(dp);
	klog_strv_free(*names, *n);
	*names = NULL;
	*n = 0;
	return kerr_sys(err, "partition '%s'", pname);
}

/*
 * What a dead compactor left (the writer lock and the cleaner lock held):
 * committed segments (<base>.log.swap) are finished, the rest removed.
 */
static int
finish_leftovers(int dfd, const char *pname, char **names, size_t n, char *err)
{
	static const char *const idx[] = { ".index", ".timeindex" };
	char a[KSEG_NAMELEN], b[KSEG_NAMELEN], sa[24];
	size_t i, j, done = 0, gone = 0;
	int64_t base;
	int k;

	for (i = 0; i < n; i++) {
		if ((base = kseg_parse_name(names[i], ".log.swap")) < 0)
			continue;
		for (j = 0; j < 2; j++) {
			kseg_name(b, sizeof b, base, idx[j]);
			for (k = 0; k < 2; k++) {
				snprintf(sa, sizeof sa, "%s%s", idx[j], k ? ".cleaned" : ".swap");
				kseg_name(a, sizeof a, base, sa);
				if (renameat(dfd, a, dfd, b) == 0)
					break;
				if (errno != ENOENT)
					return kerr_sys(err, "cannot rename '%s/%s'", pname, a);
			}
		}
		kseg_name(b, sizeof b, base, ".log");
		if (renameat(dfd, names[i], dfd, b) < 0)
			return kerr_sys(err, "cannot rename '%s/%s'", pname, names[i]);
		done++;
	}
	for (i = 0; i < n; i++)
		if (unlinkat(dfd, names[i], 0) == 0)
			gone++;
		else if (errno != ENOENT)
			return kerr_sys(err, "cannot remove '%s/%s'", pname, names[i]);
	if (fsync(dfd) < 0)
		return kerr_sys(err, "cannot sync partition '%s'", pname);
	if (done || gone)
		kinfo("partition '%s': finished an interrupted compaction: %zu segment%s swapped in, "
		    "%zu file%s removed", pname, done, done == 1 ? "" : "s", gone, gone == 1 ? "" : "s");
	return 0;
}

static int
cleaner_lock(struct klog_dir *d, int nowait, char *err)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", klog_dir_path(d), CLEANER_LOCK);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open lock '%s'", path);
	while (flock(fd, LOCK_EX | (nowait ? LOCK_NB : 0)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			kerr(err, "log directory '%s': another compaction is running", klog_dir_path(d));
		else
			kerr_sys(err, "cannot lock '%s'", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
kcompact_leftovers(struct klog_part *p, char *err)
{
	char **names, e[KLOG_ERRLEN];
	size_t n;
	int lk, rc;

	if (list_leftovers(p->dfd, p->name, &names, &n, err) < 0)
		return -1;
	if (!n)
		return 0;
	/* a live compactor's files are its own */
	if ((lk = cleaner_lock(p->d, 1, e)) < 0) {
		klog_strv_free(names, n);
		return 0;
	}
	rc = finish_leftovers(p->dfd, p->name, names, n, err);
	klog_strv_free(names, n);
	close(lk);
	return rc;
}

/* the sealed segments' share of bytes past the cleaner checkpoint */
static double
dirty_ratio(struct kc *c)
{
	int64_t clean = 0, dirty = 0;
	size_t i;

	for (i = 0; i + 1 < c->nbase; i++) {
		char nm[KSEG_NAMELEN];
		struct stat st;
		kseg_name(nm, sizeof nm, c->bases[i], ".log");
		if (fstatat(c->dfd, nm, &st, 0) < 0)
			continue;
		if (c->bases[i + 1] <= c->start)
			clean += st.st_size;
		else
			dirty += st.st_size;
	}
	return clean + dirty ? (double)dirty / (double)(clean + dirty) : 0;
}

static int
changed_any(const struct kc *c)
{
	size_t i;

	for (i = 0; i < c->nseg; i++)
		if (c->segs[i].changed)
			return 1;
	return 0;
}

/* one pass: 1 ran, 0 nothing dirty, -1 error */
static int
pass(struct kc *c, int lockfd, char *err)
{
	size_t i;
	int r = -1;

	free(c->bases);
	c->bases = NULL;
	if (kseg_list(c->dfd, c->pname, &c->bases, &c->nbase, err) < 0)
		return -1;
	if (c->nbase < 2)
		return 0;
	if (!klog_ckpt_get(c->d, CKPT, c->topic, c->partition, &c->start) ||
	    c->start < c->bases[0])
		c->start = c->bases[0];
	if (c->start >= c->bases[c->nbase - 1]) {
		/* nothing dirty: one sweep for tombstones past their horizon */
		if (!c->sweep)
			return 0;
		c->sweep = 0;
		map_clear(&c->m);
		c->map_end = c->bases[c->nbase - 1];
	} else if (build_map(c, err) < 0)
		return -1;
	c->sweep = 0;
	free(c->segs);
	c->nseg = 0;
	if (!(c->segs = calloc(c->nbase, sizeof *c->segs)))
		return kerr_sys(err, "partition '%s'", c->pname);
	for (i = 0; i + 1 < c->nbase && c->bases[i] < c->map_end; i++) {
		c->segs[c->nseg] = (struct cseg){ c->bases[i], 0, 0, 0 };
		if (clean_segment(c, &c->segs[c->nseg++], err) < 0)
			goto undo;
	}
	if (!changed_any(c))
		goto unchanged;
	killpoint("cleaned");
	if (lockfd >= 0 && kp_lock_ex(lockfd) < 0) {
		kerr_sys(err, "cannot lock partition '%s'", c->pname);
		goto undo;
	}
	if (c->o && c->o->swap_lock)
		c->o->swap_lock(c->o->arg, 1);
	r = swap(c, err);
	if (c->o && c->o->swap_lock)
		c->o->swap_lock(c->o->arg, 0);
	if (lockfd >= 0)
		flock(lockfd, LOCK_UN);
	if (r <= 0)
		goto undo;
unchanged:
	c->st->passes++;
	if (klog_ckpt_update(c->d, CKPT, c->topic, c->partition, c->map_end, err) < 0)
		return -1;
	c->st->cleaned_to = c->map_end;
	return 1;
undo:
	for (i = 0; i < c->nseg; i++)
		unlink_cleaned(c, c->segs[i].base);
	if (r == 0)
		return kerr(err, "partition '%s': a segment changed during compaction; try again",
		    c->pname);
	return -1;
}

int
klog_compact_partition(struct klog_dir *d, const char *topic, int partition,
    const struct klog_compact_opts *o, struct klog_compact_stats *st, char *err)
{
	struct klog_compact_stats dummy;
	struct kc c;
	char who[256];
	int lk = -1, rc = -1, r, passes = 0;
	int64_t entries = o && o->map_entries > 0 ? o->map_entries : KLOG_COMPACT_MAP_ENTRIES;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	c.d = d;
	c.topic = topic;
	c.partition = partition;
	c.dfd = c.ifd = c.ofd = -1;
	c.st = st;
	c.o = o;
	c.now = o && o->now_ms ? o->now_ms : klog_now_ms();
	klog_rec_iter_init0(&c.it);
	snprintf(c.pname, sizeof c.pname, "%s-%d", topic, partition);
	if (klog_topic_load(d, topic, &c.cfg, err) < 0)
		return -1;
	if (partition < 0 || partition >= c.cfg.partitions) {
		errno = ENOENT;
		return kerr(err, "no such partition '%s' (topic '%s' has %d)", c.pname, topic,
		    c.cfg.partitions);
	}
	if (!c.cfg.compact) {
		errno = EINVAL;
		return kerr(err, "topic '%s' is not compacted (cleanup.policy=delete)", topic);
	}
	if (!(o && o->broker) && klog_dir_broker(d, who, sizeof who)) {
		errno = EBUSY;
		return kerr(err, "log directory '%s' is served by kbrokerd (%s): compact through "
		    "it with -b", klog_dir_path(d), who);
	}
	if ((c.dfd = openat(d->fd, c.pname, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;       /* never written */
		return kerr_sys(err, "cannot open partition '%s'", c.pname);
	}
	if ((lk = cleaner_lock(d, o && o->nowait, err)) < 0)
		goto out;
	if (map_init(&c.m, entries) < 0) {
		kerr_sys(err, "partition '%s': compaction map of %" PRId64 " entries", c.pname, entries);
		goto out;
	}
	st->map_bytes = (int64_t)(c.m.mask + 1) * 16;
	/* what an earlier run left, then the passes */
	{
		char **names;
		size_t n;
		if (list_leftovers(c.dfd, c.pname, &names, &n, err) < 0)
			goto out;
		r = 0;
		if (n && (!(o && o->broker) && kp_lock_ex(c.dfd) < 0))
			r = kerr_sys(err, "cannot lock partition '%s'", c.pname);
		else if (n) {
			r = finish_leftovers(c.dfd, c.pname, names, n, err);
			if (!(o && o->broker))
				flock(c.dfd, LOCK_UN);
		}
		klog_strv_free(names, n);
		if (r < 0)
			goto out;
	}
	if (kseg_list(c.dfd, c.pname, &c.bases, &c.nbase, err) < 0)
		goto out;
	if (!klog_ckpt_get(d, CKPT, topic, partition, &st->dirty_start))
		st->dirty_start = c.nbase ? c.bases[0] : 0;
	c.start = st->dirty_start;
	st->cleaned_to = st->dirty_start;
	st->dirty_ratio = dirty_ratio(&c);
	if (!(o && o->force) && st->dirty_ratio < c.cfg.min_cleanable_dirty_ratio) {
		rc = 0;
		goto out;
	}
	c.sweep = o && o->force;
	while ((r = pass(&c, o && o->broker ? -1 : c.dfd, err)) == 1 && ++passes < 100000)
		;
	rc = r < 0 ? -1 : 0;
out:
	if (lk >= 0)
		close(lk);
	if (c.dfd >= 0)
		close(c.dfd);
	map_free(&c.m);
	free(c.bases);
	free(c.segs);
	free(c.keep);
	klog_buf_free(&c.out);
	klog_buf_free(&c.enc);
	klog_buf_free(&c.z);
	klog_rec_iter_free(&c.it);
	return rc;
}

/*
 * A writer that just rolled a compacted topic's segment: compact when the
 * dirty share is above min.cleanable.dirty.ratio and no other compaction
 * runs; its view of the sealed segments is then refreshed.  Problems are
 * warnings: the append succeeded.
 */
void
kcompact_after_roll(struct klog_part *p)
{
	struct klog_compact_opts o = { 0 };
	struct klog_compact_stats st;
	char err[KLOG_ERRLEN];

	o.nowait = 1;
	if (klog_compact_partition(p->d, p->topic, p->partition, &o, &st, err) < 0) {
		if (errno != EWOULDBLOCK && !strstr(err, "another compaction"))
			kwarn("%s", err);
		return;
	}
	if (st.segments)
		kcompact_refresh(p);
}

/* sealed segments were replaced: forget what was known of their files */
void
kcompact_refresh(struct klog_part *p)
{
	size_t i;

	for (i = 0; i + 1 < p->nseg; i++) {
		struct seg *s = &p->segs[i];
		char nm[KSEG_NAMELEN];
		struct stat st;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->verified = 0;
		s->max_ts = INT64_MIN;
		kseg_name(nm, sizeof nm, s->base, ".log");
		if (fstatat(p->dfd, nm, &st, 0) == 0)
			s->size = st.st_size;
	}
	if (p->rseg + 1 < p->nseg)
		p->rseg = SIZE_MAX;
}

int
klog_log_compact(struct klog_log *lg, const char *topic, int partition,
    const struct klog_compact_opts *o, struct klog_compact_stats *st, char *err)
{
	struct klog_compact_stats one, sum;
	struct klog_config cfg;
	struct klog_dir *d = klog_log_dir(lg);
	int i, lo, hi;

	if (!d)
		return klog_client_compact(klog_log_client(lg), topic, partition, st, err);
	if (klog_topic_load(d, topic, &cfg, err) < 0)
		return -1;
	if (partition >= cfg.partitions) {
		errno = ENOENT;
		return kerr(err, "no such partition '%s-%d' (topic '%s' has %d)", topic, partition,
		    topic, cfg.partitions);
	}
	lo = partition < 0 ? 0 : partition;
	hi = partition < 0 ? cfg.partitions : partition + 1;
	memset(&sum, 0, sizeof sum);
	for (i = lo; i < hi; i++) {
		if (klog_compact_partition(d, topic, i, o, &one, err) < 0)
			return -1;
		sum.passes += one.passes;
		sum.segments += one.segments;
		sum.bytes_read += one.bytes_read;
		sum.bytes_written += one.bytes_written;
		sum.records_read += one.records_read;
		sum.records_removed += one.records_removed;
		sum.tombstones_removed += one.tombstones_removed;
		if (one.map_bytes > sum.map_bytes)
			sum.map_bytes = one.map_bytes;
		sum.cleaned_to = one.cleaned_to;
	}
	if (st)
		*st = sum;
	return 0;
}
