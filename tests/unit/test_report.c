/* test_report.c - the host report JSON codec (core/report.c).
 *
 * A full report with instances survives encode + decode field for field;
 * every way a stored report can be damaged (not JSON, cut short, not an
 * object, a field missing, of the wrong type, negative, too large, a newer
 * schema, trailing data, a bad instance) gives DROVER_ERR_CORRUPT with a
 * message naming the field.  Every bad input also goes through one
 * decoder reused for all of them (as get_all reuses one): same verdict,
 * and a good report still decodes after each failure. */
#include "core/report.h"
#include "tests/tap.h"

#include <json-c/json.h>
#include <stdbool.h>

static const char *const str_fields[] = { "host", "hypervisor_type", "arch", "cpu_xml",
                                          "migration_uri" };
static const char *const int_fields[] = { "schema", "generated_ms", "hypervisor_version",
                                          "libvirt_version", "memory_total_mib",
                                          "memory_free_mib", "vcpus" };
static const char *const inst_str_fields[] = { "name", "uuid", "state" };

static drover_instance sample_instances[] = {
    { "web-1", "6f1c3e4a-0b7d-4e55-9a51-0c7d9e3b2f10", 512, "running" },
    { "db \"primary\"\n\\", "0a0b0c0d-1111-2222-3333-444455556666", 4294967295u, "paused" },
    { "caf\xc3\xa9-\xe2\x9c\x93", "ffffffff-ffff-ffff-ffff-ffffffffffff", 0, "shutoff" },
};

