/* klog - a cluster's description and state (cluster.c). Private. MIT licence. */
/*
 * A cluster is a static list of nodes, "ID@HOST:PORT,..." (--cluster, or
 * one per line in --cluster-file); the first is the controller.  The
 * controller's state -- nodes, topics, and per partition the leader, the
 * leader epoch, the partition epoch, the replicas and the ISR -- travels
 * and is stored as text lines (the format is at the top of cluster.c):
 *
 *	cluster CONTROLLER VERSION SELF
 *	node ID ADDR alive|dead
 *	topic NAME PARTITIONS RF [KEY=VALUE...]
 *	part NAME PARTITION LEADER LEADER_EPOCH PART_EPOCH REPLICAS ISR
 *
 * METADATA answers with them, the controller persists them in
 * DIR/cluster-state, and the clients parse them to find leaders.
 */
#ifndef KLOG_CLUSTER_H
#define KLOG_CLUSTER_H

#include <stdint.h>

#include "klog.h"

#define KC_MAX_NODES 64
#define KC_MAX_REPLICAS 16              /* a partition's replication factor at most */
#define KC_ADDR_MAX 128

struct kc_node {
	int id;
	char addr[KC_ADDR_MAX];         /* as registered, or as in the description */
	int alive;
	uint64_t incarnation;           /* controller: of the live session; 0 none */
};

struct kc_part {
	int leader;                     /* node id; -1: none (offline) */
	int32_t leader_epoch;           /* bumped at every leader change */
	int32_t part_epoch;             /* bumped at every leader or ISR change */
	int nreplicas;
	int replicas[KC_MAX_REPLICAS];  /* the first is the preferred leader */
	int nisr;
	int isr[KC_MAX_REPLICAS];
};

struct kc_topic {
	char *name;
	int np;
	int rf;
	char **kv;                      /* topic configuration, "key=value" */
	size_t nkv;
	struct kc_part *parts;          /* np of them */
};

struct kc_state {
	int controller;                 /* node id; -1: standalone */
	int64_t version;                /* bumped at every change */
	int self;                       /* the answering node; -1 in the persisted file */
	struct kc_node *nodes;
	size_t nnodes;
	struct kc_topic *topics;
	size_t ntopics;
};

/* "1@h:p,2@h:p" (commas or blanks or newlines; '#' to the end of a line
 * is a comment): nodes in order, the first the controller; version 0, no
 * topics, everyone dead */
int kc_spec_parse(const char *spec, struct kc_state *st, char *err);
int kc_spec_read(const char *path, struct kc_state *st, char *err);

void kc_state_init(struct kc_state *st);
void kc_state_free(struct kc_state *st);
int kc_state_copy(struct kc_state *dst, const struct kc_state *src, char *err);
/* the lines above, each ending in "\n"; topics NULL: all of them */
int kc_state_format(const struct kc_state *st, char **topics, size_t ntopics,
    struct klog_buf *out);
size_t kc_state_lines(const struct kc_state *st, char **topics, size_t ntopics);
/* parse lines (as formatted; unknown line kinds are an error) */
int kc_state_parse(const char *text, size_t len, struct kc_state *st, char *err);

struct kc_node *kc_node_find(struct kc_state *st, int id);
struct kc_topic *kc_topic_find(struct kc_state *st, const char *name);
int kc_isr_has(const struct kc_part *p, int node);
int kc_replicas_has(const struct kc_part *p, int node);
/* HOST:PORT with a non-empty host, a port 0-65535, no blank, < KC_ADDR_MAX */
int kc_addr_ok(const char *addr);
/* "1,2,3" or "-" */
void kc_ids_format(const int *ids, int n, char *buf, size_t len);
int kc_ids_parse(const char *s, int *ids, int *n, char *err);

/* the controller's rules, pure functions of a state (they bump version
 * when they change it).  `note`, when not NULL, is told of every
 * partition changed: old is its state before, t->parts[p] after. */
typedef void kc_note_fn(void *arg, const struct kc_topic *t, int p, const struct kc_part *old);

/* nodes alive, sorted by id; returns how many */
int kc_live(const struct kc_state *st, int *ids, int max);
/* the topic's configuration value for key, or NULL */
const char *kc_topic_kv(const struct kc_topic *t, const char *key);
/* unclean.leader.election.enable=true */
int kc_topic_unclean(const struct kc_topic *t);
/*
 * Replicas of t's partitions [from, t->np) over the live nodes sorted by
 * id: partition p's list starts at live index (p + start) % n; the first
 * replica is the leader, ISR = replicas, epochs 0.  -1 (err) when t->rf
 * is larger than the live nodes.
 */
int kc_assign(const struct kc_state *st, struct kc_topic *t, int from, int start, char *err);
/* a new topic (name checked, kv copied as given), parts all offline; the
 * caller assigns them; NULL (err) on a bad name, one that exists, ENOMEM */
struct kc_topic *kc_topic_add(struct kc_state *st, const char *name, int np, int rf,
    char **kv, size_t nkv, char *err);
/* grow to np partitions (not assigned: leader -1, no replicas) */
int kc_topic_grow(struct kc_topic *t, int np, char *err);
/* set key=value (replacing the key's value) */
int kc_topic_set(struct kc_topic *t, const char *kv, char *err);
/* 0, -1 no such topic */
int kc_topic_delete(struct kc_state *st, const char *name);
/*
 * A node died: it leaves every ISR (the last member stays), partitions it
 * led get the first live ISR member as leader, or with
 * unclean.leader.election.enable any live replica (the ISR then is that
 * one), or none (-1); a leader change bumps the leader epoch, any change
 * the partition epoch.  Returns partitions changed, -1 unknown node.
 */
int kc_node_died(struct kc_state *st, int id, kc_note_fn *note, void *arg);
/* a node is alive at addr (incarnation inc): partitions without a leader
 * whose ISR holds it get it as leader (unclean: whose replicas hold it,
 * ISR then itself).  Returns partitions changed, -1 unknown node. */
int kc_node_born(struct kc_state *st, int id, const char *addr, uint64_t inc,
    kc_note_fn *note, void *arg);
/*
 * The leader of name-partition asks for ISR isr (n members).  0 done
 * (part epoch bumped, *pe the new one); -1 with *code STALE_EPOCH (the
 * epochs are not the partition's), INVALID (ISR empty, not a subset of
 * the replicas, without the leader, a new member not alive),
 * UNKNOWN_TOPIC or UNKNOWN_PARTITION, and err.
 */
int kc_alter_isr(struct kc_state *st, const char *name, int partition, int32_t leader_epoch,
    int32_t part_epoch, const int *isr, int n, int32_t *pe, const char **code, char *err);

#endif
