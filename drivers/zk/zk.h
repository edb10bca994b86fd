/* zk.h - the "zk" servicegroup driver: a member is alive while its
 * ZooKeeper session is.  What its files share; zk_ops.c is the table.
 *
 * Layout in ZooKeeper (servicegroup.zk.prefix, "/drover" by default):
 *   <prefix>                  persistent
 *   <prefix>/<group>          persistent
 *   <prefix>/<group>/<host>   EPHEMERAL; its data is the member's last report:
 *                             "dvs1 <L>\n", the report's placement summary
 *                             (L bytes, core/report.h; L 0: the report does
 *                             not decode), then the report's JSON.  A node
 *                             of an earlier version holds the JSON alone.
 *   <prefix>/.signs/<group>/<shard>/<host> <summary>
 *                             EPHEMERAL, empty: the same summary in a node's
 *                             name, written with the member's node in one
 *                             multi-op, so that get_summaries is one
 *                             getChildren (zk_signs.c).
 * The summary rides in the member's own node too: ZooKeeper's cost is per
 * request, hardly per byte (a read of 300 bytes costs the server as much as
 * one of 1.1 KiB), so a node read for a member without a sign costs no more
 * for it.  get_summaries takes the signs, reads the nodes of live members
 * without one, decodes summaries as the answers arrive and never parses a
 * report's JSON (but for nodes of the earlier version).
 * An ephemeral node lives exactly as long as the session that made it, so a
 * member whose agent dies, hangs or is cut off past the session timeout
 * disappears without anyone sweeping.  The ZooKeeper client keeps the session
 * alive on its own (its pings are the heartbeats); a heartbeat call only
 * refreshes the report.  So a live member's last_seen is the time of the
 * answer, and a liveness sweep (get_states) is one getChildren; get_all adds
 * the reports with pipelined asynchronous reads.
 *
 * What ZooKeeper's children cannot say: the hosts seen in a group live in
 * this machine's state db (state.path), a cache so that a vanished node
 * reads DOWN rather than "never heard of"; the admin state (disabled,
 * forced_down) lives in the state store (drivers/admin.h), shared by every
 * machine (with state.backend "auto" that is ZooKeeper too, under
 * <prefix>/.state).  The session itself is zkc/'s, the one the zk state
 * store keeps as well.
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
#ifndef DV_DRIVERS_ZK_H
#define DV_DRIVERS_ZK_H

#include "core/hash.h"
#include "drivers/admin.h"
#include "drivers/servicegroup.h"
#include "zkc/zkc.h"
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

/* How many times one call may be retried across connection losses. */
#define ZK_MAX_ATTEMPTS 50

/* A member this handle joined: made again after a session is replaced. */
typedef struct zk_member {
    char *path;
    char *data;            /* the last report; NULL = none known */
    int len;
    uint64_t gen;          /* the handle whose session made the node; 0 = none */
    int64_t beat_ms;       /* monotonic ms of the last join or heartbeat call */
    bool withdrawn;        /* its node was deleted for want of heartbeats */
    char *sign_dir;        /* <prefix>/.signs/<group> (zk_signs.c) */
    char *sign_on;         /* the path of the sign our session made; NULL = none */
    uint64_t sign_gen;     /* the handle whose session made it */
    bool sign_failed;      /* the last attempt to write it failed (told once) */
} zk_member;

typedef struct zk_sg {
    dv_sg base;
    dv_zkc zc;             /* the session: handle, auth, ACLs, waiting (zkc/) */
    char *prefix;
    dv_statedb *db;        /* the member list: this machine's cache */
    sg_admin admin;        /* admin state: the state store */
    dv_map joined;         /* key -> zk_member */
    dv_map known;          /* keys known to be in the state db's member list */
    dv_map ready;          /* group paths whose node exists */
    uint64_t nodes_gen;    /* the handle whose session holds our joined nodes */
    bool remaking;         /* zk_remake_joined() runs: do not recurse */
    int64_t down_ms;       /* service_down_time */
    dv_report_decoder *dec; /* json-c's parser, kept for every report read or summarised */

    /* Every operation holds op_mu, and so does the watchdog when it acts. */
    pthread_mutex_t op_mu;
    pthread_cond_t stop_cv;
    pthread_t watchdog;
    bool watchdog_on, stopping;
} zk_sg;

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
    const char *sign_old, *sign_new;   /* zk_call_set_signed */
} zk_op;

typedef int (*zk_call)(zk_sg *z, zk_op *op);

/* A batch of pipelined reads (zk_fetch.c). */
typedef struct zk_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
} zk_batch;

typedef struct zk_fetch {
    zk_batch *batch;
    const char *path;
    int rc;                /* ZooKeeper result; ZNOTHING until asked */
    char *data;            /* NUL-terminated copy; NULL when empty or summarised */
    int len;
    struct Stat stat;
    /* get_summaries: a node's summary is decoded into arena as it arrives
     * (the client's completion thread; the caller waits meanwhile), and
     * data is then not copied.  A node without one keeps its data. */
    dv_arena *arena;
    bool instances;
    bool summarised;
    bool from_sign;        /* sum came from the member's sign: no read */
    dv_member_summary sum;
} zk_fetch;

/* zk_config.c: the servicegroup.zk section */
extern const dv_config_section zk_config_section;

static inline zk_sg *zk_me(dv_sg *sg)
{
    return (zk_sg *)sg;
}

static inline int zk_nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
}

