/* channel.c - a host's libvirt asked directly.  See channel.h. */
#include "evacuator/channel.h"
#include "scheduler/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dv_probe_clear(dv_probe *p)
{
    dv_virt_doms_free(p->doms, p->n);
    memset(p, 0, sizeof *p);
}

static int uri_of(const dv_config *cfg, const char *host, const drover_report *report,
                  char *buf, size_t len, drover_error *err)
{
    dv_host_uris u = { cfg->controller.libvirt_uri,
                       (const char *const *)cfg->controller.libvirt_uris.v,
                       cfg->controller.libvirt_uris.n };
    dv_host_state h;

    memset(&h, 0, sizeof h);
    h.host = host;
    h.report = report;
    h.has_report = report != NULL;
    return dv_host_uri(&u, &h, buf, len, err);
}

static int timeout_of(const dv_config *cfg)
{
    return cfg->controller.libvirt_timeout_ms > 0 ? cfg->controller.libvirt_timeout_ms : 5000;
}

int dv_evac_host_call(const dv_config *cfg, const char *host, const drover_report *report,
                      dv_virt_fn fn, void *arg, void (*release)(void *), drover_error *err)
{
    char uri[512];
    int to = timeout_of(cfg), ka = to >= 2000 ? to / 1000 : 1;
    dv_call_status st = DV_CALL_UNREACHABLE;
    dv_virt *v;
    int rc;

    if (uri_of(cfg, host, report, uri, sizeof uri, err) < 0 ||
        dv_virt_new(uri, 0, ka, 3, &v, err) < 0) {
        if (release)
            release(arg);
        return -1;
    }
    rc = dv_virt_call_wake(v, to, -1, fn, arg, release, &st, err);
    dv_virt_close(v);            /* a stuck worker keeps v until libvirt returns */
    /* abandoned (timeout): the worker releases arg; otherwise it is ours */
    if (rc < 0 && st != DV_CALL_TIMEOUT && st != DV_CALL_WOKEN && release)
        release(arg);
    return rc;
}

/* ---------------------------------------------------------------- what it runs */

void dv_evac_list_release(void *arg)
{
    dv_evac_list_job *j = arg;
    dv_virt_doms_free(j->d, j->n);
    free(j);
}

int dv_evac_list_fn(dv_virt *v, void *arg, drover_error *err)
{
    dv_evac_list_job *j = arg;
    return dv_virt_list_domains(v, j->with_xml, &j->d, &j->n, err);
}

void dv_probe_host(const dv_config *cfg, const char *host, const drover_report *report,
                   dv_probe *p)
{
    dv_evac_list_job *j = calloc(1, sizeof *j);   /* without XML */

    memset(p, 0, sizeof *p);
    snprintf(p->host, sizeof p->host, "%s", host);
    if (!j) {
        dv_err(&p->err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
        return;
    }
    if (uri_of(cfg, host, report, p->uri, sizeof p->uri, &p->err) < 0) {
        free(j);
        return;
    }
    if (dv_evac_host_call(cfg, host, report, dv_evac_list_fn, j, dv_evac_list_release, &p->err) < 0)
        return;                  /* j is the worker's now, or freed */
    p->answered = true;
    p->doms = j->d;
    p->n = j->n;
    free(j);
}

bool dv_probe_runs(const dv_probe *p, const char *uuid)
{
    for (size_t i = 0; p->answered && i < p->n; i++)
        if (strcasecmp(p->doms[i].uuid, uuid) == 0)
            return dv_virt_state_active(p->doms[i].state);
    return false;
}

/* ---------------------------------------------------------------- define and start */

typedef struct start_job {
    char uuid[40];
    char *xml;
    bool already;
} start_job;

static void start_release(void *arg)
{
    start_job *j = arg;
    free(j->xml);
    free(j);
}

static int start_fn(dv_virt *v, void *arg, drover_error *err)
{
    start_job *j = arg;
    return dv_virt_define_start(v, j->uuid, j->xml, &j->already, err);
}

int dv_evac_define_start(const dv_config *cfg, const char *host, const drover_report *report,
                         const char *uuid, const char *xml, bool *already, drover_error *err)
{
    start_job *j = calloc(1, sizeof *j);

    *already = false;
    if (!j || !(j->xml = strdup(xml))) {
        free(j);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    snprintf(j->uuid, sizeof j->uuid, "%s", uuid);
    if (dv_evac_host_call(cfg, host, report, start_fn, j, start_release, err) < 0)
        return -1;
    *already = j->already;
    start_release(j);
    return 0;
}
