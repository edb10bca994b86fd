/* test_zk.c - the zk servicegroup driver against a real standalone
 * ZooKeeper started by tests/harness/zookeeper.sh: membership, reports,
 * admin state, session loss, a server outage, bad input and configuration,
 * digest-auth ACLs (checked with the raw ZooKeeper C API), signs, and 1,000
 * members read with pipelined gets. */
#include "tests/harness/fleet.h"
#include "tests/tap.h"
#include "tests/harness/zk.h"
#include "tests/integration/zktest.h"

#include "core/model.h"
#include "core/report.h"
#include "drivers/servicegroup.h"
#include "drivers/zk/zk.h"

#include <zookeeper/zookeeper.h>

#define SESSION_MS 2000
#define GROUP "compute"

static dv_zk_cluster zk;
static const char *dir;
/* state.backend of the sections' configs: NULL = the default ("auto": the
 * zk store with the zk driver); "sqlite" where a section is about admin
 * state kept apart from ZooKeeper's data. */
static const char *backend;

/* A test section's own config: its own prefix, and its own state db (the
 * state db belongs to one deployment, i.e. one prefix). */
static dv_config *section_config(const char *prefix, const char *auth, const char *hosts)
{
    dv_config *cfg = zkt_config(hosts ? hosts : zk.hosts, dir, SESSION_MS, prefix, auth);
    char state[600];

    if (!cfg)
        bail_out("out of memory");
    snprintf(state, sizeof state, "%s/state%s.db", dir, prefix[0] == '/' ? prefix + 1 : prefix);
    for (char *p = state + strlen(dir) + 1; *p; p++)
        if (*p == '/')
            *p = '_';
    if (dv_config_set_string(&cfg->state.path, state, NULL) < 0 ||
        (backend && dv_config_set_string(&cfg->state.backend, backend, NULL) < 0))
        bail_out("out of memory");
    /* members here heartbeat when a check says so: no withdrawal in the way */
    cfg->servicegroup.service_down_time = 30;
    return cfg;
}

static dv_sg *open_zk(const char *prefix, const char *auth, const char *hosts)
{
    dv_config *cfg = section_config(prefix, auth, hosts);
    drover_error err = { 0 };
    dv_sg *sg = NULL;

    if (dv_sg_open(cfg, &sg, &err) < 0) {
        diag("open: %s", err.message);
        dv_config_free(cfg);
        return NULL;
    }
    return sg;
}

/* dv_sg borrows its config: free both. */
static void close_zk(dv_sg *sg)
{
    dv_config *cfg;

    if (!sg)
        return;
    cfg = (dv_config *)sg->cfg;
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static drover_liveness is_up(dv_sg *sg, const char *host, int *rc, drover_error *err)
{
    drover_liveness st = DROVER_UNKNOWN;
    *rc = dv_sg_is_up(sg, GROUP, host, &st, err);
    return st;
}

/* A raw ZooKeeper client, connected, with optional digest credentials. */
static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh; (void)type; (void)state; (void)path; (void)ctx;
}

static zhandle_t *raw_client(const char *digest)
{
    zhandle_t *zh = zookeeper_init(zk.hosts, watcher, 10000, NULL, NULL, 0);
    int64_t until = dv_mono_ms() + 10000;

    if (!zh)
        bail_out("zookeeper_init failed");
    while (zoo_state(zh) != ZOO_CONNECTED_STATE && dv_mono_ms() < until)
        dv_sleep_ms(10);
    if (zoo_state(zh) != ZOO_CONNECTED_STATE)
        bail_out("raw client cannot connect to %s", zk.hosts);
    if (digest)
        zoo_add_auth(zh, "digest", digest, (int)strlen(digest), NULL, NULL);
    return zh;
}

static void test_membership(void)
{
    dv_sg *w = open_zk("/t-member", NULL, NULL), *r = open_zk("/t-member", NULL, NULL);
    drover_member *all = NULL, m;
    drover_error err = { 0 };
    size_t n = 0;
    int rc;
    char *json = NULL;
    drover_report rep = { .schema = DROVER_REPORT_SCHEMA, .host = "h1", .generated_ms = 1700000000000,
                          .hypervisor_type = "QEMU", .hypervisor_version = 7002000,
                          .libvirt_version = 9000000, .arch = "x86_64", .cpu_xml = "<cpu/>",
                          .memory_total_mib = 4096, .memory_free_mib = 1024, .vcpus = 4,
                          .migration_uri = "qemu+tcp://h1/system" };

    ok(w && r, "open a writer and a reader on a standalone server");
    if (!w || !r)
        bail_out("cannot open the zk driver");
    is_int(is_up(r, "h1", &rc, &err), DROVER_UNKNOWN, "never joined: no answer");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "never joined: NOT_FOUND (%s)", err.message);

    ok(dv_sg_join(w, GROUP, "h1", &err) == 0, "join h1");
    is_int(is_up(r, "h1", &rc, &err), DROVER_UP, "joined: UP for another session");
    ok(dv_sg_join(w, GROUP, "h1", &err) == 0, "join again is harmless");

    ok(dv_sg_get(r, GROUP, "h1", &m, &err) == 0, "get h1");
    ok(m.report_json == NULL && m.report == NULL, "no report before the first heartbeat");
    ok(m.last_seen_ms > dv_wall_ms() - 5000 && m.last_seen_ms <= dv_wall_ms(),
       "last_seen is the time of the answer: its session is alive (%lld ms ago)",
       (long long)(dv_wall_ms() - m.last_seen_ms));
    drover_member_clear(&m);

    if (dv_report_to_json(&rep, &json, &err) < 0)
        bail_out("report encode: %s", err.message);
    ok(dv_sg_heartbeat(w, GROUP, "h1", json, &err) == 0, "heartbeat with a report");
    ok(dv_sg_get(r, GROUP, "h1", &m, &err) == 0, "get h1 after the heartbeat");
    is_str(m.report_json, json, "the report round-trips byte for byte");
    ok(m.report && m.report->memory_total_mib == 4096 && strcmp(m.report->host, "h1") == 0,
       "and decodes");
    is_int(m.state, DROVER_UP, "get says UP");
    drover_member_clear(&m);
    ok(dv_sg_heartbeat(w, GROUP, "h1", NULL, &err) == 0, "heartbeat without a report");
    ok(dv_sg_get(r, GROUP, "h1", &m, &err) == 0 && m.report_json && strcmp(m.report_json, json) == 0,
       "keeps the last report");
    drover_member_clear(&m);

    ok(dv_sg_join(w, GROUP, "h2", &err) == 0, "join h2");
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0, "get_all");
    is_int(n, 2, "two members");
    if (n == 2) {
        is_str(all[0].host, "h1", "sorted: h1 first");
        is_str(all[1].host, "h2", "then h2");
        ok(all[0].state == DROVER_UP && all[1].state == DROVER_UP, "both UP");
        is_str(all[0].group, GROUP, "group filled in");
    }
    drover_members_free(all, n);

    ok(dv_sg_leave(w, GROUP, "h2", &err) == 0, "leave h2");
    is_int(is_up(r, "h2", &rc, &err), DROVER_UNKNOWN, "left: not a member");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "left: NOT_FOUND");
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0 && n == 1 && strcmp(all[0].host, "h1") == 0,
       "get_all no longer lists h2");
    drover_members_free(all, n);
    ok(dv_sg_leave(w, GROUP, "h2", &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "leave twice: NOT_FOUND");

    /* a member whose session ends is DOWN (known), not forgotten */
    {
        dv_sg *w2 = open_zk("/t-member", NULL, NULL);
        ok(w2 && dv_sg_join(w2, GROUP, "h3", &err) == 0, "h3 joins through its own session");
        is_int(is_up(r, "h3", &rc, &err), DROVER_UP, "h3 UP");
        close_zk(w2);
        is_int(is_up(r, "h3", &rc, &err), DROVER_DOWN, "its session closed: h3 DOWN");
        ok(dv_sg_get(r, GROUP, "h3", &m, &err) == 0 && m.state == DROVER_DOWN, "get h3: DOWN");
        drover_member_clear(&m);
    }
    free(json);
    close_zk(w);
    close_zk(r);
}

