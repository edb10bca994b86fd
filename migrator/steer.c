/* steer.c - act on a migration another process owns, through the source's
 * own libvirt: abort (virDomainAbortJob), force-complete (post-copy when the
 * job was started with it, else pause the guest so the copy completes),
 * recover a broken post-copy (VIR_MIGRATE_POSTCOPY_RESUME).  Each request is
 * written into the record first, so the owner reports who asked. */
#include "migrator/run.h"
#include "migrator/vops.h"
#include "core/clock.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct steer {
    dv_statedb *db;
    dv_hosts hosts;
    dv_virt *src, *dst;            /* handles: every call under the deadline */
    int tmo;
    dv_mig_record rec;
    char dconnuri[1024];
    char src_uri[1024];
} steer;

static void steer_free(steer *s)
{
    dv_virt_close(s->src);
    dv_virt_close(s->dst);
    dv_hosts_free(&s->hosts);
    dv_statedb_close(s->db);
}

/* The record as it was left, for the caller that asked (out may be NULL);
 * returns rc. */
static int steer_end(steer *s, int rc, dv_mig_record *out)
{
    if (out)
        *out = s->rec;
    steer_free(s);
    return rc;
}

static int open_db(const dv_config *cfg, dv_statedb **db, drover_error *err)
{
    if (dv_statedb_open(cfg->state.path, cfg->state.busy_timeout_ms, db, err) < 0) {
        dv_err_prefix(err, "the state db holds the migration records");
        return -1;
    }
    return 0;
}

int dv_mig_resolve(const dv_config *cfg, const char *key, int64_t *id, drover_error *err)
{
    dv_statedb *db;
    dv_mig_record r;
    bool digits = key && *key;
    int rc;

    for (const char *p = key; digits && *p; p++)
        digits = isdigit((unsigned char)*p) != 0;
    if (!key || !*key)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "which migration? give its id or the instance's name or UUID");
    if (digits && strlen(key) > 18)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE, "migration id %s is too large",
                      key);
    if (open_db(cfg, &db, err) < 0)
        return -1;
    rc = digits ? dv_mig_record_get(db, strtoll(key, NULL, 10), &r, err)
                : dv_mig_record_find_instance(db, key, &r, err);
    dv_statedb_close(db);
    *id = rc == 0 ? r.id : 0;
    return rc;
}

/* A connection to host's libvirt as the controller reaches it. */
static int connect_host(const dv_config *cfg, steer *s, const char *host, dv_virt **out,
                        char *mig_uri, size_t mig_len, char *uri_out, drover_error *err)
{
    dv_host_uris u = { cfg->controller.libvirt_uri,
                       (const char *const *)cfg->controller.libvirt_uris.v,
                       cfg->controller.libvirt_uris.n };
    const dv_host_state *h;
    char uri[1024];

    if (!s->hosts.v) {
        drover_member *m = NULL;
        size_t n = 0;
        dv_sg *sg = NULL;
        int rc = dv_sg_open(cfg, &sg, err);
        if (rc == 0)
            rc = dv_sg_get_all(sg, cfg->agent.group, &m, &n, err);
        dv_sg_close(sg);
        if (rc < 0 || dv_hosts_build(m, n, NULL, dv_wall_ms(), &s->hosts, err) < 0)
            return -1;
    }
    if (!(h = dv_hosts_find(&s->hosts, host)))
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_SCHEDULER,
                      "host %s is not a member of the group any more", host);
    if (dv_host_uri(&u, h, uri, sizeof uri, err) < 0)
        return -1;
    if (mig_uri)
        snprintf(mig_uri, mig_len, "%s",
                 h->report && h->report->migration_uri ? h->report->migration_uri : "");
    if (uri_out)
        snprintf(uri_out, 1024, "%s", uri);
    if (dv_virt_init(err) < 0)
        return -1;
    return dv_virt_new(uri, 0, 5, 3, out, err);
}

static int open_source(const dv_config *cfg, steer *s, drover_error *err)
{
    return connect_host(cfg, s, s->rec.source, &s->src, NULL, 0, s->src_uri, err);
}

