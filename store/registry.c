/* registry.c - find a state store backend by name; guard every call. */
#include "store/store.h"
#include "core/log.h"
#include "core/model.h"
#include "core/statedb.h"
#include "core/registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line per backend: a backend file adds itself here. */
static const void *const registry[] = {
    &dv_store_sqlite_ops,
    &dv_store_zk_ops,
};
#define N_BACKENDS (sizeof registry / sizeof registry[0])

DV_REGISTRY_ADAPTER(dv_store_ops, registry, dv_store_find, dv_store_names, "state store backend",
                    "state.backend", DV_STORE_OPS_VERSION, DROVER_ERR_CONFIG, DROVER_FROM_STATE)

/* state.backend may name a backend, or "auto" (the servicegroup driver's
 * natural pair, dv_store_backend). */
__attribute__((constructor)) static void backends_to_config(void)
{
    static const char *v[N_BACKENDS + 2] = { "auto" };
    const char *const *names = dv_store_names();

    for (size_t i = 0; i < N_BACKENDS; i++)
        v[i + 1] = names[i];
    dv_config_set_names("state.backend", v);
}

/* ---------------------------------------------------------------- config rules */

const char *dv_store_backend(const dv_config *cfg)
{
    const char *b = cfg->state.backend;

    if (b && *b && strcmp(b, "auto") != 0)
        return b;
    return cfg->servicegroup.driver && strcmp(cfg->servicegroup.driver, "zk") == 0 ? "zk"
                                                                                  : "sqlite";
}

#define DEFAULT_STATE_PATH "/var/lib/drover/state.db"

int dv_store_sqlite_path(const dv_config *cfg, char *buf, size_t size, drover_error *err)
{
    const char *path = cfg->state.path, *db = cfg->servicegroup.db.path;
    int n;

    if (cfg->servicegroup.driver && strcmp(cfg->servicegroup.driver, "db") == 0 && db &&
        strcmp(path, DEFAULT_STATE_PATH) == 0) {
        /* the db driver's file is already where every machine looks */
        const char *slash = strrchr(db, '/');
        int dirlen = slash ? (int)(slash - db) : 1;
        n = slash ? snprintf(buf, size, "%.*s/state.db", dirlen, db)
                  : snprintf(buf, size, "state.db");
    } else {
        n = snprintf(buf, size, "%s", path);
    }
    if (n < 0 || (size_t)n >= size)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_STATE, "state.path is too long");
    return 0;
}

bool dv_store_config_warning(const dv_config *cfg, char *buf, size_t size)
{
    const char *b = dv_store_backend(cfg), *d = cfg->servicegroup.driver;

    buf[0] = '\0';
    if (strcmp(b, "sqlite") == 0 && d && strcmp(d, "zk") == 0)
        snprintf(buf, size,
                 "state.backend \"sqlite\" with servicegroup.driver \"zk\": the state store is"
                 " the file %s on this machine; controllers and CLIs on other machines will not"
                 " see its admin state, claims, records or leases (use backend \"zk\")",
                 cfg->state.path);
    else if (strcmp(b, "sqlite") == 0 && d && strcmp(d, "mc") == 0 &&
             cfg->servicegroup.mc.servers.n > 0 &&
             strncmp(cfg->servicegroup.mc.servers.v[0], "127.", 4) != 0 &&
             strncmp(cfg->servicegroup.mc.servers.v[0], "localhost", 9) != 0)
        snprintf(buf, size,
                 "state.backend \"sqlite\" with servicegroup.driver \"mc\" on a remote memcached:"
                 " the state store %s serves controllers on this machine only; pair memcached"
                 " liveness with state.backend \"zk\" to share it", cfg->state.path);
    return buf[0] != '\0';
}

/* ---------------------------------------------------------------- open / close */

int dv_store_open(const dv_config *cfg, dv_store **out, drover_error *err)
{
    const dv_store_ops *ops;
    char warning[512];

    *out = NULL;
    if (!(ops = dv_store_find(dv_store_backend(cfg), err)))
        return -1;
    if (dv_store_config_warning(cfg, warning, sizeof warning))
        dv_warn("%s", warning);
    return dv_store_open_ops(ops, cfg, out, err);
}

int dv_store_open_ops(const dv_store_ops *ops, const dv_config *cfg, dv_store **out,
                      drover_error *err)
{
    *out = NULL;
    if (ops->version != DV_STORE_OPS_VERSION)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_STATE,
                      "state store backend \"%s\" has interface version %d; this build expects %d",
                      ops->name, ops->version, DV_STORE_OPS_VERSION);
    if (!ops->open)
        return dv_err(err, DROVER_ERR_UNSUPPORTED, DROVER_FROM_STATE,
                      "state store backend \"%s\" cannot be opened", ops->name);
    if (ops->open(cfg, out, err) < 0)
        return -1;
    (*out)->ops = ops;
    (*out)->cfg = cfg;
    return 0;
}

void dv_store_close(dv_store *st)
{
    if (st && st->ops->close)
        st->ops->close(st);
}

/* ---------------------------------------------------------------- guards */

