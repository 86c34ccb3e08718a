/* klog - offline repair of a damaged partition (kdump --repair). MIT licence. */
/*
 * Repair (klog_repair_partition) runs under the partition's writer lock
 * (flock on the partition directory, as klog_part_append takes it): the
 * first batch failing verify.c's checks, in segment order, starts the
 * cut; so does the end of a sealed segment that does not reach the next
 * segment's base offset (kseg_check_end), the cut then starting with the
 * next segment.  The bytes from the cut to the end of its segment are
 * appended to <segment>.log.damaged, each later segment's bytes to its
 * own .damaged file and its files removed (kseg_delete); the segment cut
 * is truncated and its .index and .timeindex rebuilt the way Kafka's
 * recovery does (index.c's kindex_builder).  Producer-state snapshots
 * past the new end are removed.  Without damage in the logs, only
 * segments whose indexes fail the checks get them rebuilt.
 *
 * A repair refuses a log directory that a running kbrokerd serves
 * (dir.c's klog_dir_broker), unless forced: the broker keeps the
 * partition open and may already have served the records a cut removes.
 * Forced, the repair still holds the writer lock, which the broker takes
 * for each append, so no append interleaves with the cut.
 */
#include <dirent.h>
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

#include "internal.h"

#define SEG_FMT "%020" PRId64

static void
seg_path(char *out, size_t n, const char *dir, int64_t base, const char *suffix)
{
	char nm[KSEG_NAMELEN];

	kseg_name(nm, sizeof nm, base, suffix);
	snprintf(out, n, "%s/%s", dir, nm);
}

