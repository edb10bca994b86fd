/* test_migrate.c - `drover migrate` on two real libvirt hosts (the
 * harness's, TCG guests), each case asserting outcomes on both libvirts and
 * in the state db:
 *  - a 128 MiB guest migrates: its heartbeat goes on on the destination
 *    under the same boot id, the source no longer defines it, the
 *    destination does persistently, the record is completed with libvirt's
 *    downtime, the claim is gone; then back again by --to;
 *  - bad input: unknown instance, instance not running, --to the source, a
 *    DOWN and a disabled destination, bad ids for migration show/abort: a
 *    clear error, the documented exit code, no record, no claim;
 *  - from another process: abort (cancelled, the guest on the source,
 *    nothing on the destination), force-complete (pause, completes);
 *    Ctrl-C of drover migrate (cancelled);
 *  - concurrency: three migrations out of one source in three processes
 *    with max_concurrent = 1 run one after another.
 */
#include "tests/integration/migtest.h"

#include <json-c/json.h>
#include <sys/stat.h>

/* A guest too busy to converge at 2 MiB/s: its working set is re-dirtied
 * faster than that. */
#define BUSY "wss=32"

static const char *g_src(void)
{
    return mt_h.host[0].name;
}

static const char *g_dst(void)
{
    return mt_h.host[1].name;
}

static void check_no_leftovers(const char *what)
{
    is_int(mt_claimed(0) + mt_claimed(1), 0, "%s: no claim is left on either host", what);
}

/* ---------------------------------------------------------------- success */

static void check_moved(const char *name, int to, const lvh_beat *b, const char *what)
{
    bool p0, p1;
    int s_from = mt_dom_state(1 - to, name, &p0), s_to = mt_dom_state(to, name, &p1);

    is_int(s_to, VIR_DOMAIN_RUNNING, "%s: the guest runs on host %d", what, to + 1);
    ok(p1, "%s: ... and is persistent there", what);
    is_int(s_from, -1, "%s: host %d no longer defines it", what, 2 - to);
    ok(mt_beats_on(to, name, b), "%s: its heartbeat goes on there, same boot id (not rebooted)",
       what);
}

static void test_basic(void)
{
    const char *args[] = { "--json", "migrate", "g1", NULL };
    const char *back[] = { "migrate", "g1", "--to", NULL, NULL };
    mt_run r;
    dv_mig_record rec;
    lvh_beat b;
    virDomainPtr d = mt_guest(0, "g1", 128, "wss=8", &b);

    virDomainFree(d);
    mt_publish();
    is_int(mt_drover(&r, "basic", args, 120), 0, "migrate g1: exit 0");
    if (r.status)
        mt_diag_text("stderr:", r.stderr_text);
    check_moved("g1", 1, &b, "g1 1 -> 2");
    mt_record("g1", &rec);
    is_str(dv_mig_state_name(rec.state), "completed", "the record is completed");
    is_str(rec.source, g_src(), "the record names the source");
    is_str(rec.destination, g_dst(), "... and the destination the scheduler chose");
    ok(rec.final_downtime_ms >= 0 && rec.final_total_ms > 0,
       "libvirt's downtime (%lld ms) and total time (%lld ms) are in the record",
       (long long)rec.final_downtime_ms, (long long)rec.final_total_ms);
    ok(rec.started_ms >= rec.created_ms && rec.ended_ms >= rec.started_ms,
       "created <= started <= ended");
    ok(rec.data_total > 0, "a job-stats sample reached the record (%llu bytes total)",
       (unsigned long long)rec.data_total);
    check_no_leftovers("g1 1 -> 2");
    {
        /* JSON Lines: every line an object, the last the final record */
        int lines = 0, objects = 0;
        const char *last = NULL;
        for (const char *p = r.stdout_text; p && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0)) {
            char line[8192];
            size_t n = strcspn(p, "\n");
            json_object *o;
            snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
            lines++;
            if ((o = json_tokener_parse(line))) {
                objects++;
                json_object_put(o);
            }
            last = p;
        }
        ok(lines >= 2 && lines == objects, "--json: %d lines, each a JSON object", lines);
        ok(last && strstr(last, "\"event\":\"done\"") && strstr(last, "\"completed\""),
           "--json: the last line is the final record, completed");
    }
    mt_run_free(&r);

    mt_publish();
    back[3] = g_src();
    b.beats = 0;
    d = virDomainLookupByName(mt_conn[1], "g1");
    lvh_beat_read(d, &b);
    virDomainFree(d);
    is_int(mt_drover(&r, "back", back, 120), 0, "migrate g1 --to host 1: exit 0");
    if (r.status)
        mt_diag_text("stderr:", r.stderr_text);
    ok(strstr(r.stdout_text, "completed") != NULL, "the text output shows the completed record");
    check_moved("g1", 0, &b, "g1 2 -> 1");
    check_no_leftovers("g1 2 -> 1");
    mt_run_free(&r);
    mt_remove("g1");
}

