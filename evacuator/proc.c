/* proc.c - see proc.h.  One poll loop feeds stdin, drains the output pipe
 * and checks the child with waitid(WNOWAIT), so the child stays a zombie
 * (its pid and so its process group id stay reserved) until the group has
 * been killed: killpg never hits a stranger that reused the id. */
#include "evacuator/proc.h"
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define POLL_SLICE_MS 20           /* how often the child's state is checked */
#define DRAIN_AFTER_EXIT_MS 200    /* output still in flight once it exited */

typedef struct run {
    const dv_proc_opts *o;
    dv_proc_result *r;
    pid_t pid;
    int out_fd, in_fd;
    size_t in_off;
    size_t cap;
    bool exited;                   /* waitid saw it end (not reaped yet) */
    bool lost;                     /* waitid failed: how it ended is unknown */
    siginfo_t si;
} run;

static int spawn_child(char *const argv[], int in_rd, int out_wr, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    int rc;

    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGCHLD);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in_rd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_wr, 1);
    posix_spawn_file_actions_adddup2(&fa, out_wr, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* descriptors a library opened without O_CLOEXEC (backend sockets, the
     * database) are not the fence agent's business */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* A write to a pipe whose reader is gone must not kill the caller with
 * SIGPIPE (a daemon may ignore it, a test program does not): block it
 * around the write and take back the one this write raised. */
static ssize_t write_quietly(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old, pending;
    bool was_pending;
    struct timespec zero = { 0, 0 };
    ssize_t w;
    int e;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    w = write(fd, buf, n);
    e = errno;
    if (w < 0 && e == EPIPE && !was_pending)
        sigtimedwait(&pipe_set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

static void keep_output(run *x, const char *buf, size_t n)
{
    dv_proc_result *r = x->r;
    size_t room = x->o->output_max > r->output_len ? x->o->output_max - r->output_len : 0;

    if (n > room) {
        r->truncated = true;
        n = room;
    }
    memcpy(r->output + r->output_len, buf, n);
    r->output_len += n;
    r->output[r->output_len] = '\0';
}

/* One poll round of at most slice ms.  Returns false once the output pipe is at EOF. */
static bool pump(run *x, int slice)
{
    struct pollfd p[2];
    int n = 0, out_i = -1, in_i = -1;
    char buf[4096];

    if (x->out_fd >= 0) {
        p[n] = (struct pollfd){ x->out_fd, POLLIN, 0 };
        out_i = n++;
    }
    if (x->in_fd >= 0) {
        p[n] = (struct pollfd){ x->in_fd, POLLOUT, 0 };
        in_i = n++;
    }
    if (poll(p, (nfds_t)n, slice) <= 0)
        return x->out_fd >= 0;
    if (in_i >= 0 && p[in_i].revents) {
        ssize_t w = (p[in_i].revents & POLLOUT)
                        ? write_quietly(x->in_fd, x->o->input + x->in_off, x->o->input_len - x->in_off)
                        : -1;
        if (w > 0)
            x->in_off += (size_t)w;
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || x->in_off >= x->o->input_len) {
            close(x->in_fd);       /* done, or the program does not read it: EOF */
            x->in_fd = -1;
        }
    }
    if (out_i >= 0 && p[out_i].revents) {
        ssize_t got = read(x->out_fd, buf, sizeof buf);
        if (got > 0) {
            keep_output(x, buf, (size_t)got);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(x->out_fd);
            x->out_fd = -1;
        }
    }
    return x->out_fd >= 0;
}

static bool child_ended(run *x)
{
    if (!x->exited) {
        memset(&x->si, 0, sizeof x->si);
        if (waitid(P_PID, (id_t)x->pid, &x->si, WEXITED | WNOHANG | WNOWAIT) == 0) {
            x->exited = x->si.si_pid == x->pid;
        } else if (errno != EINTR) {
            x->exited = x->lost = true;   /* e.g. SIGCHLD ignored: reaped by the kernel */
        }
    }
    return x->exited;
}

/* Pump until the child ended or the deadline (absolute, dv_mono_ms) passed. */
static void pump_until(run *x, int64_t deadline)
{
    while (!child_ended(x)) {
        int64_t left = deadline - dv_mono_ms();
        if (left <= 0)
            return;
        pump(x, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS);   /* sleeps if both are closed */
        if (x->o->tick)
            x->o->tick(x->o->tick_arg);
    }
}

/* The deadline passed: SIGTERM to the group, the grace, then SIGKILL. */
static void stop_group(run *x)
{
    x->r->outcome = DV_PROC_TIMEOUT;
    x->r->signal = SIGTERM;
    killpg(x->pid, SIGTERM);
    pump_until(x, dv_mono_ms() + (x->o->kill_grace_ms > 0 ? x->o->kill_grace_ms : 0));
    if (!child_ended(x)) {
        x->r->signal = SIGKILL;
        killpg(x->pid, SIGKILL);
        while (!child_ended(x))
            pump(x, POLL_SLICE_MS);
    }
}

static int finish(run *x, int64_t t0, drover_error *err)
{
    int64_t drain_until;
    int status = 0;

    /* the leader is a zombie: its group id is still ours to kill */
    killpg(x->pid, SIGKILL);
    if (x->lost || waitpid(x->pid, &status, 0) != x->pid)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_CORE,
                      "%s (pid %d) ended, but how is unknown: %s (is SIGCHLD ignored?)",
                      "the program", (int)x->pid, strerror(errno));
    drain_until = dv_mono_ms() + DRAIN_AFTER_EXIT_MS;
    while (x->out_fd >= 0 && dv_mono_ms() < drain_until)
        pump(x, POLL_SLICE_MS);
    if (x->r->outcome != DV_PROC_TIMEOUT) {
        if (WIFEXITED(status)) {
            x->r->outcome = DV_PROC_EXITED;
            x->r->exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            x->r->outcome = DV_PROC_SIGNALED;
            x->r->signal = WTERMSIG(status);
        }
    }
    x->r->elapsed_ms = dv_mono_ms() - t0;
    return 0;
}

static int make_pipes(int in[2], int out[2], drover_error *err)
{
    in[0] = in[1] = out[0] = out[1] = -1;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE, "cannot create a pipe: %s",
                      strerror(e));
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    return 0;
}

