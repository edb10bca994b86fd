/* test_evac_breaker - the evacuator's circuit breaker and a state backend
 * that stops taking writes, on three real libvirt hosts with real droverd
 * agents and a real droverd --controller (db driver, sqlite store,
 * evacuator.max_down_fraction 0.5, grace 4 s):
 *  - the agents of hosts 2 and 3 killed (their libvirt lives on): 2 of 3
 *    DOWN is more than 0.5 -> the breaker opens: nothing is evacuated for
 *    longer than the grace; `drover evacuation status` (text and --json)
 *    says the breaker is open and why, the metrics (scraped with curl) say
 *    so too, alert_command gets a breaker_open event;
 *  - host 2's agent back: 1 of 3 DOWN -> the breaker closes (an alert) and
 *    host 3, DOWN far past its grace, is drained live; host 2 is left alone;
 *  - the servicegroup's SQLite file write-locked by another process (BEGIN
 *    EXCLUSIVE held) for longer than grace + service_down_time: no heartbeat
 *    lands, every host looks DOWN -> nothing is evacuated, during the lock
 *    or after it; every host is UP again once it is released. */
#include "tests/integration/evacfault.h"

#include <libvirt/libvirt.h>
#include <poll.h>
#include <sqlite3.h>

#define GRACE 4

static char uuid3[40], uuid2[40];      /* eb3 on host 3, eb2 on host 2 */

/* ---------------------------------------------------------------- helpers */

static const dv_evac *only_evac(const dv_evac *v, size_t n, int k)
{
    return n == 1 && strcmp(v[0].host, et_h.host[k].name) == 0 ? &v[0] : NULL;
}

/* The time_ms of the first event of kind alert_command got; 0 if none. */
static int64_t alert_time(const char *kind)
{
    char needle[64], *t = et_slurp("alerts.log"), *p, *q;
    int64_t ms = 0;

    snprintf(needle, sizeof needle, "\"event\":\"%s\"", kind);
    if ((p = strstr(t, needle)) && (q = strstr(p, "\"time_ms\":")))
        ms = atoll(q + strlen("\"time_ms\":"));
    free(t);
    return ms;
}

/* The journal in the log, step by step (for a post-mortem). */
static void diag_journal(void)
{
    dv_evac *v;
    size_t n;
    et_journal(&v, &n);
    et_diag_journal(v, n, true);
    dv_evacs_free(v, n);
}

static bool breaker_is(int open)
{
    return (int)ef_metric("drover_evacuator_breaker_open") == open;
}

/* The last sweep says the breaker is open with `down` hosts DOWN and both
 * DOWN hosts held by it. */
static bool swept_open_holding(int down, int ka, int kb)
{
    json_object *s = ef_last_sweep();
    bool r = s && ef_bool(s, "breaker_open") && ef_int(s, "down") == down &&
             strcmp(ef_str(ef_candidate(s, ka), "verdict"), "held-breaker") == 0 &&
             strcmp(ef_str(ef_candidate(s, kb), "verdict"), "held-breaker") == 0;
    json_object_put(s);
    return r;
}

/* ---------------------------------------------------------------- the lock holder */

/* Another process holds the SQLite write lock of path (BEGIN EXCLUSIVE)
 * until *release is closed; returns its pid once the lock is held. */
static pid_t lock_db(const char *path, int *release)
{
    int ready[2], hold[2];
    char c = 0;
    pid_t pid;

    if (pipe(ready) < 0 || pipe(hold) < 0)
        bail_out("pipe: %s", strerror(errno));
    fflush(stdout);
    if ((pid = fork()) < 0)
        bail_out("fork: %s", strerror(errno));
    if (pid == 0) {
        sqlite3 *db = NULL;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        close(hold[1]);
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            sqlite3_busy_timeout(db, 20000) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(ready[1], "y", 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) > 0)
            ;
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    if (read(ready[0], &c, 1) != 1 || c != 'y')
        bail_out("the lock holder could not BEGIN EXCLUSIVE on %s", path);
    close(ready[0]);
    *release = hold[1];
    return pid;
}

static void unlock_db(pid_t pid, int release)
{
    int st = 0;
    close(release);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bail_out("the lock holder did not end well (status %d)", st);
}

/* ---------------------------------------------------------------- phases */

