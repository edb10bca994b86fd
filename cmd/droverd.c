/* droverd.c - the drover agent.
 *
 * On each hypervisor host: every servicegroup.report_interval seconds, read
 * the host's report from its own libvirt and publish it with a heartbeat in
 * the servicegroup backend.  A heartbeat goes out only when libvirt answered
 * within agent.libvirt_timeout_ms: a host whose libvirt is hung stops looking
 * up.  Backend and libvirt errors are logged and retried on the next tick,
 * never fatal.  SIGTERM/SIGINT: leave the group and exit 0.
 */
#include "cmd/agent_metrics.h"
#include "cmd/controller.h"
#include "cmd/droverd_args.h"
#include "cmd/notify.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/model.h"
#include "core/report.h"
#include "virt/virt.h"
#include "drivers/servicegroup.h"
#include "evacuator/agent_defs.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define REPEAT_WARNING_MS 60000    /* an unchanged reason is logged again after this */

static const char synopsis[] =
    "Usage: droverd [-c FILE] [--host NAME] [--libvirt-uri URI] [--migration-uri URI]\n"
    "               [--log-level LEVEL] [--once]\n"
    "       droverd [-c FILE] [--log-level LEVEL] --controller\n";

static const char description[] =
    "\n"
    "The drover agent.  It runs on each hypervisor host and, every\n"
    "servicegroup.report_interval seconds, reads the host's report (hypervisor,\n"
    "CPU, memory, instances) from its own libvirt and publishes it with a heartbeat\n"
    "in the servicegroup backend.  When libvirt does not answer within\n"
    "agent.libvirt_timeout_ms, no heartbeat is sent, so a host whose libvirt is\n"
    "hung stops looking up.  droverd stays in the foreground and logs to stderr or\n"
    "syslog (log.target); SIGTERM or SIGINT makes it leave the group and exit.\n"
    "\n"
    "Options (each overrides the configuration file):\n"
    "  -c, --config FILE        configuration file (default: $DROVER_CONF, else\n"
    "                           " DV_CONFIG_DEFAULT_PATH "); see drover.conf(5)\n"
    "      --host NAME          member name (agent.host; default: the host name)\n"
    "      --libvirt-uri URI    this host's libvirt (agent.libvirt_uri)\n"
    "      --migration-uri URI  how peers reach this host's libvirtd for\n"
    "                           peer-to-peer migration (agent.migration_uri)\n"
    "      --log-level LEVEL    debug, info, warning or error (log.level)\n"
    "      --once               read and heartbeat once, stay a member, exit\n"
    "      --controller         run the controller instead: the evacuator every\n"
    "                           evacuator.interval, while holding its lease\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT (--once: heartbeat published),\n"
    "1 failure (--once: no heartbeat), 2 usage or configuration error.\n"
    "See droverd(8).\n";

/* Why the last tick published nothing; a change of kind is worth a warning. */
typedef enum why {
    WHY_NONE = 0,
    WHY_LIBVIRT,          /* libvirt failed, timed out or is still stuck */
    WHY_BACKEND,          /* the servicegroup backend refused or is away */
    WHY_INTERNAL          /* the report could not be encoded */
} why;

typedef struct agent {
    dv_config *cfg;
    dv_sg *sg;                 /* NULL until opened */
    bool joined;
    dv_virt_reader *reader;
    int sigfd;

    bool publishing;           /* the last tick sent a heartbeat */
    bool ever_published;
    why why;                   /* when not publishing */
    char why_msg[1024];
    int64_t stopped_ms;        /* dv_mono_ms() when publishing stopped */
    int64_t warned_ms;         /* when the reason was last logged as a warning */
    uint64_t beats;
    dv_agent_metrics *metrics; /* NULL unless agent.metrics_listen is set */
    dv_agent_defs *defs;       /* NULL unless agent.definitions_dir is set */
} agent;

/* ---------------------------------------------------------------- liveness state */

