/* mc.h - the `mc` servicegroup driver on memcached (libmemcached): what its
 * files share.  mc_ops.c is the table; one file per concern beside it.
 *
 * Storage
 *   A member is the key "drover:<group>:<host>" (a 128-bit hash of the pair
 *   when that would pass memcached's 250-byte key limit) with the TTL
 *   service_down_time + 1 s, whose value is "dv1 <ms> <group> <host>\n"
 *   followed by the last host report (JSON).  The +1 s: memcached counts
 *   time in whole seconds, so a TTL of T lives between T-1 and T seconds;
 *   T + 1 makes a key outlive service_down_time, never fall short of it.
 *   Servers: servicegroup.mc.servers with consistent (ketama) hashing, the
 *   binary protocol, poll and connect timeouts of mc.poll_timeout_ms and a
 *   failed server left alone for mc.retry_timeout_s.  Never auto-eject: a
 *   key moved to another server would not be there, and read as DOWN.
 *
 *   Members: memcached cannot list its keys, and agents (droverd on each
 *   compute host) and readers (the controller, `drover service list`) run
 *   on different machines, each with its own state database (state.path,
 *   core/statedb.h).  So the member list lives in two places:
 *   - an index in memcached: per group and server, IDX_SHARDS keys with no
 *     TTL (names found at open time, like the markers, that hash to that
 *     server), each a list of "+host\n" (member) and "-host\n" (left)
 *     entries; the last entry for a host wins.  A host's shard is on the
 *     server of its member key, so a server that loses its keys loses
 *     both, and the agent's next heartbeat (key missing) writes both again.
 *     Writers append (created with add when missing); join appends "+",
 *     so does a heartbeat that finds its key missing, leave appends "-".
 *     Each shard has a stamp key, set after every append: a sweep reads
 *     the stamps and fetches only shards whose stamp changed.  A shard
 *     mostly made of superseded entries is rewritten with CAS as one entry
 *     per host (tombstones kept) by the reader that finds it so, and by a
 *     writer whose append memcached refuses for its item size limit.
 *   - each process's state database, which remembers every member it ever
 *     saw in the index (until the index says it left): a reader's sweep
 *     merges changed shards into it, and is_up/get/leave/admin calls read
 *     the host's shard first when the database does not know the host.
 *     After a memcached restart the index is empty until the agents
 *     heartbeat again, and the database still lists every member (UNKNOWN,
 *     then UP or DOWN by the rules below), never drops one.
 *   Admin state (disabled, forced_down) belongs to the controller's state
 *   database (DESIGN.md): set and read where the CLI and controller run.
 *   An agent's heartbeat never reads it.  A leave while memcached cannot
 *   be reached is not seen by other readers (they list the member DOWN
 *   until it leaves again); tombstones vanish with a server restart, so a
 *   reader that never swept between a leave and a restart keeps the member
 *   likewise.  An index key evicted for lack of memory (-m) is not rebuilt
 *   until its members' keys are missing too.
 *   memcached must have room for every key (-m): an evicted member key
 *   reads as DOWN, like one that expired.  Every process of a deployment
 *   must list the same servers, or keys hash to different ones.
 *
 * Liveness
 *   forced_down                      DOWN (admin state; memcached not asked)
 *   key present                      UP
 *   server could not be asked        UNKNOWN (is_up: DROVER_ERR_UNREACHABLE)
 *   key missing, server answered     DOWN, unless the server lost its keys
 *                                    less than service_down_time ago: UNKNOWN
 *
 * Knowing that a server lost its keys (restart, flush_all, eviction) is the
 * point of this driver: Nova's memcached driver calls every host DOWN after
 * a memcached restart until each heartbeats again.  Each server carries two
 * marker keys that hash to it (names found at open time):
 *   epoch  no TTL: "this server has held drover's keys since then";
 *   fresh  TTL service_down_time + 1 s, created together with epoch.
 * Whoever finds a server without its epoch marker - a reader's multi-get or
 * an agent's heartbeat whose key is missing - first adds fresh, then epoch
 * (add: the first writer wins; fresh first, so epoch never exists without
 * fresh having been set in the same life of the server).  A server whose
 * epoch is missing or whose fresh marker still exists therefore lost its
 * keys less than service_down_time ago, and a missing key there means
 * "not heard from since", not "dead": UNKNOWN.  This treats a restarted
 * server as though every member had heartbeated the moment drover first
 * found it empty; from then on the ordinary rule holds.  A member whose
 * agent lives writes again within report_interval (< service_down_time),
 * so it is UP again long before fresh expires and is never reported DOWN; a
 * member whose agent died is DOWN once fresh expires: service_down_time
 * (+ up to 1 s) after the first contact with the restarted server.  Agents'
 * writes ignore libmemcached's retry back-off (the handle is rebuilt and the
 * write tried again at once), so a live agent's first heartbeat after the
 * restart is not delayed by mc.retry_timeout_s; readers keep the back-off,
 * so a dead server answers UNKNOWN at once instead of costing a timeout.
 *
 * Summaries
 *   Each heartbeat also writes the report's placement summary (core/report.h)
 *   under a second key, "dvsum:<group>:<host>" (mc_summary_key), on the
 *   member key's server and with the same TTL, value "dv1 <ms> <group>
 *   <host>\n" then: the summary; "X\n" for a report that does not decode;
 *   nothing when there is no report.  get_summaries multi-gets these alone
 *   (a tenth of the bytes, nothing parsed as JSON) and judges liveness by
 *   them as get_all does by the member keys; a member whose summary key is
 *   missing (an agent of the earlier version, or not alive) or does not read
 *   is asked again by its member key and summarised from its report.
 *
 * A missing key is only trusted when the multi-get that missed it ran on
 * that server without any error: libmemcached silently drops keys whose
 * request failed and reconnects for the next ones, so after an error an
 * absence proves nothing (UNKNOWN).  That is why get_all asks each server
 * apart: an error is then known to concern that one server.  It asks with
 * multi-gets of up to 48 KiB of requests (~800 members), not one for all:
 * libmemcached sends a whole multi-get before reading any answer, and one
 * larger than the socket buffers can hold deadlocks against a server whose
 * answers fill them (seen with 100,000 members).  Every batch carries the
 * server's two markers and is judged on its own, so a restart between two
 * batches cannot turn the later batch's missing keys into DOWN.
 */
