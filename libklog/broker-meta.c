/* klog - a cluster member: the controller channel, the state applied, followers. MIT licence. */
/*
 * Every broker of a cluster (the controller's own too, over loopback)
 * keeps one connection to the controller (lclient.c, on the event loop)
 * and sends on it, every KB_HB_MS,
 *
 *	BROKERHB NODE INCARNATION ADDR VERSION     -> OK VERSION
 *
 * ADDR is what it advertises (--advertise, else its bound address), the
 * incarnation a number new at every start.  When the controller's VERSION
 * differs from the one applied here (or a replica asked for it: a leader
 * epoch newer than ours seen, NOT_LEADER from a leader), METADATA fetches
 * the whole state (cluster.h's lines), and it is applied:
 *
 *  - every topic of the state exists here (its topic file; partition
 *    directories at their first write), grown and configured as the
 *    state says; a topic gone from the state is deleted here;
 *  - per partition this broker is a replica of, its role: leader (a new
 *    leader epoch is added to the partition's leader epoch cache at its
 *    log end; followers' positions start unknown and "caught up now"),
 *    follower (a fetcher, fetcher.c, pulls from the leader: EPOCHEND and
 *    truncation first, then RFETCH; it appends with klog_part_append_raw,
 *    so the segments are the leader's bytes, and asks for more only once
 *    what it appended is durable under this broker's fsync policy), or
 *    none.  A leader that becomes a follower answers its waiting
 *    acknowledgements NOT_LEADER and its waiting fetches too.
 *
 * ISR changes the leader wants (broker-repl.c) go to the controller as
 * ALTERISR on the same connection, one at a time per partition; they hold
 * once it answers OK with the new partition epoch.
 *
 * The controller unreachable: the broker keeps its roles (a leader keeps
 * leading, but cannot change its ISR), and tries again every KB_HB_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "broker.h"
#include "partition.h"

struct alter_ctx {
	struct klog_broker *b;
	struct bpart *bp;
};

static void send_hb(struct klog_broker *b);

const char *
kb_meta_addr(struct klog_broker *b, int node)
{
	const struct kc_state *cs = b->ctl ? kb_ctl_state(b) : NULL;
	struct kc_node *n;

	if (!b->repl)
		return NULL;
	if (cs && (n = kc_node_find((struct kc_state *)cs, node)))
		return n->addr;
	if ((n = kc_node_find(&b->repl->st, node)))
		return n->addr;
	return NULL;
}

void
kb_meta_refresh(struct klog_broker *b)
{
	if (b->repl)
		b->repl->want_meta = 1;
}

/* METADATA's answer: "OK N" and the lines; standalone, this broker alone */
int
kb_meta_format(struct klog_broker *b, char **topics, size_t n, struct klog_buf *out)
{
	struct klog_buf body = { 0 };
	const struct kc_state *cs;
	size_t lines = 0, i;
	int rc = -1;

	if (!b->repl) {
		char **names = NULL;
		size_t nn = 0;
		char err[KLOG_ERRLEN];
		if (!topics) {
			if (klog_topic_list(b->d, &names, &nn, err) < 0)
				return -1;
			topics = names;
			n = nn;
		}
		klog_buf_printf(&body, "cluster -1 0 %d\nnode %d %s alive\n", b->o.node_id,
		    b->o.node_id, b->addr);
		lines = 2;
		for (i = 0; i < n; i++) {
			struct klog_config cfg;
			if (klog_topic_load(b->d, topics[i], &cfg, err) < 0)
				continue;
			klog_buf_printf(&body, "topic %s %d 1\n", topics[i], cfg.partitions);
			lines++;
			for (int p = 0; p < cfg.partitions; p++, lines++)
				klog_buf_printf(&body, "part %s %d %d 0 0 %d %d\n", topics[i], p,
				    b->o.node_id, b->o.node_id, b->o.node_id);
		}
		klog_strv_free(names, nn);
		rc = 0;
		goto out;
	}
	if (kb_ctl_state(b)) {          /* the controller: its own, live state */
		int k = kb_ctl_metadata(b, topics, n, &body);
		if (k < 0)
			goto out;
		lines = (size_t)k;
		rc = 0;
		goto out;
	}
	cs = &b->repl->st;
	{
		struct kc_state *s = (struct kc_state *)cs;
		int self = s->self;
		s->self = b->o.node_id;
		lines = kc_state_lines(s, topics, n);
		rc = kc_state_format(s, topics, n, &body);
		s->self = self;
	}
out:
	if (rc == 0 && (klog_buf_printf(out, "OK %zu\n", lines) < 0 ||
	    klog_buf_append(out, body.data, body.len) < 0))
		rc = -1;
	klog_buf_free(&body);
	return rc;
}

