/* db_summary.c - the db driver's heartbeat, which keeps each report's
 * placement summary (core/report.h) and the instance -> host index in the
 * same transaction as the report, and the reads they serve. */
#include "core/hash.h"
#include "core/model.h"
#include "drivers/db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Of the names and UUIDs the index holds; never 0 (0: unknown). */
static int64_t instances_hash(const drover_report *r)
{
    uint64_t h = DV_FNV_OFFSET;
    for (size_t i = 0; r && i < r->n_instances; i++) {
        const char *nm = r->instances[i].name ? r->instances[i].name : "";
        const char *id = r->instances[i].uuid ? r->instances[i].uuid : "";
        h = dv_fnv1a(nm, strlen(nm) + 1, h);
        h = dv_fnv1a(id, strlen(id) + 1, h);
    }
    h &= INT64_MAX;
    return h ? (int64_t)h : 1;
}

/* The member_instance rows of one host: the instances its report lists,
 * rewritten only when they are not those indexed already. */
static int index_instances(db_sg *d, const char *group, const char *host, const drover_report *r,
                           drover_error *err)
{
    int64_t want = instances_hash(r);
    sqlite3_stmt *st = db_stmt(d, S_FIND,
                               "SELECT instances_hash FROM member WHERE grp = ?1 AND host = ?2",
                               group, host, err);
    bool same;

    if (!st)
        return -1;
    same = r && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == want;
    sqlite3_reset(st);
    if (same)
        return 0;
    if (r) {
        if (!(st = db_stmt(d, S_INST_HASH,
                           "UPDATE member SET instances_hash = ?3 WHERE grp = ?1 AND host = ?2",
                           group, host, err)))
            return -1;
        sqlite3_bind_int64(st, 3, want);
        if (dv_sqlite_exec_stmt(d->h, st, "indexing a host's instances", err) < 0)
            return -1;
    }
    st = db_stmt(d, S_INST_DEL,
                               "DELETE FROM member_instance WHERE grp = ?1 AND host = ?2", group,
                               host, err);

    if (!st || dv_sqlite_exec_stmt(d->h, st, "forgetting a host's instances", err) < 0)
        return -1;
    for (size_t i = 0; r && i < r->n_instances; i++) {
        st = db_stmt(d, S_INST_ADD,
                     "INSERT INTO member_instance (grp, host, name, uuid) VALUES (?1, ?2, ?3, ?4)",
                     group, host, err);
        if (!st)
            return -1;
        dv_sqlite_bind_text(st, 3, r->instances[i].name ? r->instances[i].name : "");
        dv_sqlite_bind_text(st, 4, r->instances[i].uuid ? r->instances[i].uuid : "");
        if (dv_sqlite_exec_stmt(d->h, st, "indexing a host's instances", err) < 0)
            return -1;
    }
    return 0;
}

static int write_heartbeat(db_sg *d, const char *group, const char *host, const char *json,
                           const char *sum, size_t sum_len, drover_error *err)
{
    sqlite3_stmt *st = db_stmt(
        d, S_HEARTBEAT,
        "INSERT INTO member (grp, host, joined_ms, last_seen_ms, report_count, report, summary)"
        " VALUES (?1, ?2, ?3, ?3, ?4 IS NOT NULL, ?4, ?5)"
        " ON CONFLICT (grp, host) DO UPDATE SET last_seen_ms = ?3,"
        "  report_count = report_count + (?4 IS NOT NULL), report = coalesce(?4, report),"
        "  summary = CASE WHEN ?4 IS NULL THEN summary ELSE ?5 END",
        group, host, err);

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, dv_clock_now(&d->base.clock));
    if (json) {
        sqlite3_bind_text(st, 4, json, (int)strlen(json), SQLITE_STATIC);
        /* '' (not NULL) when the report does not decode: NULL means "not
         * summarised yet" (a row from before the summaries) */
        sqlite3_bind_blob(st, 5, sum ? sum : "", (int)sum_len, SQLITE_STATIC);
    }
    return dv_sqlite_exec_stmt(d->h, st, "heartbeat", err);
}

