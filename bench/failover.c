/* bench/failover.c - a host powered off: how long until every guest it ran
 * runs elsewhere, step by step?  Not a test: it prints figures.
 *
 * Three real libvirt hosts (tests/harness/lvhosts.h), real droverd agents
 * and a real droverd --controller (tests/integration/evactest.h: db
 * driver, report_interval 1 s, service_down_time 3 s, evacuator interval
 * 1 s, grace 2 s, mode "rebuild", a fence command that confirms at once).
 * Host 1 runs the guests; its agent, libvirtd and qemu are killed at T0.
 * The steps, from the journal's step timestamps (wall clock):
 *
 *   detection     T0 -> the member is DOWN (its last heartbeat, from the
 *                 "detected" step, + service_down_time)
 *   grace         DOWN -> "gated" (the grace, on whole sweeps)
 *   fence         "gated" -> "fenced" (second channel, disable, the command)
 *   placement     per guest: the step before -> "placed" (scheduler, claim)
 *   define+start  per guest: "placed" -> "rebuilt" (define, virDomainCreate)
 *   total         T0 -> every guest active elsewhere (libvirt polled every
 *                 50 ms on every host)
 *
 * Target: under 10 s in all.
 * usage: bench/failover [GUESTS]   (default 2, 64 MiB each) */
#include "tests/integration/evactest.h"

#include <libvirt/libvirt.h>

#define MAX_GUESTS 8

static char uuid[MAX_GUESTS][40];
static int n_guests = 2;

static bool running_elsewhere(void)
{
    for (int g = 0; g < n_guests; g++) {
        if (!et_runs_once_not_on(uuid[g], 0))
            return false;
    }
    return true;
}

static bool swept(void)
{
    char *t = et_scrape();
    bool r = et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}") >= 1;
    free(t);
    return r;
}

static double secs(int64_t a, int64_t b)
{
    return (double)(b - a) / 1000.0;
}

/* The heartbeat age the "detected" step names ("last heartbeat N ms ago"). */
static int64_t heartbeat_age(const dv_evac_step *s)
{
    const char *p = strstr(s->msg, "last heartbeat ");
    return p ? atoll(p + strlen("last heartbeat ")) : -1;
}

static int report(const dv_evac *e, int64_t t0, int64_t t_all)
{
    const dv_evac_step *det = et_step_of(e, "detected", NULL),
                       *gated = et_step_of(e, "gated", NULL),
                       *fenced = et_step_of(e, "fenced", NULL);
    int64_t down, prev, age;
    double place_sum = 0, start_sum = 0, total = secs(t0, t_all);

    if (!det || !gated || !fenced || (age = heartbeat_age(det)) < 0) {
        fprintf(stderr, "failover: the journal lacks detected, gated or fenced\n");
        return -1;
    }
    down = det->t_ms - age + 3000;           /* service_down_time 3 s */
    printf("  detection     power-off -> DOWN        %6.2f s  (last heartbeat %.2f s before "
           "power-off, + service_down_time 3 s)\n",
           secs(t0, down), secs(det->t_ms - age, t0));
    printf("  grace         DOWN -> gated            %6.2f s  (grace 2 s on 1 s sweeps)\n",
           secs(down, gated->t_ms));
    printf("  fence         gated -> fenced          %6.2f s  (probe, disable, fence command)\n",
           secs(gated->t_ms, fenced->t_ms));
    prev = fenced->t_ms;
    for (int g = 0; g < n_guests; g++) {
        const dv_evac_step *pl = et_step_of(e, "placed", uuid[g]),
                           *rb = et_step_of(e, "rebuilt", uuid[g]);
        if (!pl || !rb) {
            fprintf(stderr, "failover: the journal lacks placed or rebuilt for %s\n", uuid[g]);
            return -1;
        }
        printf("  guest %d       placement %.3f s, define and start %.3f s  (%s)\n", g + 1,
               secs(prev, pl->t_ms), secs(pl->t_ms, rb->t_ms), pl->msg);
        place_sum += secs(prev, pl->t_ms);
        start_sum += secs(pl->t_ms, rb->t_ms);
        prev = rb->t_ms;
    }
    printf("  placement     (sum over guests)        %6.3f s\n", place_sum);
    printf("  define+start  (sum over guests)        %6.3f s\n", start_sum);
    printf("  journal       power-off -> last \"rebuilt\" step %.2f s  (virDomainCreate returned; "
           "a guest is active a little before)\n", secs(t0, prev));
    printf("  total         power-off -> every guest running elsewhere %.2f s  (target < 10 s: "
           "%s)\n", total, total < 10.0 ? "met" : "MISSED");
    return 0;
}

static void anchors(void)
{
    printf("anchor: Masakari disables the service, then sleeps 180 s (wait_period_after_service"
           "_update) before it evacuates: > 180 s\n");
    printf("anchor: Proxmox HA fences a node after 60 s offline, then recovers its services: > 60 s\n");
    printf("anchor: Kubernetes marks a node NotReady after its 50 s grace (node-monitor-grace-"
           "period), then evicts after the 300 s not-ready toleration: ~350 s\n");
}

int main(int argc, char **argv)
{
    int64_t t0, t_all;
    dv_evac *v, *e;
    size_t n;
    int rc = 1;

    if (argc > 1)
        n_guests = atoi(argv[1]);
    if (n_guests < 1 || n_guests > MAX_GUESTS) {
        fprintf(stderr, "usage: bench/failover [GUESTS 1..%d]\n", MAX_GUESTS);
        return 2;
    }
    et_setup(NULL);
    for (int g = 0; g < n_guests; g++) {
        char name[16];
        snprintf(name, sizeof name, "fo%d", g + 1);
        et_guest(0, name, 64, uuid[g]);
    }
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(60000, et_all_up(ET_REPORT) && et_defs_written(uuid, n_guests)))
        bail_out("the agents did not report and save the definitions in 60 s");
    et_controller_start();
    if (!ET_WAIT(60000, swept()))
        bail_out("the controller did not sweep in 60 s");
    sleep(3);                                /* a few steady heartbeats and sweeps */
    printf("bench/failover: host 1 powered off with %d guests (64 MiB); report_interval 1 s, "
           "service_down_time 3 s, grace 2 s, sweeps every 1 s\n", n_guests);
    t0 = dv_wall_ms();
    et_reap(&et_agent[0], SIGKILL);
    if (lvh_daemon(&et_h, 1, "poweroff") != 0)
        bail_out("host 1 did not power off");
    while (!running_elsewhere()) {
        if (dv_wall_ms() - t0 > 120000)
            bail_out("the guests did not run elsewhere within 120 s");
        usleep(50000);
    }
    t_all = dv_wall_ms();
    if (!ET_WAIT(30000, et_evac_done(0)))
        bail_out("the evacuation of host 1 is not done in the journal");
    et_journal(&v, &n);
    if ((e = et_latest(v, n, 0)))
        rc = report(e, t0, t_all) < 0;
    dv_evacs_free(v, n);
    anchors();
    et_stop_all();
    lvh_stop(&et_h);
    return rc;
}
