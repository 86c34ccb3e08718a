/* klog - the server side: TCP helpers, the text protocol, the event loop,
 * the broker. Private: not installed. MIT licence. */
/*
 * Declarations here are not part of the embedding API (klog.h).  net.c
 * and the reply parser (klog_proto_reply, in client.c) are inside libklog
 * (the remote client needs them) but not exported from libklog.so; the
 * request parser (proto.c), the event loop (loop.c) and the broker
 * (broker*.c) are in libkserver.a, linked by kbrokerd and the tests.
 */
#ifndef KLOG_KSERVER_H
#define KLOG_KSERVER_H

#include "klog.h"

/* net.c: TCP helpers (anet-style) and systemd's fd and notify protocols */
#define KLOG_PORT 7092
/* "HOST:PORT", "[V6]:PORT", "HOST", ":PORT" -> host (defhost if none), port */
int klog_net_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
    const char *defhost, char *err);
/* a listening socket (non-blocking, SO_REUSEADDR); -1 with err */
int klog_net_listen(const char *addr, int backlog, char *err);
/* accept4 non-blocking; peer gets "ADDR:PORT"; -1 with errno */
int klog_net_accept(int lfd, char *peer, size_t n);
/* connect to the first of "a:1,b:2" that answers, within timeout_ms each;
 * the socket is blocking with TCP_NODELAY */
int klog_net_connect(const char *addrs, int timeout_ms, char *err);
int klog_net_nonblock(int fd, int on);
int klog_net_tune(int fd);                      /* TCP_NODELAY */
void klog_net_format(const void *sockaddr, char *buf, size_t n);
int klog_net_local(int fd, char *buf, size_t n); /* getsockname as "ADDR:PORT" */
/* socket activation: number of sockets passed from fd 3 (LISTEN_PID is
 * us), 0 if none; clears the LISTEN_* variables */
int klog_net_listen_fds(void);
/* one datagram to $NOTIFY_SOCKET ("/path" or "@abstract"): 1 sent, 0 no
 * socket set, -1 with err */
int klog_net_notify(const char *state, char *err);

/* proto.c: the text protocol (specified at the top of proto.c and in
 * klog-protocol.7): request lines, payload framing, responses */
#define KLOG_PROTO_MAX_LINE 65536
#define KLOG_PROTO_MAX_ARGS 32
enum {
	KLOG_V_NONE = -1,       /* an empty line */
	KLOG_V_UNKNOWN = 0,
	KLOG_V_PING, KLOG_V_AUTH, KLOG_V_QUIT, KLOG_V_TOPICS, KLOG_V_DESCRIBE,
	KLOG_V_CONFIG, KLOG_V_CREATE, KLOG_V_ALTER, KLOG_V_DELETE, KLOG_V_PRODUCE,
	KLOG_V_FETCH, KLOG_V_OFFSETS, KLOG_V_TIMEOFFSET, KLOG_V_STATS, KLOG_V_REPAIR,
	KLOG_V_COMPACT,
	KLOG_V_JOIN, KLOG_V_HEARTBEAT, KLOG_V_COMMIT, KLOG_V_RELEASE, KLOG_V_LEAVE,
	KLOG_V_COMMITTED, KLOG_V_GROUPS, KLOG_V_DESCRIBEGROUP, KLOG_V_SETOFFSETS,
	KLOG_V_DELETEGROUP,
	KLOG_V_METADATA, KLOG_V_BROKERHB, KLOG_V_ALTERISR, KLOG_V_RFETCH, KLOG_V_EPOCHEND,
	KLOG_V_NVERBS
};
struct klog_req {
	int verb;
	int argc;                       /* argv[0] is the verb */
	char *argv[KLOG_PROTO_MAX_ARGS];
	size_t line_len;                /* bytes of the line with its newline */
	int64_t payload;                /* bytes following the line */
	const char *code;               /* on error: the code word */
	int fatal;                      /* on error: close the connection */
};
/*
 * Parse the request at the start of buf[0, len) (words are cut in place).
 * 1: a whole line, r filled (the payload may still be arriving); 0: more
 * bytes needed; -1: an error reply is due (r->code, err; r->line_len says
 * what to skip unless r->fatal, when the connection must close).
 */
int klog_proto_parse(char *buf, size_t len, size_t max_payload, struct klog_req *r, char *err);
const char *klog_verb_name(int verb);
/* append "ERR CODE message\n", the message made one printable line */
int klog_proto_err(struct klog_buf *out, const char *code, const char *msg);
enum { KLOG_REPLY_OK = 1, KLOG_REPLY_DATA, KLOG_REPLY_ERR };
struct klog_reply {
	int kind;
	int argc;                       /* words after OK / DATA */
	char *argv[8];
	int64_t len;                    /* DATA: body bytes */
	char *code, *msg;               /* ERR */
};
/* client.c: parse one response line (cut in place); -1 if it is not one */
int klog_proto_reply(char *line, struct klog_reply *rp);

