/* klog - kbrokerd: serve a log directory over the text protocol. MIT licence. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "klog.h"
#include "kserver.h"

static const char *prog = "kbrokerd";
static int journal, quiet;
static struct klog_broker *broker;
static volatile sig_atomic_t early_stop;

static void
logmsg(int prio, const char *msg)
{
	if (quiet && prio >= LOG_INFO)
		return;
	if (journal)
		fprintf(stderr, "<%d>%s\n", prio, msg);
	else if (prio <= LOG_WARNING && prio > LOG_ERR)
		fprintf(stderr, "%s: warning: %s\n", prog, msg);
	else
		fprintf(stderr, "%s: %s\n", prog, msg);
}

static void
warncb(const char *msg)
{
	logmsg(LOG_WARNING, msg);
}

static void
infocb(const char *msg)
{
	logmsg(LOG_INFO, msg);
}

/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected to stderr */
static int
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void
die(int code, const char *fmt, const char *arg)
{
	char msg[1024];

	snprintf(msg, sizeof msg, fmt, arg);
	logmsg(LOG_ERR, msg);
	exit(code);
}

static void
onsig(int sig)
{
	if (broker)
		klog_broker_shutdown(broker);
	else
		early_stop = 1;
}

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: %s [-d DIR] [-l ADDR:PORT] [-s SECRET_FILE] [--fsync always|interval=MS|never]\n"
	    "                [--visible durable|written]\n"
	    "                [--max-connections N] [--idle-timeout SEC] [--max-request BYTES]\n"
	    "                [--max-memory BYTES] [--max-waiting-fetches N]\n"
	    "                [--max-connection-fetches N] [--max-partitions N]\n"
	    "                [--max-topic-partitions N] [--max-open-partitions N]\n"
	    "                [--request-timeout SEC] [--max-connections-per-ip N] [--insecure]\n"
	    "                [--node-id N --cluster ID@HOST:PORT,... | --cluster-file FILE]\n"
	    "                [--advertise HOST:PORT] [--broker-session-timeout-ms MS]\n"
	    "                [--replica-lag-time-max-ms MS] [-r FD] [-q]\n", prog);
	if (code == 0)
		fprintf(f, "\nServe the log directory DIR (or $KLOG_DIR) over klog's text protocol\n"
		    "(man klog-protocol.7).  Listens on 127.0.0.1:%d unless -l says otherwise, or on\n"
		    "the socket systemd passes (LISTEN_FDS).  Readiness: READY=1 to $NOTIFY_SOCKET,\n"
		    "and the bound ADDR:PORT and a newline on FD with -r (so -l HOST:0 works).  SIGTERM or SIGINT: drain, fsync, exit 0.\n\n"
		    "  -d, --dir DIR           log directory (default $KLOG_DIR)\n"
		    "  -l, --listen ADDR:PORT  address to listen on (default 127.0.0.1:%d)\n"
		    "  -s, --secret-file FILE  clients must AUTH with the file's first line\n"
		    "                          (default $CREDENTIALS_DIRECTORY/kbrokerd.secret,\n"
		    "                          else the secret in $KLOG_SECRET)\n"
		    "      --insecure          serve a non-loopback address without a secret\n"
		    "      --fsync POLICY      always (group commit; default), interval=MS, never\n"
		    "      --visible WHAT      under always, fetches see durable records (default)\n"
		    "                          or written ones (lower latency)\n"
		    "      --max-connections N (default 1024)\n"
		    "      --idle-timeout SEC  close idle connections (default 600; 0 never)\n"
		    "      --max-request BYTES largest produce payload (default 16777216)\n"
		    "      --max-memory BYTES  all connection buffers (default 1073741824)\n"
		    "      --max-waiting-fetches N\n"
		    "                          long-poll fetches waiting, all connections (default\n"
		    "                          100000); a fetch that would wait beyond: ERR BUSY\n"
		    "      --max-connection-fetches N\n"
		    "                          long-poll fetches waiting on one connection\n"
		    "                          (default 1000)\n"
		    "      --max-partitions N  in the log directory (default %d)\n"
		    "      --max-topic-partitions N  in one topic (default %d)\n"
		    "      --max-open-partitions N  open at once, the others closed until used\n"
		    "                          (default: from the file descriptor limit)\n"
		    "      --request-timeout SEC  a request line, and each 64 KiB of payload,\n"
		    "                          must arrive within SEC (default 10; 0 never)\n"
		    "      --max-connections-per-ip N  per source address (default a quarter\n"
		    "                          of --max-connections, at least 64; 0 no limit)\n"
		    "      --node-id N         this broker's id in the cluster (default 0)\n"
		    "      --cluster LIST      ID@HOST:PORT,... the cluster's nodes; the first is\n"
		    "                          the controller (man klog.7, Replication)\n"
		    "      --cluster-file FILE the same, one node per line\n"
		    "      --advertise HOST:PORT  the address clients and brokers use (default\n"
		    "                          the bound one)\n"
		    "      --broker-session-timeout-ms MS  controller: a broker silent this long\n"
		    "                          is dead (default 2000)\n"
		    "      --replica-lag-time-max-ms MS  leader: a follower not caught up this\n"
		    "                          long leaves the ISR (default 10000)\n"
		    "  -r, --ready-fd FD       write ADDR:PORT and a newline to FD when ready, then close it\n"
		    "  -q, --quiet             log warnings and errors only\n"
		    "  -h, --help, -V, --version\n", KLOG_PORT, KLOG_PORT, KLOG_BROKER_MAX_PARTITIONS,
		    KLOG_BROKER_MAX_TOPIC_PARTITIONS);
	exit(code);
}

