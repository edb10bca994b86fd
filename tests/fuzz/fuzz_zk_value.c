/* fuzz_zk_value.c - a member node's data read back from ZooKeeper
 * (zk_value_split): "dvs1 <L>\n" + a summary of L bytes + the report's
 * JSON, or the JSON alone (a node of the earlier version).  A refused
 * header gives no parts; an accepted value splits into parts that lie
 * inside it, end to end. */
#include "drivers/zk/zk.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data, *end = v + size, *sum, *json;
    size_t sum_len, json_len;

    if (!zk_value_split(v, size, &sum, &sum_len, &json, &json_len)) {
        if (json || json_len)
            abort();
        return 0;
    }
    if (!json || json < v || json + json_len != end)
        abort();
    if (sum) {
        /* the header, then the summary right before the JSON */
        if (sum < v + 5 || sum + sum_len != json || sum_len == 0 || sum[-1] != '\n' ||
            memcmp(v, ZK_SUM_MAGIC, sizeof ZK_SUM_MAGIC - 1) != 0)
            abort();
    } else if (sum_len) {
        abort();
    }
    return 0;
}
