/* config_keys.c - the keys drover.conf may hold, section by section, and the
 * names and sections the registries add to them (dv_config_set_names,
 * dv_config_add_section).  config.c walks a file against these tables. */
#include "core/config_int.h"

#include <stddef.h>
#include <string.h>

#define K_GROUP DV_CONFIG_GROUP
#define K_STRING DV_CONFIG_STRING
#define K_BOOL DV_CONFIG_BOOL
#define K_INT DV_CONFIG_INT
#define K_REAL DV_CONFIG_REAL
#define K_LIST DV_CONFIG_LIST
#define F_NONEMPTY DV_CONFIG_NONEMPTY
#define F_LOW_OPEN DV_CONFIG_LOW_OPEN
#define F_UNIQUE DV_CONFIG_UNIQUE

typedef dv_config_key key;

#define AT(field) offsetof(dv_config, field)
#define GROUP(n, m) { .name = n, .kind = K_GROUP, .members = m }
#define STR(n, f, fl, ch, ck) { .name = n, .kind = K_STRING, .off = AT(f), .flags = fl, .choices = ch, .check = ck }
#define BOOL(n, f) { .name = n, .kind = K_BOOL, .off = AT(f) }
#define INT(n, f, lo, hi) { .name = n, .kind = K_INT, .off = AT(f), .min = lo, .max = hi }
#define REAL(n, f, fl, lo, hi) { .name = n, .kind = K_REAL, .off = AT(f), .flags = fl, .dmin = lo, .dmax = hi }
#define LIST(n, f, fl, ch, ck) { .name = n, .kind = K_LIST, .off = AT(f), .flags = fl, .choices = ch, .check = ck }
#define END { .name = NULL }

/* The names the registries gave (dv_config_set_names); NULL until then. */
static const char *const *driver_names, *const *filter_names, *const *weigher_names,
    *const *policy_names, *const *backend_names;
static const char *const timeout_actions[] = { "abort", "force_complete", NULL };
static const char *const evac_modes[] = { "live", "rebuild", NULL };
static const char *const log_levels[] = { "debug", "info", "warning", "error", NULL };
static const char *const log_targets[] = { "stderr", "syslog", NULL };

#define N_SG_FIXED 3
/* The fixed keys, then one group per section added (dv_config_add_section). */
static key servicegroup_keys[N_SG_FIXED + DV_CONFIG_MAX_SECTIONS + 1] = {
    { .name = "driver", .kind = K_STRING, .off = AT(servicegroup.driver), .names = &driver_names },
    INT("report_interval", servicegroup.report_interval, 1, 3600),
    INT("service_down_time", servicegroup.service_down_time, 2, 86400),
    END,
};

static const key agent_keys[] = {
    STR("host", agent.host, 0, NULL, dv_config_check_name),
    STR("group", agent.group, 0, NULL, dv_config_check_name),
    STR("libvirt_uri", agent.libvirt_uri, F_NONEMPTY, NULL, dv_config_check_uri),
    STR("migration_uri", agent.migration_uri, 0, NULL, dv_config_check_uri),
    INT("libvirt_timeout_ms", agent.libvirt_timeout_ms, 1, 3600000),
    STR("metrics_listen", agent.metrics_listen, 0, NULL, dv_config_check_listen),
    STR("definitions_dir", agent.definitions_dir, 0, NULL, dv_config_check_abs_dir),
    END,
};

static const key controller_keys[] = {
    STR("libvirt_uri", controller.libvirt_uri, 0, NULL, dv_config_check_uri),
    LIST("libvirt_uris", controller.libvirt_uris, 0, NULL, dv_config_check_host_uri),
    INT("libvirt_timeout_ms", controller.libvirt_timeout_ms, 1, 3600000),
    STR("metrics_listen", controller.metrics_listen, 0, NULL, dv_config_check_listen),
    INT("lease_ttl_s", controller.lease_ttl_s, 3, 3600),
    END,
};

static const key scheduler_keys[] = {
    { .name = "filters", .kind = K_LIST, .off = AT(scheduler.filters), .flags = F_UNIQUE,
      .names = &filter_names },
    { .name = "weighers", .kind = K_LIST, .off = AT(scheduler.weighers), .flags = F_UNIQUE,
      .names = &weigher_names },
    REAL("ram_weight_multiplier", scheduler.ram_weight_multiplier, 0, -1000000.0, 1000000.0),
    REAL("ram_allocation_ratio", scheduler.ram_allocation_ratio, F_LOW_OPEN, 0.0, 1000.0),
    INT("reserved_host_memory_mb", scheduler.reserved_host_memory_mb, 0, 16777216),
    INT("host_subset_size", scheduler.host_subset_size, 1, 1000),
    INT("max_retries", scheduler.max_retries, -1, 1000),
    INT("claim_ttl_s", scheduler.claim_ttl_s, 1, 86400),
    END,
};

