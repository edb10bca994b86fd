/* sqlite_int.h - what the files of the sqlite state store share.
 *
 * The store lives in the state db file (state.path).  Admin state and
 * claims are core/statedb.c's tables, written through its dv_statedb_*
 * functions on its own connection; the store's own tables (admin versions,
 * claim owners, records, leases) are made by sqlite_schema.c under a
 * store_schema version row, on a second connection to the same file.
 *
 * A check on the store's connection and a write on statedb's cannot be one
 * SQLite transaction, so every store write takes the store lock first: an
 * exclusive flock on "<state.path>-lock" held across the check and the
 * write.  Lease changes take it too, so no new epoch can be made between a
 * fenced write's check and its write; admin reads take it shared, so the
 * state and its version are read as one writer left them.  Store-only writes are, besides, one
 * IMMEDIATE transaction each (the lease row is checked in the same
 * transaction as a fenced record write). */
#ifndef DV_STORE_SQLITE_INT_H
#define DV_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "core/statedb.h"
#include "store/store.h"

enum {
    Q_FENCE,
    Q_ADMIN_VER,
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
    dv_statedb *sdb;
    sqlite3 *db;
    char *path;
    int lock_fd;
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
int sq_lock(sq_store *s, drover_error *err);
void sq_unlock(sq_store *s);
/* Inside a transaction: 0 when fence is NULL or still current. */
int sq_fence_check(sq_store *s, const dv_fence *fence, drover_error *err);
int64_t sq_now(sq_store *s);
char *sq_col_dup(sqlite3_stmt *q, int col);
int sq_nomem(drover_error *err);

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
