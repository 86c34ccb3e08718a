/* klog - a test member of an embedded consumer group (libklog's group calls). MIT licence. */
/*
 *	kgroupdrv -d DIR -g GROUP [-s STRATEGY] [-i INSTANCE] [-S SESSION_MS] [-C CLIENT]
 *		[-o FILE] [-c T:P]... [-R OFFSET] [-x] TOPIC...
 *		joins, then prints one line per event, flushed:
 *		  joined MEMBER-ID generation N
 *		  assign T P committed C generation N ms MS     (MS: klog_now_ms)
 *		  revoke T P generation N       (then releases it at once; with
 *		                                  -R, after committing OFFSET for it:
 *		                                  "commit T-P ok" or an error line)
 *		  lost T P
 *		-o FILE: the partitions held ("T-P" lines, sorted), rewritten
 *		(temp file, rename) at every change; once the group has been
 *		quiet for 10 polls, each -c T:P is committed (offset 1) and
 *		reported "commit T-P ok" or "commit T-P ERRNO: message"; -x then
 *		leaves and exits.  SIGTERM: leave cleanly, print "left", exit 0.
 *	kgroupdrv -d DIR list | describe GROUP | delete GROUP | reset GROUP T:P:OFFSET...
 *		the administration calls; describe prints "group STATE generation
 *		N strategy S", "member ID INSTANCE CLIENT HOST PID" and "part T P
 *		committed C end E lag L owner ID|-".
 * Errors: "kgroupdrv: ERRNO: message" on stderr, exit 1 (2: usage).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *
errname(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case ESTALE: return "ESTALE";
	case ENOSYS: return "ENOSYS";
	default: return "error";
	}
}

static int
fail(const char *err)
{
	fprintf(stderr, "kgroupdrv: %s: %s\n", errname(errno), err);
	return 1;
}

struct held {
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
};

static struct held held[4096];
static size_t nheld;

static int
cmpheld(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : x->partition - y->partition;
}

static void
write_held(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (!path)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		return;
	qsort(held, nheld, sizeof *held, cmpheld);
	for (size_t i = 0; i < nheld; i++)
		fprintf(f, "%s-%d\n", held[i].topic, held[i].partition);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static int
admin(struct klog_log *lg, int argc, char **argv)
{
	char err[KLOG_ERRLEN];
	const char *cmd = argv[0];

	if (!strcmp(cmd, "list")) {
		char **names;
		size_t n;

		if (klog_group_list(lg, &names, &n, err) < 0)
			return fail(err);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		klog_strv_free(names, n);
		return 0;
	}
	if (argc < 2)
		return 2;
	if (!strcmp(cmd, "describe")) {
		struct klog_group_info gi;

		if (klog_group_describe(lg, argv[1], &gi, err) < 0)
			return fail(err);
		printf("group %s generation %d strategy %s\n", gi.state, (int)gi.generation,
		    gi.strategy[0] ? gi.strategy : "-");
		for (size_t i = 0; i < gi.nmembers; i++)
			printf("member %s %s %s %s %d\n", gi.members[i].member_id,
			    gi.members[i].instance_id ? gi.members[i].instance_id : "-",
			    gi.members[i].client_id, gi.members[i].host, gi.members[i].pid);
		for (size_t i = 0; i < gi.nparts; i++)
			printf("part %s %d committed %lld end %lld lag %lld owner %s\n",
			    gi.parts[i].topic, gi.parts[i].partition,
			    (long long)gi.parts[i].committed, (long long)gi.parts[i].log_end,
			    (long long)gi.parts[i].lag, gi.parts[i].owner >= 0 ?
			    gi.members[gi.parts[i].owner].member_id : "-");
		klog_group_info_free(&gi);
		return 0;
	}
	if (!strcmp(cmd, "delete")) {
		if (klog_group_delete(lg, argv[1], err) < 0)
			return fail(err);
		return 0;
	}
	if (!strcmp(cmd, "reset")) {
		struct klog_gcommit c[64];
		char topics[64][KLOG_TOPIC_MAX + 1];
		size_t n = 0;

		for (int i = 2; i < argc && n < 64; i++) {
			long long off;
			int p;

			if (sscanf(argv[i], "%249[^:]:%d:%lld", topics[n], &p, &off) != 3)
				return 2;
			c[n] = (struct klog_gcommit){ topics[n], p, off, 0 };
			n++;
		}
		if (klog_group_set_offsets(lg, argv[1], c, n, err) < 0)
			return fail(err);
		return 0;
	}
	return 2;
}

int
main(int argc, char **argv)
{
	char err[KLOG_ERRLEN], *commits[64];
	const char *dir = NULL, *out = NULL;
	struct klog_group_opts o = { 0 };
	struct klog_group *g;
	struct klog_log *lg;
	int opt, ncommits = 0, quit = 0, quiet = 0, settled = 0;
	long long revoke_commit = -1;

	while ((opt = getopt(argc, argv, "d:g:s:i:S:C:o:c:R:x")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'g': o.group = optarg; break;
		case 's': o.strategy = optarg; break;
		case 'i': o.instance_id = optarg; break;
		case 'S': o.session_ms = atoi(optarg); break;
		case 'C': o.client_id = optarg; break;
		case 'o': out = optarg; break;
		case 'c': if (ncommits < 64) commits[ncommits++] = optarg; break;
		case 'x': quit = 1; break;
		case 'R': revoke_commit = atoll(optarg); break;
		default: return 2;
		}
	}
	if (!dir || optind >= argc)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!(lg = klog_log_open(dir, NULL, 0, err)))
		return fail(err);
	if (!o.group) {
		int rc = admin(lg, argc - optind, argv + optind);

		klog_log_close(lg);
		return rc;
	}
	o.topics = argv + optind;
	o.ntopics = (size_t)(argc - optind);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (!(g = klog_group_join(lg, &o, err))) {
		fail(err);
		klog_log_close(lg);
		return 1;
	}
	printf("joined %s generation %d\n", klog_group_member_id(g), (int)klog_group_generation(g));
	write_held(out);
	while (!stop) {
		struct klog_gevent ev;
		int r = klog_group_poll(g, &ev, err);

		if (r < 0) {
			fail(err);
			klog_group_free(g);
			klog_log_close(lg);
			return 1;
		}
		if (r == 0) {
			struct timespec ts = { 0, (long)klog_group_interval(g) * 1000000L };

			if (++quiet == 10 && !settled) {
				settled = 1;
				for (int i = 0; i < ncommits; i++) {
					char t[KLOG_TOPIC_MAX + 1];
					struct klog_gcommit c = { t, 0, 1, 0 };

					if (sscanf(commits[i], "%249[^:]:%d", t, &c.partition) != 2)
						return 2;
					if (klog_group_commit(g, &c, 1, err) == 0)
						printf("commit %s-%d ok\n", t, c.partition);
					else
						printf("commit %s-%d %s: %s\n", t, c.partition,
						    errname(errno), err);
				}
				if (quit)
					break;
			}
			nanosleep(&ts, NULL);
			continue;
		}
		quiet = 0;
		switch (ev.type) {
		case KLOG_GEV_ASSIGN:
			printf("assign %s %d committed %lld generation %d ms %lld\n", ev.topic,
			    ev.partition, (long long)ev.committed, (int)klog_group_generation(g),
			    (long long)klog_now_ms());
			if (nheld < sizeof held / sizeof *held) {
				snprintf(held[nheld].topic, sizeof held[nheld].topic, "%s", ev.topic);
				held[nheld++].partition = ev.partition;
			}
			break;
		case KLOG_GEV_REVOKE:
		case KLOG_GEV_LOST:
			printf("%s %s %d generation %d\n", ev.type == KLOG_GEV_LOST ? "lost" : "revoke",
			    ev.topic, ev.partition, (int)klog_group_generation(g));
			for (size_t i = 0; i < nheld; i++)
				if (held[i].partition == ev.partition && !strcmp(held[i].topic, ev.topic))
					held[i] = held[--nheld];
			if (ev.type == KLOG_GEV_REVOKE && revoke_commit >= 0) {
				struct klog_gcommit c = { (char *)ev.topic, ev.partition,
				    revoke_commit, 0 };

				if (klog_group_commit(g, &c, 1, err) == 0)
					printf("commit %s-%d ok\n", ev.topic, ev.partition);
				else
					printf("commit %s-%d %s: %s\n", ev.topic, ev.partition,
					    errname(errno), err);
			}
			if (ev.type == KLOG_GEV_REVOKE &&
			    klog_group_release(g, ev.topic, ev.partition, err) < 0) {
				fail(err);
				klog_group_free(g);
				return 1;
			}
			break;
		}
		write_held(out);
	}
	nheld = 0;
	if (klog_group_leave(g, err) < 0) {
		fail(err);
		klog_log_close(lg);
		return 1;
	}
	write_held(out);
	printf("left\n");
	klog_log_close(lg);
	return 0;
}
