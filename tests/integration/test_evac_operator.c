/* test_evac_operator - `drover host evacuate HOST [--rebuild] [--force]`, an
 * operator's evacuation, on three real libvirt hosts with real agents and
 * no controller running.
 *  - bad input: no HOST, two HOSTs, an unknown HOST, an unknown option:
 *    each a clear error, nothing journaled;
 *  - HOST UP: refused by the gates (only a DOWN host is evacuated), exit 1,
 *    nothing journaled, nothing disabled;
 *  - HOST UP with --force: drained live (its libvirt answers), exit 0; the
 *    guest runs elsewhere, not rebooted; HOST disabled with the drain reason;
 *    the lease given back (epoch held by nobody);
 *  - HOST powered off, --force --rebuild with a fence that fails: nothing rebuilt, exit 1, the journal says fence-failed; once the
 *    fence succeeds: rebuilt on another host, exit 0;
 *  - a running controller holds the lease: the operator is refused. */
#include "tests/integration/evactest.h"

static char uuid[2][40];
static char drover_bin[512];
static lvh_beat beat0;

/* op's heartbeat where it runs (the host index), or -1 */
static int beat_of(const char *u, lvh_beat *b)
{
    int where = -1, rc = -1;
    virConnectPtr c;
    virDomainPtr d;

    if (et_copies(u, &where) != 1 || !(c = virConnectOpen(et_h.host[where].uri)))
        return -1;
    if ((d = virDomainLookupByUUIDString(c, u))) {
        rc = lvh_beat_read(d, b) == 0 ? where : -1;
        virDomainFree(d);
    }
    virConnectClose(c);
    return rc;
}

/* op1 beats on under its first boot id, past the beats seen at the start */
static bool went_on(void)
{
    lvh_beat b = { 0 };
    for (int i = 0; i < 50; i++) {
        if (beat_of(uuid[0], &b) > 0 && b.boot_id == beat0.boot_id && b.beats > beat0.beats)
            return true;
        usleep(100000);
    }
    diag("   op1: boot %u (first %u), beats %u (first %u)", b.boot_id, beat0.boot_id, b.beats,
         beat0.beats);
    return false;
}

/* drover ARGS... (NULL-terminated); its exit status, texts in r. */
static int run(dv_drun *r, const char *tag, const char *const *args)
{
    if (dv_drun_spawn(r, drover_bin, et_conf, et_work, tag, args) < 0)
        bail_out("cannot run %s", drover_bin);
    return dv_drun_finish(r, 240);
}

static void refused(const char *what, const char *const *args, int code, const char *needle)
{
    dv_drun r;
    int rc = run(&r, "bad", args);

    is_int(rc, code, "%s: exit %d", what, code);
    ok(strstr(r.stderr_text, needle) != NULL, "  and says \"%s\" (%s)", needle, r.stderr_text);
    dv_drun_free(&r);
}

static void test_bad_input(void)
{
    const char *none[] = { "host", "evacuate", NULL };
    const char *two[] = { "host", "evacuate", et_h.host[0].name, et_h.host[1].name, NULL };
    const char *unknown[] = { "host", "evacuate", "no-such-host", "--force", NULL };
    const char *opt[] = { "host", "evacuate", et_h.host[0].name, "--rebiuld", NULL };
    const char *help[] = { "host", "evacuate", "--help", NULL };
    dv_drun r;

    refused("no HOST", none, 2, "give exactly one HOST");
    refused("two HOSTs", two, 2, "give exactly one HOST");
    refused("an unknown HOST", unknown, 1, "no-such-host");
    refused("an unknown option", opt, 2, "--rebiuld");
    is_int(run(&r, "help", help), 0, "--help: exit 0");
    ok(strstr(r.stdout_text, "Usage: drover") && strstr(r.stdout_text, "--force"),
       "  and prints the usage with --force");
    dv_drun_free(&r);
    is_int((long long)et_count_evacuations(), 0, "nothing journaled by bad input");
}

static void test_gates(void)
{
    const char *args[] = { "host", "evacuate", et_h.host[0].name, NULL };
    drover_member m;

    refused("host 1 UP, no --force", args, 1, "only a DOWN host is evacuated");
    is_int((long long)et_count_evacuations(), 0, "  nothing journaled");
    et_member(0, &m);
    ok(!m.disabled, "  host 1 is not disabled");
    drover_member_clear(&m);
}

