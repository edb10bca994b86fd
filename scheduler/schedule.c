/* schedule.c - the scheduler's entry point: from a config, a servicegroup
 * and the state db to a destination.  The wiring once written in
 * cmd/cmd_schedule.c lives here so every caller (the CLI, the library, the
 * migrator, the evacuator) places instances the same way. */
#include "scheduler/scheduler.h"
#include "core/clock.h"
#include "drivers/servicegroup.h"

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

int dv_schedule(const dv_config *cfg, dv_sg *sg, dv_statedb *db, const dv_sched_opts *o,
                dv_sched_result *res, drover_error *err)
{
    dv_live_check *own = NULL;
    dv_hosts hosts = { 0 };
    dv_summary_list sums;
    with_source w;
    int64_t now;
    dv_sched s;
    int rc = -1;

    memset(res, 0, sizeof *res);
    if (o->claim && !db)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                      "a claim needs the state db: none was given");
    if (dv_sched_init(&s, cfg, err) < 0)
        return -1;
    if (!o->live && live_from_config(cfg, &own, err) < 0)
        goto out;
    if (dv_sg_get_summaries(sg, cfg->agent.group, &sums, err) < 0)
        goto out;
    now = dv_wall_ms();
    if (dv_hosts_build_summaries(&sums, db, now, &hosts, err) < 0)
        goto out;
    w = (with_source){ .base = { .name = "with_source", .prepare = prepare_with_source,
                                 .check = check_with_source },
                       .inner = o->live ? o->live : own, .sg = sg, .group = cfg->agent.group,
                       .hosts = &hosts };
    w.base.name = w.inner->name;
    rc = dv_find_destination(&s, &hosts, &w.base, o->claim ? db : NULL, now, o, res, err);
    with_source_fini(&w);
    res->hosts = hosts;          /* the verdicts borrow the host names */
    memset(&hosts, 0, sizeof hosts);
out:
    dv_hosts_free(&hosts);
    dv_live_libvirt_free(own);
    dv_sched_fini(&s);
    return rc;
}
