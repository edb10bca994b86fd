/* test_evac_poweroff - the evacuator on three real libvirt hosts with real
 * droverd agents and a real droverd --controller (db driver, sqlite store):
 *  - host 1 powered off (its libvirtd and qemu killed, its agent with it),
 *    the test's fence command confirms it -> its guests are rebuilt on the
 *    other hosts from their definitions on the shared storage; sampling
 *    every 100 ms across all hosts, no UUID ever runs twice; the time from
 *    the power-off to every guest running is reported;
 *  - host 1 comes back (libvirtd and agent restarted with the old
 *    definitions) -> its stale copies are removed, none starts, it stays
 *    disabled;
 *  - host 2 powered off while the fence command fails -> nothing rebuilt,
 *    an alarm; once the fence succeeds -> rebuilt;
 *  - the controller's metrics, scraped with curl, move as they should. */
#include "tests/integration/evactest.h"

#include <libvirt/libvirt.h>

#define N_GUESTS 3

static char uuid[N_GUESTS][40];
static const char *const names[N_GUESTS] = { "ev1", "ev2", "ev3" };

/* ---------------------------------------------------------------- the sampler */

static pthread_t sampler;
static volatile int sampling = 1;
static int max_copies;              /* the most hosts one UUID ran on at once */
static long samples;

