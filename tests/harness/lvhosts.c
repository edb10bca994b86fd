/* lvhosts.c - the C side of tests/harness/lvhosts.sh (see lvhosts.h).
 *
 * The script does the work (namespaces, daemons); this file runs it with an
 * argv (no shell string), reads what it wrote, and makes sure that whatever
 * way the test ends, the instance is stopped: lvh_stop, an atexit handler
 * (bail_out exits), and a watchdog child that runs "lvhosts.sh stop" when
 * the test process disappears without saying goodbye (crash, kill -9). */
#include "tests/harness/lvhosts.h"
#include "tests/harness/guest/guest.h"
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#ifndef LVH_TOP_SRCDIR
#define LVH_TOP_SRCDIR "."
#endif
#ifndef LVH_TOP_BUILDDIR
#define LVH_TOP_BUILDDIR "."
#endif

#define BASH "/bin/bash"
#define MAX_ARGS 12

extern char **environ;

/* Instances still running, for the atexit handler: it cannot use the
 * caller's lvh, which may have lived in main's frame, already gone. */
#define MAX_SLOTS 8
static struct slot {
    int used;
    char dir[64];
    pid_t watchdog;
    int watch_fd;   /* write end of the watchdog's pipe */
} slots[MAX_SLOTS];

static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int complain(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lvhosts: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

static const char *top(const char *var, const char *fallback)
{
    const char *v = getenv(var);
    return v && *v ? v : fallback;
}

/* What the script is run with, prepared before fork: after fork the child
 * only redirects and execs (async-signal-safe calls only). */
struct run {
    const char *argv[MAX_ARGS + 3];
    char **envp;
    char script[512];
    char guest_var[600];
    char dir_var[96];
    char lvguest_var[128];
};

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int run_prepare(struct run *r, const lvh *h, const char *const *args)
{
    size_t na = 0, ne = 0, j = 0;

    snprintf(r->script, sizeof r->script, "%s/tests/harness/lvhosts.sh",
             top("top_srcdir", LVH_TOP_SRCDIR));
    r->argv[na++] = BASH;
    r->argv[na++] = r->script;
    for (size_t i = 0; args[i]; i++) {
        if (i >= MAX_ARGS)
            return complain("too many arguments for lvhosts.sh");
        r->argv[na++] = args[i];
    }
    r->argv[na] = NULL;

    snprintf(r->guest_var, sizeof r->guest_var, "LVH_GUEST=%s/tests/harness/guest/dvguest.elf",
             top("top_builddir", LVH_TOP_BUILDDIR));
    snprintf(r->dir_var, sizeof r->dir_var, "LV_DIR=%s", h ? h->dir : "");
    snprintf(r->lvguest_var, sizeof r->lvguest_var, "LV_GUEST=%s", h ? h->guest : "");
    while (environ[ne])
        ne++;
    r->envp = calloc(ne + 4, sizeof *r->envp);
    if (!r->envp)
        return complain("out of memory");
    for (size_t i = 0; i < ne; i++)
        if (!has_prefix(environ[i], "LVH_GUEST=") && !has_prefix(environ[i], "LV_DIR=") &&
            !has_prefix(environ[i], "LV_GUEST="))
            r->envp[j++] = environ[i];
    r->envp[j++] = r->guest_var;
    if (h && h->dir[0]) {
        r->envp[j++] = r->dir_var;
        r->envp[j++] = r->lvguest_var;
    }
    r->envp[j] = NULL;
    return 0;
}

static int wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);

    while (buf) {
        if (cap - len < 1024) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    if (buf)
        buf[len] = 0;
    return buf;
}