static void test_admin(void)
{
    /* the sqlite store: admin state kept apart from ZooKeeper's data (with
     * the zk store it is in the ensemble, replicated as its data is) */
    backend = "sqlite";
    dv_sg *w = open_zk("/t-admin", NULL, NULL), *r = open_zk("/t-admin", NULL, NULL);
    drover_member m, *all = NULL;
    drover_error err = { 0 };
    size_t n = 0;
    int rc;

    if (!w || !r)
        bail_out("cannot open the zk driver");
    ok(dv_sg_join(w, GROUP, "a1", &err) == 0, "join a1");
    ok(dv_sg_set_forced_down(r, GROUP, "a1", true, &err) == 0, "force a1 down");
    is_int(is_up(r, "a1", &rc, &err), DROVER_DOWN, "forced down: DOWN although its node exists");
    ok(dv_sg_get(r, GROUP, "a1", &m, &err) == 0 && m.forced_down && m.state == DROVER_DOWN,
       "get shows forced_down");
    drover_member_clear(&m);
    ok(dv_sg_set_forced_down(r, GROUP, "a1", false, &err) == 0, "clear forced_down");
    is_int(is_up(r, "a1", &rc, &err), DROVER_UP, "UP again");

    ok(dv_sg_set_disabled(r, GROUP, "a1", true, "disk swap", &err) == 0, "disable a1");
    ok(dv_sg_get(r, GROUP, "a1", &m, &err) == 0, "get a1");
    ok(m.disabled && m.disabled_reason && strcmp(m.disabled_reason, "disk swap") == 0,
       "disabled, with its reason");
    is_int(m.state, DROVER_UP, "a disabled member is still UP");
    drover_member_clear(&m);

    ok(dv_sg_set_forced_down(r, GROUP, "nobody", true, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "admin state of a non-member: NOT_FOUND (%s)", err.message);

    /* admin state lives in the state db: it survives a new ZooKeeper with no data */
    close_zk(w);
    close_zk(r);
    {
        dv_zk_cluster old = zk;
        if (dv_zk_start(&zk, 1) < 0)
            bail_out("cannot start a second ZooKeeper");
        dv_zk_stop(&old);
    }
    r = open_zk("/t-admin", NULL, NULL);
    w = open_zk("/t-admin", NULL, NULL);
    if (!w || !r)
        bail_out("cannot open the zk driver on the new server");
    ok(dv_sg_set_forced_down(r, GROUP, "a1", true, &err) == 0, "force a1 down on an empty server");
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0 && n == 1, "get_all lists a1 from admin state");
    if (n == 1) {
        ok(all[0].disabled && all[0].forced_down && all[0].state == DROVER_DOWN,
           "disabled and forced down survived the server's data (DOWN, no node)");
        is_str(all[0].disabled_reason, "disk swap", "reason kept");
    }
    drover_members_free(all, n);
    ok(dv_sg_set_forced_down(r, GROUP, "a1", false, &err) == 0 && dv_sg_join(w, GROUP, "a1", &err) == 0,
       "a1 rejoins");
    ok(dv_sg_get(r, GROUP, "a1", &m, &err) == 0 && m.state == DROVER_UP && m.disabled,
       "a1 UP and still disabled");
    drover_member_clear(&m);
    close_zk(w);
    close_zk(r);
    backend = NULL;
}