static int load(const dv_config *cfg, int64_t id, steer *s, drover_error *err)
{
    memset(s, 0, sizeof *s);
    s->tmo = cfg->controller.libvirt_timeout_ms;
    if (open_db(cfg, &s->db, err) < 0)
        return -1;
    return dv_mig_record_get(s->db, id, &s->rec, err);
}

static int refuse_state(const dv_mig_record *r, const char *what, drover_error *err)
{
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                  "migration %" PRId64 " of %s is %s: nothing to %s%s%s", r->id, r->instance_name,
                  dv_mig_state_name(r->state), what, r->message[0] ? " (" : "",
                  r->message[0] ? ")" : "");
}

int dv_mig_abort(const dv_config *cfg, int64_t id, const char *by, dv_mig_record *out,
                 drover_error *err)
{
    steer s;
    char msg[300];
    int rc = -1;

    if (load(cfg, id, &s, err) < 0)
        goto out;
    if (s.rec.state == DV_MIG_QUEUED) {
        dv_mig_msgf(msg, sizeof msg, "cancelled while queued by `drover migration abort` (%s)", by);
        rc = dv_mig_record_set_state(s.db, &s.rec, DV_MIG_CANCELLED, msg, err);
        goto out;
    }
    if (s.rec.state == DV_MIG_POSTCOPY) {
        dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
               "migration %" PRId64 " of %s is in post-copy: the guest already runs on %s with "
               "part of its memory on %s; it cannot be aborted, only completed",
               id, s.rec.instance_name, s.rec.destination, s.rec.source);
        goto out;
    }
    if (s.rec.state != DV_MIG_PREPARING && s.rec.state != DV_MIG_RUNNING) {
        refuse_state(&s.rec, "abort", err);
        goto out;
    }
    if (dv_mig_record_request(s.db, id, "abort", by, err) < 0)
        goto out;
    /* preparing: no job yet; the owner reads the request before it starts one */
    if (s.rec.state == DV_MIG_PREPARING) {
        rc = 0;
        goto out;
    }
    if (open_source(cfg, &s, err) < 0 ||
        dv_vop_simple(s.src, s.tmo, DV_VOP_ABORT, s.rec.instance_uuid, 0, err) < 0)
        goto out;
    rc = 0;
out:
    return steer_end(&s, rc, out);
}

int dv_mig_force_complete(const dv_config *cfg, int64_t id, const char *by, dv_mig_record *out,
                          drover_error *err)
{
    steer s;
    bool postcopy;
    int rc = -1;

    if (load(cfg, id, &s, err) < 0)
        goto out;
    postcopy = (s.rec.flags & VIR_MIGRATE_POSTCOPY) != 0;
    if (s.rec.state != DV_MIG_RUNNING) {
        refuse_state(&s.rec, "force to complete", err);
        goto out;
    }
    if (dv_mig_record_request(s.db, id, "force-complete", by, err) < 0 ||
        open_source(cfg, &s, err) < 0)
        goto out;
    if (dv_vop_simple(s.src, s.tmo, postcopy ? DV_VOP_POSTCOPY : DV_VOP_SUSPEND,
                      s.rec.instance_uuid, 0, err) < 0)
        goto out;
    rc = 0;
out:
    return steer_end(&s, rc, out);
}

/* ---------------------------------------------------------------- recover */

static void where_now(steer *s, char *buf, size_t len)
{
    bool ps = false, pd = false, ks, kd = false;
    int ss = dv_vop_state(s->src, s->tmo, s->rec.instance_uuid, &ps, &ks);
    int sd = s->dst ? dv_vop_state(s->dst, s->tmo, s->rec.instance_uuid, &pd, &kd) : -1;

    dv_mig_msgf(buf, len, "%s is %s on %s and %s on %s", s->rec.instance_name,
                !ks ? "unknown (its libvirt did not answer)"
                    : ss < 0 ? "absent" : dv_virt_state_name(ss),
                s->rec.source,
                !kd ? "unknown (its libvirt did not answer)"
                    : sd < 0 ? "absent" : dv_virt_state_name(sd),
                s->rec.destination);
}

