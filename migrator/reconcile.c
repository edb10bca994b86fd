/* reconcile.c - settle orphaned migration records from both libvirts (see
 * reconcile.h).  Every libvirt call goes through the migrator's deadline
 * runner, so a hung host costs controller.libvirt_timeout_ms per question. */
#include "migrator/reconcile.h"
#include "migrator/migrate.h"
#include "migrator/vops.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/sqlite.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rctx {
    const dv_config *cfg;
    const dv_mig_reconcile_opts *o;
    dv_statedb *db;
    dv_hosts hosts;
    dv_mig_owner self;
    int tmo;
} rctx;

bool dv_mig_is_orphan(const dv_mig_record *r, const dv_mig_owner *self, int64_t now_ms,
                      int64_t stale_ms)
{
    return (dv_mig_state_active(r->state) || r->state == DV_MIG_ERROR) &&
           !dv_mig_owner_alive(r, self, now_ms, stale_ms);
}

const char *dv_mig_settled_name(dv_mig_settled how)
{
    switch (how) {
    case DV_REC_SETTLED: return "settled";
    case DV_REC_WATCHED: return "watched";
    case DV_REC_LEFT: return "left";
    }
    return "?";
}

/* ---------------------------------------------------------------- the row */

/* Become the owner of an orphan, only if nobody else did meanwhile (two
 * reconcilers never watch the same job). */
static bool take_over(rctx *c, dv_mig_record *r)
{
    sqlite3 *db = dv_sqlite_db(dv_statedb_sqlite(c->db));
    sqlite3_stmt *st = NULL;
    bool got = false;

    if (sqlite3_prepare_v2(db,
                           "UPDATE migration SET owner_host = ?1, owner_pid = ?2,"
                           " owner_start = ?3, heartbeat_ms = ?4 WHERE id = ?5"
                           " AND owner_host = ?6 AND owner_pid = ?7 AND owner_start = ?8"
                           " AND state = ?9", -1, &st, NULL) != SQLITE_OK)
        return false;
    dv_sqlite_bind_text(st, 1, c->self.host);
    sqlite3_bind_int64(st, 2, c->self.pid);
    sqlite3_bind_int64(st, 3, c->self.start);
    sqlite3_bind_int64(st, 4, dv_wall_ms());
    sqlite3_bind_int64(st, 5, r->id);
    dv_sqlite_bind_text(st, 6, r->owner_host);
    sqlite3_bind_int64(st, 7, r->owner_pid);
    sqlite3_bind_int64(st, 8, r->owner_start);
    dv_sqlite_bind_text(st, 9, dv_mig_state_name(r->state));
    got = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
    sqlite3_finalize(st);
    if (got) {
        snprintf(r->owner_host, sizeof r->owner_host, "%s", c->self.host);
        r->owner_pid = c->self.pid;
        r->owner_start = c->self.start;
    }
    return got;
}

