/* klog - the controller: cluster membership, elections, ISR changes. MIT licence. */
/*
 * Every broker of a cluster (--cluster or --cluster-file) keeps the
 * description here (who the controller is, at which address); the first
 * node of the description is the controller and keeps the cluster's state
 * (cluster.c: nodes, topics, and per partition leader, epochs, replicas,
 * ISR).  Only it executes CREATE, ALTER and DELETE; the others answer
 * them ERR NOT_CONTROLLER naming it.  The state's rules are cluster.c's
 * pure functions; this file is their life on the event loop.
 *
 * Persistence.  DIR/cluster-state holds the state as cluster.c's lines
 * (SELF -1), written atomically (kwrite_atomic_at: temp file, fsync,
 * rename, fsync of the directory) after every change and before any
 * answer that depends on it: a command's change is made on a copy,
 * saved, and only then becomes the state and is answered; a membership
 * change (a birth, a death) is made at once and saved at once, and while
 * it cannot be saved heartbeats and commands are answered ERR INTERNAL
 * and the timer tries again.  Start-up reads the file (a bad one stops
 * the broker, naming the line); nodes of the description missing from
 * it are added, dead.
 *
 * Sessions.  BROKERHB NODE INCARNATION ADDR VERSION opens or refreshes
 * node NODE's session on the connection it came on and registers ADDR.
 * A session ends when its connection closes (at once), or when no
 * heartbeat came for session_timeout_ms (a timer checks five times per
 * timeout, on the monotonic clock, and skips a check after a stall of the
 * loop so that heartbeats queued meanwhile count); either is the node's death (kc_node_died: ISR removal,
 * elections).  A heartbeat of a dead node is its birth (kc_node_born);
 * one with another incarnation than the live session's is a restart: a
 * death, then a birth.  After a start, nodes the file says are alive keep
 * that status without a session for one session timeout, so that a
 * restarted controller does not depose every leader; those that have not
 * registered by then die.  A broker shutting down (SIGTERM) ends its
 * sessions without deaths: its stop is not the cluster's news.
 *
 * Not yet: a quorum for the controller itself (one designated node; while
 * it is down no election happens); a broker that restarts while the
 * controller is down is taken, at its first heartbeat after the
 * controller's restart, for the incarnation the file knew.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "broker.h"
#include "cluster.h"

#define STATE_FILE "cluster-state"

struct ksess {
	struct conn *c;                 /* NULL: none */
	int64_t last;                   /* ms: its last heartbeat */
};

struct kbctl {
	int is_ctl;                     /* this broker is the controller */
	int ctl_id;                     /* the controller's node id */
	char ctl_addr[KC_ADDR_MAX];     /* as the description gives it */
	struct kc_state st;             /* controller: the state */
	struct ksess sess[KC_MAX_NODES];        /* by index in st.nodes */
	int64_t timer, started, tick;
	int grace;                      /* the first session timeout after the start */
	int unsaved;                    /* a change not in the file yet */
	uint64_t elections;             /* leader changes to a live node */
};

/* sessions are timed on the monotonic clock: a step of the wall clock
 * kills no one */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
note(void *arg, const struct kc_topic *t, int p, const struct kc_part *old)
{
	struct klog_broker *b = arg;
	const struct kc_part *n = &t->parts[p];
	char o[KC_MAX_REPLICAS * 12 + 2], i[KC_MAX_REPLICAS * 12 + 2];

	kc_ids_format(old->isr, old->nisr, o, sizeof o);
	kc_ids_format(n->isr, n->nisr, i, sizeof i);
	if (old->leader != n->leader) {
		if (n->leader >= 0)
			b->ctl->elections++;
		kb_log(b, n->leader >= 0 ? LOG_INFO : LOG_WARNING, "partition %s-%d: leader %d -> %d "
		    "(epoch %" PRId32 "), isr %s", t->name, p, old->leader, n->leader,
		    n->leader_epoch, i);
	} else {
		kb_log(b, LOG_INFO, "partition %s-%d: isr %s -> %s (partition epoch %" PRId32 ")",
		    t->name, p, o, i, n->part_epoch);
	}
}

