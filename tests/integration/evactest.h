/* evactest.h - what the evacuator's tests share: three real libvirt hosts
 * (tests/harness/lvhosts.h), a drover configuration for them (db driver,
 * state store, definitions directory, a fence and an alert command the
 * test controls), real droverd agents and a droverd --controller as
 * processes, and the facts to assert: where each guest runs (every host
 * asked, and a sampler asking them every 100 ms), the journal, the members.
 * Header-only (each test is one program), linked with libdvharness.la for
 * dv_drun_bin. */
#ifndef DV_EVACTEST_H
#define DV_EVACTEST_H

#include "core/clock.h"
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "evacuator/journal.h"
#include "store/store.h"
#include "tests/harness/drover_run.h"
#include "tests/harness/lvhosts.h"
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "tests/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static lvh et_h;
static char et_work[128], et_conf[192], et_droverd[512];
static int et_port;
static pid_t et_agent[3], et_ctl;
/* set before et_setup: extra settings inside controller = { } and migration = { } */
static const char *et_controller_extra, *et_migration_extra;

static inline void et_quiet(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static inline void et_write_path(const char *p, const char *text, mode_t mode)
{
    FILE *f;

    if (!(f = fopen(p, "w")) || fputs(text, f) < 0 || fclose(f) != 0 || chmod(p, mode) < 0)
        bail_out("cannot write %s: %s", p, strerror(errno));
}

static inline void et_write_file(const char *name, const char *text, mode_t mode)
{
    char p[256];

    snprintf(p, sizeof p, "%s/%s", et_work, name);
    et_write_path(p, text, mode);
}

/* What a test changes in the configuration: zero fields keep the defaults
 * (the db driver, controller.libvirt_timeout_ms 10000 -- a loaded machine
 * makes a healthy libvirt slow, not silent --, grace 2,
 * max_down_fraction 0.5, max_per_minute 60, mode "rebuild"); the extras go
 * inside controller = { }, migration = { } and evacuator = { }. */
typedef struct et_conf_opts {
    const char *servicegroup;          /* inside servicegroup = { }: the driver */
    int ctl_timeout_ms, grace, max_per_minute;
    double max_down_fraction;
    const char *mode;
    const char *controller_extra, *migration_extra, *evac_extra;
} et_conf_opts;

#define ET_OR(v, dflt) ((v) ? (v) : (dflt))

/* The configuration of the controller and the agents, into et_conf. */
static inline void et_write_config_opts(const et_conf_opts *o)
{
    char sg[256], text[4096];
    int n;

    snprintf(sg, sizeof sg, "driver = \"db\"; db = { path = \"%s/drover.db\"; };", et_work);
    n = snprintf(text, sizeof text,
                 "servicegroup = { report_interval = 1; service_down_time = 3; %s };\n"
                 "agent = { definitions_dir = \"%s/defs\"; libvirt_timeout_ms = 10000; };\n"
                 "controller = { libvirt_uris = [ \"%s=%s\", \"%s=%s\", \"%s=%s\" ];\n"
                 "  libvirt_timeout_ms = %d; metrics_listen = \"127.0.0.1:%d\"; %s };\n"
                 "scheduler = { reserved_host_memory_mb = 128; };\n"
                 "migration = { poll_interval_ms = 200; max_concurrent = 2; %s };\n"
                 "evacuator = { enabled = true; interval = 1; grace = %d; max_down_fraction = %g;\n"
                 "  max_per_minute = %d; mode = \"%s\"; fence_timeout_s = 10;\n"
                 "  fence_command = [ \"%s/fence.sh\", \"%%h\" ];\n"
                 "  alert_command = [ \"%s/alert.sh\" ]; %s };\n"
                 "state = { path = \"%s/state.db\"; };\n"
                 "log = { level = \"info\"; };\n",
                 ET_OR(o->servicegroup, sg), et_work, et_h.host[0].name, et_h.host[0].uri,
                 et_h.host[1].name, et_h.host[1].uri, et_h.host[2].name, et_h.host[2].uri,
                 ET_OR(o->ctl_timeout_ms, 10000), et_port, ET_OR(o->controller_extra, ""),
                 ET_OR(o->migration_extra, ""), ET_OR(o->grace, 2),
                 ET_OR(o->max_down_fraction, 0.5), ET_OR(o->max_per_minute, 60),
                 ET_OR(o->mode, "rebuild"), et_work, et_work, ET_OR(o->evac_extra, ""), et_work);
    if (n < 0 || (size_t)n >= sizeof text)
        bail_out("the configuration does not fit in %zu bytes", sizeof text);
    et_write_path(et_conf, text, 0600);
}

/* The defaults with et_controller_extra, et_migration_extra and evac_extra. */
static inline void et_write_config(const char *evac_extra)
{
    et_conf_opts o = { .controller_extra = et_controller_extra,
                       .migration_extra = et_migration_extra,
                       .evac_extra = evac_extra };
    et_write_config_opts(&o);
}

/* fence.sh logs its host, sleeps the seconds in fence_delay and exits
 * with the number in fence_rc. */
static inline void et_fence_rc(int rc)
{
    char t[16];
    snprintf(t, sizeof t, "%d\n", rc);
    et_write_file("fence_rc", t, 0600);
}

/* A free TCP port from the kernel's ephemeral range, for the controller's
 * metrics: a port derived from the pid could be one another test's server
 * or client already holds (the ZooKeeper harness picks in 20000..39999). */
static inline int et_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        bail_out("no free port: %s", strerror(errno));
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline void et_setup(const char *evac_extra)
{
    char script[1024], defs[192];

    setvbuf(stdout, NULL, _IOLBF, 0);
    virSetErrorFunc(NULL, et_quiet);
    if (dv_drun_bin(et_droverd, sizeof et_droverd, "droverd") < 0)
        bail_out("%s is not built", et_droverd);
    if (lvh_start(&et_h, 3) < 0)
        bail_out("three libvirt hosts did not start");
    snprintf(et_work, sizeof et_work, "%s/drover", et_h.dir);
    snprintf(defs, sizeof defs, "%s/defs", et_work);
    if (mkdir(et_work, 0700) < 0 || mkdir(defs, 0700) < 0)
        bail_out("mkdir %s: %s", et_work, strerror(errno));
    snprintf(et_conf, sizeof et_conf, "%s/drover.conf", et_work);
    et_port = et_free_port();
    snprintf(script, sizeof script,
             "#!/bin/sh\necho \"$1 $(date +%%s%%N)\" >> %s/fenced.log\n"
             "sleep $(cat %s/fence_delay 2>/dev/null || echo 0)\n"
             "exit $(cat %s/fence_rc 2>/dev/null || echo 0)\n", et_work, et_work, et_work);
    et_write_file("fence.sh", script, 0700);
    snprintf(script, sizeof script, "#!/bin/sh\ncat >> %s/alerts.log\necho >> %s/alerts.log\n",
             et_work, et_work);
    et_write_file("alert.sh", script, 0700);
    et_fence_rc(0);
    et_write_config(evac_extra);
}

/* ---------------------------------------------------------------- processes */

static inline pid_t et_spawn(const char *tag, char *const *argv)
{
    char out[256];
    pid_t pid;

    snprintf(out, sizeof out, "%s/%s.log", et_work, tag);
    fflush(stdout);
    if ((pid = fork()) < 0)
        bail_out("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static inline void et_agent_start(int k)
{
    char tag[24];
    char *argv[] = { et_droverd, (char *)"-c", et_conf, (char *)"--host", et_h.host[k].name,
                     (char *)"--libvirt-uri", et_h.host[k].uri, (char *)"--migration-uri",
                     et_h.host[k].p2p_uri, NULL };
    snprintf(tag, sizeof tag, "agent%d", k + 1);
    et_agent[k] = et_spawn(tag, argv);
}

static inline void et_reap(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
    }
    *pid = 0;
}

static inline void et_controller_start(void)
{
    char *argv[] = { et_droverd, (char *)"-c", et_conf, (char *)"--controller", NULL };
    et_ctl = et_spawn("controller", argv);
}

/* The last lines of every drover log of the test (controllers, agents):
 * after a failure they are the only account of what the daemons did, and
 * the instance's directory goes when the test ends. */
static inline void et_diag_logs(void)
{
    const char *const logs[] = { "controller.log", "ctl-a.log", "ctl-b.log", "ctl-a2.log",
                                 "agent1.log", "agent2.log", "agent3.log" };
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        char p[256], *text, *tail;
        size_t n, lines = 0;
        snprintf(p, sizeof p, "%s/%s", et_work, logs[i]);
        if (!(text = dv_drun_slurp(p)) || !*text) {
            free(text);
            continue;
        }
        for (n = strlen(text), tail = text + n; tail > text && lines <= 40; tail--)
            lines += tail[-1] == '\n';
        snprintf(p, sizeof p, "%s (last lines)", logs[i]);
        dv_drun_diag_text(p, tail);
        free(text);
    }
}

static inline void et_stop_all(void)
{
    for (int k = 0; k < 3; k++)
        et_reap(&et_agent[k], SIGTERM);
    et_reap(&et_ctl, SIGTERM);
    if (tap_failed)
        et_diag_logs();
}

/* ---------------------------------------------------------------- facts */

/* 0, or -1 when host k is not a member (yet); anything else bails out. */
static inline int et_member_try(int k, drover_member *m)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;
    int rc;

    memset(m, 0, sizeof *m);
    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("member: %s", err.message);
    rc = dv_sg_get(sg, "compute", et_h.host[k].name, m, &err);
    if (rc < 0 && err.code != DROVER_ERR_NOT_FOUND)
        bail_out("member: %s", err.message);
    dv_sg_close(sg);
    dv_config_free(cfg);
    return rc;
}