/* An agent killed with SIGKILL: its node lives until the session times out. */
static void test_agent_killed(void)
{
    dv_config *cfg = section_config("/t-kill", NULL, NULL);
    char conf[600], log[600];
    dv_sg *r = open_zk("/t-kill", NULL, NULL);
    drover_error err = { 0 };
    pid_t pid;
    int rc;
    int64_t t0, t_down = -1;

    snprintf(conf, sizeof conf, "%s/kill.conf", dir);
    if (!cfg || !r || zkt_write_config(cfg, conf) < 0)
        bail_out("setup failed");
    snprintf(log, sizeof log, "%s/droverd-k1.log", dir);
    pid = zkt_spawn_agent(conf, "k1", log, 20000);
    ok(pid > 0, "an agent (droverd) joined as k1");
    if (pid < 0)
        bail_out("no agent");
    is_int(is_up(r, "k1", &rc, &err), DROVER_UP, "k1 UP");
    kill(pid, SIGKILL);
    t0 = dv_mono_ms();
    waitpid(pid, NULL, 0);
    is_int(is_up(r, "k1", &rc, &err), DROVER_UP, "just killed: still UP (its session lives on)");
    while (dv_mono_ms() - t0 < 5 * SESSION_MS) {
        if (is_up(r, "k1", &rc, &err) == DROVER_DOWN) {
            t_down = dv_mono_ms() - t0;
            break;
        }
        dv_sleep_ms(20);
    }
    ok(t_down >= 0, "killed agent DOWN after %lld ms (session timeout %d ms)", (long long)t_down,
       SESSION_MS);
    ok(t_down >= SESSION_MS / 2, "not before its session could have timed out");
    close_zk(r);
    dv_config_free(cfg);
}

/* A member whose process lives on but stops heartbeating (a hung libvirt
 * in droverd) keeps its session; its node is withdrawn after
 * service_down_time all the same, and comes back with the next heartbeat. */
static void test_withdraw(void)
{
    dv_config *cfg = section_config("/t-withdraw", NULL, NULL);
    dv_sg *w = NULL, *r = open_zk("/t-withdraw", NULL, NULL);
    drover_error err = { 0 };
    drover_member m;
    int64_t last, t_down = -1;
    int rc;

    cfg->servicegroup.service_down_time = 2;
    if (!r || dv_sg_open(cfg, &w, &err) < 0)
        bail_out("cannot open the zk driver: %s", err.message);
    ok(dv_sg_join(w, GROUP, "quiet", &err) == 0, "quiet joins (service_down_time 2 s)");
    last = dv_mono_ms();    /* before the call: the watchdog counts from the call's start */
    ok(dv_sg_heartbeat(w, GROUP, "quiet", "{}", &err) == 0, "and heartbeats");
    is_int(is_up(r, "quiet", &rc, &err), DROVER_UP, "UP");
    while (dv_mono_ms() - last < 6000) {
        if (is_up(r, "quiet", &rc, &err) == DROVER_DOWN) {
            t_down = dv_mono_ms() - last;
            break;
        }
        dv_sleep_ms(20);
    }
    ok(t_down >= 2000, "no heartbeat call: DOWN %lld ms after the last one, not before 2 s",
       (long long)t_down);
    ok(t_down >= 0 && t_down < 3500, "and soon after (the watchdog looks 4 times a second)");
    ok(dv_sg_get(r, GROUP, "quiet", &m, &err) == 0 && m.state == DROVER_DOWN, "get: DOWN, still a member");
    drover_member_clear(&m);
    ok(dv_sg_heartbeat(w, GROUP, "quiet", "{\"back\":1}", &err) == 0, "it heartbeats again");
    is_int(is_up(r, "quiet", &rc, &err), DROVER_UP, "UP at once");
    ok(dv_sg_get(r, GROUP, "quiet", &m, &err) == 0 && m.report_json && strcmp(m.report_json, "{\"back\":1}") == 0,
       "with the new report");
    drover_member_clear(&m);
    dv_sg_close(w);
    dv_config_free(cfg);
    close_zk(r);
}

static void test_bad_input(void)
{
    dv_sg *sg = open_zk("/t-bad", NULL, NULL);
    drover_error err = { 0 };
    char longname[300];
    const char *bad[] = { "", "a/b", "..", ".", "tab\there", "nl\n", longname };
    char big_report_head[] = "{\"schema\":1}";
    char *big;
    size_t big_len = 1100 * 1000;

    memset(longname, 'x', 256);
    longname[256] = '\0';
    if (!sg)
        bail_out("cannot open the zk driver");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = dv_sg_join(sg, GROUP, bad[i], &err);
        ok(rc < 0 && err.code == DROVER_ERR_INVALID, "host name #%zu refused", i);
        has_str(err.message, "host", "the message names the host (%s)", err.message);
    }
    ok(dv_sg_join(sg, "a/b", "h", &err) < 0 && err.code == DROVER_ERR_INVALID, "bad group refused");
    for (int i = 0; i < 2; i++) {
        const char *g = i ? ".state" : ".signs";
        drover_member *all = NULL;
        size_t n = 0;
        ok(dv_sg_join(sg, g, "h", &err) < 0 && err.code == DROVER_ERR_INVALID, "group %s: join refused", g);
        has_str(err.message, "is reserved by the zk driver", "saying why: %s", err.message);
        ok(dv_sg_get_all(sg, g, &all, &n, &err) < 0 && err.code == DROVER_ERR_INVALID,
           "group %s: get_all refused", g);
    }
    /* names drover accepts but ZooKeeper's node names cannot hold */
    ok(dv_sg_join(sg, GROUP, "smile\xf0\x9f\x98\x80", &err) < 0 && err.code == DROVER_ERR_INVALID,
       "a host name ZooKeeper refuses (emoji): INVALID");
    has_str(err.message, "ZooKeeper refuses the path", "saying why: %s", err.message);
    ok(dv_sg_join(sg, GROUP, "bad\xff", &err) < 0 && err.code == DROVER_ERR_INVALID,
       "invalid UTF-8: INVALID");
    ok(dv_sg_join(sg, GROUP, "n\xc3\xb6" "de-\xe2\x82\xac", &err) == 0, "valid UTF-8 is fine (%s)",
       err.message);
    if (!(big = malloc(big_len + 1)))
        bail_out("out of memory");
    memset(big, ' ', big_len);
    memcpy(big, big_report_head, strlen(big_report_head));
    big[big_len] = '\0';
    ok(dv_sg_heartbeat(sg, GROUP, "big", big, &err) < 0 && err.code == DROVER_ERR_INVALID,
       "a report over ZooKeeper's 1 MB limit is refused (%s)", err.message);
    free(big);
    close_zk(sg);
}

