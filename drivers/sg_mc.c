/* sg_mc.c - the `mc` servicegroup driver on memcached (libmemcached).
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
#include "core/log.h"
#include "core/model.h"
#include "core/report.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"

#include <errno.h>
#include <inttypes.h>
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_PREFIX "drover"
#define KEY_MAX 250                 /* memcached's limit on a key */
#define VALUE_MAGIC "dv1 "
#define REPORT_MAX (1000 * 1000)    /* memcached stores items up to 1 MiB by default */
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
    dv_statedb *db;
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

static mc_sg *me(dv_sg *sg)
{
    return (mc_sg *)sg;
}

static int nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_MC, "out of memory");
}

/* ---------------------------------------------------------------- errors */

static bool is_auth(memcached_return_t rc)
{
    return rc == MEMCACHED_AUTH_FAILURE || rc == MEMCACHED_AUTH_PROBLEM ||
           rc == MEMCACHED_AUTH_CONTINUE;
}

static bool is_backoff(memcached_return_t rc)
{
    return rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD;
}

/* Remember why server s failed (or that it answered).  Once libmemcached
 * puts a server in back-off it only says "disabled", which would hide the
 * reason (refused credentials, connection refused, timeout). */
static void note(mc_sg *m, uint32_t s, memcached_return_t rc)
{
    if (s >= m->n_srv)
        return;
    if (rc == MEMCACHED_SUCCESS)
        m->srv[s].cause = MEMCACHED_SUCCESS;
    else if (!is_backoff(rc))
        m->srv[s].cause = rc;
}

/* Fill err for a failed memcached operation on server s. */
static int mc_fail(mc_sg *m, uint32_t s, memcached_return_t rc, const char *what,
                   drover_error *err)
{
    const char *user = m->cfg->servicegroup.mc.username;
    const char *addr = s < m->n_srv ? m->srv[s].addr : "(no server)";
    memcached_return_t cause = rc;
    int e = 0;

    note(m, s, rc);
    if (is_backoff(rc) && s < m->n_srv && m->srv[s].cause != MEMCACHED_SUCCESS)
        cause = m->srv[s].cause;
    if (is_auth(cause)) {
        if (!user || !*user)
            return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_MC,
                          "%s: memcached %s requires SASL authentication: set "
                          "servicegroup.mc.username and password", what, addr);
        return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_MC,
                      "%s: memcached %s: authentication failed for user \"%s\" (check "
                      "servicegroup.mc.username and password)", what, addr, user);
    }
    if (cause == MEMCACHED_E2BIG)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_MC,
                      "%s: memcached %s refused the value as too large (its item size limit, -I)",
                      what, addr);
    if (cause == rc && (rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_ERRNO ||
                        rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE))
        e = memcached_last_error_errno(m->mc);
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC,
                  "%s: cannot reach memcached %s: %s%s%s%s", what, addr,
                  memcached_strerror(m->mc, cause), e ? " (" : "", e ? strerror(e) : "",
                  e ? ")" : "");
}

/* The reason server s could not be asked, for messages (into buf). */
static const char *cause_text(mc_sg *m, uint32_t s, memcached_return_t rc, char *buf, size_t sz)
{
    int e = 0;

    if (is_backoff(rc) && m->srv[s].cause != MEMCACHED_SUCCESS)
        rc = m->srv[s].cause;
    else if (rc == MEMCACHED_ERRNO || rc == MEMCACHED_CONNECTION_FAILURE ||
             rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE)
        e = memcached_last_error_errno(m->mc);
    if (rc == MEMCACHED_ERRNO && !e)
        snprintf(buf, sz, "the connection broke");
    else
        snprintf(buf, sz, "%s%s%s%s", memcached_strerror(m->mc, rc), e ? " (" : "",
                 e ? strerror(e) : "", e ? ")" : "");
    return buf;
}

/* ---------------------------------------------------------------- keys */

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The member's key into buf (KEY_MAX + 1 bytes); returns its length.  Names
 * hold no spaces or control characters (dv_name_check), so keys are valid
 * in either protocol; a pair too long for a key is hashed (the value names
 * the pair, and reads check it). */
static size_t member_key(char *buf, const char *group, const char *host)
{
    int n = snprintf(buf, KEY_MAX + 1, KEY_PREFIX ":%s:%s", group, host);
    uint64_t a, b;

    if (n > 0 && n <= KEY_MAX)
        return (size_t)n;
    a = fnv1a(host, strlen(host) + 1, fnv1a(group, strlen(group) + 1, 0xcbf29ce484222325ULL));
    b = fnv1a(host, strlen(host) + 1, fnv1a(group, strlen(group) + 1, 0x84222325cbf29ce4ULL));
    return (size_t)snprintf(buf, KEY_MAX + 1, KEY_PREFIX ":#%016" PRIx64 "%016" PRIx64, a, b);
}

static uint32_t server_of(mc_sg *m, const char *key, size_t len)
{
    return m->n_srv == 1 ? 0 : memcached_generate_hash(m->mc, key, len);
}

/* A marker name "drover:<kind>:<i>" that hashes to server s. */
static int find_marker(mc_sg *m, const char *kind, uint32_t s, char *out, size_t outsz,
                       drover_error *err)
{
    for (unsigned i = 0; i < MARKER_SEARCH; i++) {
        int n = snprintf(out, outsz, KEY_PREFIX ":%s:%u", kind, i);
        if (server_of(m, out, (size_t)n) == s)
            return 0;
    }
    return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC,
                  "no %s marker key hashes to memcached %s", kind, m->srv[s].addr);
}

/* ---------------------------------------------------------------- values */

/* "dv1 <ms> <group> <host>\n<report>"; malloc'ed, *len set. */
static char *value_make(int64_t now, const char *group, const char *host, const char *report,
                        size_t report_len, size_t *len)
{
    size_t cap = 48 + strlen(group) + strlen(host) + report_len;
    char *v = malloc(cap);
    int n;

    if (!v)
        return NULL;
    n = snprintf(v, cap, VALUE_MAGIC "%" PRId64 " %s %s\n", now, group, host);
    if (n < 0 || (size_t)n + report_len >= cap) {
        free(v);
        return NULL;
    }
    memcpy(v + n, report, report_len);
    v[n + report_len] = '\0';
    *len = (size_t)n + report_len;
    return v;
}

typedef struct parsed {
    int64_t ts;
    const char *report;             /* points into the value; not NUL-terminated */
    size_t report_len;
} parsed;

/* Match "word " or "word\n" at *p (bounded by end). */
static bool eat_word(const char **p, const char *end, const char *word, char stop)
{
    size_t n = strlen(word);

    if ((size_t)(end - *p) < n + 1 || memcmp(*p, word, n) != 0 || (*p)[n] != stop)
        return false;
    *p += n + 1;
    return true;
}

