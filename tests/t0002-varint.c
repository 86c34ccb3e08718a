/* klog - tests for zigzag and unsigned varints. MIT licence. */
#include "tap.h"
#include "klog.h"

static const struct {
	int64_t v;
	const char *hex;
} vec[] = {
	{ 0, "00" }, { -1, "01" }, { 1, "02" }, { 12, "18" }, { 18, "24" }, { -2, "03" },
	{ 64, "8001" }, { -64, "7f" }, { 63, "7e" }, { 300, "d804" },
	{ INT32_MAX, "feffffff0f" }, { INT32_MIN, "ffffffff0f" },
	{ INT64_MAX, "feffffffffffffffff01" }, { INT64_MIN, "ffffffffffffffffff01" },
};

static void
hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

int
main(void)
{
	unsigned char b[16];
	char h[40];
	int64_t v;
	uint64_t u;
	size_t n;

	int planned = 17;
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++)
		planned += 4 + (klog_varint_len(vec[i].v) > 1);
	plan(planned);
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		n = klog_varint_put(b, vec[i].v);
		hex(b, n, h);
		is(h, vec[i].hex, "encode %" PRId64, vec[i].v);
		cmp_ok(klog_varint_len(vec[i].v), ==, n, "length of %" PRId64, vec[i].v);
		v = 12345;
		cmp_ok(klog_varint_get(b, b + n, &v), ==, n, "decode %s consumes all", vec[i].hex);
		cmp_ok(v, ==, vec[i].v, "decode %s", vec[i].hex);
		if (n > 1)
			cmp_ok(klog_varint_get(b, b + n - 1, &v), ==, 0, "truncated %s", vec[i].hex);
	}
	cmp_ok(klog_varint_get(b, b, &v), ==, 0, "empty input");

	/* round trips over many magnitudes */
	int bad = 0;
	for (int s = 0; s < 64; s++) {
		uint64_t base = (uint64_t)1 << s;
		int64_t tries[] = { (int64_t)base, (int64_t)(base - 1), (int64_t)(0 - base),
		    (int64_t)(1 - base), (int64_t)(base + 1) };
		for (int t = 0; t < 5; t++) {
			n = klog_varint_put(b, tries[t]);
			if (n != klog_varint_len(tries[t]) || klog_varint_get(b, b + n, &v) != n ||
			    v != tries[t])
				bad++;
		}
	}
	cmp_ok(bad, ==, 0, "zigzag round trips of powers of two and neighbours");

	/* overlong: 11 bytes, and a 10th byte carrying more than one bit */
	memset(b, 0x80, 10);
	b[10] = 0;
	cmp_ok(klog_varint_get(b, b + 11, &v), ==, 0, "11-byte varint rejected");
	cmp_ok(klog_uvarint_get(b, b + 11, &u), ==, 0, "11-byte uvarint rejected");
	memset(b, 0xff, 9);
	b[9] = 0x02;
	cmp_ok(klog_varint_get(b, b + 10, &v), ==, 0, "10-byte varint overflowing 64 bits");
	b[9] = 0x01;
	cmp_ok(klog_uvarint_get(b, b + 10, &u), ==, 10, "10-byte uvarint at the top");
	ok(u == UINT64_MAX, "UINT64_MAX");
	/* non-minimal but valid, as Kafka accepts */
	b[0] = 0x82; b[1] = 0x00;
	cmp_ok(klog_varint_get(b, b + 2, &v), ==, 2, "non-minimal 82 00 accepted");
	cmp_ok(v, ==, 1, "82 00 is 1");
	/* stops at the first byte without the high bit */
	b[0] = 0x18; b[1] = 0xff;
	cmp_ok(klog_varint_get(b, b + 2, &v), ==, 1, "reads one byte of 18 ff");

	/* unsigned */
	n = klog_uvarint_put(b, 300);
	hex(b, n, h);
	is(h, "ac02", "uvarint 300");
	cmp_ok(klog_uvarint_get(b, b + n, &u), ==, 2, "uvarint 300 decodes");
	cmp_ok(u, ==, 300, "uvarint 300 value");
	n = klog_uvarint_put(b, 0);
	cmp_ok(n, ==, 1, "uvarint 0 is one byte");
	n = klog_uvarint_put(b, UINT64_MAX);
	cmp_ok(n, ==, 10, "uvarint max is ten bytes");
	cmp_ok(klog_uvarint_get(b, b + n, &u), ==, 10, "uvarint max decodes");
	ok(u == UINT64_MAX, "uvarint max value");
	return done_testing();
}
