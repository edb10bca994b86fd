/* test_db.c - the `db` servicegroup driver on real SQLite files, through the
 * registry's dv_sg_* wrappers: liveness at its exact boundaries (injected
 * clock), admin state, membership, reports, files that are not ours,
 * unwritable directories, bad names, a lock held past busy_timeout, two
 * writers and a reader on one file; and the vtable's guards. */
#include "core/config.h"
#include "core/report.h"
#include "core/sqlite.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "drivers/db/db.h"
#include "tests/integration/dbtest.h"
#include "tests/tap.h"

#include <signal.h>

static char *dir;
static const int64_t T0 = 1700000000000;   /* a fixed "now" for the injected clock */
static int64_t fake_now;

static int64_t now_fn(void *arg)
{
    return *(int64_t *)arg;
}

static dv_config *config_for(const char *path)
{
    dv_config *cfg = dv_config_new_defaults();
    drover_error err;

    if (!cfg || dv_config_set_string(&cfg->servicegroup.db.path, path, &err) < 0)
        bail_out("cannot make a config");
    return cfg;
}

/* Open the db driver on path with the injected clock. */
static dv_sg *open_sg(dv_config *cfg)
{
    drover_error err = { 0 };
    dv_sg *sg;

    if (dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("cannot open the db driver on %s: %s", cfg->servicegroup.db.path, err.message);
    sg->clock = (dv_clock){ now_fn, &fake_now };
    return sg;
}

static drover_liveness state_of(dv_sg *sg, const char *host)
{
    drover_error err;
    drover_liveness s;

    if (dv_sg_is_up(sg, "compute", host, &s, &err) < 0)
        diag("is_up %s: %s", host, err.message);
    return s;
}

/* ---- the vtable's guards */

static int hollow_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

static void hollow_close(dv_sg *sg)
{
    free(sg);
}

static const dv_sg_ops hollow_ops = {
    .version = DV_SG_OPS_VERSION, .name = "hollow", .open = hollow_open, .close = hollow_close,
};
static const dv_sg_ops unopenable_ops = { .version = DV_SG_OPS_VERSION, .name = "unopenable" };
static const dv_sg_ops future_ops = {
    .version = DV_SG_OPS_VERSION + 1, .name = "future", .open = hollow_open,
};

static void test_guards(void)
{
    dv_config *cfg = config_for(dv_scratch_join(dir, "unused.db"));
    drover_error err = { 0 };
    drover_member *all = (drover_member *)&err, one;
    drover_liveness s = DROVER_UP;
    size_t n = 99;
    dv_sg *sg = (dv_sg *)&err;
    const char *const *names = dv_sg_names();

    ok(dv_sg_find("db", &err) == &dv_sg_db_ops, "the db driver is registered as \"db\"");
    ok(names[0] && strcmp(names[0], "db") == 0, "dv_sg_names lists db first");
    ok(!dv_sg_find("nosuch", &err), "an unregistered driver name is not found");
    is_int(err.code, DROVER_ERR_UNSUPPORTED, "... unsupported");
    has_str(err.message, "\"nosuch\"", "... naming it");
    has_str(err.message, "this build has: db", "... and listing the known ones");
    dv_config_set_string(&cfg->servicegroup.driver, "nosuch", &err);
    ok(dv_sg_open(cfg, &sg, &err) < 0 && !sg && err.code == DROVER_ERR_UNSUPPORTED,
       "dv_sg_open of an unregistered driver fails the same way, *out NULL");

    ok(dv_sg_open_ops(&unopenable_ops, cfg, &sg, &err) < 0 && !sg, "a NULL open slot fails");
    is_int(err.code, DROVER_ERR_UNSUPPORTED, "... unsupported");
    has_str(err.message, "\"unopenable\" cannot be opened", "... naming the driver");
    ok(dv_sg_open_ops(&future_ops, cfg, &sg, &err) < 0 && !sg && err.code == DROVER_ERR_INTERNAL,
       "an ops table of another interface version is refused");
    has_str(err.message, "interface version", "... saying why");

    if (dv_sg_open_ops(&hollow_ops, cfg, &sg, &err) < 0)
        bail_out("cannot open the hollow test driver: %s", err.message);
    ok(sg->ops == &hollow_ops && sg->cfg == cfg, "the wrapper fills ops and cfg");
    ok(dv_sg_join(sg, "compute", "h", &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "join through a NULL slot: unsupported");
    has_str(err.message, "\"hollow\" does not support join", "... naming driver and operation");
    ok(dv_sg_heartbeat(sg, "compute", "h", NULL, &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "heartbeat: unsupported");
    ok(dv_sg_is_up(sg, "compute", "h", &s, &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "is_up: unsupported");
    is_int(s, DROVER_UNKNOWN, "... and the state is UNKNOWN, never DOWN");
    ok(dv_sg_get_all(sg, "compute", &all, &n, &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "get_all: unsupported");
    ok(!all && n == 0, "... leaving an empty list");
    ok(dv_sg_get(sg, "compute", "h", &one, &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "get: unsupported");
    ok(dv_sg_leave(sg, "compute", "h", &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "leave: unsupported");
    ok(dv_sg_set_disabled(sg, "compute", "h", true, "r", &err) < 0 &&
       err.code == DROVER_ERR_UNSUPPORTED, "set_disabled: unsupported");
    ok(dv_sg_set_forced_down(sg, "compute", "h", true, &err) < 0 &&
       err.code == DROVER_ERR_UNSUPPORTED, "set_forced_down: unsupported");
    has_str(err.message, "set_forced_down", "... naming the operation");
    all = (drover_member *)&err;
    n = 99;
    ok(dv_sg_get_states(sg, "compute", &all, &n, &err) < 0 && err.code == DROVER_ERR_UNSUPPORTED,
       "get_states with neither get_states nor get_all: unsupported");
    has_str(err.message, "\"hollow\" does not support get_states", "... naming the operation");
    ok(!all && n == 0, "... leaving an empty list");
    dv_sg_close(sg);
    dv_config_free(cfg);
}

/* ---- liveness */

static void test_liveness(dv_sg *sg)
{
    drover_error err = { 0 };

    fake_now = T0;
    ok(dv_sg_heartbeat(sg, "compute", "live", NULL, &err) == 0, "heartbeat at T0");
    fake_now = T0 + 60 * 1000;
    is_int(state_of(sg, "live"), DROVER_UP, "UP exactly service_down_time (60 s) after it");
    fake_now = T0 + 60 * 1000 + 1;
    is_int(state_of(sg, "live"), DROVER_DOWN, "DOWN 1 ms past it");
    fake_now = T0 - 59999;
    is_int(state_of(sg, "live"), DROVER_UP, "last_seen 59.999 s in the future (skew): UP");
    fake_now = T0 - 60000;
    is_int(state_of(sg, "live"), DROVER_UP, "last_seen exactly 60 s in the future: UP");
    fake_now = T0 - 60001;
    is_int(state_of(sg, "live"), DROVER_DOWN, "last_seen more than 60 s in the future: DOWN");

    fake_now = T0;
    ok(dv_sg_set_forced_down(sg, "compute", "live", true, &err) == 0, "force it down");
    ok(dv_sg_heartbeat(sg, "compute", "live", NULL, &err) == 0, "a fresh heartbeat");
    is_int(state_of(sg, "live"), DROVER_DOWN, "forced down is DOWN despite the fresh heartbeat");
    ok(dv_sg_set_forced_down(sg, "compute", "live", false, &err) == 0, "forced down --off");
    is_int(state_of(sg, "live"), DROVER_UP, "UP again");

    ok(dv_sg_set_disabled(sg, "compute", "live", true, "firmware update", &err) == 0,
       "disable with a reason");
    is_int(state_of(sg, "live"), DROVER_UP, "disabling does not change liveness");
    fake_now = T0 + 60001;
    is_int(state_of(sg, "live"), DROVER_DOWN, "and a disabled member still goes DOWN");
    fake_now = T0;
}

/* ---- membership and contents */

static void expect_member(const drover_member *m, const char *host, drover_liveness state,
                          int64_t last_seen, const char *what)
{
    is_str(m->group, "compute", "%s: group", what);
    is_str(m->host, host, "%s: host", what);
    is_int(m->state, state, "%s: state", what);
    is_int(m->last_seen_ms, last_seen, "%s: last_seen_ms", what);
}

static void test_membership(dv_sg *sg)
{
    drover_error err = { 0 };
    drover_member *all, m;
    drover_liveness s;
    size_t n;

    fake_now = T0;
    ok(dv_sg_join(sg, "compute", "m-c", &err) == 0, "join m-c");
    fake_now = T0 + 5;
    ok(dv_sg_join(sg, "compute", "m-a", &err) == 0, "join m-a");
    ok(dv_sg_join(sg, "compute", "m-b", &err) == 0, "join m-b");
    ok(dv_sg_join(sg, "other", "m-z", &err) == 0, "join m-z to another group");
    ok(dv_sg_set_disabled(sg, "compute", "m-b", true, NULL, &err) == 0, "disable m-b, no reason");
    ok(dv_sg_set_forced_down(sg, "compute", "m-c", true, &err) == 0, "force m-c down");

    ok(dv_sg_get_all(sg, "compute", &all, &n, &err) == 0, "get_all compute");
    /* "live" from the liveness test is in compute too */
    is_int(n, 4, "four members (live, m-a, m-b, m-c)");
    if (n == 4) {
        is_str(all[0].host, "live", "sorted by host: live first");
        expect_member(&all[1], "m-a", DROVER_UP, T0 + 5, "m-a");
        ok(!all[1].disabled && !all[1].disabled_reason && !all[1].forced_down,
           "m-a: no admin state");
        ok(!all[1].report_json && !all[1].report, "m-a: joined, no report yet");
        expect_member(&all[2], "m-b", DROVER_UP, T0 + 5, "m-b");
        ok(all[2].disabled && !all[2].disabled_reason && !all[2].forced_down,
           "m-b: disabled without a reason");
        expect_member(&all[3], "m-c", DROVER_DOWN, T0, "m-c");
        ok(all[3].forced_down && !all[3].disabled, "m-c: forced down");
        ok(all[0].disabled && all[0].disabled_reason &&
           strcmp(all[0].disabled_reason, "firmware update") == 0,
           "live: disabled, reason round-trips through get_all");
    }
    drover_members_free(all, n);

    ok(dv_sg_get(sg, "compute", "m-b", &m, &err) == 0, "get m-b");
    expect_member(&m, "m-b", DROVER_UP, T0 + 5, "get m-b");
    ok(m.disabled, "get m-b: disabled");
    drover_member_clear(&m);

    fake_now = T0 + 10;
    ok(dv_sg_join(sg, "compute", "m-b", &err) == 0, "m-b joins again");
    ok(dv_sg_get(sg, "compute", "m-b", &m, &err) == 0 && m.disabled && m.last_seen_ms == T0 + 10,
       "joining again refreshes last_seen and keeps admin state");
    drover_member_clear(&m);

    ok(dv_sg_leave(sg, "compute", "m-b", &err) == 0, "m-b leaves");
    ok(dv_sg_get(sg, "compute", "m-b", &m, &err) < 0, "get of a member that left fails");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "... not found");
    has_str(err.message, "\"m-b\"", "... naming the host");
    has_str(err.message, "\"compute\"", "... and the group");
    ok(dv_sg_leave(sg, "compute", "m-b", &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "leaving twice: not found");
    ok(dv_sg_is_up(sg, "compute", "never", &s, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "is_up of a host that never joined: not found");
    is_int(s, DROVER_UNKNOWN, "... state UNKNOWN");
    ok(dv_sg_set_disabled(sg, "compute", "never", true, "x", &err) < 0 &&
       err.code == DROVER_ERR_NOT_FOUND, "disabling a non-member: not found");
    has_str(err.message, "never", "... naming it");
    ok(dv_sg_set_forced_down(sg, "compute", "never", true, &err) < 0 &&
       err.code == DROVER_ERR_NOT_FOUND, "forcing down a non-member: not found");
    ok(dv_sg_get_all(sg, "compute", &all, &n, &err) == 0 && n == 3, "three members left");
    drover_members_free(all, n);
    ok(dv_sg_get_all(sg, "nobody-here", &all, &n, &err) == 0 && n == 0,
       "an empty group lists nothing");
    drover_members_free(all, n);

    ok(dv_sg_heartbeat(sg, "compute", "m-new", NULL, &err) == 0, "heartbeat of a non-member");
    ok(dv_sg_get(sg, "compute", "m-new", &m, &err) == 0 && m.state == DROVER_UP,
       "... joined it, UP");
    drover_member_clear(&m);
}

/* ---- reports */

static drover_report *sample_report(const char *host)
{
    static drover_instance in[2] = {
        { "vm-1", "6f1c2e34-8a7b-4c1d-9e2f-0a1b2c3d4e5f", 512, "running" },
        { "vm-2", "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b", 2048, "paused" },
    };
    static drover_report r;

    r = (drover_report){
        .schema = DROVER_REPORT_SCHEMA, .host = (char *)host, .generated_ms = T0,
        .hypervisor_type = "QEMU", .hypervisor_version = 7002000, .libvirt_version = 9000000,
        .arch = "x86_64", .cpu_xml = "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>",
        .memory_total_mib = 65536, .memory_free_mib = 40000, .vcpus = 32,
        .migration_uri = "qemu+tcp://10.0.0.7/system", .instances = in, .n_instances = 2,
    };
    return &r;
}

static void test_reports(dv_sg *sg)
{
    drover_error err = { 0 };
    drover_member m;
    char *json;

    if (dv_report_to_json(sample_report("rep"), &json, &err) < 0)
        bail_out("encode: %s", err.message);
    ok(dv_sg_heartbeat(sg, "compute", "rep", json, &err) == 0, "heartbeat with a report");
    ok(dv_sg_get(sg, "compute", "rep", &m, &err) == 0, "get it back");
    is_str(m.report_json, json, "report_json is stored as sent");
    ok(m.report != NULL, "the report is decoded");
    if (m.report) {
        is_str(m.report->hypervisor_type, "QEMU", "hypervisor_type");
        is_int(m.report->hypervisor_version, 7002000, "hypervisor_version");
        is_int(m.report->memory_free_mib, 40000, "memory_free_mib");
        is_str(m.report->migration_uri, "qemu+tcp://10.0.0.7/system", "migration_uri");
        is_int(m.report->n_instances, 2, "two instances");
        if (m.report->n_instances == 2)
            is_str(m.report->instances[1].uuid, "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b",
                   "instance uuid");
    }
    drover_member_clear(&m);

    ok(dv_sg_heartbeat(sg, "compute", "rep", NULL, &err) == 0, "heartbeat without a report");
    ok(dv_sg_get(sg, "compute", "rep", &m, &err) == 0 && m.report_json &&
       strcmp(m.report_json, json) == 0 && m.report, "keeps the last report");
    drover_member_clear(&m);
    free(json);

    ok(dv_sg_heartbeat(sg, "compute", "rep", "{\"schema\": 1, \"host\": ", &err) == 0,
       "heartbeat with a report that is not valid JSON");
    ok(dv_sg_get(sg, "compute", "rep", &m, &err) == 0, "get it");
    is_str(m.report_json, "{\"schema\": 1, \"host\": ", "report_json is kept as text");
    ok(!m.report, "report is NULL: it does not decode");
    is_int(m.state, DROVER_UP, "and the member is still UP");
    drover_member_clear(&m);
}

/* ---- bad names, through the wrappers */

static void test_names(dv_sg *sg)
{
    char long_name[257];
    const char *bad[] = { "", "/", "..", ".", "a/b", "tab\there", "nl\nx", "sp ace", long_name };
    const char *label[] = { "empty", "\"/\"", "\"..\"", "\".\"", "a/b", "a tab", "a newline",
                            "a space", "256 bytes" };
    drover_error err = { 0 };
    drover_member *all;
    drover_liveness s;
    size_t n, before;

    memset(long_name, 'x', 256);
    long_name[256] = '\0';
    dv_sg_get_all(sg, "compute", &all, &before, &err);
    drover_members_free(all, before);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ok(dv_sg_join(sg, "compute", bad[i], &err) < 0 && err.code == DROVER_ERR_INVALID,
           "join refuses a host name: %s", label[i]);
        ok(dv_sg_heartbeat(sg, "compute", bad[i], "{}", &err) < 0 &&
           err.code == DROVER_ERR_INVALID, "heartbeat refuses it too");
        ok(dv_sg_is_up(sg, "compute", bad[i], &s, &err) < 0 && err.code == DROVER_ERR_INVALID &&
           s == DROVER_UNKNOWN, "is_up refuses it");
    }
    has_str(err.message, "256 bytes", "the message says the length");
    has_str(err.message, "is_up", "and which operation refused it");
    ok(dv_sg_get_all(sg, "a/b", &all, &n, &err) < 0 && err.code == DROVER_ERR_INVALID,
       "get_all refuses a bad group name");
    memset(long_name, 'y', 255);
    long_name[255] = '\0';
    ok(dv_sg_join(sg, "compute", long_name, &err) == 0, "a 255-byte host name is fine");
    ok(dv_sg_leave(sg, "compute", long_name, &err) == 0, "and leaves");
    dv_sg_get_all(sg, "compute", &all, &n, &err);
    drover_members_free(all, n);
    is_int(n, before, "no refused name reached the database");
}

/* ---- get_states: the liveness sweep's list */

/* The db driver's ops without get_states: dv_sg_get_states falls back to
 * get_all.  Filled in at run time from dv_sg_db_ops. */
static dv_sg_ops fallback_ops;

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Everything but the reports (and how the strings are stored) is equal. */
static bool same_liveness(const drover_member *a, const drover_member *b)
{
    return same_str(a->group, b->group) && same_str(a->host, b->host) && a->state == b->state &&
           a->disabled == b->disabled && same_str(a->disabled_reason, b->disabled_reason) &&
           a->forced_down == b->forced_down && a->last_seen_ms == b->last_seen_ms;
}

static void expect_state(const drover_member *m, const char *host, drover_liveness state,
                         int64_t last_seen, bool disabled, const char *reason, bool forced_down)
{
    is_str(m->group, "sweep", "%s: group", host);
    is_str(m->host, host, "%s: host", host);
    is_int(m->state, state, "%s: state %s", host, drover_liveness_name(state));
    is_int(m->last_seen_ms, last_seen, "%s: last_seen_ms", host);
    ok(m->disabled == disabled && same_str(m->disabled_reason, reason) &&
       m->forced_down == forced_down, "%s: admin state (disabled %d, reason %s, forced_down %d)",
       host, disabled, reason ? reason : "none", forced_down);
    ok(!m->report_json && !m->report, "%s: no report", host);
}

/* A group "sweep" with one member of each kind, joined out of host order. */
static void populate_sweep(dv_sg *sg)
{
    drover_error err = { 0 };
    char *json;

    if (dv_report_to_json(sample_report("s-up"), &json, &err) < 0)
        bail_out("encode: %s", err.message);
    fake_now = T0 - 60001;
    if (dv_sg_heartbeat(sg, "sweep", "s-stale", json, &err) < 0)
        bail_out("heartbeat: %s", err.message);
    fake_now = T0;
    if (dv_sg_heartbeat(sg, "sweep", "s-up", json, &err) < 0 ||
        dv_sg_heartbeat(sg, "sweep", "s-bad-report", "{\"schema\": ", &err) < 0 ||
        dv_sg_heartbeat(sg, "sweep", "s-forced", json, &err) < 0 ||
        dv_sg_set_forced_down(sg, "sweep", "s-forced", true, &err) < 0 ||
        dv_sg_join(sg, "sweep", "s-disabled", &err) < 0 ||
        dv_sg_set_disabled(sg, "sweep", "s-disabled", true, "rack move", &err) < 0 ||
        dv_sg_join(sg, "sweep", "s-disabled-bare", &err) < 0 ||
        dv_sg_set_disabled(sg, "sweep", "s-disabled-bare", true, NULL, &err) < 0 ||
        dv_sg_heartbeat(sg, "elsewhere", "s-other", json, &err) < 0)
        bail_out("populating the sweep group: %s", err.message);
    free(json);
}

static void test_states_contents(dv_sg *sg, dv_sg *fb)
{
    drover_error err = { 0 };
    drover_member *v, *all, *w;
    size_t n, n_all, n_fb;
    bool same = true, bare = true;

    populate_sweep(sg);
    fake_now = T0 + 1000;
    ok(dv_sg_get_states(sg, "sweep", &v, &n, &err) == 0, "get_states of a group of six");
    is_int(n, 6, "six members, the other group's not among them");
    if (n == 6) {
        expect_state(&v[0], "s-bad-report", DROVER_UP, T0, false, NULL, false);
        expect_state(&v[1], "s-disabled", DROVER_UP, T0, true, "rack move", false);
        expect_state(&v[2], "s-disabled-bare", DROVER_UP, T0, true, NULL, false);
        expect_state(&v[3], "s-forced", DROVER_DOWN, T0, false, NULL, true);
        expect_state(&v[4], "s-stale", DROVER_DOWN, T0 - 60001, false, NULL, false);
        expect_state(&v[5], "s-up", DROVER_UP, T0, false, NULL, false);
        for (size_t i = 0; i < n; i++)
            same &= v[i].packed && v[i].group == v[0].group;
        ok(same, "the list is packed: one allocation, the group name stored once");
    }

    ok(dv_sg_get_all(sg, "sweep", &all, &n_all, &err) == 0 && n_all == n,
       "get_all lists the same number");
    same = n_all == n;
    for (size_t i = 0; same && i < n; i++)
        same = same_liveness(&v[i], &all[i]) && !all[i].packed;
    ok(same, "get_states and get_all agree on every member but the reports");
    ok(n_all == 6 && all[5].report && all[0].report_json && !all[0].report,
       "(get_all does list the reports: s-up decoded, s-bad-report as text)");
    drover_members_free(all, n_all);

    ok(dv_sg_get_states(fb, "sweep", &w, &n_fb, &err) == 0 && n_fb == n,
       "a driver without get_states: dv_sg_get_states falls back to get_all");
    same = n_fb == n;
    for (size_t i = 0; same && i < n; i++) {
        same = same_liveness(&v[i], &w[i]) && !w[i].packed;
        bare &= !w[i].report_json && !w[i].report;
    }
    ok(same, "the fallback lists the same members and states");
    ok(bare, "the fallback drops the reports");
    drover_members_free(w, n_fb);

    /* clearing one member of a packed list, then freeing the list */
    if (n == 6) {
        drover_member_clear(&v[1]);
        ok(!v[1].host && !v[1].group && !v[1].disabled_reason && !v[1].packed,
           "drover_member_clear forgets a packed member's strings");
        is_str(v[2].host, "s-disabled-bare", "and leaves the others alone");
    }
    drover_members_free(v, n);

    fake_now = T0 + 61001;
    ok(dv_sg_get_states(sg, "sweep", &v, &n, &err) == 0 && n == 6 && v[5].state == DROVER_DOWN &&
       v[0].state == DROVER_DOWN, "61 s later every member is DOWN");
    drover_members_free(v, n);
    fake_now = T0;

    ok(dv_sg_get_states(sg, "nobody-here", &v, &n, &err) == 0 && n == 0,
       "an empty group lists nothing");
    drover_members_free(v, n);
    ok(dv_sg_get_states(fb, "nobody-here", &v, &n, &err) == 0 && n == 0,
       "... through the fallback too");
    drover_members_free(v, n);
    v = (drover_member *)&err;
    ok(dv_sg_get_states(sg, "a/b", &v, &n, &err) < 0 && err.code == DROVER_ERR_INVALID && !v &&
       n == 0, "a bad group name is refused, the list left empty");
    has_str(err.message, "get_states", "... naming the operation");
    ok(dv_sg_get_states(fb, "a/b", &v, &n, &err) < 0 && err.code == DROVER_ERR_INVALID,
       "... by the fallback too");
    has_str(err.message, "get_states", "... also naming get_states");
}

/* Enough long names that the driver's scratch grows several times, then
 * fewer: every list must be exact, whatever the scratch held before. */
static void test_states_sizes(dv_sg *sg)
{
    enum { N = 1200 };
    drover_error err = { 0 };
    char host[200];
    drover_member *v;
    size_t n;
    bool exact;

    fake_now = T0;
    for (int i = 0; i < N; i++) {
        snprintf(host, sizeof host, "big-%05d.%0150d.example.net", i, i);
        if (dv_sg_join(sg, "big", host, &err) < 0)
            bail_out("join %s: %s", host, err.message);
    }
    for (int round = 0; round < 2; round++) {
        ok(dv_sg_get_states(sg, "big", &v, &n, &err) == 0 && n == N,
           "get_states of %d members with 176-byte names (call %d)", N, round + 1);
        exact = n == N;
        for (int i = 0; exact && i < N; i++) {
            snprintf(host, sizeof host, "big-%05d.%0150d.example.net", i, i);
            exact = strcmp(v[i].host, host) == 0 && strcmp(v[i].group, "big") == 0 &&
                    v[i].state == DROVER_UP && v[i].last_seen_ms == T0 && !v[i].disabled_reason;
        }
        ok(exact, "every host, in order, with its state");
        drover_members_free(v, n);
    }
    for (int i = 2; i < N; i++) {
        snprintf(host, sizeof host, "big-%05d.%0150d.example.net", i, i);
        dv_sg_leave(sg, "big", host, NULL);
    }
    ok(dv_sg_get_states(sg, "big", &v, &n, &err) == 0 && n == 2 &&
       strncmp(v[0].host, "big-00000.", 10) == 0 && strncmp(v[1].host, "big-00001.", 10) == 0,
       "after all but two left: exactly those two");
    drover_members_free(v, n);
}

/* The query get_states runs is answered from the member_liveness index
 * alone: it never reads the table's pages, where the reports are. */
static void test_states_plan(const char *path)
{
    sqlite3 *s;
    sqlite3_stmt *st;
    char plan[512] = "";

    if (sqlite3_open(path, &s) != SQLITE_OK ||
        sqlite3_prepare_v2(s, "EXPLAIN QUERY PLAN SELECT host, last_seen_ms, disabled,"
                              " disabled_reason, forced_down FROM member WHERE grp = ?1"
                              " ORDER BY host", -1, &st, NULL) != SQLITE_OK)
        bail_out("cannot prepare the plan query on %s", path);
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s; ",
                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(s);
    has_str(plan, "USING COVERING INDEX member_liveness", "get_states' query reads the index only");
    ok(!strstr(plan, "TEMP B-TREE"), "and needs no sort (%s)", plan);
}

/* A file of schema 1 (before member_liveness) is upgraded on open. */
static void test_states_upgrade(void)
{
    dv_db_kind kind_v1 = db_sg_kind;
    const char *path = dv_scratch_join(dir, "v1.db");
    dv_config *cfg = config_for(path);
    drover_error err = { 0 };
    dv_sqlite *h;
    drover_member *v;
    sqlite3_stmt *st;
    sqlite3 *s;
    size_t n;
    dv_sg *sg;

    kind_v1.n_steps = 1;
    if (dv_sqlite_open(path, &kind_v1, 1000, &h, &err) < 0 ||
        sqlite3_exec(dv_sqlite_db(h),
                     "INSERT INTO member (grp, host, joined_ms, last_seen_ms, disabled,"
                     " disabled_reason) VALUES ('compute', 'old-timer', 1, 1700000000000, 1, 'x')",
                     NULL, NULL, NULL) != SQLITE_OK)
        bail_out("cannot make a schema 1 file: %s", err.message);
    dv_sqlite_close(h);
    sg = open_sg(cfg);
    if (sqlite3_open(path, &s) != SQLITE_OK ||
        sqlite3_prepare_v2(s, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        bail_out("cannot read the schema version of %s", path);
    ok(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 3,
       "a schema 1 file is upgraded to schema 3 on open");
    sqlite3_finalize(st);
    sqlite3_close(s);
    fake_now = T0;
    ok(dv_sg_get_states(sg, "compute", &v, &n, &err) == 0 && n == 1 &&
       strcmp(v[0].host, "old-timer") == 0 && v[0].state == DROVER_UP && v[0].disabled &&
       same_str(v[0].disabled_reason, "x"), "its member is listed by get_states, admin state kept");
    drover_members_free(v, n);
    dv_sg_close(sg);
    test_states_plan(path);
    dv_config_free(cfg);
}

/* A file of schema 2 (before the summaries), with reports stored by that
 * version, is upgraded on open: get_summaries reads its reports (by
 * decoding them) and the instance index was filled from them. */
static void test_summaries_upgrade(void)
{
    dv_db_kind kind_v2 = db_sg_kind;
    const char *path = dv_scratch_join(dir, "v2.db");
    dv_config *cfg = config_for(path);
    drover_error err = { 0 };
    dv_summary_list l;
    dv_sqlite *h;
    sqlite3_stmt *st;
    sqlite3 *s;
    char *json;
    dv_sg *sg;

    kind_v2.n_steps = 2;
    if (dv_report_to_json(sample_report("old-rep"), &json, &err) < 0 ||
        dv_sqlite_open(path, &kind_v2, 1000, &h, &err) < 0 ||
        sqlite3_prepare_v2(dv_sqlite_db(h),
                           "INSERT INTO member (grp, host, joined_ms, last_seen_ms, report_count,"
                           " report) VALUES ('compute', ?1, 1, 1700000000000, 1, ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        bail_out("cannot make a schema 2 file: %s", err.message);
    sqlite3_bind_text(st, 1, "old-rep", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        bail_out("cannot write a schema 2 row");
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, "old-garbage", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "{\"schema\": 1", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        bail_out("cannot write a schema 2 row");
    sqlite3_finalize(st);
    dv_sqlite_close(h);
    sg = open_sg(cfg);
    fake_now = T0;
    ok(dv_sg_get_summaries(sg, "compute", true, &l, &err) == 0 && l.n == 2,
       "get_summaries lists the members of a schema 2 file (%s)", err.message);
    if (l.n == 2) {
        const drover_report *r = l.sums[1].report;
        is_str(l.members[1].host, "old-rep", "in host order");
        ok(l.sums[0].stored && !l.sums[0].report, "a stored report that does not decode: stored, "
           "no summary");
        ok(l.sums[1].stored && r, "a report written by schema 2 is summarised");
        if (r) {
            is_str(r->hypervisor_type, "QEMU", "its hypervisor_type");
            is_int(r->memory_free_mib, 40000, "its memory_free_mib");
            is_int(r->n_instances, 2, "its instances");
            ok(r->cpu_xml == NULL, "a summary carries no CPU XML");
        }
    }
    dv_summary_list_free(&l);
    if (sqlite3_open(path, &s) != SQLITE_OK ||
        sqlite3_prepare_v2(s,
                           "SELECT host FROM member_instance WHERE grp = 'compute' AND uuid = "
                           "'0E9D8C7B-6A5F-4E3D-2C1B-0A9F8E7D6C5B' COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        bail_out("cannot read member_instance");
    ok(sqlite3_step(st) == SQLITE_ROW &&
       strcmp((const char *)sqlite3_column_text(st, 0), "old-rep") == 0,
       "the upgrade indexed the instances of the reports already stored");
    sqlite3_finalize(st);
    sqlite3_close(s);
    free(json);
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static void test_states(void)
{
    dv_config *cfg = config_for(dv_scratch_join(dir, "states.db"));
    drover_error err = { 0 };
    dv_sg *sg = open_sg(cfg), *fb;

    fallback_ops = dv_sg_db_ops;
    fallback_ops.name = "db-without-get_states";
    fallback_ops.get_states = NULL;
    if (dv_sg_open_ops(&fallback_ops, cfg, &fb, &err) < 0)
        bail_out("cannot open the fallback driver: %s", err.message);
    fb->clock = (dv_clock){ now_fn, &fake_now };
    ok(dv_sg_db_ops.get_states != NULL, "the db driver has its own get_states");

    test_states_contents(sg, fb);
    test_states_sizes(sg);
    test_states_plan(cfg->servicegroup.db.path);
    dv_sg_close(fb);
    dv_sg_close(sg);
    dv_config_free(cfg);
    test_states_upgrade();
    test_summaries_upgrade();
}

/* ---- survives a reopen */

static void test_reopen(dv_config *cfg)
{
    dv_sg *sg = open_sg(cfg);
    drover_member m;
    drover_error err;

    ok(dv_sg_get(sg, "compute", "live", &m, &err) == 0, "after reopening, live is still there");
    ok(m.disabled && m.disabled_reason && strcmp(m.disabled_reason, "firmware update") == 0,
       "with its admin state and reason");
    drover_member_clear(&m);
    ok(dv_sg_get(sg, "compute", "m-c", &m, &err) == 0 && m.forced_down && m.state == DROVER_DOWN,
       "m-c is still forced down");
    drover_member_clear(&m);
    ok(dv_sg_set_disabled(sg, "compute", "live", false, "ignored", &err) == 0 &&
       dv_sg_get(sg, "compute", "live", &m, &err) == 0 && !m.disabled && !m.disabled_reason,
       "enabling clears the reason");
    drover_member_clear(&m);
    dv_sg_close(sg);
}

/* ---- a writer holding the lock past busy_timeout */

static void test_busy(dv_config *cfg)
{
    sqlite3 *locker;
    dv_sg *sg;
    drover_error err = { 0 };
    drover_liveness s;
    int64_t t;

    cfg->servicegroup.db.busy_timeout_ms = 150;
    sg = open_sg(cfg);
    if (sqlite3_open(cfg->servicegroup.db.path, &locker) != SQLITE_OK ||
        sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        bail_out("cannot take the write lock");
    t = dv_mono_ms();
    ok(dv_sg_heartbeat(sg, "compute", "live", NULL, &err) < 0,
       "a heartbeat while another connection holds the write lock fails");
    t = dv_mono_ms() - t;
    is_int(err.code, DROVER_ERR_UNREACHABLE, "... unreachable");
    has_str(err.message, "locked", "... with SQLite's reason");
    has_str(err.message, "busy_timeout 150 ms", "... and the timeout");
    has_str(err.message, cfg->servicegroup.db.path, "... and the path");
    ok(t >= 140, "it waited for busy_timeout first (%lld ms)", (long long)t);
    ok(dv_sg_is_up(sg, "compute", "live", &s, &err) == 0 && s == DROVER_UP,
       "readers are not blocked by the writer (WAL)");
    sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(locker);
    ok(dv_sg_heartbeat(sg, "compute", "live", NULL, &err) == 0, "after the lock is gone, it works");
    dv_sg_close(sg);
    cfg->servicegroup.db.busy_timeout_ms = 5000;
}

/* ---- files and directories that are not usable */

static void refused_sg(const char *path, const char *why, drover_code code, const char *needle)
{
    dv_config *cfg = config_for(path);
    drover_error err = { 0 };
    dbt_blob before, after;
    int entries = dv_scratch_count_entries(dir);
    dv_sg *sg = (dv_sg *)&err;

    if (dbt_snapshot(path, &before) < 0)
        bail_out("cannot read %s", path);
    ok(dv_sg_open(cfg, &sg, &err) < 0 && !sg, "%s: refused", why);
    is_int(err.code, code, "%s: code %s", why, drover_code_name(code));
    has_str(err.message, path, "%s: names the path", why);
    has_str(err.message, needle, "%s: says why", why);
    ok(dbt_snapshot(path, &after) == 0 && dbt_same(&before, &after),
       "%s: the file is byte-for-byte unchanged", why);
    is_int(dv_scratch_count_entries(dir), entries, "%s: nothing created next to it", why);
    dbt_blob_free(&before);
    dbt_blob_free(&after);
    dv_config_free(cfg);
}

static int open_as_nobody(void *path, drover_error *err)
{
    dv_config *cfg = config_for(path);
    dv_sg *sg = NULL;
    int rc = dv_sg_open(cfg, &sg, err);

    dv_sg_close(sg);
    dv_config_free(cfg);
    return rc;
}

static void test_files(void)
{
    char junk[4096], sub[600];
    const char *p;
    dv_statedb *sdb;
    drover_error err = { 0 };
    dv_config *cfg;
    dv_sg *sg;
    sqlite3 *s;
    int rc;

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7919 % 251);
    p = dv_scratch_join(dir, "junk");
    dbt_write_file(p, junk, sizeof junk);
    refused_sg(p, "random bytes", DROVER_ERR_CORRUPT, "not an SQLite database");

    p = dv_scratch_join(dir, "foreign.db");
    if (sqlite3_open(p, &s) != SQLITE_OK ||
        sqlite3_exec(s, "CREATE TABLE member (name TEXT); INSERT INTO member VALUES ('x');",
                     NULL, NULL, NULL) != SQLITE_OK)
        bail_out("sqlite3");
    sqlite3_close(s);
    refused_sg(p, "another application's db with a member table", DROVER_ERR_CORRUPT,
               "another application");

    p = dv_scratch_join(dir, "state.db");
    if (dv_statedb_open(p, 1000, &sdb, &err) < 0)
        bail_out("statedb: %s", err.message);
    dv_statedb_close(sdb);
    refused_sg(p, "a drover state db", DROVER_ERR_CORRUPT,
               "is a drover state database, not a drover servicegroup database");

    p = dv_scratch_join(dir, "newer.db");
    cfg = config_for(p);
    dv_sg_close(open_sg(cfg));
    dv_config_free(cfg);
    if (sqlite3_open(p, &s) != SQLITE_OK ||
        sqlite3_exec(s, "PRAGMA user_version = 4", NULL, NULL, NULL) != SQLITE_OK)
        bail_out("sqlite3");
    sqlite3_close(s);
    refused_sg(p, "a servicegroup db of a newer drover", DROVER_ERR_CORRUPT,
               "schema version 4 is newer");

    snprintf(sub, sizeof sub, "%s/no-such-dir/drover.db", dir);
    cfg = config_for(sub);
    ok(dv_sg_open(cfg, &sg, &err) < 0 && err.code == DROVER_ERR_IO,
       "a missing parent directory is an error (not created)");
    has_str(err.message, "no-such-dir: does not exist", "... naming it and saying why");
    dv_config_free(cfg);

    snprintf(sub, sizeof sub, "%s/root-only", dir);
    if (mkdir(sub, 0755) < 0)
        bail_out("mkdir");
    strcat(sub, "/drover.db");
    rc = dbt_as_nobody(open_as_nobody, sub, &err);
    ok(rc == -1, "as uid %d, opening in a root-owned 0755 directory fails", DBT_NOBODY);
    is_int(err.code, DROVER_ERR_IO, "... io");
    has_str(err.message, "root-only is not writable", "... naming the directory");
    is_int(dv_scratch_count_entries(dv_scratch_join(dir, "root-only")), 0, "... nothing was created");
}

/* ---- two writers and a reader on one file */

struct counts { long ops, errors; };

static void report_json_for(const char *host, char **json)
{
    drover_error err;
    if (dv_report_to_json(sample_report(host), json, &err) < 0)
        bail_out("encode");
}

static void count(struct counts *c, int rc, const drover_error *err, const char *who)
{
    c->ops++;
    if (rc < 0 && c->errors++ < 3)
        printf("# %s: %s\n", who, err->message);
}

static void writer(const char *path, const char *host, int seconds, int fd)
{
    dv_config *cfg = config_for(path);
    struct counts c = { 0, 0 };
    drover_error err = { 0 };
    char *json, other[64];
    dv_sg *sg;
    int64_t end = dv_mono_ms() + seconds * 1000;

    report_json_for(host, &json);
    snprintf(other, sizeof other, "%s-extra", host);
    if (dv_sg_open(cfg, &sg, &err) < 0) {
        printf("# %s: open: %s\n", host, err.message);
        c.errors++;
    } else {
        for (long i = 0; dv_mono_ms() < end; i++) {
            count(&c, dv_sg_heartbeat(sg, "compute", host, json, &err), &err, host);
            if (i % 50 == 0) {
                count(&c, dv_sg_join(sg, "compute", other, &err), &err, host);
                count(&c, dv_sg_set_disabled(sg, "compute", other, i % 100 == 0, "churn", &err),
                      &err, host);
                count(&c, dv_sg_set_forced_down(sg, "compute", host, false, &err), &err, host);
            }
            if (i % 200 == 100)
                count(&c, dv_sg_leave(sg, "compute", other, &err), &err, host);
        }
        dv_sg_close(sg);
    }
    free(json);
    dv_config_free(cfg);
    if (write(fd, &c, sizeof c) != sizeof c)
        _exit(1);
    _exit(0);
}

static void reader(const char *path, int seconds, int fd)
{
    dv_config *cfg = config_for(path);
    struct counts c = { 0, 0 };
    drover_error err = { 0 };
    drover_member *all;
    drover_liveness s;
    size_t n;
    dv_sg *sg;
    int64_t end = dv_mono_ms() + seconds * 1000;

    if (dv_sg_open(cfg, &sg, &err) < 0) {
        printf("# reader: open: %s\n", err.message);
        c.errors++;
    } else {
        while (dv_mono_ms() < end) {
            count(&c, dv_sg_get_all(sg, "compute", &all, &n, &err), &err, "reader");
            for (size_t i = 0; i < n; i++) {
                /* a member may leave between get_all and is_up */
                int rc = dv_sg_is_up(sg, "compute", all[i].host, &s, &err);
                if (rc < 0 && err.code == DROVER_ERR_NOT_FOUND)
                    rc = 0;
                count(&c, rc, &err, "reader");
            }
            drover_members_free(all, n);
        }
        dv_sg_close(sg);
    }
    dv_config_free(cfg);
    if (write(fd, &c, sizeof c) != sizeof c)
        _exit(1);
    _exit(0);
}

static void test_concurrency(void)
{
    const char *path = dv_scratch_join(dir, "shared.db");
    const char *env = getenv("DROVER_TEST_SECONDS");
    int seconds = env && atoi(env) > 0 ? atoi(env) : 10;
    const char *who[3] = { "writer w1", "writer w2", "reader" };
    struct counts c[3];
    pid_t pid[3];
    int fds[3][2];

    fflush(stdout);
    /* the file does not exist: the three also race to create it */
    for (int i = 0; i < 3; i++) {
        if (pipe(fds[i]) < 0 || (pid[i] = fork()) < 0)
            bail_out("pipe/fork");
        if (pid[i] == 0) {
            close(fds[i][0]);
            if (i < 2)
                writer(path, i == 0 ? "w1" : "w2", seconds, fds[i][1]);
            reader(path, seconds, fds[i][1]);
        }
        close(fds[i][1]);
    }
    for (int i = 0; i < 3; i++) {
        int status;
        if (read(fds[i][0], &c[i], sizeof c[i]) != sizeof c[i])
            c[i] = (struct counts){ 0, 1 };
        close(fds[i][0]);
        waitpid(pid[i], &status, 0);
        diag("%s: %ld operations (%.0f/s), %ld errors", who[i], c[i].ops,
             (double)c[i].ops / seconds, c[i].errors);
        is_int(c[i].errors, 0, "%s: no error in %d s on a shared file", who[i], seconds);
        /* that the three really overlapped, not how fast (speed is bench/'s business;
         * under valgrind one process can be starved to a handful of operations) */
        ok(c[i].ops > 0, "%s: worked on the file while the others did (%ld operations)", who[i],
           c[i].ops);
    }
}

int main(void)
{
    dv_config *cfg;
    dv_sg *sg;
    dbt_blob b;

    if (!(dir = dv_scratch_dir()))
        bail_out("mkdtemp failed");
    diag("scratch directory %s", dir);
    test_guards();

    cfg = config_for(dv_scratch_join(dir, "drover.db"));
    sg = open_sg(cfg);
    ok(dbt_snapshot(cfg->servicegroup.db.path, &b) == 0 && (b.mode & 07777) == 0600,
       "the servicegroup db is created mode 0600");
    ok(b.data && b.len >= 100 && b.data[68] == 'D' && b.data[69] == 'R' && b.data[70] == 'V' &&
       b.data[71] == 'G', "with the servicegroup application_id");
    dbt_blob_free(&b);
    dv_sg_join(sg, "compute", "first", NULL);
    {
        struct stat st_wal, st_shm;
        char wal[600], shm[600];
        snprintf(wal, sizeof wal, "%s-wal", cfg->servicegroup.db.path);
        snprintf(shm, sizeof shm, "%s-shm", cfg->servicegroup.db.path);
        ok(stat(wal, &st_wal) == 0 && stat(shm, &st_shm) == 0 && (st_wal.st_mode & 07777) == 0600 &&
           (st_shm.st_mode & 07777) == 0600, "its -wal and -shm files are mode 0600 too");
    }
    dv_sg_leave(sg, "compute", "first", NULL);
    test_liveness(sg);
    test_membership(sg);
    test_reports(sg);
    test_names(sg);
    dv_sg_close(sg);
    test_reopen(cfg);
    test_busy(cfg);
    test_states();
    dv_config_free(cfg);

    test_files();
    test_concurrency();
    dv_scratch_rmrf(dir);
    return done_testing();
}