/* Parse a value read back for (group, host); false if it is not ours. */
static bool value_parse(const char *v, size_t len, const char *group, const char *host,
                        parsed *out)
{
    const char *p = v, *end = v + len;
    int64_t ts = 0;
    int digits = 0;

    if (len < sizeof VALUE_MAGIC || memcmp(v, VALUE_MAGIC, sizeof VALUE_MAGIC - 1) != 0)
        return false;
    p += sizeof VALUE_MAGIC - 1;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        ts = ts * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || p == end || *p++ != ' ' || !eat_word(&p, end, group, ' ') ||
        !eat_word(&p, end, host, '\n'))
        return false;
    out->ts = ts;
    out->report = p;
    out->report_len = (size_t)(end - p);
    return true;
}

/* ---------------------------------------------------------------- handle */

/* Split "host:port", "host", "[v6]:port" or "[v6]". */
static int parse_server(const char *entry, char *host, size_t hostsz, in_port_t *port,
                        drover_error *err)
{
    const char *h = entry, *colon;
    size_t hlen;
    long p = 11211;

    if (*entry == '[') {
        const char *close = strchr(entry, ']');
        if (!close)
            goto bad;
        h = entry + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon)
            goto bad;
    } else {
        colon = strrchr(entry, ':');
        if (colon && strchr(entry, ':') != colon)
            goto bad;       /* a bare IPv6 address: brackets are needed to give a port */
        hlen = colon ? (size_t)(colon - entry) : strlen(entry);
    }
    if (hlen == 0 || hlen >= hostsz)
        goto bad;
    if (colon) {
        char *e;
        errno = 0;
        p = strtol(colon + 1, &e, 10);
        if (errno || e == colon + 1 || *e || p < 1 || p > 65535)
            goto bad;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (in_port_t)p;
    return 0;
bad:
    return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                  "servicegroup.mc.servers: \"%s\" is not HOST:PORT (port 1..65535; IPv6 as "
                  "[ADDR]:PORT)", entry);
}

/* A new libmemcached handle from the configuration. */
static int mc_build(mc_sg *m, memcached_st **out, drover_error *err)
{
    const dv_config *c = m->cfg;
    memcached_st *mc = memcached_create(NULL);
    memcached_return_t rc;

    *out = NULL;
    if (!mc)
        return nomem(err);
    for (uint32_t s = 0; s < m->n_srv; s++) {
        char host[256];
        in_port_t port = 0;
        if (parse_server(m->srv[s].addr, host, sizeof host, &port, err) < 0)
            goto fail;
        if ((rc = memcached_server_add(mc, host, port)) != MEMCACHED_SUCCESS) {
            dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                   "servicegroup.mc.servers: cannot use \"%s\": %s", m->srv[s].addr,
                   memcached_strerror(mc, rc));
            goto fail;
        }
    }
    if (memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                               MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.poll_timeout_ms) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.poll_timeout_ms) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.retry_timeout_s) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1) != MEMCACHED_SUCCESS ||
        /* 2: the request that meets a failure reports its cause (refused
         * credentials, refused connection) before the back-off starts */
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, 2) != MEMCACHED_SUCCESS) {
        dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC, "libmemcached refused a setting: %s",
               memcached_last_error_message(mc));
        goto fail;
    }
    if (c->servicegroup.mc.username && *c->servicegroup.mc.username) {
        rc = memcached_set_sasl_auth_data(mc, c->servicegroup.mc.username,
                                          c->servicegroup.mc.password ? c->servicegroup.mc.password : "");
        if (rc != MEMCACHED_SUCCESS) {
            dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                   "servicegroup.mc.username: SASL cannot be used: %s", memcached_strerror(mc, rc));
            goto fail;
        }
    }
    *out = mc;
    return 0;
fail:
    memcached_free(mc);
    return -1;
}

/* A fresh handle, forgetting libmemcached's failed-server back-off. */
static int mc_rebuild(mc_sg *m, drover_error *err)
{
    memcached_st *mc;

    if (mc_build(m, &mc, err) < 0)
        return -1;
    memcached_free(m->mc);
    m->mc = mc;
    return 0;
}

/* ---------------------------------------------------------------- open */

static int check_config(const dv_config *c, drover_error *err)
{
    if (c->servicegroup.mc.servers.n == 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                      "servicegroup.mc.servers is empty: give at least one HOST:PORT");
    if (c->servicegroup.mc.poll_timeout_ms < 1)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                      "servicegroup.mc.poll_timeout_ms = %d: must be at least 1",
                      c->servicegroup.mc.poll_timeout_ms);
    if (c->servicegroup.mc.retry_timeout_s < 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                      "servicegroup.mc.retry_timeout_s = %d: must not be negative",
                      c->servicegroup.mc.retry_timeout_s);
    if (c->servicegroup.service_down_time < 1)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                      "servicegroup.service_down_time = %d: must be at least 1",
                      c->servicegroup.service_down_time);
    if (!c->state.path || !*c->state.path)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                      "state.path is empty: the mc driver keeps its member list there");
    return 0;
}

static void mc_close(dv_sg *sg)
{
    mc_sg *m = me(sg);

    if (!m)
        return;
    memcached_free(m->mc);
    dv_statedb_close(m->db);
    dv_report_decoder_free(m->dec);
    free(m->idx_group);
    free(m->idx_name);
    free(m->idx_cas);
    free(m->idx_vname);
    free(m->idx_seen);
    for (uint32_t s = 0; s < m->n_srv; s++)
        free(m->srv[s].addr);
    free(m->srv);
    free(m);
}

static int mc_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    mc_sg *m;

    *out = NULL;
    if (check_config(cfg, err) < 0)
        return -1;
    if (!(m = calloc(1, sizeof *m)))
        return nomem(err);
    m->cfg = cfg;
    m->ttl = (time_t)cfg->servicegroup.service_down_time + 1;
    m->n_srv = (uint32_t)cfg->servicegroup.mc.servers.n;
    if (!(m->srv = calloc(m->n_srv, sizeof *m->srv)) || !(m->dec = dv_report_decoder_new()))
        goto oom;
    for (uint32_t s = 0; s < m->n_srv; s++)
        if (!(m->srv[s].addr = strdup(cfg->servicegroup.mc.servers.v[s])))
            goto oom;
    if (mc_build(m, &m->mc, err) < 0)
        goto fail;
    for (uint32_t s = 0; s < m->n_srv; s++)
        if (find_marker(m, "fresh", s, m->srv[s].fresh, sizeof m->srv[s].fresh, err) < 0 ||
            find_marker(m, "epoch", s, m->srv[s].epoch, sizeof m->srv[s].epoch, err) < 0)
            goto fail;
    if (dv_statedb_open(cfg->state.path, cfg->servicegroup.db.busy_timeout_ms, &m->db, err) < 0)
        goto fail;
    *out = &m->base;
    return 0;
oom:
    nomem(err);
fail:
    mc_close(&m->base);
    return -1;
}

/* ---------------------------------------------------------------- markers */

static bool stored_or_exists(memcached_return_t rc)
{
    return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS;
}

/* Server s answered without its epoch marker: it lost our keys.  Add fresh,
 * then epoch (see the top of the file for why in this order). */
