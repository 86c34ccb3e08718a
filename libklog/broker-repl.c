/* klog - replicas on a broker: the leader's side, high watermark, acks=all. MIT licence. */
/*
 * A partition of a cluster topic held by this broker has a struct rpart
 * (bp->r), set from the controller's state by broker-meta.c: its role
 * (leader, follower, or none: not one of its replicas), the leader epoch,
 * the partition epoch, the replicas and the ISR.
 *
 * Leader.  Followers pull with RFETCH TOPIC PARTITION OFFSET MAX_BYTES
 * MAX_WAIT_MS NODE LEADER_EPOCH; OFFSET is the follower's log end, and a
 * follower sends it only once what it holds below is durable under its
 * own fsync policy, so OFFSET is what the follower holds.  A follower is
 * caught up when OFFSET reached the leader's log end of its previous
 * fetch (Kafka's lastCaughtUpTime); one not caught up for
 * replica.lag.time.max.ms leaves the ISR, one whose OFFSET reached the
 * high watermark comes back: both through ALTERISR at the controller
 * (broker-meta.c), effective once it answers, never on the leader's word
 * alone -- so a leader cut off from the controller cannot shrink the ISR
 * to itself and acknowledge alone.
 *
 * The high watermark (HW) is the smallest of what every member of the ISR
 * holds -- the leader counting its durable end under --fsync always, else
 * its log end -- over the ISR and, while an ALTERISR is out, the proposed
 * one too (the larger of the two, Kafka's "maximal ISR"); it never moves
 * back.  Consumers (FETCH, OFFSETS) see up to the HW; observers (RFETCH
 * node -1: kreplicate) too; followers everything written.  An acks=all
 * produce is acknowledged once the HW covers it, and refused with
 * NOT_ENOUGH_REPLICAS, before anything is written, while the ISR is
 * smaller than min.insync.replicas; a batch the HW covers while the ISR
 * has shrunk below it is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND
 * (written, not acknowledged: Kafka's code).  A leader that
 * stops being one answers its waiting acknowledgements NOT_LEADER.
 *
 * HWs are recorded in DIR/replication-offset-checkpoint (Kafka's format)
 * once a second when one moved, and at shutdown; a replica starts from
 * the recorded HW (at most its log end).
 *
 * EPOCHEND TOPIC PARTITION EPOCH answers Kafka's OffsetsForLeaderEpoch
 * from the leader epoch cache (partition-repl.c): OK E END.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"
#include "partition.h"

#define HW_CKPT_MS 1000

int
kb_repl_leader_check(struct klog_broker *b, struct bpart *bp, const char **code, char *err)
{
	struct rpart *r = bp->r;
	const char *addr;

	if (!b->repl || !r || r->role == R_LEADER)
		return 0;
	*code = "NOT_LEADER";
	if (r->leader < 0)
		return kerr(err, "partition '%s-%d' has no leader now", bp->t->name, bp->id);
	addr = kb_meta_addr(b, r->leader);
	return kerr(err, "partition '%s-%d': leader is node %d at %s", bp->t->name, bp->id,
	    r->leader, addr ? addr : "-");
}

int64_t
kb_repl_hw(struct bpart *bp)
{
	if (!bp->r)
		return kb_visible_end(bp->t->b, bp);
	return bp->r->hw;
}

/* 1: the HW covers need and the ISR is large enough; 0: wait; -1: never
 * (code and msg say why) */
int
kb_repl_ack_ready(struct bpart *bp, int64_t need, const char **code, char *msg, size_t n)
{
	struct rpart *r = bp->r;

	if (bp->deleted) {
		*code = "UNKNOWN_TOPIC";
		snprintf(msg, n, "topic '%s' was deleted before the batch was replicated",
		    bp->t->name);
		return -1;
	}
	if (!r || r->role != R_LEADER) {
		*code = "NOT_LEADER";
		snprintf(msg, n, "partition '%s-%d': this broker stopped being its leader before "
		    "the batch was replicated; it may or may not be kept", bp->t->name, bp->id);
		return -1;
	}
	if (!bp->p || klog_part_failed(bp->p)) {
		*code = "STORAGE_ERROR";
		snprintf(msg, n, "partition '%s-%d': %s", bp->t->name, bp->id,
		    bp->p ? klog_part_failed(bp->p) : "offline");
		return -1;
	}
	if (r->hw < need)
		return 0;
	if (r->nisr < r->min_isr) {
		*code = "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
		snprintf(msg, n, "partition '%s-%d': written, but the ISR shrank to %d, below "
		    "min.insync.replicas %d: not acknowledged", bp->t->name, bp->id, r->nisr,
		    r->min_isr);
		return -1;
	}
	return 1;
}

