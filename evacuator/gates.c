/* gates.c - grace, flapping hysteresis, circuit breaker and rate limit over
 * the sweeps (the rules are in gates.h).  Each sweep builds the host table
 * anew from its observations, so a failed call leaves the old one intact
 * and a host that left the group is forgotten. */
#include "evacuator/gates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNITS_PER_TOKEN 60000      /* ms per minute: one token = 60000 units */

struct dv_gate_host {
    char *name;
    bool in_run;                   /* DOWN since the last UP (UNKNOWN sweeps included) */
    bool last_was_down;            /* the previous sweep saw it DOWN */
    bool admitted;                 /* returned as DV_GATE_ACT (or dv_gates_admit) */
    bool carried;                  /* scratch: taken over by the new table */
    bool owns_name;                /* scratch: name was allocated by this sweep */
    drover_liveness state;         /* this sweep's observation */
    int64_t down_ms;
    int64_t last_down_at;
    int64_t recovered_at[DV_GATES_FLAP_SLOTS];   /* a ring, newest at rec_next - 1 */
    int rec_next, rec_n;
};

static const char *const verdict_names[] = {
    [DV_GATE_ACT] = "act",
    [DV_GATE_CONTINUE] = "continue",
    [DV_GATE_WAIT_GRACE] = "wait-grace",
    [DV_GATE_HELD_UNKNOWN] = "held-unknown",
    [DV_GATE_HELD_BREAKER] = "held-breaker",
    [DV_GATE_HELD_RATE] = "held-rate",
};

const char *dv_gate_verdict_name(dv_gate_verdict v)
{
    if ((unsigned)v < sizeof verdict_names / sizeof *verdict_names)
        return verdict_names[v];
    return "unknown";
}

void dv_gate_params_from_config(const dv_config *cfg, dv_gate_params *out)
{
    out->grace_ms = (int64_t)cfg->evacuator.grace * 1000;
    out->flap_window_ms = (int64_t)cfg->evacuator.flap_window * 1000;
    out->flap_max_grace_ms = (int64_t)cfg->evacuator.flap_max_grace * 1000;
    out->max_down_fraction = cfg->evacuator.max_down_fraction;
    out->max_per_minute = cfg->evacuator.max_per_minute;
}

void dv_gates_init(dv_gates *g)
{
    memset(g, 0, sizeof *g);
}

void dv_gates_free(dv_gates *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->hosts[i].name);
    free(g->hosts);
    free(g->index);
    dv_gates_init(g);
}

void dv_gate_decision_init(dv_gate_decision *d)
{
    memset(d, 0, sizeof *d);
}

void dv_gate_decision_free(dv_gate_decision *d)
{
    free(d->cand);
    dv_gate_decision_init(d);
}

