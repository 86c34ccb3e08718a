/* klog - a partition's view of its segments: loading, the end of the log, recovery. MIT licence. */
/*
 * Recovery (a writer opening the partition, and a writer that finds the
 * segments changed under it) starts from the recovery point, as Kafka's
 * does: recovery-point-offset-checkpoint names, per partition, an offset
 * below which everything was synced when it was written (a clean close,
 * or a broker's periodic record).
 *
 *  1. Reach the recovery point.  In the segment that holds it, from the
 *     offset index's entry (a hint, checked: the batch there must start at
 *     or before the offset looked up) or from the segment's start, batch
 *     headers are walked and checked against their neighbours
 *     (kseg_check_next) up to the batch that starts at the recovery point.
 *     Damage met on the way is damage below the recovery point: synced
 *     data is bad, and nothing is cut.  The writer refuses with an error
 *     naming the segment and byte (a broker fences the partition) and
 *     kdump --repair decides.  So does a log that ends below its recovery
 *     point (synced data missing).
 *  2. Validate everything after it, in every later segment: neighbours,
 *     CRC, records (klog_batch_validate), and each sealed segment ending
 *     where the next begins.  This part was perhaps never synced: after a
 *     power loss it may be short, zeroed or scrambled, and may have whole
 *     segments whose names were never durable.  At the first batch that
 *     fails, the log is cut: the bytes from there to the end of that
 *     segment, and every later segment, are appended to
 *     <segment>.log.damaged (never dropped), the later segments removed,
 *     and a warning says what was cut and why.
 *  3. Indexes of the segments validated in 2 are rebuilt from their
 *     batches; an active segment recovered cleanly keeps its index,
 *     trimmed of entries past the end.
 *
 * A partition without a recovery point is validated from its log start.
 * Whatever recovery keeps past the recovery point is synced before the
 * writer acknowledges anything on top of it (partition.c, sync_found).
 *
 * Readers take no lock and never change a file: they find the end of the
 * log by walking the active segment's headers from its last index entry
 * (checked as above), stopping before the first incomplete batch; a batch
 * whose header fails the neighbour checks ends their view too, and is
 * reported as damage when a read reaches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

struct seg *
kp_active(struct klog_part *p)
{
	return p->nseg ? &p->segs[p->nseg - 1] : NULL;
}

int
kp_seg_open(struct klog_part *p, struct seg *s, char *err)
{
	char nm[KSEG_NAMELEN];

	if (s->fd >= 0)
		return 0;
	kseg_name(nm, sizeof nm, s->base, ".log");
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
	p->rseg = SIZE_MAX;
}

/* the next segment's base offset, INT64_MAX after the last */
int64_t
kp_limit(struct klog_part *p, size_t i)
{
	return i + 1 < p->nseg ? p->segs[i + 1].base : INT64_MAX;
}

