/* klog - unit tests of the partition engine (partition.c, index.c). MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN], lastwarn[4 * KLOG_ERRLEN];
static int nwarn;
static char lastinfo[KLOG_ERRLEN];

/* routine events: not warnings */
static void
oninfo(const char *msg)
{
	snprintf(lastinfo, sizeof lastinfo, "%s", msg);
}

static void
onwarn(const char *msg)
{
	size_t n = strlen(lastwarn);

	snprintf(lastwarn + n, sizeof lastwarn - n, "%s; ", msg);
	nwarn++;
	if (getenv("T0010_WARN"))
		fprintf(stderr, "warn: %s\n", msg);
}

/* one batch of n records "prefix-i" with timestamp ts */
static int
build(struct klog_builder *bb, const char *prefix, int first, int n, int64_t ts,
    unsigned char **out, size_t *len)
{
	char v[64];
	int i;

	klog_builder_reset(bb);
	for (i = 0; i < n; i++) {
		int l = snprintf(v, sizeof v, "%s-%06d", prefix, first + i);
		if (klog_builder_add(bb, ts, NULL, -1, v, l, NULL, 0) < 0)
			return -1;
	}
	return klog_builder_finish(bb, out, len, err);
}

static int64_t
append_n(struct klog_part *p, struct klog_builder *bb, const char *prefix, int first, int n,
    int64_t ts)
{
	unsigned char *b;
	size_t len;
	int64_t f, l;

	if (build(bb, prefix, first, n, ts, &b, &len) < 0)
		return -1;
	if (klog_part_append(p, b, len, &f, &l, err) < 0)
		return -1;
	return f;
}

/* read every record from `from`; check values "prefix-i" in order */
static int64_t
read_all(struct klog_part *p, int64_t from, const char *prefix, int first, int *bad)
{
	struct klog_buf buf = {0};
	struct klog_rec_iter it;
	struct klog_record r;
	struct klog_batch b;
	int64_t next = from, count = 0;
	char want[64];
	ssize_t n;

	klog_rec_iter_init0(&it);
	*bad = 0;
	while ((n = klog_part_read(p, next, 1 << 20, &buf, err)) > 0) {
		size_t off;
		for (off = 0; off < buf.len; off += klog_batch_size(&b)) {
			klog_batch_parse(buf.data + off, buf.len - off, &b, NULL);
			klog_rec_iter_start(&it, buf.data + off, &b, err);
			while (klog_rec_iter_next(&it, &r, err) == 1) {
				if (r.offset < next)
					continue;
				snprintf(want, sizeof want, "%s-%06d", prefix, (int)(first + count));
				if (r.offset != from + count || r.value_len != (int)strlen(want) ||
				    memcmp(r.value, want, (size_t)r.value_len))
					(*bad)++;
				count++;
				next = r.offset + 1;
			}
		}
		buf.len = 0;
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&buf);
	if (n < 0)
		diag("read error: %s", err);
	return n < 0 ? -1 : count;
}

