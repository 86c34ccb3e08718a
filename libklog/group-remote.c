/* klog - groups through a broker (placeholder until implemented). MIT licence. */
#include <errno.h>

#include "group.h"

int
kgr_join(struct klog_group *g, const struct klog_group_opts *o, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_poll(struct klog_group *g, struct klog_gevent *ev, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_release(struct klog_group *g, const char *topic, int partition, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_leave(struct klog_group *g, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

void
kgr_free(struct klog_group *g)
{
}

int
kgr_list(struct klog_client *c, char ***names, size_t *n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_describe(struct klog_client *c, const char *group, struct klog_group_info *gi,
    char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_set_offsets(struct klog_client *c, const char *group, const struct klog_gcommit *cm,
    size_t n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgr_delete(struct klog_client *c, const char *group, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}
