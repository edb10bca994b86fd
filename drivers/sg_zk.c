/* sg_zk.c - the "zk" servicegroup driver: a member is alive while its
 * ZooKeeper session is.
 *
 * Layout in ZooKeeper (servicegroup.zk.prefix, "/drover" by default):
 *   <prefix>                  persistent
 *   <prefix>/<group>          persistent
 *   <prefix>/<group>/<host>   EPHEMERAL; its data is the member's last report (JSON)
 * An ephemeral node lives exactly as long as the session that made it, so a
 * member whose agent dies, hangs or is cut off past the session timeout
 * disappears without anyone sweeping.  The ZooKeeper client keeps the session
 * alive on its own (its pings are the heartbeats); a heartbeat call only
 * refreshes the report.  So a live member's last_seen is the time of the
 * answer, and a liveness sweep (get_states) is one getChildren; get_all adds
 * the reports with pipelined asynchronous reads.
 *
 * What ZooKeeper cannot say lives in the state db (state.path): the hosts
 * seen in a group, so that a vanished node reads DOWN rather than "never
 * heard of", and the admin state (disabled, forced_down), which must survive
 * the loss of ZooKeeper's data.
 *
 * Connection rules
 *  - Every operation first waits for a connected session, for at most
 *    wait_ms counted from the moment the connection was lost: an ensemble
 *    that elects a new leader (half a second) is bridged, a dead one costs
 *    one wait per outage, not one per call.  Then DROVER_ERR_UNREACHABLE:
 *    the caller answers UNKNOWN, never DOWN.
 *  - An expired session is replaced (close, new handle) and the nodes this
 *    handle joined are made again with their last report: an agent that was
 *    stopped past its session timeout comes back at its next heartbeat, with
 *    no restart.  A handle that cannot reconnect for long (a server rebuilt
 *    on empty data refuses clients that have seen newer transactions) is
 *    replaced the same way.
 *  - A node left by an earlier session of the same member is taken over in
 *    one multi-op (delete + create), so readers never see it missing.
 *  - In a process that joined members (an agent), a watchdog thread deletes
 *    the node of a member with no join or heartbeat call for
 *    service_down_time: an agent that lives on but stopped heartbeating (its
 *    libvirt hung) must look DOWN, as with the other drivers, although its
 *    session is fine.  Its next heartbeat makes the node again.  A heartbeat
 *    that fails because ZooKeeper is away still counts as a call: a backend
 *    outage never withdraws anyone.
 *
 * Digest auth (servicegroup.zk.auth = "user:password"): the prefix, group
 * and member nodes carry creator-all plus world-read ACLs, so a client
 * without the credentials can read reports but cannot create, overwrite or
 * delete members.  The password is never logged nor put in a message.
 */
#include "drivers/servicegroup.h"
#include "core/log.h"
#include "core/model.h"
#include "core/report.h"
#include "core/statedb.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

/* ZooKeeper drops the connection of a client that sends a packet larger
 * than jute.maxbuffer (1 MiB by default): refuse such reports up front. */
#define ZK_MAX_REPORT (1000 * 1000)
/* How many times one call may be retried across connection losses. */
#define ZK_MAX_ATTEMPTS 50

/* ---------------------------------------------------------------- a string table
 * Open addressing with linear probing, keys "group/host" (neither part can
 * hold a '/').  Holds the members this handle joined, the hosts known to be
 * in the state db and the groups whose node exists. */
typedef struct zk_table {
    char **keys;
    void **vals;
    size_t cap, n;
} zk_table;

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return (size_t)h;
}

static size_t table_slot(const zk_table *t, const char *key)
{
    size_t i = hash_str(key) & (t->cap - 1);

    while (t->keys[i] && strcmp(t->keys[i], key) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static void *table_get(const zk_table *t, const char *key)
{
    size_t i;

    if (!t->cap)
        return NULL;
    i = table_slot(t, key);
    return t->keys[i] ? t->vals[i] : NULL;
}

static int table_grow(zk_table *t)
{
    zk_table bigger = { .cap = t->cap ? t->cap * 2 : 64 };

    bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
    bigger.vals = calloc(bigger.cap, sizeof *bigger.vals);
    if (!bigger.keys || !bigger.vals) {
        free(bigger.keys);
        free(bigger.vals);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i]) {
            size_t j = table_slot(&bigger, t->keys[i]);
            bigger.keys[j] = t->keys[i];
            bigger.vals[j] = t->vals[i];
        }
    }
    bigger.n = t->n;
    free(t->keys);
    free(t->vals);
    *t = bigger;
    return 0;
}

/* Insert or replace; val must not be NULL. */
static int table_put(zk_table *t, const char *key, void *val)
{
    size_t i;

    if ((t->n + 1) * 4 > t->cap * 3 && table_grow(t) < 0)
        return -1;
    i = table_slot(t, key);
    if (!t->keys[i]) {
        if (!(t->keys[i] = strdup(key)))
            return -1;
        t->n++;
    }
    t->vals[i] = val;
    return 0;
}

/* Remove key and return its value (NULL if absent).  Entries after it in
 * the probe run move back so lookups never stop at the hole. */
static void *table_del(zk_table *t, const char *key)
{
    size_t i, j, mask = t->cap - 1;
    void *val;

    if (!t->cap || !t->keys[i = table_slot(t, key)])
        return NULL;
    val = t->vals[i];
    free(t->keys[i]);
    t->keys[i] = NULL;
    t->n--;
    for (j = (i + 1) & mask; t->keys[j]; j = (j + 1) & mask) {
        size_t home = hash_str(t->keys[j]) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->keys[i] = t->keys[j];
        t->vals[i] = t->vals[j];
        t->keys[j] = NULL;
        i = j;
    }
    return val;
}

static void table_free(zk_table *t, void (*free_val)(void *))
{
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i]) {
            free(t->keys[i]);
            if (free_val)
                free_val(t->vals[i]);
        }
    }
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- the driver */

