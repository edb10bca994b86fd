/* test_fence.c - the fence and alert commands with real processes:
 * /bin/true, /bin/false, sleep and the scripts in tests/data.  "%h"
 * substitution, no shell between drover and the program, exit codes,
 * signals, timeouts that kill a process ignoring SIGTERM and its children
 * (the process group), start failures, bounded output, the alert's JSON on
 * stdin. */
#include "core/clock.h"
#include "evacuator/alert.h"
#include "evacuator/fence.h"
#include "tests/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static char data[1024];            /* $top_srcdir/tests/data */
static char tmp[64];

static dv_strlist list_of(char **items, size_t n)
{
    dv_strlist l = { items, n };
    return l;
}

static char *script(const char *name)
{
    static char buf[8][1200];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", data, name);
    return b;
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Gone, or a zombie waiting for its new parent (init) to reap it. */
static bool dead(pid_t pid)
{
    char path[64], *st;
    for (int i = 0; i < 200; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        st = strrchr(slurp(path), ')');
        if (st && st[1] == ' ' && st[2] == 'Z')
            return true;
        dv_sleep_ms(10);
    }
    return false;
}

static void test_expand(void)
{
    char *t[] = { "/x", "%h", "--ip=%h-bmc", "%%h", "100%%", "%x", "%", "%h%h", "" };
    dv_strlist l = list_of(t, sizeof t / sizeof *t);
    char **argv = NULL;
    drover_error err = { 0 };

    ok(dv_command_expand(&l, "c1", &argv, &err) == 0, "expand: accepted");
    if (argv) {
        is_str(argv[0], "/x", "expand: no %% stays as written");
        is_str(argv[1], "c1", "expand: %%h alone");
        is_str(argv[2], "--ip=c1-bmc", "expand: %%h inside an argument");
        is_str(argv[3], "%h", "expand: %%%%h is a literal %%h");
        is_str(argv[4], "100%", "expand: %%%% is a literal %%");
        is_str(argv[5], "%x", "expand: another %% sequence stays");
        is_str(argv[6], "%", "expand: a trailing %% stays");
        is_str(argv[7], "c1c1", "expand: %%h twice");
        is_str(argv[8], "", "expand: an empty argument stays");
        ok(argv[9] == NULL, "expand: NULL-terminated");
    }
    dv_argv_free(argv);
    l.n = 0;
    ok(dv_command_expand(&l, "c1", &argv, &err) == -1 && err.code == DROVER_ERR_CONFIG,
       "expand: an empty command is refused");
}

static void test_outcomes(void)
{
    char *t_true[] = { "/bin/true" }, *t_false[] = { "/bin/false" };
    char *t_exit[] = { script("exit_with.sh"), "3" };
    char *t_sig[] = { "/bin/sh", "-c", "kill -KILL $$" };
    char *t_none[] = { "/nonexistent/fence_agent", "%h" };
    char *t_noexec[] = { script("exit_with.sh"), "0" };
    char noexec[128];
    dv_strlist l;
    dv_fence_result r;
    drover_error err = { 0 };

    l = list_of(t_true, 1);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == 0 && r.confirmed, "/bin/true: fence confirmed");
    dv_fence_result_free(&r);

    l = list_of(t_false, 1);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == -1 && !r.confirmed, "/bin/false: not confirmed");
    has_str(err.message, "host c1 is not confirmed off: the fence command /bin/false exited with status 1",
            "/bin/false: the message names the host, the program and the status");
    dv_fence_result_free(&r);

    l = list_of(t_exit, 2);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == -1, "exit 3: not confirmed");
    has_str(err.message, "exited with status 3; it said: failing with 3",
            "exit 3: the status and its last line of stderr");
    has_str(r.proc.output, "output before failing\n", "exit 3: stdout is captured too");
    dv_fence_result_free(&r);

    l = list_of(t_sig, 3);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == -1 && r.proc.outcome == DV_PROC_SIGNALED &&
       r.proc.signal == SIGKILL, "killed by a signal: not confirmed");
    has_str(err.message, "was killed by signal 9", "signal: says which");
    dv_fence_result_free(&r);

    l = list_of(t_none, 2);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == -1 && r.proc.outcome == DV_PROC_EXEC_FAILED,
       "a missing program: not confirmed");
    has_str(err.message, "/nonexistent/fence_agent could not be started: No such file or directory",
            "a missing program: says so");
    dv_fence_result_free(&r);

    snprintf(noexec, sizeof noexec, "%s/noexec.sh", tmp);
    {
        FILE *f = fopen(noexec, "w");
        if (!f)
            bail_out("cannot write %s", noexec);
        fputs("#!/bin/sh\nexit 0\n", f);
        fclose(f);
        chmod(noexec, 0600);
    }
    t_noexec[0] = noexec;
    l = list_of(t_noexec, 1);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == -1, "a file that is not executable: not confirmed");
    has_str(err.message, "could not be started: Permission denied", "not executable: says so");
    dv_fence_result_free(&r);
    unlink(noexec);

    l.n = 0;
    ok(dv_fence_host(&l, "c1", 10000, NULL, &err) == -1 && err.code == DROVER_ERR_CONFIG,
       "no fence command: not confirmed");
    has_str(err.message, "evacuator.fence_command is empty", "no fence command: says so");
}

