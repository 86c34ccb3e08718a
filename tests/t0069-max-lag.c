/* klog - unit tests of klog_group_lag and the producer's backpressure (producer.c). MIT licence. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

static char root[PATH_MAX], err[KLOG_ERRLEN];
static int evfd = -1;                   /* the child tells the parent: 'w' waiting, 'r' resumed */
static volatile sig_atomic_t stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int
stop(void *arg)
{
	(void)arg;
	return stop_flag;
}

static void
waiting(void *arg, const char *group, const char *topic, int64_t lag, int64_t limit, int resumed)
{
	char c = resumed ? 'r' : 'w';

	(void)arg;
	(void)group;
	(void)topic;
	(void)lag;
	(void)limit;
	if (write(evfd, &c, 1) != 1)
		_exit(3);
}

/* the child: 10 records into t with backpressure on group; exit 0 when written */
static void
child(const char *group)
{
	struct klog_producer_opts o = { .partition = -1, .codec = -1, .lag_group = group,
	    .max_lag = 100, .waiting = waiting, .stop = stop };
	struct sigaction sa;
	struct klog_producer *pr;
	struct klog_log *lg;
	int i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;        /* no SA_RESTART: the wait ends */
	sigaction(SIGTERM, &sa, NULL);
	if (!(lg = klog_log_open(root, NULL, 0, err)) || !(pr = klog_producer_open(lg, "t", &o, err)))
		_exit(4);
	for (i = 0; i < 10; i++)
		if (klog_producer_send(pr, klog_now_ms(), NULL, -1, "x", 1, err) != 0)
			_exit(5);
	if (klog_producer_flush(pr, err) < 0)
		_exit(6);
	klog_producer_close(pr);
	klog_log_close(lg);
	_exit(0);
}

static pid_t
spawn(const char *group, int *rfd)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		evfd = pfd[1];
		child(group);
	}
	close(pfd[1]);
	*rfd = pfd[0];
	return pid;
}

static int64_t
total_end(struct klog_log *lg)
{
	struct klog_part_info *pi;
	int64_t sum = 0;
	int n, i;

	if (klog_log_describe(lg, "t", &pi, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++)
		sum += pi[i].log_end;
	free(pi);
	return sum;
}

/* commit every partition of t at its end for group */
static int
commit_all(struct klog_log *lg, const char *group)
{
	struct klog_part_info *pi;
	struct klog_gcommit c[2];
	int n, i, rc;

	if (klog_log_describe(lg, "t", &pi, &n, err) < 0 || n != 2)
		return -1;
	for (i = 0; i < 2; i++)
		c[i] = (struct klog_gcommit){ "t", i, pi[i].log_end, klog_now_ms() };
	free(pi);
	rc = klog_group_set_offsets(lg, group, c, 2, err);
	return rc;
}

static char
event(int fd)
{
	char c = 0;

	return read(fd, &c, 1) == 1 ? c : 0;
}

int
main(void)
{
	struct klog_producer_opts o = { .partition = -1, .codec = -1 };
	struct klog_part_info *pi = NULL;
	struct klog_gcommit c;
	struct klog_producer *pr = NULL;
	struct klog_log *lg;
	char cmd[PATH_MAX + 16];
	int64_t lag = -1;
	int i, n = 0, fd, st;
	pid_t pid;

	snprintf(root, sizeof root, "/tmp/klog-t0069-XXXXXX");
	if (!mkdtemp(root))
		skip_all("mkdtemp failed");
	lg = klog_log_open(root, NULL, KLOG_CREATE, err);
	if (!lg)
		skip_all("cannot open %s: %s", root, err);
	ok(klog_log_create(lg, "t", 2, NULL, 0, err) == 0, "create topic t, 2 partitions");
	for (i = 0; i < 150; i++) {
		if (i == 0 || i == 100) {
			o.partition = i == 0 ? 0 : 1;
			pr = klog_producer_open(lg, "t", &o, err);
		}
		if (pr)
			klog_producer_send(pr, klog_now_ms(), NULL, -1, "v", 1, err);
		if (pr && (i == 99 || i == 149)) {
			ok(klog_producer_flush(pr, err) == 0, "%d records into t-%d", i < 100 ? 100 : 50,
			    o.partition);
			klog_producer_close(pr);
		}
	}
	o.partition = -1;
	ok(klog_log_describe(lg, "t", &pi, &n, err) == 0 && n == 2 && pi[0].log_end == 100 &&
	    pi[1].log_end == 50, "describe t: 100 and 50");

	/* klog_group_lag */
	n = klog_group_lag(lg, "g", "t", &lag, err);
	ok(n == 0 && lag == 150, "a group never seen lags the whole topic (%lld)", (long long)lag);
	c = (struct klog_gcommit){ "t", 0, pi[0].log_end, klog_now_ms() };
	ok(klog_group_set_offsets(lg, "g", &c, 1, err) == 0, "commit partition 0 at its end");
	n = klog_group_lag(lg, "g", "t", &lag, err);
	ok(n == 0 && lag == 50, "then only partition 1 lags, from its start (%lld)",
	    (long long)lag);
	c = (struct klog_gcommit){ "t", 1, pi[1].log_end - 5, klog_now_ms() };
	ok(klog_group_set_offsets(lg, "g", &c, 1, err) == 0, "commit partition 1 five short");
	n = klog_group_lag(lg, "g", "t", &lag, err);
	ok(n == 0 && lag == 5, "lag 5 (%lld)", (long long)lag);
	errno = 0;
	ok(klog_group_lag(lg, "g", "nosuch", &lag, err) == -1 && errno == ENOENT,
	    "an unknown topic: ENOENT (%s)", err);
	errno = 0;
	ok(klog_group_lag(lg, "b@d", "t", &lag, err) == -1 && errno == EINVAL,
	    "a bad group name: EINVAL (%s)", err);
	free(pi);

	/* a producer waits while g2 lags 150 > 100, commits release it */
	pid = spawn("g2", &fd);
	ok(pid > 0 && event(fd) == 'w', "the producer says it waits");
	cmp_ok(total_end(lg), ==, 150, "and wrote nothing");
	ok(commit_all(lg, "g2") == 0, "g2 commits everything");
	ok(event(fd) == 'r', "the producer says it resumes");
	st = -1;
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "and ends well");
	cmp_ok(total_end(lg), ==, 160, "its 10 records are written");
	close(fd);

	/* SIGTERM while waiting: stop() ends the wait, the batch is written */
	pid = spawn("g3", &fd);
	ok(pid > 0 && event(fd) == 'w', "a producer on g3 (no commit: lag 160) waits");
	kill(pid, SIGTERM);
	st = -1;
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: it ends well");
	ok(event(fd) == 0, "without saying it resumed");
	cmp_ok(total_end(lg), ==, 170, "what it had was written");
	close(fd);

	/* the options are checked at open */
	o.lag_group = "b@d";
	o.max_lag = 1;
	errno = 0;
	ok(!klog_producer_open(lg, "t", &o, err) && errno == EINVAL, "a bad group name: EINVAL");
	o.lag_group = "g";
	o.max_lag = -1;
	errno = 0;
	ok(!klog_producer_open(lg, "t", &o, err) && errno == EINVAL, "a negative limit: EINVAL");

	klog_log_close(lg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		diag("could not remove %s", root);
	return done_testing();
}