static int
count_files(const char *dir, const char *suffix)
{
	char cmd[PATH_MAX + 64];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '%s$'", dir, suffix);
	if ((f = popen(cmd, "r"))) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static off_t
fsize(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

int
main(void)
{
	struct klog_builder bb;
	struct klog_dir *d;
	struct klog_part *p;
	struct klog_part_info info;
	char path[PATH_MAX + 64], *kv[4];
	int bad, i;
	int64_t off, f, now = klog_now_ms();

	snprintf(root, sizeof root, "/tmp/klog-t0010-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	klog_set_warn(onwarn);
	klog_set_info(oninfo);
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	d = klog_dir_open(root, KLOG_CREATE, err);
	ok(d != NULL, "open log directory");

	/* appends and reads */
	ok(klog_topic_create(d, "t", 1, NULL, 0, err) == 0, "create topic t");
	p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
	ok(p != NULL, "open t-0 for writing");
	for (i = 0; i < 100; i++)
		if (append_n(p, &bb, "r", i * 50, 50, now + i) != (int64_t)i * 50)
			break;
	cmp_ok(i, ==, 100, "100 appends of 50 records get contiguous offsets");
	ok(klog_part_info(p, &info, err) == 0 && info.log_end == 5000 && info.log_start == 0,
	    "log end is 5000");
	cmp_ok(read_all(p, 0, "r", 0, &bad), ==, 5000, "read back 5000 records");
	cmp_ok(bad, ==, 0, "every record in place");
	cmp_ok(read_all(p, 2345, "r", 2345, &bad), ==, 2655, "read from offset 2345");
	cmp_ok(bad, ==, 0, "records from the middle are the right ones");
	snprintf(path, sizeof path, "%s/t-0/00000000000000000000.index", root);
	ok(fsize(path) > 0 && fsize(path) % 8 == 0, "sparse index written (%jd bytes)", (intmax_t)fsize(path));
	{
		struct klog_index_entry *e;
		size_t n, j, okk = 1;
		if (klog_index_read(path, 0, 0, &e, &n, err) == 0) {
			for (j = 1; j < n; j++)
				okk &= e[j].offset > e[j - 1].offset && e[j].position > e[j - 1].position;
			ok(n >= 10 && okk, "index entries ascend (%zu entries)", n);
			free(e);
		} else
			ok(0, "read index: %s", err);
	}
	ok(klog_part_offset_for_time(p, now + 50, &off, err) == 0 && off == 2500,
	    "offset for time 1050 is 2500 (got %" PRId64 ")", off);
	ok(klog_part_offset_for_time(p, now + 99999, &off, err) == 0 && off == 5000,
	    "offset for a future time is the log end");
	klog_part_close(p);

	/* a torn last batch below the recovery point (the close recorded 5000):
	 * synced data is gone, and nothing is cut */
	snprintf(path, sizeof path, "%s/t-0/00000000000000000000.log", root);
	{
		off_t sz = fsize(path);
		ok(truncate(path, sz - 100) == 0, "tear the last batch");
		p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
		ok(p == NULL && errno == EILSEQ && strstr(err, "below the recovery point 5000") &&
		    strstr(err, "t-0/00000000000000000000.log"), "a writer refuses: %s", err);
		cmp_ok(fsize(path), ==, sz - 100, "and cuts nothing");
	}
	/* the same above the recovery point (a writer died before recording
	 * one): an unsynced tail, cut into .damaged with a warning */
	ok(klog_ckpt_update(d, "recovery-point-offset-checkpoint", "t", 0, 4000, err) == 0,
	    "recovery point back to 4000");
	nwarn = 0;
	lastwarn[0] = 0;
	p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
	ok(p != NULL && nwarn > 0 && strstr(lastwarn, "an unsynced, damaged tail"), "recovery warns: %s", lastwarn);
	ok(klog_part_info(p, &info, err) == 0 && info.log_end == 4950, "log end back to 4950");
	f = append_n(p, &bb, "r", 4950, 50, now + 200);
	cmp_ok(f, ==, 4950, "the next append continues at 4950");
	cmp_ok(read_all(p, 0, "r", 0, &bad), ==, 5000, "log whole again");
	cmp_ok(bad, ==, 0, "and intact");
	klog_part_close(p);
	snprintf(path, sizeof path, "%s/t-0/00000000000000000000.log.damaged", root);
	ok(fsize(path) > 0 && fsize(path) < 1000, "the cut bytes are kept (%jd)", (intmax_t)fsize(path));

	/* a lost index is rebuilt by the next writer, and only then */
	snprintf(path, sizeof path, "%s/t-0/00000000000000000000.index", root);
	{
		off_t before = fsize(path);
		unlink(path);
		lastwarn[0] = lastinfo[0] = 0;
		p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
		ok(p && strstr(lastinfo, "rebuilt the indexes") && fsize(path) == before,
		    "a missing index is rebuilt the same (%jd bytes): %s", (intmax_t)fsize(path), lastinfo);
		ok(lastwarn[0] == 0, "said as info, not as a warning: %s", lastwarn);
		klog_part_close(p);
		lastwarn[0] = lastinfo[0] = 0;
		p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
		ok(p && lastwarn[0] == 0 && lastinfo[0] == 0, "a clean reopen says nothing: %s%s",
		    lastwarn, lastinfo);
		klog_part_close(p);
	}
	snprintf(path, sizeof path, "%s/t-0/00000000000000000000.log", root);

	/* damage followed by valid data is refused, not truncated */
	{
		int fd = open(path, O_RDWR);
		unsigned char c;
		off_t sz = fsize(path);
		pread(fd, &c, 1, sz - 3000);
		c ^= 0x10;
		pwrite(fd, &c, 1, sz - 3000);
		close(fd);
		p = klog_part_open(d, "t", 0, KLOG_WRITE, err);
		if (!p)
			ok(strstr(err, "damaged") != NULL, "a flipped bit before the tail is refused: %s", err);
		else {
			/* the flip may fall in a batch before the last index entry: then a reader finds it */
			ok(read_all(p, 0, "r", 0, &bad) < 0 && strstr(err, "CRC"), "reader reports bad CRC: %s", err);
			klog_part_close(p);
		}
		cmp_ok(fsize(path), ==, sz, "nothing truncated");
	}

	/* rolls and retention */
	kv[0] = "segment.bytes=20000";
	kv[1] = "retention.bytes=40000";
	ok(klog_topic_create(d, "s", 1, kv, 2, err) == 0, "create topic s with small segments");
	p = klog_part_open(d, "s", 0, KLOG_WRITE, err);
	for (i = 0; i < 200; i++)
		if (append_n(p, &bb, "s", i * 20, 20, now + i) < 0)
			break;
	cmp_ok(i, ==, 200, "200 appends");
	klog_part_close(p);     /* a closing writer applies retention too */
	p = klog_part_open(d, "s", 0, KLOG_WRITE, err);
	snprintf(path, sizeof path, "%s/s-0", root);
	ok(count_files(path, ".log") >= 2 && count_files(path, ".log") <= 3,
	    "retention keeps about retention.bytes (%d segments)", count_files(path, ".log"));
	ok(klog_part_info(p, &info, err) == 0 && info.log_start > 0 && info.log_end == 4000,
	    "log start moved to %" PRId64 ", end 4000", info.log_start);
	cmp_ok(read_all(p, info.log_start, "s", (int)info.log_start, &bad), ==, 4000 - info.log_start,
	    "everything from the log start reads back");
	cmp_ok(bad, ==, 0, "in order");
	{
		struct klog_buf tb = {0};
		ok(klog_part_read(p, 0, 1000, &tb, err) < 0 && errno == ERANGE,
		    "reading below the log start is an error: %s", err);
		klog_buf_free(&tb);
	}
	klog_part_close(p);
	{
		struct klog_ckpt_entry *e;
		size_t n, j;
		int found = 0;
		snprintf(path, sizeof path, "%s/log-start-offset-checkpoint", root);
		if (klog_ckpt_read(path, &e, &n, err) == 0) {
			for (j = 0; j < n; j++)
				found |= !strcmp(e[j].topic, "s") && e[j].offset == info.log_start;
			free(e);
		}
		ok(found, "log-start-offset-checkpoint records the new log start");
	}

	/* max.message.bytes */
	kv[0] = "max.message.bytes=500";
	ok(klog_topic_create(d, "m", 1, kv, 1, err) == 0, "create topic m");
	p = klog_part_open(d, "m", 0, KLOG_WRITE, err);
	ok(append_n(p, &bb, "m", 0, 100, now) < 0 && errno == EMSGSIZE && strstr(err, "max.message.bytes"),
	    "an oversized batch is refused: %s", err);
	ok(append_n(p, &bb, "m", 0, 2, now) == 0, "a small one is taken");
	klog_part_close(p);

	/* concurrent writers from several processes */
	ok(klog_topic_create(d, "c", 1, NULL, 0, err) == 0, "create topic c");
	for (i = 0; i < 4; i++) {
		if (fork() == 0) {
			struct klog_dir *d2 = klog_dir_open(root, 0, err);
			struct klog_part *q = klog_part_open(d2, "c", 0, KLOG_WRITE, err);
			char pre[16];
			int j;
			snprintf(pre, sizeof pre, "w%d", i);
			for (j = 0; j < 300 && q; j++)
				if (append_n(q, &bb, pre, j * 5, 5, now) < 0)
					_exit(1);
			klog_part_close(q);
			_exit(q ? 0 : 1);
		}
	}
	{
		int st, fails = 0;
		while (wait(&st) > 0)
			fails += !WIFEXITED(st) || WEXITSTATUS(st);
		cmp_ok(fails, ==, 0, "4 writer processes succeed");
	}
	p = klog_part_open(d, "c", 0, KLOG_RDONLY, err);
	ok(p && klog_part_info(p, &info, err) == 0 && info.log_end == 6000, "6000 records, contiguous end");
	{
		struct klog_buf buf = {0};
		struct klog_rec_iter it;
		struct klog_record r;
		struct klog_batch b;
		int64_t next = 0, n = 0, gaps = 0;
		int seen[4] = {0}, order = 1;
		klog_rec_iter_init0(&it);
		while (klog_part_read(p, next, 1 << 20, &buf, err) > 0) {
			size_t o;
			for (o = 0; o < buf.len; o += klog_batch_size(&b)) {
				klog_batch_parse(buf.data + o, buf.len - o, &b, NULL);
				klog_rec_iter_start(&it, buf.data + o, &b, err);
				while (klog_rec_iter_next(&it, &r, err) == 1) {
					int w = r.value[1] - '0', k = atoi((const char *)r.value + 3);
					gaps += r.offset != n;
					order &= k == seen[w];
					seen[w]++;
					n++;
					next = r.offset + 1;
				}
			}
			buf.len = 0;
		}
		klog_rec_iter_free(&it);
		klog_buf_free(&buf);
		ok(n == 6000 && gaps == 0 && order, "every record once, offsets contiguous, writers in order");
	}
	klog_part_close(p);

	klog_builder_free(&bb);
	klog_dir_close(d);
	snprintf(path, sizeof path, "rm -rf '%s'", root);
	if (!tap_failed)
		system(path);
	else
		diag("kept %s", root);
	return done_testing();
}
