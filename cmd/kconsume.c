/* klog - kconsume: records of topics to stdout, or to a command, alone or in a group. MIT licence. */
/*
 * Three ways to use a record: print it (-f, -J), or run a command with it
 * (--exec); alone (every partition named) or as a member of a consumer
 * group (-g: the group's share of the topics, with committed offsets).
 *
 * What a group member commits is what it has used: printed records once
 * the write of the output buffer succeeded (the buffer is written before
 * every commit, so a commit covers everything returned so far), executed
 * records once their command exited 0 or they went to the dead-letter
 * topic.  The one record whose command is running or waiting for a retry
 * (the in-flight record) holds its partition's commit at its own offset.
 * Commits happen every --commit-interval ms, for a partition when the
 * group revokes it (then it is released), and at the end (-e, -c, a
 * signal).  A LOST partition is dropped with nothing committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#include "klog.h"
#include "cmdutil.h"

#define SYNOPSIS "kconsume [-d DIR | -b HOST:PORT] [-g GROUP [--strategy S] [--instance-id ID] " \
	"[--session-timeout MS] [--commit-interval MS]] [-o OFFSET] [-o e@TS] [-e] [-c COUNT] " \
	"[-f FORMAT | -J | --exec CMD [--retries N] [--retry-backoff MS] [--dead-letter TOPIC]] " \
	"[-u] [-q] [-v] TOPIC[:PARTITION]..."

static const char help[] =
"usage: kconsume [options] TOPIC[:PARTITION]...\n"
"Print the records of topics (all partitions, or the ones named) on stdout,\n"
"or run a command for each; alone, or as a member of a consumer group.\n"
"\n"
"  -d, --dir DIR        log directory (default $KLOG_DIR)\n"
"  -b, --brokers HOST:PORT  read through a kbrokerd (default $KLOG_BROKERS)\n"
"  -o, --offset OFFSET  where to start in each partition: beginning (default), end,\n"
"                       N (absolute), -N (N before the end), s@TIMESTAMP (ms);\n"
"                       with -g only where the group has no commit;\n"
"                       again as e@TIMESTAMP (ms): stop each partition at its\n"
"                       first record with a timestamp at or past it\n"
"  -e, --exit           exit when every partition is at its end (default: follow)\n"
"  -c, --count N        exit after N records\n"
"  -f, --format FORMAT  output format (default \"%s\\n\"): %t topic, %p partition,\n"
"                       %o offset, %k key, %K key length, %s value, %S value length,\n"
"                       %T timestamp (ms), %h headers (k=v,k=v), %% percent;\n"
"                       escapes \\n \\r \\t \\\\ \\xNN\n"
"  -J, --json           one JSON object per record and line (kcat's shape)\n"
"  -u, --unbuffered     write each record at once\n"
"  -g, --group GROUP    consume as a member of GROUP: its share of the topics,\n"
"                       from the group's committed offsets, committing what was\n"
"                       written (or executed)\n"
"      --strategy S     range (default), roundrobin or sticky\n"
"      --instance-id ID static membership: a quick restart keeps the partitions\n"
"      --session-timeout MS  through a broker: silence before removal (10000)\n"
"      --commit-interval MS  commit this often (default 1000)\n"
"      --exec CMD       run /bin/sh -c CMD per record: the value on its stdin;\n"
"                       KLOG_TOPIC, KLOG_PARTITION, KLOG_OFFSET, KLOG_KEY,\n"
"                       KLOG_TIMESTAMP, KLOG_HEADER_<name> in its environment\n"
"      --retries N      run a failing command again N times (default 0)\n"
"      --retry-backoff MS  wait MS before the first retry, doubling (100; at\n"
"                       most 30000)\n"
"      --dead-letter TOPIC  write a record that still fails to TOPIC (created\n"
"                       with the source's partition count) and go on\n"
"  -q, --quiet          no warnings\n"
"  -v, --verbose        say where each partition starts and when it reaches its end,\n"
"                       group events and commits, and routine events\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"\n"
"Exit 0 on success (also when the reader of stdout goes away), 1 on failure\n"
"(damaged data, missing topic, a failed commit), 2 on a usage error, 3 when a\n"
"record's command still failed after its retries and there is no dead-letter\n"
"topic (nothing past it committed).\n";

#define OUT_FLUSH ((size_t)256 << 10)
#define BACKOFF_MAX 30000
#define EXIT_POISON 3

enum { OPT_STRATEGY = 256, OPT_INSTANCE, OPT_SESSION, OPT_COMMIT_INTERVAL, OPT_EXEC,
	OPT_RETRIES, OPT_BACKOFF, OPT_DEAD_LETTER };

static volatile sig_atomic_t stop_flag;

/* a partition the group gave this member */
struct gpart {
	char *topic;
	int partition;
	int64_t committed;              /* what the group has; -1 none */
};

