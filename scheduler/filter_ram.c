/* filter_ram.c - Nova's RamFilter arithmetic:
 *     total x ram_allocation_ratio - used - reserved_host_memory_mb - claims
 * must cover the instance's memory.  "used" is what the host's guests are
 * given (not what its kernel reports free), so overcommit is a policy the
 * ratio states; claims are moves already scheduled here but not finished. */
#include "scheduler/scheduler.h"

#include <inttypes.h>
#include <stdio.h>

static bool ram_passes(const dv_host_state *h, const dv_sched_request *r, char *why, size_t len)
{
    int64_t usable;

    if (!h->has_report) {
        if (why)
            snprintf(why, len, "ram: the host has not reported its memory yet");
        return false;
    }
    usable = dv_ram_usable_mib(h, r->params, true);
    if (usable >= 0 && (uint64_t)usable >= r->memory_mib)
        return true;
    if (why)
        snprintf(why, len,
                 "ram: needs %" PRIu64 " MiB, has %" PRId64 " MiB usable (total %" PRIu64
                 " x %g - used %" PRIu64 " - reserved %" PRId64 " - claimed %" PRIu64 ")",
                 r->memory_mib, usable, h->memory_total_mib, r->params->ram_allocation_ratio,
                 h->memory_used_mib, r->params->reserved_host_memory_mib, h->claimed_mib);
    return false;
}

const dv_filter_ops dv_filter_ram = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "ram",
    .summary = "total x ram_allocation_ratio - used - reserved - claimed covers the instance",
    .host_passes = ram_passes,
};
