/* test_store_conformance.c - one suite over every state store backend, on
 * real servers: an SQLite file, or a 3-node ZooKeeper ensemble.  Built once
 * per backend (-DDV_STORE_BACKEND).  Processes are real (fork): racing
 * writers, a lease holder SIGSTOPped past its lease, restarts. */
#include "tests/tap.h"
#include "tests/harness/scratch.h"
#include "tests/harness/zk.h"
#include "tests/integration/zktest.h"

#include "core/sqlite.h"
#include "core/statedb.h"
#include "store/store.h"

#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/select.h>
#include <sys/socket.h>

#ifndef DV_STORE_BACKEND
#error "build with -DDV_STORE_BACKEND='\"sqlite\"' or '\"zk\"'"
#endif

#define IS_ZK (strcmp(DV_STORE_BACKEND, "zk") == 0)
#define SESSION_MS 2000
#define LEASE_MS 2000
#define ROUNDS 10
#define RACERS 4

static char *dir;
static dv_zk_cluster zk;

static dv_config *make_cfg(const char *hosts, int session_ms)
{
    dv_config *cfg = zkt_config(hosts ? hosts : zk.hosts, dir, session_ms, "/drover", NULL);

    if (!cfg || dv_config_set_string(&cfg->state.backend, DV_STORE_BACKEND, NULL) < 0)
        bail_out("cannot make a config");
    return cfg;
}

static dv_store *open_store(const dv_config *cfg)
{
    drover_error err = { 0 };
    dv_store *st;

    if (dv_store_open(cfg, &st, &err) < 0)
        bail_out("cannot open the %s store: %s", DV_STORE_BACKEND, err.message);
    return st;
}

/* ---------------------------------------------------------------- admin */

