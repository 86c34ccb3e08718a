/* klog - helpers shared by the mains in cmd/: messages, exit codes, -d. MIT licence. */
/*
 * Not part of libklog: this file prints and exits, so it lives in
 * libkserver.a (linked by the tools and tests only), declared in the
 * private cmdutil.h.  It exists so that every binary spells its messages the same way ("PROG: message", "PROG:
 * warning: message", "usage: ...") and resolves -d / $KLOG_DIR the same
 * way.  Library code proper never calls into this file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmdutil.h"
#include "internal.h"

static const char *prog = "klog";
static int quiet, verbose;

/*
 * Progress of long work, on stderr when it is a terminal: one line,
 * "PROG: 120000 records, 11.4 MiB, 52.1 MiB/s, 37%", redrawn in place
 * (carriage return, erase to the end) at most every PROGRESS_MS, first
 * after PROGRESS_DELAY_MS (short work shows nothing; $KLOG_PROGRESS_DELAY_MS
 * changes it) and ended with a newline.  Messages clear the line first.
 */
#define PROGRESS_MS 250
#define PROGRESS_DELAY_MS 500
static struct {
	int on, shown, drawn;
	int64_t start, last, total, records, bytes;
} pg;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* erase a progress line before a message */
void
klog_cmd_progress_clear(void)
{
	if (pg.shown) {
		fputs("\r\033[K", stderr);
		pg.shown = 0;
	}
}

static void
human(char *buf, size_t n, double v, const char *unit)
{
	static const char *const pre[] = { "", "Ki", "Mi", "Gi", "Ti" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s%s" : "%.0f %s%s", v, pre[i], unit);
}

static void
progress_draw(int64_t now)
{
	char b[32], r[32], line[160];
	double secs = (double)(now - pg.start) / 1000;
	int n;

	human(b, sizeof b, (double)pg.bytes, "B");
	human(r, sizeof r, secs > 0 ? (double)pg.bytes / secs : 0, "B/s");
	if (pg.records >= 0)
		n = snprintf(line, sizeof line, "%s: %" PRId64 " records, %s, %s", prog, pg.records,
		    b, r);
	else
		n = snprintf(line, sizeof line, "%s: %s, %s", prog, b, r);
	if (pg.total > 0 && n > 0 && (size_t)n < sizeof line)
		snprintf(line + n, sizeof line - (size_t)n, ", %d%%",
		    (int)(pg.bytes >= pg.total ? 100 : pg.bytes * 100 / pg.total));
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	pg.shown = pg.drawn = 1;
	pg.last = now;
}

void
klog_cmd_progress_start(int64_t total_bytes)
{
	const char *e = getenv("KLOG_PROGRESS_DELAY_MS");
	int64_t delay = PROGRESS_DELAY_MS;

	memset(&pg, 0, sizeof pg);
	if (!isatty(2))
		return;
	if (e && *e && klog_parse_i64(e, &delay) < 0)
		delay = PROGRESS_DELAY_MS;
	pg.on = 1;
	pg.total = total_bytes;
	pg.start = mono_ms();
	/* the first draw waits for the delay */
	pg.last = pg.start + delay - PROGRESS_MS;
}

void
klog_cmd_progress(int64_t records, int64_t bytes)
{
	int64_t now;

	if (!pg.on)
		return;
	pg.records = records;
	pg.bytes = bytes;
	if ((now = mono_ms()) - pg.last >= PROGRESS_MS)
		progress_draw(now);
}

void
klog_cmd_progress_end(void)
{
	if (pg.on && pg.drawn) {
		/* drawn at least once: the final count, and the line ends */
		progress_draw(mono_ms());
		fputc('\n', stderr);
		pg.shown = 0;
	} else if (pg.shown)
		klog_cmd_progress_clear();
	pg.on = 0;
}

static void
cmd_warn_cb(const char *msg)
{
	if (!quiet) {
		klog_cmd_progress_clear();
		fprintf(stderr, "%s: warning: %s\n", prog, msg);
	}
}

static void
cmd_info_cb(const char *msg)
{
	if (verbose) {
		klog_cmd_progress_clear();
		fprintf(stderr, "%s: %s\n", prog, msg);
	}
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
	klog_cmd_progress_clear();
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
