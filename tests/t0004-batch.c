/* klog - tests for RecordBatch v2: real Kafka bytes, builder round trips, hostile input. MIT licence. */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "klog.h"
#include "kbatch.h"

#define FIXTURE "../shared/fixtures/kafka-logdir"

/* reference section 1.6: one batch a Kafka 3.x broker wrote */
static const char hello_hex[] =
	"0000" "0000" "0000" "0000" "0000" "0044" "0000" "0000"
	"0298" "ec18" "d300" "0000" "0000" "0000" "0001" "91e0"
	"5b6d" "8b00" "0001" "91e0" "5b6d" "8b00" "0000" "0000"
	"0000" "0000" "0000" "0000" "0000" "0000" "0124" "0000"
	"0001" "1848" "656c" "6c6f" "2057" "6f72" "6c64" "2100";

static size_t
unhex(const char *s, unsigned char *out)
{
	size_t n = 0;
	unsigned v;

	for (; s[0] && s[1]; s += 2) {
		sscanf(s, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static int
mem_eq(const void *a, int32_t alen, const void *b, int32_t blen)
{
	if (alen != blen)
		return 0;
	if (alen <= 0)
		return 1;
	return !memcmp(a, b, (size_t)alen);
}

/* parse, verify and iterate a whole buffer of batches; counts into *nrec */
static int
walk(const unsigned char *p, size_t len, int64_t *next_offset, int *nbatch, int *nrec,
    int print, char *err)
{
	struct klog_batch b;
	struct klog_rec_iter it;
	struct klog_record r;
	size_t pos = 0;
	int rc = 0, k;

	klog_rec_iter_init0(&it);
	while (pos < len) {
		if (klog_batch_parse(p + pos, len - pos, &b, err) != 1 ||
		    klog_batch_verify(p + pos, &b, err) < 0 ||
		    klog_rec_iter_start(&it, p + pos, &b, err) < 0) {
			rc = -1;
			goto out;
		}
		if (*next_offset >= 0 && b.base_offset != *next_offset) {
			snprintf(err, KLOG_ERRLEN, "batch at %lld, expected %lld",
			    (long long)b.base_offset, (long long)*next_offset);
			rc = -1;
			goto out;
		}
		while ((k = klog_rec_iter_next(&it, &r, err)) == 1) {
			if (print)
				diag("offset %lld ts %lld key %d value '%.*s'", (long long)r.offset,
				    (long long)r.timestamp, r.key_len,
				    r.value_len > 0 ? r.value_len : 0, r.value ? (const char *)r.value : "");
			if (*next_offset >= 0 && r.offset != *next_offset) {
				snprintf(err, KLOG_ERRLEN, "record at %lld, expected %lld",
				    (long long)r.offset, (long long)*next_offset);
				rc = -1;
				goto out;
			}
			*next_offset = r.offset + 1;
			(*nrec)++;
		}
		if (k < 0) {
			rc = -1;
			goto out;
		}
		*next_offset = klog_batch_last(&b) + 1;
		(*nbatch)++;
		pos += klog_batch_size(&b);
	}
out:
	klog_rec_iter_free(&it);
	return rc;
}

static void
test_hello(void)
{
	unsigned char p[128];
	struct klog_batch b;
	struct klog_rec_iter it;
	struct klog_record r;
	char err[KLOG_ERRLEN] = "";
	size_t n = unhex(hello_hex, p), i;
	int bad = 0;

	cmp_ok(n, ==, 80, "section 1.6 batch is 80 bytes");
	cmp_ok(klog_batch_parse(p, n, &b, err), ==, 1, "parses whole");
	cmp_ok(b.base_offset, ==, 0, "base offset 0");
	cmp_ok(b.length, ==, 68, "length 68");
	cmp_ok(klog_batch_size(&b), ==, 80, "size 80");
	cmp_ok(b.leader_epoch, ==, 0, "leader epoch 0");
	cmp_ok(b.magic, ==, 2, "magic 2");
	cmp_ok(b.crc, ==, 0x98ec18d3, "crc 98ec18d3");
	cmp_ok(b.attributes, ==, 0, "attributes 0");
	cmp_ok(b.last_offset_delta, ==, 0, "lastOffsetDelta 0");
	cmp_ok(b.base_timestamp, ==, 1726045973899LL, "base timestamp");
	cmp_ok(b.max_timestamp, ==, 1726045973899LL, "max timestamp");
	cmp_ok(b.producer_id, ==, 0, "producer id 0");
	cmp_ok(b.producer_epoch, ==, 0, "producer epoch 0");
	cmp_ok(b.base_sequence, ==, 0, "base sequence 0");
	cmp_ok(b.count, ==, 1, "one record");
	cmp_ok(klog_batch_verify(p, &b, err), ==, 0, "CRC verifies");
	klog_rec_iter_init0(&it);
	cmp_ok(klog_rec_iter_start(&it, p, &b, err), ==, 0, "iterator starts");
	cmp_ok(klog_rec_iter_next(&it, &r, err), ==, 1, "one record");
	cmp_ok(r.offset, ==, 0, "record offset 0");
	cmp_ok(r.timestamp, ==, 1726045973899LL, "record timestamp");
	cmp_ok(r.key_len, ==, -1, "null key");
	ok(r.key == NULL, "null key pointer");
	ok(mem_eq(r.value, r.value_len, "Hello World!", 12), "value 'Hello World!'");
	cmp_ok(r.header_count, ==, 0, "no headers");
	cmp_ok(klog_rec_iter_next(&it, &r, err), ==, 0, "then the end");
	klog_rec_iter_free(&it);

	for (i = 0; i < n; i++)
		if (klog_batch_parse(p, i, &b, err) != 0)
			bad++;
	cmp_ok(bad, ==, 0, "every truncation gives 0 (need more)");
	klog_batch_parse(p, 20, &b, err);
	ok(b.length == 68 && b.magic == 2, "a partial header fills what it has");

	/* flipped bits: inside the CRC caught, before it harmless */
	bad = 0;
	for (i = 21 * 8; i < n * 8; i++) {
		p[i / 8] ^= (unsigned char)(1 << (i % 8));
		if (klog_batch_parse(p, n, &b, err) == 1 && klog_batch_verify(p, &b, err) == 0)
			bad++;
		p[i / 8] ^= (unsigned char)(1 << (i % 8));
	}
	cmp_ok(bad, ==, 0, "every flipped bit in [21, 80) fails the CRC or the parse");
	p[70] ^= 4;
	klog_batch_parse(p, n, &b, err);
	cmp_ok(klog_batch_verify(p, &b, err), ==, -1, "one flipped value bit fails");
	diag("%s", err);
	ok(strstr(err, "CRC") && strstr(err, "98ec18d3"), "error names the stored CRC");
	p[70] ^= 4;
	klog_batch_set_base_offset(p, 123456789012LL);
	klog_batch_set_leader_epoch(p, 7);
	ok(klog_batch_parse(p, n, &b, err) == 1 && klog_batch_verify(p, &b, err) == 0,
	    "new base offset and leader epoch keep the CRC");
	cmp_ok(b.base_offset, ==, 123456789012LL, "base offset set");
	cmp_ok(b.leader_epoch, ==, 7, "leader epoch set");
}

static void
test_bad_headers(void)
{
	unsigned char p[128], q[128];
	struct klog_batch b;
	char err[KLOG_ERRLEN];
	size_t n = unhex(hello_hex, p);

	memcpy(q, p, n);
	q[16] = 1;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "magic 1 refused");
	diag("%s", err);
	memcpy(q, p, n);
	q[11] = 48;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "length 48 refused");
	memcpy(q, p, n);
	q[8] = 0x40; q[11] = 1;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "length above 1 GiB refused");
	cmp_ok(klog_batch_parse(q, 12, &b, err), ==, -1, "even from 12 bytes");
	memcpy(q, p, n);
	q[8] = 0x80;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "negative length refused");
	memcpy(q, p, n);
	memset(q + 57, 0xff, 4);
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "negative count refused");
	memcpy(q, p, n);
	memset(q + 23, 0xff, 4);
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "negative lastOffsetDelta refused");
	memcpy(q, p, n);
	q[60] = 5;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, -1, "lastOffsetDelta below count - 1 refused");
	memcpy(q, p, n);
	q[11] = 49;
	cmp_ok(klog_batch_parse(q, n, &b, err), ==, 1, "length 49 is a whole (empty) batch header");
}

