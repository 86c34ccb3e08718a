/* klog - cluster.c: the description, the state's lines, the controller's rules. MIT licence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "internal.h"
#include "cluster.h"

static char err[KLOG_ERRLEN];

/* the state formatted, in a static buffer */
static const char *
fmt(const struct kc_state *st, char **topics, size_t n)
{
	static char text[65536];
	struct klog_buf b = {0};

	if (kc_state_format(st, topics, n, &b) < 0 || b.len >= sizeof text) {
		klog_buf_free(&b);
		return "(format failed)";
	}
	memcpy(text, b.data, b.len);
	text[b.len] = 0;
	klog_buf_free(&b);
	return text;
}

/* parse text (0 ok); err holds the message */
static int
parse(const char *text, struct kc_state *st)
{
	*err = 0;
	return kc_state_parse(text, strlen(text), st, err);
}

static const char *
part_line(struct kc_state *st, const char *topic, int p)
{
	static char line[256];
	char rs[64], is[64];
	struct kc_topic *t = kc_topic_find(st, topic);
	struct kc_part *pp;

	if (!t || p >= t->np)
		return "(none)";
	pp = &t->parts[p];
	kc_ids_format(pp->replicas, pp->nreplicas, rs, sizeof rs);
	kc_ids_format(pp->isr, pp->nisr, is, sizeof is);
	snprintf(line, sizeof line, "%d %d %d %s %s", pp->leader, (int)pp->leader_epoch,
	    (int)pp->part_epoch, rs, is);
	return line;
}

static void
test_spec(void)
{
	struct kc_state st;
	char path[] = "/tmp/t0080.XXXXXX";
	int fd;

	ok(kc_spec_parse("1@127.0.0.1:9001,2@127.0.0.1:9002 3@h:0", &st, err) == 0,
	    "spec: three nodes parse: %s", err);
	cmp_ok(st.nnodes, ==, 3, "spec: three nodes");
	cmp_ok(st.controller, ==, 1, "spec: the first is the controller");
	ok(st.nodes[2].id == 3 && !strcmp(st.nodes[2].addr, "h:0") && !st.nodes[2].alive,
	    "spec: node 3 at h:0, dead");
	cmp_ok(st.version, ==, 0, "spec: version 0");
	kc_state_free(&st);

	ok(kc_spec_parse("# nodes\n 5@a:1  # the controller\n\n7@b:2\n", &st, err) == 0 &&
	    st.nnodes == 2 && st.controller == 5 && st.nodes[1].id == 7,
	    "spec: comments and newlines");
	kc_state_free(&st);

	ok(kc_spec_parse("1@a:1,1@b:2", &st, err) < 0 && strstr(err, "node 1 twice"),
	    "spec: a node twice refused: %s", err);
	ok(kc_spec_parse("x@a:1", &st, err) < 0 && strstr(err, "bad node 'x@a:1'"),
	    "spec: a bad id refused: %s", err);
	ok(kc_spec_parse("1@a", &st, err) < 0 && strstr(err, "bad address 'a'"),
	    "spec: an address without port refused: %s", err);
	ok(kc_spec_parse("-1@a:1", &st, err) < 0, "spec: a negative id refused: %s", err);
	ok(kc_spec_parse(" # nothing\n", &st, err) < 0 && strstr(err, "no node"),
	    "spec: no node refused: %s", err);

	{
		char big[KC_MAX_NODES * 16 + 64] = "";
		int i;
		for (i = 0; i <= KC_MAX_NODES; i++)
			snprintf(big + strlen(big), sizeof big - strlen(big), "%d@h:%d,", i, i);
		ok(kc_spec_parse(big, &st, err) < 0 && strstr(err, "more than 64 nodes"),
		    "spec: more than KC_MAX_NODES refused: %s", err);
	}

	fd = mkstemp(path);
	ok(fd >= 0 && write(fd, "1@127.0.0.1:1\n2@127.0.0.1:2\n", 28) == 28,
	    "spec file written");
	close(fd);
	ok(kc_spec_read(path, &st, err) == 0 && st.nnodes == 2, "spec file read: %s", err);
	kc_state_free(&st);
	unlink(path);
	ok(kc_spec_read(path, &st, err) < 0 && strstr(err, path), "missing spec file: %s", err);
}

