/* test_migrate_postcopy.c - post-copy and a link that breaks (two libvirt
 * hosts from the harness; host 2's veth goes down):
 *  - cut before the switch: force-complete asks for post-copy, but the
 *    switch never reaches the destination; the job fails and the guest is
 *    verified running on the source, nothing on the destination: failed;
 *  - cut during post-copy (its bandwidth held low so the cut lands while
 *    the guest's memory is split between the hosts): drover migrate exits
 *    4, the record is `error` saying where the guest is and to run `drover
 *    migration recover`, neither copy is destroyed; recover with the link
 *    down exits 4 saying where the guest is; with the link back it either
 *    completes the migration or says again, exit 4, where the guest is
 *    (libvirt 9.0 here: see the diagnostics). */
#include "tests/integration/migtest.h"

static void link_set(int k, const char *how)
{
    char host[8];
    const char *args[] = { "link", mt_h.dir, host, how, NULL };

    snprintf(host, sizeof host, "%d", k + 1);
    if (lvh_script(&mt_h, args, NULL) != 0)
        bail_out("lvhosts.sh link %s %s failed", host, how);
}

static void start(mt_run *r, const char *name, dv_mig_record *rec)
{
    const char *mig[] = { "migrate", name, "--post-copy", "--bandwidth", "4", NULL };

    mt_spawn(r, name, mig);
    ok(mt_wait_state(name, DV_MIG_RUNNING, 60000, rec), "%s: the migration runs", name);
    dv_sleep_ms(1000);
}

static void force(const char *name)
{
    const char *args[] = { "migration", "force-complete", name, NULL };
    mt_run f;
    is_int(mt_drover(&f, "force", args, 60), 0, "%s: force-complete: exit 0", name);
    mt_run_free(&f);
}

static void test_cut_before_switch(void)
{
    mt_run r;
    dv_mig_record rec;
    lvh_beat b;
    bool p;

    virDomainFree(mt_guest(0, "pc1", 128, "wss=32", &b));
    mt_publish();
    start(&r, "pc1", &rec);
    link_set(1, "down");
    force("pc1");
    /* two endings, both right, depending on whether QEMU had begun the
     * switch when its stream stalled */
    int code = mt_finish(&r, 300);
    mt_record("pc1", &rec);
    diag("pc1: exit %d, %s: %s", code, dv_mig_state_name(rec.state), rec.message);
    link_set(1, "up");
    is_int(mt_dom_state(1, "pc1", &p), -1, "pc1: nothing of it on the destination");
    if (code == 1) {
        is_str(dv_mig_state_name(rec.state), "failed", "pc1: exit 1 and the record is failed");
        is_int(mt_dom_state(0, "pc1", &p), VIR_DOMAIN_RUNNING, "pc1: the guest runs on the source");
        ok(mt_beats_on(0, "pc1", &b), "pc1: its heartbeat goes on, same boot id");
        ok(rec.message[0] != '\0', "pc1: ... and the record says why (%s)", rec.message);
    } else {
        is_int(code, 4, "pc1: or exit 4 (the switch had begun)");
        is_str(dv_mig_state_name(rec.state), "error", "pc1: ... the record is error");
        is_int(mt_dom_state(0, "pc1", &p), VIR_DOMAIN_PAUSED, "pc1: ... the guest is paused on the source");
        ok(strstr(rec.message, "holds nothing of it") != NULL, "pc1: ... and the record says so");
    }
    is_int(mt_claimed(1), 0, "pc1: no claim left");
    mt_run_free(&r);
    mt_remove("pc1");
}

static void test_cut_during_postcopy(void)
{
    char id[24];
    const char *recover[] = { "migration", "recover", id, NULL };
    mt_run r, rc1, rc2;
    dv_mig_record rec;
    virDomainPtr d;
    lvh_beat b;
    bool p;
    int s0, s1;

    d = mt_guest(0, "pc2", 256, "wss=32", &b);
    mt_publish();
    start(&r, "pc2", &rec);
    /* the test's own doing: post-copy slow enough for the cut to land in it */
    if (virDomainMigrateSetMaxSpeed(d, 2, VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY) < 0)
        diag("post-copy speed: %s", virGetLastErrorMessage());
    virDomainFree(d);
    force("pc2");
    ok(mt_wait_state("pc2", DV_MIG_POSTCOPY, 60000, &rec), "pc2: the record says post-copy");
    snprintf(id, sizeof id, "%lld", (long long)rec.id);
    dv_sleep_ms(300);
    link_set(1, "down");
    is_int(mt_finish(&r, 300), 4, "pc2: drover migrate exits 4: the guest needs an operator");
    mt_record("pc2", &rec);
    is_str(dv_mig_state_name(rec.state), "error", "pc2: the record is error");
    ok(strstr(rec.message, "drover migration recover") != NULL, "pc2: it says what to do: %s",
       rec.message);
    s0 = mt_dom_state(0, "pc2", &p);
    s1 = mt_dom_state(1, "pc2", &p);
    ok(s0 >= 0 && s1 >= 0, "pc2: neither copy was destroyed (source %d, destination %d)", s0, s1);
    is_int(mt_drover(&rc1, "recover1", recover, 300), 4, "recover with the link down: exit 4");
    mt_diag_text("recover (link down):", rc1.stderr_text);
    link_set(1, "up");
    dv_sleep_ms(1000);
    mt_drover(&rc2, "recover2", recover, 300);
    mt_diag_text("recover (link up):", rc2.stderr_text);
    mt_record("pc2", &rec);
    if (rc2.status == 0) {
        is_str(dv_mig_state_name(rec.state), "completed", "recovered: the record is completed");
        ok(mt_beats_on(1, "pc2", &b), "recovered: the guest beats on the destination");
        is_int(mt_dom_state(1, "pc2", &p), VIR_DOMAIN_RUNNING, "recovered: ... and runs there");
    } else {
        is_int(rc2.status, 4, "libvirt could not recover: exit 4");
        is_str(dv_mig_state_name(rec.state), "error", "... the record stays error");
        ok(strstr(rec.message, " on ") != NULL, "... saying where the guest is");
    }
    mt_run_free(&r);
    mt_run_free(&rc1);
    mt_run_free(&rc2);
}

int main(void)
{
    mt_setup(NULL);
    test_cut_before_switch();
    test_cut_during_postcopy();
    lvh_stop(&mt_h);
    return done_testing();
}
