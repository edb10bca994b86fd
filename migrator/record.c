/* record.c - migration records in the state db (see record.h). */
#include "migrator/record.h"
#include "core/clock.h"
#include "core/sqlite.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* statement slots, above statedb.c's own */
enum {
    R_CREATE = DV_STATEDB_SLOT_USER,
    R_GET,
    R_FIND,
    R_LIST,
    R_LIST_ALL,
    R_STATE,
    R_PLAN,
    R_STATS,
    R_ACTION,
    R_FINAL,
    R_BEAT,
    R_REQUEST,
    R_POLL,
    R_SLOTS,
    R_MESSAGE,
};

static const char *const state_names[DV_MIG_N_STATES] = {
    "queued", "preparing", "running", "post-copy", "completed", "failed", "cancelled", "error",
};

const char *dv_mig_state_name(dv_mig_state s)
{
    return (unsigned)s < DV_MIG_N_STATES ? state_names[s] : "unknown";
}

int dv_mig_state_parse(const char *name)
{
    for (int i = 0; name && i < DV_MIG_N_STATES; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

bool dv_mig_state_terminal(dv_mig_state s)
{
    return s == DV_MIG_COMPLETED || s == DV_MIG_FAILED || s == DV_MIG_CANCELLED;
}

bool dv_mig_state_active(dv_mig_state s)
{
    return s == DV_MIG_QUEUED || s == DV_MIG_PREPARING || s == DV_MIG_RUNNING ||
           s == DV_MIG_POSTCOPY;
}

/* error is not terminal: a recovery that found the guest whole on one host
 * settles it; nothing else moves it */
bool dv_mig_transition_ok(dv_mig_state from, dv_mig_state to)
{
#define B(s) (1u << (s))
    static const unsigned next[DV_MIG_N_STATES] = {
        [DV_MIG_QUEUED] = B(DV_MIG_PREPARING) | B(DV_MIG_CANCELLED) | B(DV_MIG_FAILED) |
                          B(DV_MIG_ERROR),
        [DV_MIG_PREPARING] = B(DV_MIG_RUNNING) | B(DV_MIG_CANCELLED) | B(DV_MIG_FAILED) |
                             B(DV_MIG_ERROR),
        [DV_MIG_RUNNING] = B(DV_MIG_POSTCOPY) | B(DV_MIG_COMPLETED) | B(DV_MIG_CANCELLED) |
                           B(DV_MIG_FAILED) | B(DV_MIG_ERROR),
        [DV_MIG_POSTCOPY] = B(DV_MIG_COMPLETED) | B(DV_MIG_ERROR),
        [DV_MIG_ERROR] = B(DV_MIG_COMPLETED) | B(DV_MIG_FAILED),
    };
#undef B
    if ((unsigned)from >= DV_MIG_N_STATES || (unsigned)to >= DV_MIG_N_STATES)
        return false;
    return (next[from] >> to) & 1u;
}

void dv_mig_msgf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- owners */

/* Field 22 of /proc/PID/stat: the process start time in clock ticks since
 * boot; 0 when the process does not exist.  The command name (field 2) may
 * hold spaces and parentheses: parse after the last ')'. */
static int64_t proc_start(pid_t pid)
{
    char path[64], buf[1024];
    const char *p;
    long long v = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return 0;
    /* after ") " come fields 3.. : state is field 3, starttime field 22 */
    p += 2;
    if (p[0] == 'Z' || p[0] == 'X')
        return 0;
    for (int field = 3; field < 22 && p; field++)
        if ((p = strchr(p, ' ')))
            p++;
    if (!p || sscanf(p, "%lld", &v) != 1)
        return 0;
    return v;
}

void dv_mig_owner_self(dv_mig_owner *o)
{
    memset(o, 0, sizeof *o);
    if (gethostname(o->host, sizeof o->host - 1) < 0 || !o->host[0])
        snprintf(o->host, sizeof o->host, "localhost");
    o->pid = getpid();
    o->start = proc_start(o->pid);
}

bool dv_mig_owner_alive(const dv_mig_record *r, const dv_mig_owner *self, int64_t now_ms,
                        int64_t stale_ms)
{
    if (strcmp(r->owner_host, self->host) == 0) {
        if (r->owner_pid == self->pid)
            return true;
        return r->owner_pid > 0 && proc_start((pid_t)r->owner_pid) == r->owner_start;
    }
    return now_ms - r->heartbeat_ms <= stale_ms;
}

/* ---------------------------------------------------------------- rows */

#define COLUMNS                                                                                 \
    "SELECT id, instance_name, instance_uuid, source, destination, policy, state,"             \
    " owner_host, owner_pid, owner_start, heartbeat_ms, created_ms, started_ms, ended_ms,"      \
    " flags, claim_id, memory_mib, data_total, data_processed, data_remaining, transfer_bps,"   \
    " dirty_bps, iteration, downtime_ms, eta_ms, stats_ms, action, action_why, action_ms,"     \
    " request, request_by, final_downtime_ms, final_total_ms, message FROM migration"

static void col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

static void from_row(sqlite3_stmt *st, dv_mig_record *r)
{
    char state[24];
    int i = 0, s;

    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, i++);
    col_text(st, i++, r->instance_name, sizeof r->instance_name);
    col_text(st, i++, r->instance_uuid, sizeof r->instance_uuid);
    col_text(st, i++, r->source, sizeof r->source);
    col_text(st, i++, r->destination, sizeof r->destination);
    col_text(st, i++, r->policy, sizeof r->policy);
    col_text(st, i++, state, sizeof state);
    s = dv_mig_state_parse(state);
    r->state = s < 0 ? DV_MIG_ERROR : (dv_mig_state)s;
    col_text(st, i++, r->owner_host, sizeof r->owner_host);
    r->owner_pid = sqlite3_column_int64(st, i++);
    r->owner_start = sqlite3_column_int64(st, i++);
    r->heartbeat_ms = sqlite3_column_int64(st, i++);
    r->created_ms = sqlite3_column_int64(st, i++);
    r->started_ms = sqlite3_column_int64(st, i++);
    r->ended_ms = sqlite3_column_int64(st, i++);
    r->flags = (uint64_t)sqlite3_column_int64(st, i++);
    r->claim_id = sqlite3_column_int64(st, i++);
    r->memory_mib = (uint64_t)sqlite3_column_int64(st, i++);
    r->data_total = (uint64_t)sqlite3_column_int64(st, i++);
    r->data_processed = (uint64_t)sqlite3_column_int64(st, i++);
    r->data_remaining = (uint64_t)sqlite3_column_int64(st, i++);
    r->transfer_bps = (uint64_t)sqlite3_column_int64(st, i++);
    r->dirty_bps = (uint64_t)sqlite3_column_int64(st, i++);
    r->iteration = (uint64_t)sqlite3_column_int64(st, i++);
    r->downtime_ms = (uint64_t)sqlite3_column_int64(st, i++);
    r->eta_ms = sqlite3_column_int64(st, i++);
    r->stats_ms = sqlite3_column_int64(st, i++);
    col_text(st, i++, r->action, sizeof r->action);
    col_text(st, i++, r->action_why, sizeof r->action_why);
    r->action_ms = sqlite3_column_int64(st, i++);
    col_text(st, i++, r->request, sizeof r->request);
    col_text(st, i++, r->request_by, sizeof r->request_by);
    r->final_downtime_ms = sqlite3_column_int64(st, i++);
    r->final_total_ms = sqlite3_column_int64(st, i++);
    col_text(st, i, r->message, sizeof r->message);
}

static dv_sqlite *H(dv_statedb *db)
{
    return dv_statedb_sqlite(db);
}

static int exec_id(dv_statedb *db, sqlite3_stmt *st, int64_t id, const char *what,
                   drover_error *err)
{
    if (dv_sqlite_exec_stmt(H(db), st, what, err) < 0)
        return -1;
    if (sqlite3_changes(dv_sqlite_db(H(db))) == 0)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE,
                      "no migration record %" PRId64, id);
    return 0;
}

