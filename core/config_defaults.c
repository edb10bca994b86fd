/* config_defaults.c - the configuration every deployment starts from.
 * Values follow Nova where Nova has the option (report_interval 10 s,
 * service_down_time 60 s, live_migration_downtime 500 ms, ...). */
#include "core/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup_or_fail(const char *s, int *failed)
{
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

/* items: NULL-terminated, or NULL for an empty list. */
static int list_set(dv_strlist *l, const char *const *items)
{
    size_t n = 0;

    while (items && items[n])
        n++;
    l->v = calloc(n ? n : 1, sizeof *l->v);
    if (!l->v)
        return -1;
    for (l->n = 0; l->n < n; l->n++)
        if (!(l->v[l->n] = strdup(items[l->n])))
            return -1;
    return 0;
}


void dv_strlist_free(dv_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const char *first_name(const char *key)
{
    const char *const *names = dv_config_names_of(key);
    return names && names[0] ? names[0] : "";
}

/* Where the keys of section i keep their values. */
static char *section_base(const dv_config *c, size_t i)
{
    return dv_config_section_at(i)->size ? c->section_data[i] : (char *)c;
}

static int section_defaults(dv_config *c, size_t i)
{
    const dv_config_section *s = dv_config_section_at(i);
    char *base;

    if (s->size && !(c->section_data[i] = calloc(1, s->size)))
        return -1;
    base = section_base(c, i);
    for (const dv_config_key *k = s->keys; k->name; k++) {
        void *p = base + k->off;
        switch (k->kind) {
        case DV_CONFIG_STRING:
            if (!(*(char **)p = strdup(k->def_str ? k->def_str : "")))
                return -1;
            break;
        case DV_CONFIG_LIST:
            if (list_set(p, k->def_list) < 0)
                return -1;
            break;
        case DV_CONFIG_INT: *(int *)p = (int)k->def_int; break;
        case DV_CONFIG_REAL: *(double *)p = k->def_real; break;
        case DV_CONFIG_BOOL: *(bool *)p = k->def_bool; break;
        case DV_CONFIG_GROUP: break;
        }
    }
    return 0;
}

static void section_free(dv_config *c, size_t i)
{
    const dv_config_section *s = dv_config_section_at(i);
    char *base = section_base(c, i);

    for (const dv_config_key *k = s->keys; base && k->name; k++) {
        if (k->kind == DV_CONFIG_STRING)
            free(*(char **)(base + k->off));
        else if (k->kind == DV_CONFIG_LIST)
            dv_strlist_free((dv_strlist *)(base + k->off));
    }
    free(c->section_data[i]);
}

void *dv_config_section_data(const dv_config *cfg, const char *name)
{
    for (size_t i = 0; dv_config_section_at(i); i++)
        if (strcmp(dv_config_section_at(i)->name, name) == 0)
            return cfg->section_data[i];
    return NULL;
}

/* servicegroup, agent and controller; *failed is set on ENOMEM. */
static void defaults_hosts(dv_config *c, int *failed)
{
    char hostname[256] = "localhost";

    if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
        strcpy(hostname, "localhost");
    hostname[sizeof hostname - 1] = '\0';
    c->servicegroup.driver = dup_or_fail(first_name("servicegroup.driver"), failed);
    c->servicegroup.report_interval = 10;
    c->servicegroup.service_down_time = 60;
    for (size_t i = 0; dv_config_section_at(i); i++)
        *failed |= section_defaults(c, i) != 0;

    c->agent.host = dup_or_fail(hostname, failed);
    c->agent.group = dup_or_fail("compute", failed);
    c->agent.libvirt_uri = dup_or_fail("qemu:///system", failed);
    c->agent.migration_uri = dup_or_fail("", failed);
    c->agent.libvirt_timeout_ms = 5000;
    c->agent.metrics_listen = dup_or_fail("", failed);
    c->agent.definitions_dir = dup_or_fail("", failed);

    c->controller.libvirt_uri = dup_or_fail("", failed);
    *failed |= list_set(&c->controller.libvirt_uris, NULL) != 0;
    c->controller.libvirt_timeout_ms = 5000;
    c->controller.metrics_listen = dup_or_fail("", failed);
    c->controller.lease_ttl_s = 30;
}

/* scheduler, migration and evacuator. */
static void defaults_moves(dv_config *c, int *failed)
{
    *failed |= list_set(&c->scheduler.filters, dv_config_names_of("scheduler.filters")) != 0;
    *failed |= list_set(&c->scheduler.weighers, dv_config_names_of("scheduler.weighers")) != 0;
    c->scheduler.ram_weight_multiplier = 1.0;
    c->scheduler.ram_allocation_ratio = 1.0;
    c->scheduler.reserved_host_memory_mb = 512;
    c->scheduler.host_subset_size = 1;
    c->scheduler.max_retries = -1;
    c->scheduler.claim_ttl_s = 600;

    c->migration.peer2peer = true;
    c->migration.downtime_ms = 500;
    c->migration.downtime_steps = 10;
    c->migration.downtime_delay_s = 75;
    c->migration.completion_timeout_s = 800;
    c->migration.timeout_action = dup_or_fail("abort", failed);
    c->migration.max_concurrent = 1;
    c->migration.poll_interval_ms = 500;
    c->migration.policy = dup_or_fail("adaptive", failed);
    c->migration.inbound_addr = dup_or_fail("", failed);

    c->evacuator.interval = 10;
    c->evacuator.grace = 30;
    c->evacuator.max_down_fraction = 0.33;
    c->evacuator.max_per_minute = 6;
    c->evacuator.mode = dup_or_fail("live", failed);
    *failed |= list_set(&c->evacuator.fence_command, NULL) != 0;
    c->evacuator.fence_timeout_s = 30;
    *failed |= list_set(&c->evacuator.alert_command, NULL) != 0;
    c->evacuator.flap_window = 600;
    c->evacuator.flap_max_grace = 600;
}

dv_config *dv_config_new_defaults(void)
{
    int failed = 0;
    dv_config *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->path = dup_or_fail("<defaults>", &failed);
    defaults_hosts(c, &failed);
    defaults_moves(c, &failed);
    c->state.backend = dup_or_fail("auto", &failed);
    c->state.path = dup_or_fail("/var/lib/drover/state.db", &failed);
    c->state.busy_timeout_ms = 5000;
    c->log.level = dup_or_fail("info", &failed);
    c->log.target = dup_or_fail("stderr", &failed);
    if (failed) {
        dv_config_free(c);
        return NULL;
    }
    return c;
}

void dv_config_free(dv_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->servicegroup.driver);
    for (size_t i = 0; dv_config_section_at(i); i++)
        section_free(c, i);
    free(c->agent.host);
    free(c->agent.group);
    free(c->agent.libvirt_uri);
    free(c->agent.migration_uri);
    free(c->agent.metrics_listen);
    free(c->agent.definitions_dir);
    free(c->controller.libvirt_uri);
    dv_strlist_free(&c->controller.libvirt_uris);
    free(c->controller.metrics_listen);
    dv_strlist_free(&c->scheduler.filters);
    dv_strlist_free(&c->scheduler.weighers);
    free(c->migration.timeout_action);
    free(c->migration.policy);
    free(c->migration.inbound_addr);
    free(c->evacuator.mode);
    dv_strlist_free(&c->evacuator.fence_command);
    dv_strlist_free(&c->evacuator.alert_command);
    free(c->state.backend);
    free(c->state.path);
    free(c->log.level);
    free(c->log.target);
    free(c);
}

int dv_config_set_string(char **slot, const char *value, drover_error *err)
{
    char *d = strdup(value ? value : "");
    if (!d)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "out of memory");
    free(*slot);
    *slot = d;
    return 0;
}
