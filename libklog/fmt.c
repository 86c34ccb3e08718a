/* klog - kconsume output: kcat format strings, JSON lines, delimiters. MIT licence. */

/*
 * Format strings (kconsume -f), kcat's vocabulary:
 *
 *   %t topic            %p partition          %o offset
 *   %k key              %K key length         %s value
 *   %S value length     %T timestamp (ms)     %h headers
 *   %% a percent sign
 *
 * Escapes: \n \r \t \\ \0 and \xNN (exactly two hex digits).  Anything
 * else after '%' or '\' is an error at compile time, so a typo stops
 * kconsume before it reads a record.  A null key or value prints as
 * nothing; %K and %S print -1 for null.  %h prints the headers as
 * key=value joined by ',' ("a=1,b=2"); a header whose value is null
 * prints as "key=", the same as an empty value.  Bytes are printed as
 * they are, never escaped.
 *
 * A format is compiled once into a token array: literal runs (all
 * adjacent literal text and escapes merged into one memcpy) and fields.
 * Formatting a record reserves a bound on its output size once, then
 * writes without further checks; integers go through a two-digits-at-a-
 * time decimal routine, never printf.  The bound for %h holds because
 * each header's raw encoding (two varints of at least one byte each, key,
 * value) is never shorter than its "key=value," text.
 *
 * JSON lines (kconsume -J), kcat's -J shape, one object and '\n':
 *
 *   {"topic":"t","partition":0,"offset":1,"tstype":"create",
 *    "ts":1700000000000,"broker":-1,"headers":["k1","v1","k2",null],
 *    "key":"k","payload":"v"}
 *
 * "headers" is null when the record has none, a null header value is
 * null in the array, a null key or payload is null.  Strings are JSON-
 * escaped: \" \\ \n \r \t, other control characters as \u00XX; valid
 * UTF-8 passes through; a byte that is not part of valid UTF-8
 * (including overlong forms, surrogates and code points past U+10FFFF)
 * becomes \u00XX of that byte.  "tstype" is the batch's timestamp type,
 * "create" or "logappend" (its LogAppendTime attribute bit).  "broker" is
 * always -1.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

enum {
	T_LIT, T_TOPIC, T_PART, T_OFFSET, T_KEY, T_KEYLEN, T_VALUE, T_VALUELEN,
	T_TS, T_HEADERS,
};

struct tok {
	int kind;
	size_t len;                     /* T_LIT */
	const unsigned char *lit;
};

struct klog_fmt {
	struct tok *t;
	size_t n;
	unsigned char *lit;             /* every literal byte, back to back */
	size_t fixed;                   /* literal bytes + 20 per integer */
	size_t ntopic, nkey, nvalue, nheaders;
};

#define I64_MAX_CHARS 20                /* "-9223372036854775808" */

/* --- escapes ------------------------------------------------------------ */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* *sp is just past a backslash: decode one escape into *c and advance */
static int
unescape1(const char **sp, unsigned char *c, char *err)
{
	const char *s = *sp;
	int hi, lo;

	switch (*s) {
	case 'n': *c = '\n'; break;
	case 'r': *c = '\r'; break;
	case 't': *c = '\t'; break;
	case '0': *c = 0; break;
	case '\\': *c = '\\'; break;
	case 'x':
		if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
			return kerr(err, "bad escape '\\%.3s': \\x needs two hex digits", s);
		*c = (unsigned char)(hi << 4 | lo);
		s += 2;
		break;
	case 0:
		return kerr(err, "lone '\\' at the end");
	default:
		return kerr(err, "unknown escape '\\%c'", *s);
	}
	*sp = s + 1;
	return 0;
}

int
klog_unescape(const char *in, struct klog_buf *out, char *err)
{
	size_t start = out->len;
	const char *s = in;
	unsigned char c;

	while (*s) {
		const char *run = s;
		while (*s && *s != '\\')
			s++;
		if (klog_buf_append(out, run, (size_t)(s - run)) < 0)
			goto nomem;
		if (!*s)
			break;
		s++;
		if (unescape1(&s, &c, err) < 0) {
			out->len = start;
			return -1;
		}
		if (klog_buf_append(out, &c, 1) < 0)
			goto nomem;
	}
	return 0;
nomem:
	out->len = start;
	return kerr_sys(err, "cannot unescape '%s'", in);
}

/* --- compiling a format ------------------------------------------------- */

static int
push(struct klog_fmt *f, size_t *cap, int kind)
{
	struct tok *t;

	if (f->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		if (!(t = realloc(f->t, ncap * sizeof *t)))
			return -1;
		f->t = t;
		*cap = ncap;
	}
	f->t[f->n].kind = kind;
	f->t[f->n].len = 0;
	f->t[f->n].lit = NULL;
	f->n++;
	return 0;
}

