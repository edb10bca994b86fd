/* db.c - the `db` servicegroup driver: members and their heartbeats in
 * one SQLite file (servicegroup.db.path) that every agent and controller of
 * a deployment opens.  Liveness is Nova's DbDriver rule: a member is UP
 * while |now - last_seen| <= service_down_time and it is not forced down.
 * Admin state (disabled + reason, forced_down) is kept on the member row, so
 * it lives as long as the member does. */
#include "core/model.h"
#include "core/report.h"
#include "core/sqlite.h"
#include "drivers/servicegroup.h"
#include "drivers/db/db.h"

#include <stdlib.h>
#include <string.h>

static const char *const steps[] = {
    /* 0 -> 1.  A rowid table with a separate (grp, host) index rather than
     * WITHOUT ROWID: rows carry a ~1 KiB report, too large for the latter. */
    "CREATE TABLE member ("
    "  id INTEGER PRIMARY KEY,"
    "  grp TEXT NOT NULL, host TEXT NOT NULL,"
    "  joined_ms INTEGER NOT NULL,"
    "  last_seen_ms INTEGER NOT NULL DEFAULT 0,"
    "  report_count INTEGER NOT NULL DEFAULT 0,"
    "  report TEXT,"
    "  disabled INTEGER NOT NULL DEFAULT 0, disabled_reason TEXT,"
    "  forced_down INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX member_by_name ON member (grp, host);",
    /* 1 -> 2.  Everything a liveness sweep reads, in host order, so
     * get_states is answered from this index alone: a scan of the table
     * would read every ~1 KiB report's page too (~7x slower at 100k
     * members).  The price: a heartbeat rewrites this entry as well. */
    "CREATE INDEX member_liveness ON member"
    "  (grp, host, last_seen_ms, forced_down, disabled, disabled_reason);",
    /* 2 -> 3.  The placement summary of each report (core/report.h), written
     * with it by every heartbeat, and an index covering what get_summaries
     * reads, so the scheduler and `host list` never read the reports' pages
     * nor decode their JSON.  NULL: a row of schema 2 not heartbeated since
     * (get_summaries decodes its report instead); '': a report that does
     * not decode.  And the instance -> host index, filled here from the
     * reports already stored (json_each reads more leniently than the
     * decoder, so the index may name a host more, never one less).
     * instances_hash: the hash of the indexed names and UUIDs, so a
     * heartbeat rewrites the index only when the guests changed. */
    "ALTER TABLE member ADD COLUMN summary BLOB;"
    "ALTER TABLE member ADD COLUMN instances_hash INTEGER;"
    "CREATE INDEX member_summary ON member"
    "  (grp, host, last_seen_ms, forced_down, disabled, disabled_reason, summary);"
    "CREATE TABLE member_instance ("
    "  grp TEXT NOT NULL, host TEXT NOT NULL, name TEXT NOT NULL, uuid TEXT NOT NULL);"
    "CREATE INDEX member_instance_by_host ON member_instance (grp, host);"
    "CREATE INDEX member_instance_by_name ON member_instance (grp, name);"
    "CREATE INDEX member_instance_by_uuid ON member_instance (grp, uuid COLLATE NOCASE);"
    "INSERT INTO member_instance (grp, host, name, uuid)"
    "  SELECT m.grp, m.host, coalesce(json_extract(i.value, '$.name'), ''),"
    "         coalesce(json_extract(i.value, '$.uuid'), '')"
    "  FROM member AS m,"
    "       json_each(CASE WHEN json_valid(m.report) THEN m.report ELSE '{}' END,"
    "                 '$.instances') AS i"
    "  WHERE i.type = 'object';",
};

const dv_db_kind db_sg_kind = {
    .what = "servicegroup database",
    .application_id = DV_APPID_SERVICEGROUP,
    .domain = DROVER_FROM_DB,
    .steps = steps,
    .n_steps = (int)(sizeof steps / sizeof steps[0]),
};

db_sg *db_me(dv_sg *sg)
{
    return (db_sg *)sg;
}

