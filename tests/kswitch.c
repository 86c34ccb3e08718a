/* klog - kswitch, a loopback TCP proxy that injects network faults for the tests. MIT licence. */

/*
 *   kswitch [-r FD] NAME[=HOST:PORT]...     serve
 *   kswitch -C HOST:PORT COMMAND [ARG...]   send one control command
 *   kswitch -t HOST:PORT                    talk: stdin to HOST:PORT, then
 *                                           what comes back to stdout
 *
 * Serve: for each NAME, listen on 127.0.0.1:0 and forward every accepted
 * connection to its upstream HOST:PORT (a NAME without one drops what it
 * accepts until `set` gives it one); and listen for control connections
 * on 127.0.0.1:0.  When all are bound, write "NAME ADDR:PORT" per NAME,
 * then "control ADDR:PORT", to FD (default 1) and close it.  One thread,
 * poll(2); plain libc, so that it depends on nothing it helps to test.
 *
 * Control: lines on a control connection, each answered with one line,
 * "OK ..." or "ERR reason", only once the command has taken effect (a test
 * that reads the answer needs no sleep):
 *
 *   cut NAME         close every connection through NAME; from now on
 *                    accept and close at once (a peer sees EOF or ECONNRESET)
 *   hang NAME        freeze every connection through NAME (nothing read or
 *                    written: TCP stays up, the kernel's buffers fill, as in
 *                    a partition); new connections accepted and frozen, their
 *                    upstream not connected until heal
 *   heal NAME        forward again (frozen connections resume where they were)
 *   delay NAME MS    hold every chunk read through NAME for MS ms before
 *                    passing it on (0: none), in both directions
 *   set NAME HOST:PORT  a new upstream; connections to the old one are closed
 *   stat NAME        "OK NAME STATE UPSTREAM accepted=N dropped=N open=N"
 *   quit             "OK", then exit 0
 *
 * Client: connect to the control address, send the words as one line,
 * print the answer; exit 0 on OK, 1 on ERR or no answer, 2 on usage.
 *
 * Talk (a raw protocol conversation for the tests, one process where a
 * shell needs three): send all of stdin, shut the sending side, copy what
 * arrives to stdout until the peer closes; 10 s at most (exit 1 then, or
 * when the connection fails).
 * SIGTERM or SIGINT end the server (exit 0).
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define CHUNK 65536
#define QUEUE_MAX (1 << 20)             /* bytes queued one way before reading stops */
#define CTL_LINE 1024

enum { ST_OPEN, ST_CUT, ST_HANG };
static const char *state_names[] = { "open", "cut", "hang" };

struct chunk {
	struct chunk *next;
	int64_t due;                    /* ms, monotonic: not written before */
	size_t len, off;
	char data[];
};

/* one direction of a connection: bytes read from one side, to the other */
struct way {
	struct chunk *head, *tail;
	size_t queued;
	int eof;                        /* the reading side said EOF */
	int shut;                       /* and we passed it on (SHUT_WR) */
};

struct port;

struct link {
	struct link *next;
	struct port *port;
	int fd[2];                      /* 0 the client, 1 upstream (-1 not yet) */
	int connecting;                 /* upstream connect(2) in progress */
	struct way w[2];                /* w[i]: read from fd[i], written to fd[1 - i] */
	int dead;
};

struct port {
	char name[64];
	char up[128];                   /* "" none */
	int lfd;
	char addr[64];
	int state;
	int delay_ms;
	long accepted, dropped, open;
};

struct ctl {
	struct ctl *next;
	int fd;
	char buf[CTL_LINE];
	size_t len;
	int dead;
};

static struct port *ports;
static size_t nports;
static struct link *links;
static struct ctl *ctls;
static int ctl_lfd = -1;
static volatile sig_atomic_t stop;

