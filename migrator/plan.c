/* plan.c - `drover migration plan`: a policy's plan() for a guest, as text
 * and as JSON.  Nothing here talks to libvirt: the figures come from the
 * configuration and the guest's size alone. */
#include "migrator/plan.h"
#include "migrator/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the text lists every step of a short schedule, the ends of a long one */
#define TEXT_STEPS_ALL 16
#define TEXT_STEPS_ENDS 5

static const char *effect_name(const dv_mig_params *p)
{
    if (!p->timeout_force_complete)
        return "abort";
    return p->post_copy_permitted && !p->paused ? "post-copy" : "pause";
}

static json_object *steps_json(const dv_mig_plan *pl)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < pl->n_steps; i++) {
        json_object *pair = json_object_new_array();
        json_object_array_add(pair, pl->steps[i].at_s == DV_MIG_STEP_ON_STALL
                                        ? NULL
                                        : json_object_new_int64(pl->steps[i].at_s));
        json_object_array_add(pair, json_object_new_int64((int64_t)pl->steps[i].downtime_ms));
        json_object_array_add(arr, pair);
    }
    return arr;
}

static json_object *plan_json(const dv_mig_policy_ops *ops, const dv_mig_plan_req *req,
                              const dv_mig_params *p, const dv_mig_plan *pl, const dv_config *cfg)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "policy", json_object_new_string(ops->name));
    json_object_object_add(o, "instance", req->instance ? json_object_new_string(req->instance) : NULL);
    json_object_object_add(o, "host", req->host ? json_object_new_string(req->host) : NULL);
    json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)p->memory_mib));
    json_object_object_add(o, "disk_mib", json_object_new_int64((int64_t)p->disk_mib));
    json_object_object_add(o, "paused", json_object_new_boolean(p->paused));
    json_object_object_add(o, "post_copy_permitted", json_object_new_boolean(p->post_copy_permitted));
    json_object_object_add(o, "data_gib", json_object_new_double(pl->data_gib));
    json_object_object_add(o, "downtime_ms", json_object_new_int64(dv_mig_eff_downtime_ms(p)));
    json_object_object_add(o, "downtime_steps", steps_json(pl));
    json_object_object_add(o, "downtime_steps_truncated", json_object_new_boolean(pl->steps_truncated));
    json_object_object_add(o, "completion_timeout_s", json_object_new_int64(pl->completion_timeout_s));
    json_object_object_add(o, "timeout_action", json_object_new_string(cfg->migration.timeout_action));
    json_object_object_add(o, "timeout_effect", json_object_new_string(effect_name(p)));
    json_object_object_add(o, "summary", json_object_new_string(pl->summary));
    return o;
}

static void step_line(FILE *f, const dv_mig_step *s)
{
    if (s->at_s == DV_MIG_STEP_ON_STALL)
        fprintf(f, "  when stalled  %6llu ms\n", (unsigned long long)s->downtime_ms);
    else
        fprintf(f, "  at %8lld s  %6llu ms\n", (long long)s->at_s,
                (unsigned long long)s->downtime_ms);
}

static void plan_text(FILE *f, const dv_mig_policy_ops *ops, const dv_mig_plan_req *req,
                      const dv_mig_params *p, const dv_mig_plan *pl, const dv_config *cfg)
{
    fprintf(f, "policy:             %s (%s)\n", ops->name, ops->summary);
    if (req->instance)
        fprintf(f, "instance:           %s%s%s, %llu MiB%s\n", req->instance,
                req->host ? " on " : "", req->host ? req->host : "",
                (unsigned long long)p->memory_mib, p->paused ? " (paused)" : "");
    else
        fprintf(f, "guest:              %llu MiB of RAM\n", (unsigned long long)p->memory_mib);
    fprintf(f, "data:               %.2f GiB (RAM at least 2 GiB%s)\n", pl->data_gib,
            p->disk_mib ? ", plus disks at least 2 GiB" : "");
    fprintf(f, "downtime steps:     %zu, up to %d ms\n", pl->n_steps, dv_mig_eff_downtime_ms(p));
    for (size_t i = 0; i < pl->n_steps; i++) {
        if (pl->n_steps > TEXT_STEPS_ALL && i == TEXT_STEPS_ENDS) {
            fprintf(f, "  ... (%zu more)\n", pl->n_steps - 2 * TEXT_STEPS_ENDS);
            i = pl->n_steps - TEXT_STEPS_ENDS - 1;
            continue;
        }
        step_line(f, &pl->steps[i]);
    }
    if (pl->steps_truncated)
        fprintf(f, "  ... (more steps than a plan holds)\n");
    if (pl->completion_timeout_s)
        fprintf(f, "completion timeout: %lld s (%d s per GiB)\n", (long long)pl->completion_timeout_s,
                p->completion_timeout_s);
    else
        fprintf(f, "completion timeout: none\n");
    if (strcmp(cfg->migration.timeout_action, effect_name(p)) == 0)
        fprintf(f, "timeout action:     %s\n", cfg->migration.timeout_action);
    else
        fprintf(f, "timeout action:     %s (%s)\n", cfg->migration.timeout_action, effect_name(p));
    fprintf(f, "summary:            %s\n", pl->summary);
}

static int render(const dv_mig_policy_ops *ops, const dv_mig_plan_req *req, const dv_mig_params *p,
                  const dv_mig_plan *pl, const dv_config *cfg, char **text, drover_error *err)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);

    if (!f)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "migration plan: out of memory");
    plan_text(f, ops, req, p, pl, cfg);
    if (fclose(f) != 0) {
        free(*text);
        *text = NULL;
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "migration plan: out of memory");
    }
    return 0;
}

int dv_mig_plan_build(const dv_config *cfg, const dv_mig_plan_req *req, char **text,
                      json_object **json, drover_error *err)
{
    const char *name = req->policy ? req->policy : cfg->migration.policy;
    const dv_mig_policy_ops *ops = dv_mig_policy_find(name, err);
    dv_mig_params p;
    dv_mig_plan *pl;

    if (text)
        *text = NULL;
    if (json)
        *json = NULL;
    if (!ops && req->policy && err && err->code == DROVER_ERR_CONFIG) {
        const char *const *names = dv_mig_policy_names();
        char known[128] = "";
        for (size_t i = 0; names[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     names[i]);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CORE,
                      "--policy: no convergence policy named \"%s\" (this build has: %s)", name,
                      known);
    }
    if (!ops)
        return -1;
    if (req->memory_mib == 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "migration plan: the guest's memory size must be above 0 MiB");
    dv_mig_params_from_config(cfg, req->memory_mib, req->disk_mib, req->paused,
                              cfg->migration.permit_post_copy && !req->paused, &p);
    /* a thousand steps make a plan of 16 KiB: not for the stack */
    if (!(pl = calloc(1, sizeof *pl)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "migration plan: out of memory");
    ops->plan(&p, pl);
    if (text && render(ops, req, &p, pl, cfg, text, err) < 0) {
        free(pl);
        return -1;
    }
    if (json && !(*json = plan_json(ops, req, &p, pl, cfg))) {
        free(pl);
        if (text) {
            free(*text);
            *text = NULL;
        }
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "migration plan: out of memory");
    }
    free(pl);
    return 0;
}
