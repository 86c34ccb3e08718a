/* klog - a blocking client of the text protocol, for the tools' remote mode. MIT licence. */
/*
 * One connection, requests written whole, responses read in order (see
 * the protocol at the top of proto.c).  While it writes, the client also
 * reads whatever the broker sends back into its buffer, so a pipelining
 * producer never deadlocks against a broker that stops reading until its
 * own output drains.  Produce acknowledgements are collected in order
 * with klog_client_produce_ack; other requests refuse while some are due.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "cluster.h"

#define CONNECT_MS 10000

struct klog_client {
	int fd;
	char addr[256];
	struct klog_buf r;              /* bytes read, from roff */
	size_t roff;
	char code[48];
	int broken;
	int inflight;
};

static int
broken(struct klog_client *c, char *err, const char *why)
{
	c->broken = 1;
	snprintf(c->code, sizeof c->code, "INTERNAL");
	errno = EPIPE;
	return kerr(err, "broker '%s': %s", c->addr, why);
}

static int
check(struct klog_client *c, char *err)
{
	if (c->broken) {
		errno = EPIPE;
		return kerr(err, "broker '%s': connection lost earlier", c->addr);
	}
	if (c->inflight) {
		errno = EINVAL;
		return kerr(err, "broker '%s': %d produce acknowledgement%s still due", c->addr,
		    c->inflight, c->inflight == 1 ? "" : "s");
	}
	return 0;
}

