/* klog - tests for the group assignment strategies (group-assign.c). MIT licence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "tap.h"

static char *ab[] = { "a", "b" };
static char *a_only[] = { "a" };
static char *b_only[] = { "b" };

/* topics a and b with na and nb partitions */
static size_t
mktps(struct kg_tp *tp, int na, int nb)
{
	size_t n = 0;

	for (int i = 0; i < na; i++)
		tp[n++] = (struct kg_tp){ "a", i };
	for (int i = 0; i < nb; i++)
		tp[n++] = (struct kg_tp){ "b", i };
	return n;
}

static void
mkmembers(struct kg_member *m, size_t nm, char ids[][8])
{
	for (size_t i = 0; i < nm; i++) {
		snprintf(ids[i], 8, "m%d", (int)(i % 100));
		m[i] = (struct kg_member){ ids[i], ab, 2 };
	}
}

/* "0 0 1 1 2 2 | ..." as a string, for exact layouts */
static const char *
layout(const int *out, size_t n)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && len + 4 < sizeof buf; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", i ? " " : "", out[i]);
	return buf;
}

static int
balanced(const int *out, size_t ntp, size_t nm)
{
	size_t cnt[64] = { 0 }, lo = (size_t)-1, hi = 0;

	for (size_t i = 0; i < ntp; i++) {
		if (out[i] < 0 || (size_t)out[i] >= nm)
			return 0;
		cnt[out[i]]++;
	}
	for (size_t x = 0; x < nm; x++) {
		if (cnt[x] < lo)
			lo = cnt[x];
		if (cnt[x] > hi)
			hi = cnt[x];
	}
	return hi - lo <= 1;
}

/* the least number of moves a balanced sticky result can have, all
 * members subscribing to everything: the larger quotas to the members
 * keeping the most */
static size_t
min_moves(const int *prev, size_t ntp, size_t nm)
{
	size_t kept[64] = { 0 }, moves = 0, q = ntp / nm, r = ntp % nm;

	for (size_t i = 0; i < ntp; i++)
		if (prev[i] >= 0)
			kept[prev[i]]++;
	/* sort descending */
	for (size_t i = 0; i < nm; i++)
		for (size_t j = i + 1; j < nm; j++)
			if (kept[j] > kept[i]) {
				size_t t = kept[i];

				kept[i] = kept[j];
				kept[j] = t;
			}
	for (size_t x = 0; x < nm; x++) {
		size_t quota = q + (x < r);

		if (kept[x] > quota)
			moves += kept[x] - quota;
	}
	return moves;
}

static size_t
moved(const int *prev, const int *out, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (prev[i] >= 0 && prev[i] != out[i])
			c++;
	return c;
}