#ifndef DV_DRIVERS_MC_H
#define DV_DRIVERS_MC_H

#include "core/hash.h"
#include "core/log.h"
#include "core/model.h"
#include "core/report.h"
#include "core/statedb.h"
#include "drivers/admin.h"
#include "drivers/servicegroup.h"

#include <errno.h>
#include <inttypes.h>
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MC_DEFAULT_PORT 11211
#define KEY_PREFIX "drover"
#define KEY_MAX 250                 /* memcached's limit on a key */
#define VALUE_MAGIC "dv1 "
#define SUM_PREFIX "dvsum"              /* summary keys: in place of KEY_PREFIX */
#define SUM_UNDECODABLE "X\n"          /* a summary value's body: the report does not decode */
#define MARKER_SEARCH 100000        /* names tried to find a marker hashing to a server */
#define IDX_SHARDS 64               /* index keys per server and group */
#define IDX_COMPACT_BYTES (64 * 1024) /* a shard above this, mostly superseded, is rewritten */

typedef struct mc_server {
    char *addr;                     /* as configured, for messages */
    char fresh[48], epoch[48];      /* marker keys that hash to this server */
    memcached_return_t cause;       /* why it last failed; SUCCESS once it answers */
} mc_server;

typedef struct mc_sg {
    dv_sg base;
    const dv_config *cfg;
    memcached_st *mc;
    dv_statedb *db;                 /* the member list: this machine's cache */
    sg_admin admin;                 /* admin state: the state store */
    mc_server *srv;
    uint32_t n_srv;
    time_t ttl;                     /* service_down_time + 1 */
    dv_report_decoder *dec;         /* json-c's parser, kept for every report read */
    char *idx_group;                /* the group whose index names are below */
    char (*idx_name)[KEY_MAX + 1];  /* n_srv * IDX_SHARDS shard keys (see idx_names) */
    char (*idx_vname)[KEY_MAX + 1]; /* the stamp key of each shard, on the same server */
    uint64_t *idx_cas;              /* CAS of each shard when last merged; 0: never */
    uint64_t *idx_seen;             /* its stamp then; 0: none */
} mc_sg;

