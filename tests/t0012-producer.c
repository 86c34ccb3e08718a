/* klog - unit tests of the producer's headers (producer.c). MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];

/* the record's headers as "k=v,k=v" ("k=(null)" for a null value) */
static const char *
headers(const struct klog_record *r)
{
	static char s[512];
	const unsigned char *pos = r->headers;
	struct klog_header h;
	size_t n = 0;

	s[0] = 0;
	while (klog_header_next(&pos, r->headers_end, &h) == 1 && n < sizeof s - 1) {
		n += (size_t)snprintf(s + n, sizeof s - n, "%s%.*s=", n ? "," : "",
		    (int)h.key_len, (const char *)h.key);
		if (n >= sizeof s)
			break;
		if (h.value_len < 0)
			n += (size_t)snprintf(s + n, sizeof s - n, "(null)");
		else
			n += (size_t)snprintf(s + n, sizeof s - n, "%.*s", (int)h.value_len,
			    (const char *)h.value);
	}
	return s;
}

int
main(void)
{
	static const struct klog_header every[] = {
		{ (const unsigned char *)"src", 3, (const unsigned char *)"test", 4 },
	};
	struct klog_header mine[2];
	struct klog_producer_opts o;
	struct klog_producer *pr;
	struct klog_consumer *c;
	struct klog_record r;
	struct klog_log *lg;
	const char *topic;
	char cmd[PATH_MAX + 16], k0[8], v0[8];
	int part, got, i;

	snprintf(root, sizeof root, "/tmp/klog-t0012-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	lg = klog_log_open(root, NULL, KLOG_CREATE, err);
	ok(lg != NULL, "open log directory");
	ok(klog_log_create(lg, "t", 1, NULL, 0, err) == 0, "create topic t");

	memset(&o, 0, sizeof o);
	o.partition = -1;
	o.codec = -1;
	o.headers = every;
	o.nheaders = 1;
	pr = klog_producer_open(lg, "t", &o, err);
	ok(pr != NULL, "open a producer with a header for every record");

	ok(klog_producer_send(pr, 1000, "a", 1, "one", 3, err) == 0, "send: producer's headers");
	/* headers built in stack buffers that change after the call */
	strcpy(k0, "id");
	strcpy(v0, "42");
	mine[0] = (struct klog_header){ (unsigned char *)k0, 2, (unsigned char *)v0, 2 };
	mine[1] = (struct klog_header){ (const unsigned char *)"nul", 3, NULL, -1 };
	ok(klog_producer_send_h(pr, 1001, "b", 1, "two", 3, mine, 2, err) == 0,
	    "send_h: two headers of its own");
	strcpy(k0, "XX");
	strcpy(v0, "YY");
	ok(klog_producer_send_h(pr, 1002, NULL, -1, "three", 5, NULL, 0, err) == 0,
	    "send_h: no headers");
	mine[0].key_len = -1;
	errno = 0;
	ok(klog_producer_send_h(pr, 1003, NULL, -1, "bad", 3, mine, 1, err) == -1 &&
	    errno == EINVAL, "send_h: a header with a negative key length is refused");
	ok(klog_producer_send_h(pr, 1003, NULL, -1, "bad", 3, NULL, 1, err) == -1 &&
	    errno == EINVAL, "send_h: one header at NULL is refused");
	ok(klog_producer_send(pr, 1004, "d", 1, "four", 4, err) == 0,
	    "send after send_h: the producer's headers again");
	ok(klog_producer_flush(pr, err) == 0, "flush");
	klog_producer_close(pr);

	c = klog_consumer_new(lg, err);
	ok(c && klog_consumer_add(c, "t", NULL, err) == 0, "consume t");
	{
		static const char *want[][2] = {
			{ "one", "src=test" },
			{ "two", "id=42,nul=(null)" },
			{ "three", "" },
			{ "four", "src=test" },
		};
		for (i = 0; i < 4; i++) {
			got = klog_consumer_next(c, &r, &topic, &part, err);
			ok(got == 1 && r.value_len == (int32_t)strlen(want[i][0]) &&
			    !memcmp(r.value, want[i][0], strlen(want[i][0])), "record %d is '%s'", i,
			    want[i][0]);
			if (got != 1)
				diag("%s", err);
			is(got == 1 ? headers(&r) : NULL, want[i][1], "record %d's headers", i);
		}
		got = klog_consumer_next(c, &r, &topic, &part, err);
		cmp_ok(got, ==, 0, "nothing more: the refused records were not written");
	}
	klog_consumer_free(c);
	klog_log_close(lg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		diag("could not remove %s", root);
	return done_testing();
}