/* read what is there (or block for some) into the buffer; 0 on EOF */
static ssize_t
fill(struct klog_client *c, int block, char *err)
{
	ssize_t n;

	if (c->roff && c->roff == c->r.len)
		c->roff = c->r.len = 0;
	if (c->r.cap - c->r.len < 16384) {
		if (c->roff) {
			memmove(c->r.data, c->r.data + c->roff, c->r.len - c->roff);
			c->r.len -= c->roff;
			c->roff = 0;
		}
		if (klog_buf_reserve(&c->r, 65536) < 0)
			return kerr_sys(err, "broker '%s'", c->addr);
	}
	do
		n = recv(c->fd, c->r.data + c->r.len, c->r.cap - c->r.len, block ? 0 : MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (!block && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		c->broken = 1;
		return kerr_sys(err, "broker '%s'", c->addr);
	}
	if (n == 0) {
		if (!block)
			return 1;       /* seen again by the blocking read */
		return broken(c, err, "connection closed");
	}
	c->r.len += (size_t)n;
	return n;
}

static int
send_iov(struct klog_client *c, struct iovec *iov, int n, char *err)
{
	while (n > 0) {
		struct pollfd pfd = { c->fd, POLLIN | POLLOUT, 0 };
		struct msghdr mh;
		ssize_t w;
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return kerr_sys(err, "broker '%s'", c->addr);
		}
		if (pfd.revents & POLLIN && fill(c, 0, err) < 0)
			return -1;
		if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			c->broken = 1;
			return kerr_sys(err, "cannot write to broker '%s'", c->addr);
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int
send_line(struct klog_client *c, const void *payload, size_t len, char *err,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
send_line(struct klog_client *c, const void *payload, size_t len, char *err, const char *fmt, ...)
{
	char line[KLOG_PROTO_MAX_LINE];
	struct iovec iov[2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line) {
		errno = EINVAL;
		return kerr(err, "request too long");
	}
	iov[0].iov_base = line;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	return send_iov(c, iov, len ? 2 : 1, err);
}

/* the next response line, cut in place (valid until the next read) */
static char *
read_line(struct klog_client *c, char *err)
{
	for (;;) {
		unsigned char *s = c->r.data + c->roff, *nl;
		size_t avail = c->r.len - c->roff;
		if (avail && (nl = memchr(s, '\n', avail))) {
			*nl = 0;
			c->roff += (size_t)(nl - s) + 1;
			return (char *)s;
		}
		if (avail > KLOG_PROTO_MAX_LINE) {
			broken(c, err, "response line too long");
			return NULL;
		}
		if (fill(c, 1, err) < 0)
			return NULL;
	}
}

static int
errno_for(const char *code)
{
	static const struct { const char *code; int e; } map[] = {
		{ "UNKNOWN_TOPIC", ENOENT }, { "UNKNOWN_PARTITION", ENOENT },
		{ "TOPIC_EXISTS", EEXIST }, { "OFFSET_OUT_OF_RANGE", ERANGE },
		{ "CORRUPT_BATCH", EILSEQ }, { "TOO_LARGE", EMSGSIZE }, { "AUTH", EACCES },
		{ "BUSY", EBUSY }, { "INVALID", EINVAL }, { "BAD_REQUEST", EINVAL },
		{ "UNKNOWN_COMMAND", EINVAL }, { "INVALID_RECORD", EBADMSG },
		{ "STORAGE_ERROR", EIO }, { "OFFLINE", EIO },
		{ "FENCED", ESTALE }, { "UNKNOWN_GROUP", ENOENT },
		{ "NOT_LEADER", EREMCHG }, { "NOT_CONTROLLER", EREMCHG },
		{ "NOT_ENOUGH_REPLICAS", EAGAIN }, { "NOT_ENOUGH_REPLICAS_AFTER_APPEND", EAGAIN },
		{ "STALE_EPOCH", ESTALE },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(map[i].code, code))
			return map[i].e;
	return EIO;
}

/* one response line of the text protocol (proto.c has the request side) */
int
klog_proto_reply(char *line, struct klog_reply *rp)
{
	char *p, *end;

	memset(rp, 0, sizeof *rp);
	end = line + strlen(line);
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = 0;
	if (!strncmp(line, "ERR ", 4) || !strcmp(line, "ERR")) {
		rp->kind = KLOG_REPLY_ERR;
		p = line + 3;
		while (*p == ' ')
			p++;
		rp->code = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
		rp->msg = p;
		return 0;
	}
	if (!strncmp(line, "OK", 2) && (line[2] == ' ' || !line[2]))
		rp->kind = KLOG_REPLY_OK;
	else if (!strncmp(line, "DATA ", 5))
		rp->kind = KLOG_REPLY_DATA;
	else
		return -1;
	p = line + (rp->kind == KLOG_REPLY_OK ? 2 : 4);
	while (*p) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		if (rp->argc == (int)(sizeof rp->argv / sizeof *rp->argv))
			return -1;
		rp->argv[rp->argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	if (rp->kind == KLOG_REPLY_DATA && (rp->argc < 1 ||
	    klog_parse_i64(rp->argv[0], &rp->len) < 0 || rp->len < 0))
		return -1;
	return 0;
}


/* read one response; ERR becomes -1 with err and errno */
static int
reply(struct klog_client *c, struct klog_reply *rp, char *err)
{
	char *line = read_line(c, err);

	if (!line)
		return -1;
	if (klog_proto_reply(line, rp) < 0)
		return broken(c, err, "unexpected response");
	if (rp->kind == KLOG_REPLY_ERR) {
		snprintf(c->code, sizeof c->code, "%s", rp->code);
		kerr(err, "%s", *rp->msg ? rp->msg : rp->code);
		errno = errno_for(rp->code);
		return -1;
	}
	c->code[0] = 0;
	return 0;
}

static int
reply_ok(struct klog_client *c, struct klog_reply *rp, int nargs, char *err)
{
	if (reply(c, rp, err) < 0)
		return -1;
	if (rp->kind != KLOG_REPLY_OK || rp->argc < nargs)
		return broken(c, err, "unexpected response");
	return 0;
}

static int
arg64(struct klog_client *c, struct klog_reply *rp, int i, int64_t *v, char *err)
{
	if (i >= rp->argc || klog_parse_i64(rp->argv[i], v) < 0)
		return broken(c, err, "bad number in a response");
	return 0;
}

/* read exactly n body bytes into out */
static int
read_body(struct klog_client *c, size_t n, struct klog_buf *out, char *err)
{
	size_t have = c->r.len - c->roff, take = have < n ? have : n;

	if (klog_buf_reserve(out, n) < 0)
		return kerr_sys(err, "broker '%s'", c->addr);
	if (take)
		memcpy(out->data + out->len, c->r.data + c->roff, take);
	c->roff += take;
	out->len += take;
	n -= take;
	while (n > 0) {
		ssize_t r = recv(c->fd, out->data + out->len, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			c->broken = 1;
			return kerr_sys(err, "broker '%s'", c->addr);
		}
		if (r == 0)
			return broken(c, err, "connection closed");
		out->len += (size_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* "OK N" and N lines, each handed to fn */
static int
read_list(struct klog_client *c, int (*fn)(void *, char *), void *arg, char *err)
{
	struct klog_reply rp;
	int64_t n, i;

	if (reply_ok(c, &rp, 1, err) < 0 || arg64(c, &rp, 0, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char *line = read_line(c, err);
		if (!line)
			return -1;
		if (fn(arg, line) < 0) {
			/* keep the stream in step: read the rest */
			while (++i < n)
				if (!read_line(c, err))
					return -1;
			return kerr_sys(err, "broker '%s'", c->addr);
		}
	}
	return 0;
}

struct klog_client *
klog_client_open(const char *addrs, const char *secret, char *err)
{
	struct klog_client *c;
	struct klog_reply rp;

	if (!(c = calloc(1, sizeof *c))) {
		kerr_sys(err, "client");
		return NULL;
	}
	c->fd = -1;
	if (!addrs || !*addrs)
		addrs = getenv("KLOG_BROKERS");
	if (!addrs || !*addrs) {
		errno = EINVAL;
		kerr(err, "no broker address: use -b HOST:PORT or set KLOG_BROKERS");
		goto fail;
	}
	if ((c->fd = klog_net_connect(addrs, CONNECT_MS, err)) < 0)
		goto fail;
	/* name the broker that answered */
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0)
			klog_net_format(&ss, c->addr, sizeof c->addr);
		else
			snprintf(c->addr, sizeof c->addr, "%s", addrs);
	}
	if (!secret)
		secret = getenv("KLOG_SECRET");
	if (secret && *secret) {
		if (strpbrk(secret, " \t\r\n")) {
			errno = EINVAL;
			kerr(err, "the secret must be one word");
			goto fail;
		}
		if (send_line(c, NULL, 0, err, "AUTH %s\n", secret) < 0 || reply_ok(c, &rp, 0, err) < 0)
			goto fail;
	}
	return c;
fail:
	klog_client_close(c);
	return NULL;
}

void
klog_client_close(struct klog_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	klog_buf_free(&c->r);
	free(c);
}

const char *
klog_client_code(const struct klog_client *c)
{
	return c->code;
}

int
kclient_broken(const struct klog_client *c)
{
	return c->broken;
}

static int
add_text(void *arg, char *line)
{
	struct klog_buf *b = arg;

	return klog_buf_printf(b, "%s\n", line);
}

int
kclient_metadata(struct klog_client *c, struct kc_state *st, char *err)
{
	struct klog_buf b = { 0 };
	int rc = -1;

	if (check(c, err) < 0 || send_line(c, NULL, 0, err, "METADATA\n") < 0 ||
	    read_list(c, add_text, &b, err) < 0)
		goto out;
	if (kc_state_parse((const char *)b.data, b.len, st, err) < 0) {
		errno = EPROTO;
		goto out;
	}
	rc = 0;
out:
	klog_buf_free(&b);
	return rc;
}

const char *
klog_client_addr(const struct klog_client *c)
{
	return c->addr;
}

int
klog_client_ping(struct klog_client *c, char *err)
{
	struct klog_reply rp;

	if (check(c, err) < 0 || send_line(c, NULL, 0, err, "PING\n") < 0)
		return -1;
	return reply_ok(c, &rp, 1, err);
}

int
kclient_names_add(void *arg, char *line)
{
	struct kclient_names *nm = arg;
	char **v = realloc(nm->v, (nm->n + 1) * sizeof *v);

	if (!v)
		return -1;
	nm->v = v;
	if (!(v[nm->n] = strdup(line)))
		return -1;
	nm->n++;
	return 0;
}

int
klog_client_topics(struct klog_client *c, char ***names, size_t *n, char *err)
{
	struct kclient_names nm = { NULL, 0 };

	if (check(c, err) < 0 || send_line(c, NULL, 0, err, "TOPICS\n") < 0)
		return -1;
	if (read_list(c, kclient_names_add, &nm, err) < 0) {
		klog_strv_free(nm.v, nm.n);
		return -1;
	}
	*names = nm.v;
	*n = nm.n;
	return 0;
}

static int
kv_line(struct klog_buf *b, char **kv, int nkv, char *err)
{
	int i;

	for (i = 0; i < nkv; i++) {
		if (!*kv[i] || strpbrk(kv[i], " \t\r\n")) {
			errno = EINVAL;
			return kerr(err, "bad config setting '%s'", kv[i]);
		}
		klog_buf_printf(b, " %s", kv[i]);
	}
	return klog_buf_append(b, "\n", 1);
}

static int
topic_cmd(struct klog_client *c, const char *verb, const char *topic, int partitions,
    char **kv, int nkv, char *err)
{
	struct klog_buf b = { 0 };
	struct klog_reply rp;
	int rc = -1;

	if (check(c, err) < 0)
		return -1;
	if (partitions > 0)
		klog_buf_printf(&b, "%s %s %d", verb, topic, partitions);
	else
		klog_buf_printf(&b, "%s %s -", verb, topic);
	if (kv_line(&b, kv, nkv, err) < 0)
		goto out;
	klog_buf_append(&b, "", 1);
	if (send_line(c, NULL, 0, err, "%s", (char *)b.data) < 0)
		goto out;
	rc = reply_ok(c, &rp, 0, err);
out:
	klog_buf_free(&b);
	return rc;
}

static int
word_ok(const char *w, char *err)
{
	if (!w || !*w || strpbrk(w, " \t\r\n")) {
		errno = EINVAL;
		return kerr(err, "bad topic name '%s'", w ? w : "");
	}
	return 0;
}

int
klog_client_create(struct klog_client *c, const char *topic, int partitions,
    char **kv, int nkv, char *err)
{
	if (word_ok(topic, err) < 0)
		return -1;
	return topic_cmd(c, "CREATE", topic, partitions > 0 ? partitions : 1, kv, nkv, err);
}

int
klog_client_alter(struct klog_client *c, const char *topic, int partitions,
    char **kv, int nkv, char *err)
{
	if (word_ok(topic, err) < 0)
		return -1;
	return topic_cmd(c, "ALTER", topic, partitions, kv, nkv, err);
}

int
klog_client_delete(struct klog_client *c, const char *topic, char *err)
{
	struct klog_reply rp;

	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "DELETE %s\n", topic) < 0)
		return -1;
	return reply_ok(c, &rp, 0, err);
}

int
klog_client_compact(struct klog_client *c, const char *topic, int partition,
    struct klog_compact_stats *st, char *err)
{
	struct klog_reply rp;
	int64_t v[7];
	int i;

	if (word_ok(topic, err) < 0 || check(c, err) < 0)
		return -1;
	if ((partition < 0 ? send_line(c, NULL, 0, err, "COMPACT %s\n", topic) :
	    send_line(c, NULL, 0, err, "COMPACT %s %d\n", topic, partition)) < 0 ||
	    reply_ok(c, &rp, 7, err) < 0)
		return -1;
	for (i = 0; i < 7; i++)
		if (klog_parse_i64(rp.argv[i], &v[i]) < 0)
			return broken(c, err, "bad COMPACT reply");
	if (st) {
		memset(st, 0, sizeof *st);
		st->passes = (int)v[0];
		st->segments = (int)v[1];
		st->bytes_read = v[2];
		st->bytes_written = v[3];
		st->records_read = v[4];
		st->records_removed = v[5];
		st->tombstones_removed = v[6];
	}
	return 0;
}

struct parts {
	struct klog_part_info *v;
	int n;
};

static int
add_part(void *arg, char *line)
{
	struct parts *ps = arg;
	struct klog_part_info pi, *v;
	long long p, s, e, seg, by;
	char *tab = strchr(line, '\t');
	int k;

	memset(&pi, 0, sizeof pi);
	/* a seventh column, the state, since 0.2; older brokers: online */
	if (!tab || (k = sscanf(tab + 1, "%lld\t%lld\t%lld\t%lld\t%lld\t%11s", &p, &s, &e, &seg,
	    &by, pi.state)) < 5) {
		errno = EPROTO;
		return -1;
	}
	if (k == 5)
		strcpy(pi.state, "online");
	pi.log_start = s;
	pi.log_end = e;
	pi.segments = (int)seg;
	pi.bytes = by;
	/* at its index: a replica in a cluster may list some partitions only */
	if (p < 0 || p > INT32_MAX / 2) {
		errno = EPROTO;
		return -1;
	}
	if (p >= ps->n) {
		if (!(v = realloc(ps->v, (size_t)(p + 1) * sizeof *v)))
			return -1;
		ps->v = v;
		for (; ps->n <= p; ps->n++) {
			memset(&v[ps->n], 0, sizeof *v);
			v[ps->n].log_start = v[ps->n].log_end = -1;
			strcpy(v[ps->n].state, "unknown");
		}
	}
	ps->v[p] = pi;
	return 0;
}

int
klog_client_describe(struct klog_client *c, const char *topic,
    struct klog_part_info **parts, int *n, char *err)
{
	struct parts ps = { NULL, 0 };

	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "DESCRIBE %s\n", topic) < 0)
		return -1;
	if (read_list(c, add_part, &ps, err) < 0) {
		free(ps.v);
		return -1;
	}
	*parts = ps.v;
	*n = ps.n;
	return 0;
}

struct rates {
	struct klog_part_rate *v;
	int n;
};

/* "TOPIC PARTITION RECORDS_PER_S BYTES_PER_S": partition i on line i */
static int
add_rate(void *arg, char *line)
{
	struct rates *rs = arg;
	struct klog_part_rate r, *v;
	char *tab = strchr(line, '\t');
	long long p;

	if (!tab || sscanf(tab + 1, "%lld\t%lf\t%lf", &p, &r.records, &r.bytes) != 3 ||
	    p != rs->n || !(r.records >= 0) || !(r.bytes >= 0)) {
		errno = EPROTO;
		return -1;
	}
	if (!(v = realloc(rs->v, (size_t)(rs->n + 1) * sizeof *v)))
		return -1;
	rs->v = v;
	v[rs->n++] = r;
	return 0;
}

int
klog_client_rates(struct klog_client *c, const char *topic, struct klog_part_rate **rates,
    int *n, char *err)
{
	struct rates rs = { NULL, 0 };

	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "DESCRIBE %s RATES\n", topic) < 0)
		return -1;
	if (read_list(c, add_rate, &rs, err) < 0) {
		free(rs.v);
		return -1;
	}
	*rates = rs.v;
	*n = rs.n;
	return 0;
}

