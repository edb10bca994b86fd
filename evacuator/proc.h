/* proc.h - running an outside program (a fence agent, an alert hook):
 * argv as given, no shell and no PATH search, in a process group of its
 * own, with a deadline, its stdout and stderr captured (bounded) and
 * optional bytes on its stdin.  Safe in a threaded process (posix_spawn;
 * the child gets default signal dispositions and an empty signal mask,
 * whatever the caller blocks or ignores). */
#ifndef DV_EVAC_PROC_H
#define DV_EVAC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

typedef enum dv_proc_outcome {
    DV_PROC_EXITED = 0,            /* exit_code holds its status */
    DV_PROC_SIGNALED,              /* a signal (not ours) ended it */
    DV_PROC_TIMEOUT,               /* still running at the deadline: killed */
    DV_PROC_EXEC_FAILED            /* it could not be started: exec_errno */
} dv_proc_outcome;

typedef struct dv_proc_opts {
    const char *input;             /* written to its stdin, then closed; NULL = /dev/null-like EOF */
    size_t input_len;
    int64_t timeout_ms;            /* > 0 */
    int64_t kill_grace_ms;         /* after SIGTERM to the group, wait this long before SIGKILL */
    size_t output_max;             /* bytes of stdout+stderr kept; the rest is read and dropped */
    /* Called while the program runs, every few tens of ms (NULL: not):
     * a controller renews its lease through a fence longer than it. */
    void (*tick)(void *arg);
    void *tick_arg;
} dv_proc_opts;

typedef struct dv_proc_result {
    dv_proc_outcome outcome;
    int exit_code;
    int signal;                    /* DV_PROC_SIGNALED: which; DV_PROC_TIMEOUT: the last one sent */
    int exec_errno;
    char *output;                  /* stdout and stderr as they came, NUL-terminated */
    size_t output_len;
    bool truncated;                /* more output came than output_max */
    int64_t elapsed_ms;
} dv_proc_result;

/* Run argv[0] (an absolute path) with argv; wait until it ends, the
 * deadline passes or both happened and its group is killed.  When the
 * program exits, what remains of its process group is killed too (drover
 * leaves nothing of what it started behind).  Returns 0 when r describes
 * the run (including DV_PROC_EXEC_FAILED), -1 when drover itself could not
 * run it (no pipe, no memory: err says). */
int dv_proc_run(char *const argv[], const dv_proc_opts *o, dv_proc_result *r, drover_error *err);

void dv_proc_result_free(dv_proc_result *r);

/* "exited with status 1", "was killed by signal 9 (Killed)", "did not
 * finish within 5.0 s: killed (SIGTERM, then SIGKILL, to its process
 * group)", "could not be started: No such file or directory". */
void dv_proc_describe(const dv_proc_result *r, const dv_proc_opts *o, char *buf, size_t len);

#endif
