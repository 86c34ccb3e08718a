/* klog - a cluster's description, its state as text lines, the controller's rules. MIT licence. */
/*
 * The description (--cluster, --cluster-file) is a list of nodes
 *
 *	ID@HOST:PORT
 *
 * separated by commas, blanks or newlines; '#' starts a comment that runs
 * to the end of its line.  ID is a decimal node id >= 0, each once; the
 * first node is the controller.  At most KC_MAX_NODES nodes.
 *
 * The state is ASCII text, one record a line, words separated by one
 * space, every line ending in "\n":
 *
 *	cluster CONTROLLER VERSION SELF
 *	node ID ADDR alive|dead
 *	topic NAME PARTITIONS RF [KEY=VALUE...]
 *	part NAME PARTITION LEADER LEADER_EPOCH PART_EPOCH REPLICAS ISR
 *
 * CONTROLLER is the controller's node id (-1: a standalone broker),
 * VERSION a decimal >= 0 that grows at every change of the controller's
 * state, SELF the node that wrote the lines (-1 in the controller's file
 * DIR/cluster-state).  ADDR is HOST:PORT as the node registered it (or as
 * the description gives it), with no blank.  NAME is a topic name
 * (Kafka's rule, topic.c), PARTITIONS >= 1, RF >= 1 its replication
 * factor, KEY=VALUE its configuration (topic config keys, no blank).
 * LEADER is a node id or -1 (offline); LEADER_EPOCH is bumped at every
 * leader change, PART_EPOCH at every leader or ISR change (both >= 0).
 * REPLICAS and ISR are comma-separated node ids, each once, or "-" when
 * empty; the ISR is a subset of the replicas; LEADER, when not -1, is one
 * of the replicas.
 *
 * Order: the cluster line first, then the node lines, then each topic
 * line followed by its part lines; every partition of a topic has
 * exactly one part line, after its topic line.  A reader rejects unknown
 * line kinds, a missing or repeated line, and any value out of range,
 * naming the line; blank lines and lines starting with '#' are ignored
 * (the file may be annotated by hand).
 *
 * The rules (kc_assign, kc_node_died, kc_node_born, kc_alter_isr) are
 * the controller's, kept here as functions of a state so that they can be
 * tested without a broker; see cluster.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "cluster.h"

#define MAX_WORDS (4 + 1024)    /* a topic line: 4 words and its configuration */

void
kc_state_init(struct kc_state *st)
{
	memset(st, 0, sizeof *st);
	st->controller = -1;
	st->self = -1;
}

static void
topic_free(struct kc_topic *t)
{
	size_t i;

	free(t->name);
	for (i = 0; i < t->nkv; i++)
		free(t->kv[i]);
	free(t->kv);
	free(t->parts);
	memset(t, 0, sizeof *t);
}

void
kc_state_free(struct kc_state *st)
{
	size_t i;

	for (i = 0; i < st->ntopics; i++)
		topic_free(&st->topics[i]);
	free(st->topics);
	free(st->nodes);
	kc_state_init(st);
}

static int
topic_copy(struct kc_topic *d, const struct kc_topic *s)
{
	size_t i;

	memset(d, 0, sizeof *d);
	d->np = s->np;
	d->rf = s->rf;
	if (!(d->name = strdup(s->name)) ||
	    (s->nkv && !(d->kv = calloc(s->nkv, sizeof *d->kv))) ||
	    !(d->parts = calloc((size_t)(s->np ? s->np : 1), sizeof *d->parts)))
		goto fail;
	for (i = 0; i < s->nkv; i++) {
		if (!(d->kv[i] = strdup(s->kv[i])))
			goto fail;
		d->nkv++;
	}
	memcpy(d->parts, s->parts, (size_t)s->np * sizeof *d->parts);
	return 0;
fail:
	topic_free(d);
	return -1;
}

int
kc_state_copy(struct kc_state *dst, const struct kc_state *src, char *err)
{
	size_t i;

	kc_state_init(dst);
	dst->controller = src->controller;
	dst->version = src->version;
	dst->self = src->self;
	if (src->nnodes && !(dst->nodes = calloc(src->nnodes, sizeof *dst->nodes)))
		goto fail;
	if (src->nnodes)
		memcpy(dst->nodes, src->nodes, src->nnodes * sizeof *dst->nodes);
	dst->nnodes = src->nnodes;
	if (src->ntopics && !(dst->topics = calloc(src->ntopics, sizeof *dst->topics)))
		goto fail;
	for (i = 0; i < src->ntopics; i++) {
		if (topic_copy(&dst->topics[i], &src->topics[i]) < 0)
			goto fail;
		dst->ntopics++;
	}
	return 0;
fail:
	kc_state_free(dst);
	errno = ENOMEM;
	return kerr_sys(err, "cluster state");
}

