/* test_migrate_faults.c - live migrations on two real libvirt hosts with a
 * fault injected mid-copy, each round ending with the same invariants:
 *  - the guest runs on exactly one host, its heartbeat goes on under the
 *    same boot id (not rebooted), exactly one persistent definition of it
 *    exists (on that host);
 *  - its record is settled and agrees with libvirt: completed = on the
 *    destination, failed / cancelled = on the source.
 * The faults: the destination's libvirtd killed (SIGKILL; its qemu runs
 * on), the link between the hosts cut (the destination's veth down), the
 * `drover migrate` process killed with SIGKILL and then `drover migration
 * reconcile`, the source's libvirtd restarted; and (not in the campaign)
 * `drover migrate` killed while the source's libvirtd hangs (SIGSTOP):
 * reconcile leaves the record running, saying why, and settles it once the
 * daemon answers again.  (Abort and force-complete
 * from another process are test_migrate's.)
 *
 * Mid-copy is made reliable by a guest whose RAM is full of random data,
 * copied at 8 MiB/s: its first pass lasts about 8 s, and the fault comes
 * only once the record says running with data_processed > 0.
 *
 * Built twice: test_migrate_faults runs each fault once at a fixed moment;
 * test_migrate_campaign (DV_CAMPAIGN) runs N rounds (DROVER_CAMPAIGN_ROUNDS,
 * default 10), each a random fault at a random moment (DROVER_CAMPAIGN_SEED,
 * printed), and prints the outcomes table as TAP diagnostics. */
#include "tests/integration/migtest.h"

#include <time.h>

#define GUEST "fg1"
#define GUEST_MIB 64
#define GUEST_CMD "wss=1 hz=100"
#define BW "8"

typedef enum fault {
    F_DST_KILL = 0, F_LINK_CUT, F_PROC_KILL, F_SRC_RESTART,
    F_CAMPAIGN,                    /* the campaign picks among those above */
    F_PROC_KILL_HUNG = F_CAMPAIGN, /* SIGKILL, then reconcile while the source's libvirtd hangs */
    F_N
} fault;

static const char *const fault_names[F_N] = { "destination libvirtd killed", "link cut",
                                              "drover migrate SIGKILL", "source libvirtd restarted",
                                              "SIGKILL + source hung" };

/* outcomes[fault][state][where][by]: where 0 = source, 1 = destination,
 * 2 = other; by 0 = drover migrate settled it, 1 = drover migration reconcile */
static int outcomes[F_N][DV_MIG_N_STATES][3][2];
#ifdef DV_CAMPAIGN
static uint64_t seed_state;