int dv_mig_record_create(dv_statedb *db, dv_mig_record *r, const dv_mig_owner *self,
                         drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(
        H(db), R_CREATE,
        "INSERT INTO migration (instance_name, instance_uuid, source, destination, policy,"
        " state, owner_host, owner_pid, owner_start, heartbeat_ms, created_ms, memory_mib, flags)"
        " VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?9, ?10, ?11)", err);
    if (!st)
        return -1;
    r->created_ms = r->heartbeat_ms = dv_wall_ms();
    r->state = DV_MIG_QUEUED;
    snprintf(r->owner_host, sizeof r->owner_host, "%s", self->host);
    r->owner_pid = self->pid;
    r->owner_start = self->start;
    dv_sqlite_bind_text(st, 1, r->instance_name);
    dv_sqlite_bind_text(st, 2, r->instance_uuid);
    dv_sqlite_bind_text(st, 3, r->source);
    dv_sqlite_bind_text(st, 4, r->destination);
    dv_sqlite_bind_text(st, 5, r->policy);
    dv_sqlite_bind_text(st, 6, r->owner_host);
    sqlite3_bind_int64(st, 7, r->owner_pid);
    sqlite3_bind_int64(st, 8, r->owner_start);
    sqlite3_bind_int64(st, 9, r->created_ms);
    sqlite3_bind_int64(st, 10, (int64_t)r->memory_mib);
    sqlite3_bind_int64(st, 11, (int64_t)r->flags);
    if (dv_sqlite_exec_stmt(H(db), st, "creating a migration record", err) < 0)
        return -1;
    r->id = sqlite3_last_insert_rowid(dv_sqlite_db(H(db)));
    r->eta_ms = -1;
    r->final_downtime_ms = r->final_total_ms = -1;
    return 0;
}

