/* klog - unit tests of the embedded write rates (rate.c). MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];

/* n records of 100 bytes with timestamp ts into t-0, written as batches of
 * about batch bytes */
static int
produce(struct klog_log *lg, int n, int64_t ts, size_t batch)
{
	struct klog_producer_opts o = { .partition = 0, .codec = -1, .batch_bytes = batch };
	struct klog_producer *pr = klog_producer_open(lg, "t", &o, err);
	char v[100];
	int i;

	if (!pr)
		return -1;
	memset(v, 'v', sizeof v);
	for (i = 0; i < n; i++)
		if (klog_producer_send(pr, ts, NULL, -1, v, sizeof v, err) != 0)
			break;
	if (i < n || klog_producer_flush(pr, err) < 0) {
		klog_producer_close(pr);
		return -1;
	}
	klog_producer_close(pr);
	return 0;
}

static int64_t
part_bytes(struct klog_part *p)
{
	struct klog_part_info pi;

	return klog_part_info(p, &pi, err) < 0 ? -1 : pi.bytes;
}

int
main(void)
{
	static char *kv[] = { "segment.bytes=4096" };
	struct klog_part_rate r, *rates = NULL;
	struct klog_part_info pi;
	struct klog_part *p;
	struct klog_log *lg;
	int64_t now = klog_now_ms(), old_bytes, all_bytes;
	char cmd[PATH_MAX + 16];
	int n = 0;

	snprintf(root, sizeof root, "/tmp/klog-t0068-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	lg = klog_log_open(root, NULL, KLOG_CREATE, err);
	ok(lg != NULL, "open log directory");
	/* small segments: the recent records span several of them */
	ok(klog_log_create(lg, "t", 2, kv, 1, err) == 0, "create topic t (segment.bytes 4096)");
	p = klog_part_open(klog_log_dir(lg), "t", 0, KLOG_RDONLY, err);
	ok(p != NULL, "open t-0 read-only");

	ok(klog_part_rate(p, now, &r, err) == 0 && r.records == 0 && r.bytes == 0,
	    "an empty partition: rate 0");

	/* 100 records 30 s ago, then 200 now */
	ok(produce(lg, 100, now - 30000, 2048) == 0, "100 records stamped 30 s ago");
	old_bytes = part_bytes(p);
	ok(klog_part_rate(p, now, &r, err) == 0 && r.records == 0 && r.bytes == 0,
	    "records older than the window: rate 0");
	ok(produce(lg, 200, now, 2048) == 0, "200 records stamped now");
	all_bytes = part_bytes(p);
	if (klog_part_info(p, &pi, err) < 0)
		pi.segments = 0;
	ok(pi.segments > 3, "they span %d segments", pi.segments);
	ok(klog_part_rate(p, now, &r, err) == 0, "rate now");
	cmp_ok((int64_t)(r.records * 1000), ==, (int64_t)200 * 1000 * 1000 / KLOG_RATE_WINDOW_MS,
	    "records: the 200 recent ones over the window");
	cmp_ok((int64_t)(r.bytes * KLOG_RATE_WINDOW_MS / 1000 + 0.5), ==, all_bytes - old_bytes,
	    "bytes: exactly those of the recent batches, across segments");
	ok(klog_part_rate(p, now + KLOG_RATE_WINDOW_MS + 1, &r, err) == 0 && r.records == 0 &&
	    r.bytes == 0, "a window later: rate 0");
	ok(klog_part_rate(p, now + KLOG_RATE_WINDOW_MS - 1, &r, err) == 0 && r.records * 10 ==
	    200 * 10 * 1000 / KLOG_RATE_WINDOW_MS, "just under a window later: still counted");

	/* the whole topic through klog_log_rates */
	ok(klog_log_rates(lg, "t", &rates, &n, err) == 0 && n == 2, "klog_log_rates: 2 partitions");
	ok(rates && rates[0].records > 0 && rates[1].records == 0 && rates[1].bytes == 0,
	    "t-0 writes, t-1 does not");
	free(rates);
	errno = 0;
	ok(klog_log_rates(lg, "nosuch", &rates, &n, err) == -1 && errno == ENOENT,
	    "an unknown topic: ENOENT (%s)", err);

	klog_part_close(p);
	klog_log_close(lg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		diag("could not remove %s", root);
	return done_testing();
}