static int
save(struct klog_broker *b, const struct kc_state *st, char *err)
{
	struct klog_buf out = { 0 };
	int rc;

	if (kc_state_format(st, NULL, 0, &out) < 0) {
		klog_buf_free(&out);
		return kerr_sys(err, "cluster state");
	}
	rc = kwrite_atomic_at(b->d->fd, b->d->path, STATE_FILE, out.data, out.len, err);
	klog_buf_free(&out);
	return rc;
}

/* the state in memory changed: to the file (-1: not saved, logged) */
static int
save_state(struct klog_broker *b)
{
	struct kbctl *k = b->ctl;
	char err[KLOG_ERRLEN];

	if (save(b, &k->st, err) < 0) {
		if (!k->unsaved)
			kb_log(b, LOG_ERR, "controller: %s; the cluster state is not saved", err);
		k->unsaved = 1;
		return -1;
	}
	if (k->unsaved)
		kb_log(b, LOG_INFO, "controller: the cluster state is saved again");
	k->unsaved = 0;
	return 0;
}

/* what answers depend on is saved; else ERR INTERNAL (err, *code) */
static int
saved(struct klog_broker *b, char *err, const char **code)
{
	if (b->ctl->unsaved && save_state(b) < 0) {
		*code = "INTERNAL";
		return kerr(err, "the controller cannot save the cluster state (see its log)");
	}
	return 0;
}

/* nst, a changed copy of the state, saved and made the state */
static int
commit(struct klog_broker *b, struct kc_state *nst, char *err, const char **code)
{
	struct kbctl *k = b->ctl;
	char e[KLOG_ERRLEN];

	nst->version = k->st.version + 1;
	if (save(b, nst, e) < 0) {
		kc_state_free(nst);
		kb_log(b, LOG_ERR, "controller: %s", e);
		*code = "INTERNAL";
		return kerr(err, "the controller cannot save the cluster state: %s", e);
	}
	kc_state_free(&k->st);
	k->st = *nst;
	return 0;
}

static int
node_index(struct kbctl *k, int id)
{
	struct kc_node *n = kc_node_find(&k->st, id);

	return n ? (int)(n - k->st.nodes) : -1;
}

static void
died(struct klog_broker *b, int i, const char *why)
{
	struct kbctl *k = b->ctl;
	int id = k->st.nodes[i].id;

	k->sess[i].c = NULL;
	kb_log(b, LOG_WARNING, "node %d: %s; dead", id, why);
	kc_node_died(&k->st, id, note, b);
	save_state(b);
}

static int64_t
ctl_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct kbctl *k = b->ctl;
	int64_t now = mono_ms(), to = b->o.session_timeout_ms;
	char why[128];
	size_t i;

	(void)l;
	if (b->stop || b->draining)
		return -1;
	/* after a stall of the loop (a long fsync), the heartbeats waiting in
	 * the sockets are read before anyone is found silent */
	if (now - k->tick > to / 2) {
		k->tick = now;
		return to / 5 > 10 ? to / 5 : 10;
	}
	k->tick = now;
	for (i = 0; i < k->st.nnodes; i++) {
		if (k->sess[i].c && now - k->sess[i].last > to) {
			snprintf(why, sizeof why, "no heartbeat for %" PRId64 " ms", now -
			    k->sess[i].last);
			died(b, (int)i, why);
		}
	}
	if (k->grace && now - k->started >= to) {
		k->grace = 0;
		for (i = 0; i < k->st.nnodes; i++)
			if (k->st.nodes[i].alive && !k->sess[i].c) {
				snprintf(why, sizeof why, "not registered within %" PRId64 " ms of "
				    "the controller's start", to);
				died(b, (int)i, why);
			}
	}
	if (k->unsaved)
		save_state(b);
	return to / 5 > 10 ? to / 5 : 10;
}

