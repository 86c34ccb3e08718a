/* klog - __consumer_offsets records (placeholder until implemented). MIT licence. */
#include <errno.h>

#include "internal.h"

int
klog_offsets_partition(const char *group)
{
	errno = ENOSYS;
	return -1;
}

int
klog_orec_decode(const void *key, int32_t klen, const void *val, int32_t vlen,
    struct klog_orec *r, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

void
klog_orec_free(struct klog_orec *r)
{
}

int
klog_orec_encode(const struct klog_orec *r, struct klog_buf *key, struct klog_buf *val,
    char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
klog_orec_format(const struct klog_orec *r, int json, struct klog_buf *out)
{
	errno = ENOSYS;
	return -1;
}
