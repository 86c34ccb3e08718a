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
	kb_reply_err(c, "UNKNOWN_COMMAND", "not yet");
	kb_observe(c->b, r->verb, t0, 1);
}
