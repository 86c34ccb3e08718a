/* klog - one interface over a log directory (embedded) or a broker (remote). MIT licence. */
/*
 * The tools say "-d DIR" or "-b HOST:PORT" and otherwise do the same
 * thing: this file is where the two meet.  Embedded, a klog_log is an open
 * log directory and a klog_lpart an open partition (partition.c).  Remote,
 * they share the blocking client connections of a router (route.c: one
 * broker, or each partition's leader in a cluster): appends are PRODUCE
 * requests with the log's acks setting, reads are FETCH requests, and
 * waiting for new records is a long-poll FETCH whose answer is kept for
 * the next read.  Batches fetched from a broker are CRC-checked here, as
 * partition.c checks what it reads from disk, so a consumer sees the same
 * errors either way.
 *
 * In a cluster, requests follow leaders: a request that meets NOT_LEADER,
 * UNKNOWN_TOPIC or UNKNOWN_PARTITION (the broker has not heard of a new
 * topic yet) or a lost connection is sent again to the leader the fresh
 * metadata names, until the router's timeout -- except a PRODUCE that may
 * have been written (its connection was lost after it went out): it is
 * never resent, as a resend would duplicate what may have been written
 * and acknowledged; its caller hears that its fate is unknown.  Topic
 * changes go to the controller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "cluster.h"

_Static_assert(KLOG_MAX_REPLICAS == KC_MAX_REPLICAS, "replica lists differ");

struct klog_log {
	struct klog_dir *d;
	struct kroute *rt;              /* remote: the connections */
	struct klog_client *c;          /* remote: the bootstrap connection */
	int acks;
	char name[256];
	struct klog_client **ring;      /* remote: where each ack due will come from */
	size_t rhead, rlen, rcap;
	char ack_code[48];              /* why the last ack failed */
};

struct klog_lpart {
	struct klog_log *lg;
	struct klog_part *p;            /* embedded */
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
	char name[KLOG_TOPIC_MAX + 16];
	struct klog_buf pending;        /* remote: a long poll's answer */
	int64_t pending_off;
};

/*
 * A request about topic's partition to its leader, again at the new
 * leader after a routing failure (kroute_failed) until the router's
 * timeout.  fn returns >= 0 done, -1 failed; it sets *unsafe when a
 * failure may have had an effect (then it is not sent again).
 */
static ssize_t
on_leader(struct klog_log *lg, const char *topic, int partition,
    ssize_t (*fn)(struct klog_client *c, void *arg, int *unsafe, char *err), void *arg,
    char *err)
{
	int64_t end = klog_now_ms() + kroute_timeout(lg->rt);
	int backoff = 20, unsafe, e;
	struct klog_client *c;
	ssize_t r;

	for (;;) {
		if (!(c = kroute_leader(lg->rt, topic, partition, err)))
			return -1;
		unsafe = 0;
		if ((r = fn(c, arg, &unsafe, err)) >= 0)
			return r;
		e = errno;
		if (!kroute_failed(lg->rt, c) || unsafe || klog_now_ms() >= end) {
			errno = e;
			return -1;
		}
		kroute_sleep(&backoff);
	}
}

/* a topic change, at the controller in a cluster */
struct tcmd {
	int verb;                       /* 'C'reate, 'A'lter, 'D'elete */
	const char *topic;
	int partitions;
	char **kv;
	int nkv;
};

static int
tcmd_run(struct klog_client *c, const struct tcmd *t, char *err)
{
	if (t->verb == 'C')
		return klog_client_create(c, t->topic, t->partitions, t->kv, t->nkv, err);
	if (t->verb == 'A')
		return klog_client_alter(c, t->topic, t->partitions, t->kv, t->nkv, err);
	return klog_client_delete(c, t->topic, err);
}

