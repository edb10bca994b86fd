/* mc_index.c - the member index in memcached and the state db's member list. */
#include "drivers/mc/mc.h"

/* ---------------------------------------------------------------- index */

/* The shard names of group: names[s * IDX_SHARDS + k] is the first
 * "drover:idx:<group>:<k>.<i>" (group hashed when too long) that hashes to
 * server s.  Every process listing the same servers finds the same names. */
static int mc_idx_names(mc_sg *m, const char *group, drover_error *err)
{
    size_t glen = strlen(group), total = (size_t)m->n_srv * IDX_SHARDS;
    char gname[KEY_MAX + 1], key[KEY_MAX + 1];

    if (m->idx_group && strcmp(m->idx_group, group) == 0)
        return 0;
    free(m->idx_group);
    m->idx_group = NULL;
    if (!m->idx_name && !(m->idx_name = malloc(total * sizeof *m->idx_name)))
        return mc_nomem(err);
    if ((!m->idx_cas && !(m->idx_cas = calloc(total, sizeof *m->idx_cas))) ||
        (!m->idx_seen && !(m->idx_seen = calloc(total, sizeof *m->idx_seen))) ||
        (!m->idx_vname && !(m->idx_vname = malloc(total * sizeof *m->idx_vname))))
        return mc_nomem(err);
    memset(m->idx_cas, 0, total * sizeof *m->idx_cas);
    memset(m->idx_seen, 0, total * sizeof *m->idx_seen);
    if (glen + sizeof KEY_PREFIX ":idx::64.1000000" > KEY_MAX)
        snprintf(gname, sizeof gname, "#%016" PRIx64,
                 dv_fnv1a(group, glen, DV_FNV_OFFSET));
    else
        snprintf(gname, sizeof gname, "%s", group);
    for (unsigned k = 0; k < 2 * IDX_SHARDS; k++) {
        char (*name)[KEY_MAX + 1] = k < IDX_SHARDS ? m->idx_name : m->idx_vname;
        unsigned ks = k % IDX_SHARDS;
        uint32_t found = 0;
        for (unsigned s = 0; s < m->n_srv; s++)
            name[s * IDX_SHARDS + ks][0] = '\0';
        for (unsigned i = 0; i < MARKER_SEARCH && found < m->n_srv; i++) {
            int n = snprintf(key, sizeof key, KEY_PREFIX ":%s:%s:%u.%u",
                             k < IDX_SHARDS ? "idx" : "idxv", gname, ks, i);
            uint32_t s = mc_server_of(m, key, (size_t)n);
            if (s < m->n_srv && !name[s * IDX_SHARDS + ks][0]) {
                memcpy(name[s * IDX_SHARDS + ks], key, (size_t)n + 1);
                found++;
            }
        }
        if (found < m->n_srv)
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC,
                          "no index key of group \"%s\" hashes to every memcached server", group);
    }
    if (!(m->idx_group = strdup(group)))
        return mc_nomem(err);
    return 0;
}

/* The shard of host: on the server of its member key, so that a server
 * that loses its keys loses the member key together with its index entry,
 * and the agent's next heartbeat (key missing) writes both again. */
size_t mc_idx_slot(mc_sg *m, const char *host, uint32_t s)
{
    return (size_t)s * IDX_SHARDS + dv_hash_bytes(host, strlen(host)) % IDX_SHARDS;
}

/* One distinct host of a shard and the last thing said about it. */
typedef struct ientry {
    const char *host;               /* into the shard's value; not NUL-terminated */
    size_t len;
    char op;                        /* '+' member, '-' left */
} ientry;

/* The distinct hosts of a shard value, in order of first appearance, each
 * with its last entry.  *lines: how many entries the value holds.  Lines
 * that are not "+host" or "-host" are skipped (not ours, or cut short). */
static int idx_parse(const char *v, size_t len, ientry **out, size_t *n_out, size_t *lines)
{
    size_t n = 0, ecap = 16;
    const char *p = v, *end = v + len;
    ientry *e = malloc(ecap * sizeof *e);
    dv_map seen = { .borrow = true };   /* host -> its position in e */

    *out = NULL;
    *n_out = *lines = 0;
    if (!e || dv_map_reserve(&seen, len / 8) < 0)
        goto oom;
    for (const char *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
        const char *h = p + 1;
        size_t hl = (size_t)(nl - h), j;
        if ((*p != '+' && *p != '-') || hl == 0 || hl > DV_NAME_MAX)
            continue;
        (*lines)++;
        if ((j = dv_map_get_index(&seen, h, hl)) != (size_t)-1) {
            e[j].op = *p;
            continue;
        }
        if (n == ecap) {
            ientry *bigger = realloc(e, 2 * ecap * sizeof *e);
            if (!bigger)
                goto oom;
            e = bigger;
            ecap *= 2;
        }
        e[n] = (ientry){ h, hl, *p };
        if (dv_map_put_index(&seen, h, hl, n++) < 0)
            goto oom;
    }
    dv_map_free(&seen, NULL);
    *out = e;
    *n_out = n;
    return 0;
oom:
    free(e);
    dv_map_free(&seen, NULL);
    return -1;
}

