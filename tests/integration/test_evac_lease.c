/* test_evac_lease - a drain that outlasts the evacuator lease keeps it.
 *
 * Three real libvirt hosts, agents and one droverd --controller with
 * controller.lease_ttl_s = 3 and migrations capped at 8 MiB/s, so the live
 * migration of a 64 MiB guest (its RAM filled with random words) takes
 * about 8 s: more than two lives of the lease.  Host 1's agent is killed,
 * its libvirt lives: the controller drains it.  The leader renews the lease
 * from inside the drain, so the lease keeps its epoch (1) and every step of
 * the evacuation is written at it; without the renewal the lease lapses
 * mid-drain and the controller's next tenure is epoch 2.
 * Then the host the guest went to loses its power, and the fence command
 * takes 7 s: the lease is renewed while it runs, so the fence, the rebuild
 * and the lease stay at epoch 1 too. */
#include "tests/integration/evactest.h"

static char uuid[40];

static int64_t lease_epoch(void)
{
    dv_config *cfg;
    dv_store *st;
    dv_store_lease l;
    drover_error err;
    int64_t epoch;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0)
        bail_out("state store: %s", err.message);
    if (dv_store_lease_get(st, DV_EVAC_LEASE, &l, &err) == 0) {
        epoch = l.epoch;
        dv_store_lease_clear(&l);
    } else if (err.code == DROVER_ERR_NOT_FOUND) {
        epoch = 0;                           /* not taken yet */
    } else {
        bail_out("lease %s: %s", DV_EVAC_LEASE, err.message);
    }
    dv_store_close(st);
    dv_config_free(cfg);
    return epoch;
}

static bool steps_at(const dv_evac *e, int64_t epoch)
{
    bool all = e != NULL;

    for (size_t i = 0; e && i < e->n_steps; i++)
        if (e->steps[i].epoch != epoch) {
            diag("step %s at epoch %lld", e->steps[i].step, (long long)e->steps[i].epoch);
            all = false;
        }
    return all;
}

static void test_long_drain(void)
{
    const dv_evac_step *d, *mg;
    dv_evac *v, *e;
    size_t n;
    int where = -1;

    is_int(lease_epoch(), 1, "the controller leads at epoch 1");
    et_reap(&et_agent[0], SIGKILL);          /* the agent dies; libvirt lives */
    ok(ET_WAIT(120000, et_journal_has(0, "migrated")),
       "host 1's guest is migrated live by the drain");
    is_int(et_copies(uuid, &where), 1, "it runs once");
    ok(where != 0 && where >= 0, "not on host 1 (on host %d)", where + 1);
    et_journal(&v, &n);
    e = dv_evac_latest(v, n, et_h.host[0].name);
    d = et_step_of(e, "disabled", NULL);
    mg = et_step_of(e, "migrated", NULL);
    ok(d && mg && mg->t_ms - d->t_ms > 3000,
       "the drain took longer than the lease's 3 s (%lld ms)",
       d && mg ? (long long)(mg->t_ms - d->t_ms) : -1LL);
    ok(steps_at(e, 1), "every step of the evacuation is written at epoch 1");
    dv_evacs_free(v, n);
    sleep(2);                                /* two more sweeps: a lapsed lease shows here */
    is_int(lease_epoch(), 1, "the lease kept its epoch through the drain");
}

static void test_long_fence(void)
{
    int where = et_host_of(uuid);
    const dv_evac_step *d, *f;
    dv_evac *v, *e;
    size_t n;

    if (where < 1)
        bail_out("the guest is not on host 2 or 3 (%d)", where + 1);
    et_agent_start(0);       /* host 1 back (still disabled): one host down stays under the breaker */
    if (!ET_WAIT(30000, et_up(0, ET_REPORT)))
        bail_out("host 1's agent did not report again in 30 s");
    et_write_file("fence_delay", "7\n", 0600);
    et_reap(&et_agent[where], SIGKILL);
    is_int(lvh_daemon(&et_h, where + 1, "poweroff"), 0, "host %d powered off", where + 1);
    ok(ET_WAIT(120000, et_journal_has(where, "fenced")), "a 7 s fence confirms host %d off", where + 1);
    ok(ET_WAIT(60000, et_runs_once_not_on(uuid, where)), "the guest runs again, once, not on host %d",
       where + 1);
    et_journal(&v, &n);
    e = dv_evac_latest(v, n, et_h.host[where].name);
    d = et_step_of(e, "disabled", NULL);
    f = et_step_of(e, "fenced", NULL);
    ok(d && f && f->t_ms - d->t_ms > 6000, "the fence took more than two lives of the lease (%lld ms)",
       d && f ? (long long)(f->t_ms - d->t_ms) : -1LL);
    ok(steps_at(e, 1), "every step of that evacuation is written at epoch 1");
    dv_evacs_free(v, n);
    sleep(2);
    is_int(lease_epoch(), 1, "the lease kept its epoch through the fence");
}

int main(void)
{
    et_controller_extra = "lease_ttl_s = 3;";
    et_migration_extra = "bandwidth_mib = 8;";
    et_setup(NULL);
    et_guest(0, "ls1", 64, uuid);
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(0) && et_defs_written(&uuid, 1)))
        bail_out("the agents did not report and save the definition in 30 s");
    ok(1, "three agents report, the definition is on the shared storage");
    et_controller_start();
    if (!ET_WAIT(15000, lease_epoch() > 0))
        bail_out("the controller took no lease in 15 s");
    test_long_drain();
    test_long_fence();
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
