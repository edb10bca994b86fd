/* test_evac_drain - the evacuator's drain path and two of its gates on three
 * real libvirt hosts with real guests, real droverd agents and a real
 * droverd --controller (db driver, sqlite store, mode "live"):
 *  - flapping: host 1's agent SIGSTOPped for less than the grace, then
 *    SIGCONT, four times -> the controller sees it DOWN and waiting for its
 *    grace, the grace grows once it came back (hysteresis), it is never
 *    acted on: 0 evacuations, host 1 enabled;
 *  - agent killed, its libvirt alive -> after the (longer, flapped) grace
 *    host 1 is disabled with the evacuator's reason and drained by live
 *    migration: its guests run once elsewhere, their heartbeat goes on
 *    under the same boot id (not rebooted), nothing is fenced; the journal
 *    has detected, gated, disabled, migrated per guest, drained; the
 *    metrics (curl) move;
 *  - rate limit: the agents of hosts 2 and 3 killed together, with
 *    max_per_minute 6 (one host per 10 s) and max_down_fraction 0.7 (2 of 3
 *    DOWN keeps the breaker closed) -> `drover evacuation status` shows one
 *    of them held by the rate with less than one token, and the journal's
 *    gated steps of every evacuation are 10 s apart; both are drained;
 *  - host 3 enabled by an operator while its agent is still dead -> it is
 *    evacuated again, as a new evacuation through the gates (a token, 10 s
 *    after the last), not as a carry-on of the finished one. */
#include "tests/integration/evactest.h"
#include "tests/harness/drover_run.h"

#include <json-c/json.h>
#include <strings.h>
#include <libvirt/libvirt.h>

#define N_GUESTS 4
#define GRACE_S 5
#define FLAP_MAX_GRACE_S 8
#define MAX_PER_MINUTE 6
#define TOKEN_MS (60000 / MAX_PER_MINUTE)
#define SLACK_MS 1000               /* gate decision (monotonic) to journal step (wall) */

static char uuid[N_GUESTS][40];
static const char *const names[N_GUESTS] = { "ed1", "ed2", "ed3", "ed4" };
static const int home[N_GUESTS] = { 0, 0, 1, 2 };
static lvh_beat last_beat[N_GUESTS];  /* boot id at start, beats at the last check */
static char drover_bin[512];

/* evactest.h's configuration with this test's gates: a longer grace (a
 * SIGSTOP shorter than it must still show the host DOWN), hysteresis capped
 * at twice the grace, a slow rate and a breaker that lets 2 of 3 through. */
static void write_config(void)
{
    char flap[96];
    et_conf_opts o = { .ctl_timeout_ms = 10000, .grace = GRACE_S, .max_down_fraction = 0.7,
                       .max_per_minute = MAX_PER_MINUTE, .mode = "live", .evac_extra = flap };

    snprintf(flap, sizeof flap, "flap_window = 600; flap_max_grace = %d;", FLAP_MAX_GRACE_S);
    et_write_config_opts(&o);
}

/* ---------------------------------------------------------------- guests */

/* Read guest g's heartbeat where it runs; the host index, or -1. */
static int beat_of(int g, lvh_beat *b)
{
    int where = -1, rc = -1;
    virConnectPtr c;
    virDomainPtr d;

    if (et_copies(uuid[g], &where) != 1 || !(c = virConnectOpen(et_h.host[where].uri)))
        return -1;
    if ((d = virDomainLookupByUUIDString(c, uuid[g]))) {
        rc = lvh_beat_read(d, b) == 0 ? where : -1;
        virDomainFree(d);
    }
    virConnectClose(c);
    return rc;
}

/* Guest g runs once, on host want (-1: any but not_on), and beats on under
 * its first boot id; a few reads, as its counter moves once per sweep. */
static bool goes_on(int g, int want, int not_on)
{
    lvh_beat b = { 0 };
    int where = -1;

    for (int i = 0; i < 50; i++) {
        where = beat_of(g, &b);
        if (where >= 0 && (want < 0 ? where != not_on : where == want) &&
            b.boot_id == last_beat[g].boot_id && b.beats > last_beat[g].beats) {
            last_beat[g].beats = b.beats;
            return true;
        }
        usleep(100000);
    }
    diag("   %s: on host %d, boot %u (first %u), beats %u (last %u)", names[g], where + 1,
         b.boot_id, last_beat[g].boot_id, b.beats, last_beat[g].beats);
    return false;
}

