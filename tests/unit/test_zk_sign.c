/* test_zk_sign.c - the zk driver's signs (drivers/zk/zk_signs.c): a
 * member's placement summary spelled as a ZooKeeper node name and read
 * back.  Pure logic: no server.
 *
 * A summary whose strings hold every byte a name may not (NUL, control
 * bytes, '/', '%', bytes past 0x7e) makes a name of printable ASCII
 * without '/', and decodes to the same report; names that are not signs
 * (no host, a bad or needless escape, a summary that does not read, one of
 * another host, bytes a name may not hold) are refused; a summary too long
 * for a name gets none. */
#include "core/report.h"
#include "drivers/zk/zk.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char odd_name[] = "web 50%/\x01\x7f\xc3\xa9-x";

static char *summary_of(const char *host, uint64_t free_mib, int64_t gen, size_t n_inst,
                        size_t *len)
{
    drover_instance in[2] = { { odd_name, "6f1c7c0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", 2048, "running" },
                              { "db-1", "00000000-0000-4000-8000-000000000001", 4096, "paused" } };
    drover_report r = { .schema = DROVER_REPORT_SCHEMA, .host = (char *)host, .generated_ms = gen,
                        .hypervisor_type = "QEMU", .hypervisor_version = 7002000,
                        .libvirt_version = 9000000, .arch = "x86_64",
                        .memory_total_mib = 65536, .memory_free_mib = free_mib, .vcpus = 16,
                        .migration_uri = "tcp://h%1/x", .instances = in, .n_instances = n_inst };
    char *s = NULL;

    if (dv_summary_encode(&r, &s, len, NULL) < 0)
        bail_out("cannot encode a summary");
    return s;
}

static bool name_ok(const char *name)
{
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '/')
            return false;
    return true;
}

static void test_round_trip(void)
{
    size_t len, hl = 0;
    char *sum = summary_of("c-1.example", 1234, 1700000000123, 2, &len);
    char *name = zk_sign_encode("c-1.example", sum, len);
    dv_arena *a = dv_arena_new();
    dv_member_summary ms;

    ok(name && strncmp(name, "c-1.example DS1 ", 16) == 0, "a sign is the host, a space, the summary");
    ok(name && name_ok(name), "of printable ASCII without '/'");
    diag("%s", name ? name : "(none)");
    ok(name && strstr(name, "%25") && strstr(name, "%2F") && strstr(name, "%01") && strstr(name, "%C3%A9"),
       "'%%', '/', control and high bytes are escaped");
    ok(zk_sign_decode(a, name, true, &hl, &ms) == 0, "it decodes");
    is_int((int)hl, 11, "the host's length");
    ok(ms.report && ms.stored && strcmp(ms.report->host, "c-1.example") == 0 &&
       ms.report->memory_free_mib == 1234 && ms.report->generated_ms == 1700000000123 &&
       strcmp(ms.report->migration_uri, "tcp://h%1/x") == 0 && ms.n_instances == 2 &&
       ms.memory_used_mib == 6144 && strcmp(ms.report->instances[0].name, odd_name) == 0,
       "to the summary it was made of");
    ok(zk_sign_decode(a, name, false, &hl, &ms) == 0 && ms.report->n_instances == 0 &&
       ms.n_instances == 2 && ms.memory_used_mib == 6144, "without the instance list: the counts");
    free(name);
    free(sum);
    dv_arena_free(a);
}

static void refused(const char *name, const char *why)
{
    dv_arena *a = dv_arena_new();
    dv_member_summary ms;
    size_t hl;

    ok(zk_sign_decode(a, name, true, &hl, &ms) < 0 && !ms.report && !ms.stored, "refused: %s", why);
    dv_arena_free(a);
}

static void test_refused(void)
{
    size_t len;
    char *sum = summary_of("h", 1, 2, 0, &len), *name = zk_sign_encode("h", sum, len);
    char buf[1024];

    if (!name)
        bail_out("no sign of host h");
    diag("a sign of host h: %s", name);
    refused("", "empty");
    refused("h", "no space");
    refused(" DS1 0 ", "no host");
    snprintf(buf, sizeof buf, "g%s", name + 1);
    refused(buf, "a summary of another host");
    snprintf(buf, sizeof buf, "%s 1", name);
    refused(buf, "bytes after the summary");
    snprintf(buf, sizeof buf, "%.*s", (int)strlen(name) - 1, name);
    refused(buf, "a summary cut short");
    refused("h DS1 garbage", "a summary that does not read");
    snprintf(buf, sizeof buf, "%s%%4", name);
    refused(buf, "an escape cut short");
    snprintf(buf, sizeof buf, "%s%%G1", name);
    refused(buf, "an escape that is not hex");
    snprintf(buf, sizeof buf, "%s%%2f", name);
    refused(buf, "lower-case hex (one spelling per summary)");
    snprintf(buf, sizeof buf, "h %%44S1 %s", name + 6);
    refused(buf, "a byte escaped that need not be");
    snprintf(buf, sizeof buf, "h DS1\x01%s", name + 6);
    refused(buf, "a control byte a name may not hold");
    free(name);
    free(sum);
}

static void test_too_long(void)
{
    size_t big = 9000;
    char *sum = malloc(big + 2);

    if (!sum)
        bail_out("out of memory");
    memset(sum, 'x', big);
    sum[big] = '\n';
    sum[big + 1] = '\0';
    ok(zk_sign_encode("h", sum, big + 1) == NULL, "a summary of %zu bytes gets no sign", big);
    ok(zk_sign_encode("h", sum, big) == NULL, "nor a text without its final newline");
    ok(zk_sign_encode("h", sum, 0) == NULL, "nor an empty one");
    free(sum);
}

int main(void)
{
    test_round_trip();
    test_refused();
    test_too_long();
    return done_testing();
}
