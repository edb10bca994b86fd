/* sqlite.c - the "sqlite" state store: the state db file (state.path)
 * behind the store interface (see sqlite_int.h for how the file is shared
 * with core/statedb.c): open, helpers, claims listed, the table.  Right for controllers on one machine, and for the
 * db servicegroup driver, whose directory every machine already shares. */
#include "store/sqlite_int.h"
#include "core/sqlite.h"
#include "core/model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

int sq_nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory");
}

int sq_fail(sq_store *s, int rc, const char *what, drover_error *err)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_STATE,
                      "state store %s: %s: %s (still locked after busy_timeout %d ms)", s->path,
                      what, msg, s->busy_ms);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_STATE, "state store %s: %s: %s",
                      s->path, what, msg);
    case SQLITE_NOMEM:
        return sq_nomem(err);
    default:
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_STATE, "state store %s: %s: %s", s->path,
                      what, msg);
    }
}

sqlite3_stmt *sq_stmt(sq_store *s, int slot, const char *sql, drover_error *err)
{
    int rc;

    if (s->q[slot]) {
        sqlite3_reset(s->q[slot]);
        sqlite3_clear_bindings(s->q[slot]);
        return s->q[slot];
    }
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->q[slot], NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, "preparing a statement", err);
        return NULL;
    }
    return s->q[slot];
}

int sq_begin(sq_store *s, drover_error *err)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(s, rc, "starting a transaction", err);
}

int sq_commit(sq_store *s, drover_error *err)
{
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);

    if (rc == SQLITE_OK)
        return 0;
    sq_fail(s, rc, "committing", err);
    sq_rollback(s);
    return -1;
}

void sq_rollback(sq_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t sq_now(sq_store *s)
{
    return dv_clock_now(&s->base.clock);
}

char *sq_col_dup(sqlite3_stmt *q, int col)
{
    const char *t = (const char *)sqlite3_column_text(q, col);
    return strdup(t ? t : "");
}

int sq_fence_check(sq_store *s, const dv_fence *fence, drover_error *err)
{
    sqlite3_stmt *q;
    int64_t epoch = 0;
    char *holder = NULL;
    int rc;

    if (!fence)
        return 0;
    if (!(q = sq_stmt(s, Q_FENCE, "SELECT holder, epoch, expires_ms FROM store_lease"
                                  " WHERE name = ?1", err)))
        return -1;
    dv_sqlite_bind_text(q, 1, fence->lease);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        epoch = sqlite3_column_int64(q, 1);
        holder = sq_col_dup(q, 0);
        if (sqlite3_column_int64(q, 2) <= sq_now(s) && holder) {
            holder[0] = '\0';   /* expired: nobody holds it now */
        }
    } else if (rc != SQLITE_DONE) {
        sq_fail(s, rc, "reading a lease", err);
        sqlite3_reset(q);
        return -1;
    }
    sqlite3_reset(q);
    if (epoch == fence->epoch) {
        free(holder);
        return 0;
    }
    dv_store_stale(err, DROVER_FROM_STATE, fence, holder, epoch);
    free(holder);
    return -1;
}

/* ---------------------------------------------------------------- open / close */

static void sq_close(dv_store *st)
{
    sq_store *s = SQ(st);

    if (!s)
        return;
    for (int i = 0; i < Q_SLOTS; i++)
        sqlite3_finalize(s->q[i]);
    if (s->db)
        sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static int sq_open(const dv_config *cfg, dv_store **out, drover_error *err)
{
    char path[1024];
    dv_statedb *sdb;
    sq_store *s;
    int rc;

    *out = NULL;
    if (dv_store_sqlite_path(cfg, path, sizeof path, err) < 0)
        return -1;
    if (!(s = calloc(1, sizeof *s)))
        return sq_nomem(err);
    s->busy_ms = cfg->state.busy_timeout_ms;
    if (!(s->path = strdup(path))) {
        free(s);
        return sq_nomem(err);
    }
    /* statedb makes, checks and upgrades the file (its schema steps); then
     * everything runs on this one connection (sqlite_state.c) */
    if (dv_statedb_open(path, s->busy_ms, &sdb, err) < 0)
        goto fail;
    dv_statedb_close(sdb);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, "opening", err);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, s->busy_ms);
    if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sq_schema_apply(s, err) < 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    sq_close(&s->base);
    return -1;
}

