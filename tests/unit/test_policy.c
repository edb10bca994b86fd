/* test_policy.c - the convergence policies.  `nova` against Nova's own
 * arithmetic (the expected tables below were computed from Nova's formulas
 * in migration.py / driver.py, not by this code) for guests of 512 MiB to
 * 32 GiB and the config edges; `adaptive` on recorded job-stats traces
 * (tests/data/traces/: synthetic ones from a model of QEMU's pre-copy and
 * real ones recorded by bench/convergence); the registry; and the plans of
 * `drover migration plan`. */
#include "migrator/plan.h"
#include "migrator/policy.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef DV_TRACES
#define DV_TRACES "tests/data/traces"
#endif

/* ---------------------------------------------------------------- nova, by the table */

typedef struct nova_case {
    int mem_mib, disk_mib, downtime_ms, steps, delay_s, timeout_s;
    double data_gib;
    int64_t completion_s;
    size_t n_steps;
    /* every step; for schedules over 12 steps the first 6 and the last 6 */
    int64_t st[12][2];
} nova_case;

/* int(delay * i), int(base + offset * i) and int(timeout * data_gb), as
 * Python 3 computes them (true division, floats truncated by int()) */
static const nova_case nova_cases[] = {
    /* 512 MiB: RAM floor 2 GiB -> 150 s per step, 1600 s timeout */
    { 512, 0, 500, 10, 75, 800, 2.0, 1600, 11,
      { { 0, 50 }, { 150, 95 }, { 300, 140 }, { 450, 185 }, { 600, 230 }, { 750, 275 }, { 900, 320 },
        { 1050, 365 }, { 1200, 410 }, { 1350, 455 }, { 1500, 500 } } },
    { 1536, 0, 500, 10, 75, 800, 2.0, 1600, 11,
      { { 0, 50 }, { 150, 95 }, { 300, 140 }, { 450, 185 }, { 600, 230 }, { 750, 275 }, { 900, 320 },
        { 1050, 365 }, { 1200, 410 }, { 1350, 455 }, { 1500, 500 } } },
    { 2048, 0, 500, 10, 75, 800, 2.0, 1600, 11,
      { { 0, 50 }, { 150, 95 }, { 300, 140 }, { 450, 185 }, { 600, 230 }, { 750, 275 }, { 900, 320 },
        { 1050, 365 }, { 1200, 410 }, { 1350, 455 }, { 1500, 500 } } },
    /* 2.5 GiB: int(75 * 2.5) = 187 */
    { 2560, 0, 500, 10, 75, 800, 2.5, 2000, 11,
      { { 0, 50 }, { 187, 95 }, { 374, 140 }, { 561, 185 }, { 748, 230 }, { 935, 275 }, { 1122, 320 },
        { 1309, 365 }, { 1496, 410 }, { 1683, 455 }, { 1870, 500 } } },
    /* Nova's docstring example: 3 GiB, 30 s, 400 ms -> every 90 s, 40 .. 400 ms */
    { 3072, 0, 400, 10, 30, 800, 3.0, 2400, 11,
      { { 0, 40 }, { 90, 76 }, { 180, 112 }, { 270, 148 }, { 360, 184 }, { 450, 220 }, { 540, 256 },
        { 630, 292 }, { 720, 328 }, { 810, 364 }, { 900, 400 } } },
    /* 4 GiB with the defaults: 300 s per step, 3200 s timeout */
    { 4096, 0, 500, 10, 75, 800, 4.0, 3200, 11,
      { { 0, 50 }, { 300, 95 }, { 600, 140 }, { 900, 185 }, { 1200, 230 }, { 1500, 275 }, { 1800, 320 },
        { 2100, 365 }, { 2400, 410 }, { 2700, 455 }, { 3000, 500 } } },
    /* 5000 MiB = 4.8828125 GiB: int(366.2109375) = 366, int(3906.25) = 3906 */
    { 5000, 0, 500, 10, 75, 800, 4.8828125, 3906, 11,
      { { 0, 50 }, { 366, 95 }, { 732, 140 }, { 1098, 185 }, { 1464, 230 }, { 1830, 275 }, { 2196, 320 },
        { 2562, 365 }, { 2928, 410 }, { 3294, 455 }, { 3660, 500 } } },
    { 8192, 0, 500, 10, 75, 800, 8.0, 6400, 11,
      { { 0, 50 }, { 600, 95 }, { 1200, 140 }, { 1800, 185 }, { 2400, 230 }, { 3000, 275 }, { 3600, 320 },
        { 4200, 365 }, { 4800, 410 }, { 5400, 455 }, { 6000, 500 } } },
    /* 32 GiB: 2400 s per step, 25600 s timeout */
    { 32768, 0, 500, 10, 75, 800, 32.0, 25600, 11,
      { { 0, 50 }, { 2400, 95 }, { 4800, 140 }, { 7200, 185 }, { 9600, 230 }, { 12000, 275 },
        { 14400, 320 }, { 16800, 365 }, { 19200, 410 }, { 21600, 455 }, { 24000, 500 } } },
    /* a 1 GiB disk counts 2 GiB (Nova's floor per disk): 6 GiB */
    { 4096, 1024, 500, 10, 75, 800, 6.0, 4800, 11,
      { { 0, 50 }, { 450, 95 }, { 900, 140 }, { 1350, 185 }, { 1800, 230 }, { 2250, 275 }, { 2700, 320 },
        { 3150, 365 }, { 3600, 410 }, { 4050, 455 }, { 4500, 500 } } },
    /* below Nova's minimums: downtime 50 -> 100, steps 1 -> 3, delay 1 -> 3 */
    { 4096, 0, 50, 1, 1, 800, 4.0, 3200, 4, { { 0, 33 }, { 12, 55 }, { 24, 77 }, { 36, 100 } } },
    /* at the minimums; no completion timeout */
    { 4096, 0, 100, 3, 3, 0, 4.0, 0, 4, { { 0, 33 }, { 12, 55 }, { 24, 77 }, { 36, 100 } } },
    /* 7 steps of 500 ms: base 71.43, offset 61.22 */
    { 3000, 0, 500, 7, 11, 13, 2.9296875, 38, 8,
      { { 0, 71 }, { 32, 132 }, { 64, 193 }, { 96, 255 }, { 128, 316 }, { 160, 377 }, { 192, 438 },
        { 224, 500 } } },
    /* 1000 / 6: the last step is int(999.999...) = 999, not 1000 */
    { 16384, 0, 1000, 6, 90, 150, 16.0, 2400, 7,
      { { 0, 166 }, { 1440, 305 }, { 2880, 444 }, { 4320, 583 }, { 5760, 722 }, { 7200, 861 },
        { 8640, 999 } } },
    /* 1000 steps of 100 ms: the first ones are 0 ms */
    { 1024, 0, 100, 1000, 3, 1, 2.0, 2, 1001,
      { { 0, 0 }, { 6, 0 }, { 12, 0 }, { 18, 0 }, { 24, 0 }, { 30, 0 }, { 5970, 99 }, { 5976, 99 },
        { 5982, 99 }, { 5988, 99 }, { 5994, 99 }, { 6000, 100 } } },
};
#define N_NOVA (sizeof nova_cases / sizeof nova_cases[0])

