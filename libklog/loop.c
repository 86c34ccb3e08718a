/* klog - a tiny epoll event loop for the daemons. MIT licence. */
/*
 * Per-fd records in an array indexed by the fd (read and write callbacks,
 * the interest mask), timers in a min-heap whose top sets the epoll
 * timeout (a broker holds one per waiting fetch: tens of thousands), and a
 * before-sleep hook that runs once per turn just before the loop blocks:
 * the broker does its group commit (one fsync per dirty partition per
 * turn, not per request) and flushes output there; a hook that left work
 * for the next turn calls klog_loop_nowait so the loop does not block.
 * Callers ask for write interest only while they have output queued.
 * Level-triggered: a callback that leaves bytes unread is called again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct lfile {
	int mask;
	klog_loop_fn *rfn, *wfn;
	void *data;
};

/*
 * Timers live in a table of slots (reused through a free list) and a
 * binary min-heap of slot numbers ordered by (deadline, sequence): adding
 * and deleting are O(log n), the nearest deadline is the heap's top.  A
 * timer's id is its slot and the slot's generation, so a stale id (of a
 * timer that ended) never deletes the slot's next tenant.
 */
struct ltimer {
	int64_t when;                   /* monotonic ms */
	uint64_t seq;                   /* ties: the older first */
	klog_timer_fn *fn;
	void *data;
	uint32_t gen;                   /* 0: free */
	int32_t hpos;                   /* index in the heap; -1: out of it (running, free) */
	int32_t next_free;
	int cancelled;                  /* deleted while its callback ran */
};

