/* filter_compute.c - Nova's ComputeFilter: only a host whose service is UP,
 * not disabled and not forced down takes new instances.  UNKNOWN liveness
 * (the backend could not be asked) is never a pass: picking a host nobody
 * can vouch for would move a guest onto what may be a dead machine. */
#include "scheduler/scheduler.h"

#include <stdio.h>

static void explain_down(const dv_host_state *h, const dv_sched_request *r, char *why, size_t len)
{
    if (h->last_seen_ms <= 0) {
        snprintf(why, len, "compute: DOWN: the host has never sent a heartbeat");
        return;
    }
    long long age = r->now_ms > h->last_seen_ms ? (r->now_ms - h->last_seen_ms) / 1000 : 0;
    if (r->params && r->params->service_down_time_s > 0)
        snprintf(why, len, "compute: DOWN: last heartbeat %lld s ago (service_down_time is %d s)",
                 age, r->params->service_down_time_s);
    else
        snprintf(why, len, "compute: DOWN: last heartbeat %lld s ago", age);
}

static bool compute_passes(const dv_host_state *h, const dv_sched_request *r, char *why, size_t len)
{
    if (h->forced_down) {
        if (why)
            snprintf(why, len, "compute: forced down by an operator (drover host force-down)");
        return false;
    }
    if (h->state == DROVER_UNKNOWN) {
        if (why)
            snprintf(why, len, "compute: liveness UNKNOWN: the servicegroup backend could not "
                               "be asked, and a host nobody can vouch for is never chosen");
        return false;
    }
    if (h->state != DROVER_UP) {
        if (why)
            explain_down(h, r, why, len);
        return false;
    }
    if (h->disabled) {
        if (why)
            snprintf(why, len, "compute: disabled (%s%s)", *h->disabled_reason ? "reason: " : "",
                     *h->disabled_reason ? h->disabled_reason : "no reason given");
        return false;
    }
    return true;
}

const dv_filter_ops dv_filter_compute = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "compute",
    .summary = "the host is UP, not disabled and not forced down",
    .host_passes = compute_passes,
};
