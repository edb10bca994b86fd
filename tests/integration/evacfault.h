/* evacfault.h - what test_evac_breaker and test_evac_outage add to
 * evactest.h: a controller config with the servicegroup driver's own
 * section and a grace of the test's choice, `drover evacuation status` (text
 * and --json) run as a process, one metric scraped over HTTP, alerts of one
 * kind counted.  Header-only, like evactest.h. */
#ifndef DV_EVACFAULT_H
#define DV_EVACFAULT_H

#include "tests/integration/evactest.h"
#include "tests/harness/drover_run.h"

#include <arpa/inet.h>
#include <json-c/json.h>

/* The controller's and agents' config: sg goes inside servicegroup = { };
 * the rest is evactest.h's (max_down_fraction 0.5, interval 1 s). */
static inline void ef_write_config(const char *sg, int grace)
{
    et_conf_opts o = { .servicegroup = sg, .grace = grace };
    et_write_config_opts(&o);
}

/* One metric of the controller now; -1 when absent or not served. */
static inline double ef_metric(const char *series)
{
    char *t = et_scrape();
    double v = et_metric(t, series);
    free(t);
    return v;
}

/* `drover -c CONF evacuation status [--json]`: its exit status, its stdout
 * into *out (the caller frees). */
static inline int ef_status(bool json, char **out)
{
    const char *args[] = { "evacuation", "status", json ? "--json" : NULL, NULL };
    char bin[512];
    dv_drun r;
    int rc;

    if (dv_drun_bin(bin, sizeof bin, "drover") < 0)
        bail_out("%s is not built", bin);
    if (dv_drun_spawn(&r, bin, et_conf, et_work, json ? "status-json" : "status", args) < 0)
        bail_out("fork: %s", strerror(errno));
    rc = dv_drun_finish(&r, 30);
    if (rc != 0)
        dv_drun_diag_text("drover evacuation status said on stderr:", r.stderr_text);
    *out = r.stdout_text;
    r.stdout_text = NULL;
    dv_drun_free(&r);
    return rc;
}

/* The last sweep of `drover evacuation status --json` (NULL when none or
 * the command failed); the caller puts it. */
static inline json_object *ef_last_sweep(void)
{
    char *text = NULL;
    json_object *o = NULL, *s = NULL;

    if (ef_status(true, &text) == 0 && (o = json_tokener_parse(text)) &&
        json_object_object_get_ex(o, "last_sweep", &s) && json_object_is_type(s, json_type_object))
        json_object_get(s);
    else
        s = NULL;
    json_object_put(o);
    free(text);
    return s;
}

static inline int64_t ef_int(json_object *o, const char *key)
{
    json_object *x;
    return o && json_object_object_get_ex(o, key, &x) ? json_object_get_int64(x) : -1;
}

static inline bool ef_bool(json_object *o, const char *key)
{
    json_object *x;
    return o && json_object_object_get_ex(o, key, &x) && json_object_get_boolean(x);
}

static inline const char *ef_str(json_object *o, const char *key)
{
    json_object *x;
    return o && json_object_object_get_ex(o, key, &x) ? json_object_get_string(x) : "";
}

/* The candidate for host k in a last sweep (NULL when not a candidate). */
static inline json_object *ef_candidate(json_object *sweep, int k)
{
    json_object *a;
    if (!sweep || !json_object_object_get_ex(sweep, "candidates", &a))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *c = json_object_array_get_idx(a, i);
        if (strcmp(ef_str(c, "host"), et_h.host[k].name) == 0)
            return c;
    }
    return NULL;
}

/* The last sweep saw every host UP, none a candidate. */
static inline bool ef_swept_all_up(void)
{
    json_object *s = ef_last_sweep(), *a = NULL;
    bool r = s && ef_int(s, "down") == 0 && ef_int(s, "unknown") == 0 &&
             json_object_object_get_ex(s, "candidates", &a) && json_object_array_length(a) == 0;
    json_object_put(s);
    return r;
}

/* How many events of kind ("breaker_open", ...) alert_command got so far. */
static inline int ef_alerts(const char *kind)
{
    char needle[64], *t = et_slurp("alerts.log");
    int n = 0;

    snprintf(needle, sizeof needle, "\"event\":\"%s\"", kind);
    for (const char *p = t; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(t);
    return n;
}

/* Hold for ms, checking every 200 ms that the journal stays at n entries;
 * the most it held. */
static inline size_t ef_hold_journal(int ms, size_t n)
{
    int64_t end = dv_mono_ms() + ms;
    size_t most = n;

    while (dv_mono_ms() < end) {
        size_t c = et_count_evacuations();
        if (c > most)
            most = c;
        usleep(200000);
    }
    return most;
}

#endif
