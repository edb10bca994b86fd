/* statedb.c - the controller's state database on SQLite (see statedb.h). */
#include "core/statedb.h"
#include "core/clock.h"
#include "core/model.h"
#include "core/sqlite.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct dv_statedb {
    dv_sqlite *h;
};

/* Schema steps: step i upgrades version i to i + 1.  Never edit a released
 * step; add a new one. */
static const char *const steps[] = {
    /* 0 -> 1 */
    "CREATE TABLE member ("
    "  grp TEXT NOT NULL, host TEXT NOT NULL, joined_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (grp, host)) WITHOUT ROWID;"
    "CREATE TABLE admin ("
    "  grp TEXT NOT NULL, host TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0, reason TEXT,"
    "  forced_down INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (grp, host)) WITHOUT ROWID;"
    "CREATE TABLE claim ("
    "  id INTEGER PRIMARY KEY, host TEXT NOT NULL, instance_uuid TEXT NOT NULL,"
    "  memory_mib INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX claim_by_host ON claim (host, expires_ms);",
    /* 1 -> 2: live-migration records (migrator/record.c reads and writes
     * them).  Rates are bytes/s, sizes bytes, times ms; owner_start is the
     * owner's process start time (clock ticks since boot, /proc/PID/stat)
     * so a reused pid is not taken for the owner. */
    "CREATE TABLE migration ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  instance_name TEXT NOT NULL, instance_uuid TEXT NOT NULL,"
    "  source TEXT NOT NULL, destination TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  owner_host TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL,"
    "  heartbeat_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  flags INTEGER NOT NULL DEFAULT 0, claim_id INTEGER NOT NULL DEFAULT 0,"
    "  memory_mib INTEGER NOT NULL DEFAULT 0,"
    "  data_total INTEGER NOT NULL DEFAULT 0, data_processed INTEGER NOT NULL DEFAULT 0,"
    "  data_remaining INTEGER NOT NULL DEFAULT 0, transfer_bps INTEGER NOT NULL DEFAULT 0,"
    "  dirty_bps INTEGER NOT NULL DEFAULT 0, iteration INTEGER NOT NULL DEFAULT 0,"
    "  downtime_ms INTEGER NOT NULL DEFAULT 0, eta_ms INTEGER NOT NULL DEFAULT -1,"
    "  stats_ms INTEGER NOT NULL DEFAULT 0,"
    "  action TEXT NOT NULL DEFAULT '', action_why TEXT NOT NULL DEFAULT '',"
    "  action_ms INTEGER NOT NULL DEFAULT 0,"
    "  request TEXT NOT NULL DEFAULT '', request_by TEXT NOT NULL DEFAULT '',"
    "  final_downtime_ms INTEGER NOT NULL DEFAULT -1, final_total_ms INTEGER NOT NULL DEFAULT -1,"
    "  message TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX migration_by_source ON migration (source, state, id);"
    "CREATE INDEX migration_by_instance ON migration (instance_uuid, id);",
};

const dv_db_kind dv_statedb_kind = {
    .what = "state database",
    .application_id = DV_APPID_STATE,
    .domain = DROVER_FROM_STATE,
    .steps = steps,
    .n_steps = (int)(sizeof steps / sizeof steps[0]),
};

/* statement slots */
enum {
    S_MEMBER_ADD,
    S_MEMBER_DEL,
    S_MEMBER_LIST,
    S_ADMIN_DEL,
    S_ADMIN_GET,
    S_ADMIN_ALL,
    S_SET_DISABLED,
    S_SET_FORCED,
    S_CLAIM_SUM,
    S_CLAIM_PURGE,
    S_CLAIM_ADD,
    S_CLAIM_DEL,
    S_MEMBER_HAS,
};

#define FAIL(db, rc, what) dv_sqlite_fail((db)->h, (rc), (what), err)

