/* test_sched_libvirt.c - the scheduler against real libvirtd hosts (the
 * project's harness, tests/harness/lvhosts.*) with real TCG guests:
 *
 *  - the live checks: a CPU naming a feature the destination's qemu cannot
 *    provide is refused, with libvirt's reason; a compatible one (and the
 *    running guest's own) passes; a host already defining the guest fails;
 *    a hung libvirtd (SIGSTOP) is given up after the timeout;
 *  - `drover schedule` end to end: reports published into a db-driver file,
 *    the guest running on host 1 is placed on host 2, a question only
 *    (nothing claimed) unless --claim, then claimed there; --explain,
 *    --json, --to the source, an unknown instance;
 *  - concurrency: two `drover schedule` processes at once, for two guests,
 *    against a host with room for one: exactly one wins, round after round
 *    (real SQLite claims in the state db).
 */
#include "core/clock.h"
#include "core/config.h"
#include "core/report.h"
#include "core/statedb.h"
#include "virt/virt.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "tests/harness/drover_run.h"
#include "tests/harness/lvhosts.h"
#include "tests/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MIB 64
#define ROUNDS 6

static lvh h;
static char work[128], conf_path[192], drover_bin[512];
static virConnectPtr conn[2];

/* ---------------------------------------------------------------- reports */

/* Host k's report, read from its own libvirt by the agent's code
 * (virt/hostfacts.c), as droverd publishes it; total_mib != 0 replaces the
 * memory total (to make a host "small"). */
static drover_report *report_of(int k, uint64_t total_mib)
{
    drover_report *r;
    drover_error err;
    dv_virt *v;

    if (dv_virt_open(h.host[k].uri, DV_VIRT_READONLY, 0, 0, &v, &err) < 0 ||
        dv_virt_read_report(v, h.host[k].name, h.host[k].p2p_uri, &r, &err) < 0)
        bail_out("host %d: %s", k + 1, err.message);
    dv_virt_close(v);
    if (total_mib)
        r->memory_total_mib = total_mib;
    return r;
}

/* Heartbeat both hosts with their reports into the db driver's file. */
static void publish(uint64_t host2_total_mib)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;

    if (dv_config_load(conf_path, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("publish: %s", err.message);
    for (int k = 0; k < 2; k++) {
        drover_report *r = report_of(k, k == 1 ? host2_total_mib : 0);
        char *json;
        if (dv_report_to_json(r, &json, &err) < 0 ||
            dv_sg_heartbeat(sg, "compute", h.host[k].name, json, &err) < 0)
            bail_out("publish host %d: %s", k + 1, err.message);
        free(json);
        drover_report_free(r);
    }
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static void write_config(void)
{
    FILE *f = fopen(conf_path, "w");
    if (!f)
        bail_out("cannot write %s: %s", conf_path, strerror(errno));
    fprintf(f,
            "servicegroup = { driver = \"db\"; report_interval = 10; service_down_time = 3600;\n"
            "  db = { path = \"%s/drover.db\"; }; };\n"
            "controller = { libvirt_uris = [ \"%s=%s\", \"%s=%s\" ]; libvirt_timeout_ms = 1000; };\n"
            "scheduler = { reserved_host_memory_mb = 512; };\n"
            "state = { path = \"%s/state.db\"; };\n",
            work, h.host[0].name, h.host[0].uri, h.host[1].name, h.host[1].uri, work);
    if (fclose(f) != 0)
        bail_out("cannot write %s", conf_path);
}

/* ---------------------------------------------------------------- running drover */

typedef dv_drun run;

/* Start `drover -c CONF ARGS...` (tests/harness/drover_run.h). */
static void spawn(run *r, const char *tag, const char *const *args)
{
    if (dv_drun_spawn(r, drover_bin, conf_path, work, tag, args) < 0)
        bail_out("fork: %s", strerror(errno));
}

/* Wait for it; one that hangs is killed after 60 s (and fails its checks). */
static int finish(run *r)
{
    if (dv_drun_finish(r, 60) < 0)
        bail_out("waitpid: %s", strerror(errno));
    return r->status;
}

static int drover(run *r, const char *const *args)
{
    spawn(r, "drover", args);
    return finish(r);
}

static json_object *parse_json(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o)
        diag("not JSON: %s", text);
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static void release_all_claims(const int64_t *ids, size_t n)
{
    char path[256];
    dv_statedb *db;
    drover_error err;

    snprintf(path, sizeof path, "%s/state.db", work);
    if (dv_statedb_open(path, 5000, &db, &err) < 0)
        bail_out("state db: %s", err.message);
    for (size_t i = 0; i < n; i++)
        if (ids[i] > 0 && dv_statedb_claim_release(db, ids[i], &err) < 0)
            bail_out("release: %s", err.message);
    dv_statedb_close(db);
}

/* MiB claimed on host now (unexpired claims in the state db). */
static long long claimed_on(const char *host)
{
    char path[256];
    dv_statedb *db;
    drover_error err;
    uint64_t mib = 0;

    snprintf(path, sizeof path, "%s/state.db", work);
    if (dv_statedb_open(path, 5000, &db, &err) < 0)
        bail_out("state db: %s", err.message);
    if (dv_statedb_claimed_mib(db, host, dv_wall_ms(), &mib, &err) < 0)
        bail_out("claimed: %s", err.message);
    dv_statedb_close(db);
    return (long long)mib;
}

/* ---------------------------------------------------------------- a hung libvirtd */

/* libvirtd of host k: the child of its tini. */
static pid_t libvirtd_pid(int k)
{
    char path[96];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)h.host[k].pid, (int)h.host[k].pid);
    if (!(f = fopen(path, "r")) || fscanf(f, "%ld", &pid) != 1 || pid <= 1)
        bail_out("cannot find host %d's libvirtd under %s", k + 1, path);
    fclose(f);
    return (pid_t)pid;
}

