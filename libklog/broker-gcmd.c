/* klog - kbrokerd: the group commands (JOIN ... DELETEGROUP). MIT licence. */
/*
 * What each group command checks and answers; the coordinator's state
 * (members, generations, ownership, the commit cache) is broker-group.c's.
 * The wire format is specified in proto.c and klog-protocol.7.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"
#include "group.h"

#define SESSION_MIN 10
#define SESSION_MAX 3600000
#define MAX_SUB 64                      /* topics one member subscribes to */
#define MAX_COMMITS 100000              /* lines in one COMMIT or SETOFFSETS */
#define MAX_CONN_MEMBERS 1024           /* members joined on one connection */

/* --- the commands ------------------------------------------------------ */

static int
num(const char *s, int64_t min, int64_t max, const char *what, int64_t *v, const char **code,
    char *err)
{
	if (kb_parse_num(s, min, max, v) == 0)
		return 0;
	*code = "BAD_REQUEST";
	return kerr(err, "bad %s '%.64s'", what, s);
}

static int
word(const char *s, size_t max, const char *what, const char **code, char *err)
{
	if (strlen(s) <= max)
		return 0;
	*code = "BAD_REQUEST";
	return kerr(err, "%s longer than %zu bytes", what, max);
}

static struct kbg_member *
member_get(struct kbg_group *g, const char *id, const char **code, char *err)
{
	struct kbg_member *m = kbg_member_find(g, id, NULL);

	if (!m) {
		*code = "FENCED";
		kerr(err, "member '%.255s' is not in group '%s' (removed, replaced or never joined)",
		    id, g->name);
	}
	return m;
}

static int
gen_check(struct kbg_group *g, struct kbg_member *m, const char *s, const char **code, char *err)
{
	int64_t gen;

	if (num(s, 0, INT32_MAX, "generation", &gen, code, err) < 0)
		return -1;
	if (gen < m->join_gen || gen > g->generation) {
		*code = "FENCED";
		return kerr(err, "group '%s': generation %" PRId64 " is not one of member '%s' "
		    "(%d to %d)", g->name, gen, m->id, m->join_gen, g->generation);
	}
	return 0;
}

static void
bind_conn(struct kbg_member *m, struct conn *c)
{
	if (m->c == c)
		return;
	if (m->c)
		m->c->gmembers--;
	m->c = c;
	c->gmembers++;
}

static void
new_id(struct kbg *G, const char *client_id, char *out, size_t n)
{
	uint64_t x = ++G->seq * 0x9e3779b97f4a7c15ULL;

	x ^= (uint64_t)kb_now_us() << 17;
	x ^= x >> 29;
	snprintf(out, n, "%.200s-%016" PRIx64, client_id, x);
}

static int
mcmp(const void *a, const void *b)
{
	return strcmp((*(struct kbg_member *const *)a)->id, (*(struct kbg_member *const *)b)->id);
}

/* "a,b,c": checked, existing, sorted, unique */
static int
topics_parse(struct klog_broker *b, const char *s, char ***out, size_t *n, const char **code,
    char *err)
{
	char *copy = strdup(s), *p, *save = NULL, **v = NULL;
	size_t k = 0, i, j;

	if (!copy) {
		*code = "INTERNAL";
		return kerr_sys(err, "topics");
	}
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char **nv;
		if (k == MAX_SUB) {
			*code = "BAD_REQUEST";
			kerr(err, "more than %d topics", MAX_SUB);
			goto fail;
		}
		if (!kb_topic_get(b, p, code, err))
			goto fail;
		if (!(nv = realloc(v, (k + 1) * sizeof *v)) || !(nv[k] = strdup(p))) {
			if (nv)
				v = nv;
			*code = "INTERNAL";
			kerr_sys(err, "topics");
			goto fail;
		}
		v = nv;
		k++;
	}
	if (!k) {
		*code = "BAD_REQUEST";
		kerr(err, "no topic");
		goto fail;
	}
	qsort(v, k, sizeof *v, kbg_strcmpp);
	for (i = j = 0; i < k; i++) {
		if (j && !strcmp(v[i], v[j - 1])) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	free(copy);
	*out = v;
	*n = j;
	return 0;
fail:
	klog_strv_free(v, k);
	free(copy);
	return -1;
}

