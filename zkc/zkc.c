/* zkc.c - one ZooKeeper session for the zk driver and the zk state store
 * (see zkc.h). */
#include "zkc/zkc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
}

/* "user:password" -> c->auth, c->user and the secure ACLs. */
static int take_auth(dv_zkc *c, const char *auth, drover_error *err)
{
    const char *colon;

    c->acl = &ZOO_OPEN_ACL_UNSAFE;
    if (!auth || !*auth)
        return 0;
    colon = strchr(auth, ':');
    if (!colon || colon == auth || !colon[1])
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.auth must be \"user:password\" with both parts non-empty");
    if (!(c->auth = strdup(auth)) || !(c->user = strndup(auth, (size_t)(colon - auth))))
        return nomem(err);
    /* the creator may do anything, everyone else only read */
    c->secure[0].perms = ZOO_PERM_ALL;
    c->secure[0].id = ZOO_AUTH_IDS;
    c->secure[1].perms = ZOO_PERM_READ;
    c->secure[1].id = ZOO_ANYONE_ID_UNSAFE;
    c->secure_acl.count = 2;
    c->secure_acl.data = c->secure;
    c->acl = &c->secure_acl;
    return 0;
}

int dv_zkc_init(dv_zkc *c, const char *hosts, int session_ms, const char *auth,
                const char *who, drover_error *err)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    dv_cond_init_mono(&c->cv);
    c->who = who ? who : "";
    c->acl = &ZOO_OPEN_ACL_UNSAFE;
    if (!hosts || !*hosts)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts is empty: give \"host:port[,host:port...]\"");
    if (session_ms < 100 || session_ms > 600000)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.session_timeout_ms = %d is outside 100..600000", session_ms);
    c->session_ms = session_ms;
    /* bridge a leader election; give up on an outage after one session */
    c->wait_ms = session_ms < 1000 ? 1000 : session_ms;
    c->stale_ms = 2 * c->wait_ms;
    if (!(c->hosts = strdup(hosts)))
        return nomem(err);
    return take_auth(c, auth, err);
}

void dv_zkc_fini(dv_zkc *c)
{
    dv_zkc_handle_close(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->hosts);
    if (c->auth)
        memset(c->auth, 0, strlen(c->auth));
    free(c->auth);
    free(c->user);
    c->hosts = c->auth = c->user = NULL;
}

/* ---------------------------------------------------------------- handles */

static void on_session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    dv_zkc *c = ctx;

    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&c->mu);
    if (state == ZOO_CONNECTED_STATE) {
        if (c->down_since || !c->up_since)
            c->up_since = dv_mono_ms();
        c->down_since = 0;
    } else {
        if (!c->down_since)
            c->down_since = dv_mono_ms();
        if (state == ZOO_EXPIRED_SESSION_STATE)
            c->expired = true;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void auth_sent(int rc, const void *data)
{
    (void)rc;
    (void)data;
}

static void quiet_client(void)
{
    /* the client would otherwise print every reconnect attempt on stderr */
    zoo_set_debug_level((ZooLogLevel)0);
}

int dv_zkc_handle_new(dv_zkc *c, bool keep_down, drover_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, quiet_client);
    pthread_mutex_lock(&c->mu);
    c->born = dv_mono_ms();
    if (!keep_down || !c->down_since)
        c->down_since = c->born;
    c->up_since = 0;
    c->expired = false;
    pthread_mutex_unlock(&c->mu);

    errno = 0;
    c->zh = zookeeper_init(c->hosts, on_session_event, c->session_ms, NULL, c, 0);
    if (!c->zh)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts \"%s\": cannot make a ZooKeeper handle (%s)",
                      c->hosts, errno ? strerror(errno) : "bad connect string");
    c->gen++;
    /* by default the client resolves the host names (a netlink dump and
     * more) every time it polls its socket: that was a third of a sweep's
     * CPU.  -1: only when the connection is lost. */
    zoo_set_servers_resolution_delay(c->zh, -1);
    /* queued before any request, and sent again by the client on reconnect */
    if (c->auth && zoo_add_auth(c->zh, "digest", c->auth, (int)strlen(c->auth), auth_sent, NULL) != ZOK)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_ZK,
                      "cannot queue the digest credentials of user \"%s\"", c->user);
    return 0;
}

void dv_zkc_handle_close(dv_zkc *c)
{
    if (c->zh) {
        zookeeper_close(c->zh);
        c->zh = NULL;
    }
}

void dv_zkc_mark_down(dv_zkc *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->down_since)
        c->down_since = dv_mono_ms();
    pthread_mutex_unlock(&c->mu);
}

