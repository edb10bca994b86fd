/* mig_out.c - how `drover migrate` and `drover migration` show records:
 * JSON objects for programs, a table, a detail view and a progress line
 * for people. */
#include "cmd/mig_out.h"
#include "cmd/output.h"
#include "core/clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

static json_object *i64(int64_t v)
{
    return json_object_new_int64(v);
}

static json_object *u64(uint64_t v)
{
    return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static json_object *ms_or_null(int64_t v)
{
    return v >= 0 ? i64(v) : NULL;
}

static json_object *time_or_null(int64_t ms)
{
    char buf[40];
    return ms > 0 ? json_object_new_string(dv_fmt_time(ms, buf, sizeof buf)) : NULL;
}

static json_object *owner_json(const dv_mig_record *r, const dv_mig_owner *self, int64_t stale)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "host", json_object_new_string(r->owner_host));
    json_object_object_add(o, "pid", i64(r->owner_pid));
    json_object_object_add(o, "start", i64(r->owner_start));
    json_object_object_add(o, "heartbeat", time_or_null(r->heartbeat_ms));
    json_object_object_add(o, "alive", json_object_new_boolean(
                                            dv_mig_owner_alive(r, self, dv_wall_ms(), stale)));
    return o;
}

static json_object *stats_json(const dv_mig_record *r)
{
    json_object *s = json_object_new_object();

    json_object_object_add(s, "data_total", u64(r->data_total));
    json_object_object_add(s, "data_processed", u64(r->data_processed));
    json_object_object_add(s, "data_remaining", u64(r->data_remaining));
    json_object_object_add(s, "transfer_bps", u64(r->transfer_bps));
    json_object_object_add(s, "dirty_bps", u64(r->dirty_bps));
    json_object_object_add(s, "iteration", u64(r->iteration));
    json_object_object_add(s, "downtime_ms", u64(r->downtime_ms));
    json_object_object_add(s, "eta_ms", ms_or_null(r->eta_ms));
    json_object_object_add(s, "sampled", time_or_null(r->stats_ms));
    return s;
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

json_object *dv_mig_record_json(const dv_mig_record *r, int64_t stale_ms)
{
    json_object *o = json_object_new_object(), *a = json_object_new_object();
    dv_mig_owner self;

    dv_mig_owner_self(&self);
    json_object_object_add(o, "id", i64(r->id));
    json_object_object_add(o, "instance", str(r->instance_name));
    json_object_object_add(o, "uuid", str(r->instance_uuid));
    json_object_object_add(o, "source", str(r->source));
    json_object_object_add(o, "destination", r->destination[0] ? str(r->destination) : NULL);
    json_object_object_add(o, "policy", str(r->policy));
    json_object_object_add(o, "state", str(dv_mig_state_name(r->state)));
    json_object_object_add(o, "owner", owner_json(r, &self, stale_ms));
    json_object_object_add(o, "created", time_or_null(r->created_ms));
    json_object_object_add(o, "started", time_or_null(r->started_ms));
    json_object_object_add(o, "ended", time_or_null(r->ended_ms));
    json_object_object_add(o, "created_ms", i64(r->created_ms));
    json_object_object_add(o, "started_ms", i64(r->started_ms));
    json_object_object_add(o, "ended_ms", i64(r->ended_ms));
    json_object_object_add(o, "flags", u64(r->flags));
    json_object_object_add(o, "memory_mib", u64(r->memory_mib));
    json_object_object_add(o, "claim_id", r->claim_id ? i64(r->claim_id) : NULL);
    json_object_object_add(o, "stats", stats_json(r));
    json_object_object_add(a, "action", r->action[0] ? str(r->action) : NULL);
    json_object_object_add(a, "why", r->action[0] ? str(r->action_why) : NULL);
    json_object_object_add(a, "at", time_or_null(r->action_ms));
    json_object_object_add(o, "last_action", a);
    json_object_object_add(o, "request", r->request[0] ? str(r->request) : NULL);
    json_object_object_add(o, "request_by", r->request[0] ? str(r->request_by) : NULL);
    json_object_object_add(o, "downtime_ms", ms_or_null(r->final_downtime_ms));
    json_object_object_add(o, "total_ms", ms_or_null(r->final_total_ms));
    json_object_object_add(o, "message", r->message[0] ? str(r->message) : NULL);
    return o;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int percent(const dv_mig_record *r)
{
    if (!r->data_total)
        return 0;
    return (int)(r->data_processed * 100 / r->data_total > 100 ? 100
                                                              : r->data_processed * 100 / r->data_total);
}

void dv_mig_progress_text(const dv_mig_record *r, char *buf, size_t len)
{
    char eta[24] = "?";

    if (r->eta_ms >= 0)
        snprintf(eta, sizeof eta, "%" PRId64 "s", (r->eta_ms + 999) / 1000);
    snprintf(buf, len,
             "%3d%%  %.0f/%.0f MiB  tx %.1f MiB/s  dirty %.1f MiB/s  iter %" PRIu64
             "  downtime %" PRIu64 " ms  ETA %s%s%s",
             percent(r), mib(r->data_processed), mib(r->data_total), mib(r->transfer_bps),
             mib(r->dirty_bps), r->iteration, r->downtime_ms, eta, r->action[0] ? "  last: " : "",
             r->action);
}

void dv_mig_progress_bar(const dv_mig_record *r, char *buf, size_t len)
{
    char bar[21], text[256];
    int p = percent(r), fill = p / 5;

    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    dv_mig_progress_text(r, text, sizeof text);
    snprintf(buf, len, "[%s] %s", bar, text);
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

void dv_mig_table(FILE *out, const dv_mig_record *v, size_t n, int64_t stale_ms)
{
    dv_mig_owner self;
    int64_t now = dv_wall_ms();
    char created[40];

    dv_mig_owner_self(&self);
    fprintf(out, "%-5s %-10s %-20s %-12s %-12s %-8s %4s %-20s %s\n", "ID", "STATE", "INSTANCE",
            "SOURCE", "DEST", "POLICY", "PCT", "CREATED", "OWNER");
    for (size_t i = 0; i < n; i++) {
        const dv_mig_record *r = &v[i];
        bool orphan = dv_mig_state_active(r->state) || r->state == DV_MIG_ERROR
                          ? !dv_mig_owner_alive(r, &self, now, stale_ms)
                          : false;
        fprintf(out, "%-5" PRId64 " %-10s %-20s %-12s %-12s %-8s %3d%% %-20s %s/%" PRId64 "%s\n",
                r->id, dv_mig_state_name(r->state), r->instance_name, r->source,
                or_dash(r->destination), r->policy, percent(r),
                dv_fmt_time(r->created_ms, created, sizeof created), r->owner_host, r->owner_pid,
                orphan && r->state != DV_MIG_ERROR ? " (orphan: owner gone)" : "");
    }
}

static void line(FILE *out, const char *k, const char *v)
{
    fprintf(out, "%-16s %s\n", k, v);
}

static void DV_PRINTF(3, 4) linef(FILE *out, const char *k, const char *fmt, ...)
{
    char buf[1600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    line(out, k, buf);
}

void dv_mig_show(FILE *out, const dv_mig_record *r)
{
    char a[64], b[64], c[64], buf[1600];

    linef(out, "id:", "%" PRId64, r->id);
    linef(out, "instance:", "%s (%s), %" PRIu64 " MiB", r->instance_name, r->instance_uuid,
          r->memory_mib);
    linef(out, "route:", "%s -> %s", r->source, or_dash(r->destination));
    line(out, "state:", dv_mig_state_name(r->state));
    line(out, "policy:", r->policy);
    linef(out, "owner:", "%s pid %" PRId64 ", heartbeat %s", r->owner_host, r->owner_pid,
          dv_fmt_time(r->heartbeat_ms, a, sizeof a));
    linef(out, "times:", "created %s, started %s, ended %s",
          dv_fmt_time(r->created_ms, a, sizeof a),
          r->started_ms ? dv_fmt_time(r->started_ms, b, sizeof b) : "-",
          r->ended_ms ? dv_fmt_time(r->ended_ms, c, sizeof c) : "-");
    dv_mig_progress_text(r, buf, sizeof buf);
    line(out, "progress:", buf);
    if (r->action[0])
        linef(out, "last action:", "%s: %s", r->action, r->action_why);
    if (r->request[0])
        linef(out, "request:", "%s (%s)", r->request, r->request_by);
    if (r->final_downtime_ms >= 0 || r->final_total_ms >= 0)
        linef(out, "libvirt:", "downtime %" PRId64 " ms, total %" PRId64 " ms",
              r->final_downtime_ms, r->final_total_ms);
    if (r->message[0])
        line(out, "message:", r->message);
}