static void test_no_shell(void)
{
    char marker[128], dollar[200], semi[200];
    char *t[] = { script("echo_args.sh"), "--host=%h", semi, dollar, "a b", "%%h", "*", "'q'" };
    dv_strlist l = list_of(t, sizeof t / sizeof *t);
    dv_fence_result r;
    drover_error err = { 0 };
    char want[1200];

    snprintf(marker, sizeof marker, "%s/pwned", tmp);
    snprintf(dollar, sizeof dollar, "$(touch %s)", marker);
    snprintf(semi, sizeof semi, "x; touch %s", marker);
    ok(dv_fence_host(&l, "compute-7", 10000, &r, &err) == 0, "echo_args: confirmed (%s)", err.message);
    snprintf(want, sizeof want, "[--host=compute-7]\n[x; touch %s]\n[$(touch %s)]\n[a b]\n[%%h]\n[*]\n['q']\n",
             marker, marker);
    is_str(r.proc.output, want, "no shell: every argument arrives as written, %%h substituted");
    ok(access(marker, F_OK) != 0, "no shell: neither ';' nor $(...) ran anything");
    dv_fence_result_free(&r);
}

static void count_tick(void *arg)
{
    (*(int *)arg)++;
}

/* A fence that runs for a while ticks its caller all along (the
 * controller's lease renewal); no tick is fine too. */
static void test_ticks(void)
{
    char *t_sleep[] = { "/bin/sleep", "0.5" }, *t_true[] = { "/bin/true" };
    dv_strlist l = list_of(t_sleep, 2);
    drover_error err = { 0 };
    int ticks = 0;

    ok(dv_fence_host_ticking(&l, "c1", 10000, count_tick, &ticks, NULL, &err) == 0,
       "sleep 0.5 with a tick: confirmed (%s)", err.message);
    ok(ticks >= 5, "it ticked all along: %d ticks in 0.5 s", ticks);
    l = list_of(t_true, 1);
    ok(dv_fence_host_ticking(&l, "c1", 10000, NULL, NULL, NULL, &err) == 0, "no tick: fine too");
}

