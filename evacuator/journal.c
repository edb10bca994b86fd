/* journal.c - evacuation records as JSON in the state store.  See journal.h. */
#include "evacuator/journal.h"
#include "core/log.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_STATE, "out of memory");
}

void dv_evac_clear(dv_evac *e)
{
    free(e->guests);
    free(e->steps);
    memset(e, 0, sizeof *e);
}

static void cpy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int dv_evac_new(dv_evac *e, const char *host, int64_t now_ms, drover_error *err)
{
    memset(e, 0, sizeof *e);
    if (dv_name_check("host", host, err) < 0)
        return -1;
    if (snprintf(e->id, sizeof e->id, "%.200s.%" PRId64, host, now_ms) >= (int)sizeof e->id)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_STATE, "host name too long");
    cpy(e->host, sizeof e->host, host);
    cpy(e->state, sizeof e->state, "detected");
    e->started_ms = e->updated_ms = now_ms;
    return 0;
}

int dv_evac_add_guest(dv_evac *e, const char *uuid, const char *name, uint64_t memory_mib,
                      const char *was, drover_error *err)
{
    dv_evac_guest *g = realloc(e->guests, (e->n_guests + 1) * sizeof *g);
    if (!g)
        return nomem(err);
    e->guests = g;
    g = &e->guests[e->n_guests++];
    memset(g, 0, sizeof *g);
    cpy(g->uuid, sizeof g->uuid, uuid);
    cpy(g->name, sizeof g->name, name);
    cpy(g->was, sizeof g->was, was);
    g->memory_mib = memory_mib;
    return 0;
}

int dv_evac_step_add(dv_evac *e, int64_t epoch, const char *step, const char *fmt, ...)
{
    dv_evac_step *s;
    va_list ap;

    if (e->n_steps >= DV_EVAC_MAX_STEPS) {
        memmove(e->steps + 1, e->steps + 2, (e->n_steps - 2) * sizeof *e->steps);
        e->n_steps--;
    } else {
        s = realloc(e->steps, (e->n_steps + 1) * sizeof *s);
        if (!s)
            return -1;
        e->steps = s;
    }
    s = &e->steps[e->n_steps++];
    memset(s, 0, sizeof *s);
    s->t_ms = dv_wall_ms();
    s->epoch = epoch;
    cpy(s->step, sizeof s->step, step);
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    e->updated_ms = s->t_ms;
    dv_log(DV_LOG_INFO, "evacuation %s (host %s, epoch %" PRId64 "): %s: %s", e->id, e->host,
           epoch, step, s->msg);
    return 0;
}

/* ---------------------------------------------------------------- JSON */

