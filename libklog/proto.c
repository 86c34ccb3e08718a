/* klog - the text protocol: request parsing and response framing. MIT licence. */
/*
 * THE KLOG TEXT PROTOCOL, version 1 (also man/klog-protocol.7)
 *
 * One TCP connection carries requests from the client and responses from
 * the broker.  Default port 7092.  Everything is ASCII text lines ending
 * in "\n" ("\r\n" is accepted too), except binary payloads, which are
 * always framed by a byte count announced on the line before them, so
 * nothing ever needs escaping.
 *
 * Requests.  VERB ARG...\n  Words are separated by blanks (space or tab);
 * the verb is case-insensitive; a line is at most 65536 bytes including
 * the newline.  Requests carrying data end their line with the payload
 * length N, and exactly N bytes follow the newline.  Empty lines are
 * ignored (so a person at nc can press return).
 *
 * Responses come in the order of the requests, one per request (PRODUCE
 * with acks 0 has none), so a client may pipeline: send many requests,
 * then read the responses.  A response is one of
 *
 *	OK [WORD...]\n                 success, with values on the line
 *	OK N\n LINE1\n ... LINEN\n     a list: N lines follow (TOPICS, ...)
 *	DATA N [WORD...]\n <N bytes>   a binary (or long text) body
 *	ERR CODE message\n             failure
 *
 * CODE is one of these stable words (the message is for people and may
 * change):
 *
 *	BAD_REQUEST          malformed line, wrong arguments, bad number
 *	UNKNOWN_COMMAND      no such verb
 *	AUTH                 AUTH needed first, or a wrong secret
 *	UNKNOWN_TOPIC        no such topic
 *	UNKNOWN_PARTITION    the topic has no such partition
 *	TOPIC_EXISTS         CREATE of an existing topic
 *	INVALID              bad topic name, config key or value, shrink
 *	CORRUPT_BATCH        the payload is not whole batches, a batch fails
 *	                     its CRC-32C; or (FETCH, TIMEOFFSET) the stored log
 *	                     is damaged: the message names segment and byte
 *	INVALID_RECORD       a whole, CRC-valid batch that is wrong inside
 *	                     (Kafka's LogValidator rules, klog.5): records that
 *	                     do not parse, bad offsets, timestamps, producer
 *	                     fields, a codec this broker lacks
 *	TOO_LARGE            a line or payload over the limits, a batch over
 *	                     the topic's max.message.bytes
 *	OFFSET_OUT_OF_RANGE  fetch below the log start or past the log end
 *	BUSY                 too many connections, or the broker's buffer
 *	                     memory is exhausted
 *	STORAGE_ERROR        the disk failed the partition: a failed sync
 *	                     (the partition is failed until REPAIR: produces
 *	                     and acknowledgements still waiting get this),
 *	                     a full disk (ENOSPC: retry later), EIO
 *	OFFLINE              the partition could not be opened (damage below
 *	                     its recovery point): fenced until REPAIR
 *	UNKNOWN_GROUP        no such group (no members, no committed offsets)
 *	FENCED               a group member that is not in the group any more
 *	                     (removed, replaced), a generation that is not
 *	                     one of the member's, a partition it does not own
 *	NOT_LEADER           (cluster) this broker does not lead the partition
 *	                     (now): the message names the leader; ask METADATA
 *	NOT_CONTROLLER       (cluster) CREATE, ALTER, DELETE, BROKERHB and
 *	                     ALTERISR go to the controller: the message names it
 *	NOT_ENOUGH_REPLICAS  (cluster) acks all while the ISR is smaller than
 *	                     the topic's min.insync.replicas: nothing written
 *	NOT_ENOUGH_REPLICAS_AFTER_APPEND  the same, found once the batch was
 *	                     written: not acknowledged, may or may not be kept
 *	STALE_EPOCH          (cluster) a leader or partition epoch that is not
 *	                     the current one (a deposed leader, a late follower)
 *	INTERNAL             anything else that went wrong in the broker
 *
 * After an ERR the connection stays open, except when the stream can no
 * longer be trusted: a line over the limit, a line holding bytes other
 * than printable ASCII and blanks, a payload request whose length word is
 * missing or bad, a payload over the limit, AUTH failures, BUSY.  Then the
 * broker sends the ERR line and closes.
 *
 * Commands (arguments in CAPITALS are values):
 *
 *	PING [WORD]                      OK PONG [WORD]
 *	AUTH SECRET                      OK
 *		When the broker has a shared secret, every other command
 *		but QUIT answers ERR AUTH (and closes) until AUTH succeeds.
 *	QUIT                             OK BYE, then the broker closes
 *	TOPICS                           OK N, then N topic names
 *	DESCRIBE TOPIC                   OK N, then one line per partition:
 *		TOPIC PARTITION LOG_START LOG_END SEGMENTS BYTES STATE
 *		(tab-separated); STATE online, failed (a sync failed) or
 *		offline (fenced at open)
 *	DESCRIBE TOPIC RATES             OK N, then one line per partition:
 *		TOPIC PARTITION RECORDS_PER_S BYTES_PER_S (tab-separated,
 *		decimals): what the broker appended to it in the current
 *		second and the 9 before, divided by 10 (broker-stats.c)
 *	CONFIG TOPIC                     OK N, then N key=value lines
 *	CREATE TOPIC PARTITIONS [KEY=VALUE...]          OK
 *	ALTER TOPIC PARTITIONS|- [KEY=VALUE...]         OK
 *		partitions only grow; "-" keeps the count
 *	DELETE TOPIC                     OK
 *	PRODUCE TOPIC PARTITION ACKS N\n<N bytes>
 *		The payload is one or more whole RecordBatch v2 (Kafka's
 *		format, see klog.5) back to back; their base offsets are
 *		ignored.  The broker checks each batch's header and CRC-32C,
 *		assigns offsets and appends them as one unit (all or
 *		nothing), unchanged but for baseOffset and
 *		partitionLeaderEpoch (and the timestamp with LogAppendTime).
 *		ACKS is 0, 1 or all (one broker: all = 1).
 *		ACKS 1|all: OK FIRST LAST (offsets of the first and last
 *		record), sent only when the fsync policy's promise holds:
 *		--fsync always: after the partition's files (and any new
 *		segment's directory entry) are synced (group commit: one
 *		sync per partition covers every produce that arrived while
 *		the previous sync ran); interval=MS and never: after the
 *		write(2), i.e. the records survive a crash of the broker
 *		but not of the machine (interval bounds the loss to MS
 *		milliseconds).  If the sync fails the answer is ERR
 *		STORAGE_ERROR instead, and the partition is failed.
 *		Responses stay in request order: an acknowledgement
 *		waiting for its sync holds back the responses after it.
 *		ACKS 0: no response at all, success or failure; on failure
 *		the broker logs, counts it in STATS and closes the
 *		connection, so the producer notices.
 *	FETCH TOPIC PARTITION OFFSET MAX_BYTES [MAX_WAIT_MS [MIN_BYTES]]
 *		DATA N NEXT LOG_END\n<N bytes>: whole stored batches, byte for
 *		byte as on disk (sent with sendfile), starting with the batch
 *		that holds OFFSET (it may start before OFFSET: skip those
 *		records), from one segment, at most MAX_BYTES unless the
 *		first batch alone is larger.  NEXT is the offset to fetch
 *		next; LOG_END the partition's visible end: under --fsync
 *		always only durable records are served (a high watermark;
 *		a produce becomes visible when it is acknowledged) unless
 *		the broker runs with --visible written, else everything
 *		written.  Every batch served was checked against
 *		its neighbours and, once, its CRC.  Long poll: when
 *		fewer than MIN_BYTES (default 1) are there, the broker waits
 *		up to MAX_WAIT_MS (default 0) for a produce to this
 *		partition, then answers with what there is (maybe DATA 0).
 *		OFFSET == LOG_END is not an error: it waits; so does an
 *		OFFSET past LOG_END whose records are written but not yet
 *		durable (--fsync always).  OFFSET below LOG_START, past
 *		what is written, or past LOG_END of a failed partition:
 *		ERR OFFSET_OUT_OF_RANGE.
 *	OFFSETS TOPIC PARTITION          OK LOG_START LOG_END (visible end)
 *	TIMEOFFSET TOPIC PARTITION TS    OK OFFSET
 *		first offset whose timestamp (ms since the epoch) >= TS;
 *		LOG_END if none
 *	STATS                            DATA N\n<N bytes of Prometheus text>
 *	REPAIR TOPIC PARTITION           OK N, then N lines saying what was done
 *		Brings a failed or offline partition back.  Failed (a sync
 *		failed): everything written after the last good sync is cut
 *		into <segment>.log.damaged (it was never acknowledged under
 *		--fsync always), synced, and appends go on.  Offline: what
 *		kdump --repair does (damage cut into .damaged files, indexes
 *		rebuilt), then the partition is opened again.  A healthy
 *		partition: "nothing to repair".  Runs in the event loop.
 *
 * Consumer groups (the broker is the coordinator; broker-group.c):
 *
 *	JOIN GROUP MEMBER INSTANCE SESSION_MS STRATEGY TOPICS CLIENT_ID HOST PID
 *		OK MEMBER GENERATION.  MEMBER "-" (or one the group does not
 *		know): a new member, its id chosen by the broker; INSTANCE "-"
 *		or a static member's instance id (a JOIN with a known instance
 *		id takes over that member's partitions under a new member id,
 *		fencing the old one, without moving anybody else's); SESSION_MS
 *		10 to 3600000; STRATEGY range, roundrobin or sticky (the
 *		group's, set by its first member); TOPICS a comma-separated
 *		list of existing topics; CLIENT_ID, HOST and PID describe the
 *		member (DESCRIBEGROUP).  The member is bound to the connection
 *		it joins (and heartbeats) on: when that closes, a dynamic member
 *		is removed at once, a static one keeps its partitions until its
 *		session expires.  Every change of members is a new generation.
 *	HEARTBEAT GROUP MEMBER GENERATION [VERSION]
 *		OK N GENERATION VERSION, then N lines "own TOPIC PARTITION
 *		COMMITTED" (the member owns it; COMMITTED -1 if none) or
 *		"revoke TOPIC PARTITION COMMITTED" (it owns it but must commit
 *		and RELEASE it).  N is 0 when VERSION is the member's current
 *		version (nothing changed since that answer); otherwise the list
 *		is complete: a partition the member holds that is not listed was
 *		taken from it.  Silence for SESSION_MS removes the member.  A
 *		partition is given to its next owner only once the previous one
 *		released it or was removed: never two owners at once.
 *	COMMIT GROUP MEMBER GENERATION N\n<N bytes>
 *		The payload is lines "TOPIC PARTITION OFFSET" (the next offset
 *		to consume, 0 to the log end).  OK COUNT once durable (as a
 *		produce with acks all).  FENCED, and nothing is written, unless
 *		the member is in the group, GENERATION is from the one it joined
 *		in to the current one, and it owns every partition (one it was
 *		asked to revoke counts until it releases it).  Stored as
 *		Kafka's offset-commit records (key 1, value 3) in
 *		__consumer_offsets (made at the first commit: 50 partitions,
 *		cleanup.policy=compact), partition abs(hashCode(GROUP)) % 50.
 *	RELEASE GROUP MEMBER GENERATION TOPIC PARTITION [TOPIC PARTITION...]
 *		OK; the member gives the partitions up (after a revoke).
 *	LEAVE GROUP MEMBER               OK; the member is removed at once
 *	COMMITTED GROUP                  OK N, then "TOPIC PARTITION OFFSET" lines
 *	GROUPS                           OK N, then the groups with members or
 *		committed offsets
 *	DESCRIBEGROUP GROUP              OK N STATE GENERATION STRATEGY, then
 *		N lines: "member ID INSTANCE|- CLIENT_ID HOST PID" for each
 *		member, then "partition TOPIC PARTITION COMMITTED LOG_END LAG
 *		OWNER|-" for each partition subscribed or committed (sorted);
 *		tab-separated.  STATE Empty, Stable or PreparingRebalance (a
 *		partition waits for its owner to release it).
 *	SETOFFSETS GROUP N\n<N bytes>    OK COUNT once durable; lines as in
 *		COMMIT, OFFSET -1 deletes; BUSY (naming them) while the group
 *		has members
 *	DELETEGROUP GROUP                OK once durable: tombstones for the
 *		group's offsets and metadata; BUSY while it has members
 *
 * Replication (a cluster of brokers; libklog/broker-repl.c, broker-meta.c,
 * broker-ctl.c; klog.7 "Replication"):
 *
 *	METADATA [TOPIC...]              OK N, then lines (cluster.h):
 *		"cluster CONTROLLER VERSION SELF", "node ID ADDR alive|dead",
 *		"topic NAME PARTITIONS RF [KEY=VALUE...]" and "part NAME
 *		PARTITION LEADER LEADER_EPOCH PART_EPOCH REPLICAS ISR" (ids
 *		comma-separated, "-" none; LEADER -1 none) of the topics named,
 *		or all.  A standalone broker: "cluster -1 0 SELF", itself as
 *		node SELF, the leader and only replica of every partition.
 *	BROKERHB NODE INCARNATION ADDR VERSION    (controller)  OK VERSION
 *		A broker's heartbeat (every 50 ms); the connection it comes on
 *		is the broker's session: closed, or silent for the session
 *		timeout, the broker is dead.  ADDR is where it serves.
 *	ALTERISR TOPIC PARTITION LEADER_EPOCH PART_EPOCH ISR  (controller)
 *		OK NEW_PART_EPOCH: the leader's new ISR holds; STALE_EPOCH when
 *		either epoch is not current.
 *	RFETCH TOPIC PARTITION OFFSET MAX_BYTES MAX_WAIT_MS NODE LEADER_EPOCH
 *		A replica's fetch (leader only): DATA N NEXT HW\n<N bytes>, as
 *		FETCH but a follower (NODE >= 0) is served everything written
 *		and an observer (NODE -1, kreplicate) up to the HW; HW is the
 *		high watermark.  OFFSET is what the follower holds (durable on
 *		it): the leader's ISR and HW follow it.  STALE_EPOCH unless
 *		LEADER_EPOCH is the leader's.
 *	EPOCHEND TOPIC PARTITION EPOCH   OK E END (leader only): the largest
 *		epoch E <= EPOCH in the leader's epoch cache and the offset
 *		where the next one starts (the log end if E is the latest);
 *		"OK -1 -1" if none.  A follower truncates to it.
 *	In a cluster, PRODUCE, FETCH, OFFSETS and TIMEOFFSET go to the
 *	partition's leader (NOT_LEADER elsewhere); FETCH and OFFSETS see up to
 *	the HW; PRODUCE with ACKS all is acknowledged once the HW covers it,
 *	and answers NOT_ENOUGH_REPLICAS, writing nothing, while the ISR is
 *	below min.insync.replicas (NOT_ENOUGH_REPLICAS_AFTER_APPEND if it
 *	shrank after the write); a leader deposed before the HW covers a
 *	batch answers NOT_LEADER saying it may or may not be kept, where a
 *	refused request's NOT_LEADER names the leader ("leader is node N at
 *	ADDR") or says there is none.
 *
 * Example, by hand:
 *
 *	$ nc localhost 7092
 *	PING
 *	OK PONG
 *	TOPICS
 *	OK 1
 *	orders
 *	FETCH orders 7 0 1000
 *	ERR UNKNOWN_PARTITION topic 'orders' has 3 partitions
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const struct {
	const char *name;
	int min, max;           /* arguments after the verb */
	int payload;            /* the last argument is a payload length */
} verbs[KLOG_V_NVERBS] = {
	[KLOG_V_UNKNOWN] = { "UNKNOWN", 0, 0, 0 },
	[KLOG_V_PING] = { "PING", 0, 1, 0 },
	[KLOG_V_AUTH] = { "AUTH", 1, 1, 0 },
	[KLOG_V_QUIT] = { "QUIT", 0, 0, 0 },
	[KLOG_V_TOPICS] = { "TOPICS", 0, 0, 0 },
	[KLOG_V_DESCRIBE] = { "DESCRIBE", 1, 2, 0 },
	[KLOG_V_CONFIG] = { "CONFIG", 1, 1, 0 },
	[KLOG_V_CREATE] = { "CREATE", 2, KLOG_PROTO_MAX_ARGS - 1, 0 },
	[KLOG_V_ALTER] = { "ALTER", 2, KLOG_PROTO_MAX_ARGS - 1, 0 },
	[KLOG_V_DELETE] = { "DELETE", 1, 1, 0 },
	[KLOG_V_PRODUCE] = { "PRODUCE", 4, 4, 1 },
	[KLOG_V_FETCH] = { "FETCH", 4, 6, 0 },
	[KLOG_V_OFFSETS] = { "OFFSETS", 2, 2, 0 },
	[KLOG_V_TIMEOFFSET] = { "TIMEOFFSET", 3, 3, 0 },
	[KLOG_V_STATS] = { "STATS", 0, 0, 0 },
	[KLOG_V_REPAIR] = { "REPAIR", 2, 2, 0 },
	[KLOG_V_COMPACT] = { "COMPACT", 1, 2, 0 },
	[KLOG_V_JOIN] = { "JOIN", 9, 9, 0 },
	[KLOG_V_HEARTBEAT] = { "HEARTBEAT", 3, 4, 0 },
	[KLOG_V_COMMIT] = { "COMMIT", 4, 4, 1 },
	[KLOG_V_RELEASE] = { "RELEASE", 5, KLOG_PROTO_MAX_ARGS - 1, 0 },
	[KLOG_V_LEAVE] = { "LEAVE", 2, 2, 0 },
	[KLOG_V_COMMITTED] = { "COMMITTED", 1, 1, 0 },
	[KLOG_V_GROUPS] = { "GROUPS", 0, 0, 0 },
	[KLOG_V_DESCRIBEGROUP] = { "DESCRIBEGROUP", 1, 1, 0 },
	[KLOG_V_SETOFFSETS] = { "SETOFFSETS", 2, 2, 1 },
	[KLOG_V_DELETEGROUP] = { "DELETEGROUP", 1, 1, 0 },
	[KLOG_V_METADATA] = { "METADATA", 0, KLOG_PROTO_MAX_ARGS - 1, 0 },
	[KLOG_V_BROKERHB] = { "BROKERHB", 4, 4, 0 },
	[KLOG_V_ALTERISR] = { "ALTERISR", 5, 5, 0 },
	[KLOG_V_RFETCH] = { "RFETCH", 7, 7, 0 },
	[KLOG_V_EPOCHEND] = { "EPOCHEND", 3, 3, 0 },
};

