/* klog - a test client of kbrokerd built on libklog/client.c. MIT licence. */
/*
 *	kbclient [-b ADDR] [-s SECRET] ping
 *	kbclient ... produce TOPIC PART N [-r SIZE] [-n PER_BATCH] [-w INFLIGHT] [-a ACKS] [-P PREFIX]
 *			[-k] [-T FILE]
 *		records "PREFIX-<i>" padded with '.' to SIZE bytes; prints the
 *		value of every acknowledged record (acks 0: every record sent);
 *		-k: an ERR answer prints "ERR CODE MESSAGE" for its batch and
 *		the rest goes on (exit 1 at the end); -T FILE: appends (O_APPEND,
 *		one write a line, so a fault trace can share the file) "kbclient
 *		sent TOPIC PART N PID" before each batch goes, "kbclient ok TOPIC
 *		PART FIRST LAST PID" or "kbclient err TOPIC PART CODE PID" when its
 *		answer came (PID tells the clients sharing a file apart)
 *	kbclient ... consume TOPIC PART [-o OFFSET] [-c COUNT] [-W WAIT_MS] [-m MAX_BYTES]
 *		prints "OFFSET VALUE" per record until COUNT records or a fetch
 *		that waited WAIT_MS (default 0) came back empty
 *	kbclient ... bench-produce TOPIC PART N [-r SIZE] [-n PER_BATCH] [-w INFLIGHT]
 *	kbclient ... bench-consume TOPIC PART N [-m MAX_BYTES]
 *		print "records/s MB/s" on stdout
 *	kbclient ... latency TOPIC PART RATE SECONDS
 *		one-record produces at RATE/s while a forked consumer follows
 *		with long polls; prints p50, p99, max of produce-to-consume time
 *	kbclient ... park TOPIC PART PER_CONN CONNS [-o OFFSET] [-W WAIT_MS] [-m MAX_BYTES]
 *		CONNS raw connections each pipeline PER_CONN fetches (long polls
 *		with -W); prints "sent" once all are written, then reads every
 *		answer and prints "data D busy B other O" (answers by kind)
 *	kbclient ... noread TOPIC PART PER_CONN CONNS [-o OFFSET] [-m MAX_BYTES]
 *		CONNS raw connections each pipeline PER_CONN fetches and never
 *		read; prints "sent" once all are written, then waits to be killed
 *	kbclient ... wake-ping TOPIC PART
 *		produce one record, then time a PING on a new connection
 *		(connect included); prints the milliseconds
 *	kbclient ... topics | describe TOPIC | create TOPIC N [k=v...] | stats | offsets TOPIC PART
 * Raw connections, for the broker's connection limits (-B ADDR binds the
 * client side to ADDR first, e.g. 127.0.0.2, so one host has many sources):
 *	kbclient ... hold [-B ADDR] [-p PARTIAL] N
 *		opens N connections, PINGs on each and prints "I PORT REPLY" (the
 *		local port; REPLY "closed" if none), then sends PARTIAL (no newline:
 *		a request in progress), prints "ready" and waits for the end of
 *		stdin; then prints "I PORT open" or "I PORT shed[: LINE]" for each
 *		that answered the PING
 *	kbclient ... drip [-B ADDR] [-i MS] [-c CHUNK]
 *		sends stdin CHUNK bytes (default 1) every MS ms (default 100),
 *		copies what comes back to stdout, and ends with "closed after N of
 *		M bytes" when the broker closes (or "open after M of M bytes" 10 s
 *		after the last byte went)
 *	kbclient ... burst [-B ADDR] N SIZE [SENT]
 *		N connections each announce "PRODUCE burst 0 1 SIZE" and send SENT
 *		bytes (default SIZE - 1) of it; prints "sent N of N", waits for the
 *		end of stdin, closes them all
 * Exit 0, 1 on failure (message on stderr), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"

static struct klog_client *c;
static char err[KLOG_ERRLEN];

static void
die(const char *what)
{
	fprintf(stderr, "kbclient: %s%s%s\n", what, *err ? ": " : "", err);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rsize = 0, per_batch = 100, inflight = 16, acks = 1;
static int64_t start_off = 0, count = -1, maxb = 1 << 20;
static int wait_ms = 0;
static const char *prefix = "r";
static int keep_going, trace_fd = -1, failed;

static void
opts(int argc, char **argv)
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "r:n:w:a:P:o:c:W:m:kT:")) != -1) {
		switch (ch) {
		case 'r': rsize = atoi(optarg); break;
		case 'n': per_batch = atoi(optarg); break;
		case 'w': inflight = atoi(optarg); break;
		case 'a': acks = !strcmp(optarg, "all") ? -1 : atoi(optarg); break;
		case 'P': prefix = optarg; break;
		case 'o': start_off = atoll(optarg); break;
		case 'c': count = atoll(optarg); break;
		case 'W': wait_ms = atoi(optarg); break;
		case 'm': maxb = atoll(optarg); break;
		case 'k': keep_going = 1; break;
		case 'T':
			if ((trace_fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
				snprintf(err, sizeof err, "%s: %s", optarg, strerror(errno));
				die("trace");
			}
			break;
		default: exit(2);
		}
	}
}

/* one line into the -T file */
static void
trace(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (trace_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 24, fmt, ap);
	va_end(ap);
	if (n >= 0 && n < (int)sizeof line - 24)
		n += snprintf(line + n, 24, " %ld\n", (long)getpid());
	if (n < 0 || n >= (int)sizeof line || write(trace_fd, line, (size_t)n) != n) {
		snprintf(err, sizeof err, "%s", strerror(errno));
		die("trace");
	}
}