struct rec {
	int64_t ts;
	const char *key;
	int32_t klen;
	const char *val;
	int32_t vlen;
	struct klog_header h[3];
	int nh;
};

static const struct rec recs[] = {
	{ 1000, "k1", 2, "v1", 2, { { 0 } }, 0 },
	{ 1005, NULL, -1, "no key", 6, { { 0 } }, 0 },
	{ 999, "tomb", 4, NULL, -1, { { 0 } }, 0 },
	{ 2000000000000LL, "", 0, "", 0, { { 0 } }, 0 },
	{ 1000, "h", 1, "with headers", 12,
	  { { (const unsigned char *)"a", 1, (const unsigned char *)"1", 1 },
	    { (const unsigned char *)"nullval", 7, NULL, -1 },
	    { (const unsigned char *)"", 0, (const unsigned char *)"", 0 } }, 3 },
	{ -5, NULL, -1, NULL, -1, { { 0 } }, 0 },
};
#define NRECS ((int)(sizeof recs / sizeof recs[0]))

static int
build(struct klog_builder *bb, int nrec, unsigned char **out, size_t *len, char *err)
{
	for (int i = 0; i < nrec; i++)
		if (klog_builder_add(bb, recs[i].ts, recs[i].key, recs[i].klen, recs[i].val,
		    recs[i].vlen, recs[i].h, recs[i].nh) < 0)
			return -1;
	return klog_builder_finish(bb, out, len, err);
}

