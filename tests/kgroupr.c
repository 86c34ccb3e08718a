/* klog - a test driver of consumer groups through a broker. MIT licence. */
/*
 *	kgroupr [-b ADDR] member GROUP TOPIC[,TOPIC...] [-i INSTANCE] [-s SESSION_MS]
 *		[-S STRATEGY] [-c CLIENT_ID] [-m]
 *		joins and prints "joined MEMBER GENERATION", then one line per
 *		event: "assign TOPIC PARTITION COMMITTED", "revoke TOPIC
 *		PARTITION", "lost TOPIC PARTITION"; on a REVOKE it releases the
 *		partition at once ("released TOPIC PARTITION") unless -m.
 *		Commands on stdin, one a line:
 *		  commit TOPIC PARTITION OFFSET  "commit ok" or "commit ERRNO_NAME"
 *		  release TOPIC PARTITION        "released TOPIC PARTITION" or "release ERRNO_NAME"
 *		  owned                          "owned T:P ..." (sorted) or "owned -"
 *		  gen                            "gen GENERATION MEMBER"
 *		  hang / wake                    stop / resume polling (no heartbeats)
 *		  leave                          leave the group, print "left", exit 0
 *		End of stdin: exit without leaving (as if the process died).
 *	kgroupr [-b ADDR] list | describe GROUP | delete GROUP
 *	kgroupr [-b ADDR] set GROUP TOPIC PARTITION OFFSET [TOPIC PARTITION OFFSET...]
 * Exit 0, 1 on failure (message on stderr, "kgroupr: ERRNO_NAME: message"), 2 on usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group.h"

static char err[KLOG_ERRLEN];

static const char *
ename(int e)
{
	switch (e) {
	case ESTALE: return "ESTALE";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case EPIPE: return "EPIPE";
	default: return "EIO";
	}
}

static void
die(void)
{
	fprintf(stderr, "kgroupr: %s: %s\n", ename(errno), err);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: kgroupr [-b ADDR] member GROUP TOPICS [-i INSTANCE] [-s MS] "
	    "[-S STRATEGY] [-c CLIENT] [-m] | list | describe GROUP | delete GROUP | "
	    "set GROUP T P O...\n");
	exit(2);
}

struct tp {
	char topic[KLOG_TOPIC_MAX + 1];
	int partition;
};
static struct tp owned[4096];
static int nowned;

static int
tpcmp(const void *a, const void *b)
{
	const struct tp *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : x->partition - y->partition;
}

static void
own_del(const char *topic, int p)
{
	int i;

	for (i = 0; i < nowned; i++)
		if (owned[i].partition == p && !strcmp(owned[i].topic, topic)) {
			owned[i] = owned[--nowned];
			return;
		}
}

static struct klog_group *
join(struct klog_log *lg, struct klog_group_opts *o)
{
	return klog_group_join(lg, o, err);
}

/* 1: the member left */
static int
command(struct klog_group *g, char *line, int *hung)
{
	char w[4][256];
	int n = sscanf(line, "%255s %255s %255s %255s", w[0], w[1], w[2], w[3]);

	if (n < 1)
		return 0;
	if (!strcmp(w[0], "commit") && n == 4) {
		struct klog_gcommit c = { w[1], atoi(w[2]), strtoll(w[3], NULL, 10), 0 };
		if (klog_group_commit(g, &c, 1, err) < 0)
			printf("commit %s %s\n", ename(errno), err);
		else
			printf("commit ok\n");
	} else if (!strcmp(w[0], "release") && n == 3) {
		if (klog_group_release(g, w[1], atoi(w[2]), err) < 0)
			printf("release %s %s\n", ename(errno), err);
		else {
			own_del(w[1], atoi(w[2]));
			printf("released %s %d\n", w[1], atoi(w[2]));
		}
	} else if (!strcmp(w[0], "owned")) {
		int i;
		qsort(owned, (size_t)nowned, sizeof *owned, tpcmp);
		printf("owned");
		for (i = 0; i < nowned; i++)
			printf(" %s:%d", owned[i].topic, owned[i].partition);
		printf("%s\n", nowned ? "" : " -");
	} else if (!strcmp(w[0], "gen"))
		printf("gen %d %s\n", klog_group_generation(g), klog_group_member_id(g));
	else if (!strcmp(w[0], "hang"))
		*hung = 1;
	else if (!strcmp(w[0], "wake"))
		*hung = 0;
	else if (!strcmp(w[0], "leave")) {
		if (klog_group_leave(g, err) < 0)
			die();
		printf("left\n");
		return 1;
	} else
		printf("unknown command\n");
	return 0;
}