static int
add_line(void *arg, char *line)
{
	struct klog_buf *b = arg;

	return klog_buf_printf(b, "%s\n", line);
}

int
klog_client_config(struct klog_client *c, const char *topic, struct klog_buf *out, char *err)
{
	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "CONFIG %s\n", topic) < 0)
		return -1;
	return read_list(c, add_line, out, err);
}

int
klog_client_offsets(struct klog_client *c, const char *topic, int partition,
    int64_t *log_start, int64_t *log_end, char *err)
{
	struct klog_reply rp;
	int64_t s, e;

	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "OFFSETS %s %d\n", topic, partition) < 0 ||
	    reply_ok(c, &rp, 2, err) < 0 || arg64(c, &rp, 0, &s, err) < 0 ||
	    arg64(c, &rp, 1, &e, err) < 0)
		return -1;
	if (log_start)
		*log_start = s;
	if (log_end)
		*log_end = e;
	return 0;
}

int
klog_client_offset_for_time(struct klog_client *c, const char *topic, int partition,
    int64_t ts, int64_t *offset, char *err)
{
	struct klog_reply rp;

	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "TIMEOFFSET %s %d %" PRId64 "\n", topic, partition, ts) < 0 ||
	    reply_ok(c, &rp, 1, err) < 0)
		return -1;
	return arg64(c, &rp, 0, offset, err);
}