static void test_timeouts(void)
{
    char *t_sleep[] = { "/bin/sleep", "30" };
    char pidfile[128], *t_ign[] = { script("ignore_term.sh"), pidfile };
    char *t_leave[] = { script("leave_child.sh"), pidfile };
    dv_strlist l;
    dv_fence_result r;
    drover_error err = { 0 };
    sigset_t term, old;
    pid_t child;

    snprintf(pidfile, sizeof pidfile, "%s/child.pid", tmp);
    /* the caller blocks SIGTERM (droverd does): the child must not inherit that */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);
    l = list_of(t_sleep, 2);
    ok(dv_fence_host(&l, "c1", 300, &r, &err) == -1 && r.proc.outcome == DV_PROC_TIMEOUT,
       "sleep 30 with a 300 ms timeout: not confirmed");
    has_str(err.message, "did not finish within 0.3 s: killed (SIGTERM, to its process group)",
            "timeout: says so");
    ok(r.proc.signal == SIGTERM && r.proc.elapsed_ms >= 300 && r.proc.elapsed_ms < 1900,
       "timeout: SIGTERM was enough, though the caller blocks it (%lld ms)",
       (long long)r.proc.elapsed_ms);
    dv_fence_result_free(&r);
    sigprocmask(SIG_SETMASK, &old, NULL);

    unlink(pidfile);
    l = list_of(t_ign, 2);
    ok(dv_fence_host(&l, "c1", 500, &r, &err) == -1 && r.proc.outcome == DV_PROC_TIMEOUT,
       "a program ignoring SIGTERM: timed out");
    ok(r.proc.signal == SIGKILL, "ignoring SIGTERM: SIGKILL after the grace");
    ok(r.proc.elapsed_ms >= 500 + DV_FENCE_KILL_GRACE_MS && r.proc.elapsed_ms < 10000,
       "ignoring SIGTERM: killed after timeout + grace (%lld ms)", (long long)r.proc.elapsed_ms);
    has_str(err.message, "SIGTERM, then SIGKILL", "ignoring SIGTERM: the message says both");
    child = (pid_t)atoi(slurp(pidfile));
    ok(child > 0 && dead(child), "ignoring SIGTERM: its child (pid %d) was killed too", (int)child);
    dv_fence_result_free(&r);

    unlink(pidfile);
    l = list_of(t_leave, 2);
    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == 0, "exit 0 leaving a child: confirmed");
    ok(r.proc.elapsed_ms < 5000, "  without waiting for the child (%lld ms)", (long long)r.proc.elapsed_ms);
    child = (pid_t)atoi(slurp(pidfile));
    ok(child > 0 && dead(child), "  and the child it left (pid %d) is killed", (int)child);
    dv_fence_result_free(&r);
}

/* A descriptor the caller left without O_CLOEXEC does not reach the program. */
static void test_descriptors(void)
{
    int fd = open("/dev/null", O_RDONLY);       /* no O_CLOEXEC on purpose */
    char check[128], *t[] = { "/bin/sh", "-c", check };
    dv_strlist l = list_of(t, 3);
    drover_error err = { 0 };

    if (fd < 0)
        bail_out("open /dev/null: %s", strerror(errno));
    snprintf(check, sizeof check, "test ! -e /proc/$$/fd/%d", fd);
    ok(dv_fence_host(&l, "c1", 10000, NULL, &err) == 0,
       "descriptor %d of the caller is closed in the program (%s)", fd, err.message);
    close(fd);
}