static memcached_return_t claim_markers(mc_sg *m, uint32_t s)
{
    char stamp[24];
    int n = snprintf(stamp, sizeof stamp, "%" PRId64, dv_wall_ms());
    memcached_return_t rc;

    rc = memcached_add(m->mc, m->srv[s].fresh, strlen(m->srv[s].fresh), stamp, (size_t)n,
                       m->ttl, 0);
    if (!stored_or_exists(rc))
        return rc;
    rc = memcached_add(m->mc, m->srv[s].epoch, strlen(m->srv[s].epoch), stamp, (size_t)n, 0, 0);
    if (!stored_or_exists(rc))
        return rc;
    dv_info("memcached %s holds none of drover's keys (restarted, flushed or new): members on it "
            "are UNKNOWN, not DOWN, until they heartbeat or %lld s pass",
            m->srv[s].addr, (long long)m->ttl);
    return MEMCACHED_SUCCESS;
}

/* The writer's side: before re-creating a missing member key, make sure the
 * server's markers exist, so readers treat the others as UNKNOWN for now. */
static memcached_return_t ensure_markers(mc_sg *m, uint32_t s)
{
    memcached_return_t rc;
    size_t len;
    uint32_t flags;
    char *v = memcached_get(m->mc, m->srv[s].epoch, strlen(m->srv[s].epoch), &len, &flags, &rc);

    free(v);
    if (rc == MEMCACHED_SUCCESS)
        return rc;
    if (rc != MEMCACHED_NOTFOUND)
        return rc;
    return claim_markers(m, s);
}

/* ---------------------------------------------------------------- asking */

typedef void (*hit_fn)(void *ctx, size_t j, const char *value, size_t len);

/* key -> position, open addressing; slots hold position + 1. */
typedef struct keymap {
    size_t *slot;
    size_t mask;
} keymap;

/* FNV-1a's low bits depend only on the low bits of each byte: mix the high
 * bits down before masking, or keys that differ in a digit or two cluster. */
static size_t key_hash(const char *key, size_t len)
{
    uint64_t h = fnv1a(key, len, 0xcbf29ce484222325ULL);

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static int keymap_build(keymap *km, const char *const *keys, const size_t *lens, size_t n)
{
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    if (!(km->slot = calloc(cap, sizeof *km->slot)))
        return -1;
    km->mask = cap - 1;
    for (size_t j = 0; j < n; j++) {
        size_t i = key_hash(keys[j], lens[j]) & km->mask;
        while (km->slot[i])
            i = (i + 1) & km->mask;
        km->slot[i] = j + 1;
    }
    return 0;
}

static size_t keymap_find(const keymap *km, const char *const *keys, const size_t *lens,
                          const char *key, size_t len)
{
    size_t i = key_hash(key, len) & km->mask;

    for (; km->slot[i]; i = (i + 1) & km->mask) {
        size_t j = km->slot[i] - 1;
        if (lens[j] == len && memcmp(keys[j], key, len) == 0)
            return j;
    }
    return (size_t)-1;
}

/* One multi-get of keys[0..n) (all of which hash to server s) followed by
 * the server's two markers; keys and lens must have room for n + 2 entries.
 * on_hit gets each key found, numbered from base.  *why is set when the
 * answer is ANS_NONE. */
static answer ask_batch(mc_sg *m, uint32_t s, const char **keys, size_t *lens, size_t n,
                        size_t base, hit_fn on_hit, void *ctx, memcached_return_t *why)
{
    memcached_result_st res;
    memcached_return_t rc, frc = MEMCACHED_END;
    bool fresh = false, epoch = false, bad;
    keymap km = { NULL, 0 };

    *why = MEMCACHED_SUCCESS;
    if (n > 4 && keymap_build(&km, keys, lens, n) < 0) {
        *why = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        return ANS_NONE;
    }
    keys[n] = m->srv[s].fresh;
    lens[n] = strlen(keys[n]);
    keys[n + 1] = m->srv[s].epoch;
    lens[n + 1] = strlen(keys[n + 1]);

    rc = memcached_mget(m->mc, keys, lens, n + 2);
    bad = rc != MEMCACHED_SUCCESS;
    if (bad)
        *why = rc;
    if (memcached_result_create(m->mc, &res)) {
        while (memcached_fetch_result(m->mc, &res, &frc)) {
            const char *key = memcached_result_key_value(&res);
            size_t klen = memcached_result_key_length(&res), j;
            if (klen == lens[n] && memcmp(key, keys[n], klen) == 0) {
                fresh = true;
            } else if (klen == lens[n + 1] && memcmp(key, keys[n + 1], klen) == 0) {
                epoch = true;
            } else {
                if (km.slot) {
                    j = keymap_find(&km, keys, lens, key, klen);
                } else {
                    for (j = 0; j < n && !(lens[j] == klen && memcmp(keys[j], key, klen) == 0); j++)
                        ;
                }
                if (j < n)
                    on_hit(ctx, base + j, memcached_result_value(&res),
                           memcached_result_length(&res));
            }
        }
        memcached_result_free(&res);
    } else {
        frc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    }
    free(km.slot);
    if (frc != MEMCACHED_END && frc != MEMCACHED_NOTFOUND && frc != MEMCACHED_SUCCESS) {
        bad = true;
        *why = frc;
    }
    /* libmemcached keeps the errors of the current request only */
    if (memcached_last_error(m->mc) != MEMCACHED_SUCCESS) {
        bad = true;
        *why = memcached_last_error(m->mc);
    }
    if (bad) {
        note(m, s, *why);
        return ANS_NONE;
    }
    note(m, s, MEMCACHED_SUCCESS);
    if (!epoch) {
        if ((rc = claim_markers(m, s)) != MEMCACHED_SUCCESS) {
            *why = rc;
            note(m, s, rc);
            return ANS_NONE;
        }
        return ANS_FRESH;
    }
    return fresh ? ANS_FRESH : ANS_STEADY;
}

/* Request bytes per multi-get.  libmemcached writes a whole multi-get before
 * it reads any answer; if the server's answers fill the socket buffers it
 * stops reading, and a multi-get larger than what the buffers hold (the
 * server's receive buffer, 128 KiB by default) never finishes.  Batches
 * below that always do. */
#define BATCH_BYTES (48 * 1024)

/* Ask server s about keys[0..n) (all of which hash to it), in as few
 * multi-gets as the limit above allows, each carrying the server's markers
 * and judged on its own.  verdict[j] is the answer for key j; on_hit gets
 * each key found.  Once a batch gets no answer the server is not asked
 * again in this call (a hung server costs one poll timeout, not one per
 * batch).  *why: the reason of the first batch without an answer. */
static int ask(mc_sg *m, uint32_t s, const char *const *keys, const size_t *lens, size_t n,
               hit_fn on_hit, void *ctx, answer *verdict, memcached_return_t *why)
{
    size_t max = n < BATCH_BYTES / 24 ? n : BATCH_BYTES / 24 + 1, off = 0;
    const char **bk;
    size_t *bl;

    *why = MEMCACHED_SUCCESS;
    bk = malloc((max + 2) * sizeof *bk);
    bl = malloc((max + 2) * sizeof *bl);
    if (!bk || !bl) {
        free(bk);
        free(bl);
        return -1;
    }
    while (off < n) {
        size_t cnt = 0, bytes = 0;
        answer a;
        memcached_return_t w;

        while (off + cnt < n && (cnt == 0 || bytes + 24 + lens[off + cnt] <= BATCH_BYTES)) {
            bk[cnt] = keys[off + cnt];
            bl[cnt] = lens[off + cnt];
            bytes += 24 + lens[off + cnt++];
        }
        a = *why == MEMCACHED_SUCCESS ? ask_batch(m, s, bk, bl, cnt, off, on_hit, ctx, &w)
                                      : ANS_NONE;
        if (a == ANS_NONE && *why == MEMCACHED_SUCCESS)
            *why = w;
        for (size_t j = 0; j < cnt; j++)
            verdict[off + j] = a;
        off += cnt;
    }
    free(bk);
    free(bl);
    return 0;
}

static drover_liveness judge(bool forced_down, bool present, answer a)
{
    if (forced_down)
        return DROVER_DOWN;
    if (present)
        return DROVER_UP;
    return a == ANS_STEADY ? DROVER_DOWN : DROVER_UNKNOWN;
}

/* ---------------------------------------------------------------- index */

/* The shard names of group: names[s * IDX_SHARDS + k] is the first
 * "drover:idx:<group>:<k>.<i>" (group hashed when too long) that hashes to
 * server s.  Every process listing the same servers finds the same names. */
static int idx_names(mc_sg *m, const char *group, drover_error *err)
{
    size_t glen = strlen(group), total = (size_t)m->n_srv * IDX_SHARDS;
    char gname[KEY_MAX + 1], key[KEY_MAX + 1];

    if (m->idx_group && strcmp(m->idx_group, group) == 0)
        return 0;
    free(m->idx_group);
    m->idx_group = NULL;
    if (!m->idx_name && !(m->idx_name = malloc(total * sizeof *m->idx_name)))
        return nomem(err);
    if ((!m->idx_cas && !(m->idx_cas = calloc(total, sizeof *m->idx_cas))) ||
        (!m->idx_seen && !(m->idx_seen = calloc(total, sizeof *m->idx_seen))) ||
        (!m->idx_vname && !(m->idx_vname = malloc(total * sizeof *m->idx_vname))))
        return nomem(err);
    memset(m->idx_cas, 0, total * sizeof *m->idx_cas);
    memset(m->idx_seen, 0, total * sizeof *m->idx_seen);
    if (glen + sizeof KEY_PREFIX ":idx::64.1000000" > KEY_MAX)
        snprintf(gname, sizeof gname, "#%016" PRIx64,
                 fnv1a(group, glen, 0xcbf29ce484222325ULL));
    else
        snprintf(gname, sizeof gname, "%s", group);
    for (unsigned k = 0; k < 2 * IDX_SHARDS; k++) {
        char (*name)[KEY_MAX + 1] = k < IDX_SHARDS ? m->idx_name : m->idx_vname;
        unsigned ks = k % IDX_SHARDS;
        uint32_t found = 0;
        for (unsigned s = 0; s < m->n_srv; s++)
            name[s * IDX_SHARDS + ks][0] = '\0';
        for (unsigned i = 0; i < MARKER_SEARCH && found < m->n_srv; i++) {
            int n = snprintf(key, sizeof key, KEY_PREFIX ":%s:%s:%u.%u",
                             k < IDX_SHARDS ? "idx" : "idxv", gname, ks, i);
            uint32_t s = server_of(m, key, (size_t)n);
            if (s < m->n_srv && !name[s * IDX_SHARDS + ks][0]) {
                memcpy(name[s * IDX_SHARDS + ks], key, (size_t)n + 1);
                found++;
            }
        }
        if (found < m->n_srv)
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC,
                          "no index key of group \"%s\" hashes to every memcached server", group);
    }
    if (!(m->idx_group = strdup(group)))
        return nomem(err);
    return 0;
}

