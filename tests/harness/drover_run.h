/* drover_run.h - `drover` run as a separate process for integration tests:
 * no shell, its output in files, $DV_TEST_WRAPPER (e.g. "valgrind
 * --leak-check=full --error-exitcode=9 -q") in front of it, a hang killed
 * after a timeout.  Part of the harness library (libdvharness.la). */
#ifndef DV_TEST_DROVER_RUN_H
#define DV_TEST_DROVER_RUN_H

#include <stddef.h>
#include <sys/types.h>

typedef struct dv_drun {
    pid_t pid;
    char out[192], err[192];
    int status; /* exit code, or 128 + signal */
    char *stdout_text, *stderr_text;
} dv_drun;

/* A whole file as a string ("" when it cannot be read); the caller frees. */
char *dv_drun_slurp(const char *path);

/* Start `BIN -c CONF ARGS...` (args ends with NULL), output in
 * DIR/TAG.out and DIR/TAG.err.  -1 (errno set) if fork fails. */
int dv_drun_spawn(dv_drun *r, const char *bin, const char *conf, const char *dir,
                  const char *tag, const char *const *args);

/* Wait for it, killing it after timeout_s (a hang then fails the caller's
 * checks); fills status and the texts.  The status, or -1 if waitpid fails. */
int dv_drun_finish(dv_drun *r, int timeout_s);

void dv_drun_free(dv_drun *r);

/* $top_builddir/cmd/NAME into buf (top_builddir from the environment, as
 * make check sets it, else the build directory of this harness); -1 when
 * that is not an executable (buf still names it). */
int dv_drun_bin(char *buf, size_t size, const char *name);

/* Whether the file at path contains needle (its first 64 KiB). */
int dv_drun_file_has(const char *path, const char *needle);

/* Start the agent, $top_builddir/cmd/droverd ARGS... (args ends with NULL:
 * "-c", CONF, "--host", ...), stdin and stdout on /dev/null, stderr in log;
 * it dies with this process.  Waits up to timeout_ms for its first
 * heartbeat ("publishing liveness" in the log).  Its pid, or -1 after
 * printing why on stderr (a droverd still running is killed then). */
pid_t dv_drun_agent(const char *const *args, const char *log, int timeout_ms);

/* A TAP diagnostic of several lines: title, then each line of text. */
void dv_drun_diag_text(const char *title, const char *text);

#endif