static const char *good =
	"cluster 1 42 -1\n"
	"node 1 127.0.0.1:9001 alive\n"
	"node 2 127.0.0.1:9002 dead\n"
	"node 3 127.0.0.1:9003 alive\n"
	"topic orders 2 3 min.insync.replicas=2 retention.ms=1000\n"
	"part orders 0 1 4 7 1,2,3 1,3\n"
	"part orders 1 -1 2 5 2,3,1 2\n"
	"topic logs 1 1\n"
	"part logs 0 3 0 0 3 3\n";

static void
test_codec(void)
{
	struct kc_state st, cp;
	struct kc_topic *t;
	char *names[] = { "logs" };
	int ids[KC_MAX_REPLICAS], n;
	char buf[64];

	ok(parse(good, &st) == 0, "codec: parse: %s", err);
	is(fmt(&st, NULL, 0), good, "codec: round trip, byte for byte");
	cmp_ok(kc_state_lines(&st, NULL, 0), ==, 9, "codec: 9 lines");
	ok(st.controller == 1 && st.version == 42 && st.self == -1, "codec: cluster line");
	t = kc_topic_find(&st, "orders");
	ok(t && t->np == 2 && t->rf == 3 && t->nkv == 2, "codec: topic orders");
	ok(t && !strcmp(kc_topic_kv(t, "min.insync.replicas"), "2") &&
	    !kc_topic_kv(t, "min.insync"), "codec: topic config");
	ok(t && t->parts[1].leader == -1 && t->parts[1].nisr == 1 && t->parts[0].leader_epoch == 4,
	    "codec: part fields");
	is(fmt(&st, names, 1), "cluster 1 42 -1\n"
	    "node 1 127.0.0.1:9001 alive\n"
	    "node 2 127.0.0.1:9002 dead\n"
	    "node 3 127.0.0.1:9003 alive\n"
	    "topic logs 1 1\n"
	    "part logs 0 3 0 0 3 3\n", "codec: the named topics only");
	cmp_ok(kc_state_lines(&st, names, 1), ==, 6, "codec: 6 lines for one topic");

	ok(kc_state_copy(&cp, &st, err) == 0, "copy");
	kc_state_free(&st);
	is(fmt(&cp, NULL, 0), good, "copy: the same lines after the original is freed");
	t = kc_topic_find(&cp, "orders");
	ok(t && kc_topic_set(t, "retention.ms=5", err) == 0 && kc_topic_set(t, "cleanup.policy=compact", err)
	    == 0 && t->nkv == 3 && !strcmp(kc_topic_kv(t, "retention.ms"), "5"),
	    "topic set: a key replaced, another added");
	ok(t && kc_topic_set(t, "=x", err) < 0 && kc_topic_set(t, "a b=c", err) < 0, "topic set: bad ones");
	ok(kc_topic_delete(&cp, "orders") == 0 && !kc_topic_find(&cp, "orders") &&
	    kc_topic_find(&cp, "logs") && kc_topic_delete(&cp, "orders") < 0, "topic delete");
	kc_state_free(&cp);

	ok(parse("cluster -1 0 0\n", &st) == 0 && st.controller == -1 && st.nnodes == 0,
	    "codec: the cluster line alone");
	kc_state_free(&st);
	ok(parse("cluster 1 0 -1\n# a comment\n\nnode 1 a:1 dead\n", &st) == 0,
	    "codec: comments and blank lines");
	kc_state_free(&st);

	ok(kc_ids_parse("3,1,2", ids, &n, err) == 0 && n == 3 && ids[0] == 3 && ids[2] == 2,
	    "ids: parse");
	kc_ids_format(ids, n, buf, sizeof buf);
	is(buf, "3,1,2", "ids: format");
	ok(kc_ids_parse("-", ids, &n, err) == 0 && n == 0, "ids: '-' is empty");
	kc_ids_format(ids, 0, buf, sizeof buf);
	is(buf, "-", "ids: empty is '-'");
	ok(kc_ids_parse("1,1", ids, &n, err) < 0 && strstr(err, "twice"), "ids: twice: %s", err);
	ok(kc_ids_parse("1,,2", ids, &n, err) < 0, "ids: empty member: %s", err);
	ok(kc_ids_parse("1,x", ids, &n, err) < 0, "ids: not a number: %s", err);
	ok(kc_ids_parse("", ids, &n, err) < 0, "ids: empty string");
}