struct klog_fmt *
klog_fmt_compile(const char *spec, char *err)
{
	struct klog_fmt *f;
	struct klog_buf lit = {0};
	size_t cap = 0, i, off;
	const char *s = spec;

	if (!(f = calloc(1, sizeof *f))) {
		kerr_sys(err, "cannot compile format");
		return NULL;
	}
	while (*s) {
		unsigned char c;
		int kind;

		if (*s != '\\' && *s != '%') {
			c = (unsigned char)*s++;
		} else if (*s == '\\') {
			s++;
			if (unescape1(&s, &c, err) < 0)
				goto fail;
		} else if (s[1] == '%') {
			c = '%';
			s += 2;
		} else {
			switch (s[1]) {
			case 't': kind = T_TOPIC; f->ntopic++; break;
			case 'p': kind = T_PART; break;
			case 'o': kind = T_OFFSET; break;
			case 'k': kind = T_KEY; f->nkey++; break;
			case 'K': kind = T_KEYLEN; break;
			case 's': kind = T_VALUE; f->nvalue++; break;
			case 'S': kind = T_VALUELEN; break;
			case 'T': kind = T_TS; break;
			case 'h': kind = T_HEADERS; f->nheaders++; break;
			case 0:
				kerr(err, "lone '%%' at the end of the format");
				goto fail;
			default:
				kerr(err, "unknown format token '%%%c'", s[1]);
				goto fail;
			}
			if (kind != T_TOPIC && kind != T_KEY && kind != T_VALUE && kind != T_HEADERS)
				f->fixed += I64_MAX_CHARS;
			if (push(f, &cap, kind) < 0)
				goto nomem;
			s += 2;
			continue;
		}
		/* a literal byte: extend the current run or start one */
		if (!f->n || f->t[f->n - 1].kind != T_LIT)
			if (push(f, &cap, T_LIT) < 0)
				goto nomem;
		if (klog_buf_append(&lit, &c, 1) < 0)
			goto nomem;
		f->t[f->n - 1].len++;
		f->fixed++;
	}
	/* literal runs point into one block, in order */
	f->lit = lit.data;
	for (i = 0, off = 0; i < f->n; i++)
		if (f->t[i].kind == T_LIT) {
			f->t[i].lit = f->lit + off;
			off += f->t[i].len;
		}
	return f;
nomem:
	kerr_sys(err, "cannot compile format");
fail:
	klog_buf_free(&lit);
	free(f->t);
	free(f);
	return NULL;
}

void
klog_fmt_free(struct klog_fmt *f)
{
	if (!f)
		return;
	free(f->t);
	free(f->lit);
	free(f);
}

/* --- the hot path -------------------------------------------------------- */

static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* decimal v at p, at most 20 bytes; returns the end */
static inline unsigned char *
put_i64(unsigned char *p, int64_t v)
{
	unsigned char tmp[I64_MAX_CHARS], *q = tmp + sizeof tmp;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n;

	while (u >= 100) {
		unsigned i = (unsigned)(u % 100) * 2;
		u /= 100;
		q -= 2;
		q[0] = (unsigned char)digits2[i];
		q[1] = (unsigned char)digits2[i + 1];
	}
	if (u >= 10) {
		q -= 2;
		q[0] = (unsigned char)digits2[u * 2];
		q[1] = (unsigned char)digits2[u * 2 + 1];
	} else
		*--q = (unsigned char)('0' + u);
	if (v < 0)
		*p++ = '-';
	n = (size_t)(tmp + sizeof tmp - q);
	memcpy(p, q, n);
	return p + n;
}

static inline unsigned char *
put_bytes(unsigned char *p, const unsigned char *s, int32_t n)
{
	if (n > 0) {
		memcpy(p, s, (size_t)n);
		p += n;
	}
	return p;
}

int
klog_fmt_record(const struct klog_fmt *f, struct klog_buf *out,
    const char *topic, int partition, const struct klog_record *r)
{
	size_t need = f->fixed, tlen = 0, i;
	const unsigned char *hp;
	struct klog_header h;
	unsigned char *p;
	int first;

	if (!topic)
		topic = "";
	if (f->ntopic)
		need += (tlen = strlen(topic)) * f->ntopic;
	if (f->nkey && r->key_len > 0)
		need += (size_t)r->key_len * f->nkey;
	if (f->nvalue && r->value_len > 0)
		need += (size_t)r->value_len * f->nvalue;
	if (f->nheaders && r->headers && r->headers_end > r->headers)
		need += (size_t)(r->headers_end - r->headers) * f->nheaders;
	if (klog_buf_reserve(out, need) < 0)
		return -1;
	p = out->data + out->len;
	for (i = 0; i < f->n; i++) {
		const struct tok *t = &f->t[i];
		switch (t->kind) {
		case T_LIT:
			memcpy(p, t->lit, t->len);
			p += t->len;
			break;
		case T_TOPIC:
			memcpy(p, topic, tlen);
			p += tlen;
			break;
		case T_PART:
			p = put_i64(p, partition);
			break;
		case T_OFFSET:
			p = put_i64(p, r->offset);
			break;
		case T_KEY:
			p = put_bytes(p, r->key, r->key_len);
			break;
		case T_KEYLEN:
			p = put_i64(p, r->key_len < 0 ? -1 : r->key_len);
			break;
		case T_VALUE:
			p = put_bytes(p, r->value, r->value_len);
			break;
		case T_VALUELEN:
			p = put_i64(p, r->value_len < 0 ? -1 : r->value_len);
			break;
		case T_TS:
			p = put_i64(p, r->timestamp);
			break;
		case T_HEADERS:
			hp = r->headers;
			first = 1;
			while (hp && klog_header_next(&hp, r->headers_end, &h)) {
				if (!first)
					*p++ = ',';
				first = 0;
				p = put_bytes(p, h.key, h.key_len);
				*p++ = '=';
				p = put_bytes(p, h.value, h.value_len);
			}
			break;
		}
	}
	out->len = (size_t)(p - out->data);
	return 0;
}

