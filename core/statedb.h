/* statedb.h - the controller's state database (SQLite, state.path).
 *
 * What must outlive a backend restart or a process: the member list of
 * drivers that cannot list keys (mc), admin state (disabled, forced_down)
 * for drivers whose backend forgets (mc, zk), scheduler claims, and later
 * migration records.  Opened with WAL, synchronous=NORMAL, busy_timeout,
 * a schema version with an upgrade path, file mode 0600.  Prepared
 * statements only.  One handle per thread.
 */
#ifndef DV_STATEDB_H
#define DV_STATEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct dv_statedb dv_statedb;

/* The state db's file kind and schema steps (core/sqlite.h): its first n
 * steps are the schema version n wrote, since a released step is never
 * edited (tests build older files from them). */
extern const struct dv_db_kind dv_statedb_kind;

int dv_statedb_open(const char *path, int busy_timeout_ms, dv_statedb **out, drover_error *err);
void dv_statedb_close(dv_statedb *db);

/* The SQLite handle, for the layers that keep their own tables in the state
 * db (migrator/record.c: the migration table of schema step 2).  They use
 * statement slots from DV_STATEDB_SLOT_USER up; statedb.c stays below. */
struct dv_sqlite;
struct dv_sqlite *dv_statedb_sqlite(dv_statedb *db);
#define DV_STATEDB_SLOT_USER 16

/* ---- members of a group (for drivers that cannot list their keys) */
/* Adding a member twice is fine.  Removing forgets the member and its admin
 * state; removing a non-member is DROVER_ERR_NOT_FOUND. */
int dv_statedb_member_add(dv_statedb *db, const char *group, const char *host, drover_error *err);
int dv_statedb_member_remove(dv_statedb *db, const char *group, const char *host, drover_error *err);
/* Hosts sorted by name; free with dv_strv_free(). */
int dv_statedb_member_list(dv_statedb *db, const char *group, char ***hosts, size_t *n,
                           drover_error *err);
/* Apply what another source of truth says, in one transaction: add every
 * host of add[] (members already there stay as they are), remove every
 * host of del[] with its admin state (non-members are no error).  Names
 * that fail dv_name_check are skipped, not errors: they come from outside. */
int dv_statedb_member_sync(dv_statedb *db, const char *group, const char *const *add,
                           size_t n_add, const char *const *del, size_t n_del,
                           drover_error *err);
/* *yes = whether host is a member of group (one indexed lookup). */
int dv_statedb_member_has(dv_statedb *db, const char *group, const char *host, bool *yes,
                          drover_error *err);
void dv_strv_free(char **v, size_t n);

/* ---- admin state; a member never set reads as all false / NULL */
typedef struct dv_admin {
    char *host;
    bool disabled;
    char *reason;          /* NULL when none */
    bool forced_down;
} dv_admin;

int dv_statedb_admin_get(dv_statedb *db, const char *group, const char *host, dv_admin *out,
                         drover_error *err);
/* Every member of group with admin state set, sorted by host. */
int dv_statedb_admin_all(dv_statedb *db, const char *group, dv_admin **out, size_t *n,
                         drover_error *err);
/* Enabling (disabled false) forgets the reason, as Nova does. */
int dv_statedb_set_disabled(dv_statedb *db, const char *group, const char *host, bool disabled,
                            const char *reason, drover_error *err);
int dv_statedb_set_forced_down(dv_statedb *db, const char *group, const char *host,
                               bool forced_down, drover_error *err);
void dv_admin_clear(dv_admin *a);
void dv_admins_free(dv_admin *a, size_t n);

/* ---- scheduler claims: memory reserved on a destination until released
 * or expired, so two schedulers never overcommit a host. */

/* The rules of a claim, the same in this db and in every state store
 * backend.  Its arguments: an instance, a positive ttl_s, sizes that fit
 * an int64 (DROVER_ERR_INVALID otherwise). */
int dv_claim_args_check(const char *host, const char *instance_uuid, uint64_t memory_mib,
                        uint64_t capacity_mib, int ttl_s, drover_error *err);
/* Whether memory_mib more fit on capacity_mib beside the held MiB: 0, or
 * DROVER_ERR_CONFLICT in domain saying how much is claimed already. */
int dv_claim_room_check(const char *host, uint64_t held, uint64_t capacity_mib,
                        uint64_t memory_mib, drover_domain domain, drover_error *err);

/* In one IMMEDIATE transaction: sum the unexpired claims on host; if
 * sum + memory_mib <= capacity_mib, insert a claim expiring at
 * now_ms + ttl_s * 1000 and set *claim_id; otherwise DROVER_ERR_CONFLICT
 * saying how much is claimed already. */
int dv_statedb_claim_try(dv_statedb *db, const char *host, const char *instance_uuid,
                         uint64_t memory_mib, uint64_t capacity_mib, int64_t now_ms, int ttl_s,
                         int64_t *claim_id, drover_error *err);
/* Releasing a claim that is gone already (released, expired) is not an error. */
int dv_statedb_claim_release(dv_statedb *db, int64_t claim_id, drover_error *err);
/* MiB held by unexpired claims on host. */
int dv_statedb_claimed_mib(dv_statedb *db, const char *host, int64_t now_ms, uint64_t *mib,
                           drover_error *err);

#endif
