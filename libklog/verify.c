/* klog - offline listing, checks and repair of segments, indexes, checkpoints (kdump). MIT licence. */
/*
 * Listing (klog_dump_path), one line per item, space-separated key=value:
 *
 *   batch pos=0 base=0 last=0 count=1 size=80 epoch=0 magic=2 crc=98ec18d3
 *         crc_ok=1 codec=none ts_type=create base_ts=.. max_ts=.. pid=0
 *         pepoch=0 seq=0 txn=0 control=0                  (one line)
 *     record offset=0 ts=.. key=.. value=.. headers=k=v,k=v (-r; two spaces)
 *   index offset=56 pos=4123                     (absolute offset, byte)
 *   timeindex ts=1725272041932 offset=2
 *   checkpoint topic=foo partition=0 offset=3    (directory checkpoints)
 *   checkpoint epoch=2 offset=3                  (leader-epoch-checkpoint)
 *   file DIR/foo-0/00000000000000000000.log      (before each file of a
 *                                                 directory, or on request)
 *
 * Keys, values and headers print bytes 0x20-0x7e as they are, '\' as
 * "\\" and every other byte as \xNN; a null key or value prints "null".
 *
 * Checks (klog_verify_segment), for one <base>.log and its indexes:
 *  - every batch header parses and the batch is whole (a short last
 *    batch is a torn tail), its CRC-32C matches, its records parse
 *    (decompressing when the codec is built in) with offsets inside the
 *    batch's range;
 *  - the first batch's base offset is >= the segment's base offset (from
 *    its name), every later one is > the previous batch's last offset,
 *    and no offset is more than 2^31-1 above the base;
 *  - .index: 8-byte entries (int32 offset - base, int32 byte position),
 *    .timeindex: 12-byte entries (int64 timestamp, int32 offset - base),
 *    big-endian; an all-zero entry after the first one ends the list
 *    (Kafka's preallocation); a length that is not a whole number of
 *    entries is a torn entry.  Offset entries must increase in both
 *    fields, point at the start of a batch whose base offset is <= the
 *    entry's offset, and stay within the segment.  Time entries must not
 *    decrease, stay within the segment, and no batch before the entry's
 *    offset may have a larger timestamp than the entry (lookups by time
 *    would skip it).
 * A partition also needs each segment's base offset above the previous
 * segment's last offset.
 *
 * Repair (klog_repair_partition) runs under the partition's writer lock
 * (flock on the partition directory, as klog_part_append takes it): the
 * first batch failing the checks above, in any segment, starts the cut.
 * The bytes from there to the end of that segment are appended to
 * <segment>.log.damaged, each later segment's bytes to its own .damaged
 * file and its files removed, the segment is truncated and its .index and
 * .timeindex rebuilt the way Kafka's recovery does: an entry (last offset
 * of the batch, its position) for a batch that starts after more than
 * index.interval.bytes since the last entry, and at the same moments a
 * time entry (largest timestamp so far, last offset of the batch holding
 * it) when that timestamp grew.  Producer-state snapshots past the new
 * end are removed.  Without damage in the logs, only segments whose
 * indexes fail the checks get them rebuilt.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define RD_CHUNK ((size_t)1 << 20)
#define OUT_FLUSH ((size_t)64 << 10)
#define SEG_FMT "%020" PRId64

/* snprintf for messages, where cutting a long name short is fine */
static void __attribute__((format(printf, 3, 4)))
msgf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/* a window over a file, refilled by pread */
struct rd {
	int fd;
	int64_t size;
	unsigned char *buf;
	size_t cap, len;
	int64_t at;
};

/* n bytes at pos, or NULL: past the end (errno 0) or a read error */
static const unsigned char *
rd_get(struct rd *r, int64_t pos, size_t n)
{
	size_t want;
	ssize_t got;

	if (pos >= r->at && pos + (int64_t)n <= r->at + (int64_t)r->len)
		return r->buf + (pos - r->at);
	if (pos < 0 || pos + (int64_t)n > r->size) {
		errno = 0;
		return NULL;
	}
	want = n > RD_CHUNK ? n : RD_CHUNK;
	if ((int64_t)want > r->size - pos)
		want = (size_t)(r->size - pos);
	if (want > r->cap) {
		unsigned char *b = realloc(r->buf, want);
		if (!b)
			return NULL;
		r->buf = b;
		r->cap = want;
	}
	r->at = pos;
	r->len = 0;
	while (r->len < want) {
		got = pread(r->fd, r->buf + r->len, want - r->len, pos + (int64_t)r->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r->len = 0;
			return NULL;
		}
		if (got == 0)
			break;
		r->len += (size_t)got;
	}
	if (r->len < n) {
		errno = 0;
		return NULL;
	}
	return r->buf;
}

/* batches of a segment file one by one */
struct walk {
	struct rd rd;
	int64_t pos;
	struct klog_batch b;
	const unsigned char *p;         /* the whole batch */
	char msg[KLOG_ERRLEN];          /* why the walk stopped (-1) */
};

