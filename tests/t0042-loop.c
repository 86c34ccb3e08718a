/* klog - tests for the event loop: fd callbacks, write interest, timers, hooks. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"
#include "tap.h"

static char order[64];
static int reads, writes, hooks, ticks;

static int64_t
t_mark(struct klog_loop *l, void *data)
{
	strcat(order, data);
	return -1;
}

static int64_t
t_tick(struct klog_loop *l, void *data)
{
	if (++ticks == 3) {
		klog_loop_stop(l);
		return -1;
	}
	return 5;
}

static void
on_read(struct klog_loop *l, int fd, void *data, int mask)
{
	char buf[16];

	if (mask == KLOG_READABLE && read(fd, buf, sizeof buf) > 0)
		reads++;
}

static void
on_write(struct klog_loop *l, int fd, void *data, int mask)
{
	if (mask == KLOG_WRITABLE)
		writes++;
	klog_loop_del(l, fd, KLOG_WRITABLE);    /* nothing more queued */
}

static void
hook(struct klog_loop *l, void *data)
{
	hooks++;
}

/* --- many timers: the heap ------------------------------------------- */

#define NT 20000
static int64_t ids[NT], due[NT], due_hi[NT], fired_at[NT];
static int fired[NT], nfired, order_bad, unexpected;
static char deleted[NT];

static int64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
t_many(struct klog_loop *l, void *data)
{
	int i = (int)(intptr_t)data;

	if (deleted[i])
		unexpected++;
	/* nearest first: the deadline is known within [due, due_hi] (the
	 * clock may tick while a timer is added) */
	if (nfired > 0 && due_hi[i] < due[fired[nfired - 1]])
		order_bad++;
	fired_at[i] = mono();
	fired[nfired++] = i;
	return -1;
}

static int64_t victim = -1, self_id = -1;
static int victim_ran, self_ran, late_ran, late_turn, turns;

static int64_t
t_victim(struct klog_loop *l, void *data)
{
	victim_ran++;
	return -1;
}

static int64_t
t_late(struct klog_loop *l, void *data)
{
	late_ran++;
	late_turn = turns;
	return -1;
}

/* deletes a timer due in the same run, adds a 0 ms one, deletes itself and asks to repeat */
static int64_t
t_killer(struct klog_loop *l, void *data)
{
	klog_loop_timer_del(l, victim);
	klog_loop_timer(l, 0, t_late, NULL);
	klog_loop_timer_del(l, self_id);
	self_ran++;
	return 1;
}

static void
heap_tests(void)
{
	char err[KLOG_ERRLEN];
	struct klog_loop *l = klog_loop_new(16, err);
	int i, n, ndel = 0, missing = 0, early = 0, guard;
	unsigned seed = 7;
	int64_t stale, t0;

	if (!l)
		return;
	/* random deadlines 0..60 ms, a third deleted again (in random order) */
	for (i = 0; i < NT; i++) {
		int64_t ms;
		seed = seed * 1103515245 + 12345;
		ms = (seed >> 16) % 61;
		due[i] = mono() + ms;
		ids[i] = klog_loop_timer(l, ms, t_many, (void *)(intptr_t)i);
		due_hi[i] = mono() + ms;
		if (ids[i] <= 0)
			break;
	}
	cmp_ok(i, ==, NT, "%d timers added", NT);
	for (i = 0; i < NT; i++) {
		seed = seed * 1103515245 + 12345;
		n = (int)((seed >> 8) % NT);
		if (!deleted[n]) {
			klog_loop_timer_del(l, ids[n]);
			deleted[n] = 1;
			ndel++;
		}
		if (ndel >= NT / 3)
			break;
	}
	for (guard = 0; guard < 10000 && nfired + ndel < NT; guard++)
		klog_loop_once(l, 100);
	for (i = 0, n = 0; i < NT; i++)
		n += deleted[i];
	cmp_ok(nfired, ==, NT - n, "every timer not deleted fired once (%d)", nfired);
	cmp_ok(unexpected, ==, 0, "no deleted timer fired");
	cmp_ok(order_bad, ==, 0, "in deadline order");
	for (i = 0; i < NT; i++) {
		if (!deleted[i] && !fired_at[i])
			missing++;
		if (fired_at[i] && fired_at[i] < due[i])
			early++;
	}
	cmp_ok(missing, ==, 0, "none missing");
	cmp_ok(early, ==, 0, "none early");

	/* a stale id (of a timer that ended) does not delete its slot's next tenant */
	nfired = 0;
	memset(deleted, 0, sizeof deleted);
	memset(fired_at, 0, sizeof fired_at);
	stale = klog_loop_timer(l, 0, t_many, (void *)(intptr_t)1);
	due[1] = mono();
	due_hi[1] = INT64_MAX;
	for (guard = 0; guard < 100 && nfired < 1; guard++)
		klog_loop_once(l, 100);
	cmp_ok(nfired, ==, 1, "a timer fired");
	due[2] = mono();
	due_hi[2] = INT64_MAX;
	ids[2] = klog_loop_timer(l, 0, t_many, (void *)(intptr_t)2);
	ok(ids[2] != stale, "a new timer has a new id");
	klog_loop_timer_del(l, stale);
	for (guard = 0; guard < 100 && nfired < 2; guard++)
		klog_loop_once(l, 100);
	cmp_ok(nfired, ==, 2, "deleting a stale id left the new timer alone");

	/* a callback deletes a timer due in the same run and itself; a 0 ms
	 * timer it adds waits for the next turn */
	self_id = klog_loop_timer(l, 0, t_killer, NULL);
	victim = klog_loop_timer(l, 0, t_victim, NULL);
	turns = 0;
	t0 = mono();
	while (!self_ran && mono() - t0 < 1000) {
		turns++;
		klog_loop_once(l, 100);
	}
	n = turns;
	while (!late_ran && mono() - t0 < 1000) {
		turns++;
		klog_loop_once(l, 100);
	}
	cmp_ok(self_ran, ==, 1, "the killer ran");
	cmp_ok(victim_ran, ==, 0, "the timer it deleted did not");
	cmp_ok(late_ran, ==, 1, "the 0 ms timer it added ran");
	cmp_ok(late_turn, >, n, "on a later turn");
	for (i = 0; i < 5; i++)
		klog_loop_once(l, 0);
	cmp_ok(self_ran, ==, 1, "a timer deleted in its own callback does not repeat");

	/* nowait: a loop with nothing to wait for returns at once */
	klog_loop_nowait(l);
	alarm(5);
	cmp_ok(klog_loop_once(l, -1), ==, 0, "nowait: the next turn does not block");
	alarm(0);
	klog_loop_free(l);
}

