/* klog - tests for kconsume's output: format strings, JSON lines, delimiters. MIT licence. */
#include <stdint.h>

#include "klog.h"
#include "tap.h"

static char err[KLOG_ERRLEN];

/* raw header encoding as in a record: zigzag varint lengths */
static void
put_varint(struct klog_buf *b, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	unsigned char c;

	do {
		c = u & 0x7f;
		u >>= 7;
		if (u)
			c |= 0x80;
		klog_buf_append(b, &c, 1);
	} while (u);
}

static void
add_header(struct klog_buf *b, const char *k, const char *v, int vlen)
{
	put_varint(b, (int64_t)strlen(k));
	klog_buf_append(b, k, strlen(k));
	put_varint(b, vlen);
	if (vlen > 0)
		klog_buf_append(b, v, (size_t)vlen);
}

static struct klog_record
rec(int64_t off, int64_t ts, const char *k, const char *v)
{
	struct klog_record r;

	memset(&r, 0, sizeof r);
	r.offset = off;
	r.timestamp = ts;
	r.key = (const unsigned char *)k;
	r.key_len = k ? (int32_t)strlen(k) : -1;
	r.value = (const unsigned char *)v;
	r.value_len = v ? (int32_t)strlen(v) : -1;
	return r;
}

static void
set_headers(struct klog_record *r, const struct klog_buf *h, int count)
{
	r->headers = h->data;
	r->headers_end = h->data + h->len;
	r->header_count = count;
}

/* format one record; compare with want (want_len bytes) */
static void
fmt_is(const char *spec, const char *topic, int part, const struct klog_record *r,
    const char *want, size_t want_len, const char *what)
{
	struct klog_fmt *f = klog_fmt_compile(spec, err);
	struct klog_buf out = {0};
	int good = 0;

	if (!f) {
		diag("compile '%s': %s", spec, err);
		goto done;
	}
	klog_buf_append(&out, "<", 1);
	if (klog_fmt_record(f, &out, topic, part, r) < 0) {
		diag("klog_fmt_record failed");
		goto done;
	}
	good = out.len == want_len + 1 && out.data[0] == '<' && !memcmp(out.data + 1, want, want_len);
	if (!good)
		diag("got '%.*s'\n#  want '%.*s'", (int)out.len - 1, out.data + 1, (int)want_len, want);
done:
	ok(good, "format %s", what);
	klog_fmt_free(f);
	klog_buf_free(&out);
}
#define FMT_IS(spec, topic, part, r, want, what) \
	fmt_is(spec, topic, part, r, want, sizeof(want) - 1, what)

static void
compile_fails(const char *spec, const char *want)
{
	struct klog_fmt *f;

	err[0] = 0;
	f = klog_fmt_compile(spec, err);
	ok(!f && strstr(err, want), "compiling '%s' fails: %s", spec, err);
	klog_fmt_free(f);
}

static void
json_is(const char *topic, int part, const struct klog_record *r, const char *want, const char *what)
{
	struct klog_buf out = {0};
	int good;

	klog_buf_append(&out, "<", 1);
	good = klog_json_record(&out, topic, part, r) == 0 && out.len == strlen(want) + 1 &&
	    !memcmp(out.data + 1, want, out.len - 1);
	if (!good)
		diag("got  %.*s\n# want %s", (int)out.len - 1, out.data + 1, want);
	ok(good, "json %s", what);
	klog_buf_free(&out);
}

static void
unescape_is(const char *in, const char *want, size_t want_len)
{
	struct klog_buf out = {0};
	int r = klog_unescape(in, &out, err);

	ok(r == 0 && out.len == want_len && (!want_len || !memcmp(out.data, want, want_len)),
	    "unescape '%s' (%zu bytes)", in, want_len);
	klog_buf_free(&out);
}
#define UNESCAPE_IS(in, want) unescape_is(in, want, sizeof(want) - 1)

static void
unescape_fails(const char *in, const char *want)
{
	struct klog_buf out = {0};

	klog_buf_append(&out, "ab", 2);
	err[0] = 0;
	ok(klog_unescape(in, &out, err) == -1 && strstr(err, want) && out.len == 2,
	    "unescape '%s' fails: %s", in, err);
	klog_buf_free(&out);
}

