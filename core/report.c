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

/* Integers above 2^53 - 1 lose precision in many JSON readers (and json-c
 * itself silently clamps anything past 64 bits), so a report never holds one:
 * the encoder refuses them and the decoder reads them as corrupt. */
#define REPORT_INT_MAX ((UINT64_C(1) << 53) - 1)

/* ---------------------------------------------------------------- encode */

static int add_str(json_object *o, const char *key, const char *v)
{
    json_object *s = json_object_new_string(v ? v : "");
    if (!s)
        return -1;
    if (json_object_object_add(o, key, s) != 0) {
        json_object_put(s);
        return -1;
    }
    return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v)
{
    json_object *n = json_object_new_int64((int64_t)v);   /* callers checked v <= REPORT_INT_MAX */
    if (!n)
        return -1;
    if (json_object_object_add(o, key, n) != 0) {
        json_object_put(n);
        return -1;
    }
    return 0;
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

static int too_large(const char *field, uint64_t v, drover_error *err)
{
    return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_REPORT,
                  "host report: field \"%s\" = %llu is larger than %llu", field,
                  (unsigned long long)v, (unsigned long long)REPORT_INT_MAX);
}

/* Every number must come back as written. */
static int check_encodable(const drover_report *r, drover_error *err)
{
    const struct { const char *name; uint64_t v; } f[] = {
        { "generated_ms", r->generated_ms < 0 ? 0 : (uint64_t)r->generated_ms },
        { "hypervisor_version", r->hypervisor_version },
        { "libvirt_version", r->libvirt_version },
        { "memory_total_mib", r->memory_total_mib },
        { "memory_free_mib", r->memory_free_mib },
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (f[i].v > REPORT_INT_MAX)
            return too_large(f[i].name, f[i].v, err);
    for (size_t i = 0; i < r->n_instances; i++)
        if (r->instances[i].memory_mib > UINT32_MAX) {
            char name[48];
            snprintf(name, sizeof name, "instances[%zu].memory_mib", i);
            return too_large(name, r->instances[i].memory_mib, err);
        }
    return 0;
}

int dv_report_to_json(const drover_report *r, char **out, drover_error *err)
{
    json_object *o, *arr;
    int bad;

    *out = NULL;
    if (check_encodable(r, err) < 0)
        return -1;
    o = json_object_new_object();
    arr = json_object_new_array();
    bad = !o || !arr;
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
        if (!bad)
            arr = NULL;            /* o owns it now */
    }
    if (!bad) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        bad = !s || !(*out = strdup(s));
    }
    if (!bad && strlen(*out) > DV_REPORT_MAX) {
        size_t len = strlen(*out);
        free(*out);
        *out = NULL;
        json_object_put(arr);
        json_object_put(o);
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_REPORT,
                      "the host report is %zu bytes; the limit is %d (too many instances or a "
                      "huge CPU XML?)", len, DV_REPORT_MAX);
    }
    json_object_put(arr);
    json_object_put(o);
    if (bad)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory encoding a host report");
    return 0;
}

/* ---------------------------------------------------------------- decode */

static const char *json_type_phrase(json_type t)
{
    switch (t) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a floating-point number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "of an unknown type";
}

/* Where a field is: top level (idx < 0) or inside instance idx.  The name
 * ("memory_free_mib", "instances[2].uuid") is only formatted for an error,
 * so a report that decodes pays nothing for it. */
typedef struct field {
    long idx;
    const char *key;
} field;

static const char *field_name(field f, char *buf, size_t size)
{
    if (f.idx < 0)
        return f.key;
    snprintf(buf, size, "instances[%ld].%s", f.idx, f.key);
    return buf;
}

/* "host report: field \"NAME\" WHAT" */
static int corrupt(field f, const char *what, drover_error *err)
{
    char name[64];

    return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT, "host report: field \"%s\" %s",
                  field_name(f, name, sizeof name), what);
}

static int get_field(json_object *o, field f, json_type want, json_object **v, drover_error *err)
{
    char what[96];

    if (!json_object_object_get_ex(o, f.key, v))
        return corrupt(f, "is missing", err);
    if (!json_object_is_type(*v, want)) {
        snprintf(what, sizeof what, "should be %s, not %s", json_type_phrase(want),
                 json_type_phrase(json_object_get_type(*v)));
        return corrupt(f, what, err);
    }
    return 0;
}

