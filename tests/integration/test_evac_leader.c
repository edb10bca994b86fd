/* test_evac_leader - two droverd --controller on one state store (sqlite),
 * three real libvirt hosts with real droverd agents:
 *  - only the holder of the "evacuator" lease acts: every journal step of
 *    an evacuation carries its epoch, the other's metrics say it does not
 *    lead, `drover evacuation status` names the leader;
 *  - the leader SIGKILLed mid-evacuation (inside a fence command that
 *    sleeps) -> the other takes the lease once it lapses and finishes the
 *    evacuation; each guest is rebuilt once (the journal), and sampling
 *    every 100 ms across all hosts, no UUID ever runs twice;
 *  - the leader SIGSTOPped right after its fence was confirmed (in the
 *    rebuild), kept stopped past its lease while the other finishes, then
 *    SIGCONTed -> its writes are refused (stale epoch), it steps down (its
 *    leader gauge 0) and the journal has no write at its epoch after the
 *    new leader's; still no UUID ever runs twice;
 *  - a sweeper at a stale epoch (its lease since taken at a later one)
 *    that finds an open, fenced evacuation starts no guest: it checks the
 *    lease before each start, since libvirt cannot check an epoch. */
#include "tests/integration/evactest.h"
#include "core/log.h"
#include "evacuator/sweep.h"
#include "tests/harness/drover_run.h"
#include "virt/virt.h"

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#define N_GUESTS 3

static char uuid[N_GUESTS][40];
static const char *const names[N_GUESTS] = { "ld1", "ld2", "ld3" };
static char conf_b[192], drover_bin[512];
static int port_a, port_b;

/* ---------------------------------------------------------------- controllers */

/* A second configuration, the same but for the metrics port (one
 * listener per process). */
static void write_conf_b(void)
{
    char save_conf[sizeof et_conf];
    int save_port = et_port;

    snprintf(save_conf, sizeof save_conf, "%s", et_conf);
    snprintf(conf_b, sizeof conf_b, "%s/drover-b.conf", et_work);
    snprintf(et_conf, sizeof et_conf, "%s", conf_b);
    et_port = port_b;
    et_write_config(NULL);
    snprintf(et_conf, sizeof et_conf, "%s", save_conf);
    et_port = save_port;
}

static pid_t ctl_start(const char *tag, const char *conf)
{
    char *argv[] = { et_droverd, (char *)"-c", (char *)conf, (char *)"--controller", NULL };
    return et_spawn(tag, argv);
}

/* A metric of the controller on port; -1 when it does not answer. */
static double metric(int port, const char *series)
{
    int save = et_port;
    char *t;
    double v;

    et_port = port;
    t = et_scrape();
    et_port = save;
    v = et_metric(t, series);
    free(t);
    return v;
}

static bool leads(int port)
{
    return metric(port, "drover_evacuator_leader") == 1;
}

static bool follows(int port)
{
    return metric(port, "drover_evacuator_leader") == 0;
}

static int64_t epoch_of(int port)
{
    return (int64_t)metric(port, "drover_evacuator_lease_epoch");
}

/* `drover evacuation status --json`: the lease holder and the leader of
 * the last sweep (malloc'd, "" when none). */
static void status(char **holder, char **swept_by, int64_t *swept_epoch)
{
    const char *args[] = { "evacuation", "status", "--json", NULL };
    json_object *o, *x, *s;
    dv_drun r;

    *swept_epoch = 0;
    if (dv_drun_spawn(&r, drover_bin, et_conf, et_work, "status", args) < 0)
        bail_out("cannot run %s", drover_bin);
    dv_drun_finish(&r, 60);
    o = r.status == 0 ? json_tokener_parse(r.stdout_text) : NULL;
    if (!o)
        dv_drun_diag_text("drover evacuation status failed:", r.stderr_text);
    *holder = strdup(o && json_object_object_get_ex(o, "lease_holder", &x)
                         ? json_object_get_string(x) : "");
    s = o && json_object_object_get_ex(o, "last_sweep", &x) ? x : NULL;
    *swept_by = strdup(s && json_object_object_get_ex(s, "leader", &x)
                           ? json_object_get_string(x) : "");
    if (s && json_object_object_get_ex(s, "epoch", &x))
        *swept_epoch = json_object_get_int64(x);
    json_object_put(o);
    dv_drun_free(&r);
}

