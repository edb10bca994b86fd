/* filter_different_host.c - never the host the instance runs on, nor a
 * host the request says to ignore (--ignore, or one that already failed). */
#include "scheduler/scheduler.h"

#include <stdio.h>
#include <string.h>

static bool different_passes(const dv_host_state *h, const dv_sched_request *r, char *why,
                             size_t len)
{
    if (h == r->source ||
        dv_same_name_hashed(h->name_hash, h->host, r->source->name_hash, r->source->host)) {
        if (why)
            snprintf(why, len, "different_host: this is the source host: the instance runs here");
        return false;
    }
    for (size_t i = 0; i < r->n_ignore; i++)
        if (strcmp(h->host, r->ignore[i]) == 0) {
            if (why)
                snprintf(why, len, "different_host: the request says to ignore this host");
            return false;
        }
    return true;
}

const dv_filter_ops dv_filter_different_host = {
    .version = DV_FILTER_OPS_VERSION,
    .name = "different_host",
    .summary = "the host is not the source and not on the ignore list",
    .host_passes = different_passes,
};