/* rebuild <base>.index and .timeindex from the (valid) batches of the log */
static int
rebuild_indexes(const char *dir, int64_t base, int64_t interval, int64_t *entries, char *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, r;

	seg_path(path, sizeof path, dir, base, ".log");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		kerr_sys(err, "cannot open '%s'", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r = kindex_rebuild(dir, base, interval, fd, st.st_size, 0, entries, err);
	close(fd);
	return r;
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
		if ((b = kseg_parse_name(de->d_name, ".snapshot")) > end) {
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			if (unlink(path) == 0)
				klog_buf_printf(report, "partition '%s': removed producer snapshot '%s' "
				    "past the new end\n", pname, de->d_name);
		}
	closedir(dp);
}

/* refuse when a kbrokerd serves the log directory holding partdir */
static int
check_broker(struct klog_dir *d, const char *partdir, const char *pname, char *err)
{
	char rp[PATH_MAX], parent[PATH_MAX], who[256];
	struct klog_dir *own = NULL;
	const char *slash;
	int held = 0;

	if (!d) {
		if (!realpath(partdir, rp))
			return 0;
		slash = strrchr(rp, '/');
		snprintf(parent, sizeof parent, "%.*s", (int)(slash - rp), rp);
		if (!(own = klog_dir_open(parent[0] ? parent : "/", 0, NULL)))
			return 0;
		d = own;
	}
	held = klog_dir_broker(d, who, sizeof who);
	if (held) {
		errno = EBUSY;
		kerr(err, "log directory '%s' is served by kbrokerd (%s): a repair of partition "
		    "'%s' would cut the log under the broker, which keeps it open and may "
		    "already have served what is cut; stop the broker first", klog_dir_path(d),
		    who, pname);
	}
	klog_dir_close(own);
	return held ? -1 : 0;
}

/*
 * The first damage in segment order: *cut the segment, *cut_pos the byte
 * where it starts, msg what it is; *end the offset after the last good
 * batch.  *cut is n when there is none.
 */
static int
find_damage(const char *partdir, const char *pname, const int64_t *bases, size_t n,
    int compacted, size_t *cut, int64_t *cut_pos, int64_t *end, char *msg, size_t mn,
    char *err)
{
	char path[PATH_MAX], e[KLOG_ERRLEN];
	struct klog_rec_iter it;
	struct kverify_seg s;
	struct kseg_walk w;
	int64_t last = -1;
	size_t i;
	int r, rc = -1;

	klog_rec_iter_init0(&it);
	*cut = n;
	*end = n ? bases[0] : 0;
	for (i = 0; i < n; i++) {
		seg_path(path, sizeof path, partdir, bases[i], ".log");
		if (kseg_walk_open(&w, path, err) < 0)
			goto out;
		s = (struct kverify_seg){ bases[i], i + 1 < n ? bases[i + 1] : INT64_MAX,
		    compacted };
		last = bases[i] - 1;
		while ((r = kseg_walk_next(&w)) == 1) {
			if (kverify_batch(&it, w.p, &w.b, w.pos, &s, last, msg, mn) < 0)
				break;
			kseg_batch_last(&w.b, &last);
			kseg_walk_skip(&w);
		}
		if (r == -2) {
			kerr_sys(err, "cannot read segment '%s/" SEG_FMT ".log'", pname, bases[i]);
			kseg_walk_free(&w);
			goto out;
		}
		if (r == -1)
			kmsgf(msg, mn, "%s", w.msg);
		if (r == 0 && i + 1 < n &&
		    kseg_check_end(bases[i], last, bases[i + 1], compacted, e, sizeof e) < 0) {
			kmsgf(msg, mn, "at byte %" PRId64 ", the end of the sealed segment: %s",
			    w.end, e);
			r = 1;
		}
		*end = last + 1;
		if (r != 0) {
			*cut = i;
			*cut_pos = w.pos;
			kseg_walk_free(&w);
			break;
		}
		kseg_walk_free(&w);
	}
	rc = 0;
out:
	klog_rec_iter_free(&it);
	return rc;
}

/*
 * A recovery point above the new end would make the next writer refuse
 * (synced data missing): the repair accepted the loss, so the point comes
 * down to the end.  Also what repairs a log that lost its tail below the
 * recovery point without any damage left to cut.  1 lowered, 0 not, -1 error.
 */
static int
lower_recovery_point(struct klog_dir *d, const char *partdir, const char *pname, int64_t end,
    struct klog_buf *report, char *err)
{
	char rp[PATH_MAX], parent[PATH_MAX], topic[KLOG_TOPIC_MAX + 1];
	struct klog_dir *own = NULL;
	const char *slash;
	int64_t rp_off;
	int partition, rc = 0;

	if (!kseg_parse_partition(pname, topic, &partition))
		return 0;
	if (!d) {
		if (!realpath(partdir, rp) || !(slash = strrchr(rp, '/')))
			return 0;
		snprintf(parent, sizeof parent, "%.*s", (int)(slash - rp), rp);
		if (!(own = klog_dir_open(parent[0] ? parent : "/", 0, err)))
			return -1;
		d = own;
	}
	if (klog_ckpt_get(d, "recovery-point-offset-checkpoint", topic, partition, &rp_off) &&
	    rp_off > end) {
		klog_buf_printf(report, "partition '%s': recovery point %" PRId64 " lowered to the "
		    "end of the log, %" PRId64 " (what was above it is lost)\n", pname, rp_off, end);
		rc = klog_ckpt_update(d, "recovery-point-offset-checkpoint", topic, partition, end,
		    err) < 0 ? -1 : 1;
	}
	klog_dir_close(own);
	return rc;
}

/*
 * The partition's writer lock.  A kbrokerd holds the lock of every
 * partition it has open for as long as it runs, so a forced repair under
 * a broker gets only the partitions it fenced (offline): it tries for two
 * seconds (an embedded writer holds it for one append at a time), then
 * gives up and says to ask the broker.
 */
static int
lock_partition(int dfd, const char *pname, int flags, char *err)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (flock(dfd, LOCK_EX | ((flags & KLOG_REPAIR_FORCE) ? LOCK_NB : 0)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return kerr_sys(err, "cannot lock partition '%s'", pname);
		usleep(10000);
	}
	errno = EBUSY;
	return kerr(err, "partition '%s' is held by its writer (a kbrokerd keeps the partitions "
	    "it serves locked): repair it through the broker, 'REPAIR TOPIC PARTITION'", pname);
}

int
klog_repair_partition(struct klog_dir *d, const char *partdir, int flags,
    struct klog_buf *report, char *err)
{
	char rp[PATH_MAX], pname[PATH_MAX], path[PATH_MAX], dpath[PATH_MAX], msg[KLOG_ERRLEN];
	struct klog_config c;
	int64_t *bases = NULL, cut_pos = -1, entries, new_end;
	size_t n = 0, i, cut;
	int dfd, rc = -1, did = 0, lowered;
	const char *slash;

	snprintf(pname, sizeof pname, "%s", realpath(partdir, rp) && (slash = strrchr(rp, '/')) ?
	    slash + 1 : partdir);
	if ((dfd = open(partdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open partition directory '%s'", partdir);
	if (!(flags & KLOG_REPAIR_FORCE) && check_broker(d, partdir, pname, err) < 0) {
		close(dfd);
		return -1;
	}
	if (lock_partition(dfd, pname, flags, err) < 0) {
		close(dfd);
		return -1;
	}
	kseg_topic_config(d, partdir, &c);
	if (kseg_list(dfd, pname, &bases, &n, err) < 0)
		goto out;
	if (n == 0 && !kseg_parse_partition(pname, NULL, NULL)) {
		errno = EINVAL;
		kerr(err, "'%s' is not a partition directory", partdir);
		goto out;
	}
	if (find_damage(partdir, pname, bases, n, c.compact, &cut, &cut_pos, &new_end, msg,
	    sizeof msg, err) < 0)
		goto out;

	if (cut < n) {
		int fd;
		struct stat st;
		int64_t from;

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
			from = i == cut ? cut_pos : 0;
			if (from >= st.st_size) {
				close(fd);
				klog_buf_printf(report, "partition '%s': segment '" SEG_FMT ".log': %s\n",
				    pname, bases[i], msg);
				continue;
			}
			rc = kseg_save_damaged(AT_FDCWD, dpath, fd, from, st.st_size, err);
			close(fd);
			if (rc < 0)
				goto out;
			rc = -1;
			klog_buf_printf(report, "partition '%s': segment '" SEG_FMT ".log': %s; %"
			    PRId64 " bytes from byte %" PRId64 " moved to '" SEG_FMT ".log.damaged'\n",
			    pname, bases[i], i == cut ? msg : "after the damage",
			    (int64_t)st.st_size - from, from, bases[i]);
		}
		seg_path(path, sizeof path, partdir, bases[cut], ".log");
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
		    (st.st_size != cut_pos && (ftruncate(fd, cut_pos) < 0 || fsync(fd) < 0))) {
			kerr_sys(err, "cannot truncate segment '%s/" SEG_FMT ".log'", pname, bases[cut]);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		for (i = cut + 1; i < n; i++) {
			if (kseg_delete(dfd, pname, bases[i], err) < 0)
				goto out;
			klog_buf_printf(report, "partition '%s': removed segment '" SEG_FMT ".log'\n",
			    pname, bases[i]);
		}
		if (rebuild_indexes(partdir, bases[cut], c.index_interval_bytes, &entries, err) < 0)
			goto out;
		klog_buf_printf(report, "partition '%s': rebuilt the indexes of segment '" SEG_FMT
		    ".log' (%" PRId64 " entries); the log now ends at offset %" PRId64 "\n", pname,
		    bases[cut], entries, new_end);
		drop_snapshots(partdir, new_end, pname, report);
		did = 1;
		n = cut + 1;
	}
	/* indexes that fail the checks */
	for (i = 0; i < n; i++) {
		struct klog_verify_report vr;
		struct kverify_seg s = { bases[i], i + 1 < n ? bases[i + 1] : INT64_MAX, c.compact };
		int64_t index_bad = 0;

		seg_path(path, sizeof path, partdir, bases[i], ".log");
		if (did && i == cut)
			continue;
		if (kverify_segment(path, &s, &vr, ignore, NULL, &index_bad, err) < 0)
			goto out;
		if (!index_bad)
			continue;
		if (rebuild_indexes(partdir, bases[i], c.index_interval_bytes, &entries, err) < 0)
			goto out;
		klog_buf_printf(report, "partition '%s': rebuilt the indexes of segment '" SEG_FMT
		    ".log' (%" PRId64 " entries)\n", pname, bases[i], entries);
		did = 1;
	}
	if (did && klog_fsync_dir(partdir, err) < 0)
		goto out;
	if ((lowered = lower_recovery_point(d, partdir, pname, new_end, report, err)) < 0)
		goto out;
	if (!did && !lowered)
		klog_buf_printf(report, "partition '%s': nothing to repair\n", pname);
	rc = 0;
out:
	free(bases);
	flock(dfd, LOCK_UN);
	close(dfd);
	return rc;
}