struct kc_node *
kc_node_find(struct kc_state *st, int id)
{
	size_t i;

	for (i = 0; i < st->nnodes; i++)
		if (st->nodes[i].id == id)
			return &st->nodes[i];
	return NULL;
}

struct kc_topic *
kc_topic_find(struct kc_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->ntopics; i++)
		if (!strcmp(st->topics[i].name, name))
			return &st->topics[i];
	return NULL;
}

static int
ids_has(const int *ids, int n, int id)
{
	int i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

int
kc_isr_has(const struct kc_part *p, int node)
{
	return ids_has(p->isr, p->nisr, node);
}

int
kc_replicas_has(const struct kc_part *p, int node)
{
	return ids_has(p->replicas, p->nreplicas, node);
}

void
kc_ids_format(const int *ids, int n, char *buf, size_t len)
{
	size_t at = 0;
	int i, k;

	if (!len)
		return;
	buf[0] = 0;
	if (n <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	for (i = 0; i < n && at < len; i++) {
		k = snprintf(buf + at, len - at, "%s%d", i ? "," : "", ids[i]);
		if (k < 0)
			break;
		at += (size_t)k;
	}
}

/* a decimal int in [min, INT32_MAX] */
static int
parse_int(const char *s, int64_t min, int64_t *v)
{
	if (klog_parse_i64(s, v) < 0 || *v < min || *v > INT32_MAX)
		return -1;
	return 0;
}

int
kc_ids_parse(const char *s, int *ids, int *n, char *err)
{
	const char *p = s, *comma;
	char num[24];
	int64_t v;
	size_t len;

	*n = 0;
	if (!strcmp(s, "-"))
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof num)
			goto bad;
		memcpy(num, p, len);
		num[len] = 0;
		if (parse_int(num, 0, &v) < 0)
			goto bad;
		if (ids_has(ids, *n, (int)v)) {
			errno = EINVAL;
			return kerr(err, "node list '%s': node %d twice", s, (int)v);
		}
		if (*n >= KC_MAX_REPLICAS) {
			errno = EINVAL;
			return kerr(err, "node list '%s': more than %d nodes", s, KC_MAX_REPLICAS);
		}
		ids[(*n)++] = (int)v;
		if (!comma)
			return 0;
		p = comma + 1;
	}
bad:
	errno = EINVAL;
	return kerr(err, "bad node list '%s'", s);
}

int
kc_addr_ok(const char *a)
{
	const char *colon = strrchr(a, ':');
	int64_t port;

	if (!colon || colon == a || strlen(a) >= KC_ADDR_MAX || strpbrk(a, " \t\r\n"))
		return 0;
	return klog_parse_i64(colon + 1, &port) == 0 && port >= 0 && port <= 65535;
}

static int
node_add(struct kc_state *st, int id, const char *addr, int alive, char *err)
{
	struct kc_node *n;

	if (kc_node_find(st, id)) {
		errno = EINVAL;
		return kerr(err, "node %d twice", id);
	}
	if (st->nnodes >= KC_MAX_NODES) {
		errno = EINVAL;
		return kerr(err, "more than %d nodes", KC_MAX_NODES);
	}
	if (!kc_addr_ok(addr)) {
		errno = EINVAL;
		return kerr(err, "node %d: bad address '%s' (HOST:PORT)", id, addr);
	}
	if (!st->nodes && !(st->nodes = calloc(KC_MAX_NODES, sizeof *st->nodes)))
		return kerr_sys(err, "cluster state");
	n = &st->nodes[st->nnodes++];
	memset(n, 0, sizeof *n);
	n->id = id;
	snprintf(n->addr, sizeof n->addr, "%s", addr);
	n->alive = alive;
	return 0;
}

