/* sched_e2e.c - bench/scheduler --e2e: one placement end to end.
 *
 *   bench/scheduler --e2e DRIVER [--hosts 1000,10000,100000] [--rounds R]
 *
 * For each size N: N members with real-shaped reports (~1.1 KiB of JSON
 * each, with the host CPU XML and 4 guests, as bench/liveness makes them)
 * heartbeat into a real backend (db: a SQLite file; mc, zk: servers the
 * harness starts).  Then, in a child process (so its peak RSS is the
 * placement's, not the population's), each round times what `drover
 * schedule` does before its live checks: open the backend, dv_schedule()
 * with a live check that accepts every host, the chosen host.  Prints wall
 * and CPU (this process only, not the servers) per round. */
#include "core/clock.h"
#include "core/config.h"
#include "core/model.h"
#include "core/report.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "tests/harness/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sched_e2e_main(int argc, char **argv);

static dv_fleet_backend backend;

/* The handle stays open until the rounds are done: with zk a member is
 * there only while the session that made its node lives. */
static int populate(const dv_config *cfg, size_t n, size_t *bytes, dv_sg **out,
                    drover_error *err)
{
    char host[64];
    dv_sg *sg;
    int rc = 0;

    *out = NULL;
    if (dv_sg_open(cfg, &sg, err) < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *json;
        dv_fleet_host(host, sizeof host, i);
        if (!(json = dv_fleet_report(host, i, dv_wall_ms(), err))) {
            rc = -1;
            break;
        }
        *bytes = strlen(json);
        rc = dv_sg_heartbeat(sg, cfg->agent.group, host, json, err);
        free(json);
    }
    if (rc < 0)
        dv_sg_close(sg);
    else
        *out = sg;
    return rc;
}

static int accept_all(dv_live_check *lc, const dv_host_state *dest, const dv_sched_request *r,
                      char *why, size_t len)
{
    (void)lc, (void)dest, (void)r, (void)why, (void)len;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long rss_kib_now(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The timed rounds (in the child). */
static int rounds_run(const dv_config *cfg, size_t n, int rounds)
{
    char uuid[64];
    dv_live_check live = { .name = "accept", .check = accept_all };
    dv_sched_opts o = { .instance = uuid, .live = &live };
    double wall[64], cpu[64];
    long rss0 = rss_kib_now();
    struct rusage ru;
    char chosen[128] = "";

    dv_fleet_uuid(uuid, sizeof uuid, n / 2, 0);
    for (int k = 0; k < rounds; k++) {
        dv_sched_result res;
        drover_error err = { 0 };
        dv_sg *sg;
        double t = dv_fleet_clock(CLOCK_MONOTONIC), c = dv_fleet_clock(CLOCK_PROCESS_CPUTIME_ID);
        int rc = dv_sg_open(cfg, &sg, &err);

        if (rc == 0)
            rc = dv_schedule(cfg, sg, NULL, &o, &res, &err);
        wall[k] = dv_fleet_clock(CLOCK_MONOTONIC) - t;
        cpu[k] = dv_fleet_clock(CLOCK_PROCESS_CPUTIME_ID) - c;
        if (rc < 0) {
            fprintf(stderr, "e2e: %zu hosts: %s\n", n, err.message);
            return 1;
        }
        snprintf(chosen, sizeof chosen, "%s", res.host ? res.host : "(none)");
        dv_sched_result_clear(&res);
        dv_sg_close(sg);
    }
    qsort(wall, (size_t)rounds, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)rounds, sizeof *cpu, cmp_double);
    getrusage(RUSAGE_SELF, &ru);
    printf("  %-3s %7zu hosts  %2d rounds  wall p50 %8.1f ms  min %8.1f ms  cpu p50 %8.1f ms"
           "  %7.0f k hosts/s  %7.0f k hosts/CPU-s  RSS %5.1f MiB (%.1f at start)  -> %s\n",
           cfg->servicegroup.driver, n, rounds, wall[rounds / 2] * 1e3, wall[0] * 1e3,
           cpu[rounds / 2] * 1e3, (double)n / wall[rounds / 2] / 1e3,
           (double)n / cpu[rounds / 2] / 1e3, (double)ru.ru_maxrss / 1024.0, (double)rss0 / 1024.0,
           chosen);
    fflush(stdout);
    return 0;
}

int sched_e2e_main(int argc, char **argv)
{
    const char *driver = argc > 0 ? argv[0] : "db";
    size_t sizes[8] = { 1000, 10000, 100000 };
    int n_sizes = 3, rounds = 0, rc = 0;
    drover_error err = { 0 };
    dv_config *cfg = dv_config_new_defaults();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hosts") == 0 && i + 1 < argc)
            n_sizes = dv_fleet_sizes(argv[++i], sizes, 8);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else
            n_sizes = -1;
    }
    if (n_sizes <= 0 || rounds < 0 || rounds > 64 || !cfg) {
        fprintf(stderr, "usage: scheduler --e2e DRIVER [--hosts N[,N...]] [--rounds R<=64]\n");
        dv_config_free(cfg);
        return 2;
    }
    if (dv_fleet_backend_start(&backend, cfg, driver, &err) < 0) {
        fprintf(stderr, "e2e: %s\n", err.message);
        dv_fleet_backend_stop(&backend);
        dv_config_free(cfg);
        return 1;
    }
    printf("bench/scheduler --e2e %s: open the backend, read the members, build host states,\n"
           "find the instance, filter, weigh, pick (live checks accept every host)\n", driver);
    printf("anchor: Nova 26 get_filtered_hosts, 9 live-migration filters: ~7.4k hosts/s "
           "(135 ms for 1k, 1.35 s for 10k, 13.5 s for 100k)\n");
    for (int k = 0; k < n_sizes && rc == 0; k++) {
        size_t bytes = 0;
        double t = dv_fleet_clock(CLOCK_MONOTONIC);
        int r = rounds ? rounds : sizes[k] >= 100000 ? 5 : sizes[k] >= 10000 ? 11 : 21;
        int status = 0;
        dv_sg *members = NULL;
        pid_t pid;

        /* one group per size, so the sizes need no cleaning between */
        char group[32];
        snprintf(group, sizeof group, "e2e-%zu", sizes[k]);
        if (dv_config_set_string(&cfg->agent.group, group, &err) < 0 ||
            populate(cfg, sizes[k], &bytes, &members, &err) < 0) {
            fprintf(stderr, "e2e: populating %zu: %s\n", sizes[k], err.message);
            rc = 1;
            break;
        }
        {
            /* the steady state: every member heartbeats again, guests unchanged */
            double first = dv_fleet_clock(CLOCK_MONOTONIC) - t;
            t = dv_fleet_clock(CLOCK_MONOTONIC);
            for (size_t i = 0; i < sizes[k] && rc == 0; i++) {
                char host[64], *json;
                dv_fleet_host(host, sizeof host, i);
                if (!(json = dv_fleet_report(host, i, dv_wall_ms(), &err)) ||
                    dv_sg_heartbeat(members, cfg->agent.group, host, json, &err) < 0)
                    rc = 1;
                free(json);
            }
            printf("  (%zu members, report %zu bytes, populated in %.1f s; heartbeats again: "
                   "%.0f/s)\n", sizes[k], bytes, first, (double)sizes[k] / (dv_fleet_clock(CLOCK_MONOTONIC) - t));
        }
        fflush(stdout);
        if ((pid = fork()) == 0)
            _exit(rounds_run(cfg, sizes[k], r));
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            rc = 1;
        dv_sg_close(members);
    }
    dv_fleet_backend_stop(&backend);
    dv_config_free(cfg);
    return rc;
}