/* zk_session.c */
void zk_member_free(void *p);
char *zk_printf(const char *fmt, ...) DV_PRINTF(1, 2);
int zk_fail(const zk_sg *z, int zrc, const char *what, const char *path, drover_error *err);
int zk_ensure_session(zk_sg *z, drover_error *err);
int zk_run(zk_sg *z, zk_call call, zk_op *op, int *zrc, drover_error *err);
int zk_call_exists(zk_sg *z, zk_op *op);
int zk_call_create(zk_sg *z, zk_op *op);
int zk_call_set(zk_sg *z, zk_op *op);
int zk_call_delete(zk_sg *z, zk_op *op);
int zk_call_children(zk_sg *z, zk_op *op);
int zk_call_get_acl(zk_sg *z, zk_op *op);
int zk_call_set_acl(zk_sg *z, zk_op *op);
int zk_call_take_over(zk_sg *z, zk_op *op);
int64_t zk_my_session(zk_sg *z);

/* zk_nodes.c */
int zk_make_prefix(zk_sg *z, drover_error *err);
char *zk_group_path(const zk_sg *z, const char *group);
char *zk_member_path(const zk_sg *z, const char *group, const char *host);
int zk_group_check(const char *group, drover_error *err);
int zk_ensure_group(zk_sg *z, const char *group, drover_error *err);
int zk_remake_group(zk_sg *z, const char *member, drover_error *err);
int zk_put_member(zk_sg *z, zk_member *m, drover_error *err);
int zk_remake_joined(zk_sg *z, drover_error *err);

int zk_make_persistent(zk_sg *z, const char *path, bool guard, drover_error *err);

/* zk_fetch.c */
void zk_batch_init(zk_batch *b);
void zk_batch_ask(zk_batch *b, size_t window);
void zk_batch_answered(zk_batch *b, size_t window);
void zk_batch_wait(zk_batch *b);
int zk_fetch_all(zk_sg *z, zk_fetch *fs, size_t n, drover_error *err);

/* zk_summary.c */
#define ZK_SUM_MAGIC "dvs1 "
int zk_value_make(zk_sg *z, const char *json, char **out, int *len, drover_error *err);
/* Split a node's data: false when it starts like a summary but its header
 * does not read (*json then NULL).  Data of the earlier version: no
 * summary (*sum NULL), all of it JSON. */
bool zk_value_split(const char *data, size_t len, const char **sum, size_t *sum_len,
                    const char **json, size_t *json_len);
bool zk_fetch_summarise(zk_fetch *f, const char *value, int len);
int zk_op_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                        drover_error *err);

/* zk_signs.c: a member's summary in the name of an ephemeral node */
char *zk_sign_encode(const char *host, const char *sum, size_t sum_len);
/* 0 with ms decoded into a (its host the name's, *host_len bytes), or -1
 * for a name that is not a sign of a summary that reads. */
int zk_sign_decode(dv_arena *a, const char *name, bool instances, size_t *host_len,
                   dv_member_summary *ms);
char *zk_signs_path(const zk_sg *z, const char *group);
unsigned zk_sign_shard(const char *host);     /* 0..63: its sign's shard */
char *zk_sign_dir(const zk_sg *z, const char *group, const char *host);
char *zk_sign_wanted(const zk_member *m);
void zk_sign_forget(zk_member *m);
int zk_call_set_signed(zk_sg *z, zk_op *op);
void zk_sign_sync(zk_sg *z, zk_member *m);
struct zk_listing;
void zk_read_signs(zk_sg *z, const char *group, struct zk_listing *l, dv_arena *arena,
                   bool instances);

/* zk_list.c */
char *zk_key_of(const char *group, const char *host);
int zk_learn(zk_sg *z, const char *group, const char *host, drover_error *err);
char **zk_find_str(const char *key, char **v, size_t n);
void zk_sort_strs(char **v, size_t n);
int zk_is_known(zk_sg *z, const char *group, const char *host, bool *known, drover_error *err);
/* What list_group gathered: the group's live nodes (sorted) and what was
 * read of them, the state db's members and the admin state. */
typedef struct zk_listing zk_listing;
struct zk_listing {
    struct String_vector kids;     /* live nodes, sorted */
    bool reachable;
    drover_error why;              /* when not reachable */
    char **known;                  /* the state db's member list */
    size_t n_known;
    dv_admin *admin;
    size_t n_admin;
    zk_fetch *fetch;               /* one per kid */
    char **paths;
};

/* reports: read every node (into arena's summaries when arena is set) */
int zk_list_group(zk_sg *z, const char *group, bool reports, dv_arena *arena, bool instances,
                  zk_listing *l, drover_error *err);
void zk_listing_free(zk_listing *l);
char **zk_listing_hosts(const zk_listing *l, size_t *n);
zk_fetch *zk_listing_find(const zk_listing *l, const char *host);
drover_liveness zk_state_of(const zk_fetch *f, const dv_admin *a);
int zk_op_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                  drover_error *err);
int zk_op_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                     drover_error *err);
int zk_op_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
              drover_error *err);
int zk_op_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                drover_error *err);

/* zk_members.c */
int zk_op_join(dv_sg *sg, const char *group, const char *host, drover_error *err);
int zk_op_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                    drover_error *err);
int zk_op_leave(dv_sg *sg, const char *group, const char *host, drover_error *err);
int zk_need_member(zk_sg *z, const char *group, const char *host, drover_error *err);
int zk_op_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                       const char *reason, drover_error *err);
int zk_op_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                          drover_error *err);

/* zk_watchdog.c */
void zk_watchdog_start(zk_sg *z);
void zk_watchdog_stop(zk_sg *z);
#endif
