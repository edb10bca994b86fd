/* zk_int.h - what the files of the zk state store share.
 *
 * Layout under R = servicegroup.zk.prefix + "/.state" (beside the driver's
 * group nodes, so the same ACLs and chroot apply):
 *   R/admin/<group>/<host>     persistent; {"disabled","reason","forced_down"}
 *   R/records/<kind>/<id>      persistent; the document
 *   R/claims/<host>            persistent; its version moves with every claim
 *   R/claims/<host>/c-<seq>    a claim {"instance","owner","mib","expires_ms"};
 *                              EPHEMERAL with DV_STORE_CLAIM_SESSION
 *   R/leases/<name>/n-<session>-<seq>  EPHEMERAL_SEQUENTIAL candidates; the
 *                              lowest is the holder
 *   R/epochs/<name>            persistent; its version is the epoch, its
 *                              data {"holder","node"} the tenure's owner
 * A store version is the znode's version + 1 (0: no node).  A fenced write
 * is one zoo_multi: a check of R/epochs/<lease> at the fence's epoch, then
 * the write. */
#ifndef DV_STORE_ZK_INT_H
#define DV_STORE_ZK_INT_H

#include "store/store.h"
#include "store/zk_session.h"

typedef struct zk_tenure {
    char *name;            /* lease name */
    char *node;            /* our candidate node's full path */
    uint64_t gen;          /* the session that made it */
} zk_tenure;

typedef struct zk_store {
    dv_store base;
    zs_session zs;
    char *root;            /* R */
    zk_tenure *ten;
    size_t n_ten;
} zk_store;

#define ZK(st) ((zk_store *)(st))

char *zk_path(const zk_store *z, const char *a, const char *b, const char *c);
int zk_nomem(drover_error *err);
/* Let the server this session reads from catch up with the leader, so a
 * read that follows sees every write committed before it, whoever made
 * it (ZooKeeper reads are otherwise served from a follower's state). */
void zk_sync(zk_store *z);
/* Make every missing component of path (persistent, empty). */
int zk_make_path(zk_store *z, const char *path, drover_error *err);
/* Data of path into *data (malloc'ed, NUL-ended); zrc of the read. */
int zk_read(zk_store *z, const char *path, char **data, struct Stat *stat, drover_error *err);
/* Children of path (ZNONODE gives none); zrc. */
int zk_children(zk_store *z, const char *path, struct String_vector *kids, struct Stat *stat,
                drover_error *err);
/* The children of R/a[/b] (b may be NULL), and its Stat if stat: 1 when
 * listed (the caller deallocates *kids), 0 when there is no such node
 * (*kids empty), -1 with err set ("<op> <what>: ..."). */
int zk_list_at(zk_store *z, const char *a, const char *b, struct String_vector *kids,
               struct Stat *stat, const char *op, const char *what, drover_error *err);
/* Write path conditionally (zk_version: -1 any, ZK_CREATE must not exist,
 * else the znode version), fenced; creates parents.  *new_version = the
 * store version written.  Errors set (CONFLICT for a moved version or a
 * stale fence). */
#define ZK_CREATE (-2)
int zk_put(zk_store *z, const char *path, const char *data, int zk_version,
           const dv_fence *fence, int64_t *new_version, const char *what, drover_error *err);
int zk_delete(zk_store *z, const char *path, int zk_version, const dv_fence *fence,
              const char *what, drover_error *err);
/* The epoch path of a lease, and a refused fence's message. */
int zk_stale(zk_store *z, const dv_fence *fence, drover_error *err);

/* The failing op of a refused multi. */
static inline int zk_failed_at(const zoo_op_result_t *res, int n)
{
    for (int i = 0; i < n; i++)
        if (res[i].err != ZOK && res[i].err != ZRUNTIMEINCONSISTENCY)
            return i;
    return n - 1;
}

/* A store version (DV_STORE_*) as a znode version for zk_put. */
static inline int zk_version_of(int64_t expected)
{
    return expected == DV_STORE_ANY ? -1 : expected == DV_STORE_NEW ? ZK_CREATE
                                                                    : (int)(expected - 1);
}

/* zk_records.c */
int zk_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                  int64_t expected, const dv_fence *fence, int64_t *new_version,
                  drover_error *err);
int zk_record_get(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                  drover_error *err);
int zk_record_list(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                   drover_error *err);
int zk_record_delete(dv_store *st, const char *kind, const char *id, int64_t expected,
                     const dv_fence *fence, drover_error *err);
int zk_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err);

/* zk_claims.c */
int zk_claim_try(dv_store *st, const char *host, const char *instance_uuid, const char *owner,
                 uint64_t memory_mib, uint64_t capacity_mib, int ttl_s, int flags,
                 const dv_fence *fence, int64_t *claim_id, drover_error *err);
int zk_claim_release(dv_store *st, const char *host, int64_t claim_id, const dv_fence *fence,
                     drover_error *err);
int zk_claim_list(dv_store *st, const char *host, dv_store_claim **out, size_t *n,
                  drover_error *err);
int zk_claim_sums(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err);
int zk_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err);

/* zk_lease.c */
int zk_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                     int64_t *epoch, drover_error *err);
int zk_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                   int ttl_ms, drover_error *err);
int zk_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                     drover_error *err);
int zk_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err);
int zk_lease_list(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err);
void zk_tenures_free(zk_store *z);

#endif
