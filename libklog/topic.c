/* klog - topic names, topic configuration and the <topic>.topic file. MIT licence. */
/*
 * Topic names follow Kafka's rule: 1 to 249 bytes of [A-Za-z0-9._-],
 * and not "." or "..".  This is the one place a name is checked; nothing
 * else becomes a path.
 *
 * A topic NAME with N partitions is, in the log directory DIR:
 *
 *	DIR/NAME-0/ ... DIR/NAME-<N-1>/	partition directories (Kafka's layout)
 *	DIR/NAME.topic			its configuration (klog's own)
 *
 * The .topic file is UTF-8 text, one setting per line:
 *
 *	# klog topic configuration
 *	partitions=3
 *	segment.bytes=1073741824
 *	retention.ms=604800000
 *	...
 *
 * Lines are `key=value` with white space around key and value ignored;
 * blank lines and lines whose first non-blank character is '#' are
 * comments.  Keys are Kafka's topic config names (see klog_config_set
 * below) plus `partitions`; a key missing from the file keeps Kafka's
 * default (partitions: 1), a later line overrides an earlier one, and an
 * unknown key or bad value is an error naming the file and line.  klog
 * writes every key, partitions first, atomically (temp file, fsync,
 * rename, fsync dir), so the file is safe to edit by hand.
 *
 * A broker makes only NAME-0/ (the claim) when it creates or grows a
 * topic; the other partition directories are made at their first write
 * (klog_part_open), so a topic of 10,000 partitions costs one mkdir and
 * one file.  Readers take a partition directory that is not there yet,
 * below the topic's count, for an empty partition.
 *
 * Topics written by Apache Kafka have partition directories but no .topic
 * file: they read as Kafka's defaults with partitions = 1 + the highest
 * partition number found.  Altering such a topic writes its .topic file.
 *
 * Directory entries that are not exactly <valid topic>-<decimal> (Kafka's
 * "foo-0.<uuid>-delete", "-future", "-stray" directories, files) are not
 * partitions and are left alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* a guard against a typo creating a million directories */
#define MAX_PARTITIONS 100000

int
klog_topic_name_check(const char *name, char *err)
{
	size_t len, i;

	if (!name || !*name) {
		errno = EINVAL;
		return kerr(err, "invalid topic name '': empty");
	}
	len = strlen(name);
	if (len > KLOG_TOPIC_MAX) {
		errno = EINVAL;
		return kerr(err, "invalid topic name '%.40s...': too long (%zu bytes, max %d)",
		    name, len, KLOG_TOPIC_MAX);
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		errno = EINVAL;
		return kerr(err, "invalid topic name '%s': '.' and '..' not allowed", name);
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			continue;
		errno = EINVAL;
		if (c < 0x20 || c >= 0x7f)
			return kerr(err, "invalid topic name '%s': illegal character 0x%02x",
			    name, c);
		return kerr(err, "invalid topic name '%s': illegal character '%c'", name, c);
	}
	return 0;
}

void
klog_config_defaults(struct klog_config *c)
{
	memset(c, 0, sizeof *c);
	c->partitions = 1;
	c->segment_bytes = 1073741824;
	c->segment_ms = 604800000;
	c->retention_ms = 604800000;
	c->retention_bytes = -1;
	c->max_message_bytes = 1048588;
	c->index_interval_bytes = 4096;
	c->segment_index_bytes = 10485760;
	c->compact = 0;
	c->log_append_time = 0;
	c->compression = -1;
	c->delete_retention_ms = 86400000;
	c->min_cleanable_dirty_ratio = 0.5;
	c->min_insync_replicas = 1;
	c->unclean_leader_election = 0;
}

/* compression.type values; "uncompressed" is Kafka's spelling of none */
static const struct {
	const char *name;
	int codec;
} codecs[] = {
	{ "producer", -1 },
	{ "none", KLOG_CODEC_NONE },
	{ "uncompressed", KLOG_CODEC_NONE },
	{ "gzip", KLOG_CODEC_GZIP },
	{ "snappy", KLOG_CODEC_SNAPPY },
	{ "lz4", KLOG_CODEC_LZ4 },
	{ "zstd", KLOG_CODEC_ZSTD },
};

