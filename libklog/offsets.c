/* klog - Kafka's records of group state in __consumer_offsets. MIT licence. */
/*
 * Kafka keeps committed offsets and group metadata as ordinary records of
 * the compacted topic __consumer_offsets (50 partitions).  A group lives
 * in partition abs(h) % 50, h being Java's String.hashCode of the group
 * id (h = 31 * h + c over its UTF-16 code units, in int32 arithmetic) and
 * abs Kafka's Utils.abs (Integer.MIN_VALUE maps to 0).
 *
 * Key and value are big-endian structs whose first int16 is the schema
 * version.  STRING is an int16 length and that many bytes (NSTRING, a
 * nullable one, uses length -1 for null); BYTES an int32 length and
 * bytes; ARRAY an int32 count (-1 null, read as empty) and the items.
 * Key (the version tells the record's kind):
 *
 *   0, 1   offset commit   group STRING, topic STRING, partition INT32
 *   2      group metadata  group STRING
 *   3+     KIP-848's consumer-group records: KLOG_OREC_OTHER, not decoded
 *
 * Offset commit value:
 *
 *   0   offset INT64, metadata STRING, commitTimestamp INT64
 *   1   offset INT64, metadata STRING, commitTimestamp INT64,
 *       expireTimestamp INT64
 *   2   offset INT64, metadata STRING, commitTimestamp INT64
 *   3   offset INT64, leaderEpoch INT32 (-1 unknown), metadata STRING,
 *       commitTimestamp INT64
 *   4   as 3, flexible: metadata a COMPACT_STRING (unsigned varint
 *       length + 1, then bytes) and tagged fields after the last one
 *       (unsigned varint count, then per field tag, size, bytes)
 *
 * Group metadata value (versions 0-3):
 *
 *   protocolType STRING, generation INT32, protocol NSTRING,
 *   leader NSTRING, [2+: currentStateTimestamp INT64],
 *   members ARRAY of { memberId STRING, [3+: groupInstanceId NSTRING],
 *     clientId STRING, clientHost STRING, [1+: rebalanceTimeout INT32],
 *     sessionTimeout INT32, subscription BYTES, assignment BYTES }
 *
 * A null value is a tombstone: it deletes the key (an offset commit
 * forgets the partition's offset; group metadata deletes the group).
 * klog writes offset-commit key 1 / value 3 and group-metadata key 2 /
 * value 3, as Kafka does.
 *
 * Decoding trusts nothing: a record that passed its batch's CRC may still
 * be hostile.  Every length is checked against the bytes left, a
 * non-nullable string or bytes field may not be null, strings may not
 * hold NUL bytes (they become C strings), and no byte may follow the last
 * field.  Any of these is EBADMSG with a message naming the field.
 *
 * Text form (klog_orec_format, kdump), space-separated key=value, string
 * bytes outside 0x21-0x7e and '\' shown as \xNN / \\, a null string as
 * "null", one line:
 *
 *   commit group=G topic=T partition=P offset=N leader_epoch=E metadata=M
 *       commit_ts=MS expire_ts=MS key_version=1 value_version=3
 *   commit group=G topic=T partition=P tombstone key_version=1
 *   group group=G protocol_type=consumer generation=N protocol=range
 *       leader=M state_ts=MS members=N key_version=2 value_version=3
 *       [ member=ID instance_id=I client_id=C client_host=H
 *         rebalance_timeout=MS session_timeout=MS subscription_bytes=N
 *         assignment_bytes=N ]...
 *   group group=G tombstone key_version=2
 *   other key_version=N
 *
 * JSON: one object with "type" ("commit", "group", "other") and the same
 * names as keys; a tombstone has "tombstone":true and no value fields;
 * members are an array of objects whose subscription and assignment are
 * hex strings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Java's String.hashCode over the UTF-16 code units of the group id.
 * Group ids are UTF-8: a code point above U+FFFF counts as its two
 * surrogates; a byte that does not start a valid sequence counts as
 * U+FFFD, as Java's decoder replaces it.
 */