static void
bad(const char *text, const char *want, const char *title)
{
	struct kc_state st;

	ok(parse(text, &st) < 0 && strstr(err, want), "bad lines: %s: %s", title, err);
	/* a failed parse leaves an empty state */
	ok(st.nnodes == 0 && st.ntopics == 0, "bad lines: %s: state empty", title);
}

static void
test_bad(void)
{
	bad("node 1 a:1 alive\n", "line 1: 'node' before the cluster line", "no cluster line first");
	bad("", "no cluster line", "empty");
	bad("cluster 1 0 -1", "line 1: no newline", "no newline");
	bad("cluster 1 0 -1\ncluster 1 0 -1\n", "line 2: a second cluster line", "two cluster lines");
	bad("cluster 1 x -1\n", "line 1: bad cluster line", "bad version");
	bad("cluster 1 -5 -1\n", "line 1: bad cluster line", "negative version");
	bad("cluster 1 0 -1\nnode 1 a:1 maybe\n", "line 2: bad node line", "bad alive flag");
	bad("cluster 1 0 -1\nnode 1 a:1 alive\nnode 1 b:1 alive\n", "line 3: node 1 twice",
	    "node twice");
	bad("cluster 1 0 -1\nnode 1 nowhere alive\n", "line 2: node 1: bad address", "bad address");
	bad("cluster 1 0 -1\nnode  1 a:1 alive\n", "line 2: empty word", "two spaces");
	bad("cluster 1 0 -1\nfrob 1\n", "line 2: unknown line kind 'frob'", "unknown kind");
	bad("cluster 1 0 -1\ntopic t 2 1\npart t 0 1 0 0 1 1\n",
	    "topic 't': no part line for partition 1", "missing part");
	bad("cluster 1 0 -1\ntopic t 1 1\npart t 0 1 0 0 1 1\npart t 0 1 0 0 1 1\n",
	    "line 4: partition t-0 twice", "part twice");
	bad("cluster 1 0 -1\npart t 0 1 0 0 1 1\n", "line 2: part of topic 't' before its topic line",
	    "part before topic");
	bad("cluster 1 0 -1\ntopic t 1 1\npart t 1 1 0 0 1 1\n", "line 3: topic 't': bad partition '1'",
	    "partition out of range");
	bad("cluster 1 0 -1\ntopic t 1 2\npart t 0 1 0 0 1,2 1,3\n", "line 3: ISR member 3 not a replica",
	    "ISR not a subset");
	bad("cluster 1 0 -1\ntopic t 1 2\npart t 0 3 0 0 1,2 1\n", "line 3: leader 3 not a replica",
	    "leader not a replica");
	bad("cluster 1 0 -1\ntopic t 1 1\npart t 0 1 -1 0 1 1\n", "line 3: bad leader epoch '-1'",
	    "negative epoch");
	bad("cluster 1 0 -1\ntopic t 1 1\npart t 0 1 0 0 1\n", "line 3: part: 7 words, want 8",
	    "short part line");
	bad("cluster 1 0 -1\ntopic a/b 1 1\npart a/b 0 1 0 0 1 1\n", "invalid topic name 'a/b'",
	    "bad topic name");
	bad("cluster 1 0 -1\ntopic t 1 1 noequals\npart t 0 1 0 0 1 1\n", "bad config 'noequals'",
	    "bad topic config");
	bad("cluster 1 0 -1\ntopic t 0 1\n", "line 2: bad topic line", "zero partitions");
	bad("cluster 1 0 -1\ntopic t 1 1\npart t 0 1 0 0 1 1\nnode 2 a:1 alive\n",
	    "line 4: node line after a topic line", "node after topic");
}

