/* klog - reading a partition: seeks, slices, reads, lookups by time, waiting. MIT licence. */
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
	if (kp_seg_open(p, s, err) < 0)
		return -1;
	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	size = st.st_size;
	pos = kp_index_pos(p, s, offset);
	while (kp_hdr_at(s->fd, pos, size, &b, e) == 1 && klog_batch_last(&b) < offset)
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
locate(struct klog_part *p, int64_t offset, size_t max, int64_t limit, struct klog_slice *sl,
    struct klog_buf *out, char *err)
{
	struct klog_batch b;
	struct seg *s;
	struct stat st;
	int64_t pos, start;
	int tries = 0;
	char e[KLOG_ERRLEN];

	if (!p->nseg || offset >= p->end) {
		if (kp_refresh(p, 0, err) < 0)
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
			kp_segs_free(p);
			if (kp_refresh(p, 0, err) < 0)
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
					kp_segname(nm, sizeof nm, s->base, ".log");
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
			int r = kp_hdr_at(s->fd, pos, st.st_size, &b, e);
			if (r < 0) {
				char nm[64];
				kp_segname(nm, sizeof nm, s->base, ".log");
				errno = EILSEQ;
				return kerr(err, "segment '%s/%s': %s at byte %" PRId64, p->name, nm, e, pos);
			}
			if (r == 0 || klog_batch_last(&b) >= limit)
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
			kp_segname(nm, sizeof nm, p->roff, ".log");
			if (p->roff != s->base && faccessat(p->dfd, nm, F_OK, 0) == 0) {
				int64_t ro = p->roff;
				kp_segs_free(p);
				if (kp_refresh(p, 0, err) < 0)
					return -1;
				p->rseg = SIZE_MAX;
				if (seek(p, ro, err) < 0)
					return -1;
				continue;
			}
			return 0;
		}
		p->rseg++;
		if (kp_seg_open(p, &p->segs[p->rseg], err) < 0)
			return -1;
		p->rpos = 0;
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
			char nm[64];
			kp_segname(nm, sizeof nm, s->base, ".log");
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
	pos = 0;
	kp_segname(nm, sizeof nm, s->base, ".timeindex");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((n = kindex_count(fd, 1)) > 0 && kindex_lookup(fd, 1, n, s->base, ts, &ie) >= 0)
			pos = kp_index_pos(p, s, ie.offset);
		close(fd);
	}
	klog_rec_iter_init0(&it);
	rc = 0;
	for (; kp_hdr_at(s->fd, pos, s->size, &b, err) == 1; pos += (int64_t)klog_batch_size(&b)) {
		if (b.max_timestamp < ts || (b.attributes & KLOG_ATTR_CONTROL))
			continue;
		if (kp_batch_verified(p, s->fd, pos, &b, err) < 0 ||
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
