/* report.h - the host report an agent publishes: JSON codec (json-c). */
#ifndef DV_REPORT_H
#define DV_REPORT_H

#include <stddef.h>

#include "core/error.h"

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

#endif
