/* klog - tests for __consumer_offsets records (offsets.c). MIT licence. */
/*
 * The bytes here are built by hand from the reference table (kafka-format.md
 * 2.8), not by klog_orec_encode, so encoder and decoder are each checked
 * against the layout rather than against each other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"
#include "tap.h"

/* a hand builder that remembers where each length field is */
#define MAXLF 64
struct hb {
	unsigned char b[4096];
	size_t n;
	struct { size_t pos; int size; const char *field; } lf[MAXLF];
	int nlf;
};

static void
h16(struct hb *h, int v)
{
	h->b[h->n++] = (unsigned char)((unsigned)v >> 8);
	h->b[h->n++] = (unsigned char)v;
}

static void
h32(struct hb *h, int32_t v)
{
	uint32_t x = (uint32_t)v;

	h->b[h->n++] = (unsigned char)(x >> 24);
	h->b[h->n++] = (unsigned char)(x >> 16);
	h->b[h->n++] = (unsigned char)(x >> 8);
	h->b[h->n++] = (unsigned char)x;
}

static void
h64(struct hb *h, int64_t v)
{
	h32(h, (int32_t)((uint64_t)v >> 32));
	h32(h, (int32_t)(uint64_t)v);
}

static void
note_len(struct hb *h, int size, const char *field)
{
	h->lf[h->nlf].pos = h->n;
	h->lf[h->nlf].size = size;
	h->lf[h->nlf++].field = field;
}

/* STRING / NSTRING (s NULL: null) */
static void
hstr(struct hb *h, const char *s, const char *field)
{
	if (!s) {
		h16(h, -1);
		return;
	}
	note_len(h, 2, field);
	h16(h, (int)strlen(s));
	memcpy(h->b + h->n, s, strlen(s));
	h->n += strlen(s);
}

static void
hbytes(struct hb *h, const void *p, int32_t n, const char *field)
{
	note_len(h, 4, field);
	h32(h, n);
	memcpy(h->b + h->n, p, (size_t)n);
	h->n += (size_t)n;
}

static void
commit_key(struct hb *h, int ver, const char *g, const char *t, int32_t p)
{
	h16(h, ver);
	hstr(h, g, "group");
	hstr(h, t, "topic");
	h32(h, p);
}

/* offset commit value of version v (0-3) */
static void
commit_value(struct hb *h, int v, int64_t off, int32_t epoch, const char *md, int64_t ts,
    int64_t exp)
{
	h16(h, v);
	h64(h, off);
	if (v >= 3)
		h32(h, epoch);
	hstr(h, md, "metadata");
	h64(h, ts);
	if (v == 1)
		h64(h, exp);
}

/* group metadata value of version v with two members */
static const unsigned char SUB[] = { 0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's' };
static const unsigned char ASG[] = { 0, 1, 0, 0, 0, 0 };

static void
group_value(struct hb *h, int v, const char *protocol, const char *leader)
{
	int i;

	h16(h, v);
	hstr(h, "consumer", "protocolType");
	h32(h, 7);
	hstr(h, protocol, "protocol");
	hstr(h, leader, "leader");
	if (v >= 2)
		h64(h, 1700000000123LL);
	note_len(h, 4, "members");
	h32(h, 2);
	for (i = 0; i < 2; i++) {
		hstr(h, i ? "m2" : "m1-abc", "memberId");
		if (v >= 3)
			hstr(h, i ? "static-1" : NULL, "groupInstanceId");
		hstr(h, "klog", "clientId");
		hstr(h, i ? "/10.0.0.2" : "/127.0.0.1", "clientHost");
		if (v >= 1)
			h32(h, 300000 + i);
		h32(h, 10000 + i);
		hbytes(h, SUB, (int32_t)sizeof SUB, "subscription");
		hbytes(h, ASG, i ? 0 : (int32_t)sizeof ASG, "assignment");
	}
}

