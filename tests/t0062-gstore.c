/* klog - tests for the embedded commit store (gstore.c), and its driver for shell tests. MIT licence. */
/*
 * With no argument: TAP tests of klog_gstore_* in a scratch directory.
 * With arguments it is a small driver for the shell tests (t7020):
 *
 *   t0062-gstore.t commit DIR GROUP TOPIC PARTITION OFFSET [TOPIC PARTITION OFFSET]...
 *   t0062-gstore.t load DIR GROUP         "TOPIC PARTITION OFFSET" per line
 *   t0062-gstore.t groups DIR             one group a line
 *   t0062-gstore.t delete DIR GROUP
 *   t0062-gstore.t partition GROUP        klog_offsets_partition(GROUP)
 *   t0062-gstore.t raw DIR GROUP KEYHEX VALUEHEX|null
 *        append one record of these bytes to GROUP's partition
 *   t0062-gstore.t damaged DIR GROUP TOPIC PARTITION OFFSET CUT
 *        append (one CRC-valid batch) an offset commit whose value lost
 *        its last CUT bytes
 *
 * Warnings go to stderr as "warning: MSG"; errors "t0062-gstore: MSG",
 * exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char warned[4096];
static int nwarn;

static void
onwarn(const char *msg)
{
	nwarn++;
	snprintf(warned, sizeof warned, "%s", msg);
}

static void
stderr_warn(const char *msg)
{
	fprintf(stderr, "warning: %s\n", msg);
}

/* append one batch of raw records (key, value; vlen -1 null) to the group's partition */
static int
append_raw(struct klog_dir *d, const char *group, const void *k, int32_t klen, const void *v,
    int32_t vlen, char *err)
{
	struct klog_builder bb;
	struct klog_part *p;
	unsigned char *out;
	size_t len;
	int64_t first, last;
	int rc = -1;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (!(p = klog_part_open(d, KLOG_OFFSETS_TOPIC, klog_offsets_partition(group), KLOG_WRITE,
	    err)))
		goto out;
	if (klog_builder_add(&bb, klog_now_ms(), k, klen, v, vlen, NULL, 0) < 0 ||
	    klog_builder_finish(&bb, &out, &len, err) < 0 ||
	    klog_part_append(p, out, len, &first, &last, err) < 0 || klog_part_sync(p, err) < 0)
		goto out;
	rc = 0;
out:
	if (p)
		klog_part_close(p);
	klog_builder_free(&bb);
	return rc;
}

/* a commit record for (group, topic, partition, offset) whose value is cut short */
static int
append_damaged(struct klog_dir *d, const char *group, const char *topic, int partition,
    int64_t offset, size_t cut, char *err)
{
	struct klog_orec o = {0};
	struct klog_buf k = {0}, v = {0};
	int rc;

	o.kind = KLOG_OREC_COMMIT;
	o.value_version = 3;
	o.group = (char *)group;
	o.topic = (char *)topic;
	o.partition = partition;
	o.offset = offset;
	o.leader_epoch = -1;
	o.metadata = "";
	o.commit_ts = klog_now_ms();
	if (klog_orec_encode(&o, &k, &v, err) < 0)
		return -1;
	if (cut > v.len)
		cut = v.len;
	rc = append_raw(d, group, k.data, (int32_t)k.len, v.data, (int32_t)(v.len - cut), err);
	klog_buf_free(&k);
	klog_buf_free(&v);
	return rc;
}

/* hex text to bytes; -1 on junk */
static int32_t
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned x;

	for (; s[0] && s[1] && n < max; s += 2) {
		if (sscanf(s, "%2x", &x) != 1)
			return -1;
		out[n++] = (unsigned char)x;
	}
	return *s ? -1 : (int32_t)n;
}

