/* sqlite_state.c - admin state and claims in the sqlite state store.
 *
 * They live in core/statedb.c's tables (admin, claim: the per-machine
 * state db's schema, so a file written before the store existed is read
 * as it is), next to the store's own (store_admin_version,
 * store_claim_owner, store_lease).  Every statement here runs on the
 * store's one connection: a fenced write's lease check, its version check
 * and the write itself are one IMMEDIATE transaction, so no other process
 * can make a new epoch, move a version or take the last MiB in between. */
#include "store/sqlite_int.h"
#include "core/sqlite.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- statements */

/* Step q (bound already) to its end; reset it. */
static int step_done(sq_store *s, sqlite3_stmt *q, const char *what, drover_error *err)
{
    int rc = sqlite3_step(q);

    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, what, err);
}

static sqlite3_stmt *stmt_gh(sq_store *s, int slot, const char *sql, const char *group,
                             const char *host, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, slot, sql, err);

    if (q) {
        dv_sqlite_bind_text(q, 1, group);
        dv_sqlite_bind_text(q, 2, host);
    }
    return q;
}

/* ---------------------------------------------------------------- admin */

static int admin_version(sq_store *s, const char *group, const char *host, int64_t *v,
                         drover_error *err)
{
    return sq_int_of(s, Q_ADMIN_VER, "SELECT version FROM store_admin_version"
                                     " WHERE grp = ?1 AND host = ?2", group, host, 0, v,
                     "reading a version", err);
}

/* host, disabled, reason, forced_down, version */
#define ADMIN_ROW "SELECT a.host, a.disabled, a.reason, a.forced_down, coalesce(v.version, 0)" \
                  " FROM admin a LEFT JOIN store_admin_version v" \
                  " ON v.grp = a.grp AND v.host = a.host"

static int admin_from_row(sq_store *s, sqlite3_stmt *q, void *item)
{
    dv_store_admin *a = item;
    const char *reason = (const char *)sqlite3_column_text(q, 2);

    (void)s;
    memset(a, 0, sizeof *a);
    a->disabled = sqlite3_column_int(q, 1) != 0;
    a->forced_down = sqlite3_column_int(q, 3) != 0;
    a->version = sqlite3_column_int64(q, 4);
    if (!(a->host = sq_col_dup(q, 0)) || (reason && !(a->reason = strdup(reason)))) {
        dv_store_admin_clear(a);
        return -1;
    }
    return 0;
}

int sq_admin_get(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                 drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = stmt_gh(s, Q_ADMIN_GET, ADMIN_ROW " WHERE a.grp = ?1 AND a.host = ?2",
                              group, host, err);
    int rc;

    memset(out, 0, sizeof *out);
    if (!q)
        return -1;
    /* one statement: the state and its version as one writer left them */
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && admin_from_row(s, q, out) < 0)
        rc = SQLITE_NOMEM;
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) {
        /* never set: its version may still have moved (set, then cleared) */
        if (!(out->host = strdup(host)))
            return sq_nomem(err);
        return admin_version(s, group, host, &out->version, err);
    }
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_NOMEM ? sq_nomem(err) : sq_fail(s, rc, "reading admin state", err);
}

static void admins_drop(void *v, size_t n)
{
    dv_store_admins_free(v, n);
}

static const sq_rows admin_rows = { "listing admin state", sizeof(dv_store_admin),
                                    admin_from_row, admins_drop };

int sq_admin_list(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                  drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = stmt_gh(s, Q_ADMIN_LIST, ADMIN_ROW " WHERE a.grp = ?1 AND"
                              " (a.disabled OR a.forced_down) ORDER BY a.host", group, NULL, err);

    return q ? sq_rows_read(s, q, &admin_rows, (void **)out, n, err) : -1;
}

static int admin_write(sq_store *s, const char *group, const char *host,
                       const dv_store_admin_change *chg, drover_error *err)
{
    sqlite3_stmt *q;

    if (chg->disabled >= 0) {
        if (!(q = stmt_gh(s, Q_SET_DISABLED,
                          "INSERT INTO admin (grp, host, disabled, reason) VALUES (?1, ?2, ?3, ?4)"
                          " ON CONFLICT (grp, host) DO UPDATE SET disabled = ?3, reason = ?4",
                          group, host, err)))
            return -1;
        sqlite3_bind_int(q, 3, chg->disabled != 0);
        /* enabling forgets the reason, as Nova does */
        dv_sqlite_bind_text(q, 4, chg->disabled && chg->reason && *chg->reason ? chg->reason
                                                                               : NULL);
        if (step_done(s, q, "setting disabled", err) < 0)
            return -1;
    }
    if (chg->forced_down >= 0) {
        if (!(q = stmt_gh(s, Q_SET_FORCED,
                          "INSERT INTO admin (grp, host, forced_down) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (grp, host) DO UPDATE SET forced_down = ?3",
                          group, host, err)))
            return -1;
        sqlite3_bind_int(q, 3, chg->forced_down != 0);
        if (step_done(s, q, "setting forced_down", err) < 0)
            return -1;
    }
    return 0;
}

