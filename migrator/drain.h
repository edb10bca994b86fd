/* drain.h - empty a host for maintenance: disable it (reason "drain") in
 * the service group, so the scheduler sends nothing there, then
 * live-migrate every running or paused guest it has to hosts the scheduler
 * picks, migration.max_concurrent at a time (the migrator's queue enforces
 * the same limit across processes).
 *
 * The guests are listed from the host's own libvirt (the controller's URI
 * for it); only when that libvirt does not answer, from the host's last
 * report.  A host whose agent died (member DOWN) is drained all the same
 * when its libvirt answers directly: the migrator's "source is UP" check
 * is waived for a drain (dv_migrate_opts.allow_source_down).  A guest the
 * scheduler cannot place is left where it is, with the scheduler's reason.
 * The host is empty when its libvirt, asked again at the end, runs no
 * guest any more. */
#ifndef DV_MIG_DRAIN_H
#define DV_MIG_DRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "migrator/migrate.h"
#include "migrator/record.h"

typedef struct dv_drain_item {
    char instance[DV_NAME_MAX + 1];
    char uuid[40];
    char state[16];            /* "running" or "paused" when the drain began */
    uint64_t memory_mib;       /* its memory, as listed */
    bool moved;                /* the record is completed: it runs elsewhere now */
    bool started;              /* a migration record was made */
    dv_mig_record rec;         /* the migration's record (rec.id 0: none) */
    drover_error err;          /* when no migration could start: why (the
                                * scheduler's reason for NO_VALID_HOST) */
} dv_drain_item;

struct dv_drain_result;

typedef struct dv_drain_opts {
    const char *host;
    const char *policy;        /* NULL: migration.policy */
    int bandwidth_mib;         /* < 0: migration.bandwidth_mib */
    /* Called (serialized, from the drain's worker threads) when a guest's
     * migration starts (ev->kind DV_MIG_EV_STARTED) and when the guest is
     * settled (ev NULL); may be NULL. */
    void (*progress)(void *arg, const dv_drain_item *it, const dv_mig_event *ev);
    /* Called once the guests are listed (res->n, source_up, from_libvirt
     * are set), before any migration; may be NULL. */
    void (*listed)(void *arg, const struct dv_drain_result *res);
    /* Called on every event of every migration, each sample included (from
     * the worker threads, not serialized); may be NULL.  For a caller that
     * must show it is alive while a long drain runs: a watchdog, a lease. */
    void (*tick)(void *arg);
    void *arg;
} dv_drain_opts;

typedef struct dv_drain_result {
    const char *host;          /* o->host */
    dv_drain_item *items;
    size_t n;
    bool source_up;            /* the host's agent was heartbeating */
    bool from_libvirt;         /* the guests came from its libvirt (else its report) */
    bool empty;                /* no running or paused guest is left on it */
    size_t remaining;          /* guests still running or paused there at the end */
} dv_drain_result;

/* Drain o->host.  0 with *res filled (res->empty says whether it worked);
 * -1 with err when nothing could be done (no such host, the group or the
 * state db unreachable, the host's libvirt and report both unusable). */
int dv_drain(const dv_config *cfg, const dv_drain_opts *o, dv_drain_result *res,
             drover_error *err);
void dv_drain_result_clear(dv_drain_result *res);

#endif
