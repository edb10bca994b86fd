/* registry.h - finding an operations table by name.  The servicegroup
 * drivers, the scheduler's filters and its weighers are each a static array
 * of const ops structs with a name and an interface version; this is the one
 * lookup they share. */
#ifndef DV_REGISTRY_H
#define DV_REGISTRY_H

#include <stddef.h>

#include "core/error.h"

typedef struct dv_registry {
    const char *what;            /* "servicegroup driver", "filter", ... */
    const char *key;             /* the config key that names one, for messages */
    size_t n;
    const char *(*name_at)(size_t i);
    int (*version_at)(size_t i);
    int version;                 /* the interface version this build expects */
    drover_code missing;         /* the code when no entry has the name */
    drover_domain domain;
} dv_registry;

/* Index of the entry called name; -1 with err set (naming the known entries)
 * when there is none, or when its interface version is not the expected one. */
long dv_registry_find(const dv_registry *r, const char *name, drover_error *err);

/* Fill names[0..n-1] and a terminating NULL; names has room for n + 1. */
void dv_registry_names(const dv_registry *r, const char **names);

#endif
