/* klog - the controller: cluster membership, elections, ISR changes. MIT licence. */
/* PLACEHOLDER: replaced by its owner (issue 10, part K). */
#include "broker.h"

int
kb_ctl_start(struct klog_broker *b, char *err)
{
	(void)b;
	(void)err;
	return 0;
}

void
kb_ctl_stop(struct klog_broker *b)
{
	(void)b;
}

void
kb_ctl_conn_closed(struct conn *c)
{
	(void)c;
}

void
kb_ctl_cmd(struct conn *c, struct klog_req *r, int64_t t0)
{
	kb_reply_err(c, "NOT_CONTROLLER", "this broker is not in a cluster");
	kb_observe(c->b, r->verb, t0, 1);
}
