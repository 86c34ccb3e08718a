/* klog - hand-made RecordBatches, good and hostile, for kbatch, t0004 and t0011. MIT licence. */
/*
 * Every hostile batch is CRC-valid (the CRC is computed after the damage)
 * except "crc", so each one reaches the check it is meant for.  The table
 * says what klog_batch_validate answers in client mode (a producer's
 * batch) and in disk mode (a stored one): the errno, 0 for accepted, and
 * a piece of the message.  Header fields are written as given: records
 * come first, the header is filled last (kb_finish).
 */
#ifndef KLOG_KBATCH_H
#define KLOG_KBATCH_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

#define KB_TS 1700000000000LL

struct kb_hdr {
	int64_t base;
	int32_t epoch;
	int16_t attr;
	int32_t lod;
	int64_t base_ts, max_ts;
	int64_t pid;
	int16_t pepoch;
	int32_t seq, count;
};

struct kb_kind {
	const char *name;
	int client;             /* errno in client mode, 0 accepted */
	int disk;               /* errno in disk mode, 0 accepted */
	const char *msg;        /* part of the client-mode message */
	const char *what;
};

/* the order is the switch in kb_hostile */
static const struct kb_kind kb_kinds[] = {
	{ "crc", EILSEQ, EILSEQ, "bad CRC (stored", "a flipped value byte" },
	{ "lod-max", EBADMSG, 0, "lastOffsetDelta 2147483647 with 1 records",
	  "one record, lastOffsetDelta INT32_MAX" },
	{ "overrun", EBADMSG, EBADMSG, "record 2: bad length", "the last record runs past the batch" },
	{ "headers", EBADMSG, EBADMSG, "record 0: bad header count",
	  "a header count of 1000000 in a few bytes" },
	{ "codec", EBADMSG, EBADMSG, "unknown compression codec 5", "codec 5" },
	{ "bomb-gzip", EBADMSG, EBADMSG, "decompressed size exceeds",
	  "256 MiB of zeros in ~260 KB of gzip members" },
	{ "bomb-zstd", EBADMSG, EBADMSG, "decompressed size exceeds",
	  "1 GiB of zeros in ~34 KB of zstd frames" },
	{ "negts", EBADMSG, EBADMSG, "record 1: negative timestamp -5", "a record timestamp -5" },
	{ "maxts", EBADMSG, EBADMSG, "record 2: timestamp 1700000000002 above the batch's "
	  "maxTimestamp 1700000000001", "maxTimestamp below a record's timestamp" },
	{ "maxts-high", EBADMSG, 0, "maxTimestamp 1700000000100 is not the largest",
	  "maxTimestamp above every record's" },
	{ "tsoverflow", EBADMSG, EBADMSG, "record 2: bad timestamp delta (the timestamp overflows)",
	  "baseTimestamp + delta past INT64_MAX" },
	{ "control", EBADMSG, 0, "a control batch from a producer", "the control bit" },
	{ "horizon", EBADMSG, 0, "hasDeleteHorizonMs set by a producer", "attribute bit 6" },
	{ "attr", EBADMSG, 0, "unknown attribute bits 0x80", "attribute bit 7" },
	{ "pid", EBADMSG, EBADMSG, "producer epoch 0 and sequence -1 without a producer id",
	  "producerId -1 with epoch 0" },
	{ "pid-neg", EBADMSG, EBADMSG, "bad producer id -7", "producerId -7" },
	{ "seq", EBADMSG, EBADMSG, "bad producer id 5, epoch 0, sequence -1",
	  "producerId 5 with sequence -1" },
	{ "txn", EBADMSG, EBADMSG, "transactional without a producer id",
	  "transactional, producerId -1" },
	{ "count", EBADMSG, EBADMSG, "3 records where the header says 4", "count 4, 3 records" },
	{ "trailing", EBADMSG, EBADMSG, "bytes after the last of 2 records", "count 2, 3 records" },
	{ "offdelta", EBADMSG, EBADMSG, "offset delta 2", "offset deltas 0, 2, 2" },
	{ "compacted", EBADMSG, 0, "lastOffsetDelta 5 with 2 records",
	  "offset deltas 0, 5 (what compaction leaves)" },
	{ "empty", EBADMSG, 0, "no records", "recordsCount 0" },
	{ "keylen", EBADMSG, EBADMSG, "record 3: bad key length",
	  "record 3's key length past its end" },
	{ "lat-negmax", EBADMSG, EBADMSG, "LogAppendTime maxTimestamp -5 below -1",
	  "LogAppendTime with maxTimestamp -5" },
	{ "gzip-junk", EBADMSG, EBADMSG, "gzip: ", "gzip bit over bytes that are not gzip" },
	{ "gzip-records", EBADMSG, EBADMSG, "record 1: bad value length",
	  "gzip of records, record 1 with value length -3" },
	/* found by fuzz-batch: codec.c made a pointer from NULL + 0 (clang's UBSan) */
	{ "snappy-empty", EBADMSG, EBADMSG, "0 records where the header says 1",
	  "a xerial snappy chunk of an empty output, decompressed into no buffer yet" },
	{ "base-neg", 0, EBADMSG, "", "baseOffset -1 (a producer's is ignored)" },
	{ "base-max", 0, EBADMSG, "", "baseOffset INT64_MAX - 1 with lastOffsetDelta 2" },
};
#define KB_NKINDS ((int)(sizeof kb_kinds / sizeof kb_kinds[0]))