/* ---- followers: the fetcher's callbacks, on the partition ---- */

static struct klog_broker *
bp_broker(struct bpart *bp)
{
	return bp->t->b;
}

static int
f_open(struct bpart *bp, char *err)
{
	if (bp->deleted)
		return kerr(err, "partition '%s-%d' was deleted", bp->t->name, bp->id);
	return kb_part_open(bp_broker(bp), bp, err);
}

static int64_t
f_log_end(void *arg)
{
	struct bpart *bp = arg;
	char err[KLOG_ERRLEN];

	if (f_open(bp, err) < 0)
		return -1;
	return bp->log_end;
}

static int32_t
f_latest_epoch(void *arg)
{
	struct bpart *bp = arg;
	char err[KLOG_ERRLEN];

	if (f_open(bp, err) < 0)
		return -1;
	return klog_part_epoch_latest(bp->p);
}

static int64_t
f_epoch_end(void *arg, int32_t epoch)
{
	struct bpart *bp = arg;
	char err[KLOG_ERRLEN];
	int32_t found;
	int64_t end;

	if (f_open(bp, err) < 0 || klog_part_epoch_end(bp->p, epoch, &found, &end, err) < 0)
		return -1;
	return end;
}

/* the log changed under the broker's feet: its ends follow */
static void
f_reset_ends(struct klog_broker *b, struct bpart *bp)
{
	bp->log_end = bp->p->end;
	bp->durable = kpart_synced_end(bp->p);
	if (bp->durable > bp->log_end)
		bp->durable = bp->log_end;
	if (bp->r && bp->r->hw > bp->log_end)
		bp->r->hw = bp->log_end;
	kb_written(b, bp);
}

static int64_t
f_high_watermark(void *arg)
{
	struct bpart *bp = arg;

	return bp->r ? bp->r->hw : -1;
}

static int
f_truncate(void *arg, int64_t offset, char *err)
{
	struct bpart *bp = arg;
	struct klog_broker *b = bp_broker(bp);
	int64_t before = bp->log_end;

	if (f_open(bp, err) < 0 || klog_part_truncate(bp->p, offset, err) < 0)
		return -1;
	f_reset_ends(b, bp);
	if (bp->log_end < before) {
		b->repl->truncations++;
		kb_log(b, LOG_WARNING, "partition '%s-%d': truncated from %" PRId64 " to %" PRId64
		    " (records the leader of epoch %d does not have)", bp->t->name, bp->id, before,
		    bp->log_end, bp->r ? bp->r->leader_epoch : -1);
	}
	return 0;
}

static int
f_reset(void *arg, int64_t log_start, char *err)
{
	struct bpart *bp = arg;
	struct klog_broker *b = bp_broker(bp);

	if (f_open(bp, err) < 0 || klog_part_reset(bp->p, log_start, err) < 0)
		return -1;
	f_reset_ends(b, bp);
	kb_log(b, LOG_WARNING, "partition '%s-%d': emptied, starting again at the leader's log "
	    "start %" PRId64, bp->t->name, bp->id, log_start);
	return 0;
}

static int
f_append(void *arg, const unsigned char *data, size_t len, int64_t leader_hw, char *err)
{
	struct bpart *bp = arg;
	struct klog_broker *b = bp_broker(bp);
	struct rpart *r = bp->r;

	if (f_open(bp, err) < 0)
		return -1;
	if (len && klog_part_append_raw(bp->p, data, len, err) < 0) {
		kb_written(b, bp);      /* a failed roll may leave files to sync */
		return -1;
	}
	if (len) {
		bp->log_end = bp->p->end;
		b->repl->bytes_in += len;
		kb_written(b, bp);
	}
	if (r) {
		int64_t hw = leader_hw < bp->log_end ? leader_hw : bp->log_end;
		if (hw > r->hw)
			r->hw = hw;
	}
	if (b->o.fsync_policy != KLOG_FSYNC_ALWAYS || bp->durable >= bp->log_end)
		return 1;
	if (r)
		r->fetch_waits = 1;
	return 0;
}

