/* klog - tests for CRC-32C, hardware and table paths. MIT licence. */
#include "tap.h"
#include "klog.h"

/* bit-at-a-time reference, the definition itself */
static uint32_t
crc_ref(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffff;

	while (n--) {
		c ^= *p++;
		for (int i = 0; i < 8; i++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

int
main(void)
{
	static unsigned char buf[4096 + 16];
	unsigned seed = 12345;
	int bad_sw = 0, bad_hw = 0, bad_chain = 0, n = 0;

#if defined(__x86_64__)
	plan(14);
#else
	plan(13);
#endif
	cmp_ok(klog_crc32c(0, "123456789", 9), ==, 0xE3069283, "check value");
	cmp_ok(klog_crc32c_sw(0, "123456789", 9), ==, 0xE3069283, "check value, tables");
	cmp_ok(klog_crc32c(0, "", 0), ==, 0, "empty input");
	cmp_ok(klog_crc32c(klog_crc32c(0, "1234", 4), "56789", 5), ==, 0xE3069283, "chained");
	cmp_ok(klog_crc32c_sw(klog_crc32c_sw(0, "12345", 5), "6789", 4), ==, 0xE3069283,
	    "chained, tables");
	diag("hardware CRC-32C: %s", klog_crc32c_hw_available() ? "yes" : "no");
#if defined(__x86_64__)
	ok(klog_crc32c_hw_available(), "x86-64 CPU has SSE4.2");
#endif
	/* 32 zero bytes: iSCSI test vector from RFC 3720 B.4 */
	memset(buf, 0, 32);
	cmp_ok(klog_crc32c(0, buf, 32), ==, 0x8A9136AA, "RFC 3720 zeros");
	memset(buf, 0xff, 32);
	cmp_ok(klog_crc32c(0, buf, 32), ==, 0x62A8AB43, "RFC 3720 ones");

	for (size_t i = 0; i < sizeof buf; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (unsigned char)(seed >> 16);
	}
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; len < 300; len += 1 + len / 16) {
			uint32_t want = crc_ref(buf + off, len);
			size_t cut = len / 3;
			n++;
			if (klog_crc32c_sw(0, buf + off, len) != want)
				bad_sw++;
			if (klog_crc32c(0, buf + off, len) != want)
				bad_hw++;
			if (klog_crc32c(klog_crc32c(0, buf + off, cut), buf + off + cut, len - cut) != want ||
			    klog_crc32c_sw(klog_crc32c(0, buf + off, cut), buf + off + cut,
			    len - cut) != want)
				bad_chain++;
		}
	}
	cmp_ok(bad_sw, ==, 0, "tables match the reference on %d buffers", n);
	cmp_ok(bad_hw, ==, 0, "klog_crc32c matches the reference on %d buffers", n);
	cmp_ok(bad_chain, ==, 0, "chained halves match, mixing paths");
	cmp_ok(klog_crc32c(0, buf + 3, 4096), ==, klog_crc32c_sw(0, buf + 3, 4096),
	    "4 KiB, hardware == tables");
	cmp_ok(klog_crc32c(0, buf + 3, 4096), ==, crc_ref(buf + 3, 4096), "4 KiB, reference");
	{
		/* the three-way loop (three 4 KiB blocks at a time) and its joins,
		 * at lengths around the block sizes and with odd starts */
		static unsigned char big[64 << 10];
		static const size_t lens[] = { 12287, 12288, 12289, 12296, 24576, 30000, 36864,
		    40000, 65000 };
		int bad = 0;
		for (size_t i = 0; i < sizeof big; i++) {
			seed = seed * 1103515245 + 12345;
			big[i] = (unsigned char)(seed >> 16);
		}
		for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
			for (size_t off = 0; off < 9; off += 4) {
				uint32_t want = crc_ref(big + off, lens[k] - off);
				if (klog_crc32c(0, big + off, lens[k] - off) != want ||
				    klog_crc32c_sw(0, big + off, lens[k] - off) != want ||
				    klog_crc32c(klog_crc32c(0, big + off, 5000), big + off + 5000,
				    lens[k] - off - 5000) != want)
					bad++;
			}
		cmp_ok(bad, ==, 0, "long buffers: hardware, tables and chains match the reference");
	}
	return done_testing();
}
