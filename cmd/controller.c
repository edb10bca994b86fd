/* controller.c - droverd --controller: every evacuator.interval, settle the
 * orphaned migrations (migrator/reconcile.h) and run one evacuator sweep
 * (evacuator/sweep.h), but only while holding the "evacuator" lease of the
 * state store; the other controllers watch, ready to take over.  Serves the
 * controller's metrics on controller.metrics_listen and tells systemd
 * READY / WATCHDOG / STOPPING.  SIGTERM or SIGINT: give the lease up, exit 0. */
#include "cmd/controller.h"
#include "cmd/metrics_http.h"
#include "cmd/notify.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "evacuator/evac_metrics.h"
#include "evacuator/journal.h"
#include "evacuator/lease.h"
#include "evacuator/sweep.h"
#include "migrator/reconcile.h"
#include "store/store.h"
#include "virt/virt.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct controller {
    const dv_config *cfg;
    dv_sg *sg;
    dv_store *store;
    dv_metrics *m;
    dv_metrics_http *http;
    dv_evac_metrics em;
    dv_sweeper sw;
    dv_evac_lease lease;
    int64_t epoch;                 /* 0: not the leader */
    int sigfd;
} controller;

static int setup_signals(drover_error *err)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);    /* a libvirtd that dies under a call */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_AGENT, "signalfd: %s",
                      strerror(errno));
    return fd;
}

/* Called through a sweep, a drain's threads included: a drain or a rebuild
 * may outlast the lease, so the leader renews it from here too. */
static void tick(void *arg)
{
    controller *c = arg;

    dv_notify_watchdog();        /* thread-safe: one datagram */
    dv_evac_lease_tick(&c->lease);
}

static int open_all(controller *c, drover_error *err)
{
    const dv_config *cfg = c->cfg;
    char host[256] = "controller", holder[300];

    gethostname(host, sizeof host - 1);
    snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
    if (dv_virt_init(err) < 0 || dv_sg_open(cfg, &c->sg, err) < 0 ||
        dv_store_open(cfg, &c->store, err) < 0)
        return -1;
    dv_evac_lease_init(&c->lease, c->store, holder, dv_evac_lease_ttl_ms(cfg));
    if (!(c->m = dv_metrics_new()))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    if (dv_evac_metrics_register(c->m, &c->em, err) < 0)
        return -1;
    if (cfg->controller.metrics_listen && *cfg->controller.metrics_listen) {
        if (dv_metrics_http_start(c->m, cfg->controller.metrics_listen, &c->http, err) < 0)
            return -1;
        dv_info("metrics on http://%s/metrics", cfg->controller.metrics_listen);
    }
    if (dv_sweeper_init(&c->sw, cfg, c->sg, c->store, c->store, err) < 0)
        return -1;
    c->sw.em = &c->em;
    c->sw.holder = c->lease.holder;
    c->sw.tick = tick;
    c->sw.tick_arg = c;
    return 0;
}

static void close_all(controller *c)
{
    if (c->lease.store) {
        dv_evac_lease_release(&c->lease);
        dv_evac_lease_fini(&c->lease);
    }
    dv_sweeper_fini(&c->sw);
    dv_metrics_http_stop(c->http);
    dv_metrics_free(c->m);
    dv_store_close(c->store);
    dv_sg_close(c->sg);
}

/* Become or stay the leader; a lost lease is logged once. */
static void lead(controller *c)
{
    drover_error err;
    int rc = dv_evac_lease_acquire(&c->lease, &err);
    int64_t epoch = c->lease.epoch;

    if (rc == 0 && epoch != c->epoch)
        dv_info("holding the %s lease at epoch %" PRId64 ": acting", DV_EVAC_LEASE, epoch);
    if (rc < 0 && c->epoch > 0)
        dv_warn("lost the %s lease (%s): watching", DV_EVAC_LEASE, err.message);
    else if (rc < 0 && err.code != DROVER_ERR_CONFLICT)
        dv_warn("the %s lease cannot be asked for: %s", DV_EVAC_LEASE, err.message);
    c->epoch = rc == 0 ? epoch : 0;
    c->sw.epoch = c->epoch;
    dv_evac_metrics_leader(&c->em, c->epoch > 0, c->epoch);
}