/* ---------------------------------------------------------------- the host index */

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;      /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t index_slot(const uint32_t *index, size_t cap, const dv_gate_host *hosts,
                         const char *name)
{
    size_t i = hash_name(name) & (cap - 1);
    while (index[i] && strcmp(hosts[index[i] - 1].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static dv_gate_host *find_host(const dv_gates *g, const char *name)
{
    size_t i;
    if (!g->index_cap)
        return NULL;
    i = index_slot(g->index, g->index_cap, g->hosts, name);
    return g->index[i] ? &g->hosts[g->index[i] - 1] : NULL;
}

/* ---------------------------------------------------------------- one host */

static void observe(dv_gate_host *h, drover_liveness s, int64_t now)
{
    h->state = s;
    if (s == DROVER_DOWN) {
        if (!h->in_run) {
            h->in_run = true;
            h->down_ms = 0;
        } else if (h->last_was_down && now > h->last_down_at) {
            h->down_ms += now - h->last_down_at;
        }
        h->last_down_at = now;
        h->last_was_down = true;
    } else if (s == DROVER_UNKNOWN) {
        h->last_was_down = false;  /* the gap until the next DOWN sweep is not counted */
    } else {
        if (h->in_run) {
            h->recovered_at[h->rec_next] = now;
            h->rec_next = (h->rec_next + 1) % DV_GATES_FLAP_SLOTS;
            if (h->rec_n < DV_GATES_FLAP_SLOTS)
                h->rec_n++;
        }
        h->in_run = h->last_was_down = h->admitted = false;
        h->down_ms = 0;
    }
}

static int recent_recoveries(const dv_gate_host *h, const dv_gate_params *p, int64_t now)
{
    int k = 0;
    if (p->flap_window_ms <= 0)
        return 0;
    for (int i = 0; i < h->rec_n; i++)
        if (now - h->recovered_at[i] < p->flap_window_ms)
            k++;
    return k;
}

static int64_t grace_for(const dv_gate_params *p, int k)
{
    int64_t cap = p->flap_max_grace_ms > p->grace_ms ? p->flap_max_grace_ms : p->grace_ms;
    int64_t g = p->grace_ms;

    for (int i = 0; i < k && g < cap; i++)
        g *= 2;
    return g < cap ? g : cap;
}

/* ---------------------------------------------------------------- the sweep */

static void free_new_names(dv_gate_host *hosts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hosts[i].owns_name)
            free(hosts[i].name);
}

static int build_table(const dv_gates *g, const dv_gate_obs *obs, size_t n, int64_t now,
                       dv_gate_host **out_hosts, uint32_t **out_index, size_t *out_cap,
                       drover_error *err)
{
    size_t cap = 16;
    dv_gate_host *hosts;
    uint32_t *index;

    while (cap < 2 * n)
        cap *= 2;
    hosts = calloc(n ? n : 1, sizeof *hosts);
    index = calloc(cap, sizeof *index);
    if (!hosts || !index) {
        free(hosts);
        free(index);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "evacuator gates: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const dv_gate_host *old;
        size_t slot;

        if (!obs[i].host || dv_name_check("host", obs[i].host, err) < 0 ||
            (unsigned)obs[i].state > DROVER_UNKNOWN) {
            if (!obs[i].host || (unsigned)obs[i].state > DROVER_UNKNOWN)
                dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                       "evacuator gates: observation %zu has no host or a bad state", i);
            goto fail;
        }
        slot = index_slot(index, cap, hosts, obs[i].host);
        if (index[slot]) {
            dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                   "evacuator gates: host %s is listed twice in one sweep", obs[i].host);
            goto fail;
        }
        if ((old = find_host(g, obs[i].host))) {
            hosts[i] = *old;
        } else if (!(hosts[i].name = strdup(obs[i].host))) {
            dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "evacuator gates: out of memory");
            goto fail;
        } else {
            hosts[i].owns_name = true;
        }
        index[slot] = (uint32_t)i + 1;
        observe(&hosts[i], obs[i].state, now);
    }
    *out_hosts = hosts;
    *out_index = index;
    *out_cap = cap;
    return 0;
fail:
    free_new_names(hosts, n);
    free(hosts);
    free(index);
    return -1;
}

/* Replace g's table with the new one; names not carried over are freed. */
static void commit_table(dv_gates *g, dv_gate_host *hosts, size_t n, uint32_t *index, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        dv_gate_host *old = hosts[i].owns_name ? NULL : find_host(g, hosts[i].name);
        if (old)
            old->carried = true;
        hosts[i].owns_name = hosts[i].carried = false;
    }
    for (size_t i = 0; i < g->n; i++)
        if (!g->hosts[i].carried)
            free(g->hosts[i].name);
    free(g->hosts);
    free(g->index);
    g->hosts = hosts;
    g->n = g->cap = n;
    g->index = index;
    g->index_cap = cap;
}

static void refill(dv_gates *g, const dv_gate_params *p, int64_t now)
{
    int64_t full = UNITS_PER_TOKEN, elapsed;

    if (!g->bucket_started) {      /* a new controller may act at once */
        g->bucket_started = true;
        g->bucket_units = full;
        g->bucket_ms = now;
        return;
    }
    if ((elapsed = now - g->bucket_ms) <= 0)
        return;                    /* a clock that went back refills nothing */
    if (elapsed > full)            /* a minute refills the bucket whatever the rate */
        elapsed = full;
    g->bucket_units += elapsed * p->max_per_minute;
    if (g->bucket_units > full)
        g->bucket_units = full;
    g->bucket_ms = now;
}

/* What was seen while too many hosts were DOWN is no evidence against one
 * of them: a backend that took no writes, or a partition, heals host by
 * host, and the last hosts to report would otherwise be due the moment the
 * breaker closes.  Admitted hosts carry on (their verdict needs no timer). */
static void restart_timers(dv_gates *g, int64_t now)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->hosts[i].in_run) {
            g->hosts[i].down_ms = 0;
            g->hosts[i].last_down_at = now;
        }
}

static void breaker(dv_gates *g, const dv_gate_params *p, int64_t now, dv_gate_decision *d)
{
    double frac = d->members ? (double)d->down / (double)d->members : 0.0;
    bool open = d->members > 0 && frac > p->max_down_fraction;

    d->breaker_changed = open != g->breaker_open;
    d->breaker_open = g->breaker_open = open;
    if (d->breaker_changed && !open)
        restart_timers(g, now);
    d->breaker_why[0] = '\0';
    if (open)
        snprintf(d->breaker_why, sizeof d->breaker_why,
                 "circuit breaker open: %zu of %zu hosts (%.1f%%) are DOWN, more than "
                 "evacuator.max_down_fraction %g (%.1f%%); a partition, a backend that stops "
                 "taking writes or a rack without power look like this, so nothing is "
                 "evacuated until the fraction is back under it",
                 d->down, d->members, 100.0 * frac, p->max_down_fraction,
                 100.0 * p->max_down_fraction);
    else if (d->breaker_changed)
        snprintf(d->breaker_why, sizeof d->breaker_why,
                 "circuit breaker closed: %zu of %zu hosts (%.1f%%) are DOWN, not more than "
                 "evacuator.max_down_fraction %g", d->down, d->members, 100.0 * frac,
                 p->max_down_fraction);
}

