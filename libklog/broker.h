/* klog - kbrokerd's private header: what the broker-*.c files share. MIT licence. */
/*
 * One thread, one event loop (loop.c).  The protocol is specified in
 * proto.c; the broker*.c files are what the broker does with it, one
 * concern each (life cycle, connections, output queue, fetch and long
 * poll, commands, topic registry, stats, group commit).
 *
 * Ownership.  The broker holds an exclusive flock(2) on DIR/kbrokerd.pid
 * ("PID HOST:PORT\n", see dir.c) while it runs; a second broker fails at
 * once, embedded writers refuse.  That lock is what keeps embedded writers
 * off the partitions the broker has closed; an open partition's writer
 * lock (its directory's flock) is held for as long as it is open.
 *
 * Partitions (broker-topics.c).  Start-up reads the topic files only: a
 * partition is opened for writing -- locked and recovered, or fenced
 * offline when it cannot be -- at its first use, and at most max_open are
 * open at once (an fd cache, as Kafka's and RocksDB's): opening one more
 * closes the least recently used idle one (written data synced, no sync
 * out, no waiting fetch or acknowledgement, no log start to record), its
 * recovery point recorded by the next sync job; a request for a closed
 * partition while none is idle waits, its connection paused, for a sync
 * job to make some idle (kb_slot_wait).  Right after start-up a
 * sweep opens every partition once, KB_SWEEP_BATCH per loop turn, so that
 * damage is found and fenced (and retention applied) soon, not only when
 * a client asks; DESCRIBE and STATS show a closed partition from a
 * read-only look at its files.  A broker's CREATE and ALTER make one
 * partition directory; the others are made at their first write (topic.c).
 * Partition counts are limited per topic (max_topic_partitions) and per
 * directory (max_partitions); CREATE and ALTER beyond are INVALID.
 *
 * Connections.  Each has an input buffer and an output queue.  Requests
 * are executed in order as soon as they are whole; responses are queued
 * in order.  Queue items are memory (response lines), file ranges (fetch
 * data, sent with sendfile(2) from a dup of the segment's descriptor, so
 * stored batches go out untouched and retention cannot pull the file
 * away) and pending fetches (long poll) that block the items behind them
 * until they resolve.  A memory item may carry a commit sequence: a
 * produce acknowledgement under --fsync always is not sent before the
 * group commit that covers it.
 *
 * Group commit.  Produces only write(2).  The before-sleep hook, once per
 * loop turn, wakes fetches waiting on partitions that grew, fdatasyncs
 * every partition written in the turn (policy always), bumps the commit
 * sequence and flushes the connections whose acknowledgements waited for
 * it.  A failed fsync closes those connections without an ack.  Policy
 * interval=MS syncs dirty partitions from a timer; never leaves it to the
 * kernel (and to shutdown).
 *
 * Limits.  A connection whose queued output (memory, file ranges still
 * to send, 128 bytes an item) passes max_output, or that holds
 * OUT_FILES_MAX file ranges, is not read (nor are its buffered requests
 * executed) until it drains below half: a client that pipelines fetches
 * and never reads makes the broker run a few, not all.  A connection
 * executes at most EXEC_BUDGET requests a loop turn, then pauses until the
 * next (which does not block: klog_loop_nowait).  Waiting (parked)
 * fetches: at most max_conn_fetches per connection and max_waiting_fetches
 * in all; a fetch that would park beyond gets BUSY (the connection stays).
 * A partition that grows moves its waiters to a waking list, checked once
 * each, WAKE_BUDGET a turn; the loop's timers (one per waiting fetch) are
 * a heap, so parking and answering are O(log n).  File ranges answered in
 * one turn from one file share a dup of its descriptor (struct sfile).
 * Input buffers grow with the bytes of a payload as they arrive (at most
 * doubling; at most max_request), never on its announced length alone,
 * and only while the sum of all buffers stays under max_memory; otherwise
 * BUSY and close.  Once a request completes, an input buffer past
 * INBUF_STD is given back (what follows it moves to a small one), the
 * request line's copy past LINEBUF_KEEP too; a connection's buffers go
 * when it closes, an idle one's after 10 s; and when the buffer total has
 * dropped by TRIM_DROP since its high mark, the idle timer (once a second
 * at most) tells the allocator to return free pages (malloc_trim), so
 * memory comes back after a burst.
 *
 * Slow clients (broker-conn.c).  A request line must be whole within
 * request_timeout_ms of its first byte; a payload must start within it
 * and then bring 64 KiB (REQ_RATE_BYTES) per request_timeout_ms (each
 * 64 KiB restarts the clock: Apache's RequestReadTimeout MinRate); on
 * expiry the connection is closed and logged.  Time between requests is
 * idleness, not slowness, and a connection not read because its output is
 * full (paused) is not timed.  Idle ones (no request for idle_timeout_ms,
 * no pending fetch, no output) are closed.  At most max_conns_per_ip
 * connections per source address (default max_conns / 4, at least 64;
 * newcomers beyond get BUSY).  When all max_conns are taken, a newcomer
 * sheds the connection idle longest (no request in progress, no pending
 * fetch, no unsent output), or else the in-progress one whose request
 * made progress least recently; only when every connection waits on a
 * fetch or on output is the newcomer refused.
 *
 * Authentication.  A listener (given or inherited) not on a loopback
 * address needs a secret, or opts.insecure (logged as a warning).  AUTH
 * compares in time that depends on the length of what the client sent,
 * never on the secret or on where they differ.
 *
 * Shutdown (klog_broker_shutdown, e.g. from SIGTERM): stop listening,
 * execute the requests already buffered, answer pending fetches with what
 * there is, flush output (at most 5 s), fsync, close every partition
 * (which records recovery points), remove the pid file.
 */
