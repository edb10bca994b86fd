/* output.h - how `drover` shows members and reports: a table for people,
 * JSON (json-c) for programs. */
#ifndef DV_OUTPUT_H
#define DV_OUTPUT_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "drover.h"
#include "core/model.h"     /* dv_version_format */

/* "2026-11-27T02:22:35Z" into buf; "never" for 0. */
const char *dv_fmt_time(int64_t ms, char *buf, size_t len);
/* "3s ago", "2m ago", "in 4s" (skew), "never". */
const char *dv_fmt_age(int64_t now_ms, int64_t ms, char *buf, size_t len);

/* A member as a JSON object (the stored report embedded as an object). */
json_object *dv_member_json(const drover_member *m);
/* A report as a JSON object: parsed from the member's stored text. */
json_object *dv_report_json(const drover_member *m);

/* Print a JSON value followed by a newline; frees it.  -1 on ENOMEM. */
int dv_print_json(FILE *out, json_object *v);

#endif
