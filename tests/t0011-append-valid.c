/* klog - tests: klog_part_append validates every batch before writing anything. MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"
#include "kbatch.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];

/* what must not change when an append is refused */
struct state {
	int64_t end, bytes;
	int segments;
};

static int
state(struct klog_part *p, struct state *s)
{
	struct klog_part_info info;

	if (klog_part_info(p, &info, err) < 0)
		return -1;
	s->end = info.log_end;
	s->bytes = info.bytes;
	s->segments = info.segments;
	return 0;
}

static int
same(const struct state *a, const struct state *b)
{
	return a->end == b->end && a->bytes == b->bytes && a->segments == b->segments;
}

/* append a copy (the append rewrites offsets in place) */
static int
append(struct klog_part *p, const struct klog_buf *q, int64_t *first, int64_t *last)
{
	unsigned char *c = malloc(q->len ? q->len : 1);
	int r;

	memcpy(c, q->data, q->len);
	r = klog_part_append(p, c, q->len, first, last, err);
	free(c);
	return r;
}

/* the stored batch holding offset, alone in out; -1 if none */
static int
stored(struct klog_part *p, int64_t offset, struct klog_buf *out, struct klog_batch *b)
{
	out->len = 0;
	if (klog_part_read(p, offset, 1 << 20, out, err) <= 0 ||
	    klog_batch_parse(out->data, out->len, b, err) != 1)
		return -1;
	out->len = klog_batch_size(b);
	return 0;
}

static void
test_refused(struct klog_part *p)
{
	struct klog_buf q = { 0 }, good = { 0 }, req = { 0 };
	struct state before, after;
	char want[KLOG_ERRLEN];
	int64_t f, l;

	kb_good(&good, 10, KLOG_CODEC_NONE, err);
	ok(append(p, &good, &f, &l) == 0 && f == 0 && l == 9, "a good batch first: 0..9 %s", err);
	for (int k = 0; k < KB_NKINDS; k++) {
		const struct kb_kind *kk = &kb_kinds[k];
		int r, e;
		if (!kk->client)
			continue;
		if (kb_hostile(k, &q, err) < 0) {
			skip(2, "%s: %s", kk->name, err);
			continue;
		}
		err[0] = 0;
		errno = 0;
		r = state(p, &before) == 0 ? append(p, &q, &f, &l) : -2;
		e = errno;
		if (state(p, &after) < 0)
			memset(&after, 0xff, sizeof after);
		ok(r == -1 && e == kk->client && !strncmp(err, "partition 'v-0': batch 1 of the request: "
		    "batch at offset 0: ", 60) && strstr(err, kk->msg),
		    "%s (%s): refused, errno %d: %s", kk->name, kk->what, e, err);
		ok(same(&before, &after), "%s: nothing written (end %lld, %lld bytes)", kk->name,
		    (long long)after.end, (long long)after.bytes);
	}

	/* a request of three batches, the second hostile: none is written */
	kb_hostile(kb_kind("overrun"), &q, err);
	klog_buf_append(&req, good.data, good.len);
	klog_buf_append(&req, q.data, q.len);
	klog_buf_append(&req, good.data, good.len);
	state(p, &before);
	errno = 0;
	ok(append(p, &req, &f, &l) == -1 && errno == EBADMSG &&
	    strstr(err, "partition 'v-0': batch 2 of the request: batch at offset 0: record 2: bad length"),
	    "the second of three batches is named: %s", err);
	state(p, &after);
	ok(same(&before, &after), "and the first is not written either");
	kb_hostile(kb_kind("crc"), &q, err);
	req.len = good.len;
	klog_buf_append(&req, q.data, q.len);
	errno = 0;
	snprintf(want, sizeof want, "partition 'v-0': batch 2 of the request: batch at offset 0: bad CRC");
	ok(append(p, &req, &f, &l) == -1 && errno == EILSEQ && !strncmp(err, want, strlen(want)),
	    "a bad CRC is EILSEQ: %s", err);
	state(p, &after);
	ok(same(&before, &after), "nothing written");
	klog_buf_free(&q);
	klog_buf_free(&good);
	klog_buf_free(&req);
}