/* Rewrite a shard holding many superseded entries as one entry per host
 * (tombstones kept: a reader that has not seen a leave yet must still see
 * it).  With CAS: if a writer appended meanwhile, nothing is written and
 * the next reader tries again. */
static void idx_compact(mc_sg *m, const char *key, const ientry *e, size_t n, uint64_t cas)
{
    size_t len = 0;
    char *v, *p;
    memcached_return_t rc;

    for (size_t i = 0; i < n; i++)
        len += e[i].len + 2;
    if (!(p = v = malloc(len + 1)))
        return;
    for (size_t i = 0; i < n; i++) {
        *p++ = e[i].op;
        memcpy(p, e[i].host, e[i].len);
        p += e[i].len;
        *p++ = '\n';
    }
    rc = memcached_cas(m->mc, key, strlen(key), v, len, 0, 0, cas);
    dv_debug("index %s compacted to %zu bytes: %s", key, len, memcached_strerror(m->mc, rc));
    free(v);
}

/* Whether a shard is worth compacting: big, and mostly superseded. */
static bool idx_bloated(size_t len, size_t lines, size_t distinct)
{
    return len > IDX_COMPACT_BYTES && 2 * (lines - distinct) > lines;
}

/* Fetch one shard with its CAS and compact it if it is still worth it. */
static void idx_compact_now(mc_sg *m, const char *key)
{
    const char *keys[1] = { key };
    size_t lens[1] = { strlen(key) }, n, lines;
    memcached_result_st res;
    memcached_return_t rc;
    ientry *e;

    if (memcached_mget(m->mc, keys, lens, 1) != MEMCACHED_SUCCESS ||
        !memcached_result_create(m->mc, &res))
        return;
    while (memcached_fetch_result(m->mc, &res, &rc)) {
        const char *v = memcached_result_value(&res);
        size_t len = memcached_result_length(&res);
        if (idx_parse(v, len, &e, &n, &lines) == 0) {
            if (lines > n)
                idx_compact(m, key, e, n, memcached_result_cas(&res));
            free(e);
        }
    }
    memcached_result_free(&res);
}

/* A new stamp for shard i, after every change to it: readers fetch a shard
 * only when its stamp differs from the one they saw when they last read
 * it (an idle index costs a sweep a few tiny gets, not its whole size).
 * Set after the append, so a reader that sees the new stamp reads the new
 * entry; one that read the stamp just before it reads the shard again at
 * its next sweep. */
static memcached_return_t idx_stamp(mc_sg *m, size_t i)
{
    static uint64_t counter;
    char v[24];
    uint64_t stamp = ((uint64_t)dv_wall_ms() << 20) ^ ((uint64_t)getpid() << 4) ^ ++counter;
    int n = snprintf(v, sizeof v, "%" PRIx64, stamp ? stamp : 1);

    return memcached_set(m->mc, m->idx_vname[i], strlen(m->idx_vname[i]), v, (size_t)n, 0, 0);
}

/* Append "<op><host>\n" to host's shard on server s, creating the shard if
 * it does not exist.  memcached answers an append that would pass its item
 * size limit (-I) with NOT_STORED, as it does for a missing key: when the
 * add that follows finds the key there, the shard is compacted and the
 * append tried again.  A shard that cannot shrink enough: E2BIG. */
memcached_return_t mc_idx_put(mc_sg *m, const char *group, const char *host, uint32_t s,
                              char op)
{
    char entry[DV_NAME_MAX + 3];
    int n = snprintf(entry, sizeof entry, "%c%s\n", op, host);
    drover_error err;
    const char *key;
    memcached_return_t rc = MEMCACHED_NOTSTORED;
    bool compacted = false;

    if (mc_idx_names(m, group, &err) < 0)
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    key = m->idx_name[mc_idx_slot(m, host, s)];
    for (int attempt = 0; attempt < 4; attempt++) {
        rc = memcached_append(m->mc, key, strlen(key), entry, (size_t)n, 0, 0);
        if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_NOTFOUND)
            rc = memcached_add(m->mc, key, strlen(key), entry, (size_t)n, 0, 0);
        if (rc == MEMCACHED_SUCCESS)
            return idx_stamp(m, mc_idx_slot(m, host, s));
        if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS && rc != MEMCACHED_E2BIG)
            return rc;
        /* there but refused: created meanwhile by another writer, or full */
        if (attempt > 0 && !compacted) {
            idx_compact_now(m, key);
            compacted = true;
        }
    }
    return MEMCACHED_E2BIG;
}

