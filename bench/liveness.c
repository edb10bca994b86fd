/* liveness.c - how fast can a controller sweep the liveness of a fleet?
 *
 *   bench/liveness [--driver db] [--members 1000,10000,100000] [--seconds 2]
 *
 * For each size N: populate N members of a group with realistic host
 * reports (~1 KiB of JSON each, made by dv_report_to_json), then time two
 * kinds of sweep, each a list call followed by the state of every member:
 *  - the liveness sweep: get_states (every member without its report),
 *    all an evacuator's sweep needs;
 *  - the full sweep: get_all (every member with its report, decoded);
 *  - the summary sweep: get_summaries without instance lists, what the
 *    scheduler and `host list` read now (drivers without the op: get_all).
 * The parts are also timed alone: the list calls, decoding N reports,
 * judging N states from records in memory, and is_up asked one member at a
 * time.  Prints members/s and how each sweep compares with Nova's anchor,
 * and for the sweeps also members per CPU second (on a shared machine the
 * wall-clock rate depends on the load; the CPU rate much less); run by
 * hand, not a test.
 *
 * A driver is a row in `drivers` below: a name and Nova's anchor for it;
 * tests/harness/fleet.h points the config at a scratch backend (db: a file
 * in a fresh directory; mc, zk: a server the harness starts) and makes the
 * hosts' reports.
 */
#include "core/clock.h"
#include "core/config.h"
#include "core/model.h"
#include "core/report.h"
#include "drivers/servicegroup.h"
#include "tests/harness/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- drivers */

typedef struct bench_driver {
    const char *name;
    /* Nova's matching driver measured on this machine kind: the rate a
     * sweep should beat, and what it is. */
    double anchor;
    const char *anchor_text;
} bench_driver;

static const bench_driver drivers[] = {
    /* issue 2: Nova 26's DbDriver.is_up over records already in memory */
    { "db", 1e6,
      "Nova 26 DbDriver.is_up ~1,000,000 members/s (records already in memory)" },
    /* issue 3: Nova's MemcachedDriver, one GET per member (target: 15x) */
    { "mc", 33e3,
      "Nova memcached driver, one GET per member: ~33k members/s" },
    /* Nova's own ZooKeeper driver was removed; its per-member asking (the
     * memcached driver) is the bar */
    { "zk", 33e3,
      "Nova memcached driver, one GET per member: ~33k members/s (Nova's zk driver was removed)" },
};

/* ---------------------------------------------------------------- timing */

static double now_s(void)
{
    return dv_fleet_clock(CLOCK_MONOTONIC);
}

/* CPU time of this process: on a machine shared with other work, the rate
 * per CPU second says what the code costs, the wall-clock rate what it got. */
static double cpu_s(void)
{
    return dv_fleet_clock(CLOCK_PROCESS_CPUTIME_ID);
}

static int populate(dv_sg *sg, const char *group, size_t n, size_t *report_bytes,
                    drover_error *err)
{
    char host[64];

    for (size_t i = 0; i < n; i++) {
        char *json;
        dv_fleet_host(host, sizeof host, i);
        if (!(json = dv_fleet_report(host, i, dv_wall_ms(), err)))
            return -1;
        *report_bytes = strlen(json);
        if (dv_sg_heartbeat(sg, group, host, json, err) < 0) {
            free(json);
            return -1;
        }
        free(json);
    }
    return 0;
}

/* dv_sg_get_all or dv_sg_get_states */
typedef int (*lister)(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err);

typedef struct sweep_figures {
    double sweep, list, state;     /* members/s: whole sweeps, the list call, the states */
    double sweep_cpu;              /* members per CPU second, whole sweeps */
    double sweep_ms;
    size_t up;
} sweep_figures;

/* Sweep for `seconds` (3 sweeps at least): list, then the state of every
 * member from the records listed (freeing the list is not timed).  *last
 * keeps the last sweep's list. */