/* Started together, then each waited for: they boot at once. */
static void start_guests(void)
{
    for (int g = 0; g < N_GUESTS; g++)
        et_guest(home[g], names[g], 64, uuid[g]);
    for (int g = 0; g < N_GUESTS; g++) {
        virConnectPtr c;
        virDomainPtr d;

        if (!(c = virConnectOpen(et_h.host[home[g]].uri)) ||
            !(d = virDomainLookupByUUIDString(c, uuid[g])) ||
            lvh_beat_wait_running(d, 60000, &last_beat[g]) < 0)
            bail_out("guest %s does not beat on host %d", names[g], home[g] + 1);
        virDomainFree(d);
        virConnectClose(c);
    }
}

/* ---------------------------------------------------------------- members, journal */

static int liveness(int k)
{
    drover_member m;
    int s;
    if (et_member_try(k, &m) < 0)
        return -1;
    s = m.report ? (int)m.state : -1;
    drover_member_clear(&m);
    return s;
}

/* Host k's last report lists uuid and the backend's instance index finds
 * it there: what a drain's migration looks its source up by.  An agent
 * killed before its report caught up with a guest migrated in leaves the
 * guest unplaceable by the drain (the closing note of session 7), so the
 * test kills agents only once their reports agree with libvirt. */
static bool reported_on(const char *u, int k)
{
    dv_config *cfg;
    drover_error err;
    drover_member m;
    dv_sg *sg;
    char **hosts = NULL;
    size_t n = 0;
    bool in_report = false, in_index = false;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("backend: %s", err.message);
    if (dv_sg_get(sg, "compute", et_h.host[k].name, &m, &err) == 0) {
        for (size_t i = 0; m.report && i < m.report->n_instances; i++)
            in_report |= m.report->instances[i].uuid &&
                         strcasecmp(m.report->instances[i].uuid, u) == 0;
        drover_member_clear(&m);
    }
    if (!dv_sg_has_find_instance(sg))
        in_index = true;
    else if (dv_sg_find_instance(sg, "compute", u, &hosts, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            in_index |= strcmp(hosts[i], et_h.host[k].name) == 0;
        free(hosts);                   /* one block, the names inside */
    }
    dv_sg_close(sg);
    dv_config_free(cfg);
    return in_report && in_index;
}

static bool reports_agree(void)
{
    for (int g = 0; g < N_GUESTS; g++) {
        int where = -1;
        if (et_copies(uuid[g], &where) != 1 || !reported_on(uuid[g], where))
            return false;
    }
    return true;
}

static size_t count_steps(const dv_evac *e, const char *step)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_steps; i++)
        n += strcmp(e->steps[i].step, step) == 0;
    return n;
}

static bool has_evac(int k)
{
    dv_evac *v;
    size_t n;
    bool r;
    et_journal(&v, &n);
    r = dv_evac_latest(v, n, et_h.host[k].name) != NULL;
    dv_evacs_free(v, n);
    return r;
}

/* Host k disabled (not forced down) with the evacuator's drain reason. */
static void check_disabled(int k)
{
    drover_member m;
    et_member(k, &m);
    ok(m.disabled && !m.forced_down, "host %d is disabled, not forced down", k + 1);
    ok(m.disabled_reason && strstr(m.disabled_reason, "evacuator:") &&
           strstr(m.disabled_reason, "draining"),
       "with the evacuator's reason (%s)", m.disabled_reason ? m.disabled_reason : "none");
    drover_member_clear(&m);
}

