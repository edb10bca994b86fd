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

static void test_adaptive_postcopy(void)
{
    const char *args[] = { "--json", "migrate", "p1", "--bandwidth", BW, NULL };
    action_seen a[32];
    dv_mig_record rec;
    lvh_beat b;
    mt_run r;
    size_t n;
    bool p;
    int64_t t0 = dv_mono_ms();

    mt_write_config("permit_post_copy = true; timeout_action = \"force_complete\";");
    virDomainFree(mt_guest(0, "p1", 64, BUSY, &b));
    mt_publish();
    is_int(mt_drover(&r, "adaptive-pc", args, 180), 0, "adaptive + force_complete: exit 0");
    diag("adaptive + post-copy: %lld ms", (long long)(dv_mono_ms() - t0));
    n = actions_of(r.stdout_text, a, 32, NULL);
    diag_actions(a, n);
    ok(n > 0 && !strcmp(a[n - 1].name, "post-copy"), "the policy's last action is post-copy");
    mt_record("p1", &rec);
    is_str(dv_mig_state_name(rec.state), "completed", "the record is completed");
    ok(strstr(rec.action_why, "adaptive") != NULL, "the record keeps the why: %s", rec.action_why);
    ok(rec.flags & VIR_MIGRATE_POSTCOPY, "the job was started with VIR_MIGRATE_POSTCOPY");
    is_int(mt_dom_state(1, "p1", &p), VIR_DOMAIN_RUNNING, "the guest runs on the destination");
    ok(p, "... persistent there");
    is_int(mt_dom_state(0, "p1", &p), -1, "... and is gone from the source");
    ok(mt_beats_on(1, "p1", &b), "its heartbeat goes on (same boot id)");
    is_int(mt_claimed(1), 0, "no claim left");
    mt_run_free(&r);
    mt_remove("p1");
}

static void test_adaptive_abort(void)
{
    const char *args[] = { "--json", "migrate", "p2", "--bandwidth", BW, NULL };
    action_seen a[32];
    dv_mig_record rec;
    lvh_beat b;
    mt_run r;
    size_t n;
    bool p;
    int64_t t0 = dv_mono_ms();

    mt_write_config("timeout_action = \"abort\";");
    virDomainFree(mt_guest(0, "p2", 64, BUSY, &b));
    mt_publish();
    is_int(mt_drover(&r, "adaptive-abort", args, 180), 1, "adaptive + abort: exit 1");
    diag("adaptive + abort: %lld ms", (long long)(dv_mono_ms() - t0));
    n = actions_of(r.stdout_text, a, 32, NULL);
    diag_actions(a, n);
    ok(n > 0 && !strcmp(a[n - 1].name, "abort"), "the policy's last action is abort");
    mt_record("p2", &rec);
    is_str(dv_mig_state_name(rec.state), "cancelled", "the record is cancelled");
    ok(strstr(rec.message, "adaptive") != NULL, "with the policy's reason: %s", rec.message);
    is_int(mt_dom_state(0, "p2", &p), VIR_DOMAIN_RUNNING, "the guest runs on the source");
    is_int(mt_dom_state(1, "p2", &p), -1, "nothing of it on the destination");
    ok(mt_beats_on(0, "p2", &b), "its heartbeat goes on on the source");
    is_int(mt_claimed(1), 0, "no claim left");
    mt_run_free(&r);
    mt_remove("p2");
}

/* Nova's arithmetic with the floors: 64 MiB counts as 2 GiB, delay 3 s per
 * GiB -> a step every 6 s; 3 steps of 400 ms; completion 10 s per GiB ->
 * 20 s, then abort. */
static void test_nova(void)
{
    const char *args[] = { "--json", "migrate", "p3", "--bandwidth", BW, "--policy", "nova", NULL };
    action_seen a[32];
    dv_mig_record rec;
    lvh_beat b;
    mt_run r;
    size_t n, downs = 0;
    bool order = true;
    int64_t t0 = dv_mono_ms(), took;

    mt_write_config("downtime_ms = 400; downtime_steps = 3; downtime_delay_s = 3;"
                    " completion_timeout_s = 10; timeout_action = \"abort\";");
    virDomainFree(mt_guest(0, "p3", 64, BUSY, &b));
    mt_publish();
    is_int(mt_drover(&r, "nova", args, 180), 1, "nova: the guest never converges: exit 1");
    took = dv_mono_ms() - t0;
    diag("nova: %lld ms", (long long)took);
    n = actions_of(r.stdout_text, a, 32, NULL);
    diag_actions(a, n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].name, "set-downtime") != 0)
            continue;
        if (downs && a[i].downtime_ms <= a[i - 1].downtime_ms)
            order = false;
        downs++;
    }
    ok(downs >= 3, "nova set the downtime step by step (%zu steps)", downs);
    ok(order, "... each step above the one before");
    ok(n > 0 && !strcmp(a[n - 1].name, "abort"), "then aborted at the completion timeout");
    mt_record("p3", &rec);
    ok(rec.ended_ms - rec.started_ms >= 20000, "not before the timeout of 2 GiB x 10 s (ran %lld ms)",
       (long long)(rec.ended_ms - rec.started_ms));
    is_str(dv_mig_state_name(rec.state), "cancelled", "the record is cancelled");
    ok(mt_beats_on(0, "p3", &b), "the guest goes on on the source");
    mt_run_free(&r);
    mt_remove("p3");
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