/* Fence, version, the change and the new version: one transaction. */
int sq_admin_set(dv_store *st, const char *group, const char *host,
                 const dv_store_admin_change *chg, int64_t expected, const dv_fence *fence,
                 int64_t *new_version, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q;
    int64_t cur;

    if (sq_begin(s, err) < 0)
        return -1;
    if (sq_fence_check(s, fence, err) < 0 || admin_version(s, group, host, &cur, err) < 0)
        goto fail;
    if (expected != DV_STORE_ANY && expected != cur) {
        dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
               "admin state of %s/%s is at version %" PRId64 ", not %" PRId64
               " any more: read it again", group, host, cur, expected);
        goto fail;
    }
    if (admin_write(s, group, host, chg, err) < 0 ||
        !(q = stmt_gh(s, Q_ADMIN_BUMP,
                      "INSERT INTO store_admin_version (grp, host, version) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (grp, host) DO UPDATE SET version = ?3", group, host, err)))
        goto fail;
    sqlite3_bind_int64(q, 3, cur + 1);
    if (step_done(s, q, "writing a version", err) < 0)
        goto fail;
    if (sq_commit(s, err) < 0)
        return -1;
    *new_version = cur + 1;
    return 0;
fail:
    sq_rollback(s);
    return -1;
}

/* ---------------------------------------------------------------- claims */

static int claimed_sum(sq_store *s, const char *host, int64_t now, uint64_t *mib,
                       drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_SUM, "SELECT coalesce(sum(memory_mib), 0) FROM claim"
                                              " WHERE host = ?1 AND expires_ms > ?2", err);
    int rc;

    *mib = 0;
    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, host);
    sqlite3_bind_int64(q, 2, now);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *mib = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, "summing claims", err);
}

int sq_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err)
{
    return claimed_sum(SQ(st), host, sq_now(SQ(st)), mib, err);
}

/* Expired claims on host and owners of claims gone, then the sum. */
static int claim_room(sq_store *s, const char *host, int64_t now, uint64_t *held,
                      drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_PURGE,
                              "DELETE FROM claim WHERE host = ?1 AND expires_ms <= ?2", err);

    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, host);
    sqlite3_bind_int64(q, 2, now);
    if (step_done(s, q, "dropping expired claims", err) < 0)
        return -1;
    return claimed_sum(s, host, now, held, err);
}

static int claim_insert(sq_store *s, const char *host, const char *instance_uuid,
                        const char *owner, uint64_t memory_mib, int64_t now, int ttl_s,
                        int64_t *claim_id, drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_ADD,
                              "INSERT INTO claim (host, instance_uuid, memory_mib, created_ms,"
                              " expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)", err);

    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, host);
    dv_sqlite_bind_text(q, 2, instance_uuid);
    sqlite3_bind_int64(q, 3, (int64_t)memory_mib);
    sqlite3_bind_int64(q, 4, now);
    sqlite3_bind_int64(q, 5, now + (int64_t)ttl_s * 1000);
    if (step_done(s, q, "adding a claim", err) < 0)
        return -1;
    *claim_id = sqlite3_last_insert_rowid(s->db);
    if (!*owner)
        return 0;
    if (!(q = sq_stmt(s, Q_OWNER_ADD, "INSERT OR REPLACE INTO store_claim_owner (claim_id, owner)"
                                      " VALUES (?1, ?2)", err)))
        return -1;
    sqlite3_bind_int64(q, 1, *claim_id);
    dv_sqlite_bind_text(q, 2, owner);
    return step_done(s, q, "writing a claim's owner", err);
}

int sq_claim_try(dv_store *st, const char *host, const char *instance_uuid, const char *owner,
                 uint64_t memory_mib, uint64_t capacity_mib, int ttl_s, int flags,
                 const dv_fence *fence, int64_t *claim_id, drover_error *err)
{
    sq_store *s = SQ(st);
    int64_t now = sq_now(s);
    uint64_t held;

    (void)flags;   /* no sessions here: a claim ends when released or expired */
    /* IMMEDIATE: the write lock is held from the sum to the insert, so two
     * processes cannot both see room for the last MiB */
    if (sq_begin(s, err) < 0)
        return -1;
    if (sq_fence_check(s, fence, err) < 0 || claim_room(s, host, now, &held, err) < 0 ||
        dv_claim_room_check(host, held, capacity_mib, memory_mib, DROVER_FROM_STATE, err) < 0)
        goto fail;
    if (claim_insert(s, host, instance_uuid, owner, memory_mib, now, ttl_s, claim_id, err) < 0)
        goto fail;
    if (sq_commit(s, err) < 0) {
        *claim_id = 0;
        return -1;
    }
    return 0;
fail:
    *claim_id = 0;
    sq_rollback(s);
    return -1;
}

int sq_claim_release(dv_store *st, const char *host, int64_t claim_id, const dv_fence *fence,
                     drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q;

    (void)host;    /* ids are unique in the file */
    if (sq_begin(s, err) < 0)
        return -1;
    if (sq_fence_check(s, fence, err) < 0 ||
        !(q = sq_stmt(s, Q_CLAIM_DEL, "DELETE FROM claim WHERE id = ?1", err)))
        goto fail;
    sqlite3_bind_int64(q, 1, claim_id);
    if (step_done(s, q, "releasing a claim", err) < 0 ||
        !(q = sq_stmt(s, Q_OWNER_DEL, "DELETE FROM store_claim_owner WHERE claim_id = ?1"
                                      " OR claim_id NOT IN (SELECT id FROM claim)", err)))
        goto fail;
    sqlite3_bind_int64(q, 1, claim_id);
    if (step_done(s, q, "forgetting a claim's owner", err) < 0)
        goto fail;
    return sq_commit(s, err);
fail:
    sq_rollback(s);
    return -1;
}
