/* klog - tests for Kafka's text checkpoint files. MIT licence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klog.h"
#include "tap.h"

#define FIXTURE "../shared/fixtures/kafka-logdir"
#define ROUNDS 200

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		diag("cannot write %s", path);
}

static void
test_fixture(void)
{
	struct klog_ckpt_entry *e;
	char err[KLOG_ERRLEN];
	size_t n;

	if (access(FIXTURE, F_OK) != 0) {
		skip(7, "no Kafka fixture at %s", FIXTURE);
		return;
	}
	if (!ok(klog_ckpt_read(FIXTURE "/recovery-point-offset-checkpoint", &e, &n, err) == 0,
	    "read the fixture's recovery-point-offset-checkpoint"))
		diag("%s", err);
	cmp_ok(n, ==, 1, "... one entry");
	if (n == 1) {
		is(e[0].topic, "foo", "... topic foo");
		cmp_ok(e[0].partition, ==, 0, "... partition 0");
		cmp_ok(e[0].offset, ==, 3, "... offset 3");
	} else {
		skip(3, "wrong entry count");
	}
	free(e);
	ok(klog_ckpt_read(FIXTURE "/cleaner-offset-checkpoint", &e, &n, err) == 0,
	    "read the empty cleaner-offset-checkpoint");
	cmp_ok(n, ==, 0, "... no entries");
	free(e);
}

static void
test_roundtrip(void)
{
	struct klog_ckpt_entry in[3] = {
		{ "orders", 0, 0 },
		{ "orders", 7, 1234567890123LL },
		{ "__consumer_offsets", 49, -1 },
	}, *e = NULL;
	char err[KLOG_ERRLEN], path[PATH_MAX], *text;
	size_t n, i;
	int good;

	snprintf(path, sizeof path, "%s/ckpt", tmpdir);
	ok(klog_ckpt_write(path, in, 3, err) == 0, "write three entries");
	if (klog_read_file(path, &text, NULL, err) == 0) {
		is(text, "0\n3\norders 0 0\norders 7 1234567890123\n__consumer_offsets 49 -1\n",
		    "... Kafka's text layout");
		free(text);
	} else {
		ok(0, "read back: %s", err);
	}
	ok(klog_ckpt_read(path, &e, &n, err) == 0 && n == 3, "read them back");
	good = n == 3;
	for (i = 0; good && i < 3; i++)
		good = !strcmp(e[i].topic, in[i].topic) && e[i].partition == in[i].partition &&
		    e[i].offset == in[i].offset;
	ok(good, "... identical");
	free(e);
	ok(klog_ckpt_write(path, in, 0, err) == 0, "write zero entries");
	ok(klog_ckpt_read(path, &e, &n, err) == 0 && n == 0, "... reads back as zero");
	free(e);

	strcpy(in[0].topic, "a b");
	ok(klog_ckpt_write(path, in, 1, err) < 0, "a bad topic name is not written");

	/* whitespace runs and a missing final newline are fine */
	write_file("loose", "0\n2\nfoo\t0   3\n  bar 1 2");
	snprintf(path, sizeof path, "%s/loose", tmpdir);
	ok(klog_ckpt_read(path, &e, &n, err) == 0 && n == 2 && e[1].offset == 2 &&
	    !strcmp(e[0].topic, "foo"), "fields split on any white space");
	free(e);
}

static void
bad(const char *text, const char *want, const char *what)
{
	struct klog_ckpt_entry *e = NULL;
	char err[KLOG_ERRLEN], path[128], msg[KLOG_ERRLEN];
	size_t n;

	write_file("bad", text);
	snprintf(path, sizeof path, "%s/bad", tmpdir);
	snprintf(msg, sizeof msg, "checkpoint '%s'%s", path, want);
	errno = 0;
	ok(klog_ckpt_read(path, &e, &n, err) < 0 && errno == EINVAL && !e, "%s refused", what);
	is(err, msg, "... message");
}

static void
test_malformed(void)
{
	struct klog_ckpt_entry *e;
	char err[KLOG_ERRLEN], path[PATH_MAX];
	size_t n;

	bad("1\n0\n", " line 1: unsupported version '1'", "version 1");
	bad("0\n", ": no entry count", "missing count");
	bad("0\nx\n", " line 2: bad entry count", "junk count");
	bad("0\n-1\n", " line 2: bad entry count", "negative count");
	bad("0\n2\nfoo 0 3\n", " line 4: expected 2 entries, found 1", "too few entries");
	bad("0\n1\nfoo 0 3\nbar 0 1\n", " line 4: more than 1 entries", "too many entries");
	bad("0\n1\nfoo 0\n", " line 3: expected 'topic partition offset'", "two fields");
	bad("0\n1\nfoo 0 3 4\n", " line 3: expected 'topic partition offset'", "four fields");
	bad("0\n2\nfoo 0 3\n\nbar 0 1\n", " line 4: expected 'topic partition offset'",
	    "blank line");
	bad("0\n1\nfoo -1 3\n", " line 3: bad partition '-1'", "negative partition");
	bad("0\n1\nfoo 0 3x\n", " line 3: bad offset '3x'", "junk offset");
	bad("0\n1\na/b 0 3\n", " line 3: bad topic name", "bad topic name");

	snprintf(path, sizeof path, "%s/missing", tmpdir);
	errno = 0;
	ok(klog_ckpt_read(path, &e, &n, err) < 0 && errno == ENOENT, "missing file: ENOENT");
}