/* the state from DIR/cluster-state, or the description's */
static int
load(struct klog_broker *b, struct kc_state *spec, char *err)
{
	struct kbctl *k = b->ctl;
	char msg[KLOG_ERRLEN], *text;
	struct kc_node *n;
	size_t len, i;
	int64_t alive = 0;

	if (kread_file_at(b->d->fd, b->d->path, STATE_FILE, &text, &len, msg) < 0) {
		if (errno != ENOENT)
			return kerr(err, "%s", msg);
		if (kc_state_copy(&k->st, spec, err) < 0)
			return -1;
		k->st.self = -1;
		kb_log(b, LOG_INFO, "controller: a new cluster of %zu node%s", spec->nnodes,
		    spec->nnodes == 1 ? "" : "s");
		return save(b, &k->st, err);
	}
	if (kc_state_parse(text, len, &k->st, msg) < 0) {
		free(text);
		return kerr(err, "'%s/%s': %s", b->d->path, STATE_FILE, msg);
	}
	free(text);
	k->st.self = -1;
	k->st.controller = k->ctl_id;
	/* nodes added to the description */
	for (i = 0; i < spec->nnodes; i++) {
		if (kc_node_find(&k->st, spec->nodes[i].id))
			continue;
		if (k->st.nnodes >= KC_MAX_NODES)
			return kerr(err, "cluster state: more than %d nodes", KC_MAX_NODES);
		if (!(n = realloc(k->st.nodes, KC_MAX_NODES * sizeof *n)))
			return kerr_sys(err, "cluster state");
		k->st.nodes = n;
		k->st.nodes[k->st.nnodes++] = spec->nodes[i];
	}
	/* its own address: this start's */
	n = kc_node_find(&k->st, k->ctl_id);
	if (strcmp(n->addr, k->ctl_addr)) {
		snprintf(n->addr, sizeof n->addr, "%s", k->ctl_addr);
		k->st.version++;
	}
	for (i = 0; i < k->st.nnodes; i++)
		alive += k->st.nodes[i].alive;
	kb_log(b, LOG_INFO, "controller: state version %" PRId64 " loaded: %zu topic%s, %"
	    PRId64 " node%s alive before; waiting %d ms for them", k->st.version, k->st.ntopics,
	    k->st.ntopics == 1 ? "" : "s", alive, alive == 1 ? "" : "s",
	    b->o.session_timeout_ms);
	return save(b, &k->st, err);
}

int
kb_ctl_start(struct klog_broker *b, char *err)
{
	struct kc_state spec;
	struct kbctl *k;
	struct kc_node *self;
	int rc = -1;

	if (b->ctl || (!b->o.cluster && !b->o.cluster_file))
		return 0;
	if ((b->o.cluster ? kc_spec_parse(b->o.cluster, &spec, err) :
	    kc_spec_read(b->o.cluster_file, &spec, err)) < 0)
		return -1;
	if (!(self = kc_node_find(&spec, b->o.node_id))) {
		kerr(err, "node %d is not in the cluster description", b->o.node_id);
		goto out;
	}
	if (!(k = calloc(1, sizeof *k))) {
		kerr_sys(err, "controller");
		goto out;
	}
	b->ctl = k;
	kc_state_init(&k->st);
	k->ctl_id = spec.controller;
	snprintf(k->ctl_addr, sizeof k->ctl_addr, "%s", spec.nodes[0].addr);
	if (spec.controller != b->o.node_id) {
		rc = 0;
		goto out;
	}
	k->is_ctl = 1;
	/* its own address as others reach it, until its broker registers */
	snprintf(self->addr, sizeof self->addr, "%s", b->o.advertise ? b->o.advertise : b->addr);
	snprintf(k->ctl_addr, sizeof k->ctl_addr, "%s", self->addr);
	if (load(b, &spec, err) < 0) {
		kc_state_free(&k->st);
		free(k);
		b->ctl = NULL;
		goto out;
	}
	k->started = k->tick = mono_ms();
	k->grace = 1;
	k->timer = klog_loop_timer(b->loop, 10, ctl_timer, b);
	kb_log(b, LOG_INFO, "controller of %zu nodes (session timeout %d ms)", k->st.nnodes,
	    b->o.session_timeout_ms);
	rc = 0;
out:
	kc_state_free(&spec);
	return rc;
}