/* acknowledged batch ranges waiting for their ack: first record index, count */
struct pend {
	int64_t first, n;
};

static void
produce(const char *topic, int part, int64_t n, int print)
{
	struct klog_builder bb;
	struct pend *q = calloc((size_t)inflight + 1, sizeof *q);
	int qh = 0, qn = 0;
	int64_t i = 0, f, l, total = 0;
	char *val = malloc((size_t)(rsize > 64 ? rsize : 64) + 64);
	double t0 = now();
	FILE *out = stdout;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	while (i < n || qn > 0) {
		if (i < n && qn < inflight) {
			int64_t k, first = i;
			unsigned char *batch;
			size_t len;
			klog_builder_reset(&bb);
			for (k = 0; k < per_batch && i < n; k++, i++) {
				int vl = snprintf(val, 64, "%s-%" PRId64, prefix, i);
				while (vl < rsize)
					val[vl++] = '.';
				if (klog_builder_add(&bb, klog_now_ms(), NULL, -1, val, vl, NULL, 0) < 0)
					die("builder");
			}
			if (klog_builder_finish(&bb, &batch, &len, err) < 0)
				die("builder");
			trace("kbclient sent %s %d %" PRId64, topic, part, i - first);
			if (klog_client_produce_send(c, topic, part, acks, batch, len, err) < 0)
				die("produce");
			if (acks == 0) {
				if (print)
					for (k = first; k < i; k++)
						fprintf(out, "%s-%" PRId64 "\n", prefix, k);
				total += i - first;
				continue;
			}
			q[(qh + qn) % (inflight + 1)] = (struct pend){ first, i - first };
			qn++;
			continue;
		}
		if (qn == 0)
			break;
		if (klog_client_produce_ack(c, &f, &l, err) < 0) {
			const char *code = *klog_client_code(c) ? klog_client_code(c) : "-";
			trace("kbclient err %s %d %s", topic, part, code);
			if (!keep_going)
				die("produce");
			fprintf(out, "ERR %s %s\n", code, err);
			fflush(out);
			failed = 1;
			qh = (qh + 1) % (inflight + 1);
			qn--;
			continue;
		}
		trace("kbclient ok %s %d %" PRId64 " %" PRId64, topic, part, f, l);
		if (l - f + 1 != q[qh].n) {
			snprintf(err, sizeof err, "ack covers %" PRId64 " records, sent %" PRId64,
			    l - f + 1, q[qh].n);
			die("produce");
		}
		if (print) {
			int64_t k;
			for (k = q[qh].first; k < q[qh].first + q[qh].n; k++)
				fprintf(out, "%s-%" PRId64 "\n", prefix, k);
			fflush(out);
		}
		total += q[qh].n;
		qh = (qh + 1) % (inflight + 1);
		qn--;
	}
	if (!print) {
		double dt = now() - t0;
		printf("produce %" PRId64 " records in %.3f s: %.0f records/s\n", total, dt,
		    (double)total / dt);
	}
	klog_builder_free(&bb);
	free(q);
	free(val);
}

