/* log.c - levelled logging.  Off until a program calls dv_log_setup(), so a
 * program linking libdrover never sees output it did not ask for. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static dv_log_level log_level = DV_LOG_OFF;
static int log_to_syslog;
static char log_ident[32] = "drover";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int dv_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int dv_log_setup(const char *ident, dv_log_level level, const char *target, drover_error *err)
{
    int syslog_target;

    if (!target || strcmp(target, "stderr") == 0)
        syslog_target = 0;
    else if (strcmp(target, "syslog") == 0)
        syslog_target = 1;
    else
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "log target \"%s\" is not one of \"stderr\", \"syslog\"", target);
    pthread_mutex_lock(&log_lock);
    snprintf(log_ident, sizeof log_ident, "%s", ident ? ident : "drover");
    log_level = level;
    log_to_syslog = syslog_target;
    if (log_to_syslog)
        openlog(log_ident, LOG_PID, LOG_DAEMON);
    pthread_mutex_unlock(&log_lock);
    return 0;
}

void dv_log_set_level(dv_log_level level)
{
    log_level = level;
}

void dv_log(dv_log_level level, const char *fmt, ...)
{
    static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
    char msg[2048];
    va_list ap;

    if (level < log_level || level >= DV_LOG_OFF)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_to_syslog) {
        syslog(prio[level], "%s", msg);
    } else {
        struct timespec ts;
        struct tm tm;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000L,
                log_ident, level_names[level], msg);
    }
    pthread_mutex_unlock(&log_lock);
}