static int
f_segment(void *arg, int64_t base, char *err)
{
	struct bpart *bp = arg;

	if (f_open(bp, err) < 0)
		return -1;
	if (klog_part_roll_at(bp->p, base, err) < 0) {
		kb_written(bp_broker(bp), bp);
		return -1;
	}
	return 0;
}

static void
f_event(void *arg, const char *code, const char *msg)
{
	struct bpart *bp = arg;
	struct klog_broker *b = bp_broker(bp);
	struct rpart *r = bp->r;

	if (!strcmp(code, "NOT_LEADER") || !strcmp(code, "STALE_EPOCH") ||
	    !strcmp(code, "UNKNOWN_TOPIC") || !strcmp(code, "UNKNOWN_PARTITION"))
		kb_meta_refresh(b);
	if (r && !strcmp(r->last_event, code))
		return;                 /* said once until something else happens */
	if (r)
		snprintf(r->last_event, sizeof r->last_event, "%s", code);
	kb_log(b, LOG_NOTICE, "partition '%s-%d': follower: %s %s", bp->t->name, bp->id, code,
	    msg);
}

static const struct klog_fetcher_ops fops = {
	.log_end = f_log_end,
	.latest_epoch = f_latest_epoch,
	.epoch_end = f_epoch_end,
	.high_watermark = f_high_watermark,
	.truncate = f_truncate,
	.reset = f_reset,
	.append = f_append,
	.segment = f_segment,
	.event = f_event,
};

static void
fetcher_stop(struct rpart *r)
{
	if (r->fetcher) {
		klog_fetcher_free(r->fetcher);
		r->fetcher = NULL;
	}
	r->fetch_waits = 0;
}

/* ---- roles ---- */

static void
become_leader(struct klog_broker *b, struct bpart *bp, const struct kc_part *kp)
{
	struct rpart *r = bp->r;
	char err[KLOG_ERRLEN];
	int64_t now = klog_now_ms();
	int i;

	fetcher_stop(r);
	r->role = R_LEADER;
	r->leader = kp->leader;
	r->leader_epoch = kp->leader_epoch;
	r->alter_out = 0;
	for (i = 0; i < r->nreplicas; i++) {
		r->f[i].node = r->replicas[i];
		r->f[i].leo = r->replicas[i] == b->o.node_id ? bp->log_end : -1;
		r->f[i].caught_up = now;
		r->f[i].prev_fetch = 0;
		r->f[i].prev_end = 0;
	}
	if (kb_part_open(b, bp, err) < 0) {
		kb_log(b, LOG_ERR, "partition '%s-%d': leader, but %s", bp->t->name, bp->id, err);
		return;
	}
	if (klog_part_epoch_assign(bp->p, kp->leader_epoch, bp->log_end, err) < 0)
		kb_log(b, LOG_ERR, "%s", err);
	if (r->hw > bp->log_end)
		r->hw = bp->log_end;
	b->repl->leader_changes++;
	kb_log(b, LOG_INFO, "partition '%s-%d': leader (epoch %d) from offset %" PRId64
	    ", high watermark %" PRId64, bp->t->name, bp->id, kp->leader_epoch, bp->log_end, r->hw);
	kb_repl_update_hw(b, bp);
	kb_commit_waiters(b);
}