static int64_t
num(const char *s, const char *what, int64_t min)
{
	int64_t v;

	if (klog_parse_i64(s, &v) < 0 || v < min) {
		fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
		usage(stderr, 2);
	}
	return v;
}

static char *
read_secret(const char *path)
{
	char err[KLOG_ERRLEN], *data = NULL;
	size_t len = 0;

	if (klog_read_file(path, &data, &len, err) < 0)
		die(2, "%s", err);
	data[strcspn(data, "\r\n")] = 0;
	if (!*data)
		die(2, "secret file '%s' is empty", path);
	return data;
}

/* systemd's LoadCredential=kbrokerd.secret:PATH puts it in $CREDENTIALS_DIRECTORY */
static char *
credential_secret(void)
{
	const char *d = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];

	if (!d || !*d)
		return NULL;
	snprintf(path, sizeof path, "%s/kbrokerd.secret", d);
	if (access(path, F_OK) < 0)
		return NULL;
	return read_secret(path);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "secret-file", required_argument, NULL, 's' },
		{ "fsync", required_argument, NULL, 'F' },
		{ "visible", required_argument, NULL, 'W' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "max-request", required_argument, NULL, 'R' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-waiting-fetches", required_argument, NULL, 'w' + 256 },
		{ "max-connection-fetches", required_argument, NULL, 'c' + 256 },
		{ "max-partitions", required_argument, NULL, 'P' },
		{ "max-topic-partitions", required_argument, NULL, 'T' },
		{ "max-open-partitions", required_argument, NULL, 'O' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "request-timeout", required_argument, NULL, 't' + 256 },
		{ "max-connections-per-ip", required_argument, NULL, 'p' + 256 },
		{ "insecure", no_argument, NULL, 'i' + 256 },
		{ "node-id", required_argument, NULL, 'n' + 256 },
		{ "cluster", required_argument, NULL, 'K' + 256 },
		{ "cluster-file", required_argument, NULL, 'f' + 256 },
		{ "advertise", required_argument, NULL, 'a' + 256 },
		{ "broker-session-timeout-ms", required_argument, NULL, 'S' + 256 },
		{ "replica-lag-time-max-ms", required_argument, NULL, 'L' + 256 },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct klog_broker_opts o;
	struct sigaction sa;
	struct rlimit rl;
	char err[KLOG_ERRLEN], msg[256];
	const char *dir = NULL, *e;
	char *secret = NULL;
	int ch, ready_fd = -1, nfds;
	int64_t v;

	klog_broker_defaults(&o);
	while ((ch = getopt_long(argc, argv, "d:l:s:r:qhV", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'l': o.listen = optarg; break;
		case 's': secret = read_secret(optarg); break;
		case 'F':
			if (!strcmp(optarg, "always"))
				o.fsync_policy = KLOG_FSYNC_ALWAYS;
			else if (!strcmp(optarg, "never"))
				o.fsync_policy = KLOG_FSYNC_NEVER;
			else if (!strncmp(optarg, "interval=", 9)) {
				o.fsync_policy = KLOG_FSYNC_INTERVAL;
				o.fsync_interval_ms = (int)num(optarg + 9, "fsync interval", 1);
			} else {
				fprintf(stderr, "%s: bad fsync policy '%s' (always, interval=MS, never)\n",
				    prog, optarg);
				usage(stderr, 2);
			}
			break;
		case 'W':
			if (!strcmp(optarg, "written"))
				o.visible_written = 1;
			else if (!strcmp(optarg, "durable"))
				o.visible_written = 0;
			else {
				fprintf(stderr, "%s: bad --visible '%s' (durable or written)\n", prog, optarg);
				usage(stderr, 2);
			}
			break;
		case 'C': o.max_conns = (int)num(optarg, "connection limit", 1); break;
		case 'I': o.idle_timeout_ms = (int)num(optarg, "idle timeout", 0) * 1000; break;
		case 'R': o.max_request = (size_t)num(optarg, "request limit", 1024); break;
		case 'M': o.max_memory = (size_t)num(optarg, "memory limit", 1 << 20); break;
		case 'w' + 256:
			v = num(optarg, "waiting fetch limit", 0);
			o.max_waiting_fetches = v > INT32_MAX ? INT32_MAX : (int)v;
			break;
		case 'c' + 256:
			v = num(optarg, "connection fetch limit", 0);
			o.max_conn_fetches = v > INT32_MAX ? INT32_MAX : (int)v;
			break;
		case 'P': o.max_partitions = (int)num(optarg, "partition limit", 1); break;
		case 'T': o.max_topic_partitions = (int)num(optarg, "topic partition limit", 1); break;
		case 'O': o.max_open_partitions = (int)num(optarg, "open partition limit", 1); break;
		case 'r': ready_fd = (int)num(optarg, "readiness fd", 0); break;
		case 't' + 256:
			o.request_timeout_ms = (int)(num(optarg, "request timeout", 0) > 2000000 ?
			    2000000000 : num(optarg, "request timeout", 0) * 1000);
			break;
		case 'p' + 256: o.max_conns_per_ip = (int)num(optarg, "per-address connection limit", 0); break;
		case 'i' + 256: o.insecure = 1; break;
		case 'n' + 256: o.node_id = (int)num(optarg, "node id", 0); break;
		case 'K' + 256: o.cluster = optarg; break;
		case 'f' + 256: o.cluster_file = optarg; break;
		case 'a' + 256: o.advertise = optarg; break;
		case 'S' + 256:
			o.session_timeout_ms = (int)num(optarg, "broker session timeout", 100);
			break;
		case 'L' + 256:
			o.replica_lag_ms = (int)num(optarg, "replica lag time", 10);
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout, 0); break;
		case 'V': printf("%s %s\n", prog, KLOG_VERSION); return 0;
		default: usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	journal = stderr_is_journal();
	klog_set_warn(warncb);
	klog_set_info(infocb);
	if (!dir && (e = getenv("KLOG_DIR")) && *e)
		dir = e;
	if (!dir)
		die(2, "no log directory: use -d DIR or set KLOG_DIR%s", "");
	o.dir = dir;
	if (!secret)
		secret = credential_secret();
	if (!secret && (e = getenv("KLOG_SECRET")) && *e)
		secret = strdup(e);
	unsetenv("KLOG_SECRET");
	o.secret = secret;
	o.log = logmsg;
	if ((nfds = klog_net_listen_fds()) > 0) {
		if (nfds > 1)
			logmsg(LOG_WARNING, "socket activation passed several sockets; using the first");
		o.listen_fd = 3;
	}
	/* partitions hold descriptors: take what the hard limit allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = onsig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (!(broker = klog_broker_open(&o, err)))
		die(errno == EPERM ? 2 : 1, "%s", err);
	if (early_stop)
		klog_broker_shutdown(broker);
	/* ready: the log is recovered and the socket listens */
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving %s on %s\nMAINPID=%ld", dir,
	    klog_broker_address(broker), (long)getpid());
	if (klog_net_notify(msg, err) < 0)
		logmsg(LOG_WARNING, err);
	if (ready_fd >= 0) {
		/* the bound address, so a caller that asked for port 0 learns the port */
		int n = snprintf(msg, sizeof msg, "%s\n", klog_broker_address(broker));
		if (write(ready_fd, msg, (size_t)n) != n)
			logmsg(LOG_WARNING, "cannot write to the readiness descriptor");
		close(ready_fd);
	}
	if (klog_broker_run(broker, err) < 0) {
		logmsg(LOG_ERR, err);
		klog_broker_close(broker);
		return 1;
	}
	klog_net_notify("STOPPING=1", NULL);
	klog_broker_close(broker);
	free(secret);
	return 0;
}
