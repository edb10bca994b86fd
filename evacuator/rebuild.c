/* rebuild.c - guests of a fenced host defined and started elsewhere.
 * See rebuild.h. */
#include "evacuator/rebuild.h"
#include "core/clock.h"
#include "core/log.h"
#include "evacuator/alert.h"
#include "evacuator/channel.h"
#include "evacuator/defs.h"
#include "scheduler/scheduler.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void dv_evac_alarm(dv_sweeper *s, int kind, const char *host, const char *guest,
                   const char *fmt, ...)
{
    dv_alert a = { .kind = (dv_alert_kind)kind, .host = host, .guest = guest,
                   .epoch = s->epoch };
    char msg[1024];
    drover_error err;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    a.message = msg;
    dv_log(DV_LOG_ERROR, "ALARM %s: %s", dv_alert_kind_name(a.kind), msg);
    if (dv_alert_send(&s->cfg->evacuator.alert_command, &a, dv_wall_ms(), &err) < 0)
        dv_log(DV_LOG_WARNING, "alert_command: %s", err.message);
}

static bool settled(const dv_evac_guest *g)
{
    return strcmp(g->outcome, "rebuilt") == 0 || strcmp(g->outcome, "failed") == 0;
}

/* What every reachable member runs: one probe per member but e->host. */
typedef struct view {
    dv_probe *p;
    size_t n;
    char **started;                /* uuids started by this call */
    size_t n_started;
} view;

static void view_free(view *w)
{
    for (size_t i = 0; i < w->n; i++)
        dv_probe_clear(&w->p[i]);
    free(w->p);
    for (size_t i = 0; i < w->n_started; i++)
        free(w->started[i]);
    free(w->started);
}

static bool listed(const char *const *v, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], host) == 0)
            return true;
    return false;
}

/* Probe the members; *silent names a non-fenced one that did not answer. */
static int look(dv_sweeper *s, const dv_hosts *h, const dv_evac *e, const char *const *fenced,
                size_t n_fenced, view *w, char *silent, size_t len)
{
    *silent = '\0';
    if (!(w->p = calloc(h->n + 1, sizeof *w->p)))
        return -1;
    for (size_t i = 0; i < h->n; i++) {
        const dv_host_state *x = &h->v[i];
        if (strcmp(x->host, e->host) == 0)
            continue;
        dv_probe_host(s->cfg, x->host, x->report, &w->p[w->n]);
        if (!w->p[w->n].answered && !listed(fenced, n_fenced, x->host) && !*silent)
            snprintf(silent, len, "%.200s (%.280s)", x->host, w->p[w->n].err.message);
        w->n++;
        if (s->tick)
            s->tick(s->tick_arg);
    }
    return 0;
}

/* The member that runs uuid now, or NULL. */
static const char *runs_at(const view *w, const char *uuid)
{
    for (size_t i = 0; i < w->n; i++)
        if (dv_probe_runs(&w->p[i], uuid))
            return w->p[i].host;
    return NULL;
}

static bool started_here(const view *w, const char *uuid)
{
    for (size_t i = 0; i < w->n_started; i++)
        if (strcasecmp(w->started[i], uuid) == 0)
            return true;
    return false;
}

static void mark_started(view *w, const char *uuid)
{
    char **v = realloc(w->started, (w->n_started + 1) * sizeof *v);
    if (!v)
        return;
    w->started = v;
    if ((v[w->n_started] = strdup(uuid)))
        w->n_started++;
}

typedef struct placer {
    dv_sweeper *s;
    dv_sched sched;
    dv_hosts hosts;
    view w;
} placer;

/* Start g on host (its state d).  0 = runs there (g updated), 1 = not (why). */
static int start_on(placer *pl, dv_evac_guest *g, const char *host, dv_host_state *d,
                    const char *xml, int64_t claim_id)
{
    drover_error e;
    bool already;

    /* a start that failed or timed out may still have started it there: the
     * guest stays bound to host until host says it runs it (never two copies) */
    snprintf(g->dest, sizeof g->dest, "%s", host);
    if (dv_evac_define_start(pl->s->cfg, host, d ? d->report : NULL, g->uuid, xml, &already,
                             &e) < 0) {
        snprintf(g->why, sizeof g->why, "%.150s: %.300s; tried there again",
                 host, e.message);
        snprintf(g->outcome, sizeof g->outcome, "unplaced");
        return 1;
    }
    snprintf(g->outcome, sizeof g->outcome, "rebuilt");
    snprintf(g->why, sizeof g->why, "%s on %s", already ? "found running" : "started", host);
    if (claim_id)
        g->claim_id = claim_id;
    mark_started(&pl->w, g->uuid);
    return 0;
}