/* the record an --exec command works on, copied out of the consumer */
struct inflight {
	int active;
	char *topic;
	int partition;
	int64_t offset;
	int child;                      /* its command is running */
	int gone;                       /* its partition was revoked or lost */
	int revoke_pending;             /* revoked while the command ran */
};

struct dlt {
	char *topic;
	int partitions;
	struct klog_producer **pr;      /* one per partition, opened when needed */
};

static struct run {
	struct klog_log *lg;
	struct klog_consumer *con;
	struct klog_group *g;
	const char *group;
	struct klog_start st;
	struct klog_fmt *fmt;
	int json, unbuffered, verbose;
	struct klog_buf out;
	struct gpart *gp;
	size_t ngp, gpcap;
	int64_t commit_interval, last_commit, next_poll, last_event;
	int64_t commits;
	/* --exec */
	const char *exec;
	int64_t retries, backoff;
	int valfd;
	struct inflight in;
	struct dlt dl;
	const char *dead_letter;
	int64_t dead;
} R = { .valfd = -1, .commit_interval = 1000, .backoff = 100 };

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void leave_and_exit(int code, int commit_first);

/* write the output buffer; an EPIPE ends the run quietly (a group member
 * then commits nothing more: what it wrote last is not known to be read) */
static void
flush_out(void)
{
	if (!R.out.len)
		return;
	if (klog_cmd_write(1, R.out.data, R.out.len) < 0) {
		if (errno == EPIPE) {
			klog_cmd_progress_end();
			leave_and_exit(0, 0);
		}
		klog_cmd_die(1, "cannot write output: %s", strerror(errno));
	}
	R.out.len = 0;
}

static struct gpart *
gp_find(const char *topic, int partition)
{
	for (size_t i = 0; i < R.ngp; i++)
		if (R.gp[i].partition == partition && !strcmp(R.gp[i].topic, topic))
			return &R.gp[i];
	return NULL;
}

static void
gp_drop(struct gpart *p)
{
	free(p->topic);
	*p = R.gp[--R.ngp];
}

static int
is_inflight(const char *topic, int partition)
{
	return R.in.active && !R.in.gone && R.in.partition == partition &&
	    !strcmp(R.in.topic, topic);
}

/* the offset a commit of this partition records: after what was used */
static int64_t
used_offset(const struct gpart *p)
{
	int64_t next;

	if (is_inflight(p->topic, p->partition))
		return R.in.offset;
	if (klog_consumer_next_offset(R.con, p->topic, p->partition, &next) < 0)
		return p->committed;
	return next;
}

/*
 * Commit one partition (only non-NULL) or every one that moved.  The
 * output is written first, so what is committed was written.  A fenced
 * member (ESTALE) commits nothing: the group's next poll says LOST.
 */
