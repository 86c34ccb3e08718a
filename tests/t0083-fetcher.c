/* klog - tests for the follower's fetcher (fetcher.c) against a fake leader on the loop. MIT licence. */
/*
 * The leader here is a few dozen lines: an in-memory log of batches with
 * epochs, answering EPOCHEND, RFETCH and OFFSETS as the protocol says,
 * with knobs to misbehave (NOT_LEADER, a flipped byte, a dropped
 * connection).  The follower is another in-memory log behind the ops.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"
#include "tap.h"

static char err[KLOG_ERRLEN];
static struct klog_loop *loop;
static struct klog_builder bb;

struct mbatch {
	unsigned char *p;
	size_t len;
	int64_t base, last;
	int32_t epoch;
};
struct mlog {
	struct mbatch b[64];
	int n;
	int64_t start;
};

static struct mbatch
mk(int64_t base, int n, int32_t epoch, const char *tag)
{
	struct mbatch m;
	unsigned char *out;
	char v[64];

	klog_builder_reset(&bb);
	for (int i = 0; i < n; i++) {
		int l = snprintf(v, sizeof v, "%s-%" PRId64, tag, base + i);
		klog_builder_add(&bb, 1700000000000 + base + i, NULL, -1, v, l, NULL, 0);
	}
	klog_builder_finish(&bb, &out, &m.len, err);
	m.p = malloc(m.len);
	memcpy(m.p, out, m.len);
	klog_batch_set_base_offset(m.p, base);
	klog_batch_set_leader_epoch(m.p, epoch);
	m.base = base;
	m.last = base + n - 1;
	m.epoch = epoch;
	return m;
}

static int64_t
mend(const struct mlog *g)
{
	return g->n ? g->b[g->n - 1].last + 1 : g->start;
}

static void
mclear(struct mlog *g, int64_t start)
{
	for (int i = 0; i < g->n; i++)
		free(g->b[i].p);
	g->n = 0;
	g->start = start;
}

/* add n-record batches with this epoch up to offset `to` */
static void
madd(struct mlog *g, int n, int32_t epoch, int64_t to, const char *tag)
{
	while (mend(g) < to)
		g->b[g->n++] = mk(mend(g), n, epoch, tag);
}

static void
mcopy(struct mlog *dst, const struct mlog *src, int64_t to)
{
	mclear(dst, src->start);
	for (int i = 0; i < src->n && src->b[i].last < to; i++) {
		dst->b[dst->n] = src->b[i];
		dst->b[dst->n].p = malloc(src->b[i].len);
		memcpy(dst->b[dst->n].p, src->b[i].p, src->b[i].len);
		dst->n++;
	}
}

static int
msame(const struct mlog *a, const struct mlog *b)
{
	if (a->n != b->n || a->start != b->start)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->b[i].len != b->b[i].len || memcmp(a->b[i].p, b->b[i].p, a->b[i].len))
			return 0;
	return 1;
}

/* --- the fake leader ------------------------------------------------- */

static struct mlog L;
static int64_t L_hw = -1;               /* -1: the log end */
static int notleader, corrupt_next, close_next, nrfetch, nepochend, no_rfetch, nfetch;
static int lfd = -1, cfd = -1;
static char cbuf[65536];
static size_t clen;