/* A destination for g, then the start.  0 = started, 1 = unplaced or not
 * started (g->why says), -1 = the state db failed or the lease is lost. */
static int place(placer *pl, dv_evac *ev, dv_evac_guest *g, const char *xml, drover_error *err)
{
    dv_sched_opts o = { .instance = g->uuid, .claim = true };
    dv_sched_result res;
    dv_host_state *d;
    drover_error e;
    int rc;

    if (dv_sweeper_holds(pl->s, err) < 0)
        return -1;                 /* stale: another controller may have started it */
    if (*g->dest)                  /* bound by an earlier attempt */
        return start_on(pl, g, g->dest, dv_hosts_find(&pl->hosts, g->dest), xml, 0);
    memset(&res, 0, sizeof res);
    if (dv_find_destination(&pl->sched, &pl->hosts, NULL, pl->s->claims, dv_wall_ms(), &o, &res,
                            &e) < 0) {
        snprintf(g->why, sizeof g->why, "%.500s", e.message);
        snprintf(g->outcome, sizeof g->outcome, "unplaced");
        dv_sched_result_clear(&res);
        if (e.code == DROVER_ERR_NO_VALID_HOST || e.code == DROVER_ERR_NOT_FOUND ||
            e.code == DROVER_ERR_INVALID)
            return 1;
        dv_err_copy(err, &e);
        return -1;
    }
    if ((d = dv_hosts_find(&pl->hosts, res.host)))
        d->claimed_mib += g->memory_mib;
    /* journaled with the start's outcome: the step's time splits placement from the start */
    dv_evac_step_add(ev, pl->s->epoch, "placed", "guest %s (%s) placed on %s", g->name, g->uuid,
                     res.host);
    rc = start_on(pl, g, res.host, d, xml, res.claim_id);
    if (rc != 0)
        g->claim_id = res.claim_id;  /* held while it is bound there */
    dv_sched_result_clear(&res);
    return rc;
}

/* One guest.  -1 only when the journal or the state db failed. */
static int one(placer *pl, dv_evac *e, dv_evac_guest *g, drover_error *err)
{
    dv_sweeper *s = pl->s;
    const char *at = runs_at(&pl->w, g->uuid);
    bool was_unplaced = strcmp(g->outcome, "unplaced") == 0;
    char *xml = NULL;
    drover_error de;
    int rc;

    if (at || started_here(&pl->w, g->uuid)) {
        snprintf(g->outcome, sizeof g->outcome, "rebuilt");
        if (at)
            snprintf(g->dest, sizeof g->dest, "%s", at);
        dv_evac_step_add(e, s->epoch, "running", "guest %s (%s) already runs on %s: not started "
                         "again", g->name, g->uuid, g->dest);
        return dv_evac_put(s->store, e, s->epoch, err);
    }
    if (dv_defs_read(s->cfg->agent.definitions_dir, g->uuid, &xml, &de) < 0) {
        snprintf(g->outcome, sizeof g->outcome, "failed");
        snprintf(g->why, sizeof g->why, "%.500s", de.message);
        dv_evac_step_add(e, s->epoch, "failed", "guest %s (%s): %s", g->name, g->uuid,
                         de.message);
        dv_evac_metrics_guest(s->em, "failed");
        dv_evac_alarm(s, DV_ALERT_GUEST_UNPLACED, e->host, g->uuid,
                      "guest %s (%s) of %s cannot be rebuilt: %s", g->name, g->uuid, e->host,
                      de.message);
        return dv_evac_put(s->store, e, s->epoch, err);
    }
    rc = place(pl, e, g, xml, err);
    free(xml);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        dv_evac_step_add(e, s->epoch, "rebuilt", "guest %s (%s) %s", g->name, g->uuid, g->why);
        dv_evac_metrics_guest(s->em, "rebuilt");
    } else {
        dv_evac_step_add(e, s->epoch, "unplaced", "guest %s (%s): %s; retried on the next sweep",
                         g->name, g->uuid, g->why);
        if (!was_unplaced) {
            dv_evac_metrics_guest(s->em, "unplaced");
            dv_evac_alarm(s, DV_ALERT_GUEST_UNPLACED, e->host, g->uuid,
                          "guest %s (%s) of %s could not be placed: %s", g->name, g->uuid,
                          e->host, g->why);
        }
    }
    return dv_evac_put(s->store, e, s->epoch, err);
}

