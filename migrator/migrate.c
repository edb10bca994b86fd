/* migrate.c - one live migration from the request to its settled record
 * (see migrate.h): pre-checks, the queue, the destination, the flags and
 * parameters, then the monitor and the outcome. */
#include "migrator/run.h"
#include "core/clock.h"
#include "core/log.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t dv_mig_stale_ms(const dv_config *cfg)
{
    int64_t t = 20 * (int64_t)cfg->migration.poll_interval_ms;
    return t > 10000 ? t : 10000;
}

void dv_mig_emit(dv_mig_run *r, dv_mig_event_kind kind)
{
    dv_mig_event ev = { .kind = kind, .rec = &r->rec };
    if (r->o->progress)
        r->o->progress(r->o->arg, &ev);
}

/* ---------------------------------------------------------------- placement */

typedef struct placement {
    dv_sched_result res;           /* res.hosts: the host states it was chosen from */
    dv_host_uris uris;
} placement;

static void placement_clear(placement *p)
{
    dv_sched_result_clear(&p->res);
    memset(p, 0, sizeof *p);
}

/* The scheduler's loop (or the --to checks), a claim on the destination,
 * and the source UP unless a drain allows otherwise. */
static int place(const dv_config *cfg, const dv_migrate_opts *o, placement *p,
                 drover_error *err)
{
    dv_sched_opts so;
    dv_sg *sg = NULL;
    dv_store *st = NULL;
    const dv_host_state *src;
    int rc;

    memset(p, 0, sizeof *p);
    p->uris.tmpl = cfg->controller.libvirt_uri;
    p->uris.map = (const char *const *)cfg->controller.libvirt_uris.v;
    p->uris.n_map = cfg->controller.libvirt_uris.n;
    memset(&so, 0, sizeof so);
    so.instance = o->instance;
    so.dest = o->dest;
    so.seen = o->seen;
    so.seen_on = o->seen_on;
    so.claim = true;
    if (dv_sg_open(cfg, &sg, err) < 0)
        return -1;
    if (dv_store_open(cfg, &st, err) < 0) {
        dv_err_prefix(err, "the state store holds the claims");
        dv_sg_close(sg);
        return -1;
    }
    rc = dv_schedule(cfg, sg, st, &so, &p->res, err);
    dv_store_close(st);
    dv_sg_close(sg);
    if (rc == 0 && !o->allow_source_down &&
        (!(src = dv_hosts_find(&p->res.hosts, p->res.source)) || src->state != DROVER_UP)) {
        dv_mig_claim_release(cfg, p->res.host, p->res.claim_id);
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
               "source host %s of %s is not UP: its agent is not heartbeating, so what it "
               "reported cannot be trusted; bring it back (or drain it) first",
               p->res.source, p->res.instance_name);
        rc = -1;
    }
    if (rc < 0)
        placement_clear(p);
    return rc;
}

/* ---------------------------------------------------------------- the queue */

/* Wait as queued until the source has a slot.  -1: given up (record settled). */
static int wait_slot(dv_mig_run *r, drover_error *err)
{
    const dv_config *cfg = r->cfg;
    int64_t stale = dv_mig_stale_ms(cfg), last_note = 0;

    for (;;) {
        bool got;
        int ahead;
        int64_t blocker;
        char req[24] = "";
        dv_mig_state st;

        if (dv_mig_record_try_slot(r->db, &r->rec, cfg->migration.max_concurrent, &r->self,
                                   stale, &got, &ahead, &blocker, err) < 0)
            return -1;
        if (got)
            return 0;
        if (dv_mig_record_poll(r->db, r->rec.id, &st, req, sizeof req, err) < 0)
            return -1;
        if (st != DV_MIG_QUEUED) {
            dv_mig_record_get(r->db, r->rec.id, &r->rec, NULL);
            return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                          "migration %" PRId64 " became %s while queued: %s", r->rec.id,
                          dv_mig_state_name(st), r->rec.message);
        }
        if (r->o->cancelled && r->o->cancelled(r->o->arg)) {
            dv_mig_record_set_state(r->db, &r->rec, DV_MIG_CANCELLED,
                                    "interrupted by the operator while queued", NULL);
            return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                          "interrupted while queued");
        }
        if (dv_mono_ms() - last_note >= 1000) {
            dv_mig_event ev = { DV_MIG_EV_QUEUED, &r->rec, ahead, blocker };
            dv_mig_record_heartbeat(r->db, r->rec.id, NULL);
            if (r->o->progress)
                r->o->progress(r->o->arg, &ev);
            last_note = dv_mono_ms();
        }
        dv_sleep_ms(100);
    }
}

/* ---------------------------------------------------------------- flags, params */

