/* klog - Kafka's log model as small Unix tools. MIT licence, see README.md. */
#ifndef KLOG_H
#define KLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif
/* what this header declares is libklog.so's interface; the rest of the
 * library is built -fvisibility=hidden and not exported */
#ifdef __GNUC__
#pragma GCC visibility push(default)
#endif

/*
 * Conventions.  Functions return 0 (or a count) on success and -1 on
 * failure, with errno set where a system call failed and a one-line
 * message naming the object written to a caller-owned `char *err` of
 * KLOG_ERRLEN bytes: "segment 'foo-0/00000000000000000000.log': bad CRC
 * at byte 812".  The library never prints and never exits; warnings a
 * human must act on (a torn tail cut, damage) go to the function set with
 * klog_set_warn(), routine events (retention deleting segments, an index
 * rebuilt) to the one set with klog_set_info(); neither is called unset.
 */
#define KLOG_ERRLEN 512
#define KLOG_VERSION "0.1.0"

/* util.c */
struct klog_buf {
	unsigned char *data;
	size_t len, cap;
};
int klog_buf_reserve(struct klog_buf *b, size_t extra);
int klog_buf_append(struct klog_buf *b, const void *p, size_t n);
int klog_buf_printf(struct klog_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void klog_buf_free(struct klog_buf *b);

void klog_set_warn(void (*fn)(const char *msg));
void klog_set_info(void (*fn)(const char *msg));
int64_t klog_now_ms(void);
/* write a whole file atomically: temp file, fsync, rename, fsync dir */
int klog_write_atomic(const char *path, const void *data, size_t len, char *err);
/* read a whole (small) file; NUL-terminated; caller frees *out */
int klog_read_file(const char *path, char **out, size_t *len, char *err);
int klog_fsync_dir(const char *dir, char *err);
void klog_strv_free(char **v, size_t n);
/* parse an int64 in full ("12", "-3"); -1 and EINVAL/ERANGE on junk */
int klog_parse_i64(const char *s, int64_t *out);

/* crc32c.c: CRC-32C (Castagnoli), SSE4.2 instruction when the CPU has it */
uint32_t klog_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t klog_crc32c_sw(uint32_t crc, const void *buf, size_t len);
int klog_crc32c_hw_available(void);

/* varint.c: zigzag varints as in Kafka records (and unsigned ones) */
/* encode into p (>= 10 bytes free); returns bytes written */
size_t klog_varint_put(unsigned char *p, int64_t v);
/* decode from [p, end); returns bytes read, 0 if malformed or truncated */
size_t klog_varint_get(const unsigned char *p, const unsigned char *end, int64_t *v);
size_t klog_varint_len(int64_t v);
size_t klog_uvarint_put(unsigned char *p, uint64_t v);
size_t klog_uvarint_get(const unsigned char *p, const unsigned char *end, uint64_t *v);

/* murmur2.c: the Java client's partitioner */
uint32_t klog_murmur2(const void *key, size_t len);
int klog_partition_for_key(const void *key, size_t len, int partitions);

/* codec.c: batch compression */
enum {
	KLOG_CODEC_NONE = 0,
	KLOG_CODEC_GZIP = 1,
	KLOG_CODEC_SNAPPY = 2,
	KLOG_CODEC_LZ4 = 3,
	KLOG_CODEC_ZSTD = 4,
};
int klog_codec_parse(const char *name);         /* -1 if unknown */
const char *klog_codec_name(int codec);         /* "none", "gzip", ... */
int klog_codec_available(int codec);            /* built in? */
/* append compressed/decompressed bytes to out; decompression stops
 * with an error past `limit` output bytes */
int klog_compress(int codec, const void *in, size_t n, struct klog_buf *out, char *err);
int klog_decompress(int codec, const void *in, size_t n, struct klog_buf *out,
    size_t limit, char *err);

/* batch.c: RecordBatch v2 (magic 2), the unit on disk and on the wire */
#define KLOG_LOG_OVERHEAD 12    /* baseOffset + batchLength */
#define KLOG_BATCH_OVERHEAD 61  /* whole fixed header */
#define KLOG_ATTR_CODEC 0x07
#define KLOG_ATTR_LOG_APPEND_TIME 0x08
#define KLOG_ATTR_TRANSACTIONAL 0x10
#define KLOG_ATTR_CONTROL 0x20
#define KLOG_ATTR_DELETE_HORIZON 0x40   /* hasDeleteHorizonMs, set by the log cleaner */

struct klog_batch {
	int64_t base_offset;
	int32_t length;                 /* bytes after this field */
	int32_t leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp, max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t count;
};
/* size of the whole batch on disk */
#define klog_batch_size(b) ((size_t)(b)->length + KLOG_LOG_OVERHEAD)
/* last offset; computed in 64 bits and wrapping (never undefined) on a
 * hostile base offset near INT64_MAX, which klog_batch_validate refuses */
#define klog_batch_last(b) \
	((int64_t)((uint64_t)(int64_t)(b)->base_offset + (uint64_t)(int64_t)(b)->last_offset_delta))

/*
 * Parse the fixed header at p (avail bytes available).  Returns 1 when a
 * whole batch is there (klog_batch_size(b) <= avail), 0 when more bytes
 * are needed (b is filled as far as the header allows), -1 when the header
 * is malformed (magic not 2, length below 49 or above 1 GiB, negative
 * counts, lastOffsetDelta < count - 1 ...), with err filled.
 */
int klog_batch_parse(const unsigned char *p, size_t avail, struct klog_batch *b, char *err);
/* CRC-32C check of a whole batch; -1 with err naming expected/actual */
int klog_batch_verify(const unsigned char *p, const struct klog_batch *b, char *err);
void klog_batch_set_base_offset(unsigned char *p, int64_t base);
void klog_batch_set_leader_epoch(unsigned char *p, int32_t epoch);

struct klog_header {
	const unsigned char *key;
	int32_t key_len;
	const unsigned char *value;
	int32_t value_len;              /* -1: null */
};
struct klog_record {
	int64_t offset, timestamp;
	const unsigned char *key;
	int32_t key_len;                /* -1: null key */
	const unsigned char *value;
	int32_t value_len;              /* -1: null value (tombstone) */
	int32_t header_count;
	const unsigned char *headers, *headers_end; /* walk with klog_header_next */
	int log_append_time;            /* the batch's timestamp type: 1 LogAppendTime */
};
/* 1 and h filled, 0 at end (headers already validated by the iterator) */
int klog_header_next(const unsigned char **pos, const unsigned char *end, struct klog_header *h);

/* iterate the records of one whole, verified batch; decompresses when needed */
struct klog_rec_iter {
	struct klog_batch b;
	const unsigned char *pos, *end;
	int32_t left;
	struct klog_buf scratch;        /* decompressed records */
};
void klog_rec_iter_init0(struct klog_rec_iter *it); /* zero, for reuse across batches */
int klog_rec_iter_start(struct klog_rec_iter *it, const unsigned char *batch,
    const struct klog_batch *b, char *err);
/* 1 and r filled, 0 at end, -1 malformed record (err) */
int klog_rec_iter_next(struct klog_rec_iter *it, struct klog_record *r, char *err);
void klog_rec_iter_free(struct klog_rec_iter *it);

/*
 * Validate a whole batch already parsed by klog_batch_parse, as Kafka's
 * LogValidator does (rules at the top of batch.c): the CRC, header fields,
 * every record, offsets, timestamps, producer fields; compressed batches
 * are decompressed (within the bomb limit) into the scratch buffer of `it`,
 * reused across calls unless it grew past 16 MiB (`it` is the caller's
 * scratch, initialised with klog_rec_iter_init0, freed with
 * klog_rec_iter_free).  Flags:
 * KLOG_VALID_CLIENT for a producer's batch (strict: what a producer
 * writes), 0 for a stored one.  Returns 0, or -1 with err naming what and
 * where and errno EILSEQ (bad CRC), ENOTSUP (client mode: a codec not
 * built in; disk mode then checks the CRC and header only) or EBADMSG.
 */
#define KLOG_VALID_CLIENT 0x1
int klog_batch_validate(const unsigned char *p, const struct klog_batch *b, int flags,
    struct klog_rec_iter *it, char *err);

/* build one batch from records */
struct klog_builder {
	struct klog_buf buf;            /* 61-byte header room + records */
	struct klog_buf zbuf;           /* compressed output when codec != none */
	int codec;
	int32_t count;
	int64_t base_timestamp, max_timestamp;
	int64_t producer_id;            /* -1 unless idempotent */
	int16_t producer_epoch;
	int32_t base_sequence;
};
void klog_builder_init(struct klog_builder *bb, int codec);
int klog_builder_add(struct klog_builder *bb, int64_t ts,
    const void *key, int32_t key_len, const void *value, int32_t value_len,
    const struct klog_header *h, int nh);
/* size the batch would have uncompressed, including the header */
size_t klog_builder_size(const struct klog_builder *bb);
/* bytes klog_builder_add would add for this record */
size_t klog_record_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
    int32_t value_len, const struct klog_header *h, int nh);
