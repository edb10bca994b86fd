/* test_metrics.c - the metrics registry rendered in the Prometheus text
 * format, compared with exact expected text: HELP/TYPE lines, labels and
 * their escaping, number spellings, cumulative histogram buckets with _sum
 * and _count; bad names and updates; updates from several threads. */
#include "core/metrics.h"
#include "evacuator/evac_metrics.h"
#include "tests/tap.h"

#include <math.h>
#include <pthread.h>

static char *render(dv_metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    drover_error err = { 0 };

    if (dv_metrics_render(m, &text, &len, &err) < 0)
        bail_out("render: %s", err.message);
    if (strlen(text) != len)
        bail_out("render: len %zu but strlen %zu", len, strlen(text));
    return text;
}

static void check_text(dv_metrics *m, const char *want, const char *what)
{
    char *got = render(m);
    if (!ok(strcmp(got, want) == 0, "%s: exact text", what))
        diag("got:\n%s\n# expected:\n%s", got, want);
    free(got);
}

static void test_counters_and_gauges(void)
{
    dv_metrics *m = dv_metrics_new();
    drover_error err = { 0 };
    static const char *const result[] = { "result", NULL };
    dv_metric *beats, *up, *last;

    check_text(m, "", "an empty registry");
    beats = dv_metrics_counter(m, "drover_heartbeats_total", "Heartbeats by result.", result, &err);
    up = dv_metrics_gauge(m, "drover_up", "1 while publishing.", NULL, &err);
    last = dv_metrics_gauge(m, "drover_last_heartbeat_seconds", "Wall time of the last heartbeat.",
                            NULL, &err);
    ok(beats && up && last, "families registered");
    check_text(m,
               "# HELP drover_heartbeats_total Heartbeats by result.\n"
               "# TYPE drover_heartbeats_total counter\n"
               "# HELP drover_up 1 while publishing.\n"
               "# TYPE drover_up gauge\n"
               "drover_up 0\n"
               "# HELP drover_last_heartbeat_seconds Wall time of the last heartbeat.\n"
               "# TYPE drover_last_heartbeat_seconds gauge\n"
               "drover_last_heartbeat_seconds 0\n",
               "before any update (labelled series absent, unlabelled ones 0)");
    dv_metric_add(beats, (const char *const[]){ "sent" }, 1, &err);
    dv_metric_add(beats, (const char *const[]){ "failed" }, 1, &err);
    dv_metric_add(beats, (const char *const[]){ "sent" }, 2, &err);
    dv_metric_set(up, NULL, 1, &err);
    dv_metric_set(last, NULL, 1700000000.5, &err);
    check_text(m,
               "# HELP drover_heartbeats_total Heartbeats by result.\n"
               "# TYPE drover_heartbeats_total counter\n"
               "drover_heartbeats_total{result=\"sent\"} 3\n"
               "drover_heartbeats_total{result=\"failed\"} 1\n"
               "# HELP drover_up 1 while publishing.\n"
               "# TYPE drover_up gauge\n"
               "drover_up 1\n"
               "# HELP drover_last_heartbeat_seconds Wall time of the last heartbeat.\n"
               "# TYPE drover_last_heartbeat_seconds gauge\n"
               "drover_last_heartbeat_seconds 1700000000.5\n",
               "after updates (series in creation order)");
    ok(dv_metric_value(beats, (const char *const[]){ "sent" }) == 3, "value: sent is 3");
    ok(dv_metric_value(beats, (const char *const[]){ "none" }) == 0, "value: a missing series is 0");
    dv_metric_add(up, NULL, -1, &err);
    ok(dv_metric_value(up, NULL) == 0, "a gauge may go down with add");
    dv_metrics_free(m);
}

static void test_escaping_and_numbers(void)
{
    static const struct {
        double v;
        const char *line, *what;
    } numbers[] = {
        { 1.0 / 3.0, "ns:g 0.3333333333333333\n", "a number that needs 16 digits gets them" },
        { -0.0, "ns:g -0\n", "-0 keeps its sign (it reads back as -0)" },
        { 123456789012345.0, "ns:g 123456789012345\n", "a large integer in full" },
        { INFINITY, "ns:g +Inf\n", "+Inf" },
    };
    dv_metrics *m = dv_metrics_new();
    drover_error err = { 0 };
    static const char *const ab[] = { "host", "reason", NULL };
    dv_metric *c = dv_metrics_counter(m, "x_total", "Help with \\ and\nnewline \"quoted\".", ab, &err);
    dv_metric *g = dv_metrics_gauge(m, "ns:g", "", NULL, &err);

    dv_metric_add(c, (const char *const[]){ "h\"1\"", "a\\b\nc" }, 0.1, &err);
    dv_metric_add(c, (const char *const[]){ "", "" }, 1e21, &err);
    dv_metric_set(g, NULL, -INFINITY, &err);
    check_text(m,
               "# HELP x_total Help with \\\\ and\\nnewline \"quoted\".\n"
               "# TYPE x_total counter\n"
               "x_total{host=\"h\\\"1\\\"\",reason=\"a\\\\b\\nc\"} 0.1\n"
               "x_total{host=\"\",reason=\"\"} 1e+21\n"
               "# HELP ns:g \n"
               "# TYPE ns:g gauge\n"
               "ns:g -Inf\n",
               "escaping: HELP escapes \\ and newline, label values also \"; numbers read back");
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        char *t;
        dv_metric_set(g, NULL, numbers[i].v, &err);
        t = render(m);
        has_str(t, numbers[i].line, "%s", numbers[i].what);
        free(t);
    }
    dv_metrics_free(m);
}