/* A member this handle joined: made again after a session is replaced. */
typedef struct zk_member {
    char *path;
    char *data;            /* the last report; NULL = none known */
    int len;
    uint64_t gen;          /* the handle whose session made the node; 0 = none */
    int64_t beat_ms;       /* monotonic ms of the last join or heartbeat call */
    bool withdrawn;        /* its node was deleted for want of heartbeats */
} zk_member;

typedef struct zk_sg {
    dv_sg base;
    zhandle_t *zh;
    char *hosts, *prefix;
    char *auth;            /* "user:password" or NULL; never logged */
    char *user;            /* the part before ':' for messages */
    int session_ms, wait_ms, stale_ms;
    struct ACL secure[2];
    struct ACL_vector secure_acl;
    struct ACL_vector *acl;    /* what member, group and prefix nodes get */
    dv_statedb *db;
    zk_table joined;       /* key -> zk_member */
    zk_table known;        /* keys known to be in the state db's member list */
    zk_table ready;        /* group paths whose node exists */
    uint64_t gen;          /* handles made so far */
    uint64_t nodes_gen;    /* the handle whose session holds our joined nodes */
    bool remaking;         /* remake_joined() runs: do not recurse */
    int64_t down_ms;       /* service_down_time */

    /* Every operation holds op_mu, and so does the watchdog when it acts. */
    pthread_mutex_t op_mu;
    pthread_cond_t stop_cv;
    pthread_t watchdog;
    bool watchdog_on, stopping;

    pthread_mutex_t mu;    /* the fields below are also written by the client's thread */
    pthread_cond_t cv;
    int64_t down_since;    /* monotonic ms the connection was lost; 0 while connected */
    int64_t up_since;      /* monotonic ms the connection was (re)established */
    int64_t born;          /* monotonic ms the handle was made */
    bool expired;
} zk_sg;

static zk_sg *as_zk(dv_sg *sg)
{
    return (zk_sg *)sg;
}

static void member_free(void *p)
{
    zk_member *m = p;

    if (m) {
        free(m->path);
        free(m->data);
        free(m);
    }
}

static char *str_printf(const char *fmt, ...) DV_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

static int nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
}

/* ---------------------------------------------------------------- errors */

static bool conn_lost(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT;
}

static bool session_gone(int zrc)
{
    return zrc == ZSESSIONEXPIRED || zrc == ZINVALIDSTATE || zrc == ZSESSIONMOVED;
}

/* Turn a ZooKeeper result into a drover error: "what" is the verb. */
static int zk_fail(const zk_sg *z, int zrc, const char *what, const char *path, drover_error *err)
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
static int handle_new(zk_sg *z, bool keep_down, drover_error *err)
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

static void handle_close(zk_sg *z)
{
    if (z->zh) {
        zookeeper_close(z->zh);
        z->zh = NULL;
    }
}

static void mark_down(zk_sg *z)
{
    pthread_mutex_lock(&z->mu);
    if (!z->down_since)
        z->down_since = dv_mono_ms();
    pthread_mutex_unlock(&z->mu);
}

static void mark_expired(zk_sg *z)
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
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (long)(left % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&z->cv, &z->mu, &ts);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return rc;
}

static int remake_joined(zk_sg *z, drover_error *err);

/* A connected session, replacing an expired or hopeless handle, with our
 * joined nodes present in it. */
static int ensure_session(zk_sg *z, drover_error *err)
{
    if (!z->zh && handle_new(z, true, err) < 0)
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
        handle_close(z);
        if (handle_new(z, rc == SESSION_STALE, err) < 0)
            return -1;
    }
    if (z->nodes_gen != z->gen && !z->remaking) {
        uint64_t gen = z->gen;
        int rc;

        z->remaking = true;
        rc = remake_joined(z, err);
        z->remaking = false;
        if (rc < 0)
            return -1;
        if (z->gen == gen)
            z->nodes_gen = gen;
    }
    return 0;
}

/* One ZooKeeper request: returns its ZooKeeper code. */
typedef struct zk_op {
    const char *path;
    const char *data;
    int len;
    int flags;
    int version;
    struct Stat stat;
    struct String_vector kids;
    struct ACL_vector acl;
} zk_op;

typedef int (*zk_call)(zk_sg *z, zk_op *op);

/* Run call with a connected session, across connection losses (bounded by
 * wait_ms per outage) and session expiry.  0 with *zrc = the call's final
 * result; -1 (unreachable) when no session could be had. */
static int run(zk_sg *z, zk_call call, zk_op *op, int *zrc, drover_error *err)
{
    for (int attempt = 0; attempt < ZK_MAX_ATTEMPTS; attempt++) {
        if (ensure_session(z, err) < 0)
            return -1;
        *zrc = call(z, op);
        if (conn_lost(*zrc)) {
            mark_down(z);
            dv_sleep_ms(10);
            continue;
        }
        if (session_gone(*zrc)) {
            mark_expired(z);
            continue;
        }
        return 0;
    }
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "ZooKeeper %s: %s failed %d times in a row on lost connections",
                  z->hosts, op->path, ZK_MAX_ATTEMPTS);
}

static int call_exists(zk_sg *z, zk_op *op)
{
    return zoo_exists(z->zh, op->path, 0, &op->stat);
}

static int call_create(zk_sg *z, zk_op *op)
{
    return zoo_create(z->zh, op->path, op->data, op->data ? op->len : -1, z->acl, op->flags, NULL, 0);
}

static int call_set(zk_sg *z, zk_op *op)
{
    return zoo_set2(z->zh, op->path, op->data, op->data ? op->len : -1, -1, &op->stat);
}

static int call_delete(zk_sg *z, zk_op *op)
{
    return zoo_delete(z->zh, op->path, -1);
}

static int call_children(zk_sg *z, zk_op *op)
{
    return zoo_get_children(z->zh, op->path, 0, &op->kids);
}

static int call_get_acl(zk_sg *z, zk_op *op)
{
    return zoo_get_acl(z->zh, op->path, &op->acl, &op->stat);
}

