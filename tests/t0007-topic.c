/* klog - tests for log directories, topic names, configuration and topic files. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

#define FIXTURE "../shared/fixtures/kafka-logdir"

static char tmpdir[64];

static void
rm_rf(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		diag("cannot remove %s", path);
}

static int
is_dir(const char *fmt, const char *a)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, fmt, tmpdir, a);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
exists(const char *fmt, const char *a)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, fmt, tmpdir, a);
	return stat(path, &st) == 0;
}

static void
write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		diag("cannot write %s", path);
}

static void
test_names(void)
{
	char err[KLOG_ERRLEN], name[300];

	ok(klog_topic_name_check("../x", err) < 0, "'../x' refused");
	is(err, "invalid topic name '../x': illegal character '/'", "... says why");
	ok(klog_topic_name_check("a/b", err) < 0, "'a/b' refused");
	ok(klog_topic_name_check("", err) < 0, "empty name refused");
	is(err, "invalid topic name '': empty", "... says why");
	ok(klog_topic_name_check(".", err) < 0, "'.' refused");
	is(err, "invalid topic name '.': '.' and '..' not allowed", "... says why");
	ok(klog_topic_name_check("..", err) < 0, "'..' refused");
	ok(klog_topic_name_check("a b", err) < 0, "space refused");
	ok(klog_topic_name_check("caf\xc3\xa9", err) < 0, "non-ASCII refused");
	ok(klog_topic_name_check("a\nb", NULL) < 0, "newline refused (NULL err)");
	memset(name, 'a', 250);
	name[250] = 0;
	ok(klog_topic_name_check(name, err) < 0, "250 bytes refused");
	ok(strstr(err, "too long (250 bytes, max 249)") != NULL, "... says why: %s", err);
	name[249] = 0;
	ok(klog_topic_name_check(name, err) == 0, "249 bytes accepted");
	ok(klog_topic_name_check("orders", err) == 0, "'orders' accepted");
	ok(klog_topic_name_check("my.topic_v2-x", err) == 0, "'.', '_' and '-' accepted");
	ok(klog_topic_name_check("...", err) == 0, "'...' accepted (Kafka allows it)");
	ok(klog_topic_name_check("__consumer_offsets", err) == 0, "'__consumer_offsets' accepted");
}

static void
test_config(void)
{
	struct klog_config c, c2;
	struct klog_buf b = {0};
	char err[KLOG_ERRLEN];

	klog_config_defaults(&c);
	cmp_ok(c.partitions, ==, 1, "default partitions 1");
	cmp_ok(c.segment_bytes, ==, 1073741824, "default segment.bytes");
	cmp_ok(c.segment_ms, ==, 604800000, "default segment.ms");
	cmp_ok(c.retention_ms, ==, 604800000, "default retention.ms");
	cmp_ok(c.retention_bytes, ==, -1, "default retention.bytes");
	cmp_ok(c.max_message_bytes, ==, 1048588, "default max.message.bytes");
	cmp_ok(c.index_interval_bytes, ==, 4096, "default index.interval.bytes");
	cmp_ok(c.segment_index_bytes, ==, 10485760, "default segment.index.bytes");
	cmp_ok(c.compact, ==, 0, "default cleanup.policy delete");
	cmp_ok(c.log_append_time, ==, 0, "default CreateTime");
	cmp_ok(c.compression, ==, -1, "default compression producer");

	ok(klog_config_set(&c, "foo", "1", err) < 0, "unknown key refused");
	is(err, "unknown topic config 'foo'", "... message");
	ok(klog_config_set(&c, "segment.bytes", "x", err) < 0, "junk value refused");
	is(err, "bad value 'x' for 'segment.bytes'", "... message");
	ok(klog_config_set(&c, "segment.bytes", "13", err) < 0, "segment.bytes 13 refused");
	ok(klog_config_set(&c, "segment.bytes", "4294967296", err) < 0,
	    "segment.bytes above 2^31-1 refused");
	ok(klog_config_set(&c, "segment.ms", "0", err) < 0, "segment.ms 0 refused");
	ok(klog_config_set(&c, "retention.ms", "-2", err) < 0, "retention.ms -2 refused");
	ok(klog_config_set(&c, "segment.index.bytes", "7", err) < 0, "segment.index.bytes 7 refused");
	ok(klog_config_set(&c, "partitions", "0", err) < 0, "partitions 0 refused");
	ok(klog_config_set(&c, "cleanup.policy", "shred", err) < 0, "cleanup.policy shred refused");
	ok(klog_config_set(&c, "compression.type", "brotli", err) < 0, "compression brotli refused");
	ok(klog_config_set(&c, "message.timestamp.type", "createtime", err) < 0,
	    "timestamp type is case-sensitive");
	ok(klog_config_set(&c, "segment.bytes", "", err) < 0, "empty value refused");
	cmp_ok(c.segment_bytes, ==, 1073741824, "refused values left config alone");

	ok(klog_config_set(&c, "partitions", "3", err) == 0 &&
	    klog_config_set(&c, "segment.bytes", "14", err) == 0 &&
	    klog_config_set(&c, "segment.ms", "1", err) == 0 &&
	    klog_config_set(&c, "retention.ms", "-1", err) == 0 &&
	    klog_config_set(&c, "retention.bytes", "1000000", err) == 0 &&
	    klog_config_set(&c, "max.message.bytes", "0", err) == 0 &&
	    klog_config_set(&c, "index.interval.bytes", "100", err) == 0 &&
	    klog_config_set(&c, "segment.index.bytes", "8", err) == 0 &&
	    klog_config_set(&c, "cleanup.policy", "compact", err) == 0 &&
	    klog_config_set(&c, "message.timestamp.type", "LogAppendTime", err) == 0 &&
	    klog_config_set(&c, "compression.type", "zstd", err) == 0, "every key settable");
	cmp_ok(c.segment_bytes, ==, 14, "segment.bytes set");
	cmp_ok(c.compression, ==, KLOG_CODEC_ZSTD, "compression set");
	klog_config_defaults(&c2);
	ok(klog_config_set(&c2, "compression.type", "uncompressed", err) == 0 &&
	    c2.compression == KLOG_CODEC_NONE, "'uncompressed' is none");

	klog_config_format(&c, &b);
	klog_buf_append(&b, "", 1);
	is((char *)b.data,
	    "partitions=3\n"
	    "segment.bytes=14\n"
	    "segment.ms=1\n"
	    "retention.ms=-1\n"
	    "retention.bytes=1000000\n"
	    "max.message.bytes=0\n"
	    "index.interval.bytes=100\n"
	    "segment.index.bytes=8\n"
	    "delete.retention.ms=86400000\n"
	    "min.insync.replicas=1\n"
	    "cleanup.policy=compact\n"
	    "min.cleanable.dirty.ratio=0.5\n"
	    "message.timestamp.type=LogAppendTime\n"
	    "compression.type=zstd\n"
	    "unclean.leader.election.enable=false\n", "format prints every key, partitions first");
	klog_buf_free(&b);
}

static void
test_dir(void)
{
	char err[KLOG_ERRLEN], path[PATH_MAX], who[64];
	struct klog_dir *d;
	int fd;

	snprintf(path, sizeof path, "%s/nope", tmpdir);
	ok(!klog_dir_open(path, 0, err), "missing directory refused without KLOG_CREATE");
	ok(strstr(err, "log directory '") && strstr(err, "nope': No such file or directory"),
	    "... message: %s", err);
	snprintf(path, sizeof path, "%s/a/b/c/", tmpdir);
	d = klog_dir_open(path, KLOG_CREATE, err);
	ok(d != NULL, "KLOG_CREATE makes nested directories");
	ok(is_dir("%s/%s", "a/b/c"), "... they exist");
	if (d)
		is(klog_dir_path(d), path, "klog_dir_path");
	klog_dir_close(d);
	snprintf(path, sizeof path, "%s/a", tmpdir);
	ok((d = klog_dir_open(path, KLOG_CREATE, err)) != NULL, "KLOG_CREATE on existing dir");
	klog_dir_close(d);
	write_file("plain", "x");
	snprintf(path, sizeof path, "%s/plain", tmpdir);
	ok(!klog_dir_open(path, 0, err) && strstr(err, "Not a directory"),
	    "a file is not a log directory: %s", err);

	d = klog_dir_open(tmpdir, 0, err);
	ok(d != NULL, "open temp dir");
	if (!d)
		return;
	ok(klog_dir_broker(d, who, sizeof who) == 0, "no kbrokerd.pid: no broker");
	write_file("kbrokerd.pid", "4242 127.0.0.1:9092\n");
	ok(klog_dir_broker(d, who, sizeof who) == 0, "unlocked kbrokerd.pid: no broker");
	snprintf(path, sizeof path, "%s/kbrokerd.pid", tmpdir);
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && flock(fd, LOCK_EX) == 0, "take the broker lock");
	ok(klog_dir_broker(d, who, sizeof who) == 1, "locked kbrokerd.pid: broker");
	is(who, "4242 127.0.0.1:9092", "... who, trimmed");
	ok(klog_dir_broker(d, who, 5) == 1 && !strcmp(who, "4242"), "... truncated to n");
	close(fd);
	ok(klog_dir_broker(d, who, sizeof who) == 0, "lock released: no broker");
	unlink(path);
	klog_dir_close(d);
}

static void
test_topics(void)
{
	char err[KLOG_ERRLEN], path[PATH_MAX], *text;
	char *kv[] = { "retention.ms=1000", " cleanup.policy = compact " };
	char *badkv[] = { "retention.ms" };
	char *unk[] = { "foo=1" };
	char *grow[] = { "segment.bytes=2048" };
	struct klog_config c;
	struct klog_dir *d;
	char **names;
	size_t n;

	d = klog_dir_open(tmpdir, 0, err);
	ok(d != NULL, "open temp dir");
	if (!d)
		return;
	ok(klog_topic_create(d, "../x", 1, NULL, 0, err) < 0, "create refuses a bad name");
	ok(klog_topic_create(d, "orders", 1, badkv, 1, err) < 0, "create refuses kv without '='");
	is(err, "bad config 'retention.ms': expected key=value", "... message");
	ok(klog_topic_create(d, "orders", 1, unk, 1, err) < 0, "create refuses unknown key");
	is(err, "unknown topic config 'foo'", "... message");
	ok(!klog_topic_exists(d, "orders"), "failed creates left nothing");

	ok(klog_topic_create(d, "orders", 3, kv, 2, err) == 0, "create orders, 3 partitions");
	ok(is_dir("%s/%s", "orders-0") && is_dir("%s/%s", "orders-2") &&
	    !exists("%s/%s", "orders-3"), "... partition directories 0..2");
	ok(exists("%s/%s", "orders.topic"), "... orders.topic");
	ok(klog_topic_exists(d, "orders"), "exists");
	ok(!klog_topic_exists(d, "nope"), "'nope' does not exist");
	ok(!klog_topic_exists(d, ".."), "'..' does not exist");
	errno = 0;
	ok(klog_topic_create(d, "orders", 1, NULL, 0, err) < 0 && errno == EEXIST,
	    "create again: EEXIST");
	is(err, "topic 'orders' already exists", "... message");

	ok(klog_topic_load(d, "orders", &c, err) == 0, "load orders");
	cmp_ok(c.partitions, ==, 3, "... 3 partitions");
	cmp_ok(c.retention_ms, ==, 1000, "... retention.ms from kv");
	cmp_ok(c.compact, ==, 1, "... cleanup.policy with spaces trimmed");
	cmp_ok(c.segment_bytes, ==, 1073741824, "... segment.bytes default");
	snprintf(path, sizeof path, "%s/orders.topic", tmpdir);
	if (klog_read_file(path, &text, NULL, err) == 0) {
		ok(!strncmp(text, "# klog topic configuration\npartitions=3\n", 40),
		    "file starts with comment and partitions");
		free(text);
	} else {
		ok(0, "read orders.topic: %s", err);
	}

	errno = 0;
	ok(klog_topic_load(d, "nope", &c, err) < 0 && errno == ENOENT, "load missing: ENOENT");
	is(err, "no such topic 'nope'", "... message");

	/* a hand-edited file: comments, blank lines, spaces, a later override */
	write_file("edited.topic", "# hand written\n\n  partitions = 2  \nsegment.ms=5\n"
	    "\t# indented comment\nsegment.ms = 7\n");
	if (!ok(klog_topic_load(d, "edited", &c, err) == 0, "load hand-edited file"))
		diag("%s", err);
	cmp_ok(c.partitions, ==, 2, "... partitions");
	cmp_ok(c.segment_ms, ==, 7, "... later line wins");
	write_file("broken.topic", "partitions=1\n\nsegment.bytes=big\n");
	ok(klog_topic_load(d, "broken", &c, err) < 0, "bad value in file refused");
	is(err, "topic file 'broken.topic' line 3: bad value 'big' for 'segment.bytes'",
	    "... names file and line");
	write_file("broken.topic", "# x\nno equals sign\n");
	ok(klog_topic_load(d, "broken", &c, err) < 0, "line without '=' refused");
	is(err, "topic file 'broken.topic' line 2: expected key=value", "... names file and line");
	write_file("broken.topic", "colour=blue\n");
	ok(klog_topic_load(d, "broken", &c, err) < 0, "unknown key in file refused");
	is(err, "topic file 'broken.topic' line 1: unknown topic config 'colour'", "... message");

	/* a topic written by Kafka: partition dirs only */
	snprintf(path, sizeof path, "%s/kafka-0", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/kafka-4", tmpdir);
	mkdir(path, 0755);
	write_file("kafka-4/00000000000000000000.log", "");
	ok(klog_topic_exists(d, "kafka"), "partition dir alone makes a topic");
	ok(klog_topic_load(d, "kafka", &c, err) == 0, "load kafka-written topic");
	cmp_ok(c.partitions, ==, 5, "... partitions = 1 + highest");
	cmp_ok(c.retention_ms, ==, 604800000, "... defaults");

	/* entries that are not partitions */
	snprintf(path, sizeof path, "%s/x-0.abc-delete", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/y-01", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/z-", tmpdir);
	mkdir(path, 0755);
	write_file("file-0", "");
	write_file("t.topic.tmp", "");
	snprintf(path, sizeof path, "%s/dir.topic", tmpdir);
	mkdir(path, 0755);

	ok(klog_topic_list(d, &names, &n, err) == 0, "list");
	cmp_ok(n, ==, 4, "... 4 topics, look-alikes ignored");
	if (n == 4) {
		is(names[0], "broken", "... broken");
		is(names[1], "edited", "... edited");
		is(names[2], "kafka", "... kafka");
		is(names[3], "orders", "... orders (once: file and dirs)");
	} else {
		for (size_t i = 0; i < n; i++)
			diag("got %s", names[i]);
	}
	klog_strv_free(names, n);

	/* alter */
	ok(klog_topic_alter(d, "orders", 2, NULL, 0, err) < 0, "shrink refused");
	is(err, "topic 'orders' has 3 partitions; cannot shrink to 2", "... message");
	ok(klog_topic_alter(d, "orders", 0, unk, 1, err) < 0, "alter with unknown key refused");
	ok(klog_topic_alter(d, "nope", 2, NULL, 0, err) < 0, "alter missing topic refused");
	is(err, "no such topic 'nope'", "... message");
	ok(klog_topic_alter(d, "orders", 5, grow, 1, err) == 0, "grow to 5, set segment.bytes");
	ok(is_dir("%s/%s", "orders-3") && is_dir("%s/%s", "orders-4"), "... new directories");
	ok(klog_topic_load(d, "orders", &c, err) == 0 && c.partitions == 5 &&
	    c.segment_bytes == 2048 && c.retention_ms == 1000, "... reloaded: 5, 2048, old kv kept");
	ok(klog_topic_alter(d, "orders", 0, NULL, 0, err) == 0, "alter with nothing to do");
	ok(klog_topic_load(d, "orders", &c, err) == 0 && c.partitions == 5, "... still 5");
	ok(!exists("%s/%s", "kafka.topic"), "kafka-written topic has no file");
	ok(klog_topic_alter(d, "kafka", 0, grow, 1, err) == 0, "alter kafka-written topic");
	ok(exists("%s/%s", "kafka.topic"), "... writes kafka.topic");
	ok(klog_topic_load(d, "kafka", &c, err) == 0 && c.partitions == 5 &&
	    c.segment_bytes == 2048, "... keeps 5 partitions, new segment.bytes");

	/* delete */
	write_file("orders-1/00000000000000000000.log", "data");
	write_file("orders-1/00000000000000000000.index", "");
	snprintf(path, sizeof path, "%s/orders-9", tmpdir);
	mkdir(path, 0755);
	if (!ok(klog_topic_delete(d, "orders", err) == 0, "delete orders"))
		diag("%s", err);
	ok(!exists("%s/%s", "orders-0") && !exists("%s/%s", "orders-1") &&
	    !exists("%s/%s", "orders-4") && !exists("%s/%s", "orders-9") &&
	    !exists("%s/%s", "orders.topic"), "... every directory and the file gone");
	ok(!klog_topic_exists(d, "orders"), "... does not exist");
	errno = 0;
	ok(klog_topic_delete(d, "orders", err) < 0 && errno == ENOENT, "delete again: ENOENT");
	is(err, "no such topic 'orders'", "... message");
	ok(exists("%s/%s", "x-0.abc-delete") && exists("%s/%s", "y-01"),
	    "look-alike entries untouched by delete");
	ok(klog_topic_delete(d, "kafka", err) == 0 && !klog_topic_exists(d, "kafka"),
	    "delete kafka topic");
	ok(klog_topic_delete(d, "../x", err) < 0, "delete refuses bad name");
	ok(klog_topic_create(d, "orders", 0, NULL, 0, err) == 0, "re-create orders, default");
	ok(klog_topic_load(d, "orders", &c, err) == 0 && c.partitions == 1 &&
	    c.retention_ms == 604800000, "... fresh config, 1 partition");
	klog_dir_close(d);
}