static int
same_topics(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return 1;
}

/* JOIN GROUP MEMBER|- INSTANCE|- SESSION_MS STRATEGY TOPIC[,TOPIC...] CLIENT_ID HOST PID */
static int
cmd_join(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_broker *b = c->b;
	struct kbg *G = b->groups;
	struct kbg_group *g;
	struct kbg_member *m = NULL, **v;
	const char *inst = strcmp(r->argv[3], "-") ? r->argv[3] : NULL;
	char **topics = NULL, id[256];
	size_t nt = 0, i;
	int64_t session, pid;
	int takeover = 0;

	if (!(g = kbg_group_get(b, r->argv[1], 1, code, err)))
		return -1;
	if (word(r->argv[2], 255, "member id", code, err) < 0 ||
	    word(r->argv[3], 249, "instance id", code, err) < 0 ||
	    word(r->argv[7], 200, "client id", code, err) < 0 ||
	    word(r->argv[8], 255, "host", code, err) < 0 ||
	    num(r->argv[4], SESSION_MIN, SESSION_MAX, "session timeout", &session, code, err) < 0 ||
	    num(r->argv[9], 0, INT32_MAX, "pid", &pid, code, err) < 0)
		goto fail;
	if (kbg_strategy_ok(r->argv[5], err) < 0) {
		*code = "INVALID";
		goto fail;
	}
	if (g->nm && strcmp(g->strategy, r->argv[5])) {
		*code = "INVALID";
		kerr(err, "group '%s' uses strategy '%s', not '%.64s'", g->name, g->strategy,
		    r->argv[5]);
		goto fail;
	}
	if (topics_parse(b, r->argv[6], &topics, &nt, code, err) < 0)
		goto fail;
	if (strcmp(r->argv[2], "-"))
		m = kbg_member_find(g, r->argv[2], NULL);
	for (i = 0; !m && inst && i < g->nm; i++)
		if (g->m[i]->instance && !strcmp(g->m[i]->instance, inst)) {
			m = g->m[i];
			takeover = 1;
		}
	if (m) {
		char *cid = strdup(r->argv[7]), *host = strdup(r->argv[8]);
		if (!cid || !host) {
			free(cid);
			free(host);
			goto oom;
		}
		if (takeover) {
			char *nid;
			new_id(G, r->argv[7], id, sizeof id);
			if (!(nid = strdup(id))) {
				free(cid);
				free(host);
				goto oom;
			}
			kb_log(b, LOG_INFO, "group '%s': instance '%s' is member '%s' now; '%s' fenced",
			    g->name, inst, nid, m->id);
			free(m->id);
			m->id = nid;
			m->join_gen = g->generation;
			qsort(g->m, g->nm, sizeof *g->m, mcmp);
		}
		free(m->client_id);
		free(m->host);
		m->client_id = cid;
		m->host = host;
		m->pid = (int)pid;
		m->session_ms = (int)session;
		m->last_seen = klog_now_ms();
		m->ver++;
		bind_conn(m, c);
		if (!same_topics(m->topics, m->ntopics, topics, nt)) {
			klog_strv_free(m->topics, m->ntopics);
			m->topics = topics;
			m->ntopics = nt;
			topics = NULL;
			kbg_rebalance(b, g);
		}
		klog_strv_free(topics, nt);
		kb_reply(c, "OK %s %d\n", m->id, g->generation);
		return 0;
	}
	if (c->gmembers >= MAX_CONN_MEMBERS) {
		*code = "BUSY";
		kerr(err, "%d group members joined on this connection already", MAX_CONN_MEMBERS);
		goto fail;
	}
	if (!(m = calloc(1, sizeof *m)))
		goto oom;
	new_id(G, r->argv[7], id, sizeof id);
	m->id = strdup(id);
	m->instance = inst ? strdup(inst) : NULL;
	m->client_id = strdup(r->argv[7]);
	m->host = strdup(r->argv[8]);
	if (!m->id || (inst && !m->instance) || !m->client_id || !m->host ||
	    !(v = realloc(g->m, (g->nm + 1) * sizeof *v))) {
		kbg_member_free(m);
		goto oom;
	}
	g->m = v;
	m->pid = (int)pid;
	m->session_ms = (int)session;
	m->last_seen = klog_now_ms();
	m->topics = topics;
	m->ntopics = nt;
	m->ver = 1;
	if (!g->nm)
		snprintf(g->strategy, sizeof g->strategy, "%s", r->argv[5]);
	g->m[g->nm++] = m;
	qsort(g->m, g->nm, sizeof *g->m, mcmp);
	m->c = c;
	c->gmembers++;
	kbg_rebalance(b, g);
	m->join_gen = g->generation;
	kb_log(b, LOG_INFO, "group '%s': member '%s' joined (generation %d)", g->name, m->id,
	    g->generation);
	kb_reply(c, "OK %s %d\n", m->id, g->generation);
	return 0;
oom:
	*code = "INTERNAL";
	kerr(err, "group '%s': out of memory", g->name);
fail:
	klog_strv_free(topics, nt);
	if (g)
		kbg_group_gc(G, g);
	return -1;
}

