/* klog - batch compression codecs (gzip, snappy, lz4, zstd). MIT licence. */

/*
 * Compressed RecordBatches keep their 61-byte header in the clear; every
 * byte after recordsCount is one compressed stream of the concatenated
 * records.  The codec is attributes & 0x07 (kafka-format.md section 1.2):
 *
 *   0 none    the records as they are
 *   1 gzip    an ordinary gzip member (RFC 1952).  We write one member at
 *             zlib's default level; we read with zlib's gzip/zlib
 *             auto-detection and accept several members back to back.
 *   2 snappy  we write raw snappy (as librdkafka and sarama do).  We read
 *             raw snappy and the snappy-java ("xerial") framing the Java
 *             client writes:
 *               8 bytes  magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *               int32    version (1), big-endian
 *               int32    compatible version (1)
 *               repeated int32 chunk length, big-endian, then that many
 *                        bytes of raw snappy
 *             Every chunk decompresses on its own; outputs are concatenated.
 *   3 lz4     the standard LZ4 *frame* format (magic 0x184D2204).  We write
 *             64 KiB independent blocks without a content size, which the
 *             Java client's reader requires; we read any frame, and
 *             several frames back to back.
 *   4 zstd    a standard zstd frame at level 3 (Kafka's default).  We read
 *             with the streaming decoder so frames without a content size
 *             (and several frames) decode too.
 *
 * gzip is always built in (zlib); the others only when the Makefile found
 * their headers (HAVE_SNAPPY, HAVE_LZ4, HAVE_ZSTD).  Decompression appends
 * to the caller's buffer and fails once the output would pass `limit`
 * bytes, so a small hostile batch cannot expand without bound.  On failure
 * the buffer is left at the length it had on entry.
 */
#include <errno.h>
#include <limits.h>
#include <strings.h>

#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef HAVE_SNAPPY
#include <snappy-c.h>
#endif

#include "internal.h"

#define CHUNK (64 * 1024)

static const char *const names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

int
klog_codec_parse(const char *name)
{
	int i;

	if (!name)
		return -1;
	for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
		if (!strcasecmp(name, names[i]))
			return i;
	return -1;
}

const char *
klog_codec_name(int codec)
{
	if (codec < 0 || codec >= (int)(sizeof names / sizeof names[0]))
		return "unknown";
	return names[codec];
}

int
klog_codec_available(int codec)
{
	switch (codec) {
	case KLOG_CODEC_NONE:
	case KLOG_CODEC_GZIP:
		return 1;
#ifdef HAVE_SNAPPY
	case KLOG_CODEC_SNAPPY:
		return 1;
#endif
#ifdef HAVE_LZ4
	case KLOG_CODEC_LZ4:
		return 1;
#endif
#ifdef HAVE_ZSTD
	case KLOG_CODEC_ZSTD:
		return 1;
#endif
	default:
		return 0;
	}
}

static int
unavailable(int codec, char *err)
{
	if (codec < 0 || codec >= (int)(sizeof names / sizeof names[0]))
		return kerr(err, "unknown compression codec %d", codec);
	return kerr(err, "codec '%s' is not built into this klog", names[codec]);
}

static int
too_big(struct klog_buf *out, size_t start, size_t limit, char *err)
{
	out->len = start;
	return kerr(err, "decompressed size exceeds %zu bytes", limit);
}

static int
nomem(struct klog_buf *out, size_t start, const char *what, char *err)
{
	out->len = start;
	errno = ENOMEM;
	return kerr_sys(err, "cannot %s", what);
}

/*
 * Room for the next piece of decompressed output: at most CHUNK bytes,
 * and never more than one byte past the limit, so passing it is seen
 * without decompressing the whole bomb.
 */