#define RESUME_WAIT_MS 60000

/* VIR_MIGRATE_POSTCOPY_RESUME, on a connection of this thread (the call
 * lasts as long as the rest of the copy).  libvirt's message on failure. */
static int resume_postcopy(steer *s, char *msg, size_t len)
{
    drover_error e;
    dv_virt *v = NULL;
    virDomainPtr d = NULL;
    int rc = -1;

    if (dv_virt_open(s->src_uri, 0, 5, 3, &v, &e) < 0)
        dv_mig_msgf(msg, len, "%s", e.message);
    else if (!(d = virDomainLookupByUUIDString(dv_virt_conn(v), s->rec.instance_uuid)))
        dv_mig_msgf(msg, len, "%s", dv_virt_last_message());
    else if ((rc = virDomainMigrateToURI3(d, s->dconnuri, NULL, 0,
                                          (unsigned)s->rec.flags | VIR_MIGRATE_POSTCOPY_RESUME)) < 0)
        dv_mig_msgf(msg, len, "%s", dv_virt_last_message());
    if (d)
        virDomainFree(d);
    virResetLastError();
    dv_virt_close(v);
    return rc;
}

int dv_mig_recover(const dv_config *cfg, int64_t id, dv_mig_record *out, drover_error *err)
{
    steer s;
    char facts[600], msg[DV_MIG_MSG_MAX], why[512] = "";
    int rc = -1;

    if (load(cfg, id, &s, err) < 0)
        goto out;
    if (s.rec.state != DV_MIG_ERROR) {
        refuse_state(&s.rec, "recover", err);
        goto out;
    }
    if (open_source(cfg, &s, err) < 0)
        goto out;
    if (connect_host(cfg, &s, s.rec.destination, &s.dst, s.dconnuri, sizeof s.dconnuri, NULL,
                     err) < 0)
        s.dst = NULL;
    /* QEMU notices a broken stream only when its socket times out; until
     * then it "reports migration is still running" and cannot resume:
     * migrate-pause first (refused when it is paused already: no matter) */
    dv_vop_simple(s.src, s.tmo, DV_VOP_PAUSE_POSTCOPY, s.rec.instance_uuid, 0, NULL);
    for (int64_t end = dv_mono_ms() + RESUME_WAIT_MS;;) {
        int rr = resume_postcopy(&s, why, sizeof why);
        if (rr == 0 || !strstr(why, "still running") || dv_mono_ms() >= end) {
            if (rr == 0)
                why[0] = '\0';
            break;
        }
        dv_sleep_ms(2000);
    }
    if (!why[0]) {
        bool pd, known;
        int sd = s.dst ? dv_vop_state(s.dst, s.tmo, s.rec.instance_uuid, &pd, &known) : -1;
        if (sd == VIR_DOMAIN_RUNNING || sd == VIR_DOMAIN_PAUSED) {
            where_now(&s, facts, sizeof facts);
            dv_mig_msgf(msg, sizeof msg, "recovered with VIR_MIGRATE_POSTCOPY_RESUME: %s", facts);
            rc = dv_mig_record_set_state(s.db, &s.rec, DV_MIG_COMPLETED, msg, err);
            goto out;
        }
        dv_mig_msgf(why, sizeof why, "the resumed migration returned, but the destination does not "
                 "run the guest");
    }
    where_now(&s, facts, sizeof facts);
    dv_mig_msgf(s.rec.message, sizeof s.rec.message,
                "post-copy recovery failed (libvirt: %s); %s. The guest's vCPUs are on %s; do "
                "not destroy either copy; once the link between the hosts is back run `drover "
                "migration recover %" PRId64 "` again",
                why, facts, s.rec.destination, id);
    dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT, "%s", s.rec.message);
    dv_mig_record_set_message(s.db, &s.rec, NULL);
out:
    return steer_end(&s, rc, out);
}