static void test_histogram(void)
{
    dv_metrics *m = dv_metrics_new();
    drover_error err = { 0 };
    static const double bounds[] = { 0.5, 1, 2.5 };
    static const char *const outcome[] = { "outcome", NULL };
    dv_metric *h = dv_metrics_histogram(m, "drover_migration_seconds", "Migration duration.",
                                        outcome, bounds, 3, &err);
    dv_metric *plain = dv_metrics_histogram(m, "sweep_seconds", "Sweep duration.", NULL, bounds, 1,
                                            &err);
    const char *const done[] = { "completed" };
    static const double took[] = { 0.5, 0.7, 2.5, 10 };   /* 0.5 on a bound: in that bucket */

    ok(h && plain, "histograms registered");
    for (size_t i = 0; i < sizeof took / sizeof *took; i++)
        dv_metric_observe(h, done, took[i], &err);
    dv_metric_observe(plain, NULL, 0.25, &err);
    check_text(m,
               "# HELP drover_migration_seconds Migration duration.\n"
               "# TYPE drover_migration_seconds histogram\n"
               "drover_migration_seconds_bucket{outcome=\"completed\",le=\"0.5\"} 1\n"
               "drover_migration_seconds_bucket{outcome=\"completed\",le=\"1\"} 2\n"
               "drover_migration_seconds_bucket{outcome=\"completed\",le=\"2.5\"} 3\n"
               "drover_migration_seconds_bucket{outcome=\"completed\",le=\"+Inf\"} 4\n"
               "drover_migration_seconds_sum{outcome=\"completed\"} 13.7\n"
               "drover_migration_seconds_count{outcome=\"completed\"} 4\n"
               "# HELP sweep_seconds Sweep duration.\n"
               "# TYPE sweep_seconds histogram\n"
               "sweep_seconds_bucket{le=\"0.5\"} 1\n"
               "sweep_seconds_bucket{le=\"+Inf\"} 1\n"
               "sweep_seconds_sum 0.25\n"
               "sweep_seconds_count 1\n",
               "histogram: cumulative buckets, +Inf, _sum and _count");
    ok(dv_metric_add(h, done, 1, &err) == -1 && err.code == DROVER_ERR_INVALID,
       "histogram: add is refused");
    dv_metrics_free(m);
}

static void test_bad_input(void)
{
    dv_metrics *m = dv_metrics_new();
    drover_error err = { 0 };
    static const char *const le[] = { "le", NULL }, *const dunder[] = { "__x", NULL };
    static const char *const twice[] = { "a", "a", NULL }, *const dash[] = { "a-b", NULL };
    static const double down[] = { 1, 0.5 }, inf[] = { INFINITY };
    dv_metric *c = dv_metrics_counter(m, "c_total", "c", NULL, &err);
    dv_metric *g = dv_metrics_gauge(m, "g", "g", NULL, &err);

    ok(!dv_metrics_counter(m, "c_total", "again", NULL, &err) && err.code == DROVER_ERR_INVALID,
       "a name registered twice is refused");
    has_str(err.message, "registered twice", "  and says so");
    ok(!dv_metrics_gauge(m, "1abc", "", NULL, &err), "a name starting with a digit");
    ok(!dv_metrics_gauge(m, "a b", "", NULL, &err), "a name with a space");
    ok(!dv_metrics_gauge(m, "", "", NULL, &err), "an empty name");
    ok(!dv_metrics_gauge(m, "x", "", dash, &err), "a label name with '-'");
    ok(!dv_metrics_gauge(m, "y", "", dunder, &err), "a label name starting with __");
    ok(!dv_metrics_gauge(m, "z", "", twice, &err), "a label name twice");
    ok(!dv_metrics_histogram(m, "h1", "", le, down, 1, &err), "a histogram label \"le\"");
    ok(!dv_metrics_histogram(m, "h2", "", NULL, down, 2, &err), "decreasing bucket bounds");
    ok(!dv_metrics_histogram(m, "h3", "", NULL, inf, 1, &err), "an infinite bucket bound");
    ok(dv_metric_add(c, NULL, -1, &err) == -1, "a counter does not go down");
    ok(dv_metric_set(c, NULL, 5, &err) == -1, "a counter cannot be set");
    ok(dv_metric_set(g, NULL, NAN, &err) == -1, "NaN is refused");
    ok(dv_metric_observe(g, NULL, 1, &err) == -1, "a gauge cannot observe");
    ok(dv_metric_add(NULL, NULL, 1, &err) == -1, "no metric");
    check_text(m, "# HELP c_total c\n# TYPE c_total counter\nc_total 0\n"
               "# HELP g g\n# TYPE g gauge\ng 0\n", "refused updates changed nothing");
    dv_metrics_free(m);
}

