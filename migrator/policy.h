/* policy.h - convergence policies: what to do with a live migration that is
 * running, from what it has done so far.
 *
 * A policy is a pure function of (its parameters, the guest's size, the
 * job statistics sampled so far) to actions.  It does no I/O, reads no
 * clock of its own (every sample carries its elapsed time) and keeps no
 * global state, so it is tested on recorded traces and `drover migration
 * plan` can show what it would do without migrating.  One file per policy,
 * one const table each, found by name through core/registry.h like the
 * filters and the servicegroup drivers.
 *
 * The monitor (migrator/monitor.c) calls decide() after every sample and
 * carries the actions out on the source's libvirt:
 *   SET_DOWNTIME  virDomainMigrateSetMaxDowntime(downtime_ms)
 *   POSTCOPY      virDomainMigrateStartPostCopy
 *   PAUSE         virDomainSuspend (the copy then completes; the guest is
 *                 resumed at the destination)
 *   ABORT         virDomainAbortJob (the guest stays on the source)
 * Every action carries a reason in words with the figures behind it; the
 * monitor logs it and keeps the last one in the migration record.  No
 * policy acts once the job is in post-copy (stats.postcopy), and each
 * POSTCOPY/PAUSE/ABORT decision is returned once.
 */
#ifndef DV_MIG_POLICY_H
#define DV_MIG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

#define DV_MIG_POLICY_OPS_VERSION 1
#define DV_MIG_WHY_MAX 320

/* One sample of virDomainGetJobStats (bytes, bytes/s, ms).  A field libvirt
 * did not report is 0. */
typedef struct dv_mig_stats {
    int64_t elapsed_ms;            /* since the migration call started */
    uint64_t data_total, data_processed, data_remaining;
    uint64_t mem_total, mem_processed, mem_remaining;
    uint64_t mem_bps;              /* transfer rate */
    uint64_t mem_dirty_rate;       /* pages/s */
    uint64_t mem_page_size;        /* bytes; 0 = 4096 */
    uint64_t mem_iteration;        /* pre-copy pass, 1-based */
    uint64_t mem_postcopy_reqs;
    uint64_t downtime_ms;          /* the current maximum downtime in force: what the
                                    * monitor last set (virDomainMigrateGetMaxDowntime
                                    * waits for the migration job to end in libvirt
                                    * 9.0); 0 = unknown (QEMU's default, 300 ms) */
    bool postcopy;                 /* the job switched to post-copy */
} dv_mig_stats;

/* What a policy is given once, before the first sample. */
typedef struct dv_mig_params {
    uint64_t memory_mib;           /* the guest's RAM */
    uint64_t disk_mib;             /* data copied besides RAM (non-shared disks); 0 */
    bool paused;                   /* the guest is paused (never post-copy) */
    bool post_copy_permitted;      /* POSTCOPY flag set on the migration */
    bool timeout_force_complete;   /* timeout_action = "force_complete" */
    int downtime_ms;               /* migration.downtime_ms */
    int downtime_steps;            /* migration.downtime_steps */
    int downtime_delay_s;          /* migration.downtime_delay_s (per GiB) */
    int completion_timeout_s;      /* per GiB; 0 = none */
    int poll_interval_ms;
} dv_mig_params;

/* From cfg->migration and the guest. */
void dv_mig_params_from_config(const dv_config *cfg, uint64_t memory_mib, uint64_t disk_mib,
                               bool paused, bool post_copy_permitted, dv_mig_params *p);

typedef enum dv_mig_action_kind {
    DV_MIG_ACT_NONE = 0,
    DV_MIG_ACT_SET_DOWNTIME,
    DV_MIG_ACT_POSTCOPY,
    DV_MIG_ACT_PAUSE,
    DV_MIG_ACT_ABORT
} dv_mig_action_kind;

typedef struct dv_mig_action {
    dv_mig_action_kind kind;
    uint64_t downtime_ms;          /* SET_DOWNTIME */
    char why[DV_MIG_WHY_MAX];      /* "adaptive: remaining 812 MiB, not shrinking for 3
                                    * iterations (dirty 95 MiB/s >= transfer 40 MiB/s);
                                    * predicted no convergence at 500 ms: post-copy" */
} dv_mig_action;

/* "abort", "set-downtime", ... */
const char *dv_mig_action_name(dv_mig_action_kind k);

/* One step of a downtime schedule, for plans: at `at_s` seconds set the
 * maximum downtime to `downtime_ms`.  at_s = DV_MIG_STEP_ON_STALL: not on a
 * clock, taken when the remaining data stops shrinking (adaptive). */
