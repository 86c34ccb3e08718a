/* klog - a partition's view of its segments: loading, the tail scan, recovery. MIT licence. */
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

#include "partition.h"

/* the writer lock; a signal (kproduce's handlers interrupt system calls)
 * does not make us give up waiting for it */
int
kp_lock_ex(int fd)
{
	int r;

	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	return r;
}

/* a verify buffer as large as the largest batch seen is not kept */
void
kp_trim_tmp(struct klog_part *p)
{
	if (p->tmp.cap > (size_t)256 << 10)
		klog_buf_free(&p->tmp);
}

void
kp_segname(char *buf, size_t n, int64_t base, const char *suffix)
{
	snprintf(buf, n, SEG_FMT "%s", base, suffix);
}

struct seg *
kp_active(struct klog_part *p)
{
	return p->nseg ? &p->segs[p->nseg - 1] : NULL;
}

int
kp_seg_open(struct klog_part *p, struct seg *s, char *err)
{
	char nm[64];

	if (s->fd >= 0)
		return 0;
	kp_segname(nm, sizeof nm, s->base, ".log");
	s->fd = openat(p->dfd, nm, (p->flags & KLOG_WRITE ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC);
	if (s->fd < 0)
		return kerr_sys(err, "cannot open segment '%s/%s'", p->name, nm);
	return 0;
}

void
kp_segs_free(struct klog_part *p)
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
int
kp_hdr_at(int fd, int64_t pos, int64_t size, struct klog_batch *b, char *err)
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
int
kp_batch_verified(struct klog_part *p, int fd, int64_t pos, const struct klog_batch *b, char *err)
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
void
kp_seg_max_ts(struct klog_part *p, struct seg *s)
{
	char nm[64], e[KLOG_ERRLEN];
	struct klog_index_entry ie;
	struct klog_batch b;
	int64_t n, pos = 0;
	int fd;

	if (s->max_ts != INT64_MIN || kp_seg_open(p, s, e) < 0)
		return;
	kp_segname(nm, sizeof nm, s->base, ".timeindex");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 1)) > 0 && kindex_entry(fd, 1, n - 1, s->base, &ie) == 0) {
			s->max_ts = ie.position;
			s->max_ts_off = ie.offset;
		}
		close(fd);
	}
	kp_segname(nm, sizeof nm, s->base, ".index");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 0)) > 0 && kindex_entry(fd, 0, n - 1, s->base, &ie) == 0 &&
		    ie.position < s->size)
			pos = ie.position;
		close(fd);
	}
	while (kp_hdr_at(s->fd, pos, s->size, &b, e) == 1) {
		if (b.max_timestamp > s->max_ts) {
			s->max_ts = b.max_timestamp;
			s->max_ts_off = klog_batch_last(&b);
		}
		pos += (int64_t)klog_batch_size(&b);
	}
}

/* position to start scanning for `offset` in segment s: from the index */
int64_t
kp_index_pos(struct klog_part *p, struct seg *s, int64_t offset)
{
	char nm[64];
	struct klog_index_entry ie;
	int64_t n, pos = 0;
	int fd;

	kp_segname(nm, sizeof nm, s->base, ".index");
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
	struct seg *s = kp_active(p);
	struct klog_batch b;
	struct stat st;
	char e[KLOG_ERRLEN], nm[64];
	int64_t next = -1;
	int r;

	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment '%s'", p->name);
	kp_segname(nm, sizeof nm, s->base, ".log");
	for (;;) {
		r = kp_hdr_at(s->fd, pos, st.st_size, &b, e);
		if (r == 1 && repair && kp_batch_verified(p, s->fd, pos, &b, e) < 0)
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

int
kp_open_indexes(struct klog_part *p, struct seg *s, char *err)
{
	char nm[64];

	kp_segname(nm, sizeof nm, s->base, ".index");
	p->index_missing = faccessat(p->dfd, nm, F_OK, 0) < 0 && s->size > 0;
	if ((p->ifd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open index '%s/%s'", p->name, nm);
	kp_segname(nm, sizeof nm, s->base, ".timeindex");
	if ((p->tfd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open time index '%s/%s'", p->name, nm);
	return 0;
}

/* rebuild the active segment's indexes from its batches */
static int
rebuild_indexes(struct klog_part *p, char *err)
{
	struct seg *s = kp_active(p);
	struct klog_batch b;
	int64_t pos = 0, since = 0, maxts = INT64_MIN, maxoff = s->base;
	char e[KLOG_ERRLEN];

	if (ftruncate(p->ifd, 0) < 0 || ftruncate(p->tfd, 0) < 0)
		return kerr_sys(err, "cannot rebuild indexes of '%s'", p->name);
	p->ientries = 0;
	p->tlast_ts = INT64_MIN;
	while (kp_hdr_at(s->fd, pos, s->size, &b, e) == 1) {
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

	kp_segs_free(p);
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
int
kp_refresh(struct klog_part *p, int repair, char *err)
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
		/* segments a writer finds may have names not yet durable */
		if (p->flags & KLOG_WRITE)
			p->dir_dirty = 1;
		s = kp_active(p);
		if (kp_seg_open(p, s, err) < 0)
			return -1;
		if (p->flags & KLOG_WRITE) {
			if (kp_open_indexes(p, s, err) < 0)
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
				pos = kp_index_pos(p, s, INT64_MAX);
			p->end = s->base;
			if (pos > 0) {
				struct klog_batch b;
				char e[KLOG_ERRLEN];
				if (fstat(s->fd, &st) < 0)
					return kerr_sys(err, "segment of '%s'", p->name);
				if (kp_hdr_at(s->fd, pos, st.st_size, &b, e) == 1 &&
				    (!repair || kp_batch_verified(p, s->fd, pos, &b, e) == 0))
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
				if (kp_hdr_at(s->fd, 0, s->size, &b, e) == 1)
					p->first_ts = b.max_timestamp;
			}
		}
		return 0;
	}
	s = kp_active(p);
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
	kp_segname(nm, sizeof nm, p->end, ".log");
	if (p->end != s->base && faccessat(p->dfd, nm, F_OK, 0) == 0)
		goto reload;
	return 0;
reload:
	if (reloaded)
		return 0;
	kp_segs_free(p);
	p->first_ts = INT64_MIN;
	goto again;
}
