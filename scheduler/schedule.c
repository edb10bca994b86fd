/* schedule.c - the scheduler's entry point: from a config, a servicegroup
 * and the state store to a destination.  The wiring once written in
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

int dv_schedule(const dv_config *cfg, dv_sg *sg, dv_store *db, const dv_sched_opts *o,
                dv_sched_result *res, drover_error *err)
{
    dv_live_check *own = NULL;
    dv_hosts hosts = { 0 };
    drover_member *m = NULL;
    size_t n = 0;
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
    if (dv_sg_get_all(sg, cfg->agent.group, &m, &n, err) < 0)
        goto out;
    now = dv_wall_ms();
    if (dv_hosts_build(m, n, db, now, &hosts, err) < 0)
        goto out;
    rc = dv_find_destination(&s, &hosts, o->live ? o->live : own, o->claim ? db : NULL, now, o,
                             res, err);
    res->hosts = hosts;          /* the verdicts borrow the host names */
    memset(&hosts, 0, sizeof hosts);
out:
    dv_hosts_free(&hosts);
    dv_live_libvirt_free(own);
    dv_sched_fini(&s);
    return rc;
}