/* Whether a holder string ("HOST:PID") is the process pid. */
static bool is_pid(const char *holder, pid_t pid)
{
    const char *c = strrchr(holder, ':');
    return c && atol(c + 1) == (long)pid;
}

static bool status_names(pid_t pid, int64_t epoch)
{
    char *holder, *by;
    int64_t e;
    bool r;

    status(&holder, &by, &e);
    r = is_pid(holder, pid) && is_pid(by, pid) && e == epoch;
    if (!r)
        diag("status: lease held by \"%s\", last sweep by \"%s\" at epoch %lld", holder, by,
             (long long)e);
    free(holder);
    free(by);
    return r;
}

/* ---------------------------------------------------------------- journal facts */

/* Steps of e at an epoch other than the two given (0: none). */
static size_t steps_not_at(const dv_evac *e, int64_t a, int64_t b)
{
    size_t c = 0;
    for (size_t i = 0; i < e->n_steps; i++)
        c += e->steps[i].epoch != a && e->steps[i].epoch != b;
    return c;
}

static bool step_at(const dv_evac *e, const char *step, int64_t epoch)
{
    for (size_t i = 0; i < e->n_steps; i++)
        if (strcmp(e->steps[i].step, step) == 0 && e->steps[i].epoch == epoch)
            return true;
    return false;
}

/* Steps of e saying guest u was started (rebuilt) or found running. */
static int starts_of(const dv_evac *e, const char *u)
{
    int c = 0;
    for (size_t i = 0; i < e->n_steps; i++)
        c += (strcmp(e->steps[i].step, "rebuilt") == 0 ||
              strcmp(e->steps[i].step, "running") == 0) &&
             strstr(e->steps[i].msg, u) != NULL;
    return c;
}

/* A step at old after the first one at new. */
static bool old_after_new(const dv_evac *e, int64_t old, int64_t new)
{
    bool seen_new = false;
    for (size_t i = 0; i < e->n_steps; i++) {
        if (e->steps[i].epoch == new)
            seen_new = true;
        else if (seen_new && e->steps[i].epoch == old)
            return true;
    }
    return false;
}

static void diag_steps(const dv_evac *e)
{
    for (size_t i = 0; i < e->n_steps; i++)
        diag("  epoch %lld %-12s %s", (long long)e->steps[i].epoch, e->steps[i].step,
             e->steps[i].msg);
}

/* An operator brings a fenced host back: up first, then enabled.  (Enabled
 * while still forced down, it is a DOWN host with no evacuation open: the
 * evacuator starts a new one.) */
static void enable(int k)
{
    et_admin(k, -1, false);
    if (!ET_WAIT(30000, et_up(k, 0)))
        diag("host %d is not UP 30 s after its force-down was lifted", k + 1);
    et_admin(k, false, -1);
}

static void diag_members(void)
{
    for (int k = 0; k < 3; k++) {
        drover_member m;
        if (et_member_try(k, &m) < 0) {
            diag("host %d: not a member", k + 1);
            continue;
        }
        diag("host %d: %s, report %s, disabled %d (%s), forced down %d", k + 1,
             drover_liveness_name(m.state), m.report ? "yes" : "no", m.disabled,
             m.disabled_reason ? m.disabled_reason : "", m.forced_down);
        drover_member_clear(&m);
    }
}

static void fence_sleep(int s)
{
    char t[16];
    snprintf(t, sizeof t, "%d\n", s);
    et_write_file("fence_sleep", t, 0600);
}

/* fence.sh: marks its start, sleeps fence_sleep seconds, then as evactest's. */
static void write_fence(void)
{
    char script[1024];
    snprintf(script, sizeof script,
             "#!/bin/sh\necho \"$1 $(date +%%s%%N)\" >> %s/fence_started.log\n"
             "sleep $(cat %s/fence_sleep 2>/dev/null || echo 0)\n"
             "echo \"$1 $(date +%%s%%N)\" >> %s/fenced.log\n"
             "exit $(cat %s/fence_rc 2>/dev/null || echo 0)\n",
             et_work, et_work, et_work, et_work);
    et_write_file("fence.sh", script, 0700);
    fence_sleep(0);
}

static bool fence_started(int k)
{
    char *t = et_slurp("fence_started.log");
    bool r = strstr(t, et_h.host[k].name) != NULL;
    free(t);
    return r;
}

