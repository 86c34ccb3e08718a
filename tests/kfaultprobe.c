/* klog - file system calls from the command line, for the fault shim's tests. MIT licence. */
/*
 *	kfaultprobe OP [ARG]... [OP [ARG]...]...
 *
 * Runs the operations in order and prints one line per operation on
 * stdout: "OP ok", "OP ok N" (bytes written) or "OP ENAME" (the errno);
 * a failed operation does not stop the next.  Descriptors form a stack:
 * open pushes, close pops, the others use the top one.
 *
 *	open PATH FLAGS		open(2); FLAGS letters: c O_CREAT, t O_TRUNC,
 *				a O_APPEND, x O_EXCL, r O_RDONLY, w O_WRONLY,
 *				d O_DIRECTORY, - none (default O_RDWR)
 *	open64 PATH FLAGS	open64
 *	openat DIR NAME FLAGS	openat(2) relative to DIR
 *	creat PATH
 *	write TEXT | fill N	one write(2) of TEXT or of N bytes a..z
 *	pwrite OFF TEXT | pwrite64 OFF TEXT | writev TEXT1 TEXT2
 *	fsync | fdatasync | sfr	(sync_file_range of the whole file)
 *	ftruncate N | truncate PATH N
 *	dup			dup(2) of the top, pushed
 *	close
 *	dirfsync DIR | dirfdatasync DIR
 *				open the directory, fsync/fdatasync it, close
 *	rename A B | renameat DIR A B | renameat2 DIR A B
 *	mkdir PATH | mkdirat DIR NAME
 *	unlink PATH | unlinkat DIR NAME | rmdir PATH
 *	read			wait for a line on stdin (a test's go-ahead)
 * Exit 0; 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int stack[64], top;

static void
usage(const char *why)
{
	fprintf(stderr, "kfaultprobe: %s\n", why);
	exit(2);
}

static int
flags_of(const char *s)
{
	int f = 0, acc = O_RDWR;

	for (; *s; s++)
		switch (*s) {
		case 'c': f |= O_CREAT; break;
		case 't': f |= O_TRUNC; break;
		case 'a': f |= O_APPEND; break;
		case 'x': f |= O_EXCL; break;
		case 'r': acc = O_RDONLY; break;
		case 'w': acc = O_WRONLY; break;
		case 'd': f |= O_DIRECTORY; acc = O_RDONLY; break;
		case '-': break;
		default: usage("bad open flags");
		}
	return f | acc | O_CLOEXEC;
}

static int
fd(void)
{
	return top > 0 ? stack[top - 1] : -1;
}

static void
push(int f)
{
	if (f >= 0) {
		if (top == 64)
			usage("too many descriptors");
		stack[top++] = f;
	}
}

static int
dir(const char *path)
{
	int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (d < 0)
		fprintf(stderr, "kfaultprobe: cannot open '%s': %s\n", path, strerror(errno));
	return d;
}

static void
report(const char *op, long r, int e, int count)
{
	if (r < 0)
		printf("%s %s\n", op, strerrorname_np(e) ? strerrorname_np(e) : "?");
	else if (count)
		printf("%s ok %ld\n", op, r);
	else
		printf("%s ok\n", op);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (i < argc) {
		const char *op = argv[i++];
		const char *a = i < argc ? argv[i] : NULL;
		const char *b = i + 1 < argc ? argv[i + 1] : NULL;
		const char *c = i + 2 < argc ? argv[i + 2] : NULL;
		long r = 0;
		int count = 0, d;
#define NEED(n) do { if (i + (n) > argc) usage("missing argument"); i += (n); } while (0)

		errno = 0;
		if (!strcmp(op, "open") || !strcmp(op, "open64")) {
			NEED(2);
			r = op[4] ? open64(a, flags_of(b), 0644) : open(a, flags_of(b), 0644);
			push((int)r);
		} else if (!strcmp(op, "openat")) {
			NEED(3);
			if ((d = dir(a)) < 0)
				return 1;
			r = openat(d, b, flags_of(c), 0644);
			push((int)r);
			close(d);
		} else if (!strcmp(op, "creat")) {
			NEED(1);
			r = creat(a, 0644);
			push((int)r);
		} else if (!strcmp(op, "write")) {
			NEED(1);
			r = write(fd(), a, strlen(a));
			count = 1;
		} else if (!strcmp(op, "fill")) {
			long n, k;
			char *buf;
			NEED(1);
			n = atol(a);
			if (n < 0 || !(buf = malloc((size_t)n + 1)))
				usage("bad fill");
			for (k = 0; k < n; k++)
				buf[k] = (char)('a' + k % 26);
			r = write(fd(), buf, (size_t)n);
			free(buf);
			count = 1;
		} else if (!strcmp(op, "pwrite")) {
			NEED(2);
			r = pwrite(fd(), b, strlen(b), atol(a));
			count = 1;
		} else if (!strcmp(op, "pwrite64")) {
			NEED(2);
			r = pwrite64(fd(), b, strlen(b), atol(a));
			count = 1;
		} else if (!strcmp(op, "writev")) {
			struct iovec v[2];
			NEED(2);
			v[0].iov_base = (void *)a;
			v[0].iov_len = strlen(a);
			v[1].iov_base = (void *)b;
			v[1].iov_len = strlen(b);
			r = writev(fd(), v, 2);
			count = 1;
		} else if (!strcmp(op, "fsync")) {
			r = fsync(fd());
		} else if (!strcmp(op, "fdatasync")) {
			r = fdatasync(fd());
		} else if (!strcmp(op, "sfr")) {
			r = sync_file_range(fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
		} else if (!strcmp(op, "ftruncate")) {
			NEED(1);
			r = ftruncate(fd(), atol(a));
		} else if (!strcmp(op, "truncate")) {
			NEED(2);
			r = truncate(a, atol(b));
		} else if (!strcmp(op, "dup")) {
			r = dup(fd());
			push((int)r);
		} else if (!strcmp(op, "close")) {
			if (top == 0)
				usage("close: no descriptor");
			r = close(stack[--top]);
		} else if (!strcmp(op, "dirfsync") || !strcmp(op, "dirfdatasync")) {
			NEED(1);
			if ((d = dir(a)) < 0)
				return 1;
			r = op[4] == 's' ? fsync(d) : fdatasync(d);
			if (r < 0) {
				int e = errno;
				close(d);
				errno = e;
			} else
				close(d);
		} else if (!strcmp(op, "rename")) {
			NEED(2);
			r = rename(a, b);
		} else if (!strcmp(op, "renameat") || !strcmp(op, "renameat2")) {
			NEED(3);
			if ((d = dir(a)) < 0)
				return 1;
			r = op[8] ? renameat2(d, b, d, c, 0) : renameat(d, b, d, c);
			close(d);
		} else if (!strcmp(op, "mkdir")) {
			NEED(1);
			r = mkdir(a, 0755);
		} else if (!strcmp(op, "mkdirat")) {
			NEED(2);
			if ((d = dir(a)) < 0)
				return 1;
			r = mkdirat(d, b, 0755);
			close(d);
		} else if (!strcmp(op, "unlink")) {
			NEED(1);
			r = unlink(a);
		} else if (!strcmp(op, "unlinkat")) {
			NEED(2);
			if ((d = dir(a)) < 0)
				return 1;
			r = unlinkat(d, b, 0);
			close(d);
		} else if (!strcmp(op, "rmdir")) {
			NEED(1);
			r = rmdir(a);
		} else if (!strcmp(op, "read")) {
			char line[256];
			r = fgets(line, sizeof line, stdin) ? 0 : -1;
			if (r < 0)
				errno = EPIPE;
		} else
			usage("unknown operation");
		report(op, r, errno, count);
	}
	return 0;
}