static int sweep(dv_sg *sg, lister list, const dv_config *cfg, const char *group, size_t n,
                 double seconds, sweep_figures *f, drover_member **last, drover_error *err)
{
    double t, c, t_list = 0, t_state = 0, c_sweep = 0, t_all = now_s();
    size_t sweeps = 0, got;
    drover_member *m = NULL;
    volatile size_t up = 0;
    int64_t now;

    for (;;) {
        c = cpu_s();
        t = now_s();
        if (list(sg, group, &m, &got, err) < 0)
            return -1;
        t_list += now_s() - t;
        if (got != n) {
            drover_members_free(m, got);
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_CORE,
                          "the list has %zu members, expected %zu", got, n);
        }
        t = now_s();
        now = dv_wall_ms();
        for (size_t i = 0; i < got; i++)
            up += dv_liveness_from_heartbeat(now, m[i].last_seen_ms,
                                             cfg->servicegroup.service_down_time,
                                             m[i].forced_down) == DROVER_UP;
        t_state += now_s() - t;
        c_sweep += cpu_s() - c;
        sweeps++;
        if (now_s() - t_all >= seconds && sweeps >= 3)
            break;
        drover_members_free(m, got);
    }
    f->sweep_cpu = (double)n * sweeps / c_sweep;
    *last = m;
    f->up = up / sweeps;
    f->sweep = (double)n * sweeps / (t_list + t_state);
    f->sweep_ms = (t_list + t_state) * 1000 / sweeps;
    f->list = (double)n * sweeps / t_list;
    f->state = (double)n * sweeps / t_state;
    return 0;
}

/* What a summary sweep reads of each member, kept so it is not optimised away. */
static volatile size_t summary_sink;

/* The summaries of the last summary sweep (their arena holds the packed
 * strings of the members the sweep is handed); freed at the next call. */
static dv_summary_list kept;

/* get_summaries as a lister: the members go to the sweep, the summaries
 * stay in `kept` */
static int list_summaries(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                          drover_error *err)
{
    dv_summary_list l;
    size_t shown = 0;

    dv_summary_list_free(&kept);
    if (dv_sg_get_summaries(sg, group, false, &l, err) < 0)
        return -1;
    for (size_t i = 0; i < l.n; i++)   /* what `host list` prints of each */
        shown += l.sums[i].report ? l.sums[i].n_instances + l.sums[i].report->vcpus : 0;
    summary_sink += shown;
    *members = l.members;
    *n = l.n;
    l.members = NULL;                  /* the sweep frees them */
    l.n = 0;
    kept = l;
    return 0;
}

typedef struct figures {
    sweep_figures live, full, sum; /* get_states, get_all, get_summaries sweeps */
    double decode, is_up;          /* members/s */
    bool states_bare;              /* get_states listed no report */
} figures;

static int measure(dv_sg *sg, const dv_config *cfg, const char *group, size_t n,
                   double seconds, figures *f, drover_error *err)
{
    size_t decoded = 0, asked = 0;
    dv_report_decoder *dec;
    drover_member *m;
    double t;

    /* the liveness sweep first: the full one's decoding must not warm it */
    if (sweep(sg, dv_sg_get_states, cfg, group, n, seconds / 2, &f->live, &m, err) < 0)
        return -1;
    f->states_bare = true;
    for (size_t i = 0; i < n; i++)
        f->states_bare &= !m[i].report_json && !m[i].report;
    drover_members_free(m, n);
    if (sweep(sg, list_summaries, cfg, group, n, seconds / 2, &f->sum, &m, err) < 0)
        return -1;
    drover_members_free(m, n);
    dv_summary_list_free(&kept);
    if (sweep(sg, dv_sg_get_all, cfg, group, n, seconds / 2, &f->full, &m, err) < 0)
        return -1;

    /* decoding alone, over the reports of the last full sweep, with one
     * decoder for all as get_all has */
    if (!(dec = dv_report_decoder_new())) {
        drover_members_free(m, n);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    }
    t = now_s();
    do {
        for (size_t i = 0; i < n; i++) {
            drover_report *r = NULL;
            if (dv_report_decode(dec, m[i].report_json, strlen(m[i].report_json), &r, err) < 0) {
                dv_report_decoder_free(dec);
                drover_members_free(m, n);
                return -1;
            }
            drover_report_free(r);
        }
        decoded += n;
    } while (now_s() - t < seconds / 4);
    f->decode = decoded / (now_s() - t);
    dv_report_decoder_free(dec);

    /* is_up, one member at a time (at most 10000 per size) */
    t = now_s();
    for (size_t i = 0; i < n && i < 10000; i++, asked++) {
        drover_liveness s;
        if (dv_sg_is_up(sg, group, m[i].host, &s, err) < 0) {
            drover_members_free(m, n);
            return -1;
        }
    }
    f->is_up = asked / (now_s() - t);
    drover_members_free(m, n);
    return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *to)
{
    fprintf(to, "usage: liveness [--driver NAME] [--members N[,N...]] [--seconds S]\n"
                "  --driver   servicegroup driver to measure (default db; this build:");
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        fprintf(to, " %s", drivers[i].name);
    fprintf(to, ")\n  --members  fleet sizes (default 1000,10000,100000)\n"
                "  --seconds  time spent sweeping each size (default 2)\n");
}