int
kc_spec_parse(const char *spec, struct kc_state *st, char *err)
{
	char msg[KLOG_ERRLEN], word[KC_ADDR_MAX + 32];
	const char *p = spec, *at;
	int64_t id;
	size_t len;

	kc_state_init(st);
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (!*p)
			break;
		len = strcspn(p, ", \t\r\n#");
		if (len >= sizeof word) {
			errno = EINVAL;
			kerr(err, "cluster description: node '%.40s...' too long", p);
			goto fail;
		}
		memcpy(word, p, len);
		word[len] = 0;
		p += len;
		at = strchr(word, '@');
		if (at)
			word[at - word] = 0;
		if (!at || parse_int(word, 0, &id) < 0) {
			if (at)
				word[at - word] = '@';
			errno = EINVAL;
			kerr(err, "cluster description: bad node '%s' (ID@HOST:PORT)", word);
			goto fail;
		}
		if (node_add(st, (int)id, at + 1, 0, msg) < 0) {
			kerr(err, "cluster description: %s", msg);
			goto fail;
		}
		if (st->nnodes == 1)
			st->controller = (int)id;
	}
	if (!st->nnodes) {
		errno = EINVAL;
		kerr(err, "cluster description: no node");
		goto fail;
	}
	return 0;
fail:
	kc_state_free(st);
	return -1;
}

int
kc_spec_read(const char *path, struct kc_state *st, char *err)
{
	char msg[KLOG_ERRLEN];
	char *text;
	int rc;

	if (klog_read_file(path, &text, NULL, err) < 0)
		return -1;
	rc = kc_spec_parse(text, st, msg);
	free(text);
	if (rc < 0)
		return kerr(err, "cluster file '%s': %s", path, msg);
	return 0;
}

static int
selected(const char *name, char **topics, size_t n)
{
	size_t i;

	if (!topics)
		return 1;
	for (i = 0; i < n; i++)
		if (!strcmp(topics[i], name))
			return 1;
	return 0;
}

int
kc_state_format(const struct kc_state *st, char **topics, size_t ntopics, struct klog_buf *out)
{
	char rs[KC_MAX_REPLICAS * 12 + 2], is[KC_MAX_REPLICAS * 12 + 2];
	const struct kc_topic *t;
	const struct kc_part *p;
	size_t i, k;
	int j;

	if (klog_buf_printf(out, "cluster %d %" PRId64 " %d\n", st->controller, st->version,
	    st->self) < 0)
		return -1;
	for (i = 0; i < st->nnodes; i++)
		if (klog_buf_printf(out, "node %d %s %s\n", st->nodes[i].id, st->nodes[i].addr,
		    st->nodes[i].alive ? "alive" : "dead") < 0)
			return -1;
	for (i = 0; i < st->ntopics; i++) {
		t = &st->topics[i];
		if (!selected(t->name, topics, ntopics))
			continue;
		if (klog_buf_printf(out, "topic %s %d %d", t->name, t->np, t->rf) < 0)
			return -1;
		for (k = 0; k < t->nkv; k++)
			if (klog_buf_printf(out, " %s", t->kv[k]) < 0)
				return -1;
		if (klog_buf_printf(out, "\n") < 0)
			return -1;
		for (j = 0; j < t->np; j++) {
			p = &t->parts[j];
			kc_ids_format(p->replicas, p->nreplicas, rs, sizeof rs);
			kc_ids_format(p->isr, p->nisr, is, sizeof is);
			if (klog_buf_printf(out, "part %s %d %d %" PRId32 " %" PRId32 " %s %s\n",
			    t->name, j, p->leader, p->leader_epoch, p->part_epoch, rs, is) < 0)
				return -1;
		}
	}
	return 0;
}

size_t
kc_state_lines(const struct kc_state *st, char **topics, size_t ntopics)
{
	size_t i, n = 1 + st->nnodes;

	for (i = 0; i < st->ntopics; i++)
		if (selected(st->topics[i].name, topics, ntopics))
			n += 1 + (size_t)st->topics[i].np;
	return n;
}

/* split line into words at single spaces; -1 on an empty word or too many */
static int
split(char *line, char **w, int max)
{
	int n = 0;
	char *p = line, *sp;

	for (;;) {
		if (n >= max)
			return -1;
		w[n++] = p;
		if (!(sp = strchr(p, ' ')))
			break;
		*sp = 0;
		if (!*w[n - 1])
			return -1;
		p = sp + 1;
	}
	return *w[n - 1] ? n : -1;
}