/* A heartbeat of a member that never joined joins it.  A NULL report keeps
 * the last one (and its summary and index rows). */
int db_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                 drover_error *err)
{
    db_sg *d = db_me(sg);
    drover_report *r = NULL;
    char *sum = NULL;
    size_t sum_len = 0;
    int rc = -1;

    if (!report_json)
        return write_heartbeat(d, group, host, NULL, NULL, 0, err);
    if (dv_report_decode(d->dec, report_json, strlen(report_json), &r, NULL) == 0 &&
        dv_summary_encode(r, &sum, &sum_len, err) < 0) {
        drover_report_free(r);
        return -1;
    }
    if (dv_sqlite_begin(d->h, true, err) == 0) {
        if (write_heartbeat(d, group, host, report_json, sum, sum_len, err) == 0 &&
            index_instances(d, group, host, r, err) == 0 && dv_sqlite_commit(d->h, err) == 0)
            rc = 0;
        else
            dv_sqlite_rollback(d->h);
    }
    free(sum);
    drover_report_free(r);
    return rc;
}

/* Forget the member, admin state and instance index included. */
int db_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st;

    if (dv_sqlite_begin(d->h, true, err) < 0)
        return -1;
    st = db_stmt(d, S_LEAVE, "DELETE FROM member WHERE grp = ?1 AND host = ?2", group, host, err);
    if (!st || db_write_member(d, st, "leaving", group, host, err) < 0 ||
        index_instances(d, group, host, NULL, err) < 0 || dv_sqlite_commit(d->h, err) < 0) {
        dv_sqlite_rollback(d->h);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- get_summaries */

static char *arena_text(dv_arena *a, const unsigned char *s, size_t n)
{
    return s ? dv_arena_strndup(a, (const char *)s, n) : NULL;
}

/* A row of schema 2 not heartbeated since: summarise its report now. */
static int legacy_summary(db_sg *d, const char *group, const char *host, dv_arena *a,
                          bool instances, dv_member_summary *ms, drover_error *err)
{
    sqlite3_stmt *st = db_stmt(d, S_LEGACY, "SELECT report FROM member WHERE grp = ?1 AND host = ?2",
                               group, host, err);
    const char *text;
    char *sum = NULL;
    size_t sum_len;
    int rc;

    if (!st)
        return -1;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        dv_sqlite_fail(d->h, rc, "reading a member's report", err);
        sqlite3_reset(st);
        return -1;
    }
    text = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    ms->stored = text != NULL;
    rc = text ? dv_summary_of_json(d->dec, text, (size_t)sqlite3_column_bytes(st, 0), &sum,
                                   &sum_len, err)
              : 1;
    sqlite3_reset(st);
    if (rc < 0)
        return -1;
    if (sum) {
        rc = dv_summary_decode(a, sum, sum_len, instances, NULL, ms, err);
        free(sum);
        if (rc < 0 && err && err->code == DROVER_ERR_NOMEM)
            return -1;
    }
    return 0;
}

/* One row: host, last_seen_ms, disabled, disabled_reason, forced_down, summary. */
static int summary_row(db_sg *d, sqlite3_stmt *st, const char *group, int64_t now, dv_arena *a,
                       bool instances, drover_member *m, dv_member_summary *ms,
                       drover_error *err)
{
    const void *sum = sqlite3_column_blob(st, 5);
    size_t sum_len = (size_t)sqlite3_column_bytes(st, 5);

    memset(m, 0, sizeof *m);
    memset(ms, 0, sizeof *ms);
    m->group = (char *)group;
    m->packed = true;
    m->host = arena_text(a, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    m->last_seen_ms = sqlite3_column_int64(st, 1);
    m->disabled = sqlite3_column_int(st, 2) != 0;
    if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
        !(m->disabled_reason = arena_text(a, sqlite3_column_text(st, 3),
                                          (size_t)sqlite3_column_bytes(st, 3))))
        return db_nomem(err);
    m->forced_down = sqlite3_column_int(st, 4) != 0;
    m->state = db_judge(&d->base, now, m->last_seen_ms, m->forced_down);
    if (!m->host)
        return db_nomem(err);
    if (sqlite3_column_type(st, 5) == SQLITE_NULL)
        /* with its instance list whatever was asked: the instance index
         * knows only what heartbeats since the upgrade wrote */
        return legacy_summary(d, group, m->host, a, true, ms, err);
    ms->stored = true;
    if (sum_len) {
        drover_error local;
        /* a summary that does not read is a report that does not decode */
        if (dv_summary_decode(a, sum, sum_len, instances, NULL, ms, &local) < 0 &&
            local.code == DROVER_ERR_NOMEM)
            return db_nomem(err);
    }
    return 0;
}

