/*
 * drover.h - the public C API of libdrover.
 *
 * drover keeps a fleet of libvirt/KVM hosts healthy.  This header is what a
 * program links against to ask "is host X up?", list the members of a
 * service group with their last host report, change a member's admin
 * state (disabled, forced down), pick a destination for a guest, run and
 * steer live migrations, and drain a host.
 *
 * Conventions
 *  - Every function that can fail returns 0 on success and -1 on failure.
 *    On failure, if the caller passed a non-NULL drover_error, it is filled
 *    with a code, the domain (layer) that failed and a message a person can
 *    act on.  The library never prints, never exits and never aborts on bad
 *    input.
 *  - Strings returned inside structures are owned by the structure and freed
 *    by the matching *_free function.
 *  - A drover_ctx may be used by one thread at a time.
 */
#ifndef DROVER_H
#define DROVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DROVER_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- errors */

typedef enum drover_code {
    DROVER_OK = 0,
    DROVER_ERR_INVALID,      /* bad argument or bad input (names, values) */
    DROVER_ERR_CONFIG,       /* the configuration file is wrong */
    DROVER_ERR_NOMEM,        /* out of memory */
    DROVER_ERR_IO,           /* a file or directory could not be used */
    DROVER_ERR_UNREACHABLE,  /* the backend could not be asked: liveness is UNKNOWN */
    DROVER_ERR_NOT_FOUND,    /* no such member, host or instance */
    DROVER_ERR_UNSUPPORTED,  /* the driver does not implement this operation */
    DROVER_ERR_CORRUPT,      /* stored data is not what drover wrote */
    DROVER_ERR_LIBVIRT,      /* a libvirt call failed or timed out */
    DROVER_ERR_NO_VALID_HOST,/* the scheduler found no destination */
    DROVER_ERR_CONFLICT,     /* the state changed under us (claims, locks) */
    DROVER_ERR_AUTH,         /* credentials refused by the backend */
    DROVER_ERR_INTERNAL      /* a bug in drover: please report it */
} drover_code;

typedef enum drover_domain {
    DROVER_FROM_NONE = 0,
    DROVER_FROM_CORE,
    DROVER_FROM_CONFIG,
    DROVER_FROM_SERVICEGROUP,
    DROVER_FROM_DB,
    DROVER_FROM_MC,
    DROVER_FROM_ZK,
    DROVER_FROM_LIBVIRT,
    DROVER_FROM_STATE,
    DROVER_FROM_SCHEDULER,
    DROVER_FROM_AGENT,
    DROVER_FROM_REPORT
} drover_domain;

typedef struct drover_error {
    drover_code code;
    drover_domain domain;
    char message[1024];
} drover_error;

/* Short stable names ("unreachable", "config", ...) for codes and domains. */
const char *drover_code_name(drover_code code);
const char *drover_domain_name(drover_domain domain);

/* ---------------------------------------------------------------- model */

/* The answer to "is host X up?".  UNKNOWN means the backend could not be
 * asked; it is never reported as DOWN. */
typedef enum drover_liveness {
    DROVER_UP = 0,
    DROVER_DOWN = 1,
    DROVER_UNKNOWN = 2
} drover_liveness;

const char *drover_liveness_name(drover_liveness state);   /* "UP", "DOWN", "UNKNOWN" */

/* One guest as its host reported it. */
typedef struct drover_instance {
    char *name;
    char *uuid;                /* 36 characters, lower case */
    uint64_t memory_mib;
    char *state;               /* "running", "paused", "shutoff", ... */
} drover_instance;

/* What an agent publishes with each heartbeat, read from its own libvirt. */
#define DROVER_REPORT_SCHEMA 1
typedef struct drover_report {
    int schema;                    /* DROVER_REPORT_SCHEMA */
    char *host;
    int64_t generated_ms;          /* wall clock of the agent, ms since the epoch */
    char *hypervisor_type;         /* virConnectGetType: "QEMU", "Test", ... */
    uint64_t hypervisor_version;   /* major * 1,000,000 + minor * 1,000 + release */
    uint64_t libvirt_version;      /* same encoding */
    char *arch;                    /* "x86_64" */
    char *cpu_xml;                 /* the <cpu> element of the host capabilities */
    uint64_t memory_total_mib;
    uint64_t memory_free_mib;
    uint32_t vcpus;
    char *migration_uri;           /* how peers reach this host's libvirtd */
    drover_instance *instances;
    size_t n_instances;
} drover_report;

