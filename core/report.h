/* report.h - the host report an agent publishes: JSON codec (json-c). */
#ifndef DV_REPORT_H
#define DV_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/model.h"

/* The largest report (JSON bytes) any backend accepts, so one limit holds
 * everywhere: memcached stores items up to 1 MiB by default (with its key
 * and the value's header), ZooKeeper drops a client that sends a packet
 * above jute.maxbuffer (1 MiB); SQLite would take more, but one row must
 * never hold megabytes.  The encoder refuses larger reports, and
 * dv_sg_heartbeat (drivers/registry.c) refuses them for every driver, for
 * reports that were not made by the encoder. */
#define DV_REPORT_MAX (1000 * 1000)

/* Encode to a compact JSON object carrying "schema": DROVER_REPORT_SCHEMA.
 * *out is malloc'ed.  NULL strings are written as "".  A number above
 * 2^53 - 1 (which JSON readers do not keep exactly), or an instance's
 * memory_mib above UINT32_MAX, gives DROVER_ERR_INVALID naming the field;
 * a report longer than DV_REPORT_MAX bytes, DROVER_ERR_INVALID too. */
int dv_report_to_json(const drover_report *r, char **out, drover_error *err);

/* Decode text read back from a backend.  Text that is not one strict JSON
 * object (RFC 8259, UTF-8, nothing after it but white space), has a newer
 * schema, lacks a required field, has a field of the wrong type, a negative
 * or too large number, or a string holding a NUL gives DROVER_ERR_CORRUPT
 * naming the field ("memory_free_mib", "instances[2].uuid").  Unknown
 * fields are ignored. */
int dv_report_from_json(const char *text, size_t len, drover_report **out, drover_error *err);

/* A decoder keeps json-c's parser from one report to the next, so decoding
 * many in a row (a driver's get_all) does not set one up for each.  One
 * thread at a time.  new: NULL on ENOMEM. */
typedef struct dv_report_decoder dv_report_decoder;
dv_report_decoder *dv_report_decoder_new(void);
void dv_report_decoder_free(dv_report_decoder *dec);
/* dv_report_from_json with dec's parser (NULL: a parser for this call). */
int dv_report_decode(dv_report_decoder *dec, const char *text, size_t len, drover_report **out,
                     drover_error *err);

/* ---------------------------------------------------------------- summaries
 *
 * A report's placement summary (core/summary.c): every field of the report
 * but the CPU XML, which only the live checks read and which is most of a
 * report's bytes, in a text a reader parses without a JSON parser.  The
 * drivers keep it beside the report at each heartbeat, so the scheduler and
 * `host list` read a fleet without decoding every report's JSON. */

/* Encode r; *out is malloc'ed and NUL-terminated, *len its length. */
int dv_summary_encode(const drover_report *r, char **out, size_t *len, drover_error *err);
/* The summary of a report's JSON: 0 and *out, or 1 (*out NULL) when the
 * JSON does not decode (the driver then stores that the report is
 * undecodable), or -1 on ENOMEM. */
int dv_summary_of_json(dv_report_decoder *dec, const char *json, size_t len, char **out,
                       size_t *out_len, drover_error *err);
/* Does text start like a summary? */
bool dv_is_summary(const char *text, size_t len);

/* Decoded summaries live in an arena: one allocation for many, freed at
 * once.  A report from the arena has cpu_xml NULL and must never be given
 * to drover_report_free. */
typedef struct dv_arena dv_arena;
dv_arena *dv_arena_new(void);          /* NULL on ENOMEM */
void dv_arena_free(dv_arena *a);
/* A NUL-terminated copy of n bytes of s in the arena; NULL on ENOMEM. */
char *dv_arena_strndup(dv_arena *a, const char *s, size_t n);
/* Members with the summary of each one's report: what get_summaries lists
 * (drivers/servicegroup.h). */
typedef struct dv_member_summary {
    /* NULL: no report, or one that does not decode.  Its instance list may
     * be left out (instances NULL, n_instances 0: see get_summaries);
     * n_instances and memory_used_mib below count them either way. */
    const drover_report *report;
    bool stored;                   /* a report is stored (decodable or not) */
    size_t n_instances;
    uint64_t memory_used_mib;      /* the sum of the instances' memory_mib */
} dv_member_summary;

/* Decode the summary at the start of text (len bytes; what follows its
 * final newline is not read) into ms (report, n_instances,
 * memory_used_mib); instances false leaves the instance list out of the
 * report.  *used: the summary's bytes with the newline.  Anything else
 * gives DROVER_ERR_CORRUPT naming the field (ms->report NULL). */
int dv_summary_decode(dv_arena *a, const char *text, size_t len, bool instances, size_t *used,
                      dv_member_summary *ms, drover_error *err);

typedef struct dv_summary_list {
    drover_member *members;        /* their report_json and report may be NULL */
    size_t n;
    dv_member_summary *sums;       /* one per member */
    dv_arena *arena;               /* what sums[].report point into (or NULL) */
} dv_summary_list;

void dv_summary_list_free(dv_summary_list *l);

#endif