int
klog_offsets_partition(const char *group)
{
	const unsigned char *s = (const unsigned char *)group;
	uint32_t h = 0, cp;
	int32_t v;
	int n, i;

	while (*s) {
		unsigned c = *s;
		if (c < 0x80) {
			cp = c;
			n = 1;
		} else if (c >= 0xc2 && c <= 0xdf) {
			cp = c & 0x1f;
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			cp = c & 0x0f;
			n = 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cp = c & 0x07;
			n = 4;
		} else {
			cp = 0xfffd;
			n = 0;
		}
		for (i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				break;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (n && (i < n || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) {
			cp = 0xfffd;
			n = 0;
		}
		s += n ? n : 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			h = 31 * h + (0xd800 + (cp >> 10));
			h = 31 * h + (0xdc00 + (cp & 0x3ff));
		} else
			h = 31 * h + cp;
	}
	v = (int32_t)h;
	if (v == INT32_MIN)
		return 0;
	return (v < 0 ? -v : v) % KLOG_OFFSETS_PARTITIONS;
}

/* a cursor over a key or a value; `what` names it in messages */
struct rd {
	const unsigned char *p, *end;
	char what[48];
	char *err;
};

static int rd_fail(struct rd *r, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
rd_fail(struct rd *r, const char *field, const char *fmt, ...)
{
	char m[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	errno = EBADMSG;
	return kerr(r->err, "__consumer_offsets %s: field '%s': %s", r->what, field, m);
}

static int
rd_need(struct rd *r, const char *field, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return rd_fail(r, field, "truncated (%zu bytes needed, %td left)", n,
		    r->end - r->p);
	return 0;
}

static int
rd_i16(struct rd *r, const char *field, int16_t *v)
{
	if (rd_need(r, field, 2) < 0)
		return -1;
	*v = (int16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return 0;
}

static int
rd_i32(struct rd *r, const char *field, int32_t *v)
{
	if (rd_need(r, field, 4) < 0)
		return -1;
	*v = (int32_t)((uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3]);
	r->p += 4;
	return 0;
}

static int
rd_i64(struct rd *r, const char *field, int64_t *v)
{
	uint64_t x = 0;
	int i;

	if (rd_need(r, field, 8) < 0)
		return -1;
	for (i = 0; i < 8; i++)
		x = x << 8 | r->p[i];
	*v = (int64_t)x;
	r->p += 8;
	return 0;
}

/* n bytes at r->p into a new C string */
static int
rd_copy(struct rd *r, const char *field, size_t n, char **out)
{
	if ((size_t)(r->end - r->p) < n)
		return rd_fail(r, field, "length %zu past the end (%td bytes left)", n,
		    r->end - r->p);
	if (memchr(r->p, 0, n))
		return rd_fail(r, field, "NUL byte in a string of %zu bytes", n);
	if (!(*out = malloc(n + 1)))
		return kerr_sys(r->err, "__consumer_offsets %s: field '%s'", r->what, field);
	memcpy(*out, r->p, n);
	(*out)[n] = 0;
	r->p += n;
	return 0;
}

static int
rd_str(struct rd *r, const char *field, int nullable, char **out)
{
	int16_t len;

	*out = NULL;
	if (rd_i16(r, field, &len) < 0)
		return -1;
	if (len == -1 && nullable)
		return 0;
	if (len < 0)
		return len == -1 ? rd_fail(r, field, "null, not allowed here") :
		    rd_fail(r, field, "negative length %d", len);
	return rd_copy(r, field, (size_t)len, out);
}

static int
rd_bytes(struct rd *r, const char *field, unsigned char **out, int32_t *outlen)
{
	int32_t len;

	*out = NULL;
	*outlen = 0;
	if (rd_i32(r, field, &len) < 0)
		return -1;
	if (len < 0)
		return len == -1 ? rd_fail(r, field, "null, not allowed here") :
		    rd_fail(r, field, "negative length %d", len);
	if (r->end - r->p < len)
		return rd_fail(r, field, "length %d past the end (%td bytes left)", len,
		    r->end - r->p);
	if (!(*out = malloc(len ? (size_t)len : 1)))
		return kerr_sys(r->err, "__consumer_offsets %s: field '%s'", r->what, field);
	memcpy(*out, r->p, (size_t)len);
	*outlen = len;
	r->p += len;
	return 0;
}

static int
rd_uvarint(struct rd *r, const char *field, uint64_t *v)
{
	size_t n = klog_uvarint_get(r->p, r->end, v);

	if (!n)
		return rd_fail(r, field, "bad or truncated varint");
	r->p += n;
	return 0;
}

/* flexible versions: COMPACT_STRING, not null here */
static int
rd_cstr(struct rd *r, const char *field, char **out)
{
	uint64_t n;

	*out = NULL;
	if (rd_uvarint(r, field, &n) < 0)
		return -1;
	if (n == 0)
		return rd_fail(r, field, "null, not allowed here");
	if (n - 1 > (uint64_t)(r->end - r->p))
		return rd_fail(r, field, "length %" PRIu64 " past the end (%td bytes left)",
		    n - 1, r->end - r->p);
	return rd_copy(r, field, (size_t)(n - 1), out);
}

static int
rd_tagged(struct rd *r)
{
	uint64_t count, tag, size, i;

	if (rd_uvarint(r, "tagged fields", &count) < 0)
		return -1;
	for (i = 0; i < count; i++) {
		if (rd_uvarint(r, "tagged fields", &tag) < 0 ||
		    rd_uvarint(r, "tagged fields", &size) < 0)
			return -1;
		if (size > (uint64_t)(r->end - r->p))
			return rd_fail(r, "tagged fields", "tag %" PRIu64 " of %" PRIu64
			    " bytes past the end (%td bytes left)", tag, size, r->end - r->p);
		r->p += size;
	}
	return 0;
}

static int
rd_end(struct rd *r)
{
	if (r->p != r->end)
		return rd_fail(r, "end", "%td bytes after the last field", r->end - r->p);
	return 0;
}

static void
member_free(struct klog_omember *m)
{
	free(m->member_id);
	free(m->instance_id);
	free(m->client_id);
	free(m->client_host);
	free(m->subscription);
	free(m->assignment);
}

void
klog_orec_free(struct klog_orec *r)
{
	int i;

	if (!r)
		return;
	free(r->group);
	free(r->topic);
	free(r->metadata);
	free(r->protocol_type);
	free(r->protocol);
	free(r->leader);
	for (i = 0; i < r->nmembers; i++)
		member_free(&r->members[i]);
	free(r->members);
	memset(r, 0, sizeof *r);
}

static int
decode_commit_value(struct rd *v, struct klog_orec *r)
{
	int16_t ver = (int16_t)r->value_version;

	if (rd_i64(v, "offset", &r->offset) < 0)
		return -1;
	if (ver >= 3 && rd_i32(v, "leaderEpoch", &r->leader_epoch) < 0)
		return -1;
	if (ver == 4) {
		if (rd_cstr(v, "metadata", &r->metadata) < 0)
			return -1;
	} else if (rd_str(v, "metadata", 0, &r->metadata) < 0)
		return -1;
	if (rd_i64(v, "commitTimestamp", &r->commit_ts) < 0)
		return -1;
	if (ver == 1 && rd_i64(v, "expireTimestamp", &r->expire_ts) < 0)
		return -1;
	if (ver == 4 && rd_tagged(v) < 0)
		return -1;
	return rd_end(v);
}

/* the smallest member of each version, to bound a hostile count */
static size_t
member_min(int ver)
{
	return 2 + (ver >= 3 ? 2 : 0) + 2 + 2 + (ver >= 1 ? 4 : 0) + 4 + 4 + 4;
}

static int
decode_group_value(struct rd *v, struct klog_orec *r)
{
	int ver = r->value_version;
	int32_t count, i;

	if (rd_str(v, "protocolType", 0, &r->protocol_type) < 0 ||
	    rd_i32(v, "generation", &r->generation) < 0 ||
	    rd_str(v, "protocol", 1, &r->protocol) < 0 ||
	    rd_str(v, "leader", 1, &r->leader) < 0)
		return -1;
	if (ver >= 2 && rd_i64(v, "currentStateTimestamp", &r->state_ts) < 0)
		return -1;
	if (rd_i32(v, "members", &count) < 0)
		return -1;
	if (count == -1)
		count = 0;
	if (count < 0)
		return rd_fail(v, "members", "negative count %d", count);
	if ((size_t)count > (size_t)(v->end - v->p) / member_min(ver))
		return rd_fail(v, "members", "count %d past the end (%td bytes left)", count,
		    v->end - v->p);
	if (count && !(r->members = calloc((size_t)count, sizeof *r->members)))
		return kerr_sys(v->err, "__consumer_offsets %s: field 'members'", v->what);
	for (i = 0; i < count; i++) {
		struct klog_omember *m = &r->members[i];
		r->nmembers = i + 1;
		m->rebalance_timeout = -1;
		if (rd_str(v, "memberId", 0, &m->member_id) < 0 ||
		    (ver >= 3 && rd_str(v, "groupInstanceId", 1, &m->instance_id) < 0) ||
		    rd_str(v, "clientId", 0, &m->client_id) < 0 ||
		    rd_str(v, "clientHost", 0, &m->client_host) < 0 ||
		    (ver >= 1 && rd_i32(v, "rebalanceTimeout", &m->rebalance_timeout) < 0) ||
		    rd_i32(v, "sessionTimeout", &m->session_timeout) < 0 ||
		    rd_bytes(v, "subscription", &m->subscription, &m->subscription_len) < 0 ||
		    rd_bytes(v, "assignment", &m->assignment, &m->assignment_len) < 0)
			return -1;
	}
	return rd_end(v);
}

int
klog_orec_decode(const void *key, int32_t klen, const void *val, int32_t vlen,
    struct klog_orec *r, char *err)
{
	struct rd k = { .err = err }, v = { .err = err };
	int16_t kv, vv;

	memset(r, 0, sizeof *r);
	r->partition = -1;
	r->offset = -1;
	r->leader_epoch = -1;
	r->commit_ts = r->expire_ts = r->state_ts = -1;
	r->generation = -1;
	r->value_version = -1;
	if (!key || klen < 0) {
		errno = EBADMSG;
		return kerr(err, "__consumer_offsets record: null key");
	}
	k.p = key;
	k.end = k.p + klen;
	snprintf(k.what, sizeof k.what, "key");
	if (rd_i16(&k, "version", &kv) < 0)
		goto fail;
	r->key_version = kv;
	if (kv < 0) {
		rd_fail(&k, "version", "negative version %d", kv);
		goto fail;
	}
	if (kv >= 3) {
		/* KIP-848's records: not ours to read */
		r->kind = KLOG_OREC_OTHER;
		return 0;
	}
	r->kind = kv <= 1 ? KLOG_OREC_COMMIT : KLOG_OREC_GROUP;
	snprintf(k.what, sizeof k.what, "%s key v%d",
	    kv <= 1 ? "offset commit" : "group metadata", kv);
	if (rd_str(&k, "group", 0, &r->group) < 0)
		goto fail;
	if (kv <= 1 && (rd_str(&k, "topic", 0, &r->topic) < 0 ||
	    rd_i32(&k, "partition", &r->partition) < 0))
		goto fail;
	if (rd_end(&k) < 0)
		goto fail;
	if (!val || vlen < 0)
		return 0;               /* tombstone */
	v.p = val;
	v.end = v.p + vlen;
	snprintf(v.what, sizeof v.what, "%s value",
	    r->kind == KLOG_OREC_COMMIT ? "offset commit" : "group metadata");
	if (rd_i16(&v, "version", &vv) < 0)
		goto fail;
	if (vv < 0 || vv > (r->kind == KLOG_OREC_COMMIT ? 4 : 3)) {
		rd_fail(&v, "version", "version %d unknown", vv);
		goto fail;
	}
	r->value_version = vv;
	snprintf(v.what, sizeof v.what, "%s value v%d",
	    r->kind == KLOG_OREC_COMMIT ? "offset commit" : "group metadata", vv);
	if (r->kind == KLOG_OREC_COMMIT ? decode_commit_value(&v, r) : decode_group_value(&v, r))
		goto fail;
	return 0;
fail:
	{
		int e = errno;
		klog_orec_free(r);
		errno = e;
	}
	return -1;
}

/* encoding: big-endian into a klog_buf */
static int
put_i16(struct klog_buf *b, int16_t v)
{
	unsigned char p[2] = { (unsigned char)((uint16_t)v >> 8), (unsigned char)v };

	return klog_buf_append(b, p, 2);
}

static int
put_i32(struct klog_buf *b, int32_t v)
{
	uint32_t x = (uint32_t)v;
	unsigned char p[4] = { (unsigned char)(x >> 24), (unsigned char)(x >> 16),
	    (unsigned char)(x >> 8), (unsigned char)x };

	return klog_buf_append(b, p, 4);
}

static int
put_i64(struct klog_buf *b, int64_t v)
{
	unsigned char p[8];
	uint64_t x = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--, x >>= 8)
		p[i] = (unsigned char)x;
	return klog_buf_append(b, p, 8);
}

/* s NULL: null (nullable fields; else the empty string) */
static int
put_str(struct klog_buf *b, const char *s, int nullable, const char *field, char *err)
{
	size_t n;

	if (!s) {
		if (nullable)
			return put_i16(b, -1);
		s = "";
	}
	if ((n = strlen(s)) > INT16_MAX) {
		errno = EINVAL;
		return kerr(err, "__consumer_offsets: field '%s' too long (%zu bytes, max %d)",
		    field, n, INT16_MAX);
	}
	if (put_i16(b, (int16_t)n) < 0 || klog_buf_append(b, s, n) < 0)
		return kerr_sys(err, "__consumer_offsets: field '%s'", field);
	return 0;
}

static int
put_bytes(struct klog_buf *b, const unsigned char *p, int32_t n, const char *field, char *err)
{
	if (n < 0 || (n > 0 && !p)) {
		errno = EINVAL;
		return kerr(err, "__consumer_offsets: field '%s': bad length %d", field, n);
	}
	if (put_i32(b, n) < 0 || (n && klog_buf_append(b, p, (size_t)n) < 0))
		return kerr_sys(err, "__consumer_offsets: field '%s'", field);
	return 0;
}

int
klog_orec_encode(const struct klog_orec *r, struct klog_buf *key, struct klog_buf *val,
    char *err)
{
	size_t klen0 = key->len, vlen0 = val->len;
	int i;

	if ((r->kind != KLOG_OREC_COMMIT && r->kind != KLOG_OREC_GROUP) || !r->group ||
	    (r->kind == KLOG_OREC_COMMIT && !r->topic)) {
		errno = EINVAL;
		return kerr(err, "__consumer_offsets: cannot encode a record of kind %d%s", r->kind,
		    r->group ? "" : " without a group");
	}
	if (r->kind == KLOG_OREC_COMMIT) {
		if (put_i16(key, 1) < 0 || put_str(key, r->group, 0, "group", err) < 0 ||
		    put_str(key, r->topic, 0, "topic", err) < 0 || put_i32(key, r->partition) < 0)
			goto fail;
		if (r->value_version == -1)
			return 0;
		if (put_i16(val, 3) < 0 || put_i64(val, r->offset) < 0 ||
		    put_i32(val, r->leader_epoch) < 0 ||
		    put_str(val, r->metadata, 0, "metadata", err) < 0 ||
		    put_i64(val, r->commit_ts) < 0)
			goto fail;
		return 0;
	}
	if (put_i16(key, 2) < 0 || put_str(key, r->group, 0, "group", err) < 0)
		goto fail;
	if (r->value_version == -1)
		return 0;
	if (r->nmembers < 0 || (r->nmembers && !r->members)) {
		errno = EINVAL;
		kerr(err, "__consumer_offsets: group '%s': bad member count %d", r->group,
		    r->nmembers);
		goto fail;
	}
	if (put_i16(val, 3) < 0 || put_str(val, r->protocol_type, 0, "protocolType", err) < 0 ||
	    put_i32(val, r->generation) < 0 || put_str(val, r->protocol, 1, "protocol", err) < 0 ||
	    put_str(val, r->leader, 1, "leader", err) < 0 || put_i64(val, r->state_ts) < 0 ||
	    put_i32(val, r->nmembers) < 0)
		goto fail;
	for (i = 0; i < r->nmembers; i++) {
		const struct klog_omember *m = &r->members[i];
		if (put_str(val, m->member_id, 0, "memberId", err) < 0 ||
		    put_str(val, m->instance_id, 1, "groupInstanceId", err) < 0 ||
		    put_str(val, m->client_id, 0, "clientId", err) < 0 ||
		    put_str(val, m->client_host, 0, "clientHost", err) < 0 ||
		    put_i32(val, m->rebalance_timeout) < 0 || put_i32(val, m->session_timeout) < 0 ||
		    put_bytes(val, m->subscription, m->subscription_len, "subscription", err) < 0 ||
		    put_bytes(val, m->assignment, m->assignment_len, "assignment", err) < 0)
			goto fail;
	}
	return 0;
fail:
	if (errno == ENOMEM)
		kerr_sys(err, "__consumer_offsets: cannot encode");
	key->len = klen0;
	val->len = vlen0;
	return -1;
}

/* text: a string as one token */
static void
fmt_str(struct klog_buf *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		klog_buf_append(o, "null", 4);
		return;
	}
	for (; *p; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\')
			klog_buf_append(o, p, 1);
		else if (*p == '\\')
			klog_buf_append(o, "\\\\", 2);
		else {
			char e[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 15] };
			klog_buf_append(o, e, 4);
		}
	}
}

/* bytes of a valid UTF-8 sequence at s, 0 if none */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		return s[1] >= 0x80 && s[1] <= 0xbf ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		return s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xbf ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		return s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xbf &&
		    s[3] >= 0x80 && s[3] <= 0xbf ? 4 : 0;
	}
	return 0;
}