static int stopped(agent *a, why kind, const char *fmt, ...) DV_PRINTF(3, 4);
static int stopped(agent *a, why kind, const char *fmt, ...)
{
    char msg[1024];
    int64_t now = dv_mono_ms();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (a->publishing) {
        dv_warn("liveness publishing stopped: %s", msg);
        a->stopped_ms = now;
        a->warned_ms = now;
    } else if (kind != a->why || now - a->warned_ms >= REPEAT_WARNING_MS) {
        if (a->ever_published)
            dv_warn("still not publishing liveness (for %lld s): %s",
                    (long long)((now - a->stopped_ms) / 1000), msg);
        else
            dv_warn("not publishing liveness: %s", msg);
        if (!a->stopped_ms)
            a->stopped_ms = now;
        a->warned_ms = now;
    } else {
        dv_debug("not publishing liveness: %s", msg);
    }
    if (a->publishing || kind != a->why)      /* keep the reason it stopped for */
        snprintf(a->why_msg, sizeof a->why_msg, "%s", msg);
    a->publishing = false;
    a->why = kind;
    dv_agent_metrics_heartbeat(a->metrics, false, kind == WHY_LIBVIRT ? "libvirt"
                               : kind == WHY_BACKEND ? "backend" : "internal");
    return -1;
}

static void published(agent *a)
{
    const dv_config *c = a->cfg;

    if (!a->publishing) {
        if (a->ever_published)
            dv_info("liveness publishing resumed after %.1f s without (it stopped because: %s)",
                    (double)(dv_mono_ms() - a->stopped_ms) / 1000.0, a->why_msg);
        else
            dv_info("publishing liveness of %s in group %s every %d s (servicegroup driver %s)",
                    c->agent.host, c->agent.group, c->servicegroup.report_interval,
                    c->servicegroup.driver);
    }
    a->publishing = true;
    a->ever_published = true;
    a->why = WHY_NONE;
    a->stopped_ms = 0;
    a->beats++;
    dv_agent_metrics_heartbeat(a->metrics, true, NULL);
    dv_debug("heartbeat %llu sent", (unsigned long long)a->beats);
}

/* ---------------------------------------------------------------- one tick */

static int open_backend(agent *a, drover_error *err)
{
    if (a->sg)
        return 0;
    if (dv_sg_open(a->cfg, &a->sg, err) < 0) {
        dv_err_prefix(err, "cannot open the servicegroup backend (driver %s)",
                      a->cfg->servicegroup.driver);
        return -1;
    }
    return 0;
}

static int join(agent *a, drover_error *err)
{
    const dv_config *c = a->cfg;

    if (a->joined)
        return 0;
    if (dv_sg_join(a->sg, c->agent.group, c->agent.host, err) < 0) {
        dv_err_prefix(err, "cannot join group %s as %s", c->agent.group, c->agent.host);
        return -1;
    }
    a->joined = true;
    dv_info("joined group %s as %s", c->agent.group, c->agent.host);
    {
        char status[600];
        snprintf(status, sizeof status, "joined group %s as %s", c->agent.group, c->agent.host);
        dv_notify_ready(status);
    }
    return 0;
}

static int publish(agent *a, const char *json, drover_error *err)
{
    const dv_config *c = a->cfg;

    if (open_backend(a, err) < 0 || join(a, err) < 0)
        return -1;
    if (dv_sg_heartbeat(a->sg, c->agent.group, c->agent.host, json, err) == 0)
        return 0;
    if (err->code == DROVER_ERR_NOT_FOUND) {
        /* someone removed the member (an admin, a backend restart): come back */
        dv_warn("member %s is no longer in group %s; joining again", c->agent.host,
                c->agent.group);
        a->joined = false;
        if (join(a, err) == 0 &&
            dv_sg_heartbeat(a->sg, c->agent.group, c->agent.host, json, err) == 0)
            return 0;
    }
    dv_err_prefix(err, "heartbeat of %s in group %s", c->agent.host, c->agent.group);
    return -1;
}

/* The guests' definitions on the shared storage (evacuator/agent_defs.h). */
static void save_definitions(agent *a)
{
    drover_error err;
    size_t n;

    if (a->defs && dv_agent_defs_sync(a->defs, &n, &err) < 0)
        dv_warn("%s", err.message);
    else if (a->defs && n)
        dv_info("%zu guest definition(s) saved in %s", n, a->cfg->agent.definitions_dir);
}

/* A fenced host that came back: its guests rebuilt elsewhere go first,
 * before the first heartbeat (evacuator/agent_defs.h). */
static void remove_stale(agent *a)
{
    drover_error err;
    size_t n = 0;

    if (dv_agent_remove_stale(a->cfg, a->sg, &n, &err) < 0)
        dv_warn("stale copies of evacuated guests not checked: %s", err.message);
    else if (n)
        dv_warn("%zu stale copies of evacuated guests removed; the host stays disabled until "
                "an operator enables it", n);
}

