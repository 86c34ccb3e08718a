/* klog - offline checks of segments and their indexes (kdump --verify). MIT licence. */
/*
 * Checks (klog_verify_segment), for one <base>.log and its indexes:
 *  - every batch header parses and the batch is whole (a short last
 *    batch is a torn tail), its CRC-32C matches, its records parse
 *    (decompressing when the codec is built in) with offsets inside the
 *    batch's range;
 *  - the batch's offsets agree with its neighbours (segment.c's rules,
 *    kseg_check_next: baseOffset and batchLength are not under the CRC):
 *    within the segment's range and 2^31-1 of its base, and, unless the
 *    topic is compacted, starting exactly where the batch before ended
 *    (the first at the segment's base offset);
 *  - the .index and .timeindex pass index.c's checks (kindex_check_*).
 * A partition (klog_verify_path on a directory) also needs each sealed
 * segment to end where the next one starts (kseg_check_end), unless the
 * topic is compacted: a sealed segment truncated at a batch boundary
 * loses records without leaving a torn batch.  Whether a topic is
 * compacted comes from its topic file when the partition directory is
 * inside a log directory (kseg_topic_config); else the strict rule.
 *
 * Every problem is one message naming the segment (or index) file and
 * the byte: "segment 'foo-0/00000000000000000000.log': bad CRC in batch
 * at byte 812 (offset 17)".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct vstate {
	void (*problem)(void *arg, const char *msg);
	void *arg;
	struct klog_verify_report *r;
	int64_t *index_bad;
	const char *what;               /* "index 'NAME'" for index problems */
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

/* kindex_check's problems */
static void
index_problem(void *arg, const char *msg)
{
	struct vstate *v = arg;

	(*v->index_bad)++;
	vprob(v, "%s: %s", v->what, msg);
}

/* records of a CRC-valid batch: well formed, offsets inside the batch */
static int
check_records(struct klog_rec_iter *it, const unsigned char *p, const struct klog_batch *b,
    int64_t last, char *e)
{
	struct klog_record rec;
	int64_t prev = INT64_MIN;
	int r;

	if (!klog_codec_available(b->attributes & KLOG_ATTR_CODEC))
		return 0;
	if (klog_rec_iter_start(it, p, b, e) < 0)
		return -1;
	while ((r = klog_rec_iter_next(it, &rec, e)) == 1) {
		if (rec.offset <= prev || rec.offset < b->base_offset || rec.offset > last) {
			kmsgf(e, KLOG_ERRLEN, "record offset %" PRId64 " out of order or outside "
			    "the batch (%" PRId64 "-%" PRId64 ")", rec.offset, b->base_offset, last);
			return -1;
		}
		prev = rec.offset;
	}
	return r;
}

int
kverify_batch(struct klog_rec_iter *it, const unsigned char *p, const struct klog_batch *b,
    int64_t pos, const struct kverify_seg *s, int64_t prev_last, char *msg, size_t n)
{
	char e[KLOG_ERRLEN];
	int64_t base = s->base, last;

	if (klog_batch_verify(p, b, e) < 0) {
		kmsgf(msg, n, "bad CRC in batch at byte %" PRId64 " (offset %" PRId64 ")", pos,
		    b->base_offset);
		return -1;
	}
	/* a file not named by its base offset: offsets relative to its first batch */
	if (base < 0)
		base = b->base_offset < 0 ? 0 : b->base_offset;
	if (kseg_check_next(b, base, prev_last, s->limit, s->compacted, e, sizeof e) < 0) {
		kmsgf(msg, n, "batch at byte %" PRId64 ": %s", pos, e);
		return -1;
	}
	kseg_batch_last(b, &last);
	if (check_records(it, p, b, last, e) < 0) {
		kmsgf(msg, n, "batch at byte %" PRId64 " (offset %" PRId64 "): %s", pos,
		    b->base_offset, e);
		return -1;
	}
	return 0;
}

