/* gates.h - what must hold before the evacuator acts on a host, as pure
 * functions over caller-owned state: no I/O, no clock of their own (every
 * call takes now_ms, any monotonic millisecond clock), no locks (one sweep
 * at a time per dv_gates).
 *
 * The rules, per host, over the sweeps that observe it:
 *  - grace: a host is acted on once it has been DOWN on consecutive sweeps
 *    for at least its grace (the time from its first DOWN sweep of the run
 *    to this one).  grace 0: the first DOWN sweep is enough.  An UP sweep
 *    ends the run (the timer restarts from zero on the next DOWN).
 *  - UNKNOWN (the backend could not say): never acted on, and the sweep
 *    neither resets nor advances the timer: the time between the last DOWN
 *    sweep before the UNKNOWN ones and the first DOWN sweep after them is
 *    not counted, because nobody saw the host then.  A host that was
 *    UNKNOWN and is DOWN again continues from the DOWN time it had.
 *  - flapping hysteresis: a host that came back (UP after a DOWN sweep) k
 *    times within the last flap_window ms needs grace * 2^k, at most
 *    max(grace, flap_max_grace).  flap_window 0 (or grace 0) turns it off.
 *    A recovery counts while now - its time < flap_window.
 *  - circuit breaker: when more than max_down_fraction of the hosts of the
 *    sweep are DOWN (DOWN / members > max_down_fraction; exactly the
 *    fraction is still closed), nothing is acted on, an alarm says why; it
 *    closes on the first sweep back at or under the fraction.  UNKNOWN
 *    hosts count as members, not as DOWN.  Timers keep running while open;
 *    when it closes, the timers of the hosts still DOWN start over, so a
 *    host is acted on only after a whole grace DOWN with the breaker closed
 *    (a backend that took no writes heals host by host: the last to report
 *    again must not be due at once; Kubernetes' node controller resets
 *    every node's probe time likewise when it leaves full disruption).
 *    Admitted hosts carry on.
 *  - rate: a token bucket of one token that refills at max_per_minute per
 *    minute (Kubernetes' eviction limiter has a burst of one too), so two
 *    hosts are acted on at least 60000 / max_per_minute ms apart.  When
 *    several hosts are due, the longest DOWN goes first (then by name).
 * A host returned as DV_GATE_ACT is "admitted": later sweeps give it
 * DV_GATE_CONTINUE (no token) while it stays DOWN, so a fence that failed is
 * retried, and still only while the breaker is closed and the host is not
 * UNKNOWN.  An UP sweep clears the admission.  A new controller that finds
 * an evacuation in progress in the journal calls dv_gates_admit. */
#ifndef DV_EVAC_GATES_H
#define DV_EVAC_GATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/model.h"

#define DV_GATES_FLAP_SLOTS 16     /* recoveries remembered per host */

typedef struct dv_gate_params {
    int64_t grace_ms;
    int64_t flap_window_ms;        /* 0 = no hysteresis */
    int64_t flap_max_grace_ms;
    double max_down_fraction;      /* 0..1 */
    int max_per_minute;            /* >= 1 */
} dv_gate_params;

/* The parameters of cfg->evacuator (grace, flap_window, flap_max_grace,
 * max_down_fraction, max_per_minute). */
void dv_gate_params_from_config(const dv_config *cfg, dv_gate_params *out);

/* One member as one sweep saw it. */
typedef struct dv_gate_obs {
    const char *host;
    drover_liveness state;
} dv_gate_obs;

typedef enum dv_gate_verdict {
    DV_GATE_ACT = 0,               /* act now: every gate passed, a token was taken */
    DV_GATE_CONTINUE,              /* admitted earlier and still DOWN: carry on */
    DV_GATE_WAIT_GRACE,            /* DOWN, but not yet for its grace */
    DV_GATE_HELD_UNKNOWN,          /* the backend could not say: never acted on */
    DV_GATE_HELD_BREAKER,          /* due, but the circuit breaker is open */
    DV_GATE_HELD_RATE              /* due, but no token is left */
} dv_gate_verdict;

const char *dv_gate_verdict_name(dv_gate_verdict v);   /* "act", "wait-grace", ... */

/* A host that is not UP, or is admitted: its timer and why it is held. */
typedef struct dv_gate_candidate {
    char host[DV_NAME_MAX + 1];
    drover_liveness state;         /* this sweep's observation */
    dv_gate_verdict verdict;
    int64_t down_ms;               /* DOWN time counted so far */
    int64_t grace_ms;              /* the grace it needs (with hysteresis) */
    int recoveries;                /* k: recoveries within flap_window */
    char why[256];                 /* in words */
} dv_gate_candidate;

typedef struct dv_gate_decision {
    dv_gate_candidate *cand;       /* every candidate, ordered by host name */
    size_t n_cand, cap_cand;
    size_t members, down, unknown; /* this sweep */
    bool breaker_open;
    bool breaker_changed;          /* opened or closed on this sweep */
    char breaker_why[320];         /* why it is open (or just closed), in words */
    int64_t tokens_milli;          /* tokens left after this sweep, x1000 */
    int64_t next_token_ms;         /* ms until the next token (0 = one is there) */
} dv_gate_decision;

typedef struct dv_gate_host dv_gate_host;
typedef struct dv_gates {
    dv_gate_host *hosts;           /* the hosts of the last sweep */
    size_t n, cap;
    uint32_t *index;               /* open addressing over hosts, 0 = empty */
    size_t index_cap;
    bool breaker_open;
    bool bucket_started;
    int64_t bucket_units;          /* 1 token = 60000 units; each ms adds max_per_minute */
    int64_t bucket_ms;             /* when bucket_units was last brought up to date */
} dv_gates;

void dv_gates_init(dv_gates *g);
void dv_gates_free(dv_gates *g);
void dv_gate_decision_init(dv_gate_decision *d);
void dv_gate_decision_free(dv_gate_decision *d);

/* One sweep: update g from obs[0..n) at now_ms and fill d (reused across
 * calls).  Hosts of earlier sweeps that obs does not list are forgotten.
 * A clock that goes back counts no DOWN time and refills no token.
 * Errors: DROVER_ERR_INVALID (bad parameters, a host listed twice, a bad
 * name or state: g is unchanged), DROVER_ERR_NOMEM (g may hold the sweep's
 * observations, d is incomplete: act on nothing). */
int dv_evac_decide(dv_gates *g, const dv_gate_params *p, const dv_gate_obs *obs, size_t n,
                   int64_t now_ms, dv_gate_decision *d, drover_error *err);

/* Mark host admitted (a journal shows an evacuation of it in progress), so
 * the next sweeps give it DV_GATE_CONTINUE without waiting for a grace or a
 * token.  DROVER_ERR_NOT_FOUND if the last sweep did not list it. */
int dv_gates_admit(dv_gates *g, const char *host, drover_error *err);

/* Host, given DV_GATE_CONTINUE in d by the last dv_evac_decide, has no
 * evacuation to carry on (the journal's latest is done, and an operator
 * enabled the host again while it is still DOWN): a new evacuation of it is
 * a new action, so it needs a token like any other.  Its admission is
 * dropped and its verdict in d becomes DV_GATE_ACT (a token was taken, it is
 * admitted again) or DV_GATE_HELD_RATE; d's tokens and reasons are brought
 * up to date.  DROVER_ERR_NOT_FOUND if d does not give host CONTINUE. */
int dv_gates_renew(dv_gates *g, const dv_gate_params *p, dv_gate_decision *d, const char *host,
                   drover_error *err);

#endif