static int
to_controller(struct klog_log *lg, const struct tcmd *t, char *err)
{
	int64_t end = klog_now_ms() + kroute_timeout(lg->rt);
	int backoff = 20, e;
	struct klog_client *c;

	for (;;) {
		if (!(c = kroute_controller(lg->rt, err)))
			return -1;
		if (tcmd_run(c, t, err) == 0)
			return 0;
		e = errno;
		/* NOT_CONTROLLER: "controller is node N at ADDR", which the
		 * metadata will say too; a lost answer is not retried */
		if (!kroute_cluster(lg->rt) || klog_now_ms() >= end ||
		    strcmp(klog_client_code(c), "NOT_CONTROLLER")) {
			errno = e;
			return -1;
		}
		kroute_stale(lg->rt);
		kroute_sleep(&backoff);
	}
}

struct klog_log *
klog_log_open(const char *dir, const char *brokers, int flags, char *err)
{
	struct klog_log *lg = calloc(1, sizeof *lg);

	if (!lg) {
		kerr_sys(err, "log");
		return NULL;
	}
	lg->acks = -1;
	if (brokers && *brokers) {
		if (!(lg->rt = kroute_open(brokers, NULL, err)))
			goto fail;
		lg->c = kroute_boot(lg->rt);
		snprintf(lg->name, sizeof lg->name, "%s", klog_client_addr(lg->c));
	} else {
		if (!(lg->d = klog_dir_open(dir, flags, err)))
			goto fail;
		snprintf(lg->name, sizeof lg->name, "%s", dir);
	}
	return lg;
fail:
	free(lg);
	return NULL;
}

void
klog_log_close(struct klog_log *lg)
{
	if (!lg)
		return;
	kroute_close(lg->rt);
	if (lg->d)
		klog_dir_close(lg->d);
	free(lg->ring);
	free(lg);
}

int
klog_log_remote(const struct klog_log *lg)
{
	return lg->c != NULL;
}

struct klog_dir *
klog_log_dir(struct klog_log *lg)
{
	return lg->d;
}

struct klog_client *
klog_log_client(struct klog_log *lg)
{
	return lg->c;
}

void
klog_log_set_acks(struct klog_log *lg, int acks)
{
	lg->acks = acks;
}