static int
commit(struct gpart *only)
{
	struct klog_gcommit c[64];
	struct gpart *who[64];
	char err[KLOG_ERRLEN];
	size_t i = 0, n = 0;
	int64_t off;

	if (!R.g)
		return 0;
	flush_out();
	for (;;) {
		struct gpart *p = only ? only : i < R.ngp ? &R.gp[i] : NULL;

		i++;
		if (p && (off = used_offset(p)) != p->committed && off >= 0) {
			c[n].topic = p->topic;
			c[n].partition = p->partition;
			c[n].offset = off;
			c[n].commit_ts = klog_now_ms();
			who[n++] = p;
		}
		if (n && (n == 64 || !p || only)) {
			if (klog_group_commit(R.g, c, n, err) < 0) {
				if (errno == ESTALE) {
					klog_cmd_warn("%s", err);
					return -1;
				}
				klog_cmd_die(1, "%s", err);
			}
			R.commits++;
			for (size_t k = 0; k < n; k++) {
				who[k]->committed = c[k].offset;
				if (R.verbose)
					fprintf(stderr, "kconsume: group '%s': committed %s %d at %"
					    PRId64 "\n", R.group, c[k].topic, c[k].partition, c[k].offset);
			}
			n = 0;
		}
		if (!p || only)
			break;
	}
	R.last_commit = klog_now_ms();
	return 0;
}

static void
release(struct gpart *p)
{
	char err[KLOG_ERRLEN];

	klog_consumer_remove(R.con, p->topic, p->partition);
	if (klog_group_release(R.g, p->topic, p->partition, err) < 0 && errno != ESTALE)
		klog_cmd_die(1, "%s", err);
	if (R.verbose)
		fprintf(stderr, "kconsume: group '%s': released %s %d at %" PRId64 "\n", R.group,
		    p->topic, p->partition, p->committed);
	gp_drop(p);
}

static void
on_event(const struct klog_gevent *ev)
{
	struct klog_start st = R.st;
	struct gpart *p = gp_find(ev->topic, ev->partition);
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
		if (klog_consumer_add_part(R.con, ev->topic, ev->partition, &st, err) < 0)
			klog_cmd_die(1, "%s", err);
		if (R.ngp == R.gpcap) {
			size_t cap = R.gpcap ? R.gpcap * 2 : 16;
			struct gpart *np = realloc(R.gp, cap * sizeof *np);
			if (!np)
				klog_cmd_die(1, "out of memory");
			R.gp = np;
			R.gpcap = cap;
		}
		p = &R.gp[R.ngp++];
		if (!(p->topic = strdup(ev->topic)))
			klog_cmd_die(1, "out of memory");
		p->partition = ev->partition;
		p->committed = ev->committed;
		if (R.verbose) {
			klog_consumer_next_offset(R.con, ev->topic, ev->partition, &next);
			fprintf(stderr, "kconsume: group '%s': assigned %s %d, starting at offset %"
			    PRId64 " (%s)\n", R.group, ev->topic, ev->partition, next,
			    ev->committed >= 0 ? "committed" : "no commit");
		}
		break;
	case KLOG_GEV_REVOKE:
		if (!p)
			break;
		flush_out();
		if (is_inflight(p->topic, p->partition) && R.in.child) {
			/* its command runs: hand it over once it is done */
			R.in.revoke_pending = 1;
			return;
		}
		/* an in-flight record (backing off) holds the commit at its
		 * offset; the next owner runs it */
		commit(p);
		if (is_inflight(p->topic, p->partition))
			R.in.gone = 1;
		release(p);
		break;
	case KLOG_GEV_LOST:
		if (!p)
			break;
		flush_out();        /* formatted already: out it goes, uncommitted */
		if (is_inflight(p->topic, p->partition))
			R.in.gone = 1;
		klog_consumer_remove(R.con, p->topic, p->partition);
		klog_cmd_warn("group '%s': lost %s %d (fenced): nothing more committed for it",
		    R.group, p->topic, p->partition);
		gp_drop(p);
		break;
	}
}

/* handle what the group has for us; the number of events */
static int
poll_group(void)
{
	struct klog_gevent ev;
	char err[KLOG_ERRLEN];
	int r, n = 0;

	if (!R.g)
		return 0;
	while ((r = klog_group_poll(R.g, &ev, err)) == 1) {
		on_event(&ev);
		R.last_event = klog_now_ms();
		n++;
	}
	if (r < 0)
		klog_cmd_die(1, "%s", err);
	R.next_poll = klog_now_ms() + klog_group_interval(R.g);
	return n;
}

