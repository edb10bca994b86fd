/* zkc.h - one ZooKeeper session, as drover uses it: the zk servicegroup
 * driver (drivers/zk/) and the zk state store (store/zk*.c) both keep their
 * session through this, so they connect, authenticate, wait and fail alike.
 *
 *  - a handle made with quiet client logging and host names resolved only
 *    when the connection is lost, digest credentials queued before any
 *    request (the client sends them again on reconnect);
 *  - every call waits for a connected session for at most wait_ms
 *    (session_timeout_ms, at least 1 s) counted from when the connection
 *    was lost: a leader election is bridged, a dead ensemble costs one
 *    wait per outage, then DROVER_ERR_UNREACHABLE;
 *  - an expired session, or a handle that could not reconnect for
 *    stale_ms (a server rebuilt on empty data refuses clients that saw
 *    newer transactions), is replaced by a new one (gen grows);
 *  - digest auth "user:password" gives nodes creator-all + world-read ACLs;
 *    the password is never logged nor put in a message;
 *  - ZooKeeper results become drover errors the same way.
 *
 * It depends on core/ only, so drivers/ and store/ both build on it and
 * neither on the other's ZooKeeper code (drivers -> store -> zkc -> core;
 * drivers/zk -> zkc). */
#ifndef DV_ZKC_H
#define DV_ZKC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "core/error.h"

typedef struct dv_zkc {
    zhandle_t *zh;
    char *hosts;
    char *auth;            /* "user:password" or NULL; never logged */
    char *user;            /* the part before ':' for messages */
    const char *who;       /* what messages start with: "" or "state store: " */
    int session_ms, wait_ms, stale_ms;
    struct ACL secure[2];
    struct ACL_vector secure_acl;
    struct ACL_vector *acl;    /* what the nodes made get */
    uint64_t gen;          /* handles made so far */

    pthread_mutex_t mu;    /* the fields below are also written by the client's thread */
    pthread_cond_t cv;
    int64_t down_since;    /* monotonic ms the connection was lost; 0 while connected */
    int64_t up_since;      /* monotonic ms the connection was (re)established */
    int64_t born;          /* monotonic ms the handle was made */
    bool expired;
} dv_zkc;

/* Check hosts, session_ms (100..600000) and auth, and take them; no handle
 * yet (dv_zkc_handle_new).  who is kept (a string literal). */
int dv_zkc_init(dv_zkc *c, const char *hosts, int session_ms, const char *auth,
                const char *who, drover_error *err);
/* Close the handle and forget everything (the password wiped). */
void dv_zkc_fini(dv_zkc *c);

/* A new handle (a new session).  keep_down: the outage goes on, so the time
 * callers may still wait is not renewed. */
int dv_zkc_handle_new(dv_zkc *c, bool keep_down, drover_error *err);
void dv_zkc_handle_close(dv_zkc *c);

/* A connected session: waits as the rules above say, replacing an expired
 * or stale handle (with a warning in the log).  -1: DROVER_ERR_UNREACHABLE. */
int dv_zkc_ready(dv_zkc *c, drover_error *err);

/* What a call's result says about the session. */
bool dv_zkc_conn_lost(int zrc);
bool dv_zkc_session_gone(int zrc);
void dv_zkc_mark_down(dv_zkc *c);
void dv_zkc_mark_expired(dv_zkc *c);

/* After a call returned zrc: true when it should be tried again (the
 * connection was lost, or the session is gone and will be replaced);
 * dv_zkc_ready bounds the outage. */
bool dv_zkc_again(dv_zkc *c, int zrc);

int64_t dv_zkc_session_id(dv_zkc *c);

/* A ZooKeeper result as a drover error; what is the verb. */
int dv_zkc_fail(const dv_zkc *c, int zrc, const char *what, const char *path,
                drover_error *err);

/* Call make(arg, p, last) for every ancestor of path and path itself, from
 * the top ("/a", "/a/b", "/a/b/c"); stops at the first that fails. */
int dv_zkc_each_prefix(const char *path, int (*make)(void *arg, const char *p, bool last),
                       void *arg, drover_error *err);

#endif