static unsigned long flags_of(const dv_config *cfg, const dv_migrate_opts *o, bool paused)
{
    unsigned long f = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                      VIR_MIGRATE_UNDEFINE_SOURCE;
    bool postcopy = (cfg->migration.permit_post_copy || o->post_copy) && !paused;

    if (cfg->migration.tunnelled)
        f |= VIR_MIGRATE_TUNNELLED;
    if (cfg->migration.tls)
        f |= VIR_MIGRATE_TLS;
    if (postcopy)
        f |= VIR_MIGRATE_POSTCOPY;
    else if (cfg->migration.permit_auto_converge)
        f |= VIR_MIGRATE_AUTO_CONVERGE;
    return f;
}

/* "%h" in inbound_addr is the destination's name. */
static void expand_host(const char *tmpl, const char *host, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = tmpl; *p && o + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            o += (size_t)snprintf(out + o, len - o, "%s", host);
            if (o >= len)
                o = len - 1;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static int build_params(dv_mig_run *r, drover_error *err)
{
    const dv_config *cfg = r->cfg;
    int bw = r->o->bandwidth_mib >= 0 ? r->o->bandwidth_mib : cfg->migration.bandwidth_mib;
    const char *addr = cfg->migration.inbound_addr;
    dv_vop op;
    char uri[300];
    int rc = 0;

    dv_vop_init(&op, DV_VOP_XML, r->rec.instance_uuid);
    if (dv_vop_run(r->src, r->tmo, &op, err) < 0)
        return -1;
    rc |= virTypedParamsAddString(&r->params, &r->n_params, &r->max_params,
                                  VIR_MIGRATE_PARAM_DEST_XML, op.xml);
    /* a transient guest is made persistent from what runs */
    rc |= virTypedParamsAddString(&r->params, &r->n_params, &r->max_params,
                                  VIR_MIGRATE_PARAM_PERSIST_XML, op.pxml ? op.pxml : op.xml);
    if (bw > 0)
        rc |= virTypedParamsAddULLong(&r->params, &r->n_params, &r->max_params,
                                      VIR_MIGRATE_PARAM_BANDWIDTH, (unsigned long long)bw);
    /* the cap protects the network in both phases: post-copy has its own
     * (bytes/s), unlimited unless set */
    if (bw > 0 && (r->rec.flags & VIR_MIGRATE_POSTCOPY))
        rc |= virTypedParamsAddULLong(&r->params, &r->n_params, &r->max_params,
                                      VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
                                      (unsigned long long)bw << 20);
    if (addr && *addr && !cfg->migration.tunnelled) {
        char a[280];
        expand_host(addr, r->rec.destination, a, sizeof a);
        /* an IPv6 literal goes in brackets */
        snprintf(uri, sizeof uri, strchr(a, ':') && a[0] != '[' ? "tcp://[%s]" : "tcp://%s", a);
        rc |= virTypedParamsAddString(&r->params, &r->n_params, &r->max_params,
                                      VIR_MIGRATE_PARAM_URI, uri);
    }
    free(op.xml);
    free(op.pxml);
    if (rc < 0)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- connections */

/* Handles on both libvirts (connected by their first call, under the
 * deadline), and the guest's state on the source now. */
static int connect_hosts(dv_mig_run *r, placement *p, drover_error *err)
{
    const dv_host_state *src = dv_hosts_find(&p->res.hosts, p->res.source);
    const dv_host_state *dst = dv_hosts_find(&p->res.hosts, p->res.host);
    char su[1024], du[1024];
    dv_vop op;

    if (!src || !dst || dv_host_uri(&p->uris, src, su, sizeof su, err) < 0 ||
        dv_host_uri(&p->uris, dst, du, sizeof du, err) < 0)
        return -1;
    if (!dst->report || !dst->report->migration_uri || !*dst->report->migration_uri)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                      "destination %s reported no migration_uri: its peers cannot reach it; "
                      "set agent.migration_uri on it", dst->host);
    snprintf(r->dconnuri, sizeof r->dconnuri, "%s", dst->report->migration_uri);
    if (dv_virt_new(su, 0, 5, 3, &r->src, err) < 0 || dv_virt_new(du, 0, 5, 3, &r->dst, err) < 0)
        return -1;
    dv_vop_init(&op, DV_VOP_STATE, p->res.instance_uuid);
    if (dv_vop_run(r->src, r->tmo, &op, err) < 0)
        return -1;
    if (op.state != VIR_DOMAIN_RUNNING && op.state != VIR_DOMAIN_PAUSED)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT,
                      "instance %s on %s is %s now: only a running or paused instance can be "
                      "live-migrated", p->res.instance_name, src->host,
                      op.state < 0 ? "gone" : dv_virt_state_name(op.state));
    r->paused_at_start = op.state == VIR_DOMAIN_PAUSED;
    return 0;
}