int
kc_topic_set(struct kc_topic *t, const char *kv, char *err)
{
	const char *eq = strchr(kv, '=');
	size_t klen, i;
	char *s, **nkv;

	if (!eq || eq == kv || strpbrk(kv, " \t\r\n")) {
		errno = EINVAL;
		return kerr(err, "topic '%s': bad config '%s' (KEY=VALUE)", t->name, kv);
	}
	klen = (size_t)(eq - kv) + 1;
	if (!(s = strdup(kv)))
		return kerr_sys(err, "topic '%s'", t->name);
	for (i = 0; i < t->nkv; i++) {
		if (!strncmp(t->kv[i], kv, klen)) {
			free(t->kv[i]);
			t->kv[i] = s;
			return 0;
		}
	}
	if (!(nkv = realloc(t->kv, (t->nkv + 1) * sizeof *nkv))) {
		free(s);
		return kerr_sys(err, "topic '%s'", t->name);
	}
	t->kv = nkv;
	t->kv[t->nkv++] = s;
	return 0;
}

int
kc_topic_grow(struct kc_topic *t, int np, char *err)
{
	struct kc_part *p;
	int i;

	if (np <= t->np)
		return 0;
	if (!(p = realloc(t->parts, (size_t)np * sizeof *p)))
		return kerr_sys(err, "topic '%s'", t->name);
	t->parts = p;
	for (i = t->np; i < np; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].leader = -1;
	}
	t->np = np;
	return 0;
}

struct kc_topic *
kc_topic_add(struct kc_state *st, const char *name, int np, int rf, char **kv, size_t nkv,
    char *err)
{
	struct kc_topic *ts, *t;
	size_t i;

	if (klog_topic_name_check(name, err) < 0)
		return NULL;
	if (kc_topic_find(st, name)) {
		errno = EEXIST;
		kerr(err, "topic '%s' already exists", name);
		return NULL;
	}
	if (np < 1 || rf < 1 || rf > KC_MAX_REPLICAS) {
		errno = EINVAL;
		kerr(err, "topic '%s': bad partition count %d or replication factor %d", name, np,
		    rf);
		return NULL;
	}
	if (!(ts = realloc(st->topics, (st->ntopics + 1) * sizeof *ts))) {
		kerr_sys(err, "topic '%s'", name);
		return NULL;
	}
	st->topics = ts;
	t = &ts[st->ntopics];
	memset(t, 0, sizeof *t);
	t->rf = rf;
	if (!(t->name = strdup(name)))
		goto fail;
	for (i = 0; i < nkv; i++)
		if (kc_topic_set(t, kv[i], err) < 0)
			goto fail_set;
	if (kc_topic_grow(t, np, err) < 0)
		goto fail_set;
	st->ntopics++;
	return t;
fail:
	kerr_sys(err, "topic '%s'", name);
fail_set:
	topic_free(t);
	return NULL;
}

int
kc_topic_delete(struct kc_state *st, const char *name)
{
	struct kc_topic *t = kc_topic_find(st, name);
	size_t i;

	if (!t)
		return -1;
	i = (size_t)(t - st->topics);
	topic_free(t);
	memmove(&st->topics[i], &st->topics[i + 1], (st->ntopics - i - 1) * sizeof *t);
	st->ntopics--;
	return 0;
}

