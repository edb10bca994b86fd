/* policy.c - the convergence policy registry (migration.policy and
 * --policy name a policy; this table finds it), the parameters a policy is
 * given, and the Nova arithmetic both policies share.  Adding a policy = one
 * file + one line here. */
#include "migrator/policy.h"
#include "core/registry.h"

#include <string.h>

static const void *const registry[] = {
    &dv_mig_policy_adaptive,
    &dv_mig_policy_nova,
};

/* the adapter's lookup, wrapped below with the state size check */
static const dv_mig_policy_ops *policy_lookup(const char *name, drover_error *err);
DV_REGISTRY_ADAPTER(dv_mig_policy_ops, registry, policy_lookup, dv_mig_policy_names,
                    "convergence policy", "migration.policy", DV_MIG_POLICY_OPS_VERSION,
                    DROVER_ERR_CONFIG, DROVER_FROM_CONFIG)
DV_REGISTRY_CONFIG_NAMES(dv_mig_policy_names, "migration.policy")

const dv_mig_policy_ops *dv_mig_policy_find(const char *name, drover_error *err)
{
    const dv_mig_policy_ops *p = policy_lookup(name, err);

    if (p && p->state_size > DV_MIG_POLICY_STATE_MAX) {
        dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_CONFIG,
               "convergence policy \"%s\" needs %zu bytes of state; at most %d are provided",
               name, p->state_size, DV_MIG_POLICY_STATE_MAX);
        return NULL;
    }
    return p;
}

const char *dv_mig_action_name(dv_mig_action_kind k)
{
    switch (k) {
    case DV_MIG_ACT_NONE: return "none";
    case DV_MIG_ACT_SET_DOWNTIME: return "set-downtime";
    case DV_MIG_ACT_POSTCOPY: return "post-copy";
    case DV_MIG_ACT_PAUSE: return "pause";
    case DV_MIG_ACT_ABORT: return "abort";
    }
    return "unknown";
}

void dv_mig_params_from_config(const dv_config *cfg, uint64_t memory_mib, uint64_t disk_mib,
                               bool paused, bool post_copy_permitted, dv_mig_params *p)
{
    memset(p, 0, sizeof *p);
    p->memory_mib = memory_mib;
    p->disk_mib = disk_mib;
    p->paused = paused;
    p->post_copy_permitted = post_copy_permitted;
    p->timeout_force_complete = cfg->migration.timeout_action &&
                                strcmp(cfg->migration.timeout_action, "force_complete") == 0;
    p->downtime_ms = cfg->migration.downtime_ms;
    p->downtime_steps = cfg->migration.downtime_steps;
    p->downtime_delay_s = cfg->migration.downtime_delay_s;
    p->completion_timeout_s = cfg->migration.completion_timeout_s;
    p->poll_interval_ms = cfg->migration.poll_interval_ms;
}

/* ---------------------------------------------------------------- Nova's arithmetic */

/* Nova's configuration minimums (nova.conf: live_migration_downtime min 100,
 * live_migration_downtime_steps min 3, live_migration_downtime_delay min 3). */
#define MIN_DOWNTIME_MS 100
#define MIN_STEPS 3
#define MIN_DELAY_S 3

int dv_mig_eff_downtime_ms(const dv_mig_params *p)
{
    return p->downtime_ms < MIN_DOWNTIME_MS ? MIN_DOWNTIME_MS : p->downtime_ms;
}

int dv_mig_eff_steps(const dv_mig_params *p)
{
    return p->downtime_steps < MIN_STEPS ? MIN_STEPS : p->downtime_steps;
}

int dv_mig_eff_delay_s(const dv_mig_params *p)
{
    return p->downtime_delay_s < MIN_DELAY_S ? MIN_DELAY_S : p->downtime_delay_s;
}

/* MiB / 1024 is exact in binary floating point, as Nova's bytes / units.Gi is */
double dv_mig_data_gib(const dv_mig_params *p)
{
    double ram = (double)p->memory_mib / 1024.0, disk = (double)p->disk_mib / 1024.0;
    if (ram < 2.0)
        ram = 2.0;
    if (p->disk_mib > 0 && disk < 2.0)
        disk = 2.0;
    return ram + disk;
}

int64_t dv_mig_step_at_s(const dv_mig_params *p, int i)
{
    /* Python's int() truncates toward zero, as a C cast does */
    int64_t delay = (int64_t)((double)dv_mig_eff_delay_s(p) * dv_mig_data_gib(p));
    return delay * i;
}

uint64_t dv_mig_step_ms(const dv_mig_params *p, int i)
{
    double downtime = (double)dv_mig_eff_downtime_ms(p), steps = (double)dv_mig_eff_steps(p);
    double base = downtime / steps;
    double offset = (downtime - base) / steps;
    double scaled = offset * (double)i;   /* two roundings, as in Python: no fused multiply-add */
    double v = base + scaled;
    return v <= 0.0 ? 0 : (uint64_t)v;
}

int64_t dv_mig_completion_timeout_s(const dv_mig_params *p)
{
    if (p->completion_timeout_s <= 0)
        return 0;
    return (int64_t)((double)p->completion_timeout_s * dv_mig_data_gib(p));
}

const char *dv_mig_timeout_choose(const dv_mig_params *p, dv_mig_action *a)
{
    if (!p->timeout_force_complete) {
        a->kind = DV_MIG_ACT_ABORT;
        return "abort";
    }
    if (p->post_copy_permitted && !p->paused) {
        a->kind = DV_MIG_ACT_POSTCOPY;
        return "force_complete: post-copy";
    }
    a->kind = DV_MIG_ACT_PAUSE;
    return p->paused ? "force_complete: pause (the guest is paused: no post-copy)"
                     : "force_complete: pause the guest (post-copy not permitted)";
}

const char *dv_mig_timeout_plan_words(const dv_mig_params *p)
{
    if (!p->timeout_force_complete)
        return "abort the migration (the guest stays on the source)";
    if (p->post_copy_permitted && !p->paused)
        return "switch to post-copy";
    return "pause the guest until the copy completes";
}

bool dv_mig_plan_add_step(dv_mig_plan *out, int64_t at_s, uint64_t downtime_ms)
{
    if (out->n_steps == DV_MIG_MAX_STEPS) {
        out->steps_truncated = true;
        return false;
    }
    out->steps[out->n_steps].at_s = at_s;
    out->steps[out->n_steps++].downtime_ms = downtime_ms;
    return true;
}

void dv_mig_plan_start(const dv_mig_params *p, dv_mig_plan *out)
{
    out->data_gib = dv_mig_data_gib(p);
    out->completion_timeout_s = dv_mig_completion_timeout_s(p);
    out->n_steps = 0;
    out->steps_truncated = false;
}