static int
next_room(struct klog_buf *out, size_t start, size_t limit, size_t *room)
{
	size_t done = out->len - start, want = CHUNK;

	if (limit - done < want)
		want = limit - done + 1;
	if (klog_buf_reserve(out, want) < 0)
		return -1;
	*room = out->cap - out->len;
	if (*room > UINT_MAX)
		*room = UINT_MAX;
	if (limit - done < *room)
		*room = limit - done + 1;
	return 0;
}

/* gzip */

static int
gzip_compress(const unsigned char *in, size_t n, struct klog_buf *out, char *err)
{
	size_t start = out->len, left = n;
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof zs);
	/* 15 + 16: a gzip wrapper rather than zlib's */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return nomem(out, start, "start gzip compression", err);
	/* usually one deflate call into room for the worst case */
	if (n <= UINT_MAX && klog_buf_reserve(out, deflateBound(&zs, (uLong)n)) < 0) {
		deflateEnd(&zs);
		return nomem(out, start, "compress with gzip", err);
	}
	zs.next_in = (unsigned char *)in;
	for (;;) {
		size_t room;
		if (zs.avail_in == 0 && left > 0) {
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			left -= zs.avail_in;
		}
		if (out->cap - out->len < 64 && klog_buf_reserve(out, CHUNK) < 0) {
			deflateEnd(&zs);
			return nomem(out, start, "compress with gzip", err);
		}
		room = out->cap - out->len;
		zs.next_out = out->data + out->len;
		zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		ret = deflate(&zs, left > 0 ? Z_NO_FLUSH : Z_FINISH);
		out->len = (size_t)(zs.next_out - out->data);
		if (ret == Z_STREAM_END)
			break;
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			deflateEnd(&zs);
			out->len = start;
			return kerr(err, "gzip compression failed: %s", zs.msg ? zs.msg : "zlib error");
		}
	}
	deflateEnd(&zs);
	return 0;
}

static int
gzip_decompress(const unsigned char *in, size_t n, struct klog_buf *out, size_t limit,
    char *err)
{
	size_t start = out->len, left = n;
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof zs);
	/* 15 + 32: detect a gzip or zlib header */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return nomem(out, start, "start gzip decompression", err);
	zs.next_in = (unsigned char *)in;
	for (;;) {
		size_t room;
		if (zs.avail_in == 0 && left > 0) {
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			left -= zs.avail_in;
		}
		if (next_room(out, start, limit, &room) < 0) {
			inflateEnd(&zs);
			return nomem(out, start, "decompress gzip data", err);
		}
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)room;
		ret = inflate(&zs, Z_NO_FLUSH);
		out->len = (size_t)(zs.next_out - out->data);
		if (out->len - start > limit) {
			inflateEnd(&zs);
			return too_big(out, start, limit, err);
		}
		if (ret == Z_STREAM_END) {
			if (zs.avail_in == 0 && left == 0)
				break;
			/* another member follows */
			inflateReset(&zs);
			continue;
		}
		if (ret == Z_OK)
			continue;
		inflateEnd(&zs);
		out->len = start;
		if (ret == Z_BUF_ERROR)         /* no progress: input ran out */
			return kerr(err, "truncated gzip data");
		if (ret == Z_MEM_ERROR)
			return nomem(out, start, "decompress gzip data", err);
		return kerr(err, "corrupt gzip data: %s", zs.msg ? zs.msg : "zlib error");
	}
	inflateEnd(&zs);
	return 0;
}

/* zstd */

#ifdef HAVE_ZSTD
static int
zstd_compress(const unsigned char *in, size_t n, struct klog_buf *out, char *err)
{
	size_t bound = ZSTD_compressBound(n), r;

	if (klog_buf_reserve(out, bound) < 0)
		return nomem(out, out->len, "compress with zstd", err);
	r = ZSTD_compress(out->data + out->len, bound, in, n, 3);
	if (ZSTD_isError(r))
		return kerr(err, "zstd compression failed: %s", ZSTD_getErrorName(r));
	out->len += r;
	return 0;
}

