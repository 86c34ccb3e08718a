/* klog - a consumer-group member's bookkeeping for kconsume -g. MIT licence. */
/*
 * What a group member commits is what it has used: printed records once
 * the write of the output buffer succeeded (m->flush runs before every
 * commit, so a commit covers everything returned so far), executed
 * records once their command exited 0 or they went to the dead-letter
 * topic.  The one record whose command is running or waiting for a retry
 * (the in-flight record, m->in) holds its partition's commit at its own
 * offset.  Commits happen every commit_interval ms (klog_cmd_member_tick),
 * for a partition when the group revokes it (then it is released), and at
 * the end (klog_cmd_member_exit).  A LOST partition is dropped with
 * nothing committed.
 *
 * The events, from klog_group_poll:
 *   ASSIGN  the partition joins the consumer, from the group's commit or
 *           else from m->st;
 *   REVOKE  commit it and release it; while its command runs, once the
 *           command is done (klog_cmd_member_revoke_pending);
 *   LOST    (fenced) drop it, commit nothing.
 * Prints like the main (klog_cmd_*, "PROG: group 'G': ..." with -v) and
 * exits on errors other than a fenced commit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "cmdgroup.h"

static void
flush(struct klog_cmd_member *m)
{
	if (m->flush)
		m->flush(m->arg);
}

struct klog_cmd_gpart *
klog_cmd_member_find(struct klog_cmd_member *m, const char *topic, int partition)
{
	for (size_t i = 0; i < m->ngp; i++)
		if (m->gp[i].partition == partition && !strcmp(m->gp[i].topic, topic))
			return &m->gp[i];
	return NULL;
}

static void
gp_drop(struct klog_cmd_member *m, struct klog_cmd_gpart *p)
{
	free(p->topic);
	*p = m->gp[--m->ngp];
}

static int
is_inflight(const struct klog_cmd_member *m, const char *topic, int partition)
{
	return m->in.active && !m->in.gone && m->in.partition == partition &&
	    !strcmp(m->in.topic, topic);
}

/* the offset a commit of this partition records: after what was used */
static int64_t
used_offset(const struct klog_cmd_member *m, const struct klog_cmd_gpart *p)
{
	int64_t next;

	if (is_inflight(m, p->topic, p->partition))
		return m->in.offset;
	if (klog_consumer_next_offset(m->con, p->topic, p->partition, &next) < 0)
		return p->committed;
	return next;
}

/*
 * Commit one partition (only non-NULL) or every one that moved.  The
 * output is written first, so what is committed was written.  A fenced
 * member (ESTALE) commits nothing: the group's next poll says LOST.
 */
int
klog_cmd_member_commit(struct klog_cmd_member *m, struct klog_cmd_gpart *only)
{
	struct klog_gcommit c[64];
	struct klog_cmd_gpart *who[64];
	char err[KLOG_ERRLEN];
	size_t i = 0, n = 0;
	int64_t off;

	if (!m->g)
		return 0;
	flush(m);
	for (;;) {
		struct klog_cmd_gpart *p = only ? only : i < m->ngp ? &m->gp[i] : NULL;

		i++;
		if (p && (off = used_offset(m, p)) != p->committed && off >= 0) {
			c[n].topic = p->topic;
			c[n].partition = p->partition;
			c[n].offset = off;
			c[n].commit_ts = klog_now_ms();
			who[n++] = p;
		}
		if (n && (n == 64 || !p || only)) {
			if (klog_group_commit(m->g, c, n, err) < 0) {
				if (errno == ESTALE) {
					klog_cmd_warn("%s", err);
					return -1;
				}
				klog_cmd_die(1, "%s", err);
			}
			m->commits++;
			for (size_t k = 0; k < n; k++) {
				who[k]->committed = c[k].offset;
				if (m->verbose)
					fprintf(stderr, "%s: group '%s': committed %s %d at %" PRId64 "\n",
					    klog_cmd_prog(), m->group, c[k].topic, c[k].partition,
					    c[k].offset);
			}
			n = 0;
		}
		if (!p || only)
			break;
	}
	m->last_commit = klog_now_ms();
	return 0;
}

static void
release(struct klog_cmd_member *m, struct klog_cmd_gpart *p)
{
	char err[KLOG_ERRLEN];

	klog_consumer_remove(m->con, p->topic, p->partition);
	if (klog_group_release(m->g, p->topic, p->partition, err) < 0 && errno != ESTALE)
		klog_cmd_die(1, "%s", err);
	if (m->verbose)
		fprintf(stderr, "%s: group '%s': released %s %d at %" PRId64 "\n", klog_cmd_prog(),
		    m->group, p->topic, p->partition, p->committed);
	gp_drop(m, p);
}

