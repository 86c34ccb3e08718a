/* klog - a follower's fetcher: one partition pulled from its leader. MIT licence. */
/*
 * The follower state machine shared by the broker's replicas and
 * kreplicate, over one lclient.c connection to the partition's leader
 * (per partition one: responses are in order, so long polls cannot share).
 * The owner keeps the log; the fetcher asks it through klog_fetcher_ops.
 *
 *	connect ──> EPOCHEND T P E ──> truncate ──> RFETCH T P OFF ... ──> append
 *	   ^            (E: own latest epoch;            ^                  │
 *	   │             skipped when none)              └── durable ───────┘
 *	   └── backoff 100 ms doubling to 1 s after a lost connection
 *
 * Truncation (Kafka's OffsetsForLeaderEpoch, KIP-101/279): the leader
 * answers EPOCHEND with "E2 END": E2 the largest of its epochs <= E, END
 * where E2 ends in its log.  The follower's log agrees with the leader's
 * up to min(END, own end of E2) (own end: where the follower's first epoch
 * after E2 starts, or its log end), so it truncates there when that is
 * below its log end.  "-1 -1" (the leader knows no epoch <= E: its epochs
 * were deleted by retention, or the log came from an epoch-less writer):
 * the follower truncates to its own high watermark when the owner gives
 * one (ops->high_watermark; Kafka's choice: everything below the HW was
 * committed, so the leader has it), else keeps its log and relies on the
 * fetch's own check below.
 *
 * Fetch: "RFETCH T P OFF MAX_BYTES MAX_WAIT NODE EPOCH" is answered with
 * "DATA N NEXT HW" and whole batches byte for byte.  Before anything is
 * handed to the owner the batches are checked: whole (a trailing partial
 * batch is dropped and fetched again), header and CRC-32C good, base
 * offsets increasing; the first batch that ends at or past OFF must start
 * at or after OFF (a gap is a compacted log's).  One that starts before
 * OFF and holds it means the follower's last batch boundary is not the
 * leader's: the tails diverge, so the follower truncates to that batch's
 * base and fetches again (event DIVERGED).  The next RFETCH goes out only
 * once the owner says the appended batches are durable (append returns 1,
 * or klog_fetcher_ready later), so OFF always tells the leader what the
 * follower holds durably.  An empty answer (N 0) still reports the HW:
 * append is called with len 0.
 *
 * An observer (node -1) whose leader answers RFETCH with UNKNOWN_COMMAND (a
 * klog broker from before replication) falls back to FETCH, whose answer
 * has the same shape ("DATA N NEXT LOG_END") and serves the same range
 * (up to the visible end); EPOCHEND answered UNKNOWN_COMMAND is skipped.
 *
 * Errors: OFFSET_OUT_OF_RANGE -> OFFSETS T P: below LOG_START the log is
 * reset to LOG_START (it was deleted on the leader); past LOG_END (the
 * leader's HW) it is truncated to LOG_END, which every replica has.
 * NOT_LEADER, STALE_EPOCH, UNKNOWN_TOPIC/PARTITION: event, then the same
 * request again every 500 ms (the owner normally replaces the fetcher when
 * the metadata changes).  A lost connection or one without an answer for
 * MAX_WAIT + 10 s: event DISCONNECTED, reconnect with backoff.  A failed
 * truncate/reset/append: state FAILED, event FAILED, nothing more.
 *
 * klog_fetcher_free may be called from any callback (event, append ...):
 * the memory goes when the fetcher's own frame returns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
/* after an ERR answer: a leader that has not yet heard it leads, a topic
 * not made there yet -- both settle within a broker heartbeat (50 ms) */
#define RETRY_MS 50

enum { F_IDLE, F_EPOCH, F_OFFSETS, F_FETCH, F_APPEND, F_FAILED };
static const char *const state_names[] = {
	"idle", "epoch", "offsets", "fetching", "appending", "failed"
};

