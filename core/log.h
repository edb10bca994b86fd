/* log.h - levelled logging to stderr or syslog.  Only programs (cmd/) turn it
 * on; the library itself logs nothing unless a program configured it. */
#ifndef DV_LOG_H
#define DV_LOG_H

#include "core/error.h"

typedef enum dv_log_level {
    DV_LOG_DEBUG = 0,
    DV_LOG_INFO,
    DV_LOG_WARNING,
    DV_LOG_ERROR,
    DV_LOG_OFF
} dv_log_level;

/* Parse "debug" | "info" | "warning" | "error"; -1 if unknown. */
int dv_log_level_parse(const char *name);

/* target: "stderr" | "syslog".  ident names the program in each line. */
int dv_log_setup(const char *ident, dv_log_level level, const char *target, drover_error *err);
void dv_log_set_level(dv_log_level level);

void dv_log(dv_log_level level, const char *fmt, ...) DV_PRINTF(2, 3);

#define dv_debug(...) dv_log(DV_LOG_DEBUG, __VA_ARGS__)
#define dv_info(...) dv_log(DV_LOG_INFO, __VA_ARGS__)
#define dv_warn(...) dv_log(DV_LOG_WARNING, __VA_ARGS__)
#define dv_error(...) dv_log(DV_LOG_ERROR, __VA_ARGS__)

#endif