static void freeze(int k, bool on)
{
    if (kill(libvirtd_pid(k), on ? SIGSTOP : SIGCONT) < 0)
        bail_out("kill: %s", strerror(errno));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- live checks */

static void test_live_checks(virDomainPtr g1)
{
    drover_report *src_rep = report_of(0, 0), *dst_rep = report_of(1, 0);
    const char *map[2];
    char m0[256], m1[256], uuid[VIR_UUID_STRING_BUFLEN], why[DV_REASON_MAX];
    dv_host_state src = { .host = h.host[0].name, .arch = src_rep->arch, .has_report = true,
                          .report = src_rep };
    dv_host_state dst = { .host = h.host[1].name, .arch = dst_rep->arch, .has_report = true,
                          .report = dst_rep };
    dv_sched_params p = { .ram_allocation_ratio = 1.0 };
    dv_sched_request r = { .instance_name = "g1", .memory_mib = GUEST_MIB, .source = &src,
                           .params = &p };
    dv_live_libvirt_opts o = { 0 };
    dv_live_check *lc;
    drover_error err;

    virDomainGetUUIDString(g1, uuid);
    r.instance_uuid = uuid;
    snprintf(m0, sizeof m0, "%s=%s", h.host[0].name, h.host[0].uri);
    snprintf(m1, sizeof m1, "%s=%s", h.host[1].name, h.host[1].uri);
    map[0] = m0;
    map[1] = m1;
    o.uris.map = map;
    o.uris.n_map = 2;

    /* the running guest's own CPU (qemu64 under TCG) */
    if (dv_live_libvirt_new(&o, &lc, &err) < 0)
        bail_out("live: %s", err.message);
    if (!ok(lc->prepare(lc, &r, &err) == 0, "live: the source's libvirt describes g1"))
        diag("%s", err.message);
    why[0] = '\0';
    if (lc->check(lc, &dst, &r, why, sizeof why) != 0)
        diag("why: %s", why);
    ok(why[0] == '\0', "live: host 2 can run g1's own CPU");
    is_int(lc->check(lc, &src, &r, why, sizeof why), 1, "live: host 1 already defines g1");
    has_str(why, "already defined", "live: the reason says so");
    dv_live_libvirt_free(lc);

    /* a CPU naming a feature TCG cannot provide */
    o.cpu_xml = "<cpu mode='custom' match='exact'><model>qemu64</model>"
                "<feature policy='require' name='avx512f'/></cpu>";
    if (dv_live_libvirt_new(&o, &lc, &err) < 0 || lc->prepare(lc, &r, &err) < 0)
        bail_out("live: %s", err.message);
    is_int(lc->check(lc, &dst, &r, why, sizeof why), 1, "live: a CPU requiring avx512f is refused");
    has_str(why, "live: CPU:", "live: the reason is the CPU");
    has_str(why, "avx512f", "live: libvirt's reason names the missing feature");
    has_str(why, "virt type qemu", "live: compared under the guest's domain type (qemu = TCG)");
    diag("%s", why);
    dv_live_libvirt_free(lc);

    /* a compatible explicit CPU */
    o.cpu_xml = "<cpu mode='custom' match='exact'><model>qemu64</model></cpu>";
    if (dv_live_libvirt_new(&o, &lc, &err) < 0 || lc->prepare(lc, &r, &err) < 0)
        bail_out("live: %s", err.message);
    is_int(lc->check(lc, &dst, &r, why, sizeof why), 0, "live: a plain qemu64 CPU passes");
    dv_live_libvirt_free(lc);

    /* the source host's CPU as its capabilities say: TCG cannot emulate all of it */
    o.cpu_xml = src_rep->cpu_xml;
    if (dv_live_libvirt_new(&o, &lc, &err) < 0 || lc->prepare(lc, &r, &err) < 0)
        bail_out("live: %s", err.message);
    diag("the host CPU of capabilities on a TCG destination: %s",
         lc->check(lc, &dst, &r, why, sizeof why) ? why : "compatible");
    dv_live_libvirt_free(lc);

    /* a destination whose libvirt cannot be reached */
    o.cpu_xml = NULL;
    snprintf(m1, sizeof m1, "%s=qemu+unix:///system?socket=%s/nowhere.sock", h.host[1].name, work);
    if (dv_live_libvirt_new(&o, &lc, &err) < 0 || lc->prepare(lc, &r, &err) < 0)
        bail_out("live: %s", err.message);
    is_int(lc->check(lc, &dst, &r, why, sizeof why), 1, "live: an unreachable destination fails");
    has_str(why, "cannot reach", "live: the reason says it cannot be reached");

    /* an instance not on its source */
    r.instance_uuid = "00000000-0000-4000-8000-000000000000";
    ok(lc->prepare(lc, &r, &err) < 0, "live: an instance gone from its source fails prepare");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "live: ... not found");
    has_str(err.message, "is not on its source host", "live: ... says so");
    dv_live_libvirt_free(lc);
    r.instance_uuid = uuid;

    /* a hung destination libvirtd is given up after the timeout; a hung
     * source fails the request */
    snprintf(m1, sizeof m1, "%s=%s", h.host[1].name, h.host[1].uri);
    o.timeout_ms = 800;
    if (dv_live_libvirt_new(&o, &lc, &err) < 0 || lc->prepare(lc, &r, &err) < 0)
        bail_out("live: %s", err.message);
    freeze(1, true);
    {
        double t0 = now_s(), took;
        int rc = lc->check(lc, &dst, &r, why, sizeof why);
        took = now_s() - t0;
        freeze(1, false);
        is_int(rc, 1, "live: a stopped (SIGSTOP) destination libvirtd fails its check");
        has_str(why, "gave no answer in 800 ms", "live: ... saying it gave no answer");
        ok(took >= 0.75 && took < 3.0, "live: ... after the timeout (%.2f s)", took);
    }
    why[0] = '\0';
    is_int(lc->check(lc, &dst, &r, why, sizeof why), 0, "live: once it runs again, it passes");
    if (why[0])
        diag("%s", why);
    freeze(0, true);
    ok(lc->prepare(lc, &r, &err) < 0, "live: a stopped source libvirtd fails prepare");
    freeze(0, false);
    is_int(err.code, DROVER_ERR_LIBVIRT, "live: ... a libvirt error");
    has_str(err.message, "gave no answer in 800 ms", "live: ... saying it gave no answer");
    dv_live_libvirt_free(lc);
    usleep(300000);   /* the abandoned workers finish once their daemons run again */
    drover_report_free(src_rep);
    drover_report_free(dst_rep);
}

