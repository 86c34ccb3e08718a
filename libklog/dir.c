/* klog - opening a log directory, and noticing a broker that serves it. MIT licence. */
/*
 * A log directory is a plain directory holding one subdirectory per
 * partition (<topic>-<n>/), klog's own text metadata (<topic>.topic,
 * consumer-group files) and Kafka's checkpoint files.  An open klog_dir
 * keeps an O_RDONLY|O_DIRECTORY descriptor for *at() calls and locks.
 *
 * Broker ownership: DIR/kbrokerd.pid
 *
 *	PID HOST:PORT\n
 *
 * e.g. "4242 127.0.0.1:9092\n".  A running kbrokerd writes this file and
 * holds an exclusive flock(2) on it for as long as it serves the
 * directory; the lock, not the file's existence, is what counts, so a
 * file left behind by a crashed broker is harmless (the kernel dropped the
 * lock with the process).  klog_dir_broker() probes with
 * flock(LOCK_SH|LOCK_NB): EWOULDBLOCK means a broker is alive, and the
 * file's content (trimmed of white space) says which one.  Embedded
 * writers use this to refuse, naming the broker, rather than write under
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define BROKER_PID_FILE "kbrokerd.pid"

/* mkdir -p: create every missing component of path (mode 0755) */
static int
mkdir_p(const char *path, char *err)
{
	char buf[PATH_MAX];
	char *p;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf) {
		errno = len ? ENAMETOOLONG : ENOENT;
		return kerr_sys(err, "log directory '%s'", path);
	}
	memcpy(buf, path, len + 1);
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != 0)
			continue;
		if (p[-1] != '/') {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return kerr_sys(err, "log directory '%s': cannot create '%s'",
				    path, buf);
			*p = c;
		}
		if (*p == 0)
			break;
	}
	return 0;
}

struct klog_dir *
klog_dir_open(const char *path, int flags, char *err)
{
	struct klog_dir *d;
	int fd;

	if (!path || !*path) {
		kerr(err, "log directory '': empty path");
		errno = EINVAL;
		return NULL;
	}
	if ((flags & KLOG_CREATE) && mkdir_p(path, err) < 0)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		kerr_sys(err, "log directory '%s'", path);
		return NULL;
	}
	if (!(d = calloc(1, sizeof *d)) || !(d->path = strdup(path))) {
		kerr_sys(err, "log directory '%s'", path);
		free(d);
		close(fd);
		return NULL;
	}
	d->fd = fd;
	return d;
}

void
klog_dir_close(struct klog_dir *d)
{
	if (!d)
		return;
	close(d->fd);
	free(d->path);
	free(d);
}

const char *
klog_dir_path(const struct klog_dir *d)
{
	return d->path;
}

int
klog_dir_broker(struct klog_dir *d, char *who, size_t n)
{
	char buf[256];
	ssize_t r;
	size_t len;
	char *s;
	int fd, held = 0;

	if (who && n)
		*who = 0;
	if ((fd = openat(d->fd, BROKER_PID_FILE, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			held = 1;
	} else {
		flock(fd, LOCK_UN);
	}
	if (held && who && n) {
		do
			r = pread(fd, buf, sizeof buf - 1, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			r = 0;
		buf[r] = 0;
		s = buf;
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
		    s[len - 1] == '\n' || s[len - 1] == '\r'))
			len--;
		if (len >= n)
			len = n - 1;
		memcpy(who, s, len);
		who[len] = 0;
	}
	close(fd);
	return held;
}
