/* zk_members.c - membership: join, heartbeat, leave and admin state. */
#include "drivers/zk/zk.h"

/* ---------------------------------------------------------------- membership */

/* The entry for a member this handle joins (made on first use). */
static zk_member *joined_entry(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    char *key = zk_key_of(group, host);
    zk_member *m;

    if (!key) {
        zk_nomem(err);
        return NULL;
    }
    if (!(m = dv_map_get(&z->joined, key))) {
        if (!(m = calloc(1, sizeof *m)) || !(m->path = zk_member_path(z, group, host)) ||
            !(m->sign_dir = zk_sign_dir(z, group, host)) || dv_map_put(&z->joined, key, m) < 0) {
            zk_member_free(m);
            m = NULL;
            zk_nomem(err);
        }
    }
    free(key);
    return m;
}

/* A join or heartbeat call for m: it counts even when ZooKeeper is away. */
static int beat(zk_sg *z, zk_member *m, const char *group, const char *host, drover_error *err)
{
    drover_error why;
    int rc;

    m->beat_ms = dv_mono_ms();
    zk_watchdog_start(z);
    rc = zk_put_member(z, m, &why);
    /* the agent was busy heartbeating until now: a call blocked by an outage
     * must not count against it */
    m->beat_ms = dv_mono_ms();
    if (rc < 0) {
        /* refused (not merely unreachable) before its node ever existed:
         * not a member of ours, nothing to make again later */
        if (!m->gen && why.code != DROVER_ERR_UNREACHABLE) {
            char *key = zk_key_of(group, host);
            if (key)
                zk_member_free(dv_map_del(&z->joined, key));
            free(key);
        }
        dv_err_copy(err, &why);
        return -1;
    }
    if (m->withdrawn)
        dv_info("zk: %s heartbeats again", m->path);
    m->withdrawn = false;
    return zk_learn(z, group, host, err);
}

/* The group could not be made ready: the call still counts for a member
 * already joined (an outage withdraws nobody). */
static int group_failed(zk_sg *z, const char *group, const char *host)
{
    char *key = zk_key_of(group, host);
    zk_member *m = key ? dv_map_get(&z->joined, key) : NULL;

    if (m)
        m->beat_ms = dv_mono_ms();
    free(key);
    return -1;
}

/* The group's node and the member's entry, for a join or heartbeat. */
static int joining(zk_sg *z, const char *group, const char *host, zk_member **m,
                   drover_error *err)
{
    if (zk_ensure_group(z, group, err) < 0)
        return group_failed(z, group, host);
    return (*m = joined_entry(z, group, host, err)) ? 0 : -1;
}

int zk_op_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    zk_sg *z = zk_me(sg);
    zk_member *m;

    if (joining(z, group, host, &m, err) < 0)
        return -1;
    return beat(z, m, group, host, err);
}

int zk_op_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                    drover_error *err)
{
    zk_sg *z = zk_me(sg);
    zk_member *m;

    if (joining(z, group, host, &m, err) < 0)
        return -1;
    if (report_json) {
        char *v;
        int len;
        /* the summary is made here, once per report, so readers need not */
        if (zk_value_make(z, report_json, &v, &len, err) < 0)
            return -1;
        free(m->data);
        m->data = v;
        m->len = len;
    }
    return beat(z, m, group, host, err);
}

int zk_op_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    zk_sg *z = zk_me(sg);
    char *key = zk_key_of(group, host);
    zk_op op = { .path = zk_member_path(z, group, host) };
    zk_member *m;
    drover_error why;
    int zrc, rc = -1;

    if (!key || !op.path) {
        zk_nomem(err);
        goto done;
    }
    if (zk_run(z, zk_call_delete, &op, &zrc, err) < 0)
        goto done;
    if (zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "delete", op.path, err);
        goto done;
    }
    m = dv_map_del(&z->joined, key);
    dv_map_del(&z->known, key);
    if (m && m->sign_on && m->sign_gen == z->zc.gen) {
        zk_op sop = { .path = m->sign_on };
        /* it would die with the session; readers skip it meanwhile */
        if (zk_run(z, zk_call_delete, &sop, &zrc, &why) < 0 || (zrc != ZOK && zrc != ZNONODE))
            dv_debug("zk: the sign %s stays until the session ends", m->sign_on);
    }
    /* the shared admin state first: a member left disabled in the store
     * would come back disabled on its next join */
    if (sg_admin_forget(&z->admin, group, host, err) < 0)
        goto done;
    if (dv_statedb_member_remove(z->db, group, host, &why) < 0) {
        if (why.code != DROVER_ERR_NOT_FOUND) {
            dv_err_copy(err, &why);
            goto done;
        }
        if (zrc == ZNONODE && !m) {
            dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                   "host \"%s\" is not a member of group \"%s\"", host, group);
            goto done;
        }
    }
    zk_member_free(m);
    rc = 0;
done:
    free(key);
    free((char *)op.path);
    return rc;
}

/* Admin state is only set on members: a node exists or the state db knows it. */
int zk_need_member(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    zk_op op = { .path = NULL };
    bool known;
    int zrc, rc;

    if (zk_is_known(z, group, host, &known, err) < 0)
        return -1;
    if (known)
        return 0;
    if (!(op.path = zk_member_path(z, group, host)))
        return zk_nomem(err);
    rc = zk_run(z, zk_call_exists, &op, &zrc, err);
    if (rc == 0 && zrc == ZOK)
        rc = zk_learn(z, group, host, err);
    else if (rc == 0 && zrc == ZNONODE)
        rc = dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                    "host \"%s\" is not a member of group \"%s\"", host, group);
    else if (rc == 0)
        rc = zk_fail(z, zrc, "look up", op.path, err);
    free((char *)op.path);
    return rc;
}

static int need(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    return zk_need_member(zk_me(sg), group, host, err);
}

int zk_op_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                       const char *reason, drover_error *err)
{
    return sg_admin_set_disabled(sg, &zk_me(sg)->admin, need, group, host, disabled, reason, err);
}

int zk_op_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                          drover_error *err)
{
    return sg_admin_set_forced_down(sg, &zk_me(sg)->admin, need, group, host, forced_down, err);
}
