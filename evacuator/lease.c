/* lease.c - the evacuator lease, held and renewed.  See lease.h. */
#include "evacuator/lease.h"
#include "core/clock.h"
#include "core/log.h"
#include "evacuator/journal.h"

#include <stdio.h>

int dv_evac_lease_ttl_ms(const dv_config *cfg)
{
    int64_t t = (int64_t)cfg->controller.lease_ttl_s * 1000,
            floor = (int64_t)cfg->evacuator.interval * 3000;
    return (int)(t < floor ? floor : t);
}

void dv_evac_lease_init(dv_evac_lease *l, dv_store *st, const char *holder, int ttl_ms)
{
    l->store = st;
    snprintf(l->holder, sizeof l->holder, "%s", holder);
    l->ttl_ms = ttl_ms;
    l->epoch = 0;
    l->renewed_ms = 0;
    pthread_mutex_init(&l->mu, NULL);
}

void dv_evac_lease_fini(dv_evac_lease *l)
{
    pthread_mutex_destroy(&l->mu);
}

int dv_evac_lease_acquire(dv_evac_lease *l, drover_error *err)
{
    int64_t epoch = 0;
    int rc;

    pthread_mutex_lock(&l->mu);
    rc = dv_store_lease_acquire(l->store, DV_EVAC_LEASE, l->holder, l->ttl_ms, &epoch, err);
    l->epoch = rc == 0 ? epoch : 0;
    if (rc == 0)
        l->renewed_ms = dv_mono_ms();
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void dv_evac_lease_tick(dv_evac_lease *l)
{
    drover_error err;

    pthread_mutex_lock(&l->mu);
    if (l->epoch > 0 && dv_mono_ms() - l->renewed_ms >= l->ttl_ms / 3) {
        if (dv_store_lease_renew(l->store, DV_EVAC_LEASE, l->holder, l->epoch, l->ttl_ms,
                                 &err) == 0)
            l->renewed_ms = dv_mono_ms();
        else
            dv_log(DV_LOG_WARNING, "renewing the %s lease: %s", DV_EVAC_LEASE, err.message);
    }
    pthread_mutex_unlock(&l->mu);
}

void dv_evac_lease_release(dv_evac_lease *l)
{
    drover_error err;

    pthread_mutex_lock(&l->mu);
    if (l->epoch > 0 &&
        dv_store_lease_release(l->store, DV_EVAC_LEASE, l->holder, l->epoch, &err) < 0)
        dv_log(DV_LOG_WARNING, "giving the %s lease up: %s", DV_EVAC_LEASE, err.message);
    l->epoch = 0;
    pthread_mutex_unlock(&l->mu);
}