/* 0 = a heartbeat went out; -1 = none (logged), 1 = a signal came first. */
static int tick(agent *a)
{
    drover_report *r = NULL;
    dv_read_status st;
    drover_error err;
    char *json = NULL;
    int rc;

    if (dv_virt_reader_read(a->reader, a->sigfd, &r, &st, &err) < 0) {
        if (st == DV_READ_WOKEN)
            return 1;
        dv_agent_metrics_libvirt_failure(a->metrics, st != DV_READ_FAILED);
        return stopped(a, WHY_LIBVIRT, "%s; no heartbeat until libvirt answers", err.message);
    }
    rc = dv_report_to_json(r, &json, &err);
    drover_report_free(r);
    if (rc < 0)
        return stopped(a, WHY_INTERNAL, "cannot encode the host report: %s", err.message);
    rc = publish(a, json, &err);
    free(json);
    if (rc < 0)
        return stopped(a, WHY_BACKEND, "%s; retrying in %d s", err.message,
                       a->cfg->servicegroup.report_interval);
    published(a);
    save_definitions(a);
    return 0;
}

/* ---------------------------------------------------------------- main loop */

/* Wait until the monotonic deadline or a signal; returns the signal or 0. */
static int wait_until(int sigfd, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { sigfd, POLLIN, 0 };
        int64_t left = deadline - dv_mono_ms();
        int n;

        if (left <= 0)
            return 0;
        int64_t slice = dv_notify_slice_ms(60000);   /* feeds the systemd watchdog */

        dv_notify_watchdog();
        n = poll(&p, 1, left > slice ? (int)slice : (int)left);
        if (n < 0 && errno != EINTR) {
            dv_error("poll on the signal fd: %s", strerror(errno));
            return SIGTERM;     /* cannot wait for signals any more: stop cleanly */
        }
        if (n > 0) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                return (int)si.ssi_signo;
        }
    }
}

/* Returns when SIGTERM or SIGINT came (0), or after --once. */
static int run(agent *a, bool once)
{
    const dv_config *c = a->cfg;
    int64_t period = (int64_t)c->servicegroup.report_interval * 1000;
    int64_t next = dv_mono_ms();

    for (;;) {
        int sig, rc = tick(a);

        if (once)
            return rc == 0 ? EXIT_OK : EXIT_FAIL;
        /* stay on the grid start + k * period: no drift, missed ticks skipped */
        next += period;
        if (next <= dv_mono_ms()) {
            int64_t behind = dv_mono_ms() - next;
            next += (behind / period + 1) * period;
            dv_debug("tick took longer than report_interval; skipped %lld tick(s)",
                     (long long)(behind / period + 1));
        }
        while ((sig = wait_until(a->sigfd, next)) != 0) {
            if (sig == SIGTERM || sig == SIGINT) {
                dv_notify_stopping();
                dv_info("%s received: leaving group %s", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                        c->agent.group);
                return EXIT_OK;
            }
            dv_info("signal %d (%s) ignored: droverd does not reload its configuration; "
                    "restart it to apply changes", sig, strsignal(sig));
        }
    }
}

static void leave_and_close(agent *a)
{
    const dv_config *c = a->cfg;
    drover_error err;

    if (a->joined) {
        if (dv_sg_leave(a->sg, c->agent.group, c->agent.host, &err) < 0)
            dv_warn("leaving group %s failed: %s; %s will show DOWN after "
                    "service_down_time (%d s)", c->agent.group, err.message, c->agent.host,
                    c->servicegroup.service_down_time);
        else
            dv_info("left group %s", c->agent.group);
    }
    dv_virt_reader_free(a->reader);    /* a reader stuck in libvirt is left behind */
    dv_sg_close(a->sg);
}

/* ---------------------------------------------------------------- setup */

static int set_opt(char **slot, const char *value, drover_error *err)
{
    return value ? dv_config_set_string(slot, value, err) : 0;
}

static int load_config(const dv_droverd_args *args, dv_config **out, drover_error *err)
{
    const char *path = args->config_path;
    dv_config *c;

    if (!path || !*path)
        path = dv_config_default_path();
    if (dv_config_load(path, &c, err) < 0)
        return -1;
    if (set_opt(&c->agent.host, args->host, err) < 0 ||
        set_opt(&c->agent.libvirt_uri, args->libvirt_uri, err) < 0 ||
        set_opt(&c->agent.migration_uri, args->migration_uri, err) < 0 ||
        set_opt(&c->log.level, args->log_level, err) < 0)
        goto fail;
    if (dv_name_check("agent.host", c->agent.host, err) < 0 ||
        dv_name_check("agent.group", c->agent.group, err) < 0)
        goto fail;
    if (!c->agent.libvirt_uri || !*c->agent.libvirt_uri) {
        dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_AGENT, "%s: agent.libvirt_uri is empty", path);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    dv_config_free(c);
    return -1;
}

