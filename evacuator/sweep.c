/* sweep.c - one evacuator sweep: observe, gate, act per host.  See sweep.h;
 * the drain and fence steps are in act.c, the rebuild in rebuild.c, the
 * status record in status.c. */
#include "evacuator/sweep.h"
#include "core/clock.h"
#include "core/log.h"
#include "evacuator/act.h"
#include "evacuator/alert.h"
#include "evacuator/journal.h"
#include "evacuator/rebuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dv_sweeper_init(dv_sweeper *s, const dv_config *cfg, dv_sg *sg, dv_store *store,
                    dv_store *claims, drover_error *err)
{
    (void)err;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->sg = sg;
    s->store = store;
    s->claims = claims;
    dv_gates_init(&s->gates);
    dv_gate_decision_init(&s->dec);
    dv_gate_params_from_config(cfg, &s->params);
    return 0;
}

int dv_sweeper_holds(const dv_sweeper *s, drover_error *err)
{
    dv_fence f = { DV_EVAC_LEASE, s->epoch };
    dv_store_lease l;
    int rc = 0;

    if (s->epoch <= 0)
        return 0;
    if (dv_store_lease_get(s->store, DV_EVAC_LEASE, &l, err) < 0) {
        dv_err_prefix(err, "checking the %s lease", DV_EVAC_LEASE);
        return -1;
    }
    if (l.epoch != s->epoch || !l.holder || !*l.holder ||
        (s->holder && strcmp(l.holder, s->holder) != 0))
        rc = dv_store_stale(err, DROVER_FROM_STATE, &f, l.holder, l.epoch);
    dv_store_lease_clear(&l);
    return rc;
}

static void forget_hosts(dv_sweeper *s)
{
    for (size_t i = 0; i < s->n_last; i++)
        free(s->last_hosts[i]);
    free(s->last_hosts);
    s->last_hosts = NULL;
    s->n_last = 0;
}

void dv_sweeper_fini(dv_sweeper *s)
{
    dv_gates_free(&s->gates);
    dv_gate_decision_free(&s->dec);
    forget_hosts(s);
}

static void remember_hosts(dv_sweeper *s, const drover_member *m, size_t n)
{
    forget_hosts(s);
    if (!(s->last_hosts = calloc(n + 1, sizeof *s->last_hosts)))
        return;
    for (size_t i = 0; i < n; i++)
        if ((s->last_hosts[s->n_last] = strdup(m[i].host)))
            s->n_last++;
}

/* The gates over this sweep's members; when the members cannot be read,
 * every host of the last sweep is UNKNOWN (its timer neither runs nor
 * restarts, nothing is acted on). */
static int decide(dv_sweeper *s, const drover_member *m, size_t n, bool readable,
                  drover_error *err)
{
    size_t k = readable ? n : s->n_last;
    dv_gate_obs *obs = calloc(k + 1, sizeof *obs);
    int rc;

    if (!obs)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    for (size_t i = 0; i < k; i++) {
        obs[i].host = readable ? m[i].host : s->last_hosts[i];
        obs[i].state = readable ? m[i].state : DROVER_UNKNOWN;
    }
    rc = dv_evac_decide(&s->gates, &s->params, obs, k, dv_mono_ms(), &s->dec, err);
    free(obs);
    if (rc == 0 && readable)
        remember_hosts(s, m, n);
    return rc;
}

static const drover_member *member_of(const drover_member *m, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].host, host) == 0)
            return &m[i];
    return NULL;
}

/* A controller that finds an evacuation open in the journal carries it on
 * without a new grace or token, while the host is DOWN and the breaker
 * closed (the gates' own rule for admitted hosts). */
static void readmit(dv_sweeper *s, dv_evac *ev, size_t nev)
{
    for (size_t i = 0; i < s->dec.n_cand; i++) {
        dv_gate_candidate *c = &s->dec.cand[i];
        dv_evac *e = dv_evac_latest(ev, nev, c->host);
        drover_error err;
        if (!e || e->done || c->state != DROVER_DOWN || s->dec.breaker_open ||
            c->verdict == DV_GATE_ACT || c->verdict == DV_GATE_CONTINUE)
            continue;
        if (dv_gates_admit(&s->gates, c->host, &err) == 0) {
            c->verdict = DV_GATE_CONTINUE;
            snprintf(c->why, sizeof c->why, "evacuation %.200s is open in the journal: carried on",
                     e->id);
        }
    }
}

/* An admitted host whose latest evacuation is done but that is enabled
 * again (an operator did, while its agent is still down) is evacuated anew:
 * through the rate limit like any host, not carried on without a token. */
static void renew_finished(dv_sweeper *s, dv_evac *ev, size_t nev, const drover_member *m,
                           size_t n)
{
    for (size_t i = 0; i < s->dec.n_cand; i++) {
        dv_gate_candidate *c = &s->dec.cand[i];
        const drover_member *x = member_of(m, n, c->host);
        const dv_evac *e = dv_evac_latest(ev, nev, c->host);
        drover_error err;
        if (c->verdict != DV_GATE_CONTINUE || !e || !e->done || !x || x->disabled ||
            (e->fenced && x->forced_down))
            continue;               /* see begin() in act.c */
        if (dv_gates_renew(&s->gates, &s->params, &s->dec, c->host, &err) < 0)
            dv_log(DV_LOG_WARNING, "%s", err.message);
    }
}

/* Hosts whose fence was confirmed and that are still forced down. */
static char **fenced_hosts(const dv_evac *ev, size_t nev, const drover_member *m, size_t n,
                           size_t *count)
{
    char **v = calloc(nev + 1, sizeof *v);

    *count = 0;
    for (size_t i = 0; v && i < nev; i++) {
        const drover_member *x = member_of(m, n, ev[i].host);
        /* copies: the journal array grows (realloc) while the hosts are acted on */
        if (ev[i].fenced && (!x || x->forced_down) && (v[*count] = strdup(ev[i].host)))
            (*count)++;
    }
    return v;
}

