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
/* "1,2,3" or "-" */
void kc_ids_format(const int *ids, int n, char *buf, size_t len);
int kc_ids_parse(const char *s, int *ids, int *n, char *err);

#endif