static void
test_partition(void)
{
	/* Java's String.hashCode computed independently (python3:
	 * h = (31*h + unit) & 0xffffffff over the UTF-16BE code units, taken
	 * as int32), then Utils.abs (MIN_VALUE -> 0) and % 50:
	 *   ""                       0            -> 0
	 *   "a"                      97           -> 47
	 *   "g"                      103          -> 3
	 *   "my-group"               -1906497762  -> 12
	 *   "console-consumer-12345" 158455506    -> 6
	 *   "orders.billing"         -327229326   -> 26
	 *   "polygenelubricants"     -2147483648  -> 0 (Integer.MIN_VALUE)
	 *   "été" (UTF-8 c3a9 74 c3a9)  227742    -> 42
	 *   "grp-" U+1F600 (a surrogate pair)  -1235730613 -> 13 */
	cmp_ok(klog_offsets_partition(""), ==, 0, "partition of \"\"");
	cmp_ok(klog_offsets_partition("a"), ==, 97 % 50, "partition of \"a\" is 97 %% 50");
	cmp_ok(klog_offsets_partition("g"), ==, 3, "partition of \"g\"");
	cmp_ok(klog_offsets_partition("my-group"), ==, 12, "partition of my-group (negative hash)");
	cmp_ok(klog_offsets_partition("console-consumer-12345"), ==, 6,
	    "partition of console-consumer-12345");
	cmp_ok(klog_offsets_partition("orders.billing"), ==, 26, "partition of orders.billing");
	cmp_ok(klog_offsets_partition("polygenelubricants"), ==, 0,
	    "hash Integer.MIN_VALUE maps to 0 (Utils.abs)");
	cmp_ok(klog_offsets_partition("\xc3\xa9t\xc3\xa9"), ==, 42, "UTF-8 counted as UTF-16 units");
	cmp_ok(klog_offsets_partition("grp-\xf0\x9f\x98\x80"), ==, 13,
	    "a code point above U+FFFF counts as two surrogates");
}

static int
dec(const struct hb *k, const struct hb *v, struct klog_orec *r, char *err)
{
	return klog_orec_decode(k->b, (int32_t)k->n, v ? v->b : NULL, v ? (int32_t)v->n : -1, r,
	    err);
}

static void
test_commit_versions(void)
{
	struct klog_orec r;
	char err[KLOG_ERRLEN];
	int v, kv;

	for (kv = 0; kv <= 1; kv++)
		for (v = 0; v <= 3; v++) {
			struct hb k = {0}, val = {0};
			commit_key(&k, kv, "grp", "orders", 5);
			commit_value(&val, v, 1234567890123LL, 9, "meta data", 1700000000000LL,
			    1700000099000LL);
			if (!ok(dec(&k, &val, &r, err) == 0, "commit key v%d value v%d decodes", kv, v)) {
				diag("%s", err);
				continue;
			}
			ok(r.kind == KLOG_OREC_COMMIT && r.key_version == kv && r.value_version == v &&
			    !strcmp(r.group, "grp") && !strcmp(r.topic, "orders") && r.partition == 5 &&
			    r.offset == 1234567890123LL && !strcmp(r.metadata, "meta data") &&
			    r.commit_ts == 1700000000000LL &&
			    r.leader_epoch == (v >= 3 ? 9 : -1) &&
			    r.expire_ts == (v == 1 ? 1700000099000LL : -1),
			    "... every field (leader epoch only in v3, expire only in v1)");
			klog_orec_free(&r);
		}
}

