/* klog - group assignment strategies: range, roundrobin, sticky. MIT licence. */
/*
 * Pure functions: the same members, partitions and previous owners give
 * the same answer in every process, so any member may compute it.
 * Members come sorted by id, partitions by topic then number; a
 * partition whose topic no member subscribes to gets owner -1.
 *
 *   range       Kafka's RangeAssignor: per topic, its partitions in
 *               contiguous ranges over the members subscribed to it, the
 *               first (count % members) of them one partition more.
 *   roundrobin  Kafka's RoundRobinAssignor: every partition in order,
 *               dealt over the members in a circle that skips a member
 *               not subscribed to the partition's topic.
 *   sticky      every partition stays with its previous owner while that
 *               owner is still a member subscribed to it and within
 *               balance; the fewest partitions move.  When every member
 *               subscribes to the same topics the result is balanced
 *               (counts differ by at most one) with the least movement
 *               possible: the (count % members) larger shares go to the
 *               members that already hold the most.  With different
 *               subscriptions, unowned partitions go to the least loaded
 *               eligible member and partitions then move from the most
 *               to the least loaded until no move evens things further.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

static const char *const strategies[] = { "range", "roundrobin", "sticky" };

int
kg_strategy_check(const char *strategy, char *err)
{
	for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++)
		if (strategy && !strcmp(strategy, strategies[i]))
			return 0;
	errno = EINVAL;
	return kerr(err, "unknown assignment strategy '%s' (range, roundrobin or sticky)",
	    strategy ? strategy : "");
}

static int
subscribed(const struct kg_member *m, const char *topic)
{
	for (size_t i = 0; i < m->ntopics; i++)
		if (!strcmp(m->topics[i], topic))
			return 1;
	return 0;
}

static void
assign_range(const struct kg_member *m, size_t nm, const struct kg_tp *tp, size_t ntp,
    int *out, size_t *subs)
{
	size_t i = 0;

	while (i < ntp) {
		size_t j = i, ns = 0, n, q, r, k;

		while (j < ntp && !strcmp(tp[j].topic, tp[i].topic))
			j++;
		for (size_t x = 0; x < nm; x++)
			if (subscribed(&m[x], tp[i].topic))
				subs[ns++] = x;
		n = j - i;
		if (ns == 0) {
			for (k = i; k < j; k++)
				out[k] = -1;
			i = j;
			continue;
		}
		q = n / ns;
		r = n % ns;
		k = i;
		for (size_t s = 0; s < ns; s++)
			for (size_t c = 0; c < q + (s < r); c++)
				out[k++] = (int)subs[s];
		i = j;
	}
}

static void
assign_roundrobin(const struct kg_member *m, size_t nm, const struct kg_tp *tp, size_t ntp,
    int *out)
{
	size_t cur = 0;

	for (size_t i = 0; i < ntp; i++) {
		size_t tries;

		out[i] = -1;
		for (tries = 0; tries < nm; tries++) {
			if (subscribed(&m[cur], tp[i].topic))
				break;
			cur = (cur + 1) % nm;
		}
		if (tries == nm)
			continue;
		out[i] = (int)cur;
		cur = (cur + 1) % nm;
	}
}

/* every member eligible for every partition that has an eligible member */
static int
homogeneous(const unsigned char *elig, size_t nm, size_t ntp)
{
	for (size_t i = 0; i < ntp; i++) {
		size_t c = 0;

		for (size_t x = 0; x < nm; x++)
			c += elig[i * nm + x];
		if (c != 0 && c != nm)
			return 0;
	}
	return 1;
}

/* the homogeneous case: quotas of q and q + 1, the larger ones to the
 * members keeping the most; each keeps its first partitions up to its
 * quota; the rest go to the member furthest below its quota */
