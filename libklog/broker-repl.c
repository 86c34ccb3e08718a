/* klog - replicas on a broker: leaders, followers, high watermark. MIT licence. */
/* PLACEHOLDER: the lead's (issue 10). */
#include "broker.h"

int
kb_repl_start(struct klog_broker *b, char *err)
{
	(void)b;
	(void)err;
	return 0;
}

void
kb_repl_stop(struct klog_broker *b)
{
	(void)b;
}

void
kb_repl_cmd(struct conn *c, struct klog_req *r, int64_t t0)
{
	/* TEMPORARY (part K, until the lead's METADATA): the controller's lines */
	struct klog_buf lines = { 0 }, out = { 0 };
	int n;
	if (r->verb == KLOG_V_METADATA &&
	    (n = kb_ctl_metadata(c->b, r->argc > 1 ? r->argv + 1 : NULL, (size_t)r->argc - 1,
	    &lines)) >= 0) {
		klog_buf_printf(&out, "OK %d\n", n);
		klog_buf_append(&out, lines.data, lines.len);
		klog_buf_free(&lines);
		kb_reply_take(c, &out);
		kb_observe(c->b, r->verb, t0, 0);
		return;
	}
	klog_buf_free(&lines);
	kb_reply_err(c, "UNKNOWN_COMMAND", "not yet");
	kb_observe(c->b, r->verb, t0, 1);
}
