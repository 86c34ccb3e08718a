/* klog - reading a partition: seeks, slices, reads, lookups by time, waiting. MIT licence. */
/*
 * Readers never hand out damage as data.  Every batch a read passes is
 * checked against its neighbours (kseg_check_next: baseOffset and
 * batchLength are not covered by the CRC): in a topic that is not
 * compacted each batch starts right after the previous one and a sealed
 * segment ends right before the next one begins; in a compacted one offsets
 * only increase, within the segment's range.  klog_part_read also checks
 * every batch's CRC; a broker's slices (sent with sendfile) are checked once
 * per byte: seg->verified is how far a segment is known good, and appends,
 * validated on the way in, extend it.  Damage is an error (EILSEQ) naming
 * the segment and byte, after the good batches before it were handed out.
 *
 * The offset and time indexes are hints.  An entry is used only when the
 * batch it points at looks like what the entry claims (kp_index_pos,
 * kp_time_entry_ok); otherwise the segment is walked from its start, so a
 * zeroed or flipped entry costs time, never a wrong answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partition.h"

/*
 * The batch header at pos of segment i, checked against the batch before
 * it (prev).  1: a whole batch; 0: none there (the end of what is
 * written, or of a sealed segment); -1: damage (err).
 */
static int
next_hdr(struct klog_part *p, size_t i, int64_t size, int64_t pos, int64_t prev,
    struct klog_batch *b, char *err)
{
	struct seg *s = &p->segs[i];
	char e[KLOG_ERRLEN];
	int r = kp_hdr_at(s->fd, pos, size, b, e);

	if (r < 0)
		return errno == EILSEQ || !strncmp(e, "batch", 5) ? kp_damage(p, s, pos, e, err) :
		    kerr(err, "cannot read segment '%s/" SEG_FMT ".log': %s", p->name, s->base, e);
	if (r == 0) {
		if (pos < size && i + 1 < p->nseg)
			return kp_damage(p, s, pos, "incomplete batch in a sealed segment", err);
		if (pos + KLOG_BATCH_OVERHEAD <= size && kp_length_lies(p, s, pos, b, size))
			return kp_damage(p, s, pos, "batch length runs past the batch that follows it",
			    err);
		if (i + 1 == p->nseg && p->damage_pos >= 0 && pos >= p->damage_pos)
			return kp_damage(p, s, p->damage_pos, p->damage, err);
		return 0;
	}
	if (kseg_check_next(b, s->base, prev, kp_limit(p, i), p->cfg.compact, e, sizeof e) < 0)
		return kp_damage(p, s, pos, e, err);
	return 1;
}

