/* klog - a remote log's requests routed to partition leaders. MIT licence. */
/*
 * A remote klog_log starts from a broker list ("-b h:p,h:p"): the first
 * broker of the list that answers is the bootstrap connection.  METADATA
 * (cluster.h: the cluster, node, topic and part lines) says whether the
 * broker is part of a cluster.  A standalone broker (controller -1), or
 * one that does not know METADATA, takes every request: nothing changes
 * from the days of one broker.
 *
 * In a cluster, requests about a partition (PRODUCE, FETCH, OFFSETS,
 * TIMEOFFSET) go to its leader, topic changes to the controller.  The
 * router keeps one connection per node, opened on demand from the node's
 * address in METADATA; the bootstrap connection is the one of node SELF,
 * so the advertised address of that node is not opened a second time.
 * The metadata is cached and dropped (kroute_failed) when a request meets
 * NOT_LEADER, NOT_CONTROLLER, UNKNOWN_TOPIC or UNKNOWN_PARTITION (a broker
 * that has not heard of a topic just created yet), STALE_EPOCH, or a lost
 * connection;
 * the next look-up asks METADATA again, from any live connection that has
 * no produce acknowledgement due, else from a new connection to each
 * address of the list and of the known nodes in turn, with a backoff
 * doubling from BACKOFF_MIN_MS to BACKOFF_MAX_MS, until the router's
 * timeout (30 s by default).  A partition without a leader (an election
 * under way) is waited for in the same way.
 *
 * Lost connections with produce acknowledgements still due are kept (the
 * caller collects a failure for each, at once) and freed when none is
 * due any more.  What to resend is the caller's business: a PRODUCE whose
 * answer never came may have been written, so log.c never resends it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "cluster.h"

#define ROUTE_TIMEOUT_MS 30000
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 500

struct rconn {
	int node;                       /* node id, -1 not known */
	struct klog_client *c;
};

struct kroute {
	char *brokers;
	char *secret;
	int cluster;                    /* METADATA said so (controller >= 0) */
	int fresh;                      /* st is the last answer, not known stale */
	struct kc_state st;
	struct klog_client *boot;       /* the first connection, also in conn[] */
	struct rconn *conn;             /* live connections, one per node */
	size_t nconn;
	struct klog_client **dead;      /* lost ones with acknowledgements due */
	size_t ndead;
	int timeout_ms;
};

void
kroute_sleep(int *backoff)
{
	poll(NULL, 0, *backoff);
	*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
}

int
kroute_pick(const struct kc_state *st, const char *topic, int partition)
{
	size_t i;

	for (i = 0; i < st->ntopics; i++) {
		const struct kc_topic *t = &st->topics[i];
		if (strcmp(t->name, topic))
			continue;
		if (partition < 0 || partition >= t->np)
			return KROUTE_NO_PARTITION;
		return t->parts[partition].leader >= 0 ? t->parts[partition].leader : KROUTE_NO_LEADER;
	}
	return KROUTE_NO_TOPIC;
}

const char *
kroute_node_addr(const struct kc_state *st, int node)
{
	size_t i;

	for (i = 0; i < st->nnodes; i++)
		if (st->nodes[i].id == node)
			return st->nodes[i].addr;
	return NULL;
}

/* a lost connection leaves the pool: freed now, or once no ack is due */
static void
drop(struct kroute *rt, size_t i)
{
	struct klog_client *c = rt->conn[i].c, **v;

	rt->conn[i] = rt->conn[--rt->nconn];
	if (c == rt->boot)
		return;         /* kept until close: klog_log_client hands it out */
	if (klog_client_inflight(c) > 0 &&
	    (v = realloc(rt->dead, (rt->ndead + 1) * sizeof *v))) {
		rt->dead = v;
		v[rt->ndead++] = c;
		return;
	}
	klog_client_close(c);
}

static void
reap(struct kroute *rt)
{
	size_t i;

	for (i = 0; i < rt->nconn; i++)
		if (kclient_broken(rt->conn[i].c))
			drop(rt, i--);
	for (i = 0; i < rt->ndead; i++)
		if (klog_client_inflight(rt->dead[i]) <= 0) {
			klog_client_close(rt->dead[i]);
			rt->dead[i--] = rt->dead[--rt->ndead];
		}
}

static int
add(struct kroute *rt, int node, struct klog_client *c, char *err)
{
	struct rconn *v = realloc(rt->conn, (rt->nconn + 1) * sizeof *v);

	if (!v)
		return kerr_sys(err, "broker '%s'", klog_client_addr(c));
	rt->conn = v;
	v[rt->nconn].node = node;
	v[rt->nconn++].c = c;
	return 0;
}