static void
consume(const char *topic, int part, int64_t n, int print)
{
	struct klog_buf buf = { 0 };
	struct klog_rec_iter it;
	int64_t off = start_off, got = 0, next, end;
	size_t bytes = 0;
	double t0 = now();

	klog_rec_iter_init0(&it);
	while (n < 0 || got < n) {
		ssize_t r;
		size_t pos;
		buf.len = 0;
		r = klog_client_fetch(c, topic, part, off, (size_t)maxb, wait_ms, 1, &buf, &next, &end, err);
		if (r < 0)
			die("fetch");
		if (r == 0) {
			if (n < 0 || wait_ms == 0)
				break;
			continue;
		}
		bytes += (size_t)r;
		for (pos = 0; pos < buf.len;) {
			struct klog_batch b;
			struct klog_record rec;
			int k;
			if (klog_batch_parse(buf.data + pos, buf.len - pos, &b, err) != 1 ||
			    klog_batch_verify(buf.data + pos, &b, err) < 0)
				die("bad batch");
			if (print || klog_batch_last(&b) >= off) {
				if (klog_rec_iter_start(&it, buf.data + pos, &b, err) < 0)
					die("batch");
				while ((k = klog_rec_iter_next(&it, &rec, err)) == 1) {
					if (rec.offset < off)
						continue;
					if (n >= 0 && got >= n)
						break;
					got++;
					if (print)
						printf("%" PRId64 " %.*s\n", rec.offset,
						    rec.value_len < 0 ? 0 : rec.value_len, rec.value);
				}
				if (k < 0)
					die("record");
			}
			pos += klog_batch_size(&b);
		}
		off = next;
	}
	if (!print) {
		double dt = now() - t0;
		printf("consume %" PRId64 " records in %.3f s: %.0f records/s, %.1f MB/s\n", got, dt,
		    (double)got / dt, (double)bytes / dt / 1e6);
	}
	klog_rec_iter_free(&it);
	klog_buf_free(&buf);
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the consumer half: reads n records from offset, latency from the stamp in each value */
static void
follow(const char *addr, const char *secret, const char *topic, int part, int64_t off, int64_t n,
    int wfd)
{
	struct klog_client *fc = klog_client_open(addr, secret, err);
	struct klog_buf buf = { 0 };
	struct klog_rec_iter it;
	double *lat = calloc((size_t)n, sizeof *lat);
	int64_t got = 0, next, end;

	if (!fc || !lat)
		die("follow");
	klog_rec_iter_init0(&it);
	if (write(wfd, "r", 1) != 1)
		die("pipe");
	while (got < n) {
		size_t pos;
		buf.len = 0;
		if (klog_client_fetch(fc, topic, part, off, 1 << 20, 1000, 1, &buf, &next, &end, err) < 0)
			die("fetch");
		for (pos = 0; pos < buf.len;) {
			struct klog_batch b;
			struct klog_record r;
			double t = now();
			if (klog_batch_parse(buf.data + pos, buf.len - pos, &b, err) != 1 ||
			    klog_rec_iter_start(&it, buf.data + pos, &b, err) < 0)
				die("batch");
			while (klog_rec_iter_next(&it, &r, err) == 1 && got < n)
				if (r.offset >= off && r.value_len > 0) {
					char v[64];
					snprintf(v, sizeof v, "%.*s", r.value_len < 63 ? r.value_len : 63, r.value);
					lat[got++] = t - atof(v);
				}
			pos += klog_batch_size(&b);
		}
		off = next;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmpd);
	printf("latency %" PRId64 " records: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", n,
	    lat[n / 2] * 1e3, lat[n * 99 / 100] * 1e3, lat[n * 999 / 1000] * 1e3, lat[n - 1] * 1e3);
	fflush(stdout);
	exit(0);
}

static void
latency(const char *addr, const char *secret, const char *topic, int part, int rate, int secs)
{
	struct klog_builder bb;
	int64_t n = (int64_t)rate * secs, i, off, f, l;
	int p[2], st;
	char x, v[64];
	pid_t pid;
	double t0;

	if (klog_client_offsets(c, topic, part, NULL, &off, err) < 0)
		die("offsets");
	if (pipe(p) < 0)
		die("pipe");
	if ((pid = fork()) == 0)
		follow(addr, secret, topic, part, off, n, p[1]);
	if (read(p[0], &x, 1) != 1)
		die("follower");
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	t0 = now();
	for (i = 0; i < n; i++) {
		unsigned char *batch;
		size_t len;
		double due = t0 + (double)i / rate;
		/* sleep to the due time (no spinning: the producer must not take a
		 * core from the broker it measures) */
		if (now() < due) {
			struct timespec ts;
			ts.tv_sec = (time_t)due;
			ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		klog_builder_reset(&bb);
		snprintf(v, sizeof v, "%.9f", now());
		klog_builder_add(&bb, klog_now_ms(), NULL, -1, v, (int32_t)strlen(v), NULL, 0);
		if (klog_builder_finish(&bb, &batch, &len, err) < 0 ||
		    klog_client_produce_send(c, topic, part, 1, batch, len, err) < 0)
			die("produce");
		while (klog_client_inflight(c) > 64)
			if (klog_client_produce_ack(c, &f, &l, err) < 0)
				die("ack");
	}
	while (klog_client_inflight(c) > 0)
		if (klog_client_produce_ack(c, &f, &l, err) < 0)
			die("ack");
	klog_builder_free(&bb);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("follower failed");
}

/* a raw protocol connection (AUTH done when there is a secret) */
static int
raw_conn(const char *addr, const char *secret)
{
	char line[256];
	int fd = klog_net_connect(addr, 10000, err);

	if (fd < 0)
		die("connect");
	if (!secret && (secret = getenv("KLOG_SECRET")) && !*secret)
		secret = NULL;
	if (secret) {
		int n = snprintf(line, sizeof line, "AUTH %s\n", secret);
		if (n < 0 || n >= (int)sizeof line || write(fd, line, (size_t)n) != n)
			die("auth");
		/* one byte at a time: nothing past the answer may be consumed */
		for (n = 0; n < (int)sizeof line - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n'; n++)
			;
		line[n] = 0;
		if (strncmp(line, "OK", 2) != 0)
			die(line);
	}
	return fd;
}

/* pipeline per_conn fetches on each of nconn raw connections */
static int *
send_fetches(const char *addr, const char *secret, const char *topic, int part, int per_conn,
    int nconn)
{
	int *fds = calloc((size_t)nconn, sizeof *fds), i, k;
	char line[512];

	if (!fds)
		die("out of memory");
	for (i = 0; i < nconn; i++)
		fds[i] = raw_conn(addr, secret);
	for (k = 0; k < per_conn; k++)
		for (i = 0; i < nconn; i++) {
			int n = snprintf(line, sizeof line, "FETCH %s %d %" PRId64 " %" PRId64 " %d\n",
			    topic, part, start_off, maxb, wait_ms);
			if (n < 0 || n >= (int)sizeof line || write(fds[i], line, (size_t)n) != n) {
				snprintf(err, sizeof err, "%s", strerror(errno));
				die("send");
			}
		}
	puts("sent");
	fflush(stdout);
	return fds;
}

static void
park(const char *addr, const char *secret, const char *topic, int part, int per_conn, int nconn)
{
	int *fds = send_fetches(addr, secret, topic, part, per_conn, nconn), i, k;
	long data = 0, busy = 0, other = 0;
	char *line = NULL, skip[65536];
	size_t cap = 0;

	for (i = 0; i < nconn; i++) {
		FILE *f = fdopen(fds[i], "r");
		if (!f)
			die("fdopen");
		for (k = 0; k < per_conn; k++) {
			size_t len;
			if (getline(&line, &cap, f) < 0)
				die("connection closed early");
			if (sscanf(line, "DATA %zu", &len) == 1) {
				data++;
				while (len > 0) {
					size_t n = fread(skip, 1, len < sizeof skip ? len : sizeof skip, f);
					if (n == 0)
						die("connection closed in fetch data");
					len -= n;
				}
			} else if (!strncmp(line, "ERR BUSY ", 9))
				busy++;
			else {
				other++;
				fprintf(stderr, "kbclient: park: %s", line);
			}
		}
		fclose(f);
	}
	free(line);
	free(fds);
	printf("data %ld busy %ld other %ld\n", data, busy, other);
}

static void
noread(const char *addr, const char *secret, const char *topic, int part, int per_conn, int nconn)
{
	send_fetches(addr, secret, topic, part, per_conn, nconn);
	for (;;)
		pause();
}

static void
wake_ping(const char *addr, const char *secret, const char *topic, int part)
{
	struct klog_builder bb;
	struct klog_client *p;
	unsigned char *batch;
	size_t len;
	int64_t f, l;
	double t0;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (klog_builder_add(&bb, klog_now_ms(), NULL, -1, "wake", 4, NULL, 0) < 0 ||
	    klog_builder_finish(&bb, &batch, &len, err) < 0)
		die("batch");
	if (klog_client_produce(c, topic, part, 1, batch, len, &f, &l, err) < 0)
		die("produce");
	t0 = now();
	if (!(p = klog_client_open(addr, secret, err)) || klog_client_ping(p, err) < 0)
		die("ping");
	printf("%.3f\n", (now() - t0) * 1e3);
	klog_client_close(p);
	klog_builder_free(&bb);
}

/* --- raw connections (hold, drip, burst) ----------------------------- */

static const char *src_addr;            /* -B: the local address to bind */

/* a blocking connection to addr (the first of a list), bound to src_addr */
static int
raw_connect(const char *addrs)
{
	char addr[300], host[256], port[16];
	struct addrinfo hints, *res = NULL, *src = NULL;
	struct timeval tv = { 10, 0 };
	int fd, rc;

	snprintf(addr, sizeof addr, "%s", addrs ? addrs : "");
	addr[strcspn(addr, ",")] = 0;
	if (klog_net_split(addr, host, sizeof host, port, sizeof port, "127.0.0.1", err) < 0)
		die("address");
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0 ||
	    (src_addr && (rc = getaddrinfo(src_addr, "0", &hints, &src)) != 0)) {
		snprintf(err, sizeof err, "%s", gai_strerror(rc));
		die("resolve");
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    (src && bind(fd, src->ai_addr, src->ai_addrlen) < 0) ||
	    connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		snprintf(err, sizeof err, "%s", strerror(errno));
		die("connect");
	}
	/* bounded: a test never hangs on a broker that stopped answering */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	freeaddrinfo(res);
	if (src)
		freeaddrinfo(src);
	return fd;
}

static int
raw_port(int fd)
{
	char a[128], *p;

	if (klog_net_local(fd, a, sizeof a) < 0 || !(p = strrchr(a, ':')))
		return 0;
	return atoi(p + 1);
}

/* one reply line (without its newline) into line; 0 at EOF or an error */
static int
raw_line(int fd, char *line, size_t n)
{
	size_t k = 0;
	char ch;

	while (k + 1 < n && read(fd, &ch, 1) == 1) {
		if (ch == '\n') {
			line[k] = 0;
			return 1;
		}
		line[k++] = ch;
	}
	line[k] = 0;
	return k > 0;
}

static void
wait_stdin(void)
{
	char buf[256];

	while (read(0, buf, sizeof buf) > 0)
		;
}

static int
raw_opts(int argc, char **argv, const char *spec, int *ms, int *chunk, const char **partial)
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, spec)) != -1) {
		switch (ch) {
		case 'B': src_addr = optarg; break;
		case 'i': *ms = atoi(optarg); break;
		case 'c': *chunk = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'p': *partial = optarg; break;
		default: exit(2);
		}
	}
	return optind;
}