static int
in_set(const int *v, int n, int node)
{
	for (int i = 0; i < n; i++)
		if (v[i] == node)
			return 1;
	return 0;
}

static struct rfoll *
foll(struct rpart *r, int node)
{
	for (int i = 0; i < r->nreplicas; i++)
		if (r->f[i].node == node)
			return &r->f[i];
	return NULL;
}

/* what the leader itself holds, as acks=all counts it */
static int64_t
own_end(struct klog_broker *b, struct bpart *bp)
{
	return b->o.fsync_policy == KLOG_FSYNC_ALWAYS ? bp->durable : bp->log_end;
}

void
kb_repl_update_hw(struct klog_broker *b, struct bpart *bp)
{
	struct rpart *r = bp->r;
	int64_t hw;
	int i;

	if (!r || r->role != R_LEADER || !bp->p)
		return;
	hw = own_end(b, bp);
	for (i = 0; i < r->nreplicas; i++) {
		struct rfoll *f = &r->f[i];
		if (f->node == b->o.node_id)
			continue;
		if (!in_set(r->isr, r->nisr, f->node) &&
		    !(r->alter_out && in_set(r->pend, r->npend, f->node)))
			continue;
		if (f->leo < hw)
			hw = f->leo;
	}
	if (hw <= r->hw)
		return;
	r->hw = hw;
	kb_wake(b, bp);                 /* consumers and observers */
	kb_commit_waiters(b);           /* acknowledgements */
}

/* the leader's durable end moved (broker-sync.c), or under interval and
 * never its log end; a follower's fetcher waits for it to go on */
void
kb_repl_durable(struct klog_broker *b, struct bpart *bp)
{
	struct rpart *r = bp->r;

	if (!r)
		return;
	if (r->role == R_LEADER)
		kb_repl_update_hw(b, bp);
	else if (r->role == R_FOLLOWER && r->fetch_waits && r->fetcher &&
	    own_end(b, bp) >= bp->log_end) {
		r->fetch_waits = 0;
		klog_fetcher_ready(r->fetcher);
	}
}

/* RFETCH TOPIC PARTITION OFFSET MAX_BYTES MAX_WAIT_MS NODE LEADER_EPOCH */
static int
cmd_rfetch(struct conn *c, struct klog_req *r, int64_t t0, const char **code, char *err)
{
	struct klog_broker *b = c->b;
	struct bpart *bp;
	struct rpart *rp;
	struct rfoll *f;
	int64_t off, maxb, wait, node, epoch, now;

	if (kb_parse_num(r->argv[3], 0, INT64_MAX, &off) < 0 ||
	    kb_parse_num(r->argv[4], 1, INT32_MAX, &maxb) < 0 ||
	    kb_parse_num(r->argv[5], 0, 3600000, &wait) < 0 ||
	    kb_parse_num(r->argv[6], -1, INT32_MAX, &node) < 0 ||
	    kb_parse_num(r->argv[7], -1, INT32_MAX, &epoch) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "RFETCH TOPIC PARTITION OFFSET MAX_BYTES MAX_WAIT_MS NODE "
		    "LEADER_EPOCH: bad number");
	}
	if (!(bp = kb_part_get(b, r->argv[1], r->argv[2], code, err)) ||
	    kb_repl_leader_check(b, bp, code, err) < 0 || kb_part_online(bp, code, err) < 0)
		return -1;
	rp = bp->r;
	if (!rp && node >= 0) {
		*code = "INVALID";
		return kerr(err, "partition '%s-%d' is not replicated here: only observers "
		    "(node -1) may RFETCH it", bp->t->name, bp->id);
	}
	if (rp && node >= 0) {
		if (epoch != rp->leader_epoch) {
			*code = "STALE_EPOCH";
			if (epoch > rp->leader_epoch)
				kb_meta_refresh(b);     /* we may be deposed */
			return kerr(err, "partition '%s-%d': leader epoch %d here, %" PRId64
			    " in the request", bp->t->name, bp->id, rp->leader_epoch, epoch);
		}
		if (!(f = foll(rp, (int)node)) || node == b->o.node_id) {
			*code = "INVALID";
			return kerr(err, "partition '%s-%d': node %" PRId64 " is not one of its "
			    "followers", bp->t->name, bp->id, node);
		}
		if (off > bp->log_end) {
			*code = "OFFSET_OUT_OF_RANGE";
			return kerr(err, "partition '%s-%d': follower %" PRId64 " at %" PRId64
			    ", past the leader's log end %" PRId64, bp->t->name, bp->id, node, off,
			    bp->log_end);
		}
		now = klog_now_ms();
		if (off >= bp->log_end)
			f->caught_up = now;
		else if (f->prev_fetch && off >= f->prev_end && f->prev_fetch > f->caught_up)
			f->caught_up = f->prev_fetch;
		f->prev_fetch = now;
		f->prev_end = bp->log_end;
		f->leo = off;
		kb_repl_update_hw(b, bp);
		if (!in_set(rp->isr, rp->nisr, (int)node) && off >= rp->hw)
			kb_meta_alter_isr(b, rp);
	}
	if (kb_fetch_queue(c, bp, off, (size_t)maxb, (int)wait, 1, (int)node, t0) < 0) {
		*code = "INTERNAL";
		return kerr_sys(err, "fetch");
	}
	return 1;
}