static dv_metric *shared;

static void *bump(void *arg)
{
    const char *const v[] = { (const char *)arg };
    for (int i = 0; i < 10000; i++)
        dv_metric_add(shared, v, 1, NULL);
    return NULL;
}

static void test_threads(void)
{
    dv_metrics *m = dv_metrics_new();
    static const char *const l[] = { "t", NULL };
    pthread_t th[4];
    static const char *const names[] = { "a", "b", "a", "b" };

    shared = dv_metrics_counter(m, "n_total", "n", l, NULL);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, bump, (void *)names[i]);
    for (int i = 0; i < 50; i++)
        free(render(m));
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ok(dv_metric_value(shared, (const char *const[]){ "a" }) == 20000 &&
       dv_metric_value(shared, (const char *const[]){ "b" }) == 20000,
       "4 threads x 10000 updates while rendering: none lost");
    dv_metrics_free(m);
}

/* The controller's families, fed one gate decision with the breaker open. */
static void test_evacuator_families(void)
{
    dv_metrics *m = dv_metrics_new();
    dv_evac_metrics em;
    dv_gates g;
    dv_gate_decision d;
    dv_gate_params p = { .grace_ms = 0, .max_down_fraction = 0.5, .max_per_minute = 6 };
    dv_gate_obs obs[4] = { { "a", DROVER_DOWN }, { "b", DROVER_DOWN }, { "c", DROVER_DOWN },
                           { "d", DROVER_UNKNOWN } };
    drover_error err = { 0 };
    char *t;

    ok(dv_evac_metrics_register(m, &em, &err) == 0, "evacuator families registered (%s)", err.message);
    dv_gates_init(&g);
    dv_gate_decision_init(&d);
    dv_evac_decide(&g, &p, obs, 4, 1000, &d, &err);
    dv_evac_metrics_sweep(&em, &d, 0.002);
    dv_evac_metrics_sweep(&em, NULL, 0.5);
    dv_evac_metrics_leader(&em, true, 7);
    dv_evac_metrics_fence(&em, false);
    dv_evac_metrics_migration(&em, "completed", 42);
    t = render(m);
    has_str(t, "drover_members{state=\"UP\"} 0\ndrover_members{state=\"DOWN\"} 3\n"
            "drover_members{state=\"UNKNOWN\"} 1\n", "members by state");
    has_str(t, "drover_evacuator_sweeps_total{result=\"ok\"} 1\n"
            "drover_evacuator_sweeps_total{result=\"error\"} 1\n", "sweeps by result");
    has_str(t, "drover_evacuator_sweep_duration_seconds_bucket{le=\"0.005\"} 1\n", "sweep duration");
    has_str(t, "drover_evacuator_sweep_duration_seconds_count 2\n", "  both sweeps observed");
    has_str(t, "drover_evacuator_candidates{verdict=\"held-breaker\"} 3\n", "candidates held by the breaker");
    has_str(t, "drover_evacuator_candidates{verdict=\"held-unknown\"} 1\n", "candidates held as UNKNOWN");
    has_str(t, "drover_evacuator_breaker_open 1\n", "breaker open");
    has_str(t, "drover_evacuator_breaker_trips_total 1\n", "one trip");
    has_str(t, "drover_evacuator_rate_tokens 1\n", "one token left");
    has_str(t, "\ndrover_evacuator_leader 1\n", "leader");
    has_str(t, "drover_evacuator_lease_epoch 7\n", "epoch");
    has_str(t, "drover_fences_total{outcome=\"failed\"} 1\n", "fences by outcome");
    has_str(t, "drover_migration_duration_seconds_bucket{outcome=\"completed\",le=\"60\"} 1\n",
            "migration duration histogram");
    free(t);
    dv_evac_metrics_sweep(NULL, &d, 1);    /* no metrics: nothing happens */
    dv_gate_decision_free(&d);
    dv_gates_free(&g);
    dv_metrics_free(m);
}

int main(void)
{
    test_counters_and_gauges();
    test_escaping_and_numbers();
    test_histogram();
    test_bad_input();
    test_threads();
    test_evacuator_families();
    return done_testing();
}
