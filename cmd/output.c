/* output.c - table and JSON rendering shared by drover's subcommands. */
#include "cmd/output.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

const char *dv_fmt_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *dv_fmt_age(int64_t now_ms, int64_t ms, char *buf, size_t len)
{
    int64_t d = now_ms - ms;
    int64_t a = d < 0 ? -d : d;
    const char *unit = "s";
    int64_t v = a / 1000;

    if (ms <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    if (v >= 86400 * 2) { v /= 86400; unit = "d"; }
    else if (v >= 3600 * 2) { v /= 3600; unit = "h"; }
    else if (v >= 120) { v /= 60; unit = "m"; }
    snprintf(buf, len, d < 0 ? "in %" PRId64 "%s" : "%" PRId64 "%s ago", v, unit);
    return buf;
}

json_object *dv_report_json(const drover_member *m)
{
    json_object *r;

    if (!m->report_json)
        return NULL;
    r = json_tokener_parse(m->report_json);
    if (!r)  /* keep what was stored, so nothing is hidden from the reader */
        r = json_object_new_string(m->report_json);
    return r;
}

static void put(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

json_object *dv_member_json(const drover_member *m)
{
    json_object *o = json_object_new_object();
    char t[40];

    if (!o)
        return NULL;
    put(o, "host", json_object_new_string(m->host ? m->host : ""));
    put(o, "group", json_object_new_string(m->group ? m->group : ""));
    put(o, "state", json_object_new_string(drover_liveness_name(m->state)));
    put(o, "disabled", json_object_new_boolean(m->disabled));
    put(o, "disabled_reason", m->disabled_reason ? json_object_new_string(m->disabled_reason) : NULL);
    put(o, "forced_down", json_object_new_boolean(m->forced_down));
    put(o, "last_seen_ms", json_object_new_int64(m->last_seen_ms));
    put(o, "last_seen", m->last_seen_ms > 0
                            ? json_object_new_string(dv_fmt_time(m->last_seen_ms, t, sizeof t))
                            : NULL);
    put(o, "report", dv_report_json(m));
    return o;
}

int dv_print_json(FILE *out, json_object *v)
{
    const char *s = json_object_to_json_string_ext(
        v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = s ? 0 : -1;
    if (s)
        fprintf(out, "%s\n", s);
    json_object_put(v);
    return rc;
}
