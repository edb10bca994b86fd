/* harness.c - run tests/harness/NAME.sh with fork + execve and read results. */
#include "tests/harness/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef DV_TOP_SRCDIR
#define DV_TOP_SRCDIR "."
#endif

#define BASH "/bin/bash"

const char *dv_harness_script(const char *name)
{
    static char path[4096];
    const char *top = getenv("top_srcdir");

    if (!top || !*top)
        top = DV_TOP_SRCDIR;
    snprintf(path, sizeof path, "%s/tests/harness/%s", top, name);
    return path;
}

/* environ + extra, NULL-ended; the strings are borrowed. */
static char **make_env(const char *const extra[])
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    if (!(env = calloc(n + k + 1, sizeof *env)))
        return NULL;
    memcpy(env, environ, n * sizeof *env);
    for (size_t i = 0; i < k; i++)
        env[n + i] = (char *)extra[i];
    return env;
}

int dv_run(const char *const argv[], const char *const extra_env[], char *out, size_t outsz)
{
    size_t len = 0;
    int fds[2], status;
    char **env;
    pid_t pid;

    if (outsz)
        out[0] = '\0';
    if (!(env = make_env(extra_env)))
        return -1;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        free(env);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(env);
        return -1;
    }
    if (pid == 0) {
        /* the child: stdout into the pipe, stdin from /dev/null */
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        execve(argv[0], (char *const *)argv, env);
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(env);
    close(fds[1]);
    for (;;) {
        char buf[512];
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && outsz; i++)
            if (len + 1 < outsz)
                out[len++] = buf[i];
    }
    if (outsz)
        out[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status)) {
        fprintf(stderr, "harness: %s died of signal %d\n", argv[0],
                WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return -1;
    }
    return WEXITSTATUS(status);
}

int dv_harness_run(const char *script, const char *const argv[], const char *const extra_env[],
                   char *out, size_t outsz)
{
    const char *args[64];
    size_t na = 0;

    args[na++] = BASH;
    args[na++] = script;
    for (size_t i = 0; argv && argv[i] && na < sizeof args / sizeof *args - 1; i++)
        args[na++] = argv[i];
    args[na] = NULL;
    return dv_run(args, extra_env, out, outsz);
}

int dv_harness_value(const char *out, const char *key, char *val, size_t valsz)
{
    size_t klen = strlen(key);

    for (const char *line = out; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            const char *v = line + klen + 1;
            size_t n = strcspn(v, "\n");
            if (n >= valsz)
                return -1;
            memcpy(val, v, n);
            val[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- memcached */

static int mc_read_result(dv_mc_server *s, const char *out)
{
    char port[16], pid[16];

    if (dv_harness_value(out, "dir", s->dir, sizeof s->dir) < 0 ||
        dv_harness_value(out, "port", port, sizeof port) < 0 ||
        dv_harness_value(out, "pid", pid, sizeof pid) < 0) {
        fprintf(stderr, "harness: memcached.sh printed no dir/port/pid: \"%s\"\n", out);
        return -1;
    }
    s->port = atoi(port);
    s->pid = (pid_t)atoi(pid);
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
    return 0;
}

static int mc_command(dv_mc_server *s, const char *cmd, char *out, size_t outsz)
{
    const char *argv[] = { cmd, s->dir, NULL };
    char buf[1024];
    int rc;

    if (!s->dir[0]) {
        fprintf(stderr, "harness: memcached.sh %s: no server\n", cmd);
        return -1;
    }
    rc = dv_harness_run(dv_harness_script("memcached.sh"), argv, NULL, out ? out : buf,
                        out ? outsz : sizeof buf);
    if (rc != 0) {
        fprintf(stderr, "harness: memcached.sh %s %s failed (status %d)\n", cmd, s->dir, rc);
        return -1;
    }
    return 0;
}

int dv_mc_start(dv_mc_server *s, const char *sasl_user, const char *sasl_password,
                const char *const extra_args[])
{
    const char *argv[48];
    const char *env[2] = { NULL, NULL };
    char envbuf[512], out[2048];
    size_t n = 0;

    memset(s, 0, sizeof *s);
    argv[n++] = "start";
    if (sasl_user) {
        argv[n++] = "--sasl";
        argv[n++] = sasl_user;
        snprintf(envbuf, sizeof envbuf, "DV_MC_PASSWORD=%s", sasl_password ? sasl_password : "");
        env[0] = envbuf;
    }
    if (extra_args && extra_args[0]) {
        argv[n++] = "--";
        for (size_t i = 0; extra_args[i] && n < sizeof argv / sizeof *argv - 1; i++)
            argv[n++] = extra_args[i];
    }
    argv[n] = NULL;
    if (dv_harness_run(dv_harness_script("memcached.sh"), argv, env, out, sizeof out) != 0) {
        fprintf(stderr, "harness: memcached.sh start failed\n");
        return -1;
    }
    return mc_read_result(s, out);
}

int dv_mc_kill(dv_mc_server *s) { return mc_command(s, "kill", NULL, 0); }
int dv_mc_pause(dv_mc_server *s) { return mc_command(s, "pause", NULL, 0); }
int dv_mc_resume(dv_mc_server *s) { return mc_command(s, "resume", NULL, 0); }

int dv_mc_relaunch(dv_mc_server *s)
{
    char out[2048];

    if (mc_command(s, "relaunch", out, sizeof out) < 0)
        return -1;
    return mc_read_result(s, out);
}

int dv_mc_stop(dv_mc_server *s)
{
    int rc;

    if (!s->dir[0])
        return 0;
    rc = mc_command(s, "stop", NULL, 0);
    s->dir[0] = '\0';
    return rc;
}
