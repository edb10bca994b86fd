/* test_migrate_campaign.c - the randomized fault campaign: N rounds
 * (DROVER_CAMPAIGN_ROUNDS, default 10), each one fault of
 * test_migrate_faults.c at a random moment of the copy, the seed printed
 * (DROVER_CAMPAIGN_SEED replays it), the invariants asserted every round and
 * the outcomes table printed as TAP diagnostics. */
#define DV_CAMPAIGN 1
#include "tests/integration/test_migrate_faults.c"
