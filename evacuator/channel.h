/* channel.h - the second channel: ask a host's own libvirt directly, not
 * its agent.  The URI is the one the scheduler and the migrator use
 * (dv_host_uri: controller.libvirt_uris, controller.libvirt_uri with "%h",
 * else the migration URI the host last reported), every call under
 * controller.libvirt_timeout_ms through virt's deadline runner, so a host
 * that is off or hung costs one timeout, never a hang. */
#ifndef DV_EVAC_CHANNEL_H
#define DV_EVAC_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "core/model.h"
#include "virt/domains.h"

/* What a host's libvirt said. */
typedef struct dv_probe {
    char host[DV_NAME_MAX + 1];
    char uri[512];
    bool answered;                 /* it listed its domains in time */
    dv_virt_dom *doms;             /* its domains (answered only), sorted by UUID */
    size_t n;
    drover_error err;              /* !answered: why */
} dv_probe;

void dv_probe_clear(dv_probe *p);

/* Ask host (its last report may be NULL) what it runs. */
void dv_probe_host(const dv_config *cfg, const char *host, const drover_report *report,
                   dv_probe *p);

/* Whether p's host runs (an active domain) uuid. */
bool dv_probe_runs(const dv_probe *p, const char *uuid);

/* A listing of a host's domains run by a worker (dv_virt_call_wake,
 * dv_evac_host_call): dv_evac_list_fn fills d and n, dv_evac_list_release
 * frees them and the job, whoever is left holding it. */
typedef struct dv_evac_list_job {
    bool with_xml;
    dv_virt_dom *d;
    size_t n;
} dv_evac_list_job;

int dv_evac_list_fn(dv_virt *v, void *arg, drover_error *err);
void dv_evac_list_release(void *arg);

/* Run fn on host's libvirt (read-write connection) under the timeout.
 * 0: fn answered, arg is the caller's again.  -1: arg is gone (released
 * here, or by the worker once an abandoned call returns). */
int dv_evac_host_call(const dv_config *cfg, const char *host, const drover_report *report,
                      dv_virt_fn fn, void *arg, void (*release)(void *), drover_error *err);

/* Define xml on host and start it (dv_virt_define_start). */
int dv_evac_define_start(const dv_config *cfg, const char *host, const drover_report *report,
                         const char *uuid, const char *xml, bool *already, drover_error *err);

#endif
