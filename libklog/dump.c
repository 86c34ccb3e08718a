/* klog - offline listing of segments, indexes and checkpoints (kdump). MIT licence. */
/*
 * Listing (klog_dump_path), one line per item, space-separated key=value:
 *
 *   batch pos=0 base=0 last=0 count=1 size=80 epoch=0 magic=2 crc=98ec18d3
 *         crc_ok=1 codec=none ts_type=create base_ts=.. max_ts=.. pid=0
 *         pepoch=0 seq=0 txn=0 control=0                  (one line)
 *     record offset=0 ts=.. key=.. value=.. headers=k=v,k=v (-r; two spaces)
 *       offsets commit group=G topic=T partition=P offset=N ...
 *                                    (-r, in a __consumer_offsets-N
 *                                     partition: the record decoded,
 *                                     offsets.c's text or JSON form; four
 *                                     spaces; "offsets error: WHY" when
 *                                     it does not decode)
 *   index offset=56 pos=4123                     (absolute offset, byte)
 *   timeindex ts=1725272041932 offset=2
 *   checkpoint topic=foo partition=0 offset=3    (directory checkpoints)
 *   checkpoint epoch=2 offset=3                  (leader-epoch-checkpoint)
 *   file DIR/foo-0/00000000000000000000.log      (before each file of a
 *                                                 directory, or on request)
 *
 * Keys, values and headers print bytes 0x20-0x7e as they are, '\' as
 * "\\" and every other byte as \xNN; a null key or value prints "null".
 * The formats listed are specified where they are implemented: segments
 * in segment.c and batch.c, indexes in index.c, checkpoints in
 * checkpoint.c.  A listing shows what is there, damage included (a batch
 * whose CRC fails has crc_ok=0); it stops, with an error, where a
 * segment cannot be walked further.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "internal.h"

#define OUT_FLUSH ((size_t)64 << 10)

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int
klog_file_kind(const char *path)
{
	const char *b = base_name(path);
	unsigned char h[64];
	ssize_t n;
	int fd, i;

	if (has_suffix(b, ".log"))
		return KLOG_FILE_LOG;
	if (has_suffix(b, ".index"))
		return KLOG_FILE_INDEX;
	if (has_suffix(b, ".timeindex"))
		return KLOG_FILE_TIMEINDEX;
	if (has_suffix(b, "-checkpoint"))
		return KLOG_FILE_CHECKPOINT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return KLOG_FILE_UNKNOWN;
	n = read(fd, h, sizeof h);
	close(fd);
	if (n <= 0)
		return KLOG_FILE_UNKNOWN;
	/* text: a version number alone on the first line */
	for (i = 0; i < n && h[i] >= '0' && h[i] <= '9'; i++)
		;
	if (i > 0 && i < n && h[i] == '\n')
		return KLOG_FILE_CHECKPOINT;
	if (n >= KLOG_BATCH_OVERHEAD && h[16] == 2)
		return KLOG_FILE_LOG;
	return KLOG_FILE_UNKNOWN;
}

static int
out_flush(struct klog_dump *dp, int force, char *err)
{
	if (!dp->out.len || (!force && dp->out.len < OUT_FLUSH))
		return 0;
	if (!dp->flush) {
		dp->out.len = 0;
		return 0;
	}
	if (dp->flush(dp->arg, &dp->out) < 0)
		return kerr_sys(err, "cannot write output");
	dp->out.len = 0;
	return 0;
}

static void
put_bytes(struct klog_buf *o, const unsigned char *p, int32_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *q;
	int32_t i;

	if (n < 0) {
		klog_buf_append(o, "null", 4);
		return;
	}
	if (klog_buf_reserve(o, (size_t)n * 4) < 0)
		return;
	q = o->data + o->len;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\\') {
			*q++ = '\\';
			*q++ = '\\';
		} else if (c >= 0x20 && c < 0x7f)
			*q++ = c;
		else {
			*q++ = '\\';
			*q++ = 'x';
			*q++ = (unsigned char)hex[c >> 4];
			*q++ = (unsigned char)hex[c & 15];
		}
	}
	o->len = (size_t)(q - o->data);
}

