/* drover_run.c - see drover_run.h. */
#include "tests/harness/drover_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *dv_drun_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = n < 0 ? NULL : calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

int dv_drun_spawn(dv_drun *r, const char *bin, const char *conf, const char *dir,
                  const char *tag, const char *const *args)
{
    static char wrap[512];
    const char *w = getenv("DV_TEST_WRAPPER");
    char *argv[40], *save = NULL;
    int n = 0;

    snprintf(wrap, sizeof wrap, "%s", w ? w : "");
    for (char *t = strtok_r(wrap, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    memset(r, 0, sizeof *r);
    snprintf(r->out, sizeof r->out, "%s/%s.out", dir, tag);
    snprintf(r->err, sizeof r->err, "%s/%s.err", dir, tag);
    argv[n++] = (char *)bin;
    argv[n++] = (char *)"-c";
    argv[n++] = (char *)conf;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(stdout);
    if ((r->pid = fork()) < 0)
        return -1;
    if (r->pid == 0) {
        int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    return 0;
}

int dv_drun_finish(dv_drun *r, int timeout_s)
{
    int st = 0;
    pid_t got = 0;

    for (int i = 0; i < timeout_s * 100 && (got = waitpid(r->pid, &st, WNOHANG)) == 0; i++)
        usleep(10000);
    if (got == 0) {
        printf("# drover (pid %d) still runs after %d s: killed\n", (int)r->pid, timeout_s);
        fflush(stdout);
        kill(r->pid, SIGKILL);
        got = waitpid(r->pid, &st, 0);
    }
    if (got < 0)
        return -1;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    free(r->stdout_text);
    free(r->stderr_text);
    r->stdout_text = dv_drun_slurp(r->out);
    r->stderr_text = dv_drun_slurp(r->err);
    return r->status;
}

void dv_drun_free(dv_drun *r)
{
    free(r->stdout_text);
    free(r->stderr_text);
    r->stdout_text = r->stderr_text = NULL;
}

void dv_drun_diag_text(const char *title, const char *text)
{
    printf("# %s\n", title);
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, "\n");
        printf("#   %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
    fflush(stdout);
}

int dv_drun_file_has(const char *path, const char *needle)
{
    char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child's side of dv_drun_agent: never returns. */
static void agent_exec(const char *prog, const char *const *args, const char *log, pid_t parent)
{
    const char *argv[40];
    int n = 0, fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    int null = open("/dev/null", O_RDWR);

    argv[n++] = prog;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    /* die with the test, even if it crashes */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent || fd < 0 || null < 0)
        _exit(1);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(prog, (char *const *)argv);
    dprintf(fd, "cannot run %s: %s\n", prog, strerror(errno));
    _exit(127);
}

int dv_drun_bin(char *buf, size_t size, const char *name)
{
    const char *top = getenv("top_builddir");

    snprintf(buf, size, "%s/cmd/%s", top && *top ? top : DV_TOP_BUILDDIR, name);
    return access(buf, X_OK);
}

pid_t dv_drun_agent(const char *const *args, const char *log, int timeout_ms)
{
    char prog[600];
    long long deadline = mono_ms() + timeout_ms;
    pid_t parent = getpid(), pid;

    if (dv_drun_bin(prog, sizeof prog, "droverd") < 0) {
        fprintf(stderr, "%s is not built\n", prog);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        agent_exec(prog, args, log, parent);
    while (mono_ms() < deadline) {
        int status;

        if (dv_drun_file_has(log, "publishing liveness"))
            return pid;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "droverd exited before its first heartbeat; its log is %s\n", log);
            return -1;
        }
        usleep(20000);
    }
    fprintf(stderr, "droverd published nothing within %d ms; its log is %s\n", timeout_ms, log);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}