/* load one index of a segment and check its entries alone; 1 none */
static int
load_index(struct vstate *v, const char *path, int kind, int64_t base,
    struct klog_index_entry **e, size_t *n, struct kindex_check *c, char *err)
{
	size_t after;
	int torn, rc;

	if ((rc = kindex_load(path, kind, base, e, n, &torn, &after, err)) != 0)
		return rc;
	kindex_check_init(c, kind, base, *e, *n, index_problem, v);
	if (torn)
		index_problem(v, kind ? "torn last entry (size not a multiple of 12)" :
		    "torn last entry (size not a multiple of 8)");
	if (after) {
		char msg[128];
		kmsgf(msg, sizeof msg, "%zu non-zero entries after the all-zero entry %zu "
		    "that ends it", after, *n);
		index_problem(v, msg);
	}
	kindex_check_entries(c);
	return 0;
}

int
kverify_segment(const char *log_path, const struct kverify_seg *s,
    struct klog_verify_report *r, void (*problem)(void *arg, const char *msg), void *arg,
    int64_t *index_bad, char *err)
{
	char name[PATH_MAX], ipath[PATH_MAX], tpath[PATH_MAX], what[2][PATH_MAX + 16];
	char msg[KLOG_ERRLEN];
	struct klog_index_entry *ix = NULL, *tx = NULL;
	struct kindex_check ic, tc;
	struct vstate v[2];
	struct klog_rec_iter it;
	struct kseg_walk w;
	struct kverify_seg seg = *s;
	size_t ni = 0, nt = 0, len;
	int64_t last = KSEG_UNKNOWN, l, ibad = 0;
	int hi = 0, ht = 0, rc, clean = 0, ret = -1, i;

	if (!index_bad)
		index_bad = &ibad;
	memset(r, 0, sizeof *r);
	r->first_bad_pos = -1;
	r->first_offset = r->last_offset = -1;
	if (kseg_walk_open(&w, log_path, err) < 0)
		return -1;
	klog_rec_iter_init0(&it);
	r->log_bytes = w.end;
	kseg_short_name(log_path, name, sizeof name);
	for (i = 0; i < 2; i++)
		v[i] = (struct vstate){ problem, arg, r, index_bad, what[i] };

	len = strlen(log_path);
	if (s->base >= 0 && len > 4 && len + 7 < sizeof ipath) {
		snprintf(ipath, sizeof ipath, "%.*s.index", (int)(len - 4), log_path);
		snprintf(tpath, sizeof tpath, "%.*s.timeindex", (int)(len - 4), log_path);
		kseg_short_name(ipath, msg, sizeof msg);
		snprintf(what[0], sizeof what[0], "index '%s'", msg);
		kseg_short_name(tpath, msg, sizeof msg);
		snprintf(what[1], sizeof what[1], "time index '%s'", msg);
		if ((rc = load_index(&v[0], ipath, 0, s->base, &ix, &ni, &ic, err)) < 0)
			goto out;
		hi = rc == 0;
		if ((rc = load_index(&v[1], tpath, 1, s->base, &tx, &nt, &tc, err)) < 0)
			goto out;
		ht = rc == 0;
	}

	for (;;) {
		rc = kseg_walk_next(&w);
		if (rc == 0) {
			clean = 1;
			break;
		}
		if (rc == -2) {
			kerr_sys(err, "cannot read segment '%s'", name);
			goto out;
		}
		if (rc == -1) {
			vprob(&v[0], "segment '%s': %s", name, w.msg);
			if (r->first_bad_pos < 0)
				r->first_bad_pos = w.pos;
			break;
		}
		r->batches++;
		r->records += w.b.count;
		if (hi)
			kindex_check_batch(&ic, &w.b, w.pos);
		if (ht)
			kindex_check_batch(&tc, &w.b, w.pos);
		if (seg.base < 0)       /* not named by offset: from its first batch */
			seg.base = w.b.base_offset < 0 ? 0 : w.b.base_offset;
		else if (r->batches == 1)
			last = seg.base - 1;    /* the first batch starts at the base */
		if (kverify_batch(&it, w.p, &w.b, w.pos, &seg, last, msg, sizeof msg) < 0) {
			vprob(&v[0], "segment '%s': %s", name, msg);
			if (r->first_bad_pos < 0)
				r->first_bad_pos = w.pos;
		}
		if (r->first_offset < 0)
			r->first_offset = w.b.base_offset;
		last = kseg_batch_last(&w.b, &l) == 0 ? l : KSEG_UNKNOWN;
		if (last != KSEG_UNKNOWN)
			r->last_offset = last;
		kseg_walk_skip(&w);
	}
	if (clean && hi)
		kindex_check_end(&ic);
	if (clean && ht)
		kindex_check_end(&tc);
	ret = 0;
out:
	free(ix);
	free(tx);
	klog_rec_iter_free(&it);
	kseg_walk_free(&w);
	return ret;
}