/* a record of __consumer_offsets, decoded: one more line under it */
static void
dump_orec(struct klog_dump *dp, const struct klog_record *r)
{
	struct klog_orec o;
	char e[KLOG_ERRLEN];

	klog_buf_append(&dp->out, "    offsets ", 12);
	if (klog_orec_decode(r->key, r->key_len, r->value, r->value_len, &o, e) < 0) {
		klog_buf_printf(&dp->out, "error: %s\n", e);
		return;
	}
	klog_orec_format(&o, !!(dp->flags & KLOG_DUMP_DECODE_JSON), &dp->out);
	klog_buf_append(&dp->out, "\n", 1);
	klog_orec_free(&o);
}

/* does the segment at path belong to a partition of __consumer_offsets */
static int
is_offsets_segment(const char *name)
{
	char topic[KLOG_TOPIC_MAX + 1], dir[PATH_MAX];
	const char *slash = strchr(name, '/');
	int part;

	if (!slash || (size_t)(slash - name) >= sizeof dir)
		return 0;
	memcpy(dir, name, (size_t)(slash - name));
	dir[slash - name] = 0;
	return kseg_parse_partition(dir, topic, &part) && !strcmp(topic, KLOG_OFFSETS_TOPIC);
}

static int
dump_records(struct klog_dump *dp, struct klog_rec_iter *it, const unsigned char *p,
    const struct klog_batch *b, int decode, char *e)
{
	struct klog_record r;
	struct klog_header h;
	const unsigned char *hp;
	int rc, first;

	if (klog_rec_iter_start(it, p, b, e) < 0)
		return -1;
	while ((rc = klog_rec_iter_next(it, &r, e)) == 1) {
		klog_buf_printf(&dp->out, "  record offset=%" PRId64 " ts=%" PRId64 " key=",
		    r.offset, r.timestamp);
		put_bytes(&dp->out, r.key, r.key_len);
		klog_buf_append(&dp->out, " value=", 7);
		put_bytes(&dp->out, r.value, r.value_len);
		klog_buf_append(&dp->out, " headers=", 9);
		hp = r.headers;
		first = 1;
		while (klog_header_next(&hp, r.headers_end, &h)) {
			if (!first)
				klog_buf_append(&dp->out, ",", 1);
			first = 0;
			put_bytes(&dp->out, h.key, h.key_len);
			klog_buf_append(&dp->out, "=", 1);
			put_bytes(&dp->out, h.value, h.value_len);
		}
		klog_buf_append(&dp->out, "\n", 1);
		if (decode && !(b->attributes & KLOG_ATTR_CONTROL))
			dump_orec(dp, &r);
	}
	return rc;
}

static void
name_line(struct klog_dump *dp, const char *path)
{
	if (dp->flags & KLOG_DUMP_NAMES)
		klog_buf_printf(&dp->out, "file %s\n", path);
}

