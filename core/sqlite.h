/* sqlite.h - opening drover's SQLite files safely, shared by the state db
 * (core/statedb.c) and the `db` servicegroup driver (drivers/db/db.c).
 *
 * A drover file is recognised by PRAGMA application_id (one value per kind
 * of file) and carries a schema version in PRAGMA user_version.  Opening:
 *  - a missing file is created mode 0600, fully initialised under a
 *    temporary name and then linked into place, so no process ever sees a
 *    half-made file;
 *  - an existing file is checked from its raw header BEFORE SQLite touches
 *    it: random bytes, another application's database, a drover file of the
 *    other kind, or a schema newer than this build are refused with the
 *    path and the reason, and the file is left byte-for-byte unchanged;
 *  - then WAL journal, synchronous=NORMAL, busy_timeout, and the pending
 *    migration steps applied in one IMMEDIATE transaction.
 * Statements are prepared once per handle and cached in numbered slots.
 * Errors carry the path and sqlite3_errmsg().  One handle per thread. */
#ifndef DV_SQLITE_H
#define DV_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* application_id values ("DRVS", "DRVG" in ASCII). */
#define DV_APPID_STATE 0x44525653
#define DV_APPID_SERVICEGROUP 0x44525647

/* What kind of drover file a handle is. */
typedef struct dv_db_kind {
    const char *what;              /* "state database", ... (for messages) */
    int32_t application_id;
    drover_domain domain;          /* errors are reported from this layer */
    /* steps[i] upgrades the schema from version i to i + 1; the schema this
     * build writes is version n_steps.  Each step is fixed DDL text. */
    const char *const *steps;
    int n_steps;
} dv_db_kind;

typedef struct dv_sqlite dv_sqlite;

#define DV_SQLITE_SLOTS 32

int dv_sqlite_open(const char *path, const dv_db_kind *kind, int busy_timeout_ms,
                   dv_sqlite **out, drover_error *err);
void dv_sqlite_close(dv_sqlite *h);

const char *dv_sqlite_path(const dv_sqlite *h);
sqlite3 *dv_sqlite_db(dv_sqlite *h);

/* The statement cached in slot (0..DV_SQLITE_SLOTS-1), prepared from sql the
 * first time, reset and with bindings cleared.  NULL with err set. */
sqlite3_stmt *dv_sqlite_stmt(dv_sqlite *h, unsigned slot, const char *sql, drover_error *err);

/* Turn a failed SQLite call into a drover error naming the path and what
 * was being done: SQLITE_BUSY/LOCKED (after busy_timeout) become
 * DROVER_ERR_UNREACHABLE, SQLITE_CORRUPT/NOTADB DROVER_ERR_CORRUPT,
 * SQLITE_NOMEM DROVER_ERR_NOMEM, the rest DROVER_ERR_IO.  Returns -1. */
int dv_sqlite_fail(dv_sqlite *h, int rc, const char *what, drover_error *err);

/* Step a statement that returns no rows, then reset it. */
int dv_sqlite_exec_stmt(dv_sqlite *h, sqlite3_stmt *st, const char *what, drover_error *err);

/* Transactions.  immediate takes the write lock at once (waiting up to
 * busy_timeout), so a check followed by a write is atomic across processes. */
int dv_sqlite_begin(dv_sqlite *h, bool immediate, drover_error *err);
int dv_sqlite_commit(dv_sqlite *h, drover_error *err);
void dv_sqlite_rollback(dv_sqlite *h);

/* Bind text; NULL binds SQL NULL. SQLITE_STATIC: the caller keeps s alive
 * until the statement is reset. */
int dv_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s);

#endif