/*
 * -e: may this member go?  Not while a partition with records left has no
 * owner, or is the group's for this member but not yet given (a handover
 * under way): leaving then could leave it to members that have gone.
 * Partitions other members hold are theirs to finish.  When the group
 * cannot be described, only this member's partitions count.
 */
static int
group_settled(void)
{
	struct klog_group_info gi;
	char err[KLOG_ERRLEN];
	int ok = 1;

	if (klog_group_describe(R.lg, R.group, &gi, err) < 0)
		return 1;
	for (size_t i = 0; i < gi.nparts && ok; i++) {
		const struct klog_gpart_info *p = &gi.parts[i];

		if (p->lag <= 0 || gp_find(p->topic, p->partition))
			continue;
		if (p->owner < 0 || (size_t)p->owner >= gi.nmembers ||
		    !strcmp(gi.members[p->owner].member_id, klog_group_member_id(R.g)))
			ok = 0;
	}
	klog_group_info_free(&gi);
	return ok;
}

/* the group's timers: poll it when due, commit when due */
static void
tick(void)
{
	int64_t now;

	if (!R.g)
		return;
	now = klog_now_ms();
	if (now >= R.next_poll)
		poll_group();
	if (now - R.last_commit >= R.commit_interval)
		commit(NULL);
}

/* ms until the next group timer, at most cap */
static int
until_tick(int cap)
{
	int64_t now = klog_now_ms(), t = cap;

	if (!R.g)
		return cap;
	if (R.next_poll - now < t)
		t = R.next_poll - now;
	if (R.last_commit + R.commit_interval - now < t)
		t = R.last_commit + R.commit_interval - now;
	return t < 0 ? 0 : (int)t;
}

/* commit what was used (unless the output broke), leave the group, exit */
static void
leave_and_exit(int code, int commit_first)
{
	char err[KLOG_ERRLEN];

	if (R.g) {
		struct klog_group *g = R.g;

		if (commit_first)
			commit(NULL);
		R.g = NULL;
		if (klog_group_leave(g, err) < 0) {
			klog_cmd_error("%s", err);
			if (!code)
				code = 1;
		} else if (R.verbose)
			fprintf(stderr, "kconsume: group '%s': left\n", R.group);
	}
	exit(code);
}