static void
test_commit_v4(void)
{
	/* flexible: offset, leaderEpoch, metadata as a compact string
	 * (uvarint len+1), commitTimestamp, tagged fields (one, tag 0, 3 bytes) */
	static const unsigned char val[] = {
		0, 4, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 3, 3, 'h', 'i',
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 1, 0, 3, 'x', 'y', 'z'
	};
	struct hb k = {0};
	struct klog_orec r;
	char err[KLOG_ERRLEN];

	commit_key(&k, 1, "g", "t", 0);
	if (!ok(klog_orec_decode(k.b, (int32_t)k.n, val, sizeof val, &r, err) == 0,
	    "commit value v4 (flexible) decodes"))
		diag("%s", err);
	else {
		ok(r.value_version == 4 && r.offset == 42 && r.leader_epoch == 3 &&
		    !strcmp(r.metadata, "hi") && r.commit_ts == 0x018bcfe56800LL,
		    "... fields read, tagged field skipped");
		klog_orec_free(&r);
	}
	ok(klog_orec_decode(k.b, (int32_t)k.n, val, sizeof val - 1, &r, err) < 0 &&
	    errno == EBADMSG, "... a tagged field cut short is EBADMSG");
}

static void
test_group_versions(void)
{
	struct klog_orec r;
	char err[KLOG_ERRLEN];
	int v;

	for (v = 0; v <= 3; v++) {
		struct hb k = {0}, val = {0};
		h16(&k, 2);
		hstr(&k, "grp", "group");
		group_value(&val, v, v == 1 ? NULL : "range", v == 1 ? NULL : "m1-abc");
		if (!ok(dec(&k, &val, &r, err) == 0, "group metadata value v%d decodes", v)) {
			diag("%s", err);
			continue;
		}
		ok(r.kind == KLOG_OREC_GROUP && r.key_version == 2 && r.value_version == v &&
		    !strcmp(r.group, "grp") && !strcmp(r.protocol_type, "consumer") &&
		    r.generation == 7 && (v == 1 ? !r.protocol && !r.leader :
		    !strcmp(r.protocol, "range") && !strcmp(r.leader, "m1-abc")) &&
		    r.state_ts == (v >= 2 ? 1700000000123LL : -1), "... header fields (v%d)", v);
		ok(r.nmembers == 2 && !strcmp(r.members[0].member_id, "m1-abc") &&
		    !strcmp(r.members[1].member_id, "m2") && !r.members[0].instance_id &&
		    (v >= 3 ? r.members[1].instance_id && !strcmp(r.members[1].instance_id,
		    "static-1") : !r.members[1].instance_id) &&
		    !strcmp(r.members[0].client_id, "klog") &&
		    !strcmp(r.members[1].client_host, "/10.0.0.2") &&
		    r.members[0].rebalance_timeout == (v >= 1 ? 300000 : -1) &&
		    r.members[1].session_timeout == 10001 &&
		    r.members[0].subscription_len == (int32_t)sizeof SUB &&
		    !memcmp(r.members[0].subscription, SUB, sizeof SUB) &&
		    r.members[0].assignment_len == (int32_t)sizeof ASG &&
		    !memcmp(r.members[0].assignment, ASG, sizeof ASG) &&
		    r.members[1].assignment_len == 0, "... both members (v%d)", v);
		klog_orec_free(&r);
	}
}

static void
test_other_and_tombstones(void)
{
	struct hb k = {0}, k2 = {0}, k3 = {0};
	struct klog_orec r;
	char err[KLOG_ERRLEN];

	h16(&k, 3);
	hstr(&k, "whatever", "x");
	ok(dec(&k, NULL, &r, err) == 0 && r.kind == KLOG_OREC_OTHER && r.key_version == 3,
	    "key v3 (KIP-848) is KLOG_OREC_OTHER");
	klog_orec_free(&r);
	commit_key(&k2, 1, "grp", "orders", 2);
	ok(dec(&k2, NULL, &r, err) == 0 && r.kind == KLOG_OREC_COMMIT && r.value_version == -1 &&
	    !strcmp(r.topic, "orders") && r.partition == 2, "commit tombstone: value_version -1");
	klog_orec_free(&r);
	h16(&k3, 2);
	hstr(&k3, "grp", "group");
	ok(dec(&k3, NULL, &r, err) == 0 && r.kind == KLOG_OREC_GROUP && r.value_version == -1 &&
	    !strcmp(r.group, "grp"), "group metadata tombstone");
	klog_orec_free(&r);
	ok(klog_orec_decode(NULL, -1, NULL, -1, &r, err) < 0 && errno == EBADMSG,
	    "a null key is EBADMSG");
}