/* "segment 'orders-0/00000000000000000000.log' damaged at byte 812: MSG" */
int
kp_damage(struct klog_part *p, struct seg *s, int64_t pos, const char *msg, char *err)
{
	errno = EILSEQ;
	return kerr(err, "segment '%s/" SEG_FMT ".log' damaged at byte %" PRId64 ": %s", p->name,
	    s->base, pos, msg);
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

/* the whole of a batch that crosses a trust boundary, from disk */
int
kp_validate(struct klog_part *p, const unsigned char *batch, const struct klog_batch *b, char *err)
{
	return klog_batch_validate(batch, b, 0, &p->it, err);
}

/*
 * Where to start walking a segment to find `offset`: the offset index's
 * entry for it, if the batch there looks like what the entry claims (a
 * whole header that starts at or before the entry's offset and `offset`,
 * inside the segment); else 0.  The index is a hint: zeroed or flipped
 * entries cost a longer walk, never a wrong answer.
 */
int64_t
kp_index_pos(struct klog_part *p, struct seg *s, int64_t offset)
{
	char nm[KSEG_NAMELEN], e[KLOG_ERRLEN];
	struct klog_index_entry ie;
	struct klog_batch b;
	int64_t n, pos = 0, limit = INT64_MAX;
	int fd;

	if (s->fd < 0)
		return 0;
	kseg_name(nm, sizeof nm, s->base, ".index");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if ((n = kindex_count(fd, 0)) > 0 && kindex_lookup(fd, 0, n, s->base, offset, &ie) >= 0 &&
	    ie.position > 0 && ie.position < s->size && ie.offset <= offset &&
	    kp_hdr_at(s->fd, ie.position, s->size, &b, e) == 1 &&
	    b.base_offset <= ie.offset && b.base_offset <= offset &&
	    kseg_check_next(&b, s->base, KSEG_UNKNOWN, limit, p->cfg.compact, e, sizeof e) == 0)
		pos = ie.position;
	close(fd);
	return pos;
}

/* kindex_lookup through a file name, for the time index */
static int
time_entry(struct klog_part *p, struct seg *s, int64_t ts, int last, struct klog_index_entry *ie)
{
	char nm[KSEG_NAMELEN];
	int64_t n;
	int fd, r = -1;

	kseg_name(nm, sizeof nm, s->base, ".timeindex");
	if ((fd = openat(p->dfd, nm, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((n = kindex_count(fd, 1)) > 0) {
		if (last)
			r = kindex_entry(fd, 1, n - 1, s->base, ie);
		else
			r = kindex_lookup(fd, 1, n, s->base, ts, ie) >= 0 ? 0 : -1;
	}
	close(fd);
	return r;
}

/*
 * Does the time-index entry (ts, offset) say something true?  Kafka's rule
 * (and ours): the batch holding `offset` has exactly that max timestamp.
 * Sets *pos to that batch's position.
 */
int
kp_time_entry_ok(struct klog_part *p, struct seg *s, const struct klog_index_entry *ie,
    int64_t *pos)
{
	struct klog_batch b;
	char e[KLOG_ERRLEN];
	int64_t at;

	if (ie->offset < s->base)
		return 0;
	at = kp_index_pos(p, s, ie->offset);
	while (kp_hdr_at(s->fd, at, s->size, &b, e) == 1) {
		if (klog_batch_last(&b) >= ie->offset) {
			*pos = at;
			return b.base_offset <= ie->offset && b.max_timestamp == ie->position;
		}
		at += (int64_t)klog_batch_size(&b);
	}
	return 0;
}

/*
 * Largest timestamp of a segment: its last time-index entry when that
 * checks out, and whatever follows the last offset-index entry; else a
 * walk of every batch header of the segment.
 */
void
kp_seg_max_ts(struct klog_part *p, struct seg *s)
{
	struct klog_index_entry ie;
	struct klog_batch b;
	char e[KLOG_ERRLEN];
	int64_t pos = 0, at;

	if (s->max_ts != INT64_MIN || kp_seg_open(p, s, e) < 0)
		return;
	if (time_entry(p, s, 0, 1, &ie) == 0 && kp_time_entry_ok(p, s, &ie, &at)) {
		s->max_ts = ie.position;
		s->max_ts_off = ie.offset;
		pos = kp_index_pos(p, s, INT64_MAX);
	}
	while (kp_hdr_at(s->fd, pos, s->size, &b, e) == 1) {
		if (b.max_timestamp > s->max_ts) {
			s->max_ts = b.max_timestamp;
			s->max_ts_off = klog_batch_last(&b);
		}
		pos += (int64_t)klog_batch_size(&b);
	}
}

int
kp_open_indexes(struct klog_part *p, struct seg *s, char *err)
{
	char nm[KSEG_NAMELEN];

	kseg_name(nm, sizeof nm, s->base, ".index");
	p->index_missing = faccessat(p->dfd, nm, F_OK, 0) < 0 && s->size > 0;
	if ((p->ifd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open index '%s/%s'", p->name, nm);
	kseg_name(nm, sizeof nm, s->base, ".timeindex");
	if ((p->tfd = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open time index '%s/%s'", p->name, nm);
	return 0;
}

static int
load_segments(struct klog_part *p, char *err)
{
	int64_t *bases;
	size_t n, i;

	kp_segs_free(p);
	if (kseg_list(p->dfd, p->name, &bases, &n, err) < 0)
		return -1;
	if (n && !(p->segs = calloc(n, sizeof *p->segs))) {
		free(bases);
		return kerr_sys(err, "partition '%s'", p->name);
	}
	for (i = 0; i < n; i++) {
		char nm[KSEG_NAMELEN];
		struct stat st;
		kseg_name(nm, sizeof nm, bases[i], ".log");
		p->segs[i] = (struct seg){ bases[i], 0, INT64_MIN, bases[i], -1, 0 };
		if (fstatat(p->dfd, nm, &st, 0) == 0)
			p->segs[i].size = st.st_size;
	}
	p->nseg = n;
	free(bases);
	return 0;
}

/* greatest segment base <= offset (the first segment for anything below) */
size_t
kp_find_seg(struct klog_part *p, int64_t offset)
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

/* --- writers: recovery --------------------------------------------------- */

/*
 * Cut the log at byte pos of segment i: keep the bytes in .damaged files,
 * remove later segments; said (KLOG_ERRLEN) says what was done.  Recovery
 * cuts what follows the recovery point; klog_part_recover what follows the
 * last good sync.
 */
int
kp_cut(struct klog_part *p, size_t i, int64_t pos, const char *why, char *said, char *err)
{
	struct seg *s = &p->segs[i];
	char dn[KSEG_NAMELEN + 8];
	int64_t bytes = 0;
	size_t j, later = p->nseg - i - 1;
	struct stat st;

	for (j = i; j < p->nseg; j++) {
		struct seg *x = &p->segs[j];
		if (kp_seg_open(p, x, err) < 0)
			return -1;
		if (fstat(x->fd, &st) < 0)
			return kerr_sys(err, "partition '%s': segment '" SEG_FMT ".log'", p->name, x->base);
		kseg_name(dn, sizeof dn, x->base, ".log.damaged");
		if (kseg_save_damaged(p->dfd, dn, x->fd, j == i ? pos : 0, st.st_size, err) < 0)
			return -1;
		if (st.st_size > (j == i ? pos : 0))
			bytes += st.st_size - (j == i ? pos : 0);
	}
	for (j = p->nseg; j-- > i + 1;) {
		if (kseg_delete(p->dfd, p->name, p->segs[j].base, err) < 0)
			return -1;
		close(p->segs[j].fd);
		p->nseg--;
	}
	if (ftruncate(s->fd, pos) < 0 || fdatasync(s->fd) < 0)
		return kerr_sys(err, "partition '%s': cannot cut segment '" SEG_FMT ".log'", p->name,
		    s->base);
	s->size = pos;
	p->dir_dirty = 1;
	p->cut = 1;
	kmsgf(said, KLOG_ERRLEN, "partition '%s': cut segment '" SEG_FMT ".log' at byte %" PRId64
	    " (%s): %" PRId64 " bytes%s kept in '" SEG_FMT ".log.damaged'%s", p->name, s->base,
	    pos, why, bytes, later ? ", with the later segments," : "", s->base,
	    later ? " and theirs" : "");
	return 0;
}

/* recovery's cut, said as a warning */
static int
cut_tail(struct klog_part *p, size_t i, int64_t pos, const char *why, char *err)
{
	char said[KLOG_ERRLEN];

	if (kp_cut(p, i, pos, why, said, err) < 0)
		return -1;
	kwarn("%s", said);
	return 0;
}

/* the recovery point recorded for this partition, -1 if none */
static int64_t
recovery_point(struct klog_part *p)
{
	int64_t rp;

	return klog_ckpt_get(p->d, "recovery-point-offset-checkpoint", p->topic, p->partition,
	    &rp) ? rp : -1;
}

/*
 * Step 1: the position in segment si of the batch that starts at the
 * recovery point rp, walking headers from from (prev: the last offset
 * before from, or KSEG_UNKNOWN).  1 found (*pos, *prev), 0 the walk from
 * there went wrong (an index hint that lied, or damage), -1 read error.
 */
static int
reach_from(struct klog_part *p, size_t si, int64_t rp, int64_t from, int64_t *pos, int64_t *prev,
    char *msg, size_t mn, int64_t *bad)
{
	struct seg *s = &p->segs[si];
	struct kseg_walk w;
	int64_t last, pl = from == 0 ? s->base - 1 : KSEG_UNKNOWN;
	int r;

	kseg_walk_init(&w, s->fd, from, s->size);
	while ((r = kseg_walk_next(&w)) == 1) {
		if (pl == rp - 1)
			break;          /* at the recovery point: what follows is step 2's */
		if (kseg_check_next(&w.b, s->base, pl, kp_limit(p, si), p->cfg.compact, msg, mn) < 0) {
			*bad = w.pos;
			r = -1;
			break;
		}
		last = klog_batch_last(&w.b);
		if (last >= rp || (pl == KSEG_UNKNOWN && w.b.base_offset > rp)) {
			if (w.b.base_offset > rp && pl == KSEG_UNKNOWN) {
				kmsgf(msg, mn, "the index points past offset %" PRId64, rp);
				*bad = w.pos;
				r = -1;
				break;
			}
			*pos = w.pos;
			*prev = pl;
			if (pl == KSEG_UNKNOWN && !p->cfg.compact && w.b.base_offset == rp)
				*prev = rp - 1;
			kseg_walk_free(&w);
			return 1;
		}
		pl = last;
		kseg_walk_skip(&w);
	}
	if (pl == rp - 1 && r != -2) {
		/* the batches before the recovery point are whole; from here on,
		 * damage is an unsynced tail */
		*pos = w.pos;
		*prev = pl;
		kseg_walk_free(&w);
		return 1;
	}
	if (r == 0) {
		/* the segment ends before rp */
		*pos = w.pos;
		*prev = pl;
		kseg_walk_free(&w);
		if (si + 1 == p->nseg && pl == rp - 1)
			return 1;
		/* compacted: what followed up to rp may have been removed, in
		 * this segment or (a sealed one) up to its end */
		if (p->cfg.compact && pl != KSEG_UNKNOWN && pl < rp)
			return 1;
		if (pl == KSEG_UNKNOWN)
			return 0;
		kmsgf(msg, mn, "the log ends at offset %" PRId64 ", below the recovery point %" PRId64
		    ": synced data is missing", pl + 1, rp);
		*bad = w.pos;
		return 0;
	}
	if (r == -2) {
		kseg_walk_free(&w);
		return -1;
	}
	if (r == -1 && msg != w.msg && !*msg)
		kmsgf(msg, mn, "%s", w.msg);
	if (*bad < 0)
		*bad = w.pos;
	kseg_walk_free(&w);
	return 0;
}

static int
reach(struct klog_part *p, size_t si, int64_t rp, int64_t *pos, int64_t *prev, char *err)
{
	struct seg *s = &p->segs[si];
	char msg[KLOG_ERRLEN], e[KLOG_ERRLEN];
	int64_t from, bad = -1;
	int r;

	if (kp_seg_open(p, s, err) < 0)
		return -1;
	if (rp <= s->base) {
		*pos = 0;
		*prev = s->base - 1;
		return 0;
	}
	from = kp_index_pos(p, s, rp - 1);
	msg[0] = 0;
	if ((r = reach_from(p, si, rp, from, pos, prev, msg, sizeof msg, &bad)) == 0 && from > 0) {
		msg[0] = 0;
		bad = -1;
		r = reach_from(p, si, rp, 0, pos, prev, msg, sizeof msg, &bad);
	}
	if (r < 0)
		return kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", p->name, s->base);
	if (r == 0) {
		if (!strstr(msg, "recovery point"))
			kmsgf(e, sizeof e, "%s, below the recovery point %" PRId64 " (synced data); "
			    "nothing was cut: 'kdump --repair %s' moves it aside", msg, rp, p->name);
		else
			kmsgf(e, sizeof e, "%s; nothing was cut: 'kdump --repair %s' accepts the loss",
			    msg, p->name);
		return kp_damage(p, s, bad, e, err);
	}
	return 0;
}

/*
 * Walk bytes [w->pos, end) of segment i (w initialised there), each batch
 * checked against its neighbours and, with full, validated whole; note the
 * segment's largest timestamp (and the first batch's, for segment.ms).
 * *prev: the last offset before, then of the last good batch.  Returns
 * kseg_walk_next's last answer: 0 the end, -1 bad or incomplete bytes at
 * w->pos (w->msg, and w->b as far as its header went), -2 a read error.
 */
static int
walk_checked(struct klog_part *p, size_t i, struct kseg_walk *w, int full, int64_t *prev)
{
	struct seg *s = &p->segs[i];
	char msg[KLOG_ERRLEN];
	int r;

	while ((r = kseg_walk_next(w)) == 1) {
		if (kseg_check_next(&w->b, s->base, *prev, kp_limit(p, i), p->cfg.compact, msg,
		    sizeof msg) < 0 || (full && kp_validate(p, w->p, &w->b, msg) < 0)) {
			snprintf(w->msg, sizeof w->msg, "%s", msg);
			return -1;
		}
		if (w->b.max_timestamp > s->max_ts) {
			s->max_ts = w->b.max_timestamp;
			s->max_ts_off = klog_batch_last(&w->b);
		}
		if (w->pos == 0 && i + 1 == p->nseg)
			p->first_ts = w->b.max_timestamp;
		*prev = klog_batch_last(&w->b);
		kseg_walk_skip(w);
	}
	return r;
}

/*
 * Step 2: validate from byte pos of segment si (*prevp: the last offset
 * before it) to the end of the log, cutting at the first damage.  Sets
 * each segment's size, and *prevp to the last offset kept.
 */
static int
validate_tail(struct klog_part *p, size_t si, int64_t pos, int64_t *prevp, char *err)
{
	int64_t prev = *prevp;
	int rc = 0;
	char msg[KLOG_ERRLEN], why[KLOG_ERRLEN + 64];
	struct kseg_walk w;
	size_t i;
	int r;

	for (i = si; i < p->nseg; i++) {
		struct seg *s = &p->segs[i];
		struct stat st;
		if (kp_seg_open(p, s, err) < 0)
			return -1;
		if (fstat(s->fd, &st) < 0)
			return kerr_sys(err, "partition '%s': segment '" SEG_FMT ".log'", p->name, s->base);
		s->size = st.st_size;
		if (i > si && prev != KSEG_UNKNOWN && kseg_check_end(p->segs[i - 1].base, prev,
		    s->base, p->cfg.compact, msg, sizeof msg) < 0) {
			/* the segment before ends short: the rest cannot follow it */
			kmsgf(why, sizeof why, "an unsynced, damaged tail: segment '" SEG_FMT ".log': %s",
			    p->segs[i - 1].base, msg);
			rc = cut_tail(p, i - 1, p->segs[i - 1].size, why, err);
			break;
		}
		if (prev < s->base - 1)
			prev = s->base - 1;     /* compacted: offsets resume at the base */
		kseg_walk_init(&w, s->fd, pos, s->size);
		r = walk_checked(p, i, &w, 1, &prev);
		if (r == -2) {
			kseg_walk_free(&w);
			return kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", p->name, s->base);
		}
		if (r == -1) {
			kmsgf(why, sizeof why, "an unsynced, damaged tail: %s", w.msg);
			rc = cut_tail(p, i, w.pos, why, err);
			kseg_walk_free(&w);
			break;
		}
		kseg_walk_free(&w);
		s->verified = pos == 0 ? s->size : 0;
		pos = 0;
	}
	*prevp = prev;
	return rc;
}

/* rewrite the indexes of a sealed segment (atomically) */
static int
rebuild_sealed(struct klog_part *p, struct seg *s, char *err)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/%s", klog_dir_path(p->d), p->name);
	return kindex_rebuild(dir, s->base, p->cfg.index_interval_bytes, s->fd, s->size, 1, NULL,
	    err);
}

/* rebuild the active segment's indexes from its batches */
static int
rebuild_active(struct klog_part *p, char *err)
{
	struct seg *s = kp_active(p);
	struct kindex_builder ib;

	if (kindex_build(&ib, s->base, p->cfg.index_interval_bytes, s->fd, s->size, 0, err) < 0)
		return -1;
	if (ftruncate(p->ifd, 0) < 0 || ftruncate(p->tfd, 0) < 0 ||
	    (ib.ix.len && write(p->ifd, ib.ix.data, ib.ix.len) != (ssize_t)ib.ix.len) ||
	    (ib.tx.len && write(p->tfd, ib.tx.data, ib.tx.len) != (ssize_t)ib.tx.len)) {
		kindex_builder_free(&ib);
		return kerr_sys(err, "cannot rebuild the indexes of '%s'", p->name);
	}
	p->ientries = ib.entries;
	p->tlast_ts = ib.last_ts;
	p->since_index = ib.since;
	kindex_builder_free(&ib);
	kinfo("partition '%s': rebuilt the indexes of segment " SEG_FMT " (%" PRId64 " entries)",
	    p->name, s->base, p->ientries);
	return 0;
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
	if (fstat(p->ifd, &st) == 0 && st.st_size != keep * 8 && ftruncate(p->ifd, keep * 8) < 0)
		return kerr_sys(err, "cannot truncate index of '%s'", p->name);
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
	p->since_index = s->size;
	if (p->ientries > 0 && kindex_entry(p->ifd, 0, p->ientries - 1, s->base, &ie) == 0)
		p->since_index = s->size - ie.position;
	return 0;
}

/*
 * After a crash the active segment's index may hold garbage past the
 * recovery point (it was not synced either): every entry at or after byte
 * from must point at a batch that starts at or before its offset, inside
 * the log.  Entries past the end are trimmed anyway.
 */
static int
index_tail_ok(struct klog_part *p, struct seg *s, int64_t from)
{
	struct klog_index_entry ie;
	struct klog_batch b;
	char e[KLOG_ERRLEN];
	int64_t n, i;

	n = kindex_count(p->ifd, 0);
	for (i = n; i-- > 0;) {
		if (kindex_entry(p->ifd, 0, i, s->base, &ie) < 0)
			return 0;
		if (ie.position >= s->size || ie.offset >= p->end)
			continue;       /* trimmed */
		if (ie.position < from)
			break;
		if (kp_hdr_at(s->fd, ie.position, s->size, &b, e) != 1 || b.base_offset > ie.offset ||
		    klog_batch_last(&b) < ie.offset || ie.offset < s->base)
			return 0;
	}
	return 1;
}

/* the log end after the last batch (prev), or the active segment's base */
static void
set_end(struct klog_part *p, int64_t prev)
{
	struct seg *a = kp_active(p);

	p->end = prev >= a->base ? prev + 1 : a->base;
}

/* steps 1 to 3 */
static int
recover(struct klog_part *p, char *err)
{
	int64_t rp = recovery_point(p), pos, prev;
	size_t si, i;
	struct seg *a;
	struct klog_batch b;
	char e[KLOG_ERRLEN];

	if (rp >= 0)
		p->rp_written = rp;
	if (rp < p->segs[0].base)
		rp = p->segs[0].base;
	si = kp_find_seg(p, rp);
	p->cut = 0;
	if (reach(p, si, rp, &pos, &prev, err) < 0 || validate_tail(p, si, pos, &prev, err) < 0)
		return -1;
	a = kp_active(p);
	set_end(p, prev);
	if (kp_open_indexes(p, a, err) < 0)
		return -1;
	/* step 3 */
	for (i = si; i + 1 < p->nseg; i++)
		if ((i > si || pos < p->segs[i].size || p->cut) && rebuild_sealed(p, &p->segs[i], err) < 0)
			return -1;
	if (si + 1 < p->nseg || p->cut || p->index_missing || !index_tail_ok(p, a, pos)) {
		if (rebuild_active(p, err) < 0)
			return -1;
	} else if (trim_indexes(p, a, err) < 0)
		return -1;
	if (a->size > 0 && kp_hdr_at(a->fd, 0, a->size, &b, e) == 1)
		p->first_ts = b.max_timestamp;
	return 0;
}

/* --- readers, and writers catching up with other writers ------------------ */

/*
 * Walk the active segment's headers from pos (prev: the last offset
 * before, KSEG_UNKNOWN after an index hint) to find the end of the log.
 * A writer checks everything (other writers' appends) and cuts what fails;
 * a reader stops before an incomplete batch, and before damage, which it
 * remembers for the read that reaches it.
 */
static int
scan_active(struct klog_part *p, int64_t pos, int64_t prev, int writer, char *err)
{
	struct seg *s = kp_active(p);
	struct kseg_walk w;
	struct stat st;
	int r;

	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	kseg_walk_init(&w, s->fd, pos, st.st_size);
	r = walk_checked(p, p->nseg - 1, &w, writer, &prev);
	s->size = w.pos;
	kseg_walk_free(&w);
	if (r == -2)
		return kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", p->name, s->base);
	if (prev != KSEG_UNKNOWN)
		set_end(p, prev);
	p->damage_pos = -1;
	if (r == 0)
		return 0;
	if (writer) {
		char why[KLOG_ERRLEN + 32];
		kmsgf(why, sizeof why, "an unsynced, damaged tail: %s", w.msg);
		if (cut_tail(p, p->nseg - 1, w.pos, why, err) < 0)
			return -1;
		p->cut = 1;
		return 1;
	}
	/* an incomplete last batch is a write in progress; damage is remembered */
	if (strncmp(w.msg, "incomplete batch", 16) ||
	    kp_length_lies(p, s, w.pos, &w.b, st.st_size)) {
		p->damage_pos = w.pos;
		snprintf(p->damage, sizeof p->damage, "%s", w.msg);
	}
	return 0;
}

/*
 * An incomplete last batch is a write in progress or a torn one -- or a
 * batchLength that lies (it is not under the CRC).  It lies if the bytes
 * up to the end of the file are a whole batch (its CRC matches them), or
 * if the batch that should follow it, starting at its last offset + 1, is
 * there before its claimed end, whole and CRC-valid.
 */
int
kp_length_lies(struct klog_part *p, struct seg *s, int64_t pos, const struct klog_batch *b,
    int64_t size)
{
	struct klog_buf buf = { 0 };
	struct klog_batch x;
	int64_t next, to;
	size_t n, q;
	int found = 0;

	if (kseg_batch_last(b, &next) < 0 || next == INT64_MAX)
		return 0;
	next++;
	to = pos + (int64_t)klog_batch_size(b) < size ? pos + (int64_t)klog_batch_size(b) : size;
	if (to - pos <= KLOG_BATCH_OVERHEAD || to - pos > (int64_t)16 << 20)
		return 0;
	n = (size_t)(to - pos - KLOG_BATCH_OVERHEAD);
	if (klog_buf_reserve(&buf, n) < 0 || pread(s->fd, buf.data, n, pos + KLOG_BATCH_OVERHEAD) !=
	    (ssize_t)n) {
		klog_buf_free(&buf);
		return 0;
	}
	if (to == size) {
		unsigned char h[KLOG_BATCH_OVERHEAD];
		if (pread(s->fd, h, sizeof h, pos) == (ssize_t)sizeof h)
			found = klog_crc32c(klog_crc32c(0, h + 21, sizeof h - 21), buf.data, n) == b->crc;
	}
	for (q = 0; q + KLOG_BATCH_OVERHEAD <= n && !found; q++)
		found = buf.data[q + 16] == 2 && (int64_t)get64(buf.data + q) == next &&
		    klog_batch_parse(buf.data + q, n - q, &x, NULL) == 1 &&
		    klog_batch_verify(buf.data + q, &x, NULL) == 0;
	klog_buf_free(&buf);
	return found;
}

/* a reader's first look: the end of the log, from the last index entry */
static int
reader_end(struct klog_part *p, char *err)
{
	struct seg *a = kp_active(p);
	int64_t pos;

	if (kp_seg_open(p, a, err) < 0)
		return -1;
	pos = kp_index_pos(p, a, INT64_MAX);
	p->end = a->base;
	return scan_active(p, pos, pos == 0 ? a->base - 1 : KSEG_UNKNOWN, 0, err);
}

/* bring the view of the log end up to date (readers and writers) */
int
kp_refresh(struct klog_part *p, int writer, char *err)
{
	struct seg *s;
	struct stat st;
	char nm[KSEG_NAMELEN];
	int reloaded = 0, r;

again:
	if (p->dfd < 0) {
		/* a partition whose directory is not made yet (topic.c) */
		if ((p->dfd = openat(p->d->fd, p->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			if (errno != ENOENT)
				return kerr_sys(err, "cannot open partition '%s'", p->name);
			if (kp_dir_missing(p, err) < 0)
				return -1;
			p->end = p->start_empty;
			return 0;
		}
		if (p->held && kp_lock_ex(p->dfd) < 0)  /* a broker's: its lock as ever */
			return kerr_sys(err, "cannot lock partition '%s'", p->name);
	}
	if (!p->nseg) {
		if (load_segments(p, err) < 0)
			return -1;
		if (!p->nseg) {
			p->end = p->start_empty;
			return 0;
		}
		reloaded = 1;
		p->rseg = SIZE_MAX;
		if (writer) {
			/* segments a writer finds may have names not yet durable */
			p->dir_dirty = 1;
			return recover(p, err);
		}
		return reader_end(p, err);
	}
	s = kp_active(p);
	if (fstat(s->fd, &st) < 0)
		return kerr_sys(err, "segment of '%s'", p->name);
	if (st.st_nlink == 0)
		goto reload;
	if (st.st_size != s->size) {
		if (st.st_size < s->size)   /* cut by another writer's recovery */
			goto reload;
		if ((r = scan_active(p, s->size, p->end - 1 >= s->base ? p->end - 1 : s->base - 1,
		    writer, err)) < 0)
			return -1;
		if (writer) {
			p->ientries = kindex_count(p->ifd, 0);
			if ((r || p->index_missing) ? rebuild_active(p, err) < 0 : trim_indexes(p, s, err) < 0)
				return -1;
		}
	}
	/* a roll by someone else creates the segment named by our end offset */
	kseg_name(nm, sizeof nm, p->end, ".log");
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
