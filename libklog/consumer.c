/* klog - consuming: records from one or more partitions, in offset order. MIT licence. */
/*
 * Each partition keeps the next offset it owes the caller.  A read
 * (klog_part_read: whole, CRC-checked batches from the one holding that
 * offset) fills one reused buffer of about CHUNK bytes; its batches are
 * walked record by record, records below the wanted offset (the start of
 * the first batch) and control batches (transaction markers, KRaft
 * records) skipped.  When the buffer is used up the next partition gets a
 * read: partitions take turns a chunk at a time, so a busy one does not
 * starve the others.  A round in which every partition read nothing means
 * "at the end for now": the caller exits (-e) or waits on the partitions'
 * inotify descriptors.  With a stop time (klog_consumer_stop_at) a
 * partition whose next record has a timestamp at or past it is done: its
 * chunk is dropped and it is read no more.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define CHUNK ((size_t)1 << 20)

struct cpart {
	char *topic;
	int partition;
	struct klog_lpart *p;
	int64_t next;
	int done;                       /* reached the stop time */
};

struct klog_consumer {
	struct klog_log *lg;
	struct cpart *parts;
	int n, cap;
	int cur;                        /* partition of the buffered chunk */
	int have;                       /* buf holds a chunk of parts[cur] */
	int idle;                       /* reads in a row that found nothing */
	struct klog_buf buf;
	size_t pos;                     /* next batch in buf */
	int in_batch;
	int64_t batch_last;
	struct klog_rec_iter it;
	struct pollfd *pfd;
	int64_t stop_ts;                /* -1: none */
	int ndone;
};

int
klog_start_parse(const char *s, struct klog_start *st, char *err)
{
	int64_t v;

	if (!strcmp(s, "beginning")) {
		st->from = KLOG_FROM_BEGINNING;
		st->value = 0;
		return 0;
	}
	if (!strcmp(s, "end")) {
		st->from = KLOG_FROM_END;
		st->value = 0;
		return 0;
	}
	if (!strncmp(s, "s@", 2)) {
		if (klog_parse_i64(s + 2, &v) < 0 || v < 0)
			goto bad;
		st->from = KLOG_FROM_TIME;
		st->value = v;
		return 0;
	}
	if (klog_parse_i64(s, &v) < 0 || (s[0] == '-' && v == 0) || s[0] == '+')
		goto bad;
	if (v < 0) {
		if (v == INT64_MIN)
			goto bad;
		st->from = KLOG_FROM_TAIL;
		st->value = -v;
	} else {
		st->from = KLOG_FROM_OFFSET;
		st->value = v;
	}
	return 0;
bad:
	errno = EINVAL;
	return kerr(err, "bad offset '%s': expected beginning, end, N, -N or s@TIMESTAMP", s);
}

struct klog_consumer *
klog_consumer_new(struct klog_log *lg, char *err)
{
	struct klog_consumer *c = calloc(1, sizeof *c);

	if (!c) {
		kerr_sys(err, "consumer");
		return NULL;
	}
	c->lg = lg;
	c->stop_ts = -1;
	klog_rec_iter_init0(&c->it);
	return c;
}

void
klog_consumer_free(struct klog_consumer *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		klog_lpart_close(c->parts[i].p);
		free(c->parts[i].topic);
	}
	free(c->parts);
	free(c->pfd);
	klog_buf_free(&c->buf);
	klog_rec_iter_free(&c->it);
	free(c);
}

void
klog_consumer_stop_at(struct klog_consumer *c, int64_t ts)
{
	c->stop_ts = ts;
}

int
klog_consumer_done(const struct klog_consumer *c)
{
	return c->n > 0 && c->ndone == c->n;
}

int
klog_consumer_count(const struct klog_consumer *c)
{
	return c->n;
}

