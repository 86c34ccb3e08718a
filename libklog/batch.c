/* klog - RecordBatch v2: parse, verify, iterate records, build batches. MIT licence. */
/*
 * RecordBatch v2 (magic 2) is the unit Kafka writes to a .log segment and
 * sends on the wire.  A segment is batches back to back, nothing else.
 * All integers are big-endian unless marked varint.
 *
 *   offset size field
 *        0    8 baseOffset            first offset; the producer writes 0,
 *                                     the leader assigns the real one
 *        8    4 batchLength           bytes after this field (size - 12)
 *       12    4 partitionLeaderEpoch  set by the leader, -1 for none
 *       16    1 magic                 2 (0 and 1 are the legacy formats,
 *                                     which put a CRC-32 at 17: refused)
 *       17    4 crc                   CRC-32C of bytes [21, end of batch)
 *       21    2 attributes            below
 *       23    4 lastOffsetDelta       last offset - baseOffset
 *       27    8 baseTimestamp         first record's timestamp (-1 if empty)
 *       35    8 maxTimestamp          largest record timestamp, or the
 *                                     broker's clock under LogAppendTime
 *       43    8 producerId            -1 unless idempotent
 *       51    2 producerEpoch         -1 unless idempotent
 *       53    4 baseSequence          -1 unless idempotent
 *       57    4 recordsCount          never compressed
 *       61    . records               count records, or one compressed
 *                                     stream of them all
 *
 * The fixed header is 61 bytes (KLOG_BATCH_OVERHEAD), so the smallest
 * batchLength is 49.  We refuse batchLength above 1 GiB, negative counts,
 * a negative lastOffsetDelta or one too small for the count.
 *
 * Because the CRC starts at byte 21, baseOffset and partitionLeaderEpoch
 * can be rewritten in place when a batch is appended without touching
 * the CRC (klog_batch_set_base_offset, klog_batch_set_leader_epoch);
 * changing attributes or maxTimestamp needs a new CRC.
 *
 * attributes (only the low byte is used):
 *   bits 0-2  codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
 *   bit 3     timestamp type: 0 CreateTime, 1 LogAppendTime (every
 *             record's timestamp is then maxTimestamp)
 *   bit 4     transactional
 *   bit 5     control batch (transaction markers; readers iterate them
 *             like any batch and callers skip them)
 *   bit 6     hasDeleteHorizonMs (set by the log cleaner)
 *
 * A record:
 *   length           varint  bytes of the record after this field
 *   attributes       int8    unused, 0
 *   timestampDelta   varlong record timestamp - baseTimestamp
 *   offsetDelta      varint  record offset - baseOffset
 *   keyLength        varint  -1 for a null key
 *   key              bytes
 *   valueLength      varint  -1 for a null value (a tombstone)
 *   value            bytes
 *   headersCount     varint
 *   headers          per header: keyLength varint (>= 0), key bytes,
 *                    valueLength varint (-1 null), value bytes
 *
 * varint/varlong are zigzag varints (varint.c): 0->00, -1->01, 1->02.
 * varints are 32-bit values, varlongs 64-bit.
 *
 * Reading hostile bytes: every length is checked against the end of the
 * record and every record's length against the end of the batch; a
 * record's fields must use exactly its declared length, and exactly
 * recordsCount records must fill the records area.  Compressed batches
 * are inflated into the iterator's scratch buffer, at most
 * max(64 MiB, 16 x compressed size) and never more than 1 GiB (see
 * decompress_limit), so a small compressed bomb cannot take the memory.
 * A compressed batch with recordsCount 0 is not decompressed (Kafka's
 * reader does not look at its records either).
 *
 * Validation (klog_batch_validate; Kafka's LogValidator) happens at the
 * trust boundaries: before a producer's batch is appended (client mode,
 * KLOG_VALID_CLIENT) and when a stored batch is checked (disk mode).  It
 * is one pass over the records, with no allocation but the reusable
 * decompression buffer.  Both modes require:
 *
 *   - the CRC-32C (errno EILSEQ; everything else below is EBADMSG);
 *   - magic 2, codec 0..4; a codec not built in is ENOTSUP in client
 *     mode, and in disk mode the batch gets the header checks and the
 *     CRC only;
 *   - producer fields: producerId -1 with producerEpoch -1 and
 *     baseSequence -1, or producerId >= 0 with epoch and sequence >= 0;
 *     the transactional bit needs producerId >= 0;
 *   - every record parses and fills its length exactly, exactly
 *     recordsCount records fill the records area (for compressed
 *     batches: the decompressed stream, within the bomb limit above);
 *   - record offsets strictly increasing within [baseOffset,
 *     baseOffset + lastOffsetDelta];
 *   - record timestamps (baseTimestamp + delta, no overflow) >= -1,
 *     Kafka's "no timestamp"; in a LogAppendTime batch maxTimestamp,
 *     which readers report for every record, >= -1 too; in a CreateTime
 *     batch maxTimestamp >= every record's timestamp.
 *
 * Disk mode also requires baseOffset >= 0 and baseOffset +
 * lastOffsetDelta to fit an int64 (a producer's baseOffset is ignored and
 * rewritten, so client mode does not look at it).  Client mode requires
 * what a producer writes and nothing else: recordsCount >= 1,
 * lastOffsetDelta == recordsCount - 1 and record i at offsetDelta i; no
 * control batch (bit 5), no hasDeleteHorizonMs (bit 6), attribute bits 7
 * to 15 zero; and for CreateTime, maxTimestamp equal to the largest
 * record timestamp.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BATCH_MIN_LENGTH (KLOG_BATCH_OVERHEAD - KLOG_LOG_OVERHEAD)      /* 49 */