static int
dump_log(struct klog_dump *dp, const char *path, char *err)
{
	struct klog_rec_iter it;
	struct kseg_walk w;
	struct klog_batch *b = &w.b;
	char e[KLOG_ERRLEN], name[PATH_MAX];
	int rc, ret = 0, decode;

	if (kseg_walk_open(&w, path, err) < 0)
		return -1;
	kseg_short_name(path, name, sizeof name);
	decode = !(dp->flags & KLOG_DUMP_NODECODE) && is_offsets_segment(name);
	name_line(dp, path);
	klog_rec_iter_init0(&it);
	while ((rc = kseg_walk_next(&w)) == 1) {
		int crc_ok = klog_batch_verify(w.p, b, NULL) == 0;
		/* a damaged baseOffset may overflow: show the wrapped value */
		int64_t last = (int64_t)((uint64_t)b->base_offset + (uint64_t)b->last_offset_delta);
		klog_buf_printf(&dp->out, "batch pos=%" PRId64 " base=%" PRId64 " last=%" PRId64
		    " count=%d size=%zu epoch=%d magic=%d crc=%08x crc_ok=%d codec=%s ts_type=%s"
		    " base_ts=%" PRId64 " max_ts=%" PRId64 " pid=%" PRId64 " pepoch=%d seq=%d"
		    " txn=%d control=%d\n", w.pos, b->base_offset, last, b->count,
		    klog_batch_size(b), b->leader_epoch, b->magic, b->crc, crc_ok,
		    klog_codec_name(b->attributes & KLOG_ATTR_CODEC),
		    b->attributes & KLOG_ATTR_LOG_APPEND_TIME ? "append" : "create",
		    b->base_timestamp, b->max_timestamp, b->producer_id, b->producer_epoch,
		    b->base_sequence, !!(b->attributes & KLOG_ATTR_TRANSACTIONAL),
		    !!(b->attributes & KLOG_ATTR_CONTROL));
		if ((dp->flags & KLOG_DUMP_RECORDS) && dump_records(dp, &it, w.p, b, decode, e) < 0) {
			kwarn("segment '%s': batch at byte %" PRId64 ": %s", name, w.pos, e);
			ret = 1;
		}
		if (out_flush(dp, 0, err) < 0) {
			ret = -1;
			goto out;
		}
		kseg_walk_skip(&w);
	}
	if (rc == -2) {
		kerr_sys(err, "cannot read segment '%s'", name);
		ret = -1;
	} else if (rc == -1) {
		kerr(err, "segment '%s': %s", name, w.msg);
		ret = -1;
	}
out:
	klog_rec_iter_free(&it);
	kseg_walk_free(&w);
	return ret;
}

static int
dump_index(struct klog_dump *dp, const char *path, int kind, char *err)
{
	struct klog_index_entry *e;
	size_t n, i, after;
	int64_t base = kseg_parse_name(path, kind ? ".timeindex" : ".index");
	int torn, rc;

	if (base < 0)
		base = 0;
	if ((rc = kindex_load(path, kind, base, &e, &n, &torn, &after, err)) != 0) {
		if (rc > 0)
			errno = ENOENT;
		return rc < 0 ? -1 : kerr_sys(err, "cannot open '%s'", path);
	}
	name_line(dp, path);
	for (i = 0; i < n; i++) {
		if (kind)
			klog_buf_printf(&dp->out, "timeindex ts=%" PRId64 " offset=%" PRId64 "\n",
			    e[i].position, e[i].offset);
		else
			klog_buf_printf(&dp->out, "index offset=%" PRId64 " pos=%" PRId64 "\n",
			    e[i].offset, e[i].position);
		if (out_flush(dp, 0, err) < 0) {
			free(e);
			return -1;
		}
	}
	free(e);
	if (torn)
		kwarn("'%s': torn last entry", path);
	if (after)
		kwarn("'%s': %zu non-zero entries after the all-zero entry that ends the index",
		    path, after);
	return 0;
}

/* checkpoint.c parses: leader-epoch-checkpoint by its name, other files
 * as topic-partition-offset checkpoints, else as epoch ones */
static int
dump_checkpoint(struct klog_dump *dp, const char *path, char *err)
{
	struct klog_ckpt_entry *c = NULL;
	struct klog_epoch_entry *ep = NULL;
	char e2[KLOG_ERRLEN];
	size_t n, i;

	if (strcmp(base_name(path), "leader-epoch-checkpoint")) {
		if (klog_ckpt_read(path, &c, &n, err) == 0) {
			name_line(dp, path);
			for (i = 0; i < n; i++)
				klog_buf_printf(&dp->out, "checkpoint topic=%s partition=%d offset=%"
				    PRId64 "\n", c[i].topic, c[i].partition, c[i].offset);
			free(c);
			return 0;
		}
		/* err keeps why it is not a topic-partition-offset checkpoint */
		if (errno != EINVAL || klog_epoch_read(path, &ep, &n, e2) < 0)
			return -1;
	} else if (klog_epoch_read(path, &ep, &n, err) < 0)
		return -1;
	name_line(dp, path);
	for (i = 0; i < n; i++)
		klog_buf_printf(&dp->out, "checkpoint epoch=%" PRId32 " offset=%" PRId64 "\n",
		    ep[i].epoch, ep[i].start_offset);
	free(ep);
	return 0;
}

