/* api.c - the public library: a context holding a config and an open
 * servicegroup driver, the host-health queries of include/drover.h,
 * placements through the scheduler's entry point (dv_schedule), and
 * migrations, their records, steering, reconciliation and drains through
 * the migrator (dv_migrate, dv_mig_*, dv_drain). */
#include "drover.h"
#include "core/config.h"
#include "core/error.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "core/clock.h"
#include "migrator/drain.h"
#include "migrator/migrate.h"
#include "migrator/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct drover_ctx {
    dv_config *cfg;
    dv_sg *sg;
};

int drover_open(const char *path, drover_ctx **out, drover_error *err)
{
    drover_ctx *ctx;

    *out = NULL;
    if (!path || !*path)
        path = dv_config_default_path();
    if (!(ctx = calloc(1, sizeof *ctx)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (dv_config_load(path, &ctx->cfg, err) < 0 || dv_sg_open(ctx->cfg, &ctx->sg, err) < 0) {
        drover_close(ctx);
        return -1;
    }
    *out = ctx;
    return 0;
}

void drover_close(drover_ctx *ctx)
{
    if (!ctx)
        return;
    dv_sg_close(ctx->sg);
    dv_config_free(ctx->cfg);
    free(ctx);
}

const char *drover_ctx_group(const drover_ctx *ctx)
{
    return ctx->cfg->agent.group;
}

static int need_ctx(const drover_ctx *ctx, drover_error *err)
{
    if (!ctx)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "no context: call drover_open() first");
    return 0;
}

int drover_is_up(drover_ctx *ctx, const char *host, drover_liveness *state, drover_error *err)
{
    drover_liveness dummy;
    if (!state)
        state = &dummy;
    *state = DROVER_UNKNOWN;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_is_up(ctx->sg, ctx->cfg->agent.group, host, state, err);
}

int drover_list_members(drover_ctx *ctx, drover_member **members, size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get_all(ctx->sg, ctx->cfg->agent.group, members, n, err);
}

int drover_list_states(drover_ctx *ctx, drover_member **members, size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get_states(ctx->sg, ctx->cfg->agent.group, members, n, err);
}

int drover_get_member(drover_ctx *ctx, const char *host, drover_member *member, drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get(ctx->sg, ctx->cfg->agent.group, host, member, err);
}

int drover_set_disabled(drover_ctx *ctx, const char *host, bool disabled, const char *reason,
                        drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_set_disabled(ctx->sg, ctx->cfg->agent.group, host, disabled, reason, err);
}

int drover_set_forced_down(drover_ctx *ctx, const char *host, bool forced_down, drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_set_forced_down(ctx->sg, ctx->cfg->agent.group, host, forced_down, err);
}

void drover_placement_clear(drover_placement *p)
{
    if (!p)
        return;
    free(p->host);
    free(p->source);
    free(p->instance_name);
    free(p->instance_uuid);
    memset(p, 0, sizeof *p);
}

int drover_schedule(drover_ctx *ctx, const char *instance, const char *dest, bool claim,
                    drover_placement *out, drover_error *err)
{
    dv_sched_result res;
    dv_sched_opts o;
    dv_store *db;
    int rc;

    memset(out, 0, sizeof *out);
    if (need_ctx(ctx, err) < 0)
        return -1;
    /* the deployment's state store (state = { }): every scheduler on every
     * machine counts the same claims */
    if (dv_store_open(ctx->cfg, &db, err) < 0) {
        dv_err_prefix(err, "the state store holds the scheduler's claims");
        return -1;
    }
    memset(&o, 0, sizeof o);
    o.instance = instance;
    o.dest = dest;
    o.claim = claim;
    rc = dv_schedule(ctx->cfg, ctx->sg, db, &o, &res, err);
    if (rc == 0) {
        /* the strings move over; the result forgets them */
        out->host = res.host;
        out->source = res.source;
        out->instance_name = res.instance_name;
        out->instance_uuid = res.instance_uuid;
        out->memory_mib = res.memory_mib;
        out->claim_id = res.claim_id;
        res.host = res.source = res.instance_name = res.instance_uuid = NULL;
    }
    dv_sched_result_clear(&res);
    dv_store_close(db);
    return rc;
}

/* ---------------------------------------------------------------- migration */

_Static_assert((int)DROVER_MIG_ERROR == (int)DV_MIG_ERROR &&
                   (int)DROVER_MIG_QUEUED == (int)DV_MIG_QUEUED &&
                   (int)DROVER_MIG_POSTCOPY == (int)DV_MIG_POSTCOPY,
               "drover_migration_state follows dv_mig_state");
_Static_assert((int)DROVER_MIG_EV_DONE == (int)DV_MIG_EV_DONE,
               "drover_migration_event follows dv_mig_event_kind");

const char *drover_migration_state_name(drover_migration_state state)
{
    return dv_mig_state_name((dv_mig_state)state);
}

static void to_public(const dv_config *cfg, const dv_mig_record *r, drover_migration *m)
{
    dv_mig_owner self;

    memset(m, 0, sizeof *m);
    dv_mig_owner_self(&self);
    m->id = r->id;
    snprintf(m->instance_name, sizeof m->instance_name, "%s", r->instance_name);
    snprintf(m->instance_uuid, sizeof m->instance_uuid, "%s", r->instance_uuid);
    snprintf(m->source, sizeof m->source, "%s", r->source);
    snprintf(m->destination, sizeof m->destination, "%s", r->destination);
    snprintf(m->policy, sizeof m->policy, "%s", r->policy);
    m->state = (drover_migration_state)r->state;
    snprintf(m->owner_host, sizeof m->owner_host, "%s", r->owner_host);
    m->owner_pid = r->owner_pid;
    m->owner_alive = dv_mig_owner_alive(r, &self, dv_wall_ms(), dv_mig_stale_ms(cfg));
    m->created_ms = r->created_ms;
    m->started_ms = r->started_ms;
    m->ended_ms = r->ended_ms;
    m->memory_mib = r->memory_mib;
    m->data_total = r->data_total;
    m->data_processed = r->data_processed;
    m->data_remaining = r->data_remaining;
    m->transfer_bps = r->transfer_bps;
    m->dirty_bps = r->dirty_bps;
    m->iteration = r->iteration;
    m->downtime_ms = r->downtime_ms;
    m->eta_ms = r->eta_ms;
    snprintf(m->action, sizeof m->action, "%s", r->action);
    snprintf(m->action_why, sizeof m->action_why, "%s", r->action_why);
    m->final_downtime_ms = r->final_downtime_ms;
    m->final_total_ms = r->final_total_ms;
    snprintf(m->message, sizeof m->message, "%s", r->message);
}

typedef struct mig_cb {
    const dv_config *cfg;
    const drover_migrate_opts *o;
} mig_cb;

static void on_mig_event(void *arg, const dv_mig_event *ev)
{
    mig_cb *c = arg;
    drover_migration m;

    to_public(c->cfg, ev->rec, &m);
    c->o->progress(c->o->arg, (drover_migration_event)ev->kind, &m);
}

static bool on_mig_cancelled(void *arg)
{
    mig_cb *c = arg;
    return c->o->cancelled(c->o->arg);
}

int drover_migrate(drover_ctx *ctx, const char *instance, const drover_migrate_opts *opts,
                   drover_migration *out, drover_error *err)
{
    drover_migrate_opts none = { .bandwidth_mib = -1 };
    mig_cb cb;
    dv_migrate_opts o;
    dv_mig_record r;
    int rc;

    memset(out, 0, sizeof *out);
    if (need_ctx(ctx, err) < 0)
        return -1;
    if (!instance || !*instance)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "which instance? give its name or UUID");
    if (!opts)
        opts = &none;
    cb.cfg = ctx->cfg;
    cb.o = opts;
    memset(&o, 0, sizeof o);
    o.instance = instance;
    o.dest = opts->dest;
    o.policy = opts->policy;
    o.bandwidth_mib = opts->bandwidth_mib;
    o.post_copy = opts->post_copy;
    o.progress = opts->progress ? on_mig_event : NULL;
    o.cancelled = opts->cancelled ? on_mig_cancelled : NULL;
    o.arg = &cb;
    rc = dv_migrate(ctx->cfg, &o, &r, err);
    to_public(ctx->cfg, &r, out);
    return rc;
}

