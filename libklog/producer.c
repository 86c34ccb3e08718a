/* klog - producing: byte streams to records to batches to partitions. MIT licence. */
/*
 * One klog_builder per partition collects records; a partition's batch is
 * finished and appended (klog_part_append: lock, offsets, write, index,
 * unlock) when the next record would take it past the batch size, when the
 * pending bytes of all partitions together pass PENDING_MAX, when the
 * input pauses, and at the end.
 *
 * Acknowledgements (the acked callback, kproduce -v) mean durable.  Remote:
 * when the broker says so (its fsync policy).  Embedded: batches written
 * wait in a list until the partitions they went to are synced
 * (klog_part_sync), which happens when SYNC_BYTES were written since the
 * last sync, when the oldest waiting batch is SYNC_MS old, whenever the
 * input pauses (klog_producer_flush) and at the end; a failed sync fails the
 * producer with the error, and none of the batches written since the last
 * good sync is acknowledged.  Memory stays bounded whatever the input: one input buffer of
 * CHUNK plus the longest record allowed, and at most PENDING_MAX (or one
 * batch) of pending records; builders of partitions that go quiet give
 * their buffers back once the total capacity passes CAP_MAX.
 *
 * Partitions: a forced one, else murmur2 of the key (the Java client's
 * rule), else the "sticky" partition, which moves round-robin to the next
 * partition once STICKY_BYTES (Kafka's default batch.size, 16 KiB) have
 * gone to it, or when its batch is written, whichever comes first: the
 * Java client's sticky partitioner (KIP-480, KIP-794), so that a long run
 * of unkeyed records spreads evenly.  The first sticky partition is
 * random, so many short runs spread over the partitions too.
 *
 * Salting (o.salt = N > 1, kproduce --salt): a keyed record goes to
 * (home + s) % partitions, where home = (murmur2(key) & 0x7fffffff) %
 * partitions is the Java client's choice and s = n % N, n counting the
 * records this producer has sent with that key before (counted per
 * SALT_SLOTS-th of murmur2's range: keys sharing a slot share a counter,
 * which keeps each spread roughly even).  So a hot key is spread evenly
 * over the N partitions home, home + 1, ..., home + N - 1 (mod the count;
 * N is capped at the partition count), always N distinct ones, and a
 * consumer that wants one key knows which partitions to read.  Only the
 * choice of partition changes: the stored key is the record's own.  Per
 * key order holds within each partition, not across them.
 *
 * Backpressure (o.lag_group, kproduce --max-lag): before a batch is
 * written the producer looks at the group's lag on the topic
 * (klog_group_lag), at most every LAG_CHECK_MS: while it is above
 * o.max_lag, it waits (batches written before are synced and acknowledged
 * first; a remote producer collects its acknowledgements in flight first,
 * as the lag is asked on the same connection) and looks again every
 * LAG_CHECK_MS.  Nothing is read meanwhile, so a writer into our pipe
 * blocks in turn.  o.stop ends the wait; the batch is then written.
 *
 * Input: read(2) in CHUNK pieces, records found with memchr (memmem for a
 * multi-byte delimiter) and added straight from the input buffer; a record
 * cut by a chunk boundary is moved to the buffer's start before the next
 * read.  A record longer than max.message.bytes is not buffered: its bytes
 * are counted and dropped up to its delimiter, then it is reported.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_BATCH 1000000
/* unkeyed records move to the next partition after this many bytes */
#define STICKY_BYTES ((size_t)16 << 10)
#define CHUNK (256u << 10)
#define PENDING_MAX ((size_t)4 << 20)
#define CAP_MAX ((size_t)4 << 20)
/* a record's size in a batch beyond key, value and headers: length,
 * attributes, timestamp delta, offset delta, key and value lengths, header
 * count, as varints at their largest */
#define REC_OVERHEAD 40
/* embedded: sync and acknowledge at least this often */
#define SYNC_BYTES ((size_t)64 << 20)
#define SYNC_MS 1000
/* salting: per-key record counters, by murmur2 */
#define SALT_SLOTS 1024
/* backpressure: look at a group's lag at most this often */
#define LAG_CHECK_MS 100

/* an embedded batch written, not yet synced */
struct wack {
	int p;
	int64_t first, last;
};

