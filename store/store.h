/* store.h - the state store: what every controller, scheduler and CLI of a
 * deployment must see alike, on every machine.
 *
 *   admin state   per member (group, host): disabled + reason, forced_down
 *   claims        memory reserved on a host until released or expired, so
 *                 two schedulers never overcommit it
 *   records       a versioned JSON document per (kind, id): the migrator's
 *                 records and the evacuation journal are kinds
 *   leases        leader leases with fencing tokens (epochs)
 *
 * One const struct of operations per backend, registered by name (like
 * drivers/servicegroup.h): "sqlite" (one machine, or a file every machine
 * shares) and "zk" (ZooKeeper, the deployment's distributed engine).  A NULL
 * slot is "not supported": the dv_store_* wrappers turn it into
 * DROVER_ERR_UNSUPPORTED.  Callers use the wrappers, never the slots.
 *
 * Rules every backend keeps:
 *  - Writes are conditional.  expected_version DV_STORE_NEW means "must not
 *    exist yet", a positive value "must still be this version",
 *    DV_STORE_ANY "whatever is there".  A version that moved is
 *    DROVER_ERR_CONFLICT, and nothing is written: of two writers holding
 *    the same version, exactly one wins.
 *  - A write made on behalf of a lease passes a dv_fence (lease name, its
 *    epoch).  Once a newer epoch of that lease exists the write is refused
 *    with DROVER_ERR_CONFLICT ("stale epoch N; lease X is now held by Y at
 *    epoch M") and nothing is written; the check and the write are one
 *    atomic step.  fence NULL: an unfenced write.
 *  - A backend that cannot be asked fails with DROVER_ERR_UNREACHABLE within
 *    a bounded time; it never falls back to local state.
 *  - Names (group, host, kind, id, lease name) pass dv_name_check(); the
 *    wrappers check.
 */
#ifndef DV_STORE_H
#define DV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"

#define DV_STORE_OPS_VERSION 1

#define DV_STORE_ANY (-1)   /* expected_version: unconditional */
#define DV_STORE_NEW 0      /* expected_version: create only */

/* A fencing token: the write is refused once lease has an epoch > epoch. */
typedef struct dv_fence {
    const char *lease;
    int64_t epoch;
} dv_fence;

typedef struct dv_store_admin {
    char *host;
    bool disabled;
    char *reason;          /* NULL when none */
    bool forced_down;
    int64_t version;       /* 0: never set through the store */
} dv_store_admin;

/* What an admin write changes: -1 leaves a field as it is.  Enabling
 * (disabled 0) forgets the reason, as Nova does. */
typedef struct dv_store_admin_change {
    int disabled;
    const char *reason;
    int forced_down;
} dv_store_admin_change;

typedef struct dv_store_claim {
    int64_t id;
    char *host;
    char *instance_uuid;
    char *owner;           /* who placed it ("" when unknown) */
    uint64_t memory_mib;
    int64_t expires_ms;    /* wall clock */
} dv_store_claim;

/* claim_try flags */
#define DV_STORE_CLAIM_SESSION 1   /* zk: also vanish with this handle's session */

typedef struct dv_store_claim_sum {
    char *host;
    uint64_t mib;          /* held by unexpired claims */
    size_t count;
} dv_store_claim_sum;

typedef struct dv_store_record {
    char *kind, *id;
    char *json;
    int64_t version;       /* >= 1 */
} dv_store_record;

typedef struct dv_store_lease {
    char *name;
    char *holder;          /* "" when nobody holds it now */
    int64_t epoch;         /* grows with every new holder; 0 = never held */
    int64_t expires_ms;    /* wall clock; 0 = while the holder's session lives (zk) */
} dv_store_lease;

typedef struct dv_store_info {
    char backend[16];
    char where[600];       /* the file, or hosts + root znode */
    int schema;            /* the store's own schema version */
    size_t admin, claims, records, leases;
} dv_store_info;

struct dv_store_ops;

typedef struct dv_store {
    const struct dv_store_ops *ops;
    const dv_config *cfg;  /* borrowed; outlives the store */
    dv_clock clock;        /* what "now" is for claims and sqlite leases */
} dv_store;