#define BATCH_MAX_LENGTH (1 << 30)
#define CRC_START 21

/* field positions */
#define OFF_LENGTH 8
#define OFF_EPOCH 12
#define OFF_MAGIC 16
#define OFF_CRC 17
#define OFF_ATTR 21
#define OFF_LOD 23
#define OFF_BASE_TS 27
#define OFF_MAX_TS 35
#define OFF_PID 43
#define OFF_PEPOCH 51
#define OFF_BASE_SEQ 53
#define OFF_COUNT 57

int
klog_batch_parse(const unsigned char *p, size_t avail, struct klog_batch *b, char *err)
{
	memset(b, 0, sizeof *b);
	if (avail < OFF_LENGTH + 4) {
		if (avail >= 8)
			b->base_offset = (int64_t)get64(p);
		return 0;
	}
	b->base_offset = (int64_t)get64(p);
	b->length = (int32_t)get32(p + OFF_LENGTH);
	if (b->length < BATCH_MIN_LENGTH)
		return kerr(err, "batch at offset %lld: length %d below the minimum %d",
		    (long long)b->base_offset, b->length, BATCH_MIN_LENGTH);
	if (b->length > BATCH_MAX_LENGTH)
		return kerr(err, "batch at offset %lld: length %d above 1 GiB",
		    (long long)b->base_offset, b->length);
	if (avail < OFF_MAGIC)
		return 0;
	b->leader_epoch = (int32_t)get32(p + OFF_EPOCH);
	if (avail == OFF_MAGIC)
		return 0;
	b->magic = (int8_t)p[OFF_MAGIC];
	if (b->magic != 2)
		return kerr(err, "batch at offset %lld: unsupported magic %d (only 2)",
		    (long long)b->base_offset, b->magic);
	if (avail < KLOG_BATCH_OVERHEAD)
		return 0;
	b->crc = get32(p + OFF_CRC);
	b->attributes = (int16_t)get16(p + OFF_ATTR);
	b->last_offset_delta = (int32_t)get32(p + OFF_LOD);
	b->base_timestamp = (int64_t)get64(p + OFF_BASE_TS);
	b->max_timestamp = (int64_t)get64(p + OFF_MAX_TS);
	b->producer_id = (int64_t)get64(p + OFF_PID);
	b->producer_epoch = (int16_t)get16(p + OFF_PEPOCH);
	b->base_sequence = (int32_t)get32(p + OFF_BASE_SEQ);
	b->count = (int32_t)get32(p + OFF_COUNT);
	if (b->count < 0)
		return kerr(err, "batch at offset %lld: negative record count %d",
		    (long long)b->base_offset, b->count);
	if (b->last_offset_delta < 0 || b->last_offset_delta < b->count - 1)
		return kerr(err, "batch at offset %lld: lastOffsetDelta %d with %d records",
		    (long long)b->base_offset, b->last_offset_delta, b->count);
	return klog_batch_size(b) <= avail ? 1 : 0;
}