static drover_report sample(void)
{
    drover_report r = {
        .schema = DROVER_REPORT_SCHEMA,
        .host = "compute-1.example",
        .generated_ms = 1732670000123,
        .hypervisor_type = "QEMU",
        .hypervisor_version = 7002000,
        .libvirt_version = 9000000,
        .arch = "x86_64",
        .cpu_xml = "<cpu>\n  <arch>x86_64</arch>\n  <model>qemu64</model>\n</cpu>\t\x01",
        .memory_total_mib = 9007199254740991ull,   /* 2^53 - 1: the largest allowed */
        .memory_free_mib = 4096,
        .vcpus = 4294967295u,
        .migration_uri = "qemu+tcp://10.231.0.1/system",
        .instances = sample_instances,
        .n_instances = sizeof sample_instances / sizeof *sample_instances,
    };
    return r;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void test_round_trip(void)
{
    drover_report in = sample(), *out = NULL;
    drover_error e = { 0 };
    char *json = NULL;

    ok(dv_report_to_json(&in, &json, &e) == 0 && json, "a full report encodes (%s)", e.message);
    if (!json)
        return;
    ok(strchr(json, '\n') == NULL, "the encoding is one line");
    ok(dv_report_from_json(json, strlen(json), &out, &e) == 0 && out, "and decodes (%s)", e.message);
    if (out) {
        is_int(out->schema, DROVER_REPORT_SCHEMA, "schema");
        is_str(out->host, in.host, "host");
        is_int(out->generated_ms, in.generated_ms, "generated_ms");
        is_str(out->hypervisor_type, in.hypervisor_type, "hypervisor_type");
        ok(out->hypervisor_version == in.hypervisor_version, "hypervisor_version");
        ok(out->libvirt_version == in.libvirt_version, "libvirt_version");
        is_str(out->arch, in.arch, "arch");
        is_str(out->cpu_xml, in.cpu_xml, "cpu_xml (newlines, tabs, control characters)");
        ok(out->memory_total_mib == in.memory_total_mib, "memory_total_mib = 2^53 - 1");
        ok(out->memory_free_mib == in.memory_free_mib, "memory_free_mib");
        ok(out->vcpus == in.vcpus, "vcpus = UINT32_MAX");
        is_str(out->migration_uri, in.migration_uri, "migration_uri");
        is_int(out->n_instances, in.n_instances, "instance count");
        for (size_t i = 0; i < in.n_instances && i < out->n_instances; i++) {
            const drover_instance *a = &in.instances[i], *b = &out->instances[i];
            ok(same(a->name, b->name) && same(a->uuid, b->uuid) && same(a->state, b->state) &&
               a->memory_mib == b->memory_mib, "instance %zu comes back as it was", i);
        }
        drover_report_free(out);
    }
    /* the decoder trusts the length, not a terminating NUL */
    {
        size_t n = strlen(json);
        char *copy = malloc(n + 8);
        memcpy(copy, json, n);
        memcpy(copy + n, "garbage", 8);
        ok(dv_report_from_json(copy, n, &out, &e) == 0, "text without a NUL after it decodes");
        drover_report_free(out);
        free(copy);
    }
    free(json);

    /* no instances, NULL strings, a negative clock */
    {
        drover_report empty = { .schema = 1, .generated_ms = -5 };
        ok(dv_report_to_json(&empty, &json, &e) == 0, "a report with NULL strings encodes");
        ok(dv_report_from_json(json, strlen(json), &out, &e) == 0 && out, "and decodes");
        if (out) {
            ok(out->n_instances == 0 && out->instances == NULL, "no instances");
            is_str(out->host, "", "a NULL string comes back empty");
            is_int(out->generated_ms, 0, "a negative clock is written as 0");
            drover_report_free(out);
        }
        free(json);
    }
    drover_report_free(NULL);
}

static void test_encode_limits(void)
{
    drover_report r = sample();
    drover_instance big = { "big", "u", 4294967296ull, "running" };
    drover_error e = { 0 };
    char *json = (char *)&json;

    r.memory_free_mib = 9007199254740992ull;   /* 2^53 */
    ok(dv_report_to_json(&r, &json, &e) == -1 && json == NULL, "2^53 in a report is refused");
    is_int(e.code, DROVER_ERR_INVALID, "refused with DROVER_ERR_INVALID");
    has_str(e.message, "\"memory_free_mib\"", "naming the field");

    r = sample();
    r.hypervisor_version = UINT64_MAX;
    ok(dv_report_to_json(&r, &json, &e) == -1, "UINT64_MAX is refused");
    has_str(e.message, "\"hypervisor_version\"", "naming the field");

    r = sample();
    r.instances = &big;
    r.n_instances = 1;
    ok(dv_report_to_json(&r, &json, &e) == -1, "an instance memory_mib above UINT32_MAX is refused");
    has_str(e.message, "\"instances[0].memory_mib\"", "naming the field");
}

/* ---------------------------------------------------------------- bad input */

/* The decoder every bad input also goes through, and a good report to
 * give it after each one. */
static dv_report_decoder *shared;
static char *good_json;

static void bad_len(const char *text, size_t len, const char *needle, const char *what)
{
    drover_report *r = (drover_report *)&r;
    drover_error e = { 0 }, e2 = { 0 };
    int rc = dv_report_from_json(text, len, &r, &e);

    ok(rc == -1 && r == NULL, "%s: rejected", what);
    if (!ok(e.code == DROVER_ERR_CORRUPT && e.domain == DROVER_FROM_REPORT,
            "%s: DROVER_ERR_CORRUPT from report", what))
        diag("   got %s/%s: %s", drover_code_name(e.code), drover_domain_name(e.domain), e.message);
    has_str(e.message, needle, "%s: says %s", what, needle);

    r = (drover_report *)&r;
    rc = dv_report_decode(shared, text, len, &r, &e2);
    if (!ok(rc == -1 && !r && e2.code == e.code && strcmp(e2.message, e.message) == 0,
            "%s: the same verdict from a reused decoder", what))
        diag("   one-shot: %s\n#   reused:   %s", e.message, e2.message);
    rc = dv_report_decode(shared, good_json, strlen(good_json), &r, &e2);
    ok(rc == 0 && r && same(r->host, "compute-1.example"),
       "%s: then the decoder reads a good report (%s)", what, rc ? e2.message : "ok");
    drover_report_free(r);
}

static void bad(const char *text, const char *needle, const char *what)
{
    bad_len(text, strlen(text), needle, what);
}

/* The sample report as a json-c object, to damage. */
static json_object *sample_object(void)
{
    drover_report r = sample();
    drover_error e = { 0 };
    char *json;
    json_object *o;

    if (dv_report_to_json(&r, &json, &e) < 0)
        bail_out("cannot encode the sample: %s", e.message);
    o = json_tokener_parse(json);
    free(json);
    if (!o)
        bail_out("json-c cannot read the sample");
    return o;
}

/* json-c's null is a NULL pointer, so "delete" needs its own marker. */
static char delete_marker;
#define DELETE ((json_object *)&delete_marker)

/* Replace (or with v DELETE, delete) a field of the sample, optionally
 * inside instance idx (>= 0), and check the decoder's verdict. */
static void damaged(int idx, const char *key, json_object *v, const char *needle, const char *what)
{
    json_object *o = sample_object(), *target = o;

    if (idx >= 0) {
        json_object *arr;
        json_object_object_get_ex(o, "instances", &arr);
        target = json_object_array_get_idx(arr, (size_t)idx);
    }
    if (v == DELETE)
        json_object_object_del(target, key);
    else
        json_object_object_add(target, key, v);
    bad(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), needle, what);
    json_object_put(o);
}

