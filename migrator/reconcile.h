/* reconcile.h - settle the migrations whose owner is gone, from what
 * libvirt says on both hosts, never from what the record guesses.
 *
 * An orphan is a record in queued, preparing, running or post-copy whose
 * owner no longer lives (dv_mig_owner_alive: on this machine its pid is
 * gone or belongs to another process; elsewhere its heartbeat is older than
 * dv_mig_stale_ms).  For each orphan, in id order:
 *  - the source still runs a job for the guest -> the reconciler takes the
 *    record over (owner = this process) and watches the job to its end
 *    (opts.watch), then settles it like the cases below; when the job
 *    cannot be watched (no watching asked, or the source stops answering),
 *    the record stays running and its message says so;
 *  - the guest runs on the destination only, persistent there -> completed
 *    (a leftover inactive definition on the source is undefined);
 *  - the guest runs on the source only -> failed (anything with its UUID on
 *    the destination is destroyed and undefined); from post-copy -> error
 *    (nothing is destroyed after a switch-over);
 *  - a host that cannot be asked (not in the group, libvirt unreachable) ->
 *    left as it is, and the result says why;
 *  - anything else (on both, on neither) -> error, with the facts.
 * A record already in error whose owner is gone (it could not tell where
 * the guest went: a libvirt did not answer) is settled only when the guest
 * is whole in one place: running on the destination and absent from the
 * source -> completed; running on the source and absent from the
 * destination -> failed.  Nothing is destroyed for it; any other picture
 * leaves it in error for an operator.
 * The claim the record held is released once it is settled.  The
 * controller calls dv_mig_reconcile on a schedule; `drover migration
 * reconcile` calls it once. */
#ifndef DV_MIG_RECONCILE_H
#define DV_MIG_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "migrator/record.h"

/* Whether r is an orphan (an active state or error, its owner gone). */
bool dv_mig_is_orphan(const dv_mig_record *r, const dv_mig_owner *self, int64_t now_ms,
                      int64_t stale_ms);

typedef enum dv_mig_settled {
    DV_REC_SETTLED = 0,        /* the record reached a final state (or error) */
    DV_REC_WATCHED,            /* a job was still running: watched to its end, then settled */
    DV_REC_LEFT                /* left as it was: a host could not be asked, or the job
                                * is still running (not watched / watch gave up) */
} dv_mig_settled;

typedef struct dv_mig_reconciled {
    dv_mig_record rec;         /* the record as it is now */
    dv_mig_state was;          /* its state before */
    dv_mig_settled how;
    char facts[DV_MIG_MSG_MAX];   /* what both libvirts said and what was done */
} dv_mig_reconciled;

typedef struct dv_mig_reconcile_opts {
    int64_t only_id;           /* 0: every orphan; else only this record (if orphaned) */
    bool watch;                /* watch a running job to its end (else leave it) */
    int64_t watch_timeout_ms;  /* give up watching after this long (<= 0: 30 min) */
    /* called as each record is settled (from the caller's thread); may be NULL */
    void (*progress)(void *arg, const dv_mig_reconciled *r);
    void *arg;
} dv_mig_reconcile_opts;

/* Reconcile the orphans.  0 with *out (malloc'd, *n entries, free()) the
 * records looked at -- an empty list when there were none; -1 with err
 * when the state db or the group cannot be read (nothing was changed). */
int dv_mig_reconcile(const dv_config *cfg, const dv_mig_reconcile_opts *o,
                     dv_mig_reconciled **out, size_t *n, drover_error *err);

const char *dv_mig_settled_name(dv_mig_settled how);

#endif