static bool wanted(const dv_sweeper *s, const dv_gate_candidate *c)
{
    if (s->only_host)
        return strcmp(c->host, s->only_host) == 0 &&
               (s->force || c->verdict == DV_GATE_ACT || c->verdict == DV_GATE_CONTINUE);
    return c->verdict == DV_GATE_ACT || c->verdict == DV_GATE_CONTINUE;
}

static void act_one(dv_sweeper *s, const drover_member *x, const dv_gate_candidate *c,
                    dv_evac **ev, size_t *nev, char **fenced, size_t nf, dv_sweep_result *res)
{
    drover_error err;

    if (dv_evac_act(s, x, c, ev, nev, (const char *const *)fenced, nf, &err) < 0)
        dv_log(DV_LOG_ERROR, "evacuation of %s: %s; retried on the next sweep", c->host,
               err.message);
    res->acted++;
    s->acted++;
    if (s->tick)
        s->tick(s->tick_arg);
}

/* An operator's --force on a host the gates do not list (UP, or DOWN too
 * recently to be seen): acted on as it is, the second channel deciding. */
static void act_forced(dv_sweeper *s, drover_member *m, size_t n, dv_evac **ev, size_t *nev,
                       char **fenced, size_t nf, dv_sweep_result *res)
{
    const drover_member *x = member_of(m, n, s->only_host);
    dv_gate_candidate c = { .verdict = DV_GATE_ACT };

    for (size_t i = 0; i < s->dec.n_cand; i++)
        if (strcmp(s->dec.cand[i].host, s->only_host) == 0)
            return;                /* listed: act_all did it */
    if (!x)
        return;
    snprintf(c.host, sizeof c.host, "%s", x->host);
    c.state = x->state;
    snprintf(c.why, sizeof c.why, "%s, not a candidate of the gates: acted on as forced",
             drover_liveness_name(x->state));
    act_one(s, x, &c, ev, nev, fenced, nf, res);
}

static void act_all(dv_sweeper *s, drover_member *m, size_t n, dv_evac **ev, size_t *nev,
                    dv_sweep_result *res)
{
    size_t nf = 0;
    char **fenced = fenced_hosts(*ev, *nev, m, n, &nf);

    for (size_t i = 0; i < s->dec.n_cand; i++) {
        dv_gate_candidate *c = &s->dec.cand[i];
        const drover_member *x = member_of(m, n, c->host);
        if (!x || !wanted(s, c))
            continue;
        if (s->dec.breaker_open && !s->force)
            continue;
        act_one(s, x, c, ev, nev, fenced, nf, res);
    }
    if (s->only_host && s->force)
        act_forced(s, m, n, ev, nev, fenced, nf, res);
    for (size_t i = 0; i < nf; i++)
        free(fenced[i]);
    free(fenced);
}

static void release_claims(dv_sweeper *s, dv_evac *ev, size_t nev, const drover_member *m,
                           size_t n)
{
    for (size_t i = 0; i < nev; i++) {
        drover_error err;
        if (dv_rebuild_release_claims(s, &ev[i], m, n, &err) < 0)
            dv_log(DV_LOG_WARNING, "evacuation %s: claims not released yet: %s", ev[i].id,
                   err.message);
    }
}

static void breaker_alarm(dv_sweeper *s)
{
    if (!s->dec.breaker_changed)
        return;
    dv_evac_alarm(s, s->dec.breaker_open ? DV_ALERT_BREAKER_OPEN : DV_ALERT_BREAKER_CLOSED,
                  NULL, NULL, "%s", s->dec.breaker_why);
}

int dv_sweep(dv_sweeper *s, dv_sweep_result *res, drover_error *err)
{
    int64_t t0 = dv_mono_ms();
    drover_member *m = NULL;
    dv_evac *ev = NULL;
    size_t n = 0, nev = 0;
    drover_error e;
    bool readable;
    int rc = -1;

    memset(res, 0, sizeof *res);
    readable = dv_sg_get_all(s->sg, s->cfg->agent.group, &m, &n, &e) == 0;
    if (!readable) {
        dv_log(DV_LOG_WARNING, "the members of %s cannot be read (%s): every host is UNKNOWN, "
               "nothing is acted on", s->cfg->agent.group, e.message);
        res->backend_error = true;
    }
    if (decide(s, m, n, readable, err) < 0)
        goto out;
    breaker_alarm(s);
    res->members = s->dec.members;
    res->down = s->dec.down;
    res->unknown = s->dec.unknown;
    res->breaker_open = s->dec.breaker_open;
    if (readable && dv_evac_list(s->store, &ev, &nev, &e) < 0) {
        /* without the journal nothing is safe to do: a fence may be done */
        dv_log(DV_LOG_WARNING, "the evacuation journal cannot be read (%s): nothing is acted on",
               e.message);
        readable = false;
        res->backend_error = true;
    }
    if (readable) {
        readmit(s, ev, nev);
        renew_finished(s, ev, nev, m, n);
        act_all(s, m, n, &ev, &nev, res);
        release_claims(s, ev, nev, m, n);
    }
    if (!s->only_host)             /* an operator's run is not the controller's sweep */
        dv_evac_status_write(s, res, &e);
    rc = 0;
out:
    dv_evac_metrics_sweep(s->em, rc == 0 ? &s->dec : NULL, (double)(dv_mono_ms() - t0) / 1000.0);
    dv_evacs_free(ev, nev);
    drover_members_free(m, n);
    return rc;
}