static inline int
kb_kind(const char *name)
{
	int i;

	for (i = 0; i < KB_NKINDS; i++)
		if (!strcmp(kb_kinds[i].name, name))
			return i;
	return -1;
}

static inline void
kb_put(unsigned char *p, uint64_t v, int bytes)
{
	while (bytes--) {
		p[bytes] = (unsigned char)v;
		v >>= 8;
	}
}

static inline void
kb_varint(struct klog_buf *b, int64_t v)
{
	unsigned char t[10];

	klog_buf_append(b, t, klog_varint_put(t, v));
}

/* a length varint and the bytes (none for a negative length) */
static inline void
kb_bytes(struct klog_buf *b, const void *p, int32_t len)
{
	kb_varint(b, len);
	if (len > 0)
		klog_buf_append(b, p, (size_t)len);
}

/* one record of `body` (fields after the length); len < 0: the real length */
static inline void
kb_record(struct klog_buf *out, const struct klog_buf *body, int64_t len)
{
	kb_varint(out, len < 0 ? (int64_t)body->len : len);
	klog_buf_append(out, body->data, body->len);
}

/* the body of an ordinary record: key "k<i>", value "value <i>", no headers */
static inline void
kb_body(struct klog_buf *body, int64_t ts_delta, int32_t off_delta, int i)
{
	char k[16], v[32];

	body->len = 0;
	klog_buf_append(body, "", 1);                   /* attributes */
	kb_varint(body, ts_delta);
	kb_varint(body, off_delta);
	kb_bytes(body, k, snprintf(k, sizeof k, "k%d", i));
	kb_bytes(body, v, snprintf(v, sizeof v, "value %d", i));
	kb_varint(body, 0);
}

/* n ordinary records, record i at offset delta i and timestamp delta i */
static inline void
kb_records(struct klog_buf *out, int n)
{
	struct klog_buf body = { 0 };
	int i;

	for (i = 0; i < n; i++) {
		kb_body(&body, i, i, i);
		kb_record(out, &body, -1);
	}
	klog_buf_free(&body);
}

/* a producer's header for count records at KB_TS + i */
static inline void
kb_hdr_init(struct kb_hdr *h, int32_t count)
{
	memset(h, 0, sizeof *h);
	h->epoch = -1;
	h->lod = count ? count - 1 : 0;
	h->base_ts = count ? KB_TS : -1;
	h->max_ts = count ? KB_TS + count - 1 : -1;
	h->pid = -1;
	h->pepoch = -1;
	h->seq = -1;
	h->count = count;
}

/* header + records area into out (emptied first), CRC computed */
static inline void
kb_finish(struct klog_buf *out, const struct kb_hdr *h, const void *recs, size_t n)
{
	unsigned char *p;

	out->len = 0;
	klog_buf_reserve(out, KLOG_BATCH_OVERHEAD + n);
	p = out->data;
	memset(p, 0, KLOG_BATCH_OVERHEAD);
	kb_put(p, (uint64_t)h->base, 8);
	kb_put(p + 8, KLOG_BATCH_OVERHEAD - KLOG_LOG_OVERHEAD + n, 4);
	kb_put(p + 12, (uint64_t)(int64_t)h->epoch, 4);
	p[16] = 2;
	kb_put(p + 21, (uint64_t)(int64_t)h->attr, 2);
	kb_put(p + 23, (uint64_t)(int64_t)h->lod, 4);
	kb_put(p + 27, (uint64_t)h->base_ts, 8);
	kb_put(p + 35, (uint64_t)h->max_ts, 8);
	kb_put(p + 43, (uint64_t)h->pid, 8);
	kb_put(p + 51, (uint64_t)(int64_t)h->pepoch, 2);
	kb_put(p + 53, (uint64_t)(int64_t)h->seq, 4);
	kb_put(p + 57, (uint64_t)(int64_t)h->count, 4);
	if (n)
		memcpy(p + KLOG_BATCH_OVERHEAD, recs, n);
	out->len = KLOG_BATCH_OVERHEAD + n;
	kb_put(p + 17, klog_crc32c(0, p + 21, out->len - 21), 4);
}

