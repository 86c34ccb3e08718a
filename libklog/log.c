/* klog - one interface over a log directory (embedded) or a broker (remote). MIT licence. */
/*
 * The tools say "-d DIR" or "-b HOST:PORT" and otherwise do the same
 * thing: this file is where the two meet.  Embedded, a klog_log is an open
 * log directory and a klog_lpart an open partition (partition.c).  Remote,
 * both share one blocking client connection (client.c): appends are
 * PRODUCE requests with the log's acks setting, reads are FETCH requests,
 * and waiting for new records is a long-poll FETCH whose answer is kept
 * for the next read.  Batches fetched from a broker are CRC-checked here,
 * as partition.c checks what it reads from disk, so a consumer sees the
 * same errors either way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct klog_log {
	struct klog_dir *d;
	struct klog_client *c;
	int acks;
	char name[256];
};

struct klog_lpart {
	struct klog_log *lg;
	struct klog_part *p;            /* embedded */
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
	char name[KLOG_TOPIC_MAX + 16];
	struct klog_buf pending;        /* remote: a long poll's answer */
	int64_t pending_off;
};

struct klog_log *
klog_log_open(const char *dir, const char *brokers, int flags, char *err)
{
	struct klog_log *lg = calloc(1, sizeof *lg);

	if (!lg) {
		kerr_sys(err, "log");
		return NULL;
	}
	lg->acks = -1;
	if (brokers && *brokers) {
		if (!(lg->c = klog_client_open(brokers, NULL, err)))
			goto fail;
		snprintf(lg->name, sizeof lg->name, "%s", klog_client_addr(lg->c));
	} else {
		if (!(lg->d = klog_dir_open(dir, flags, err)))
			goto fail;
		snprintf(lg->name, sizeof lg->name, "%s", dir);
	}
	return lg;
fail:
	free(lg);
	return NULL;
}

void
klog_log_close(struct klog_log *lg)
{
	if (!lg)
		return;
	if (lg->c)
		klog_client_close(lg->c);
	if (lg->d)
		klog_dir_close(lg->d);
	free(lg);
}

int
klog_log_remote(const struct klog_log *lg)
{
	return lg->c != NULL;
}

struct klog_dir *
klog_log_dir(struct klog_log *lg)
{
	return lg->d;
}

struct klog_client *
klog_log_client(struct klog_log *lg)
{
	return lg->c;
}

void
klog_log_set_acks(struct klog_log *lg, int acks)
{
	lg->acks = acks;
}

/* embedded changes to a directory a kbrokerd serves go through it, or not at all */
static int
served(struct klog_log *lg, char *err)
{
	char who[256];

	if (!klog_dir_broker(lg->d, who, sizeof who))
		return 0;
	errno = EBUSY;
	return kerr(err, "log directory '%s' is served by kbrokerd (%s): change it with -b, "
	    "or stop it", lg->name, who);
}

int
klog_log_topics(struct klog_log *lg, char ***names, size_t *n, char *err)
{
	if (lg->c)
		return klog_client_topics(lg->c, names, n, err);
	return klog_topic_list(lg->d, names, n, err);
}

int
klog_log_create(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err)
{
	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (lg->c)
		return klog_client_create(lg->c, topic, partitions, kv, nkv, err);
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_create(lg->d, topic, partitions, kv, nkv, err);
}

int
klog_log_alter(struct klog_log *lg, const char *topic, int partitions, char **kv, int nkv,
    char *err)
{
	if (lg->c)
		return klog_client_alter(lg->c, topic, partitions, kv, nkv, err);
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_alter(lg->d, topic, partitions, kv, nkv, err);
}

int
klog_log_delete(struct klog_log *lg, const char *topic, char *err)
{
	if (lg->c)
		return klog_client_delete(lg->c, topic, err);
	if (served(lg, err) < 0)
		return -1;
	return klog_topic_delete(lg->d, topic, err);
}

int
klog_log_exists(struct klog_log *lg, const char *topic)
{
	struct klog_config cfg;

	if (lg->d)
		return klog_topic_exists(lg->d, topic);
	return klog_log_config(lg, topic, &cfg, NULL) == 0;
}