/* ------------------------------------------------------------------ --exec */

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
make_env(const struct klog_record *r, const char *topic, int partition, int attempt)
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
	if (R.group)
		bad |= env_add(&env, &n, &cap, "KLOG_GROUP", 10, R.group, strlen(R.group), 0);
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
run_command(const struct klog_record *r, const char *topic, int partition, int attempt,
    char *why, size_t whylen)
{
	char **env, buf[4096], line[256], last[256];
	size_t ll = 0;
	int ep[2], status;
	pid_t pid;
	ssize_t got;

	last[0] = 0;
	if (R.valfd < 0 && (R.valfd = memfd_create("kconsume-value", MFD_CLOEXEC)) < 0)
		klog_cmd_die(1, "cannot make the value's file: %s", strerror(errno));
	if (ftruncate(R.valfd, 0) < 0 || (r->value_len > 0 &&
	    pwrite(R.valfd, r->value, (size_t)r->value_len, 0) != r->value_len) ||
	    lseek(R.valfd, 0, SEEK_SET) < 0)
		klog_cmd_die(1, "cannot write the value's file: %s", strerror(errno));
	if (!(env = make_env(r, topic, partition, attempt)))
		klog_cmd_die(1, "out of memory");
	if (pipe2(ep, O_CLOEXEC) < 0)
		klog_cmd_die(1, "cannot make a pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		klog_cmd_die(1, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "sh", "-c", (char *)R.exec, NULL };

		signal(SIGPIPE, SIG_DFL);
		if (dup2(R.valfd, 0) < 0 || dup2(ep[1], 2) < 0)
			_exit(127);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	close(ep[1]);
	env_free(env);
	R.in.child = 1;
	for (;;) {
		struct pollfd pf = { ep[0], POLLIN, 0 };
		int pr = poll(&pf, 1, until_tick(1000));

		if (pr < 0 && errno != EINTR)
			klog_cmd_die(1, "cannot wait for the command: %s", strerror(errno));
		if (pr <= 0) {
			tick();
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
	R.in.child = 0;
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
dead_letter(const struct klog_record *r, const char *topic, int partition, const char *why)
{
	struct klog_header h[256 + 4];
	const unsigned char *pos = r->headers;
	char err[KLOG_ERRLEN], ps[16], os[24];
	struct klog_producer_opts o;
	struct klog_config cfg;
	int nh = 0, p;

	if (!R.dl.topic) {
		if (!klog_log_exists(R.lg, R.dead_letter)) {
			if (klog_log_config(R.lg, topic, &cfg, err) < 0)
				klog_cmd_die(1, "%s", err);
			if (klog_log_create(R.lg, R.dead_letter, cfg.partitions, NULL, 0, err) < 0 &&
			    errno != EEXIST)
				klog_cmd_die(1, "%s", err);
			klog_cmd_warn("created the dead-letter topic '%s' (%d partitions)",
			    R.dead_letter, cfg.partitions);
		}
		if (klog_log_config(R.lg, R.dead_letter, &cfg, err) < 0)
			klog_cmd_die(1, "%s", err);
		R.dl.partitions = cfg.partitions;
		if (!(R.dl.pr = calloc((size_t)cfg.partitions, sizeof *R.dl.pr)) ||
		    !(R.dl.topic = strdup(R.dead_letter)))
			klog_cmd_die(1, "out of memory");
	}
	p = partition % R.dl.partitions;
	if (!R.dl.pr[p]) {
		memset(&o, 0, sizeof o);
		o.partition = p;
		o.codec = -1;
		if (!(R.dl.pr[p] = klog_producer_open(R.lg, R.dl.topic, &o, err)))
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
	if (klog_producer_send_h(R.dl.pr[p], klog_now_ms(), r->key, r->key_len, r->value,
	    r->value_len, h, nh, err) != 0 || klog_producer_flush(R.dl.pr[p], err) < 0)
		klog_cmd_die(1, "dead-letter topic '%s': %s", R.dl.topic, err);
	R.dead++;
	klog_cmd_warn("%s %d offset %" PRId64 ": %s; written to the dead-letter topic '%s'",
	    topic, partition, r->offset, why, R.dl.topic);
}

/* a copy of a record that outlives the consumer's buffer */
struct reccopy {
	struct klog_record r;
	struct klog_buf b;
};

static void
rec_copy(struct reccopy *c, const struct klog_record *r)
{
	size_t kl = r->key_len > 0 ? (size_t)r->key_len : 0;
	size_t vl = r->value_len > 0 ? (size_t)r->value_len : 0;
	size_t hl = (size_t)(r->headers_end - r->headers);

	c->b.len = 0;
	if (klog_buf_reserve(&c->b, kl + vl + hl + 1) < 0)
		klog_cmd_die(1, "out of memory");
	memcpy(c->b.data, r->key ? r->key : (const unsigned char *)"", kl);
	memcpy(c->b.data + kl, r->value ? r->value : (const unsigned char *)"", vl);
	memcpy(c->b.data + kl + vl, r->headers ? r->headers : (const unsigned char *)"", hl);
	c->r = *r;
	c->r.key = r->key_len >= 0 ? c->b.data : NULL;
	c->r.value = r->value_len >= 0 ? c->b.data + kl : NULL;
	c->r.headers = c->b.data + kl + vl;
	c->r.headers_end = c->r.headers + hl;
}

/* a partition revoked while its command ran: hand it over now */
static void
revoke_pending(void)
{
	struct gpart *p;

	if (!R.in.revoke_pending)
		return;
	R.in.revoke_pending = 0;
	if ((p = gp_find(R.in.topic, R.in.partition))) {
		commit(p);
		R.in.gone = 1;
		release(p);
	}
}

/*
 * One record through --exec: its command, its retries with backoff, then
 * the dead-letter topic or the end of the run (exit 3).  Returns 0 when
 * done with it (used), 1 when abandoned (its partition went, or a signal
 * came during a backoff: not used, not committed).
 */
static int
exec_record(const struct klog_record *rec, const char *topic, int partition)
{
	static struct reccopy rc;
	char why[400];
	int64_t wait = R.backoff;
	int attempt;

	rec_copy(&rc, rec);
	free(R.in.topic);
	if (!(R.in.topic = strdup(topic)))
		klog_cmd_die(1, "out of memory");
	R.in.partition = partition;
	R.in.offset = rc.r.offset;
	R.in.gone = R.in.revoke_pending = 0;
	R.in.active = 1;
	for (attempt = 0;; attempt++) {
		if (run_command(&rc.r, topic, partition, attempt + 1, why, sizeof why) == 0) {
			R.in.active = 0;        /* used: the partition's offset moves past it */
			revoke_pending();
			return 0;
		}
		if (R.in.revoke_pending) {
			/* not used; the next owner runs it */
			revoke_pending();
			R.in.active = 0;
			return 1;
		}
		if (R.in.gone || stop_flag || attempt >= R.retries)
			break;
		/* back off, the group served meanwhile */
		if (R.verbose)
			fprintf(stderr, "kconsume: %s %d offset %" PRId64 ": %s; again in %" PRId64
			    " ms\n", topic, partition, rc.r.offset, why, wait);
		for (int64_t end = klog_now_ms() + wait; !stop_flag && !R.in.gone;) {
			int64_t left = end - klog_now_ms();
			if (left <= 0)
				break;
			poll(NULL, 0, until_tick(left > 1000 ? 1000 : (int)left));
			tick();
		}
		if (stop_flag || R.in.gone)
			break;
		wait = wait * 2 > BACKOFF_MAX ? BACKOFF_MAX : wait * 2;
	}
	if (R.in.gone || stop_flag) {
		/* still in flight: a commit stops before it */
		return 1;
	}
	if (R.dead_letter) {
		dead_letter(&rc.r, topic, partition, why);
		R.in.active = 0;
		return 0;
	}
	/* nothing past it is committed; what was done before it is */
	klog_cmd_error("%s %d offset %" PRId64 ": command failed after %d attempt%s: %s",
	    topic, partition, rc.r.offset, attempt + 1, attempt ? "s" : "", why);
	klog_cmd_progress_end();
	leave_and_exit(EXIT_POISON, 1);
	return 1;
}

/* ------------------------------------------------------------------ main */

static int64_t
parse_ms(const char *opt, const char *s, int64_t min)
{
	int64_t v;

	if (klog_parse_i64(s, &v) < 0 || v < min || v > INT32_MAX)
		klog_cmd_die(2, "bad %s '%s'", opt, s);
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "offset", required_argument, NULL, 'o' },
		{ "exit", no_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "unbuffered", no_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "instance-id", required_argument, NULL, OPT_INSTANCE },
		{ "session-timeout", required_argument, NULL, OPT_SESSION },
		{ "commit-interval", required_argument, NULL, OPT_COMMIT_INTERVAL },
		{ "exec", required_argument, NULL, OPT_EXEC },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "retry-backoff", required_argument, NULL, OPT_BACKOFF },
		{ "dead-letter", required_argument, NULL, OPT_DEAD_LETTER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct klog_group_opts go = { 0 };
	struct klog_record r;
	struct sigaction sa;
	const char *dir = NULL, *brokers = NULL, *format = "%s\\n", *topic;
	char err[KLOG_ERRLEN];
	int exit_at_end = 0, quiet = 0, c, i, rc = 0, n, partition;
	int64_t count = -1, seen = 0, next, *ended = NULL, stop_ts = -1, bytes = 0;

	klog_cmd_init("kconsume");
	R.st.from = KLOG_FROM_BEGINNING;
	while ((c = getopt_long(argc, argv, "d:o:ec:f:Juqvb:g:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			if (!strncmp(optarg, "e@", 2)) {
				if (klog_parse_i64(optarg + 2, &stop_ts) < 0 || stop_ts < 0)
					klog_cmd_die(2, "bad end offset '%s': expected e@TIMESTAMP", optarg);
				break;
			}
			if (klog_start_parse(optarg, &R.st, err) < 0)
				klog_cmd_die(2, "%s", err);
			break;
		case 'e':
			exit_at_end = 1;
			break;
		case 'c':
			if (klog_parse_i64(optarg, &count) < 0 || count < 0)
				klog_cmd_die(2, "bad count '%s'", optarg);
			break;
		case 'f':
			format = optarg;
			R.json = 0;
			break;
		case 'J':
			R.json = 1;
			break;
		case 'u':
			R.unbuffered = 1;
			break;
		case 'g':
			R.group = optarg;
			break;
		case OPT_STRATEGY:
			go.strategy = optarg;
			break;
		case OPT_INSTANCE:
			go.instance_id = optarg;
			break;
		case OPT_SESSION:
			go.session_ms = (int)parse_ms("session timeout", optarg, 1);
			break;
		case OPT_COMMIT_INTERVAL:
			R.commit_interval = parse_ms("commit interval", optarg, 0);
			break;
		case OPT_EXEC:
			R.exec = optarg;
			break;
		case OPT_RETRIES:
			R.retries = parse_ms("retry count", optarg, 0);
			break;
		case OPT_BACKOFF:
			R.backoff = parse_ms("retry backoff", optarg, 0);
			break;
		case OPT_DEAD_LETTER:
			R.dead_letter = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			R.verbose = 1;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		case 'V':
			klog_cmd_version();
		default:
			klog_cmd_usage(SYNOPSIS);
		}
	}
	if (optind >= argc)
		klog_cmd_usage(SYNOPSIS);
	if (!R.group && (go.strategy || go.instance_id || go.session_ms))
		klog_cmd_die(2, "--strategy, --instance-id and --session-timeout need -g GROUP");
	if (!R.exec && (R.retries || R.dead_letter))
		klog_cmd_die(2, "--retries and --dead-letter need --exec CMD");
	if (R.dead_letter && klog_topic_name_check(R.dead_letter, err) < 0)
		klog_cmd_die(2, "%s", err);
	klog_cmd_quiet(quiet);
	klog_cmd_verbose(R.verbose);
	/* an unknown %-token stops us before any data is read */
	if (!R.exec && !R.json && !(R.fmt = klog_fmt_compile(format, err)))
		klog_cmd_die(2, "%s", err);
	if (R.group) {
		if (klog_group_name_check(R.group, err) < 0)
			klog_cmd_die(2, "%s", err);
		for (i = optind; i < argc; i++) {
			if (strchr(argv[i], ':'))
				klog_cmd_die(2, "'%s': a group member reads whole topics, "
				    "the group shares out their partitions", argv[i]);
			if (klog_topic_name_check(argv[i], err) < 0)
				klog_cmd_die(2, "%s", err);
		}
	}
	for (i = optind; R.dead_letter && i < argc; i++) {
		size_t tl = strcspn(argv[i], ":");
		if (strlen(R.dead_letter) == tl && !strncmp(argv[i], R.dead_letter, tl))
			klog_cmd_die(2, "the dead-letter topic '%s' is also read", R.dead_letter);
	}

	R.lg = klog_cmd_open_log(dir, brokers, 0);
	if (!(R.con = klog_consumer_new(R.lg, err)))
		klog_cmd_die(1, "%s", err);
	if (stop_ts >= 0)
		klog_consumer_stop_at(R.con, stop_ts);

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (R.group) {
		go.group = R.group;
		go.topics = argv + optind;
		go.ntopics = (size_t)(argc - optind);
		go.client_id = "kconsume";
		if (!(R.g = klog_group_join(R.lg, &go, err)))
			klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);
		if (R.verbose)
			fprintf(stderr, "kconsume: group '%s': joined as %s\n", R.group,
			    klog_group_member_id(R.g));
		R.last_event = R.last_commit = klog_now_ms();
		poll_group();
	} else {
		for (i = optind; i < argc; i++)
			if (klog_consumer_add(R.con, argv[i], &R.st, err) < 0)
				klog_cmd_die(errno == EINVAL ? 2 : 1, "%s", err);
		n = klog_consumer_count(R.con);
		if (R.verbose) {
			if (!(ended = calloc((size_t)n + 1, sizeof *ended)))
				klog_cmd_die(1, "out of memory");
			for (i = 0; i < n; i++) {
				klog_consumer_position(R.con, i, &topic, &partition, &next);
				fprintf(stderr, "kconsume: %s %d: starting at offset %" PRId64 "\n",
				    topic, partition, next);
			}
		}
	}

	/* progress of a long -e run, when the records go somewhere else than
	 * the terminal; -v talks on stderr itself */
	if (exit_at_end && !R.verbose && !R.exec && !isatty(1))
		klog_cmd_progress_start(-1);
	while (!stop_flag && count != 0) {
		int got;

		tick();
		got = klog_consumer_next(R.con, &r, &topic, &partition, err);
		if (got < 0) {
			flush_out();
			klog_cmd_progress_end();
			klog_cmd_error("%s", err);
			rc = 1;
			break;
		}
		if (got == 1) {
			if (R.exec) {
				if (exec_record(&r, topic, partition))
					continue;
			} else if ((R.json ? klog_json_record(&R.out, topic, partition, &r) :
			    klog_fmt_record(R.fmt, &R.out, topic, partition, &r)) < 0)
				klog_cmd_die(1, "cannot format record: %s", strerror(errno));
			seen++;
			bytes += (r.key_len > 0 ? r.key_len : 0) + (r.value_len > 0 ? r.value_len : 0);
			if (!(seen & 1023))
				klog_cmd_progress(seen, bytes);
			if (R.unbuffered || R.out.len >= OUT_FLUSH)
				flush_out();
			if (count > 0 && seen >= count)
				break;
			continue;
		}
		/* every partition is at its end for now */
		flush_out();
		if (R.verbose && !R.g) {
			n = klog_consumer_count(R.con);
			for (i = 0; i < n; i++) {
				klog_consumer_position(R.con, i, &topic, &partition, &next);
				if (ended[i] != next + 1) {
					fprintf(stderr, "kconsume: %s %d: at the end, offset %" PRId64 "\n",
					    topic, partition, next);
					ended[i] = next + 1;
				}
			}
		}
		if (R.g && exit_at_end) {
			/* at the end of what the group gave us, and the group has
			 * nothing new for us (a member given nothing waits a little) */
			int grace = klog_group_interval(R.g) * 3;

			if (poll_group())
				continue;
			if ((R.ngp || klog_now_ms() - R.last_event >= (grace > 1000 ? grace : 1000)) &&
			    group_settled())
				break;
		} else if (exit_at_end || klog_consumer_done(R.con))
			break;
		if (R.g && klog_consumer_done(R.con))
			break;
		while (!stop_flag && klog_consumer_wait(R.con, until_tick(500)) == 0 &&
		    (!R.g || until_tick(500) > 0))
			;
	}
	flush_out();
	klog_cmd_progress(seen, bytes);
	klog_cmd_progress_end();
	if (R.g)
		leave_and_exit(rc, 1);
	klog_buf_free(&R.out);
	klog_fmt_free(R.fmt);
	free(ended);
	klog_consumer_free(R.con);
	klog_log_close(R.lg);
	return rc;
}
