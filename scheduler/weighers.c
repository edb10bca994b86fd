/* weighers.c - the weigher registry (scheduler.weighers). */
#include "scheduler/scheduler.h"
#include "core/registry.h"

#include <string.h>

static const dv_weigher_ops *const registry[] = {
    &dv_weigher_ram,
};
#define N_WEIGHERS (sizeof registry / sizeof registry[0])

static const char *name_at(size_t i)
{
    return registry[i]->name;
}

static int version_at(size_t i)
{
    return registry[i]->version;
}

static const dv_registry table = {
    .what = "weigher",
    .key = "scheduler.weighers",
    .n = N_WEIGHERS,
    .name_at = name_at,
    .version_at = version_at,
    .version = DV_WEIGHER_OPS_VERSION,
    .missing = DROVER_ERR_CONFIG,
    .domain = DROVER_FROM_SCHEDULER,
};

const char *const *dv_weigher_names(void)
{
    static const char *names[N_WEIGHERS + 1];
    dv_registry_names(&table, names);
    return names;
}

const dv_weigher_ops *dv_weigher_find(const char *name, drover_error *err)
{
    long i = dv_registry_find(&table, name, err);
    return i < 0 ? NULL : registry[i];
}
