/* filters.c - the filter registry: scheduler.filters names filters, this
 * table finds them.  Adding a filter = one file + one line here. */
#include "scheduler/scheduler.h"

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

const char *const *dv_filter_names(void)
{
    static const char *names[N_FILTERS + 1];
    for (size_t i = 0; i < N_FILTERS; i++)
        names[i] = registry[i]->name;
    return names;
}

const dv_filter_ops *dv_filter_find(const char *name, drover_error *err)
{
    char known[256] = "";

    for (size_t i = 0; i < N_FILTERS; i++) {
        if (name && strcmp(registry[i]->name, name) == 0) {
            if (registry[i]->version != DV_FILTER_OPS_VERSION) {
                dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_SCHEDULER,
                       "filter \"%s\" has interface version %d; this build expects %d", name,
                       registry[i]->version, DV_FILTER_OPS_VERSION);
                return NULL;
            }
            return registry[i];
        }
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i]->name, sizeof known - strlen(known) - 1);
    }
    dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
           "scheduler.filters: no filter named \"%s\" (known filters: %s)",
           name ? name : "(null)", known);
    return NULL;
}
