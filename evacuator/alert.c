/* alert.c - the alert hook (see alert.h). */
#include "evacuator/alert.h"
#include "evacuator/fence.h"
#include "evacuator/proc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERT_OUTPUT_MAX 2048

static const char *const kind_names[] = {
    [DV_ALERT_BREAKER_OPEN] = "breaker_open",
    [DV_ALERT_BREAKER_CLOSED] = "breaker_closed",
    [DV_ALERT_FENCE_FAILED] = "fence_failed",
    [DV_ALERT_GUEST_UNPLACED] = "guest_unplaced",
};

const char *dv_alert_kind_name(dv_alert_kind k)
{
    if ((unsigned)k < sizeof kind_names / sizeof *kind_names)
        return kind_names[k];
    return "unknown";
}

static int add(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return -1;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

int dv_alert_json(const dv_alert *a, int64_t wall_ms, char **out, drover_error *err)
{
    json_object *o = json_object_new_object();
    const char *text;
    int bad = !o;

    *out = NULL;
    if (!bad) {
        bad |= add(o, "event", json_object_new_string(dv_alert_kind_name(a->kind)));
        bad |= add(o, "time_ms", json_object_new_int64(wall_ms));
        if (a->host)
            bad |= add(o, "host", json_object_new_string(a->host));
        if (a->guest)
            bad |= add(o, "guest", json_object_new_string(a->guest));
        bad |= add(o, "message", json_object_new_string(a->message ? a->message : ""));
        if (a->epoch)
            bad |= add(o, "epoch", json_object_new_int64(a->epoch));
    }
    if (!bad) {
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        bad = !text || !(*out = strdup(text));
    }
    json_object_put(o);
    if (bad)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "alert: out of memory");
    return 0;
}

int dv_alert_send_within(const dv_strlist *cmd, const dv_alert *a, int64_t wall_ms,
                         int64_t timeout_ms, drover_error *err)
{
    dv_proc_opts o = { .timeout_ms = timeout_ms, .kill_grace_ms = 1000,
                       .output_max = ALERT_OUTPUT_MAX };
    dv_proc_result r = { 0 };
    char **argv = NULL, *json = NULL, how[256];
    int rc;

    if (!cmd || cmd->n == 0)
        return 0;
    if (dv_alert_json(a, wall_ms, &json, err) < 0)
        return -1;
    if (dv_command_expand(cmd, a->host ? a->host : "", &argv, err) < 0) {
        free(json);
        return -1;
    }
    o.input = json;
    o.input_len = strlen(json);
    rc = dv_proc_run(argv, &o, &r, err);
    if (rc == 0 && !(r.outcome == DV_PROC_EXITED && r.exit_code == 0)) {
        size_t end = r.output_len;
        while (end > 0 && r.output[end - 1] == '\n')
            end--;
        dv_proc_describe(&r, &o, how, sizeof how);
        rc = dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE,
                    "the alert command %s for event %s %s%s%.*s", argv[0],
                    dv_alert_kind_name(a->kind), how, end ? "; it said: " : "",
                    (int)(end > 200 ? 200 : end), r.output + (end > 200 ? end - 200 : 0));
    } else if (rc < 0) {
        dv_err_prefix(err, "the alert command %s for event %s", argv[0],
                      dv_alert_kind_name(a->kind));
    }
    dv_proc_result_free(&r);
    dv_argv_free(argv);
    free(json);
    return rc;
}

int dv_alert_send(const dv_strlist *cmd, const dv_alert *a, int64_t wall_ms, drover_error *err)
{
    return dv_alert_send_within(cmd, a, wall_ms, DV_ALERT_TIMEOUT_MS, err);
}