/* Wait (polling every 20 ms) until the journal of host k has step. */
static bool wait_step_fast(int k, const char *step, int ms)
{
    int64_t end = dv_mono_ms() + ms;
    while (dv_mono_ms() < end) {
        if (et_journal_has(k, step))
            return true;
        usleep(20000);
    }
    return false;
}

/* ---------------------------------------------------------------- phases */

static pid_t ctl_a, ctl_b;
static int64_t epoch_a, epoch_b;

static void test_only_leader(void)
{
    ctl_a = ctl_start("ctl-a", et_conf);
    ok(ET_WAIT(30000, leads(port_a)), "controller A leads");
    epoch_a = epoch_of(port_a);
    ok(epoch_a >= 1, "at epoch %lld", (long long)epoch_a);
    ctl_b = ctl_start("ctl-b", conf_b);
    ok(ET_WAIT(30000, follows(port_b)), "controller B serves its metrics and does not lead");
    sleep(3);                      /* several sweeps of both */
    ok(follows(port_b) && leads(port_a), "after 3 s: still A leads, B watches");
    is_int(metric(port_b, "drover_evacuator_sweeps_total{result=\"ok\"}") > 0 ? 1 : 0, 0,
           "B has not swept");
    ok(ET_WAIT(10000, status_names(ctl_a, epoch_a)),
       "drover evacuation status: A holds the lease and made the last sweep at its epoch");
}

static void test_kill_leader(void)
{
    dv_evac *v, *e;
    size_t n;

    fence_sleep(4);
    et_reap(&et_agent[0], SIGKILL);
    is_int(lvh_daemon(&et_h, 1, "poweroff"), 0, "host 1 powered off (the fence sleeps 4 s)");
    ok(ET_WAIT(60000, fence_started(0)), "A runs the fence command for host 1");
    et_journal(&v, &n);
    e = et_latest(v, n, 0);
    ok(e && !e->fenced && !e->done, "the evacuation of host 1 is open, not fenced yet");
    ok(e && et_journal_has(0, "disabled") && steps_not_at(e, epoch_a, epoch_a) == 0,
       "its steps so far (detected, gated, disabled) are at A's epoch only");
    dv_evacs_free(v, n);
    et_reap(&ctl_a, SIGKILL);
    ok(1, "A SIGKILLed inside the fence");
    fence_sleep(1);
    ok(ET_WAIT(60000, leads(port_b)), "B takes the lease once A's lapses");
    epoch_b = epoch_of(port_b);
    ok(epoch_b > epoch_a, "at a greater epoch (%lld > %lld)", (long long)epoch_b,
       (long long)epoch_a);
    ok(ET_WAIT(90000, et_evac_done(0)), "B finishes the evacuation of host 1");
    ok(ET_WAIT(30000, et_runs_once_not_on(uuid[0], 0) && et_runs_once_not_on(uuid[1], 0)),
       "ld1 and ld2 run again, each on one other host");
    et_journal(&v, &n);
    e = et_latest(v, n, 0);
    ok(e != NULL, "the journal has it");
    if (e) {
        diag_steps(e);
        is_str(e->state, "rebuilt", "its state: rebuilt");
        ok(e->fenced, "after a confirmed fence");
        is_int(e->epoch, epoch_b, "its last write is at B's epoch");
        is_int((long long)steps_not_at(e, epoch_a, epoch_b), 0, "every step at A's or B's epoch");
        ok(step_at(e, "fenced", epoch_b), "B fenced host 1 again (the fence is idempotent)");
        is_int(starts_of(e, uuid[0]), 1, "ld1 rebuilt once in the journal");
        is_int(starts_of(e, uuid[1]), 1, "ld2 rebuilt once in the journal");
    }
    dv_evacs_free(v, n);
    ok(ET_WAIT(10000, status_names(ctl_b, epoch_b)),
       "drover evacuation status names B at its epoch");
}

static void test_host1_back(void)
{
    is_int(lvh_daemon(&et_h, 1, "start"), 0, "host 1's libvirtd starts again");
    et_agent_start(0);
    ok(ET_WAIT(30000, !et_defined_on(0, uuid[0]) && !et_defined_on(0, uuid[1])),
       "its stale copies are removed");
    enable(0);
    if (!ok(ET_WAIT(60000, et_all_up(ET_REPORT | ET_ENABLED)),
            "host 1 is UP again once an operator enables it"))
        diag_members();
    ctl_a = ctl_start("ctl-a2", et_conf);
    ok(ET_WAIT(30000, follows(port_a)), "a new controller A2 watches");
}