/* finish: compress, fill the header (base offset 0), CRC; *out stays
 * valid until the next reset */
int klog_builder_finish(struct klog_builder *bb, unsigned char **out, size_t *len, char *err);
void klog_builder_reset(struct klog_builder *bb);
void klog_builder_free(struct klog_builder *bb);

/* fmt.c: kconsume output (kcat format strings, JSON lines) and delimiters */
struct klog_fmt;
/* compile "%t %p %o %k %K %s %S %T %h %%" and \n \t \r \\ \xNN once;
 * NULL with err on an unknown token */
struct klog_fmt *klog_fmt_compile(const char *spec, char *err);
void klog_fmt_free(struct klog_fmt *f);
int klog_fmt_record(const struct klog_fmt *f, struct klog_buf *out,
    const char *topic, int partition, const struct klog_record *r);
/* one JSON object and '\n' */
int klog_json_record(struct klog_buf *out, const char *topic, int partition,
    const struct klog_record *r);
/* "\n", "\t", "\0", "\x1f", "\\", plain text -> bytes; -1 on a bad escape */
int klog_unescape(const char *in, struct klog_buf *out, char *err);

/* dir.c: a log directory */
struct klog_dir;
#define KLOG_CREATE 0x1
struct klog_dir *klog_dir_open(const char *path, int flags, char *err);
void klog_dir_close(struct klog_dir *d);
const char *klog_dir_path(const struct klog_dir *d);
/* nonzero if a kbrokerd holds the directory; fills who (pid, address) */
int klog_dir_broker(struct klog_dir *d, char *who, size_t n);

/* topic.c: names and configuration (<dir>/<topic>.topic, key=value lines) */
#define KLOG_TOPIC_MAX 249
int klog_topic_name_check(const char *name, char *err);
struct klog_config {
	int partitions;
	int64_t segment_bytes;          /* segment.bytes */
	int64_t segment_ms;             /* segment.ms */
	int64_t retention_ms;           /* retention.ms, -1 forever */
	int64_t retention_bytes;        /* retention.bytes, -1 no limit */
	int64_t max_message_bytes;      /* max.message.bytes */
	int64_t index_interval_bytes;   /* index.interval.bytes */
	int64_t segment_index_bytes;    /* segment.index.bytes */
	int compact;                    /* cleanup.policy=compact */
	int log_append_time;            /* message.timestamp.type=LogAppendTime */
	int compression;                /* compression.type; -1 = producer */
	/* compaction (compact.c): cleanup.policy=compact sets compact 1,
	 * "compact,delete" 2 (retention applies too) */
	int64_t delete_retention_ms;    /* delete.retention.ms: tombstones kept after a clean */
	double min_cleanable_dirty_ratio;       /* min.cleanable.dirty.ratio */
	/* replication (issue 10): what a leader's acks=all needs, and whether
	 * an out-of-sync replica may become leader */
	int64_t min_insync_replicas;    /* min.insync.replicas, >= 1 */
	int unclean_leader_election;    /* unclean.leader.election.enable=true */
};
void klog_config_defaults(struct klog_config *c);
/* set one key (Kafka's topic config names); -1 on unknown key or bad value */
int klog_config_set(struct klog_config *c, const char *key, const char *value, char *err);
/* "key=value" lines of every setting, for describe */
int klog_config_format(const struct klog_config *c, struct klog_buf *out);
int klog_topic_create(struct klog_dir *d, const char *name, int partitions,
    char **kv, int nkv, char *err);
/* 1 exists, 0 not */
int klog_topic_exists(struct klog_dir *d, const char *name);
/* load config; topics Kafka wrote (partition dirs, no .topic file) get
 * defaults and their partition count from the directories */
int klog_topic_load(struct klog_dir *d, const char *name, struct klog_config *c, char *err);
int klog_topic_list(struct klog_dir *d, char ***names, size_t *n, char *err);
int klog_topic_alter(struct klog_dir *d, const char *name, int partitions,
    char **kv, int nkv, char *err);
int klog_topic_delete(struct klog_dir *d, const char *name, char *err);

