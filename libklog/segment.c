/* klog - segment files: names, the batch walker, the neighbour checks. MIT licence. */
/*
 * A partition directory <topic>-<n>/ (the topic name a valid one, n in
 * decimal, split at the last '-') holds segments.  A segment is named by
 * its base offset, the first offset it may hold, in 20 decimal digits
 * with leading zeros, and is made of these files, listed here in the
 * order they are deleted (indexes first, so a crash in between never
 * leaves indexes without their log):
 *
 *	<base>.index		sparse offset index (index.c)
 *	<base>.timeindex	time index (index.c)
 *	<base>.txnindex		aborted transactions (Kafka; never written by klog)
 *	<base>.log		the data
 *
 * Other names in the directory (<base>.snapshot, <base>.log.damaged,
 * Kafka's .deleted/.cleaned/.swap, the checkpoints) are not segments.
 *
 * <base>.log is RecordBatch v2 batches back to back (batch.c), no header,
 * no padding.  A reader walks it by the 12-byte log overhead of each
 * batch: int64 baseOffset, int32 batchLength (bytes after the field).
 * Neither is covered by the batch's CRC, so a flipped bit in them is
 * caught only by comparing a batch with its neighbours.  The rules:
 *
 *  - every offset of a segment lies in [base, next segment's base), and
 *    is at most 2^31-1 above base (index entries hold 32-bit relative
 *    offsets);
 *  - in a topic that is not compacted (cleanup.policy=delete, and any
 *    topic without a klog topic file: Kafka's default), offsets are
 *    contiguous: a segment's first batch starts at its base offset, each
 *    batch at the previous batch's last offset + 1, and a sealed segment
 *    ends at the next segment's base offset - 1 (so a sealed segment
 *    truncated at a batch boundary is damage, not a short segment);
 *  - in a compacted topic (cleanup.policy=compact, and Kafka's
 *    __consumer_offsets and __transaction_state) records were removed,
 *    so offsets only increase: each batch starts after the previous
 *    one's last offset.
 *
 * Kafka writes contiguous segments too; only its log cleaner leaves gaps.
 */
#include <dirent.h>
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

#define WINDOW ((size_t)1 << 20)

const char *const kseg_suffixes[] = { ".index", ".timeindex", ".txnindex", ".log", NULL };

void
kmsgf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

void
kseg_name(char *buf, size_t n, int64_t base, const char *suffix)
{
	snprintf(buf, n, "%020" PRId64 "%s", base, suffix);
}

int64_t
kseg_parse_name(const char *name, const char *suffix)
{
	const char *b = strrchr(name, '/');
	char digits[21];
	int64_t v;
	int i;

	b = b ? b + 1 : name;
	if (strlen(b) != 20 + strlen(suffix) || strcmp(b + 20, suffix))
		return -1;
	for (i = 0; i < 20; i++)
		if (b[i] < '0' || b[i] > '9')
			return -1;
	memcpy(digits, b, 20);
	digits[20] = 0;
	if (klog_parse_i64(digits, &v) < 0)
		return -1;
	return v;
}

int
kseg_parse_partition(const char *name, char *topic, int *partition)
{
	char t[KLOG_TOPIC_MAX + 1];
	const char *dash = strrchr(name, '-'), *p;
	int64_t v;

	if (!dash || dash == name || !dash[1] || (size_t)(dash - name) > KLOG_TOPIC_MAX)
		return 0;
	for (p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	if (klog_parse_i64(dash + 1, &v) < 0 || v > INT32_MAX)
		return 0;
	memcpy(t, name, (size_t)(dash - name));
	t[dash - name] = 0;
	if (klog_topic_name_check(t, NULL) < 0)
		return 0;
	if (topic)
		memcpy(topic, t, (size_t)(dash - name) + 1);
	if (partition)
		*partition = (int)v;
	return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
kseg_list(int dfd, const char *pname, int64_t **bases, size_t *n, char *err)
{
	DIR *dp;
	struct dirent *de;
	size_t cap = 0;
	int64_t b, *v = NULL, *t;
	int fd;

	*bases = NULL;
	*n = 0;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot read partition '%s'", pname);
	if (!(dp = fdopendir(fd))) {
		kerr_sys(err, "cannot read partition '%s'", pname);
		close(fd);
		return -1;
	}
	while ((de = readdir(dp))) {
		if ((b = kseg_parse_name(de->d_name, ".log")) < 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(v, cap * sizeof *v))) {
				kerr_sys(err, "partition '%s'", pname);
				free(v);
				*n = 0;
				closedir(dp);
				return -1;
			}
			v = t;
		}
		v[(*n)++] = b;
	}
	closedir(dp);
	if (*n > 1)
		qsort(v, *n, sizeof *v, cmp_i64);
	*bases = v;
	return 0;
}