/* One row from a prepared query already bound; NOT_FOUND when none. */
static int one_row(dv_statedb *db, sqlite3_stmt *st, dv_mig_record *out, const char *what,
                   drover_error *err)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        from_row(st, out);
    else if (rc == SQLITE_DONE)
        dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE, "no migration record %s", what);
    else
        dv_sqlite_fail(H(db), rc, "reading a migration record", err);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int dv_mig_record_get(dv_statedb *db, int64_t id, dv_mig_record *out, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_GET, COLUMNS " WHERE id = ?1", err);
    char what[32];

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    snprintf(what, sizeof what, "%" PRId64, id);
    return one_row(db, st, out, what, err);
}

int dv_mig_record_find_instance(dv_statedb *db, const char *instance, dv_mig_record *out,
                                drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(
        H(db), R_FIND,
        COLUMNS " WHERE instance_name = ?1 OR instance_uuid = ?1 COLLATE NOCASE"
                " ORDER BY state IN ('completed', 'failed', 'cancelled'), id DESC LIMIT 1", err);
    char what[DV_NAME_MAX + 32];

    if (!st)
        return -1;
    dv_sqlite_bind_text(st, 1, instance);
    snprintf(what, sizeof what, "for instance %s", instance);
    return one_row(db, st, out, what, err);
}

int dv_mig_record_list(dv_statedb *db, bool all, dv_mig_record **out, size_t *n,
                       drover_error *err)
{
    sqlite3_stmt *st = all ? dv_sqlite_stmt(H(db), R_LIST_ALL, COLUMNS " ORDER BY id", err)
                           : dv_sqlite_stmt(H(db), R_LIST,
                                            COLUMNS " WHERE state NOT IN"
                                                    " ('completed', 'failed', 'cancelled')"
                                                    " ORDER BY id", err);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t c = cap ? cap * 2 : 8;
            dv_mig_record *nv = realloc(*out, c * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = nv;
            cap = c;
        }
        from_row(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc == SQLITE_NOMEM
                   ? dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory")
                   : dv_sqlite_fail(H(db), rc, "listing migration records", err);
    }
    return 0;
}

