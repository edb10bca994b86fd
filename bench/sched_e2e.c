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
 * and CPU (getrusage: this process only, not the servers) per round. */
#include "core/clock.h"
#include "core/config.h"
#include "core/model.h"
#include "core/report.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "tests/harness/harness.h"
#include "tests/harness/scratch.h"
#include "tests/harness/zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sched_e2e_main(int argc, char **argv);

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double ru_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static dv_mc_server mc_server;
static dv_zk_cluster zk;
static char *scratch;

static int setup(dv_config *cfg, const char *driver, drover_error *err)
{
    static const char *const mc_args[] = { "-m", "1024", NULL };
    const char *dir = dv_scratch_dir();
    char path[600];

    if (!dir || !(scratch = strdup(dir)))
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE, "cannot make a scratch directory");
    snprintf(path, sizeof path, "%s/state.db", scratch);
    if (dv_config_set_string(&cfg->servicegroup.driver, driver, err) < 0 ||
        dv_config_set_string(&cfg->servicegroup.db.path, dv_scratch_join(scratch, "bench.db"),
                             err) < 0 ||
        dv_config_set_string(&cfg->state.path, path, err) < 0)
        return -1;
    if (strcmp(driver, "mc") == 0) {
        if (dv_mc_start(&mc_server, NULL, NULL, mc_args) < 0)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC, "cannot start memcached");
        return dv_config_set_string(&cfg->servicegroup.mc.servers.v[0], mc_server.addr, err);
    }
    if (strcmp(driver, "zk") == 0) {
        if (dv_zk_start(&zk, 1) < 0)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK, "cannot start ZooKeeper");
        cfg->servicegroup.zk.session_timeout_ms = 10000;
        return dv_config_set_string(&cfg->servicegroup.zk.hosts, zk.hosts, err);
    }
    return 0;
}

static void teardown(const char *driver)
{
    if (strcmp(driver, "mc") == 0)
        dv_mc_stop(&mc_server);
    if (strcmp(driver, "zk") == 0)
        dv_zk_stop(&zk);
    if (scratch)
        dv_scratch_rmrf(scratch);
    free(scratch);
}

/* bench/liveness's report, with UUIDs unique over the fleet */
static char *make_report(const char *host, size_t idx, int64_t now, drover_error *err)
{
    static const char cpu_xml[] =
        "<cpu><arch>x86_64</arch><model>Icelake-Server</model><vendor>Intel</vendor>"
        "<microcode version='16777619'/><counter name='tsc' frequency='2095078000'/>"
        "<topology sockets='2' dies='1' cores='16' threads='2'/>"
        "<feature name='vmx'/><feature name='pdcm'/><feature name='hypervisor'/>"
        "<feature name='md-clear'/><feature name='invtsc'/></cpu>";
    drover_instance in[4];
    char names[4][32], uuids[4][64], uri[300];
    drover_report r = {
        .schema = DROVER_REPORT_SCHEMA, .host = (char *)host, .generated_ms = now,
        .hypervisor_type = "QEMU", .hypervisor_version = 7002000, .libvirt_version = 9000000,
        .arch = "x86_64", .cpu_xml = (char *)cpu_xml, .memory_total_mib = 515000,
        .memory_free_mib = 200000, .vcpus = 64, .migration_uri = uri, .instances = in,
        .n_instances = 4,
    };
    char *json;

    snprintf(uri, sizeof uri, "qemu+tcp://%s/system", host);
    for (int i = 0; i < 4; i++) {
        snprintf(names[i], sizeof names[i], "instance-%08zx", idx * 4 + (size_t)i);
        snprintf(uuids[i], sizeof uuids[i], "%08x-4c1d-4e2f-8a1b-%012zx", (unsigned)i, idx);
        in[i] = (drover_instance){ names[i], uuids[i], 4096u << (i % 3),
                                   (char *)(i == 3 ? "paused" : "running") };
    }
    return dv_report_to_json(&r, &json, err) < 0 ? NULL : json;
}

static void host_name(char *buf, size_t len, size_t i)
{
    snprintf(buf, len, "compute-%06zu.rack%02zu.example.net", i, i % 40);
}

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
        host_name(host, sizeof host, i);
        if (!(json = make_report(host, i, dv_wall_ms(), err))) {
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

    snprintf(uuid, sizeof uuid, "%08x-4c1d-4e2f-8a1b-%012zx", 0u, n / 2);
    for (int k = 0; k < rounds; k++) {
        dv_sched_result res;
        drover_error err = { 0 };
        dv_sg *sg;
        double t = wall_s(), c = ru_cpu_s();
        int rc = dv_sg_open(cfg, &sg, &err);

        if (rc == 0)
            rc = dv_schedule(cfg, sg, NULL, &o, &res, &err);
        wall[k] = wall_s() - t;
        cpu[k] = ru_cpu_s() - c;
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

static int parse_sizes(const char *s, size_t *v, int max)
{
    int n = 0;
    for (char *end; *s && n < max; s = *end ? end + 1 : end) {
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s || x == 0 || (*end && *end != ','))
            return -1;
        v[n++] = (size_t)x;
    }
    return n;
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
            n_sizes = parse_sizes(argv[++i], sizes, 8);
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
    if (setup(cfg, driver, &err) < 0) {
        fprintf(stderr, "e2e: %s\n", err.message);
        teardown(driver);
        dv_config_free(cfg);
        return 1;
    }
    printf("bench/scheduler --e2e %s: open the backend, read the members, build host states,\n"
           "find the instance, filter, weigh, pick (live checks accept every host)\n", driver);
    printf("anchor: Nova 26 get_filtered_hosts, 9 live-migration filters: ~7.4k hosts/s "
           "(135 ms for 1k, 1.35 s for 10k, 13.5 s for 100k)\n");
    for (int k = 0; k < n_sizes && rc == 0; k++) {
        size_t bytes = 0;
        double t = wall_s();
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
            double first = wall_s() - t;
            t = wall_s();
            for (size_t i = 0; i < sizes[k] && rc == 0; i++) {
                char host[64], *json;
                host_name(host, sizeof host, i);
                if (!(json = make_report(host, i, dv_wall_ms(), &err)) ||
                    dv_sg_heartbeat(members, cfg->agent.group, host, json, &err) < 0)
                    rc = 1;
                free(json);
            }
            printf("  (%zu members, report %zu bytes, populated in %.1f s; heartbeats again: "
                   "%.0f/s)\n", sizes[k], bytes, first, (double)sizes[k] / (wall_s() - t));
        }
        fflush(stdout);
        if ((pid = fork()) == 0)
            _exit(rounds_run(cfg, sizes[k], r));
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            rc = 1;
        dv_sg_close(members);
    }
    teardown(driver);
    dv_config_free(cfg);
    return rc;
}
