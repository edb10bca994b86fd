/* test_two_machines.c - issue 9's "two machines": state every drover process
 * of a deployment shares, seen alike from two machines.
 *
 * Machine A and machine B are two drover configurations with their own
 * state paths (their own per-machine state db files) and one ZooKeeper
 * ensemble of three servers (the zk driver and the zk state store, as
 * state.backend "auto" pairs them).  The hosts are two real libvirtd hosts
 * (tests/harness/lvhosts.*) with real droverd agents, one started from each
 * machine's configuration; two TCG guests run on host 1.
 *
 *  - `drover service disable HOST2` on A is seen by `drover schedule` on B:
 *    the only destination is refused with the disabled reason typed on A;
 *    `service enable` on B is seen by `schedule` on A;
 *  - two `drover schedule --claim` processes, one per machine, race for
 *    host 2 with room for one guest: exactly one claim, in each of 20 rounds
 *    (and the store holds exactly that one claim, whichever machine asks).
 */
#include "core/clock.h"
#include "core/config.h"
#include "store/store.h"
#include "tests/harness/drover_run.h"
#include "tests/harness/zk.h"
#include "tests/harness/lvhosts.h"
#include "tests/integration/zktest.h"
#include "tests/tap.h"

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define GUEST_MIB 64
#define ROUNDS 20
#define SESSION_MS 4000

static lvh h;
static dv_zk_cluster zk;
static char work[128], conf[2][192], drover_bin[512];

/* ---------------------------------------------------------------- configs */

/* Machine m's config (m = 0: A, 1: B): its own state db; scheduler settings
 * that leave host 2 room for one guest (reserved = its total minus 96 MiB). */
static void write_config(int m, uint64_t reserved_mib)
{
    FILE *f;

    snprintf(conf[m], sizeof conf[m], "%s/%c.conf", work, "AB"[m]);
    if (!(f = fopen(conf[m], "w")))
        bail_out("cannot write %s: %s", conf[m], strerror(errno));
    fprintf(f,
            "servicegroup = { driver = \"zk\"; report_interval = 1; service_down_time = 30;\n"
            "  zk = { hosts = \"%s\"; session_timeout_ms = %d; prefix = \"/two\"; }; };\n"
            "agent = { group = \"compute\"; };\n"
            "controller = { libvirt_uris = [ \"%s=%s\", \"%s=%s\" ]; libvirt_timeout_ms = 5000; };\n"
            "scheduler = { ram_allocation_ratio = 1.0; reserved_host_memory_mb = %llu; };\n"
            "state = { path = \"%s/%c-state.db\"; };\n",
            zk.hosts, SESSION_MS, h.host[0].name, h.host[0].uri, h.host[1].name, h.host[1].uri,
            (unsigned long long)reserved_mib, work, "AB"[m]);
    if (fclose(f) != 0)
        bail_out("cannot write %s", conf[m]);
}

/* host 2's memory total, as its agent reports it */
static uint64_t host2_total_mib(void)
{
    virConnectPtr c = virConnectOpen(h.host[1].uri);
    virNodeInfo ni;

    if (!c || virNodeGetInfo(c, &ni) < 0)
        bail_out("host 2: %s", virGetLastErrorMessage());
    virConnectClose(c);
    return (uint64_t)ni.memory / 1024;
}

/* ---------------------------------------------------------------- processes */

/* `drover -c CONF(m) ARGS...` (tests/harness/drover_run.h), output in
 * work/TAG.{out,err}. */
static void spawn(dv_drun *r, int m, const char *tag, const char *const *args)
{
    if (dv_drun_spawn(r, drover_bin, conf[m], work, tag, args) < 0)
        bail_out("fork: %s", strerror(errno));
}

/* Wait for it; one that hangs past 90 s is killed (and fails its checks). */
static int finish(dv_drun *r)
{
    int rc = dv_drun_finish(r, 90);

    if (rc < 0)
        bail_out("waitpid: %s", strerror(errno));
    return rc;
}

static int drover(dv_drun *r, int m, const char *const *args)
{
    spawn(r, m, "drover", args);
    return finish(r);
}

/* droverd for host k, started from machine m's config, on the host's own
 * libvirt; it dies with the test.  Waits for its first heartbeat. */
