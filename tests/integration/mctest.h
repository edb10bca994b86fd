/* mctest.h - configs and driver handles for tests of the mc driver.
 * Include after tests/tap.h and tests/harness/scratch.h. */
#ifndef DV_MCTEST_H
#define DV_MCTEST_H

#include "core/config.h"
#include "drivers/servicegroup.h"

/* An mc config for the servers addrs[0..n-1] with its state database
 * dir/state_name, report_interval and service_down_time in seconds, and
 * the client's poll and retry timeouts. */
static inline dv_config *mct_config(const char *dir, const char *const *addrs, size_t n,
                                    const char *state_name, int report_interval, int down_time,
                                    int poll_ms, int retry_s)
{
    dv_config *cfg = dv_config_new_defaults();
    dv_strlist *l;
    drover_error err;

    if (!cfg || dv_config_set_string(&cfg->servicegroup.driver, "mc", &err) < 0 ||
        dv_config_set_string(&cfg->state.path, dv_scratch_join(dir, state_name), &err) < 0)
        bail_out("cannot make a config");
    l = &cfg->servicegroup.mc.servers;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    if (!(l->v = calloc(n, sizeof *l->v)))
        bail_out("out of memory");
    for (l->n = 0; l->n < n; l->n++)
        if (!(l->v[l->n] = strdup(addrs[l->n])))
            bail_out("out of memory");
    cfg->servicegroup.report_interval = report_interval;
    cfg->servicegroup.service_down_time = down_time;
    cfg->servicegroup.mc.poll_timeout_ms = poll_ms;
    cfg->servicegroup.mc.retry_timeout_s = retry_s;
    return cfg;
}

static inline dv_sg *mct_open(const dv_config *cfg)
{
    drover_error err;
    dv_sg *sg;

    if (dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("cannot open the mc driver: %s", err.message);
    return sg;
}

#endif
