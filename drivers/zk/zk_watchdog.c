/* zk_watchdog.c - withdrawing members whose heartbeat calls stopped. */
#include "drivers/zk/zk.h"

/* ---------------------------------------------------------------- the watchdog */

/* Delete the nodes of members whose heartbeat calls stopped (op_mu held). */
static void withdraw_silent(zk_sg *z)
{
    int64_t now = dv_mono_ms(), since;

    if (!z->zc.zh || zoo_state(z->zc.zh) != ZOO_CONNECTED_STATE)
        return;    /* nothing to do now; and an outage withdraws nobody */
    /* after an outage every member gets service_down_time to beat again */
    pthread_mutex_lock(&z->zc.mu);
    since = z->zc.down_since || !z->zc.up_since ? now : z->zc.up_since;
    pthread_mutex_unlock(&z->zc.mu);
    for (size_t i = 0; i < z->joined.cap; i++) {
        zk_member *m = z->joined.e[i].key ? z->joined.e[i].val : NULL;
        int zrc;

        if (!m || m->withdrawn || now - m->beat_ms <= z->down_ms || now - since <= z->down_ms)
            continue;
        zrc = zoo_delete(z->zc.zh, m->path, -1);
        if (dv_zkc_conn_lost(zrc) || dv_zkc_session_gone(zrc) || zrc == ZCLOSING)
            continue;      /* the next round tries again */
        m->withdrawn = true;
        if (m->sign_on && m->sign_gen == z->zc.gen)
            zoo_delete(z->zc.zh, m->sign_on, -1);   /* readers skip it anyway: no node */
        zk_sign_forget(m);
        if (zrc == ZOK || zrc == ZNONODE)
            dv_warn("zk: no heartbeat for %s in %lld s: its node is withdrawn (DOWN) until the next",
                    m->path, (long long)(z->down_ms / 1000));
        else
            dv_warn("zk: no heartbeat for %s in %lld s, but it cannot be withdrawn: %s", m->path,
                    (long long)(z->down_ms / 1000), zerror(zrc));
    }
}

static void *watchdog_run(void *arg)
{
    zk_sg *z = arg;

    pthread_mutex_lock(&z->op_mu);
    while (!z->stopping) {
        struct timespec ts;

        dv_deadline_ms(&ts, 250);
        pthread_cond_timedwait(&z->stop_cv, &z->op_mu, &ts);
        if (!z->stopping)
            withdraw_silent(z);
    }
    pthread_mutex_unlock(&z->op_mu);
    return NULL;
}

/* Once this handle has members of its own (op_mu held). */
void zk_watchdog_start(zk_sg *z)
{
    if (z->watchdog_on)
        return;
    if (pthread_create(&z->watchdog, NULL, watchdog_run, z) == 0)
        z->watchdog_on = true;
    else
        dv_warn("zk: no watchdog thread: a member that stops heartbeating stays UP while its"
                " process lives");
}

void zk_watchdog_stop(zk_sg *z)
{
    if (!z->watchdog_on)
        return;
    pthread_mutex_lock(&z->op_mu);
    z->stopping = true;
    pthread_cond_broadcast(&z->stop_cv);
    pthread_mutex_unlock(&z->op_mu);
    pthread_join(z->watchdog, NULL);
    z->watchdog_on = false;
}