static pid_t start_agent(int m, int k)
{
    char log[256];
    const char *const args[] = { "-c", conf[m], "--host", h.host[k].name, "--libvirt-uri",
                                 h.host[k].uri, "--migration-uri", h.host[k].p2p_uri,
                                 "--log-level", "info", NULL };
    pid_t pid;

    snprintf(log, sizeof log, "%s/agent%d.log", work, k + 1);
    if ((pid = dv_drun_agent(args, log, 60000)) < 0)
        bail_out("droverd for host %d did not start publishing", k + 1);
    return pid;
}

/* Until machine m's scheduler sees both guests on host 1 and host 2 UP. */
static void wait_placeable(int m)
{
    const char *args[] = { "schedule", "g1", NULL };
    int64_t t0 = dv_mono_ms();
    dv_drun r;

    for (;;) {
        int rc = drover(&r, m, args);
        if (rc == 0 || dv_mono_ms() - t0 > 60000) {
            if (rc != 0)
                bail_out("machine %c: g1 cannot be placed after 60 s: %s", "AB"[m], r.stderr_text);
            dv_drun_free(&r);
            break;
        }
        dv_drun_free(&r);
        dv_sleep_ms(500);
    }
    diag("machine %c: g1 placeable after %lld ms", "AB"[m], (long long)(dv_mono_ms() - t0));
}

static int64_t jint(const char *text, const char *key)
{
    json_object *o = json_tokener_parse(text), *v;
    int64_t x = -1;

    if (o && json_object_object_get_ex(o, key, &v))
        x = json_object_get_int64(v);
    json_object_put(o);
    return x;
}

/* ---------------------------------------------------------------- admin state */

static void test_disable_seen(void)
{
    const char *h2 = h.host[1].name;
    const char *disable[] = { "service", "disable", h2, "--reason", "PSU swap, typed on A", NULL };
    const char *enable[] = { "service", "enable", h2, NULL };
    const char *sched[] = { "schedule", "g1", NULL };
    const char *explain[] = { "schedule", "g1", "--explain", NULL };
    const char *named[] = { "schedule", "g1", "--to", h2, NULL };
    dv_drun r;

    is_int(drover(&r, 0, disable), 0, "A: service disable %s", h2);
    dv_drun_free(&r);
    is_int(drover(&r, 1, sched), 1, "B: schedule g1 is refused (its only destination is disabled)");
    has_str(r.stderr_text, "compute 1", "B: the compute filter removed it");
    dv_drun_free(&r);
    is_int(drover(&r, 1, named), 1, "B: schedule g1 --to %s is refused", h2);
    has_str(r.stderr_text, "disabled", "B: the refusal says disabled");
    has_str(r.stderr_text, "PSU swap, typed on A", "B: with the reason typed on A");
    diag("B says: %s", r.stderr_text ? r.stderr_text : "");
    dv_drun_free(&r);
    drover(&r, 1, explain);
    has_str(r.stdout_text, "PSU swap, typed on A", "B: --explain names the reason on %s", h2);
    dv_drun_free(&r);

    is_int(drover(&r, 1, enable), 0, "B: service enable %s", h2);
    dv_drun_free(&r);
    is_int(drover(&r, 0, sched), 0, "A: schedule g1 finds a destination again");
    has_str(r.stdout_text, h2, "A: it is %s", h2);
    dv_drun_free(&r);
}

/* ---------------------------------------------------------------- claims */

