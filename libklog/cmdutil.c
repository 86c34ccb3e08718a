/* klog - helpers shared by the mains in cmd/: messages, exit codes, -d. MIT licence. */
/*
 * The one part of libklog that prints and exits: it exists so that every
 * binary spells its messages the same way ("PROG: message", "PROG:
 * warning: message", "usage: ...") and resolves -d / $KLOG_DIR the same
 * way.  Library code proper never calls into this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static const char *prog = "klog";
static int quiet, verbose;

static void
cmd_warn_cb(const char *msg)
{
	if (!quiet)
		fprintf(stderr, "%s: warning: %s\n", prog, msg);
}

static void
cmd_info_cb(const char *msg)
{
	if (verbose)
		fprintf(stderr, "%s: %s\n", prog, msg);
}

void
klog_cmd_init(const char *name)
{
	prog = name;
	klog_set_warn(cmd_warn_cb);
	klog_set_info(cmd_info_cb);
}

const char *
klog_cmd_prog(void)
{
	return prog;
}

void
klog_cmd_quiet(int q)
{
	quiet = q;
}

void
klog_cmd_verbose(int v)
{
	verbose = v;
}

static void
vmsg(const char *kind, const char *fmt, va_list ap)
{
	char line[KLOG_ERRLEN * 2];
	int n;

	n = snprintf(line, sizeof line, "%s: %s", prog, kind);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void
klog_cmd_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void
klog_cmd_warn(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void
klog_cmd_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(code);
}

void
klog_cmd_usage(const char *synopsis)
{
	fprintf(stderr, "usage: %s\n", synopsis);
	exit(2);
}

void
klog_cmd_version(void)
{
	printf("%s %s\n", prog, KLOG_VERSION);
	exit(0);
}

const char *
klog_cmd_dir(const char *opt)
{
	const char *e;

	if (opt && *opt)
		return opt;
	if ((e = getenv("KLOG_DIR")) && *e)
		return e;
	klog_cmd_die(2, "no log directory: use -d DIR or set KLOG_DIR");
	return NULL;
}

struct klog_dir *
klog_cmd_open_dir(const char *opt, int flags)
{
	char err[KLOG_ERRLEN];
	const char *path = klog_cmd_dir(opt);
	struct klog_dir *d;

	if (!(d = klog_dir_open(path, flags, err)))
		klog_cmd_die(1, "%s", err);
	return d;
}

/* -b BROKERS (or $KLOG_BROKERS): remote; else -d DIR (or $KLOG_DIR) */
struct klog_log *
klog_cmd_open_log(const char *dir, const char *brokers, int flags)
{
	char err[KLOG_ERRLEN];
	const char *e;
	struct klog_log *lg;

	if ((!brokers || !*brokers) && !(dir && *dir) && (e = getenv("KLOG_BROKERS")) && *e)
		brokers = e;
	if (brokers && *brokers)
		lg = klog_log_open(NULL, brokers, flags, err);
	else
		lg = klog_log_open(klog_cmd_dir(dir), NULL, flags, err);
	if (!lg)
		klog_cmd_die(1, "%s", err);
	return lg;
}

int
klog_cmd_write(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
