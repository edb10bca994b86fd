/* weigher_ram.c - Nova's RAMWeigher: more usable memory weighs more, so a
 * positive ram_weight_multiplier spreads guests over the emptiest hosts and
 * a negative one packs them onto the fullest that still fit.  Claims count:
 * a host that was just picked by a move in flight looks as full as it will be. */
#include "scheduler/scheduler.h"

static double ram_weigh(const dv_host_state *h, const dv_sched_request *r)
{
    return (double)dv_ram_usable_mib(h, r->params, true);
}

static double ram_multiplier(const dv_sched_params *p)
{
    return p->ram_weight_multiplier;
}

const dv_weigher_ops dv_weigher_ram = {
    .version = DV_WEIGHER_OPS_VERSION,
    .name = "ram",
    .weigh = ram_weigh,
    .multiplier = ram_multiplier,
};
