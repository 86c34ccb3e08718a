/* klog - a non-blocking client connection on the event loop. MIT licence. */
/*
 * The asynchronous twin of client.c, for code that already runs a
 * klog_loop (the broker's followers, kreplicate): one TCP connection to a
 * broker, connected without blocking, AUTH sent first when there is a
 * secret, requests pipelined, one callback per response in request order
 * (the protocol answers in order, proto.c).  A request says what it
 * expects: KLOG_LC_OK (one line) or KLOG_LC_LIST ("OK N" and N lines);
 * "DATA N ...\n<N bytes>" and "ERR CODE message" are recognised whatever
 * it expects.
 *
 * Life of a connection: CONNECTING (write interest until connect(2)
 * finishes), OPEN, then DEAD after a failure: connection refused or
 * reset, EOF, a response that is not the protocol, one over the memory
 * bound, no byte for the idle timeout while requests wait.  On death
 * every pending callback gets KLOG_LC_CLOSED with code "NETWORK" and the
 * reason in line (klog_lc_error keeps it); the object stays until its
 * owner calls klog_lc_close, which reconnecting is left to.
 * klog_lc_close delivers KLOG_LC_CLOSED with code "CLOSED" to what is
 * still pending, then frees; called from inside a callback it only marks
 * the connection, which is freed when the callback returns.
 *
 * The name in "HOST:PORT" is resolved with getaddrinfo, which blocks:
 * numeric addresses (what METADATA gives) and /etc/hosts names cost
 * nothing, a DNS name costs a lookup in klog_lc_open.
 *
 * Memory: the reply's line and data point into the input buffer and are
 * valid during the callback only.  A DATA body or a list over max_data
 * bytes (default 64 MiB) kills the connection instead of growing the
 * buffer without end.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define LC_MAX_DATA ((size_t)64 << 20)
#define LC_CONNECT_MS 10000

enum { LC_CONNECTING, LC_OPEN, LC_DEAD };

struct lreq {
	int expect;
	klog_lc_fn *cb;                 /* NULL: the internal AUTH */
	void *arg;
};