static const char *rate(double v, char *buf, size_t len)
{
    /* 1234567.8 -> "1,234,568" */
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%.0f", v), o = 0;
    for (int i = 0; i < n && o < (int)len - 2; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    const char *driver = "db";
    size_t sizes[16] = { 1000, 10000, 100000 };
    int n_sizes = 3;
    double seconds = 2;
    const bench_driver *bd = NULL;
    drover_error err = { 0 };
    dv_fleet_backend be = { 0 };
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32], b8[32], b9[32], b10[32], b11[32], b12[32];
    dv_config *cfg;
    dv_sg *sg;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--driver") == 0 && i + 1 < argc)
            driver = argv[++i];
        else if (strcmp(argv[i], "--members") == 0 && i + 1 < argc) {
            if ((n_sizes = dv_fleet_sizes(argv[++i], sizes, 16)) <= 0) {
                fprintf(stderr, "liveness: --members wants sizes like 1000,10000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (seconds <= 0 || seconds > 600) {
                fprintf(stderr, "liveness: --seconds wants 0 < S <= 600\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i].name, driver) == 0)
            bd = &drivers[i];
    if (!bd) {
        fprintf(stderr, "liveness: no benchmark setup for driver \"%s\"\n", driver);
        usage(stderr);
        return 2;
    }
    if (!(cfg = dv_config_new_defaults()) || dv_fleet_backend_start(&be, cfg, driver, &err) < 0 ||
        dv_sg_open(cfg, &sg, &err) < 0) {
        fprintf(stderr, "liveness: %s\n", err.message[0] ? err.message : "out of memory");
        dv_fleet_backend_stop(&be);
        dv_config_free(cfg);
        return 1;
    }
    printf("driver %s; each size swept for %.1f s\n", driver, seconds);
    for (int k = 0; k < n_sizes && rc == 0; k++) {
        char group[32];
        size_t bytes = 0;
        figures f = { 0 };
        double t = now_s(), t_pop = 0;

        snprintf(group, sizeof group, "bench-%zu", sizes[k]);
        if (populate(sg, group, sizes[k], &bytes, &err) < 0 ||
            (t_pop = now_s() - t, 0) ||
            measure(sg, cfg, group, sizes[k], seconds, &f, &err) < 0) {
            fprintf(stderr, "liveness: %zu members: %s\n", sizes[k], err.message);
            rc = 1;
            break;
        }
        printf("%7zu members (report %zu bytes, populated in %.1f s, %zu UP):\n", sizes[k], bytes,
               t_pop, f.live.up);
        printf("  liveness sweep (get_states + state of each) %12s members/s  (%.1f ms/sweep, %.1fx the anchor;"
               " %s per CPU second)\n", rate(f.live.sweep, b1, sizeof b1), f.live.sweep_ms,
               f.live.sweep / bd->anchor, rate(f.live.sweep_cpu, b9, sizeof b9));
        printf("    get_states alone (fetch, copy, state)     %12s members/s%s\n",
               rate(f.live.list, b2, sizeof b2), f.states_bare ? "" : "  (BUT IT LISTED REPORTS)");
        printf("  full sweep (get_all + state of each)        %12s members/s  (%.1f ms/sweep, %.2fx the anchor;"
               " %s per CPU second)\n", rate(f.full.sweep, b3, sizeof b3), f.full.sweep_ms,
               f.full.sweep / bd->anchor, rate(f.full.sweep_cpu, b10, sizeof b10));
        printf("  summary sweep (get_summaries, `host list`)  %12s members/s  (%.1f ms/sweep, %.2fx the anchor;"
               " %s per CPU second)\n", rate(f.sum.sweep, b11, sizeof b11), f.sum.sweep_ms,
               f.sum.sweep / bd->anchor, rate(f.sum.sweep_cpu, b12, sizeof b12));
        printf("    get_all alone (fetch, copy, decode, state)%12s members/s\n",
               rate(f.full.list, b4, sizeof b4));
        printf("    report decode alone (json-c)              %12s members/s\n",
               rate(f.decode, b5, sizeof b5));
        if (f.decode > f.full.list)
            printf("    get_all less decode (fetch, copy; derived)%12s members/s\n",
                   rate(1 / (1 / f.full.list - 1 / f.decode), b6, sizeof b6));
        printf("  state of each member, records in memory     %12s members/s\n",
               rate(f.full.state, b7, sizeof b7));
        printf("  is_up one member at a time                  %12s members/s\n",
               rate(f.is_up, b8, sizeof b8));
    }
    printf("anchor: %s\n", bd->anchor_text);
    dv_sg_close(sg);
    dv_fleet_backend_stop(&be);
    dv_config_free(cfg);
    return rc;
}
