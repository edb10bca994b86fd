/* fuzz_zk_sign.c - ZooKeeper node names read as signs (zk_sign_decode):
 * a name any client may have made under <prefix>/.signs/<group>.  A refused
 * name leaves no report; an accepted one names the host its summary holds,
 * and spells that summary the one way zk_sign_encode does: encoding the
 * decoded report again gives the very name. */
#include "core/report.h"
#include "drivers/zk/zk.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1), *sum = NULL, *again = NULL;
    dv_arena *a = dv_arena_new();
    dv_member_summary ms;
    size_t hl = 0, len = 0;

    if (!name || !a)
        goto done;
    memcpy(name, data, size);
    name[size] = '\0';     /* a node name holds no NUL */
    if (zk_sign_decode(a, name, true, &hl, &ms) < 0) {
        if (ms.report || ms.stored)
            abort();
        goto done;
    }
    if (!ms.report || !ms.stored || hl != strlen(ms.report->host) || memcmp(name, ms.report->host, hl) != 0)
        abort();
    if (dv_summary_encode(ms.report, &sum, &len, NULL) == 0) {
        if (!(again = zk_sign_encode(ms.report->host, sum, len)) || strcmp(again, name) != 0)
            abort();
    }
done:
    free(again);
    free(sum);
    free(name);
    dv_arena_free(a);
    return 0;
}
