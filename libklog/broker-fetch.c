/* klog - kbrokerd: FETCH and long poll. MIT licence. */
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
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

/* --- fetch ------------------------------------------------------------ */

/*
 * A partition's waiting fetches are on one of two lists: waiters (parked
 * since its visible end last grew) and waking (to be checked again: the
 * end grew).  kb_wake moves the waiters to waking; the before-sleep hook
 * takes waking's head, tries it, and a fetch that still has too little
 * parks on waiters again: each waiter is checked once per growth, so a
 * wake is linear in the waiters, and at most WAKE_BUDGET are checked per
 * loop turn (the rest on the next turns, other clients served between).
 */
void
kb_waiter_unlink(struct oitem *it)
{
	if (it->wprev)
		it->wprev->wnext = it->wnext;
	else if (it->bp && it->bp->waiters == it)
		it->bp->waiters = it->wnext;
	else if (it->bp && it->bp->waking == it)
		it->bp->waking = it->wnext;
	if (it->wnext)
		it->wnext->wprev = it->wprev;
	it->wnext = it->wprev = NULL;
}

/* the visible end of bp grew: its waiters are to be checked again */
void
kb_waiters_move(struct bpart *bp)
{
	struct oitem *tail;

	if (!bp->waiters)
		return;
	for (tail = bp->waiters; tail->wnext; tail = tail->wnext)
		;
	tail->wnext = bp->waking;
	if (bp->waking)
		bp->waking->wprev = tail;
	bp->waking = bp->waiters;
	bp->waiters = NULL;
}

/* check at most budget of bp's waking fetches; returns how many it checked */
int
kb_waiters_check(struct bpart *bp, int budget)
{
	int n = 0;

	while (bp->waking && n < budget) {
		struct oitem *it = bp->waking;
		kb_waiter_unlink(it);
		n++;
		/* answers it or parks it on waiters again; a flush may close a
		 * connection and free its other fetches: they leave the list */
		kb_fetch_try(it, 0);
	}
	return n;
}

/*
 * File ranges hold a dup of the segment's descriptor (retention cannot pull
 * the file away from a response on its way out).  Fetches answered in one
 * turn from the same file share one dup: the last one made is kept (and
 * reused when fstat says it is the same file) until the turn ends.
 */
void
kb_sfile_put(struct sfile *sf)
{
	if (sf && --sf->refs == 0) {
		close(sf->fd);
		free(sf);
	}
}

void
kb_sfile_release(struct klog_broker *b)
{
	kb_sfile_put(b->sf_last);
	b->sf_last = NULL;
}