/* prefix "/": groups right under the root */
static void test_root_prefix(void)
{
    dv_sg *sg = open_zk("/", NULL, NULL);
    zhandle_t *raw = raw_client(NULL);
    drover_error err = { 0 };
    struct Stat st;
    int rc;

    ok(sg != NULL, "prefix \"/\" is accepted");
    if (!sg)
        return;
    ok(dv_sg_join(sg, "rootgroup", "r1", &err) == 0, "join under the root (%s)", err.message);
    is_int(zoo_exists(raw, "/rootgroup/r1", 0, &st), ZOK, "the node is /rootgroup/r1");
    ok(st.ephemeralOwner != 0, "and ephemeral");
    {
        drover_liveness s = DROVER_UNKNOWN;
        rc = dv_sg_is_up(sg, "rootgroup", "r1", &s, &err);
        ok(rc == 0 && s == DROVER_UP, "r1 UP");
    }
    zookeeper_close(raw);
    close_zk(sg);
}

static void test_bad_config(void)
{
    struct { const char *prefix, *auth, *hosts; int session; const char *secret; } cases[] = {
        { "drover", "", NULL, SESSION_MS, NULL },
        { "", "", NULL, SESSION_MS, NULL },
        { "/a/", "", NULL, SESSION_MS, NULL },
        { "/a//b", "", NULL, SESSION_MS, NULL },
        { "/zookeeper/x", "", NULL, SESSION_MS, NULL },
        { "/a/..", "", NULL, SESSION_MS, NULL },
        { "/ok", "nocolon-s3cret", NULL, SESSION_MS, "s3cret" },
        { "/ok", ":s3cret", NULL, SESSION_MS, "s3cret" },
        { "/ok", "user:", NULL, SESSION_MS, NULL },
        { "/ok", "", "", SESSION_MS, NULL },
        { "/ok", "", NULL, 50, NULL },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dv_config *cfg = zkt_config(cases[i].hosts ? cases[i].hosts : zk.hosts, dir, cases[i].session,
                                    cases[i].prefix, cases[i].auth);

        if (!cfg)
            bail_out("out of memory");
        drover_error err = { 0 };
        dv_sg *sg = NULL;
        int rc = dv_sg_open(cfg, &sg, &err);

        ok(rc < 0 && err.code == DROVER_ERR_CONFIG, "bad config #%zu refused: %s", i, err.message);
        if (cases[i].secret)
            ok(!strstr(err.message, cases[i].secret), "the message does not show the password");
        if (rc == 0)
            dv_sg_close(sg);
        dv_config_free(cfg);
    }
}

/* Nothing listens: open works (the ensemble may come later), calls say UNKNOWN. */
static void test_unreachable_at_open(void)
{
    char hosts[64];
    dv_sg *sg;
    drover_error err = { 0 };
    drover_member *all = NULL;
    size_t n = 0;
    int rc;
    int64_t t0;

    /* a port of the stopped first server's range is not guaranteed free: use the
     * discard port on loopback, which nothing serves here */
    snprintf(hosts, sizeof hosts, "127.0.0.1:9");
    t0 = dv_mono_ms();
    sg = open_zk("/t-none", NULL, hosts);
    ok(sg != NULL, "open with no server answering succeeds (after %lld ms)", (long long)(dv_mono_ms() - t0));
    if (!sg)
        return;
    t0 = dv_mono_ms();
    is_int(is_up(sg, "h1", &rc, &err), DROVER_UNKNOWN, "is_up: UNKNOWN");
    ok(rc < 0 && err.code == DROVER_ERR_UNREACHABLE, "UNREACHABLE: %s", err.message);
    diag("is_up answered after %lld ms", (long long)(dv_mono_ms() - t0));
    t0 = dv_mono_ms();
    ok(dv_sg_get_all(sg, GROUP, &all, &n, &err) < 0 && err.code == DROVER_ERR_UNREACHABLE,
       "get_all with nothing known: UNREACHABLE");
    ok(dv_mono_ms() - t0 < 1000, "a known outage answers at once (%lld ms)", (long long)(dv_mono_ms() - t0));
    ok(dv_sg_join(sg, GROUP, "h1", &err) < 0 && err.code == DROVER_ERR_UNREACHABLE, "join: UNREACHABLE");
    close_zk(sg);
}

/* The server dies and comes back: UNKNOWN while it is away, never DOWN. */
static void test_outage(void)
{
    /* r keeps admin state in a sqlite store, so what the driver itself
     * answers in an outage is seen; zr has the zk store (the default) */
    dv_sg *zr = open_zk("/t-outage", NULL, NULL);
    backend = "sqlite";
    dv_sg *w = open_zk("/t-outage", NULL, NULL), *r = open_zk("/t-outage", NULL, NULL);
    drover_member *all = NULL;
    drover_error err = { 0 };
    size_t n = 0;
    int rc, down = 0;

    backend = NULL;
    if (!w || !r || !zr)
        bail_out("cannot open the zk driver");
    ok(dv_sg_join(w, GROUP, "o1", &err) == 0 && dv_sg_join(w, GROUP, "o2", &err) == 0, "o1, o2 join");
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0 && n == 2, "both listed");
    drover_members_free(all, n);
    ok(dv_sg_get_all(zr, GROUP, &all, &n, &err) == 0 && n == 2, "both listed (zk store)");
    drover_members_free(all, n);
    if (dv_zk_kill(&zk, 1) < 0)
        bail_out("cannot kill the server");
    ok(dv_sg_get_all(zr, GROUP, &all, &n, &err) < 0 && err.code == DROVER_ERR_UNREACHABLE,
       "zk store: get_all in the outage fails UNREACHABLE, nothing listed without admin state"
       " (%s)", err.message);
    close_zk(zr);
    is_int(is_up(r, "o1", &rc, &err), DROVER_UNKNOWN, "server killed: o1 UNKNOWN");
    ok(rc < 0 && err.code == DROVER_ERR_UNREACHABLE, "UNREACHABLE (%s)", err.message);
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0 && n == 2, "get_all still lists both");
    for (size_t i = 0; i < n; i++)
        if (all[i].state != DROVER_UNKNOWN)
            down++;
    is_int(down, 0, "every member UNKNOWN, none DOWN");
    drover_members_free(all, n);
    down = 0;
    ok(dv_sg_get_states(r, GROUP, &all, &n, &err) == 0 && n == 2, "get_states lists both too");
    for (size_t i = 0; i < n; i++)
        down += all[i].state != DROVER_UNKNOWN;
    is_int(down, 0, "UNKNOWN there as well");
    drover_members_free(all, n);
    ok(dv_sg_heartbeat(w, GROUP, "o1", "{}", &err) < 0 && err.code == DROVER_ERR_UNREACHABLE,
       "a heartbeat in the outage: UNREACHABLE");
    if (dv_zk_relaunch(&zk, 1) < 0)
        bail_out("cannot relaunch the server");
    {
        /* the client reconnects on its own schedule: an agent simply beats again */
        int64_t t0 = dv_mono_ms();
        while ((rc = dv_sg_heartbeat(w, GROUP, "o1", "{}", &err)) < 0 && dv_mono_ms() - t0 < 10000)
            dv_sleep_ms(50);
        ok(rc == 0, "server back: a heartbeat works after %lld ms (%s)",
           (long long)(dv_mono_ms() - t0), rc ? err.message : "ok");
    }
    {
        /* the reader's client reconnects on its own too: UNKNOWN until then, never DOWN */
        int64_t t0 = dv_mono_ms();
        int seen_down = 0;
        drover_liveness s1 = DROVER_UNKNOWN, s2 = DROVER_UNKNOWN;
        while (dv_mono_ms() - t0 < 10000) {
            s1 = is_up(r, "o1", &rc, &err);
            s2 = is_up(r, "o2", &rc, &err);
            seen_down += (s1 == DROVER_DOWN) + (s2 == DROVER_DOWN);
            if (s1 == DROVER_UP && s2 == DROVER_UP)
                break;
            dv_sleep_ms(20);
        }
        is_int(s1, DROVER_UP, "o1 UP again after %lld ms, same processes", (long long)(dv_mono_ms() - t0));
        is_int(s2, DROVER_UP, "o2 UP (its session survived)");
        is_int(seen_down, 0, "never DOWN on the way");
    }
    close_zk(w);
    close_zk(r);
}