static void test_breaker_opens(void)
{
    char *text = NULL;
    json_object *s;
    drover_member m;

    et_reap(&et_agent[1], SIGKILL);
    et_reap(&et_agent[2], SIGKILL);
    diag("the agents of hosts 2 and 3 killed; their libvirtd runs on");
    ok(ET_WAIT(30000, breaker_is(1)), "the breaker opens (2 of 3 DOWN > 0.5)");
    /* past the grace, counted from when both were DOWN, with room to spare */
    is_int((long long)ef_hold_journal((GRACE + 4) * 1000, 0), 0,
           "nothing is evacuated while it is open, for %d s (grace %d s)", GRACE + 4, GRACE);
    ok(ET_WAIT(10000, swept_open_holding(2, 1, 2)),
       "the last sweep: breaker open, 2 DOWN, hosts 2 and 3 held-breaker (due, held)");

    is_int(ef_status(false, &text), 0, "drover evacuation status runs");
    has_str(text, "breaker:    OPEN", "it says the breaker is OPEN");
    has_str(text, "2 of 3 hosts", "and why: 2 of 3 hosts DOWN");
    has_str(text, "max_down_fraction 0.5", "more than max_down_fraction 0.5");
    has_str(text, "held-breaker", "the candidates are held by the breaker");
    if (!strstr(text, "breaker:    OPEN"))
        dv_drun_diag_text("status:", text);
    free(text);

    s = ef_last_sweep();
    ok(s != NULL, "drover evacuation status --json gives the last sweep");
    ok(ef_bool(s, "breaker_open"), "--json: breaker_open true");
    has_str(ef_str(s, "breaker_why"), "circuit breaker open: 2 of 3 hosts", "--json: breaker_why");
    is_int(ef_int(s, "members"), 3, "--json: 3 members");
    is_int(ef_int(s, "down"), 2, "--json: 2 DOWN");
    is_int(ef_int(s, "acted_total"), 0, "--json: nothing acted on");
    ok(ef_int(ef_candidate(s, 2), "down_ms") >= GRACE * 1000,
       "--json: host 3's timer ran on past the grace (%lld ms)",
       (long long)ef_int(ef_candidate(s, 2), "down_ms"));
    json_object_put(s);

    is_int((long long)ef_metric("drover_evacuator_breaker_open"), 1, "metric: breaker open");
    is_int((long long)ef_metric("drover_evacuator_breaker_trips_total"), 1, "metric: one trip");
    is_int((long long)ef_metric("drover_members{state=\"DOWN\"}"), 2, "metric: 2 members DOWN");
    is_int((long long)ef_metric("drover_evacuator_candidates{verdict=\"held-breaker\"}"), 2,
           "metric: 2 candidates held by the breaker");
    is_int((long long)ef_metric("drover_evacuations_total{outcome=\"drained\"}"), -1,
           "metric: no evacuation counted");
    is_int(ef_alerts("breaker_open"), 1, "alert_command got one breaker_open event");
    text = et_slurp("alerts.log");
    has_str(text, "2 of 3 hosts", "the event says why");
    free(text);

    ok(et_host_of(uuid3) == 2 && et_host_of(uuid2) == 1, "eb3 and eb2 run where they ran");
    for (int k = 1; k < 3; k++) {
        et_member(k, &m);
        ok(m.state == DROVER_DOWN && !m.disabled && !m.forced_down,
           "host %d is DOWN, neither disabled nor forced down", k + 1);
        drover_member_clear(&m);
    }
}

static void test_breaker_closes(void)
{
    drover_member m;
    dv_evac *v;
    const dv_evac *e;
    size_t n;
    char *fenced;

    et_agent_start(1);
    diag("host 2's agent started again: 1 of 3 DOWN");
    ok(ET_WAIT(30000, breaker_is(0)), "the breaker closes");
    ok(ET_WAIT(10000, ef_alerts("breaker_closed") == 1),
       "alert_command got a breaker_closed event");
    ok(ET_WAIT(90000, et_evac_done(2)), "the evacuation of host 3 proceeds and is done");
    ok(et_runs_once_not_on(uuid3, 2), "eb3 runs once, off host 3");
    ok(et_host_of(uuid2) == 1, "eb2 still runs on host 2 only");
    et_journal(&v, &n);
    et_diag_journal(v, n, false);
    e = only_evac(v, n, 2);
    ok(e != NULL, "the journal holds one evacuation, of host 3");
    if (e) {
        is_str(e->state, "drained", "drained live");
        ok(et_has_step(e, "detected") && et_has_step(e, "gated") && et_has_step(e, "disabled") &&
               et_has_step(e, "migrated") && et_has_step(e, "drained"),
           "steps: detected, gated, disabled, migrated, drained");
        ok(!e->fenced && !et_has_step(e, "fenced"), "not fenced: its libvirt answered");
        /* what was seen while the breaker was open does not count */
        ok(e->n_steps && alert_time("breaker_closed") > 0 &&
               e->steps[0].t_ms - alert_time("breaker_closed") >= GRACE * 1000 - 500,
           "detected a whole grace after the breaker closed (%.1f s, grace %d s)",
           e->n_steps ? (double)(e->steps[0].t_ms - alert_time("breaker_closed")) / 1000.0 : -1.0,
           GRACE);
    }
    dv_evacs_free(v, n);
    et_member(2, &m);
    ok(m.disabled && !m.forced_down, "host 3 is disabled, not forced down");
    has_str(m.disabled_reason ? m.disabled_reason : "", "evacuator:",
            "with the evacuator's reason");
    drover_member_clear(&m);
    et_member(1, &m);
    ok(m.state == DROVER_UP && !m.disabled, "host 2 is UP and enabled");
    drover_member_clear(&m);
    fenced = et_slurp("fenced.log");
    is_str(fenced, "", "the fence command never ran");
    free(fenced);
    is_int((long long)ef_metric("drover_evacuations_total{outcome=\"drained\"}"), 1,
           "metric: one evacuation drained");
    is_int((long long)ef_metric("drover_evacuator_breaker_open"), 0, "metric: breaker closed");
}

