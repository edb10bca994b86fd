/* policy_interim.c - INTERIM, until helper D1's policies (policy.c,
 * policy_nova.c, policy_adaptive.c) are merged: the registry and helpers of
 * policy.h with two policies that never act, so the operation and the
 * monitor can be built and tested against real libvirt.  Deleted by the
 * merge of wt-D1. */
#include "migrator/policy.h"

#include <stdio.h>
#include <string.h>

void dv_mig_params_from_config(const dv_config *cfg, uint64_t memory_mib, uint64_t disk_mib,
                               bool paused, bool post_copy_permitted, dv_mig_params *p)
{
    memset(p, 0, sizeof *p);
    p->memory_mib = memory_mib;
    p->disk_mib = disk_mib;
    p->paused = paused;
    p->post_copy_permitted = post_copy_permitted;
    p->timeout_force_complete = strcmp(cfg->migration.timeout_action, "force_complete") == 0;
    p->downtime_ms = cfg->migration.downtime_ms;
    p->downtime_steps = cfg->migration.downtime_steps;
    p->downtime_delay_s = cfg->migration.downtime_delay_s;
    p->completion_timeout_s = cfg->migration.completion_timeout_s;
    p->poll_interval_ms = cfg->migration.poll_interval_ms;
}

const char *dv_mig_action_name(dv_mig_action_kind k)
{
    static const char *const n[] = { "none", "set-downtime", "post-copy", "pause", "abort" };
    return (unsigned)k < sizeof n / sizeof *n ? n[k] : "unknown";
}

static void idle_init(void *state, const dv_mig_params *p)
{
    (void)state;
    (void)p;
}

static size_t idle_decide(void *state, const dv_mig_params *p, const dv_mig_stats *hist,
                          size_t n, dv_mig_action *out, size_t max)
{
    (void)state; (void)p; (void)hist; (void)n; (void)out; (void)max;
    return 0;
}

static void idle_plan(const dv_mig_params *p, dv_mig_plan *out)
{
    (void)p;
    memset(out, 0, sizeof *out);
}

const dv_mig_policy_ops dv_mig_policy_nova = { DV_MIG_POLICY_OPS_VERSION, "nova", "interim",
                                               0, idle_init, idle_decide, idle_plan };
const dv_mig_policy_ops dv_mig_policy_adaptive = { DV_MIG_POLICY_OPS_VERSION, "adaptive",
                                                   "interim", 0, idle_init, idle_decide,
                                                   idle_plan };

const dv_mig_policy_ops *dv_mig_policy_find(const char *name, drover_error *err)
{
    if (name && strcmp(name, "nova") == 0)
        return &dv_mig_policy_nova;
    if (name && strcmp(name, "adaptive") == 0)
        return &dv_mig_policy_adaptive;
    dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
           "unknown migration policy \"%s\" (known: adaptive, nova)", name ? name : "");
    return NULL;
}

const char *const *dv_mig_policy_names(void)
{
    static const char *const names[] = { "adaptive", "nova", NULL };
    return names;
}

/* interim: cmd_plan.c is D1's */
struct dv_cli;
int cmd_migration_plan(struct dv_cli *cli, int argc, char **argv);
int cmd_migration_plan(struct dv_cli *cli, int argc, char **argv)
{
    (void)cli; (void)argc; (void)argv;
    fprintf(stderr, "drover: migration plan is not built yet\n");
    return 2;
}
