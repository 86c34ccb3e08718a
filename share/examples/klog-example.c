/* klog-example: produce three records to a topic, read them back, print them.
 * cc -o klog-example klog-example.c $(pkg-config --cflags --libs klog) */
#include <stdio.h>
#include <string.h>

#include <klog.h>

int
main(int argc, char **argv)
{
	static const char *const words[] = { "one", "two", "three" };
	char err[KLOG_ERRLEN] = "";
	char key[16];
	struct klog_producer_opts po;
	struct klog_producer *pr = NULL;
	struct klog_consumer *c = NULL;
	struct klog_log *lg;
	struct klog_header h;
	const unsigned char *hp;
	struct klog_record r;
	const char *topic;
	int i, part, n, rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: klog-example DIR\n");
		return 2;
	}
	/* a log directory, created if missing; klog_log_open(NULL,
	 * "host:7092", 0, err) would reach a kbrokerd instead */
	if (!(lg = klog_log_open(argv[1], NULL, KLOG_CREATE, err)))
		goto out;
	if (!klog_log_exists(lg, "greetings") &&
	    klog_log_create(lg, "greetings", 1, NULL, 0, err) < 0)
		goto out;

	memset(&po, 0, sizeof po);
	po.partition = -1;              /* by key (murmur2), as Kafka's producer */
	po.codec = -1;                  /* the topic's compression.type */
	if (!(pr = klog_producer_open(lg, "greetings", &po, err)))
		goto out;
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "k%d", i);
		h.key = (const unsigned char *)"lang";
		h.key_len = 4;
		h.value = (const unsigned char *)"en";
		h.value_len = 2;
		if (klog_producer_send_h(pr, klog_now_ms(), key, (int)strlen(key), words[i],
		    (int)strlen(words[i]), &h, 1, err) != 0)
			goto out;
	}
	if (klog_producer_flush(pr, err) < 0)   /* written and synced */
		goto out;

	if (!(c = klog_consumer_new(lg, err)) ||
	    klog_consumer_add(c, "greetings", NULL, err) < 0)  /* NULL: from the beginning */
		goto out;
	while ((n = klog_consumer_next(c, &r, &topic, &part, err)) == 1) {
		/* keys and values are bytes, not strings; ours are not null */
		printf("%s-%d offset %lld: %.*s = %.*s", topic, part, (long long)r.offset,
		    (int)r.key_len, (const char *)r.key, (int)r.value_len, (const char *)r.value);
		hp = r.headers;
		while (klog_header_next(&hp, r.headers_end, &h) == 1)
			printf(" [%.*s: %.*s]", (int)h.key_len, (const char *)h.key,
			    (int)h.value_len, (const char *)h.value);
		printf("\n");
	}
	if (n == 0)
		rc = 0;                 /* every record read */
out:
	if (rc)
		fprintf(stderr, "klog-example: %s\n", err);
	klog_consumer_free(c);
	klog_producer_close(pr);
	klog_log_close(lg);
	return rc;
}