static void
test_accepted(struct klog_part *p)
{
	static const int codecs[] = { KLOG_CODEC_NONE, KLOG_CODEC_GZIP, KLOG_CODEC_SNAPPY,
		KLOG_CODEC_LZ4, KLOG_CODEC_ZSTD };
	struct klog_buf q = { 0 }, s = { 0 };
	struct klog_rec_iter it;
	struct klog_batch b;
	struct state before;
	int64_t f, l;
	int r;

	klog_rec_iter_init0(&it);
	/* what a producer may send is stored as sent, offsets assigned */
	for (int k = 0; k < KB_NKINDS + (int)(sizeof codecs / sizeof codecs[0]); k++) {
		const char *what;
		if (k < KB_NKINDS) {
			if (kb_kinds[k].client)
				continue;
			kb_hostile(k, &q, err);
			what = kb_kinds[k].what;
		} else {
			int c = codecs[k - KB_NKINDS];
			if (!klog_codec_available(c)) {
				skip(2, "codec %s not built in", klog_codec_name(c));
				continue;
			}
			kb_good(&q, 100, c, err);
			what = klog_codec_name(c);
		}
		klog_batch_parse(q.data, q.len, &b, err);
		err[0] = 0;
		f = l = -1;
		r = state(p, &before) == 0 && append(p, &q, &f, &l) == 0 && f == before.end &&
		    l == f + b.last_offset_delta;
		ok(r, "%s: appended at %lld..%lld %s", what, (long long)f, (long long)l, err);
		r = stored(p, f, &s, &b) == 0 && b.base_offset == f && klog_batch_size(&b) == q.len &&
		    !memcmp(s.data + 16, q.data + 16, q.len - 16) &&
		    klog_batch_validate(s.data, &b, 0, &it, err) == 0;
		ok(r, "%s: stored as sent, base offset %lld, valid on disk %s", what,
		    (long long)b.base_offset, err);
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&q);
	klog_buf_free(&s);
}

/* message.timestamp.type=LogAppendTime: the broker clock in maxTimestamp, a new CRC */
static void
test_log_append_time(struct klog_dir *d)
{
	static const int codecs[] = { KLOG_CODEC_NONE, KLOG_CODEC_GZIP };
	char *kv[] = { "message.timestamp.type=LogAppendTime" };
	struct klog_buf q = { 0 }, s = { 0 };
	struct klog_rec_iter it;
	struct klog_record r;
	struct klog_batch b;
	struct klog_part *p;
	int64_t f, l, t0, t1;

	ok(klog_topic_create(d, "lat", 1, kv, 1, err) == 0, "create a LogAppendTime topic %s", err);
	if (!(p = klog_part_open(d, "lat", 0, KLOG_WRITE, err))) {
		ok(0, "open lat-0: %s", err);
		return;
	}
	klog_rec_iter_init0(&it);
	for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
		const char *name = klog_codec_name(codecs[c]);
		int n = 0, bad = 0, k;
		kb_good(&q, 5, codecs[c], err);
		f = l = -1;
		t0 = klog_now_ms();
		k = append(p, &q, &f, &l);
		t1 = klog_now_ms();
		ok(k == 0 && l == f + 4, "%s: appended %lld..%lld %s", name, (long long)f, (long long)l,
		    err);
		k = stored(p, f, &s, &b);
		ok(k == 0 && (b.attributes & KLOG_ATTR_LOG_APPEND_TIME) &&
		    (b.attributes & KLOG_ATTR_CODEC) == codecs[c],
		    "%s: the stored batch has the LogAppendTime bit (attributes %#x)", name, b.attributes);
		ok(b.max_timestamp >= t0 && b.max_timestamp <= t1,
		    "%s: maxTimestamp %lld is the append clock [%lld, %lld]", name,
		    (long long)b.max_timestamp, (long long)t0, (long long)t1);
		ok(klog_batch_verify(s.data, &b, err) == 0 && klog_batch_validate(s.data, &b, 0, &it, err) == 0,
		    "%s: its CRC is right and it is valid on disk %s", name, err);
		if (klog_rec_iter_start(&it, s.data, &b, err) == 0)
			while ((k = klog_rec_iter_next(&it, &r, err)) == 1) {
				bad += r.timestamp != b.max_timestamp || r.offset != f + n;
				n++;
			}
		ok(n == 5 && !bad, "%s: every record reads back with the append time", name);
	}
	klog_rec_iter_free(&it);
	klog_part_close(p);
	klog_buf_free(&q);
	klog_buf_free(&s);
}

int
main(void)
{
	struct klog_dir *d;
	struct klog_part *p;
	const char *tmp = getenv("TMPDIR");
	char cmd[PATH_MAX + 16];

	snprintf(root, sizeof root, "%s/klog-t0011-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	d = klog_dir_open(root, KLOG_CREATE, err);
	ok(d && klog_topic_create(d, "v", 1, NULL, 0, err) == 0, "create topic v %s", err);
	p = klog_part_open(d, "v", 0, KLOG_WRITE, err);
	ok(p != NULL, "open v-0 for writing %s", err);
	if (!p)
		return done_testing();
	test_refused(p);
	test_accepted(p);
	klog_part_close(p);
	test_log_append_time(d);
	klog_dir_close(d);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (!tap_failed)
		system(cmd);
	else
		diag("kept %s", root);
	return done_testing();
}
