/* schedule.c - the scheduler's entry point: from a config, a servicegroup
 * and the state store to a destination.  The wiring once written in
 * cmd/cmd_schedule.c lives here so every caller (the CLI, the library, the
 * migrator, the evacuator) places instances the same way. */
#include "scheduler/scheduler.h"
#include "core/clock.h"
#include "drivers/servicegroup.h"

#include <stdlib.h>
#include <string.h>

/* The libvirt live checks as controller = { } configures them. */
static int live_from_config(const dv_config *cfg, dv_live_check **out, drover_error *err)
{
    dv_live_libvirt_opts lo;

    memset(&lo, 0, sizeof lo);
    lo.uris.tmpl = cfg->controller.libvirt_uri;
    lo.uris.map = (const char *const *)cfg->controller.libvirt_uris.v;
    lo.uris.n_map = cfg->controller.libvirt_uris.n;
    lo.timeout_ms = cfg->controller.libvirt_timeout_ms;
    return dv_live_libvirt_new(&lo, out, err);
}

/* The hosts' states hold summaries, without the CPU XML; the live checks'
 * prepare step reads the source's (the guest may pass the host CPU
 * through), so it gets the source's full report, read then: one member,
 * not the fleet. */
typedef struct with_source {
    dv_live_check base;
    dv_live_check *inner;
    dv_sg *sg;
    const char *group;
    dv_hosts *hosts;
    dv_host_state *source;
    const drover_report *summary;  /* what source->report was */
    drover_member full;
} with_source;

static int prepare_with_source(dv_live_check *lc, const dv_sched_request *r, drover_error *err)
{
    with_source *w = (with_source *)lc;

    if (!w->inner->prepare)
        return 0;
    if (r->source && r->source->report && !r->source->report->cpu_xml &&
        (w->source = dv_hosts_find(w->hosts, r->source->host))) {
        if (dv_sg_get(w->sg, w->group, w->source->host, &w->full, err) < 0) {
            dv_err_prefix(err, "reading the report of source host %s", w->source->host);
            return -1;
        }
        if (w->full.report) {
            w->summary = w->source->report;
            w->source->report = w->full.report;
        }
    }
    return w->inner->prepare(w->inner, r, err);
}

static int check_with_source(dv_live_check *lc, const dv_host_state *dest,
                             const dv_sched_request *r, char *why, size_t len)
{
    with_source *w = (with_source *)lc;
    return w->inner->check(w->inner, dest, r, why, len);
}

/* Put the summary back: the full report goes with w. */
static void with_source_fini(with_source *w)
{
    if (w->source && w->summary)
        w->source->report = w->summary;
    drover_member_clear(&w->full);
}

/* The hosts the driver's instance index names get their full report (the
 * others keep a summary without its instance list), so the lookup in
 * dv_find_destination reads a handful of reports, not the fleet's. */
#define MAX_INDEXED 64
typedef struct indexed {
    dv_host_state *h[MAX_INDEXED];
    const drover_report *summary[MAX_INDEXED];
    drover_member full[MAX_INDEXED];
    size_t n;
} indexed;

static void indexed_fini(indexed *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        ix->h[i]->report = ix->summary[i];
        drover_member_clear(&ix->full[i]);
    }
    ix->n = 0;
}

/* A host that left since the index named it is skipped, as a scan would. */
static int indexed_load(indexed *ix, dv_sg *sg, const char *group, dv_hosts *hosts,
                        char **names, size_t n, drover_error *err)
{
    for (size_t i = 0; i < n && i < MAX_INDEXED; i++) {
        dv_host_state *h = dv_hosts_find(hosts, names[i]);
        drover_member *m = &ix->full[ix->n];
        drover_error local;

        if (!h || !h->report)
            continue;
        if (dv_sg_get(sg, group, names[i], m, &local) < 0) {
            if (local.code == DROVER_ERR_NOT_FOUND)
                continue;
            *err = local;
            return -1;
        }
        if (!m->report) {
            drover_member_clear(m);
            continue;
        }
        ix->h[ix->n] = h;
        ix->summary[ix->n] = h->report;
        h->report = m->report;
        ix->n++;
    }
    return 0;
}

/* Members and their summaries, as host states. */
static int read_hosts(const dv_config *cfg, dv_sg *sg, dv_store *db, const char *instance,
                      int64_t now, dv_hosts *hosts, indexed *ix, drover_error *err)
{
    const char *group = cfg->agent.group;
    char **names = NULL;
    size_t n_names = 0;
    dv_summary_list sums;
    /* no index, or one that cannot answer: every summary's instance list */
    bool use_index = instance && *instance && dv_sg_has_find_instance(sg) &&
                     dv_sg_find_instance(sg, group, instance, &names, &n_names, NULL) == 0 &&
                     n_names <= MAX_INDEXED;
    int rc;

    if (dv_sg_get_summaries(sg, group, !use_index, &sums, err) < 0 ||
        dv_hosts_build_summaries(&sums, db, now, hosts, err) < 0) {
        free(names);
        return -1;
    }
    rc = use_index ? indexed_load(ix, sg, group, hosts, names, n_names, err) : 0;
    free(names);
    return rc;
}

int dv_schedule(const dv_config *cfg, dv_sg *sg, dv_store *db, const dv_sched_opts *o,
                dv_sched_result *res, drover_error *err)
{
    dv_live_check *own = NULL;
    dv_hosts hosts = { 0 };
    indexed ix = { .n = 0 };
    with_source w;
    int64_t now;
    dv_sched s;
    int rc = -1;

    memset(res, 0, sizeof *res);
    if (o->claim && !db)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                      "a claim needs the state store: none was given");
    if (dv_sched_init(&s, cfg, err) < 0)
        return -1;
    if (!o->live && live_from_config(cfg, &own, err) < 0)
        goto out;
    now = dv_wall_ms();
    if (read_hosts(cfg, sg, db, o->instance, now, &hosts, &ix, err) < 0)
        goto out;
    w = (with_source){ .base = { .name = "with_source", .prepare = prepare_with_source,
                                 .check = check_with_source },
                       .inner = o->live ? o->live : own, .sg = sg, .group = cfg->agent.group,
                       .hosts = &hosts };
    w.base.name = w.inner->name;
    rc = dv_find_destination(&s, &hosts, &w.base, o->claim ? db : NULL, now, o, res, err);
    with_source_fini(&w);
    indexed_fini(&ix);
    res->hosts = hosts;          /* the verdicts borrow the host names */
    memset(&hosts, 0, sizeof hosts);
out:
    indexed_fini(&ix);
    dv_hosts_free(&hosts);
    dv_live_libvirt_free(own);
    dv_sched_fini(&s);
    return rc;
}
