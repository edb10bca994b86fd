/* config.c - reading and validating drover.conf (libconfig syntax).
 *
 * The file is read into memory here (so a missing file, a directory or an
 * oversized file get a clear message) and handed to libconfig.  Before that,
 * a small scanner that follows libconfig's lexical rules walks the text:
 *  - libconfig 1.5 converts an integer literal without an L suffix with
 *    atoi(), so 4294967306 silently becomes 10.  The scanner keeps the exact
 *    value of every numeric literal, and each numeric setting is tied to its
 *    literal (both come in document order), so ranges are checked against
 *    what the user wrote.
 *  - @include would make libconfig open other files (relative to the current
 *    directory when parsing text): drover reads one file, so it is refused.
 *  - an unterminated string or comment is reported where it starts, not at
 *    the end of the file.
 * Then every setting is checked against a table of keys: unknown keys, wrong
 * types, ranges and enumerations are errors "FILE:LINE: section.key: ...".
 * Secret values (passwords) never appear in a message. */
#include "core/config_int.h"
#include "core/model.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---------------------------------------------------------------- messages */

int dv_config_fail_at(ctx *x, int line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dv_err(x->err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s:%d: %s", x->name, line, msg);
}


static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    }
    return "an unknown type";
}

const char *dv_config_quote(char *buf, size_t size, const char *s)
{
    size_t o = 0;

    buf[o++] = '"';
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
        else
            buf[o++] = (char)c;
    }
    if (*s)
        o += (size_t)snprintf(buf + o, size - o, "...");
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---------------------------------------------------------------- key table */

#define K_GROUP DV_CONFIG_GROUP
#define K_STRING DV_CONFIG_STRING
#define K_BOOL DV_CONFIG_BOOL
#define K_INT DV_CONFIG_INT
#define K_REAL DV_CONFIG_REAL
#define K_LIST DV_CONFIG_LIST
#define F_SECRET DV_CONFIG_SECRET
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

