/* sqlite_records.c - records and leases of the sqlite state store, each
 * write one IMMEDIATE transaction under the store lock (sqlite_int.h). */
#include "store/sqlite_int.h"
#include "core/sqlite.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- records */

/* The version of (kind, id) now; 0 when there is none. */
static int record_version(sq_store *s, const char *kind, const char *id, int64_t *v,
                          drover_error *err)
{
    return sq_int_of(s, Q_REC_GET, "SELECT json, version FROM store_record"
                                   " WHERE kind = ?1 AND id = ?2", kind, id, 1, v,
                     "reading a record", err);
}

static int version_moved(const char *kind, const char *id, int64_t cur, int64_t expected,
                         drover_error *err)
{
    if (expected == DV_STORE_NEW)
        return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                      "record %s/%s exists already (version %" PRId64 ")", kind, id, cur);
    if (cur == 0)
        return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                      "record %s/%s is gone (expected version %" PRId64 ")", kind, id, expected);
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                  "record %s/%s is at version %" PRId64 ", not %" PRId64 " any more: read it"
                  " again", kind, id, cur, expected);
}

/* Transaction, fence check, version check; then the caller writes. */
static int record_begin(sq_store *s, const char *kind, const char *id, int64_t expected,
                        const dv_fence *fence, int64_t *cur, drover_error *err)
{
    if (sq_begin(s, err) < 0)
        return -1;
    if (sq_fence_check(s, fence, err) < 0 || record_version(s, kind, id, cur, err) < 0 ||
        (expected != DV_STORE_ANY && expected != *cur &&
         version_moved(kind, id, *cur, expected, err) < 0)) {
        sq_rollback(s);
        return -1;
    }
    return 0;
}

static int record_end(sq_store *s, int rc, drover_error *err)
{
    if (rc == 0)
        rc = sq_commit(s, err);
    sq_rollback(s);
    return rc;
}

int sq_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                  int64_t expected, const dv_fence *fence, int64_t *new_version,
                  drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q;
    int64_t cur;
    int rc = -1;

    if (record_begin(s, kind, id, expected, fence, &cur, err) < 0)
        return -1;
    if ((q = sq_stmt(s, Q_REC_PUT,
                     "INSERT INTO store_record (kind, id, json, version, mtime_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, id)"
                     " DO UPDATE SET json = ?3, version = ?4, mtime_ms = ?5", err))) {
        dv_sqlite_bind_text(q, 1, kind);
        dv_sqlite_bind_text(q, 2, id);
        dv_sqlite_bind_text(q, 3, json);
        sqlite3_bind_int64(q, 4, cur + 1);
        sqlite3_bind_int64(q, 5, dv_wall_ms());
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : sq_fail(s, sqlite3_reset(q), "writing a record", err);
        sqlite3_reset(q);
    }
    if (rc == 0)
        *new_version = cur + 1;
    return record_end(s, rc, err);
}

int sq_record_delete(dv_store *st, const char *kind, const char *id, int64_t expected,
                     const dv_fence *fence, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q;
    int64_t cur;
    int rc = -1;

    /* the version is compared here: a missing record is NOT_FOUND, not a conflict */
    if (record_begin(s, kind, id, DV_STORE_ANY, fence, &cur, err) < 0)
        return -1;
    if (cur == 0) {
        rc = expected == DV_STORE_ANY ? 0
             : dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE, "no record %s/%s", kind, id);
    } else if (expected != DV_STORE_ANY && expected != cur) {
        rc = version_moved(kind, id, cur, expected, err);
    } else if ((q = sq_stmt(s, Q_REC_DEL, "DELETE FROM store_record WHERE kind = ?1 AND id = ?2",
                            err))) {
        dv_sqlite_bind_text(q, 1, kind);
        dv_sqlite_bind_text(q, 2, id);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : sq_fail(s, sqlite3_reset(q), "deleting a record", err);
        sqlite3_reset(q);
    }
    return record_end(s, rc, err);
}

static int record_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    dv_store_record *r = item;

    (void)s;
    r->version = sqlite3_column_int64(q, 3);
    return (r->kind = sq_col_dup(q, 0)) && (r->id = sq_col_dup(q, 1)) &&
           (r->json = sq_col_dup(q, 2)) ? 0 : -1;
}

