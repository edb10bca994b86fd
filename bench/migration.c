/* bench/migration.c - drover's overhead on a live migration, against
 * virsh's.  Not a test: it prints figures.
 *
 * Two real libvirt hosts (tests/harness/lvhosts.h) and one test guest moved
 * back and forth, alternating the tool each move: `virsh migrate --live
 * --p2p --persistent --undefinesource` (the flags drover always sets) and
 * `drover migrate --to`, both run as processes from argv (no shell), each
 * timed from fork to exit.  For every move:
 *  - the wall time, and the ratio of drover's mean to virsh's (target <= 1.05);
 *  - libvirt's downtime (completed job stats on the destination);
 *  - for drover's moves, the lag from libvirt's job-completed event (a
 *    callback this bench registers on the source connection) to the
 *    moment drover's record says completed (its ended_ms, the same wall
 *    clock): target <= 50 ms at p99.
 *
 * The wall time includes the policy's effect: adaptive starts the maximum
 * downtime where virsh's is (QEMU's default, 300 ms) and raises it only when
 * the remaining data stops shrinking; "outside libvirt's job" isolates
 * drover's own cost (process, checks, records).
 *
 * usage: bench/migration [--rounds N] [--memory-mib N] [--wss MIB]
 *                        [--policy adaptive|nova] */
#include "tests/integration/migtest.h"

#include <pthread.h>
#include <time.h>

#define GUEST "dvb-mig"

static int64_t now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- the event */

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t ev_wall_ms[2];      /* per source host: the last job-completed event */

static void on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                             int nparams, void *opaque)
{
    int k = (int)(intptr_t)opaque;
    int64_t t = now_wall_ms();

    (void)conn;
    (void)params;
    (void)nparams;
    if (strcmp(virDomainGetName(dom), GUEST) != 0)
        return;
    pthread_mutex_lock(&ev_mu);
    ev_wall_ms[k] = t;
    pthread_mutex_unlock(&ev_mu);
}

static void *event_loop(void *arg)
{
    (void)arg;
    for (;;)
        if (virEventRunDefaultImpl() < 0)
            dv_sleep_ms(10);
    return NULL;
}

/* ---------------------------------------------------------------- one move */

static int run_argv(const char *const *argv, int timeout_s)
{
    pid_t pid;
    int st = 0;

    fflush(stdout);
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < timeout_s * 1000 && waitpid(pid, &st, WNOHANG) == 0; i++)
        usleep(1000);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* libvirt's downtime of the last completed job on host k; *elapsed its time */