/* EPOCHEND TOPIC PARTITION EPOCH */
static int
cmd_epochend(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_broker *b = c->b;
	struct bpart *bp;
	int64_t epoch;
	int32_t found;
	int64_t end;

	if (kb_parse_num(r->argv[3], -1, INT32_MAX, &epoch) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "EPOCHEND TOPIC PARTITION EPOCH: bad epoch '%s'", r->argv[3]);
	}
	if (!(bp = kb_part_get(b, r->argv[1], r->argv[2], code, err)) ||
	    kb_repl_leader_check(b, bp, code, err) < 0 || kb_part_online(bp, code, err) < 0)
		return -1;
	if (klog_part_epoch_end(bp->p, (int32_t)epoch, &found, &end, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	kb_reply(c, "OK %d %" PRId64 "\n", (int)found, end);
	return 0;
}

static int
cmd_metadata(struct conn *c, struct klog_req *r, const char **code, char *err)
{
	struct klog_buf out = { 0 };

	if (kb_meta_format(c->b, r->argc > 1 ? r->argv + 1 : NULL, (size_t)(r->argc - 1),
	    &out) < 0) {
		klog_buf_free(&out);
		*code = "INTERNAL";
		return kerr_sys(err, "metadata");
	}
	kb_reply_take(c, &out);
	return 0;
}

void
kb_repl_cmd(struct conn *c, struct klog_req *r, int64_t t0)
{
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN];
	int rc = -1;

	switch (r->verb) {
	case KLOG_V_METADATA:
		rc = cmd_metadata(c, r, &code, err);
		break;
	case KLOG_V_RFETCH:
		if ((rc = cmd_rfetch(c, r, t0, &code, err)) > 0)
			return;         /* queued: observed when answered */
		break;
	case KLOG_V_EPOCHEND:
		rc = cmd_epochend(c, r, &code, err);
		break;
	}
	if (rc < 0)
		kb_reply_err(c, code, err);
	kb_observe(c->b, r->verb, t0, rc < 0);
}

/* replication-offset-checkpoint: every replicated partition's HW */
static void
hw_record(struct klog_broker *b, int force)
{
	struct klog_ckpt_entry *e = NULL;
	size_t n = 0, cap = 0, h;
	int moved = 0, k;
	char err[KLOG_ERRLEN];

	for (h = 0; h < THASH; h++)
		for (struct btopic *t = b->topics[h]; t; t = t->next)
			for (k = 0; k < t->np; k++) {
				struct rpart *r = t->parts[k]->r;
				if (!r || r->role == R_NONE)
					continue;
				if (r->hw != r->hw_saved)
					moved = 1;
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct klog_ckpt_entry *v = realloc(e, nc * sizeof *v);
					if (!v) {
						free(e);
						return;
					}
					e = v;
					cap = nc;
				}
				snprintf(e[n].topic, sizeof e[n].topic, "%s", t->name);
				e[n].partition = k;
				e[n++].offset = r->hw;
			}
	if ((moved || force) && n) {
		char path[4200];
		snprintf(path, sizeof path, "%s/replication-offset-checkpoint", b->dirpath);
		if (klog_ckpt_write(path, e, n, err) < 0)
			kb_log(b, LOG_ERR, "%s", err);
		else
			for (h = 0; h < THASH; h++)
				for (struct btopic *t = b->topics[h]; t; t = t->next)
					for (k = 0; k < t->np; k++)
						if (t->parts[k]->r)
							t->parts[k]->r->hw_saved = t->parts[k]->r->hw;
	}
	free(e);
}

/* the HW recorded for a partition, -1 none */
int64_t
kb_repl_saved_hw(struct klog_broker *b, const char *topic, int partition)
{
	struct kbrepl *R = b->repl;

	if (!R)
		return -1;
	for (size_t i = 0; i < R->nsaved; i++)
		if (R->saved[i].partition == partition && !strcmp(R->saved[i].topic, topic))
			return R->saved[i].offset;
	return -1;
}

