/* api.c - the public library: a context holding a config and an open
 * servicegroup driver, the host-health queries of include/drover.h, and
 * placements through the scheduler's entry point (dv_schedule). */
#include "drover.h"
#include "core/config.h"
#include "core/error.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"

#include <stdlib.h>

struct drover_ctx {
    dv_config *cfg;
    dv_sg *sg;
};

int drover_open(const char *path, drover_ctx **out, drover_error *err)
{
    drover_ctx *ctx;

    *out = NULL;
    if (!path || !*path)
        path = dv_config_default_path();
    if (!(ctx = calloc(1, sizeof *ctx)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (dv_config_load(path, &ctx->cfg, err) < 0 || dv_sg_open(ctx->cfg, &ctx->sg, err) < 0) {
        drover_close(ctx);
        return -1;
    }
    *out = ctx;
    return 0;
}

void drover_close(drover_ctx *ctx)
{
    if (!ctx)
        return;
    dv_sg_close(ctx->sg);
    dv_config_free(ctx->cfg);
    free(ctx);
}

const char *drover_ctx_group(const drover_ctx *ctx)
{
    return ctx->cfg->agent.group;
}

static int need_ctx(const drover_ctx *ctx, drover_error *err)
{
    if (!ctx)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "no context: call drover_open() first");
    return 0;
}

int drover_is_up(drover_ctx *ctx, const char *host, drover_liveness *state, drover_error *err)
{
    drover_liveness dummy;
    if (!state)
        state = &dummy;
    *state = DROVER_UNKNOWN;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_is_up(ctx->sg, ctx->cfg->agent.group, host, state, err);
}

int drover_list_members(drover_ctx *ctx, drover_member **members, size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get_all(ctx->sg, ctx->cfg->agent.group, members, n, err);
}

int drover_list_states(drover_ctx *ctx, drover_member **members, size_t *n, drover_error *err)
{
    *members = NULL;
    *n = 0;
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get_states(ctx->sg, ctx->cfg->agent.group, members, n, err);
}

int drover_get_member(drover_ctx *ctx, const char *host, drover_member *member, drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_get(ctx->sg, ctx->cfg->agent.group, host, member, err);
}

int drover_set_disabled(drover_ctx *ctx, const char *host, bool disabled, const char *reason,
                        drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_set_disabled(ctx->sg, ctx->cfg->agent.group, host, disabled, reason, err);
}

int drover_set_forced_down(drover_ctx *ctx, const char *host, bool forced_down, drover_error *err)
{
    if (need_ctx(ctx, err) < 0)
        return -1;
    return dv_sg_set_forced_down(ctx->sg, ctx->cfg->agent.group, host, forced_down, err);
}

void drover_placement_clear(drover_placement *p)
{
    if (!p)
        return;
    free(p->host);
    free(p->source);
    free(p->instance_name);
    free(p->instance_uuid);
    memset(p, 0, sizeof *p);
}

int drover_schedule(drover_ctx *ctx, const char *instance, const char *dest, bool claim,
                    drover_placement *out, drover_error *err)
{
    dv_sched_result res;
    dv_sched_opts o;
    dv_store *db;
    int rc;

    memset(out, 0, sizeof *out);
    if (need_ctx(ctx, err) < 0)
        return -1;
    /* the deployment's state store (state = { }): every scheduler on every
     * machine counts the same claims */
    if (dv_store_open(ctx->cfg, &db, err) < 0) {
        dv_err_prefix(err, "the state store holds the scheduler's claims");
        return -1;
    }
    memset(&o, 0, sizeof o);
    o.instance = instance;
    o.dest = dest;
    o.claim = claim;
    rc = dv_schedule(ctx->cfg, ctx->sg, db, &o, &res, err);
    if (rc == 0) {
        /* the strings move over; the result forgets them */
        out->host = res.host;
        out->source = res.source;
        out->instance_name = res.instance_name;
        out->instance_uuid = res.instance_uuid;
        out->memory_mib = res.memory_mib;
        out->claim_id = res.claim_id;
        res.host = res.source = res.instance_name = res.instance_uuid = NULL;
    }
    dv_sched_result_clear(&res);
    dv_store_close(db);
    return rc;
}
