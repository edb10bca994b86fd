/* servicegroup.h - the liveness driver interface.
 *
 * One const struct of operations per driver, registered by name (like
 * sqlite3_vfs).  A NULL slot means "not supported": the dv_sg_* wrappers
 * below turn it into DROVER_ERR_UNSUPPORTED instead of a crash.  Callers use
 * the wrappers, never the slots directly.
 *
 * Every driver instance starts with a struct dv_sg (its "base"), so a
 * driver's own struct is `struct db_sg { struct dv_sg base; ... }`.
 *
 * Rules every driver keeps:
 *  - group and host have passed dv_name_check() (the wrappers check).
 *  - When the backend cannot be asked, fail with DROVER_ERR_UNREACHABLE;
 *    never answer DOWN.  get_all may instead return the members it knows
 *    with state DROVER_UNKNOWN.
 *  - A host that never joined: DROVER_ERR_NOT_FOUND.
 *  - Admin state (disabled, forced_down) survives a restart of the backend.
 */
#ifndef DV_SERVICEGROUP_H
#define DV_SERVICEGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/report.h"

/* 2: the config section (keys, rules, defaults) is the driver's own */
#define DV_SG_OPS_VERSION 2

struct dv_sg_ops;

typedef struct dv_sg {
    const struct dv_sg_ops *ops;
    const dv_config *cfg;      /* borrowed; outlives the driver */
    dv_clock clock;            /* what "now" is when judging liveness */
} dv_sg;

typedef struct dv_sg_ops {
    int version;               /* DV_SG_OPS_VERSION */
    const char *name;          /* "db", "mc", "zk" */
    /* The driver's section servicegroup.<name>: its keys, their rules and
     * defaults, and the rules between them (core/config.h).  core/config.c
     * checks a file against it; dv_sg_open checks a config a program built
     * against it again, so open never validates on its own.  May be NULL
     * (a driver without settings). */
    const dv_config_section *config;

    int (*open)(const dv_config *cfg, dv_sg **out, drover_error *err);
    void (*close)(dv_sg *sg);

    /* Become a member (or refresh membership) with no report yet. */
    int (*join)(dv_sg *sg, const char *group, const char *host, drover_error *err);
    /* Record "alive now" with the member's report (JSON text, may be NULL). */
    int (*heartbeat)(dv_sg *sg, const char *group, const char *host,
                     const char *report_json, drover_error *err);
    int (*is_up)(dv_sg *sg, const char *group, const char *host,
                 drover_liveness *state, drover_error *err);
    /* Every member of group, sorted by host.  *members is malloc'ed. */
    int (*get_all)(dv_sg *sg, const char *group, drover_member **members,
                   size_t *n, drover_error *err);
    /* The same without reports (report_json and report NULL): what a
     * liveness sweep needs.  Optional: dv_sg_get_states() falls back to
     * get_all when it is NULL.  The list may be packed (drover_member.packed:
     * one allocation); either way drover_members_free() frees it. */
    int (*get_states)(dv_sg *sg, const char *group, drover_member **members,
                      size_t *n, drover_error *err);
    int (*get)(dv_sg *sg, const char *group, const char *host,
               drover_member *member, drover_error *err);
    int (*leave)(dv_sg *sg, const char *group, const char *host, drover_error *err);

    int (*set_disabled)(dv_sg *sg, const char *group, const char *host,
                        bool disabled, const char *reason, drover_error *err);
    int (*set_forced_down)(dv_sg *sg, const char *group, const char *host,
                           bool forced_down, drover_error *err);

    /* Every member of group, sorted by host, with the placement summary of
     * its report (core/report.h) instead of the report: what the scheduler
     * and `host list` read.  The members' report_json and report may be
     * NULL.  instances false: the summaries' instance lists may be left out
     * (their counts and memory stay), for callers that find instances with
     * find_instance; a driver keeps the lists find_instance does not cover
     * (db: rows no heartbeat has written since the schema step).  Optional: dv_sg_get_summaries() falls back to get_all
     * (the summaries are then the full reports).  Free with
     * dv_summary_list_free. */
    int (*get_summaries)(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                         drover_error *err);
    /* The hosts whose last report lists an instance named key or with UUID
     * key (ASCII case ignored), whatever its state: an index lookup, every
     * such host (it may name one more, never one less).  *hosts is one
     * malloc'ed block (free(*hosts) frees the names too).  Optional: NULL
     * means the caller reads every member's instance list. */
    int (*find_instance)(dv_sg *sg, const char *group, const char *key, char ***hosts,
                         size_t *n, drover_error *err);
} dv_sg_ops;

/* The registry.  NULL (and err set) when no driver has that name. */
const dv_sg_ops *dv_sg_find(const char *name, drover_error *err);
/* Names of all registered drivers, NULL-terminated. */
const char *const *dv_sg_names(void);

/* Open the driver cfg->servicegroup.driver names. */
int dv_sg_open(const dv_config *cfg, dv_sg **out, drover_error *err);
/* Open through an ops table directly, with the same guards (version, NULL
 * open slot).  For tests of the guards with tables that are not registered. */
int dv_sg_open_ops(const dv_sg_ops *ops, const dv_config *cfg, dv_sg **out, drover_error *err);
void dv_sg_close(dv_sg *sg);

int dv_sg_join(dv_sg *sg, const char *group, const char *host, drover_error *err);
int dv_sg_heartbeat(dv_sg *sg, const char *group, const char *host,
                    const char *report_json, drover_error *err);
/* On DROVER_ERR_UNREACHABLE, *state is set to DROVER_UNKNOWN. */
int dv_sg_is_up(dv_sg *sg, const char *group, const char *host,
                drover_liveness *state, drover_error *err);
int dv_sg_get_all(dv_sg *sg, const char *group, drover_member **members,
                  size_t *n, drover_error *err);
/* get_states, or for a driver without it get_all with the reports dropped. */
int dv_sg_get_states(dv_sg *sg, const char *group, drover_member **members,
                     size_t *n, drover_error *err);
/* get_summaries, or for a driver without it get_all (each summary is then
 * the member's full report). */
int dv_sg_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                        drover_error *err);
/* Does the driver answer find_instance? */
bool dv_sg_has_find_instance(const dv_sg *sg);
int dv_sg_find_instance(dv_sg *sg, const char *group, const char *key, char ***hosts, size_t *n,
                        drover_error *err);
int dv_sg_get(dv_sg *sg, const char *group, const char *host,
              drover_member *member, drover_error *err);
int dv_sg_leave(dv_sg *sg, const char *group, const char *host, drover_error *err);
int dv_sg_set_disabled(dv_sg *sg, const char *group, const char *host,
                       bool disabled, const char *reason, drover_error *err);
int dv_sg_set_forced_down(dv_sg *sg, const char *group, const char *host,
                          bool forced_down, drover_error *err);

/* The drivers (a folder each, drivers/NAME/; each adds itself to registry.c,
 * see drivers/README.md). */
extern const dv_sg_ops dv_sg_db_ops;
extern const dv_sg_ops dv_sg_mc_ops;
extern const dv_sg_ops dv_sg_zk_ops;

#endif