/* 1,000 members through one session; one get_all reads them all. */
static void test_many(void)
{
    enum { N = 1000 };
    dv_sg *w = open_zk("/t-many", NULL, NULL), *r = open_zk("/t-many", NULL, NULL);
    drover_member *all = NULL;
    drover_error err = { 0 };
    size_t n = 0, up = 0, exact = 0;
    int failed = 0;
    int64_t t0;

    if (!w || !r)
        bail_out("cannot open the zk driver");
    for (int i = 0; i < N; i++) {
        char host[32], report[64];
        snprintf(host, sizeof host, "m%04d", i);
        snprintf(report, sizeof report, "{\"n\":%d}", i);
        if (dv_sg_heartbeat(w, GROUP, host, report, &err) < 0 && failed++ == 0)
            diag("heartbeat %s: %s", host, err.message);
    }
    is_int(failed, 0, "1,000 members joined with a report");
    t0 = dv_mono_ms();
    ok(dv_sg_get_all(r, GROUP, &all, &n, &err) == 0, "get_all of 1,000");
    diag("get_all of %zu members: %lld ms", n, (long long)(dv_mono_ms() - t0));
    is_int(n, N, "exactly 1,000");
    for (size_t i = 0; i < n; i++) {
        char host[32], report[64];
        snprintf(host, sizeof host, "m%04zu", i);
        snprintf(report, sizeof report, "{\"n\":%zu}", i);
        up += all[i].state == DROVER_UP;
        exact += strcmp(all[i].host, host) == 0 && all[i].report_json &&
                 strcmp(all[i].report_json, report) == 0;
    }
    is_int(up, N, "all UP");
    is_int(exact, N, "each in order with its own report");
    drover_members_free(all, n);

    t0 = dv_mono_ms();
    ok(dv_sg_get_states(r, GROUP, &all, &n, &err) == 0, "get_states of 1,000 (a liveness sweep)");
    diag("get_states of %zu members: %lld ms", n, (long long)(dv_mono_ms() - t0));
    is_int(n, N, "exactly 1,000");
    up = exact = 0;
    for (size_t i = 0; i < n; i++) {
        char host[32];
        snprintf(host, sizeof host, "m%04zu", i);
        up += all[i].state == DROVER_UP;
        exact += strcmp(all[i].host, host) == 0 && !all[i].report_json && !all[i].report &&
                 all[i].last_seen_ms > dv_wall_ms() - 5000;
    }
    is_int(up, N, "all UP");
    is_int(exact, N, "in order, last seen filled in, no report moved");
    drover_members_free(all, n);
    close_zk(w);
    close_zk(r);
}

/* A node left by an earlier session of the same host is taken over. */
static void test_take_over(void)
{
    zhandle_t *old = raw_client(NULL);
    dv_sg *w = open_zk("/t-over", NULL, NULL), *r = open_zk("/t-over", NULL, NULL);
    struct Stat st;
    drover_error err = { 0 };
    int rc;

    if (!w || !r)
        bail_out("cannot open the zk driver");
    ok(dv_sg_join(w, GROUP, "seed", &err) == 0, "the group exists");
    ok(zoo_create(old, "/t-over/" GROUP "/t1", "stale", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) == ZOK,
       "another session holds t1's node");
    ok(dv_sg_join(w, GROUP, "t1", &err) == 0, "t1 joins anyway (%s)", err.message);
    ok(zoo_exists(old, "/t-over/" GROUP "/t1", 0, &st) == ZOK &&
       st.ephemeralOwner != zoo_client_id(old)->client_id, "the node now belongs to t1's session");
    zookeeper_close(old);
    is_int(is_up(r, "t1", &rc, &err), DROVER_UP, "the old session ends: t1 stays UP");
    {
        drover_member m;
        ok(dv_sg_get(r, GROUP, "t1", &m, &err) == 0 && m.report_json &&
           strcmp(m.report_json, "stale") == 0, "a join without a report kept the node's data");
        drover_member_clear(&m);
    }
    close_zk(w);
    close_zk(r);
}