static dv_mig_params case_params(const nova_case *c)
{
    dv_mig_params p = {
        .memory_mib = (uint64_t)c->mem_mib,
        .disk_mib = (uint64_t)c->disk_mib,
        .downtime_ms = c->downtime_ms,
        .downtime_steps = c->steps,
        .downtime_delay_s = c->delay_s,
        .completion_timeout_s = c->timeout_s,
        .poll_interval_ms = 500,
    };
    return p;
}

/* the expected step i of a case (its table holds the ends of long ones) */
static const int64_t *expected_step(const nova_case *c, size_t i)
{
    if (c->n_steps <= 12)
        return c->st[i];
    if (i < 6)
        return c->st[i];
    if (i >= c->n_steps - 6)
        return c->st[12 - (c->n_steps - i)];
    return NULL;
}

static void test_nova_plans(void)
{
    static dv_mig_plan pl;

    for (size_t k = 0; k < N_NOVA; k++) {
        const nova_case *c = &nova_cases[k];
        dv_mig_params p = case_params(c);
        size_t bad = 0;

        memset(&pl, 0, sizeof pl);
        dv_mig_policy_nova.plan(&p, &pl);
        ok(pl.data_gib == c->data_gib, "nova %d MiB (+%d disk): data %.7g GiB (%.7g)", c->mem_mib,
           c->disk_mib, c->data_gib, pl.data_gib);
        is_int(pl.completion_timeout_s, c->completion_s,
               "nova %d MiB, %d s/GiB: completion timeout %lld s", c->mem_mib, c->timeout_s,
               (long long)c->completion_s);
        is_int(pl.n_steps, c->n_steps, "nova %d MiB, %d steps: %zu entries", c->mem_mib, c->steps,
               c->n_steps);
        for (size_t i = 0; i < pl.n_steps && i < c->n_steps; i++) {
            const int64_t *e = expected_step(c, i);
            if (e && (pl.steps[i].at_s != e[0] || (int64_t)pl.steps[i].downtime_ms != e[1])) {
                diag("   step %zu: got (%lld, %llu), expected (%lld, %lld)", i,
                     (long long)pl.steps[i].at_s, (unsigned long long)pl.steps[i].downtime_ms,
                     (long long)e[0], (long long)e[1]);
                bad++;
            }
        }
        is_int(bad, 0, "nova %d MiB, %d ms / %d steps / %d s: every step as Nova computes it",
               c->mem_mib, c->downtime_ms, c->steps, c->delay_s);
    }
}

