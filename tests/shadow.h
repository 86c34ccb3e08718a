/* klog - the power-loss model's shadow directory, for fault.c and kpowercut.c. MIT licence. */
/*
 * The layout is specified at the top of tests/fault.c.  Everything here is
 * static: each of the two programs includes this file once.  Only plain
 * libc; inside the shim these calls run with its recursion guard set, so
 * they reach libc directly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SH_KEYLEN 80

/* an inode's identity: device, inode number and birth time (the birth
 * time tells a reused inode number from the file that had it before) */
struct sh_ent {
	char type;                      /* 'f' regular file, 'd' directory, 0 other */
	char key[SH_KEYLEN];
	int64_t size;
	char *name;                     /* sh_list only */
};

static int
sh_stat(int dfd, const char *name, int flags, struct sh_ent *e)
{
	struct statx sx;
	unsigned long long bs = 0;
	unsigned bn = 0;

	if (statx(dfd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_SIZE |
	    STATX_BTIME, &sx) < 0)
		return -1;
	if (sx.stx_mask & STATX_BTIME) {
		bs = (unsigned long long)sx.stx_btime.tv_sec;
		bn = sx.stx_btime.tv_nsec;
	}
	snprintf(e->key, sizeof e->key, "%x.%x-%llx-%llx.%x", sx.stx_dev_major, sx.stx_dev_minor,
	    (unsigned long long)sx.stx_ino, bs, bn);
	e->type = S_ISREG(sx.stx_mode) ? 'f' : S_ISDIR(sx.stx_mode) ? 'd' : 0;
	e->size = (int64_t)sx.stx_size;
	return 0;
}

/* copy bytes [from, to) of src to the same offsets of dst; stops early at
 * the end of src; returns the offset reached or -1 */
static int64_t
sh_copy(int src, int dst, int64_t from, int64_t to)
{
	char buf[65536];

	while (from < to) {
		size_t want = to - from < (int64_t)sizeof buf ? (size_t)(to - from) : sizeof buf;
		ssize_t n = pread(src, buf, want, from), w, k;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (w = 0; w < n; w += k)
			if ((k = pwrite(dst, buf + w, (size_t)(n - w), from + w)) < 0) {
				if (errno == EINTR) {
					k = 0;
					continue;
				}
				return -1;
			}
		from += n;
	}
	return from;
}

static int
sh_cmpname(const void *a, const void *b)
{
	return strcmp(((const struct sh_ent *)a)->name, ((const struct sh_ent *)b)->name);
}

static void
sh_list_free(struct sh_ent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* the regular files and directories in directory dfd, sorted by name
 * (dfd is left open: the listing reads a fresh descriptor of it) */
static int
sh_list(int dfd, struct sh_ent **out, size_t *nout)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp;
	struct dirent *de;
	struct sh_ent *v = NULL, e;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if (fd < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || strchr(de->d_name, '\n'))
			continue;
		if (sh_stat(dirfd(dp), de->d_name, 0, &e) < 0 || !e.type)
			continue;
		if (n == cap) {
			struct sh_ent *nv = realloc(v, (cap = cap ? 2 * cap : 32) * sizeof *v);
			if (!nv)
				goto fail;
			v = nv;
		}
		if (!(e.name = strdup(de->d_name)))
			goto fail;
		v[n++] = e;
	}
	if (errno)
		goto fail;
	closedir(dp);
	if (n)
		qsort(v, n, sizeof *v, sh_cmpname);
	*out = v;
	*nout = n;
	return 0;
fail:
	closedir(dp);
	sh_list_free(v, n);
	return -1;
}

/* shadow paths: SHADOW/f/KEY, SHADOW/d/KEY, and a temp name unique to
 * this thread */
static void
sh_path(char *buf, size_t n, const char *shadow, char kind, const char *key)
{
	snprintf(buf, n, "%s/%c/%s", shadow, kind, key);
}

static void
sh_tmp(char *buf, size_t n, const char *shadow, char kind, long tid)
{
	snprintf(buf, n, "%s/%c/.tmp.%ld.%ld", shadow, kind, (long)getpid(), tid);
}

/* the listing of directory dfd in the file tmp: "TYPE KEY NAME\n" lines */
static int
sh_dir_stage(int dfd, const char *tmp)
{
	struct sh_ent *v;
	size_t n, i;
	FILE *f;
	int r = 0;

	if (sh_list(dfd, &v, &n) < 0)
		return -1;
	if (!(f = fopen(tmp, "we"))) {
		sh_list_free(v, n);
		return -1;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%c %s %s\n", v[i].type, v[i].key, v[i].name);
	if (ferror(f))
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	sh_list_free(v, n);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* the content of src, up to size bytes, in the new file tmp; returns the
 * length copied (less than size if src shrank meanwhile) or -1 */
static int64_t
sh_file_stage(int src, int64_t size, const char *tmp)
{
	int dst = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int64_t n;

	if (dst < 0)
		return -1;
	if ((n = sh_copy(src, dst, 0, size)) < 0 || close(dst) < 0) {
		if (n < 0)
			close(dst);
		unlink(tmp);
		return -1;
	}
	return n;
}

static int
sh_mkdirs(const char *shadow)
{
	char p[PATH_MAX];

	if (mkdir(shadow, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(p, sizeof p, "%s/f", shadow);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(p, sizeof p, "%s/d", shadow);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}