static void
hold(const char *addr, int argc, char **argv)
{
	const char *partial = NULL;
	int ms = 0, chunk = 1, n, i, *fds, *port;
	char line[512];

	i = raw_opts(argc, argv, "B:p:", &ms, &chunk, &partial);
	if (i >= argc || (n = atoi(argv[i])) <= 0)
		exit(2);
	fds = calloc((size_t)n, sizeof *fds);
	port = calloc((size_t)n, sizeof *port);
	for (i = 0; i < n; i++) {
		fds[i] = raw_connect(addr);
		port[i] = raw_port(fds[i]);
		if (write(fds[i], "PING\n", 5) != 5 || !raw_line(fds[i], line, sizeof line))
			snprintf(line, sizeof line, "closed");
		printf("%d %d %s\n", i, port[i], line);
		if (strcmp(line, "OK PONG")) {
			close(fds[i]);
			fds[i] = -1;
		} else if (partial && write(fds[i], partial, strlen(partial)) < 0)
			die("write");
	}
	printf("ready\n");
	fflush(stdout);
	wait_stdin();
	for (i = 0; i < n; i++) {
		struct pollfd p = { fds[i], POLLIN, 0 };
		if (fds[i] < 0)
			continue;
		if (poll(&p, 1, 0) == 1) {
			if (raw_line(fds[i], line, sizeof line))
				printf("%d %d shed: %s\n", i, port[i], line);
			else
				printf("%d %d shed\n", i, port[i]);
		} else
			printf("%d %d open\n", i, port[i]);
		close(fds[i]);
	}
	free(fds);
	free(port);
}

