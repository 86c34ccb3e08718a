/* klog - consumer groups through a broker, the group coordinator. MIT licence. */
/*
 * A member speaks to kbrokerd on a connection of its own (opened to the
 * broker the klog_log's connection reached), so that long fetches on the
 * main connection never delay its heartbeats, and so that the broker
 * sees the member go the moment the process dies: the kernel closes the
 * socket and the broker removes a dynamic member at once.
 *
 * klog_group_poll heartbeats every interval_ms (HEARTBEAT, see proto.c);
 * the answer lists what the broker says the member owns ("own") and what
 * it must give up ("revoke"), or nothing when that did not change since
 * the version the member last saw.  The member compares it with what it
 * holds: new partitions are ASSIGN events (with the committed offset),
 * newly revoked ones REVOKE, and ones it holds that the broker no longer
 * lists (taken without a release: it was fenced) LOST.  A heartbeat
 * answered FENCED or UNKNOWN_GROUP (the session expired, the member was
 * replaced) makes every partition LOST, and the member joins again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group.h"

#define INTERVAL_MS 50

struct kgr_part {
	char *topic;
	int partition;
	int revoked;                    /* REVOKE handed out */
	int seen;                       /* in the answer being applied */
};

struct kgr_ev {
	int type;
	char *topic;
	int partition;
	int64_t committed;
};

struct kgr {
	struct klog_client *c;          /* the coordination connection */
	char *topics;                   /* "a,b" */
	char strategy[16];
	char instance[KLOG_TOPIC_MAX + 1];      /* "-": dynamic */
	char client_id[201];
	char host[256];
	int session_ms;
	int64_t last_hb;
	uint64_t ver;
	int have_ver, fenced;
	struct kgr_part *own;
	size_t nown;
	struct kgr_ev *q;
	size_t nq, qhead;
	char *cur;                      /* the topic of the event handed out last */
};

static int
fenced_errno(void)
{
	return errno == ESTALE || errno == ENOENT;
}

static int
do_join(struct klog_group *g, char *err)
{
	struct kgr *k = g->impl;
	struct kclient_ok ok;
	int64_t gen;

	if (kclient_call(k->c, NULL, 0, -1, NULL, NULL, &ok, err, "JOIN %s - %s %d %s %s %s %s %ld\n",
	    g->group, k->instance, k->session_ms, k->strategy, k->topics, k->client_id, k->host,
	    (long)getpid()) < 0)
		return -1;
	if (ok.argc < 2 || strlen(ok.argv[0]) >= sizeof g->member_id ||
	    klog_parse_i64(ok.argv[1], &gen) < 0) {
		errno = EPROTO;
		return kerr(err, "group '%s': unexpected answer to JOIN", g->group);
	}
	strcpy(g->member_id, ok.argv[0]);
	g->generation = (int32_t)gen;
	k->have_ver = 0;
	k->fenced = 0;
	k->last_hb = 0;         /* heartbeat at the next poll */
	return 0;
}

int
kgr_join(struct klog_group *g, const struct klog_group_opts *o, char *err)
{
	struct klog_client *main = klog_log_client(g->lg);
	struct klog_buf tl = { 0 };
	struct kgr *k;
	size_t i;

	if (!(k = calloc(1, sizeof *k)))
		return kerr_sys(err, "group '%s'", g->group);
	g->impl = k;
	for (i = 0; i < o->ntopics; i++) {
		if (klog_topic_name_check(o->topics[i], err) < 0) {
			errno = EINVAL;
			goto fail;
		}
		klog_buf_printf(&tl, "%s%s", i ? "," : "", o->topics[i]);
	}
	if (!tl.data || !(k->topics = strdup((char *)tl.data))) {
		kerr_sys(err, "group '%s'", g->group);
		goto fail;
	}
	snprintf(k->strategy, sizeof k->strategy, "%s", o->strategy ? o->strategy : "range");
	if (o->instance_id && klog_topic_name_check(o->instance_id, err) < 0) {
		errno = EINVAL;
		kerr(err, "invalid instance id '%s': [A-Za-z0-9._-], 1 to %d bytes", o->instance_id,
		    KLOG_TOPIC_MAX);
		goto fail;
	}
	snprintf(k->instance, sizeof k->instance, "%s", o->instance_id ? o->instance_id : "-");
	snprintf(k->client_id, sizeof k->client_id, "%s", o->client_id && *o->client_id ?
	    o->client_id : "klog");
	if (strpbrk(k->client_id, " \t\r\n")) {
		errno = EINVAL;
		kerr(err, "client id '%s' must be one word", k->client_id);
		goto fail;
	}
	if (gethostname(k->host, sizeof k->host) < 0 || !*k->host || strpbrk(k->host, " \t\r\n"))
		snprintf(k->host, sizeof k->host, "-");
	k->host[sizeof k->host - 1] = 0;
	k->session_ms = o->session_ms > 0 ? o->session_ms : 10000;
	g->interval_ms = k->session_ms / 3 < INTERVAL_MS ? (k->session_ms / 3 ? k->session_ms / 3 : 1) :
	    INTERVAL_MS;
	if (!main) {
		errno = EINVAL;
		kerr(err, "group '%s': not connected to a broker", g->group);
		goto fail;
	}
	if (!(k->c = klog_client_open(klog_client_addr(main), NULL, err)) || do_join(g, err) < 0)
		goto fail;
	klog_buf_free(&tl);
	return 0;
fail:
	klog_buf_free(&tl);
	{
		int e = errno;
		kgr_free(g);
		errno = e;
	}
	return -1;
}

