/* klog - kbrokerd's server: a log directory over the text protocol. MIT licence. */
/*
 * One thread, one event loop (loop.c).  The protocol is specified in
 * proto.c; this file is what the broker does with it.
 *
 * Ownership.  The broker holds an exclusive flock(2) on DIR/kbrokerd.pid
 * ("PID HOST:PORT\n", see dir.c) while it runs; a second broker fails at
 * once, embedded writers refuse.  Every partition of every topic is
 * opened for writing (and so recovered) before the broker listens.
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
 * Limits.  A connection whose queued output passes max_output is not read
 * (nor are its buffered requests executed) until it drains below half.
 * Input buffers grow to hold a whole payload (at most max_request) only
 * while the sum of all buffers stays under max_memory; otherwise BUSY and
 * close.  max_conns connections; idle ones (no request for
 * idle_timeout_ms and no pending fetch) are closed.
 *
 * Shutdown (klog_broker_shutdown, e.g. from SIGTERM): stop listening,
 * execute the requests already buffered, answer pending fetches with what
 * there is, flush output (at most 5 s), fsync, close every partition
 * (which records recovery points), remove the pid file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define INBUF_MIN (16 * 1024)
#define INBUF_STD (256 * 1024)
#define MEMITEM_MAX (64 * 1024)
#define DRAIN_MS 5000
#define NBUCKETS 16
#define THASH 1024

static const double buckets[NBUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30
};

struct bpart;
struct conn;

enum { O_MEM, O_FILE, O_FETCH };

struct oitem {
	struct oitem *next;
	int kind;
	uint64_t seq;                   /* O_MEM: commit needed before sending */
	struct klog_buf buf;            /* O_MEM */
	size_t off;
	int fd;                         /* O_FILE */
	int64_t pos;
	size_t len;
	/* O_FETCH */
	struct conn *c;
	struct bpart *bp;
	int64_t offset, deadline;
	size_t max_bytes, min_bytes;
	int64_t timer;
	int64_t t0;                     /* request start, us */
	uint64_t seen;                  /* turn of the last wake-up check */
	struct oitem *wnext, *wprev;    /* the partition's waiters */
};

struct bpart {
	struct btopic *t;
	int id;
	struct klog_part *p;
	int64_t log_end;
	struct oitem *waiters;
	int dirty, grew;
};

struct btopic {
	char *name;
	int np;
	struct bpart **parts;
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
	int authed, closing, paused, commit_wait, nfetch, eof, resume;
	int lingering;                  /* output done, discarding input until EOF */
	size_t discarded;
	int64_t last_active;
	struct conn *prev, *next;
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
	uint64_t turn;
	size_t mem;
	uint64_t committed;             /* group commits done */
	struct bpart **dirtyv, **growv;
	struct conn **commitv;          /* heads waiting for the next group commit */
	size_t ncommit, ccommit;
	size_t ndirty, ngrow, cdirty, cgrow;
	int64_t idle_timer, sync_timer;
	volatile int stop;
	int draining;
	int64_t drain_deadline;
	int nfiles;
	/* stats */
	uint64_t conns_total, conns_rejected, bytes_in, bytes_out, records_in, records_out;
	uint64_t batches_in, fsyncs, fsync_errors, produce_errors;
	struct vstats vs[KLOG_V_NVERBS];
	char err[KLOG_ERRLEN];
};

static void conn_close(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_process(struct conn *c);
static void conn_want_read(struct conn *c);
static void fetch_try(struct oitem *it, int force);
static void conn_event(struct klog_loop *l, int fd, void *data, int mask);
static void conn_linger(struct conn *c);
static void waiter_unlink(struct oitem *it);

static void
blog(struct klog_broker *b, int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!b->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->o.log(prio, msg);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
observe(struct klog_broker *b, int verb, int64_t t0, int failed)
{
	struct vstats *v;
	double s = (double)(now_us() - t0) / 1e6;
	int i;

	if (verb < 0 || verb >= KLOG_V_NVERBS)
		return;
	v = &b->vs[verb];
	v->count++;
	v->errors += failed != 0;
	v->sum += s;
	for (i = 0; i < NBUCKETS; i++)
		if (s <= buckets[i])
			v->bucket[i]++;
}

void
klog_broker_defaults(struct klog_broker_opts *o)
{
	memset(o, 0, sizeof *o);
	o->listen_fd = -1;
	o->fsync_policy = KLOG_FSYNC_ALWAYS;
	o->fsync_interval_ms = 1000;
	o->max_conns = 1024;
	o->idle_timeout_ms = 600000;
	o->max_request = 16 << 20;
	o->max_output = 4 << 20;
	o->max_memory = 1024UL << 20;
}

/* --- topics and partitions ------------------------------------------- */

static unsigned
thash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % THASH;
}

static struct btopic *
topic_find(struct klog_broker *b, const char *name)
{
	struct btopic *t;

	for (t = b->topics[thash(name)]; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static int
part_open(struct klog_broker *b, struct bpart *bp, char *err)
{
	struct klog_part_info pi;

	bp->p = klog_part_open(b->d, bp->t->name, bp->id, KLOG_WRITE | KLOG_BROKER, err);
	if (!bp->p)
		return -1;
	if (klog_part_info(bp->p, &pi, err) < 0)
		return -1;
	bp->log_end = pi.log_end;
	return 0;
}

/* open partitions [t->np, np) */
static int
topic_grow(struct klog_broker *b, struct btopic *t, int np, char *err)
{
	struct bpart **v;

	if (np <= t->np)
		return 0;
	if (!(v = realloc(t->parts, (size_t)np * sizeof *v)))
		return kerr_sys(err, "topic '%s'", t->name);
	t->parts = v;
	while (t->np < np) {
		struct bpart *bp = calloc(1, sizeof *bp);
		if (!bp)
			return kerr_sys(err, "topic '%s'", t->name);
		bp->t = t;
		bp->id = t->np;
		if (part_open(b, bp, err) < 0) {
			klog_part_close(bp->p);
			free(bp);
			return -1;
		}
		t->parts[t->np++] = bp;
	}
	return 0;
}

static struct btopic *
topic_load(struct klog_broker *b, const char *name, char *err)
{
	struct klog_config cfg;
	struct btopic *t;
	unsigned h;

	if (klog_topic_load(b->d, name, &cfg, err) < 0)
		return NULL;
	if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name))) {
		free(t);
		kerr_sys(err, "topic '%s'", name);
		return NULL;
	}
	h = thash(name);
	t->next = b->topics[h];
	b->topics[h] = t;
	if (topic_grow(b, t, cfg.partitions, err) < 0)
		return NULL;    /* kept, partially open: retried on use */
	return t;
}

static void
vec_del(struct bpart **v, size_t *n, struct bpart *bp)
{
	size_t i, j;

	for (i = j = 0; i < *n; i++)
		if (v[i] != bp)
			v[j++] = v[i];
	*n = j;
}

static int
vec_add(struct bpart ***v, size_t *n, size_t *cap, struct bpart *bp)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct bpart **nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = bp;
	return 0;
}

static void waiters_fail(struct bpart *bp, const char *code, const char *msg);

