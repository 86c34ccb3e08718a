/* klog - CRC-32C (Castagnoli), SSE4.2 instruction or slicing-by-8 tables. MIT licence. */
/*
 * CRC-32C as Kafka's RecordBatch v2 uses it: the iSCSI polynomial
 * 0x1EDC6F41, processed reflected (0x82F63B78), initial value and final
 * XOR 0xFFFFFFFF.  The check value of "123456789" is 0xE3069283.
 *
 * The `crc` argument is a previous result (0 to start), so
 * klog_crc32c(klog_crc32c(0, a, n), b, m) == CRC of a followed by b:
 * the final XOR is undone on entry and redone on exit.
 *
 * On x86-64 the CPU's crc32 instruction (SSE4.2) computes exactly this
 * CRC; whether the CPU has it is asked once, at load time.  Elsewhere,
 * or on an old CPU, a table-driven slicing-by-8 loop does the work.
 *
 * The instruction takes three cycles but can start one per cycle, so long
 * buffers are done three blocks of BLK bytes at a time, each its own CRC
 * register, and the three joined after: the CRC register is linear, so the
 * CRC of A followed by B is shift(crc(A), |B|) ^ crc0(B), where crc0 starts
 * from a zero register and shift(x, n) is what n zero bytes make of x -- a
 * linear map, applied with four 256-entry tables (one per byte of x)
 * worked out once at load time.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* the hardware path: x86-64 with GCC or clang, which compile the one
 * function that uses the instruction for SSE4.2 (target attribute) while
 * the rest of the file, and of the library, stays baseline x86-64 */
#if defined(__x86_64__) && defined(__GNUC__)
#define CRC32C_HW 1
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int hw;

#ifdef CRC32C_HW
#define BLK 4096                /* bytes per stream in the three-way loop */
static uint32_t shift_blk[4][256];      /* x -> register after BLK zero bytes */

/* the raw register after n zero bytes, a byte at a time (load time only) */
static uint32_t
zeros(uint32_t x, size_t n)
{
	while (n--)
		x = (x >> 8) ^ table[0][x & 0xff];
	return x;
}

static uint32_t
shift(uint32_t x)
{
	return shift_blk[0][x & 0xff] ^ shift_blk[1][(x >> 8) & 0xff] ^
	    shift_blk[2][(x >> 16) & 0xff] ^ shift_blk[3][x >> 24];
}
#endif

__attribute__((constructor)) static void
crc32c_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = table[0][i];
		for (k = 1; k < 8; k++) {
			c = (c >> 8) ^ table[0][c & 0xff];
			table[k][i] = c;
		}
	}
#ifdef CRC32C_HW
	/* shift by BLK zero bytes: the images of the 32 unit vectors, then
	 * every byte value of every byte position by linearity */
	{
		uint32_t unit[32];
		for (i = 0; i < 32; i++)
			unit[i] = zeros((uint32_t)1 << i, BLK);
		for (k = 0; k < 4; k++)
			for (i = 0; i < 256; i++) {
				c = 0;
				for (j = 0; j < 8; j++)
					if (i & (1 << j))
						c ^= unit[8 * k + j];
				shift_blk[k][i] = c;
			}
	}
	__builtin_cpu_init();
	hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

uint32_t
klog_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc, lo, hi;

	while (len && ((uintptr_t)p & 7)) {
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		/* little-endian byte order regardless of the host's */
		lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		    (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		    (uint32_t)p[7] << 24;
		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		    table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return ~c;
}

#ifdef CRC32C_HW
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc, w;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * BLK) {
		uint64_t c1 = 0, c2 = 0, w1, w2;
		size_t i;
		for (i = 0; i < BLK; i += 8) {
			memcpy(&w, p + i, 8);
			memcpy(&w1, p + BLK + i, 8);
			memcpy(&w2, p + 2 * BLK + i, 8);
			c = _mm_crc32_u64(c, w);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		c = shift(shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
		p += 3 * BLK;
		len -= 3 * BLK;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

int
klog_crc32c_hw_available(void)
{
	return hw;
}

uint32_t
klog_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_HW
	if (hw)
		return crc32c_hw(crc, buf, len);
#endif
	return klog_crc32c_sw(crc, buf, len);
}
