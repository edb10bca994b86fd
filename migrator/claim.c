/* claim.c - the destination's memory claim of a migration, released in the
 * state store (where every scheduler counts it), whichever process settles
 * the migration. */
#include "migrator/record.h"
#include "core/log.h"
#include "store/store.h"

void dv_mig_claim_release(const dv_config *cfg, const char *host, int64_t claim_id)
{
    drover_error err = { 0 };
    dv_store *st = NULL;

    if (!claim_id || !host || !*host)
        return;
    if (dv_store_open(cfg, &st, &err) < 0 ||
        dv_store_claim_release(st, host, claim_id, NULL, &err) < 0)
        dv_warn("the claim %lld on %s was not released (%s); it lapses after "
                "scheduler.claim_ttl_s", (long long)claim_id, host, err.message);
    dv_store_close(st);
}
