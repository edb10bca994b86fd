/* vops.c - the migrator's libvirt calls under the deadline runner (see vops.h). */
#include "migrator/vops.h"
#include "migrator/jobstats.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long ull(virTypedParameterPtr p, int n, const char *name)
{
    unsigned long long v = 0;
    return virTypedParamsGetULLong(p, n, name, &v) == 1 ? v : 0;
}

void dv_mig_stats_from_params(virTypedParameterPtr p, int n, dv_mig_stats *s)
{
    s->data_total = ull(p, n, VIR_DOMAIN_JOB_DATA_TOTAL);
    s->data_processed = ull(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
    s->data_remaining = ull(p, n, VIR_DOMAIN_JOB_DATA_REMAINING);
    s->mem_total = ull(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
    s->mem_processed = ull(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
    s->mem_remaining = ull(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
    s->mem_bps = ull(p, n, VIR_DOMAIN_JOB_MEMORY_BPS);
    s->mem_dirty_rate = ull(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
    s->mem_page_size = ull(p, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
    s->mem_iteration = ull(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
    s->mem_postcopy_reqs = ull(p, n, VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS);
}

static int jobstats(virDomainPtr d, dv_vop *op, unsigned flags)
{
    virTypedParameterPtr p = NULL;
    int n = 0;
    dv_mig_stats *s = &op->stats;

    if (virDomainGetJobStats(d, &op->job_type, &p, &n, flags) < 0)
        return -1;
    if (flags & VIR_DOMAIN_JOB_STATS_COMPLETED) {
        unsigned long long v;
        op->downtime_ms = virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1
                              ? (int64_t)v : -1;
        op->total_ms = virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1
                           ? (int64_t)v : -1;
    } else {
        dv_mig_stats_from_params(p, n, s);
    }
    virTypedParamsFree(p, n);
    return 0;
}

static int state_of(virDomainPtr d, dv_vop *op)
{
    if (virDomainGetState(d, &op->state, &op->reason, 0) < 0)
        return -1;
    op->persistent = virDomainIsPersistent(d) == 1;
    return 0;
}

static int remove_dom(virDomainPtr d, dv_vop *op)
{
    if (state_of(d, op) < 0)
        return -1;
    if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0)
        return -1;
    if (op->persistent && virDomainUndefine(d) < 0)
        return -1;
    return 0;
}

static int resume_if_paused(virDomainPtr d, dv_vop *op)
{
    if (state_of(d, op) < 0)
        return -1;
    return op->state == VIR_DOMAIN_PAUSED ? virDomainResume(d) : 0;
}

static int xml_of(virDomainPtr d, dv_vop *op)
{
    if (!(op->xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_MIGRATABLE)))
        return -1;
    /* a persistent guest keeps its inactive definition */
    if (virDomainIsPersistent(d) == 1)
        op->pxml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_INACTIVE);
    return 0;
}

static int events_on(virConnectPtr c, virDomainPtr d, dv_vop *op)
{
    static const int ids[3] = { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                VIR_DOMAIN_EVENT_ID_LIFECYCLE };
    virConnectDomainEventGenericCallback cb[3] = { op->ev.job_completed, op->ev.iteration,
                                                   op->ev.lifecycle };
    int bad = 0;

    for (int i = 0; i < 3; i++)
        if ((op->ev.ids[i] = virConnectDomainEventRegisterAny(c, d, ids[i], cb[i],
                                                              op->ev.opaque, NULL)) < 0)
            bad = -1;
    return bad;
}

static int on_domain(virConnectPtr c, virDomainPtr d, dv_vop *op)
{
    switch (op->kind) {
    case DV_VOP_STATE: return state_of(d, op);
    case DV_VOP_JOBSTATS: return jobstats(d, op, 0);
    case DV_VOP_COMPLETED_STATS: return jobstats(d, op, VIR_DOMAIN_JOB_STATS_COMPLETED);
    case DV_VOP_GET_DOWNTIME: return virDomainMigrateGetMaxDowntime(d, &op->value, 0);
    case DV_VOP_SET_DOWNTIME: return virDomainMigrateSetMaxDowntime(d, op->value, 0);
    case DV_VOP_POSTCOPY: return virDomainMigrateStartPostCopy(d, 0);
    case DV_VOP_SUSPEND: return virDomainSuspend(d);
    case DV_VOP_RESUME_IF_PAUSED: return resume_if_paused(d, op);
    case DV_VOP_ABORT: return virDomainAbortJob(d);
    case DV_VOP_PAUSE_POSTCOPY: return virDomainAbortJobFlags(d, VIR_DOMAIN_ABORT_JOB_POSTCOPY);
    case DV_VOP_REMOVE: return remove_dom(d, op);
    case DV_VOP_XML: return xml_of(d, op);
    case DV_VOP_EVENTS_ON: return events_on(c, d, op);
    case DV_VOP_EVENTS_OFF: break;
    }
    return 0;
}

static int vop_fn(dv_virt *v, void *arg, drover_error *err)
{
    dv_vop *op = arg;
    virConnectPtr c = dv_virt_conn(v);
    virDomainPtr d;
    int rc;

    if (op->kind == DV_VOP_EVENTS_OFF) {
        for (int i = 0; i < 3; i++)
            if (op->ev.ids[i] >= 0)
                virConnectDomainEventDeregisterAny(c, op->ev.ids[i]);
        return 0;
    }
    op->state = -1;
    if (!(d = virDomainLookupByUUIDString(c, op->uuid))) {
        if (op->kind == DV_VOP_STATE && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            return 0;
        }
        return dv_virt_error(err, dv_virt_uri(v), "virDomainLookupByUUIDString");
    }
    rc = on_domain(c, d, op);
    virDomainFree(d);
    if (rc < 0)
        return dv_virt_error(err, dv_virt_uri(v), "the migrator's call");
    virResetLastError();
    return 0;
}

static void vop_release(void *arg)
{
    dv_vop *op = arg;
    free(op->xml);
    free(op->pxml);
    free(op);
}

int dv_vop_run(dv_virt *v, int timeout_ms, dv_vop *op, drover_error *err)
{
    dv_vop *h = malloc(sizeof *h);
    dv_call_status st;
    int rc;

    if (!h)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    *h = *op;
    h->xml = h->pxml = NULL;
    rc = dv_virt_call_wake(v, timeout_ms, -1, vop_fn, h, vop_release, &st, err);
    if (st == DV_CALL_TIMEOUT || st == DV_CALL_WOKEN)
        return -1;             /* h is the worker's now; it frees it */
    *op = *h;
    free(h);
    return rc;
}

void dv_vop_init(dv_vop *op, dv_vop_kind kind, const char *uuid)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    snprintf(op->uuid, sizeof op->uuid, "%s", uuid);
}

int dv_vop_simple(dv_virt *v, int timeout_ms, dv_vop_kind kind, const char *uuid,
                  unsigned long long value, drover_error *err)
{
    dv_vop op;

    dv_vop_init(&op, kind, uuid);
    op.value = value;
    return dv_vop_run(v, timeout_ms, &op, err);
}

int dv_vop_state(dv_virt *v, int timeout_ms, const char *uuid, bool *persistent, bool *known)
{
    dv_vop op;
    bool k;

    dv_vop_init(&op, DV_VOP_STATE, uuid);
    k = v && dv_vop_run(v, timeout_ms, &op, NULL) == 0;
    if (known)
        *known = k;
    *persistent = k && op.persistent;
    return k ? op.state : -1;
}