static int
dump_file(struct klog_dump *dp, const char *path, int kind, char *err)
{
	char sib[PATH_MAX];
	size_t len = strlen(path);
	int rc;

	switch (kind) {
	case KLOG_FILE_LOG:
		rc = dump_log(dp, path, err);
		if (rc >= 0 && (dp->flags & KLOG_DUMP_INDEXES) &&
		    kseg_parse_name(path, ".log") >= 0 && len + 7 < sizeof sib) {
			snprintf(sib, sizeof sib, "%.*s.index", (int)(len - 4), path);
			if (access(sib, F_OK) == 0 && dump_index(dp, sib, 0, err) < 0)
				return -1;
			snprintf(sib, sizeof sib, "%.*s.timeindex", (int)(len - 4), path);
			if (access(sib, F_OK) == 0 && dump_index(dp, sib, 1, err) < 0)
				return -1;
		}
		return rc;
	case KLOG_FILE_INDEX:
		return dump_index(dp, path, 0, err);
	case KLOG_FILE_TIMEINDEX:
		return dump_index(dp, path, 1, err);
	case KLOG_FILE_CHECKPOINT:
		return dump_checkpoint(dp, path, err);
	}
	return kerr(err, "'%s': not a segment, index or checkpoint file", path);
}

static int
dump_partition(struct klog_dump *dp, const char *dir, char *err)
{
	char path[PATH_MAX], pname[PATH_MAX], nm[KSEG_NAMELEN];
	int64_t *bases;
	size_t n, i;
	int rc = 0, r, dfd;

	kseg_short_name(dir, pname, sizeof pname);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kerr_sys(err, "cannot open partition directory '%s'", dir);
	r = kseg_list(dfd, pname, &bases, &n, err);
	close(dfd);
	if (r < 0)
		return -1;
	for (i = 0; i < n && rc >= 0; i++) {
		kseg_name(nm, sizeof nm, bases[i], ".log");
		snprintf(path, sizeof path, "%s/%s", dir, nm);
		if ((r = dump_file(dp, path, KLOG_FILE_LOG, err)) != 0)
			rc = r;
	}
	free(bases);
	if (rc >= 0 && (dp->flags & KLOG_DUMP_INDEXES)) {
		snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", dir);
		if (access(path, F_OK) == 0 && dump_checkpoint(dp, path, err) < 0)
			rc = -1;
	}
	return rc;
}

static int
is_checkpoint_name(const char *name)
{
	return has_suffix(name, "-checkpoint");
}

int
klog_dump_path(struct klog_dump *dp, const char *path, char *err)
{
	char sub[PATH_MAX], **names;
	struct stat st;
	size_t n, i;
	int rc = 0, r, saved = dp->flags;

	if (stat(path, &st) < 0)
		return kerr_sys(err, "cannot open '%s'", path);
	if (!S_ISDIR(st.st_mode))
		rc = dump_file(dp, path, klog_file_kind(path), err);
	else {
		dp->flags |= KLOG_DUMP_NAMES;
		if (kseg_is_partition_dir(path))
			rc = dump_partition(dp, path, err);
		else {
			if ((dp->flags & KLOG_DUMP_INDEXES) &&
			    kseg_list_names(path, 0, is_checkpoint_name, &names, &n, err) == 0) {
				for (i = 0; i < n && rc >= 0; i++) {
					snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
					rc = dump_checkpoint(dp, sub, err);
				}
				klog_strv_free(names, n);
			}
			if (rc >= 0 && kseg_list_partitions(path, &names, &n, err) < 0)
				rc = -1;
			else if (rc >= 0) {
				for (i = 0; i < n && rc >= 0; i++) {
					snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
					if ((r = dump_partition(dp, sub, err)) != 0)
						rc = r;
				}
				klog_strv_free(names, n);
			}
		}
		dp->flags = saved;
	}
	if (out_flush(dp, 1, rc < 0 ? NULL : err) < 0)
		rc = -1;
	return rc;
}
