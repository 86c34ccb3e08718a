/* klog - a command per record for kconsume --exec: retries, the dead-letter topic. MIT licence. */
/*
 * The command: /bin/sh -c CMD, once per attempt.
 *   stdin        the record's value (a memfd, rewritten for each record;
 *                empty for a null value);
 *   environment  ours without KLOG_TOPIC, KLOG_PARTITION, KLOG_OFFSET,
 *                KLOG_KEY, KLOG_TIMESTAMP, KLOG_ATTEMPT, KLOG_GROUP and
 *                KLOG_HEADER_*, then the record's: KLOG_TOPIC,
 *                KLOG_PARTITION, KLOG_OFFSET, KLOG_TIMESTAMP, KLOG_ATTEMPT
 *                (1, 2, ...), KLOG_GROUP (with -g), KLOG_KEY (unless
 *                null), KLOG_HEADER_<name> per header (bytes of the name
 *                other than [A-Za-z0-9_] made '_', at most 256 of them);
 *                a value stops at its first NUL;
 *   stderr       passed through to ours; its last non-empty line (at most
 *                255 bytes) is the reason of a failure.
 * A failure is "exit N[: LINE]" or "signal N[: LINE]".  A failing command
 * runs again up to retries times, after backoff ms doubling to at most
 * KLOG_CMD_BACKOFF_MAX; the group is served meanwhile (klog_cmd_member_tick).
 * Then the record goes to the dead-letter topic, or the run ends with
 * exit 3 (KLOG_CMD_EXIT_POISON, what was used before it committed).
 *
 * The dead-letter record: the source's key, value and headers, timestamp
 * now, and four headers more: klog.origin.topic, klog.origin.partition,
 * klog.origin.offset (decimal) and klog.error (the reason).  It goes to
 * partition (source partition) mod (the dead-letter topic's count), and
 * is flushed before the source record counts as used.  A missing
 * dead-letter topic is created with the source's partition count.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmdutil.h"
#include "cmdgroup.h"

/* "KLOG_HEADER_" and the name, bytes other than [A-Za-z0-9_] made '_' */
static int
env_add(char ***env, size_t *n, size_t *cap, const char *name, size_t name_len,
    const void *val, size_t val_len, int sanitise)
{
	char *s;
	size_t i, k;

	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **ne = realloc(*env, nc * sizeof *ne);
		if (!ne)
			return -1;
		*env = ne;
		*cap = nc;
	}
	if (!(s = malloc(name_len + val_len + 2)))
		return -1;
	memcpy(s, name, name_len);
	if (sanitise)
		for (i = 0; i < name_len; i++) {
			unsigned char ch = (unsigned char)s[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '_'))
				s[i] = '_';
		}
	s[name_len] = '=';
	/* a value stops at its first NUL: the environment cannot carry one */
	for (k = 0; k < val_len && ((const char *)val)[k]; k++)
		;
	memcpy(s + name_len + 1, val, k);
	s[name_len + 1 + k] = 0;
	(*env)[(*n)++] = s;
	(*env)[*n] = NULL;
	return 0;
}

