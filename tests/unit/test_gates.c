/* test_gates.c - the evacuator's gates at their boundaries: grace reached
 * exactly and 1 ms short, UNKNOWN sweeps, flapping hysteresis, the circuit
 * breaker at exactly its fraction and just above, the token bucket's refill
 * timing, and bad input.  The gates are pure: every time is given. */
#include "evacuator/gates.h"
#include "core/clock.h"
#include "tests/tap.h"

#define MAXH 128

static char names[MAXH][16];
static dv_gate_obs obs[MAXH];
static dv_gate_decision d;

/* Host i is "h<i>"; states[i] is 'U', 'D' or '?' (UNKNOWN); one char each. */
static int sweep(dv_gates *g, const dv_gate_params *p, int64_t now, const char *states)
{
    size_t n = strlen(states);
    drover_error err = { 0 };
    int rc;

    for (size_t i = 0; i < n; i++) {
        obs[i].host = names[i];
        obs[i].state = states[i] == 'D' ? DROVER_DOWN : states[i] == '?' ? DROVER_UNKNOWN : DROVER_UP;
    }
    rc = dv_evac_decide(g, p, obs, n, now, &d, &err);
    if (rc < 0)
        diag("dv_evac_decide: %s", err.message);
    return rc;
}

static const dv_gate_candidate *cand(const char *host)
{
    for (size_t i = 0; i < d.n_cand; i++)
        if (strcmp(d.cand[i].host, host) == 0)
            return &d.cand[i];
    return NULL;
}

/* The verdict of host, or -1 if it is no candidate. */
static int verdict(const char *host)
{
    const dv_gate_candidate *c = cand(host);
    return c ? (int)c->verdict : -1;
}

static size_t acts(void)
{
    size_t n = 0;
    for (size_t i = 0; i < d.n_cand; i++)
        n += d.cand[i].verdict == DV_GATE_ACT;
    return n;
}

static dv_gate_params params(int grace_s, double frac, int per_min)
{
    dv_gate_params p = { .grace_ms = grace_s * 1000LL, .flap_window_ms = 0,
                         .flap_max_grace_ms = 0, .max_down_fraction = frac,
                         .max_per_minute = per_min };
    return p;
}

/* 10 hosts, h0 DOWN: the breaker (0.33) stays closed. */
static void test_grace(void)
{
    dv_gates g;
    dv_gate_params p = params(30, 0.33, 6);

    dv_gates_init(&g);
    sweep(&g, &p, 1000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "grace: the first DOWN sweep waits");
    is_int(cand("h0") ? cand("h0")->down_ms : -1, 0, "grace: the timer starts at 0");
    ok(!cand("h1"), "grace: an UP host is no candidate");
    sweep(&g, &p, 1000 + 29999, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "grace: 1 ms short of the grace still waits");
    is_int(cand("h0")->down_ms, 29999, "grace: DOWN for 29999 ms");
    has_str(cand("h0")->why, "DOWN for 30.0 s of a 30.0 s grace", "grace: why it waits, in words");
    sweep(&g, &p, 1000 + 30000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "grace: exactly the grace acts");
    is_int(acts(), 1, "grace: one host acted on");
    sweep(&g, &p, 1000 + 40000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_CONTINUE, "grace: an admitted host continues on later sweeps");
    is_int(acts(), 0, "grace: and is not acted on (no token) again");

    /* UP ends the run: the timer restarts */
    sweep(&g, &p, 50000, "UUUUUUUUUU");
    is_int(d.n_cand, 0, "grace: all UP, no candidates");
    sweep(&g, &p, 51000, "DUUUUUUUUU");
    is_int(cand("h0")->down_ms, 0, "grace: after UP the timer starts over");
    sweep(&g, &p, 51000 + 29999, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "grace: after UP the full grace is needed again");
    dv_gates_free(&g);

    p = params(0, 0.33, 6);
    dv_gates_init(&g);
    sweep(&g, &p, 5, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "grace 0: the first DOWN sweep acts");
    dv_gates_free(&g);
}

