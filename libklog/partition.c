/* klog - one partition: segments, appends, reads, recovery, retention. MIT licence. */
/*
 * A partition is the directory <dir>/<topic>-<n>/ holding segments named by
 * their base offset in 20 decimal digits: <base>.log (RecordBatch v2 back to
 * back, see batch.c), <base>.index and <base>.timeindex (see index.c).  The
 * last segment is the active one; only it is appended to.  Sealed segments
 * never change.
 *
 * Writers.  Any number of processes may append.  Each append holds an
 * exclusive flock(2) on the partition directory itself, and before writing
 * brings its view up to date: the active segment may have grown (another
 * writer) or have been rolled (a file named by the current end offset
 * exists) or unlinked (kdump --repair).  Bytes another writer added are
 * scanned (headers and CRC) so offsets stay contiguous; an incomplete or
 * CRC-failing last batch there is the torn tail of a writer that died, and
 * is cut off.  A batch is written with one write(2) of whole batches; if
 * the write fails (ENOSPC, EFBIG, EIO) the file is truncated back, so a
 * failed append leaves nothing behind.
 *
 * Readers take no lock.  The kernel updates a file's size only after the
 * bytes are in the page cache, so a reader sees a prefix of an append:
 * at worst an incomplete last batch, which it treats as the end of the log.
 *
 * Recovery.  Opening for writing validates the active segment from its last
 * index entry onward (the recovery point: every entry is written after the
 * data it points at), truncating a torn tail and the index entries past
 * it, and rebuilds indexes that are missing or damaged.  Damage followed by
 * valid batches is not a torn tail: the writer refuses and names the byte,
 * and `kdump --repair` decides.  Warnings go through klog_set_warn().
 *
 * Rolls happen before an append when the active segment would pass
 * segment.bytes, when its first batch is older than segment.ms, when the
 * offset index reached segment.index.bytes, or when offsets would no
 * longer fit the 32-bit relative form.  Retention deletes whole sealed
 * segments, oldest first, while the newest timestamp in them is older than
 * retention.ms or the partition stays above retention.bytes without them;
 * the log start offset is then the base of the first segment left, and
 * is recorded in log-start-offset-checkpoint.  Clean closes of a writer
 * fsync and record the end in recovery-point-offset-checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct seg {
	int64_t base;
	int64_t size;           /* bytes of whole batches known */
	int64_t max_ts;         /* largest timestamp, INT64_MIN if unknown */
	int64_t max_ts_off;     /* offset of the batch holding it */
	int fd;                 /* .log, opened lazily */
};

struct klog_part {
	struct klog_dir *d;
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
	char name[KLOG_TOPIC_MAX + 16];
	int dfd;
	int flags;
	struct klog_config cfg;
	struct seg *segs;
	size_t nseg;
	int64_t end;            /* next offset */
	int64_t start_empty;    /* end of a partition without segments */
	/* writer: active segment */
	int ifd, tfd;           /* .index, .timeindex (O_APPEND) */
	int64_t ientries;       /* entries in .index */
	int64_t tlast_ts;       /* last time-index timestamp written */
	int64_t since_index;    /* bytes appended since the last index entry */
	int64_t first_ts;       /* first batch's max timestamp: segment.ms */
	int dirty;
	int index_missing;      /* the active segment had no .index: rebuild */
	/* reader cursor */
	size_t rseg;
	int64_t rpos, roff;
	int ino;                /* inotify fd, -1 until needed */
	struct klog_buf tmp;
	struct klog_rec_iter vit;       /* klog_batch_validate's scratch */
};

#define SEG_FMT "%020" PRId64

/* the writer lock; a signal (kproduce's handlers interrupt system calls)
 * does not make us give up waiting for it */
static int
lock_ex(int fd)
{
	int r;

	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	return r;
}

/* a verify buffer as large as the largest batch seen is not kept */
static void
trim_tmp(struct klog_part *p)
{
	if (p->tmp.cap > (size_t)256 << 10)
		klog_buf_free(&p->tmp);
}

static void
segname(char *buf, size_t n, int64_t base, const char *suffix)
{
	snprintf(buf, n, SEG_FMT "%s", base, suffix);
}

static struct seg *
active(struct klog_part *p)
{
	return p->nseg ? &p->segs[p->nseg - 1] : NULL;
}