static int
walk_open(struct walk *w, const char *path, char *err)
{
	struct stat st;

	memset(w, 0, sizeof *w);
	if ((w->rd.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (fstat(w->rd.fd, &st) < 0) {
		kerr_sys(err, "cannot stat '%s'", path);
		close(w->rd.fd);
		return -1;
	}
	w->rd.size = st.st_size;
	return 0;
}

static void
walk_close(struct walk *w)
{
	if (w->rd.fd >= 0)
		close(w->rd.fd);
	free(w->rd.buf);
	w->rd.buf = NULL;
	w->rd.fd = -1;
}

/* 1 a batch at w->pos, 0 the end, -1 bad or incomplete batch (w->msg),
 * -2 read error (errno) */
static int
walk_next(struct walk *w)
{
	int64_t left = w->rd.size - w->pos;
	size_t hn = left < KLOG_BATCH_OVERHEAD ? (size_t)left : KLOG_BATCH_OVERHEAD;
	const unsigned char *h;
	char e[KLOG_ERRLEN];
	int r;

	if (left <= 0)
		return 0;
	if (!(h = rd_get(&w->rd, w->pos, hn)))
		return errno ? -2 : 0;
	r = klog_batch_parse(h, (size_t)left, &w->b, e);
	if (r < 0) {
		msgf(w->msg, sizeof w->msg, "bad batch header at byte %" PRId64 ": %s", w->pos, e);
		return -1;
	}
	if (r == 0) {
		if (left >= KLOG_LOG_OVERHEAD)
			msgf(w->msg, sizeof w->msg, "incomplete batch at byte %" PRId64
			    ": %" PRId64 " bytes of %zu", w->pos, left, klog_batch_size(&w->b));
		else
			msgf(w->msg, sizeof w->msg, "incomplete batch at byte %" PRId64
			    ": %" PRId64 " bytes", w->pos, left);
		return -1;
	}
	if (!(w->p = rd_get(&w->rd, w->pos, klog_batch_size(&w->b))))
		return errno ? -2 : 0;
	return 1;
}

/* "foo-0/00000000000000000000.log": the last two parts of the real path */
static void
short_name(const char *path, char *out, size_t n)
{
	char rp[PATH_MAX];
	const char *s = realpath(path, rp) ? rp : path, *last, *prev;

	last = strrchr(s, '/');
	if (!last) {
		snprintf(out, n, "%s", s);
		return;
	}
	prev = last;
	while (prev > s && prev[-1] != '/')
		prev--;
	if (prev == last)
		prev = last + 1;
	snprintf(out, n, "%s", prev);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* base offset from "<20 digits><suffix>", else -1 */
static int64_t
seg_base(const char *path, const char *suffix)
{
	const char *b = base_name(path);
	char digits[21];
	int64_t v;
	int i;

	if (strlen(b) != 20 + strlen(suffix) || strcmp(b + 20, suffix))
		return -1;
	for (i = 0; i < 20; i++)
		if (b[i] < '0' || b[i] > '9')
			return -1;
	memcpy(digits, b, 20);
	digits[20] = 0;
	if (klog_parse_i64(digits, &v) < 0)
		return -1;
	return v;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

/* the sibling of a segment file with another suffix */
static int
sibling(const char *path, const char *from, const char *to, char *out, size_t n)
{
	size_t a = strlen(path), b = strlen(from);

	if (!has_suffix(path, from) || a - b + strlen(to) + 1 > n)
		return -1;
	memcpy(out, path, a - b);
	strcpy(out + a - b, to);
	return 0;
}

int
klog_file_kind(const char *path)
{
	const char *b = base_name(path);
	unsigned char h[64];
	ssize_t n;
	int fd, i;

	if (has_suffix(b, ".log"))
		return KLOG_FILE_LOG;
	if (has_suffix(b, ".index"))
		return KLOG_FILE_INDEX;
	if (has_suffix(b, ".timeindex"))
		return KLOG_FILE_TIMEINDEX;
	if (has_suffix(b, "-checkpoint"))
		return KLOG_FILE_CHECKPOINT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return KLOG_FILE_UNKNOWN;
	n = read(fd, h, sizeof h);
	close(fd);
	if (n <= 0)
		return KLOG_FILE_UNKNOWN;
	/* text: a version number alone on the first line */
	for (i = 0; i < n && h[i] >= '0' && h[i] <= '9'; i++)
		;
	if (i > 0 && i < n && h[i] == '\n')
		return KLOG_FILE_CHECKPOINT;
	if (n >= KLOG_BATCH_OVERHEAD && h[16] == 2)
		return KLOG_FILE_LOG;
	return KLOG_FILE_UNKNOWN;
}

/* index files */

struct ient {
	int64_t off;            /* absolute offset */
	int64_t val;            /* position (.index) or timestamp (.timeindex) */
};

/* 0 read (*n may be 0), 1 no such file, -1 error; *torn: a partial last entry */
static int
load_index(const char *path, int kind, int64_t base, struct ient **e, size_t *n, int *torn,
    char *err)
{
	static const unsigned char zero[12];
	char *data;
	size_t len, i, cnt, es = kind ? 12 : 8;
	const unsigned char *p;

	*e = NULL;
	*n = 0;
	*torn = 0;
	if (klog_read_file(path, &data, &len, err) < 0)
		return errno == ENOENT ? 1 : -1;
	cnt = len / es;
	*torn = len % es != 0;
	if (cnt && !(*e = calloc(cnt, sizeof **e))) {
		free(data);
		return kerr_sys(err, "index '%s'", path);
	}
	for (i = 0; i < cnt; i++) {
		p = (const unsigned char *)data + i * es;
		if (i > 0 && !memcmp(p, zero, es))
			break;          /* preallocated, unused */
		if (kind) {
			(*e)[i].val = (int64_t)get64(p);
			(*e)[i].off = base + (int32_t)get32(p + 8);
		} else {
			(*e)[i].off = base + (int32_t)get32(p);
			(*e)[i].val = (int32_t)get32(p + 4);
		}
	}
	*n = i;
	free(data);
	return 0;
}

/* verification */

struct vstate {
	void (*problem)(void *arg, const char *msg);
	void *arg;
	struct klog_verify_report *r;
	int64_t index_bad;              /* problems in the index files */
};

static void __attribute__((format(printf, 2, 3)))
vprob(struct vstate *v, const char *fmt, ...)
{
	char msg[KLOG_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	v->r->bad++;
	if (v->problem)
		v->problem(v->arg, msg);
	else
		kwarn("%s", msg);
}

/* records of a CRC-valid batch: well formed, offsets inside the batch */
static int
check_records(struct klog_rec_iter *it, const unsigned char *p, const struct klog_batch *b,
    char *e)
{
	struct klog_record rec;
	int64_t prev = INT64_MIN;
	int r;

	if (!klog_codec_available(b->attributes & KLOG_ATTR_CODEC))
		return 0;
	if (klog_rec_iter_start(it, p, b, e) < 0)
		return -1;
	while ((r = klog_rec_iter_next(it, &rec, e)) == 1) {
		if (rec.offset <= prev || rec.offset < b->base_offset || rec.offset > klog_batch_last(b)) {
			snprintf(e, KLOG_ERRLEN, "record offset %" PRId64 " out of order or outside "
			    "the batch (%" PRId64 "-%" PRId64 ")", rec.offset, b->base_offset,
			    klog_batch_last(b));
			return -1;
		}
		prev = rec.offset;
	}
	return r;
}

/*
 * One batch against what came before: CRC, offsets, records.  0 good,
 * -1 with msg.  prev_last: last offset before it (-1 none), base: the
 * segment's base offset (-1 unknown).
 */
static int
check_batch(struct klog_rec_iter *it, const unsigned char *p, const struct klog_batch *b,
    int64_t pos, int64_t prev_last, int64_t base, char *msg, size_t n)
{
	char e[KLOG_ERRLEN];

	if (klog_batch_verify(p, b, e) < 0) {
		msgf(msg, n, "bad CRC in batch at byte %" PRId64 " (offset %" PRId64 ")", pos,
		    b->base_offset);
		return -1;
	}
	if (prev_last >= 0 && b->base_offset <= prev_last) {
		msgf(msg, n, "batch at byte %" PRId64 ": offset %" PRId64 " is not after the "
		    "previous last offset %" PRId64, pos, b->base_offset, prev_last);
		return -1;
	}
	if (base >= 0 && b->base_offset < base) {
		msgf(msg, n, "batch at byte %" PRId64 ": offset %" PRId64 " is below the "
		    "segment's base offset %" PRId64, pos, b->base_offset, base);
		return -1;
	}
	if (base >= 0 && klog_batch_last(b) - base > INT32_MAX) {
		msgf(msg, n, "batch at byte %" PRId64 ": offset %" PRId64 " is too far above "
		    "the segment's base offset %" PRId64, pos, klog_batch_last(b), base);
		return -1;
	}
	if (check_records(it, p, b, e) < 0) {
		msgf(msg, n, "batch at byte %" PRId64 " (offset %" PRId64 "): %s", pos,
		    b->base_offset, e);
		return -1;
	}
	return 0;
}

static int
verify_seg(const char *log_path, struct klog_verify_report *r, struct vstate *v,
    int64_t prev_last, char *err)
{
	char name[PATH_MAX], ipath[PATH_MAX], tpath[PATH_MAX], iname[PATH_MAX], tname[PATH_MAX];
	char msg[KLOG_ERRLEN];
	struct ient *ix = NULL, *tx = NULL;
	size_t ni = 0, nt = 0, ki = 0, kt = 0, i;
	int64_t base, last = -1, maxts = INT64_MIN;
	struct klog_rec_iter it;
	struct walk w;
	int torn, rc, clean = 0;

	memset(r, 0, sizeof *r);
	r->first_bad_pos = -1;
	r->first_offset = r->last_offset = -1;
	v->r = r;
	if (walk_open(&w, log_path, err) < 0)
		return -1;
	r->log_bytes = w.rd.size;
	short_name(log_path, name, sizeof name);
	base = seg_base(log_path, ".log");
	klog_rec_iter_init0(&it);

	if (base >= 0 && sibling(log_path, ".log", ".index", ipath, sizeof ipath) == 0) {
		short_name(ipath, iname, sizeof iname);
		if ((rc = load_index(ipath, 0, base, &ix, &ni, &torn, err)) < 0)
			goto fail;
		if (torn) {
			vprob(v, "index '%s': torn last entry (size not a multiple of 8)", iname);
			v->index_bad++;
		}
		for (i = 0; i < ni; i++) {
			if (ix[i].off < base || ix[i].val < 0 ||
			    (i > 0 && (ix[i].off <= ix[i - 1].off || ix[i].val <= ix[i - 1].val))) {
				vprob(v, "index '%s': entry %zu (offset %" PRId64 ", byte %" PRId64
				    ") out of order", iname, i, ix[i].off, ix[i].val);
				v->index_bad++;
			}
		}
	}
	if (base >= 0 && sibling(log_path, ".log", ".timeindex", tpath, sizeof tpath) == 0) {
		short_name(tpath, tname, sizeof tname);
		if ((rc = load_index(tpath, 1, base, &tx, &nt, &torn, err)) < 0)
			goto fail;
		if (torn) {
			vprob(v, "time index '%s': torn last entry (size not a multiple of 12)", tname);
			v->index_bad++;
		}
		for (i = 0; i < nt; i++) {
			if (tx[i].off < base ||
			    (i > 0 && (tx[i].off < tx[i - 1].off || tx[i].val < tx[i - 1].val))) {
				vprob(v, "time index '%s': entry %zu (timestamp %" PRId64 ", offset %"
				    PRId64 ") out of order", tname, i, tx[i].val, tx[i].off);
				v->index_bad++;
			}
		}
	}

	for (;;) {
		rc = walk_next(&w);
		if (rc == 0) {
			clean = 1;
			break;
		}
		if (rc == -2) {
			kerr_sys(err, "cannot read segment '%s'", name);
			goto fail;
		}
		if (rc == -1) {
			vprob(v, "segment '%s': %s", name, w.msg);
			if (r->first_bad_pos < 0)
				r->first_bad_pos = w.pos;
			break;
		}
		r->batches++;
		r->records += w.b.count;
		/* offset-index entries up to this batch must point at its start */
		for (; ki < ni && ix[ki].val <= w.pos; ki++) {
			if (ix[ki].val < w.pos) {
				vprob(v, "index '%s': entry %zu (offset %" PRId64 ") points at byte %"
				    PRId64 ", not at a batch", iname, ki, ix[ki].off, ix[ki].val);
				v->index_bad++;
			} else if (ix[ki].off < w.b.base_offset) {
				vprob(v, "index '%s': entry %zu (offset %" PRId64 ") points at byte %"
				    PRId64 ", a batch starting at offset %" PRId64, iname, ki,
				    ix[ki].off, ix[ki].val, w.b.base_offset);
				v->index_bad++;
			}
		}
		/* time entries: nothing before their offset may be later than them */
		for (; kt < nt && tx[kt].off <= klog_batch_last(&w.b); kt++)
			if (maxts != INT64_MIN && maxts > tx[kt].val) {
				vprob(v, "time index '%s': entry %zu (timestamp %" PRId64 ", offset %"
				    PRId64 ") is below the timestamp %" PRId64 " of an earlier batch",
				    tname, kt, tx[kt].val, tx[kt].off, maxts);
				v->index_bad++;
			}
		if (check_batch(&it, w.p, &w.b, w.pos, last >= 0 ? last : prev_last, base, msg,
		    sizeof msg) < 0) {
			vprob(v, "segment '%s': %s", name, msg);
			if (r->first_bad_pos < 0)
				r->first_bad_pos = w.pos;
		}
		if (r->first_offset < 0)
			r->first_offset = w.b.base_offset;
		last = klog_batch_last(&w.b);
		if (w.b.max_timestamp > maxts)
			maxts = w.b.max_timestamp;
		w.pos += (int64_t)klog_batch_size(&w.b);
	}
	r->last_offset = last;
	if (clean) {
		for (; ki < ni; ki++) {
			vprob(v, "index '%s': entry %zu (offset %" PRId64 ") points at byte %" PRId64
			    ", past the end of the log", iname, ki, ix[ki].off, ix[ki].val);
			v->index_bad++;
		}
		for (i = 0; i < ni; i++)
			if (ix[i].off > last) {
				vprob(v, "index '%s': entry %zu: offset %" PRId64 " is past the last "
				    "offset %" PRId64 " of the segment", iname, i, ix[i].off, last);
				v->index_bad++;
			}
		for (i = 0; i < nt; i++)
			if (tx[i].off > last) {
				vprob(v, "time index '%s': entry %zu: offset %" PRId64 " is past the "
				    "last offset %" PRId64 " of the segment", tname, i, tx[i].off, last);
				v->index_bad++;
			}
	}
	free(ix);
	free(tx);
	klog_rec_iter_free(&it);
	walk_close(&w);
	return 0;
fail:
	free(ix);
	free(tx);
	klog_rec_iter_free(&it);
	walk_close(&w);
	return -1;
}

int
klog_verify_segment(const char *log_path, struct klog_verify_report *r,
    void (*problem)(void *arg, const char *msg), void *arg, char *err)
{
	struct vstate v = { problem, arg, r, 0 };

	return verify_seg(log_path, r, &v, -1, err);
}

/* directories */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* base offsets of the segments (<20 digits>.log) of a partition directory */
static int
list_segments(const char *dir, int64_t **bases, size_t *n, char *err)
{
	DIR *dp;
	struct dirent *de;
	size_t cap = 0;
	int64_t b, *v = NULL, *t;

	*bases = NULL;
	*n = 0;
	if (!(dp = opendir(dir)))
		return kerr_sys(err, "cannot open partition directory '%s'", dir);
	while ((de = readdir(dp))) {
		if ((b = seg_base(de->d_name, ".log")) < 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(v, cap * sizeof *v))) {
				free(v);
				closedir(dp);
				return kerr_sys(err, "partition directory '%s'", dir);
			}
			v = t;
		}
		v[(*n)++] = b;
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_i64);
	*bases = v;
	return 0;
}

/* "<topic>-<n>" with a valid topic name */
static int
is_partition_name(const char *name)
{
	char topic[KLOG_TOPIC_MAX + 1];
	const char *dash = strrchr(name, '-'), *p;

	if (!dash || dash == name || !dash[1] || (size_t)(dash - name) > KLOG_TOPIC_MAX)
		return 0;
	for (p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	memcpy(topic, name, (size_t)(dash - name));
	topic[dash - name] = 0;
	return klog_topic_name_check(topic, NULL) == 0;
}

static int
is_partition_dir(const char *path)
{
	char rp[PATH_MAX];
	DIR *dp;
	struct dirent *de;
	int found = 0;

	if (realpath(path, rp) && is_partition_name(base_name(rp)))
		return 1;
	if (!(dp = opendir(path)))
		return 0;
	while (!found && (de = readdir(dp)))
		found = seg_base(de->d_name, ".log") >= 0;
	closedir(dp);
	return found;
}

/* sorted names in dir that pass keep(); directories only if dirs */
static int
list_names(const char *dir, int dirs, int (*keep)(const char *), char ***names, size_t *n,
    char *err)
{
	DIR *dp;
	struct dirent *de;
	size_t cap = 0;
	char **v = NULL, **t, path[PATH_MAX];
	struct stat st;

	*names = NULL;
	*n = 0;
	if (!(dp = opendir(dir)))
		return kerr_sys(err, "cannot open directory '%s'", dir);
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.' || !keep(de->d_name))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || (!!S_ISDIR(st.st_mode)) != dirs)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(v, cap * sizeof *v)))
				goto nomem;
			v = t;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_str);
	*names = v;
	return 0;
nomem:
	closedir(dp);
	klog_strv_free(v, *n);
	*n = 0;
	return kerr_sys(err, "directory '%s'", dir);
}

static int
is_checkpoint_name(const char *name)
{
	return has_suffix(name, "-checkpoint");
}

static void
seg_path(char *out, size_t n, const char *dir, int64_t base, const char *suffix)
{
	snprintf(out, n, "%s/" SEG_FMT "%s", dir, base, suffix);
}

struct vpath {
	void (*problem)(void *arg, const char *msg);
	void (*done)(void *arg, const char *segment, const struct klog_verify_report *r);
	void *arg;
	int bad;
};

static int
verify_one(struct vpath *vp, const char *log_path, int64_t prev_last, int64_t *last, char *err)
{
	struct klog_verify_report r;
	struct vstate v = { vp->problem, vp->arg, &r, 0 };
	char name[PATH_MAX];

	if (verify_seg(log_path, &r, &v, prev_last, err) < 0)
		return -1;
	short_name(log_path, name, sizeof name);
	if (r.bad)
		vp->bad = 1;
	if (vp->done)
		vp->done(vp->arg, name, &r);
	if (last && r.last_offset >= 0)
		*last = r.last_offset;
	return 0;
}

static int
verify_partition(struct vpath *vp, const char *dir, char *err)
{
	char path[PATH_MAX];
	int64_t *bases, last = -1;
	size_t n, i;
	int rc = 0;

	if (list_segments(dir, &bases, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		seg_path(path, sizeof path, dir, bases[i], ".log");
		if (last >= 0 && bases[i] <= last) {
			char name[PATH_MAX], msg[KLOG_ERRLEN];
			short_name(path, name, sizeof name);
			msgf(msg, sizeof msg, "segment '%s': base offset %" PRId64 " is not after "
			    "the last offset %" PRId64 " of the segment before it", name, bases[i], last);
			vp->bad = 1;
			if (vp->problem)
				vp->problem(vp->arg, msg);
		}
		rc = verify_one(vp, path, -1, &last, err);
	}
	free(bases);
	return rc;
}

int
klog_verify_path(const char *path, void (*problem)(void *arg, const char *msg),
    void (*done)(void *arg, const char *segment, const struct klog_verify_report *r),
    void *arg, char *err)
{
	struct vpath vp = { problem, done, arg, 0 };
	char sub[PATH_MAX], logp[PATH_MAX], **names;
	struct stat st;
	size_t n, i;
	int rc = 0;

	if (stat(path, &st) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		if (is_partition_dir(path))
			rc = verify_partition(&vp, path, err);
		else {
			if (list_names(path, 1, is_partition_name, &names, &n, err) < 0)
				return -1;
			for (i = 0; i < n && rc == 0; i++) {
				snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
				rc = verify_partition(&vp, sub, err);
			}
			klog_strv_free(names, n);
		}
	} else {
		switch (klog_file_kind(path)) {
		case KLOG_FILE_LOG:
			rc = verify_one(&vp, path, -1, NULL, err);
			break;
		case KLOG_FILE_INDEX:
		case KLOG_FILE_TIMEINDEX:
			if (sibling(path, klog_file_kind(path) == KLOG_FILE_INDEX ? ".index" :
			    ".timeindex", ".log", logp, sizeof logp) < 0)
				return kerr(err, "'%s': not a segment's index", path);
			rc = verify_one(&vp, logp, -1, NULL, err);
			break;
		default:
			return kerr(err, "'%s': not a segment or index file", path);
		}
	}
	if (rc < 0)
		return -1;
	return vp.bad;
}

/* listing */

static int
out_flush(struct klog_dump *dp, int force, char *err)
{
	if (!dp->out.len || (!force && dp->out.len < OUT_FLUSH))
		return 0;
	if (!dp->flush) {
		dp->out.len = 0;
		return 0;
	}
	if (dp->flush(dp->arg, &dp->out) < 0)
		return kerr_sys(err, "cannot write output");
	dp->out.len = 0;
	return 0;
}

static void
put_bytes(struct klog_buf *o, const unsigned char *p, int32_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *q;
	int32_t i;

	if (n < 0) {
		klog_buf_append(o, "null", 4);
		return;
	}
	if (klog_buf_reserve(o, (size_t)n * 4) < 0)
		return;
	q = o->data + o->len;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\\') {
			*q++ = '\\';
			*q++ = '\\';
		} else if (c >= 0x20 && c < 0x7f)
			*q++ = c;
		else {
			*q++ = '\\';
			*q++ = 'x';
			*q++ = (unsigned char)hex[c >> 4];
			*q++ = (unsigned char)hex[c & 15];
		}
	}
	o->len = (size_t)(q - o->data);
}

static int
dump_records(struct klog_dump *dp, struct klog_rec_iter *it, const unsigned char *p,
    const struct klog_batch *b, char *e)
{
	struct klog_record r;
	struct klog_header h;
	const unsigned char *hp;
	int rc, first;

	if (klog_rec_iter_start(it, p, b, e) < 0)
		return -1;
	while ((rc = klog_rec_iter_next(it, &r, e)) == 1) {
		klog_buf_printf(&dp->out, "  record offset=%" PRId64 " ts=%" PRId64 " key=",
		    r.offset, r.timestamp);
		put_bytes(&dp->out, r.key, r.key_len);
		klog_buf_append(&dp->out, " value=", 7);
		put_bytes(&dp->out, r.value, r.value_len);
		klog_buf_append(&dp->out, " headers=", 9);
		hp = r.headers;
		first = 1;
		while (klog_header_next(&hp, r.headers_end, &h)) {
			if (!first)
				klog_buf_append(&dp->out, ",", 1);
			first = 0;
			put_bytes(&dp->out, h.key, h.key_len);
			klog_buf_append(&dp->out, "=", 1);
			put_bytes(&dp->out, h.value, h.value_len);
		}
		klog_buf_append(&dp->out, "\n", 1);
	}
	return rc;
}

static void
name_line(struct klog_dump *dp, const char *path)
{
	if (dp->flags & KLOG_DUMP_NAMES)
		klog_buf_printf(&dp->out, "file %s\n", path);
}

static int
dump_log(struct klog_dump *dp, const char *path, char *err)
{
	struct klog_rec_iter it;
	struct walk w;
	struct klog_batch *b = &w.b;
	char e[KLOG_ERRLEN], name[PATH_MAX];
	int rc, ret = 0;

	if (walk_open(&w, path, err) < 0)
		return -1;
	short_name(path, name, sizeof name);
	name_line(dp, path);
	klog_rec_iter_init0(&it);
	while ((rc = walk_next(&w)) == 1) {
		int crc_ok = klog_batch_verify(w.p, b, NULL) == 0;
		klog_buf_printf(&dp->out, "batch pos=%" PRId64 " base=%" PRId64 " last=%" PRId64
		    " count=%d size=%zu epoch=%d magic=%d crc=%08x crc_ok=%d codec=%s ts_type=%s"
		    " base_ts=%" PRId64 " max_ts=%" PRId64 " pid=%" PRId64 " pepoch=%d seq=%d"
		    " txn=%d control=%d\n", w.pos, b->base_offset, klog_batch_last(b), b->count,
		    klog_batch_size(b), b->leader_epoch, b->magic, b->crc, crc_ok,
		    klog_codec_name(b->attributes & KLOG_ATTR_CODEC),
		    b->attributes & KLOG_ATTR_LOG_APPEND_TIME ? "append" : "create",
		    b->base_timestamp, b->max_timestamp, b->producer_id, b->producer_epoch,
		    b->base_sequence, !!(b->attributes & KLOG_ATTR_TRANSACTIONAL),
		    !!(b->attributes & KLOG_ATTR_CONTROL));
		if ((dp->flags & KLOG_DUMP_RECORDS) && dump_records(dp, &it, w.p, b, e) < 0) {
			kwarn("segment '%s': batch at byte %" PRId64 ": %s", name, w.pos, e);
			ret = 1;
		}
		if (out_flush(dp, 0, err) < 0) {
			ret = -1;
			goto out;
		}
		w.pos += (int64_t)klog_batch_size(b);
	}
	if (rc == -2) {
		kerr_sys(err, "cannot read segment '%s'", name);
		ret = -1;
	} else if (rc == -1) {
		kerr(err, "segment '%s': %s", name, w.msg);
		ret = -1;
	}
out:
	klog_rec_iter_free(&it);
	walk_close(&w);
	return ret;
}

static int
dump_index(struct klog_dump *dp, const char *path, int kind, char *err)
{
	struct ient *e;
	size_t n, i;
	int64_t base = seg_base(path, kind ? ".timeindex" : ".index");
	int torn, rc;

	if (base < 0)
		base = 0;
	if ((rc = load_index(path, kind, base, &e, &n, &torn, err)) != 0)
		return rc < 0 ? -1 : kerr_sys(err, "cannot open '%s'", path);
	name_line(dp, path);
	for (i = 0; i < n; i++) {
		if (kind)
			klog_buf_printf(&dp->out, "timeindex ts=%" PRId64 " offset=%" PRId64 "\n",
			    e[i].val, e[i].off);
		else
			klog_buf_printf(&dp->out, "index offset=%" PRId64 " pos=%" PRId64 "\n",
			    e[i].off, e[i].val);
		if (out_flush(dp, 0, err) < 0) {
			free(e);
			return -1;
		}
	}
	free(e);
	if (torn)
		kwarn("'%s': torn last entry", path);
	return 0;
}

/* Kafka's text checkpoints: version, count, entries of 3 (topic partition
 * offset) or 2 (epoch offset, leader-epoch-checkpoint) fields */
static int
dump_checkpoint(struct klog_dump *dp, const char *path, char *err)
{
	char *text, *line, *next, *f[4], *save;
	size_t len;
	int lineno = 0, nf;
	int64_t v;

	if (klog_read_file(path, &text, &len, err) < 0)
		return -1;
	name_line(dp, path);
	for (line = text; line && *line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = 0;
		lineno++;
		nf = 0;
		for (f[0] = strtok_r(line, " \t\r", &save); f[nf] && nf < 3;)
			f[++nf] = strtok_r(NULL, " \t\r", &save);
		if (lineno <= 2) {
			if (nf != 1 || klog_parse_i64(f[0], &v) < 0)
				goto bad;
			continue;
		}
		if (nf == 3)
			klog_buf_printf(&dp->out, "checkpoint topic=%s partition=%s offset=%s\n",
			    f[0], f[1], f[2]);
		else if (nf == 2)
			klog_buf_printf(&dp->out, "checkpoint epoch=%s offset=%s\n", f[0], f[1]);
		else if (nf != 0)
			goto bad;
	}
	free(text);
	return 0;
bad:
	free(text);
	errno = EINVAL;
	return kerr(err, "checkpoint '%s' line %d: not a checkpoint entry", path, lineno);
}

static int
dump_file(struct klog_dump *dp, const char *path, int kind, char *err)
{
	char sib[PATH_MAX];
	int rc;

	switch (kind) {
	case KLOG_FILE_LOG:
		rc = dump_log(dp, path, err);
		if (rc >= 0 && (dp->flags & KLOG_DUMP_INDEXES) && seg_base(path, ".log") >= 0) {
			sibling(path, ".log", ".index", sib, sizeof sib);
			if (access(sib, F_OK) == 0 && dump_index(dp, sib, 0, err) < 0)
				return -1;
			sibling(path, ".log", ".timeindex", sib, sizeof sib);
			if (access(sib, F_OK) == 0 && dump_index(dp, sib, 1, err) < 0)
				return -1;
		}
		return rc;
	case KLOG_FILE_INDEX:
		return dump_index(dp, path, 0, err);
	case KLOG_FILE_TIMEINDEX:
		return dump_index(dp, path, 1, err);
	case KLOG_FILE_CHECKPOINT:
		return dump_checkpoint(dp, path, err);
	}
	return kerr(err, "'%s': not a segment, index or checkpoint file", path);
}

static int
dump_partition(struct klog_dump *dp, const char *dir, char *err)
{
	char path[PATH_MAX];
	int64_t *bases;
	size_t n, i;
	int rc = 0, r;

	if (list_segments(dir, &bases, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc >= 0; i++) {
		seg_path(path, sizeof path, dir, bases[i], ".log");
		if ((r = dump_file(dp, path, KLOG_FILE_LOG, err)) != 0)
			rc = r;
	}
	free(bases);
	if (rc >= 0 && (dp->flags & KLOG_DUMP_INDEXES)) {
		snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", dir);
		if (access(path, F_OK) == 0 && dump_checkpoint(dp, path, err) < 0)
			rc = -1;
	}
	return rc;
}

int
klog_dump_path(struct klog_dump *dp, const char *path, char *err)
{
	char sub[PATH_MAX], **names;
	struct stat st;
	size_t n, i;
	int rc = 0, r, saved = dp->flags;

	if (stat(path, &st) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (!S_ISDIR(st.st_mode))
		rc = dump_file(dp, path, klog_file_kind(path), err);
	else {
		dp->flags |= KLOG_DUMP_NAMES;
		if (is_partition_dir(path))
			rc = dump_partition(dp, path, err);
		else {
			if ((dp->flags & KLOG_DUMP_INDEXES) &&
			    list_names(path, 0, is_checkpoint_name, &names, &n, err) == 0) {
				for (i = 0; i < n && rc >= 0; i++) {
					snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
					rc = dump_checkpoint(dp, sub, err);
				}
				klog_strv_free(names, n);
			}
			if (rc >= 0 && list_names(path, 1, is_partition_name, &names, &n, err) < 0)
				rc = -1;
			else if (rc >= 0) {
				for (i = 0; i < n && rc >= 0; i++) {
					snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
					if ((r = dump_partition(dp, sub, err)) != 0)
						rc = r;
				}
				klog_strv_free(names, n);
			}
		}
		dp->flags = saved;
	}
	if (out_flush(dp, 1, rc < 0 ? NULL : err) < 0)
		rc = -1;
	return rc;
}

/* repair */

/* append bytes [from, size) of fd to path (created if need be) */
static int
save_damaged(int fd, int64_t from, int64_t size, const char *path, char *err)
{
	char buf[65536];
	int out;
	ssize_t n;

	if ((out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create '%s'", path);
	while (from < size) {
		size_t want = size - from < (int64_t)sizeof buf ? (size_t)(size - from) : sizeof buf;
		n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			kerr_sys(err, "cannot read segment for '%s'", path);
			goto fail;
		}
		if (write(out, buf, (size_t)n) != n) {
			kerr_sys(err, "cannot write '%s'", path);
			goto fail;
		}
		from += n;
	}
	if (fsync(out) < 0) {
		kerr_sys(err, "cannot sync '%s'", path);
		goto fail;
	}
	close(out);
	return 0;
fail:
	close(out);
	return -1;
}

/* rebuild <base>.index and .timeindex from the (valid) batches of the log */
static int
rebuild_indexes(const char *dir, int64_t base, int64_t interval, int64_t *entries, char *err)
{
	struct klog_buf ix = {0}, tx = {0};
	unsigned char e[12];
	char path[PATH_MAX];
	int64_t since = 0, maxts = INT64_MIN, maxoff = base, tlast = INT64_MIN;
	struct walk w;
	int rc = -1, r;

	*entries = 0;
	seg_path(path, sizeof path, dir, base, ".log");
	if (walk_open(&w, path, err) < 0)
		return -1;
	while ((r = walk_next(&w)) == 1) {
		if (w.b.max_timestamp > maxts) {
			maxts = w.b.max_timestamp;
			maxoff = klog_batch_last(&w.b);
		}
		if (since > interval) {
			put32(e, (uint32_t)(klog_batch_last(&w.b) - base));
			put32(e + 4, (uint32_t)w.pos);
			if (klog_buf_append(&ix, e, 8) < 0)
				goto nomem;
			(*entries)++;
			if (maxts > tlast) {
				put64(e, (uint64_t)maxts);
				put32(e + 8, (uint32_t)(maxoff - base));
				if (klog_buf_append(&tx, e, 12) < 0)
					goto nomem;
				tlast = maxts;
			}
			since = 0;
		}
		since += (int64_t)klog_batch_size(&w.b);
		w.pos += (int64_t)klog_batch_size(&w.b);
	}
	if (r != 0) {
		kerr(err, "segment '%s' is still damaged: %s", path, r == -1 ? w.msg : strerror(errno));
		goto out;
	}
	seg_path(path, sizeof path, dir, base, ".index");
	if (klog_write_atomic(path, ix.data ? (void *)ix.data : (void *)"", ix.len, err) < 0)
		goto out;
	seg_path(path, sizeof path, dir, base, ".timeindex");
	if (klog_write_atomic(path, tx.data ? (void *)tx.data : (void *)"", tx.len, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	kerr_sys(err, "cannot rebuild index of '%s'", path);
out:
	walk_close(&w);
	klog_buf_free(&ix);
	klog_buf_free(&tx);
	return rc;
}

static int64_t
index_interval(struct klog_dir *d, const char *dir)
{
	char rp[PATH_MAX], parent[PATH_MAX], topic[KLOG_TOPIC_MAX + 1];
	struct klog_config c;
	struct klog_dir *own = NULL;
	const char *name, *dash;
	int64_t v = 4096;

	if (!realpath(dir, rp))
		return v;
	name = base_name(rp);
	if (!is_partition_name(name))
		return v;
	dash = strrchr(name, '-');
	memcpy(topic, name, (size_t)(dash - name));
	topic[dash - name] = 0;
	if (!d) {
		snprintf(parent, sizeof parent, "%.*s", (int)(name - rp - 1), rp);
		if (!(own = klog_dir_open(parent[0] ? parent : "/", 0, NULL)))
			return v;
		d = own;
	}
	if (klog_topic_load(d, topic, &c, NULL) == 0 && c.index_interval_bytes > 0)
		v = c.index_interval_bytes;
	klog_dir_close(own);
	return v;
}

static void
ignore(void *arg, const char *msg)
{
}

/* remove <base>.snapshot files above offset `end` */
static void
drop_snapshots(const char *dir, int64_t end, const char *pname, struct klog_buf *report)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp;
	int64_t b;

	if (!(dp = opendir(dir)))
		return;
	while ((de = readdir(dp)))
		if ((b = seg_base(de->d_name, ".snapshot")) > end) {
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			if (unlink(path) == 0)
				klog_buf_printf(report, "partition '%s': removed producer snapshot '%s' "
				    "past the new end\n", pname, de->d_name);
		}
	closedir(dp);
}

int
klog_repair_partition(struct klog_dir *d, const char *partdir, struct klog_buf *report,
    char *err)
{
	char rp[PATH_MAX], pname[PATH_MAX], path[PATH_MAX], dpath[PATH_MAX], msg[KLOG_ERRLEN];
	struct klog_rec_iter it;
	struct walk w;
	int64_t *bases = NULL, interval, prev_last = -1, cut_pos = -1, entries, new_end;
	size_t n = 0, i, cut = SIZE_MAX;
	int dfd, rc = -1, r, did = 0;

	klog_rec_iter_init0(&it);
	snprintf(pname, sizeof pname, "%s", base_name(realpath(partdir, rp) ? rp : partdir));
	if ((dfd = open(partdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open partition directory '%s'", partdir);
	if (flock(dfd, LOCK_EX) < 0) {
		kerr_sys(err, "cannot lock partition '%s'", pname);
		close(dfd);
		return -1;
	}
	interval = index_interval(d, partdir);
	if (list_segments(partdir, &bases, &n, err) < 0)
		goto out;
	if (n == 0 && !is_partition_name(pname)) {
		errno = EINVAL;
		kerr(err, "'%s' is not a partition directory", partdir);
		goto out;
	}

	/* the first bad batch, in segment order */
	for (i = 0; i < n && cut == SIZE_MAX; i++) {
		seg_path(path, sizeof path, partdir, bases[i], ".log");
		if (walk_open(&w, path, err) < 0)
			goto out;
		while ((r = walk_next(&w)) == 1) {
			if (check_batch(&it, w.p, &w.b, w.pos, prev_last, bases[i], msg,
			    sizeof msg) < 0)
				break;
			prev_last = klog_batch_last(&w.b);
			w.pos += (int64_t)klog_batch_size(&w.b);
		}
		if (r == -2) {
			kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", pname, bases[i]);
			walk_close(&w);
			goto out;
		}
		if (r == -1)
			msgf(msg, sizeof msg, "%s", w.msg);
		if (r != 0) {
			cut = i;
			cut_pos = w.pos;
		}
		walk_close(&w);
	}
	new_end = prev_last + 1;

	if (cut != SIZE_MAX) {
		int fd;
		struct stat st;

		/* keep every byte that leaves the log, before anything is cut */
		for (i = cut; i < n; i++) {
			seg_path(path, sizeof path, partdir, bases[i], ".log");
			seg_path(dpath, sizeof dpath, partdir, bases[i], ".log.damaged");
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
				kerr_sys(err, "cannot open segment '%s/" SEG_FMT ".log'", pname, bases[i]);
				if (fd >= 0)
					close(fd);
				goto out;
			}
			r = save_damaged(fd, i == cut ? cut_pos : 0, st.st_size, dpath, err);
			close(fd);
			if (r < 0)
				goto out;
			klog_buf_printf(report, "partition '%s': segment '" SEG_FMT ".log': %s; %"
			    PRId64 " bytes from byte %" PRId64 " moved to '" SEG_FMT ".log.damaged'\n",
			    pname, bases[i], i == cut ? msg : "after the damage",
			    (int64_t)st.st_size - (i == cut ? cut_pos : 0), i == cut ? cut_pos : 0,
			    bases[i]);
		}
		seg_path(path, sizeof path, partdir, bases[cut], ".log");
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || ftruncate(fd, cut_pos) < 0 ||
		    fsync(fd) < 0) {
			kerr_sys(err, "cannot truncate segment '%s/" SEG_FMT ".log'", pname, bases[cut]);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		for (i = cut + 1; i < n; i++) {
			static const char *suf[] = { ".index", ".timeindex", ".txnindex", ".log" };
			size_t j;
			for (j = 0; j < sizeof suf / sizeof *suf; j++) {
				seg_path(path, sizeof path, partdir, bases[i], suf[j]);
				if (unlink(path) < 0 && errno != ENOENT) {
					kerr_sys(err, "cannot remove '%s'", path);
					goto out;
				}
			}
			klog_buf_printf(report, "partition '%s': removed segment '" SEG_FMT ".log'\n",
			    pname, bases[i]);
		}
		if (rebuild_indexes(partdir, bases[cut], interval, &entries, err) < 0)
			goto out;
		klog_buf_printf(report, "partition '%s': rebuilt the indexes of segment '" SEG_FMT
		    ".log' (%" PRId64 " entries); the log now ends at offset %" PRId64 "\n", pname,
		    bases[cut], entries, new_end > bases[cut] ? new_end : bases[cut]);
		drop_snapshots(partdir, new_end > bases[cut] ? new_end : bases[cut], pname, report);
		did = 1;
		n = cut + 1;
	}
	/* indexes that fail the checks */
	for (i = 0; i < n; i++) {
		struct klog_verify_report vr;
		struct vstate v = { ignore, NULL, &vr, 0 };

		seg_path(path, sizeof path, partdir, bases[i], ".log");
		if (did && i == cut)
			continue;
		if (verify_seg(path, &vr, &v, -1, err) < 0)
			goto out;
		if (!v.index_bad)
			continue;
		if (rebuild_indexes(partdir, bases[i], interval, &entries, err) < 0)
			goto out;
		klog_buf_printf(report, "partition '%s': rebuilt the indexes of segment '" SEG_FMT
		    ".log' (%" PRId64 " entries)\n", pname, bases[i], entries);
		did = 1;
	}
	if (!did)
		klog_buf_printf(report, "partition '%s': nothing to repair\n", pname);
	else if (klog_fsync_dir(partdir, err) < 0)
		goto out;
	rc = 0;
out:
	klog_rec_iter_free(&it);
	free(bases);
	flock(dfd, LOCK_UN);
	close(dfd);
	return rc;
}