static dv_mig_stats at(int64_t ms, bool postcopy)
{
    dv_mig_stats s = { .elapsed_ms = ms, .data_total = 1, .postcopy = postcopy };
    return s;
}

/* one sample at ms; the action taken (NONE if none), its downtime in *dt */
static dv_mig_action_kind step(const dv_mig_policy_ops *ops, void *state, const dv_mig_params *p,
                               int64_t ms, bool postcopy, uint64_t *dt, char *why)
{
    dv_mig_stats s = at(ms, postcopy);
    dv_mig_action a[4];
    memset(a, 0, sizeof a);
    size_t n = ops->decide(state, p, &s, 1, a, 4);
    if (dt)
        *dt = a[0].downtime_ms;
    if (why)
        snprintf(why, DV_MIG_WHY_MAX, "%s", a[0].why);
    return n ? a[0].kind : DV_MIG_ACT_NONE;
}

/* Nova's update_downtime: a step applies once elapsed > its time, strictly */
static void test_nova_timing(void)
{
    for (size_t k = 0; k < N_NOVA; k++) {
        const nova_case *c = &nova_cases[k];
        dv_mig_params p = case_params(c);
        unsigned char state[DV_MIG_POLICY_STATE_MAX] = { 0 };
        size_t bad = 0;
        uint64_t dt, last = UINT64_MAX;

        if (c->n_steps > 12)
            continue;
        p.completion_timeout_s = 0;   /* the steps alone (some cases time out first) */
        dv_mig_policy_nova.init(state, &p);
        if (step(&dv_mig_policy_nova, state, &p, 0, false, NULL, NULL) != DV_MIG_ACT_NONE)
            bad++;
        for (size_t i = 0; i < c->n_steps; i++) {
            int64_t t = c->st[i][0] * 1000;
            /* exactly at the step's time: not yet (i > 0; step 0 is at 0) */
            if (i > 0 && step(&dv_mig_policy_nova, state, &p, t, false, NULL, NULL) != DV_MIG_ACT_NONE) {
                diag("   step %zu acted at exactly %lld ms", i, (long long)t);
                bad++;
            }
            dv_mig_action_kind a = step(&dv_mig_policy_nova, state, &p, t + 1, false, &dt, NULL);
            bool want = (uint64_t)c->st[i][1] != last;
            if (want != (a == DV_MIG_ACT_SET_DOWNTIME) || (want && dt != (uint64_t)c->st[i][1])) {
                diag("   step %zu at %lld ms: action %s %llu", i, (long long)t + 1,
                     dv_mig_action_name(a), (unsigned long long)dt);
                bad++;
            }
            last = (uint64_t)c->st[i][1];
        }
        is_int(bad, 0, "nova %d MiB: each downtime step set 1 ms after its time, never at it",
               c->mem_mib);
    }
}

