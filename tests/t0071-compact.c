/* klog - unit tests of compaction (compact.c): batches, producer state, horizons. MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];

#define RETAIN 1000             /* delete.retention.ms */

struct rec {
	const char *key, *value;        /* value NULL: tombstone */
};

/* one batch of records; pid >= 0: an idempotent producer's */
static void
append(struct klog_part *p, const struct rec *r, int n, int64_t pid, int64_t ts)
{
	struct klog_builder bb;
	unsigned char *b;
	size_t len;
	int64_t first, last;
	int i;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (pid >= 0) {
		bb.producer_id = pid;
		bb.producer_epoch = 0;
		bb.base_sequence = 0;
	}
	for (i = 0; i < n; i++)
		klog_builder_add(&bb, ts + i, r[i].key, (int32_t)strlen(r[i].key), r[i].value,
		    r[i].value ? (int32_t)strlen(r[i].value) : -1, NULL, 0);
	if (klog_builder_finish(&bb, &b, &len, err) < 0 ||
	    klog_part_append(p, b, len, &first, &last, err) < 0)
		diag("append: %s", err);
	klog_builder_free(&bb);
}

/* every batch of the partition, each validated as a stored batch */
struct seen {
	int batches, bad;
	struct klog_batch b[64];
	char recs[64][256];             /* "key=value,key=null," per batch */
};

static void
scan(struct klog_dir *d, struct seen *s)
{
	struct klog_part *p = klog_part_open(d, "c", 0, KLOG_RDONLY, err);
	struct klog_buf out = { 0 };
	struct klog_rec_iter it;
	int64_t off = 0;
	ssize_t n;

	memset(s, 0, sizeof *s);
	klog_rec_iter_init0(&it);
	while (p && (n = klog_part_read(p, off, 1 << 20, &out, err)) > 0) {
		size_t at = 0;
		while (at < out.len) {
			struct klog_batch b;
			struct klog_record r;
			char *q;
			if (klog_batch_parse(out.data + at, out.len - at, &b, err) != 1)
				break;
			if (klog_batch_validate(out.data + at, &b, 0, &it, err) < 0) {
				diag("batch at %lld: %s", (long long)b.base_offset, err);
				s->bad++;
			}
			if (s->batches < 64) {
				s->b[s->batches] = b;
				q = s->recs[s->batches];
				klog_rec_iter_start(&it, out.data + at, &b, err);
				while (klog_rec_iter_next(&it, &r, err) == 1) {
					size_t l = strlen(q);
					snprintf(q + l, 256 - l, "%lld:%.*s=%.*s,", (long long)r.offset,
					    r.key_len, (const char *)r.key,
					    r.value_len < 0 ? 4 : r.value_len,
					    r.value_len < 0 ? "null" : (const char *)r.value);
				}
				s->batches++;
			}
			off = klog_batch_last(&b) + 1;
			at += klog_batch_size(&b);
		}
		out.len = 0;
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&out);
	klog_part_close(p);
}

static int
compact_at(struct klog_dir *d, int64_t now, struct klog_compact_stats *st)
{
	struct klog_compact_opts o = { 0 };

	o.force = 1;
	o.now_ms = now;
	return klog_compact_partition(d, "c", 0, &o, st, err);
}

int
main(void)
{
	static const struct rec a1[] = { { "a", "1" }, { "b", "1" } };
	static const struct rec b2[] = { { "a", "2" }, { "b", NULL } };
	static const struct rec c3[] = { { "c", "3" } };
	static const struct rec fill[] = { { "f1", "x" }, { "f2", "x" } };
	struct klog_compact_stats st;
	struct klog_dir *d;
	struct klog_part *p;
	struct seen s;
	char *kv[2] = { "segment.bytes=100", "delete.retention.ms=1000" };
	char *ckv[1] = { "cleanup.policy=compact" };
	char cmd[PATH_MAX + 16];
	int64_t now = klog_now_ms();

	snprintf(root, sizeof root, "/tmp/klog-t0071-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	d = klog_dir_open(root, KLOG_CREATE, err);
	ok(d && klog_topic_create(d, "c", 1, kv, 2, err) == 0, "topic created (delete for now)");
	p = klog_part_open(d, "c", 0, KLOG_WRITE, err);
	ok(p != NULL, "partition open%s%s", p ? "" : ": ", p ? "" : err);
	append(p, a1, 2, 7, now - 100);         /* offsets 0, 1: a producer's */
	append(p, b2, 2, -1, now - 90);         /* 2, 3 */
	append(p, c3, 1, -1, now - 80);         /* 4 */
	append(p, fill, 2, -1, now - 70);       /* 5, 6: the active segment */
	klog_part_close(p);
	ok(klog_topic_alter(d, "c", 0, ckv, 1, err) == 0, "now cleanup.policy=compact");

	if (!ok(compact_at(d, now, &st) == 0, "compact"))
		diag("%s", err);
	cmp_ok(st.records_removed, ==, 2, "a=1 and b=1 removed");
	cmp_ok(st.tombstones_removed, ==, 0, "the tombstone stays");
	scan(d, &s);
	cmp_ok(s.bad, ==, 0, "every batch validates as stored");
	cmp_ok(s.batches, ==, 4, "four batches: the producer's stays, empty");
	cmp_ok(s.b[0].base_offset, ==, 0, "its base offset");
	cmp_ok(s.b[0].count, ==, 0, "no records");
	cmp_ok(s.b[0].last_offset_delta, ==, 1, "its last offset delta");
	cmp_ok(s.b[0].producer_id, ==, 7, "its producer id");
	cmp_ok(s.b[0].base_sequence, ==, 0, "its base sequence");
	is(s.recs[1], "2:a=2,3:b=null,", "a=2 and the tombstone of b, at their offsets");
	ok(s.b[1].attributes & KLOG_ATTR_DELETE_HORIZON, "the batch with a tombstone has a horizon");
	cmp_ok(s.b[1].base_timestamp, ==, now + RETAIN, "horizon: now + delete.retention.ms");
	is(s.recs[2], "4:c=3,", "c untouched");
	ok(!(s.b[2].attributes & KLOG_ATTR_DELETE_HORIZON), "no horizon without a tombstone");

	ok(compact_at(d, now + RETAIN - 1, &st) == 0, "compact before the horizon");
	cmp_ok(st.tombstones_removed, ==, 0, "the tombstone stays until its horizon");
	cmp_ok(st.segments, ==, 0, "nothing rewritten");

	ok(compact_at(d, now + RETAIN, &st) == 0, "compact at the horizon");
	cmp_ok(st.tombstones_removed, ==, 1, "the tombstone goes");
	scan(d, &s);
	cmp_ok(s.bad, ==, 0, "every batch still validates");
	is(s.recs[1], "2:a=2,", "only a=2 left in that batch");
	ok(!(s.b[1].attributes & KLOG_ATTR_DELETE_HORIZON), "no horizon once no tombstone is left");
	cmp_ok(s.b[1].base_timestamp, ==, now - 90, "base timestamp: its first record's again");
	cmp_ok(s.b[1].last_offset_delta, ==, 1, "last offset delta kept (offset 3 is a gap)");

	{
		struct klog_compact_opts o = { 0 };
		char *dkv[1] = { "cleanup.policy=delete" };
		o.force = 1;
		ok(klog_topic_alter(d, "c", 0, dkv, 1, err) == 0 &&
		    klog_compact_partition(d, "c", 0, &o, &st, err) < 0 && errno == EINVAL,
		    "a topic not compacted: EINVAL");
	}
	klog_dir_close(d);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		diag("cannot remove %s", root);
	return done_testing();
}
