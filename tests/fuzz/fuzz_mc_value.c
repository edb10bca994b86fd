/* fuzz_mc_value.c - a value read back from memcached for a member
 * (mc_value_parse): "dv1 <ms> <group> <host>\n<report or summary>", which
 * any client of the servers may have written.  A value that is not ours is
 * refused; an accepted one points inside the bytes read, and made again
 * from what was parsed it parses to the same time and body. */
#include "drivers/mc/mc.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    mc_parsed p, q;
    char *again;
    size_t len;

    if (!mc_value_parse(v, size, "compute", "h1", &p))
        return 0;
    if (p.ts < 0 || p.report < v || p.report + p.report_len != v + size)
        abort();
    if (!(again = mc_value_make(p.ts, "compute", "h1", p.report, p.report_len, &len)))
        return 0;
    if (!mc_value_parse(again, len, "compute", "h1", &q) || q.ts != p.ts ||
        q.report_len != p.report_len || memcmp(q.report, p.report, p.report_len) != 0)
        abort();
    if (mc_value_parse(again, len, "compute", "h2", &q) || mc_value_parse(again, len, "other", "h1", &q))
        abort();    /* another member's value is never taken for this one's */
    free(again);
    return 0;
}