/* JSON: a quoted string (null: null); stray bytes as \u00NN */
static void
json_str(struct klog_buf *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (!s) {
		klog_buf_append(o, "null", 4);
		return;
	}
	klog_buf_append(o, "\"", 1);
	while (*p) {
		if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
			klog_buf_append(o, p++, 1);
			continue;
		}
		if (*p >= 0x80 && (n = utf8_len(p))) {
			klog_buf_append(o, p, n);
			p += n;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };
			klog_buf_append(o, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
			klog_buf_append(o, e, 6);
		}
		p++;
	}
	klog_buf_append(o, "\"", 1);
}

static void
json_hex(struct klog_buf *o, const unsigned char *p, int32_t n)
{
	static const char hex[] = "0123456789abcdef";
	int32_t i;

	klog_buf_append(o, "\"", 1);
	for (i = 0; i < n; i++) {
		char e[2] = { hex[p[i] >> 4], hex[p[i] & 15] };
		klog_buf_append(o, e, 2);
	}
	klog_buf_append(o, "\"", 1);
}

static void
fmt_text(const struct klog_orec *r, struct klog_buf *o)
{
	int i;

	if (r->kind == KLOG_OREC_OTHER) {
		klog_buf_printf(o, "other key_version=%d", r->key_version);
		return;
	}
	klog_buf_printf(o, "%s group=", r->kind == KLOG_OREC_COMMIT ? "commit" : "group");
	fmt_str(o, r->group);
	if (r->kind == KLOG_OREC_COMMIT) {
		klog_buf_append(o, " topic=", 7);
		fmt_str(o, r->topic);
		klog_buf_printf(o, " partition=%" PRId32, r->partition);
	}
	if (r->value_version < 0) {
		klog_buf_printf(o, " tombstone key_version=%d", r->key_version);
		return;
	}
	if (r->kind == KLOG_OREC_COMMIT) {
		klog_buf_printf(o, " offset=%" PRId64 " leader_epoch=%" PRId32 " metadata=",
		    r->offset, r->leader_epoch);
		fmt_str(o, r->metadata);
		klog_buf_printf(o, " commit_ts=%" PRId64 " expire_ts=%" PRId64
		    " key_version=%d value_version=%d", r->commit_ts, r->expire_ts,
		    r->key_version, r->value_version);
		return;
	}
	klog_buf_append(o, " protocol_type=", 15);
	fmt_str(o, r->protocol_type);
	klog_buf_printf(o, " generation=%" PRId32 " protocol=", r->generation);
	fmt_str(o, r->protocol);
	klog_buf_append(o, " leader=", 8);
	fmt_str(o, r->leader);
	klog_buf_printf(o, " state_ts=%" PRId64 " members=%d key_version=%d value_version=%d",
	    r->state_ts, r->nmembers, r->key_version, r->value_version);
	for (i = 0; i < r->nmembers; i++) {
		const struct klog_omember *m = &r->members[i];
		klog_buf_append(o, " member=", 8);
		fmt_str(o, m->member_id);
		klog_buf_append(o, " instance_id=", 13);
		fmt_str(o, m->instance_id);
		klog_buf_append(o, " client_id=", 11);
		fmt_str(o, m->client_id);
		klog_buf_append(o, " client_host=", 13);
		fmt_str(o, m->client_host);
		klog_buf_printf(o, " rebalance_timeout=%" PRId32 " session_timeout=%" PRId32
		    " subscription_bytes=%" PRId32 " assignment_bytes=%" PRId32,
		    m->rebalance_timeout, m->session_timeout, m->subscription_len,
		    m->assignment_len);
	}
}