static int
push(struct kgr *k, int type, const char *topic, int partition, int64_t committed)
{
	struct kgr_ev *v;

	if (k->qhead == k->nq)
		k->qhead = k->nq = 0;
	if (!(v = realloc(k->q, (k->nq + 1) * sizeof *v)))
		return -1;
	k->q = v;
	if (!(v[k->nq].topic = strdup(topic)))
		return -1;
	v[k->nq].type = type;
	v[k->nq].partition = partition;
	v[k->nq++].committed = committed;
	return 0;
}

static struct kgr_part *
own_find(struct kgr *k, const char *topic, int partition)
{
	size_t i;

	for (i = 0; i < k->nown; i++)
		if (k->own[i].partition == partition && !strcmp(k->own[i].topic, topic))
			return &k->own[i];
	return NULL;
}

static void
own_drop(struct kgr *k, size_t i)
{
	free(k->own[i].topic);
	k->own[i] = k->own[--k->nown];
}

/* every partition held is LOST */
static void
lose_all(struct kgr *k)
{
	while (k->nown) {
		push(k, KLOG_GEV_LOST, k->own[k->nown - 1].topic, k->own[k->nown - 1].partition, -1);
		own_drop(k, k->nown - 1);
	}
}

/* one line of a heartbeat answer: "own T P C" or "revoke T P C" */
static int
hb_line(void *arg, char *line)
{
	struct kgr *k = arg;
	char kind[8], topic[KLOG_TOPIC_MAX + 1];
	long long p, cm;
	struct kgr_part *o;

	if (sscanf(line, "%7s %249s %lld %lld", kind, topic, &p, &cm) != 4 || p < 0 ||
	    p > INT32_MAX || (strcmp(kind, "own") && strcmp(kind, "revoke"))) {
		errno = EPROTO;
		return -1;
	}
	if (!(o = own_find(k, topic, (int)p))) {
		struct kgr_part *v = realloc(k->own, (k->nown + 1) * sizeof *v);
		if (!v)
			return -1;
		k->own = v;
		o = &v[k->nown];
		memset(o, 0, sizeof *o);
		if (!(o->topic = strdup(topic)))
			return -1;
		o->partition = (int)p;
		k->nown++;
		if (push(k, KLOG_GEV_ASSIGN, topic, (int)p, cm) < 0)
			return -1;
	}
	o->seen = 1;
	if (!strcmp(kind, "revoke") && !o->revoked) {
		o->revoked = 1;
		if (push(k, KLOG_GEV_REVOKE, topic, (int)p, -1) < 0)
			return -1;
	} else if (!strcmp(kind, "own"))
		o->revoked = 0;
	return 0;
}

static int
heartbeat(struct klog_group *g, char *err)
{
	struct kgr *k = g->impl;
	struct kclient_ok ok;
	int64_t gen, ver;
	size_t i;
	int rc;

	for (i = 0; i < k->nown; i++)
		k->own[i].seen = 0;
	k->last_hb = klog_now_ms();
	if (k->have_ver)
		rc = kclient_call(k->c, NULL, 0, 0, hb_line, k, &ok, err, "HEARTBEAT %s %s %d %" PRIu64
		    "\n", g->group, g->member_id, g->generation, k->ver);
	else
		rc = kclient_call(k->c, NULL, 0, 0, hb_line, k, &ok, err, "HEARTBEAT %s %s %d\n",
		    g->group, g->member_id, g->generation);
	if (rc < 0) {
		if (!fenced_errno())
			return -1;
		/* fenced: nothing is ours any more; join again at the next poll */
		lose_all(k);
		k->fenced = 1;
		return 0;
	}
	if (ok.argc < 3 || klog_parse_i64(ok.argv[1], &gen) < 0 ||
	    klog_parse_i64(ok.argv[2], &ver) < 0) {
		errno = EPROTO;
		return kerr(err, "group '%s': unexpected answer to HEARTBEAT", g->group);
	}
	g->generation = (int32_t)gen;
	if (k->have_ver && (uint64_t)ver == k->ver)
		return 0;       /* nothing changed */
	/* a full list: what it no longer names was taken from us */
	for (i = k->nown; i-- > 0;)
		if (!k->own[i].seen) {
			push(k, KLOG_GEV_LOST, k->own[i].topic, k->own[i].partition, -1);
			own_drop(k, i);
		}
	k->ver = (uint64_t)ver;
	k->have_ver = 1;
	return 0;
}

