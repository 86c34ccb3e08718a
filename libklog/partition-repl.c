/* klog - what replication needs of a partition: verbatim appends, truncation, reset, leader epochs. MIT licence. */
/*
 * A follower copies its leader's batches byte for byte, at their own
 * offsets, and must be able to give up a divergent tail or its whole log.
 * Four things here, on the partition engine's files (partition.h):
 *
 * Verbatim appends (klog_part_append_raw).  The bytes come from another
 * broker: a trust boundary.  Everything is checked before anything is
 * written: whole RecordBatch v2 batches, magic 2, the CRC-32C and every
 * record (klog_batch_validate, disk mode: offsets are already assigned,
 * control batches and compacted batches are fine), max.message.bytes,
 * the first batch starting at the log end, each next batch starting at
 * the previous batch's last offset + 1 (in a compacted topic: after it),
 * no batch spanning more than 2^31-1 offsets from the log end.  The
 * batches are then written one at a time through the writer of
 * klog_part_append (kp_write: indexes, time index, rolls), so a follower
 * whose leader appended one batch per request rolls where its leader did
 * and its .log files are byte-identical.  If a write fails after earlier
 * batches were written, the log is truncated back: all or nothing.
 *
 * Truncation (klog_part_truncate) to a batch boundary, a crash-safe state
 * machine; every step is durable before the next:
 *   1. sync everything (so every offset below the old end is durable);
 *   2. lower the recovery point (recovery-point-offset-checkpoint) to the
 *      new end if it is above: recovery validates what lies past it, and
 *      a log that ends there is consistent;
 *   3. cut the segment holding the new end (ftruncate, fdatasync); from
 *      now on the log is the new one: recovery finds that segment ending
 *      short of the next one's base and cuts the later segments (into
 *      .log.damaged, as for any unsynced tail);
 *   4. delete the later segments (newest first, indexes before the .log),
 *      and the cut one too if it is left empty and is not the first (the
 *      log then ends where its predecessor does, as on a leader that never
 *      rolled there), and fsync the directory;
 *   5. reload the partition from its files (recovery from the new
 *      recovery point trims the indexes) and truncate the leader epoch
 *      cache from the end.
 * A crash before 3 leaves the old log, after it the new one.
 *
 * Reset (klog_part_reset): remove the recovery point, record the new log
 * start (log-start-offset-checkpoint: it counts only when no segment is
 * left), delete every segment oldest first (a crash leaves a suffix of the
 * log, or the empty log at the new start), fsync the directory, clear the
 * epoch cache.
 *
 * The leader epoch cache, <topic>-<n>/leader-epoch-checkpoint (Kafka's
 * LeaderEpochFileCache; the text format is at the top of checkpoint.c):
 * entries "epoch startOffset", both strictly increasing: from startOffset
 * on, the records were written by the leader of that epoch.  Loaded at its
 * first use and, for a writer, made consistent with the log then (entries
 * past the log end dropped, the first moved up to the log start, as
 * Kafka's log loading does), rewritten whole and atomically (temp file,
 * fsync, rename, fsync directory) whenever it changes.  Retention and
 * klog_part_recover keep it consistent the same way.
 *
 * The high watermark of every partition of a log directory is in
 * DIR/replication-offset-checkpoint, Kafka's format, shared with
 * recovery-point-offset-checkpoint (klog_hw_record, klog_hw_get).
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

#define EPOCH_FILE "leader-epoch-checkpoint"
#define RP_FILE "recovery-point-offset-checkpoint"
#define START_FILE "log-start-offset-checkpoint"

static int64_t
log_start(const struct klog_part *p)
{
	return p->nseg ? p->segs[0].base : p->start_empty;
}

int64_t
klog_part_log_start(const struct klog_part *p)
{
	return log_start(p);
}

int64_t
klog_part_log_end(const struct klog_part *p)
{
	return p->end;
}

static int
writable(struct klog_part *p, char *err)
{
	if (!(p->flags & KLOG_WRITE)) {
		errno = EBADF;
		return kerr(err, "partition '%s' is not open for writing", p->name);
	}
	if (p->failed) {
		errno = EIO;
		return kerr(err, "%s", p->failmsg);
	}
	return 0;
}

/* --- the leader epoch cache ---------------------------------------------- */