/* recompute the CRC of a whole batch after patching it */
static inline void
kb_fix_crc(unsigned char *p, size_t len)
{
	kb_put(p + 17, klog_crc32c(0, p + 21, len - 21), 4);
}

/* n records of 100-byte values at KB_TS + i through the library's builder */
static inline int
kb_good(struct klog_buf *out, int n, int codec, char *err)
{
	struct klog_builder bb;
	unsigned char v[100], *p;
	char k[16];
	size_t len;
	int i, rc = -1;

	klog_builder_init(&bb, codec);
	for (i = 0; i < n; i++) {
		memset(v, 'a' + i % 26, sizeof v);
		if (klog_builder_add(&bb, KB_TS + i, k, snprintf(k, sizeof k, "key-%d", i), v,
		    (int32_t)sizeof v, NULL, 0) < 0) {
			snprintf(err, KLOG_ERRLEN, "builder: %s", strerror(errno));
			goto out;
		}
	}
	if (klog_builder_finish(&bb, &p, &len, err) < 0)
		goto out;
	out->len = 0;
	klog_buf_append(out, p, len);
	rc = 0;
out:
	klog_builder_free(&bb);
	return rc;
}

/* total bytes of zeros as back-to-back streams of 16 MiB each */
static inline int
kb_bomb(struct klog_buf *out, int codec, size_t total, char *err)
{
	struct klog_buf z = { 0 }, all = { 0 };
	size_t chunk = (size_t)16 << 20, i;
	unsigned char *zeros;
	struct kb_hdr h;

	if (!klog_codec_available(codec)) {
		snprintf(err, KLOG_ERRLEN, "codec '%s' not built in", klog_codec_name(codec));
		errno = ENOTSUP;
		return -1;
	}
	if (!(zeros = calloc(1, chunk)) || klog_compress(codec, zeros, chunk, &z, err) < 0) {
		free(zeros);
		return -1;
	}
	for (i = 0; i < total / chunk; i++)
		klog_buf_append(&all, z.data, z.len);
	kb_hdr_init(&h, 1);
	h.attr = (int16_t)codec;
	kb_finish(out, &h, all.data, all.len);
	free(zeros);
	klog_buf_free(&z);
	klog_buf_free(&all);
	return 0;
}