static const char *
compression_name(int codec)
{
	size_t i;

	for (i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
		if (codecs[i].codec == codec)
			return codecs[i].name;
	return "producer";
}

/* the integer settings: Kafka's name, where it lives, its range */
struct intkey {
	const char *name;
	size_t off;
	int64_t min, max;
};
#define IK(n, f, lo, hi) { n, offsetof(struct klog_config, f), lo, hi }
static const struct intkey intkeys[] = {
	IK("segment.bytes", segment_bytes, 14, INT32_MAX),
	IK("segment.ms", segment_ms, 1, INT64_MAX),
	IK("retention.ms", retention_ms, -1, INT64_MAX),
	IK("retention.bytes", retention_bytes, -1, INT64_MAX),
	IK("max.message.bytes", max_message_bytes, 0, INT32_MAX),
	IK("index.interval.bytes", index_interval_bytes, 0, INT32_MAX),
	IK("segment.index.bytes", segment_index_bytes, 8, INT32_MAX),
	IK("delete.retention.ms", delete_retention_ms, 0, INT64_MAX),
	IK("min.insync.replicas", min_insync_replicas, 1, INT32_MAX),
};
#undef IK

int
klog_config_set(struct klog_config *c, const char *key, const char *value, char *err)
{
	int64_t v;
	size_t i;

	errno = EINVAL;
	if (!strcmp(key, "partitions")) {
		if (klog_parse_i64(value, &v) < 0 || v < 1 || v > MAX_PARTITIONS)
			goto bad;
		c->partitions = (int)v;
		return 0;
	}
	for (i = 0; i < sizeof intkeys / sizeof intkeys[0]; i++) {
		if (strcmp(key, intkeys[i].name))
			continue;
		if (klog_parse_i64(value, &v) < 0 || v < intkeys[i].min || v > intkeys[i].max)
			goto bad;
		*(int64_t *)((char *)c + intkeys[i].off) = v;
		return 0;
	}
	if (!strcmp(key, "cleanup.policy")) {
		if (!strcmp(value, "delete"))
			c->compact = 0;
		else if (!strcmp(value, "compact"))
			c->compact = 1;
		else if (!strcmp(value, "compact,delete") || !strcmp(value, "delete,compact"))
			c->compact = 2;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "min.cleanable.dirty.ratio")) {
		char *end;
		double d;
		errno = 0;
		d = strtod(value, &end);
		if (errno || end == value || *end || !(d >= 0 && d <= 1))
			goto bad;
		c->min_cleanable_dirty_ratio = d;
		return 0;
	}
	if (!strcmp(key, "message.timestamp.type")) {
		if (!strcmp(value, "CreateTime"))
			c->log_append_time = 0;
		else if (!strcmp(value, "LogAppendTime"))
			c->log_append_time = 1;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "unclean.leader.election.enable")) {
		if (!strcmp(value, "true"))
			c->unclean_leader_election = 1;
		else if (!strcmp(value, "false"))
			c->unclean_leader_election = 0;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "compression.type")) {
		for (i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
			if (!strcmp(value, codecs[i].name)) {
				c->compression = codecs[i].codec;
				return 0;
			}
		}
		goto bad;
	}
	return kerr(err, "unknown topic config '%s'", key);
bad:
	errno = EINVAL;
	return kerr(err, "bad value '%s' for '%s'", value, key);
}

int
klog_config_format(const struct klog_config *c, struct klog_buf *out)
{
	size_t i;

	if (klog_buf_printf(out, "partitions=%d\n", c->partitions) < 0)
		return -1;
	for (i = 0; i < sizeof intkeys / sizeof intkeys[0]; i++)
		if (klog_buf_printf(out, "%s=%lld\n", intkeys[i].name,
		    (long long)*(const int64_t *)((const char *)c + intkeys[i].off)) < 0)
			return -1;
	if (klog_buf_printf(out, "cleanup.policy=%s\n"
	    "min.cleanable.dirty.ratio=%g\n"
	    "message.timestamp.type=%s\n"
	    "compression.type=%s\n"
	    "unclean.leader.election.enable=%s\n",
	    c->compact == 2 ? "compact,delete" : c->compact ? "compact" : "delete",
	    c->min_cleanable_dirty_ratio,
	    c->log_append_time ? "LogAppendTime" : "CreateTime",
	    compression_name(c->compression),
	    c->unclean_leader_election ? "true" : "false") < 0)
		return -1;
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = 0;
	return s;
}

