/* config_defaults.c - the configuration every deployment starts from.
 * Values follow Nova where Nova has the option (report_interval 10 s,
 * service_down_time 60 s, live_migration_downtime 500 ms, ...). */
#include "core/config.h"

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

static int list_set(dv_strlist *l, const char *const *items, size_t n)
{
    l->v = calloc(n ? n : 1, sizeof *l->v);
    if (!l->v)
        return -1;
    for (l->n = 0; l->n < n; l->n++)
        if (!(l->v[l->n] = strdup(items[l->n])))
            return -1;
    return 0;
}

static void list_free(dv_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

dv_config *dv_config_new_defaults(void)
{
    static const char *const filters[] = { "compute", "different_host", "hypervisor_type",
                                           "hypervisor_version", "arch", "ram" };
    static const char *const weighers[] = { "ram" };
    static const char *const mc_servers[] = { "127.0.0.1:11211" };
    char hostname[256] = "localhost";
    int failed = 0;
    dv_config *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
        strcpy(hostname, "localhost");
    hostname[sizeof hostname - 1] = '\0';

    c->path = dup_or_fail("<defaults>", &failed);
    c->servicegroup.driver = dup_or_fail("db", &failed);
    c->servicegroup.report_interval = 10;
    c->servicegroup.service_down_time = 60;
    c->servicegroup.db.path = dup_or_fail("/var/lib/drover/drover.db", &failed);
    c->servicegroup.db.busy_timeout_ms = 5000;
    failed |= list_set(&c->servicegroup.mc.servers, mc_servers, 1) != 0;
    c->servicegroup.mc.username = dup_or_fail("", &failed);
    c->servicegroup.mc.password = dup_or_fail("", &failed);
    c->servicegroup.mc.poll_timeout_ms = 500;
    c->servicegroup.mc.retry_timeout_s = 2;
    c->servicegroup.zk.hosts = dup_or_fail("127.0.0.1:2181", &failed);
    c->servicegroup.zk.session_timeout_ms = 4000;
    c->servicegroup.zk.prefix = dup_or_fail("/drover", &failed);
    c->servicegroup.zk.auth = dup_or_fail("", &failed);

    c->agent.host = dup_or_fail(hostname, &failed);
    c->agent.group = dup_or_fail("compute", &failed);
    c->agent.libvirt_uri = dup_or_fail("qemu:///system", &failed);
    c->agent.migration_uri = dup_or_fail("", &failed);
    c->agent.libvirt_timeout_ms = 5000;
    c->agent.metrics_listen = dup_or_fail("", &failed);
    c->agent.definitions_dir = dup_or_fail("", &failed);

    c->controller.libvirt_uri = dup_or_fail("", &failed);
    failed |= list_set(&c->controller.libvirt_uris, NULL, 0) != 0;
    c->controller.libvirt_timeout_ms = 5000;
    c->controller.metrics_listen = dup_or_fail("", &failed);

    failed |= list_set(&c->scheduler.filters, filters, sizeof filters / sizeof *filters) != 0;
    failed |= list_set(&c->scheduler.weighers, weighers, 1) != 0;
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
    c->migration.timeout_action = dup_or_fail("abort", &failed);
    c->migration.max_concurrent = 1;
    c->migration.poll_interval_ms = 500;
    c->migration.policy = dup_or_fail("adaptive", &failed);
    c->migration.inbound_addr = dup_or_fail("", &failed);

    c->evacuator.interval = 10;
    c->evacuator.grace = 30;
    c->evacuator.max_down_fraction = 0.33;
    c->evacuator.max_per_minute = 6;
    c->evacuator.mode = dup_or_fail("live", &failed);
    failed |= list_set(&c->evacuator.fence_command, NULL, 0) != 0;
    c->evacuator.fence_timeout_s = 30;
    failed |= list_set(&c->evacuator.alert_command, NULL, 0) != 0;
    c->evacuator.flap_window = 600;
    c->evacuator.flap_max_grace = 600;

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
    free(c->servicegroup.db.path);
    list_free(&c->servicegroup.mc.servers);
    free(c->servicegroup.mc.username);
    free(c->servicegroup.mc.password);
    free(c->servicegroup.zk.hosts);
    free(c->servicegroup.zk.prefix);
    free(c->servicegroup.zk.auth);
    free(c->agent.host);
    free(c->agent.group);
    free(c->agent.libvirt_uri);
    free(c->agent.migration_uri);
    free(c->agent.metrics_listen);
    free(c->agent.definitions_dir);
    free(c->controller.libvirt_uri);
    list_free(&c->controller.libvirt_uris);
    free(c->controller.metrics_listen);
    list_free(&c->scheduler.filters);
    list_free(&c->scheduler.weighers);
    free(c->migration.timeout_action);
    free(c->migration.policy);
    free(c->migration.inbound_addr);
    free(c->evacuator.mode);
    list_free(&c->evacuator.fence_command);
    list_free(&c->evacuator.alert_command);
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
