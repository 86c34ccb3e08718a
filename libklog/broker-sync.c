/* klog - kbrokerd: group commit and the fsync policies. MIT licence. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

/* --- the loop's hooks -------------------------------------------------- */

void
kb_sync_dirty(struct klog_broker *b, int all)
{
	char err[KLOG_ERRLEN];
	size_t i;

	for (i = 0; i < b->ndirty; i++) {
		struct bpart *bp = b->dirtyv[i];
		bp->dirty = 0;
		b->fsyncs++;
		if (klog_part_sync(bp->p, err) < 0) {
			b->fsync_errors++;
			kb_log(b, LOG_CRIT, "%s", err);
			all = -1;
		}
	}
	b->ndirty = 0;
	if (all < 0) {
		/* nothing waiting for this commit may be acknowledged */
		for (i = 0; i < b->ncommit; i++)
			if (b->commitv[i]) {
				b->commitv[i]->commit_wait = 0;
				kb_conn_close(b->commitv[i]);
			}
		b->ncommit = 0;
	}
}

void
kb_before_sleep(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;
	size_t i, n;
	struct conn *c;

	b->turn++;
	/* connections whose output drained: run what they sent meanwhile */
	if (b->nresume) {
		b->nresume = 0;
		for (c = b->conns; c; c = c->next)
			if (c->resume && c->fd >= 0) {
				c->resume = 0;
				c->paused = 0;
				kb_conn_process(c);
				if (c->fd >= 0 && !c->paused)
					kb_conn_want_read(c);
				if (c->fd >= 0)
					kb_conn_flush(c);
			}
	}
	/* wake fetches on partitions that grew; a wake may free others: rescan */
	for (i = 0; i < b->ngrow; i++) {
		struct bpart *bp = b->growv[i];
		struct oitem *it;
		bp->grew = 0;
again:
		for (it = bp->waiters; it; it = it->wnext)
			if (it->seen != b->turn) {
				it->seen = b->turn;
				kb_fetch_try(it, 0);
				goto again;
			}
	}
	b->ngrow = 0;
	if (b->o.fsync_policy == KLOG_FSYNC_ALWAYS && (b->ndirty || b->ncommit)) {
		kb_sync_dirty(b, 0);
		b->committed++;
	}
	n = b->ncommit;
	for (i = 0; i < n && i < b->ncommit; i++) {
		c = b->commitv[i];
		if (c) {
			c->commit_wait = 0;
			b->commitv[i] = NULL;
			kb_conn_flush(c);
		}
	}
	/* flushes above may have queued new waiters: keep those */
	if (b->ncommit > n) {
		memmove(b->commitv, b->commitv + n, (b->ncommit - n) * sizeof *b->commitv);
		b->ncommit -= n;
	} else
		b->ncommit = 0;
	kb_reap(b);
}

int64_t
kb_sync_timer(struct klog_loop *l, void *data)
{
	struct klog_broker *b = data;

	kb_sync_dirty(b, 0);
	return b->o.fsync_interval_ms;
}