/* a state with nodes ids[0..n) alive */
static void
nodes(struct kc_state *st, const int *ids, int n)
{
	char spec[512] = "";
	int i;

	for (i = 0; i < n; i++)
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%d@127.0.0.1:%d,", ids[i],
		    9000 + ids[i]);
	if (kc_spec_parse(spec, st, err) < 0)
		diag("spec: %s", err);
	for (i = 0; i < n; i++)
		st->nodes[i].alive = 1;
}

static void
test_assign(void)
{
	struct kc_state st;
	struct kc_topic *t;
	int three[] = { 3, 1, 2 }, leads[4] = {0}, p, live[KC_MAX_NODES];

	nodes(&st, three, 3);
	ok(kc_live(&st, live, KC_MAX_NODES) == 3 && live[0] == 1 && live[1] == 2 && live[2] == 3,
	    "live nodes sorted by id");
	t = kc_topic_add(&st, "t3", 3, 3, NULL, 0, err);
	ok(t && kc_assign(&st, t, 0, 0, err) == 0, "assign: 3 nodes, 3 partitions, rf 3: %s", err);
	for (p = 0; t && p < 3; p++)
		if (t->parts[p].leader >= 1 && t->parts[p].leader <= 3)
			leads[t->parts[p].leader]++;
	ok(leads[1] == 1 && leads[2] == 1 && leads[3] == 1, "assign: each node leads one");
	is(part_line(&st, "t3", 0), "1 0 0 1,2,3 1,2,3", "assign: p0 over the sorted ids");
	is(part_line(&st, "t3", 1), "2 0 0 2,3,1 2,3,1", "assign: p1 starts one further");
	is(part_line(&st, "t3", 2), "3 0 0 3,1,2 3,1,2", "assign: p2");

	t = kc_topic_add(&st, "t2", 2, 3, NULL, 0, err);
	ok(t && kc_assign(&st, t, 0, 1, err) == 0, "assign: 3 nodes, 2 partitions, start 1");
	is(part_line(&st, "t2", 0), "2 0 0 2,3,1 2,3,1", "assign: 2 partitions: p0");
	is(part_line(&st, "t2", 1), "3 0 0 3,1,2 3,1,2", "assign: 2 partitions: p1, another leader");

	t = kc_topic_add(&st, "t1", 4, 1, NULL, 0, err);
	ok(t && kc_assign(&st, t, 0, 0, err) == 0, "assign: rf 1");
	is(part_line(&st, "t1", 3), "1 0 0 1 1", "assign: rf 1, p3 wraps around");

	ok(kc_topic_grow(t, 6, err) == 0 && kc_assign(&st, t, 4, 0, err) == 0 &&
	    !strcmp(part_line(&st, "t1", 3), "1 0 0 1 1"), "assign: growth keeps the old ones");
	is(part_line(&st, "t1", 5), "3 0 0 3 3", "assign: growth assigns the new ones");

	st.nodes[0].alive = 0;          /* node 3 */
	t = kc_topic_add(&st, "big", 1, 3, NULL, 0, err);
	ok(t && kc_assign(&st, t, 0, 0, err) < 0, "assign: rf 3 over 2 live refused");
	is(err, "topic 'big': replication factor 3 larger than the 2 live brokers",
	    "assign: the message");
	ok(kc_topic_add(&st, "t3", 1, 1, NULL, 0, err) == NULL && strstr(err, "already exists"),
	    "topic add: exists: %s", err);
	kc_state_free(&st);
}

/* the notes the rules give */
static char notes[4096];

