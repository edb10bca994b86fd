/* notify.h - telling systemd how the daemon is doing (sd_notify, for units
 * with Type=notify and WatchdogSec).  Every call does nothing when
 * NOTIFY_SOCKET is unset, i.e. when not started by systemd. */
#ifndef DV_NOTIFY_H
#define DV_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line, once (later calls only update STATUS). */
void dv_notify_ready(const char *status);

/* WATCHDOG=1, when systemd asked for a watchdog (WATCHDOG_USEC). */
void dv_notify_watchdog(void);

/* STOPPING=1: shutting down on request. */
void dv_notify_stopping(void);

/* How long the main loop may wait between two dv_notify_watchdog calls:
 * half the watchdog period, or cap_ms when there is no watchdog. */
int64_t dv_notify_slice_ms(int64_t cap_ms);

#endif
