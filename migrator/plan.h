/* plan.h - what a live migration of a guest would get under the current
 * configuration, without migrating (`drover migration plan`): the policy,
 * the data size its timings scale with, the downtime steps, the completion
 * timeout and what happens then. */
#ifndef DV_MIG_PLAN_H
#define DV_MIG_PLAN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

typedef struct dv_mig_plan_req {
    const char *policy;        /* --policy; NULL = migration.policy */
    uint64_t memory_mib;       /* the guest's RAM (> 0) */
    uint64_t disk_mib;         /* non-shared disk data copied besides RAM; 0 */
    bool paused;               /* a paused guest never goes post-copy */
    const char *instance;      /* its name, for the text; NULL with --memory-mib */
    const char *host;          /* where it runs; NULL when unknown */
} dv_mig_plan_req;

/* Build the plan as text for people (*text, malloc'd, several lines ending
 * in '\n') and as a JSON object (*json) with at least "policy", "data_gib",
 * "downtime_steps" (a list of [seconds, milliseconds]; seconds is null for a
 * step taken on stalled progress rather than on the clock),
 * "completion_timeout_s", "timeout_action", "summary".  Either out pointer
 * may be NULL.  Errors: CONFIG for an unknown policy (naming
 * migration.policy or --policy), INVALID for a zero memory size, NOMEM. */
int dv_mig_plan_build(const dv_config *cfg, const dv_mig_plan_req *req, char **text,
                      json_object **json, drover_error *err);

#endif