static void *sample(void *arg)
{
    (void)arg;
    while (sampling) {
        int count[N_GUESTS] = { 0 };
        for (int k = 0; k < 3; k++) {
            virConnectPtr c = virConnectOpen(et_h.host[k].uri);
            virDomainPtr *d = NULL;
            int n;
            if (!c)
                continue;
            n = virConnectListAllDomains(c, &d, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
            for (int i = 0; i < n; i++) {
                char u[40];
                if (virDomainGetUUIDString(d[i], u) == 0)
                    for (int g = 0; g < N_GUESTS; g++)
                        count[g] += strcmp(u, uuid[g]) == 0;
                virDomainFree(d[i]);
            }
            free(d);
            virConnectClose(c);
        }
        for (int g = 0; g < N_GUESTS; g++) {
            if (count[g] > 1)
                diag("sample %ld: %s runs on %d hosts", samples, names[g], count[g]);
            if (count[g] > max_copies)
                max_copies = count[g];
        }
        samples++;
        usleep(100000);
    }
    return NULL;
}

/* ---------------------------------------------------------------- helpers */

static bool defs_written(void)
{
    char dir[192];
    snprintf(dir, sizeof dir, "%s/defs", et_work);
    for (int g = 0; g < N_GUESTS; g++) {
        char f[200];
        snprintf(f, sizeof f, "%s.xml", uuid[g]);
        if (!et_file_exists(dir, f))
            return false;
    }
    return true;
}

static bool all_up(void)
{
    for (int k = 0; k < 3; k++) {
        drover_member m;
        bool up;
        if (et_member_try(k, &m) < 0)
            return false;
        up = m.state == DROVER_UP && m.report;
        drover_member_clear(&m);
        if (!up)
            return false;
    }
    return true;
}

static bool runs_once_not_on(int g, int dead)
{
    int where = -1;
    return et_copies(uuid[g], &where) == 1 && where != dead;
}

static dv_evac *latest(dv_evac *v, size_t n, int k)
{
    return dv_evac_latest(v, n, et_h.host[k].name);
}

static bool has_step(const dv_evac *e, const char *step)
{
    for (size_t i = 0; e && i < e->n_steps; i++)
        if (strcmp(e->steps[i].step, step) == 0)
            return true;
    return false;
}

static bool journal_has(int k, const char *step)
{
    dv_evac *v;
    size_t n;
    bool r;
    et_journal(&v, &n);
    r = has_step(latest(v, n, k), step);
    dv_evacs_free(v, n);
    return r;
}

static bool evac_done(int k)
{
    dv_evac *v, *e;
    size_t n;
    bool r;
    et_journal(&v, &n);
    e = latest(v, n, k);
    r = e && e->done;
    dv_evacs_free(v, n);
    return r;
}

static bool defined_on(int k, const char *u)
{
    virConnectPtr c = virConnectOpen(et_h.host[k].uri);
    virDomainPtr d;
    bool r;
    if (!c)
        return true;               /* cannot tell: keep waiting */
    d = virDomainLookupByUUIDString(c, u);
    r = d != NULL;
    if (d)
        virDomainFree(d);
    virConnectClose(c);
    return r;
}

/* ---------------------------------------------------------------- phases */

static void test_poweroff(double *seconds)
{
    int64_t t0, t1;
    drover_member m;
    dv_evac *v, *e;
    size_t n;
    char *fenced;

    ok(ET_WAIT(10000, et_count_evacuations() == 0) && et_count_evacuations() == 0,
       "with every host UP nothing is evacuated");
    t0 = dv_mono_ms();
    et_reap(&et_agent[0], SIGKILL);          /* the machine goes, its agent with it */
    is_int(lvh_daemon(&et_h, 1, "poweroff"), 0, "host 1 powered off");
    ok(ET_WAIT(90000, runs_once_not_on(0, 0) && runs_once_not_on(1, 0)),
       "ev1 and ev2 run again, each on one other host");
    t1 = dv_mono_ms();
    *seconds = (double)(t1 - t0) / 1000.0;
    diag("power-off to every guest running elsewhere: %.1f s", *seconds);
    /* a guest runs before virDomainCreate returns: the journal follows */
    ok(ET_WAIT(30000, evac_done(0)), "the evacuation of host 1 is done in the journal");
    ok(runs_once_not_on(2, 0), "ev3 still runs on host 2, once");
    et_member(0, &m);
    ok(m.disabled && m.forced_down, "host 1 is disabled and forced down");
    ok(m.disabled_reason && strstr(m.disabled_reason, "evacuator:"), "with the evacuator's reason (%s)",
       m.disabled_reason ? m.disabled_reason : "none");
    drover_member_clear(&m);
    et_journal(&v, &n);
    for (size_t i = 0; i < n; i++)
        diag("journal: %s host %s state %s", v[i].id, v[i].host, v[i].state);
    e = latest(v, n, 0);
    ok(e != NULL, "the journal has an evacuation of host 1");
    if (e) {
        is_str(e->state, "rebuilt", "its state: rebuilt");
        ok(e->done && e->fenced, "done, after a confirmed fence");
        ok(has_step(e, "detected") && has_step(e, "gated") && has_step(e, "disabled") &&
               has_step(e, "fenced") && has_step(e, "rebuilt"),
           "steps: detected, gated, disabled, fenced, rebuilt");
        ok(e->epoch > 0, "written with the lease epoch (%lld)", (long long)e->epoch);
        is_int((long long)e->n_guests, 2, "two guests journaled");
    }
    dv_evacs_free(v, n);
    fenced = et_slurp("fenced.log");
    ok(strstr(fenced, et_h.host[0].name) != NULL, "the fence command was run for host 1");
    free(fenced);
}

static void test_return(void)
{
    drover_member m;

    is_int(lvh_daemon(&et_h, 1, "start"), 0, "host 1's libvirtd starts again with its definitions");
    et_agent_start(0);
    ok(ET_WAIT(30000, !defined_on(0, uuid[0]) && !defined_on(0, uuid[1])),
       "its stale copies of ev1 and ev2 are undefined");
    is_int(et_runs(0, uuid[0]) + et_runs(0, uuid[1]), 0, "neither runs on host 1");
    ok(runs_once_not_on(0, 0) && runs_once_not_on(1, 0), "ev1 and ev2 still run once elsewhere");
    sleep(2);
    et_member(0, &m);
    ok(m.disabled, "host 1 stays disabled");
    drover_member_clear(&m);
}

static void test_fence_fails(void)
{
    char *alerts;
    bool nothing = true;

    et_admin(0, false, false);               /* an operator enables host 1 */
    ok(ET_WAIT(20000, all_up()), "host 1 is UP again once enabled");
    et_fence_rc(1);
    et_reap(&et_agent[1], SIGKILL);
    is_int(lvh_daemon(&et_h, 2, "poweroff"), 0, "host 2 powered off (the fence will fail)");
    ok(ET_WAIT(60000, journal_has(1, "fence-failed")), "the journal says the fence failed");
    for (int i = 0; i < 30; i++) {           /* 3 s more: several sweeps */
        nothing &= et_copies(uuid[2], NULL) == 0;
        usleep(100000);
    }
    ok(nothing, "ev3 is not rebuilt while the fence fails");
    alerts = et_slurp("alerts.log");
    ok(strstr(alerts, "\"event\":\"fence_failed\"") && strstr(alerts, et_h.host[1].name),
       "alert_command got a fence_failed event for host 2");
    free(alerts);
    et_fence_rc(0);
    ok(ET_WAIT(60000, runs_once_not_on(2, 1)), "once the fence succeeds, ev3 is rebuilt once");
    ok(ET_WAIT(30000, evac_done(1)), "the evacuation of host 2 is done");
    ok(journal_has(1, "fenced") && journal_has(1, "rebuilt"), "the journal: fenced, rebuilt");
}

static void test_metrics(double sweeps_before)
{
    char *t = et_scrape();

    ok(et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}") > sweeps_before,
       "sweeps counted (%g > %g)", et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}"),
       sweeps_before);
    ok(et_metric(t, "drover_evacuations_total{outcome=\"rebuilt\"}") >= 2,
       "two evacuations rebuilt");
    ok(et_metric(t, "drover_fences_total{outcome=\"confirmed\"}") >= 2, "fences confirmed");
    ok(et_metric(t, "drover_fences_total{outcome=\"failed\"}") >= 1, "a failed fence counted");
    ok(et_metric(t, "drover_evacuation_guests_total{outcome=\"rebuilt\"}") >= 3,
       "three guests rebuilt");
    is_int((long long)et_metric(t, "drover_evacuator_leader"), 1, "the controller leads");
    ok(et_metric(t, "drover_evacuator_lease_epoch") >= 1, "with an epoch");
    free(t);
}

int main(void)
{
    double secs = 0, sweeps0;
    char *t;

    et_setup(NULL);
    et_guest(0, names[0], 64, uuid[0]);
    et_guest(0, names[1], 64, uuid[1]);
    et_guest(1, names[2], 64, uuid[2]);
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, all_up() && defs_written()))
        bail_out("the agents did not report and save the definitions in 30 s");
    ok(1, "three agents report, the definitions are on the shared storage");
    et_controller_start();
    ok(ET_WAIT(15000, (t = et_scrape()) && (sweeps0 = et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}"),
                                            free(t), sweeps0 >= 1)),
       "the controller sweeps and serves its metrics");
    pthread_create(&sampler, NULL, sample, NULL);
    test_poweroff(&secs);
    test_return();
    test_fence_fails();
    sampling = 0;
    pthread_join(sampler, NULL);
    is_int(max_copies, 1, "over %ld samples (every 100 ms, all hosts) no UUID ran twice", samples);
    test_metrics(sweeps0);
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
