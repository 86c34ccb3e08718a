/* klog - tests for Kafka's murmur2 partitioner. MIT licence. */
#include "tap.h"
#include "klog.h"

int
main(void)
{
	static const struct {
		const char *key;
		int32_t want;
	} java[] = {
		/* Kafka's UtilsTest.testMurmur2, signed results */
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "abc", 479470107 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
	};
	static const struct {
		const char *key;
		uint32_t want;
	} rd[] = {
		/* librdkafka's rdmurmur2.c unit test */
		{ "kafka", 0xd067cf64 },
		{ "giberish123456789", 0x8f552b0c },
		{ "1234", 0x9fc97b14 },
		{ "", 0x106e08d9 },
		{ "foo", 0x23a256d0 },
	};

	plan(17);
	for (size_t i = 0; i < sizeof java / sizeof java[0]; i++)
		cmp_ok((int32_t)klog_murmur2(java[i].key, strlen(java[i].key)), ==, java[i].want,
		    "murmur2 '%s'", java[i].key);
	for (size_t i = 0; i < sizeof rd / sizeof rd[0]; i++)
		cmp_ok(klog_murmur2(rd[i].key, strlen(rd[i].key)), ==, rd[i].want,
		    "murmur2 '%s'", rd[i].key);
	cmp_ok(klog_partition_for_key("foo", 3, 3), ==, 2, "'foo' -> partition 2 of 3");
	cmp_ok(klog_partition_for_key("foo", 3, 8), ==, 0, "'foo' -> partition 0 of 8");
	cmp_ok(klog_partition_for_key("foo", 3, 1), ==, 0, "one partition");
	/* negative hash: the sign bit is masked, not abs()'d */
	cmp_ok(klog_partition_for_key("21", 2, 1000), ==,
	    (int)(((uint32_t)-973932308 & 0x7fffffff) % 1000), "'21' masks the sign bit");
	cmp_ok(klog_partition_for_key("21", 2, 1000), !=, 973932308 % 1000, "not abs()");
	cmp_ok(klog_partition_for_key("foo", 3, 0), ==, -1, "zero partitions is an error");
	return done_testing();
}
