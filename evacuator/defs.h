/* defs.h - guests' definitions on the shared storage (agent.definitions_dir):
 * DIR/<uuid>.xml holds the persistent (inactive, migratable) XML of a guest,
 * written by the agent of the host that runs it, read by the controller to
 * rebuild the guest elsewhere once that host is fenced.  Written atomically
 * (a temporary file in DIR, fsync, rename, fsync of DIR), mode 0600, and
 * only when the content changed, so a steady host writes nothing. */
#ifndef DV_EVAC_DEFS_H
#define DV_EVAC_DEFS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "virt/domains.h"

/* Write xml as DIR/<uuid>.xml unless it holds exactly that already.
 * *written = whether the file changed. */
int dv_defs_write(const char *dir, const char *uuid, const char *xml, bool *written,
                  drover_error *err);

/* The definition of uuid (malloc'd).  DROVER_ERR_NOT_FOUND when there is none. */
int dv_defs_read(const char *dir, const char *uuid, char **xml, drover_error *err);

/* Every persistent domain of doms with its XML: written when changed.
 * *n_written counts the files that changed.  Stops at the first error. */
int dv_defs_sync(const char *dir, const dv_virt_dom *doms, size_t n, size_t *n_written,
                 drover_error *err);

#endif