static int
zstd_decompress(const unsigned char *in, size_t n, struct klog_buf *out, size_t limit,
    char *err)
{
	size_t start = out->len, r;
	ZSTD_inBuffer ib = { in, n, 0 };
	ZSTD_DCtx *dc;

	if (!(dc = ZSTD_createDCtx()))
		return nomem(out, start, "start zstd decompression", err);
	for (;;) {
		size_t room, before = out->len;
		ZSTD_outBuffer ob;
		if (next_room(out, start, limit, &room) < 0) {
			ZSTD_freeDCtx(dc);
			return nomem(out, start, "decompress zstd data", err);
		}
		ob.dst = out->data + out->len;
		ob.size = room;
		ob.pos = 0;
		r = ZSTD_decompressStream(dc, &ob, &ib);
		if (ZSTD_isError(r)) {
			ZSTD_freeDCtx(dc);
			out->len = start;
			return kerr(err, "corrupt zstd data: %s", ZSTD_getErrorName(r));
		}
		out->len += ob.pos;
		if (out->len - start > limit) {
			ZSTD_freeDCtx(dc);
			return too_big(out, start, limit, err);
		}
		if (ib.pos == ib.size && r == 0)
			break;          /* every frame complete */
		if (ib.pos == ib.size && out->len == before) {
			ZSTD_freeDCtx(dc);
			out->len = start;
			return kerr(err, "truncated zstd data");
		}
	}
	ZSTD_freeDCtx(dc);
	return 0;
}
#endif

/* lz4 */

#ifdef HAVE_LZ4
static int
lz4_compress(const unsigned char *in, size_t n, struct klog_buf *out, char *err)
{
	LZ4F_preferences_t prefs;
	size_t bound, r;

	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	bound = LZ4F_compressFrameBound(n, &prefs);
	if (klog_buf_reserve(out, bound) < 0)
		return nomem(out, out->len, "compress with lz4", err);
	r = LZ4F_compressFrame(out->data + out->len, bound, in, n, &prefs);
	if (LZ4F_isError(r))
		return kerr(err, "lz4 compression failed: %s", LZ4F_getErrorName(r));
	out->len += r;
	return 0;
}

static int
lz4_decompress(const unsigned char *in, size_t n, struct klog_buf *out, size_t limit,
    char *err)
{
	size_t start = out->len, pos = 0, r;
	LZ4F_dctx *dc;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&dc, LZ4F_VERSION)))
		return nomem(out, start, "start lz4 decompression", err);
	for (;;) {
		size_t room, src;
		if (next_room(out, start, limit, &room) < 0) {
			LZ4F_freeDecompressionContext(dc);
			return nomem(out, start, "decompress lz4 data", err);
		}
		src = n - pos;
		r = LZ4F_decompress(dc, out->data + out->len, &room, in + pos, &src, NULL);
		if (LZ4F_isError(r)) {
			LZ4F_freeDecompressionContext(dc);
			out->len = start;
			return kerr(err, "corrupt lz4 data: %s", LZ4F_getErrorName(r));
		}
		pos += src;
		out->len += room;
		if (out->len - start > limit) {
			LZ4F_freeDecompressionContext(dc);
			return too_big(out, start, limit, err);
		}
		if (pos == n && r == 0)
			break;          /* frame complete, nothing left */
		if (pos == n && room == 0 && src == 0) {
			LZ4F_freeDecompressionContext(dc);
			out->len = start;
			return kerr(err, "truncated lz4 data");
		}
	}
	LZ4F_freeDecompressionContext(dc);
	return 0;
}
#endif

/* snappy */

#ifdef HAVE_SNAPPY
static const unsigned char xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

static int
snappy_compress_(const unsigned char *in, size_t n, struct klog_buf *out, char *err)
{
	size_t len = snappy_max_compressed_length(n);

	if (klog_buf_reserve(out, len) < 0)
		return nomem(out, out->len, "compress with snappy", err);
	if (snappy_compress((const char *)in, n, (char *)out->data + out->len, &len) != SNAPPY_OK)
		return kerr(err, "snappy compression failed");
	out->len += len;
	return 0;
}

