/* weighers.c - the weigher registry (scheduler.weighers). */
#include "scheduler/scheduler.h"

#include <string.h>

static const dv_weigher_ops *const registry[] = {
    &dv_weigher_ram,
};
#define N_WEIGHERS (sizeof registry / sizeof registry[0])

const char *const *dv_weigher_names(void)
{
    static const char *names[N_WEIGHERS + 1];
    for (size_t i = 0; i < N_WEIGHERS; i++)
        names[i] = registry[i]->name;
    return names;
}

const dv_weigher_ops *dv_weigher_find(const char *name, drover_error *err)
{
    char known[256] = "";

    for (size_t i = 0; i < N_WEIGHERS; i++) {
        if (name && strcmp(registry[i]->name, name) == 0) {
            if (registry[i]->version != DV_WEIGHER_OPS_VERSION) {
                dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_SCHEDULER,
                       "weigher \"%s\" has interface version %d; this build expects %d", name,
                       registry[i]->version, DV_WEIGHER_OPS_VERSION);
                return NULL;
            }
            return registry[i];
        }
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i]->name, sizeof known - strlen(known) - 1);
    }
    dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
           "scheduler.weighers: no weigher named \"%s\" (known weighers: %s)",
           name ? name : "(null)", known);
    return NULL;
}