/* loop.c: a tiny epoll event loop (redis ae-style) */
struct klog_loop;
#define KLOG_READABLE 1
#define KLOG_WRITABLE 2
typedef void klog_loop_fn(struct klog_loop *l, int fd, void *data, int mask);
/* returns the next interval in ms, or -1 to delete the timer */
typedef int64_t klog_timer_fn(struct klog_loop *l, void *data);
typedef void klog_hook_fn(struct klog_loop *l, void *data);
struct klog_loop *klog_loop_new(int nfiles, char *err);
void klog_loop_free(struct klog_loop *l);
int klog_loop_add(struct klog_loop *l, int fd, int mask, klog_loop_fn *fn, void *data);
void klog_loop_del(struct klog_loop *l, int fd, int mask);
int klog_loop_mask(struct klog_loop *l, int fd);
int64_t klog_loop_timer(struct klog_loop *l, int64_t ms, klog_timer_fn *fn, void *data);
void klog_loop_timer_del(struct klog_loop *l, int64_t id);
/* called once per turn before the loop blocks (group commit goes here) */
void klog_loop_before_sleep(struct klog_loop *l, klog_hook_fn *fn, void *data);
/* the next turn polls without blocking (work was left for it) */
void klog_loop_nowait(struct klog_loop *l);
int klog_loop_once(struct klog_loop *l, int max_wait_ms);
int klog_loop_run(struct klog_loop *l);
void klog_loop_stop(struct klog_loop *l);

/* lclient.c: a non-blocking client connection on the event loop (the
 * followers, kreplicate); see the top of lclient.c */
struct klog_lc;
enum { KLOG_LC_OK = 1, KLOG_LC_LIST, KLOG_LC_DATA, KLOG_LC_ERR, KLOG_LC_CLOSED };
struct klog_lc_reply {
	int kind;                       /* KLOG_LC_* */
	char *line;                     /* OK: the words after OK; DATA: after DATA N; LIST:
	                                 * after OK N; ERR: the message; CLOSED: why */
	char code[48];                  /* ERR: the code word; CLOSED: NETWORK (the
	                                 * connection died) or CLOSED (klog_lc_close) */
	unsigned char *data;            /* DATA: the bytes; LIST: the lines joined by \n */
	size_t len;
	size_t nlines;                  /* LIST */
};
/* line and data are valid during the callback only */
typedef void klog_lc_fn(struct klog_lc *lc, void *arg, struct klog_lc_reply *r);
/* start connecting to one "HOST:PORT" (AUTH first when secret); NULL with
 * err only for a bad address; a refused connection is reported through the
 * callbacks (KLOG_LC_CLOSED) like any later failure */
struct klog_lc *klog_lc_open(struct klog_loop *l, const char *addr, const char *secret,
    char *err);
/* queue a request (line with or without its newline, then plen payload
 * bytes); expect KLOG_LC_OK (one line) or KLOG_LC_LIST (OK N + N lines);
 * DATA and ERR are recognised whatever expect says.  cb runs once, in
 * request order.  -1 (errno EPIPE) on a dead or closing connection: then
 * cb is never called */
int klog_lc_send(struct klog_lc *lc, int expect, const char *line, const void *payload,
    size_t plen, klog_lc_fn *cb, void *arg);
/* pending callbacks get KLOG_LC_CLOSED (code CLOSED); safe inside a callback */
void klog_lc_close(struct klog_lc *lc);
int klog_lc_pending(const struct klog_lc *lc);
int klog_lc_alive(const struct klog_lc *lc);    /* not failed, not closed */
const char *klog_lc_error(const struct klog_lc *lc);    /* why it died */
const char *klog_lc_addr(const struct klog_lc *lc);
/* fail the connection when requests wait and nothing arrives for idle_ms (0: never) */
void klog_lc_set_timeout(struct klog_lc *lc, int idle_ms);
/* the largest DATA body or list (default 64 MiB) */
void klog_lc_set_max_data(struct klog_lc *lc, size_t max);

/* fetcher.c: a follower's fetcher, one partition pulled from its leader
 * over an lclient connection (the state machine is at the top of
 * fetcher.c); the broker's replicas and kreplicate use it */