static void
become_follower(struct klog_broker *b, struct bpart *bp, const struct kc_part *kp)
{
	struct rpart *r = bp->r;
	char err[KLOG_ERRLEN];
	const char *addr;
	int was_leader = r->role == R_LEADER;

	fetcher_stop(r);
	r->role = R_FOLLOWER;
	r->leader = kp->leader;
	r->leader_epoch = kp->leader_epoch;
	r->alter_out = 0;
	r->last_event[0] = 0;
	snprintf(err, sizeof err, "partition '%s-%d': this broker is no longer its leader",
	    bp->t->name, bp->id);
	kb_waiters_fail(bp, "NOT_LEADER", err);
	kb_commit_waiters(b);           /* acknowledgements waiting: NOT_LEADER */
	if (kp->leader < 0 || !(addr = kb_meta_addr(b, kp->leader)) || !*addr) {
		kb_log(b, LOG_WARNING, "partition '%s-%d': no leader to follow", bp->t->name, bp->id);
		return;
	}
	snprintf(r->leader_addr, sizeof r->leader_addr, "%s", addr);
	if (kb_part_open(b, bp, err) < 0) {
		kb_log(b, LOG_ERR, "partition '%s-%d': follower, but %s", bp->t->name, bp->id, err);
		return;
	}
	if (!(r->fetcher = klog_fetcher_new(b->loop, addr, b->o.secret, bp->t->name, bp->id,
	    b->o.node_id, kp->leader_epoch, KB_FOLLOW_WAIT_MS, KB_FOLLOW_BYTES, &fops, bp, err))) {
		kb_log(b, LOG_ERR, "partition '%s-%d': cannot follow node %d: %s", bp->t->name,
		    bp->id, kp->leader, err);
		return;
	}
	kb_log(b, LOG_INFO, "partition '%s-%d': %sfollower of node %d at %s (epoch %d) from "
	    "offset %" PRId64, bp->t->name, bp->id, was_leader ? "no longer leader: " : "",
	    kp->leader, addr, kp->leader_epoch, bp->log_end);
}

static void
count_isr_change(struct klog_broker *b, struct bpart *bp, const int *old, int nold,
    const int *isr, int nisr)
{
	char o[128], n[128];

	if (nisr < nold)
		b->repl->isr_shrinks++;
	else if (nisr > nold)
		b->repl->isr_expands++;
	else
		return;
	kc_ids_format(old, nold, o, sizeof o);
	kc_ids_format(isr, nisr, n, sizeof n);
	kb_log(b, LOG_NOTICE, "partition '%s-%d': ISR %s: %s -> %s", bp->t->name, bp->id,
	    nisr < nold ? "shrinks" : "expands", o, n);
}

static void
apply_part(struct klog_broker *b, struct bpart *bp, const struct kc_topic *kt,
    const struct kc_part *kp)
{
	struct rpart *r = bp->r;
	struct klog_config cfg;
	char err[KLOG_ERRLEN];
	int self = b->o.node_id, role;
	size_t i;

	if (!r) {
		int64_t hw;
		if (!(r = calloc(1, sizeof *r)))
			return;
		r->bp = bp;
		r->leader = -1;
		r->leader_epoch = -1;
		r->part_epoch = -1;
		hw = kb_repl_saved_hw(b, bp->t->name, bp->id);
		r->hw = r->hw_saved = hw > 0 ? hw : 0;
		bp->r = r;
	}
	klog_config_defaults(&cfg);
	for (i = 0; i < kt->nkv; i++) {
		char *eq = strchr(kt->kv[i], '=');
		if (eq) {
			*eq = 0;
			klog_config_set(&cfg, kt->kv[i], eq + 1, err);
			*eq = '=';
		}
	}
	r->min_isr = (int)cfg.min_insync_replicas;
	r->nreplicas = kp->nreplicas;
	memcpy(r->replicas, kp->replicas, sizeof r->replicas);
	if (kp->part_epoch >= r->part_epoch || kp->leader_epoch != r->leader_epoch) {
		if (r->role == R_LEADER && kp->leader == self && kp->leader_epoch == r->leader_epoch)
			count_isr_change(b, bp, r->isr, r->nisr, kp->isr, kp->nisr);
		r->nisr = kp->nisr;
		memcpy(r->isr, kp->isr, sizeof r->isr);
		r->part_epoch = kp->part_epoch;
	}
	role = !kc_replicas_has(kp, self) ? R_NONE : kp->leader == self ? R_LEADER : R_FOLLOWER;
	if (role == R_LEADER && (r->role != R_LEADER || r->leader_epoch != kp->leader_epoch))
		become_leader(b, bp, kp);
	else if (role == R_FOLLOWER && (r->role != R_FOLLOWER || r->leader != kp->leader ||
	    r->leader_epoch != kp->leader_epoch ||
	    (kp->leader >= 0 && kb_meta_addr(b, kp->leader) &&
	    strcmp(r->leader_addr, kb_meta_addr(b, kp->leader)))))
		become_follower(b, bp, kp);
	else if (role == R_NONE && r->role != R_NONE) {
		fetcher_stop(r);
		r->role = R_NONE;
		kb_waiters_fail(bp, "NOT_LEADER", "this broker is no longer a replica");
		kb_commit_waiters(b);
	}
	r->leader = kp->leader;
	if (role == R_LEADER)
		kb_repl_update_hw(b, bp);
}

