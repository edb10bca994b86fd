/* monitor.c - watch a running migration: libvirt's events (job completed,
 * migration iteration, lifecycle with its post-copy details) wake the
 * monitor at once; between them virDomainGetJobStats is sampled every
 * migration.poll_interval_ms.  Each sample updates the record, goes to the
 * progress callback and to the policy, whose actions are carried out on the
 * source's libvirt and recorded with their reason. */
#include "migrator/run.h"
#include "core/model.h"
#include "core/clock.h"
#include "core/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- events */

static void wake(dv_mig_run *r)
{
    r->kick++;
    pthread_cond_broadcast(&r->cv);
}

static void typed_ms(virTypedParameterPtr p, int n, const char *name, int64_t *out)
{
    unsigned long long v;
    if (virTypedParamsGetULLong(p, n, name, &v) == 1)
        *out = (int64_t)v;
}

static void on_job_completed(virConnectPtr c, virDomainPtr d, virTypedParameterPtr params,
                             int n, void *opaque)
{
    dv_mig_run *r = opaque;
    (void)c;
    (void)d;
    pthread_mutex_lock(&r->mu);
    r->job_completed = true;
    r->job_completed_mono = dv_mono_ms();
    typed_ms(params, n, VIR_DOMAIN_JOB_DOWNTIME, &r->final_downtime_ms);
    typed_ms(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &r->final_total_ms);
    wake(r);
    pthread_mutex_unlock(&r->mu);
}

static void on_iteration(virConnectPtr c, virDomainPtr d, int iteration, void *opaque)
{
    dv_mig_run *r = opaque;
    (void)c;
    (void)d;
    (void)iteration;
    pthread_mutex_lock(&r->mu);
    wake(r);
    pthread_mutex_unlock(&r->mu);
}

static void on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
    dv_mig_run *r = opaque;
    (void)c;
    (void)d;
    pthread_mutex_lock(&r->mu);
    if (event == VIR_DOMAIN_EVENT_SUSPENDED && detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
        r->postcopy = true;
    if (event == VIR_DOMAIN_EVENT_SUSPENDED &&
        detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED)
        r->postcopy = r->postcopy_failed = true;
    wake(r);
    pthread_mutex_unlock(&r->mu);
}

static void register_events(dv_mig_run *r)
{
    dv_vop op;
    drover_error err;

    dv_vop_init(&op, DV_VOP_EVENTS_ON, r->rec.instance_uuid);
    op.ev.job_completed = VIR_DOMAIN_EVENT_CALLBACK(on_job_completed);
    op.ev.iteration = VIR_DOMAIN_EVENT_CALLBACK(on_iteration);
    op.ev.lifecycle = VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle);
    op.ev.opaque = r;
    if (dv_vop_run(r->src, r->tmo, &op, &err) < 0)
        dv_warn("migration %" PRId64 ": libvirt events: %s; polling only", r->rec.id,
                err.message);
    r->ev = op.ev;
}

static void deregister_events(dv_mig_run *r)
{
    dv_vop op;

    memset(&op, 0, sizeof op);
    op.kind = DV_VOP_EVENTS_OFF;
    op.ev = r->ev;
    dv_vop_run(r->src, r->tmo, &op, NULL);
}

/* ---------------------------------------------------------------- the call */

/* virDomainMigrateToURI3 on a connection of its own: the call lasts as long
 * as the migration, and the monitor's calls must not queue behind it. */
