/* klog - unit tests of partition-repl.c: verbatim appends, truncation, reset, leader epochs. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];
static struct klog_builder bb;

static void
quiet(const char *msg)
{
	if (getenv("T0082_WARN"))
		fprintf(stderr, "warn: %s\n", msg);
}

/* one batch of n records "prefix-i", base offset 0, in a buffer of its own */
static int
build(const char *prefix, int first, int n, int64_t ts, unsigned char **out, size_t *len)
{
	unsigned char *q;
	char v[64];
	int i;

	klog_builder_reset(&bb);
	for (i = 0; i < n; i++) {
		int l = snprintf(v, sizeof v, "%s-%06d", prefix, first + i);
		if (klog_builder_add(&bb, ts, NULL, -1, v, l, NULL, 0) < 0)
			return -1;
	}
	if (klog_builder_finish(&bb, &q, len, err) < 0 || !(*out = malloc(*len)))
		return -1;
	memcpy(*out, q, *len);
	return 0;
}

static int
append_n(struct klog_part *p, const char *prefix, int first, int n)
{
	unsigned char *b;
	size_t len;
	int64_t f, l;

	int r;

	if (build(prefix, first, n, klog_now_ms(), &b, &len) < 0)
		return -1;
	r = klog_part_append(p, b, len, &f, &l, err);
	free(b);
	return r;
}

static struct klog_part *
open_part(struct klog_dir *d)
{
	struct klog_part *p = klog_part_open(d, "t", 0, KLOG_WRITE, err);

	if (!p)
		diag("open: %s", err);
	return p;
}

static struct klog_dir *
make_dir(const char *name, const char *segbytes)
{
	char path[PATH_MAX + 32], kv[64], ret[] = "retention.ms=-1", *kvs[2] = { kv, ret };
	struct klog_dir *d;

	snprintf(path, sizeof path, "%s/%s", root, name);
	if (!(d = klog_dir_open(path, KLOG_CREATE, err)))
		return NULL;
	snprintf(kv, sizeof kv, "segment.bytes=%s", segbytes);
	if (klog_topic_create(d, "t", 1, kvs, 2, err) < 0) {
		klog_dir_close(d);
		return NULL;
	}
	return d;
}

/* every byte of the log from `from`, whole batches */
static int
read_log(struct klog_part *p, int64_t from, struct klog_buf *out)
{
	struct klog_batch b;
	int64_t next = from;
	ssize_t n;

	out->len = 0;
	for (;;) {
		size_t at = out->len;
		if ((n = klog_part_read(p, next, 1 << 20, out, err)) <= 0)
			break;
		/* the read starts at the batch holding next: drop what is before */
		while (at < out->len) {
			klog_batch_parse(out->data + at, out->len - at, &b, NULL);
			next = klog_batch_last(&b) + 1;
			at += klog_batch_size(&b);
		}
	}
	return n < 0 ? -1 : 0;
}

/* copy src's bytes from `from` into dst with append_raw, `chunk` batches a call */
static int
copy_raw(struct klog_part *src, struct klog_part *dst, int64_t from, int chunk)
{
	struct klog_buf buf = { 0 };
	struct klog_batch b;
	size_t off = 0, start;
	int r = 0, k;

	if (read_log(src, from, &buf) < 0) {
		klog_buf_free(&buf);
		return -1;
	}
	/* skip a batch holding `from` but starting before it */
	while (off < buf.len) {
		klog_batch_parse(buf.data + off, buf.len - off, &b, NULL);
		if (b.base_offset >= from)
			break;
		off += klog_batch_size(&b);
	}
	while (off < buf.len && r == 0) {
		start = off;
		for (k = 0; k < chunk && off < buf.len; k++) {
			klog_batch_parse(buf.data + off, buf.len - off, &b, NULL);
			off += klog_batch_size(&b);
		}
		r = klog_part_append_raw(dst, buf.data + start, off - start, err);
		if (r < 0)
			diag("append_raw: %s", err);
	}
	klog_buf_free(&buf);
	return r;
}

static int
run(const char *fmt, const char *a, const char *b)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof cmd, fmt, a, b);
	return system(cmd);
}

/* the same .log files, byte for byte, in two partition directories */
static int
same_logs(const char *a, const char *b)
{
	return run("cd '%s' && ls *.log >/tmp/.t0082a.$PPID && cd '%s' && ls *.log | "
	    "cmp -s - /tmp/.t0082a.$PPID", a, b) == 0 &&
	    run("cd '%s' && for f in *.log; do cmp -s \"$f\" '%s'/\"$f\" || exit 1; done", a, b) == 0;
}