static void
topic_free(struct klog_broker *b, struct btopic *t, int unlink_it)
{
	struct btopic **pp;
	int i;

	for (i = 0; i < t->np; i++) {
		struct bpart *bp = t->parts[i];
		waiters_fail(bp, "UNKNOWN_TOPIC", "topic deleted");
		vec_del(b->dirtyv, &b->ndirty, bp);
		vec_del(b->growv, &b->ngrow, bp);
		klog_part_close(bp->p);
		free(bp);
	}
	if (unlink_it)
		for (pp = &b->topics[thash(t->name)]; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
	free(t->parts);
	free(t->name);
	free(t);
}

/* the topic, loading one created behind our back; code set on failure */
static struct btopic *
topic_get(struct klog_broker *b, const char *name, const char **code, char *err)
{
	struct btopic *t;

	if (klog_topic_name_check(name, err) < 0) {
		*code = "INVALID";
		return NULL;
	}
	if ((t = topic_find(b, name)))
		return t;
	if (!klog_topic_exists(b->d, name)) {
		*code = "UNKNOWN_TOPIC";
		kerr(err, "no such topic '%s'", name);
		return NULL;
	}
	if (!(t = topic_load(b, name, err)))
		*code = "INTERNAL";
	return t;
}

static struct bpart *
part_get(struct klog_broker *b, const char *name, const char *ps, const char **code, char *err)
{
	struct btopic *t = topic_get(b, name, code, err);
	struct klog_config cfg;
	int64_t p;

	if (!t)
		return NULL;
	if (klog_parse_i64(ps, &p) < 0 || p < 0 || p > INT32_MAX) {
		*code = "BAD_REQUEST";
		kerr(err, "bad partition '%s'", ps);
		return NULL;
	}
	if (p >= t->np) {
		/* grown by someone else? */
		if (klog_topic_load(b->d, name, &cfg, err) == 0 && cfg.partitions > t->np &&
		    topic_grow(b, t, cfg.partitions, err) < 0) {
			*code = "INTERNAL";
			return NULL;
		}
		if (p >= t->np) {
			*code = "UNKNOWN_PARTITION";
			kerr(err, "topic '%s' has %d partition%s", name, t->np, t->np == 1 ? "" : "s");
			return NULL;
		}
	}
	return t->parts[p];
}

/* --- output queue ----------------------------------------------------- */

static struct oitem *
item_new(struct conn *c, int kind)
{
	struct oitem *it = calloc(1, sizeof *it);

	if (!it)
		return NULL;
	it->kind = kind;
	it->fd = -1;
	it->c = c;
	it->timer = -1;
	return it;
}

static void
item_push(struct conn *c, struct oitem *it)
{
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->out_items++;
}

static void
item_free(struct conn *c, struct oitem *it)
{
	struct klog_broker *b = c->b;

	if (it->kind == O_FILE && it->fd >= 0)
		close(it->fd);
	if (it->kind == O_FETCH) {
		if (it->timer >= 0)
			klog_loop_timer_del(b->loop, it->timer);
		waiter_unlink(it);
		c->nfetch--;
	}
	c->out_mem -= it->buf.cap;
	b->mem -= it->buf.cap;
	klog_buf_free(&it->buf);
	c->out_items--;
	free(it);
}

/* a memory reply buffer to append to: the tail if it can take it */
static struct klog_buf *
reply_buf(struct conn *c, uint64_t seq)
{
	struct oitem *it = c->tail;

	if (!it || it->kind != O_MEM || it->seq != seq || it->buf.len > MEMITEM_MAX) {
		if (!(it = item_new(c, O_MEM)))
			return NULL;
		it->seq = seq;
		item_push(c, it);
	}
	return &it->buf;
}

/* account for growth of a reply buffer's capacity */
static void
reply_done(struct conn *c, struct klog_buf *buf, size_t cap0)
{
	c->out_mem += buf->cap - cap0;
	c->b->mem += buf->cap - cap0;
}

static void
reply(struct conn *c, uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
reply(struct conn *c, uint64_t seq, const char *fmt, ...)
{
	struct klog_buf *buf = reply_buf(c, seq);
	char tmp[512];
	size_t cap0;
	va_list ap;
	int n;

	if (!buf) {
		c->closing = 1;
		return;
	}
	cap0 = buf->cap;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || klog_buf_append(buf, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1) < 0)
		c->closing = 1;
	reply_done(c, buf, cap0);
}

static void
reply_err(struct conn *c, const char *code, const char *msg)
{
	struct klog_buf *buf = reply_buf(c, 0);
	size_t cap0;

	if (!buf) {
		c->closing = 1;
		return;
	}
	cap0 = buf->cap;
	if (klog_proto_err(buf, code, msg) < 0)
		c->closing = 1;
	reply_done(c, buf, cap0);
}

/* a whole prepared buffer as one item (taken over) */
static void
reply_take(struct conn *c, struct klog_buf *data)
{
	struct oitem *it = item_new(c, O_MEM);

	if (!it) {
		klog_buf_free(data);
		c->closing = 1;
		return;
	}
	it->buf = *data;
	memset(data, 0, sizeof *data);
	c->out_mem += it->buf.cap;
	c->b->mem += it->buf.cap;
	item_push(c, it);
}

static int
out_full(struct conn *c)
{
	return c->out_mem + (size_t)c->out_items * 128 >= c->b->o.max_output;
}

static void
conn_set_write(struct conn *c, int on)
{
	struct klog_loop *l = c->b->loop;
	int has = klog_loop_mask(l, c->fd) & KLOG_WRITABLE;

	if (on && !has)
		klog_loop_add(l, c->fd, KLOG_WRITABLE, conn_event, c);
	else if (!on && has)
		klog_loop_del(l, c->fd, KLOG_WRITABLE);
}

static int
add_commit_wait(struct conn *c);

/* write what can be written; closes the connection when done closing */
static void
conn_flush(struct conn *c)
{
	struct klog_broker *b = c->b;
	struct iovec iov[64];
	int blocked = 0;

	while (c->head && !blocked) {
		struct oitem *it = c->head;
		if (it->kind == O_MEM) {
			struct msghdr mh;
			struct oitem *x;
			int n = 0;
			ssize_t w;
			if (it->seq > b->committed) {
				add_commit_wait(c);
				break;
			}
			for (x = it; x && x->kind == O_MEM && x->seq <= b->committed && n < 64; x = x->next) {
				iov[n].iov_base = x->buf.data + x->off;
				iov[n].iov_len = x->buf.len - x->off;
				n++;
			}
			memset(&mh, 0, sizeof mh);
			mh.msg_iov = iov;
			mh.msg_iovlen = (size_t)n;
			w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					blocked = 1;
					break;
				}
				conn_close(c);
				return;
			}
			b->bytes_out += (uint64_t)w;
			while (c->head && c->head->kind == O_MEM && w >= 0) {
				size_t left = c->head->buf.len - c->head->off;
				if ((size_t)w >= left && c->head->seq <= b->committed) {
					struct oitem *d = c->head;
					w -= (ssize_t)left;
					c->head = d->next;
					if (!c->head)
						c->tail = NULL;
					item_free(c, d);
					if (w == 0)
						break;
				} else {
					c->head->off += (size_t)w;
					blocked = 1;
					break;
				}
			}
		} else if (it->kind == O_FILE) {
			while (it->len > 0) {
				ssize_t w = sendfile(c->fd, it->fd, &it->pos, it->len);
				if (w < 0) {
					if (errno == EAGAIN || errno == EINTR) {
						blocked = 1;
						break;
					}
					conn_close(c);
					return;
				}
				if (w == 0) {   /* file shorter than promised: cannot recover the stream */
					blog(b, LOG_ERR, "connection %s: segment shrank under a fetch", c->peer);
					conn_close(c);
					return;
				}
				b->bytes_out += (uint64_t)w;
				it->len -= (size_t)w;
			}
			if (it->len == 0) {
				c->head = it->next;
				if (!c->head)
					c->tail = NULL;
				item_free(c, it);
			}
		} else
			break;  /* a pending fetch */
	}
	if (!c->head && c->closing) {
		conn_linger(c);
		return;
	}
	conn_set_write(c, blocked);
	if (c->paused && !c->resume && c->out_mem + (size_t)c->out_items * 128 < b->o.max_output / 2) {
		/* run its buffered requests at the top of the next turn */
		c->resume = 1;
		b->nresume++;
	}
}

