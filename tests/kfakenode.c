/* klog - a fake cluster node for the controller's tests: heartbeats until killed. MIT licence. */
/*
 *	kfakenode [-i MS] ADDR NODE [INCARNATION [ADVERTISE]]
 *
 * Connects to the controller at ADDR and sends "BROKERHB NODE INCARNATION
 * ADVERTISE VERSION" every MS ms (default 50) on that one connection (its
 * session), VERSION the last one the controller answered.  Prints every
 * answer that differs from the one before ("OK 7", or "ERR ..."), so a
 * test can wait for the first one.  INCARNATION defaults to the pid,
 * ADVERTISE to 127.0.0.1:(9000 + NODE).  SIGSTOP it to stop its
 * heartbeats with the connection open; kill it to close the connection.
 * Exit 1 (after "closed") when the controller closes the connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"

static int
read_line(int fd, char *buf, size_t n)
{
	size_t at = 0;
	ssize_t r;

	while (at + 1 < n) {
		r = read(fd, buf + at, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[at] == '\n') {
			buf[at] = 0;
			return 0;
		}
		at++;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	char err[KLOG_ERRLEN], line[512], last[512] = "", adv[64], req[700];
	struct timespec ts;
	long ms = 50;
	int64_t version = -1;
	int fd, opt, len;

	while ((opt = getopt(argc, argv, "i:")) != -1) {
		if (opt != 'i')
			goto usage;
		ms = atol(optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc > 4 || ms < 1)
		goto usage;
	snprintf(adv, sizeof adv, "127.0.0.1:%d", 9000 + atoi(argv[1]));
	if ((fd = klog_net_connect(argv[0], 5000, err)) < 0) {
		fprintf(stderr, "kfakenode: %s\n", err);
		return 1;
	}
	klog_net_nonblock(fd, 0);
	for (;;) {
		len = snprintf(req, sizeof req, "BROKERHB %s %s %s %" PRId64 "\n", argv[1],
		    argc > 2 ? argv[2] : "0", argc > 3 ? argv[3] : adv, version);
		if (argc <= 2)
			len = snprintf(req, sizeof req, "BROKERHB %s %ld %s %" PRId64 "\n", argv[1],
			    (long)getpid(), adv, version);
		if (write(fd, req, (size_t)len) != len || read_line(fd, line, sizeof line) < 0) {
			printf("closed\n");
			return 1;
		}
		if (strcmp(line, last)) {
			printf("%s\n", line);
			fflush(stdout);
			snprintf(last, sizeof last, "%s", line);
		}
		if (!strncmp(line, "OK ", 3))
			version = strtoll(line + 3, NULL, 10);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
usage:
	fprintf(stderr, "usage: kfakenode [-i MS] ADDR NODE [INCARNATION [ADVERTISE]]\n");
	return 2;
}
