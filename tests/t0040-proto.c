/* klog - tests for the text protocol's request and response parsers, and addresses. MIT licence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"
#include "kserver.h"
#include "tap.h"

static struct klog_req r;
static char err[KLOG_ERRLEN];
static char buf[KLOG_PROTO_MAX_LINE * 2];

static int
parse(const char *s, size_t max_payload)
{
	size_t n = strlen(s);

	memcpy(buf, s, n + 1);
	return klog_proto_parse(buf, n, max_payload, &r, err);
}

int
main(void)
{
	struct klog_reply rp;
	struct klog_buf out = { 0 };
	char host[256], port[16], line[256];
	int i;

	/* requests */
	cmp_ok(parse("PING", 100), ==, 0, "no newline yet: more bytes needed");
	cmp_ok(parse("PING\n", 100), ==, 1, "PING parses");
	cmp_ok(r.verb, ==, KLOG_V_PING, "verb PING");
	cmp_ok(r.line_len, ==, 5, "line length counts the newline");
	cmp_ok(parse("ping  hello\r\nPING\n", 100), ==, 1, "lower case, CRLF, two blanks");
	cmp_ok(r.argc, ==, 2, "two words");
	is(r.argv[1], "hello", "the argument without CR");
	cmp_ok(r.line_len, ==, 13, "only the first line is consumed");
	cmp_ok(parse("\tFETCH\torders 0 10 1000 500 1 \n", 100), ==, 1, "tabs separate words");
	cmp_ok(r.verb, ==, KLOG_V_FETCH, "FETCH");
	cmp_ok(r.argc, ==, 7, "FETCH with wait and min bytes");
	cmp_ok(parse("\n", 100), ==, 1, "an empty line");
	cmp_ok(r.verb, ==, KLOG_V_NONE, "is no request");
	cmp_ok(parse("   \n", 100), ==, 1, "a blank line");
	cmp_ok(r.verb, ==, KLOG_V_NONE, "is no request either");

	cmp_ok(parse("PRODUCE t 0 1 42\n", 100), ==, 1, "PRODUCE with a payload");
	cmp_ok(r.payload, ==, 42, "payload length");
	cmp_ok(parse("PRODUCE t 0 1 101\n", 100), ==, -1, "payload over the limit");
	is(r.code, "TOO_LARGE", "TOO_LARGE");
	ok(r.fatal, "and the connection closes");
	cmp_ok(parse("PRODUCE t 0 1 -1\n", 100), ==, -1, "negative payload");
	ok(r.fatal && !strcmp(r.code, "BAD_REQUEST"), "BAD_REQUEST, fatal");
	cmp_ok(parse("PRODUCE t 0 1 x\n", 100), ==, -1, "payload length not a number");
	ok(r.fatal, "fatal: the stream cannot be followed");
	cmp_ok(parse("PRODUCE t 1 7\n", 100), ==, -1, "PRODUCE missing a word");
	ok(r.fatal && !strcmp(r.code, "BAD_REQUEST"), "fatal BAD_REQUEST");
	cmp_ok(parse("PRODUCE\n", 100), ==, -1, "PRODUCE alone");
	ok(r.fatal, "fatal");

	cmp_ok(parse("FROB x\n", 100), ==, -1, "unknown verb");
	is(r.code, "UNKNOWN_COMMAND", "UNKNOWN_COMMAND");
	ok(!r.fatal, "not fatal: a typo at nc");
	cmp_ok(r.line_len, ==, 7, "the line is skipped");
	ok(strstr(err, "FROB") != NULL, "the message names it: %s", err);
	cmp_ok(parse("DESCRIBE\n", 100), ==, -1, "DESCRIBE without a topic");
	ok(!r.fatal && !strcmp(r.code, "BAD_REQUEST"), "BAD_REQUEST, not fatal");
	cmp_ok(parse("PING a b\n", 100), ==, -1, "PING with two words");
	cmp_ok(parse("OFFSETS t 0 9\n", 100), ==, -1, "OFFSETS with three");

	cmp_ok(parse("PING \x01\n", 100), ==, -1, "a control byte");
	ok(r.fatal, "binary in a line is fatal");
	cmp_ok(parse("PING \xff\n", 100), ==, -1, "a byte over 0x7e");
	ok(r.fatal, "fatal too");

	memset(buf, 'a', KLOG_PROTO_MAX_LINE + 10);
	cmp_ok(klog_proto_parse(buf, KLOG_PROTO_MAX_LINE - 1, 100, &r, err), ==, 0,
	    "64 KiB - 1 without a newline: wait for more");
	cmp_ok(klog_proto_parse(buf, KLOG_PROTO_MAX_LINE + 10, 100, &r, err), ==, -1,
	    "64 KiB without a newline: an error");
	ok(r.fatal && !strcmp(r.code, "TOO_LARGE"), "fatal TOO_LARGE");
	buf[KLOG_PROTO_MAX_LINE - 1] = '\n';
	cmp_ok(klog_proto_parse(buf, KLOG_PROTO_MAX_LINE + 10, 100, &r, err), ==, -1,
	    "a 64 KiB line is one word too long to be a verb");
	is(r.code, "UNKNOWN_COMMAND", "but it is a whole line");

	line[0] = 0;
	for (i = 0; i < KLOG_PROTO_MAX_ARGS + 1; i++)
		strcat(line, "x ");
	strcat(line, "\n");
	cmp_ok(parse(line, 100), ==, -1, "too many words");
	ok(r.fatal, "fatal");
	for (i = 1; i < KLOG_V_NVERBS; i++)
		ok(strlen(klog_verb_name(i)) > 0, "verb %d is %s", i, klog_verb_name(i));

	/* error lines */
	klog_proto_err(&out, "UNKNOWN_TOPIC", "no such topic 'x'");
	cmp_ok(out.len, ==, strlen("ERR UNKNOWN_TOPIC no such topic 'x'\n"), "error line");
	ok(!memcmp(out.data, "ERR UNKNOWN_TOPIC no such topic 'x'\n", out.len), "error line text");
	out.len = 0;
	klog_proto_err(&out, "BAD_REQUEST", "evil\nOK 1 2\r\x01");
	ok(memchr(out.data, '\n', out.len) == out.data + out.len - 1, "a message cannot add lines");
	out.len = 0;
	klog_proto_err(&out, "INTERNAL", "");
	ok(out.len == strlen("ERR INTERNAL INTERNAL\n"), "an empty message gets the code");
	klog_buf_free(&out);

	/* responses */
	strcpy(line, "OK 5 9\n");
	cmp_ok(klog_proto_reply(line, &rp), ==, 0, "OK with values");
	ok(rp.kind == KLOG_REPLY_OK && rp.argc == 2 && !strcmp(rp.argv[1], "9"), "two values");
	strcpy(line, "OK");
	ok(klog_proto_reply(line, &rp) == 0 && rp.kind == KLOG_REPLY_OK && rp.argc == 0, "bare OK");
	strcpy(line, "DATA 100 7 9");
	ok(klog_proto_reply(line, &rp) == 0 && rp.kind == KLOG_REPLY_DATA && rp.len == 100,
	    "DATA with a length");
	strcpy(line, "DATA x");
	cmp_ok(klog_proto_reply(line, &rp), ==, -1, "DATA with junk length");
	strcpy(line, "ERR OFFSET_OUT_OF_RANGE offset 5 is below 9");
	ok(klog_proto_reply(line, &rp) == 0 && rp.kind == KLOG_REPLY_ERR, "ERR");
	is(rp.code, "OFFSET_OUT_OF_RANGE", "code word");
	is(rp.msg, "offset 5 is below 9", "message");
	strcpy(line, "OKAY");
	cmp_ok(klog_proto_reply(line, &rp), ==, -1, "OKAY is not OK");
	strcpy(line, "HELLO");
	cmp_ok(klog_proto_reply(line, &rp), ==, -1, "junk");

	/* addresses */
	ok(klog_net_split("host:12", host, sizeof host, port, sizeof port, "d", err) == 0 &&
	    !strcmp(host, "host") && !strcmp(port, "12"), "host:port");
	ok(klog_net_split(":12", host, sizeof host, port, sizeof port, "127.0.0.1", err) == 0 &&
	    !strcmp(host, "127.0.0.1"), ":port takes the default host");
	ok(klog_net_split("h", host, sizeof host, port, sizeof port, "d", err) == 0 &&
	    atoi(port) == KLOG_PORT, "no port: %d", KLOG_PORT);
	ok(klog_net_split("[::1]:99", host, sizeof host, port, sizeof port, "d", err) == 0 &&
	    !strcmp(host, "::1") && !strcmp(port, "99"), "[v6]:port");
	cmp_ok(klog_net_split("::1:99", host, sizeof host, port, sizeof port, "d", err), ==, -1,
	    "bare v6 with a port is ambiguous");
	cmp_ok(klog_net_split("h:99999", host, sizeof host, port, sizeof port, "d", err), ==, -1,
	    "port out of range");
	cmp_ok(klog_net_split("h:x", host, sizeof host, port, sizeof port, "d", err), ==, -1,
	    "port not a number");
	return done_testing();
}
