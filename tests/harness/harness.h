/* harness.h - run the project's server harness scripts (tests/harness/NAME.sh)
 * from C tests and benchmarks.
 *
 * A script runs with fork + execve of bash and an argv (no shell string, so
 * nothing is ever re-parsed); its stdout is read back, and "key=value" lines
 * in it are the results (dir=, port=, pid=).  The script's stderr goes to
 * ours (the test's log).  Functions return 0 on success and -1 on failure,
 * after printing why on stderr; a test whose server cannot start must fail
 * (bail_out), never skip.
 *
 * The scripts are found in $top_srcdir/tests/harness (automake exports
 * top_srcdir to tests), else in DV_TOP_SRCDIR given at compile time.
 */
#ifndef DV_TEST_HARNESS_H
#define DV_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* The path of tests/harness/<name> (static buffer). */
const char *dv_harness_script(const char *name);

/* Run the program argv[0] (a path) with argv; extra_env ("NAME=value"
 * strings, NULL-ended, may be NULL) is added to our environment.  Fills out
 * (NUL-terminated) with its stdout; stderr is ours.  Returns the exit
 * status, or -1 if it could not run or died of a signal. */
int dv_run(const char *const argv[], const char *const extra_env[], char *out, size_t outsz);

/* Run bash <script> argv...; extra_env ("NAME=value" strings, NULL-ended,
 * may be NULL) is added to our environment.  Fills out (NUL-terminated)
 * with the script's stdout.  Returns the exit status, or -1 if it could not
 * run or died of a signal. */
int dv_harness_run(const char *script, const char *const argv[], const char *const extra_env[],
                   char *out, size_t outsz);

/* Copy the value of a "key=value" line of out into val.  -1 if absent. */
int dv_harness_value(const char *out, const char *key, char *val, size_t valsz);

/* ---- memcached (tests/harness/memcached.sh) */
typedef struct dv_mc_server {
    char dir[512];      /* the server's private directory; "" once stopped */
    int port;
    pid_t pid;
    char addr[32];      /* "127.0.0.1:PORT", for servicegroup.mc.servers */
} dv_mc_server;

/* Start memcached on a free port.  sasl_user non-NULL: require SASL with
 * that user and password.  extra_args: more memcached arguments (NULL-ended,
 * may be NULL).  The server dies with this process at the latest. */
int dv_mc_start(dv_mc_server *s, const char *sasl_user, const char *sasl_password,
                const char *const extra_args[]);
int dv_mc_kill(dv_mc_server *s);      /* SIGKILL, wait until gone: all data lost */
int dv_mc_pause(dv_mc_server *s);     /* SIGSTOP: hung server, port still open */
int dv_mc_resume(dv_mc_server *s);    /* SIGCONT */
int dv_mc_relaunch(dv_mc_server *s);  /* same port, same arguments, empty cache */
int dv_mc_stop(dv_mc_server *s);      /* kill and remove its directory; idempotent */

#endif
