/* rebuild.h - guests of a fenced host started elsewhere (mode "rebuild").
 *
 * Only for an evacuation whose fence was confirmed.  One host-state
 * snapshot per call (the members, their last reports, the claims), then per
 * guest not settled yet:
 *  - never two copies: every member's libvirt (the fenced ones aside) is
 *    asked what it runs first; a guest found running somewhere is settled
 *    as being there (a controller that died after starting it); when a
 *    member that is not fenced does not answer, nothing is started (it could
 *    run a copy) and the next sweep asks again;
 *  - its definition from agent.definitions_dir (none: failed, alarm);
 *  - a destination from the scheduler (the fenced host excluded: it is DOWN
 *    and disabled), with a memory claim, the snapshot's claimed memory
 *    raised between placements so a burst cannot overcommit a host; none:
 *    unplaced (alarm), retried on the next sweep;
 *  - defined and started there; a host that refuses keeps the guest: the
 *    guest stays bound to it (a start that timed out may have worked) and is
 *    started there on a later sweep, never elsewhere.
 * The journal is written after each guest.  The evacuation is done when
 * every guest is rebuilt or failed; the claims are released once the
 * destination reports the guest (dv_rebuild_release_claims). */
#ifndef DV_EVAC_REBUILD_H
#define DV_EVAC_REBUILD_H

#include "evacuator/journal.h"
#include "evacuator/sweep.h"

int dv_rebuild(dv_sweeper *s, dv_evac *e, const char *const *fenced, size_t n_fenced,
               drover_error *err);

/* Release the claims of e's rebuilt guests that their destination now
 * reports (members with reports); writes e when one was released. */
int dv_rebuild_release_claims(dv_sweeper *s, dv_evac *e, const drover_member *m, size_t n,
                              drover_error *err);

/* Raise an alarm: log, alert_command, never fatal. */
void dv_evac_alarm(dv_sweeper *s, int kind, const char *host, const char *guest,
                   const char *fmt, ...) DV_PRINTF(5, 6);

#endif