struct pslot {
	struct klog_lpart *part;        /* opened on first append */
	struct klog_builder bb;
	int unsynced;                   /* embedded: written since the last sync */
};

/* remote producers keep up to this many batches in flight */
#define INFLIGHT_MAX 16

/* a batch in flight */
struct flight {
	int p;
	int64_t records;
	int tries;                      /* sent again after NOT_ENOUGH_REPLICAS */
	struct klog_buf copy;           /* its bytes, kept with o.retries > 0 */
};

struct klog_producer {
	struct klog_log *lg;
	int pipelined;                  /* remote with acks: send, collect acks later */
	struct flight ring[INFLIGHT_MAX];       /* the batches in flight */
	int rhead, rlen;
	int64_t failed;                 /* batches reported to o.failed */
	char topic[KLOG_TOPIC_MAX + 1];
	struct klog_producer_opts o;
	struct klog_config cfg;
	int nparts;
	struct pslot *slot;
	int codec;
	size_t batch_bytes;
	size_t hdr_bytes;               /* encoded size of o.headers, roughly */
	int sticky;
	size_t sticky_bytes;            /* added to the sticky partition so far */
	int salt;                       /* > 1: keys spread over this many partitions */
	uint32_t *saltn;                /* SALT_SLOTS counters of keyed records */
	size_t pending;                 /* bytes in every builder */
	int64_t oldest_ms;              /* when the first pending record came, -1 none */
	int64_t skipped;
	int64_t sent, fed;              /* records added, input bytes read */
	unsigned char *in;              /* input buffer */
	size_t incap;
	struct wack *wack;              /* embedded: written, waiting for a sync */
	size_t nwack, cwack, wbytes;
	int64_t wsince_ms;              /* when the oldest of them was written */
	int64_t lag_next;               /* backpressure: the lag is not looked at before */
};

struct klog_producer *
klog_producer_open(struct klog_log *lg, const char *topic, const struct klog_producer_opts *o,
    char *err)
{
	struct klog_producer *pr;
	struct timespec ts;
	int i;

	if (klog_topic_name_check(topic, err) < 0)
		return NULL;
	if (!(pr = calloc(1, sizeof *pr))) {
		kerr_sys(err, "topic '%s'", topic);
		return NULL;
	}
	pr->lg = lg;
	snprintf(pr->topic, sizeof pr->topic, "%s", topic);
	if (o)
		pr->o = *o;
	else
		pr->o.partition = pr->o.codec = -1;
	pr->oldest_ms = -1;
	if (klog_log_config(lg, topic, &pr->cfg, err) < 0)
		goto fail;
	pr->nparts = pr->cfg.partitions;
	if (pr->nparts < 1) {
		kerr(err, "topic '%s' has no partitions", topic);
		goto fail;
	}
	if (pr->o.partition >= pr->nparts) {
		errno = ENOENT;
		kerr(err, "no such partition '%s-%d' (topic '%s' has %d)", topic, pr->o.partition,
		    topic, pr->nparts);
		goto fail;
	}
	pr->codec = pr->o.codec;
	if (pr->codec < 0)
		pr->codec = pr->cfg.compression > 0 ? pr->cfg.compression : KLOG_CODEC_NONE;
	if (!klog_codec_available(pr->codec)) {
		errno = ENOTSUP;
		kerr(err, "codec '%s' is not built in", klog_codec_name(pr->codec));
		goto fail;
	}
	pr->batch_bytes = pr->o.batch_bytes ? pr->o.batch_bytes : DEFAULT_BATCH;
	if (pr->cfg.max_message_bytes > 0 && (int64_t)pr->batch_bytes > pr->cfg.max_message_bytes)
		pr->batch_bytes = (size_t)pr->cfg.max_message_bytes;
	if (pr->o.lag_group && (klog_group_name_check(pr->o.lag_group, err) < 0 ||
	    pr->o.max_lag < 0)) {
		errno = EINVAL;
		if (pr->o.max_lag < 0)
			kerr(err, "group '%s': lag limit %" PRId64, pr->o.lag_group, pr->o.max_lag);
		goto fail;
	}
	if (pr->o.salt < 0) {
		errno = EINVAL;
		kerr(err, "topic '%s': salt %d", topic, pr->o.salt);
		goto fail;
	}
	pr->salt = pr->o.salt > pr->nparts ? pr->nparts : pr->o.salt;
	if (pr->salt > 1 && !(pr->saltn = calloc(SALT_SLOTS, sizeof *pr->saltn))) {
		kerr_sys(err, "topic '%s'", topic);
		goto fail;
	}
	for (i = 0; i < pr->o.nheaders; i++)
		pr->hdr_bytes += 10 + (size_t)pr->o.headers[i].key_len +
		    (pr->o.headers[i].value_len > 0 ? (size_t)pr->o.headers[i].value_len : 0);
	if (!(pr->slot = calloc((size_t)pr->nparts, sizeof *pr->slot))) {
		kerr_sys(err, "topic '%s'", topic);
		goto fail;
	}
	for (i = 0; i < pr->nparts; i++)
		klog_builder_init(&pr->slot[i].bb, pr->codec);
	/* a pipelining client takes no other request while acks are due: open
	 * every partition now */
	pr->pipelined = klog_log_remote(lg) && klog_log_acks(lg) != 0;
	for (i = 0; pr->pipelined && i < pr->nparts; i++)
		if (!(pr->slot[i].part = klog_lpart_open(lg, topic, i, KLOG_WRITE, err)))
			goto fail;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pr->sticky = (int)(((uint64_t)ts.tv_nsec ^ (uint64_t)getpid() * 2654435761u) %
	    (uint64_t)pr->nparts);
	return pr;
fail:
	klog_producer_close(pr);
	return NULL;
}

