/* filter_hypervisor_type.c - a guest moves only between hypervisors of the
 * same kind (QEMU to QEMU): libvirt cannot live-migrate across drivers. */
#include "scheduler/scheduler.h"

#include <stdio.h>
#include <string.h>

static bool type_passes(const dv_host_state *h, const dv_sched_request *r, char *why, size_t len)
{
    if (!h->has_report) {
        if (why)
            snprintf(why, len, "hypervisor_type: the host has not reported its hypervisor yet");
        return false;
    }
    /* interned: the same pointer for hosts of the same kind */
    if (h->hypervisor_type != r->source->hypervisor_type &&
        strcmp(h->hypervisor_type, r->source->hypervisor_type) != 0) {
        if (why)
            snprintf(why, len, "hypervisor_type: the host runs %s, the source %s runs %s",
                     *h->hypervisor_type ? h->hypervisor_type : "(unknown)", r->source->host,
                     r->source->hypervisor_type);
        return false;
    }
    return true;
}

const dv_filter_ops dv_filter_hypervisor_type = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "hypervisor_type",
    .summary = "the host runs the same hypervisor as the source",
    .host_passes = type_passes,
};