/* What et_up asks of a member besides being UP. */
enum { ET_REPORT = 1, ET_ENABLED = 2, ET_NOT_FORCED = 4 };

/* Host k is a member, UP, and as want says (ET_REPORT: with a report,
 * ET_ENABLED: not disabled, ET_NOT_FORCED: not forced down). */
static inline bool et_up(int k, int want)
{
    drover_member m;
    bool up;

    if (et_member_try(k, &m) < 0)
        return false;
    up = m.state == DROVER_UP && (!(want & ET_REPORT) || m.report) &&
         (!(want & ET_ENABLED) || !m.disabled) && (!(want & ET_NOT_FORCED) || !m.forced_down);
    drover_member_clear(&m);
    return up;
}

static inline bool et_all_up(int want)
{
    for (int k = 0; k < 3; k++)
        if (!et_up(k, want))
            return false;
    return true;
}

static inline void et_member(int k, drover_member *m)
{
    if (et_member_try(k, m) < 0)
        bail_out("host %d is not a member", k + 1);
}

/* What an operator sets on host k: 0 or 1 each, -1 leaves it as it is. */
static inline void et_admin(int k, int disabled, int forced_down)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0 ||
        (disabled >= 0 &&
         dv_sg_set_disabled(sg, "compute", et_h.host[k].name, disabled, NULL, &err) < 0) ||
        (forced_down >= 0 &&
         dv_sg_set_forced_down(sg, "compute", et_h.host[k].name, forced_down, &err) < 0))
        bail_out("admin: %s", err.message);
    dv_sg_close(sg);
    dv_config_free(cfg);
}

