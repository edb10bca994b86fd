/* zk_list.c - listings, get and is_up: nodes merged with the state db. */
#include "drivers/zk/zk.h"

/* ---------------------------------------------------------------- members known to the state db */

char *zk_key_of(const char *group, const char *host)
{
    return zk_printf("%s/%s", group, host);
}

/* Remember that group/host is a member (its node was seen or made). */
int zk_learn(zk_sg *z, const char *group, const char *host, drover_error *err)
{
    char *key = zk_key_of(group, host);
    int rc = 0;

    if (!key)
        return zk_nomem(err);
    if (!dv_map_get(&z->known, key)) {
        rc = dv_statedb_member_add(z->db, group, host, err);
        if (rc == 0 && dv_map_put(&z->known, key, z) < 0)
            rc = zk_nomem(err);
    }
    free(key);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* key in the sorted v[n] (v may be NULL when n is 0). */
char **zk_find_str(const char *key, char **v, size_t n)
{
    return n ? bsearch(&key, v, n, sizeof *v, cmp_str) : NULL;
}

void zk_sort_strs(char **v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
}

/* Was group/host ever a member (seen, joined, or given admin state)? */
int zk_is_known(zk_sg *z, const char *group, const char *host, bool *known, drover_error *err)
{
    char *key = zk_key_of(group, host);
    dv_admin a;

    if (!key)
        return zk_nomem(err);
    *known = dv_map_get(&z->known, key) != NULL;
    free(key);
    if (*known)
        return 0;
    if (dv_statedb_member_has(z->db, group, host, known, err) < 0)
        return -1;
    if (*known)
        return 0;
    if (sg_admin_get(&z->admin, group, host, &a, err) < 0)
        return -1;
    *known = a.disabled || a.forced_down;
    dv_admin_clear(&a);
    return 0;
}

/* ---------------------------------------------------------------- members */

/* The report of a node's data, taken over from f: its JSON part moved to
 * the front of the buffer (a summary before it is dropped). */
static char *take_report(zk_fetch *f, size_t *len)
{
    const char *sum, *json;
    size_t sum_len, json_len;
    char *t = f->data;

    f->data = NULL;
    if (!zk_value_split(t, (size_t)f->len, &sum, &sum_len, &json, &json_len)) {
        *len = (size_t)f->len;    /* refused: kept as stored, and decodes as nothing */
        return t;
    }
    if (json != t)
        memmove(t, json, json_len);
    t[json_len] = '\0';
    *len = json_len;
    return t;
}

/* Fill m for host from what was read (f, NULL when no node) and its admin
 * state.  A live node's member was seen now: its session is alive, which
 * the ensemble checks by the agent's pings; when its last report was made
 * is the report's generated_ms. */
static int fill_member(zk_sg *z, drover_member *m, const char *group, const char *host,
                       int64_t now, drover_liveness state, const dv_admin *a, zk_fetch *f,
                       drover_error *err)
{
    memset(m, 0, sizeof *m);
    m->state = state;
    if (!(m->group = strdup(group)) || !(m->host = strdup(host)))
        goto oom;
    if (sg_admin_apply(m, a, err) < 0) {
        drover_member_clear(m);
        return -1;
    }
    if (f && f->rc == ZOK) {
        m->last_seen_ms = now;
        if (f->data) {
            size_t len;
            m->report_json = take_report(f, &len);
            if (len == 0) {
                free(m->report_json);
                m->report_json = NULL;
            } else if (dv_report_decode(z->dec, m->report_json, len, &m->report, NULL) < 0) {
                m->report = NULL;
            }
        }
    }
    return 0;
oom:
    drover_member_clear(m);
    return zk_nomem(err);
}

drover_liveness zk_state_of(const zk_fetch *f, const dv_admin *a)
{
    if (!f)
        return DROVER_DOWN;
    if (f->rc == ZOK)
        return a && a->forced_down ? DROVER_DOWN : DROVER_UP;
    if (f->rc == ZNONODE)
        return DROVER_DOWN;
    return DROVER_UNKNOWN;
}

/* Sorted, unique union of three host lists. */
static char **union_hosts(char **a, size_t na, char **b, size_t nb, const dv_admin *c, size_t nc,
                          size_t *n)
{
    char **v = malloc((na + nb + nc + 1) * sizeof *v);
    size_t k = 0, u = 0;

    if (!v)
        return NULL;
    for (size_t i = 0; i < na; i++)
        v[k++] = a[i];
    for (size_t i = 0; i < nb; i++)
        v[k++] = b[i];
    for (size_t i = 0; i < nc; i++)
        v[k++] = c[i].host;
    zk_sort_strs(v, k);
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *n = u;
    return v;
}

void zk_listing_free(zk_listing *l)
{
    if (l->fetch)
        for (int i = 0; i < l->kids.count; i++)
            free(l->fetch[i].data);
    free(l->fetch);
    if (l->paths)
        for (int i = 0; i < l->kids.count; i++)
            free(l->paths[i]);
    free(l->paths);
    deallocate_String_vector(&l->kids);
    dv_strv_free(l->known, l->n_known);
    dv_admins_free(l->admin, l->n_admin);
}

/* Children of the group, the state db's view, and (reports) every child's
 * data.  Without reports the children list is all a sweep needs: a node
 * exists exactly while its member's session lives. */
int zk_list_group(zk_sg *z, const char *group, bool reports, dv_arena *arena, bool instances,
                  zk_listing *l, drover_error *err)
{
    char *gpath;
    zk_op op = { .path = NULL };
    int zrc;

    if (zk_group_check(group, err) < 0)
        return -1;
    if (!(gpath = zk_group_path(z, group)))
        return zk_nomem(err);
    op.path = gpath;
    if (dv_statedb_member_list(z->db, group, &l->known, &l->n_known, err) < 0) {
        free(gpath);
        return -1;
    }
    l->reachable = zk_run(z, zk_call_children, &op, &zrc, &l->why) == 0;
    if (l->reachable && zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "list", gpath, err);
        free(gpath);
        return -1;
    }
    free(gpath);
    /* the listing owns the children from here, whatever fails next */
    l->kids = op.kids;
    zk_sort_strs(l->kids.data, (size_t)l->kids.count);
    /* an outage with no member known here answers at once (UNREACHABLE);
     * otherwise the admin state is read, and a store that cannot be asked
     * fails the listing: nothing is listed without its admin state */
    if (!l->reachable && !l->n_known)
        return 0;
    if (sg_admin_all(&z->admin, group, &l->admin, &l->n_admin, err) < 0)
        return -1;
    if (!l->reachable)
        return 0;
    l->fetch = calloc((size_t)l->kids.count + 1, sizeof *l->fetch);
    l->paths = calloc((size_t)l->kids.count + 1, sizeof *l->paths);
    if (!l->fetch || !l->paths)
        return zk_nomem(err);
    for (int i = 0; i < l->kids.count; i++) {
        if (!(l->paths[i] = zk_member_path(z, group, l->kids.data[i])))
            return zk_nomem(err);
        l->fetch[i].path = l->paths[i];
        l->fetch[i].arena = arena;
        l->fetch[i].instances = instances;
        if (!zk_find_str(l->kids.data[i], l->known, l->n_known) &&
            zk_learn(z, group, l->kids.data[i], err) < 0)
            return -1;
    }
    if (!reports) {
        for (int i = 0; i < l->kids.count; i++)
            l->fetch[i].rc = ZOK;
        return 0;
    }
    if (arena)
        zk_read_signs(z, group, l, arena, instances);
    if (zk_fetch_all(z, l->fetch, (size_t)l->kids.count, &l->why) < 0)
        l->reachable = false;
    return 0;
}

