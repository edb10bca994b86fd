/* test_drain.c - `drover host drain` on two real libvirt hosts:
 *  - host 1 with three guests: drained, it ends empty and disabled (reason
 *    "drain"), the three run on host 2 with their heartbeat going on, exit 0;
 *  - host 2, its agent DOWN (forced down) but its libvirt answering, with
 *    those three and a guest too big for host 1: the three move back, the
 *    big one is reported with the scheduler's reason, host 2 is not empty,
 *    exit 1; and a guest started there after its last report (no report
 *    lists it: the drain finds it, its source and size in the host's own
 *    libvirt and moves it all the same);
 *  - examples/migrate (libdrover and drover.h only) moves a guest.
 * The scheduler reserves all of a host's memory but 300 MiB, so 64 MiB
 * guests fit and a 512 MiB one fits nowhere. */
#include "tests/integration/migtest.h"

static const char *const names[3] = { "dr1", "dr2", "dr3" };

/* migtest's config, with the reserve that makes the big guest fit nowhere */
static void write_config(long long reserved_mib)
{
    char sched[96];

    snprintf(sched, sizeof sched, "reserved_host_memory_mb = %lld; ram_allocation_ratio = 1.0;",
             reserved_mib);
    mt_write_config_sched(sched, NULL);
}

