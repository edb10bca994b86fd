/* admin.h - admin state (disabled + reason, forced_down) of the members of
 * the drivers whose backend cannot keep it (mc, zk).  It lives in the state
 * store (store/store.h, state = { }), which every drover process of the
 * deployment shares: a member disabled on one machine is disabled for the
 * schedulers on every other.  A store that cannot be asked is an error
 * (DROVER_ERR_UNREACHABLE), never a fall-back to this machine's state db.
 *
 * The member list these drivers keep on the side (the state db at
 * state.path, sg_admin_open) is a per-machine cache of what the backend
 * says, not shared state; it stays local.  One implementation for every
 * such driver. */
#ifndef DV_DRIVERS_ADMIN_H
#define DV_DRIVERS_ADMIN_H

#include <pthread.h>

#include "core/config.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "store/store.h"

/* Open the state db a driver keeps its member list in, with
 * state.busy_timeout_ms.  driver names the driver in the message about an
 * empty state.path. */
int sg_admin_open(const dv_config *cfg, const char *driver, dv_statedb **db, drover_error *err);

/* A driver's way to the state store: opened at its first use (a driver
 * handle that only heartbeats never opens one), one call at a time. */
typedef struct sg_admin {
    const dv_config *cfg;
    dv_store *st;
    pthread_mutex_t mu;
} sg_admin;

void sg_admin_init(sg_admin *a, const dv_config *cfg);
void sg_admin_fini(sg_admin *a);

/* The admin state of group/host (all false / NULL when none). */
int sg_admin_get(sg_admin *a, const char *group, const char *host, dv_admin *out,
                 drover_error *err);
/* Every member of group with admin state set, sorted by host. */
int sg_admin_all(sg_admin *a, const char *group, dv_admin **out, size_t *n, drover_error *err);
/* A member removed from the group forgets its admin state. */
int sg_admin_forget(sg_admin *a, const char *group, const char *host, drover_error *err);

/* The entry for host in a (sorted by host, as sg_admin_all returns it), or
 * NULL. */
const dv_admin *sg_admin_find(const dv_admin *a, size_t n, const char *host);

/* Copy a's admin state (a may be NULL: nothing to copy) into m. */
int sg_admin_apply(drover_member *m, const dv_admin *a, drover_error *err);

/* A driver's own rule that host is a member of group (a host that never
 * joined gets DROVER_ERR_NOT_FOUND): admin state is only set on members. */
typedef int (*sg_member_check)(dv_sg *sg, const char *group, const char *host, drover_error *err);

int sg_admin_set_disabled(dv_sg *sg, sg_admin *a, sg_member_check need, const char *group,
                          const char *host, bool disabled, const char *reason, drover_error *err);
int sg_admin_set_forced_down(dv_sg *sg, sg_admin *a, sg_member_check need, const char *group,
                             const char *host, bool forced_down, drover_error *err);

#endif
