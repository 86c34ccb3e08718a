/* klog - Kafka's text checkpoint files. MIT licence. */
/*
 * Kafka keeps per-directory offsets in small text files
 * (recovery-point-offset-checkpoint, replication-offset-checkpoint,
 * log-start-offset-checkpoint, cleaner-offset-checkpoint), all shaped
 * alike ([K] CheckpointFile.java, OffsetCheckpointFile.java):
 *
 *	0			line 1: format version, always 0
 *	2			line 2: number of entries that follow
 *	foo 0 3			one entry per line: topic partition offset
 *	bar 1 17
 *
 * Each partition directory's leader-epoch-checkpoint
 * (LeaderEpochCheckpointFile.java) has the same shape with two-field
 * entries, "epoch startOffset": from startOffset on, the records were
 * written by the leader of that epoch.  Epochs and offsets increase.
 *
 * '\n' line ends; fields are written separated by one space and read
 * split on any run of white space.  A file of zero bytes reads as no
 * entries (Kafka leaves cleaner-offset-checkpoint empty until the cleaner
 * first runs).  Anything else that does not match -- another version, a
 * count that disagrees with the entry lines, a line without exactly three
 * (two) fields, a bad topic name, a negative partition, epoch or offset
 * -- is an error naming the file and line.
 *
 * Writes replace the whole file atomically (temp file, fsync, rename,
 * fsync dir).  klog_ckpt_update() does read-modify-write of one entry
 * under flock(LOCK_EX) on DIR/.klog-checkpoint.lock, one lock for every
 * checkpoint file of the directory, so processes updating different
 * partitions of the same file do not lose each other's entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "internal.h"

#define LOCK_FILE ".klog-checkpoint.lock"
#define WS " \t\r\v\f"

/* split line into at most max fields on white space; returns the count */
static int
split(char *line, char **f, int max)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, WS, &save); tok; tok = strtok_r(NULL, WS, &save)) {
		if (n == max)
			return max + 1;
		f[n++] = tok;
	}
	return n;
}

/* one entry line's fields; 0 taken, -1 with err */
typedef int entry_fn(void *arg, const char *path, int lineno, char **f, int nf, char *err);

/* the common shape: version line, count line, `count` entry lines */
static int
parse(const char *path, char *text, int fields, entry_fn *entry, void *arg, char *err)
{
	char *line, *next, *f[4];
	int64_t count = 0;
	size_t n = 0;
	int lineno = 0, nf;

	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = 0;
		else if (!*line)
			break;  /* after the last '\n' */
		lineno++;
		nf = split(line, f, 3);
		if (lineno == 1) {
			if (nf != 1 || strcmp(f[0], "0")) {
				kerr(err, "checkpoint '%s' line 1: unsupported version '%s'",
				    path, nf ? f[0] : "");
				goto bad;
			}
			continue;
		}
		if (lineno == 2) {
			if (nf != 1 || klog_parse_i64(f[0], &count) < 0 || count < 0 ||
			    count > INT32_MAX) {
				kerr(err, "checkpoint '%s' line 2: bad entry count", path);
				goto bad;
			}
			continue;
		}
		if ((int64_t)n == count) {
			kerr(err, "checkpoint '%s' line %d: more than %" PRId64 " entries",
			    path, lineno, count);
			goto bad;
		}
		if (nf != fields) {
			kerr(err, "checkpoint '%s' line %d: expected '%s'", path, lineno,
			    fields == 3 ? "topic partition offset" : "epoch offset");
			goto bad;
		}
		if (entry(arg, path, lineno, f, nf, err) < 0)
			return -1;
		n++;
	}
	if (lineno == 1) {
		kerr(err, "checkpoint '%s': no entry count", path);
		goto bad;
	}
	if ((int64_t)n != count) {
		kerr(err, "checkpoint '%s' line %d: expected %" PRId64 " entries, found %zu",
		    path, lineno + 1, count, n);
		goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* a growing array of entries */
struct vec {
	void *v;
	size_t n, cap, size;
};

static void *
vec_next(struct vec *a, const char *path, char *err)
{
	void *t;

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		if (!(t = realloc(a->v, a->cap * a->size))) {
			kerr_sys(err, "checkpoint '%s'", path);
			return NULL;
		}
		a->v = t;
	}
	return (char *)a->v + a->n++ * a->size;
}