int
kseg_delete(int dfd, const char *pname, int64_t base, char *err)
{
	char nm[KSEG_NAMELEN];
	size_t i;

	for (i = 0; kseg_suffixes[i]; i++) {
		kseg_name(nm, sizeof nm, base, kseg_suffixes[i]);
		if (unlinkat(dfd, nm, 0) < 0 && errno != ENOENT)
			return kerr_sys(err, "cannot delete segment '%s/%s'", pname, nm);
	}
	return 0;
}

int
kseg_is_partition_dir(const char *path)
{
	char rp[PATH_MAX];
	const char *name;
	DIR *dp;
	struct dirent *de;
	int found = 0;

	if (realpath(path, rp)) {
		name = strrchr(rp, '/');
		if (kseg_parse_partition(name ? name + 1 : rp, NULL, NULL))
			return 1;
	}
	if (!(dp = opendir(path)))
		return 0;
	while (!found && (de = readdir(dp)))
		found = kseg_parse_name(de->d_name, ".log") >= 0;
	closedir(dp);
	return found;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
kseg_list_names(const char *dir, int dirs, int (*keep)(const char *name), char ***names,
    size_t *n, char *err)
{
	DIR *dp;
	struct dirent *de;
	size_t cap = 0;
	char **v = NULL, **t, path[PATH_MAX];
	struct stat st;

	*names = NULL;
	*n = 0;
	if (!(dp = opendir(dir)))
		return kerr_sys(err, "cannot open directory '%s'", dir);
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.' || !keep(de->d_name))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || (!!S_ISDIR(st.st_mode)) != dirs)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(v, cap * sizeof *v)))
				goto nomem;
			v = t;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(dp);
	if (*n > 1)
		qsort(v, *n, sizeof *v, cmp_str);
	*names = v;
	return 0;
nomem:
	kerr_sys(err, "directory '%s'", dir);
	closedir(dp);
	klog_strv_free(v, *n);
	*n = 0;
	return -1;
}

static int
partition_name(const char *name)
{
	return kseg_parse_partition(name, NULL, NULL);
}

int
kseg_list_partitions(const char *dir, char ***names, size_t *n, char *err)
{
	return kseg_list_names(dir, 1, partition_name, names, n, err);
}

void
kseg_short_name(const char *path, char *out, size_t n)
{
	char rp[PATH_MAX];
	const char *s = realpath(path, rp) ? rp : path, *last, *prev;

	last = strrchr(s, '/');
	if (!last) {
		snprintf(out, n, "%s", s);
		return;
	}
	prev = last;
	while (prev > s && prev[-1] != '/')
		prev--;
	if (prev == last)
		prev = last + 1;
	snprintf(out, n, "%s", prev);
}

/* the walker */

void
kseg_walk_init(struct kseg_walk *w, int fd, int64_t start, int64_t end)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->pos = start;
	w->end = end;
}

int
kseg_walk_open(struct kseg_walk *w, const char *path, char *err)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		kerr_sys(err, "cannot stat '%s'", path);
		close(fd);
		return -1;
	}
	kseg_walk_init(w, fd, 0, st.st_size);
	w->own = 1;
	return 0;
}