static void
test_encode(void)
{
	struct klog_buf key = {0}, val = {0};
	struct klog_orec o = {0}, r;
	struct klog_omember m[2] = {0};
	struct hb hk = {0}, hv = {0}, gk = {0}, gv = {0};
	char err[KLOG_ERRLEN];

	o.kind = KLOG_OREC_COMMIT;
	o.value_version = 3;
	o.group = "grp";
	o.topic = "orders";
	o.partition = 5;
	o.offset = 1234567890123LL;
	o.leader_epoch = 9;
	o.metadata = "meta data";
	o.commit_ts = 1700000000000LL;
	commit_key(&hk, 1, "grp", "orders", 5);
	commit_value(&hv, 3, 1234567890123LL, 9, "meta data", 1700000000000LL, -1);
	ok(klog_orec_encode(&o, &key, &val, err) == 0, "encode a commit");
	ok(key.len == hk.n && !memcmp(key.data, hk.b, hk.n), "... key is version 1, as Kafka's");
	ok(val.len == hv.n && !memcmp(val.data, hv.b, hv.n), "... value is version 3");
	ok(klog_orec_decode(key.data, (int32_t)key.len, val.data, (int32_t)val.len, &r, err) == 0 &&
	    r.offset == o.offset && !strcmp(r.metadata, "meta data"), "... and decodes back");
	klog_orec_free(&r);
	key.len = val.len = 0;
	o.value_version = -1;
	ok(klog_orec_encode(&o, &key, &val, err) == 0 && key.len == hk.n && val.len == 0,
	    "a commit tombstone: the key only");
	key.len = val.len = 0;

	memset(&o, 0, sizeof o);
	o.kind = KLOG_OREC_GROUP;
	o.value_version = 3;
	o.group = "grp";
	o.protocol_type = "consumer";
	o.generation = 7;
	o.protocol = "range";
	o.leader = "m1-abc";
	o.state_ts = 1700000000123LL;
	m[0].member_id = "m1-abc";
	m[1].member_id = "m2";
	m[1].instance_id = "static-1";
	m[0].client_id = m[1].client_id = "klog";
	m[0].client_host = "/127.0.0.1";
	m[1].client_host = "/10.0.0.2";
	m[0].rebalance_timeout = 300000;
	m[1].rebalance_timeout = 300001;
	m[0].session_timeout = 10000;
	m[1].session_timeout = 10001;
	m[0].subscription = m[1].subscription = (unsigned char *)SUB;
	m[0].subscription_len = m[1].subscription_len = sizeof SUB;
	m[0].assignment = (unsigned char *)ASG;
	m[0].assignment_len = sizeof ASG;
	o.members = m;
	o.nmembers = 2;
	h16(&gk, 2);
	hstr(&gk, "grp", "group");
	group_value(&gv, 3, "range", "m1-abc");
	ok(klog_orec_encode(&o, &key, &val, err) == 0, "encode group metadata");
	ok(key.len == gk.n && !memcmp(key.data, gk.b, gk.n), "... key version 2");
	ok(val.len == gv.n && !memcmp(val.data, gv.b, gv.n), "... value version 3, byte for byte");
	klog_buf_free(&key);
	klog_buf_free(&val);
	o.kind = KLOG_OREC_OTHER;
	ok(klog_orec_encode(&o, &key, &val, err) < 0 && errno == EINVAL,
	    "KLOG_OREC_OTHER cannot be encoded (EINVAL)");
	klog_buf_free(&key);
	klog_buf_free(&val);
}

static void
fmt_is(const struct hb *k, const struct hb *v, int json, const char *want, const char *what)
{
	struct klog_buf out = {0};
	struct klog_orec r;
	char err[KLOG_ERRLEN];

	if (dec(k, v, &r, err) < 0) {
		ok(0, "%s", what);
		diag("%s", err);
		return;
	}
	klog_orec_format(&r, json, &out);
	klog_buf_append(&out, "", 1);
	is((char *)out.data, want, "%s", what);
	klog_orec_free(&r);
	klog_buf_free(&out);
}