static void test_stop_leader(void)
{
    int on2[N_GUESTS], n2 = 0;
    int64_t epoch_a2;
    dv_evac *v, *e;
    size_t n;
    char *log;

    for (int g = 0; g < N_GUESTS; g++)
        if (et_host_of(uuid[g]) == 1)
            on2[n2++] = g;
    ok(n2 >= 1, "host 2 runs %d of the guests", n2);
    fence_sleep(0);
    et_reap(&et_agent[1], SIGKILL);
    is_int(lvh_daemon(&et_h, 2, "poweroff"), 0, "host 2 powered off");
    ok(wait_step_fast(1, "fenced", 60000), "B confirms the fence of host 2");
    kill(ctl_b, SIGSTOP);
    ok(1, "B SIGSTOPped in its rebuild");
    ok(ET_WAIT(60000, leads(port_a)), "A2 takes the lease once B's lapses");
    epoch_a2 = epoch_of(port_a);
    ok(epoch_a2 > epoch_b, "at a greater epoch (%lld > %lld)", (long long)epoch_a2,
       (long long)epoch_b);
    ok(ET_WAIT(90000, et_evac_done(1)), "A2 finishes the evacuation of host 2");
    for (int i = 0; i < n2; i++)
        ok(ET_WAIT(30000, et_runs_once_not_on(uuid[on2[i]], 1)), "%s runs once, not on host 2",
           names[on2[i]]);
    kill(ctl_b, SIGCONT);
    ok(ET_WAIT(30000, (log = et_slurp("ctl-b.log"), strstr(log, "stale epoch") != NULL ? (free(log), true) : (free(log), false))),
       "B, continued, is refused (its log: stale epoch)");
    ok(ET_WAIT(30000, follows(port_b)), "B steps down (its leader gauge is 0)");
    sleep(3);                      /* B's next sweeps, had it kept acting */
    ok(leads(port_a) && follows(port_b), "A2 leads, B watches");
    for (int i = 0; i < n2; i++)
        ok(et_runs_once_not_on(uuid[on2[i]], 1), "%s still runs once", names[on2[i]]);
    et_journal(&v, &n);
    e = et_latest(v, n, 1);
    if (e) {
        diag_steps(e);
        ok(!old_after_new(e, epoch_b, epoch_a2), "no step at B's epoch after A2's first");
        is_int(e->epoch, epoch_a2, "the record's last write is at A2's epoch");
        ok(e->done && strcmp(e->state, "rebuilt") == 0, "done: rebuilt");
        for (int i = 0; i < n2; i++)
            is_int(starts_of(e, uuid[on2[i]]), 1, "%s rebuilt once in the journal",
                   names[on2[i]]);
    } else {
        ok(0, "the journal has the evacuation of host 2");
    }
    dv_evacs_free(v, n);
    ok(ET_WAIT(10000, status_names(ctl_a, epoch_a2)),
       "drover evacuation status names A2 at its epoch");
}

/* Whether host k's last report lists uuid u. */
static bool reports(int k, const char *u)
{
    drover_member m;
    bool r = false;

    if (k < 0 || et_member_try(k, &m) < 0)
        return false;
    for (size_t i = 0; m.report && i < m.report->n_instances; i++)
        r |= m.report->instances[i].uuid && strcasecmp(m.report->instances[i].uuid, u) == 0;
    drover_member_clear(&m);
    return r;
}

/* Guest g destroyed and undefined wherever it runs (its definition stays
 * on the shared storage, it stays in the dead host's last report). */
static void remove_guest(int g)
{
    int k = et_host_of(uuid[g]);
    virConnectPtr c = k >= 0 ? virConnectOpen(et_h.host[k].uri) : NULL;
    virDomainPtr d = c ? virDomainLookupByUUIDString(c, uuid[g]) : NULL;

    if (!d || virDomainDestroy(d) < 0 || virDomainUndefine(d) < 0)
        bail_out("removing %s: %s", names[g], virGetLastErrorMessage());
    virDomainFree(d);
    virConnectClose(c);
}

/* An open evacuation of host k, fenced, with one guest still to rebuild
 * (an unfenced write: what a leader that lost its lease may find). */
