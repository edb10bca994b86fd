/* zk_ops.c - the zk driver's operations table (every call serialised), open and close. */
#include "drivers/zk/zk.h"

/* ---------------------------------------------------------------- the operations, serialised */

#define LOCKED(call)                                  \
    do {                                              \
        zk_sg *z_ = zk_me(sg);                        \
        int rc_;                                      \
        pthread_mutex_lock(&z_->op_mu);               \
        rc_ = call;                                   \
        pthread_mutex_unlock(&z_->op_mu);             \
        return rc_;                                   \
    } while (0)

static int zk_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    LOCKED(zk_op_join(sg, group, host, err));
}

static int zk_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                        drover_error *err)
{
    LOCKED(zk_op_heartbeat(sg, group, host, report_json, err));
}

static int zk_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                    drover_error *err)
{
    LOCKED(zk_op_is_up(sg, group, host, state, err));
}

static int zk_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                      drover_error *err)
{
    LOCKED(zk_op_get_all(sg, group, members, n, err));
}

static int zk_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                         drover_error *err)
{
    LOCKED(zk_op_get_states(sg, group, members, n, err));
}

static int zk_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                            drover_error *err)
{
    LOCKED(zk_op_get_summaries(sg, group, instances, out, err));
}

static int zk_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
                  drover_error *err)
{
    LOCKED(zk_op_get(sg, group, host, member, err));
}

static int zk_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    LOCKED(zk_op_leave(sg, group, host, err));
}

static int zk_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                           const char *reason, drover_error *err)
{
    LOCKED(zk_op_set_disabled(sg, group, host, disabled, reason, err));
}

static int zk_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                              drover_error *err)
{
    LOCKED(zk_op_set_forced_down(sg, group, host, forced_down, err));
}

/* ---------------------------------------------------------------- open / close */

static void zk_close(dv_sg *sg)
{
    zk_sg *z = zk_me(sg);

    if (!z)
        return;
    zk_watchdog_stop(z);
    dv_zkc_fini(&z->zc);
    dv_statedb_close(z->db);
    dv_report_decoder_free(z->dec);
    sg_admin_fini(&z->admin);
    dv_map_free(&z->joined, zk_member_free);
    dv_map_free(&z->known, NULL);
    dv_map_free(&z->ready, NULL);
    pthread_cond_destroy(&z->stop_cv);
    pthread_mutex_destroy(&z->op_mu);
    free(z->prefix);
    free(z);
}

static int zk_open(const dv_config *cfg, dv_sg **out, drover_error *err)
{
    drover_error why;
    zk_sg *z;

    *out = NULL;
    if (!(z = calloc(1, sizeof *z)))
        return zk_nomem(err);
    pthread_mutex_init(&z->op_mu, NULL);
    if (!(z->dec = dv_report_decoder_new())) {
        pthread_mutex_destroy(&z->op_mu);
        free(z);
        return zk_nomem(err);
    }
    dv_cond_init_mono(&z->stop_cv);
    sg_admin_init(&z->admin, cfg);
    if (dv_zkc_init(&z->zc, cfg->servicegroup.zk.hosts, cfg->servicegroup.zk.session_timeout_ms,
                    cfg->servicegroup.zk.auth, "", err) < 0) {
        zk_close(&z->base);
        return -1;
    }
    z->down_ms = (int64_t)cfg->servicegroup.service_down_time * 1000;
    /* kept without a trailing '/': "" for the root, so paths are prefix + "/group" */
    if (!(z->prefix = strdup(strcmp(cfg->servicegroup.zk.prefix, "/") == 0 ? "" : cfg->servicegroup.zk.prefix))) {
        zk_close(&z->base);
        return zk_nomem(err);
    }
    if (sg_admin_open(cfg, "zk", &z->db, err) < 0 ||
        dv_zkc_handle_new(&z->zc, false, err) < 0) {
        zk_close(&z->base);
        return -1;
    }
    z->nodes_gen = z->zc.gen;
    /* make the prefix now when ZooKeeper answers; a dead ensemble is not a
     * configuration error: calls answer UNKNOWN until it is back */
    if (zk_make_prefix(z, &why) < 0) {
        if (why.code != DROVER_ERR_UNREACHABLE) {
            dv_err_copy(err, &why);
            zk_close(&z->base);
            return -1;
        }
        dv_warn("zk: %s", why.message);
    }
    *out = &z->base;
    return 0;
}

const dv_sg_ops dv_sg_zk_ops = {
    .version = DV_SG_OPS_VERSION,
    .name = "zk",
    .config = &zk_config_section,
    .open = zk_open,
    .close = zk_close,
    .join = zk_join,
    .heartbeat = zk_heartbeat,
    .is_up = zk_is_up,
    .get_all = zk_get_all,
    .get_states = zk_get_states,
    .get_summaries = zk_get_summaries,
    .get = zk_get,
    .leave = zk_leave,
    .set_disabled = zk_set_disabled,
    .set_forced_down = zk_set_forced_down,
};