/* apply "key=value" strings (from a command line) to c */
static int
apply_kv(struct klog_config *c, char **kv, int nkv, char *err)
{
	char buf[1024];
	char *eq;
	int i;

	for (i = 0; i < nkv; i++) {
		if (snprintf(buf, sizeof buf, "%s", kv[i]) >= (int)sizeof buf) {
			errno = EINVAL;
			return kerr(err, "bad config '%.40s...': too long", kv[i]);
		}
		if (!(eq = strchr(buf, '='))) {
			errno = EINVAL;
			return kerr(err, "bad config '%s': expected key=value", kv[i]);
		}
		*eq = 0;
		if (klog_config_set(c, trim(buf), trim(eq + 1), err) < 0)
			return -1;
	}
	return 0;
}

static int
topic_path(struct klog_dir *d, const char *name, char *buf, size_t n, char *err)
{
	if (snprintf(buf, n, "%s/%s.topic", d->path, name) >= (int)n) {
		errno = ENAMETOOLONG;
		return kerr_sys(err, "topic '%s'", name);
	}
	return 0;
}

/* parse the text of a .topic file into c (already holding defaults) */
static int
parse_topic_file(char *text, const char *fname, struct klog_config *c, char *err)
{
	char msg[KLOG_ERRLEN];
	char *line, *next, *eq, *s;
	int lineno = 0;

	for (line = text; line && *line; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')))
			*next++ = 0;
		s = trim(line);
		if (*s == 0 || *s == '#')
			continue;
		if (!(eq = strchr(s, '='))) {
			errno = EINVAL;
			return kerr(err, "topic file '%s' line %d: expected key=value", fname, lineno);
		}
		*eq = 0;
		if (klog_config_set(c, trim(s), trim(eq + 1), msg) < 0) {
			errno = EINVAL;
			return kerr(err, "topic file '%s' line %d: %s", fname, lineno, msg);
		}
	}
	return 0;
}

/*
 * Is ent "<name>-<n>" with n canonical decimal?  Returns n, or -1.  When
 * name is NULL any valid topic name matches and its length goes to *tlen.
 */