static const key migration_keys[] = {
    BOOL("peer2peer", migration.peer2peer),
    BOOL("tunnelled", migration.tunnelled),
    BOOL("tls", migration.tls),
    BOOL("permit_post_copy", migration.permit_post_copy),
    BOOL("permit_auto_converge", migration.permit_auto_converge),
    INT("bandwidth_mib", migration.bandwidth_mib, 0, 1048576),
    INT("downtime_ms", migration.downtime_ms, 100, 600000),
    INT("downtime_steps", migration.downtime_steps, 3, 1000),
    INT("downtime_delay_s", migration.downtime_delay_s, 3, 3600),
    INT("completion_timeout_s", migration.completion_timeout_s, 0, 86400),
    STR("timeout_action", migration.timeout_action, 0, timeout_actions, NULL),
    INT("max_concurrent", migration.max_concurrent, 1, 1000),
    INT("poll_interval_ms", migration.poll_interval_ms, 10, 60000),
    { .name = "policy", .kind = K_STRING, .off = AT(migration.policy), .flags = F_NONEMPTY,
      .names = &policy_names },
    STR("inbound_addr", migration.inbound_addr, 0, NULL, NULL),
    END,
};

static const key evacuator_keys[] = {
    BOOL("enabled", evacuator.enabled),
    INT("interval", evacuator.interval, 1, 3600),
    INT("grace", evacuator.grace, 0, 86400),
    REAL("max_down_fraction", evacuator.max_down_fraction, 0, 0.0, 1.0),
    INT("max_per_minute", evacuator.max_per_minute, 1, 1000),
    STR("mode", evacuator.mode, 0, evac_modes, NULL),
    LIST("fence_command", evacuator.fence_command, 0, NULL, dv_config_check_argv0),
    INT("fence_timeout_s", evacuator.fence_timeout_s, 1, 3600),
    LIST("alert_command", evacuator.alert_command, 0, NULL, dv_config_check_argv0),
    INT("flap_window", evacuator.flap_window, 0, 86400),
    INT("flap_max_grace", evacuator.flap_max_grace, 0, 86400),
    END,
};

static const key state_keys[] = {
    { .name = "backend", .kind = K_STRING, .off = AT(state.backend), .names = &backend_names },
    STR("path", state.path, F_NONEMPTY, NULL, NULL),
    INT("busy_timeout_ms", state.busy_timeout_ms, 1, 3600000),
    END,
};

static const key log_keys[] = {
    STR("level", log.level, 0, log_levels, NULL),
    STR("target", log.target, 0, log_targets, NULL),
    END,
};

const dv_config_key dv_config_top_keys[] = {
    GROUP("servicegroup", servicegroup_keys),
    GROUP("agent", agent_keys),
    GROUP("controller", controller_keys),
    GROUP("scheduler", scheduler_keys),
    GROUP("migration", migration_keys),
    GROUP("evacuator", evacuator_keys),
    GROUP("state", state_keys),
    GROUP("log", log_keys),
    END,
};

void dv_config_add_section(const char *parent, const dv_config_section *s)
{
    size_t i = N_SG_FIXED;

    if (strcmp(parent, "servicegroup") != 0)
        return;
    for (; servicegroup_keys[i].name && servicegroup_keys[i].section != s; i++)
        ;
    if (servicegroup_keys[i].name || i >= N_SG_FIXED + DV_CONFIG_MAX_SECTIONS)
        return;
    servicegroup_keys[i] = (key){ .name = s->name, .kind = K_GROUP, .members = s->keys,
                                  .section = s };
}

/* Which key each registry names, and where its names are kept. */
static const struct {
    const char *key;
    const char *const **names;
} named_keys[] = {
    { "servicegroup.driver", &driver_names },
    { "scheduler.filters", &filter_names },
    { "scheduler.weighers", &weigher_names },
    { "migration.policy", &policy_names },
    { "state.backend", &backend_names },
};

static const char *const **names_slot(const char *name)
{
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++)
        if (strcmp(named_keys[i].key, name) == 0)
            return named_keys[i].names;
    return NULL;
}

void dv_config_set_names(const char *name, const char *const *names)
{
    const char *const **slot = names_slot(name);

    if (slot)
        *slot = names;
}

const dv_config_section *dv_config_section_at(size_t i)
{
    return i < DV_CONFIG_MAX_SECTIONS ? servicegroup_keys[N_SG_FIXED + i].section : NULL;
}

const char *const *dv_config_names_of(const char *name)
{
    const char *const **slot = names_slot(name);

    return slot ? *slot : NULL;
}