#ifndef KLOG_BROKER_H
#define KLOG_BROKER_H

#include <sys/types.h>

#include "internal.h"
#include "cluster.h"

#define INBUF_MIN (16 * 1024)
#define INBUF_STD (256 * 1024)
#define MEMITEM_MAX (64 * 1024)
#define DRAIN_MS 5000
#define RETENTION_CHECK_MS 300000
#define NBUCKETS 16                     /* request duration histogram buckets */
#define THASH 1024
#define WAKE_BUDGET 256                 /* waiting fetches checked per loop turn */
#define EXEC_BUDGET 32                  /* requests one connection executes per loop turn */
#define OUT_FILES_MAX 64                /* file ranges (descriptors) queued per connection */
#define KB_FDS_PER_PART 4               /* open: directory, active .log, .index, .timeindex */
#define KB_SWEEP_BATCH 32               /* partitions the start-up sweep opens per turn */
#define IPHASH 256                      /* connections per source address */
#define REQ_RATE_BYTES (64 * 1024)      /* payload bytes that restart the request clock */
#define LINEBUF_KEEP 4096
#define TRIM_DROP (4 << 20)             /* buffer bytes freed before malloc_trim */

struct bpart;
struct conn;

enum { O_MEM, O_FILE, O_FETCH };

/* a dup of a segment's descriptor that file ranges share (broker-fetch.c):
 * thousands of fetches woken at once on one segment hold one descriptor */
struct sfile {
	int fd, refs;
	dev_t dev;
	ino_t ino;
};

struct oitem {
	struct oitem *next;
	int kind;
	/* O_MEM: a produce acknowledgement that waits until its partition is
	 * durable up to `need` (the batch's last offset + 1) */
	struct bpart *abp;
	int64_t need;
	struct klog_buf buf;            /* O_MEM */
	size_t off;
	int fd;                         /* O_FILE: sf->fd */
	struct sfile *sf;
	int64_t pos;
	size_t len;
	/* O_FETCH */
	struct conn *c;
	struct bpart *bp;
	int64_t offset, deadline;
	size_t max_bytes, min_bytes;
	int64_t timer;
	int64_t t0;                     /* request start, us */
	int acks_all;                   /* O_MEM: acks=all: waits for the high watermark too */
	int rnode;                      /* O_FETCH: RFETCH from node (-1 observer); -2 FETCH */
	struct oitem *wnext, *wprev;    /* the partition's waiters or waking list */
};