void
klog_producer_close(struct klog_producer *pr)
{
	int i;

	if (!pr)
		return;
	if (pr->slot)
		for (i = 0; i < pr->nparts; i++) {
			klog_builder_free(&pr->slot[i].bb);
			klog_lpart_close(pr->slot[i].part);
		}
	free(pr->slot);
	for (i = 0; i < INFLIGHT_MAX; i++)
		klog_buf_free(&pr->ring[i].copy);
	free(pr->saltn);
	free(pr->in);
	free(pr->wack);
	free(pr);
}

int64_t
klog_producer_skipped(const struct klog_producer *pr)
{
	return pr->skipped;
}

void
klog_producer_counts(const struct klog_producer *pr, int64_t *records, int64_t *bytes)
{
	*records = pr->sent;
	*bytes = pr->fed;
}

/* make sure an error names the partition */
static int
part_err(struct klog_producer *pr, int p, char *err)
{
	char name[KLOG_TOPIC_MAX + 16], tmp[KLOG_ERRLEN];
	int e = errno;

	snprintf(name, sizeof name, "%s-%d", pr->topic, p);
	if (err && !strstr(err, name)) {
		snprintf(tmp, sizeof tmp, "%s", err);
		kerr(err, "partition '%s': %s", name, tmp);
	}
	errno = e;
	return -1;
}

static size_t
total_cap(struct klog_producer *pr)
{
	size_t n = 0;
	int i;

	for (i = 0; i < pr->nparts; i++)
		n += pr->slot[i].bb.buf.cap + pr->slot[i].bb.zbuf.cap;
	return n;
}

int64_t
klog_producer_failed(const struct klog_producer *pr)
{
	return pr->failed;
}

/* a failure of one batch in a cluster that the next batches survive */
static int
batch_failure(const char *code)
{
	return !strcmp(code, "NOT_LEADER") || !strcmp(code, "CONNECTION_LOST") ||
	    !strcmp(code, "NOT_ENOUGH_REPLICAS") || !strcmp(code, "NOT_ENOUGH_REPLICAS_AFTER_APPEND") ||
	    !strcmp(code, "UNKNOWN_TOPIC") || !strcmp(code, "UNKNOWN_PARTITION") ||
	    !strcmp(code, "STALE_EPOCH");
}

/* a refused batch is sent again (to the leader the metadata names now),
 * o.retries times at most; after NOT_ENOUGH_REPLICAS with a backoff
 * doubling from o.retry_backoff_ms (at most 1 s) -- for a new leader the
 * router waits itself */