static void test_auth(void)
{
    const char *member = "/t-auth/" GROUP "/s1";
    dv_sg *w = open_zk("/t-auth", "drover:s3cret", NULL);
    dv_sg *anon = open_zk("/t-auth", NULL, NULL);
    dv_sg *wrong = open_zk("/t-auth", "drover:wr0ng", NULL);
    zhandle_t *raw = raw_client(NULL);
    drover_member *all = NULL;
    drover_error err = { 0 };
    char buf[64];
    int len = sizeof buf, rc;
    size_t n = 0;

    if (!w || !anon || !wrong)
        bail_out("cannot open the zk driver");
    ok(dv_sg_heartbeat(w, GROUP, "s1", "{\"a\":1}", &err) == 0, "authenticated member joins (%s)", err.message);
    is_int(zoo_delete(raw, member, -1), ZNOAUTH, "a client without credentials cannot delete it");
    is_int(zoo_set(raw, member, "x", 1, -1), ZNOAUTH, "nor overwrite it");
    is_int(zoo_create(raw, "/t-auth/" GROUP "/fake", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
           ZNOAUTH, "nor add a fake member");
    ok(zoo_get(raw, member, 0, buf, &len, NULL) == ZOK && len > 7 && len < (int)sizeof buf &&
       memcmp(buf + len - 7, "{\"a\":1}", 7) == 0, "but may read the report");

    is_int(is_up(anon, "s1", &rc, &err), DROVER_UP, "an unauthenticated drover reads liveness");
    ok(dv_sg_leave(anon, GROUP, "s1", &err) < 0 && err.code == DROVER_ERR_AUTH,
       "an unauthenticated drover cannot remove it");
    has_str(err.message, "servicegroup.zk.auth", "the message says what to fix: %s", err.message);
    ok(dv_sg_join(wrong, GROUP, "s9", &err) < 0 && err.code == DROVER_ERR_AUTH,
       "wrong password: AUTH error");
    has_str(err.message, "digest user \"drover\"", "it names the user: %s", err.message);
    ok(!strstr(err.message, "wr0ng") && !strstr(err.message, "s3cret"), "and never the password");

    ok(dv_sg_get_all(w, GROUP, &all, &n, &err) == 0 && n == 1 && all[0].state == DROVER_UP,
       "the authenticated drover lists s1 UP");
    drover_members_free(all, n);
    ok(dv_sg_leave(w, GROUP, "s1", &err) == 0, "and may remove it");

    /* a group made before auth was configured is closed to strangers */
    {
        zhandle_t *owner = raw_client("drover:s3cret");
        ok(zoo_create(owner, "/t-auth/open", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0) == ZOK,
           "a group node open to anyone exists");
        zookeeper_close(owner);
    }
    ok(dv_sg_join(w, "open", "s2", &err) == 0, "an authenticated member joins it");
    is_int(zoo_delete(raw, "/t-auth/open/s2", -1), ZNOAUTH, "its group node was restricted");
    zookeeper_close(raw);
    close_zk(w);
    close_zk(anon);
    close_zk(wrong);
}


/* Admin state that cannot be read fails the listing, with a message that
 * names it (and under the sanitizers nothing read before it is leaked:
 * the group's children were, once, when the admin read failed). */
static void test_admin_unreadable(void)
{
    zhandle_t *owner = raw_client("drover:s3cret");
    static const char *const made[] = { "/t-noadm", "/t-noadm/.state", "/t-noadm/.state/admin" };
    dv_sg *w = open_zk("/t-noadm", NULL, NULL);
    drover_member *all = NULL;
    dv_summary_list l = { 0 };
    drover_error err = { 0 };
    size_t n = 0;
    int rc;

    if (!w)
        bail_out("cannot open the zk driver");
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
        if ((rc = zoo_create(owner, made[i], "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0)) != ZOK &&
            rc != ZNODEEXISTS)
            bail_out("cannot make %s: %s", made[i], zerror(rc));
    ok(zoo_create(owner, "/t-noadm/.state/admin/" GROUP, "", 0, &ZOO_CREATOR_ALL_ACL, 0, NULL, 0) == ZOK,
       "the group's admin state is readable by its owner only");
    ok(dv_sg_heartbeat(w, GROUP, "s1", "{\"a\":1}", &err) == 0, "a member joins (%s)", err.message);
    ok(dv_sg_get_all(w, GROUP, &all, &n, &err) < 0, "get_all fails: nothing is listed without its admin state");
    has_str(err.message, "admin state", "it says what could not be read: %s", err.message);
    drover_members_free(all, n);
    memset(&err, 0, sizeof err);
    ok(dv_sg_get_summaries(w, GROUP, false, &l, &err) < 0, "get_summaries fails too");
    has_str(err.message, "admin state", "with the same cause: %s", err.message);
    dv_summary_list_free(&l);
    zookeeper_close(owner);
    close_zk(w);
}


/* Node data as the raw client writes it: head, then json. */
static int raw_member(zhandle_t *raw, const char *host, const char *head, const char *json)
{
    char path[128], *v = malloc(strlen(head) + strlen(json) + 1);
    int rc;

    if (!v)
        bail_out("out of memory");
    strcat(strcpy(v, head), json);
    snprintf(path, sizeof path, "/t-sum/" GROUP "/%s", host);
    rc = zoo_create(raw, path, v, (int)strlen(v), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    free(v);
    return rc;
}

/* get_summaries reads the summary in each node, and falls back on the
 * report for nodes of the earlier version (JSON alone) and for a summary
 * that does not read; a header that does not read lists no report. */
static void test_summaries(void)
{
    dv_sg *w = open_zk("/t-sum", NULL, NULL);
    zhandle_t *raw = raw_client(NULL);
    static const char *const hosts[] = { "s-bad", "s-hdr", "s-new", "s-old" };
    const uint64_t free_of[] = { 1003, 0, 1001, 1002 };
    char *json[4], buf[4096];
    drover_error err = { 0 };
    drover_member *all = NULL;
    dv_summary_list l = { 0 };
    int len = sizeof buf - 1;
    size_t n = 0;

    if (!w)
        bail_out("cannot open the zk driver");
    for (int i = 0; i < 4; i++)
        if (!(json[i] = dv_fleet_small_report(hosts[i], free_of[i])))
            bail_out("cannot encode a report");
    ok(dv_sg_heartbeat(w, GROUP, "s-new", json[2], &err) == 0, "a member heartbeats (%s)", err.message);
    ok(zoo_get(raw, "/t-sum/" GROUP "/s-new", 0, buf, &len, NULL) == ZOK && len > 0, "its node reads");
    buf[len < 0 ? 0 : len] = '\0';
    ok(strncmp(buf, "dvs1 ", 5) == 0 && strstr(buf, "DS1 ") &&
       strcmp(buf + strlen(buf) - strlen(json[2]), json[2]) == 0,
       "the node holds the summary, then the report");
    is_int(raw_member(raw, "s-old", "", json[3]), ZOK, "a node of the earlier version (the JSON alone)");
    is_int(raw_member(raw, "s-bad", "dvs1 12\nDS1 garbage?", json[0]), ZOK,
           "a node whose summary does not read");
    is_int(raw_member(raw, "s-hdr", "dvs1 99999\n", json[1]), ZOK, "a node whose header does not read");
    ok(dv_sg_get_all(w, GROUP, &all, &n, &err) == 0 && n == 4, "get_all lists the four (%s)", err.message);
    ok(dv_sg_get_summaries(w, GROUP, true, &l, &err) == 0 && l.n == 4, "get_summaries too (%s)",
       err.message);
    for (size_t i = 0; i < n && i < l.n; i++) {
        const drover_report *q = l.sums[i].report, *r = all[i].report;
        bool refused = strcmp(hosts[i], "s-hdr") == 0;
        is_str(l.members[i].host, hosts[i], "member %zu is %s", i, hosts[i]);
        is_int(l.members[i].state, DROVER_UP, "%s: UP", hosts[i]);
        ok(l.sums[i].stored, "%s: a report is stored", hosts[i]);
        if (refused) {
            ok(!q && !r, "%s: refused by both: no report", hosts[i]);
            continue;
        }
        ok(r && strcmp(all[i].report_json, json[i]) == 0, "%s: get_all gives the report's JSON",
           hosts[i]);
        ok(q && r && q->memory_free_mib == free_of[i] && r->memory_free_mib == free_of[i] &&
           strcmp(q->host, hosts[i]) == 0 && q->generated_ms == r->generated_ms &&
           q->n_instances == 2 && strcmp(q->instances[1].name, "db-1") == 0 &&
           l.sums[i].memory_used_mib == 6144,
           "%s: the summary says what the report says", hosts[i]);
    }
    drover_members_free(all, n);
    dv_summary_list_free(&l);
    for (int i = 0; i < 4; i++)
        free(json[i]);
    zookeeper_close(raw);
    close_zk(w);
}

/* The names under <prefix>/.signs/GROUP that are signs of host. */
static int signs_of(zhandle_t *raw, const char *prefix, const char *host, char *last, size_t n)
{
    char path[128];
    struct String_vector v = { 0 };
    size_t hl = strlen(host);
    int count = 0;

    snprintf(path, sizeof path, "%s/.signs/" GROUP "/%02x", prefix, zk_sign_shard(host));
    if (zoo_get_children(raw, path, 0, &v) != ZOK)
        return 0;
    for (int i = 0; i < v.count; i++)
        if (strncmp(v.data[i], host, hl) == 0 && v.data[i][hl] == ' ') {
            count++;
            if (last)
                snprintf(last, n, "%s", v.data[i]);
        }
    deallocate_String_vector(&v);
    return count;
}

static char *summary_text(const char *host, uint64_t free_mib, int64_t gen, size_t *len)
{
    drover_report r = { .schema = DROVER_REPORT_SCHEMA, .host = (char *)host, .generated_ms = gen,
                        .hypervisor_type = "QEMU", .arch = "x86_64", .memory_total_mib = 65536,
                        .memory_free_mib = free_mib, .vcpus = 16 };
    char *sum = NULL;

    if (dv_summary_encode(&r, &sum, len, NULL) < 0)
        bail_out("cannot encode a summary");
    return sum;
}

/* The shard node host's sign goes in, made as a writer would (path gets it). */
static void raw_shard(zhandle_t *raw, const char *host, char *path, size_t len)
{
    char shard[128];
    const char *made[3] = { "/t-sign/.signs", "/t-sign/.signs/" GROUP, shard };

    snprintf(shard, sizeof shard, "/t-sign/.signs/" GROUP "/%02x", zk_sign_shard(host));
    for (int i = 0; i < 3; i++) {
        int rc = zoo_create(raw, made[i], NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS)
            bail_out("cannot make %s: %s", made[i], zerror(rc));
    }
    snprintf(path, len, "%s", shard);
}

/* A sign as a stranger (or an agent of another session) makes it. */
static int raw_sign(zhandle_t *raw, const char *host, uint64_t free_mib, int64_t gen)
{
    size_t len;
    char *sum = summary_text(host, free_mib, gen, &len), *name, path[4096];
    int rc;

    if (!(name = zk_sign_encode(host, sum, len)))
        bail_out("cannot make a sign");
    raw_shard(raw, host, path, sizeof path);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", name);
    rc = zoo_create(raw, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    free(sum);
    free(name);
    return rc;
}

static const dv_member_summary *sum_of(const dv_summary_list *l, const char *host)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->members[i].host, host) == 0)
            return &l->sums[i];
    return NULL;
}

/* Signs: each member's summary in an ephemeral node's name, kept with its
 * node, so get_summaries is one getChildren; a live member without a sign
 * is read from its node, a sign without a live node is not listed, a sign
 * that does not read is passed over, and the newest of two signs wins. */
static void test_signs(void)
{
    dv_sg *w = open_zk("/t-sign", NULL, NULL);
    zhandle_t *raw = raw_client(NULL);
    char *j1 = dv_fleet_small_report("g-a", 1001), *j2 = dv_fleet_small_report("g-a", 1005);
    char *j3 = dv_fleet_small_report("g-old", 1002), *j4 = dv_fleet_small_report("g-a", 7777);
    char first[4096] = "", second[4096] = "", *p;
    drover_error err = { 0 };
    drover_member *all = NULL;
    dv_summary_list l = { 0 };
    const dv_member_summary *ms;
    size_t n = 0;

    if (!w || !j1 || !j2 || !j3 || !j4)
        bail_out("cannot open the zk driver or encode a report");
    /* an instance name with bytes a node name may not hold */
    if ((p = strstr(j2, "db-1")))
        memcpy(p, "d/%1", 4);
    ok(dv_sg_heartbeat(w, GROUP, "g-a", j1, &err) == 0, "a member heartbeats (%s)", err.message);
    is_int(signs_of(raw, "/t-sign", "g-a", first, sizeof first), 1, "it has one sign");
    has_str(first, " 1001 ", "which holds its free memory: %s", first);
    ok(dv_sg_heartbeat(w, GROUP, "g-a", j2, &err) == 0, "a new report (%s)", err.message);
    is_int(signs_of(raw, "/t-sign", "g-a", second, sizeof second), 1, "still one sign");
    ok(strcmp(first, second) != 0 && strstr(second, " 1005 ") && strstr(second, "d%2F%251"),
       "the new one, escaped: %s", second);
    {
        /* someone deletes the sign: the next report's multi-op fails on it,
         * and the long way makes the sign again */
        char path[4200], third[4096] = "";
        raw_shard(raw, "g-a", path, sizeof path - 4096);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", second);
        ok(zoo_delete(raw, path, -1) == ZOK, "a stranger deletes g-a's sign");
        ok(dv_sg_heartbeat(w, GROUP, "g-a", j1, &err) == 0, "the next report still goes (%s)", err.message);
        is_int(signs_of(raw, "/t-sign", "g-a", third, sizeof third), 1, "one sign again");
        has_str(third, " 1001 ", "of that report");
        ok(dv_sg_heartbeat(w, GROUP, "g-a", j2, &err) == 0, "and the one after (%s)", err.message);
    }

    /* the node now says 7777, the sign still 1005: get_summaries must
     * take the sign and get_all the node */
    ok(zoo_set(raw, "/t-sign/" GROUP "/g-a", j4, (int)strlen(j4), -1) == ZOK,
       "the node is overwritten under the sign (JSON alone, as the earlier version writes)");
    {
        /* its node's summary says 1003, its report 1002: the summary is read */
        size_t sl;
        char *sum = summary_text("g-old", 1003, 1700000000000, &sl), *v;
        if (asprintf(&v, "dvs1 %zu\n%s%s", sl, sum, j3) < 0)
            bail_out("out of memory");
        is_int(zoo_create(raw, "/t-sign/" GROUP "/g-old", v, (int)strlen(v), &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_EPHEMERAL, NULL, 0), ZOK, "a live member without a sign");
        free(sum);
        free(v);
    }
    is_int(raw_sign(raw, "g-ghost", 4242, 1700000000000), ZOK, "a sign without a member node");
    {
        char bad[160];
        raw_shard(raw, "g-old", bad, sizeof bad);
        snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "/g-old DS1 garbage");
        ok(zoo_create(raw, bad, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) == ZOK,
           "a sign of g-old that does not read");
    }
    ok(dv_sg_get_summaries(w, GROUP, true, &l, &err) == 0, "get_summaries (%s)", err.message);
    is_int((int)l.n, 2, "lists the two live members, not the ghost");
    ms = sum_of(&l, "g-a");
    ok(ms && ms->report && ms->report->memory_free_mib == 1005, "g-a: from its sign (1005, not 7777)");
    ok(ms && ms->report && ms->report->n_instances == 2 &&
       strcmp(ms->report->instances[1].name, "d/%1") == 0, "with its instances, names unescaped");
    ms = sum_of(&l, "g-old");
    ok(ms && ms->report && ms->report->memory_free_mib == 1003, "g-old: from its node's summary (1003)");
    dv_summary_list_free(&l);
    ok(dv_sg_get_all(w, GROUP, &all, &n, &err) == 0 && n == 2 && all[0].report &&
       all[0].report->memory_free_mib == 7777, "get_all reads the node itself (7777)");
    drover_members_free(all, n);

    /* two signs of g-old: the newer report wins, whichever is listed first */
    is_int(raw_sign(raw, "g-old", 3333, 1700000000500), ZOK, "a sign of g-old");
    is_int(raw_sign(raw, "g-old", 4444, 1700000000900), ZOK, "and a newer one");
    is_int(raw_sign(raw, "g-old", 2222, 1700000000100), ZOK, "and an older one");
    ok(dv_sg_get_summaries(w, GROUP, false, &l, &err) == 0 && (ms = sum_of(&l, "g-old")) && ms->report &&
       ms->report->memory_free_mib == 4444, "g-old: the newest sign (4444)");
    dv_summary_list_free(&l);

    ok(dv_sg_leave(w, GROUP, "g-a", &err) == 0, "g-a leaves (%s)", err.message);
    is_int(signs_of(raw, "/t-sign", "g-a", NULL, 0), 0, "and its sign goes with it");
    ok(dv_sg_heartbeat(w, GROUP, "g-a", j1, &err) == 0, "it comes back (%s)", err.message);
    is_int(signs_of(raw, "/t-sign", "g-a", NULL, 0), 1, "with a sign");
    close_zk(w);
    is_int(signs_of(raw, "/t-sign", "g-a", NULL, 0), 0, "its session closed: no sign left");
    free(j1);
    free(j2);
    free(j3);
    free(j4);
    zookeeper_close(raw);
}

int main(void)
{
    if (!(dir = dv_scratch_dir()))
        bail_out("cannot make a scratch directory");
    if (dv_zk_start(&zk, 1) < 0)
        bail_out("cannot start ZooKeeper (tests/harness/zookeeper.sh)");
    diag("ZooKeeper at %s, scratch %s", zk.hosts, dir);

    test_membership();
    test_bad_input();
    test_withdraw();
    test_bad_config();
    test_root_prefix();
    test_take_over();
    test_auth();
    test_admin_unreadable();
    test_summaries();
    test_signs();
    test_many();
    test_agent_killed();
    test_unreachable_at_open();
    test_outage();
    test_admin();      /* replaces the server: last */

    dv_zk_stop(&zk);
    if (tap_failed)
        diag("scratch directory kept for a look: %s", dir);   /* agents' logs, state db */
    else
        dv_scratch_rmrf(dir);
    return done_testing();
}
