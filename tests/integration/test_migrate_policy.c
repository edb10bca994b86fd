/* test_migrate_policy.c - the convergence policies steering real
 * migrations of a guest that dirties its memory faster than a capped
 * bandwidth carries it (two libvirt hosts from the harness):
 *  - adaptive + timeout_action force_complete, post-copy permitted: the
 *    policy switches to post-copy and the migration completes;
 *  - adaptive + abort: cancelled, with the policy's reason, the guest on
 *    the source, nothing on the destination;
 *  - nova: Nova's downtime steps, in order, then its completion timeout
 *    (short delays in the test config).
 * Each run's actions are read from drover's JSON Lines. */
#include "tests/integration/migtest.h"

#include <json-c/json.h>

#define BUSY "wss=32"
#define BW "16"

typedef struct action_seen {
    char name[24];
    uint64_t downtime_ms;
    int64_t at_ms;             /* wall clock of the action */
} action_seen;

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* The "action" events of a JSON Lines output. */
static size_t actions_of(const char *text, action_seen *out, size_t max, int64_t *created_ms)
{
    size_t n = 0;

    for (const char *p = text; p && *p;) {
        size_t len = strcspn(p, "\n");
        char *line = strndup(p, len);
        json_object *o = line ? json_tokener_parse(line) : NULL, *rec = get(o, "record");
        const char *ev = json_object_get_string(get(o, "event"));
        if (rec && created_ms)
            *created_ms = json_object_get_int64(get(rec, "created_ms"));
        if (ev && !strcmp(ev, "action") && n < max) {
            json_object *a = get(rec, "last_action");
            snprintf(out[n].name, sizeof out[n].name, "%s",
                     json_object_get_string(get(a, "action")));
            out[n].downtime_ms =
                (uint64_t)json_object_get_int64(get(get(rec, "stats"), "downtime_ms"));
            out[n].at_ms = json_object_get_int64(get(rec, "started_ms"));
            n++;
        }
        json_object_put(o);
        free(line);
        p += len + (p[len] == '\n');
    }
    return n;
}

static void diag_actions(const action_seen *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        diag("   action %zu: %s (downtime %llu ms)", i + 1, a[i].name,
             (unsigned long long)a[i].downtime_ms);
}

/* One migration of a busy guest: drover's run, its actions, the record. */
typedef struct policy_run {
    mt_run r;
    lvh_beat b;
    action_seen a[32];
    size_t n;
    dv_mig_record rec;
} policy_run;

/* Busy guest name (64 MiB) on host 1, migrated with `drover --json migrate`
 * under the migration settings conf (and --policy policy unless NULL):
 * drover's exit checked to be want_rc; the run, its actions and the record
 * in pr. */
static void migrate_busy(policy_run *pr, const char *name, const char *policy, const char *conf,
                         int want_rc, const char *what)
{
    const char *args[] = { "--json", "migrate", name, "--bandwidth", BW,
                           policy ? "--policy" : NULL, policy, NULL };
    int64_t t0 = dv_mono_ms();

    mt_write_config(conf);
    virDomainFree(mt_guest(0, name, 64, BUSY, &pr->b));
    mt_publish();
    is_int(mt_drover(&pr->r, name, args, 180), want_rc, "%s: exit %d", what, want_rc);
    diag("%s: %lld ms", what, (long long)(dv_mono_ms() - t0));
    pr->n = actions_of(pr->r.stdout_text, pr->a, 32, NULL);
    diag_actions(pr->a, pr->n);
    mt_record(name, &pr->rec);
}

static bool last_action_is(const policy_run *pr, const char *name)
{
    return pr->n > 0 && strcmp(pr->a[pr->n - 1].name, name) == 0;
}

static void policy_run_end(policy_run *pr, const char *name)
{
    mt_run_free(&pr->r);
    mt_remove(name);
}

static void test_adaptive_postcopy(void)
{
    policy_run pr;
    bool p;

    migrate_busy(&pr, "p1", NULL, "permit_post_copy = true; timeout_action = \"force_complete\";", 0,
                 "adaptive + force_complete");
    ok(last_action_is(&pr, "post-copy"), "the policy's last action is post-copy");
    is_str(dv_mig_state_name(pr.rec.state), "completed", "the record is completed");
    ok(strstr(pr.rec.action_why, "adaptive") != NULL, "the record keeps the why: %s",
       pr.rec.action_why);
    ok(pr.rec.flags & VIR_MIGRATE_POSTCOPY, "the job was started with VIR_MIGRATE_POSTCOPY");
    is_int(mt_dom_state(1, "p1", &p), VIR_DOMAIN_RUNNING, "the guest runs on the destination");
    ok(p, "... persistent there");
    is_int(mt_dom_state(0, "p1", &p), -1, "... and is gone from the source");
    ok(mt_beats_on(1, "p1", &pr.b), "its heartbeat goes on (same boot id)");
    is_int(mt_claimed(1), 0, "no claim left");
    policy_run_end(&pr, "p1");
}

static void test_adaptive_abort(void)
{
    policy_run pr;
    bool p;

    migrate_busy(&pr, "p2", NULL, "timeout_action = \"abort\";", 1, "adaptive + abort");
    ok(last_action_is(&pr, "abort"), "the policy's last action is abort");
    is_str(dv_mig_state_name(pr.rec.state), "cancelled", "the record is cancelled");
    ok(strstr(pr.rec.message, "adaptive") != NULL, "with the policy's reason: %s", pr.rec.message);
    is_int(mt_dom_state(0, "p2", &p), VIR_DOMAIN_RUNNING, "the guest runs on the source");
    is_int(mt_dom_state(1, "p2", &p), -1, "nothing of it on the destination");
    ok(mt_beats_on(0, "p2", &pr.b), "its heartbeat goes on on the source");
    is_int(mt_claimed(1), 0, "no claim left");
    policy_run_end(&pr, "p2");
}

/* Nova's arithmetic with the floors: 64 MiB counts as 2 GiB, delay 3 s per
 * GiB -> a step every 6 s; 3 steps of 400 ms; completion 10 s per GiB ->
 * 20 s, then abort. */
static void test_nova(void)
{
    policy_run pr;
    size_t downs = 0;
    bool order = true;

    migrate_busy(&pr, "p3", "nova",
                 "downtime_ms = 400; downtime_steps = 3; downtime_delay_s = 3;"
                 " completion_timeout_s = 10; timeout_action = \"abort\";",
                 1, "nova: the guest never converges");
    for (size_t i = 0; i < pr.n; i++) {
        if (strcmp(pr.a[i].name, "set-downtime") != 0)
            continue;
        if (downs && pr.a[i].downtime_ms <= pr.a[i - 1].downtime_ms)
            order = false;
        downs++;
    }
    ok(downs >= 3, "nova set the downtime step by step (%zu steps)", downs);
    ok(order, "... each step above the one before");
    ok(last_action_is(&pr, "abort"), "then aborted at the completion timeout");
    ok(pr.rec.ended_ms - pr.rec.started_ms >= 20000,
       "not before the timeout of 2 GiB x 10 s (ran %lld ms)",
       (long long)(pr.rec.ended_ms - pr.rec.started_ms));
    is_str(dv_mig_state_name(pr.rec.state), "cancelled", "the record is cancelled");
    ok(mt_beats_on(0, "p3", &pr.b), "the guest goes on on the source");
    policy_run_end(&pr, "p3");
}

int main(void)
{
    mt_setup(NULL);
    test_adaptive_postcopy();
    test_adaptive_abort();
    test_nova();
    lvh_stop(&mt_h);
    return done_testing();
}