/* The latest evacuation of host k is a finished live drain of its guests. */
static void check_drained(int k, size_t guests)
{
    dv_evac *v, *e;
    size_t n;

    et_journal(&v, &n);
    e = dv_evac_latest(v, n, et_h.host[k].name);
    ok(e != NULL, "the journal has an evacuation of host %d", k + 1);
    if (e) {
        is_str(e->state, "drained", "host %d: its state is drained", k + 1);
        is_str(e->path, "drain", "host %d: by the drain path", k + 1);
        ok(e->done && !e->fenced, "host %d: done, never fenced", k + 1);
        ok(et_has_step(e, "detected") && et_has_step(e, "gated") && et_has_step(e, "disabled") &&
               et_has_step(e, "drained") && !et_has_step(e, "fenced") &&
               !et_has_step(e, "fence-failed"),
           "host %d: steps detected, gated, disabled, drained (no fence)", k + 1);
        is_int((long long)count_steps(e, "migrated"), (long long)guests,
               "host %d: a migrated step per guest", k + 1);
        is_int((long long)e->n_guests, (long long)guests, "host %d: %zu guests journaled", k + 1,
               guests);
        for (size_t i = 0; i < e->n_guests; i++)
            ok(strcmp(e->guests[i].outcome, "migrated") == 0 && *e->guests[i].dest &&
                   strcmp(e->guests[i].dest, et_h.host[k].name) != 0,
               "host %d: guest %s migrated (to %s)", k + 1, e->guests[i].name, e->guests[i].dest);
        ok(e->epoch > 0, "host %d: written with the lease epoch (%lld)", k + 1,
           (long long)e->epoch);
    }
    dv_evacs_free(v, n);
}

/* ---------------------------------------------------------------- the controller's status */

/* The "evacuator/status" record the controller writes after each sweep
 * (NULL when none yet); the caller puts it. */
static json_object *status_record(void)
{
    dv_config *cfg;
    drover_error err;
    dv_store *st;
    dv_store_record r;
    json_object *o = NULL;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0)
        bail_out("status: %s", err.message);
    if (dv_store_record_get(st, DV_EVAC_STATUS_KIND, DV_EVAC_STATUS_ID, &r, &err) == 0) {
        o = json_tokener_parse(r.json);
        dv_store_record_clear(&r);
    } else if (err.code != DROVER_ERR_NOT_FOUND) {
        bail_out("status: %s", err.message);
    }
    dv_store_close(st);
    dv_config_free(cfg);
    return o;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *x;
    return o && json_object_object_get_ex(o, k, &x) ? json_object_get_string(x) : "";
}

static int64_t jint(json_object *o, const char *k)
{
    json_object *x;
    return o && json_object_object_get_ex(o, k, &x) ? json_object_get_int64(x) : -1;
}

/* Host k's candidate entry in a sweep's status (NULL: UP, not a candidate). */
static json_object *candidate(json_object *sweep, int k)
{
    json_object *c;
    if (!sweep || !json_object_object_get_ex(sweep, "candidates", &c))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(c); i++) {
        json_object *e = json_object_array_get_idx(c, i);
        if (strcmp(jstr(e, "host"), et_h.host[k].name) == 0)
            return e;
    }
    return NULL;
}

/* The last sweep recorded no candidate for host k (a sweep saw it UP). */
static bool not_candidate(int k)
{
    json_object *o = status_record();
    bool r = o && !candidate(o, k);
    json_object_put(o);
    return r;
}

/* `drover --json evacuation status`, its "last_sweep" object (or NULL). */
static json_object *cli_status(void)
{
    const char *args[] = { "--json", "evacuation", "status", NULL };
    json_object *o = NULL, *sweep = NULL;
    dv_drun r;

    if (dv_drun_spawn(&r, drover_bin, et_conf, et_work, "status", args) < 0)
        bail_out("fork: %s", strerror(errno));
    if (dv_drun_finish(&r, 30) == 0 && (o = json_tokener_parse(r.stdout_text)) &&
        json_object_object_get_ex(o, "last_sweep", &sweep))
        json_object_get(sweep);
    else
        sweep = NULL;
    json_object_put(o);
    dv_drun_free(&r);
    return sweep;
}

/* ---------------------------------------------------------------- flapping */

typedef struct flap_seen {
    int down;                       /* cycles the test saw host 1 DOWN */
    int waiting;                    /* cycles the controller had it waiting for its grace */
    int max_recoveries;
    int64_t max_grace_ms;
    int acted;                      /* sweeps that said act or continue */
} flap_seen;

