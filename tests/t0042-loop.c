/* klog - tests for the event loop: fd callbacks, write interest, timers, hooks. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
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
	cmp_ok(hooks, >=, 3, "the before-sleep hook runs every turn (%d)", hooks);

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
	return done_testing();
}