/* for wait ms, copy what the broker sends to stdout; 0 once it closed */
static int
drip_read(int fd, int wait)
{
	struct pollfd p = { fd, POLLIN, 0 };
	double end = now() + wait / 1e3, left;
	char buf[4096];
	ssize_t r;

	while ((left = end - now()) > 0 && poll(&p, 1, (int)(left * 1e3) + 1) == 1) {
		if ((r = read(fd, buf, sizeof buf)) <= 0)
			return 0;
		fwrite(buf, 1, (size_t)r, stdout);
		fflush(stdout);
	}
	return 1;
}

static void
drip(const char *addr, int argc, char **argv)
{
	struct klog_buf in = { 0 };
	const char *partial = NULL;
	int ms = 100, chunk = 1, fd, open_ = 1;
	size_t off = 0;
	char buf[65536];
	ssize_t r;

	raw_opts(argc, argv, "B:i:c:", &ms, &chunk, &partial);
	while ((r = read(0, buf, sizeof buf)) > 0)
		klog_buf_append(&in, buf, (size_t)r);
	fd = raw_connect(addr);
	while (off < in.len && open_) {
		size_t k = in.len - off < (size_t)chunk ? in.len - off : (size_t)chunk;
		if ((r = send(fd, in.data + off, k, MSG_NOSIGNAL)) <= 0)
			break;
		off += (size_t)r;
		if (off < in.len)
			open_ = drip_read(fd, ms);
	}
	if (open_)
		open_ = drip_read(fd, 10000);
	printf("%s after %zu of %zu bytes\n", open_ ? "open" : "closed", off, in.len);
	close(fd);
	klog_buf_free(&in);
}

