/* agent_metrics.c - the agent's metrics (see agent_metrics.h). */
#include "cmd/agent_metrics.h"
#include "cmd/metrics_http.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdlib.h>

struct dv_agent_metrics {
    dv_metrics *m;
    dv_metrics_http *http;
    dv_metric *sent, *failed, *libvirt, *last, *publishing, *info;
};

static int define(dv_agent_metrics *a, const dv_config *c, drover_error *err)
{
    static const char *const reason[] = { "reason", NULL }, *const kind[] = { "kind", NULL };
    static const char *const info[] = { "host", "group", "driver", "version", NULL };
    const char *const info_v[] = { c->agent.host, c->agent.group, c->servicegroup.driver,
                                   DROVER_VERSION_STRING };

    if (!(a->info = dv_metrics_gauge(a->m, "drover_agent_info",
                                     "This agent: its member name, group, servicegroup driver "
                                     "and version (always 1).", info, err)) ||
        !(a->sent = dv_metrics_counter(a->m, "drover_agent_heartbeats_total",
                                       "Heartbeats published.", NULL, err)) ||
        !(a->failed = dv_metrics_counter(a->m, "drover_agent_heartbeat_failures_total",
                                         "Ticks that published no heartbeat, by reason (libvirt: "
                                         "no report; backend: the servicegroup refused or is "
                                         "away; internal: the report could not be encoded).",
                                         reason, err)) ||
        !(a->libvirt = dv_metrics_counter(a->m, "drover_agent_libvirt_read_failures_total",
                                          "Reads of the host's report that failed (error) or got "
                                          "no answer within agent.libvirt_timeout_ms (timeout).",
                                          kind, err)) ||
        !(a->publishing = dv_metrics_gauge(a->m, "drover_agent_publishing",
                                           "1 while the last tick published a heartbeat.", NULL,
                                           err)) ||
        !(a->last = dv_metrics_gauge(a->m, "drover_agent_last_heartbeat_timestamp_seconds",
                                     "Wall-clock time of the last heartbeat published (0: none "
                                     "yet).", NULL, err)))
        return -1;
    static const char *const reasons[] = { "libvirt", "backend", "internal" };
    static const char *const kinds[] = { "error", "timeout" };
    /* the series a dashboard expects exist from the start, at 0 */
    for (size_t i = 0; i < 3; i++)
        dv_metric_add(a->failed, &reasons[i], 0, NULL);
    for (size_t i = 0; i < 2; i++)
        dv_metric_add(a->libvirt, &kinds[i], 0, NULL);
    return dv_metric_set(a->info, info_v, 1, err);
}

int dv_agent_metrics_start(const dv_config *c, dv_agent_metrics **out, drover_error *err)
{
    dv_agent_metrics *a;

    *out = NULL;
    if (!c->agent.metrics_listen || !*c->agent.metrics_listen)
        return 0;
    if (!(a = calloc(1, sizeof *a)) || !(a->m = dv_metrics_new())) {
        free(a);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_AGENT, "out of memory");
    }
    if (define(a, c, err) < 0 ||
        dv_metrics_http_start(a->m, c->agent.metrics_listen, &a->http, err) < 0) {
        dv_metrics_free(a->m);
        free(a);
        return -1;
    }
    dv_info("serving metrics on http://%s/metrics", c->agent.metrics_listen);
    *out = a;
    return 0;
}

void dv_agent_metrics_stop(dv_agent_metrics *a)
{
    if (!a)
        return;
    dv_metrics_http_stop(a->http);     /* first: no scrape may read a freed registry */
    dv_metrics_free(a->m);
    free(a);
}

void dv_agent_metrics_heartbeat(dv_agent_metrics *a, bool sent, const char *why)
{
    if (!a)
        return;
    if (sent) {
        dv_metric_add(a->sent, NULL, 1, NULL);
        dv_metric_set(a->last, NULL, (double)dv_wall_ms() / 1000.0, NULL);
    } else {
        dv_metric_add(a->failed, (const char *const[]){ why ? why : "internal" }, 1, NULL);
    }
    dv_metric_set(a->publishing, NULL, sent ? 1 : 0, NULL);
}

void dv_agent_metrics_libvirt_failure(dv_agent_metrics *a, bool timeout)
{
    if (a)
        dv_metric_add(a->libvirt, (const char *const[]){ timeout ? "timeout" : "error" }, 1, NULL);
}
