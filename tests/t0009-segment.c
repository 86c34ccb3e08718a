/* klog - tests for segment.c (names, walker, neighbour checks) and index.c (decode, build, check). MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"

static char tmpdir[64];

static struct klog_batch
batch(int64_t base, int32_t lod)
{
	struct klog_batch b;

	memset(&b, 0, sizeof b);
	b.base_offset = base;
	b.last_offset_delta = lod;
	b.count = lod + 1;
	b.length = 49;
	return b;
}

static int
check(int64_t base, int32_t lod, int64_t seg, int64_t prev, int64_t limit, int compacted,
    char *msg)
{
	struct klog_batch b = batch(base, lod);

	msg[0] = 0;
	return kseg_check_next(&b, seg, prev, limit, compacted, msg, KLOG_ERRLEN);
}

static void
test_names(void)
{
	char buf[KSEG_NAMELEN], topic[KLOG_TOPIC_MAX + 1];
	int part = -1;

	kseg_name(buf, sizeof buf, 4096, ".log");
	is(buf, "00000000000000004096.log", "kseg_name: 20 digits and the suffix");
	cmp_ok(kseg_parse_name("00000000000000004096.log", ".log"), ==, 4096, "parse it back");
	cmp_ok(kseg_parse_name("dir/foo-0/00000000000000004096.index", ".index"), ==, 4096,
	    "... the last component of a path");
	cmp_ok(kseg_parse_name("00000000000000004096.log", ".index"), ==, -1, "another suffix: -1");
	cmp_ok(kseg_parse_name("0000000000000004096.log", ".log"), ==, -1, "19 digits: -1");
	cmp_ok(kseg_parse_name("0000000000000000409x.log", ".log"), ==, -1, "a non-digit: -1");
	cmp_ok(kseg_parse_name("99999999999999999999.log", ".log"), ==, -1, "past INT64_MAX: -1");
	cmp_ok(kseg_parse_name("00000000000000004096.log.damaged", ".log"), ==, -1,
	    ".log.damaged is not a segment");
	ok(kseg_parse_partition("my.topic-12", topic, &part) && !strcmp(topic, "my.topic") &&
	    part == 12, "partition name split at the last '-'");
	ok(kseg_parse_partition("a-b-0", topic, &part) && !strcmp(topic, "a-b") && part == 0,
	    "... a topic with a dash");
	ok(!kseg_parse_partition("foo-", NULL, NULL) && !kseg_parse_partition("-0", NULL, NULL) &&
	    !kseg_parse_partition("foo-1x", NULL, NULL) && !kseg_parse_partition("foo", NULL, NULL),
	    "not partition names");
	ok(!kseg_parse_partition("foo-0.1234-delete", NULL, NULL), "Kafka's -delete directories are not");
	is(kseg_suffixes[0], ".index", "deletion order: indexes first");
	ok(kseg_suffixes[3] && !strcmp(kseg_suffixes[3], ".log") && !kseg_suffixes[4],
	    "... .log last");
}

static void
test_check_next(void)
{
	char msg[KLOG_ERRLEN];

	ok(check(0, 2, 0, -1, INT64_MAX, 0, msg) == 0, "first batch at the base offset");
	ok(check(1, 2, 0, -1, INT64_MAX, 0, msg) < 0, "strict: first batch above the base");
	ok(strstr(msg, "offset 1 of the segment's first batch is not its base offset 0") != NULL,
	    "... says so: %s", msg);
	ok(check(1, 2, 0, -1, INT64_MAX, 1, msg) == 0, "compacted: first batch above the base is fine");
	ok(check(100, 0, 100, 99, INT64_MAX, 0, msg) == 0, "a later segment's first batch");
	ok(check(5, 0, 0, 4, INT64_MAX, 0, msg) == 0, "contiguous");
	ok(check(7, 0, 0, 4, INT64_MAX, 0, msg) < 0 && strstr(msg, "offsets 5-6 missing"),
	    "strict: a gap: %s", msg);
	ok(check(7, 0, 0, 4, INT64_MAX, 1, msg) == 0, "compacted: a gap is fine");
	ok(check(4, 0, 0, 4, INT64_MAX, 1, msg) < 0 && strstr(msg, "not after"),
	    "compacted: not after the previous: %s", msg);
	ok(check(3, 0, 0, 4, INT64_MAX, 0, msg) < 0 && strstr(msg, "not after"),
	    "strict: backwards: %s", msg);
	ok(check(50, 0, 100, 99, INT64_MAX, 1, msg) < 0 && strstr(msg, "below the segment's base"),
	    "below the segment base: %s", msg);
	ok(check(200, 5, 100, KSEG_UNKNOWN, 203, 1, msg) < 0 && strstr(msg, "reach the next segment"),
	    "reaching the next segment's base: %s", msg);
	ok(check(200, 5, 100, KSEG_UNKNOWN, 206, 1, msg) == 0, "... just below it is fine");
	ok(check(150, 0, 100, KSEG_UNKNOWN, INT64_MAX, 0, msg) == 0,
	    "unknown previous batch: range checks only");
	ok(check(100 + (int64_t)INT32_MAX, 0, 100, KSEG_UNKNOWN, INT64_MAX, 1, msg) == 0,
	    "last offset 2^31-1 above the base is fine");
	ok(check(100 + (int64_t)INT32_MAX, 1, 100, KSEG_UNKNOWN, INT64_MAX, 1, msg) < 0 &&
	    strstr(msg, "2^31-1"), "... one more is not: %s", msg);
	ok(check(INT64_MAX - 1, 2, 0, KSEG_UNKNOWN, INT64_MAX, 1, msg) < 0 &&
	    strstr(msg, "runs past the largest offset"), "baseOffset + delta overflows: %s", msg);
	ok(check(INT64_MAX, 0, 0, INT64_MAX - 1, INT64_MAX, 0, msg) < 0,
	    "INT64_MAX is at the limit");
	ok(check(-5, 0, 0, -1, INT64_MAX, 1, msg) < 0 && strstr(msg, "negative"),
	    "a negative offset: %s", msg);
	ok(check(INT64_MIN, 3, 0, -1, INT64_MAX, 0, msg) < 0, "INT64_MIN: no overflow either");

	ok(kseg_check_end(0, 9, 10, 0, msg, sizeof msg) == 0, "end: last + 1 is the next base");
	ok(kseg_check_end(0, 7, 10, 0, msg, sizeof msg) < 0 && strstr(msg, "offsets 8-9 missing"),
	    "end: short sealed segment: %s", msg);
	ok(kseg_check_end(0, 7, 10, 1, msg, sizeof msg) == 0, "end: compacted may end short");
	ok(kseg_check_end(10, 9, 20, 0, msg, sizeof msg) < 0 && strstr(msg, "holds no batch"),
	    "end: an empty sealed segment: %s", msg);
	ok(kseg_check_end(0, 10, 10, 1, msg, sizeof msg) < 0, "end: overlap, even compacted");
}

static void
test_decode(void)
{
	unsigned char buf[64];
	struct klog_index_entry *e;
	size_t n, after;
	int torn;

	memset(buf, 0, sizeof buf);
	kindex_encode(buf, 0, 1000, 1056, 4123);
	kindex_encode(buf + 8, 0, 1000, 1100, 9000);
	ok(kindex_decode(buf, 16, 0, 1000, &e, &n, &torn, &after) == 0 && n == 2 && !torn &&
	    !after, "two offset entries");
	ok(n == 2 && e[0].offset == 1056 && e[0].position == 4123 && e[1].offset == 1100,
	    "... absolute offsets and positions");
	free(e);
	ok(kindex_decode(buf, 40, 0, 1000, &e, &n, &torn, &after) == 0 && n == 2 && !after,
	    "Kafka's zero padding ends the list");
	free(e);
	ok(kindex_decode(buf, 21, 0, 1000, &e, &n, &torn, &after) == 0 && n == 2 && torn,
	    "a torn last entry");
	free(e);
	kindex_encode(buf + 24, 0, 1000, 1200, 12000);
	ok(kindex_decode(buf, 32, 0, 1000, &e, &n, &torn, &after) == 0 && n == 2 && after == 1,
	    "an entry after a zero entry is damage, not padding");
	free(e);
	memset(buf, 0, sizeof buf);
	ok(kindex_decode(buf, 8, 0, 0, &e, &n, &torn, &after) == 0 && n == 1 && e[0].offset == 0,
	    "a first entry (0, 0) is an entry");
	free(e);
	kindex_encode(buf, 1, 50, 52, 1725272041932LL);
	ok(kindex_decode(buf, 12, 1, 50, &e, &n, &torn, &after) == 0 && n == 1 &&
	    e[0].offset == 52 && e[0].position == 1725272041932LL, "a time entry");
	free(e);
	ok(kindex_decode(buf, 0, 1, 50, &e, &n, &torn, &after) == 0 && n == 0 && !e,
	    "an empty file");
}

static void
collect(void *arg, const char *msg)
{
	(*(int *)arg)++;
}

static void
test_builder_and_check(void)
{
	struct kindex_builder ib;
	struct kindex_check c;
	struct klog_index_entry *e;
	struct klog_batch b[6];
	int64_t pos[6], p = 0;
	size_t n, after;
	int i, torn, nbad = 0;

	/* six 100-byte batches of 2 offsets; timestamps 10 30 20 40 40 50 */
	static const int64_t ts[6] = { 10, 30, 20, 40, 40, 50 };
	kindex_builder_init(&ib, 0, 150);
	for (i = 0; i < 6; i++) {
		b[i] = batch(i * 2, 1);
		b[i].length = 88;
		b[i].max_timestamp = ts[i];
		pos[i] = p;
		ok(kindex_builder_add(&ib, &b[i], p) == 0, "add batch %d", i);
		p += 100;
	}
	/* entries when more than 150 bytes since the last: before batches 2 and 4 */
	cmp_ok(ib.entries, ==, 2, "two offset entries (every 200 bytes past 150)");
	ok(kindex_decode(ib.ix.data, ib.ix.len, 0, 0, &e, &n, &torn, &after) == 0 && n == 2 &&
	    e[0].offset == 5 && e[0].position == 200 && e[1].offset == 9 && e[1].position == 400,
	    "... (5, 200) and (9, 400): the batch's last offset and its position");
	free(e);
	ok(kindex_decode(ib.tx.data, ib.tx.len, 1, 0, &e, &n, &torn, &after) == 0 && n == 2 &&
	    e[0].position == 30 && e[0].offset == 3 && e[1].position == 40 && e[1].offset == 7,
	    "time entries: (30, 3) and (40, 7), the largest timestamp so far");
	free(e);
	ok(kindex_builder_seal(&ib) == 0 && ib.tentries == 3, "seal adds the last time entry");
	ok(kindex_decode(ib.tx.data, ib.tx.len, 1, 0, &e, &n, &torn, &after) == 0 && n == 3 &&
	    e[2].position == 50 && e[2].offset == 11, "... (50, 11)");
	free(e);

	/* the builder's entries pass the checks */
	kindex_decode(ib.ix.data, ib.ix.len, 0, 0, &e, &n, &torn, &after);
	kindex_check_init(&c, 0, 0, e, n, collect, &nbad);
	kindex_check_entries(&c);
	for (i = 0; i < 6; i++)
		kindex_check_batch(&c, &b[i], pos[i]);
	kindex_check_end(&c);
	cmp_ok(nbad, ==, 0, "a built index passes its checks");
	/* an entry pointing into a batch, and one past the last offset */
	e[0].position = 250;
	nbad = 0;
	kindex_check_init(&c, 0, 0, e, n, collect, &nbad);
	for (i = 0; i < 6; i++)
		kindex_check_batch(&c, &b[i], pos[i]);
	kindex_check_end(&c);
	cmp_ok(nbad, ==, 1, "an entry not at a batch start is found");
	e[0].position = 200;
	e[1].offset = 40;
	nbad = 0;
	kindex_check_init(&c, 0, 0, e, n, collect, &nbad);
	for (i = 0; i < 6; i++)
		kindex_check_batch(&c, &b[i], pos[i]);
	kindex_check_end(&c);
	cmp_ok(nbad, ==, 1, "an entry past the segment's last offset is found");
	free(e);
	kindex_builder_free(&ib);
}

