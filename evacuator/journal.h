/* journal.h - the evacuation journal: one record of kind "evacuation" per
 * evacuation of a host in the state store (store/store.h), holding every
 * step (detected, gated, disabled, fenced, per guest placed, migrated,
 * rebuilt or failed and why) with the epoch of the evacuator lease that
 * wrote it.  Every write is conditional on the record's version and
 * carries the lease's fencing token, so a controller that lost the lease
 * cannot write (the store refuses a stale epoch).
 *
 * The controller also keeps one record of kind "evacuator", id "status":
 * its last sweep (leader and epoch, breaker and why, candidates with their
 * timers, rate tokens), which `drover evacuation status` shows. */
#ifndef DV_EVAC_JOURNAL_H
#define DV_EVAC_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

#define DV_EVAC_KIND "evacuation"
#define DV_EVAC_STATUS_KIND "evacuator"
#define DV_EVAC_STATUS_ID "status"
#define DV_EVAC_LEASE "evacuator"
#define DV_EVAC_MSG_MAX 512
#define DV_EVAC_MAX_STEPS 200      /* the oldest steps beyond this are dropped */

typedef struct dv_evac_guest {
    char uuid[40];
    char name[DV_NAME_MAX + 1];
    uint64_t memory_mib;
    char was[16];                  /* its state in the host's last report */
    char outcome[16];              /* "" (pending), "migrated", "rebuilt", "failed", "unplaced" */
    char dest[DV_NAME_MAX + 1];    /* where it runs now ("" when nowhere known) */
    char why[DV_EVAC_MSG_MAX];
    int64_t claim_id;              /* the memory claim on dest, released once it reports it */
} dv_evac_guest;

typedef struct dv_evac_step {
    int64_t t_ms;                  /* wall clock */
    int64_t epoch;
    char step[24];                 /* "detected", "gated", "disabled", "fenced", "fence-failed", ... */
    char msg[DV_EVAC_MSG_MAX];
} dv_evac_step;

typedef struct dv_evac {
    char id[DV_NAME_MAX + 1];      /* "HOST.STARTED_MS" */
    char host[DV_NAME_MAX + 1];
    char state[16];                /* "detected", "draining", "fencing", "fenced", "rebuilding",
                                    * final: "drained", "rebuilt", "failed" (with done) */
    char path[8];                  /* "drain", "rebuild", "" (not decided yet) */
    bool fenced;                   /* a fence was confirmed */
    bool done;
    int64_t started_ms, updated_ms;
    int64_t epoch;                 /* of the last write */
    dv_evac_guest *guests;
    size_t n_guests;
    dv_evac_step *steps;
    size_t n_steps;
    int64_t version;               /* the store's; 0 = not written yet */
} dv_evac;

void dv_evac_clear(dv_evac *e);

/* A new evacuation of host at now_ms (not written yet). */
int dv_evac_new(dv_evac *e, const char *host, int64_t now_ms, drover_error *err);
int dv_evac_add_guest(dv_evac *e, const char *uuid, const char *name, uint64_t memory_mib,
                      const char *was, drover_error *err);
/* Append a step (printf-style message), also logged at info. */
int dv_evac_step_add(dv_evac *e, int64_t epoch, const char *step, const char *fmt, ...)
    DV_PRINTF(4, 5);

int dv_evac_to_json(const dv_evac *e, char **out, drover_error *err);
int dv_evac_from_json(const char *json, dv_evac *e, drover_error *err);

/* Write e (create or update at e->version) under the lease epoch. */
int dv_evac_put(dv_store *st, dv_evac *e, int64_t epoch, drover_error *err);
/* Every evacuation, oldest first.  Free with dv_evacs_free. */
int dv_evac_list(dv_store *st, dv_evac **out, size_t *n, drover_error *err);
void dv_evacs_free(dv_evac *v, size_t n);
int dv_evac_get(dv_store *st, const char *id, dv_evac *e, drover_error *err);

/* The latest evacuation of host in v (NULL when none). */
dv_evac *dv_evac_latest(dv_evac *v, size_t n, const char *host);

#endif