void
kb_ctl_stop(struct klog_broker *b)
{
	struct kbctl *k = b->ctl;

	if (!k)
		return;
	if (k->timer && b->loop)
		klog_loop_timer_del(b->loop, k->timer);
	kc_state_free(&k->st);
	free(k);
	b->ctl = NULL;
}

void
kb_ctl_conn_closed(struct conn *c)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	size_t i;

	if (!k || !k->is_ctl)
		return;
	for (i = 0; i < k->st.nnodes; i++) {
		if (k->sess[i].c != c)
			continue;
		k->sess[i].c = NULL;
		if (!b->stop && !b->draining)
			died(b, (int)i, "its session's connection closed");
	}
}

static int
not_controller(struct klog_broker *b, char *err, const char **code)
{
	*code = "NOT_CONTROLLER";
	if (!b->ctl)
		return kerr(err, "this broker is not in a cluster");
	return kerr(err, "controller is node %d at %s", b->ctl->ctl_id, b->ctl->ctl_addr);
}

/* BROKERHB NODE INCARNATION ADDR VERSION */
static int
cmd_brokerhb(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	int64_t id, inc, ver;
	struct kc_node *n;
	int i, had;

	if (kb_parse_num(r->argv[1], 0, INT32_MAX, &id) < 0 ||
	    kb_parse_num(r->argv[2], 0, INT64_MAX, &inc) < 0 ||
	    kb_parse_num(r->argv[4], -1, INT64_MAX, &ver) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad heartbeat (BROKERHB NODE INCARNATION ADDR VERSION)");
	}
	if (!kc_addr_ok(r->argv[3])) {
		*code = "INVALID";
		return kerr(err, "node %d: bad address '%.100s' (HOST:PORT)", (int)id, r->argv[3]);
	}
	if ((i = node_index(k, (int)id)) < 0) {
		*code = "INVALID";
		return kerr(err, "node %d is not in the cluster", (int)id);
	}
	n = &k->st.nodes[i];
	had = k->sess[i].c != NULL;
	if (n->alive && had && n->incarnation != (uint64_t)inc) {
		char why[96];
		snprintf(why, sizeof why, "restarted (incarnation %" PRIu64 " -> %" PRId64 ")",
		    n->incarnation, inc);
		died(b, i, why);
		had = 0;
	}
	k->sess[i].c = c;
	k->sess[i].last = mono_ms();
	if (!n->alive) {
		kb_log(b, LOG_INFO, "node %d at %s: alive (incarnation %" PRId64 ")", (int)id,
		    r->argv[3], inc);
		kc_node_born(&k->st, (int)id, r->argv[3], (uint64_t)inc, note, b);
		save_state(b);
	} else if (!had) {
		/* alive as the file said, registering after the controller's start */
		kb_log(b, LOG_INFO, "node %d at %s: registered again (incarnation %" PRId64 ")",
		    (int)id, r->argv[3], inc);
		n->incarnation = (uint64_t)inc;
	}
	if (strcmp(n->addr, r->argv[3])) {
		kb_log(b, LOG_INFO, "node %d: at %s", (int)id, r->argv[3]);
		snprintf(n->addr, sizeof n->addr, "%s", r->argv[3]);
		k->st.version++;
		save_state(b);
	}
	if (saved(b, err, code) < 0)
		return -1;
	kb_reply(c, "OK %" PRId64 "\n", k->st.version);
	return 0;
}

