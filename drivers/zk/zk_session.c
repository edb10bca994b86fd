/* zk_session.c - the session: handles, waiting for a connection, retry across losses. */
#include "drivers/zk/zk.h"

void zk_member_free(void *p)
{
    zk_member *m = p;

    if (m) {
        free(m->path);
        free(m->data);
        free(m);
    }
}

char *zk_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

/* ---------------------------------------------------------------- errors */

bool zk_conn_lost(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT;
}

bool zk_session_gone(int zrc)
{
    return zrc == ZSESSIONEXPIRED || zrc == ZINVALIDSTATE || zrc == ZSESSIONMOVED;
}

/* Turn a ZooKeeper result into a drover error: "what" is the verb. */
int zk_fail(const zk_sg *z, int zrc, const char *what, const char *path, drover_error *err)
{
    if (zrc == ZNOAUTH) {
        if (z->user)
            return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_ZK,
                          "ZooKeeper refused to %s %s: digest user \"%s\" has no right to it"
                          " (check servicegroup.zk.auth)", what, path, z->user);
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
                  "cannot %s %s on ZooKeeper %s: %s", what, path, z->hosts, zerror(zrc));
}
/* ---------------------------------------------------------------- sessions */

static void on_session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zk_sg *z = ctx;

    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&z->mu);
    if (state == ZOO_CONNECTED_STATE) {
        if (z->down_since || !z->up_since)
            z->up_since = dv_mono_ms();
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

/* A new handle (a new session).  keep_down: the outage goes on, so the time
 * callers may still wait is not renewed. */
int zk_handle_new(zk_sg *z, bool keep_down, drover_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, quiet_client);
    pthread_mutex_lock(&z->mu);
    z->born = dv_mono_ms();
    if (!keep_down || !z->down_since)
        z->down_since = z->born;
    z->up_since = 0;
    z->expired = false;
    pthread_mutex_unlock(&z->mu);

    errno = 0;
    z->zh = zookeeper_init(z->hosts, on_session_event, z->session_ms, NULL, z, 0);
    if (!z->zh)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts \"%s\": cannot make a ZooKeeper handle (%s)",
                      z->hosts, errno ? strerror(errno) : "bad connect string");
    z->gen++;
    /* by default the client resolves the host names (a netlink dump and
     * more) every time it polls its socket: that was a third of a sweep's
     * CPU.  -1: only when the connection is lost. */
    zoo_set_servers_resolution_delay(z->zh, -1);
    /* queued before any request, and sent again by the client on reconnect */
    if (z->auth && zoo_add_auth(z->zh, "digest", z->auth, (int)strlen(z->auth), auth_sent, NULL) != ZOK)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_ZK,
                      "cannot queue the digest credentials of user \"%s\"", z->user);
    return 0;
}

void zk_handle_close(zk_sg *z)
{
    if (z->zh) {
        zookeeper_close(z->zh);
        z->zh = NULL;
    }
}

void zk_mark_down(zk_sg *z)
{
    pthread_mutex_lock(&z->mu);
    if (!z->down_since)
        z->down_since = dv_mono_ms();
    pthread_mutex_unlock(&z->mu);
}

void zk_mark_expired(zk_sg *z)
{
    pthread_mutex_lock(&z->mu);
    z->expired = true;
    pthread_mutex_unlock(&z->mu);
}

enum { SESSION_OK, SESSION_EXPIRED, SESSION_STALE };

/* Wait until the handle is connected, at most until wait_ms after the
 * connection was lost.  Returns a SESSION_* value, or -1 (unreachable). */
