/* weighers.c - the weigher registry (scheduler.weighers).  Adding a
 * weigher = one file + one line here. */
#include "scheduler/scheduler.h"
#include "core/registry.h"

static const void *const registry[] = {
    &dv_weigher_ram,
};

DV_REGISTRY_ADAPTER(dv_weigher_ops, registry, dv_weigher_find, dv_weigher_names, "weigher",
                    "scheduler.weighers", DV_WEIGHER_OPS_VERSION, DROVER_ERR_CONFIG,
                    DROVER_FROM_SCHEDULER)
DV_REGISTRY_CONFIG_NAMES(dv_weigher_names, "scheduler.weighers")
