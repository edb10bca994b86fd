/* evac_metrics.c - the controller's metric families (see evac_metrics.h). */
#include "evacuator/evac_metrics.h"

#include <string.h>

static const double sweep_bounds[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30 };
/* migrations take seconds to many minutes */
static const double migration_bounds[] = { 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600 };

#define N(a) (sizeof (a) / sizeof *(a))

int dv_evac_metrics_register(dv_metrics *m, dv_evac_metrics *e, drover_error *err)
{
    static const char *const state[] = { "state", NULL }, *const result[] = { "result", NULL };
    static const char *const verdict[] = { "verdict", NULL }, *const outcome[] = { "outcome", NULL };

    memset(e, 0, sizeof *e);
    if (!(e->members = dv_metrics_gauge(m, "drover_members", "Members of the group by liveness "
                                        "state at the last sweep.", state, err)) ||
        !(e->sweeps = dv_metrics_counter(m, "drover_evacuator_sweeps_total",
                                         "Evacuator sweeps, by result.", result, err)) ||
        !(e->sweep_seconds = dv_metrics_histogram(m, "drover_evacuator_sweep_duration_seconds",
                                                  "How long a sweep took.", NULL, sweep_bounds,
                                                  N(sweep_bounds), err)) ||
        !(e->candidates = dv_metrics_gauge(m, "drover_evacuator_candidates",
                                           "Hosts not UP at the last sweep, by what the gates "
                                           "decided.", verdict, err)) ||
        !(e->breaker_open = dv_metrics_gauge(m, "drover_evacuator_breaker_open",
                                             "1 while the circuit breaker is open (too many hosts "
                                             "DOWN: nothing is evacuated).", NULL, err)) ||
        !(e->breaker_trips = dv_metrics_counter(m, "drover_evacuator_breaker_trips_total",
                                                "Times the circuit breaker opened.", NULL, err)) ||
        !(e->rate_tokens = dv_metrics_gauge(m, "drover_evacuator_rate_tokens",
                                            "Rate-limit tokens left (1 = a host may be acted on "
                                            "now).", NULL, err)) ||
        !(e->evacuations = dv_metrics_counter(m, "drover_evacuations_total",
                                              "Host evacuations finished, by outcome.", outcome,
                                              err)) ||
        !(e->fences = dv_metrics_counter(m, "drover_fences_total", "Fence commands run, by "
                                         "outcome.", outcome, err)) ||
        !(e->guests = dv_metrics_counter(m, "drover_evacuation_guests_total",
                                         "Guests of evacuated hosts, by outcome.", outcome, err)) ||
        !(e->migrations = dv_metrics_counter(m, "drover_migrations_total",
                                             "Live migrations finished, by outcome.", outcome,
                                             err)) ||
        !(e->migration_seconds = dv_metrics_histogram(m, "drover_migration_duration_seconds",
                                                      "How long a live migration took, by "
                                                      "outcome.", outcome, migration_bounds,
                                                      N(migration_bounds), err)) ||
        !(e->leader = dv_metrics_gauge(m, "drover_evacuator_leader", "1 while this controller "
                                       "holds the evacuator lease.", NULL, err)) ||
        !(e->epoch = dv_metrics_gauge(m, "drover_evacuator_lease_epoch", "The epoch of the "
                                      "evacuator lease this controller last saw.", NULL, err)))
        return -1;
    return 0;
}

static void one(dv_metric *f, const char *label, double v, bool set)
{
    const char *const values[] = { label };
    if (set)
        dv_metric_set(f, values, v, NULL);
    else
        dv_metric_add(f, values, v, NULL);
}

void dv_evac_metrics_sweep(const dv_evac_metrics *e, const dv_gate_decision *d, double seconds)
{
    size_t by_verdict[DV_GATE_HELD_RATE + 1] = { 0 };

    if (!e)
        return;
    one(e->sweeps, d ? "ok" : "error", 1, false);
    dv_metric_observe(e->sweep_seconds, NULL, seconds, NULL);
    if (!d)
        return;
    one(e->members, "UP", (double)(d->members - d->down - d->unknown), true);
    one(e->members, "DOWN", (double)d->down, true);
    one(e->members, "UNKNOWN", (double)d->unknown, true);
    for (size_t i = 0; i < d->n_cand; i++)
        if ((unsigned)d->cand[i].verdict <= DV_GATE_HELD_RATE)
            by_verdict[d->cand[i].verdict]++;
    for (int v = 0; v <= DV_GATE_HELD_RATE; v++)
        one(e->candidates, dv_gate_verdict_name((dv_gate_verdict)v), (double)by_verdict[v], true);
    dv_metric_set(e->breaker_open, NULL, d->breaker_open ? 1 : 0, NULL);
    if (d->breaker_open && d->breaker_changed)
        dv_metric_add(e->breaker_trips, NULL, 1, NULL);
    dv_metric_set(e->rate_tokens, NULL, (double)d->tokens_milli / 1000.0, NULL);
}

void dv_evac_metrics_leader(const dv_evac_metrics *e, bool leader, int64_t epoch)
{
    if (!e)
        return;
    dv_metric_set(e->leader, NULL, leader ? 1 : 0, NULL);
    dv_metric_set(e->epoch, NULL, (double)epoch, NULL);
}

void dv_evac_metrics_evacuation(const dv_evac_metrics *e, const char *outcome)
{
    if (e)
        one(e->evacuations, outcome, 1, false);
}

void dv_evac_metrics_fence(const dv_evac_metrics *e, bool confirmed)
{
    if (e)
        one(e->fences, confirmed ? "confirmed" : "failed", 1, false);
}

void dv_evac_metrics_guest(const dv_evac_metrics *e, const char *outcome)
{
    if (e)
        one(e->guests, outcome, 1, false);
}

void dv_evac_metrics_migration(const dv_evac_metrics *e, const char *outcome, double seconds)
{
    const char *const values[] = { outcome };

    if (!e)
        return;
    dv_metric_add(e->migrations, values, 1, NULL);
    dv_metric_observe(e->migration_seconds, values, seconds, NULL);
}