/* Signals are taken from a signalfd by the main loop; every thread starts
 * with them blocked, so no handler ever runs. */
static int setup_signals(drover_error *err)
{
    sigset_t set;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_AGENT, "signalfd: %s",
                      strerror(errno));
    return fd;
}

/* Open the backend once at start: a configuration it refuses is fatal, a
 * backend that is away is not (retried on every tick). */
static int first_open(agent *a)
{
    drover_error err;

    if (open_backend(a, &err) == 0)
        return 0;
    if (err.code == DROVER_ERR_CONFIG || err.code == DROVER_ERR_INVALID ||
        err.code == DROVER_ERR_UNSUPPORTED) {
        dv_error("%s", err.message);
        return -1;
    }
    dv_warn("%s; retrying every %d s", err.message, a->cfg->servicegroup.report_interval);
    return 0;
}

int main(int argc, char **argv)
{
    dv_droverd_args args;
    drover_error err;
    agent a = { .sigfd = -1 };
    const dv_config *c;
    int rc;

    if (dv_droverd_parse_args(argc, argv, &args, &err) < 0) {
        fprintf(stderr, "droverd: %s\n%sTry 'droverd --help' for more information.\n",
                err.message, synopsis);
        return EXIT_USAGE;
    }
    if (args.help) {
        fputs(synopsis, stdout);
        fputs(description, stdout);
        return EXIT_OK;
    }
    if (args.version) {
        printf("droverd %s\n", DROVER_VERSION_STRING);
        return EXIT_OK;
    }
    if (load_config(&args, &a.cfg, &err) < 0) {
        fprintf(stderr, "droverd: %s\n", err.message);
        return EXIT_USAGE;
    }
    c = a.cfg;
    if (args.controller) {
        if (dv_log_setup("droverd-controller", (dv_log_level)dv_log_level_parse(c->log.level),
                         c->log.target, &err) < 0) {
            fprintf(stderr, "droverd: %s\n", err.message);
            rc = EXIT_USAGE;
        } else {
            rc = dv_controller_main(c);
        }
        dv_config_free(a.cfg);
        return rc;
    }
    if (dv_log_setup("droverd", (dv_log_level)dv_log_level_parse(c->log.level), c->log.target,
                     &err) < 0) {
        fprintf(stderr, "droverd: %s\n", err.message);
        dv_config_free(a.cfg);
        return EXIT_USAGE;
    }
    if ((a.sigfd = setup_signals(&err)) < 0) {
        dv_error("%s", err.message);
        dv_config_free(a.cfg);
        return EXIT_FAIL;
    }
    dv_info("droverd %s: host %s, group %s, libvirt %s (timeout %d ms), servicegroup driver %s, "
            "report_interval %d s", DROVER_VERSION_STRING, c->agent.host, c->agent.group,
            c->agent.libvirt_uri, c->agent.libvirt_timeout_ms, c->servicegroup.driver,
            c->servicegroup.report_interval);
    if (first_open(&a) < 0) {
        rc = EXIT_USAGE;
    } else if (!args.once && dv_agent_metrics_start(c, &a.metrics, &err) < 0) {
        dv_error("%s", err.message);
        rc = EXIT_FAIL;
    } else if (dv_virt_reader_new(c->agent.libvirt_uri, c->agent.host, c->agent.migration_uri,
                                  c->agent.libvirt_timeout_ms, &a.reader, &err) < 0) {
        dv_error("%s", err.message);
        rc = EXIT_FAIL;
    } else if (dv_agent_defs_new(c, &a.defs, &err) < 0) {
        dv_error("%s", err.message);
        rc = EXIT_FAIL;
    } else {
        remove_stale(&a);
        rc = run(&a, args.once);
    }
    if (args.once)
        a.joined = false;          /* --once stays a member */
    leave_and_close(&a);
    dv_agent_metrics_stop(a.metrics);
    dv_agent_defs_free(a.defs);
    close(a.sigfd);
    dv_config_free(a.cfg);
    return rc;
}