/* every field of every record back; returns the number of mismatches */
static int
check_records(const unsigned char *p, size_t len, int nrec, int lat, char *err)
{
	struct klog_batch b;
	struct klog_rec_iter it;
	struct klog_record r;
	struct klog_header h;
	const unsigned char *hp;
	int bad = 0, i = 0, j, k;

	if (klog_batch_parse(p, len, &b, err) != 1 || klog_batch_size(&b) != len ||
	    klog_batch_verify(p, &b, err) < 0)
		return 1000;
	klog_rec_iter_init0(&it);
	if (klog_rec_iter_start(&it, p, &b, err) < 0)
		return 1000;
	while ((k = klog_rec_iter_next(&it, &r, err)) == 1) {
		const struct rec *w = &recs[i];
		if (r.offset != i)
			bad++;
		if (r.timestamp != (lat ? b.max_timestamp : w->ts))
			bad++;
		if (!mem_eq(r.key, r.key_len, w->key, w->klen) || (w->klen < 0) != (r.key == NULL))
			bad++;
		if (!mem_eq(r.value, r.value_len, w->val, w->vlen) ||
		    (w->vlen < 0) != (r.value == NULL))
			bad++;
		if (r.header_count != w->nh)
			bad++;
		hp = r.headers;
		for (j = 0; klog_header_next(&hp, r.headers_end, &h); j++)
			if (j >= w->nh || !mem_eq(h.key, h.key_len, w->h[j].key, w->h[j].key_len) ||
			    !mem_eq(h.value, h.value_len, w->h[j].value, w->h[j].value_len))
				bad++;
		if (j != w->nh)
			bad++;
		i++;
	}
	if (k < 0 || i != nrec)
		bad += 100;
	klog_rec_iter_free(&it);
	return bad;
}

static void
test_builder(void)
{
	struct klog_builder bb;
	struct klog_batch b;
	unsigned char *p;
	size_t len, want = KLOG_BATCH_OVERHEAD;
	char err[KLOG_ERRLEN] = "";
	int64_t maxts = INT64_MIN;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	cmp_ok(klog_builder_size(&bb), ==, KLOG_BATCH_OVERHEAD, "empty builder is a header");
	for (int i = 0; i < NRECS; i++) {
		want += klog_record_size(recs[i].ts - recs[0].ts, i, recs[i].klen, recs[i].vlen,
		    recs[i].h, recs[i].nh);
		if (recs[i].ts > maxts)
			maxts = recs[i].ts;
	}
	cmp_ok(build(&bb, NRECS, &p, &len, err), ==, 0, "build %d records", NRECS);
	cmp_ok(klog_builder_size(&bb), ==, want, "klog_record_size sums to klog_builder_size");
	cmp_ok(len, ==, want, "uncompressed batch is that size");
	cmp_ok(klog_batch_parse(p, len, &b, err), ==, 1, "built batch parses");
	cmp_ok(klog_batch_verify(p, &b, err), ==, 0, "built batch verifies");
	cmp_ok(b.base_offset, ==, 0, "base offset 0");
	cmp_ok(b.leader_epoch, ==, -1, "leader epoch -1");
	cmp_ok(b.attributes, ==, 0, "attributes 0");
	cmp_ok(b.count, ==, NRECS, "count");
	cmp_ok(b.last_offset_delta, ==, NRECS - 1, "lastOffsetDelta");
	cmp_ok(b.base_timestamp, ==, recs[0].ts, "base timestamp is the first record's");
	cmp_ok(b.max_timestamp, ==, maxts, "max timestamp");
	ok(b.producer_id == -1 && b.producer_epoch == -1 && b.base_sequence == -1,
	    "not idempotent: producer fields -1");
	cmp_ok(check_records(p, len, NRECS, 0, err), ==, 0, "every field round trips");

	/* LogAppendTime: set the bit and a max timestamp, recompute the CRC */
	{
		unsigned char *q = malloc(len);
		memcpy(q, p, len);
		q[22] |= KLOG_ATTR_LOG_APPEND_TIME;
		memcpy(q + 35, "\x00\x00\x01\x00\x00\x00\x00\x07", 8);
		uint32_t c = klog_crc32c(0, q + 21, len - 21);
		q[17] = (unsigned char)(c >> 24); q[18] = (unsigned char)(c >> 16);
		q[19] = (unsigned char)(c >> 8); q[20] = (unsigned char)c;
		cmp_ok(check_records(q, len, NRECS, 1, err), ==, 0,
		    "LogAppendTime: every record has maxTimestamp");
		free(q);
	}

	/* reuse, with producer fields */
	klog_builder_reset(&bb);
	bb.producer_id = 42;
	bb.producer_epoch = 3;
	bb.base_sequence = 100;
	cmp_ok(build(&bb, 2, &p, &len, err), ==, 0, "build again after reset");
	klog_batch_parse(p, len, &b, err);
	ok(b.producer_id == 42 && b.producer_epoch == 3 && b.base_sequence == 100,
	    "producer fields written");
	cmp_ok(check_records(p, len, 2, 0, err), ==, 0, "second batch round trips");

	/* empty batch */
	klog_builder_reset(&bb);
	cmp_ok(klog_builder_finish(&bb, &p, &len, err), ==, 0, "finish an empty builder");
	cmp_ok(len, ==, KLOG_BATCH_OVERHEAD, "empty batch is 61 bytes");
	ok(klog_batch_parse(p, len, &b, err) == 1 && klog_batch_verify(p, &b, err) == 0 &&
	    b.count == 0 && b.base_timestamp == -1, "empty batch parses, verifies, count 0");
	cmp_ok(check_records(p, len, 0, 0, err), ==, 0, "no records in it");

	/* a null header key is refused */
	{
		struct klog_header nk = { NULL, -1, NULL, -1 };
		cmp_ok(klog_builder_add(&bb, 1, "k", 1, "v", 1, &nk, 1), ==, -1,
		    "null header key refused");
	}
	klog_builder_free(&bb);
}