/* The store's unexpired claims, as machine m's config reaches them. */
static size_t claims_seen(int m, dv_store_claim **c)
{
    dv_config *cfg;
    dv_store *st;
    drover_error err;
    size_t n = 0;

    if (dv_config_load(conf[m], &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0)
        bail_out("machine %c: %s", "AB"[m], err.message);
    if (dv_store_claim_list(st, NULL, c, &n, &err) < 0)
        bail_out("machine %c: claims: %s", "AB"[m], err.message);
    dv_store_close(st);
    dv_config_free(cfg);
    return n;
}

static void release(int64_t id)
{
    dv_config *cfg;
    dv_store *st;
    drover_error err;

    if (dv_config_load(conf[0], &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0 ||
        dv_store_claim_release(st, h.host[1].name, id, NULL, &err) < 0)
        bail_out("release: %s", err.message);
    dv_store_close(st);
    dv_config_free(cfg);
}

static void test_claim_race(void)
{
    int one_winner = 0, wins_total = 0, one_claim = 0, races = 0;

    for (int round = 0; round < ROUNDS; round++) {
        const char *a[] = { "--json", "schedule", "g1", "--claim", NULL };
        const char *b[] = { "--json", "schedule", "g2", "--claim", NULL };
        dv_store_claim *ca = NULL, *cb = NULL;
        size_t na, nb;
        int64_t id = 0;
        int wins = 0;
        dv_drun r[2];

        spawn(&r[0], 0, "ra", a);
        spawn(&r[1], 1, "rb", b);
        finish(&r[0]);
        finish(&r[1]);
        for (int i = 0; i < 2; i++) {
            if (r[i].status == 0) {
                wins++;
                id = jint(r[i].stdout_text, "claim_id");
            } else if (r[i].status == 1) {
                races += strstr(r[i].stderr_text, "(claim: host") != NULL;
            } else {
                diag("round %d, machine %c: exit %d: %s", round, "AB"[i], r[i].status,
                     r[i].stderr_text);
            }
            dv_drun_free(&r[i]);
        }
        na = claims_seen(0, &ca);
        nb = claims_seen(1, &cb);
        one_winner += wins == 1;
        wins_total += wins;
        one_claim += na == 1 && nb == 1 && ca[0].id == cb[0].id &&
                     strcmp(ca[0].host, h.host[1].name) == 0 && (wins != 1 || ca[0].id == id);
        if (na != 1 || nb != 1)
            diag("round %d: A sees %zu claims, B %zu", round, na, nb);
        for (size_t i = 0; i < na; i++)
            release(ca[i].id);
        dv_store_claims_free(ca, na);
        dv_store_claims_free(cb, nb);
    }
    is_int(one_winner, ROUNDS, "claims: exactly one of the two machines' schedulers won in each of"
           " %d rounds", ROUNDS);
    is_int(wins_total, ROUNDS, "claims: never two claims on a host with room for one");
    is_int(one_claim, ROUNDS, "claims: each round the store held that one claim, on %s, alike"
           " from A and from B", h.host[1].name);
    diag("the loser lost the claim race itself in %d of %d rounds (else the winner's claim was "
         "already in its host states)", races, ROUNDS);
}

int main(void)
{
    virConnectPtr c1;
    virDomainPtr g1, g2;
    pid_t agents[2];
    lvh_beat b;

    if (dv_drun_bin(drover_bin, sizeof drover_bin, "drover") < 0)
        bail_out("%s is not built", drover_bin);
    if (dv_zk_start(&zk, 3) < 0)
        bail_out("cannot start a ZooKeeper ensemble of three");
    if (lvh_start(&h, 2) < 0)
        bail_out("the libvirt hosts did not start");
    snprintf(work, sizeof work, "%s/two", h.dir);
    if (mkdir(work, 0700) < 0)
        bail_out("mkdir %s: %s", work, strerror(errno));
    for (int m = 0; m < 2; m++)
        write_config(m, host2_total_mib() - (GUEST_MIB + 32));
    if (!(c1 = virConnectOpen(h.host[0].uri)))
        bail_out("host 1: %s", virGetLastErrorMessage());
    if (!(g1 = lvh_guest_start(&h, c1, "g1", GUEST_MIB, "wss=0 fill=0 hz=100")) ||
        !(g2 = lvh_guest_start(&h, c1, "g2", GUEST_MIB, "wss=0 fill=0 hz=100")))
        bail_out("the guests did not start: %s", virGetLastErrorMessage());
    if (lvh_beat_wait_running(g1, 30000, &b) < 0)
        bail_out("g1 did not come up");
    agents[0] = start_agent(0, 0);
    agents[1] = start_agent(1, 1);
    wait_placeable(0);
    wait_placeable(1);

    test_disable_seen();
    test_claim_race();

    for (int k = 0; k < 2; k++)
        zkt_reap(agents[k], SIGTERM);
    virDomainFree(g1);
    virDomainFree(g2);
    virConnectClose(c1);
    ok(lvh_stop(&h) == 0, "the libvirt hosts stopped");
    dv_zk_stop(&zk);
    return done_testing();
}