static int
env_addf(char ***env, size_t *n, size_t *cap, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int
env_addf(char ***env, size_t *n, size_t *cap, const char *name, const char *fmt, ...)
{
	char v[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof v, fmt, ap);
	va_end(ap);
	return env_add(env, n, cap, name, strlen(name), v, strlen(v), 0);
}

/* the command's environment: ours without KLOG_TOPIC... and KLOG_HEADER_*,
 * then the record's */
static char **
make_env(const struct klog_record *r, const char *topic, int partition, int attempt,
    const char *group)
{
	extern char **environ;
	static const char *ours[] = { "KLOG_TOPIC=", "KLOG_PARTITION=", "KLOG_OFFSET=",
		"KLOG_KEY=", "KLOG_TIMESTAMP=", "KLOG_ATTEMPT=", "KLOG_GROUP=", "KLOG_HEADER_" };
	const unsigned char *pos = r->headers;
	struct klog_header h;
	char **env = NULL, name[300];
	size_t n = 0, cap = 0, i, k;
	int bad = 0;

	for (i = 0; environ[i]; i++) {
		for (k = 0; k < sizeof ours / sizeof *ours; k++)
			if (!strncmp(environ[i], ours[k], strlen(ours[k])))
				break;
		if (k < sizeof ours / sizeof *ours)
			continue;
		bad |= env_add(&env, &n, &cap, "", 0, "", 0, 0);
		if (!bad) {
			free(env[n - 1]);
			if (!(env[n - 1] = strdup(environ[i])))
				bad = 1;
		}
	}
	bad |= env_add(&env, &n, &cap, "KLOG_TOPIC", 10, topic, strlen(topic), 0);
	bad |= env_addf(&env, &n, &cap, "KLOG_PARTITION", "%d", partition);
	bad |= env_addf(&env, &n, &cap, "KLOG_OFFSET", "%" PRId64, r->offset);
	bad |= env_addf(&env, &n, &cap, "KLOG_TIMESTAMP", "%" PRId64, r->timestamp);
	bad |= env_addf(&env, &n, &cap, "KLOG_ATTEMPT", "%d", attempt);
	if (group)
		bad |= env_add(&env, &n, &cap, "KLOG_GROUP", 10, group, strlen(group), 0);
	if (r->key_len >= 0)
		bad |= env_add(&env, &n, &cap, "KLOG_KEY", 8, r->key, (size_t)r->key_len, 0);
	while (!bad && klog_header_next(&pos, r->headers_end, &h) == 1) {
		int len = snprintf(name, sizeof name, "KLOG_HEADER_%.*s",
		    h.key_len > 256 ? 256 : (int)h.key_len, (const char *)h.key);
		/* sanitise the header's part of the name only */
		bad |= env_add(&env, &n, &cap, name, (size_t)len,
		    h.value_len > 0 ? (const void *)h.value : "", h.value_len > 0 ?
		    (size_t)h.value_len : 0, 1);
		memcpy(env[n - 1], "KLOG_HEADER_", 12);
	}
	if (bad) {
		for (i = 0; i < n; i++)
			free(env[i]);
		free(env);
		return NULL;
	}
	return env;
}

static void
env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/*
 * Run the command once for r; 0 when it exited 0, else 1 and why ("exit
 * 3: last line of its stderr", "signal 9").  Its stderr passes through to
 * ours; the group is polled while it runs.
 */
static int
run_command(struct klog_cmd_exec *x, struct klog_cmd_member *m, const struct klog_record *r,
    const char *topic, int partition, int attempt, char *why, size_t whylen)
{
	char **env, buf[4096], line[256], last[256];
	size_t ll = 0;
	int ep[2], status;
	pid_t pid;
	ssize_t got;

	last[0] = 0;
	if (x->valfd < 0 && (x->valfd = memfd_create("kconsume-value", MFD_CLOEXEC)) < 0)
		klog_cmd_die(1, "cannot make the value's file: %s", strerror(errno));
	if (ftruncate(x->valfd, 0) < 0 || (r->value_len > 0 &&
	    pwrite(x->valfd, r->value, (size_t)r->value_len, 0) != r->value_len) ||
	    lseek(x->valfd, 0, SEEK_SET) < 0)
		klog_cmd_die(1, "cannot write the value's file: %s", strerror(errno));
	if (!(env = make_env(r, topic, partition, attempt, m->group)))
		klog_cmd_die(1, "out of memory");
	if (pipe2(ep, O_CLOEXEC) < 0)
		klog_cmd_die(1, "cannot make a pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		klog_cmd_die(1, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "sh", "-c", (char *)x->cmd, NULL };

		signal(SIGPIPE, SIG_DFL);
		if (dup2(x->valfd, 0) < 0 || dup2(ep[1], 2) < 0)
			_exit(127);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	close(ep[1]);
	env_free(env);
	m->in.child = 1;
	for (;;) {
		struct pollfd pf = { ep[0], POLLIN, 0 };
		int pr = poll(&pf, 1, klog_cmd_member_until_tick(m, 1000));

		if (pr < 0 && errno != EINTR)
			klog_cmd_die(1, "cannot wait for the command: %s", strerror(errno));
		if (pr <= 0) {
			klog_cmd_member_tick(m);
			continue;
		}
		got = read(ep[0], buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		klog_cmd_write(2, buf, (size_t)got);
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n') {
				if (ll) {
					memcpy(last, line, ll);
					last[ll] = 0;
				}
				ll = 0;
			} else if (ll < sizeof line - 1)
				line[ll++] = buf[i];
		}
	}
	close(ep[0]);
	if (ll) {
		memcpy(last, line, ll);
		last[ll] = 0;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			klog_cmd_die(1, "cannot wait for the command: %s", strerror(errno));
	m->in.child = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(why, whylen, "exit %d%s%s", WEXITSTATUS(status), last[0] ? ": " : "", last);
	else
		snprintf(why, whylen, "signal %d%s%s", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		    last[0] ? ": " : "", last);
	return 1;
}

/* write the record to the dead-letter topic, durably, with its origin */
static void
dead_letter(struct klog_cmd_exec *x, struct klog_log *lg, const struct klog_record *r,
    const char *topic, int partition, const char *why)
{
	struct klog_header h[256 + 4];
	const unsigned char *pos = r->headers;
	char err[KLOG_ERRLEN], ps[16], os[24];
	struct klog_producer_opts o;
	struct klog_config cfg;
	int nh = 0, p;

	if (!x->dl_topic) {
		if (!klog_log_exists(lg, x->dead_letter)) {
			if (klog_log_config(lg, topic, &cfg, err) < 0)
				klog_cmd_die(1, "%s", err);
			if (klog_log_create(lg, x->dead_letter, cfg.partitions, NULL, 0, err) < 0 &&
			    errno != EEXIST)
				klog_cmd_die(1, "%s", err);
			klog_cmd_warn("created the dead-letter topic '%s' (%d partitions)",
			    x->dead_letter, cfg.partitions);
		}
		if (klog_log_config(lg, x->dead_letter, &cfg, err) < 0)
			klog_cmd_die(1, "%s", err);
		x->dl_partitions = cfg.partitions;
		if (!(x->dl_pr = calloc((size_t)cfg.partitions, sizeof *x->dl_pr)) ||
		    !(x->dl_topic = strdup(x->dead_letter)))
			klog_cmd_die(1, "out of memory");
	}
	p = partition % x->dl_partitions;
	if (!x->dl_pr[p]) {
		memset(&o, 0, sizeof o);
		o.partition = p;
		o.codec = -1;
		if (!(x->dl_pr[p] = klog_producer_open(lg, x->dl_topic, &o, err)))
			klog_cmd_die(1, "%s", err);
	}
	while (nh < 256 && klog_header_next(&pos, r->headers_end, &h[nh]) == 1)
		nh++;
	snprintf(ps, sizeof ps, "%d", partition);
	snprintf(os, sizeof os, "%" PRId64, r->offset);
	h[nh++] = (struct klog_header){ (const unsigned char *)"klog.origin.topic", 17,
		(const unsigned char *)topic, (int32_t)strlen(topic) };
	h[nh++] = (struct klog_header){ (const unsigned char *)"klog.origin.partition", 21,
		(const unsigned char *)ps, (int32_t)strlen(ps) };
	h[nh++] = (struct klog_header){ (const unsigned char *)"klog.origin.offset", 18,
		(const unsigned char *)os, (int32_t)strlen(os) };
	h[nh++] = (struct klog_header){ (const unsigned char *)"klog.error", 10,
		(const unsigned char *)why, (int32_t)strlen(why) };
	if (klog_producer_send_h(x->dl_pr[p], klog_now_ms(), r->key, r->key_len, r->value,
	    r->value_len, h, nh, err) != 0 || klog_producer_flush(x->dl_pr[p], err) < 0)
		klog_cmd_die(1, "dead-letter topic '%s': %s", x->dl_topic, err);
	x->dead++;
	klog_cmd_warn("%s %d offset %" PRId64 ": %s; written to the dead-letter topic '%s'",
	    topic, partition, r->offset, why, x->dl_topic);
}

/* a copy of a record in b, that outlives the consumer's buffer */
static void
rec_copy(struct klog_buf *b, struct klog_record *c, const struct klog_record *r)
{
	size_t kl = r->key_len > 0 ? (size_t)r->key_len : 0;
	size_t vl = r->value_len > 0 ? (size_t)r->value_len : 0;
	size_t hl = (size_t)(r->headers_end - r->headers);

	b->len = 0;
	if (klog_buf_reserve(b, kl + vl + hl + 1) < 0)
		klog_cmd_die(1, "out of memory");
	memcpy(b->data, r->key ? r->key : (const unsigned char *)"", kl);
	memcpy(b->data + kl, r->value ? r->value : (const unsigned char *)"", vl);
	memcpy(b->data + kl + vl, r->headers ? r->headers : (const unsigned char *)"", hl);
	*c = *r;
	c->key = r->key_len >= 0 ? b->data : NULL;
	c->value = r->value_len >= 0 ? b->data + kl : NULL;
	c->headers = b->data + kl + vl;
	c->headers_end = c->headers + hl;
}

/*
 * One record through the command: its runs, its retries with backoff, then
 * the dead-letter topic or the end of the run (exit 3).  Returns 0 when
 * done with it (used), 1 when abandoned (its partition went, or a signal
 * came during a backoff: not used, not committed).
 */
int
klog_cmd_exec_record(struct klog_cmd_exec *x, struct klog_cmd_member *m,
    const struct klog_record *rec, const char *topic, int partition)
{
	struct klog_record r;
	char why[400];
	int64_t wait = x->backoff;
	int attempt;

	rec_copy(&x->copy, &r, rec);
	free(m->in.topic);
	if (!(m->in.topic = strdup(topic)))
		klog_cmd_die(1, "out of memory");
	m->in.partition = partition;
	m->in.offset = r.offset;
	m->in.gone = m->in.revoke_pending = 0;
	m->in.active = 1;
	for (attempt = 0;; attempt++) {
		if (run_command(x, m, &r, topic, partition, attempt + 1, why, sizeof why) == 0) {
			m->in.active = 0;       /* used: the partition's offset moves past it */
			klog_cmd_member_revoke_pending(m);
			return 0;
		}
		if (m->in.revoke_pending) {
			/* not used; the next owner runs it */
			klog_cmd_member_revoke_pending(m);
			m->in.active = 0;
			return 1;
		}
		if (m->in.gone || *x->stop || attempt >= x->retries)
			break;
		/* back off, the group served meanwhile */
		if (m->verbose)
			fprintf(stderr, "%s: %s %d offset %" PRId64 ": %s; again in %" PRId64
			    " ms\n", klog_cmd_prog(), topic, partition, r.offset, why, wait);
		for (int64_t end = klog_now_ms() + wait; !*x->stop && !m->in.gone;) {
			int64_t left = end - klog_now_ms();
			if (left <= 0)
				break;
			poll(NULL, 0, klog_cmd_member_until_tick(m, left > 1000 ? 1000 : (int)left));
			klog_cmd_member_tick(m);
		}
		if (*x->stop || m->in.gone)
			break;
		wait = wait * 2 > KLOG_CMD_BACKOFF_MAX ? KLOG_CMD_BACKOFF_MAX : wait * 2;
	}
	if (m->in.gone || *x->stop) {
		/* still in flight: a commit stops before it */
		return 1;
	}
	if (x->dead_letter) {
		dead_letter(x, m->lg, &r, topic, partition, why);
		m->in.active = 0;
		return 0;
	}
	/* nothing past it is committed; what was done before it is */
	klog_cmd_error("%s %d offset %" PRId64 ": command failed after %d attempt%s: %s",
	    topic, partition, r.offset, attempt + 1, attempt ? "s" : "", why);
	klog_cmd_progress_end();
	klog_cmd_member_exit(m, KLOG_CMD_EXIT_POISON, 1);
}
