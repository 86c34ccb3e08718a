/* klog - zigzag and unsigned varints. MIT licence. */
/*
 * Kafka record fields use zigzag varints (protobuf's sint64): n maps to
 * (n << 1) ^ (n >> 63), so small magnitudes of either sign stay short
 * (0->00, -1->01, 1->02, -2->03, 64->80 01), then the value is written 7
 * bits a byte, least significant group first, the high bit set on every
 * byte but the last.  A 64-bit value takes at most 10 bytes; the 10th
 * byte may only carry the top bit (0 or 1).  The protocol's unsigned
 * varints are the same grouping without zigzag.
 *
 * Decoders return the bytes consumed, or 0 when the input ends inside a
 * varint, runs past 10 bytes, or overflows 64 bits.  Non-minimal
 * encodings (80 00) are accepted, as Kafka's readers accept them.
 */
#include "internal.h"

size_t
klog_uvarint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

size_t
klog_uvarint_get(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
	uint64_t r = 0;
	size_t i;
	unsigned char c;

	for (i = 0; i < 10 && p + i < end; i++) {
		c = p[i];
		if (i == 9 && c > 1)
			return 0;       /* overflows 64 bits */
		r |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			return i + 1;
		}
	}
	return 0;                       /* truncated, or more than 10 bytes */
}

size_t
klog_varint_put(unsigned char *p, int64_t v)
{
	return klog_uvarint_put(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t
klog_varint_get(const unsigned char *p, const unsigned char *end, int64_t *v)
{
	uint64_t u;
	size_t n;

	if (!(n = klog_uvarint_get(p, end, &u)))
		return 0;
	*v = (int64_t)((u >> 1) ^ (0 - (u & 1)));
	return n;
}

size_t
klog_varint_len(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	/* bits needed, 7 per byte */
	return (size_t)(64 - __builtin_clzll(u | 1) + 6) / 7;
}