/* ISR shrink and expand, HW checkpoints: every KB_REPL_TICK_MS */
static int64_t
repl_tick(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct kbrepl *R = b->repl;
	int64_t now = klog_now_ms();
	size_t h;
	int k;

	(void)l;
	for (h = 0; h < THASH; h++)
		for (struct btopic *t = b->topics[h]; t; t = t->next)
			for (k = 0; k < t->np; k++) {
				struct rpart *r = t->parts[k]->r;
				int i;
				if (!r || r->role != R_LEADER || r->alter_out)
					continue;
				for (i = 0; i < r->nisr; i++) {
					struct rfoll *f = foll(r, r->isr[i]);
					if (f && f->node != b->o.node_id &&
					    now - f->caught_up > b->o.replica_lag_ms) {
						kb_meta_alter_isr(b, r);
						break;
					}
				}
			}
	if (now >= R->hw_due) {
		R->hw_due = now + HW_CKPT_MS;
		hw_record(b, 0);
	}
	return KB_REPL_TICK_MS;
}

/* the ISR the leader asks for now: followers caught up within the lag
 * time, and those out of it whose log reached the HW */
int
kb_repl_want_isr(struct klog_broker *b, struct rpart *r, int *isr)
{
	int64_t now = klog_now_ms();
	int n = 0, i;

	for (i = 0; i < r->nreplicas; i++) {
		struct rfoll *f = &r->f[i];
		int in = in_set(r->isr, r->nisr, f->node);
		if (f->node == b->o.node_id)
			isr[n++] = f->node;
		else if (in && now - f->caught_up <= b->o.replica_lag_ms)
			isr[n++] = f->node;
		else if (!in && f->leo >= 0 && f->leo >= r->hw &&
		    now - f->caught_up <= b->o.replica_lag_ms)
			isr[n++] = f->node;
	}
	return n;
}

int
kb_repl_start(struct klog_broker *b, char *err)
{
	char path[4200];

	if (!b->o.cluster && !b->o.cluster_file)
		return 0;
	if (!(b->repl = calloc(1, sizeof *b->repl)))
		return kerr_sys(err, "replication");
	b->repl->tick = b->repl->hb = -1;
	snprintf(path, sizeof path, "%s/replication-offset-checkpoint", b->dirpath);
	if (klog_ckpt_read(path, &b->repl->saved, &b->repl->nsaved, err) < 0) {
		if (errno != ENOENT)
			kb_log(b, LOG_WARNING, "%s (high watermarks start at 0)", err);
		b->repl->saved = NULL;
		b->repl->nsaved = 0;
	}
	b->repl->hw_due = klog_now_ms() + HW_CKPT_MS;
	if (kb_meta_start(b, err) < 0)
		return -1;
	b->repl->tick = klog_loop_timer(b->loop, KB_REPL_TICK_MS, repl_tick, b);
	return 0;
}

void
kb_repl_stop(struct klog_broker *b)
{
	if (!b->repl || b->repl->stopped)
		return;
	b->repl->stopped = 1;
	kb_meta_stop(b);
	if (b->repl->tick >= 0)
		klog_loop_timer_del(b->loop, b->repl->tick);
	b->repl->tick = -1;
	hw_record(b, 1);
	free(b->repl->saved);
	b->repl->saved = NULL;
	b->repl->nsaved = 0;
}

/* gauges: partitions led here, under-replicated ones, under min ISR */
void
kb_repl_stats(struct klog_broker *b, struct klog_buf *o)
{
	long led = 0, under = 0, below = 0;
	size_t h;

	for (h = 0; h < THASH; h++)
		for (struct btopic *t = b->topics[h]; t; t = t->next)
			for (int k = 0; k < t->np; k++) {
				struct rpart *r = t->parts[k]->r;
				if (!r || r->role != R_LEADER)
					continue;
				led++;
				under += r->nisr < r->nreplicas;
				below += r->nisr < r->min_isr;
			}
	klog_buf_printf(o, "# HELP klog_leader_partitions Partitions led here.\n"
	    "# TYPE klog_leader_partitions gauge\nklog_leader_partitions %ld\n", led);
	klog_buf_printf(o, "# HELP klog_under_replicated_partitions Partitions led here whose "
	    "ISR is smaller than their replicas.\n# TYPE klog_under_replicated_partitions gauge\n"
	    "klog_under_replicated_partitions %ld\n", under);
	klog_buf_printf(o, "# HELP klog_under_min_isr_partitions Partitions led here whose ISR "
	    "is below min.insync.replicas.\n# TYPE klog_under_min_isr_partitions gauge\n"
	    "klog_under_min_isr_partitions %ld\n", below);
}