static void test_sqlite_locked(void)
{
    char db[256];
    int release;
    pid_t holder;
    json_object *s;
    int64_t t0;
    bool all_down = false;
    size_t most;
    int trips0;

    et_agent_start(2);
    /* enabled while still DOWN, host 3 would be due again at once */
    ok(ET_WAIT(30000, et_all_up(ET_REPORT) && ef_swept_all_up()),
       "host 3's agent back: the controller sees every host UP");
    et_admin(2, false, false);               /* an operator enables host 3 again */
    trips0 = ef_alerts("breaker_open");
    snprintf(db, sizeof db, "%s/drover.db", et_work);
    holder = lock_db(db, &release);
    t0 = dv_mono_ms();
    diag("%s write-locked by process %d (BEGIN EXCLUSIVE)", db, (int)holder);
    /* the store (state.db) stays writable: the journal and status are read there */
    all_down = ET_WAIT(20000, (s = ef_last_sweep(), all_down = ef_int(s, "down") == 3,
                               json_object_put(s), all_down));
    ok(all_down, "no heartbeat lands: the controller sees all 3 hosts DOWN (%.1f s)",
       (double)(dv_mono_ms() - t0) / 1000.0);
    most = ef_hold_journal((int)(t0 + (GRACE + 3 + 4) * 1000 - dv_mono_ms()), 1);
    is_int((long long)most, 1, "no new evacuation during the lock (%.1f s > grace + "
           "service_down_time %d s)", (double)(dv_mono_ms() - t0) / 1000.0, GRACE + 3);
    if (most != 1)
        diag_journal();
    ok(ef_alerts("breaker_open") > trips0, "the breaker opened (an alert)");
    unlock_db(holder, release);
    diag("the lock released after %.1f s", (double)(dv_mono_ms() - t0) / 1000.0);
    ok(ET_WAIT(30000, et_all_up(ET_REPORT)), "every host is UP again");
    ok(ET_WAIT(15000, breaker_is(0)), "the breaker closes");
    most = ef_hold_journal((GRACE + 2) * 1000, 1);
    is_int((long long)most, 1, "still no new evacuation %d s after the lock", GRACE + 2);
    if (most != 1)
        diag_journal();
    ok(et_all_up(ET_REPORT), "every host is still UP");
    ok(et_runs_once_not_on(uuid3, 2) && et_host_of(uuid2) == 1, "the guests run on, once each");
}

int main(void)
{
    char sg[300];
    double sweeps = 0;
    char *t;

    et_setup(NULL);
    snprintf(sg, sizeof sg, "driver = \"db\"; db = { path = \"%s/drover.db\"; };", et_work);
    ef_write_config(sg, GRACE);
    et_guest(2, "eb3", 64, uuid3);
    et_guest(1, "eb2", 64, uuid2);
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT)))
        bail_out("the agents did not report in 30 s");
    ok(1, "three agents report");
    et_controller_start();
    ok(ET_WAIT(15000, (t = et_scrape()) &&
                          (sweeps = et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}"),
                           free(t), sweeps >= 1)),
       "the controller sweeps and serves its metrics");
    is_int((long long)ef_metric("drover_evacuator_breaker_open"), 0,
           "metric: the breaker is closed");
    is_int((long long)et_count_evacuations(), 0, "with every host UP nothing is evacuated");
    test_breaker_opens();
    test_breaker_closes();
    test_sqlite_locked();
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