int dv_statedb_open(const char *path, int busy_timeout_ms, dv_statedb **out, drover_error *err)
{
    dv_statedb *db;

    *out = NULL;
    if (!(db = calloc(1, sizeof *db)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory");
    if (dv_sqlite_open(path, &dv_statedb_kind, busy_timeout_ms, &db->h, err) < 0) {
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

dv_sqlite *dv_statedb_sqlite(dv_statedb *db)
{
    return db->h;
}

void dv_statedb_close(dv_statedb *db)
{
    if (!db)
        return;
    dv_sqlite_close(db->h);
    free(db);
}

static int names_ok(const char *group, const char *host, drover_error *err)
{
    if ((group && dv_name_check("group", group, err) < 0) ||
        dv_name_check("host", host, err) < 0) {
        if (err)
            err->domain = DROVER_FROM_STATE;
        return -1;
    }
    return 0;
}

static sqlite3_stmt *stmt2(dv_statedb *db, unsigned slot, const char *sql, const char *a,
                           const char *b, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(db->h, slot, sql, err);

    if (st) {
        dv_sqlite_bind_text(st, 1, a);
        if (b)
            dv_sqlite_bind_text(st, 2, b);
    }
    return st;
}

/* ---------------------------------------------------------------- members */

int dv_statedb_member_add(dv_statedb *db, const char *group, const char *host, drover_error *err)
{
    sqlite3_stmt *st;

    if (names_ok(group, host, err) < 0)
        return -1;
    st = stmt2(db, S_MEMBER_ADD,
               "INSERT INTO member (grp, host, joined_ms) VALUES (?1, ?2, ?3)"
               " ON CONFLICT (grp, host) DO NOTHING", group, host, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, dv_wall_ms());
    return dv_sqlite_exec_stmt(db->h, st, "adding a member", err);
}

/* Forget the member entirely, its admin state included. */
int dv_statedb_member_remove(dv_statedb *db, const char *group, const char *host,
                             drover_error *err)
{
    sqlite3_stmt *st;
    int changed;

    if (names_ok(group, host, err) < 0 || dv_sqlite_begin(db->h, true, err) < 0)
        return -1;
    if (!(st = stmt2(db, S_MEMBER_DEL, "DELETE FROM member WHERE grp = ?1 AND host = ?2",
                     group, host, err)) ||
        dv_sqlite_exec_stmt(db->h, st, "removing a member", err) < 0)
        goto fail;
    changed = sqlite3_changes(dv_sqlite_db(db->h));
    if (!(st = stmt2(db, S_ADMIN_DEL, "DELETE FROM admin WHERE grp = ?1 AND host = ?2",
                     group, host, err)) ||
        dv_sqlite_exec_stmt(db->h, st, "removing a member's admin state", err) < 0)
        goto fail;
    if (!changed) {
        dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE,
               "host \"%s\" is not a member of group \"%s\"", host, group);
        goto fail;
    }
    return dv_sqlite_commit(db->h, err);
fail:
    dv_sqlite_rollback(db->h);
    return -1;
}

int dv_statedb_member_sync(dv_statedb *db, const char *group, const char *const *add,
                           size_t n_add, const char *const *del, size_t n_del,
                           drover_error *err)
{
    sqlite3_stmt *st;
    int64_t now = dv_wall_ms();

    if (dv_name_check("group", group, err) < 0)
        return -1;
    if (!n_add && !n_del)
        return 0;
    if (dv_sqlite_begin(db->h, true, err) < 0)
        return -1;
    for (size_t i = 0; i < n_add; i++) {
        if (dv_name_check("host", add[i], NULL) < 0)
            continue;
        if (!(st = stmt2(db, S_MEMBER_ADD,
                         "INSERT INTO member (grp, host, joined_ms) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (grp, host) DO NOTHING", group, add[i], err)))
            goto fail;
        sqlite3_bind_int64(st, 3, now);
        if (dv_sqlite_exec_stmt(db->h, st, "adding a member", err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < n_del; i++) {
        if (dv_name_check("host", del[i], NULL) < 0)
            continue;
        if (!(st = stmt2(db, S_MEMBER_DEL, "DELETE FROM member WHERE grp = ?1 AND host = ?2",
                         group, del[i], err)) ||
            dv_sqlite_exec_stmt(db->h, st, "removing a member", err) < 0 ||
            !(st = stmt2(db, S_ADMIN_DEL, "DELETE FROM admin WHERE grp = ?1 AND host = ?2",
                         group, del[i], err)) ||
            dv_sqlite_exec_stmt(db->h, st, "removing a member's admin state", err) < 0)
            goto fail;
    }
    return dv_sqlite_commit(db->h, err);
fail:
    dv_sqlite_rollback(db->h);
    return -1;
}

void dv_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Append a copy of s to a growing array. */
static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (dv_grow((void **)v, *n, cap, sizeof **v) < 0)
        return -1;
    if (!((*v)[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

int dv_statedb_member_list(dv_statedb *db, const char *group, char ***hosts, size_t *n,
                           drover_error *err)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    *hosts = NULL;
    *n = 0;
    if (dv_name_check("group", group, err) < 0)
        return -1;
    if (!(st = stmt2(db, S_MEMBER_LIST, "SELECT host FROM member WHERE grp = ?1 ORDER BY host",
                     group, NULL, err)))
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (strv_push(hosts, n, &cap, (const char *)sqlite3_column_text(st, 0)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        rc == SQLITE_NOMEM ? dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory")
                           : FAIL(db, rc, "listing members");
        sqlite3_reset(st);
        dv_strv_free(*hosts, *n);
        *hosts = NULL;
        *n = 0;
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int dv_statedb_member_has(dv_statedb *db, const char *group, const char *host, bool *yes,
                          drover_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *yes = false;
    if (names_ok(group, host, err) < 0 ||
        !(st = stmt2(db, S_MEMBER_HAS, "SELECT 1 FROM member WHERE grp = ?1 AND host = ?2",
                     group, host, err)))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *yes = true;
    else if (rc != SQLITE_DONE)
        FAIL(db, rc, "looking up a member");
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* ---------------------------------------------------------------- admin */

void dv_admin_clear(dv_admin *a)
{
    if (!a)
        return;
    free(a->host);
    free(a->reason);
    memset(a, 0, sizeof *a);
}

void dv_admins_free(dv_admin *a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        dv_admin_clear(&a[i]);
    free(a);
}

/* Fill a from a row (host, disabled, reason, forced_down). */
static int admin_from_row(sqlite3_stmt *st, dv_admin *a)
{
    const char *reason = (const char *)sqlite3_column_text(st, 2);

    memset(a, 0, sizeof *a);
    a->disabled = sqlite3_column_int(st, 1) != 0;
    a->forced_down = sqlite3_column_int(st, 3) != 0;
    if (!(a->host = strdup((const char *)sqlite3_column_text(st, 0))) ||
        (reason && !(a->reason = strdup(reason)))) {
        dv_admin_clear(a);
        return -1;
    }
    return 0;
}

#define ADMIN_COLUMNS "SELECT host, disabled, reason, forced_down FROM admin"

int dv_statedb_admin_get(dv_statedb *db, const char *group, const char *host, dv_admin *out,
                         drover_error *err)
{
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof *out);
    if (names_ok(group, host, err) < 0 ||
        !(st = stmt2(db, S_ADMIN_GET, ADMIN_COLUMNS " WHERE grp = ?1 AND host = ?2",
                     group, host, err)))
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = admin_from_row(st, out) < 0 ? SQLITE_NOMEM : SQLITE_OK;
    else if (rc == SQLITE_DONE)
        rc = (out->host = strdup(host)) ? SQLITE_OK : SQLITE_NOMEM;
    if (rc != SQLITE_OK)
        rc == SQLITE_NOMEM ? dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory")
                           : FAIL(db, rc, "reading admin state");
    sqlite3_reset(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int dv_statedb_admin_all(dv_statedb *db, const char *group, dv_admin **out, size_t *n,
                         drover_error *err)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (dv_name_check("group", group, err) < 0 ||
        !(st = stmt2(db, S_ADMIN_ALL,
                     ADMIN_COLUMNS " WHERE grp = ?1 AND (disabled OR forced_down) ORDER BY host",
                     group, NULL, err)))
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (dv_grow((void **)out, *n, &cap, sizeof **out) < 0 ||
            admin_from_row(st, &(*out)[*n]) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*n)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc == SQLITE_NOMEM ? dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory")
                           : FAIL(db, rc, "listing admin state");
        dv_admins_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* Enabling a host forgets the reason it was disabled for (as Nova does). */
int dv_statedb_set_disabled(dv_statedb *db, const char *group, const char *host, bool disabled,
                            const char *reason, drover_error *err)
{
    sqlite3_stmt *st;

    if (names_ok(group, host, err) < 0 ||
        !(st = stmt2(db, S_SET_DISABLED,
                     "INSERT INTO admin (grp, host, disabled, reason) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT (grp, host) DO UPDATE SET disabled = ?3, reason = ?4",
                     group, host, err)))
        return -1;
    sqlite3_bind_int(st, 3, disabled);
    dv_sqlite_bind_text(st, 4, disabled && reason && *reason ? reason : NULL);
    return dv_sqlite_exec_stmt(db->h, st, "setting disabled", err);
}

int dv_statedb_set_forced_down(dv_statedb *db, const char *group, const char *host,
                               bool forced_down, drover_error *err)
{
    sqlite3_stmt *st;

    if (names_ok(group, host, err) < 0 ||
        !(st = stmt2(db, S_SET_FORCED,
                     "INSERT INTO admin (grp, host, forced_down) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (grp, host) DO UPDATE SET forced_down = ?3",
                     group, host, err)))
        return -1;
    sqlite3_bind_int(st, 3, forced_down);
    return dv_sqlite_exec_stmt(db->h, st, "setting forced_down", err);
}

/* ---------------------------------------------------------------- claims */

int dv_claim_args_check(const char *host, const char *instance_uuid, uint64_t memory_mib,
                        uint64_t capacity_mib, int ttl_s, drover_error *err)
{
    if (!instance_uuid || !*instance_uuid)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE, "claim on %s: no instance", host);
    if (ttl_s <= 0 || memory_mib > INT64_MAX || capacity_mib > INT64_MAX)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE,
                      "claim on %s: ttl %d s / memory %" PRIu64 " MiB / capacity %" PRIu64
                      " MiB out of range", host, ttl_s, memory_mib, capacity_mib);
    return 0;
}

int dv_claim_room_check(const char *host, uint64_t held, uint64_t capacity_mib,
                        uint64_t memory_mib, drover_domain domain, drover_error *err)
{
    if (memory_mib > capacity_mib || held > capacity_mib - memory_mib)
        return dv_err(err, DROVER_ERR_CONFLICT, domain,
                      "host %s: %" PRIu64 " MiB claimed already of %" PRIu64 " MiB; %" PRIu64
                      " MiB more do not fit", host, held, capacity_mib, memory_mib);
    return 0;
}

static int claimed_sum(dv_statedb *db, const char *host, int64_t now_ms, uint64_t *mib,
                       drover_error *err)
{
    sqlite3_stmt *st = stmt2(db, S_CLAIM_SUM,
                             "SELECT coalesce(sum(memory_mib), 0) FROM claim"
                             " WHERE host = ?1 AND expires_ms > ?2", host, NULL, err);
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *mib = (uint64_t)sqlite3_column_int64(st, 0);
    else
        FAIL(db, rc, "summing claims");
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int dv_statedb_claim_try(dv_statedb *db, const char *host, const char *instance_uuid,
                         uint64_t memory_mib, uint64_t capacity_mib, int64_t now_ms, int ttl_s,
                         int64_t *claim_id, drover_error *err)
{
    sqlite3_stmt *st;
    uint64_t held;

    *claim_id = 0;
    if (names_ok(NULL, host, err) < 0 ||
        dv_claim_args_check(host, instance_uuid, memory_mib, capacity_mib, ttl_s, err) < 0)
        return -1;
    /* IMMEDIATE: the write lock is held from the sum to the insert, so two
     * processes cannot both see room for the last MiB */
    if (dv_sqlite_begin(db->h, true, err) < 0)
        return -1;
    if (!(st = stmt2(db, S_CLAIM_PURGE, "DELETE FROM claim WHERE host = ?1 AND expires_ms <= ?2",
                     host, NULL, err)))
        goto fail;
    sqlite3_bind_int64(st, 2, now_ms);
    if (dv_sqlite_exec_stmt(db->h, st, "dropping expired claims", err) < 0 ||
        claimed_sum(db, host, now_ms, &held, err) < 0 ||
        dv_claim_room_check(host, held, capacity_mib, memory_mib, DROVER_FROM_STATE, err) < 0)
        goto fail;
    if (!(st = stmt2(db, S_CLAIM_ADD,
                     "INSERT INTO claim (host, instance_uuid, memory_mib, created_ms, expires_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)", host, instance_uuid, err)))
        goto fail;
    sqlite3_bind_int64(st, 3, (int64_t)memory_mib);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, now_ms + (int64_t)ttl_s * 1000);
    if (dv_sqlite_exec_stmt(db->h, st, "adding a claim", err) < 0)
        goto fail;
    *claim_id = sqlite3_last_insert_rowid(dv_sqlite_db(db->h));
    if (dv_sqlite_commit(db->h, err) < 0) {
        *claim_id = 0;
        return -1;
    }
    return 0;
fail:
    dv_sqlite_rollback(db->h);
    return -1;
}

/* Releasing a claim that is gone (released or expired and purged) is fine:
 * cleanup paths may release twice. */
int dv_statedb_claim_release(dv_statedb *db, int64_t claim_id, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(db->h, S_CLAIM_DEL, "DELETE FROM claim WHERE id = ?1", err);

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, claim_id);
    return dv_sqlite_exec_stmt(db->h, st, "releasing a claim", err);
}

int dv_statedb_claimed_mib(dv_statedb *db, const char *host, int64_t now_ms, uint64_t *mib,
                           drover_error *err)
{
    *mib = 0;
    if (names_ok(NULL, host, err) < 0)
        return -1;
    return claimed_sum(db, host, now_ms, mib, err);
}
