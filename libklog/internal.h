/* klog - private helpers shared by libklog's files. MIT licence. */
#ifndef KLOG_INTERNAL_H
#define KLOG_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include "klog.h"

/* an open log directory (dir.c) */
struct klog_dir {
	char *path;
	int fd;                 /* O_DIRECTORY, for *at() calls and flock */
};

/* fill err (KLOG_ERRLEN) printf-style; returns -1 so callers can `return kerr(...)` */
int kerr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* same, appending ": strerror(errno)" */
int kerr_sys(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* index.c: kind 0 = .index (8-byte entries), 1 = .timeindex (12-byte) */
int64_t kindex_count(int fd, int kind);
int kindex_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e);
int64_t kindex_lookup(int fd, int kind, int64_t n, int64_t base, int64_t key,
    struct klog_index_entry *e);
int kindex_append(int fd, int kind, int64_t base, int64_t offset, int64_t value);

/*
 * partition-sync.c: what makes a partition durable, in three steps so that
 * a broker can run the middle one in another thread (group commit):
 * kpart_sync_prepare (the partition's owner) hands over descriptors to
 * sync, ksync_run (any thread) syncs and closes them, kpart_sync_done (the
 * owner again) moves the durable end forward or fails the partition.
 */
struct ksync_fd {
	int fd;
	int dir;                /* a directory: fsync, else fdatasync */
	char name[40];          /* "00000000000000000042.log", "directory" */
};
struct ksync {
	struct ksync_fd *v;
	size_t n, cap;
	int64_t end;            /* the log end that is durable once every sync succeeded */
	int64_t seg_base, seg_size;     /* the active segment and its size then */
	int err;                /* errno of the first failed sync, 0 if none */
	size_t failed;          /* which one */
};
#define KSYNC_INDEXES 0x1       /* the active segment's indexes too */
#define KSYNC_PENDING 0x2       /* only rolled segments and the directory, not new data */
/* 0 nothing to sync, n descriptors taken; -1 the partition has failed (err) or EMFILE */
int kpart_sync_prepare(struct klog_part *p, struct ksync *s, int flags, char *err);
void ksync_run(struct ksync *s);
/* -1 (errno EIO, err) when a sync failed: the partition is failed from now on */
int kpart_sync_done(struct klog_part *p, struct ksync *s, char *err);
void ksync_free(struct ksync *s);       /* closes what was not run */
int64_t kpart_synced_end(const struct klog_part *p);
/* log-start and recovery-point values the owner should record, for a broker
 * that writes the checkpoint files itself (one write for many partitions):
 * 1 and *off when the value changed since last taken */
int kpart_take_log_start(struct klog_part *p, int64_t *off);
int kpart_take_recovery_point(struct klog_part *p, int64_t *off);
/* the durable end moved since the recovery point was last recorded */
int kpart_rp_stale(const struct klog_part *p);
void kpart_recorded_recovery_point(struct klog_part *p, int64_t off);
void kpart_discard(struct klog_part *p);       /* close with no sync (partition.c) */
void kpart_set_config(struct klog_part *p, const struct klog_config *c);
int kpart_slice(struct klog_part *p, int64_t offset, size_t max, int64_t limit,
    struct klog_slice *s, char *err);   /* partition-read.c */

static inline uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static inline void put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = (unsigned char)v; }
static inline void put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

#endif