static void finish(dv_sweeper *s, dv_evac *e)
{
    size_t failed = 0;

    for (size_t i = 0; i < e->n_guests; i++) {
        if (!settled(&e->guests[i]))
            return;
        failed += strcmp(e->guests[i].outcome, "failed") == 0;
    }
    e->done = true;
    snprintf(e->state, sizeof e->state, "%s", failed ? "failed" : "rebuilt");
    dv_evac_step_add(e, s->epoch, e->state, "%zu of %zu guests rebuilt elsewhere",
                     e->n_guests - failed, e->n_guests);
    dv_evac_metrics_evacuation(s->em, e->state);
}

static int guests(placer *pl, dv_evac *e, drover_error *err)
{
    for (size_t i = 0; i < e->n_guests; i++) {
        if (settled(&e->guests[i]))
            continue;
        if (one(pl, e, &e->guests[i], err) < 0)
            return -1;
        if (pl->s->tick)
            pl->s->tick(pl->s->tick_arg);
    }
    finish(pl->s, e);
    return dv_evac_put(pl->s->store, e, pl->s->epoch, err);
}

int dv_rebuild(dv_sweeper *s, dv_evac *e, const char *const *fenced, size_t n_fenced,
               drover_error *err)
{
    placer pl = { .s = s };
    drover_member *m = NULL;
    size_t n = 0;
    char silent[DV_EVAC_MSG_MAX];
    int rc = -1;

    if (dv_sched_init(&pl.sched, s->cfg, err) < 0)
        return -1;
    if (dv_sg_get_all(s->sg, s->cfg->agent.group, &m, &n, err) < 0 ||
        dv_hosts_build(m, n, s->claims, dv_wall_ms(), &pl.hosts, err) < 0)
        goto out;
    if (look(s, &pl.hosts, e, fenced, n_fenced, &pl.w, silent, sizeof silent) < 0) {
        dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        goto out;
    }
    if (*silent) {
        /* it may run a copy of any of them: starting one could make two */
        dv_evac_step_add(e, s->epoch, "held", "host %s does not answer: it could run a copy, "
                         "so no guest is started; asked again on the next sweep", silent);
        rc = dv_evac_put(s->store, e, s->epoch, err);
        goto out;
    }
    snprintf(e->state, sizeof e->state, "rebuilding");
    rc = guests(&pl, e, err);
out:
    view_free(&pl.w);
    dv_hosts_free(&pl.hosts);
    dv_sched_fini(&pl.sched);
    return rc;
}

static bool reports(const drover_member *m, size_t n, const char *host, const char *uuid)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].host, host) != 0 || !m[i].report)
            continue;
        for (size_t k = 0; k < m[i].report->n_instances; k++)
            if (m[i].report->instances[k].uuid &&
                strcasecmp(m[i].report->instances[k].uuid, uuid) == 0)
                return true;
    }
    return false;
}

int dv_rebuild_release_claims(dv_sweeper *s, dv_evac *e, const drover_member *m, size_t n,
                              drover_error *err)
{
    bool changed = false;

    for (size_t i = 0; i < e->n_guests; i++) {
        dv_evac_guest *g = &e->guests[i];
        if (g->claim_id <= 0 || !*g->dest || !reports(m, n, g->dest, g->uuid))
            continue;
        if (dv_store_claim_release(s->claims, g->dest, g->claim_id, NULL, err) < 0)
            return -1;
        g->claim_id = 0;
        changed = true;
    }
    return changed ? dv_evac_put(s->store, e, s->epoch, err) : 0;
}