/* checkpoint.c: Kafka's text checkpoint files */
struct klog_ckpt_entry {
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
	int64_t offset;
};
int klog_ckpt_read(const char *path, struct klog_ckpt_entry **e, size_t *n, char *err);
/* TOPIC-N/leader-epoch-checkpoint: "epoch startOffset" entries */
struct klog_epoch_entry {
	int32_t epoch;
	int64_t start_offset;
};
int klog_epoch_read(const char *path, struct klog_epoch_entry **e, size_t *n, char *err);
int klog_ckpt_write(const char *path, const struct klog_ckpt_entry *e, size_t n, char *err);
/* set (topic, partition) -> offset in a directory-level checkpoint file,
 * under a lock so concurrent processes do not lose each other's entries */
int klog_ckpt_update(struct klog_dir *d, const char *file, const char *topic,
    int partition, int64_t offset, char *err);
int klog_ckpt_update_many(struct klog_dir *d, const char *file, const struct klog_ckpt_entry *e,
    size_t n, char *err);
/* (topic, partition)'s offset in DIR/file: 1 and *offset, 0 if none */
int klog_ckpt_get(struct klog_dir *d, const char *file, const char *topic, int partition,
    int64_t *offset);

/* index.c: .index (8-byte entries) and .timeindex (12-byte entries) */
struct klog_index_entry {
	int64_t offset;                 /* absolute */
	int64_t position;               /* byte in the .log, or timestamp */
};
/* read every entry of an index file: kind 0 offset index, 1 time index */
int klog_index_read(const char *path, int kind, int64_t base,
    struct klog_index_entry **e, size_t *n, char *err);

/* partition.c: one partition's segments */
struct klog_part;
#define KLOG_RDONLY 0
#define KLOG_WRITE 1
#define KLOG_BROKER 2   /* with KLOG_WRITE: the caller is the kbrokerd holding the directory */
struct klog_part *klog_part_open(struct klog_dir *d, const char *topic, int partition,
    int flags, char *err);
void klog_part_close(struct klog_part *p);
const char *klog_part_name(const struct klog_part *p);  /* "orders-0" */
struct klog_part_info {
	int64_t log_start, log_end;     /* first offset, next offset */
	int segments;
	int64_t bytes;
	char state[12];                 /* "online"; through a broker also "failed"
	                                 * (a sync failed) or "offline" (fenced) */
};
/* re-read the segment list and end of log */
int klog_part_info(struct klog_part *p, struct klog_part_info *info, char *err);
/*
 * Append one or more whole batches (back to back, base offsets ignored):
 * takes the partition lock, assigns offsets, writes, adds index entries,
 * rolls segments, applies retention.  OUT: first and last offset written.
 */
int klog_part_append(struct klog_part *p, unsigned char *batches, size_t len,
    int64_t *first, int64_t *last, char *err);
/* make everything written durable (log, indexes, new segments' names);
 * a failed sync fails the partition: see klog_part_failed */
int klog_part_sync(struct klog_part *p, char *err);
int klog_part_roll_at(struct klog_part *p, int64_t base, char *err);
/* NULL, or why the partition refuses appends (a sync failed) */
const char *klog_part_failed(const struct klog_part *p);
/* a failed partition: cut what was written after the last successful sync
 * into <segment>.log.damaged, sync, and accept appends again; one line per
 * action appended to report (may be NULL) */
int klog_part_recover(struct klog_part *p, struct klog_buf *report, char *err);
/*
 * Read whole batches starting with the one holding `offset`, at most
 * `max` bytes (always at least one batch when one exists), appended to
 * out.  Returns bytes read, 0 at end of log, -1 on error (err).  An offset
 * below the log start fails with errno ERANGE.
 */
ssize_t klog_part_read(struct klog_part *p, int64_t offset, size_t max,
    struct klog_buf *out, char *err);
/* where the bytes klog_part_read would return live, for sendfile */
struct klog_slice {
	int fd;
	int64_t pos;
	size_t len;
	int64_t next;                   /* the offset after the last batch in it */
	int64_t records;                /* records in it (the batches' counts) */
	int64_t base;                   /* the segment's base offset */
};
int klog_part_slice(struct klog_part *p, int64_t offset, size_t max,
    struct klog_slice *s, char *err);
/* first offset whose record timestamp >= ts, log end if none */
int klog_part_offset_for_time(struct klog_part *p, int64_t ts, int64_t *offset, char *err);
/* block until the log may have grown (inotify), at most timeout_ms; 0 timeout, 1 event */
int klog_part_wait(struct klog_part *p, int timeout_ms);
int klog_part_wait_fd(struct klog_part *p);  /* pollable fd, or -1 */
/* delete whole old segments by retention.ms and retention.bytes */
int klog_part_retention(struct klog_part *p, int64_t now_ms, char *err);

/*
 * partition-repl.c: what replication needs of a partition (the rules are at
 * the top of partition-repl.c).  Errors: errno EBADF (not open for
 * writing), EIO (failed), EILSEQ (not whole batches, a bad CRC), EBADMSG
 * (an invalid batch), EMSGSIZE (over max.message.bytes), ERANGE (offsets
 * that do not follow the log end or each other), EINVAL.
 */
int64_t klog_part_log_start(const struct klog_part *p);
int64_t klog_part_log_end(const struct klog_part *p);     /* as last seen (a broker's: current) */
/*
 * Append whole RecordBatch v2 batches verbatim at their own base offsets
 * (a follower copying its leader): the first must start at the log end,
 * each next one right after the one before (in a compacted topic: after
 * it).  Everything is validated before anything is written; all or
 * nothing (a failed write takes back the batches written before it; but
 * an I/O error fails the partition, as for klog_part_append, and
 * klog_part_recover then keeps what was synced).  A batch whose partitionLeaderEpoch is newer than the latest
 * cached epoch starts that epoch at its base offset in the epoch cache.
 */
int klog_part_append_raw(struct klog_part *p, const unsigned char *batches, size_t len,
    char *err);
/*
 * Cut the log so that it ends at offset (<= the log end), durably and
 * crash-safely (a crash leaves the old log or the new one), and the leader
 * epoch cache with it.  0 done; 1 done, but offset was inside a batch (or,
 * compacted, in a gap) and the log now ends lower, at
 * klog_part_log_end(p) (err says so); -1 error.  An offset below the log
 * start is klog_part_reset(p, offset).
 */
int klog_part_truncate(struct klog_part *p, int64_t offset, char *err);
/* delete every segment and start empty at log_start (a follower whose
 * leader's log start passed its end); the epoch cache is cleared */