int lvh_script(const lvh *h, const char *const *args, char **out)
{
    struct run r;
    int pipefd[2] = { -1, -1 }, status;
    char *text = NULL;

    if (out)
        *out = NULL;
    if (run_prepare(&r, h, args) < 0)
        return -1;
    if (out && pipe2(pipefd, O_CLOEXEC) < 0) {
        free(r.envp);
        return complain("pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* the script's stdout is the pipe, or our stderr: never the TAP stream */
        dup2(out ? pipefd[1] : STDERR_FILENO, STDOUT_FILENO);
        execve(r.argv[0], (char *const *)r.argv, r.envp);
        _exit(127);
    }
    free(r.envp);
    if (pid < 0) {
        if (out) {
            close(pipefd[0]);
            close(pipefd[1]);
        }
        return complain("fork: %s", strerror(errno));
    }
    if (out) {
        close(pipefd[1]);
        text = read_all(pipefd[0]);
        close(pipefd[0]);
    }
    status = wait_child(pid);
    if (out)
        *out = text;
    else
        free(text);
    return status;
}

/* ------------------------------------------------------------ env.conf */

static int set_str(char *dst, size_t size, const char *key, const char *val)
{
    if (!*val || strlen(val) >= size)
        return complain("env.conf: %s is empty or longer than %zu bytes", key, size - 1);
    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

static int set_long(long *dst, const char *key, const char *val, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < min || v > max)
        return complain("env.conf: %s=%s is not a number in %ld..%ld", key, val, min, max);
    *dst = v;
    return 0;
}

static int set_host(lvh *h, const char *key, const char *val)
{
    const char *p = key + 3;   /* after "LV_" */
    long pid;

    if (*p < '1' || *p > '0' + LVH_MAX_HOSTS || (p[1] && p[1] != '_'))
        return 0;   /* not a host key (LV_SUBNET, ...): ignored */
    lvh_host *host = &h->host[*p - '1'];
    const char *field = p + 1;
    if (!*field)
        return set_str(host->uri, sizeof host->uri, key, val);
    if (!strcmp(field, "_P2P"))
        return set_str(host->p2p_uri, sizeof host->p2p_uri, key, val);
    if (!strcmp(field, "_NAME"))
        return set_str(host->name, sizeof host->name, key, val);
    if (!strcmp(field, "_ADDR"))
        return set_str(host->addr, sizeof host->addr, key, val);
    if (!strcmp(field, "_UUID"))
        return set_str(host->uuid, sizeof host->uuid, key, val);
    if (!strcmp(field, "_NETNS"))
        return set_str(host->netns, sizeof host->netns, key, val);
    if (!strcmp(field, "_PID")) {
        if (set_long(&pid, key, val, 2, 1L << 22) < 0)
            return -1;
        host->pid = (pid_t)pid;
    }
    return 0;
}

static int set_key(lvh *h, const char *key, const char *val)
{
    long v;

    if (!strcmp(key, "LV_N")) {
        if (set_long(&v, key, val, 2, LVH_MAX_HOSTS) < 0)
            return -1;
        h->n = (int)v;
        return 0;
    }
    if (!strcmp(key, "LV_ID")) {
        if (set_long(&v, key, val, 1, 250) < 0)
            return -1;
        h->id = (int)v;
        return 0;
    }
    if (!strcmp(key, "LV_DIR"))
        return set_str(h->dir, sizeof h->dir, key, val);
    if (!strcmp(key, "LV_GUEST"))
        return set_str(h->guest, sizeof h->guest, key, val);
    if (!strcmp(key, "LV_READY_MS"))
        return set_long(&h->ready_ms, key, val, 0, 3600000);
    if (!strcmp(key, "LV_PROBE_MS"))
        return set_long(&h->probe_ms, key, val, 0, 3600000);
    if (has_prefix(key, "LV_"))
        return set_host(h, key, val);
    return 0;
}

static int check_env(const lvh *h, const char *path)
{
    if (!h->n || !h->id || !h->dir[0] || !h->guest[0])
        return complain("%s: LV_N, LV_ID, LV_DIR or LV_GUEST missing", path);
    for (int k = 0; k < h->n; k++) {
        const lvh_host *host = &h->host[k];
        if (!host->uri[0] || !host->p2p_uri[0] || !host->name[0] || !host->uuid[0] || !host->pid)
            return complain("%s: host %d lacks its URI, peer URI, name, UUID or pid", path, k + 1);
    }
    return 0;
}

int lvh_read_env(lvh *h, const char *path)
{
    char line[512];
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");

    memset(h, 0, sizeof *h);
    h->slot = -1;
    if (!f)
        return complain("%s: %s", path, strerror(errno));
    while (rc == 0 && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        lineno++;
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        else if (!feof(f))
            rc = complain("%s:%d: line longer than %zu bytes", path, lineno, sizeof line - 2);
        char *eq = strchr(line, '=');
        if (rc || !len)
            continue;
        if (!eq || eq == line)
            rc = complain("%s:%d: not KEY=VALUE: \"%s\"", path, lineno, line);
        else {
            *eq = 0;
            if (set_key(h, line, eq + 1) < 0)
                rc = complain("%s:%d: bad value", path, lineno);
        }
    }
    fclose(f);
    return rc < 0 ? -1 : check_env(h, path);
}

/* ------------------------------------------------------------ start / stop */

static void stop_slot(int i)
{
    struct slot *s = &slots[i];
    const char *keep = getenv("LVH_KEEP");
    const char *args[] = { "stop", s->dir, "--remove", NULL };

    if (!s->used)
        return;
    s->used = 0;
    /* one byte = "stand down": only an EOF without it makes the watchdog act */
    if (s->watch_fd >= 0) {
        ssize_t w = write(s->watch_fd, "x", 1);
        (void)w;
        close(s->watch_fd);
        wait_child(s->watchdog);
    }
    if (keep && !strcmp(keep, "1"))
        args[2] = NULL;
    if (lvh_script(NULL, args, NULL) != 0)
        complain("stop %s failed: see above", s->dir);
}

static void stop_all_at_exit(void)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        stop_slot(i);
}

