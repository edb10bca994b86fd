/* zk_session.h - the zk state store's ZooKeeper session: connect with the
 * zk driver's settings (servicegroup.zk: hosts, session_timeout_ms, auth),
 * digest credentials and ACLs, wait for a connection for a bounded time,
 * replace an expired session.
 *
 * Duplicated, by design for now, with drivers/sg_zk.c (being moved to
 * drivers/zk/): the session watcher, the bounded wait, the auth parsing
 * and ACLs, the error mapping.  To be folded into one helper after the
 * merge. */
#ifndef DV_STORE_ZK_SESSION_H
#define DV_STORE_ZK_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "core/error.h"

typedef struct zs_session {
    zhandle_t *zh;
    char *hosts;
    char *auth;            /* "user:password" or NULL; never logged */
    char *user;
    int session_ms, wait_ms;
    struct ACL secure[2];
    struct ACL_vector secure_acl;
    struct ACL_vector *acl;    /* what the store's nodes get */
    uint64_t gen;          /* sessions made so far: a new one after an expiry */

    pthread_mutex_t mu;    /* the fields below are also written by the client's thread */
    pthread_cond_t cv;
    int64_t down_since;    /* monotonic ms the connection was lost; 0 while connected */
    bool expired;
} zs_session;

int zs_open(zs_session *z, const char *hosts, int session_ms, const char *auth,
            drover_error *err);
void zs_close(zs_session *z);

/* A connected session, waiting at most wait_ms (session_timeout_ms, at
 * least 1 s) counted from when the connection was lost; an expired session
 * is replaced (z->gen grows).  -1: DROVER_ERR_UNREACHABLE. */
int zs_ready(zs_session *z, drover_error *err);

/* After a call returned zrc: true when it should be tried again (the
 * connection was lost or the session replaced and the outage is not over
 * its bound).  On false with zrc a connection error, err is set. */
bool zs_again(zs_session *z, int zrc, drover_error *err);

int64_t zs_session_id(zs_session *z);

/* A ZooKeeper result as a drover error; what is the verb. */
int zs_fail(const zs_session *z, int zrc, const char *what, const char *path,
            drover_error *err);

/* Run expr (a ZooKeeper call yielding zrc) with a ready session, again
 * across lost connections.  Leaves -1 in zrc_var's place of rc on an
 * outage (err set). */
#define ZS_RUN(z, zrc, expr, err)                                     \
    do {                                                             \
        int zs_n_ = 0;                                               \
        do {                                                         \
            if (zs_ready((z), (err)) < 0) {                          \
                (zrc) = ZS_UNREACHABLE;                              \
                break;                                               \
            }                                                        \
            (zrc) = (expr);                                          \
        } while (zs_again((z), (zrc), (err)) && ++zs_n_ < 50);       \
    } while (0)

/* zrc after ZS_RUN when no session could be had (err is set). */
#define ZS_UNREACHABLE (-10000)

#endif