static void
test_format(void)
{
	struct hb k = {0}, v = {0}, gk = {0}, gv = {0};

	commit_key(&k, 1, "grp", "orders", 5);
	commit_value(&v, 3, 42, -1, "a b\\", 1700000000000LL, -1);
	fmt_is(&k, &v, 0, "commit group=grp topic=orders partition=5 offset=42 leader_epoch=-1 "
	    "metadata=a\\x20b\\\\ commit_ts=1700000000000 expire_ts=-1 key_version=1 "
	    "value_version=3", "text of a commit");
	fmt_is(&k, &v, 1, "{\"type\":\"commit\",\"group\":\"grp\",\"topic\":\"orders\","
	    "\"partition\":5,\"key_version\":1,\"value_version\":3,\"offset\":42,"
	    "\"leader_epoch\":-1,\"metadata\":\"a b\\\\\",\"commit_ts\":1700000000000,"
	    "\"expire_ts\":-1}", "JSON of a commit");
	fmt_is(&k, NULL, 0, "commit group=grp topic=orders partition=5 tombstone key_version=1",
	    "text of a commit tombstone");
	fmt_is(&k, NULL, 1, "{\"type\":\"commit\",\"group\":\"grp\",\"topic\":\"orders\","
	    "\"partition\":5,\"key_version\":1,\"tombstone\":true}", "JSON of a tombstone");
	h16(&gk, 2);
	hstr(&gk, "grp", "group");
	group_value(&gv, 3, "range", NULL);
	fmt_is(&gk, &gv, 0, "group group=grp protocol_type=consumer generation=7 protocol=range "
	    "leader=null state_ts=1700000000123 members=2 key_version=2 value_version=3 "
	    "member=m1-abc instance_id=null client_id=klog client_host=/127.0.0.1 "
	    "rebalance_timeout=300000 session_timeout=10000 subscription_bytes=14 "
	    "assignment_bytes=6 member=m2 instance_id=static-1 client_id=klog "
	    "client_host=/10.0.0.2 rebalance_timeout=300001 session_timeout=10001 "
	    "subscription_bytes=14 assignment_bytes=0", "text of group metadata");
	fmt_is(&gk, &gv, 1, "{\"type\":\"group\",\"group\":\"grp\",\"key_version\":2,"
	    "\"value_version\":3,\"protocol_type\":\"consumer\",\"generation\":7,"
	    "\"protocol\":\"range\",\"leader\":null,\"state_ts\":1700000000123,\"members\":["
	    "{\"member\":\"m1-abc\",\"instance_id\":null,\"client_id\":\"klog\","
	    "\"client_host\":\"/127.0.0.1\",\"rebalance_timeout\":300000,"
	    "\"session_timeout\":10000,\"subscription\":\"00010000000100066f7264657273\","
	    "\"assignment\":\"000100000000\"},{\"member\":\"m2\",\"instance_id\":\"static-1\","
	    "\"client_id\":\"klog\",\"client_host\":\"/10.0.0.2\",\"rebalance_timeout\":300001,"
	    "\"session_timeout\":10001,\"subscription\":\"00010000000100066f7264657273\","
	    "\"assignment\":\"\"}]}", "JSON of group metadata");
}

/* the samples attacked below: each key with each value version */
struct sample {
	struct hb k, v;
	int tomb;
	char name[48];
};

static int
make_samples(struct sample *s)
{
	int n = 0, v;

	for (v = 0; v <= 3; v++, n++) {
		memset(&s[n], 0, sizeof s[n]);
		commit_key(&s[n].k, 1, "grp", "orders", 5);
		commit_value(&s[n].v, v, 77, 1, "md", 1700000000000LL, 1700000001000LL);
		snprintf(s[n].name, sizeof s[n].name, "commit value v%d", v);
	}
	for (v = 0; v <= 3; v++, n++) {
		memset(&s[n], 0, sizeof s[n]);
		h16(&s[n].k, 2);
		hstr(&s[n].k, "grp", "group");
		group_value(&s[n].v, v, "range", "m1-abc");
		snprintf(s[n].name, sizeof s[n].name, "group value v%d", v);
	}
	return n;
}