/* A child that sleeps on a pipe from us.  EOF without a byte first means we
 * died: it then runs "lvhosts.sh stop DIR" (logs kept for a post-mortem). */
static int start_watchdog(struct slot *s)
{
    const char *args[] = { "stop", s->dir, NULL };
    struct run r;
    int fds[2], devnull;

    if (run_prepare(&r, NULL, args) < 0)
        return -1;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        free(r.envp);
        if (devnull >= 0)
            close(devnull);
        return complain("watchdog: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        char byte;
        ssize_t got;
        setsid();   /* out of the terminal's process group: ^C must not skip the cleanup */
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);   /* nor hold the TAP pipe open */
        dup2(devnull, STDERR_FILENO);
        close(fds[1]);
        for (int i = 0; i < MAX_SLOTS; i++)
            if (slots[i].used && slots[i].watch_fd >= 0)
                close(slots[i].watch_fd);
        while ((got = read(fds[0], &byte, 1)) < 0 && errno == EINTR)
            ;
        if (got == 1)
            _exit(0);
        execve(r.argv[0], (char *const *)r.argv, r.envp);
        _exit(127);
    }
    free(r.envp);
    close(devnull);
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return complain("watchdog: fork: %s", strerror(errno));
    }
    s->watchdog = pid;
    s->watch_fd = fds[1];
    return 0;
}

static int take_slot(const char *dir)
{
    static int registered;

    if (!registered) {
        if (atexit(stop_all_at_exit) != 0)
            return complain("atexit failed");
        registered = 1;
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (!slots[i].used) {
            slots[i].used = 1;
            slots[i].watch_fd = -1;
            snprintf(slots[i].dir, sizeof slots[i].dir, "%s", dir);
            return i;
        }
    return complain("more than %d instances at once", MAX_SLOTS);
}

int lvh_start(lvh *h, int n)
{
    char dir[] = "/tmp/dvlv.XXXXXX", nbuf[8], path[96];
    const char *args[] = { "start", dir, nbuf, NULL };
    int64_t t0 = dv_mono_ms();
    int rc, slot;

    memset(h, 0, sizeof *h);
    h->slot = -1;
    if (n < 2 || n > LVH_MAX_HOSTS)
        return complain("lvh_start: %d hosts asked, 2..%d supported", n, LVH_MAX_HOSTS);
    if (!mkdtemp(dir))
        return complain("mkdtemp %s: %s", dir, strerror(errno));
    slot = take_slot(dir);
    if (slot < 0)
        return -1;
    snprintf(nbuf, sizeof nbuf, "%d", n);
    rc = lvh_script(NULL, args, NULL);
    if (rc != 0) {
        slots[slot].used = 0;   /* the script tore down what it made */
        return complain("start of %d hosts in %s failed (exit %d); logs kept there", n, dir, rc);
    }
    snprintf(path, sizeof path, "%s/env.conf", dir);
    if (lvh_read_env(h, path) < 0 || start_watchdog(&slots[slot]) < 0) {
        stop_slot(slot);
        h->slot = -1;
        return -1;
    }
    h->slot = slot;
    h->start_ms = (long)(dv_mono_ms() - t0);
    return 0;
}

int lvh_stop(lvh *h)
{
    if (h->slot < 0 || h->slot >= MAX_SLOTS)
        return 0;
    stop_slot(h->slot);
    h->slot = -1;
    return 0;
}

/* ------------------------------------------------------------ faults */

int lvh_daemon(lvh *h, int k, const char *what)
{
    char kk[16];
    const char *args[] = { "daemon", h->dir, kk, what, NULL };
    int rc;

    snprintf(kk, sizeof kk, "%d", k);
    if (strcmp(what, "poweroff") == 0) {
        args[0] = "poweroff";
        args[3] = NULL;
    }
    rc = lvh_script(h, args, NULL);
    /* a restarted daemon runs under a new tini: keep h's pid current */
    if (rc == 0 && k >= 1 && k <= h->n && (!strcmp(what, "start") || !strcmp(what, "restart"))) {
        char path[128];
        FILE *f;
        long pid;
        snprintf(path, sizeof path, "%s/h%d/pid", h->dir, k);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%ld", &pid) == 1)
                h->host[k - 1].pid = (pid_t)pid;
            fclose(f);
        }
    }
    return rc;
}

