/* sqlite_schema.c - the sqlite state store's own tables, in the state db
 * file next to core/statedb.c's.  Their version is the store_schema row,
 * not PRAGMA user_version (statedb.c's), so the two step lists grow
 * independently.  Step i upgrades version i to i + 1; never edit a
 * released step, add one. */
#include "store/sqlite_int.h"
#include "core/sqlite.h"

#include <stdio.h>
#include <string.h>

static const char *const steps[] = {
    /* 0 -> 1 */
    "CREATE TABLE store_admin_version ("
    "  grp TEXT NOT NULL, host TEXT NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY (grp, host)) WITHOUT ROWID;"
    "CREATE TABLE store_claim_owner (claim_id INTEGER PRIMARY KEY, owner TEXT NOT NULL);"
    "CREATE TABLE store_record ("
    "  kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
    "  version INTEGER NOT NULL, mtime_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE TABLE store_lease ("
    "  name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL) WITHOUT ROWID;",
};
#define N_STEPS ((int)(sizeof steps / sizeof steps[0]))

_Static_assert(N_STEPS == SQ_SCHEMA_VERSION, "SQ_SCHEMA_VERSION is the number of steps");

static int exec(sq_store *s, const char *sql, const char *what, drover_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(s, rc, what, err);
}

/* The version in store_schema (0 when the table or its row is missing). */
static int read_version(sq_store *s, int *version, drover_error *err)
{
    sqlite3_stmt *q;
    int rc;

    *version = 0;
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT version FROM store_schema WHERE one = 1", -1, &q, NULL);
    if (rc != SQLITE_OK) {
        /* no such table: a file made before the store existed */
        return strstr(sqlite3_errmsg(s->db), "no such table") ? 0
               : sq_fail(s, rc, "reading the store schema version", err);
    }
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
           : sq_fail(s, rc, "reading the store schema version", err);
}

int sq_schema_version(sq_store *s, int *version, drover_error *err)
{
    return read_version(s, version, err);
}

int sq_schema_apply(sq_store *s, drover_error *err)
{
    int version;
    char set[192];

    if (read_version(s, &version, err) < 0)
        return -1;
    if (version == N_STEPS)
        return 0;
    if (sq_begin(s, err) < 0)
        return -1;
    /* read again under the write lock: another process may have upgraded */
    if (read_version(s, &version, err) < 0)
        goto fail;
    if (version > N_STEPS) {
        dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_STATE,
               "state db %s: its state store schema is version %d, newer than this build's %d"
               " (run a newer drover)", s->path, version, N_STEPS);
        goto fail;
    }
    if (exec(s, "CREATE TABLE IF NOT EXISTS store_schema ("
                "one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)",
             "creating the store schema table", err) < 0)
        goto fail;
    for (int i = version; i < N_STEPS; i++)
        if (exec(s, steps[i], "upgrading the state store schema", err) < 0)
            goto fail;
    snprintf(set, sizeof set,
             "INSERT INTO store_schema (one, version) VALUES (1, %d)"
             " ON CONFLICT (one) DO UPDATE SET version = %d", N_STEPS, N_STEPS);
    if (exec(s, set, "recording the store schema version", err) < 0)
        goto fail;
    return sq_commit(s, err);
fail:
    sq_rollback(s);
    return -1;
}

/* ---------------------------------------------------------------- info */

static int count(sq_store *s, int slot, const char *sql, size_t *n, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, slot, sql, err);
    int rc;

    if (!q)
        return -1;
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, sq_now(s));
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, "counting", err);
}

int sq_info(dv_store *st, dv_store_info *info, drover_error *err)
{
    sq_store *s = SQ(st);

    snprintf(info->where, sizeof info->where, "%s", s->path);
    if (sq_schema_version(s, &info->schema, err) < 0 ||
        count(s, Q_COUNT_ADMIN, "SELECT count(*) FROM admin WHERE disabled OR forced_down",
              &info->admin, err) < 0 ||
        count(s, Q_COUNT_CLAIMS, "SELECT count(*) FROM claim WHERE expires_ms > ?1",
              &info->claims, err) < 0 ||
        count(s, Q_COUNT_RECORDS, "SELECT count(*) FROM store_record", &info->records, err) < 0 ||
        count(s, Q_COUNT_LEASES, "SELECT count(*) FROM store_lease", &info->leases, err) < 0)
        return -1;
    return 0;
}
