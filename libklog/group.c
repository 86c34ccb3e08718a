/* klog - consumer groups: the public calls, embedded or remote. MIT licence. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

int
klog_group_name_check(const char *name, char *err)
{
	char e[KLOG_ERRLEN];

	if (klog_topic_name_check(name, e) < 0)
		return kerr(err, "invalid group name '%s': group names follow the topic rule "
		    "([A-Za-z0-9._-], 1 to %d bytes, not . or ..)", name, KLOG_GROUP_MAX);
	return 0;
}

void
klog_gcommits_free(struct klog_gcommit *c, size_t n)
{
	for (size_t i = 0; i < n && c; i++)
		free(c[i].topic);
	free(c);
}

void
klog_group_info_free(struct klog_group_info *gi)
{
	for (size_t i = 0; i < gi->nmembers; i++) {
		free(gi->members[i].member_id);
		free(gi->members[i].instance_id);
		free(gi->members[i].client_id);
		free(gi->members[i].host);
	}
	for (size_t i = 0; i < gi->nparts; i++)
		free(gi->parts[i].topic);
	free(gi->members);
	free(gi->parts);
	memset(gi, 0, sizeof(*gi));
}

struct klog_group *
klog_group_join(struct klog_log *lg, const struct klog_group_opts *o, char *err)
{
	struct klog_group *g;

	if (klog_group_name_check(o->group, err) < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (o->ntopics == 0) {
		errno = EINVAL;
		kerr(err, "group '%s': no topic to consume", o->group);
		return NULL;
	}
	if (kg_strategy_check(o->strategy ? o->strategy : "range", err) < 0)
		return NULL;
	if (!(g = calloc(1, sizeof(*g)))) {
		kerr_sys(err, "group '%s'", o->group);
		return NULL;
	}
	g->lg = lg;
	g->remote = klog_log_remote(lg);
	strcpy(g->group, o->group);
	g->generation = -1;
	if ((g->remote ? kgr_join(g, o, err) : kgl_join(g, o, err)) < 0) {
		int e = errno;

		free(g);
		errno = e;
		return NULL;
	}
	return g;
}

int
klog_group_poll(struct klog_group *g, struct klog_gevent *ev, char *err)
{
	return g->remote ? kgr_poll(g, ev, err) : kgl_poll(g, ev, err);
}

int
klog_group_interval(const struct klog_group *g)
{
	return g->interval_ms;
}

int
klog_group_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err)
{
	if (n == 0)
		return 0;
	return g->remote ? kgr_commit(g, c, n, err) : kgl_commit(g, c, n, err);
}

int
klog_group_release(struct klog_group *g, const char *topic, int partition, char *err)
{
	return g->remote ? kgr_release(g, topic, partition, err) :
	    kgl_release(g, topic, partition, err);
}

const char *
klog_group_member_id(const struct klog_group *g)
{
	return g->member_id;
}

int32_t
klog_group_generation(const struct klog_group *g)
{
	return g->generation;
}

int
klog_group_leave(struct klog_group *g, char *err)
{
	int r = g->remote ? kgr_leave(g, err) : kgl_leave(g, err);

	klog_group_free(g);
	return r;
}

void
klog_group_free(struct klog_group *g)
{
	if (!g)
		return;
	if (g->remote)
		kgr_free(g);
	else
		kgl_free(g);
	free(g);
}

int
klog_group_list(struct klog_log *lg, char ***names, size_t *n, char *err)
{
	if (klog_log_remote(lg))
		return kgr_list(klog_log_client(lg), names, n, err);
	return kgl_list(klog_log_dir(lg), names, n, err);
}

int
klog_group_describe(struct klog_log *lg, const char *group, struct klog_group_info *gi,
    char *err)
{
	memset(gi, 0, sizeof(*gi));
	if (klog_group_name_check(group, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (klog_log_remote(lg))
		return kgr_describe(klog_log_client(lg), group, gi, err);
	return kgl_describe(klog_log_dir(lg), group, gi, err);
}

int
klog_group_set_offsets(struct klog_log *lg, const char *group, const struct klog_gcommit *c,
    size_t n, char *err)
{
	if (klog_group_name_check(group, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (klog_log_remote(lg))
		return kgr_set_offsets(klog_log_client(lg), group, c, n, err);
	return kgl_set_offsets(klog_log_dir(lg), group, c, n, err);
}

int
klog_group_delete(struct klog_log *lg, const char *group, char *err)
{
	if (klog_group_name_check(group, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (klog_log_remote(lg))
		return kgr_delete(klog_log_client(lg), group, err);
	return kgl_delete(klog_log_dir(lg), group, err);
}
