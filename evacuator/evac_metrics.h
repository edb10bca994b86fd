/* evac_metrics.h - the controller's metrics (droverd --controller on
 * controller.metrics_listen): members by state, sweeps and their duration,
 * the gates (candidates by verdict, breaker, rate tokens), evacuations,
 * fences and guests by outcome, migrations by outcome with a duration
 * histogram, leadership and the lease epoch.  The families live in a
 * core/metrics registry the caller owns; the update functions take NULL
 * (no metrics) and then do nothing. */
#ifndef DV_EVAC_METRICS_H
#define DV_EVAC_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/metrics.h"
#include "evacuator/gates.h"

typedef struct dv_evac_metrics {
    dv_metric *members;            /* gauge {state="UP"|"DOWN"|"UNKNOWN"} */
    dv_metric *sweeps;             /* counter {result="ok"|"error"} */
    dv_metric *sweep_seconds;      /* histogram */
    dv_metric *candidates;         /* gauge {verdict} */
    dv_metric *breaker_open;       /* gauge 0/1 */
    dv_metric *breaker_trips;      /* counter */
    dv_metric *rate_tokens;        /* gauge */
    dv_metric *evacuations;        /* counter {outcome="drained"|"rebuilt"|"failed"} */
    dv_metric *fences;             /* counter {outcome="confirmed"|"failed"} */
    dv_metric *guests;             /* counter {outcome="migrated"|"rebuilt"|"failed"|"unplaced"} */
    dv_metric *migrations;         /* counter {outcome} */
    dv_metric *migration_seconds;  /* histogram {outcome} */
    dv_metric *leader;             /* gauge 0/1 */
    dv_metric *epoch;              /* gauge */
} dv_evac_metrics;

int dv_evac_metrics_register(dv_metrics *m, dv_evac_metrics *out, drover_error *err);

/* One sweep: its decision (NULL when the sweep failed) and duration. */
void dv_evac_metrics_sweep(const dv_evac_metrics *em, const dv_gate_decision *d, double seconds);

void dv_evac_metrics_leader(const dv_evac_metrics *em, bool leader, int64_t epoch);

/* outcome: a short word ("drained", "confirmed", "migrated", ...). */
void dv_evac_metrics_evacuation(const dv_evac_metrics *em, const char *outcome);
void dv_evac_metrics_fence(const dv_evac_metrics *em, bool confirmed);
void dv_evac_metrics_guest(const dv_evac_metrics *em, const char *outcome);
void dv_evac_metrics_migration(const dv_evac_metrics *em, const char *outcome, double seconds);

#endif