void
kseg_walk_free(struct kseg_walk *w)
{
	if (w->own && w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->own = 0;
	free(w->buf);
	w->buf = NULL;
	w->cap = w->len = 0;
}

/*
 * n bytes at pos (pos + n <= end): a pointer into the window, refilled
 * from pos when they are not all in it.  NULL with errno on a read
 * error, NULL with errno 0 when the file is shorter than end now.
 */
static const unsigned char *
window(struct kseg_walk *w, int64_t pos, size_t n)
{
	size_t want;
	ssize_t got;
	unsigned char *b;

	if (pos >= w->at && pos - w->at <= (int64_t)w->len &&
	    (int64_t)n <= (int64_t)w->len - (pos - w->at))
		return w->buf + (pos - w->at);
	want = n > WINDOW ? n : WINDOW;
	if ((int64_t)want > w->end - pos)
		want = (size_t)(w->end - pos);
	if (want > w->cap) {
		if (!(b = realloc(w->buf, want)))
			return NULL;
		w->buf = b;
		w->cap = want;
	}
	w->at = pos;
	w->len = 0;
	while (w->len < want) {
		got = pread(w->fd, w->buf + w->len, want - w->len, pos + (int64_t)w->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			w->len = 0;
			return NULL;
		}
		if (got == 0)
			break;
		w->len += (size_t)got;
	}
	if (w->len < n) {
		errno = 0;
		return NULL;
	}
	return w->buf;
}

int
kseg_walk_next(struct kseg_walk *w)
{
	int64_t left = w->end - w->pos;
	size_t hn = left < KLOG_BATCH_OVERHEAD ? (size_t)left : KLOG_BATCH_OVERHEAD;
	const unsigned char *h;
	char e[KLOG_ERRLEN];
	int r;

	w->p = NULL;
	if (left <= 0)
		return 0;
	if (!(h = window(w, w->pos, hn)))
		goto short_read;
	r = klog_batch_parse(h, (size_t)left, &w->b, e);
	if (r < 0) {
		kmsgf(w->msg, sizeof w->msg, "bad batch header at byte %" PRId64 ": %s", w->pos, e);
		return -1;
	}
	if (r == 0) {
		if (left >= KLOG_LOG_OVERHEAD)
			kmsgf(w->msg, sizeof w->msg, "incomplete batch at byte %" PRId64
			    ": %" PRId64 " bytes of %zu", w->pos, left, klog_batch_size(&w->b));
		else
			kmsgf(w->msg, sizeof w->msg, "incomplete batch at byte %" PRId64
			    ": %" PRId64 " bytes", w->pos, left);
		return -1;
	}
	if (!(w->p = window(w, w->pos, klog_batch_size(&w->b))))
		goto short_read;
	return 1;
short_read:
	if (errno)
		return -2;
	kmsgf(w->msg, sizeof w->msg, "batch at byte %" PRId64 ": the file shrank while it was "
	    "read", w->pos);
	return -1;
}

void
kseg_walk_skip(struct kseg_walk *w)
{
	w->pos += (int64_t)klog_batch_size(&w->b);
}

/* the neighbour checks */

int
kseg_batch_last(const struct klog_batch *b, int64_t *last)
{
	if (b->last_offset_delta < 0 || b->base_offset > INT64_MAX - b->last_offset_delta)
		return -1;
	*last = b->base_offset + b->last_offset_delta;
	return 0;
}

int
kseg_check_next(const struct klog_batch *b, int64_t seg_base, int64_t prev_last,
    int64_t limit, int compacted, char *msg, size_t n)
{
	int64_t base = b->base_offset, last;

	if (base < 0) {
		kmsgf(msg, n, "offset %" PRId64 " is negative", base);
		return -1;
	}
	if (kseg_batch_last(b, &last) < 0) {
		kmsgf(msg, n, "offset %" PRId64 " + %" PRId32 " runs past the largest offset",
		    base, b->last_offset_delta);
		return -1;
	}
	if (base < seg_base) {
		kmsgf(msg, n, "offset %" PRId64 " is below the segment's base offset %" PRId64,
		    base, seg_base);
		return -1;
	}
	/* base >= seg_base >= 0: no overflow below */
	if (last - seg_base > INT32_MAX) {
		kmsgf(msg, n, "offset %" PRId64 " is more than 2^31-1 above the segment's base "
		    "offset %" PRId64, last, seg_base);
		return -1;
	}
	if (last >= limit) {
		kmsgf(msg, n, "offsets %" PRId64 "-%" PRId64 " reach the next segment's base "
		    "offset %" PRId64, base, last, limit);
		return -1;
	}
	if (prev_last < seg_base - 1)
		return 0;       /* the batch before is not known */
	if (!compacted && base - 1 != prev_last) {
		if (prev_last == seg_base - 1)
			kmsgf(msg, n, "offset %" PRId64 " of the segment's first batch is not its "
			    "base offset %" PRId64, base, seg_base);
		else if (base - 1 > prev_last)
			kmsgf(msg, n, "offset %" PRId64 " does not follow the previous batch's last "
			    "offset %" PRId64 " (offsets %" PRId64 "-%" PRId64 " missing)", base,
			    prev_last, prev_last + 1, base - 1);
		else
			kmsgf(msg, n, "offset %" PRId64 " is not after the previous batch's last "
			    "offset %" PRId64, base, prev_last);
		return -1;
	}
	if (compacted && base <= prev_last) {
		kmsgf(msg, n, "offset %" PRId64 " is not after the previous batch's last offset %"
		    PRId64, base, prev_last);
		return -1;
	}
	return 0;
}

int
kseg_check_end(int64_t seg_base, int64_t last, int64_t next_base, int compacted,
    char *msg, size_t n)
{
	if (last >= next_base) {
		kmsgf(msg, n, "its last offset %" PRId64 " reaches the next segment's base offset %"
		    PRId64, last, next_base);
		return -1;
	}
	if (compacted || last == next_base - 1)
		return 0;
	if (last < seg_base)
		kmsgf(msg, n, "it holds no batch but the next segment starts at offset %" PRId64
		    " (offsets %" PRId64 "-%" PRId64 " missing)", next_base, seg_base,
		    next_base - 1);
	else
		kmsgf(msg, n, "it ends with offset %" PRId64 " but the next segment starts at "
		    "offset %" PRId64 " (offsets %" PRId64 "-%" PRId64 " missing)", last,
		    next_base, last + 1, next_base - 1);
	return -1;
}

int
kseg_topic_config(struct klog_dir *d, const char *partdir, struct klog_config *c)
{
	char rp[PATH_MAX], parent[PATH_MAX], topic[KLOG_TOPIC_MAX + 1];
	struct klog_dir *own = NULL;
	const char *name;
	int partition, loaded = 0;

	klog_config_defaults(c);
	if (!realpath(partdir, rp))
		return 0;
	name = strrchr(rp, '/');
	name = name ? name + 1 : rp;
	if (!kseg_parse_partition(name, topic, &partition))
		return 0;
	if (!d) {
		snprintf(parent, sizeof parent, "%.*s", (int)(name - rp - 1), rp);
		own = klog_dir_open(parent[0] ? parent : "/", 0, NULL);
		d = own;
	}
	if (d && klog_topic_load(d, topic, c, NULL) == 0)
		loaded = 1;
	else {
		klog_config_defaults(c);
		/* no topic file and no log directory: Kafka's internal topics are
		 * compacted all the same (klog_topic_load's rule) */
		if (!strcmp(topic, "__consumer_offsets") || !strcmp(topic, "__transaction_state"))
			c->compact = 1;
	}
	klog_dir_close(own);
	return loaded;
}

/*
 * Append bytes [from, to) of the segment open at fd to dname (relative to
 * dfd, or a path with AT_FDCWD), created if need be, and sync it: what a
 * cut removes from a log is kept, never dropped (<segment>.log.damaged).
 */
int
kseg_save_damaged(int dfd, const char *dname, int fd, int64_t from, int64_t to, char *err)
{
	char buf[65536];
	int out;
	ssize_t n;

	if (from >= to)
		return 0;
	if ((out = openat(dfd, dname, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create '%s'", dname);
	while (from < to) {
		size_t want = to - from < (int64_t)sizeof buf ? (size_t)(to - from) : sizeof buf;
		n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			kerr_sys(err, "cannot read the bytes for '%s'", dname);
			goto fail;
		}
		if (write(out, buf, (size_t)n) != n) {
			kerr_sys(err, "cannot write '%s'", dname);
			goto fail;
		}
		from += n;
	}
	if (fsync(out) < 0) {
		kerr_sys(err, "cannot sync '%s'", dname);
		goto fail;
	}
	close(out);
	return 0;
fail:
	close(out);
	return -1;
}