/* The shard of host: on the server of its member key, so that a server
 * that loses its keys loses the member key together with its index entry,
 * and the agent's next heartbeat (key missing) writes both again. */
static size_t idx_slot(mc_sg *m, const char *host, uint32_t s)
{
    return (size_t)s * IDX_SHARDS + key_hash(host, strlen(host)) % IDX_SHARDS;
}

/* One distinct host of a shard and the last thing said about it. */
typedef struct ientry {
    const char *host;               /* into the shard's value; not NUL-terminated */
    size_t len;
    char op;                        /* '+' member, '-' left */
} ientry;

/* The distinct hosts of a shard value, in order of first appearance, each
 * with its last entry.  *lines: how many entries the value holds.  Lines
 * that are not "+host" or "-host" are skipped (not ours, or cut short). */
static int idx_parse(const char *v, size_t len, ientry **out, size_t *n_out, size_t *lines)
{
    size_t cap = 16, n = 0, ecap = 16, *slot;
    const char *p = v, *end = v + len;
    ientry *e = malloc(ecap * sizeof *e);

    *out = NULL;
    *n_out = *lines = 0;
    while (cap < len / 4)
        cap *= 2;
    slot = calloc(cap, sizeof *slot);
    if (!e || !slot)
        goto oom;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *h = p + 1;
        size_t hl, i;
        if (!nl)
            break;
        hl = (size_t)(nl - h);
        if ((*p == '+' || *p == '-') && hl > 0 && hl <= DV_NAME_MAX) {
            (*lines)++;
            for (i = key_hash(h, hl) & (cap - 1); slot[i]; i = (i + 1) & (cap - 1)) {
                ientry *x = &e[slot[i] - 1];
                if (x->len == hl && memcmp(x->host, h, hl) == 0)
                    break;
            }
            if (slot[i]) {
                e[slot[i] - 1].op = *p;
            } else {
                if (n == ecap) {
                    ientry *bigger = realloc(e, 2 * ecap * sizeof *e);
                    if (!bigger)
                        goto oom;
                    e = bigger;
                    ecap *= 2;
                }
                e[n] = (ientry){ h, hl, *p };
                slot[i] = ++n;
                if (2 * n > cap) {      /* grow and rehash */
                    size_t ncap = cap * 2, *ns = calloc(ncap, sizeof *ns);
                    if (!ns)
                        goto oom;
                    for (size_t j = 0; j < n; j++) {
                        size_t q = key_hash(e[j].host, e[j].len) & (ncap - 1);
                        while (ns[q])
                            q = (q + 1) & (ncap - 1);
                        ns[q] = j + 1;
                    }
                    free(slot);
                    slot = ns;
                    cap = ncap;
                }
            }
        }
        p = nl + 1;
    }
    free(slot);
    *out = e;
    *n_out = n;
    return 0;
oom:
    free(e);
    free(slot);
    return -1;
}

/* Rewrite a shard holding many superseded entries as one entry per host
 * (tombstones kept: a reader that has not seen a leave yet must still see
 * it).  With CAS: if a writer appended meanwhile, nothing is written and
 * the next reader tries again. */