/* Every host the listing knows: nodes, state db and admin state. */
char **zk_listing_hosts(const zk_listing *l, size_t *n)
{
    return union_hosts(l->kids.data, (size_t)l->kids.count, l->known, l->n_known, l->admin,
                       l->n_admin, n);
}

/* What was read of host's node; NULL when it has none (or ZooKeeper was
 * not reached). */
zk_fetch *zk_listing_find(const zk_listing *l, const char *host)
{
    char **kid = l->reachable ? zk_find_str(host, l->kids.data, (size_t)l->kids.count) : NULL;

    return kid ? &l->fetch[kid - l->kids.data] : NULL;
}

static int list_members(dv_sg *sg, const char *group, bool reports, drover_member **members,
                        size_t *n, drover_error *err)
{
    zk_sg *z = zk_me(sg);
    zk_listing l = { 0 };
    char **hosts = NULL;
    size_t nh = 0, k = 0;
    drover_member *out = NULL;
    int64_t now;
    int rc = -1;

    if (zk_list_group(z, group, reports, NULL, false, &l, err) < 0)
        goto done;
    now = dv_clock_now(&z->base.clock);
    if (!l.reachable && l.n_known + l.n_admin == 0) {
        dv_err_copy(err, &l.why);
        goto done;
    }
    if (!(hosts = zk_listing_hosts(&l, &nh)) ||
        !(out = calloc(nh + 1, sizeof *out))) {
        zk_nomem(err);
        goto done;
    }
    for (k = 0; k < nh; k++) {
        const dv_admin *a = sg_admin_find(l.admin, l.n_admin, hosts[k]);
        zk_fetch *f = zk_listing_find(&l, hosts[k]);
        drover_liveness st = l.reachable ? zk_state_of(f, a) : DROVER_UNKNOWN;

        if (fill_member(z, &out[k], group, hosts[k], now, st, a, f, err) < 0)
            goto done;
    }
    *members = out;
    *n = nh;
    out = NULL;
    rc = 0;
done:
    drover_members_free(out, k);
    free(hosts);
    zk_listing_free(&l);
    return rc;
}