typedef struct dv_store_ops {
    int version;           /* DV_STORE_OPS_VERSION */
    const char *name;      /* "sqlite", "zk" */

    int (*open)(const dv_config *cfg, dv_store **out, drover_error *err);
    void (*close)(dv_store *st);
    int (*info)(dv_store *st, dv_store_info *info, drover_error *err);

    int (*admin_get)(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                     drover_error *err);
    /* Members of group with any admin state set, sorted by host. */
    int (*admin_list)(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                      drover_error *err);
    int (*admin_set)(dv_store *st, const char *group, const char *host,
                     const dv_store_admin_change *chg, int64_t expected_version,
                     const dv_fence *fence, int64_t *new_version, drover_error *err);

    /* dv_statedb_claim_try's contract: atomically, if the unexpired claims
     * on host plus memory_mib fit in capacity_mib, add a claim expiring
     * ttl_s from now; otherwise DROVER_ERR_CONFLICT saying how much is
     * claimed already. */
    int (*claim_try)(dv_store *st, const char *host, const char *instance_uuid,
                     const char *owner, uint64_t memory_mib, uint64_t capacity_mib, int ttl_s,
                     int flags, const dv_fence *fence, int64_t *claim_id, drover_error *err);
    /* A claim that is gone already is not an error. */
    int (*claim_release)(dv_store *st, const char *host, int64_t claim_id,
                         const dv_fence *fence, drover_error *err);
    /* Unexpired claims; host NULL = every host.  Sorted by host, id. */
    int (*claim_list)(dv_store *st, const char *host, dv_store_claim **out, size_t *n,
                      drover_error *err);
    /* MiB held per host by unexpired claims, every host in one call. */
    int (*claim_sums)(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err);

    int (*record_put)(dv_store *st, const char *kind, const char *id, const char *json,
                      int64_t expected_version, const dv_fence *fence, int64_t *new_version,
                      drover_error *err);
    /* DROVER_ERR_NOT_FOUND when there is none. */
    int (*record_get)(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                      drover_error *err);
    /* Every record of kind, sorted by id. */
    int (*record_list)(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                       drover_error *err);
    /* DROVER_ERR_NOT_FOUND when there is none (with DV_STORE_ANY: no error). */
    int (*record_delete)(dv_store *st, const char *kind, const char *id,
                         int64_t expected_version, const dv_fence *fence, drover_error *err);

    /* Become the holder (or stay it): *epoch is the epoch of this tenure,
     * new (greater than any before) when the holder changed.  Held by
     * someone else: DROVER_ERR_CONFLICT naming the holder and epoch.
     * sqlite: the lease lapses ttl_ms after the last acquire or renew.
     * zk: it lasts as long as this handle's ZooKeeper session
     * (servicegroup.zk.session_timeout_ms); ttl_ms is not used.  One
     * holder per handle and lease name. */
    int (*lease_acquire)(dv_store *st, const char *name, const char *holder, int ttl_ms,
                         int64_t *epoch, drover_error *err);
    /* Still the holder at epoch: extend.  Otherwise DROVER_ERR_CONFLICT:
     * the caller lost the lease and must stop acting on it. */
    int (*lease_renew)(dv_store *st, const char *name, const char *holder, int64_t epoch,
                       int ttl_ms, drover_error *err);
    /* Give it up (not holding it is no error). */
    int (*lease_release)(dv_store *st, const char *name, const char *holder, int64_t epoch,
                         drover_error *err);
    /* DROVER_ERR_NOT_FOUND for a lease never acquired. */
    int (*lease_get)(dv_store *st, const char *name, dv_store_lease *out, drover_error *err);
    int (*lease_list)(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err);

    /* The groups with admin state (DV_STORE_GROUPS) or the record kinds
     * (DV_STORE_KINDS), sorted; free with dv_strv_free(). */
    int (*list_names)(dv_store *st, int what, char ***names, size_t *n, drover_error *err);
} dv_store_ops;

#define DV_STORE_GROUPS 1
#define DV_STORE_KINDS 2

