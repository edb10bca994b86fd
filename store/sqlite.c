/* sqlite.c - the "sqlite" state store: the state db file (state.path)
 * behind the store interface (see sqlite_int.h for how the file is shared
 * with core/statedb.c).  Right for controllers on one machine, and for the
 * db servicegroup driver, whose directory every machine already shares. */
#include "store/sqlite_int.h"
#include "core/sqlite.h"

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

/* The store lock, waited for up to busy_timeout like SQLite's own:
 * exclusive for writers, shared for readers of both connections. */
static int lock_as(sq_store *s, int how, drover_error *err)
{
    int64_t deadline = dv_mono_ms() + s->busy_ms;

    for (int64_t pause = 1;; pause = pause < 20 ? pause * 2 : 20) {
        if (flock(s->lock_fd, how | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return dv_err(err, DROVER_ERR_IO, DROVER_FROM_STATE, "state store %s-lock: %s",
                          s->path, strerror(errno));
        if (dv_mono_ms() >= deadline)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_STATE,
                          "state store %s: another process held its write lock for"
                          " busy_timeout %d ms", s->path, s->busy_ms);
        dv_sleep_ms(pause);
    }
}

int sq_lock(sq_store *s, drover_error *err)
{
    return lock_as(s, LOCK_EX, err);
}

void sq_unlock(sq_store *s)
{
    flock(s->lock_fd, LOCK_UN);
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
    dv_statedb_close(s->sdb);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s);
}

static int open_lock(sq_store *s, drover_error *err)
{
    char lock[1100];

    snprintf(lock, sizeof lock, "%s-lock", s->path);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0)
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_STATE, "state store lock %s: %s", lock,
                      strerror(errno));
    return 0;
}

static int sq_open(const dv_config *cfg, dv_store **out, drover_error *err)
{
    char path[1024];
    sq_store *s;
    int rc;

    *out = NULL;
    if (dv_store_sqlite_path(cfg, path, sizeof path, err) < 0)
        return -1;
    if (!(s = calloc(1, sizeof *s)))
        return sq_nomem(err);
    s->lock_fd = -1;
    s->busy_ms = cfg->state.busy_timeout_ms;
    if (!(s->path = strdup(path))) {
        free(s);
        return sq_nomem(err);
    }
    /* statedb makes, checks and upgrades the file; then the store's tables */
    if (dv_statedb_open(path, s->busy_ms, &s->sdb, err) < 0)
        goto fail;
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, "opening", err);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, s->busy_ms);
    if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        open_lock(s, err) < 0 || sq_schema_apply(s, err) < 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    sq_close(&s->base);
    return -1;
}

/* ---------------------------------------------------------------- admin */

static int admin_version(sq_store *s, const char *group, const char *host, int64_t *v,
                         drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, Q_ADMIN_VER, "SELECT version FROM store_admin_version"
                                              " WHERE grp = ?1 AND host = ?2", err);
    int rc;

    *v = 0;
    if (!q)
        return -1;
    dv_sqlite_bind_text(q, 1, group);
    dv_sqlite_bind_text(q, 2, host);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "reading a version", err);
}

static int copy_admin(const dv_admin *a, int64_t version, dv_store_admin *out)
{
    memset(out, 0, sizeof *out);
    out->disabled = a->disabled;
    out->forced_down = a->forced_down;
    out->version = version;
    if (!(out->host = strdup(a->host)) || (a->reason && !(out->reason = strdup(a->reason)))) {
        dv_store_admin_clear(out);
        return -1;
    }
    return 0;
}

static int sq_admin_get(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                        drover_error *err)
{
    sq_store *s = SQ(st);
    dv_admin a;
    int64_t v;
    int rc;

    /* shared lock: the state and its version are read as one writer left them */
    if (lock_as(s, LOCK_SH, err) < 0)
        return -1;
    if (dv_statedb_admin_get(s->sdb, group, host, &a, err) < 0) {
        sq_unlock(s);
        return -1;
    }
    rc = admin_version(s, group, host, &v, err);
    sq_unlock(s);
    if (rc == 0 && copy_admin(&a, v, out) < 0)
        rc = sq_nomem(err);
    dv_admin_clear(&a);
    return rc;
}

