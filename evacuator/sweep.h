/* sweep.h - one evacuator sweep, level-triggered: everything it does is
 * derived from what it observes now (the members' liveness and last
 * reports, the journal, what each reachable libvirt runs), so a controller
 * that crashed, or a new leader, simply continues where the journal says.
 * Every action is idempotent and every journal write carries the lease's
 * epoch (a stale one is refused by the store).
 *
 * Per sweep: the gates (gates.h) over every member; an evacuation found
 * open in the journal is admitted again; then, for each host to act on
 * (gate "act" or "continue"), the second channel (channel.h):
 *  - its libvirt answers: disable the host ("evacuator: agent down, libvirt
 *    answers; draining") and drain it live (migrator/drain.h);
 *  - it does not: disable and force it down, run evacuator.fence_command;
 *    only after a confirmed fence and only in mode "rebuild", rebuild its
 *    guests elsewhere (rebuild.h).  A fence that fails, or none configured:
 *    nothing is rebuilt, an alarm is raised, the next sweep tries again.
 * A host whose latest evacuation is finished and that is still disabled is
 * left alone: it is evacuated, until an operator enables it. */
#ifndef DV_EVAC_SWEEP_H
#define DV_EVAC_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "evacuator/evac_metrics.h"
#include "evacuator/gates.h"
#include "store/store.h"

typedef struct dv_sweeper {
    const dv_config *cfg;
    dv_sg *sg;
    dv_store *store;
    dv_store *claims;              /* the scheduler's claims (the state store) */
    const dv_evac_metrics *em;     /* NULL: no metrics */
    const char *holder;            /* this controller, as the lease names it */
    int64_t epoch;                 /* the lease's, for every write; 0 = unfenced (CLI --force) */
    /* called between long steps and on every sample of a drain's
     * migrations, from the drain's threads too: it must be thread-safe (the
     * watchdog, the lease renewal); may be NULL */
    void (*tick)(void *arg);
    void *tick_arg;
    /* the host an operator asked for (drover host evacuate): acted on
     * whatever the gates say when force, else only as the gates allow */
    const char *only_host;
    bool force;
    bool force_rebuild;            /* --rebuild: rebuild even in mode "live" */

    dv_gates gates;
    dv_gate_params params;
    dv_gate_decision dec;
    char **last_hosts;             /* the members of the last sweep (UNKNOWN when unreadable) */
    size_t n_last;
    size_t acted;                  /* hosts acted on, over the sweeper's life */
} dv_sweeper;

/* What one sweep did. */
typedef struct dv_sweep_result {
    size_t members, down, unknown;
    size_t acted;                  /* hosts acted on this sweep */
    bool breaker_open;
    bool backend_error;            /* the members could not be read: nothing was done */
} dv_sweep_result;

/* 0 while this sweeper holds the evacuator lease at its epoch (or runs
 * unfenced, epoch 0); else DROVER_ERR_CONFLICT (stale epoch).  Checked
 * before each action the store cannot refuse -- an admin write to the
 * liveness backend, a fence command, a drain, a guest's
 * start -- since libvirt and the fence cannot check an epoch: a controller
 * stopped past its lease must not act on what it saw before. */
int dv_sweeper_holds(const dv_sweeper *s, drover_error *err);

int dv_sweeper_init(dv_sweeper *s, const dv_config *cfg, dv_sg *sg, dv_store *store,
                    dv_store *claims, drover_error *err);
void dv_sweeper_fini(dv_sweeper *s);

/* One sweep at now (dv_mono_ms for the gates).  -1 only when the sweep
 * could not decide at all (err says why); a host whose action failed is
 * logged, journaled and retried on the next sweep. */
int dv_sweep(dv_sweeper *s, dv_sweep_result *res, drover_error *err);

#endif
