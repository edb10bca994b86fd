/* drain.c - empty a host by live migration (see drain.h). */
#include "migrator/drain.h"
#include "core/clock.h"
#include "core/log.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "virt/virt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the guests */

typedef struct guest_list {
    dv_drain_item *v;
    size_t n;
} guest_list;

static void list_release(void *arg)
{
    guest_list *l = arg;
    free(l->v);
    free(l);
}

/* Inside the deadline runner: every running or paused domain. */
static int list_fn(dv_virt *v, void *arg, drover_error *err)
{
    guest_list *l = arg;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(dv_virt_conn(v), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    if (n < 0)
        return dv_virt_error(err, dv_virt_uri(v), "virConnectListAllDomains");
    l->v = calloc((size_t)n + 1, sizeof *l->v);
    for (int i = 0; i < n; i++) {
        int state, reason;
        dv_drain_item *it = &l->v[l->n];
        if (l->v && virDomainGetState(doms[i], &state, &reason, 0) == 0 &&
            (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED) &&
            virDomainGetUUIDString(doms[i], it->uuid) == 0) {
            virDomainInfo info;
            snprintf(it->instance, sizeof it->instance, "%s", virDomainGetName(doms[i]));
            snprintf(it->state, sizeof it->state, "%s", dv_virt_state_name(state));
            if (virDomainGetInfo(doms[i], &info) == 0)
                it->memory_mib = info.maxMem / 1024;
            l->n++;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    virResetLastError();
    if (!l->v)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    return 0;
}

static int list_libvirt(const dv_config *cfg, const char *uri, guest_list *out, drover_error *err)
{
    guest_list *l = calloc(1, sizeof *l);
    dv_virt *v = NULL;
    dv_call_status st;
    int rc;

    if (!l)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (dv_virt_new(uri, DV_VIRT_READONLY, 5, 3, &v, err) < 0) {
        free(l);
        return -1;
    }
    rc = dv_virt_call_wake(v, cfg->controller.libvirt_timeout_ms, -1, list_fn, l, list_release,
                           &st, err);
    dv_virt_close(v);
    if (st == DV_CALL_TIMEOUT || st == DV_CALL_WOKEN)
        return -1;                 /* l is the worker's now */
    if (rc == 0)
        *out = *l;
    else
        free(l->v);
    free(l);
    return rc;
}

/* The running and paused guests of the host's last report. */
static int list_report(const dv_host_state *h, guest_list *out, drover_error *err)
{
    const drover_report *r = h->report;

    memset(out, 0, sizeof *out);
    if (!r)
        return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_SCHEDULER,
                      "host %s never reported its guests", h->host);
    if (!(out->v = calloc(r->n_instances + 1, sizeof *out->v)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    for (size_t i = 0; i < r->n_instances; i++) {
        const drover_instance *in = &r->instances[i];
        dv_drain_item *it = &out->v[out->n];
        if (strcmp(in->state, "running") != 0 && strcmp(in->state, "paused") != 0)
            continue;
        snprintf(it->instance, sizeof it->instance, "%s", in->name);
        snprintf(it->uuid, sizeof it->uuid, "%s", in->uuid);
        snprintf(it->state, sizeof it->state, "%s", in->state);
        it->memory_mib = in->memory_mib;
        out->n++;
    }
    return 0;
}

/* ---------------------------------------------------------------- the workers */

typedef struct drain_run {
    const dv_config *cfg;
    const dv_drain_opts *o;
    dv_drain_result *res;
    bool allow_down;
    pthread_mutex_t mu;            /* next, and the progress callback */
    size_t next;
} drain_run;

typedef struct item_ctx {
    drain_run *d;
    dv_drain_item *it;
} item_ctx;

static void on_event(void *arg, const dv_mig_event *ev)
{
    item_ctx *c = arg;

    if (c->d->o->tick)
        c->d->o->tick(c->d->o->arg);
    if (ev->kind != DV_MIG_EV_STARTED || !c->d->o->progress)
        return;
    pthread_mutex_lock(&c->d->mu);
    c->it->rec = *ev->rec;
    c->d->o->progress(c->d->o->arg, c->it, ev);
    pthread_mutex_unlock(&c->d->mu);
}

static void move_one(drain_run *d, dv_drain_item *it)
{
    item_ctx c = { d, it };
    dv_migrate_opts mo;
    drover_instance seen;

    memset(&mo, 0, sizeof mo);
    mo.instance = it->uuid;
    mo.policy = d->o->policy;
    mo.bandwidth_mib = d->o->bandwidth_mib;
    mo.allow_source_down = d->allow_down;
    if (d->res->from_libvirt) {
        /* the host's own libvirt said where it runs: a report that lags
         * (an agent that died before reporting a guest just migrated in)
         * must not keep it there */
        seen.name = it->instance;
        seen.uuid = it->uuid;
        seen.state = it->state;
        seen.memory_mib = it->memory_mib;
        mo.seen = &seen;
        mo.seen_on = d->res->host;
    }
    mo.progress = on_event;
    mo.arg = &c;
    memset(&it->err, 0, sizeof it->err);
    if (dv_migrate(d->cfg, &mo, &it->rec, &it->err) == 0) {
        it->started = true;
        it->moved = it->rec.state == DV_MIG_COMPLETED;
    } else {
        it->started = it->rec.id != 0;
    }
    pthread_mutex_lock(&d->mu);
    if (d->o->progress)
        d->o->progress(d->o->arg, it, NULL);
    pthread_mutex_unlock(&d->mu);
}

static void *worker(void *arg)
{
    drain_run *d = arg;

    for (;;) {
        dv_drain_item *it = NULL;
        pthread_mutex_lock(&d->mu);
        if (d->next < d->res->n)
            it = &d->res->items[d->next++];
        pthread_mutex_unlock(&d->mu);
        if (!it)
            return NULL;
        move_one(d, it);
    }
}

static void run_workers(drain_run *d)
{
    int k = d->cfg->migration.max_concurrent > 0 ? d->cfg->migration.max_concurrent : 1;
    pthread_t th[16];
    int started = 0;

    if (k > 16)
        k = 16;
    if ((size_t)k > d->res->n)
        k = (int)d->res->n;
    for (int i = 0; i < k; i++)
        if (pthread_create(&th[started], NULL, worker, d) == 0)
            started++;
    if (started == 0)
        worker(d);                 /* no thread: one at a time in this one */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* ---------------------------------------------------------------- the drain */

/* Disable the host (reason "drain") and find how to reach its libvirt. */
static int prepare(const dv_config *cfg, const char *host, dv_hosts *hosts, char *uri,
                   size_t len, drover_error *err)
{
    dv_host_uris u = { cfg->controller.libvirt_uri,
                       (const char *const *)cfg->controller.libvirt_uris.v,
                       cfg->controller.libvirt_uris.n };
    drover_member *m = NULL;
    size_t n = 0;
    dv_sg *sg = NULL;
    const dv_host_state *h;
    int rc = dv_sg_open(cfg, &sg, err);

    if (rc == 0)
        rc = dv_sg_get_all(sg, cfg->agent.group, &m, &n, err);
    if (rc == 0 && dv_hosts_build(m, n, NULL, dv_wall_ms(), hosts, err) < 0)
        rc = -1;
    if (rc == 0 && !(h = dv_hosts_find(hosts, host)))
        rc = dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_SCHEDULER,
                    "host %s is not a member of group %s", host, cfg->agent.group);
    if (rc == 0)
        rc = dv_sg_set_disabled(sg, cfg->agent.group, host, true, "drain", err);
    if (rc == 0 && dv_host_uri(&u, dv_hosts_find(hosts, host), uri, len, err) < 0)
        uri[0] = '\0';             /* only the report can say what runs there */
    dv_sg_close(sg);
    return rc;
}

int dv_drain(const dv_config *cfg, const dv_drain_opts *o, dv_drain_result *res,
             drover_error *err)
{
    dv_hosts hosts;
    char uri[1024] = "";
    guest_list l = { 0 }, after = { 0 };
    drover_error lerr;
    drain_run d;
    const dv_host_state *h;

    memset(res, 0, sizeof *res);
    memset(&hosts, 0, sizeof hosts);
    if (!o->host || !*o->host)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER, "which host to drain?");
    if (dv_virt_init(err) < 0 || prepare(cfg, o->host, &hosts, uri, sizeof uri, err) < 0) {
        dv_hosts_free(&hosts);
        return -1;
    }
    h = dv_hosts_find(&hosts, o->host);
    res->host = o->host;
    res->source_up = h->state == DROVER_UP;
    if (uri[0] && list_libvirt(cfg, uri, &l, &lerr) == 0) {
        res->from_libvirt = true;
    } else if (list_report(h, &l, err) < 0) {
        dv_err_prefix(err, "%s's libvirt did not answer (%s) and", o->host,
                      uri[0] ? lerr.message : "no URI");
        dv_hosts_free(&hosts);
        return -1;
    } else {
        dv_warn("drain %s: its libvirt did not answer (%s): the guests come from its last "
                "report", o->host, uri[0] ? lerr.message : "no URI");
    }
    dv_hosts_free(&hosts);
    res->items = l.v;
    res->n = l.n;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    d.o = o;
    d.res = res;
    /* a host whose agent died is drained when its libvirt answered directly */
    d.allow_down = res->from_libvirt;
    if (o->listed)
        o->listed(o->arg, res);
    pthread_mutex_init(&d.mu, NULL);
    run_workers(&d);
    pthread_mutex_destroy(&d.mu);
    if (uri[0] && list_libvirt(cfg, uri, &after, &lerr) == 0) {
        res->remaining = after.n;
        free(after.v);
    } else {
        res->remaining = 0;
        for (size_t i = 0; i < res->n; i++)
            res->remaining += !res->items[i].moved;
    }
    res->empty = res->remaining == 0;
    return 0;
}

void dv_drain_result_clear(dv_drain_result *res)
{
    free(res->items);
    memset(res, 0, sizeof *res);
}
