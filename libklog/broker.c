/* klog - kbrokerd: life cycle (open, run, drain, close), pid file, timers. MIT licence. */
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

void
kb_log(struct klog_broker *b, int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!b->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->o.log(prio, msg);
}

void
klog_broker_defaults(struct klog_broker_opts *o)
{
	memset(o, 0, sizeof *o);
	o->listen_fd = -1;
	o->fsync_policy = KLOG_FSYNC_ALWAYS;
	o->fsync_interval_ms = 1000;
	o->max_conns = 1024;
	o->idle_timeout_ms = 600000;
	o->max_request = 16 << 20;
	o->max_output = 4 << 20;
	o->max_memory = 1024UL << 20;
	o->max_waiting_fetches = 100000;
	o->max_conn_fetches = 1000;
	o->max_partitions = KLOG_BROKER_MAX_PARTITIONS;
	o->max_topic_partitions = KLOG_BROKER_MAX_TOPIC_PARTITIONS;
	o->request_timeout_ms = 10000;
	o->max_conns_per_ip = -1;
	o->session_timeout_ms = 2000;
	o->replica_lag_ms = 10000;
}

static int64_t
idle_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct conn *c, *n;
	int64_t now = klog_now_ms();

	kb_slot_resume(b);      /* long polls that ended may have freed slots */
	for (c = b->conns; c; c = n) {
		n = c->next;
		if (c->fd < 0)
			continue;
		if (c->lingering) {
			if (now - c->last_active > 2000)
				kb_conn_close(c);
			continue;
		}
		if (kb_conn_expire(c, now))
			continue;
		if (b->o.idle_timeout_ms > 0 && !c->nfetch && !c->head &&
		    now - c->last_active > b->o.idle_timeout_ms) {
			kb_log(b, LOG_INFO, "connection %s: idle for %d s; closing", c->peer,
			    b->o.idle_timeout_ms / 1000);
			kb_conn_close(c);
			continue;
		}
		/* give back an idle connection's buffer */
		if (now - c->last_active > 10000 && c->in_off == c->in.len && !c->have_req &&
		    c->in.cap) {
			b->mem -= c->in.cap;
			klog_buf_free(&c->in);
			c->in_off = 0;
		}
	}
	kb_mem_trim(b);
	return 1000;
}

/* retention of partitions nobody writes to (writes apply it on each roll),
 * every five minutes as Kafka's log.retention.check.interval.ms */
static int64_t
retention_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	struct btopic *t;
	size_t h;
	int i;

	for (h = 0; h < THASH; h++)
		for (t = b->topics[h]; t; t = t->next)
			for (i = 0; i < t->np; i++)
				kb_retention(b, t->parts[i]);
	/* closed partitions: a sweep opens them (which applies it) */
	if (b->sweep_timer < 0) {
		for (h = 0; h < THASH; h++)
			for (t = b->topics[h]; t; t = t->next)
				t->swept = 0;
		b->sweep_h = 0;
		b->sweep_timer = klog_loop_timer(l, 0, kb_sweep, b);
	}
	return RETENTION_CHECK_MS;
}

static void
on_signal(struct klog_loop *l, int fd, void *data, int mask)
{
	struct klog_broker *b = data;
	char buf[64];

	while (read(fd, buf, sizeof buf) > 0)
		;
	if (b->stop)
		klog_loop_stop(l);
}

/* --- life cycle ------------------------------------------------------- */