static void
test_integers(void)
{
	static const int64_t v[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345,
		4294967295LL, 4294967296LL, 1700000000000LL, 999999999999999999LL,
		1000000000000000000LL, INT64_MAX, -1, -9, -10, -100, -12345, INT64_MIN + 1, INT64_MIN };
	struct klog_fmt *f = klog_fmt_compile("%o %T %p\n", err);
	struct klog_buf out = {0};
	char want[128];
	uint64_t x = 88172645463325252ull;
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct klog_record r = rec(v[i], v[i] / -3, NULL, NULL);
		int part = (int)(v[i] % 100000);
		out.len = 0;
		klog_fmt_record(f, &out, "t", part, &r);
		snprintf(want, sizeof want, "%" PRId64 " %" PRId64 " %d\n", v[i], v[i] / -3, part);
		if (out.len != strlen(want) || memcmp(out.data, want, out.len)) {
			diag("got '%.*s' want '%s'", (int)out.len, out.data, want);
			bad++;
		}
	}
	ok(!bad, "integer edge cases print like printf");
	for (i = 0, bad = 0; i < 100000; i++) {
		struct klog_record r;
		int64_t a, b;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a = (int64_t)x >> (x % 63);     /* all magnitudes */
		b = -(int64_t)(x >> 40);
		r = rec(a, b, NULL, NULL);
		out.len = 0;
		klog_fmt_record(f, &out, "t", (int)(int32_t)x, &r);
		snprintf(want, sizeof want, "%" PRId64 " %" PRId64 " %d\n", a, b, (int)(int32_t)x);
		if (out.len != strlen(want) || memcmp(out.data, want, out.len))
			bad++;
	}
	ok(!bad, "100000 random integers print like printf (%d differ)", bad);
	klog_fmt_free(f);
	klog_buf_free(&out);
}