int db_not_found(db_sg *d, const char *group, const char *host, drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_DB,
                  "host \"%s\" is not a member of group \"%s\" (servicegroup database %s)", host,
                  group, dv_sqlite_path(d->h));
}

int db_nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_DB, "out of memory");
}

/* The statement in slot with (group, host) bound as ?1, ?2. */
sqlite3_stmt *db_stmt(db_sg *d, unsigned slot, const char *sql, const char *group,
                          const char *host, drover_error *err)
{
    sqlite3_stmt *st = dv_sqlite_stmt(d->h, slot, sql, err);

    if (st) {
        dv_sqlite_bind_text(st, 1, group);
        if (host)
            dv_sqlite_bind_text(st, 2, host);
    }
    return st;
}

/* ---------------------------------------------------------------- open */

static int db_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    db_sg *d = calloc(1, sizeof *d);

    *out = NULL;
    if (!d || !(d->dec = dv_report_decoder_new())) {
        free(d);
        return db_nomem(err);
    }
    if (dv_sqlite_open(cfg->servicegroup.db.path, &db_sg_kind, cfg->servicegroup.db.busy_timeout_ms,
                       &d->h, err) < 0) {
        dv_report_decoder_free(d->dec);
        free(d);
        return -1;
    }
    *out = &d->base;
    return 0;
}

static void db_close(dv_sg *sg)
{
    dv_sqlite_close(db_me(sg)->h);
    dv_report_decoder_free(db_me(sg)->dec);
    free(db_me(sg)->rows);
    free(db_me(sg)->text);
    free(sg);
}

/* ---------------------------------------------------------------- writes */

/* Joining counts as a sign of life, as a new service record does in Nova
 * and a first set / a new ephemeral node does in the mc / zk drivers.  A
 * member that joins again keeps its report and admin state. */
static int db_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_JOIN,
                            "INSERT INTO member (grp, host, joined_ms, last_seen_ms)"
                            " VALUES (?1, ?2, ?3, ?3)"
                            " ON CONFLICT (grp, host) DO UPDATE SET last_seen_ms = ?3",
                            group, host, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, dv_clock_now(&sg->clock));
    return dv_sqlite_exec_stmt(d->h, st, "joining", err);
}

/* Run a write on one member's row; no row changed means no such member. */
int db_write_member(db_sg *d, sqlite3_stmt *st, const char *what, const char *group,
                        const char *host, drover_error *err)
{
    if (dv_sqlite_exec_stmt(d->h, st, what, err) < 0)
        return -1;
    if (sqlite3_changes(dv_sqlite_db(d->h)) == 0)
        return db_not_found(d, group, host, err);
    return 0;
}

/* Enabling forgets the reason (as Nova does). */
static int db_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                           const char *reason, drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_DISABLE,
                            "UPDATE member SET disabled = ?3, disabled_reason = ?4"
                            " WHERE grp = ?1 AND host = ?2", group, host, err);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 3, disabled);
    dv_sqlite_bind_text(st, 4, disabled && reason && *reason ? reason : NULL);
    return db_write_member(d, st, "setting disabled", group, host, err);
}

static int db_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                              drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_FORCE,
                            "UPDATE member SET forced_down = ?3 WHERE grp = ?1 AND host = ?2",
                            group, host, err);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 3, forced_down);
    return db_write_member(d, st, "setting forced_down", group, host, err);
}

/* ---------------------------------------------------------------- reads */

drover_liveness db_judge(dv_sg *sg, int64_t now, int64_t last_seen, bool forced_down)
{
    return dv_liveness_from_heartbeat(now, last_seen, sg->cfg->servicegroup.service_down_time,
                                      forced_down);
}

static int db_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                    drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_IS_UP,
                            "SELECT last_seen_ms, forced_down FROM member"
                            " WHERE grp = ?1 AND host = ?2", group, host, err);
    int rc;

    if (!st)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *state = db_judge(sg, dv_clock_now(&sg->clock), sqlite3_column_int64(st, 0),
                       sqlite3_column_int(st, 1) != 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        dv_sqlite_fail(d->h, rc, "asking whether a member is up", err);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return db_not_found(d, group, host, err);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* A copy of column i (text), or NULL for SQL NULL; *bad on ENOMEM. */
static char *column_dup(sqlite3_stmt *st, int i, bool *bad)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    size_t n;
    char *c;

    if (!s)
        return NULL;
    n = (size_t)sqlite3_column_bytes(st, i);
    if (!(c = malloc(n + 1))) {
        *bad = true;
        return NULL;
    }
    memcpy(c, s, n + 1);
    return c;
}

