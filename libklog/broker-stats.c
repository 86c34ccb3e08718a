/* klog - kbrokerd: request timing and the Prometheus STATS text. MIT licence. */
/*
 * Write rates per partition, so that a hot partition shows: every append
 * adds its records and bytes (the batches as received) to the partition's
 * counters since start-up and to the bucket of the current second (the
 * monotonic clock's) in a ring of KB_RATE_SECS buckets, allocated at the
 * first append.  The rate is the sum of the buckets of the current second
 * and the KB_RATE_SECS - 1 before it, divided by KB_RATE_SECS: the average
 * over the last 9 to 10 seconds, 0 ten seconds after the last append.
 * STATS shows the counters and the rates; DESCRIBE TOPIC RATES the rates.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

static const double buckets[NBUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30
};

int64_t
kb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
kb_observe(struct klog_broker *b, int verb, int64_t t0, int failed)
{
	struct vstats *v;
	double s = (double)(kb_now_us() - t0) / 1e6;
	int i;

	if (verb < 0 || verb >= KLOG_V_NVERBS)
		return;
	v = &b->vs[verb];
	v->count++;
	v->errors += failed != 0;
	v->sum += s;
	for (i = 0; i < NBUCKETS; i++)
		if (s <= buckets[i])
			v->bucket[i]++;
}

static int64_t
now_sec(void)
{
	return kb_now_us() / 1000000;
}

/* count an append at second now (r NULL: first allocate it) */
struct kb_rate *
kb_rate_count(struct kb_rate *r, int64_t now, int64_t records, size_t bytes)
{
	int64_t s;

	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return NULL;    /* no memory: no rate, the append stands */
		r->sec = now;
	}
	if (now - r->sec >= KB_RATE_SECS) {
		memset(r->records, 0, sizeof r->records);
		memset(r->bytes, 0, sizeof r->bytes);
	} else
		for (s = r->sec + 1; s <= now; s++) {
			r->records[s % KB_RATE_SECS] = 0;
			r->bytes[s % KB_RATE_SECS] = 0;
		}
	if (now > r->sec)
		r->sec = now;
	r->records[now % KB_RATE_SECS] += (uint64_t)records;
	r->bytes[now % KB_RATE_SECS] += bytes;
	r->records_total += (uint64_t)records;
	r->bytes_total += bytes;
	return r;
}

/* the rates at second now (r may be NULL: 0) */
void
kb_rate_at(const struct kb_rate *r, int64_t now, struct klog_part_rate *pr)
{
	uint64_t nr = 0, nb = 0;
	int64_t s;

	pr->records = pr->bytes = 0;
	if (!r)
		return;
	/* the seconds in (now - KB_RATE_SECS, now] the ring still holds (the
	 * clock counts from boot: none before 0) */
	s = (now > r->sec ? now : r->sec) - KB_RATE_SECS + 1;
	if (s < 0)
		s = 0;
	for (; s <= now && s <= r->sec; s++) {
		nr += r->records[s % KB_RATE_SECS];
		nb += r->bytes[s % KB_RATE_SECS];
	}
	pr->records = (double)nr / KB_RATE_SECS;
	pr->bytes = (double)nb / KB_RATE_SECS;
}

void
kb_rate_add(struct bpart *bp, int64_t records, size_t bytes)
{
	struct kb_rate *r = kb_rate_count(bp->rate, now_sec(), records, bytes);

	if (r)
		bp->rate = r;
}

void
kb_rate_get(const struct bpart *bp, struct klog_part_rate *pr)
{
	kb_rate_at(bp->rate, now_sec(), pr);
}

