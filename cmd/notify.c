/* notify.c - sd_notify for droverd (see notify.h).  sd_notify itself is a
 * no-op without NOTIFY_SOCKET; the watchdog is on only when WATCHDOG_USEC
 * is set (and WATCHDOG_PID, if set, is this process). */
#include "cmd/notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

static bool ready;

void dv_notify_ready(const char *status)
{
    char msg[512];

    snprintf(msg, sizeof msg, "%sSTATUS=%s", ready ? "" : "READY=1\n", status ? status : "");
    sd_notify(0, msg);
    ready = true;
}

void dv_notify_watchdog(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) > 0)
        sd_notify(0, "WATCHDOG=1");
}

void dv_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

int64_t dv_notify_slice_ms(int64_t cap_ms)
{
    uint64_t usec = 0;
    int64_t half;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return cap_ms;
    half = (int64_t)(usec / 2000);
    if (half < 1)
        half = 1;
    return half < cap_ms ? half : cap_ms;
}