/* embedded changes to a directory a kbrokerd serves go through it, or not at all */
static int
served(struct klog_log *lg, char *err)
{
	char who[256];

	if (!klog_dir_broker(lg->d, who, sizeof who))
		return 0;
	errno = EBUSY;
	return kerr(err, "log directory '%s' is served by kbrokerd (%s): change it with -b, "
	    "or stop it", lg->name, who);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a cluster's topics, from the metadata (a broker holds only its replicas) */
static int
cluster_topics(struct klog_log *lg, char ***names, size_t *n, char *err)
{
	const struct kc_state *st;
	char **v;
	size_t i;

	kroute_stale(lg->rt);
	if (!(st = kroute_state(lg->rt, err)))
		return -1;
	if (!(v = calloc(st->ntopics + 1, sizeof *v)))
		return kerr_sys(err, "topics");
	for (i = 0; i < st->ntopics; i++)
		if (!(v[i] = strdup(st->topics[i].name))) {
			klog_strv_free(v, i);
			return kerr_sys(err, "topics");
		}
	qsort(v, st->ntopics, sizeof *v, cmp_str);
	*names = v;
	*n = st->ntopics;
	return 0;
}

int
klog_log_topics(struct klog_log *lg, char ***names, size_t *n, char *err)
{
	if (lg->rt && kroute_cluster(lg->rt))
		return cluster_topics(lg, names, n, err);
	if (lg->c)
		return klog_client_topics(lg->c, names, n, err);
	return klog_topic_list(lg->d, names, n, err);
}

void
klog_log_set_timeout(struct klog_log *lg, int ms)
{
	if (lg->rt)
		kroute_set_timeout(lg->rt, ms);
}

int
klog_log_cluster(const struct klog_log *lg)
{
	return lg->rt && kroute_cluster(lg->rt);
}

/* after a create in a cluster: every live node's METADATA names a leader
 * for every partition, so a producer may start at once */
static int
wait_leaders(struct klog_log *lg, const char *topic, char *err)
{
	int64_t end = klog_now_ms() + kroute_timeout(lg->rt);
	int backoff = 20, all;
	struct kc_state st;
	const struct kc_state *cs;
	size_t i;
	int p, *nodes = NULL, nn = 0, rc = -1;

	kroute_stale(lg->rt);
	if (!(cs = kroute_state(lg->rt, err)))
		return -1;
	if (!(nodes = calloc(cs->nnodes + 1, sizeof *nodes)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < cs->nnodes; i++)
		if (cs->nodes[i].alive)
			nodes[nn++] = cs->nodes[i].id;
	for (i = 0; i < (size_t)nn; ) {
		struct klog_client *c = kroute_node(lg->rt, nodes[i], err);
		struct kc_topic *t = NULL;
		all = 0;
		kc_state_init(&st);
		if (c && klog_client_inflight(c) == 0 && kclient_metadata(c, &st, err) == 0 &&
		    (t = kc_topic_find(&st, topic))) {
			for (all = 1, p = 0; p < t->np; p++)
				if (t->parts[p].leader < 0)
					all = 0;
		}
		kc_state_free(&st);
		if (c && !all && !kclient_broken(c))
			kerr(err, "topic '%s': node %d does not know a leader for every partition yet",
			    topic, nodes[i]);
		if (all) {
			i++;
			backoff = 20;
			continue;
		}
		if (klog_now_ms() >= end) {
			errno = ETIMEDOUT;
			goto out;
		}
		kroute_sleep(&backoff);
	}
	rc = 0;
out:
	free(nodes);
	kroute_stale(lg->rt);
	return rc;
}

int
klog_log_create(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err)
{
	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (lg->c) {
		struct tcmd t = { 'C', topic, partitions, kv, nkv };
		if (to_controller(lg, &t, err) < 0)
			return -1;
		return kroute_cluster(lg->rt) ? wait_leaders(lg, topic, err) : 0;
	}
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_create(lg->d, topic, partitions, kv, nkv, err);
}

int
klog_log_alter(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err)
{
	if (lg->c) {
		struct tcmd t = { 'A', topic, partitions, kv, nkv };
		if (to_controller(lg, &t, err) < 0)
			return -1;
		return kroute_cluster(lg->rt) && partitions > 0 ? wait_leaders(lg, topic, err) : 0;
	}
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_alter(lg->d, topic, partitions, kv, nkv, err);
}

int
klog_log_delete(struct klog_log *lg, const char *topic, char *err)
{
	if (lg->c) {
		struct tcmd t = { 'D', topic, 0, NULL, 0 };
		int r = to_controller(lg, &t, err);
		kroute_stale(lg->rt);
		return r;
	}
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_delete(lg->d, topic, err);
}

int
klog_log_exists(struct klog_log *lg, const char *topic)
{
	struct klog_config cfg;

	if (lg->d)
		return klog_topic_exists(lg->d, topic);
	return klog_log_config(lg, topic, &cfg, NULL) == 0;
}

struct config_arg {
	const char *topic;
	struct klog_buf *out;
};

/* in a cluster, the configuration of the leader of partition 0 */
static ssize_t
config_fn(struct klog_client *c, void *arg, int *unsafe, char *err)
{
	struct config_arg *a = arg;

	(void)unsafe;
	a->out->len = 0;
	return klog_client_config(c, a->topic, a->out, err);
}

/* a cluster: the topic's line in the metadata (asked again once when
 * the topic is not there: it may be new) */
static int
cluster_config(struct klog_log *lg, const char *topic, struct klog_config *cfg, char *err)
{
	const struct kc_state *st;
	const struct kc_topic *t;
	char key[256];
	size_t i;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (tries)
			kroute_stale(lg->rt);
		if (!(st = kroute_state(lg->rt, err)))
			return -1;
		if (!(t = kc_topic_find((struct kc_state *)st, topic)))
			continue;
		for (i = 0; i < t->nkv; i++) {
			const char *eq = strchr(t->kv[i], '=');
			if (!eq || (size_t)(eq - t->kv[i]) >= sizeof key)
				continue;
			snprintf(key, sizeof key, "%.*s", (int)(eq - t->kv[i]), t->kv[i]);
			/* a key this build does not know is the broker's business */
			klog_config_set(cfg, key, eq + 1, NULL);
		}
		cfg->partitions = t->np;
		return 0;
	}
	errno = ENOENT;
	return kerr(err, "no such topic '%s'", topic);
}

int
klog_log_config(struct klog_log *lg, const char *topic, struct klog_config *cfg, char *err)
{
	struct klog_buf b = {0};
	char *line, *save = NULL;
	int rc = -1;

	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (lg->d)
		return klog_topic_load(lg->d, topic, cfg, err);
	klog_config_defaults(cfg);
	if (kroute_cluster(lg->rt))
		return cluster_config(lg, topic, cfg, err);
	if (on_leader(lg, topic, 0, config_fn, &(struct config_arg){ topic, &b }, err) < 0 ||
	    klog_buf_append(&b, "", 1) < 0)
		goto out;
	for (line = strtok_r((char *)b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq || *line == '#')
			continue;
		*eq = 0;
		/* a key this build does not know is the broker's business */
		klog_config_set(cfg, line, eq + 1, NULL);
	}
	rc = 0;
out:
	klog_buf_free(&b);
	return rc;
}

/* a cluster: each partition as its leader describes it */
static int
cluster_describe(struct klog_log *lg, const char *topic, struct klog_part_info **parts, int *n,
    char *err)
{
	struct { int node; struct klog_part_info *v; int n; } seen[KC_MAX_NODES];
	const struct kc_state *st;
	const struct kc_topic *t;
	struct klog_part_info *v;
	int ns = 0, i, j, rc = -1;

	kroute_stale(lg->rt);
	if (!(st = kroute_state(lg->rt, err)))
		return -1;
	if (!(t = kc_topic_find((struct kc_state *)st, topic))) {
		errno = ENOENT;
		return kerr(err, "no such topic '%s'", topic);
	}
	if (!(v = calloc((size_t)t->np + 1, sizeof *v)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < t->np; i++) {
		int leader = t->parts[i].leader;
		v[i].log_start = v[i].log_end = -1;
		strcpy(v[i].state, leader < 0 ? "offline" : "unknown");
		if (leader < 0)
			continue;
		for (j = 0; j < ns && seen[j].node != leader; j++)
			;
		if (j == ns && ns < KC_MAX_NODES) {
			struct klog_client *c = kroute_node(lg->rt, leader, err);
			seen[ns].node = leader;
			seen[ns].v = NULL;
			seen[ns].n = 0;
			if (c && klog_client_describe(c, topic, &seen[ns].v, &seen[ns].n, err) < 0)
				seen[ns].n = 0;
			ns++;
		}
		if (j < ns && i < seen[j].n)
			v[i] = seen[j].v[i];
	}
	*parts = v;
	*n = t->np;
	rc = 0;
	for (j = 0; j < ns; j++)
		free(seen[j].v);
	return rc;
}

int
klog_log_replicas(struct klog_log *lg, const char *topic, struct klog_part_replicas **parts,
    int *n, char *err)
{
	const struct kc_state *st;
	const struct kc_topic *t;
	struct klog_part_replicas *v;
	int i;

	*parts = NULL;
	*n = 0;
	if (!lg->rt || !kroute_cluster(lg->rt))
		return 0;
	if (!(st = kroute_state(lg->rt, err)))
		return -1;
	if (!(t = kc_topic_find((struct kc_state *)st, topic))) {
		errno = ENOENT;
		return kerr(err, "no such topic '%s'", topic);
	}
	if (!(v = calloc((size_t)t->np + 1, sizeof *v)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < t->np; i++) {
		const struct kc_part *kp = &t->parts[i];
		v[i].leader = kp->leader;
		v[i].leader_epoch = kp->leader_epoch;
		v[i].nreplicas = kp->nreplicas;
		memcpy(v[i].replicas, kp->replicas, sizeof v[i].replicas);
		v[i].nisr = kp->nisr;
		memcpy(v[i].isr, kp->isr, sizeof v[i].isr);
	}
	*parts = v;
	*n = t->np;
	return 0;
}

/* one klog_part_info per partition; caller frees */
int
klog_log_describe(struct klog_log *lg, const char *topic, struct klog_part_info **parts, int *n,
    char *err)
{
	struct klog_config cfg;
	int i;

	if (lg->rt && kroute_cluster(lg->rt))
		return cluster_describe(lg, topic, parts, n, err);
	if (lg->c)
		return klog_client_describe(lg->c, topic, parts, n, err);
	if (klog_topic_load(lg->d, topic, &cfg, err) < 0)
		return -1;
	if (!(*parts = calloc((size_t)cfg.partitions, sizeof **parts)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < cfg.partitions; i++) {
		struct klog_part *p = klog_part_open(lg->d, topic, i, KLOG_RDONLY, err);
		if (!p || klog_part_info(p, &(*parts)[i], err) < 0) {
			klog_part_close(p);
			free(*parts);
			return -1;
		}
		klog_part_close(p);
	}
	*n = cfg.partitions;
	return 0;
}

/* a cluster: each partition's rates as its leader counts them (0 when it
 * does not answer) */
static int
cluster_rates(struct klog_log *lg, const char *topic, struct klog_part_rate **rates, int *n,
    char *err)
{
	struct { int node; struct klog_part_rate *v; int n; } seen[KC_MAX_NODES];
	char why[KLOG_ERRLEN];
	const struct kc_state *st;
	const struct kc_topic *t;
	struct klog_part_rate *v;
	int ns = 0, i, j;

	if (!(st = kroute_state(lg->rt, err)))
		return -1;
	if (!(t = kc_topic_find((struct kc_state *)st, topic))) {
		errno = ENOENT;
		return kerr(err, "no such topic '%s'", topic);
	}
	if (!(v = calloc((size_t)t->np + 1, sizeof *v)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < t->np; i++) {
		int leader = t->parts[i].leader;
		if (leader < 0)
			continue;
		for (j = 0; j < ns && seen[j].node != leader; j++)
			;
		if (j == ns && ns < KC_MAX_NODES) {
			struct klog_client *c = kroute_node(lg->rt, leader, why);
			seen[ns].node = leader;
			seen[ns].v = NULL;
			seen[ns].n = 0;
			if (c && klog_client_rates(c, topic, &seen[ns].v, &seen[ns].n, why) < 0)
				seen[ns].n = 0;
			ns++;
		}
		if (j < ns && i < seen[j].n)
			v[i] = seen[j].v[i];
	}
	for (j = 0; j < ns; j++)
		free(seen[j].v);
	*rates = v;
	*n = t->np;
	return 0;
}

int
klog_log_rates(struct klog_log *lg, const char *topic, struct klog_part_rate **rates, int *n,
    char *err)
{
	if (lg->rt && kroute_cluster(lg->rt))
		return cluster_rates(lg, topic, rates, n, err);
	if (lg->c)
		return klog_client_rates(lg->c, topic, rates, n, err);
	return krate_local(lg->d, topic, rates, n, err);
}

struct klog_lpart *
klog_lpart_open(struct klog_log *lg, const char *topic, int partition, int flags, char *err)
{
	struct klog_lpart *lp = calloc(1, sizeof *lp);
	struct klog_config cfg;

	if (!lp) {
		kerr_sys(err, "partition");
		return NULL;
	}
	lp->lg = lg;
	snprintf(lp->topic, sizeof lp->topic, "%s", topic);
	lp->partition = partition;
	lp->pending_off = -1;
	snprintf(lp->name, sizeof lp->name, "%s-%d", topic, partition);
	if (lg->d) {
		if (!(lp->p = klog_part_open(lg->d, topic, partition, flags, err)))
			goto fail;
	} else {
		if (klog_log_config(lg, topic, &cfg, err) < 0)
			goto fail;
		if (partition < 0 || partition >= cfg.partitions) {
			errno = ENOENT;
			kerr(err, "no such partition '%s' (topic '%s' has %d)", lp->name, topic,
			    cfg.partitions);
			goto fail;
		}
	}
	return lp;
fail:
	free(lp);
	return NULL;
}

void
klog_lpart_close(struct klog_lpart *lp)
{
	if (!lp)
		return;
	klog_part_close(lp->p);
	klog_buf_free(&lp->pending);
	free(lp);
}

int
klog_lpart_sync(struct klog_lpart *lp, char *err)
{
	return lp->p ? klog_part_sync(lp->p, err) : 0;
}

const char *
klog_lpart_name(const struct klog_lpart *lp)
{
	return lp->name;
}

/* a broker that answers NOT_ENOUGH_REPLICAS for a batch it wrote too
 * (rather than NOT_ENOUGH_REPLICAS_AFTER_APPEND) says so in its message */
static int
said_written(const char *msg)
{
	return msg && strstr(msg, "written") && !strstr(msg, "nothing written") &&
	    !strstr(msg, "not written");
}

/*
 * Refused, so nothing was written: NOT_ENOUGH_REPLICAS (Kafka's rule; not
 * after the append), NOT_LEADER, UNKNOWN_TOPIC and UNKNOWN_PARTITION (a
 * replica that has not heard of the leader or the topic yet) when they
 * answer the request itself.  The same codes also answer a batch written
 * and waiting for its acknowledgement when the leader steps down or the
 * topic goes ("stopped being its leader before the batch was replicated;
 * it may or may not be kept"): such a batch is not sent again.  Only the
 * messages tell the two apart, so a NOT_LEADER is taken for a refusal only
 * when it names the new leader or says there is none.
 */
int
kproduce_refused(const char *code, const char *msg)
{
	if (!msg)
		return 0;
	if (!strcmp(code, "NOT_ENOUGH_REPLICAS"))
		return !said_written(msg);
	if (!strcmp(code, "NOT_LEADER"))
		return (strstr(msg, "leader is node") || strstr(msg, "has no leader now")) &&
		    !strstr(msg, "before the batch") && !strstr(msg, "no longer");
	if (!strcmp(code, "UNKNOWN_TOPIC") || !strcmp(code, "UNKNOWN_PARTITION"))
		return !strstr(msg, "before the batch");
	return 0;
}

struct produce_arg {
	struct klog_lpart *lp;
	const unsigned char *batches;
	size_t len;
	int64_t first, last;
};

/* a PRODUCE that failed after it went out whole may have been written */
static ssize_t
produce_fn(struct klog_client *c, void *arg, int *unsafe, char *err)
{
	struct produce_arg *a = arg;
	struct klog_lpart *lp = a->lp;

	if (klog_client_produce_send(c, lp->topic, lp->partition, lp->lg->acks, a->batches, a->len,
	    err) < 0)
		return -1;
	if (lp->lg->acks == 0)
		return 0;
	if (klog_client_produce_ack(c, &a->first, &a->last, err) < 0) {
		*unsafe = kclient_broken(c) || !kproduce_refused(klog_client_code(c), err);
		return -1;
	}
	return 0;
}

int
klog_lpart_append(struct klog_lpart *lp, unsigned char *batches, size_t len, int64_t *first,
    int64_t *last, char *err)
{
	struct produce_arg a = { lp, batches, len, -1, -1 };

	if (lp->p)
		return klog_part_append(lp->p, batches, len, first, last, err);
	if (on_leader(lp->lg, lp->topic, lp->partition, produce_fn, &a, err) < 0)
		return -1;
	*first = a.first;       /* acks 0: -1, no offsets known */
	*last = a.last;
	return 0;
}

/* remote: send without waiting; klog_log_ack collects the answers in order */
int
klog_lpart_send(struct klog_lpart *lp, const unsigned char *batches, size_t len, char *err)
{
	struct klog_log *lg = lp->lg;
	struct klog_client *c;
	int tries;

	if (!lg->c) {
		errno = EINVAL;
		return kerr(err, "partition '%s' is not remote", lp->name);
	}
	if (lg->acks != 0 && lg->rlen == lg->rcap) {
		size_t nc = lg->rcap ? lg->rcap * 2 : 16, i;
		struct klog_client **v = malloc(nc * sizeof *v);
		if (!v)
			return kerr_sys(err, "partition '%s'", lp->name);
		for (i = 0; i < lg->rlen; i++)
			v[i] = lg->ring[(lg->rhead + i) % lg->rcap];
		free(lg->ring);
		lg->ring = v;
		lg->rcap = nc;
		lg->rhead = 0;
	}
	/* a request that could not be sent whole was not taken: once more */
	for (tries = 0;; tries++) {
		if (!(c = kroute_leader(lg->rt, lp->topic, lp->partition, err)))
			return -1;
		if (klog_client_produce_send(c, lp->topic, lp->partition, lg->acks, batches, len,
		    err) == 0)
			break;
		if (tries > 0 || !kroute_failed(lg->rt, c))
			return -1;
	}
	if (lg->acks != 0)
		lg->ring[(lg->rhead + lg->rlen++) % lg->rcap] = c;
	return 0;
}

int
klog_log_ack(struct klog_log *lg, int64_t *first, int64_t *last, char *err)
{
	struct klog_client *c;
	int e;

	if (!lg->rlen) {
		errno = EINVAL;
		return kerr(err, "no produce acknowledgement is due");
	}
	c = lg->ring[lg->rhead];
	lg->rhead = (lg->rhead + 1) % lg->rcap;
	lg->rlen--;
	lg->ack_code[0] = 0;
	if (klog_client_produce_ack(c, first, last, err) == 0)
		return 0;
	e = errno;
	snprintf(lg->ack_code, sizeof lg->ack_code, "%s",
	    kclient_broken(c) ? "CONNECTION_LOST" : klog_client_code(c));
	kroute_failed(lg->rt, c);
	errno = e;
	return -1;
}

const char *
klog_log_ack_code(const struct klog_log *lg)
{
	return lg->ack_code;
}

int
klog_log_acks(const struct klog_log *lg)
{
	return lg->acks;
}

struct offsets_arg {
	struct klog_lpart *lp;
	struct klog_part_info *info;    /* OFFSETS, else TIMEOFFSET */
	int64_t ts;
	int64_t *offset;
};

static ssize_t
offsets_fn(struct klog_client *c, void *arg, int *unsafe, char *err)
{
	struct offsets_arg *a = arg;

	(void)unsafe;
	if (a->info)
		return klog_client_offsets(c, a->lp->topic, a->lp->partition, &a->info->log_start,
		    &a->info->log_end, err);
	return klog_client_offset_for_time(c, a->lp->topic, a->lp->partition, a->ts, a->offset,
	    err);
}

int
klog_lpart_info(struct klog_lpart *lp, struct klog_part_info *info, char *err)
{
	if (lp->p)
		return klog_part_info(lp->p, info, err);
	memset(info, 0, sizeof *info);
	return (int)on_leader(lp->lg, lp->topic, lp->partition, offsets_fn,
	    &(struct offsets_arg){ lp, info, 0, NULL }, err);
}

int
klog_lpart_offset_for_time(struct klog_lpart *lp, int64_t ts, int64_t *offset, char *err)
{
	if (lp->p)
		return klog_part_offset_for_time(lp->p, ts, offset, err);
	return (int)on_leader(lp->lg, lp->topic, lp->partition, offsets_fn,
	    &(struct offsets_arg){ lp, NULL, ts, offset }, err);
}

/* CRC-check fetched batches, as partition.c does for what it reads */
static int
check_batches(struct klog_lpart *lp, const unsigned char *p, size_t n, char *err)
{
	struct klog_batch b;
	char e[KLOG_ERRLEN];
	size_t off;

	for (off = 0; off < n; off += klog_batch_size(&b))
		if (klog_batch_parse(p + off, n - off, &b, e) != 1 || klog_batch_verify(p + off, &b, e) < 0) {
			errno = EILSEQ;
			return kerr(err, "partition '%s' from broker '%s': %s", lp->name, lp->lg->name, e);
		}
	return 0;
}

struct fetch_arg {
	struct klog_lpart *lp;
	int64_t offset;
	size_t max;
	int wait_ms;
	struct klog_buf *out;
};

static ssize_t
fetch_fn(struct klog_client *c, void *arg, int *unsafe, char *err)
{
	struct fetch_arg *a = arg;
	size_t at = a->out->len;
	ssize_t n;

	(void)unsafe;
	n = klog_client_fetch(c, a->lp->topic, a->lp->partition, a->offset, a->max, a->wait_ms, 1,
	    a->out, NULL, NULL, err);
	if (n < 0)
		a->out->len = at;
	return n;
}

static ssize_t
fetch(struct klog_lpart *lp, int64_t offset, size_t max, int wait_ms, struct klog_buf *out,
    char *err)
{
	size_t at = out->len;
	ssize_t n = on_leader(lp->lg, lp->topic, lp->partition, fetch_fn,
	    &(struct fetch_arg){ lp, offset, max, wait_ms, out }, err);

	if (n > 0 && check_batches(lp, out->data + at, (size_t)n, err) < 0)
		return -1;
	return n;
}

ssize_t
klog_lpart_read(struct klog_lpart *lp, int64_t offset, size_t max, struct klog_buf *out,
    char *err)
{
	if (lp->p)
		return klog_part_read(lp->p, offset, max, out, err);
	if (lp->pending.len && lp->pending_off == offset) {
		size_t n = lp->pending.len;
		if (klog_buf_append(out, lp->pending.data, n) < 0)
			return kerr_sys(err, "read '%s'", lp->name);
		lp->pending.len = 0;
		lp->pending_off = -1;
		return (ssize_t)n;
	}
	lp->pending.len = 0;
	return fetch(lp, offset, max, 0, out, err);
}

int
klog_lpart_wait_fd(struct klog_lpart *lp)
{
	return lp->p ? klog_part_wait_fd(lp->p) : -1;
}

/*
 * Remote: a long poll from `offset` (the next offset the caller wants);
 * what arrives is kept for the next klog_lpart_read.  1 data waiting,
 * 0 timeout, -1 error.
 */
int
klog_lpart_wait_remote(struct klog_lpart *lp, int64_t offset, int timeout_ms, char *err)
{
	ssize_t n;

	if (lp->p)
		return klog_part_wait(lp->p, timeout_ms);
	if (lp->pending.len && lp->pending_off == offset)
		return 1;
	lp->pending.len = 0;
	n = fetch(lp, offset, (size_t)1 << 20, timeout_ms, &lp->pending, err);
	if (n < 0)
		return -1;
	lp->pending_off = n > 0 ? offset : -1;
	return n > 0;
}
