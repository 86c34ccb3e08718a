/* klog - one partition: open, append, roll, retention, close. MIT licence. */
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

/*
 * What a writer finds past the last recovery point may never have been
 * synced -- a writer that died before its sync, or a segment whose name
 * was never made durable in the directory -- and must be before anything
 * is acknowledged on top of it.  A log that ends at its recovery point
 * (the previous writer closed cleanly) needs nothing.
 */
static int
sync_found(struct klog_part *p, char *err)
{
	struct seg *a = kp_active(p);

	if (!a || p->end == p->rp_written) {
		p->dir_dirty = 0;       /* a clean close synced the names too */
		p->synced_end = p->end;
		p->synced_base = a ? a->base : -1;
		p->synced_size = a ? a->size : 0;
		return 0;
	}
	p->dirty = p->dir_dirty = 1;
	return klog_part_sync(p, err);
}

/* a partition directory made at the first write (one added by alter in a
 * directory we only now write, or a broker's): its name is durable before
 * anything is written in it; a broker holds its lock from then on */
int
kp_make_dir(struct klog_part *p, char *err)
{
	if (mkdirat(p->d->fd, p->name, 0755) < 0 && errno != EEXIST)
		return kerr_sys(err, "cannot create partition '%s'", p->name);
	if (klog_fsync_dir(klog_dir_path(p->d), err) < 0)
		return -1;
	if ((p->dfd = openat(p->d->fd, p->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open partition '%s'", p->name);
	if (p->held && kp_lock_ex(p->dfd) < 0)
		return kerr_sys(err, "cannot lock partition '%s'", p->name);
	return 0;
}

/* a partition directory that is not there reads as empty only if nothing
 * was ever made durable in it: a recovery point past its log start says
 * records were (the directory was removed by hand), and they are lost */
int
kp_dir_missing(struct klog_part *p, char *err)
{
	int64_t rp, start = 0;

	klog_ckpt_get(p->d, "log-start-offset-checkpoint", p->topic, p->partition, &start);
	if (klog_ckpt_get(p->d, "recovery-point-offset-checkpoint", p->topic, p->partition, &rp) &&
	    rp > start) {
		errno = EILSEQ;
		return kerr(err, "partition '%s': directory missing, but "
		    "recovery-point-offset-checkpoint records offsets up to %" PRId64 " in it: "
		    "records lost", p->name, rp);
	}
	return 0;
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
	p->dfd = p->ifd = p->tfd = p->ino = -1;
	p->first_ts = INT64_MIN;
	p->synced_base = p->rp_written = -1;
	p->rseg = SIZE_MAX;
	p->damage_pos = -1;
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
	if (p->dfd < 0 && errno == ENOENT && (flags & KLOG_BROKER)) {
		/* never written (a broker's big topic, topic.c): a broker
		 * makes the directory at the first append, not to read */
		if (access(klog_dir_path(d), W_OK) < 0) {
			kerr_sys(err, "cannot write partition '%s'", p->name);
			goto fail;
		}
		if (kp_dir_missing(p, err) < 0)
			goto fail;
		klog_ckpt_get(d, "log-start-offset-checkpoint", topic, partition, &p->start_empty);
		p->start_noted = p->start_empty;
		p->end = p->synced_end = p->start_empty;
		p->held = 1;
		return p;
	}
	if (p->dfd < 0 && errno == ENOENT) {
		if (kp_dir_missing(p, err) < 0)
			goto fail;
		/* not written yet: a broker makes a big topic's directories at
		 * their first write (topic.c); empty until then */
		if (!(flags & KLOG_WRITE))
			return p;
		if (kp_make_dir(p, err) < 0)
			goto fail;
	}
	if (p->dfd < 0) {
		kerr_sys(err, "cannot open partition '%s'", p->name);
		goto fail;
	}
	if (flags & KLOG_WRITE) {
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
		klog_ckpt_get(d, "log-start-offset-checkpoint", topic, partition, &p->start_empty);
		p->start_noted = p->start_empty;
		if (kp_lock_ex(p->dfd) < 0) {
			kerr_sys(err, "cannot lock partition '%s'", p->name);
			goto fail;
		}
		if (kcompact_leftovers(p, err) < 0 ||
		    kp_refresh(p, 1, err) < 0 || klog_part_retention(p, klog_now_ms(), err) < 0 ||
		    sync_found(p, err) < 0) {
			flock(p->dfd, LOCK_UN);
			goto fail;
		}
		/* a broker is the directory's only writer: it keeps the lock
		 * while the partition is open, and needs no catching up */
		if (flags & KLOG_BROKER)
			p->held = 1;
		else
			flock(p->dfd, LOCK_UN);
		kp_trim_tmp(p);
	} else if (kp_refresh(p, 0, err) < 0)
		goto fail;
	return p;
fail:
	{
		int e = errno;
		kpart_discard(p);
		errno = e;
	}
	return NULL;
}

static int
update_ckpt(struct klog_part *p, const char *file, int64_t off, char *err)
{
	return klog_ckpt_update(p->d, file, p->topic, p->partition, off, err);
}

void
klog_part_close(struct klog_part *p)
{
	char e[KLOG_ERRLEN];
	int64_t rp;

	if (!p)
		return;
	/* a failed partition: what followed the last good sync may or may not
	 * be on the disk (its pages may have been dropped), and must not be
	 * taken for synced by the next writer: it goes into .damaged now */
	if ((p->flags & KLOG_WRITE) && p->failed && p->dfd >= 0) {
		struct klog_buf report = { 0 };
		if (klog_part_recover(p, &report, e) < 0)
			kwarn("partition '%s': what was written after the failed sync could not be "
			    "cut into .damaged (%.300s): the next writer will keep it", p->name, e);
		else if (report.len)
			kwarn("%.*s", (int)report.len - 1, (char *)report.data);
		klog_buf_free(&report);
	}
	if ((p->flags & KLOG_WRITE) && !p->failed && p->dfd >= 0 && kp_lock_ex(p->dfd) == 0) {
		/* a failure here is reported as a warning; callers that must
		 * know (kproduce's exit status) call klog_part_sync first */
		if ((p->dirty || p->dir_dirty || p->pend.n) &&
		    (kp_refresh(p, 1, e) < 0 || klog_part_sync(p, e) < 0))
			kwarn("%s", e);
		if (kpart_take_recovery_point(p, &rp) &&
		    update_ckpt(p, "recovery-point-offset-checkpoint", rp, e) < 0)
			kwarn("%s", e);
		if (!p->failed && klog_part_retention(p, klog_now_ms(), e) < 0)
			kwarn("%s", e);
		flock(p->dfd, LOCK_UN);
	}
	ksync_free(&p->pend);
	kp_segs_free(p);
	if (p->dfd >= 0)
		close(p->dfd);
	if (p->ino >= 0)
		close(p->ino);
	klog_buf_free(&p->tmp);
	klog_rec_iter_free(&p->it);
	free(p->epochs);
	free(p);
}

/* a changed topic configuration, for a partition that stays open */
void
kpart_set_config(struct klog_part *p, const struct klog_config *c)
{
	p->cfg = *c;
}

/* close without syncing or recording anything (its topic is being deleted,
 * or it never opened properly) */
void
kpart_discard(struct klog_part *p)
{
	if (!p)
		return;
	p->flags &= ~KLOG_WRITE;
	klog_part_close(p);
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

	if (kp_refresh(p, 0, err) < 0)
		return -1;
	info->log_start = p->nseg ? p->segs[0].base : p->end;
	info->log_end = p->end;
	snprintf(info->state, sizeof info->state, "%s", p->failed ? "failed" : "online");
	info->segments = (int)p->nseg;
	info->bytes = 0;
	for (i = 0; i < p->nseg; i++) {
		struct stat st;
		char nm[64];
		kseg_name(nm, sizeof nm, p->segs[i].base, ".log");
		if (fstatat(p->dfd, nm, &st, 0) == 0)
			info->bytes += st.st_size;
	}
	return 0;
}

/*
 * A new active segment: its three files are opened before anything of the
 * old one is let go, so a roll that fails (EMFILE, ENOSPC) leaves the
 * partition writable on the old segment and no half-made files behind.
 * Its name becomes durable with the next sync (dir_dirty), before any
 * acknowledgement of what is written in it.
 */
static int
create_segment(struct klog_part *p, int64_t base, char *err)
{
	static const char *const suf[3] = { ".log", ".index", ".timeindex" };
	int fd[3] = { -1, -1, -1 }, made[3] = { 0, 0, 0 }, i;
	struct seg *n;
	char nm[64];

	for (i = 0; i < 3; i++) {
		kseg_name(nm, sizeof nm, base, suf[i]);
		made[i] = faccessat(p->dfd, nm, F_OK, 0) < 0;
		fd[i] = openat(p->dfd, nm, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd[i] < 0 || (i > 0 && ftruncate(fd[i], 0) < 0)) {
			kerr_sys(err, "cannot create segment '%s/%s'", p->name, nm);
			goto undo;
		}
	}
	if (!(n = realloc(p->segs, (p->nseg + 1) * sizeof *n))) {
		kerr_sys(err, "partition '%s'", p->name);
		goto undo;
	}
	p->segs = n;
	p->segs[p->nseg++] = (struct seg){ base, 0, INT64_MIN, base, fd[0], 0 };
	p->ifd = fd[1];
	p->tfd = fd[2];
	p->ientries = 0;
	p->tlast_ts = INT64_MIN;
	p->since_index = 0;
	p->first_ts = INT64_MIN;
	p->dir_dirty = 1;
	p->index_missing = 0;
	return 0;
undo:
	for (i = 0; i < 3; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		kseg_name(nm, sizeof nm, base, suf[i]);
		if (made[i])
			unlinkat(p->dfd, nm, 0);
	}
	return -1;
}

/*
 * Seal the active segment and start the next.  The sealed segment's files
 * must reach the disk before its successor's data counts: a broker hands
 * them to its next sync (with the directory), anyone else syncs them now.
 */
static int
roll(struct klog_part *p, char *err)
{
	struct seg *s = kp_active(p);
	int64_t base = s->base, max_ts = s->max_ts, max_ts_off = s->max_ts_off, tlast = p->tlast_ts;
	int ifd = p->ifd, tfd = p->tfd, lfd;
	char nm[3][64];

	kseg_name(nm[0], sizeof nm[0], base, ".log");
	kseg_name(nm[1], sizeof nm[1], base, ".index");
	kseg_name(nm[2], sizeof nm[2], base, ".timeindex");
	if ((lfd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return kerr_sys(err, "cannot roll partition '%s'", p->name);
	p->ifd = p->tfd = -1;
	if (create_segment(p, p->end, err) < 0) {       /* moves p->segs */
		close(lfd);
		p->ifd = ifd;
		p->tfd = tfd;
		p->tlast_ts = tlast;
		return -1;
	}
	/* the sealed segment's last time entry, once the roll cannot fail */
	if (max_ts != INT64_MIN && max_ts > tlast &&
	    kindex_append(tfd, 1, base, max_ts_off, max_ts) < 0)
		kwarn("partition '%s': cannot write the last time index entry of segment '%s': %s",
		    p->name, nm[0], strerror(errno));
	if (ksync_add(&p->pend, lfd, 0, nm[0]) < 0 || ksync_add(&p->pend, ifd, 0, nm[1]) < 0 ||
	    ksync_add(&p->pend, tfd, 0, nm[2]) < 0) {
		kp_fail(p, "partition '%s' failed: out of memory sealing segment '%s'", p->name,
		    nm[0]);
		return kerr(err, "%s", p->failmsg);
	}
	/* once these are synced the log is durable to the new segment's base */
	p->pend.end = p->end;
	p->pend.seg_base = p->end;
	p->pend.seg_size = 0;
	if (p->cfg.compact && !(p->flags & KLOG_BROKER))
		p->compact_due = 1;
	if (!(p->flags & KLOG_BROKER))
		return kp_sync_pending(p, err);
	return 0;
}

/* Kafka's rule: segment.ms counts from the first batch's timestamp to the
 * incoming one, so replaying old data does not roll on every append */
static int
should_roll(struct klog_part *p, size_t len, int64_t last_delta, int64_t in_ts)
{
	struct seg *s = kp_active(p);

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

/*
 * The writer's view, before a write: the lock taken and the view brought
 * up to date by a writer that is not a broker, the directory of a broker's
 * never-written partition made.  kp_write_end lets go of what this took.
 */
int
kp_write_begin(struct klog_part *p, char *err)
{
	if (!p->held) {
		if (kp_lock_ex(p->dfd) < 0)
			return kerr_sys(err, "cannot lock partition '%s'", p->name);
		if (kp_refresh(p, 1, err) < 0)
			return -1;
	}
	if (p->dfd < 0)         /* a broker's first write here (klog_part_open) */
		return kp_make_dir(p, err);
	return 0;
}

void
kp_write_end(struct klog_part *p, int rc)
{
	if (!p->held)
		flock(p->dfd, LOCK_UN);
	if (p->compact_due) {
		p->compact_due = 0;
		if (rc == 0)
			kcompact_after_roll(p);
	}
}

/*
 * Write whole, validated batches at the log end, rolling first if need
 * be; span: offsets the write covers (the roll's 32-bit rule), in_ts its
 * largest incoming timestamp (segment.ms).  assign: give them offsets from
 * the log end and the leader epoch (klog_part_append); else they carry
 * their own, the first at the log end (klog_part_append_raw checked).
 * Nothing is left behind when the write fails.
 */
int
kp_write(struct klog_part *p, unsigned char *batches, size_t len, int assign, int64_t span,
    int64_t in_ts, int64_t *first, int64_t *last, char *err)
{
	struct klog_batch b;
	struct seg *s;
	size_t off;
	int64_t next, now = klog_now_ms(), maxts = INT64_MIN, maxoff = 0, pos;
	int32_t epoch = assign ? kp_epoch_stamp(p) : 0;

	/* LogAppendTime: the time the roll rule saw is the one written (a
	 * follower copying the batches rolls where this writer did) */
	if (assign && p->cfg.log_append_time && in_ts != INT64_MIN)
		now = in_ts;
	kp_trim_tmp(p);
	if (!kp_active(p)) {
		if (create_segment(p, p->end, err) < 0)
			return -1;
	} else if (should_roll(p, len, span, in_ts)) {
		if (roll(p, err) < 0)
			return -1;
		klog_part_retention(p, now, NULL);
	}
	s = kp_active(p);
	next = p->end;
	for (off = 0; off < len; off += klog_batch_size(&b)) {
		unsigned char *q = batches + off;
		klog_batch_parse(q, len - off, &b, NULL);
		if (assign) {
			klog_batch_set_base_offset(q, next);
			klog_batch_set_leader_epoch(q, epoch);
			b.base_offset = next;
		}
		if (assign && p->cfg.log_append_time) {
			int16_t attr = (int16_t)((b.attributes | KLOG_ATTR_LOG_APPEND_TIME));
			put16(q + 21, (uint16_t)attr);
			put64(q + 35, (uint64_t)now);
			put32(q + 17, klog_crc32c(0, q + 21, klog_batch_size(&b) - 21));
			b.max_timestamp = now;
		}
		if (b.max_timestamp > maxts) {
			maxts = b.max_timestamp;
			maxoff = klog_batch_last(&b);
		}
		next = klog_batch_last(&b) + 1;
	}
	pos = s->size;
	for (off = 0; off < len;) {
		ssize_t n = write(s->fd, batches + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* a full disk: take the partial batch back and go on later;
			 * an I/O error or a cut that fails leaves bytes we cannot
			 * vouch for: fail the partition */
			char nm[64];
			int e = n < 0 ? errno : ENOSPC;
			kseg_name(nm, sizeof nm, s->base, ".log");
			if (ftruncate(s->fd, pos) < 0)
				kp_fail(p, "partition '%s' failed: cannot take back a partial write to "
				    "segment '%s': %s", p->name, nm, strerror(errno));
			else if (e == EIO)
				kp_fail(p, "partition '%s' failed: cannot write segment '%s': %s", p->name,
				    nm, strerror(e));
			errno = e;
			kerr_sys(err, "cannot write segment '%s/%s'", p->name, nm);
			if (p->failed)
				errno = EIO;
			return -1;
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
	if (s->verified == pos)         /* validated on the way in */
		s->verified = pos + (int64_t)len;
	s->size = pos + (int64_t)len;
	*first = assign ? p->end : (int64_t)get64(batches);
	*last = next - 1;
	p->end = next;
	p->dirty = 1;
	return 0;
}

int
klog_part_append(struct klog_part *p, unsigned char *batches, size_t len,
    int64_t *first, int64_t *last, char *err)
{
	struct klog_batch b;
	size_t off;
	int64_t delta = 0, in_ts = INT64_MIN;
	int rc = -1, nb;
	char verr[KLOG_ERRLEN];

	if (!(p->flags & KLOG_WRITE)) {
		errno = EBADF;
		return kerr(err, "partition '%s' is not open for writing", p->name);
	}
	if (p->failed) {
		errno = EIO;
		return kerr(err, "%s", p->failmsg);
	}
	for (off = 0, nb = 1; off < len; off += klog_batch_size(&b), nb++) {
		int r = klog_batch_parse(batches + off, len - off, &b, err);
		/* not batches at all: corrupt (EILSEQ); batches that are whole
		 * but wrong inside: invalid (klog_batch_validate's EBADMSG) */
		if (r == 0) {
			errno = EILSEQ;
			return kerr(err, "partition '%s': incomplete batch at byte %zu", p->name, off);
		}
		if (r < 0) {
			errno = EILSEQ;
			return -1;
		}
		if ((int64_t)klog_batch_size(&b) > p->cfg.max_message_bytes) {
			errno = EMSGSIZE;
			return kerr(err, "batch of %zu bytes is over max.message.bytes %" PRId64
			    " of topic '%s'", klog_batch_size(&b), p->cfg.max_message_bytes, p->topic);
		}
		/* what a producer sent is checked whole before anything is written */
		if (klog_batch_validate(batches + off, &b, KLOG_VALID_CLIENT, &p->it, verr) < 0) {
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
		in_ts = klog_now_ms();
	if (len == 0)
		return 0;
	if (kp_write_begin(p, err) == 0)
		rc = kp_write(p, batches, len, 1, delta, in_ts, first, last, err);
	kp_write_end(p, rc);
	return rc;
}

int
kp_delete_segment(struct klog_part *p, int64_t base, char *err)
{
	p->dir_dirty = 1;
	return kseg_delete(p->dfd, p->name, base, err);
}

int
klog_part_retention(struct klog_part *p, int64_t now_ms, char *err)
{
	int64_t total = 0;
	size_t i, drop = 0;

	if (!(p->flags & KLOG_WRITE) || p->cfg.compact == 1)
		return 0;       /* compact alone deletes nothing by age or size */
	for (i = 0; i < p->nseg; i++)
		total += p->segs[i].size;
	while (drop + 1 < p->nseg) {
		struct seg *s = &p->segs[drop];
		int old = 0, big = 0;
		if (p->cfg.retention_ms >= 0) {
			kp_seg_max_ts(p, s);
			old = s->max_ts != INT64_MIN && s->max_ts < now_ms - p->cfg.retention_ms;
		}
		if (p->cfg.retention_bytes >= 0)
			big = total - s->size >= p->cfg.retention_bytes;
		if (!old && !big)
			break;
		if (kp_delete_segment(p, s->base, err) < 0)
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
	kinfo("partition '%s': retention deleted %zu segment%s; log starts at offset %" PRId64,
	    p->name, drop, drop == 1 ? "" : "s", p->segs[0].base);
	kp_epoch_log_moved(p);
	/* a broker records log starts itself, many in one write, off its loop */
	if (p->flags & KLOG_BROKER)
		return 0;
	p->start_noted = p->segs[0].base;
	return update_ckpt(p, "log-start-offset-checkpoint", p->segs[0].base, err);
}

/* a replica: start a new segment at base, where its leader's next one
 * begins (base is the log end), so the two hold the same files */
int
klog_part_roll_at(struct klog_part *p, int64_t base, char *err)
{
	struct seg *s = kp_active(p);

	if (p->failed)
		return kerr(err, "%s", p->failmsg);
	if (!s || s->size == 0 || s->base >= base || p->end != base)
		return 0;
	return roll(p, err);
}
