/* registry.h - finding an operations table by name.
 *
 * The servicegroup drivers, the scheduler's filters and weighers (and the
 * migration policies and fence methods after them) are each a static array
 * of pointers to const ops structs that hold a name (const char *) and an
 * interface version (int).  This is the one lookup they share; an adapter
 * is the array plus one DV_REGISTRY_ADAPTER line:
 *
 *     static const void *const filters[] = { &dv_filter_ram, ... };
 *     DV_REGISTRY_ADAPTER(dv_filter_ops, filters, dv_filter_find, dv_filter_names,
 *                         "filter", "scheduler.filters", DV_FILTER_OPS_VERSION,
 *                         DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER)
 */
#ifndef DV_REGISTRY_H
#define DV_REGISTRY_H

#include <stddef.h>

#include "core/config.h"
#include "core/error.h"

typedef struct dv_registry {
    const char *what;            /* "servicegroup driver", "filter", ... */
    const char *key;             /* the config key that names one, for messages */
    const void *const *items;    /* the ops tables */
    size_t n;
    size_t name_off;             /* offsetof the name (const char *) in a table */
    size_t version_off;          /* offsetof the interface version (int) */
    int version;                 /* the interface version this build expects */
    drover_code missing;         /* the code when no entry has the name */
    drover_domain domain;
} dv_registry;

/* The table called name; NULL with err set (naming the known entries) when
 * there is none, or when its interface version is not the expected one. */
const void *dv_registry_find(const dv_registry *r, const char *name, drover_error *err);

/* The name of item i. */
const char *dv_registry_name(const dv_registry *r, size_t i);

/* Fill names[0..n-1] and a terminating NULL; names has room for n + 1. */
void dv_registry_names(const dv_registry *r, const char **names);

/* Define `const type *find(const char *, drover_error *)` and
 * `const char *const *names(void)` over the array items. */
#define DV_REGISTRY_ADAPTER(type, items_, find, names, what_, key_, version_, missing_, domain_) \
    static const dv_registry find##_registry = {                                        \
        .what = (what_), .key = (key_), .items = (items_),                               \
        .n = sizeof (items_) / sizeof (items_)[0],                                         \
        .name_off = offsetof(type, name), .version_off = offsetof(type, version),        \
        .version = (version_), .missing = (missing_), .domain = (domain_),              \
    };                                                                                  \
    const char *const *names(void)                                                      \
    {                                                                                   \
        static const char *v[sizeof (items_) / sizeof (items_)[0] + 1];                   \
        dv_registry_names(&find##_registry, v);                                         \
        return v;                                                                       \
    }                                                                                   \
    const type *find(const char *name, drover_error *err)                               \
    {                                                                                   \
        return dv_registry_find(&find##_registry, name, err);                           \
    }

/* Before main, give the config parser the names of a registry (the
 * values config key may take): one line after DV_REGISTRY_ADAPTER. */
#define DV_REGISTRY_CONFIG_NAMES(names, key)                                             \
    __attribute__((constructor)) static void names##_to_config(void)                    \
    {                                                                                   \
        dv_config_set_names((key), names());                                            \
    }

#endif
