/* report.c - the host report as JSON (json-c).  Reports are read back from
 * backends other processes write to, so decoding trusts nothing. */
#include "core/report.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void drover_report_free(drover_report *r)
{
    if (!r)
        return;
    free(r->host);
    free(r->hypervisor_type);
    free(r->arch);
    free(r->cpu_xml);
    free(r->migration_uri);
    for (size_t i = 0; i < r->n_instances; i++) {
        free(r->instances[i].name);
        free(r->instances[i].uuid);
        free(r->instances[i].state);
    }
    free(r->instances);
    free(r);
}

/* ---------------------------------------------------------------- encode */

static int add_str(json_object *o, const char *key, const char *v)
{
    json_object *s = json_object_new_string(v ? v : "");
    return s ? json_object_object_add(o, key, s) : -1;
}

static int add_u64(json_object *o, const char *key, uint64_t v)
{
    /* json-c holds int64; values above INT64_MAX do not occur in reports */
    json_object *n = json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
    return n ? json_object_object_add(o, key, n) : -1;
}

static json_object *encode_instance(const drover_instance *in)
{
    json_object *o = json_object_new_object();
    if (!o || add_str(o, "name", in->name) || add_str(o, "uuid", in->uuid) ||
        add_u64(o, "memory_mib", in->memory_mib) || add_str(o, "state", in->state)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int dv_report_to_json(const drover_report *r, char **out, drover_error *err)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int bad = !o || !arr;

    *out = NULL;
    if (!bad)
        bad = add_u64(o, "schema", DROVER_REPORT_SCHEMA) || add_str(o, "host", r->host) ||
              add_u64(o, "generated_ms", r->generated_ms < 0 ? 0 : (uint64_t)r->generated_ms) ||
              add_str(o, "hypervisor_type", r->hypervisor_type) ||
              add_u64(o, "hypervisor_version", r->hypervisor_version) ||
              add_u64(o, "libvirt_version", r->libvirt_version) || add_str(o, "arch", r->arch) ||
              add_str(o, "cpu_xml", r->cpu_xml) ||
              add_u64(o, "memory_total_mib", r->memory_total_mib) ||
              add_u64(o, "memory_free_mib", r->memory_free_mib) ||
              add_u64(o, "vcpus", r->vcpus) || add_str(o, "migration_uri", r->migration_uri);
    for (size_t i = 0; !bad && i < r->n_instances; i++) {
        json_object *in = encode_instance(&r->instances[i]);
        bad = !in || json_object_array_add(arr, in) != 0;
        if (bad)
            json_object_put(in);
    }
    if (!bad) {
        bad = json_object_object_add(o, "instances", arr) != 0;
        arr = NULL;
    }
    if (!bad) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        bad = !s || !(*out = strdup(s));
    }
    json_object_put(arr);
    json_object_put(o);
    if (bad)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory encoding a host report");
    return 0;
}

/* ---------------------------------------------------------------- decode */

static int get_field(json_object *o, const char *key, json_type want, json_object **v,
                     const char *where, drover_error *err)
{
    static const char *const type_names[] = { "null", "boolean", "number", "number",
                                              "object", "array", "string" };
    if (!json_object_object_get_ex(o, key, v))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report%s: field \"%s\" is missing", where, key);
    if (!json_object_is_type(*v, want))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report%s: field \"%s\" should be a %s", where, key,
                      type_names[want]);
    return 0;
}

static int get_str(json_object *o, const char *key, char **dst, const char *where,
                   drover_error *err)
{
    json_object *v;
    if (get_field(o, key, json_type_string, &v, where, err) < 0)
        return -1;
    if (!(*dst = strdup(json_object_get_string(v))))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    return 0;
}

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *dst,
                   const char *where, drover_error *err)
{
    json_object *v;
    int64_t n;
    if (get_field(o, key, json_type_int, &v, where, err) < 0)
        return -1;
    n = json_object_get_int64(v);
    if (n < 0 || (uint64_t)n > max)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report%s: field \"%s\" = %lld is out of range 0..%llu", where, key,
                      (long long)n, (unsigned long long)max);
    *dst = (uint64_t)n;
    return 0;
}

