/* klog - making a partition durable: syncs, the failed state, recovery to the synced point. MIT licence. */
/*
 * A partition's data is durable when its segment files are fdatasynced
 * and the name of every segment is durable in the partition directory
 * (the directory fsynced after the segment was created).  synced_end is
 * the offset below which everything is; a broker shows consumers no more
 * than that (under --fsync always) and acknowledges nothing past it.
 *
 * A sync is three steps (see internal.h), so that kbrokerd can run the
 * slow middle one in its sync thread while the event loop goes on:
 *
 *   kpart_sync_prepare  takes dups of the active segment's .log (when it
 *                       was written since the last sync) and, with
 *                       KSYNC_INDEXES, of its .index and .timeindex; the
 *                       files of segments rolled since (roll() hands them
 *                       over instead of syncing inline in a broker); and
 *                       the directory when a segment was created or
 *                       deleted.  It notes the log end they cover.
 *   ksync_run           fdatasyncs files, fsyncs directories, closes all.
 *   kpart_sync_done     moves synced_end to the noted end, or fails the
 *                       partition.
 *
 * Fail-stop.  After a failed fsync the kernel may have dropped the dirty
 * pages or marked them clean, so the page cache no longer says what is on
 * the disk and a later fsync that succeeds proves nothing.  A failed sync
 * therefore fails the partition: appends are refused with the first error
 * (errno EIO) until klog_part_recover(), which cuts everything past the
 * last successful sync into <segment>.log.damaged (never dropped: it may
 * well be on the disk), syncs the cut, and makes the partition writable
 * again.  Reads of what was synced go on.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partition.h"

int
ksync_add(struct ksync *s, int fd, int dir, const char *name)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct ksync_fd *v = realloc(s->v, nc * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n].fd = fd;
	s->v[s->n].dir = dir;
	snprintf(s->v[s->n].name, sizeof s->v[s->n].name, "%s", name);
	s->n++;
	return 0;
}

/* a dup of fd into s; -1 (errno) if it cannot be had */
static int
add_dup(struct ksync *s, int fd, int dir, const char *name)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d < 0)
		return -1;
	if (ksync_add(s, d, dir, name) < 0) {
		close(d);
		return -1;
	}
	return 0;
}

void
ksync_free(struct ksync *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].fd >= 0)
			close(s->v[i].fd);
	free(s->v);
	memset(s, 0, sizeof *s);
}

void
ksync_run(struct ksync *s)
{
	size_t i;

	s->err = 0;
	for (i = 0; i < s->n; i++) {
		int fd = s->v[i].fd, r = 0;
		if (!s->err) {
			if (s->v[i].dir) {
				/* some file systems cannot sync a directory: nothing to do then */
				if ((r = fsync(fd)) < 0 && errno == EINVAL)
					r = 0;
			} else
				r = fdatasync(fd);
			if (r < 0) {
				s->err = errno;
				s->failed = i;
			}
		}
		close(fd);
		s->v[i].fd = -1;
	}
}

int
kp_fail(struct klog_part *p, const char *fmt, ...)
{
	va_list ap;

	/* said by whoever gets the error (kproduce, the broker's log), once */
	if (!p->failed) {
		p->failed = 1;
		va_start(ap, fmt);
		vsnprintf(p->failmsg, sizeof p->failmsg, fmt, ap);
		va_end(ap);
	}
	errno = EIO;
	return -1;
}

int
kpart_sync_prepare(struct klog_part *p, struct ksync *s, int flags, char *err)
{
	struct seg *a = kp_active(p);
	char nm[64];
	size_t keep;

	memset(s, 0, sizeof *s);
	if (p->failed) {
		errno = EIO;
		return kerr(err, "%s", p->failmsg);
	}
	if (!(p->flags & KLOG_WRITE))
		return 0;
	/* the rolled segments' files become the job's (with the end they make
	 * durable: the base of the segment after the last one rolled) */
	*s = p->pend;
	memset(&p->pend, 0, sizeof p->pend);
	keep = s->n;
	if (a && !(flags & KSYNC_PENDING) && (p->dirty || (flags & KSYNC_INDEXES))) {
		kseg_name(nm, sizeof nm, a->base, ".log");
		if (a->fd >= 0 && add_dup(s, a->fd, 0, nm) < 0)
			goto nofd;
		if (flags & KSYNC_INDEXES) {
			kseg_name(nm, sizeof nm, a->base, ".index");
			if (p->ifd >= 0 && add_dup(s, p->ifd, 0, nm) < 0)
				goto nofd;
			kseg_name(nm, sizeof nm, a->base, ".timeindex");
			if (p->tfd >= 0 && add_dup(s, p->tfd, 0, nm) < 0)
				goto nofd;
		}
	}
	if (p->dir_dirty && add_dup(s, p->dfd, 1, "directory") < 0)
		goto nofd;
	if (!(flags & KSYNC_PENDING)) {
		s->end = p->end;
		s->seg_base = a ? a->base : -1;
		s->seg_size = a ? a->size : 0;
	} else if (!keep) {
		s->end = p->synced_end;
		s->seg_base = p->synced_base;
		s->seg_size = p->synced_size;
	}
	if (!(flags & KSYNC_PENDING))
		p->dirty = 0;
	p->dir_dirty = 0;
	s->cuts = p->cuts;
	return (int)s->n;
nofd:
	/* out of descriptors: give the rolled files back, try again later */
	kerr_sys(err, "partition '%s': cannot sync", p->name);
	while (s->n > keep)
		close(s->v[--s->n].fd);
	p->pend = *s;
	memset(s, 0, sizeof *s);
	return -1;
}

