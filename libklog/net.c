/* klog - TCP socket helpers and the systemd fd/notify protocols. MIT licence. */
/*
 * Addresses are "HOST:PORT", "[V6ADDR]:PORT", "HOST" or ":PORT"; a missing
 * host means 127.0.0.1 when listening (loopback by default) and when
 * connecting, a missing port KLOG_PORT.  A list "a:1,b:2" (KLOG_BROKERS) is
 * tried in order by klog_net_connect.
 *
 * systemd without libsystemd: socket activation passes listening sockets
 * from fd 3 with LISTEN_PID (our pid) and LISTEN_FDS (how many); readiness
 * is one datagram "READY=1" sent to the AF_UNIX socket named by
 * NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "internal.h"

int
klog_net_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
    const char *defhost, char *err)
{
	const char *colon, *h = addr, *p = NULL;
	size_t hl;

	if (!addr)
		addr = "";
	h = addr;
	if (*addr == '[') {
		const char *rb = strchr(addr, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return kerr(err, "bad address '%s'", addr);
		h = addr + 1;
		hl = (size_t)(rb - h);
		if (rb[1] == ':')
			p = rb + 2;
	} else if ((colon = strchr(addr, ':'))) {
		if (strchr(colon + 1, ':'))
			return kerr(err, "bad address '%s': put an IPv6 address in brackets", addr);
		hl = (size_t)(colon - addr);
		p = colon + 1;
	} else
		hl = strlen(addr);
	if (hl == 0) {
		h = defhost;
		hl = strlen(defhost);
	}
	if (hl >= hn)
		return kerr(err, "bad address '%s': host name too long", addr);
	memcpy(host, h, hl);
	host[hl] = 0;
	if (!p || !*p)
		snprintf(port, pn, "%d", KLOG_PORT);
	else {
		char *end;
		long v = strtol(p, &end, 10);
		if (*end || v < 0 || v > 65535)
			return kerr(err, "bad address '%s': bad port '%s'", addr, p);
		snprintf(port, pn, "%ld", v);
	}
	return 0;
}

int
klog_net_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int
klog_net_tune(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int
klog_net_listen(const char *addr, int backlog, char *err)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, one = 1, e = 0;

	if (klog_net_split(addr, host, sizeof host, port, sizeof port, "127.0.0.1", err) < 0)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(!strcmp(host, "*") ? NULL : host, port, &hints, &res)) != 0)
		return kerr(err, "cannot resolve '%s': %s", addr, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = e;
		return kerr_sys(err, "cannot listen on '%s'", addr);
	}
	return fd;
}

int
klog_net_accept(int lfd, char *peer, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd;

	do
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (peer && n)
		klog_net_format(&ss, peer, n);
	return fd;
}

void
klog_net_format(const void *sa, char *buf, size_t n)
{
	const struct sockaddr_storage *ss = sa;
	char h[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = sa;
		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
		snprintf(buf, n, "%s:%d", h, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
		snprintf(buf, n, "[%s]:%d", h, ntohs(s6->sin6_port));
	} else
		snprintf(buf, n, "unix");
}

int
klog_net_local(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	klog_net_format(&ss, buf, n);
	return 0;
}

/* connect with a timeout; the returned socket is blocking.  On failure
 * *resolve says whether the name did not resolve and err holds the bare
 * reason ("Connection refused"), for the caller to name the address */
static int
connect_one(const char *addr, int timeout_ms, int *resolve, char *err)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, e = ECONNREFUSED;

	*resolve = 0;
	if (klog_net_split(addr, host, sizeof host, port, sizeof port, "127.0.0.1", err) < 0)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*resolve = 1;
		errno = rc == EAI_SYSTEM ? errno : ENOENT;
		return kerr(err, "%s", gai_strerror(rc));
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t sl = sizeof e;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			goto ok;
		if (errno != EINPROGRESS) {
			e = errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			e = ETIMEDOUT;
			goto next;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
		if (e == 0)
			goto ok;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	errno = e;
	return kerr(err, "%s", strerror(e));
ok:
	freeaddrinfo(res);
	klog_net_nonblock(fd, 0);
	klog_net_tune(fd);
	return fd;
}

int
klog_net_connect(const char *addrs, int timeout_ms, char *err)
{
	char one[512], why[KLOG_ERRLEN], said[KLOG_ERRLEN];
	const char *s = addrs, *c;
	size_t len = 0;
	int fd = -1, tried = 0, resolve = 0, e = ECONNREFUSED;

	if (!addrs || !*addrs)
		return kerr(err, "no broker address");
	said[0] = 0;
	while (*s) {
		size_t n;
		c = strchr(s, ',');
		n = c ? (size_t)(c - s) : strlen(s);
		if (n >= sizeof one)
			n = sizeof one - 1;
		memcpy(one, s, n);
		one[n] = 0;
		if ((fd = connect_one(one, timeout_ms, &resolve, why)) >= 0)
			return fd;
		e = errno;
		/* every address tried, with why it failed */
		if (len < sizeof said)
			len += (size_t)snprintf(said + len, sizeof said - len, "%s'%s' (%s%s)",
			    tried ? ", " : "", one, resolve ? "cannot resolve: " : "", why);
		tried++;
		s += n;
		if (*s == ',')
			s++;
	}
	errno = e;
	if (tried == 1)
		return kerr(err, "cannot %s broker '%s': %s", resolve ? "resolve" : "connect to",
		    one, why);
	return kerr(err, "cannot connect to brokers %s", said);
}

int
klog_net_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int n;

	if (!pid || !fds || atol(pid) != (long)getpid())
		return 0;
	n = atoi(fds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int i = 0; i < n; i++)
		fcntl(3 + i, F_SETFD, FD_CLOEXEC);
	return n > 0 ? n : 0;
}

int
klog_net_notify(const char *state, char *err)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un su;
	socklen_t sl;
	size_t n;
	int fd;
	ssize_t w;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if (n >= sizeof su.sun_path || (path[0] != '/' && path[0] != '@'))
		return kerr(err, "bad NOTIFY_SOCKET '%s'", path);
	memset(&su, 0, sizeof su);
	su.sun_family = AF_UNIX;
	memcpy(su.sun_path, path, n);
	if (path[0] == '@')
		su.sun_path[0] = 0;
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return kerr_sys(err, "notify socket");
	w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&su, sl);
	close(fd);
	if (w < 0)
		return kerr_sys(err, "cannot notify '%s'", path);
	return 1;
}