static void test_unknown(void)
{
    dv_gates g;
    dv_gate_params p = params(30, 0.33, 6);

    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUU");
    sweep(&g, &p, 20000, "DUUUUUUUUU");
    sweep(&g, &p, 25000, "?UUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_HELD_UNKNOWN, "unknown: an UNKNOWN host is held");
    is_int(cand("h0")->down_ms, 20000, "unknown: the sweep resets nothing (20 s kept)");
    has_str(cand("h0")->why, "UNKNOWN never evacuates", "unknown: why, in words");
    sweep(&g, &p, 35000, "?UUUUUUUUU");
    is_int(cand("h0")->down_ms, 20000, "unknown: and advances nothing");
    sweep(&g, &p, 40000, "DUUUUUUUUU");
    is_int(cand("h0")->down_ms, 20000, "unknown: the gap around UNKNOWN sweeps is not counted");
    sweep(&g, &p, 49999, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "unknown: 29999 ms of DOWN seen: waits");
    sweep(&g, &p, 50000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "unknown: 30000 ms of DOWN seen: acts");
    sweep(&g, &p, 60000, "?UUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_HELD_UNKNOWN, "unknown: an admitted host that turns UNKNOWN is held");
    dv_gates_free(&g);

    /* a backend that answers nothing, for a long time: never an action */
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DDUUUUUUUU");
    for (int64_t t = 1000; t <= 600000; t += 1000) {
        sweep(&g, &p, t, "??????????");
        if (acts() || d.breaker_open)
            break;
    }
    is_int(acts(), 0, "unknown: 10 minutes of all-UNKNOWN sweeps act on nothing");
    ok(!d.breaker_open, "unknown: UNKNOWN hosts do not count as DOWN for the breaker");
    is_int(d.unknown, 10, "unknown: 10 UNKNOWN members counted");
    dv_gates_free(&g);
}

static void test_flapping(void)
{
    dv_gates g;
    dv_gate_params p = params(30, 0.33, 6);
    int acted = 0, max_k = 0;
    int64_t t = 0;

    p.flap_window_ms = 600000;
    p.flap_max_grace_ms = 600000;
    dv_gates_init(&g);
    /* 50 times: DOWN for 25 s (under the grace), UP for 5 s; a sweep a second */
    for (int round = 0; round < 50; round++) {
        for (int s = 0; s < 30; s++, t += 1000) {
            sweep(&g, &p, t, s < 26 ? "DUUUUUUUUU" : "UUUUUUUUUU");
            acted += (int)acts();
            if (cand("h0") && cand("h0")->recoveries > max_k)
                max_k = cand("h0")->recoveries;
        }
    }
    is_int(acted, 0, "flapping: DOWN 25 s / UP 5 s, 50 times: never acted on");
    ok(max_k >= 10, "flapping: the recoveries were counted (up to %d)", max_k);
    sweep(&g, &p, t, "DUUUUUUUUU");
    is_int(cand("h0")->grace_ms, 600000, "flapping: grace capped at flap_max_grace");
    has_str(cand("h0")->why, "it came back", "flapping: the doubled grace is explained");
    dv_gates_free(&g);

    /* exact doubling: one recovery -> 60 s, two -> 120 s */
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUU");
    sweep(&g, &p, 1000, "UUUUUUUUUU");
    sweep(&g, &p, 2000, "DUUUUUUUUU");
    is_int(cand("h0")->recoveries, 1, "flapping: one recovery counted");
    is_int(cand("h0")->grace_ms, 60000, "flapping: one recovery doubles the grace");
    sweep(&g, &p, 2000 + 59999, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "flapping: 1 ms short of the doubled grace waits");
    sweep(&g, &p, 2000 + 60000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "flapping: the doubled grace reached acts");
    sweep(&g, &p, 70000, "UUUUUUUUUU");
    sweep(&g, &p, 71000, "DUUUUUUUUU");
    is_int(cand("h0")->grace_ms, 120000, "flapping: two recoveries: grace x4");
    /* the window: a recovery counts while now - its time < flap_window */
    sweep(&g, &p, 1000 + 599999, "DUUUUUUUUU");
    is_int(cand("h0")->recoveries, 2, "flapping: a recovery 599999 ms ago still counts");
    sweep(&g, &p, 1000 + 600000, "DUUUUUUUUU");
    is_int(cand("h0")->recoveries, 1, "flapping: one 600000 ms ago no longer does");
    sweep(&g, &p, 70000 + 600000, "DUUUUUUUUU");
    is_int(cand("h0")->grace_ms, 30000, "flapping: past the window the grace is back to 30 s");
    dv_gates_free(&g);

    /* flap_window 0: no hysteresis */
    p.flap_window_ms = 0;
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUU");
    sweep(&g, &p, 1000, "UUUUUUUUUU");
    sweep(&g, &p, 2000, "DUUUUUUUUU");
    is_int(cand("h0")->grace_ms, 30000, "flapping: flap_window 0 keeps the plain grace");
    dv_gates_free(&g);
}

static void test_breaker(void)
{
    dv_gates g;
    dv_gate_params p = params(0, 0.25, 1000);
    char s[128];

    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUU");
    ok(!d.breaker_open, "breaker: 1 of 4 DOWN at max_down_fraction 0.25 (exactly): closed");
    is_int(verdict("h0"), DV_GATE_ACT, "breaker: closed, the host is acted on");
    sweep(&g, &p, 1000, "DDUU");
    ok(d.breaker_open && d.breaker_changed, "breaker: 2 of 4 DOWN: opens");
    has_str(d.breaker_why, "2 of 4 hosts (50.0%) are DOWN, more than evacuator.max_down_fraction 0.25",
            "breaker: the alarm says why, in words");
    is_int(verdict("h1"), DV_GATE_HELD_BREAKER, "breaker: a due host is held");
    is_int(verdict("h0"), DV_GATE_HELD_BREAKER, "breaker: an admitted host is held too");
    is_int(acts(), 0, "breaker: open, nothing is acted on");
    sweep(&g, &p, 2000, "DDUU");
    ok(d.breaker_open && !d.breaker_changed, "breaker: still open, no change reported");
    sweep(&g, &p, 3000, "DUUU");
    ok(!d.breaker_open && d.breaker_changed, "breaker: back to 1 of 4: closes");
    has_str(d.breaker_why, "circuit breaker closed", "breaker: closing is said too");
    is_int(verdict("h0"), DV_GATE_CONTINUE, "breaker: closed, the admitted host carries on");
    dv_gates_free(&g);

    /* fractions whose product with n is not exact in binary */
    p = params(0, 0.29, 1000);
    memset(s, 'U', 100);
    s[100] = '\0';
    memset(s, 'D', 29);
    dv_gates_init(&g);
    sweep(&g, &p, 0, s);
    ok(!d.breaker_open, "breaker: 29 of 100 at 0.29: closed");
    s[29] = 'D';
    sweep(&g, &p, 1, s);
    ok(d.breaker_open, "breaker: 30 of 100 at 0.29: open");
    dv_gates_free(&g);
    p = params(0, 0.3, 1000);
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DDDUUUUUUU");
    ok(!d.breaker_open, "breaker: 3 of 10 at 0.3: closed");
    sweep(&g, &p, 1, "DDDDUUUUUU");
    ok(d.breaker_open, "breaker: 4 of 10 at 0.3: open");
    dv_gates_free(&g);
    p = params(0, 0.0, 1000);
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUU");
    ok(d.breaker_open, "breaker: max_down_fraction 0: one DOWN host opens it");
    dv_gates_free(&g);
    p = params(0, 1.0, 1000);
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DDD");
    ok(!d.breaker_open, "breaker: max_down_fraction 1: never opens");
    is_int(acts(), 1, "breaker: max_down_fraction 1, all DOWN: acted on (one token at a time)");
    sweep(&g, &p, 1, "");
    ok(!d.breaker_open && d.members == 0, "breaker: an empty group: closed, nothing to do");
    dv_gates_free(&g);
}

/* A backend that stopped taking writes: every host DOWN past its grace
 * while the breaker is open; the heartbeats come back one sweep apart.  The
 * host still DOWN when the breaker closes must not be acted on at once: its
 * timer restarts, so it needs a grace of DOWN with the breaker closed. */
static void test_breaker_closing(void)
{
    dv_gates g;
    dv_gate_params p = params(2, 0.5, 1000);

    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUU");
    is_int(verdict("h0"), DV_GATE_WAIT_GRACE, "closing: h0 DOWN first, in its grace");
    sweep(&g, &p, 1000, "DDDD");
    ok(d.breaker_open, "closing: every host DOWN: open");
    sweep(&g, &p, 9000, "DDDD");
    is_int(verdict("h0"), DV_GATE_HELD_BREAKER, "closing: h0 due, held");
    sweep(&g, &p, 10000, "UUUD");
    ok(!d.breaker_open && d.breaker_changed, "closing: 1 of 4 DOWN: closes");
    is_int(verdict("h3"), DV_GATE_WAIT_GRACE,
           "closing: the host still DOWN is not acted on at once");
    is_int(cand("h3") ? cand("h3")->down_ms : -1, 0, "closing: its timer starts over");
    is_int(acts(), 0, "closing: nothing is acted on");
    sweep(&g, &p, 11999, "UUUD");
    is_int(verdict("h3"), DV_GATE_WAIT_GRACE, "closing: 1 ms short of a grace closed: waits");
    sweep(&g, &p, 12000, "UUUD");
    is_int(verdict("h3"), DV_GATE_ACT, "closing: DOWN a whole grace with it closed: acted on");
    dv_gates_free(&g);

    /* a host admitted before the breaker opened carries on when it closes */
    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUU");
    sweep(&g, &p, 2000, "DUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "closing: h0 acted on before the breaker");
    sweep(&g, &p, 3000, "DDDU");
    is_int(verdict("h0"), DV_GATE_HELD_BREAKER, "closing: the admitted host is held while open");
    sweep(&g, &p, 4000, "DUUU");
    is_int(verdict("h0"), DV_GATE_CONTINUE, "closing: the admitted host carries on");
    dv_gates_free(&g);
}

/* 20 hosts so the breaker (0.33) stays closed with 3 DOWN. */
static void test_rate(void)
{
    dv_gates g;
    dv_gate_params p = params(10, 0.33, 6);   /* one token each 10000 ms */

    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 500, "DDUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 1000, "DDDUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 11000, "DDDUUUUUUUUUUUUUUUUU");
    is_int(acts(), 1, "rate: three due at once, one token: one acted on");
    is_int(verdict("h0"), DV_GATE_ACT, "rate: the longest DOWN goes first");
    is_int(verdict("h1"), DV_GATE_HELD_RATE, "rate: the next is held");
    is_int(d.next_token_ms, 10000, "rate: the next token in 10000 ms (6 per minute)");
    has_str(cand("h1")->why, "max_per_minute 6 allows the next host in 10.0 s", "rate: why, in words");
    sweep(&g, &p, 11000 + 9999, "DDDUUUUUUUUUUUUUUUUU");
    is_int(acts(), 0, "rate: 1 ms before the refill: none");
    is_int(d.next_token_ms, 1, "rate: next token in 1 ms");
    is_int(verdict("h0"), DV_GATE_CONTINUE, "rate: the admitted host needs no token");
    sweep(&g, &p, 11000 + 10000, "DDDUUUUUUUUUUUUUUUUU");
    is_int(acts(), 1, "rate: at the refill: one more");
    is_int(verdict("h1"), DV_GATE_ACT, "rate: h1 (DOWN longer than h2) is next");
    is_int(d.tokens_milli, 0, "rate: the bucket is empty again");
    sweep(&g, &p, 21000 + 5000, "DDDUUUUUUUUUUUUUUUUU");
    is_int(d.tokens_milli, 500, "rate: half a token after 5000 ms");
    sweep(&g, &p, 31000, "DDDUUUUUUUUUUUUUUUUU");
    is_int(verdict("h2"), DV_GATE_ACT, "rate: h2 at the third token");
    dv_gates_free(&g);

    /* the bucket holds one token, however long it was idle */
    dv_gates_init(&g);
    sweep(&g, &p, 0, "UUUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 600000, "DDUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 610000, "DDUUUUUUUUUUUUUUUUUU");
    is_int(acts(), 1, "rate: after 10 idle minutes still one token (burst 1)");
    dv_gates_free(&g);

    /* a clock going back refills nothing */
    dv_gates_init(&g);
    sweep(&g, &p, 100000, "DUUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 110000, "DDUUUUUUUUUUUUUUUUUU");
    is_int(acts(), 1, "rate: h0 acted on");
    sweep(&g, &p, 50000, "DDUUUUUUUUUUUUUUUUUU");
    sweep(&g, &p, 60000, "DDUUUUUUUUUUUUUUUUUU");
    is_int(acts(), 0, "rate: after the clock went back, no token appeared");
    dv_gates_free(&g);
}

static void test_membership_and_errors(void)
{
    dv_gates g;
    dv_gate_params p = params(30, 0.33, 6);
    drover_error err = { 0 };
    dv_gate_obs two[2] = { { "a", DROVER_DOWN }, { "a", DROVER_UP } };
    dv_gate_obs bad_name[1] = { { "a/b", DROVER_DOWN } };
    dv_gate_obs bad_state[1] = { { "a", (drover_liveness)7 } };

    dv_gates_init(&g);
    sweep(&g, &p, 0, "DUUUUUUUUU");
    sweep(&g, &p, 20000, "DUUUUUUUUU");
    ok(dv_evac_decide(&g, &p, two, 2, 25000, &d, &err) == -1 && err.code == DROVER_ERR_INVALID,
       "errors: a host listed twice is refused");
    has_str(err.message, "host a is listed twice", "errors: and named");
    ok(dv_evac_decide(&g, &p, bad_name, 1, 25000, &d, &err) == -1 && err.code == DROVER_ERR_INVALID,
       "errors: a bad host name is refused (%s)", err.message);
    ok(dv_evac_decide(&g, &p, bad_state, 1, 25000, &d, &err) == -1 && err.code == DROVER_ERR_INVALID,
       "errors: a bad state is refused");
    sweep(&g, &p, 30000, "DUUUUUUUUU");
    is_int(verdict("h0"), DV_GATE_ACT, "errors: the refused sweeps left the timers alone");
    p.max_per_minute = 0;
    ok(dv_evac_decide(&g, &p, obs, 1, 1, &d, &err) == -1 && err.code == DROVER_ERR_INVALID,
       "errors: max_per_minute 0 is refused");
    p.max_per_minute = 6;

    /* a host missing from a sweep is forgotten */
    sweep(&g, &p, 40000, "U");
    sweep(&g, &p, 41000, "DDUUUUUUUU");
    is_int(cand("h1")->down_ms, 0, "membership: a host back in the list starts from 0");
    ok(dv_gates_admit(&g, "h1", &err) == 0, "admit: h1 admitted");
    sweep(&g, &p, 42000, "DDUUUUUUUU");
    is_int(verdict("h1"), DV_GATE_CONTINUE, "admit: an admitted host continues without grace");
    ok(dv_gates_admit(&g, "nobody", &err) == -1 && err.code == DROVER_ERR_NOT_FOUND,
       "admit: a host not in the sweep: not found");
    is_str(dv_gate_verdict_name(DV_GATE_HELD_BREAKER), "held-breaker", "verdict names");
    dv_gates_free(&g);

    {
        dv_config *cfg = dv_config_new_defaults();
        dv_gate_params q;
        dv_gate_params_from_config(cfg, &q);
        ok(q.grace_ms == 30000 && q.flap_window_ms == 600000 && q.flap_max_grace_ms == 600000 &&
           q.max_per_minute == 6 && q.max_down_fraction == 0.33, "params from the default config");
        dv_config_free(cfg);
    }
}

/* The decision time of one sweep (a figure, not a timing assertion). */
static void measure(size_t n)
{
    dv_gates g;
    dv_gate_params p = params(30, 0.33, 6);
    dv_gate_obs *o = calloc(n, sizeof *o);
    char (*nm)[16] = calloc(n, sizeof *nm);
    int64_t t0, best = INT64_MAX;
    drover_error err;
    int rc = 0;

    if (!o || !nm)
        bail_out("out of memory");
    for (size_t i = 0; i < n; i++) {
        snprintf(nm[i], sizeof nm[i], "compute%zu", i);
        o[i].host = nm[i];
        o[i].state = i % 100 == 0 ? DROVER_DOWN : DROVER_UP;
    }
    dv_gates_init(&g);
    for (int r = 0; r < 5; r++) {
        t0 = dv_mono_ms();
        rc |= dv_evac_decide(&g, &p, o, n, 1000 * r, &d, &err);
        if (dv_mono_ms() - t0 < best)
            best = dv_mono_ms() - t0;
    }
    ok(rc == 0 && d.down == n / 100, "sweep of %zu members, 1%% DOWN: %zu DOWN", n, d.down);
    diag("one sweep over %zu members (1%% DOWN): %lld ms (best of 5)", n, (long long)best);
    dv_gates_free(&g);
    free(o);
    free(nm);
}

int main(void)
{
    for (int i = 0; i < MAXH; i++)
        snprintf(names[i], sizeof names[i], "h%d", i);
    dv_gate_decision_init(&d);
    test_grace();
    test_unknown();
    test_flapping();
    test_breaker();
    test_breaker_closing();
    test_rate();
    test_membership_and_errors();
    measure(10000);
    measure(100000);
    dv_gate_decision_free(&d);
    return done_testing();
}