static void
note(void *arg, const struct kc_topic *t, int p, const struct kc_part *old)
{
	(void)arg;
	snprintf(notes + strlen(notes), sizeof notes - strlen(notes), "%s-%d:%d->%d ", t->name, p,
	    old->leader, t->parts[p].leader);
}

static void
test_elections(void)
{
	struct kc_state st;
	struct kc_topic *t;
	int three[] = { 1, 2, 3 };
	int64_t v;

	nodes(&st, three, 3);
	t = kc_topic_add(&st, "o", 3, 3, NULL, 0, err);
	kc_assign(&st, t, 0, 0, err);
	t = kc_topic_add(&st, "u", 1, 2, (char *[]){ "unclean.leader.election.enable=true" }, 1, err);
	kc_assign(&st, t, 0, 0, err);
	ok(kc_topic_unclean(t), "unclean topic");

	v = st.version;
	*notes = 0;
	cmp_ok(kc_node_died(&st, 1, note, NULL), ==, 4, "died: node 1: 4 partitions change");
	cmp_ok(st.version, >, v, "died: version bumped");
	ok(!kc_node_find(&st, 1)->alive, "died: node 1 dead");
	is(part_line(&st, "o", 0), "2 1 1 1,2,3 2,3", "died: leader 1 -> 2 (ISR member), epochs bumped");
	is(part_line(&st, "o", 1), "2 0 1 2,3,1 2,3", "died: follower leaves the ISR, leader epoch kept");
	is(part_line(&st, "o", 2), "3 0 1 3,1,2 3,2", "died: p2 too");
	is(notes, "o-0:1->2 o-1:2->2 o-2:3->3 u-0:1->2 ", "died: the notes");

	cmp_ok(kc_node_died(&st, 2, NULL, NULL), ==, 3 + 1, "died: node 2");
	is(part_line(&st, "o", 0), "3 2 2 1,2,3 3", "died: 2 -> 3");
	cmp_ok(kc_node_died(&st, 3, NULL, NULL), ==, 3, "died: node 3, the last");
	is(part_line(&st, "o", 0), "-1 3 3 1,2,3 3", "died: the last ISR member stays, no leader");
	cmp_ok(kc_node_died(&st, 3, NULL, NULL), ==, 0, "died again: nothing changes");
	cmp_ok(kc_node_died(&st, 9, NULL, NULL), ==, -1, "died: unknown node");

	*notes = 0;
	cmp_ok(kc_node_born(&st, 1, "h:1", 7, note, NULL), ==, 1, "born: node 1, not in the ISR of o");
	is(part_line(&st, "o", 0), "-1 3 3 1,2,3 3", "born: 1 not elected (clean)");
	ok(kc_node_find(&st, 1)->incarnation == 7 && !strcmp(kc_node_find(&st, 1)->addr, "h:1"),
	    "born: incarnation and address");
	cmp_ok(kc_node_born(&st, 3, NULL, 2, NULL, NULL), ==, 3, "born: node 3");
	is(part_line(&st, "o", 2), "3 2 4 3,1,2 3", "born: 3 leads again, epochs bumped");
	kc_state_free(&st);

	/* unclean: the only ISR member dead, a live replica elected */
	nodes(&st, three, 3);
	t = kc_topic_add(&st, "u", 1, 2, (char *[]){ "unclean.leader.election.enable=true" }, 1, err);
	kc_assign(&st, t, 0, 0, err);
	t = kc_topic_add(&st, "c", 1, 2, NULL, 0, err);
	kc_assign(&st, t, 0, 0, err);
	kc_node_died(&st, 2, NULL, NULL);       /* ISR 1 */
	kc_node_find(&st, 2)->alive = 1;       /* back, but not in sync */
	kc_node_died(&st, 1, NULL, NULL);
	is(part_line(&st, "u", 0), "2 1 2 1,2 2", "unclean: a live replica out of the ISR elected");
	is(part_line(&st, "c", 0), "-1 1 2 1,2 1", "clean: no leader");
	kc_node_died(&st, 2, NULL, NULL);
	is(part_line(&st, "u", 0), "-1 2 3 1,2 2", "unclean: no live replica, no leader");
	kc_node_born(&st, 1, NULL, 1, NULL, NULL);
	is(part_line(&st, "u", 0), "1 3 4 1,2 1", "unclean: a replica born leads");
	is(part_line(&st, "c", 0), "1 2 3 1,2 1", "clean: the ISR member born leads");
	kc_state_free(&st);
}