static int get_str(json_object *o, field f, char **dst, drover_error *err)
{
    json_object *v;
    const char *s;
    size_t len;

    if (get_field(o, f, json_type_string, &v, err) < 0)
        return -1;
    s = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
    /* "\u0000" decodes to a NUL byte, which C strings would silently cut */
    if (memchr(s, '\0', len))
        return corrupt(f, "contains a NUL character", err);
    if (!(*dst = malloc(len + 1)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    memcpy(*dst, s, len + 1);
    return 0;
}

/* json-c clamps integers beyond 64 bits to INT64_MIN/INT64_MAX (or
 * UINT64_MAX), all of which fall outside 0..max here. */
static int get_u64(json_object *o, field f, uint64_t max, uint64_t *dst, drover_error *err)
{
    json_object *v;
    int64_t n;
    char what[48];

    if (get_field(o, f, json_type_int, &v, err) < 0)
        return -1;
    n = json_object_get_int64(v);
    if (n < 0)
        return corrupt(f, "is negative", err);
    if ((uint64_t)n > max) {
        snprintf(what, sizeof what, "is larger than %llu", (unsigned long long)max);
        return corrupt(f, what, err);
    }
    *dst = (uint64_t)n;
    return 0;
}

#define TOP(key) ((field){ -1, (key) })

static int decode_instance(json_object *o, size_t idx, drover_instance *in, drover_error *err)
{
    long i = (long)idx;

    if (!json_object_is_type(o, json_type_object))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report: field \"instances[%zu]\" should be an object, not %s", idx,
                      json_type_phrase(json_object_get_type(o)));
    if (get_str(o, (field){ i, "name" }, &in->name, err) ||
        get_str(o, (field){ i, "uuid" }, &in->uuid, err) ||
        get_u64(o, (field){ i, "memory_mib" }, UINT32_MAX, &in->memory_mib, err) ||
        get_str(o, (field){ i, "state" }, &in->state, err))
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
                      "host report should be a JSON object, not %s",
                      json_type_phrase(json_object_get_type(o)));
    if (get_u64(o, TOP("schema"), INT_MAX, &schema, err) < 0)
        return -1;
    if (schema < 1 || schema > DROVER_REPORT_SCHEMA)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                      "host report: field \"schema\" is %llu; this drover reads schema 1..%d%s",
                      (unsigned long long)schema, DROVER_REPORT_SCHEMA,
                      schema > DROVER_REPORT_SCHEMA ? " (a newer drover wrote it)" : "");
    r->schema = (int)schema;
    if (get_str(o, TOP("host"), &r->host, err) ||
        get_u64(o, TOP("generated_ms"), REPORT_INT_MAX, &gen, err) ||
        get_str(o, TOP("hypervisor_type"), &r->hypervisor_type, err) ||
        get_u64(o, TOP("hypervisor_version"), REPORT_INT_MAX, &r->hypervisor_version, err) ||
        get_u64(o, TOP("libvirt_version"), REPORT_INT_MAX, &r->libvirt_version, err) ||
        get_str(o, TOP("arch"), &r->arch, err) || get_str(o, TOP("cpu_xml"), &r->cpu_xml, err) ||
        get_u64(o, TOP("memory_total_mib"), REPORT_INT_MAX, &r->memory_total_mib, err) ||
        get_u64(o, TOP("memory_free_mib"), REPORT_INT_MAX, &r->memory_free_mib, err) ||
        get_u64(o, TOP("vcpus"), UINT32_MAX, &vcpus, err) ||
        get_str(o, TOP("migration_uri"), &r->migration_uri, err) ||
        get_field(o, TOP("instances"), json_type_array, &arr, err))
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

/* ---------------------------------------------------------------- the parser */

struct dv_report_decoder {
    json_tokener *tok;
};

dv_report_decoder *dv_report_decoder_new(void)
{
    dv_report_decoder *dec = malloc(sizeof *dec);

    if (dec && !(dec->tok = json_tokener_new())) {
        free(dec);
        return NULL;
    }
    if (dec)
        json_tokener_set_flags(dec->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return dec;
}

void dv_report_decoder_free(dv_report_decoder *dec)
{
    if (!dec)
        return;
    json_tokener_free(dec->tok);
    free(dec);
}

/* Parse all of text[0..len) as one JSON value, strictly (RFC 8259: no
 * comments, trailing commas or NaN; valid UTF-8). */
static json_object *parse(json_tokener *tok, const char *text, size_t len, drover_error *err)
{
    enum json_tokener_error e;
    json_object *o;
    size_t at;

    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, text, (int)len);
    at = json_tokener_get_parse_end(tok);
    e = json_tokener_get_error(tok);
    if (!o && e == json_tokener_continue) {
        /* the text ended inside a value: a NUL says there is no more (a
         * bare number only ends there; anything else is truncated) */
        o = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        at = len;
    }
    if (o && e == json_tokener_success && at < len)
        e = json_tokener_error_parse_unexpected;   /* a NUL byte, then more */
    if (!o && e == json_tokener_success) {
        /* json-c's null is a NULL object */
        dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
               "host report should be a JSON object, not null");
        return NULL;
    }
    if (!o || e != json_tokener_success) {
        json_object_put(o);
        dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
               "host report is not valid JSON at byte %zu: %s", at,
               e == json_tokener_success ? "trailing data" : json_tokener_error_desc(e));
        return NULL;
    }
    return o;
}

int dv_report_decode(dv_report_decoder *dec, const char *text, size_t len, drover_report **out,
                     drover_error *err)
{
    dv_report_decoder *own = NULL;
    json_object *o;
    drover_report *r;
    int rc;

    *out = NULL;
    if (!text || len == 0)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT, "host report is empty");
    if (len > INT_MAX)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT, "host report is too large");
    if (!dec && !(dec = own = dv_report_decoder_new()))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    o = parse(dec->tok, text, len, err);
    dv_report_decoder_free(own);
    if (!o)
        return -1;
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

int dv_report_from_json(const char *text, size_t len, drover_report **out, drover_error *err)
{
    return dv_report_decode(NULL, text, len, out, err);
}