/* one raw snappy block; the format states its uncompressed size up front */
static int
snappy_raw(const unsigned char *in, size_t n, struct klog_buf *out, size_t start,
    size_t limit, char *err)
{
	size_t len;

	if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK) {
		out->len = start;
		return kerr(err, "corrupt snappy data: bad length header");
	}
	if (len > limit - (out->len - start))
		return too_big(out, start, limit, err);
	/* at least a byte: an empty output still needs a buffer to point at */
	if (klog_buf_reserve(out, len ? len : 1) < 0)
		return nomem(out, start, "decompress snappy data", err);
	if (snappy_uncompress((const char *)in, n, (char *)out->data + out->len, &len)
	    != SNAPPY_OK) {
		out->len = start;
		return kerr(err, "corrupt snappy data");
	}
	out->len += len;
	return 0;
}

static int
snappy_decompress_(const unsigned char *in, size_t n, struct klog_buf *out, size_t limit,
    char *err)
{
	size_t start = out->len, pos;

	if (n < 16 || memcmp(in, xerial_magic, sizeof xerial_magic))
		return snappy_raw(in, n, out, start, limit, err);
	/* xerial framing: skip magic, version, compatible version */
	for (pos = 16; pos < n;) {
		uint32_t len;
		if (n - pos < 4) {
			out->len = start;
			return kerr(err, "truncated snappy data: chunk length at byte %zu", pos);
		}
		len = get32(in + pos);
		pos += 4;
		if (len > n - pos) {
			out->len = start;
			return kerr(err, "truncated snappy data: chunk of %u bytes at byte %zu",
			    len, pos - 4);
		}
		if (snappy_raw(in + pos, len, out, start, limit, err) < 0)
			return -1;
		pos += len;
	}
	return 0;
}
#endif

int
klog_compress(int codec, const void *in, size_t n, struct klog_buf *out, char *err)
{
	switch (codec) {
	case KLOG_CODEC_NONE:
		if (klog_buf_append(out, in, n) < 0)
			return kerr_sys(err, "cannot copy %zu bytes", n);
		return 0;
	case KLOG_CODEC_GZIP:
		return gzip_compress(in, n, out, err);
#ifdef HAVE_SNAPPY
	case KLOG_CODEC_SNAPPY:
		return snappy_compress_(in, n, out, err);
#endif
#ifdef HAVE_LZ4
	case KLOG_CODEC_LZ4:
		return lz4_compress(in, n, out, err);
#endif
#ifdef HAVE_ZSTD
	case KLOG_CODEC_ZSTD:
		return zstd_compress(in, n, out, err);
#endif
	default:
		return unavailable(codec, err);
	}
}

int
klog_decompress(int codec, const void *in, size_t n, struct klog_buf *out,
    size_t limit, char *err)
{
	switch (codec) {
	case KLOG_CODEC_NONE:
		if (n > limit)
			return kerr(err, "decompressed size exceeds %zu bytes", limit);
		if (klog_buf_append(out, in, n) < 0)
			return kerr_sys(err, "cannot copy %zu bytes", n);
		return 0;
	case KLOG_CODEC_GZIP:
		return gzip_decompress(in, n, out, limit, err);
#ifdef HAVE_SNAPPY
	case KLOG_CODEC_SNAPPY:
		return snappy_decompress_(in, n, out, limit, err);
#endif
#ifdef HAVE_LZ4
	case KLOG_CODEC_LZ4:
		return lz4_decompress(in, n, out, limit, err);
#endif
#ifdef HAVE_ZSTD
	case KLOG_CODEC_ZSTD:
		return zstd_decompress(in, n, out, limit, err);
#endif
	default:
		return unavailable(codec, err);
	}
}