/* ---------------------------------------------------------------- drover schedule */

static void test_schedule_cli(void)
{
    run r;
    json_object *o;
    int64_t claim;

    publish(0);
    {
        const char *args[] = { "schedule", "g1", NULL };
        is_int(drover(&r, args), 0, "schedule g1 (a question): exit 0");
        has_str(r.stdout_text, h.host[1].name, "schedule g1: host 2 is the destination");
        has_str(r.stdout_text, "claim:       none", "schedule g1: says nothing was claimed");
        is_int(claimed_on(h.host[1].name), 0, "schedule g1: no memory is claimed on host 2");
        dv_drun_diag_text("drover schedule g1:", r.stdout_text);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "--json", "schedule", "g1", NULL };
        is_int(drover(&r, args), 0, "schedule --json g1 (a question): exit 0");
        o = parse_json(r.stdout_text);
        is_str(jstr(o, "destination"), h.host[1].name, "json question: destination is host 2");
        is_int(jint(o, "claim_id"), 0, "json question: claim_id is null");
        json_object_put(o);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "g1", "--claim", NULL };
        double t0 = now_s();
        is_int(drover(&r, args), 0, "schedule g1 --claim: exit 0");
        diag("drover schedule g1 --claim took %.0f ms (config, get_all, claims, the source's "
             "and the destination's libvirt, the claim)", (now_s() - t0) * 1e3);
        has_str(r.stdout_text, h.host[1].name, "schedule --claim: host 2 is the destination");
        has_str(r.stdout_text, "MiB held on", "schedule --claim: the claim is shown");
        is_int(claimed_on(h.host[1].name), GUEST_MIB, "schedule --claim: the guest's memory is "
               "claimed on host 2");
        dv_drun_diag_text("drover schedule g1 --claim:", r.stdout_text);
        if (r.status)
            diag("stderr: %s", r.stderr_text);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "--json", "schedule", "g1", "--explain", "--claim", NULL };
        is_int(drover(&r, args), 0, "schedule --json --explain --claim: exit 0");
        o = parse_json(r.stdout_text);
        is_str(jstr(o, "destination"), h.host[1].name, "json: destination is host 2");
        is_str(jstr(o, "source"), h.host[0].name, "json: source is host 1");
        claim = jint(o, "claim_id");
        ok(claim > 0, "json: a claim id");
        has_str(r.stdout_text, "\"verdict\": \"chosen\"", "json: the verdicts are there");
        has_str(r.stdout_text, "different_host: this is the source host", "json: the source's reason");
        json_object_put(o);
        release_all_claims(&claim, 1);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "--explain", "g1", NULL };
        is_int(drover(&r, args), 0, "schedule --explain: exit 0");
        has_str(r.stdout_text, "VERDICT", "explain: a table");
        has_str(r.stdout_text, "chosen", "explain: the chosen host");
        has_str(r.stdout_text, "filtered", "explain: the filtered source");
        dv_drun_diag_text("drover schedule --explain g1:", r.stdout_text);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "g1", "--to", h.host[0].name, NULL };
        is_int(drover(&r, args), 1, "schedule --to the source: exit 1");
        has_str(r.stderr_text, "is the source host", "--to the source: says so");
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "g1", "--ignore", h.host[1].name, NULL };
        is_int(drover(&r, args), 1, "schedule --ignore host 2: no valid host, exit 1");
        has_str(r.stderr_text, "no valid host for instance g1", "--ignore: no valid host");
        has_str(r.stderr_text, "different_host 2", "--ignore: what the filter removed");
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "g1", NULL };
        double t0;
        freeze(1, true);
        t0 = now_s();
        is_int(drover(&r, args), 1, "schedule with host 2's libvirtd stopped: exit 1");
        freeze(1, false);
        has_str(r.stderr_text, "gave no answer in 1000 ms", "... host 2 gave no answer");
        has_str(r.stderr_text, "1 failed the live checks", "... counted as a live-check failure");
        /* no timing claim: only that it returned on its own, long before 60 s */
        ok(now_s() - t0 < 30.0, "... and drover did not hang (%.2f s)", now_s() - t0);
        dv_drun_free(&r);
    }
    {
        const char *args[] = { "schedule", "nosuchguest", NULL };
        is_int(drover(&r, args), 1, "schedule of an unknown instance: exit 1");
        has_str(r.stderr_text, "no host reports an instance named nosuchguest", "unknown: says so");
        dv_drun_free(&r);
    }
}