static int call_set_acl(zk_sg *z, zk_op *op)
{
    return zoo_set_acl(z->zh, op->path, op->version, z->acl);
}

/* Replace a node some other session left (delete + create, atomically). */
static int call_take_over(zk_sg *z, zk_op *op)
{
    zoo_op_t ops[2];
    zoo_op_result_t res[2];

    zoo_delete_op_init(&ops[0], op->path, op->version);
    zoo_create_op_init(&ops[1], op->path, op->data, op->data ? op->len : -1, z->acl,
                       ZOO_EPHEMERAL, NULL, 0);
    return zoo_multi(z->zh, 2, ops, res);
}

static int64_t my_session(zk_sg *z)
{
    const clientid_t *id = zoo_client_id(z->zh);
    return id ? id->client_id : 0;
}

/* ---------------------------------------------------------------- nodes */

/* With auth on, a node nobody restricted (made before auth was configured)
 * is restricted now: nobody without the credentials may add or remove
 * members below it. */
static int restrict_acl(zk_sg *z, const char *path, drover_error *err)
{
    zk_op op = { .path = path };
    bool open = false;
    int zrc;

    if (run(z, call_get_acl, &op, &zrc, err) < 0)
        return -1;
    if (zrc != ZOK)
        return zk_fail(z, zrc, "read the ACL of", path, err);
    for (int i = 0; i < op.acl.count; i++) {
        const struct ACL *a = &op.acl.data[i];
        if (strcmp(a->id.scheme, "world") == 0 && (a->perms & ~ZOO_PERM_READ))
            open = true;
    }
    op.version = op.stat.aversion;
    deallocate_ACL_vector(&op.acl);
    if (!open)
        return 0;
    dv_info("zk: %s was writable by anyone; restricting it to digest user \"%s\"", path, z->user);
    if (run(z, call_set_acl, &op, &zrc, err) < 0)
        return -1;
    if (zrc != ZOK && zrc != ZBADVERSION)
        return zk_fail(z, zrc, "restrict the ACL of", path, err);
    return 0;
}

/* Make path (a persistent node) unless it exists.  guard: with auth on, an
 * existing node must not let strangers add or remove children (the prefix
 * and group nodes; a shared parent above the prefix is left alone). */
static int make_persistent(zk_sg *z, const char *path, bool guard, drover_error *err)
{
    zk_op op = { .path = path, .flags = 0 };
    int zrc;

    if (run(z, call_create, &op, &zrc, err) < 0)
        return -1;
    if (zrc == ZOK)
        return 0;
    if (zrc != ZNODEEXISTS)
        return zk_fail(z, zrc, "create", path, err);
    return z->auth && guard ? restrict_acl(z, path, err) : 0;
}

/* The prefix, component by component (nothing for the root). */
static int make_prefix(zk_sg *z, drover_error *err)
{
    char *p;
    int rc = 0;

    if (!z->prefix[0])
        return 0;
    if (!(p = strdup(z->prefix)))
        return nomem(err);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        rc = make_persistent(z, p, !s, err);
        if (!s || rc < 0)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}

static char *group_path(const zk_sg *z, const char *group)
{
    return str_printf("%s/%s", z->prefix, group);
}

static char *member_path(const zk_sg *z, const char *group, const char *host)
{
    return str_printf("%s/%s/%s", z->prefix, group, host);
}

static int ensure_group(zk_sg *z, const char *group, drover_error *err)
{
    char *path = group_path(z, group);
    int rc;

    if (!path)
        return nomem(err);
    if (table_get(&z->ready, path)) {
        free(path);
        return 0;
    }
    rc = make_prefix(z, err);
    if (rc == 0)
        rc = make_persistent(z, path, true, err);
    if (rc == 0 && table_put(&z->ready, path, z) < 0)
        rc = nomem(err);
    free(path);
    return rc;
}

/* The group node of a member path was deleted under us: make it again. */
static int remake_group(zk_sg *z, const char *member, drover_error *err)
{
    const char *slash = strrchr(member, '/');
    char *gpath = strndup(member, (size_t)(slash - member));
    int rc;

    if (!gpath)
        return nomem(err);
    table_del(&z->ready, gpath);
    rc = make_prefix(z, err) == 0 ? make_persistent(z, gpath, true, err) : -1;
    free(gpath);
    return rc;
}

/* The data of a node another session left, so a take-over keeps it. */
static int keep_old_data(zk_sg *z, zk_member *m, const struct Stat *st)
{
    char *buf = malloc((size_t)st->dataLength + 1);
    int len = st->dataLength;

    if (!buf)
        return -1;
    if (len <= 0 || zoo_get(z->zh, m->path, 0, buf, &len, NULL) != ZOK || len <= 0) {
        free(buf);
        return 0;
    }
    buf[len] = '\0';
    m->data = buf;
    m->len = len;
    return 0;
}

/* Make the member's ephemeral node exist, belong to our session and hold
 * m's report; with no report known yet, whatever it holds is kept.  The
 * usual cases take one round trip: a new member is created, a known one
 * is written. */
