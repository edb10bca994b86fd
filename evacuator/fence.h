/* fence.h - confirming that a host is off before anything of it is
 * started elsewhere: evacuator.fence_command, argv with "%h" = the host,
 * run without a shell, with a deadline.  Exit status 0, and only that, is a
 * confirmed fence (Pacemaker and Proxmox HA count a fence as done only
 * when the agent acknowledged it). */
#ifndef DV_EVAC_FENCE_H
#define DV_EVAC_FENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "evacuator/proc.h"

#define DV_FENCE_OUTPUT_MAX 8192   /* bytes of its output kept for the journal and the log */
#define DV_FENCE_KILL_GRACE_MS 2000

/* Expand a command template for host: in every item "%h" becomes host and
 * "%%" a single '%'; any other '%' stays as written (as in
 * controller.libvirt_uri).  *out is a NULL-terminated argv for
 * dv_argv_free.  An empty template is DROVER_ERR_CONFIG. */
int dv_command_expand(const dv_strlist *tmpl, const char *host, char ***out, drover_error *err);
void dv_argv_free(char **argv);

typedef struct dv_fence_result {
    bool confirmed;                /* exit status 0: the host is off */
    dv_proc_result proc;           /* how it ran, with its output */
} dv_fence_result;

/* Fence host with cmd (evacuator.fence_command) within timeout_ms.
 * Returns 0 only when the fence is confirmed.  Otherwise -1 and err says
 * which failure it was, naming the host and the program: no fence command,
 * exit status N, killed by a signal, timed out (and killed), could not be
 * started; DROVER_ERR_CONFIG for no command, DROVER_ERR_IO otherwise.
 * res (if not NULL) gets the details and the output either way; free it
 * with dv_fence_result_free. */
int dv_fence_host(const dv_strlist *cmd, const char *host, int64_t timeout_ms,
                  dv_fence_result *res, drover_error *err);
/* The same, calling tick(arg) every few tens of ms while the command runs
 * (the controller's lease renewal: a fence may outlast the lease). */
int dv_fence_host_ticking(const dv_strlist *cmd, const char *host, int64_t timeout_ms,
                          void (*tick)(void *arg), void *arg, dv_fence_result *res,
                          drover_error *err);
void dv_fence_result_free(dv_fence_result *res);

#endif
