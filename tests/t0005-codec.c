/* klog - tests for the batch compression codecs. MIT licence. */
#include <stdint.h>

#include "klog.h"
#include "tap.h"

static char err[KLOG_ERRLEN];

/* produced by `printf 'hello, kafka\n' | gzip -n -9`, `zstd -c`, `lz4 -c` */
static const char hello[] = "hello, kafka\n";
static const unsigned char hello_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48,
	0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0xc8, 0x4e, 0x4c, 0xcb, 0x4e, 0xe4, 0x02,
	0x00, 0xda, 0x2a, 0x43, 0x98, 0x0d, 0x00, 0x00, 0x00
};
/* a frame without a content size: needs the streaming decoder */
static const unsigned char hello_zst[] = {
	0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x69, 0x00, 0x00, 0x68, 0x65, 0x6c,
	0x6c, 0x6f, 0x2c, 0x20, 0x6b, 0x61, 0x66, 0x6b, 0x61, 0x0a, 0x5b, 0x96,
	0xdd, 0x6d
};
static const unsigned char hello_lz4[] = {
	0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0d, 0x00, 0x00, 0x80, 0x68,
	0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x6b, 0x61, 0x66, 0x6b, 0x61, 0x0a,
	0x00, 0x00, 0x00, 0x00, 0x29, 0xfa, 0x04, 0x29
};
/* raw snappy by hand: varint length 13, one literal tag ((13 - 1) << 2) */
static const unsigned char hello_snappy[] = {
	0x0d, 0x30, 'h', 'e', 'l', 'l', 'o', ',', ' ', 'k', 'a', 'f', 'k', 'a', '\n'
};
/* the same in snappy-java's framing, split into two chunks "hello, " + "kafka\n" */
static const unsigned char hello_xerial[] = {
	0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x09, 0x07, 0x18, 'h', 'e', 'l', 'l', 'o', ',', ' ',
	0x00, 0x00, 0x00, 0x08, 0x06, 0x14, 'k', 'a', 'f', 'k', 'a', '\n'
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned char
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned char)(rng >> 24);
}

static int
roundtrip(int codec, const unsigned char *in, size_t n, const char *what)
{
	struct klog_buf z = {0}, out = {0};
	int good = 0;

	klog_buf_append(&out, "XY", 2);         /* output is appended */
	if (klog_compress(codec, in, n, &z, err) < 0) {
		diag("compress: %s", err);
		goto done;
	}
	if (klog_decompress(codec, z.data, z.len, &out, n, err) < 0) {
		diag("decompress: %s", err);
		goto done;
	}
	good = out.len == n + 2 && !memcmp(out.data, "XY", 2) && (!n || !memcmp(out.data + 2, in, n));
	if (!good)
		diag("got %zu bytes, want %zu", out.len - 2, n);
done:
	ok(good, "%s: %s round trip (%zu -> %zu bytes)", klog_codec_name(codec), what, n, z.len);
	klog_buf_free(&z);
	klog_buf_free(&out);
	return good;
}

static void
decodes(int codec, const unsigned char *in, size_t n, const char *want, const char *what)
{
	struct klog_buf out = {0};
	int r = klog_decompress(codec, in, n, &out, 1 << 20, err);

	if (r < 0)
		diag("%s", err);
	ok(r == 0 && out.len == strlen(want) && (!out.len || !memcmp(out.data, want, out.len)),
	    "%s: %s", klog_codec_name(codec), what);
	klog_buf_free(&out);
}

/* decompression fails with a message naming the codec, output untouched */
static void
fails(int codec, const unsigned char *in, size_t n, size_t limit, const char *want,
    const char *what)
{
	struct klog_buf out = {0};
	int r;

	klog_buf_append(&out, "XY", 2);
	err[0] = 0;
	r = klog_decompress(codec, in, n, &out, limit, err);
	ok(r == -1 && strstr(err, want) && out.len == 2, "%s: %s fails: %s",
	    klog_codec_name(codec), what, err);
	klog_buf_free(&out);
}