static int
epochs_load(struct klog_part *p, char *err)
{
	struct klog_epoch_entry *e;
	char path[PATH_MAX];
	size_t n, i;

	if (p->epochs_loaded > 0)
		return 0;
	if (p->epochs_loaded < 0) {
		errno = EILSEQ;
		return kerr(err, "%s", p->epochs_err);
	}
	p->epochs_loaded = 1;
	if (p->dfd < 0)
		return 0;       /* a broker's partition never written: no file */
	snprintf(path, sizeof path, "%s/%s/" EPOCH_FILE, klog_dir_path(p->d), p->name);
	if (klog_epoch_read(path, &e, &n, p->epochs_err) < 0) {
		if (errno == ENOENT)
			return 0;
		p->epochs_loaded = -1;
		return kerr(err, "%s", p->epochs_err);
	}
	for (i = 1; i < n; i++)
		if (e[i].epoch <= e[i - 1].epoch || e[i].start_offset < e[i - 1].start_offset) {
			free(e);
			p->epochs_loaded = -1;
			kmsgf(p->epochs_err, sizeof p->epochs_err, "checkpoint '%s' line %zu: epochs "
			    "and offsets must increase", path, i + 3);
			errno = EILSEQ;
			return kerr(err, "%s", p->epochs_err);
		}
	p->epochs = e;
	p->nepochs = n;
	if (p->flags & KLOG_WRITE)
		kp_epoch_log_moved(p);
	return 0;
}

