/* klog - kbrokerd: command handlers. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

/* --- commands --------------------------------------------------------- */

int
kb_parse_num(const char *s, int64_t min, int64_t max, int64_t *v)
{
	return klog_parse_i64(s, v) < 0 || *v < min || *v > max ? -1 : 0;
}

static const char *
code_for_errno(int e)
{
	switch (e) {
	case ENOENT: return "UNKNOWN_TOPIC";
	case EEXIST: return "TOPIC_EXISTS";
	case EINVAL: case ERANGE: case ENAMETOOLONG: return "INVALID";
	case EMSGSIZE: return "TOO_LARGE";
	case EILSEQ: return "CORRUPT_BATCH";
	case EBADMSG: case ENOTSUP: return "INVALID_RECORD";
	case EIO: case ENOSPC: case EDQUOT: case EROFS: case EFBIG: return "STORAGE_ERROR";
	default: return "INTERNAL";
	}
}

static void
cmd_produce(struct conn *c, struct klog_req *r, unsigned char *data, int64_t t0)
{
	struct klog_broker *b = c->b;
	const char *code = NULL;
	char err[KLOG_ERRLEN];
	struct bpart *bp;
	size_t len = (size_t)r->payload;
	int64_t acks, first, last;

	if (!strcmp(r->argv[3], "all"))
		acks = -1;
	else if (kb_parse_num(r->argv[3], -1, 1, &acks) < 0) {
		code = "BAD_REQUEST";
		kerr(err, "bad acks '%s' (0, 1 or all)", r->argv[3]);
		acks = 1;
		goto fail;
	}
	if (!(bp = kb_part_get(b, r->argv[1], r->argv[2], &code, err)) ||
	    kb_repl_leader_check(b, bp, &code, err) < 0 ||
	    kb_part_online(bp, &code, err) < 0)
		goto fail;
	if (acks == -1 && bp->r && bp->r->nisr < bp->r->min_isr) {
		code = "NOT_ENOUGH_REPLICAS";
		kerr(err, "partition '%s-%d': %d in-sync replica%s, min.insync.replicas is %d; "
		    "nothing written", bp->t->name, bp->id, bp->r->nisr, bp->r->nisr == 1 ? "" : "s",
		    bp->r->min_isr);
		goto fail;
	}
	if (len == 0) {
		code = "CORRUPT_BATCH";
		kerr(err, "no batches in the payload");
		goto fail;
	}
	/* klog_part_append validates every batch whole before writing any */
	if (klog_part_append(bp->p, data, len, &first, &last, err) < 0) {
		int e = errno;
		code = code_for_errno(e);
		if (!strcmp(code, "INTERNAL") || !strcmp(code, "UNKNOWN_TOPIC")) {
			code = "INTERNAL";
			kb_log(b, LOG_ERR, "produce: %s", err);
		} else if (!strcmp(code, "STORAGE_ERROR"))
			kb_log(b, e == EIO ? LOG_CRIT : LOG_ERR, "produce: %s", err);
		/* a roll that failed may still have sealed files to sync */
		kb_written(b, bp);
		goto fail;
	}
	bp->log_end = last + 1;
	b->records_in += (uint64_t)(last - first + 1);
	b->batches_in++;
	kb_rate_add(bp, last - first + 1, len);
	kb_written(b, bp);
	kb_observe(b, KLOG_V_PRODUCE, t0, 0);
	if (acks != 0)
		kb_reply_ack(c, bp, first, last, acks == -1);
	return;
fail:
	b->produce_errors++;
	kb_observe(b, KLOG_V_PRODUCE, t0, 1);
	if (acks == 0) {
		kb_log(b, LOG_WARNING, "connection %s: produce (acks 0) failed, closing: %s %s",
		    c->peer, code, err);
		c->closing = 1;
		return;
	}
	kb_reply_err(c, code, err);
}

