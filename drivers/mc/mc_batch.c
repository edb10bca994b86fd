/* mc_batch.c - batched multi-gets, each judged on its own. */
#include "drivers/mc/mc.h"

/* Position of key among keys[0..n): by the map when there is one (a few
 * keys are cheaper to compare than to hash); n when it is not there. */
static size_t key_pos(const dv_map *km, const char *const *keys, const size_t *lens, size_t n,
                      const char *key, size_t klen)
{
    size_t j;

    if (km->n)
        return (j = dv_map_get_index(km, key, klen)) == (size_t)-1 ? n : j;
    for (j = 0; j < n && !(lens[j] == klen && memcmp(keys[j], key, klen) == 0); j++)
        ;
    return j;
}

/* Read the answers of a multi-get of keys[0..n+2) (the member keys, then
 * the fresh and epoch markers): on_hit for each member key, *fresh and
 * *epoch for the markers.  The fetch's last return code. */
static memcached_return_t fetch_hits(mc_sg *m, const char **keys, const size_t *lens, size_t n,
                                     const dv_map *km, size_t base, mc_hit_fn on_hit, void *ctx,
                                     bool *fresh, bool *epoch)
{
    memcached_result_st res;
    memcached_return_t frc = MEMCACHED_END;

    if (!memcached_result_create(m->mc, &res))
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    while (memcached_fetch_result(m->mc, &res, &frc)) {
        const char *key = memcached_result_key_value(&res);
        size_t klen = memcached_result_key_length(&res), j;
        if (klen == lens[n] && memcmp(key, keys[n], klen) == 0) {
            *fresh = true;
        } else if (klen == lens[n + 1] && memcmp(key, keys[n + 1], klen) == 0) {
            *epoch = true;
        } else if ((j = key_pos(km, keys, lens, n, key, klen)) < n) {
            on_hit(ctx, base + j, memcached_result_value(&res), memcached_result_length(&res));
        }
    }
    memcached_result_free(&res);
    return frc;
}

/* One multi-get of keys[0..n) (all of which hash to server s) followed by
 * the server's two markers; keys and lens must have room for n + 2 entries.
 * on_hit gets each key found, numbered from base.  *why is set when the
 * answer is ANS_NONE. */
static answer ask_batch(mc_sg *m, uint32_t s, const char **keys, size_t *lens, size_t n,
                        size_t base, mc_hit_fn on_hit, void *ctx, memcached_return_t *why)
{
    memcached_return_t rc, frc;
    bool fresh = false, epoch = false, bad;
    dv_map km = { .borrow = true };

    *why = MEMCACHED_SUCCESS;
    if (n > 4 && dv_map_reserve(&km, n) < 0) {
        *why = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        return ANS_NONE;
    }
    for (size_t j = 0; n > 4 && j < n; j++)
        dv_map_put_index(&km, keys[j], lens[j], j);   /* reserved: cannot fail */
    keys[n] = m->srv[s].fresh;
    lens[n] = strlen(keys[n]);
    keys[n + 1] = m->srv[s].epoch;
    lens[n + 1] = strlen(keys[n + 1]);

    /* by the marker's server: summary keys are on their member key's
     * server, not where they hash */
    rc = memcached_mget_by_key(m->mc, keys[n], lens[n], keys, lens, n + 2);
    bad = rc != MEMCACHED_SUCCESS;
    if (bad)
        *why = rc;
    frc = fetch_hits(m, keys, lens, n, &km, base, on_hit, ctx, &fresh, &epoch);
    dv_map_free(&km, NULL);
    if (frc != MEMCACHED_END && frc != MEMCACHED_NOTFOUND && frc != MEMCACHED_SUCCESS) {
        bad = true;
        *why = frc;
    }
    /* libmemcached keeps the errors of the current request only */
    if (memcached_last_error(m->mc) != MEMCACHED_SUCCESS) {
        bad = true;
        *why = memcached_last_error(m->mc);
    }
    if (bad) {
        *why = mc_reset_cause(m, s, *why);
        mc_note(m, s, *why);
        return ANS_NONE;
    }
    mc_note(m, s, MEMCACHED_SUCCESS);
    if (!epoch) {
        if ((rc = mc_claim_markers(m, s)) != MEMCACHED_SUCCESS) {
            *why = rc;
            mc_note(m, s, rc);
            return ANS_NONE;
        }
        return ANS_FRESH;
    }
    return fresh ? ANS_FRESH : ANS_STEADY;
}

/* Request bytes per multi-get.  libmemcached writes a whole multi-get before
 * it reads any answer; if the server's answers fill the socket buffers it
 * stops reading, and a multi-get larger than what the buffers hold (the
 * server's receive buffer, 128 KiB by default) never finishes.  Batches
 * below that always do. */
#define BATCH_BYTES (48 * 1024)

/* Ask server s about keys[0..n) (all of which hash to it), in as few
 * multi-gets as the limit above allows, each carrying the server's markers
 * and judged on its own.  verdict[j] is the answer for key j; on_hit gets
 * each key found.  Once a batch gets no answer the server is not asked
 * again in this call (a hung server costs one poll timeout, not one per
 * batch).  *why: the reason of the first batch without an answer. */
int mc_ask(mc_sg *m, uint32_t s, const char *const *keys, const size_t *lens, size_t n,
           mc_hit_fn on_hit, void *ctx, answer *verdict, memcached_return_t *why)
{
    size_t max = n < BATCH_BYTES / 24 ? n : BATCH_BYTES / 24 + 1, off = 0;
    const char **bk;
    size_t *bl;

    *why = MEMCACHED_SUCCESS;
    bk = malloc((max + 2) * sizeof *bk);
    bl = malloc((max + 2) * sizeof *bl);
    if (!bk || !bl) {
        free(bk);
        free(bl);
        return -1;
    }
    while (off < n) {
        size_t cnt = 0, bytes = 0;
        answer a;
        memcached_return_t w;

        while (off + cnt < n && (cnt == 0 || bytes + 24 + lens[off + cnt] <= BATCH_BYTES)) {
            bk[cnt] = keys[off + cnt];
            bl[cnt] = lens[off + cnt];
            bytes += 24 + lens[off + cnt++];
        }
        a = *why == MEMCACHED_SUCCESS ? ask_batch(m, s, bk, bl, cnt, off, on_hit, ctx, &w)
                                      : ANS_NONE;
        if (a == ANS_NONE && *why == MEMCACHED_SUCCESS)
            *why = w;
        for (size_t j = 0; j < cnt; j++)
            verdict[off + j] = a;
        off += cnt;
    }
    free(bk);
    free(bl);
    return 0;
}

drover_liveness mc_judge(bool forced_down, bool present, answer a)
{
    if (forced_down)
        return DROVER_DOWN;
    if (present)
        return DROVER_UP;
    return a == ANS_STEADY ? DROVER_DOWN : DROVER_UNKNOWN;
}