/* The journal (free with dv_evacs_free). */
static inline void et_journal(dv_evac **v, size_t *n)
{
    dv_config *cfg;
    drover_error err;
    dv_store *st;

    if (dv_config_load(et_conf, &cfg, &err) < 0 || dv_store_open(cfg, &st, &err) < 0 ||
        dv_evac_list(st, v, n, &err) < 0)
        bail_out("journal: %s", err.message);
    dv_store_close(st);
    dv_config_free(cfg);
}

/* The journal v in the test's log, with every step when steps (a post-mortem). */
static inline void et_diag_journal(const dv_evac *v, size_t n, bool steps)
{
    for (size_t i = 0; i < n; i++) {
        diag("journal: %s host %s state %s", v[i].id, v[i].host, v[i].state);
        for (size_t j = 0; steps && j < v[i].n_steps; j++)
            diag("  %lld %s: %s", (long long)v[i].steps[j].t_ms, v[i].steps[j].step,
                 v[i].steps[j].msg);
    }
}

static inline size_t et_count_evacuations(void)
{
    dv_evac *v;
    size_t n;
    et_journal(&v, &n);
    dv_evacs_free(v, n);
    return n;
}

/* Host k (0-based) runs an active domain with uuid?  -1: it did not answer. */
static inline int et_runs(int k, const char *uuid)
{
    virConnectPtr c = virConnectOpen(et_h.host[k].uri);
    virDomainPtr d;
    int r = 0;

    if (!c)
        return -1;
    if ((d = virDomainLookupByUUIDString(c, uuid))) {
        r = virDomainIsActive(d) == 1;
        virDomainFree(d);
    }
    virConnectClose(c);
    return r;
}