const char *
klog_verb_name(int verb)
{
	if (verb < 0 || verb >= KLOG_V_NVERBS)
		verb = KLOG_V_UNKNOWN;
	return verbs[verb].name;
}

static int
fail(struct klog_req *r, const char *code, char *err, const char *msg)
{
	r->code = code;
	snprintf(err, KLOG_ERRLEN, "%s", msg);
	return -1;
}

int
klog_proto_parse(char *buf, size_t len, size_t max_payload, struct klog_req *r, char *err)
{
	char *nl, *p, *end;
	size_t i, n;
	int v;

	memset(r, 0, sizeof *r);
	n = len < KLOG_PROTO_MAX_LINE ? len : KLOG_PROTO_MAX_LINE;
	if (!(nl = memchr(buf, '\n', n))) {
		if (len >= KLOG_PROTO_MAX_LINE) {
			r->fatal = 1;
			return fail(r, "TOO_LARGE", err, "request line over 65536 bytes");
		}
		return 0;
	}
	r->line_len = (size_t)(nl - buf) + 1;
	end = nl;
	if (end > buf && end[-1] == '\r')
		end--;
	for (p = buf; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\t')
			*p = ' ';
		else if (c < 0x20 || c > 0x7e) {
			r->fatal = 1;
			return fail(r, "BAD_REQUEST", err, "binary bytes in a request line");
		}
	}
	*end = 0;
	p = buf;
	while (*p) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		if (r->argc == KLOG_PROTO_MAX_ARGS) {
			/* a line this odd may be a mis-framed payload */
			r->fatal = 1;
			return fail(r, "BAD_REQUEST", err, "too many words in a request");
		}
		r->argv[r->argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	if (r->argc == 0) {
		r->verb = KLOG_V_NONE;
		return 1;
	}
	for (v = 1; v < KLOG_V_NVERBS; v++)
		if (!strcasecmp(r->argv[0], verbs[v].name))
			break;
	if (v == KLOG_V_NVERBS) {
		r->verb = KLOG_V_UNKNOWN;
		r->code = "UNKNOWN_COMMAND";
		snprintf(err, KLOG_ERRLEN, "unknown command '%.64s'", r->argv[0]);
		return -1;
	}
	r->verb = v;
	if (verbs[v].payload) {
		int64_t nb;
		if (r->argc < 2 || klog_parse_i64(r->argv[r->argc - 1], &nb) < 0 || nb < 0) {
			r->fatal = 1;
			return fail(r, "BAD_REQUEST", err, "payload length missing or bad");
		}
		if ((uint64_t)nb > max_payload) {
			r->fatal = 1;
			r->code = "TOO_LARGE";
			snprintf(err, KLOG_ERRLEN, "payload of %lld bytes is over the limit of %zu",
			    (long long)nb, max_payload);
			return -1;
		}
		r->payload = nb;
	}
	i = (size_t)r->argc - 1;
	if (i < (size_t)verbs[v].min || i > (size_t)verbs[v].max) {
		r->fatal = verbs[v].payload;
		r->code = "BAD_REQUEST";
		snprintf(err, KLOG_ERRLEN, "%s takes %d to %d arguments, not %zu", verbs[v].name,
		    verbs[v].min, verbs[v].max, i);
		return -1;
	}
	return 1;
}

int
klog_proto_err(struct klog_buf *out, const char *code, const char *msg)
{
	size_t at, i;

	if (klog_buf_printf(out, "ERR %s %s\n", code, msg && *msg ? msg : code) < 0)
		return -1;
	/* one line, printable: the message may quote bytes a client sent */
	at = out->len - strlen(msg && *msg ? msg : code) - 1;
	for (i = at; i < out->len - 1; i++)
		if (out->data[i] < 0x20 || out->data[i] > 0x7e)
			out->data[i] = '?';
	return 0;
}