static int put_member(zk_sg *z, zk_member *m, drover_error *err)
{
    zk_op op = { .path = m->path, .flags = ZOO_EPHEMERAL };
    bool exists = m->gen == z->gen;    /* made by this session before */
    int zrc;

    for (int tries = 0; tries < 6; tries++) {
        op.data = m->data;
        op.len = m->len;
        if (!exists) {
            if (run(z, call_create, &op, &zrc, err) < 0)
                return -1;
            if (zrc == ZOK) {
                m->gen = z->gen;
                return 0;
            }
            if (zrc == ZNONODE) {
                if (remake_group(z, m->path, err) < 0)
                    return -1;
                continue;
            }
            if (zrc != ZNODEEXISTS)
                return zk_fail(z, zrc, "create", m->path, err);
        }
        /* the node exists: whose is it? */
        if (run(z, m->data ? call_set : call_exists, &op, &zrc, err) < 0)
            return -1;
        if (zrc == ZNONODE) {
            exists = false;
            continue;
        }
        if (zrc != ZOK)
            return zk_fail(z, zrc, "write", m->path, err);
        if (op.stat.ephemeralOwner == my_session(z)) {
            m->gen = z->gen;
            return 0;
        }
        /* left by an earlier session of this member (a restarted agent),
         * or held by a second agent wrongly using the same name */
        dv_warn("zk: %s belonged to session 0x%llx; taking it over", m->path,
                (unsigned long long)op.stat.ephemeralOwner);
        if (!m->data && keep_old_data(z, m, &op.stat) < 0)
            return nomem(err);
        op.data = m->data;
        op.len = m->len;
        op.version = op.stat.version;
        if (run(z, call_take_over, &op, &zrc, err) < 0)
            return -1;
        if (zrc == ZOK) {
            m->gen = z->gen;
            return 0;
        }
        if (zrc == ZNOAUTH)
            return zk_fail(z, zrc, "take over", m->path, err);
        exists = zrc != ZNONODE;   /* it changed meanwhile: look again */
    }
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                  "%s keeps changing under us: is a second agent using this host name?", m->path);
}

/* After a new session: every node this handle joined, with its last report. */
static int remake_joined(zk_sg *z, drover_error *err)
{
    size_t made = 0;

    for (size_t i = 0; i < z->joined.cap; i++) {
        zk_member *m = z->joined.keys[i] ? z->joined.vals[i] : NULL;
        drover_error why;

        if (!m || m->withdrawn)
            continue;
        if (put_member(z, m, &why) < 0) {
            /* an outage stops us; any other refusal is this member's own,
             * told again at its next heartbeat */
            if (why.code == DROVER_ERR_UNREACHABLE) {
                dv_err_copy(err, &why);
                return -1;
            }
            dv_warn("zk: cannot make %s again: %s", m->path, why.message);
            continue;
        }
        made++;
    }
    if (made)
        dv_info("zk: session 0x%llx: %zu member node(s) made again",
                (unsigned long long)my_session(z), made);
    return 0;
}

/* ---------------------------------------------------------------- members known to the state db */

static char *key_of(const char *group, const char *host)
{
    return str_printf("%s/%s", group, host);
}

/* Remember that group/host is a member (its node was seen or made). */
static int learn(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    char *key = key_of(group, host);
    int rc = 0;

    if (!key)
        return nomem(err);
    if (!table_get(&z->known, key)) {
        rc = dv_statedb_member_add(z->db, group, host, err);
        if (rc == 0 && table_put(&z->known, key, z) < 0)
            rc = nomem(err);
    }
    free(key);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* key in the sorted v[n] (v may be NULL when n is 0). */
static char **find_str(const char *key, char **v, size_t n)
{
    return n ? bsearch(&key, v, n, sizeof *v, cmp_str) : NULL;
}

static void sort_strs(char **v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
}

/* Was group/host ever a member (seen, joined, or given admin state)? */
static int is_known(zk_sg *z, const char *group, const char *host, bool *known, drover_error *err)
{
    char *key = key_of(group, host);
    dv_admin a;

    if (!key)
        return nomem(err);
    *known = table_get(&z->known, key) != NULL;
    free(key);
    if (*known)
        return 0;
    if (dv_statedb_member_has(z->db, group, host, known, err) < 0)
        return -1;
    if (*known)
        return 0;
    if (dv_statedb_admin_get(z->db, group, host, &a, err) < 0)
        return -1;
    *known = a.disabled || a.forced_down;
    dv_admin_clear(&a);
    return 0;
}

/* ---------------------------------------------------------------- pipelined reads */

typedef struct zk_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
} zk_batch;

typedef struct zk_fetch {
    zk_batch *batch;
    const char *path;
    int rc;                /* ZooKeeper result; ZNOTHING until asked */
    char *data;            /* NUL-terminated copy; NULL when empty */
    int len;
    struct Stat stat;
} zk_fetch;

/* Not answered yet, or lost with the connection or the session. */
static bool retryable(int rc)
{
    return rc == ZNOTHING || rc == ZCLOSING || conn_lost(rc) || session_gone(rc);
}

static void fetch_done(zk_fetch *f, int rc)
{
    f->rc = rc;
    pthread_mutex_lock(&f->batch->mu);
    if (--f->batch->pending == 0)
        pthread_cond_broadcast(&f->batch->cv);
    pthread_mutex_unlock(&f->batch->mu);
}

/* Runs on the client's completion thread. */
static void on_data(int rc, const char *value, int len, const struct Stat *stat, const void *arg)
{
    zk_fetch *f = (zk_fetch *)arg;

    if (rc == ZOK) {
        f->stat = *stat;
        if (value && len > 0) {
            if ((f->data = malloc((size_t)len + 1))) {
                memcpy(f->data, value, (size_t)len);
                f->data[len] = '\0';
                f->len = len;
            } else {
                rc = ZSYSTEMERROR;
            }
        }
    }
    fetch_done(f, rc);
}

/* Ask for every fetch still unanswered at once, then wait for all answers:
 * one round trip for the lot instead of one per member. */
static void fetch_round(zk_sg *z, zk_fetch *fs, size_t n)
{
    zk_batch b = { .pending = 1 };

    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (size_t i = 0; i < n; i++) {
        zk_fetch *f = &fs[i];
        int rc;

        if (!retryable(f->rc))
            continue;
        f->batch = &b;
        pthread_mutex_lock(&b.mu);
        b.pending++;
        pthread_mutex_unlock(&b.mu);
        if ((rc = zoo_aget(z->zh, f->path, 0, on_data, f)) != ZOK)
            fetch_done(f, rc);
    }
    /* the client answers every request it took, on close or loss too */
    pthread_mutex_lock(&b.mu);
    b.pending--;
    while (b.pending)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
}