/*
 * HEARTBEAT GROUP MEMBER GENERATION [VERSION]: "OK N GENERATION VERSION"
 * and N lines, "own TOPIC PARTITION COMMITTED" or "revoke TOPIC PARTITION COMMITTED";
 * N is 0 when VERSION is the member's current one (nothing changed).
 */
static int
cmd_heartbeat(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct kbg_group *g;
	struct kbg_member *m;
	struct klog_buf out = { 0 }, body = { 0 };
	int64_t ver = -1;
	size_t i, n = 0;

	if (!(g = kbg_group_get(c->b, r->argv[1], 0, code, err)) ||
	    !(m = member_get(g, r->argv[2], code, err)) || gen_check(g, m, r->argv[3], code, err) < 0)
		return -1;
	if (r->argc > 4 && num(r->argv[4], 0, INT64_MAX, "version", &ver, code, err) < 0)
		return -1;
	m->last_seen = klog_now_ms();
	bind_conn(m, c);
	if (ver != (int64_t)m->ver)
		for (i = 0; i < g->ntp; i++) {
			if (g->owner[i] != m)
				continue;
			n++;
			if (g->target[i] == m)
				klog_buf_printf(&body, "own %s %d %" PRId64 "\n", g->tp[i].topic,
				    g->tp[i].partition, kbg_committed(g, g->tp[i].topic, g->tp[i].partition));
			else
				klog_buf_printf(&body, "revoke %s %d %" PRId64 "\n", g->tp[i].topic,
				    g->tp[i].partition, kbg_committed(g, g->tp[i].topic, g->tp[i].partition));
		}
	klog_buf_printf(&out, "OK %zu %d %" PRIu64 "\n", n, g->generation, m->ver);
	if (body.len)
		klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	kb_reply_take(c, &out);
	return 0;
}

/* payload lines "TOPIC PARTITION OFFSET" (offset >= minoff); topics point
 * into *txt */
static int
parse_lines(const unsigned char *data, size_t len, int64_t minoff, char **txt,
    struct kbg_commit **out, size_t *n, const char **code, char *err)
{
	struct kbg_commit *v = NULL;
	size_t k = 0, cap = 0, line = 0;
	char *s, *p, *save = NULL;

