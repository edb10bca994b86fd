/* agent_defs.h - the agent's part of evacuations (droverd, not --controller):
 *  - keep the definitions of its persistent guests in agent.definitions_dir
 *    (defs.h), once per heartbeat, from its own libvirt under
 *    agent.libvirt_timeout_ms;
 *  - at start, before its first heartbeat, remove the stale copies of a
 *    host that was fenced and came back (Nova's _destroy_evacuated_instances):
 *    every local domain the journal says was rebuilt elsewhere from this
 *    host is destroyed and undefined; so is an inactive local definition of
 *    a guest another member reports running.  A running local domain is
 *    never touched on a report's word alone (a post-copy migration runs on
 *    the destination while the source still holds part of its memory).
 *    The host stays disabled: only an operator enables it again. */
#ifndef DV_EVAC_AGENT_DEFS_H
#define DV_EVAC_AGENT_DEFS_H

#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "drivers/servicegroup.h"

typedef struct dv_agent_defs dv_agent_defs;

/* NULL in *out (and 0) when agent.definitions_dir is "" (off). */
int dv_agent_defs_new(const dv_config *cfg, dv_agent_defs **out, drover_error *err);
void dv_agent_defs_free(dv_agent_defs *d);

/* Bring the directory up to date.  *written: files that changed. */
int dv_agent_defs_sync(dv_agent_defs *d, size_t *written, drover_error *err);

/* Remove the stale copies (see above); sg may be NULL (no reports asked).
 * *removed: domains destroyed/undefined.  -1 when the journal or libvirt
 * could not be read (then nothing was removed on a guess). */
int dv_agent_remove_stale(const dv_config *cfg, dv_sg *sg, size_t *removed, drover_error *err);

#endif
