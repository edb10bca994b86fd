/* detection_zk.c - how long after an agent dies does a reader see it DOWN,
 * with the zk driver?
 *
 *   bench/detection_zk [--agents N] [--session-ms MS] [--sweep-ms MS]
 *
 * Starts a standalone ZooKeeper (tests/harness/zookeeper.sh) and N agents
 * (cmd/droverd on libvirt's test driver; report_interval 1 s,
 * service_down_time 3 s, ZooKeeper session 2 s by default), then kills
 * them with SIGKILL one after another at random points of their heartbeat
 * cycle while a reader sweeps the group (get_all every --sweep-ms, default
 * 100 ms).  Prints, per agent and summed up, the time from kill -9 to the
 * first sweep that shows it DOWN.  Run by hand, not a test. */
#include "tests/harness/zk.h"
#include "tests/integration/zktest.h"

#include "drivers/servicegroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "compute"
#define MAX_AGENTS 100

typedef struct victim {
    char host[32];
    pid_t pid;
    int64_t kill_at, killed, seen_down;   /* monotonic ms; 0 = not yet */
} victim;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int usage(FILE *to, int rc)
{
    fprintf(to, "usage: detection_zk [--agents N (1..%d, default 10)] [--session-ms MS (default 2000)]"
                " [--sweep-ms MS (default 100)]\n", MAX_AGENTS);
    return rc;
}

/* One sweep: note every killed agent the reader now sees DOWN. */
static int sweep(dv_sg *r, victim *v, int n, long *sweeps, long *unknown)
{
    drover_member *all = NULL;
    drover_error err = { 0 };
    size_t got = 0;
    int64_t now;

    if (dv_sg_get_all(r, GROUP, &all, &got, &err) < 0) {
        fprintf(stderr, "detection_zk: get_all: %s\n", err.message);
        return -1;
    }
    now = dv_mono_ms();
    (*sweeps)++;
    for (size_t i = 0; i < got; i++) {
        if (all[i].state == DROVER_UNKNOWN)
            (*unknown)++;
        for (int k = 0; k < n; k++)
            if (v[k].killed && !v[k].seen_down && all[i].state == DROVER_DOWN &&
                strcmp(all[i].host, v[k].host) == 0)
                v[k].seen_down = now;
    }
    drover_members_free(all, got);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 10, session_ms = 2000, sweep_ms = 100, rc = 1, detected = 0, early_down = 0;
    dv_zk_cluster zk = { .dir = "" };
    victim v[MAX_AGENTS] = { { .pid = 0 } };
    int64_t lat[MAX_AGENTS], t0, give_up;
    long sweeps = 0, unknown = 0;
    const char *dir;
    char conf[600];
    dv_config *cfg = NULL;
    drover_error err = { 0 };
    dv_sg *r = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--agents") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--session-ms") == 0 && i + 1 < argc)
            session_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sweep-ms") == 0 && i + 1 < argc)
            sweep_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0)
            return usage(stdout, 0);
        else
            return usage(stderr, 2);
    }
    if (n < 1 || n > MAX_AGENTS || session_ms < 400 || session_ms > 60000 || sweep_ms < 1 ||
        sweep_ms > 10000)
        return usage(stderr, 2);
    if (!(dir = zkt_tmpdir()) || dv_zk_start(&zk, 1) < 0) {
        fprintf(stderr, "detection_zk: cannot start ZooKeeper\n");
        goto out;
    }
    if (!(cfg = zkt_config(zk.hosts, dir, session_ms, "/drover", NULL)))
        goto out;
    snprintf(conf, sizeof conf, "%s/drover.conf", dir);
    if (zkt_write_config(cfg, conf) < 0 || dv_sg_open(cfg, &r, &err) < 0) {
        fprintf(stderr, "detection_zk: setup failed\n");
        goto out;
    }
    srandom((unsigned)dv_wall_ms());
    for (int k = 0; k < n; k++) {
        char log[700];

        snprintf(v[k].host, sizeof v[k].host, "victim-%02d", k);
        if (snprintf(log, sizeof log, "%s/droverd-%s.log", dir, v[k].host) >= (int)sizeof log ||
            (v[k].pid = zkt_spawn_agent(conf, v[k].host, log, 30000)) < 0)
            goto out;
    }
    printf("zk detection: %d agents, report_interval %d s, service_down_time %d s, session %d ms,"
           " reader sweeps every %d ms\n", n, cfg->servicegroup.report_interval,
           cfg->servicegroup.service_down_time, session_ms, sweep_ms);
    dv_sleep_ms(1500);
    /* kills 700 ms apart, each at a random point of the 1 s heartbeat cycle */
    t0 = dv_mono_ms();
    for (int k = 0; k < n; k++)
        v[k].kill_at = t0 + 700 * k + random() % 1000;
    give_up = v[n - 1].kill_at + 10 * session_ms + 10000;
    while (detected < n && dv_mono_ms() < give_up) {
        int64_t next = dv_mono_ms() + sweep_ms;

        for (int k = 0; k < n; k++) {
            if (!v[k].killed && dv_mono_ms() >= v[k].kill_at) {
                kill(v[k].pid, SIGKILL);
                v[k].killed = dv_mono_ms();
                waitpid(v[k].pid, NULL, 0);
                v[k].pid = 0;
            }
        }
        if (sweep(r, v, n, &sweeps, &unknown) < 0)
            goto out;
        detected = 0;
        for (int k = 0; k < n; k++)
            detected += v[k].seen_down != 0;
        while (dv_mono_ms() < next)
            dv_sleep_ms(next - dv_mono_ms());
    }
    for (int k = 0, m = 0; k < n; k++) {
        if (!v[k].seen_down) {
            printf("  %s: not DOWN within %lld ms of its kill\n", v[k].host,
                   (long long)(give_up - v[k].killed));
            continue;
        }
        lat[m++] = v[k].seen_down - v[k].killed;
        early_down += lat[m - 1] < session_ms / 2;
        printf("  %s: kill -9 -> DOWN in %5lld ms\n", v[k].host, (long long)lat[m - 1]);
    }
    if (detected) {
        int p90 = detected * 9 / 10 < detected ? detected * 9 / 10 : detected - 1;

        qsort(lat, (size_t)detected, sizeof *lat, cmp_i64);
        printf("kill -9 -> DOWN over %d agents: min %lld ms, median %lld ms, p90 %lld ms, max %lld ms"
               " (%ld sweeps, %ld UNKNOWN answers)\n", detected, (long long)lat[0],
               (long long)lat[detected / 2], (long long)lat[p90], (long long)lat[detected - 1],
               sweeps, unknown);
    }
    printf("anchor: Nova's defaults (report_interval 10 s, service_down_time 60 s) detect in up to 60 s\n");
    rc = detected == n && !early_down ? 0 : 1;
out:
    for (int k = 0; k < n && k < MAX_AGENTS; k++)
        if (v[k].pid > 0)
            zkt_reap(v[k].pid, SIGKILL);
    dv_sg_close(r);
    dv_config_free(cfg);
    dv_zk_stop(&zk);
    zkt_rmrf(dir);
    return rc;
}
