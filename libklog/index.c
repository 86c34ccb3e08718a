/* klog - the sparse offset index and the time index of a segment. MIT licence. */
/*
 * Format (Kafka's, big-endian, no header, no checksum):
 *
 *   <base>.index      8-byte entries: int32 relative offset (offset - base),
 *                     int32 byte position of a batch in <base>.log
 *   <base>.timeindex  12-byte entries: int64 timestamp (ms), int32 relative offset
 *
 * Entries are sorted.  An offset-index entry (o, p) says: the batches that
 * start at byte p hold offsets up to o, so a lookup for offset x binary
 * searches the greatest entry with o <= x and scans batches forward from p.
 * A time-index entry (t, o) says: the largest timestamp up to offset o is t.
 *
 * When written (kindex_builder): on an append, if more than
 * index.interval.bytes were appended since the last entry, the offset
 * index gets (largest offset of the append, byte where the append starts)
 * before the new bytes are counted, and the time index (largest timestamp
 * so far, last offset of the batch holding it) if that timestamp grew; a
 * roll adds one last time-index entry.  A rebuild (Kafka's recovery, and
 * klog's) applies the same rule batch by batch.
 *
 * Kafka preallocates both files (zero-filled, 10 MiB) while a segment is
 * active and trims them on roll; klog never preallocates, so its files
 * hold exactly entries * size bytes, and an all-zero entry after the
 * first one is read as the end (Kafka's padding).  Non-zero entries after
 * it are damage.  A file whose length is not a multiple of the entry size
 * has a torn last entry: it is ignored here and cut off by recovery.
 *
 * Checks (kindex_check_*), what a valid index satisfies:
 *  - offset entries: offset >= base, position >= 0, both strictly
 *    increasing; each points at the start of a batch whose base offset is
 *    <= the entry's offset, inside the log, and its offset is not past the
 *    segment's last offset;
 *  - time entries: offset >= base, neither offset nor timestamp
 *    decreasing, offset not past the segment's last offset, and no batch
 *    up to the entry's offset has a larger timestamp than the entry
 *    (a lookup by time would skip it).
 * An index is only a hint: a reader that finds it bad can scan instead.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SEG_FMT "%020" PRId64

static int
entsize(int kind)
{
	return KINDEX_SIZE(kind);
}

static void decode_one(const unsigned char *p, int kind, int64_t base,
    struct klog_index_entry *e);

static int
read_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e)
{
	unsigned char b[12];
	int sz = entsize(kind);

	if (pread(fd, b, (size_t)sz, i * sz) != sz)
		return -1;
	decode_one(b, kind, base, e);
	return 0;
}

static int
is_zero(int fd, int kind, int64_t i)
{
	unsigned char b[12] = {0}, z[12] = {0};
	int sz = entsize(kind);

	if (pread(fd, b, (size_t)sz, i * sz) != sz)
		return 1;
	return !memcmp(b, z, (size_t)sz);
}

/* the entries before the padding, found by binary search (the padding is
 * a suffix of zero entries): what kindex_decode finds, for an index
 * without damage, without reading the whole file */
int64_t
kindex_count(int fd, int kind)
{
	struct stat st;
	int64_t n, lo, hi;

	if (fstat(fd, &st) < 0)
		return -1;
	n = st.st_size / entsize(kind);
	if (n <= 1 || !is_zero(fd, kind, n - 1))
		return n;
	/* Kafka's zero padding: find the first zero entry after entry 0 */
	lo = 1;
	hi = n - 1;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (is_zero(fd, kind, mid))
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == 1 && is_zero(fd, kind, 0))
		return 0;
	return lo;
}

int
kindex_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e)
{
	return read_entry(fd, kind, i, base, e);
}

/* greatest entry with offset (kind 0) or timestamp (kind 1) <= key; -1 if none */
int64_t
kindex_lookup(int fd, int kind, int64_t n, int64_t base, int64_t key,
    struct klog_index_entry *e)
{
	int64_t lo = 0, hi = n - 1, found = -1;
	struct klog_index_entry x;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (read_entry(fd, kind, mid, base, &x) < 0)
			return -1;
		if ((kind ? x.position : x.offset) <= key) {
			found = mid;
			*e = x;
			lo = mid + 1;
		} else
			hi = mid - 1;
	}
	return found;
}

void
kindex_encode(unsigned char *p, int kind, int64_t base, int64_t offset, int64_t value)
{
	if (kind) {
		put64(p, (uint64_t)value);
		put32(p + 8, (uint32_t)((uint64_t)offset - (uint64_t)base));
	} else {
		put32(p, (uint32_t)((uint64_t)offset - (uint64_t)base));
		put32(p + 4, (uint32_t)value);
	}
}

int
kindex_append(int fd, int kind, int64_t base, int64_t offset, int64_t value)
{
	unsigned char b[12];
	int sz = entsize(kind);

	kindex_encode(b, kind, base, offset, value);
	return write(fd, b, (size_t)sz) == sz ? 0 : -1;
}

