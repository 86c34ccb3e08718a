/* klog - libFuzzer target: __consumer_offsets records (offsets.c). MIT licence. */
/*
 * Input: byte 0 splits the rest into key (the first byte-0 % (size-1)
 * bytes) and value (the remainder; byte 1 odd: no value, a tombstone).
 * What must hold: decoding never reads outside the two buffers and either
 * fails with a message or yields a record that formats as text and JSON;
 * a decoded commit or group record encodes, and that encoding decodes
 * back to the same group, topic, partition, offset and generation.  Built
 * and run by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[KLOG_ERRLEN];
	struct klog_orec r, back;
	struct klog_buf k = { 0 }, v = { 0 }, out = { 0 };
	unsigned char *key, *val;
	size_t kl, vl;
	int tomb;

	if (size < 2)
		return 0;
	tomb = data[1] & 1;
	data += 2;
	size -= 2;
	kl = size ? data[-2] % (size + 1) : 0;
	vl = size - kl;
	/* copies of exactly the right size, so ASan sees any overread */
	key = malloc(kl ? kl : 1);
	val = malloc(vl ? vl : 1);
	check(key && val);
	memcpy(key, data, kl);
	memcpy(val, data + kl, vl);
	memset(&r, 0, sizeof r);
	err[0] = 0;
	if (klog_orec_decode(key, (int32_t)kl, tomb ? NULL : val, tomb ? -1 : (int32_t)vl, &r,
	    err) < 0) {
		check(err[0] != 0);
		goto out;
	}
	check(klog_orec_format(&r, 0, &out) == 0);
	check(klog_orec_format(&r, 1, &out) == 0);
	if ((r.kind == KLOG_OREC_COMMIT || r.kind == KLOG_OREC_GROUP) &&
	    klog_orec_encode(&r, &k, &v, err) == 0) {
		memset(&back, 0, sizeof back);
		check(klog_orec_decode(k.data, (int32_t)k.len,
		    r.value_version < 0 ? NULL : v.data,
		    r.value_version < 0 ? -1 : (int32_t)v.len, &back, err) == 0);
		check(back.kind == r.kind && same(back.group, r.group));
		if (r.kind == KLOG_OREC_COMMIT) {
			check(same(back.topic, r.topic) && back.partition == r.partition);
			if (r.value_version >= 0)
				check(back.offset == r.offset);
		} else if (r.value_version >= 0) {
			check(back.generation == r.generation && back.nmembers == r.nmembers);
		}
		klog_orec_free(&back);
	}
	klog_orec_free(&r);
out:
	klog_buf_free(&k);
	klog_buf_free(&v);
	klog_buf_free(&out);
	free(key);
	free(val);
	return 0;
}