#define REC_COLUMNS "SELECT kind, id, json, version FROM store_record"

static void records_drop(void *v, size_t n)
{
    dv_store_records_free(v, n);
}

static const sq_rows record_rows = { "reading records", sizeof(dv_store_record),
                                     record_from_row, records_drop };

/* Rows of q into an array; id NULL: all of kind. */
static int records_read(sq_store *s, sqlite3_stmt *q, dv_store_record **out, size_t *n,
                        drover_error *err)
{
    return sq_rows_read(s, q, &record_rows, (void **)out, n, err);
}

int sq_record_get(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                  drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_REC_LIST, REC_COLUMNS " WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
                                             " ORDER BY id", err);
    dv_store_record *r = NULL;
    size_t n = 0;

    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, kind);
    dv_sqlite_bind_text(q, 2, id);
    if (records_read(s, q, &r, &n, err) < 0)
        return -1;
    if (n == 0) {
        free(r);
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE, "no record %s/%s", kind, id);
    }
    *out = r[0];
    free(r);
    return 0;
}

int sq_record_list(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                   drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_REC_LIST, REC_COLUMNS " WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
                                             " ORDER BY id", err);

    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, kind);
    return records_read(s, q, out, n, err);
}

/* ---------------------------------------------------------------- leases */

typedef struct lease_row {
    char holder[256];
    int64_t epoch, expires_ms;
    bool found;
} lease_row;

static int lease_read(sq_store *s, const char *name, lease_row *r, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_LEASE_GET, "SELECT holder, epoch, expires_ms FROM store_lease"
                                              " WHERE name = ?1", err);
    int rc;

    memset(r, 0, sizeof *r);
    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, name);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(q, 0);
        r->found = true;
        snprintf(r->holder, sizeof r->holder, "%s", h ? h : "");
        r->epoch = sqlite3_column_int64(q, 1);
        r->expires_ms = sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "reading a lease", err);
}

static int lease_write(sq_store *s, const char *name, const char *holder, int64_t epoch,
                       int64_t expires_ms, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_LEASE_PUT,
                              "INSERT INTO store_lease (name, holder, epoch, expires_ms)"
                              " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name)"
                              " DO UPDATE SET holder = ?2, epoch = ?3, expires_ms = ?4", err);
    int rc;

    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, name);
    dv_sqlite_bind_text(q, 2, holder);
    sqlite3_bind_int64(q, 3, epoch);
    sqlite3_bind_int64(q, 4, expires_ms);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "writing a lease", err);
}

/* A lease operation: lock, transaction, the row; then op decides. */
typedef int (*lease_fn)(sq_store *s, const char *name, const char *holder, int64_t *epoch,
                        int ttl_ms, lease_row *row, drover_error *err);

static int lease_txn(sq_store *s, const char *name, const char *holder, int64_t *epoch,
                     int ttl_ms, lease_fn fn, drover_error *err)
{
    lease_row row;
    int rc;

    if (sq_begin(s, err) < 0)
        return -1;
    rc = lease_read(s, name, &row, err);
    if (rc == 0)
        rc = fn(s, name, holder, epoch, ttl_ms, &row, err);
    if (rc == 0)
        rc = sq_commit(s, err);
    sq_rollback(s);
    return rc;
}

static int do_acquire(sq_store *s, const char *name, const char *holder, int64_t *epoch,
                      int ttl_ms, lease_row *row, drover_error *err)
{
    int64_t now = sq_now(s);
    bool live = row->found && row->holder[0] && row->expires_ms > now;

    if (live && strcmp(row->holder, holder) != 0)
        return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                      "lease %s is held by %s at epoch %" PRId64 " for %" PRId64 " ms more",
                      name, row->holder, row->epoch, row->expires_ms - now);
    /* a new tenure (nobody held it, or it lapsed) gets a new epoch */
    *epoch = live ? row->epoch : row->epoch + 1;
    return lease_write(s, name, holder, *epoch, now + ttl_ms, err);
}

int sq_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                     int64_t *epoch, drover_error *err)
{
    return lease_txn(SQ(st), name, holder, epoch, ttl_ms, do_acquire, err);
}

