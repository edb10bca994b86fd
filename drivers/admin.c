/* admin.c - admin state in the state db, for the mc and zk drivers. */
#include "drivers/admin.h"

#include <stdlib.h>
#include <string.h>

int sg_admin_open(const dv_config *cfg, const char *driver, dv_statedb **db, drover_error *err)
{
    *db = NULL;
    if (!cfg->state.path || !*cfg->state.path)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SERVICEGROUP,
                      "state.path is empty: the %s driver keeps its member list there", driver);
    return dv_statedb_open(cfg->state.path, cfg->state.busy_timeout_ms, db, err);
}

const dv_admin *sg_admin_find(const dv_admin *a, size_t n, const char *host)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(a[mid].host, host);
        if (c == 0)
            return &a[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int sg_admin_apply(drover_member *m, const dv_admin *a, drover_error *err)
{
    if (!a)
        return 0;
    m->disabled = a->disabled;
    m->forced_down = a->forced_down;
    if (a->reason && !(m->disabled_reason = strdup(a->reason)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SERVICEGROUP, "out of memory");
    return 0;
}

int sg_admin_set_disabled(dv_sg *sg, dv_statedb *db, sg_member_check need, const char *group,
                          const char *host, bool disabled, const char *reason, drover_error *err)
{
    if (need(sg, group, host, err) < 0)
        return -1;
    return dv_statedb_set_disabled(db, group, host, disabled, reason, err);
}

int sg_admin_set_forced_down(dv_sg *sg, dv_statedb *db, sg_member_check need, const char *group,
                             const char *host, bool forced_down, drover_error *err)
{
    if (need(sg, group, host, err) < 0)
        return -1;
    return dv_statedb_set_forced_down(db, group, host, forced_down, err);
}
