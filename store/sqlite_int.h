/* sqlite_int.h - what the files of the sqlite state store share.
 *
 * The store lives in the state db file (state.path).  core/statedb.c makes,
 * checks and upgrades the file and its tables (admin, claim: what a state
 * db written before the store already holds); the store's own tables
 * (admin versions, claim owners, records, leases) are made by
 * sqlite_schema.c under a store_schema version row.  The store then reads
 * and writes all of them itself (sqlite_state.c, sqlite_records.c).
 *
 * Every statement runs on the store's one connection, and every write is
 * one IMMEDIATE transaction holding its checks (the lease row of a fence,
 * a version, the room on a host) and its writes: SQLite's write lock is
 * the only lock, across every process sharing the file. */
#ifndef DV_STORE_SQLITE_INT_H
#define DV_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "core/statedb.h"
#include "store/store.h"

enum {
    Q_FENCE,
    Q_ADMIN_VER,
    Q_ADMIN_GET,
    Q_ADMIN_LIST,
    Q_SET_DISABLED,
    Q_SET_FORCED,
    Q_CLAIM_SUM,
    Q_CLAIM_PURGE,
    Q_CLAIM_ADD,
    Q_CLAIM_DEL,
    Q_ADMIN_BUMP,
    Q_OWNER_ADD,
    Q_OWNER_DEL,
    Q_OWNER_GC,
    Q_CLAIM_LIST,
    Q_CLAIM_SUMS,
    Q_REC_GET,
    Q_REC_PUT,
    Q_REC_DEL,
    Q_REC_LIST,
    Q_LEASE_GET,
    Q_LEASE_PUT,
    Q_LEASE_LIST,
    Q_COUNT_ADMIN,
    Q_COUNT_CLAIMS,
    Q_COUNT_RECORDS,
    Q_COUNT_LEASES,
    Q_SLOTS
};

typedef struct sq_store {
    dv_store base;
    sqlite3 *db;
    char *path;
    int busy_ms;
    sqlite3_stmt *q[Q_SLOTS];
} sq_store;

#define SQ(st) ((sq_store *)(st))

/* sqlite_schema.c: bring the store's tables to this build's version. */
int sq_schema_apply(sq_store *s, drover_error *err);
int sq_schema_version(sq_store *s, int *version, drover_error *err);
int sq_info(dv_store *st, dv_store_info *info, drover_error *err);
#define SQ_SCHEMA_VERSION 1

/* sqlite.c: helpers */
sqlite3_stmt *sq_stmt(sq_store *s, int slot, const char *sql, drover_error *err);
int sq_fail(sq_store *s, int rc, const char *what, drover_error *err);
int sq_begin(sq_store *s, drover_error *err);
int sq_commit(sq_store *s, drover_error *err);
void sq_rollback(sq_store *s);
/* Inside a transaction: 0 when fence is NULL or still current. */
int sq_fence_check(sq_store *s, const dv_fence *fence, drover_error *err);
int64_t sq_now(sq_store *s);
char *sq_col_dup(sqlite3_stmt *q, int col);
/* Column col of the one row sql (?1 = a, ?2 = b) gives; 0 when no row. */
int sq_int_of(sq_store *s, int slot, const char *sql, const char *a, const char *b, int col,
              int64_t *v, const char *what, drover_error *err);
int sq_nomem(drover_error *err);

/* How sq_rows_read turns a statement's rows into an array of elements. */
typedef struct sq_rows {
    const char *what;              /* "listing claims": for the message */
    size_t sz;                     /* of one element */
    /* Fill item (zeroed) from q's row; -1 when out of memory (what it took
     * is freed with the rest by drop). */
    int (*fill)(sq_store *s, sqlite3_stmt *q, void *item);
    void (*drop)(void *v, size_t n);   /* frees n elements and v */
} sq_rows;

/* Step q (bound already) to its end, one element of *v (empty) a row, and
 * reset it.  On a failure nothing is kept: *v NULL, *n 0. */
int sq_rows_read(sq_store *s, sqlite3_stmt *q, const sq_rows *how, void **v, size_t *n,
                 drover_error *err);

/* sqlite_state.c: admin state and claims */
int sq_admin_get(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                 drover_error *err);
int sq_admin_list(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                  drover_error *err);
int sq_admin_set(dv_store *st, const char *group, const char *host,
                 const dv_store_admin_change *chg, int64_t expected, const dv_fence *fence,
                 int64_t *new_version, drover_error *err);
int sq_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err);
int sq_claim_try(dv_store *st, const char *host, const char *instance_uuid, const char *owner,
                 uint64_t memory_mib, uint64_t capacity_mib, int ttl_s, int flags,
                 const dv_fence *fence, int64_t *claim_id, drover_error *err);
int sq_claim_release(dv_store *st, const char *host, int64_t claim_id, const dv_fence *fence,
                     drover_error *err);

/* sqlite_records.c */
int sq_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                  int64_t expected, const dv_fence *fence, int64_t *new_version,
                  drover_error *err);
int sq_record_get(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                  drover_error *err);
int sq_record_list(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                   drover_error *err);
int sq_record_delete(dv_store *st, const char *kind, const char *id, int64_t expected,
                     const dv_fence *fence, drover_error *err);
int sq_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                     int64_t *epoch, drover_error *err);
int sq_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                   int ttl_ms, drover_error *err);
int sq_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                     drover_error *err);
int sq_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err);
int sq_lease_list(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err);
int sq_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err);

#endif