static int
retry(struct klog_producer *pr, struct flight *f, const char *code, char *err)
{
	struct flight g = *f;
	int ms = pr->o.retry_backoff_ms > 0 ? pr->o.retry_backoff_ms : 100, i;

	for (i = 0; i < g.tries && ms < 1000; i++)
		ms *= 2;
	if (!strcmp(code, "NOT_ENOUGH_REPLICAS"))
		poll(NULL, 0, ms > 1000 ? 1000 : ms);
	memset(f, 0, sizeof *f);        /* the slot is free: its buffer moves with g */
	pr->rhead = (pr->rhead + 1) % INFLIGHT_MAX;
	pr->rlen--;
	if (klog_lpart_send(pr->slot[g.p].part, g.copy.data, g.copy.len, err) < 0) {
		klog_buf_free(&g.copy);
		return part_err(pr, g.p, err);
	}
	g.tries++;
	f = &pr->ring[(pr->rhead + pr->rlen++) % INFLIGHT_MAX];
	klog_buf_free(&f->copy);
	*f = g;
	return 0;
}

/* the oldest batch in flight is acknowledged, or has failed */
static int
collect_one(struct klog_producer *pr, char *err)
{
	struct flight *f = &pr->ring[pr->rhead];
	int64_t first, last;
	const char *code;
	int p = f->p;

	if (klog_log_ack(pr->lg, &first, &last, err) < 0) {
		code = klog_log_ack_code(pr->lg);
		if (!klog_log_cluster(pr->lg) || !batch_failure(code))
			return part_err(pr, p, err);
		if (kproduce_refused(code, err) && f->tries < pr->o.retries && f->copy.len)
			return retry(pr, f, code, err);
		pr->rhead = (pr->rhead + 1) % INFLIGHT_MAX;
		pr->rlen--;
		if (!pr->o.failed)
			return part_err(pr, p, err);
		part_err(pr, p, err);
		pr->failed++;
		pr->o.failed(pr->o.arg, pr->topic, p, f->records, code, err ? err : code);
		return 0;
	}
	pr->rhead = (pr->rhead + 1) % INFLIGHT_MAX;
	pr->rlen--;
	if (pr->o.acked)
		pr->o.acked(pr->o.arg, pr->topic, p, first, last);
	return 0;
}

/* embedded: sync every partition written to, then acknowledge in order */
static int
sync_acks(struct klog_producer *pr, char *err)
{
	size_t i;
	int p;

	for (p = 0; p < pr->nparts; p++)
		if (pr->slot[p].unsynced) {
			if (klog_lpart_sync(pr->slot[p].part, err) < 0)
				return part_err(pr, p, err);
			pr->slot[p].unsynced = 0;
		}
	for (i = 0; i < pr->nwack; i++)
		if (pr->o.acked)
			pr->o.acked(pr->o.arg, pr->topic, pr->wack[i].p, pr->wack[i].first,
			    pr->wack[i].last);
	pr->nwack = pr->wbytes = 0;
	return 0;
}

/* a batch written (remote without pipelining, or embedded) */
static int
wait_sync(struct klog_producer *pr, int p, int64_t first, int64_t last, size_t len, char *err)
{
	if (klog_log_remote(pr->lg)) {
		if (pr->o.acked)
			pr->o.acked(pr->o.arg, pr->topic, p, first, last);
		return 0;
	}
	if (pr->nwack == pr->cwack) {
		size_t nc = pr->cwack ? pr->cwack * 2 : 64;
		struct wack *v = realloc(pr->wack, nc * sizeof *v);
		if (!v)
			return kerr_sys(err, "topic '%s'", pr->topic);
		pr->wack = v;
		pr->cwack = nc;
	}
	if (pr->nwack == 0)
		pr->wsince_ms = klog_now_ms();
	pr->wack[pr->nwack++] = (struct wack){ p, first, last };
	pr->slot[p].unsynced = 1;
	pr->wbytes += len;
	if (pr->wbytes >= SYNC_BYTES || klog_now_ms() - pr->wsince_ms >= SYNC_MS)
		return sync_acks(pr, err);
	return 0;
}