/* splitmix64: seeds a second apart still give unrelated rounds */
static unsigned rnd(unsigned n)
{
    uint64_t z = (seed_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return n ? (unsigned)(z % n) : 0;
}
#endif

/* After a restart the test's own connection to that host is dead. */
static void reconnect(int k)
{
    if (mt_conn[k])
        virConnectClose(mt_conn[k]);
    mt_conn[k] = NULL;
    for (int i = 0; i < 100 && !mt_conn[k]; i++) {
        if (!(mt_conn[k] = virConnectOpen(mt_h.host[k].uri)))
            dv_sleep_ms(100);
    }
    if (!mt_conn[k])
        bail_out("cannot connect to host %d again", k + 1);
}

static bool conn_alive(int k)
{
    return mt_conn[k] && virConnectIsAlive(mt_conn[k]) == 1;
}

/* Where the guest runs now: the host index, -1 nowhere, -2 on both. */
static int running_on(void)
{
    bool p;
    int r0, r1;

    for (int k = 0; k < 2; k++)
        if (!conn_alive(k))
            reconnect(k);
    r0 = mt_dom_state(0, GUEST, &p) == VIR_DOMAIN_RUNNING;
    r1 = mt_dom_state(1, GUEST, &p) == VIR_DOMAIN_RUNNING;
    return r0 && r1 ? -2 : r0 ? 0 : r1 ? 1 : -1;
}

static int persistent_defs(int *on)
{
    int n = 0;

    for (int k = 0; k < 2; k++) {
        bool p = false;
        if (mt_dom_state(k, GUEST, &p) != -1 && p) {
            n++;
            *on = k;
        }
    }
    return n;
}

/* Wait until the newest record of the guest is past id `after`, running
 * with data copied. */
static bool wait_copying(int64_t after, dv_mig_record *rec, int timeout_ms)
{
    int64_t end = dv_mono_ms() + timeout_ms;

    do {
        if (mt_record(GUEST, rec) && rec->id > after) {
            if (rec->state == DV_MIG_RUNNING && rec->data_processed > 0)
                return true;
            if (dv_mig_state_terminal(rec->state))
                return false;
        }
        dv_sleep_ms(50);
    } while (dv_mono_ms() < end);
    return false;
}

/* Wait for the process; 128+9 when it was killed. */
static int finish(mt_run *r, int timeout_s)
{
    int st = mt_finish(r, timeout_s);
    if (st != 0 && st != 1 && st != 128 + SIGKILL) {
        diag("   drover migrate exited %d", st);
        mt_diag_text("   stderr:", r->stderr_text);
    }
    return st;
}

/* SIGKILL the migrating process, then reconcile while the source's
 * libvirtd hangs (left as it is), then again once it answers. */
static void kill_with_source_hung(int from, mt_run *r)
{
    const char *args[] = { "migration", "reconcile", NULL };
    dv_mig_record rec;
    mt_run rr;

    kill(r->pid, SIGKILL);
    finish(r, 30);
    if (lvh_daemon(&mt_h, from + 1, "stop") != 0)
        bail_out("cannot stop host %d's libvirtd", from + 1);
    mt_drover(&rr, "reconcile-hung", args, 120);
    mt_diag_text("   reconcile (source hung):", rr.stdout_text);
    is_int(rr.status, 1, "reconcile while the source's libvirtd hangs: exit 1");
    ok(strstr(rr.stdout_text, "left as it is") != NULL, "... the record is left as it is");
    mt_record(GUEST, &rec);
    ok(rec.state == DV_MIG_RUNNING && strstr(rec.message, "did not answer"),
       "... still running, its message says a libvirt did not answer: %s", rec.message);
    mt_run_free(&rr);
    if (lvh_daemon(&mt_h, from + 1, "cont") != 0)
        bail_out("cannot continue host %d's libvirtd", from + 1);
    mt_drover(&rr, "reconcile-after", args, 180);
    mt_diag_text("   reconcile (source back):", rr.stdout_text);
    mt_run_free(&rr);
}

static void inject(fault f, int from, int to, mt_run *r, int hold_ms)
{
    switch (f) {
    case F_DST_KILL:
        if (lvh_daemon(&mt_h, to + 1, "kill") != 0)
            bail_out("cannot kill host %d's libvirtd", to + 1);
        dv_sleep_ms(hold_ms);
        if (lvh_daemon(&mt_h, to + 1, "start") != 0)
            bail_out("host %d's libvirtd did not come back", to + 1);
        reconnect(to);
        finish(r, 180);
        break;
    case F_LINK_CUT:
        if (lvh_link(&mt_h, to + 1, 0) != 0)
            bail_out("cannot cut host %d's link", to + 1);
        /* hold_ms < 0: until drover gave up */
        if (hold_ms < 0) {
            finish(r, 180);
        } else {
            dv_sleep_ms(hold_ms);
        }
        if (lvh_link(&mt_h, to + 1, 1) != 0)
            bail_out("cannot restore host %d's link", to + 1);
        if (hold_ms >= 0)
            finish(r, 180);
        break;
    case F_PROC_KILL: {
        const char *args[] = { "migration", "reconcile", NULL };
        mt_run rr;
        kill(r->pid, SIGKILL);
        finish(r, 30);
        dv_sleep_ms(hold_ms);
        mt_drover(&rr, "reconcile", args, 180);
        if (rr.status != 0) {
            diag("   drover migration reconcile exited %d", rr.status);
            mt_diag_text("   stdout:", rr.stdout_text);
            mt_diag_text("   stderr:", rr.stderr_text);
        } else {
            mt_diag_text("   reconcile:", rr.stdout_text);
        }
        mt_run_free(&rr);
        break;
    }
    case F_PROC_KILL_HUNG:
        kill_with_source_hung(from, r);
        break;
    case F_SRC_RESTART:
        if (lvh_daemon(&mt_h, from + 1, "kill") != 0)
            bail_out("cannot kill host %d's libvirtd", from + 1);
        dv_sleep_ms(hold_ms);
        if (lvh_daemon(&mt_h, from + 1, "start") != 0)
            bail_out("host %d's libvirtd did not come back", from + 1);
        reconnect(from);
        finish(r, 180);
        break;
    case F_N:
        break;
    }
}

/* A record left active (its owner died) is settled the documented way. */
static bool settle_leftover(dv_mig_record *rec)
{
    const char *args[] = { "migration", "reconcile", NULL };
    mt_run rr;

    if (!dv_mig_state_active(rec->state) && rec->state != DV_MIG_ERROR)
        return false;
    diag("   record %lld still %s: drover migration reconcile", (long long)rec->id,
         dv_mig_state_name(rec->state));
    mt_drover(&rr, "reconcile-left", args, 180);
    mt_diag_text("   reconcile:", rr.stdout_text);
    mt_run_free(&rr);
    mt_record(GUEST, rec);
    return true;
}

/* One round: migrate from wherever the guest is, fault at moment_ms. */
static void round_of(int n, fault f, int moment_ms, int hold_ms)
{
    int from = running_on(), to, where, pon = -1, ndefs, by;
    char dest[64], tag[32];
    const char *args[] = { "migrate", GUEST, "--bandwidth", BW, "--to", dest, NULL };
    dv_mig_record before, rec;
    lvh_beat b = { 0 };
    virDomainPtr d;
    mt_run r;

    if (from < 0)
        bail_out("round %d: the guest does not run on exactly one host (%d)", n, from);
    to = 1 - from;
    snprintf(dest, sizeof dest, "%s", mt_h.host[to].name);
    snprintf(tag, sizeof tag, "round%d", n);
    d = virDomainLookupByName(mt_conn[from], GUEST);
    if (!d || lvh_beat_read(d, &b) < 0)
        bail_out("round %d: cannot read the guest's heartbeat", n);
    virDomainFree(d);
    if (!mt_record(GUEST, &before))
        before.id = 0;
    mt_publish();
    diag("round %d: %s, host %d -> %d, %d ms into the copy, hold %d ms", n, fault_names[f],
         from + 1, to + 1, moment_ms, hold_ms);
    mt_spawn(&r, tag, args);
    if (!ok(wait_copying(before.id, &rec, 60000), "round %d: the copy runs (data copied)", n)) {
        diag("   record %lld: %s %s", (long long)rec.id, dv_mig_state_name(rec.state), rec.message);
        finish(&r, 180);
        return;
    }
    dv_sleep_ms(moment_ms);
    inject(f, from, to, &r, hold_ms);
    mt_run_free(&r);

    mt_record(GUEST, &rec);
    by = f == F_PROC_KILL || f == F_PROC_KILL_HUNG || settle_leftover(&rec);
    where = running_on();
    ndefs = persistent_defs(&pon);
    ok(where >= 0, "round %d (%s): the guest runs on exactly one host (%s)", n, fault_names[f],
       where == -2 ? "both!" : where == -1 ? "none!" : where == from ? "source" : "destination");
    is_int(ndefs, 1, "round %d: exactly one persistent definition", n);
    ok(where < 0 || pon == where, "round %d: ... on the host it runs on", n);
    ok(where >= 0 && mt_beats_on(where, GUEST, &b),
       "round %d: its heartbeat goes on, same boot id (not rebooted)", n);
    ok(dv_mig_state_terminal(rec.state) && rec.state != DV_MIG_ERROR,
       "round %d: the record is settled: %s", n, dv_mig_state_name(rec.state));
    if (rec.state == DV_MIG_ERROR || !dv_mig_state_terminal(rec.state))
        diag("   message: %s", rec.message);
    ok((rec.state == DV_MIG_COMPLETED && where == to) ||
           ((rec.state == DV_MIG_FAILED || rec.state == DV_MIG_CANCELLED) && where == from),
       "round %d: the record (%s) agrees with libvirt (guest on the %s)", n,
       dv_mig_state_name(rec.state), where == to ? "destination" : where == from ? "source"
                                                                                   : "?");
    if (rec.state != DV_MIG_COMPLETED)
        diag("   %s: %s", dv_mig_state_name(rec.state), rec.message);
    outcomes[f][rec.state][where == from ? 0 : where == to ? 1 : 2][by]++;
    if (where < 0)
        bail_out("round %d left the guest in no single place: stopping", n);
}

static void print_table(void)
{
    static const char *const loc[3] = { "source", "destination", "other" };

    static const char *const by[2] = { "drover migrate", "migration reconcile" };

    diag("outcomes (fault x record state -> where the guest runs):");
    diag("  %-28s %-10s %-12s %-20s %s", "fault", "outcome", "guest on", "settled by", "rounds");
    for (int f = 0; f < F_N; f++)
        for (int s = 0; s < DV_MIG_N_STATES; s++)
            for (int w = 0; w < 3; w++)
                for (int b = 0; b < 2; b++)
                    if (outcomes[f][s][w][b])
                        diag("  %-28s %-10s %-12s %-20s %d", fault_names[f], dv_mig_state_name(s),
                             loc[w], by[b], outcomes[f][s][w][b]);
}

int main(void)
{
    lvh_beat b;
    virDomainPtr d;

    /* libvirt's client writes to sockets of daemons this test kills */
    signal(SIGPIPE, SIG_IGN);
    mt_setup(NULL);
    d = mt_guest(0, GUEST, GUEST_MIB, GUEST_CMD, &b);
    /* persistent, as a guest under management is */
    {
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        virDomainPtr p = xml ? virDomainDefineXML(mt_conn[0], xml) : NULL;
        if (!p)
            bail_out("cannot define the guest persistently");
        virDomainFree(p);
        free(xml);
    }
    virDomainFree(d);
#ifdef DV_CAMPAIGN
    {
        const char *ns = getenv("DROVER_CAMPAIGN_ROUNDS"), *ss = getenv("DROVER_CAMPAIGN_SEED");
        int rounds = ns && *ns ? atoi(ns) : 10;
        unsigned seed = ss && *ss ? (unsigned)strtoul(ss, NULL, 10) : (unsigned)time(NULL);
        seed_state = seed;
        diag("campaign: %d rounds, seed %u (DROVER_CAMPAIGN_SEED=%u to replay)", rounds, seed,
             seed);
        for (int i = 1; i <= rounds; i++) {
            fault f = (fault)rnd(F_CAMPAIGN);
            int moment = (int)rnd(3000), hold = 200 + (int)rnd(2500);
            round_of(i, f, moment, hold);
        }
    }
#else
    round_of(1, F_DST_KILL, 1000, 500);
    round_of(2, F_LINK_CUT, 1000, -1);
    round_of(3, F_PROC_KILL, 1000, 0);
    round_of(4, F_SRC_RESTART, 1000, 300);
    round_of(5, F_PROC_KILL_HUNG, 1000, 0);
#endif
    print_table();
    mt_remove(GUEST);
    lvh_stop(&mt_h);
    return done_testing();
}