static int open_state(drover_ctx *ctx, dv_statedb **db, drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    if (dv_statedb_open(ctx->cfg->state.path, ctx->cfg->state.busy_timeout_ms, db, err) < 0) {
        dv_err_prefix(err, "the state db holds the migration records");
        return -1;
    }
    return 0;
}

int drover_migration_list(drover_ctx *ctx, bool all, drover_migration **out, size_t *n,
                          drover_error *err)
{
    dv_statedb *db;
    dv_mig_record *v = NULL;
    size_t nv = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (open_state(ctx, &db, err) < 0)
        return -1;
    rc = dv_mig_record_list(db, all, &v, &nv, err);
    dv_statedb_close(db);
    if (rc < 0)
        return -1;
    if (nv && !(*out = calloc(nv, sizeof **out))) {
        free(v);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    }
    for (size_t i = 0; i < nv; i++)
        to_public(ctx->cfg, &v[i], &(*out)[i]);
    *n = nv;
    free(v);
    return 0;
}

int drover_migration_get(drover_ctx *ctx, const char *key, drover_migration *out,
                         drover_error *err)
{
    dv_statedb *db;
    dv_mig_record r;
    int64_t id;
    int rc;

    memset(out, 0, sizeof *out);
    if (need_ctx(ctx, err) < 0 || dv_mig_resolve(ctx->cfg, key, &id, err) < 0 ||
        open_state(ctx, &db, err) < 0)
        return -1;
    rc = dv_mig_record_get(db, id, &r, err);
    dv_statedb_close(db);
    if (rc == 0)
        to_public(ctx->cfg, &r, out);
    return rc;
}