/* rewrite count (and CRC) to make a record-count mismatch */
static void
set_count(unsigned char *p, size_t len, int32_t count, int32_t lod)
{
	uint32_t c;

	p[57] = (unsigned char)(count >> 24); p[58] = (unsigned char)(count >> 16);
	p[59] = (unsigned char)(count >> 8); p[60] = (unsigned char)count;
	p[23] = (unsigned char)(lod >> 24); p[24] = (unsigned char)(lod >> 16);
	p[25] = (unsigned char)(lod >> 8); p[26] = (unsigned char)lod;
	c = klog_crc32c(0, p + 21, len - 21);
	p[17] = (unsigned char)(c >> 24); p[18] = (unsigned char)(c >> 16);
	p[19] = (unsigned char)(c >> 8); p[20] = (unsigned char)c;
}

static unsigned touched;

static int
iterate_all(const unsigned char *p, size_t len, char *err)
{
	struct klog_batch b;
	struct klog_rec_iter it;
	struct klog_record r;
	int k, n = 0;

	if (klog_batch_parse(p, len, &b, err) != 1)
		return -2;
	klog_rec_iter_init0(&it);
	if (klog_rec_iter_start(&it, p, &b, err) < 0) {
		klog_rec_iter_free(&it);
		return -1;
	}
	while ((k = klog_rec_iter_next(&it, &r, err)) == 1) {
		/* touch every byte the record points at, as a consumer would */
		struct klog_header h;
		const unsigned char *hp = r.headers;
		unsigned sum = 0;
		for (int32_t i = 0; i < r.key_len; i++)
			sum += r.key[i];
		for (int32_t i = 0; i < r.value_len; i++)
			sum += r.value[i];
		while (klog_header_next(&hp, r.headers_end, &h)) {
			for (int32_t i = 0; i < h.key_len; i++)
				sum += h.key[i];
			for (int32_t i = 0; i < h.value_len; i++)
				sum += h.value[i];
		}
		touched += sum;
		n++;
	}
	klog_rec_iter_free(&it);
	return k < 0 ? -1 : n;
}