int lvh_link(const lvh *h, int k, int up)
{
    char kk[16];
    const char *args[] = { "link", h->dir, kk, up ? "up" : "down", NULL };

    snprintf(kk, sizeof kk, "%d", k);
    return lvh_script(h, args, NULL);
}

/* ------------------------------------------------------------ the guest */

char *lvh_guest_xml(const lvh *h, const char *name, int mem_mib, const char *cmdline)
{
    char mem[16], *xml = NULL;
    const char *args[] = { "guest-xml", name, mem, cmdline, NULL };

    snprintf(mem, sizeof mem, "%d", mem_mib);
    if (lvh_script(h, args, &xml) != 0) {
        free(xml);
        return NULL;
    }
    return xml;
}

virDomainPtr lvh_guest_start(const lvh *h, virConnectPtr conn, const char *name, int mem_mib,
                             const char *cmdline)
{
    char *xml = lvh_guest_xml(h, name, mem_mib, cmdline);
    virDomainPtr dom;

    if (!xml)
        return NULL;
    dom = virDomainCreateXML(conn, xml, 0);
    if (!dom)
        complain("creating guest %s: %s", name, virGetLastErrorMessage());
    free(xml);
    return dom;
}

int lvh_dom_state(virConnectPtr conn, const char *name, bool *persistent)
{
    virDomainPtr d = virDomainLookupByName(conn, name);
    int state = -1, reason;

    if (persistent)
        *persistent = false;
    if (!d)
        return -1;
    if (virDomainGetState(d, &state, &reason, 0) < 0)
        state = -1;
    if (persistent)
        *persistent = virDomainIsPersistent(d) == 1;
    virDomainFree(d);
    return state;
}

int lvh_beat_read(virDomainPtr dom, lvh_beat *b)
{
    unsigned char raw[DVG_BEAT_SIZE];
    uint32_t w[DVG_BEAT_SIZE / 4];

    if (virDomainMemoryPeek(dom, DVG_BEAT_ADDR, sizeof raw, raw, VIR_MEMORY_PHYSICAL) < 0)
        return -1;
    for (size_t i = 0; i < DVG_BEAT_SIZE / 4; i++)   /* the guest is little-endian */
        w[i] = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
               (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
    b->magic = w[DVG_W_MAGIC];
    b->phase = w[DVG_W_PHASE];
    b->boot_id = w[DVG_W_BOOT_ID];
    b->ram_mib = w[DVG_W_RAM_MIB];
    b->wss_mib = w[DVG_W_WSS_MIB];
    b->filled_mib = w[DVG_W_FILLED_MIB];
    b->beats = w[DVG_W_BEATS];
    return 0;
}

int lvh_beat_wait_running(virDomainPtr dom, int timeout_ms, lvh_beat *b)
{
    int64_t until = dv_mono_ms() + timeout_ms;

    memset(b, 0, sizeof *b);
    for (;;) {
        if (lvh_beat_read(dom, b) == 0 && b->magic == DVG_MAGIC &&
            b->phase == DVG_PHASE_RUNNING && b->beats > 0)
            return 0;
        if (dv_mono_ms() >= until)
            return complain("guest not running after %d ms (magic %#x phase %u filled %u MiB)",
                            timeout_ms, b->magic, b->phase, b->filled_mib);
        dv_sleep_ms(20);
    }
}

int lvh_pid_alive(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    size_t len;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    /* "pid (comm) S ...": the state follows the last ')' */
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}
