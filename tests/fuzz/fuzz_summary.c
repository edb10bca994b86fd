/* fuzz_summary.c - stored placement summaries through dv_summary_decode.
 * A rejected text gives DROVER_ERR_CORRUPT (or NOMEM) and no report; an
 * accepted one encodes again to exactly the bytes it was read from (up to
 * its newline), decodes without its instance list to the same counts and
 * memory, and no string it holds reaches outside the input's bytes. */
#include "core/report.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void check_lite(dv_arena *a, const uint8_t *data, size_t size, const dv_member_summary *full)
{
    dv_member_summary lite;
    drover_error e = { 0 };

    if (dv_summary_decode(a, (const char *)data, size, false, NULL, &lite, &e) < 0) {
        if (e.code == DROVER_ERR_NOMEM)
            return;
        abort();
    }
    if (lite.n_instances != full->n_instances || lite.memory_used_mib != full->memory_used_mib ||
        lite.report->n_instances != 0 || lite.report->instances ||
        !same(lite.report->host, full->report->host) ||
        !same(lite.report->migration_uri, full->report->migration_uri) ||
        lite.report->memory_free_mib != full->report->memory_free_mib)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dv_arena *a = dv_arena_new();
    dv_member_summary ms;
    drover_error e = { 0 };
    size_t used = 0, len = 0;
    char *again = NULL;
    uint64_t sum = 0;

    if (!a)
        return 0;
    if (dv_summary_decode(a, (const char *)data, size, true, &used, &ms, &e) < 0) {
        if (ms.report || (e.code != DROVER_ERR_CORRUPT && e.code != DROVER_ERR_NOMEM))
            abort();
        dv_arena_free(a);
        return 0;
    }
    if (!ms.report || used == 0 || used > size || data[used - 1] != '\n' || ms.report->cpu_xml)
        abort();
    for (size_t i = 0; i < ms.report->n_instances; i++)
        sum += ms.report->instances[i].memory_mib;
    if (sum != ms.memory_used_mib || ms.n_instances != ms.report->n_instances)
        abort();
    if (dv_summary_encode(ms.report, &again, &len, &e) == 0 &&
        (len != used || memcmp(again, data, used) != 0))
        abort();
    free(again);
    check_lite(a, data, size, &ms);
    dv_arena_free(a);
    return 0;
}
