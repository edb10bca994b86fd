/* bench/state.c - the state store's figures, on a real SQLite file and a
 * real standalone ZooKeeper (tests/harness/zookeeper.sh):
 *   claims per second (claim_try, a claim per call, over 20 hosts),
 *   conditional-write latency (record_put at the version read), p50/p99,
 *   lease failover: the holder (its own process) SIGKILLed -> a contender
 *   holds the lease, with a 2 s session (zk) / 2 s lease (sqlite). */
#include "tests/harness/scratch.h"
#include "tests/harness/zk.h"
#include "tests/integration/zktest.h"
#include "store/store.h"

#include <inttypes.h>

static dv_zk_cluster zk;
static char *dir;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static dv_config *cfg_for(const char *backend)
{
    dv_config *cfg = zkt_config(zk.hosts, dir, 2000, "/bench", NULL);
    if (!cfg || dv_config_set_string(&cfg->state.backend, backend, NULL) < 0)
        exit(2);
    return cfg;
}

static dv_store *open_or_die(const dv_config *cfg)
{
    drover_error err = { 0 };
    dv_store *st;
    if (dv_store_open(cfg, &st, &err) < 0) {
        fprintf(stderr, "bench/state: %s\n", err.message);
        exit(2);
    }
    return st;
}

static void bench_claims(const char *backend, dv_store *st, int n)
{
    drover_error err = { 0 };
    int64_t t0 = dv_mono_ms(), id;
    char host[32], uuid[32];

    for (int i = 0; i < n; i++) {
        snprintf(host, sizeof host, "h%d", i % 20);
        snprintf(uuid, sizeof uuid, "u%d", i);
        if (dv_store_claim_try(st, host, uuid, "bench", 1, 1u << 30, 600, 0, NULL, &id, &err) < 0) {
            fprintf(stderr, "claim: %s\n", err.message);
            exit(1);
        }
    }
    double s = (double)(dv_mono_ms() - t0) / 1000.0;
    printf("%-6s claims:            %6d in %.2f s = %.0f claims/s\n", backend, n, s, n / s);
}

static void bench_writes(const char *backend, dv_store *st, int n)
{
    drover_error err = { 0 };
    int64_t *lat = calloc((size_t)n, sizeof *lat), v = DV_STORE_NEW;

    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (dv_store_record_put(st, "bench", "doc", "{\"n\":1}", v, NULL, &v, &err) < 0) {
            fprintf(stderr, "write: %s\n", err.message);
            exit(1);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        lat[i] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("%-6s conditional write: %6d writes, p50 %" PRId64 " us, p99 %" PRId64 " us\n",
           backend, n, lat[n / 2], lat[n * 99 / 100]);
    free(lat);
}

static int64_t failover_once(const dv_config *cfg, dv_store *st, const char *name)
{
    drover_error err = { 0 };
    int fds[2];
    int64_t epoch, t0;
    char c;
    pid_t pid;

    if (pipe(fds) < 0)
        exit(2);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        dv_store *mine = open_or_die(cfg);
        if (dv_store_lease_acquire(mine, name, "holder", 2000, &epoch, &err) < 0)
            _exit(1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        for (;;) {
            dv_sleep_ms(300);
            dv_store_lease_renew(mine, name, "holder", epoch, 2000, &err);
        }
    }
    if (read(fds[0], &c, 1) != 1)
        exit(1);
    close(fds[0]);
    close(fds[1]);
    dv_sleep_ms(500);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    t0 = dv_mono_ms();
    while (dv_store_lease_acquire(st, name, "contender", 2000, &epoch, &err) < 0) {
        if (dv_mono_ms() - t0 > 60000)
            return -1;
        dv_sleep_ms(20);
    }
    int64_t took = dv_mono_ms() - t0;
    dv_store_lease_release(st, name, "contender", epoch, &err);
    return took;
}

static void bench_failover(const char *backend, const dv_config *cfg, dv_store *st)
{
    int64_t t[3];
    char name[32];

    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "bench%d", i);
        t[i] = failover_once(cfg, st, name);
    }
    printf("%-6s lease failover (2 s %s): holder killed -> new holder in %" PRId64 ", %" PRId64
           ", %" PRId64 " ms\n", backend, strcmp(backend, "zk") == 0 ? "session" : "lease",
           t[0], t[1], t[2]);
}

int main(int argc, char **argv)
{
    int n_sqlite = 2000, n_zk = 500;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: bench/state [N_SQLITE N_ZK]\n"
               "Claims per second, conditional-write latency (p50/p99) and lease failover\n"
               "time of the sqlite and zk state stores (a standalone ZooKeeper is started).\n");
        return 0;
    }
    if (argc > 2) {
        n_sqlite = atoi(argv[1]);
        n_zk = atoi(argv[2]);
    }
    if (!(dir = dv_scratch_dir()) || !(dir = strdup(dir)) || dv_zk_start(&zk, 1) < 0)
        return 2;
    const char *backends[] = { "sqlite", "zk" };
    for (int b = 0; b < 2; b++) {
        dv_config *cfg = cfg_for(backends[b]);
        dv_store *st = open_or_die(cfg);
        int n = b == 0 ? n_sqlite : n_zk;
        bench_claims(backends[b], st, n);
        bench_writes(backends[b], st, n);
        bench_failover(backends[b], cfg, st);
        dv_store_close(st);
        dv_config_free(cfg);
    }
    dv_zk_stop(&zk);
    dv_scratch_rmrf(dir);
    free(dir);
    return 0;
}