/* Two schedulers at once, two guests, room for one on the only destination. */
static void test_concurrency(void)
{
    int wins_total = 0, races = 0, both_ok = 0;

    /* no claims left from the tests before; host 2: 512 reserved + 96 MiB
     * usable: one 64 MiB guest fits, two do not */
    for (int i = 0; i < 3; i++) {
        static const char *const suffix[] = { "", "-wal", "-shm" };
        char path[256];
        snprintf(path, sizeof path, "%s/state.db%s", work, suffix[i]);
        unlink(path);
    }
    publish(512 + GUEST_MIB + 32);
    for (int round = 0; round < ROUNDS; round++) {
        const char *a1[] = { "--json", "schedule", "g1", "--claim", NULL };
        const char *a2[] = { "--json", "schedule", "g2", "--claim", NULL };
        run r1, r2;
        int64_t ids[2] = { 0, 0 };
        int wins = 0;
        json_object *o;

        spawn(&r1, "c1", a1);
        spawn(&r2, "c2", a2);
        finish(&r1);
        finish(&r2);
        for (int i = 0; i < 2; i++) {
            run *r = i ? &r2 : &r1;
            if (r->status == 0) {
                wins++;
                o = parse_json(r->stdout_text);
                ids[i] = jint(o, "claim_id");
                json_object_put(o);
            } else if (r->status == 1) {
                if (strstr(r->stderr_text, "(claim: host"))
                    races++;
                if (!strstr(r->stderr_text, "no valid host"))
                    diag("round %d: loser's message: %s", round, r->stderr_text);
            } else {
                diag("round %d: exit %d: %s", round, r->status, r->stderr_text);
            }
        }
        if (wins == 1)
            both_ok++;
        wins_total += wins;
        release_all_claims(ids, 2);
        dv_drun_free(&r1);
        dv_drun_free(&r2);
    }
    is_int(both_ok, ROUNDS, "concurrency: exactly one of two schedulers won in each of %d rounds",
           ROUNDS);
    is_int(wins_total, ROUNDS, "concurrency: never two claims on a host with room for one");
    diag("the loser lost the claim race itself in %d of %d rounds (else the winner's claim was "
         "already visible to its filters)", races, ROUNDS);
}