int
klog_client_stats(struct klog_client *c, struct klog_buf *out, char *err)
{
	struct klog_reply rp;

	if (check(c, err) < 0 || send_line(c, NULL, 0, err, "STATS\n") < 0 || reply(c, &rp, err) < 0)
		return -1;
	if (rp.kind != KLOG_REPLY_DATA)
		return broken(c, err, "unexpected response");
	return read_body(c, (size_t)rp.len, out, err);
}

static const char *
acks_word(int acks)
{
	return acks == 0 ? "0" : acks == 1 ? "1" : "all";
}

int
klog_client_produce_send(struct klog_client *c, const char *topic, int partition,
    int acks, const void *batches, size_t len, char *err)
{
	if (c->broken) {
		errno = EPIPE;
		return kerr(err, "broker '%s': connection lost earlier", c->addr);
	}
	if (word_ok(topic, err) < 0 ||
	    send_line(c, batches, len, err, "PRODUCE %s %d %s %zu\n", topic, partition,
	    acks_word(acks), len) < 0)
		return -1;
	if (acks != 0)
		c->inflight++;
	return 0;
}

int
klog_client_produce_ack(struct klog_client *c, int64_t *first, int64_t *last, char *err)
{
	struct klog_reply rp;
	int64_t f = -1, l = -1;

	if (c->inflight <= 0) {
		errno = EINVAL;
		return kerr(err, "no produce acknowledgement is due");
	}
	c->inflight--;
	if (c->broken) {
		errno = EPIPE;
		return kerr(err, "broker '%s': connection lost, the answer will never come",
		    c->addr);
	}
	if (reply_ok(c, &rp, 2, err) < 0 || arg64(c, &rp, 0, &f, err) < 0 ||
	    arg64(c, &rp, 1, &l, err) < 0)
		return -1;
	if (first)
		*first = f;
	if (last)
		*last = l;
	return 0;
}

