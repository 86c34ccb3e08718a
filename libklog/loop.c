/* klog - a tiny epoll event loop for the daemons. MIT licence. */
/*
 * Per-fd records in an array indexed by the fd (read and write callbacks,
 * the interest mask), a short list of timers whose nearest deadline sets
 * the epoll timeout, and a before-sleep hook that runs once per turn just
 * before the loop blocks: the broker does its group commit (one fsync per
 * dirty partition per turn, not per request) and flushes output there.
 * Callers ask for write interest only while they have output queued.
 * Level-triggered: a callback that leaves bytes unread is called again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "internal.h"

struct lfile {
	int mask;
	klog_loop_fn *rfn, *wfn;
	void *data;
};

struct ltimer {
	int64_t id, when;
	klog_timer_fn *fn;
	void *data;
	struct ltimer *next;
};

struct klog_loop {
	int epfd, maxfd;
	int nfiles;
	struct lfile *files;
	struct epoll_event *events;
	struct ltimer *timers;
	int64_t next_id;
	klog_hook_fn *before;
	void *before_data;
	int stop;
};

struct klog_loop *
klog_loop_new(int nfiles, char *err)
{
	struct klog_loop *l = calloc(1, sizeof *l);

	if (!l)
		goto fail;
	l->nfiles = nfiles;
	l->files = calloc((size_t)nfiles, sizeof *l->files);
	l->events = calloc((size_t)nfiles, sizeof *l->events);
	if (!l->files || !l->events)
		goto fail;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	l->next_id = 1;
	return l;
fail:
	kerr_sys(err, "event loop");
	if (l) {
		free(l->files);
		free(l->events);
		free(l);
	}
	return NULL;
}

void
klog_loop_free(struct klog_loop *l)
{
	struct ltimer *t, *n;

	if (!l)
		return;
	for (t = l->timers; t; t = n) {
		n = t->next;
		free(t);
	}
	close(l->epfd);
	free(l->files);
	free(l->events);
	free(l);
}

int
klog_loop_add(struct klog_loop *l, int fd, int mask, klog_loop_fn *fn, void *data)
{
	struct epoll_event ev;
	struct lfile *f;
	int nmask;

	if (fd < 0 || fd >= l->nfiles) {
		errno = EMFILE;
		return -1;
	}
	f = &l->files[fd];
	nmask = f->mask | mask;
	if (nmask != f->mask) {
		memset(&ev, 0, sizeof ev);
		ev.data.fd = fd;
		if (nmask & KLOG_READABLE)
			ev.events |= EPOLLIN;
		if (nmask & KLOG_WRITABLE)
			ev.events |= EPOLLOUT;
		if (epoll_ctl(l->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
			return -1;
	}
	f->mask = nmask;
	if (mask & KLOG_READABLE)
		f->rfn = fn;
	if (mask & KLOG_WRITABLE)
		f->wfn = fn;
	f->data = data;
	if (fd > l->maxfd)
		l->maxfd = fd;
	return 0;
}

void
klog_loop_del(struct klog_loop *l, int fd, int mask)
{
	struct epoll_event ev;
	struct lfile *f;

	if (fd < 0 || fd >= l->nfiles || !l->files[fd].mask)
		return;
	f = &l->files[fd];
	f->mask &= ~mask;
	memset(&ev, 0, sizeof ev);
	ev.data.fd = fd;
	if (f->mask & KLOG_READABLE)
		ev.events |= EPOLLIN;
	if (f->mask & KLOG_WRITABLE)
		ev.events |= EPOLLOUT;
	epoll_ctl(l->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ev);
	if (!f->mask)
		memset(f, 0, sizeof *f);
}

int
klog_loop_mask(struct klog_loop *l, int fd)
{
	return fd >= 0 && fd < l->nfiles ? l->files[fd].mask : 0;
}

int64_t
klog_loop_timer(struct klog_loop *l, int64_t ms, klog_timer_fn *fn, void *data)
{
	struct ltimer *t = calloc(1, sizeof *t);

	if (!t)
		return -1;
	t->id = l->next_id++;
	t->when = klog_now_ms() + ms;
	t->fn = fn;
	t->data = data;
	t->next = l->timers;
	l->timers = t;
	return t->id;
}

void
klog_loop_timer_del(struct klog_loop *l, int64_t id)
{
	struct ltimer **pp, *t;

	for (pp = &l->timers; (t = *pp); pp = &t->next)
		if (t->id == id) {
			*pp = t->next;
			free(t);
			return;
		}
}

void
klog_loop_before_sleep(struct klog_loop *l, klog_hook_fn *fn, void *data)
{
	l->before = fn;
	l->before_data = data;
}

void
klog_loop_stop(struct klog_loop *l)
{
	l->stop = 1;
}

/* run due timers; a timer returns the next interval in ms, or -1 to end */
static void
run_timers(struct klog_loop *l)
{
	int64_t now = klog_now_ms(), maxid = l->next_id;
	struct ltimer *t;

again:
	for (t = l->timers; t; t = t->next) {
		if (t->when <= now && t->id < maxid && t->fn) {
			int64_t id = t->id, next = t->fn(l, t->data);
			/* the callback may have changed the list: find it again */
			klog_loop_timer_del(l, next < 0 ? id : -1);
			if (next >= 0) {
				struct ltimer *u;
				for (u = l->timers; u; u = u->next)
					if (u->id == id)
						u->when = now + next;
			}
			goto again;
		}
	}
}

int
klog_loop_once(struct klog_loop *l, int max_wait_ms)
{
	struct ltimer *t;
	int64_t now, wait = max_wait_ms;
	int n, i;

	if (l->before)
		l->before(l, l->before_data);
	if (l->stop)
		return 0;
	now = klog_now_ms();
	for (t = l->timers; t; t = t->next) {
		int64_t d = t->when - now;
		if (d < 0)
			d = 0;
		if (wait < 0 || d < wait)
			wait = d;
	}
	n = epoll_wait(l->epfd, l->events, l->nfiles, (int)wait);
	if (n < 0 && errno != EINTR)
		return -1;
	for (i = 0; i < n; i++) {
		int fd = l->events[i].data.fd;
		uint32_t ev = l->events[i].events;
		struct lfile *f = &l->files[fd];
		if (f->mask & KLOG_READABLE && ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			f->rfn(l, fd, f->data, KLOG_READABLE);
		/* the callback may have removed it: the mask says */
		if (f->mask & KLOG_WRITABLE && ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			f->wfn(l, fd, f->data, KLOG_WRITABLE);
	}
	run_timers(l);
	return n < 0 ? 0 : n;
}

int
klog_loop_run(struct klog_loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (klog_loop_once(l, -1) < 0)
			return -1;
	return 0;
}