static void test_not_json(void)
{
    bad("", "empty", "empty text");
    bad_len("{}", 0, "empty", "length 0");
    ok(dv_report_from_json(NULL, 5, &(drover_report *){ NULL }, NULL) == -1, "NULL text, NULL err: -1");
    bad("host=compute1", "not valid JSON", "not JSON");
    bad("{\"schema\":1,}", "not valid JSON", "a trailing comma");
    bad("{\"schema\":1 /* comment */}", "not valid JSON", "a comment");
    /* json-c reads these even in strict mode; the fields still fail */
    bad("{'schema':1}", "field \"host\" is missing", "single quotes");
    bad("{\"schema\":NaN}", "field \"schema\" should be an integer, not a floating-point number", "NaN");
    bad("{\"host\":\"\xff\xfe\"}", "not valid JSON", "invalid UTF-8");
    bad("{\"schema\":01}", "not valid JSON", "a leading zero");
    bad("[1, 2, 3]", "should be a JSON object, not an array", "an array");
    bad("123", "should be a JSON object, not an integer", "a bare number");
    bad("\"report\"", "should be a JSON object, not a string", "a string");
    bad("null", "should be a JSON object, not null", "null");
    bad("{}", "field \"schema\" is missing", "an empty object");
    bad("{\"schema\":1} x", "not valid JSON", "trailing garbage");
    bad("{\"schema\":1}{\"schema\":1}", "not valid JSON", "two objects");
    bad_len("{\"schema\":1}\0{}", 15, "not valid JSON", "a NUL byte, then more");
    {
        char deep[200];
        memset(deep, '[', sizeof deep - 1);
        deep[sizeof deep - 1] = '\0';
        bad(deep, "not valid JSON", "deep nesting");
    }
}

/* Every proper prefix of a valid report is rejected. */
static void test_truncated(void)
{
    drover_report r = sample();
    drover_error e = { 0 };
    char *json;
    size_t n, failures = 0, wrong_code = 0;

    if (dv_report_to_json(&r, &json, &e) < 0)
        bail_out("encode: %s", e.message);
    n = strlen(json);
    for (size_t len = 1; len < n; len++) {
        drover_report *out = NULL;
        if (dv_report_from_json(json, len, &out, &e) == 0) {
            failures++;
            diag("   prefix of %zu bytes decoded", len);
            drover_report_free(out);
        } else if (e.code != DROVER_ERR_CORRUPT) {
            wrong_code++;
        }
    }
    ok(failures == 0, "each of the %zu proper prefixes is rejected", n - 1);
    ok(wrong_code == 0, "each with DROVER_ERR_CORRUPT");
    bad_len(json, n - 1, "unexpected end of data", "cut before the last '}'");
    {
        char *spaced = malloc(n + 4);
        drover_report *out = NULL;
        memcpy(spaced, json, n);
        memcpy(spaced + n, " \n\t", 4);
        ok(dv_report_from_json(spaced, n + 3, &out, &e) == 0, "trailing white space is fine");
        drover_report_free(out);
        free(spaced);
    }
    free(json);
}

/* Field f of the sample report damaged to v: refused, the message saying
 * field "f" and problem; the check is called "f what". */
static void damaged_field(const char *f, json_object *v, const char *what, const char *problem)
{
    char w[96], needle[160];

    snprintf(w, sizeof w, "%s %s", f, what);
    snprintf(needle, sizeof needle, "field \"%s\" %s", f, problem);
    damaged(-1, f, v, needle, w);
}