int
klog_client_inflight(const struct klog_client *c)
{
	return c->inflight;
}

int
klog_client_produce(struct klog_client *c, const char *topic, int partition, int acks,
    const void *batches, size_t len, int64_t *first, int64_t *last, char *err)
{
	if (check(c, err) < 0 ||
	    klog_client_produce_send(c, topic, partition, acks, batches, len, err) < 0)
		return -1;
	if (acks == 0) {
		if (first)
			*first = -1;
		if (last)
			*last = -1;
		return 0;
	}
	return klog_client_produce_ack(c, first, last, err);
}

ssize_t
klog_client_fetch(struct klog_client *c, const char *topic, int partition,
    int64_t offset, size_t max_bytes, int max_wait_ms, size_t min_bytes,
    struct klog_buf *out, int64_t *next, int64_t *log_end, char *err)
{
	struct klog_reply rp;
	int64_t nx, end;

	if (max_bytes > INT32_MAX)
		max_bytes = INT32_MAX;
	if (word_ok(topic, err) < 0 || check(c, err) < 0 ||
	    send_line(c, NULL, 0, err, "FETCH %s %d %" PRId64 " %zu %d %zu\n", topic, partition,
	    offset, max_bytes ? max_bytes : 1, max_wait_ms < 0 ? 0 : max_wait_ms, min_bytes) < 0 ||
	    reply(c, &rp, err) < 0)
		return -1;
	if (rp.kind != KLOG_REPLY_DATA || arg64(c, &rp, 1, &nx, err) < 0 ||
	    arg64(c, &rp, 2, &end, err) < 0)
		return c->broken ? -1 : broken(c, err, "unexpected response");
	if (read_body(c, (size_t)rp.len, out, err) < 0)
		return -1;
	if (next)
		*next = nx;
	if (log_end)
		*log_end = end;
	return (ssize_t)rp.len;
}

