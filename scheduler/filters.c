/* filters.c - the filter registry: scheduler.filters names filters, this
 * table finds them.  Adding a filter = one file + one line here. */
#include "scheduler/scheduler.h"
#include "core/registry.h"

#include <string.h>

static const dv_filter_ops *const registry[] = {
    &dv_filter_compute,
    &dv_filter_different_host,
    &dv_filter_hypervisor_type,
    &dv_filter_hypervisor_version,
    &dv_filter_arch,
    &dv_filter_ram,
};
#define N_FILTERS (sizeof registry / sizeof registry[0])

static const char *name_at(size_t i)
{
    return registry[i]->name;
}

static int version_at(size_t i)
{
    return registry[i]->version;
}

static const dv_registry table = {
    .what = "filter",
    .key = "scheduler.filters",
    .n = N_FILTERS,
    .name_at = name_at,
    .version_at = version_at,
    .version = DV_FILTER_OPS_VERSION,
    .missing = DROVER_ERR_CONFIG,
    .domain = DROVER_FROM_SCHEDULER,
};

const char *const *dv_filter_names(void)
{
    static const char *names[N_FILTERS + 1];
    dv_registry_names(&table, names);
    return names;
}

const dv_filter_ops *dv_filter_find(const char *name, drover_error *err)
{
    long i = dv_registry_find(&table, name, err);
    return i < 0 ? NULL : registry[i];
}
