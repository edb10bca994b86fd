/* mig_out.h - migration records for people (table, detail, progress) and
 * for programs (JSON), shared by cmd_migrate.c and cmd_migration.c. */
#ifndef DV_MIG_OUT_H
#define DV_MIG_OUT_H

#include <json-c/json.h>
#include <stdio.h>

#include "migrator/record.h"

json_object *dv_mig_record_json(const dv_mig_record *r, int64_t stale_ms);
/* " 45%  230/512 MiB  tx 32.1 MiB/s  dirty 5.0 MiB/s  iter 3  downtime 500 ms  ETA 8s" */
void dv_mig_progress_text(const dv_mig_record *r, char *buf, size_t len);
/* the same behind a 20-character bar */
void dv_mig_progress_bar(const dv_mig_record *r, char *buf, size_t len);
void dv_mig_table(FILE *out, const dv_mig_record *v, size_t n, int64_t stale_ms);
void dv_mig_show(FILE *out, const dv_mig_record *r);

#endif