static void idx_compact(mc_sg *m, const char *key, const ientry *e, size_t n, uint64_t cas)
{
    size_t len = 0;
    char *v, *p;
    memcached_return_t rc;

    for (size_t i = 0; i < n; i++)
        len += e[i].len + 2;
    if (!(p = v = malloc(len + 1)))
        return;
    for (size_t i = 0; i < n; i++) {
        *p++ = e[i].op;
        memcpy(p, e[i].host, e[i].len);
        p += e[i].len;
        *p++ = '\n';
    }
    rc = memcached_cas(m->mc, key, strlen(key), v, len, 0, 0, cas);
    dv_debug("index %s compacted to %zu bytes: %s", key, len, memcached_strerror(m->mc, rc));
    free(v);
}

/* Whether a shard is worth compacting: big, and mostly superseded. */
static bool idx_bloated(size_t len, size_t lines, size_t distinct)
{
    return len > IDX_COMPACT_BYTES && 2 * (lines - distinct) > lines;
}

/* Fetch one shard with its CAS and compact it if it is still worth it. */
static void idx_compact_now(mc_sg *m, const char *key)
{
    const char *keys[1] = { key };
    size_t lens[1] = { strlen(key) }, n, lines;
    memcached_result_st res;
    memcached_return_t rc;
    ientry *e;

    if (memcached_mget(m->mc, keys, lens, 1) != MEMCACHED_SUCCESS ||
        !memcached_result_create(m->mc, &res))
        return;
    while (memcached_fetch_result(m->mc, &res, &rc)) {
        const char *v = memcached_result_value(&res);
        size_t len = memcached_result_length(&res);
        if (idx_parse(v, len, &e, &n, &lines) == 0) {
            if (lines > n)
                idx_compact(m, key, e, n, memcached_result_cas(&res));
            free(e);
        }
    }
    memcached_result_free(&res);
}

/* A new stamp for shard i, after every change to it: readers fetch a shard
 * only when its stamp differs from the one they saw when they last read
 * it (an idle index costs a sweep a few tiny gets, not its whole size).
 * Set after the append, so a reader that sees the new stamp reads the new
 * entry; one that read the stamp just before it reads the shard again at
 * its next sweep. */
static memcached_return_t idx_stamp(mc_sg *m, size_t i)
{
    static uint64_t counter;
    char v[24];
    uint64_t stamp = ((uint64_t)dv_wall_ms() << 20) ^ ((uint64_t)getpid() << 4) ^ ++counter;
    int n = snprintf(v, sizeof v, "%" PRIx64, stamp ? stamp : 1);

    return memcached_set(m->mc, m->idx_vname[i], strlen(m->idx_vname[i]), v, (size_t)n, 0, 0);
}

/* Append "<op><host>\n" to host's shard on server s, creating the shard if
 * it does not exist.  memcached answers an append that would pass its item
 * size limit (-I) with NOT_STORED, as it does for a missing key: when the
 * add that follows finds the key there, the shard is compacted and the
 * append tried again.  A shard that cannot shrink enough: E2BIG. */
static memcached_return_t idx_put(mc_sg *m, const char *group, const char *host, uint32_t s,
                                  char op)
{
    char entry[DV_NAME_MAX + 3];
    int n = snprintf(entry, sizeof entry, "%c%s\n", op, host);
    drover_error err;
    const char *key;
    memcached_return_t rc = MEMCACHED_NOTSTORED;
    bool compacted = false;

    if (idx_names(m, group, &err) < 0)
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    key = m->idx_name[idx_slot(m, host, s)];
    for (int attempt = 0; attempt < 4; attempt++) {
        rc = memcached_append(m->mc, key, strlen(key), entry, (size_t)n, 0, 0);
        if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_NOTFOUND)
            rc = memcached_add(m->mc, key, strlen(key), entry, (size_t)n, 0, 0);
        if (rc == MEMCACHED_SUCCESS)
            return idx_stamp(m, idx_slot(m, host, s));
        if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS && rc != MEMCACHED_E2BIG)
            return rc;
        /* there but refused: created meanwhile by another writer, or full */
        if (attempt > 0 && !compacted) {
            idx_compact_now(m, key);
            compacted = true;
        }
    }
    return MEMCACHED_E2BIG;
}

/* What one changed shard says, merged into the lists to apply. */
typedef struct idx_delta {
    char **add, **del;
    size_t n_add, n_del, cap_add, cap_del;
} idx_delta;

static int delta_push(char ***v, size_t *n, size_t *cap, const char *h, size_t len)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **bigger = realloc(*v, c * sizeof *bigger);
        if (!bigger)
            return -1;
        *v = bigger;
        *cap = c;
    }
    if (!((*v)[*n] = strndup(h, len)))
        return -1;
    (*n)++;
    return 0;
}

static void delta_free(idx_delta *d)
{
    dv_strv_free(d->add, d->n_add);
    dv_strv_free(d->del, d->n_del);
}

/* The stamp of every shard of the current group into stamp[] (0: none or
 * unreadable).  -1: out of memory. */
static int idx_stamps(mc_sg *m, uint64_t *stamp)
{
    size_t total = (size_t)m->n_srv * IDX_SHARDS;
    const char **keys = malloc(total * sizeof *keys);
    size_t *lens = malloc(total * sizeof *lens);
    memcached_result_st res;
    memcached_return_t rc;
    int ret = -1;

    if (!keys || !lens)
        goto out;
    for (size_t i = 0; i < total; i++) {
        keys[i] = m->idx_vname[i];
        lens[i] = strlen(keys[i]);
    }
    if (memcached_mget(m->mc, keys, lens, total) != MEMCACHED_SUCCESS)
        dv_debug("reading index stamps: %s", memcached_last_error_message(m->mc));
    if (!memcached_result_create(m->mc, &res))
        goto out;
    while (memcached_fetch_result(m->mc, &res, &rc)) {
        const char *key = memcached_result_key_value(&res);
        size_t klen = memcached_result_key_length(&res), vlen = memcached_result_length(&res);
        char v[24];
        for (size_t i = 0; i < total; i++)
            if (lens[i] == klen && memcmp(keys[i], key, klen) == 0 && vlen < sizeof v) {
                memcpy(v, memcached_result_value(&res), vlen);
                v[vlen] = '\0';
                stamp[i] = strtoull(v, NULL, 16);
            }
    }
    memcached_result_free(&res);
    ret = 0;
out:
    free(keys);
    free(lens);
    return ret;
}

/* Read the group's index (every shard, or the one at slot only) and make
 * the state database agree with it: hosts it lists are added, hosts it
 * says left are removed.  Shards whose CAS has not changed since this
 * handle last merged them are skipped.  A shard that cannot be read or
 * does not exist changes nothing: after a restart the index is rebuilt by
 * the agents' heartbeats, and until then the database still knows every
 * member.  Fails only when the database does. */