static int
driver(int argc, char **argv)
{
	struct klog_dir *d = NULL;
	char err[KLOG_ERRLEN];
	int64_t v;
	int rc = 1, i;

	klog_set_warn(stderr_warn);
	if (!strcmp(argv[1], "partition") && argc == 3) {
		printf("%d\n", klog_offsets_partition(argv[2]));
		return 0;
	}
	if (argc < 3 || !(d = klog_dir_open(argv[2], 0, err))) {
		fprintf(stderr, "t0062-gstore: %s\n", argc < 3 ? "usage" : err);
		return argc < 3 ? 2 : 1;
	}
	if (!strcmp(argv[1], "commit") && argc >= 7 && (argc - 4) % 3 == 0) {
		size_t n = (size_t)(argc - 4) / 3;
		struct klog_gcommit *c = calloc(n, sizeof *c);
		for (i = 0; c && i < (int)n; i++) {
			c[i].topic = argv[4 + 3 * i];
			c[i].partition = atoi(argv[5 + 3 * i]);
			if (klog_parse_i64(argv[6 + 3 * i], &v) < 0) {
				fprintf(stderr, "t0062-gstore: bad offset '%s'\n", argv[6 + 3 * i]);
				goto out;
			}
			c[i].offset = v;
		}
		if (c && klog_gstore_commit(d, argv[3], c, n, err) == 0)
			rc = 0;
		free(c);
	} else if (!strcmp(argv[1], "load") && argc == 4) {
		struct klog_gcommit *c;
		size_t n, k;
		if (klog_gstore_load(d, argv[3], &c, &n, err) == 0) {
			for (k = 0; k < n; k++)
				printf("%s %d %" PRId64 "\n", c[k].topic, c[k].partition, c[k].offset);
			klog_gcommits_free(c, n);
			rc = 0;
		}
	} else if (!strcmp(argv[1], "groups") && argc == 3) {
		char **names;
		size_t n, k;
		if (klog_gstore_groups(d, &names, &n, err) == 0) {
			for (k = 0; k < n; k++)
				printf("%s\n", names[k]);
			klog_strv_free(names, n);
			rc = 0;
		}
	} else if (!strcmp(argv[1], "delete") && argc == 4) {
		if (klog_gstore_delete(d, argv[3], err) == 0)
			rc = 0;
	} else if (!strcmp(argv[1], "raw") && argc == 6) {
		static unsigned char k[65536], val[65536];
		int32_t kn = unhex(argv[4], k, sizeof k), vn = -1;
		if (strcmp(argv[5], "null"))
			vn = unhex(argv[5], val, sizeof val);
		if (kn < 0 || (vn < 0 && strcmp(argv[5], "null"))) {
			fprintf(stderr, "t0062-gstore: bad hex\n");
			goto out;
		}
		if (append_raw(d, argv[3], k, kn, vn < 0 ? NULL : val, vn, err) == 0)
			rc = 0;
	} else if (!strcmp(argv[1], "damaged") && argc == 8) {
		if (klog_parse_i64(argv[6], &v) < 0)
			goto out;
		if (append_damaged(d, argv[3], argv[4], atoi(argv[5]), v, (size_t)atoi(argv[7]),
		    err) == 0)
			rc = 0;
	} else {
		fprintf(stderr, "t0062-gstore: usage\n");
		rc = 2;
		goto out;
	}
	if (rc == 1)
		fprintf(stderr, "t0062-gstore: %s\n", err);
out:
	klog_dir_close(d);
	return rc;
}

static char tmpdir[PATH_MAX];
static int64_t batches;

static void
count_batches(void *arg, const char *segment, const struct klog_verify_report *r)
{
	(void)arg;
	(void)segment;
	batches += r->bad ? -1000 : r->batches;
}

static int
load_str(struct klog_dir *d, const char *group, char *out, size_t n)
{
	struct klog_gcommit *c;
	char err[KLOG_ERRLEN];
	size_t k, i, len = 0;

	*out = 0;
	if (klog_gstore_load(d, group, &c, &k, err) < 0) {
		snprintf(out, n, "error: %s", err);
		return -1;
	}
	for (i = 0; i < k && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s:%d=%" PRId64, i ? " " : "",
		    c[i].topic, c[i].partition, c[i].offset);
	klog_gcommits_free(c, k);
	return 0;
}

static int
commit1(struct klog_dir *d, const char *group, const char *topic, int part, int64_t off)
{
	struct klog_gcommit c = { (char *)topic, part, off, 0 };
	char err[KLOG_ERRLEN];

	if (klog_gstore_commit(d, group, &c, 1, err) < 0) {
		diag("commit: %s", err);
		return -1;
	}
	return 0;
}

/* a group name other than g landing in g's partition */
static void
same_partition(const char *g, char *out, size_t n)
{
	int i, want = klog_offsets_partition(g);

	for (i = 0; i < 100000; i++) {
		snprintf(out, n, "other%d", i);
		if (klog_offsets_partition(out) == want && strcmp(out, g))
			return;
	}
}