static void
test_count_mismatch(void)
{
	struct klog_builder bb;
	unsigned char *p, *q;
	size_t len;
	char err[KLOG_ERRLEN] = "";

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	build(&bb, 3, &p, &len, err);
	q = malloc(len);
	memcpy(q, p, len);
	set_count(q, len, 4, 3);
	cmp_ok(iterate_all(q, len, err), ==, -1, "fewer records than count is an error");
	diag("%s", err);
	memcpy(q, p, len);
	set_count(q, len, 2, 2);
	cmp_ok(iterate_all(q, len, err), ==, -1, "trailing bytes after count records are an error");
	diag("%s", err);
	memcpy(q, p, len);
	cmp_ok(iterate_all(q, len, err), ==, 3, "the unmodified batch has 3 records");
	/* record length one too long: its fields no longer fill it */
	memcpy(q, p, len);
	q[61] += 2;
	cmp_ok(iterate_all(q, len, err), ==, -1, "record length not matching its fields");
	diag("%s", err);
	free(q);

	/* one record with a spare byte inside its length: sizes all agree
	 * except the record's fields do not fill it */
	klog_builder_reset(&bb);
	klog_builder_add(&bb, 5, "k", 1, "v", 1, NULL, 0);
	klog_builder_finish(&bb, &p, &len, err);
	q = malloc(len + 1);
	memcpy(q, p, len);
	q[len] = 0;
	q[11]++;                        /* batchLength */
	q[61] += 2;                     /* record length varint, +1 */
	set_count(q, len + 1, 1, 0);
	cmp_ok(iterate_all(q, len + 1, err), ==, -1, "record longer than its fields");
	diag("%s", err);
	free(q);

	/* key length -2: only -1 means null */
	q = malloc(128);
	len = unhex(hello_hex, q);
	q[65] = 0x03;
	set_count(q, len, 1, 0);
	cmp_ok(iterate_all(q, len, err), ==, -1, "key length -2 refused");
	q[65] = 0x01;
	set_count(q, len, 1, 0);
	cmp_ok(iterate_all(q, len, err), ==, 1, "key length -1 is null");
	free(q);
	klog_builder_free(&bb);
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* random mutations through parse and iteration, CRC ignored: ASan watches */
static void
fuzz(const unsigned char *p, size_t len, int rounds, const char *what)
{
	char err[KLOG_ERRLEN];
	int parsed = 0, good = 0, bad = 0;

	for (int i = 0; i < rounds; i++) {
		size_t n = len;
		int edits = 1 + (int)(rnd() % 4);

		if (rnd() % 8 == 0)
			n = (size_t)(rnd() % (len + 1));
		unsigned char *q = malloc(n ? n : 1);   /* exact size: overreads are caught */
		memcpy(q, p, n);
		for (int e = 0; e < edits && n; e++) {
			size_t at = rnd() % n;
			/* mostly the records, sometimes the header */
			if (rnd() % 4 && n > KLOG_BATCH_OVERHEAD)
				at = KLOG_BATCH_OVERHEAD + rnd() % (n - KLOG_BATCH_OVERHEAD);
			switch (rnd() % 3) {
			case 0: q[at] ^= (unsigned char)(1 << (rnd() % 8)); break;
			case 1: q[at] = (unsigned char)rnd(); break;
			default: q[at] = (unsigned char[]){ 0x00, 0x01, 0x7f, 0x80, 0xff }[rnd() % 5];
			}
		}
		int k = iterate_all(q, n, err);
		if (k != -2)
			parsed++;
		if (k >= 0)
			good++;
		if (k == -1)
			bad++;
		free(q);
	}
	diag("%s: %d mutations, %d parsed, %d iterated cleanly, %d errors (sum %u)", what,
	    rounds, parsed, good, bad, touched);
	ok(parsed > rounds / 2 && bad > 0, "%s: %d random mutations survived", what, rounds);
}

static void
test_fuzz(void)
{
	struct klog_builder bb;
	unsigned char *p;
	size_t len;
	char err[KLOG_ERRLEN] = "";

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	build(&bb, NRECS, &p, &len, err);
	fuzz(p, len, 4000, "plain batch");
	klog_builder_free(&bb);
	klog_builder_init(&bb, KLOG_CODEC_GZIP);
	if (!klog_codec_available(KLOG_CODEC_GZIP)) {
		skip(1, "gzip not built in");
	} else {
		build(&bb, NRECS, &p, &len, err);
		fuzz(p, len, 2000, "gzip batch");
	}
	klog_builder_free(&bb);
}

static void
test_codecs(void)
{
	static const int codecs[] = { KLOG_CODEC_GZIP, KLOG_CODEC_SNAPPY, KLOG_CODEC_LZ4,
		KLOG_CODEC_ZSTD };
	struct klog_builder bb;
	struct klog_batch b;
	unsigned char *p;
	size_t len;
	char err[KLOG_ERRLEN] = "";

	for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
		int codec = codecs[c];
		if (!klog_codec_available(codec)) {
			skip(3, "codec %d not built in", codec);
			continue;
		}
		klog_builder_init(&bb, codec);
		/* compressible: many similar records */
		int ok_ = 1;
		for (int i = 0; i < 200 && ok_; i++)
			ok_ = klog_builder_add(&bb, 5000 + i, "key", 3,
			    "a fairly compressible value, again and again", 44, NULL, 0) == 0;
		size_t plain = klog_builder_size(&bb);
		ok(ok_ && klog_builder_finish(&bb, &p, &len, err) == 0 && len < plain,
		    "codec %d: %zu bytes compress to %zu", codec, plain, len);
		ok(klog_batch_parse(p, len, &b, err) == 1 && klog_batch_verify(p, &b, err) == 0 &&
		    (b.attributes & KLOG_ATTR_CODEC) == codec && b.count == 200,
		    "codec %d: header has the codec bits, count 200, CRC ok", codec);
		cmp_ok(iterate_all(p, len, err), ==, 200, "codec %d: 200 records back", codec);
		klog_builder_free(&bb);
	}
	if (!klog_codec_available(KLOG_CODEC_GZIP)) {
		skip(3, "gzip not built in");
		return;
	}
	klog_builder_init(&bb, KLOG_CODEC_GZIP);
	cmp_ok(build(&bb, NRECS, &p, &len, err), ==, 0, "gzip batch of the test records");
	cmp_ok(check_records(p, len, NRECS, 0, err), ==, 0, "gzip: every field round trips");
	{
		/* one iterator reused across batches, as readers do */
		struct klog_rec_iter it;
		struct klog_record r;
		int n = 0, k = 0;
		klog_rec_iter_init0(&it);
		for (int round = 0; round < 2 && k == 0; round++) {
			klog_batch_parse(p, len, &b, err);
			if ((k = klog_rec_iter_start(&it, p, &b, err)) < 0)
				break;
			while ((k = klog_rec_iter_next(&it, &r, err)) == 1)
				n++;
		}
		if (k < 0)
			n = -1;
		klog_rec_iter_free(&it);
		cmp_ok(n, ==, 2 * NRECS, "gzip: a reused iterator reads both batches");
	}
	klog_builder_free(&bb);
}

static void
test_fixture(void)
{
	char err[KLOG_ERRLEN] = "";
	char *data;
	size_t len;
	int64_t next;
	int nb, nr;

	if (access(FIXTURE, R_OK) < 0) {
		skip(7, "no Kafka fixture at %s", FIXTURE);
		return;
	}
	ok(klog_read_file(FIXTURE "/foo-0/00000000000000000000.log", &data, &len, err) == 0,
	    "read foo-0 segment");
	cmp_ok(len, ==, 150, "foo-0 segment is 150 bytes");
	next = 0;
	nb = nr = 0;
	cmp_ok(walk((unsigned char *)data, len, &next, &nb, &nr, 1, err), ==, 0,
	    "foo-0: every CRC ok, offsets contiguous from 0");
	if (err[0])
		diag("%s", err);
	ok(nb == 2 && nr == 3 && next == 3, "foo-0: 2 batches, 3 records (%d, %d)", nb, nr);
	free(data);

	ok(klog_read_file(FIXTURE "/__cluster_metadata-0/00000000000000000000.log", &data, &len,
	    err) == 0, "read __cluster_metadata-0 segment");
	next = -1;
	nb = nr = 0;
	cmp_ok(walk((unsigned char *)data, len, &next, &nb, &nr, 0, err), ==, 0,
	    "__cluster_metadata-0: parses end to end, every CRC ok");
	if (err[0])
		diag("%s", err);
	diag("__cluster_metadata-0: %zu bytes, %d batches, %d records, next offset %lld", len,
	    nb, nr, (long long)next);
	ok(nb > 1 && nr > 1, "__cluster_metadata-0 has batches and records");
	free(data);
}