/* Read every path; a read lost with the connection is asked again once the
 * session is back.  -1 only when no session could be had at all; reads
 * left unanswered keep a connection-loss code. */
static int fetch_all(zk_sg *z, zk_fetch *fs, size_t n, drover_error *err)
{
    for (size_t i = 0; i < n; i++)
        fs[i].rc = ZNOTHING;
    for (int round = 0; round < 4; round++) {
        bool again = false;

        if (ensure_session(z, err) < 0)
            return round ? 0 : -1;
        fetch_round(z, fs, n);
        for (size_t i = 0; i < n; i++) {
            if (retryable(fs[i].rc))
                again = true;
            if (session_gone(fs[i].rc))
                mark_expired(z);
            else if (conn_lost(fs[i].rc))
                mark_down(z);
        }
        if (!again)
            break;
    }
    return 0;
}

/* ---------------------------------------------------------------- members */

/* Fill m for host from what was read (f, NULL when no node) and its admin
 * state.  A live node's member was seen now: its session is alive, which
 * the ensemble checks by the agent's pings; when its last report was made
 * is the report's generated_ms. */
static int fill_member(drover_member *m, const char *group, const char *host, int64_t now,
                       drover_liveness state, const dv_admin *a, zk_fetch *f, drover_error *err)
{
    memset(m, 0, sizeof *m);
    m->state = state;
    if (!(m->group = strdup(group)) || !(m->host = strdup(host)))
        goto oom;
    if (a) {
        m->disabled = a->disabled;
        m->forced_down = a->forced_down;
        if (a->reason && !(m->disabled_reason = strdup(a->reason)))
            goto oom;
    }
    if (f && f->rc == ZOK) {
        m->last_seen_ms = now;
        if (f->data) {
            m->report_json = f->data;   /* taken over */
            f->data = NULL;
            if (dv_report_from_json(m->report_json, strlen(m->report_json), &m->report, NULL) < 0)
                m->report = NULL;
        }
    }
    return 0;
oom:
    drover_member_clear(m);
    return nomem(err);
}

static drover_liveness state_of(const zk_fetch *f, const dv_admin *a)
{
    if (!f)
        return DROVER_DOWN;
    if (f->rc == ZOK)
        return a && a->forced_down ? DROVER_DOWN : DROVER_UP;
    if (f->rc == ZNONODE)
        return DROVER_DOWN;
    return DROVER_UNKNOWN;
}

static const dv_admin *admin_find(const dv_admin *a, size_t n, const char *host)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(a[mid].host, host);
        if (c == 0)
            return &a[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sorted, unique union of three host lists. */
static char **union_hosts(char **a, size_t na, char **b, size_t nb, const dv_admin *c, size_t nc,
                          size_t *n)
{
    char **v = malloc((na + nb + nc + 1) * sizeof *v);
    size_t k = 0, u = 0;

    if (!v)
        return NULL;
    for (size_t i = 0; i < na; i++)
        v[k++] = a[i];
    for (size_t i = 0; i < nb; i++)
        v[k++] = b[i];
    for (size_t i = 0; i < nc; i++)
        v[k++] = c[i].host;
    sort_strs(v, k);
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *n = u;
    return v;
}

typedef struct zk_listing {
    struct String_vector kids;     /* live nodes, sorted */
    bool reachable;
    drover_error why;              /* when not reachable */
    char **known;                  /* the state db's member list */
    size_t n_known;
    dv_admin *admin;
    size_t n_admin;
    zk_fetch *fetch;               /* one per kid */
    char **paths;
} zk_listing;

static void listing_free(zk_listing *l)
{
    if (l->fetch)
        for (int i = 0; i < l->kids.count; i++)
            free(l->fetch[i].data);
    free(l->fetch);
    if (l->paths)
        for (int i = 0; i < l->kids.count; i++)
            free(l->paths[i]);
    free(l->paths);
    deallocate_String_vector(&l->kids);
    dv_strv_free(l->known, l->n_known);
    dv_admins_free(l->admin, l->n_admin);
}

/* Children of the group, the state db's view, and (reports) every child's
 * data.  Without reports the children list is all a sweep needs: a node
 * exists exactly while its member's session lives. */
static int list_group(zk_sg *z, const char *group, bool reports, zk_listing *l, drover_error *err)
{
    char *gpath = group_path(z, group);
    zk_op op = { .path = gpath };
    int zrc;

    if (!gpath)
        return nomem(err);
    if (dv_statedb_member_list(z->db, group, &l->known, &l->n_known, err) < 0 ||
        dv_statedb_admin_all(z->db, group, &l->admin, &l->n_admin, err) < 0) {
        free(gpath);
        return -1;
    }
    l->reachable = run(z, call_children, &op, &zrc, &l->why) == 0;
    if (l->reachable && zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "list", gpath, err);
        free(gpath);
        return -1;
    }
    free(gpath);
    if (!l->reachable)
        return 0;
    l->kids = op.kids;
    sort_strs(l->kids.data, (size_t)l->kids.count);
    l->fetch = calloc((size_t)l->kids.count + 1, sizeof *l->fetch);
    l->paths = calloc((size_t)l->kids.count + 1, sizeof *l->paths);
    if (!l->fetch || !l->paths)
        return nomem(err);
    for (int i = 0; i < l->kids.count; i++) {
        if (!(l->paths[i] = member_path(z, group, l->kids.data[i])))
            return nomem(err);
        l->fetch[i].path = l->paths[i];
        if (!find_str(l->kids.data[i], l->known, l->n_known) &&
            learn(z, group, l->kids.data[i], err) < 0)
            return -1;
    }
    if (!reports) {
        for (int i = 0; i < l->kids.count; i++)
            l->fetch[i].rc = ZOK;
        return 0;
    }
    if (fetch_all(z, l->fetch, (size_t)l->kids.count, &l->why) < 0)
        l->reachable = false;
    return 0;
}

