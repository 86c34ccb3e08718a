/* klog - stand-ins for systemd in tests: a notify socket, socket activation. MIT licence. */
/*
 *	notify-listen SOCKET [TIMEOUT_S]
 *		bind an AF_UNIX datagram socket (a path, or "@name" for the
 *		abstract namespace), print "listening", then print the first
 *		datagram received followed by a newline; exit 1 on timeout
 *		(default 10 s)
 *	notify-listen -a ADDR:PORT CMD [ARG...]
 *		listen on ADDR:PORT, put the socket at fd 3, set LISTEN_FDS=1 and
 *		LISTEN_PID to our pid, say "listening on ADDR:PORT" (the bound
 *		address: port 0 gets one from the kernel) on stderr and exec CMD
 *		(so CMD is "activated")
 */
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"

static int
activate(const char *addr, char **argv)
{
	char err[KLOG_ERRLEN], pid[32];
	int fd = klog_net_listen(addr, 128, err);

	if (fd < 0) {
		fprintf(stderr, "notify-listen: %s\n", err);
		return 1;
	}
	klog_net_nonblock(fd, 0);
	if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0)) {
		perror("notify-listen: dup2");
		return 1;
	}
	fcntl(3, F_SETFD, 0);   /* klog_net_listen made it close-on-exec */
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	{
		char bound[128];
		if (klog_net_local(3, bound, sizeof bound) < 0)
			snprintf(bound, sizeof bound, "%s", addr);
		fprintf(stderr, "notify-listen: listening on %s\n", bound);
	}
	execvp(argv[0], argv);
	perror("notify-listen: exec");
	return 127;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un su;
	struct pollfd pfd;
	char buf[4096];
	socklen_t sl;
	ssize_t n;
	size_t len;
	int fd, timeout = 10;

	if (argc >= 4 && !strcmp(argv[1], "-a"))
		return activate(argv[2], argv + 3);
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: notify-listen SOCKET [TIMEOUT_S] | -a ADDR:PORT CMD...\n");
		return 2;
	}
	if (argc == 3)
		timeout = atoi(argv[2]);
	len = strlen(argv[1]);
	memset(&su, 0, sizeof su);
	if (len >= sizeof su.sun_path)
		return 2;
	su.sun_family = AF_UNIX;
	memcpy(su.sun_path, argv[1], len);
	if (argv[1][0] == '@')
		su.sun_path[0] = 0;
	else
		unlink(argv[1]);
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || bind(fd, (struct sockaddr *)&su, sl) < 0) {
		perror("notify-listen: bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout * 1000) <= 0) {
		fprintf(stderr, "notify-listen: no datagram within %d s\n", timeout);
		return 1;
	}
	if ((n = recv(fd, buf, sizeof buf, 0)) < 0) {
		perror("notify-listen: recv");
		return 1;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	printf("\n");
	if (argv[1][0] != '@')
		unlink(argv[1]);
	return fflush(stdout) == 0 ? 0 : 1;
}