/* klog_batch_validate of one whole buffer; -2 if it does not parse as one batch */
static int
validate(const unsigned char *p, size_t len, int flags, struct klog_rec_iter *it, char *err)
{
	struct klog_batch b;

	if (klog_batch_parse(p, len, &b, err) != 1 || klog_batch_size(&b) != len)
		return -2;
	return klog_batch_validate(p, &b, flags, it, err);
}

static const char *
mode(int flags)
{
	return flags & KLOG_VALID_CLIENT ? "client" : "disk";
}

/* every hostile batch of kbatch.h, in both modes */
static void
test_validate_kinds(void)
{
	struct klog_buf q = { 0 };
	struct klog_rec_iter it;
	char err[KLOG_ERRLEN];

	for (int k = 0; k < KB_NKINDS; k++) {
		const struct kb_kind *kk = &kb_kinds[k];
		struct timespec a, z;
		if (kb_hostile(k, &q, err) < 0) {
			skip(2, "%s: %s", kk->name, err);
			continue;
		}
		/* a fresh iterator has no buffer yet, as snappy-empty needs */
		klog_rec_iter_init0(&it);
		for (int m = 0; m < 2; m++) {
			int flags = m ? 0 : KLOG_VALID_CLIENT, want = m ? kk->disk : kk->client, r;
			err[0] = 0;
			errno = 0;
			clock_gettime(CLOCK_MONOTONIC, &a);
			r = validate(q.data, q.len, flags, &it, err);
			clock_gettime(CLOCK_MONOTONIC, &z);
			if (want == 0)
				ok(r == 0, "%s (%s): accepted in %s mode %s", kk->name, kk->what, mode(flags),
				    err);
			else
				ok(r == -1 && errno == want && !strncmp(err, "batch at offset ", 16) &&
				    (m || strstr(err, kk->msg)), "%s (%s): refused in %s mode, errno %d: %s",
				    kk->name, kk->what, mode(flags), errno, err);
			if (!strncmp(kk->name, "bomb", 4))
				ok(it.scratch.cap <= (size_t)16 << 20, "%s: %zu bytes refused in %.0f ms, "
				    "the 64 MiB decompressed not kept (%zu bytes)", kk->name, q.len,
				    ((double)(z.tv_sec - a.tv_sec) * 1e9 + (double)(z.tv_nsec - a.tv_nsec)) / 1e6,
				    it.scratch.cap);
		}
		klog_rec_iter_free(&it);
	}
	/* the error names the record and the field */
	kb_hostile(kb_kind("keylen"), &q, err);
	validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err);
	is(err, "batch at offset 0: record 3: bad key length", "message names the record and field");
	kb_hostile(kb_kind("crc"), &q, err);
	validate(q.data, q.len, 0, &it, err);
	ok(strstr(err, "bad CRC (stored ") && strstr(err, ", computed "), "CRC message: %s", err);
	klog_rec_iter_free(&it);
	klog_buf_free(&q);
}

/* set a big-endian field of a whole batch and recompute the CRC */
static void
patch(struct klog_buf *q, size_t at, uint64_t v, int bytes)
{
	kb_put(q->data + at, v, bytes);
	kb_fix_crc(q->data, q->len);
}