static long
partition_of(const char *ent, const char *name, size_t *tlen)
{
	const char *dash = strrchr(ent, '-'), *p;
	size_t len;
	long n = 0;

	if (!dash || dash == ent || !dash[1])
		return -1;
	len = (size_t)(dash - ent);
	if (name && (strlen(name) != len || strncmp(ent, name, len)))
		return -1;
	if (dash[1] == '0' && dash[2])
		return -1;
	for (p = dash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || n > INT32_MAX / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (n > INT32_MAX)
		return -1;
	if (!name) {
		char tmp[KLOG_TOPIC_MAX + 1];
		if (len > KLOG_TOPIC_MAX)
			return -1;
		memcpy(tmp, ent, len);
		tmp[len] = 0;
		if (klog_topic_name_check(tmp, NULL) < 0)
			return -1;
	}
	if (tlen)
		*tlen = len;
	return n;
}

static int
is_dir_at(int dfd, const struct dirent *e)
{
	struct stat st;

	if (e->d_type == DT_DIR)
		return 1;
	if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
		return 0;
	return fstatat(dfd, e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int
is_file_at(int dfd, const struct dirent *e)
{
	struct stat st;

	if (e->d_type == DT_REG)
		return 1;
	if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
		return 0;
	return fstatat(dfd, e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* open a fresh stream over the directory (the klog_dir's fd stays put) */
static DIR *
open_listing(struct klog_dir *d, char *err)
{
	DIR *dp;
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(dp = fdopendir(fd))) {
		kerr_sys(err, "log directory '%s'", d->path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return dp;
}

/* highest partition directory number of topic name, -1 if none; -2 on error */
static long
max_partition_dir(struct klog_dir *d, const char *name, char *err)
{
	struct dirent *e;
	long n, max = -1;
	DIR *dp;

	if (!(dp = open_listing(d, err)))
		return -2;
	while ((e = readdir(dp)))
		if ((n = partition_of(e->d_name, name, NULL)) > max && is_dir_at(dirfd(dp), e))
			max = n;
	closedir(dp);
	return max;
}

int
klog_topic_exists(struct klog_dir *d, const char *name)
{
	char buf[KLOG_TOPIC_MAX + 16];
	struct stat st;

	if (klog_topic_name_check(name, NULL) < 0)
		return 0;
	snprintf(buf, sizeof buf, "%s.topic", name);
	if (fstatat(d->fd, buf, &st, 0) == 0)
		return 1;
	snprintf(buf, sizeof buf, "%s-0", name);
	return fstatat(d->fd, buf, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* load; *has_file says whether the .topic file exists */
static int
topic_load(struct klog_dir *d, const char *name, struct klog_config *c, int *has_file,
    char *err)
{
	char path[PATH_MAX], fname[KLOG_TOPIC_MAX + 16];
	char *text = NULL;
	long max;
	int r;

	*has_file = 0;
	if (klog_topic_name_check(name, err) < 0)
		return -1;
	klog_config_defaults(c);
	if (topic_path(d, name, path, sizeof path, err) < 0)
		return -1;
	if (klog_read_file(path, &text, NULL, err) == 0) {
		*has_file = 1;
		snprintf(fname, sizeof fname, "%s.topic", name);
		r = parse_topic_file(text, fname, c, err);
		free(text);
		return r;
	}
	if (errno != ENOENT)
		return -1;
	if ((max = max_partition_dir(d, name, err)) == -2)
		return -1;
	if (max < 0) {
		errno = ENOENT;
		return kerr(err, "no such topic '%s'", name);
	}
	c->partitions = (int)max + 1;
	/* Kafka's internal topics are always compacted */
	if (!strcmp(name, "__consumer_offsets") || !strcmp(name, "__transaction_state"))
		c->compact = 1;
	return 0;
}

int
klog_topic_load(struct klog_dir *d, const char *name, struct klog_config *c, char *err)
{
	int has_file;

	return topic_load(d, name, c, &has_file, err);
}

static int
write_topic_file(struct klog_dir *d, const char *name, const struct klog_config *c,
    char *err)
{
	struct klog_buf b = {0};
	char path[PATH_MAX];
	int r = -1;

	if (topic_path(d, name, path, sizeof path, err) < 0)
		return -1;
	if (klog_buf_printf(&b, "# klog topic configuration\n") < 0 ||
	    klog_config_format(c, &b) < 0) {
		kerr_sys(err, "topic '%s'", name);
		goto out;
	}
	r = klog_write_atomic(path, b.data, b.len, err);
out:
	klog_buf_free(&b);
	return r;
}

/*
 * Create partition directories from..to-1.  With existing_ok an existing
 * directory counts as created (a concurrent alter got there first).
 */
static int
make_partitions(struct klog_dir *d, const char *name, int from, int to, int existing_ok,
    char *err)
{
	char buf[KLOG_TOPIC_MAX + 16];
	int i, j;

	for (i = from; i < to; i++) {
		snprintf(buf, sizeof buf, "%s-%d", name, i);
		if (mkdirat(d->fd, buf, 0755) == 0 || (existing_ok && errno == EEXIST))
			continue;
		if (errno == EEXIST && i == 0)
			kerr(err, "topic '%s' already exists", name);
		else
			kerr_sys(err, "cannot create partition directory '%s'", buf);
		/* undo what this call made: the new directories are empty */
		for (j = from; j < i && !existing_ok; j++) {
			int e = errno;
			snprintf(buf, sizeof buf, "%s-%d", name, j);
			unlinkat(d->fd, buf, AT_REMOVEDIR);
			errno = e;
		}
		return -1;
	}
	return 0;
}

/* a topic made or removed keeps no recovery point or log start of an
 * earlier topic of its name: a stale one would make a partition directory
 * not made yet look lost (partition.c, kp_dir_missing) */
static int
forget_checkpoints(struct klog_dir *d, const char *name, char *err)
{
	struct klog_ckpt_entry e = { .partition = -1, .offset = -1 };

	snprintf(e.topic, sizeof e.topic, "%s", name);
	if (klog_ckpt_update_many(d, "recovery-point-offset-checkpoint", &e, 1, err) < 0 ||
	    klog_ckpt_update_many(d, "log-start-offset-checkpoint", &e, 1, err) < 0)
		return -1;
	return 0;
}

/* partitions <= 0: from kv ("partitions=N") or the default, 1; lazy:
 * only NAME-0 now, the others at their first write */
int
ktopic_create(struct klog_dir *d, const char *name, int partitions, char **kv, int nkv,
    int lazy, char *err)
{
	struct klog_config c;
	char buf[KLOG_TOPIC_MAX + 16];
	int i;

	if (klog_topic_name_check(name, err) < 0)
		return -1;
	klog_config_defaults(&c);
	if (apply_kv(&c, kv, nkv, err) < 0)
		return -1;
	if (partitions > 0) {
		if (partitions > MAX_PARTITIONS) {
			errno = EINVAL;
			return kerr(err, "topic '%s': too many partitions (%d, max %d)",
			    name, partitions, MAX_PARTITIONS);
		}
		c.partitions = partitions;
	}
	if (klog_topic_exists(d, name)) {
		errno = EEXIST;
		return kerr(err, "topic '%s' already exists", name);
	}
	/* mkdir NAME-0 is the atomic claim against a concurrent create */
	if (make_partitions(d, name, 0, lazy ? 1 : c.partitions, 0, err) < 0)
		return -1;
	if (forget_checkpoints(d, name, err) < 0 || write_topic_file(d, name, &c, err) < 0) {
		/* the rename may have happened before a failed directory sync:
		 * a topic refused must not exist */
		int e = errno;
		snprintf(buf, sizeof buf, "%s.topic", name);
		unlinkat(d->fd, buf, 0);
		for (i = 0; i < c.partitions; i++) {
			snprintf(buf, sizeof buf, "%s-%d", name, i);
			unlinkat(d->fd, buf, AT_REMOVEDIR);
		}
		errno = e;
		return -1;
	}
	return klog_fsync_dir(d->path, err);
}

int
klog_topic_create(struct klog_dir *d, const char *name, int partitions,
    char **kv, int nkv, char *err)
{
	return ktopic_create(d, name, partitions, kv, nkv, 0, err);
}

/* partitions <= 0: unchanged, unless kv says "partitions=N"; lazy: new
 * partition directories are made at their first write */
int
ktopic_alter(struct klog_dir *d, const char *name, int partitions, char **kv, int nkv,
    int lazy, char *err)
{
	struct klog_config c;
	int has_file, old;

	if (topic_load(d, name, &c, &has_file, err) < 0)
		return -1;
	old = c.partitions;
	if (apply_kv(&c, kv, nkv, err) < 0)
		return -1;
	if (partitions > 0)
		c.partitions = partitions;
	if (c.partitions > MAX_PARTITIONS) {
		errno = EINVAL;
		return kerr(err, "topic '%s': too many partitions (%d, max %d)",
		    name, c.partitions, MAX_PARTITIONS);
	}
	if (c.partitions < old) {
		errno = EINVAL;
		return kerr(err, "topic '%s' has %d partitions; cannot shrink to %d",
		    name, old, c.partitions);
	}
	if (!lazy && make_partitions(d, name, old, c.partitions, 1, err) < 0)
		return -1;
	if (write_topic_file(d, name, &c, err) < 0) {
		/* the new partition directories go again (empty ones only),
		 * unless the new file made it in before the failure */
		struct klog_config now;
		char buf[KLOG_TOPIC_MAX + 16];
		int e = errno, i;
		if (!lazy && (topic_load(d, name, &now, &has_file, NULL) < 0 || now.partitions == old))
			for (i = old; i < c.partitions; i++) {
				snprintf(buf, sizeof buf, "%s-%d", name, i);
				unlinkat(d->fd, buf, AT_REMOVEDIR);
			}
		errno = e;
		return -1;
	}
	return klog_fsync_dir(d->path, err);
}

int
klog_topic_alter(struct klog_dir *d, const char *name, int partitions,
    char **kv, int nkv, char *err)
{
	return ktopic_alter(d, name, partitions, kv, nkv, 0, err);
}

/* remove every file of a partition directory, then the directory */
static int
remove_partition(struct klog_dir *d, const char *ent, char *err)
{
	struct dirent *e;
	DIR *dp;
	int fd;

	if ((fd = openat(d->fd, ent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(dp = fdopendir(fd))) {
		kerr_sys(err, "cannot open partition directory '%s'", ent);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(dp), e->d_name, 0) < 0 && errno != ENOENT) {
			kerr_sys(err, "cannot remove '%s/%s'", ent, e->d_name);
			closedir(dp);
			return -1;
		}
	}
	closedir(dp);
	if (unlinkat(d->fd, ent, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kerr_sys(err, "cannot remove partition directory '%s'", ent);
	return 0;
}

int
klog_topic_delete(struct klog_dir *d, const char *name, char *err)
{
	char **ents = NULL, **tmp;
	size_t n = 0, cap = 0, i;
	char fname[KLOG_TOPIC_MAX + 16];
	struct dirent *e;
	int found = 0, r = -1;
	DIR *dp;

	if (klog_topic_name_check(name, err) < 0)
		return -1;
	/* collect first: removing while readdir walks is unspecified */
	if (!(dp = open_listing(d, err)))
		return -1;
	while ((e = readdir(dp))) {
		if (partition_of(e->d_name, name, NULL) < 0 || !is_dir_at(dirfd(dp), e))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(tmp = realloc(ents, cap * sizeof *ents)))
				goto nomem;
			ents = tmp;
		}
		if (!(ents[n] = strdup(e->d_name)))
			goto nomem;
		n++;
	}
	closedir(dp);
	dp = NULL;
	for (i = 0; i < n; i++) {
		if (remove_partition(d, ents[i], err) < 0)
			goto out;
		found = 1;
	}
	snprintf(fname, sizeof fname, "%s.topic", name);
	if (unlinkat(d->fd, fname, 0) == 0)
		found = 1;
	else if (errno != ENOENT) {
		kerr_sys(err, "cannot remove '%s'", fname);
		goto out;
	}
	if (!found) {
		errno = ENOENT;
		kerr(err, "no such topic '%s'", name);
		goto out;
	}
	if (forget_checkpoints(d, name, err) < 0)
		goto out;
	r = klog_fsync_dir(d->path, err);
	goto out;
nomem:
	kerr_sys(err, "log directory '%s'", d->path);
out:
	if (dp)
		closedir(dp);
	klog_strv_free(ents, n);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
klog_topic_list(struct klog_dir *d, char ***names, size_t *np, char *err)
{
	char **v = NULL, **tmp;
	size_t n = 0, cap = 0, i, j, len;
	struct dirent *e;
	DIR *dp;

	*names = NULL;
	*np = 0;
	if (!(dp = open_listing(d, err)))
		return -1;
	while ((e = readdir(dp))) {
		const char *s = e->d_name;
		size_t sl = strlen(s);

		if (sl > 6 && !strcmp(s + sl - 6, ".topic")) {
			len = sl - 6;
			if (len > KLOG_TOPIC_MAX || !is_file_at(dirfd(dp), e))
				continue;
		} else if (partition_of(s, NULL, &len) < 0 || !is_dir_at(dirfd(dp), e)) {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(tmp = realloc(v, cap * sizeof *v)))
				goto nomem;
			v = tmp;
		}
		if (!(v[n] = strndup(s, len)))
			goto nomem;
		if (klog_topic_name_check(v[n], NULL) < 0) {
			free(v[n]);
			continue;
		}
		n++;
	}
	closedir(dp);
	if (n)
		qsort(v, n, sizeof *v, cmp_str);
	for (i = j = 0; i < n; i++) {
		if (j > 0 && !strcmp(v[j - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	*names = v;
	*np = j;
	return 0;
nomem:
	kerr_sys(err, "log directory '%s'", d->path);
	closedir(dp);
	klog_strv_free(v, n);
	return -1;
}
