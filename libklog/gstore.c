/* klog - committed offsets in a log directory (placeholder until implemented). MIT licence. */
#include <errno.h>

#include "internal.h"

int
klog_gstore_load(struct klog_dir *d, const char *group, struct klog_gcommit **c, size_t *n,
    char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
klog_gstore_commit(struct klog_dir *d, const char *group, const struct klog_gcommit *c,
    size_t n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
klog_gstore_groups(struct klog_dir *d, char ***names, size_t *n, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
klog_gstore_delete(struct klog_dir *d, const char *group, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}