/* position the read cursor on the batch holding `offset` (or the first after) */
static int
seek(struct klog_part *p, int64_t offset, char *err)
{
	struct klog_batch b;
	struct seg *s;
	int64_t pos, start, prev, size;
	struct stat st;
	size_t i;
	int r;

	if (p->rseg < p->nseg && p->roff == offset)
		return 0;
	i = kp_find_seg(p, offset);
	s = &p->segs[i];
	if (kp_seg_open(p, s, err) < 0)
		return -1;
	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	size = st.st_size;
	start = kp_index_pos(p, s, offset);
again:
	pos = start;
	prev = pos == 0 ? s->base - 1 : KSEG_UNKNOWN;
	while ((r = next_hdr(p, i, size, pos, prev, &b, err)) == 1 && klog_batch_last(&b) < offset) {
		prev = klog_batch_last(&b);
		pos += (int64_t)klog_batch_size(&b);
	}
	if (r < 0 && start > 0) {
		/* the walk from an index entry went wrong: from the start */
		start = 0;
		goto again;
	}
	if (r < 0)
		return -1;
	p->rseg = i;
	p->rpos = pos;
	p->rprev = prev;
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

/* check the CRC of every batch of [from, to) of segment s, once */
static int
verify_range(struct klog_part *p, struct seg *s, int64_t from, int64_t to, char *err)
{
	struct kseg_walk w;
	char e[KLOG_ERRLEN];
	int r;

	if (to <= s->verified)
		return 0;
	kseg_walk_init(&w, s->fd, from, to);
	while ((r = kseg_walk_next(&w)) == 1) {
		if (klog_batch_verify(w.p, &w.b, e) < 0) {
			kseg_walk_free(&w);
			return kp_damage(p, s, w.pos, e, err);
		}
		kseg_walk_skip(&w);
	}
	kseg_walk_free(&w);
	if (r == -2)
		return kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", p->name, s->base);
	if (r == -1)
		return kp_damage(p, s, w.pos, w.msg, err);
	if (from <= s->verified)
		s->verified = to;
	return 0;
}

/*
 * Where the next whole batches are, from the cursor: at most max bytes
 * (at least one batch), only batches below limit.  With out, they are read
 * into it (one pread, cut in memory); else sl says where they are (for
 * sendfile; their CRCs checked once).  0 at the end of the log.
 */
static ssize_t
locate(struct klog_part *p, int64_t offset, size_t max, int64_t limit, struct klog_slice *sl,
    struct klog_buf *out, char *err)
{
	struct klog_batch b;
	struct seg *s;
	struct stat st;
	int64_t pos, start, prev, records;
	int tries = 0, r;
	char e[KLOG_ERRLEN];

	if (!p->nseg || offset >= p->end) {
		if (kp_refresh(p, 0, err) < 0)
			return -1;
		if (!p->nseg || offset >= p->end) {
			if (p->nseg && p->damage_pos >= 0 && offset == p->end)
				return kp_damage(p, kp_active(p), p->damage_pos, p->damage, err);
			return 0;
		}
	}
	if (offset < p->segs[0].base) {
		errno = ERANGE;
		return kerr(err, "offset %" PRId64 " is below the log start %" PRId64 " of '%s'",
		    offset, p->segs[0].base, p->name);
	}
retry:
	if (seek(p, offset, err) < 0) {
		if (errno == ENOENT && tries++ < 3) {   /* deleted by retention */
			kp_segs_free(p);
			if (kp_refresh(p, 0, err) < 0)
				return -1;
			goto retry;
		}
		p->rseg = SIZE_MAX;
		return -1;
	}
	for (;;) {
		s = &p->segs[p->rseg];
		if (fstat(s->fd, &st) < 0)
			return kerr_sys(err, "segment of '%s'", p->name);
		start = pos = p->rpos;
		prev = p->rprev;
		records = 0;
		r = 0;
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
				int k = klog_batch_parse(out->data + at + off, (size_t)n - off, &b, e);
				if (k < 0 || (k == 1 && kseg_check_next(&b, s->base, prev,
				    kp_limit(p, p->rseg), p->cfg.compact, e, sizeof e) < 0)) {
					r = kp_damage(p, s, pos + (int64_t)off, e, err);
					break;
				}
				if (k == 0) {
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
				if (klog_batch_last(&b) >= limit)
					break;
				off += klog_batch_size(&b);
				prev = klog_batch_last(&b);
				records += b.count;
			}
			pos += (int64_t)off;
			if (r == 0 && pos == start && (r = next_hdr(p, p->rseg, st.st_size, pos, prev,
			    &b, err)) > 0)
				r = 0;
		} else for (;;) {
			if ((r = next_hdr(p, p->rseg, st.st_size, pos, prev, &b, err)) <= 0)
				break;
			r = 0;
			if (klog_batch_last(&b) >= limit)
				break;
			if (pos > start && (size_t)(pos - start) + klog_batch_size(&b) > max)
				break;
			pos += (int64_t)klog_batch_size(&b);
			prev = klog_batch_last(&b);
			records += b.count;
			if ((size_t)(pos - start) >= max)
				break;
		}
		if (r < 0 && pos == start) {
			p->rseg = SIZE_MAX;     /* the next read seeks again, and fails again */
			return -1;
		}
		if (pos > start) {
			if (!out && verify_range(p, s, start, pos, err) < 0) {
				p->rseg = SIZE_MAX;
				return -1;
			}
			sl->fd = s->fd;
			sl->pos = start;
			sl->len = (size_t)(pos - start);
			sl->next = prev + 1;
			sl->records = records;
			p->rpos = pos;
			p->rprev = prev;
			p->roff = prev + 1;
			return (ssize_t)sl->len;
		}
		if (prev != KSEG_UNKNOWN && prev + 1 >= limit)
			return 0;
		if (p->rseg + 1 >= p->nseg) {
			/* end of the active segment: maybe rolled meanwhile */
			char nm[KSEG_NAMELEN];
			int64_t ro = prev != KSEG_UNKNOWN ? prev + 1 : p->roff;
			kseg_name(nm, sizeof nm, ro, ".log");
			if (ro != s->base && faccessat(p->dfd, nm, F_OK, 0) == 0) {
				kp_segs_free(p);
				if (kp_refresh(p, 0, err) < 0)
					return -1;
				if (seek(p, ro, err) < 0)
					return -1;
				continue;
			}
			return 0;
		}
		/* a sealed segment ends where the next begins */
		if (prev != KSEG_UNKNOWN && kseg_check_end(s->base, prev, p->segs[p->rseg + 1].base,
		    p->cfg.compact, e, sizeof e) < 0) {
			p->rseg = SIZE_MAX;
			return kp_damage(p, s, pos, e, err);
		}
		p->rseg++;
		if (kp_seg_open(p, &p->segs[p->rseg], err) < 0)
			return -1;
		p->rpos = 0;
		if (prev == KSEG_UNKNOWN || prev < p->segs[p->rseg].base - 1)
			p->rprev = p->segs[p->rseg].base - 1;
	}
}

