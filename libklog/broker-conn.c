/* klog - kbrokerd: connections: accept, read, request framing, close. MIT licence. */
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

/*
 * Fairness: a connection executes at most EXEC_BUDGET requests a loop
 * turn; past that it stops reading and resumes at the top of the next
 * turn (which then does not block), so one client's pipeline cannot hold
 * the loop while others wait.  Not while draining: shutdown runs all.
 */
static int
exec_budget_spent(struct conn *c)
{
	struct klog_broker *b = c->b;

	if (b->draining)
		return 0;
	if (c->exec_turn != b->turn) {
		c->exec_turn = b->turn;
		c->nexec = 0;
	}
	if (c->nexec++ < EXEC_BUDGET)
		return 0;
	c->paused = 1;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE);
	if (!c->resume) {
		c->resume = 1;
		b->nresume++;
	}
	klog_loop_nowait(b->loop);
	return 1;
}

/* run whole buffered requests */
void
kb_conn_process(struct conn *c)
{
	struct klog_broker *b = c->b;
	char err[KLOG_ERRLEN];

	while (c->fd >= 0 && !c->closing) {
		unsigned char *buf = c->in.data + c->in_off;
		size_t avail = c->in.len - c->in_off;
		struct klog_req *r = &c->req;

		if (kb_out_full(c)) {
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
				kb_reply_err(c, r->code, err);
				kb_observe(b, r->verb, kb_now_us(), 1);
				if (r->fatal) {
					kb_log(b, LOG_NOTICE, "connection %s: %s %s; closing", c->peer,
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
				kb_reply_err(c, "BUSY", "broker buffer memory exhausted");
				kb_log(b, LOG_WARNING, "connection %s: buffer memory exhausted; closing",
				    c->peer);
				c->closing = 1;
			}
			break;
		}
		/* no partition can be opened now, or this turn's share is used */
		if (kb_slot_wait(c, r) || exec_budget_spent(c))
			break;
		c->have_req = 0;
		kb_execute(c, r, buf);
		c->in_off += (size_t)r->payload;
	}
	if (c->fd >= 0 && c->in_off == c->in.len) {
		c->in_off = c->in.len = 0;
		if (c->in.cap > INBUF_STD) {    /* a big payload is done: give it back */
			b->mem -= c->in.cap;
			klog_buf_free(&c->in);
		}
	}
	/* the client is done sending and all it sent has run */
	if (c->fd >= 0 && c->eof && !c->paused)
		c->closing = 1;
	if (c->fd >= 0 && c->closing)
		klog_loop_del(b->loop, c->fd, KLOG_READABLE);
}

/*
 * Closing with unread input makes the kernel send a reset, which can
 * destroy the error line just sent.  So: shut down our side, discard what
 * the client still sends until it closes (at most 1 MiB or 2 s), then close.
 */
void
kb_conn_linger(struct conn *c)
{
	struct klog_broker *b = c->b;

	if (c->lingering)
		return;
	if (b->draining || c->eof || shutdown(c->fd, SHUT_WR) < 0) {
		kb_conn_close(c);
		return;
	}
	c->lingering = 1;
	c->last_active = klog_now_ms();
	kb_conn_set_write(c, 0);
	klog_loop_add(b->loop, c->fd, KLOG_READABLE, kb_conn_event, c);
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
		kb_conn_close(c);
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
			kb_conn_close(c);
			return;
		}
		if (n == 0) {
			/* the client is done sending: answer what it sent, then close */
			klog_loop_del(b->loop, c->fd, KLOG_READABLE);
			c->eof = 1;
			kb_conn_process(c);     /* closing once all it sent has run */
			break;
		}
		b->bytes_in += (uint64_t)n;
		c->in.len += (size_t)n;
		c->last_active = klog_now_ms();
		kb_conn_process(c);
		if ((size_t)n < room)
			break;
	}
	if (c->fd >= 0)
		kb_conn_flush(c);
	return;
busy:
	kb_reply_err(c, "BUSY", "broker buffer memory exhausted");
	c->closing = 1;
	klog_loop_del(b->loop, c->fd, KLOG_READABLE);
	kb_conn_flush(c);
}

void
kb_conn_event(struct klog_loop *l, int fd, void *data, int mask)
{
	struct conn *c = data;

	if (mask & KLOG_READABLE)
		conn_read(c);
	else
		kb_conn_flush(c);
}

void
kb_conn_want_read(struct conn *c)
{
	if (c->fd >= 0 && !c->closing && !c->paused && !c->eof && !c->b->draining)
		klog_loop_add(c->b->loop, c->fd, KLOG_READABLE, kb_conn_event, c);
}

void
kb_conn_close(struct conn *c)
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
		kb_item_free(c, it);
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
	/* freed by kb_reap(): callers up the stack may still hold c */
}

/* free closed connections; only from the top of the loop */
void
kb_reap(struct klog_broker *b)
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

static int64_t
resume_accept(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;

	if (b->lfd >= 0 && !b->draining)
		klog_loop_add(l, b->lfd, KLOG_READABLE, kb_on_accept, b);
	return -1;
}

void
kb_on_accept(struct klog_loop *l, int fd, void *data, int mask)
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
				kb_log(b, LOG_ERR, "accept: %s; pausing for 100 ms", strerror(errno));
				klog_loop_del(l, fd, KLOG_READABLE);
				klog_loop_timer(l, 100, resume_accept, b);
			} else if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
				kb_log(b, LOG_ERR, "accept: %s", strerror(errno));
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
		if (klog_loop_add(l, cfd, KLOG_READABLE, kb_conn_event, c) < 0)
			kb_conn_close(c);
	}
}