/* what the checks need to know about the segment at path */
static void
seg_info(const char *log_path, struct kverify_seg *s)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(log_path, '/');
	struct klog_config c;

	s->base = kseg_parse_name(log_path, ".log");
	s->limit = INT64_MAX;
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - log_path) : 1,
	    slash ? log_path : ".");
	kseg_topic_config(NULL, dir[0] ? dir : "/", &c);
	s->compacted = c.compact;
}

int
klog_verify_segment(const char *log_path, struct klog_verify_report *r,
    void (*problem)(void *arg, const char *msg), void *arg, char *err)
{
	struct kverify_seg s;

	seg_info(log_path, &s);
	return kverify_segment(log_path, &s, r, problem, arg, NULL, err);
}

/* directories */

struct vpath {
	void (*problem)(void *arg, const char *msg);
	void (*done)(void *arg, const char *segment, const struct klog_verify_report *r);
	void *arg;
	int bad;
};

/* one segment; with next_base >= 0 (a sealed segment) its end too */
static int
verify_one(struct vpath *vp, const char *log_path, const struct kverify_seg *s,
    int64_t next_base, char *err)
{
	struct klog_verify_report r;
	char name[PATH_MAX], e[KLOG_ERRLEN], msg[KLOG_ERRLEN];
	int64_t last;

	if (kverify_segment(log_path, s, &r, vp->problem, vp->arg, NULL, err) < 0)
		return -1;
	kseg_short_name(log_path, name, sizeof name);
	if (next_base >= 0 && r.first_bad_pos < 0) {
		last = r.last_offset >= 0 ? r.last_offset : s->base - 1;
		if (kseg_check_end(s->base, last, next_base, s->compacted, e, sizeof e) < 0) {
			kmsgf(msg, sizeof msg, "segment '%s': at byte %" PRId64 ", the end of "
			    "the sealed segment: %s", name, r.log_bytes, e);
			r.bad++;
			if (vp->problem)
				vp->problem(vp->arg, msg);
			else
				kwarn("%s", msg);
		}
	}
	if (r.bad)
		vp->bad = 1;
	if (vp->done)
		vp->done(vp->arg, name, &r);
	return 0;
}

static int
verify_partition(struct vpath *vp, const char *dir, char *err)
{
	char path[PATH_MAX], pname[PATH_MAX], nm[KSEG_NAMELEN];
	struct klog_config c;
	struct kverify_seg s;
	int64_t *bases;
	size_t n, i;
	int rc = 0, dfd;

	kseg_short_name(dir, pname, sizeof pname);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open partition directory '%s'", dir);
	rc = kseg_list(dfd, pname, &bases, &n, err);
	close(dfd);
	if (rc < 0)
		return -1;
	kseg_topic_config(NULL, dir, &c);
	for (i = 0; i < n && rc == 0; i++) {
		kseg_name(nm, sizeof nm, bases[i], ".log");
		snprintf(path, sizeof path, "%s/%s", dir, nm);
		s.base = bases[i];
		s.limit = i + 1 < n ? bases[i + 1] : INT64_MAX;
		s.compacted = c.compact;
		rc = verify_one(vp, path, &s, i + 1 < n ? bases[i + 1] : -1, err);
	}
	free(bases);
	return rc;
}