static int
seg_open(struct klog_part *p, struct seg *s, char *err)
{
	char nm[64];

	if (s->fd >= 0)
		return 0;
	segname(nm, sizeof nm, s->base, ".log");
	s->fd = openat(p->dfd, nm, (p->flags & KLOG_WRITE ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC);
	if (s->fd < 0)
		return kerr_sys(err, "cannot open segment '%s/%s'", p->name, nm);
	return 0;
}

static void
segs_free(struct klog_part *p)
{
	size_t i;

	for (i = 0; i < p->nseg; i++)
		if (p->segs[i].fd >= 0)
			close(p->segs[i].fd);
	free(p->segs);
	p->segs = NULL;
	p->nseg = 0;
	if (p->ifd >= 0)
		close(p->ifd);
	if (p->tfd >= 0)
		close(p->tfd);
	p->ifd = p->tfd = -1;
}

static int
cmpseg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

static int
is_segment_log(const char *n, int64_t *base)
{
	int i;

	for (i = 0; i < 20; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	if (strcmp(n + 20, ".log"))
		return 0;
	char digits[21];

	memcpy(digits, n, 20);
	digits[20] = 0;
	return klog_parse_i64(digits, base) == 0;
}

/* read a batch header at pos; 1 whole batch there, 0 incomplete/EOF, -1 bad */
static int
hdr_at(int fd, int64_t pos, int64_t size, struct klog_batch *b, char *err)
{
	unsigned char h[KLOG_BATCH_OVERHEAD];
	size_t avail = size - pos < (int64_t)sizeof h ? (size_t)(size - pos) : sizeof h;
	ssize_t n;
	int r;

	if (pos >= size)
		return 0;
	n = pread(fd, h, avail, pos);
	if (n < 0)
		return kerr_sys(err, "read");
	r = klog_batch_parse(h, (size_t)n, b, err);
	if (r == 1 || (r == 0 && (size_t)n == sizeof h))
		return pos + (int64_t)klog_batch_size(b) <= size ? 1 : 0;
	return r;
}

/* read a whole batch at pos into p->tmp and verify its CRC */
static int
batch_verified(struct klog_part *p, int fd, int64_t pos, const struct klog_batch *b, char *err)
{
	size_t n = klog_batch_size(b);

	p->tmp.len = 0;
	if (klog_buf_reserve(&p->tmp, n) < 0)
		return kerr_sys(err, "batch");
	if (pread(fd, p->tmp.data, n, pos) != (ssize_t)n)
		return kerr_sys(err, "read");
	p->tmp.len = n;
	return klog_batch_verify(p->tmp.data, b, err);
}

/* largest timestamp of a sealed segment: its last time-index entry, then a
 * scan of what follows the last offset-index entry */
static void
seg_max_ts(struct klog_part *p, struct seg *s)
{
	char nm[64], e[KLOG_ERRLEN];
	struct klog_index_entry ie;
	struct klog_batch b;
	int64_t n, pos = 0;
	int fd;

	if (s->max_ts != INT64_MIN || seg_open(p, s, e) < 0)
		return;
	segname(nm, sizeof nm, s->base, ".timeindex");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 1)) > 0 && kindex_entry(fd, 1, n - 1, s->base, &ie) == 0) {
			s->max_ts = ie.position;
			s->max_ts_off = ie.offset;
		}
		close(fd);
	}
	segname(nm, sizeof nm, s->base, ".index");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 0)) > 0 && kindex_entry(fd, 0, n - 1, s->base, &ie) == 0 &&
		    ie.position < s->size)
			pos = ie.position;
		close(fd);
	}
	while (hdr_at(s->fd, pos, s->size, &b, e) == 1) {
		if (b.max_timestamp > s->max_ts) {
			s->max_ts = b.max_timestamp;
			s->max_ts_off = klog_batch_last(&b);
		}
		pos += (int64_t)klog_batch_size(&b);
	}
}

/* position to start scanning for `offset` in segment s: from the index */
static int64_t
index_pos(struct klog_part *p, struct seg *s, int64_t offset)
{
	char nm[64];
	struct klog_index_entry ie;
	int64_t n, pos = 0;
	int fd;

	segname(nm, sizeof nm, s->base, ".index");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if ((n = kindex_count(fd, 0)) > 0 && kindex_lookup(fd, 0, n, s->base, offset, &ie) >= 0 &&
	    ie.position >= 0 && ie.position < s->size)
		pos = ie.position;
	close(fd);
	return pos;
}

/* does a whole, CRC-valid batch start anywhere in (pos, size)?  Looks at
 * no more than 16 MiB: damage is never mistaken for a torn tail */
static int
valid_batch_after(struct klog_part *p, int fd, int64_t pos, int64_t size)
{
	struct klog_buf b = {0};
	struct klog_batch x;
	size_t n, q;
	int found = 0;

	n = size - pos - 1 > (int64_t)16 << 20 ? (size_t)16 << 20 : (size_t)(size - pos - 1);
	if (size - pos <= 1 || klog_buf_reserve(&b, n) < 0)
		return 0;
	if (pread(fd, b.data, n, pos + 1) == (ssize_t)n)
		for (q = 0; q + KLOG_BATCH_OVERHEAD <= n && !found; q++)
			found = b.data[q + 16] == 2 && klog_batch_parse(b.data + q, n - q, &x, NULL) == 1 &&
			    klog_batch_verify(b.data + q, &x, NULL) == 0;
	klog_buf_free(&b);
	return found;
}

/*
 * Scan the batches of the active segment from pos (holding offset `next`)
 * to its end.  Sets p->end.  A bad or incomplete batch at the very end is
 * a torn tail: a writer truncates it (when `repair`), a reader stops
 * before it.  Damage followed by more data is an error.
 */
static int
scan_tail(struct klog_part *p, int64_t pos, int repair, char *err)
{
	struct seg *s = active(p);
	struct klog_batch b;
	struct stat st;
	char e[KLOG_ERRLEN], nm[64];
	int64_t next = -1;
	int r;

	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment '%s'", p->name);
	segname(nm, sizeof nm, s->base, ".log");
	for (;;) {
		r = hdr_at(s->fd, pos, st.st_size, &b, e);
		if (r == 1 && repair && batch_verified(p, s->fd, pos, &b, e) < 0)
			r = -1;
		if (r == 1 && next >= 0 && b.base_offset < next) {
			snprintf(e, sizeof e, "offset %" PRId64 " goes backwards", b.base_offset);
			r = -1;
		}
		if (r != 1)
			break;
		next = klog_batch_last(&b) + 1;
		if (b.max_timestamp > s->max_ts) {
			s->max_ts = b.max_timestamp;
			s->max_ts_off = klog_batch_last(&b);
		}
		if (pos == 0)
			p->first_ts = b.max_timestamp;
		pos += (int64_t)klog_batch_size(&b);
	}
	if (next < 0)   /* nothing new: keep the end we had (or the base) */
		next = pos == 0 ? s->base : p->end;
	p->end = next;
	s->size = pos;
	if (pos == st.st_size)
		return 0;
	if (!repair)
		return 0;       /* a reader stops before an incomplete batch */
	if (valid_batch_after(p, s->fd, pos, st.st_size))
		return kerr(err, "segment '%s/%s' damaged at byte %" PRId64 " (%s) with valid "
		    "batches after it; run 'kdump --repair %s'", p->name, nm, pos,
		    r < 0 ? e : "batch runs past the end", p->name);
	if (ftruncate(s->fd, pos) < 0)
		return kerr_sys(err, "cannot truncate segment '%s/%s'", p->name, nm);
	kwarn("partition '%s': truncated torn tail of segment '%s' at byte %" PRId64
	    " (%" PRId64 " bytes%s%s)", p->name, nm, pos, (int64_t)st.st_size - pos,
	    r < 0 ? ": " : "", r < 0 ? e : "");
	p->dirty = 1;
	return 1;
}