int
main(void)
{
	char err[KLOG_ERRLEN];
	struct klog_loop *l = klog_loop_new(1024, err);
	int p[2], i;
	int64_t id, t0;

	ok(l != NULL, "a loop");
	if (!l || pipe2(p, O_NONBLOCK) < 0)
		return done_testing();
	klog_loop_before_sleep(l, hook, NULL);

	/* timers fire in deadline order, whatever the order they were added */
	klog_loop_timer(l, 30, t_mark, "c");
	klog_loop_timer(l, 10, t_mark, "a");
	id = klog_loop_timer(l, 20, t_mark, "x");
	klog_loop_timer(l, 20, t_mark, "b");
	klog_loop_timer_del(l, id);
	t0 = klog_now_ms();
	for (i = 0; i < 50 && strlen(order) < 3; i++)
		klog_loop_once(l, 100);
	is(order, "abc", "timers in deadline order, a deleted one never fires");
	cmp_ok(klog_now_ms() - t0, >=, 29, "and not early");
	/* however many turns a loaded machine needed: one hook each */
	cmp_ok(hooks, ==, i, "the before-sleep hook runs every turn (%d turns)", i);

	/* readable */
	cmp_ok(klog_loop_add(l, p[0], KLOG_READABLE, on_read, NULL), ==, 0, "watch a pipe");
	cmp_ok(klog_loop_mask(l, p[0]), ==, KLOG_READABLE, "mask readable");
	klog_loop_once(l, 0);
	cmp_ok(reads, ==, 0, "nothing to read: no call");
	if (write(p[1], "x", 1) != 1)
		diag("write");
	klog_loop_once(l, 1000);
	cmp_ok(reads, ==, 1, "readable: one call");

	/* write interest only while asked for */
	cmp_ok(klog_loop_add(l, p[1], KLOG_WRITABLE, on_write, NULL), ==, 0, "write interest");
	klog_loop_once(l, 1000);
	cmp_ok(writes, ==, 1, "writable: called");
	cmp_ok(klog_loop_mask(l, p[1]), ==, 0, "interest dropped by the callback");
	klog_loop_once(l, 0);
	cmp_ok(writes, ==, 1, "not called again");

	/* both on one fd, then delete one */
	klog_loop_add(l, p[0], KLOG_WRITABLE, on_write, NULL);  /* a pipe's read end never is */
	cmp_ok(klog_loop_mask(l, p[0]), ==, KLOG_READABLE | KLOG_WRITABLE, "both");
	klog_loop_del(l, p[0], KLOG_WRITABLE);
	cmp_ok(klog_loop_mask(l, p[0]), ==, KLOG_READABLE, "read stays");
	klog_loop_del(l, p[0], KLOG_READABLE);
	if (write(p[1], "y", 1) != 1)
		diag("write");
	klog_loop_once(l, 0);
	cmp_ok(reads, ==, 1, "deleted: no more calls");

	/* a repeating timer stops the loop */
	klog_loop_timer(l, 5, t_tick, NULL);
	cmp_ok(klog_loop_run(l), ==, 0, "run until stopped");
	cmp_ok(ticks, ==, 3, "a repeating timer fired 3 times");

	errno = 0;
	cmp_ok(klog_loop_add(l, 5000, KLOG_READABLE, on_read, NULL), ==, -1, "fd past the table");
	cmp_ok(errno, ==, EMFILE, "EMFILE");
	klog_loop_free(l);
	heap_tests();
	return done_testing();
}