static void
tests(void)
{
	struct klog_dir *d;
	struct klog_config cfg;
	struct klog_gcommit c[3] = {
		{ "orders", 2, 100, 0 }, { "orders", 0, 7, 0 }, { "billing", 1, 55, 0 }
	};
	char err[KLOG_ERRLEN], s[4096], other[64], path[PATH_MAX + 32], **names;
	size_t n;
	int fd;

	snprintf(tmpdir, sizeof tmpdir, "/tmp/t0062.XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("mkdtemp: %s", strerror(errno));
	klog_set_warn(onwarn);
	d = klog_dir_open(tmpdir, 0, err);
	ok(d != NULL, "open the scratch directory");
	if (!d)
		return;

	ok(load_str(d, "grp", s, sizeof s) == 0 && !*s, "load before any commit: nothing");
	ok(klog_gstore_groups(d, &names, &n, err) == 0 && n == 0, "no groups before any commit");
	ok(!klog_topic_exists(d, KLOG_OFFSETS_TOPIC), "... and no __consumer_offsets made");

	ok(klog_gstore_commit(d, "grp", c, 3, err) == 0, "commit three offsets");
	ok(klog_topic_load(d, KLOG_OFFSETS_TOPIC, &cfg, err) == 0 && cfg.partitions == 50 &&
	    cfg.compact, "... __consumer_offsets made: 50 partitions, compacted");
	load_str(d, "grp", s, sizeof s);
	is(s, "billing:1=55 orders:0=7 orders:2=100", "load: sorted by topic and partition");

	commit1(d, "grp", "orders", 2, 150);
	load_str(d, "grp", s, sizeof s);
	is(s, "billing:1=55 orders:0=7 orders:2=150", "a later commit wins");
	commit1(d, "grp", "orders", 0, -1);
	load_str(d, "grp", s, sizeof s);
	is(s, "billing:1=55 orders:2=150", "offset -1 writes a tombstone: the key is gone");

	same_partition("grp", other, sizeof other);
	commit1(d, other, "orders", 2, 9999);
	load_str(d, "grp", s, sizeof s);
	is(s, "billing:1=55 orders:2=150", "a group sharing the partition does not leak in");
	load_str(d, other, s, sizeof s);
	is(s, "orders:2=9999", "... and has its own offsets");
	ok(klog_gstore_groups(d, &names, &n, err) == 0 && n == 2 && !strcmp(names[0], "grp") &&
	    !strcmp(names[1], other), "groups: both, sorted");
	klog_strv_free(names, n);

	nwarn = 0;
	ok(append_damaged(d, "grp", "orders", 2, 5, 3, err) == 0, "append a CRC-valid record "
	    "whose value is cut short");
	load_str(d, "grp", s, sizeof s);
	is(s, "billing:1=55 orders:2=150", "... load skips it: the offset does not move");
	ok(nwarn == 1 && strstr(warned, "partition '__consumer_offsets-") &&
	    strstr(warned, "record at offset ") && strstr(warned, "field 'commitTimestamp'"),
	    "... with a warning naming the partition, offset and field");
	if (nwarn != 1)
		diag("warnings %d, last: %s", nwarn, warned);

	{
		/* a commit Kafka wrote: key v0, value v1 (with expireTimestamp) */
		static const unsigned char k[] = { 0, 0, 0, 3, 'g', 'r', 'p', 0, 6, 'o', 'r', 'd',
		    'e', 'r', 's', 0, 0, 0, 3 };
		static const unsigned char v[] = { 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 'm', 'd',
		    0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0, 0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 1 };
		static const unsigned char neg[] = { 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		ok(append_raw(d, "grp", k, sizeof k, v, sizeof v, err) == 0 &&
		    load_str(d, "grp", s, sizeof s) == 0 &&
		    !strcmp(s, "billing:1=55 orders:2=150 orders:3=256"),
		    "a key v0 / value v1 record (Kafka's older form) loads");
		nwarn = 0;
		ok(append_raw(d, "grp", k, sizeof k, neg, sizeof neg, err) == 0 &&
		    load_str(d, "grp", s, sizeof s) == 0 &&
		    !strcmp(s, "billing:1=55 orders:2=150 orders:3=256") && nwarn == 2 &&
		    strstr(warned, "negative"), "a negative offset is skipped with a warning "
		    "(the damaged record before it warns again)");
		if (nwarn != 2 || !strstr(warned, "negative"))
			diag("%d %s: %s", nwarn, s, warned);
		/* a group metadata record and a tombstone of it do not disturb offsets */
		static const unsigned char gk[] = { 0, 2, 0, 3, 'g', 'r', 'p' };
		ok(append_raw(d, "grp", gk, sizeof gk, NULL, -1, err) == 0 &&
		    load_str(d, "grp", s, sizeof s) == 0 &&
		    !strcmp(s, "billing:1=55 orders:2=150 orders:3=256"),
		    "a group metadata tombstone leaves the offsets alone");
	}

	ok(klog_gstore_delete(d, "grp", err) == 0, "delete the group");
	load_str(d, "grp", s, sizeof s);
	is(s, "", "... nothing loads after it");
	ok(klog_gstore_groups(d, &names, &n, err) == 0 && n == 1 && !strcmp(names[0], other),
	    "... groups lists only the other one");
	klog_strv_free(names, n);
	ok(klog_gstore_delete(d, "grp", err) < 0 && errno == ENOENT && strstr(err, "'grp'"),
	    "deleting it again: ENOENT naming the group");
	commit1(d, "grp", "orders", 1, 3);
	load_str(d, "grp", s, sizeof s);
	is(s, "orders:1=3", "a commit after the delete starts afresh");

	ok(klog_gstore_commit(d, "bad group", c, 1, err) < 0 && errno == EINVAL,
	    "an invalid group name: EINVAL");
	{
		struct klog_gcommit bad = { "orders", -1, 5, 0 };
		ok(klog_gstore_commit(d, "grp", &bad, 1, err) < 0 && errno == EINVAL,
		    "a negative partition: EINVAL");
		bad.partition = 0;
		bad.offset = -2;
		ok(klog_gstore_commit(d, "grp", &bad, 1, err) < 0 && errno == EINVAL,
		    "an offset below -1: EINVAL");
		bad.topic = "no/such";
		bad.offset = 1;
		ok(klog_gstore_commit(d, "grp", &bad, 1, err) < 0 && errno == EINVAL,
		    "an invalid topic name: EINVAL");
	}

	{
		/* many partitions in one commit */
		struct klog_gcommit *many = calloc(30000, sizeof *many);
		struct klog_gcommit *got;
		size_t k, bad = 0;
		for (k = 0; k < 30000; k++) {
			many[k].topic = "big";
			many[k].partition = (int)k;
			many[k].offset = (int64_t)k * 3;
		}
		ok(klog_gstore_commit(d, "many", many, 30000, err) == 0,
		    "commit 30000 partitions at once");
		snprintf(path, sizeof path, "%s/%s-%d", tmpdir, KLOG_OFFSETS_TOPIC,
		    klog_offsets_partition("many"));
		batches = 0;
		ok(klog_verify_path(path, NULL, count_batches, NULL, err) == 0 && batches == 2,
		    "... more than max.message.bytes: two batches, each within it");
		ok(klog_gstore_load(d, "many", &got, &n, err) == 0 && n == 30000,
		    "... all 30000 load");
		for (k = 0; k < n; k++)
			bad += got[k].partition != (int)k || got[k].offset != (int64_t)k * 3;
		cmp_ok(bad, ==, 0, "... each with its offset");
		klog_gcommits_free(got, n);
		free(many);
	}

	/* a broker serving the directory: embedded commits are refused */
	snprintf(path, sizeof path, "%s/kbrokerd.pid", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0 && write(fd, "4242 127.0.0.1:9\n", 17) == 17 && flock(fd, LOCK_EX) == 0) {
		ok(klog_gstore_commit(d, "grp", c, 1, err) < 0 && errno == EBUSY &&
		    strstr(err, "kbrokerd (4242 127.0.0.1:9)"),
		    "a commit while a broker holds the directory: EBUSY naming it");
		ok(klog_gstore_delete(d, "grp", err) < 0 && errno == EBUSY,
		    "... a delete too");
		load_str(d, "grp", s, sizeof s);
		is(s, "orders:1=3", "... loading still works");
	} else
		skip(3, "cannot fake a broker lock");
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	klog_dir_close(d);
}

int
main(int argc, char **argv)
{
	char cmd[PATH_MAX + 16];

	if (argc > 1)
		return driver(argc, argv);
	tests();
	if (tmpdir[0] && !tap_failed) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("cannot remove %s", tmpdir);
	}
	return done_testing();
}
