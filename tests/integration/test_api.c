/* test_api.c - the public library, linked as users link it (libdrover
 * only, through include/drover.h), on a real SQLite file: listing states
 * and members of the configured group.
 *
 * The public API has no join or heartbeat (agents do that through the
 * driver), so the members are written into the file with SQLite directly,
 * after drover_open() has created it; admin state goes through the API.
 * drover_schedule places an instance among them, asking libvirt's own test
 * driver in the library's process (test:///FILE for the source, whose file
 * defines the running guest; test:///default for the destination). */
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

#define API_UUID "5b7e6c2a-1f3d-4a8b-9c0e-2d4f6a8b0c1e"

/* The test driver reports hypervisor TEST 0.0.2 (version 2) on i686. */
static void add_test_host(const char *db, const char *host, const char *instances)
{
    char rep[1024];

    snprintf(rep, sizeof rep,
             "{\"schema\":1,\"host\":\"%s\",\"generated_ms\":1700000000000,"
             "\"hypervisor_type\":\"TEST\",\"hypervisor_version\":2,\"libvirt_version\":9000000,"
             "\"arch\":\"i686\",\"cpu_xml\":\"\",\"memory_total_mib\":3072,"
             "\"memory_free_mib\":3000,\"vcpus\":16,\"migration_uri\":\"test:///default\","
             "\"instances\":[%s]}", host, instances);
    add_member(db, "compute", host, wall_ms(), rep);
}

static void test_schedule(drover_ctx *ctx, const char *db)
{
    drover_error err = { 0 };
    drover_placement p;

    add_test_host(db, "api-src", "{\"name\":\"apivm\",\"uuid\":\"" API_UUID "\","
                                 "\"memory_mib\":1,\"state\":\"running\"}");
    add_test_host(db, "api-dst", "");
    is_int(drover_schedule(ctx, "apivm", NULL, false, &p, &err), 0,
           "drover_schedule apivm (%s)", err.message);
    is_str(p.host, "api-dst", "... the destination is api-dst (the others are down or disabled)");
    is_str(p.source, "api-src", "... from api-src");
    is_str(p.instance_uuid, API_UUID, "... the instance's UUID");
    is_int(p.memory_mib, 1, "... its memory");
    is_int(p.claim_id, 0, "... a question only: no claim");
    drover_placement_clear(&p);
    is_int(drover_schedule(ctx, API_UUID, "api-dst", true, &p, &err), 0,
           "drover_schedule by UUID, --to api-dst, with a claim (%s)", err.message);
    ok(p.claim_id > 0, "... the claim is held (%lld)", (long long)p.claim_id);
    drover_placement_clear(&p);
    is_int(drover_schedule(ctx, "nosuch", NULL, false, &p, &err), -1, "an unknown instance fails");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "... not found");
    ok(p.host == NULL, "... and no destination");
    is_int(drover_schedule(ctx, "apivm", "api-up", false, &p, &err), -1,
           "--to a disabled host fails");
    is_int(err.code, DROVER_ERR_NO_VALID_HOST, "... no valid host");
    has_str(err.message, "disabled", "... saying it is disabled");
    drover_placement_clear(&p);
}

int main(void)
{
    char conf[700], text[1200], node[256];
    const char *db;
    drover_error err = { 0 };
    drover_ctx *ctx;

    if (!(dir = dbt_tmpdir()))
        bail_out("mkdtemp failed");
    db = dbt_join(dir, "drover.db");
    snprintf(conf, sizeof conf, "%s/drover.conf", dir);
    snprintf(node, sizeof node, "%s/src-node.xml", dir);
    snprintf(text, sizeof text,
             "<node><domain type='test'><name>apivm</name><uuid>" API_UUID "</uuid>"
             "<memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain></node>\n");
    if (dbt_write_file(node, text, strlen(text)) < 0)
        bail_out("cannot write %s", node);
    snprintf(text, sizeof text,
             "servicegroup = { driver = \"db\"; db = { path = \"%s\"; }; };\n"
             "agent = { group = \"compute\"; };\n"
             "state = { path = \"%s/state.db\"; };\n"
             "controller = { libvirt_uris = [ \"api-src=test://%s\", "
             "\"api-dst=test:///default\" ]; };\n", db, dir, node);
    if (dbt_write_file(conf, text, strlen(text)) < 0)
        bail_out("cannot write %s", conf);
    if (drover_open(conf, &ctx, &err) < 0)
        bail_out("drover_open %s: %s", conf, err.message);
    is_str(drover_ctx_group(ctx), "compute", "the context's group is compute");
    test_list_states(ctx, db);
    test_schedule(ctx, db);
    drover_close(ctx);
    dbt_rmrf(dir);
    return done_testing();
}