struct klog_lc {
	struct klog_loop *loop;
	int fd;
	int state;
	char addr[256];
	char errmsg[KLOG_ERRLEN];
	struct klog_buf in, out;
	size_t ioff, ooff;
	struct lreq *q;                 /* ring of pending requests */
	size_t qcap, qhead, qlen;
	/* the response at the head, partly scanned (LIST) */
	size_t scan;                    /* bytes of it scanned, from ioff */
	int64_t lines_seen;
	size_t max_data;
	int in_cb;                      /* depth of callbacks running */
	int closing;                    /* klog_lc_close from inside a callback */
	int64_t timer;                  /* connect or idle timer, 0 none */
	int idle_ms;                    /* 0: no idle timeout */
	int64_t last_rx;                /* monotonic ms of the last byte read */
	int connect_errno;              /* connect(2) failed at once: reported by the timer */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lc_free(struct klog_lc *lc);
static void on_io(struct klog_loop *l, int fd, void *data, int mask);

/* deliver CLOSED to every pending callback; code says who closed */
static void
drain(struct klog_lc *lc, const char *code)
{
	struct klog_lc_reply r;

	lc->in_cb++;
	while (lc->qlen > 0) {
		struct lreq rq = lc->q[lc->qhead];
		lc->qhead = (lc->qhead + 1) % lc->qcap;
		lc->qlen--;
		if (!rq.cb)
			continue;
		memset(&r, 0, sizeof r);
		r.kind = KLOG_LC_CLOSED;
		r.line = lc->errmsg;
		snprintf(r.code, sizeof r.code, "%s", code);
		rq.cb(lc, rq.arg, &r);
	}
	lc->in_cb--;
}

static void
drop_fd(struct klog_lc *lc)
{
	if (lc->timer) {
		klog_loop_timer_del(lc->loop, lc->timer);
		lc->timer = 0;
	}
	if (lc->fd >= 0) {
		klog_loop_del(lc->loop, lc->fd, KLOG_READABLE | KLOG_WRITABLE);
		close(lc->fd);
		lc->fd = -1;
	}
}

/* klog_lc_close was called inside a callback: once none runs, the rest
 * hear CLOSED and the memory goes.  1 if freed */
static int
finish(struct klog_lc *lc)
{
	if (!lc->closing || lc->in_cb)
		return 0;
	drain(lc, "CLOSED");
	lc_free(lc);
	return 1;
}

/* the connection is dead: say why to everyone waiting.  1 if it was freed
 * meanwhile (a callback closed it and no callback is running above us) */
static int
fail(struct klog_lc *lc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct klog_lc *lc, const char *fmt, ...)
{
	va_list ap;

	if (lc->state == LC_DEAD)
		return 0;
	va_start(ap, fmt);
	vsnprintf(lc->errmsg, sizeof lc->errmsg, fmt, ap);
	va_end(ap);
	lc->state = LC_DEAD;
	drop_fd(lc);
	drain(lc, "NETWORK");
	return finish(lc);
}

static void
want_write(struct klog_lc *lc, int on)
{
	if (lc->fd < 0)
		return;
	if (on)
		klog_loop_add(lc->loop, lc->fd, KLOG_WRITABLE, on_io, lc);
	else
		klog_loop_del(lc->loop, lc->fd, KLOG_WRITABLE);
}

/* write what is queued; -1 on a dead connection (already failed) */
static int
flush(struct klog_lc *lc)
{
	while (lc->ooff < lc->out.len) {
		ssize_t w = send(lc->fd, lc->out.data + lc->ooff, lc->out.len - lc->ooff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0) {
			fail(lc, "broker '%s': %s", lc->addr, strerror(errno));
			return -1;
		}
		lc->ooff += (size_t)w;
	}
	lc->ooff = lc->out.len = 0;
	want_write(lc, 0);
	return 0;
}

/*
 * Is the response at the head of the input whole?  1: yes, *used bytes of
 * it; 0: more needed; -1: not the protocol (errmsg set).  Nothing is cut
 * until it is whole.
 */
static int
peek(struct klog_lc *lc, int expect, size_t *used)
{
	const char *s = (const char *)lc->in.data + lc->ioff;
	size_t avail = lc->in.len - lc->ioff, ll;
	const char *nl = avail ? memchr(s, '\n', avail) : NULL;
	char head[64];
	int64_t n;

	if (!nl) {
		if (avail > KLOG_PROTO_MAX_LINE) {
			snprintf(lc->errmsg, sizeof lc->errmsg, "broker '%s': response line too long",
			    lc->addr);
			return -1;
		}
		return 0;
	}
	ll = (size_t)(nl - s) + 1;
	snprintf(head, sizeof head, "%.*s", (int)(ll - 1 < sizeof head - 1 ? ll - 1 : sizeof head - 1),
	    s);
	if (!strncmp(head, "ERR", 3) && (head[3] == ' ' || head[3] == '\r' || !head[3])) {
		*used = ll;
		return 1;
	}
	if (!strncmp(head, "DATA ", 5)) {
		char *end;
		errno = 0;
		n = strtoll(head + 5, &end, 10);
		if (errno || n < 0 || end == head + 5 || (*end && *end != ' ' && *end != '\r'))
			goto bad;
		if ((uint64_t)n > lc->max_data) {
			snprintf(lc->errmsg, sizeof lc->errmsg,
			    "broker '%s': a response of %lld bytes is over the limit of %zu",
			    lc->addr, (long long)n, lc->max_data);
			return -1;
		}
		if (avail - ll < (size_t)n)
			return 0;
		*used = ll + (size_t)n;
		return 1;
	}
	if (strncmp(head, "OK", 2) || (head[2] != ' ' && head[2] != '\r' && head[2]))
		goto bad;
	if (expect != KLOG_LC_LIST) {
		*used = ll;
		return 1;
	}
	{
		char *end;
		const char *p = head + 2;
		while (*p == ' ')
			p++;
		errno = 0;
		n = strtoll(p, &end, 10);
		if (errno || n < 0 || end == p || (*end && *end != ' ' && *end != '\r'))
			goto bad;
	}
	if (lc->scan < ll) {
		lc->scan = ll;
		lc->lines_seen = 0;
	}
	while (lc->lines_seen < n) {
		const char *e = memchr(s + lc->scan, '\n', avail - lc->scan);
		if (!e) {
			if (avail > lc->max_data) {
				snprintf(lc->errmsg, sizeof lc->errmsg,
				    "broker '%s': a list over the limit of %zu bytes", lc->addr,
				    lc->max_data);
				return -1;
			}
			return 0;
		}
		lc->scan = (size_t)(e - s) + 1;
		lc->lines_seen++;
	}
	*used = lc->scan;
	return 1;
bad:
	snprintf(lc->errmsg, sizeof lc->errmsg, "broker '%s': unexpected response '%.40s'",
	    lc->addr, head);
	return -1;
}

/* hand over every whole response; 1 if lc was freed */
static int
dispatch(struct klog_lc *lc)
{
	while (lc->qlen > 0 && lc->state == LC_OPEN && !lc->closing) {
		struct lreq rq = lc->q[lc->qhead];
		struct klog_lc_reply r;
		struct klog_reply pr;
		size_t used = 0;
		char *line, *nl;
		int rc = peek(lc, rq.expect, &used);

		if (rc == 0)
			return 0;
		if (rc < 0) {
			char why[KLOG_ERRLEN];
			snprintf(why, sizeof why, "%s", lc->errmsg);
			return fail(lc, "%s", why);
		}
		line = (char *)lc->in.data + lc->ioff;
		nl = memchr(line, '\n', used);
		*nl = 0;
		memset(&r, 0, sizeof r);
		if (klog_proto_reply(line, &pr) < 0)
			return fail(lc, "broker '%s': unexpected response", lc->addr);
		if (pr.kind == KLOG_REPLY_ERR) {
			r.kind = KLOG_LC_ERR;
			snprintf(r.code, sizeof r.code, "%s", pr.code);
			r.line = pr.msg;
		} else {
			/* the words after OK (after DATA N, after OK N for a list) */
			char *w = line + 2;
			int skip = 0;
			if (pr.kind == KLOG_REPLY_DATA) {
				r.kind = KLOG_LC_DATA;
				w = line + 4;
				skip = 1;
			} else if (rq.expect == KLOG_LC_LIST) {
				r.kind = KLOG_LC_LIST;
				skip = 1;
			} else
				r.kind = KLOG_LC_OK;
			/* klog_proto_reply cut the words with NULs: walk them back */
			r.line = w;
			if (pr.argc > skip) {
				char *lend = pr.argv[pr.argc - 1] + strlen(pr.argv[pr.argc - 1]);
				char *p;
				r.line = pr.argv[skip];
				for (p = r.line; p < lend; p++)
					if (!*p)
						*p = ' ';
			} else
				r.line = nl;    /* "" */
			if (r.kind == KLOG_LC_DATA) {
				r.data = (unsigned char *)nl + 1;
				r.len = (size_t)pr.len;
			} else if (r.kind == KLOG_LC_LIST) {
				int64_t n = 0;
				klog_parse_i64(pr.argv[0], &n);
				r.nlines = (size_t)n;
				r.data = (unsigned char *)nl + 1;
				r.len = n ? used - (size_t)(nl + 1 - line) - 1 : 0;
				if (n)
					r.data[r.len] = 0;      /* the last newline */
			}
		}
		lc->qhead = (lc->qhead + 1) % lc->qcap;
		lc->qlen--;
		lc->scan = 0;
		lc->lines_seen = 0;
		if (!rq.cb) {
			/* our AUTH */
			if (r.kind == KLOG_LC_ERR) {
				lc->ioff += used;
				return fail(lc, "broker '%s': %s", lc->addr, *r.line ? r.line : r.code);
			}
		} else {
			lc->in_cb++;
			rq.cb(lc, rq.arg, &r);
			lc->in_cb--;
		}
		lc->ioff += used;
	}
	return finish(lc);
}

/* read once (level-triggered: the loop calls again while bytes wait); 1 if freed */
static int
do_read(struct klog_lc *lc)
{
	size_t want = 65536;
	ssize_t n;

	if (lc->ioff == lc->in.len)
		lc->ioff = lc->in.len = 0;
	else if (lc->ioff > 0 && (lc->ioff > lc->in.cap / 2 || lc->in.cap - lc->in.len < 4096)) {
		memmove(lc->in.data, lc->in.data + lc->ioff, lc->in.len - lc->ioff);
		lc->in.len -= lc->ioff;
		lc->ioff = 0;
	}
	if (klog_buf_reserve(&lc->in, want) < 0)
		return fail(lc, "broker '%s': %s", lc->addr, strerror(ENOMEM));
	do
		n = recv(lc->fd, lc->in.data + lc->in.len, lc->in.cap - lc->in.len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return fail(lc, "broker '%s': %s", lc->addr, strerror(errno));
	}
	if (n == 0)
		return fail(lc, "broker '%s': connection closed", lc->addr);
	lc->in.len += (size_t)n;
	lc->last_rx = mono_ms();
	if (lc->qlen == 0)
		return fail(lc, "broker '%s': a response nobody asked for", lc->addr);
	return dispatch(lc);
}

static int64_t
on_timer(struct klog_loop *l, void *data)
{
	struct klog_lc *lc = data;
	int64_t idle;

	if (lc->state == LC_CONNECTING) {
		lc->timer = 0;
		fail(lc, "cannot connect to broker '%s': %s", lc->addr,
		    strerror(lc->connect_errno ? lc->connect_errno : ETIMEDOUT));
		return -1;
	}
	if (lc->state != LC_OPEN || !lc->idle_ms) {
		lc->timer = 0;
		return -1;
	}
	idle = mono_ms() - lc->last_rx;
	if (lc->qlen > 0 && idle >= lc->idle_ms) {
		lc->timer = 0;
		fail(lc, "broker '%s': no answer for %d ms", lc->addr, lc->idle_ms);
		return -1;
	}
	return lc->qlen > 0 ? lc->idle_ms - idle : lc->idle_ms;
}

static void
on_io(struct klog_loop *l, int fd, void *data, int mask)
{
	struct klog_lc *lc = data;

	if (lc->fd != fd)
		return;
	if (lc->state == LC_CONNECTING) {
		int e = 0;
		socklen_t sl = sizeof e;
		struct sockaddr_storage ss;
		socklen_t pl = sizeof ss;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
		if (e) {
			fail(lc, "cannot connect to broker '%s': %s", lc->addr, strerror(e));
			return;
		}
		if (getpeername(fd, (struct sockaddr *)&ss, &pl) < 0)
			return;         /* not yet */
		lc->state = LC_OPEN;
		lc->last_rx = mono_ms();
		klog_net_tune(fd);
		if (lc->timer)
			klog_loop_timer_del(lc->loop, lc->timer);
		lc->timer = lc->idle_ms ? klog_loop_timer(lc->loop, lc->idle_ms, on_timer, lc) : 0;
		if (klog_loop_add(lc->loop, fd, KLOG_READABLE, on_io, lc) < 0) {
			fail(lc, "broker '%s': %s", lc->addr, strerror(errno));
			return;
		}
		if (lc->out.len == lc->ooff)
			want_write(lc, 0);
		mask |= KLOG_WRITABLE;
	}
	if (lc->state != LC_OPEN)
		return;
	if (mask & KLOG_WRITABLE && lc->out.len > lc->ooff && flush(lc) < 0)
		return;
	if (mask & KLOG_READABLE)
		do_read(lc);
}

static void
lc_free(struct klog_lc *lc)
{
	drop_fd(lc);
	klog_buf_free(&lc->in);
	klog_buf_free(&lc->out);
	free(lc->q);
	free(lc);
}

static int
push(struct klog_lc *lc, int expect, klog_lc_fn *cb, void *arg)
{
	if (lc->qlen == lc->qcap) {
		size_t n = lc->qcap ? lc->qcap * 2 : 16, i;
		struct lreq *q = malloc(n * sizeof *q);
		if (!q)
			return -1;
		for (i = 0; i < lc->qlen; i++)
			q[i] = lc->q[(lc->qhead + i) % lc->qcap];
		free(lc->q);
		lc->q = q;
		lc->qcap = n;
		lc->qhead = 0;
	}
	lc->q[(lc->qhead + lc->qlen) % lc->qcap] = (struct lreq){ expect, cb, arg };
	lc->qlen++;
	return 0;
}

static int
queue(struct klog_lc *lc, int expect, const char *line, const void *payload, size_t plen,
    klog_lc_fn *cb, void *arg)
{
	size_t ll = strlen(line);
	int nl = !ll || line[ll - 1] != '\n';

	if (lc->qlen == 0)
		lc->last_rx = mono_ms();        /* the idle clock starts with a wait */
	if (klog_buf_reserve(&lc->out, ll + 1 + plen) < 0 || push(lc, expect, cb, arg) < 0) {
		errno = ENOMEM;
		return -1;
	}
	klog_buf_append(&lc->out, line, ll);
	if (nl)
		klog_buf_append(&lc->out, "\n", 1);
	if (plen)
		klog_buf_append(&lc->out, payload, plen);
	if (lc->state == LC_OPEN)
		want_write(lc, 1);
	return 0;
}

struct klog_lc *
klog_lc_open(struct klog_loop *l, const char *addr, const char *secret, char *err)
{
	struct klog_lc *lc;
	char host[256], port[16];
	struct addrinfo hints, *res = NULL;
	int rc;

	if (!(lc = calloc(1, sizeof *lc))) {
		kerr_sys(err, "client");
		return NULL;
	}
	lc->loop = l;
	lc->fd = -1;
	lc->max_data = LC_MAX_DATA;
	snprintf(lc->addr, sizeof lc->addr, "%s", addr ? addr : "");
	if (!addr || !*addr) {
		errno = EINVAL;
		kerr(err, "no broker address");
		goto fail;
	}
	if (secret && (!*secret || strpbrk(secret, " \t\r\n"))) {
		errno = EINVAL;
		kerr(err, "the secret must be one word");
		goto fail;
	}
	if (klog_net_split(addr, host, sizeof host, port, sizeof port, "127.0.0.1", err) < 0)
		goto fail;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		errno = rc == EAI_SYSTEM ? errno : ENOENT;
		kerr(err, "cannot resolve broker '%s': %s", addr, gai_strerror(rc));
		goto fail;
	}
	lc->fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    res->ai_protocol);
	if (lc->fd < 0) {
		kerr_sys(err, "broker '%s': socket", addr);
		goto fail;
	}
	lc->state = LC_CONNECTING;
	/* refused at once (loopback): the owner hears it from the loop, like
	 * any other failure, so that it has one path for all */
	if (connect(lc->fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)
		lc->connect_errno = errno;
	freeaddrinfo(res);
	res = NULL;
	if (!lc->connect_errno && klog_loop_add(l, lc->fd, KLOG_WRITABLE, on_io, lc) < 0) {
		kerr_sys(err, "broker '%s'", addr);
		goto fail;
	}
	if ((lc->timer = klog_loop_timer(l, lc->connect_errno ? 0 : LC_CONNECT_MS, on_timer,
	    lc)) < 0) {
		lc->timer = 0;
		errno = ENOMEM;
		kerr_sys(err, "broker '%s'", addr);
		goto fail;
	}
	if (secret) {
		char line[600];
		snprintf(line, sizeof line, "AUTH %s\n", secret);
		if (queue(lc, KLOG_LC_OK, line, NULL, 0, NULL, NULL) < 0) {
			kerr_sys(err, "broker '%s'", addr);
			goto fail;
		}
	}
	return lc;
fail:
	if (res)
		freeaddrinfo(res);
	lc_free(lc);
	return NULL;
}

