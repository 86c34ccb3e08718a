/* klog - kbrokerd: per-connection output queues and flushing. MIT licence. */
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

#include "broker.h"

/* --- output queue ----------------------------------------------------- */

struct oitem *
kb_item_new(struct conn *c, int kind)
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

void
kb_item_push(struct conn *c, struct oitem *it)
{
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->out_items++;
}

void
kb_item_free(struct conn *c, struct oitem *it)
{
	struct klog_broker *b = c->b;

	if (it->kind == O_FILE) {
		if (it->sf)
			kb_sfile_put(it->sf);
		c->out_file -= it->len;
		c->out_files--;
	}
	if (it->kind == O_FETCH) {
		if (it->timer >= 0)
			klog_loop_timer_del(b->loop, it->timer);
		kb_waiter_unlink(it);
		c->nfetch--;
		b->nfetch--;
	}
	if (it->abp)
		kb_part_put(b, it->abp);
	c->out_mem -= it->buf.cap;
	b->mem -= it->buf.cap;
	klog_buf_free(&it->buf);
	c->out_items--;
	free(it);
}

/* a memory reply buffer to append to: the tail if it can take it (never
 * an acknowledgement, which goes out, or turns into an error, on its own) */
static struct klog_buf *
reply_buf(struct conn *c)
{
	struct oitem *it = c->tail;

	if (!it || it->kind != O_MEM || it->abp || it->buf.len > MEMITEM_MAX) {
		if (!(it = kb_item_new(c, O_MEM)))
			return NULL;
		kb_item_push(c, it);
	}
	return &it->buf;
}

/* account for growth of a kb_reply buffer's capacity */
static void
reply_done(struct conn *c, struct klog_buf *buf, size_t cap0)
{
	c->out_mem += buf->cap - cap0;
	c->b->mem += buf->cap - cap0;
}

