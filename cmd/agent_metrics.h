/* agent_metrics.h - what the agent (droverd) exposes on agent.metrics_listen:
 * heartbeats sent and failed (by reason), libvirt reads that failed or
 * timed out, whether it publishes, the time of its last heartbeat.  Every
 * function takes NULL (metrics off) and then does nothing. */
#ifndef DV_AGENT_METRICS_H
#define DV_AGENT_METRICS_H

#include <stdbool.h>

#include "core/config.h"
#include "core/error.h"

typedef struct dv_agent_metrics dv_agent_metrics;

/* Serve on c->agent.metrics_listen; *out stays NULL when it is "". */
int dv_agent_metrics_start(const dv_config *c, dv_agent_metrics **out, drover_error *err);
void dv_agent_metrics_stop(dv_agent_metrics *am);

/* A tick's outcome: sent, or not and why ("libvirt", "backend", "internal"). */
void dv_agent_metrics_heartbeat(dv_agent_metrics *am, bool sent, const char *why);

/* A libvirt read that gave no report: timeout true for "no answer in time"
 * (or still stuck in an earlier read), false for an error libvirt returned. */
void dv_agent_metrics_libvirt_failure(dv_agent_metrics *am, bool timeout);

#endif
