/* agentproc.h - a child process heartbeating members through its own
 * servicegroup handle (and so its own backend connection and state
 * database), the way droverd's agent does, for driver tests that must kill
 * an agent for real.  The wall time of its last round in which every
 * heartbeat worked is kept in shared memory. */
#ifndef DV_TEST_AGENTPROC_H
#define DV_TEST_AGENTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"

typedef struct dv_agentproc {
    pid_t pid;
    volatile int64_t *beat;    /* ms since the epoch; 0 until the first round */
} dv_agentproc;

typedef struct dv_agentproc_spec {
    const dv_config *cfg;
    const char *group;
    char *const *hosts;        /* one process may stand in for many hosts */
    size_t n_hosts;
    const char *report;        /* report JSON sent with each heartbeat; may be NULL */
    bool join;                 /* join each host first (else heartbeats join) */
    int interval_s;            /* seconds between rounds */
} dv_agentproc_spec;

/* Fork the agent and wait (up to 5 s) for its first good round.  -1 after
 * printing why on stderr (the caller bails out). */
int dv_agentproc_start(dv_agentproc *a, const dv_agentproc_spec *spec);
/* SIGKILL it (its beat stays readable). */
void dv_agentproc_kill(dv_agentproc *a);
/* Kill it and release the shared memory. */
void dv_agentproc_free(dv_agentproc *a);

#endif
