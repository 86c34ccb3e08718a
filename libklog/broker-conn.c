/* klog - kbrokerd: connections: accept, read, request framing, close. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
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
	struct klog_broker *b = c->b;

	b->mem += c->in.cap - cap0;
	if (b->mem > b->mem_high)
		b->mem_high = b->mem;
}

/*
 * Room to ask for while a payload arrives: what is missing, but at most
 * as much as is there (or INBUF_MIN), so the buffer grows with the bytes
 * received, not with the length a client announces and may never send.
 */
static size_t
payload_step(struct conn *c, size_t avail)
{
	size_t left = (size_t)c->req.payload - avail, step = avail > INBUF_MIN ? avail : INBUF_MIN;

	return left < step ? left : step;
}

/* after a request: a big input buffer goes back, what follows it moves to a
 * small one; the request line's copy too */
static void
in_shrink(struct conn *c)
{
	struct klog_broker *b = c->b;
	struct klog_buf nb = { 0 };
	size_t avail = c->in.len - c->in_off;

	if (!c->have_req && c->line.cap > LINEBUF_KEEP)
		klog_buf_free(&c->line);
	if (avail == 0) {
		c->in_off = c->in.len = 0;
		if (c->in.cap > INBUF_STD) {
			b->mem -= c->in.cap;
			klog_buf_free(&c->in);
		}
		return;
	}
	if (c->in.cap <= INBUF_STD || avail > INBUF_STD / 2 ||
	    (c->have_req && (size_t)c->req.payload > INBUF_STD / 2))
		return;
	if (klog_buf_reserve(&nb, avail > INBUF_MIN ? avail : INBUF_MIN) < 0)
		return;
	memcpy(nb.data, c->in.data + c->in_off, avail);
	nb.len = avail;
	b->mem -= c->in.cap;
	b->mem += nb.cap;
	klog_buf_free(&c->in);
	c->in = nb;
	c->in_off = 0;
}

/*
 * The request clock.  A request begins with its first byte (or, for its
 * payload, once its line is whole): it must then be whole, or bring
 * REQ_RATE_BYTES more payload, within request_timeout_ms.
 */
static void
req_clock(struct conn *c)
{
	int64_t t = c->b->o.request_timeout_ms;
	size_t avail = c->in.len - c->in_off;

	/* kept without a timeout too: shedding picks the slowest by it */
	if (c->fd < 0 || c->closing)
		return;
	if (!c->have_req && avail == 0) {
		c->req_due = 0;
		return;
	}
	if (!c->req_due || (c->have_req && avail >= c->req_mark + REQ_RATE_BYTES)) {
		c->req_due = klog_now_ms() + t;
		c->req_mark = avail;
	}
}

/* from the idle timer: close c if its request is late; 1 if closed */
int
kb_conn_expire(struct conn *c, int64_t now)
{
	struct klog_broker *b = c->b;
	int s = b->o.request_timeout_ms / 1000;

	if (b->o.request_timeout_ms <= 0 || !c->req_due || c->fd < 0 || c->lingering || c->closing ||
	    b->draining)
		return 0;
	if (c->paused) {        /* not read because of its output: not its slowness */
		c->req_due = now + b->o.request_timeout_ms;
		return 0;
	}
	if (now < c->req_due)
		return 0;
	if (c->have_req)
		kb_log(b, LOG_NOTICE, "connection %s: payload slower than %d KiB in %d s (%zu of %"
		    PRId64 " bytes); closing", c->peer, REQ_RATE_BYTES / 1024, s ? s : 1,
		    c->in.len - c->in_off, c->req.payload);
	else
		kb_log(b, LOG_NOTICE, "connection %s: request line not whole within %d s; closing",
		    c->peer, s ? s : 1);
	b->req_timeouts++;
	kb_conn_close(c);
	return 1;
}