struct bpart {
	struct btopic *t;
	int id;
	struct klog_part *p;            /* NULL: offline (see offline) or deleted */
	char *offline;                  /* why it could not be opened (fenced) */
	int64_t log_end;                /* next offset written */
	int64_t durable;                /* every offset below is synced */
	struct oitem *waiters;          /* parked fetches (broker-fetch.c) */
	struct oitem *waking;           /* parked fetches to check again: the end grew */
	int dirty;                      /* in b->dirtyv: written or rolled since its last sync */
	int grew;                       /* in b->growv: fetches waking */
	int refs;                       /* acknowledgements and sync jobs holding it */
	int deleted;                    /* its topic is gone: freed at refs 0 */
	int syncing;                    /* in the sync job out now */
	struct bpart *lprev, *lnext;    /* open ones, most recently used first */
	struct klog_part_info ci;       /* as it was closed (ci_known) */
	int ci_known;
	struct kb_rate *rate;           /* appends counted (broker-stats.c); NULL: none yet */
	struct rpart *r;                /* a cluster partition's replica here (broker-repl.c) */
};

struct btopic {
	char *name;
	int np;
	struct bpart **parts;
	int swept;                      /* [0, swept) opened once since start-up */
	struct klog_broker *b;
	struct btopic *next;
};

struct conn {
	struct klog_broker *b;
	int fd;
	char peer[64];
	struct klog_buf in;
	size_t in_off;
	struct klog_buf line;           /* copy of the current request line */
	struct klog_req req;
	int have_req;                   /* req parsed, payload still arriving */
	struct oitem *head, *tail;
	size_t out_mem;
	int out_items;
	size_t out_file;                /* bytes of the queued file ranges */
	int out_files;                  /* file ranges queued (each holds a descriptor) */
	uint64_t exec_turn;             /* the turn nexec counts */
	int nexec;                      /* requests executed in that turn */
	int authed, closing, paused, commit_wait, nfetch, eof, resume;
	int lingering;                  /* output done, discarding input until EOF */
	size_t discarded;
	int64_t last_active;
	int64_t slot_wait;              /* since when its request waits for a partition slot, 0 not */
	struct conn *prev, *next;
	int64_t req_due;                /* ms: the request in progress must be whole (or progress) by then */
	size_t req_mark;                /* payload bytes there when req_due was set */
	struct kb_ip *ip;               /* its source address's count */
	int gmembers;                   /* group members joined through it (broker-group.c) */
};

/* connections from one source address */
struct kb_ip {
	struct kb_ip *next;
	int n;
	char host[64];
};

/* a partition's appends since start-up, and per second over the last
 * KB_RATE_SECS seconds (bucket s % KB_RATE_SECS holds second s) */
#define KB_RATE_SECS (KLOG_RATE_WINDOW_MS / 1000)
struct kb_rate {
	int64_t sec;                    /* the latest second counted */
	uint64_t records[KB_RATE_SECS], bytes[KB_RATE_SECS];
	uint64_t records_total, bytes_total;
};

struct vstats {
	uint64_t count, errors;
	uint64_t bucket[NBUCKETS];
	double sum;
};