static int decode_instance(json_object *o, size_t idx, drover_instance *in, drover_error *err)
{
    char where[48];
    snprintf(where, sizeof where, " instance %zu", idx);
    if (!json_object_is_type(o, json_type_object))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report%s: not a JSON object", where);
    if (get_str(o, "name", &in->name, where, err) || get_str(o, "uuid", &in->uuid, where, err) ||
        get_u64(o, "memory_mib", UINT32_MAX, &in->memory_mib, where, err) ||
        get_str(o, "state", &in->state, where, err))
        return -1;
    return 0;
}

static int decode(json_object *o, drover_report *r, drover_error *err)
{
    uint64_t schema, gen, vcpus;
    json_object *arr;
    size_t n;

    if (!json_object_is_type(o, json_type_object))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report is not a JSON object");
    if (get_u64(o, "schema", INT_MAX, &schema, "", err) < 0)
        return -1;
    if (schema < 1 || schema > DROVER_REPORT_SCHEMA)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report has schema %llu; this drover reads schema 1..%d",
                      (unsigned long long)schema, DROVER_REPORT_SCHEMA);
    r->schema = (int)schema;
    if (get_str(o, "host", &r->host, "", err) || get_u64(o, "generated_ms", INT64_MAX, &gen, "", err) ||
        get_str(o, "hypervisor_type", &r->hypervisor_type, "", err) ||
        get_u64(o, "hypervisor_version", INT64_MAX, &r->hypervisor_version, "", err) ||
        get_u64(o, "libvirt_version", INT64_MAX, &r->libvirt_version, "", err) ||
        get_str(o, "arch", &r->arch, "", err) || get_str(o, "cpu_xml", &r->cpu_xml, "", err) ||
        get_u64(o, "memory_total_mib", INT64_MAX, &r->memory_total_mib, "", err) ||
        get_u64(o, "memory_free_mib", INT64_MAX, &r->memory_free_mib, "", err) ||
        get_u64(o, "vcpus", UINT32_MAX, &vcpus, "", err) ||
        get_str(o, "migration_uri", &r->migration_uri, "", err) ||
        get_field(o, "instances", json_type_array, &arr, "", err))
        return -1;
    r->generated_ms = (int64_t)gen;
    r->vcpus = (uint32_t)vcpus;
    n = json_object_array_length(arr);
    if (n && !(r->instances = calloc(n, sizeof *r->instances)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r->n_instances = i + 1;
        if (decode_instance(json_object_array_get_idx(arr, i), i, &r->instances[i], err) < 0)
            return -1;
    }
    return 0;
}

static int only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

int dv_report_from_json(const char *text, size_t len, drover_report **out, drover_error *err)
{
    json_tokener *tok;
    json_object *o;
    drover_report *r;
    int rc;

    *out = NULL;
    if (!text || len == 0)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT, "host report is empty");
    if (len > INT_MAX)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT, "host report is too large");
    if (!(tok = json_tokener_new()))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    o = json_tokener_parse_ex(tok, text, (int)len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        !only_space(text + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok))) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t at = json_tokener_get_parse_end(tok);
        json_object_put(o);
        json_tokener_free(tok);
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report is not valid JSON at byte %zu: %s", at,
                      e == json_tokener_success ? "trailing data after the object"
                      : e == json_tokener_continue ? "the text ends too early"
                      : json_tokener_error_desc(e));
    }
    json_tokener_free(tok);
    if (!(r = calloc(1, sizeof *r))) {
        json_object_put(o);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    }
    rc = decode(o, r, err);
    json_object_put(o);
    if (rc < 0) {
        drover_report_free(r);
        return -1;
    }
    *out = r;
    return 0;
}