static void
test_validate(void)
{
	static const int codecs[] = { KLOG_CODEC_NONE, KLOG_CODEC_GZIP, KLOG_CODEC_SNAPPY,
		KLOG_CODEC_LZ4, KLOG_CODEC_ZSTD };
	struct klog_buf q = { 0 }, r = { 0 }, body = { 0 };
	struct klog_rec_iter it;
	struct klog_builder bb;
	struct klog_batch b;
	struct kb_hdr h;
	unsigned char *p;
	size_t len;
	char err[KLOG_ERRLEN] = "";
	int i, n;

	klog_rec_iter_init0(&it);
	/* what the builder writes passes both modes, every codec */
	for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
		if (!klog_codec_available(codecs[c])) {
			skip(3, "codec %s not built in", klog_codec_name(codecs[c]));
			continue;
		}
		ok(kb_good(&q, 1000, codecs[c], err) == 0 &&
		    validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0 &&
		    validate(q.data, q.len, 0, &it, err) == 0,
		    "%s: 1000 built records pass client and disk mode %s", klog_codec_name(codecs[c]), err);
		klog_builder_init(&bb, codecs[c]);
		ok(build(&bb, NRECS - 1, &p, &len, err) == 0 &&
		    validate(p, len, KLOG_VALID_CLIENT, &it, err) == 0,
		    "%s: keys, nulls, headers, timestamps out of order pass %s", klog_codec_name(codecs[c]),
		    err);
		/* the last test record has timestamp -5 */
		klog_builder_reset(&bb);
		errno = 0;
		ok(build(&bb, NRECS, &p, &len, err) == 0 &&
		    validate(p, len, KLOG_VALID_CLIENT, &it, err) == -1 && errno == EBADMSG &&
		    strstr(err, "record 5: negative timestamp -5"), "%s: %s", klog_codec_name(codecs[c]),
		    err);
		klog_builder_free(&bb);
	}

	/* timestamps -1 (none), idempotent and transactional producers */
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	for (i = 0; i < 3; i++)
		klog_builder_add(&bb, -1, "k", 1, "v", 1, NULL, 0);
	klog_builder_finish(&bb, &p, &len, err);
	ok(validate(p, len, KLOG_VALID_CLIENT, &it, err) == 0, "records without timestamps (-1) %s",
	    err);
	klog_builder_reset(&bb);
	bb.producer_id = 42;
	bb.producer_epoch = 3;
	bb.base_sequence = INT32_MAX;
	build(&bb, 3, &p, &len, err);
	ok(validate(p, len, KLOG_VALID_CLIENT, &it, err) == 0, "an idempotent producer's batch %s",
	    err);
	q.len = 0;
	klog_buf_append(&q, p, len);
	patch(&q, 21, KLOG_ATTR_TRANSACTIONAL, 2);
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0,
	    "a transactional batch with a producer id %s", err);
	klog_builder_free(&bb);

	/* LogAppendTime: readers see maxTimestamp, record deltas may be past it */
	kb_hostile(kb_kind("maxts"), &q, err);
	patch(&q, 21, KLOG_ATTR_LOG_APPEND_TIME, 2);
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0 &&
	    validate(q.data, q.len, 0, &it, err) == 0,
	    "LogAppendTime: record timestamps above maxTimestamp are fine %s", err);
	patch(&q, 35, (uint64_t)-1, 8);
	ok(validate(q.data, q.len, 0, &it, err) == 0, "LogAppendTime: maxTimestamp -1 %s", err);

	/* offsets near the limits (disk mode) */
	kb_hdr_init(&h, 2);
	h.lod = INT32_MAX;
	h.base = (int64_t)1 << 40;
	for (i = 0; i < 2; i++) {
		kb_body(&body, i, i ? INT32_MAX : 0, i);
		kb_record(&r, &body, -1);
	}
	kb_finish(&q, &h, r.data, r.len);
	ok(validate(q.data, q.len, 0, &it, err) == 0, "disk: offset deltas 0 and INT32_MAX %s", err);
	klog_batch_parse(q.data, q.len, &b, err);
	cmp_ok(klog_batch_last(&b), ==, ((int64_t)1 << 40) + INT32_MAX, "klog_batch_last in 64 bits");
	errno = 0;
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "lastOffsetDelta 2147483647 with 2 records"), "client: refused: %s", err);
	patch(&q, 0, (uint64_t)(INT64_MAX - INT32_MAX + 1), 8);
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "passes the largest offset"), "disk: base + lastOffsetDelta past INT64_MAX: %s",
	    err);
	klog_batch_parse(q.data, q.len, &b, err);
	cmp_ok(klog_batch_last(&b), ==, INT64_MIN, "klog_batch_last wraps there, no overflow");
	patch(&q, 0, INT64_MAX - INT32_MAX, 8);
	ok(validate(q.data, q.len, 0, &it, err) == 0, "disk: a batch ending at INT64_MAX %s", err);
	patch(&q, 23, INT32_MAX - 1, 4);
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "record 1: offset delta 2147483647 (past lastOffsetDelta)"),
	    "disk: a record past lastOffsetDelta: %s", err);

	/* fields klog_batch_parse already refuses, handed in anyway */
	kb_good(&q, 3, KLOG_CODEC_NONE, err);
	klog_batch_parse(q.data, q.len, &b, err);
	b.magic = 1;
	errno = 0;
	ok(klog_batch_validate(q.data, &b, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "magic 1"), "magic 1: %s", err);
	klog_batch_parse(q.data, q.len, &b, err);
	b.last_offset_delta = 1;
	errno = 0;
	ok(klog_batch_validate(q.data, &b, 0, &it, err) == -1 && errno == EBADMSG,
	    "lastOffsetDelta below count - 1: %s", err);

	/* codecs 5 to 7; codecs this build lacks */
	for (i = 5; i < 8; i++) {
		patch(&q, 21, (uint64_t)i, 2);
		errno = 0;
		ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
		    strstr(err, "unknown compression codec"), "codec %d: %s", i, err);
	}
	for (i = 1, n = 0; i < 5; i++) {
		if (klog_codec_available(i))
			continue;
		n++;
		patch(&q, 21, (uint64_t)i, 2);
		errno = 0;
		ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == -1 && errno == ENOTSUP &&
		    strstr(err, "not built into"), "client: codec %d not built in: %s", i, err);
		ok(validate(q.data, q.len, 0, &it, err) == 0, "disk: codec %d, CRC only %s", i, err);
	}
	if (!n)
		skip(2, "every codec is built in");

	/* an empty batch has no records area, whatever its codec */
	kb_hostile(kb_kind("empty"), &q, err);
	patch(&q, 21, KLOG_CODEC_GZIP, 2);
	ok(validate(q.data, q.len, 0, &it, err) == 0 && iterate_all(q.data, q.len, err) == 0,
	    "an empty gzip batch without a stream: valid, iterates to nothing %s", err);
	klog_buf_append(&q, "junk", 4);
	patch(&q, 8, q.len - 12, 4);
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "4 bytes after the last of 0 records"), "count 0 with bytes: %s", err);

	/* records that look fine one by one but not together */
	r.len = 0;
	kb_records(&r, 2);
	kb_body(&body, 2, 2, 2);
	body.data[0] = 1;                       /* record attributes are not checked */
	kb_record(&r, &body, -1);
	kb_hdr_init(&h, 3);
	kb_finish(&q, &h, r.data, r.len);
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0, "record attributes ignored %s",
	    err);
	kb_finish(&q, &h, r.data, r.len - 1);   /* the last record cut short */
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "record 2: bad length"), "a record cut by the batch end: %s", err);
	body.len = 0;
	klog_buf_append(&body, "", 1);
	kb_record(&r, &body, -1);               /* a fourth record of just attributes */
	kb_hdr_init(&h, 4);
	kb_finish(&q, &h, r.data, r.len);
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "record 3: bad timestamp delta"), "a record of one byte: %s", err);
	r.len = 0;
	kb_varint(&r, 0);                       /* a record of length 0 */
	kb_hdr_init(&h, 1);
	kb_finish(&q, &h, r.data, r.len);
	errno = 0;
	ok(validate(q.data, q.len, 0, &it, err) == -1 && errno == EBADMSG &&
	    strstr(err, "record 0: bad attributes"), "a record of length 0: %s", err);

	/* errno is left alone on success; one scratch buffer across codecs */
	kb_good(&q, 10, KLOG_CODEC_GZIP, err);
	errno = EINTR;
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0 && errno == EINTR,
	    "errno untouched by a valid batch");
	kb_good(&q, 10, KLOG_CODEC_NONE, err);
	ok(validate(q.data, q.len, KLOG_VALID_CLIENT, &it, err) == 0, "then a plain batch %s", err);
	klog_rec_iter_free(&it);
	klog_buf_free(&q);
	klog_buf_free(&r);
	klog_buf_free(&body);
}