static int add_candidate(dv_gate_decision *d, const dv_gate_host *h, dv_gate_verdict v,
                         int64_t grace, int k, drover_error *err)
{
    dv_gate_candidate *c;

    if (d->n_cand == d->cap_cand) {
        size_t cap = d->cap_cand ? d->cap_cand * 2 : 16;
        dv_gate_candidate *nc = realloc(d->cand, cap * sizeof *nc);
        if (!nc)
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "evacuator gates: out of memory");
        d->cand = nc;
        d->cap_cand = cap;
    }
    c = &d->cand[d->n_cand++];
    snprintf(c->host, sizeof c->host, "%s", h->name);
    c->state = h->state;
    c->verdict = v;
    c->down_ms = h->down_ms;
    c->grace_ms = grace;
    c->recoveries = k;
    c->why[0] = '\0';
    return 0;
}

static void explain(dv_gate_candidate *c, const dv_gate_params *p, const dv_gate_decision *d)
{
    char hyst[96] = "";

    if (c->recoveries)
        snprintf(hyst, sizeof hyst, " (doubled %d time(s): it came back %d time(s) in the last "
                 "%lld s)", c->recoveries, c->recoveries, (long long)(p->flap_window_ms / 1000));
    switch (c->verdict) {
    case DV_GATE_ACT:
        snprintf(c->why, sizeof c->why, "DOWN for %.1f s, grace %.1f s%s passed: act now",
                 c->down_ms / 1000.0, c->grace_ms / 1000.0, hyst);
        break;
    case DV_GATE_CONTINUE:
        snprintf(c->why, sizeof c->why, "already being evacuated and still DOWN: carry on");
        break;
    case DV_GATE_WAIT_GRACE:
        snprintf(c->why, sizeof c->why, "DOWN for %.1f s of a %.1f s grace%s",
                 c->down_ms / 1000.0, c->grace_ms / 1000.0, hyst);
        break;
    case DV_GATE_HELD_UNKNOWN:
        snprintf(c->why, sizeof c->why, "UNKNOWN: the backend could not say whether it is up, "
                 "and UNKNOWN never evacuates (DOWN time so far %.1f s, kept)",
                 c->down_ms / 1000.0);
        break;
    case DV_GATE_HELD_BREAKER:
        snprintf(c->why, sizeof c->why, "due, but the circuit breaker is open (%zu of %zu hosts "
                 "DOWN)", d->down, d->members);
        break;
    case DV_GATE_HELD_RATE:
        snprintf(c->why, sizeof c->why, "due, but evacuator.max_per_minute %d allows the next "
                 "host in %.1f s", p->max_per_minute, d->next_token_ms / 1000.0);
        break;
    }
}

/* Longest DOWN first, then by name: the order tokens are handed out in. */
static int by_urgency(const void *a, const void *b)
{
    const dv_gate_candidate *x = *(const dv_gate_candidate *const *)a;
    const dv_gate_candidate *y = *(const dv_gate_candidate *const *)b;
    if (x->down_ms != y->down_ms)
        return x->down_ms > y->down_ms ? -1 : 1;
    return strcmp(x->host, y->host);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const dv_gate_candidate *)a)->host, ((const dv_gate_candidate *)b)->host);
}

