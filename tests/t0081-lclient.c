/* klog - tests for the loop's client connection (lclient.c) against a real broker. MIT licence. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"
#include "tap.h"

static char tmpdir[64], err[KLOG_ERRLEN];
static struct klog_broker *srv, *all[2];       /* all: reachable, for the leak checker */
static int nall;
static struct klog_loop *loop;

static void
onterm(int sig)
{
	klog_broker_shutdown(srv);
}

/* a broker on an ephemeral port, running in a child; returns its pid */
static pid_t
serve(const char *dir, const char *secret, char *addr, size_t n)
{
	struct klog_broker_opts o;
	pid_t pid;

	klog_broker_defaults(&o);
	o.dir = dir;
	o.listen = "127.0.0.1:0";
	o.secret = secret;
	if (!(srv = klog_broker_open(&o, err))) {
		diag("broker: %s", err);
		exit(1);
	}
	snprintf(addr, n, "%s", klog_broker_address(srv));
	if ((pid = fork()) == 0) {
		signal(SIGTERM, onterm);
		signal(SIGPIPE, SIG_IGN);
		int rc = klog_broker_run(srv, err) < 0 ? 1 : 0;
		klog_broker_close(srv);
		_exit(rc);
	}
	all[nall++] = srv;              /* the parent's copy, kept: the child serves */
	return pid;
}

static int
stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* every reply seen, in order */
#define MAXR 2000
struct got {
	int kind, tag;
	char code[48];
	char line[256];
	unsigned char *data;
	size_t len, nlines;
};
static struct got got[MAXR];
static int ngot;
static struct klog_lc *close_in_cb;     /* close this one from the next callback */

static void
record(struct klog_lc *lc, void *arg, struct klog_lc_reply *r)
{
	struct got *g;

	if (ngot == MAXR)
		return;
	g = &got[ngot++];
	g->kind = r->kind;
	g->tag = (int)(intptr_t)arg;
	snprintf(g->code, sizeof g->code, "%s", r->code);
	snprintf(g->line, sizeof g->line, "%s", r->line ? r->line : "(null)");
	g->len = r->len;
	g->nlines = r->nlines;
	g->data = NULL;
	if (r->data && r->len) {
		g->data = malloc(r->len + 1);
		memcpy(g->data, r->data, r->len);
		g->data[r->len] = 0;
	}
	if (close_in_cb == lc) {
		close_in_cb = NULL;
		klog_lc_close(lc);
		/* a send after close is refused */
		if (klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, NULL) != -1)
			g->tag = -999;
	}
}

static void
reset(void)
{
	for (int i = 0; i < ngot; i++)
		free(got[i].data);
	ngot = 0;
}

/* run the loop until n replies arrived (10 s at most) */
static int
wait_for(int n)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ngot < n) {
		klog_loop_once(loop, 100);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -1;
	}
	return 0;
}

static size_t
batch(struct klog_builder *bb, int n, const char *prefix, unsigned char **out)
{
	size_t len;
	char v[64];
	int i;

	klog_builder_reset(bb);
	for (i = 0; i < n; i++) {
		int l = snprintf(v, sizeof v, "%s%d", prefix, i);
		klog_builder_add(bb, klog_now_ms(), NULL, -1, v, l, NULL, 0);
	}
	klog_builder_finish(bb, out, &len, err);
	return len;
}