static void
say(const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = send(cfd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
answer(char *line)
{
	char verb[32], topic[64], out[256];
	int64_t a = 0, b = 0;
	int part;
	int64_t end = mend(&L), hw = L_hw < 0 ? end : L_hw;

	if (sscanf(line, "%31s %63s %d %" SCNd64 " %" SCNd64, verb, topic, &part, &a, &b) < 3) {
		say("ERR BAD_REQUEST what\n", 21);
		return;
	}
	if (no_rfetch && (!strcmp(verb, "EPOCHEND") || !strcmp(verb, "RFETCH"))) {
		say("ERR UNKNOWN_COMMAND no such verb\n", 33);
		return;
	}
	if (!strcmp(verb, "FETCH")) {
		nfetch++;
		memcpy(verb, "RFETCH", 7);
	}
	if (!strcmp(verb, "EPOCHEND")) {
		int32_t e2 = -1;
		int64_t eend = -1;
		nepochend++;
		for (int i = 0; i < L.n; i++)
			if (L.b[i].epoch <= a)
				e2 = L.b[i].epoch;
		if (e2 >= 0) {
			eend = end;
			for (int i = 0; i < L.n; i++)
				if (L.b[i].epoch > e2) {
					eend = L.b[i].base;
					break;
				}
		}
		snprintf(out, sizeof out, "OK %" PRId32 " %" PRId64 "\n", e2, eend);
		say(out, strlen(out));
	} else if (!strcmp(verb, "OFFSETS")) {
		snprintf(out, sizeof out, "OK %" PRId64 " %" PRId64 "\n", L.start, hw);
		say(out, strlen(out));
	} else if (!strcmp(verb, "RFETCH")) {
		struct klog_buf d = { 0 };
		nrfetch++;
		if (close_next) {
			close_next--;
			shutdown(cfd, SHUT_RDWR);
			return;
		}
		if (notleader) {
			notleader--;
			snprintf(out, sizeof out, "ERR NOT_LEADER %s-%d: leader is node 2\n", topic, part);
			say(out, strlen(out));
			return;
		}
		if (a < L.start || a > end) {
			snprintf(out, sizeof out, "ERR OFFSET_OUT_OF_RANGE offset %" PRId64 "\n", a);
			say(out, strlen(out));
			return;
		}
		for (int i = 0; i < L.n; i++) {
			if (L.b[i].last < a || L.b[i].last >= hw)
				continue;
			if (d.len && d.len + L.b[i].len > (size_t)b)
				break;
			klog_buf_append(&d, L.b[i].p, L.b[i].len);
		}
		if (corrupt_next && d.len > 40) {
			corrupt_next--;
			d.data[d.len - 3] ^= 0x40;
		}
		snprintf(out, sizeof out, "DATA %zu %" PRId64 " %" PRId64 "\n", d.len, end, hw);
		say(out, strlen(out));
		say(d.data, d.len);
		klog_buf_free(&d);
	} else
		say("ERR UNKNOWN_COMMAND no\n", 23);
}

static void
on_conn(struct klog_loop *l, int fd, void *data, int mask)
{
	ssize_t n = recv(fd, cbuf + clen, sizeof cbuf - clen, MSG_DONTWAIT);
	char *nl;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		klog_loop_del(l, fd, KLOG_READABLE);
		close(fd);
		cfd = -1;
		return;
	}
	clen += (size_t)n;
	while ((nl = memchr(cbuf, '\n', clen))) {
		size_t ll = (size_t)(nl - cbuf) + 1;
		*nl = 0;
		answer(cbuf);
		memmove(cbuf, cbuf + ll, clen - ll);
		clen -= ll;
	}
}

static void
on_accept(struct klog_loop *l, int fd, void *data, int mask)
{
	int c = klog_net_accept(fd, NULL, 0);

	if (c < 0)
		return;
	if (cfd >= 0) {
		klog_loop_del(l, cfd, KLOG_READABLE);
		close(cfd);
	}
	cfd = c;
	clen = 0;
	klog_loop_add(l, c, KLOG_READABLE, on_conn, NULL);
}

/* --- the follower: ops over an in-memory log ------------------------- */

static struct mlog F;
static int async_append, fail_append, free_on_event;
static struct klog_fetcher *fetcher;
static char events[4096];
static int64_t last_hw = -1, F_hw = -1;

static int64_t
f_log_end(void *arg)
{
	return mend(&F);
}

static int32_t
f_latest_epoch(void *arg)
{
	return F.n ? F.b[F.n - 1].epoch : -1;
}

static int64_t
f_epoch_end(void *arg, int32_t e)
{
	for (int i = 0; i < F.n; i++)
		if (F.b[i].epoch > e)
			return F.b[i].base;
	return mend(&F);
}

static int64_t
f_hw(void *arg)
{
	return F_hw;
}

static int
f_truncate(void *arg, int64_t off, char *e)
{
	while (F.n && F.b[F.n - 1].base >= off)
		free(F.b[--F.n].p);
	if (mend(&F) != off && !(F.n == 0 && off <= F.start))
		return snprintf(e, KLOG_ERRLEN, "truncate to %" PRId64 ": not a boundary", off), -1;
	return 0;
}

static int
f_reset(void *arg, int64_t start, char *e)
{
	mclear(&F, start);
	return 0;
}

static int64_t
t_ready(struct klog_loop *l, void *data)
{
	klog_fetcher_ready(fetcher);
	return -1;
}

static int
f_append(void *arg, const unsigned char *p, size_t len, int64_t hw, char *e)
{
	size_t pos = 0;

	last_hw = hw;
	if (fail_append && len)
		return snprintf(e, KLOG_ERRLEN, "disk full"), -1;
	while (pos < len) {
		struct klog_batch b;
		struct mbatch m;
		if (klog_batch_parse(p + pos, len - pos, &b, e) != 1)
			return -1;
		if (b.base_offset < mend(&F))
			return snprintf(e, KLOG_ERRLEN, "base %" PRId64 " below the end", b.base_offset), -1;
		m.len = klog_batch_size(&b);
		m.p = malloc(m.len);
		memcpy(m.p, p + pos, m.len);
		m.base = b.base_offset;
		m.last = klog_batch_last(&b);
		m.epoch = b.leader_epoch;
		F.b[F.n++] = m;
		pos += m.len;
	}
	if (async_append && len) {
		klog_loop_timer(loop, 5, t_ready, NULL);
		return 0;
	}
	return 1;
}

static void
f_event(void *arg, const char *code, const char *msg)
{
	if (strlen(events) + strlen(code) + 2 < sizeof events) {
		strcat(events, code);
		strcat(events, " ");
	}
	if (free_on_event && !strcmp(code, "NOT_LEADER")) {
		klog_fetcher_free(fetcher);
		fetcher = NULL;
	}
}

static const struct klog_fetcher_ops ops = {
	f_log_end, f_latest_epoch, f_epoch_end, f_hw, f_truncate, f_reset, f_append, f_event, NULL
};

static char laddr[64];

static void
go(void)
{
	events[0] = 0;
	fetcher = klog_fetcher_new(loop, laddr, NULL, "t", 0, 1, 5, 0, 300, &ops, NULL, err);
	if (!fetcher)
		diag("fetcher: %s", err);
}

/* run until the follower's log equals the leader's up to the HW (5 s at most) */
static int
until_same(void)
{
	struct timespec t0, t;
	struct mlog want = { .n = 0 };
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		mcopy(&want, &L, L_hw < 0 ? INT64_MAX : L_hw);
		if (msame(&want, &F)) {
			rc = 0;
			break;
		}
		klog_loop_once(loop, 20);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			break;
	}
	mclear(&want, 0);
	return rc;
}