static struct sfile *
sfile_get(struct klog_broker *b, int fd)
{
	struct sfile *sf = b->sf_last;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (sf && sf->dev == st.st_dev && sf->ino == st.st_ino) {
		sf->refs++;
		return sf;
	}
	if (!(sf = calloc(1, sizeof *sf)))
		return NULL;
	if ((sf->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(sf);
		return NULL;
	}
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	sf->refs = 2;                   /* the caller's and the cache's */
	kb_sfile_release(b);
	b->sf_last = sf;
	return sf;
}

/* out of descriptors: the range into memory (at most 1 MiB), else -1 */
static int
range_copy(struct conn *c, struct klog_buf *buf, int fd, int64_t pos, size_t len)
{
	size_t cap0 = buf->cap, got = 0;

	if (len > (1 << 20) || klog_buf_reserve(buf, len) < 0)
		return -1;
	while (got < len) {
		ssize_t n = pread(fd, buf->data + buf->len + got, len - got, pos + (int64_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	buf->len += len;
	c->out_mem += buf->cap - cap0;
	c->b->mem += buf->cap - cap0;
	return 0;
}

/* turn a pending fetch into its response; then flush if it was the head */
static void
fetch_resolve(struct oitem *it, struct klog_buf *hdr, int fd, int64_t pos, size_t len)
{
	struct conn *c = it->c;
	struct klog_broker *b = c->b;

	kb_waiter_unlink(it);
	if (it->timer >= 0) {
		klog_loop_timer_del(b->loop, it->timer);
		it->timer = -1;
	}
	it->kind = O_MEM;
	it->bp = NULL;
	c->nfetch--;
	b->nfetch--;
	it->buf = *hdr;
	memset(hdr, 0, sizeof *hdr);
	c->out_mem += it->buf.cap;
	b->mem += it->buf.cap;
	if (fd >= 0 && len > 0) {
		struct oitem *f = kb_item_new(c, O_FILE);
		if (!f || !(f->sf = sfile_get(b, fd))) {
			free(f);
			if (range_copy(c, &it->buf, fd, pos, len) < 0) {
				kb_log(b, LOG_ERR, "connection %s: cannot queue fetch data: %s", c->peer,
				    strerror(errno));
				c->closing = 1;
				it->buf.len = 0;
			}
		} else {
			f->fd = f->sf->fd;
			f->pos = pos;
			f->len = len;
			c->out_file += len;
			c->out_files++;
			f->next = it->next;
			it->next = f;
			if (c->tail == it)
				c->tail = f;
			c->out_items++;
		}
	}
	if (c->head == it)
		kb_conn_flush(c);
}

void
kb_waiters_fail(struct bpart *bp, const char *code, const char *msg)
{
	while (bp->waiters || bp->waking) {
		struct oitem *it = bp->waiters ? bp->waiters : bp->waking;
		struct klog_buf h = { 0 };
		klog_proto_err(&h, code, msg);
		kb_observe(it->c->b, KLOG_V_FETCH, it->t0, 1);
		fetch_resolve(it, &h, -1, 0, 0);
	}
}

static int64_t
fetch_timeout(struct klog_loop *l, void *data)
{
	struct oitem *it = data;

	it->timer = -1;
	kb_fetch_try(it, 1);
	return -1;
}

/* answer a fetch if it can be (or must be: force) */
void
kb_fetch_try(struct oitem *it, int force)
{
	struct conn *c = it->c;
	struct klog_broker *b = c->b;
	struct bpart *bp = it->bp;
	struct klog_slice sl = { -1, 0, 0, 0, 0, -1 };
	struct klog_buf h = { 0 };
	const char *code;
	char err[KLOG_ERRLEN];
	int64_t next = it->offset, vis;

	if (kb_part_online(bp, &code, err) < 0) {
		klog_proto_err(&h, code, err);
		goto fail;
	}
	/* records past the visible end exist but are not durable yet: wait;
	 * unless the partition failed, when they never will be (REPAIR cuts them).
	 * A follower (RFETCH) sees what is written: its copy is what acks=all
	 * waits for; an observer (RFETCH node -1), like a consumer, the HW */
	if (it->rnode >= -1 && (!bp->r || bp->r->role != R_LEADER) && b->repl) {
		kerr(err, "partition '%s-%d': this broker is no longer its leader", bp->t->name,
		    bp->id);
		klog_proto_err(&h, "NOT_LEADER", err);
		goto fail;
	}
	vis = it->rnode >= 0 && !klog_part_failed(bp->p) ? bp->log_end : kb_visible_end(b, bp);
	if (it->offset > bp->log_end || (it->offset > vis && klog_part_failed(bp->p))) {
		kerr(err, "offset %" PRId64 " is past the log end %" PRId64 " of '%s'", it->offset,
		    vis, klog_part_name(bp->p));
		klog_proto_err(&h, "OFFSET_OUT_OF_RANGE", err);
		goto fail;
	}
	if (it->offset < vis && kpart_slice(bp->p, it->offset, it->max_bytes, vis, &sl, err) < 0) {
		code = errno == ERANGE ? "OFFSET_OUT_OF_RANGE" : errno == EILSEQ ? "CORRUPT_BATCH" :
		    "INTERNAL";
		klog_proto_err(&h, code, err);
		if (errno != ERANGE)
			kb_log(b, LOG_ERR, "fetch: %s", err);
		goto fail;
	}
	if (sl.len < it->min_bytes && !force && !b->draining && klog_now_ms() < it->deadline) {
		/* a fetch about to park the first time: within the limits? */
		if (it->timer < 0 && (c->nfetch > b->o.max_conn_fetches ||
		    b->nfetch > b->o.max_waiting_fetches)) {
			if (c->nfetch > b->o.max_conn_fetches)
				kerr(err, "too many waiting fetches on this connection (limit %d)",
				    b->o.max_conn_fetches);
			else
				kerr(err, "too many waiting fetches (limit %d)", b->o.max_waiting_fetches);
			klog_proto_err(&h, "BUSY", err);
			goto fail;
		}
		if (!it->wprev && bp->waiters != it && bp->waking != it) {
			it->wnext = bp->waiters;
			if (bp->waiters)
				bp->waiters->wprev = it;
			bp->waiters = it;
		}
		if (it->timer < 0)
			it->timer = klog_loop_timer(b->loop, it->deadline - klog_now_ms(), fetch_timeout, it);
		return;
	}
	if (sl.len > 0) {
		next = sl.next;
		b->records_out += (uint64_t)sl.records;
	}
	if ((it->rnode >= -1 ? klog_buf_printf(&h, "DATA %zu %" PRId64 " %" PRId64 " %" PRId64
	    "\n", sl.len, next, kb_repl_hw(bp), sl.len ? sl.base : (int64_t)-1) :
	    klog_buf_printf(&h, "DATA %zu %" PRId64 " %" PRId64 "\n", sl.len, next, vis)) < 0) {
		c->closing = 1;
		goto fail;
	}
	kb_observe(b, it->rnode >= -1 ? KLOG_V_RFETCH : KLOG_V_FETCH, it->t0, 0);
	fetch_resolve(it, &h, sl.fd, sl.pos, sl.len);
	return;
fail:
	kb_observe(b, it->rnode >= -1 ? KLOG_V_RFETCH : KLOG_V_FETCH, it->t0, 1);
	fetch_resolve(it, &h, -1, 0, 0);
}

void
kb_cmd_fetch(struct conn *c, struct klog_req *r, int64_t t0)
{
	struct klog_broker *b = c->b;
	const char *code = NULL;
	char err[KLOG_ERRLEN];
	struct bpart *bp;
	int64_t off, maxb, wait = 0, minb = 1;

	if (!(bp = kb_part_get(b, r->argv[1], r->argv[2], &code, err)) ||
	    kb_repl_leader_check(b, bp, &code, err) < 0)
		goto fail;
	if (kb_parse_num(r->argv[3], 0, INT64_MAX, &off) < 0 ||
	    kb_parse_num(r->argv[4], 1, INT32_MAX, &maxb) < 0 ||
	    (r->argc > 5 && kb_parse_num(r->argv[5], 0, 3600000, &wait) < 0) ||
	    (r->argc > 6 && kb_parse_num(r->argv[6], 0, INT32_MAX, &minb) < 0)) {
		code = "BAD_REQUEST";
		kerr(err, "FETCH TOPIC PARTITION OFFSET MAX_BYTES [MAX_WAIT_MS [MIN_BYTES]]: bad number");
		goto fail;
	}
	if (kb_fetch_queue(c, bp, off, (size_t)maxb, (int)wait, (size_t)minb, -2, t0) < 0) {
		code = "INTERNAL";
		kerr_sys(err, "fetch");
		goto fail;
	}
	return;
fail:
	kb_observe(b, KLOG_V_FETCH, t0, 1);
	kb_reply_err(c, code, err);
}

/* queue a fetch (rnode -2) or a replica's fetch (RFETCH: rnode its node,
 * -1 an observer) and answer it now if it can be, else park it */
int
kb_fetch_queue(struct conn *c, struct bpart *bp, int64_t off, size_t maxb, int wait,
    size_t minb, int rnode, int64_t t0)
{
	struct klog_broker *b = c->b;
	struct oitem *it;

	if (!(it = kb_item_new(c, O_FETCH)))
		return -1;
	it->rnode = rnode;
	it->bp = bp;
	it->offset = off;
	it->max_bytes = maxb;
	it->min_bytes = minb;
	it->deadline = klog_now_ms() + wait;
	it->t0 = t0;
	c->nfetch++;
	b->nfetch++;
	kb_item_push(c, it);
	kb_fetch_try(it, wait == 0);
	return 0;
}