/* How many hosts run uuid now (hosts that do not answer count none). */
static inline int et_copies(const char *uuid, int *where)
{
    int n = 0;
    for (int k = 0; k < 3; k++)
        if (et_runs(k, uuid) == 1) {
            n++;
            if (where)
                *where = k;
        }
    return n;
}

/* A persistent guest on host k; its UUID into uuid. */
static inline void et_guest(int k, const char *name, int mem, char *uuid)
{
    virConnectPtr c = virConnectOpen(et_h.host[k].uri);
    char *xml = lvh_guest_xml(&et_h, name, mem, "wss=1 hz=100");
    virDomainPtr d;

    if (!c || !xml || !(d = virDomainDefineXML(c, xml)) || virDomainCreate(d) < 0 ||
        virDomainGetUUIDString(d, uuid) < 0)
        bail_out("guest %s on host %d: %s", name, k + 1, virGetLastErrorMessage());
    virDomainFree(d);
    virConnectClose(c);
    free(xml);
}

static inline bool et_file_exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static inline char *et_slurp(const char *name)
{
    char p[256];
    FILE *f;
    char *buf;
    long n;

    snprintf(p, sizeof p, "%s/%s", et_work, name);
    if (!(f = fopen(p, "r")))
        return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

/* GET /metrics from the controller (curl). */
static inline char *et_scrape(void)
{
    char cmd[256], *buf = calloc(1, 1 << 20);
    size_t got = 0, r;
    FILE *p;

    snprintf(cmd, sizeof cmd, "curl -s --max-time 10 http://127.0.0.1:%d/metrics", et_port);
    if (!buf || !(p = popen(cmd, "r")))
        bail_out("cannot run curl");
    while ((r = fread(buf + got, 1, (1 << 20) - 1 - got, p)) > 0)
        got += r;
    pclose(p);
    return buf;
}

/* The value of a metric line that starts with series ("name{labels}"); -1 when absent. */
static inline double et_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return atof(p + n + 1);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -1;
}

/* ---------------------------------------------------------------- the journal */

/* The latest evacuation of host k in v (NULL when none). */
static inline dv_evac *et_latest(dv_evac *v, size_t n, int k)
{
    return dv_evac_latest(v, n, et_h.host[k].name);
}

/* The first step of e named step whose message names uuid (NULL: any). */
static inline const dv_evac_step *et_step_of(const dv_evac *e, const char *step,
                                             const char *uuid)
{
    for (size_t i = 0; e && i < e->n_steps; i++)
        if (strcmp(e->steps[i].step, step) == 0 && (!uuid || strstr(e->steps[i].msg, uuid)))
            return &e->steps[i];
    return NULL;
}

static inline bool et_has_step(const dv_evac *e, const char *step)
{
    return et_step_of(e, step, NULL) != NULL;
}

/* The latest evacuation of host k has step. */
static inline bool et_journal_has(int k, const char *step)
{
    dv_evac *v;
    size_t n;
    bool r;

    et_journal(&v, &n);
    r = et_has_step(et_latest(v, n, k), step);
    dv_evacs_free(v, n);
    return r;
}

/* The latest evacuation of host k is done. */
static inline bool et_evac_done(int k)
{
    dv_evac *v, *e;
    size_t n;
    bool r;

    et_journal(&v, &n);
    e = et_latest(v, n, k);
    r = e && e->done;
    dv_evacs_free(v, n);
    return r;
}

/* ---------------------------------------------------------------- guests */

