/* zktest.h - helpers for tests and benchmarks of the zk driver against real
 * ZooKeeper servers: scratch directories, configurations, and heartbeater
 * agents run as separate processes (fork + execve, never a shell). */
#ifndef DV_ZKTEST_H
#define DV_ZKTEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
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

#ifndef DV_TOP_BUILDDIR
#define DV_TOP_BUILDDIR "."
#endif

extern char **environ;

/* A fresh private directory under $TMPDIR (or /tmp); static buffer. */
static inline const char *zkt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    static char dir[512];

    snprintf(dir, sizeof dir, "%s/drover-zk-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir);
}

static inline int zkt_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void zkt_rmrf(const char *dir)
{
    if (dir && *dir)
        nftw(dir, zkt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

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

/* Start tests/harness/heartbeater CONF HOST [INTERVAL_MS] and wait (up to
 * timeout_ms) until it says it joined.  It dies with this process.  Returns
 * its pid, or -1 (after killing it) when it did not join. */
static inline pid_t zkt_spawn_heartbeater(const char *conf, const char *host, int interval_ms,
                                          int timeout_ms)
{
    const char *top = getenv("top_builddir");
    char prog[600], interval[32], line[512];
    const char *argv[] = { prog, conf, host, interval_ms > 0 ? interval : NULL, NULL };
    int fds[2];
    size_t len = 0;
    int64_t deadline = dv_mono_ms() + timeout_ms;
    pid_t parent = getpid(), pid;

    snprintf(prog, sizeof prog, "%s/tests/harness/heartbeater", top && *top ? top : DV_TOP_BUILDDIR);
    snprintf(interval, sizeof interval, "%d", interval_ms);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* die with the test, even if it crashes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        execve(prog, (char *const *)argv, environ);
        fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    while (len + 1 < sizeof line && !memchr(line, '\n', len)) {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        int64_t left = deadline - dv_mono_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if ((r = read(fds[0], line + len, sizeof line - 1 - len)) <= 0)
            break;
        len += (size_t)r;
    }
    close(fds[0]);
    line[len] = '\0';
    if (strncmp(line, "joined ", 7) != 0) {
        fprintf(stderr, "heartbeater %s did not join within %d ms (said \"%s\")\n", host,
                timeout_ms, line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* Still running (not exited, not a zombie we have not reaped)? */
static inline int zkt_alive(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* Send sig and reap. */
static inline void zkt_reap(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, SIGCONT);
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

#endif