int
main(void)
{
	struct klog_builder bb;
	struct klog_lc *lc;
	char addr[128], addr2[128], line[256], dir2[96];
	unsigned char *data;
	size_t len;
	int i, inorder, lfd;
	pid_t pid, pid2;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/klog-t0081-XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("mkdtemp");
	pid = serve(tmpdir, NULL, addr, sizeof addr);
	klog_builder_init(&bb, KLOG_CODEC_NONE);
	if (!(loop = klog_loop_new(1024, err)))
		skip_all("loop: %s", err);

	/* pipelining: 500 requests sent before any answer is read */
	ok((lc = klog_lc_open(loop, addr, NULL, err)) != NULL, "open %s", addr);
	if (!lc) {
		diag("%s", err);
		return done_testing();
	}
	for (i = 0; i < 500; i++) {
		snprintf(line, sizeof line, "PING w%d", i);
		if (klog_lc_send(lc, KLOG_LC_OK, line, NULL, 0, record, (void *)(intptr_t)i) < 0)
			break;
	}
	cmp_ok(klog_lc_pending(lc), ==, 500, "500 requests pending before the loop runs");
	ok(wait_for(500) == 0, "500 answers");
	inorder = 1;
	for (i = 0; i < 500; i++) {
		snprintf(line, sizeof line, "PONG w%d", i);
		if (got[i].kind != KLOG_LC_OK || got[i].tag != i || strcmp(got[i].line, line))
			inorder = 0;
	}
	ok(inorder, "every callback once, in request order, with its words (%s)", got[0].line);
	cmp_ok(klog_lc_pending(lc), ==, 0, "nothing pending");
	reset();

	/* OK, LIST, DATA with a payload sent and bytes received, ERR */
	klog_lc_send(lc, KLOG_LC_OK, "CREATE orders 2\n", NULL, 0, record, (void *)1);
	len = batch(&bb, 10, "a", &data);
	snprintf(line, sizeof line, "PRODUCE orders 1 1 %zu", len);
	klog_lc_send(lc, KLOG_LC_OK, line, data, len, record, (void *)2);
	klog_lc_send(lc, KLOG_LC_LIST, "TOPICS", NULL, 0, record, (void *)3);
	klog_lc_send(lc, KLOG_LC_LIST, "DESCRIBE orders", NULL, 0, record, (void *)4);
	klog_lc_send(lc, KLOG_LC_OK, "FETCH orders 1 0 1048576 5000", NULL, 0, record, (void *)5);
	klog_lc_send(lc, KLOG_LC_OK, "FETCH nosuch 0 0 100", NULL, 0, record, (void *)6);
	klog_lc_send(lc, KLOG_LC_LIST, "CONFIG nosuch", NULL, 0, record, (void *)7);
	klog_lc_send(lc, KLOG_LC_OK, "STATS", NULL, 0, record, (void *)8);
	ok(wait_for(8) == 0, "8 answers");
	ok(got[0].kind == KLOG_LC_OK && got[0].tag == 1, "CREATE: OK");
	ok(got[1].kind == KLOG_LC_OK && !strcmp(got[1].line, "0 9"), "PRODUCE: OK 0 9 (%s)",
	    got[1].line);
	ok(got[2].kind == KLOG_LC_LIST && got[2].nlines == 1 && got[2].data &&
	    !strcmp((char *)got[2].data, "orders"), "TOPICS: a list of 1 line, 'orders'");
	ok(got[3].kind == KLOG_LC_LIST && got[3].nlines == 2 && got[3].data &&
	    strchr((char *)got[3].data, '\n') && !strstr((char *)got[3].data, "\n\n") &&
	    got[3].len == strlen((char *)got[3].data), "DESCRIBE: 2 lines joined by one newline");
	ok(got[4].kind == KLOG_LC_DATA && got[4].len == len && !strcmp(got[4].line, "10 10"),
	    "FETCH: DATA of the batch's %zu bytes, words '10 10' (%s, %zu)", len, got[4].line,
	    got[4].len);
	ok(got[4].data && !memcmp(got[4].data + 16, data + 16, len - 16),
	    "the bytes are the batch's (past base offset and leader epoch)");
	ok(got[5].kind == KLOG_LC_ERR && !strcmp(got[5].code, "UNKNOWN_TOPIC") &&
	    strstr(got[5].line, "nosuch"), "ERR: code %s, message '%s'", got[5].code, got[5].line);
	ok(got[6].kind == KLOG_LC_ERR && !strcmp(got[6].code, "UNKNOWN_TOPIC"),
	    "ERR where a list was expected");
	ok(got[7].kind == KLOG_LC_DATA && got[7].len > 0 && got[7].data &&
	    strstr((char *)got[7].data, "klog_"), "DATA where a line was expected (STATS)");
	reset();

	/* the peer closes: QUIT answers, the requests after it hear CLOSED */
	klog_lc_send(lc, KLOG_LC_OK, "OFFSETS orders 1", NULL, 0, record, (void *)1);
	klog_lc_send(lc, KLOG_LC_OK, "QUIT", NULL, 0, record, (void *)2);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)3);
	klog_lc_send(lc, KLOG_LC_LIST, "TOPICS", NULL, 0, record, (void *)4);
	ok(wait_for(4) == 0, "4 answers");
	ok(got[0].kind == KLOG_LC_OK && !strcmp(got[0].line, "0 10"), "still in step: OFFSETS %s",
	    got[0].line);
	ok(got[1].kind == KLOG_LC_OK && !strcmp(got[1].line, "BYE"), "QUIT answered");
	ok(got[2].kind == KLOG_LC_CLOSED && got[3].kind == KLOG_LC_CLOSED && got[3].tag == 4 &&
	    !strcmp(got[2].code, "NETWORK"), "the rest: CLOSED, code NETWORK (%s)", got[2].line);
	ok(!klog_lc_alive(lc) && strstr(klog_lc_error(lc), "connection closed"),
	    "dead, and says why: %s", klog_lc_error(lc));
	errno = 0;
	ok(klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, NULL) == -1 && errno == EPIPE,
	    "a send on a dead connection: -1 EPIPE");
	klog_lc_close(lc);
	cmp_ok(ngot, ==, 4, "closing a dead connection calls nobody");
	reset();

	/* klog_lc_close from outside: pending requests hear CLOSED, code CLOSED */
	lc = klog_lc_open(loop, addr, NULL, err);
	for (i = 0; i < 3; i++)
		klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)(intptr_t)i);
	klog_lc_close(lc);
	ok(ngot == 3 && got[0].kind == KLOG_LC_CLOSED && !strcmp(got[2].code, "CLOSED") &&
	    got[2].tag == 2, "close with 3 pending: 3 CLOSED callbacks at once");
	reset();

	/* klog_lc_close from inside a callback: the rest hear CLOSED after it returns */
	lc = klog_lc_open(loop, addr, NULL, err);
	for (i = 0; i < 5; i++)
		klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)(intptr_t)i);
	close_in_cb = lc;
	ok(wait_for(5) == 0, "5 callbacks");
	ok(got[0].kind == KLOG_LC_OK && got[0].tag == 0, "the first answered; it closes");
	ok(got[1].kind == KLOG_LC_CLOSED && got[4].kind == KLOG_LC_CLOSED &&
	    !strcmp(got[4].code, "CLOSED") && got[4].tag == 4, "the other 4: CLOSED");
	for (i = 0; i < 50; i++)
		klog_loop_once(loop, 10);
	cmp_ok(ngot, ==, 5, "no more callbacks (the memory is gone: ASan says)");
	reset();

	/* connection refused: a port nobody listens on */
	lfd = klog_net_listen("127.0.0.1:0", 1, err);
	klog_net_local(lfd, addr2, sizeof addr2);
	close(lfd);
	ok((lc = klog_lc_open(loop, addr2, NULL, err)) != NULL, "open a dead port: no error yet");
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_CLOSED && !strcmp(got[0].code, "NETWORK") &&
	    strstr(got[0].line, "refused"), "refused: CLOSED (%s)", got[0].line);
	klog_lc_close(lc);
	reset();
	ok(klog_lc_open(loop, "no-such-host.invalid:1", NULL, err) == NULL,
	    "an address that does not resolve: NULL (%s)", err);

	/* an answer over the memory bound closes instead of growing */
	lc = klog_lc_open(loop, addr, NULL, err);
	klog_lc_set_max_data(lc, 100);
	klog_lc_send(lc, KLOG_LC_OK, "FETCH orders 1 0 1048576", NULL, 0, record, (void *)1);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)2);
	ok(wait_for(2) == 0 && got[0].kind == KLOG_LC_CLOSED && got[1].kind == KLOG_LC_CLOSED &&
	    strstr(got[0].line, "over the limit"), "DATA over max_data: CLOSED (%s)", got[0].line);
	klog_lc_close(lc);
	reset();

	/* idle timeout: a listener that never answers */
	lfd = klog_net_listen("127.0.0.1:0", 4, err);
	klog_net_local(lfd, addr2, sizeof addr2);
	lc = klog_lc_open(loop, addr2, NULL, err);
	klog_lc_set_timeout(lc, 200);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_CLOSED && strstr(got[0].line, "no answer"),
	    "no answer in 200 ms: CLOSED (%s)", got[0].line);
	klog_lc_close(lc);
	close(lfd);
	reset();

	/* the idle clock runs only while something waits: quiet time before a
	 * request does not count against it */
	lc = klog_lc_open(loop, addr, NULL, err);
	klog_lc_set_timeout(lc, 200);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_OK, "a PING with a 200 ms idle timeout");
	for (i = 0; i < 40; i++)
		klog_loop_once(loop, 10);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)2);
	ok(wait_for(2) == 0 && got[1].kind == KLOG_LC_OK,
	    "after 400 ms of quiet, the next PING is answered, not timed out (%s)", got[1].line);
	klog_lc_close(lc);
	reset();

	/* long poll: a FETCH at the end waits, a PING behind it waits too */
	lc = klog_lc_open(loop, addr, NULL, err);
	klog_lc_send(lc, KLOG_LC_OK, "FETCH orders 1 10 1000 300", NULL, 0, record, (void *)1);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)2);
	ok(wait_for(2) == 0 && got[0].kind == KLOG_LC_DATA && got[0].len == 0 &&
	    got[1].kind == KLOG_LC_OK, "a long poll answered DATA 0, then the PING");
	klog_lc_close(lc);
	reset();

	/* AUTH first when there is a secret */
	snprintf(dir2, sizeof dir2, "%s/auth", tmpdir);
	mkdir(dir2, 0755);
	pid2 = serve(dir2, "s3cret", addr2, sizeof addr2);
	lc = klog_lc_open(loop, addr2, "s3cret", err);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_OK && !strcmp(got[0].line, "PONG"),
	    "with the secret: PING answered (%s)", got[0].line);
	klog_lc_close(lc);
	reset();
	lc = klog_lc_open(loop, addr2, "wrong", err);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_CLOSED && !strcmp(got[0].code, "NETWORK"),
	    "a wrong secret: CLOSED (%s)", got[0].line);
	klog_lc_close(lc);
	reset();
	lc = klog_lc_open(loop, addr2, NULL, err);
	klog_lc_send(lc, KLOG_LC_OK, "PING", NULL, 0, record, (void *)1);
	ok(wait_for(1) == 0 && got[0].kind == KLOG_LC_ERR && !strcmp(got[0].code, "AUTH"),
	    "no secret: ERR AUTH");
	klog_lc_close(lc);
	reset();
	ok(klog_lc_open(loop, addr2, "two words", err) == NULL, "a secret of two words: refused");

	/* the broker dies under a long poll */
	lc = klog_lc_open(loop, addr, NULL, err);
	klog_lc_send(lc, KLOG_LC_OK, "FETCH orders 1 10 1000 30000", NULL, 0, record, (void *)1);
	for (i = 0; i < 20; i++)
		klog_loop_once(loop, 10);
	cmp_ok(stop(pid), ==, 0, "the broker stops");
	ok(wait_for(1) == 0 && (got[0].kind == KLOG_LC_CLOSED || got[0].kind == KLOG_LC_DATA),
	    "the waiting fetch ends (kind %d: %s)", got[0].kind, got[0].line);
	klog_lc_close(lc);
	reset();
	cmp_ok(stop(pid2), ==, 0, "the second broker stops");

	klog_loop_free(loop);
	klog_builder_free(&bb);
	snprintf(line, sizeof line, "rm -rf %s", tmpdir);
	if (system(line) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