void drover_report_free(drover_report *report);

/* A member of a service group. */
typedef struct drover_member {
    char *group;
    char *host;
    drover_liveness state;
    bool disabled;
    char *disabled_reason;     /* NULL when none was given */
    bool forced_down;
    int64_t last_seen_ms;      /* last heartbeat, ms since the epoch; 0 = never */
    char *report_json;         /* the last report as stored; NULL if none */
    drover_report *report;     /* the same, decoded; NULL if none or undecodable */
    /* How the strings above are stored; set by drover, never by callers.
     * false: each string is an allocation of its own.  true: group, host
     * and disabled_reason live inside the allocation of the list the member
     * belongs to (drover_list_states() makes such lists: one allocation for
     * all of it), so they are released with the list by
     * drover_members_free(), and drover_member_clear() only forgets them. */
    bool packed;
} drover_member;

/* Free what a member holds and zero it (see packed above). */
void drover_member_clear(drover_member *member);
/* Free a list of n members, however it was made (drover_list_members(),
 * drover_list_states()).  Clearing some of its members first is allowed. */
void drover_members_free(drover_member *members, size_t n);

/* ---------------------------------------------------------------- context */

typedef struct drover_ctx drover_ctx;

/* Open a context from a configuration file (libconfig syntax, see
 * drover.conf(5)).  path NULL means $DROVER_CONF, else
 * /etc/drover/drover.conf.  Opens the configured servicegroup driver. */
int drover_open(const char *path, drover_ctx **out, drover_error *err);
void drover_close(drover_ctx *ctx);

/* The group operations act on: the config's agent.group ("compute"). */
const char *drover_ctx_group(const drover_ctx *ctx);

/* Is host up?  On success *state is UP or DOWN.  When the backend cannot be
 * asked, returns -1 with code DROVER_ERR_UNREACHABLE and *state = UNKNOWN.
 * A host that never joined gives DROVER_ERR_NOT_FOUND. */
int drover_is_up(drover_ctx *ctx, const char *host, drover_liveness *state,
                 drover_error *err);

/* Every member of the context's group, sorted by host name.  Members whose
 * liveness cannot be asked are listed with state UNKNOWN.  Free with
 * drover_members_free(). */
int drover_list_members(drover_ctx *ctx, drover_member **members, size_t *n,
                        drover_error *err);

/* What a liveness sweep needs, fast: every member of the context's group,
 * sorted by host name, exactly as drover_list_members() gives them (state,
 * last_seen_ms, disabled and its reason, forced_down) but without reports:
 * report_json and report are NULL.  Drivers that can skip reading the
 * reports do (db: one query that never reads them; the whole list is one
 * allocation); the others list everything and drop the reports.  Free with
 * drover_members_free(). */
int drover_list_states(drover_ctx *ctx, drover_member **members, size_t *n,
                       drover_error *err);

/* One member.  Clear with drover_member_clear(). */
int drover_get_member(drover_ctx *ctx, const char *host, drover_member *member,
                      drover_error *err);

/* Admin state.  A disabled member takes no new instances; a forced-down
 * member is DOWN whatever its heartbeat says.  reason may be NULL. */
int drover_set_disabled(drover_ctx *ctx, const char *host, bool disabled,
                        const char *reason, drover_error *err);
int drover_set_forced_down(drover_ctx *ctx, const char *host, bool forced_down,
                           drover_error *err);

/* ---------------------------------------------------------------- scheduling */

/* Where an instance can go, as `drover schedule` answers it (drover(1)). */
typedef struct drover_placement {
    char *host;                /* the destination */
    char *source;              /* the host running the instance now */
    char *instance_name;
    char *instance_uuid;
    uint64_t memory_mib;
    int64_t claim_id;          /* the claim held in the state store; 0 without one */
} drover_placement;

