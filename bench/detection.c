/* detection.c - how long from an agent's death to DOWN?
 *
 *   bench/detection [--driver db,mc,zk] [--trials 5]
 *
 * For each driver: start its backend (the project's harness), then, per
 * trial, run a real droverd (the agent, on libvirt's test driver) at
 * report_interval 1 s with service_down_time 3 s (zk: a 2 s session, which
 * is what ends a killed agent's membership), wait until its host is UP,
 * wait a random 1-2 s (so the kill lands anywhere between two heartbeats),
 * kill -9 it, and sweep the group with get_all every 20 ms until the host is
 * DOWN.  Prints min / median / max of kill -> DOWN per driver.  Run from the
 * build directory (or set DROVERD=path/to/droverd); run by hand, not a test.
 *
 * A driver is a row in `drivers` below: how to start its backend and the
 * lines of the servicegroup section that point at it.
 */
#include "core/clock.h"
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "tests/harness/harness.h"
#include "tests/harness/scratch.h"
#include "tests/harness/zk.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPORT_INTERVAL 1
#define DOWN_TIME 3
#define GROUP "compute"

static char dir[512];

/* ---------------------------------------------------------------- drivers */

typedef struct bench_driver {
    const char *name;
    /* Start the backend; write the driver's lines of the servicegroup
     * section into sect.  0 or -1 (message printed). */
    int (*setup)(char *sect, size_t len);
    void (*teardown)(void);
} bench_driver;

static int db_setup(char *sect, size_t len)
{
    snprintf(sect, len, "  db = { path = \"%s/drover.db\"; };\n", dir);
    return 0;
}

static dv_mc_server mc;

static int mc_setup(char *sect, size_t len)
{
    if (dv_mc_start(&mc, NULL, NULL, NULL) < 0) {
        fprintf(stderr, "detection: cannot start memcached\n");
        return -1;
    }
    snprintf(sect, len, "  mc = { servers = [ \"%s\" ]; poll_timeout_ms = 500; retry_timeout_s = 1; };\n",
             mc.addr);
    return 0;
}

static void mc_teardown(void)
{
    dv_mc_stop(&mc);
}

/* zk: a standalone ZooKeeper of our own; the agent's session times out
 * after 2 s, which is what ends its membership when it is killed. */
static dv_zk_cluster zk;

static int zk_setup(char *sect, size_t len)
{
    if (dv_zk_start(&zk, 1) < 0) {
        fprintf(stderr, "detection: cannot start ZooKeeper\n");
        return -1;
    }
    snprintf(sect, len, "  zk = { hosts = \"%s\"; session_timeout_ms = 2000; };\n", zk.hosts);
    return 0;
}

static void zk_teardown(void)
{
    dv_zk_stop(&zk);
}

static const bench_driver drivers[] = {
    { "db", db_setup, NULL },
    { "mc", mc_setup, mc_teardown },
    { "zk", zk_setup, zk_teardown },
};

/* ---------------------------------------------------------------- agent */

static pid_t start_droverd(const char *droverd, const char *conf, const char *host)
{
    char log[600];
    const char *argv[] = { droverd, "-c", conf, "--host", host, "--libvirt-uri", "test:///default",
                           "--log-level", "warning", NULL };
    pid_t pid;

    snprintf(log, sizeof log, "%s/droverd-%s.log", dir, host);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        execv(droverd, (char *const *)argv);
        fprintf(stderr, "detection: cannot run %s: %s\n", droverd, strerror(errno));
        _exit(127);
    }
    return pid;
}

static drover_liveness state_in(dv_sg *sg, const char *host, bool *ok)
{
    drover_member *m;
    drover_error err;
    size_t n;
    drover_liveness s = DROVER_UNKNOWN;

    *ok = false;
    if (dv_sg_get_all(sg, GROUP, &m, &n, &err) < 0) {
        fprintf(stderr, "detection: get_all: %s\n", err.message);
        return s;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].host, host) == 0) {
            s = m[i].state;
            *ok = true;
        }
    drover_members_free(m, n);
    return s;
}

