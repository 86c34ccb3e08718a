/* klog - kbrokerd: stand-ins while offsets.c and group-assign.c are placeholders. MIT licence. */
/*
 * The coordinator (broker-group.c) calls klog_offsets_partition,
 * klog_orec_encode/decode and kg_assign/kg_strategy_check.  Until those
 * land (they answer ENOSYS while they are placeholders) it falls back on
 * the small versions here: the partition of a group, the offset-commit
 * key 1 / value 3 and group-metadata key 2 records (reference 2.8), and
 * the range strategy.  Once the real ones are merged nothing here runs;
 * the file can then go, with the kbg_* wrappers' fallback branches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "group.h"

int
kbg_fb_partition(const char *group)
{
	int32_t h = 0;
	const unsigned char *s;

	/* Java's String.hashCode over the (ASCII) name; Kafka's Utils.abs */
	for (s = (const unsigned char *)group; *s; s++)
		h = (int32_t)((uint32_t)h * 31u + *s);
	if (h == INT32_MIN)
		h = 0;
	return (h < 0 ? -h : h) % KLOG_OFFSETS_PARTITIONS;
}

static void
put_str(struct klog_buf *b, const char *s)
{
	unsigned char l[2];
	size_t n = s ? strlen(s) : 0;

	put16(l, (uint16_t)n);
	klog_buf_append(b, l, 2);
	klog_buf_append(b, s ? s : "", n);
}

static void
put_nstr(struct klog_buf *b, const char *s)
{
	unsigned char l[2] = { 0xff, 0xff };

	if (s)
		put_str(b, s);
	else
		klog_buf_append(b, l, 2);
}

static void
put_bytes(struct klog_buf *b, const unsigned char *p, int32_t n)
{
	unsigned char l[4];

	put32(l, (uint32_t)(p ? n : -1));
	klog_buf_append(b, l, 4);
	if (p && n > 0)
		klog_buf_append(b, p, (size_t)n);
}

/* GroupMetadataValue v3 */
static int
group_value(const struct klog_orec *r, struct klog_buf *v)
{
	unsigned char x[8];
	int i;

	put16(x, 3);
	klog_buf_append(v, x, 2);
	put_str(v, r->protocol_type);
	put32(x, (uint32_t)r->generation);
	klog_buf_append(v, x, 4);
	put_nstr(v, r->protocol);
	put_nstr(v, r->leader);
	put64(x, (uint64_t)r->state_ts);
	klog_buf_append(v, x, 8);
	put32(x, (uint32_t)r->nmembers);
	klog_buf_append(v, x, 4);
	for (i = 0; i < r->nmembers; i++) {
		const struct klog_omember *m = &r->members[i];
		put_str(v, m->member_id);
		put_nstr(v, m->instance_id);
		put_str(v, m->client_id);
		put_str(v, m->client_host);
		put32(x, (uint32_t)m->rebalance_timeout);
		put32(x + 4, (uint32_t)m->session_timeout);
		klog_buf_append(v, x, 8);
		put_bytes(v, m->subscription, m->subscription_len);
		put_bytes(v, m->assignment, m->assignment_len);
	}
	return 0;
}

int
kbg_fb_encode(const struct klog_orec *r, struct klog_buf *key, struct klog_buf *val, char *err)
{
	unsigned char x[8];

	put16(x, r->kind == KLOG_OREC_COMMIT ? 1 : 2);
	klog_buf_append(key, x, 2);
	put_str(key, r->group);
	if (r->kind == KLOG_OREC_COMMIT) {
		put_str(key, r->topic);
		put32(x, (uint32_t)r->partition);
		klog_buf_append(key, x, 4);
	}
	if (r->value_version < 0)
		return 0;
	if (r->kind != KLOG_OREC_COMMIT)
		return group_value(r, val);
	put16(x, 3);
	klog_buf_append(val, x, 2);
	put64(x, (uint64_t)r->offset);
	klog_buf_append(val, x, 8);
	put32(x, (uint32_t)r->leader_epoch);
	klog_buf_append(val, x, 4);
	put_str(val, r->metadata);
	put64(x, (uint64_t)r->commit_ts);
	return klog_buf_append(val, x, 8);
}

