/* klog - libFuzzer target: batch parsing, validation and record iteration. MIT licence. */
/*
 * The input is a segment: batches back to back.  Each whole batch goes
 * through klog_batch_verify, klog_batch_validate in both modes and the
 * record and header iterators, twice: as it came, then with its CRC made
 * right so the fuzzer reaches the checks behind it.  What must hold:
 *
 *   - validation fails with EILSEQ exactly when the CRC is wrong, else
 *     only with EBADMSG, ENOTSUP or ENOMEM, and always with a message;
 *   - a batch valid in disk mode iterates cleanly: exactly recordsCount
 *     records, offsets strictly increasing within [base, last], every
 *     timestamp >= -1 (and <= maxTimestamp under CreateTime), exactly
 *     header_count headers per record;
 *   - a batch valid in client mode is valid in disk mode once its base
 *     offset is one the log could assign.
 *
 * Any failure aborts, as do ASan and UBSan.  Built and run by `make fuzz`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct klog_rec_iter vit, rit;
static long nbatch, ndisk, nclient;

static void
report(void)
{
	fprintf(stderr, "fuzz-batch: %ld batches validated, %ld valid in disk mode, %ld in client mode\n",
	    nbatch, ndisk, nclient);
}

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* validate in one mode; the errno contract; 1 valid, 0 not */
static int
valid(const unsigned char *p, const struct klog_batch *b, int flags, int crc_ok)
{
	char err[KLOG_ERRLEN];

	err[0] = 0;
	if (klog_batch_validate(p, b, flags, &vit, err) == 0)
		return 1;
	check(err[0] != 0 && !strchr(err, '\n'));
	check(crc_ok ? errno == EBADMSG || errno == ENOTSUP || errno == ENOMEM : errno == EILSEQ);
	return 0;
}

/* every record and header; with must_pass, the guarantees of a valid batch */
static void
iterate(const unsigned char *p, const struct klog_batch *b, int must_pass)
{
	char err[KLOG_ERRLEN];
	struct klog_record r;
	struct klog_header h;
	int64_t prev = INT64_MIN;
	int32_t n = 0;
	int k;

	if (klog_rec_iter_start(&rit, p, b, err) < 0) {
		check(!must_pass);
		return;
	}
	while ((k = klog_rec_iter_next(&rit, &r, err)) == 1) {
		const unsigned char *hp = r.headers;
		unsigned sum = 0;
		int32_t nh = 0, i;
		for (i = 0; i < r.key_len; i++)
			sum += r.key[i];
		for (i = 0; i < r.value_len; i++)
			sum += r.value[i];
		while (klog_header_next(&hp, r.headers_end, &h)) {
			for (i = 0; i < h.key_len; i++)
				sum += h.key[i];
			for (i = 0; i < h.value_len; i++)
				sum += h.value[i];
			nh++;
		}
		check(nh == r.header_count && hp == r.headers_end);
		check(r.key_len >= -1 && r.value_len >= -1 && (r.key_len < 0) == !r.key);
		if (must_pass) {
			check(r.offset > prev && r.offset >= b->base_offset && r.offset <= klog_batch_last(b));
			check(r.timestamp >= -1);
			if (!(b->attributes & KLOG_ATTR_LOG_APPEND_TIME))
				check(r.timestamp <= b->max_timestamp);
		}
		prev = r.offset;
		n++;
		(void)sum;
	}
	check(k == 0 || !must_pass);
	if (must_pass)
		check(n == b->count);
}

static void
one(unsigned char *p, const struct klog_batch *b)
{
	int crc_ok = klog_batch_verify(p, b, NULL) == 0;
	int codec = b->attributes & KLOG_ATTR_CODEC, disk, client;

	disk = valid(p, b, 0, crc_ok);
	client = valid(p, b, KLOG_VALID_CLIENT, crc_ok);
	nbatch++;
	ndisk += disk;
	nclient += client;
	check(!(disk || client) || crc_ok);
	iterate(p, b, disk && klog_codec_available(codec));
	if (client && b->base_offset >= 0 && b->base_offset <= INT64_MAX - b->last_offset_delta)
		check(disk);
	if (client) {
		/* as the log stores it: its own base offset, then the largest */
		unsigned char save[8];
		struct klog_batch c = *b;
		memcpy(save, p, 8);
		klog_batch_set_base_offset(p, c.base_offset = 1000);
		check(valid(p, &c, 0, 1));
		klog_batch_set_base_offset(p, c.base_offset = INT64_MAX - b->last_offset_delta);
		check(valid(p, &c, 0, 1));
		memcpy(p, save, 8);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);  /* exact size: overreads are caught */
	struct klog_batch b;
	char err[KLOG_ERRLEN];
	size_t off = 0;
	static int once;
	int r;

	if (!once++)
		atexit(report);
	/* each input starts with iterators that have no buffer yet, as a
	 * new reader's: the same input always runs the same way */
	klog_rec_iter_free(&vit);
	klog_rec_iter_free(&rit);
	memcpy(copy, data, size);
	while (off < size && (r = klog_batch_parse(copy + off, size - off, &b, err)) == 1) {
		unsigned char *p = copy + off;
		one(p, &b);
		if (klog_batch_verify(p, &b, NULL) < 0) {
			put32(p + 17, klog_crc32c(0, p + 21, klog_batch_size(&b) - 21));
			b.crc = klog_crc32c(0, p + 21, klog_batch_size(&b) - 21);
			one(p, &b);
		}
		off += klog_batch_size(&b);
	}
	free(copy);
	return 0;
}