int klog_part_reset(struct klog_part *p, int64_t log_start, char *err);
/*
 * The leader epoch cache, <topic>-<n>/leader-epoch-checkpoint, written
 * atomically at every change.  assign: (epoch, start_offset) appended when
 * epoch is newer than the latest (entries that would not increase are
 * dropped first), or when it is the latest with a lower start (moved);
 * an older epoch is ignored.  1 changed, 0 not, -1 error.
 */
int klog_part_epoch_assign(struct klog_part *p, int32_t epoch, int64_t start_offset, char *err);
int32_t klog_part_epoch_latest(struct klog_part *p);     /* -1 none (or a bad file) */
/*
 * Kafka's OffsetsForLeaderEpoch (EPOCHEND): *found_epoch the largest
 * cached epoch <= epoch, *end the start offset of the epoch after it or,
 * if it is the latest, the log end; both -1 when no cached epoch is <=
 * epoch (or epoch < 0).  0, or -1 when the file cannot be read.
 */
int klog_part_epoch_end(struct klog_part *p, int32_t epoch, int32_t *found_epoch, int64_t *end,
    char *err);
/* the cache (valid until the next call that changes it) */
int klog_part_epochs(struct klog_part *p, const struct klog_epoch_entry **e, size_t *n,
    char *err);
/* drop entries starting at or after end (Kafka's truncateFromEnd); drop
 * those wholly before start, moving the first up to it (truncateFromStart) */
int klog_part_epoch_truncate_end(struct klog_part *p, int64_t end, char *err);
int klog_part_epoch_truncate_start(struct klog_part *p, int64_t start, char *err);
/*
 * High watermarks: DIR/replication-offset-checkpoint, Kafka's format (one
 * "topic partition offset" line each).  klog_hw_record sets many in one
 * locked read-modify-write (klog_ckpt_update_many: an entry with a
 * negative offset removes its partition's, with a negative partition too
 * its whole topic's; nothing is written when nothing changes); klog_hw_get:
 * 1 and *hw, 0 if none.
 */
#define KLOG_HW_CHECKPOINT "replication-offset-checkpoint"
int klog_hw_record(struct klog_dir *d, const struct klog_ckpt_entry *e, size_t n, char *err);
int klog_hw_get(struct klog_dir *d, const char *topic, int partition, int64_t *hw);

/*
 * compact.c: log compaction of a cleanup.policy=compact topic's partition
 * (the format and protocol are at the top of compact.c): the last record
 * of each key survives in the sealed segments, offsets are kept, tombstones
 * go delete.retention.ms after their first clean.  Progress is the
 * partition's entry in DIR/cleaner-offset-checkpoint.  Embedded only (a
 * directory served by kbrokerd: EBUSY); EINVAL for a topic not compacted.
 */
#define KLOG_COMPACT_MAP_ENTRIES 524288 /* keys per pass: a 16 MiB map */
struct klog_compact_opts {
	int64_t map_entries;            /* keys one pass holds; 0 the default */
	int force;                      /* even below min.cleanable.dirty.ratio */
	int nowait;                     /* fail at once if another compaction runs */
	int broker;                     /* the caller is the kbrokerd holding the locks */
	int64_t now_ms;                 /* 0: the clock (tombstone horizons) */
	/* broker: called with 1 before the swap and 0 after, instead of the
	 * partition's flock (which the broker holds itself) */
	void (*swap_lock)(void *arg, int lock);
	void *arg;
	volatile int *stop;             /* set: give up at the next batch (ECANCELED) */
};
struct klog_compact_stats {
	int passes, segments;           /* passes swapped in, segments replaced */
	int64_t bytes_read, bytes_written;
	int64_t records_read, records_removed, tombstones_removed;
	int64_t map_bytes;              /* the map's allocation */
	int64_t dirty_start, cleaned_to;        /* the checkpoint before and after */
	double dirty_ratio;             /* before the run */
};
int klog_compact_partition(struct klog_dir *d, const char *topic, int partition,
    const struct klog_compact_opts *o, struct klog_compact_stats *st, char *err);
/* every partition (partition -1) or one, embedded or through a broker
 * (which runs it in its compaction thread); st sums the partitions */
struct klog_log;
int klog_log_compact(struct klog_log *lg, const char *topic, int partition,
    const struct klog_compact_opts *o, struct klog_compact_stats *st, char *err);
/* rate.c: recent writes per partition (ktopic describe -r), to see skew.
 * Rates are per second over the last KLOG_RATE_WINDOW_MS */
#define KLOG_RATE_WINDOW_MS 10000
struct klog_part_rate {
	double records, bytes;          /* records (offsets) and log bytes appended */
};
/* from the log itself: the offsets after the first record whose
 * timestamp is within the window, and the bytes from its batch on */
int klog_part_rate(struct klog_part *p, int64_t now_ms, struct klog_part_rate *r, char *err);

/* dump.c: offline listing (kdump); verify.c: checks; repair.c: repair */
enum {
	KLOG_FILE_UNKNOWN,
	KLOG_FILE_LOG,                  /* batches: <base>.log, KRaft .checkpoint */
	KLOG_FILE_INDEX,
	KLOG_FILE_TIMEINDEX,
	KLOG_FILE_CHECKPOINT,           /* Kafka's text checkpoint files */
};
/* by name (.log .index .timeindex *-checkpoint), else by content */
int klog_file_kind(const char *path);
#define KLOG_DUMP_RECORDS 0x1           /* every record of each batch too */
#define KLOG_DUMP_INDEXES 0x2           /* with a directory or .log: index and checkpoint files */
#define KLOG_DUMP_NAMES 0x4             /* a "file NAME" line before each file */
/* with RECORDS, records of __consumer_offsets-N are decoded (offsets.c)
 * on a line of their own, unless NODECODE; DECODE_JSON: as JSON */
#define KLOG_DUMP_NODECODE 0x8
#define KLOG_DUMP_DECODE_JSON 0x10
struct klog_dump {
	int flags;
	struct klog_buf out;            /* lines; handed to flush() past 64 KiB and at the end */
	int (*flush)(void *arg, struct klog_buf *out);  /* empties out; -1 stops */
	void *arg;
};
/* list a file of a kind above, a partition directory or a log directory:
 * "batch pos=.. base=.. ...", "  record offset=..", "index offset=.. pos=..",
 * "timeindex ts=.. offset=..", "checkpoint topic=.. partition=.. offset=.." */
int klog_dump_path(struct klog_dump *dp, const char *path, char *err);