static void
on_event(struct klog_cmd_member *m, const struct klog_gevent *ev)
{
	struct klog_start st = m->st;
	struct klog_cmd_gpart *p = klog_cmd_member_find(m, ev->topic, ev->partition);
	char err[KLOG_ERRLEN];
	int64_t next;

	switch (ev->type) {
	case KLOG_GEV_ASSIGN:
		if (p)
			return;         /* ours already */
		if (ev->committed >= 0) {
			st.from = KLOG_FROM_OFFSET;
			st.value = ev->committed;
		}
		if (klog_consumer_add_part(m->con, ev->topic, ev->partition, &st, err) < 0)
			klog_cmd_die(1, "%s", err);
		if (m->ngp == m->gpcap) {
			size_t cap = m->gpcap ? m->gpcap * 2 : 16;
			struct klog_cmd_gpart *np = realloc(m->gp, cap * sizeof *np);
			if (!np)
				klog_cmd_die(1, "out of memory");
			m->gp = np;
			m->gpcap = cap;
		}
		p = &m->gp[m->ngp++];
		if (!(p->topic = strdup(ev->topic)))
			klog_cmd_die(1, "out of memory");
		p->partition = ev->partition;
		p->committed = ev->committed;
		if (m->verbose) {
			klog_consumer_next_offset(m->con, ev->topic, ev->partition, &next);
			fprintf(stderr, "%s: group '%s': assigned %s %d, starting at offset %"
			    PRId64 " (%s)\n", klog_cmd_prog(), m->group, ev->topic, ev->partition,
			    next, ev->committed >= 0 ? "committed" : "no commit");
		}
		break;
	case KLOG_GEV_REVOKE:
		if (!p)
			break;
		flush(m);
		if (is_inflight(m, p->topic, p->partition) && m->in.child) {
			/* its command runs: hand it over once it is done */
			m->in.revoke_pending = 1;
			return;
		}
		/* an in-flight record (backing off) holds the commit at its
		 * offset; the next owner runs it */
		klog_cmd_member_commit(m, p);
		if (is_inflight(m, p->topic, p->partition))
			m->in.gone = 1;
		release(m, p);
		break;
	case KLOG_GEV_LOST:
		if (!p)
			break;
		flush(m);       /* formatted already: out it goes, uncommitted */
		if (is_inflight(m, p->topic, p->partition))
			m->in.gone = 1;
		klog_consumer_remove(m->con, p->topic, p->partition);
		klog_cmd_warn("group '%s': lost %s %d (fenced): nothing more committed for it",
		    m->group, p->topic, p->partition);
		gp_drop(m, p);
		break;
	}
}

/* handle what the group has for us; the number of events */
int
klog_cmd_member_poll(struct klog_cmd_member *m)
{
	struct klog_gevent ev;
	char err[KLOG_ERRLEN];
	int r, n = 0;

	if (!m->g)
		return 0;
	while ((r = klog_group_poll(m->g, &ev, err)) == 1) {
		on_event(m, &ev);
		m->last_event = klog_now_ms();
		n++;
	}
	if (r < 0)
		klog_cmd_die(1, "%s", err);
	m->next_poll = klog_now_ms() + klog_group_interval(m->g);
	return n;
}

/*
 * -e: may this member go?  Not while a partition with records left has no
 * owner, or is the group's for this member but not yet given (a handover
 * under way): leaving then could leave it to members that have gone.
 * Partitions other members hold are theirs to finish.  When the group
 * cannot be described, only this member's partitions count.
 */
int
klog_cmd_member_settled(struct klog_cmd_member *m)
{
	struct klog_group_info gi;
	char err[KLOG_ERRLEN];
	int ok = 1;

	if (klog_group_describe(m->lg, m->group, &gi, err) < 0)
		return 1;
	for (size_t i = 0; i < gi.nparts && ok; i++) {
		const struct klog_gpart_info *p = &gi.parts[i];

		if (p->lag <= 0 || klog_cmd_member_find(m, p->topic, p->partition))
			continue;
		if (p->owner < 0 || (size_t)p->owner >= gi.nmembers ||
		    !strcmp(gi.members[p->owner].member_id, klog_group_member_id(m->g)))
			ok = 0;
	}
	klog_group_info_free(&gi);
	return ok;
}

/* the group's timers: poll it when due, commit when due */
void
klog_cmd_member_tick(struct klog_cmd_member *m)
{
	int64_t now;

	if (!m->g)
		return;
	now = klog_now_ms();
	if (now >= m->next_poll)
		klog_cmd_member_poll(m);
	if (now - m->last_commit >= m->commit_interval)
		klog_cmd_member_commit(m, NULL);
}

/* ms until the next group timer, at most cap */
int
klog_cmd_member_until_tick(struct klog_cmd_member *m, int cap)
{
	int64_t now = klog_now_ms(), t = cap;

	if (!m->g)
		return cap;
	if (m->next_poll - now < t)
		t = m->next_poll - now;
	if (m->last_commit + m->commit_interval - now < t)
		t = m->last_commit + m->commit_interval - now;
	return t < 0 ? 0 : (int)t;
}

/* a partition revoked while its command ran: hand it over now */
void
klog_cmd_member_revoke_pending(struct klog_cmd_member *m)
{
	struct klog_cmd_gpart *p;

	if (!m->in.revoke_pending)
		return;
	m->in.revoke_pending = 0;
	if ((p = klog_cmd_member_find(m, m->in.topic, m->in.partition))) {
		klog_cmd_member_commit(m, p);
		m->in.gone = 1;
		release(m, p);
	}
}

/* commit what was used (unless the output broke), leave the group, exit */
void
klog_cmd_member_exit(struct klog_cmd_member *m, int code, int commit_first)
{
	char err[KLOG_ERRLEN];

	if (m->g) {
		struct klog_group *g = m->g;

		if (commit_first)
			klog_cmd_member_commit(m, NULL);
		m->g = NULL;
		if (klog_group_leave(g, err) < 0) {
			klog_cmd_error("%s", err);
			if (!code)
				code = 1;
		} else if (m->verbose)
			fprintf(stderr, "%s: group '%s': left\n", klog_cmd_prog(), m->group);
	}
	exit(code);
}
