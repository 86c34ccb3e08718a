/* klog - kgmember: one consumer group member for the shell tests. MIT licence. */
/*
 *	kgmember [-d DIR | -b HOST:PORT] [-s STRATEGY] [-i INSTANCE] GROUP TOPIC...
 *
 * Joins GROUP subscribed to the TOPICs and stays a member (polling at the
 * group's interval) until its stdin closes, then leaves cleanly.  A line
 * "commit TOPIC PARTITION OFFSET" on stdin commits that offset as the
 * member.  Events and answers go to stdout, one flushed line each:
 *	joined MEMBER_ID
 *	assign TOPIC PARTITION COMMITTED    (-1: no commit)
 *	revoke TOPIC PARTITION              (released at once)
 *	lost TOPIC PARTITION
 *	committed TOPIC PARTITION OFFSET | error MESSAGE
 *	left
 * so a test waits for "assign" before it looks at the group.
 * Exit 0, 1 on failure (one line on stderr), 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"
#include "cmdutil.h"

static void
command(struct klog_group *g, char *line)
{
	struct klog_gcommit c;
	char topic[256], err[KLOG_ERRLEN];
	int64_t off;
	int p;

	if (sscanf(line, "commit %255s %d %" SCNd64, topic, &p, &off) != 3) {
		printf("error bad command '%s'\n", line);
		return;
	}
	c.topic = topic;
	c.partition = p;
	c.offset = off;
	c.commit_ts = klog_now_ms();
	if (klog_group_commit(g, &c, 1, err) < 0)
		printf("error %s\n", err);
	else
		printf("committed %s %d %" PRId64 "\n", topic, p, off);
}

int
main(int argc, char **argv)
{
	struct klog_group_opts o;
	struct klog_group *g;
	struct klog_gevent ev;
	struct klog_log *lg;
	const char *dir = NULL, *brokers = NULL;
	char err[KLOG_ERRLEN], buf[4096];
	size_t have = 0;
	int c, r;

	klog_cmd_init("kgmember");
	memset(&o, 0, sizeof o);
	while ((c = getopt(argc, argv, "d:b:s:i:")) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'b':
			brokers = optarg;
			break;
		case 's':
			o.strategy = optarg;
			break;
		case 'i':
			o.instance_id = optarg;
			break;
		default:
			klog_cmd_usage("kgmember [-d DIR | -b HOST:PORT] [-s STRATEGY] [-i INSTANCE] "
			    "GROUP TOPIC...");
		}
	}
	if (argc - optind < 2)
		klog_cmd_usage("kgmember [-d DIR | -b HOST:PORT] [-s STRATEGY] [-i INSTANCE] "
		    "GROUP TOPIC...");
	setvbuf(stdout, NULL, _IOLBF, 0);
	o.group = argv[optind];
	o.topics = argv + optind + 1;
	o.ntopics = (size_t)(argc - optind - 1);
	o.client_id = "kgmember";
	lg = klog_cmd_open_log(dir, brokers, 0);
	if (!(g = klog_group_join(lg, &o, err)))
		klog_cmd_die(1, "%s", err);
	printf("joined %s\n", klog_group_member_id(g));
	for (;;) {
		struct pollfd pfd = { 0, POLLIN, 0 };
		int ms = klog_group_interval(g);
		ssize_t n;
		char *nl;

		while ((r = klog_group_poll(g, &ev, err)) == 1) {
			switch (ev.type) {
			case KLOG_GEV_ASSIGN:
				printf("assign %s %d %" PRId64 "\n", ev.topic, ev.partition,
				    ev.committed);
				break;
			case KLOG_GEV_REVOKE:
				printf("revoke %s %d\n", ev.topic, ev.partition);
				if (klog_group_release(g, ev.topic, ev.partition, err) < 0)
					klog_cmd_die(1, "%s", err);
				break;
			case KLOG_GEV_LOST:
				printf("lost %s %d\n", ev.topic, ev.partition);
				break;
			}
		}
		if (r < 0)
			klog_cmd_die(1, "%s", err);
		if (poll(&pfd, 1, ms > 0 ? ms : 100) <= 0)
			continue;
		if ((n = read(0, buf + have, sizeof buf - 1 - have)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		have += (size_t)n;
		buf[have] = 0;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			command(g, buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof buf - 1)
			have = 0;
	}
	if (klog_group_leave(g, err) < 0)
		klog_cmd_die(1, "%s", err);
	printf("left\n");
	klog_log_close(lg);
	return 0;
}
