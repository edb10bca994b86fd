/* act.h - what the sweep does for one host that passed the gates (act.c):
 * its evacuation found in the journal or begun, the second channel asked,
 * then the drain (libvirt answers) or the fence and the rebuild (it does
 * not).  Idempotent: running it again for the same host continues. */
#ifndef DV_EVAC_ACT_H
#define DV_EVAC_ACT_H

#include "evacuator/journal.h"
#include "evacuator/sweep.h"

#define DV_EVAC_REASON_DRAIN "evacuator: agent down, libvirt answers; draining"
#define DV_EVAC_REASON_FENCE "evacuator: agent down, libvirt does not answer; fenced and evacuated"

/* *ev / *nev: the journal as read this sweep; a new evacuation is added. */
int dv_evac_act(dv_sweeper *s, const drover_member *m, const dv_gate_candidate *c, dv_evac **ev,
                size_t *nev, const char *const *fenced, size_t n_fenced, drover_error *err);

/* The controller's last sweep as the "evacuator/status" record. */
int dv_evac_status_write(dv_sweeper *s, const dv_sweep_result *res, drover_error *err);

#endif
