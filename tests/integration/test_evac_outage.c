/* test_evac_outage - liveness backends that go away for longer than the
 * evacuator's grace, on three real libvirt hosts with real droverd agents
 * and a real droverd --controller: nothing may be evacuated, neither while
 * the backend is gone nor once it is back.
 *  - memcached (driver mc, sqlite store) killed for longer than grace +
 *    service_down_time, then relaunched empty on its port: the controller
 *    sees every host UNKNOWN while it is gone; afterwards every host is UP
 *    again and the journal is empty;
 *  - ZooKeeper (driver zk, zk store) losing its quorum (two of three
 *    servers killed) for as long, then relaunched: the controller cannot
 *    hold its lease nor read the members meanwhile; afterwards it leads
 *    again, every host is UP and the journal is empty.
 * In both, the guests run on where they ran and the fence command never
 * runs. */
#include "tests/integration/evacfault.h"
#include "tests/harness/harness.h"
#include "tests/harness/zk.h"

#include <libvirt/libvirt.h>

#define GRACE 4
#define OUTAGE_S (GRACE + 3 + 3)       /* past grace + service_down_time */

static char uuid[3][40];
static dv_mc_server mc;
static dv_zk_cluster zk;

static bool guests_in_place(void)
{
    for (int k = 0; k < 3; k++) {
        if (et_host_of(uuid[k]) != k)
            return false;
    }
    return true;
}

/* The mc driver answers UNKNOWN per member (it keeps the member list in
 * the state db), so the sweep itself does not fail. */
static bool swept_unknown(int n)
{
    json_object *s = ef_last_sweep();
    bool r = s && ef_int(s, "unknown") == n && ef_int(s, "down") == 0;
    json_object_put(s);
    return r;
}

static double sweeps_ok(void)
{
    return ef_metric("drover_evacuator_sweeps_total{result=\"ok\"}");
}

/* Agents and controller on the current config; every host UP, seen so by
 * a sweep of the leading controller. */
static void start_fleet(const char *what)
{
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT)))
        bail_out("%s: the agents did not report in 30 s", what);
    et_controller_start();
    ok(ET_WAIT(30000, sweeps_ok() >= 1 && ef_swept_all_up()),
       "%s: three agents report, the controller sweeps and sees every host UP", what);
}

/* What must hold once the backend is back: every host UP (as the controller
 * sees it), for longer than a grace nothing evacuated, nothing fenced,
 * every guest where it was. */
static void after_outage(const char *what)
{
    char *fenced;

    ok(ET_WAIT(60000, et_all_up(ET_REPORT)), "%s: every host is UP again", what);
    ok(ET_WAIT(30000, ef_swept_all_up()), "%s: the controller sweeps and sees every host UP", what);
    is_int((long long)ef_hold_journal((GRACE + 2) * 1000, 0), 0,
           "%s: nothing evacuated, %d s on", what, GRACE + 2);
    ok(et_all_up(ET_REPORT), "%s: every host still UP", what);
    ok(guests_in_place(), "%s: every guest runs where it ran, once", what);
    fenced = et_slurp("fenced.log");
    is_str(fenced, "", "%s: the fence command never ran", what);
    free(fenced);
    is_int((long long)ef_metric("drover_evacuator_candidates{verdict=\"act\"}"), 0,
           "%s: no candidate to act on", what);
}

/* ---------------------------------------------------------------- memcached */