/* a segment file of n batches, each of `recs` one-byte records */
static int
write_segment(const char *path, int n, int recs, int64_t base)
{
	struct klog_builder bb;
	unsigned char *out;
	size_t len;
	char err[KLOG_ERRLEN];
	int fd, i, j;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return -1;
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	for (i = 0; i < n; i++) {
		for (j = 0; j < recs; j++)
			klog_builder_add(&bb, 1000 + i, NULL, -1, "x", 1, NULL, 0);
		if (klog_builder_finish(&bb, &out, &len, err) < 0)
			return -1;
		klog_batch_set_base_offset(out, base);
		base += recs;
		if (write(fd, out, len) != (ssize_t)len)
			return -1;
		klog_builder_reset(&bb);
	}
	klog_builder_free(&bb);
	return close(fd);
}

static void
test_walk(void)
{
	char path[PATH_MAX], err[KLOG_ERRLEN], nm[KSEG_NAMELEN];
	struct kseg_walk w;
	int64_t *bases, size = 0, last = -1;
	size_t n;
	int r, count = 0, good = 1, dfd, fd;

	/* about 2.5 MiB of batches of 2000 records: windows refill mid-file */
	snprintf(path, sizeof path, "%s/00000000000000000100.log", tmpdir);
	ok(write_segment(path, 300, 2000, 100) == 0, "write a segment of 300 batches");
	ok(kseg_walk_open(&w, path, err) == 0, "walk it");
	while ((r = kseg_walk_next(&w)) == 1) {
		if (count == 0)
			size = (int64_t)klog_batch_size(&w.b);
		good = good && w.b.base_offset == last + 1 + (count ? 0 : 100) &&
		    w.pos == count * size && klog_batch_verify(w.p, &w.b, NULL) == 0;
		last = klog_batch_last(&w.b);
		count++;
		kseg_walk_skip(&w);
	}
	cmp_ok(r, ==, 0, "... to a clean end");
	cmp_ok(count, ==, 300, "... 300 batches");
	ok(good, "... each whole, CRC-valid, in order, at its position");
	ok(size * 300 > (2 << 20), "... more than two 1 MiB windows");
	kseg_walk_free(&w);

	/* a walk of a range of an fd the caller owns; a torn end */
	fd = open(path, O_RDONLY);
	kseg_walk_init(&w, fd, size * 10, size * 12 - 5);
	ok(kseg_walk_next(&w) == 1 && w.b.base_offset == 100 + 10 * 2000, "a range starts mid-file");
	kseg_walk_skip(&w);
	ok(kseg_walk_next(&w) == -1 && strstr(w.msg, "incomplete batch at byte") != NULL,
	    "a torn batch at the range's end: %s", w.msg);
	kseg_walk_free(&w);
	ok(fcntl(fd, F_GETFD) >= 0, "the caller's fd stays open");
	close(fd);

	/* list and delete */
	kseg_name(nm, sizeof nm, 5, ".log");
	snprintf(path, sizeof path, "%s/%s", tmpdir, nm);
	write_segment(path, 1, 1, 5);
	kseg_name(nm, sizeof nm, 5, ".index");
	snprintf(path, sizeof path, "%s/%s", tmpdir, nm);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	ok(kseg_list(dfd, "tmp", &bases, &n, err) == 0 && n == 2 && bases[0] == 5 &&
	    bases[1] == 100, "kseg_list: sorted base offsets");
	free(bases);
	ok(kseg_delete(dfd, "tmp", 5, err) == 0, "kseg_delete");
	ok(access(path, F_OK) < 0, "... removed the index");
	ok(kseg_list(dfd, "tmp", &bases, &n, err) == 0 && n == 1 && bases[0] == 100,
	    "... and the log");
	free(bases);
	ok(kseg_delete(dfd, "tmp", 5, err) == 0, "deleting again: missing files are fine");
	close(dfd);
}

int
main(void)
{
	char cmd[PATH_MAX];

	strcpy(tmpdir, "/tmp/klog-t0009-XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("cannot make a temp directory");
	plan(75);
	test_names();
	test_check_next();
	test_decode();
	test_builder_and_check();
	test_walk();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