/* Pick a destination for a live migration of instance (its name or UUID as
 * its host reports it; it must be running or paused) among the members of
 * the context's group: the filters and weighers of scheduler = { }, then
 * the chosen host's own libvirt is asked whether it can take the guest (as
 * controller = { } says to reach it).  dest not NULL: that host only.
 * claim: hold the instance's memory on the destination in the state store
 * (state = { }, shared by every machine) until a migration releases it or
 * scheduler.claim_ttl_s
 * passes; false: a question only.  Errors: NOT_FOUND (no such instance or
 * dest), INVALID (not running or paused), NO_VALID_HOST (the message says
 * what each filter removed and why the hosts tried failed), LIBVIRT (the
 * source's libvirt could not be asked).  Clear *out with
 * drover_placement_clear() either way. */
int drover_schedule(drover_ctx *ctx, const char *instance, const char *dest, bool claim,
                    drover_placement *out, drover_error *err);
void drover_placement_clear(drover_placement *placement);

/* ---------------------------------------------------------------- migration */

/* The life of a live migration record (drover(1), "migration"):
 *   queued -> preparing -> running [-> post-copy] -> completed
 * or it ends failed (the guest runs on the source, nothing is left on the
 * destination), cancelled (aborted; the guest runs on the source) or error
 * (the guest needs an operator: the message says where it is). */
typedef enum drover_migration_state {
    DROVER_MIG_QUEUED = 0,
    DROVER_MIG_PREPARING,
    DROVER_MIG_RUNNING,
    DROVER_MIG_POSTCOPY,
    DROVER_MIG_COMPLETED,
    DROVER_MIG_FAILED,
    DROVER_MIG_CANCELLED,
    DROVER_MIG_ERROR
} drover_migration_state;

/* "queued", "post-copy", ... */
const char *drover_migration_state_name(drover_migration_state state);

#define DROVER_NAME_MAX 255

/* One migration record, as the state db (state.path) holds it. */
typedef struct drover_migration {
    int64_t id;
    char instance_name[DROVER_NAME_MAX + 1];
    char instance_uuid[40];
    char source[DROVER_NAME_MAX + 1];
    char destination[DROVER_NAME_MAX + 1];   /* "" until chosen */
    char policy[32];                         /* "adaptive", "nova" */
    drover_migration_state state;
    char owner_host[DROVER_NAME_MAX + 1];    /* the process running it */
    int64_t owner_pid;
    bool owner_alive;                        /* false for an orphan (see reconcile) */
    int64_t created_ms, started_ms, ended_ms;    /* ms since the epoch; 0 = not yet */
    uint64_t memory_mib;
    /* the latest job-stats sample */
    uint64_t data_total, data_processed, data_remaining;   /* bytes */
    uint64_t transfer_bps, dirty_bps;        /* bytes per second */
    uint64_t iteration;
    uint64_t downtime_ms;                    /* the maximum downtime in force */
    int64_t eta_ms;                          /* -1 = unknown */
    /* the policy's (or an operator's) last action and why */
    char action[24];
    char action_why[320];
    /* libvirt's figures once it ended; -1 = unknown */
    int64_t final_downtime_ms, final_total_ms;
    char message[1024];                      /* the error, or where the guest is */
} drover_migration;

typedef enum drover_migration_event {
    DROVER_MIG_EV_QUEUED = 0,      /* waiting for a slot of its source (max_concurrent) */
    DROVER_MIG_EV_STARTED,         /* the destination is chosen; the copy begins */
    DROVER_MIG_EV_SAMPLE,          /* a job-stats sample */
    DROVER_MIG_EV_ACTION,          /* the policy or an operator acted */
    DROVER_MIG_EV_STATE,           /* the state changed (post-copy, ...) */
    DROVER_MIG_EV_DONE             /* the record is settled */
} drover_migration_event;