static void put_s(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void put_i(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *guest_json(const dv_evac_guest *g)
{
    json_object *o = json_object_new_object();
    put_s(o, "uuid", g->uuid);
    put_s(o, "name", g->name);
    put_i(o, "memory_mib", (int64_t)g->memory_mib);
    put_s(o, "was", g->was);
    put_s(o, "outcome", g->outcome);
    put_s(o, "dest", g->dest);
    put_s(o, "why", g->why);
    put_i(o, "claim_id", g->claim_id);
    return o;
}

static json_object *step_json(const dv_evac_step *s)
{
    json_object *o = json_object_new_object();
    put_i(o, "t_ms", s->t_ms);
    put_i(o, "epoch", s->epoch);
    put_s(o, "step", s->step);
    put_s(o, "msg", s->msg);
    return o;
}

int dv_evac_to_json(const dv_evac *e, char **out, drover_error *err)
{
    json_object *o = json_object_new_object(), *g = json_object_new_array(),
                *s = json_object_new_array();
    const char *text;

    if (!o || !g || !s) {
        json_object_put(o);
        json_object_put(g);
        json_object_put(s);
        return nomem(err);
    }
    put_s(o, "id", e->id);
    put_s(o, "host", e->host);
    put_s(o, "state", e->state);
    put_s(o, "path", e->path);
    json_object_object_add(o, "fenced", json_object_new_boolean(e->fenced));
    json_object_object_add(o, "done", json_object_new_boolean(e->done));
    put_i(o, "started_ms", e->started_ms);
    put_i(o, "updated_ms", e->updated_ms);
    put_i(o, "epoch", e->epoch);
    for (size_t i = 0; i < e->n_guests; i++)
        json_object_array_add(g, guest_json(&e->guests[i]));
    for (size_t i = 0; i < e->n_steps; i++)
        json_object_array_add(s, step_json(&e->steps[i]));
    json_object_object_add(o, "guests", g);
    json_object_object_add(o, "steps", s);
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = text ? strdup(text) : NULL;
    json_object_put(o);
    return *out ? 0 : nomem(err);
}

static const char *get_s(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static int64_t get_i(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static bool get_b(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int read_arrays(json_object *o, dv_evac *e, drover_error *err)
{
    json_object *g = NULL, *s = NULL;
    size_t ng, ns;

    json_object_object_get_ex(o, "guests", &g);
    json_object_object_get_ex(o, "steps", &s);
    ng = json_object_is_type(g, json_type_array) ? json_object_array_length(g) : 0;
    ns = json_object_is_type(s, json_type_array) ? json_object_array_length(s) : 0;
    if ((ng && !(e->guests = calloc(ng, sizeof *e->guests))) ||
        (ns && !(e->steps = calloc(ns, sizeof *e->steps))))
        return nomem(err);
    for (size_t i = 0; i < ng; i++) {
        json_object *x = json_object_array_get_idx(g, i);
        dv_evac_guest *q = &e->guests[e->n_guests++];
        cpy(q->uuid, sizeof q->uuid, get_s(x, "uuid"));
        cpy(q->name, sizeof q->name, get_s(x, "name"));
        q->memory_mib = (uint64_t)get_i(x, "memory_mib");
        cpy(q->was, sizeof q->was, get_s(x, "was"));
        cpy(q->outcome, sizeof q->outcome, get_s(x, "outcome"));
        cpy(q->dest, sizeof q->dest, get_s(x, "dest"));
        cpy(q->why, sizeof q->why, get_s(x, "why"));
        q->claim_id = get_i(x, "claim_id");
    }
    for (size_t i = 0; i < ns; i++) {
        json_object *x = json_object_array_get_idx(s, i);
        dv_evac_step *q = &e->steps[e->n_steps++];
        q->t_ms = get_i(x, "t_ms");
        q->epoch = get_i(x, "epoch");
        cpy(q->step, sizeof q->step, get_s(x, "step"));
        cpy(q->msg, sizeof q->msg, get_s(x, "msg"));
    }
    return 0;
}

int dv_evac_from_json(const char *json, dv_evac *e, drover_error *err)
{
    json_object *o = json_tokener_parse(json);
    int rc;

    memset(e, 0, sizeof *e);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_STATE,
                      "an evacuation record is not a JSON object");
    }
    cpy(e->id, sizeof e->id, get_s(o, "id"));
    cpy(e->host, sizeof e->host, get_s(o, "host"));
    cpy(e->state, sizeof e->state, get_s(o, "state"));
    cpy(e->path, sizeof e->path, get_s(o, "path"));
    e->fenced = get_b(o, "fenced");
    e->done = get_b(o, "done");
    e->started_ms = get_i(o, "started_ms");
    e->updated_ms = get_i(o, "updated_ms");
    e->epoch = get_i(o, "epoch");
    rc = read_arrays(o, e, err);
    json_object_put(o);
    if (rc < 0)
        dv_evac_clear(e);
    return rc;
}

/* ---------------------------------------------------------------- the store */

int dv_evac_put(dv_store *st, dv_evac *e, int64_t epoch, drover_error *err)
{
    dv_fence f = { DV_EVAC_LEASE, epoch };
    int64_t nv = 0, old = e->epoch;
    char *json;
    int rc;

    e->epoch = epoch;
    if (dv_evac_to_json(e, &json, err) < 0)
        return -1;
    rc = dv_store_record_put(st, DV_EVAC_KIND, e->id, json, e->version ? e->version : DV_STORE_NEW,
                             epoch > 0 ? &f : NULL, &nv, err);
    free(json);
    if (rc < 0) {
        e->epoch = old;
        dv_err_prefix(err, "writing evacuation %s", e->id);
        return -1;
    }
    e->version = nv;
    return 0;
}

void dv_evacs_free(dv_evac *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        dv_evac_clear(&v[i]);
    free(v);
}

static int by_start(const void *a, const void *b)
{
    const dv_evac *x = a, *y = b;
    if (x->started_ms != y->started_ms)
        return x->started_ms < y->started_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

int dv_evac_list(dv_store *st, dv_evac **out, size_t *n, drover_error *err)
{
    dv_store_record *r = NULL;
    size_t nr = 0, k = 0;
    dv_evac *v;

    *out = NULL;
    *n = 0;
    if (dv_store_record_list(st, DV_EVAC_KIND, &r, &nr, err) < 0)
        return -1;
    if (!(v = calloc(nr + 1, sizeof *v))) {
        dv_store_records_free(r, nr);
        return nomem(err);
    }
    for (size_t i = 0; i < nr; i++) {
        drover_error e2;
        if (dv_evac_from_json(r[i].json, &v[k], &e2) < 0) {
            dv_log(DV_LOG_WARNING, "evacuation record %s skipped: %s", r[i].id, e2.message);
            continue;
        }
        v[k++].version = r[i].version;
    }
    dv_store_records_free(r, nr);
    qsort(v, k, sizeof *v, by_start);
    *out = v;
    *n = k;
    return 0;
}

int dv_evac_get(dv_store *st, const char *id, dv_evac *e, drover_error *err)
{
    dv_store_record r;
    int rc;

    memset(e, 0, sizeof *e);
    if (dv_store_record_get(st, DV_EVAC_KIND, id, &r, err) < 0)
        return -1;
    rc = dv_evac_from_json(r.json, e, err);
    if (rc == 0)
        e->version = r.version;
    dv_store_record_clear(&r);
    return rc;
}

dv_evac *dv_evac_latest(dv_evac *v, size_t n, const char *host)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp(v[i].host, host) == 0)
            return &v[i];
    return NULL;
}