struct klog_fetcher {
	struct klog_loop *loop;
	char *addr, *secret, *topic;
	int partition, node_id;
	int32_t leader_epoch;
	int max_wait_ms;
	size_t max_bytes;
	struct klog_fetcher_ops ops;
	void *arg;
	struct klog_lc *lc;
	int state;
	int64_t timer;
	int backoff_ms;
	int busy, dead;
	int plain;                      /* an observer on a leader without RFETCH: FETCH */
	int64_t fetch_off;              /* of the RFETCH in flight */
	struct klog_fetcher_stats st;
	char err[KLOG_ERRLEN];
};

static void start(struct klog_fetcher *f);

static int
leave(struct klog_fetcher *f)
{
	if (--f->busy == 0 && f->dead) {
		free(f->addr);
		free(f->secret);
		free(f->topic);
		free(f);
		return 1;
	}
	return 0;
}

static void
event(struct klog_fetcher *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
event(struct klog_fetcher *f, const char *code, const char *fmt, ...)
{
	char msg[KLOG_ERRLEN + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(f->st.last_event, sizeof f->st.last_event, "%.31s %.*s", code,
	    (int)(sizeof f->st.last_event - 40), msg);
	if (f->ops.event && !f->dead)
		f->ops.event(f->arg, code, msg);
}

static int64_t
on_timer(struct klog_loop *l, void *data)
{
	struct klog_fetcher *f = data;

	f->timer = 0;
	f->busy++;
	if (!f->dead && f->state == F_IDLE)
		start(f);
	leave(f);
	return -1;
}

static void
drop_conn(struct klog_fetcher *f)
{
	if (f->lc) {
		klog_lc_close(f->lc);
		f->lc = NULL;
	}
}

/* try again in ms; a lost connection is opened again then */
static void
later(struct klog_fetcher *f, int ms)
{
	if (f->dead || f->state == F_FAILED)
		return;
	f->state = F_IDLE;
	if (f->timer)
		klog_loop_timer_del(f->loop, f->timer);
	f->timer = klog_loop_timer(f->loop, ms, on_timer, f);
	if (f->timer < 0)
		f->timer = 0;
}

static void
lost(struct klog_fetcher *f, const char *why)
{
	drop_conn(f);
	f->st.reconnects++;
	event(f, "DISCONNECTED", "%s-%d: %s", f->topic, f->partition, why);
	later(f, f->backoff_ms);
	f->backoff_ms = f->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : f->backoff_ms * 2;
}

static void
failed(struct klog_fetcher *f, const char *why)
{
	drop_conn(f);
	f->state = F_FAILED;
	snprintf(f->err, sizeof f->err, "%s", why);
	event(f, "FAILED", "%s-%d: %s", f->topic, f->partition, why);
}

static void on_reply(struct klog_lc *lc, void *arg, struct klog_lc_reply *r);

static void
send_req(struct klog_fetcher *f, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
send_req(struct klog_fetcher *f, int state, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	f->state = state;
	if (klog_lc_send(f->lc, KLOG_LC_OK, line, NULL, 0, on_reply, f) < 0)
		lost(f, klog_lc_alive(f->lc) ? strerror(errno) : klog_lc_error(f->lc));
}

static void
fetch(struct klog_fetcher *f)
{
	f->fetch_off = f->ops.log_end(f->arg);
	f->st.log_end = f->fetch_off;
	if (f->plain) {
		send_req(f, F_FETCH, "FETCH %s %d %" PRId64 " %zu %d", f->topic, f->partition,
		    f->fetch_off, f->max_bytes, f->max_wait_ms);
		return;
	}
	send_req(f, F_FETCH, "RFETCH %s %d %" PRId64 " %zu %d %d %" PRId32, f->topic, f->partition,
	    f->fetch_off, f->max_bytes, f->max_wait_ms, f->node_id, f->leader_epoch);
}

static void
start(struct klog_fetcher *f)
{
	int32_t e;

	if (!f->lc || !klog_lc_alive(f->lc)) {
		drop_conn(f);
		if (!(f->lc = klog_lc_open(f->loop, f->addr, f->secret, f->err))) {
			lost(f, f->err);
			return;
		}
		klog_lc_set_timeout(f->lc, f->max_wait_ms + 10000);
	}
	e = f->ops.latest_epoch ? f->ops.latest_epoch(f->arg) : -1;
	if (e >= 0)
		send_req(f, F_EPOCH, "EPOCHEND %s %d %" PRId32, f->topic, f->partition, e);
	else
		fetch(f);
}

static int
truncate_to(struct klog_fetcher *f, int64_t to, const char *why)
{
	int64_t end = f->ops.log_end(f->arg);
	char err[KLOG_ERRLEN];

	if (to >= end)
		return 0;
	if (f->ops.truncate(f->arg, to, err) < 0) {
		failed(f, err);
		return -1;
	}
	f->st.truncations++;
	event(f, "TRUNCATED", "%s-%d: log truncated from %" PRId64 " to %" PRId64 " (%s)", f->topic,
	    f->partition, end, to, why);
	return 0;
}

static void
on_epoch(struct klog_fetcher *f, struct klog_lc_reply *r)
{
	int64_t e2, end, own;
	char a[32], b[32], why[160];

	if (sscanf(r->line, "%31s %31s", a, b) != 2 || klog_parse_i64(a, &e2) < 0 ||
	    klog_parse_i64(b, &end) < 0) {
		lost(f, "a bad EPOCHEND answer");
		return;
	}
	if (e2 < 0) {
		int64_t hw = f->ops.high_watermark ? f->ops.high_watermark(f->arg) : -1;
		if (hw >= 0) {
			snprintf(why, sizeof why, "the leader knows no epoch <= %" PRId32
			    ": to the high watermark", f->ops.latest_epoch(f->arg));
			if (truncate_to(f, hw, why) < 0)
				return;
		}
	} else {
		own = f->ops.epoch_end ? f->ops.epoch_end(f->arg, (int32_t)e2) : -1;
		if (own >= 0 && own < end)
			end = own;
		snprintf(why, sizeof why, "leader epoch %" PRId64 " ends at %" PRId64 " on the leader",
		    e2, end);
		if (truncate_to(f, end, why) < 0)
			return;
	}
	fetch(f);
}

static void
on_offsets(struct klog_fetcher *f, struct klog_lc_reply *r)
{
	int64_t start_off, end_off, own = f->ops.log_end(f->arg);
	char a[32], b[32], err[KLOG_ERRLEN];

	if (sscanf(r->line, "%31s %31s", a, b) != 2 || klog_parse_i64(a, &start_off) < 0 ||
	    klog_parse_i64(b, &end_off) < 0) {
		lost(f, "a bad OFFSETS answer");
		return;
	}
	if (own < start_off) {
		if (f->ops.reset(f->arg, start_off, err) < 0) {
			failed(f, err);
			return;
		}
		f->st.resets++;
		event(f, "RESET", "%s-%d: log at %" PRId64 " is below the leader's log start %"
		    PRId64 ": emptied, starting there", f->topic, f->partition, own, start_off);
	} else if (own > end_off) {
		if (truncate_to(f, end_off, "past the leader's high watermark") < 0)
			return;
	} else {
		/* in range now: the log moved meanwhile; just fetch again */
		later(f, RETRY_MS);
		return;
	}
	fetch(f);
}

/*
 * Check the batches of a DATA answer: 0 and *use the bytes to append
 * (maybe fewer than len: a partial batch at the end), or 1 after handling
 * a divergence, or -1 with err.
 */
static int
check_batches(struct klog_fetcher *f, const unsigned char *p, size_t len, size_t *skip,
    size_t *use, int64_t *count, char *err)
{
	int64_t off = f->fetch_off, prev = -1;
	size_t pos = 0, first = SIZE_MAX;
	struct klog_batch b;
	char e[KLOG_ERRLEN];

	*count = 0;
	while (pos < len) {
		int rc = klog_batch_parse(p + pos, len - pos, &b, e);
		if (rc < 0)
			return kerr(err, "batch at byte %zu of the answer: %s", pos, e);
		if (rc == 0)
			break;
		if (klog_batch_verify(p + pos, &b, e) < 0)
			return kerr(err, "batch at offset %" PRId64 ": %s", b.base_offset, e);
		if (klog_batch_last(&b) < b.base_offset)
			return kerr(err, "batch at offset %" PRId64 ": bad last offset", b.base_offset);
		if (klog_batch_last(&b) < off) {
			/* wholly before what we asked for: not ours */
			pos += klog_batch_size(&b);
			continue;
		}
		if (first == SIZE_MAX) {
			if (b.base_offset < off) {
				char why[160];
				snprintf(why, sizeof why, "the leader's batch %" PRId64 "..%" PRId64
				    " holds the log end %" PRId64, b.base_offset, klog_batch_last(&b), off);
				event(f, "DIVERGED", "%s-%d: %s", f->topic, f->partition, why);
				if (truncate_to(f, b.base_offset, why) < 0)
					return -2;
				return 1;
			}
			first = pos;
		} else if (b.base_offset <= prev)
			return kerr(err, "batch at offset %" PRId64 " after one ending at %" PRId64,
			    b.base_offset, prev);
		prev = klog_batch_last(&b);
		*count += b.count;
		pos += klog_batch_size(&b);
	}
	if (first == SIZE_MAX) {
		*skip = pos;
		*use = 0;
	} else {
		*skip = first;
		*use = pos - first;
	}
	if (*use == 0 && pos < len && pos == 0)
		return kerr(err, "a partial batch of %zu bytes", len);
	return 0;
}

static void
on_data(struct klog_fetcher *f, struct klog_lc_reply *r)
{
	int64_t next, hw, count, base = -1;
	char a[32], b[32], c[32], err[KLOG_ERRLEN];
	size_t skip = 0, use = 0;
	int rc, nw;

	if ((nw = sscanf(r->line, "%31s %31s %31s", a, b, c)) < 2 ||
	    klog_parse_i64(a, &next) < 0 || klog_parse_i64(b, &hw) < 0 ||
	    (nw == 3 && klog_parse_i64(c, &base) < 0)) {
		lost(f, "a bad RFETCH answer");
		return;
	}
	f->backoff_ms = BACKOFF_MIN_MS;
	f->st.leader_hw = hw;
	if ((rc = check_batches(f, r->data, r->len, &skip, &use, &count, err)) < 0) {
		if (rc == -2)
			return;
		f->st.bad++;
		event(f, "CORRUPT_BATCH", "%s-%d: from leader '%s': %s", f->topic, f->partition,
		    f->addr, err);
		drop_conn(f);
		later(f, f->backoff_ms);
		return;
	}
	if (rc == 1) {
		fetch(f);
		return;
	}
	f->state = F_APPEND;
	/* the leader's segment the batches come from: a replica rolls where
	 * its leader did, so their segment files are the same */
	if (use && base >= 0 && f->ops.segment && f->ops.segment(f->arg, base, err) < 0) {
		failed(f, err);
		return;
	}
	rc = f->ops.append(f->arg, use ? r->data + skip : NULL, use, hw, err);
	if (rc < 0) {
		failed(f, err);
		return;
	}
	if (use) {
		f->st.bytes += (int64_t)use;
		f->st.records += count;
		f->st.fetches++;
	}
	if (f->dead)
		return;
	if (rc == 1 && f->state == F_APPEND) {
		/* nothing new and no long poll asked: do not spin */
		if (!use && f->max_wait_ms == 0)
			later(f, 100);
		else
			fetch(f);
	}
}

static void
on_err(struct klog_fetcher *f, struct klog_lc_reply *r)
{
	int st = f->state;

	if (!strcmp(r->code, "UNKNOWN_COMMAND") && st == F_FETCH && f->node_id == -1 &&
	    !f->plain) {
		f->plain = 1;   /* an older or standalone broker: FETCH serves its HW too */
		fetch(f);
		return;
	}
	if (!strcmp(r->code, "UNKNOWN_COMMAND") && st == F_EPOCH) {
		fetch(f);       /* a leader without EPOCHEND: fetch's own check only */
		return;
	}
	event(f, r->code, "%s-%d: %s", f->topic, f->partition, r->line);
	if (f->dead)
		return;
	if (!strcmp(r->code, "OFFSET_OUT_OF_RANGE") && st == F_FETCH) {
		send_req(f, F_OFFSETS, "OFFSETS %s %d", f->topic, f->partition);
		return;
	}
	if (!strcmp(r->code, "AUTH") || !strcmp(r->code, "BUSY")) {
		lost(f, r->line);
		return;
	}
	later(f, RETRY_MS);
}

static void
on_reply(struct klog_lc *lc, void *arg, struct klog_lc_reply *r)
{
	struct klog_fetcher *f = arg;

	if (r->kind == KLOG_LC_CLOSED && !strcmp(r->code, "CLOSED"))
		return;         /* we closed it: f may be going */
	f->busy++;
	if (f->dead || lc != f->lc)
		goto out;
	switch (r->kind) {
	case KLOG_LC_CLOSED:
		lost(f, r->line);
		break;
	case KLOG_LC_ERR:
		on_err(f, r);
		break;
	case KLOG_LC_OK:
		if (f->state == F_EPOCH)
			on_epoch(f, r);
		else if (f->state == F_OFFSETS)
			on_offsets(f, r);
		else
			lost(f, "an unexpected OK answer");
		break;
	case KLOG_LC_DATA:
		if (f->state == F_FETCH)
			on_data(f, r);
		else
			lost(f, "an unexpected DATA answer");
		break;
	default:
		lost(f, "an unexpected answer");
	}
out:
	leave(f);
}

struct klog_fetcher *
klog_fetcher_new(struct klog_loop *l, const char *leader_addr, const char *secret,
    const char *topic, int partition, int node_id, int32_t leader_epoch, int max_wait_ms,
    size_t max_bytes, const struct klog_fetcher_ops *ops, void *arg, char *err)
{
	struct klog_fetcher *f;

	if (!ops || !ops->log_end || !ops->truncate || !ops->reset || !ops->append) {
		errno = EINVAL;
		kerr(err, "fetcher: log_end, truncate, reset and append are needed");
		return NULL;
	}
	if (!(f = calloc(1, sizeof *f)) || !(f->addr = strdup(leader_addr)) ||
	    !(f->topic = strdup(topic)) || (secret && *secret && !(f->secret = strdup(secret)))) {
		kerr_sys(err, "fetcher");
		if (f) {
			free(f->addr);
			free(f->topic);
		}
		free(f);
		return NULL;
	}
	f->loop = l;
	f->partition = partition;
	f->node_id = node_id;
	f->leader_epoch = leader_epoch;
	f->max_wait_ms = max_wait_ms < 0 ? 0 : max_wait_ms;
	f->max_bytes = max_bytes ? max_bytes : 1 << 20;
	f->ops = *ops;
	f->arg = arg;
	f->backoff_ms = BACKOFF_MIN_MS;
	f->st.leader_hw = -1;
	/* the first connect from the loop, so the owner's setup finishes first */
	later(f, 0);
	if (!f->timer) {
		kerr_sys(err, "fetcher");
		free(f->addr);
		free(f->secret);
		free(f->topic);
		free(f);
		return NULL;
	}
	return f;
}

void
klog_fetcher_ready(struct klog_fetcher *f)
{
	if (!f || f->dead || f->state != F_APPEND)
		return;
	f->busy++;
	fetch(f);
	leave(f);
}

void
klog_fetcher_free(struct klog_fetcher *f)
{
	if (!f || f->dead)
		return;
	f->dead = 1;
	if (f->timer) {
		klog_loop_timer_del(f->loop, f->timer);
		f->timer = 0;
	}
	drop_conn(f);
	f->busy++;
	leave(f);
}

void
klog_fetcher_stats(const struct klog_fetcher *f, struct klog_fetcher_stats *st)
{
	*st = f->st;
	snprintf(st->state, sizeof st->state, "%s", state_names[f->state]);
}

const char *
klog_fetcher_error(const struct klog_fetcher *f)
{
	return f->state == F_FAILED ? f->err : NULL;
}
