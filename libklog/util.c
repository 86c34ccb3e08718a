/* klog - buffers, errors, small file helpers. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static void (*warnfn)(const char *);
static void (*infofn)(const char *);

int
kerr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, KLOG_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
kerr_sys(char *err, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	size_t n;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, KLOG_ERRLEN, fmt, ap);
		va_end(ap);
		n = strlen(err);
		snprintf(err + n, KLOG_ERRLEN - n, ": %s", strerror(e));
	}
	errno = e;
	return -1;
}

void
klog_set_warn(void (*fn)(const char *msg))
{
	warnfn = fn;
}

void
klog_set_info(void (*fn)(const char *msg))
{
	infofn = fn;
}

void
kinfo(const char *fmt, ...)
{
	char msg[KLOG_ERRLEN];
	va_list ap;

	if (!infofn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	infofn(msg);
}

void
kwarn(const char *fmt, ...)
{
	char msg[KLOG_ERRLEN];
	va_list ap;

	if (!warnfn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	warnfn(msg);
}

int
klog_buf_reserve(struct klog_buf *b, size_t extra)
{
	size_t cap;
	unsigned char *p;

	if (b->cap - b->len >= extra)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	if (!(p = realloc(b->data, cap)))
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
klog_buf_append(struct klog_buf *b, const void *p, size_t n)
{
	if (klog_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
klog_buf_printf(struct klog_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || klog_buf_reserve(b, (size_t)n + 1) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return n;
}

void
klog_buf_free(struct klog_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int64_t
klog_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
klog_fsync_dir(const char *dir, char *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return kerr_sys(err, "cannot open directory '%s'", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		kerr_sys(err, "cannot sync directory '%s'", dir);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* write all of p to fd, through short writes and EINTR */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
klog_write_atomic(const char *path, const void *data, size_t len, char *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *p = data;
	char *slash;
	int fd;

	/* the temp name must fit NAME_MAX even when the final name nearly does
	 * (a 249-byte topic's "NAME.topic"): ".tmp.PID" beside it, not NAME.tmp */
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')))
		*slash = 0;
	else
		strcpy(dir, ".");
	/* unique: two threads, or two files of one directory at once, never
	 * share a temp file */
	if (snprintf(tmp, sizeof tmp, "%s/.tmp.%ld.XXXXXX", dir, (long)getpid()) >= (int)sizeof tmp)
		return kerr(err, "path too long '%s'", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot create '%s'", tmp);
	if (fchmod(fd, 0644) < 0) {
		kerr_sys(err, "cannot create '%s'", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (write_all(fd, p, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		kerr_sys(err, "cannot rename '%s' to '%s'", tmp, path);
		unlink(tmp);
		return -1;
	}
	return klog_fsync_dir(dir, err);
fail:
	kerr_sys(err, "cannot write '%s'", tmp);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* read all of fd (closed here); path names it in err */
static int
read_fd(int fd, const char *path, char **out, size_t *len, char *err)
{
	struct klog_buf b = {0};

	for (;;) {
		ssize_t n;
		if (klog_buf_reserve(&b, 4096) < 0)
			goto fail;
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	close(fd);
	if (klog_buf_reserve(&b, 1) < 0) {
		klog_buf_free(&b);
		return kerr_sys(err, "cannot read '%s'", path);
	}
	b.data[b.len] = 0;
	*out = (char *)b.data;
	if (len)
		*len = b.len;
	return 0;
fail:
	kerr_sys(err, "cannot read '%s'", path);
	close(fd);
	klog_buf_free(&b);
	return -1;
}

int
klog_read_file(const char *path, char **out, size_t *len, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	return read_fd(fd, path, out, len, err);
}

/* name in the directory open as dfd (dpath names it in err): a process
 * whose directory was removed, and another made at its path, keeps to its
 * own, never the new one */
int
kread_file_at(int dfd, const char *dpath, const char *name, char **out, size_t *len,
    char *err)
{
	char path[PATH_MAX];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	snprintf(path, sizeof path, "%s/%s", dpath, name);
	if (fd < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	return read_fd(fd, path, out, len, err);
}

/* klog_write_atomic of name in the directory open as dfd (see kread_file_at) */
int
kwrite_atomic_at(int dfd, const char *dpath, const char *name, const void *data, size_t len,
    char *err)
{
	static unsigned seq;
	char tmp[64], path[PATH_MAX];
	const char *p = data;
	int fd, tries;

	snprintf(path, sizeof path, "%s/%s", dpath, name);
	for (tries = 0;; tries++) {
		/* unique among this process's threads; O_EXCL for the rest */
		snprintf(tmp, sizeof tmp, ".tmp.%ld.%u", (long)getpid(),
		    __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
		if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) >= 0)
			break;
		if (errno != EEXIST || tries > 100)
			return kerr_sys(err, "cannot create '%s/%s'", dpath, tmp);
	}
	if (fchmod(fd, 0644) < 0)
		goto fail;
	if (write_all(fd, p, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		kerr_sys(err, "cannot rename '%s/%s' to '%s'", dpath, tmp, path);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	if (fsync(dfd) < 0 && errno != EINVAL)
		return kerr_sys(err, "cannot sync directory '%s'", dpath);
	return 0;
fail:
	kerr_sys(err, "cannot write '%s/%s'", dpath, tmp);
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return -1;
}

void
klog_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
klog_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	if (!s || !*s) {
		errno = EINVAL;
		return -1;
	}
	v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 0;
}
