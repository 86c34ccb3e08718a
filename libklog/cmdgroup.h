/* klog - a consumer-group member and a command per record, for kconsume. Private. MIT licence. */
/*
 * Like cmdutil.h: these print and exit (klog_cmd_die), so they live in
 * libkserver.a, linked by the tools and tests only.  The state is the
 * caller's, passed in; the main keeps options, its loop and its output.
 */
#ifndef KLOG_CMDGROUP_H
#define KLOG_CMDGROUP_H

#include <signal.h>

#include "klog.h"

/* cmd-member.c: a group member's bookkeeping */

/* a partition the group gave this member */
struct klog_cmd_gpart {
	char *topic;
	int partition;
	int64_t committed;              /* what the group has; -1 none */
};

/* the record an --exec command works on (its partition's commit stops at it) */
struct klog_cmd_inflight {
	int active;
	char *topic;
	int partition;
	int64_t offset;
	int child;                      /* its command is running */
	int gone;                       /* its partition was revoked or lost */
	int revoke_pending;             /* revoked while the command ran */
};

struct klog_cmd_member {
	/* set by the caller */
	struct klog_log *lg;
	struct klog_consumer *con;
	struct klog_group *g;           /* NULL: not in a group (every call a no-op) */
	const char *group;
	struct klog_start st;           /* where a partition without a commit starts */
	int verbose;
	int64_t commit_interval;        /* ms */
	/* write what was formatted so far (before a commit, a revoke, a loss);
	 * may end the run through klog_cmd_member_exit */
	void (*flush)(void *arg);
	void *arg;
	/* kept here */
	struct klog_cmd_gpart *gp;
	size_t ngp, gpcap;
	int64_t last_commit, next_poll, last_event;
	int64_t commits;
	struct klog_cmd_inflight in;
};

struct klog_cmd_gpart *klog_cmd_member_find(struct klog_cmd_member *m, const char *topic,
    int partition);
/* commit one partition (only non-NULL) or every one that moved; -1 when fenced */
int klog_cmd_member_commit(struct klog_cmd_member *m, struct klog_cmd_gpart *only);
int klog_cmd_member_poll(struct klog_cmd_member *m);    /* events handled */
int klog_cmd_member_settled(struct klog_cmd_member *m); /* -e: may this member go? */
void klog_cmd_member_tick(struct klog_cmd_member *m);   /* poll, commit when due */
int klog_cmd_member_until_tick(struct klog_cmd_member *m, int cap);    /* ms, at most cap */
/* a partition revoked while its command ran: hand it over now */
void klog_cmd_member_revoke_pending(struct klog_cmd_member *m);
/* commit what was used (when commit_first), leave the group, exit(code) */
void klog_cmd_member_exit(struct klog_cmd_member *m, int code, int commit_first)
	__attribute__((noreturn));

/* cmd-exec.c: a command per record, retries, the dead-letter topic */

#define KLOG_CMD_BACKOFF_MAX 30000
#define KLOG_CMD_EXIT_POISON 3

struct klog_cmd_exec {
	/* set by the caller */
	const char *cmd;                /* run as /bin/sh -c CMD */
	int64_t retries, backoff;       /* backoff: ms before the first retry */
	const char *dead_letter;        /* topic, or NULL: exit 3 */
	volatile sig_atomic_t *stop;    /* a signal came */
	/* kept here (start valfd at -1) */
	int valfd;                      /* the value, the command's stdin; -1 none yet */
	struct klog_buf copy;           /* the record being run, out of the consumer's buffer */
	char *dl_topic;
	int dl_partitions;
	struct klog_producer **dl_pr;   /* one per partition, opened when needed */
	int64_t dead;
};

/* one record through the command: 0 used, 1 abandoned (not committed) */
int klog_cmd_exec_record(struct klog_cmd_exec *x, struct klog_cmd_member *m,
    const struct klog_record *rec, const char *topic, int partition);

#endif