static void open_fenced_evacuation(int k, const char *u, const char *name, char *id, size_t len)
{
    dv_config *cfg;
    drover_error err;
    dv_store *st;
    dv_evac e;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0 ||
        dv_evac_new(&e, et_h.host[k].name, dv_wall_ms(), &err) < 0 ||
        dv_evac_add_guest(&e, u, name, 64, "running", &err) < 0)
        bail_out("evacuation: %s", err.message);
    snprintf(e.path, sizeof e.path, "rebuild");
    snprintf(e.state, sizeof e.state, "fenced");
    e.fenced = true;
    dv_evac_step_add(&e, 0, "fenced", "written by the test: %s is to be rebuilt", name);
    if (dv_evac_put(st, &e, 0, &err) < 0)
        bail_out("evacuation: %s", err.message);
    snprintf(id, len, "%s", e.id);
    dv_evac_clear(&e);
    dv_store_close(st);
    dv_config_free(cfg);
}

/* One sweep of an in-process sweeper holding epoch (as B did), with the
 * lease since taken at a later epoch and given up: nobody else acts. */
static int stale_sweep(int64_t epoch)
{
    dv_sweep_result res;
    dv_sweeper sw;
    dv_config *cfg;
    drover_error err;
    dv_store *st;
    dv_sg *sg;
    int rc;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_virt_init(&err) < 0 ||
        dv_sg_open(cfg, &sg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0 ||
        dv_sweeper_init(&sw, cfg, sg, st, st, &err) < 0)
        bail_out("sweeper: %s", err.message);
    sw.holder = "test-stale-leader";
    sw.epoch = epoch;
    dv_log_setup("test_evac_leader", DV_LOG_INFO, "stderr", &err);
    rc = dv_sweep(&sw, &res, &err);
    if (rc < 0)
        diag("stale sweep: %s", err.message);
    diag("stale sweep: %zu members, %zu DOWN, breaker %s, %zu acted on", res.members, res.down,
         res.breaker_open ? "open" : "closed", res.acted);
    dv_sweeper_fini(&sw);
    dv_store_close(st);
    dv_sg_close(sg);
    dv_config_free(cfg);
    return rc;
}

static void test_stale_sweeper(void)
{
    char id[DV_NAME_MAX + 1];
    dv_evac *v, *e = NULL;
    size_t n;
    int k;

    et_reap(&ctl_a, SIGTERM);                /* gives the lease up; B does not hold it */
    et_reap(&ctl_b, SIGTERM);
    k = et_host_of(uuid[2]);
    remove_guest(2);
    ok(ET_WAIT(20000, et_copies(uuid[2], NULL) == 0 && !reports(k, uuid[2])),
       "ld3 removed: it runs nowhere, only host 2's last report has it");
    open_fenced_evacuation(1, uuid[2], names[2], id, sizeof id);
    is_int(stale_sweep(epoch_b), 0, "a sweep at B's stale epoch runs");
    is_int(et_copies(uuid[2], NULL), 0, "it starts no guest: ld3 still runs nowhere");
    et_journal(&v, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            e = &v[i];
    ok(e && !e->done && e->n_steps == 1 && steps_not_at(e, 0, 0) == 0,
       "the open evacuation is as written: no step at the stale epoch");
    dv_evacs_free(v, n);
}

int main(void)
{
    long samples;
    int most;

    et_setup(NULL);
    if (dv_drun_bin(drover_bin, sizeof drover_bin, "drover") < 0)
        bail_out("%s is not built", drover_bin);
    port_a = et_port;
    port_b = et_port + 1;
    write_conf_b();
    write_fence();
    et_guest(0, names[0], 64, uuid[0]);
    et_guest(0, names[1], 64, uuid[1]);
    et_guest(1, names[2], 64, uuid[2]);
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT | ET_ENABLED) && et_defs_written(uuid, N_GUESTS)))
        bail_out("the agents did not report and save the definitions in 30 s");
    ok(1, "three agents report, the definitions are on the shared storage");
    et_sampler_start(uuid, names, N_GUESTS);
    test_only_leader();
    test_kill_leader();
    test_host1_back();
    test_stop_leader();
    most = et_sampler_stop(&samples);
    is_int(most, 1, "over %ld samples (every 100 ms, all hosts) no UUID ran twice", samples);
    test_stale_sweeper();
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