/* One SIGSTOP of ms, watching the controller's verdicts on host 1. */
static void flap_once(int ms, flap_seen *s)
{
    int64_t end = dv_mono_ms() + ms;
    bool waiting = false;

    kill(et_agent[0], SIGSTOP);
    while (dv_mono_ms() < end) {
        json_object *o = status_record(), *c = candidate(o, 0);
        const char *v = jstr(c, "verdict");
        if (c && strcmp(v, "wait-grace") == 0) {
            waiting = true;
            if (jint(c, "recoveries") > s->max_recoveries)
                s->max_recoveries = (int)jint(c, "recoveries");
            if (jint(c, "grace_ms") > s->max_grace_ms)
                s->max_grace_ms = jint(c, "grace_ms");
        }
        s->acted += c && (strcmp(v, "act") == 0 || strcmp(v, "continue") == 0);
        json_object_put(o);
        usleep(100000);
    }
    s->down += liveness(0) == DROVER_DOWN;  /* > service_down_time without a heartbeat */
    s->waiting += waiting;
    kill(et_agent[0], SIGCONT);
}

static void test_flapping(void)
{
    flap_seen s = { 0 };
    bool back = true;
    drover_member m;

    /* 3.5 s stopped: DOWN at its end (service_down_time 3 s), DOWN for at
     * most ~2.5 s before the next heartbeat: less than the 5 s grace */
    for (int i = 0; i < 4; i++) {
        flap_once(3500, &s);
        back &= ET_WAIT(20000, liveness(0) == DROVER_UP && not_candidate(0));
    }
    is_int(s.down, 4, "host 1 was DOWN at the end of each of its 4 SIGSTOPs");
    ok(back, "and UP again after each SIGCONT (a sweep saw it back)");
    ok(s.waiting >= 2, "the controller had it waiting for its grace in %d of the 4 cycles",
       s.waiting);
    ok(s.max_recoveries >= 1 && s.max_grace_ms > GRACE_S * 1000,
       "hysteresis: once it had come back, its grace grew (%d recoveries, grace %lld ms)",
       s.max_recoveries, (long long)s.max_grace_ms);
    is_int(s.acted, 0, "no sweep ever said act or continue for it");
    is_int((long long)et_count_evacuations(), 0, "0 evacuations in the journal");
    et_member(0, &m);
    ok(!m.disabled && !m.forced_down, "host 1 is not disabled");
    drover_member_clear(&m);
    for (int g = 0; g < N_GUESTS; g++)
        ok(goes_on(g, home[g], -1), "%s still runs on host %d, not rebooted", names[g],
           home[g] + 1);
}

/* ---------------------------------------------------------------- agent killed */

/* The drain counters in the metrics text t: evacs evacuations drained,
 * guests guests migrated (the words say how many), as many migrations
 * completed at least. */
static void check_drain_metrics(const char *t, int evacs, const char *evacs_words, int guests,
                                const char *guests_words)
{
    is_int((long long)et_metric(t, "drover_evacuations_total{outcome=\"drained\"}"), evacs,
           "metrics: %s drained", evacs_words);
    is_int((long long)et_metric(t, "drover_evacuation_guests_total{outcome=\"migrated\"}"), guests,
           "metrics: %s migrated", guests_words);
    ok(et_metric(t, "drover_migrations_total{outcome=\"completed\"}") >= guests,
       "metrics: migrations completed (%g)",
       et_metric(t, "drover_migrations_total{outcome=\"completed\"}"));
}