static void
die(const char *what)
{
	fprintf(stderr, "kswitch: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* "HOST:PORT" to an IPv4 address; 0, or -1 */
static int
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	struct addrinfo hints, *res;
	size_t n;
	int rc;

	if (!colon || colon == s || !colon[1])
		return -1;
	n = (size_t)(colon - s);
	if (n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	rc = -1;
	if (res->ai_addrlen == sizeof(*sa)) {
		memcpy(sa, res->ai_addr, sizeof(*sa));
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

/* listen on 127.0.0.1:0; the bound address in addr */
static int
listen_any(char *addr, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind 127.0.0.1:0");
	if (listen(fd, 512) < 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		die("getsockname");
	snprintf(addr, len, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	return fd;
}

static void
way_free(struct way *w)
{
	struct chunk *c, *n;

	for (c = w->head; c; c = n) {
		n = c->next;
		free(c);
	}
	w->head = w->tail = NULL;
	w->queued = 0;
}

static void
link_close(struct link *l)
{
	int i;

	if (l->dead)
		return;
	for (i = 0; i < 2; i++) {
		if (l->fd[i] >= 0)
			close(l->fd[i]);
		l->fd[i] = -1;
		way_free(&l->w[i]);
	}
	l->dead = 1;
	l->port->open--;
}

/* start the upstream connection of a link; on failure the link is closed */
static void
link_connect(struct link *l)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if (!l->port->up[0] || parse_addr(l->port->up, &sa) < 0) {
		link_close(l);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		link_close(l);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->fd[1] = fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return;
	if (errno == EINPROGRESS) {
		l->connecting = 1;
		return;
	}
	link_close(l);
}

static void
port_accept(struct port *p)
{
	struct link *l;
	int fd, one = 1;

	for (;;) {
		fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		p->accepted++;
		if (p->state == ST_CUT || (p->state == ST_OPEN && !p->up[0])) {
			p->dropped++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		l = calloc(1, sizeof(*l));
		if (!l)
			die("calloc");
		l->port = p;
		l->fd[0] = fd;
		l->fd[1] = -1;
		l->next = links;
		links = l;
		p->open++;
		if (p->state == ST_OPEN)
			link_connect(l);
	}
}

/* read what fd[i] has into w[i] */
static void
link_read(struct link *l, int i)
{
	struct way *w = &l->w[i];
	struct chunk *c;
	ssize_t n;

	c = malloc(sizeof(*c) + CHUNK);
	if (!c)
		die("malloc");
	n = read(l->fd[i], c->data, CHUNK);
	if (n < 0) {
		free(c);
		if (errno != EAGAIN && errno != EINTR)
			link_close(l);
		return;
	}
	if (n == 0) {
		free(c);
		w->eof = 1;
		return;
	}
	c->next = NULL;
	c->len = (size_t)n;
	c->off = 0;
	c->due = now_ms() + l->port->delay_ms;
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	w->queued += (size_t)n;
}

/* write w[i]'s due chunks to fd[1 - i] */
static void
link_write(struct link *l, int i, int64_t now)
{
	struct way *w = &l->w[i];
	struct chunk *c;
	ssize_t n;

	while ((c = w->head) && c->due <= now) {
		n = write(l->fd[1 - i], c->data + c->off, c->len - c->off);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				link_close(l);
			return;
		}
		c->off += (size_t)n;
		w->queued -= (size_t)n;
		if (c->off < c->len)
			return;
		w->head = c->next;
		if (!w->head)
			w->tail = NULL;
		free(c);
	}
}

/* EOFs passed on; a link whose both ways are done goes */
static void
link_settle(struct link *l)
{
	int i;

	if (l->dead || l->connecting || l->fd[1] < 0)
		return;
	for (i = 0; i < 2; i++)
		if (l->w[i].eof && !l->w[i].head && !l->w[i].shut) {
			shutdown(l->fd[1 - i], SHUT_WR);
			l->w[i].shut = 1;
		}
	if (l->w[0].shut && l->w[1].shut)
		link_close(l);
}

static struct port *
port_find(const char *name)
{
	size_t i;

	for (i = 0; i < nports; i++)
		if (!strcmp(ports[i].name, name))
			return &ports[i];
	return NULL;
}

static void
port_close_links(struct port *p)
{
	struct link *l;

	for (l = links; l; l = l->next)
		if (l->port == p)
			link_close(l);
}

/* execute one control line; the answer in out */
static void
ctl_exec(char *line, char *out, size_t len)
{
	char *argv[4];
	int argc = 0;
	char *s, *save = NULL;
	struct port *p;
	struct link *l;
	struct sockaddr_in sa;
	char *end;
	long ms;

	for (s = strtok_r(line, " \t\r", &save); s && argc < 4; s = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = s;
	if (argc == 0) {
		snprintf(out, len, "ERR empty command\n");
		return;
	}
	if (!strcmp(argv[0], "quit")) {
		snprintf(out, len, "OK\n");
		stop = 1;
		return;
	}
	if (argc < 2) {
		snprintf(out, len, "ERR '%s': no NAME\n", argv[0]);
		return;
	}
	p = port_find(argv[1]);
	if (!p) {
		snprintf(out, len, "ERR no port '%s'\n", argv[1]);
		return;
	}
	if (!strcmp(argv[0], "cut") && argc == 2) {
		p->state = ST_CUT;
		port_close_links(p);
	} else if (!strcmp(argv[0], "hang") && argc == 2) {
		p->state = ST_HANG;
	} else if (!strcmp(argv[0], "heal") && argc == 2) {
		p->state = ST_OPEN;
		for (l = links; l; l = l->next)
			if (l->port == p && !l->dead && l->fd[1] < 0)
				link_connect(l);
	} else if (!strcmp(argv[0], "delay") && argc == 3) {
		ms = strtol(argv[2], &end, 10);
		if (*end || ms < 0 || ms > 3600000) {
			snprintf(out, len, "ERR delay '%s': not a number of ms\n", argv[2]);
			return;
		}
		p->delay_ms = (int)ms;
	} else if (!strcmp(argv[0], "set") && argc == 3) {
		if (strlen(argv[2]) >= sizeof(p->up) || parse_addr(argv[2], &sa) < 0) {
			snprintf(out, len, "ERR upstream '%s': not HOST:PORT\n", argv[2]);
			return;
		}
		port_close_links(p);
		snprintf(p->up, sizeof(p->up), "%s", argv[2]);
	} else if (!strcmp(argv[0], "stat") && argc == 2) {
		snprintf(out, len, "OK %s %s %s accepted=%ld dropped=%ld open=%ld\n",
		    p->name, state_names[p->state], p->up[0] ? p->up : "-",
		    p->accepted, p->dropped, p->open);
		return;
	} else {
		snprintf(out, len, "ERR unknown command or arguments '%s'\n", argv[0]);
		return;
	}
	snprintf(out, len, "OK\n");
}

static void
ctl_read(struct ctl *c)
{
	char out[512];
	char *nl;
	ssize_t n;
	size_t used;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->dead = 1;
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		*nl = 0;
		ctl_exec(c->buf, out, sizeof(out));
		/* answers are short: a blocking write on a small socket buffer */
		if (write(c->fd, out, strlen(out)) < 0)
			c->dead = 1;
		used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
		c->buf[c->len] = 0;
	}
	if (c->len == sizeof(c->buf) - 1)
		c->dead = 1;
}

static void
ctl_accept(void)
{
	struct ctl *c;
	int fd;

	while ((fd = accept4(ctl_lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		c->fd = fd;
		c->next = ctls;
		ctls = c;
	}
}

static void
reap(void)
{
	struct link **lp, *l;
	struct ctl **cp, *c;

	for (lp = &links; (l = *lp);) {
		if (l->dead) {
			*lp = l->next;
			free(l);
		} else {
			lp = &l->next;
		}
	}
	for (cp = &ctls; (c = *cp);) {
		if (c->dead) {
			*cp = c->next;
			close(c->fd);
			free(c);
		} else {
			cp = &c->next;
		}
	}
}

/* poll slots: what each pollfd stands for */
struct slot {
	int kind;                       /* 0 port listener, 1 control listener, 2 control, 3 link side */
	void *p;
	int side;
};

static void
serve(void)
{
	struct pollfd *pfd = NULL;
	struct slot *sl = NULL;
	size_t cap = 0, n, k, i;
	struct link *l;
	struct ctl *c;
	int64_t now, next;
	int timeout, j, ev;

	while (!stop) {
		n = nports + 1;
		for (l = links; l; l = l->next)
			n += 2;
		for (c = ctls; c; c = c->next)
			n++;
		if (n > cap) {
			cap = n * 2;
			pfd = realloc(pfd, cap * sizeof(*pfd));
			sl = realloc(sl, cap * sizeof(*sl));
			if (!pfd || !sl)
				die("realloc");
		}
		now = now_ms();
		next = -1;
		k = 0;
		for (i = 0; i < nports; i++) {
			pfd[k] = (struct pollfd){ .fd = ports[i].lfd, .events = POLLIN };
			sl[k++] = (struct slot){ 0, &ports[i], 0 };
		}
		pfd[k] = (struct pollfd){ .fd = ctl_lfd, .events = POLLIN };
		sl[k++] = (struct slot){ 1, NULL, 0 };
		for (c = ctls; c; c = c->next) {
			pfd[k] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			sl[k++] = (struct slot){ 2, c, 0 };
		}
		for (l = links; l; l = l->next) {
			for (j = 0; j < 2; j++) {
				ev = 0;
				if (l->fd[j] < 0)
					continue;
				if (l->port->state != ST_HANG) {
					if (j == 1 && l->connecting)
						ev = POLLOUT;
					else if (!l->w[j].eof && l->w[j].queued < QUEUE_MAX)
						ev |= POLLIN;
					/* what goes to side j comes from w[1 - j] */
					if (!(j == 1 && l->connecting) && l->w[1 - j].head) {
						if (l->w[1 - j].head->due <= now)
							ev |= POLLOUT;
						else if (next < 0 || l->w[1 - j].head->due < next)
							next = l->w[1 - j].head->due;
					}
				}
				/* nothing wanted: out of the set (a hung-up peer
				 * would otherwise wake poll at once, again and again) */
				pfd[k] = (struct pollfd){ .fd = ev ? l->fd[j] : -1, .events = (short)ev };
				sl[k++] = (struct slot){ 3, l, j };
			}
		}
		timeout = next < 0 ? -1 : (int)(next - now);
		if (poll(pfd, k, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		now = now_ms();
		for (i = 0; i < k; i++) {
			if (!pfd[i].revents)
				continue;
			switch (sl[i].kind) {
			case 0:
				port_accept(sl[i].p);
				break;
			case 1:
				ctl_accept();
				break;
			case 2:
				c = sl[i].p;
				if (!c->dead)
					ctl_read(c);
				break;
			case 3:
				l = sl[i].p;
				j = sl[i].side;
				if (l->dead || l->fd[j] != pfd[i].fd || l->port->state == ST_HANG)
					break;
				if (j == 1 && l->connecting) {
					int e = 0;
					socklen_t el = sizeof(e);

					getsockopt(l->fd[1], SOL_SOCKET, SO_ERROR, &e, &el);
					if (e) {
						link_close(l);
						break;
					}
					l->connecting = 0;
					break;
				}
				if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					link_read(l, j);
				if (!l->dead && (pfd[i].revents & POLLOUT))
					link_write(l, 1 - j, now);
				break;
			}
		}
		for (l = links; l; l = l->next)
			link_settle(l);
		reap();
	}
}

static int
client(const char *addr, int argc, char **argv)
{
	struct sockaddr_in sa;
	char line[CTL_LINE], ans[512];
	size_t len = 0, got = 0;
	ssize_t n;
	int fd, i;

	if (parse_addr(addr, &sa) < 0) {
		fprintf(stderr, "kswitch: control address '%s': not HOST:PORT\n", addr);
		return 2;
	}
	for (i = 0; i < argc; i++) {
		n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len - 1) {
			fprintf(stderr, "kswitch: command too long\n");
			return 2;
		}
		len += (size_t)n;
	}
	line[len++] = '\n';
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "kswitch: cannot connect to '%s': %s\n", addr, strerror(errno));
		return 1;
	}
	if (write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "kswitch: cannot send to '%s': %s\n", addr, strerror(errno));
		return 1;
	}
	while (got < sizeof(ans) - 1 && (n = read(fd, ans + got, sizeof(ans) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(ans, '\n', got))
			break;
	}
	close(fd);
	ans[got] = 0;
	if (!memchr(ans, '\n', got)) {
		fprintf(stderr, "kswitch: no answer from '%s'\n", addr);
		return 1;
	}
	fputs(ans, stdout);
	return strncmp(ans, "OK", 2) ? 1 : 0;
}

static int
talk(const char *addr)
{
	struct sockaddr_in sa;
	struct pollfd pfd[2];
	char buf[CHUNK];
	int64_t end = now_ms() + 10000;
	int fd, in_open = 1, left;
	ssize_t n;

	if (parse_addr(addr, &sa) < 0) {
		fprintf(stderr, "kswitch: address '%s': not HOST:PORT\n", addr);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "kswitch: cannot connect to '%s': %s\n", addr, strerror(errno));
		return 1;
	}
	for (;;) {
		left = (int)(end - now_ms());
		if (left <= 0) {
			fprintf(stderr, "kswitch: '%s' still open after 10 s\n", addr);
			return 1;
		}
		pfd[0] = (struct pollfd){ .fd = in_open ? 0 : -1, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(pfd, 2, left) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = 0;
				shutdown(fd, SHUT_WR);
			} else if (write(fd, buf, (size_t)n) != n) {
				fprintf(stderr, "kswitch: cannot send to '%s': %s\n", addr, strerror(errno));
				return 1;
			}
		}
		if (pfd[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno != ECONNRESET) {
				fprintf(stderr, "kswitch: '%s': %s\n", addr, strerror(errno));
				return 1;
			}
			if (n <= 0)
				break;
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				return 1;
		}
	}
	close(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kswitch [-r FD] NAME[=HOST:PORT]...\n"
	    "       kswitch -C HOST:PORT cut|hang|heal|delay|set|stat|quit [NAME [ARG]]\n"
	    "       kswitch -t HOST:PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	char caddr[64];
	FILE *rf;
	char *eq;
	int rfd = 1, i, fd;

	if (argc >= 3 && !strcmp(argv[1], "-C"))
		return client(argv[2], argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "-t")) {
		signal(SIGPIPE, SIG_IGN);
		return talk(argv[2]);
	}
	i = 1;
	if (argc >= 3 && !strcmp(argv[1], "-r")) {
		rfd = atoi(argv[2]);
		i = 3;
	}
	if (i >= argc)
		usage();
	nports = (size_t)(argc - i);
	ports = calloc(nports, sizeof(*ports));
	if (!ports)
		die("calloc");
	for (size_t k = 0; k < nports; k++, i++) {
		struct port *p = &ports[k];
		struct sockaddr_in sin;

		eq = strchr(argv[i], '=');
		if (eq)
			*eq = 0;
		if (!argv[i][0] || strlen(argv[i]) >= sizeof(p->name) || !strcmp(argv[i], "control") ||
		    strchr(argv[i], ' ') || port_find(argv[i]))
			usage();
		snprintf(p->name, sizeof(p->name), "%s", argv[i]);
		if (eq && eq[1]) {
			if (strlen(eq + 1) >= sizeof(p->up) || parse_addr(eq + 1, &sin) < 0) {
				fprintf(stderr, "kswitch: upstream '%s': not HOST:PORT\n", eq + 1);
				return 2;
			}
			snprintf(p->up, sizeof(p->up), "%s", eq + 1);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t k = 0; k < nports; k++)
		ports[k].lfd = listen_any(ports[k].addr, sizeof(ports[k].addr));
	ctl_lfd = listen_any(caddr, sizeof(caddr));
	fd = dup(rfd);
	if (fd < 0 || !(rf = fdopen(fd, "w")))
		die("readiness fd");
	for (size_t k = 0; k < nports; k++)
		fprintf(rf, "%s %s\n", ports[k].name, ports[k].addr);
	fprintf(rf, "control %s\n", caddr);
	if (fclose(rf) != 0)
		die("readiness fd");
	if (rfd != 1)
		close(rfd);
	serve();
	return 0;
}