static void who(char *by, size_t len)
{
    dv_mig_owner o;
    dv_mig_owner_self(&o);
    snprintf(by, len, "libdrover on %s pid %ld", o.host, (long)o.pid);
}

/* An abort or a force-complete, requested in the name of this process. */
static int steer_as_us(drover_ctx *ctx, int64_t id, bool abort_it, drover_error *err)
{
    char by[DV_NAME_MAX + 40];

    if (need_ctx(ctx, err) < 0)
        return -1;
    who(by, sizeof by);
    return abort_it ? dv_mig_abort(ctx->cfg, id, by, NULL, err)
                    : dv_mig_force_complete(ctx->cfg, id, by, NULL, err);
}

int drover_migration_abort(drover_ctx *ctx, int64_t id, drover_error *err)
{
    return steer_as_us(ctx, id, true, err);
}

int drover_migration_force_complete(drover_ctx *ctx, int64_t id, drover_error *err)
{
    return steer_as_us(ctx, id, false, err);
}

int drover_migration_reconcile(drover_ctx *ctx, bool watch, size_t *settled, size_t *left,
                               drover_error *err)
{
    dv_mig_reconcile_opts o = { .watch = watch };
    dv_mig_reconciled *v = NULL;
    size_t n = 0, s = 0, l = 0;

    if (need_ctx(ctx, err) < 0 || dv_mig_reconcile(ctx->cfg, &o, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i].how == DV_REC_LEFT)
            l++;
        else
            s++;
    }
    free(v);
    if (settled)
        *settled = s;
    if (left)
        *left = l;
    return 0;
}

/* ---------------------------------------------------------------- drain */

static void to_guest(const dv_drain_item *it, drover_drain_guest *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->instance, sizeof g->instance, "%s", it->instance);
    snprintf(g->uuid, sizeof g->uuid, "%s", it->uuid);
    g->moved = it->moved;
    if (it->moved)
        snprintf(g->destination, sizeof g->destination, "%s", it->rec.destination);
    g->migration_id = it->rec.id;
    if (!it->moved)
        snprintf(g->reason, sizeof g->reason, "%s",
                 it->rec.id && it->rec.message[0] ? it->rec.message : it->err.message);
}

typedef struct drain_cb {
    void (*progress)(void *arg, const drover_drain_guest *g);
    void *arg;
} drain_cb;

static void on_drain(void *arg, const dv_drain_item *it, const dv_mig_event *ev)
{
    drain_cb *c = arg;
    drover_drain_guest g;

    if (ev || !c->progress)
        return;
    to_guest(it, &g);
    c->progress(c->arg, &g);
}

int drover_drain(drover_ctx *ctx, const char *host,
                 void (*progress)(void *arg, const drover_drain_guest *g), void *arg,
                 drover_drain_result *out, drover_error *err)
{
    drain_cb cb = { progress, arg };
    dv_drain_opts o = { .host = host, .bandwidth_mib = -1, .progress = on_drain, .arg = &cb };
    dv_drain_result r;

    memset(out, 0, sizeof *out);
    if (need_ctx(ctx, err) < 0 || dv_drain(ctx->cfg, &o, &r, err) < 0)
        return -1;
    if (r.n && !(out->guests = calloc(r.n, sizeof *out->guests))) {
        dv_drain_result_clear(&r);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    }
    for (size_t i = 0; i < r.n; i++)
        to_guest(&r.items[i], &out->guests[i]);
    out->n = r.n;
    out->agent_up = r.source_up;
    out->empty = r.empty;
    out->remaining = r.remaining;
    dv_drain_result_clear(&r);
    return 0;
}

void drover_drain_result_clear(drover_drain_result *res)
{
    if (!res)
        return;
    free(res->guests);
    memset(res, 0, sizeof *res);
}