static void
test_fixture(void)
{
	char err[KLOG_ERRLEN];
	struct klog_config c;
	struct klog_dir *d;
	char **names;
	size_t n;

	if (access(FIXTURE, F_OK) != 0) {
		skip(5, "no Kafka fixture at %s", FIXTURE);
		return;
	}
	d = klog_dir_open(FIXTURE, 0, err);
	if (!ok(d != NULL, "open the Kafka fixture"))
		diag("%s", err);
	if (!d) {
		skip(4, "fixture did not open");
		return;
	}
	ok(klog_topic_list(d, &names, &n, err) == 0 && n == 2, "fixture lists 2 topics");
	ok(n == 2 && !strcmp(names[0], "__cluster_metadata") && !strcmp(names[1], "foo"),
	    "... __cluster_metadata and foo");
	klog_strv_free(names, n);
	ok(klog_topic_load(d, "foo", &c, err) == 0, "load foo");
	cmp_ok(c.partitions, ==, 1, "... 1 partition");
	klog_dir_close(d);
}

int
main(void)
{
	strcpy(tmpdir, "/tmp/klog-t0007-XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("cannot make a temp directory");
	plan(135);
	test_names();
	test_config();
	test_dir();
	test_topics();
	test_fixture();
	rm_rf(tmpdir);
	return done_testing();
}