static void test_nova_timeout(void)
{
    const nova_case *c = &nova_cases[5];   /* 4 GiB, defaults: 3200 s */
    dv_mig_params p = case_params(c);
    unsigned char state[DV_MIG_POLICY_STATE_MAX] = { 0 };
    char why[DV_MIG_WHY_MAX];
    uint64_t dt;

    dv_mig_policy_nova.init(state, &p);
    is_int(step(&dv_mig_policy_nova, state, &p, 500, false, &dt, NULL), DV_MIG_ACT_SET_DOWNTIME,
           "nova 4 GiB: first sample sets step 0");
    is_int(dt, 50, "nova 4 GiB: step 0 is 50 ms");
    is_int(step(&dv_mig_policy_nova, state, &p, 3000001, false, &dt, NULL), DV_MIG_ACT_SET_DOWNTIME,
           "nova 4 GiB: a sample past the last step's time jumps to it");
    is_int(dt, 500, "nova 4 GiB: to 500 ms");
    is_int(step(&dv_mig_policy_nova, state, &p, 3200000, false, NULL, NULL), DV_MIG_ACT_NONE,
           "nova 4 GiB: nothing at exactly 3200 s");
    is_int(step(&dv_mig_policy_nova, state, &p, 3200001, false, NULL, why), DV_MIG_ACT_ABORT,
           "nova 4 GiB: abort once past 3200 s");
    has_str(why, "3200 s", "nova: the reason names the completion timeout");
    is_int(step(&dv_mig_policy_nova, state, &p, 3200501, false, NULL, NULL), DV_MIG_ACT_NONE,
           "nova: the timeout action is taken once");

    /* post-copy: never the timeout action, nor a downtime step */
    dv_mig_policy_nova.init(state, &p);
    is_int(step(&dv_mig_policy_nova, state, &p, 4000000, true, NULL, NULL), DV_MIG_ACT_NONE,
           "nova: no action in post-copy, past the timeout");

    p.timeout_force_complete = true;
    p.post_copy_permitted = true;
    dv_mig_policy_nova.init(state, &p);
    is_int(step(&dv_mig_policy_nova, state, &p, 3200001, false, NULL, NULL), DV_MIG_ACT_POSTCOPY,
           "nova force_complete with post-copy permitted: post-copy");
    p.post_copy_permitted = false;
    dv_mig_policy_nova.init(state, &p);
    is_int(step(&dv_mig_policy_nova, state, &p, 3200001, false, NULL, NULL), DV_MIG_ACT_PAUSE,
           "nova force_complete without post-copy: pause");
    p.post_copy_permitted = true;
    p.paused = true;
    dv_mig_policy_nova.init(state, &p);
    is_int(step(&dv_mig_policy_nova, state, &p, 3200001, false, NULL, NULL), DV_MIG_ACT_PAUSE,
           "nova force_complete, paused guest: pause, never post-copy");

    p = case_params(&nova_cases[11]);   /* completion_timeout_s = 0 */
    dv_mig_policy_nova.init(state, &p);
    step(&dv_mig_policy_nova, state, &p, 1, false, NULL, NULL);
    is_int(step(&dv_mig_policy_nova, state, &p, 86400000, false, &dt, NULL), DV_MIG_ACT_SET_DOWNTIME,
           "nova without a timeout: only the last downtime step after a day");
    is_int(step(&dv_mig_policy_nova, state, &p, 86400500, false, NULL, NULL), DV_MIG_ACT_NONE,
           "nova without a timeout: never an abort");
}

/* ---------------------------------------------------------------- traces */

typedef struct trace {
    dv_mig_stats *s;
    size_t n;
} trace;

/* one sample a line: elapsed_ms data_total data_processed data_remaining
 * mem_bps dirty_rate page_size iteration downtime postcopy; '#' comments */
static trace load_trace(const char *name)
{
    char path[512], line[512];
    trace t = { 0 };
    size_t cap = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", DV_TRACES, name);
    if (!(f = fopen(path, "r")))
        bail_out("cannot open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[10];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) != 10)
            bail_out("%s: bad line: %s", path, line);
        if (t.n == cap && !(t.s = realloc(t.s, (cap = cap ? 2 * cap : 64) * sizeof *t.s)))
            bail_out("out of memory");
        t.s[t.n++] = (dv_mig_stats){ .elapsed_ms = (int64_t)v[0], .data_total = v[1],
                                     .data_processed = v[2], .data_remaining = v[3],
                                     .mem_total = v[1], .mem_processed = v[2],
                                     .mem_remaining = v[3], .mem_bps = v[4],
                                     .mem_dirty_rate = v[5], .mem_page_size = v[6],
                                     .mem_iteration = v[7], .downtime_ms = v[8],
                                     .postcopy = v[9] != 0 };
    }
    fclose(f);
    if (t.n == 0)
        bail_out("%s: no samples", path);
    return t;
}