struct klog_broker {
	struct klog_broker_opts o;
	struct klog_dir *d;
	struct klog_loop *loop;
	int lfd, pidfd;
	int sigpipe[2];
	char addr[128];
	char dirpath[4096];
	struct btopic *topics[THASH];
	struct conn *conns;
	int nconns, ndead, nresume;
	int nfetch;                     /* fetches waiting, all connections */
	struct sfile *sf_last;          /* the descriptor shared last (for one turn) */
	uint64_t turn;
	size_t mem;
	uint64_t commits;               /* group commits done */
	struct bpart **dirtyv, **growv;
	struct conn **commitv;          /* heads waiting for the next group commit */
	size_t ncommit, ccommit;
	size_t ndirty, ngrow, cdirty, cgrow;
	int64_t idle_timer, sync_timer;
	struct ksyncer *syncer;         /* broker-sync.c */
	int want_sync;                  /* sync written data at the next chance */
	int64_t ckpt_due;               /* next recovery-point checkpoint (ms) */
	struct bpart **startv;          /* log starts moved by retention, to record */
	size_t nstart, cstart;
	volatile int stop;
	int draining;
	int64_t drain_deadline;
	int nfiles;
	/* the partition cache (broker-topics.c) */
	struct bpart *lru_head, *lru_tail;
	int nopen, max_open;
	long nparts;                    /* in every topic loaded */
	struct klog_ckpt_entry *rpv;    /* recovery points of closed partitions, to record */
	size_t nrpv, crpv;
	int64_t sweep_timer;
	size_t sweep_h;
	uint64_t part_opens, part_closes, part_busy;
	int nslot_wait;                 /* connections paused for a partition slot */
	int fresh;                      /* CREATE and ALTER make partitions */
	int sweeps;                     /* sweeps finished */
	/* stats */
	uint64_t conns_total, conns_rejected, bytes_in, bytes_out, records_in, records_out;
	uint64_t batches_in, fsyncs, fsync_errors, produce_errors;
	struct vstats vs[KLOG_V_NVERBS];
	char err[KLOG_ERRLEN];
	/* broker-conn.c: slow clients, sources, memory, secret */
	struct kb_ip *ips[IPHASH];
	int max_per_ip;                 /* 0: no limit */
	size_t mem_high;                /* buffer total's high mark since the last trim */
	uint64_t conns_shed, req_timeouts, trims;
	unsigned char *secret_pad;      /* the secret, zero-padded to a request line */
	size_t secret_len;
	struct kb_compactor *compact;   /* broker-compact.c */
	struct kbg *groups;             /* broker-group.c: the group coordinator */
	struct kbctl *ctl;              /* broker-ctl.c: the controller (its first node) */
	struct kbrepl *repl;            /* broker-repl.c: this node's replicas; NULL standalone */
};