/* connections whose head waits for the next group commit */
static int
add_commit_wait(struct conn *c)
{
	struct klog_broker *b = c->b;

	if (c->commit_wait)
		return 0;
	if (b->ncommit == b->ccommit) {
		size_t nc = b->ccommit ? b->ccommit * 2 : 64;
		struct conn **v = realloc(b->commitv, nc * sizeof *v);
		if (!v)
			return -1;
		b->commitv = v;
		b->ccommit = nc;
	}
	b->commitv[b->ncommit++] = c;
	c->commit_wait = 1;
	return 0;
}

/* --- fetch ------------------------------------------------------------ */

/* walk the batch headers of a slice: next offset and record count */
static int
slice_walk(int fd, int64_t pos, size_t len, int64_t *next, uint64_t *records)
{
	unsigned char h[KLOG_BATCH_OVERHEAD];
	int64_t end = pos + (int64_t)len;

	*records = 0;
	while (pos < end) {
		if (pread(fd, h, sizeof h, pos) != (ssize_t)sizeof h)
			return -1;
		*next = (int64_t)get64(h) + (int32_t)get32(h + 23) + 1;
		*records += get32(h + 57);
		pos += (int64_t)get32(h + 8) + KLOG_LOG_OVERHEAD;
	}
	return 0;
}

static void
waiter_unlink(struct oitem *it)
{
	if (it->wprev)
		it->wprev->wnext = it->wnext;
	else if (it->bp && it->bp->waiters == it)
		it->bp->waiters = it->wnext;
	if (it->wnext)
		it->wnext->wprev = it->wprev;
	it->wnext = it->wprev = NULL;
}