struct klog_verify_report {
	int64_t batches, records, bad;
	int64_t first_bad_pos;          /* -1 if none */
	int64_t log_bytes;
	int64_t first_offset, last_offset;      /* of the batches; -1 if none */
};
/* walk a segment: CRC of every batch, offsets contiguous from the
 * segment's base (increasing in a compacted topic) and below 2^31 above
 * it, records well formed, .index/.timeindex entries pointing at batch
 * starts within the segment.  Each problem is one message to
 * problem() ("segment 'foo-0/00000000000000000000.log': bad CRC in batch at
 * byte 812 (offset 17)") and counted in r->bad.  0 when walked, -1 when it
 * cannot be read (err) */
int klog_verify_segment(const char *log_path, struct klog_verify_report *r,
    void (*problem)(void *arg, const char *msg), void *arg, char *err);
/* every segment of a segment file, partition directory or log directory,
 * done() after each with its name ("foo-0/00000000000000000000.log"); in
 * a partition, each sealed segment must also end where the next starts
 * (unless the topic is compacted).  1 when a problem was found */
int klog_verify_path(const char *path, void (*problem)(void *arg, const char *msg),
    void (*done)(void *arg, const char *segment, const struct klog_verify_report *r),
    void *arg, char *err);
/* under the partition's writer lock: truncate the log at its first bad
 * batch (in any segment; or after a sealed segment that ends short of the
 * next one), keeping the cut bytes in <segment>.log.damaged, remove later
 * segments the same way, rebuild the indexes of the segment cut and of
 * any segment whose indexes fail the checks.  d (may be NULL: the
 * partition directory's parent) gives the topic's index.interval.bytes
 * and cleanup.policy.  Refuses (errno EBUSY, err naming the broker) when
 * a kbrokerd serves the log directory, unless flags has
 * KLOG_REPAIR_FORCE.  One line per action is appended to report.  0 done
 * (or nothing to do), -1 error */
#define KLOG_REPAIR_FORCE 0x1
int klog_repair_partition(struct klog_dir *d, const char *partdir, int flags,
    struct klog_buf *report, char *err);

/* log.c: one interface over a log directory (-d, embedded) or a broker (-b, remote) */
struct klog_log;
struct klog_lpart;
/* brokers non-empty: remote ("HOST:PORT[,...]": the first that answers,
 * and in a cluster each partition's leader and the controller, found by
 * METADATA); else the directory dir (flags: KLOG_CREATE) */
struct klog_log *klog_log_open(const char *dir, const char *brokers, int flags, char *err);
void klog_log_close(struct klog_log *lg);
int klog_log_remote(const struct klog_log *lg);
struct klog_dir *klog_log_dir(struct klog_log *lg);      /* NULL when remote */
void klog_log_set_acks(struct klog_log *lg, int acks);  /* remote: 0, 1, -1 all (default) */
int klog_log_topics(struct klog_log *lg, char ***names, size_t *n, char *err);
int klog_log_create(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err);
int klog_log_alter(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err);
int klog_log_delete(struct klog_log *lg, const char *topic, char *err);
int klog_log_exists(struct klog_log *lg, const char *topic);
int klog_log_config(struct klog_log *lg, const char *topic, struct klog_config *cfg, char *err);
/* in a cluster each partition as its leader has it; a partition without a
 * leader (or whose leader does not answer): -1 offsets, state "offline"
 * ("unknown") */
int klog_log_describe(struct klog_log *lg, const char *topic, struct klog_part_info **parts,
    int *n, char *err);
/* remote: how long requests follow leaders (wait for an election, retry
 * METADATA) before they fail; default 30000 ms */
void klog_log_set_timeout(struct klog_log *lg, int ms);
/* remote and the broker is part of a cluster (METADATA: a controller) */
int klog_log_cluster(const struct klog_log *lg);
#define KLOG_MAX_REPLICAS 16
struct klog_part_replicas {
	int leader;                     /* node id, -1 none (offline) */
	int32_t leader_epoch;
	int nreplicas;
	int replicas[KLOG_MAX_REPLICAS];        /* the first is the preferred leader */
	int nisr;
	int isr[KLOG_MAX_REPLICAS];
};
/* in a cluster, per partition (index = partition; caller frees), from
 * METADATA; embedded or a standalone broker: *n 0, *parts NULL */
int klog_log_replicas(struct klog_log *lg, const char *topic, struct klog_part_replicas **parts,
    int *n, char *err);
struct klog_lpart *klog_lpart_open(struct klog_log *lg, const char *topic, int partition,
    int flags, char *err);
void klog_lpart_close(struct klog_lpart *lp);
const char *klog_lpart_name(const struct klog_lpart *lp);
/* remote with acks 0: *first = *last = -1 */
int klog_lpart_append(struct klog_lpart *lp, unsigned char *batches, size_t len,
    int64_t *first, int64_t *last, char *err);
/* embedded: klog_part_sync; remote: nothing (the broker's policy holds) */
int klog_lpart_sync(struct klog_lpart *lp, char *err);
/* remote pipelining: send now (to the partition's leader), collect the
 * acknowledgements in the order of the sends later; a failed one's code
 * word (NOT_LEADER, NOT_ENOUGH_REPLICAS, CONNECTION_LOST, ...) is kept
 * for the producer (klog_log_ack_code, private) */
int klog_lpart_send(struct klog_lpart *lp, const unsigned char *batches, size_t len, char *err);
int klog_log_ack(struct klog_log *lg, int64_t *first, int64_t *last, char *err);
int klog_log_acks(const struct klog_log *lg);
int klog_lpart_info(struct klog_lpart *lp, struct klog_part_info *info, char *err);
int klog_lpart_offset_for_time(struct klog_lpart *lp, int64_t ts, int64_t *offset, char *err);
ssize_t klog_lpart_read(struct klog_lpart *lp, int64_t offset, size_t max,
    struct klog_buf *out, char *err);
int klog_lpart_wait_fd(struct klog_lpart *lp);          /* embedded: inotify; remote: -1 */
int klog_lpart_wait_remote(struct klog_lpart *lp, int64_t offset, int timeout_ms, char *err);

/* one klog_part_rate per partition (index = partition; caller frees):
 * embedded klog_part_rate of each; remote the broker's own counts of what
 * it appended, in 1 s buckets over the same window (DESCRIBE TOPIC RATES) */
int klog_log_rates(struct klog_log *lg, const char *topic, struct klog_part_rate **rates,
    int *n, char *err);