static int
count_logs(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.log$'", dir);
	if ((f = popen(cmd, "r"))) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static int64_t
log_bytes(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *f;
	long long n = -1;

	snprintf(cmd, sizeof cmd, "cat '%s'/*.log 2>/dev/null | wc -c", dir);
	if ((f = popen(cmd, "r"))) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void
noproblem(void *arg, const char *msg)
{
	(*(int *)arg)++;
	diag("verify: %s", msg);
}

/* the partition directory passes klog_verify_path */
static int
verified(const char *dir)
{
	int bad = 0;

	return klog_verify_path(dir, noproblem, NULL, &bad, err) == 0 && bad == 0;
}

static int
slurp_eq(const char *path, const char *want)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return !want;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	if (!want || strcmp(buf, want)) {
		diag("%s holds '%s'", path, buf);
		return 0;
	}
	return 1;
}

/* records in [from, end) all read back as "r-i" at offset i */
static int
records_ok(struct klog_part *p, int64_t from, int64_t end)
{
	struct klog_buf buf = { 0 };
	struct klog_rec_iter it;
	struct klog_record r;
	struct klog_batch b;
	int64_t want = from;
	size_t off;
	char v[64];
	int good = 1;

	klog_rec_iter_init0(&it);
	if (read_log(p, from, &buf) < 0)
		good = 0;
	for (off = 0; good && off < buf.len; off += klog_batch_size(&b)) {
		klog_batch_parse(buf.data + off, buf.len - off, &b, NULL);
		if (klog_rec_iter_start(&it, buf.data + off, &b, err) < 0)
			good = 0;
		while (good && klog_rec_iter_next(&it, &r, err) == 1) {
			if (r.offset < from)
				continue;
			snprintf(v, sizeof v, "r-%06d", (int)r.offset);
			good = r.offset == want && r.value_len == (int)strlen(v) &&
			    !memcmp(r.value, v, strlen(v));
			want++;
		}
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&buf);
	if (want != end)
		diag("records from %" PRId64 " end at %" PRId64 ", not %" PRId64, from, want, end);
	return good && want == end;
}

/* epochs as text "e@s e@s" */
static const char *
epochs_str(struct klog_part *p)
{
	static char s[512];
	const struct klog_epoch_entry *e;
	size_t n, i, k = 0;

	s[0] = 0;
	if (klog_part_epochs(p, &e, &n, err) < 0)
		return "error";
	for (i = 0; i < n; i++)
		k += (size_t)snprintf(s + k, sizeof s - k, "%s%" PRId32 "@%" PRId64, i ? " " : "",
		    e[i].epoch, e[i].start_offset);
	return s;
}

static void
test_epochs(void)
{
	struct klog_dir *d = make_dir("e", "1048576");
	struct klog_part *p;
	int32_t fe;
	int64_t end;
	char path[PATH_MAX + 64];
	int i;

	p = d ? open_part(d) : NULL;
	ok(p != NULL, "epochs: partition");
	if (!p)
		return;
	cmp_ok(klog_part_epoch_latest(p), ==, -1, "no epoch yet");
	ok(klog_part_epoch_end(p, 3, &fe, &end, err) == 0 && fe == -1 && end == -1,
	    "end of an epoch with an empty cache: -1 -1");
	for (i = 0; i < 40; i++)
		append_n(p, "r", i, 1);
	cmp_ok(klog_part_epoch_assign(p, 0, 0, err), ==, 1, "assign 0@0");
	cmp_ok(klog_part_epoch_assign(p, 2, 10, err), ==, 1, "assign 2@10");
	cmp_ok(klog_part_epoch_assign(p, 5, 30, err), ==, 1, "assign 5@30");
	cmp_ok(klog_part_epoch_assign(p, 5, 35, err), ==, 0, "the same epoch later: ignored");
	cmp_ok(klog_part_epoch_assign(p, 4, 38, err), ==, 0, "an older epoch: ignored");
	is(epochs_str(p), "0@0 2@10 5@30", "cache 0@0 2@10 5@30");
	snprintf(path, sizeof path, "%s/e/t-0/leader-epoch-checkpoint", root);
	ok(slurp_eq(path, "0\n3\n0 0\n2 10\n5 30\n"), "leader-epoch-checkpoint in Kafka's format");
	cmp_ok(klog_part_epoch_latest(p), ==, 5, "latest 5");
	ok(klog_part_epoch_end(p, 1, &fe, &end, err) == 0 && fe == 0 && end == 10,
	    "end(1) = (0, 10): got (%d, %" PRId64 ")", fe, end);
	ok(klog_part_epoch_end(p, 2, &fe, &end, err) == 0 && fe == 2 && end == 30,
	    "end(2) = (2, 30): got (%d, %" PRId64 ")", fe, end);
	ok(klog_part_epoch_end(p, 0, &fe, &end, err) == 0 && fe == 0 && end == 10,
	    "end(0) = (0, 10)");
	ok(klog_part_epoch_end(p, 5, &fe, &end, err) == 0 && fe == 5 && end == 40,
	    "end(5) = (5, log end 40): got (%d, %" PRId64 ")", fe, end);
	ok(klog_part_epoch_end(p, 9, &fe, &end, err) == 0 && fe == 5 && end == 40,
	    "end(9) = (5, log end 40)");
	ok(klog_part_epoch_end(p, -1, &fe, &end, err) == 0 && fe == -1 && end == -1,
	    "end(-1) = (-1, -1)");
	/* batches written now carry the latest epoch */
	{
		struct klog_buf buf = { 0 };
		struct klog_batch b;
		append_n(p, "r", 40, 1);
		ok(klog_part_read(p, 40, 1 << 16, &buf, err) > 0 &&
		    klog_batch_parse(buf.data, buf.len, &b, NULL) == 1 && b.leader_epoch == 5,
		    "klog_part_append stamps the latest epoch (%d)", b.leader_epoch);
		klog_buf_free(&buf);
	}
	cmp_ok(klog_part_epoch_assign(p, 6, 25, err), ==, 1,
	    "assign 6@25 below 5@30: Kafka drops what would not increase");
	is(epochs_str(p), "0@0 2@10 6@25", "cache 0@0 2@10 6@25");
	cmp_ok(klog_part_epoch_assign(p, 6, 20, err), ==, 1, "the latest epoch earlier: moved");
	is(epochs_str(p), "0@0 2@10 6@20", "cache 0@0 2@10 6@20");
	ok(klog_part_epoch_truncate_end(p, 20, err) == 0, "truncate from end at 20");
	is(epochs_str(p), "0@0 2@10", "entries from 20 on are gone");
	ok(klog_part_epoch_truncate_start(p, 5, err) == 0, "truncate from start at 5");
	is(epochs_str(p), "0@5 2@10", "the first entry moves to 5");
	ok(klog_part_epoch_truncate_start(p, 12, err) == 0, "truncate from start at 12");
	is(epochs_str(p), "2@12", "one entry left, at 12");
	ok(slurp_eq(path, "0\n1\n2 12\n"), "and the file says so");
	ok(klog_part_epoch_assign(p, 7, 41, err) == 1, "assign 7@41 (the log end)");
	klog_part_close(p);
	p = open_part(d);
	is(p ? epochs_str(p) : "", "2@12", "reopened: an entry at the log end is dropped, as Kafka "
	    "does at load");
	klog_part_close(p);
	/* a bad file is an error, not an empty cache */
	{
		FILE *f = fopen(path, "w");
		if (f) {
			fputs("0\n2\n3 10\n2 20\n", f);
			fclose(f);
		}
		p = open_part(d);
		ok(p && klog_part_epoch_end(p, 3, &fe, &end, err) < 0 && strstr(err, "must increase"),
		    "epochs that do not increase: %s", err);
		ok(p && klog_part_epoch_assign(p, 9, 41, err) < 0, "and no assign on top of them");
		klog_part_close(p);
	}
	klog_dir_close(d);
}

/* retention moves the log start: the epoch cache follows (Kafka's truncateFromStart) */
static void
test_retention(void)
{
	struct klog_dir *d;
	struct klog_part *p;
	char path[PATH_MAX + 32], a[] = "segment.bytes=4096", b[] = "retention.bytes=4096";
	char *kv[2] = { a, b }, want[128];
	int64_t start;
	int i, r = 0;

	snprintf(path, sizeof path, "%s/ret", root);
	d = klog_dir_open(path, KLOG_CREATE, err);
	if (!d || klog_topic_create(d, "t", 1, kv, 2, err) < 0 || !(p = open_part(d))) {
		ok(0, "retention: setup: %s", err);
		klog_dir_close(d);
		return;
	}
	for (i = 0; i < 600 && r == 0; i += 5) {
		if (i % 200 == 0)
			klog_part_epoch_assign(p, i / 100, i, err);
		r = append_n(p, "r", i, 5);
	}
	start = klog_part_log_start(p);
	cmp_ok(start, >, 0, "retention deleted segments (log start %" PRId64 ")", start);
	if (start < 200)
		snprintf(want, sizeof want, "0@%" PRId64 " 2@200 4@400", start);
	else if (start < 400)
		snprintf(want, sizeof want, "2@%" PRId64 " 4@400", start);
	else
		snprintf(want, sizeof want, "4@%" PRId64, start);
	is(epochs_str(p), want, "the epoch cache starts at the log start");
	klog_part_close(p);
	klog_dir_close(d);
}

/* --- crashes in the middle of a truncation ------------------------------- */

static char self[PATH_MAX];     /* this program, for the child under the shim */

/* the child: truncate DIR's t-0 to OFFSET; prints the end */
static int
child_truncate(const char *dir, const char *offset)
{
	struct klog_dir *d = klog_dir_open(dir, 0, err);
	struct klog_part *p = d ? klog_part_open(d, "t", 0, KLOG_WRITE, err) : NULL;
	int r;

	if (!p) {
		fprintf(stderr, "truncate: %s\n", err);
		return 1;
	}
	r = klog_part_truncate(p, strtoll(offset, NULL, 10), err);
	if (r < 0)
		fprintf(stderr, "truncate: %s\n", err);
	else
		printf("%" PRId64 "\n", klog_part_log_end(p));
	klog_part_close(p);
	return r < 0;
}

/* the child: copy SRC's t-0 into DST's with one klog_part_append_raw */
static int
child_copy(const char *src, const char *dst)
{
	struct klog_dir *ds = klog_dir_open(src, 0, err), *dd = klog_dir_open(dst, 0, err);
	struct klog_part *a = ds ? klog_part_open(ds, "t", 0, KLOG_RDONLY, err) : NULL;
	struct klog_part *b = dd ? klog_part_open(dd, "t", 0, KLOG_WRITE, err) : NULL;
	struct klog_buf buf = { 0 };
	int r = 1;

	if (a && b && read_log(a, 0, &buf) == 0)
		r = klog_part_append_raw(b, buf.data, buf.len, err) < 0;
	if (r)
		fprintf(stderr, "copy: %s\n", err);
	else
		printf("%" PRId64 "\n", klog_part_log_end(b));
	klog_buf_free(&buf);
	klog_part_close(a);
	klog_part_close(b);
	return r;
}

/*
 * After the crash: the directory reopens for writing, verifies, reads
 * back r-0.. up to its end, which is the old end or the new one.  Returns
 * 1 old, 2 new, 0 bad.
 */
static int
check_after(const char *dir, int64_t old_end, int64_t new_end)
{
	char pdir[PATH_MAX + 8];
	struct klog_dir *d = klog_dir_open(dir, 0, err);
	struct klog_part *p = d ? klog_part_open(d, "t", 0, KLOG_WRITE, err) : NULL;
	int64_t end;
	int r = 0;

	if (!p) {
		diag("reopen '%s': %s", dir, err);
		klog_dir_close(d);
		return 0;
	}
	end = klog_part_log_end(p);
	snprintf(pdir, sizeof pdir, "%s/t-0", dir);
	if ((end == old_end || end == new_end) && records_ok(p, 0, end) && verified(pdir))
		r = end == new_end ? 2 : 1;
	else
		diag("'%s': end %" PRId64 " (old %" PRId64 ", new %" PRId64 ")", dir, end, old_end,
		    new_end);
	/* and it takes appends on top */
	if (r && append_n(p, "r", (int)end, 3) < 0) {
		diag("append after the crash: %s", err);
		r = 0;
	}
	klog_part_close(p);
	klog_dir_close(d);
	return r;
}

/* a log directory with t-0 holding r-0..r-599 in 4 KiB segments */
static int
make_template(const char *name)
{
	struct klog_dir *d = make_dir(name, "4096");
	struct klog_part *p = d ? open_part(d) : NULL;
	int i, r = 0;

	if (!p)
		return -1;
	klog_part_epoch_assign(p, 1, 0, err);
	for (i = 0; i < 600 && r == 0; i += 5)
		r = append_n(p, "r", i, 5);
	klog_part_close(p);
	klog_dir_close(d);
	return r;
}

static int64_t
elapsed_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* SIGKILL at random moments of a truncation to a random offset */
static void
test_sigkill(int rounds)
{
	char tpl[PATH_MAX + 8], work[PATH_MAX + 8];
	int i, bad = 0, olds = 0, news = 0;
	int64_t dur = 0;
	unsigned seed = (unsigned)getpid();

	snprintf(tpl, sizeof tpl, "%s/kt", root);
	snprintf(work, sizeof work, "%s/kw", root);
	if (make_template("kt") < 0) {
		ok(0, "sigkill: template: %s", err);
		return;
	}
	for (i = 0; i < rounds; i++) {
		int fds[2], status;
		int64_t target = rand_r(&seed) % 600, new_end = target - target % 5;
		struct timespec t0;
		pid_t pid;
		char c;

		run("rm -rf '%s'%s", work, "");
		run("cp -a '%s' '%s'", tpl, work);
		if (pipe(fds) < 0)
			break;
		fflush(stdout);
		if ((pid = fork()) == 0) {
			struct klog_dir *d = klog_dir_open(work, 0, err);
			struct klog_part *p = d ? klog_part_open(d, "t", 0, KLOG_WRITE, err) : NULL;
			if (!p || write(fds[1], "x", 1) != 1)
				_exit(1);
			klog_part_truncate(p, target, err);
			_exit(0);
		}
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (i < 3) {
				/* the first rounds run to the end: how long a truncation takes */
				waitpid(pid, &status, 0);
				if (elapsed_us(&t0) > dur)
					dur = elapsed_us(&t0);
			} else {
				useconds_t us = (useconds_t)(rand_r(&seed) % (dur * 3 / 2 + 1));
				if (us)
					usleep(us);
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
			}
		} else
			waitpid(pid, &status, 0);
		close(fds[0]);
		switch (check_after(work, 600, new_end)) {
		case 0:
			bad++;
			diag("round %d: truncate to %" PRId64 " killed: bad state", i, target);
			break;
		case 1:
			olds++;
			break;
		default:
			news++;
		}
	}
	cmp_ok(bad, ==, 0, "SIGKILL during truncate, %d rounds: always the old log (%d) or the "
	    "new one (%d), valid, writable (a truncate takes ~%" PRId64 " us here)", rounds, olds,
	    news, dur);
}