static int
offset_entry(void *arg, const char *path, int lineno, char **f, int nf, char *err)
{
	struct klog_ckpt_entry *e;
	int64_t v;

	if (klog_topic_name_check(f[0], NULL) < 0) {
		kerr(err, "checkpoint '%s' line %d: bad topic name", path, lineno);
		goto bad;
	}
	if (klog_parse_i64(f[1], &v) < 0 || v < 0 || v > INT32_MAX) {
		kerr(err, "checkpoint '%s' line %d: bad partition '%s'", path, lineno, f[1]);
		goto bad;
	}
	if (!(e = vec_next(arg, path, err)))
		return -1;
	e->partition = (int)v;
	if (klog_parse_i64(f[2], &e->offset) < 0) {
		kerr(err, "checkpoint '%s' line %d: bad offset '%s'", path, lineno, f[2]);
		goto bad;
	}
	strcpy(e->topic, f[0]);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static int
epoch_entry(void *arg, const char *path, int lineno, char **f, int nf, char *err)
{
	struct klog_epoch_entry *e;
	int64_t v;

	if (klog_parse_i64(f[0], &v) < 0 || v < 0 || v > INT32_MAX) {
		kerr(err, "checkpoint '%s' line %d: bad epoch '%s'", path, lineno, f[0]);
		goto bad;
	}
	if (!(e = vec_next(arg, path, err)))
		return -1;
	e->epoch = (int32_t)v;
	if (klog_parse_i64(f[1], &e->start_offset) < 0 || e->start_offset < 0) {
		kerr(err, "checkpoint '%s' line %d: bad offset '%s'", path, lineno, f[1]);
		goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* parse text (read from path; freed here) */
static int
parse_any(const char *path, char *text, int fields, entry_fn *fn, size_t size, void **e,
    size_t *n, char *err)
{
	struct vec a = { NULL, 0, 0, size };
	int r;

	r = parse(path, text, fields, fn, &a, err);
	free(text);
	if (r < 0) {
		int saved = errno;
		free(a.v);
		errno = saved;
		return -1;
	}
	*e = a.v;
	*n = a.n;
	return 0;
}

static int
read_any(const char *path, int fields, entry_fn *fn, size_t size, void **e, size_t *n,
    char *err)
{
	char *text;

	*e = NULL;
	*n = 0;
	if (klog_read_file(path, &text, NULL, err) < 0)
		return -1;
	return parse_any(path, text, fields, fn, size, e, n, err);
}

int
klog_ckpt_read(const char *path, struct klog_ckpt_entry **e, size_t *n, char *err)
{
	return read_any(path, 3, offset_entry, sizeof **e, (void **)e, n, err);
}

int
klog_epoch_read(const char *path, struct klog_epoch_entry **e, size_t *n, char *err)
{
	return read_any(path, 2, epoch_entry, sizeof **e, (void **)e, n, err);
}

/* the file's text in b */
static int
ckpt_text(struct klog_buf *b, const char *path, const struct klog_ckpt_entry *e, size_t n,
    char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (klog_topic_name_check(e[i].topic, err) < 0)
			return -1;
		if (e[i].partition < 0) {
			errno = EINVAL;
			return kerr(err, "checkpoint '%s': negative partition for '%s'",
			    path, e[i].topic);
		}
	}
	if (klog_buf_printf(b, "0\n%zu\n", n) < 0)
		return kerr_sys(err, "checkpoint '%s'", path);
	for (i = 0; i < n; i++)
		if (klog_buf_printf(b, "%s %d %" PRId64 "\n", e[i].topic, e[i].partition,
		    e[i].offset) < 0)
			return kerr_sys(err, "checkpoint '%s'", path);
	return 0;
}

int
klog_ckpt_write(const char *path, const struct klog_ckpt_entry *e, size_t n, char *err)
{
	struct klog_buf b = {0};
	int r = -1;

	if (ckpt_text(&b, path, e, n, err) == 0)
		r = klog_write_atomic(path, b.data, b.len, err);
	klog_buf_free(&b);
	return r;
}

int
klog_ckpt_update(struct klog_dir *d, const char *file, const char *topic,
    int partition, int64_t offset, char *err)
{
	struct klog_ckpt_entry e;

	if (klog_topic_name_check(topic, err) < 0)
		return -1;
	if (partition < 0) {
		errno = EINVAL;
		return kerr(err, "checkpoint '%s': negative partition for '%s'", file, topic);
	}
	snprintf(e.topic, sizeof e.topic, "%s", topic);
	e.partition = partition;
	e.offset = offset;
	return klog_ckpt_update_many(d, file, &e, 1, err);
}

/* klog_ckpt_get's search: the file checked whole as klog_ckpt_read does,
 * nothing kept but the match (a broker opens partitions one at a time in a
 * directory of thousands) */
struct ckpt_find {
	const char *topic;
	int partition;
	int64_t offset;
	int found;
};

static int
find_entry(void *arg, const char *path, int lineno, char **f, int nf, char *err)
{
	struct ckpt_find *k = arg;
	int64_t v, off;

	if (klog_topic_name_check(f[0], NULL) < 0 || klog_parse_i64(f[1], &v) < 0 || v < 0 ||
	    v > INT32_MAX || klog_parse_i64(f[2], &off) < 0) {
		errno = EINVAL;
		return kerr(err, "checkpoint '%s' line %d: bad entry", path, lineno);
	}
	if (v == k->partition && !strcmp(f[0], k->topic)) {
		k->offset = off;
		k->found = 1;
	}
	return 0;
}

int
klog_ckpt_get(struct klog_dir *d, const char *file, const char *topic, int partition,
    int64_t *offset)
{
	struct ckpt_find k = { topic, partition, 0, 0 };
	char path[PATH_MAX];
	char *text;
	int r;

	if (snprintf(path, sizeof path, "%s/%s", d->path, file) >= (int)sizeof path ||
	    kread_file_at(d->fd, d->path, file, &text, NULL, NULL) < 0)
		return 0;
	r = parse(path, text, 3, find_entry, &k, NULL);
	free(text);
	if (r < 0 || !k.found)
		return 0;
	*offset = k.offset;
	return 1;
}

/* many entries in one read-modify-write (a broker records every
 * partition's recovery point at once); an entry with a negative offset
 * removes its partition's, and with a negative partition too every
 * partition of its topic (a topic deleted or made anew).  Nothing is
 * written when nothing changes. */
int
klog_ckpt_update_many(struct klog_dir *d, const char *file, const struct klog_ckpt_entry *in,
    size_t nin, char *err)
{
	struct klog_ckpt_entry *e = NULL, *tmp;
	char path[PATH_MAX], lock[PATH_MAX];
	size_t n = 0, i, j, k, cap;
	int fd, r = -1, changed = 0;

	if (snprintf(path, sizeof path, "%s/%s", d->path, file) >= (int)sizeof path ||
	    snprintf(lock, sizeof lock, "%s/%s", d->path, LOCK_FILE) >= (int)sizeof lock) {
		errno = ENAMETOOLONG;
		return kerr_sys(err, "checkpoint '%s'", file);
	}
	if ((fd = openat(d->fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot open lock '%s'", lock);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			kerr_sys(err, "cannot lock '%s'", lock);
			close(fd);
			return -1;
		}
	}
	{
		char *text;
		if (kread_file_at(d->fd, d->path, file, &text, NULL, err) < 0) {
			if (errno != ENOENT)
				goto out;
			e = NULL;
			n = 0;
		} else if (parse_any(path, text, 3, offset_entry, sizeof *e, (void **)&e, &n,
		    err) < 0)
			goto out;
	}
	cap = n + nin;
	if (!(tmp = realloc(e, (cap ? cap : 1) * sizeof *e))) {
		kerr_sys(err, "checkpoint '%s'", path);
		goto out;
	}
	e = tmp;
	for (j = 0; j < nin; j++) {
		if (in[j].offset < 0) {
			for (i = k = 0; i < n; i++)
				if (strcmp(e[i].topic, in[j].topic) != 0 ||
				    (in[j].partition >= 0 && e[i].partition != in[j].partition))
					e[k++] = e[i];
			changed |= k != n;
			n = k;
			continue;
		}
		for (i = 0; i < n; i++)
			if (e[i].partition == in[j].partition && !strcmp(e[i].topic, in[j].topic))
				break;
		if (i == n)
			e[n++] = in[j];
		else if (e[i].offset != in[j].offset)
			e[i].offset = in[j].offset;
		else
			continue;
		changed = 1;
	}
	if (!changed) {
		r = 0;
		goto out;
	}
	{
		struct klog_buf b = {0};
		if (ckpt_text(&b, path, e, n, err) == 0)
			r = kwrite_atomic_at(d->fd, d->path, file, b.data, b.len, err);
		klog_buf_free(&b);
	}
out:
	free(e);
	flock(fd, LOCK_UN);
	close(fd);
	return r;
}