int main(void)
{
    virDomainPtr g1, g2;
    lvh_beat b;

    if (dv_drun_bin(drover_bin, sizeof drover_bin, "drover") < 0)
        bail_out("%s is not built", drover_bin);
    if (lvh_start(&h, 2) < 0)
        bail_out("the libvirt hosts did not start");
    diag("hosts %s and %s ready in %ld ms", h.host[0].name, h.host[1].name, h.start_ms);
    snprintf(work, sizeof work, "%s/sched", h.dir);
    if (mkdir(work, 0700) < 0)
        bail_out("mkdir %s: %s", work, strerror(errno));
    snprintf(conf_path, sizeof conf_path, "%s/drover.conf", work);
    write_config();
    for (int k = 0; k < 2; k++)
        if (!(conn[k] = virConnectOpen(h.host[k].uri)))
            bail_out("host %d: %s", k + 1, virGetLastErrorMessage());
    if (!(g1 = lvh_guest_start(&h, conn[0], "g1", GUEST_MIB, "wss=0 fill=0 hz=100")) ||
        !(g2 = lvh_guest_start(&h, conn[0], "g2", GUEST_MIB, "wss=0 fill=0 hz=100")))
        bail_out("the guests did not start: %s", virGetLastErrorMessage());
    if (lvh_beat_wait_running(g1, 20000, &b) < 0)
        bail_out("g1 did not come up");

    test_live_checks(g1);
    test_schedule_cli();
    test_concurrency();

    virDomainFree(g1);
    virDomainFree(g2);
    for (int k = 0; k < 2; k++)
        virConnectClose(conn[k]);
    ok(lvh_stop(&h) == 0, "the libvirt hosts stopped");
    return done_testing();
}