/* broker.c */
void kb_log(struct klog_broker *b, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* broker-sync.c */
int kb_sync_start(struct klog_broker *b, char *err);
void kb_sync_stop(struct klog_broker *b);
void kb_before_sleep(struct klog_loop *l, void *data);
int64_t kb_sync_timer(struct klog_loop *l, void *data);
void kb_sync_all(struct klog_broker *b);
void kb_written(struct klog_broker *b, struct bpart *bp);
int64_t kb_visible_end(struct klog_broker *b, struct bpart *bp);
void kb_wake(struct klog_broker *b, struct bpart *bp);

/* broker-topics.c */
void kb_part_put(struct klog_broker *b, struct bpart *bp);
void kb_retention(struct klog_broker *b, struct bpart *bp);
int kb_part_info(struct klog_broker *b, struct bpart *bp, struct klog_part_info *pi, char *err);
int kb_part_online(struct bpart *bp, const char **code, char *err);
struct bpart *kb_part_get(struct klog_broker *b, const char *name, const char *ps, const char **code, char *err);
int kb_part_open(struct klog_broker *b, struct bpart *bp, char *err);
void kb_part_close(struct klog_broker *b, struct bpart *bp);
int kb_cache_init(struct klog_broker *b, char *err);
int kb_slot_wait(struct conn *c, struct klog_req *r);
void kb_slot_resume(struct klog_broker *b);
int64_t kb_sweep(struct klog_loop *l, void *data);
struct btopic *kb_topic_find(struct klog_broker *b, const char *name);
void kb_topic_free(struct klog_broker *b, struct btopic *t, int unlink_it);
struct btopic *kb_topic_get(struct klog_broker *b, const char *name, const char **code, char *err);
int kb_topic_grow(struct klog_broker *b, struct btopic *t, int np, char *err);
struct btopic *kb_topic_load(struct klog_broker *b, const char *name, char *err);
int kb_vec_add(struct bpart ***v, size_t *n, size_t *cap, struct bpart *bp);
unsigned kb_hash(const char *s);

/* broker-out.c */
void kb_conn_flush(struct conn *c);
void kb_conn_set_write(struct conn *c, int on);
void kb_item_free(struct conn *c, struct oitem *it);
struct oitem *kb_item_new(struct conn *c, int kind);
void kb_item_push(struct conn *c, struct oitem *it);
int kb_out_full(struct conn *c);
size_t kb_out_size(struct conn *c);
void kb_reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kb_reply_ack(struct conn *c, struct bpart *bp, int64_t first, int64_t last, int all);
void kb_commit_waiters(struct klog_broker *b);
void kb_reply_err(struct conn *c, const char *code, const char *msg);
void kb_reply_take(struct conn *c, struct klog_buf *data);

/* broker-fetch.c */
void kb_cmd_fetch(struct conn *c, struct klog_req *r, int64_t t0);
int kb_fetch_queue(struct conn *c, struct bpart *bp, int64_t off, size_t maxb, int wait,
    size_t minb, int rnode, int64_t t0);
void kb_fetch_try(struct oitem *it, int force);
void kb_waiter_unlink(struct oitem *it);
void kb_waiters_move(struct bpart *bp);
void kb_sfile_put(struct sfile *sf);
void kb_sfile_release(struct klog_broker *b);
int kb_waiters_check(struct bpart *bp, int budget);
void kb_waiters_fail(struct bpart *bp, const char *code, const char *msg);

/* broker-cmd.c */
void kb_execute(struct conn *c, struct klog_req *r, unsigned char *payload);
int kb_parse_num(const char *s, int64_t min, int64_t max, int64_t *v);

/* broker-compact.c */
int kb_compact_start(struct klog_broker *b, char *err);
void kb_compact_stop(struct klog_broker *b);
void kb_compact_lock(struct klog_broker *b, int lock);
int kb_compact_wait(struct conn *c, struct klog_req *r);
void kb_cmd_compact(struct conn *c, struct klog_req *r);
int kb_compact_stats(struct klog_broker *b, struct klog_buf *out);
/* broker-group.c: the group coordinator (members, generations, owners,
 * committed offsets); broker-gcmd.c: its commands */
struct kg_tp;
struct kbg_commit {
	char *topic;
	int partition;
	int64_t offset;
	int64_t ts;
};

struct kbg_member {
	char *id, *instance, *client_id, *host;
	int pid;
	struct conn *c;                 /* NULL: a static member whose connection closed */
	char **topics;
	size_t ntopics;
	int session_ms;
	int64_t last_seen;
	int32_t join_gen;
	uint64_t ver;                   /* bumped whenever what it owns may have changed */
};

struct kbg_group {
	char *name;
	char strategy[16];
	int32_t generation;
	struct kbg_member **m;          /* sorted by id */
	size_t nm;
	struct kg_tp *tp;               /* the subscribed partitions, sorted; topics owned */
	size_t ntp;
	struct kbg_member **owner, **target;
	struct kbg_commit *cm;          /* sorted by topic and partition */
	size_t ncm;
	int has_meta;                   /* a group metadata record is live */
	int meta_dirty;                 /* a new generation to record */
	struct kbg_group *next;
};

struct kbg {
	struct kbg_group *groups;
	unsigned char loaded[KLOG_OFFSETS_PARTITIONS];
	unsigned char failed[KLOG_OFFSETS_PARTITIONS];  /* its sync failed: cache read again */
	int64_t timer;
	uint64_t seq;
	int meta_warned;
};
void kb_group_cmd(struct conn *c, struct klog_req *r, unsigned char *payload, int64_t t0);
void kb_group_conn_closed(struct conn *c);
void kb_group_free(struct klog_broker *b);
struct kbg *kbg_get(struct klog_broker *b);
int kbg_strategy_ok(const char *s, char *err);
int kbg_tpcmp(const char *t1, int p1, const char *t2, int p2);
int kbg_strcmpp(const void *a, const void *b);
void kbg_member_free(struct kbg_member *m);
int kbg_group_exists(const struct kbg_group *g);
void kbg_group_gc(struct kbg *G, struct kbg_group *g);
int64_t kbg_committed(struct kbg_group *g, const char *topic, int partition);
int kbg_load_all(struct klog_broker *b, const char **code, char *err);
/* the group named: name checked, its __consumer_offsets partition loaded;
 * create 0: UNKNOWN_GROUP unless it has members, commits or metadata */
struct kbg_group *kbg_group_get(struct klog_broker *b, const char *name, int create,
    const char **code, char *err);
/* append commits (offset -1: tombstone) and with meta_tomb a metadata
 * tombstone; durable once *bpo is past *need */
int kbg_offsets_write(struct klog_broker *b, struct kbg_group *g, const struct kbg_commit *c,
    size_t n, int meta_tomb, struct bpart **bpo, int64_t *need, const char **code, char *err);
void kbg_reply_synced(struct conn *c, struct bpart *bp, int64_t need, const char *line);
struct kbg_member *kbg_member_find(struct kbg_group *g, const char *id, size_t *at);
int kbg_tp_index(struct kbg_group *g, const char *topic, int partition);
void kbg_reconcile(struct kbg_group *g);
void kbg_rebalance(struct klog_broker *b, struct kbg_group *g);
void kbg_member_remove(struct klog_broker *b, struct kbg_group *g, size_t at, const char *why);
/* broker-ctl.c: the controller (BROKERHB, ALTERISR; CREATE ALTER DELETE in a cluster) */
int kb_ctl_start(struct klog_broker *b, char *err);
void kb_ctl_stop(struct klog_broker *b);
void kb_ctl_cmd(struct conn *c, struct klog_req *r, int64_t t0);
void kb_ctl_conn_closed(struct conn *c);
/* CREATE, ALTER, DELETE in a cluster (the controller executes them on its
 * state; elsewhere NOT_CONTROLLER): 0 answered, -1 (err, *code) */
int kb_ctl_create(struct conn *c, struct klog_req *r, char *err, const char **code);
int kb_ctl_alter(struct conn *c, struct klog_req *r, char *err, const char **code);
int kb_ctl_delete(struct conn *c, struct klog_req *r, char *err, const char **code);
/* the controller's state (NULL: this broker is not the controller) */
struct kc_state;
const struct kc_state *kb_ctl_state(struct klog_broker *b);
/* the controller's node id (-1 standalone) and its address into addr */
int kb_ctl_controller(struct klog_broker *b, char *addr, size_t len);
/* the controller only: cluster.c's lines (SELF this node, nodes alive or
 * dead as its sessions say) of the topics named (topics NULL: all) into
 * out; returns the number of lines, -1 (not the controller, ENOMEM) */
int kb_ctl_metadata(struct klog_broker *b, char **topics, size_t n, struct klog_buf *out);
/* controller counters for STATS (nothing elsewhere) */
void kb_ctl_stats(struct klog_broker *b, struct klog_buf *o);
/* broker-repl.c: replicas (METADATA, RFETCH, EPOCHEND; leaders, followers) */
int kb_repl_start(struct klog_broker *b, char *err);
void kb_repl_stop(struct klog_broker *b);
void kb_repl_cmd(struct conn *c, struct klog_req *r, int64_t t0);

#define KB_HB_MS 50                     /* heartbeats to the controller */
#define KB_REPL_TICK_MS 100             /* ISR checks */
#define KB_FOLLOW_WAIT_MS 500           /* a follower's RFETCH long poll */
#define KB_FOLLOW_BYTES (4 << 20)       /* and its size */

/* this broker as a cluster member (broker-repl.c, broker-meta.c) */
struct kbrepl {
	struct kc_state spec;           /* the cluster's description (--cluster) */
	struct kc_state st;             /* the controller's state as last applied here */
	int ctl;                        /* the controller's node id */
	char ctl_addr[KC_ADDR_MAX];
	char adv[KC_ADDR_MAX];          /* what this broker advertises */
	uint64_t incarnation;
	struct klog_lc *lc;             /* to the controller */
	int hb_out, meta_out, want_meta, chan_warned, stopped;
	int64_t hb, tick, hw_due;       /* timers; next HW checkpoint (ms) */
	struct klog_buf scratch;        /* METADATA's lines */
	struct klog_ckpt_entry *saved;  /* replication-offset-checkpoint as read at start */
	size_t nsaved;
	uint64_t isr_shrinks, isr_expands, leader_changes, truncations, bytes_in;
};

/* a partition of the cluster state as this broker holds it */
enum { R_NONE, R_LEADER, R_FOLLOWER };
struct rfoll {                          /* a follower as its leader sees it */
	int node;
	int64_t leo;                    /* its fetch offset: what it holds; -1 unknown */
	int64_t caught_up;              /* ms: last time it had all the leader had */
	int64_t prev_fetch;             /* ms: its previous fetch */
	int64_t prev_end;               /* the leader's log end at its previous fetch */
};
struct rpart {
	struct bpart *bp;
	int role;
	int leader;
	int32_t leader_epoch, part_epoch;
	int nreplicas, replicas[KC_MAX_REPLICAS];
	int nisr, isr[KC_MAX_REPLICAS];
	int npend, pend[KC_MAX_REPLICAS];       /* ISR proposed (ALTERISR out) */
	int alter_out;
	struct rfoll f[KC_MAX_REPLICAS];        /* leader: by position in replicas */
	int64_t hw;                     /* high watermark */
	int64_t hw_saved;               /* as last checkpointed */
	int min_isr;
	int unclean;
	struct klog_fetcher *fetcher;   /* follower */
	char leader_addr[KC_ADDR_MAX];  /* what it follows */
	char last_event[32];            /* the fetcher's last event code, said once */
	int fetch_waits;                /* the fetcher waits for a sync (klog_fetcher_ready) */
};
void kb_repl_stats(struct klog_broker *b, struct klog_buf *o);
int64_t kb_repl_saved_hw(struct klog_broker *b, const char *topic, int partition);
int kb_repl_want_isr(struct klog_broker *b, struct rpart *r, int *isr);
void kb_repl_part_drop(struct klog_broker *b, struct bpart *bp);
int kb_repl_leader_check(struct klog_broker *b, struct bpart *bp, const char **code, char *err);
int64_t kb_repl_hw(struct bpart *bp);
void kb_repl_durable(struct klog_broker *b, struct bpart *bp);
void kb_repl_update_hw(struct klog_broker *b, struct bpart *bp);
int kb_repl_ack_ready(struct bpart *bp, int64_t need, const char **code, char *msg, size_t n);
/* broker-meta.c: the controller channel, the cluster state applied here */
int kb_meta_start(struct klog_broker *b, char *err);
void kb_meta_stop(struct klog_broker *b);
void kb_repl_free(struct klog_broker *b);
void kb_meta_refresh(struct klog_broker *b);
int kb_meta_format(struct klog_broker *b, char **topics, size_t n, struct klog_buf *out);
const char *kb_meta_addr(struct klog_broker *b, int node);
void kb_meta_alter_isr(struct klog_broker *b, struct rpart *r);
/* broker-stats.c */
void kb_cmd_stats(struct conn *c);
int64_t kb_now_us(void);
void kb_observe(struct klog_broker *b, int verb, int64_t t0, int failed);
struct kb_rate *kb_rate_count(struct kb_rate *r, int64_t now, int64_t records, size_t bytes);
void kb_rate_at(const struct kb_rate *r, int64_t now, struct klog_part_rate *pr);
void kb_rate_add(struct bpart *bp, int64_t records, size_t bytes);
void kb_rate_get(const struct bpart *bp, struct klog_part_rate *r);

/* broker-conn.c */
void kb_conn_close(struct conn *c);
void kb_conn_event(struct klog_loop *l, int fd, void *data, int mask);
void kb_conn_linger(struct conn *c);
void kb_conn_process(struct conn *c);
void kb_conn_want_read(struct conn *c);
void kb_on_accept(struct klog_loop *l, int fd, void *data, int mask);
void kb_reap(struct klog_broker *b);
int kb_conn_expire(struct conn *c, int64_t now);
void kb_mem_trim(struct klog_broker *b);
int kb_listen_check(struct klog_broker *b, char *err);
int kb_secret_ok(struct klog_broker *b, const char *got);

#endif