/* What a policy did over a trace. */
typedef struct replay {
    size_t n_set, n_final;          /* SET_DOWNTIME actions; POSTCOPY/PAUSE/ABORT actions */
    uint64_t max_set_ms;
    uint64_t first_set_ms;          /* the first SET_DOWNTIME's value; 0 none */
    int64_t first_ms;               /* elapsed at the first action; -1 none */
    dv_mig_action_kind final;       /* the first POSTCOPY/PAUSE/ABORT */
    uint64_t final_iteration;
    int64_t final_ms;
    char final_why[DV_MIG_WHY_MAX];
    bool set_after_final;
} replay;

/* Feed the samples one by one as the monitor does; the downtime in force is
 * what the policy last set (the monitor applies it), else the trace's. */
static replay run_trace(const dv_mig_policy_ops *ops, const dv_mig_params *p, const trace *t)
{
    unsigned char state[DV_MIG_POLICY_STATE_MAX] = { 0 };
    dv_mig_stats *hist = calloc(t->n, sizeof *hist);
    replay r = { .first_ms = -1 };
    uint64_t in_force = 0;

    if (!hist)
        bail_out("out of memory");
    ops->init(state, p);
    for (size_t i = 0; i < t->n; i++) {
        dv_mig_action a[4];
        hist[i] = t->s[i];
        if (in_force && hist[i].data_total)
            hist[i].downtime_ms = in_force;
        size_t k = ops->decide(state, p, hist, i + 1, a, 4);
        for (size_t j = 0; j < k; j++) {
            if (r.first_ms < 0)
                r.first_ms = hist[i].elapsed_ms;
            if (a[j].kind == DV_MIG_ACT_SET_DOWNTIME) {
                if (!r.n_set)
                    r.first_set_ms = a[j].downtime_ms;
                r.n_set++;
                in_force = a[j].downtime_ms;
                r.max_set_ms = a[j].downtime_ms > r.max_set_ms ? a[j].downtime_ms : r.max_set_ms;
                r.set_after_final |= r.n_final > 0;
                diag("   %6.1f s it %llu  %s %llu: %s", (double)hist[i].elapsed_ms / 1000,
                     (unsigned long long)hist[i].mem_iteration, dv_mig_action_name(a[j].kind),
                     (unsigned long long)a[j].downtime_ms, a[j].why);
                continue;
            }
            if (r.n_final++ == 0) {
                r.final = a[j].kind;
                r.final_iteration = hist[i].mem_iteration;
                r.final_ms = hist[i].elapsed_ms;
                snprintf(r.final_why, sizeof r.final_why, "%s", a[j].why);
                diag("   %6.1f s it %llu  %s: %s", (double)hist[i].elapsed_ms / 1000,
                     (unsigned long long)hist[i].mem_iteration, dv_mig_action_name(a[j].kind),
                     a[j].why);
            }
        }
    }
    free(hist);
    return r;
}

static dv_mig_params default_params(uint64_t mib)
{
    dv_mig_params p = { .memory_mib = mib, .downtime_ms = 500, .downtime_steps = 10,
                        .downtime_delay_s = 75, .completion_timeout_s = 800,
                        .poll_interval_ms = 500 };
    return p;
}

static void test_adaptive_converging(const char *name, uint64_t mib)
{
    trace t = load_trace(name);
    dv_mig_params p = default_params(mib);
    replay r = run_trace(&dv_mig_policy_adaptive, &p, &t);

    is_int(r.n_final, 0, "adaptive, %s: converging, no abort, post-copy or pause", name);
    ok(r.n_set <= 11, "adaptive, %s: at most the downtime steps (%zu)", name, r.n_set);
    ok(r.first_ms >= 500, "adaptive, %s: nothing before the first sample with data (first at %lld ms)",
       name, (long long)r.first_ms);
    free(t.s);
}

/* recorded by bench/convergence (its converge round): a 4 MiB working set
 * at 16 MiB/s converges once the downtime covers it -- QEMU's 300 ms, where
 * adaptive starts, does: no raise is needed (stall-fits shows the raise) */