int
klog_batch_verify(const unsigned char *p, const struct klog_batch *b, char *err)
{
	uint32_t crc = klog_crc32c(0, p + CRC_START, klog_batch_size(b) - CRC_START);

	if (crc != b->crc)
		return kerr(err, "batch at offset %lld: bad CRC (stored %08x, computed %08x)",
		    (long long)b->base_offset, b->crc, crc);
	return 0;
}

void
klog_batch_set_base_offset(unsigned char *p, int64_t base)
{
	put64(p, (uint64_t)base);
}

void
klog_batch_set_leader_epoch(unsigned char *p, int32_t epoch)
{
	put32(p + OFF_EPOCH, (uint32_t)epoch);
}

/* records */

/*
 * A zigzag varint, the one- and two-byte forms (almost every field of a
 * record) inline, longer ones through varint.c.
 */
static inline size_t
get_varint(const unsigned char *p, const unsigned char *end, int64_t *v)
{
	uint64_t u;
	size_t n;

	if (p < end && !(p[0] & 0x80)) {
		u = p[0];
		n = 1;
	} else if (end - p >= 2 && !(p[1] & 0x80)) {
		u = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
		n = 2;
	} else
		return klog_varint_get(p, end, v);
	*v = (int64_t)((u >> 1) ^ (0 - (u & 1)));
	return n;
}

/* a varint that must fit an int32 */
static inline size_t
get_int32(const unsigned char *p, const unsigned char *end, int32_t *v)
{
	int64_t x;
	size_t n;

	if (!(n = get_varint(p, end, &x)) || x < INT32_MIN || x > INT32_MAX)
		return 0;
	*v = (int32_t)x;
	return n;
}

/* a length varint, -1 (null) or 0..bytes left; advances *pp past the bytes */
static inline int
get_bytes(const unsigned char **pp, const unsigned char *end, int null_ok,
    const unsigned char **data, int32_t *len)
{
	const unsigned char *p = *pp;
	size_t n;

	if (!(n = get_int32(p, end, len)))
		return -1;
	p += n;
	if (*len < 0) {
		if (*len != -1 || !null_ok)
			return -1;
		*data = NULL;
	} else {
		if ((size_t)*len > (size_t)(end - p))
			return -1;
		*data = p;
		p += *len;
	}
	*pp = p;
	return 0;
}

int
klog_header_next(const unsigned char **pos, const unsigned char *end, struct klog_header *h)
{
	const unsigned char *p = *pos;

	if (p >= end)
		return 0;
	if (get_bytes(&p, end, 0, &h->key, &h->key_len) < 0 ||
	    get_bytes(&p, end, 1, &h->value, &h->value_len) < 0)
		return 0;
	*pos = p;
	return 1;
}

void
klog_rec_iter_init0(struct klog_rec_iter *it)
{
	memset(it, 0, sizeof *it);
}

void
klog_rec_iter_free(struct klog_rec_iter *it)
{
	klog_buf_free(&it->scratch);
	klog_rec_iter_init0(it);
}

/*
 * How far a compressed batch may inflate: 16 times its size, at least 64
 * MiB (batches of highly compressible records are normal), at most 1 GiB
 * (the largest batch we accept at all).
 */
static size_t
decompress_limit(size_t n)
{
	size_t lim = 64u << 20;

	if (n <= (size_t)BATCH_MAX_LENGTH / 16 && n * 16 > lim)
		lim = n * 16;
	else if (n > (size_t)BATCH_MAX_LENGTH / 16)
		lim = BATCH_MAX_LENGTH;
	return lim;
}