int
klog_lc_send(struct klog_lc *lc, int expect, const char *line, const void *payload, size_t plen,
    klog_lc_fn *cb, void *arg)
{
	if (lc->state == LC_DEAD || lc->closing) {
		errno = EPIPE;
		return -1;
	}
	if (!cb || (expect != KLOG_LC_OK && expect != KLOG_LC_LIST)) {
		errno = EINVAL;
		return -1;
	}
	return queue(lc, expect, line, payload, plen, cb, arg);
}

void
klog_lc_close(struct klog_lc *lc)
{
	if (!lc || lc->closing)
		return;
	lc->closing = 1;
	if (lc->state != LC_DEAD) {
		snprintf(lc->errmsg, sizeof lc->errmsg, "broker '%s': connection closed by its owner",
		    lc->addr);
		lc->state = LC_DEAD;
	}
	drop_fd(lc);
	if (lc->in_cb)
		return;         /* the dispatcher drains and frees */
	drain(lc, "CLOSED");
	lc_free(lc);
}

int
klog_lc_pending(const struct klog_lc *lc)
{
	return (int)lc->qlen;
}

int
klog_lc_alive(const struct klog_lc *lc)
{
	return lc->state != LC_DEAD && !lc->closing;
}

const char *
klog_lc_error(const struct klog_lc *lc)
{
	return lc->errmsg;
}

const char *
klog_lc_addr(const struct klog_lc *lc)
{
	return lc->addr;
}

void
klog_lc_set_timeout(struct klog_lc *lc, int idle_ms)
{
	lc->idle_ms = idle_ms > 0 ? idle_ms : 0;
	if (lc->state == LC_OPEN && lc->idle_ms && !lc->timer) {
		int64_t t = klog_loop_timer(lc->loop, lc->idle_ms, on_timer, lc);
		lc->timer = t > 0 ? t : 0;
	}
}

void
klog_lc_set_max_data(struct klog_lc *lc, size_t max)
{
	lc->max_data = max ? max : LC_MAX_DATA;
}