static int
get_str(const unsigned char **p, const unsigned char *end, char **out)
{
	int16_t n;

	if (end - *p < 2)
		return -1;
	n = (int16_t)get16(*p);
	*p += 2;
	if (n < 0) {
		*out = NULL;
		return 0;
	}
	if (end - *p < n || !(*out = malloc((size_t)n + 1)))
		return -1;
	memcpy(*out, *p, (size_t)n);
	(*out)[n] = 0;
	*p += n;
	return 0;
}

void
kbg_fb_free(struct klog_orec *r)
{
	free(r->group);
	free(r->topic);
	free(r->metadata);
	memset(r, 0, sizeof *r);
}

int
kbg_fb_decode(const void *key, int32_t klen, const void *val, int32_t vlen, struct klog_orec *r,
    char *err)
{
	const unsigned char *p = key, *end = p + (klen > 0 ? klen : 0);
	int kv;

	memset(r, 0, sizeof *r);
	r->leader_epoch = -1;
	r->expire_ts = -1;
	if (!key || klen < 2)
		goto bad;
	kv = (int16_t)get16(p);
	p += 2;
	r->key_version = kv;
	if (kv >= 3) {
		r->kind = KLOG_OREC_OTHER;
		return 0;
	}
	if (get_str(&p, end, &r->group) < 0 || !r->group)
		goto bad;
	if (kv == 2) {
		char *pt = NULL;
		r->kind = KLOG_OREC_GROUP;
		r->value_version = val && vlen >= 2 ? (int16_t)get16(val) : -1;
		if (r->value_version < 0)
			return 0;
		/* the generation only: what the coordinator takes from it */
		p = (const unsigned char *)val + 2;
		end = (const unsigned char *)val + vlen;
		if (get_str(&p, end, &pt) < 0 || end - p < 4) {
			free(pt);
			goto bad;
		}
		free(pt);
		r->generation = (int32_t)get32(p);
		return 0;
	}
	r->kind = KLOG_OREC_COMMIT;
	if (get_str(&p, end, &r->topic) < 0 || !r->topic || end - p < 4)
		goto bad;
	r->partition = (int32_t)get32(p);
	if (!val || vlen < 0) {
		r->value_version = -1;
		return 0;
	}
	p = val;
	end = p + vlen;
	if (vlen < 10)
		goto bad;
	r->value_version = (int16_t)get16(p);
	r->offset = (int64_t)get64(p + 2);
	p += 10;
	if (r->value_version == 3) {
		if (end - p < 4)
			goto bad;
		r->leader_epoch = (int32_t)get32(p);
		p += 4;
	} else if (r->value_version < 0 || r->value_version > 3)
		goto bad;
	if (get_str(&p, end, &r->metadata) < 0 || end - p < 8)
		goto bad;
	r->commit_ts = (int64_t)get64(p);
	return 0;
bad:
	kbg_fb_free(r);
	errno = EBADMSG;
	return kerr(err, "malformed offsets record");
}

/* range: per topic, the members subscribing to it in order, each a run */
int
kbg_fb_assign(const struct kg_member *m, size_t nm, const struct kg_tp *tp, size_t ntp,
    int *out)
{
	size_t i = 0, j, k, n, sub[256], ns;

	while (i < ntp) {
		for (n = 0; i + n < ntp && !strcmp(tp[i + n].topic, tp[i].topic); n++)
			;
		for (j = ns = 0; j < nm && ns < 256; j++)
			for (k = 0; k < m[j].ntopics; k++)
				if (!strcmp(m[j].topics[k], tp[i].topic)) {
					sub[ns++] = j;
					break;
				}
		for (k = 0; k < n; k++) {
			size_t per = ns ? n / ns : 0, extra = ns ? n % ns : 0, who;
			/* the first `extra` members take per + 1 */
			if (!ns)
				who = (size_t)-1;
			else if (k < extra * (per + 1))
				who = sub[k / (per + 1)];
			else
				who = sub[extra + (k - extra * (per + 1)) / (per ? per : 1)];
			out[i + k] = who == (size_t)-1 ? -1 : (int)who;
		}
		i += n;
	}
	return 0;
}