int
klog_rec_iter_start(struct klog_rec_iter *it, const unsigned char *batch,
    const struct klog_batch *b, char *err)
{
	const unsigned char *rec = batch + KLOG_BATCH_OVERHEAD;
	size_t n = klog_batch_size(b) - KLOG_BATCH_OVERHEAD;
	int codec = b->attributes & KLOG_ATTR_CODEC;
	char e[KLOG_ERRLEN];

	it->b = *b;
	it->left = b->count;
	if (codec != KLOG_CODEC_NONE && b->count == 0) {
		it->pos = it->end = rec;        /* nothing to decompress */
		return 0;
	}
	if (codec == KLOG_CODEC_NONE) {
		it->pos = rec;
		it->end = rec + n;
		return 0;
	}
	it->scratch.len = 0;
	if (klog_decompress(codec, rec, n, &it->scratch, decompress_limit(n), e) < 0) {
		it->pos = it->end = NULL;
		it->left = 0;
		return kerr(err, "batch at offset %lld: %s: %s", (long long)b->base_offset,
		    klog_codec_name(codec), e);
	}
	/* data may be NULL for an empty stream */
	it->pos = it->scratch.data ? it->scratch.data : rec;
	it->end = it->pos + it->scratch.len;
	return 0;
}

int
klog_rec_iter_next(struct klog_rec_iter *it, struct klog_record *r, char *err)
{
	const unsigned char *p = it->pos, *end, *hk, *hv;
	int32_t len, off_delta, hkl, hvl, i, rec_no = it->b.count - it->left;
	int64_t ts_delta;
	size_t n;
	const char *what;

	if (it->left <= 0) {
		if (p != it->end)
			return kerr(err, "batch at offset %lld: %zu bytes after the last of %d records",
			    (long long)it->b.base_offset, (size_t)(it->end - p), it->b.count);
		return 0;
	}
	if (p == it->end)
		return kerr(err, "batch at offset %lld: %d records where the header says %d",
		    (long long)it->b.base_offset, rec_no, it->b.count);
	what = "length";
	if (!(n = get_int32(p, it->end, &len)) || len < 0 || (size_t)len > (size_t)(it->end - p - n))
		goto bad;
	p += n;
	end = p + len;
	what = "attributes";
	if (p >= end)
		goto bad;
	p++;
	what = "timestamp delta";
	if (!(n = get_varint(p, end, &ts_delta)))
		goto bad;
	p += n;
	what = "offset delta";
	if (!(n = get_int32(p, end, &off_delta)))
		goto bad;
	p += n;
	what = "key";
	if (get_bytes(&p, end, 1, &r->key, &r->key_len) < 0)
		goto bad;
	what = "value";
	if (get_bytes(&p, end, 1, &r->value, &r->value_len) < 0)
		goto bad;
	what = "header count";
	/* each header takes at least two bytes */
	if (!(n = get_int32(p, end, &r->header_count)) || r->header_count < 0 ||
	    (size_t)r->header_count > (size_t)(end - p - n) / 2)
		goto bad;
	p += n;
	r->headers = p;
	what = "header";
	for (i = 0; i < r->header_count; i++)
		if (get_bytes(&p, end, 0, &hk, &hkl) < 0 || get_bytes(&p, end, 1, &hv, &hvl) < 0)
			goto bad;
	r->headers_end = p;
	what = "length (its fields use a different size)";
	if (p != end)
		goto bad;
	/* wrap rather than overflow on hostile deltas */
	r->offset = (int64_t)((uint64_t)it->b.base_offset + (uint64_t)(int64_t)off_delta);
	r->log_append_time = !!(it->b.attributes & KLOG_ATTR_LOG_APPEND_TIME);
	if (r->log_append_time)
		r->timestamp = it->b.max_timestamp;
	else
		r->timestamp = (int64_t)((uint64_t)it->b.base_timestamp + (uint64_t)ts_delta);
	it->pos = end;
	it->left--;
	return 1;
bad:
	return kerr(err, "batch at offset %lld: record %d: bad %s",
	    (long long)it->b.base_offset, rec_no, what);
}