/* Columns: host, last_seen_ms, disabled, disabled_reason, forced_down, report. */
#define MEMBER_COLUMNS \
    "SELECT host, last_seen_ms, disabled, disabled_reason, forced_down, report FROM member"

static int member_from_row(db_sg *d, sqlite3_stmt *st, const char *group, size_t group_len,
                           int64_t now, drover_member *m)
{
    bool bad = false;

    memset(m, 0, sizeof *m);
    if ((m->group = malloc(group_len + 1)))
        memcpy(m->group, group, group_len + 1);
    else
        bad = true;
    m->host = column_dup(st, 0, &bad);
    m->last_seen_ms = sqlite3_column_int64(st, 1);
    m->disabled = sqlite3_column_int(st, 2) != 0;
    m->disabled_reason = column_dup(st, 3, &bad);
    m->forced_down = sqlite3_column_int(st, 4) != 0;
    m->report_json = column_dup(st, 5, &bad);
    m->state = db_judge(&d->base, now, m->last_seen_ms, m->forced_down);
    if (bad || !m->host) {
        drover_member_clear(m);
        return -1;
    }
    /* a report that does not decode is kept as text; report stays NULL */
    if (m->report_json)
        dv_report_decode(d->dec, m->report_json, (size_t)sqlite3_column_bytes(st, 5), &m->report,
                         NULL);
    return 0;
}

static int db_get(dv_sg *sg, const char *group, const char *host, drover_member *m,
                  drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_GET, MEMBER_COLUMNS " WHERE grp = ?1 AND host = ?2", group,
                            host, err);
    int rc, res;

    if (!st)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        res = member_from_row(d, st, group, strlen(group), dv_clock_now(&sg->clock), m) < 0
                  ? db_nomem(err) : 0;
    else if (rc == SQLITE_DONE)
        res = db_not_found(d, group, host, err);
    else
        res = dv_sqlite_fail(d->h, rc, "reading a member", err);
    sqlite3_reset(st);
    return res;
}

/* One SELECT in host order; the array is sized from the previous call so a
 * steady fleet costs one allocation for it. */
static int db_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_GET_ALL, MEMBER_COLUMNS " WHERE grp = ?1 ORDER BY host", group,
                            NULL, err);
    size_t cap = d->last_n + d->last_n / 8 + 16, count = 0, group_len = strlen(group);
    drover_member *v;
    int64_t now = dv_clock_now(&sg->clock);
    int rc;

    *members = NULL;
    *n = 0;
    if (!st)
        return -1;
    if (!(v = malloc(cap * sizeof *v))) {
        sqlite3_reset(st);
        return db_nomem(err);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            drover_member *nv = realloc(v, cap * 2 * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        if (member_from_row(d, st, group, group_len, now, &v[count]) < 0)
            break;
        count++;
    }
    if (rc != SQLITE_DONE) {
        rc == SQLITE_ROW ? db_nomem(err) : dv_sqlite_fail(d->h, rc, "listing members", err);
        sqlite3_reset(st);
        drover_members_free(v, count);
        return -1;
    }
    sqlite3_reset(st);
    d->last_n = count;
    *members = v;
    *n = count;
    return 0;
}

/* A scratch array p of *cap items of size bytes, with room for need more
 * past used: p itself, or p moved by realloc (doubling), or NULL (p is
 * then unchanged and still valid). */
static void *reserve(void *p, size_t *cap, size_t used, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 64;

    if (used + need <= *cap)
        return p;
    while (c < used + need) {
        if (c > SIZE_MAX / 2 / size)
            return NULL;
        c *= 2;
    }
    if ((p = realloc(p, c * size)))
        *cap = c;
    return p;
}

