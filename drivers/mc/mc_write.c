/* mc_write.c - join, heartbeat, leave and admin state. */
#include "drivers/mc/mc.h"

/* ---------------------------------------------------------------- writes */

/* The summary key's value for a report (NULL: none): made by the writer,
 * once per report, so that readers never parse the JSON. */
static char *summary_value(mc_sg *m, int64_t now, const char *group, const char *host,
                           const char *report, size_t report_len, size_t *vlen)
{
    char *sum = NULL, *v;
    size_t sl = 0;
    int rc = 0;

    if (report_len &&
        (rc = dv_summary_of_json(m->dec, report, report_len, &sum, &sl, NULL)) < 0)
        return NULL;
    if (report_len && rc == 1)
        v = mc_value_make(now, group, host, SUM_UNDECODABLE, sizeof SUM_UNDECODABLE - 1, vlen);
    else
        v = mc_value_make(now, group, host, sum ? sum : "", sl, vlen);
    free(sum);
    return v;
}

/* The member's value is written: now its summary, beside it on its server. */
static memcached_return_t write_summary(mc_sg *m, const mc_place *at, int64_t now,
                                        const char *group, const char *host, const char *report,
                                        size_t report_len)
{
    char skey[KEY_MAX + 1];
    size_t sklen = mc_summary_key(skey, group, host), vlen;
    char *v = summary_value(m, now, group, host, report, report_len, &vlen);
    memcached_return_t rc;

    if (!v)
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    rc = memcached_set_by_key(m->mc, at->key, at->klen, skey, sklen, v, vlen, m->ttl, 0);
    free(v);
    return rc;
}

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
    int64_t now;

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
    now = dv_clock_now(&m->base.clock);
    if (!keep_report)
        p = (mc_parsed){ 0, report, strlen(report) };
    if (!(v = mc_value_make(now, group, host, p.report, p.report_len, &vlen))) {
        free(old);
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    }
    if (!keep_report) {
        rc = memcached_replace(m->mc, at.key, at.klen, v, vlen, m->ttl, 0);
        missing = rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_NOTFOUND;
        if (!missing)
            goto out;
    }
    /* a member that never joined, left, or whose key memcached lost */
    if (missing && dv_statedb_member_add(m->db, group, host, err) < 0) {
        *db_failed = true;
        rc = MEMCACHED_FAILURE;
        goto out;
    }
    if (missing && ((rc = mc_ensure_markers(m, at.s)) != MEMCACHED_SUCCESS ||
                    (!indexed && (rc = mc_idx_put(m, group, host, at.s, '+')) != MEMCACHED_SUCCESS)))
        goto out;
    rc = memcached_set(m->mc, at.key, at.klen, v, vlen, m->ttl, 0);
out:
    if (rc == MEMCACHED_SUCCESS)
        rc = write_summary(m, &at, now, group, host, p.report, p.report_len);
    free(v);
    free(old);
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
    char skey[KEY_MAX + 1];
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
    else
        /* its summary too (it would expire with the key anyway) */
        memcached_delete_by_key(m->mc, at.key, at.klen, skey, mc_summary_key(skey, group, host), 0);
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