/* validation (the rules are at the top of this file) */

/*
 * Every record of [p, end) in one pass: fields, lengths, offsets and
 * timestamps.  Deltas are compared rather than absolute offsets, so
 * nothing here can overflow.
 */
static int
check_records(const unsigned char *p, const unsigned char *end, const struct klog_batch *b,
    int client, char *err)
{
	int create = !(b->attributes & KLOG_ATTR_LOG_APPEND_TIME);
	int64_t ts_delta, ts, maxts = INT64_MIN;
	int32_t i, j, len, od, prev = -1, kl, vl, hc;
	const unsigned char *r, *x;
	const char *what;
	size_t n;

	for (i = 0; i < b->count; i++) {
		if (p == end)
			return kerr(err, "batch at offset %lld: %d records where the header says %d",
			    (long long)b->base_offset, i, b->count);
		what = "length";
		if (!(n = get_int32(p, end, &len)) || len < 0 || (size_t)len > (size_t)(end - p) - n)
			goto bad;
		p += n;
		r = p + len;
		what = "attributes";
		if (p >= r)
			goto bad;
		p++;
		what = "timestamp delta";
		if (!(n = get_varint(p, r, &ts_delta)))
			goto bad;
		p += n;
		what = "timestamp delta (the timestamp overflows)";
		if (__builtin_add_overflow(b->base_timestamp, ts_delta, &ts))
			goto bad;
		if (ts < -1)
			return kerr(err, "batch at offset %lld: record %d: negative timestamp %lld "
			    "(only -1 means none)", (long long)b->base_offset, i, (long long)ts);
		if (create && ts > b->max_timestamp)
			return kerr(err, "batch at offset %lld: record %d: timestamp %lld above the "
			    "batch's maxTimestamp %lld", (long long)b->base_offset, i, (long long)ts,
			    (long long)b->max_timestamp);
		if (ts > maxts)
			maxts = ts;
		what = "offset delta";
		if (!(n = get_int32(p, r, &od)))
			goto bad;
		p += n;
		if (client ? od != i : od <= prev || od > b->last_offset_delta)
			return kerr(err, "batch at offset %lld: record %d: offset delta %d (%s)",
			    (long long)b->base_offset, i, od, client ? "must be the record's index" :
			    od <= prev ? "not above the previous record's" : "past lastOffsetDelta");
		prev = od;
		what = "key length";
		if (get_bytes(&p, r, 1, &x, &kl) < 0)
			goto bad;
		what = "value length";
		if (get_bytes(&p, r, 1, &x, &vl) < 0)
			goto bad;
		what = "header count";
		/* each header takes at least two bytes */
		if (!(n = get_int32(p, r, &hc)) || hc < 0 || (size_t)hc > (size_t)(r - p - n) / 2)
			goto bad;
		p += n;
		for (j = 0; j < hc; j++) {
			what = "header key length";
			if (get_bytes(&p, r, 0, &x, &kl) < 0)
				goto bad;
			what = "header value length";
			if (get_bytes(&p, r, 1, &x, &vl) < 0)
				goto bad;
		}
		what = "length (its fields use a different size)";
		if (p != r)
			goto bad;
	}
	if (p != end)
		return kerr(err, "batch at offset %lld: %zu bytes after the last of %d records",
		    (long long)b->base_offset, (size_t)(end - p), b->count);
	if (client && create && maxts != b->max_timestamp)
		return kerr(err, "batch at offset %lld: maxTimestamp %lld is not the largest record "
		    "timestamp %lld", (long long)b->base_offset, (long long)b->max_timestamp,
		    (long long)maxts);
	return 0;
bad:
	return kerr(err, "batch at offset %lld: record %d: bad %s",
	    (long long)b->base_offset, i, what);
}