static void
test_alter_isr(void)
{
	struct kc_state st;
	struct kc_topic *t;
	int three[] = { 1, 2, 3 };
	const char *code;
	int32_t pe = -1;
	int64_t v;

	nodes(&st, three, 3);
	t = kc_topic_add(&st, "o", 1, 3, NULL, 0, err);
	kc_assign(&st, t, 0, 0, err);
	v = st.version;
	ok(kc_alter_isr(&st, "o", 0, 0, 0, (int[]){ 1, 3 }, 2, &pe, &code, err) == 0 && pe == 1,
	    "alterisr: shrink accepted, part epoch 1: %s", err);
	is(part_line(&st, "o", 0), "1 0 1 1,2,3 1,3", "alterisr: applied");
	cmp_ok(st.version, ==, v + 1, "alterisr: version bumped");
	ok(kc_alter_isr(&st, "o", 0, 0, 0, (int[]){ 1 }, 1, &pe, &code, err) < 0 &&
	    !strcmp(code, "STALE_EPOCH"), "alterisr: old part epoch: STALE_EPOCH: %s", err);
	ok(kc_alter_isr(&st, "o", 0, 1, 1, (int[]){ 1 }, 1, &pe, &code, err) < 0 &&
	    !strcmp(code, "STALE_EPOCH"), "alterisr: wrong leader epoch: STALE_EPOCH");
	ok(kc_alter_isr(&st, "o", 0, 0, 1, (int[]){ 2, 3 }, 2, &pe, &code, err) < 0 &&
	    !strcmp(code, "INVALID") && strstr(err, "must hold the leader"),
	    "alterisr: without the leader: INVALID: %s", err);
	ok(kc_alter_isr(&st, "o", 0, 0, 1, (int[]){ 1, 4 }, 2, &pe, &code, err) < 0 &&
	    !strcmp(code, "INVALID") && strstr(err, "node 4 is not a replica"),
	    "alterisr: not a replica: INVALID: %s", err);
	ok(kc_alter_isr(&st, "o", 0, 0, 1, NULL, 0, &pe, &code, err) < 0 &&
	    !strcmp(code, "INVALID"), "alterisr: empty: INVALID: %s", err);
	kc_node_find(&st, 2)->alive = 0;
	ok(kc_alter_isr(&st, "o", 0, 0, 1, (int[]){ 1, 2, 3 }, 3, &pe, &code, err) < 0 &&
	    !strcmp(code, "INVALID") && strstr(err, "node 2 is not alive"),
	    "alterisr: a dead node cannot join: %s", err);
	kc_node_find(&st, 2)->alive = 1;
	ok(kc_alter_isr(&st, "o", 0, 0, 1, (int[]){ 1, 2, 3 }, 3, &pe, &code, err) == 0 && pe == 2,
	    "alterisr: expand accepted");
	ok(kc_alter_isr(&st, "x", 0, 0, 2, (int[]){ 1 }, 1, &pe, &code, err) < 0 &&
	    !strcmp(code, "UNKNOWN_TOPIC"), "alterisr: unknown topic");
	ok(kc_alter_isr(&st, "o", 5, 0, 2, (int[]){ 1 }, 1, &pe, &code, err) < 0 &&
	    !strcmp(code, "UNKNOWN_PARTITION"), "alterisr: unknown partition");
	kc_state_free(&st);
}

int
main(void)
{
	test_spec();
	test_codec();
	test_bad();
	test_assign();
	test_elections();
	test_alter_isr();
	return done_testing();
}