void
klog_consumer_position(const struct klog_consumer *c, int i, const char **topic,
    int *partition, int64_t *next)
{
	*topic = c->parts[i].topic;
	*partition = c->parts[i].partition;
	*next = c->parts[i].next;
}

/* index of (topic, partition), -1 if not read */
static int
find(const struct klog_consumer *c, const char *topic, int partition)
{
	for (int i = 0; i < c->n; i++)
		if (c->parts[i].partition == partition && !strcmp(c->parts[i].topic, topic))
			return i;
	return -1;
}

/* where a partition starts */
static int
start_at(struct klog_lpart *p, const struct klog_start *st, int64_t *next, char *err)
{
	struct klog_part_info info;

	if (klog_lpart_info(p, &info, err) < 0)
		return -1;
	switch (st ? st->from : KLOG_FROM_BEGINNING) {
	case KLOG_FROM_BEGINNING:
		*next = info.log_start;
		break;
	case KLOG_FROM_END:
		*next = info.log_end;
		break;
	case KLOG_FROM_OFFSET:
		*next = st->value;
		if (*next < info.log_start) {
			kwarn("offset %" PRId64 " is below the log start of '%s': starting at %" PRId64,
			    st->value, klog_lpart_name(p), info.log_start);
			*next = info.log_start;
		} else if (*next > info.log_end)
			kwarn("offset %" PRId64 " is past the end of '%s' (%" PRId64 ")",
			    st->value, klog_lpart_name(p), info.log_end);
		break;
	case KLOG_FROM_TAIL:
		*next = info.log_end - st->value < info.log_start ? info.log_start :
		    info.log_end - st->value;
		break;
	case KLOG_FROM_TIME:
		if (klog_lpart_offset_for_time(p, st->value, next, err) < 0)
			return -1;
		if (*next < info.log_start)
			*next = info.log_start;
		break;
	default:
		errno = EINVAL;
		return kerr(err, "bad start position");
	}
	return 0;
}

static int
add_one(struct klog_consumer *c, const char *topic, int partition, const struct klog_start *st,
    char *err)
{
	struct cpart *cp;
	struct klog_lpart *p;
	int64_t next;

	if (!(p = klog_lpart_open(c->lg, topic, partition, KLOG_RDONLY, err)))
		return -1;
	if (start_at(p, st, &next, err) < 0) {
		klog_lpart_close(p);
		return -1;
	}
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 8;
		struct cpart *np = realloc(c->parts, (size_t)cap * sizeof *np);
		if (!np) {
			klog_lpart_close(p);
			return kerr_sys(err, "consumer");
		}
		c->parts = np;
		c->cap = cap;
	}
	cp = &c->parts[c->n];
	if (!(cp->topic = strdup(topic))) {
		klog_lpart_close(p);
		return kerr_sys(err, "consumer");
	}
	cp->partition = partition;
	cp->p = p;
	cp->next = next;
	cp->done = 0;
	c->n++;
	/* the wait array is sized for the partitions: size it again */
	free(c->pfd);
	c->pfd = NULL;
	return 0;
}

int
klog_consumer_add(struct klog_consumer *c, const char *spec, const struct klog_start *st,
    char *err)
{
	char topic[KLOG_TOPIC_MAX + 2];
	const char *colon = strrchr(spec, ':');
	struct klog_config cfg;
	int64_t part = -1;
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	int i;

	if (len > KLOG_TOPIC_MAX)
		len = KLOG_TOPIC_MAX + 1;      /* let the name check say it */
	memcpy(topic, spec, len);
	topic[len] = 0;
	if (klog_topic_name_check(topic, err) < 0)
		return -1;
	if (colon && (klog_parse_i64(colon + 1, &part) < 0 || part < 0 || part > INT32_MAX)) {
		errno = EINVAL;
		return kerr(err, "bad partition '%s' in '%s'", colon + 1, spec);
	}
	if (!klog_log_exists(c->lg, topic)) {
		errno = ENOENT;
		return kerr(err, "no such topic '%s'", topic);
	}
	if (part >= 0)
		return add_one(c, topic, (int)part, st, err);
	if (klog_log_config(c->lg, topic, &cfg, err) < 0)
		return -1;
	for (i = 0; i < cfg.partitions; i++)
		if (add_one(c, topic, i, st, err) < 0)
			return -1;
	return 0;
}

