/* mc_markers.c - the restart markers (see mc.h). */
#include "drivers/mc/mc.h"

/* A marker name "drover:<kind>:<i>" that hashes to server s. */
int mc_find_marker(mc_sg *m, const char *kind, uint32_t s, char *out, size_t outsz,
                   drover_error *err)
{
    for (unsigned i = 0; i < MARKER_SEARCH; i++) {
        int n = snprintf(out, outsz, KEY_PREFIX ":%s:%u", kind, i);
        if (mc_server_of(m, out, (size_t)n) == s)
            return 0;
    }
    return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC,
                  "no %s marker key hashes to memcached %s", kind, m->srv[s].addr);
}


static bool stored_or_exists(memcached_return_t rc)
{
    return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS;
}

/* Server s answered without its epoch marker: it lost our keys.  Add fresh,
 * then epoch (see the top of the file for why in this order). */
memcached_return_t mc_claim_markers(mc_sg *m, uint32_t s)
{
    char stamp[24];
    int n = snprintf(stamp, sizeof stamp, "%" PRId64, dv_wall_ms());
    memcached_return_t rc;

    rc = memcached_add(m->mc, m->srv[s].fresh, strlen(m->srv[s].fresh), stamp, (size_t)n,
                       m->ttl, 0);
    if (!stored_or_exists(rc))
        return rc;
    rc = memcached_add(m->mc, m->srv[s].epoch, strlen(m->srv[s].epoch), stamp, (size_t)n, 0, 0);
    if (!stored_or_exists(rc))
        return rc;
    dv_info("memcached %s holds none of drover's keys (restarted, flushed or new): members on it "
            "are UNKNOWN, not DOWN, until they heartbeat or %lld s pass",
            m->srv[s].addr, (long long)m->ttl);
    return MEMCACHED_SUCCESS;
}

/* The writer's side: before re-creating a missing member key, make sure the
 * server's markers exist, so readers treat the others as UNKNOWN for now. */
memcached_return_t mc_ensure_markers(mc_sg *m, uint32_t s)
{
    memcached_return_t rc;
    size_t len;
    uint32_t flags;
    char *v = memcached_get(m->mc, m->srv[s].epoch, strlen(m->srv[s].epoch), &len, &flags, &rc);

    free(v);
    if (rc == MEMCACHED_SUCCESS)
        return rc;
    if (rc != MEMCACHED_NOTFOUND)
        return rc;
    return mc_claim_markers(m, s);
}