int
main(void)
{
	struct klog_buf hb = {0}, hb2 = {0}, out = {0};
	struct klog_record r;
	struct klog_fmt *f;
	size_t i;

	plan(72);

	/* every token */
	r = rec(42, 1700000000123LL, "user-7", "hello world");
	FMT_IS("%t|%p|%o|%k|%K|%s|%S|%T|%h|%%", "orders", 3, &r,
	    "orders|3|42|user-7|6|hello world|11|1700000000123||%", "every token, no headers");
	FMT_IS("%s\n", "orders", 3, &r, "hello world\n", "the default");
	FMT_IS("", "orders", 3, &r, "", "empty format prints nothing");
	FMT_IS("plain text", "orders", 3, &r, "plain text", "only literal text");
	FMT_IS("%k%k%s%s%t%t", "ab", 0, &r, "user-7user-7hello worldhello worldabab",
	    "repeated tokens");
	FMT_IS("%%%%%p%%", "t", 12, &r, "%%12%", "percent signs around a token");
	FMT_IS("%p", "t", -1, &r, "-1", "negative partition");

	/* escapes in the format */
	FMT_IS("a\\nb\\rc\\td\\\\e\\x41\\x7e\\xfF|", "t", 0, &r, "a\nb\rc\td\\eA~\xff|",
	    "escapes \\n \\r \\t \\\\ \\xNN");
	FMT_IS("%s\\0", "t", 0, &r, "hello world\0", "\\0 is a NUL byte");
	FMT_IS("\\x00%o\\x00", "t", 0, &r, "\00042\0", "\\x00 around a token");

	/* null and empty keys and values */
	r = rec(1, 2, NULL, NULL);
	FMT_IS("[%k][%K][%s][%S]", "t", 0, &r, "[][-1][][-1]", "null key and value");
	r = rec(1, 2, "", "");
	FMT_IS("[%k][%K][%s][%S]", "t", 0, &r, "[][0][][0]", "empty key and value");
	r = rec(1, 2, NULL, "v");
	FMT_IS("%k=%s", "t", 0, &r, "=v", "null key, some value");
	r.value = (const unsigned char *)"a\0b\n";
	r.value_len = 4;
	FMT_IS("%s|%S", "t", 0, &r, "a\0b\n|4", "binary value printed as it is");

	/* headers */
	add_header(&hb, "a", "1", 1);
	add_header(&hb, "b", NULL, -1);
	add_header(&hb, "c", "", 0);
	add_header(&hb, "trace-id", "xyz=1,2", 7);
	r = rec(7, 8, "k", "v");
	set_headers(&r, &hb, 4);
	FMT_IS("%h", "t", 0, &r, "a=1,b=,c=,trace-id=xyz=1,2", "headers: null value prints key=");
	FMT_IS("[%h][%h]", "t", 0, &r, "[a=1,b=,c=,trace-id=xyz=1,2][a=1,b=,c=,trace-id=xyz=1,2]",
	    "headers twice");
	add_header(&hb2, "only", "one", 3);
	set_headers(&r, &hb2, 1);
	FMT_IS("%h|%s", "t", 0, &r, "only=one|v", "a single header");
	r.headers_end = hb2.data + 3;   /* cut inside the value: walk stops */
	FMT_IS("[%h]", "t", 0, &r, "[]", "a malformed header is not printed past its end");
	r.headers = r.headers_end = NULL;
	r.header_count = 0;
	FMT_IS("[%h]", "t", 0, &r, "[]", "no headers (NULL pointers)");

	/* the output grows for big records */
	{
		size_t n = 300000;
		char *big = malloc(n + 1), *want = malloc(2 * n + 16);
		memset(big, 'q', n);
		big[n] = 0;
		r = rec(1, 2, big, big);
		memcpy(want, big, n);
		want[n] = '|';
		memcpy(want + n + 1, big, n);
		fmt_is("%k|%s", "t", 0, &r, want, 2 * n + 1, "300 KB key and value");
		free(big);
		free(want);
	}

	/* several records append */
	f = klog_fmt_compile("%o:%s\\n", err);
	for (i = 0; i < 3; i++) {
		r = rec((int64_t)i, 0, NULL, "x");
		klog_fmt_record(f, &out, "t", 0, &r);
	}
	ok(out.len == 12 && !memcmp(out.data, "0:x\n1:x\n2:x\n", 12), "records append to out");
	klog_fmt_free(f);
	out.len = 0;

	test_integers();

	/* bad formats */
	compile_fails("%x", "unknown format token '%x'");
	compile_fails("abc %s %q", "unknown format token '%q'");
	compile_fails("%", "'%'");
	compile_fails("%s %", "'%'");
	compile_fails("\\q", "unknown escape '\\q'");
	compile_fails("%s\\", "'\\'");
	compile_fails("\\x4", "bad escape '\\x4'");
	compile_fails("\\xg1", "bad escape '\\xg1'");
	compile_fails("%S\\x1z", "bad escape '\\x1z'");
	klog_fmt_free(NULL);
	ok(1, "klog_fmt_free(NULL) is harmless");

	/* JSON */
	r = rec(1, 1700000000000LL, "k", "v");
	json_is("t", 0, &r,
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":1,\"tstype\":\"create\",\"ts\":1700000000000,"
	    "\"broker\":-1,\"headers\":null,\"key\":\"k\",\"payload\":\"v\"}\n",
	    "kcat's shape, no headers");
	r = rec(1, 1700000000000LL, "k", "v");
	r.log_append_time = 1;
	json_is("t", 0, &r,
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":1,\"tstype\":\"logappend\",\"ts\":1700000000000,"
	    "\"broker\":-1,\"headers\":null,\"key\":\"k\",\"payload\":\"v\"}\n",
	    "a LogAppendTime batch's record says \"logappend\"");
	r = rec(99, -1, NULL, NULL);
	json_is("orders", 11, &r,
	    "{\"topic\":\"orders\",\"partition\":11,\"offset\":99,\"tstype\":\"create\",\"ts\":-1,"
	    "\"broker\":-1,\"headers\":null,\"key\":null,\"payload\":null}\n",
	    "null key and payload");
	r = rec(0, 5, "", "");
	json_is("t", 0, &r,
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"tstype\":\"create\",\"ts\":5,"
	    "\"broker\":-1,\"headers\":null,\"key\":\"\",\"payload\":\"\"}\n",
	    "empty key and payload are strings");
	r = rec(2, 3, "k", "v");
	set_headers(&r, &hb, 4);
	json_is("t", 1, &r,
	    "{\"topic\":\"t\",\"partition\":1,\"offset\":2,\"tstype\":\"create\",\"ts\":3,"
	    "\"broker\":-1,\"headers\":[\"a\",\"1\",\"b\",null,\"c\",\"\",\"trace-id\",\"xyz=1,2\"],"
	    "\"key\":\"k\",\"payload\":\"v\"}\n",
	    "headers as a flat array, null header value");
	hb2.len = 0;
	add_header(&hb2, "q\"k", "line\nbreak", 10);
	set_headers(&r, &hb2, 1);
	json_is("t", 1, &r,
	    "{\"topic\":\"t\",\"partition\":1,\"offset\":2,\"tstype\":\"create\",\"ts\":3,"
	    "\"broker\":-1,\"headers\":[\"q\\\"k\",\"line\\nbreak\"],"
	    "\"key\":\"k\",\"payload\":\"v\"}\n",
	    "header strings are escaped");

	/* escaping */
	r = rec(0, 0, "say \"hi\"\\", "a\nb\rc\td\x01\x1f\x7f/");
	json_is("t", 0, &r,
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"tstype\":\"create\",\"ts\":0,"
	    "\"broker\":-1,\"headers\":null,\"key\":\"say \\\"hi\\\"\\\\\","
	    "\"payload\":\"a\\nb\\rc\\td\\u0001\\u001f\x7f/\"}\n",
	    "quotes, backslash, control characters");
	r.value = (const unsigned char *)"\0x\0";
	r.value_len = 3;
	r.key = (const unsigned char *)"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf";
	r.key_len = (int32_t)strlen((const char *)r.key);
	json_is("t\"x", 0, &r,
	    "{\"topic\":\"t\\\"x\",\"partition\":0,\"offset\":0,\"tstype\":\"create\",\"ts\":0,"
	    "\"broker\":-1,\"headers\":null,\"key\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf\","
	    "\"payload\":\"\\u0000x\\u0000\"}\n",
	    "valid UTF-8 passes, NUL bytes escaped, topic escaped");
	{
		static const struct {
			const char *in, *want, *what;
		} u[] = {
			{ "\xff", "\\u00ff", "byte 0xff" },
			{ "a\x80z", "a\\u0080z", "lone continuation byte" },
			{ "\xc3", "\\u00c3", "lead byte at the end" },
			{ "\xc3z", "\\u00c3z", "lead byte without continuation" },
			{ "\xc0\xaf", "\\u00c0\\u00af", "overlong 2-byte" },
			{ "\xe0\x80\xaf", "\\u00e0\\u0080\\u00af", "overlong 3-byte" },
			{ "\xed\xa0\x80", "\\u00ed\\u00a0\\u0080", "surrogate" },
			{ "\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080", "past U+10FFFF" },
			{ "\xf0\x8f\xbf\xbf", "\\u00f0\\u008f\\u00bf\\u00bf", "overlong 4-byte" },
			{ "\xe2\x82z\xe2\x82\xac", "\\u00e2\\u0082z\xe2\x82\xac", "cut sequence then a good one" },
			{ "\xf5\x80\x80\x80", "\\u00f5\\u0080\\u0080\\u0080", "lead byte 0xf5" },
			{ "\xed\x9f\xbf\xf4\x8f\xbf\xbf", "\xed\x9f\xbf\xf4\x8f\xbf\xbf", "U+D7FF and U+10FFFF pass" },
		};
		for (i = 0; i < sizeof u / sizeof u[0]; i++) {
			char want[256];
			r = rec(0, 0, NULL, u[i].in);
			snprintf(want, sizeof want,
			    "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"tstype\":\"create\",\"ts\":0,"
			    "\"broker\":-1,\"headers\":null,\"key\":null,\"payload\":\"%s\"}\n", u[i].want);
			json_is("t", 0, &r, want, u[i].what);
		}
	}
	{
		/* worst case growth: every byte escaped to 6 */
		size_t n = 100000;
		char *v = malloc(n + 1);
		memset(v, 1, n);
		v[n] = 0;
		r = rec(0, 0, v, v);
		out.len = 0;
		ok(klog_json_record(&out, "t", 0, &r) == 0 && out.len > 12 * n,
		    "100 KB of control characters (%zu bytes out)", out.len);
		free(v);
	}

	/* delimiters */
	UNESCAPE_IS("\\n", "\n");
	UNESCAPE_IS("\\t", "\t");
	UNESCAPE_IS("\\r", "\r");
	UNESCAPE_IS("\\0", "\0");
	UNESCAPE_IS("\\x1f", "\x1f");
	UNESCAPE_IS("\\xAb", "\xab");
	UNESCAPE_IS("\\\\", "\\");
	UNESCAPE_IS(",", ",");
	UNESCAPE_IS("::", "::");
	UNESCAPE_IS("--\\n--", "--\n--");
	UNESCAPE_IS("a\\tb\\x00c", "a\tb\0c");
	UNESCAPE_IS("", "");
	UNESCAPE_IS("%s", "%s");
	unescape_fails("\\q", "unknown escape '\\q'");
	unescape_fails("ab\\", "'\\'");
	unescape_fails("\\x1", "bad escape '\\x1'");
	unescape_fails("\\xg0", "bad escape '\\xg0'");
	unescape_fails("ok\\n\\z", "unknown escape '\\z'");

	klog_buf_free(&hb);
	klog_buf_free(&hb2);
	klog_buf_free(&out);
	return done_testing();
}