static void test_fields(void)
{
    for (size_t i = 0; i < sizeof str_fields / sizeof *str_fields; i++) {
        const char *f = str_fields[i];
        damaged_field(f, DELETE, "missing", "is missing");
        damaged_field(f, json_object_new_int(5), "an integer",
                      "should be a string, not an integer");
        damaged_field(f, json_object_new_string_len("ab\0cd", 5), "with a NUL",
                      "contains a NUL character");
    }
    for (size_t i = 0; i < sizeof int_fields / sizeof *int_fields; i++) {
        const char *f = int_fields[i];
        damaged_field(f, DELETE, "missing", "is missing");
        damaged_field(f, json_object_new_string("12"), "a string",
                      "should be an integer, not a string");
        damaged_field(f, json_object_new_double(1.5), "a float",
                      "should be an integer, not a floating-point number");
        damaged_field(f, json_object_new_int(-1), "negative", "is negative");
        damaged_field(f, json_object_new_uint64(UINT64_MAX), "huge", "is larger than");
    }
    damaged(-1, "instances", DELETE, "field \"instances\" is missing", "instances missing");
    damaged(-1, "instances", json_object_new_object(), "field \"instances\" should be an array, not an object",
            "instances an object");
    damaged(-1, "host", json_object_new_boolean(1), "field \"host\" should be a string, not a boolean",
            "host a boolean");
    damaged(-1, "cpu_xml", json_object_new_null(), "field \"cpu_xml\" should be a string, not null",
            "cpu_xml null");

    /* limits of particular fields */
    damaged(-1, "vcpus", json_object_new_int64(4294967296LL), "field \"vcpus\" is larger than 4294967295",
            "vcpus above UINT32_MAX");
    damaged(-1, "memory_total_mib", json_object_new_int64(9007199254740992LL),
            "field \"memory_total_mib\" is larger than 9007199254740991", "2^53");
    damaged(-1, "schema", json_object_new_int(2), "field \"schema\" is 2; this drover reads schema 1..1 "
            "(a newer drover wrote it)", "newer schema");
    damaged(-1, "schema", json_object_new_int(0), "field \"schema\" is 0", "schema 0");
    damaged(-1, "schema", json_object_new_int64(1LL << 40), "field \"schema\" is larger than", "huge schema");
}

/* Numbers written out in the text, past what json-c holds in 64 bits. */
static void test_huge_numbers(void)
{
    static const struct { const char *digits, *needle; } cases[] = {
        { "99999999999999999999999", "is larger than" },
        { "18446744073709551615", "is larger than" },
        { "18446744073709551616", "is larger than" },
        { "9223372036854775807", "is larger than" },
        { "9223372036854775808", "is larger than" },
        { "-9223372036854775809", "is negative" },
        { "-99999999999999999999999", "is negative" },
        { "1e400", "should be an integer, not a floating-point number" },
        { "-0.0", "should be an integer" },
    };
    json_object *o = sample_object();
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    const char *at = strstr(text, "\"memory_free_mib\":4096");

    if (!at)
        bail_out("the sample has no \"memory_free_mib\":4096: %s", text);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[4096], what[96], needle[128];
        size_t pre = (size_t)(at - text) + strlen("\"memory_free_mib\":");
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, text, cases[i].digits,
                 at + strlen("\"memory_free_mib\":4096"));
        snprintf(what, sizeof what, "memory_free_mib = %s", cases[i].digits);
        snprintf(needle, sizeof needle, "field \"memory_free_mib\" %s", cases[i].needle);
        bad(buf, needle, what);
    }
    json_object_put(o);
}