void
kb_reply(struct conn *c, const char *fmt, ...)
{
	struct klog_buf *buf = reply_buf(c);
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

void
kb_reply_err(struct conn *c, const char *code, const char *msg)
{
	struct klog_buf *buf = reply_buf(c);
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

/*
 * "OK FIRST LAST" for a produce.  Under --fsync always it waits in the
 * queue (and holds back what follows it) until the partition is durable
 * past LAST; if the partition fails or goes away first it becomes an error.
 */
void
kb_reply_ack(struct conn *c, struct bpart *bp, int64_t first, int64_t last, int all)
{
	struct klog_broker *b = c->b;
	struct oitem *it = kb_item_new(c, O_MEM);

	if (!it || klog_buf_printf(&it->buf, "OK %" PRId64 " %" PRId64 "\n", first, last) < 0) {
		if (it)
			klog_buf_free(&it->buf);
		free(it);
		c->closing = 1;
		return;
	}
	if ((b->o.fsync_policy == KLOG_FSYNC_ALWAYS && bp->durable <= last) ||
	    (all && bp->r && kb_repl_hw(bp) <= last)) {
		it->acks_all = all && bp->r;
		it->abp = bp;
		it->need = last + 1;
		bp->refs++;
	}
	c->out_mem += it->buf.cap;
	b->mem += it->buf.cap;
	kb_item_push(c, it);
}

/* may this memory item go out?  An acknowledgement whose partition can no
 * longer become durable is turned into the error that says why */
static int
item_ready(struct klog_broker *b, struct oitem *it)
{
	struct bpart *bp = it->abp;
	const char *why, *code = "STORAGE_ERROR";
	char msg[KLOG_ERRLEN];
	size_t cap0;

	if (!bp)
		return 1;
	if (it->acks_all) {
		/* replicated, acks=all: the high watermark (every ISR member has
		 * it, each under its fsync policy) covers the batch */
		switch (kb_repl_ack_ready(bp, it->need, &code, msg, sizeof msg)) {
		case 1:
			goto ready;
		case -1:
			goto refuse;
		}
	} else if (bp->durable >= it->need)
		goto ready;
	if (bp->deleted) {
		code = "UNKNOWN_TOPIC";
		why = "the topic was deleted before the batch was synced";
	} else if (!bp->p)
		why = bp->offline ? bp->offline : "the partition is offline";
	else if (!(why = klog_part_failed(bp->p)))
		return 0;
	snprintf(msg, sizeof msg, "%s", why);
refuse:
	cap0 = it->buf.cap;
	it->buf.len = 0;
	klog_proto_err(&it->buf, code, msg);
	it->c->out_mem += it->buf.cap - cap0;
	b->mem += it->buf.cap - cap0;
ready:
	it->abp = NULL;
	kb_part_put(b, bp);
	return 1;
}

/* a whole prepared buffer as one item (taken over) */
void
kb_reply_take(struct conn *c, struct klog_buf *data)
{
	struct oitem *it = kb_item_new(c, O_MEM);

	if (!it) {
		klog_buf_free(data);
		c->closing = 1;
		return;
	}
	it->buf = *data;
	memset(data, 0, sizeof *data);
	c->out_mem += it->buf.cap;
	c->b->mem += it->buf.cap;
	kb_item_push(c, it);
}

/* what a connection's queue holds: memory, file ranges still to send
 * (a non-reading client must not make the broker read and check its
 * fetches' data without end), and a per-item overhead */
size_t
kb_out_size(struct conn *c)
{
	return c->out_mem + c->out_file + (size_t)c->out_items * 128;
}

int
kb_out_full(struct conn *c)
{
	return kb_out_size(c) >= c->b->o.max_output || c->out_files >= OUT_FILES_MAX;
}

void
kb_conn_set_write(struct conn *c, int on)
{
	struct klog_loop *l = c->b->loop;
	int has = klog_loop_mask(l, c->fd) & KLOG_WRITABLE;

	if (on && !has)
		klog_loop_add(l, c->fd, KLOG_WRITABLE, kb_conn_event, c);
	else if (!on && has)
		klog_loop_del(l, c->fd, KLOG_WRITABLE);
}

static int
add_commit_wait(struct conn *c);

/* write what can be written; closes the connection when done closing */
void
kb_conn_flush(struct conn *c)
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
			if (!item_ready(b, it)) {
				add_commit_wait(c);
				break;
			}
			for (x = it; x && x->kind == O_MEM && n < 64 && item_ready(b, x); x = x->next) {
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
				kb_conn_close(c);
				return;
			}
			b->bytes_out += (uint64_t)w;
			while (c->head && c->head->kind == O_MEM && w >= 0) {
				size_t left = c->head->buf.len - c->head->off;
				if ((size_t)w >= left && !c->head->abp) {
					struct oitem *d = c->head;
					w -= (ssize_t)left;
					c->head = d->next;
					if (!c->head)
						c->tail = NULL;
					kb_item_free(c, d);
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
					kb_conn_close(c);
					return;
				}
				if (w == 0) {   /* file shorter than promised: cannot recover the stream */
					kb_log(b, LOG_ERR, "connection %s: segment shrank under a fetch", c->peer);
					kb_conn_close(c);
					return;
				}
				b->bytes_out += (uint64_t)w;
				it->len -= (size_t)w;
				c->out_file -= (size_t)w;
			}
			if (it->len == 0) {
				c->head = it->next;
				if (!c->head)
					c->tail = NULL;
				kb_item_free(c, it);
			}
		} else
			break;  /* a pending fetch */
	}
	if (!c->head && c->closing) {
		kb_conn_linger(c);
		return;
	}
	kb_conn_set_write(c, blocked);
	if (c->paused && !c->resume && kb_out_size(c) < b->o.max_output / 2 &&
	    c->out_files < OUT_FILES_MAX / 2) {
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

/* a group commit is done: flush the connections whose heads waited for it */
void
kb_commit_waiters(struct klog_broker *b)
{
	size_t i, n = b->ncommit;
	struct conn *c;

	for (i = 0; i < n && i < b->ncommit; i++) {
		c = b->commitv[i];
		if (c) {
			c->commit_wait = 0;
			b->commitv[i] = NULL;
			kb_conn_flush(c);
		}
	}
	/* flushes above may have queued new waiters: keep those */
	if (b->ncommit > n) {
		memmove(b->commitv, b->commitv + n, (b->ncommit - n) * sizeof *b->commitv);
		b->ncommit -= n;
	} else
		b->ncommit = 0;
}
