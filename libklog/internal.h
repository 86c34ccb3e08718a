/* klog - private helpers shared by libklog's files. MIT licence. */
#ifndef KLOG_INTERNAL_H
#define KLOG_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include "klog.h"
#include "kserver.h"

/* an open log directory (dir.c) */
struct klog_dir {
	char *path;
	int fd;                 /* O_DIRECTORY, for *at() calls and flock */
};

/* files of a directory by its fd, not its path (util.c) */
int kread_file_at(int dfd, const char *dpath, const char *name, char **out, size_t *len,
    char *err);
int kwrite_atomic_at(int dfd, const char *dpath, const char *name, const void *data, size_t len,
    char *err);

/* fill err (KLOG_ERRLEN) printf-style; returns -1 so callers can `return kerr(...)` */
int kerr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* same, appending ": strerror(errno)" */
int kerr_sys(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* routine events (retention, an index rebuilt): the klog_set_info function */
void kinfo(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* index.c: kind 0 = .index (8-byte entries), 1 = .timeindex (12-byte) */
#define KINDEX_SIZE(kind) ((kind) ? 12 : 8)
int64_t kindex_count(int fd, int kind);
int kindex_entry(int fd, int kind, int64_t i, int64_t base, struct klog_index_entry *e);
int64_t kindex_lookup(int fd, int kind, int64_t n, int64_t base, int64_t key,
    struct klog_index_entry *e);
int kindex_append(int fd, int kind, int64_t base, int64_t offset, int64_t value);
/* one entry's bytes (KINDEX_SIZE(kind) of them) */
void kindex_encode(unsigned char *p, int kind, int64_t base, int64_t offset, int64_t value);
/*
 * Decode a whole index file's bytes: the entries before Kafka's zero
 * padding (an all-zero entry after the first ends the list).  *torn: the
 * length is not a whole number of entries (the partial one is ignored);
 * *after: non-zero entries found past the end of the list (damage, not
 * padding).  *e is malloc'ed (NULL when *n is 0).  -1 ENOMEM.
 */
int kindex_decode(const unsigned char *p, size_t len, int kind, int64_t base,
    struct klog_index_entry **e, size_t *n, int *torn, size_t *after);
/* read and decode a file: 0, 1 no such file (*n 0), -1 error (err) */
int kindex_load(const char *path, int kind, int64_t base, struct klog_index_entry **e,
    size_t *n, int *torn, size_t *after, char *err);
/*
 * Kafka's rule for when entries are written, fed the appends (or, for a
 * rebuild, the batches) of one segment in order.  An append of `bytes`
 * bytes at byte `pos` whose largest offset is `last` and whose largest
 * timestamp is max_ts (held by the batch whose last offset is max_ts_off)
 * gets an offset entry (last, pos) when more than `interval` bytes were
 * appended since the previous entry, and at the same moment a time entry
 * (largest timestamp so far, its offset) when that timestamp grew.  The
 * entries' bytes accumulate in ix and tx (the caller writes them and may
 * empty the buffers); seal adds the time entry Kafka writes on a roll.
 */
struct kindex_builder {
	int64_t base, interval;
	int64_t since;                  /* bytes since the last offset entry */
	int64_t max_ts, max_ts_off;     /* largest timestamp so far, INT64_MIN none */
	int64_t last_ts;                /* timestamp of the last time entry, INT64_MIN none */
	int64_t entries, tentries;      /* entries produced so far */
	struct klog_buf ix, tx;         /* entry bytes not yet taken by the caller */
};
void kindex_builder_init(struct kindex_builder *b, int64_t base, int64_t interval);
int kindex_builder_note(struct kindex_builder *b, int64_t pos, int64_t bytes, int64_t last,
    int64_t max_ts, int64_t max_ts_off);
/* one batch at pos (a rebuild: what Kafka's recovery writes) */
int kindex_builder_add(struct kindex_builder *b, const struct klog_batch *batch, int64_t pos);
int kindex_builder_seal(struct kindex_builder *b);
void kindex_builder_free(struct kindex_builder *b);
int kindex_build(struct kindex_builder *b, int64_t base, int64_t interval, int fd, int64_t size,
    int seal, char *err);
int kindex_rebuild(const char *dir, int64_t base, int64_t interval, int fd, int64_t size, int seal,
    int64_t *entries, char *err);
/*
 * Check an index against its segment: kindex_check_entries for the
 * entries alone, then each whole batch of the segment in order, then
 * kindex_check_end after a walk that reached the end cleanly.  Each
 * problem is one message to bad() ("entry 3 (offset 56) points at byte
 * 4100, not at a batch"); the functions return the number of problems.
 * A reader may use a bad index's verdict to ignore the index.
 */
struct kindex_check {
	int kind;
	int64_t base;
	const struct klog_index_entry *e;
	size_t n, k;
	int64_t max_ts;                 /* largest timestamp of the batches so far */
	int64_t last;                   /* last offset so far, -1 none */
	void (*bad)(void *arg, const char *msg);
	void *arg;
};
void kindex_check_init(struct kindex_check *c, int kind, int64_t base,
    const struct klog_index_entry *e, size_t n, void (*bad)(void *arg, const char *msg),
    void *arg);
int kindex_check_entries(struct kindex_check *c);
int kindex_check_batch(struct kindex_check *c, const struct klog_batch *b, int64_t pos);
int kindex_check_end(struct kindex_check *c);

/*
 * segment.c: segment files, the batch walker and the neighbour checks
 * (the format is specified at the top of segment.c)
 */
/* snprintf for messages, where cutting a long one short is fine */
void kmsgf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define KSEG_NAMELEN 40                 /* "<20 digits>.timeindex.cleaned" fits */
void kseg_name(char *buf, size_t n, int64_t base, const char *suffix);
/* base offset from "<20 digits><suffix>" (a path's last component), or -1 */
int64_t kseg_parse_name(const char *name, const char *suffix);
/* "<topic>-<n>" with a valid topic name: 1 and topic (KLOG_TOPIC_MAX + 1
 * bytes, may be NULL), *partition filled; else 0 */
int kseg_parse_partition(const char *name, char *topic, int *partition);
/* sorted base offsets of the <base>.log files in a partition directory;
 * pname names it in errors; *bases malloc'ed (NULL when *n is 0) */
int kseg_list(int dfd, const char *pname, int64_t **bases, size_t *n, char *err);
/* a segment's files in deletion order: indexes first, ".log" last */
extern const char *const kseg_suffixes[];
/* unlink them all (ENOENT is fine); the caller fsyncs the directory */
int kseg_delete(int dfd, const char *pname, int64_t base, char *err);
/* a partition directory: named <topic>-<n>, or holding a <base>.log */
int kseg_is_partition_dir(const char *path);
/* sorted names in dir that pass keep(), directories (dirs 1) or not */
int kseg_list_names(const char *dir, int dirs, int (*keep)(const char *name), char ***names,
    size_t *n, char *err);
/* the partition directories of a log directory, sorted */
int kseg_list_partitions(const char *dir, char ***names, size_t *n, char *err);
/* "foo-0/00000000000000000000.log": the last two components of the real path */
void kseg_short_name(const char *path, char *out, size_t n);

/* batches of bytes [start, end) of a segment, one pread per ~1 MiB */
struct kseg_walk {
	int64_t pos;                    /* of the current batch */
	struct klog_batch b;            /* parsed header (1), or as far as it parsed (-1) */
	const unsigned char *p;         /* the whole batch (1), until the next call */
	char msg[KLOG_ERRLEN];          /* why the walk stopped (-1) */
	/* private */
	int fd, own;
	int64_t end;
	unsigned char *buf;
	size_t cap, len;
	int64_t at;                     /* file position of buf[0] */
};
void kseg_walk_init(struct kseg_walk *w, int fd, int64_t start, int64_t end);
/* open path and walk all of it; w->fd is closed by kseg_walk_free */
int kseg_walk_open(struct kseg_walk *w, const char *path, char *err);
/* 1 a whole batch at w->pos; 0 clean end; -1 bad or incomplete batch
 * (w->msg: what, at which byte); -2 read error (errno) */
int kseg_walk_next(struct kseg_walk *w);
void kseg_walk_skip(struct kseg_walk *w);      /* w->pos += size of the current batch */
void kseg_walk_free(struct kseg_walk *w);

/* last offset of a batch; -1 when baseOffset + lastOffsetDelta overflows */
int kseg_batch_last(const struct klog_batch *b, int64_t *last);
/* prev_last for kseg_check_next when the batch before is not known */
#define KSEG_UNKNOWN INT64_MIN
/*
 * The neighbour check: baseOffset and batchLength are not covered by the
 * CRC, so each batch is checked against what came before it.  0 fine, -1
 * with msg (what is wrong, without the segment or byte: the caller adds
 * them).  seg_base: the segment's base offset (>= 0); prev_last: the last
 * offset of the batch before, seg_base - 1 for a segment's first batch,
 * KSEG_UNKNOWN (or anything below seg_base - 1) when not known; limit:
 * the next segment's base offset (INT64_MAX for the last segment);
 * compacted: 0 each batch starts exactly at prev_last + 1, 1 offsets only
 * increase (a compacted topic has gaps).  Always: offsets within
 * [seg_base, limit), at most 2^31-1 above seg_base, no overflow.
 */
int kseg_check_next(const struct klog_batch *b, int64_t seg_base, int64_t prev_last,
    int64_t limit, int compacted, char *msg, size_t n);
/*
 * The end of a sealed segment against the next segment's base offset:
 * last is the segment's last offset (seg_base - 1 when it has no batch).
 * Not compacted: last must be next_base - 1 exactly (else records are
 * missing: a sealed segment was truncated); compacted: below next_base.
 */
int kseg_check_end(int64_t seg_base, int64_t last, int64_t next_base, int compacted,
    char *msg, size_t n);
/*
 * What the neighbour checks need from a partition directory's topic: 1
 * when partdir is <topic>-<n> inside a log directory (d, or its parent
 * when d is NULL) and the topic's configuration was loaded, 0 with
 * defaults (not compacted, index.interval.bytes 4096) otherwise.  Kafka's
 * own compacted topics (__consumer_offsets, __transaction_state) count as
 * compacted without a topic file.
 */
int kseg_save_damaged(int dfd, const char *dname, int fd, int64_t from, int64_t to, char *err);
/* client.c: one request of the group commands and its answer ("OK WORD...",
 * with list >= 0 followed by the number of lines in word `list`, each to fn) */
struct kclient_ok {
	int argc;
	char *argv[8];
	char buf[1024];
};
int kclient_call(struct klog_client *c, const void *payload, size_t len, int list,
    int (*fn)(void *arg, char *line), void *arg, struct kclient_ok *ok, char *err,
    const char *fmt, ...) __attribute__((format(printf, 9, 10)));
/* a list of names read a line at a time: kclient_names_add is the fn for
 * kclient_call (arg a struct kclient_names) */
struct kclient_names {
	char **v;
	size_t n;
};
int kclient_names_add(void *arg, char *line);
/* client.c: METADATA (cluster.h's lines) into st; the connection is lost */
struct kc_state;
int kclient_metadata(struct klog_client *c, struct kc_state *st, char *err);
int kclient_broken(const struct klog_client *c);
/*
 * route.c: a remote log's connections, requests routed to partition
 * leaders and to the controller in a cluster (a standalone broker takes
 * everything).  Look-ups refresh the metadata when it is stale, waiting
 * with backoff up to the timeout; kroute_failed after a failed request:
 * 1 when the metadata was dropped and another try may work (NOT_LEADER,
 * NOT_CONTROLLER, UNKNOWN_TOPIC, UNKNOWN_PARTITION, STALE_EPOCH, a lost
 * connection).
 */
struct kroute;
#define KROUTE_NO_LEADER (-1)
#define KROUTE_NO_TOPIC (-2)
#define KROUTE_NO_PARTITION (-3)
struct kroute *kroute_open(const char *brokers, const char *secret, char *err);
void kroute_close(struct kroute *rt);
int kroute_cluster(const struct kroute *rt);
void kroute_set_timeout(struct kroute *rt, int ms);
int kroute_timeout(const struct kroute *rt);
struct klog_client *kroute_boot(struct kroute *rt);
const struct kc_state *kroute_state(struct kroute *rt, char *err);
int kroute_refresh(struct kroute *rt, char *err);
struct klog_client *kroute_node(struct kroute *rt, int node, char *err);
struct klog_client *kroute_leader(struct kroute *rt, const char *topic, int partition,
    char *err);
struct klog_client *kroute_controller(struct kroute *rt, char *err);
int kroute_failed(struct kroute *rt, struct klog_client *c);
void kroute_stale(struct kroute *rt);
void kroute_sleep(int *backoff_ms);     /* sleep, then double it (at most 500 ms) */
/* pure: the partition's leader node in st, or KROUTE_NO_* */
int kroute_pick(const struct kc_state *st, const char *topic, int partition);
const char *kroute_node_addr(const struct kc_state *st, int node);
/* log.c: the broker connection of a remote klog_log (NULL embedded) */
struct klog_client *klog_log_client(struct klog_log *lg);
/* the code word of the last failed klog_log_ack: the broker's, or
 * CONNECTION_LOST (the answer will never come: it may have been written) */
const char *klog_log_ack_code(const struct klog_log *lg);
/* a PRODUCE answered with code and msg was refused, nothing written: it
 * may be sent again (NOT_LEADER naming the new leader, NOT_ENOUGH_REPLICAS
 * before the append, UNKNOWN_TOPIC or UNKNOWN_PARTITION at the request) */
int kproduce_refused(const char *code, const char *msg);

int kseg_topic_config(struct klog_dir *d, const char *partdir, struct klog_config *c);

/* verify.c: the checks that repair.c shares */
struct kverify_seg {
	int64_t base;                   /* from the name; -1 unknown */
	int64_t limit;                  /* the next segment's base, INT64_MAX none */
	int compacted;
};
/* one whole batch: CRC, neighbours (kseg_check_next), records; 0 good,
 * -1 with msg naming the byte */
int kverify_batch(struct klog_rec_iter *it, const unsigned char *p, const struct klog_batch *b,
    int64_t pos, const struct kverify_seg *s, int64_t prev_last, char *msg, size_t n);
/* every check of one segment and its indexes: each problem to problem()
 * and counted in r->bad, those of the indexes also in *index_bad.  0
 * walked (r->first_bad_pos < 0: the log itself is whole), -1 error */
int kverify_segment(const char *log_path, const struct kverify_seg *s,
    struct klog_verify_report *r, void (*problem)(void *arg, const char *msg), void *arg,
    int64_t *index_bad, char *err);

/* topic.c: klog_topic_create and _alter; lazy: partition directories past
 * NAME-0 are made at their first write (a broker's big topics) */
int ktopic_create(struct klog_dir *d, const char *name, int partitions, char **kv, int nkv,
    int lazy, char *err);
int ktopic_alter(struct klog_dir *d, const char *name, int partitions, char **kv, int nkv,
    int lazy, char *err);

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
	int64_t cuts;           /* the partition's truncations then (partition-repl.c) */
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
int kpart_needs_sync(const struct klog_part *p);
/* log-start and recovery-point values the owner should record, for a broker
 * that writes the checkpoint files itself (one write for many partitions):
 * 1 and *off when the value changed since last taken */
int kpart_take_log_start(struct klog_part *p, int64_t *off);
int kpart_take_recovery_point(struct klog_part *p, int64_t *off);
/* the durable end moved since the recovery point was last recorded */
int kpart_rp_stale(const struct klog_part *p);
void kpart_recorded_recovery_point(struct klog_part *p, int64_t off);
void kpart_discard(struct klog_part *p);       /* close with no sync (partition.c) */
/* nothing to write, sync or cut: a broker may close it with kpart_discard;
 * *rp the recovery point to record then, -1 if none is needed */
int kpart_idle(const struct klog_part *p, int64_t *rp);
void kpart_set_config(struct klog_part *p, const struct klog_config *c);
/* compact.c: sealed segments were replaced, forget what was known of their files */
void kcompact_refresh(struct klog_part *p);
int kpart_slice(struct klog_part *p, int64_t offset, size_t max, int64_t limit,
    struct klog_slice *s, char *err);   /* partition-read.c */
/* rate.c: klog_part_rate of every partition of topic (klog_log_rates embedded) */
int krate_local(struct klog_dir *d, const char *topic, struct klog_part_rate **rates, int *n,
    char *err);

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