static int unsupported(const dv_store *st, const char *op, drover_error *err)
{
    return dv_err(err, DROVER_ERR_UNSUPPORTED, DROVER_FROM_STATE,
                  "state store backend \"%s\" does not support %s", st->ops->name, op);
}

/* Each of a, b that is not NULL must be a valid name. */
static int check_names(const char *op, const char *wa, const char *a, const char *wb,
                       const char *b, drover_error *err)
{
    if ((wa && dv_name_check(wa, a, err) < 0) || (wb && dv_name_check(wb, b, err) < 0)) {
        if (err)
            err->domain = DROVER_FROM_STATE;
        dv_err_prefix(err, "%s", op);
        return -1;
    }
    return 0;
}

static int check_write(const char *op, int64_t expected, const dv_fence *fence,
                       drover_error *err)
{
    if (expected < DV_STORE_ANY)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "%s: expected version %" PRId64 " is not a version", op, expected);
    if (fence && (check_names(op, "lease", fence->lease, NULL, NULL, err) < 0))
        return -1;
    if (fence && fence->epoch <= 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "%s: fencing epoch %" PRId64 " of lease %s is not an epoch", op,
                      fence->epoch, fence->lease);
    return 0;
}

#define GUARD(op, wa, a, wb, b)                                  \
    do {                                                         \
        if (!st->ops->op)                                        \
            return unsupported(st, #op, err);                    \
        if (check_names(#op, wa, a, wb, b, err) < 0)             \
            return -1;                                           \
    } while (0)

/* The reads of one shape: nothing out until the backend answers.  A
 * listing of things under a (named wa), of everything, and a read of the
 * thing named b under a. */
#define LISTING(op, T, wa)                                                                      \
    int dv_store_##op(dv_store *st, const char *a, T **out, size_t *n, drover_error *err)       \
    {                                                                                           \
        *out = NULL;                                                                            \
        *n = 0;                                                                                 \
        GUARD(op, wa, a, NULL, NULL);                                                           \
        return st->ops->op(st, a, out, n, err);                                                 \
    }
#define LISTING_ALL(op, T)                                                                      \
    int dv_store_##op(dv_store *st, T **out, size_t *n, drover_error *err)                      \
    {                                                                                           \
        *out = NULL;                                                                            \
        *n = 0;                                                                                 \
        GUARD(op, NULL, NULL, NULL, NULL);                                                      \
        return st->ops->op(st, out, n, err);                                                    \
    }
#define READING(op, T, wa, wb)                                                                  \
    int dv_store_##op(dv_store *st, const char *a, const char *b, T *out, drover_error *err)    \
    {                                                                                           \
        memset(out, 0, sizeof *out);                                                            \
        GUARD(op, wa, a, wb, b);                                                                \
        return st->ops->op(st, a, b, out, err);                                                 \
    }

READING(admin_get, dv_store_admin, "group", "host")
LISTING(admin_list, dv_store_admin, "group")
READING(record_get, dv_store_record, "record kind", "record id")
LISTING(record_list, dv_store_record, "record kind")
LISTING(claim_list, dv_store_claim, a ? "host" : NULL)   /* every host's claims when NULL */
LISTING_ALL(claim_sums, dv_store_claim_sum)
LISTING_ALL(lease_list, dv_store_lease)

int dv_store_info_get(dv_store *st, dv_store_info *info, drover_error *err)
{
    memset(info, 0, sizeof *info);
    GUARD(info, NULL, NULL, NULL, NULL);
    snprintf(info->backend, sizeof info->backend, "%s", st->ops->name);
    return st->ops->info(st, info, err);
}

int dv_store_admin_set(dv_store *st, const char *group, const char *host,
                       const dv_store_admin_change *chg, int64_t expected_version,
                       const dv_fence *fence, int64_t *new_version, drover_error *err)
{
    int64_t dummy;

    GUARD(admin_set, "group", group, "host", host);
    if (check_write("admin_set", expected_version, fence, err) < 0)
        return -1;
    if (chg->disabled < -1 || chg->disabled > 1 || chg->forced_down < -1 || chg->forced_down > 1)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "admin_set: disabled and forced_down take -1, 0 or 1");
    return st->ops->admin_set(st, group, host, chg, expected_version, fence,
                              new_version ? new_version : &dummy, err);
}

int dv_store_claim_try(dv_store *st, const char *host, const char *instance_uuid,
                       const char *owner, uint64_t memory_mib, uint64_t capacity_mib, int ttl_s,
                       int flags, const dv_fence *fence, int64_t *claim_id, drover_error *err)
{
    *claim_id = 0;
    GUARD(claim_try, "host", host, NULL, NULL);
    if (check_write("claim_try", DV_STORE_ANY, fence, err) < 0 ||
        dv_claim_args_check(host, instance_uuid, memory_mib, capacity_mib, ttl_s, err) < 0)
        return -1;
    return st->ops->claim_try(st, host, instance_uuid, owner ? owner : "", memory_mib,
                              capacity_mib, ttl_s, flags, fence, claim_id, err);
}

int dv_store_claim_release(dv_store *st, const char *host, int64_t claim_id,
                           const dv_fence *fence, drover_error *err)
{
    GUARD(claim_release, "host", host, NULL, NULL);
    if (check_write("claim_release", DV_STORE_ANY, fence, err) < 0)
        return -1;
    return st->ops->claim_release(st, host, claim_id, fence, err);
}

int dv_store_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err)
{
    dv_store_claim *c;
    size_t n;

    *mib = 0;
    if (st->ops->claimed_mib) {
        GUARD(claimed_mib, "host", host, NULL, NULL);
        return st->ops->claimed_mib(st, host, mib, err);
    }
    if (dv_store_claim_list(st, host, &c, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        *mib += c[i].memory_mib;
    dv_store_claims_free(c, n);
    return 0;
}

int dv_store_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                        int64_t expected_version, const dv_fence *fence, int64_t *new_version,
                        drover_error *err)
{
    int64_t dummy;

    GUARD(record_put, "record kind", kind, "record id", id);
    if (check_write("record_put", expected_version, fence, err) < 0)
        return -1;
    if (!json)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE, "record %s/%s: no document",
                      kind, id);
    return st->ops->record_put(st, kind, id, json, expected_version, fence,
                               new_version ? new_version : &dummy, err);
}

int dv_store_record_delete(dv_store *st, const char *kind, const char *id,
                           int64_t expected_version, const dv_fence *fence, drover_error *err)
{
    GUARD(record_delete, "record kind", kind, "record id", id);
    if (check_write("record_delete", expected_version, fence, err) < 0)
        return -1;
    if (expected_version == DV_STORE_NEW)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "record_delete %s/%s: expected version 0 names no record", kind, id);
    return st->ops->record_delete(st, kind, id, expected_version, fence, err);
}