static void test_real_converging(void)
{
    const char *name = "real-converge-256m-wss4-16mibs.trace";
    trace t = load_trace(name);
    dv_mig_params p = default_params(256);
    replay r = run_trace(&dv_mig_policy_adaptive, &p, &t);

    is_int(r.n_final, 0, "adaptive, real %s: no abort, post-copy or pause", name);
    ok(r.n_set >= 1 && r.n_set <= 11, "adaptive, real %s: the downtime set, in steps (%zu)", name,
       r.n_set);
    is_int((long long)r.first_set_ms, 300, "adaptive, real %s: it starts at QEMU's default, 300 ms",
           name);
    /* a pass of the whole 4 MiB at 16 MiB/s needs 250 ms */
    ok(r.max_set_ms >= 250 && r.max_set_ms <= 500, "... to cover the working set (%llu ms)",
       (unsigned long long)r.max_set_ms);
    free(t.s);
}

static void test_adaptive_stall_fits(void)
{
    trace t = load_trace("stall-fits.trace");
    dv_mig_params p = default_params(128);
    replay r = run_trace(&dv_mig_policy_adaptive, &p, &t);

    is_int(r.n_final, 0, "adaptive, stall-fits: no abort, post-copy or pause");
    ok(r.n_set >= 2, "adaptive, stall-fits: the downtime is raised when the remaining data stalls");
    /* 3.5 MiB at 8 MiB/s needs ~440 ms */
    ok(r.max_set_ms >= 440 && r.max_set_ms <= 500, "adaptive, stall-fits: raised to cover it (%llu ms)",
       (unsigned long long)r.max_set_ms);
    free(t.s);
}

static void test_adaptive_nonconverging(const char *name, uint64_t mib, uint64_t max_iteration,
                                        int64_t max_ms)
{
    trace t = load_trace(name);
    dv_mig_params p = default_params(mib);
    replay r;

    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    is_int(r.final, DV_MIG_ACT_ABORT, "adaptive abort, %s: aborted", name);
    ok(r.final_iteration >= 2 && r.final_iteration <= max_iteration,
       "adaptive abort, %s: at iteration %llu (<= %llu)", name,
       (unsigned long long)r.final_iteration, (unsigned long long)max_iteration);
    ok(r.final_ms <= max_ms, "adaptive abort, %s: after %.1f s (<= %.0f s; nova: %lld s)", name,
       (double)r.final_ms / 1000, (double)max_ms / 1000,
       (long long)dv_mig_completion_timeout_s(&p));
    has_str(r.final_why, "MiB/s", "adaptive abort, %s: the reason gives the rates", name);
    has_str(r.final_why, "remaining", "adaptive abort, %s: ... the remaining data", name);
    has_str(r.final_why, "iteration", "adaptive abort, %s: ... the iteration", name);
    has_str(r.final_why, "downtime", "adaptive abort, %s: ... the downtime", name);
    is_int(r.n_final, 1, "adaptive abort, %s: acted once", name);
    ok(!r.set_after_final, "adaptive abort, %s: nothing after the decision", name);

    p.timeout_force_complete = true;
    p.post_copy_permitted = true;
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    is_int(r.final, DV_MIG_ACT_POSTCOPY, "adaptive force_complete + post-copy, %s: post-copy", name);
    ok(r.final_iteration <= max_iteration, "... at iteration %llu",
       (unsigned long long)r.final_iteration);
    p.post_copy_permitted = false;
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    is_int(r.final, DV_MIG_ACT_PAUSE, "adaptive force_complete, no post-copy, %s: pause", name);
    p.post_copy_permitted = true;
    p.paused = true;
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    is_int(r.final, DV_MIG_ACT_PAUSE, "adaptive force_complete, paused guest, %s: pause, never "
           "post-copy", name);
    free(t.s);
}

static void test_adaptive_postcopy(void)
{
    trace t = load_trace("postcopy.trace");
    dv_mig_params p = default_params(256);
    p.timeout_force_complete = true;
    p.post_copy_permitted = true;
    replay r = run_trace(&dv_mig_policy_adaptive, &p, &t);

    is_int(r.n_final, 0, "adaptive, post-copy trace: no action once the job is in post-copy");
    p.completion_timeout_s = 1;   /* 2 s: long passed */
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    ok(r.n_final == 1 && r.final_ms < 23000, "adaptive: the backstop acts before post-copy began (%.1f s)",
       (double)r.final_ms / 1000);
    free(t.s);
}