static void test_memcached(void)
{
    char sg[256];
    int64_t t0;
    size_t most;

    if (dv_mc_start(&mc, NULL, NULL, NULL) < 0)
        bail_out("cannot start memcached");
    snprintf(sg, sizeof sg, "driver = \"mc\"; mc = { servers = [ \"%s\" ]; poll_timeout_ms = 500; "
             "retry_timeout_s = 1; };", mc.addr);
    ef_write_config(sg, GRACE);
    start_fleet("mc");
    if (dv_mc_kill(&mc) < 0)
        bail_out("cannot kill memcached");
    t0 = dv_mono_ms();
    diag("memcached %s killed", mc.addr);
    ok(ET_WAIT(20000, swept_unknown(3)), "mc: the controller sees the backend gone: 3 UNKNOWN");
    most = ef_hold_journal((int)(t0 + OUTAGE_S * 1000 - dv_mono_ms()), 0);
    is_int((long long)most, 0, "mc: nothing evacuated during %.1f s without memcached (grace %d s)",
           (double)(dv_mono_ms() - t0) / 1000.0, GRACE);
    is_int((long long)ef_metric("drover_members{state=\"UNKNOWN\"}"), 3,
           "mc: metric: 3 members UNKNOWN");
    ok(swept_unknown(3), "mc: still UNKNOWN at the end of the outage");
    if (dv_mc_relaunch(&mc) < 0)
        bail_out("cannot relaunch memcached");
    diag("memcached relaunched (empty) after %.1f s", (double)(dv_mono_ms() - t0) / 1000.0);
    after_outage("mc");
    et_stop_all();
    dv_mc_stop(&mc);
}

/* ---------------------------------------------------------------- ZooKeeper */

static void test_zookeeper(void)
{
    char sg[700];
    int leader, other;
    int64_t t0;
    double acted = 0;
    bool lost = false;

    if (dv_zk_start(&zk, 3) < 0)
        bail_out("cannot start a ZooKeeper ensemble of 3");
    /* the state store is ZooKeeper now too (state.backend auto) */
    snprintf(sg, sizeof sg, "driver = \"zk\"; zk = { hosts = \"%s\"; session_timeout_ms = 4000; "
             "prefix = \"/drover\"; };", zk.hosts);
    ef_write_config(sg, GRACE);
    start_fleet("zk");
    is_int((long long)ef_metric("drover_evacuator_leader"), 1, "zk: the controller leads");
    leader = dv_zk_leader(&zk);
    other = leader % 3 + 1;
    if (leader <= 0 || dv_zk_kill(&zk, leader) < 0 || dv_zk_kill(&zk, other) < 0)
        bail_out("cannot kill two ZooKeeper servers");
    t0 = dv_mono_ms();
    diag("ZooKeeper servers %d (the leader) and %d killed: no quorum", leader, other);
    /* the journal is in ZooKeeper too: only the metrics can be asked */
    while (dv_mono_ms() < t0 + OUTAGE_S * 1000) {
        double a = ef_metric("drover_evacuator_candidates{verdict=\"act\"}");
        lost |= ef_metric("drover_evacuator_leader") == 0;
        if (a > acted)
            acted = a;
        usleep(200000);
    }
    ok(lost, "zk: the controller cannot keep its lease without a quorum");
    is_int((long long)acted, 0, "zk: no host due during %.1f s without a quorum (grace %d s)",
           (double)(dv_mono_ms() - t0) / 1000.0, GRACE);
    ok(ef_metric("drover_evacuations_total{outcome=\"drained\"}") < 0 &&
           ef_metric("drover_evacuations_total{outcome=\"rebuilt\"}") < 0,
       "zk: no evacuation counted");
    if (dv_zk_relaunch(&zk, leader) < 0 || dv_zk_relaunch(&zk, other) < 0)
        bail_out("cannot relaunch the ZooKeeper servers");
    diag("quorum back after %.1f s", (double)(dv_mono_ms() - t0) / 1000.0);
    ok(ET_WAIT(60000, ef_metric("drover_evacuator_leader") == 1), "zk: the controller leads again");
    after_outage("zk");
    et_stop_all();
    dv_zk_stop(&zk);
}

int main(void)
{
    et_setup(NULL);
    for (int k = 0; k < 3; k++) {
        char name[8];
        snprintf(name, sizeof name, "eo%d", k + 1);
        et_guest(k, name, 64, uuid[k]);
    }
    test_memcached();
    test_zookeeper();
    lvh_stop(&et_h);
    return done_testing();
}