int dv_mig_record_set_state(dv_statedb *db, dv_mig_record *r, dv_mig_state to,
                            const char *message, drover_error *err)
{
    dv_mig_record now;
    sqlite3_stmt *st;
    int64_t t = dv_wall_ms();

    if (dv_sqlite_begin(H(db), true, err) < 0)
        return -1;
    if (dv_mig_record_get(db, r->id, &now, err) < 0)
        goto fail;
    if (!dv_mig_transition_ok(now.state, to)) {
        dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_STATE,
               "migration %" PRId64 " is %s: it cannot become %s", r->id,
               dv_mig_state_name(now.state), dv_mig_state_name(to));
        r->state = now.state;
        snprintf(r->message, sizeof r->message, "%s", now.message);
        goto fail;
    }
    if (!(st = dv_sqlite_stmt(H(db), R_STATE,
                              "UPDATE migration SET state = ?2, message = coalesce(?3, message),"
                              " started_ms = CASE WHEN ?2 = 'running' AND started_ms = 0"
                              "   THEN ?4 ELSE started_ms END,"
                              " ended_ms = CASE WHEN ?5 THEN ?4 ELSE ended_ms END,"
                              " heartbeat_ms = ?4 WHERE id = ?1", err)))
        goto fail;
    sqlite3_bind_int64(st, 1, r->id);
    dv_sqlite_bind_text(st, 2, dv_mig_state_name(to));
    dv_sqlite_bind_text(st, 3, message);
    sqlite3_bind_int64(st, 4, t);
    sqlite3_bind_int(st, 5, dv_mig_state_terminal(to) || to == DV_MIG_ERROR);
    if (exec_id(db, st, r->id, "changing a migration's state", err) < 0 ||
        dv_sqlite_commit(H(db), err) < 0)
        goto fail;
    if (to == DV_MIG_RUNNING && !r->started_ms)
        r->started_ms = now.started_ms ? now.started_ms : t;
    if (dv_mig_state_terminal(to) || to == DV_MIG_ERROR)
        r->ended_ms = t;
    r->state = to;
    if (message)
        snprintf(r->message, sizeof r->message, "%s", message);
    return 0;
fail:
    dv_sqlite_rollback(H(db));
    return -1;
}

int dv_mig_record_set_plan(dv_statedb *db, const dv_mig_record *r, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_PLAN,
                                      "UPDATE migration SET destination = ?2, claim_id = ?3,"
                                      " flags = ?4, memory_mib = ?5, instance_name = ?6,"
                                      " instance_uuid = ?7, source = ?8 WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    dv_sqlite_bind_text(st, 2, r->destination);
    sqlite3_bind_int64(st, 3, r->claim_id);
    sqlite3_bind_int64(st, 4, (int64_t)r->flags);
    sqlite3_bind_int64(st, 5, (int64_t)r->memory_mib);
    dv_sqlite_bind_text(st, 6, r->instance_name);
    dv_sqlite_bind_text(st, 7, r->instance_uuid);
    dv_sqlite_bind_text(st, 8, r->source);
    return exec_id(db, st, r->id, "recording a migration's destination", err);
}