int
main(void)
{
	char err[KLOG_ERRLEN], ids[16][8];
	struct kg_member m[16];
	struct kg_tp tp[64];
	int out[64], out2[64], prev[64];
	size_t ntp;

	plan(31);

	ok(kg_strategy_check("range", err) == 0, "range is a strategy");
	ok(kg_strategy_check("roundrobin", err) == 0, "roundrobin is a strategy");
	ok(kg_strategy_check("sticky", err) == 0, "sticky is a strategy");
	errno = 0;
	ok(kg_strategy_check("cooperative", err) < 0 && errno == EINVAL, "unknown: EINVAL");
	is(err, "unknown assignment strategy 'cooperative' (range, roundrobin or sticky)",
	    "the error names it");
	mkmembers(m, 3, ids);
	ntp = mktps(tp, 6, 6);
	ok(kg_assign("bogus", m, 3, tp, ntp, NULL, out, err) < 0 && errno == EINVAL,
	    "kg_assign refuses an unknown strategy");

	/* exact layouts: 3 members, topics a and b with 6 partitions each */
	ok(kg_assign("range", m, 3, tp, ntp, NULL, out, err) == 0, "range");
	is(layout(out, ntp), "0 0 1 1 2 2 0 0 1 1 2 2", "range: contiguous ranges per topic");
	ok(kg_assign("roundrobin", m, 3, tp, ntp, NULL, out, err) == 0, "roundrobin");
	is(layout(out, ntp), "0 1 2 0 1 2 0 1 2 0 1 2", "roundrobin: dealt in order");
	/* 4 partitions each: range gives the first member the extras of each
	 * topic, roundrobin deals on across topics */
	ntp = mktps(tp, 4, 4);
	kg_assign("range", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 0 1 2 0 0 1 2", "range, 4+4 partitions: Kafka's uneven layout");
	kg_assign("roundrobin", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 1 2 0 1 2 0 1", "roundrobin, 4+4 partitions");
	/* subscriptions differ: m0 a and b, m1 a only, m2 b only */
	m[1].topics = a_only;
	m[1].ntopics = 1;
	m[2].topics = b_only;
	m[2].ntopics = 1;
	ntp = mktps(tp, 3, 3);
	kg_assign("range", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 0 1 0 0 2", "range: only subscribers of each topic");
	kg_assign("roundrobin", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 1 0 2 0 2", "roundrobin: skips members not subscribed");
	kg_assign("sticky", m, 3, tp, ntp, NULL, out, err);
	{
		int good = 1;

		for (size_t i = 0; i < ntp; i++)
			if (out[i] == 1 && strcmp(tp[i].topic, "a"))
				good = 0;
			else if (out[i] == 2 && strcmp(tp[i].topic, "b"))
				good = 0;
			else if (out[i] < 0)
				good = 0;
		ok(good, "sticky: only subscribers, every partition placed (%s)", layout(out, ntp));
	}
	/* nobody subscribes to b */
	m[0].topics = a_only;
	m[0].ntopics = 1;
	m[2].topics = a_only;
	kg_assign("roundrobin", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 1 2 -1 -1 -1", "a topic nobody subscribes to: no owner");
	ok(kg_assign("range", m, 0, tp, ntp, NULL, out, err) == 0 && out[0] == -1,
	    "no members: nothing assigned");

	/* balance and determinism over many shapes */
	{
		int bal = 1, det = 1, min = 1;

		for (size_t nm = 1; nm <= 9; nm++) {
			for (int np = 0; np <= 20; np++) {
				mkmembers(m, nm, ids);
				ntp = mktps(tp, np, np / 2);
				kg_assign("roundrobin", m, nm, tp, ntp, NULL, out, err);
				bal &= balanced(out, ntp, nm);
				kg_assign("sticky", m, nm, tp, ntp, NULL, out, err);
				bal &= balanced(out, ntp, nm);
				/* a random previous layout, some partitions unowned */
				srand((unsigned)(nm * 100 + (size_t)np));
				for (size_t i = 0; i < ntp; i++)
					prev[i] = rand() % ((int)nm + 1) - 1;
				kg_assign("sticky", m, nm, tp, ntp, prev, out, err);
				kg_assign("sticky", m, nm, tp, ntp, prev, out2, err);
				det &= !memcmp(out, out2, ntp * sizeof *out);
				bal &= balanced(out, ntp, nm);
				if (moved(prev, out, ntp) != min_moves(prev, ntp, nm)) {
					diag("nm %zu np %d: moved %zu, least %zu", nm, np,
					    moved(prev, out, ntp), min_moves(prev, ntp, nm));
					min = 0;
				}
			}
		}
		ok(bal, "roundrobin and sticky are balanced (counts differ by at most 1)");
		ok(det, "sticky is deterministic");
		ok(min, "sticky moves the fewest partitions from any previous layout");
	}

	/* sticky over a member joining and leaving: 3 members, 6+6 partitions */
	mkmembers(m, 4, ids);
	ntp = mktps(tp, 6, 6);
	ok(kg_assign("sticky", m, 3, tp, ntp, NULL, out, err) == 0 && balanced(out, ntp, 3),
	    "sticky: 3 members, balanced");
	memcpy(prev, out, ntp * sizeof *out);
	/* m3 joins (sorts last, so indexes stay) */
	kg_assign("sticky", m, 4, tp, ntp, prev, out, err);
	ok(balanced(out, ntp, 4), "a fourth joins: balanced");
	cmp_ok(moved(prev, out, ntp), ==, 3, "a fourth joins: only the 3 partitions it takes move");
	{
		int only_to_new = 1;

		for (size_t i = 0; i < ntp; i++)
			if (out[i] != prev[i] && out[i] != 3)
				only_to_new = 0;
		ok(only_to_new, "every partition that moved went to the newcomer");
	}
	/* m1 leaves: m0 m2 m3 remain, reindexed 0 1 2 */
	memcpy(prev, out, ntp * sizeof *out);
	{
		struct kg_member m3[3] = { m[0], m[2], m[3] };
		int p3[64], orphans = 0, kept = 1;

		for (size_t i = 0; i < ntp; i++) {
			p3[i] = prev[i] == 0 ? 0 : prev[i] == 2 ? 1 : prev[i] == 3 ? 2 : -1;
			orphans += p3[i] < 0;
		}
		kg_assign("sticky", m3, 3, tp, ntp, p3, out, err);
		ok(balanced(out, ntp, 3), "one leaves: balanced");
		for (size_t i = 0; i < ntp; i++)
			if (p3[i] >= 0 && out[i] != p3[i])
				kept = 0;
		ok(kept, "one leaves: the others keep all they had");
		cmp_ok(orphans, ==, 3, "one leaves: its 3 partitions were the only ones to move");
	}
	/* a previous owner that no longer subscribes loses the partition */
	mkmembers(m, 2, ids);
	ntp = mktps(tp, 2, 2);
	for (size_t i = 0; i < ntp; i++)
		prev[i] = 0;
	m[0].topics = a_only;
	m[0].ntopics = 1;
	kg_assign("sticky", m, 2, tp, ntp, prev, out, err);
	is(layout(out, ntp), "0 0 1 1", "sticky: a partition leaves a member no longer subscribed");
	/* rounds: same inputs, same output (range and roundrobin ignore prev) */
	mkmembers(m, 3, ids);
	ntp = mktps(tp, 5, 7);
	kg_assign("range", m, 3, tp, ntp, NULL, out, err);
	kg_assign("range", m, 3, tp, ntp, prev, out2, err);
	ok(!memcmp(out, out2, ntp * sizeof *out), "range ignores previous owners");
	is(layout(out, ntp), "0 0 1 1 2 0 0 0 1 1 2 2", "range, 5+7 partitions");
	kg_assign("roundrobin", m, 3, tp, ntp, NULL, out, err);
	is(layout(out, ntp), "0 1 2 0 1 2 0 1 2 0 1 2", "roundrobin, 5+7 partitions");
	return done_testing();
}