static void test_agent_killed(void)
{
    dv_evac *v, *e;
    size_t n;
    int64_t t0 = dv_mono_ms();
    char *t, *fenced;

    et_reap(&et_agent[0], SIGKILL);
    ok(ET_WAIT(90000, et_evac_done(0)), "host 1's evacuation is done");
    diag("agent killed to host 1 drained: %.1f s", (double)(dv_mono_ms() - t0) / 1000.0);
    check_drained(0, 2);
    et_journal(&v, &n);
    e = dv_evac_latest(v, n, et_h.host[0].name);
    ok(e && et_step_of(e, "gated", NULL) && strstr(et_step_of(e, "gated", NULL)->msg, "doubled"),
       "it was gated with the grace its flapping doubled (%s)",
       e && et_step_of(e, "gated", NULL) ? et_step_of(e, "gated", NULL)->msg : "no gated step");
    dv_evacs_free(v, n);
    for (int g = 0; g < 2; g++)
        ok(goes_on(g, -1, 0), "%s runs once, off host 1, same boot id, counter on", names[g]);
    for (int g = 2; g < N_GUESTS; g++)
        ok(goes_on(g, home[g], -1), "%s still runs on host %d, not rebooted", names[g],
           home[g] + 1);
    is_int(et_runs(0, uuid[0]) + et_runs(0, uuid[1]), 0,
           "host 1's libvirt answers and runs neither of them");
    check_disabled(0);
    fenced = et_slurp("fenced.log");
    is_str(fenced, "", "the fence command was never run");
    free(fenced);
    t = et_scrape();
    check_drain_metrics(t, 1, "one evacuation", 2, "two guests");
    ok(et_metric(t, "drover_fences_total{outcome=\"confirmed\"}") <= 0 &&
           et_metric(t, "drover_fences_total{outcome=\"failed\"}") <= 0,
       "metrics: no fence");
    free(t);
}

/* ---------------------------------------------------------------- rate limit */

/* Poll `drover evacuation status` until one of hosts 2, 3 is held by the
 * rate while the other, DOWN as long, has been acted on (the journal has
 * its evacuation): the second host waits.  Its index, or -1. */
static int held_by_rate(double *tokens, int64_t *next_ms)
{
    int64_t end = dv_mono_ms() + 60000;

    while (dv_mono_ms() < end) {
        json_object *o = cli_status();
        for (int k = 1; k < 3 && o; k++) {
            json_object *c = candidate(o, k), *x;
            if (c && strcmp(jstr(c, "verdict"), "held-rate") == 0 && has_evac(3 - k)) {
                *tokens = json_object_object_get_ex(o, "tokens", &x) ? json_object_get_double(x)
                                                                     : -1;
                *next_ms = jint(o, "next_token_ms");
                diag("   status: %s held: %s", et_h.host[k].name, jstr(c, "why"));
                json_object_put(o);
                return k;
            }
        }
        json_object_put(o);
        usleep(300000);
    }
    return -1;
}

/* Every pair of evacuations was gated at least one token apart. */
static void check_spacing(size_t want)
{
    dv_evac *v;
    size_t n;
    int64_t closest = INT64_MAX;

    et_journal(&v, &n);
    is_int((long long)n, (long long)want, "the journal has %zu evacuations", want);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const dv_evac_step *a = et_step_of(&v[i], "gated", NULL),
                               *b = et_step_of(&v[j], "gated", NULL);
            int64_t d = a && b ? llabs((long long)(a->t_ms - b->t_ms)) : -1;
            diag("   gated: %s and %s %lld ms apart", v[i].host, v[j].host, (long long)d);
            if (d < closest)
                closest = d;
        }
    ok(closest >= TOKEN_MS - SLACK_MS,
       "the journal: hosts gated at least 60 s / max_per_minute apart (closest %lld ms, "
       "token %d ms)", (long long)closest, TOKEN_MS);
    dv_evacs_free(v, n);
}