int dv_mig_record_set_stats(dv_statedb *db, const dv_mig_record *r, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(
        H(db), R_STATS,
        "UPDATE migration SET data_total = ?2, data_processed = ?3, data_remaining = ?4,"
        " transfer_bps = ?5, dirty_bps = ?6, iteration = ?7, downtime_ms = ?8, eta_ms = ?9,"
        " stats_ms = ?10, heartbeat_ms = ?11 WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, (int64_t)r->data_total);
    sqlite3_bind_int64(st, 3, (int64_t)r->data_processed);
    sqlite3_bind_int64(st, 4, (int64_t)r->data_remaining);
    sqlite3_bind_int64(st, 5, (int64_t)r->transfer_bps);
    sqlite3_bind_int64(st, 6, (int64_t)r->dirty_bps);
    sqlite3_bind_int64(st, 7, (int64_t)r->iteration);
    sqlite3_bind_int64(st, 8, (int64_t)r->downtime_ms);
    sqlite3_bind_int64(st, 9, r->eta_ms);
    sqlite3_bind_int64(st, 10, r->stats_ms);
    sqlite3_bind_int64(st, 11, dv_wall_ms());
    return exec_id(db, st, r->id, "recording a migration's progress", err);
}

int dv_mig_record_set_action(dv_statedb *db, const dv_mig_record *r, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_ACTION,
                                      "UPDATE migration SET action = ?2, action_why = ?3,"
                                      " action_ms = ?4 WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    dv_sqlite_bind_text(st, 2, r->action);
    dv_sqlite_bind_text(st, 3, r->action_why);
    sqlite3_bind_int64(st, 4, r->action_ms);
    return exec_id(db, st, r->id, "recording a migration's action", err);
}

int dv_mig_record_set_final(dv_statedb *db, const dv_mig_record *r, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_FINAL,
                                      "UPDATE migration SET final_downtime_ms = ?2,"
                                      " final_total_ms = ?3 WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->final_downtime_ms);
    sqlite3_bind_int64(st, 3, r->final_total_ms);
    return exec_id(db, st, r->id, "recording a migration's final figures", err);
}

int dv_mig_record_set_message(dv_statedb *db, const dv_mig_record *r, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_MESSAGE,
                                      "UPDATE migration SET message = ?2"
                                      " WHERE id = ?1 AND state = 'error'", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    dv_sqlite_bind_text(st, 2, r->message);
    return exec_id(db, st, r->id, "recording what a recovery found", err);
}

int dv_mig_record_heartbeat(dv_statedb *db, int64_t id, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_BEAT,
                                      "UPDATE migration SET heartbeat_ms = ?2 WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, dv_wall_ms());
    return exec_id(db, st, id, "heartbeating a migration", err);
}

int dv_mig_record_request(dv_statedb *db, int64_t id, const char *request, const char *by,
                          drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_REQUEST,
                                      "UPDATE migration SET request = ?2, request_by = ?3"
                                      " WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    dv_sqlite_bind_text(st, 2, request);
    dv_sqlite_bind_text(st, 3, by);
    return exec_id(db, st, id, "recording a request", err);
}

int dv_mig_record_poll(dv_statedb *db, int64_t id, dv_mig_state *state, char *request,
                       size_t len, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(H(db), R_POLL,
                                      "SELECT state, request FROM migration WHERE id = ?1", err);
    char name[24];
    int rc, s;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        col_text(st, 0, name, sizeof name);
        col_text(st, 1, request, len);
        s = dv_mig_state_parse(name);
        *state = s < 0 ? DV_MIG_ERROR : (dv_mig_state)s;
    } else if (rc == SQLITE_DONE) {
        dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_STATE, "no migration record %" PRId64, id);
    } else {
        dv_sqlite_fail(H(db), rc, "reading a migration's state", err);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ---------------------------------------------------------------- slots */

/* Count who is ahead of r (see record.h); the caller holds the write lock. */
static int count_ahead(dv_statedb *db, const dv_mig_record *r, const dv_mig_owner *self,
                       int64_t stale_ms, int *ahead, int64_t *blocker, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(
        H(db), R_SLOTS,
        COLUMNS " WHERE source = ?1 AND id <> ?2 AND (state IN ('preparing', 'running',"
                " 'post-copy') OR (state = 'queued' AND id < ?2)) ORDER BY id", err);
    int64_t now = dv_wall_ms();
    dv_mig_record o;
    int rc;

    *ahead = 0;
    *blocker = 0;
    if (!st)
        return -1;
    dv_sqlite_bind_text(st, 1, r->source);
    sqlite3_bind_int64(st, 2, r->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        from_row(st, &o);
        if (!dv_mig_owner_alive(&o, self, now, stale_ms))
            continue;
        if (!(*ahead)++)
            *blocker = o.id;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return dv_sqlite_fail(H(db), rc, "counting migrations from a source", err);
    return 0;
}

int dv_mig_record_try_slot(dv_statedb *db, dv_mig_record *r, int max_concurrent,
                           const dv_mig_owner *self, int64_t stale_ms, bool *got,
                           int *ahead, int64_t *blocker, drover_error *err)
{
    *got = false;
    if (dv_sqlite_begin(H(db), true, err) < 0)
        return -1;
    if (count_ahead(db, r, self, stale_ms, ahead, blocker, err) < 0) {
        dv_sqlite_rollback(H(db));
        return -1;
    }
    if (dv_sqlite_commit(H(db), err) < 0)
        return -1;
    if (*ahead >= max_concurrent)
        return 0;
    /* a second process counting now sees r as queued ahead of it: the slot
     * cannot be taken twice between the commit and the state change */
    if (dv_mig_record_set_state(db, r, DV_MIG_PREPARING, NULL, err) < 0)
        return -1;
    *got = true;
    return 0;
}