/* ---------------------------------------------------------------- bad input */

static void expect_refused(const char *const *args, int code, const char *needle,
                           const char *what)
{
    size_t before = mt_count_records();
    mt_run r;

    is_int(mt_drover(&r, "bad", args, 60), code, "%s: exit %d", what, code);
    if (!ok(strstr(r.stderr_text, needle) != NULL, "%s: the error says \"%s\"", what, needle))
        mt_diag_text("stderr:", r.stderr_text);
    is_int(mt_count_records(), before, "%s: no record was made", what);
    check_no_leftovers(what);
    mt_run_free(&r);
}

static void set_admin(const char *cmd, const char *host)
{
    const char *args[] = { "service", cmd, host, NULL };
    mt_run r;
    if (mt_drover(&r, "admin", args, 30) != 0)
        bail_out("drover service %s %s failed: %s", cmd, host, r.stderr_text);
    mt_run_free(&r);
}

static void test_bad_input(void)
{
    lvh_beat b;
    virDomainPtr d = mt_guest(0, "g2", 64, "wss=4", &b);
    char *xml = lvh_guest_xml(&mt_h, "off1", 64, "wss=4");
    virDomainPtr off = xml ? virDomainDefineXML(mt_conn[0], xml) : NULL;
    const char *unknown[] = { "migrate", "nosuchguest", NULL };
    const char *stopped[] = { "migrate", "off1", NULL };
    const char *self[] = { "migrate", "g2", "--to", g_src(), NULL };
    const char *to2[] = { "migrate", "g2", "--to", g_dst(), NULL };
    const char *usage[] = { "migrate", "g2", "--bandwidth", "lots", NULL };
    const char *show_bad[] = { "migration", "show", "424242", NULL };
    const char *show_name[] = { "migration", "show", "nosuchguest", NULL };
    const char *abort_bad[] = { "migration", "abort", "424242", NULL };

    free(xml);
    if (!off)
        bail_out("cannot define a stopped guest");
    virDomainFree(d);
    mt_publish();
    expect_refused(unknown, 1, "no host reports an instance named nosuchguest", "unknown instance");
    expect_refused(stopped, 1, "only a running or paused instance", "instance not running");
    expect_refused(self, 1, "is the source host", "--to the source itself");
    expect_refused(usage, 2, "--bandwidth", "a bad --bandwidth");
    set_admin("force-down", g_dst());
    expect_refused(to2, 1, "cannot take instance g2", "--to a DOWN destination");
    set_admin("force-down", g_dst());
    {
        const char *off_args[] = { "service", "force-down", g_dst(), "--off", NULL };
        mt_run r;
        mt_drover(&r, "admin", off_args, 30);
        mt_run_free(&r);
    }
    set_admin("disable", g_dst());
    expect_refused(to2, 1, "disabled", "--to a disabled destination");
    set_admin("enable", g_dst());
    expect_refused(show_bad, 1, "no migration record 424242", "migration show of an unknown id");
    expect_refused(show_name, 1, "no migration record for instance nosuchguest",
                   "migration show of an instance that never migrated");
    expect_refused(abort_bad, 1, "no migration record 424242", "migration abort of an unknown id");
    is_int(mt_dom_state(0, "g2", &(bool){ false }), VIR_DOMAIN_RUNNING,
           "after all that, g2 still runs on host 1");
    virDomainUndefine(off);
    virDomainFree(off);
    mt_remove("g2");
}

/* ---------------------------------------------------------------- steering */

/* Start a slow migration of name in the background; wait until it runs. */
static void start_slow(mt_run *r, const char *name, const char *tag, const char *bw,
                       dv_mig_record *rec)
{
    const char *args[] = { "migrate", name, "--bandwidth", bw, NULL };

    mt_spawn(r, tag, args);
    if (!ok(mt_wait_state(name, DV_MIG_RUNNING, 60000, rec), "%s: the migration runs", tag))
        diag("   record: %s %s", dv_mig_state_name(rec->state), rec->message);
    /* let a few samples reach the record */
    dv_sleep_ms(800);
}

static void test_abort_other_process(void)
{
    lvh_beat b;
    virDomainPtr d = mt_guest(0, "g3", 128, BUSY, &b);
    mt_run r, a;
    dv_mig_record rec;
    char id[24];
    const char *args[] = { "migration", "abort", id, NULL };
    bool p;

    virDomainFree(d);
    mt_publish();
    start_slow(&r, "g3", "abort", "2", &rec);
    snprintf(id, sizeof id, "%lld", (long long)rec.id);
    is_int(mt_drover(&a, "abort-cmd", args, 60), 0, "drover migration abort %s: exit 0", id);
    if (a.status)
        mt_diag_text("stderr:", a.stderr_text);
    is_int(mt_finish(&r, 60), 1, "the migrating process exits 1 (cancelled)");
    mt_record("g3", &rec);
    is_str(dv_mig_state_name(rec.state), "cancelled", "the record is cancelled");
    ok(strstr(rec.message, "drover migration abort") != NULL, "... saying who aborted: %s",
       rec.message);
    is_str(rec.request, "abort", "the abort request is in the record");
    is_int(mt_dom_state(0, "g3", &p), VIR_DOMAIN_RUNNING, "the guest runs on the source");
    is_int(mt_dom_state(1, "g3", &p), -1, "nothing of it is left on the destination");
    ok(mt_beats_on(0, "g3", &b), "its heartbeat goes on on the source");
    check_no_leftovers("abort");
    mt_run_free(&r);
    mt_run_free(&a);
    mt_remove("g3");
}