static int
child(const char *dir, int partition)
{
	struct klog_ckpt_entry *e;
	char err[KLOG_ERRLEN], path[PATH_MAX];
	struct klog_dir *d;
	size_t n, i;
	int k;

	if (!(d = klog_dir_open(dir, 0, err)))
		return 1;
	snprintf(path, sizeof path, "%s/replication-offset-checkpoint", dir);
	for (k = 1; k <= ROUNDS; k++) {
		if (klog_ckpt_update(d, "replication-offset-checkpoint", "t", partition, k,
		    err) < 0) {
			fprintf(stderr, "child %d: %s\n", partition, err);
			return 1;
		}
		/* with the lock no later writer may have put back an older value */
		if (klog_ckpt_read(path, &e, &n, err) < 0) {
			fprintf(stderr, "child %d: %s\n", partition, err);
			return 1;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(e[i].topic, "t") && e[i].partition == partition)
				break;
		if (i == n || e[i].offset != k) {
			fprintf(stderr, "child %d: lost update %d\n", partition, k);
			free(e);
			return 1;
		}
		free(e);
	}
	klog_dir_close(d);
	return 0;
}

static void
test_update(void)
{
	struct klog_ckpt_entry *e = NULL;
	char err[KLOG_ERRLEN], path[PATH_MAX];
	struct klog_dir *d;
	pid_t pid[2];
	int i, st, good = 1;
	size_t n;

	d = klog_dir_open(tmpdir, 0, err);
	ok(d != NULL, "open temp dir");
	if (!d)
		return;
	snprintf(path, sizeof path, "%s/replication-offset-checkpoint", tmpdir);
	ok(klog_ckpt_update(d, "replication-offset-checkpoint", "other", 3, 42, err) == 0,
	    "update creates a missing file");
	ok(klog_ckpt_update(d, "replication-offset-checkpoint", "other", 3, 43, err) == 0,
	    "update an existing entry");
	ok(klog_ckpt_read(path, &e, &n, err) == 0 && n == 1 && e[0].offset == 43,
	    "... replaced, not added");
	free(e);
	ok(klog_ckpt_update(d, "replication-offset-checkpoint", "../x", 0, 1, err) < 0,
	    "update refuses a bad topic name");

	fflush(stdout);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0)
			_exit(child(tmpdir, i));
		if (pid[i] < 0)
			good = 0;
	}
	for (i = 0; i < 2; i++)
		if (pid[i] > 0 && (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0))
			good = 0;
	ok(good, "two processes updated their own partition %d times each, nothing lost", ROUNDS);
	ok(klog_ckpt_read(path, &e, &n, err) == 0 && n == 3, "... three entries at the end");
	for (i = 0; i < 2; i++) {
		size_t j;
		for (j = 0; j < n; j++)
			if (!strcmp(e[j].topic, "t") && e[j].partition == i)
				break;
		ok(j < n && e[j].offset == ROUNDS, "... t %d at %d", i, ROUNDS);
	}
	ok(n == 3 && !strcmp(e[0].topic, "other") && e[0].offset == 43,
	    "... the earlier entry survived");
	free(e);
	klog_dir_close(d);
}

static void
test_epochs(void)
{
	struct klog_epoch_entry *e = NULL;
	struct klog_ckpt_entry *c = NULL;
	char err[KLOG_ERRLEN], path[PATH_MAX];
	size_t n;

	write_file("leader-epoch-checkpoint", "0\n2\n0 0\n2 3\n");
	snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", tmpdir);
	ok(klog_epoch_read(path, &e, &n, err) == 0 && n == 2, "leader-epoch-checkpoint: two entries");
	ok(n == 2 && e[0].epoch == 0 && e[0].start_offset == 0 && e[1].epoch == 2 &&
	    e[1].start_offset == 3, "... epoch 0 from 0, epoch 2 from 3");
	free(e);
	errno = 0;
	ok(klog_ckpt_read(path, &c, &n, err) < 0 && errno == EINVAL && !c,
	    "... is not a topic-partition-offset checkpoint");
	write_file("epochs-bad", "0\n1\n-1 3\n");
	snprintf(path, sizeof path, "%s/epochs-bad", tmpdir);
	e = NULL;
	ok(klog_epoch_read(path, &e, &n, err) < 0 && errno == EINVAL && !e, "a negative epoch refused");
	ok(strstr(err, "line 3: bad epoch '-1'") != NULL, "... naming line and field: %s", err);
	write_file("epochs-count", "0\n3\n0 0\n1 5\n");
	snprintf(path, sizeof path, "%s/epochs-count", tmpdir);
	ok(klog_epoch_read(path, &e, &n, err) < 0 && errno == EINVAL, "a count that disagrees refused");
	write_file("epochs-3", "0\n1\nfoo 0 1\n");
	snprintf(path, sizeof path, "%s/epochs-3", tmpdir);
	ok(klog_epoch_read(path, &e, &n, err) < 0 && strstr(err, "expected 'epoch offset'"),
	    "three fields are not an epoch entry");
	if (access(FIXTURE, F_OK) != 0) {
		skip(2, "no Kafka fixture at %s", FIXTURE);
		return;
	}
	ok(klog_epoch_read(FIXTURE "/foo-0/leader-epoch-checkpoint", &e, &n, err) == 0,
	    "the fixture's foo-0/leader-epoch-checkpoint reads");
	ok(n >= 1 && e[0].start_offset == 0, "... its first epoch starts at offset 0");
	free(e);
}

int
main(void)
{
	char cmd[PATH_MAX];

	strcpy(tmpdir, "/tmp/klog-t0008-XXXXXX");
	if (!mkdtemp(tmpdir))
		skip_all("cannot make a temp directory");
	plan(59);
	test_fixture();
	test_roundtrip();
	test_malformed();
	test_update();
	test_epochs();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
