/* klog - libFuzzer target: the protocol parser as the broker drives it. MIT licence. */
/*
 * Input is a byte stream from a client.  Requests are cut the way
 * broker.c cuts them (a line copied out, parsed, its payload skipped),
 * payloads go through batch parsing, CRC checks and the record iterator,
 * and every line also goes through the response parser.  Built and run
 * by `make fuzz` (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdlib.h>
#include <string.h>

#include "klog.h"
#include "kserver.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
payload(const unsigned char *p, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	struct klog_rec_iter it;
	struct klog_batch b;
	char err[KLOG_ERRLEN];
	size_t off = 0;

	memcpy(copy, p, n);
	klog_rec_iter_init0(&it);
	while (off < n && klog_batch_parse(copy + off, n - off, &b, err) == 1) {
		struct klog_record r;
		if (klog_batch_verify(copy + off, &b, err) == 0 &&
		    klog_rec_iter_start(&it, copy + off, &b, err) == 0)
			while (klog_rec_iter_next(&it, &r, err) == 1)
				;
		off += klog_batch_size(&b);
	}
	klog_rec_iter_free(&it);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[KLOG_ERRLEN];
	struct klog_buf out = { 0 };
	size_t off = 0;

	while (off < size) {
		const unsigned char *nl;
		size_t avail = size - off, n = avail < KLOG_PROTO_MAX_LINE ? avail : KLOG_PROTO_MAX_LINE;
		struct klog_req r;
		struct klog_reply rp;
		char *line, *raw;
		int k;

		nl = memchr(data + off, '\n', n);
		if (!nl && avail < KLOG_PROTO_MAX_LINE)
			break;
		n = nl ? (size_t)(nl - (data + off)) + 1 : n;
		line = malloc(n + 1);
		raw = malloc(n + 1);
		memcpy(line, data + off, n);
		memcpy(raw, data + off, n);
		line[n] = raw[n] = 0;
		klog_proto_reply(raw, &rp);     /* the same bytes as a response line */
		free(raw);
		k = klog_proto_parse(line, n, 1 << 20, &r, err);
		free(line);
		if (k == 0)
			abort();        /* a whole line never needs more */
		if (k < 0) {
			out.len = 0;
			klog_proto_err(&out, r.code, err);
			if (!out.len || out.data[out.len - 1] != '\n' ||
			    memchr(out.data, '\n', out.len) != out.data + out.len - 1)
				abort();        /* an error reply is exactly one line */
			if (r.fatal)
				break;
			off += r.line_len;
			continue;
		}
		if (r.line_len != n || (r.verb != KLOG_V_NONE && r.argc < 1))
			abort();
		off += r.line_len;
		if (r.payload > 0) {
			size_t pl = (size_t)r.payload;
			if (pl > size - off)
				pl = size - off;
			payload(data + off, pl);
			off += pl;
		}
	}
	klog_buf_free(&out);
	return 0;
}