/* ALTERISR TOPIC PARTITION LEADER_EPOCH PART_EPOCH ISR */
static int
cmd_alterisr(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	int64_t p, le, pe;
	int isr[KC_MAX_REPLICAS], n;
	struct kc_part old;
	struct kc_state nst;
	int32_t npe;

	if (kb_parse_num(r->argv[2], 0, INT32_MAX, &p) < 0 ||
	    kb_parse_num(r->argv[3], 0, INT32_MAX, &le) < 0 ||
	    kb_parse_num(r->argv[4], 0, INT32_MAX, &pe) < 0 ||
	    kc_ids_parse(r->argv[5], isr, &n, err) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad request (ALTERISR TOPIC PARTITION LEADER_EPOCH PART_EPOCH "
		    "ISR)");
	}
	if (saved(b, err, code) < 0 || kc_state_copy(&nst, &k->st, err) < 0)
		return -1;
	if (kc_alter_isr(&nst, r->argv[1], (int)p, (int32_t)le, (int32_t)pe, isr, n, &npe, code,
	    err) < 0) {
		kc_state_free(&nst);
		return -1;
	}
	old = kc_topic_find(&k->st, r->argv[1])->parts[p];
	if (commit(b, &nst, err, code) < 0)
		return -1;
	note(b, kc_topic_find(&k->st, r->argv[1]), (int)p, &old);
	kb_reply(c, "OK %" PRId32 "\n", npe);
	return 0;
}

void
kb_ctl_cmd(struct conn *c, struct klog_req *r, int64_t t0)
{
	struct klog_broker *b = c->b;
	char err[KLOG_ERRLEN];
	const char *code = "INTERNAL";
	int rc;

	if (!b->ctl || !b->ctl->is_ctl)
		rc = not_controller(b, err, &code);
	else if (r->verb == KLOG_V_BROKERHB)
		rc = cmd_brokerhb(c, r, err, &code);
	else
		rc = cmd_alterisr(c, r, err, &code);
	if (rc < 0)
		kb_reply_err(c, code, err);
	kb_observe(b, r->verb, t0, rc < 0);
}

/*
 * CREATE and ALTER's KEY=VALUE arguments: checked as topic configuration
 * (klog_config_set), replication.factor (CREATE only) to *rf, partitions
 * to *np; the others into kv (pointers into r), *nkv of them
 */
static int
config_args(struct klog_req *r, int create, int64_t *rf, int64_t *np, char **kv, size_t *nkv,
    char *err, const char **code)
{
	char key[128], e[KLOG_ERRLEN];
	struct klog_config cfg;
	const char *eq;
	int i;

	klog_config_defaults(&cfg);
	*code = "INVALID";
	*nkv = 0;
	for (i = 3; i < r->argc; i++) {
		const char *a = r->argv[i];
		if (!(eq = strchr(a, '=')) || eq == a || (size_t)(eq - a) >= sizeof key)
			return kerr(err, "topic '%s': bad config '%.100s': expected key=value",
			    r->argv[1], a);
		memcpy(key, a, (size_t)(eq - a));
		key[eq - a] = 0;
		if (!strcmp(key, "replication.factor")) {
			if (!create)
				return kerr(err, "topic '%s': the replication factor is set at "
				    "creation only", r->argv[1]);
			if (kb_parse_num(eq + 1, 1, KC_MAX_REPLICAS, rf) < 0)
				return kerr(err, "topic '%s': bad replication factor '%.40s' (1 to "
				    "%d)", r->argv[1], eq + 1, KC_MAX_REPLICAS);
			continue;
		}
		if (klog_config_set(&cfg, key, eq + 1, e) < 0)
			return kerr(err, "topic '%s': %s", r->argv[1], e);
		if (!strcmp(key, "partitions"))
			*np = cfg.partitions;
		else
			kv[(*nkv)++] = r->argv[i];
	}
	return 0;
}