/* What one changed shard says, merged into the lists to apply. */
typedef struct idx_delta {
    char **add, **del;
    size_t n_add, n_del, cap_add, cap_del;
} idx_delta;

static int delta_push(char ***v, size_t *n, size_t *cap, const char *h, size_t len)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **bigger = realloc(*v, c * sizeof *bigger);
        if (!bigger)
            return -1;
        *v = bigger;
        *cap = c;
    }
    if (!((*v)[*n] = strndup(h, len)))
        return -1;
    (*n)++;
    return 0;
}

static void delta_free(idx_delta *d)
{
    dv_strv_free(d->add, d->n_add);
    dv_strv_free(d->del, d->n_del);
}

/* The stamp of every shard of the current group into stamp[] (0: none or
 * unreadable).  -1: out of memory. */
static int idx_stamps(mc_sg *m, uint64_t *stamp)
{
    size_t total = (size_t)m->n_srv * IDX_SHARDS;
    const char **keys = malloc(total * sizeof *keys);
    size_t *lens = malloc(total * sizeof *lens);
    memcached_result_st res;
    memcached_return_t rc;
    int ret = -1;

    if (!keys || !lens)
        goto out;
    for (size_t i = 0; i < total; i++) {
        keys[i] = m->idx_vname[i];
        lens[i] = strlen(keys[i]);
    }
    if (memcached_mget(m->mc, keys, lens, total) != MEMCACHED_SUCCESS)
        dv_debug("reading index stamps: %s", memcached_last_error_message(m->mc));
    if (!memcached_result_create(m->mc, &res))
        goto out;
    while (memcached_fetch_result(m->mc, &res, &rc)) {
        const char *key = memcached_result_key_value(&res);
        size_t klen = memcached_result_key_length(&res), vlen = memcached_result_length(&res);
        char v[24];
        for (size_t i = 0; i < total; i++)
            if (lens[i] == klen && memcmp(keys[i], key, klen) == 0 && vlen < sizeof v) {
                memcpy(v, memcached_result_value(&res), vlen);
                v[vlen] = '\0';
                stamp[i] = strtoull(v, NULL, 16);
            }
    }
    memcached_result_free(&res);
    ret = 0;
out:
    free(keys);
    free(lens);
    return ret;
}

/* Read the group's index (every shard, or the one at slot only) and make
 * the state database agree with it: hosts it lists are added, hosts it
 * says left are removed.  Shards whose CAS has not changed since this
 * handle last merged them are skipped.  A shard that cannot be read or
 * does not exist changes nothing: after a restart the index is rebuilt by
 * the agents' heartbeats, and until then the database still knows every
 * member.  Fails only when the database does. */
/* One idx_sync: the shards asked for, what they said, which were merged. */
typedef struct idx_read {
    const char **keys;
    size_t *lens, *which, nk;       /* which[j]: the shard of keys[j] */
    size_t *done, n_done;           /* shards merged, with their CAS */
    uint64_t *done_cas, *stamp;
    idx_delta d;
} idx_read;

static void idx_read_free(idx_read *r)
{
    delta_free(&r->d);
    free(r->keys);
    free(r->lens);
    free(r->which);
    free(r->done);
    free(r->done_cas);
    free(r->stamp);
}

/* The shards to read: every one whose stamp changed, or the one at slot. */
static int idx_pick(mc_sg *m, size_t slot, idx_read *r)
{
    size_t total = (size_t)m->n_srv * IDX_SHARDS;

    r->keys = malloc(total * sizeof *r->keys);
    r->lens = malloc(total * sizeof *r->lens);
    r->which = malloc(total * sizeof *r->which);
    r->done = malloc(total * sizeof *r->done);
    r->done_cas = malloc(total * sizeof *r->done_cas);
    r->stamp = calloc(total, sizeof *r->stamp);
    if (!r->keys || !r->lens || !r->which || !r->done || !r->done_cas || !r->stamp)
        return -1;
    if (slot == SIZE_MAX && idx_stamps(m, r->stamp) < 0)
        return -1;
    for (size_t i = 0; i < total; i++)
        if ((slot == SIZE_MAX && (!r->stamp[i] || r->stamp[i] != m->idx_seen[i])) || i == slot) {
            r->keys[r->nk] = m->idx_name[i];
            r->lens[r->nk] = strlen(r->keys[r->nk]);
            r->which[r->nk++] = i;
        }
    return 0;
}