/* producer.c: records from byte streams into batches per partition */
struct klog_producer;
struct klog_producer_opts {
	int partition;                  /* -1: keyed by murmur2, unkeyed sticky per batch */
	/* > 1: spread each key over this many partitions (at most all): the
	 * n-th record of a key goes to (murmur2 partition + n % salt) %
	 * partitions; the stored key is unchanged.  0 or 1: no salting */
	int salt;
	int codec;                      /* -1: the topic's compression.type, else none */
	size_t batch_bytes;             /* 0: 1000000; capped at max.message.bytes */
	const struct klog_header *headers;      /* on every record (kept by the caller) */
	int nheaders;
	/* after each batch is in the log (acknowledged) */
	void (*acked)(void *arg, const char *topic, int partition, int64_t first, int64_t last);
	/* a record was skipped (over max.message.bytes): msg names it */
	void (*skipped)(void *arg, const char *msg);
	/* polled between input chunks; nonzero stops klog_producer_feed */
	int (*stop)(void *arg);
	void *arg;
	/* backpressure: with lag_group, before a batch is written (looking at
	 * most every 100 ms) wait while klog_group_lag of that group on the
	 * topic is above max_lag, looking again every 100 ms; stop() (or a
	 * signal, then stop()) ends a wait and the batch is written.
	 * waiting() is told when a wait starts (resumed 0) and when it ends
	 * because the lag fell (resumed 1) */
	const char *lag_group;
	int64_t max_lag;
	void (*waiting)(void *arg, const char *group, const char *topic, int64_t lag,
	    int64_t limit, int resumed);
	/* remote, in a cluster: a batch that was not acknowledged, and whose
	 * records are not sent again -- code CONNECTION_LOST (the answer was
	 * lost: written or not, unknown), NOT_ENOUGH_REPLICAS_AFTER_APPEND
	 * (written, not acknowledged), STALE_EPOCH, or after the retries
	 * NOT_LEADER, NOT_ENOUGH_REPLICAS, UNKNOWN_TOPIC, UNKNOWN_PARTITION
	 * (nothing written); msg says it for people.  The producer goes on
	 * with the next batches (at the new leader).  NULL: such a failure
	 * fails the producer, as any other */
	void (*failed)(void *arg, const char *topic, int partition, int64_t records,
	    const char *code, const char *msg);
	/* remote, in a cluster: a batch refused (so not written) with
	 * NOT_LEADER, UNKNOWN_TOPIC, UNKNOWN_PARTITION (sent again to the new
	 * leader at once) or NOT_ENOUGH_REPLICAS (after retry_backoff_ms, 0:
	 * 100, doubling up to 1 s) is sent again up to this many times; 0
	 * never.  Its bytes are kept meanwhile.  A batch sent again may land
	 * after batches of its partition sent after it */
	int retries;
	int retry_backoff_ms;
};
/* the topic must exist; partitions are opened (KLOG_WRITE) when first used */
struct klog_producer *klog_producer_open(struct klog_log *lg, const char *topic,
    const struct klog_producer_opts *o, char *err);
/* add one record (key_len/value_len -1: null); writes the partition's
 * batch first when the record would not fit.  0 added, 1 skipped (over
 * max.message.bytes; err says why), -1 failed (err) */
int klog_producer_send(struct klog_producer *pr, int64_t ts, const void *key, int32_t key_len,
    const void *value, int32_t value_len, char *err);
/* the records group has yet to consume in topic: over its partitions, the
 * log end minus the committed offset, or minus the log start where the
 * group has no commit (every partition of a group unknown, ENOENT from
 * klog_group_describe).  -1 EINVAL on a bad group name, ENOENT no topic */
int klog_group_lag(struct klog_log *lg, const char *group, const char *topic, int64_t *lag,
    char *err);
/* the same with this record's own headers (nh of them at h; NULL, 0:
 * none), sent instead of the producer's o->headers; their bytes are
 * copied, h need not outlive the call.  -1 EINVAL on a malformed header */
int klog_producer_send_h(struct klog_producer *pr, int64_t ts, const void *key,
    int32_t key_len, const void *value, int32_t value_len,
    const struct klog_header *h, int nh, char *err);
int klog_producer_flush(struct klog_producer *pr, char *err);  /* write every pending batch */
int64_t klog_producer_skipped(const struct klog_producer *pr);  /* records skipped so far */
int64_t klog_producer_failed(const struct klog_producer *pr);   /* batches given to o->failed */
/* records added and input bytes read (klog_producer_feed) so far */
void klog_producer_counts(const struct klog_producer *pr, int64_t *records, int64_t *bytes);
void klog_producer_close(struct klog_producer *pr);     /* frees; does not flush */
/*
 * Split a byte stream into records and send them.  A record ends at
 * `delim` (default "\n"); a last record without one is sent at EOF.  With
 * key_delim the key is what precedes its first occurrence (no occurrence:
 * null key); else key/key_len (-1: null) is every record's key.  When the
 * input would block for linger_ms with records pending, they are written.
 * `name` names the input in messages ("record 3 in 'NAME' ...").  Returns
 * 0 at EOF, 1 when o->stop said so, -1 on a read or write error (err).
 */
struct klog_feed_opts {
	const void *delim;
	size_t delim_len;
	const void *key_delim;
	size_t key_delim_len;
	const void *key;
	int32_t key_len;
	int linger_ms;                  /* < 0: 5 */
	int null_empty;                 /* an empty value is sent as null (a tombstone) */
};
int klog_producer_feed(struct klog_producer *pr, int fd, const char *name,
    const struct klog_feed_opts *fo, char *err);

/* consumer.c: reading records from partitions in order */
enum {
	KLOG_FROM_BEGINNING,
	KLOG_FROM_END,
	KLOG_FROM_OFFSET,               /* value: absolute offset */
	KLOG_FROM_TAIL,                 /* value: records before the end */
	KLOG_FROM_TIME,                 /* value: first timestamp (ms) wanted */
};
struct klog_start {
	int from;
	int64_t value;
};
/* kcat's -o: "beginning", "end", "N", "-N", "s@TS"; -1 (EINVAL) on junk */
int klog_start_parse(const char *s, struct klog_start *st, char *err);
struct klog_consumer;
struct klog_consumer *klog_consumer_new(struct klog_log *lg, char *err);
/* "TOPIC" (all its partitions) or "TOPIC:N", starting at st (NULL: the
 * beginning); an offset below the log start starts there, with a warning.
 * errno EINVAL: bad name or spec, ENOENT: no such topic or partition */
int klog_consumer_add(struct klog_consumer *c, const char *spec, const struct klog_start *st,
    char *err);
/* the next record, taking partitions round robin one read (about 1 MiB) at
 * a time, control batches skipped: 1 and r, *topic, *partition filled
 * (valid until the next call), 0 when every partition is at its end right
 * now, -1 on error (damaged data: "segment 'T-P/...log': bad CRC ...") */
int klog_consumer_next(struct klog_consumer *c, struct klog_record *r, const char **topic,
    int *partition, char *err);
/* wait until some partition may have grown (inotify): 1, 0 on timeout,
 * -1 when interrupted by a signal */