int
kgr_poll(struct klog_group *g, struct klog_gevent *ev, char *err)
{
	struct kgr *k = g->impl;

	if (k->qhead == k->nq) {
		if (k->fenced && do_join(g, err) < 0)
			return -1;
		if (klog_now_ms() - k->last_hb >= g->interval_ms && heartbeat(g, err) < 0)
			return -1;
	}
	if (k->qhead == k->nq)
		return 0;
	free(k->cur);
	k->cur = k->q[k->qhead].topic;
	ev->type = k->q[k->qhead].type;
	ev->topic = k->cur;
	ev->partition = k->q[k->qhead].partition;
	ev->committed = k->q[k->qhead].committed;
	k->qhead++;
	return 1;
}

/* "TOPIC PARTITION OFFSET\n" lines */
static int
offset_lines(const struct klog_gcommit *c, size_t n, struct klog_buf *b, char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (klog_topic_name_check(c[i].topic, err) < 0) {
			errno = EINVAL;
			return -1;
		}
		if (klog_buf_printf(b, "%s %d %" PRId64 "\n", c[i].topic, c[i].partition,
		    c[i].offset) < 0)
			return kerr_sys(err, "commit");
	}
	return 0;
}

int
kgr_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err)
{
	struct kgr *k = g->impl;
	struct klog_buf b = { 0 };
	struct kclient_ok ok;
	int rc = -1;

	if (k->fenced) {
		errno = ESTALE;
		return kerr(err, "group '%s': member '%s' was fenced", g->group, g->member_id);
	}
	if (offset_lines(c, n, &b, err) == 0)
		rc = kclient_call(k->c, b.data, b.len, -1, NULL, NULL, &ok, err,
		    "COMMIT %s %s %d %zu\n", g->group, g->member_id, g->generation, b.len);
	if (rc < 0 && fenced_errno())
		errno = ESTALE;
	klog_buf_free(&b);
	return rc;
}

int
kgr_release(struct klog_group *g, const char *topic, int partition, char *err)
{
	struct kgr *k = g->impl;
	struct kclient_ok ok;
	struct kgr_part *o;

	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (kclient_call(k->c, NULL, 0, -1, NULL, NULL, &ok, err, "RELEASE %s %s %d %s %d\n",
	    g->group, g->member_id, g->generation, topic, partition) < 0) {
		if (fenced_errno())
			errno = ESTALE;
		return -1;
	}
	if ((o = own_find(k, topic, partition)))
		own_drop(k, (size_t)(o - k->own));
	return 0;
}

int
kgr_leave(struct klog_group *g, char *err)
{
	struct kgr *k = g->impl;
	struct kclient_ok ok;

	if (!k || !k->c || k->fenced)
		return 0;
	if (kclient_call(k->c, NULL, 0, -1, NULL, NULL, &ok, err, "LEAVE %s %s\n", g->group,
	    g->member_id) < 0 && !fenced_errno())
		return -1;
	return 0;
}

void
kgr_free(struct klog_group *g)
{
	struct kgr *k = g->impl;
	size_t i;

	if (!k)
		return;
	klog_client_close(k->c);
	for (i = 0; i < k->nown; i++)
		free(k->own[i].topic);
	for (i = k->qhead; i < k->nq; i++)
		free(k->q[i].topic);
	free(k->own);
	free(k->q);
	free(k->cur);
	free(k->topics);
	free(k);
	g->impl = NULL;
}

/* --- administration, on the klog_log's own connection ------------------ */

int
kgr_list(struct klog_client *c, char ***names, size_t *n, char *err)
{
	struct kclient_names nm = { NULL, 0 };
	struct kclient_ok ok;

	if (kclient_call(c, NULL, 0, 0, kclient_names_add, &nm, &ok, err, "GROUPS\n") < 0) {
		klog_strv_free(nm.v, nm.n);
		return -1;
	}
	*names = nm.v;
	*n = nm.n;
	return 0;
}