struct klog_fetcher;
struct klog_fetcher_ops {
	int64_t (*log_end)(void *arg);                  /* the next offset to fetch */
	int32_t (*latest_epoch)(void *arg);             /* -1: none (NULL: never) */
	/* own end offset for an epoch: where the first own epoch after it
	 * starts, or the log end; -1 unknown (NULL: unknown) */
	int64_t (*epoch_end)(void *arg, int32_t epoch);
	/* own high watermark, -1 unknown (NULL: unknown): truncated to when
	 * the leader knows none of our epochs */
	int64_t (*high_watermark)(void *arg);
	int (*truncate)(void *arg, int64_t offset, char *err);
	int (*reset)(void *arg, int64_t log_start, char *err);  /* empty, start there */
	/* append the checked batches verbatim (data NULL, len 0: only the HW
	 * moved); data is valid during the call only.  1: durable now; 0: the
	 * owner calls klog_fetcher_ready once it is; -1 with err: the fetcher
	 * stops (FAILED) */
	int (*append)(void *arg, const unsigned char *data, size_t len, int64_t leader_hw,
	    char *err);
	/* what happened, for logs and for the owner to refresh metadata:
	 * DISCONNECTED, NOT_LEADER, STALE_EPOCH, TRUNCATED, RESET, DIVERGED,
	 * CORRUPT_BATCH, FAILED, or any ERR code of the leader (NULL: none) */
	void (*event)(void *arg, const char *code, const char *msg);
	/* RFETCH's answer names the leader's segment (its base offset) the
	 * batches about to be appended come from (NULL: ignored) */
	int (*segment)(void *arg, int64_t base, char *err);
};
struct klog_fetcher_stats {
	char state[16];                 /* idle epoch offsets fetching appending failed */
	int64_t log_end;                /* at the last RFETCH */
	int64_t leader_hw;              /* from the last answer; -1 none yet */
	int64_t bytes, records, fetches;        /* appended */
	int64_t truncations, resets, reconnects, bad;
	char last_event[KLOG_ERRLEN];
};
/* starts connecting from the loop's next turn; node_id -1: an observer
 * (served up to the HW, not in the ISR) */
struct klog_fetcher *klog_fetcher_new(struct klog_loop *l, const char *leader_addr,
    const char *secret, const char *topic, int partition, int node_id, int32_t leader_epoch,
    int max_wait_ms, size_t max_bytes, const struct klog_fetcher_ops *ops, void *arg,
    char *err);
void klog_fetcher_ready(struct klog_fetcher *f);        /* the last append is durable */
void klog_fetcher_free(struct klog_fetcher *f);         /* safe inside its callbacks */
void klog_fetcher_stats(const struct klog_fetcher *f, struct klog_fetcher_stats *st);
const char *klog_fetcher_error(const struct klog_fetcher *f);   /* FAILED: why; else NULL */

/* broker.c: kbrokerd's server: one log directory over the text protocol */
struct klog_broker;
enum { KLOG_FSYNC_ALWAYS, KLOG_FSYNC_INTERVAL, KLOG_FSYNC_NEVER };
struct klog_broker_opts {
	const char *dir;
	const char *listen;             /* "HOST:PORT"; NULL: 127.0.0.1:7092 */
	int listen_fd;                  /* >= 0: an inherited listening socket */
	const char *secret;             /* NULL: no AUTH needed */
	int fsync_policy;               /* KLOG_FSYNC_* */
	int fsync_interval_ms;
	int visible_written;            /* fetches see written records, not only durable ones */
	int max_conns;
	int idle_timeout_ms;            /* 0: none */
	size_t max_request;             /* largest payload */
	size_t max_output;              /* per connection; reading pauses past it */
	size_t max_memory;              /* all connection buffers */
	int max_waiting_fetches;        /* long polls parked, all connections; BUSY beyond */
	int max_conn_fetches;           /* long polls parked per connection; BUSY beyond */
	int max_partitions;             /* in the directory (CREATE/ALTER refuse beyond) */
	int max_topic_partitions;       /* in one topic */
	int max_open_partitions;        /* open at once; 0: from the descriptor limit */
	void (*log)(int prio, const char *msg);   /* syslog priorities (LOG_ERR ...) */
	int request_timeout_ms;         /* a request line, or each 64 KiB of payload, within it; 0: none */
	int max_conns_per_ip;           /* per source address; 0: no limit; -1: max_conns / 4, at least 64 */
	int insecure;                   /* serve a non-loopback address without a secret */
	/* replication (issue 10): a cluster member when cluster or cluster_file is set */
	int node_id;                    /* --node-id; standalone: 0 */
	const char *cluster;            /* --cluster "1@H:P,2@H:P,..." (first: the controller) */
	const char *cluster_file;       /* --cluster-file: the same, one per line */
	const char *advertise;          /* --advertise HOST:PORT; NULL: the bound address */
	int session_timeout_ms;         /* controller: a broker silent this long is dead */
	int replica_lag_ms;             /* leader: replica.lag.time.max.ms */
};
#define KLOG_BROKER_MAX_PARTITIONS 100000        /* defaults of max_partitions */
#define KLOG_BROKER_MAX_TOPIC_PARTITIONS 10000  /* and max_topic_partitions */
void klog_broker_defaults(struct klog_broker_opts *o);
/* open the directory (partitions open, and recover, at first use), take
 * DIR/kbrokerd.pid, listen: after this the broker is ready.  errno EPERM: a
 * configuration it refuses (a non-loopback listener without a secret or
 * insecure) */
struct klog_broker *klog_broker_open(const struct klog_broker_opts *o, char *err);
const char *klog_broker_address(const struct klog_broker *b);
/* serve until klog_broker_shutdown; then drain, fsync, checkpoint */
int klog_broker_run(struct klog_broker *b, char *err);
void klog_broker_shutdown(struct klog_broker *b);      /* async-signal-safe */
void klog_broker_close(struct klog_broker *b);          /* removes the pid file */

#endif
