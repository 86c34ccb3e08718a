/* klog - tests for the client library against an in-process broker. MIT licence. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"
#include "tap.h"

static char tmpdir[64], err[KLOG_ERRLEN];
static struct klog_broker *srv, *all[4];       /* all: reachable, for the leak checker */
static int nall;

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
	all[nall++] = srv;
	snprintf(addr, n, "%s", klog_broker_address(srv));
	if ((pid = fork()) == 0) {
		signal(SIGTERM, onterm);
		signal(SIGPIPE, SIG_IGN);
		int rc = klog_broker_run(srv, err) < 0 ? 1 : 0;
		klog_broker_close(srv);
		exit(rc);
	}
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
	struct klog_client *c;
	struct klog_part_info *pi = NULL;
	struct klog_buf b = { 0 };
	char addr[128], dir2[96], cmd[256];
	char **names;
	size_t n, len;
	unsigned char *data;
	int64_t first, last, next, end, s, e;
	char *kv[] = { "retention.ms=1000000" }, *bad[] = { "no.such.key=1" };
	int np, i, ok_all;
	ssize_t got;
	pid_t pid, pid2;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/klog-t0041-XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("mkdtemp");
	pid = serve(tmpdir, NULL, addr, sizeof addr);
	klog_builder_init(&bb, KLOG_CODEC_NONE);

	ok((c = klog_client_open(addr, "", err)) != NULL, "connect to %s", addr);
	if (!c) {
		diag("%s", err);
		return done_testing();
	}
	cmp_ok(klog_client_ping(c, err), ==, 0, "ping");
	cmp_ok(klog_client_create(c, "orders", 2, kv, 1, err), ==, 0, "create");
	errno = 0;
	cmp_ok(klog_client_create(c, "orders", 2, NULL, 0, err), ==, -1, "create again");
	cmp_ok(errno, ==, EEXIST, "EEXIST");
	is(klog_client_code(c), "TOPIC_EXISTS", "code TOPIC_EXISTS");
	cmp_ok(klog_client_create(c, "x", 1, bad, 1, err), ==, -1, "create with a bad key");
	is(klog_client_code(c), "INVALID", "code INVALID (%s)", err);
	ok(klog_client_topics(c, &names, &n, err) == 0 && n == 1 && !strcmp(names[0], "orders"),
	    "topics");
	if (n)
		klog_strv_free(names, n);
	ok(klog_client_describe(c, "orders", &pi, &np, err) == 0 && np == 2, "describe: 2 partitions");
	free(pi);
	ok(klog_client_config(c, "orders", &b, err) == 0 &&
	    strstr((char *)b.data, "retention.ms=1000000\n"), "config");
	cmp_ok(klog_client_alter(c, "orders", 3, NULL, 0, err), ==, 0, "alter to 3 partitions");
	ok(klog_client_describe(c, "orders", &pi, &np, err) == 0 && np == 3, "describe: 3");
	free(pi);
	errno = 0;
	cmp_ok(klog_client_alter(c, "orders", 1, NULL, 0, err), ==, -1, "shrinking fails");
	cmp_ok(errno, ==, EINVAL, "EINVAL (%s)", err);
	errno = 0;
	cmp_ok(klog_client_describe(c, "nosuch", &pi, &np, err), ==, -1, "describe a missing topic");
	cmp_ok(errno, ==, ENOENT, "ENOENT");

	/* produce, one at a time and pipelined */
	len = batch(&bb, 10, "a", &data);
	ok(klog_client_produce(c, "orders", 0, 1, data, len, &first, &last, err) == 0 &&
	    first == 0 && last == 9, "produce 10 records: offsets 0..9");
	ok_all = 1;
	for (i = 0; i < 200; i++) {
		len = batch(&bb, 5, "p", &data);
		if (klog_client_produce_send(c, "orders", 1, -1, data, len, err) < 0)
			ok_all = 0;
	}
	ok(ok_all, "200 pipelined produces sent");
	cmp_ok(klog_client_inflight(c), ==, 200, "200 acknowledgements due");
	errno = 0;
	cmp_ok(klog_client_ping(c, err), ==, -1, "other requests wait for the acks");
	cmp_ok(errno, ==, EINVAL, "EINVAL");
	for (i = 0; i < 200; i++)
		if (klog_client_produce_ack(c, &first, &last, err) < 0 || first != i * 5 ||
		    last != i * 5 + 4)
			ok_all = 0;
	ok(ok_all, "acks in order, offsets contiguous");
	cmp_ok(klog_client_inflight(c), ==, 0, "none due");
	len = batch(&bb, 3, "z", &data);
	ok(klog_client_produce(c, "orders", 1, 0, data, len, &first, &last, err) == 0 && first == -1,
	    "acks 0: no response");
	cmp_ok(klog_client_ping(c, err), ==, 0, "the stream is in step after acks 0");
	len = batch(&bb, 3, "q", &data);
	data[len - 1] ^= 1;
	errno = 0;
	cmp_ok(klog_client_produce(c, "orders", 0, 1, data, len, &first, &last, err), ==, -1,
	    "a corrupt batch");
	cmp_ok(errno, ==, EILSEQ, "EILSEQ (%s)", err);
	cmp_ok(klog_client_ping(c, err), ==, 0, "the stream goes on");
	errno = 0;
	cmp_ok(klog_client_produce(c, "orders", 9, 1, data, len, &first, &last, err), ==, -1,
	    "a missing partition");
	is(klog_client_code(c), "UNKNOWN_PARTITION", "UNKNOWN_PARTITION");

	/* fetch */
	b.len = 0;
	got = klog_client_fetch(c, "orders", 0, 0, 1 << 20, 0, 1, &b, &next, &end, err);
	ok(got > 0 && (size_t)got == b.len, "fetch returns bytes");
	cmp_ok(next, ==, 10, "next offset");
	cmp_ok(end, ==, 10, "log end");
	{
		struct klog_batch kb;
		ok(klog_batch_parse(b.data, b.len, &kb, err) == 1 && klog_batch_verify(b.data, &kb, err) == 0 &&
		    kb.base_offset == 0 && kb.count == 10, "a whole stored batch, CRC intact");
	}
	b.len = 0;
	got = klog_client_fetch(c, "orders", 1, 0, 100, 0, 1, &b, &next, &end, err);
	ok(got > 0 && next == 5, "a small max_bytes still returns one batch (next %lld)", (long long)next);
	/* the acks-0 batch is visible once durable (fsync always): a long poll
	 * returns it as soon as its group commit is done */
	b.len = 0;
	got = klog_client_fetch(c, "orders", 1, 1000, 100000, 10000, 1, &b, &next, &end, err);
	ok(got > 0 && next == 1003, "the acks-0 batch becomes visible (next %lld)", (long long)next);
	b.len = 0;
	got = klog_client_fetch(c, "orders", 1, 1003, 100000, 0, 1, &b, &next, &end, err);
	cmp_ok(got, ==, 0, "fetch at the end: nothing");
	cmp_ok(end, ==, 1003, "end 1003");
	errno = 0;
	got = klog_client_fetch(c, "orders", 1, 2000, 100000, 0, 1, &b, &next, &end, err);
	cmp_ok(got, ==, -1, "past the end");
	cmp_ok(errno, ==, ERANGE, "ERANGE");
	ok(klog_client_offsets(c, "orders", 1, &s, &e, err) == 0 && s == 0 && e == 1003, "offsets");
	ok(klog_client_offset_for_time(c, "orders", 1, 0, &s, err) == 0 && s == 0, "time 0: offset 0");
	ok(klog_client_offset_for_time(c, "orders", 1, INT64_MAX, &s, err) == 0 && s == 1003,
	    "time in the future: the end");
	b.len = 0;
	ok(klog_client_stats(c, &b, err) == 0 && klog_buf_append(&b, "", 1) == 0 &&
	    strstr((char *)b.data, "klog_records_in_total 1013\n"), "stats count records in");
	cmp_ok(klog_client_delete(c, "orders", err), ==, 0, "delete");
	ok(klog_client_topics(c, &names, &n, err) == 0 && n == 0, "no topics left");
	klog_client_close(c);

	/* a second broker on the same directory */
	{
		struct klog_broker_opts o;
		klog_broker_defaults(&o);
		o.dir = tmpdir;
		o.listen = "127.0.0.1:0";
		errno = 0;
		ok(klog_broker_open(&o, err) == NULL && errno == EBUSY, "a second broker is refused");
		ok(strstr(err, "already served by kbrokerd") != NULL, "%s", err);
	}

	/* a broker with a secret */
	snprintf(dir2, sizeof dir2, "%s/auth", tmpdir);
	mkdir(dir2, 0755);
	pid2 = serve(dir2, "sesame", addr, sizeof addr);
	c = klog_client_open(addr, "", err);
	errno = 0;
	ok(c && klog_client_ping(c, err) == -1 && errno == EACCES, "no AUTH: EACCES");
	klog_client_close(c);
	errno = 0;
	ok(!klog_client_open(addr, "wrong", err) && errno == EACCES, "wrong secret: EACCES (%s)", err);
	ok((c = klog_client_open(addr, "sesame", err)) && klog_client_ping(c, err) == 0,
	    "the right secret");
	klog_client_close(c);
	setenv("KLOG_SECRET", "sesame", 1);
	ok((c = klog_client_open(addr, NULL, err)) && klog_client_ping(c, err) == 0, "KLOG_SECRET");
	klog_client_close(c);
	unsetenv("KLOG_SECRET");
	cmp_ok(stop(pid2), ==, 0, "the second broker stops cleanly");

	ok(!klog_client_open(NULL, NULL, err) || getenv("KLOG_BROKERS"), "no address: an error");
	cmp_ok(stop(pid), ==, 0, "SIGTERM: exit 0");
	snprintf(cmd, sizeof cmd, "%s/kbrokerd.pid", tmpdir);
	ok(access(cmd, F_OK) < 0 && errno == ENOENT, "the pid file is gone");
	klog_buf_free(&b);
	klog_builder_free(&bb);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