/*
 * One request of the group commands (group-remote.c): the line, with a
 * payload when len > 0, then its answer.  The words of "OK WORD..." are
 * copied into ok; with list >= 0, word `list` is the number of lines
 * that follow, each handed to fn (the stream stays in step if fn fails).
 */
int
kclient_call(struct klog_client *c, const void *payload, size_t len, int list,
    int (*fn)(void *arg, char *line), void *arg, struct kclient_ok *ok, char *err,
    const char *fmt, ...)
{
	char line[KLOG_PROTO_MAX_LINE];
	struct klog_reply rp;
	struct iovec iov[2];
	va_list ap;
	int64_t n, i;
	size_t at = 0;
	int k, bad = 0;

	memset(ok, 0, sizeof *ok);
	va_start(ap, fmt);
	k = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof line) {
		errno = EINVAL;
		return kerr(err, "request too long");
	}
	if (check(c, err) < 0)
		return -1;
	iov[0].iov_base = line;
	iov[0].iov_len = (size_t)k;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	if (send_iov(c, iov, len ? 2 : 1, err) < 0 || reply_ok(c, &rp, list + 1, err) < 0)
		return -1;
	for (k = 0; k < rp.argc && k < (int)(sizeof ok->argv / sizeof *ok->argv); k++) {
		size_t l = strlen(rp.argv[k]) + 1;
		if (at + l > sizeof ok->buf)
			return broken(c, err, "response line too long");
		memcpy(ok->buf + at, rp.argv[k], l);
		ok->argv[ok->argc++] = ok->buf + at;
		at += l;
	}
	if (list < 0)
		return 0;
	if (arg64(c, &rp, list, &n, err) < 0 || n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char *l = read_line(c, err);
		if (!l)
			return -1;
		errno = 0;
		if (!bad && fn && fn(arg, l) < 0)
			bad = errno ? errno : EPROTO;
	}
	if (bad) {
		errno = bad;
		return kerr(err, "broker '%s': unexpected answer", c->addr);
	}
	return 0;
}
