/* registry.c - find a servicegroup driver by name; guard every call. */
#include "drivers/servicegroup.h"
#include "core/registry.h"
#include "core/model.h"
#include "core/report.h"

#include <stdlib.h>
#include <string.h>

/* One line per driver: a driver folder adds itself here. */
static const void *const registry[] = {
    &dv_sg_db_ops,
    &dv_sg_mc_ops,
    &dv_sg_zk_ops,
};

DV_REGISTRY_ADAPTER(dv_sg_ops, registry, dv_sg_find, dv_sg_names, "servicegroup driver",
                    "servicegroup.driver", DV_SG_OPS_VERSION, DROVER_ERR_UNSUPPORTED,
                    DROVER_FROM_SERVICEGROUP)

int dv_sg_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    const dv_sg_ops *ops = dv_sg_find(cfg->servicegroup.driver, err);

    *out = NULL;
    return ops ? dv_sg_open_ops(ops, cfg, out, err) : -1;
}

/* Before main: the config parser learns the drivers' names and sections. */
__attribute__((constructor)) static void register_config(void)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        const dv_sg_ops *ops = registry[i];
        if (ops->config)
            dv_config_add_section("servicegroup", ops->config);
    }
    dv_config_set_names("servicegroup.driver", dv_sg_names());
}

int dv_sg_open_ops(const dv_sg_ops *ops, const dv_config *cfg, dv_sg **out, drover_error *err)
{
    *out = NULL;
    if (ops->version != DV_SG_OPS_VERSION)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_SERVICEGROUP,
                      "servicegroup driver \"%s\" has interface version %d; this build expects %d",
                      ops->name, ops->version, DV_SG_OPS_VERSION);
    if (!ops->open)
        return dv_err(err, DROVER_ERR_UNSUPPORTED, DROVER_FROM_SERVICEGROUP,
                      "servicegroup driver \"%s\" cannot be opened", ops->name);
    if (ops->config && dv_config_check_section(cfg, ops->config, err) < 0)
        return -1;
    if (ops->open(cfg, out, err) < 0)
        return -1;
    (*out)->ops = ops;
    (*out)->cfg = cfg;
    return 0;
}

void dv_sg_close(dv_sg *sg)
{
    if (sg && sg->ops->close)
        sg->ops->close(sg);
}

static int unsupported(const dv_sg *sg, const char *op, drover_error *err)
{
    return dv_err(err, DROVER_ERR_UNSUPPORTED, DROVER_FROM_SERVICEGROUP,
                  "servicegroup driver \"%s\" does not support %s", sg->ops->name, op);
}

/* Check the names every operation takes; say which operation refused them. */
static int check_names(const char *op, const char *group, const char *host, drover_error *err)
{
    if (dv_name_check("group", group, err) < 0 || (host && dv_name_check("host", host, err) < 0)) {
        dv_err_prefix(err, "%s", op);
        return -1;
    }
    return 0;
}

#define GUARD(op, group, host)                                   \
    do {                                                         \
        if (!sg->ops->op)                                        \
            return unsupported(sg, #op, err);                    \
        if (check_names(#op, group, host, err) < 0)              \
            return -1;                                           \
    } while (0)

int dv_sg_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    GUARD(join, group, host);
    return sg->ops->join(sg, group, host, err);
}

int dv_sg_heartbeat(dv_sg *sg, const char *group, const char *host,
                    const char *report_json, drover_error *err)
{
    GUARD(heartbeat, group, host);
    /* one limit for every driver (core/report.h) */
    if (report_json && strlen(report_json) > DV_REPORT_MAX)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SERVICEGROUP,
                      "heartbeat of %s: the report is %zu bytes; the limit is %d", host,
                      strlen(report_json), DV_REPORT_MAX);
    return sg->ops->heartbeat(sg, group, host, report_json, err);
}

int dv_sg_is_up(dv_sg *sg, const char *group, const char *host,
                drover_liveness *state, drover_error *err)
{
    drover_error local;
    int rc;

    *state = DROVER_UNKNOWN;
    GUARD(is_up, group, host);
    rc = sg->ops->is_up(sg, group, host, state, err ? err : &local);
    if (rc < 0)
        *state = DROVER_UNKNOWN;
    return rc;
}

int dv_sg_get_all(dv_sg *sg, const char *group, drover_member **members,
                  size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    GUARD(get_all, group, NULL);
    return sg->ops->get_all(sg, group, members, n, err);
}

/* The fallback still reads (and decodes) every report: only a driver's own
 * get_states can skip that work. */
int dv_sg_get_states(dv_sg *sg, const char *group, drover_member **members,
                     size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    if (!sg->ops->get_states && !sg->ops->get_all)
        return unsupported(sg, "get_states", err);
    if (check_names("get_states", group, NULL, err) < 0)
        return -1;
    if (sg->ops->get_states)
        return sg->ops->get_states(sg, group, members, n, err);
    if (sg->ops->get_all(sg, group, members, n, err) < 0)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        free((*members)[i].report_json);
        drover_report_free((*members)[i].report);
        (*members)[i].report_json = NULL;
        (*members)[i].report = NULL;
    }
    return 0;
}

int dv_sg_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                        drover_error *err)
{
    memset(out, 0, sizeof *out);
    if (!sg->ops->get_summaries && !sg->ops->get_all)
        return unsupported(sg, "get_summaries", err);
    if (check_names("get_summaries", group, NULL, err) < 0)
        return -1;
    if (sg->ops->get_summaries)
        return sg->ops->get_summaries(sg, group, instances, out, err);
    if (sg->ops->get_all(sg, group, &out->members, &out->n, err) < 0)
        return -1;
    if (out->n && !(out->sums = calloc(out->n, sizeof *out->sums))) {
        dv_summary_list_free(out);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SERVICEGROUP, "out of memory");
    }
    for (size_t i = 0; i < out->n; i++) {
        const drover_report *r = out->members[i].report;
        dv_member_summary *ms = &out->sums[i];
        ms->report = r;
        ms->stored = out->members[i].report_json != NULL;
        for (size_t j = 0; r && j < r->n_instances; j++)
            ms->memory_used_mib += r->instances[j].memory_mib;
        ms->n_instances = r ? r->n_instances : 0;
    }
    return 0;
}

bool dv_sg_has_find_instance(const dv_sg *sg)
{
    return sg->ops->find_instance != NULL;
}

int dv_sg_find_instance(dv_sg *sg, const char *group, const char *key, char ***hosts, size_t *n,
                        drover_error *err)
{
    *hosts = NULL;
    *n = 0;
    GUARD(find_instance, group, NULL);
    return sg->ops->find_instance(sg, group, key, hosts, n, err);
}

int dv_sg_get(dv_sg *sg, const char *group, const char *host,
              drover_member *member, drover_error *err)
{
    memset(member, 0, sizeof *member);
    GUARD(get, group, host);
    return sg->ops->get(sg, group, host, member, err);
}

int dv_sg_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    GUARD(leave, group, host);
    return sg->ops->leave(sg, group, host, err);
}

int dv_sg_set_disabled(dv_sg *sg, const char *group, const char *host,
                       bool disabled, const char *reason, drover_error *err)
{
    GUARD(set_disabled, group, host);
    return sg->ops->set_disabled(sg, group, host, disabled, reason, err);
}

int dv_sg_set_forced_down(dv_sg *sg, const char *group, const char *host,
                          bool forced_down, drover_error *err)
{
    GUARD(set_forced_down, group, host);
    return sg->ops->set_forced_down(sg, group, host, forced_down, err);
}