int
klog_part_slice(struct klog_part *p, int64_t offset, size_t max, struct klog_slice *s, char *err)
{
	return kpart_slice(p, offset, max, INT64_MAX, s, err);
}

/* batches whose offsets are all below limit only (a broker's visible end) */
int
kpart_slice(struct klog_part *p, int64_t offset, size_t max, int64_t limit, struct klog_slice *s,
    char *err)
{
	ssize_t n = locate(p, offset, max, limit, s, NULL, err);

	s->base = n > 0 && p->rseg < p->nseg ? p->segs[p->rseg].base : -1;
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
	n = locate(p, offset, max, INT64_MAX, &sl, out, err);
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
			p->rseg = SIZE_MAX;
			return kp_damage(p, s, sl.pos + (int64_t)off, e, err);
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
	int64_t pos, prev, at;
	int rc, k;

	if (kp_refresh(p, 0, err) < 0)
		return -1;
	for (i = 0; i < p->nseg; i++) {
		if (kp_seg_open(p, &p->segs[i], err) < 0)
			return -1;
		if (i + 1 == p->nseg) {
			struct stat st;
			if (fstat(p->segs[i].fd, &st) == 0)
				p->segs[i].size = st.st_size;
			p->segs[i].max_ts = INT64_MIN;
		}
		kp_seg_max_ts(p, &p->segs[i]);
		if (p->segs[i].max_ts >= ts) {
			s = &p->segs[i];
			break;
		}
	}
	*offset = p->end;
	if (!s)
		return 0;
	/* a time entry (t, o) is written when the largest timestamp grows to t,
	 * o in the first batch to reach it: batches before hold only earlier
	 * timestamps, so with t <= ts the scan starts at o's batch */
	pos = 0;
	{
		char nm[KSEG_NAMELEN];
		int64_t n;
		int fd;
		kseg_name(nm, sizeof nm, s->base, ".timeindex");
		if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
			if ((n = kindex_count(fd, 1)) > 0 &&
			    kindex_lookup(fd, 1, n, s->base, ts, &ie) >= 0 &&
			    kp_time_entry_ok(p, s, &ie, &at))
				pos = at;
			close(fd);
		}
	}
	prev = pos == 0 ? s->base - 1 : KSEG_UNKNOWN;
	klog_rec_iter_init0(&it);
	rc = 0;
	for (; (k = next_hdr(p, (size_t)(s - p->segs), s->size, pos, prev, &b, err)) == 1;
	    pos += (int64_t)klog_batch_size(&b)) {
		prev = klog_batch_last(&b);
		if (b.max_timestamp < ts || (b.attributes & KLOG_ATTR_CONTROL))
			continue;
		p->tmp.len = 0;
		if (klog_buf_reserve(&p->tmp, klog_batch_size(&b)) < 0 ||
		    pread(s->fd, p->tmp.data, klog_batch_size(&b), pos) != (ssize_t)klog_batch_size(&b)) {
			rc = kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", p->name, s->base);
			break;
		}
		if (klog_batch_verify(p->tmp.data, &b, err) < 0 ||
		    klog_rec_iter_start(&it, p->tmp.data, &b, err) < 0) {
			char e[KLOG_ERRLEN];
			snprintf(e, sizeof e, "%s", err);
			rc = kp_damage(p, s, pos, e, err);
			break;
		}
		while ((rc = klog_rec_iter_next(&it, &r, err)) == 1)
			if (r.timestamp >= ts) {
				*offset = r.offset;
				klog_rec_iter_free(&it);
				kp_trim_tmp(p);
				return 0;
			}
		if (rc < 0)
			break;
	}
	if (k < 0)
		rc = -1;
	klog_rec_iter_free(&it);
	kp_trim_tmp(p);
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