/* the header fields, without the records */
static int
check_header(const struct klog_batch *b, int client, char *err)
{
	long long base = (long long)b->base_offset;
	int codec = b->attributes & KLOG_ATTR_CODEC;

	if (b->magic != 2)
		return kerr(err, "batch at offset %lld: unsupported magic %d (only 2)", base, b->magic);
	if (b->count < 0 || b->last_offset_delta < 0 || b->last_offset_delta < b->count - 1)
		return kerr(err, "batch at offset %lld: lastOffsetDelta %d with %d records", base,
		    b->last_offset_delta, b->count);
	if (codec > KLOG_CODEC_ZSTD)
		return kerr(err, "batch at offset %lld: unknown compression codec %d", base, codec);
	if (client) {
		if (b->count < 1)
			return kerr(err, "batch at offset %lld: no records", base);
		if (b->last_offset_delta != b->count - 1)
			return kerr(err, "batch at offset %lld: lastOffsetDelta %d with %d records "
			    "(a producer's is the count - 1)", base, b->last_offset_delta, b->count);
		if (b->attributes & KLOG_ATTR_CONTROL)
			return kerr(err, "batch at offset %lld: a control batch from a producer", base);
		if (b->attributes & KLOG_ATTR_DELETE_HORIZON)
			return kerr(err, "batch at offset %lld: hasDeleteHorizonMs set by a producer",
			    base);
		if (b->attributes & ~0x7f)
			return kerr(err, "batch at offset %lld: unknown attribute bits %#x", base,
			    (unsigned)(uint16_t)b->attributes & ~0x7fu);
	} else {
		if (b->base_offset < 0)
			return kerr(err, "batch at offset %lld: negative base offset", base);
		if (b->base_offset > INT64_MAX - b->last_offset_delta)
			return kerr(err, "batch at offset %lld: lastOffsetDelta %d passes the largest "
			    "offset", base, b->last_offset_delta);
	}
	if (b->producer_id == -1) {
		if (b->producer_epoch != -1 || b->base_sequence != -1)
			return kerr(err, "batch at offset %lld: producer epoch %d and sequence %d "
			    "without a producer id", base, b->producer_epoch, b->base_sequence);
	} else if (b->producer_id < 0 || b->producer_epoch < 0 || b->base_sequence < 0)
		return kerr(err, "batch at offset %lld: bad producer id %lld, epoch %d, sequence %d",
		    base, (long long)b->producer_id, b->producer_epoch, b->base_sequence);
	if ((b->attributes & KLOG_ATTR_TRANSACTIONAL) && b->producer_id < 0)
		return kerr(err, "batch at offset %lld: transactional without a producer id", base);
	if ((b->attributes & KLOG_ATTR_LOG_APPEND_TIME) && b->count > 0 && b->max_timestamp < -1)
		return kerr(err, "batch at offset %lld: LogAppendTime maxTimestamp %lld below -1",
		    base, (long long)b->max_timestamp);
	if (b->count == 0 && klog_batch_size(b) != KLOG_BATCH_OVERHEAD)
		return kerr(err, "batch at offset %lld: %zu bytes after the last of 0 records", base,
		    klog_batch_size(b) - KLOG_BATCH_OVERHEAD);
	return 0;
}

/* a decompression buffer larger than this is not kept between calls */
#define SCRATCH_KEEP ((size_t)16 << 20)

int
klog_batch_validate(const unsigned char *p, const struct klog_batch *b, int flags,
    struct klog_rec_iter *it, char *err)
{
	int client = flags & KLOG_VALID_CLIENT, codec = b->attributes & KLOG_ATTR_CODEC, e, saved;
	const unsigned char *rec = p + KLOG_BATCH_OVERHEAD;
	size_t n = klog_batch_size(b) - KLOG_BATCH_OVERHEAD;
	char why[KLOG_ERRLEN];
	uint32_t crc;