static void
burst(const char *addr, int argc, char **argv)
{
	const char *partial = NULL;
	int ms = 0, chunk = 1, n, i, *fds, ok = 0;
	long long size, sent;
	char buf[65536];

	i = raw_opts(argc, argv, "B:", &ms, &chunk, &partial);
	if (argc - i < 2 || (n = atoi(argv[i])) <= 0 || (size = atoll(argv[i + 1])) <= 0)
		exit(2);
	sent = argc - i > 2 ? atoll(argv[i + 2]) : size - 1;
	memset(buf, 'x', sizeof buf);
	fds = calloc((size_t)n, sizeof *fds);
	for (i = 0; i < n; i++) {
		char line[128];
		long long left = sent;
		int k = snprintf(line, sizeof line, "PRODUCE burst 0 1 %lld\n", size);
		fds[i] = raw_connect(addr);
		if (send(fds[i], line, (size_t)k, MSG_NOSIGNAL) != k)
			continue;
		while (left > 0) {
			ssize_t w = send(fds[i], buf, left < (long long)sizeof buf ? (size_t)left :
			    sizeof buf, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			left -= w;
		}
		ok += left == 0;
	}
	printf("sent %d of %d\n", ok, n);
	fflush(stdout);
	wait_stdin();
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

int
main(int argc, char **argv)
{
	const char *addr = getenv("KLOG_BROKERS"), *secret = NULL, *cmd;
	int i = 1;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	while (i + 1 < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-b"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "-s"))
			secret = argv[i + 1];
		else
			return 2;
		i += 2;
	}
	if (i >= argc)
		return 2;
	cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "hold") || !strcmp(cmd, "drip") || !strcmp(cmd, "burst")) {
		(cmd[0] == 'h' ? hold : cmd[0] == 'd' ? drip : burst)(addr, argc, argv);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (!(c = klog_client_open(addr, secret, err)))
		die("connect");
	if (!strcmp(cmd, "ping")) {
		if (klog_client_ping(c, err) < 0)
			die("ping");
		puts("pong");
	} else if (!strcmp(cmd, "produce") || !strcmp(cmd, "bench-produce")) {
		if (argc < 4)
			return 2;
		opts(argc - 3, argv + 3);
		produce(argv[1], atoi(argv[2]), atoll(argv[3]), cmd[0] == 'p');
	} else if (!strcmp(cmd, "consume")) {
		if (argc < 3)
			return 2;
		opts(argc - 2, argv + 2);
		consume(argv[1], atoi(argv[2]), count, 1);
	} else if (!strcmp(cmd, "bench-consume")) {
		if (argc < 4)
			return 2;
		opts(argc - 3, argv + 3);
		consume(argv[1], atoi(argv[2]), atoll(argv[3]), 0);
	} else if (!strcmp(cmd, "latency") && argc >= 5) {
		fflush(stdout);
		latency(addr, secret, argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	} else if ((!strcmp(cmd, "park") || !strcmp(cmd, "noread")) && argc >= 5) {
		opts(argc - 4, argv + 4);
		if (cmd[0] == 'p')
			park(addr, secret, argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
		else
			noread(addr, secret, argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	} else if (!strcmp(cmd, "wake-ping") && argc >= 3) {
		wake_ping(addr, secret, argv[1], atoi(argv[2]));
	} else if (!strcmp(cmd, "topics")) {
		char **v;
		size_t n, k;
		if (klog_client_topics(c, &v, &n, err) < 0)
			die("topics");
		for (k = 0; k < n; k++)
			puts(v[k]);
		klog_strv_free(v, n);
	} else if (!strcmp(cmd, "create") && argc >= 3) {
		if (klog_client_create(c, argv[1], atoi(argv[2]), argv + 3, argc - 3, err) < 0)
			die("create");
	} else if (!strcmp(cmd, "describe") && argc >= 2) {
		struct klog_part_info *p;
		int n, k;
		if (klog_client_describe(c, argv[1], &p, &n, err) < 0)
			die("describe");
		for (k = 0; k < n; k++)
			printf("%s\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%" PRId64 "\n", argv[1], k,
			    p[k].log_start, p[k].log_end, p[k].segments, p[k].bytes);
		free(p);
	} else if (!strcmp(cmd, "offsets") && argc >= 3) {
		int64_t s, e;
		if (klog_client_offsets(c, argv[1], atoi(argv[2]), &s, &e, err) < 0)
			die("offsets");
		printf("%" PRId64 " %" PRId64 "\n", s, e);
	} else if (!strcmp(cmd, "stats")) {
		struct klog_buf b = { 0 };
		if (klog_client_stats(c, &b, err) < 0)
			die("stats");
		fwrite(b.data, 1, b.len, stdout);
		klog_buf_free(&b);
	} else
		return 2;
	klog_client_close(c);
	return fflush(stdout) == 0 && !failed ? 0 : 1;
}