/* build hostile batch number k of kb_kinds into out; -1 (err) if it cannot be here */
static inline int
kb_hostile(int k, struct klog_buf *out, char *err)
{
	struct klog_buf r = { 0 }, body = { 0 }, z = { 0 };
	struct kb_hdr h;
	int i, rc = 0;

	kb_hdr_init(&h, 3);
	switch (k) {
	case 0:         /* crc */
		kb_records(&r, 3);
		kb_finish(out, &h, r.data, r.len);
		out->data[out->len - 2] ^= 0x20;
		break;
	case 1:         /* lod-max */
		kb_hdr_init(&h, 1);
		h.lod = INT32_MAX;
		kb_records(&r, 1);
		kb_finish(out, &h, r.data, r.len);
		break;
	case 2:         /* overrun */
		kb_records(&r, 2);
		kb_body(&body, 2, 2, 2);
		kb_record(&r, &body, 1000);
		kb_finish(out, &h, r.data, r.len);
		break;
	case 3:         /* headers */
		kb_hdr_init(&h, 1);
		kb_body(&body, 0, 0, 0);
		body.len--;                     /* the header count */
		kb_varint(&body, 1000000);
		klog_buf_append(&body, "\002a\002b", 4);
		kb_record(&r, &body, -1);
		kb_finish(out, &h, r.data, r.len);
		break;
	case 4:         /* codec */
		kb_records(&r, 3);
		h.attr = 5;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 5:         /* bomb-gzip */
		rc = kb_bomb(out, KLOG_CODEC_GZIP, (size_t)256 << 20, err);
		break;
	case 6:         /* bomb-zstd */
		rc = kb_bomb(out, KLOG_CODEC_ZSTD, (size_t)1 << 30, err);
		break;
	case 7:         /* negts */
		for (i = 0; i < 3; i++) {
			kb_body(&body, i == 1 ? -KB_TS - 5 : i, i, i);
			kb_record(&r, &body, -1);
		}
		kb_finish(out, &h, r.data, r.len);
		break;
	case 8:         /* maxts */
		kb_records(&r, 3);
		h.max_ts = KB_TS + 1;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 9:         /* maxts-high */
		kb_records(&r, 3);
		h.max_ts = KB_TS + 100;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 10:        /* tsoverflow */
		kb_records(&r, 3);
		h.base_ts = INT64_MAX - 1;
		h.max_ts = INT64_MAX;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 11:        /* control */
	case 12:        /* horizon */
	case 13:        /* attr */
		kb_records(&r, 3);
		h.attr = k == 11 ? KLOG_ATTR_CONTROL : k == 12 ? KLOG_ATTR_DELETE_HORIZON : 0x80;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 14:        /* pid */
		kb_records(&r, 3);
		h.pepoch = 0;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 15:        /* pid-neg */
		kb_records(&r, 3);
		h.pid = -7;
		h.pepoch = 0;
		h.seq = 0;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 16:        /* seq */
		kb_records(&r, 3);
		h.pid = 5;
		h.pepoch = 0;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 17:        /* txn */
		kb_records(&r, 3);
		h.attr = KLOG_ATTR_TRANSACTIONAL;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 18:        /* count */
		kb_records(&r, 3);
		kb_hdr_init(&h, 4);
		h.max_ts = KB_TS + 2;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 19:        /* trailing */
		kb_records(&r, 3);
		kb_hdr_init(&h, 2);
		h.max_ts = KB_TS + 2;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 20:        /* offdelta */
		for (i = 0; i < 3; i++) {
			kb_body(&body, i, i ? 2 : 0, i);
			kb_record(&r, &body, -1);
		}
		kb_finish(out, &h, r.data, r.len);
		break;
	case 21:        /* compacted */
		kb_hdr_init(&h, 2);
		h.lod = 5;
		for (i = 0; i < 2; i++) {
			kb_body(&body, i, i * 5, i);
			kb_record(&r, &body, -1);
		}
		kb_finish(out, &h, r.data, r.len);
		break;
	case 22:        /* empty */
		kb_hdr_init(&h, 0);
		kb_finish(out, &h, NULL, 0);
		break;
	case 23:        /* keylen */
		kb_hdr_init(&h, 4);
		kb_records(&r, 3);
		body.len = 0;
		klog_buf_append(&body, "", 1);
		kb_varint(&body, 3);
		kb_varint(&body, 3);
		kb_varint(&body, 100);          /* key length, 3 bytes there */
		klog_buf_append(&body, "k3", 2);
		kb_varint(&body, 0);
		kb_record(&r, &body, -1);
		kb_finish(out, &h, r.data, r.len);
		break;
	case 24:        /* lat-negmax */
		kb_records(&r, 3);
		h.attr = KLOG_ATTR_LOG_APPEND_TIME;
		h.max_ts = -5;
		kb_finish(out, &h, r.data, r.len);
		break;
	case 25:        /* gzip-junk */
		h.attr = KLOG_CODEC_GZIP;
		kb_finish(out, &h, "these bytes are not gzip", 24);
		break;
	case 26:        /* gzip-records */
		kb_body(&body, 0, 0, 0);
		kb_record(&r, &body, -1);
		body.len = 0;
		klog_buf_append(&body, "", 1);
		kb_varint(&body, 1);
		kb_varint(&body, 1);
		kb_bytes(&body, "k1", 2);
		kb_varint(&body, -3);           /* value length */
		kb_varint(&body, 0);
		kb_record(&r, &body, -1);
		kb_body(&body, 2, 2, 2);
		kb_record(&r, &body, -1);
		if ((rc = klog_compress(KLOG_CODEC_GZIP, r.data, r.len, &z, err)) < 0)
			break;
		h.attr = KLOG_CODEC_GZIP;
		kb_finish(out, &h, z.data, z.len);
		break;
	case 27:        /* snappy-empty */
		if (!klog_codec_available(KLOG_CODEC_SNAPPY)) {
			snprintf(err, KLOG_ERRLEN, "codec 'snappy' not built in");
			errno = ENOTSUP;
			rc = -1;
			break;
		}
		kb_hdr_init(&h, 1);
		h.attr = KLOG_CODEC_SNAPPY;
		/* magic, version 1, compatible 1, a chunk of 1 byte: raw snappy of nothing */
		kb_finish(out, &h, "\202SNAPPY\0\0\0\0\1\0\0\0\1\0\0\0\1\0", 21);
		break;
	case 28:        /* base-neg */
	case 29:        /* base-max */
		kb_records(&r, 3);
		h.base = k == 28 ? -1 : INT64_MAX - 1;
		kb_finish(out, &h, r.data, r.len);
		break;
	default:
		snprintf(err, KLOG_ERRLEN, "no hostile batch %d", k);
		errno = EINVAL;
		rc = -1;
	}
	klog_buf_free(&r);
	klog_buf_free(&body);
	klog_buf_free(&z);
	return rc;
}

#endif