static int
pidfile_lock(struct klog_broker *b, char *err)
{
	char who[256];
	char path[4200];

	snprintf(path, sizeof path, "%s/kbrokerd.pid", b->dirpath);
	if ((b->pidfd = openat(b->d->fd, "kbrokerd.pid", O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return kerr_sys(err, "cannot create '%s'", path);
	if (flock(b->pidfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			klog_dir_broker(b->d, who, sizeof who);
			close(b->pidfd);
			b->pidfd = -1;
			errno = EBUSY;
			return kerr(err, "log directory '%s' is already served by kbrokerd (%s)",
			    b->dirpath, *who ? who : "starting");
		}
		errno = e;
		return kerr_sys(err, "cannot lock '%s'", path);
	}
	return 0;
}

static int
pidfile_write(struct klog_broker *b, char *err)
{
	char line[256];
	int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), b->addr);

	if (ftruncate(b->pidfd, 0) < 0 || pwrite(b->pidfd, line, (size_t)n, 0) != n)
		return kerr_sys(err, "cannot write '%s/kbrokerd.pid'", b->dirpath);
	return 0;
}

struct klog_broker *
klog_broker_open(const struct klog_broker_opts *o, char *err)
{
	struct klog_broker *b;
	char **names = NULL;
	size_t n = 0, i;

	if (!(b = calloc(1, sizeof *b))) {
		kerr_sys(err, "broker");
		return NULL;
	}
	b->o = *o;
	b->lfd = b->pidfd = -1;
	b->sigpipe[0] = b->sigpipe[1] = -1;
	b->idle_timer = b->sync_timer = b->sweep_timer = -1;
	if (b->o.max_output < 65536)
		b->o.max_output = 65536;
	if (!(b->d = klog_dir_open(o->dir, 0, err)))
		goto fail;
	snprintf(b->dirpath, sizeof b->dirpath, "%s", o->dir);
	if (pidfile_lock(b, err) < 0)
		goto fail;
	if (kb_cache_init(b, err) < 0)
		goto fail;
	/* the topics; partitions open at first use (and in the sweep) */
	if (klog_topic_list(b->d, &names, &n, err) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (!kb_topic_find(b, names[i]) && !kb_topic_load(b, names[i], err)) {
			klog_strv_free(names, n);
			goto fail;
		}
	klog_strv_free(names, n);
	if (b->nparts > b->o.max_partitions)
		kb_log(b, LOG_WARNING, "log directory '%s' holds %ld partitions, more than "
		    "--max-partitions %d: serving them all, creating no more", b->dirpath, b->nparts,
		    b->o.max_partitions);
	/* a small directory is checked whole before ready (what it fences
	 * said by then); a big one after, a batch per loop turn */
	b->sweep_timer = 0;
	if (b->nparts <= KB_SWEEP_BATCH)
		kb_sweep(NULL, b);
	b->nfiles = o->max_conns + 64 + 16;
	{
		/* the loop indexes records by descriptor: partitions hold many */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			b->nfiles = rl.rlim_cur > 262144 ? 262144 : (int)rl.rlim_cur;
		else
			b->nfiles = 262144;
		if (b->nfiles < 1024)
			b->nfiles = 1024;
	}
	if (!(b->loop = klog_loop_new(b->nfiles, err)))
		goto fail;
	if (o->listen_fd >= 0) {
		int acc = 0;
		socklen_t sl = sizeof acc;
		b->lfd = o->listen_fd;
		if (getsockopt(b->lfd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc) {
			kerr(err, "descriptor %d (socket activation) is not a listening socket", b->lfd);
			goto fail;
		}
		klog_net_nonblock(b->lfd, 1);
	} else if ((b->lfd = klog_net_listen(o->listen ? o->listen : "127.0.0.1", 1024, err)) < 0)
		goto fail;
	if (klog_net_local(b->lfd, b->addr, sizeof b->addr) < 0)
		snprintf(b->addr, sizeof b->addr, "?");
	if (kb_listen_check(b, err) < 0)
		goto fail;
	b->max_per_ip = o->max_conns_per_ip >= 0 ? o->max_conns_per_ip :
	    (o->max_conns / 4 > 64 ? o->max_conns / 4 : 64);
	if (b->lfd >= b->nfiles) {
		errno = EMFILE;
		kerr(err, "listening socket descriptor %d is past the limit", b->lfd);
		goto fail;
	}
	if (pipe2(b->sigpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		kerr_sys(err, "pipe");
		goto fail;
	}
	if (klog_loop_add(b->loop, b->lfd, KLOG_READABLE, kb_on_accept, b) < 0 ||
	    klog_loop_add(b->loop, b->sigpipe[0], KLOG_READABLE, on_signal, b) < 0) {
		kerr_sys(err, "event loop");
		goto fail;
	}
	klog_loop_before_sleep(b->loop, kb_before_sleep, b);
	b->idle_timer = klog_loop_timer(b->loop, 1000, idle_timer, b);
	if (b->sweep_timer == 0)
		b->sweep_timer = klog_loop_timer(b->loop, 0, kb_sweep, b);
	klog_loop_timer(b->loop, RETENTION_CHECK_MS, retention_timer, b);
	if (o->fsync_policy == KLOG_FSYNC_INTERVAL)
		b->sync_timer = klog_loop_timer(b->loop, o->fsync_interval_ms > 0 ?
		    o->fsync_interval_ms : 1000, kb_sync_timer, b);
	if (pidfile_write(b, err) < 0)
		goto fail;
	return b;
fail:
	{
		int e = errno;
		klog_broker_close(b);
		errno = e;
	}
	return NULL;
}

const char *
klog_broker_address(const struct klog_broker *b)
{
	return b->addr;
}

void
klog_broker_shutdown(struct klog_broker *b)
{
	int e = errno;
	ssize_t w;

	b->stop = 1;
	w = write(b->sigpipe[1], "x", 1);
	(void)w;
	errno = e;
}

int
klog_broker_run(struct klog_broker *b, char *err)
{
	struct conn *c, *n;
	size_t h;

	/* started here, not in open: a caller may fork between the two */
	if (kb_sync_start(b, err) < 0 || kb_compact_start(b, err) < 0 ||
	    kb_ctl_start(b, err) < 0 || kb_repl_start(b, err) < 0)
		return -1;
	kb_log(b, LOG_INFO, "serving '%s' on %s", b->dirpath, b->addr);
	if (!b->stop && klog_loop_run(b->loop) < 0)
		return kerr_sys(err, "event loop");
	/* drain */
	kb_log(b, LOG_INFO, "shutting down: draining %d connection%s", b->nconns,
	    b->nconns == 1 ? "" : "s");
	b->draining = 1;
	klog_loop_del(b->loop, b->lfd, KLOG_READABLE);
	close(b->lfd);
	b->lfd = -1;
	for (c = b->conns; c; c = n) {
		struct oitem *it;
		n = c->next;
		if (c->fd < 0)
			continue;
		klog_loop_del(b->loop, c->fd, KLOG_READABLE);
		c->paused = 0;
		kb_conn_process(c);
		while (c->fd >= 0) {
			for (it = c->head; it && it->kind != O_FETCH; it = it->next)
				;
			if (!it)
				break;
			kb_fetch_try(it, 1);
		}
	}
	for (c = b->conns; c; c = n) {
		n = c->next;
		if (c->fd < 0)
			continue;
		c->closing = 1;
		kb_conn_flush(c);
	}
	b->drain_deadline = klog_now_ms() + DRAIN_MS;
	kb_reap(b);
	while (b->conns && klog_now_ms() < b->drain_deadline) {
		klog_loop_once(b->loop, 100);
		kb_reap(b);
	}
	for (c = b->conns; c; c = c->next)
		kb_conn_close(c);
	kb_reap(b);
	/* the last job out, then everything, then recovery points, in one go */
	kb_repl_stop(b);
	kb_ctl_stop(b);
	kb_compact_stop(b);
	kb_sync_stop(b);
	kb_sync_all(b);
	for (h = 0; h < THASH; h++)
		while (b->topics[h]) {
			struct btopic *t = b->topics[h];
			b->topics[h] = t->next;
			kb_topic_free(b, t, 0);
		}
	kb_log(b, LOG_INFO, "stopped");
	return 0;
}

void
klog_broker_close(struct klog_broker *b)
{
	size_t h;

	if (!b)
		return;
	for (struct conn *c = b->conns; c; c = c->next)
		kb_conn_close(c);
	kb_reap(b);
	kb_sfile_release(b);
	kb_repl_stop(b);
	kb_ctl_stop(b);
	kb_compact_stop(b);
	kb_sync_stop(b);
	kb_group_free(b);
	for (h = 0; h < THASH; h++)
		while (b->topics[h]) {
			struct btopic *t = b->topics[h];
			b->topics[h] = t->next;
			kb_topic_free(b, t, 0);
		}
	kb_repl_free(b);
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->sigpipe[0] >= 0) {
		close(b->sigpipe[0]);
		close(b->sigpipe[1]);
	}
	if (b->pidfd >= 0) {
		/* in our directory: if it was removed and another made at its
		 * path, that one's broker keeps its pid file */
		unlinkat(b->d->fd, "kbrokerd.pid", 0);
		close(b->pidfd);
	}
	klog_loop_free(b->loop);
	klog_dir_close(b->d);
	free(b->dirtyv);
	free(b->growv);
	free(b->commitv);
	for (h = 0; h < b->nstart; h++)
		kb_part_put(b, b->startv[h]);
	free(b->startv);
	free(b->rpv);
	free(b->secret_pad);
	free(b);
}