/* a partition whose directory is gone while the recovery point says
 * records in it were durable: they are lost (partition.c, kp_dir_missing) */
static void
verify_lost_dirs(struct vpath *vp, const char *path)
{
	char ck[PATH_MAX], sub[PATH_MAX], msg[KLOG_ERRLEN], e[KLOG_ERRLEN];
	struct klog_ckpt_entry *rp = NULL, *ls = NULL;
	size_t nrp = 0, nls = 0, i, j;
	struct stat st;
	int64_t start;

	snprintf(ck, sizeof ck, "%s/recovery-point-offset-checkpoint", path);
	if (klog_ckpt_read(ck, &rp, &nrp, e) < 0)
		return;
	snprintf(ck, sizeof ck, "%s/log-start-offset-checkpoint", path);
	if (klog_ckpt_read(ck, &ls, &nls, e) < 0)
		nls = 0;
	for (i = 0; i < nrp; i++) {
		snprintf(sub, sizeof sub, "%s/%s-%d", path, rp[i].topic, rp[i].partition);
		if (stat(sub, &st) == 0 || errno != ENOENT)
			continue;
		for (start = 0, j = 0; j < nls; j++)
			if (ls[j].partition == rp[i].partition && !strcmp(ls[j].topic, rp[i].topic))
				start = ls[j].offset;
		if (rp[i].offset <= start)
			continue;
		kmsgf(msg, sizeof msg, "partition '%s-%d': directory missing, but "
		    "recovery-point-offset-checkpoint records offsets up to %" PRId64 " in it: "
		    "records lost", rp[i].topic, rp[i].partition, rp[i].offset);
		vp->bad = 1;
		if (vp->problem)
			vp->problem(vp->arg, msg);
		else
			kwarn("%s", msg);
	}
	free(rp);
	free(ls);
}

int
klog_verify_path(const char *path, void (*problem)(void *arg, const char *msg),
    void (*done)(void *arg, const char *segment, const struct klog_verify_report *r),
    void *arg, char *err)
{
	struct vpath vp = { problem, done, arg, 0 };
	char sub[PATH_MAX], logp[PATH_MAX], **names;
	struct kverify_seg s;
	struct stat st;
	size_t n, i, len = strlen(path);
	int rc = 0, kind;

	if (stat(path, &st) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		if (kseg_is_partition_dir(path))
			rc = verify_partition(&vp, path, err);
		else {
			if (kseg_list_partitions(path, &names, &n, err) < 0)
				return -1;
			for (i = 0; i < n && rc == 0; i++) {
				snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
				rc = verify_partition(&vp, sub, err);
			}
			klog_strv_free(names, n);
			if (rc == 0)
				verify_lost_dirs(&vp, path);
		}
	} else {
		switch ((kind = klog_file_kind(path))) {
		case KLOG_FILE_LOG:
			seg_info(path, &s);
			rc = verify_one(&vp, path, &s, -1, err);
			break;
		case KLOG_FILE_INDEX:
		case KLOG_FILE_TIMEINDEX:
			if (kseg_parse_name(path, kind == KLOG_FILE_INDEX ? ".index" :
			    ".timeindex") < 0)
				return kerr(err, "'%s': not a segment's index", path);
			snprintf(logp, sizeof logp, "%.*s.log", (int)(len - (kind ==
			    KLOG_FILE_INDEX ? 6 : 10)), path);
			seg_info(logp, &s);
			rc = verify_one(&vp, logp, &s, -1, err);
			break;
		default:
			return kerr(err, "'%s': not a segment or index file", path);
		}
	}
	if (rc < 0)
		return -1;
	return vp.bad;
}