/* The host that runs uuid, when exactly one does; else -1. */
static inline int et_host_of(const char *uuid)
{
    int where = -1;
    return et_copies(uuid, &where) == 1 ? where : -1;
}

/* uuid runs on exactly one host, not on dead. */
static inline bool et_runs_once_not_on(const char *uuid, int dead)
{
    int k = et_host_of(uuid);
    return k >= 0 && k != dead;
}

/* Host k has uuid defined (true when it does not answer: cannot tell). */
static inline bool et_defined_on(int k, const char *uuid)
{
    virConnectPtr c = virConnectOpen(et_h.host[k].uri);
    virDomainPtr d;
    bool r;

    if (!c)
        return true;
    d = virDomainLookupByUUIDString(c, uuid);
    r = d != NULL;
    if (d)
        virDomainFree(d);
    virConnectClose(c);
    return r;
}

/* The agents saved the definitions of the n guests on the shared storage. */
static inline bool et_defs_written(const char (*uuids)[40], int n)
{
    char dir[192];

    snprintf(dir, sizeof dir, "%s/defs", et_work);
    for (int g = 0; g < n; g++) {
        char f[64];
        snprintf(f, sizeof f, "%.39s.xml", uuids[g]);
        if (!et_file_exists(dir, f))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the sampler */

/* A thread that asks every host every 100 ms which guests it runs: that no
 * UUID ever runs twice is asserted over the whole test, not at its checks. */
#define ET_MAX_SAMPLED 8
static struct {
    pthread_t thread;
    volatile int on;
    const char (*uuids)[40];
    const char *const *names;
    int n, max_copies;         /* the most hosts one UUID ran on at once */
    long samples;
} et_smp;

/* Adds to count[g] 1 when host k runs guest g. */
static inline void et_sample_host(int k, int *count)
{
    virConnectPtr c = virConnectOpen(et_h.host[k].uri);
    virDomainPtr *d = NULL;
    int n;

    if (!c)
        return;
    n = virConnectListAllDomains(c, &d, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; i++) {
        char u[40];
        if (virDomainGetUUIDString(d[i], u) == 0)
            for (int g = 0; g < et_smp.n; g++)
                count[g] += strcmp(u, et_smp.uuids[g]) == 0;
        virDomainFree(d[i]);
    }
    free(d);
    virConnectClose(c);
}

static inline void *et_sample(void *arg)
{
    (void)arg;
    while (et_smp.on) {
        int count[ET_MAX_SAMPLED] = { 0 };
        for (int k = 0; k < 3; k++)
            et_sample_host(k, count);
        for (int g = 0; g < et_smp.n; g++) {
            if (count[g] > 1)
                diag("sample %ld: %s runs on %d hosts", et_smp.samples, et_smp.names[g], count[g]);
            if (count[g] > et_smp.max_copies)
                et_smp.max_copies = count[g];
        }
        et_smp.samples++;
        usleep(100000);
    }
    return NULL;
}

/* Start sampling the n guests uuids (named names in diagnostics). */
static inline void et_sampler_start(const char (*uuids)[40], const char *const *names, int n)
{
    if (n > ET_MAX_SAMPLED)
        bail_out("the sampler follows at most %d guests", ET_MAX_SAMPLED);
    et_smp.uuids = uuids;
    et_smp.names = names;
    et_smp.n = n;
    et_smp.on = 1;
    if (pthread_create(&et_smp.thread, NULL, et_sample, NULL) != 0)
        bail_out("cannot start the sampler");
}

/* Stop it: the most hosts one UUID ran on at once; *samples: how many samples. */
static inline int et_sampler_stop(long *samples)
{
    et_smp.on = 0;
    pthread_join(et_smp.thread, NULL);
    *samples = et_smp.samples;
    return et_smp.max_copies;
}

/* Wait up to ms for cond() to hold, polling every 100 ms. */
#define ET_WAIT(ms, cond)                                                                     \
    ({                                                                                        \
        int64_t et_end_ = dv_mono_ms() + (ms);                                               \
        bool et_ok_ = false;                                                                  \
        while (!(et_ok_ = (cond)) && dv_mono_ms() < et_end_)                                 \
            usleep(100000);                                                                   \
        et_ok_;                                                                               \
    })

#endif
