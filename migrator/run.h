/* run.h - what the pieces of one migration share (migrate.c starts it,
 * monitor.c watches it, outcome.c settles it).  Private to migrator/. */
#ifndef DV_MIG_RUN_H
#define DV_MIG_RUN_H

#include <pthread.h>
#include <stdbool.h>

#include "virt/virt.h"
#include "migrator/migrate.h"
#include "migrator/policy.h"
#include "migrator/record.h"
#include "migrator/vops.h"

typedef struct dv_mig_run {
    const dv_config *cfg;
    const dv_migrate_opts *o;
    dv_statedb *db;
    dv_mig_record rec;
    dv_mig_owner self;

    dv_virt *src, *dst;            /* the controller's handles on both hosts' libvirt
                                    * (every call through dv_vop_run, with a deadline) */
    int tmo;                       /* that deadline: controller.libvirt_timeout_ms */
    char dconnuri[1024];           /* the destination's migration_uri (peer-to-peer) */
    bool paused_at_start;
    virTypedParameterPtr params;   /* for virDomainMigrateToURI3 */
    int n_params, max_params;

    /* the policy */
    const dv_mig_policy_ops *policy;
    dv_mig_params pp;
    _Alignas(16) unsigned char pstate[DV_MIG_POLICY_STATE_MAX];
    dv_mig_stats *hist;
    size_t n_hist, cap_hist;
    uint64_t downtime_ms;          /* the maximum downtime in force */
    bool we_paused;                /* a PAUSE action (or force-complete) suspended it */
    char abort_why[DV_MIG_WHY_MAX];   /* who aborted and why ("" = nobody we know) */

    /* set by the migration thread and the event callbacks, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool call_done;
    int call_rc;
    char call_msg[DV_MIG_MSG_MAX];
    bool job_completed;            /* VIR_DOMAIN_EVENT_ID_JOB_COMPLETED seen */
    int64_t final_downtime_ms, final_total_ms;
    bool postcopy;                 /* the job entered post-copy */
    bool postcopy_failed;
    int kick;                      /* an iteration or lifecycle event: sample now */
    int64_t t0_mono;               /* the migration call started */
    dv_vop_events ev;
} dv_mig_run;

/* monitor.c: register the events, start the call thread, watch until the
 * call returns.  0, or -1 when the thread could not start (nothing began). */
int dv_mig_monitor(dv_mig_run *r, drover_error *err);

/* outcome.c: settle the record from what both libvirts say. */
void dv_mig_outcome(dv_mig_run *r);


void dv_mig_emit(dv_mig_run *r, dv_mig_event_kind kind);

#endif
