/* test_summary.c - the placement summary codec (core/summary.c): what a
 * report's summary keeps, and every way a damaged one is refused. */
#include "core/report.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static drover_report sample(drover_instance *in)
{
    in[0] = (drover_instance){ "web \"front\" \\ 1\n:", "6f1c7c0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f",
                               512, "running" };
    in[1] = (drover_instance){ "db-\xc3\xa9t\xc3\xa9", "00000000-0000-4000-8000-000000000001",
                               2048, "paused" };
    return (drover_report){
        .schema = DROVER_REPORT_SCHEMA, .host = "h1", .generated_ms = 1700000000123,
        .hypervisor_type = "QEMU", .hypervisor_version = 7002000, .libvirt_version = 9000000,
        .arch = "x86_64", .cpu_xml = "<cpu/>", .memory_total_mib = 24000,
        .memory_free_mib = 17321, .vcpus = 2, .migration_uri = "qemu+tcp://10.0.0.2/system",
        .instances = in, .n_instances = 2,
    };
}

static void test_round_trip(dv_arena *a)
{
    drover_instance in[2];
    drover_report r = sample(in);
    dv_member_summary ms, lite;
    drover_error e = { 0 };
    char *text, *json, *with_json;
    size_t len, used = 0;

    ok(dv_summary_encode(&r, &text, &len, &e) == 0 && len == strlen(text), "encode");
    ok(dv_is_summary(text, len) && !dv_is_summary("{\"schema\":1}", 12),
       "a summary is told from JSON by its start");
    ok(dv_summary_decode(a, text, len, true, &used, &ms, &e) == 0 && used == len,
       "decode, all of it used (%s)", e.message);
    is_str(ms.report->host, "h1", "host");
    is_str(ms.report->migration_uri, "qemu+tcp://10.0.0.2/system", "migration_uri");
    is_int(ms.report->generated_ms, 1700000000123, "generated_ms");
    is_int(ms.report->memory_free_mib, 17321, "memory_free_mib");
    is_int(ms.report->hypervisor_version, 7002000, "hypervisor_version");
    ok(ms.report->cpu_xml == NULL, "no CPU XML");
    is_int(ms.n_instances, 2, "two instances");
    is_int(ms.memory_used_mib, 2560, "their memory summed");
    is_str(ms.report->instances[0].name, in[0].name, "a name with quotes, newline, colon");
    is_str(ms.report->instances[1].state, "paused", "a state");
    ok(dv_summary_decode(a, text, len, false, NULL, &lite, &e) == 0 &&
       lite.report->n_instances == 0 && !lite.report->instances && lite.n_instances == 2 &&
       lite.memory_used_mib == 2560 && strcmp(lite.report->arch, "x86_64") == 0,
       "without the instance list: counts and memory kept");
    if (dv_report_to_json(&r, &json, &e) < 0 || !(with_json = malloc(len + strlen(json) + 1)))
        bail_out("encode");
    sprintf(with_json, "%s%s", text, json);
    ok(dv_summary_decode(a, with_json, strlen(with_json), true, &used, &ms, &e) == 0 &&
       used == len && strcmp(with_json + used, json) == 0,
       "a summary followed by the JSON: *used points at the JSON");
    free(with_json);
    free(json);
    free(text);
}

static void refused(dv_arena *a, const char *text, size_t len, const char *field, const char *what)
{
    dv_member_summary ms;
    drover_error e = { 0 };
    int rc = dv_summary_decode(a, text, len, true, NULL, &ms, &e);

    ok(rc < 0 && e.code == DROVER_ERR_CORRUPT && !ms.report, "%s: refused as corrupt", what);
    if (field)
        ok(strstr(e.message, field) != NULL, "%s: names %s (%s)", what, field, e.message);
}

#define BAD(text, field, what) refused(a, text, sizeof text - 1, field, what)

static void test_bad(dv_arena *a)
{
    char *text;
    size_t len;
    drover_instance in[2];
    drover_report r = sample(in);

    BAD("", "the start", "empty");
    BAD("{\"schema\":1}", "the start", "JSON");
    BAD("DS1 2 0 0 0 0 0 0 0 0:0:0:0:\n", "schema", "a newer schema");
    BAD("DS1 0 0 0 0 0 0 0 0 0:0:0:0:\n", "schema", "schema 0");
    BAD("DS1 1 0 0 0 18446744073709551616 0 0 0 0:0:0:0:\n", "memory_total_mib", "2^64");
    BAD("DS1 1 0 0 0 0 0 4294967296 0 0:0:0:0:\n", "vcpus", "vcpus above 32 bits");
    BAD("DS1 1 0 0 0 0 0 0 99999999 0:0:0:0:\n", "n_instances", "a count the bytes cannot hold");
    BAD("DS1 1 0 0 0 0 0 0 0 9:0:0:0:\n", "host", "a string longer than the text");
    BAD("DS1 1 0 0 0 0 0 0 0 3:a\0b0:0:0:\n", "host", "a NUL in a string");
    BAD("DS1 1 0 0 0 0 0 0 0 0:0:0:0:", "the end", "no final newline");
    BAD("DS1 1 0 0 0 0 0 0 0 0:0:0:0:x\n", "the end", "bytes before the newline");
    BAD("DS1 1 -1 0 0 0 0 0 0 0:0:0:0:\n", "generated_ms", "a sign");
    BAD("DS1 1 0 0 0 0 0 0 1 0:0:0:0:5000000000 0:0:0:\n", "memory_mib",
        "an instance's memory above 32 bits");
    if (dv_summary_encode(&r, &text, &len, NULL) < 0)
        bail_out("encode");
    {
        int bad = 0;
        for (size_t cut = 0; cut < len; cut++) {
            dv_member_summary ms;
            drover_error e = { 0 };
            bad += dv_summary_decode(a, text, cut, true, NULL, &ms, &e) == 0 ||
                   e.code != DROVER_ERR_CORRUPT;
        }
        is_int(bad, 0, "every truncation of a good summary is refused (%zu)", len);
    }
    free(text);
}

int main(void)
{
    dv_arena *a = dv_arena_new();

    if (!a)
        bail_out("out of memory");
    test_round_trip(a);
    test_bad(a);
    dv_arena_free(a);
    return done_testing();
}