static int idx_sync(mc_sg *m, const char *group, size_t slot, drover_error *err)
{
    size_t total = (size_t)m->n_srv * IDX_SHARDS, nk = 0;
    const char **keys;
    size_t *lens, *which, *done, n_done = 0;
    uint64_t *done_cas, *stamp;
    memcached_result_st res;
    memcached_return_t rc;
    idx_delta d = { 0 };
    int ret = -1;

    if (idx_names(m, group, err) < 0)
        return -1;
    keys = malloc(total * sizeof *keys);
    lens = malloc(total * sizeof *lens);
    which = malloc(total * sizeof *which);
    done = malloc(total * sizeof *done);
    done_cas = malloc(total * sizeof *done_cas);
    stamp = calloc(total, sizeof *stamp);
    if (!keys || !lens || !which || !done || !done_cas || !stamp) {
        nomem(err);
        goto out;
    }
    if (slot == SIZE_MAX && idx_stamps(m, stamp) < 0) {
        nomem(err);
        goto out;
    }
    for (size_t i = 0; i < total; i++)
        if ((slot == SIZE_MAX && (!stamp[i] || stamp[i] != m->idx_seen[i])) || i == slot) {
            keys[nk] = m->idx_name[i];
            lens[nk] = strlen(keys[nk]);
            which[nk++] = i;
        }
    if (!nk) {
        ret = 0;
        goto out;
    }
    if (memcached_mget(m->mc, keys, lens, nk) != MEMCACHED_SUCCESS)
        dv_debug("reading the index of %s: %s", group, memcached_last_error_message(m->mc));
    if (!memcached_result_create(m->mc, &res)) {
        nomem(err);
        goto out;
    }
    while (memcached_fetch_result(m->mc, &res, &rc)) {
        const char *key = memcached_result_key_value(&res), *v;
        size_t klen = memcached_result_key_length(&res), j, n, lines, len;
        uint64_t cas = memcached_result_cas(&res);
        ientry *e;

        for (j = 0; j < nk && !(lens[j] == klen && memcmp(keys[j], key, klen) == 0); j++)
            ;
        if (j == nk || (cas && cas == m->idx_cas[which[j]]))
            continue;
        v = memcached_result_value(&res);
        len = memcached_result_length(&res);
        if (idx_parse(v, len, &e, &n, &lines) < 0) {
            memcached_result_free(&res);
            nomem(err);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            int r = e[i].op == '+' ? delta_push(&d.add, &d.n_add, &d.cap_add, e[i].host, e[i].len)
                                   : delta_push(&d.del, &d.n_del, &d.cap_del, e[i].host, e[i].len);
            if (r < 0) {
                free(e);
                memcached_result_free(&res);
                nomem(err);
                goto out;
            }
        }
        if (idx_bloated(len, lines, n))
            idx_compact(m, m->idx_name[which[j]], e, n, cas);
        free(e);
        done[n_done] = which[j];
        done_cas[n_done++] = cas;
    }
    memcached_result_free(&res);
    if (dv_statedb_member_sync(m->db, group, (const char *const *)d.add, d.n_add,
                               (const char *const *)d.del, d.n_del, err) < 0)
        goto out;
    for (size_t i = 0; i < n_done; i++) {
        m->idx_cas[done[i]] = done_cas[i];
        if (slot == SIZE_MAX)
            m->idx_seen[done[i]] = stamp[done[i]];
    }
    ret = 0;
out:
    delta_free(&d);
    free(keys);
    free(lens);
    free(which);
    free(done);
    free(done_cas);
    free(stamp);
    return ret;
}

/* ---------------------------------------------------------------- members */

static int not_member(mc_sg *m, const char *group, const char *host, drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_MC,
                  "host \"%s\" is not a member of group \"%s\" (the mc driver keeps its members in "
                  "the state database %s)", host, group, m->cfg->state.path);
}

/* A member this process has not heard of may have joined elsewhere: read
 * its index shard once before saying it is not a member. */
static int need_member(mc_sg *m, const char *group, const char *host, drover_error *err)
{
    char key[KEY_MAX + 1];
    size_t klen;
    bool yes;

    if (dv_statedb_member_has(m->db, group, host, &yes, err) < 0)
        return -1;
    if (yes)
        return 0;
    klen = member_key(key, group, host);
    if (idx_sync(m, group, idx_slot(m, host, server_of(m, key, klen)), err) < 0 ||
        dv_statedb_member_has(m->db, group, host, &yes, err) < 0)
        return -1;
    return yes ? 0 : not_member(m, group, host, err);
}

/* ---------------------------------------------------------------- writes */

/* One attempt at "alive now": see mc_write. */
static memcached_return_t try_write(mc_sg *m, const char *group, const char *host,
                                    const char *report, bool keep_report, bool indexed,
                                    bool *db_failed, drover_error *err)
{
    char key[KEY_MAX + 1];
    size_t klen = member_key(key, group, host), vlen, olen = 0;
    uint32_t s = server_of(m, key, klen), flags;
    memcached_return_t rc;
    char *old = NULL, *v;
    parsed p = { 0, "", 0 };
    bool missing = false;

    if (keep_report) {
        old = memcached_get(m->mc, key, klen, &olen, &flags, &rc);
        if (rc == MEMCACHED_NOTFOUND)
            missing = true;
        else if (rc != MEMCACHED_SUCCESS)
            return rc;
        else if (!value_parse(old, olen, group, host, &p))
            p = (parsed){ 0, "", 0 };
    }
    v = value_make(dv_clock_now(&m->base.clock), group, host, keep_report ? p.report : report,
                   keep_report ? p.report_len : strlen(report), &vlen);
    free(old);
    if (!v)
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    if (!keep_report) {
        rc = memcached_replace(m->mc, key, klen, v, vlen, m->ttl, 0);
        if (rc == MEMCACHED_SUCCESS || (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_NOTFOUND)) {
            free(v);
            return rc;
        }
        missing = true;
    }
    if (missing) {
        /* a member that never joined, left, or whose key memcached lost */
        if (dv_statedb_member_add(m->db, group, host, err) < 0) {
            *db_failed = true;
            free(v);
            return MEMCACHED_FAILURE;
        }
        if ((rc = ensure_markers(m, s)) != MEMCACHED_SUCCESS ||
            (!indexed && (rc = idx_put(m, group, host, s, '+')) != MEMCACHED_SUCCESS)) {
            free(v);
            return rc;
        }
    }
    rc = memcached_set(m->mc, key, klen, v, vlen, m->ttl, 0);
    free(v);
    return rc;
}

/* Record "host is alive now" with its report (NULL: keep the stored one).
 * A server libmemcached has put in back-off is tried again at once with a
 * new handle: an agent's heartbeat must land as soon as the server is back. */
static int mc_write(mc_sg *m, const char *group, const char *host, const char *report,
                    bool indexed, const char *what, drover_error *err)
{
    char key[KEY_MAX + 1];
    size_t klen = member_key(key, group, host);
    memcached_return_t rc = MEMCACHED_SUCCESS;
    bool db_failed = false;

    if (report && strlen(report) > REPORT_MAX)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_MC,
                      "%s of %s: the report is %zu bytes; the limit is %d", what, host,
                      strlen(report), REPORT_MAX);
    rc = try_write(m, group, host, report, report == NULL, indexed, &db_failed, err);
    if (!db_failed && (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED ||
                       rc == MEMCACHED_SERVER_MARKED_DEAD) && mc_rebuild(m, NULL) == 0)
        rc = try_write(m, group, host, report, report == NULL, indexed, &db_failed, err);
    if (db_failed)
        return -1;
    if (rc != MEMCACHED_SUCCESS) {
        char w[300];
        snprintf(w, sizeof w, "%s of %s", what, host);
        return mc_fail(m, server_of(m, key, klen), rc, w, err);
    }
    note(m, server_of(m, key, klen), MEMCACHED_SUCCESS);
    return 0;
}

