/* admin.h - the admin-state side table of the drivers whose backend cannot
 * keep it (mc, zk): disabled + reason and forced_down live in the state db
 * (state.path), which must survive the loss of the backend's data.  One
 * implementation for every such driver. */
#ifndef DV_DRIVERS_ADMIN_H
#define DV_DRIVERS_ADMIN_H

#include "core/config.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"

/* Open the state db a driver keeps its members and admin state in, with
 * state.busy_timeout_ms.  driver names the driver in the message about an
 * empty state.path. */
int sg_admin_open(const dv_config *cfg, const char *driver, dv_statedb **db, drover_error *err);

/* The entry for host in a (sorted by host, as dv_statedb_admin_all returns
 * it), or NULL. */
const dv_admin *sg_admin_find(const dv_admin *a, size_t n, const char *host);

/* Copy a's admin state (a may be NULL: nothing to copy) into m. */
int sg_admin_apply(drover_member *m, const dv_admin *a, drover_error *err);

/* A driver's own rule that host is a member of group (a host that never
 * joined gets DROVER_ERR_NOT_FOUND): admin state is only set on members. */
typedef int (*sg_member_check)(dv_sg *sg, const char *group, const char *host, drover_error *err);

int sg_admin_set_disabled(dv_sg *sg, dv_statedb *db, sg_member_check need, const char *group,
                          const char *host, bool disabled, const char *reason, drover_error *err);
int sg_admin_set_forced_down(dv_sg *sg, dv_statedb *db, sg_member_check need, const char *group,
                             const char *host, bool forced_down, drover_error *err);

#endif
