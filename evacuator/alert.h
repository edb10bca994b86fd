/* alert.h - telling a person: evacuator.alert_command (argv, no shell) run
 * with one JSON object on its stdin when the circuit breaker trips or
 * closes, a fence fails, or a guest could not be placed.  It gets
 * DV_ALERT_TIMEOUT_MS; whatever it does, the evacuator carries on (the
 * caller logs a failure, it is never fatal). */
#ifndef DV_EVAC_ALERT_H
#define DV_EVAC_ALERT_H

#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

#define DV_ALERT_TIMEOUT_MS 10000

typedef enum dv_alert_kind {
    DV_ALERT_BREAKER_OPEN = 0,
    DV_ALERT_BREAKER_CLOSED,
    DV_ALERT_FENCE_FAILED,
    DV_ALERT_GUEST_UNPLACED
} dv_alert_kind;

typedef struct dv_alert {
    dv_alert_kind kind;
    const char *host;              /* NULL: not about one host (the breaker) */
    const char *guest;             /* NULL: not about one guest */
    const char *message;           /* in words */
    int64_t epoch;                 /* of the evacuator lease; 0 = none */
} dv_alert;

const char *dv_alert_kind_name(dv_alert_kind k);  /* "breaker_open", "fence_failed", ... */

/* The event as one line of JSON:
 * {"event":"fence_failed","time_ms":...,"host":"...","guest":...,"message":"...","epoch":N}
 * (host, guest and epoch only when set).  *out is for free(). */
int dv_alert_json(const dv_alert *a, int64_t wall_ms, char **out, drover_error *err);

/* Run cmd with the event on its stdin ("%h" in cmd becomes the host, or "").
 * An empty cmd does nothing and returns 0.  -1 when it could not be run, was
 * killed at the deadline or exited non-zero: err says which, with the last
 * line it printed. */
int dv_alert_send(const dv_strlist *cmd, const dv_alert *a, int64_t wall_ms, drover_error *err);

/* The same with a deadline of one's own (tests). */
int dv_alert_send_within(const dv_strlist *cmd, const dv_alert *a, int64_t wall_ms,
                         int64_t timeout_ms, drover_error *err);

#endif
