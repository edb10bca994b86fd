/* heartbeater.c - a minimal agent for liveness tests and benchmarks.
 *
 *   heartbeater CONFIG [HOST [INTERVAL_MS]]
 *
 * Opens the servicegroup driver CONFIG names, joins agent.group as HOST
 * (default: agent.host) and heartbeats a small synthetic report every
 * INTERVAL_MS (default: servicegroup.report_interval) on a monotonic
 * schedule, until SIGTERM or SIGINT.  Prints "joined HOST" on stdout once
 * it is a member, so a test can wait for that line.  A failed heartbeat is
 * reported on stderr and the next one is tried on schedule, as an agent
 * would: stopping it (SIGSTOP), killing it or cutting off its backend are
 * what the tests do to it.  It needs no libvirt. */
#include "core/config.h"
#include "core/clock.h"
#include "core/report.h"
#include "drivers/servicegroup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Sleep until the monotonic deadline (ms), or a signal asks to stop. */
static void sleep_until(int64_t deadline_ms)
{
    struct timespec ts = { .tv_sec = deadline_ms / 1000, .tv_nsec = (long)(deadline_ms % 1000) * 1000000L };

    while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static char *make_report(const char *host, long beat)
{
    char cpu[64];
    drover_report r = {
        .schema = DROVER_REPORT_SCHEMA,
        .host = (char *)host,
        .generated_ms = dv_wall_ms(),
        .hypervisor_type = "QEMU",
        .hypervisor_version = 7002000,
        .libvirt_version = 9000000,
        .arch = "x86_64",
        .cpu_xml = cpu,
        .memory_total_mib = 16384,
        .memory_free_mib = 8192,
        .vcpus = 8,
        .migration_uri = "qemu+tcp://127.0.0.1/system",
    };
    char *json = NULL;

    snprintf(cpu, sizeof cpu, "<cpu><arch>x86_64</arch><!-- beat %ld --></cpu>", beat);
    dv_report_to_json(&r, &json, NULL);
    return json;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_signal };
    dv_config *cfg = NULL;
    drover_error err = { 0 };
    dv_sg *sg = NULL;
    const char *host;
    int64_t interval_ms, next;
    long beat = 0;
    int rc = 1;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: heartbeater CONFIG [HOST [INTERVAL_MS]]\n");
        return 2;
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (dv_config_load(argv[1], &cfg, &err) < 0) {
        fprintf(stderr, "heartbeater: %s\n", err.message);
        return 1;
    }
    host = argc > 2 ? argv[2] : cfg->agent.host;
    interval_ms = argc > 3 ? atoll(argv[3]) : (int64_t)cfg->servicegroup.report_interval * 1000;
    if (interval_ms <= 0) {
        fprintf(stderr, "heartbeater: INTERVAL_MS must be positive\n");
        goto out;
    }
    if (dv_sg_open(cfg, &sg, &err) < 0 || dv_sg_join(sg, cfg->agent.group, host, &err) < 0) {
        fprintf(stderr, "heartbeater %s: %s\n", host, err.message);
        goto out;
    }
    printf("joined %s\n", host);
    fflush(stdout);
    for (next = dv_mono_ms(); !stop; next += interval_ms) {
        char *report = make_report(host, ++beat);

        if (dv_sg_heartbeat(sg, cfg->agent.group, host, report, &err) < 0)
            fprintf(stderr, "heartbeater %s: beat %ld: %s\n", host, beat, err.message);
        free(report);
        /* after a stop (SIGSTOP) the schedule restarts from now: no burst */
        if (next + interval_ms < dv_mono_ms())
            next = dv_mono_ms() - interval_ms;
        sleep_until(next + interval_ms);
    }
    rc = 0;
out:
    dv_sg_close(sg);
    dv_config_free(cfg);
    return rc;
}