static void test_output_bound(void)
{
    char *t[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x" };
    dv_strlist l = list_of(t, 3);
    dv_fence_result r;
    drover_error err = { 0 };

    ok(dv_fence_host(&l, "c1", 10000, &r, &err) == 0, "100000 bytes of output: confirmed");
    ok(r.proc.truncated && r.proc.output_len == DV_FENCE_OUTPUT_MAX &&
       strlen(r.proc.output) == DV_FENCE_OUTPUT_MAX, "  %d bytes kept, the rest dropped",
       DV_FENCE_OUTPUT_MAX);
    dv_fence_result_free(&r);
}

static void test_alert(void)
{
    char out[128], *t_save[] = { script("save_stdin.sh"), out };
    char *t_false[] = { "/bin/false" }, *t_true[] = { "/bin/true" };
    char *t_sleep[] = { "/bin/sleep", "30" }, *t_echo[] = { script("echo_args.sh"), "%h" };
    dv_alert a = { DV_ALERT_FENCE_FAILED, "c\"3", NULL, "exit 1; said \"no\"", 7 };
    dv_strlist l;
    drover_error err = { 0 };
    json_object *o;
    char *big;

    snprintf(out, sizeof out, "%s/event.json", tmp);
    l = list_of(t_save, 2);
    ok(dv_alert_send(&l, &a, 1700000000123LL, &err) == 0, "alert: sent (%s)", err.message);
    o = json_tokener_parse(slurp(out));
    ok(o != NULL, "alert: stdin held one JSON object");
    if (o) {
        json_object *v;
        is_str(json_object_object_get_ex(o, "event", &v) ? json_object_get_string(v) : NULL,
               "fence_failed", "alert: event");
        is_str(json_object_object_get_ex(o, "host", &v) ? json_object_get_string(v) : NULL,
               "c\"3", "alert: host (escaped, read back)");
        is_str(json_object_object_get_ex(o, "message", &v) ? json_object_get_string(v) : NULL,
               "exit 1; said \"no\"", "alert: message");
        is_int(json_object_object_get_ex(o, "time_ms", &v) ? json_object_get_int64(v) : -1,
               1700000000123LL, "alert: time_ms");
        is_int(json_object_object_get_ex(o, "epoch", &v) ? json_object_get_int64(v) : -1, 7,
               "alert: epoch");
        ok(!json_object_object_get_ex(o, "guest", NULL), "alert: no guest key when none is set");
        json_object_put(o);
    }
    a = (dv_alert){ DV_ALERT_BREAKER_OPEN, NULL, NULL, "2 of 3 DOWN", 0 };
    ok(dv_alert_send(&l, &a, 1, &err) == 0, "alert: a breaker event");
    is_str(slurp(out), "{\"event\":\"breaker_open\",\"time_ms\":1,\"message\":\"2 of 3 DOWN\"}",
           "alert: the breaker event, exactly");

    l = list_of(t_false, 1);
    ok(dv_alert_send(&l, &a, 1, &err) == -1, "alert: /bin/false fails");
    has_str(err.message, "the alert command /bin/false for event breaker_open exited with status 1",
            "alert: and says so");
    l = list_of(t_sleep, 2);
    ok(dv_alert_send_within(&l, &a, 1, 300, &err) == -1, "alert: a hung command is cut off");
    has_str(err.message, "did not finish within 0.3 s", "alert: and says so");
    l = list_of(t_echo, 2);
    a.host = "c9";
    ok(dv_alert_send(&l, &a, 1, &err) == 0, "alert: %%h in alert_command");
    l.n = 0;
    ok(dv_alert_send(&l, &a, 1, &err) == 0, "alert: no alert_command, nothing to do");

    /* a program that does not read its stdin: no SIGPIPE for the caller */
    big = malloc(1 << 20);
    memset(big, 'm', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    a.message = big;
    l = list_of(t_true, 1);
    ok(dv_alert_send(&l, &a, 1, &err) == 0, "alert: /bin/true ignoring 1 MiB of stdin: fine, "
       "and no SIGPIPE killed the caller");
    free(big);
}

int main(void)
{
    const char *top = getenv("top_srcdir");

    if (!top || !*top)
        top = getenv("srcdir");
    if (!top || !*top)
        bail_out("top_srcdir is not set: run this test with make check");
    snprintf(data, sizeof data, "%s/tests/data", top);
    strcpy(tmp, "/tmp/dv-test-fence.XXXXXX");
    if (!mkdtemp(tmp))
        bail_out("mkdtemp: %s", strerror(errno));
    test_expand();
    test_outcomes();
    test_no_shell();
    test_timeouts();
    test_ticks();
    test_descriptors();
    test_output_bound();
    test_alert();
    {
        static const char *const left[] = { "child.pid", "event.json", "pwned", "noexec.sh" };
        char path[200];
        for (size_t i = 0; i < sizeof left / sizeof *left; i++) {
            snprintf(path, sizeof path, "%s/%s", tmp, left[i]);
            unlink(path);
        }
        if (rmdir(tmp) != 0)
            diag("could not remove %s: %s", tmp, strerror(errno));
    }
    return done_testing();
}
