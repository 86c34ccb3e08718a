/* klog - murmur2 as the Java client's partitioner uses it. MIT licence. */
/*
 * MurmurHash2, 32-bit, with Kafka's seed 0x9747b28c; all arithmetic is
 * on unsigned 32-bit values and 4-byte blocks are read little-endian, so
 * the result is the same on every host.  A key's partition is
 * (hash & 0x7fffffff) % partitions: Kafka's toPositive() masks the sign
 * bit rather than taking abs().
 */
#include "internal.h"

uint32_t
klog_murmur2(const void *key, size_t len)
{
	const unsigned char *p = key;
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len, k;
	size_t i, n4 = len & ~(size_t)3;

	for (i = 0; i < n4; i += 4) {
		k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
		    (uint32_t)p[i + 3] << 24;
		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)p[n4 + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)p[n4 + 1] << 8;
		/* fall through */
	case 1:
		h ^= p[n4];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

int
klog_partition_for_key(const void *key, size_t len, int partitions)
{
	if (partitions <= 0)
		return -1;
	return (int)((klog_murmur2(key, len) & 0x7fffffff) % (uint32_t)partitions);
}