static void test_force_complete_other_process(void)
{
    lvh_beat b;
    virDomainPtr d = mt_guest(0, "g4", 64, BUSY, &b);
    mt_run r, a;
    dv_mig_record rec;
    char id[24];
    const char *args[] = { "migration", "force-complete", "g4", NULL };

    (void)id;
    virDomainFree(d);
    mt_publish();
    start_slow(&r, "g4", "force", "8", &rec);
    is_int(mt_drover(&a, "force-cmd", args, 60), 0, "drover migration force-complete g4: exit 0");
    if (a.status)
        mt_diag_text("stderr:", a.stderr_text);
    is_int(mt_finish(&r, 120), 0, "the migrating process exits 0 (completed)");
    if (r.status)
        mt_diag_text("stderr:", r.stderr_text);
    mt_record("g4", &rec);
    is_str(dv_mig_state_name(rec.state), "completed", "the record is completed");
    is_str(rec.action, "force-complete", "the owner recorded the request as its last action");
    check_moved("g4", 1, &b, "force-complete");
    check_no_leftovers("force-complete");
    mt_run_free(&r);
    mt_run_free(&a);
    mt_remove("g4");
}

static void test_ctrl_c(void)
{
    lvh_beat b;
    virDomainPtr d = mt_guest(0, "g5", 128, BUSY, &b);
    mt_run r;
    dv_mig_record rec;
    bool p;

    virDomainFree(d);
    mt_publish();
    start_slow(&r, "g5", "sigint", "2", &rec);
    kill(r.pid, SIGINT);
    is_int(mt_finish(&r, 60), 1, "SIGINT: drover migrate exits 1");
    ok(mt_record("g5", &rec) && rec.state == DV_MIG_CANCELLED, "SIGINT: the record is cancelled");
    is_int(mt_dom_state(0, "g5", &p), VIR_DOMAIN_RUNNING, "SIGINT: the guest runs on the source");
    is_int(mt_dom_state(1, "g5", &p), -1, "SIGINT: nothing is left on the destination");
    check_no_leftovers("SIGINT");
    mt_run_free(&r);
    mt_remove("g5");
}

/* ---------------------------------------------------------------- concurrency */

static void test_concurrency(void)
{
    static const char *const names[3] = { "c1", "c2", "c3" };
    mt_run r[3];
    dv_mig_record rec[3];
    lvh_beat b;

    for (int i = 0; i < 3; i++)
        virDomainFree(mt_guest(0, names[i], 64, "wss=4", &b));
    mt_publish();
    for (int i = 0; i < 3; i++) {
        const char *args[] = { "migrate", names[i], "--bandwidth", "40", NULL };
        mt_spawn(&r[i], names[i], args);
        dv_sleep_ms(300);      /* c1 asks first, then c2, then c3 */
    }
    for (int i = 0; i < 3; i++) {
        is_int(mt_finish(&r[i], 180), 0, "concurrency: migrate %s exits 0", names[i]);
        if (r[i].status)
            mt_diag_text("stderr:", r[i].stderr_text);
    }
    for (int i = 0; i < 3; i++)
        ok(mt_record(names[i], &rec[i]) && rec[i].state == DV_MIG_COMPLETED,
           "concurrency: %s completed", names[i]);
    ok(rec[0].id < rec[1].id && rec[1].id < rec[2].id, "records in the order asked");
    for (int i = 1; i < 3; i++)
        ok(rec[i].started_ms >= rec[i - 1].ended_ms,
           "%s started (%lld) after %s ended (%lld): one at a time", names[i],
           (long long)rec[i].started_ms, names[i - 1], (long long)rec[i - 1].ended_ms);
    ok(strstr(r[2].stderr_text, "queued") != NULL, "the last one said it was queued");
    check_no_leftovers("concurrency");
    for (int i = 0; i < 3; i++) {
        mt_run_free(&r[i]);
        mt_remove(names[i]);
    }
}

int main(void)
{
    mt_setup(NULL);
    test_basic();
    test_bad_input();
    test_abort_other_process();
    test_force_complete_other_process();
    test_ctrl_c();
    test_concurrency();
    lvh_stop(&mt_h);
    return done_testing();
}
