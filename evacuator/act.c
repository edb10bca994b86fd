/* act.c - one host's evacuation, step by step.  See act.h. */
#include "evacuator/act.h"
#include "core/clock.h"
#include "core/log.h"
#include "evacuator/alert.h"
#include "evacuator/channel.h"
#include "evacuator/fence.h"
#include "evacuator/rebuild.h"
#include "migrator/drain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool live_guest(const drover_instance *in)
{
    return in->state && (strcmp(in->state, "running") == 0 || strcmp(in->state, "paused") == 0);
}

/* The open evacuation of m's host, or a new one (journaled: detected, gated). */
static dv_evac *begin(dv_sweeper *s, const drover_member *m, const dv_gate_candidate *c,
                      dv_evac **ev, size_t *nev, drover_error *err)
{
    dv_evac *e = dv_evac_latest(*ev, *nev, m->host), *v;

    if (e && !e->done)
        return e;
    /* evacuated; an operator enables it again -- and a fenced host stays
     * handled while it is forced down, even once enabled: enabling it before
     * lifting the force-down must not start a new evacuation of it */
    if (e && e->done && (m->disabled || (e->fenced && m->forced_down)) && !s->force)
        return NULL;
    if (!(v = realloc(*ev, (*nev + 1) * sizeof *v))) {
        dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
        return NULL;
    }
    *ev = v;
    e = &v[*nev];
    if (dv_evac_new(e, m->host, dv_wall_ms(), err) < 0)
        return NULL;
    (*nev)++;
    for (size_t i = 0; m->report && i < m->report->n_instances; i++) {
        const drover_instance *in = &m->report->instances[i];
        if (live_guest(in) && in->uuid &&
            dv_evac_add_guest(e, in->uuid, in->name, in->memory_mib, in->state, err) < 0)
            return NULL;
    }
    dv_evac_step_add(e, s->epoch, "detected", "host %s is DOWN (last heartbeat %lld ms ago); "
                     "%zu guests in its last report", m->host,
                     m->last_seen_ms ? (long long)(dv_wall_ms() - m->last_seen_ms) : -1LL,
                     e->n_guests);
    dv_evac_step_add(e, s->epoch, "gated", "%s%s", s->force ? "forced by an operator; " : "",
                     c->why);
    if (dv_evac_put(s->store, e, s->epoch, err) < 0)
        return NULL;
    return e;
}