int
klog_group_lag(struct klog_log *lg, const char *group, const char *topic, int64_t *lag,
    char *err)
{
	struct klog_group_info gi;
	struct klog_part_info *pi = NULL;
	int64_t sum = 0, from;
	int n, i, have = 0, rc = -1;
	size_t j;

	if (klog_group_name_check(group, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&gi, 0, sizeof gi);
	if (klog_group_describe(lg, group, &gi, err) == 0)
		have = 1;
	else if (errno != ENOENT)
		return -1;
	if (klog_log_describe(lg, topic, &pi, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		from = pi[i].log_start;
		for (j = 0; have && j < gi.nparts; j++)
			if (gi.parts[j].partition == i && gi.parts[j].committed >= 0 &&
			    !strcmp(gi.parts[j].topic, topic))
				from = gi.parts[j].committed;
		if (pi[i].log_end > from)
			sum += pi[i].log_end - from;
	}
	*lag = sum;
	rc = 0;
out:
	free(pi);
	if (have)
		klog_group_info_free(&gi);
	return rc;
}

static int stopped(struct klog_producer *pr);

/* backpressure: return once the group's lag is at most the limit (or
 * stop says so) */
static int
lag_gate(struct klog_producer *pr, char *err)
{
	int64_t lag = 0;
	int waited = 0;

	/* stopping: what was read is written, whatever the lag */
	if (klog_now_ms() < pr->lag_next || stopped(pr))
		return 0;
	for (;;) {
		while (pr->rlen > 0)
			if (collect_one(pr, err) < 0)
				return -1;
		if (klog_group_lag(pr->lg, pr->o.lag_group, pr->topic, &lag, err) < 0)
			return -1;
		if (lag <= pr->o.max_lag)
			break;
		if (!waited) {
			/* what was written before waits for no one */
			if (pr->nwack && sync_acks(pr, err) < 0)
				return -1;
			if (pr->o.waiting)
				pr->o.waiting(pr->o.arg, pr->o.lag_group, pr->topic, lag, pr->o.max_lag, 0);
			waited = 1;
		}
		if (stopped(pr))
			return 0;
		poll(NULL, 0, LAG_CHECK_MS);    /* a signal ends it early: stop is looked at */
		if (stopped(pr))
			return 0;
	}
	if (waited && pr->o.waiting)
		pr->o.waiting(pr->o.arg, pr->o.lag_group, pr->topic, lag, pr->o.max_lag, 1);
	pr->lag_next = klog_now_ms() + LAG_CHECK_MS;
	return 0;
}

/* write partition p's pending batch */
static int
flush_one(struct klog_producer *pr, int p, char *err)
{
	struct pslot *s = &pr->slot[p];
	unsigned char *out;
	size_t len, size;
	int64_t first, last;

	if (s->bb.count == 0)
		return 0;
	if (pr->o.lag_group && lag_gate(pr, err) < 0)
		return -1;
	if (!s->part && !(s->part = klog_lpart_open(pr->lg, pr->topic, p, KLOG_WRITE, err)))
		return part_err(pr, p, err);
	if (klog_builder_finish(&s->bb, &out, &len, err) < 0)
		return part_err(pr, p, err);
	if (pr->pipelined) {
		struct flight *f;
		while (pr->rlen == INFLIGHT_MAX)        /* a retry stays in flight */
			if (collect_one(pr, err) < 0)
				return -1;
		if (klog_lpart_send(s->part, out, len, err) < 0)
			return part_err(pr, p, err);
		f = &pr->ring[(pr->rhead + pr->rlen++) % INFLIGHT_MAX];
		f->p = p;
		f->records = s->bb.count;
		f->tries = 0;
		f->copy.len = 0;
		if (pr->o.retries > 0 && klog_log_cluster(pr->lg) &&
		    klog_buf_append(&f->copy, out, len) < 0)
			return kerr_sys(err, "topic '%s'", pr->topic);
	} else {
		if (klog_lpart_append(s->part, out, len, &first, &last, err) < 0)
			return part_err(pr, p, err);
		if (wait_sync(pr, p, first, last, len, err) < 0)
			return -1;
	}
	size = klog_builder_size(&s->bb);
	pr->pending = pr->pending > size ? pr->pending - size : 0;
	klog_builder_reset(&s->bb);
	if (pr->nparts > 1 && total_cap(pr) > CAP_MAX)
		klog_builder_free(&s->bb);
	if (p == pr->sticky) {
		pr->sticky = (pr->sticky + 1) % pr->nparts;
		pr->sticky_bytes = 0;
	}
	if (pr->pending == 0)
		pr->oldest_ms = -1;
	return 0;
}

int
klog_producer_flush(struct klog_producer *pr, char *err)
{
	int i;

	for (i = 0; i < pr->nparts; i++)
		if (pr->slot[i].bb.count && flush_one(pr, i, err) < 0)
			return -1;
	while (pr->rlen > 0)
		if (collect_one(pr, err) < 0)
			return -1;
	if (pr->nwack && sync_acks(pr, err) < 0)
		return -1;
	pr->pending = 0;
	pr->oldest_ms = -1;
	return 0;
}

/* the partition of a record; with salting, called once per record (it
 * counts the key's records) */
static int
pick(struct klog_producer *pr, const void *key, int32_t key_len)
{
	uint32_t h, *n;

	if (pr->o.partition >= 0)
		return pr->o.partition;
	if (key_len < 0)
		return pr->sticky;
	if (pr->salt <= 1)
		return klog_partition_for_key(key, (size_t)key_len, pr->nparts);
	h = klog_murmur2(key, (size_t)key_len);
	n = &pr->saltn[(h * 2654435761u) >> 22];        /* the top 10 bits: SALT_SLOTS */
	return (int)(((h & 0x7fffffff) % (uint32_t)pr->nparts + (*n)++ % (uint32_t)pr->salt) %
	    (uint32_t)pr->nparts);
}

/* the size of a batch holding only this record, when it could be over the
 * limit; 0 when it is surely under */
static size_t
alone_size(struct klog_producer *pr, int32_t key_len, int32_t value_len)
{
	size_t rough = REC_OVERHEAD + pr->hdr_bytes + KLOG_BATCH_OVERHEAD +
	    (key_len > 0 ? (size_t)key_len : 0) + (value_len > 0 ? (size_t)value_len : 0);

	if ((int64_t)rough <= pr->cfg.max_message_bytes)
		return 0;
	return KLOG_BATCH_OVERHEAD + klog_record_size(0, 0, key_len, value_len,
	    pr->o.headers, pr->o.nheaders);
}

/* 0 added, 1 too big (*size set), -1 error */
static int
psend(struct klog_producer *pr, int64_t ts, const void *key, int32_t key_len,
    const void *value, int32_t value_len, size_t *size, char *err)
{
	struct pslot *s;
	size_t before, need;
	int p, tries;

	if ((*size = alone_size(pr, key_len, value_len)) &&
	    (int64_t)*size > pr->cfg.max_message_bytes)
		return 1;
	need = REC_OVERHEAD + pr->hdr_bytes + (key_len > 0 ? (size_t)key_len : 0) +
	    (value_len > 0 ? (size_t)value_len : 0);
	p = pick(pr, key, key_len);
	for (tries = 0; tries <= pr->nparts; tries++) {
		s = &pr->slot[p];
		if (s->bb.count == 0 || klog_builder_size(&s->bb) + need <= pr->batch_bytes)
			break;
		if (flush_one(pr, p, err) < 0)
			return -1;
		if (key_len < 0)
			p = pick(pr, key, key_len);     /* sticky moved on */
	}
	s = &pr->slot[p];
	before = klog_builder_size(&s->bb);
	if (s->bb.count == 0)
		before = 0;
	if (klog_builder_add(&s->bb, ts, key, key_len, value, value_len, pr->o.headers,
	    pr->o.nheaders) < 0)
		return kerr_sys(err, "cannot add record to a batch of '%s-%d'", pr->topic, p);
	pr->pending += klog_builder_size(&s->bb) - before;
	pr->sent++;
	if (pr->o.partition < 0 && key_len < 0 && p == pr->sticky &&
	    (pr->sticky_bytes += klog_builder_size(&s->bb) - before) >= STICKY_BYTES) {
		pr->sticky = (pr->sticky + 1) % pr->nparts;
		pr->sticky_bytes = 0;
	}
	if (pr->oldest_ms < 0)
		pr->oldest_ms = ts;
	if (pr->pending > PENDING_MAX && pr->pending > pr->batch_bytes)
		return klog_producer_flush(pr, err);
	return 0;
}

int
klog_producer_send(struct klog_producer *pr, int64_t ts, const void *key, int32_t key_len,
    const void *value, int32_t value_len, char *err)
{
	size_t size;
	int r = psend(pr, ts, key, key_len, value, value_len, &size, err);

	if (r == 1) {
		pr->skipped++;
		errno = EMSGSIZE;
		kerr(err, "record is %zu bytes, over max.message.bytes %" PRId64 " of topic '%s'",
		    size, pr->cfg.max_message_bytes, pr->topic);
	}
	return r;
}

/* this record's headers instead of the producer's: swapped in for the
 * one call (psend and the builder read them from pr->o; the builder copies
 * their bytes) */
int
klog_producer_send_h(struct klog_producer *pr, int64_t ts, const void *key, int32_t key_len,
    const void *value, int32_t value_len, const struct klog_header *h, int nh, char *err)
{
	const struct klog_header *oh = pr->o.headers;
	int onh = pr->o.nheaders, i, r;
	size_t obytes = pr->hdr_bytes;

	if (nh < 0 || (nh > 0 && !h)) {
		errno = EINVAL;
		return kerr(err, "topic '%s': %d headers at %p", pr->topic, nh, (const void *)h);
	}
	for (i = 0; i < nh; i++)
		if (h[i].key_len < 0 || (h[i].key_len > 0 && !h[i].key) || h[i].value_len < -1 ||
		    (h[i].value_len > 0 && !h[i].value)) {
			errno = EINVAL;
			return kerr(err, "topic '%s': header %d is malformed (key length %d, "
			    "value length %d)", pr->topic, i, (int)h[i].key_len, (int)h[i].value_len);
		}
	pr->o.headers = h;
	pr->o.nheaders = nh;
	pr->hdr_bytes = 0;
	for (i = 0; i < nh; i++)
		pr->hdr_bytes += 10 + (size_t)h[i].key_len +
		    (h[i].value_len > 0 ? (size_t)h[i].value_len : 0);
	r = klog_producer_send(pr, ts, key, key_len, value, value_len, err);
	pr->o.headers = oh;
	pr->o.nheaders = onh;
	pr->hdr_bytes = obytes;
	return r;
}

/* input */

struct feed {
	struct klog_producer *pr;
	const struct klog_feed_opts *fo;
	const char *name;
	int64_t recno;
	int64_t ts;
};

static const unsigned char *
find(const unsigned char *p, size_t n, const unsigned char *d, size_t dl)
{
	if (dl == 1)
		return memchr(p, d[0], n);
	return memmem(p, n, d, dl);
}

static void
report_big(struct feed *f, size_t size)
{
	char msg[KLOG_ERRLEN];
	struct klog_producer *pr = f->pr;

	pr->skipped++;
	if (!pr->o.skipped)
		return;
	snprintf(msg, sizeof msg, "record %" PRId64 " in '%s' is %zu bytes, over "
	    "max.message.bytes %" PRId64 " of topic '%s'", f->recno, f->name, size,
	    pr->cfg.max_message_bytes, pr->topic);
	pr->o.skipped(pr->o.arg, msg);
}

/* what a batch of one record of n bytes would take (n may pass INT32_MAX) */
static size_t
skipped_size(struct klog_producer *pr, size_t n)
{
	size_t v = n > INT32_MAX ? INT32_MAX : n;

	return KLOG_BATCH_OVERHEAD + klog_record_size(0, 0, -1, (int32_t)v, pr->o.headers,
	    pr->o.nheaders) + (n - v);
}

static int
record(struct feed *f, const unsigned char *r, size_t n, char *err)
{
	const struct klog_feed_opts *fo = f->fo;
	const unsigned char *key = fo->key, *val = r, *q;
	int32_t klen = fo->key ? fo->key_len : -1, vlen = (int32_t)n;
	size_t size;
	int rc;

	f->recno++;
	if (fo->key_delim_len && (q = find(r, n, fo->key_delim, fo->key_delim_len))) {
		key = r;
		klen = (int32_t)(q - r);
		val = q + fo->key_delim_len;
		vlen = (int32_t)(n - (size_t)klen - fo->key_delim_len);
	} else if (fo->key_delim_len) {
		key = NULL;
		klen = -1;
	}
	if (fo->null_empty && vlen == 0)
		vlen = -1;
	rc = psend(f->pr, f->ts, key, klen, val, vlen, &size, err);
	if (rc == 1) {
		report_big(f, size);
		return 0;
	}
	return rc;
}

static int
stopped(struct klog_producer *pr)
{
	return pr->o.stop && pr->o.stop(pr->o.arg);
}

/*
 * With records pending and input that can block: wait for input no longer
 * than the linger time counted from the oldest pending record; when none
 * comes (or the time is already up and none is ready now), write them.
 */
static int
linger(struct klog_producer *pr, int fd, int ms, char *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t left;
	int r;

	while (pr->pending) {
		left = pr->oldest_ms + ms - klog_now_ms();
		if (left < 0)
			left = 0;
		if (left > ms)
			left = ms;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno == EINTR) {
			if (stopped(pr))
				return 0;
			continue;
		}
		return klog_producer_flush(pr, err);
	}
	return 0;
}

int
klog_producer_feed(struct klog_producer *pr, int fd, const char *name,
    const struct klog_feed_opts *fo, char *err)
{
	struct klog_feed_opts dfo = {0};
	struct feed f = { pr, fo, name, 0, 0 };
	const unsigned char *delim, *q;
	size_t dl, len = 0, start = 0, scan = 0, keep, limit;
	int64_t skipping = -1;          /* bytes of an oversized record so far */
	int ms, can_block;
	struct stat st;

	if (!fo) {
		dfo.key_len = -1;
		dfo.linger_ms = -1;
		f.fo = fo = &dfo;
	}
	delim = fo->delim_len ? fo->delim : (const unsigned char *)"\n";
	dl = fo->delim_len ? fo->delim_len : 1;
	keep = dl - 1;
	ms = fo->linger_ms < 0 ? 5 : fo->linger_ms;
	can_block = fstat(fd, &st) < 0 || !S_ISREG(st.st_mode);
	/* a record may be up to max.message.bytes long, plus its delimiter */
	limit = (size_t)(pr->cfg.max_message_bytes > 0 ? pr->cfg.max_message_bytes : 1 << 20) + dl;
	if (!pr->in) {
		pr->incap = 2 * CHUNK;
		if (!(pr->in = malloc(pr->incap)))
			return kerr_sys(err, "cannot read '%s'", name);
	}
	for (;;) {
		ssize_t n;

		if (start > 0) {
			memmove(pr->in, pr->in + start, len - start);
			len -= start;
			scan -= start;
			start = 0;
		}
		if (pr->incap - len < CHUNK) {
			size_t cap = pr->incap * 2;
			unsigned char *p;
			if (cap > limit + CHUNK)
				cap = limit + CHUNK;
			if (cap < len + CHUNK)
				cap = len + CHUNK;
			if (!(p = realloc(pr->in, cap)))
				return kerr_sys(err, "cannot read '%s'", name);
			pr->in = p;
			pr->incap = cap;
		}
		if (stopped(pr))
			return 1;
		if (can_block && pr->pending && ms >= 0 && linger(pr, fd, ms, err) < 0)
			return -1;
		if (stopped(pr))
			return 1;
		n = read(fd, pr->in + len, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kerr_sys(err, "cannot read '%s'", name);
		}
		if (n == 0)
			break;
		f.ts = klog_now_ms();
		len += (size_t)n;
		pr->fed += n;
		while ((q = find(pr->in + scan, len - scan, delim, dl))) {
			size_t end = (size_t)(q - pr->in);
			if (skipping >= 0) {
				f.recno++;
				report_big(&f, skipped_size(pr, (size_t)skipping + end - start));
				skipping = -1;
			} else if (record(&f, pr->in + start, end - start, err) < 0)
				return -1;
			start = scan = end + dl;
		}
		scan = len - start > keep ? len - keep : start;
		if (skipping >= 0 || len - start > limit) {
			/* too long to be sent: count it, drop it, keep a delimiter's tail */
			if (skipping < 0)
				skipping = 0;
			skipping += (int64_t)(len - keep - start);
			start = scan = len - keep;
		}
	}
	if (skipping >= 0) {
		f.recno++;
		report_big(&f, skipped_size(pr, (size_t)skipping + len - start));
	} else if (len > start && record(&f, pr->in + start, len - start, err) < 0)
		return -1;
	return 0;
}