struct klog_loop {
	int epfd, maxfd;
	int nfiles;
	struct lfile *files;
	struct epoll_event *events;
	struct ltimer *tv;              /* slots */
	int32_t ntv, free_slot;
	int32_t *heap;                  /* slot numbers; capacity ntv */
	int32_t nheap;
	uint32_t gen;
	uint64_t seq;
	klog_hook_fn *before;
	void *before_data;
	int stop, nowait;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	l->free_slot = -1;
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
	if (!l)
		return;
	free(l->tv);
	free(l->heap);
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

/* --- timers: a min-heap ---------------------------------------------- */

static int
tless(const struct klog_loop *l, int32_t a, int32_t b)
{
	const struct ltimer *x = &l->tv[a], *y = &l->tv[b];

	return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

static void
hset(struct klog_loop *l, int32_t i, int32_t slot)
{
	l->heap[i] = slot;
	l->tv[slot].hpos = i;
}

static void
sift_up(struct klog_loop *l, int32_t i)
{
	int32_t slot = l->heap[i];

	while (i > 0) {
		int32_t p = (i - 1) / 2;
		if (!tless(l, slot, l->heap[p]))
			break;
		hset(l, i, l->heap[p]);
		i = p;
	}
	hset(l, i, slot);
}

static void
sift_down(struct klog_loop *l, int32_t i)
{
	int32_t slot = l->heap[i];

	for (;;) {
		int32_t k = 2 * i + 1;
		if (k >= l->nheap)
			break;
		if (k + 1 < l->nheap && tless(l, l->heap[k + 1], l->heap[k]))
			k++;
		if (!tless(l, l->heap[k], slot))
			break;
		hset(l, i, l->heap[k]);
		i = k;
	}
	hset(l, i, slot);
}

static void
heap_push(struct klog_loop *l, int32_t slot)
{
	l->heap[l->nheap] = slot;
	sift_up(l, l->nheap++);
}

static void
heap_remove(struct klog_loop *l, int32_t slot)
{
	int32_t i = l->tv[slot].hpos, last;

	if (i < 0)
		return;
	l->tv[slot].hpos = -1;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	hset(l, i, last);
	if (i > 0 && tless(l, last, l->heap[(i - 1) / 2]))
		sift_up(l, i);
	else
		sift_down(l, i);
}

static void
slot_free(struct klog_loop *l, int32_t slot)
{
	struct ltimer *t = &l->tv[slot];

	t->gen = 0;
	t->fn = NULL;
	t->data = NULL;
	t->next_free = l->free_slot;
	l->free_slot = slot;
}

/* the slot an id names, or -1 */
static int32_t
id_slot(struct klog_loop *l, int64_t id)
{
	int64_t slot = id & 0xffffffff;

	if (id <= 0 || slot >= l->ntv || l->tv[slot].gen != (uint32_t)(id >> 32))
		return -1;
	return (int32_t)slot;
}

int64_t
klog_loop_timer(struct klog_loop *l, int64_t ms, klog_timer_fn *fn, void *data)
{
	struct ltimer *t;
	int32_t slot;

	if (l->free_slot < 0) {
		int32_t n = l->ntv ? l->ntv * 2 : 16, i;
		struct ltimer *tv;
		int32_t *heap;
		if (l->ntv >= INT32_MAX / 2 || !(tv = realloc(l->tv, (size_t)n * sizeof *tv)))
			return -1;
		l->tv = tv;
		if (!(heap = realloc(l->heap, (size_t)n * sizeof *heap)))
			return -1;
		l->heap = heap;
		for (i = n - 1; i >= l->ntv; i--) {
			memset(&tv[i], 0, sizeof tv[i]);
			tv[i].hpos = -1;
			tv[i].next_free = l->free_slot;
			l->free_slot = i;
		}
		l->ntv = n;
	}
	slot = l->free_slot;
	t = &l->tv[slot];
	l->free_slot = t->next_free;
	if (++l->gen > 0x7fffffff)      /* ids stay positive */
		l->gen = 1;
	t->gen = l->gen;
	t->when = mono_ms() + (ms > 0 ? ms : 0);
	t->seq = l->seq++;
	t->fn = fn;
	t->data = data;
	t->cancelled = 0;
	heap_push(l, slot);
	return (int64_t)t->gen << 32 | slot;
}

void
klog_loop_timer_del(struct klog_loop *l, int64_t id)
{
	int32_t slot = id_slot(l, id);

	if (slot < 0)
		return;
	if (l->tv[slot].hpos < 0) {     /* its callback is running: end it after */
		l->tv[slot].cancelled = 1;
		return;
	}
	heap_remove(l, slot);
	slot_free(l, slot);
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

void
klog_loop_nowait(struct klog_loop *l)
{
	l->nowait = 1;
}

/*
 * Run the timers due now that existed when the run began, nearest first:
 * one taken off the heap at a time, so callbacks may add or delete any
 * timer.  Timers added meanwhile (and a repeating timer's next round) get
 * a later sequence and wait for the next turn, even at 0 ms.
 */
static void
run_timers(struct klog_loop *l)
{
	int64_t now = mono_ms();
	uint64_t maxseq = l->seq;

	while (l->nheap > 0) {
		int32_t slot = l->heap[0];
		struct ltimer *t = &l->tv[slot];
		int64_t next;
		if (t->when > now || t->seq >= maxseq)
			break;
		heap_remove(l, slot);
		next = t->fn(l, t->data);
		t = &l->tv[slot];       /* the table may have moved */
		if (next < 0 || t->cancelled) {
			slot_free(l, slot);
			continue;
		}
		t->when = now + next;
		t->seq = l->seq++;
		heap_push(l, slot);
	}
}

int
klog_loop_once(struct klog_loop *l, int max_wait_ms)
{
	int64_t wait = max_wait_ms;
	int n, i;

	if (l->before)
		l->before(l, l->before_data);
	if (l->stop)
		return 0;
	if (l->nowait) {
		l->nowait = 0;
		wait = 0;
	}
	if (l->nheap > 0) {
		int64_t d = l->tv[l->heap[0]].when - mono_ms();
		if (d < 0)
			d = 0;
		if (wait < 0 || d < wait)
			wait = d;
	}
	if (wait > INT32_MAX)
		wait = INT32_MAX;
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
