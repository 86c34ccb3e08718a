/* klog - group assignment strategies (placeholder until implemented). MIT licence. */
#include <errno.h>

#include "group.h"

int
kg_assign(const char *strategy, const struct kg_member *m, size_t nm,
    const struct kg_tp *tp, size_t ntp, const int *prev, int *out, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}

int
kg_strategy_check(const char *strategy, char *err)
{
	errno = ENOSYS;
	kerr(err, "%s: not built yet", __func__);
	return -1;
}
