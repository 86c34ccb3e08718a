/* klog - embedded groups (placeholder until implemented). MIT licence. */
#include <errno.h>

#include "group.h"

int
kgl_join(struct klog_group *g, const struct klog_group_opts *o, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_poll(struct klog_group *g, struct klog_gevent *ev, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_commit(struct klog_group *g, const struct klog_gcommit *c, size_t n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_release(struct klog_group *g, const char *topic, int partition, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_leave(struct klog_group *g, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

void
kgl_free(struct klog_group *g)
{
}

int
kgl_list(struct klog_dir *d, char ***names, size_t *n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_describe(struct klog_dir *d, const char *group, struct klog_group_info *gi, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_set_offsets(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kgl_delete(struct klog_dir *d, const char *group, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}
