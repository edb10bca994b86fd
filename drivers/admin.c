/* admin.c - admin state in the state store, for the mc and zk drivers. */
#include "drivers/admin.h"

#include <stdlib.h>
#include <string.h>

int sg_admin_open(const dv_config *cfg, const char *driver, dv_statedb **db, drover_error *err)
{
    *db = NULL;
    if (!cfg->state.path || !*cfg->state.path)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SERVICEGROUP,
                      "state.path is empty: the %s driver keeps its member list there", driver);
    return dv_statedb_open(cfg->state.path, cfg->state.busy_timeout_ms, db, err);
}

void sg_admin_init(sg_admin *a, const dv_config *cfg)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    pthread_mutex_init(&a->mu, NULL);
}

void sg_admin_fini(sg_admin *a)
{
    if (!a->cfg)
        return;
    dv_store_close(a->st);
    pthread_mutex_destroy(&a->mu);
    memset(a, 0, sizeof *a);
}

/* With a->mu held. */
static int store_of(sg_admin *a, drover_error *err)
{
    if (a->st)
        return 0;
    if (dv_store_open(a->cfg, &a->st, err) < 0) {
        dv_err_prefix(err, "the state store holds the members' admin state");
        return -1;
    }
    return 0;
}

static int from_store(dv_admin *out, dv_store_admin *s)
{
    memset(out, 0, sizeof *out);
    out->disabled = s->disabled;
    out->forced_down = s->forced_down;
    out->host = s->host;            /* taken over */
    out->reason = s->reason;
    s->host = s->reason = NULL;
    return out->host ? 0 : -1;
}

int sg_admin_get(sg_admin *a, const char *group, const char *host, dv_admin *out,
                 drover_error *err)
{
    dv_store_admin s;
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mu);
    rc = store_of(a, err);
    if (rc == 0)
        rc = dv_store_admin_get(a->st, group, host, &s, err);
    pthread_mutex_unlock(&a->mu);
    if (rc < 0)
        return -1;
    if (!s.host && !(s.host = strdup(host))) {
        dv_store_admin_clear(&s);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SERVICEGROUP, "out of memory");
    }
    from_store(out, &s);
    dv_store_admin_clear(&s);
    return 0;
}

int sg_admin_all(sg_admin *a, const char *group, dv_admin **out, size_t *n, drover_error *err)
{
    dv_store_admin *s = NULL;
    size_t ns = 0;
    int rc;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&a->mu);
    rc = store_of(a, err);
    if (rc == 0)
        rc = dv_store_admin_list(a->st, group, &s, &ns, err);
    pthread_mutex_unlock(&a->mu);
    if (rc < 0)
        return -1;
    if (ns && !(*out = calloc(ns, sizeof **out))) {
        dv_store_admins_free(s, ns);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SERVICEGROUP, "out of memory");
    }
    /* only what is set, as the drivers' listings expect */
    for (size_t i = 0; i < ns; i++)
        if ((s[i].disabled || s[i].forced_down) && from_store(&(*out)[*n], &s[i]) == 0)
            (*n)++;
    dv_store_admins_free(s, ns);
    return 0;
}

static int admin_change(sg_admin *a, const char *group, const char *host,
                        const dv_store_admin_change *chg, drover_error *err)
{
    int64_t v;
    int rc;

    pthread_mutex_lock(&a->mu);
    rc = store_of(a, err);
    if (rc == 0)
        rc = dv_store_admin_set(a->st, group, host, chg, DV_STORE_ANY, NULL, &v, err);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int sg_admin_forget(sg_admin *a, const char *group, const char *host, drover_error *err)
{
    dv_store_admin_change chg = { .disabled = 0, .reason = NULL, .forced_down = 0 };
    dv_admin cur;

    /* nothing set: leave the store unwritten */
    if (sg_admin_get(a, group, host, &cur, err) < 0)
        return -1;
    bool set = cur.disabled || cur.forced_down;
    dv_admin_clear(&cur);
    return set ? admin_change(a, group, host, &chg, err) : 0;
}

const dv_admin *sg_admin_find(const dv_admin *a, size_t n, const char *host)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(a[mid].host, host);
        if (c == 0)
            return &a[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int sg_admin_apply(drover_member *m, const dv_admin *a, drover_error *err)
{
    if (!a)
        return 0;
    m->disabled = a->disabled;
    m->forced_down = a->forced_down;
    if (a->reason && !(m->disabled_reason = strdup(a->reason)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SERVICEGROUP, "out of memory");
    return 0;
}

int sg_admin_set_disabled(dv_sg *sg, sg_admin *a, sg_member_check need, const char *group,
                          const char *host, bool disabled, const char *reason, drover_error *err)
{
    dv_store_admin_change chg = { .disabled = disabled, .reason = reason, .forced_down = -1 };

    if (need(sg, group, host, err) < 0)
        return -1;
    return admin_change(a, group, host, &chg, err);
}

int sg_admin_set_forced_down(dv_sg *sg, sg_admin *a, sg_member_check need, const char *group,
                             const char *host, bool forced_down, drover_error *err)
{
    dv_store_admin_change chg = { .disabled = -1, .reason = NULL, .forced_down = forced_down };

    if (need(sg, group, host, err) < 0)
        return -1;
    return admin_change(a, group, host, &chg, err);
}