static int lost(const char *name, const char *holder, int64_t epoch, const lease_row *row,
                int64_t now, drover_error *err)
{
    if (!row->found || row->epoch != epoch || strcmp(row->holder, holder) != 0)
        return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                      "%s lost lease %s: epoch %" PRId64 " is over; it is held by %s at epoch %"
                      PRId64, holder, name, epoch, row->holder[0] ? row->holder : "nobody",
                      row->epoch);
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
                  "%s lost lease %s: epoch %" PRId64 " lapsed %" PRId64 " ms ago", holder, name,
                  epoch, now - row->expires_ms);
}

static int do_renew(sq_store *s, const char *name, const char *holder, int64_t *epoch,
                    int ttl_ms, lease_row *row, drover_error *err)
{
    int64_t now = sq_now(s);

    if (!row->found || row->epoch != *epoch || strcmp(row->holder, holder) != 0 ||
        row->expires_ms <= now)
        return lost(name, holder, *epoch, row, now, err);
    return lease_write(s, name, holder, *epoch, now + ttl_ms, err);
}

int sq_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                   int ttl_ms, drover_error *err)
{
    return lease_txn(SQ(st), name, holder, &epoch, ttl_ms, do_renew, err);
}

static int do_release(sq_store *s, const char *name, const char *holder, int64_t *epoch,
                      int ttl_ms, lease_row *row, drover_error *err)
{
    (void)ttl_ms;
    if (!row->found || row->epoch != *epoch || strcmp(row->holder, holder) != 0)
        return 0;
    /* the epoch stays: the next holder's is greater */
    return lease_write(s, name, "", row->epoch, 0, err);
}

int sq_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                     drover_error *err)
{
    return lease_txn(SQ(st), name, holder, &epoch, 1, do_release, err);
}

static int lease_fill(sq_store *s, const char *name, const lease_row *row, dv_store_lease *out,
                      drover_error *err)
{
    bool live = row->holder[0] && row->expires_ms > sq_now(s);

    memset(out, 0, sizeof *out);
    out->epoch = row->epoch;
    out->expires_ms = live ? row->expires_ms : 0;
    if (!(out->name = strdup(name)) || !(out->holder = strdup(live ? row->holder : ""))) {
        dv_store_lease_clear(out);
        return sq_nomem(err);
    }
    return 0;
}

int sq_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err)
{
    sq_store *s = SQ(st);
    lease_row row;

    if (lease_read(s, name, &row, err) < 0)
        return -1;
    if (!row.found)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE, "no lease %s", name);
    return lease_fill(s, name, &row, out, err);
}

/* name, holder, epoch, expires_ms */
static int lease_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    lease_row row = { .found = true };
    const char *h = (const char *)sqlite3_column_text(q, 1);
    const char *name = (const char *)sqlite3_column_text(q, 0);

    snprintf(row.holder, sizeof row.holder, "%s", h ? h : "");
    row.epoch = sqlite3_column_int64(q, 2);
    row.expires_ms = sqlite3_column_int64(q, 3);
    /* its only failure is out of memory, which sq_rows_read reports */
    return lease_fill(s, name ? name : "", &row, item, NULL);
}

static void leases_drop(void *v, size_t n)
{
    dv_store_leases_free(v, n);
}

static const sq_rows lease_rows = { "listing leases", sizeof(dv_store_lease), lease_from_row,
                                    leases_drop };

int sq_lease_list(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_LEASE_LIST, "SELECT name, holder, epoch, expires_ms"
                                               " FROM store_lease ORDER BY name", err);

    return q ? sq_rows_read(s, q, &lease_rows, (void **)out, n, err) : -1;
}

/* ---------------------------------------------------------------- names */

static int name_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    (void)s;
    return (*(char **)item = sq_col_dup(q, 0)) ? 0 : -1;
}

static void names_drop(void *v, size_t n)
{
    dv_strv_free(v, n);
}

static const sq_rows name_rows = { "listing names", sizeof(char *), name_from_row, names_drop };

int sq_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q;
    int rc;

    rc = sqlite3_prepare_v2(s->db, what == DV_STORE_GROUPS
                                       ? "SELECT DISTINCT grp FROM admin ORDER BY grp"
                                       : "SELECT DISTINCT kind FROM store_record ORDER BY kind",
                            -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "listing names", err);
    rc = sq_rows_read(s, q, &name_rows, (void **)names, n, err);
    sqlite3_finalize(q);
    return rc;
}