int klog_consumer_wait(struct klog_consumer *c, int timeout_ms);
int klog_consumer_count(const struct klog_consumer *c);        /* partitions */
/* stop each partition at its first record with a timestamp >= ts (kcat's
 * -o e@TS): that record and the ones after are not returned; done is 1
 * once every partition has stopped so */
void klog_consumer_stop_at(struct klog_consumer *c, int64_t ts);
int klog_consumer_done(const struct klog_consumer *c);
/* partition i: its topic, number and the next offset to be returned */
void klog_consumer_position(const struct klog_consumer *c, int i, const char **topic,
    int *partition, int64_t *next);
/*
 * A group member's partitions come and go (klog_group_poll).  Add one
 * partition, starting at st (NULL: the beginning; KLOG_FROM_OFFSET for a
 * committed offset): -1 EEXIST when it is read already.  Remove one: its
 * buffered records are dropped, the others keep their places; -1 ENOENT
 * when it is not read.  The next offset of one (what a commit records
 * once everything returned was used): -1 ENOENT when not read.
 */
int klog_consumer_add_part(struct klog_consumer *c, const char *topic, int partition,
    const struct klog_start *st, char *err);
int klog_consumer_remove(struct klog_consumer *c, const char *topic, int partition);
int klog_consumer_next_offset(const struct klog_consumer *c, const char *topic, int partition,
    int64_t *next);
void klog_consumer_free(struct klog_consumer *c);

/* client.c: a blocking client for remote mode (-b HOST:PORT / KLOG_BROKERS).
 * Errors: -1 with err "broker 'ADDR': message" and errno mapped from the
 * code word (UNKNOWN_TOPIC ENOENT, UNKNOWN_PARTITION ENOENT, TOPIC_EXISTS
 * EEXIST, OFFSET_OUT_OF_RANGE ERANGE, CORRUPT_BATCH EILSEQ, TOO_LARGE
 * EMSGSIZE, AUTH EACCES, BUSY EBUSY, INVALID/BAD_REQUEST EINVAL, INVALID_RECORD
 * EBADMSG, FENCED ESTALE, UNKNOWN_GROUP ENOENT, else EIO: STORAGE_ERROR, OFFLINE, INTERNAL);
 * klog_client_code() gives the last code word.  A client whose stream
 * broke (EPIPE, a bad reply) fails every later call. */
struct klog_client;
/* addrs: "HOST:PORT[,HOST:PORT...]"; secret NULL or "" for none (also
 * read from $KLOG_SECRET when NULL) */
struct klog_client *klog_client_open(const char *addrs, const char *secret, char *err);
void klog_client_close(struct klog_client *c);
const char *klog_client_code(const struct klog_client *c);
const char *klog_client_addr(const struct klog_client *c);
int klog_client_ping(struct klog_client *c, char *err);
int klog_client_topics(struct klog_client *c, char ***names, size_t *n, char *err);
int klog_client_create(struct klog_client *c, const char *topic, int partitions,
    char **kv, int nkv, char *err);
/* partitions 0: unchanged */
int klog_client_alter(struct klog_client *c, const char *topic, int partitions,
    char **kv, int nkv, char *err);
int klog_client_delete(struct klog_client *c, const char *topic, char *err);
/* COMPACT: partition -1 every one; st (passes, segments, bytes and records) from the reply */
int klog_client_compact(struct klog_client *c, const char *topic, int partition,
    struct klog_compact_stats *st, char *err);
/* one klog_part_info per partition (index = partition); caller frees */
int klog_client_describe(struct klog_client *c, const char *topic,
    struct klog_part_info **parts, int *n, char *err);
/* "key=value\n" lines */
int klog_client_config(struct klog_client *c, const char *topic, struct klog_buf *out, char *err);
int klog_client_offsets(struct klog_client *c, const char *topic, int partition,
    int64_t *log_start, int64_t *log_end, char *err);
int klog_client_offset_for_time(struct klog_client *c, const char *topic, int partition,
    int64_t ts, int64_t *offset, char *err);
int klog_client_stats(struct klog_client *c, struct klog_buf *out, char *err);
/* DESCRIBE TOPIC RATES: the broker's recent write rates, one per partition */
int klog_client_rates(struct klog_client *c, const char *topic, struct klog_part_rate **rates,
    int *n, char *err);
/* acks: 0, 1 or -1 (all) */
int klog_client_produce(struct klog_client *c, const char *topic, int partition, int acks,
    const void *batches, size_t len, int64_t *first, int64_t *last, char *err);
/*
 * Pipelining: send a produce without waiting (acks 1/all), then collect
 * the acknowledgements in order with klog_client_produce_ack; inflight
 * says how many are due.  Sending reads arriving acks meanwhile, so a
 * producer never deadlocks against a broker whose output is full.
 */
int klog_client_produce_send(struct klog_client *c, const char *topic, int partition,
    int acks, const void *batches, size_t len, char *err);
int klog_client_produce_ack(struct klog_client *c, int64_t *first, int64_t *last, char *err);
int klog_client_inflight(const struct klog_client *c);
/*
 * Fetch whole batches (appended to out, untouched, CRC not checked) from
 * the batch holding `offset`; waits up to max_wait_ms for min_bytes.
 * Returns bytes appended (0: nothing yet); *next the offset to fetch next,
 * *log_end the partition's end (either may be NULL).
 */
ssize_t klog_client_fetch(struct klog_client *c, const char *topic, int partition,
    int64_t offset, size_t max_bytes, int max_wait_ms, size_t min_bytes,
    struct klog_buf *out, int64_t *next, int64_t *log_end, char *err);

/*
 * offsets.c: Kafka's own records of group state in the compacted topic
 * __consumer_offsets (reference 2.8): big-endian key and value structs,
 * first int16 the schema version.  Writers write offset-commit key 1 /
 * value 3 and group-metadata key 2 / value 3; readers take every version
 * Kafka wrote (key 0-2, commit value 0-3, group value 0-3); a key of
 * version 3 or more (KIP-848) decodes as KLOG_OREC_OTHER.
 */