/*
 * Power loss at every step of a truncation: the child runs under
 * tests/libfault.so with the power-loss shadow and a rule failing the
 * K-th call of one kind (so it stops right before it), then kpowercut
 * builds what the disk holds at that instant.
 */
static void
test_powerloss(void)
{
	static const char *const calls[] = { "fsync", "fdatasync", "dirfsync", "ftruncate",
	    "unlink", "rename", "open", "none" };
	char dir[PATH_MAX], shim[PATH_MAX + 32], kpc[PATH_MAX + 32], tpl[PATH_MAX + 8];
	char work[PATH_MAX + 8], sh[PATH_MAX + 8], img[PATH_MAX + 8];
	struct klog_buf cmd = { 0 };
	int bad = 0, olds = 0, news = 0, runs = 0, k, c, m;
	struct stat st;
	char *slash;

	snprintf(dir, sizeof dir, "%s", self);
	if ((slash = strrchr(dir, '/')))
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	snprintf(shim, sizeof shim, "%s/libfault.so", dir);
	snprintf(kpc, sizeof kpc, "%s/kpowercut", dir);
	if (stat(shim, &st) < 0 || stat(kpc, &st) < 0) {
		skip(1, "tests/libfault.so or tests/kpowercut is not built");
		return;
	}
	snprintf(tpl, sizeof tpl, "%s/pt", root);
	snprintf(work, sizeof work, "%s/pw", root);
	snprintf(sh, sizeof sh, "%s/psh", root);
	snprintf(img, sizeof img, "%s/pimg", root);
	if (make_template("pt") < 0) {
		ok(0, "power loss: template: %s", err);
		return;
	}
	for (c = 0; c < (int)(sizeof calls / sizeof *calls); c++)
		for (k = 0; k < (strcmp(calls[c], "none") ? 4 : 1); k++)
			for (m = (c + k) % 3; m == (c + k) % 3; m++) {
				static const char *const modes[] = { "drop", "partial", "garbage" };
				int64_t target = 37 + 101 * ((c + k) % 5), new_end = target - target % 5;
				char rule[64];
				int r;

				if (!strcmp(calls[c], "none"))
					snprintf(rule, sizeof rule, "# none");
				else
					snprintf(rule, sizeof rule, "%s:EIO:after=%d:count=1", calls[c], k);
				cmd.len = 0;
				klog_buf_printf(&cmd, "rm -rf '%s' '%s' '%s' && cp -a '%s' '%s' && "
				    "'%s' baseline '%s' '%s' && env LD_PRELOAD='%s' "
				    "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\" "
				    "KLOG_SHADOW='%s' KLOG_FAULT_ROOT='%s' KLOG_FAULT='%s' '%s' truncate '%s' "
				    "%" PRId64 " >/dev/null 2>&1; '%s' image '%s' '%s' '%s' --mode %s --seed %d",
				    work, sh, img, tpl, work, kpc, work, sh, shim, sh, work, rule, self, work,
				    target, kpc, work, sh, img, modes[m], k + 1);
				if (klog_buf_printf(&cmd, "%c", 0) < 0 || system((char *)cmd.data) != 0) {
					bad++;
					diag("%s: failed", rule);
					continue;
				}
				runs++;
				r = check_after(img, 600, new_end);
				if (!r) {
					bad++;
					diag("power loss before %s (mode %s, to %" PRId64 "): bad state",
					    rule, modes[m], target);
				}
				olds += r == 1;
				news += r == 2;
			}
	/* a write failing in the middle of a verbatim append of many batches,
	 * across rolls: nothing of it is left */
	{
		char dst[PATH_MAX + 8], pdst[PATH_MAX + 16], tpl2[PATH_MAX + 16];
		int fails = 0, whole = 0;

		snprintf(tpl2, sizeof tpl2, "%s/t-0", tpl);
		snprintf(dst, sizeof dst, "%s/cw", root);
		snprintf(pdst, sizeof pdst, "%s/cw/t-0", root);
		for (k = 0; k < 12; k++) {
			struct klog_dir *d;
			struct klog_part *p;
			int r;

			run("rm -rf '%s'%s", dst, "");
			d = make_dir("cw", "4096");
			klog_dir_close(d);
			cmd.len = 0;
			klog_buf_printf(&cmd, "env LD_PRELOAD='%s' ASAN_OPTIONS=\"${ASAN_OPTIONS:+"
			    "$ASAN_OPTIONS:}verify_asan_link_order=0\" KLOG_FAULT_ROOT='%s' "
			    "KLOG_FAULT='write:%s:after=%d:path=*.log' '%s' copy '%s' '%s' >/dev/null "
			    "2>&1%c", shim, dst, k % 2 ? "EIO" : "ENOSPC", k * 4, self, tpl, dst, 0);
			r = system((char *)cmd.data);
			d = klog_dir_open(dst, 0, err);
			p = d ? klog_part_open(d, "t", 0, KLOG_WRITE, err) : NULL;
			if (r != 0 && p && k % 2 == 0 && klog_part_log_end(p) == 0 &&
			    log_bytes(pdst) == 0 && verified(pdst))
				fails++;
			else if (r != 0 && p && k % 2 == 1 && records_ok(p, 0, klog_part_log_end(p)) &&
			    verified(pdst))
				fails++;        /* EIO fails the partition: what was synced stays */
			else if (r == 0 && p && klog_part_log_end(p) == 600 && same_logs(pdst, tpl2))
				whole++;
			else
				diag("a failed write after %d: exit %d, end %" PRId64 ", %" PRId64 " bytes",
				    k * 4, r, p ? klog_part_log_end(p) : -1, log_bytes(pdst));
			klog_part_close(p);
			klog_dir_close(d);
		}
		ok(fails > 0 && fails + whole == 12, "a write failing during append_raw: ENOSPC "
		    "leaves nothing, EIO what was synced (%d failed, %d went through)", fails, whole);
	}
	klog_buf_free(&cmd);
	ok(bad == 0 && olds > 0 && news > 0, "power loss at %d points of a truncate: the old log "
	    "(%d) or the new one (%d), valid, writable", runs, olds, news);
}

