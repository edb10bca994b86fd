/* zk_session.c - one ZooKeeper session for the zk state store (see
 * zk_session.h; the parts shared in spirit with drivers/sg_zk.c are listed
 * there). */
#include "store/zk_session.h"
#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void on_session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zs_session *z = ctx;

    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&z->mu);
    if (state == ZOO_CONNECTED_STATE) {
        z->down_since = 0;
    } else {
        if (!z->down_since)
            z->down_since = dv_mono_ms();
        if (state == ZOO_EXPIRED_SESSION_STATE)
            z->expired = true;
    }
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
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

/* A new handle (a new session); keep_down: the outage goes on. */
static int handle_new(zs_session *z, bool keep_down, drover_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, quiet_client);
    pthread_mutex_lock(&z->mu);
    if (!keep_down || !z->down_since)
        z->down_since = dv_mono_ms();
    z->expired = false;
    pthread_mutex_unlock(&z->mu);
    errno = 0;
    z->zh = zookeeper_init(z->hosts, on_session_event, z->session_ms, NULL, z, 0);
    if (!z->zh)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts \"%s\": cannot make a ZooKeeper handle (%s)",
                      z->hosts, errno ? strerror(errno) : "bad connect string");
    z->gen++;
    zoo_set_servers_resolution_delay(z->zh, -1);
    if (z->auth && zoo_add_auth(z->zh, "digest", z->auth, (int)strlen(z->auth), auth_sent, NULL) != ZOK)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_ZK,
                      "cannot queue the digest credentials of user \"%s\"", z->user);
    return 0;
}

static int take_auth(zs_session *z, const char *auth, drover_error *err)
{
    const char *colon;

    z->acl = &ZOO_OPEN_ACL_UNSAFE;
    if (!auth || !*auth)
        return 0;
    colon = strchr(auth, ':');
    if (!colon || colon == auth || !colon[1])
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.auth must be \"user:password\" with both parts non-empty");
    if (!(z->auth = strdup(auth)) || !(z->user = strndup(auth, (size_t)(colon - auth))))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
    /* the creator may do anything, everyone else only read */
    z->secure[0].perms = ZOO_PERM_ALL;
    z->secure[0].id = ZOO_AUTH_IDS;
    z->secure[1].perms = ZOO_PERM_READ;
    z->secure[1].id = ZOO_ANYONE_ID_UNSAFE;
    z->secure_acl.count = 2;
    z->secure_acl.data = z->secure;
    z->acl = &z->secure_acl;
    return 0;
}

int zs_open(zs_session *z, const char *hosts, int session_ms, const char *auth,
            drover_error *err)
{
    memset(z, 0, sizeof *z);
    pthread_mutex_init(&z->mu, NULL);
    dv_cond_init_mono(&z->cv);
    if (!hosts || !*hosts)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts is empty: give \"host:port[,host:port...]\"");
    if (session_ms < 100 || session_ms > 600000)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.session_timeout_ms = %d is outside 100..600000", session_ms);
    z->session_ms = session_ms;
    /* bridge a leader election; give up on an outage after one session */
    z->wait_ms = session_ms < 1000 ? 1000 : session_ms;
    if (!(z->hosts = strdup(hosts)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
    if (take_auth(z, auth, err) < 0)
        return -1;
    return handle_new(z, false, err);
}

void zs_close(zs_session *z)
{
    if (z->zh)
        zookeeper_close(z->zh);
    z->zh = NULL;
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    free(z->hosts);
    if (z->auth)
        memset(z->auth, 0, strlen(z->auth));
    free(z->auth);
    free(z->user);
    z->hosts = z->auth = z->user = NULL;
}

int64_t zs_session_id(zs_session *z)
{
    const clientid_t *id = z->zh ? zoo_client_id(z->zh) : NULL;
    return id ? id->client_id : 0;
}

enum { WAIT_OK, WAIT_EXPIRED, WAIT_GONE };

static int wait_connected(zs_session *z, drover_error *err)
{
    int rc;

    pthread_mutex_lock(&z->mu);
    for (;;) {
        int state = zoo_state(z->zh);
        int64_t now = dv_mono_ms(), left;
        struct timespec ts;

        if (z->expired || state == ZOO_EXPIRED_SESSION_STATE) {
            rc = WAIT_EXPIRED;
            break;
        }
        if (state == ZOO_CONNECTED_STATE) {
            rc = WAIT_OK;
            break;
        }
        if (!z->down_since)
            z->down_since = now;
        left = z->down_since + z->wait_ms - now;
        if (left <= 0) {
            rc = WAIT_GONE;
            dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                   "state store: ZooKeeper %s not reachable for %lld ms (no server answers,"
                   " or no quorum)", z->hosts, (long long)(now - z->down_since));
            break;
        }
        dv_deadline_ms(&ts, left);
        pthread_cond_timedwait(&z->cv, &z->mu, &ts);
    }
    pthread_mutex_unlock(&z->mu);
    return rc;
}

int zs_ready(zs_session *z, drover_error *err)
{
    for (int renewals = 0; renewals < 3; renewals++) {
        int rc = wait_connected(z, err);

        if (rc == WAIT_OK)
            return 0;
        if (rc == WAIT_GONE)
            return -1;
        /* expired: everything ephemeral of ours is gone; a new session */
        zookeeper_close(z->zh);
        z->zh = NULL;
        if (handle_new(z, true, err) < 0)
            return -1;
    }
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "state store: ZooKeeper %s: new sessions expire at once", z->hosts);
}

bool zs_again(zs_session *z, int zrc, drover_error *err)
{
    (void)err;
    if (zrc == ZS_UNREACHABLE)
        return false;
    if (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT) {
        pthread_mutex_lock(&z->mu);
        if (!z->down_since)
            z->down_since = dv_mono_ms();
        pthread_mutex_unlock(&z->mu);
        dv_sleep_ms(10);
        return true;   /* zs_ready bounds the outage */
    }
    if (zrc == ZSESSIONEXPIRED || zrc == ZINVALIDSTATE || zrc == ZSESSIONMOVED) {
        pthread_mutex_lock(&z->mu);
        z->expired = true;
        pthread_mutex_unlock(&z->mu);
        return true;
    }
    return false;
}

int zs_fail(const zs_session *z, int zrc, const char *what, const char *path,
            drover_error *err)
{
    if (zrc == ZS_UNREACHABLE)
        return -1;   /* err set by zs_ready */
    if (zrc == ZNOAUTH)
        return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_ZK,
                      "ZooKeeper refused to %s %s: %s", what, path,
                      z->user ? "the digest user has no right to it (check servicegroup.zk.auth)"
                              : "the node is protected and servicegroup.zk.auth gives no"
                                " credentials");
    if (zrc == ZBADARGUMENTS || zrc == ZINVALIDACL || zrc == ZMARSHALLINGERROR)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_ZK, "cannot %s %s: %s", what, path,
                      zerror(zrc));
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "cannot %s %s on ZooKeeper %s: %s", what, path, z->hosts, zerror(zrc));
}