/* from the idle timer: after a burst, give free memory back to the system */
void
kb_mem_trim(struct klog_broker *b)
{
	if (b->mem > b->mem_high)
		b->mem_high = b->mem;
	if (b->mem_high - b->mem < TRIM_DROP)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	b->trims++;
	b->mem_high = b->mem;
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
				c->req_due = 0;
				continue;
			}
			c->in_off += r->line_len;
			c->req_due = 0;
			if (r->verb == KLOG_V_NONE)
				continue;
			c->have_req = 1;
			continue;
		}
		if ((int64_t)avail < r->payload) {
			if (in_reserve(c, payload_step(c, avail)) < 0) {
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
		c->req_due = 0;
		kb_execute(c, r, buf);
		c->in_off += (size_t)r->payload;
	}
	if (c->fd >= 0) {
		in_shrink(c);
		req_clock(c);
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

/* --- sources and shedding -------------------------------------------- */

static unsigned
ip_hash(const char *h)
{
	return kb_hash(h) % IPHASH;
}

/* "ADDR:PORT" or "[V6]:PORT" -> "ADDR" or "[V6]" */
static void
ip_host(const char *peer, char *host, size_t n)
{
	const char *colon = strrchr(peer, ':');
	size_t k = colon ? (size_t)(colon - peer) : strlen(peer);

	if (k >= n)
		k = n - 1;
	memcpy(host, peer, k);
	host[k] = 0;
}

static struct kb_ip *
ip_find(struct klog_broker *b, const char *host)
{
	struct kb_ip *ip;

	for (ip = b->ips[ip_hash(host)]; ip; ip = ip->next)
		if (!strcmp(ip->host, host))
			return ip;
	return NULL;
}

static struct kb_ip *
ip_get(struct klog_broker *b, const char *host)
{
	struct kb_ip *ip = ip_find(b, host);
	unsigned h;

	if (ip)
		return ip;
	if (!(ip = calloc(1, sizeof *ip)))
		return NULL;
	snprintf(ip->host, sizeof ip->host, "%s", host);
	h = ip_hash(host);
	ip->next = b->ips[h];
	b->ips[h] = ip;
	return ip;
}

static void
ip_put(struct klog_broker *b, struct kb_ip *ip)
{
	struct kb_ip **pp;

	if (!ip || --ip->n > 0)
		return;
	for (pp = &b->ips[ip_hash(ip->host)]; *pp; pp = &(*pp)->next)
		if (*pp == ip) {
			*pp = ip->next;
			free(ip);
			return;
		}
}

/*
 * The table is full: close the connection idle longest (no request in
 * progress, no pending fetch, no unsent output), or else the one whose
 * request in progress last made progress longest ago.  0 if every
 * connection waits on a fetch or on its output: then the newcomer is
 * refused.
 */
static int
shed(struct klog_broker *b, const char *newcomer)
{
	static const char busy[] = "ERR BUSY connection closed to make room: the broker is full\n";
	struct conn *c, *idle = NULL, *slow = NULL;
	int64_t now = klog_now_ms();
	ssize_t w;

	for (c = b->conns; c; c = c->next) {
		if (c->fd < 0 || c->nfetch || c->head)
			continue;
		if (c->lingering || (!c->have_req && c->in_off == c->in.len)) {
			/* ties go to the older connection (the list runs newest first) */
			if (!idle || c->last_active <= idle->last_active)
				idle = c;
		} else if (c->req_due && !c->paused && (!slow || c->req_due <= slow->req_due))
			slow = c;
	}
	if (!(c = idle ? idle : slow))
		return 0;
	if (idle)
		kb_log(b, LOG_NOTICE, "connection %s: idle for %" PRId64 " s; closed to make room for %s",
		    c->peer, (now - c->last_active) / 1000, newcomer);
	else
		kb_log(b, LOG_NOTICE, "connection %s: slowest request in progress; closed to make room "
		    "for %s", c->peer, newcomer);
	if (!c->lingering) {
		w = send(c->fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	b->conns_shed++;
	kb_conn_close(c);
	return 1;
}

static void
refuse(struct klog_broker *b, int fd, const char *line)
{
	ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)w;
	close(fd);
	b->conns_rejected++;
}

void
kb_conn_close(struct conn *c)
{
	struct klog_broker *b = c->b;
	size_t i;

	if (c->fd < 0)
		return;
	kb_group_conn_closed(c);        /* its members are gone at once */
	kb_ctl_conn_closed(c);          /* a broker's session ends with it */
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
	ip_put(b, c->ip);
	c->ip = NULL;
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
		char peer[64], host[64], line[128];
		struct kb_ip *ip;
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
		ip_host(peer, host, sizeof host);
		ip = ip_find(b, host);
		if (cfd >= b->nfiles - 1) {
			refuse(b, cfd, "ERR BUSY too many connections\n");
			continue;
		}
		if (b->max_per_ip > 0 && ip && ip->n >= b->max_per_ip) {
			snprintf(line, sizeof line, "ERR BUSY too many connections from %s\n", host);
			refuse(b, cfd, line);
			continue;
		}
		if (b->nconns >= b->o.max_conns && !shed(b, peer)) {
			refuse(b, cfd, "ERR BUSY too many connections\n");
			continue;
		}
		klog_net_tune(cfd);
		if (!(ip = ip_get(b, host)) || !(c = calloc(1, sizeof *c))) {
			if (ip && !ip->n) {
				ip->n = 1;
				ip_put(b, ip);
			}
			close(cfd);
			continue;
		}
		c->ip = ip;
		ip->n++;
		c->b = b;
		c->fd = cfd;
		snprintf(c->peer, sizeof c->peer, "%s", peer);
		c->authed = !b->secret_pad;
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

/* --- authentication --------------------------------------------------- */

/* a loopback address (or a unix socket): only this host can connect */
static int
is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return 0;
	if (ss.ss_family == AF_UNIX)
		return 1;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/*
 * At open, once the socket listens: no secret on a non-loopback address
 * unless insecure (EPERM); and the secret, zero-padded to the longest
 * request line, for kb_secret_ok.
 */
int
kb_listen_check(struct klog_broker *b, char *err)
{
	const char *s = b->o.secret;

	if (s && *s) {
		b->secret_len = strlen(s);
		if (b->secret_len > KLOG_PROTO_MAX_LINE - 8) {
			errno = EPERM;
			return kerr(err, "the secret is longer than %d bytes", KLOG_PROTO_MAX_LINE - 8);
		}
		if (!(b->secret_pad = calloc(1, KLOG_PROTO_MAX_LINE + 1)))
			return kerr_sys(err, "secret");
		memcpy(b->secret_pad, s, b->secret_len);
		return 0;
	}
	if (is_loopback(b->lfd))
		return 0;
	if (!b->o.insecure) {
		errno = EPERM;
		return kerr(err, "listening on %s, not a loopback address, without a secret: give one "
		    "(-s FILE, $KLOG_SECRET or the credential kbrokerd.secret) or pass --insecure",
		    b->addr);
	}
	kb_log(b, LOG_WARNING, "listening on %s, not a loopback address, WITHOUT A SECRET "
	    "(--insecure): anyone who can reach it can read, write and delete every topic", b->addr);
	return 0;
}

/*
 * AUTH: constant time in the secret.  Every byte the client sent is
 * compared with the zero-padded secret (the loop runs over the client's
 * length, which the client knows), the lengths are compared without a
 * branch, and nothing exits early.
 */
int
kb_secret_ok(struct klog_broker *b, const char *got)
{
	size_t i, m = strnlen(got, KLOG_PROTO_MAX_LINE);
	uint64_t x = (uint64_t)(m ^ b->secret_len);
	unsigned char d = 0;

	if (!b->secret_pad)
		return 1;
	for (i = 0; i < m; i++)
		d |= (unsigned char)((unsigned char)got[i] ^ b->secret_pad[i]);
	d |= (unsigned char)((x | (0 - x)) >> 63);
	return d == 0;
}