#define KLOG_OFFSETS_TOPIC "__consumer_offsets"
#define KLOG_OFFSETS_PARTITIONS 50
#define KLOG_GROUP_MAX 249              /* group names follow the topic rule */
int klog_group_name_check(const char *name, char *err);
/* abs(Java String.hashCode(group)) % 50 */
int klog_offsets_partition(const char *group);
enum { KLOG_OREC_COMMIT = 1, KLOG_OREC_GROUP, KLOG_OREC_OTHER };
struct klog_omember {
	char *member_id, *instance_id, *client_id, *client_host;   /* instance_id may be NULL */
	int32_t rebalance_timeout, session_timeout;
	unsigned char *subscription, *assignment;
	int32_t subscription_len, assignment_len;
};
struct klog_orec {
	int kind;
	int key_version, value_version;         /* value_version -1: tombstone (null value) */
	char *group;
	char *topic;                            /* COMMIT */
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;                   /* -1 unknown */
	char *metadata;
	int64_t commit_ts, expire_ts;           /* expire_ts -1 unless value 1 */
	char *protocol_type, *protocol, *leader;        /* GROUP (protocol, leader may be NULL) */
	int32_t generation;
	int64_t state_ts;                       /* -1 before value 2 */
	struct klog_omember *members;
	int nmembers;
};
/* decode one record (val NULL / vlen -1: tombstone); -1 EBADMSG with err
 * naming the field on malformed bytes.  klog_orec_free frees the strings */
int klog_orec_decode(const void *key, int32_t klen, const void *val, int32_t vlen,
    struct klog_orec *r, char *err);
void klog_orec_free(struct klog_orec *r);
/* encode a key and (unless tombstone) value for r into key/val (appended) */
int klog_orec_encode(const struct klog_orec *r, struct klog_buf *key, struct klog_buf *val,
    char *err);
/* one line of text ("commit group=G topic=T partition=P offset=N ...") or a
 * JSON object (json 1), no newline */
int klog_orec_format(const struct klog_orec *r, int json, struct klog_buf *out);

/*
 * gstore.c: committed offsets of a group kept in a log directory's
 * __consumer_offsets (created, 50 partitions, cleanup.policy=compact, at
 * the first commit).  Loading takes the last record per key of the
 * group's partition; a record that does not decode is skipped with a
 * warning naming its offset, never taken as an offset.
 */
struct klog_gcommit {
	char *topic;
	int partition;
	int64_t offset;                 /* next offset to consume; -1 in a delete */
	int64_t commit_ts;
};
void klog_gcommits_free(struct klog_gcommit *c, size_t n);
/* every live committed offset of group, sorted by topic and partition */
int klog_gstore_load(struct klog_dir *d, const char *group, struct klog_gcommit **c, size_t *n,
    char *err);
/* append the commits as one batch and sync it (the acknowledgement is
 * durable); offset -1 writes a tombstone for that key */
int klog_gstore_commit(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err);
/* groups with committed offsets or group metadata, sorted */
int klog_gstore_groups(struct klog_dir *d, char ***names, size_t *n, char *err);
/* tombstones for the group's metadata and every committed offset */
int klog_gstore_delete(struct klog_dir *d, const char *group, char *err);

/*
 * group.c: consumer groups, embedded (processes sharing a log directory:
 * group-local.c) or through a broker (the group coordinator:
 * group-remote.c), with the same calls.
 *
 * A member joins, then calls klog_group_poll in its loop (at least every
 * klog_group_interval ms) and handles the events one at a time:
 *   ASSIGN  the partition is now this member's: read from `committed`
 *           (-1: no commit; the caller applies its earliest/latest rule);
 *   REVOKE  the group wants it elsewhere: stop reading it, commit what
 *           was output, then klog_group_release -- a clean handover,
 *           nothing seen twice;
 *   LOST    it was taken away (this member was fenced: session expired,
 *           generation stale): stop reading it, do not commit.
 * A partition is handed to one member only after its previous owner
 * released it or died, so within a group each partition has at most one
 * owner at a time.
 */
struct klog_group;
struct klog_group_opts {
	const char *group;
	char **topics;                  /* subscribed topics (must exist) */
	size_t ntopics;
	const char *strategy;           /* "range" (default), "roundrobin", "sticky" */
	const char *instance_id;        /* static membership; NULL: dynamic */
	int session_ms;                 /* remote: silence before removal; 0: 10000 */
	const char *client_id;          /* NULL: "klog" */
};
enum { KLOG_GEV_ASSIGN = 1, KLOG_GEV_REVOKE, KLOG_GEV_LOST };
struct klog_gevent {
	int type;
	const char *topic;              /* valid until the next poll */
	int partition;
	int64_t committed;              /* ASSIGN: committed offset, -1 none */
};
/* errno EINVAL bad name or options, ENOENT a topic missing */
struct klog_group *klog_group_join(struct klog_log *lg, const struct klog_group_opts *o,
    char *err);
/* 1 and *ev filled, 0 nothing to do now, -1 error (err) */
int klog_group_poll(struct klog_group *g, struct klog_gevent *ev, char *err);
int klog_group_interval(const struct klog_group *g);    /* ms between polls */
/* commit n offsets for partitions this member owns; -1 ESTALE (fenced:
 * not the owner, stale generation) and nothing is written */
int klog_group_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err);
/* give up a partition after REVOKE (commit it first) */
int klog_group_release(struct klog_group *g, const char *topic, int partition, char *err);
const char *klog_group_member_id(const struct klog_group *g);
int32_t klog_group_generation(const struct klog_group *g);
/* leave cleanly (every partition released, others rebalance now) and
 * free; klog_group_free alone frees as if the process had died */
int klog_group_leave(struct klog_group *g, char *err);
void klog_group_free(struct klog_group *g);

/* administration (kgroup), embedded or remote */
struct klog_gmember_info {
	char *member_id, *instance_id, *client_id, *host;       /* instance_id may be NULL */
	int pid;                        /* 0 unknown */
};
struct klog_gpart_info {
	char *topic;
	int partition;
	int64_t committed;              /* -1 none */
	int64_t log_end;
	int64_t lag;                    /* log_end - committed, or - log start when none */
	int owner;                      /* index into members, -1 none */
};
struct klog_group_info {
	char state[24];                 /* "Empty", "Stable", "PreparingRebalance", "Dead" */
	int32_t generation;
	char strategy[16];
	struct klog_gmember_info *members;
	size_t nmembers;
	struct klog_gpart_info *parts;  /* sorted by topic and partition */
	size_t nparts;
};
void klog_group_info_free(struct klog_group_info *gi);
int klog_group_list(struct klog_log *lg, char ***names, size_t *n, char *err);
/* -1 ENOENT for a group with neither members nor commits */
int klog_group_describe(struct klog_log *lg, const char *group, struct klog_group_info *gi,
    char *err);
/* set committed offsets (kgroup reset); -1 EBUSY while the group has live
 * members (err names them) */
int klog_group_set_offsets(struct klog_log *lg, const char *group, const struct klog_gcommit *c,
    size_t n, char *err);
int klog_group_delete(struct klog_log *lg, const char *group, char *err);

#ifdef __GNUC__
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