static int
member(struct klog_log *lg, int argc, char **argv, int manual, struct klog_group_opts *o)
{
	char *topics[64], *s, *save = NULL, in[4096];
	struct klog_group *g;
	struct klog_gevent ev;
	size_t nin = 0;
	int hung = 0, eof = 0;

	if (argc != 2)
		usage();
	o->group = argv[0];
	for (s = strtok_r(argv[1], ",", &save); s && o->ntopics < 64; s = strtok_r(NULL, ",", &save))
		topics[o->ntopics++] = s;
	o->topics = topics;
	if (!(g = join(lg, o)))
		die();
	printf("joined %s %d\n", klog_group_member_id(g), klog_group_generation(g));
	while (!eof) {
		struct pollfd pfd = { 0, POLLIN, 0 };
		int r;
		while (!hung && (r = klog_group_poll(g, &ev, err)) > 0) {
			const char *t = ev.type == KLOG_GEV_ASSIGN ? "assign" :
			    ev.type == KLOG_GEV_REVOKE ? "revoke" : "lost";
			if (ev.type == KLOG_GEV_ASSIGN) {
				printf("assign %s %d %" PRId64 "\n", ev.topic, ev.partition, ev.committed);
				if (nowned < 4096) {
					snprintf(owned[nowned].topic, sizeof owned[nowned].topic, "%s", ev.topic);
					owned[nowned++].partition = ev.partition;
				}
				continue;
			}
			printf("%s %s %d\n", t, ev.topic, ev.partition);
			if (ev.type == KLOG_GEV_LOST)
				own_del(ev.topic, ev.partition);
			else if (!manual) {
				char topic[KLOG_TOPIC_MAX + 1];
				int p = ev.partition;
				snprintf(topic, sizeof topic, "%s", ev.topic);
				if (klog_group_release(g, topic, p, err) < 0)
					printf("release %s %s\n", ename(errno), err);
				else {
					own_del(topic, p);
					printf("released %s %d\n", topic, p);
				}
			}
		}
		if (!hung && r < 0)
			die();
		fflush(stdout);
		if (poll(&pfd, 1, klog_group_interval(g)) > 0) {
			ssize_t k = read(0, in + nin, sizeof in - 1 - nin);
			char *nl;
			if (k <= 0)
				eof = 1;
			else
				nin += (size_t)k;
			in[nin] = 0;
			while ((nl = strchr(in, '\n'))) {
				*nl = 0;
				if (command(g, in, &hung))
					return 0;
				fflush(stdout);
				nin -= (size_t)(nl + 1 - in);
				memmove(in, nl + 1, nin + 1);
			}
		}
	}
	klog_group_free(g);
	return 0;
}

int
main(int argc, char **argv)
{
	struct klog_group_opts o = { 0 };
	struct klog_log *lg;
	const char *addr = NULL;
	int c, manual = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "+b:")) != -1)
		if (c == 'b')
			addr = optarg;
		else
			usage();
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (!addr && !(addr = getenv("KLOG_BROKERS")))
		usage();
	if (!(lg = klog_log_open(NULL, addr, 0, err)))
		die();
	if (!strcmp(argv[0], "member")) {
		char *pos[2];
		int np = 0;
		optind = 1;
		while (optind < argc) {
			if ((c = getopt(argc, argv, "i:s:S:c:m")) == -1) {
				if (np == 2)
					usage();
				pos[np++] = argv[optind++];
				continue;
			}
			switch (c) {
			case 'i': o.instance_id = optarg; break;
			case 's': o.session_ms = atoi(optarg); break;
			case 'S': o.strategy = optarg; break;
			case 'c': o.client_id = optarg; break;
			case 'm': manual = 1; break;
			default: usage();
			}
		}
		c = member(lg, np, pos, manual, &o);
		klog_log_close(lg);
		return c;
	}
	if (!strcmp(argv[0], "list") && argc == 1) {
		char **names;
		size_t n, i;
		if (klog_group_list(lg, &names, &n, err) < 0)
			die();
		for (i = 0; i < n; i++)
			printf("%s\n", names[i]);
		klog_strv_free(names, n);
	} else if (!strcmp(argv[0], "describe") && argc == 2) {
		struct klog_group_info gi;
		size_t i;
		if (klog_group_describe(lg, argv[1], &gi, err) < 0)
			die();
		printf("group %s %s %d %s\n", argv[1], gi.state, gi.generation, gi.strategy);
		for (i = 0; i < gi.nmembers; i++)
			printf("member %s %s %s %s %d\n", gi.members[i].member_id,
			    gi.members[i].instance_id ? gi.members[i].instance_id : "-",
			    gi.members[i].client_id, gi.members[i].host, gi.members[i].pid);
		for (i = 0; i < gi.nparts; i++)
			printf("partition %s %d %" PRId64 " %" PRId64 " %" PRId64 " %s\n",
			    gi.parts[i].topic, gi.parts[i].partition, gi.parts[i].committed,
			    gi.parts[i].log_end, gi.parts[i].lag, gi.parts[i].owner >= 0 ?
			    gi.members[gi.parts[i].owner].member_id : "-");
		klog_group_info_free(&gi);
	} else if (!strcmp(argv[0], "delete") && argc == 2) {
		if (klog_group_delete(lg, argv[1], err) < 0)
			die();
	} else if (!strcmp(argv[0], "set") && argc >= 5 && (argc - 2) % 3 == 0) {
		struct klog_gcommit cm[64];
		int i, n = 0;
		for (i = 2; i + 2 < argc && n < 64; i += 3, n++) {
			cm[n].topic = argv[i];
			cm[n].partition = atoi(argv[i + 1]);
			cm[n].offset = strtoll(argv[i + 2], NULL, 10);
			cm[n].commit_ts = 0;
		}
		if (klog_group_set_offsets(lg, argv[1], cm, (size_t)n, err) < 0)
			die();
	} else
		usage();
	klog_log_close(lg);
	return 0;
}
