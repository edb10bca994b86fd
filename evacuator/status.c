/* status.c - the controller's last sweep, as the record "evacuator/status"
 * that `drover evacuation status` reads: leader and epoch, breaker and why,
 * the candidates with their timers, the rate tokens. */
#include "evacuator/act.h"
#include "core/clock.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static json_object *candidate(const dv_gate_candidate *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(c->host));
    json_object_object_add(o, "state", json_object_new_string(drover_liveness_name(c->state)));
    json_object_object_add(o, "verdict", json_object_new_string(dv_gate_verdict_name(c->verdict)));
    json_object_object_add(o, "down_ms", json_object_new_int64(c->down_ms));
    json_object_object_add(o, "grace_ms", json_object_new_int64(c->grace_ms));
    json_object_object_add(o, "recoveries", json_object_new_int(c->recoveries));
    json_object_object_add(o, "why", json_object_new_string(c->why));
    return o;
}

static json_object *status_json(const dv_sweeper *s, const dv_sweep_result *res)
{
    const dv_gate_decision *d = &s->dec;
    json_object *o = json_object_new_object(), *a = json_object_new_array();

    json_object_object_add(o, "time_ms", json_object_new_int64(dv_wall_ms()));
    json_object_object_add(o, "leader", json_object_new_string(s->holder ? s->holder : ""));
    json_object_object_add(o, "epoch", json_object_new_int64(s->epoch));
    json_object_object_add(o, "members", json_object_new_int64((int64_t)d->members));
    json_object_object_add(o, "down", json_object_new_int64((int64_t)d->down));
    json_object_object_add(o, "unknown", json_object_new_int64((int64_t)d->unknown));
    json_object_object_add(o, "backend_error", json_object_new_boolean(res->backend_error));
    json_object_object_add(o, "breaker_open", json_object_new_boolean(d->breaker_open));
    json_object_object_add(o, "breaker_why", json_object_new_string(d->breaker_why));
    json_object_object_add(o, "tokens", json_object_new_double((double)d->tokens_milli / 1000.0));
    json_object_object_add(o, "next_token_ms", json_object_new_int64(d->next_token_ms));
    json_object_object_add(o, "acted", json_object_new_int64((int64_t)res->acted));
    json_object_object_add(o, "acted_total", json_object_new_int64((int64_t)s->acted));
    for (size_t i = 0; i < d->n_cand; i++)
        json_object_array_add(a, candidate(&d->cand[i]));
    json_object_object_add(o, "candidates", a);
    return o;
}

int dv_evac_status_write(dv_sweeper *s, const dv_sweep_result *res, drover_error *err)
{
    dv_fence f = { DV_EVAC_LEASE, s->epoch };
    json_object *o = status_json(s, res);
    const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
    int rc;

    if (!text) {
        json_object_put(o);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    }
    rc = dv_store_record_put(s->store, DV_EVAC_STATUS_KIND, DV_EVAC_STATUS_ID, text,
                             DV_STORE_ANY, s->epoch > 0 ? &f : NULL, NULL, err);
    json_object_put(o);
    return rc;
}
