/* mc_write.c - join, heartbeat, leave and admin state. */
#include "drivers/mc/mc.h"

/* ---------------------------------------------------------------- writes */

/* One attempt at "alive now": see mc_write. */
static memcached_return_t try_write(mc_sg *m, const char *group, const char *host,
                                    const char *report, bool keep_report, bool indexed,
                                    bool *db_failed, drover_error *err)
{
    mc_place at;
    size_t vlen, olen = 0;
    uint32_t flags;
    memcached_return_t rc;
    char *old = NULL, *v;
    mc_parsed p = { 0, "", 0 };
    bool missing = false;

    mc_place_of(m, group, host, &at);
    if (keep_report) {
        old = memcached_get(m->mc, at.key, at.klen, &olen, &flags, &rc);
        if (rc == MEMCACHED_NOTFOUND)
            missing = true;
        else if (rc != MEMCACHED_SUCCESS)
            return rc;
        else if (!mc_value_parse(old, olen, group, host, &p))
            p = (mc_parsed){ 0, "", 0 };
    }
    v = mc_value_make(dv_clock_now(&m->base.clock), group, host, keep_report ? p.report : report,
                      keep_report ? p.report_len : strlen(report), &vlen);
    free(old);
    if (!v)
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    if (!keep_report) {
        rc = memcached_replace(m->mc, at.key, at.klen, v, vlen, m->ttl, 0);
        if (rc == MEMCACHED_SUCCESS || (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_NOTFOUND)) {
            free(v);
            return rc;
        }
        missing = true;
    }
    if (missing) {
        /* a member that never joined, left, or whose key memcached lost */
        if (dv_statedb_member_add(m->db, group, host, err) < 0) {
            *db_failed = true;
            free(v);
            return MEMCACHED_FAILURE;
        }
        if ((rc = mc_ensure_markers(m, at.s)) != MEMCACHED_SUCCESS ||
            (!indexed && (rc = mc_idx_put(m, group, host, at.s, '+')) != MEMCACHED_SUCCESS)) {
            free(v);
            return rc;
        }
    }
    rc = memcached_set(m->mc, at.key, at.klen, v, vlen, m->ttl, 0);
    free(v);
    return rc;
}

/* Record "host is alive now" with its report (NULL: keep the stored one).
 * A server libmemcached has put in back-off is tried again at once with a
 * new handle: an agent's heartbeat must land as soon as the server is back. */
static int mc_write(mc_sg *m, const char *group, const char *host, const char *report,
                    bool indexed, const char *what, drover_error *err)
{
    mc_place at;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    bool db_failed = false;

    mc_place_of(m, group, host, &at);
    rc = try_write(m, group, host, report, report == NULL, indexed, &db_failed, err);
    if (!db_failed && (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED ||
                       rc == MEMCACHED_SERVER_MARKED_DEAD) && mc_rebuild(m, NULL) == 0)
        rc = try_write(m, group, host, report, report == NULL, indexed, &db_failed, err);
    if (db_failed)
        return -1;
    if (rc != MEMCACHED_SUCCESS) {
        char w[300];
        snprintf(w, sizeof w, "%s of %s", what, host);
        return mc_fail(m, at.s, rc, w, err);
    }
    mc_note(m, at.s, MEMCACHED_SUCCESS);
    return 0;
}

/* Joining counts as a sign of life (as in the db driver); the stored report
 * and the admin state are kept.  The member is added to the index in
 * memcached (for every other process) and to this process's database. */
int mc_join(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    mc_sg *m = mc_me(sg);
    mc_place at;
    memcached_return_t rc;

    mc_place_of(m, group, host, &at);
    if (dv_statedb_member_add(m->db, group, host, err) < 0)
        return -1;
    rc = mc_idx_put(m, group, host, at.s, '+');
    if ((rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD) &&
        mc_rebuild(m, NULL) == 0)
        rc = mc_idx_put(m, group, host, at.s, '+');
    if (rc != MEMCACHED_SUCCESS) {
        char w[300];
        snprintf(w, sizeof w, "join of %s (the member index)", host);
        return mc_fail(m, at.s, rc, w, err);
    }
    return mc_write(m, group, host, NULL, true, "join", err);
}

/* Needs nothing from the state database but to note the member there when
 * its key was missing: the admin state is the controller's. */
int mc_heartbeat(dv_sg *sg, const char *group, const char *host, const char *report_json,
                 drover_error *err)
{
    return mc_write(mc_me(sg), group, host, report_json, false, "heartbeat", err);
}

/* Forget the member and its admin state here, and say in the index that
 * it left (every other reader forgets it at its next sweep).  Its key is
 * deleted too; if memcached cannot be reached the key simply expires, but
 * other readers keep listing the member (DOWN) until it leaves again. */
int mc_leave(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    mc_sg *m = mc_me(sg);
    mc_place at;
    memcached_return_t rc;

    mc_place_of(m, group, host, &at);
    if (mc_need_member(m, group, host, err) < 0 ||
        sg_admin_forget(&m->admin, group, host, err) < 0 ||
        dv_statedb_member_remove(m->db, group, host, err) < 0)
        return -1;
    rc = mc_idx_put(m, group, host, at.s, '-');
    if (rc != MEMCACHED_SUCCESS)
        dv_warn("leave of %s: could not note it in the index on memcached %s (%s): other "
                "readers keep listing it", host, m->srv[at.s].addr, memcached_strerror(m->mc, rc));
    rc = memcached_delete(m->mc, at.key, at.klen, 0);
    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND)
        dv_warn("leave of %s: could not delete its key from memcached %s (%s); it expires in %lld s",
                host, m->srv[at.s].addr, memcached_strerror(m->mc, rc), (long long)m->ttl);
    return 0;
}

static int need(dv_sg *sg, const char *group, const char *host, drover_error *err)
{
    return mc_need_member(mc_me(sg), group, host, err);
}

int mc_set_disabled(dv_sg *sg, const char *group, const char *host, bool disabled,
                    const char *reason, drover_error *err)
{
    return sg_admin_set_disabled(sg, &mc_me(sg)->admin, need, group, host, disabled, reason, err);
}

int mc_set_forced_down(dv_sg *sg, const char *group, const char *host, bool forced_down,
                       drover_error *err)
{
    return sg_admin_set_forced_down(sg, &mc_me(sg)->admin, need, group, host, forced_down, err);
}