static int wait_connected(zk_sg *z, drover_error *err)
{
    int rc;

    pthread_mutex_lock(&z->mu);
    for (;;) {
        int state = zoo_state(z->zh);
        int64_t now = dv_mono_ms(), left;

        if (z->expired || state == ZOO_EXPIRED_SESSION_STATE) {
            rc = SESSION_EXPIRED;
            break;
        }
        if (state == ZOO_CONNECTED_STATE) {
            rc = SESSION_OK;
            break;
        }
        if (!z->down_since)
            z->down_since = now;
        if (now - z->down_since > z->stale_ms && now - z->born > z->stale_ms) {
            rc = SESSION_STALE;
            break;
        }
        left = z->down_since + z->wait_ms - now;
        if (left <= 0) {
            rc = dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                        "ZooKeeper %s not reachable for %lld ms (no server answers, or no quorum)",
                        z->hosts, (long long)(now - z->down_since));
            break;
        }
        {
            struct timespec ts;
            dv_deadline_ms(&ts, left);
            pthread_cond_timedwait(&z->cv, &z->mu, &ts);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return rc;
}

/* A connected session, replacing an expired or hopeless handle, with our
 * joined nodes present in it. */
int zk_ensure_session(zk_sg *z, drover_error *err)
{
    if (!z->zh && zk_handle_new(z, true, err) < 0)
        return -1;
    for (int renewals = 0;; renewals++) {
        int rc = wait_connected(z, err);

        if (rc < 0)
            return -1;
        if (rc == SESSION_OK)
            break;
        if (renewals > 1)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                          "ZooKeeper %s: a new session expired at once", z->hosts);
        if (rc == SESSION_EXPIRED)
            dv_warn("zk: session expired; opening a new session to %s", z->hosts);
        else
            dv_warn("zk: no connection to %s for %d ms; trying with a new session",
                    z->hosts, z->stale_ms);
        zk_handle_close(z);
        if (zk_handle_new(z, rc == SESSION_STALE, err) < 0)
            return -1;
    }
    if (z->nodes_gen != z->gen && !z->remaking) {
        uint64_t gen = z->gen;
        int rc;

        z->remaking = true;
        rc = zk_remake_joined(z, err);
        z->remaking = false;
        if (rc < 0)
            return -1;
        if (z->gen == gen)
            z->nodes_gen = gen;
    }
    return 0;
}


/* Run call with a connected session, across connection losses (bounded by
 * wait_ms per outage) and session expiry.  0 with *zrc = the call's final
 * result; -1 (unreachable) when no session could be had. */
int zk_run(zk_sg *z, zk_call call, zk_op *op, int *zrc, drover_error *err)
{
    for (int attempt = 0; attempt < ZK_MAX_ATTEMPTS; attempt++) {
        if (zk_ensure_session(z, err) < 0)
            return -1;
        *zrc = call(z, op);
        if (zk_conn_lost(*zrc)) {
            zk_mark_down(z);
            dv_sleep_ms(10);
            continue;
        }
        if (zk_session_gone(*zrc)) {
            zk_mark_expired(z);
            continue;
        }
        return 0;
    }
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "ZooKeeper %s: %s failed %d times in a row on lost connections",
                  z->hosts, op->path, ZK_MAX_ATTEMPTS);
}

int zk_call_exists(zk_sg *z, zk_op *op)
{
    return zoo_exists(z->zh, op->path, 0, &op->stat);
}

int zk_call_create(zk_sg *z, zk_op *op)
{
    return zoo_create(z->zh, op->path, op->data, op->data ? op->len : -1, z->acl, op->flags, NULL, 0);
}

int zk_call_set(zk_sg *z, zk_op *op)
{
    return zoo_set2(z->zh, op->path, op->data, op->data ? op->len : -1, -1, &op->stat);
}

int zk_call_delete(zk_sg *z, zk_op *op)
{
    return zoo_delete(z->zh, op->path, -1);
}

int zk_call_children(zk_sg *z, zk_op *op)
{
    return zoo_get_children(z->zh, op->path, 0, &op->kids);
}

int zk_call_get_acl(zk_sg *z, zk_op *op)
{
    return zoo_get_acl(z->zh, op->path, &op->acl, &op->stat);
}

int zk_call_set_acl(zk_sg *z, zk_op *op)
{
    return zoo_set_acl(z->zh, op->path, op->version, z->acl);
}

/* Replace a node some other session left (delete + create, atomically). */
int zk_call_take_over(zk_sg *z, zk_op *op)
{
    zoo_op_t ops[2];
    zoo_op_result_t res[2];

    zoo_delete_op_init(&ops[0], op->path, op->version);
    zoo_create_op_init(&ops[1], op->path, op->data, op->data ? op->len : -1, z->acl,
                       ZOO_EPHEMERAL, NULL, 0);
    return zoo_multi(z->zh, 2, ops, res);
}

int64_t zk_my_session(zk_sg *z)
{
    const clientid_t *id = zoo_client_id(z->zh);
    return id ? id->client_id : 0;
}
