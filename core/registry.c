/* registry.c - find an operations table by name. */
#include "core/registry.h"

#include <string.h>

const char *dv_registry_name(const dv_registry *r, size_t i)
{
    return *(const char *const *)(const void *)((const char *)r->items[i] + r->name_off);
}

static int version_of(const dv_registry *r, size_t i)
{
    return *(const int *)(const void *)((const char *)r->items[i] + r->version_off);
}

const void *dv_registry_find(const dv_registry *r, const char *name, drover_error *err)
{
    char known[256] = "";

    for (size_t i = 0; i < r->n; i++) {
        if (name && strcmp(dv_registry_name(r, i), name) == 0) {
            if (version_of(r, i) != r->version) {
                dv_err(err, DROVER_ERR_INTERNAL, r->domain,
                       "%s \"%s\" has interface version %d; this build expects %d", r->what,
                       name, version_of(r, i), r->version);
                return NULL;
            }
            return r->items[i];
        }
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, dv_registry_name(r, i), sizeof known - strlen(known) - 1);
    }
    dv_err(err, r->missing, r->domain, "%s: no %s named \"%s\" (this build has: %s)", r->key,
           r->what, name ? name : "(null)", known);
    return NULL;
}

void dv_registry_names(const dv_registry *r, const char **names)
{
    for (size_t i = 0; i < r->n; i++)
        names[i] = dv_registry_name(r, i);
    names[r->n] = NULL;
}