static void
codec_tests(int codec, const unsigned char *big, size_t bign, const unsigned char *noise,
    size_t noisen)
{
	const char *name = klog_codec_name(codec);
	struct klog_buf z = {0}, z2 = {0}, out = {0};
	unsigned char *bad;
	char want[64];
	size_t i;
	int r, caught;

	roundtrip(codec, (const unsigned char *)hello, strlen(hello), "small");
	roundtrip(codec, (const unsigned char *)"", 0, "empty");
	roundtrip(codec, noise, noisen, "incompressible");
	roundtrip(codec, big, bign, "1 MiB");
	roundtrip(codec, noise, 1, "one byte");

	klog_compress(codec, big, bign, &z, err);
	ok(z.len < bign / 10, "%s: 1 MiB of text compresses (%zu bytes)", name, z.len);

	/* limits: exactly the size passes, one byte less fails */
	r = klog_decompress(codec, z.data, z.len, &out, bign, err);
	ok(r == 0 && out.len == bign, "%s: limit equal to the size passes", name);
	snprintf(want, sizeof want, "decompressed size exceeds %zu bytes", bign - 1);
	fails(codec, z.data, z.len, bign - 1, want, "limit one below the size");
	fails(codec, z.data, z.len, 1000, "decompressed size exceeds 1000 bytes", "limit 1000");
	fails(codec, z.data, z.len, 0, "decompressed size exceeds 0 bytes", "limit 0");

	/* truncation and corruption */
	fails(codec, z.data, z.len / 2, bign, name, "truncated to half");
	fails(codec, z.data, 0, bign, name, "empty input");
	bad = malloc(z.len);
	memcpy(bad, z.data, z.len);
	for (i = z.len / 4; i < z.len / 4 + 16 && i < z.len; i++)
		bad[i] ^= 0x5a;
	caught = klog_decompress(codec, bad, z.len, &out, bign, err) < 0 ||
	    out.len != bign * 2 || memcmp(out.data + bign, big, bign);
	ok(caught, "%s: flipped bytes in the middle are not decoded silently", name);
	memset(bad, 0xa5, z.len < 64 ? z.len : 64);
	fails(codec, bad, z.len, bign, name, "garbage header");
	free(bad);

	/* two streams back to back decode to both (gzip members, zstd/lz4 frames) */
	if (codec != KLOG_CODEC_SNAPPY) {
		klog_compress(codec, hello, strlen(hello), &z2, err);
		klog_compress(codec, "and more\n", 9, &z2, err);
		decodes(codec, z2.data, z2.len, "hello, kafka\nand more\n", "two streams back to back");
	}
	klog_buf_free(&z);
	klog_buf_free(&z2);
	klog_buf_free(&out);
}