int zk_op_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                  drover_error *err)
{
    return list_members(sg, group, true, members, n, err);
}

/* A liveness sweep: one getChildren, no report moved. */
int zk_op_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                     drover_error *err)
{
    return list_members(sg, group, false, members, n, err);
}

int zk_op_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
              drover_error *err)
{
    zk_sg *z = zk_me(sg);
    zk_fetch f = { 0 };
    dv_admin a = { 0 };
    bool known = true;
    int rc = -1;

    if (!(f.path = zk_member_path(z, group, host)))
        return zk_nomem(err);
    if (zk_fetch_all(z, &f, 1, err) < 0)
        goto done;
    if (f.rc != ZOK && f.rc != ZNONODE) {
        zk_fail(z, f.rc, "read", f.path, err);
        goto done;
    }
    if ((f.rc == ZOK ? zk_learn(z, group, host, err) : zk_is_known(z, group, host, &known, err)) < 0 ||
        sg_admin_get(&z->admin, group, host, &a, err) < 0)
        goto done;
    if (!known) {
        dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
               "host \"%s\" is not a member of group \"%s\"", host, group);
        goto done;
    }
    rc = fill_member(z, member, group, host, dv_clock_now(&z->base.clock), zk_state_of(&f, &a), &a, &f,
                     err);
done:
    free((char *)f.path);
    free(f.data);
    dv_admin_clear(&a);
    return rc;
}

int zk_op_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
                drover_error *err)
{
    zk_sg *z = zk_me(sg);
    zk_op op = { .path = zk_member_path(z, group, host) };
    dv_admin a = { 0 };
    bool known = true;
    int zrc, rc = -1;

    if (!op.path)
        return zk_nomem(err);
    if (zk_run(z, zk_call_exists, &op, &zrc, err) < 0)
        goto done;
    if (zrc != ZOK && zrc != ZNONODE) {
        zk_fail(z, zrc, "look up", op.path, err);
        goto done;
    }
    if (zrc == ZOK) {
        if (zk_learn(z, group, host, err) < 0 || sg_admin_get(&z->admin, group, host, &a, err) < 0)
            goto done;
        *state = a.forced_down ? DROVER_DOWN : DROVER_UP;
    } else {
        if (zk_is_known(z, group, host, &known, err) < 0)
            goto done;
        if (!known) {
            dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                   "host \"%s\" is not a member of group \"%s\"", host, group);
            goto done;
        }
        *state = DROVER_DOWN;
    }
    rc = 0;
done:
    free((char *)op.path);
    dv_admin_clear(&a);
    return rc;
}

