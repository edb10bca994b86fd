/* filter_arch.c - a guest runs only on a host of its CPU architecture. */
#include "scheduler/scheduler.h"

#include <stdio.h>
#include <string.h>

static bool arch_passes(const dv_host_state *h, const dv_sched_request *r, char *why, size_t len)
{
    if (!h->has_report) {
        if (why)
            snprintf(why, len, "arch: the host has not reported its architecture yet");
        return false;
    }
    if (h->arch != r->source->arch && strcmp(h->arch, r->source->arch) != 0) {
        if (why)
            snprintf(why, len, "arch: the host is %s, the instance runs on %s",
                     *h->arch ? h->arch : "(unknown)", r->source->arch);
        return false;
    }
    return true;
}

const dv_filter_ops dv_filter_arch = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "arch",
    .summary = "the host has the source's CPU architecture",
    .host_passes = arch_passes,
};