int
main(void)
{
	static const int all[] = { KLOG_CODEC_NONE, KLOG_CODEC_GZIP, KLOG_CODEC_SNAPPY,
		KLOG_CODEC_LZ4, KLOG_CODEC_ZSTD };
	unsigned char *big, *noise;
	size_t bign = 1 << 20, noisen = 100000, i;
	struct klog_buf out = {0};
	int c;

	(void)tap_plan;         /* no fixed plan: the count depends on the codecs built in */

	/* names */
	cmp_ok(klog_codec_parse("none"), ==, KLOG_CODEC_NONE, "parse none");
	cmp_ok(klog_codec_parse("gzip"), ==, KLOG_CODEC_GZIP, "parse gzip");
	cmp_ok(klog_codec_parse("Snappy"), ==, KLOG_CODEC_SNAPPY, "parse Snappy");
	cmp_ok(klog_codec_parse("LZ4"), ==, KLOG_CODEC_LZ4, "parse LZ4");
	cmp_ok(klog_codec_parse("zstd"), ==, KLOG_CODEC_ZSTD, "parse zstd");
	cmp_ok(klog_codec_parse("brotli"), ==, -1, "parse brotli fails");
	cmp_ok(klog_codec_parse(""), ==, -1, "parse empty fails");
	cmp_ok(klog_codec_parse("gzip "), ==, -1, "parse 'gzip ' fails");
	for (c = 0; c < 5; c++)
		cmp_ok(klog_codec_parse(klog_codec_name(c)), ==, c, "name %d round trips", c);
	ok(klog_codec_available(KLOG_CODEC_NONE) && klog_codec_available(KLOG_CODEC_GZIP),
	    "none and gzip are always built in");
#ifdef HAVE_SNAPPY
	ok(klog_codec_available(KLOG_CODEC_SNAPPY), "snappy built in (HAVE_SNAPPY)");
#else
	ok(!klog_codec_available(KLOG_CODEC_SNAPPY), "snappy not built in");
#endif
#ifdef HAVE_LZ4
	ok(klog_codec_available(KLOG_CODEC_LZ4), "lz4 built in (HAVE_LZ4)");
#else
	ok(!klog_codec_available(KLOG_CODEC_LZ4), "lz4 not built in");
#endif
#ifdef HAVE_ZSTD
	ok(klog_codec_available(KLOG_CODEC_ZSTD), "zstd built in (HAVE_ZSTD)");
#else
	ok(!klog_codec_available(KLOG_CODEC_ZSTD), "zstd not built in");
#endif
	ok(!klog_codec_available(5) && !klog_codec_available(7) && !klog_codec_available(-1),
	    "codecs 5, 7 and -1 are not available");

	/* codecs that are not there fail, naming the codec */
	for (c = 0; c < 8; c++) {
		char want[32];
		if (klog_codec_available(c))
			continue;
		if (c < 5)
			snprintf(want, sizeof want, "'%s'", klog_codec_name(c));
		else
			snprintf(want, sizeof want, "%d", c);
		err[0] = 0;
		ok(klog_compress(c, "x", 1, &out, err) == -1 && strstr(err, want) && out.len == 0,
		    "compress with codec %d fails: %s", c, err);
		err[0] = 0;
		ok(klog_decompress(c, "x", 1, &out, 100, err) == -1 && strstr(err, want) &&
		    out.len == 0, "decompress with codec %d fails: %s", c, err);
	}

	big = malloc(bign);
	for (i = 0; i < bign; i++)      /* text-like, compressible */
		big[i] = "kafka log record batch offset "[(i * 7 + i / 1000) % 30];
	noise = malloc(noisen);
	for (i = 0; i < noisen; i++)
		noise[i] = rnd();

	for (c = 1; c < 5; c++) {
		if (!klog_codec_available(all[c])) {
			diag("codec '%s' not built in, its round trips skipped", klog_codec_name(all[c]));
			continue;
		}
		codec_tests(all[c], big, bign, noise, noisen);
	}

	/* none: a copy, limit still applies */
	roundtrip(KLOG_CODEC_NONE, big, bign, "1 MiB");
	fails(KLOG_CODEC_NONE, big, 100, 99, "exceeds 99 bytes", "limit");

	/* data other programs wrote */
	decodes(KLOG_CODEC_GZIP, hello_gz, sizeof hello_gz, hello, "gzip(1) output");
	{
		/* a zlib stream is accepted too (auto-detection) */
		unsigned char zl[64] = { 0x78, 0x9c };
		unsigned char *p;
		/* the gzip member's deflate data, rewrapped: header, data, adler32 */
		memcpy(zl + 2, hello_gz + 10, sizeof hello_gz - 18);
		p = zl + 2 + sizeof hello_gz - 18;
		{
			uint32_t a = 1, b = 0;
			for (i = 0; i < strlen(hello); i++) {
				a = (a + (unsigned char)hello[i]) % 65521;
				b = (b + a) % 65521;
			}
			a |= b << 16;
			p[0] = a >> 24; p[1] = (unsigned char)(a >> 16);
			p[2] = (unsigned char)(a >> 8); p[3] = (unsigned char)a;
		}
		decodes(KLOG_CODEC_GZIP, zl, (size_t)(p + 4 - zl), hello, "zlib stream");
	}
	fails(KLOG_CODEC_GZIP, hello_gz, sizeof hello_gz - 1, 100, "truncated gzip", "gzip(1) output truncated");
	{
		unsigned char bad[sizeof hello_gz];
		memcpy(bad, hello_gz, sizeof bad);
		bad[sizeof bad - 5] ^= 1;       /* CRC-32 of the member */
		fails(KLOG_CODEC_GZIP, bad, sizeof bad, 100, "corrupt gzip data", "gzip member with a bad CRC");
	}
	if (klog_codec_available(KLOG_CODEC_ZSTD)) {
		decodes(KLOG_CODEC_ZSTD, hello_zst, sizeof hello_zst, hello,
		    "zstd(1) frame without a content size");
		fails(KLOG_CODEC_ZSTD, hello_zst, sizeof hello_zst - 3, 100, "zstd", "zstd(1) frame truncated");
	} else
		skip(2, "zstd not built in");
	if (klog_codec_available(KLOG_CODEC_LZ4)) {
		decodes(KLOG_CODEC_LZ4, hello_lz4, sizeof hello_lz4, hello, "lz4(1) frame");
		fails(KLOG_CODEC_LZ4, hello_lz4, sizeof hello_lz4 - 3, 100, "lz4", "lz4(1) frame truncated");
	} else
		skip(2, "lz4 not built in");
	if (klog_codec_available(KLOG_CODEC_SNAPPY)) {
		unsigned char bad[sizeof hello_xerial];
		decodes(KLOG_CODEC_SNAPPY, hello_snappy, sizeof hello_snappy, hello, "hand-built raw snappy");
		decodes(KLOG_CODEC_SNAPPY, hello_xerial, sizeof hello_xerial, hello,
		    "hand-built xerial framing, two chunks");
		decodes(KLOG_CODEC_SNAPPY, hello_xerial, 16, "", "xerial framing with no chunks");
		fails(KLOG_CODEC_SNAPPY, hello_xerial, sizeof hello_xerial - 1, 100, "snappy",
		    "xerial framing, last chunk cut");
		fails(KLOG_CODEC_SNAPPY, hello_xerial, sizeof hello_xerial, 12,
		    "decompressed size exceeds 12 bytes", "xerial framing over the limit");
		memcpy(bad, hello_xerial, sizeof bad);
		bad[19] = 0x40;                 /* first chunk length far too long */
		fails(KLOG_CODEC_SNAPPY, bad, sizeof bad, 100, "snappy", "xerial chunk length past the end");
		/* found by fuzz-batch: raw snappy of an empty output into a buffer
		 * with no memory yet made a pointer from NULL (UBSan) */
		{
			static const unsigned char empty_chunk[] = {
				0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00, 0x72, 0x00, 0x00, 0x00,
				0x06, 0x00, 0x00, 0x4f, 0x00, 0x00, 0x00, 0x01, 0x00
			};
			struct klog_buf e = {0};
			err[0] = 0;
			ok(klog_decompress(KLOG_CODEC_SNAPPY, "", 1, &e, 100, err) == 0 && e.len == 0,
			    "snappy: raw block of an empty output, into an empty buffer %s", err);
			klog_buf_free(&e);
			ok(klog_decompress(KLOG_CODEC_SNAPPY, empty_chunk, sizeof empty_chunk, &e, 100, err) == 0 &&
			    e.len == 0, "snappy: xerial chunk of an empty output, into an empty buffer %s", err);
			klog_buf_free(&e);
		}
		/* snappy-java's framing around our own compressed chunks */
		{
			struct klog_buf x = {0}, raw = {0}, got = {0};
			size_t half = bign / 2;
			int r;
			klog_buf_append(&x, hello_xerial, 16);
			for (i = 0; i < 2; i++) {
				unsigned char len[4];
				raw.len = 0;
				klog_compress(KLOG_CODEC_SNAPPY, big + i * half, half, &raw, err);
				len[0] = (unsigned char)(raw.len >> 24); len[1] = (unsigned char)(raw.len >> 16);
				len[2] = (unsigned char)(raw.len >> 8); len[3] = (unsigned char)raw.len;
				klog_buf_append(&x, len, 4);
				klog_buf_append(&x, raw.data, raw.len);
			}
			r = klog_decompress(KLOG_CODEC_SNAPPY, x.data, x.len, &got, bign, err);
			ok(r == 0 && got.len == bign && !memcmp(got.data, big, bign),
			    "xerial framing of two 512 KiB chunks");
			fails(KLOG_CODEC_SNAPPY, x.data, x.len, half + 10, "exceeds", "xerial limit spans chunks");
			klog_buf_free(&x);
			klog_buf_free(&raw);
			klog_buf_free(&got);
		}
	} else
		skip(10, "snappy not built in");

	free(big);
	free(noise);
	klog_buf_free(&out);
	return done_testing();
}
