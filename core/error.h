/* error.h - filling a drover_error.  The library reports, it never prints. */
#ifndef DV_ERROR_H
#define DV_ERROR_H

#include "drover.h"

#if defined(__GNUC__)
#define DV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DV_PRINTF(a, b)
#endif

/* Set *err (if err is not NULL) and return -1, so callers can write
 * `return dv_err(err, ...);`. */
int dv_err(drover_error *err, drover_code code, drover_domain domain,
           const char *fmt, ...) DV_PRINTF(4, 5);

/* Put "what: " in front of an error already set, keeping code and domain. */
void dv_err_prefix(drover_error *err, const char *fmt, ...) DV_PRINTF(2, 3);

void dv_err_clear(drover_error *err);

/* Copy src into dst (either may be NULL). */
void dv_err_copy(drover_error *dst, const drover_error *src);

#endif