static int check_ttl(const char *op, int ttl_ms, drover_error *err)
{
    if (ttl_ms < 100 || ttl_ms > 86400000)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "%s: ttl %d ms is outside 100..86400000", op, ttl_ms);
    return 0;
}

int dv_store_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                           int64_t *epoch, drover_error *err)
{
    *epoch = 0;
    GUARD(lease_acquire, "lease", name, "holder", holder);
    if (check_ttl("lease_acquire", ttl_ms, err) < 0)
        return -1;
    return st->ops->lease_acquire(st, name, holder, ttl_ms, epoch, err);
}

int dv_store_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                         int ttl_ms, drover_error *err)
{
    GUARD(lease_renew, "lease", name, "holder", holder);
    if (check_ttl("lease_renew", ttl_ms, err) < 0)
        return -1;
    return st->ops->lease_renew(st, name, holder, epoch, ttl_ms, err);
}

int dv_store_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                           drover_error *err)
{
    GUARD(lease_release, "lease", name, "holder", holder);
    return st->ops->lease_release(st, name, holder, epoch, err);
}

int dv_store_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err)
{
    memset(out, 0, sizeof *out);
    GUARD(lease_get, "lease", name, NULL, NULL);
    return st->ops->lease_get(st, name, out, err);
}

int dv_store_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err)
{
    *names = NULL;
    *n = 0;
    GUARD(list_names, NULL, NULL, NULL, NULL);
    if (what != DV_STORE_GROUPS && what != DV_STORE_KINDS)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE, "list_names: what is %d", what);
    return st->ops->list_names(st, what, names, n, err);
}

int dv_store_stale(drover_error *err, drover_domain domain, const dv_fence *fence,
                   const char *holder, int64_t epoch)
{
    return dv_err(err, DROVER_ERR_CONFLICT, domain,
                  "stale epoch %" PRId64 "; lease %s is now held by %s at epoch %" PRId64,
                  fence->epoch, fence->lease, holder && *holder ? holder : "nobody", epoch);
}

/* ---------------------------------------------------------------- freeing */

void dv_store_admin_clear(dv_store_admin *a)
{
    if (!a)
        return;
    free(a->host);
    free(a->reason);
    memset(a, 0, sizeof *a);
}

void dv_store_claims_free(dv_store_claim *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].host);
        free(c[i].instance_uuid);
        free(c[i].owner);
    }
    free(c);
}

void dv_store_claim_sums_free(dv_store_claim_sum *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].host);
    free(s);
}

void dv_store_record_clear(dv_store_record *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->id);
    free(r->json);
    memset(r, 0, sizeof *r);
}

void dv_store_lease_clear(dv_store_lease *l)
{
    if (!l)
        return;
    free(l->name);
    free(l->holder);
    memset(l, 0, sizeof *l);
}

/* An array of n things, each cleared. */
#define ARRAY_FREE(fn, T, clear)                                                                \
    void fn(T *v, size_t n)                                                                     \
    {                                                                                           \
        for (size_t i = 0; v && i < n; i++)                                                     \
            clear(&v[i]);                                                                       \
        free(v);                                                                                \
    }

ARRAY_FREE(dv_store_admins_free, dv_store_admin, dv_store_admin_clear)
ARRAY_FREE(dv_store_records_free, dv_store_record, dv_store_record_clear)
ARRAY_FREE(dv_store_leases_free, dv_store_lease, dv_store_lease_clear)