/* drop index entries past the log: positions >= size, offsets >= end */
static int
trim_indexes(struct klog_part *p, struct seg *s, char *err)
{
	struct klog_index_entry ie;
	int64_t n, keep;
	struct stat st;

	n = kindex_count(p->ifd, 0);
	for (keep = n; keep > 0; keep--)
		if (kindex_entry(p->ifd, 0, keep - 1, s->base, &ie) == 0 &&
		    ie.position < s->size && ie.offset < p->end && ie.offset >= s->base)
			break;
	if (fstat(p->ifd, &st) == 0 && st.st_size != keep * 8) {
		if (ftruncate(p->ifd, keep * 8) < 0)
			return kerr_sys(err, "cannot truncate index of '%s'", p->name);
		if (keep < n)
			kwarn("partition '%s': dropped %" PRId64 " index entries past the log", p->name, n - keep);
	}
	p->ientries = keep;
	n = kindex_count(p->tfd, 1);
	for (keep = n; keep > 0; keep--)
		if (kindex_entry(p->tfd, 1, keep - 1, s->base, &ie) == 0 && ie.offset < p->end &&
		    ie.offset >= s->base)
			break;
	if (fstat(p->tfd, &st) == 0 && st.st_size != keep * 12 && ftruncate(p->tfd, keep * 12) < 0)
		return kerr_sys(err, "cannot truncate time index of '%s'", p->name);
	p->tlast_ts = INT64_MIN;
	if (keep > 0 && kindex_entry(p->tfd, 1, keep - 1, s->base, &ie) == 0)
		p->tlast_ts = ie.position;
	return 0;
}

/* the last index entry (or 0) and the bytes after it */
static int64_t
last_index_pos(struct klog_part *p, struct seg *s)
{
	struct klog_index_entry ie;

	if (p->ientries > 0 && kindex_entry(p->ifd, 0, p->ientries - 1, s->base, &ie) == 0)
		return ie.position;
	return 0;
}