int
klog_consumer_add_part(struct klog_consumer *c, const char *topic, int partition,
    const struct klog_start *st, char *err)
{
	if (klog_topic_name_check(topic, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (partition < 0) {
		errno = EINVAL;
		return kerr(err, "bad partition %d of '%s'", partition, topic);
	}
	if (find(c, topic, partition) >= 0) {
		errno = EEXIST;
		return kerr(err, "partition '%s-%d' is read already", topic, partition);
	}
	return add_one(c, topic, partition, st, err);
}

int
klog_consumer_remove(struct klog_consumer *c, const char *topic, int partition)
{
	int i = find(c, topic, partition);

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	if (i == c->cur) {
		/* drop its buffered chunk and the batch being walked */
		c->have = 0;
		c->in_batch = 0;
		c->pos = 0;
		c->buf.len = 0;
	}
	if (c->parts[i].done)
		c->ndone--;
	klog_lpart_close(c->parts[i].p);
	free(c->parts[i].topic);
	memmove(&c->parts[i], &c->parts[i + 1], (size_t)(c->n - i - 1) * sizeof *c->parts);
	c->n--;
	if (i < c->cur)
		c->cur--;
	if (c->cur >= c->n)
		c->cur = 0;
	c->idle = 0;
	free(c->pfd);
	c->pfd = NULL;
	return 0;
}

int
klog_consumer_next_offset(const struct klog_consumer *c, const char *topic, int partition,
    int64_t *next)
{
	int i = find(c, topic, partition);

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	*next = c->parts[i].next;
	return 0;
}

/* name the partition in a record-level error */
static int
rec_err(struct cpart *cp, char *err)
{
	char tmp[KLOG_ERRLEN];

	if (err) {
		snprintf(tmp, sizeof tmp, "%s", err);
		kerr(err, "partition '%s': %s", klog_lpart_name(cp->p), tmp);
	}
	errno = EILSEQ;
	return -1;
}

int
klog_consumer_next(struct klog_consumer *c, struct klog_record *r, const char **topic,
    int *partition, char *err)
{
	struct cpart *cp;
	struct klog_batch b;
	ssize_t got;
	int rc;

	if (!c->n)
		return 0;
	for (;;) {
		cp = &c->parts[c->cur];
		if (c->in_batch) {
			while ((rc = klog_rec_iter_next(&c->it, r, err)) == 1) {
				if (r->offset < cp->next)
					continue;
				if (c->stop_ts >= 0 && r->timestamp >= c->stop_ts) {
					cp->done = 1;
					c->ndone++;
					break;
				}
				cp->next = r->offset + 1;
				*topic = cp->topic;
				*partition = cp->partition;
				return 1;
			}
			c->in_batch = 0;
			if (rc < 0)
				return rec_err(cp, err);
			if (cp->done) {
				/* the rest of the chunk is past the stop */
				c->have = 0;
				c->cur = (c->cur + 1) % c->n;
				continue;
			}
			if (c->batch_last >= cp->next)
				cp->next = c->batch_last + 1;
		}
		if (c->have && c->pos < c->buf.len) {
			if (klog_batch_parse(c->buf.data + c->pos, c->buf.len - c->pos, &b, err) != 1)
				return rec_err(cp, err);
			c->pos += klog_batch_size(&b);
			if (klog_batch_last(&b) < cp->next)
				continue;
			if (b.attributes & KLOG_ATTR_CONTROL) {
				cp->next = klog_batch_last(&b) + 1;
				continue;
			}
			if (klog_rec_iter_start(&c->it, c->buf.data + c->pos - klog_batch_size(&b),
			    &b, err) < 0)
				return rec_err(cp, err);
			c->batch_last = klog_batch_last(&b);
			c->in_batch = 1;
			continue;
		}
		if (c->have) {
			c->have = 0;
			c->cur = (c->cur + 1) % c->n;
			continue;
		}
		if (c->idle >= c->n || c->ndone == c->n) {
			c->idle = 0;
			return 0;
		}
		if (cp->done) {
			c->idle++;
			c->cur = (c->cur + 1) % c->n;
			continue;
		}
		c->buf.len = 0;
		c->pos = 0;
		got = klog_lpart_read(cp->p, cp->next, CHUNK, &c->buf, err);
		if (got < 0 && errno == ERANGE) {
			/* retention deleted what we were about to read, or (a
			 * broker) we start past the end: nothing yet, as here */
			struct klog_part_info info;
			if (klog_lpart_info(cp->p, &info, err) < 0)
				return -1;
			if (cp->next > info.log_end) {
				c->idle++;
				c->cur = (c->cur + 1) % c->n;
				continue;
			}
			if (info.log_start <= cp->next)
				return -1;
			kwarn("'%s': offsets %" PRId64 " to %" PRId64 " were deleted by retention; "
			    "going on from %" PRId64, klog_lpart_name(cp->p), cp->next,
			    info.log_start - 1, info.log_start);
			cp->next = info.log_start;
			continue;
		}
		if (got < 0)
			return -1;
		if (got == 0) {
			c->idle++;
			c->cur = (c->cur + 1) % c->n;
			continue;
		}
		c->idle = 0;
		c->have = 1;
	}
}

int
klog_consumer_wait(struct klog_consumer *c, int timeout_ms)
{
	char buf[4096];
	int i, r, fallback = 0;

	if (c->n && klog_log_remote(c->lg)) {
		/* remote: long polls, partitions taking turns; what a poll brings
		 * is kept for the next read.  A signal ends a poll early (EINTR) */
		int slice = timeout_ms < 0 ? 500 : timeout_ms;
		char err[KLOG_ERRLEN];
		slice = c->n > 1 ? (slice / c->n > 20 ? slice / c->n : 20) : slice;
		for (i = 0; i < c->n; i++) {
			struct cpart *cp = &c->parts[(c->cur + i) % c->n];
			if (cp->done)
				continue;
			r = klog_lpart_wait_remote(cp->p, cp->next, slice, err);
			if (r < 0 && errno == ERANGE) {
				/* past the end: the broker will not wait for it */
				if (poll(NULL, 0, slice) < 0)
					return -1;
				continue;
			}
			if (r < 0)
				return errno == EINTR ? -1 : 1;
			if (r > 0) {
				c->cur = (c->cur + i) % c->n;
				return 1;
			}
		}
		return 0;
	}
	if (!c->pfd && !(c->pfd = calloc((size_t)c->n + 1, sizeof *c->pfd)))
		return poll(NULL, 0, timeout_ms < 0 || timeout_ms > 100 ? 100 : timeout_ms) < 0 ? -1 : 1;
	for (i = 0; i < c->n; i++) {
		c->pfd[i].fd = klog_lpart_wait_fd(c->parts[i].p);
		c->pfd[i].events = POLLIN;
		c->pfd[i].revents = 0;
		if (c->pfd[i].fd < 0)
			fallback = 1;
	}
	if (fallback && (timeout_ms < 0 || timeout_ms > 100))
		timeout_ms = 100;       /* no inotify: look again soon */
	r = poll(c->pfd, (nfds_t)c->n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? -1 : 1;
	for (i = 0; i < c->n; i++)
		if (c->pfd[i].revents & POLLIN)
			while (read(c->pfd[i].fd, buf, sizeof buf) > 0)
				;
	return r > 0 || fallback;
}