static struct btopic *
topic_here(struct klog_broker *b, const struct kc_topic *kt, char *err)
{
	struct btopic *t = kb_topic_find(b, kt->name);
	struct klog_config cfg;
	int i;

	if (!t) {
		if (!klog_topic_exists(b->d, kt->name) &&
		    ktopic_create(b->d, kt->name, kt->np, kt->kv, (int)kt->nkv, 1, err) < 0 &&
		    errno != EEXIST)
			return NULL;
		b->fresh = 1;
		t = kb_topic_load(b, kt->name, err);
		b->fresh = 0;
		if (t)
			kb_log(b, LOG_INFO, "topic '%s': %d partition%s, replication factor %d",
			    kt->name, kt->np, kt->np == 1 ? "" : "s", kt->rf);
		return t;
	}
	/* grown, reconfigured: as the state says */
	if (ktopic_alter(b->d, kt->name, kt->np > t->np ? kt->np : 0, kt->kv, (int)kt->nkv, 1,
	    err) < 0)
		return NULL;
	if (klog_topic_load(b->d, kt->name, &cfg, err) < 0)
		return NULL;
	for (i = 0; i < t->np; i++)
		if (t->parts[i]->p)
			kpart_set_config(t->parts[i]->p, &cfg);
	b->fresh = 1;
	i = kb_topic_grow(b, t, kt->np, err);
	b->fresh = 0;
	return i < 0 ? NULL : t;
}

static int
kv_same(const struct kc_topic *a, const struct kc_topic *o)
{
	if (!o || a->np != o->np || a->nkv != o->nkv)
		return 0;
	for (size_t i = 0; i < a->nkv; i++)
		if (strcmp(a->kv[i], o->kv[i]))
			return 0;
	return 1;
}

static void
apply_state(struct klog_broker *b, struct kc_state *st)
{
	struct kbrepl *R = b->repl;
	struct kc_state old_st = R->st;
	char err[KLOG_ERRLEN];
	size_t i;
	int p;

	/* the new state holds from now on (node addresses); the old one says
	 * what changed */
	R->st = *st;
	kc_state_init(st);
	st = &R->st;
	for (i = 0; i < old_st.ntopics; i++) {
		struct kc_topic *old = &old_st.topics[i];
		struct btopic *t;
		if (kc_topic_find(st, old->name) || !(t = kb_topic_find(b, old->name)))
			continue;
		for (p = 0; p < t->np; p++)
			kb_repl_part_drop(b, t->parts[p]);
		kb_topic_free(b, t, 1);
		if (klog_topic_delete(b->d, old->name, err) < 0 && errno != ENOENT)
			kb_log(b, LOG_ERR, "%s", err);
		else
			kb_log(b, LOG_INFO, "deleted topic '%s'", old->name);
	}
	for (i = 0; i < st->ntopics; i++) {
		struct kc_topic *kt = &st->topics[i];
		struct btopic *t = kb_topic_find(b, kt->name);
		if (!t || !kv_same(kt, kc_topic_find(&old_st, kt->name)))
			t = topic_here(b, kt, err);
		if (!t) {
			kb_log(b, LOG_ERR, "topic '%s': %s", kt->name, err);
			continue;
		}
		for (p = 0; p < kt->np && p < t->np; p++)
			apply_part(b, t->parts[p], kt, &kt->parts[p]);
	}
	kc_state_free(&old_st);
}

/* a partition leaves: its follower stops, its state goes */
void
kb_repl_part_drop(struct klog_broker *b, struct bpart *bp)
{
	(void)b;
	if (!bp->r)
		return;
	fetcher_stop(bp->r);
	free(bp->r);
	bp->r = NULL;
}

/* ---- the controller channel ---- */

static void
chan_lost(struct klog_broker *b, const char *why)
{
	struct kbrepl *R = b->repl;
	struct klog_lc *lc = R->lc;

	R->lc = NULL;                   /* before: closing calls back */
	R->hb_out = R->meta_out = 0;
	if (lc)
		klog_lc_close(lc);
	if (!R->chan_warned) {
		kb_log(b, LOG_WARNING, "controller (node %d at %s): %s; retrying", R->ctl,
		    R->ctl_addr, why);
		R->chan_warned = 1;
	}
}