/* ---------------------------------------------------------------- claims listed */

static int claim_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    dv_store_claim *c = item;

    (void)s;
    c->id = sqlite3_column_int64(q, 0);
    c->memory_mib = (uint64_t)sqlite3_column_int64(q, 4);
    c->expires_ms = sqlite3_column_int64(q, 5);
    if (!(c->host = sq_col_dup(q, 1)) || !(c->instance_uuid = sq_col_dup(q, 2)) ||
        !(c->owner = sq_col_dup(q, 3)))
        return -1;
    return 0;
}

static void claims_drop(void *v, size_t n)
{
    dv_store_claims_free(v, n);
}

static const sq_rows claim_rows = { "listing claims", sizeof(dv_store_claim), claim_from_row,
                                    claims_drop };

int sq_int_of(sq_store *s, int slot, const char *sql, const char *a, const char *b, int col,
              int64_t *v, const char *what, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, slot, sql, err);
    int rc;

    *v = 0;
    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, a);
    dv_sqlite_bind_text(q, 2, b);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(q, col);
    sqlite3_reset(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, rc, what, err);
}

int sq_rows_read(sq_store *s, sqlite3_stmt *q, const sq_rows *how, void **v, size_t *n,
                 drover_error *err)
{
    size_t cap = 0;
    int rc;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        /* counted before it is filled: drop frees a half-filled one too */
        if (dv_grow(v, *n, &cap, how->sz) < 0 ||
            how->fill(s, q, (char *)*v + (*n)++ * how->sz) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return 0;
    how->drop(*v, *n);
    *v = NULL;
    *n = 0;
    return rc == SQLITE_NOMEM ? sq_nomem(err) : sq_fail(s, rc, how->what, err);
}

static int sq_claim_list(dv_store *st, const char *host, dv_store_claim **out, size_t *n,
                         drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_LIST,
                              "SELECT c.id, c.host, c.instance_uuid, o.owner, c.memory_mib,"
                              " c.expires_ms FROM claim c"
                              " LEFT JOIN store_claim_owner o ON o.claim_id = c.id"
                              " WHERE c.expires_ms > ?1 AND (?2 IS NULL OR c.host = ?2)"
                              " ORDER BY c.host, c.id", err);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, sq_now(s));
    dv_sqlite_bind_text(q, 2, host);
    return sq_rows_read(s, q, &claim_rows, (void **)out, n, err);
}

static int claim_sum_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    dv_store_claim_sum *c = item;

    (void)s;
    c->mib = (uint64_t)sqlite3_column_int64(q, 1);
    c->count = (size_t)sqlite3_column_int64(q, 2);
    return (c->host = sq_col_dup(q, 0)) ? 0 : -1;
}

static void claim_sums_drop(void *v, size_t n)
{
    dv_store_claim_sums_free(v, n);
}

static const sq_rows claim_sum_rows = { "summing claims", sizeof(dv_store_claim_sum),
                                        claim_sum_from_row, claim_sums_drop };

static int sq_claim_sums(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_SUMS,
                              "SELECT host, sum(memory_mib), count(*) FROM claim"
                              " WHERE expires_ms > ?1 GROUP BY host ORDER BY host", err);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, sq_now(s));
    return sq_rows_read(s, q, &claim_sum_rows, (void **)out, n, err);
}

const dv_store_ops dv_store_sqlite_ops = {
    .version = DV_STORE_OPS_VERSION,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .info = sq_info,
    .admin_get = sq_admin_get,
    .admin_list = sq_admin_list,
    .admin_set = sq_admin_set,
    .claim_try = sq_claim_try,
    .claim_release = sq_claim_release,
    .claim_list = sq_claim_list,
    .claim_sums = sq_claim_sums,
    .claimed_mib = sq_claimed_mib,
    .record_put = sq_record_put,
    .record_get = sq_record_get,
    .record_list = sq_record_list,
    .record_delete = sq_record_delete,
    .lease_acquire = sq_lease_acquire,
    .lease_renew = sq_lease_renew,
    .lease_release = sq_lease_release,
    .lease_get = sq_lease_get,
    .lease_list = sq_lease_list,
    .list_names = sq_list_names,
};
