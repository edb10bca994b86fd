/* fleet.h - a synthetic fleet for the benchmarks (bench/liveness,
 * bench/scheduler --e2e): a scratch backend for a driver, host names, the
 * reports those hosts send, clocks and size lists; and the scheduler knobs
 * the scheduler's unit tests and bench/scheduler are written for. */
#ifndef DV_TEST_FLEET_H
#define DV_TEST_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/config.h"
#include "scheduler/scheduler.h"
#include "tests/harness/harness.h"
#include "tests/harness/zk.h"

typedef struct dv_fleet_backend {
    char *scratch;           /* a fresh directory: the db file and the state db */
    dv_mc_server mc;         /* driver "mc": a memcached of our own */
    dv_zk_cluster zk;        /* driver "zk": a standalone ZooKeeper of our own */
    bool mc_up, zk_up;
} dv_fleet_backend;

/* Point cfg (servicegroup.driver = driver) at a scratch backend: the db
 * file and state.path in a scratch directory, and for mc and zk a server
 * the harness starts.  dv_fleet_backend_stop undoes what was done, also
 * after a failure. */
int dv_fleet_backend_start(dv_fleet_backend *b, dv_config *cfg, const char *driver,
                           drover_error *err);
void dv_fleet_backend_stop(dv_fleet_backend *b);

/* The name of host i: "compute-000042.rack02.example.net". */
void dv_fleet_host(char *buf, size_t len, size_t i);

/* The report host i sends at now, as a mid-size compute host sends it:
 * CPU XML and 4 guests whose names and UUIDs are unique over the fleet and
 * the same at every heartbeat (~1.1 KiB of JSON).  Malloc'ed; NULL with
 * err set. */
char *dv_fleet_report(const char *host, size_t i, int64_t now, drover_error *err);

/* A small report for tests of summaries: host h with free_mib free, two
 * guests (web-1 running, db-1 paused), "<cpu/>".  Malloc'ed JSON; NULL when
 * it cannot be encoded. */
char *dv_fleet_small_report(const char *h, uint64_t free_mib);

/* The UUID of guest g (0..3) of host i in its report. */
void dv_fleet_uuid(char *buf, size_t len, size_t i, int g);

/* Seconds on clock which (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...). */
double dv_fleet_clock(clockid_t which);

/* drover's built-in scheduler knobs, written out so that a test's numbers
 * do not move with the defaults: ram_allocation_ratio 1.0, 512 MiB
 * reserved, ram_weight_multiplier 1.0, host_subset_size 1, unlimited
 * retries, claims of 600 s, service_down_time 60 s. */
dv_sched_params dv_fleet_sched_params(void);

/* "1000,10000" into v (at most max sizes, each 1..10000000): how many, or
 * -1 for anything else. */
int dv_fleet_sizes(const char *s, size_t *v, int max);

#endif