static int list_members(dv_sg *sg, const char *group, bool reports, drover_member **members,
                        size_t *n, drover_error *err)
{
    zk_sg *z = as_zk(sg);
    zk_listing l = { 0 };
    char **hosts = NULL;
    size_t nh = 0, k = 0;
    drover_member *out = NULL;
    int64_t now;
    int rc = -1;

    if (list_group(z, group, reports, &l, err) < 0)
        goto done;
    now = dv_clock_now(&z->base.clock);
    if (!l.reachable && l.n_known + l.n_admin == 0) {
        dv_err_copy(err, &l.why);
        goto done;
    }
    if (!(hosts = union_hosts(l.kids.data, (size_t)l.kids.count, l.known, l.n_known, l.admin,
                              l.n_admin, &nh)) ||
        !(out = calloc(nh + 1, sizeof *out))) {
        nomem(err);
        goto done;
    }
    for (k = 0; k < nh; k++) {
        const dv_admin *a = admin_find(l.admin, l.n_admin, hosts[k]);
        char **kid = l.reachable ? find_str(hosts[k], l.kids.data, (size_t)l.kids.count) : NULL;
        zk_fetch *f = kid ? &l.fetch[kid - l.kids.data] : NULL;
        drover_liveness st = l.reachable ? state_of(f, a) : DROVER_UNKNOWN;

        if (fill_member(&out[k], group, hosts[k], now, st, a, f, err) < 0)
            goto done;
    }
    *members = out;
    *n = nh;
    out = NULL;
    rc = 0;
done:
    drover_members_free(out, k);
    free(hosts);
    listing_free(&l);
    return rc;
}

static int op_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err)
{
    return list_members(sg, group, true, members, n, err);
}

/* A liveness sweep: one getChildren, no report moved. */
static int op_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                         drover_error *err)
{
    return list_members(sg, group, false, members, n, err);
}

static int op_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
                  drover_error *err)
{
    zk_sg *z = as_zk(sg);
    zk_fetch f = { 0 };
    dv_admin a = { 0 };
    bool known = true;
    int rc = -1;

    if (!(f.path = member_path(z, group, host)))
        return nomem(err);
    if (fetch_all(z, &f, 1, err) < 0)
        goto done;
    if (f.rc != ZOK && f.rc != ZNONODE) {
        zk_fail(z, f.rc, "read", f.path, err);
        goto done;
    }
    if ((f.rc == ZOK ? learn(z, group, host, err) : is_known(z, group, host, &known, err)) < 0 ||
        dv_statedb_admin_get(z->db, group, host, &a, err) < 0)
        goto done;
    if (!known) {
        dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
               "host \"%s\" is not a member of group \"%s\"", host, group);
        goto done;
    }
    rc = fill_member(member, group, host, dv_clock_now(&z->base.clock), state_of(&f, &a), &a, &f,
                     err);
done:
    free((char *)f.path);
    free(f.data);
    dv_admin_clear(&a);
    return rc;
}

static int op_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                    drover_error *err)
{
    zk_sg *z = as_zk(sg);
    zk_op op = { .path = member_path(z, group, host) };
    dv_admin a = { 0 };
    bool known = true;
    int zrc, rc = -1;

    if (!op.path)
        return nomem(err);
    if (run(z, call_exists, &op, &zrc, err) < 0)
        goto done;
    if (zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "look up", op.path, err);
        goto done;
    }
    if (zrc == ZOK) {
        if (learn(z, group, host, err) < 0 || dv_statedb_admin_get(z->db, group, host, &a, err) < 0)
            goto done;
        *state = a.forced_down ? DROVER_DOWN : DROVER_UP;
    } else {
        if (is_known(z, group, host, &known, err) < 0)
            goto done;
        if (!known) {
            dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                   "host \"%s\" is not a member of group \"%s\"", host, group);
            goto done;
        }
        *state = DROVER_DOWN;
    }
    rc = 0;
done:
    free((char *)op.path);
    dv_admin_clear(&a);
    return rc;
}

/* ---------------------------------------------------------------- membership */

/* The entry for a member this handle joins (made on first use). */
static zk_member *joined_entry(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    char *key = key_of(group, host);
    zk_member *m;

    if (!key) {
        nomem(err);
        return NULL;
    }
    if (!(m = table_get(&z->joined, key))) {
        if (!(m = calloc(1, sizeof *m)) || !(m->path = member_path(z, group, host)) ||
            table_put(&z->joined, key, m) < 0) {
            member_free(m);
            m = NULL;
            nomem(err);
        }
    }
    free(key);
    return m;
}

static void watchdog_start(zk_sg *z);

/* A join or heartbeat call for m: it counts even when ZooKeeper is away. */
static int beat(zk_sg *z, zk_member *m, const char *group, const char *host, drover_error *err)
{
    drover_error why;
    int rc;

    m->beat_ms = dv_mono_ms();
    watchdog_start(z);
    rc = put_member(z, m, &why);
    /* the agent was busy heartbeating until now: a call blocked by an outage
     * must not count against it */
    m->beat_ms = dv_mono_ms();
    if (rc < 0) {
        /* refused (not merely unreachable) before its node ever existed:
         * not a member of ours, nothing to make again later */
        if (!m->gen && why.code != DROVER_ERR_UNREACHABLE) {
            char *key = key_of(group, host);
            if (key)
                member_free(table_del(&z->joined, key));
            free(key);
        }
        dv_err_copy(err, &why);
        return -1;
    }
    if (m->withdrawn)
        dv_info("zk: %s heartbeats again", m->path);
    m->withdrawn = false;
    return learn(z, group, host, err);
}

/* The group could not be made ready: the call still counts for a member
 * already joined (an outage withdraws nobody). */
static int group_failed(zk_sg *z, const char *group, const char *host)
{
    char *key = key_of(group, host);
    zk_member *m = key ? table_get(&z->joined, key) : NULL;

    if (m)
        m->beat_ms = dv_mono_ms();
    free(key);
    return -1;
}