static int grow(dv_summary_list *l, size_t *cap, size_t guess)
{
    size_t nc = *cap ? *cap * 2 : guess;
    drover_member *m = realloc(l->members, nc * sizeof *m);
    dv_member_summary *s;

    if (!m)
        return -1;
    l->members = m;
    if (!(s = realloc(l->sums, nc * sizeof *s)))
        return -1;
    l->sums = s;
    *cap = nc;
    return 0;
}

/* From the member_summary index alone: no report page is read, no JSON is
 * decoded (but for rows of schema 2 not heartbeated since the upgrade).
 * Host names, reasons and summaries go into one arena, the group once. */
int db_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                     drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_SUMMARIES,
                               "SELECT host, last_seen_ms, disabled, disabled_reason, forced_down,"
                               " summary FROM member WHERE grp = ?1 ORDER BY host",
                               group, NULL, err);
    int64_t now = dv_clock_now(&sg->clock);
    size_t cap = 0, guess = d->last_n + d->last_n / 8 + 16;
    char *g;
    int rc = SQLITE_DONE;

    memset(out, 0, sizeof *out);
    if (!st)
        return -1;
    if (!(out->arena = dv_arena_new()) || !(g = dv_arena_strndup(out->arena, group, strlen(group)))) {
        sqlite3_reset(st);
        dv_summary_list_free(out);
        return db_nomem(err);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap && grow(out, &cap, guess) < 0) {
            db_nomem(err);
            break;
        }
        if (summary_row(d, st, g, now, out->arena, instances, &out->members[out->n],
                        &out->sums[out->n], err) < 0)
            break;
        out->n++;
    }
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            dv_sqlite_fail(d->h, rc, "listing member summaries", err);
        sqlite3_reset(st);
        dv_summary_list_free(out);
        return -1;
    }
    sqlite3_reset(st);
    d->last_n = out->n;
    return 0;
}

/* ---------------------------------------------------------------- find_instance */

/* From member_instance's name and UUID indexes; the names are packed after
 * the array in one block. */
int db_find_instance(dv_sg *sg, const char *group, const char *key, char ***hosts, size_t *n,
                     drover_error *err)
{
    db_sg *d = db_me(sg);
    sqlite3_stmt *st = db_stmt(d, S_INSTANCE_HOSTS,
                               "SELECT host FROM member_instance WHERE grp = ?1 AND name = ?2"
                               " UNION SELECT host FROM member_instance"
                               " WHERE grp = ?1 AND uuid = ?2 COLLATE NOCASE",
                               group, key, err);
    char names[64][DV_NAME_MAX + 1];
    size_t count = 0, bytes = 0;
    char **v, *p;
    int rc;

    *hosts = NULL;
    *n = 0;
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < 64) {
        snprintf(names[count], sizeof names[count], "%s", (const char *)sqlite3_column_text(st, 0));
        bytes += strlen(names[count++]) + 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return dv_sqlite_fail(d->h, rc, "finding an instance's host", err);
    if (rc == SQLITE_ROW)   /* more than 64 hosts: let the caller read them all */
        return dv_err(err, DROVER_ERR_UNSUPPORTED, DROVER_FROM_DB,
                      "instance %s is listed by more than 64 hosts", key);
    if (!(v = malloc(count * sizeof *v + bytes + 1)))
        return db_nomem(err);
    p = (char *)(v + count);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]) + 1;
        v[i] = memcpy(p, names[i], len);
        p += len;
    }
    *hosts = v;
    *n = count;
    return 0;
}