	*out = NULL;
	*n = 0;
	if (!(s = *txt = malloc(len + 1))) {
		*code = "INTERNAL";
		return kerr_sys(err, "commit");
	}
	if (len)
		memcpy(s, data, len);
	s[len] = 0;
	for (p = strtok_r(s, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		char *w[4], *q = p, *sv = NULL;
		int nw = 0;
		int64_t part, off;
		line++;
		for (q = strtok_r(q, " \t\r", &sv); q && nw < 4; q = strtok_r(NULL, " \t\r", &sv))
			w[nw++] = q;
		if (nw == 0)
			continue;
		if (nw != 3) {
			*code = "BAD_REQUEST";
			kerr(err, "line %zu: not TOPIC PARTITION OFFSET", line);
			goto fail;
		}
		if (klog_topic_name_check(w[0], err) < 0) {
			*code = "INVALID";
			goto fail;
		}
		if (num(w[1], 0, INT32_MAX, "partition", &part, code, err) < 0 ||
		    num(w[2], minoff, INT64_MAX, "offset", &off, code, err) < 0)
			goto fail;
		if (k == MAX_COMMITS) {
			*code = "TOO_LARGE";
			kerr(err, "more than %d offsets", MAX_COMMITS);
			goto fail;
		}
		if (k == cap) {
			struct kbg_commit *nv;
			cap = cap ? cap * 2 : 16;
			if (!(nv = realloc(v, cap * sizeof *nv))) {
				*code = "INTERNAL";
				kerr_sys(err, "commit");
				goto fail;
			}
			v = nv;
		}
		v[k].topic = w[0];
		v[k].partition = (int)part;
		v[k].offset = off;
		v[k++].ts = 0;
	}
	if (!k) {
		*code = "BAD_REQUEST";
		kerr(err, "no offsets");
		goto fail;
	}
	*out = v;
	*n = k;
	return 0;
fail:
	free(v);
	return -1;
}

/* the end of a partition for checking offsets; -1 with code if none */
static int64_t
part_end(struct klog_broker *b, const char *topic, int partition, int64_t *start,
    const char **code, char *err)
{
	struct btopic *t = kb_topic_get(b, topic, code, err);
	struct klog_part_info pi;
	struct bpart *bp;

	if (!t)
		return -1;
	if (partition >= t->np) {
		*code = "UNKNOWN_PARTITION";
		kerr(err, "topic '%s' has %d partition%s", topic, t->np, t->np == 1 ? "" : "s");
		return -1;
	}
	bp = t->parts[partition];
	if (kb_part_info(b, bp, &pi, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	if (start)
		*start = pi.log_start < 0 ? 0 : pi.log_start;
	return bp->p ? bp->log_end : pi.log_end < 0 ? 0 : pi.log_end;
}

static int
offsets_check(struct klog_broker *b, const struct kbg_commit *v, size_t n, const char **code,
    char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t end;
		if (v[i].offset < 0)
			continue;
		if ((end = part_end(b, v[i].topic, v[i].partition, NULL, code, err)) < 0)
			return -1;
		if (v[i].offset > end) {
			*code = "OFFSET_OUT_OF_RANGE";
			return kerr(err, "offset %" PRId64 " of '%s-%d' is past its log end %" PRId64,
			    v[i].offset, v[i].topic, v[i].partition, end);
		}
	}
	return 0;
}

/* COMMIT GROUP MEMBER GENERATION N\n<N bytes: "TOPIC PARTITION OFFSET" lines> */
static int
cmd_commit(struct conn *c, struct klog_req *r, unsigned char *payload, const char **code,
    char *err)
{
	struct klog_broker *b = c->b;
	struct kbg_group *g;
	struct kbg_member *m;
	struct kbg_commit *v = NULL;
	struct bpart *bp;
	char *txt = NULL, line[64];
	size_t n = 0, i;
	int64_t need;
	int rc = -1;

	if (!(g = kbg_group_get(b, r->argv[1], 0, code, err)) ||
	    !(m = member_get(g, r->argv[2], code, err)) || gen_check(g, m, r->argv[3], code, err) < 0 ||
	    parse_lines(payload, (size_t)r->payload, 0, &txt, &v, &n, code, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		int k = kbg_tp_index(g, v[i].topic, v[i].partition);
		if (k < 0 || g->owner[k] != m) {
			*code = "FENCED";
			kerr(err, "group '%s': partition '%s-%d' is not owned by member '%s'", g->name,
			    v[i].topic, v[i].partition, m->id);
			goto out;
		}
	}
	if (offsets_check(b, v, n, code, err) < 0)
		goto out;
	m->last_seen = klog_now_ms();
	if (kbg_offsets_write(b, g, v, n, 0, &bp, &need, code, err) < 0)
		goto out;
	snprintf(line, sizeof line, "OK %zu\n", n);
	kbg_reply_synced(c, bp, need, line);
	rc = 0;
out:
	free(v);
	free(txt);
	return rc;
}

/* RELEASE GROUP MEMBER GENERATION TOPIC PARTITION [TOPIC PARTITION...] */
static int
cmd_release(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct kbg_group *g;
	struct kbg_member *m;
	int idx[KLOG_PROTO_MAX_ARGS];
	int i, n = 0;

	if (!(g = kbg_group_get(c->b, r->argv[1], 0, code, err)) ||
	    !(m = member_get(g, r->argv[2], code, err)) || gen_check(g, m, r->argv[3], code, err) < 0)
		return -1;
	if ((r->argc - 4) % 2) {
		*code = "BAD_REQUEST";
		return kerr(err, "RELEASE takes TOPIC PARTITION pairs");
	}
	for (i = 4; i + 1 < r->argc; i += 2) {
		int64_t p;
		if (num(r->argv[i + 1], 0, INT32_MAX, "partition", &p, code, err) < 0)
			return -1;
		idx[n] = kbg_tp_index(g, r->argv[i], (int)p);
		if (idx[n] < 0 || g->owner[idx[n]] != m) {
			*code = "FENCED";
			return kerr(err, "group '%s': partition '%.249s-%d' is not owned by member '%s'",
			    g->name, r->argv[i], (int)p, m->id);
		}
		n++;
	}
	for (i = 0; i < n; i++)
		g->owner[idx[i]] = NULL;
	m->ver++;
	m->last_seen = klog_now_ms();
	kbg_reconcile(g);
	kb_reply(c, "OK\n");
	return 0;
}

/* LEAVE GROUP MEMBER */
static int
cmd_leave(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct kbg_group *g;
	size_t at = 0;

	if (!(g = kbg_group_get(c->b, r->argv[1], 0, code, err)) ||
	    !member_get(g, r->argv[2], code, err))
		return -1;
	kbg_member_find(g, r->argv[2], &at);
	kbg_member_remove(c->b, g, at, "it left");
	kbg_group_gc(c->b->groups, g);
	kb_reply(c, "OK\n");
	return 0;
}

/* COMMITTED GROUP: "OK N", then "TOPIC\tPARTITION\tOFFSET" lines */
static int
cmd_committed(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_buf out = { 0 };
	struct kbg_group *g;
	size_t i;

	if (!(g = kbg_group_get(c->b, r->argv[1], 0, code, err)))
		return -1;
	klog_buf_printf(&out, "OK %zu\n", g->ncm);
	for (i = 0; i < g->ncm; i++)
		klog_buf_printf(&out, "%s\t%d\t%" PRId64 "\n", g->cm[i].topic, g->cm[i].partition,
		    g->cm[i].offset);
	kb_reply_take(c, &out);
	return 0;
}

static int
gcmp(const void *a, const void *b)
{
	return strcmp((*(struct kbg_group *const *)a)->name, (*(struct kbg_group *const *)b)->name);
}

/* GROUPS: "OK N", then the names of groups with members or commits */
static int
cmd_groups(struct conn *c, const char **code, char *err)
{
	struct klog_buf out = { 0 };
	struct kbg_group *g, **v = NULL;
	size_t n = 0, i;

	if (kbg_load_all(c->b, code, err) < 0)
		return -1;
	for (g = c->b->groups->groups; g; g = g->next)
		if (kbg_group_exists(g)) {
			struct kbg_group **nv = realloc(v, (n + 1) * sizeof *v);
			if (!nv) {
				free(v);
				*code = "INTERNAL";
				return kerr_sys(err, "groups");
			}
			v = nv;
			v[n++] = g;
		}
	if (n)
		qsort(v, n, sizeof *v, gcmp);
	klog_buf_printf(&out, "OK %zu\n", n);
	for (i = 0; i < n; i++)
		klog_buf_printf(&out, "%s\n", v[i]->name);
	free(v);
	kb_reply_take(c, &out);
	return 0;
}

static const char *
gstate(const struct kbg_group *g)
{
	size_t i;

	if (!g->nm)
		return "Empty";
	for (i = 0; i < g->ntp; i++)
		if (g->owner[i] != g->target[i])
			return "PreparingRebalance";
	return "Stable";
}

static void
describe_part(struct klog_broker *b, struct klog_buf *body, struct kbg_group *g,
    const char *topic, int partition)
{
	char err[KLOG_ERRLEN];
	const char *code;
	int64_t cm = kbg_committed(g, topic, partition), start = 0, end, lag;
	int k = kbg_tp_index(g, topic, partition);
	struct kbg_member *o = k >= 0 ? g->owner[k] : NULL;

	end = part_end(b, topic, partition, &start, &code, err);
	lag = end < 0 ? -1 : cm >= 0 ? (end > cm ? end - cm : 0) : end - start;
	klog_buf_printf(body, "partition\t%s\t%d\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%s\n",
	    topic, partition, cm, end, lag, o ? o->id : "-");
}

/*
 * DESCRIBEGROUP GROUP: "OK N STATE GENERATION STRATEGY", then N lines:
 *   member\tID\tINSTANCE|-\tCLIENT_ID\tHOST\tPID
 *   partition\tTOPIC\tPARTITION\tCOMMITTED\tLOG_END\tLAG\tOWNER|-
 */
static int
cmd_describegroup(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_buf out = { 0 }, body = { 0 };
	struct kbg_group *g;
	size_t i, j, n = 0;

	if (!(g = kbg_group_get(c->b, r->argv[1], 0, code, err)))
		return -1;
	for (i = 0; i < g->nm; i++, n++)
		klog_buf_printf(&body, "member\t%s\t%s\t%s\t%s\t%d\n", g->m[i]->id,
		    g->m[i]->instance ? g->m[i]->instance : "-", g->m[i]->client_id, g->m[i]->host,
		    g->m[i]->pid);
	/* the subscribed partitions and those with a commit, merged in order */
	for (i = j = 0; i < g->ntp || j < g->ncm; n++) {
		int d = i == g->ntp ? 1 : j == g->ncm ? -1 : kbg_tpcmp(g->tp[i].topic,
		    g->tp[i].partition, g->cm[j].topic, g->cm[j].partition);
		if (d <= 0)
			describe_part(c->b, &body, g, g->tp[i].topic, g->tp[i].partition);
		else
			describe_part(c->b, &body, g, g->cm[j].topic, g->cm[j].partition);
		if (d <= 0)
			i++;
		if (d >= 0)
			j++;
	}
	klog_buf_printf(&out, "OK %zu %s %d %s\n", n, gstate(g), g->generation, g->strategy);
	if (body.len)
		klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	kb_reply_take(c, &out);
	return 0;
}

static int
busy(struct kbg_group *g, const char **code, char *err)
{
	char who[KLOG_ERRLEN] = "";
	size_t i, at = 0;

	if (!g->nm)
		return 0;
	for (i = 0; i < g->nm && at < sizeof who - 1; i++) {
		int k = snprintf(who + at, sizeof who - at, "%s%s (%s on %s, pid %d)", i ? ", " : "",
		    g->m[i]->id, g->m[i]->client_id, g->m[i]->host, g->m[i]->pid);
		if (k < 0)
			break;
		at += (size_t)k;
	}
	*code = "BUSY";
	return kerr(err, "group '%s' has %zu live member%s: %s", g->name, g->nm,
	    g->nm == 1 ? "" : "s", who);
}

/* SETOFFSETS GROUP N\n<N bytes: "TOPIC PARTITION OFFSET" lines, -1 deletes> */
static int
cmd_setoffsets(struct conn *c, struct klog_req *r, unsigned char *payload, const char **code,
    char *err)
{
	struct klog_broker *b = c->b;
	struct kbg_group *g;
	struct kbg_commit *v = NULL;
	struct bpart *bp;
	char *txt = NULL, line[64];
	size_t n = 0;
	int64_t need;
	int rc = -1;

	if (!(g = kbg_group_get(b, r->argv[1], 1, code, err)))
		return -1;
	if (busy(g, code, err) < 0 ||
	    parse_lines(payload, (size_t)r->payload, -1, &txt, &v, &n, code, err) < 0 ||
	    offsets_check(b, v, n, code, err) < 0 ||
	    kbg_offsets_write(b, g, v, n, 0, &bp, &need, code, err) < 0)
		goto out;
	snprintf(line, sizeof line, "OK %zu\n", n);
	kbg_reply_synced(c, bp, need, line);
	rc = 0;
out:
	free(v);
	free(txt);
	kbg_group_gc(b->groups, g);
	return rc;
}

/* DELETEGROUP GROUP: tombstones for its metadata and every commit */
static int
cmd_deletegroup(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_broker *b = c->b;
	struct kbg_group *g;
	struct kbg_commit *v = NULL;
	struct bpart *bp;
	size_t i, n;
	int64_t need;
	int rc = -1;

	if (!(g = kbg_group_get(b, r->argv[1], 0, code, err)) || busy(g, code, err) < 0)
		return -1;
	n = g->ncm;
	if (n && !(v = calloc(n, sizeof *v))) {
		*code = "INTERNAL";
		return kerr_sys(err, "group '%s'", g->name);
	}
	for (i = 0; i < n; i++) {
		v[i].topic = g->cm[i].topic;    /* commit_set frees them: copy first */
		v[i].partition = g->cm[i].partition;
		v[i].offset = -1;
	}
	for (i = 0; i < n; i++)
		if (!(v[i].topic = strdup(v[i].topic))) {
			while (i-- > 0)
				free(v[i].topic);
			free(v);
			*code = "INTERNAL";
			return kerr_sys(err, "group '%s'", g->name);
		}
	if (kbg_offsets_write(b, g, v, n, 1, &bp, &need, code, err) < 0)
		goto out;
	kb_log(b, LOG_INFO, "deleted group '%s'", g->name);
	kbg_group_gc(b->groups, g);
	kbg_reply_synced(c, bp, need, "OK\n");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(v[i].topic);
	free(v);
	return rc;
}

void
kb_group_cmd(struct conn *c, struct klog_req *r, unsigned char *payload, int64_t t0)
{
	struct klog_broker *b = c->b;
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN] = "";
	int rc = -1;

	if (!kbg_get(b))
		kerr(err, "groups: out of memory");
	else
		switch (r->verb) {
		case KLOG_V_JOIN:
			rc = cmd_join(c, r, &code, err);
			break;
		case KLOG_V_HEARTBEAT:
			rc = cmd_heartbeat(c, r, &code, err);
			break;
		case KLOG_V_COMMIT:
			rc = cmd_commit(c, r, payload, &code, err);
			break;
		case KLOG_V_RELEASE:
			rc = cmd_release(c, r, &code, err);
			break;
		case KLOG_V_LEAVE:
			rc = cmd_leave(c, r, &code, err);
			break;
		case KLOG_V_COMMITTED:
			rc = cmd_committed(c, r, &code, err);
			break;
		case KLOG_V_GROUPS:
			rc = cmd_groups(c, &code, err);
			break;
		case KLOG_V_DESCRIBEGROUP:
			rc = cmd_describegroup(c, r, &code, err);
			break;
		case KLOG_V_SETOFFSETS:
			rc = cmd_setoffsets(c, r, payload, &code, err);
			break;
		case KLOG_V_DELETEGROUP:
			rc = cmd_deletegroup(c, r, &code, err);
			break;
		}
	if (rc < 0)
		kb_reply_err(c, code, err);
	kb_observe(b, r->verb, t0, rc < 0);
}
