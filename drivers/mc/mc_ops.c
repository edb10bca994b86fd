/* mc_ops.c - the mc driver's operations table, open and close. */
#include "drivers/mc/mc.h"

static void mc_close(dv_sg *sg)
{
    mc_sg *m = mc_me(sg);

    if (!m)
        return;
    memcached_free(m->mc);
    dv_statedb_close(m->db);
    sg_admin_fini(&m->admin);
    dv_report_decoder_free(m->dec);
    free(m->idx_group);
    free(m->idx_name);
    free(m->idx_cas);
    free(m->idx_vname);
    free(m->idx_seen);
    for (uint32_t s = 0; s < m->n_srv; s++)
        free(m->srv[s].addr);
    free(m->srv);
    free(m);
}

static int mc_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    mc_sg *m;

    *out = NULL;
    if (!(m = calloc(1, sizeof *m)))
        return mc_nomem(err);
    m->cfg = cfg;
    sg_admin_init(&m->admin, cfg);
    m->ttl = (time_t)cfg->servicegroup.service_down_time + 1;
    m->n_srv = (uint32_t)cfg->servicegroup.mc.servers.n;
    if (!(m->srv = calloc(m->n_srv, sizeof *m->srv)) || !(m->dec = dv_report_decoder_new()))
        goto oom;
    for (uint32_t s = 0; s < m->n_srv; s++)
        if (!(m->srv[s].addr = strdup(cfg->servicegroup.mc.servers.v[s])))
            goto oom;
    if (mc_build(m, &m->mc, err) < 0)
        goto fail;
    for (uint32_t s = 0; s < m->n_srv; s++)
        if (mc_find_marker(m, "fresh", s, m->srv[s].fresh, sizeof m->srv[s].fresh, err) < 0 ||
            mc_find_marker(m, "epoch", s, m->srv[s].epoch, sizeof m->srv[s].epoch, err) < 0)
            goto fail;
    if (sg_admin_open(cfg, "mc", &m->db, err) < 0)
        goto fail;
    *out = &m->base;
    return 0;
oom:
    mc_nomem(err);
fail:
    mc_close(&m->base);
    return -1;
}

const dv_sg_ops dv_sg_mc_ops = {
    .version = DV_SG_OPS_VERSION,
    .name = "mc",
    .config = &mc_config_section,
    .open = mc_open,
    .close = mc_close,
    .join = mc_join,
    .heartbeat = mc_heartbeat,
    .is_up = mc_is_up,
    .get_all = mc_get_all,
    .get_states = mc_get_states,
    .get_summaries = mc_get_summaries,
    .get = mc_get,
    .leave = mc_leave,
    .set_disabled = mc_set_disabled,
    .set_forced_down = mc_set_forced_down,
};
