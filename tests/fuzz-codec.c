/* klog - libFuzzer target: every decompressor, with its output limit. MIT licence. */
/*
 * Input: byte 0 picks the codec (its low three bits: 0-4 and the unknown
 * 5-7), byte 1 the output limit (0, or 2^(byte % 25) bytes, up to 16 MiB),
 * the rest is the compressed stream.  What must hold: decompression appends
 * at most `limit` bytes and leaves the buffer as it was on failure (with a
 * message); an unknown or absent codec fails; and the same bytes taken as
 * plain data compress and decompress back to themselves.  Built and run by
 * `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct klog_buf out, z, back;

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[KLOG_ERRLEN];
	unsigned char *in;
	size_t n, limit;
	int codec, r;

	if (size < 2)
		return 0;
	codec = data[0] & 7;
	limit = data[1] ? (size_t)1 << (data[1] % 25) : 0;
	n = size - 2;
	in = malloc(n ? n : 1);                 /* exact size: overreads are caught */
	memcpy(in, data + 2, n);

	out.len = 0;
	klog_buf_append(&out, "XY", 2);         /* output is appended */
	err[0] = 0;
	r = klog_decompress(codec, in, n, &out, limit, err);
	check(!memcmp(out.data, "XY", 2));
	if (r == 0)
		check(out.len - 2 <= limit);
	else
		check(r == -1 && out.len == 2 && err[0]);
	if (!klog_codec_available(codec))
		check(r == -1);

	if (klog_codec_available(codec)) {
		z.len = back.len = 0;
		check(klog_compress(codec, in, n, &z, err) == 0);
		check(klog_decompress(codec, z.data, z.len, &back, n, err) == 0);
		check(back.len == n && (!n || !memcmp(back.data, in, n)));
	}
	free(in);
	/* a buffer grown by a near-bomb is not kept */
	if (out.cap > (size_t)64 << 20)
		klog_buf_free(&out);
	return 0;
}