static int disable(dv_sweeper *s, const char *host, const char *reason, bool force_down,
                   drover_error *err)
{
    const char *g = s->cfg->agent.group;
    if (dv_sg_set_disabled(s->sg, g, host, true, reason, err) < 0 ||
        (force_down && dv_sg_set_forced_down(s->sg, g, host, true, err) < 0))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the drain */

/* from the drain's threads, on every sample: the tick must allow it */
static void drain_tick(void *arg)
{
    dv_sweeper *s = arg;
    if (s->tick)
        s->tick(s->tick_arg);
}

static dv_evac_guest *guest_of(dv_evac *e, const char *uuid, const char *name, drover_error *err)
{
    for (size_t i = 0; i < e->n_guests; i++)
        if (strcasecmp(e->guests[i].uuid, uuid) == 0)
            return &e->guests[i];
    if (dv_evac_add_guest(e, uuid, name, 0, "running", err) < 0)
        return NULL;
    return &e->guests[e->n_guests - 1];
}

static void drain_items(dv_sweeper *s, dv_evac *e, const dv_drain_result *r, drover_error *err)
{
    for (size_t i = 0; i < r->n; i++) {
        const dv_drain_item *it = &r->items[i];
        dv_evac_guest *g = guest_of(e, it->uuid, it->instance, err);
        if (!g)
            return;
        if (it->rec.id)
            dv_evac_metrics_migration(s->em, dv_mig_state_name(it->rec.state),
                                      it->rec.ended_ms > it->rec.started_ms && it->rec.started_ms
                                          ? (double)(it->rec.ended_ms - it->rec.started_ms) / 1e3
                                          : 0.0);
        if (it->moved) {
            snprintf(g->outcome, sizeof g->outcome, "migrated");
            snprintf(g->dest, sizeof g->dest, "%s", it->rec.destination);
            dv_evac_step_add(e, s->epoch, "migrated", "guest %s (%s) migrated live to %s",
                             it->instance, it->uuid, it->rec.destination);
            dv_evac_metrics_guest(s->em, "migrated");
            continue;
        }
        snprintf(g->outcome, sizeof g->outcome, "%s", it->started ? "failed" : "unplaced");
        snprintf(g->why, sizeof g->why, "%.500s", it->started ? it->rec.message : it->err.message);
        dv_evac_step_add(e, s->epoch, g->outcome, "guest %s (%s): %s; retried on the next sweep",
                         it->instance, it->uuid, g->why);
        dv_evac_metrics_guest(s->em, g->outcome);
        dv_evac_alarm(s, DV_ALERT_GUEST_UNPLACED, e->host, it->uuid,
                      "guest %s (%s) could not be moved off %s: %s", it->instance, it->uuid,
                      e->host, g->why);
    }
}

static int drain(dv_sweeper *s, dv_evac *e, drover_error *err)
{
    dv_drain_opts o = { .host = e->host, .bandwidth_mib = -1, .tick = drain_tick, .arg = s };
    dv_drain_result r;
    drover_error de;

    if (dv_sweeper_holds(s, err) < 0)
        return -1;
    if (strcmp(e->path, "drain") != 0) {
        if (disable(s, e->host, DV_EVAC_REASON_DRAIN, false, err) < 0)
            return -1;
        snprintf(e->path, sizeof e->path, "drain");
        snprintf(e->state, sizeof e->state, "draining");
        dv_evac_step_add(e, s->epoch, "disabled", "its libvirt answers: disabled (\"%s\"), "
                         "draining live", DV_EVAC_REASON_DRAIN);
        if (dv_evac_put(s->store, e, s->epoch, err) < 0)
            return -1;
    }
    memset(&r, 0, sizeof r);
    if (dv_drain(s->cfg, &o, &r, &de) < 0) {
        dv_evac_step_add(e, s->epoch, "drain-failed", "%s; retried on the next sweep",
                         de.message);
        dv_drain_result_clear(&r);
        return dv_evac_put(s->store, e, s->epoch, err);
    }
    drain_items(s, e, &r, err);
    /* the drain disables with its own reason; the evacuator's says why */
    if (dv_sweeper_holds(s, err) < 0) {
        dv_drain_result_clear(&r);
        return -1;
    }
    if (disable(s, e->host, DV_EVAC_REASON_DRAIN, false, &de) < 0)
        dv_log(DV_LOG_WARNING, "%s: %s", e->host, de.message);
    if (r.empty) {
        e->done = true;
        snprintf(e->state, sizeof e->state, "drained");
        dv_evac_step_add(e, s->epoch, "drained", "host %s runs no guest any more", e->host);
        dv_evac_metrics_evacuation(s->em, "drained");
    } else {
        dv_evac_step_add(e, s->epoch, "drain-incomplete", "%zu guests still run on %s; "
                         "retried on the next sweep", r.remaining, e->host);
    }
    dv_drain_result_clear(&r);
    return dv_evac_put(s->store, e, s->epoch, err);
}

/* ---------------------------------------------------------------- the fence */

static bool last_step_is(const dv_evac *e, const char *step)
{
    return e->n_steps && strcmp(e->steps[e->n_steps - 1].step, step) == 0;
}

static int fence_failed(dv_sweeper *s, dv_evac *e, const char *why, drover_error *err)
{
    bool again = last_step_is(e, "fence-failed");

    dv_evac_step_add(e, s->epoch, "fence-failed", "%s: nothing is rebuilt; the next sweep "
                     "tries again", why);
    dv_evac_metrics_fence(s->em, false);
    if (!again)
        dv_evac_alarm(s, DV_ALERT_FENCE_FAILED, e->host, NULL, "fencing %s failed: %s", e->host,
                      why);
    return dv_evac_put(s->store, e, s->epoch, err);
}

static int fence(dv_sweeper *s, dv_evac *e, const dv_probe *p, drover_error *err)
{
    const dv_config *c = s->cfg;
    dv_fence_result fr;
    drover_error fe;
    int rc;

    if (dv_sweeper_holds(s, err) < 0)
        return -1;
    if (strcmp(e->path, "rebuild") != 0) {
        if (disable(s, e->host, DV_EVAC_REASON_FENCE, true, err) < 0)
            return -1;
        snprintf(e->path, sizeof e->path, "rebuild");
        snprintf(e->state, sizeof e->state, "fencing");
        dv_evac_step_add(e, s->epoch, "disabled", "its libvirt does not answer (%s): disabled "
                         "and forced down", p->err.message);
        if (dv_evac_put(s->store, e, s->epoch, err) < 0)
            return -1;
    }
    if (c->evacuator.fence_command.n == 0)
        return fence_failed(s, e, "no evacuator.fence_command is configured", err);
    if (dv_sweeper_holds(s, err) < 0)
        return -1;
    memset(&fr, 0, sizeof fr);
    /* the lease is renewed while it runs: fence_timeout_s may outlast it */
    rc = dv_fence_host_ticking(&c->evacuator.fence_command, e->host,
                               (int64_t)c->evacuator.fence_timeout_s * 1000, s->tick, s->tick_arg,
                               &fr, &fe);
    dv_fence_result_free(&fr);
    if (rc < 0)
        return fence_failed(s, e, fe.message, err);
    e->fenced = true;
    snprintf(e->state, sizeof e->state, "fenced");
    dv_evac_step_add(e, s->epoch, "fenced", "the fence command confirmed %s is off", e->host);
    dv_evac_metrics_fence(s->em, true);
    return dv_evac_put(s->store, e, s->epoch, err);
}

static int after_fence(dv_sweeper *s, dv_evac *e, const char *const *fenced, size_t nf,
                       drover_error *err)
{
    const char *const self[] = { e->host };
    const char **all;
    int rc;

    if (strcmp(s->cfg->evacuator.mode, "rebuild") != 0 && !s->force_rebuild) {
        e->done = true;
        dv_evac_step_add(e, s->epoch, "fenced", "mode \"%s\": its guests are not rebuilt "
                         "elsewhere", s->cfg->evacuator.mode);
        dv_evac_metrics_evacuation(s->em, "fenced");
        return dv_evac_put(s->store, e, s->epoch, err);
    }
    if (!(all = calloc(nf + 2, sizeof *all)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (nf)
        memcpy(all, fenced, nf * sizeof *all);
    all[nf] = self[0];
    rc = dv_rebuild(s, e, all, nf + 1, err);
    free(all);
    return rc;
}

int dv_evac_act(dv_sweeper *s, const drover_member *m, const dv_gate_candidate *c, dv_evac **ev,
                size_t *nev, const char *const *fenced, size_t n_fenced, drover_error *err)
{
    dv_evac *e;
    dv_probe p;
    int rc;

    dv_err_clear(err);
    if (!(e = begin(s, m, c, ev, nev, err)))
        return err->code ? -1 : 0;
    if (e->fenced)
        return after_fence(s, e, fenced, n_fenced, err);
    dv_probe_host(s->cfg, m->host, m->report, &p);
    if (p.answered && strcmp(e->path, "rebuild") != 0)
        rc = drain(s, e, err);
    else if ((rc = fence(s, e, &p, err)) == 0 && e->fenced)
        rc = after_fence(s, e, fenced, n_fenced, err);
    dv_probe_clear(&p);
    return rc;
}