/* The message of a record left active (why it was not settled). */
static void note(rctx *c, dv_mig_record *r, const char *msg)
{
    sqlite3 *db = dv_sqlite_db(dv_statedb_sqlite(c->db));
    sqlite3_stmt *st = NULL;

    snprintf(r->message, sizeof r->message, "%s", msg);
    if (sqlite3_prepare_v2(db, "UPDATE migration SET message = ?2 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, r->id);
    dv_sqlite_bind_text(st, 2, msg);
    if (sqlite3_step(st) != SQLITE_DONE)
        dv_warn("migration %" PRId64 ": cannot note \"%s\"", r->id, msg);
    sqlite3_finalize(st);
}

static void settle(rctx *c, dv_mig_reconciled *out, dv_mig_state to, const char *facts)
{
    drover_error err;
    char msg[DV_MIG_MSG_MAX];

    dv_mig_msgf(msg, sizeof msg, "reconciled after its owner (%s pid %" PRId64 ") was gone: %s",
                out->rec.owner_host, out->rec.owner_pid, facts);
    snprintf(out->facts, sizeof out->facts, "%s", facts);
    if (dv_mig_record_set_state(c->db, &out->rec, to, msg, &err) < 0) {
        dv_mig_msgf(out->facts, sizeof out->facts, "%s; the record could not be settled: %s",
                    facts, err.message);
        out->how = DV_REC_LEFT;
        return;
    }
    if (out->rec.claim_id)
        dv_mig_claim_release(c->cfg, out->rec.destination, out->rec.claim_id);
    dv_info("migration %" PRId64 " of %s reconciled: %s (%s)", out->rec.id,
            out->rec.instance_name, dv_mig_state_name(to), facts);
}

/* ---------------------------------------------------------------- the hosts */

static int load_hosts(rctx *c, drover_error *err)
{
    drover_member *m = NULL;
    size_t n = 0;
    dv_sg *sg = NULL;
    int rc = dv_sg_open(c->cfg, &sg, err);

    if (rc == 0)
        rc = dv_sg_get_all(sg, c->cfg->agent.group, &m, &n, err);
    dv_sg_close(sg);
    if (rc < 0)
        return -1;
    return dv_hosts_build(m, n, NULL, dv_wall_ms(), &c->hosts, err);
}

/* A handle on host's libvirt; NULL with why when it cannot be had. */
static dv_virt *open_host(rctx *c, const char *host, char *why, size_t len)
{
    dv_host_uris u = { c->cfg->controller.libvirt_uri,
                       (const char *const *)c->cfg->controller.libvirt_uris.v,
                       c->cfg->controller.libvirt_uris.n };
    const dv_host_state *h = dv_hosts_find(&c->hosts, host);
    char uri[1024];
    drover_error err;
    dv_virt *v = NULL;

    if (!h) {
        dv_mig_msgf(why, len, "host %s is not a member of the group", host);
        return NULL;
    }
    if (dv_host_uri(&u, h, uri, sizeof uri, &err) < 0 || dv_virt_new(uri, 0, 5, 3, &v, &err) < 0) {
        dv_mig_msgf(why, len, "host %s: %s", host, err.message);
        return NULL;
    }
    return v;
}

/* The guest on one side: -2 when that libvirt did not answer, -1 absent,
 * else its virDomainState. */
static int side(rctx *c, dv_virt *v, const char *uuid, bool *persistent)
{
    bool known = false;
    int st = -1;

    *persistent = false;
    /* a guest vanishing between libvirt's lookup and its state question
     * fails the question once: ask again before calling the host silent */
    for (int i = 0; v && !known && i < 3; i++) {
        if (i)
            dv_sleep_ms(200);
        st = dv_vop_state(v, c->tmo, uuid, persistent, &known);
    }
    return v && known ? st : -2;
}

static const char *where(int state, bool persistent)
{
    if (state == -2)
        return "unknown (its libvirt did not answer)";
    if (state == -1)
        return "absent";
    if (state == VIR_DOMAIN_RUNNING)
        return persistent ? "running (persistent)" : "running (transient)";
    if (state == VIR_DOMAIN_PAUSED)
        return persistent ? "paused (persistent)" : "paused (transient)";
    if (state == VIR_DOMAIN_SHUTOFF)
        return persistent ? "defined, not running" : "shut off";
    return dv_virt_state_name(state);
}

static bool live(int s)
{
    return s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_PAUSED;
}

/* ---------------------------------------------------------------- watching */

/* Whether the source still runs a job for the guest (and its sample). */
static bool job_running(rctx *c, dv_virt *src, dv_mig_record *r, bool *answered)
{
    dv_vop op;
    drover_error err;

    dv_vop_init(&op, DV_VOP_JOBSTATS, r->instance_uuid);
    *answered = dv_vop_run(src, c->tmo, &op, &err) == 0;
    if (!*answered) {
        /* gone from the source: no job there any more */
        bool p;
        bool known;
        int st = dv_vop_state(src, c->tmo, r->instance_uuid, &p, &known);
        *answered = known;
        (void)st;
        return false;
    }
    if (op.job_type == VIR_DOMAIN_JOB_NONE)
        return false;
    r->data_total = op.stats.data_total;
    r->data_processed = op.stats.data_processed;
    r->data_remaining = op.stats.data_remaining;
    r->transfer_bps = op.stats.mem_bps;
    r->dirty_bps = op.stats.mem_dirty_rate * (op.stats.mem_page_size ? op.stats.mem_page_size
                                                                       : 4096);
    r->iteration = op.stats.mem_iteration;
    r->eta_ms = -1;
    r->stats_ms = dv_wall_ms();
    dv_mig_record_set_stats(c->db, r, NULL);   /* and the heartbeat: ours now */
    return true;
}

/* Watch the job to its end.  false: it could not be watched to the end
 * (the record is noted). */
static bool watch(rctx *c, dv_virt *src, dv_mig_reconciled *out)
{
    int64_t limit = c->o->watch_timeout_ms > 0 ? c->o->watch_timeout_ms : 30 * 60 * 1000;
    int64_t end = dv_mono_ms() + limit;
    int poll = c->cfg->migration.poll_interval_ms > 0 ? c->cfg->migration.poll_interval_ms : 500;
    bool answered = true;
    int64_t quiet_since = 0;

    /* a question that fails as the job ends (the guest vanishing from the
     * source between two calls) is asked again: only a source silent for
     * 10 s stops the watch */
    for (;;) {
        bool running = job_running(c, src, &out->rec, &answered);
        if (!running && answered)
            break;
        if (!answered && !quiet_since)
            quiet_since = dv_mono_ms();
        if (answered)
            quiet_since = 0;
        if (dv_mono_ms() >= end || (quiet_since && dv_mono_ms() - quiet_since > 10000)) {
            answered = false;
            break;
        }
        dv_sleep_ms(poll);
    }
    if (!answered || dv_mono_ms() >= end) {
        char msg[DV_MIG_MSG_MAX];
        dv_mig_msgf(msg, sizeof msg, "its owner is gone and the job still runs on %s, but it could "
                    "not be watched to its end (%s); run `drover migration reconcile` again",
                    out->rec.source,
                    answered ? "watch time ran out" : "the source stopped answering");
        note(c, &out->rec, msg);
        snprintf(out->facts, sizeof out->facts, "%s", msg);
        out->how = DV_REC_LEFT;
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- deciding */

static void remove_on(rctx *c, dv_virt *v, const char *uuid, const char *host, char *done,
                      size_t len)
{
    dv_vop op;
    drover_error err;

    dv_vop_init(&op, DV_VOP_REMOVE, uuid);
    if (dv_vop_run(v, c->tmo, &op, &err) < 0)
        dv_mig_msgf(done, len, "; could not remove what was left on %s: %s", host, err.message);
    else
        dv_mig_msgf(done, len, "; removed what was left on %s (%s)", host,
                    dv_virt_state_name(op.state));
}

static void final_figures(rctx *c, dv_virt *dst, dv_mig_record *r)
{
    dv_vop op;

    dv_vop_init(&op, DV_VOP_COMPLETED_STATS, r->instance_uuid);
    if (dv_vop_run(dst, c->tmo, &op, NULL) == 0 && (op.downtime_ms >= 0 || op.total_ms >= 0)) {
        r->final_downtime_ms = op.downtime_ms;
        r->final_total_ms = op.total_ms;
        dv_mig_record_set_final(c->db, r, NULL);
    }
}

/* A record in error (its owner could not tell where the guest went, or
 * post-copy broke) is settled only when the guest is whole in one place:
 * running on the destination and absent from the source, or running on the
 * source and absent from the destination.  Nothing is destroyed; any other
 * picture leaves the record as it is for an operator. */
static void decide_error(rctx *c, dv_virt *dst, dv_mig_reconciled *out, int ss, int sd, bool pd,
                         const char *facts)
{
    if (sd == VIR_DOMAIN_RUNNING && pd && ss == -1) {
        final_figures(c, dst, &out->rec);
        settle(c, out, DV_MIG_COMPLETED, facts);
    } else if (ss == VIR_DOMAIN_RUNNING && sd == -1) {
        settle(c, out, DV_MIG_FAILED, facts);
    } else {
        dv_mig_msgf(out->facts, sizeof out->facts,
                    "the guest is not whole in one place (record kept in error): %s", facts);
        out->how = DV_REC_LEFT;
    }
}

/* Settle from where the guest is now (no job runs any more). */
static void decide(rctx *c, dv_virt *src, dv_virt *dst, dv_mig_reconciled *out)
{
    dv_mig_record *r = &out->rec;
    bool ps, pd;
    int ss = side(c, src, r->instance_uuid, &ps);
    int sd = r->destination[0] ? side(c, dst, r->instance_uuid, &pd) : (pd = false, -1);
    char facts[DV_MIG_MSG_MAX], done[512] = "";

    dv_mig_msgf(facts, sizeof facts, "%s is %s on %s and %s on %s", r->instance_name,
                where(ss, ps), r->source, where(sd, pd),
                r->destination[0] ? r->destination : "(no destination chosen)");
    if (ss == -2 || sd == -2) {
        dv_mig_msgf(out->facts, sizeof out->facts, "a host did not answer: %s", facts);
        out->how = DV_REC_LEFT;
        return;
    }
    if (r->state == DV_MIG_ERROR) {
        decide_error(c, dst, out, ss, sd, pd, facts);
        return;
    }
    if (live(sd) && pd && (ss == -1 || ss == VIR_DOMAIN_SHUTOFF)) {
        if (ss == VIR_DOMAIN_SHUTOFF)
            remove_on(c, src, r->instance_uuid, r->source, done, sizeof done);
        final_figures(c, dst, r);
        dv_mig_msgf(facts + strlen(facts), sizeof facts - strlen(facts), "%s", done);
        settle(c, out, DV_MIG_COMPLETED, facts);
        return;
    }
    if (live(ss) && sd != VIR_DOMAIN_RUNNING && r->state != DV_MIG_POSTCOPY) {
        if (sd != -1)
            remove_on(c, dst, r->instance_uuid, r->destination, done, sizeof done);
        dv_mig_msgf(facts + strlen(facts), sizeof facts - strlen(facts), "%s", done);
        settle(c, out, DV_MIG_FAILED, facts);
        return;
    }
    dv_mig_msgf(facts + strlen(facts), sizeof facts - strlen(facts),
                ": nothing was destroyed; check both hosts (virsh list --all --uuid) before "
                "acting");
    settle(c, out, DV_MIG_ERROR, facts);
}

static void reconcile_one(rctx *c, dv_mig_reconciled *out)
{
    dv_mig_record *r = &out->rec;
    char why[512] = "";
    dv_virt *src, *dst = NULL;
    bool answered;

    out->was = r->state;
    out->how = DV_REC_SETTLED;
    if (!take_over(c, r)) {
        snprintf(out->facts, sizeof out->facts, "another process took it over first");
        out->how = DV_REC_LEFT;
        return;
    }
    if (!(src = open_host(c, r->source, why, sizeof why)) ||
        (r->destination[0] && !(dst = open_host(c, r->destination, why, sizeof why)))) {
        dv_mig_msgf(out->facts, sizeof out->facts, "%s", why);
        if (out->was != DV_MIG_ERROR) {
            char msg[DV_MIG_MSG_MAX];
            dv_mig_msgf(msg, sizeof msg, "its owner is gone and reconcile could not settle it: "
                        "%s", out->facts);
            note(c, r, msg);
        }
        out->how = DV_REC_LEFT;
        goto out;
    }
    if (job_running(c, src, r, &answered)) {
        if (out->was == DV_MIG_ERROR) {
            dv_mig_msgf(out->facts, sizeof out->facts,
                        "a job runs on %s again (record kept in error)", r->source);
            out->how = DV_REC_LEFT;
            goto out;
        }
        if (!c->o->watch) {
            dv_mig_msgf(out->facts, sizeof out->facts, "its owner is gone but the job still "
                        "runs on %s: left running (not watched)", r->source);
            note(c, r, out->facts);
            out->how = DV_REC_LEFT;
            goto out;
        }
        dv_info("migration %" PRId64 " of %s: its owner is gone, the job still runs on %s: "
                "watching it", r->id, r->instance_name, r->source);
        if (!watch(c, src, out))
            goto out;
        out->how = DV_REC_WATCHED;
    }
    decide(c, src, dst, out);
    /* an error record keeps its owner's account of what went wrong */
    if (out->how == DV_REC_LEFT && out->was != DV_MIG_ERROR) {
        char msg[DV_MIG_MSG_MAX];
        dv_mig_msgf(msg, sizeof msg, "its owner is gone and reconcile could not settle it: %s",
                    out->facts);
        note(c, r, msg);
    }
out:
    dv_mig_record_get(c->db, r->id, r, NULL);
    dv_virt_close(src);
    dv_virt_close(dst);
}

int dv_mig_reconcile(const dv_config *cfg, const dv_mig_reconcile_opts *o,
                     dv_mig_reconciled **out, size_t *n, drover_error *err)
{
    rctx c;
    dv_mig_record *v = NULL;
    size_t nv = 0;
    int64_t stale = dv_mig_stale_ms(cfg);

    *out = NULL;
    *n = 0;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.o = o;
    c.tmo = cfg->controller.libvirt_timeout_ms;
    dv_mig_owner_self(&c.self);
    if (dv_virt_init(err) < 0)
        return -1;
    if (dv_statedb_open(cfg->state.path, cfg->state.busy_timeout_ms, &c.db, err) < 0)
        return dv_err_prefix(err, "the state db holds the migration records"), -1;
    if (dv_mig_record_list(c.db, false, &v, &nv, err) < 0)
        goto fail;
    for (size_t i = 0; i < nv; i++) {
        dv_mig_reconciled *res, *grown;
        if ((o->only_id && v[i].id != o->only_id) ||
            !dv_mig_is_orphan(&v[i], &c.self, dv_wall_ms(), stale))
            continue;
        if (!c.hosts.v && load_hosts(&c, err) < 0)
            goto fail;
        if (!(grown = realloc(*out, (*n + 1) * sizeof **out))) {
            dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
            goto fail;
        }
        *out = grown;
        res = &(*out)[(*n)++];
        memset(res, 0, sizeof *res);
        res->rec = v[i];
        reconcile_one(&c, res);
        if (o->progress)
            o->progress(o->arg, res);
    }
    free(v);
    dv_hosts_free(&c.hosts);
    dv_statedb_close(c.db);
    return 0;
fail:
    free(v);
    free(*out);
    *out = NULL;
    *n = 0;
    dv_hosts_free(&c.hosts);
    dv_statedb_close(c.db);
    return -1;
}
