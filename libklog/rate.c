/* klog - recent write rates per partition, so that skew shows. MIT licence. */
/*
 * Embedded (no daemon counts appends), a partition's recent rate is read
 * off the log itself: o = the first offset whose record timestamp is
 * within the last KLOG_RATE_WINDOW_MS (klog_part_offset_for_time: the time
 * index, then a scan of one segment), records = log end - o, bytes = the
 * bytes of the log from o's batch to the end (what is stored: batch
 * headers, compressed records), each divided by the window.  Timestamps
 * are the producers' (CreateTime) unless the topic uses LogAppendTime, so a
 * producer with a clock far off moves its records in or out of the
 * window; offsets of a compacted stretch count as records even when the
 * cleaner removed them (not the case of the recent end in practice).
 * Cost: one time-index lookup and a scan of part of one segment per
 * partition, and a stat(2) of each later segment.
 *
 * Remote, the broker counts what it appends (broker-stats.c) and answers
 * DESCRIBE TOPIC RATES with the same figures over the same window.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "partition.h"

int
klog_part_rate(struct klog_part *p, int64_t now_ms, struct klog_part_rate *r, char *err)
{
	struct klog_slice sl;
	struct stat st;
	int64_t o, bytes = 0;
	size_t i;

	r->records = r->bytes = 0;
	if (klog_part_offset_for_time(p, now_ms - KLOG_RATE_WINDOW_MS, &o, err) < 0)
		return -1;
	if (o >= p->end)
		return 0;
	if (klog_part_slice(p, o, 1, &sl, err) < 0)
		return -1;
	if (sl.len == 0 || p->rseg >= p->nseg)
		return 0;
	for (i = p->rseg; i < p->nseg; i++) {
		char nm[KSEG_NAMELEN];
		kseg_name(nm, sizeof nm, p->segs[i].base, ".log");
		if (fstatat(p->dfd, nm, &st, 0) == 0)
			bytes += st.st_size;
	}
	bytes -= sl.pos;
	r->records = (double)(p->end - o) * 1000 / KLOG_RATE_WINDOW_MS;
	r->bytes = (double)(bytes > 0 ? bytes : 0) * 1000 / KLOG_RATE_WINDOW_MS;
	return 0;
}

/* every partition of topic, read-only */
int
krate_local(struct klog_dir *d, const char *topic, struct klog_part_rate **rates, int *n,
    char *err)
{
	struct klog_config cfg;
	int64_t now = klog_now_ms();
	int i;

	if (klog_topic_load(d, topic, &cfg, err) < 0)
		return -1;
	if (!(*rates = calloc((size_t)cfg.partitions, sizeof **rates)))
		return kerr_sys(err, "topic '%s'", topic);
	for (i = 0; i < cfg.partitions; i++) {
		struct klog_part *p = klog_part_open(d, topic, i, KLOG_RDONLY, err);
		if (!p || klog_part_rate(p, now, &(*rates)[i], err) < 0) {
			klog_part_close(p);
			free(*rates);
			*rates = NULL;
			return -1;
		}
		klog_part_close(p);
	}
	*n = cfg.partitions;
	return 0;
}
