/* klog - tests of the clients' routing in a cluster (route.c, log.c) against fake nodes. MIT licence. */
/*
 * Two fake brokers, nodes 1 and 2, each a child process on a port of the
 * kernel's, answer the few verbs the router uses from a shared page the
 * test changes: which node leads t-0, whether a node drops a connection
 * on PRODUCE, and counters of what each node was asked.  Node 1 is the
 * controller.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "internal.h"
#include "cluster.h"
#include "tap.h"

struct shared {
	int leader;                     /* of t-0 */
	int drop[3];                    /* node n closes the connection on PRODUCE */
	int produce[3], create[3], meta[3];
	int t2;                         /* topic t2 created */
	int ner;                        /* answer PRODUCE NOT_ENOUGH_REPLICAS this often */
	int ner_written;                /* ... saying the batch was written */
	int nl_after;                   /* the leader answers NOT_LEADER after the append */
	int64_t next;
};

static struct shared *sh;
static char addr[3][64];
static char err[KLOG_ERRLEN];

static void
bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

static void
say(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
metadata(int fd, int self)
{
	char b[1024];
	int n = 5 + (sh->t2 ? 2 : 0);

	snprintf(b, sizeof b, "OK %d\ncluster 1 7 %d\nnode 1 %s alive\nnode 2 %s alive\n"
	    "topic t 1 2\npart t 0 %d 3 3 1,2 1,2\n%s", n, self, addr[1], addr[2], sh->leader,
	    sh->t2 ? "topic t2 1 2\npart t2 0 1 1 1 1,2 1,2\n" : "");
	say(fd, b);
}

/* one request line (payload already skipped); 0 keep, -1 close */
static int
answer(int fd, int self, char *line, size_t payload)
{
	char b[512], verb[32] = "", a1[64] = "";

	(void)payload;
	sscanf(line, "%31s %63s", verb, a1);
	if (!strcmp(verb, "METADATA")) {
		sh->meta[self]++;
		metadata(fd, self);
	} else if (!strcmp(verb, "CONFIG")) {
		say(fd, "OK 1\npartitions=1\n");
	} else if (!strcmp(verb, "PRODUCE")) {
		sh->produce[self]++;
		if (sh->drop[self])
			return -1;
		if (sh->nl_after && sh->leader == self) {
			sh->nl_after = 0;
			say(fd, "ERR NOT_LEADER partition 't-0': this broker stopped being its leader "
			    "before the batch was replicated; it may or may not be kept\n");
			return 0;
		}
		if (sh->ner > 0 && sh->leader == self) {
			sh->ner--;
			say(fd, sh->ner_written ? "ERR NOT_ENOUGH_REPLICAS t-0: written, not acknowledged: "
			    "isr 1 < min.insync.replicas 2\n" : "ERR NOT_ENOUGH_REPLICAS t-0: isr 1 < "
			    "min.insync.replicas 2, nothing written\n");
			return 0;
		}
		if (sh->leader != self) {
			snprintf(b, sizeof b, "ERR NOT_LEADER t-0: leader is node %d at %s\n", sh->leader,
			    sh->leader > 0 ? addr[sh->leader] : "-");
			say(fd, b);
		} else {
			snprintf(b, sizeof b, "OK %lld %lld\n", (long long)sh->next, (long long)sh->next);
			sh->next++;
			say(fd, b);
		}
	} else if (!strcmp(verb, "OFFSETS")) {
		if (sh->leader != self)
			say(fd, "ERR NOT_LEADER not me\n");
		else {
			snprintf(b, sizeof b, "OK 0 %lld\n", (long long)sh->next);
			say(fd, b);
		}
	} else if (!strcmp(verb, "CREATE")) {
		sh->create[self]++;
		if (self != 1) {
			snprintf(b, sizeof b, "ERR NOT_CONTROLLER controller is node 1 at %s\n", addr[1]);
			say(fd, b);
		} else {
			sh->t2 = 1;
			say(fd, "OK\n");
		}
	} else
		say(fd, "ERR UNKNOWN_COMMAND no\n");
	return 0;
}

struct fconn {
	int fd;
	char buf[70000];
	size_t len;
	size_t skip;                    /* payload bytes still to drop */
	int dropping;                   /* answered -1: close when the payload is in */
};

static void
node(int lfd, int self)
{
	struct fconn *c = calloc(16, sizeof *c);
	struct pollfd pfd[17];
	int i, n;

	for (i = 0; i < 16; i++)
		c[i].fd = -1;
	for (;;) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < 16; i++) {
			pfd[i + 1].fd = c[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, 17, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			for (i = 0; i < 16 && c[i].fd >= 0; i++)
				;
			if (i < 16) {
				c[i].fd = fd;
				c[i].len = c[i].skip = 0;
			} else
				close(fd);
		}
		for (i = 0; i < 16; i++) {
			struct fconn *f = &c[i];
			char *nl;
			ssize_t r;
			if (f->fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(f->fd, f->buf + f->len, sizeof f->buf - f->len);
			if (r <= 0) {
				close(f->fd);
				f->fd = -1;
				continue;
			}
			f->len += (size_t)r;
			for (;;) {
				size_t take = f->skip < f->len ? f->skip : f->len, pl = 0;
				char *sp;
				memmove(f->buf, f->buf + take, f->len - take);
				f->len -= take;
				f->skip -= take;
				if (f->skip || !(nl = memchr(f->buf, '\n', f->len)))
					break;
				*nl = 0;
				/* PRODUCE T P ACKS N: a payload follows */
				if (!strncmp(f->buf, "PRODUCE ", 8) && (sp = strrchr(f->buf, ' ')))
					pl = strtoul(sp + 1, NULL, 10);
				n = answer(f->fd, self, f->buf, pl);
				f->skip = pl;
				memmove(f->buf, nl + 1, f->len - (size_t)(nl + 1 - f->buf));
				f->len -= (size_t)(nl + 1 - f->buf);
				if (n < 0) {
					close(f->fd);
					f->fd = -1;
					break;
				}
			}
		}
	}
}

static int
listener(int self)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		bail("listen");
	snprintf(addr[self], sizeof addr[self], "127.0.0.1:%d", ntohs(sa.sin_port));
	return lfd;
}

