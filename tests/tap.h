/* klog - a small TAP producer for C unit tests (Test::More's shape). MIT licence. */
#ifndef KLOG_TAP_H
#define KLOG_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned = -1;

static inline void
tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   Failed test at %s line %d.\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define plan(n) tap_plan(n)
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!tap_ok(g_ && w_ && !strcmp(g_, w_), __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#          got: '%s'\n#     expected: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)
#define cmp_ok(a, op, b, ...) do { \
	intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b); \
	if (!tap_ok(a_ op b_, __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#     %jd\n#         %s\n#     %jd\n", a_, #op, b_); \
} while (0)
#define cmp_mem(a, b, n, ...) ok(!memcmp((a), (b), (n)), __VA_ARGS__)
#define diag(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)
#define skip_all(...) do { printf("1..0 # SKIP "); printf(__VA_ARGS__); printf("\n"); exit(0); } while (0)
#define skip(n, ...) do { for (int s_ = 0; s_ < (n); s_++) { printf("ok %d # skip ", ++tap_n); printf(__VA_ARGS__); printf("\n"); } } while (0)

static inline int
done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n)
		return 2;
	return tap_failed ? 1 : 0;
}

#endif