static void
stats_text(struct klog_broker *b, struct klog_buf *o)
{
	size_t h;
	int v, i, waiting = 0, offline = 0, failed = 0;
	struct conn *c;

	for (c = b->conns; c; c = c->next)
		waiting += c->nfetch;
	klog_buf_printf(o, "# HELP klog_up The broker is serving.\n# TYPE klog_up gauge\nklog_up 1\n");
	klog_buf_printf(o, "# HELP klog_connections Open client connections.\n"
	    "# TYPE klog_connections gauge\nklog_connections %d\n", b->nconns);
	klog_buf_printf(o, "# HELP klog_connections_total Connections accepted.\n"
	    "# TYPE klog_connections_total counter\nklog_connections_total %" PRIu64 "\n",
	    b->conns_total);
	klog_buf_printf(o, "# HELP klog_connections_rejected_total Connections refused (limit).\n"
	    "# TYPE klog_connections_rejected_total counter\nklog_connections_rejected_total %"
	    PRIu64 "\n", b->conns_rejected);
	klog_buf_printf(o, "# HELP klog_connections_shed_total Connections closed to make room "
	    "for a newcomer (table full).\n# TYPE klog_connections_shed_total counter\n"
	    "klog_connections_shed_total %" PRIu64 "\n", b->conns_shed);
	klog_buf_printf(o, "# HELP klog_request_timeouts_total Connections closed for a request "
	    "that did not arrive in time.\n# TYPE klog_request_timeouts_total counter\n"
	    "klog_request_timeouts_total %" PRIu64 "\n", b->req_timeouts);
	klog_buf_printf(o, "# HELP klog_memory_trims_total Free memory returned to the system "
	    "after a burst.\n# TYPE klog_memory_trims_total counter\n"
	    "klog_memory_trims_total %" PRIu64 "\n", b->trims);
	klog_buf_printf(o, "# HELP klog_buffer_bytes Memory held by connection buffers.\n"
	    "# TYPE klog_buffer_bytes gauge\nklog_buffer_bytes %zu\n", b->mem);
	klog_buf_printf(o, "# HELP klog_fetches_waiting Long-poll fetches waiting for data.\n"
	    "# TYPE klog_fetches_waiting gauge\nklog_fetches_waiting %d\n", waiting);
#define COUNTER(name, help, val) klog_buf_printf(o, "# HELP " name " " help "\n# TYPE " name \
	" counter\n" name " %" PRIu64 "\n", (uint64_t)(val))
	COUNTER("klog_network_received_bytes_total", "Bytes read from clients.", b->bytes_in);
	COUNTER("klog_network_sent_bytes_total", "Bytes written to clients.", b->bytes_out);
	COUNTER("klog_records_in_total", "Records appended.", b->records_in);
	COUNTER("klog_batches_in_total", "Batches appended.", b->batches_in);
	COUNTER("klog_records_out_total", "Records sent by fetches.", b->records_out);
	COUNTER("klog_produce_errors_total", "Produce requests refused.", b->produce_errors);
	COUNTER("klog_fsyncs_total", "Partition fsyncs.", b->fsyncs);
	COUNTER("klog_fsync_errors_total", "Failed partition fsyncs.", b->fsync_errors);
	COUNTER("klog_group_commits_total", "Group commits.", b->commits);
	if (b->repl) {
		COUNTER("klog_isr_shrinks_total", "ISR shrinks of partitions led here.",
		    b->repl->isr_shrinks);
		COUNTER("klog_isr_expands_total", "ISR expansions of partitions led here.",
		    b->repl->isr_expands);
		COUNTER("klog_leader_elections_total", "Times this broker became a partition's "
		    "leader.", b->repl->leader_changes);
		COUNTER("klog_replica_truncations_total", "Divergent tails a follower cut.",
		    b->repl->truncations);
		COUNTER("klog_replica_bytes_in_total", "Bytes a follower appended.",
		    b->repl->bytes_in);
		kb_repl_stats(b, o);
	}