void dv_zkc_mark_expired(dv_zkc *c)
{
    pthread_mutex_lock(&c->mu);
    c->expired = true;
    pthread_mutex_unlock(&c->mu);
}

bool dv_zkc_conn_lost(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT;
}

bool dv_zkc_session_gone(int zrc)
{
    return zrc == ZSESSIONEXPIRED || zrc == ZINVALIDSTATE || zrc == ZSESSIONMOVED;
}

bool dv_zkc_again(dv_zkc *c, int zrc)
{
    if (dv_zkc_conn_lost(zrc)) {
        dv_zkc_mark_down(c);
        dv_sleep_ms(10);
        return true;
    }
    if (dv_zkc_session_gone(zrc)) {
        dv_zkc_mark_expired(c);
        return true;
    }
    return false;
}

int64_t dv_zkc_session_id(dv_zkc *c)
{
    const clientid_t *id = c->zh ? zoo_client_id(c->zh) : NULL;
    return id ? id->client_id : 0;
}

/* ---------------------------------------------------------------- waiting */

enum { SESSION_OK, SESSION_EXPIRED, SESSION_STALE };

/* Wait until the handle is connected, at most until wait_ms after the
 * connection was lost.  Returns a SESSION_* value, or -1 (unreachable). */
static int wait_connected(dv_zkc *c, drover_error *err)
{
    int rc;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        int state = zoo_state(c->zh);
        int64_t now = dv_mono_ms(), left;
        struct timespec ts;

        if (c->expired || state == ZOO_EXPIRED_SESSION_STATE) {
            rc = SESSION_EXPIRED;
            break;
        }
        if (state == ZOO_CONNECTED_STATE) {
            rc = SESSION_OK;
            break;
        }
        if (!c->down_since)
            c->down_since = now;
        if (now - c->down_since > c->stale_ms && now - c->born > c->stale_ms) {
            rc = SESSION_STALE;
            break;
        }
        left = c->down_since + c->wait_ms - now;
        if (left <= 0) {
            rc = dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                        "%sZooKeeper %s not reachable for %lld ms (no server answers, or no"
                        " quorum)", c->who, c->hosts, (long long)(now - c->down_since));
            break;
        }
        dv_deadline_ms(&ts, left);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int dv_zkc_ready(dv_zkc *c, drover_error *err)
{
    if (!c->zh && dv_zkc_handle_new(c, true, err) < 0)
        return -1;
    for (int renewals = 0;; renewals++) {
        int rc = wait_connected(c, err);

        if (rc < 0)
            return -1;
        if (rc == SESSION_OK)
            return 0;
        if (renewals > 1)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                          "%sZooKeeper %s: a new session expired at once", c->who, c->hosts);
        if (rc == SESSION_EXPIRED)
            dv_warn("zk: %ssession expired; opening a new session to %s", c->who, c->hosts);
        else
            dv_warn("zk: %sno connection to %s for %d ms; trying with a new session",
                    c->who, c->hosts, c->stale_ms);
        dv_zkc_handle_close(c);
        if (dv_zkc_handle_new(c, rc == SESSION_STALE, err) < 0)
            return -1;
    }
}

/* ---------------------------------------------------------------- errors, paths */

int dv_zkc_fail(const dv_zkc *c, int zrc, const char *what, const char *path,
                drover_error *err)
{
    if (zrc == ZNOAUTH) {
        if (c->user)
            return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_ZK,
                          "ZooKeeper refused to %s %s: digest user \"%s\" has no right to it"
                          " (check servicegroup.zk.auth)", what, path, c->user);
        return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_ZK,
                      "ZooKeeper refused to %s %s: the node is protected and servicegroup.zk.auth"
                      " gives no credentials", what, path);
    }
    if (zrc == ZBADARGUMENTS)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_ZK,
                      "cannot %s %s: ZooKeeper refuses the path (its node names cannot hold"
                      " invalid UTF-8, C1 control, private-use or non-BMP characters such as emoji)",
                      what, path);
    if (zrc == ZINVALIDACL || zrc == ZMARSHALLINGERROR)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_ZK, "cannot %s %s: %s",
                      what, path, zerror(zrc));
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "%scannot %s %s on ZooKeeper %s: %s", c->who, what, path, c->hosts,
                  zerror(zrc));
}

int dv_zkc_each_prefix(const char *path, int (*make)(void *arg, const char *p, bool last),
                       void *arg, drover_error *err)
{
    char *p;
    int rc = 0;

    if (!path[0] || !path[1])
        return 0;   /* the root exists */
    if (!(p = strdup(path)))
        return nomem(err);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        rc = make(arg, p, !s);
        if (!s || rc < 0)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}