/* turn a pending fetch into its response; then flush if it was the head */
static void
fetch_resolve(struct oitem *it, struct klog_buf *hdr, int fd, int64_t pos, size_t len)
{
	struct conn *c = it->c;
	struct klog_broker *b = c->b;

	waiter_unlink(it);
	if (it->timer >= 0) {
		klog_loop_timer_del(b->loop, it->timer);
		it->timer = -1;
	}
	it->kind = O_MEM;
	it->bp = NULL;
	c->nfetch--;
	it->buf = *hdr;
	memset(hdr, 0, sizeof *hdr);
	c->out_mem += it->buf.cap;
	b->mem += it->buf.cap;
	if (fd >= 0 && len > 0) {
		struct oitem *f = item_new(c, O_FILE);
		if (!f || (f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
			blog(b, LOG_ERR, "connection %s: cannot queue fetch data: %s", c->peer,
			    strerror(errno));
			free(f);
			c->closing = 1;
			it->buf.len = 0;
		} else {
			f->pos = pos;
			f->len = len;
			f->next = it->next;
			it->next = f;
			if (c->tail == it)
				c->tail = f;
			c->out_items++;
		}
	}
	if (c->head == it)
		conn_flush(c);
}

static void
waiters_fail(struct bpart *bp, const char *code, const char *msg)
{
	while (bp->waiters) {
		struct oitem *it = bp->waiters;
		struct klog_buf h = { 0 };
		klog_proto_err(&h, code, msg);
		observe(it->c->b, KLOG_V_FETCH, it->t0, 1);
		fetch_resolve(it, &h, -1, 0, 0);
	}
}

static int64_t
fetch_timeout(struct klog_loop *l, void *data)
{
	struct oitem *it = data;

	it->timer = -1;
	fetch_try(it, 1);
	return -1;
}

/* answer a fetch if it can be (or must be: force) */
static void
fetch_try(struct oitem *it, int force)
{
	struct conn *c = it->c;
	struct klog_broker *b = c->b;
	struct bpart *bp = it->bp;
	struct klog_slice sl = { -1, 0, 0 };
	struct klog_buf h = { 0 };
	char err[KLOG_ERRLEN];
	int64_t next = it->offset;
	uint64_t recs = 0;

	if (it->offset > bp->log_end) {
		kerr(err, "offset %" PRId64 " is past the log end %" PRId64 " of '%s'", it->offset,
		    bp->log_end, klog_part_name(bp->p));
		klog_proto_err(&h, "OFFSET_OUT_OF_RANGE", err);
		goto fail;
	}
	if (it->offset < bp->log_end && klog_part_slice(bp->p, it->offset, it->max_bytes, &sl, err) < 0) {
		klog_proto_err(&h, errno == ERANGE ? "OFFSET_OUT_OF_RANGE" : "INTERNAL", err);
		if (errno != ERANGE)
			blog(b, LOG_ERR, "fetch: %s", err);
		goto fail;
	}
	if (sl.len < it->min_bytes && !force && !b->draining && klog_now_ms() < it->deadline) {
		if (!it->wprev && bp->waiters != it) {
			it->wnext = bp->waiters;
			if (bp->waiters)
				bp->waiters->wprev = it;
			bp->waiters = it;
		}
		if (it->timer < 0)
			it->timer = klog_loop_timer(b->loop, it->deadline - klog_now_ms(), fetch_timeout, it);
		return;
	}
	if (sl.len > 0 && slice_walk(sl.fd, sl.pos, sl.len, &next, &recs) < 0) {
		kerr_sys(err, "cannot read partition '%s'", klog_part_name(bp->p));
		klog_proto_err(&h, "INTERNAL", err);
		goto fail;
	}
	b->records_out += recs;
	if (klog_buf_printf(&h, "DATA %zu %" PRId64 " %" PRId64 "\n", sl.len, next, bp->log_end) < 0) {
		c->closing = 1;
		goto fail;
	}
	observe(b, KLOG_V_FETCH, it->t0, 0);
	fetch_resolve(it, &h, sl.fd, sl.pos, sl.len);
	return;
fail:
	observe(b, KLOG_V_FETCH, it->t0, 1);
	fetch_resolve(it, &h, -1, 0, 0);
}

/* --- commands --------------------------------------------------------- */

static int
parse_num(const char *s, int64_t min, int64_t max, int64_t *v)
{
	return klog_parse_i64(s, v) < 0 || *v < min || *v > max ? -1 : 0;
}

static const char *
code_for_errno(int e)
{
	switch (e) {
	case ENOENT: return "UNKNOWN_TOPIC";
	case EEXIST: return "TOPIC_EXISTS";
	case EINVAL: case ERANGE: case ENAMETOOLONG: return "INVALID";
	case EMSGSIZE: return "TOO_LARGE";
	case EILSEQ: return "CORRUPT_BATCH";
	default: return "INTERNAL";
	}
}

static void
cmd_produce(struct conn *c, struct klog_req *r, unsigned char *data, int64_t t0)
{
	struct klog_broker *b = c->b;
	const char *code = NULL;
	char err[KLOG_ERRLEN];
	struct bpart *bp;
	struct klog_batch bt;
	size_t off, len = (size_t)r->payload;
	int64_t acks, first, last;
	uint64_t recs = 0;

	if (!strcmp(r->argv[3], "all"))
		acks = -1;
	else if (parse_num(r->argv[3], -1, 1, &acks) < 0) {
		code = "BAD_REQUEST";
		kerr(err, "bad acks '%s' (0, 1 or all)", r->argv[3]);
		acks = 1;
		goto fail;
	}
	if (!(bp = part_get(b, r->argv[1], r->argv[2], &code, err)))
		goto fail;
	if (len == 0) {
		code = "CORRUPT_BATCH";
		kerr(err, "no batches in the payload");
		goto fail;
	}
	for (off = 0; off < len; off += klog_batch_size(&bt)) {
		int k = klog_batch_parse(data + off, len - off, &bt, err);
		if (k == 0) {
			kerr(err, "payload is not whole batches: %zu bytes left at byte %zu", len - off, off);
			code = "CORRUPT_BATCH";
			goto fail;
		}
		if (k < 0 || klog_batch_verify(data + off, &bt, err) < 0) {
			code = "CORRUPT_BATCH";
			goto fail;
		}
		recs += (uint64_t)bt.last_offset_delta + 1;
	}
	if (klog_part_append(bp->p, data, len, &first, &last, err) < 0) {
		code = code_for_errno(errno);
		if (!strcmp(code, "INTERNAL") || !strcmp(code, "UNKNOWN_TOPIC")) {
			code = "INTERNAL";
			blog(b, LOG_ERR, "produce: %s", err);
		}
		goto fail;
	}
	bp->log_end = last + 1;
	b->records_in += recs;
	b->batches_in++;
	if (!bp->dirty) {
		bp->dirty = 1;
		vec_add(&b->dirtyv, &b->ndirty, &b->cdirty, bp);
	}
	if (bp->waiters && !bp->grew) {
		bp->grew = 1;
		vec_add(&b->growv, &b->ngrow, &b->cgrow, bp);
	}
	observe(b, KLOG_V_PRODUCE, t0, 0);
	if (acks != 0)
		reply(c, b->o.fsync_policy == KLOG_FSYNC_ALWAYS ? b->committed + 1 : 0,
		    "OK %" PRId64 " %" PRId64 "\n", first, last);
	return;
fail:
	b->produce_errors++;
	observe(b, KLOG_V_PRODUCE, t0, 1);
	if (acks == 0) {
		blog(b, LOG_WARNING, "connection %s: produce (acks 0) failed, closing: %s %s",
		    c->peer, code, err);
		c->closing = 1;
		return;
	}
	reply_err(c, code, err);
}

static void
cmd_fetch(struct conn *c, struct klog_req *r, int64_t t0)
{
	struct klog_broker *b = c->b;
	const char *code = NULL;
	char err[KLOG_ERRLEN];
	struct bpart *bp;
	struct oitem *it;
	int64_t off, maxb, wait = 0, minb = 1;

	if (!(bp = part_get(b, r->argv[1], r->argv[2], &code, err)))
		goto fail;
	if (parse_num(r->argv[3], 0, INT64_MAX, &off) < 0 ||
	    parse_num(r->argv[4], 1, INT32_MAX, &maxb) < 0 ||
	    (r->argc > 5 && parse_num(r->argv[5], 0, 3600000, &wait) < 0) ||
	    (r->argc > 6 && parse_num(r->argv[6], 0, INT32_MAX, &minb) < 0)) {
		code = "BAD_REQUEST";
		kerr(err, "FETCH TOPIC PARTITION OFFSET MAX_BYTES [MAX_WAIT_MS [MIN_BYTES]]: bad number");
		goto fail;
	}
	if (!(it = item_new(c, O_FETCH))) {
		code = "INTERNAL";
		kerr_sys(err, "fetch");
		goto fail;
	}
	it->bp = bp;
	it->offset = off;
	it->max_bytes = (size_t)maxb;
	it->min_bytes = (size_t)minb;
	it->deadline = klog_now_ms() + wait;
	it->t0 = t0;
	c->nfetch++;
	item_push(c, it);
	fetch_try(it, wait == 0);
	return;
fail:
	observe(b, KLOG_V_FETCH, t0, 1);
	reply_err(c, code, err);
}

static void
reply_lines(struct conn *c, char **v, size_t n)
{
	struct klog_buf out = { 0 };
	size_t i;

	klog_buf_printf(&out, "OK %zu\n", n);
	for (i = 0; i < n; i++)
		klog_buf_printf(&out, "%s\n", v[i]);
	reply_take(c, &out);
}

static int
cmd_topics(struct conn *c, char *err, const char **code)
{
	char **names = NULL;
	size_t n = 0;

	if (klog_topic_list(c->b->d, &names, &n, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	reply_lines(c, names, n);
	klog_strv_free(names, n);
	return 0;
}

static int
cmd_describe(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct btopic *t = topic_get(c->b, r->argv[1], code, err);
	struct klog_buf out = { 0 }, body = { 0 };
	int i;

	if (!t)
		return -1;
	for (i = 0; i < t->np; i++) {
		struct klog_part_info pi;
		if (klog_part_info(t->parts[i]->p, &pi, err) < 0) {
			*code = "INTERNAL";
			klog_buf_free(&body);
			return -1;
		}
		klog_buf_printf(&body, "%s\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%" PRId64 "\n",
		    t->name, i, pi.log_start, pi.log_end, pi.segments, pi.bytes);
	}
	klog_buf_printf(&out, "OK %d\n", t->np);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	reply_take(c, &out);
	return 0;
}

static int
cmd_config(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_config cfg;
	struct klog_buf body = { 0 }, out = { 0 };
	size_t i, n = 0;

	if (!topic_get(c->b, r->argv[1], code, err))
		return -1;
	if (klog_topic_load(c->b->d, r->argv[1], &cfg, err) < 0 ||
	    klog_config_format(&cfg, &body) < 0) {
		*code = "INTERNAL";
		klog_buf_free(&body);
		return -1;
	}
	for (i = 0; i < body.len; i++)
		n += body.data[i] == '\n';
	if (body.len && body.data[body.len - 1] != '\n') {
		klog_buf_append(&body, "\n", 1);
		n++;
	}
	klog_buf_printf(&out, "OK %zu\n", n);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	reply_take(c, &out);
	return 0;
}

static int
cmd_create(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct btopic *t;
	int64_t np;

	if (klog_topic_name_check(r->argv[1], err) < 0) {
		*code = "INVALID";
		return -1;
	}
	if (parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	errno = 0;
	if (klog_topic_create(b->d, r->argv[1], (int)np, r->argv + 3, r->argc - 3, err) < 0) {
		*code = errno == EEXIST ? "TOPIC_EXISTS" : errno == 0 || errno == EINVAL ||
		    errno == ERANGE ? "INVALID" : "INTERNAL";
		return -1;
	}
	if ((t = topic_find(b, r->argv[1])))     /* stale: deleted behind our back */
		topic_free(b, t, 1);
	if (!topic_load(b, r->argv[1], err)) {
		*code = "INTERNAL";
		return -1;
	}
	blog(b, LOG_INFO, "created topic '%s' with %d partition%s", r->argv[1], (int)np,
	    np == 1 ? "" : "s");
	reply(c, 0, "OK\n");
	return 0;
}

static int
cmd_alter(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct klog_config cfg;
	struct btopic *t;
	int64_t np = 0;
	int i;

	if (!(t = topic_get(b, r->argv[1], code, err)))
		return -1;
	if (strcmp(r->argv[2], "-") && parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	errno = 0;
	if (klog_topic_alter(b->d, r->argv[1], (int)np, r->argv + 3, r->argc - 3, err) < 0) {
		*code = errno == ENOENT ? "UNKNOWN_TOPIC" : errno == 0 || errno == EINVAL ||
		    errno == ERANGE ? "INVALID" : "INTERNAL";
		return -1;
	}
	if (klog_topic_load(b->d, r->argv[1], &cfg, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	/* reopen so the partitions see the new configuration */
	for (i = 0; i < t->np; i++) {
		struct bpart *bp = t->parts[i];
		if (bp->dirty && klog_part_sync(bp->p, err) < 0)
			blog(b, LOG_ERR, "%s", err);
		klog_part_close(bp->p);
		bp->p = NULL;
		if (part_open(b, bp, err) < 0) {
			*code = "INTERNAL";
			blog(b, LOG_ERR, "alter: %s", err);
			return -1;
		}
	}
	if (topic_grow(b, t, cfg.partitions, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	reply(c, 0, "OK\n");
	return 0;
}

static int
cmd_delete(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct btopic *t;

	if (!(t = topic_get(b, r->argv[1], code, err)))
		return -1;
	topic_free(b, t, 1);
	errno = 0;
	if (klog_topic_delete(b->d, r->argv[1], err) < 0) {
		*code = errno == ENOENT ? "UNKNOWN_TOPIC" : "INTERNAL";
		return -1;
	}
	blog(b, LOG_INFO, "deleted topic '%s'", r->argv[1]);
	reply(c, 0, "OK\n");
	return 0;
}

static int
cmd_offsets(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct bpart *bp = part_get(c->b, r->argv[1], r->argv[2], code, err);
	struct klog_part_info pi;

	if (!bp)
		return -1;
	if (klog_part_info(bp->p, &pi, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	reply(c, 0, "OK %" PRId64 " %" PRId64 "\n", pi.log_start, pi.log_end);
	return 0;
}

static int
cmd_timeoffset(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct bpart *bp = part_get(c->b, r->argv[1], r->argv[2], code, err);
	int64_t ts, off;

	if (!bp)
		return -1;
	if (klog_parse_i64(r->argv[3], &ts) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad timestamp '%s'", r->argv[3]);
	}
	if (klog_part_offset_for_time(bp->p, ts, &off, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	reply(c, 0, "OK %" PRId64 "\n", off);
	return 0;
}

static void
stats_text(struct klog_broker *b, struct klog_buf *o)
{
	size_t h;
	int v, i, waiting = 0;
	struct conn *c;

	for (c = b->conns; c; c = c->next)
		waiting += c->nfetch;
	klog_buf_printf(o, "# HELP klog_up The broker is serving.\n# TYPE klog_up gauge\nklog_up 1\n");
	klog_buf_printf(o, "# HELP klog_connections Open client connections.\n"
	    "# TYPE klog_connections gauge\nklog_connections %d\n", b->nconns);
	klog_buf_printf(o, "# HELP klog_connections_total Connections accepted.\n"
	    "# TYPE klog_connections_total counter\nklog_connections_total %" PRIu64 "\n",
	    b->conns_total);
	klog_buf_printf(o, "# HELP klog_connections_rejected_total Connections refused (limit).\n"
	    "# TYPE klog_connections_rejected_total counter\nklog_connections_rejected_total %"
	    PRIu64 "\n", b->conns_rejected);
	klog_buf_printf(o, "# HELP klog_buffer_bytes Memory held by connection buffers.\n"
	    "# TYPE klog_buffer_bytes gauge\nklog_buffer_bytes %zu\n", b->mem);
	klog_buf_printf(o, "# HELP klog_fetches_waiting Long-poll fetches waiting for data.\n"
	    "# TYPE klog_fetches_waiting gauge\nklog_fetches_waiting %d\n", waiting);
#define COUNTER(name, help, val) klog_buf_printf(o, "# HELP " name " " help "\n# TYPE " name \
	" counter\n" name " %" PRIu64 "\n", (uint64_t)(val))
	COUNTER("klog_network_received_bytes_total", "Bytes read from clients.", b->bytes_in);
	COUNTER("klog_network_sent_bytes_total", "Bytes written to clients.", b->bytes_out);
	COUNTER("klog_records_in_total", "Records appended.", b->records_in);
	COUNTER("klog_batches_in_total", "Batches appended.", b->batches_in);
	COUNTER("klog_records_out_total", "Records sent by fetches.", b->records_out);
	COUNTER("klog_produce_errors_total", "Produce requests refused.", b->produce_errors);
	COUNTER("klog_fsyncs_total", "Partition fsyncs.", b->fsyncs);
	COUNTER("klog_fsync_errors_total", "Failed partition fsyncs.", b->fsync_errors);
	COUNTER("klog_group_commits_total", "Group commits.", b->committed);
#undef COUNTER
	klog_buf_printf(o, "# HELP klog_requests_total Requests by command.\n"
	    "# TYPE klog_requests_total counter\n");
	for (v = 1; v < KLOG_V_NVERBS; v++)
		klog_buf_printf(o, "klog_requests_total{command=\"%s\"} %" PRIu64 "\n",
		    klog_verb_name(v), b->vs[v].count);
	klog_buf_printf(o, "# HELP klog_request_errors_total Requests answered with ERR.\n"
	    "# TYPE klog_request_errors_total counter\n");
	for (v = 0; v < KLOG_V_NVERBS; v++)
		klog_buf_printf(o, "klog_request_errors_total{command=\"%s\"} %" PRIu64 "\n",
		    klog_verb_name(v), b->vs[v].errors);
	klog_buf_printf(o, "# HELP klog_request_duration_seconds Time from a whole request to its "
	    "queued response (fetch waits included).\n"
	    "# TYPE klog_request_duration_seconds histogram\n");
	for (v = 1; v < KLOG_V_NVERBS; v++) {
		const char *n = klog_verb_name(v);
		if (!b->vs[v].count)
			continue;
		for (i = 0; i < NBUCKETS; i++)
			klog_buf_printf(o, "klog_request_duration_seconds_bucket{command=\"%s\",le=\"%g\"} %"
			    PRIu64 "\n", n, buckets[i], b->vs[v].bucket[i]);
		klog_buf_printf(o, "klog_request_duration_seconds_bucket{command=\"%s\",le=\"+Inf\"} %"
		    PRIu64 "\n", n, b->vs[v].count);
		klog_buf_printf(o, "klog_request_duration_seconds_sum{command=\"%s\"} %.6f\n", n,
		    b->vs[v].sum);
		klog_buf_printf(o, "klog_request_duration_seconds_count{command=\"%s\"} %" PRIu64 "\n",
		    n, b->vs[v].count);
	}
	klog_buf_printf(o, "# HELP klog_partition_log_start_offset First offset.\n"
	    "# TYPE klog_partition_log_start_offset gauge\n"
	    "# HELP klog_partition_log_end_offset Next offset.\n"
	    "# TYPE klog_partition_log_end_offset gauge\n"
	    "# HELP klog_partition_bytes Bytes of segments.\n"
	    "# TYPE klog_partition_bytes gauge\n"
	    "# HELP klog_partition_segments Segments.\n"
	    "# TYPE klog_partition_segments gauge\n");
	for (h = 0; h < THASH; h++) {
		struct btopic *t;
		for (t = b->topics[h]; t; t = t->next)
			for (i = 0; i < t->np; i++) {
				struct klog_part_info pi;
				char e[KLOG_ERRLEN];
				if (klog_part_info(t->parts[i]->p, &pi, e) < 0)
					continue;
				klog_buf_printf(o, "klog_partition_log_start_offset{topic=\"%s\",partition=\"%d\"} %"
				    PRId64 "\n", t->name, i, pi.log_start);
				klog_buf_printf(o, "klog_partition_log_end_offset{topic=\"%s\",partition=\"%d\"} %"
				    PRId64 "\n", t->name, i, pi.log_end);
				klog_buf_printf(o, "klog_partition_bytes{topic=\"%s\",partition=\"%d\"} %" PRId64
				    "\n", t->name, i, pi.bytes);
				klog_buf_printf(o, "klog_partition_segments{topic=\"%s\",partition=\"%d\"} %d\n",
				    t->name, i, pi.segments);
			}
	}
}

static void
cmd_stats(struct conn *c)
{
	struct klog_buf body = { 0 }, out = { 0 };

	stats_text(c->b, &body);
	klog_buf_printf(&out, "DATA %zu\n", body.len);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	reply_take(c, &out);
}

static int
secret_ok(const char *want, const char *got)
{
	size_t i, n = strlen(want), m = strlen(got);
	unsigned char d = n != m;

	for (i = 0; i < n; i++)
		d |= (unsigned char)(want[i] ^ got[i < m ? i : 0]);
	return d == 0;
}

/* execute one whole request */
static void
execute(struct conn *c, struct klog_req *r, unsigned char *payload)
{
	struct klog_broker *b = c->b;
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN] = "";
	int64_t t0 = now_us();
	int rc = 0;

	if (!c->authed && r->verb != KLOG_V_AUTH && r->verb != KLOG_V_QUIT) {
		reply_err(c, "AUTH", "authentication required: AUTH SECRET");
		observe(b, r->verb, t0, 1);
		c->closing = 1;
		return;
	}
	switch (r->verb) {
	case KLOG_V_PING:
		if (r->argc > 1)
			reply(c, 0, "OK PONG %.200s\n", r->argv[1]);
		else
			reply(c, 0, "OK PONG\n");
		break;
	case KLOG_V_AUTH:
		if (b->o.secret && !secret_ok(b->o.secret, r->argv[1])) {
			blog(b, LOG_WARNING, "connection %s: authentication failed", c->peer);
			reply_err(c, "AUTH", "wrong secret");
			c->closing = 1;
			observe(b, r->verb, t0, 1);
			return;
		}
		c->authed = 1;
		reply(c, 0, "OK\n");
		break;
	case KLOG_V_QUIT:
		reply(c, 0, "OK BYE\n");
		c->closing = 1;
		break;
	case KLOG_V_TOPICS:
		rc = cmd_topics(c, err, &code);
		break;
	case KLOG_V_DESCRIBE:
		rc = cmd_describe(c, r, err, &code);
		break;
	case KLOG_V_CONFIG:
		rc = cmd_config(c, r, err, &code);
		break;
	case KLOG_V_CREATE:
		rc = cmd_create(c, r, err, &code);
		break;
	case KLOG_V_ALTER:
		rc = cmd_alter(c, r, err, &code);
		break;
	case KLOG_V_DELETE:
		rc = cmd_delete(c, r, err, &code);
		break;
	case KLOG_V_PRODUCE:
		cmd_produce(c, r, payload, t0);
		return;
	case KLOG_V_FETCH:
		cmd_fetch(c, r, t0);
		return;
	case KLOG_V_OFFSETS:
		rc = cmd_offsets(c, r, err, &code);
		break;
	case KLOG_V_TIMEOFFSET:
		rc = cmd_timeoffset(c, r, err, &code);
		break;
	case KLOG_V_STATS:
		cmd_stats(c);
		break;
	default:
		rc = -1;
		code = "UNKNOWN_COMMAND";
		kerr(err, "unknown command");
	}
	if (rc < 0)
		reply_err(c, code, err);
	observe(b, r->verb, t0, rc < 0);
}

/* --- connections ------------------------------------------------------ */

static void
in_account(struct conn *c, size_t cap0)
{
	c->b->mem += c->in.cap - cap0;
}

/* make room for `need` bytes of input past in.len; -1 if over the budget */
static int
in_reserve(struct conn *c, size_t need)
{
	struct klog_broker *b = c->b;
	size_t cap0 = c->in.cap, want;

	if (c->in_off > 0 && (c->in_off == c->in.len || c->in.len + need > c->in.cap)) {
		memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in.len + need <= c->in.cap)
		return 0;
	want = c->in.len + need;
	if (want > INBUF_STD && b->mem + (want - c->in.cap) > b->o.max_memory)
		return -1;
	if (klog_buf_reserve(&c->in, need) < 0)
		return -1;
	in_account(c, cap0);
	return 0;
}

/* run whole buffered requests */
static void
conn_process(struct conn *c)
{
	struct klog_broker *b = c->b;
	char err[KLOG_ERRLEN];

	while (c->fd >= 0 && !c->closing) {
		unsigned char *buf = c->in.data + c->in_off;
		size_t avail = c->in.len - c->in_off;
		struct klog_req *r = &c->req;

		if (out_full(c)) {
			c->paused = 1;
			klog_loop_del(b->loop, c->fd, KLOG_READABLE);
			break;
		}
		if (!c->have_req) {
			unsigned char *nl;
			size_t n = avail < KLOG_PROTO_MAX_LINE ? avail : KLOG_PROTO_MAX_LINE;
			int k;
			if (avail == 0)
				break;
			if (!(nl = memchr(buf, '\n', n))) {
				if (avail < KLOG_PROTO_MAX_LINE)
					break;
			}
			c->line.len = 0;
			if (klog_buf_append(&c->line, buf, nl ? (size_t)(nl - buf) + 1 : n) < 0) {
				c->closing = 1;
				break;
			}
			k = klog_proto_parse((char *)c->line.data, c->line.len, b->o.max_request, r, err);
			if (k == 0) {   /* cannot happen: the line is whole */
				c->closing = 1;
				break;
			}
			if (k < 0) {
				reply_err(c, r->code, err);
				observe(b, r->verb, now_us(), 1);
				if (r->fatal) {
					blog(b, LOG_NOTICE, "connection %s: %s %s; closing", c->peer,
					    r->code, err);
					c->closing = 1;
					break;
				}
				c->in_off += r->line_len;
				continue;
			}
			c->in_off += r->line_len;
			if (r->verb == KLOG_V_NONE)
				continue;
			c->have_req = 1;
			continue;
		}
		if ((int64_t)avail < r->payload) {
			if (in_reserve(c, (size_t)r->payload - avail) < 0) {
				reply_err(c, "BUSY", "broker buffer memory exhausted");
				blog(b, LOG_WARNING, "connection %s: buffer memory exhausted; closing",
				    c->peer);
				c->closing = 1;
			}
			break;
		}
		c->have_req = 0;
		execute(c, r, buf);
		c->in_off += (size_t)r->payload;
	}
	if (c->fd >= 0 && c->in_off == c->in.len) {
		c->in_off = c->in.len = 0;
		if (c->in.cap > INBUF_STD) {    /* a big payload is done: give it back */
			b->mem -= c->in.cap;
			klog_buf_free(&c->in);
		}
	}
	if (c->fd >= 0 && c->closing)
		klog_loop_del(b->loop, c->fd, KLOG_READABLE);
}

/*
 * Closing with unread input makes the kernel send a reset, which can
 * destroy the error line just sent.  So: shut down our side, discard what
 * the client still sends until it closes (at most 1 MiB or 2 s), then close.
 */
static void
conn_linger(struct conn *c)
{
	struct klog_broker *b = c->b;

	if (c->lingering)
		return;
	if (b->draining || c->eof || shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->lingering = 1;
	c->last_active = klog_now_ms();
	conn_set_write(c, 0);
	klog_loop_add(b->loop, c->fd, KLOG_READABLE, conn_event, c);
}

static void
conn_discard(struct conn *c)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(c->fd, buf, sizeof buf)) > 0) {
		c->discarded += (size_t)n;
		if (c->discarded > (1 << 20))
			break;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->discarded > (1 << 20))
		conn_close(c);
}

static void
conn_read(struct conn *c)
{
	struct klog_broker *b = c->b;
	int turns;

	if (c->lingering) {
		conn_discard(c);
		return;
	}

	for (turns = 0; turns < 16 && c->fd >= 0 && !c->closing && !c->paused; turns++) {
		size_t room;
		ssize_t n;
		if (c->in.cap == 0 && in_reserve(c, INBUF_MIN) < 0)
			goto busy;
		room = c->in.cap - c->in.len;
		/* a payload already has its room (in_reserve): do not double a big buffer */
		if (c->have_req && room > 0 &&
		    room >= (size_t)c->req.payload - (c->in.len - c->in_off))
			;
		else if (room < 4096 || (c->in_off == 0 && room < c->in.cap / 4)) {
			size_t grow = c->in.cap < INBUF_STD ? c->in.cap : 4096;
			if (in_reserve(c, grow) < 0)
				goto busy;
			room = c->in.cap - c->in.len;
		}
		n = read(c->fd, c->in.data + c->in.len, room);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(c);
			return;
		}
		if (n == 0) {
			/* the client is done sending: answer what it sent, then close */
			klog_loop_del(b->loop, c->fd, KLOG_READABLE);
			c->eof = 1;
			conn_process(c);
			c->closing = 1;
			break;
		}
		b->bytes_in += (uint64_t)n;
		c->in.len += (size_t)n;
		c->last_active = klog_now_ms();
		conn_process(c);
		if ((size_t)n < room)
			break;
	}
	if (c->fd >= 0)
		conn_flush(c);
	return;
busy:
	reply_err(c, "BUSY", "broker buffer memory exhausted");
	c->closing = 1;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE);
	conn_flush(c);
}

static void
conn_event(struct klog_loop *l, int fd, void *data, int mask)
{
	struct conn *c = data;

	if (mask & KLOG_READABLE)
		conn_read(c);
	else
		conn_flush(c);
}

static void
conn_want_read(struct conn *c)
{
	if (c->fd >= 0 && !c->closing && !c->paused && !c->eof && !c->b->draining)
		klog_loop_add(c->b->loop, c->fd, KLOG_READABLE, conn_event, c);
}

static void
conn_close(struct conn *c)
{
	struct klog_broker *b = c->b;
	size_t i;

	if (c->fd < 0)
		return;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE | KLOG_WRITABLE);
	close(c->fd);
	c->fd = -1;
	while (c->head) {
		struct oitem *it = c->head;
		c->head = it->next;
		item_free(c, it);
	}
	c->tail = NULL;
	b->mem -= c->in.cap;
	klog_buf_free(&c->in);
	klog_buf_free(&c->line);
	for (i = 0; i < b->ncommit; i++)
		if (b->commitv[i] == c)
			b->commitv[i] = NULL;
	b->nconns--;
	b->ndead++;
	/* freed by reap(): callers up the stack may still hold c */
}

/* free closed connections; only from the top of the loop */
static void
reap(struct klog_broker *b)
{
	struct conn *c, *n;

	if (!b->ndead)
		return;
	for (c = b->conns; c; c = n) {
		n = c->next;
		if (c->fd >= 0)
			continue;
		if (c->prev)
			c->prev->next = c->next;
		else
			b->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
	}
	b->ndead = 0;
}

static void on_accept(struct klog_loop *l, int fd, void *data, int mask);

static int64_t
resume_accept(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;

	if (b->lfd >= 0 && !b->draining)
		klog_loop_add(l, b->lfd, KLOG_READABLE, on_accept, b);
	return -1;
}

static void
on_accept(struct klog_loop *l, int fd, void *data, int mask)
{
	struct klog_broker *b = data;
	int i;

	for (i = 0; i < 64; i++) {
		char peer[64];
		struct conn *c;
		int cfd = klog_net_accept(fd, peer, sizeof peer);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: stop listening a moment rather than spin */
				blog(b, LOG_ERR, "accept: %s; pausing for 100 ms", strerror(errno));
				klog_loop_del(l, fd, KLOG_READABLE);
				klog_loop_timer(l, 100, resume_accept, b);
			} else if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
				blog(b, LOG_ERR, "accept: %s", strerror(errno));
			return;
		}
		if (b->nconns >= b->o.max_conns || cfd >= b->nfiles - 1) {
			static const char busy[] = "ERR BUSY too many connections\n";
			ssize_t w = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(cfd);
			b->conns_rejected++;
			continue;
		}
		klog_net_tune(cfd);
		if (!(c = calloc(1, sizeof *c))) {
			close(cfd);
			continue;
		}
		c->b = b;
		c->fd = cfd;
		snprintf(c->peer, sizeof c->peer, "%s", peer);
		c->authed = b->o.secret == NULL;
		c->last_active = klog_now_ms();
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->nconns++;
		b->conns_total++;
		if (klog_loop_add(l, cfd, KLOG_READABLE, conn_event, c) < 0)
			conn_close(c);
	}
}

/* --- the loop's hooks -------------------------------------------------- */

static void
sync_dirty(struct klog_broker *b, int all)
{
	char err[KLOG_ERRLEN];
	size_t i;

	for (i = 0; i < b->ndirty; i++) {
		struct bpart *bp = b->dirtyv[i];
		bp->dirty = 0;
		b->fsyncs++;
		if (klog_part_sync(bp->p, err) < 0) {
			b->fsync_errors++;
			blog(b, LOG_CRIT, "%s", err);
			all = -1;
		}
	}
	b->ndirty = 0;
	if (all < 0) {
		/* nothing waiting for this commit may be acknowledged */
		for (i = 0; i < b->ncommit; i++)
			if (b->commitv[i]) {
				b->commitv[i]->commit_wait = 0;
				conn_close(b->commitv[i]);
			}
		b->ncommit = 0;
	}
}

static void
before_sleep(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	size_t i, n;
	struct conn *c;

	b->turn++;
	/* connections whose output drained: run what they sent meanwhile */
	if (b->nresume) {
		b->nresume = 0;
		for (c = b->conns; c; c = c->next)
			if (c->resume && c->fd >= 0) {
				c->resume = 0;
				c->paused = 0;
				conn_process(c);
				if (c->fd >= 0 && !c->paused)
					conn_want_read(c);
				if (c->fd >= 0)
					conn_flush(c);
			}
	}
	/* wake fetches on partitions that grew; a wake may free others: rescan */
	for (i = 0; i < b->ngrow; i++) {
		struct bpart *bp = b->growv[i];
		struct oitem *it;
		bp->grew = 0;
again:
		for (it = bp->waiters; it; it = it->wnext)
			if (it->seen != b->turn) {
				it->seen = b->turn;
				fetch_try(it, 0);
				goto again;
			}
	}
	b->ngrow = 0;
	if (b->o.fsync_policy == KLOG_FSYNC_ALWAYS && (b->ndirty || b->ncommit)) {
		sync_dirty(b, 0);
		b->committed++;
	}
	n = b->ncommit;
	for (i = 0; i < n && i < b->ncommit; i++) {
		c = b->commitv[i];
		if (c) {
			c->commit_wait = 0;
			b->commitv[i] = NULL;
			conn_flush(c);
		}
	}
	/* flushes above may have queued new waiters: keep those */
	if (b->ncommit > n) {
		memmove(b->commitv, b->commitv + n, (b->ncommit - n) * sizeof *b->commitv);
		b->ncommit -= n;
	} else
		b->ncommit = 0;
	reap(b);
}

static int64_t
sync_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;

	sync_dirty(b, 0);
	return b->o.fsync_interval_ms;
}

static int64_t
idle_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct conn *c, *n;
	int64_t now = klog_now_ms();

	for (c = b->conns; c; c = n) {
		n = c->next;
		if (c->fd < 0)
			continue;
		if (c->lingering) {
			if (now - c->last_active > 2000)
				conn_close(c);
			continue;
		}
		if (b->o.idle_timeout_ms > 0 && !c->nfetch && !c->head &&
		    now - c->last_active > b->o.idle_timeout_ms) {
			blog(b, LOG_INFO, "connection %s: idle for %d s; closing", c->peer,
			    b->o.idle_timeout_ms / 1000);
			conn_close(c);
			continue;
		}
		/* give back an idle connection's buffer */
		if (now - c->last_active > 10000 && c->in_off == c->in.len && !c->have_req &&
		    c->in.cap) {
			b->mem -= c->in.cap;
			klog_buf_free(&c->in);
			c->in_off = 0;
		}
	}
	return 1000;
}

static void
on_signal(struct klog_loop *l, int fd, void *data, int mask)
{
	struct klog_broker *b = data;
	char buf[64];

	while (read(fd, buf, sizeof buf) > 0)
		;
	if (b->stop)
		klog_loop_stop(l);
}

/* --- life cycle ------------------------------------------------------- */

static int
pidfile_lock(struct klog_broker *b, char *err)
{
	char who[256];
	char path[4200];

	snprintf(path, sizeof path, "%s/kbrokerd.pid", b->dirpath);
	if ((b->pidfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create '%s'", path);
	if (flock(b->pidfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			klog_dir_broker(b->d, who, sizeof who);
			close(b->pidfd);
			b->pidfd = -1;
			errno = EBUSY;
			return kerr(err, "log directory '%s' is already served by kbrokerd (%s)",
			    b->dirpath, *who ? who : "starting");
		}
		errno = e;
		return kerr_sys(err, "cannot lock '%s'", path);
	}
	return 0;
}

static int
pidfile_write(struct klog_broker *b, char *err)
{
	char line[256];
	int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), b->addr);

	if (ftruncate(b->pidfd, 0) < 0 || pwrite(b->pidfd, line, (size_t)n, 0) != n)
		return kerr_sys(err, "cannot write '%s/kbrokerd.pid'", b->dirpath);
	return 0;
}

struct klog_broker *
klog_broker_open(const struct klog_broker_opts *o, char *err)
{
	struct klog_broker *b;
	char **names = NULL;
	size_t n = 0, i;

	if (!(b = calloc(1, sizeof *b))) {
		kerr_sys(err, "broker");
		return NULL;
	}
	b->o = *o;
	b->lfd = b->pidfd = -1;
	b->sigpipe[0] = b->sigpipe[1] = -1;
	b->idle_timer = b->sync_timer = -1;
	if (b->o.max_output < 65536)
		b->o.max_output = 65536;
	if (!(b->d = klog_dir_open(o->dir, 0, err)))
		goto fail;
	snprintf(b->dirpath, sizeof b->dirpath, "%s", o->dir);
	if (pidfile_lock(b, err) < 0)
		goto fail;
	/* open and recover every partition before listening */
	if (klog_topic_list(b->d, &names, &n, err) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (!topic_find(b, names[i]) && !topic_load(b, names[i], err)) {
			klog_strv_free(names, n);
			goto fail;
		}
	klog_strv_free(names, n);
	b->nfiles = o->max_conns + 64 + 16;
	{
		/* the loop indexes records by descriptor: partitions hold many */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			b->nfiles = rl.rlim_cur > 262144 ? 262144 : (int)rl.rlim_cur;
		else
			b->nfiles = 262144;
		if (b->nfiles < 1024)
			b->nfiles = 1024;
	}
	if (!(b->loop = klog_loop_new(b->nfiles, err)))
		goto fail;
	if (o->listen_fd >= 0) {
		int acc = 0;
		socklen_t sl = sizeof acc;
		b->lfd = o->listen_fd;
		if (getsockopt(b->lfd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc) {
			kerr(err, "descriptor %d (socket activation) is not a listening socket", b->lfd);
			goto fail;
		}
		klog_net_nonblock(b->lfd, 1);
	} else if ((b->lfd = klog_net_listen(o->listen ? o->listen : "127.0.0.1", 1024, err)) < 0)
		goto fail;
	if (klog_net_local(b->lfd, b->addr, sizeof b->addr) < 0)
		snprintf(b->addr, sizeof b->addr, "?");
	if (b->lfd >= b->nfiles) {
		errno = EMFILE;
		kerr(err, "listening socket descriptor %d is past the limit", b->lfd);
		goto fail;
	}
	if (pipe2(b->sigpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		kerr_sys(err, "pipe");
		goto fail;
	}
	if (klog_loop_add(b->loop, b->lfd, KLOG_READABLE, on_accept, b) < 0 ||
	    klog_loop_add(b->loop, b->sigpipe[0], KLOG_READABLE, on_signal, b) < 0) {
		kerr_sys(err, "event loop");
		goto fail;
	}
	klog_loop_before_sleep(b->loop, before_sleep, b);
	b->idle_timer = klog_loop_timer(b->loop, 1000, idle_timer, b);
	if (o->fsync_policy == KLOG_FSYNC_INTERVAL)
		b->sync_timer = klog_loop_timer(b->loop, o->fsync_interval_ms > 0 ?
		    o->fsync_interval_ms : 1000, sync_timer, b);
	if (pidfile_write(b, err) < 0)
		goto fail;
	return b;
fail:
	klog_broker_close(b);
	return NULL;
}

const char *
klog_broker_address(const struct klog_broker *b)
{
	return b->addr;
}

void
klog_broker_shutdown(struct klog_broker *b)
{
	int e = errno;
	ssize_t w;

	b->stop = 1;
	w = write(b->sigpipe[1], "x", 1);
	(void)w;
	errno = e;
}

int
klog_broker_run(struct klog_broker *b, char *err)
{
	struct conn *c, *n;
	size_t h;

	blog(b, LOG_INFO, "serving '%s' on %s", b->dirpath, b->addr);
	if (!b->stop && klog_loop_run(b->loop) < 0)
		return kerr_sys(err, "event loop");
	/* drain */
	blog(b, LOG_INFO, "shutting down: draining %d connection%s", b->nconns,
	    b->nconns == 1 ? "" : "s");
	b->draining = 1;
	klog_loop_del(b->loop, b->lfd, KLOG_READABLE);
	close(b->lfd);
	b->lfd = -1;
	for (c = b->conns; c; c = n) {
		struct oitem *it;
		n = c->next;
		if (c->fd < 0)
			continue;
		klog_loop_del(b->loop, c->fd, KLOG_READABLE);
		c->paused = 0;
		conn_process(c);
		while (c->fd >= 0) {
			for (it = c->head; it && it->kind != O_FETCH; it = it->next)
				;
			if (!it)
				break;
			fetch_try(it, 1);
		}
	}
	for (c = b->conns; c; c = n) {
		n = c->next;
		if (c->fd < 0)
			continue;
		c->closing = 1;
		conn_flush(c);
	}
	b->drain_deadline = klog_now_ms() + DRAIN_MS;
	reap(b);
	while (b->conns && klog_now_ms() < b->drain_deadline) {
		klog_loop_once(b->loop, 100);
		reap(b);
	}
	for (c = b->conns; c; c = c->next)
		conn_close(c);
	reap(b);
	sync_dirty(b, 0);
	for (h = 0; h < THASH; h++)
		while (b->topics[h]) {
			struct btopic *t = b->topics[h];
			b->topics[h] = t->next;
			topic_free(b, t, 0);
		}
	blog(b, LOG_INFO, "stopped");
	return 0;
}

void
klog_broker_close(struct klog_broker *b)
{
	size_t h;

	if (!b)
		return;
	for (struct conn *c = b->conns; c; c = c->next)
		conn_close(c);
	reap(b);
	for (h = 0; h < THASH; h++)
		while (b->topics[h]) {
			struct btopic *t = b->topics[h];
			b->topics[h] = t->next;
			topic_free(b, t, 0);
		}
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->sigpipe[0] >= 0) {
		close(b->sigpipe[0]);
		close(b->sigpipe[1]);
	}
	if (b->pidfd >= 0) {
		char path[4200];
		snprintf(path, sizeof path, "%s/kbrokerd.pid", b->dirpath);
		unlink(path);
		close(b->pidfd);
	}
	klog_loop_free(b->loop);
	klog_dir_close(b->d);
	free(b->dirtyv);
	free(b->growv);
	free(b->commitv);
	free(b);
}
