/* klog - consumer groups: what group.c dispatches to. MIT licence. */
/*
 * group.c holds the public klog_group_* calls and sends each to one of
 * two implementations with the same shape:
 *   kgl_*  group-local.c   embedded: processes sharing a log directory
 *   kgr_*  group-remote.c  through a broker, the group coordinator
 * struct klog_group starts with the fields group.c reads; each
 * implementation keeps its own state behind `impl`.
 */
#ifndef KLOG_GROUP_H
#define KLOG_GROUP_H

#include "internal.h"

struct klog_group {
	struct klog_log *lg;
	int remote;
	char group[KLOG_GROUP_MAX + 1];
	char member_id[256];
	int32_t generation;
	int interval_ms;
	void *impl;
};

/* group-assign.c: the strategies, shared by both sides.  Members and
 * partitions come sorted; prev[i] is partition i's current owner (index
 * into members, -1 none; only "sticky" reads it).  out[i] gets the new
 * owner of partition i.  -1 EINVAL on an unknown strategy. */
struct kg_tp {
	const char *topic;
	int partition;
};
struct kg_member {
	const char *id;
	char **topics;                  /* what it subscribes to */
	size_t ntopics;
};
int kg_assign(const char *strategy, const struct kg_member *m, size_t nm,
    const struct kg_tp *tp, size_t ntp, const int *prev, int *out, char *err);
int kg_strategy_check(const char *strategy, char *err);

/* group-local.c */
int kgl_join(struct klog_group *g, const struct klog_group_opts *o, char *err);
int kgl_poll(struct klog_group *g, struct klog_gevent *ev, char *err);
int kgl_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err);
int kgl_release(struct klog_group *g, const char *topic, int partition, char *err);
int kgl_leave(struct klog_group *g, char *err);
void kgl_free(struct klog_group *g);
int kgl_list(struct klog_dir *d, char ***names, size_t *n, char *err);
int kgl_describe(struct klog_dir *d, const char *group, struct klog_group_info *gi, char *err);
int kgl_set_offsets(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err);
int kgl_delete(struct klog_dir *d, const char *group, char *err);

/* group-remote.c */
int kgr_join(struct klog_group *g, const struct klog_group_opts *o, char *err);
int kgr_poll(struct klog_group *g, struct klog_gevent *ev, char *err);
int kgr_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err);
int kgr_release(struct klog_group *g, const char *topic, int partition, char *err);
int kgr_leave(struct klog_group *g, char *err);
void kgr_free(struct klog_group *g);
int kgr_list(struct klog_client *c, char ***names, size_t *n, char *err);
int kgr_describe(struct klog_client *c, const char *group, struct klog_group_info *gi,
    char *err);
int kgr_set_offsets(struct klog_client *c, const char *group, const struct klog_gcommit *cm,
    size_t n, char *err);
int kgr_delete(struct klog_client *c, const char *group, char *err);

#endif
