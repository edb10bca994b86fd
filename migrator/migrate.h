/* migrate.h - one live migration, run, watched and steered to its end.
 *
 * dv_migrate is the whole of Nova's live-migration path in one call, for
 * the CLI (`drover migrate`), the drain and the library:
 *  1. pre-checks from the hosts' last reports (the instance runs or is
 *     paused, its source is UP, a named destination is another host, UP,
 *     enabled, and fits) -- a failure here starts nothing and leaves no
 *     record and no claim;
 *  2. a record, queued until the source has a free slot
 *     (migration.max_concurrent across every process sharing the state db);
 *  3. the destination from the scheduler's loop, its memory claimed;
 *  4. virDomainMigrateToURI3 in its own thread to the destination's
 *     reported migration_uri, with Nova's flags and parameters;
 *  5. the monitor (monitor.c): libvirt's events and a job-stats sample
 *     every poll_interval_ms; each sample goes to the record, the progress
 *     callback and the policy, whose actions are carried out;
 *  6. the outcome (outcome.c), verified on both libvirts: completed (on the
 *     destination only, persistent there), failed / cancelled (still on the
 *     source, nothing left on the destination), or error (post-copy broke:
 *     the record says where the guest is and what to do).  The claim is
 *     released in every case.
 */
#ifndef DV_MIG_MIGRATE_H
#define DV_MIG_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "migrator/record.h"

typedef enum dv_mig_event_kind {
    DV_MIG_EV_QUEUED = 0,      /* waiting for a slot; ahead / blocker say behind whom */
    DV_MIG_EV_STARTED,         /* the destination is chosen and the copy begins */
    DV_MIG_EV_SAMPLE,          /* a job-stats sample (rec holds it) */
    DV_MIG_EV_ACTION,          /* the policy or an operator acted (rec->action, why) */
    DV_MIG_EV_STATE,           /* the record changed state (post-copy, ...) */
    DV_MIG_EV_DONE             /* the record is final (or error) */
} dv_mig_event_kind;

typedef struct dv_mig_event {
    dv_mig_event_kind kind;
    const dv_mig_record *rec;
    int ahead;                 /* QUEUED */
    int64_t blocker;           /* QUEUED: the oldest record ahead */
} dv_mig_event;

typedef struct dv_migrate_opts {
    const char *instance;      /* name or UUID */
    const char *dest;          /* NULL: the scheduler chooses */
    const char *policy;        /* NULL: migration.policy */
    int bandwidth_mib;         /* < 0: migration.bandwidth_mib; 0 = hypervisor default */
    bool post_copy;            /* permit post-copy even when migration.permit_post_copy is off */
    bool allow_source_down;    /* a drain of a host whose agent died */
    /* The instance as seen_on's own libvirt lists it (a drain): where it
     * runs and its size, whatever the reports say.  NULL: the reports. */
    const drover_instance *seen;
    const char *seen_on;
    /* Called from dv_migrate's own thread for every event; may be NULL. */
    void (*progress)(void *arg, const dv_mig_event *ev);
    /* Polled as often as samples are taken; true = abort now (Ctrl-C).  The
     * guest stays on the source (refused once in post-copy). */
    bool (*cancelled)(void *arg);
    void *arg;
} dv_migrate_opts;

/* Run one migration to its end.
 *   -1: nothing was started: err says why (INVALID, NOT_FOUND,
 *       NO_VALID_HOST: bad request or nowhere to go; CONFIG; UNREACHABLE:
 *       the backend, the state db or a libvirt could not be asked);
 *       *out->id is 0 unless a queued record was made and then given up
 *       (it is then failed/cancelled with the reason).
 *    0: the record reached a final state or error; *out is the record. */
int dv_migrate(const dv_config *cfg, const dv_migrate_opts *o, dv_mig_record *out,
               drover_error *err);

/* How old a heartbeat of another machine's owner may be before its record
 * stops holding a slot. */
int64_t dv_mig_stale_ms(const dv_config *cfg);

/* ---- steering from any process (steer.c), through the source's libvirt */

/* Abort: a queued record is cancelled at once; a running one gets
 * virDomainAbortJob (refused in post-copy: CONFLICT).  The request is
 * recorded; the owning process reports the end. */
int dv_mig_abort(const dv_config *cfg, int64_t id, const char *by, dv_mig_record *out,
                 drover_error *err);
/* Force-complete: post-copy when the job was started with it, else pause the
 * guest so the copy completes.  Recorded likewise. */
int dv_mig_force_complete(const dv_config *cfg, int64_t id, const char *by, dv_mig_record *out,
                          drover_error *err);
/* A record in error after a post-copy failure: try VIR_MIGRATE_POSTCOPY_RESUME.
 * 0: recovered (completed).  -1: err says what libvirt said and where the
 * guest is; the record's message is updated with the same. */
int dv_mig_recover(const dv_config *cfg, int64_t id, dv_mig_record *out, drover_error *err);

/* An id ("42") or an instance (its newest record): the record id. */
int dv_mig_resolve(const dv_config *cfg, const char *key, int64_t *id, drover_error *err);

#endif