/* METADATA on c; 0, 1 when the broker does not know the verb, -1 */
static int
ask(struct kroute *rt, struct klog_client *c, char *err)
{
	struct kc_state st;
	size_t i;

	kc_state_init(&st);
	if (kclient_metadata(c, &st, err) < 0) {
		kc_state_free(&st);
		return !kclient_broken(c) && !strcmp(klog_client_code(c), "UNKNOWN_COMMAND") ? 1 : -1;
	}
	kc_state_free(&rt->st);
	rt->st = st;
	rt->fresh = 1;
	rt->cluster = st.controller >= 0;
	for (i = 0; i < rt->nconn; i++)
		if (rt->conn[i].c == c)
			rt->conn[i].node = st.self;
	return 0;
}

/* an idle live connection (no acks due), or NULL */
static struct klog_client *
idle(struct kroute *rt, size_t from)
{
	size_t i;

	for (i = 0; i < rt->nconn; i++) {
		struct klog_client *c = rt->conn[(from + i) % rt->nconn].c;
		if (!kclient_broken(c) && klog_client_inflight(c) == 0)
			return c;
	}
	return NULL;
}

/* a new connection to one of addrs (the list syntax of -b); NULL */
static struct klog_client *
dial(struct kroute *rt, const char *addrs, char *err)
{
	return klog_client_open(addrs, rt->secret, err);
}

/* METADATA from a new connection to addr; 0 or -1 */
static int
ask_new(struct kroute *rt, const char *addr, char *err)
{
	struct klog_client *c;
	size_t k;

	if (!*addr || !(c = dial(rt, addr, err)))
		return -1;
	if (ask(rt, c, err) != 0) {
		klog_client_close(c);
		return -1;
	}
	/* kept as its node's connection, if that has none */
	for (k = 0; k < rt->nconn; k++)
		if (rt->conn[k].node == rt->st.self)
			break;
	if (k < rt->nconn || add(rt, rt->st.self, c, err) < 0)
		klog_client_close(c);
	return 0;
}

/* one round of METADATA: the pool's idle connections, then each address
 * of the list given, then each node known */