/* make v (n entries, malloc'ed, taken) the cache, written first */
static int
epochs_write(struct klog_part *p, struct klog_epoch_entry *v, size_t n, char *err)
{
	struct klog_buf b = { 0 };
	char dpath[PATH_MAX];
	size_t i;
	int r = -1;

	if (p->dfd < 0 && kp_make_dir(p, err) < 0)
		goto out;
	snprintf(dpath, sizeof dpath, "%s/%s", klog_dir_path(p->d), p->name);
	if (klog_buf_printf(&b, "0\n%zu\n", n) < 0) {
		kerr_sys(err, "partition '%s': leader epochs", p->name);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (klog_buf_printf(&b, "%" PRId32 " %" PRId64 "\n", v[i].epoch, v[i].start_offset) < 0) {
			kerr_sys(err, "partition '%s': leader epochs", p->name);
			goto out;
		}
	if (kwrite_atomic_at(p->dfd, dpath, EPOCH_FILE, b.data, b.len, err) < 0)
		goto out;
	free(p->epochs);
	p->epochs = v;
	p->nepochs = n;
	v = NULL;
	r = 1;
out:
	free(v);
	klog_buf_free(&b);
	return r;
}

/* the same, when v differs from the cache: 1 written, 0 the same */
static int
epochs_replace(struct klog_part *p, struct klog_epoch_entry *v, size_t n, char *err)
{
	if (n == p->nepochs && (!n || !memcmp(v, p->epochs, n * sizeof *v))) {
		free(v);
		return 0;
	}
	return epochs_write(p, v, n, err);
}

/* a copy of the cache with room for one more entry */
static struct klog_epoch_entry *
epochs_copy(struct klog_part *p, char *err)
{
	struct klog_epoch_entry *v = malloc((p->nepochs + 1) * sizeof *v);

	if (!v) {
		kerr_sys(err, "partition '%s': leader epochs", p->name);
		return NULL;
	}
	if (p->nepochs)
		memcpy(v, p->epochs, p->nepochs * sizeof *v);
	return v;
}

/* Kafka's assign on a copy: 1 changed, 0 not */
static int
assign_in(struct klog_epoch_entry *v, size_t *n, int32_t epoch, int64_t start)
{
	size_t k = *n;

	if (k && (epoch < v[k - 1].epoch ||
	    (epoch == v[k - 1].epoch && start >= v[k - 1].start_offset)))
		return 0;
	/* what would no longer increase goes (Kafka's
	 * maybeTruncateNonMonotonicEntries) */
	while (k && (v[k - 1].epoch >= epoch || v[k - 1].start_offset >= start))
		k--;
	v[k].epoch = epoch;
	v[k].start_offset = start;
	*n = k + 1;
	return 1;
}

int
klog_part_epoch_assign(struct klog_part *p, int32_t epoch, int64_t start_offset, char *err)
{
	struct klog_epoch_entry *v;
	size_t n;
	int rc = -1;

	if (writable(p, err) < 0)
		return -1;
	if (epoch < 0 || start_offset < 0) {
		errno = EINVAL;
		return kerr(err, "partition '%s': bad leader epoch %" PRId32 " at offset %" PRId64,
		    p->name, epoch, start_offset);
	}
	if (kp_write_begin(p, err) < 0)
		goto out;
	if (epochs_load(p, err) < 0 || !(v = epochs_copy(p, err)))
		goto out;
	n = p->nepochs;
	if (!assign_in(v, &n, epoch, start_offset)) {
		free(v);
		rc = 0;
		goto out;
	}
	rc = epochs_replace(p, v, n, err);
out:
	kp_write_end(p, rc < 0 ? -1 : 0);
	return rc;
}

int32_t
klog_part_epoch_latest(struct klog_part *p)
{
	if (epochs_load(p, NULL) < 0 || !p->nepochs)
		return -1;
	return p->epochs[p->nepochs - 1].epoch;
}

int
klog_part_epoch_end(struct klog_part *p, int32_t epoch, int32_t *found_epoch, int64_t *end,
    char *err)
{
	size_t i;

	*found_epoch = -1;
	*end = -1;
	if (!p->held && kp_refresh(p, 0, err) < 0)
		return -1;
	if (epochs_load(p, err) < 0)
		return -1;
	if (epoch < 0)
		return 0;
	for (i = p->nepochs; i > 0 && p->epochs[i - 1].epoch > epoch; i--)
		;
	if (i == 0)
		return 0;
	*found_epoch = p->epochs[i - 1].epoch;
	*end = i < p->nepochs ? p->epochs[i].start_offset : p->end;
	return 0;
}

int
klog_part_epochs(struct klog_part *p, const struct klog_epoch_entry **e, size_t *n, char *err)
{
	if (epochs_load(p, err) < 0)
		return -1;
	*e = p->epochs;
	*n = p->nepochs;
	return 0;
}

/* entries from `end` on dropped; the first moved up to `start` (Kafka's
 * truncateFromEnd and truncateFromStart); -1 leaves that side alone */
static int
epochs_trim(struct klog_part *p, int64_t start, int64_t end, char *err)
{
	struct klog_epoch_entry *v;
	size_t n, k = 0;

	if (epochs_load(p, err) < 0 || !(v = epochs_copy(p, err)))
		return -1;
	n = p->nepochs;
	if (end >= 0)
		while (n && v[n - 1].start_offset >= end)
			n--;
	if (start >= 0) {
		while (k + 1 < n && v[k + 1].start_offset <= start)
			k++;
		if (k < n && v[k].start_offset < start)
			v[k].start_offset = start;
		memmove(v, v + k, (n - k) * sizeof *v);
		n -= k;
	}
	return epochs_replace(p, v, n, err);
}

/* epochs_trim under the writer lock */
static int
trim_locked(struct klog_part *p, int64_t start, int64_t end, char *err)
{
	int rc = -1;

	if (writable(p, err) < 0)
		return -1;
	if (kp_write_begin(p, err) == 0)
		rc = epochs_trim(p, start, end, err) < 0 ? -1 : 0;
	kp_write_end(p, rc);
	return rc;
}

int
klog_part_epoch_truncate_end(struct klog_part *p, int64_t end, char *err)
{
	return trim_locked(p, -1, end, err);
}

int
klog_part_epoch_truncate_start(struct klog_part *p, int64_t start, char *err)
{
	return trim_locked(p, start, -1, err);
}

/* the log's start or end moved (retention, recovery, opening): a loaded
 * cache follows; a failure is a warning (the next load tries again) */
void
kp_epoch_log_moved(struct klog_part *p)
{
	char e[KLOG_ERRLEN];

	if (p->epochs_loaded <= 0 || !(p->flags & KLOG_WRITE) || !p->nepochs)
		return;
	if (epochs_trim(p, log_start(p), p->end, e) < 0)
		kwarn("%s", e);
}

/* the epoch klog_part_append writes into batches: the latest, 0 if none */
int32_t
kp_epoch_stamp(struct klog_part *p)
{
	char e[KLOG_ERRLEN];

	if (epochs_load(p, e) < 0) {
		if (p->epochs_loaded == -1) {
			kwarn("%s", e);
			p->epochs_loaded = -2;  /* said once */
		}
		return 0;
	}
	return p->nepochs ? p->epochs[p->nepochs - 1].epoch : 0;
}

/* --- truncation ---------------------------------------------------------- */

/* the recovery point lowered to off if it is above, synchronously (not a
 * broker's batched record); never raised: what it promised below itself
 * stays true, whatever syncs a broker still has under way */
static int
lower_recovery_point(struct klog_part *p, int64_t off, char *err)
{
	int64_t rp;

	if (!klog_ckpt_get(p->d, RP_FILE, p->topic, p->partition, &rp) || rp <= off)
		return 0;
	if (klog_ckpt_update(p->d, RP_FILE, p->topic, p->partition, off, err) < 0)
		return -1;
	p->rp_written = off;
	return 0;
}

/*
 * Where to cut for an end at `offset` (log start <= offset < log end):
 * segment *si, byte *pos, and the end that gives (*actual: offset, or the
 * base of the batch holding it, or in a compacted topic the end of the
 * batch before a gap holding it).
 */
static int
find_cut(struct klog_part *p, int64_t offset, size_t *si, int64_t *pos, int64_t *actual,
    char *err)
{
	struct seg *s;
	struct klog_batch b;
	int64_t at, prev;
	char e[KLOG_ERRLEN];
	int r;

	*si = kp_find_seg(p, offset);
	s = &p->segs[*si];
	if (kp_seg_open(p, s, err) < 0)
		return -1;
	at = p->cfg.compact ? 0 : kp_index_pos(p, s, offset);
	prev = s->base - 1;
	while ((r = kp_hdr_at(s->fd, at, s->size, &b, e)) == 1) {
		if (klog_batch_last(&b) >= offset)
			break;
		prev = klog_batch_last(&b);
		at += (int64_t)klog_batch_size(&b);
	}
	if (r < 0)
		return kp_damage(p, s, at, e, err);
	*pos = at;
	if (r == 1 && b.base_offset <= offset)
		*actual = b.base_offset;
	else
		*actual = prev + 1;     /* a gap (compacted), or the segment's end */
	if (*actual < s->base)
		*actual = s->base;
	return 0;
}

static int
truncate_locked(struct klog_part *p, int64_t offset, int64_t *actual, char *err);
static int reset_locked(struct klog_part *p, int64_t start, char *err);

static int
truncate_locked(struct klog_part *p, int64_t offset, int64_t *actual, char *err)
{
	struct seg *s;
	size_t si, j;
	int64_t pos;

	*actual = offset;       /* past the end: nothing to cut */
	if (offset >= p->end)
		return epochs_trim(p, -1, p->end, err) < 0 ? -1 : 0;
	if (offset < log_start(p)) {
		*actual = offset;
		return reset_locked(p, offset, err);
	}
	/* 1 */
	if (klog_part_sync(p, err) < 0)
		return -1;
	if (find_cut(p, offset, &si, &pos, actual, err) < 0)
		return -1;
	s = &p->segs[si];
	/* 2 */
	if (lower_recovery_point(p, *actual, err) < 0)
		return -1;
	/* 3 */
	if (ftruncate(s->fd, pos) < 0 || fdatasync(s->fd) < 0) {
		kp_fail(p, "partition '%s' failed: cannot truncate segment '" SEG_FMT ".log': %s",
		    p->name, s->base, strerror(errno));
		return kerr(err, "%s", p->failmsg);
	}
	/* 4 (a segment cut to nothing goes too, but the first: the log is its
	 * predecessor's, as a leader that never rolled there has it) */
	if (pos == 0 && si > 0)
		si--;
	for (j = p->nseg; j-- > si + 1;)
		if (kp_delete_segment(p, p->segs[j].base, err) < 0) {
			kp_fail(p, "partition '%s' failed: %s", p->name, err);
			return -1;
		}
	if (fsync(p->dfd) < 0 && errno != EINVAL) {
		kp_fail(p, "partition '%s' failed: cannot sync the directory: %s", p->name,
		    strerror(errno));
		return kerr(err, "%s", p->failmsg);
	}
	/* 5 */
	p->cuts++;
	ksync_free(&p->pend);
	kp_segs_free(p);
	p->first_ts = INT64_MIN;
	p->dirty = 0;
	p->damage_pos = -1;
	if (kp_refresh(p, 1, err) < 0) {
		kp_fail(p, "partition '%s' failed: %s", p->name, err);
		return -1;
	}
	if (p->synced_end > p->end) {
		p->synced_end = p->end;
		p->synced_base = kp_active(p) ? kp_active(p)->base : -1;
		p->synced_size = kp_active(p) ? kp_active(p)->size : 0;
	}
	if (p->rp_written > p->end)
		p->rp_written = p->end;
	*actual = p->end;
	if (klog_part_sync(p, err) < 0)
		return -1;
	return epochs_trim(p, -1, p->end, err) < 0 ? -1 : 0;
}

int
klog_part_truncate(struct klog_part *p, int64_t offset, char *err)
{
	int64_t actual = -1;
	int rc = -1;

	if (writable(p, err) < 0)
		return -1;
	if (offset < 0) {
		errno = EINVAL;
		return kerr(err, "partition '%s': cannot truncate to offset %" PRId64, p->name, offset);
	}
	if (kp_write_begin(p, err) == 0)
		rc = truncate_locked(p, offset, &actual, err);
	kp_write_end(p, rc);
	if (rc == 0 && actual < offset && offset < INT64_MAX) {
		/* not an error: what the caller asked for is not a batch boundary */
		kmsgf(err, KLOG_ERRLEN, "partition '%s': offset %" PRId64 " is inside a batch: "
		    "truncated to %" PRId64, p->name, offset, actual);
		return 1;
	}
	return rc;
}

/* --- reset --------------------------------------------------------------- */

static int
reset_locked(struct klog_part *p, int64_t start, char *err)
{
	size_t i;

	if (klog_ckpt_update(p->d, RP_FILE, p->topic, p->partition, -1, err) < 0 ||
	    klog_ckpt_update(p->d, START_FILE, p->topic, p->partition, start, err) < 0)
		return -1;
	p->rp_written = -1;
	p->start_noted = start;
	for (i = 0; i < p->nseg; i++)
		if (kp_delete_segment(p, p->segs[i].base, err) < 0) {
			kp_fail(p, "partition '%s' failed: %s", p->name, err);
			return -1;
		}
	if (p->dfd >= 0 && fsync(p->dfd) < 0 && errno != EINVAL) {
		kp_fail(p, "partition '%s' failed: cannot sync the directory: %s", p->name,
		    strerror(errno));
		return kerr(err, "%s", p->failmsg);
	}
	p->cuts++;
	ksync_free(&p->pend);
	kp_segs_free(p);
	p->start_empty = p->end = p->synced_end = start;
	p->synced_base = -1;
	p->synced_size = 0;
	p->first_ts = INT64_MIN;
	p->dirty = p->dir_dirty = 0;
	p->damage_pos = -1;
	p->ientries = p->since_index = 0;
	p->tlast_ts = INT64_MIN;
	/* Kafka's clearAndFlush: an empty file (a bad one is replaced) */
	free(p->epochs);
	p->epochs = NULL;
	p->nepochs = 0;
	p->epochs_loaded = 1;
	return epochs_write(p, NULL, 0, err) < 0 ? -1 : 0;
}

int
klog_part_reset(struct klog_part *p, int64_t start, char *err)
{
	int rc = -1;

	if (writable(p, err) < 0)
		return -1;
	if (start < 0) {
		errno = EINVAL;
		return kerr(err, "partition '%s': cannot start at offset %" PRId64, p->name, start);
	}
	if (kp_write_begin(p, err) == 0)
		rc = reset_locked(p, start, err);
	kp_write_end(p, rc);
	return rc;
}

/* --- verbatim appends ---------------------------------------------------- */

/* the checks that need no lock: whole batches, each valid, in order */
static int
check_batches(struct klog_part *p, const unsigned char *batches, size_t len, char *err)
{
	struct klog_batch b;
	size_t off;
	int64_t prev = INT64_MIN;
	char verr[KLOG_ERRLEN];
	int r;

	for (off = 0; off < len; off += klog_batch_size(&b)) {
		r = klog_batch_parse(batches + off, len - off, &b, verr);
		if (r <= 0) {
			errno = EILSEQ;
			if (r == 0)
				return kerr(err, "partition '%s': incomplete batch at byte %zu of %zu",
				    p->name, off, len);
			return kerr(err, "partition '%s': byte %zu: %s", p->name, off, verr);
		}
		if ((int64_t)klog_batch_size(&b) > p->cfg.max_message_bytes) {
			errno = EMSGSIZE;
			return kerr(err, "partition '%s': batch at offset %" PRId64 " of %zu bytes is "
			    "over max.message.bytes %" PRId64, p->name, b.base_offset,
			    klog_batch_size(&b), p->cfg.max_message_bytes);
		}
		if (klog_batch_validate(batches + off, &b, 0, &p->it, verr) < 0) {
			int e = errno;
			kerr(err, "partition '%s': %s", p->name, verr);
			errno = e == ENOTSUP ? EBADMSG : e;
			return -1;
		}
		if (prev != INT64_MIN && (p->cfg.compact ? b.base_offset <= prev :
		    b.base_offset != prev + 1)) {
			errno = ERANGE;
			return kerr(err, "partition '%s': batch at offset %" PRId64 " does not follow "
			    "the batch before it (last offset %" PRId64 ")", p->name, b.base_offset, prev);
		}
		if (prev != INT64_MIN && klog_batch_last(&b) - prev > INT32_MAX) {
			errno = ERANGE;
			return kerr(err, "partition '%s': batch at offset %" PRId64 " is more than "
			    "2^31-1 offsets past the batch before it", p->name, b.base_offset);
		}
		prev = klog_batch_last(&b);
	}
	return 0;
}

/* the epochs the batches bring (a batch of a newer epoch starts it): a new
 * cache in *v, *n; 1 changed */
static int
batch_epochs(struct klog_part *p, const unsigned char *batches, size_t len,
    struct klog_epoch_entry **v, size_t *n, char *err)
{
	struct klog_batch b;
	size_t off, cap = p->nepochs + 1;
	int changed = 0;

	if (!(*v = epochs_copy(p, err)))
		return -1;
	*n = p->nepochs;
	for (off = 0; off < len; off += klog_batch_size(&b)) {
		klog_batch_parse(batches + off, len - off, &b, NULL);
		if (b.leader_epoch < 0 || (*n && b.leader_epoch <= (*v)[*n - 1].epoch))
			continue;
		if (*n + 1 > cap) {
			struct klog_epoch_entry *t = realloc(*v, (cap *= 2) * sizeof *t);
			if (!t) {
				free(*v);
				return kerr_sys(err, "partition '%s': leader epochs", p->name);
			}
			*v = t;
		}
		changed |= assign_in(*v, n, b.leader_epoch, b.base_offset);
	}
	return changed;
}

int
klog_part_append_raw(struct klog_part *p, const unsigned char *batches, size_t len, char *err)
{
	struct klog_epoch_entry *v = NULL, *old = NULL;
	struct klog_batch b;
	size_t off, nv, nold = 0;
	int64_t start, first, last;
	int rc = -1, changed;
	char e[KLOG_ERRLEN];

	if (writable(p, err) < 0 || check_batches(p, batches, len, err) < 0)
		return -1;
	if (len == 0)
		return 0;
	if (kp_write_begin(p, err) < 0)
		goto out;
	start = p->end;
	klog_batch_parse(batches, len, &b, NULL);
	if (p->cfg.compact ? b.base_offset < start : b.base_offset != start) {
		errno = ERANGE;
		kerr(err, "partition '%s': batch at offset %" PRId64 " does not follow log end %"
		    PRId64, p->name, b.base_offset, start);
		goto out;
	}
	if (klog_batch_last(&b) - start >= INT32_MAX) {
		errno = ERANGE;
		kerr(err, "partition '%s': batch at offset %" PRId64 " is more than 2^31-1 offsets "
		    "past log end %" PRId64, p->name, b.base_offset, start);
		goto out;
	}
	/* the epochs first: a crash before the data is written leaves an entry
	 * past the log end, which the next load drops */
	if (epochs_load(p, err) < 0 || (changed = batch_epochs(p, batches, len, &v, &nv, err)) < 0)
		goto out;
	if (changed) {
		if (!(old = epochs_copy(p, err)))
			goto out;
		nold = p->nepochs;
		if (epochs_replace(p, v, nv, err) < 0) {
			v = NULL;
			goto out;
		}
	} else
		free(v);
	v = NULL;
	/* one batch at a time: rolls where a leader appending them one by one did */
	for (off = 0; off < len; off += klog_batch_size(&b)) {
		int64_t in_ts;
		klog_batch_parse(batches + off, len - off, &b, NULL);
		in_ts = b.max_timestamp;
		if (kp_write(p, (unsigned char *)batches + off, klog_batch_size(&b), 0,
		    klog_batch_last(&b) - p->end + 1, in_ts, &first, &last, err) < 0)
			break;
	}
	if (off < len) {
		int64_t got;
		int saved = errno;
		if (p->end != start && !p->failed && truncate_locked(p, start, &got, e) < 0)
			kp_fail(p, "partition '%s' failed: cannot take back a partial append: %s",
			    p->name, e);
		if (old && !p->failed && epochs_replace(p, old, nold, e) < 0)
			kwarn("%s", e);
		old = NULL;
		errno = p->failed ? EIO : saved;
		goto out;
	}
	rc = 0;
out:
	free(v);
	free(old);
	kp_write_end(p, rc);
	return rc;
}

/* --- the high watermark -------------------------------------------------- */

int
klog_hw_record(struct klog_dir *d, const struct klog_ckpt_entry *e, size_t n, char *err)
{
	return klog_ckpt_update_many(d, KLOG_HW_CHECKPOINT, e, n, err);
}

int
klog_hw_get(struct klog_dir *d, const char *topic, int partition, int64_t *hw)
{
	return klog_ckpt_get(d, KLOG_HW_CHECKPOINT, topic, partition, hw);
}
