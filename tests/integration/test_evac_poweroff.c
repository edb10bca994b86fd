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
    ok(ET_WAIT(90000, et_runs_once_not_on(uuid[0], 0) && et_runs_once_not_on(uuid[1], 0)),
       "ev1 and ev2 run again, each on one other host");
    t1 = dv_mono_ms();
    *seconds = (double)(t1 - t0) / 1000.0;
    diag("power-off to every guest running elsewhere: %.1f s", *seconds);
    /* a guest runs before virDomainCreate returns: the journal follows */
    ok(ET_WAIT(30000, et_evac_done(0)), "the evacuation of host 1 is done in the journal");
    ok(et_runs_once_not_on(uuid[2], 0), "ev3 still runs on host 2, once");
    et_member(0, &m);
    ok(m.disabled && m.forced_down, "host 1 is disabled and forced down");
    ok(m.disabled_reason && strstr(m.disabled_reason, "evacuator:"), "with the evacuator's reason (%s)",
       m.disabled_reason ? m.disabled_reason : "none");
    drover_member_clear(&m);
    et_journal(&v, &n);
    et_diag_journal(v, n, false);
    e = et_latest(v, n, 0);
    ok(e != NULL, "the journal has an evacuation of host 1");
    if (e) {
        is_str(e->state, "rebuilt", "its state: rebuilt");
        ok(e->done && e->fenced, "done, after a confirmed fence");
        ok(et_has_step(e, "detected") && et_has_step(e, "gated") && et_has_step(e, "disabled") &&
               et_has_step(e, "fenced") && et_has_step(e, "rebuilt"),
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
    ok(ET_WAIT(30000, !et_defined_on(0, uuid[0]) && !et_defined_on(0, uuid[1])),
       "its stale copies of ev1 and ev2 are undefined");
    is_int(et_runs(0, uuid[0]) + et_runs(0, uuid[1]), 0, "neither runs on host 1");
    ok(et_runs_once_not_on(uuid[0], 0) && et_runs_once_not_on(uuid[1], 0),
       "ev1 and ev2 still run once elsewhere");
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
    ok(ET_WAIT(20000, et_all_up(ET_REPORT)), "host 1 is UP again once enabled");
    et_fence_rc(1);
    et_reap(&et_agent[1], SIGKILL);
    is_int(lvh_daemon(&et_h, 2, "poweroff"), 0, "host 2 powered off (the fence will fail)");
    ok(ET_WAIT(60000, et_journal_has(1, "fence-failed")), "the journal says the fence failed");
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
    ok(ET_WAIT(60000, et_runs_once_not_on(uuid[2], 1)),
       "once the fence succeeds, ev3 is rebuilt once");
    ok(ET_WAIT(30000, et_evac_done(1)), "the evacuation of host 2 is done");
    ok(et_journal_has(1, "fenced") && et_journal_has(1, "rebuilt"), "the journal: fenced, rebuilt");
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
    long samples;
    int most;
    char *t;

    et_setup(NULL);
    et_guest(0, names[0], 64, uuid[0]);
    et_guest(0, names[1], 64, uuid[1]);
    et_guest(1, names[2], 64, uuid[2]);
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT) && et_defs_written(uuid, N_GUESTS)))
        bail_out("the agents did not report and save the definitions in 30 s");
    ok(1, "three agents report, the definitions are on the shared storage");
    et_controller_start();
    ok(ET_WAIT(15000, (t = et_scrape()) && (sweeps0 = et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}"),
                                            free(t), sweeps0 >= 1)),
       "the controller sweeps and serves its metrics");
    et_sampler_start(uuid, names, N_GUESTS);
    test_poweroff(&secs);
    test_return();
    test_fence_fails();
    most = et_sampler_stop(&samples);
    is_int(most, 1, "over %ld samples (every 100 ms, all hosts) no UUID ran twice", samples);
    test_metrics(sweeps0);
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