static int
bad(const void *k, size_t kn, const void *v, size_t vn, const char *field)
{
	struct klog_orec r;
	char err[KLOG_ERRLEN] = "";
	int rc = klog_orec_decode(k, (int32_t)kn, v, (int32_t)vn, &r, err);

	if (rc == 0) {
		klog_orec_free(&r);
		return 0;
	}
	if (errno != EBADMSG)
		return 0;
	if (field) {
		char want[80];
		snprintf(want, sizeof want, "field '%s'", field);
		if (!strstr(err, want)) {
			diag("expected %s in: %s", want, err);
			return 0;
		}
	}
	return 1;
}

static void
test_hostile(void)
{
	struct sample s[8];
	int n = make_samples(s), i, j, all;
	size_t cut;

	for (i = 0; i < n; i++) {
		struct hb *k = &s[i].k, *v = &s[i].v;
		all = 1;
		for (cut = 0; cut < k->n; cut++)
			all &= bad(k->b, cut, v->b, v->n, NULL);
		ok(all, "%s: every truncation of the key is EBADMSG", s[i].name);
		all = 1;
		for (cut = 0; cut < v->n; cut++)
			all &= bad(k->b, k->n, v->b, cut, NULL);
		ok(all, "%s: every truncation of the value is EBADMSG", s[i].name);
		/* each length field one past what is left, and at its maximum */
		all = 1;
		for (j = 0; j < v->nlf; j++) {
			unsigned char save[4];
			size_t pos = v->lf[j].pos;
			memcpy(save, v->b + pos, 4);
			if (v->lf[j].size == 2) {
				v->b[pos] = 0x7f;
				v->b[pos + 1] = 0xff;
			} else {
				v->b[pos] = 0x7f;
				v->b[pos + 1] = v->b[pos + 2] = v->b[pos + 3] = 0xff;
			}
			all &= bad(k->b, k->n, v->b, v->n, v->lf[j].field);
			/* a negative length (other than null) */
			v->b[pos] = 0xff;
			v->b[pos + 1] = 0xfe;
			all &= bad(k->b, k->n, v->b, v->n, v->lf[j].field);
			memcpy(v->b + pos, save, 4);
		}
		ok(all && v->nlf > 0, "%s: %d oversized or negative value lengths, each EBADMSG "
		    "naming its field", s[i].name, v->nlf);
		all = 1;
		for (j = 0; j < k->nlf; j++) {
			size_t pos = k->lf[j].pos;
			unsigned char a = k->b[pos], b = k->b[pos + 1];
			k->b[pos] = 0x7f;
			k->b[pos + 1] = 0xff;
			all &= bad(k->b, k->n, v->b, v->n, k->lf[j].field);
			k->b[pos] = a;
			k->b[pos + 1] = b;
		}
		ok(all && k->nlf > 0, "%s: oversized key lengths each EBADMSG naming the field",
		    s[i].name);
		v->b[v->n] = 0;
		ok(bad(k->b, k->n, v->b, v->n + 1, "end"), "%s: a byte after the value is EBADMSG",
		    s[i].name);
	}
	{
		struct hb k = {0}, v = {0};
		commit_key(&k, 1, "grp", "orders", 5);
		h16(&v, 5);
		ok(bad(k.b, k.n, v.b, v.n, "version"), "commit value v5 is unknown (EBADMSG)");
		v.n = 0;
		h16(&v, -1);
		ok(bad(k.b, k.n, v.b, v.n, "version"), "a negative value version is EBADMSG");
		k.n = 0;
		h16(&k, -2);
		ok(bad(k.b, k.n, NULL, 0, "version"), "a negative key version is EBADMSG");
		k.n = 0;
		h16(&k, 1);
		h16(&k, -1);
		ok(bad(k.b, k.n, NULL, 0, "group"), "a null group is EBADMSG");
		k.n = 0;
		h16(&k, 1);
		h16(&k, 3);
		memcpy(k.b + k.n, "g\0x", 3);
		k.n += 3;
		ok(bad(k.b, k.n, NULL, 0, "group"), "a NUL inside a string is EBADMSG");
		v.n = 0;
		k.n = 0;
		h16(&k, 2);
		hstr(&k, "g", "group");
		h16(&v, 0);
		hstr(&v, "consumer", "protocolType");
		h32(&v, 1);
		h16(&v, -1);
		h16(&v, -1);
		h32(&v, 0x7fffffff);
		ok(bad(k.b, k.n, v.b, v.n, "members"), "a huge member count is EBADMSG, not a "
		    "huge allocation");
		v.n -= 4;
		h32(&v, -5);
		ok(bad(k.b, k.n, v.b, v.n, "members"), "a negative member count is EBADMSG");
		v.n -= 4;
		h32(&v, -1);
		{
			struct klog_orec r;
			char err[KLOG_ERRLEN];
			ok(klog_orec_decode(k.b, (int32_t)k.n, v.b, (int32_t)v.n, &r, err) == 0 &&
			    r.nmembers == 0, "a null member array (-1) reads as no members");
			klog_orec_free(&r);
		}
	}
}