	crc = klog_crc32c(0, p + CRC_START, klog_batch_size(b) - CRC_START);
	if (crc != b->crc) {
		kerr(err, "batch at offset %lld: bad CRC (stored %08x, computed %08x)",
		    (long long)b->base_offset, b->crc, crc);
		errno = EILSEQ;
		return -1;
	}
	if (check_header(b, client, err) < 0) {
		errno = EBADMSG;
		return -1;
	}
	if (b->count == 0)
		return 0;
	if (codec == KLOG_CODEC_NONE) {
		if (check_records(rec, rec + n, b, client, err) < 0) {
			errno = EBADMSG;
			return -1;
		}
		return 0;
	}
	if (!klog_codec_available(codec)) {
		if (!client)
			return 0;       /* the CRC is all we can check */
		errno = ENOTSUP;
		return kerr(err, "batch at offset %lld: codec '%s' is not built into this klog",
		    (long long)b->base_offset, klog_codec_name(codec));
	}
	it->scratch.len = 0;
	saved = errno;
	errno = 0;
	if (klog_decompress(codec, rec, n, &it->scratch, decompress_limit(n), why) < 0) {
		e = errno == ENOMEM ? ENOMEM : EBADMSG;
		kerr(err, "batch at offset %lld: %s: %s", (long long)b->base_offset,
		    klog_codec_name(codec), why);
	} else if (it->scratch.len == 0)
		e = check_records(rec, rec, b, client, err) < 0 ? EBADMSG : 0;
	else
		e = check_records(it->scratch.data, it->scratch.data + it->scratch.len, b,
		    client, err) < 0 ? EBADMSG : 0;
	if (it->scratch.cap > SCRATCH_KEEP)
		klog_buf_free(&it->scratch);
	errno = e ? e : saved;
	return e ? -1 : 0;
}

/* building */

void
klog_builder_init(struct klog_builder *bb, int codec)
{
	memset(bb, 0, sizeof *bb);
	bb->codec = codec;
	bb->base_timestamp = bb->max_timestamp = -1;
	bb->producer_id = -1;
	bb->producer_epoch = -1;
	bb->base_sequence = -1;
}

/* record size after its length varint */
static size_t
body_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
    const struct klog_header *h, int nh)
{
	size_t n = 1 + klog_varint_len(ts_delta) + klog_varint_len(offset_delta);
	int i;

	n += key_len < 0 ? 1 : klog_varint_len(key_len) + (size_t)key_len;
	n += value_len < 0 ? 1 : klog_varint_len(value_len) + (size_t)value_len;
	n += klog_varint_len(nh);
	for (i = 0; i < nh; i++) {
		n += klog_varint_len(h[i].key_len) + (size_t)h[i].key_len;
		n += h[i].value_len < 0 ? 1 : klog_varint_len(h[i].value_len) + (size_t)h[i].value_len;
	}
	return n;
}

size_t
klog_record_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
    int32_t value_len, const struct klog_header *h, int nh)
{
	size_t n = body_size(ts_delta, offset_delta, key_len, value_len, h, nh);

	return klog_varint_len((int64_t)n) + n;
}

size_t
klog_builder_size(const struct klog_builder *bb)
{
	return bb->buf.len ? bb->buf.len : KLOG_BATCH_OVERHEAD;
}

/* start the buffer with room for the header */
static int
header_room(struct klog_builder *bb)
{
	if (bb->buf.len)
		return 0;
	if (klog_buf_reserve(&bb->buf, 4096) < 0)
		return -1;
	memset(bb->buf.data, 0, KLOG_BATCH_OVERHEAD);
	bb->buf.len = KLOG_BATCH_OVERHEAD;
	return 0;
}

static unsigned char *
put_bytes(unsigned char *p, const void *data, int32_t len)
{
	if (len < 0)
		return p + klog_varint_put(p, -1);
	p += klog_varint_put(p, len);
	if (len)
		memcpy(p, data, (size_t)len);
	return p + len;
}