static void
on_meta(struct klog_lc *lc, void *arg, struct klog_lc_reply *rp)
{
	struct klog_broker *b = arg;
	struct kbrepl *R = b->repl;
	struct kc_state st;
	char err[KLOG_ERRLEN];

	(void)lc;
	R->meta_out = 0;
	if (rp->kind == KLOG_LC_CLOSED) {
		if (strcmp(rp->code, "CLOSED"))         /* not our own close */
			chan_lost(b, "connection lost");
		return;
	}
	if (rp->kind != KLOG_LC_LIST) {
		kb_log(b, LOG_ERR, "controller: METADATA: %s %s", rp->code, rp->line ? rp->line : "");
		return;
	}
	kc_state_init(&st);
	/* the list's lines come joined by newlines, the last without one */
	if (klog_buf_append(&R->scratch, rp->data, rp->len) < 0 ||
	    klog_buf_append(&R->scratch, "\n", rp->len ? 1 : 0) < 0 ||
	    kc_state_parse((const char *)R->scratch.data, R->scratch.len, &st, err) < 0) {
		kb_log(b, LOG_ERR, "controller: METADATA: %s", err);
		kc_state_free(&st);
		R->scratch.len = 0;
		return;
	}
	R->scratch.len = 0;
	apply_state(b, &st);
}

static void
on_hb(struct klog_lc *lc, void *arg, struct klog_lc_reply *rp)
{
	struct klog_broker *b = arg;
	struct kbrepl *R = b->repl;
	int64_t v;

	R->hb_out = 0;
	if (rp->kind == KLOG_LC_CLOSED) {
		if (strcmp(rp->code, "CLOSED"))
			chan_lost(b, "connection lost");
		return;
	}
	if (rp->kind != KLOG_LC_OK) {
		if (!R->chan_warned)
			kb_log(b, LOG_ERR, "controller: BROKERHB: %s %s", rp->code,
			    rp->line ? rp->line : "");
		R->chan_warned = 1;
		return;
	}
	if (R->chan_warned) {
		kb_log(b, LOG_INFO, "controller (node %d at %s): connected", R->ctl, R->ctl_addr);
		R->chan_warned = 0;
	}
	if (klog_parse_i64(rp->line, &v) < 0)
		return;
	if ((v != R->st.version || R->want_meta) && !R->meta_out) {
		R->want_meta = 0;
		if (klog_lc_send(lc, KLOG_LC_LIST, "METADATA", NULL, 0, on_meta, b) == 0)
			R->meta_out = 1;
	}
}

static void
send_hb(struct klog_broker *b)
{
	struct kbrepl *R = b->repl;
	char line[512], err[KLOG_ERRLEN];

	if (!R->lc) {
		if (!(R->lc = klog_lc_open(b->loop, R->ctl_addr, b->o.secret, err))) {
			chan_lost(b, err);
			return;
		}
	}
	if (R->hb_out)
		return;
	snprintf(line, sizeof line, "BROKERHB %d %" PRIu64 " %s %" PRId64, b->o.node_id,
	    R->incarnation, R->adv, R->st.version);
	if (klog_lc_send(R->lc, KLOG_LC_OK, line, NULL, 0, on_hb, b) == 0)
		R->hb_out = 1;
	else
		chan_lost(b, "cannot send");
}

static int64_t
hb_timer(struct klog_loop *l, void *data)
{
	(void)l;
	send_hb(data);
	return KB_HB_MS;
}

static void
on_alter(struct klog_lc *lc, void *arg, struct klog_lc_reply *rp)
{
	struct alter_ctx *x = arg;
	struct klog_broker *b = x->b;
	struct bpart *bp = x->bp;
	struct rpart *r = bp->r;
	int64_t pe;

	(void)lc;
	if (r && r->alter_out) {
		r->alter_out = 0;
		if (rp->kind == KLOG_LC_OK && klog_parse_i64(rp->line, &pe) == 0 &&
		    r->role == R_LEADER) {
			count_isr_change(b, bp, r->isr, r->nisr, r->pend, r->npend);
			r->nisr = r->npend;
			memcpy(r->isr, r->pend, sizeof r->isr);
			r->part_epoch = (int32_t)pe;
			kb_repl_update_hw(b, bp);
			kb_commit_waiters(b);
		} else if (rp->kind == KLOG_LC_ERR) {
			kb_log(b, LOG_WARNING, "partition '%s-%d': ALTERISR refused: %s %s",
			    bp->t->name, bp->id, rp->code, rp->line ? rp->line : "");
			b->repl->want_meta = 1;
		} else if (rp->kind == KLOG_LC_CLOSED && strcmp(rp->code, "CLOSED"))
			chan_lost(b, "connection lost");
	}
	kb_part_put(b, bp);
	free(x);
}

