/* lease.h - the "evacuator" lease as a controller (or an operator's
 * `drover host evacuate`) holds it: acquired before a sweep, renewed from
 * inside long steps (a drain's migrations, a rebuild), given up at the end.
 * The store (store/store.h) keeps the lease and its epoch; this keeps when
 * it was last renewed, so a tick costs nothing until a third of its life
 * has passed.  Thread-safe: a drain's threads tick it. */
#ifndef DV_EVAC_LEASE_H
#define DV_EVAC_LEASE_H

#include "core/config.h"
#include "store/store.h"

#include <pthread.h>

typedef struct dv_evac_lease {
    dv_store *store;
    char holder[300];
    int ttl_ms;
    int64_t epoch;                 /* 0: not held */
    int64_t renewed_ms;            /* monotonic: acquired or renewed last */
    pthread_mutex_t mu;
} dv_evac_lease;

/* controller.lease_ttl_s, but never under three sweep periods: a
 * controller renews it once a sweep besides the ticks. */
int dv_evac_lease_ttl_ms(const dv_config *cfg);

void dv_evac_lease_init(dv_evac_lease *l, dv_store *st, const char *holder, int ttl_ms);
void dv_evac_lease_fini(dv_evac_lease *l);

/* Take the lease or keep it: 0 and l->epoch set, or -1 (err; DROVER_ERR_CONFLICT
 * while another holds it) and l->epoch 0. */
int dv_evac_lease_acquire(dv_evac_lease *l, drover_error *err);

/* Renew when a third of its life has passed since the last time.  A refusal
 * (it lapsed and another holds it) is logged, not fatal: every write made
 * with the old epoch is refused by the store and every action is checked
 * first (dv_sweeper_holds). */
void dv_evac_lease_tick(dv_evac_lease *l);

/* Give it up (when held). */
void dv_evac_lease_release(dv_evac_lease *l);

#endif