int
kpart_sync_done(struct klog_part *p, struct ksync *s, char *err)
{
	int rc = 0;

	if (s->err) {
		kp_fail(p, "partition '%s' failed: cannot sync '%s': %s; not writable until "
		    "recovered", p->name, s->v[s->failed].name, strerror(s->err));
		rc = kerr(err, "%s", p->failmsg);
		errno = EIO;
	} else if (!p->failed && s->end > p->synced_end && s->cuts == p->cuts) {
		p->synced_end = s->end;
		p->synced_base = s->seg_base;
		p->synced_size = s->seg_size;
	}
	ksync_free(s);
	return rc;
}

/* the files of rolled segments, now (a writer that is not a broker) */
int
kp_sync_pending(struct klog_part *p, char *err)
{
	struct ksync s;

	if (kpart_sync_prepare(p, &s, KSYNC_PENDING, err) <= 0)
		return p->failed ? -1 : 0;
	ksync_run(&s);
	return kpart_sync_done(p, &s, err);
}

int
klog_part_sync(struct klog_part *p, char *err)
{
	struct ksync s;
	int n;

	if ((n = kpart_sync_prepare(p, &s, KSYNC_INDEXES, err)) < 0)
		return -1;
	if (n == 0) {
		if (!kp_active(p))
			p->synced_end = p->end;         /* an empty log */
		return 0;
	}
	ksync_run(&s);
	return kpart_sync_done(p, &s, err);
}

/* anything written, rolled or created that a sync would make durable */
int
kpart_needs_sync(const struct klog_part *p)
{
	return !p->failed && (p->dirty || p->dir_dirty || p->pend.n || p->synced_end != p->end);
}

int64_t
kpart_synced_end(const struct klog_part *p)
{
	return p->synced_end;
}

const char *
klog_part_failed(const struct klog_part *p)
{
	return p->failed ? p->failmsg : NULL;
}

int
kpart_take_log_start(struct klog_part *p, int64_t *off)
{
	int64_t start = p->nseg ? p->segs[0].base : p->start_empty;

	if (start == p->start_noted)
		return 0;
	*off = p->start_noted = start;
	return 1;
}

int
kpart_take_recovery_point(struct klog_part *p, int64_t *off)
{
	if (!kpart_rp_stale(p))
		return 0;
	*off = p->rp_written = p->synced_end;
	return 1;
}

int
kpart_rp_stale(const struct klog_part *p)
{
	return !p->failed && p->synced_end != p->rp_written;
}

int
kpart_idle(const struct klog_part *p, int64_t *rp)
{
	if (p->failed || p->dirty || p->dir_dirty || p->pend.n || p->synced_end != p->end)
		return 0;
	*rp = p->nseg && p->rp_written != p->synced_end ? p->synced_end : -1;
	return 1;
}

void
kpart_recorded_recovery_point(struct klog_part *p, int64_t off)
{
	p->rp_written = off;
}

int
klog_part_recover(struct klog_part *p, struct klog_buf *report, char *err)
{
	int64_t base = p->synced_base, size = p->synced_size, before = p->end;
	char why[64], said[KLOG_ERRLEN];
	size_t i;
	int rc = -1;

	if (!p->failed) {
		if (report)
			klog_buf_printf(report, "partition '%s': not failed, nothing to recover\n", p->name);
		return 0;
	}
	if (!p->held && kp_lock_ex(p->dfd) < 0)
		return kerr_sys(err, "cannot lock partition '%s'", p->name);
	/* nothing synced since open: the first segment, from its start */
	if (base < 0 && p->nseg) {
		base = p->segs[0].base;
		size = 0;
	}
	for (i = 0; i < p->nseg && p->segs[i].base != base; i++)
		;
	if (i == p->nseg && p->nseg && base < p->segs[0].base) {
		i = 0;          /* retention took the segment: all that is left is unsynced */
		size = 0;
	}
	snprintf(why, sizeof why, "written after the last good sync");
	said[0] = 0;
	if (i < p->nseg && kp_cut(p, i, size, why, said, err) < 0)
		goto out;
	if (fsync(p->dfd) < 0 && errno != EINVAL) {
		kerr_sys(err, "partition '%s': cannot sync the directory", p->name);
		goto out;
	}
	/* start over from the files */
	ksync_free(&p->pend);
	kp_segs_free(p);
	p->failed = 0;
	p->failmsg[0] = 0;
	p->dirty = p->dir_dirty = 0;
	p->first_ts = INT64_MIN;
	if (kp_refresh(p, 1, err) < 0) {
		kp_fail(p, "partition '%s' failed: %s", p->name, err);
		goto out;
	}
	p->synced_end = p->end;
	p->synced_base = kp_active(p) ? kp_active(p)->base : -1;
	p->synced_size = kp_active(p) ? kp_active(p)->size : 0;
	kp_epoch_log_moved(p);
	if (report)
		klog_buf_printf(report, "%s%s%" PRId64 " record%s cut, the log ends at offset %" PRId64
		    "\n", *said ? said : "", *said ? "; " : "", before - p->end,
		    before - p->end == 1 ? "" : "s", p->end);
	rc = 0;
out:
	if (!p->held)
		flock(p->dfd, LOCK_UN);
	return rc;
}