static int op_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    zk_sg *z = as_zk(sg);
    zk_member *m;

    if (ensure_group(z, group, err) < 0)
        return group_failed(z, group, host);
    if (!(m = joined_entry(z, group, host, err)))
        return -1;
    return beat(z, m, group, host, err);
}

static int op_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                        drover_error *err)
{
    zk_sg *z = as_zk(sg);
    zk_member *m;

    if (report_json && strlen(report_json) > ZK_MAX_REPORT)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_ZK,
                      "report of host \"%s\" is %zu bytes; ZooKeeper nodes take at most %d",
                      host, strlen(report_json), ZK_MAX_REPORT);
    if (ensure_group(z, group, err) < 0)
        return group_failed(z, group, host);
    if (!(m = joined_entry(z, group, host, err)))
        return -1;
    if (report_json) {
        char *copy = strdup(report_json);
        if (!copy)
            return nomem(err);
        free(m->data);
        m->data = copy;
        m->len = (int)strlen(copy);
    }
    return beat(z, m, group, host, err);
}

static int op_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    zk_sg *z = as_zk(sg);
    char *key = key_of(group, host);
    zk_op op = { .path = member_path(z, group, host) };
    zk_member *m;
    drover_error why;
    int zrc, rc = -1;

    if (!key || !op.path) {
        nomem(err);
        goto done;
    }
    if (run(z, call_delete, &op, &zrc, err) < 0)
        goto done;
    if (zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "delete", op.path, err);
        goto done;
    }
    m = table_del(&z->joined, key);
    table_del(&z->known, key);
    if (dv_statedb_member_remove(z->db, group, host, &why) < 0) {
        if (why.code != DROVER_ERR_NOT_FOUND) {
            dv_err_copy(err, &why);
            goto done;
        }
        if (zrc == ZNONODE && !m) {
            dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                   "host \"%s\" is not a member of group \"%s\"", host, group);
            goto done;
        }
    }
    member_free(m);
    rc = 0;
done:
    free(key);
    free((char *)op.path);
    return rc;
}

/* Admin state is only set on members: a node exists or the state db knows it. */
static int need_member(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    zk_op op = { .path = NULL };
    bool known;
    int zrc, rc;

    if (is_known(z, group, host, &known, err) < 0)
        return -1;
    if (known)
        return 0;
    if (!(op.path = member_path(z, group, host)))
        return nomem(err);
    rc = run(z, call_exists, &op, &zrc, err);
    if (rc == 0 && zrc == ZOK)
        rc = learn(z, group, host, err);
    else if (rc == 0 && zrc == ZNONODE)
        rc = dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                    "host \"%s\" is not a member of group \"%s\"", host, group);
    else if (rc == 0)
        rc = zk_fail(z, zrc, "look up", op.path, err);
    free((char *)op.path);
    return rc;
}

static int op_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                           const char *reason, drover_error *err)
{
    zk_sg *z = as_zk(sg);

    if (need_member(z, group, host, err) < 0)
        return -1;
    return dv_statedb_set_disabled(z->db, group, host, disabled, reason, err);
}

static int op_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                              drover_error *err)
{
    zk_sg *z = as_zk(sg);

    if (need_member(z, group, host, err) < 0)
        return -1;
    return dv_statedb_set_forced_down(z->db, group, host, forced_down, err);
}

/* ---------------------------------------------------------------- the watchdog */

/* Delete the nodes of members whose heartbeat calls stopped (op_mu held). */
static void withdraw_silent(zk_sg *z)
{
    int64_t now = dv_mono_ms(), since;

    if (!z->zh || zoo_state(z->zh) != ZOO_CONNECTED_STATE)
        return;    /* nothing to do now; and an outage withdraws nobody */
    /* after an outage every member gets service_down_time to beat again */
    pthread_mutex_lock(&z->mu);
    since = z->down_since || !z->up_since ? now : z->up_since;
    pthread_mutex_unlock(&z->mu);
    for (size_t i = 0; i < z->joined.cap; i++) {
        zk_member *m = z->joined.keys[i] ? z->joined.vals[i] : NULL;
        int zrc;

        if (!m || m->withdrawn || now - m->beat_ms <= z->down_ms || now - since <= z->down_ms)
            continue;
        zrc = zoo_delete(z->zh, m->path, -1);
        if (conn_lost(zrc) || session_gone(zrc) || zrc == ZCLOSING)
            continue;      /* the next round tries again */
        m->withdrawn = true;
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

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&z->stop_cv, &z->op_mu, &ts);
        if (!z->stopping)
            withdraw_silent(z);
    }
    pthread_mutex_unlock(&z->op_mu);
    return NULL;
}

/* Once this handle has members of its own (op_mu held). */
static void watchdog_start(zk_sg *z)
{
    if (z->watchdog_on)
        return;
    if (pthread_create(&z->watchdog, NULL, watchdog_run, z) == 0)
        z->watchdog_on = true;
    else
        dv_warn("zk: no watchdog thread: a member that stops heartbeating stays UP while its"
                " process lives");
}

static void watchdog_stop(zk_sg *z)
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

/* ---------------------------------------------------------------- the operations, serialised */

#define LOCKED(call)                                  \
    do {                                              \
        zk_sg *z_ = as_zk(sg);                        \
        int rc_;                                      \
        pthread_mutex_lock(&z_->op_mu);               \
        rc_ = call;                                   \
        pthread_mutex_unlock(&z_->op_mu);             \
        return rc_;                                   \
    } while (0)

static int zk_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    LOCKED(op_join(sg, group, host, err));
}

static int zk_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                        drover_error *err)
{
    LOCKED(op_heartbeat(sg, group, host, report_json, err));
}

static int zk_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                    drover_error *err)
{
    LOCKED(op_is_up(sg, group, host, state, err));
}

static int zk_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err)
{
    LOCKED(op_get_all(sg, group, members, n, err));
}

static int zk_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                         drover_error *err)
{
    LOCKED(op_get_states(sg, group, members, n, err));
}