static int
refresh_once(struct kroute *rt, char *err)
{
	struct klog_client *c;
	char why[KLOG_ERRLEN], one[KC_ADDR_MAX], **addrs = NULL;
	const char *s;
	size_t i, n = 0;
	int r, rc = -1;

	reap(rt);
	snprintf(why, sizeof why, "no connection");
	for (i = 0; i < rt->nconn; i++)
		if ((c = idle(rt, i)) && (r = ask(rt, c, why)) >= 0)
			return r == 0 ? 0 : kerr(err, "%s", why);
	/* copied: ask() replaces the state the node addresses live in */
	if (!(addrs = calloc(rt->st.nnodes + 1, sizeof *addrs)))
		return kerr_sys(err, "metadata");
	for (i = 0; i < rt->st.nnodes; i++)
		if ((addrs[n] = strdup(rt->st.nodes[i].addr)))
			n++;
	for (s = rt->brokers; *s; ) {
		size_t l = strcspn(s, ",");
		snprintf(one, sizeof one, "%.*s", (int)l, s);
		s += l + (s[l] == ',');
		if (ask_new(rt, one, why) == 0) {
			rc = 0;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if (ask_new(rt, addrs[i], why) == 0) {
			rc = 0;
			goto out;
		}
	errno = EHOSTUNREACH;
	kerr(err, "no broker of '%s' answers METADATA: %s", rt->brokers, why);
out:
	klog_strv_free(addrs, n);
	return rc;
}

int
kroute_refresh(struct kroute *rt, char *err)
{
	int64_t end = klog_now_ms() + rt->timeout_ms;
	int backoff = BACKOFF_MIN_MS;

	for (;;) {
		if (refresh_once(rt, err) == 0)
			return 0;
		if (klog_now_ms() >= end)
			return -1;
		kroute_sleep(&backoff);
	}
}

struct kroute *
kroute_open(const char *brokers, const char *secret, char *err)
{
	struct kroute *rt = calloc(1, sizeof *rt);
	int r;

	if (!rt) {
		kerr_sys(err, "client");
		return NULL;
	}
	kc_state_init(&rt->st);
	rt->timeout_ms = ROUTE_TIMEOUT_MS;
	if (!brokers || !*brokers)
		brokers = getenv("KLOG_BROKERS");
	if (!secret)
		secret = getenv("KLOG_SECRET");
	if (!(rt->boot = klog_client_open(brokers, secret, err)))
		goto fail;
	if (!(rt->brokers = strdup(brokers)) || (secret && !(rt->secret = strdup(secret)))) {
		kerr_sys(err, "client");
		goto fail;
	}
	if (add(rt, -1, rt->boot, err) < 0)
		goto fail;
	/* a broker that does not answer METADATA (an older one, or one that
	 * wants AUTH) is taken for a standalone one; a lost connection fails */
	if ((r = ask(rt, rt->boot, err)) < 0 && kclient_broken(rt->boot))
		goto fail;
	if (r != 0)
		rt->cluster = 0;
	return rt;
fail:
	kroute_close(rt);
	return NULL;
}

void
kroute_close(struct kroute *rt)
{
	size_t i;

	if (!rt)
		return;
	for (i = 0; i < rt->nconn; i++)
		if (rt->conn[i].c != rt->boot)
			klog_client_close(rt->conn[i].c);
	for (i = 0; i < rt->ndead; i++)
		klog_client_close(rt->dead[i]);
	klog_client_close(rt->boot);
	free(rt->conn);
	free(rt->dead);
	free(rt->brokers);
	free(rt->secret);
	kc_state_free(&rt->st);
	free(rt);
}

int
kroute_cluster(const struct kroute *rt)
{
	return rt->cluster;
}

void
kroute_set_timeout(struct kroute *rt, int ms)
{
	rt->timeout_ms = ms < 0 ? 0 : ms;
}

int
kroute_timeout(const struct kroute *rt)
{
	return rt->timeout_ms;
}

struct klog_client *
kroute_boot(struct kroute *rt)
{
	return rt->boot;
}

/* the metadata, asked again when it is known stale */
const struct kc_state *
kroute_state(struct kroute *rt, char *err)
{
	if (rt->cluster && !rt->fresh && kroute_refresh(rt, err) < 0)
		return NULL;
	return &rt->st;
}

struct klog_client *
kroute_node(struct kroute *rt, int node, char *err)
{
	struct klog_client *c;
	const char *addr;
	size_t i;

	reap(rt);
	for (i = 0; i < rt->nconn; i++)
		if (rt->conn[i].node == node)
			return rt->conn[i].c;
	if (!(addr = kroute_node_addr(&rt->st, node))) {
		errno = ENOENT;
		kerr(err, "node %d is not in the cluster's metadata", node);
		return NULL;
	}
	if (!(c = dial(rt, addr, err)))
		return NULL;
	if (add(rt, node, c, err) < 0) {
		klog_client_close(c);
		return NULL;
	}
	return c;
}

struct klog_client *
kroute_leader(struct kroute *rt, const char *topic, int partition, char *err)
{
	int64_t end = klog_now_ms() + rt->timeout_ms;
	int backoff = BACKOFF_MIN_MS, node;
	struct klog_client *c;

	if (!rt->cluster)
		return rt->boot;
	for (;;) {
		if (!rt->fresh && kroute_refresh(rt, err) < 0)
			return NULL;
		node = kroute_pick(&rt->st, topic, partition);
		if (node == KROUTE_NO_TOPIC) {
			errno = ENOENT;
			kerr(err, "no such topic '%s' in the cluster's metadata", topic);
			return NULL;
		}
		if (node == KROUTE_NO_PARTITION) {
			errno = ENOENT;
			kerr(err, "no such partition '%s-%d' in the cluster's metadata", topic, partition);
			return NULL;
		}
		if (node >= 0 && (c = kroute_node(rt, node, err)))
			return c;
		if (node == KROUTE_NO_LEADER)
			kerr(err, "partition '%s-%d' has no leader", topic, partition);
		if (klog_now_ms() >= end) {
			errno = EHOSTUNREACH;
			return NULL;
		}
		rt->fresh = 0;
		kroute_sleep(&backoff);
	}
}

struct klog_client *
kroute_controller(struct kroute *rt, char *err)
{
	if (!rt->cluster)
		return rt->boot;
	if (!rt->fresh && kroute_refresh(rt, err) < 0)
		return NULL;
	if (rt->st.controller < 0)
		return rt->boot;
	return kroute_node(rt, rt->st.controller, err);
}

int
kroute_failed(struct kroute *rt, struct klog_client *c)
{
	const char *code = klog_client_code(c);

	if (!rt->cluster)
		return 0;
	if (kclient_broken(c) || !strcmp(code, "NOT_LEADER") || !strcmp(code, "NOT_CONTROLLER") ||
	    !strcmp(code, "UNKNOWN_TOPIC") || !strcmp(code, "UNKNOWN_PARTITION") ||
	    !strcmp(code, "STALE_EPOCH")) {
		rt->fresh = 0;
		return 1;
	}
	return 0;
}

void
kroute_stale(struct kroute *rt)
{
	rt->fresh = 0;
}