static int64_t downtime_on(int k, int64_t *elapsed)
{
    virDomainPtr d = virDomainLookupByName(mt_conn[k], GUEST);
    virTypedParameterPtr p = NULL;
    int n = 0, type;
    unsigned long long v = 0;
    int64_t dt = -1;

    if (d && virDomainGetJobStats(d, &type, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0 &&
        virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
        dt = (int64_t)v;
    *elapsed = -1;
    if (p && virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1)
        *elapsed = (int64_t)v;
    virTypedParamsFree(p, n);
    if (d)
        virDomainFree(d);
    return dt;
}

typedef struct move {
    bool drover;
    int from;
    double wall_ms;
    int64_t downtime_ms, lag_ms, job_ms;
} move;

static void move_virsh(int from, move *m)
{
    const char *argv[] = { "virsh", "-q", "-c", mt_h.host[from].uri, "migrate", "--live", "--p2p",
                           "--persistent", "--undefinesource", GUEST,
                           mt_h.host[1 - from].p2p_uri, NULL };
    int64_t t0 = dv_mono_ms();

    if (run_argv(argv, 120) != 0)
        bail_out("virsh migrate from host %d failed", from + 1);
    m->wall_ms = (double)(dv_mono_ms() - t0);
    m->downtime_ms = downtime_on(1 - from, &m->job_ms);
    m->lag_ms = -1;
}

static const char *policy = "adaptive";

static void move_drover(int from, move *m)
{
    const char *argv[] = { mt_bin, "-c", mt_conf, "migrate", GUEST, "--to",
                           mt_h.host[1 - from].name, "--policy", policy, NULL };
    dv_mig_record rec;
    int64_t t0, ev;

    mt_publish();              /* where the guest is now, as its agent would say */
    pthread_mutex_lock(&ev_mu);
    ev_wall_ms[from] = 0;
    pthread_mutex_unlock(&ev_mu);
    t0 = dv_mono_ms();
    if (run_argv(argv, 120) != 0)
        bail_out("drover migrate from host %d failed", from + 1);
    m->wall_ms = (double)(dv_mono_ms() - t0);
    m->downtime_ms = downtime_on(1 - from, &m->job_ms);
    if (!mt_record(GUEST, &rec) || rec.state != DV_MIG_COMPLETED)
        bail_out("drover's record is not completed");
    for (int i = 0; i < 100; i++) {     /* the event may trail the process's end */
        pthread_mutex_lock(&ev_mu);
        ev = ev_wall_ms[from];
        pthread_mutex_unlock(&ev_mu);
        if (ev)
            break;
        dv_sleep_ms(10);
    }
    m->lag_ms = ev ? rec.ended_ms - ev : -1;
}

/* ---------------------------------------------------------------- figures */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, int n, double p)
{
    int i;
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    i = (int)(p * (n - 1) + 0.999);
    return v[i < n ? i : n - 1];
}

static void report(const move *mv, int n)
{
    double sum[2] = { 0, 0 }, job[2] = { 0, 0 };
    int cnt[2] = { 0, 0 }, nl = 0;
    int64_t dts[2][256], lags[256];
    int ndt[2] = { 0, 0 };

    for (int i = 0; i < n; i++) {
        int t = mv[i].drover;
        sum[t] += mv[i].wall_ms;
        job[t] += (double)mv[i].job_ms;
        cnt[t]++;
        if (mv[i].downtime_ms >= 0 && ndt[t] < 256)
            dts[t][ndt[t]++] = mv[i].downtime_ms;
        if (t && mv[i].lag_ms >= 0 && nl < 256)
            lags[nl++] = mv[i].lag_ms;
    }
    printf("\n%-8s %6s %12s %14s %16s %16s\n", "tool", "moves", "wall mean", "job mean",
           "downtime p50", "downtime max");
    for (int t = 0; t < 2; t++)
        printf("%-8s %6d %9.0f ms %11.0f ms %13lld ms %13lld ms\n", t ? "drover" : "virsh",
               cnt[t], cnt[t] ? sum[t] / cnt[t] : 0.0, cnt[t] ? job[t] / cnt[t] : 0.0,
               (long long)pct(dts[t], ndt[t], 0.5), (long long)pct(dts[t], ndt[t], 1.0));
    if (cnt[0] && cnt[1])
        printf("outside libvirt's job: virsh %.0f ms, drover %.0f ms per move\n",
               (sum[0] - job[0]) / cnt[0], (sum[1] - job[1]) / cnt[1]);
    if (cnt[0] && cnt[1])
        printf("wall-time ratio drover/virsh: %.3f (target <= 1.05)\n",
               (sum[1] / cnt[1]) / (sum[0] / cnt[0]));
    printf("job-completed event -> record completed: p50 %lld ms, p99 %lld ms, max %lld ms "
           "over %d moves (target <= 50 ms at p99)\n",
           (long long)pct(lags, nl, 0.5), (long long)pct(lags, nl, 0.99),
           (long long)pct(lags, nl, 1.0), nl);
}

int main(int argc, char **argv)
{
    int rounds = 5, mib = 128, wss = 8;
    char cmd[32];
    lvh_beat b;
    pthread_t th;
    move mv[512];
    int n = 0, from = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--memory-mib"))
            mib = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--wss"))
            wss = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--policy"))
            policy = argv[i + 1];
    }
    if (rounds < 1 || rounds > 128)
        rounds = 5;
    signal(SIGPIPE, SIG_IGN);
    if (virEventRegisterDefaultImpl() < 0 || pthread_create(&th, NULL, event_loop, NULL) != 0)
        bail_out("no libvirt event loop");
    mt_setup(NULL);
    for (int k = 0; k < 2; k++)
        if (virConnectDomainEventRegisterAny(mt_conn[k], NULL, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                             VIR_DOMAIN_EVENT_CALLBACK(on_job_completed),
                                             (void *)(intptr_t)k, NULL) < 0)
            bail_out("cannot register the job-completed event on host %d", k + 1);
    snprintf(cmd, sizeof cmd, "wss=%d", wss);
    virDomainFree(mt_guest(0, GUEST, mib, cmd, &b));
    printf("guest %s: %d MiB, wss %d MiB; %d rounds of 2 moves (virsh and drover alternating); "
           "drover's policy %s\n", GUEST, mib, wss, rounds, policy);
    for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < 2; j++) {
            move *m = &mv[n++];
            /* the tool alternates every move; the direction too, so each
             * tool moves the guest both ways */
            m->drover = ((r + j) % 2) == 1;
            m->from = from;
            if (m->drover)
                move_drover(from, m);
            else
                move_virsh(from, m);
            printf("round %d: %-6s host %d -> %d: %6.0f ms (libvirt's job %lld ms), downtime "
                   "%lld ms", r + 1, m->drover ? "drover" : "virsh", from + 1, 2 - from,
                   m->wall_ms, (long long)m->job_ms, (long long)m->downtime_ms);
            if (m->drover)
                printf(", event -> record %lld ms", (long long)m->lag_ms);
            printf("\n");
            fflush(stdout);
            from = 1 - from;
        }
    }
    report(mv, n);
    mt_remove(GUEST);
    lvh_stop(&mt_h);
    return 0;
}
