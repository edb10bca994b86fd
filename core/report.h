/* report.h - the host report an agent publishes: JSON codec (json-c). */
#ifndef DV_REPORT_H
#define DV_REPORT_H

#include <stddef.h>

#include "core/error.h"

/* Encode to a compact JSON object carrying "schema": DROVER_REPORT_SCHEMA.
 * *out is malloc'ed. */
int dv_report_to_json(const drover_report *r, char **out, drover_error *err);

/* Decode text read back from a backend.  Text that is not a JSON object,
 * has a newer schema, lacks a required field or has a field of the wrong
 * type gives DROVER_ERR_CORRUPT naming the field. */
int dv_report_from_json(const char *text, size_t len, drover_report **out, drover_error *err);

#endif