/* where partition 0's replicas start among the live nodes (growth goes on
 * from there), or for a new topic the topic count */
static int
assign_start(struct kc_state *st, struct kc_topic *t)
{
	int live[KC_MAX_NODES], n, i;

	if (!t->np || !t->parts[0].nreplicas)
		return (int)st->ntopics;
	n = kc_live(st, live, KC_MAX_NODES);
	for (i = 0; i < n; i++)
		if (live[i] == t->parts[0].replicas[0])
			return i;
	return 0;
}

/* CREATE TOPIC PARTITIONS [KEY=VALUE...] in a cluster */
int
kb_ctl_create(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	char *kv[KLOG_PROTO_MAX_ARGS];
	int64_t np, rf = 1, kvnp = 0;     /* the argument wins over partitions= */
	struct kc_state nst;
	struct kc_topic *t;
	size_t nkv;
	int start;

	if (!k || !k->is_ctl)
		return not_controller(b, err, code);
	*code = "INVALID";
	if (klog_topic_name_check(r->argv[1], err) < 0)
		return -1;
	if (kb_parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	if (config_args(r, 1, &rf, &kvnp, kv, &nkv, err, code) < 0)
		return -1;
	if (np > b->o.max_topic_partitions)
		return kerr(err, "topic '%s': %" PRId64 " partitions is more than this broker "
		    "allows in a topic (--max-topic-partitions %d)", r->argv[1], np,
		    b->o.max_topic_partitions);
	if (kc_topic_find(&k->st, r->argv[1])) {
		*code = "TOPIC_EXISTS";
		return kerr(err, "topic '%s' already exists", r->argv[1]);
	}
	if (saved(b, err, code) < 0 || kc_state_copy(&nst, &k->st, err) < 0)
		return -1;
	start = (int)nst.ntopics;
	if (!(t = kc_topic_add(&nst, r->argv[1], (int)np, (int)rf, kv, nkv, err)) ||
	    kc_assign(&nst, t, 0, start, err) < 0) {
		kc_state_free(&nst);
		return -1;
	}
	if (commit(b, &nst, err, code) < 0)
		return -1;
	kb_log(b, LOG_INFO, "created topic '%s' with %d partition%s, replication factor %d "
	    "(state version %" PRId64 ")", r->argv[1], (int)np, np == 1 ? "" : "s", (int)rf,
	    k->st.version);
	kb_reply(c, "OK\n");
	return 0;
}

/* ALTER TOPIC PARTITIONS|- [KEY=VALUE...] in a cluster */
int
kb_ctl_alter(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	char *kv[KLOG_PROTO_MAX_ARGS];
	int64_t np = 0, rf = 0, kvnp = 0;
	struct kc_state nst;
	struct kc_topic *t;
	size_t nkv, i;
	int old;

	if (!k || !k->is_ctl)
		return not_controller(b, err, code);
	if (!(t = kc_topic_find(&k->st, r->argv[1]))) {
		*code = "UNKNOWN_TOPIC";
		return kerr(err, "no such topic '%s'", r->argv[1]);
	}
	if (strcmp(r->argv[2], "-") && kb_parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	if (config_args(r, 0, &rf, &kvnp, kv, &nkv, err, code) < 0)
		return -1;
	if (!np)
		np = kvnp;              /* "-" and partitions=N */
	*code = "INVALID";
	if (np && np < t->np)
		return kerr(err, "topic '%s' has %d partitions; cannot shrink to %d", r->argv[1],
		    t->np, (int)np);
	if (np > b->o.max_topic_partitions)
		return kerr(err, "topic '%s': %" PRId64 " partitions is more than this broker "
		    "allows in a topic (--max-topic-partitions %d)", r->argv[1], np,
		    b->o.max_topic_partitions);
	if (saved(b, err, code) < 0 || kc_state_copy(&nst, &k->st, err) < 0)
		return -1;
	t = kc_topic_find(&nst, r->argv[1]);
	old = t->np;
	for (i = 0; i < nkv; i++)
		if (kc_topic_set(t, kv[i], err) < 0)
			goto fail;
	if (np > old && (kc_topic_grow(t, (int)np, err) < 0 ||
	    kc_assign(&nst, t, old, assign_start(&nst, t), err) < 0))
		goto fail;
	if (commit(b, &nst, err, code) < 0)
		return -1;
	if (np > old)
		kb_log(b, LOG_INFO, "topic '%s': %d partitions -> %d (state version %" PRId64 ")",
		    r->argv[1], old, (int)np, k->st.version);
	kb_reply(c, "OK\n");
	return 0;
fail:
	kc_state_free(&nst);
	*code = "INVALID";
	return -1;
}

/* DELETE TOPIC in a cluster */
int
kb_ctl_delete(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct kbctl *k = b->ctl;
	struct kc_state nst;

	if (!k || !k->is_ctl)
		return not_controller(b, err, code);
	if (!kc_topic_find(&k->st, r->argv[1])) {
		*code = "UNKNOWN_TOPIC";
		return kerr(err, "no such topic '%s'", r->argv[1]);
	}
	if (saved(b, err, code) < 0 || kc_state_copy(&nst, &k->st, err) < 0)
		return -1;
	kc_topic_delete(&nst, r->argv[1]);
	if (commit(b, &nst, err, code) < 0)
		return -1;
	kb_log(b, LOG_INFO, "deleted topic '%s' (state version %" PRId64 ")", r->argv[1],
	    k->st.version);
	kb_reply(c, "OK\n");
	return 0;
}

const struct kc_state *
kb_ctl_state(struct klog_broker *b)
{
	return b->ctl && b->ctl->is_ctl ? &b->ctl->st : NULL;
}

int
kb_ctl_controller(struct klog_broker *b, char *addr, size_t len)
{
	if (!b->ctl)
		return -1;
	if (addr && len)
		snprintf(addr, len, "%s", b->ctl->ctl_addr);
	return b->ctl->ctl_id;
}

int
kb_ctl_metadata(struct klog_broker *b, char **topics, size_t n, struct klog_buf *out)
{
	struct kbctl *k = b->ctl;
	int rc;

	if (!k || !k->is_ctl)
		return -1;
	k->st.self = b->o.node_id;
	rc = kc_state_format(&k->st, topics, n, out);
	k->st.self = -1;
	return rc < 0 ? -1 : (int)kc_state_lines(&k->st, topics, n);
}

void
kb_ctl_stats(struct klog_broker *b, struct klog_buf *o)
{
	struct kbctl *k = b->ctl;
	int live[KC_MAX_NODES], offline = 0, p;
	size_t i;

	if (!k || !k->is_ctl)
		return;
	for (i = 0; i < k->st.ntopics; i++)
		for (p = 0; p < k->st.topics[i].np; p++)
			offline += k->st.topics[i].parts[p].leader < 0;
	klog_buf_printf(o, "# HELP klog_controller_elections_total Partition leaders elected by "
	    "the controller since its start.\n# TYPE klog_controller_elections_total counter\n"
	    "klog_controller_elections_total %" PRIu64 "\n"
	    "# HELP klog_controller_live_brokers Nodes alive (the controller's view).\n"
	    "# TYPE klog_controller_live_brokers gauge\nklog_controller_live_brokers %d\n"
	    "# HELP klog_offline_partitions Partitions without a leader.\n"
	    "# TYPE klog_offline_partitions gauge\nklog_offline_partitions %d\n"
	    "# HELP klog_controller_state_version The cluster state's version.\n"
	    "# TYPE klog_controller_state_version gauge\nklog_controller_state_version %" PRId64
	    "\n", k->elections, kc_live(&k->st, live, KC_MAX_NODES), offline, k->st.version);
}