static void test_adaptive_backstop(void)
{
    trace t = load_trace("converge-slow.trace");
    dv_mig_params p = default_params(1024);
    p.completion_timeout_s = 5;   /* 2 GiB (the floor) x 5 s = 10 s */
    replay r = run_trace(&dv_mig_policy_adaptive, &p, &t);

    is_int(r.final, DV_MIG_ACT_ABORT, "adaptive backstop: a slow migration is aborted at the timeout");
    ok(r.final_ms > 10000 && r.final_ms <= 10500, "adaptive backstop: past 10 s (%lld ms)",
       (long long)r.final_ms);
    has_str(r.final_why, "completion timeout of 10 s", "adaptive backstop: the reason says so");
    free(t.s);
}

/* A trace recorded by bench/convergence on two real libvirt hosts: adaptive
 * acts within a few iterations; nova, on the same samples, does nothing but
 * its first downtime step (its timeout for the guest is 1600 s). */
static void test_real_trace(const char *name, uint64_t mib)
{
    trace t = load_trace(name);
    dv_mig_params p = default_params(mib);
    replay r;

    diag("%s: %zu samples over %.1f s", name, t.n, (double)t.s[t.n - 1].elapsed_ms / 1000);
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    is_int(r.final, DV_MIG_ACT_ABORT, "adaptive abort, real %s: aborted", name);
    ok(r.final_iteration >= 2 && r.final_iteration <= 5, "... at iteration %llu (<= 5)",
       (unsigned long long)r.final_iteration);
    ok(r.final_ms <= 30000, "... after %.1f s (<= 30 s)", (double)r.final_ms / 1000);
    has_str(r.final_why, "MiB/s", "... with the figures");
    p.timeout_force_complete = p.post_copy_permitted = true;
    r = run_trace(&dv_mig_policy_adaptive, &p, &t);
    ok(r.final == DV_MIG_ACT_POSTCOPY && r.final_iteration <= 5,
       "adaptive force_complete, real %s: post-copy at iteration %llu", name,
       (unsigned long long)r.final_iteration);
    r = run_trace(&dv_mig_policy_nova, &p, &t);
    ok(r.n_final == 0 && r.n_set == 1, "nova, real %s: one downtime step, no decision in %.0f s "
       "(its timeout: %lld s)", name, (double)t.s[t.n - 1].elapsed_ms / 1000,
       (long long)dv_mig_completion_timeout_s(&p));
    free(t.s);
}

/* ---------------------------------------------------------------- registry, params, plans */

static void test_registry(void)
{
    drover_error err;
    const char *const *names = dv_mig_policy_names();

    ok(dv_mig_policy_find("nova", &err) == &dv_mig_policy_nova, "find nova");
    ok(dv_mig_policy_find("adaptive", &err) == &dv_mig_policy_adaptive, "find adaptive");
    ok(!dv_mig_policy_find("smart", &err), "an unknown policy is not found");
    is_int(err.code, DROVER_ERR_CONFIG, "... a configuration error");
    has_str(err.message, "migration.policy", "... naming migration.policy");
    has_str(err.message, "adaptive, nova", "... and the known ones");
    ok(names[0] && names[1] && !names[2], "two policies");
    ok(dv_mig_policy_nova.state_size <= DV_MIG_POLICY_STATE_MAX &&
           dv_mig_policy_adaptive.state_size <= DV_MIG_POLICY_STATE_MAX,
       "their state fits DV_MIG_POLICY_STATE_MAX");
    is_str(dv_mig_action_name(DV_MIG_ACT_POSTCOPY), "post-copy", "action names");
    is_str(dv_mig_action_name(DV_MIG_ACT_SET_DOWNTIME), "set-downtime", "action names");
}

static void test_params(void)
{
    dv_config *cfg = dv_config_new_defaults();
    dv_mig_params p;

    if (!cfg)
        bail_out("no defaults");
    dv_mig_params_from_config(cfg, 4096, 0, false, true, &p);
    ok(p.memory_mib == 4096 && p.downtime_ms == 500 && p.downtime_steps == 10 &&
           p.downtime_delay_s == 75 && p.completion_timeout_s == 800 && !p.timeout_force_complete &&
           p.post_copy_permitted && p.poll_interval_ms == 500,
       "params from the default config");
    is_str(cfg->migration.policy, "adaptive", "migration.policy defaults to adaptive");
    dv_config_set_string(&cfg->migration.timeout_action, "force_complete", NULL);
    dv_mig_params_from_config(cfg, 4096, 0, true, false, &p);
    ok(p.timeout_force_complete && p.paused, "timeout_action force_complete, paused");
    dv_config_free(cfg);
}