static void
spin(int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		klog_loop_once(loop, 10);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

int
main(void)
{
	struct klog_fetcher_stats st;

	signal(SIGPIPE, SIG_IGN);
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (!(loop = klog_loop_new(256, err)))
		skip_all("loop: %s", err);
	if ((lfd = klog_net_listen("127.0.0.1:0", 8, err)) < 0)
		skip_all("listen: %s", err);
	klog_net_local(lfd, laddr, sizeof laddr);
	klog_loop_add(loop, lfd, KLOG_READABLE, on_accept, NULL);

	/* an empty follower copies three epochs, batch for batch */
	madd(&L, 5, 0, 10, "a");
	madd(&L, 3, 1, 19, "b");
	madd(&L, 4, 2, 31, "c");
	go();
	ok(until_same() == 0, "an empty follower copies the leader's %d batches", L.n);
	cmp_ok(nepochend, ==, 0, "no EPOCHEND without an epoch of its own");
	cmp_ok(last_hw, ==, 31, "the leader's HW handed to append");
	klog_fetcher_stats(fetcher, &st);
	ok(st.records == 31 && st.leader_hw == 31, "stats: 31 records, HW 31");

	/* new data follows; appends durable later (klog_fetcher_ready) */
	async_append = 1;
	madd(&L, 2, 2, 41, "d");
	ok(until_same() == 0, "new batches follow, with appends made durable later");
	async_append = 0;

	/* the HW bounds what an observer gets */
	L_hw = 46;
	madd(&L, 5, 2, 50, "e");
	ok(until_same() == 0 && mend(&F) == 46, "served up to the HW (46) only");
	L_hw = -1;
	ok(until_same() == 0 && mend(&F) == 51, "then the rest (to %" PRId64 ")", mend(&F));
	klog_fetcher_free(fetcher);

	/* a divergent tail: the follower's epoch 1 records the leader never had */
	mclear(&L, 0);
	madd(&L, 5, 0, 10, "a");
	madd(&L, 5, 2, 20, "new");
	mcopy(&F, &L, 10);
	madd(&F, 3, 1, 16, "old");
	nepochend = 0;
	go();
	ok(until_same() == 0, "a divergent tail is replaced by the leader's");
	cmp_ok(nepochend, ==, 1, "after one EPOCHEND");
	ok(strstr(events, "TRUNCATED") != NULL, "event TRUNCATED (%s)", events);
	klog_fetcher_free(fetcher);

	/* the follower's epoch is the leader's but its batches differ in the tail:
	 * the leader's batch holds the follower's log end */
	mclear(&L, 0);
	madd(&L, 5, 0, 20, "a");
	mcopy(&F, &L, 5);
	madd(&F, 3, 0, 8, "x");
	go();
	ok(until_same() == 0, "a batch boundary that is not the leader's: fixed");
	ok(strstr(events, "DIVERGED") && strstr(events, "TRUNCATED"), "events DIVERGED, TRUNCATED (%s)",
	    events);
	klog_fetcher_free(fetcher);

	/* the leader knows no epoch this old: truncate to the follower's HW */
	mclear(&L, 0);
	madd(&L, 5, 3, 20, "a");
	mcopy(&F, &L, 10);
	madd(&F, 2, 1, 14, "y");
	F_hw = 10;
	go();
	ok(until_same() == 0, "EPOCHEND -1 -1: truncated to the own HW, then fetched");
	F_hw = -1;
	klog_fetcher_free(fetcher);

	/* below the leader's log start: reset */
	mclear(&L, 20);
	madd(&L, 5, 4, 40, "z");
	mclear(&F, 0);
	madd(&F, 5, 0, 5, "z");
	go();
	ok(until_same() == 0 && F.start == 20, "a follower below the log start starts over at 20");
	ok(strstr(events, "OFFSET_OUT_OF_RANGE") && strstr(events, "RESET"), "events (%s)", events);
	klog_fetcher_free(fetcher);

	/* a flipped byte in transit: nothing appended, fetched again */
	mclear(&F, 20);
	corrupt_next = 1;
	go();
	ok(until_same() == 0, "a corrupt answer is refused and fetched again");
	ok(strstr(events, "CORRUPT_BATCH") != NULL, "event CORRUPT_BATCH (%s)", events);
	cmp_ok(corrupt_next, ==, 0, "the corruption happened");

	/* the connection drops: reconnect and go on */
	close_next = 2;
	madd(&L, 5, 4, 60, "w");
	ok(until_same() == 0, "after two dropped connections, caught up");
	ok(strstr(events, "DISCONNECTED") != NULL, "event DISCONNECTED (%s)", events);
	klog_fetcher_stats(fetcher, &st);
	cmp_ok(st.reconnects, >=, 2, "stats: %" PRId64 " reconnects", st.reconnects);

	/* NOT_LEADER: retried */
	notleader = 2;
	madd(&L, 5, 4, 70, "v");
	ok(until_same() == 0, "NOT_LEADER twice, then caught up");
	ok(strstr(events, "NOT_LEADER") != NULL, "event NOT_LEADER");
	klog_fetcher_free(fetcher);

	/* freed from inside its own event callback */
	free_on_event = 1;
	notleader = 1;
	madd(&L, 5, 4, 80, "u");
	go();
	spin(300);
	ok(fetcher == NULL, "freed inside the NOT_LEADER event; the loop runs on (ASan watches)");
	free_on_event = 0;
	notleader = 0;

	/* a failing append stops the fetcher */
	fail_append = 1;
	go();
	spin(300);
	klog_fetcher_stats(fetcher, &st);
	is(st.state, "failed", "a failed append: state failed");
	ok(klog_fetcher_error(fetcher) && strstr(klog_fetcher_error(fetcher), "disk full"),
	    "and says why: %s", klog_fetcher_error(fetcher));
	ok(strstr(events, "FAILED") != NULL, "event FAILED");
	klog_fetcher_free(fetcher);
	fail_append = 0;

	/* an observer on a broker without RFETCH nor EPOCHEND: FETCH */
	no_rfetch = 1;
	mclear(&F, 20);
	madd(&F, 5, 4, 30, "z");        /* an epoch of its own: EPOCHEND is tried */
	mclear(&L, 20);
	madd(&L, 5, 4, 50, "z");
	events[0] = 0;
	fetcher = klog_fetcher_new(loop, laddr, NULL, "t", 0, -1, 5, 0, 300, &ops, NULL, err);
	ok(until_same() == 0 && nfetch > 0, "an observer falls back to FETCH (%d of them)", nfetch);
	is(events, "", "without events");
	klog_fetcher_free(fetcher);
	no_rfetch = 0;

	/* a leader that is not there: backoff, then it comes */
	{
		int port_fd = klog_net_listen("127.0.0.1:0", 1, err);
		char dead[64];
		klog_net_local(port_fd, dead, sizeof dead);
		close(port_fd);
		events[0] = 0;
		fetcher = klog_fetcher_new(loop, dead, NULL, "t", 0, 1, 5, 0, 300, &ops, NULL, err);
		spin(400);
		klog_fetcher_stats(fetcher, &st);
		ok(st.reconnects >= 2 && st.reconnects <= 5,
		    "refused: reconnects with backoff (%" PRId64 " in 400 ms)", st.reconnects);
		klog_fetcher_free(fetcher);
	}

	mclear(&L, 0);
	mclear(&F, 0);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	klog_loop_free(loop);
	klog_builder_free(&bb);
	return done_testing();
}