typedef struct drover_migrate_opts {
    const char *dest;              /* NULL: the scheduler chooses */
    const char *policy;            /* NULL: migration.policy */
    int bandwidth_mib;             /* < 0: migration.bandwidth_mib; 0 = unlimited */
    bool post_copy;                /* permit post-copy for this one */
    /* Called from the calling thread for every event, with the record as it
     * is then; may be NULL.  Must not call back into the same context. */
    void (*progress)(void *arg, drover_migration_event ev, const drover_migration *m);
    /* Polled with every sample: true aborts the migration (the guest stays
     * on the source; refused once in post-copy).  May be NULL. */
    bool (*cancelled)(void *arg);
    void *arg;
} drover_migrate_opts;

/* Live-migrate instance (name or UUID), as `drover migrate` does: the
 * pre-checks, the queue, the scheduler's destination (or opts->dest),
 * virDomainMigrateToURI3 peer-to-peer, the monitor and the convergence
 * policy, then the outcome verified on both libvirts.  opts NULL: the
 * configuration's defaults.
 *   0: the migration ran and *out is its settled record: look at
 *      out->state (completed, failed, cancelled, or error with the message
 *      saying where the guest is);
 *  -1: nothing was migrated: err says why (NOT_FOUND, INVALID, NO_VALID_HOST
 *      with the scheduler's reason, CONFIG, UNREACHABLE, LIBVIRT).  out->id
 *      is non-zero when a record was made and settled meanwhile. */
int drover_migrate(drover_ctx *ctx, const char *instance, const drover_migrate_opts *opts,
                   drover_migration *out, drover_error *err);

/* The records by id; all = false: only those not settled (queued,
 * preparing, running, post-copy, error).  Free *out with free(). */
int drover_migration_list(drover_ctx *ctx, bool all, drover_migration **out, size_t *n,
                          drover_error *err);

/* One record: key is an id ("42") or an instance's name or UUID (its newest
 * record).  NOT_FOUND when there is none. */
int drover_migration_get(drover_ctx *ctx, const char *key, drover_migration *out,
                         drover_error *err);

/* Steer a migration another process (or thread) runs, through its source's
 * libvirt; the request is recorded and the owner reports the end.
 * Abort: a queued one is cancelled at once, a running one aborted (CONFLICT
 * in post-copy: it can only complete).  Force-complete: post-copy when
 * permitted, else the guest is paused until the copy completes. */
int drover_migration_abort(drover_ctx *ctx, int64_t id, drover_error *err);
int drover_migration_force_complete(drover_ctx *ctx, int64_t id, drover_error *err);

/* Settle the records whose owner is gone from what both libvirts say (a job
 * still running is watched to its end when watch is true), as `drover
 * migration reconcile` does.  *settled counts the records that reached a
 * final state, *left those left as they were (a host could not be asked, a
 * job still running); either may be NULL. */
int drover_migration_reconcile(drover_ctx *ctx, bool watch, size_t *settled, size_t *left,
                               drover_error *err);

/* ---------------------------------------------------------------- drain */

typedef struct drover_drain_guest {
    char instance[DROVER_NAME_MAX + 1];
    char uuid[40];
    bool moved;                    /* it runs on destination now */
    char destination[DROVER_NAME_MAX + 1];
    int64_t migration_id;          /* 0: no migration was started */
    char reason[1024];             /* when not moved: the scheduler's or the record's */
} drover_drain_guest;

typedef struct drover_drain_result {
    drover_drain_guest *guests;
    size_t n;
    bool agent_up;                 /* the host's agent was heartbeating */
    bool empty;                    /* the host runs no guest any more */
    size_t remaining;              /* guests still running or paused there */
} drover_drain_result;

/* Empty host, as `drover host drain` does: disable it (reason "drain"),
 * then live-migrate every running or paused guest to hosts the scheduler
 * picks, migration.max_concurrent at a time.  progress (may be NULL) is
 * called as each guest is settled, one call at a time.  0 with *out filled
 * (out->empty says whether it worked); -1 when nothing could be done.
 * Clear *out with drover_drain_result_clear(). */
int drover_drain(drover_ctx *ctx, const char *host,
                 void (*progress)(void *arg, const drover_drain_guest *g), void *arg,
                 drover_drain_result *out, drover_error *err);
void drover_drain_result_clear(drover_drain_result *res);

#ifdef __cplusplus
}
#endif
#endif /* DROVER_H */