/* One shard's value into the delta (compacted when bloated).  -1: ENOMEM. */
static int idx_merge(mc_sg *m, idx_read *r, size_t j, const char *v, size_t len, uint64_t cas)
{
    size_t n, lines;
    ientry *e;

    if (idx_parse(v, len, &e, &n, &lines) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        idx_delta *d = &r->d;
        int rc = e[i].op == '+' ? delta_push(&d->add, &d->n_add, &d->cap_add, e[i].host, e[i].len)
                                : delta_push(&d->del, &d->n_del, &d->cap_del, e[i].host, e[i].len);
        if (rc < 0) {
            free(e);
            return -1;
        }
    }
    if (idx_bloated(len, lines, n))
        idx_compact(m, m->idx_name[r->which[j]], e, n, cas);
    free(e);
    r->done[r->n_done] = r->which[j];
    r->done_cas[r->n_done++] = cas;
    return 0;
}

/* Fetch the picked shards; merge those whose CAS changed.  -1: ENOMEM. */
static int idx_fetch(mc_sg *m, const char *group, idx_read *r)
{
    memcached_result_st res;
    memcached_return_t rc;
    int ret = 0;

    if (memcached_mget(m->mc, r->keys, r->lens, r->nk) != MEMCACHED_SUCCESS)
        dv_debug("reading the index of %s: %s", group, memcached_last_error_message(m->mc));
    if (!memcached_result_create(m->mc, &res))
        return -1;
    while (ret == 0 && memcached_fetch_result(m->mc, &res, &rc)) {
        const char *key = memcached_result_key_value(&res);
        size_t klen = memcached_result_key_length(&res), j;
        uint64_t cas = memcached_result_cas(&res);

        for (j = 0; j < r->nk && !(r->lens[j] == klen && memcmp(r->keys[j], key, klen) == 0); j++)
            ;
        if (j == r->nk || (cas && cas == m->idx_cas[r->which[j]]))
            continue;
        ret = idx_merge(m, r, j, memcached_result_value(&res), memcached_result_length(&res), cas);
    }
    memcached_result_free(&res);
    return ret;
}

/* Read the group's index (every shard, or the one at slot only) and make
 * the state database agree with it: hosts it lists are added, hosts it
 * says left are removed.  Shards whose CAS has not changed since this
 * handle last merged them are skipped.  A shard that cannot be read or
 * does not exist changes nothing: after a restart the index is rebuilt by
 * the agents' heartbeats, and until then the database still knows every
 * member.  Fails only when the database does. */
int mc_idx_sync(mc_sg *m, const char *group, size_t slot, drover_error *err)
{
    idx_read r = { 0 };
    int ret = -1;

    if (mc_idx_names(m, group, err) < 0)
        return -1;
    if (idx_pick(m, slot, &r) < 0) {
        mc_nomem(err);
        goto out;
    }
    if (r.nk && idx_fetch(m, group, &r) < 0) {
        mc_nomem(err);
        goto out;
    }
    if (r.nk && dv_statedb_member_sync(m->db, group, (const char *const *)r.d.add, r.d.n_add,
                                       (const char *const *)r.d.del, r.d.n_del, err) < 0)
        goto out;
    for (size_t i = 0; i < r.n_done; i++) {
        m->idx_cas[r.done[i]] = r.done_cas[i];
        if (slot == SIZE_MAX)
            m->idx_seen[r.done[i]] = r.stamp[r.done[i]];
    }
    ret = 0;
out:
    idx_read_free(&r);
    return ret;
}

/* ---------------------------------------------------------------- members */

static int not_member(mc_sg *m, const char *group, const char *host, drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_MC,
                  "host \"%s\" is not a member of group \"%s\" (the mc driver keeps its members in "
                  "the state database %s)", host, group, m->cfg->state.path);
}

/* A member this process has not heard of may have joined elsewhere: read
 * its index shard once before saying it is not a member. */
int mc_need_member(mc_sg *m, const char *group, const char *host, drover_error *err)
{
    mc_place at;
    bool yes;

    if (dv_statedb_member_has(m->db, group, host, &yes, err) < 0)
        return -1;
    if (yes)
        return 0;
    mc_place_of(m, group, host, &at);
    if (mc_idx_sync(m, group, mc_idx_slot(m, host, at.s), err) < 0 ||
        dv_statedb_member_has(m->db, group, host, &yes, err) < 0)
        return -1;
    return yes ? 0 : not_member(m, group, host, err);
}
