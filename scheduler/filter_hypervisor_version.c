/* filter_hypervisor_version.c - a running guest may move to the same or a
 * newer hypervisor, never to an older one (its device and CPU state may use
 * what the older version does not know). */
#include "scheduler/scheduler.h"

#include <stdio.h>

static bool version_passes(const dv_host_state *h, const dv_sched_request *r, char *why,
                           size_t len)
{
    if (!h->has_report) {
        if (why)
            snprintf(why, len, "hypervisor_version: the host has not reported its hypervisor yet");
        return false;
    }
    if (h->hypervisor_version < r->source->hypervisor_version) {
        if (why) {
            char have[32], want[32];
            dv_version_format(h->hypervisor_version, have, sizeof have);
            dv_version_format(r->source->hypervisor_version, want, sizeof want);
            snprintf(why, len, "hypervisor_version: the host runs %s %s, older than %s on the "
                               "source %s",
                     h->hypervisor_type, have, want, r->source->host);
        }
        return false;
    }
    return true;
}

const dv_filter_ops dv_filter_hypervisor_version = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "hypervisor_version",
    .summary = "the host's hypervisor is not older than the source's",
    .host_passes = version_passes,
};
