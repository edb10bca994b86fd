/* record.h - migration records in the state db (schema step 2).
 *
 * Every migration is one row from the moment it is asked for: who owns it
 * (host, pid, process start time, a heartbeat), where it goes, its state,
 * the latest job statistics, the policy's last decision and why, what
 * another process asked of it (abort, force-complete), the final figures
 * libvirt gave and the error.  Several drover processes share the file:
 * the owner writes stats and state, others read, list and leave requests.
 *
 * States and the transitions allowed (a terminal state never changes):
 *   queued    -> preparing | cancelled | failed | error
 *   preparing -> running | cancelled | failed | error
 *   running   -> post-copy | completed | cancelled | failed | error
 *   post-copy -> completed | error
 *   error     -> completed | failed   (only by recovery, which checks both
 *                                      libvirts first; see dv_mig_record_settle)
 * Prepared statements only.
 */
#ifndef DV_MIG_RECORD_H
#define DV_MIG_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/model.h"
#include "core/statedb.h"
#include "migrator/policy.h"

typedef enum dv_mig_state {
    DV_MIG_QUEUED = 0,
    DV_MIG_PREPARING,
    DV_MIG_RUNNING,
    DV_MIG_POSTCOPY,
    DV_MIG_COMPLETED,
    DV_MIG_FAILED,
    DV_MIG_CANCELLED,
    DV_MIG_ERROR,
    DV_MIG_N_STATES
} dv_mig_state;

/* "queued", "post-copy", ...; dv_mig_state_parse: -1 for an unknown name. */
const char *dv_mig_state_name(dv_mig_state s);
int dv_mig_state_parse(const char *name);
bool dv_mig_state_terminal(dv_mig_state s);
/* Holds (or waits for) a slot of its source: queued, preparing, running, post-copy. */
bool dv_mig_state_active(dv_mig_state s);
bool dv_mig_transition_ok(dv_mig_state from, dv_mig_state to);

#define DV_MIG_MSG_MAX 1024

typedef struct dv_mig_record {
    int64_t id;
    char instance_name[DV_NAME_MAX + 1];
    char instance_uuid[40];
    char source[DV_NAME_MAX + 1];
    char destination[DV_NAME_MAX + 1];   /* "" until the scheduler chose */
    char policy[32];
    dv_mig_state state;
    char owner_host[DV_NAME_MAX + 1];
    int64_t owner_pid;
    int64_t owner_start;                 /* /proc/PID/stat starttime (ticks) */
    int64_t heartbeat_ms;
    int64_t created_ms, started_ms, ended_ms;   /* wall clock; 0 = not yet */
    uint64_t flags;                      /* virDomainMigrateFlags used */
    int64_t claim_id;
    uint64_t memory_mib;
    /* latest sample */
    uint64_t data_total, data_processed, data_remaining;
    uint64_t transfer_bps, dirty_bps, iteration, downtime_ms;
    int64_t eta_ms;                      /* -1 = unknown */
    int64_t stats_ms;                    /* when the sample was taken */
    /* the policy's (or an operator's) last action */
    char action[24];
    char action_why[DV_MIG_WHY_MAX];
    int64_t action_ms;
    /* what another process asked for: "", "abort", "force-complete" */
    char request[24];
    char request_by[128];
    /* from libvirt when it ended; -1 = not known */
    int64_t final_downtime_ms, final_total_ms;
    char message[DV_MIG_MSG_MAX];        /* the error, or where the guest is */
} dv_mig_record;

/* snprintf for messages: a message cut at len is still a message (and the
 * compiler's truncation warnings do not apply to it). */
void dv_mig_msgf(char *buf, size_t len, const char *fmt, ...) DV_PRINTF(3, 4);

/* This process as an owner: host name (gethostname), pid, start time. */
typedef struct dv_mig_owner {
    char host[DV_NAME_MAX + 1];
    pid_t pid;
    int64_t start;
} dv_mig_owner;

void dv_mig_owner_self(dv_mig_owner *o);

/* Whether the owner of r still lives: on this machine (same host name), its
 * pid runs with the same start time; elsewhere, its heartbeat is younger
 * than stale_ms. */
bool dv_mig_owner_alive(const dv_mig_record *r, const dv_mig_owner *self, int64_t now_ms,
                        int64_t stale_ms);

/* A new record, state queued, owned by self.  Sets r->id and created_ms. */
int dv_mig_record_create(dv_statedb *db, dv_mig_record *r, const dv_mig_owner *self,
                         drover_error *err);

/* NOT_FOUND when there is no such id. */
int dv_mig_record_get(dv_statedb *db, int64_t id, dv_mig_record *out, drover_error *err);

/* The newest record of an instance (name or UUID) that is not terminal,
 * else the newest of all; NOT_FOUND when it never migrated. */
int dv_mig_record_find_instance(dv_statedb *db, const char *instance, dv_mig_record *out,
                                drover_error *err);

/* Records by id; all = false: only those not terminal.  Free with free(). */
int dv_mig_record_list(dv_statedb *db, bool all, dv_mig_record **out, size_t *n,
                       drover_error *err);

/* Move r to state `to` (checked against the table above and against what
 * the row holds now, in one IMMEDIATE transaction), setting message (NULL
 * keeps it) and started_ms / ended_ms as the state implies.  CONFLICT when
 * the row is in a state that cannot go there (e.g. cancelled by another
 * process while queued); r->state is refreshed then. */
int dv_mig_record_set_state(dv_statedb *db, dv_mig_record *r, dv_mig_state to,
                            const char *message, drover_error *err);

/* The destination, its claim and the flags, once chosen. */
int dv_mig_record_set_plan(dv_statedb *db, const dv_mig_record *r, drover_error *err);

/* The latest sample (r's stats fields and stats_ms) and a heartbeat. */
int dv_mig_record_set_stats(dv_statedb *db, const dv_mig_record *r, drover_error *err);

/* An action taken (r->action, r->action_why, r->action_ms). */
int dv_mig_record_set_action(dv_statedb *db, const dv_mig_record *r, drover_error *err);

/* Final figures (final_downtime_ms, final_total_ms). */
int dv_mig_record_set_final(dv_statedb *db, const dv_mig_record *r, drover_error *err);

/* Rewrite the message of a record in error (what a failed recovery found). */
int dv_mig_record_set_message(dv_statedb *db, const dv_mig_record *r, drover_error *err);

/* Only the heartbeat (while queued). */
int dv_mig_record_heartbeat(dv_statedb *db, int64_t id, drover_error *err);

/* Leave a request ("abort", "force-complete") and who made it. */
int dv_mig_record_request(dv_statedb *db, int64_t id, const char *request, const char *by,
                          drover_error *err);

/* Read only the state and the request of a record (cheap, every poll). */
int dv_mig_record_poll(dv_statedb *db, int64_t id, dv_mig_state *state, char *request,
                       size_t len, drover_error *err);

/* Concurrency: whether record id may leave the queue.  In one IMMEDIATE
 * transaction, counts the records of the same source that hold a slot
 * (preparing, running, post-copy) plus the queued ones ahead of it (smaller
 * id), skipping those whose owner is dead (dv_mig_owner_alive); when fewer
 * than max_concurrent, moves it to preparing and sets *got.  Otherwise
 * *ahead says how many are before it and *blocker the id of the oldest. */
int dv_mig_record_try_slot(dv_statedb *db, dv_mig_record *r, int max_concurrent,
                           const dv_mig_owner *self, int64_t stale_ms, bool *got,
                           int *ahead, int64_t *blocker, drover_error *err);

#endif
