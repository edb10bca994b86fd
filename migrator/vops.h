/* vops.h - the migrator's questions and orders to a host's libvirt, each
 * run by the virt layer's deadline runner (dv_virt_call), so a hung
 * libvirtd costs controller.libvirt_timeout_ms, never the whole migration.
 * Every op names the guest by UUID and looks it up inside the call (no
 * virDomainPtr crosses threads).  Private to migrator/. */
#ifndef DV_MIG_VOPS_H
#define DV_MIG_VOPS_H

#include <stdbool.h>

#include "migrator/policy.h"
#include "virt/virt.h"

typedef enum dv_vop_kind {
    DV_VOP_STATE = 0,          /* out: state (-1 absent), persistent */
    DV_VOP_JOBSTATS,           /* out: stats, job_type */
    DV_VOP_COMPLETED_STATS,    /* out: downtime_ms, total_ms (-1 unknown) */
    DV_VOP_GET_DOWNTIME,       /* out: value */
    DV_VOP_SET_DOWNTIME,       /* in: value */
    DV_VOP_POSTCOPY,
    DV_VOP_SUSPEND,
    DV_VOP_RESUME_IF_PAUSED,
    DV_VOP_ABORT,
    DV_VOP_PAUSE_POSTCOPY,     /* virDomainAbortJobFlags(POSTCOPY): QEMU's migrate-pause */
    DV_VOP_REMOVE,             /* destroy if active, undefine if persistent; out: state before */
    DV_VOP_XML,                /* out: xml (migratable), pxml (inactive migratable or NULL) */
    DV_VOP_EVENTS_ON,          /* in: events (the callbacks and their opaque); out: ids */
    DV_VOP_EVENTS_OFF          /* in: ids */
} dv_vop_kind;

typedef struct dv_vop_events {
    virConnectDomainEventGenericCallback job_completed, iteration, lifecycle;
    void *opaque;
    int ids[3];
} dv_vop_events;

typedef struct dv_vop {
    dv_vop_kind kind;
    char uuid[40];                 /* as the record holds it */
    unsigned long long value;
    /* out */
    int state;
    int reason;                    /* of the state (virDomainPausedReason, ...) */
    bool persistent;
    int job_type;
    dv_mig_stats stats;
    int64_t downtime_ms, total_ms;
    char *xml, *pxml;
    dv_vop_events ev;
} dv_vop;

/* Make op a fresh op of kind on the guest uuid (nothing else set). */
void dv_vop_init(dv_vop *op, dv_vop_kind kind, const char *uuid);

/* Run op on v within timeout_ms.  0, or -1 with err (libvirt's refusal, a
 * timeout, or an earlier call still stuck).  DV_VOP_STATE of an absent guest
 * is no error (state -1).  Free xml / pxml of a DV_VOP_XML with free(). */
int dv_vop_run(dv_virt *v, int timeout_ms, dv_vop *op, drover_error *err);

/* Shorthands. */
int dv_vop_simple(dv_virt *v, int timeout_ms, dv_vop_kind kind, const char *uuid,
                  unsigned long long value, drover_error *err);
/* -1 absent or unknown (libvirt unreachable: *known false), else a virDomainState. */
int dv_vop_state(dv_virt *v, int timeout_ms, const char *uuid, bool *persistent, bool *known);

#endif