/* ---- the registry */
const dv_store_ops *dv_store_find(const char *name, drover_error *err);
const char *const *dv_store_names(void);

/* The backend a config means: state.backend, or when it is "auto" the rule of
 * drover.conf(5): "zk" with the zk servicegroup driver, else "sqlite". */
const char *dv_store_backend(const dv_config *cfg);
/* The sqlite store's file: state.path; with the db driver and state.path
 * left at its default, "state.db" in servicegroup.db.path's directory. */
int dv_store_sqlite_path(const dv_config *cfg, char *buf, size_t size, drover_error *err);
/* A warning for a pairing that cannot be shared across the machines the
 * config names (into buf, "" when none).  Returns whether there is one. */
bool dv_store_config_warning(const dv_config *cfg, char *buf, size_t size);

int dv_store_open(const dv_config *cfg, dv_store **out, drover_error *err);
int dv_store_open_ops(const dv_store_ops *ops, const dv_config *cfg, dv_store **out,
                      drover_error *err);
void dv_store_close(dv_store *st);

int dv_store_info_get(dv_store *st, dv_store_info *info, drover_error *err);

int dv_store_admin_get(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                       drover_error *err);
int dv_store_admin_list(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                        drover_error *err);
int dv_store_admin_set(dv_store *st, const char *group, const char *host,
                       const dv_store_admin_change *chg, int64_t expected_version,
                       const dv_fence *fence, int64_t *new_version, drover_error *err);

int dv_store_claim_try(dv_store *st, const char *host, const char *instance_uuid,
                       const char *owner, uint64_t memory_mib, uint64_t capacity_mib, int ttl_s,
                       int flags, const dv_fence *fence, int64_t *claim_id, drover_error *err);
int dv_store_claim_release(dv_store *st, const char *host, int64_t claim_id,
                           const dv_fence *fence, drover_error *err);
int dv_store_claim_list(dv_store *st, const char *host, dv_store_claim **out, size_t *n,
                        drover_error *err);
int dv_store_claim_sums(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err);
/* MiB held on one host (from claim_sums). */
int dv_store_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err);

int dv_store_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                        int64_t expected_version, const dv_fence *fence, int64_t *new_version,
                        drover_error *err);
int dv_store_record_get(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                        drover_error *err);
int dv_store_record_list(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                         drover_error *err);
int dv_store_record_delete(dv_store *st, const char *kind, const char *id,
                           int64_t expected_version, const dv_fence *fence, drover_error *err);

int dv_store_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                           int64_t *epoch, drover_error *err);
int dv_store_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                         int ttl_ms, drover_error *err);
int dv_store_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                           drover_error *err);
int dv_store_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err);
int dv_store_lease_list(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err);

int dv_store_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err);

/* Carry everything of from into to (store/copy.c): admin state of every
 * group, unexpired claims (a claim of the same instance on the same host
 * already in to is not made twice), records (written where they differ).
 * Leases are not carried: they belong to running processes.  Running it
 * twice changes nothing the second time. */
typedef struct dv_store_copy_stats {
    size_t admin, claims, records, unchanged;
} dv_store_copy_stats;
int dv_store_copy(dv_store *from, dv_store *to, dv_store_copy_stats *stats, drover_error *err);

/* ---- freeing what the calls return */
void dv_store_admin_clear(dv_store_admin *a);
void dv_store_admins_free(dv_store_admin *a, size_t n);
void dv_store_claims_free(dv_store_claim *c, size_t n);
void dv_store_claim_sums_free(dv_store_claim_sum *s, size_t n);
void dv_store_record_clear(dv_store_record *r);
void dv_store_records_free(dv_store_record *r, size_t n);
void dv_store_lease_clear(dv_store_lease *l);
void dv_store_leases_free(dv_store_lease *l, size_t n);

/* The message of a refused fenced write, for backends: fills err. */
int dv_store_stale(drover_error *err, drover_domain domain, const dv_fence *fence,
                   const char *holder, int64_t epoch);

/* The backends (each also adds itself to store/registry.c). */
extern const dv_store_ops dv_store_sqlite_ops;
extern const dv_store_ops dv_store_zk_ops;

#endif