/* ask the controller for the ISR the leader wants now, if it differs */
void
kb_meta_alter_isr(struct klog_broker *b, struct rpart *r)
{
	struct kbrepl *R = b->repl;
	struct bpart *bp = r->bp;
	struct alter_ctx *x;
	char line[1024], ids[256];
	int want[KC_MAX_REPLICAS], n, i, same;

	if (!R || !R->lc || r->alter_out || r->role != R_LEADER)
		return;
	n = kb_repl_want_isr(b, r, want);
	for (i = 0, same = n == r->nisr; same && i < n; i++) {
		int j;
		for (j = 0; j < r->nisr && r->isr[j] != want[i]; j++)
			;
		same = j < r->nisr;
	}
	if (same)
		return;
	if (!(x = malloc(sizeof *x)))
		return;
	x->b = b;
	x->bp = bp;
	kc_ids_format(want, n, ids, sizeof ids);
	snprintf(line, sizeof line, "ALTERISR %s %d %d %d %s", bp->t->name, bp->id, r->leader_epoch,
	    r->part_epoch, ids);
	if (klog_lc_send(R->lc, KLOG_LC_OK, line, NULL, 0, on_alter, x) < 0) {
		free(x);
		return;
	}
	bp->refs++;
	r->alter_out = 1;
	r->npend = n;
	memcpy(r->pend, want, sizeof r->pend);
}

int
kb_meta_start(struct klog_broker *b, char *err)
{
	struct kbrepl *R = b->repl;
	struct kc_node *self;

	kc_state_init(&R->st);
	kc_state_init(&R->spec);
	if ((b->o.cluster_file ? kc_spec_read(b->o.cluster_file, &R->spec, err) :
	    kc_spec_parse(b->o.cluster, &R->spec, err)) < 0)
		return -1;
	if (!R->spec.nnodes)
		return kerr(err, "cluster: no nodes");
	if (!(self = kc_node_find(&R->spec, b->o.node_id)))
		return kerr(err, "cluster: node id %d is not in the cluster's description",
		    b->o.node_id);
	R->ctl = R->spec.nodes[0].id;
	snprintf(R->ctl_addr, sizeof R->ctl_addr, "%s",
	    R->ctl == b->o.node_id ? b->addr : R->spec.nodes[0].addr);
	snprintf(R->adv, sizeof R->adv, "%s", b->o.advertise ? b->o.advertise : b->addr);
	R->incarnation = (uint64_t)kb_now_us() << 12 ^ (uint64_t)getpid();
	R->st.version = -1;             /* until the controller tells: nothing */
	R->hb = klog_loop_timer(b->loop, 0, hb_timer, b);
	kb_log(b, LOG_INFO, "cluster: node %d of %zu, controller node %d at %s, advertising %s",
	    b->o.node_id, R->spec.nnodes, R->ctl, R->ctl_addr, R->adv);
	return 0;
}

void
kb_meta_stop(struct klog_broker *b)
{
	struct kbrepl *R = b->repl;
	size_t h;

	if (!R)
		return;
	if (R->hb >= 0)
		klog_loop_timer_del(b->loop, R->hb);
	R->hb = -1;
	for (h = 0; h < THASH; h++)
		for (struct btopic *t = b->topics[h]; t; t = t->next)
			for (int k = 0; k < t->np; k++)
				if (t->parts[k]->r)
					fetcher_stop(t->parts[k]->r);
	if (R->lc) {
		struct klog_lc *lc = R->lc;
		R->lc = NULL;
		klog_lc_close(lc);
	}
	klog_buf_free(&R->scratch);
}

/* the last of it, once the topics are gone (klog_broker_close) */
void
kb_repl_free(struct klog_broker *b)
{
	struct kbrepl *R = b->repl;

	if (!R)
		return;
	kb_meta_stop(b);
	kc_state_free(&R->st);
	kc_state_free(&R->spec);
	free(R->saved);
	free(R);
	b->repl = NULL;
}