int
klog_builder_add(struct klog_builder *bb, int64_t ts,
    const void *key, int32_t key_len, const void *value, int32_t value_len,
    const struct klog_header *h, int nh)
{
	int64_t ts_delta;
	size_t body, total;
	unsigned char *p;
	int i;

	if (bb->count == INT32_MAX || nh < 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nh; i++)
		if (h[i].key_len < 0) {
			errno = EINVAL;
			return -1;
		}
	if (header_room(bb) < 0)
		return -1;
	if (bb->count == 0)
		bb->base_timestamp = bb->max_timestamp = ts;
	if (ts > bb->max_timestamp)
		bb->max_timestamp = ts;
	ts_delta = (int64_t)((uint64_t)ts - (uint64_t)bb->base_timestamp);
	body = body_size(ts_delta, bb->count, key_len, value_len, h, nh);
	total = klog_varint_len((int64_t)body) + body;
	if (total > (size_t)BATCH_MAX_LENGTH + KLOG_LOG_OVERHEAD - bb->buf.len) {
		errno = EMSGSIZE;
		return -1;
	}
	if (klog_buf_reserve(&bb->buf, total) < 0)
		return -1;
	p = bb->buf.data + bb->buf.len;
	p += klog_varint_put(p, (int64_t)body);
	*p++ = 0;
	p += klog_varint_put(p, ts_delta);
	p += klog_varint_put(p, bb->count);
	p = put_bytes(p, key, key_len);
	p = put_bytes(p, value, value_len);
	p += klog_varint_put(p, nh);
	for (i = 0; i < nh; i++) {
		p = put_bytes(p, h[i].key, h[i].key_len);
		p = put_bytes(p, h[i].value, h[i].value_len);
	}
	bb->buf.len += total;
	bb->count++;
	return 0;
}

int
klog_builder_finish(struct klog_builder *bb, unsigned char **out, size_t *len, char *err)
{
	struct klog_buf *b = &bb->buf;
	int codec = bb->codec & KLOG_ATTR_CODEC;
	unsigned char *p;

	if (header_room(bb) < 0)
		return kerr_sys(err, "cannot build batch");
	if (bb->count == 0)
		codec = KLOG_CODEC_NONE;
	if (codec != KLOG_CODEC_NONE) {
		bb->zbuf.len = 0;
		if (klog_buf_reserve(&bb->zbuf, KLOG_BATCH_OVERHEAD + (b->len - KLOG_BATCH_OVERHEAD) / 2) < 0)
			return kerr_sys(err, "cannot build batch");
		bb->zbuf.len = KLOG_BATCH_OVERHEAD;
		if (klog_compress(codec, b->data + KLOG_BATCH_OVERHEAD, b->len - KLOG_BATCH_OVERHEAD,
		    &bb->zbuf, err) < 0)
			return -1;
		b = &bb->zbuf;
	}
	if (b->len - KLOG_LOG_OVERHEAD > (size_t)BATCH_MAX_LENGTH)
		return kerr(err, "batch of %zu bytes is too large", b->len);
	p = b->data;
	put64(p, 0);
	put32(p + OFF_LENGTH, (uint32_t)(b->len - KLOG_LOG_OVERHEAD));
	put32(p + OFF_EPOCH, (uint32_t)-1);
	p[OFF_MAGIC] = 2;
	put16(p + OFF_ATTR, (uint16_t)codec);
	put32(p + OFF_LOD, (uint32_t)(bb->count ? bb->count - 1 : 0));
	put64(p + OFF_BASE_TS, (uint64_t)(bb->count ? bb->base_timestamp : -1));
	put64(p + OFF_MAX_TS, (uint64_t)(bb->count ? bb->max_timestamp : -1));
	put64(p + OFF_PID, (uint64_t)bb->producer_id);
	put16(p + OFF_PEPOCH, (uint16_t)bb->producer_epoch);
	put32(p + OFF_BASE_SEQ, (uint32_t)bb->base_sequence);
	put32(p + OFF_COUNT, (uint32_t)bb->count);
	put32(p + OFF_CRC, klog_crc32c(0, p + CRC_START, b->len - CRC_START));
	*out = p;
	*len = b->len;
	return 0;
}

/* empty for the next batch; codec and producer fields are kept */
void
klog_builder_reset(struct klog_builder *bb)
{
	bb->buf.len = 0;
	bb->zbuf.len = 0;
	bb->count = 0;
	bb->base_timestamp = bb->max_timestamp = -1;
}

void
klog_builder_free(struct klog_builder *bb)
{
	klog_buf_free(&bb->buf);
	klog_buf_free(&bb->zbuf);
	klog_builder_init(bb, bb->codec);
}