typedef struct dv_mig_step {
    int64_t at_s;
    uint64_t downtime_ms;
} dv_mig_step;

#define DV_MIG_STEP_ON_STALL (-1)
/* migration.downtime_steps is at most 1000: steps 0..1000 */
#define DV_MIG_MAX_STEPS 1001

/* What a policy would do with a guest, computed from the parameters alone. */
typedef struct dv_mig_plan {
    double data_gib;               /* the size the arithmetic uses (Nova: >= 2 GiB) */
    dv_mig_step steps[DV_MIG_MAX_STEPS];
    size_t n_steps;
    bool steps_truncated;          /* more than DV_MIG_MAX_STEPS (params beyond the config's range) */
    int64_t completion_timeout_s;  /* 0 = none */
    char summary[DV_MIG_WHY_MAX];  /* how the policy acts besides the steps */
} dv_mig_plan;

/* A policy's private state lives in caller-provided memory of state_size
 * bytes (zeroed by the caller before init): no allocation, no globals. */
#define DV_MIG_POLICY_STATE_MAX 512

typedef struct dv_mig_policy_ops {
    int version;                   /* DV_MIG_POLICY_OPS_VERSION */
    const char *name;              /* as migration.policy / --policy names it */
    const char *summary;           /* one line */
    size_t state_size;             /* <= DV_MIG_POLICY_STATE_MAX */
    void (*init)(void *state, const dv_mig_params *p);
    /* Called after every sample; hist[0..n-1] are all samples so far, the
     * newest last.  Writes at most max actions to out, returns how many
     * (0 = nothing to do now).  Never the same action twice in a row for
     * the same reason: a policy remembers what it already did in state. */
    size_t (*decide)(void *state, const dv_mig_params *p, const dv_mig_stats *hist, size_t n,
                     dv_mig_action *out, size_t max);
    void (*plan)(const dv_mig_params *p, dv_mig_plan *out);
} dv_mig_policy_ops;

extern const dv_mig_policy_ops dv_mig_policy_nova;
extern const dv_mig_policy_ops dv_mig_policy_adaptive;

/* Nova's arithmetic, shared by the policies and plans (migrator/policy.c).
 * The size the timings scale with, in GiB: RAM with a floor of 2 GiB, plus
 * the disk data with a floor of 2 GiB when there is any (Nova's
 * _live_migration_data_gb floors each disk; drover counts its non-shared
 * disks as one). */
double dv_mig_data_gib(const dv_mig_params *p);
/* The parameters with Nova's minimums applied (downtime 100 ms, 3 steps,
 * 3 s delay): values below are raised to them. */
int dv_mig_eff_downtime_ms(const dv_mig_params *p);
int dv_mig_eff_steps(const dv_mig_params *p);
int dv_mig_eff_delay_s(const dv_mig_params *p);
/* Step i (0..steps) of Nova's downtime_steps: at step_at_s(i) seconds
 * (int(delay * i), delay = int(delay_s * data_gib)), downtime step_ms(i)
 * (int(base + offset * i), base = downtime / steps, offset = (downtime -
 * base) / steps, in double arithmetic like Python's). */
int64_t dv_mig_step_at_s(const dv_mig_params *p, int i);
uint64_t dv_mig_step_ms(const dv_mig_params *p, int i);
/* int(completion_timeout_s * data_gib); 0 = none. */
int64_t dv_mig_completion_timeout_s(const dv_mig_params *p);
/* What the completion timeout does (Nova's live_migration_timeout_action):
 * sets a->kind to abort, or with timeout_force_complete to post-copy when
 * permitted and the guest is not paused, else pause; returns the words for
 * a->why ("abort", "force_complete: ..."). */
const char *dv_mig_timeout_choose(const dv_mig_params *p, dv_mig_action *a);
/* The same choice in the words of a plan's summary. */
const char *dv_mig_timeout_plan_words(const dv_mig_params *p);
/* An empty plan: data_gib and completion_timeout_s of p, no steps. */
void dv_mig_plan_start(const dv_mig_params *p, dv_mig_plan *out);
/* Appends a step to out; false (steps_truncated set) when it is full. */
bool dv_mig_plan_add_step(dv_mig_plan *out, int64_t at_s, uint64_t downtime_ms);

/* NULL (err: CONFIG, naming the known policies) for an unknown name. */
const dv_mig_policy_ops *dv_mig_policy_find(const char *name, drover_error *err);
const char *const *dv_mig_policy_names(void);

#endif