static void
sticky_quota(size_t nm, size_t ntp, const unsigned char *elig, const int *prev, int *out,
    size_t *cnt, size_t *quota, size_t *order)
{
	size_t n = 0, q, r;

	memset(cnt, 0, nm * sizeof *cnt);
	for (size_t i = 0; i < ntp; i++) {
		out[i] = -1;
		if (!elig[i * nm])
			continue;
		n++;
		if (prev[i] >= 0 && (size_t)prev[i] < nm)
			cnt[prev[i]]++;
	}
	q = n / nm;
	r = n % nm;
	/* members by partitions kept, most first, then by index (insertion sort: stable) */
	for (size_t x = 0; x < nm; x++) {
		size_t y = x;

		while (y > 0 && cnt[order[y - 1]] < cnt[x]) {
			order[y] = order[y - 1];
			y--;
		}
		order[y] = x;
	}
	for (size_t k = 0; k < nm; k++)
		quota[order[k]] = q + (k < r);
	memset(cnt, 0, nm * sizeof *cnt);
	for (size_t i = 0; i < ntp; i++) {
		if (!elig[i * nm] || prev[i] < 0 || (size_t)prev[i] >= nm)
			continue;
		if (cnt[prev[i]] < quota[prev[i]]) {
			out[i] = prev[i];
			cnt[prev[i]]++;
		}
	}
	for (size_t i = 0; i < ntp; i++) {
		size_t best = 0;

		if (!elig[i * nm] || out[i] >= 0)
			continue;
		for (size_t x = 1; x < nm; x++)
			if (quota[x] - cnt[x] > quota[best] - cnt[best])
				best = x;
		out[i] = (int)best;
		cnt[best]++;
	}
}

/* different subscriptions: greedy placement, then even out */
static void
sticky_greedy(size_t nm, size_t ntp, const unsigned char *elig, const int *prev, int *out,
    size_t *cnt)
{
	memset(cnt, 0, nm * sizeof *cnt);
	for (size_t i = 0; i < ntp; i++) {
		out[i] = -1;
		if (prev[i] >= 0 && (size_t)prev[i] < nm && elig[i * nm + prev[i]]) {
			out[i] = prev[i];
			cnt[prev[i]]++;
		}
	}
	for (size_t i = 0; i < ntp; i++) {
		int best = -1;

		if (out[i] >= 0)
			continue;
		for (size_t x = 0; x < nm; x++)
			if (elig[i * nm + x] && (best < 0 || cnt[x] < cnt[best]))
				best = (int)x;
		if (best >= 0) {
			out[i] = best;
			cnt[best]++;
		}
	}
	/* each move lowers the sum of squared counts, so this ends */
	for (;;) {
		long bi = -1;
		size_t bfrom = 0, bto = 0, gap = 1;

		for (size_t i = 0; i < ntp; i++) {
			if (out[i] < 0)
				continue;
			for (size_t x = 0; x < nm; x++) {
				size_t from = (size_t)out[i];

				if (!elig[i * nm + x] || cnt[from] <= cnt[x] + 1)
					continue;
				if (cnt[from] - cnt[x] > gap) {
					gap = cnt[from] - cnt[x];
					bi = (long)i;
					bfrom = from;
					bto = x;
				}
			}
		}
		if (bi < 0)
			break;
		out[bi] = (int)bto;
		cnt[bfrom]--;
		cnt[bto]++;
	}
}

int
kg_assign(const char *strategy, const struct kg_member *m, size_t nm,
    const struct kg_tp *tp, size_t ntp, const int *prev, int *out, char *err)
{
	unsigned char *elig = NULL;
	size_t *tmp = NULL;
	int *none = NULL;
	int rc = -1;

	if (kg_strategy_check(strategy, err) < 0)
		return -1;
	if (nm == 0) {
		for (size_t i = 0; i < ntp; i++)
			out[i] = -1;
		return 0;
	}
	if (!(tmp = calloc(3 * nm + 1, sizeof *tmp))) {
		kerr_sys(err, "assignment");
		goto out;
	}
	if (!strcmp(strategy, "range")) {
		assign_range(m, nm, tp, ntp, out, tmp);
		rc = 0;
		goto out;
	}
	if (!strcmp(strategy, "roundrobin")) {
		assign_roundrobin(m, nm, tp, ntp, out);
		rc = 0;
		goto out;
	}
	if (ntp && !(elig = malloc(ntp * nm))) {
		kerr_sys(err, "assignment");
		goto out;
	}
	for (size_t i = 0; i < ntp; i++)
		for (size_t x = 0; x < nm; x++)
			elig[i * nm + x] = (unsigned char)subscribed(&m[x], tp[i].topic);
	if (!prev) {
		if (ntp && !(none = malloc(ntp * sizeof *none))) {
			kerr_sys(err, "assignment");
			goto out;
		}
		for (size_t i = 0; i < ntp; i++)
			none[i] = -1;
		prev = none;
	}
	if (homogeneous(elig, nm, ntp))
		sticky_quota(nm, ntp, elig, prev, out, tmp, tmp + nm, tmp + 2 * nm);
	else
		sticky_greedy(nm, ntp, elig, prev, out, tmp);
	rc = 0;
out:
	free(none);
	free(elig);
	free(tmp);
	return rc;
}
