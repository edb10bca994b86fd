/* test_api.c - the public library, linked as users link it (libdrover
 * only, through include/drover.h), on a real SQLite file: listing states
 * and members of the configured group.
 *
 * The public API has no join or heartbeat (agents do that through the
 * driver), so the members are written into the file with SQLite directly,
 * after drover_open() has created it; admin state goes through the API. */
#include "drover.h"
#include "tests/integration/dbtest.h"
#include "tests/tap.h"

#include <sqlite3.h>
#include <time.h>

static char *dir;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A report as an agent writes it (schema 1, every field). */
static const char report[] =
    "{\"schema\":1,\"host\":\"api-up\",\"generated_ms\":1700000000000,"
    "\"hypervisor_type\":\"QEMU\",\"hypervisor_version\":7002000,\"libvirt_version\":9000000,"
    "\"arch\":\"x86_64\",\"cpu_xml\":\"<cpu/>\",\"memory_total_mib\":4096,"
    "\"memory_free_mib\":1024,\"vcpus\":4,\"migration_uri\":\"qemu+tcp://api-up/system\","
    "\"instances\":[]}";

static void add_member(const char *db, const char *group, const char *host, int64_t last_seen,
                       const char *report_json)
{
    sqlite3 *s;
    sqlite3_stmt *st;

    if (sqlite3_open(db, &s) != SQLITE_OK ||
        sqlite3_prepare_v2(s, "INSERT INTO member (grp, host, joined_ms, last_seen_ms, report)"
                              " VALUES (?1, ?2, ?3, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
        bail_out("cannot write a member into %s: %s", db, sqlite3_errmsg(s));
    sqlite3_busy_timeout(s, 5000);
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, last_seen);
    if (report_json)
        sqlite3_bind_text(st, 4, report_json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        bail_out("cannot insert %s: %s", host, sqlite3_errmsg(s));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_list_states(drover_ctx *ctx, const char *db)
{
    drover_error err = { 0 };
    drover_member *v, *all;
    size_t n, n_all;
    int64_t now = wall_ms();
    bool same = true;

    add_member(db, "compute", "api-up", now, report);
    add_member(db, "compute", "api-stale", now - 120 * 1000, NULL);
    add_member(db, "compute", "api-forced", now, report);
    add_member(db, "other", "api-elsewhere", now, report);
    ok(drover_set_disabled(ctx, "api-up", true, "kernel update", &err) == 0,
       "drover_set_disabled api-up");
    ok(drover_set_forced_down(ctx, "api-forced", true, &err) == 0,
       "drover_set_forced_down api-forced");

    ok(drover_list_states(ctx, &v, &n, &err) == 0, "drover_list_states (%s)", err.message);
    is_int(n, 3, "three members in the context's group");
    if (n == 3) {
        is_str(v[0].host, "api-forced", "sorted by host: api-forced");
        is_int(v[0].state, DROVER_DOWN, "... DOWN: forced down");
        ok(v[0].forced_down && !v[0].disabled, "... with forced_down set");
        is_str(v[1].host, "api-stale", "api-stale");
        is_int(v[1].state, DROVER_DOWN, "... DOWN: last seen 120 s ago");
        is_int(v[1].last_seen_ms, now - 120 * 1000, "... last_seen_ms as written");
        is_str(v[2].host, "api-up", "api-up");
        is_int(v[2].state, DROVER_UP, "... UP");
        ok(v[2].disabled && same_str(v[2].disabled_reason, "kernel update"),
           "... disabled, with its reason");
        for (size_t i = 0; i < n; i++)
            same &= same_str(v[i].group, "compute") && !v[i].report_json && !v[i].report;
        ok(same, "every member in group compute, none with a report");
    }

    ok(drover_list_members(ctx, &all, &n_all, &err) == 0 && n_all == n,
       "drover_list_members lists as many");
    same = n_all == n;
    for (size_t i = 0; same && i < n; i++)
        same = same_str(all[i].host, v[i].host) && all[i].state == v[i].state &&
               all[i].disabled == v[i].disabled &&
               same_str(all[i].disabled_reason, v[i].disabled_reason) &&
               all[i].forced_down == v[i].forced_down && all[i].last_seen_ms == v[i].last_seen_ms;
    ok(same, "the same members and states as drover_list_states");
    ok(n_all == 3 && all[2].report && same_str(all[2].report->hypervisor_type, "QEMU"),
       "drover_list_members has api-up's decoded report");
    drover_members_free(all, n_all);
    drover_members_free(v, n);

    v = (drover_member *)&err;
    n = 7;
    ok(drover_list_states(NULL, &v, &n, &err) < 0 && err.code == DROVER_ERR_INVALID && !v &&
       n == 0, "no context: invalid, the list left empty");
}

int main(void)
{
    char conf[700], text[900];
    const char *db;
    drover_error err = { 0 };
    drover_ctx *ctx;

    if (!(dir = dv_scratch_dir()))
        bail_out("mkdtemp failed");
    db = dv_scratch_join(dir, "drover.db");
    snprintf(conf, sizeof conf, "%s/drover.conf", dir);
    snprintf(text, sizeof text,
             "servicegroup = { driver = \"db\"; db = { path = \"%s\"; }; };\n"
             "agent = { group = \"compute\"; };\n", db);
    if (dbt_write_file(conf, text, strlen(text)) < 0)
        bail_out("cannot write %s", conf);
    if (drover_open(conf, &ctx, &err) < 0)
        bail_out("drover_open %s: %s", conf, err.message);
    is_str(drover_ctx_group(ctx), "compute", "the context's group is compute");
    test_list_states(ctx, db);
    drover_close(ctx);
    dv_scratch_rmrf(dir);
    return done_testing();
}
