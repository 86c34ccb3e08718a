/* klog - embedded groups: what group-local.c and group-admin.c share. MIT licence. */
/* The files are specified at the top of group-local.c and in klog(5). */
#ifndef KLOG_GROUP_LOCAL_H
#define KLOG_GROUP_LOCAL_H

#include "group.h"

#define GROUPS_DIR ".klog-groups"

/* a member as its file or state records it */
struct kmember {
	char *id;
	char *instance;                 /* NULL: dynamic */
	char *client, *host, *strategy; /* from its file only */
	int pid;
	int session_ms;
	int64_t gone_ms;                /* state: 0 live, else when found dead */
	char **topics;
	size_t ntopics;
};

struct kstate {
	int32_t generation;             /* 0: no state yet */
	char strategy[16];
	char **topics;                  /* sorted */
	int *parts;
	size_t ntopics;
	struct kmember *m;
	size_t nm;
	struct kg_tp *tp;               /* every partition of topics, in order */
	int *owner;                     /* per tp: index into m, -1 */
	size_t ntp;
};

/* -1 EBUSY naming the kbrokerd that serves the directory */
int kgf_refuse_broker(struct klog_dir *d, const char *group, char *err);
/* DIR/.klog-groups/GROUP (made when create); -1 ENOENT when absent */
int kgf_group_open(struct klog_dir *d, const char *group, int create, char *err);
/* the group lock's descriptor; -1 ESTALE when the group was deleted meanwhile */
int kgf_group_lock(int gfd, const char *group, char *err);
/* live members sorted by id, files read (info); reap: remove dead ones'
 * files (under the group lock) */
int kgf_members_scan(int gfd, const char *group, int info, int reap, struct kmember **out,
    size_t *n, char *err);
void kgf_members_free(struct kmember *m, size_t n);
/* a missing state is an empty one (generation 0) */
int kgf_state_read(int gfd, struct kstate *s);
void kgf_state_free(struct kstate *s);
int kgf_state_index(const struct kstate *s, const char *id);
long kgf_state_tp_index(const struct kstate *s, const char *topic, int p);
char *kgf_slurp_fd(int fd);
int kgf_cmpstr(const void *a, const void *b);

#endif
