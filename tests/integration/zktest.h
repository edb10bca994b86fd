/* zktest.h - helpers for tests and benchmarks of the zk driver against real
 * ZooKeeper servers: scratch directories, configurations, and real agents
 * (cmd/droverd) run as separate processes (fork + execve, never a shell). */
#ifndef DV_ZKTEST_H
#define DV_ZKTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "tests/harness/drover_run.h"
#include "tests/harness/scratch.h"      /* dv_scratch_dir, dv_scratch_rmrf */

/* A configuration for the zk driver: state db in dir, report_interval 1 s. */
static inline dv_config *zkt_config(const char *hosts, const char *dir, int session_ms,
                                    const char *prefix, const char *auth)
{
    dv_config *cfg = dv_config_new_defaults();
    char state[600];

    if (!cfg)
        return NULL;
    snprintf(state, sizeof state, "%s/state.db", dir);
    if (dv_config_set_string(&cfg->servicegroup.driver, "zk", NULL) < 0 ||
        dv_config_set_string(&cfg->servicegroup.zk.hosts, hosts, NULL) < 0 ||
        dv_config_set_string(&cfg->servicegroup.zk.prefix, prefix, NULL) < 0 ||
        dv_config_set_string(&cfg->servicegroup.zk.auth, auth ? auth : "", NULL) < 0 ||
        dv_config_set_string(&cfg->state.path, state, NULL) < 0) {
        dv_config_free(cfg);
        return NULL;
    }
    cfg->servicegroup.zk.session_timeout_ms = session_ms;
    cfg->servicegroup.report_interval = 1;
    cfg->servicegroup.service_down_time = 3;
    return cfg;
}

/* Write cfg's liveness settings as a drover.conf at path (mode 0600: it may
 * hold a password).  Returns 0 or -1. */
static inline int zkt_write_config(const dv_config *cfg, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f,
            "servicegroup = {\n"
            "  driver = \"%s\";\n"
            "  report_interval = %d;\n"
            "  service_down_time = %d;\n"
            "  zk = { hosts = \"%s\"; session_timeout_ms = %d; prefix = \"%s\"; auth = \"%s\"; };\n"
            "};\n"
            "agent = { group = \"%s\"; };\n"
            "state = { path = \"%s\"; };\n",
            cfg->servicegroup.driver, cfg->servicegroup.report_interval,
            cfg->servicegroup.service_down_time, cfg->servicegroup.zk.hosts,
            cfg->servicegroup.zk.session_timeout_ms, cfg->servicegroup.zk.prefix,
            cfg->servicegroup.zk.auth, cfg->agent.group, cfg->state.path);
    return fclose(f) == 0 ? 0 : -1;
}

/* Start the real agent, cmd/droverd -c CONF --host HOST, on libvirt's test
 * driver (test:///default: in-process, no daemon), its log in LOG; wait (up
 * to timeout_ms) until it published its first heartbeat.  It dies with this
 * process.  Returns its pid, or -1 (after killing it). */
static inline pid_t zkt_spawn_agent(const char *conf, const char *host, const char *log,
                                    int timeout_ms)
{
    const char *const args[] = { "-c", conf, "--host", host, "--libvirt-uri",
                                 "test:///default", "--log-level", "info", NULL };

    return dv_drun_agent(args, log, timeout_ms);
}

/* Still running (not exited, not a zombie we have not reaped)? */
static inline int zkt_alive(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* Send sig and reap; returns the wait status (-1 when there was no child). */
static inline int zkt_reap(pid_t pid, int sig)
{
    int status = -1;

    if (pid > 0) {
        kill(pid, SIGCONT);
        kill(pid, sig);
        if (waitpid(pid, &status, 0) != pid)
            status = -1;
    }
    return status;
}

#endif
