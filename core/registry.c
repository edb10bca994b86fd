/* registry.c - find an operations table by name. */
#include "core/registry.h"

#include <string.h>

long dv_registry_find(const dv_registry *r, const char *name, drover_error *err)
{
    char known[256] = "";

    for (size_t i = 0; i < r->n; i++) {
        if (name && strcmp(r->name_at(i), name) == 0) {
            if (r->version_at(i) != r->version) {
                dv_err(err, DROVER_ERR_INTERNAL, r->domain,
                       "%s \"%s\" has interface version %d; this build expects %d", r->what,
                       name, r->version_at(i), r->version);
                return -1;
            }
            return (long)i;
        }
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, r->name_at(i), sizeof known - strlen(known) - 1);
    }
    dv_err(err, r->missing, r->domain, "%s: no %s named \"%s\" (this build has: %s)", r->key,
           r->what, name ? name : "(null)", known);
    return -1;
}

void dv_registry_names(const dv_registry *r, const char **names)
{
    for (size_t i = 0; i < r->n; i++)
        names[i] = r->name_at(i);
    names[r->n] = NULL;
}