/* random truncations and bit flips: decode or EBADMSG, never a crash
 * (run under ASan in CI) */
static void
test_fuzz(void)
{
	struct sample s[8];
	unsigned char kb[4096], vb[4096];
	int n = make_samples(s), i, flips, good = 0, badn = 0, other = 0;
	unsigned seed = 12345;

	for (i = 0; i < 40000; i++) {
		struct sample *x = &s[i % n];
		size_t kn = x->k.n, vn = x->v.n;
		struct klog_orec r;
		char err[KLOG_ERRLEN];
		int rc;

		memcpy(kb, x->k.b, kn);
		memcpy(vb, x->v.b, vn);
		seed = seed * 1103515245 + 12345;
		if (seed >> 16 & 1)
			vn = (seed >> 4) % (vn + 1);
		else if (seed >> 17 & 1)
			kn = (seed >> 4) % (kn + 1);
		for (flips = (int)(seed >> 20) % 4; flips > 0; flips--) {
			seed = seed * 1103515245 + 12345;
			if (vn)
				vb[(seed >> 8) % vn] ^= (unsigned char)(1u << ((seed >> 3) & 7));
			if (kn && (seed >> 28 & 1))
				kb[(seed >> 12) % kn] ^= (unsigned char)(1u << ((seed >> 5) & 7));
		}
		/* exact-size copies, so ASan catches a read one byte past */
		{
			unsigned char *kc = malloc(kn ? kn : 1), *vc = malloc(vn ? vn : 1);
			memcpy(kc, kb, kn);
			memcpy(vc, vb, vn);
			rc = klog_orec_decode(kc, (int32_t)kn, vc, (int32_t)vn, &r, err);
			if (rc == 0) {
				struct klog_buf o = {0};
				good++;
				klog_orec_format(&r, i & 1, &o);
				klog_buf_free(&o);
				klog_orec_free(&r);
			} else if (errno == EBADMSG)
				badn++;
			else
				other++;
			free(kc);
			free(vc);
		}
	}
	ok(other == 0, "40000 damaged records: %d decoded, %d EBADMSG, %d other errors", good,
	    badn, other);
	ok(good > 0 && badn > 0, "... both outcomes seen");
}

int
main(void)
{
	test_partition();
	test_commit_versions();
	test_commit_v4();
	test_group_versions();
	test_other_and_tombstones();
	test_encode();
	test_format();
	test_hostile();
	test_fuzz();
	return done_testing();
}
