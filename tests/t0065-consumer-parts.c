/* klog - unit tests of a consumer's partitions coming and going (consumer.c). MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];

/* read until the end for now; counts per partition, values "P-N" checked in order */
static int
drain(struct klog_consumer *c, int *count, int64_t *last)
{
	struct klog_record r;
	const char *topic;
	char want[32];
	int part, got, n = 0;

	while ((got = klog_consumer_next(c, &r, &topic, &part, err)) == 1) {
		snprintf(want, sizeof want, "%d-%lld", part, (long long)r.offset);
		if (r.value_len != (int32_t)strlen(want) || memcmp(r.value, want, strlen(want)) ||
		    (last[part] >= 0 && r.offset != last[part] + 1))
			return -1;
		last[part] = r.offset;
		count[part]++;
		n++;
	}
	return got < 0 ? -1 : n;
}

int
main(void)
{
	struct klog_producer_opts o;
	struct klog_producer *pr;
	struct klog_consumer *c;
	struct klog_record r;
	struct klog_start st;
	struct klog_log *lg;
	const char *topic;
	char cmd[PATH_MAX + 16], v[32];
	int count[3] = { 0 }, part, p, i;
	int64_t last[3] = { -1, -1, -1 }, next;

	snprintf(root, sizeof root, "/tmp/klog-t0065-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	lg = klog_log_open(root, NULL, KLOG_CREATE, err);
	ok(lg != NULL, "open log directory");
	ok(klog_log_create(lg, "t", 3, NULL, 0, err) == 0, "create topic t, 3 partitions");
	for (p = 0; p < 3; p++) {
		memset(&o, 0, sizeof o);
		o.partition = p;
		o.codec = -1;
		pr = klog_producer_open(lg, "t", &o, err);
		for (i = 0; i < 10; i++) {
			snprintf(v, sizeof v, "%d-%d", p, i);
			if (klog_producer_send(pr, 1000 + i, NULL, -1, v, (int32_t)strlen(v), err) < 0)
				break;
		}
		ok(i == 10 && klog_producer_flush(pr, err) == 0, "ten records in partition %d", p);
		klog_producer_close(pr);
	}

	c = klog_consumer_new(lg, err);
	st.from = KLOG_FROM_OFFSET;
	st.value = 5;
	ok(klog_consumer_add_part(c, "t", 0, &st, err) == 0, "add t-0 at offset 5");
	ok(klog_consumer_add_part(c, "t", 1, NULL, err) == 0, "add t-1 at the beginning");
	errno = 0;
	ok(klog_consumer_add_part(c, "t", 1, NULL, err) == -1 && errno == EEXIST,
	    "adding t-1 again: EEXIST");
	errno = 0;
	ok(klog_consumer_add_part(c, "t", 7, NULL, err) == -1, "no partition 7: refused");
	errno = 0;
	ok(klog_consumer_add_part(c, "no/such", 0, NULL, err) == -1 && errno == EINVAL,
	    "a bad topic name: EINVAL");
	cmp_ok(klog_consumer_count(c), ==, 2, "two partitions read");
	ok(klog_consumer_next_offset(c, "t", 0, &next) == 0 && next == 5, "t-0 starts at 5");
	errno = 0;
	ok(klog_consumer_next_offset(c, "t", 2, &next) == -1 && errno == ENOENT,
	    "t-2 is not read: ENOENT");

	/* a few records, then t-0 goes in the middle of its chunk */
	ok(klog_consumer_next(c, &r, &topic, &part, err) == 1 && part == 0 && r.offset == 5,
	    "first record: t-0 offset 5");
	ok(klog_consumer_next(c, &r, &topic, &part, err) == 1 && part == 0 && r.offset == 6,
	    "then t-0 offset 6");
	ok(klog_consumer_next_offset(c, "t", 0, &next) == 0 && next == 7,
	    "t-0's next offset is 7");
	ok(klog_consumer_remove(c, "t", 0) == 0, "remove t-0 while its chunk is buffered");
	errno = 0;
	ok(klog_consumer_remove(c, "t", 0) == -1 && errno == ENOENT, "removing it again: ENOENT");
	cmp_ok(klog_consumer_count(c), ==, 1, "one partition read");
	last[0] = 6;
	cmp_ok(drain(c, count, last), ==, 10, "the rest: t-1's ten records, in order");
	cmp_ok(count[0], ==, 0, "nothing more of t-0 after it was removed");
	cmp_ok(count[1], ==, 10, "all of t-1");

	/* back at a committed offset, and a third one from the end */
	st.value = 7;
	ok(klog_consumer_add_part(c, "t", 0, &st, err) == 0, "add t-0 again at offset 7");
	st.from = KLOG_FROM_END;
	ok(klog_consumer_add_part(c, "t", 2, &st, err) == 0, "add t-2 at its end");
	cmp_ok(drain(c, count, last), ==, 3, "t-0's offsets 7 to 9, nothing of t-2");
	cmp_ok(count[0], ==, 3, "three of t-0");
	cmp_ok(count[2], ==, 0, "none of t-2");
	ok(klog_consumer_next_offset(c, "t", 2, &next) == 0 && next == 10, "t-2 waits at 10");
	/* the first of three goes: the others keep their places */
	ok(klog_consumer_remove(c, "t", 1) == 0, "remove t-1");
	ok(klog_consumer_wait(c, 0) >= 0, "waiting after partitions changed");
	ok(klog_consumer_next_offset(c, "t", 0, &next) == 0 && next == 10, "t-0 at 10");
	ok(klog_consumer_remove(c, "t", 0) == 0 && klog_consumer_remove(c, "t", 2) == 0,
	    "remove the others");
	cmp_ok(klog_consumer_next(c, &r, &topic, &part, err), ==, 0, "no partitions: nothing");
	ok(klog_consumer_wait(c, 0) >= 0, "waiting with no partitions");
	klog_consumer_free(c);
	klog_log_close(lg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		diag("could not remove %s", root);
	return done_testing();
}