/* every batch Kafka wrote passes disk mode */
static void
test_validate_fixture(void)
{
	static const char *const segs[] = { FIXTURE "/foo-0/00000000000000000000.log",
		FIXTURE "/__cluster_metadata-0/00000000000000000000.log" };
	struct klog_rec_iter it;
	struct klog_batch b;
	char err[KLOG_ERRLEN] = "";

	if (access(FIXTURE, R_OK) < 0) {
		skip(2, "no Kafka fixture at %s", FIXTURE);
		return;
	}
	klog_rec_iter_init0(&it);
	for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
		char *data;
		size_t len, off = 0;
		int n = 0, bad = 0;
		if (klog_read_file(segs[i], &data, &len, err) < 0) {
			ok(0, "%s", err);
			continue;
		}
		while (off < len && klog_batch_parse((unsigned char *)data + off, len - off, &b, err) == 1) {
			if (klog_batch_validate((unsigned char *)data + off, &b, 0, &it, err) < 0) {
				diag("%s", err);
				bad++;
			}
			off += klog_batch_size(&b);
			n++;
		}
		ok(off == len && n > 0 && bad == 0, "%s: all %d batches pass disk mode", segs[i] +
		    strlen(FIXTURE) + 1, n);
		free(data);
	}
	klog_rec_iter_free(&it);
}

static void
test_speed(void)
{
	struct klog_builder bb;
	unsigned char value[100], *p;
	size_t len;
	char err[KLOG_ERRLEN];
	struct timespec a, z;
	int n = 0;

	memset(value, 'x', sizeof value);
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int round = 0; round < 100; round++) {
		klog_builder_reset(&bb);
		for (int i = 0; i < 10000; i++, n++)
			klog_builder_add(&bb, 1700000000000LL + i, NULL, -1, value, 100, NULL, 0);
		klog_builder_finish(&bb, &p, &len, err);
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	double s = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
	diag("builder: %d 100-byte records in %.3f s, %.1f M/s (including CRC)", n, s, n / s / 1e6);
	klog_builder_free(&bb);

	/* validation of 1000-record batches, the broker's and every append's cost */
	{
		static const int codecs[] = { KLOG_CODEC_NONE, KLOG_CODEC_LZ4, KLOG_CODEC_ZSTD };
		struct klog_buf q = { 0 };
		struct klog_rec_iter it;
		struct klog_batch b;
		klog_rec_iter_init0(&it);
		for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
			int bad = 0, rounds = codecs[c] == KLOG_CODEC_NONE ? 2000 : 200;
			if (!klog_codec_available(codecs[c]) || kb_good(&q, 1000, codecs[c], err) < 0)
				continue;
			klog_batch_parse(q.data, q.len, &b, err);
			clock_gettime(CLOCK_MONOTONIC, &a);
			for (int round = 0; round < rounds; round++)
				bad += klog_batch_validate(q.data, &b, KLOG_VALID_CLIENT, &it, err) != 0;
			clock_gettime(CLOCK_MONOTONIC, &z);
			s = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
			diag("validate (%s): %d x 1000 records of 100 bytes (%zu-byte batch) in %.3f s, "
			    "%.1f M records/s, %.2f GB/s of batch%s", klog_codec_name(codecs[c]), rounds,
			    q.len, s, rounds * 1000 / s / 1e6, rounds * (double)q.len / s / 1e9,
			    bad ? " (FAILED)" : "");
		}
		klog_rec_iter_free(&it);
		klog_buf_free(&q);
	}
}

int
main(void)
{
	(void)tap_plan;         /* no fixed plan: skips depend on the codecs built in */
	test_hello();
	test_bad_headers();
	test_builder();
	test_count_mismatch();
	test_fuzz();
	test_codecs();
	test_fixture();
	test_validate_kinds();
	test_validate();
	test_validate_fixture();
	test_speed();
	return done_testing();
}
