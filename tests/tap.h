/* tap.h - a few macros that print TAP (the Test Anything Protocol) for
 * automake's tap-driver.sh.  Each check is one test point; a failed check
 * prints where and why as a TAP diagnostic. */
#ifndef DV_TAP_H
#define DV_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", pass ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return pass;
}

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

#define is_int(got, want, ...)                                                          \
    do {                                                                                \
        long long g_ = (long long)(got), w_ = (long long)(want);                        \
        if (!ok(g_ == w_, __VA_ARGS__))                                                 \
            diag("   got: %lld, expected: %lld", g_, w_);                               \
    } while (0)

#define is_str(got, want, ...)                                                          \
    do {                                                                                \
        const char *g_ = (got), *w_ = (want);                                           \
        if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                          \
            diag("   got: \"%s\", expected: \"%s\"", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define has_str(got, needle, ...)                                                       \
    do {                                                                                \
        const char *g_ = (got), *w_ = (needle);                                         \
        if (!ok(g_ && w_ && strstr(g_, w_) != NULL, __VA_ARGS__))                       \
            diag("   \"%s\" does not contain \"%s\"", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

/* Stop the program at once (a prerequisite failed): the harness sees an error. */
#define bail_out(...) (printf("Bail out! "), printf(__VA_ARGS__), printf("\n"), fflush(stdout), exit(99))

/* Print the plan at the end and exit with the right status. */
static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