/* What one server told us in one multi-get. */
typedef enum answer {
    ANS_NONE,                       /* could not be asked (or an error spoiled the answer) */
    ANS_STEADY,                     /* answered; has held our keys for a while */
    ANS_FRESH                       /* answered; lost its keys less than service_down_time ago */
} answer;

static inline mc_sg *mc_me(dv_sg *sg)
{
    return (mc_sg *)sg;
}

static inline int mc_nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_MC, "out of memory");
}

/* mc_config.c: the servicegroup.mc section */
extern const dv_config_section mc_config_section;

/* mc_conn.c: the handle, and errors that name their cause */
bool mc_is_auth(memcached_return_t rc);
void mc_note(mc_sg *m, uint32_t s, memcached_return_t rc);
int mc_fail(mc_sg *m, uint32_t s, memcached_return_t rc, const char *what, drover_error *err);
const char *mc_cause_text(mc_sg *m, uint32_t s, memcached_return_t rc, char *buf, size_t sz);
int mc_build(mc_sg *m, memcached_st **out, drover_error *err);
int mc_rebuild(mc_sg *m, drover_error *err);
/* The real cause of a reset on a server that wants SASL (mc_conn.c). */
memcached_return_t mc_reset_cause(mc_sg *m, uint32_t s, memcached_return_t why);

/* mc_codec.c: keys and values */
size_t mc_member_key(char *buf, const char *group, const char *host);
size_t mc_summary_key(char *buf, const char *group, const char *host);
uint32_t mc_server_of(mc_sg *m, const char *key, size_t len);

/* Where a member lives: its key and the server the key hashes to. */
typedef struct mc_place {
    char key[KEY_MAX + 1];
    size_t klen;
    uint32_t s;
} mc_place;

void mc_place_of(mc_sg *m, const char *group, const char *host, mc_place *p);
char *mc_value_make(int64_t now, const char *group, const char *host, const char *report,
                    size_t report_len, size_t *len);

typedef struct mc_parsed {
    int64_t ts;
    const char *report;             /* points into the value; not NUL-terminated */
    size_t report_len;
} mc_parsed;

bool mc_value_parse(const char *v, size_t len, const char *group, const char *host,
                    mc_parsed *out);

/* mc_markers.c */
int mc_find_marker(mc_sg *m, const char *kind, uint32_t s, char *out, size_t outsz,
                   drover_error *err);
memcached_return_t mc_claim_markers(mc_sg *m, uint32_t s);
memcached_return_t mc_ensure_markers(mc_sg *m, uint32_t s);

/* mc_batch.c */
typedef void (*mc_hit_fn)(void *ctx, size_t j, const char *value, size_t len);
int mc_ask(mc_sg *m, uint32_t s, const char *const *keys, const size_t *lens, size_t n,
           mc_hit_fn on_hit, void *ctx, answer *verdict, memcached_return_t *why);
drover_liveness mc_judge(bool forced_down, bool present, answer a);

/* mc_index.c */
size_t mc_idx_slot(mc_sg *m, const char *host, uint32_t s);
memcached_return_t mc_idx_put(mc_sg *m, const char *group, const char *host, uint32_t s,
                              char op);
int mc_idx_sync(mc_sg *m, const char *group, size_t slot, drover_error *err);
int mc_need_member(mc_sg *m, const char *group, const char *host, drover_error *err);

/* mc_write.c and mc_read.c: the operations */
int mc_join(dv_sg *sg, const char *group, const char *host, drover_error *err);
int mc_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                 drover_error *err);
int mc_leave(dv_sg *sg, const char *group, const char *host, drover_error *err);
int mc_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                    const char *reason, drover_error *err);
int mc_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                       drover_error *err);
int mc_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
             drover_error *err);
int mc_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
           drover_error *err);
int mc_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
               drover_error *err);
int mc_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                  drover_error *err);
/* The members (sorted) with admin state merged in, state UNKNOWN. */
int mc_members_from_db(mc_sg *m, const char *group, drover_member **out, size_t *n,
                       drover_error *err);
int mc_member_keys(const char *group, const drover_member *v, size_t nm, bool summary,
                   char **arena_out, char ***key_out, size_t **klen_out);

/* mc_summary.c */
int mc_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                     drover_error *err);

#endif