/* Joining counts as a sign of life (as in the db driver); the stored report
 * and the admin state are kept.  The member is added to the index in
 * memcached (for every other process) and to this process's database. */
static int mc_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    mc_sg *m = me(sg);
    char key[KEY_MAX + 1];
    size_t klen = member_key(key, group, host);
    uint32_t s = server_of(m, key, klen);
    memcached_return_t rc;

    if (dv_statedb_member_add(m->db, group, host, err) < 0)
        return -1;
    rc = idx_put(m, group, host, s, '+');
    if ((rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD) &&
        mc_rebuild(m, NULL) == 0)
        rc = idx_put(m, group, host, s, '+');
    if (rc != MEMCACHED_SUCCESS) {
        char w[300];
        snprintf(w, sizeof w, "join of %s (the member index)", host);
        return mc_fail(m, s, rc, w, err);
    }
    return mc_write(m, group, host, NULL, true, "join", err);
}

/* Needs nothing from the state database but to note the member there when
 * its key was missing: the admin state is the controller's. */
static int mc_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                        drover_error *err)
{
    return mc_write(me(sg), group, host, report_json, false, "heartbeat", err);
}

/* Forget the member and its admin state here, and say in the index that
 * it left (every other reader forgets it at its next sweep).  Its key is
 * deleted too; if memcached cannot be reached the key simply expires, but
 * other readers keep listing the member (DOWN) until it leaves again. */
static int mc_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    mc_sg *m = me(sg);
    char key[KEY_MAX + 1];
    size_t klen = member_key(key, group, host);
    uint32_t s = server_of(m, key, klen);
    memcached_return_t rc;

    if (need_member(m, group, host, err) < 0 ||
        dv_statedb_member_remove(m->db, group, host, err) < 0)
        return -1;
    rc = idx_put(m, group, host, s, '-');
    if (rc != MEMCACHED_SUCCESS)
        dv_warn("leave of %s: could not note it in the index on memcached %s (%s): other "
                "readers keep listing it", host, m->srv[s].addr, memcached_strerror(m->mc, rc));
    rc = memcached_delete(m->mc, key, klen, 0);
    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND)
        dv_warn("leave of %s: could not delete its key from memcached %s (%s); it expires in %lld s",
                host, m->srv[server_of(m, key, klen)].addr, memcached_strerror(m->mc, rc),
                (long long)m->ttl);
    return 0;
}

static int mc_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                           const char *reason, drover_error *err)
{
    mc_sg *m = me(sg);

    if (need_member(m, group, host, err) < 0)
        return -1;
    return dv_statedb_set_disabled(m->db, group, host, disabled, reason, err);
}

static int mc_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                              drover_error *err)
{
    mc_sg *m = me(sg);

    if (need_member(m, group, host, err) < 0)
        return -1;
    return dv_statedb_set_forced_down(m->db, group, host, forced_down, err);
}

/* ---------------------------------------------------------------- reads */

/* What a hit tells about member i of a batch. */
typedef struct sweep {
    mc_sg *m;
    drover_member *v;
    const size_t *idx;              /* batch position -> member index */
    bool *present;
    bool reports;                   /* copy and decode reports (get_all) or not (get_states) */
} sweep;

static void fill_from_value(mc_sg *m, drover_member *mb, bool *present, bool reports,
                            const char *value, size_t len)
{
    parsed p;

    if (!value_parse(value, len, mb->group, mb->host, &p)) {
        dv_debug("memcached value of %s/%s is not drover's: ignored", mb->group, mb->host);
        return;
    }
    *present = true;
    mb->last_seen_ms = p.ts;
    if (reports && p.report_len && (mb->report_json = malloc(p.report_len + 1))) {
        memcpy(mb->report_json, p.report, p.report_len);
        mb->report_json[p.report_len] = '\0';
        /* a report that does not decode is kept as text; report stays NULL */
        dv_report_decode(m->dec, mb->report_json, p.report_len, &mb->report, NULL);
    }
}

static void sweep_hit(void *ctx, size_t j, const char *value, size_t len)
{
    sweep *sw = ctx;
    size_t i = sw->idx[j];

    fill_from_value(sw->m, &sw->v[i], &sw->present[i], sw->reports, value, len);
}

/* The members (sorted) with admin state merged in; hosts are taken over. */
static int members_from_db(mc_sg *m, const char *group, drover_member **out, size_t *n,
                           drover_error *err)
{
    char **hosts;
    dv_admin *adm;
    size_t nh, na, a = 0;
    drover_member *v;

    *out = NULL;
    *n = 0;
    if (dv_statedb_member_list(m->db, group, &hosts, &nh, err) < 0)
        return -1;
    if (dv_statedb_admin_all(m->db, group, &adm, &na, err) < 0) {
        dv_strv_free(hosts, nh);
        return -1;
    }
    if (!(v = calloc(nh ? nh : 1, sizeof *v))) {
        dv_strv_free(hosts, nh);
        dv_admins_free(adm, na);
        return nomem(err);
    }
    for (size_t i = 0; i < nh; i++) {
        v[i].host = hosts[i];
        hosts[i] = NULL;
        v[i].state = DROVER_UNKNOWN;
        if (!(v[i].group = strdup(group))) {
            dv_strv_free(hosts, nh);
            dv_admins_free(adm, na);
            drover_members_free(v, nh);
            return nomem(err);
        }
        while (a < na && strcmp(adm[a].host, v[i].host) < 0)
            a++;
        if (a < na && strcmp(adm[a].host, v[i].host) == 0) {
            v[i].disabled = adm[a].disabled;
            v[i].forced_down = adm[a].forced_down;
            v[i].disabled_reason = adm[a].reason;
            adm[a].reason = NULL;
        }
    }
    dv_strv_free(hosts, nh);
    dv_admins_free(adm, na);
    *out = v;
    *n = nh;
    return 0;
}

/* The keys of every member, in one buffer: key[i] (klen[i] bytes); the
 * pointers are set at the end, once the buffer stops moving. */
static int member_keys(const char *group, const drover_member *v, size_t nm, char **arena_out,
                       char ***key_out, size_t **klen_out)
{
    size_t cap = nm * 32 + 256, used = 0;
    char *arena = malloc(cap), **key = calloc(nm + 1, sizeof *key);
    size_t *klen = calloc(nm + 1, sizeof *klen);

    if (!arena || !key || !klen)
        goto fail;
    for (size_t i = 0; i < nm; i++) {
        if (used + KEY_MAX + 1 > cap) {
            char *bigger = realloc(arena, cap * 2);
            if (!bigger)
                goto fail;
            arena = bigger;
            cap *= 2;
        }
        klen[i] = member_key(arena + used, group, v[i].host);
        used += klen[i] + 1;
    }
    for (size_t i = 0, off = 0; i < nm; i++) {
        key[i] = arena + off;
        off += klen[i] + 1;
    }
    *arena_out = arena;
    *key_out = key;
    *klen_out = klen;
    return 0;
fail:
    free(arena);
    free(key);
    free(klen);
    return -1;
}