static void
decode_one(const unsigned char *p, int kind, int64_t base, struct klog_index_entry *e)
{
	/* wrapping, not overflowing, with a hostile base (a file name) */
	if (kind) {
		e->position = (int64_t)get64(p);        /* timestamp */
		e->offset = (int64_t)((uint64_t)base + (uint64_t)(int64_t)(int32_t)get32(p + 8));
	} else {
		e->offset = (int64_t)((uint64_t)base + (uint64_t)(int64_t)(int32_t)get32(p));
		e->position = (int32_t)get32(p + 4);
	}
}

static int
zero_entry(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int
kindex_decode(const unsigned char *p, size_t len, int kind, int64_t base,
    struct klog_index_entry **e, size_t *n, int *torn, size_t *after)
{
	size_t es = (size_t)entsize(kind), cnt = len / es, i, end;

	*e = NULL;
	*n = 0;
	*torn = len % es != 0;
	*after = 0;
	for (end = 0; end < cnt; end++)
		if (end > 0 && zero_entry(p + end * es, es))
			break;
	for (i = end; i < cnt; i++)
		if (!zero_entry(p + i * es, es))
			(*after)++;
	if (end && !(*e = malloc(end * sizeof **e)))
		return -1;
	for (i = 0; i < end; i++)
		decode_one(p + i * es, kind, base, &(*e)[i]);
	*n = end;
	return 0;
}

int
kindex_load(const char *path, int kind, int64_t base, struct klog_index_entry **e,
    size_t *n, int *torn, size_t *after, char *err)
{
	char *data;
	size_t len;
	int r;

	*e = NULL;
	*n = 0;
	*torn = 0;
	*after = 0;
	if (klog_read_file(path, &data, &len, err) < 0)
		return errno == ENOENT ? 1 : -1;
	r = kindex_decode((const unsigned char *)data, len, kind, base, e, n, torn, after);
	free(data);
	if (r < 0)
		return kerr_sys(err, "index '%s'", path);
	return 0;
}

/* building */

void
kindex_builder_init(struct kindex_builder *b, int64_t base, int64_t interval)
{
	memset(b, 0, sizeof *b);
	b->base = base;
	b->interval = interval;
	b->max_ts = b->last_ts = INT64_MIN;
	b->max_ts_off = base;
}

static int
time_entry(struct kindex_builder *b)
{
	unsigned char e[12];

	if (b->max_ts <= b->last_ts)
		return 0;
	kindex_encode(e, 1, b->base, b->max_ts_off, b->max_ts);
	if (klog_buf_append(&b->tx, e, 12) < 0)
		return -1;
	b->last_ts = b->max_ts;
	b->tentries++;
	return 0;
}

int
kindex_builder_note(struct kindex_builder *b, int64_t pos, int64_t bytes, int64_t last,
    int64_t max_ts, int64_t max_ts_off)
{
	unsigned char e[8];

	if (max_ts > b->max_ts) {
		b->max_ts = max_ts;
		b->max_ts_off = max_ts_off;
	}
	if (b->since > b->interval) {
		kindex_encode(e, 0, b->base, last, pos);
		if (klog_buf_append(&b->ix, e, 8) < 0 || time_entry(b) < 0)
			return -1;
		b->entries++;
		b->since = 0;
	}
	b->since += bytes;
	return 0;
}

int
kindex_builder_add(struct kindex_builder *b, const struct klog_batch *batch, int64_t pos)
{
	int64_t last;

	if (kseg_batch_last(batch, &last) < 0)
		last = INT64_MAX;       /* a batch no check passed; keep going, defined */
	return kindex_builder_note(b, pos, (int64_t)klog_batch_size(batch), last,
	    batch->max_timestamp, last);
}

int
kindex_builder_seal(struct kindex_builder *b)
{
	return time_entry(b);
}

void
kindex_builder_free(struct kindex_builder *b)
{
	klog_buf_free(&b->ix);
	klog_buf_free(&b->tx);
}

/*
 * The entries of every batch of bytes [0, size) of the segment open at fd
 * (walked with segment.c's walker), and with seal the roll's last time
 * entry; the builder is freed on failure.
 */
int
kindex_build(struct kindex_builder *b, int64_t base, int64_t interval, int fd, int64_t size,
    int seal, char *err)
{
	struct kseg_walk w;
	int r;

	kindex_builder_init(b, base, interval);
	kseg_walk_init(&w, fd, 0, size);
	while ((r = kseg_walk_next(&w)) == 1) {
		if (kindex_builder_add(b, &w.b, w.pos) < 0) {
			r = -2;
			break;
		}
		kseg_walk_skip(&w);
	}
	if (r == 0 && seal && kindex_builder_seal(b) < 0)
		r = -2;
	if (r != 0) {
		if (r == -1)
			kerr(err, "segment '" SEG_FMT ".log' is damaged: %s", base, w.msg);
		else
			kerr_sys(err, "cannot rebuild the indexes of segment '" SEG_FMT ".log'", base);
		kindex_builder_free(b);
	}
	kseg_walk_free(&w);
	return r == 0 ? 0 : -1;
}

/* kindex_build, then DIR/<base>.index and .timeindex written atomically */
int
kindex_rebuild(const char *dir, int64_t base, int64_t interval, int fd, int64_t size, int seal,
    int64_t *entries, char *err)
{
	struct kindex_builder b;
	char path[PATH_MAX];
	int r;

	if (kindex_build(&b, base, interval, fd, size, seal, err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/" SEG_FMT ".index", dir, base);
	r = klog_write_atomic(path, b.ix.data ? (void *)b.ix.data : (void *)"", b.ix.len, err);
	snprintf(path, sizeof path, "%s/" SEG_FMT ".timeindex", dir, base);
	if (r == 0)
		r = klog_write_atomic(path, b.tx.data ? (void *)b.tx.data : (void *)"", b.tx.len, err);
	if (entries)
		*entries = b.entries;
	kindex_builder_free(&b);
	return r;
}

/* checking */

static void __attribute__((format(printf, 2, 3)))
bad(struct kindex_check *c, const char *fmt, ...)
{
	char msg[KLOG_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->bad)
		c->bad(c->arg, msg);
}

void
kindex_check_init(struct kindex_check *c, int kind, int64_t base,
    const struct klog_index_entry *e, size_t n, void (*badfn)(void *arg, const char *msg),
    void *arg)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->base = base;
	c->e = e;
	c->n = n;
	c->max_ts = INT64_MIN;
	c->last = -1;
	c->bad = badfn;
	c->arg = arg;
}

int
kindex_check_entries(struct kindex_check *c)
{
	const struct klog_index_entry *e = c->e;
	size_t i;
	int nbad = 0;

	for (i = 0; i < c->n; i++) {
		if (c->kind == 0 && (e[i].offset < c->base || e[i].position < 0 ||
		    (i > 0 && (e[i].offset <= e[i - 1].offset ||
		    e[i].position <= e[i - 1].position)))) {
			bad(c, "entry %zu (offset %" PRId64 ", byte %" PRId64 ") out of order", i,
			    e[i].offset, e[i].position);
			nbad++;
		}
		if (c->kind == 1 && (e[i].offset < c->base ||
		    (i > 0 && (e[i].offset < e[i - 1].offset ||
		    e[i].position < e[i - 1].position)))) {
			bad(c, "entry %zu (timestamp %" PRId64 ", offset %" PRId64 ") out of order",
			    i, e[i].position, e[i].offset);
			nbad++;
		}
	}
	return nbad;
}

int
kindex_check_batch(struct kindex_check *c, const struct klog_batch *b, int64_t pos)
{
	const struct klog_index_entry *e = c->e;
	int64_t last;
	int nbad = 0;

	if (b->last_offset_delta < 0 || b->base_offset > INT64_MAX - b->last_offset_delta)
		last = INT64_MAX;
	else
		last = klog_batch_last(b);
	if (c->kind == 0) {
		/* entries up to this batch must point at its start */
		for (; c->k < c->n && e[c->k].position <= pos; c->k++) {
			if (e[c->k].position < pos) {
				bad(c, "entry %zu (offset %" PRId64 ") points at byte %" PRId64
				    ", not at a batch", c->k, e[c->k].offset, e[c->k].position);
				nbad++;
			} else if (e[c->k].offset < b->base_offset) {
				bad(c, "entry %zu (offset %" PRId64 ") points at byte %" PRId64
				    ", a batch starting at offset %" PRId64, c->k, e[c->k].offset,
				    e[c->k].position, b->base_offset);
				nbad++;
			}
		}
	} else {
		/* nothing before an entry's offset may be later than it */
		for (; c->k < c->n && e[c->k].offset <= last; c->k++)
			if (c->max_ts != INT64_MIN && c->max_ts > e[c->k].position) {
				bad(c, "entry %zu (timestamp %" PRId64 ", offset %" PRId64 ") is below "
				    "the timestamp %" PRId64 " of an earlier batch", c->k,
				    e[c->k].position, e[c->k].offset, c->max_ts);
				nbad++;
			}
	}
	if (b->max_timestamp > c->max_ts)
		c->max_ts = b->max_timestamp;
	c->last = last;
	return nbad;
}

int
kindex_check_end(struct kindex_check *c)
{
	const struct klog_index_entry *e = c->e;
	size_t i;
	int nbad = 0;

	if (c->kind == 0)
		for (; c->k < c->n; c->k++) {
			bad(c, "entry %zu (offset %" PRId64 ") points at byte %" PRId64 ", past the "
			    "end of the log", c->k, e[c->k].offset, e[c->k].position);
			nbad++;
		}
	for (i = 0; i < c->n; i++)
		if (e[i].offset > c->last) {
			bad(c, "entry %zu: offset %" PRId64 " is past the last offset %" PRId64
			    " of the segment", i, e[i].offset, c->last);
			nbad++;
		}
	return nbad;
}

int
klog_index_read(const char *path, int kind, int64_t base,
    struct klog_index_entry **out, size_t *nout, char *err)
{
	size_t after;
	int torn, r;

	r = kindex_load(path, kind, base, out, nout, &torn, &after, err);
	if (r == 1) {
		errno = ENOENT;
		return kerr_sys(err, "cannot open index '%s'", path);
	}
	return r;
}