static void *call_thread(void *arg)
{
    dv_mig_run *r = arg;
    dv_virt *v = NULL;
    virDomainPtr d = NULL;
    drover_error err;
    int rc = -1;
    char msg[DV_MIG_MSG_MAX] = "";

    if (dv_virt_open(dv_virt_uri(r->src), 0, 5, 3, &v, &err) < 0)
        snprintf(msg, sizeof msg, "%s", err.message);
    else if (!(d = virDomainLookupByUUIDString(dv_virt_conn(v), r->rec.instance_uuid)))
        snprintf(msg, sizeof msg, "%s", dv_virt_last_message());
    else if ((rc = virDomainMigrateToURI3(d, r->dconnuri, r->params, (unsigned)r->n_params,
                                          (unsigned)r->rec.flags)) < 0)
        snprintf(msg, sizeof msg, "%s", dv_virt_last_message());
    if (d)
        virDomainFree(d);
    virResetLastError();
    dv_virt_close(v);
    pthread_mutex_lock(&r->mu);
    r->call_rc = rc;
    snprintf(r->call_msg, sizeof r->call_msg, "%s", msg);
    r->call_done = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---------------------------------------------------------------- samples */

/* One job-stats sample.  false when there is no job (yet, or any more), or
 * the source did not answer in time. */
static bool sample(dv_mig_run *r, dv_mig_stats *s)
{
    dv_vop op;

    dv_vop_init(&op, DV_VOP_JOBSTATS, r->rec.instance_uuid);
    /* "domain is not running" once it left: the call will say how it ended */
    if (dv_vop_run(r->src, r->tmo, &op, NULL) < 0)
        return false;
    *s = op.stats;
    s->elapsed_ms = dv_mono_ms() - r->t0_mono;
    pthread_mutex_lock(&r->mu);
    s->postcopy = r->postcopy;
    pthread_mutex_unlock(&r->mu);
    s->downtime_ms = r->downtime_ms;
    /* the first few hundred ms report a job of type "unbounded" with no figures */
    return op.job_type != VIR_DOMAIN_JOB_NONE && s->data_total > 0;
}

static void to_record(dv_mig_run *r, const dv_mig_stats *s)
{
    dv_mig_record *rec = &r->rec;
    uint64_t page = s->mem_page_size ? s->mem_page_size : 4096;
    drover_error err;

    rec->data_total = s->data_total;
    rec->data_processed = s->data_processed;
    rec->data_remaining = s->data_remaining;
    rec->transfer_bps = s->mem_bps;
    rec->dirty_bps = s->mem_dirty_rate * page;
    rec->iteration = s->mem_iteration;
    rec->downtime_ms = s->downtime_ms;
    rec->stats_ms = dv_wall_ms();
    /* at the net rate the copy gains on the guest; unknown while it does not */
    rec->eta_ms = -1;
    if (s->postcopy && s->mem_bps)
        rec->eta_ms = (int64_t)(s->data_remaining * 1000 / s->mem_bps);
    else if (s->mem_bps > rec->dirty_bps)
        rec->eta_ms = (int64_t)(s->data_remaining * 1000 / (s->mem_bps - rec->dirty_bps));
    if (dv_mig_record_set_stats(r->db, rec, &err) < 0)
        dv_warn("migration %" PRId64 ": %s", rec->id, err.message);
}

static int push_hist(dv_mig_run *r, const dv_mig_stats *s)
{
    if (dv_grow((void **)&r->hist, r->n_hist, &r->cap_hist, sizeof *r->hist) < 0)
        return -1;
    r->hist[r->n_hist++] = *s;
    return 0;
}

/* ---------------------------------------------------------------- actions */

static void record_action(dv_mig_run *r, const char *name, const char *why)
{
    drover_error err;

    snprintf(r->rec.action, sizeof r->rec.action, "%s", name);
    snprintf(r->rec.action_why, sizeof r->rec.action_why, "%s", why);
    r->rec.action_ms = dv_wall_ms();
    dv_info("migration %" PRId64 " of %s: %s: %s", r->rec.id, r->rec.instance_name, name, why);
    if (dv_mig_record_set_action(r->db, &r->rec, &err) < 0)
        dv_warn("migration %" PRId64 ": %s", r->rec.id, err.message);
    dv_mig_emit(r, DV_MIG_EV_ACTION);
}

/* Carry out one action on the source; a refusal is logged with libvirt's
 * words and the migration goes on (the next decision may do better). */
static void carry_out(dv_mig_run *r, const dv_mig_action *a)
{
    const char *u = r->rec.instance_uuid;
    drover_error err;
    char why[DV_MIG_WHY_MAX + DV_MIG_MSG_MAX / 2];
    int rc = 0;

    switch (a->kind) {
    case DV_MIG_ACT_SET_DOWNTIME:
        rc = dv_vop_simple(r->src, r->tmo, DV_VOP_SET_DOWNTIME, u, a->downtime_ms, &err);
        if (rc == 0)
            r->downtime_ms = r->rec.downtime_ms = a->downtime_ms;
        break;
    case DV_MIG_ACT_POSTCOPY:
        rc = dv_vop_simple(r->src, r->tmo, DV_VOP_POSTCOPY, u, 0, &err);
        break;
    case DV_MIG_ACT_PAUSE:
        rc = dv_vop_simple(r->src, r->tmo, DV_VOP_SUSPEND, u, 0, &err);
        if (rc == 0)
            r->we_paused = true;
        break;
    case DV_MIG_ACT_ABORT:
        snprintf(r->abort_why, sizeof r->abort_why, "%s", a->why);
        rc = dv_vop_simple(r->src, r->tmo, DV_VOP_ABORT, u, 0, &err);
        break;
    case DV_MIG_ACT_NONE:
        return;
    }
    if (rc < 0) {
        dv_mig_msgf(why, sizeof why, "%s (not done: %s)", a->why, err.message);
        record_action(r, dv_mig_action_name(a->kind), why);
    } else {
        record_action(r, dv_mig_action_name(a->kind), a->why);
    }
}

static void decide(dv_mig_run *r, const dv_mig_stats *s)
{
    dv_mig_action acts[4];
    size_t n;

    if (push_hist(r, s) < 0)
        return;
    /* once the migration's end is decided (an abort or a force-complete from
     * another process or Ctrl-C, or the guest paused to finish the copy), the
     * policy has nothing left to steer, and its actions would only bury the
     * decision in the record */
    if (r->abort_why[0] || r->rec.request[0] || r->we_paused)
        return;
    n = r->policy->decide(r->pstate, &r->pp, r->hist, r->n_hist, acts, 4);
    for (size_t i = 0; i < n && i < 4; i++)
        carry_out(r, &acts[i]);
}

/* Ctrl-C in the owning process. */
static void check_cancel(dv_mig_run *r)
{
    if (!r->o->cancelled || !r->o->cancelled(r->o->arg) || r->abort_why[0])
        return;
    drover_error err;

    snprintf(r->abort_why, sizeof r->abort_why, "interrupted by the operator (signal)");
    if (dv_vop_simple(r->src, r->tmo, DV_VOP_ABORT, r->rec.instance_uuid, 0, &err) < 0) {
        char why[DV_MIG_WHY_MAX];
        dv_mig_msgf(why, sizeof why, "interrupt: the abort was not done: %s", err.message);
        r->abort_why[0] = '\0';
        record_action(r, "abort", why);
        return;
    }
    record_action(r, "abort", r->abort_why);
}

/* Another process asked (drover migration abort / force-complete) and acted
 * on the source's libvirt itself: say so once, in the record and the log. */
static void check_request(dv_mig_run *r)
{
    char req[24] = "";
    dv_mig_state st;
    dv_mig_record now;
    char why[DV_MIG_WHY_MAX];

    if (dv_mig_record_poll(r->db, r->rec.id, &st, req, sizeof req, NULL) < 0 || !req[0] ||
        strcmp(req, r->rec.request) == 0)
        return;
    if (dv_mig_record_get(r->db, r->rec.id, &now, NULL) < 0)
        return;
    snprintf(r->rec.request, sizeof r->rec.request, "%s", now.request);
    snprintf(r->rec.request_by, sizeof r->rec.request_by, "%s", now.request_by);
    snprintf(why, sizeof why, "requested by `drover migration %s` (%s)", now.request,
             now.request_by);
    if (strcmp(req, "abort") == 0)
        snprintf(r->abort_why, sizeof r->abort_why, "%s", why);
    else if (strcmp(req, "force-complete") == 0 && !(r->rec.flags & VIR_MIGRATE_POSTCOPY))
        r->we_paused = true;   /* the other process suspended the guest */
    record_action(r, req, why);
}

/* Post-copy began: the record says so once (abort is no longer possible). */
static void note_postcopy(dv_mig_run *r)
{
    drover_error err;
    bool pc;

    pthread_mutex_lock(&r->mu);
    pc = r->postcopy;
    pthread_mutex_unlock(&r->mu);
    if (!pc || r->rec.state != DV_MIG_RUNNING)
        return;
    if (dv_mig_record_set_state(r->db, &r->rec, DV_MIG_POSTCOPY, NULL, &err) < 0)
        dv_warn("migration %" PRId64 ": %s", r->rec.id, err.message);
    else
        dv_mig_emit(r, DV_MIG_EV_STATE);
}

/* ---------------------------------------------------------------- the loop */

static void one_tick(dv_mig_run *r)
{
    dv_mig_stats s;

    note_postcopy(r);
    check_cancel(r);
    check_request(r);
    if (!sample(r, &s)) {
        /* no figures (yet, or the source is slow to answer): the owner is
         * still alive all the same */
        dv_mig_record_heartbeat(r->db, r->rec.id, NULL);
        return;
    }
    to_record(r, &s);
    dv_mig_emit(r, DV_MIG_EV_SAMPLE);
    decide(r, &s);
}

static void watch(dv_mig_run *r)
{
    int64_t poll = r->cfg->migration.poll_interval_ms, next = dv_mono_ms() + poll;
    int seen_kick = 0;

    for (;;) {
        struct timespec ts;
        bool done, kicked;

        pthread_mutex_lock(&r->mu);
        dv_deadline_ms(&ts, next - dv_mono_ms() > 0 ? next - dv_mono_ms() : 0);
        while (!r->call_done && r->kick == seen_kick &&
               pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
            ;
        done = r->call_done;
        kicked = r->kick != seen_kick;
        seen_kick = r->kick;
        bool completed = r->job_completed;
        pthread_mutex_unlock(&r->mu);
        if (done)
            return;
        if (completed) {
            /* the call is about to return: no sample races it */
            next = dv_mono_ms() + poll;
            continue;
        }
        if (kicked || dv_mono_ms() >= next) {
            one_tick(r);
            next = dv_mono_ms() + poll;
        }
    }
}

int dv_mig_monitor(dv_mig_run *r, drover_error *err)
{
    pthread_t t;
    dv_vop op;

    for (int i = 0; i < 3; i++)
        r->ev.ids[i] = -1;
    register_events(r);
    r->policy->init(r->pstate, &r->pp);
    r->downtime_ms = (uint64_t)r->cfg->migration.downtime_ms;
    /* the maximum downtime in force until the policy sets one */
    dv_vop_init(&op, DV_VOP_GET_DOWNTIME, r->rec.instance_uuid);
    if (dv_vop_run(r->src, r->tmo, &op, NULL) == 0 && op.value)
        r->downtime_ms = op.value;
    r->t0_mono = dv_mono_ms();
    if (pthread_create(&t, NULL, call_thread, r) != 0) {
        deregister_events(r);
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT,
                      "cannot start the migration thread");
    }
    watch(r);
    pthread_join(t, NULL);
    note_postcopy(r);
    check_request(r);
    deregister_events(r);
    return 0;
}