/* One trial: kill -> DOWN in ms, or -1. */
static int64_t trial(dv_sg *sg, const char *droverd, const char *conf, int k, int *unknown)
{
    char host[32];
    pid_t pid;
    int64_t t0, deadline;
    bool listed;
    drover_error err;

    snprintf(host, sizeof host, "detect-%02d", k);
    if ((pid = start_droverd(droverd, conf, host)) < 0)
        return -1;
    deadline = dv_mono_ms() + 15000;
    while (state_in(sg, host, &listed) != DROVER_UP && dv_mono_ms() < deadline)
        dv_sleep_ms(50);
    if (dv_mono_ms() >= deadline) {
        fprintf(stderr, "detection: %s never came UP (see %s/droverd-%s.log)\n", host, dir, host);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    dv_sleep_ms(1000 + rand() % 1000);
    kill(pid, SIGKILL);
    t0 = dv_mono_ms();
    waitpid(pid, NULL, 0);
    deadline = t0 + 30000;
    for (;;) {
        drover_liveness s = state_in(sg, host, &listed);
        if (s == DROVER_DOWN)
            break;
        *unknown += s == DROVER_UNKNOWN;
        if (dv_mono_ms() > deadline)
            return -1;
        dv_sleep_ms(20);
    }
    t0 = dv_mono_ms() - t0;
    dv_sg_leave(sg, GROUP, host, &err);
    return t0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int run_driver(const bench_driver *bd, const char *droverd, int trials)
{
    char sect[1024], conf[600], text[2048];
    int64_t t[64];
    int n = 0, unknown = 0;
    dv_config *cfg = NULL;
    drover_error err;
    dv_sg *sg = NULL;
    FILE *f;

    if (bd->setup(sect, sizeof sect) < 0)
        return -1;
    snprintf(conf, sizeof conf, "%s/%s.conf", dir, bd->name);
    snprintf(text, sizeof text,
             "servicegroup = {\n  driver = \"%s\";\n  report_interval = %d;\n"
             "  service_down_time = %d;\n%s};\nagent = { group = \"%s\"; };\n"
             "state = { path = \"%s/state-%s.db\"; };\nlog = { level = \"warning\"; };\n",
             bd->name, REPORT_INTERVAL, DOWN_TIME, sect, GROUP, dir, bd->name);
    if (!(f = fopen(conf, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "detection: cannot write %s\n", conf);
        goto out;
    }
    if (dv_config_load(conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0) {
        fprintf(stderr, "detection: %s\n", err.message);
        goto out;
    }
    for (int k = 0; k < trials; k++) {
        int64_t ms = trial(sg, droverd, conf, k, &unknown);
        if (ms < 0)
            goto out;
        t[n++] = ms;
        printf("  %s trial %d: DOWN %lld ms after kill -9\n", bd->name, k + 1, (long long)ms);
        fflush(stdout);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_i64);
    printf("%-3s kill -9 -> DOWN: min %.2f s, median %.2f s, max %.2f s over %d trials"
           " (UNKNOWN seen %d times)\n", bd->name, t[0] / 1e3,
           (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2) / 1e3, t[n - 1] / 1e3, n, unknown);
out:
    dv_sg_close(sg);
    dv_config_free(cfg);
    if (bd->teardown)
        bd->teardown();
    return n == trials ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *want = "db,mc,zk", *droverd = getenv("DROVERD");
    const char *scratch;
    int trials = 5, rc = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--driver") == 0 && i + 1 < argc)
            want = argv[++i];
        else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc &&
                 (trials = atoi(argv[++i])) >= 1 && trials <= 64)
            ;
        else {
            fprintf(stderr, "usage: detection [--driver db,mc,zk] [--trials 1..64]\n");
            return 2;
        }
    }
    if (!droverd || !*droverd)
        droverd = "./cmd/droverd";
    if (access(droverd, X_OK) != 0) {
        fprintf(stderr, "detection: %s is not built (run from the build directory or set DROVERD)\n",
                droverd);
        return 2;
    }
    if (!(scratch = dv_scratch_dir())) {
        fprintf(stderr, "detection: cannot make a scratch directory: %s\n", strerror(errno));
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", scratch);
    srand((unsigned)getpid());
    printf("kill -9 of a droverd (report_interval %d s, service_down_time %d s) -> DOWN seen by a "
           "reader sweeping every 20 ms\n", REPORT_INTERVAL, DOWN_TIME);
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
        size_t len = strlen(drivers[i].name);
        const char *p = strstr(want, drivers[i].name);
        if (!p || (p != want && p[-1] != ',') || (p[len] && p[len] != ','))
            continue;
        if (run_driver(&drivers[i], droverd, trials) < 0) {
            fprintf(stderr, "detection: the %s driver failed\n", drivers[i].name);
            rc = 1;
        }
    }
    printf("anchor: Nova defaults (report_interval 10 s, service_down_time 60 s) detect in up to 60 s\n");
    dv_scratch_rmrf(dir);
    return rc;
}