/* Copy column i (text, NUL-terminated) to the scratch text; its offset. */
static int keep_text(db_sg *d, sqlite3_stmt *st, int i, size_t *used, size_t *off)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i) + 1;
    char *t;

    if (!s || !(t = reserve(d->text, &d->text_cap, *used, n, 1)))
        return -1;
    d->text = t;
    memcpy(d->text + *used, s, n);
    *off = *used;
    *used += n;
    return 0;
}

/* Read the rows into the scratch; the number read, -1 with err set. */
static ptrdiff_t read_states(db_sg *d, sqlite3_stmt *st, size_t *text_used, drover_error *err)
{
    size_t count = 0;
    int rc;

    *text_used = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        state_row *r = reserve(d->rows, &d->rows_cap, count, 1, sizeof *r);

        if (!r)
            break;
        d->rows = r;
        r += count;
        r->last_seen_ms = sqlite3_column_int64(st, 1);
        r->disabled = sqlite3_column_int(st, 2) != 0;
        r->forced_down = sqlite3_column_int(st, 4) != 0;
        r->reason = NO_REASON;
        if (keep_text(d, st, 0, text_used, &r->host) < 0 ||
            (sqlite3_column_type(st, 3) != SQLITE_NULL &&
             keep_text(d, st, 3, text_used, &r->reason) < 0))
            break;
        count++;
    }
    if (rc != SQLITE_DONE) {
        rc == SQLITE_ROW ? db_nomem(err) : dv_sqlite_fail(d->h, rc, "listing member states", err);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return (ptrdiff_t)count;
}

/* get_all without the report column, which the query never reads (the
 * member_liveness index covers it).  The result is one block: the member
 * array, then the group name once, then every host name and reason. */
static int db_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                         drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_STATES,
                            "SELECT host, last_seen_ms, disabled, disabled_reason, forced_down"
                            " FROM member WHERE grp = ?1 ORDER BY host", group, NULL, err);
    size_t count, text_used, group_size = strlen(group) + 1;
    int64_t now = dv_clock_now(&sg->clock);
    ptrdiff_t got;
    drover_member *v;
    char *g, *text;

    *members = NULL;
    *n = 0;
    if (!st || (got = read_states(d, st, &text_used, err)) < 0)
        return -1;
    count = (size_t)got;
    if (!(v = malloc(count * sizeof *v + group_size + text_used)))
        return db_nomem(err);
    g = (char *)(v + count);
    text = g + group_size;
    memcpy(g, group, group_size);
    if (text_used)
        memcpy(text, d->text, text_used);
    for (size_t i = 0; i < count; i++) {
        const state_row *r = &d->rows[i];

        v[i] = (drover_member){
            .group = g,
            .host = text + r->host,
            .state = db_judge(sg, now, r->last_seen_ms, r->forced_down),
            .disabled = r->disabled,
            .disabled_reason = r->reason == NO_REASON ? NULL : text + r->reason,
            .forced_down = r->forced_down,
            .last_seen_ms = r->last_seen_ms,
            .packed = true,
        };
    }
    *members = v;
    *n = count;
    return 0;
}

/* The servicegroup.db section. */
static const dv_config_key config_keys[] = {
    DV_KEY_STRING("path", offsetof(dv_config, servicegroup.db.path), DV_CONFIG_NONEMPTY,
                  "/var/lib/drover/drover.db", NULL),
    DV_KEY_INT("busy_timeout_ms", offsetof(dv_config, servicegroup.db.busy_timeout_ms), 1,
               3600000, 5000),
    DV_KEY_END,
};

static const dv_config_section config_section = { .name = "db", .keys = config_keys };

const dv_sg_ops dv_sg_db_ops = {
    .version = DV_SG_OPS_VERSION,
    .name = "db",
    .config = &config_section,
    .open = db_open,
    .close = db_close,
    .join = db_join,
    .heartbeat = db_heartbeat,
    .is_up = db_is_up,
    .get_all = db_get_all,
    .get_states = db_get_states,
    .get = db_get,
    .leave = db_leave,
    .set_disabled = db_set_disabled,
    .set_forced_down = db_set_forced_down,
    .get_summaries = db_get_summaries,
    .find_instance = db_find_instance,
};
