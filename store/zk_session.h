/* zk_session.h - the zk state store's ZooKeeper session: zkc/'s session
 * (the one the zk driver keeps too: the same connection settings
 * servicegroup.zk, digest credentials and ACLs, bounded wait, expired
 * sessions replaced, error mapping), and ZS_RUN, the store's way to call
 * ZooKeeper with it. */
#ifndef DV_STORE_ZK_SESSION_H
#define DV_STORE_ZK_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "zkc/zkc.h"

/* zrc after ZS_RUN when no session could be had (err is set). */
#define ZS_UNREACHABLE (-10000)

typedef dv_zkc zs_session;

static inline int zs_open(zs_session *z, const char *hosts, int session_ms, const char *auth,
                          drover_error *err)
{
    if (dv_zkc_init(z, hosts, session_ms, auth, "state store: ", err) < 0)
        return -1;
    return dv_zkc_handle_new(z, false, err);
}

static inline void zs_close(zs_session *z)
{
    dv_zkc_fini(z);
}

/* A connected session (zkc.h's rules); -1: DROVER_ERR_UNREACHABLE. */
static inline int zs_ready(zs_session *z, drover_error *err)
{
    return dv_zkc_ready(z, err);
}

/* After a call returned zrc: true when it should be tried again. */
static inline bool zs_again(zs_session *z, int zrc, drover_error *err)
{
    (void)err;
    return zrc != ZS_UNREACHABLE && dv_zkc_again(z, zrc);
}

static inline int64_t zs_session_id(zs_session *z)
{
    return dv_zkc_session_id(z);
}

/* A ZooKeeper result as a drover error; what is the verb. */
static inline int zs_fail(const zs_session *z, int zrc, const char *what, const char *path,
                          drover_error *err)
{
    if (zrc == ZS_UNREACHABLE)
        return -1;   /* err set by zs_ready */
    return dv_zkc_fail(z, zrc, what, path, err);
}

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

#endif