int dv_proc_run(char *const argv[], const dv_proc_opts *o, dv_proc_result *r, drover_error *err)
{
    int in[2], out[2], rc;
    int64_t t0 = dv_mono_ms();
    run x = { .o = o, .r = r, .out_fd = -1, .in_fd = -1 };

    memset(r, 0, sizeof *r);
    if (!argv || !argv[0] || !*argv[0])
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "no program to run");
    if (!(r->output = malloc(o->output_max + 1)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    r->output[0] = '\0';
    if (make_pipes(in, out, err) < 0) {
        dv_proc_result_free(r);
        return -1;
    }
    /* posix_spawn reports a failed exec only where it is built on
     * clone(CLONE_VFORK) (glibc, not valgrind's emulation: there the child
     * exits 127), so the common causes are checked first, for a clear
     * message; a race with the file changing only changes the message. */
    rc = access(argv[0], X_OK) == 0 ? spawn_child(argv, in[0], out[1], &x.pid) : errno;
    close(in[0]);
    close(out[1]);
    x.out_fd = out[0];
    x.in_fd = in[1];
    if (rc != 0) {
        close(x.out_fd);
        close(x.in_fd);
        r->outcome = DV_PROC_EXEC_FAILED;
        r->exec_errno = rc;
        r->elapsed_ms = dv_mono_ms() - t0;
        return 0;
    }
    if (!o->input || !o->input_len) {
        close(x.in_fd);
        x.in_fd = -1;
    }
    pump_until(&x, t0 + o->timeout_ms);
    if (!child_ended(&x))
        stop_group(&x);
    rc = finish(&x, t0, err);
    if (x.out_fd >= 0)
        close(x.out_fd);
    if (x.in_fd >= 0)
        close(x.in_fd);
    if (rc < 0)
        dv_proc_result_free(r);
    return rc;
}

void dv_proc_result_free(dv_proc_result *r)
{
    free(r->output);
    r->output = NULL;
    r->output_len = 0;
}

void dv_proc_describe(const dv_proc_result *r, const dv_proc_opts *o, char *buf, size_t len)
{
    switch (r->outcome) {
    case DV_PROC_EXITED:
        snprintf(buf, len, "exited with status %d", r->exit_code);
        break;
    case DV_PROC_SIGNALED:
        snprintf(buf, len, "was killed by signal %d (%s)", r->signal, strsignal(r->signal));
        break;
    case DV_PROC_TIMEOUT:
        snprintf(buf, len, "did not finish within %.1f s: killed (SIGTERM%s, to its process group)",
                 o->timeout_ms / 1000.0, r->signal == SIGKILL ? ", then SIGKILL" : "");
        break;
    case DV_PROC_EXEC_FAILED:
        snprintf(buf, len, "could not be started: %s", strerror(r->exec_errno));
        break;
    }
}