/* Hand out tokens to the candidates that passed every other gate. */
static int take_tokens(dv_gates *g, dv_gate_decision *d, drover_error *err)
{
    dv_gate_candidate **due;
    size_t n_due = 0;

    if (!(due = malloc((d->n_cand ? d->n_cand : 1) * sizeof *due)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "evacuator gates: out of memory");
    for (size_t i = 0; i < d->n_cand; i++)
        if (d->cand[i].verdict == DV_GATE_ACT)
            due[n_due++] = &d->cand[i];
    qsort(due, n_due, sizeof *due, by_urgency);
    for (size_t i = 0; i < n_due; i++) {
        if (g->bucket_units >= UNITS_PER_TOKEN) {
            g->bucket_units -= UNITS_PER_TOKEN;
            find_host(g, due[i]->host)->admitted = true;
        } else {
            due[i]->verdict = DV_GATE_HELD_RATE;
        }
    }
    free(due);
    return 0;
}

static void token_status(const dv_gates *g, const dv_gate_params *p, dv_gate_decision *d)
{
    int64_t missing = UNITS_PER_TOKEN - g->bucket_units;

    d->tokens_milli = g->bucket_units * 1000 / UNITS_PER_TOKEN;
    d->next_token_ms = missing <= 0 ? 0 : (missing + p->max_per_minute - 1) / p->max_per_minute;
}

static int candidates(dv_gates *g, const dv_gate_params *p, int64_t now, dv_gate_decision *d,
                      drover_error *err)
{
    for (size_t i = 0; i < g->n; i++) {
        const dv_gate_host *h = &g->hosts[i];
        int k;
        int64_t grace;
        dv_gate_verdict v;

        if (h->state == DROVER_UP)
            continue;
        k = recent_recoveries(h, p, now);
        grace = grace_for(p, k);
        if (h->state == DROVER_UNKNOWN)
            v = DV_GATE_HELD_UNKNOWN;
        else if (d->breaker_open && (h->admitted || h->down_ms >= grace))
            v = DV_GATE_HELD_BREAKER;
        else if (h->admitted)
            v = DV_GATE_CONTINUE;
        else if (h->down_ms < grace)
            v = DV_GATE_WAIT_GRACE;
        else
            v = DV_GATE_ACT;       /* provisional: take_tokens decides */
        if (add_candidate(d, h, v, grace, k, err) < 0)
            return -1;
    }
    return 0;
}

int dv_evac_decide(dv_gates *g, const dv_gate_params *p, const dv_gate_obs *obs, size_t n,
                   int64_t now_ms, dv_gate_decision *d, drover_error *err)
{
    dv_gate_host *hosts = NULL;
    uint32_t *index = NULL;
    size_t cap = 0;

    if (!p || p->max_per_minute < 1 || p->grace_ms < 0 || !(p->max_down_fraction >= 0.0))
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "evacuator gates: bad parameters (max_per_minute must be >= 1, grace >= 0)");
    if (n > UINT32_MAX - 1)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "evacuator gates: too many hosts");
    if (build_table(g, obs, n, now_ms, &hosts, &index, &cap, err) < 0)
        return -1;
    commit_table(g, hosts, n, index, cap);

    d->n_cand = 0;
    d->members = n;
    d->down = d->unknown = 0;
    for (size_t i = 0; i < n; i++) {
        d->down += g->hosts[i].state == DROVER_DOWN;
        d->unknown += g->hosts[i].state == DROVER_UNKNOWN;
    }
    breaker(g, p, now_ms, d);
    refill(g, p, now_ms);
    /* Past this point only the candidate array can fail to grow; the sweep's
     * observations are already in g, and a retry of the call is harmless. */
    if (candidates(g, p, now_ms, d, err) < 0 || take_tokens(g, d, err) < 0)
        return -1;
    token_status(g, p, d);
    if (d->n_cand)                 /* qsort of a NULL array is undefined, even of 0 */
        qsort(d->cand, d->n_cand, sizeof *d->cand, by_name);
    for (size_t i = 0; i < d->n_cand; i++)
        explain(&d->cand[i], p, d);
    return 0;
}

int dv_gates_admit(dv_gates *g, const char *host, drover_error *err)
{
    dv_gate_host *h = host ? find_host(g, host) : NULL;

    if (!h)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_CORE,
                      "evacuator gates: host %s was not in the last sweep", host ? host : "(null)");
    h->admitted = true;
    return 0;
}

int dv_gates_renew(dv_gates *g, const dv_gate_params *p, dv_gate_decision *d, const char *host,
                   drover_error *err)
{
    dv_gate_host *h = host ? find_host(g, host) : NULL;
    dv_gate_candidate *c = NULL;

    for (size_t i = 0; h && i < d->n_cand && !c; i++)
        if (strcmp(d->cand[i].host, host) == 0 && d->cand[i].verdict == DV_GATE_CONTINUE)
            c = &d->cand[i];
    if (!c)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_CORE,
                      "evacuator gates: host %s is not carried on in the last sweep",
                      host ? host : "(null)");
    /* admitted means its grace passed and the breaker is closed: only the
     * token is missing */
    h->admitted = g->bucket_units >= UNITS_PER_TOKEN;
    if (h->admitted)
        g->bucket_units -= UNITS_PER_TOKEN;
    c->verdict = h->admitted ? DV_GATE_ACT : DV_GATE_HELD_RATE;
    token_status(g, p, d);
    for (size_t i = 0; i < d->n_cand; i++)    /* the others' reasons may name the next token */
        if (&d->cand[i] == c || d->cand[i].verdict == DV_GATE_HELD_RATE)
            explain(&d->cand[i], p, d);
    return 0;
}
