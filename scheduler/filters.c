/* filters.c - the filter registry: scheduler.filters names filters, this
 * table finds them.  Adding a filter = one file + one line here. */
#include "scheduler/scheduler.h"
#include "core/registry.h"

static const void *const registry[] = {
    &dv_filter_compute,
    &dv_filter_different_host,
    &dv_filter_hypervisor_type,
    &dv_filter_hypervisor_version,
    &dv_filter_arch,
    &dv_filter_ram,
};

DV_REGISTRY_ADAPTER(dv_filter_ops, registry, dv_filter_find, dv_filter_names, "filter",
                    "scheduler.filters", DV_FILTER_OPS_VERSION, DROVER_ERR_CONFIG,
                    DROVER_FROM_SCHEDULER)
DV_REGISTRY_CONFIG_NAMES(dv_filter_names, "scheduler.filters")