static int sq_admin_list(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                         drover_error *err)
{
    sq_store *s = SQ(st);
    dv_admin *a;
    size_t na;
    int rc = 0;

    if (lock_as(s, LOCK_SH, err) < 0)
        return -1;
    if (dv_statedb_admin_all(s->sdb, group, &a, &na, err) < 0) {
        sq_unlock(s);
        return -1;
    }
    if (na && !(*out = calloc(na, sizeof **out))) {
        sq_unlock(s);
        dv_admins_free(a, na);
        return sq_nomem(err);
    }
    for (size_t i = 0; i < na && rc == 0; i++) {
        int64_t v;
        rc = admin_version(s, group, a[i].host, &v, err);
        if (rc == 0 && copy_admin(&a[i], v, &(*out)[i]) < 0)
            rc = sq_nomem(err);
        if (rc == 0)
            (*n)++;
    }
    sq_unlock(s);
    dv_admins_free(a, na);
    if (rc < 0) {
        dv_store_admins_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Check fence and version and bump the version, in one transaction. */
static int admin_claim_version(sq_store *s, const char *group, const char *host,
                               int64_t expected, const dv_fence *fence, int64_t *new_version,
                               drover_error *err)
{
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
    if (!(q = sq_stmt(s, Q_ADMIN_BUMP,
                      "INSERT INTO store_admin_version (grp, host, version) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (grp, host) DO UPDATE SET version = ?3", err)))
        goto fail;
    dv_sqlite_bind_text(q, 1, group);
    dv_sqlite_bind_text(q, 2, host);
    sqlite3_bind_int64(q, 3, cur + 1);
    if (sqlite3_step(q) != SQLITE_DONE) {
        sq_fail(s, sqlite3_reset(q), "writing a version", err);
        goto fail;
    }
    sqlite3_reset(q);
    *new_version = cur + 1;
    return sq_commit(s, err);
fail:
    sq_rollback(s);
    return -1;
}

static int sq_admin_set(dv_store *st, const char *group, const char *host,
                        const dv_store_admin_change *chg, int64_t expected,
                        const dv_fence *fence, int64_t *new_version, drover_error *err)
{
    sq_store *s = SQ(st);
    int rc;

    if (sq_lock(s, err) < 0)
        return -1;
    /* the version moves first: a crash between leaves a version bumped
     * with nothing changed, which only makes a racing writer read again */
    rc = admin_claim_version(s, group, host, expected, fence, new_version, err);
    if (rc == 0 && chg->disabled >= 0)
        rc = dv_statedb_set_disabled(s->sdb, group, host, chg->disabled, chg->reason, err);
    if (rc == 0 && chg->forced_down >= 0)
        rc = dv_statedb_set_forced_down(s->sdb, group, host, chg->forced_down, err);
    sq_unlock(s);
    return rc;
}

/* ---------------------------------------------------------------- claims */

static int owner_write(sq_store *s, int slot, const char *sql, int64_t id, const char *owner,
                       drover_error *err)
{
    sqlite3_stmt *q = sq_stmt(s, slot, sql, err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, id);
    if (owner)
        dv_sqlite_bind_text(q, 2, owner);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, "writing a claim's owner", err);
}

static int sq_claim_try(dv_store *st, const char *host, const char *instance_uuid,
                        const char *owner, uint64_t memory_mib, uint64_t capacity_mib, int ttl_s,
                        int flags, const dv_fence *fence, int64_t *claim_id, drover_error *err)
{
    sq_store *s = SQ(st);
    int rc = 0;

    (void)flags;   /* no sessions here: a claim ends when released or expired */
    if (sq_lock(s, err) < 0)
        return -1;
    if (fence) {
        if (sq_begin(s, err) < 0)
            rc = -1;
        else if ((rc = sq_fence_check(s, fence, err)) == 0)
            rc = sq_commit(s, err);
        sq_rollback(s);
    }
    /* the capacity check and the insert: statedb's IMMEDIATE transaction */
    if (rc == 0)
        rc = dv_statedb_claim_try(s->sdb, host, instance_uuid, memory_mib, capacity_mib,
                                  sq_now(s), ttl_s, claim_id, err);
    /* a failure here leaves the claim holding, only its owner unknown */
    if (rc == 0 && *owner)
        owner_write(s, Q_OWNER_ADD, "INSERT OR REPLACE INTO store_claim_owner (claim_id, owner)"
                                    " VALUES (?1, ?2)", *claim_id, owner, NULL);
    sq_unlock(s);
    return rc;
}

static int sq_claim_release(dv_store *st, const char *host, int64_t claim_id,
                            const dv_fence *fence, drover_error *err)
{
    sq_store *s = SQ(st);
    int rc = 0;

    if (sq_lock(s, err) < 0)
        return -1;
    if (fence) {
        if (sq_begin(s, err) < 0)
            rc = -1;
        else if ((rc = sq_fence_check(s, fence, err)) == 0)
            rc = sq_commit(s, err);
        sq_rollback(s);
    }
    if (rc == 0)
        rc = dv_statedb_claim_release(s->sdb, claim_id, err);
    if (rc == 0)
        rc = owner_write(s, Q_OWNER_DEL, "DELETE FROM store_claim_owner WHERE claim_id = ?1"
                                         " OR claim_id NOT IN (SELECT id FROM claim)",
                         claim_id, NULL, err);
    sq_unlock(s);
    return rc;
}

static int claim_from_row(sqlite3_stmt *q, dv_store_claim *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(q, 0);
    c->memory_mib = (uint64_t)sqlite3_column_int64(q, 4);
    c->expires_ms = sqlite3_column_int64(q, 5);
    if (!(c->host = sq_col_dup(q, 1)) || !(c->instance_uuid = sq_col_dup(q, 2)) ||
        !(c->owner = sq_col_dup(q, 3)))
        return -1;
    return 0;
}

/* Grow *v (of elements of size sz) so that one more fits. */
static int grow(void **v, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, c * sz);
    if (!nv)
        return -1;
    memset((char *)nv + *cap * sz, 0, (c - *cap) * sz);
    *v = nv;
    *cap = c;
    return 0;
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
    size_t cap = 0;
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, sq_now(s));
    dv_sqlite_bind_text(q, 2, host);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (grow((void **)out, *n, &cap, sizeof **out) < 0 || claim_from_row(q, &(*out)[(*n)++]) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return 0;
    dv_store_claims_free(*out, *n);
    *out = NULL;
    *n = 0;
    return rc == SQLITE_NOMEM ? sq_nomem(err) : sq_fail(s, rc, "listing claims", err);
}

static int sq_claim_sums(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err)
{
    sq_store *s = SQ(st);
    sqlite3_stmt *q = sq_stmt(s, Q_CLAIM_SUMS,
                              "SELECT host, sum(memory_mib), count(*) FROM claim"
                              " WHERE expires_ms > ?1 GROUP BY host ORDER BY host", err);
    size_t cap = 0;
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, sq_now(s));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        dv_store_claim_sum *c;
        if (grow((void **)out, *n, &cap, sizeof **out) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        c = &(*out)[(*n)++];
        c->mib = (uint64_t)sqlite3_column_int64(q, 1);
        c->count = (size_t)sqlite3_column_int64(q, 2);
        if (!(c->host = sq_col_dup(q, 0))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return 0;
    dv_store_claim_sums_free(*out, *n);
    *out = NULL;
    *n = 0;
    return rc == SQLITE_NOMEM ? sq_nomem(err) : sq_fail(s, rc, "summing claims", err);
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