static int
open_indexes(struct klog_part *p, struct seg *s, char *err)
{
	char nm[64];

	segname(nm, sizeof nm, s->base, ".index");
	p->index_missing = faccessat(p->dfd, nm, F_OK, 0) < 0 && s->size > 0;
	if ((p->ifd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open index '%s/%s'", p->name, nm);
	segname(nm, sizeof nm, s->base, ".timeindex");
	if ((p->tfd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open time index '%s/%s'", p->name, nm);
	return 0;
}

/* rebuild the active segment's indexes from its batches */
static int
rebuild_indexes(struct klog_part *p, char *err)
{
	struct seg *s = active(p);
	struct klog_batch b;
	int64_t pos = 0, since = 0, maxts = INT64_MIN, maxoff = s->base;
	char e[KLOG_ERRLEN];

	if (ftruncate(p->ifd, 0) < 0 || ftruncate(p->tfd, 0) < 0)
		return kerr_sys(err, "cannot rebuild indexes of '%s'", p->name);
	p->ientries = 0;
	p->tlast_ts = INT64_MIN;
	while (hdr_at(s->fd, pos, s->size, &b, e) == 1) {
		if (b.max_timestamp > maxts) {
			maxts = b.max_timestamp;
			maxoff = klog_batch_last(&b);
		}
		if (since > p->cfg.index_interval_bytes) {
			if (kindex_append(p->ifd, 0, s->base, klog_batch_last(&b), pos) < 0)
				return kerr_sys(err, "cannot write index of '%s'", p->name);
			p->ientries++;
			if (maxts > p->tlast_ts) {
				if (kindex_append(p->tfd, 1, s->base, maxoff, maxts) < 0)
					return kerr_sys(err, "cannot write time index of '%s'", p->name);
				p->tlast_ts = maxts;
			}
			since = 0;
		}
		since += (int64_t)klog_batch_size(&b);
		pos += (int64_t)klog_batch_size(&b);
	}
	p->since_index = since;
	return 0;
}

static int
load_segments(struct klog_part *p, char *err)
{
	DIR *dir;
	struct dirent *de;
	int fd;
	size_t cap = 0;

	segs_free(p);
	if ((fd = openat(p->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return kerr_sys(err, "cannot read partition '%s'", p->name);
	}
	while ((de = readdir(dir))) {
		int64_t base;
		struct stat st;
		if (strlen(de->d_name) != 24 || !is_segment_log(de->d_name, &base))
			continue;
		if (fstatat(p->dfd, de->d_name, &st, 0) < 0)
			continue;
		if (p->nseg == cap) {
			struct seg *n = realloc(p->segs, (cap = cap ? cap * 2 : 8) * sizeof *n);
			if (!n) {
				closedir(dir);
				return kerr_sys(err, "partition '%s'", p->name);
			}
			p->segs = n;
		}
		p->segs[p->nseg++] = (struct seg){ base, st.st_size, INT64_MIN, base, -1 };
	}
	closedir(dir);
	if (p->nseg > 1)
		qsort(p->segs, p->nseg, sizeof *p->segs, cmpseg);
	p->rseg = SIZE_MAX;
	return 0;
}

/* bring the view of the log end up to date (readers and writers) */
static int
refresh(struct klog_part *p, int repair, char *err)
{
	struct seg *s;
	struct stat st;
	char nm[64];
	int reloaded = 0, torn;

again:
	if (!p->nseg) {
		if (load_segments(p, err) < 0)
			return -1;
		if (!p->nseg) {
			p->end = p->start_empty;
			return 0;
		}
		reloaded = 1;
		s = active(p);
		if (seg_open(p, s, err) < 0)
			return -1;
		if (p->flags & KLOG_WRITE) {
			if (open_indexes(p, s, err) < 0)
				return -1;
			/* the end is not known yet: trim only after the scan */
			p->ientries = kindex_count(p->ifd, 0);
			if (p->ientries < 0)
				p->ientries = 0;
		}
		/* scan from the last index entry: find its batch's start offset */
		{
			int64_t pos = 0;
			if (p->flags & KLOG_WRITE)
				pos = last_index_pos(p, s);
			else
				pos = index_pos(p, s, INT64_MAX);
			p->end = s->base;
			if (pos > 0) {
				struct klog_batch b;
				char e[KLOG_ERRLEN];
				if (fstat(s->fd, &st) < 0)
					return kerr_sys(err, "segment of '%s'", p->name);
				if (hdr_at(s->fd, pos, st.st_size, &b, e) == 1 &&
				    (!repair || batch_verified(p, s->fd, pos, &b, e) == 0))
					p->end = b.base_offset;
				else
					pos = 0; /* bad entry: scan the whole segment */
			}
			s->size = pos;
			if ((torn = scan_tail(p, pos, repair, err)) < 0)
				return -1;
			if ((p->flags & KLOG_WRITE) && trim_indexes(p, s, err) < 0)
				return -1;
			/* a torn tail or a missing index: rebuild the active segment's */
			if ((p->flags & KLOG_WRITE) && (torn || p->index_missing)) {
				if (rebuild_indexes(p, err) < 0)
					return -1;
				kwarn("partition '%s': rebuilt indexes of segment " SEG_FMT " (%" PRId64
				    " entries)", p->name, s->base, p->ientries);
			}
		}
		if (p->flags & KLOG_WRITE) {
			p->since_index = s->size - last_index_pos(p, s);
			if (p->first_ts == INT64_MIN) {
				struct klog_batch b;
				char e[KLOG_ERRLEN];
				if (hdr_at(s->fd, 0, s->size, &b, e) == 1)
					p->first_ts = b.max_timestamp;
			}
		}
		return 0;
	}
	s = active(p);
	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	if (st.st_nlink == 0)
		goto reload;
	if (st.st_size != s->size) {
		int64_t pos = s->size;
		if (st.st_size < s->size)   /* cut by another writer's recovery */
			goto reload;
		if (scan_tail(p, pos, repair, err) < 0)
			return -1;
		if ((p->flags & KLOG_WRITE)) {
			p->ientries = kindex_count(p->ifd, 0);
			if (trim_indexes(p, s, err) < 0)
				return -1;
			p->since_index = s->size - last_index_pos(p, s);
		}
	}
	/* a roll by someone else creates the segment named by our end offset */
	segname(nm, sizeof nm, p->end, ".log");
	if (p->end != s->base && faccessat(p->dfd, nm, F_OK, 0) == 0)
		goto reload;
	return 0;
reload:
	if (reloaded)
		return 0;
	segs_free(p);
	p->first_ts = INT64_MIN;
	goto again;
}

struct klog_part *
klog_part_open(struct klog_dir *d, const char *topic, int partition, int flags, char *err)
{
	struct klog_part *p;
	char path[KLOG_TOPIC_MAX + 16];

	if (klog_topic_name_check(topic, err) < 0)
		return NULL;
	if (!(p = calloc(1, sizeof *p))) {
		kerr_sys(err, "partition");
		return NULL;
	}
	p->d = d;
	snprintf(p->topic, sizeof p->topic, "%s", topic);
	p->partition = partition;
	p->flags = flags;
	p->ifd = p->tfd = p->ino = -1;
	p->first_ts = INT64_MIN;
	snprintf(p->name, sizeof p->name, "%s-%d", topic, partition);
	snprintf(path, sizeof path, "%s-%d", topic, partition);
	if (klog_topic_load(d, topic, &p->cfg, err) < 0)
		goto fail;
	if (partition < 0 || partition >= p->cfg.partitions) {
		errno = ENOENT;
		kerr(err, "no such partition '%s' (topic '%s' has %d)", p->name, topic, p->cfg.partitions);
		goto fail;
	}
	p->dfd = openat(d->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dfd < 0 && errno == ENOENT && (flags & KLOG_WRITE)) {
		/* a partition added by alter in a directory we only now write */
		if (mkdirat(d->fd, path, 0755) < 0 && errno != EEXIST) {
			kerr_sys(err, "cannot create partition '%s'", p->name);
			goto fail;
		}
		p->dfd = openat(d->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (p->dfd < 0) {
		kerr_sys(err, "cannot open partition '%s'", p->name);
		goto fail;
	}
	if (flags & KLOG_WRITE) {
		struct klog_ckpt_entry *e = NULL;
		size_t n = 0, i;
		char cp[PATH_MAX];

		char who[256];

		if (!(flags & KLOG_BROKER) && klog_dir_broker(d, who, sizeof who)) {
			errno = EBUSY;
			kerr(err, "log directory '%s' is served by kbrokerd (%s): write through it "
			    "with -b, or stop it", klog_dir_path(d), who);
			goto fail;
		}
		if (access(klog_dir_path(d), W_OK) < 0 || faccessat(p->dfd, ".", W_OK, 0) < 0) {
			kerr_sys(err, "cannot write partition '%s'", p->name);
			goto fail;
		}
		snprintf(cp, sizeof cp, "%s/log-start-offset-checkpoint", klog_dir_path(d));
		if (klog_ckpt_read(cp, &e, &n, NULL) == 0) {
			for (i = 0; i < n; i++)
				if (!strcmp(e[i].topic, topic) && e[i].partition == partition)
					p->start_empty = e[i].offset;
			free(e);
		}
		if (lock_ex(p->dfd) < 0) {
			kerr_sys(err, "cannot lock partition '%s'", p->name);
			goto fail;
		}
		if (refresh(p, 1, err) < 0 || klog_part_retention(p, klog_now_ms(), err) < 0) {
			flock(p->dfd, LOCK_UN);
			goto fail;
		}
		flock(p->dfd, LOCK_UN);
		trim_tmp(p);
	} else if (refresh(p, 0, err) < 0)
		goto fail;
	return p;
fail:
	klog_part_close(p);
	return NULL;
}

static int
update_ckpt(struct klog_part *p, const char *file, int64_t off, char *err)
{
	return klog_ckpt_update(p->d, file, p->topic, p->partition, off, err);
}

int
klog_part_sync(struct klog_part *p, char *err)
{
	struct seg *s = active(p);

	if (!(p->flags & KLOG_WRITE) || !s)
		return 0;
	if (fdatasync(s->fd) < 0)
		return kerr_sys(err, "cannot sync partition '%s'", p->name);
	if ((p->ifd >= 0 && fdatasync(p->ifd) < 0) || (p->tfd >= 0 && fdatasync(p->tfd) < 0))
		return kerr_sys(err, "cannot sync index of '%s'", p->name);
	return 0;
}

void
klog_part_close(struct klog_part *p)
{
	char e[KLOG_ERRLEN];

	if (!p)
		return;
	if ((p->flags & KLOG_WRITE) && p->dirty && p->dfd >= 0 && active(p)) {
		/* best effort: a failed sync here was already seen by the appender */
		if (lock_ex(p->dfd) == 0) {
			if (refresh(p, 1, e) == 0 && klog_part_sync(p, e) == 0)
				update_ckpt(p, "recovery-point-offset-checkpoint", p->end, e);
			klog_part_retention(p, klog_now_ms(), e);
			flock(p->dfd, LOCK_UN);
		}
	}
	segs_free(p);
	if (p->dfd > 0)
		close(p->dfd);
	if (p->ino >= 0)
		close(p->ino);
	klog_buf_free(&p->tmp);
	klog_rec_iter_free(&p->vit);
	free(p);
}

const char *
klog_part_name(const struct klog_part *p)
{
	return p->name;
}

int
klog_part_info(struct klog_part *p, struct klog_part_info *info, char *err)
{
	size_t i;

	if (refresh(p, 0, err) < 0)
		return -1;
	info->log_start = p->nseg ? p->segs[0].base : p->end;
	info->log_end = p->end;
	info->segments = (int)p->nseg;
	info->bytes = 0;
	for (i = 0; i < p->nseg; i++) {
		struct stat st;
		char nm[64];
		segname(nm, sizeof nm, p->segs[i].base, ".log");
		if (fstatat(p->dfd, nm, &st, 0) == 0)
			info->bytes += st.st_size;
	}
	return 0;
}

static int
create_segment(struct klog_part *p, int64_t base, char *err)
{
	char nm[64];
	int fd;
	struct seg *n;

	segname(nm, sizeof nm, base, ".log");
	if ((fd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create segment '%s/%s'", p->name, nm);
	if (!(n = realloc(p->segs, (p->nseg + 1) * sizeof *n))) {
		close(fd);
		return kerr_sys(err, "partition '%s'", p->name);
	}
	p->segs = n;
	p->segs[p->nseg++] = (struct seg){ base, 0, INT64_MIN, base, fd };
	if (open_indexes(p, &p->segs[p->nseg - 1], err) < 0)
		return -1;
	if (ftruncate(p->ifd, 0) < 0 || ftruncate(p->tfd, 0) < 0)
		return kerr_sys(err, "cannot create index of '%s'", p->name);
	p->ientries = 0;
	p->tlast_ts = INT64_MIN;
	p->since_index = 0;
	p->first_ts = INT64_MIN;
	{
		int dfd = dup(p->dfd);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

static int
roll(struct klog_part *p, char *err)
{
	struct seg *s = active(p);

	if (s->max_ts != INT64_MIN && s->max_ts > p->tlast_ts &&
	    kindex_append(p->tfd, 1, s->base, s->max_ts_off, s->max_ts) < 0)
		return kerr_sys(err, "cannot write time index of '%s'", p->name);
	if (fdatasync(s->fd) < 0 || fdatasync(p->ifd) < 0 || fdatasync(p->tfd) < 0)
		return kerr_sys(err, "cannot sync partition '%s'", p->name);
	close(p->ifd);
	close(p->tfd);
	p->ifd = p->tfd = -1;
	return create_segment(p, p->end, err);
}

/* Kafka's rule: segment.ms counts from the first batch's timestamp to the
 * incoming one, so replaying old data does not roll on every append */
static int
should_roll(struct klog_part *p, size_t len, int64_t last_delta, int64_t in_ts)
{
	struct seg *s = active(p);

	if (!s)
		return 0;
	if (s->size == 0)
		return 0;
	if (s->size > p->cfg.segment_bytes - (int64_t)len)
		return 1;
	if (p->first_ts != INT64_MIN && in_ts - p->first_ts > p->cfg.segment_ms)
		return 1;
	if ((p->ientries + 1) * 8 > p->cfg.segment_index_bytes)
		return 1;
	if (p->end + last_delta - s->base > INT32_MAX)
		return 1;
	return 0;
}

int
klog_part_append(struct klog_part *p, unsigned char *batches, size_t len,
    int64_t *first, int64_t *last, char *err)
{
	struct klog_batch b;
	struct seg *s;
	size_t off;
	int64_t delta = 0, next, now = klog_now_ms(), maxts = INT64_MIN, maxoff = 0, pos;
	int64_t in_ts = INT64_MIN;
	int rc = -1, nb;
	char verr[KLOG_ERRLEN];

	if (!(p->flags & KLOG_WRITE)) {
		errno = EBADF;
		return kerr(err, "partition '%s' is not open for writing", p->name);
	}
	for (off = 0, nb = 1; off < len; off += klog_batch_size(&b), nb++) {
		int r = klog_batch_parse(batches + off, len - off, &b, err);
		if (r == 0)
			return kerr(err, "partition '%s': incomplete batch at byte %zu", p->name, off);
		if (r < 0)
			return -1;
		if ((int64_t)klog_batch_size(&b) > p->cfg.max_message_bytes) {
			errno = EMSGSIZE;
			return kerr(err, "batch of %zu bytes is over max.message.bytes %" PRId64
			    " of topic '%s'", klog_batch_size(&b), p->cfg.max_message_bytes, p->topic);
		}
		/* what a producer sent is checked whole before anything is written */
		if (klog_batch_validate(batches + off, &b, KLOG_VALID_CLIENT, &p->vit, verr) < 0) {
			int e = errno;
			kerr(err, "partition '%s': batch %d of the request: %s", p->name, nb, verr);
			errno = e;
			return -1;
		}
		delta += b.last_offset_delta + 1;
		if (b.max_timestamp > in_ts)
			in_ts = b.max_timestamp;
	}
	if (p->cfg.log_append_time)
		in_ts = now;
	if (len == 0)
		return 0;
	if (lock_ex(p->dfd) < 0)
		return kerr_sys(err, "cannot lock partition '%s'", p->name);
	if (refresh(p, 1, err) < 0)
		goto out;
	trim_tmp(p);
	if (!active(p)) {
		if (create_segment(p, p->end, err) < 0)
			goto out;
	} else if (should_roll(p, len, delta, in_ts)) {
		if (roll(p, err) < 0)
			goto out;
		klog_part_retention(p, now, NULL);
	}
	s = active(p);
	/* assign offsets */
	next = p->end;
	for (off = 0; off < len; off += klog_batch_size(&b)) {
		unsigned char *q = batches + off;
		klog_batch_parse(q, len - off, &b, NULL);
		klog_batch_set_base_offset(q, next);
		klog_batch_set_leader_epoch(q, 0);
		if (p->cfg.log_append_time) {
			int16_t attr = (int16_t)((b.attributes | KLOG_ATTR_LOG_APPEND_TIME));
			put16(q + 21, (uint16_t)attr);
			put64(q + 35, (uint64_t)now);
			put32(q + 17, klog_crc32c(0, q + 21, klog_batch_size(&b) - 21));
			b.max_timestamp = now;
		}
		if (b.max_timestamp > maxts) {
			maxts = b.max_timestamp;
			maxoff = next + b.last_offset_delta;
		}
		next += b.last_offset_delta + 1;
	}
	pos = s->size;
	for (off = 0; off < len;) {
		ssize_t n = write(s->fd, batches + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char nm[64];
			int e = n < 0 ? errno : ENOSPC;
			segname(nm, sizeof nm, s->base, ".log");
			if (ftruncate(s->fd, pos) < 0)
				p->dirty = 1;
			errno = e;
			kerr_sys(err, "cannot write segment '%s/%s'", p->name, nm);
			goto out;
		}
		off += (size_t)n;
	}
	if (p->first_ts == INT64_MIN)
		p->first_ts = maxts;
	if (maxts > s->max_ts) {
		s->max_ts = maxts;
		s->max_ts_off = maxoff;
	}
	if (p->since_index > p->cfg.index_interval_bytes) {
		if (kindex_append(p->ifd, 0, s->base, next - 1, pos) < 0 ||
		    (s->max_ts > p->tlast_ts && kindex_append(p->tfd, 1, s->base, s->max_ts_off, s->max_ts) < 0)) {
			/* the data is written; a missing sparse entry only slows lookups */
			kwarn("partition '%s': cannot write index entry: %s", p->name, strerror(errno));
		} else {
			p->ientries++;
			if (s->max_ts > p->tlast_ts)
				p->tlast_ts = s->max_ts;
		}
		p->since_index = 0;
	}
	p->since_index += (int64_t)len;
	s->size = pos + (int64_t)len;
	*first = p->end;
	*last = next - 1;
	p->end = next;
	p->dirty = 1;
	rc = 0;
out:
	flock(p->dfd, LOCK_UN);
	return rc;
}

static int
delete_segment(struct klog_part *p, struct seg *s, char *err)
{
	static const char *suf[] = { ".index", ".timeindex", ".txnindex", ".log" };
	char nm[64];
	size_t i;

	for (i = 0; i < sizeof suf / sizeof *suf; i++) {
		segname(nm, sizeof nm, s->base, suf[i]);
		if (unlinkat(p->dfd, nm, 0) < 0 && errno != ENOENT)
			return kerr_sys(err, "cannot delete segment '%s/%s'", p->name, nm);
	}
	return 0;
}

int
klog_part_retention(struct klog_part *p, int64_t now_ms, char *err)
{
	int64_t total = 0;
	size_t i, drop = 0;

	if (!(p->flags & KLOG_WRITE))
		return 0;
	for (i = 0; i < p->nseg; i++)
		total += p->segs[i].size;
	while (drop + 1 < p->nseg) {
		struct seg *s = &p->segs[drop];
		int old = 0, big = 0;
		if (p->cfg.retention_ms >= 0) {
			seg_max_ts(p, s);
			old = s->max_ts != INT64_MIN && s->max_ts < now_ms - p->cfg.retention_ms;
		}
		if (p->cfg.retention_bytes >= 0)
			big = total - s->size >= p->cfg.retention_bytes;
		if (!old && !big)
			break;
		if (delete_segment(p, s, err) < 0)
			return -1;
		total -= s->size;
		drop++;
	}
	if (!drop)
		return 0;
	for (i = 0; i < drop; i++)
		if (p->segs[i].fd >= 0)
			close(p->segs[i].fd);
	memmove(p->segs, p->segs + drop, (p->nseg - drop) * sizeof *p->segs);
	p->nseg -= drop;
	p->rseg = SIZE_MAX;
	kwarn("partition '%s': retention deleted %zu segment%s; log starts at offset %" PRId64,
	    p->name, drop, drop == 1 ? "" : "s", p->segs[0].base);
	return update_ckpt(p, "log-start-offset-checkpoint", p->segs[0].base, err);
}

/* find the segment holding offset: greatest base <= offset */
static size_t
find_seg(struct klog_part *p, int64_t offset)
{
	size_t lo = 0, hi = p->nseg, r = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->segs[mid].base <= offset) {
			r = mid;
			lo = mid + 1;
		} else
			hi = mid;
	}
	return r;
}

/* position the read cursor on the batch holding `offset` (or the first after) */
static int
seek(struct klog_part *p, int64_t offset, char *err)
{
	struct klog_batch b;
	struct seg *s;
	int64_t pos, size;
	struct stat st;
	char e[KLOG_ERRLEN];

	if (p->rseg < p->nseg && p->roff == offset)
		return 0;
	p->rseg = find_seg(p, offset);
	s = &p->segs[p->rseg];
	if (seg_open(p, s, err) < 0)
		return -1;
	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	size = st.st_size;
	pos = index_pos(p, s, offset);
	while (hdr_at(s->fd, pos, size, &b, e) == 1 && klog_batch_last(&b) < offset)
		pos += (int64_t)klog_batch_size(&b);
	p->rpos = pos;
	p->roff = offset;
	return 0;
}

static int
watch(struct klog_part *p)
{
	char path[PATH_MAX];

	if (p->ino >= 0)
		return 0;
	if ((p->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", klog_dir_path(p->d), p->name);
	if (inotify_add_watch(p->ino, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE |
	    IN_CLOSE_WRITE) < 0) {
		close(p->ino);
		p->ino = -1;
		return -1;
	}
	return 0;
}

/* where the next whole batches are: fills s; 0 at end */
static ssize_t
locate(struct klog_part *p, int64_t offset, size_t max, struct klog_slice *sl,
    struct klog_buf *out, char *err)
{
	struct klog_batch b;
	struct seg *s;
	struct stat st;
	int64_t pos, start;
	int tries = 0;
	char e[KLOG_ERRLEN];

	if (!p->nseg || offset >= p->end) {
		if (refresh(p, 0, err) < 0)
			return -1;
		if (!p->nseg || offset >= p->end)
			return 0;
	}
	if (offset < p->segs[0].base) {
		errno = ERANGE;
		return kerr(err, "offset %" PRId64 " is below the log start %" PRId64 " of '%s'",
		    offset, p->segs[0].base, p->name);
	}
retry:
	if (seek(p, offset, err) < 0) {
		if (errno == ENOENT && tries++ < 3) {   /* deleted by retention */
			segs_free(p);
			if (refresh(p, 0, err) < 0)
				return -1;
			goto retry;
		}
		return -1;
	}
	for (;;) {
		s = &p->segs[p->rseg];
		if (fstat(s->fd, &st) < 0)
			return kerr_sys(err, "segment of '%s'", p->name);
		start = pos = p->rpos;
		if (out && pos < st.st_size) {
			/* one read of up to max bytes, cut to whole batches in memory */
			size_t want = st.st_size - pos < (int64_t)max ? (size_t)(st.st_size - pos) : max;
			size_t off = 0, at = out->len;
			ssize_t n;
			if (klog_buf_reserve(out, want) < 0)
				return kerr_sys(err, "read '%s'", p->name);
			if ((n = pread(s->fd, out->data + at, want, pos)) < 0)
				return kerr_sys(err, "cannot read partition '%s'", p->name);
			while (off < (size_t)n) {
				int r = klog_batch_parse(out->data + at + off, (size_t)n - off, &b, e);
				if (r < 0) {
					char nm[64];
					segname(nm, sizeof nm, s->base, ".log");
					errno = EILSEQ;
					return kerr(err, "segment '%s/%s': %s at byte %" PRId64, p->name,
					    nm, e, pos + (int64_t)off);
				}
				if (r == 0) {
					/* a first batch larger than max: read it whole */
					if (off == 0 && (size_t)n >= KLOG_BATCH_OVERHEAD &&
					    pos + (int64_t)klog_batch_size(&b) <= st.st_size) {
						want = klog_batch_size(&b);
						if (klog_buf_reserve(out, want) < 0)
							return kerr_sys(err, "read '%s'", p->name);
						if ((n = pread(s->fd, out->data + at, want, pos)) < 0)
							return kerr_sys(err, "cannot read partition '%s'", p->name);
						continue;
					}
					break;
				}
				off += klog_batch_size(&b);
				p->roff = klog_batch_last(&b) + 1;
			}
			pos += (int64_t)off;
		} else for (;;) {
			int r = hdr_at(s->fd, pos, st.st_size, &b, e);
			if (r < 0) {
				char nm[64];
				segname(nm, sizeof nm, s->base, ".log");
				errno = EILSEQ;
				return kerr(err, "segment '%s/%s': %s at byte %" PRId64, p->name, nm, e, pos);
			}
			if (r == 0)
				break;
			if (pos > start && (size_t)(pos - start) + klog_batch_size(&b) > max)
				break;
			pos += (int64_t)klog_batch_size(&b);
			p->roff = klog_batch_last(&b) + 1;
			if ((size_t)(pos - start) >= max)
				break;
		}
		if (pos > start) {
			sl->fd = s->fd;
			sl->pos = start;
			sl->len = (size_t)(pos - start);
			p->rpos = pos;
			return (ssize_t)sl->len;
		}
		if (p->rseg + 1 >= p->nseg) {
			/* end of the active segment: maybe rolled meanwhile */
			char nm[64];
			segname(nm, sizeof nm, p->roff, ".log");
			if (p->roff != s->base && faccessat(p->dfd, nm, F_OK, 0) == 0) {
				int64_t ro = p->roff;
				segs_free(p);
				if (refresh(p, 0, err) < 0)
					return -1;
				p->rseg = SIZE_MAX;
				if (seek(p, ro, err) < 0)
					return -1;
				continue;
			}
			return 0;
		}
		p->rseg++;
		if (seg_open(p, &p->segs[p->rseg], err) < 0)
			return -1;
		p->rpos = 0;
	}
}

int
klog_part_slice(struct klog_part *p, int64_t offset, size_t max, struct klog_slice *s, char *err)
{
	ssize_t n = locate(p, offset, max, s, NULL, err);

	if (n <= 0) {
		s->fd = -1;
		s->len = 0;
	}
	return n < 0 ? -1 : 0;
}

ssize_t
klog_part_read(struct klog_part *p, int64_t offset, size_t max, struct klog_buf *out, char *err)
{
	struct klog_slice sl;
	struct klog_batch b;
	ssize_t n;
	size_t off, at;
	int watched = p->ino >= 0;

again:
	at = out->len;
	n = locate(p, offset, max, &sl, out, err);
	if (n < 0)
		return -1;
	if (n == 0) {
		/* make sure a writer appending from now on wakes klog_part_wait */
		if (!watched && watch(p) == 0) {
			watched = 1;
			goto again;
		}
		return 0;
	}
	/* the batches are in out->data[at, at + n); out->len moves once checked */
	for (off = 0; off < sl.len; off += klog_batch_size(&b)) {
		char e[KLOG_ERRLEN];
		klog_batch_parse(out->data + at + off, sl.len - off, &b, NULL);
		if (klog_batch_verify(out->data + at + off, &b, e) < 0) {
			struct seg *s = &p->segs[p->rseg];
			if (off > 0) {
				/* hand out the good batches before it; the next
				 * read starts at the damaged one and fails there */
				out->len += off;
				p->rseg = SIZE_MAX;
				return (ssize_t)off;
			}
			char nm[64];
			segname(nm, sizeof nm, s->base, ".log");
			p->rseg = SIZE_MAX;
			errno = EILSEQ;
			return kerr(err, "segment '%s/%s': %s at byte %" PRId64, p->name, nm, e,
			    sl.pos + (int64_t)off);
		}
	}
	out->len += sl.len;
	return n;
}

int
klog_part_offset_for_time(struct klog_part *p, int64_t ts, int64_t *offset, char *err)
{
	struct klog_index_entry ie;
	struct klog_rec_iter it;
	struct klog_record r;
	struct klog_batch b;
	struct seg *s = NULL;
	size_t i;
	int64_t pos, n;
	char nm[64];
	int fd, rc;

	if (refresh(p, 0, err) < 0)
		return -1;
	for (i = 0; i < p->nseg; i++) {
		if (seg_open(p, &p->segs[i], err) < 0)
			return -1;
		if (i + 1 == p->nseg) {
			struct stat st;
			if (fstat(p->segs[i].fd, &st) == 0)
				p->segs[i].size = st.st_size;
			p->segs[i].max_ts = INT64_MIN;
		}
		seg_max_ts(p, &p->segs[i]);
		if (p->segs[i].max_ts >= ts) {
			s = &p->segs[i];
			break;
		}
	}
	*offset = p->end;
	if (!s)
		return 0;
	pos = 0;
	segname(nm, sizeof nm, s->base, ".timeindex");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 1)) > 0 && kindex_lookup(fd, 1, n, s->base, ts, &ie) >= 0)
			pos = index_pos(p, s, ie.offset);
		close(fd);
	}
	klog_rec_iter_init0(&it);
	rc = 0;
	for (; hdr_at(s->fd, pos, s->size, &b, err) == 1; pos += (int64_t)klog_batch_size(&b)) {
		if (b.max_timestamp < ts || (b.attributes & KLOG_ATTR_CONTROL))
			continue;
		if (batch_verified(p, s->fd, pos, &b, err) < 0 ||
		    klog_rec_iter_start(&it, p->tmp.data, &b, err) < 0) {
			rc = -1;
			break;
		}
		while ((rc = klog_rec_iter_next(&it, &r, err)) == 1)
			if (r.timestamp >= ts) {
				*offset = r.offset;
				klog_rec_iter_free(&it);
				return 0;
			}
		if (rc < 0)
			break;
	}
	klog_rec_iter_free(&it);
	return rc < 0 ? -1 : 0;
}

int
klog_part_wait_fd(struct klog_part *p)
{
	watch(p);
	return p->ino;
}

int
klog_part_wait(struct klog_part *p, int timeout_ms)
{
	struct pollfd pfd;
	char buf[4096];
	int r;

	if (watch(p) < 0) {
		poll(NULL, 0, timeout_ms < 0 || timeout_ms > 100 ? 100 : timeout_ms);
		return 1;
	}
	pfd.fd = p->ino;
	pfd.events = POLLIN;
	r = poll(&pfd, 1, timeout_ms);
	while (read(p->ino, buf, sizeof buf) > 0)
		;
	return r > 0;
}