int
klog_log_config(struct klog_log *lg, const char *topic, struct klog_config *cfg, char *err)
{
	struct klog_buf b = {0};
	char *line, *save = NULL;
	int rc = -1;

	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (lg->d)
		return klog_topic_load(lg->d, topic, cfg, err);
	klog_config_defaults(cfg);
	if (klog_client_config(lg->c, topic, &b, err) < 0 || klog_buf_append(&b, "", 1) < 0)
		goto out;
	for (line = strtok_r((char *)b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq || *line == '#')
			continue;
		*eq = 0;
		/* a key this build does not know is the broker's business */
		klog_config_set(cfg, line, eq + 1, NULL);
	}
	rc = 0;
out:
	klog_buf_free(&b);
	return rc;
}

/* one klog_part_info per partition; caller frees */
int
klog_log_describe(struct klog_log *lg, const char *topic, struct klog_part_info **parts, int *n,
    char *err)
{
	struct klog_config cfg;
	int i;

	if (lg->c)
		return klog_client_describe(lg->c, topic, parts, n, err);
	if (klog_topic_load(lg->d, topic, &cfg, err) < 0)
		return -1;
	if (!(*parts = calloc((size_t)cfg.partitions, sizeof **parts)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < cfg.partitions; i++) {
		struct klog_part *p = klog_part_open(lg->d, topic, i, KLOG_RDONLY, err);
		if (!p || klog_part_info(p, &(*parts)[i], err) < 0) {
			klog_part_close(p);
			free(*parts);
			return -1;
		}
		klog_part_close(p);
	}
	*n = cfg.partitions;
	return 0;
}

int
klog_log_rates(struct klog_log *lg, const char *topic, struct klog_part_rate **rates, int *n,
    char *err)
{
	if (lg->c)
		return klog_client_rates(lg->c, topic, rates, n, err);
	return krate_local(lg->d, topic, rates, n, err);
}

struct klog_lpart *
klog_lpart_open(struct klog_log *lg, const char *topic, int partition, int flags, char *err)
{
	struct klog_lpart *lp = calloc(1, sizeof *lp);
	struct klog_config cfg;

	if (!lp) {
		kerr_sys(err, "partition");
		return NULL;
	}
	lp->lg = lg;
	snprintf(lp->topic, sizeof lp->topic, "%s", topic);
	lp->partition = partition;
	lp->pending_off = -1;
	snprintf(lp->name, sizeof lp->name, "%s-%d", topic, partition);
	if (lg->d) {
		if (!(lp->p = klog_part_open(lg->d, topic, partition, flags, err)))
			goto fail;
	} else {
		if (klog_log_config(lg, topic, &cfg, err) < 0)
			goto fail;
		if (partition < 0 || partition >= cfg.partitions) {
			errno = ENOENT;
			kerr(err, "no such partition '%s' (topic '%s' has %d)", lp->name, topic,
			    cfg.partitions);
			goto fail;
		}
	}
	return lp;
fail:
	free(lp);
	return NULL;
}

void
klog_lpart_close(struct klog_lpart *lp)
{
	if (!lp)
		return;
	klog_part_close(lp->p);
	klog_buf_free(&lp->pending);
	free(lp);
}

int
klog_lpart_sync(struct klog_lpart *lp, char *err)
{
	return lp->p ? klog_part_sync(lp->p, err) : 0;
}

const char *
klog_lpart_name(const struct klog_lpart *lp)
{
	return lp->name;
}

int
klog_lpart_append(struct klog_lpart *lp, unsigned char *batches, size_t len, int64_t *first,
    int64_t *last, char *err)
{
	if (lp->p)
		return klog_part_append(lp->p, batches, len, first, last, err);
	if (klog_client_produce(lp->lg->c, lp->topic, lp->partition, lp->lg->acks, batches, len,
	    first, last, err) < 0)
		return -1;
	if (lp->lg->acks == 0)
		*first = *last = -1;    /* not acknowledged: no offsets known */
	return 0;
}

/* remote: send without waiting; klog_log_ack collects the answers in order */
int
klog_lpart_send(struct klog_lpart *lp, const unsigned char *batches, size_t len, char *err)
{
	if (!lp->lg->c) {
		errno = EINVAL;
		return kerr(err, "partition '%s' is not remote", lp->name);
	}
	return klog_client_produce_send(lp->lg->c, lp->topic, lp->partition, lp->lg->acks,
	    batches, len, err);
}

int
klog_log_ack(struct klog_log *lg, int64_t *first, int64_t *last, char *err)
{
	return klog_client_produce_ack(lg->c, first, last, err);
}

int
klog_log_acks(const struct klog_log *lg)
{
	return lg->acks;
}

int
klog_lpart_info(struct klog_lpart *lp, struct klog_part_info *info, char *err)
{
	if (lp->p)
		return klog_part_info(lp->p, info, err);
	memset(info, 0, sizeof *info);
	return klog_client_offsets(lp->lg->c, lp->topic, lp->partition, &info->log_start,
	    &info->log_end, err);
}

int
klog_lpart_offset_for_time(struct klog_lpart *lp, int64_t ts, int64_t *offset, char *err)
{
	if (lp->p)
		return klog_part_offset_for_time(lp->p, ts, offset, err);
	return klog_client_offset_for_time(lp->lg->c, lp->topic, lp->partition, ts, offset, err);
}

/* CRC-check fetched batches, as partition.c does for what it reads */
static int
check_batches(struct klog_lpart *lp, const unsigned char *p, size_t n, char *err)
{
	struct klog_batch b;
	char e[KLOG_ERRLEN];
	size_t off;

	for (off = 0; off < n; off += klog_batch_size(&b))
		if (klog_batch_parse(p + off, n - off, &b, e) != 1 || klog_batch_verify(p + off, &b, e) < 0) {
			errno = EILSEQ;
			return kerr(err, "partition '%s' from broker '%s': %s", lp->name, lp->lg->name, e);
		}
	return 0;
}

static ssize_t
fetch(struct klog_lpart *lp, int64_t offset, size_t max, int wait_ms, struct klog_buf *out,
    char *err)
{
	size_t at = out->len;
	ssize_t n = klog_client_fetch(lp->lg->c, lp->topic, lp->partition, offset, max, wait_ms, 1,
	    out, NULL, NULL, err);

	if (n > 0 && check_batches(lp, out->data + at, (size_t)n, err) < 0)
		return -1;
	return n;
}

ssize_t
klog_lpart_read(struct klog_lpart *lp, int64_t offset, size_t max, struct klog_buf *out,
    char *err)
{
	if (lp->p)
		return klog_part_read(lp->p, offset, max, out, err);
	if (lp->pending.len && lp->pending_off == offset) {
		size_t n = lp->pending.len;
		if (klog_buf_append(out, lp->pending.data, n) < 0)
			return kerr_sys(err, "read '%s'", lp->name);
		lp->pending.len = 0;
		lp->pending_off = -1;
		return (ssize_t)n;
	}
	lp->pending.len = 0;
	return fetch(lp, offset, max, 0, out, err);
}

int
klog_lpart_wait_fd(struct klog_lpart *lp)
{
	return lp->p ? klog_part_wait_fd(lp->p) : -1;
}

/*
 * Remote: a long poll from `offset` (the next offset the caller wants);
 * what arrives is kept for the next klog_lpart_read.  1 data waiting,
 * 0 timeout, -1 error.
 */
int
klog_lpart_wait_remote(struct klog_lpart *lp, int64_t offset, int timeout_ms, char *err)
{
	ssize_t n;

	if (lp->p)
		return klog_part_wait(lp->p, timeout_ms);
	if (lp->pending.len && lp->pending_off == offset)
		return 1;
	lp->pending.len = 0;
	n = fetch(lp, offset, (size_t)1 << 20, timeout_ms, &lp->pending, err);
	if (n < 0)
		return -1;
	lp->pending_off = n > 0 ? offset : -1;
	return n > 0;
}