static void
reply_lines(struct conn *c, char **v, size_t n)
{
	struct klog_buf out = { 0 };
	size_t i;

	klog_buf_printf(&out, "OK %zu\n", n);
	for (i = 0; i < n; i++)
		klog_buf_printf(&out, "%s\n", v[i]);
	kb_reply_take(c, &out);
}

static int
cmd_topics(struct conn *c, char *err, const char **code)
{
	char **names = NULL;
	size_t n = 0;

	if (klog_topic_list(c->b->d, &names, &n, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	reply_lines(c, names, n);
	klog_strv_free(names, n);
	return 0;
}

static int
cmd_describe(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct btopic *t;
	struct klog_buf out = { 0 }, body = { 0 };
	int i;

	if (r->argc > 2 && strcasecmp(r->argv[2], "RATES")) {
		*code = "BAD_REQUEST";
		return kerr(err, "DESCRIBE: '%s' is not RATES", r->argv[2]);
	}
	if (!(t = kb_topic_get(c->b, r->argv[1], code, err)))
		return -1;
	for (i = 0; i < t->np && r->argc > 2; i++) {
		struct klog_part_rate pr;
		kb_rate_get(t->parts[i], &pr);
		klog_buf_printf(&body, "%s\t%d\t%.1f\t%.1f\n", t->name, i, pr.records, pr.bytes);
	}
	for (i = 0; i < t->np && r->argc <= 2; i++) {
		struct klog_part_info pi;
		if (kb_part_info(c->b, t->parts[i], &pi, err) < 0) {
			*code = "INTERNAL";
			klog_buf_free(&body);
			return -1;
		}
		klog_buf_printf(&body, "%s\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%" PRId64 "\t%s\n",
		    t->name, i, pi.log_start, pi.log_end, pi.segments, pi.bytes, pi.state);
	}
	klog_buf_printf(&out, "OK %d\n", t->np);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	kb_reply_take(c, &out);
	return 0;
}

static int
cmd_config(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_config cfg;
	struct klog_buf body = { 0 }, out = { 0 };
	size_t i, n = 0;

	if (!kb_topic_get(c->b, r->argv[1], code, err))
		return -1;
	if (klog_topic_load(c->b->d, r->argv[1], &cfg, err) < 0 ||
	    klog_config_format(&cfg, &body) < 0) {
		*code = "INTERNAL";
		klog_buf_free(&body);
		return -1;
	}
	for (i = 0; i < body.len; i++)
		n += body.data[i] == '\n';
	if (body.len && body.data[body.len - 1] != '\n') {
		klog_buf_append(&body, "\n", 1);
		n++;
	}
	klog_buf_printf(&out, "OK %zu\n", n);
	klog_buf_append(&out, body.data, body.len);
	klog_buf_free(&body);
	kb_reply_take(c, &out);
	return 0;
}

/*
 * The partition limits: np in one topic (one that had old before), checked
 * before anything is made.  The descriptors are not the bound (partitions
 * open at use, at most max_open at once); memory and start-up are.
 */
static int
parts_check(struct klog_broker *b, const char *name, int64_t np, int old, char *err)
{
	if (np > b->o.max_topic_partitions) {
		errno = EINVAL;
		return kerr(err, "topic '%s': %" PRId64 " partitions is more than this broker allows "
		    "in a topic (--max-topic-partitions %d)", name, np, b->o.max_topic_partitions);
	}
	if (b->nparts - old + np > b->o.max_partitions) {
		errno = EINVAL;
		return kerr(err, "topic '%s': %" PRId64 " partitions would make %ld in the log "
		    "directory, more than this broker allows (--max-partitions %d)", name, np,
		    b->nparts - old + np, b->o.max_partitions);
	}
	return 0;
}

/* the partition count that ALTER's "-" and key=value arguments ask for, 0 none */
static int64_t
parts_asked(struct klog_req *r)
{
	int64_t v = 0, n;
	int i;

	for (i = 3; i < r->argc; i++)
		if (!strncmp(r->argv[i], "partitions=", 11) &&
		    klog_parse_i64(r->argv[i] + 11, &n) == 0)
			v = n;
	return v;
}

static int
cmd_create(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct btopic *t;
	int64_t np;

	if (b->o.cluster || b->o.cluster_file)
		return kb_ctl_create(c, r, err, code);
	if (klog_topic_name_check(r->argv[1], err) < 0) {
		*code = "INVALID";
		return -1;
	}
	if (kb_parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	if (!kb_topic_find(b, r->argv[1]) && parts_check(b, r->argv[1], np, 0, err) < 0) {
		*code = "INVALID";
		return -1;
	}
	errno = 0;
	/* one directory now, the others at first write: a big topic is quick */
	if (ktopic_create(b->d, r->argv[1], (int)np, r->argv + 3, r->argc - 3, 1, err) < 0) {
		*code = errno == EEXIST ? "TOPIC_EXISTS" : errno == 0 || errno == EINVAL ||
		    errno == ERANGE ? "INVALID" : code_for_errno(errno);
		return -1;
	}
	if ((t = kb_topic_find(b, r->argv[1])))     /* stale: deleted behind our back */
		kb_topic_free(b, t, 1);
	b->fresh = 1;
	t = kb_topic_load(b, r->argv[1], err);
	b->fresh = 0;
	if (!t) {
		*code = "INTERNAL";
		return -1;
	}
	kb_log(b, LOG_INFO, "created topic '%s' with %d partition%s", r->argv[1], (int)np,
	    np == 1 ? "" : "s");
	kb_reply(c, "OK\n");
	return 0;
}

static int
cmd_alter(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct klog_config cfg;
	struct btopic *t;
	int64_t np = 0;
	int i;

	if (b->o.cluster || b->o.cluster_file)
		return kb_ctl_alter(c, r, err, code);
	if (!(t = kb_topic_get(b, r->argv[1], code, err)))
		return -1;
	if (strcmp(r->argv[2], "-") && kb_parse_num(r->argv[2], 1, 1000000, &np) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad partition count '%s'", r->argv[2]);
	}
	if ((np || parts_asked(r)) && parts_check(b, r->argv[1], np ? np : parts_asked(r), t->np,
	    err) < 0) {
		*code = "INVALID";
		return -1;
	}
	errno = 0;
	if (ktopic_alter(b->d, r->argv[1], (int)np, r->argv + 3, r->argc - 3, 1, err) < 0) {
		*code = errno == ENOENT ? "UNKNOWN_TOPIC" : errno == 0 || errno == EINVAL ||
		    errno == ERANGE ? "INVALID" : code_for_errno(errno);
		return -1;
	}
	if (klog_topic_load(b->d, r->argv[1], &cfg, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	/* the open partitions take the new configuration as it is, and a
	 * shorter retention at once */
	for (i = 0; i < t->np; i++)
		if (t->parts[i]->p) {
			kpart_set_config(t->parts[i]->p, &cfg);
			kb_retention(b, t->parts[i]);
		}
	b->fresh = 1;
	i = kb_topic_grow(b, t, cfg.partitions, err);
	b->fresh = 0;
	if (i < 0) {
		*code = "INTERNAL";
		return -1;
	}
	kb_reply(c, "OK\n");
	return 0;
}

static int
cmd_delete(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct btopic *t;

	if (b->o.cluster || b->o.cluster_file)
		return kb_ctl_delete(c, r, err, code);
	if (!(t = kb_topic_get(b, r->argv[1], code, err)))
		return -1;
	kb_topic_free(b, t, 1);
	errno = 0;
	if (klog_topic_delete(b->d, r->argv[1], err) < 0) {
		*code = errno == ENOENT ? "UNKNOWN_TOPIC" : "INTERNAL";
		return -1;
	}
	kb_log(b, LOG_INFO, "deleted topic '%s'", r->argv[1]);
	kb_reply(c, "OK\n");
	return 0;
}

static int
cmd_offsets(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct bpart *bp = kb_part_get(c->b, r->argv[1], r->argv[2], code, err);
	struct klog_part_info pi;

	if (!bp || kb_repl_leader_check(c->b, bp, code, err) < 0 ||
	    kb_part_online(bp, code, err) < 0)
		return -1;
	if (klog_part_info(bp->p, &pi, err) < 0) {
		*code = "INTERNAL";
		return -1;
	}
	/* the end a consumer can read to (durable, under --fsync always) */
	kb_reply(c, "OK %" PRId64 " %" PRId64 "\n", pi.log_start, kb_visible_end(c->b, bp));
	return 0;
}

static int
cmd_timeoffset(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct bpart *bp = kb_part_get(c->b, r->argv[1], r->argv[2], code, err);
	int64_t ts, off;

	if (!bp || kb_repl_leader_check(c->b, bp, code, err) < 0 ||
	    kb_part_online(bp, code, err) < 0)
		return -1;
	if (klog_parse_i64(r->argv[3], &ts) < 0) {
		*code = "BAD_REQUEST";
		return kerr(err, "bad timestamp '%s'", r->argv[3]);
	}
	if (klog_part_offset_for_time(bp->p, ts, &off, err) < 0) {
		*code = errno == EILSEQ ? "CORRUPT_BATCH" : "INTERNAL";
		return -1;
	}
	if (off > kb_visible_end(c->b, bp))
		off = kb_visible_end(c->b, bp);
	kb_reply(c, "OK %" PRId64 "\n", off);
	return 0;
}

/*
 * REPAIR TOPIC PARTITION: a failed partition is cut back to its last good
 * sync; an offline one gets kdump --repair's treatment and is opened again.
 */
static int
cmd_repair(struct conn *c, struct klog_req *r, char *err, const char **code)
{
	struct klog_broker *b = c->b;
	struct bpart *bp = kb_part_get(b, r->argv[1], r->argv[2], code, err);
	struct klog_buf report = { 0 }, out = { 0 };
	char path[sizeof b->dirpath + KLOG_TOPIC_MAX + 16];
	size_t i, n = 0;
	int rc = 0;

	if (!bp)
		return -1;
	/* a closed partition is opened first: that recovers it, or fences it */
	if (!bp->p && !bp->offline && kb_part_online(bp, code, err) < 0 && !bp->offline)
		return -1;
	if (bp->p && klog_part_failed(bp->p)) {
		if (bp->syncing) {
			*code = "BUSY";
			return kerr(err, "partition '%s' has a sync out; try again", klog_part_name(bp->p));
		}
		rc = klog_part_recover(bp->p, &report, err);
		if (rc == 0) {
			struct klog_part_info pi;
			if (klog_part_info(bp->p, &pi, err) == 0)
				bp->log_end = pi.log_end;
			bp->durable = kpart_synced_end(bp->p);
		}
	} else if (!bp->p) {
		snprintf(path, sizeof path, "%s/%s-%d", b->dirpath, bp->t->name, bp->id);
		rc = klog_repair_partition(b->d, path, KLOG_REPAIR_FORCE, &report, err);
		if (rc == 0 && kb_part_open(b, bp, err) < 0)
			rc = -1;
	} else
		klog_buf_printf(&report, "partition '%s': nothing to repair\n", klog_part_name(bp->p));
	if (rc < 0) {
		*code = "STORAGE_ERROR";
		kb_log(b, LOG_ERR, "repair: %s", err);
		klog_buf_free(&report);
		return -1;
	}
	for (i = 0; i < report.len; i++)
		n += report.data[i] == '\n';
	kb_log(b, LOG_NOTICE, "%.*s", report.len ? (int)report.len - 1 : 0, report.data ?
	    (char *)report.data : "");
	klog_buf_printf(&out, "OK %zu\n", n);
	klog_buf_append(&out, report.data, report.len);
	klog_buf_free(&report);
	kb_reply_take(c, &out);
	kb_wake(b, bp);
	return 0;
}

/* kb_execute one whole request */
void
kb_execute(struct conn *c, struct klog_req *r, unsigned char *payload)
{
	struct klog_broker *b = c->b;
	const char *code = "INTERNAL";
	char err[KLOG_ERRLEN] = "";
	int64_t t0 = kb_now_us();
	int rc = 0;

	if (!c->authed && r->verb != KLOG_V_AUTH && r->verb != KLOG_V_QUIT) {
		kb_reply_err(c, "AUTH", "authentication required: AUTH SECRET");
		kb_observe(b, r->verb, t0, 1);
		c->closing = 1;
		return;
	}
	switch (r->verb) {
	case KLOG_V_PING:
		if (r->argc > 1)
			kb_reply(c, "OK PONG %.200s\n", r->argv[1]);
		else
			kb_reply(c, "OK PONG\n");
		break;
	case KLOG_V_AUTH:
		if (!kb_secret_ok(b, r->argv[1])) {
			kb_log(b, LOG_WARNING, "connection %s: authentication failed", c->peer);
			kb_reply_err(c, "AUTH", "wrong secret");
			c->closing = 1;
			kb_observe(b, r->verb, t0, 1);
			return;
		}
		c->authed = 1;
		kb_reply(c, "OK\n");
		break;
	case KLOG_V_QUIT:
		kb_reply(c, "OK BYE\n");
		c->closing = 1;
		break;
	case KLOG_V_TOPICS:
		rc = cmd_topics(c, err, &code);
		break;
	case KLOG_V_DESCRIBE:
		rc = cmd_describe(c, r, err, &code);
		break;
	case KLOG_V_CONFIG:
		rc = cmd_config(c, r, err, &code);
		break;
	case KLOG_V_CREATE:
		rc = cmd_create(c, r, err, &code);
		break;
	case KLOG_V_ALTER:
		rc = cmd_alter(c, r, err, &code);
		break;
	case KLOG_V_DELETE:
		rc = cmd_delete(c, r, err, &code);
		break;
	case KLOG_V_PRODUCE:
		cmd_produce(c, r, payload, t0);
		return;
	case KLOG_V_FETCH:
		kb_cmd_fetch(c, r, t0);
		return;
	case KLOG_V_OFFSETS:
		rc = cmd_offsets(c, r, err, &code);
		break;
	case KLOG_V_TIMEOFFSET:
		rc = cmd_timeoffset(c, r, err, &code);
		break;
	case KLOG_V_STATS:
		kb_cmd_stats(c);
		break;
	case KLOG_V_REPAIR:
		rc = cmd_repair(c, r, err, &code);
		break;
	case KLOG_V_COMPACT:
		kb_cmd_compact(c, r);
		break;
	case KLOG_V_JOIN: case KLOG_V_HEARTBEAT: case KLOG_V_COMMIT: case KLOG_V_RELEASE:
	case KLOG_V_LEAVE: case KLOG_V_COMMITTED: case KLOG_V_GROUPS: case KLOG_V_DESCRIBEGROUP:
	case KLOG_V_SETOFFSETS: case KLOG_V_DELETEGROUP:
		kb_group_cmd(c, r, payload, t0);
		return;
	case KLOG_V_METADATA: case KLOG_V_RFETCH: case KLOG_V_EPOCHEND:
		kb_repl_cmd(c, r, t0);
		return;
	case KLOG_V_BROKERHB: case KLOG_V_ALTERISR:
		kb_ctl_cmd(c, r, t0);
		return;
	default:
		rc = -1;
		code = "UNKNOWN_COMMAND";
		kerr(err, "unknown command");
	}
	if (rc < 0)
		kb_reply_err(c, code, err);
	kb_observe(b, r->verb, t0, rc < 0);
}
