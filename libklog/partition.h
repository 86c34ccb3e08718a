/* klog - a partition's private state, shared by partition*.c. MIT licence. */
/*
 * A partition is the directory <dir>/<topic>-<n>/ holding segments named by
 * their base offset in 20 decimal digits: <base>.log (RecordBatch v2 back to
 * back, see batch.c), <base>.index and <base>.timeindex (see index.c).  The
 * last segment is the active one; only it is appended to.  Sealed segments
 * never change.
 *
 * Writers.  Any number of processes may append.  Each append holds an
 * exclusive flock(2) on the partition directory itself, and before writing
 * brings its view up to date: the active segment may have grown (another
 * writer) or have been rolled (a file named by the current end offset
 * exists) or unlinked (kdump --repair).  Bytes another writer added are
 * scanned (headers and CRC) so offsets stay contiguous; an incomplete or
 * CRC-failing last batch there is the torn tail of a writer that died, and
 * is cut off.  A batch is written with one write(2) of whole batches; if
 * the write fails (ENOSPC, EFBIG, EIO) the file is truncated back, so a
 * failed append leaves nothing behind.
 *
 * Readers take no lock.  The kernel updates a file's size only after the
 * bytes are in the page cache, so a reader sees a prefix of an append:
 * at worst an incomplete last batch, which it treats as the end of the log.
 *
 * Recovery.  Opening for writing validates the active segment from its last
 * index entry onward (the recovery point: every entry is written after the
 * data it points at), truncating a torn tail and the index entries past
 * it, and rebuilds indexes that are missing or damaged.  Damage followed by
 * valid batches is not a torn tail: the writer refuses and names the byte,
 * and `kdump --repair` decides.  Warnings go through klog_set_warn().
 *
 * Rolls happen before an append when the active segment would pass
 * segment.bytes, when its first batch is older than segment.ms, when the
 * offset index reached segment.index.bytes, or when offsets would no
 * longer fit the 32-bit relative form.  Retention deletes whole sealed
 * segments, oldest first, while the newest timestamp in them is older than
 * retention.ms or the partition stays above retention.bytes without them;
 * the log start offset is then the base of the first segment left, and
 * is recorded in log-start-offset-checkpoint.  Clean closes of a writer
 * fsync and record the end in recovery-point-offset-checkpoint.
 */
#ifndef KLOG_PARTITION_H
#define KLOG_PARTITION_H

#include <inttypes.h>

#include "internal.h"

struct seg {
	int64_t base;
	int64_t size;           /* bytes of whole batches known */
	int64_t max_ts;         /* largest timestamp, INT64_MIN if unknown */
	int64_t max_ts_off;     /* offset of the batch holding it */
	int fd;                 /* .log, opened lazily */
	int64_t verified;       /* bytes from the start checked whole (CRC, neighbours) */
};

struct klog_part {
	struct klog_dir *d;
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
	char name[KLOG_TOPIC_MAX + 16];
	int dfd;
	int flags;
	int held;               /* a broker's: the writer lock is held while open */
	struct klog_config cfg;
	struct seg *segs;
	size_t nseg;
	int64_t end;            /* next offset */
	int64_t start_empty;    /* end of a partition without segments */
	/* writer: active segment */
	int ifd, tfd;           /* .index, .timeindex (O_APPEND) */
	int64_t ientries;       /* entries in .index */
	int64_t tlast_ts;       /* last time-index timestamp written */
	int64_t since_index;    /* bytes appended since the last index entry */
	int64_t first_ts;       /* first batch's max timestamp: segment.ms */
	int dirty;              /* the active segment has writes not yet synced */
	int dir_dirty;          /* a segment was created or deleted since the last sync */
	struct ksync pend;      /* files of rolled segments, synced and closed by the next sync */
	int64_t synced_end;     /* every offset below is durable */
	int64_t synced_base, synced_size;       /* the segment and byte where that is */
	int64_t rp_written;     /* recovery point last recorded, -1 none */
	int64_t start_noted;    /* log start last handed to the checkpoint */
	int failed;             /* a sync failed: no more appends until klog_part_recover */
	char failmsg[KLOG_ERRLEN];
	int cut;                /* recovery cut a damaged tail: rebuild indexes */
	int64_t damage_pos;     /* a reader's end stops at damage here (-1 none) */
	char damage[KLOG_ERRLEN];
	int index_missing;      /* the active segment had no .index: rebuild */
	int compact_due;        /* rolled a compacted topic: compact after the append */
	/* reader cursor */
	size_t rseg;
	int64_t rpos, roff;
	int64_t rprev;          /* last offset before rpos, KSEG_UNKNOWN after an index hint */
	int ino;                /* inotify fd, -1 until needed */
	struct klog_buf tmp;
	struct klog_rec_iter it;        /* klog_batch_validate's scratch */
	/* the leader epoch cache (partition-repl.c), loaded at first use */
	struct klog_epoch_entry *epochs;
	size_t nepochs;
	int64_t cuts;           /* truncations and resets: a sync begun before one covers nothing */
	int epochs_loaded;      /* 0 not yet, 1 loaded, -1 the file is bad (epochs_err) */
	char epochs_err[KLOG_ERRLEN];
};

#define SEG_FMT "%020" PRId64

/* partition.c */
int kp_delete_segment(struct klog_part *p, int64_t base, char *err);
int kp_make_dir(struct klog_part *p, char *err);
int kp_write_begin(struct klog_part *p, char *err);
void kp_write_end(struct klog_part *p, int rc);
int kp_write(struct klog_part *p, unsigned char *batches, size_t len, int assign, int64_t span,
    int64_t in_ts, int64_t *first, int64_t *last, char *err);

/* partition-repl.c */
int32_t kp_epoch_stamp(struct klog_part *p);
void kp_epoch_log_moved(struct klog_part *p);

/* compact.c */
int kcompact_leftovers(struct klog_part *p, char *err);
void kcompact_after_roll(struct klog_part *p);

/* partition-sync.c */
int kp_dir_missing(struct klog_part *p, char *err);
int kp_fail(struct klog_part *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kp_sync_pending(struct klog_part *p, char *err);
int ksync_add(struct ksync *s, int fd, int dir, const char *name);

/* partition-recover.c */
struct seg *kp_active(struct klog_part *p);
int kp_hdr_at(int fd, int64_t pos, int64_t size, struct klog_batch *b, char *err);
int64_t kp_index_pos(struct klog_part *p, struct seg *s, int64_t offset);
int kp_time_entry_ok(struct klog_part *p, struct seg *s, const struct klog_index_entry *ie,
    int64_t *pos);
int kp_lock_ex(int fd);
int kp_open_indexes(struct klog_part *p, struct seg *s, char *err);
int kp_refresh(struct klog_part *p, int writer, char *err);
void kp_seg_max_ts(struct klog_part *p, struct seg *s);
int kp_seg_open(struct klog_part *p, struct seg *s, char *err);
void kp_segs_free(struct klog_part *p);
void kp_trim_tmp(struct klog_part *p);
int64_t kp_limit(struct klog_part *p, size_t i);
size_t kp_find_seg(struct klog_part *p, int64_t offset);
int kp_damage(struct klog_part *p, struct seg *s, int64_t pos, const char *msg, char *err);
int kp_cut(struct klog_part *p, size_t i, int64_t pos, const char *why, char *said, char *err);
int kp_length_lies(struct klog_part *p, struct seg *s, int64_t pos, const struct klog_batch *b,
    int64_t size);
int kp_validate(struct klog_part *p, const unsigned char *batch, const struct klog_batch *b,
    char *err);

#endif