#undef COUNTER
	klog_buf_printf(o, "# HELP klog_requests_total Requests by command.\n"
	    "# TYPE klog_requests_total counter\n");
	for (v = 1; v < KLOG_V_NVERBS; v++)
		klog_buf_printf(o, "klog_requests_total{command=\"%s\"} %" PRIu64 "\n",
		    klog_verb_name(v), b->vs[v].count);
	klog_buf_printf(o, "# HELP klog_request_errors_total Requests answered with ERR.\n"
	    "# TYPE klog_request_errors_total counter\n");
	for (v = 0; v < KLOG_V_NVERBS; v++)
		klog_buf_printf(o, "klog_request_errors_total{command=\"%s\"} %" PRIu64 "\n",
		    klog_verb_name(v), b->vs[v].errors);
	klog_buf_printf(o, "# HELP klog_request_duration_seconds Time from a whole request to its "
	    "queued response (fetch waits included).\n"
	    "# TYPE klog_request_duration_seconds histogram\n");
	for (v = 1; v < KLOG_V_NVERBS; v++) {
		const char *n = klog_verb_name(v);
		if (!b->vs[v].count)
			continue;
		for (i = 0; i < NBUCKETS; i++)
			klog_buf_printf(o, "klog_request_duration_seconds_bucket{command=\"%s\",le=\"%g\"} %"
			    PRIu64 "\n", n, buckets[i], b->vs[v].bucket[i]);
		klog_buf_printf(o, "klog_request_duration_seconds_bucket{command=\"%s\",le=\"+Inf\"} %"
		    PRIu64 "\n", n, b->vs[v].count);
		klog_buf_printf(o, "klog_request_duration_seconds_sum{command=\"%s\"} %.6f\n", n,
		    b->vs[v].sum);
		klog_buf_printf(o, "klog_request_duration_seconds_count{command=\"%s\"} %" PRIu64 "\n",
		    n, b->vs[v].count);
	}
	klog_buf_printf(o, "# HELP klog_partition_online 1 serving, 0 failed (a sync failed) or "
	    "offline (fenced at open).\n# TYPE klog_partition_online gauge\n");
	for (h = 0; h < THASH; h++) {
		struct btopic *t;
		for (t = b->topics[h]; t; t = t->next)
			for (i = 0; i < t->np; i++) {
				struct bpart *bp = t->parts[i];
				/* a closed one serves: it opens on use */
				int on = bp->p ? !klog_part_failed(bp->p) : !bp->offline;
				offline += !bp->p && bp->offline;
				failed += bp->p && !on;
				klog_buf_printf(o, "klog_partition_online{topic=\"%s\",partition=\"%d\"} %d\n",
				    t->name, i, on);
			}
	}
	klog_buf_printf(o, "# HELP klog_partitions_offline Partitions fenced at open (damaged).\n"
	    "# TYPE klog_partitions_offline gauge\nklog_partitions_offline %d\n", offline);
	klog_buf_printf(o, "# HELP klog_partitions_failed Partitions whose sync failed.\n"
	    "# TYPE klog_partitions_failed gauge\nklog_partitions_failed %d\n", failed);
	klog_buf_printf(o, "# HELP klog_partitions Partitions of every topic.\n"
	    "# TYPE klog_partitions gauge\nklog_partitions %ld\n"
	    "# HELP klog_partitions_open Partitions open now (the rest open on use).\n"
	    "# TYPE klog_partitions_open gauge\nklog_partitions_open %d\n"
	    "# HELP klog_partitions_open_max At most this many open at once.\n"
	    "# TYPE klog_partitions_open_max gauge\nklog_partitions_open_max %d\n"
	    "# HELP klog_partition_opens_total Partitions opened (and recovered).\n"
	    "# TYPE klog_partition_opens_total counter\nklog_partition_opens_total %" PRIu64 "\n"
	    "# HELP klog_partition_closes_total Idle partitions closed to make room.\n"
	    "# TYPE klog_partition_closes_total counter\nklog_partition_closes_total %" PRIu64 "\n"
	    "# HELP klog_partition_open_busy_total Opens refused: no idle one to close, or out of "
	    "descriptors.\n# TYPE klog_partition_open_busy_total counter\n"
	    "klog_partition_open_busy_total %" PRIu64 "\n", b->nparts, b->nopen, b->max_open,
	    b->part_opens, b->part_closes, b->part_busy);
	klog_buf_printf(o, "# HELP klog_partition_log_start_offset First offset.\n"
	    "# TYPE klog_partition_log_start_offset gauge\n"
	    "# HELP klog_partition_log_end_offset Next offset.\n"
	    "# TYPE klog_partition_log_end_offset gauge\n"
	    "# HELP klog_partition_bytes Bytes of segments.\n"
	    "# TYPE klog_partition_bytes gauge\n"
	    "# HELP klog_partition_durable_offset Every offset below is synced.\n"
	    "# TYPE klog_partition_durable_offset gauge\n"
	    "# HELP klog_partition_segments Segments.\n"
	    "# TYPE klog_partition_segments gauge\n");
	for (h = 0; h < THASH; h++) {
		struct btopic *t;
		for (t = b->topics[h]; t; t = t->next)
			for (i = 0; i < t->np; i++) {
				struct klog_part_info pi;
				char e[KLOG_ERRLEN];
				if (t->parts[i]->p ? klog_part_info(t->parts[i]->p, &pi, e) < 0 :
				    !t->parts[i]->ci_known || t->parts[i]->offline)
					continue;
				if (!t->parts[i]->p)
					pi = t->parts[i]->ci;
				klog_buf_printf(o, "klog_partition_durable_offset{topic=\"%s\",partition=\"%d\"} %"
				    PRId64 "\n", t->name, i, t->parts[i]->durable);
				klog_buf_printf(o, "klog_partition_log_start_offset{topic=\"%s\",partition=\"%d\"} %"
				    PRId64 "\n", t->name, i, pi.log_start);
				klog_buf_printf(o, "klog_partition_log_end_offset{topic=\"%s\",partition=\"%d\"} %"
				    PRId64 "\n", t->name, i, pi.log_end);
				klog_buf_printf(o, "klog_partition_bytes{topic=\"%s\",partition=\"%d\"} %" PRId64
				    "\n", t->name, i, pi.bytes);
				klog_buf_printf(o, "klog_partition_segments{topic=\"%s\",partition=\"%d\"} %d\n",
				    t->name, i, pi.segments);
			}
	}
	kb_compact_stats(b, o);
	kb_ctl_stats(b, o);
	klog_buf_printf(o, "# HELP klog_partition_records_in_total Records appended since start-up.\n"
	    "# TYPE klog_partition_records_in_total counter\n"
	    "# HELP klog_partition_bytes_in_total Batch bytes appended since start-up.\n"
	    "# TYPE klog_partition_bytes_in_total counter\n"
	    "# HELP klog_partition_records_in_rate Records appended per second, last 10 s.\n"
	    "# TYPE klog_partition_records_in_rate gauge\n"
	    "# HELP klog_partition_bytes_in_rate Batch bytes appended per second, last 10 s.\n"
	    "# TYPE klog_partition_bytes_in_rate gauge\n");
	for (h = 0; h < THASH; h++) {
		struct btopic *t;
		for (t = b->topics[h]; t; t = t->next)
			for (i = 0; i < t->np; i++) {
				struct bpart *bp = t->parts[i];
				struct klog_part_rate pr;
				kb_rate_get(bp, &pr);
				klog_buf_printf(o, "klog_partition_records_in_total{topic=\"%s\",partition=\"%d\"} %"
				    PRIu64 "\n", t->name, i, bp->rate ? bp->rate->records_total : 0);
				klog_buf_printf(o, "klog_partition_bytes_in_total{topic=\"%s\",partition=\"%d\"} %"
				    PRIu64 "\n", t->name, i, bp->rate ? bp->rate->bytes_total : 0);
				klog_buf_printf(o, "klog_partition_records_in_rate{topic=\"%s\",partition=\"%d\"} "
				    "%.1f\n", t->name, i, pr.records);
				klog_buf_printf(o, "klog_partition_bytes_in_rate{topic=\"%s\",partition=\"%d\"} "
				    "%.1f\n", t->name, i, pr.bytes);
			}
	}
}

void
kb_cmd_stats(struct conn *c)
{
	struct klog_buf body = { 0 }, out = { 0 };

	stats_text(c->b, &body);
	klog_buf_printf(&out, "DATA %zu\n", body.len);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	kb_reply_take(c, &out);
}