static void copy_placement(dv_mig_run *r, const placement *p)
{
    dv_mig_record *rec = &r->rec;

    snprintf(rec->instance_name, sizeof rec->instance_name, "%s", p->res.instance_name);
    snprintf(rec->instance_uuid, sizeof rec->instance_uuid, "%s", p->res.instance_uuid);
    snprintf(rec->source, sizeof rec->source, "%s", p->res.source);
    snprintf(rec->destination, sizeof rec->destination, "%s", p->res.host);
    rec->claim_id = p->res.claim_id;
    rec->memory_mib = p->res.memory_mib;
}

/* ---------------------------------------------------------------- the run */

static void run_free(dv_mig_run *r)
{
    if (r->rec.claim_id)
        dv_mig_claim_release(r->cfg, r->rec.destination, r->rec.claim_id);
    dv_virt_close(r->src);
    dv_virt_close(r->dst);
    virTypedParamsFree(r->params, r->n_params);
    free(r->hist);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    dv_statedb_close(r->db);
}

/* Settle a record that never reached the migration call. */
static int give_up(dv_mig_run *r, drover_error *err)
{
    dv_mig_state to = err->code == DROVER_ERR_CONFLICT ? DV_MIG_CANCELLED : DV_MIG_FAILED;

    if (!dv_mig_state_terminal(r->rec.state))
        dv_mig_record_set_state(r->db, &r->rec, to, err->message, NULL);
    return -1;
}

/* From a slot to the call's end. */
static int go(dv_mig_run *r, placement *p, drover_error *err)
{
    r->rec.flags = flags_of(r->cfg, r->o, false);
    if (connect_hosts(r, p, err) < 0)
        return -1;
    r->rec.flags = flags_of(r->cfg, r->o, r->paused_at_start);
    if (dv_mig_record_set_plan(r->db, &r->rec, err) < 0 || build_params(r, err) < 0)
        return -1;
    dv_mig_params_from_config(r->cfg, r->rec.memory_mib, 0, r->paused_at_start,
                              (r->rec.flags & VIR_MIGRATE_POSTCOPY) != 0, &r->pp);
    {
        char req[24] = "";
        dv_mig_state st;
        if (dv_mig_record_poll(r->db, r->rec.id, &st, req, sizeof req, err) < 0)
            return -1;
        if (strcmp(req, "abort") == 0)
            return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                          "aborted by `drover migration abort` before the copy began");
    }
    if (dv_mig_record_set_state(r->db, &r->rec, DV_MIG_RUNNING, NULL, err) < 0)
        return -1;
    dv_info("migration %" PRId64 ": %s from %s to %s (%s), policy %s", r->rec.id,
            r->rec.instance_name, r->rec.source, r->rec.destination, r->dconnuri, r->policy->name);
    dv_mig_emit(r, DV_MIG_EV_STARTED);
    if (dv_mig_monitor(r, err) < 0)
        return -1;
    dv_mig_outcome(r);
    return 0;
}

static int start(dv_mig_run *r, const dv_config *cfg, const dv_migrate_opts *o,
                 drover_error *err)
{
    const char *pname = o->policy ? o->policy : cfg->migration.policy;

    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->o = o;
    r->final_downtime_ms = r->final_total_ms = -1;
    r->tmo = cfg->controller.libvirt_timeout_ms;
    pthread_mutex_init(&r->mu, NULL);
    dv_cond_init_mono(&r->cv);
    dv_mig_owner_self(&r->self);
    if (!(r->policy = dv_mig_policy_find(pname, err)))
        return -1;
    snprintf(r->rec.policy, sizeof r->rec.policy, "%s", r->policy->name);
    if (dv_virt_init(err) < 0)
        return -1;
    if (dv_statedb_open(cfg->state.path, cfg->state.busy_timeout_ms, &r->db, err) < 0) {
        dv_err_prefix(err, "the state db holds the migration records");
        return -1;
    }
    return 0;
}

int dv_migrate(const dv_config *cfg, const dv_migrate_opts *o, dv_mig_record *out,
               drover_error *err)
{
    dv_mig_run *r = calloc(1, sizeof *r);
    placement p;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!r)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (start(r, cfg, o, err) < 0 || place(cfg, o, &p, err) < 0)
        goto out;
    copy_placement(r, &p);
    if (dv_mig_record_create(r->db, &r->rec, &r->self, err) < 0) {
        dv_mig_claim_release(cfg, p.res.host, r->rec.claim_id);
        r->rec.claim_id = 0;
        placement_clear(&p);
        goto out;
    }
    if (wait_slot(r, err) < 0) {
        placement_clear(&p);
        rc = give_up(r, err);
        goto out;
    }
    rc = go(r, &p, err);
    placement_clear(&p);
    if (rc < 0)
        give_up(r, err);
out:
    /* a claim made before waiting in the queue may have expired meanwhile:
     * the real guarantee is the destination's own free-memory check */
    *out = r->rec;
    run_free(r);
    free(r);
    return rc;
}