static const key top_keys[] = {
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

/* ---------------------------------------------------------------- walking the tree */

static void *slot(ctx *x, const key *k)
{
    return (x->base ? x->base : (char *)x->cfg) + k->off;
}

static int wrong_type(ctx *x, config_setting_t *s, const char *path, const char *want)
{
    return fail(x, s, "%s: expected %s, got %s", path, want, type_name(config_setting_type(s)));
}

static int nomem(ctx *x)
{
    return dv_err(x->err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", x->name);
}

/* The value the user wrote for an integer setting (exact, see the scanner). */
static int int_value(ctx *x, config_setting_t *s, const char *path, const char *want,
                     long long *v, char *shown, size_t shown_size)
{
    const numtok *t = config_setting_get_hook(s);

    *v = config_setting_get_int64(s);
    if (t) {
        snprintf(shown, shown_size, "%.*s", t->len, t->text);
        if (!t->exact)
            return fail(x, s, "%s: expected %s, got %s, which is too large", path, want, shown);
        *v = t->value;
    } else {
        snprintf(shown, shown_size, "%lld", *v);
    }
    return 0;
}

static int set_int(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char want[96], shown[80];
    long long v;

    snprintf(want, sizeof want, "an integer in %lld..%lld", k->min, k->max);
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return wrong_type(x, s, path, want);
    if (int_value(x, s, path, want, &v, shown, sizeof shown) < 0)
        return -1;
    if (v < k->min || v > k->max)
        return fail(x, s, "%s: expected %s, got %s", path, want, shown);
    *(int *)slot(x, k) = (int)v;
    return 0;
}

static int set_real(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char want[128], shown[80];
    int type = config_setting_type(s);
    long long iv;
    double v;

    snprintf(want, sizeof want, "a number in %s%g, %g]", k->flags & F_LOW_OPEN ? "(" : "[",
             k->dmin, k->dmax);
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        if (int_value(x, s, path, want, &iv, shown, sizeof shown) < 0)
            return -1;
        v = (double)iv;
    } else if (type == CONFIG_TYPE_FLOAT) {
        const numtok *t = config_setting_get_hook(s);
        v = config_setting_get_float(s);
        if (t)
            snprintf(shown, sizeof shown, "%.*s", t->len, t->text);
        else
            snprintf(shown, sizeof shown, "%g", v);
    } else {
        return wrong_type(x, s, path, want);
    }
    if (!isfinite(v) || v < k->dmin || v > k->dmax || (k->flags & F_LOW_OPEN && v == k->dmin))
        return fail(x, s, "%s: expected %s, got %s", path, want, shown);
    *(double *)slot(x, k) = v;
    return 0;
}

static int set_bool(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return wrong_type(x, s, path, "a boolean (true or false)");
    *(bool *)slot(x, k) = config_setting_get_bool(s) != 0;
    return 0;
}

/* The set a value of k must be in: its own, or the names a registry gave. */
static const char *const *choices_of(const key *k)
{
    return k->choices ? k->choices : k->names ? *k->names : NULL;
}

static int choose(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    const char *const *set = choices_of(k);
    char list[256], q[96];
    size_t o = 0;

    for (const char *const *c = set; *c; c++)
        if (strcmp(*c, v) == 0)
            return 0;
    list[0] = '\0';
    for (const char *const *c = set; *c && o < sizeof list; c++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", o ? ", " : "", *c);
    return fail(x, s, "%s: expected one of %s, got %s", path, list, dv_config_quote(q, sizeof q, v));
}

/* A string value: the rules of k, then its check function. */
static int check_string(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    if ((k->flags & F_NONEMPTY) && !*v)
        return fail(x, s, "%s: expected a non-empty string", path);
    if (choices_of(k) && choose(x, k, s, path, v) < 0)
        return -1;
    if (k->check && k->check(x, s, path, v) < 0)
        return -1;
    if (k->rule) {
        char why[700];
        if (k->rule(v, why, sizeof why) < 0)
            return fail(x, s, "%s: %s", path, why);
    }
    return 0;
}

static int set_string(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char **dst = slot(x, k);
    const char *v;
    char *copy;

    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return wrong_type(x, s, path, "a string");
    v = config_setting_get_string(s);
    if (check_string(x, k, s, path, v) < 0)
        return -1;
    if (!(copy = strdup(v)))
        return nomem(x);
    free(*dst);
    *dst = copy;
    return 0;
}

static int set_list(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    int type = config_setting_type(s), n;
    dv_strlist l = { 0 }, *dst = slot(x, k);
    char item_path[192], q[96];

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return wrong_type(x, s, path, "an array of strings [ \"...\", ... ]");
    n = config_setting_length(s);
    if ((k->flags & F_NONEMPTY) && n == 0)
        return fail(x, s, "%s: expected at least one item, got an empty list", path);
    if (!(l.v = calloc(n ? (size_t)n : 1, sizeof *l.v)))
        return nomem(x);
    for (int i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        snprintf(item_path, sizeof item_path, "%.160s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            wrong_type(x, e, item_path, "a string");
            goto bad;
        }
        v = config_setting_get_string(e);
        if (check_string(x, k, e, item_path, v) < 0)
            goto bad;
        for (size_t j = 0; (k->flags & F_UNIQUE) && j < l.n; j++)
            if (strcmp(l.v[j], v) == 0) {
                fail(x, e, "%s: %s is already listed as %s[%zu]; each item may appear once",
                     item_path, dv_config_quote(q, sizeof q, v), path, j);
                goto bad;
            }
        if (!(l.v[l.n] = strdup(v))) {
            nomem(x);
            goto bad;
        }
        l.n++;
    }
    dv_strlist_free(dst);
    *dst = l;
    return 0;
bad:
    dv_strlist_free(&l);
    return -1;
}

static int walk_group(ctx *x, config_setting_t *g, const key *table, const char *prefix);

static int unknown_key(ctx *x, config_setting_t *s, const key *table, const char *prefix,
                       const char *path)
{
    char names[512];
    size_t o = 0;

    names[0] = '\0';
    for (const key *k = table; k->name && o < sizeof names; k++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", k->name);
    if (!*prefix)
        return fail(x, s, "%s: unknown key; the valid top-level keys are: %s", path, names);
    return fail(x, s, "%s: unknown key; the valid keys in %s are: %s", path, prefix, names);
}

static int set_value(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    switch (k->kind) {
    case K_GROUP: {
        char *outer = x->base;
        int rc;
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            return wrong_type(x, s, path, "a group { ... }");
        if (k->section && k->section->size)
            x->base = dv_config_section_data(x->cfg, k->section->name);
        rc = walk_group(x, s, k->members, path);
        x->base = outer;
        return rc;
    }
    case K_STRING: return set_string(x, k, s, path);
    case K_BOOL: return set_bool(x, k, s, path);
    case K_INT: return set_int(x, k, s, path);
    case K_REAL: return set_real(x, k, s, path);
    case K_LIST: return set_list(x, k, s, path);
    }
    return dv_err(x->err, DROVER_ERR_INTERNAL, DROVER_FROM_CONFIG, "bad key table");
}

/* The settings of group g in file order, so the first error reported is
 * the first one in the file. */
static int walk_group(ctx *x, config_setting_t *g, const key *table, const char *prefix)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[160];
        const key *k;

        snprintf(path, sizeof path, "%s%s%.64s", prefix, *prefix ? "." : "", name ? name : "?");
        for (k = table; k->name && (!name || strcmp(k->name, name) != 0); k++)
            ;
        if (!k->name)
            return unknown_key(x, s, table, prefix, path);
        if (set_value(x, k, s, path) < 0)
            return -1;
    }
    return 0;
}

/* Rules that tie keys together, checked once every key is valid. */
static int cross_checks(ctx *x, config_t *c)
{
    const dv_config *cfg = x->cfg;
    config_setting_t *s;

    if (cfg->servicegroup.service_down_time <= cfg->servicegroup.report_interval) {
        if (!(s = config_lookup(c, "servicegroup.service_down_time")))
            s = config_lookup(c, "servicegroup.report_interval");
        return fail(x, s, "servicegroup.service_down_time (%d) must be greater than "
                    "servicegroup.report_interval (%d): a host would look down between two heartbeats",
                    cfg->servicegroup.service_down_time, cfg->servicegroup.report_interval);
    }
    if (strcmp(cfg->evacuator.mode, "rebuild") == 0 && cfg->evacuator.fence_command.n == 0) {
        if (!(s = config_lookup(c, "evacuator.mode")))
            s = config_lookup(c, "evacuator.fence_command");
        return fail(x, s, "evacuator.mode \"rebuild\" needs evacuator.fence_command: a host is "
                    "rebuilt elsewhere only after the fence command confirmed it is off");
    }
    if (cfg->migration.tunnelled && !cfg->migration.peer2peer) {
        s = config_lookup(c, "migration.tunnelled");
        return fail(x, s, "migration.tunnelled needs migration.peer2peer = true (libvirt tunnels "
                    "only peer-to-peer migrations)");
    }
    if (cfg->migration.tunnelled && cfg->migration.tls) {
        if (!(s = config_lookup(c, "migration.tls")))
            s = config_lookup(c, "migration.tunnelled");
        return fail(x, s, "migration.tls and migration.tunnelled exclude each other: choose "
                    "QEMU-native TLS or a tunnel through libvirtd");
    }
    return 0;
}

/* The rules between the keys of each added section. */
static int section_checks(ctx *x, config_t *c)
{
    for (const key *k = servicegroup_keys + N_SG_FIXED; k->name; k++) {
        const char *blame = NULL;
        char why[700], path[160];
        if (!k->section->check || k->section->check(x->cfg, &blame, why, sizeof why) == 0)
            continue;
        snprintf(path, sizeof path, "servicegroup.%s.%s", k->name, blame ? blame : "");
        return fail(x, config_lookup(c, path), "%s", why);
    }
    return 0;
}

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

void dv_config_set_names(const char *name, const char *const *names)
{
    if (strcmp(name, "servicegroup.driver") == 0)
        driver_names = names;
    else if (strcmp(name, "scheduler.filters") == 0)
        filter_names = names;
    else if (strcmp(name, "scheduler.weighers") == 0)
        weigher_names = names;
    else if (strcmp(name, "migration.policy") == 0)
        policy_names = names;
    else if (strcmp(name, "state.backend") == 0)
        backend_names = names;
}

const dv_config_section *dv_config_section_at(size_t i)
{
    return i < DV_CONFIG_MAX_SECTIONS ? servicegroup_keys[N_SG_FIXED + i].section : NULL;
}

const char *const *dv_config_names_of(const char *name)
{
    if (strcmp(name, "servicegroup.driver") == 0)
        return driver_names;
    if (strcmp(name, "scheduler.filters") == 0)
        return filter_names;
    if (strcmp(name, "migration.policy") == 0)
        return policy_names;
    if (strcmp(name, "state.backend") == 0)
        return backend_names;
    return strcmp(name, "scheduler.weighers") == 0 ? weigher_names : NULL;
}

/* ---------------------------------------------------------------- loading */

int dv_config_load_text(const char *text, size_t len, const char *name, dv_config **out,
                     drover_error *err)
{
    ctx x = { .name = name, .err = err };
    scan sc = { 0 };
    config_t c;
    const char *why = NULL;
    size_t next = 0;
    int line, rc = -1;

    if (!(x.cfg = dv_config_new_defaults()))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", name);
    if (dv_config_set_string(&x.cfg->path, name, err) < 0) {
        dv_config_free(x.cfg);
        return -1;
    }
    config_init(&c);
    line = dv_config_scan_text(text, len, &sc, &why);
    if (line < 0) {
        nomem(&x);
    } else if (line > 0) {
        dv_config_fail_at(&x, line, "%s", why);
    } else if (config_read_string(&c, text) != CONFIG_TRUE) {
        /* An unterminated string runs to the end of the file, where libconfig
         * notices: the line where it starts helps more. */
        if (sc.open_line && sc.open_line <= config_error_line(&c))
            dv_config_fail_at(&x, sc.open_line, "%s", sc.open_what);
        else
            dv_config_fail_at(&x, config_error_line(&c), "%s", config_error_text(&c));
    } else if (sc.open_line) {
        dv_config_fail_at(&x, sc.open_line, "%s", sc.open_what);
    } else if (sc.depth_line) {
        dv_config_fail_at(&x, sc.depth_line, "groups, arrays and lists nest deeper than %d levels", MAX_DEPTH);
    } else {
        /* If the two sequences ever disagree, ranges are still checked on
         * libconfig's values; only the overflow detection is lost. */
        if (dv_config_tie_numbers(config_root_setting(&c), &sc, &next, false) && next == sc.n) {
            next = 0;
            dv_config_tie_numbers(config_root_setting(&c), &sc, &next, true);
        } else {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
            abort();               /* fuzzing: the scanner must agree with libconfig */
#endif
        }
        if (walk_group(&x, config_root_setting(&c), top_keys, "") == 0 && cross_checks(&x, &c) == 0 &&
            section_checks(&x, &c) == 0)
            rc = 0;
    }
    config_destroy(&c);
    free(sc.tok);
    if (rc < 0) {
        dv_config_free(x.cfg);
        return -1;
    }
    *out = x.cfg;
    return 0;
}

int dv_config_load_string(const char *text, const char *name, dv_config **out, drover_error *err)
{
    *out = NULL;
    if (!name || !*name)
        name = "<string>";
    if (!text)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s: no configuration text", name);
    return dv_config_load_text(text, strlen(text), name, out, err);
}