static void test_admin(dv_store *st)
{
    dv_store_admin_change dis = { 1, "DIMM replacement", -1 }, fd = { -1, NULL, 1 };
    dv_store_admin_change en = { 0, NULL, 0 };
    drover_error err = { 0 };
    dv_store_admin a, *all;
    int64_t v1 = 0, v2 = 0, v3 = 0;
    size_t n;

    ok(dv_store_admin_get(st, "compute", "node1", &a, &err) == 0 && !a.disabled &&
       a.version == 0, "a member never set reads enabled, version 0");
    dv_store_admin_clear(&a);
    ok(dv_store_admin_set(st, "compute", "node1", &dis, DV_STORE_NEW, NULL, &v1, &err) == 0,
       "disable node1 (create-only write)");
    ok(dv_store_admin_get(st, "compute", "node1", &a, &err) == 0 && a.disabled && a.reason &&
       strcmp(a.reason, "DIMM replacement") == 0 && !a.forced_down && a.version == v1 && v1 > 0,
       "read back: disabled with its reason at the version written");
    dv_store_admin_clear(&a);
    ok(dv_store_admin_set(st, "compute", "node1", &fd, v1, NULL, &v2, &err) == 0 && v2 > v1,
       "force it down at its version: the version grows");
    ok(dv_store_admin_set(st, "compute", "node1", &en, v1, NULL, &v3, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "a write at the old version is refused (CONFLICT)");
    ok(dv_store_admin_set(st, "compute", "node1", &dis, DV_STORE_NEW, NULL, &v3, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "a create-only write of an existing member is refused");
    ok(dv_store_admin_list(st, "compute", &all, &n, &err) == 0 && n == 1 &&
       strcmp(all[0].host, "node1") == 0 && all[0].disabled && all[0].forced_down,
       "admin_list: node1 disabled and forced down");
    dv_store_admins_free(all, n);
    ok(dv_store_admin_set(st, "compute", "node1", &en, DV_STORE_ANY, NULL, &v3, &err) == 0,
       "enable it (unconditional)");
    ok(dv_store_admin_get(st, "compute", "node1", &a, &err) == 0 && !a.disabled && !a.reason &&
       !a.forced_down, "enabled: the reason is forgotten");
    dv_store_admin_clear(&a);
    ok(dv_store_admin_set(st, "compute", "bad/name", &en, DV_STORE_ANY, NULL, NULL, &err) < 0 &&
       err.code == DROVER_ERR_INVALID, "a bad host name is refused");
}

/* The default backend and the warnings of drover.conf(5). */
static void test_rules(void)
{
    dv_config *c = dv_config_new_defaults();
    char buf[1024];

    if (!c)
        bail_out("config");
    is_str(dv_store_backend(c), "sqlite", "auto with the db driver: sqlite");
    dv_config_set_string(&c->servicegroup.db.path, "/shared/drover/drover.db", NULL);
    ok(dv_store_sqlite_path(c, buf, sizeof buf, NULL) == 0 &&
       strcmp(buf, "/shared/drover/state.db") == 0,
       "db driver, state.path left alone: the store sits beside the members' database");
    ok(!dv_store_config_warning(c, buf, sizeof buf), "no warning for db + sqlite");
    dv_config_set_string(&c->servicegroup.driver, "zk", NULL);
    is_str(dv_store_backend(c), "zk", "auto with the zk driver: zk");
    dv_config_set_string(&c->state.backend, "sqlite", NULL);
    ok(dv_store_config_warning(c, buf, sizeof buf) && strstr(buf, "other machines"),
       "sqlite with the zk driver: a warning that other machines will not see it");
    ok(dv_store_sqlite_path(c, buf, sizeof buf, NULL) == 0 &&
       strcmp(buf, "/var/lib/drover/state.db") == 0, "other drivers: state.path");
    dv_config_set_string(&c->servicegroup.driver, "mc", NULL);
    dv_config_set_string(&c->state.backend, "auto", NULL);
    is_str(dv_store_backend(c), "sqlite", "auto with the mc driver: sqlite");
    dv_config_free(c);
}

/* ---------------------------------------------------------------- races */

/* Children wait for the same wall-clock instant, then write. */
static void wait_until(int64_t t)
{
    while (dv_wall_ms() < t)
        ;
}

/* In a child: one conditional record write at version expected. */
static int race_record(const dv_config *cfg, int me, int64_t expected, int64_t start)
{
    drover_error err = { 0 };
    dv_store *st = open_store(cfg);
    char json[64];
    int rc;

    snprintf(json, sizeof json, "{\"writer\":%d}", me);
    wait_until(start);
    rc = dv_store_record_put(st, "race", "r1", json, expected, NULL, NULL, &err);
    dv_store_close(st);
    return rc == 0 ? 0 : err.code == DROVER_ERR_CONFLICT ? 1 : 2;
}

static int race_claim(const dv_config *cfg, int me, int64_t start)
{
    drover_error err = { 0 };
    dv_store *st = open_store(cfg);
    char uuid[64];
    int64_t id;
    int rc;

    snprintf(uuid, sizeof uuid, "inst-%d", me);
    wait_until(start);
    rc = dv_store_claim_try(st, "h1", uuid, "racer", 1024, 1024, 600, 0, NULL, &id, &err);
    dv_store_close(st);
    return rc == 0 ? 0 : err.code == DROVER_ERR_CONFLICT ? 1 : 2;
}

/* Fork RACERS children running fn; count winners and losers. */
static void race(const dv_config *cfg, bool claims, int64_t expected, int *wins, int *losses,
                 int *errors)
{
    pid_t pid[RACERS];
    int64_t start = dv_wall_ms() + 400 + (IS_ZK ? 600 : 0);

    *wins = *losses = *errors = 0;
    fflush(stdout);
    for (int i = 0; i < RACERS; i++) {
        if ((pid[i] = fork()) == 0)
            _exit(claims ? race_claim(cfg, i, start) : race_record(cfg, i, expected, start));
    }
    for (int i = 0; i < RACERS; i++) {
        int status = 0;
        waitpid(pid[i], &status, 0);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
        *wins += code == 0;
        *losses += code == 1;
        *errors += code > 1;
    }
}

static void test_races(const dv_config *cfg, dv_store *st)
{
    drover_error err = { 0 };
    int64_t v = 0;
    int good = 0;

    ok(dv_store_record_put(st, "race", "r1", "{}", DV_STORE_NEW, NULL, &v, &err) == 0,
       "the race record exists");
    for (int round = 0; round < ROUNDS; round++) {
        dv_store_record r;
        int w, l, e;
        race(cfg, false, v, &w, &l, &e);
        if (w == 1 && l == RACERS - 1 && e == 0)
            good++;
        else
            diag("round %d: %d won, %d conflicted, %d failed otherwise", round, w, l, e);
        if (dv_store_record_get(st, "race", "r1", &r, &err) == 0) {
            if (r.version != v + 1)
                diag("round %d: version %" PRId64 " after %" PRId64, round, r.version, v);
            v = r.version;
            dv_store_record_clear(&r);
        }
    }
    is_int(good, ROUNDS, "%d processes, %d rounds of conditional writes: exactly one wins each",
           RACERS, ROUNDS);

    good = 0;
    for (int round = 0; round < ROUNDS; round++) {
        dv_store_claim *c;
        size_t n = 0;
        int w, l, e;

        race(cfg, true, 0, &w, &l, &e);
        if (w == 1 && l == RACERS - 1 && e == 0)
            good++;
        else
            diag("claim round %d: %d won, %d refused, %d failed otherwise", round, w, l, e);
        if (dv_store_claim_list(st, "h1", &c, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                dv_store_claim_release(st, "h1", c[i].id, NULL, &err);
            dv_store_claims_free(c, n);
        }
    }
    is_int(good, ROUNDS, "%d schedulers racing for a host with room for one: one claim, %d rounds",
           RACERS, ROUNDS);
}

/* ---------------------------------------------------------------- claims */

static void test_claims(const dv_config *cfg, dv_store *st)
{
    drover_error err = { 0 };
    dv_store *other = open_store(cfg);
    dv_store_claim_sum *sums;
    uint64_t mib = 0;
    int64_t a = 0, b = 0, c = 0;
    size_t n;

    ok(dv_store_claim_try(st, "h2", "u1", "sched-a", 512, 2048, 600, 0, NULL, &a, &err) == 0 &&
       dv_store_claim_try(st, "h2", "u2", "sched-a", 1024, 2048, 600, 0, NULL, &b, &err) == 0 &&
       dv_store_claim_try(st, "h3", "u3", "sched-a", 256, 2048, 1, 0, NULL, &c, &err) == 0,
       "three claims placed (one with a 1 s ttl)");
    ok(dv_store_claim_try(other, "h2", "u4", "sched-b", 1024, 2048, 600, 0, NULL, &c, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "a fourth that does not fit is refused: %s", err.message);
    ok(dv_store_claimed_mib(other, "h2", &mib, &err) == 0 && mib == 1536,
       "another reader counts 1536 MiB on h2");
    ok(dv_store_claim_sums(other, &sums, &n, &err) == 0 && n == 2 &&
       strcmp(sums[0].host, "h2") == 0 && sums[0].mib == 1536 && sums[0].count == 2 &&
       strcmp(sums[1].host, "h3") == 0 && sums[1].mib == 256, "claim_sums: every host in one call");
    dv_store_claim_sums_free(sums, n);
    dv_sleep_ms(1500);
    ok(dv_store_claimed_mib(other, "h3", &mib, &err) == 0 && mib == 0,
       "the expired claim is not counted");
    ok(dv_store_claim_release(other, "h2", a, NULL, &err) == 0 &&
       dv_store_claim_release(other, "h2", a, NULL, &err) == 0, "release, twice: no error");
    ok(dv_store_claimed_mib(st, "h2", &mib, &err) == 0 && mib == 1024,
       "after the release: 1024 MiB on h2");
    dv_store_claim_release(st, "h2", b, NULL, &err);
    dv_store_close(other);
}

/* zk: a claim tied to its owner's session vanishes when the owner dies. */
static void test_session_claim(const dv_config *cfg, dv_store *st)
{
    drover_error err = { 0 };
    uint64_t mib = 0;
    int64_t t0, gone = -1;
    int fds[2];
    pid_t pid;
    char c;

    if (pipe(fds) < 0)
        bail_out("pipe");
    fflush(stdout);
    if ((pid = fork()) == 0) {
        dv_store *mine = open_store(cfg);
        int64_t id;
        if (dv_store_claim_try(mine, "h5", "u5", "doomed", 512, 4096, 600,
                               DV_STORE_CLAIM_SESSION, NULL, &id, &err) < 0 ||
            write(fds[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    if (read(fds[0], &c, 1) != 1)
        bail_out("the claiming process failed");
    close(fds[0]);
    close(fds[1]);
    ok(dv_store_claimed_mib(st, "h5", &mib, &err) == 0 && mib == 512,
       "a scheduler's session claim counts while it lives");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (t0 = dv_mono_ms(); dv_mono_ms() - t0 < 20000; dv_sleep_ms(100)) {
        if (dv_store_claimed_mib(st, "h5", &mib, &err) == 0 && mib == 0) {
            gone = dv_mono_ms() - t0;
            break;
        }
    }
    ok(gone >= 0, "the scheduler SIGKILLed: its claim vanished with its session");
    diag("claim gone %" PRId64 " ms after the kill (session %d ms)", gone, SESSION_MS);
}

/* zk: with servicegroup.zk.auth the store's nodes are creator-all plus
 * world-read, as the zk driver's: a client without the credentials reads
 * but cannot write. */
static void test_auth(void)
{
    dv_config *mine = zkt_config(zk.hosts, dir, SESSION_MS, "/secure", "ops:s3cret");
    dv_config *stranger = zkt_config(zk.hosts, dir, SESSION_MS, "/secure", NULL);
    drover_error err = { 0 };
    dv_store *a, *b;
    dv_store_record r;

    if (!mine || !stranger || dv_config_set_string(&mine->state.backend, "zk", NULL) < 0 ||
        dv_config_set_string(&stranger->state.backend, "zk", NULL) < 0)
        bail_out("config");
    a = open_store(mine);
    b = open_store(stranger);
    ok(dv_store_record_put(a, "migration", "s1", "{}", DV_STORE_NEW, NULL, NULL, &err) == 0,
       "auth: the digest user writes a record");
    ok(dv_store_record_get(b, "migration", "s1", &r, &err) == 0, "a client without it reads it");
    dv_store_record_clear(&r);
    ok(dv_store_record_put(b, "migration", "s1", "{\"x\":1}", DV_STORE_ANY, NULL, NULL, &err) < 0 &&
       err.code == DROVER_ERR_AUTH, "but cannot overwrite it (AUTH)");
    diag("%s", err.message);
    dv_store_close(a);
    dv_store_close(b);
    dv_config_free(mine);
    dv_config_free(stranger);
}

/* ---------------------------------------------------------------- records */

static void test_records(dv_store *st)
{
    drover_error err = { 0 };
    dv_store_record r, *all;
    int64_t v = 0;
    size_t n;

    ok(dv_store_record_put(st, "migration", "m1", "{\"state\":\"running\"}", DV_STORE_NEW, NULL,
                           &v, &err) == 0 && v == 1, "create record migration/m1 at version 1");
    ok(dv_store_record_put(st, "migration", "m1", "{\"state\":\"completed\"}", 1, NULL, &v,
                           &err) == 0 && v == 2, "update it at version 1 -> 2");
    ok(dv_store_record_put(st, "migration", "m1", "{}", 1, NULL, NULL, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "an update at version 1 again: CONFLICT");
    ok(dv_store_record_put(st, "migration", "m2", "{\"state\":\"queued\"}", DV_STORE_NEW, NULL,
                           NULL, &err) == 0 &&
       dv_store_record_put(st, "journal", "e1", "{\"step\":\"detected\"}", DV_STORE_NEW, NULL,
                           NULL, &err) == 0, "two more records in two kinds");
    ok(dv_store_record_list(st, "migration", &all, &n, &err) == 0 && n == 2 &&
       strcmp(all[0].id, "m1") == 0 && strcmp(all[1].id, "m2") == 0,
       "list(migration): m1, m2");
    dv_store_records_free(all, n);
    ok(dv_store_record_get(st, "migration", "nope", &r, &err) < 0 &&
       err.code == DROVER_ERR_NOT_FOUND, "a missing record: NOT_FOUND");
    ok(dv_store_record_put(st, "tmp", "t1", "{}", DV_STORE_NEW, NULL, &v, &err) == 0 &&
       dv_store_record_delete(st, "tmp", "t1", v + 1, NULL, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT &&
       dv_store_record_delete(st, "tmp", "t1", v, NULL, &err) == 0 &&
       dv_store_record_get(st, "tmp", "t1", &r, &err) < 0, "conditional delete");
    ok(dv_store_record_delete(st, "tmp", "t1", DV_STORE_NEW, NULL, &err) < 0 &&
       err.code == DROVER_ERR_INVALID &&
       dv_store_record_delete(st, "tmp", "t1", DV_STORE_ANY, NULL, &err) == 0 &&
       dv_store_record_delete(st, "tmp", "t1", 5, NULL, &err) < 0 &&
       err.code == DROVER_ERR_NOT_FOUND,
       "delete: version 0 is no version; a missing record is fine unconditionally, not at a version");
}

static void check_records_survive(dv_store *st, const char *when)
{
    drover_error err = { 0 };
    dv_store_record r;
    dv_store_admin a;

    ok(dv_store_record_get(st, "migration", "m1", &r, &err) == 0 && r.version == 2 &&
       strcmp(r.json, "{\"state\":\"completed\"}") == 0, "%s: migration/m1 at version 2", when);
    dv_store_record_clear(&r);
    ok(dv_store_admin_get(st, "compute", "node1", &a, &err) == 0 && a.version >= 3,
       "%s: node1's admin state at its version", when);
    dv_store_admin_clear(&a);
}

static void test_restart(const dv_config *cfg, dv_store **st)
{
    dv_store_close(*st);
    if (IS_ZK) {
        for (int i = 1; i <= zk.nodes; i++)
            if (dv_zk_term(&zk, i) < 0)
                bail_out("cannot stop ZooKeeper node %d", i);
        /* all at once: one alone has no quorum and never serves */
        pid_t pid[8];
        int failed = 0;
        fflush(stdout);
        for (int i = 1; i <= zk.nodes; i++)
            if ((pid[i] = fork()) == 0)
                _exit(dv_zk_relaunch(&zk, i) < 0);
        for (int i = 1; i <= zk.nodes; i++) {
            int status = 1;
            waitpid(pid[i], &status, 0);
            failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        if (failed)
            bail_out("cannot relaunch the ZooKeeper ensemble");
    }
    *st = open_store(cfg);
    check_records_survive(*st, IS_ZK ? "every process and every ZooKeeper server restarted"
                                     : "every process restarted");
}

/* ---------------------------------------------------------------- leases */

/* The holder, in its own process: acquire, report the epoch, renew every
 * 300 ms; on 'w' make one fenced write and one renew and report both. */
static void holder_main(const dv_config *cfg, int in, int out)
{
    drover_error err = { 0 };
    dv_store *st = open_store(cfg);
    dv_fence fence = { "evacuator", 0 };
    char line[600];
    int rc;

    if (dv_store_lease_acquire(st, "evacuator", "ctl-a", LEASE_MS, &fence.epoch, &err) < 0)
        _exit(2);
    dprintf(out, "%" PRId64 "\n", fence.epoch);
    for (;;) {
        struct timeval tv = { 0, 300000 };
        fd_set fds;
        char cmd;

        FD_ZERO(&fds);
        FD_SET(in, &fds);
        if (select(in + 1, &fds, NULL, NULL, &tv) <= 0) {
            dv_store_lease_renew(st, "evacuator", "ctl-a", fence.epoch, LEASE_MS, &err);
            continue;
        }
        if (read(in, &cmd, 1) != 1 || cmd != 'w')
            break;
        rc = dv_store_record_put(st, "journal", "from-a", "{\"by\":\"ctl-a\"}", DV_STORE_ANY,
                                 &fence, NULL, &err);
        snprintf(line, sizeof line, "%d %d %.400s\n", rc, rc < 0 ? (int)err.code : 0,
                 rc < 0 ? err.message : "");
        rc = dv_store_lease_renew(st, "evacuator", "ctl-a", fence.epoch, LEASE_MS, &err);
        dprintf(out, "%s%d %d %s\n", line, rc, rc < 0 ? (int)err.code : 0,
                rc < 0 ? err.message : "");
    }
    dv_store_close(st);
    _exit(0);
}

static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = dv_mono_ms() + timeout_ms;

    while (n + 1 < size && dv_mono_ms() < deadline) {
        struct timeval tv = { 0, 100000 };
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        if (select(fd + 1, &fds, NULL, NULL, &tv) <= 0)
            continue;
        if (read(fd, buf + n, 1) != 1)
            break;
        if (buf[n++] == '\n')
            break;
    }
    while (n && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return (int)n;
}

/* A, stopped and continued after B took over: its fenced write and its
 * renew are refused. */
static void stale_holder(dv_store *st, pid_t pid, int to, int from)
{
    drover_error err = { 0 };
    char line[700];

    kill(pid, SIGCONT);
    if (write(to, "w", 1) != 1)
        bail_out("write to the holder");
    read_line(from, line, sizeof line, 30000);
    ok(strncmp(line, "-1 ", 3) == 0 && atoi(line + 3) == DROVER_ERR_CONFLICT &&
       strstr(line, "stale epoch"), "A, continued: its fenced write is refused: %s", line);
    read_line(from, line, sizeof line, 30000);
    ok(strncmp(line, "-1 ", 3) == 0 && atoi(line + 3) == DROVER_ERR_CONFLICT,
       "A notices it lost the lease (renew: CONFLICT): %s", line);
    {
        dv_store_record r;
        ok(dv_store_record_get(st, "journal", "from-a", &r, &err) < 0 &&
           err.code == DROVER_ERR_NOT_FOUND, "nothing of A's stale write is stored");
    }
}

static void test_leases(const dv_config *cfg, dv_store *st)
{
    int to_child[2], from_child[2];
    drover_error err = { 0 };
    dv_store_lease l;
    int64_t ea = 0, eb = 0, t0, took = -1;
    char line[700];
    pid_t pid;
    dv_fence fence = { "evacuator", 0 };

    if (pipe(to_child) < 0 || pipe(from_child) < 0)
        bail_out("pipe");
    fflush(stdout);
    if ((pid = fork()) == 0) {
        close(to_child[1]);
        close(from_child[0]);
        holder_main(cfg, to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    read_line(from_child[0], line, sizeof line, 30000);
    ea = strtoll(line, NULL, 10);
    if (ea <= 0)
        bail_out("the holder process could not take the lease");
    ok(ea > 0, "contender A holds the lease at epoch %" PRId64, ea);
    ok(dv_store_lease_acquire(st, "evacuator", "ctl-b", LEASE_MS, &eb, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "contender B is refused: %s", err.message);
    ok(dv_store_lease_get(st, "evacuator", &l, &err) == 0 && strcmp(l.holder, "ctl-a") == 0 &&
       l.epoch == ea, "lease_get: held by ctl-a at A's epoch");
    dv_store_lease_clear(&l);

    kill(pid, SIGSTOP);
    t0 = dv_mono_ms();
    while (dv_mono_ms() - t0 < 30000) {
        if (dv_store_lease_acquire(st, "evacuator", "ctl-b", LEASE_MS, &eb, &err) == 0) {
            took = dv_mono_ms() - t0;
            break;
        }
        dv_sleep_ms(100);
    }
    ok(took >= 0 && eb > ea, "A stopped: B holds the lease at a higher epoch");
    diag("failover: %" PRId64 " ms, epoch %" PRId64 " -> %" PRId64, took, ea, eb);
    fence.epoch = eb;
    ok(dv_store_record_put(st, "journal", "from-b", "{}", DV_STORE_ANY, &fence, NULL, &err) == 0,
       "B's fenced write lands");

    stale_holder(st, pid, to_child[1], from_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    zkt_reap(pid, SIGTERM);
    ok(dv_store_lease_renew(st, "evacuator", "ctl-b", eb, LEASE_MS, &err) == 0,
       "B renews its lease");
}
/* zk: the ensemble's leader killed; the holder keeps its lease. */
static void test_leader_kill(dv_store *st)
{
    drover_error err = { 0 };
    int leader = dv_zk_leader(&zk), conflicts = 0, unreachable = 0;
    int64_t epoch = 0, t0;
    dv_store_lease l;

    /* B holds it since test_leases (the store was reopened: take it again) */
    ok(dv_store_lease_acquire(st, "evacuator", "ctl-b", LEASE_MS, &epoch, &err) == 0,
       "B holds the lease");
    if (leader <= 0 || dv_zk_kill(&zk, leader) < 0)
        bail_out("cannot kill the leader");
    for (t0 = dv_mono_ms(); dv_mono_ms() - t0 < 8000; dv_sleep_ms(200)) {
        if (dv_store_lease_renew(st, "evacuator", "ctl-b", epoch, LEASE_MS, &err) < 0) {
            conflicts += err.code == DROVER_ERR_CONFLICT;
            unreachable += err.code == DROVER_ERR_UNREACHABLE;
        }
    }
    is_int(conflicts, 0, "leader (node %d) killed: renewing for 8 s never lost the lease"
           " (%d renewals UNREACHABLE during the election)", leader, unreachable);
    ok(dv_store_lease_get(st, "evacuator", &l, &err) == 0 && strcmp(l.holder, "ctl-b") == 0 &&
       l.epoch == epoch, "still held by ctl-b at the same epoch");
    dv_store_lease_clear(&l);
    if (dv_zk_relaunch(&zk, leader) < 0)
        bail_out("cannot relaunch node %d", leader);
}

/* ---------------------------------------------------------------- unreachable */

/* A port nobody listens on: bound, read, closed. */
static int closed_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void test_unreachable(void)
{
    dv_store_admin_change dis = { 1, "x", -1 };
    drover_error err = { 0 };
    int before = dv_scratch_count_entries(dir), rc;
    int64_t t0, took;

    if (IS_ZK) {
        char hosts[64];
        snprintf(hosts, sizeof hosts, "127.0.0.1:%d", closed_port());
        dv_config *cfg = make_cfg(hosts, SESSION_MS);
        dv_store *st;
        t0 = dv_mono_ms();
        rc = dv_store_open(cfg, &st, &err);
        if (rc == 0) {
            rc = dv_store_admin_set(st, "compute", "node7", &dis, DV_STORE_ANY, NULL, NULL, &err);
            took = dv_mono_ms() - t0;
            dv_store_close(st);
        } else {
            took = dv_mono_ms() - t0;
        }
        ok(rc < 0 && err.code == DROVER_ERR_UNREACHABLE,
           "no ZooKeeper at %s: the write fails UNREACHABLE", hosts);
        diag("%s", err.message);
        ok(took < 3 * SESSION_MS + 3000, "within a bounded time (session %d ms)", SESSION_MS);
        diag("took %" PRId64 " ms", took);
        dv_config_free(cfg);
    } else {
        dv_config *cfg = make_cfg(NULL, SESSION_MS);
        dv_store *st;
        sqlite3 *db;
        cfg->state.busy_timeout_ms = 1000;
        st = open_store(cfg);
        if (sqlite3_open(cfg->state.path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            bail_out("cannot lock the state db");
        t0 = dv_mono_ms();
        rc = dv_store_record_put(st, "migration", "locked", "{}", DV_STORE_ANY, NULL, NULL, &err);
        took = dv_mono_ms() - t0;
        ok(rc < 0 && err.code == DROVER_ERR_UNREACHABLE,
           "state db write-locked by another process: UNREACHABLE");
        diag("%s", err.message);
        ok(took < 1000 + 3000, "within a bounded time (busy_timeout 1000 ms)");
        diag("took %" PRId64 " ms", took);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        dv_store_close(st);
        dv_config_free(cfg);
    }
    is_int(dv_scratch_count_entries(dir), before, "nothing was written locally instead");
}

static void test_quorum_lost(dv_store *st)
{
    drover_error err = { 0 };
    int leader = dv_zk_leader(&zk), other = leader % 3 + 1, rc;
    int64_t t0, took;

    if (leader <= 0 || dv_zk_kill(&zk, leader) < 0 || dv_zk_kill(&zk, other) < 0)
        bail_out("cannot kill two servers");
    t0 = dv_mono_ms();
    rc = dv_store_record_put(st, "migration", "noquorum", "{}", DV_STORE_ANY, NULL, NULL, &err);
    took = dv_mono_ms() - t0;
    ok(rc < 0 && err.code == DROVER_ERR_UNREACHABLE, "quorum lost: a write fails UNREACHABLE");
    ok(took < 3 * SESSION_MS + 3000, "within a bounded time");
    diag("took %" PRId64 " ms", took);
    if (dv_zk_relaunch(&zk, leader) < 0 || dv_zk_relaunch(&zk, other) < 0)
        bail_out("cannot relaunch the servers");
}

/* ---------------------------------------------------------------- upgrade */

static void test_upgrade(dv_store *zst)
{
    const char *path = dv_scratch_join(dir, "previous.db");
    drover_error err = { 0 };
    dv_statedb *old;
    dv_config *cfg = make_cfg(NULL, SESSION_MS);
    dv_store *st;
    dv_store_admin a;
    dv_store_claim *c;
    size_t n = 0;
    int64_t id;

    /* a state db as the previous release left it: statedb's schema only */
    if (dv_statedb_open(path, 5000, &old, &err) < 0 ||
        dv_statedb_set_disabled(old, "compute", "old1", true, "PSU swap", &err) < 0 ||
        dv_statedb_set_forced_down(old, "compute", "old2", true, &err) < 0 ||
        dv_statedb_claim_try(old, "h9", "inst-9", 2048, 8192, dv_wall_ms(), 600, &id, &err) < 0)
        bail_out("cannot make the previous state db: %s", err.message);
    dv_statedb_close(old);
    if (dv_config_set_string(&cfg->state.path, path, NULL) < 0 ||
        dv_config_set_string(&cfg->state.backend, "sqlite", NULL) < 0)
        bail_out("config");
    st = open_store(cfg);
    ok(dv_store_admin_get(st, "compute", "old1", &a, &err) == 0 && a.disabled && a.reason &&
       strcmp(a.reason, "PSU swap") == 0, "upgrade: the sqlite store reads old1 disabled");
    dv_store_admin_clear(&a);
    ok(dv_store_claim_list(st, "h9", &c, &n, &err) == 0 && n == 1 && c[0].memory_mib == 2048,
       "upgrade: and h9's claim");
    dv_store_claims_free(c, n);
    if (zst) {
        dv_store_copy_stats s1, s2;
        ok(dv_store_copy(st, zst, &s1, &err) == 0 && s1.admin == 2 && s1.claims == 1,
           "state migrate --to zk: two members' admin state and one claim carried");
        ok(dv_store_admin_get(zst, "compute", "old1", &a, &err) == 0 && a.disabled &&
           a.reason && strcmp(a.reason, "PSU swap") == 0, "zk store: old1 disabled, its reason");
        dv_store_admin_clear(&a);
        ok(dv_store_claim_list(zst, "h9", &c, &n, &err) == 0 && n == 1 &&
           strcmp(c[0].instance_uuid, "inst-9") == 0, "zk store: h9's claim");
        dv_store_claims_free(c, n);
        ok(dv_store_copy(st, zst, &s2, &err) == 0 && s2.admin == 0 && s2.claims == 0 &&
           s2.records == 0, "a second migrate changes nothing");
    }
    dv_store_close(st);
    dv_config_free(cfg);
}

int main(void)
{
    dv_config *cfg;
    dv_store *st;

    if (!(dir = dv_scratch_dir()))
        bail_out("no scratch directory");
    dir = strdup(dir);
    if (IS_ZK && dv_zk_start(&zk, 3) < 0)
        bail_out("ZooKeeper ensemble did not start");
    cfg = make_cfg(NULL, SESSION_MS);
    st = open_store(cfg);
    diag("backend %s, state in %s", DV_STORE_BACKEND, IS_ZK ? zk.hosts : cfg->state.path);
    test_rules();
    test_admin(st);
    test_records(st);
    test_claims(cfg, st);
    if (IS_ZK) {
        test_session_claim(cfg, st);
        test_auth();
    }
    test_races(cfg, st);
    test_leases(cfg, st);
    test_restart(cfg, &st);
    if (IS_ZK) {
        test_leader_kill(st);
        test_quorum_lost(st);
    }
    test_upgrade(IS_ZK ? st : NULL);
    test_unreachable();
    dv_store_close(st);
    dv_config_free(cfg);
    if (IS_ZK)
        dv_zk_stop(&zk);
    dv_scratch_rmrf(dir);
    free(dir);
    return done_testing();
}