/* the state's lines: one part line for a declared topic's partition */
static int
parse_part(struct kc_state *st, char **w, int nw, unsigned char **seen, int lineno, char *err)
{
	char msg[KLOG_ERRLEN];
	struct kc_topic *t;
	struct kc_part *p;
	int64_t v[4];
	int i;

	if (nw != 8)
		return kerr(err, "line %d: part: %d words, want 8", lineno, nw);
	if (!(t = kc_topic_find(st, w[1])))
		return kerr(err, "line %d: part of topic '%s' before its topic line", lineno, w[1]);
	if (parse_int(w[2], 0, &v[0]) < 0 || v[0] >= t->np)
		return kerr(err, "line %d: topic '%s': bad partition '%s'", lineno, w[1], w[2]);
	if (parse_int(w[3], -1, &v[1]) < 0)
		return kerr(err, "line %d: bad leader '%s'", lineno, w[3]);
	if (parse_int(w[4], 0, &v[2]) < 0)
		return kerr(err, "line %d: bad leader epoch '%s'", lineno, w[4]);
	if (parse_int(w[5], 0, &v[3]) < 0)
		return kerr(err, "line %d: bad partition epoch '%s'", lineno, w[5]);
	i = (int)(t - st->topics);
	if (seen[i][v[0]])
		return kerr(err, "line %d: partition %s-%d twice", lineno, w[1], (int)v[0]);
	p = &t->parts[v[0]];
	if (kc_ids_parse(w[6], p->replicas, &p->nreplicas, msg) < 0 ||
	    kc_ids_parse(w[7], p->isr, &p->nisr, msg) < 0)
		return kerr(err, "line %d: %s", lineno, msg);
	for (i = 0; i < p->nisr; i++)
		if (!kc_replicas_has(p, p->isr[i]))
			return kerr(err, "line %d: ISR member %d not a replica", lineno, p->isr[i]);
	if (v[1] >= 0 && !kc_replicas_has(p, (int)v[1]))
		return kerr(err, "line %d: leader %d not a replica", lineno, (int)v[1]);
	p->leader = (int)v[1];
	p->leader_epoch = (int32_t)v[2];
	p->part_epoch = (int32_t)v[3];
	seen[t - st->topics][v[0]] = 1;
	return 0;
}

/* after the topic line i's part lines: every partition seen */
static int
topic_done(struct kc_state *st, unsigned char **seen, size_t i, char *err)
{
	int j;

	for (j = 0; j < st->topics[i].np; j++)
		if (!seen[i][j])
			return kerr(err, "topic '%s': no part line for partition %d",
			    st->topics[i].name, j);
	return 0;
}

