/* db.h - the db driver's own parts, shared by its files (db.c: open,
 * admin writes, reads; db_summary.c: heartbeats with their placement
 * summary and instance index, get_summaries, leave). */
#ifndef DV_DRIVERS_DB_H
#define DV_DRIVERS_DB_H

#include "core/report.h"
#include "core/sqlite.h"
#include "drivers/servicegroup.h"

enum { S_JOIN, S_HEARTBEAT, S_IS_UP, S_GET_ALL, S_GET, S_LEAVE, S_DISABLE, S_FORCE, S_STATES,
       S_INST_DEL, S_INST_ADD, S_SUMMARIES, S_LEGACY, S_FIND, S_INST_HASH, S_INSTANCE_HOSTS };

/* One row of get_states while it is read: strings are offsets into the
 * scratch text, since the text buffer moves as it grows. */
typedef struct state_row {
    size_t host, reason;    /* reason: NO_REASON when NULL */
    int64_t last_seen_ms;
    bool disabled, forced_down;
} state_row;
#define NO_REASON SIZE_MAX

typedef struct db_sg {
    dv_sg base;
    dv_sqlite *h;
    dv_report_decoder *dec; /* json-c's parser, kept for every report get_all decodes */
    size_t last_n;          /* members in the last get_all: the next one's first guess */
    /* get_states' scratch, kept between calls: a steady fleet then costs one
     * allocation per call (its result). */
    state_row *rows;
    size_t rows_cap;
    char *text;
    size_t text_cap;
} db_sg;

/* The servicegroup file's kind and schema steps: its first n steps are the
 * schema version n wrote (released steps are never edited). */
extern const dv_db_kind db_sg_kind;

db_sg *db_me(dv_sg *sg);
int db_not_found(db_sg *d, const char *group, const char *host, drover_error *err);
int db_nomem(drover_error *err);
/* The statement in slot with (group, host) bound as ?1, ?2 (host may be NULL). */
sqlite3_stmt *db_stmt(db_sg *d, unsigned slot, const char *sql, const char *group,
                   const char *host, drover_error *err);
/* Run a write on one member's row; no row changed means no such member. */
int db_write_member(db_sg *d, sqlite3_stmt *st, const char *what, const char *group,
                 const char *host, drover_error *err);
drover_liveness db_judge(dv_sg *sg, int64_t now, int64_t last_seen, bool forced_down);

int db_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                 drover_error *err);
int db_leave(dv_sg *sg, const char *group, const char *host, drover_error *err);
int db_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                     drover_error *err);
int db_find_instance(dv_sg *sg, const char *group, const char *key, char ***hosts, size_t *n,
                     drover_error *err);

#endif
