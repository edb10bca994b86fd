/* agent_defs.c - definitions on the shared storage and stale copies.
 * See agent_defs.h. */
#include "evacuator/agent_defs.h"
#include "core/log.h"
#include "evacuator/channel.h"
#include "evacuator/defs.h"
#include "evacuator/journal.h"
#include "store/store.h"
#include "virt/domains.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dv_agent_defs {
    const dv_config *cfg;
    dv_virt *v;
};

static int keepalive_s(const dv_config *cfg)
{
    return cfg->agent.libvirt_timeout_ms >= 2000 ? cfg->agent.libvirt_timeout_ms / 1000 : 1;
}

int dv_agent_defs_new(const dv_config *cfg, dv_agent_defs **out, drover_error *err)
{
    dv_agent_defs *d;

    *out = NULL;
    if (!cfg->agent.definitions_dir || !*cfg->agent.definitions_dir)
        return 0;
    if (!(d = calloc(1, sizeof *d)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_AGENT, "out of memory");
    d->cfg = cfg;
    /* read-write: libvirt refuses the migratable XML on a read-only connection */
    if (dv_virt_new(cfg->agent.libvirt_uri, 0, keepalive_s(cfg), 3, &d->v,
                    err) < 0) {
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void dv_agent_defs_free(dv_agent_defs *d)
{
    if (!d)
        return;
    dv_virt_close(d->v);
    free(d);
}

/* The domains of v, with or without XML; -1 when libvirt did not answer. */
static int list_on(dv_virt *v, int timeout_ms, bool with_xml, dv_virt_dom **doms, size_t *n,
                   drover_error *err)
{
    dv_evac_list_job *j = calloc(1, sizeof *j);
    dv_call_status st = DV_CALL_UNREACHABLE;

    if (!j)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_AGENT, "out of memory");
    j->with_xml = with_xml;
    if (dv_virt_call_wake(v, timeout_ms, -1, dv_evac_list_fn, j, dv_evac_list_release, &st,
                          err) < 0) {
        if (st != DV_CALL_TIMEOUT && st != DV_CALL_WOKEN)
            dv_evac_list_release(j);
        return -1;
    }
    *doms = j->d;
    *n = j->n;
    free(j);
    return 0;
}

int dv_agent_defs_sync(dv_agent_defs *d, size_t *written, drover_error *err)
{
    dv_virt_dom *doms = NULL;
    size_t n = 0;
    int rc;

    *written = 0;
    if (!d)
        return 0;
    if (list_on(d->v, d->cfg->agent.libvirt_timeout_ms, true, &doms, &n, err) < 0) {
        dv_err_prefix(err, "guest definitions not saved");
        return -1;
    }
    rc = dv_defs_sync(d->cfg->agent.definitions_dir, doms, n, written, err);
    dv_virt_doms_free(doms, n);
    return rc;
}

/* ---------------------------------------------------------------- stale copies */

/* Where the journal says uuid, of this host, was rebuilt ("" = nowhere). */
static const char *rebuilt_at(const dv_evac *v, size_t n, const char *me, const char *uuid)
{
    for (size_t i = n; i-- > 0;) {
        if (strcmp(v[i].host, me) != 0)
            continue;
        for (size_t k = 0; k < v[i].n_guests; k++) {
            const dv_evac_guest *g = &v[i].guests[k];
            if (strcasecmp(g->uuid, uuid) == 0 && strcmp(g->outcome, "rebuilt") == 0 &&
                strcmp(g->dest, me) != 0)
                return g->dest;
        }
    }
    return "";
}

/* Another member that reports uuid running (NULL = none). */
static const char *reported_at(const drover_member *m, size_t n, const char *me,
                               const char *uuid)
{
    for (size_t i = 0; i < n; i++) {
        const drover_report *r = m[i].report;
        if (!r || strcmp(m[i].host, me) == 0)
            continue;
        for (size_t k = 0; k < r->n_instances; k++)
            if (r->instances[k].uuid && strcasecmp(r->instances[k].uuid, uuid) == 0 &&
                r->instances[k].state && strcmp(r->instances[k].state, "running") == 0)
                return m[i].host;
    }
    return NULL;
}

static int journal(const dv_config *cfg, dv_evac **v, size_t *n, drover_error *err)
{
    dv_store *st;
    int rc;

    *v = NULL;
    *n = 0;
    if (dv_store_open(cfg, &st, err) < 0)
        return -1;
    rc = dv_evac_list(st, v, n, err);
    dv_store_close(st);
    return rc;
}

typedef struct kill_job {
    char uuid[40];
    bool found;
} kill_job;

static int kill_fn(dv_virt *v, void *arg, drover_error *err)
{
    kill_job *j = arg;
    return dv_virt_destroy_undefine(v, j->uuid, &j->found, err);
}

static int remove_one(dv_virt *v, int timeout_ms, const dv_virt_dom *d, const char *where,
                      drover_error *err)
{
    kill_job *j = calloc(1, sizeof *j);
    dv_call_status st = DV_CALL_UNREACHABLE;

    if (!j)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_AGENT, "out of memory");
    snprintf(j->uuid, sizeof j->uuid, "%s", d->uuid);
    if (dv_virt_call_wake(v, timeout_ms, -1, kill_fn, j, free, &st, err) < 0) {
        if (st != DV_CALL_TIMEOUT && st != DV_CALL_WOKEN)
            free(j);
        return -1;
    }
    free(j);
    dv_log(DV_LOG_WARNING, "guest %s (%s) was evacuated to %s while this host was away: its "
           "stale copy here is destroyed and undefined", d->name, d->uuid, where);
    return 0;
}

static int remove_stale_on(const dv_config *cfg, dv_virt *v, const dv_evac *ev, size_t nev,
                           const drover_member *m, size_t nm, size_t *removed,
                           drover_error *err)
{
    const char *me = cfg->agent.host;
    dv_virt_dom *d = NULL;
    size_t n = 0;
    int rc = 0;

    if (list_on(v, cfg->agent.libvirt_timeout_ms, false, &d, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *where = rebuilt_at(ev, nev, me, d[i].uuid);
        if (!*where && !dv_virt_state_active(d[i].state))
            where = reported_at(m, nm, me, d[i].uuid);
        if (!where || !*where)
            continue;
        rc = remove_one(v, cfg->agent.libvirt_timeout_ms, &d[i], where, err);
        *removed += rc == 0;
    }
    dv_virt_doms_free(d, n);
    return rc;
}

int dv_agent_remove_stale(const dv_config *cfg, dv_sg *sg, size_t *removed, drover_error *err)
{
    drover_member *m = NULL;
    dv_evac *ev = NULL;
    size_t nm = 0, nev = 0;
    dv_virt *v = NULL;
    int rc = -1;

    *removed = 0;
    if (journal(cfg, &ev, &nev, err) < 0) {
        dv_err_prefix(err, "cannot read the evacuation journal");
        return -1;
    }
    if (sg && dv_sg_get_all(sg, cfg->agent.group, &m, &nm, err) < 0) {
        dv_err_prefix(err, "cannot read the other members' reports");
        goto out;
    }
    if (dv_virt_new(cfg->agent.libvirt_uri, 0, keepalive_s(cfg), 3, &v, err) < 0)
        goto out;
    rc = remove_stale_on(cfg, v, ev, nev, m, nm, removed, err);
out:
    dv_virt_close(v);
    drover_members_free(m, nm);
    dv_evacs_free(ev, nev);
    return rc;
}
