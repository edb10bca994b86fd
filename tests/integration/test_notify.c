/* test_notify.c - droverd speaks systemd's notify protocol: this test binds
 * the unix datagram socket itself (no systemd needed), starts droverd with
 * NOTIFY_SOCKET pointing at it (libvirt's test driver, a real SQLite file)
 * and checks that READY=1 arrives once the agent joined, WATCHDOG=1 keeps
 * arriving from its main loop at the pace WATCHDOG_USEC asks, every
 * message comes from droverd's own pid, and SIGTERM brings STOPPING=1.
 * Without WATCHDOG_USEC no WATCHDOG=1 is sent. */
#include "core/clock.h"
#include "tests/tap.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], sock_path[100], conf[128], log_path[128], db[128];
static int sock = -1;
static pid_t child = -1;

typedef struct msgs {
    int ready, watchdog, stopping, other_pid;
    char status[512];
    int64_t ready_ms, first_wd_ms, last_wd_ms;
} msgs;

static void cleanup(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    if (sock >= 0)
        close(sock);
    unlink(sock_path);
    unlink(conf);
    unlink(log_path);
    unlink(db);
    {
        char p[200];
        snprintf(p, sizeof p, "%s-wal", db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", db);
        unlink(p);
    }
    rmdir(dir);
}

static void bind_socket(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int one = 1;

    snprintf(sock_path, sizeof sock_path, "%s/notify.sock", dir);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    if ((sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(sock, (struct sockaddr *)&a, sizeof a) < 0 ||
        setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        bail_out("notify socket %s: %s", sock_path, strerror(errno));
}

static void start(const char *droverd, const char *watchdog_usec)
{
    if ((child = fork()) < 0)
        bail_out("fork: %s", strerror(errno));
    if (child == 0) {
        FILE *f = freopen(log_path, "a", stderr);
        (void)f;
        setenv("NOTIFY_SOCKET", sock_path, 1);
        unsetenv("WATCHDOG_PID");
        if (watchdog_usec)
            setenv("WATCHDOG_USEC", watchdog_usec, 1);
        else
            unsetenv("WATCHDOG_USEC");
        execl(droverd, droverd, "-c", conf, (char *)NULL);
        _exit(127);
    }
}

/* Read datagrams for up to ms (or until READY=1 when until_ready, or STOPPING=1). */
static void collect(msgs *m, int64_t ms, bool until_ready)
{
    int64_t end = dv_mono_ms() + ms;

    for (int64_t left; (left = end - dv_mono_ms()) > 0;) {
        struct pollfd p = { sock, POLLIN, 0 };
        char buf[1024], cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { buf, sizeof buf - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = sizeof cbuf };
        struct cmsghdr *c;
        ssize_t n;

        if (poll(&p, 1, (int)left) <= 0)
            continue;
        if ((n = recvmsg(sock, &mh, 0)) < 0)
            continue;
        buf[n] = '\0';
        c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cr;
            memcpy(&cr, CMSG_DATA(c), sizeof cr);
            m->other_pid += cr.pid != child;
        }
        if (strstr(buf, "READY=1")) {
            m->ready++;
            m->ready_ms = dv_mono_ms();
        }
        if (strstr(buf, "WATCHDOG=1")) {
            if (!m->watchdog++)
                m->first_wd_ms = dv_mono_ms();
            m->last_wd_ms = dv_mono_ms();
        }
        m->stopping += strstr(buf, "STOPPING=1") != NULL;
        if (strstr(buf, "STATUS="))
            snprintf(m->status, sizeof m->status, "%s", strstr(buf, "STATUS=") + 7);
        if ((until_ready && m->ready) || m->stopping)
            return;
    }
}

static int stop(void)
{
    int st = 0;
    kill(child, SIGTERM);
    waitpid(child, &st, 0);
    child = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
    const char *top = getenv("top_builddir");
    char droverd[1024];
    FILE *f;
    msgs m = { 0 }, w = { 0 };

    if (!top || !*top)
        bail_out("top_builddir is not set: run this test with make check");
    snprintf(droverd, sizeof droverd, "%s/cmd/droverd", top);
    if (access(droverd, X_OK) != 0)
        bail_out("%s is not built", droverd);
    strcpy(dir, "/tmp/dv-notify.XXXXXX");
    if (!mkdtemp(dir))
        bail_out("mkdtemp: %s", strerror(errno));
    atexit(cleanup);
    snprintf(conf, sizeof conf, "%s/drover.conf", dir);
    snprintf(log_path, sizeof log_path, "%s/droverd.log", dir);
    snprintf(db, sizeof db, "%s/drover.db", dir);
    if (!(f = fopen(conf, "w")))
        bail_out("cannot write %s", conf);
    fprintf(f, "servicegroup = { driver = \"db\"; report_interval = 1; service_down_time = 3;\n"
               "  db = { path = \"%s\"; }; };\n"
               "agent = { host = \"notify-h1\"; libvirt_uri = \"test:///default\"; };\n", db);
    fclose(f);
    bind_socket();

    start(droverd, "1000000");     /* WatchdogSec=1s: WATCHDOG=1 every 500 ms */
    collect(&m, 15000, true);
    is_int(m.ready, 1, "READY=1 arrives once droverd joined");
    has_str(m.status, "joined group compute as notify-h1", "  with a STATUS= saying so");
    collect(&m, 3000, false);
    ok(m.watchdog >= 3, "WATCHDOG=1 keeps coming from the main loop (%d in 3 s, period 1 s)",
       m.watchdog);
    ok(m.watchdog > 0 && m.last_wd_ms - m.first_wd_ms >= 1500,
       "  spread over the time, not a burst (%lld ms from first to last)",
       (long long)(m.last_wd_ms - m.first_wd_ms));
    is_int(m.ready, 1, "READY=1 is sent only once");
    kill(child, SIGTERM);
    collect(&m, 10000, false);
    is_int(m.stopping, 1, "SIGTERM: STOPPING=1");
    is_int(m.other_pid, 0, "every message came from droverd's own pid (NotifyAccess=main)");
    is_int(stop(), 0, "droverd exits 0");

    start(droverd, NULL);          /* no watchdog asked for */
    collect(&w, 15000, true);
    is_int(w.ready, 1, "without WATCHDOG_USEC: READY=1 still");
    collect(&w, 2000, false);
    is_int(w.watchdog, 0, "  and no WATCHDOG=1");
    is_int(stop(), 0, "  droverd exits 0");
    if (tap_failed) {
        diag("droverd's log:");
        if ((f = fopen(log_path, "r"))) {
            char line[1024];
            while (fgets(line, sizeof line, f))
                printf("#   %s", line);
            fclose(f);
        }
    }
    return done_testing();
}