static pid_t
start(int lfd, int self)
{
	pid_t pid;

	if ((pid = fork()) == 0) {
		signal(SIGPIPE, SIG_IGN);
		node(lfd, self);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static const char *fixture =
	"cluster 1 9 2\n"
	"node 1 127.0.0.1:9001 alive\n"
	"node 2 127.0.0.1:9002 alive\n"
	"node 3 127.0.0.1:9003 dead\n"
	"topic orders 3 2\n"
	"part orders 0 1 4 7 1,2 1,2\n"
	"part orders 1 -1 2 5 2,3 2\n"
	"part orders 2 3 0 0 3,1 3,1\n";

static void
test_pick(void)
{
	struct kc_state st;

	kc_state_init(&st);
	ok(kc_state_parse(fixture, strlen(fixture), &st, err) == 0, "fixture parsed: %s", err);
	cmp_ok(kroute_pick(&st, "orders", 0), ==, 1, "pick: orders-0 is led by node 1");
	cmp_ok(kroute_pick(&st, "orders", 1), ==, KROUTE_NO_LEADER, "pick: orders-1 has no leader");
	cmp_ok(kroute_pick(&st, "orders", 2), ==, 3, "pick: orders-2 is led by node 3");
	cmp_ok(kroute_pick(&st, "orders", 3), ==, KROUTE_NO_PARTITION, "pick: no orders-3");
	cmp_ok(kroute_pick(&st, "orders", -1), ==, KROUTE_NO_PARTITION, "pick: no orders--1");
	cmp_ok(kroute_pick(&st, "nope", 0), ==, KROUTE_NO_TOPIC, "pick: no topic nope");
	is(kroute_node_addr(&st, 2), "127.0.0.1:9002", "node 2's address");
	ok(kroute_node_addr(&st, 7) == NULL, "no node 7");
	kc_state_free(&st);
}

static unsigned char *
one_batch(size_t *len)
{
	static struct klog_builder bb;
	unsigned char *out;

	klog_builder_init(&bb, KLOG_CODEC_NONE);
	klog_builder_add(&bb, klog_now_ms(), NULL, -1, "v", 1, NULL, 0);
	klog_builder_finish(&bb, &out, len, err);
	return out;
}

static void
test_routing(void)
{
	struct klog_log *lg;
	struct klog_lpart *lp;
	struct klog_part_replicas *rep = NULL;
	struct klog_part_info info;
	unsigned char *b;
	size_t len;
	int64_t first, last;
	int n, p1;
	char list[200];

	sh->leader = 1;
	/* the list: a dead address first, then node 2 */
	snprintf(list, sizeof list, "127.0.0.1:1,%s", addr[2]);
	ok((lg = klog_log_open(NULL, list, 0, err)) != NULL, "open through node 2: %s", err);
	if (!lg)
		bail("no log");
	ok(klog_log_cluster(lg), "a cluster");
	klog_log_set_acks(lg, 1);
	ok((lp = klog_lpart_open(lg, "t", 0, KLOG_WRITE, err)) != NULL, "t-0 opened: %s", err);
	b = one_batch(&len);
	ok(klog_lpart_append(lp, b, len, &first, &last, err) == 0 && first == 0,
	    "append: acknowledged at 0: %s", err);
	ok(sh->produce[1] == 1 && sh->produce[2] == 0, "the leader, node 1, got it (%d, %d)",
	    sh->produce[1], sh->produce[2]);

	sh->leader = 2;
	ok(klog_lpart_append(lp, b, len, &first, &last, err) == 0 && first == 1,
	    "leader moved to node 2: append acknowledged at 1: %s", err);
	ok(sh->produce[1] == 2 && sh->produce[2] == 1,
	    "node 1 said NOT_LEADER, node 2 took it (%d, %d)", sh->produce[1], sh->produce[2]);
	ok(klog_lpart_info(lp, &info, err) == 0 && info.log_end == 2, "OFFSETS at the leader: %s",
	    err);

	/* pipelined: the leader drops the connection; nothing is resent */
	klog_log_set_acks(lg, -1);
	sh->drop[2] = 1;
	p1 = sh->produce[1];
	ok(klog_lpart_send(lp, b, len, err) == 0, "send 1: %s", err);
	ok(klog_log_ack(lg, &first, &last, err) < 0 &&
	    !strcmp(klog_log_ack_code(lg), "CONNECTION_LOST"),
	    "its answer is lost: %s (%s)", err, klog_log_ack_code(lg));
	cmp_ok(sh->produce[1], ==, p1, "not resent to node 1");
	sh->drop[2] = 0;
	sh->leader = 1;
	ok(klog_lpart_send(lp, b, len, err) == 0, "send 2, after a new leader: %s", err);
	ok(klog_log_ack(lg, &first, &last, err) == 0 && first == 2, "acknowledged at 2: %s", err);
	cmp_ok(sh->produce[1], ==, p1 + 1, "by node 1, the new leader");

	/* topic changes go to the controller, node 1, though we came by node 2 */
	ok(klog_log_create(lg, "t2", 1, NULL, 0, err) == 0, "create t2: %s", err);
	ok(sh->create[1] == 1 && sh->create[2] == 0, "at the controller (%d, %d)", sh->create[1],
	    sh->create[2]);
	ok(klog_log_replicas(lg, "t", &rep, &n, err) == 0 && n == 1 && rep[0].leader == 1 &&
	    rep[0].nreplicas == 2 && rep[0].replicas[1] == 2 && rep[0].nisr == 2,
	    "replicas of t: %s", err);
	free(rep);
	ok(klog_log_replicas(lg, "nope", &rep, &n, err) < 0 && errno == ENOENT,
	    "replicas of a missing topic: %s", err);

	/* no leader at all for the timeout: a clear failure */
	klog_log_set_timeout(lg, 300);
	sh->leader = -1;
	ok(klog_lpart_info(lp, &info, err) < 0 && strstr(err, "no leader"),
	    "no leader: %s", err);
	klog_lpart_close(lp);
	klog_log_close(lg);
}

static int nacked, nfailed;
static char fcode[64];

static void
on_acked(void *arg, const char *topic, int partition, int64_t first, int64_t last)
{
	nacked++;
}

static void
on_failed(void *arg, const char *topic, int partition, int64_t records, const char *code,
    const char *msg)
{
	nfailed++;
	snprintf(fcode, sizeof fcode, "%s", code);
}

/* the producer: a failed batch is reported and the next go on */
static void
test_producer(void)
{
	struct klog_producer_opts o = { .partition = 0, .codec = -1, .acked = on_acked,
	    .failed = on_failed, .retries = 2, .retry_backoff_ms = 1 };
	struct klog_producer *pr;
	struct klog_log *lg;
	int p1;

	sh->leader = 1;
	ok((lg = klog_log_open(NULL, addr[1], 0, err)) != NULL, "producer: open: %s", err);
	if (!lg)
		bail("no log");
	ok((pr = klog_producer_open(lg, "t", &o, err)) != NULL, "producer: opened: %s", err);
	if (!pr)
		bail("no producer");
	sh->drop[1] = 1;
	ok(klog_producer_send(pr, 0, NULL, -1, "a", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0, "producer: a lost answer is no failure: %s", err);
	ok(nfailed == 1 && nacked == 0 && !strcmp(fcode, "CONNECTION_LOST"),
	    "producer: the batch was reported failed (%d, %d, %s)", nfailed, nacked, fcode);
	cmp_ok(klog_producer_failed(pr), ==, 1, "producer: one failed batch counted");
	sh->drop[1] = 0;
	sh->leader = 2;
	ok(klog_producer_send(pr, 0, NULL, -1, "b", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nacked == 1, "producer: the next batch is "
	    "acknowledged by the new leader: %s", err);

	/* NOT_LEADER: nothing written, sent again to the new leader */
	p1 = sh->produce[1];
	sh->leader = 1;
	ok(klog_producer_send(pr, 0, NULL, -1, "n", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nacked == 2 && nfailed == 1,
	    "producer: NOT_LEADER, then acknowledged by the new leader: %s", err);
	cmp_ok(sh->produce[1], ==, p1 + 1, "producer: node 1 got it once");

	/* NOT_LEADER for a batch written, waiting: not sent again */
	p1 = sh->produce[1];
	sh->nl_after = 1;
	ok(klog_producer_send(pr, 0, NULL, -1, "w", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nacked == 2 && nfailed == 2 &&
	    !strcmp(fcode, "NOT_LEADER") && sh->produce[1] == p1 + 1,
	    "producer: NOT_LEADER after the append: failed, not sent again (%s)", fcode);

	/* NOT_ENOUGH_REPLICAS, nothing written: sent again */
	p1 = sh->produce[1];
	sh->ner = 2;
	ok(klog_producer_send(pr, 0, NULL, -1, "c", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nacked == 3 && nfailed == 2,
	    "producer: NOT_ENOUGH_REPLICAS twice, then acknowledged: %s", err);
	cmp_ok(sh->produce[1], ==, p1 + 3, "producer: sent three times");
	/* more than the retries: failed */
	sh->ner = 3;
	ok(klog_producer_send(pr, 0, NULL, -1, "d", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nacked == 3 && nfailed == 3 &&
	    !strcmp(fcode, "NOT_ENOUGH_REPLICAS"), "producer: after 2 retries, failed (%s)", fcode);
	/* written, not acknowledged: never sent again */
	p1 = sh->produce[1];
	sh->ner = 1;
	sh->ner_written = 1;
	ok(klog_producer_send(pr, 0, NULL, -1, "e", 1, err) == 0 &&
	    klog_producer_flush(pr, err) == 0 && nfailed == 4 && sh->produce[1] == p1 + 1,
	    "producer: a batch written but not acknowledged is not sent again");
	sh->ner = 0;
	klog_producer_close(pr);
	klog_log_close(lg);
}

int
main(void)
{
	pid_t p1, p2;
	int l1, l2;

	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	memset(sh, 0, sizeof *sh);
	test_pick();
	l1 = listener(1);
	l2 = listener(2);
	p1 = start(l1, 1);
	p2 = start(l2, 2);
	test_routing();
	test_producer();
	kill(p1, SIGKILL);
	kill(p2, SIGKILL);
	waitpid(p1, NULL, 0);
	waitpid(p2, NULL, 0);
	done_testing();
}