static int zk_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
                  drover_error *err)
{
    LOCKED(op_get(sg, group, host, member, err));
}

static int zk_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    LOCKED(op_leave(sg, group, host, err));
}

static int zk_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                           const char *reason, drover_error *err)
{
    LOCKED(op_set_disabled(sg, group, host, disabled, reason, err));
}

static int zk_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                              drover_error *err)
{
    LOCKED(op_set_forced_down(sg, group, host, forced_down, err));
}

/* ---------------------------------------------------------------- open / close */

static int check_prefix(const char *prefix, drover_error *err)
{
    char *copy, *save = NULL;
    int rc = 0;

    if (prefix && strcmp(prefix, "/") == 0)
        return 0;
    if (!prefix || prefix[0] != '/' || prefix[strlen(prefix) - 1] == '/')
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.prefix \"%s\" must be an absolute path without a trailing"
                      " '/', like \"/drover\" (or \"/\")", prefix ? prefix : "");
    if (strncmp(prefix, "/zookeeper", 10) == 0 && (!prefix[10] || prefix[10] == '/'))
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.prefix \"%s\": /zookeeper belongs to ZooKeeper itself", prefix);
    if (!(copy = strdup(prefix + 1)))
        return nomem(err);
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (dv_name_check("servicegroup.zk.prefix component", part, err) < 0) {
            if (err)
                err->code = DROVER_ERR_CONFIG;
            rc = -1;
            break;
        }
    }
    if (rc == 0 && strstr(prefix, "//"))
        rc = dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                    "servicegroup.zk.prefix \"%s\" has an empty component", prefix);
    free(copy);
    return rc;
}

/* "user:password" -> z->auth, z->user.  Messages never show the value. */
static int take_auth(zk_sg *z, const char *auth, drover_error *err)
{
    const char *colon;

    if (!auth || !*auth)
        return 0;
    colon = strchr(auth, ':');
    if (!colon || colon == auth || !colon[1])
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.auth must be \"user:password\" with both parts non-empty");
    if (!(z->auth = strdup(auth)) || !(z->user = strndup(auth, (size_t)(colon - auth))))
        return nomem(err);
    z->secure[0].perms = ZOO_PERM_ALL;
    z->secure[0].id = ZOO_AUTH_IDS;
    z->secure[1].perms = ZOO_PERM_READ;
    z->secure[1].id = ZOO_ANYONE_ID_UNSAFE;
    z->secure_acl.count = 2;
    z->secure_acl.data = z->secure;
    z->acl = &z->secure_acl;
    return 0;
}

static void zk_close(dv_sg *sg)
{
    zk_sg *z = as_zk(sg);

    if (!z)
        return;
    watchdog_stop(z);
    handle_close(z);
    dv_statedb_close(z->db);
    table_free(&z->joined, member_free);
    table_free(&z->known, NULL);
    table_free(&z->ready, NULL);
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->stop_cv);
    pthread_mutex_destroy(&z->op_mu);
    free(z->hosts);
    free(z->prefix);
    if (z->auth)
        memset(z->auth, 0, strlen(z->auth));
    free(z->auth);
    free(z->user);
    free(z);
}

static int zk_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    const char *hosts = cfg->servicegroup.zk.hosts;
    int session_ms = cfg->servicegroup.zk.session_timeout_ms;
    pthread_condattr_t ca;
    drover_error why;
    zk_sg *z;

    *out = NULL;
    if (!hosts || !*hosts)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.hosts is empty: give \"host:port[,host:port...]\"");
    if (session_ms < 100 || session_ms > 600000)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.session_timeout_ms = %d is outside 100..600000", session_ms);
    if (check_prefix(cfg->servicegroup.zk.prefix, err) < 0)
        return -1;
    if (!(z = calloc(1, sizeof *z)))
        return nomem(err);
    pthread_mutex_init(&z->mu, NULL);
    pthread_mutex_init(&z->op_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&z->cv, &ca);
    pthread_cond_init(&z->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    z->acl = &ZOO_OPEN_ACL_UNSAFE;
    z->session_ms = session_ms;
    /* bridge a leader election; give up on an outage after one session */
    z->wait_ms = session_ms < 1000 ? 1000 : session_ms;
    z->stale_ms = 2 * z->wait_ms;
    z->down_ms = (int64_t)cfg->servicegroup.service_down_time * 1000;
    /* kept without a trailing '/': "" for the root, so paths are prefix + "/group" */
    if (!(z->hosts = strdup(hosts)) ||
        !(z->prefix = strdup(strcmp(cfg->servicegroup.zk.prefix, "/") == 0 ? "" : cfg->servicegroup.zk.prefix))) {
        zk_close(&z->base);
        return nomem(err);
    }
    if (take_auth(z, cfg->servicegroup.zk.auth, err) < 0 ||
        dv_statedb_open(cfg->state.path, cfg->servicegroup.db.busy_timeout_ms, &z->db, err) < 0 ||
        handle_new(z, false, err) < 0) {
        zk_close(&z->base);
        return -1;
    }
    z->nodes_gen = z->gen;
    /* make the prefix now when ZooKeeper answers; a dead ensemble is not a
     * configuration error: calls answer UNKNOWN until it is back */
    if (make_prefix(z, &why) < 0) {
        if (why.code != DROVER_ERR_UNREACHABLE) {
            dv_err_copy(err, &why);
            zk_close(&z->base);
            return -1;
        }
        dv_warn("zk: %s", why.message);
    }
    *out = &z->base;
    return 0;
}

const dv_sg_ops dv_sg_zk_ops = {
    .version = DV_SG_OPS_VERSION,
    .name = "zk",
    .open = zk_open,
    .close = zk_close,
    .join = zk_join,
    .heartbeat = zk_heartbeat,
    .is_up = zk_is_up,
    .get_all = zk_get_all,
    .get_states = zk_get_states,
    .get = zk_get,
    .leave = zk_leave,
    .set_disabled = zk_set_disabled,
    .set_forced_down = zk_set_forced_down,
};