static void
fmt_json(const struct klog_orec *r, struct klog_buf *o)
{
	int i;

	if (r->kind == KLOG_OREC_OTHER) {
		klog_buf_printf(o, "{\"type\":\"other\",\"key_version\":%d}", r->key_version);
		return;
	}
	klog_buf_printf(o, "{\"type\":\"%s\",\"group\":",
	    r->kind == KLOG_OREC_COMMIT ? "commit" : "group");
	json_str(o, r->group);
	if (r->kind == KLOG_OREC_COMMIT) {
		klog_buf_append(o, ",\"topic\":", 9);
		json_str(o, r->topic);
		klog_buf_printf(o, ",\"partition\":%" PRId32, r->partition);
	}
	klog_buf_printf(o, ",\"key_version\":%d", r->key_version);
	if (r->value_version < 0) {
		klog_buf_append(o, ",\"tombstone\":true}", 18);
		return;
	}
	klog_buf_printf(o, ",\"value_version\":%d", r->value_version);
	if (r->kind == KLOG_OREC_COMMIT) {
		klog_buf_printf(o, ",\"offset\":%" PRId64 ",\"leader_epoch\":%" PRId32
		    ",\"metadata\":", r->offset, r->leader_epoch);
		json_str(o, r->metadata);
		klog_buf_printf(o, ",\"commit_ts\":%" PRId64 ",\"expire_ts\":%" PRId64 "}",
		    r->commit_ts, r->expire_ts);
		return;
	}
	klog_buf_append(o, ",\"protocol_type\":", 17);
	json_str(o, r->protocol_type);
	klog_buf_printf(o, ",\"generation\":%" PRId32 ",\"protocol\":", r->generation);
	json_str(o, r->protocol);
	klog_buf_append(o, ",\"leader\":", 10);
	json_str(o, r->leader);
	klog_buf_printf(o, ",\"state_ts\":%" PRId64 ",\"members\":[", r->state_ts);
	for (i = 0; i < r->nmembers; i++) {
		const struct klog_omember *m = &r->members[i];
		klog_buf_append(o, i ? ",{\"member\":" : "{\"member\":", i ? 11 : 10);
		json_str(o, m->member_id);
		klog_buf_append(o, ",\"instance_id\":", 15);
		json_str(o, m->instance_id);
		klog_buf_append(o, ",\"client_id\":", 13);
		json_str(o, m->client_id);
		klog_buf_append(o, ",\"client_host\":", 15);
		json_str(o, m->client_host);
		klog_buf_printf(o, ",\"rebalance_timeout\":%" PRId32 ",\"session_timeout\":%"
		    PRId32 ",\"subscription\":", m->rebalance_timeout, m->session_timeout);
		json_hex(o, m->subscription, m->subscription_len);
		klog_buf_append(o, ",\"assignment\":", 14);
		json_hex(o, m->assignment, m->assignment_len);
		klog_buf_append(o, "}", 1);
	}
	klog_buf_append(o, "]}", 2);
}

int
klog_orec_format(const struct klog_orec *r, int json, struct klog_buf *out)
{
	size_t len0 = out->len;
	int saved = errno;

	/* klog_buf_append and _printf fail only when memory runs out (ENOMEM):
	 * check once at the end, and take a short text back whole */
	errno = 0;
	if (json)
		fmt_json(r, out);
	else
		fmt_text(r, out);
	if (errno == ENOMEM) {
		out->len = len0;
		return -1;
	}
	errno = saved;
	return 0;
}
