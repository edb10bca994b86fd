/* bench/sweep.c - how long do the evacuator's gates take to decide one
 * sweep?  Not a test: it prints figures.  10k and 100k members, none and 1%
 * DOWN (and 1% UNKNOWN for the second), the gate state carried from sweep to
 * sweep as the controller keeps it; the reads of the backend that produce
 * the observations are not included (the liveness bench measures those).
 *
 *   decide = dv_evac_decide: the host table rebuilt from the observations,
 *            grace / hysteresis / breaker / bucket, candidates with reasons
 *
 * usage: bench/sweep [ROUNDS]   (default 50 per case) */
#include "core/clock.h"
#include "evacuator/gates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(size_t n, int pct_down, int rounds)
{
    dv_gate_obs *obs = calloc(n, sizeof *obs);
    char (*names)[48] = calloc(n, sizeof *names);
    double *t = calloc((size_t)rounds, sizeof *t);
    dv_gate_params p = { .grace_ms = 30000, .flap_window_ms = 600000,
                         .flap_max_grace_ms = 600000, .max_down_fraction = 0.33,
                         .max_per_minute = 6 };
    dv_gates g;
    dv_gate_decision d;
    drover_error err;
    size_t acted = 0;

    if (!obs || !names || !t)
        return -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "compute%06zu.rack%02zu", i, i % 40);
        obs[i].host = names[i];
        obs[i].state = pct_down && i % 100 < (size_t)pct_down ? DROVER_DOWN
                       : pct_down && i % 100 == 50 ? DROVER_UNKNOWN : DROVER_UP;
    }
    dv_gates_init(&g);
    dv_gate_decision_init(&d);
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        if (dv_evac_decide(&g, &p, obs, n, 10000LL * r, &d, &err) < 0) {
            fprintf(stderr, "sweep: %s\n", err.message);
            return -1;
        }
        t[r] = (now_s() - t0) * 1000.0;
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp);
    for (size_t i = 0; i < d.n_cand; i++)
        acted += d.cand[i].verdict == DV_GATE_ACT;
    printf("%8zu members  %2d%% DOWN  decide  median %7.2f ms  p90 %7.2f ms  max %7.2f ms"
           "  (%zu candidates, %zu acted on at the last sweep)\n",
           n, pct_down, t[rounds / 2], t[rounds * 9 / 10], t[rounds - 1], d.n_cand, acted);
    dv_gate_decision_free(&d);
    dv_gates_free(&g);
    free(obs);
    free(names);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    static const size_t sizes[] = { 10000, 100000 };

    if (rounds < 1)
        rounds = 1;
    for (size_t s = 0; s < 2; s++)
        for (int pct = 0; pct <= 1; pct++)
            if (run(sizes[s], pct, rounds) < 0)
                return 1;
    return 0;
}