static void reconcile(controller *c)
{
    dv_mig_reconcile_opts o = { .watch = false };
    dv_mig_reconciled *r = NULL;
    drover_error err;
    size_t n = 0;

    if (dv_mig_reconcile(c->cfg, &o, &r, &n, &err) < 0) {
        dv_warn("migration reconcile: %s", err.message);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].how != DV_REC_LEFT)
            dv_evac_metrics_migration(&c->em, dv_mig_state_name(r[i].rec.state), 0.0);
        dv_info("migration %" PRId64 " (%s) %s: %s", r[i].rec.id, r[i].rec.instance_name,
                dv_mig_settled_name(r[i].how), r[i].facts);
    }
    free(r);
}

static void sweep(controller *c)
{
    dv_sweep_result res;
    drover_error err;

    if (dv_sweep(&c->sw, &res, &err) < 0) {
        dv_warn("sweep: %s", err.message);
        return;
    }
    dv_debug("sweep: %zu members, %zu DOWN, %zu UNKNOWN, breaker %s, %zu acted on", res.members,
             res.down, res.unknown, res.breaker_open ? "open" : "closed", res.acted);
}

/* Wait until the monotonic deadline or a signal; returns the signal or 0. */
static int wait_until(int sigfd, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { sigfd, POLLIN, 0 };
        int64_t left = deadline - dv_mono_ms(), slice = dv_notify_slice_ms(60000);
        int n;

        if (left <= 0)
            return 0;
        dv_notify_watchdog();
        n = poll(&p, 1, left > slice ? (int)slice : (int)left);
        if (n < 0 && errno != EINTR)
            return SIGTERM;
        if (n > 0) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                return (int)si.ssi_signo;
        }
    }
}

static int loop(controller *c)
{
    int64_t period = (int64_t)c->cfg->evacuator.interval * 1000, next = dv_mono_ms();

    for (;;) {
        int sig;

        lead(c);
        if (c->epoch > 0) {
            reconcile(c);
            if (c->cfg->evacuator.enabled)
                sweep(c);
        }
        next += period;
        if (next <= dv_mono_ms())
            next = dv_mono_ms() + period / 4;
        while ((sig = wait_until(c->sigfd, next)) != 0) {
            if (sig == SIGTERM || sig == SIGINT) {
                dv_notify_stopping();
                dv_info("%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                return EXIT_OK;
            }
            dv_info("signal %d ignored: restart droverd to apply a new configuration", sig);
        }
    }
}

int dv_controller_main(const dv_config *cfg)
{
    controller c = { .cfg = cfg, .sigfd = -1 };
    drover_error err;
    int rc;

    if ((c.sigfd = setup_signals(&err)) < 0) {
        dv_error("%s", err.message);
        return EXIT_FAIL;
    }
    if (open_all(&c, &err) < 0) {
        dv_error("%s", err.message);
        close_all(&c);
        close(c.sigfd);
        return err.code == DROVER_ERR_CONFIG ? EXIT_USAGE : EXIT_FAIL;
    }
    dv_info("droverd --controller %s: group %s, evacuator %s (interval %d s, grace %d s, mode "
            "%s), holder %s", DROVER_VERSION_STRING, cfg->agent.group,
            cfg->evacuator.enabled ? "enabled" : "disabled (watching only)",
            cfg->evacuator.interval, cfg->evacuator.grace, cfg->evacuator.mode, c.lease.holder);
    if (!cfg->evacuator.enabled)
        dv_warn("evacuator.enabled is false: no host is evacuated");
    dv_notify_ready("controller running");
    rc = loop(&c);
    close_all(&c);
    close(c.sigfd);
    return rc;
}