static void test_plan(void)
{
    dv_config *cfg = dv_config_new_defaults();
    dv_mig_plan_req req = { .memory_mib = 4096, .instance = "web1", .host = "compute1" };
    json_object *j = NULL, *v, *steps;
    char *text = NULL;
    drover_error err;

    if (!cfg)
        bail_out("no defaults");
    ok(dv_mig_plan_build(cfg, &req, &text, &j, &err) == 0, "plan of a 4 GiB guest");
    ok(json_object_object_get_ex(j, "policy", &v) && !strcmp(json_object_get_string(v), "adaptive"),
       "plan: the configured policy, adaptive");
    ok(json_object_object_get_ex(j, "data_gib", &v) && json_object_get_double(v) == 4.0, "plan: data_gib 4");
    ok(json_object_object_get_ex(j, "completion_timeout_s", &v) && json_object_get_int64(v) == 3200,
       "plan: completion_timeout_s 3200 (adaptive's backstop)");
    ok(json_object_object_get_ex(j, "downtime_steps", &steps) && json_object_array_length(steps) == 6,
       "plan: 6 downtime steps (300 ms, then Nova's steps above it up to 500)");
    v = json_object_array_get_idx(steps, 1);
    ok(json_object_get_type(json_object_array_get_idx(v, 0)) == json_type_null &&
           json_object_get_int64(json_object_array_get_idx(v, 1)) == 320,
       "plan: adaptive's second step is taken on stalled progress, not at a time: [null, 320]");
    v = json_object_array_get_idx(steps, 0);
    ok(json_object_get_int64(json_object_array_get_idx(v, 1)) == 300,
       "plan: adaptive starts at QEMU's default downtime, 300 ms");
    ok(json_object_object_get_ex(j, "timeout_action", &v) && !strcmp(json_object_get_string(v), "abort"),
       "plan: timeout_action abort");
    ok(json_object_object_get_ex(j, "summary", &v) && strlen(json_object_get_string(v)) > 20, "plan: a summary");
    has_str(text, "web1 on compute1, 4096 MiB", "plan text: the instance");
    has_str(text, "3200 s", "plan text: the completion timeout");
    json_object_put(j);
    free(text);

    req.policy = "nova";
    ok(dv_mig_plan_build(cfg, &req, &text, &j, &err) == 0, "plan --policy nova");
    json_object_object_get_ex(j, "downtime_steps", &steps);
    v = json_object_array_get_idx(steps, 10);
    ok(json_object_get_int64(json_object_array_get_idx(v, 0)) == 3000 &&
           json_object_get_int64(json_object_array_get_idx(v, 1)) == 500,
       "plan nova 4 GiB: the last step [3000, 500]");
    has_str(text, "at     3000 s     500 ms", "plan nova text: the steps with their times");
    json_object_put(j);
    free(text);

    req.policy = "smart";
    ok(dv_mig_plan_build(cfg, &req, &text, &j, &err) < 0 && !text && !j, "plan --policy smart fails");
    is_int(err.code, DROVER_ERR_CONFIG, "... a configuration error");
    has_str(err.message, "--policy: no convergence policy named \"smart\" (this build has: adaptive, nova)",
            "... naming --policy and the known ones");
    req.policy = NULL;
    dv_config_set_string(&cfg->migration.policy, "smart", NULL);
    ok(dv_mig_plan_build(cfg, &req, NULL, &j, &err) < 0, "plan with migration.policy = smart fails");
    has_str(err.message, "migration.policy", "... naming migration.policy");
    dv_config_set_string(&cfg->migration.policy, "nova", NULL);
    req.memory_mib = 0;
    ok(dv_mig_plan_build(cfg, &req, NULL, &j, &err) < 0 && err.code == DROVER_ERR_INVALID,
       "plan of a 0 MiB guest: invalid");
    dv_config_free(cfg);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_registry();
    test_params();
    test_nova_plans();
    test_nova_timing();
    test_nova_timeout();
    test_adaptive_converging("converge-fast.trace", 512);
    test_adaptive_converging("converge-slow.trace", 1024);
    test_adaptive_stall_fits();
    test_real_converging();
    test_adaptive_nonconverging("wss-nonconverge.trace", 256, 5, 30000);
    test_real_trace("real-abort-256m-wss64-16mibs.trace", 256);
    test_real_trace("real-postcopy-256m-wss64-16mibs.trace", 256);
    test_adaptive_postcopy();
    test_adaptive_backstop();
    test_plan();
    return done_testing();
}
