/* klog - libFuzzer target: klog_part_append of hostile requests, read back. MIT licence. */
/*
 * Each process appends to two partitions in a fresh log directory of its
 * own under $TMPDIR (removed at exit): "f-0" (CreateTime) and "l-0"
 * (message.timestamp.type=LogAppendTime), both with small segments and
 * retention so the directory stays small.  Input: byte 0 picks the
 * partition (bit 1) and whether each whole batch gets its CRC made right
 * first (bit 0, so the fuzzer reaches the checks behind the CRC); the
 * rest is the request, batches back to back.  What must hold:
 *
 *   - a refused append changes nothing: same end offset, same bytes;
 *   - an accepted one gets offsets from the old end, one per offset delta,
 *     and reads back (klog_part_read) as sent but for the base offset and
 *     leader epoch (and, under LogAppendTime, the timestamp-type bit, the
 *     maxTimestamp and the CRC), each stored batch valid in disk mode.
 *
 * Built and run by `make fuzz`.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char root[PATH_MAX];
static struct klog_dir *dir;
static struct klog_part *part[2];
static struct klog_buf rd;
static struct klog_rec_iter vit;
static long accepted, refused;

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
cleanup(void)
{
	char cmd[PATH_MAX + 16];

	klog_part_close(part[0]);
	klog_part_close(part[1]);
	klog_dir_close(dir);
	klog_buf_free(&rd);
	klog_rec_iter_free(&vit);
	fprintf(stderr, "fuzz-append: %ld appends accepted and read back, %ld refused\n", accepted,
	    refused);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-append: cannot remove %s\n", root);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *kv[] = { "segment.bytes=1048576", "retention.bytes=4194304",
		"message.timestamp.type=LogAppendTime" };
	const char *tmp = getenv("TMPDIR");
	char err[KLOG_ERRLEN];

	snprintf(root, sizeof root, "%s/klog-fuzz-append-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root) || !(dir = klog_dir_open(root, KLOG_CREATE, err)) ||
	    klog_topic_create(dir, "f", 1, kv, 2, err) < 0 ||
	    klog_topic_create(dir, "l", 1, kv, 3, err) < 0 ||
	    !(part[0] = klog_part_open(dir, "f", 0, KLOG_WRITE, err)) ||
	    !(part[1] = klog_part_open(dir, "l", 0, KLOG_WRITE, err))) {
		fprintf(stderr, "fuzz-append: cannot set up %s: %s\n", root, err);
		exit(1);
	}
	klog_rec_iter_init0(&vit);
	atexit(cleanup);
	return 0;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* stored batch s is sent batch q at base offset `base` */
static void
same_batch(const unsigned char *s, const unsigned char *q, size_t n, int64_t base, int lat)
{
	char err[KLOG_ERRLEN];
	struct klog_batch b;

	check(klog_batch_parse(s, n, &b, err) == 1 && klog_batch_size(&b) == n);
	check(b.base_offset == base && b.leader_epoch == 0);
	check(!memcmp(s + 8, q + 8, 4) && s[16] == q[16]);
	if (!lat)
		check(!memcmp(s + 17, q + 17, n - 17));
	else {
		check(s[21] == q[21] && s[22] == (q[22] | KLOG_ATTR_LOG_APPEND_TIME));
		check(!memcmp(s + 23, q + 23, 35 - 23) && !memcmp(s + 43, q + 43, n - 43));
	}
	check(klog_batch_verify(s, &b, err) == 0);
	check(klog_batch_validate(s, &b, 0, &vit, err) == 0);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct klog_part_info before, after;
	struct klog_part *p;
	struct klog_batch b;
	unsigned char *req, *sent;
	char err[KLOG_ERRLEN];
	size_t n, off, got;
	int64_t first, last, count = 0;
	int lat, r;

	if (size < 1)
		return 0;
	lat = (data[0] >> 1) & 1;
	p = part[lat];
	n = size - 1;
	req = malloc(n ? n : 1);                /* exact size: overreads are caught */
	memcpy(req, data + 1, n);
	for (off = 0; off < n && klog_batch_parse(req + off, n - off, &b, NULL) == 1;
	    off += klog_batch_size(&b)) {
		if (data[0] & 1)
			put32(req + off + 17, klog_crc32c(0, req + off + 21, klog_batch_size(&b) - 21));
		count += (int64_t)b.last_offset_delta + 1;
	}
	sent = malloc(n ? n : 1);
	memcpy(sent, req, n);           /* the append rewrites req in place */
	check(klog_part_info(p, &before, err) == 0);
	first = last = -2;
	r = klog_part_append(p, req, n, &first, &last, err);
	check(klog_part_info(p, &after, err) == 0);
	if (r < 0 || n == 0) {
		check(after.log_end == before.log_end && after.bytes == before.bytes);
		refused += r < 0;
		goto out;
	}
	accepted++;
	/* accepted: whole batches to the end, offsets from the old end */
	check(off == n && first == before.log_end && last == first + count - 1);
	check(after.log_end == last + 1);
	/* read back and compare with what was sent */
	rd.len = 0;
	got = 0;
	first = before.log_end;
	for (off = 0; off < n; off += klog_batch_size(&b)) {
		klog_batch_parse(sent + off, n - off, &b, NULL);
		while (got + klog_batch_size(&b) > rd.len)     /* the last read stopped short */
			check(klog_part_read(p, first, n, &rd, err) > 0);
		same_batch(rd.data + got, sent + off, klog_batch_size(&b), first, lat);
		got += klog_batch_size(&b);
		first += (int64_t)b.last_offset_delta + 1;
	}
out:
	free(req);
	free(sent);
	return 0;
}