int
kc_state_parse(const char *text, size_t len, struct kc_state *st, char *err)
{
	char msg[KLOG_ERRLEN], why[KLOG_ERRLEN];
	char *copy, *line, *next, **w = NULL;
	unsigned char **seen = NULL;
	size_t nseen = 0, i;
	int64_t v[3];
	int nw, lineno = 0, have_cluster = 0, rc = -1, in_topic = -1;
	struct kc_topic *t;

	kc_state_init(st);
	if (!(copy = malloc(len + 1)) || !(w = calloc(MAX_WORDS, sizeof *w))) {
		free(copy);
		return kerr_sys(err, "cluster state");
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	if (memchr(text, 0, len)) {
		kerr(err, "cluster state: a NUL byte");
		goto out;
	}
	for (line = copy; *line; line = next) {
		lineno++;
		if (!(next = strchr(line, '\n'))) {
			kerr(msg, "line %d: no newline at its end", lineno);
			goto bad;
		}
		*next++ = 0;
		if (!*line || *line == '#')
			continue;
		if ((nw = split(line, w, MAX_WORDS)) < 0) {
			kerr(msg, "line %d: empty word or too many words", lineno);
			goto bad;
		}
		if (!strcmp(w[0], "cluster")) {
			if (have_cluster) {
				kerr(msg, "line %d: a second cluster line", lineno);
				goto bad;
			}
			if (nw != 4 || parse_int(w[1], -1, &v[0]) < 0 ||
			    klog_parse_i64(w[2], &v[1]) < 0 || v[1] < 0 ||
			    parse_int(w[3], -1, &v[2]) < 0) {
				kerr(msg, "line %d: bad cluster line (cluster CONTROLLER VERSION SELF)",
				    lineno);
				goto bad;
			}
			st->controller = (int)v[0];
			st->version = v[1];
			st->self = (int)v[2];
			have_cluster = 1;
			continue;
		}
		if (!have_cluster) {
			kerr(msg, "line %d: '%s' before the cluster line", lineno, w[0]);
			goto bad;
		}
		if (!strcmp(w[0], "node")) {
			if (st->ntopics) {
				kerr(msg, "line %d: node line after a topic line", lineno);
				goto bad;
			}
			if (nw != 4 || parse_int(w[1], 0, &v[0]) < 0 ||
			    (strcmp(w[3], "alive") && strcmp(w[3], "dead"))) {
				kerr(msg, "line %d: bad node line (node ID ADDR alive|dead)", lineno);
				goto bad;
			}
			if (node_add(st, (int)v[0], w[2], !strcmp(w[3], "alive"), why) < 0) {
				kerr(msg, "line %d: %s", lineno, why);
				goto bad;
			}
			continue;
		}
		if (!strcmp(w[0], "topic")) {
			unsigned char **ns;
			if (in_topic >= 0 && topic_done(st, seen, (size_t)in_topic, msg) < 0)
				goto bad;
			if (nw < 4 || parse_int(w[2], 1, &v[0]) < 0 ||
			    parse_int(w[3], 1, &v[1]) < 0) {
				kerr(msg, "line %d: bad topic line (topic NAME PARTITIONS RF [K=V...])",
				    lineno);
				goto bad;
			}
			if (!(t = kc_topic_add(st, w[1], (int)v[0], (int)v[1], w + 4,
			    (size_t)(nw - 4), why))) {
				kerr(msg, "line %d: %s", lineno, why);
				goto bad;
			}
			if (!(ns = realloc(seen, (nseen + 1) * sizeof *ns)) ||
			    !(ns[nseen] = calloc((size_t)v[0], 1))) {
				if (ns)
					seen = ns;
				kerr_sys(err, "cluster state");
				goto out;
			}
			seen = ns;
			nseen++;
			in_topic = (int)(st->ntopics - 1);
			continue;
		}
		if (!strcmp(w[0], "part")) {
			if (parse_part(st, w, nw, seen, lineno, msg) < 0)
				goto bad;
			continue;
		}
		kerr(msg, "line %d: unknown line kind '%.40s'", lineno, w[0]);
		goto bad;
	}
	if (!have_cluster) {
		kerr(msg, "no cluster line");
		goto bad;
	}
	if (in_topic >= 0 && topic_done(st, seen, (size_t)in_topic, msg) < 0)
		goto bad;
	rc = 0;
	goto out;
bad:
	errno = EINVAL;
	kerr(err, "cluster state: %s", msg);
out:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	free(w);
	free(copy);
	if (rc < 0)
		kc_state_free(st);
	return rc;
}

/* the controller's rules */

static int
idcmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

int
kc_live(const struct kc_state *st, int *ids, int max)
{
	size_t i;
	int n = 0;

	for (i = 0; i < st->nnodes; i++)
		if (st->nodes[i].alive && n < max)
			ids[n++] = st->nodes[i].id;
	qsort(ids, (size_t)n, sizeof *ids, idcmp);
	return n;
}

const char *
kc_topic_kv(const struct kc_topic *t, const char *key)
{
	size_t i, k = strlen(key);

	for (i = 0; i < t->nkv; i++)
		if (!strncmp(t->kv[i], key, k) && t->kv[i][k] == '=')
			return t->kv[i] + k + 1;
	return NULL;
}

int
kc_topic_unclean(const struct kc_topic *t)
{
	const char *v = kc_topic_kv(t, "unclean.leader.election.enable");

	return v && !strcmp(v, "true");
}

int
kc_assign(const struct kc_state *st, struct kc_topic *t, int from, int start, char *err)
{
	int live[KC_MAX_NODES], n, p, j;
	struct kc_part *pp;

	n = kc_live(st, live, KC_MAX_NODES);
	if (t->rf > n) {
		errno = EINVAL;
		return kerr(err, "topic '%s': replication factor %d larger than the %d live broker%s",
		    t->name, t->rf, n, n == 1 ? "" : "s");
	}
	if (start < 0)
		start = 0;
	for (p = from; p < t->np; p++) {
		pp = &t->parts[p];
		memset(pp, 0, sizeof *pp);
		for (j = 0; j < t->rf; j++)
			pp->replicas[j] = live[(p + start + j) % n];
		pp->nreplicas = t->rf;
		memcpy(pp->isr, pp->replicas, sizeof pp->isr);
		pp->nisr = t->rf;
		pp->leader = pp->replicas[0];
	}
	return 0;
}

static int
node_alive(struct kc_state *st, int id)
{
	struct kc_node *n = kc_node_find(st, id);

	return n && n->alive;
}

int
kc_node_died(struct kc_state *st, int id, kc_note_fn *note, void *arg)
{
	struct kc_node *nd = kc_node_find(st, id);
	struct kc_part old, *p;
	struct kc_topic *t;
	int j, k, changed = 0, lead;
	size_t i;

	if (!nd)
		return -1;
	nd->alive = 0;
	nd->incarnation = 0;
	st->version++;
	for (i = 0; i < st->ntopics; i++) {
		t = &st->topics[i];
		for (j = 0; j < t->np; j++) {
			p = &t->parts[j];
			old = *p;
			if (p->nisr > 1 && kc_isr_has(p, id)) {
				for (k = 0; k < p->nisr && p->isr[k] != id; k++)
					;
				memmove(&p->isr[k], &p->isr[k + 1],
				    (size_t)(p->nisr - k - 1) * sizeof *p->isr);
				p->nisr--;
			}
			if (p->leader == id) {
				lead = -1;
				for (k = 0; k < p->nisr && lead < 0; k++)
					if (p->isr[k] != id && node_alive(st, p->isr[k]))
						lead = p->isr[k];
				if (lead < 0 && kc_topic_unclean(t)) {
					for (k = 0; k < p->nreplicas && lead < 0; k++)
						if (node_alive(st, p->replicas[k]))
							lead = p->replicas[k];
					if (lead >= 0) {
						p->isr[0] = lead;
						p->nisr = 1;
					}
				}
				p->leader = lead;
				p->leader_epoch++;
			}
			if (memcmp(&old, p, sizeof old)) {
				p->part_epoch++;
				changed++;
				if (note)
					note(arg, t, j, &old);
			}
		}
	}
	return changed;
}

int
kc_node_born(struct kc_state *st, int id, const char *addr, uint64_t inc, kc_note_fn *note,
    void *arg)
{
	struct kc_node *nd = kc_node_find(st, id);
	struct kc_part old, *p;
	struct kc_topic *t;
	int j, changed = 0;
	size_t i;

	if (!nd)
		return -1;
	nd->alive = 1;
	nd->incarnation = inc;
	if (addr)
		snprintf(nd->addr, sizeof nd->addr, "%s", addr);
	st->version++;
	for (i = 0; i < st->ntopics; i++) {
		t = &st->topics[i];
		for (j = 0; j < t->np; j++) {
			p = &t->parts[j];
			if (p->leader >= 0)
				continue;
			old = *p;
			if (kc_isr_has(p, id)) {
				p->leader = id;
			} else if (kc_topic_unclean(t) && kc_replicas_has(p, id)) {
				p->leader = id;
				p->isr[0] = id;
				p->nisr = 1;
			} else {
				continue;
			}
			p->leader_epoch++;
			p->part_epoch++;
			changed++;
			if (note)
				note(arg, t, j, &old);
		}
	}
	return changed;
}

int
kc_alter_isr(struct kc_state *st, const char *name, int partition, int32_t leader_epoch,
    int32_t part_epoch, const int *isr, int n, int32_t *pe, const char **code, char *err)
{
	struct kc_topic *t = kc_topic_find(st, name);
	struct kc_part *p;
	int i;

	*code = "INVALID";
	if (!t) {
		*code = "UNKNOWN_TOPIC";
		return kerr(err, "unknown topic '%s'", name);
	}
	if (partition < 0 || partition >= t->np) {
		*code = "UNKNOWN_PARTITION";
		return kerr(err, "topic '%s' has no partition %d", name, partition);
	}
	p = &t->parts[partition];
	if (leader_epoch != p->leader_epoch || part_epoch != p->part_epoch) {
		*code = "STALE_EPOCH";
		return kerr(err, "%s-%d: epochs %" PRId32 " %" PRId32 ", the partition's are %"
		    PRId32 " %" PRId32, name, partition, leader_epoch, part_epoch,
		    p->leader_epoch, p->part_epoch);
	}
	if (n < 1)
		return kerr(err, "%s-%d: an empty ISR", name, partition);
	if (p->leader < 0 || !ids_has(isr, n, p->leader))
		return kerr(err, "%s-%d: the ISR must hold the leader (%d)", name, partition,
		    p->leader);
	for (i = 0; i < n; i++) {
		if (!kc_replicas_has(p, isr[i]))
			return kerr(err, "%s-%d: node %d is not a replica", name, partition,
			    isr[i]);
		if (!kc_isr_has(p, isr[i]) && !node_alive(st, isr[i]))
			return kerr(err, "%s-%d: node %d is not alive", name, partition, isr[i]);
	}
	memcpy(p->isr, isr, (size_t)n * sizeof *isr);
	p->nisr = n;
	p->part_epoch++;
	st->version++;
	*pe = p->part_epoch;
	*code = NULL;
	return 0;
}