static void member(int k, drover_member *m)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;

    if (dv_config_load(mt_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0 ||
        dv_sg_get(sg, "compute", mt_h.host[k].name, m, &err) < 0)
        bail_out("member: %s", err.message);
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static void admin(int k, bool disabled, bool forced_down)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;

    if (dv_config_load(mt_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0 ||
        dv_sg_set_disabled(sg, "compute", mt_h.host[k].name, disabled, disabled ? "test" : NULL,
                           &err) < 0 ||
        dv_sg_set_forced_down(sg, "compute", mt_h.host[k].name, forced_down, &err) < 0)
        bail_out("admin: %s", err.message);
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static int active_on(int k)
{
    int n = virConnectNumOfDomains(mt_conn[k]);
    return n;
}

static void beat_of(int k, const char *name, lvh_beat *b)
{
    virDomainPtr d = virDomainLookupByName(mt_conn[k], name);
    memset(b, 0, sizeof *b);
    if (!d || lvh_beat_read(d, b) < 0)
        bail_out("cannot read %s's heartbeat on host %d", name, k + 1);
    virDomainFree(d);
}

static void test_empty(void)
{
    const char *args[] = { "host", "drain", mt_h.host[0].name, NULL };
    lvh_beat b[3];
    drover_member m;
    mt_run r;

    for (int i = 0; i < 3; i++)
        virDomainFree(mt_guest(0, names[i], 64, "wss=1 hz=100", &b[i]));
    mt_publish();
    is_int(mt_drover(&r, "drain1", args, 300), 0, "drain host 1 (three guests): exit 0");
    mt_diag_text("output:", r.stdout_text);
    if (r.status)
        mt_diag_text("stderr:", r.stderr_text);
    is_int(active_on(0), 0, "host 1 runs no guest any more");
    for (int i = 0; i < 3; i++) {
        bool p;
        char line[64];
        is_int(mt_dom_state(1, names[i], &p), VIR_DOMAIN_RUNNING, "%s runs on host 2", names[i]);
        ok(p, "%s is persistent there", names[i]);
        ok(mt_beats_on(1, names[i], &b[i]), "%s's heartbeat goes on (not rebooted)", names[i]);
        snprintf(line, sizeof line, "%s", names[i]);
        ok(strstr(r.stdout_text, line) && strstr(strstr(r.stdout_text, line), "moved to"),
           "a line says %s moved", names[i]);
    }
    member(0, &m);
    ok(m.disabled, "host 1 is disabled");
    is_str(m.disabled_reason ? m.disabled_reason : "", "drain", "... with reason \"drain\"");
    drover_member_clear(&m);
    ok(strstr(r.stdout_text, "3 of 3 guests moved") != NULL, "the summary: 3 of 3 moved");
    is_int(mt_claimed(0) + mt_claimed(1), 0, "no claim is left");
    mt_run_free(&r);
}

static void test_agent_down_and_no_room(void)
{
    const char *args[] = { "host", "drain", mt_h.host[1].name, NULL };
    lvh_beat b[3], big, late;
    drover_member m;
    mt_run r;
    const char *line;

    virDomainFree(mt_guest(1, "drbig", 512, "wss=1 fill=0 hz=100", &big));
    for (int i = 0; i < 3; i++)
        beat_of(1, names[i], &b[i]);
    mt_publish();
    /* started after host 2's last report: only its libvirt knows it */
    virDomainFree(mt_guest(1, "drlate", 64, "wss=1 hz=100", &late));
    admin(0, false, false);   /* host 1 takes guests again */
    admin(1, false, true);    /* host 2's agent "died" */
    member(1, &m);
    is_str(drover_liveness_name(m.state), "DOWN", "host 2 is DOWN (forced down)");
    drover_member_clear(&m);
    is_int(mt_drover(&r, "drain2", args, 300), 1, "drain host 2 with a guest that fits nowhere: exit 1");
    mt_diag_text("output:", r.stdout_text);
    for (int i = 0; i < 3; i++) {
        bool p;
        is_int(mt_dom_state(0, names[i], &p), VIR_DOMAIN_RUNNING,
               "%s moved back to host 1 (the source's agent is DOWN, its libvirt answered)",
               names[i]);
        ok(mt_beats_on(0, names[i], &b[i]), "%s's heartbeat goes on", names[i]);
    }
    {
        bool p;
        is_int(mt_dom_state(1, "drbig", &p), VIR_DOMAIN_RUNNING, "drbig still runs on host 2");
        is_int(mt_dom_state(0, "drlate", &p), VIR_DOMAIN_RUNNING,
               "drlate, in no report, moved to host 1 (found in host 2's libvirt)");
        ok(mt_beats_on(0, "drlate", &late), "drlate's heartbeat goes on");
    }
    line = strstr(r.stdout_text, "drlate");
    ok(line && strstr(line, "moved to"), "a line says drlate moved");
    line = strstr(r.stdout_text, "drbig");
    ok(line && strstr(line, "NOT moved") && strstr(line, "no valid host for instance drbig"),
       "drbig is reported not moved, with the scheduler's reason");
    ok(line && strstr(line, "ram"), "... which names the ram filter");
    ok(strstr(r.stdout_text, "the host is NOT empty") != NULL, "the summary says host 2 is not empty");
    is_int(active_on(1), 1, "host 2 runs only drbig");
    is_int(mt_claimed(0) + mt_claimed(1), 0, "no claim is left");
    mt_run_free(&r);
}

/* examples/migrate: the public library moves a guest, nothing but drover.h */
static void test_example(void)
{
    const char *bd = getenv("top_builddir");
    char bin[512];
    const char *argv[5];
    lvh_beat b;
    mt_run r;
    bool p;
    int st = 0;

    admin(1, false, false);   /* host 2 is back in service, with room */
    mt_remove("drbig");
    mt_remove("drlate");
    beat_of(0, "dr1", &b);
    mt_publish();
    snprintf(bin, sizeof bin, "%s/examples/migrate", bd && *bd ? bd : LVH_TOP_BUILDDIR);
    argv[0] = bin;
    argv[1] = mt_conf;
    argv[2] = "dr1";
    argv[3] = mt_h.host[1].name;
    argv[4] = NULL;
    memset(&r, 0, sizeof r);
    snprintf(r.out, sizeof r.out, "%s/example.out", mt_work);
    fflush(stdout);
    if ((r.pid = fork()) == 0) {
        int fd = open(r.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 12000 && waitpid(r.pid, &st, WNOHANG) == 0; i++)
        usleep(10000);
    r.stdout_text = mt_slurp(r.out);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "examples/migrate dr1 HOST2: exit 0");
    mt_diag_text("example:", r.stdout_text);
    ok(strstr(r.stdout_text, ": completed on ") != NULL, "it prints the completed record");
    ok(strstr(r.stdout_text, "%  ") != NULL || strstr(r.stdout_text, "migration ") != NULL,
       "it printed progress from its callback");
    is_int(mt_dom_state(1, "dr1", &p), VIR_DOMAIN_RUNNING, "dr1 runs on host 2");
    ok(mt_beats_on(1, "dr1", &b), "dr1's heartbeat goes on");
    free(r.stdout_text);
}

int main(void)
{
    virNodeInfo ni;

    signal(SIGPIPE, SIG_IGN);
    mt_setup(NULL);
    if (virNodeGetInfo(mt_conn[0], &ni) < 0)
        bail_out("virNodeGetInfo failed");
    /* 300 MiB usable on each host (libvirt's view of its memory) */
    write_config((long long)(ni.memory / 1024) - 300);
    mt_publish();
    test_empty();
    test_agent_down_and_no_room();
    test_example();
    for (int i = 0; i < 3; i++)
        mt_remove(names[i]);
    mt_remove("drbig");
    lvh_stop(&mt_h);
    return done_testing();
}