/* --- JSON ---------------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

/* length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 if invalid */
static inline size_t
utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned c = s[0];
	size_t avail = (size_t)(end - s);
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && s[1] >= 0x80 && s[1] <= 0xbf ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;              /* overlong */
		else if (c == 0xed)
			hi = 0x9f;              /* surrogates */
		return avail >= 3 && s[1] >= lo && s[1] <= hi &&
		    s[2] >= 0x80 && s[2] <= 0xbf ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;              /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;              /* past U+10FFFF */
		return avail >= 4 && s[1] >= lo && s[1] <= hi &&
		    s[2] >= 0x80 && s[2] <= 0xbf && s[3] >= 0x80 && s[3] <= 0xbf ? 4 : 0;
	}
	return 0;
}

/* a quoted JSON string at p; at most 6 * n + 2 bytes */
static unsigned char *
json_str(unsigned char *p, const unsigned char *s, size_t n)
{
	const unsigned char *end = s + n;

	*p++ = '"';
	while (s < end) {
		const unsigned char *run = s;
		unsigned c;
		size_t len;

		while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
			s++;
		if (s > run) {
			memcpy(p, run, (size_t)(s - run));
			p += s - run;
			if (s == end)
				break;
		}
		c = *s;
		if (c >= 0x80 && (len = utf8_len(s, end))) {
			memcpy(p, s, len);
			p += len;
			s += len;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			/* control character, DEL is fine; or a stray byte */
			p[0] = 'u';
			p[1] = '0';
			p[2] = '0';
			p[3] = (unsigned char)hexdig[c >> 4];
			p[4] = (unsigned char)hexdig[c & 15];
			p += 5;
		}
		s++;
	}
	*p++ = '"';
	return p;
}

static inline unsigned char *
put_lit(unsigned char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}
#define PUT(p, s) put_lit((p), (s), sizeof(s) - 1)

int
klog_json_record(struct klog_buf *out, const char *topic, int partition,
    const struct klog_record *r)
{
	size_t tlen, need;
	const unsigned char *hp = r->headers;
	struct klog_header h;
	unsigned char *p;
	int first;

	if (!topic)
		topic = "";
	tlen = strlen(topic);
	/* 6 per escaped byte; a header's raw bytes bound its quoted text */
	need = 256 + 6 * tlen;
	if (r->key_len > 0)
		need += 6 * (size_t)r->key_len;
	if (r->value_len > 0)
		need += 6 * (size_t)r->value_len;
	if (hp && r->headers_end > hp)
		need += 8 * (size_t)(r->headers_end - hp);
	if (klog_buf_reserve(out, need) < 0)
		return -1;
	p = out->data + out->len;
	p = PUT(p, "{\"topic\":");
	p = json_str(p, (const unsigned char *)topic, tlen);
	p = PUT(p, ",\"partition\":");
	p = put_i64(p, partition);
	p = PUT(p, ",\"offset\":");
	p = put_i64(p, r->offset);
	if (r->log_append_time)
		p = PUT(p, ",\"tstype\":\"logappend\",\"ts\":");
	else
		p = PUT(p, ",\"tstype\":\"create\",\"ts\":");
	p = put_i64(p, r->timestamp);
	p = PUT(p, ",\"broker\":-1,\"headers\":");
	first = 1;
	while (hp && klog_header_next(&hp, r->headers_end, &h)) {
		*p++ = first ? '[' : ',';
		first = 0;
		p = json_str(p, h.key, (size_t)h.key_len);
		*p++ = ',';
		if (h.value_len < 0)
			p = PUT(p, "null");
		else
			p = json_str(p, h.value, (size_t)h.value_len);
	}
	if (first)
		p = PUT(p, "null");
	else
		*p++ = ']';
	p = PUT(p, ",\"key\":");
	if (r->key_len < 0)
		p = PUT(p, "null");
	else
		p = json_str(p, r->key, (size_t)r->key_len);
	p = PUT(p, ",\"payload\":");
	if (r->value_len < 0)
		p = PUT(p, "null");
	else
		p = json_str(p, r->value, (size_t)r->value_len);
	p = PUT(p, "}\n");
	out->len = (size_t)(p - out->data);
	return 0;
}