static void test_instances(void)
{
    damaged(-1, "instances", json_tokener_parse("[\"vm1\"]"),
            "field \"instances[0]\" should be an object, not a string", "an instance that is a string");
    damaged(-1, "instances", json_tokener_parse("[{\"name\":\"a\",\"uuid\":\"u\",\"memory_mib\":1,"
                                                "\"state\":\"running\"}, [1]]"),
            "field \"instances[1]\" should be an object, not an array", "an instance that is an array");
    for (size_t i = 0; i < sizeof inst_str_fields / sizeof *inst_str_fields; i++) {
        char what[96], needle[96];
        snprintf(what, sizeof what, "instance 1 without %s", inst_str_fields[i]);
        snprintf(needle, sizeof needle, "field \"instances[1].%s\" is missing", inst_str_fields[i]);
        damaged(1, inst_str_fields[i], DELETE, needle, what);
        snprintf(what, sizeof what, "instance 2 with %s = 7", inst_str_fields[i]);
        snprintf(needle, sizeof needle, "field \"instances[2].%s\" should be a string", inst_str_fields[i]);
        damaged(2, inst_str_fields[i], json_object_new_int(7), needle, what);
    }
    damaged(0, "memory_mib", DELETE, "field \"instances[0].memory_mib\" is missing", "instance without memory");
    damaged(0, "memory_mib", json_object_new_int(-512), "field \"instances[0].memory_mib\" is negative",
            "instance with negative memory");
    damaged(0, "memory_mib", json_object_new_int64(4294967296LL),
            "field \"instances[0].memory_mib\" is larger than 4294967295", "instance memory above UINT32_MAX");
    damaged(0, "memory_mib", json_object_new_string("512"),
            "field \"instances[0].memory_mib\" should be an integer, not a string", "instance memory a string");

    /* unknown fields are a newer agent's additions within the same schema */
    {
        json_object *o = sample_object(), *arr;
        drover_report *r = NULL;
        drover_error e = { 0 };
        const char *text;
        json_object_object_add(o, "gpu_count", json_object_new_int(2));
        json_object_object_get_ex(o, "instances", &arr);
        json_object_object_add(json_object_array_get_idx(arr, 0), "vcpus", json_object_new_int(2));
        text = json_object_to_json_string(o);
        ok(dv_report_from_json(text, strlen(text), &r, &e) == 0, "unknown fields are ignored (%s)", e.message);
        drover_report_free(r);
        json_object_put(o);
    }
}

/* A decoder used for many reports gives what dv_report_from_json gives,
 * including after inputs that stop json-c mid-value. */
static void test_decoder(void)
{
    drover_report in = sample(), *a = NULL, *b = NULL;
    drover_error e = { 0 };
    size_t n = strlen(good_json), failed = 0;
    bool all_same = true;

    for (int i = 0; i < 3; i++) {
        ok(dv_report_decode(shared, good_json, n, &a, &e) == 0 && a, "decoder: report %d", i + 1);
        ok(dv_report_from_json(good_json, n, &b, &e) == 0 && b, "... and one-shot");
        if (a && b) {
            all_same &= same(a->host, b->host) && same(a->cpu_xml, in.cpu_xml) &&
                        a->memory_total_mib == in.memory_total_mib && a->vcpus == b->vcpus &&
                        a->n_instances == 3 && same(a->instances[1].name, in.instances[1].name);
        }
        drover_report_free(a);
        drover_report_free(b);
        a = b = NULL;
    }
    ok(all_same, "decoder and one-shot agree, field for field");
    /* each prefix leaves json-c waiting for more; the next decode starts afresh */
    for (size_t len = 1; len < n; len += 7) {
        if (dv_report_decode(shared, good_json, len, &a, &e) == 0) {
            drover_report_free(a);
            failed++;
        }
        if (dv_report_decode(shared, good_json, n, &a, &e) < 0)
            failed++;
        drover_report_free(a);
        a = NULL;
    }
    is_int(failed, 0, "prefixes and whole reports in turn through one decoder: each verdict right");
    ok(dv_report_decode(NULL, good_json, n, &a, &e) == 0 && a, "a NULL decoder decodes too");
    drover_report_free(a);
}

int main(void)
{
    drover_report in = sample();
    drover_error e = { 0 };

    if (!(shared = dv_report_decoder_new()) || dv_report_to_json(&in, &good_json, &e) < 0)
        bail_out("cannot set up the shared decoder and report: %s", e.message);
    test_round_trip();
    test_decoder();
    test_encode_limits();
    test_not_json();
    test_truncated();
    test_fields();
    test_huge_numbers();
    test_instances();
    dv_report_decoder_free(shared);
    free(good_json);
    return done_testing();
}