int
main(int argc, char **argv)
{
	struct klog_dir *da, *db;
	struct klog_part *a, *b;
	char pa[PATH_MAX + 32], pb[PATH_MAX + 32];
	int i;

	if (argc == 4 && !strcmp(argv[1], "truncate"))
		return child_truncate(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "copy"))
		return child_copy(argv[2], argv[3]);
	if (!realpath(argv[0], self))
		snprintf(self, sizeof self, "%s", argv[0]);
	snprintf(root, sizeof root, "/tmp/klog-t0082-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	klog_set_warn(quiet);
	klog_set_info(quiet);
	klog_builder_init(&bb, KLOG_CODEC_NONE);

	/* A: a leader's log, 4 KiB segments, epochs 0 then 3 */
	da = make_dir("a", "4096");
	db = make_dir("b", "4096");
	ok(da && db, "two log directories");
	if (!da || !db)
		return done_testing();
	snprintf(pa, sizeof pa, "%s/a/t-0", root);
	snprintf(pb, sizeof pb, "%s/b/t-0", root);
	a = open_part(da);
	b = open_part(db);
	ok(a && b, "open t-0 in both");
	if (!a || !b)
		return done_testing();
	ok(klog_part_epoch_assign(a, 0, 0, err) == 1, "leader: epoch 0 at 0");
	for (i = 0; i < 300; i += 5)
		if (append_n(a, "r", i, 5) < 0)
			break;
	ok(klog_part_epoch_assign(a, 3, 300, err) == 1, "leader: epoch 3 at 300");
	for (; i < 600; i += 5)
		if (append_n(a, "r", i, 5) < 0)
			break;
	cmp_ok(klog_part_log_end(a), ==, 600, "leader log end 600");
	cmp_ok(count_logs(pa), >, 3, "the leader rolled (%d segments)", count_logs(pa));

	/* copies, 7 batches a call */
	ok(copy_raw(a, b, 0, 7) == 0, "append_raw everything, 7 batches a call");
	cmp_ok(klog_part_log_end(b), ==, 600, "follower log end 600");
	ok(same_logs(pa, pb), "the .log files are byte-identical, across rolls");
	is(epochs_str(b), "0@0 3@300", "the follower's epochs come from the batches");
	ok(records_ok(b, 0, 600), "records read back");
	ok(verified(pb), "the follower's directory verifies (indexes too)");

	/* refusals, with nothing written */
	{
		unsigned char *x, *two;
		size_t len;
		int64_t bytes = log_bytes(pb);

		build("r", 600, 5, 1, &x, &len);
		two = malloc(2 * len + 10);
		klog_batch_set_base_offset(x, 605);
		ok(klog_part_append_raw(b, x, len, err) < 0 && errno == ERANGE &&
		    strstr(err, "does not follow log end 600"), "a gap: %s", err);
		klog_batch_set_base_offset(x, 598);
		ok(klog_part_append_raw(b, x, len, err) < 0 && errno == ERANGE,
		    "an overlap: %s", err);
		klog_batch_set_base_offset(x, 600);
		memcpy(two, x, len);
		memcpy(two + len, x, len);
		klog_batch_set_base_offset(two + len, 606);
		ok(klog_part_append_raw(b, two, 2 * len, err) < 0 && errno == ERANGE &&
		    strstr(err, "does not follow the batch before"), "a gap between batches: %s", err);
		klog_batch_set_base_offset(two + len, 605);
		two[len + 70] ^= 1;
		ok(klog_part_append_raw(b, two, 2 * len, err) < 0 && errno == EILSEQ &&
		    strstr(err, "CRC"), "a bad CRC in the second batch: %s", err);
		two[len + 70] ^= 1;
		memset(two + 2 * len, 0x41, 10);
		ok(klog_part_append_raw(b, two, 2 * len + 10, err) < 0 && errno == EILSEQ,
		    "a tail that is not a batch: %s", err);
		cmp_ok(klog_part_log_end(b), ==, 600, "the log end did not move");
		cmp_ok(log_bytes(pb), ==, bytes, "not a byte was written");
		ok(klog_part_append_raw(b, two, 2 * len, err) == 0 && klog_part_log_end(b) == 610,
		    "the two good batches go in");
		ok(klog_part_append_raw(b, two, 0, err) == 0, "nothing is fine");
		free(x);
		free(two);
	}

	/* truncation */
	{
		int64_t e610 = klog_part_log_end(b);
		struct klog_part *r;

		cmp_ok(e610, ==, 610, "follower at 610");
		ok(klog_part_truncate(b, 600, err) == 0 && klog_part_log_end(b) == 600,
		    "truncate at a batch boundary, 600");
		ok(same_logs(pa, pb), "the log is the leader's again");
		cmp_ok(klog_part_truncate(b, 592, err), ==, 1, "truncate inside a batch: 1 (%s)", err);
		cmp_ok(klog_part_log_end(b), ==, 590, "to the batch's base, 590");
		ok(records_ok(b, 0, 590), "records up to 590");
		ok(copy_raw(a, b, 590, 3) == 0 && same_logs(pa, pb), "copy again from 590: identical");
		ok(klog_part_truncate(b, 45, err) == 0 && klog_part_log_end(b) == 45,
		    "truncate across segments, to 45");
		cmp_ok(count_logs(pb), ==, 1, "later segments deleted");
		is(epochs_str(b), "0@0", "epoch 3 is gone from the cache");
		ok(verified(pb), "the directory verifies");
		r = klog_part_open(db, "t", 0, KLOG_RDONLY, err);
		ok(r && records_ok(r, 0, 45), "a reader sees 45 records");
		klog_part_close(r);
		ok(copy_raw(a, b, 45, 11) == 0 && same_logs(pa, pb) && klog_part_log_end(b) == 600,
		    "copy again from 45: identical, end 600");
		is(epochs_str(b), "0@0 3@300", "epochs again from the batches");
		ok(klog_part_truncate(b, 300, err) == 0, "truncate to 300");
		klog_part_close(b);
		b = open_part(db);
		ok(b && klog_part_log_end(b) == 300 && records_ok(b, 0, 300),
		    "reopened (recovery): end 300");
		is(b ? epochs_str(b) : "", "0@0", "reopened: epochs 0@0");
		ok(b && klog_part_truncate(b, 700, err) == 0 && klog_part_log_end(b) == 300,
		    "truncate past the end: nothing");
		ok(verified(pb), "the directory verifies");
		ok(b && copy_raw(a, b, 300, 50) == 0 && same_logs(pa, pb), "and copies on");
	}

	/* reset */
	{
		ok(klog_part_reset(b, 1000, err) == 0, "reset to 1000");
		cmp_ok(klog_part_log_end(b), ==, 1000, "end 1000");
		cmp_ok(klog_part_log_start(b), ==, 1000, "start 1000");
		cmp_ok(count_logs(pb), ==, 0, "no segment left");
		is(epochs_str(b), "", "no epoch left");
		{
			unsigned char *x;
			size_t len;
			build("r", 1000, 5, 1, &x, &len);
			klog_batch_set_base_offset(x, 1000);
			klog_batch_set_leader_epoch(x, 7);
			ok(klog_part_append_raw(b, x, len, err) == 0 && klog_part_log_end(b) == 1005,
			    "append_raw at 1000");
			free(x);
		}
		is(epochs_str(b), "7@1000", "epoch 7 at 1000");
		klog_part_close(b);
		b = open_part(db);
		ok(b && klog_part_log_start(b) == 1000 && klog_part_log_end(b) == 1005,
		    "reopened: 1000 to 1005");
		ok(b && klog_part_truncate(b, 900, err) == 0 && klog_part_log_end(b) == 900 &&
		    klog_part_log_start(b) == 900, "truncate below the log start is a reset");
		klog_part_close(b);
		b = open_part(db);
		ok(b && klog_part_log_start(b) == 900 && klog_part_log_end(b) == 900,
		    "reopened: empty at 900");
	}
	/* a broker's partition: the lock held, the directory made at the first write */
	{
		struct klog_dir *dk = make_dir("k", "4096");
		char pk[PATH_MAX + 32];
		struct klog_part *k;
		int32_t fe;
		int64_t end;

		snprintf(pk, sizeof pk, "%s/k/t-0", root);
		run("rm -rf '%s'%s", pk, "");
		k = dk ? klog_part_open(dk, "t", 0, KLOG_WRITE | KLOG_BROKER, err) : NULL;
		ok(k != NULL, "broker: open a partition without its directory");
		if (k) {
			ok(klog_part_epoch_end(k, 1, &fe, &end, err) == 0 && fe == -1,
			    "broker: no epochs, no directory");
			cmp_ok(klog_part_epoch_assign(k, 2, 0, err), ==, 1,
			    "broker: a new leader's epoch 2 at 0 makes the directory");
			ok(copy_raw(a, k, 0, 13) == 0 && same_logs(pa, pk),
			    "broker: append_raw copies byte-identical segments");
			is(epochs_str(k), "2@0 3@300", "broker: epoch 0 batches are older: 2@0 3@300");
			cmp_ok(klog_part_truncate(k, 123, err), ==, 1, "broker: truncate inside a batch");
			cmp_ok(klog_part_log_end(k), ==, 120, "broker: end 120");
			ok(klog_part_sync(k, err) == 0, "broker: sync after");
			ok(copy_raw(a, k, 120, 100) == 0 && same_logs(pa, pk), "broker: copies on");
			klog_part_close(k);
			k = klog_part_open(dk, "t", 0, KLOG_WRITE | KLOG_BROKER, err);
			ok(k && klog_part_log_end(k) == 600 && records_ok(k, 0, 600) && verified(pk),
			    "broker: reopened at 600");
			ok(k && klog_part_reset(k, 50, err) == 0 && klog_part_log_end(k) == 50,
			    "broker: reset to 50");
			klog_part_close(k);
			k = klog_part_open(dk, "t", 0, KLOG_WRITE | KLOG_BROKER, err);
			ok(k && klog_part_log_start(k) == 50 && klog_part_log_end(k) == 50,
			    "broker: reopened empty at 50");
			klog_part_close(k);
		}
		klog_dir_close(dk);
	}
	/* high watermarks */
	{
		struct klog_ckpt_entry e[2] = { { "t", 0, 17 }, { "u", 3, 99 } };
		char path[PATH_MAX + 64];
		int64_t hw = -1;

		ok(klog_hw_record(da, e, 2, err) == 0, "record two high watermarks at once");
		ok(klog_hw_get(da, "u", 3, &hw) == 1 && hw == 99, "u-3 at 99");
		ok(klog_hw_get(da, "t", 1, &hw) == 0, "t-1 has none");
		snprintf(path, sizeof path, "%s/a/replication-offset-checkpoint", root);
		ok(slurp_eq(path, "0\n2\nt 0 17\nu 3 99\n"), "replication-offset-checkpoint in "
		    "Kafka's format");
	}
	klog_part_close(a);
	klog_part_close(b);
	klog_dir_close(da);
	klog_dir_close(db);

	test_epochs();
	test_retention();
	test_sigkill(getenv("T0082_ROUNDS") ? atoi(getenv("T0082_ROUNDS")) : 40);
	test_powerloss();

	if (!getenv("T0082_KEEP"))
		run("rm -rf '%s'%s", root, "");
	return done_testing();
}