struct desc {
	struct klog_group_info *gi;
	char **owners;                  /* per part: the owner's member id, NULL none */
};

static char *
field(char **p)
{
	char *s = *p, *t;

	if (!s)
		return NULL;
	if ((t = strchr(s, '\t'))) {
		*t = 0;
		*p = t + 1;
	} else
		*p = NULL;
	return s;
}

static int
desc_line(void *arg, char *line)
{
	struct desc *d = arg;
	struct klog_group_info *gi = d->gi;
	char *p = line, *f[8];
	int n = 0;
	int64_t v[4];

	while (n < 8 && (f[n] = field(&p)))
		n++;
	errno = EPROTO;
	if (n == 6 && !strcmp(f[0], "member")) {
		struct klog_gmember_info *m = realloc(gi->members, (gi->nmembers + 1) * sizeof *m);
		if (!m)
			return -1;
		gi->members = m;
		m += gi->nmembers;
		memset(m, 0, sizeof *m);
		gi->nmembers++;
		if (!(m->member_id = strdup(f[1])) || (strcmp(f[2], "-") &&
		    !(m->instance_id = strdup(f[2]))) || !(m->client_id = strdup(f[3])) ||
		    !(m->host = strdup(f[4])) || klog_parse_i64(f[5], &v[0]) < 0)
			return -1;
		m->pid = (int)v[0];
		return 0;
	}
	if (n == 7 && !strcmp(f[0], "partition")) {
		struct klog_gpart_info *pt = realloc(gi->parts, (gi->nparts + 1) * sizeof *pt);
		char **o;
		if (!pt)
			return -1;
		gi->parts = pt;
		if (!(o = realloc(d->owners, (gi->nparts + 1) * sizeof *o)))
			return -1;
		d->owners = o;
		o[gi->nparts] = NULL;
		pt += gi->nparts;
		memset(pt, 0, sizeof *pt);
		gi->nparts++;
		if (!(pt->topic = strdup(f[1])) || klog_parse_i64(f[2], &v[0]) < 0 ||
		    klog_parse_i64(f[3], &v[1]) < 0 || klog_parse_i64(f[4], &v[2]) < 0 ||
		    klog_parse_i64(f[5], &v[3]) < 0)
			return -1;
		pt->partition = (int)v[0];
		pt->committed = v[1];
		pt->log_end = v[2];
		pt->lag = v[3];
		pt->owner = -1;
		if (strcmp(f[6], "-") && !(o[gi->nparts - 1] = strdup(f[6])))
			return -1;
		return 0;
	}
	return -1;
}

int
kgr_describe(struct klog_client *c, const char *group, struct klog_group_info *gi,
    char *err)
{
	struct desc d = { gi, NULL };
	struct kclient_ok ok;
	size_t i, j;
	int64_t gen;
	int rc = -1;

	if (kclient_call(c, NULL, 0, 0, desc_line, &d, &ok, err, "DESCRIBEGROUP %s\n", group) < 0)
		goto out;
	if (ok.argc < 4 || klog_parse_i64(ok.argv[2], &gen) < 0) {
		errno = EPROTO;
		kerr(err, "group '%s': unexpected answer to DESCRIBEGROUP", group);
		goto out;
	}
	snprintf(gi->state, sizeof gi->state, "%s", ok.argv[1]);
	snprintf(gi->strategy, sizeof gi->strategy, "%s", ok.argv[3]);
	gi->generation = (int32_t)gen;
	for (i = 0; i < gi->nparts; i++)
		for (j = 0; d.owners[i] && j < gi->nmembers; j++)
			if (!strcmp(d.owners[i], gi->members[j].member_id))
				gi->parts[i].owner = (int)j;
	rc = 0;
out:
	for (i = 0; d.owners && i < gi->nparts; i++)
		free(d.owners[i]);
	free(d.owners);
	if (rc < 0)
		klog_group_info_free(gi);
	return rc;
}

int
kgr_set_offsets(struct klog_client *c, const char *group, const struct klog_gcommit *cm,
    size_t n, char *err)
{
	struct klog_buf b = { 0 };
	struct kclient_ok ok;
	int rc = -1;

	if (n == 0)
		return 0;
	if (offset_lines(cm, n, &b, err) == 0)
		rc = kclient_call(c, b.data, b.len, -1, NULL, NULL, &ok, err, "SETOFFSETS %s %zu\n",
		    group, b.len);
	klog_buf_free(&b);
	return rc;
}

int
kgr_delete(struct klog_client *c, const char *group, char *err)
{
	struct kclient_ok ok;

	return kclient_call(c, NULL, 0, -1, NULL, NULL, &ok, err, "DELETEGROUP %s\n", group);
}