static void test_rate(void)
{
    double tokens = -1;
    int64_t next_ms = -1;
    int held, where;
    size_t on[3] = { 0 };

    et_agent_start(0);
    /* an operator enables host 1 once it is back: enabled while still DOWN,
     * it would be evacuated again (test_enabled_while_down) */
    if (!ET_WAIT(30000, liveness(0) == DROVER_UP))
        bail_out("host 1's agent does not report again in 30 s");
    et_admin(0, false, false);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT | ET_ENABLED | ET_NOT_FORCED)))
        bail_out("host 1 is not UP and enabled again in 30 s");
    ok(1, "host 1 is UP and enabled again");
    for (int g = 0; g < N_GUESTS; g++)
        if (et_copies(uuid[g], &where) == 1)
            on[where]++;
    ok(ET_WAIT(30000, reports_agree()), "every guest is in its host's report and the index");
    et_reap(&et_agent[1], SIGKILL);
    et_reap(&et_agent[2], SIGKILL);
    held = held_by_rate(&tokens, &next_ms);
    ok(held > 0, "evacuation status: host %d is held by the rate limit while host %d, DOWN as "
       "long, has been acted on", held + 1, 4 - held);
    ok(tokens >= 0 && tokens < 1 && next_ms > 0,
       "evacuation status: %g tokens left, the next in %lld ms", tokens, (long long)next_ms);
    ok(ET_WAIT(90000, et_evac_done(1) && et_evac_done(2)), "both evacuations are done");
    check_spacing(3);
    check_drained(1, on[1]);
    check_drained(2, on[2]);
    check_disabled(1);
    check_disabled(2);
    for (int g = 0; g < N_GUESTS; g++)
        ok(goes_on(g, 0, -1), "%s runs once on host 1, same boot id, counter on", names[g]);
}

static size_t evacs_of(int k)
{
    dv_evac *v;
    size_t n, c = 0;
    et_journal(&v, &n);
    for (size_t i = 0; i < n; i++)
        c += strcmp(v[i].host, et_h.host[k].name) == 0;
    dv_evacs_free(v, n);
    return c;
}

/* An operator enables host 3 while its agent is still dead: DOWN and
 * enabled, it is evacuated again, as a new evacuation that passes the gates
 * (a token of the rate), never as a carry-on of the finished one. */
static void test_enabled_while_down(void)
{
    dv_evac *v, *e;
    const dv_evac_step *g;
    size_t n;

    et_admin(2, false, false);
    ok(ET_WAIT(60000, evacs_of(2) == 2 && et_evac_done(2)),
       "host 3, enabled while DOWN, is evacuated again");
    et_journal(&v, &n);
    e = dv_evac_latest(v, n, et_h.host[2].name);
    g = et_step_of(e, "gated", NULL);
    ok(g && strstr(g->msg, "act now") && !strstr(g->msg, "carry on"),
       "gated anew, with a token (%s)", g ? g->msg : "no gated step");
    dv_evacs_free(v, n);
    check_spacing(4);
    check_disabled(2);
}

static void test_metrics(void)
{
    char *t = et_scrape();

    check_drain_metrics(t, 4, "four evacuations", 6, "six guests");
    ok(et_metric(t, "drover_evacuator_breaker_trips_total") <= 0,
       "metrics: the breaker never tripped (2 of 3 DOWN <= 0.7)");
    ok(et_metric(t, "drover_fences_total{outcome=\"confirmed\"}") <= 0 &&
           et_metric(t, "drover_fences_total{outcome=\"failed\"}") <= 0,
       "metrics: no fence");
    is_int((long long)et_metric(t, "drover_evacuator_leader"), 1, "metrics: the controller leads");
    free(t);
}

int main(void)
{
    double sweeps0 = 0;
    char *t;

    signal(SIGPIPE, SIG_IGN);
    if (dv_drun_bin(drover_bin, sizeof drover_bin, "drover") < 0)
        bail_out("%s is not built", drover_bin);
    et_setup(NULL);
    write_config();
    start_guests();
    for (int k = 0; k < 3; k++)
        et_agent_start(k);
    if (!ET_WAIT(30000, et_all_up(ET_REPORT | ET_ENABLED | ET_NOT_FORCED)))
        bail_out("the agents did not report in 30 s");
    ok(1, "three agents report, four guests beat");
    et_controller_start();
    ok(ET_WAIT(15000, (t = et_scrape()) && (sweeps0 = et_metric(t, "drover_evacuator_sweeps_total{result=\"ok\"}"),
                                            free(t), sweeps0 >= 1)),
       "the controller sweeps and serves its metrics");
    test_flapping();
    test_agent_killed();
    test_rate();
    test_enabled_while_down();
    test_metrics();
    et_stop_all();
    lvh_stop(&et_h);
    return done_testing();
}
