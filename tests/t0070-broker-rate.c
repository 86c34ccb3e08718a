/* klog - unit tests of the broker's per-partition rate ring (broker-stats.c). MIT licence. */
#include <stdlib.h>

#include "broker.h"
#include "tap.h"

/* records per second at second now, times 10 (an integer) */
static long
rate10(const struct kb_rate *r, int64_t now)
{
	struct klog_part_rate pr;

	kb_rate_at(r, now, &pr);
	return (long)(pr.records * 10 + 0.5);
}

int
main(void)
{
	struct kb_rate *r = NULL;
	struct klog_part_rate pr;
	int64_t t = 1000;
	int i;

	kb_rate_at(NULL, t, &pr);
	ok(pr.records == 0 && pr.bytes == 0, "no appends: rate 0");
	r = kb_rate_count(r, t, 100, 5000);
	ok(r != NULL, "the first append allocates the ring");
	kb_rate_at(r, t, &pr);
	ok(pr.records == 10 && pr.bytes == 500, "100 records, 5000 bytes this second: 10/s, 500 B/s");
	r = kb_rate_count(r, t, 50, 100);
	cmp_ok(rate10(r, t), ==, 150, "same second: they add up (15/s)");
	cmp_ok(rate10(r, t + 9), ==, 150, "nine seconds later: still in the window");
	cmp_ok(rate10(r, t + 10), ==, 0, "ten seconds later: out of it");
	cmp_ok(rate10(r, t - 1), ==, 0, "asked before the last second counted: nothing yet");

	/* one append a second for 20 s: the window holds the last 10 */
	for (i = 1; i <= 20; i++)
		r = kb_rate_count(r, t + i, i, 1);
	/* seconds t+11 .. t+20: 11 + ... + 20 = 155 records over 10 s */
	cmp_ok(rate10(r, t + 20), ==, 155, "a steady stream: the last ten seconds (15.5/s)");
	/* at t+25 only t+16 .. t+20 are left: 90 */
	cmp_ok(rate10(r, t + 25), ==, 90, "five quiet seconds later: the older half is gone (9/s)");
	cmp_ok(rate10(r, t + 30), ==, 0, "ten quiet seconds later: 0");

	/* a gap longer than the window clears every bucket */
	r = kb_rate_count(r, t + 100, 7, 1);
	cmp_ok(rate10(r, t + 100), ==, 7, "after a long gap only the new append counts (0.7/s)");
	/* a gap of 3 s clears just the seconds between */
	r = kb_rate_count(r, t + 103, 3, 1);
	cmp_ok(rate10(r, t + 103), ==, 10, "a short gap keeps what is still in the window (1/s)");
	ok(r->records_total == 100 + 50 + 210 + 7 + 3, "the counter since start-up: %llu",
	    (unsigned long long)r->records_total);
	free(r);

	/* just after boot: seconds before 0 do not exist */
	r = kb_rate_count(NULL, 0, 4, 1);
	r = kb_rate_count(r, 2, 6, 1);
	cmp_ok(rate10(r, 3), ==, 10, "near second 0 of the clock (1/s)");
	free(r);
	return done_testing();
}