/* Every member, asking each server apart; reports too if asked for. */
static int sweep_all(dv_sg *sg, const char *group, bool reports, drover_member **members,
                     size_t *n, drover_error *err)
{
    mc_sg *m = me(sg);
    drover_member *v;
    size_t nm, *klen = NULL, *lens = NULL, *idx = NULL;
    uint32_t *srv = NULL;
    const char **bkeys = NULL;
    char *arena = NULL, **key = NULL;
    bool *present = NULL;
    answer *verdict = NULL;
    int rc = -1;

    if (idx_sync(m, group, SIZE_MAX, err) < 0 || members_from_db(m, group, &v, &nm, err) < 0)
        return -1;
    if (member_keys(group, v, nm, &arena, &key, &klen) < 0 ||
        !(srv = calloc(nm + 1, sizeof *srv)) || !(present = calloc(nm + 1, sizeof *present)) ||
        !(bkeys = calloc(nm + 1, sizeof *bkeys)) || !(lens = calloc(nm + 1, sizeof *lens)) ||
        !(idx = calloc(nm + 1, sizeof *idx)) || !(verdict = calloc(nm + 1, sizeof *verdict))) {
        nomem(err);
        goto out;
    }
    for (size_t i = 0; i < nm; i++)
        srv[i] = server_of(m, key[i], klen[i]);
    for (uint32_t s = 0; s < m->n_srv; s++) {
        sweep sw = { m, v, idx, present, reports };
        memcached_return_t why;
        size_t b = 0;

        for (size_t i = 0; i < nm; i++)
            if (srv[i] == s && !v[i].forced_down) {
                bkeys[b] = key[i];
                lens[b] = klen[i];
                idx[b++] = i;
            }
        /* forced-down members need no answer */
        if (!b)
            continue;
        if (ask(m, s, bkeys, lens, b, sweep_hit, &sw, verdict, &why) < 0) {
            nomem(err);
            goto out;
        }
        if (why != MEMCACHED_SUCCESS && is_auth(m->srv[s].cause)) {
            mc_fail(m, s, why, "listing members", err);
            goto out;
        }
        if (why != MEMCACHED_SUCCESS) {
            char buf[160];
            dv_debug("listing members: memcached %s cannot be asked (%s): its members are UNKNOWN",
                     m->srv[s].addr, cause_text(m, s, why, buf, sizeof buf));
        }
        for (size_t j = 0; j < b; j++)
            v[idx[j]].state = judge(false, present[idx[j]], verdict[j]);
    }
    for (size_t i = 0; i < nm; i++)
        if (v[i].forced_down)
            v[i].state = DROVER_DOWN;
    *members = v;
    *n = nm;
    v = NULL;
    rc = 0;
out:
    drover_members_free(v, nm);
    free(arena);
    free(key);
    free(klen);
    free(srv);
    free(present);
    free(bkeys);
    free(lens);
    free(idx);
    free(verdict);
    return rc;
}

static int mc_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err)
{
    return sweep_all(sg, group, true, members, n, err);
}

/* The liveness sweep: the same multi-gets, no report copied or decoded. */
static int mc_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                         drover_error *err)
{
    return sweep_all(sg, group, false, members, n, err);
}

typedef struct one {
    mc_sg *m;
    drover_member *mb;
    bool present;
} one;

static void one_hit(void *ctx, size_t j, const char *value, size_t len)
{
    one *o = ctx;

    (void)j;
    fill_from_value(o->m, o->mb, &o->present, true, value, len);
}

/* Ask about one member: fills mb (group, host, admin, state, last seen,
 * report).  Returns 0, or -1 on a statedb, auth or NOT_FOUND error; an
 * unanswered server gives state UNKNOWN and the reason in *why_text. */
static int probe(mc_sg *m, const char *group, const char *host, bool ask_forced,
                 drover_member *mb, char *why_text, size_t why_sz, drover_error *err)
{
    char key[KEY_MAX + 1];
    const char *keys[1];
    size_t lens[1];
    uint32_t s;
    dv_admin adm;
    one o = { m, mb, false };
    memcached_return_t why;
    answer a;

    memset(mb, 0, sizeof *mb);
    why_text[0] = '\0';
    if (need_member(m, group, host, err) < 0)
        return -1;
    if (dv_statedb_admin_get(m->db, group, host, &adm, err) < 0)
        return -1;
    mb->disabled = adm.disabled;
    mb->forced_down = adm.forced_down;
    mb->disabled_reason = adm.reason;
    adm.reason = NULL;
    dv_admin_clear(&adm);
    if (!(mb->group = strdup(group)) || !(mb->host = strdup(host))) {
        drover_member_clear(mb);
        return nomem(err);
    }
    if (mb->forced_down && !ask_forced) {
        mb->state = DROVER_DOWN;
        return 0;
    }
    keys[0] = key;
    lens[0] = member_key(key, group, host);
    s = server_of(m, key, lens[0]);
    if (ask(m, s, keys, lens, 1, one_hit, &o, &a, &why) < 0) {
        drover_member_clear(mb);
        return nomem(err);
    }
    if (a == ANS_NONE && is_auth(m->srv[s].cause)) {
        drover_member_clear(mb);
        return mc_fail(m, s, why, host, err);
    }
    mb->state = judge(mb->forced_down, o.present, a);
    if (a == ANS_NONE) {
        char buf[160];
        snprintf(why_text, why_sz, "cannot reach memcached %s: %s", m->srv[s].addr,
                 cause_text(m, s, why, buf, sizeof buf));
    } else if (mb->state == DROVER_UNKNOWN) {
        snprintf(why_text, why_sz,
                 "memcached %s lost its keys less than %lld s ago (restarted or flushed) and "
                 "\"%s\" has not heartbeated since: UNKNOWN until it does or that time passes",
                 m->srv[s].addr, (long long)m->ttl, host);
    }
    return 0;
}

static int mc_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                    drover_error *err)
{
    drover_member mb;
    char why[512];
    int rc = probe(me(sg), group, host, false, &mb, why, sizeof why, err);

    if (rc < 0)
        return -1;
    *state = mb.state;
    drover_member_clear(&mb);
    if (*state == DROVER_UNKNOWN)
        return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC, "is %s up? %s", host, why);
    return 0;
}

/* One member; when memcached cannot be asked its state is UNKNOWN (and the
 * admin state, kept locally, is still right). */
static int mc_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
                  drover_error *err)
{
    char why[512];

    if (probe(me(sg), group, host, true, member, why, sizeof why, err) < 0)
        return -1;
    if (why[0])
        dv_debug("%s", why);
    return 0;
}

const dv_sg_ops dv_sg_mc_ops = {
    .version = DV_SG_OPS_VERSION,
    .name = "mc",
    .open = mc_open,
    .close = mc_close,
    .join = mc_join,
    .heartbeat = mc_heartbeat,
    .is_up = mc_is_up,
    .get_all = mc_get_all,
    .get_states = mc_get_states,
    .get = mc_get,
    .leave = mc_leave,
    .set_disabled = mc_set_disabled,
    .set_forced_down = mc_set_forced_down,
};