static void test_force_drain(void)
{
    const char *args[] = { "--json", "host", "evacuate", et_h.host[0].name, "--force", NULL };
    drover_member m;
    dv_store_lease l;
    dv_config *cfg;
    dv_store *st;
    drover_error err;
    dv_drun r;
    int where = -1;

    is_int(run(&r, "drain", args), 0, "host 1 UP, --force: exit 0 (%s)", r.stderr_text);
    ok(strstr(r.stdout_text, "\"state\": \"drained\"") != NULL, "  its record says drained");
    dv_drun_free(&r);
    is_int(et_copies(uuid[0], &where), 1, "  op1 runs once");
    ok(where > 0, "  not on host 1 (on host %d)", where + 1);
    ok(went_on(), "  its counter continued: migrated live, not rebooted");
    et_member(0, &m);
    ok(m.disabled && !m.forced_down, "  host 1 is disabled, not forced down");
    ok(m.disabled_reason && strstr(m.disabled_reason, "evacuator:"), "  with the reason (%s)",
       m.disabled_reason ? m.disabled_reason : "none");
    drover_member_clear(&m);
    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0 ||
        dv_store_lease_get(st, DV_EVAC_LEASE, &l, &err) < 0)
        bail_out("lease: %s", err.message);
    ok(!l.holder || !*l.holder, "  the lease was given back (holder \"%s\")",
       l.holder ? l.holder : "");
    dv_store_lease_clear(&l);
    dv_store_close(st);
    dv_config_free(cfg);
}

static void test_force_rebuild(void)
{
    const char *args[] = { "host", "evacuate", et_h.host[1].name, "--force", "--rebuild", NULL };
    dv_drun r;
    int where = -1;

    et_reap(&et_agent[1], SIGKILL);
    is_int(lvh_daemon(&et_h, 2, "poweroff"), 0, "host 2 powered off");
    et_fence_rc(1);
    is_int(run(&r, "rebuild1", args), 1, "--force --rebuild, the fence fails: exit 1");
    dv_drun_free(&r);
    is_int(et_copies(uuid[1], &where), 0, "  op2 is not rebuilt anywhere");
    {
        dv_evac *v;
        size_t n;
        et_journal(&v, &n);
        dv_evac *e = dv_evac_latest(v, n, et_h.host[1].name);
        bool failed = false;
        for (size_t i = 0; e && i < e->n_steps; i++)
            failed |= strcmp(e->steps[i].step, "fence-failed") == 0;
        ok(failed && !e->fenced, "  the journal says fence-failed, not fenced");
        dv_evacs_free(v, n);
    }
    et_fence_rc(0);
    is_int(run(&r, "rebuild2", args), 0, "once the fence succeeds: exit 0 (%s)", r.stderr_text);
    dv_drun_free(&r);
    is_int(et_copies(uuid[1], &where), 1, "  op2 runs once");
    ok(where == 2, "  on host 3, the only one left UP and enabled (on host %d)", where + 1);
}

static void test_controller_holds(void)
{
    const char *args[] = { "host", "evacuate", et_h.host[2].name, "--force", NULL };
    dv_drun r;

    char log[256];

    et_controller_start();
    snprintf(log, sizeof log, "%s/controller.log", et_work);
    ok(ET_WAIT(20000, dv_drun_file_has(log, "holding the evacuator lease")),
       "a controller takes the lease");
    is_int(run(&r, "held", args), 1, "the operator is then refused: exit 1");
    ok(strstr(r.stderr_text, "lease") != NULL, "  because of the lease (%s)", r.stderr_text);
    dv_drun_free(&r);
}

int main(void)
{
    et_setup(NULL);
    if (dv_drun_bin(drover_bin, sizeof drover_bin, "drover") < 0)
        bail_out("%s is not built", drover_bin);
    et_guest(0, "op1", 64, uuid[0]);
    et_guest(1, "op2", 64, uuid[1]);
    if (!ET_WAIT(30000, beat_of(uuid[0], &beat0) == 0 && beat0.phase == 2 && beat0.beats > 0))
        bail_out("op1 does not beat");
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(0) && et_defs_written((const char (*)[40])uuid, 2)))
        bail_out("the agents did not report and save the definitions in 30 s");
    ok(1, "three agents report, the definitions are on the shared storage");
    test_bad_input();
    test_gates();
    test_force_drain();
    test_force_rebuild();
    test_controller_holds();
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
