/* zk_nodes.c - nodes, ACLs and taking over a node an earlier session left. */
#include "drivers/zk/zk.h"

/* ---------------------------------------------------------------- nodes */

/* With auth on, a node nobody restricted (made before auth was configured)
 * is restricted now: nobody without the credentials may add or remove
 * members below it. */
static int restrict_acl(zk_sg *z, const char *path, drover_error *err)
{
    zk_op op = { .path = path };
    bool open = false;
    int zrc;

    if (zk_run(z, zk_call_get_acl, &op, &zrc, err) < 0)
        return -1;
    if (zrc != ZOK)
        return zk_fail(z, zrc, "read the ACL of", path, err);
    for (int i = 0; i < op.acl.count; i++) {
        const struct ACL *a = &op.acl.data[i];
        if (strcmp(a->id.scheme, "world") == 0 && (a->perms & ~ZOO_PERM_READ))
            open = true;
    }
    op.version = op.stat.aversion;
    deallocate_ACL_vector(&op.acl);
    if (!open)
        return 0;
    dv_info("zk: %s was writable by anyone; restricting it to digest user \"%s\"", path, z->zc.user);
    if (zk_run(z, zk_call_set_acl, &op, &zrc, err) < 0)
        return -1;
    if (zrc != ZOK && zrc != ZBADVERSION)
        return zk_fail(z, zrc, "restrict the ACL of", path, err);
    return 0;
}

/* Make path (a persistent node) unless it exists.  guard: with auth on, an
 * existing node must not let strangers add or remove children (the prefix
 * and group nodes; a shared parent above the prefix is left alone). */
int zk_make_persistent(zk_sg *z, const char *path, bool guard, drover_error *err)
{
    zk_op op = { .path = path, .flags = 0 };
    int zrc;

    if (zk_run(z, zk_call_create, &op, &zrc, err) < 0)
        return -1;
    if (zrc == ZOK)
        return 0;
    if (zrc != ZNODEEXISTS)
        return zk_fail(z, zrc, "create", path, err);
    return z->zc.auth && guard ? restrict_acl(z, path, err) : 0;
}

typedef struct prefix_walk {
    zk_sg *z;
    drover_error *err;
} prefix_walk;

static int make_component(void *arg, const char *p, bool last)
{
    prefix_walk *w = arg;
    return zk_make_persistent(w->z, p, last, w->err);
}

/* The prefix, component by component (nothing for the root). */
int zk_make_prefix(zk_sg *z, drover_error *err)
{
    prefix_walk w = { z, err };

    if (!z->prefix[0])
        return 0;
    return dv_zkc_each_prefix(z->prefix, make_component, &w, err);
}

char *zk_group_path(const zk_sg *z, const char *group)
{
    return zk_printf("%s/%s", z->prefix, group);
}

char *zk_member_path(const zk_sg *z, const char *group, const char *host)
{
    return zk_printf("%s/%s/%s", z->prefix, group, host);
}

/* The names the driver keeps for itself beside the groups. */
int zk_group_check(const char *group, drover_error *err)
{
    if (strcmp(group, ".signs") == 0 || strcmp(group, ".state") == 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_ZK,
                      "group name \"%s\" is reserved by the zk driver (it keeps the members' "
                      "signs in <prefix>/.signs and the state store in <prefix>/.state): "
                      "choose another", group);
    return 0;
}

int zk_ensure_group(zk_sg *z, const char *group, drover_error *err)
{
    char *path;
    int rc;

    if (zk_group_check(group, err) < 0)
        return -1;
    if (!(path = zk_group_path(z, group)))
        return zk_nomem(err);
    if (dv_map_get(&z->ready, path)) {
        free(path);
        return 0;
    }
    rc = zk_make_prefix(z, err);
    if (rc == 0)
        rc = zk_make_persistent(z, path, true, err);
    if (rc == 0 && dv_map_put(&z->ready, path, z) < 0)
        rc = zk_nomem(err);
    free(path);
    return rc;
}

/* The group node of a member path was deleted under us: make it again. */
int zk_remake_group(zk_sg *z, const char *member, drover_error *err)
{
    const char *slash = strrchr(member, '/');
    char *gpath = strndup(member, (size_t)(slash - member));
    int rc;

    if (!gpath)
        return zk_nomem(err);
    dv_map_del(&z->ready, gpath);
    rc = zk_make_prefix(z, err) == 0 ? zk_make_persistent(z, gpath, true, err) : -1;
    free(gpath);
    return rc;
}

/* The data of a node another session left, so a take-over keeps it. */
static int keep_old_data(zk_sg *z, zk_member *m, const struct Stat *st)
{
    char *buf = malloc((size_t)st->dataLength + 1);
    int len = st->dataLength;

    if (!buf)
        return -1;
    if (len <= 0 || zoo_get(z->zc.zh, m->path, 0, buf, &len, NULL) != ZOK || len <= 0) {
        free(buf);
        return 0;
    }
    buf[len] = '\0';
    m->data = buf;
    m->len = len;
    return 0;
}

/* Make the member's ephemeral node exist, belong to our session and hold
 * m's report; with no report known yet, whatever it holds is kept.  The
 * usual cases take one round trip: a new member is created, a known one
 * is written. */
static int put_node(zk_sg *z, zk_member *m, drover_error *err)
{
    zk_op op = { .path = m->path, .flags = ZOO_EPHEMERAL };
    bool exists = m->gen == z->zc.gen;    /* made by this session before */
    int zrc;

    for (int tries = 0; tries < 6; tries++) {
        op.data = m->data;
        op.len = m->len;
        if (!exists) {
            if (zk_run(z, zk_call_create, &op, &zrc, err) < 0)
                return -1;
            if (zrc == ZOK) {
                m->gen = z->zc.gen;
                return 0;
            }
            if (zrc == ZNONODE) {
                if (zk_remake_group(z, m->path, err) < 0)
                    return -1;
                continue;
            }
            if (zrc != ZNODEEXISTS)
                return zk_fail(z, zrc, "create", m->path, err);
        }
        /* the node exists: whose is it? */
        if (zk_run(z, m->data ? zk_call_set : zk_call_exists, &op, &zrc, err) < 0)
            return -1;
        if (zrc == ZNONODE) {
            exists = false;
            continue;
        }
        if (zrc != ZOK)
            return zk_fail(z, zrc, "write", m->path, err);
        if (op.stat.ephemeralOwner == zk_my_session(z)) {
            m->gen = z->zc.gen;
            return 0;
        }
        /* left by an earlier session of this member (a restarted agent),
         * or held by a second agent wrongly using the same name */
        dv_warn("zk: %s belonged to session 0x%llx; taking it over", m->path,
                (unsigned long long)op.stat.ephemeralOwner);
        if (!m->data && keep_old_data(z, m, &op.stat) < 0)
            return zk_nomem(err);
        op.data = m->data;
        op.len = m->len;
        op.version = op.stat.version;
        if (zk_run(z, zk_call_take_over, &op, &zrc, err) < 0)
            return -1;
        if (zrc == ZOK) {
            m->gen = z->zc.gen;
            return 0;
        }
        if (zrc == ZNOAUTH)
            return zk_fail(z, zrc, "take over", m->path, err);
        exists = zrc != ZNONODE;   /* it changed meanwhile: look again */
    }
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                  "%s keeps changing under us: is a second agent using this host name?", m->path);
}

/* A new report of a member whose node and sign our session holds: both in
 * one request.  1 when done, 0 when the long way must be taken. */
static int put_signed(zk_sg *z, zk_member *m, drover_error *err)
{
    char *want, *old;
    zk_op op = { .path = m->path, .data = m->data, .len = m->len };
    int zrc;

    if (m->gen != z->zc.gen || !m->data || !m->sign_on || m->sign_gen != z->zc.gen)
        return 0;
    if (!(want = zk_sign_wanted(m)) || strcmp(want, m->sign_on) == 0) {
        free(want);
        return 0;
    }
    /* a new session met inside zk_run remakes the signs: op keeps copies */
    if (!(old = strdup(m->sign_on))) {
        free(want);
        return zk_nomem(err);
    }
    op.sign_old = old;
    op.sign_new = want;
    if (zk_run(z, zk_call_set_signed, &op, &zrc, err) < 0) {
        free(want);
        free(old);
        return -1;
    }
    free(old);
    if (zrc != ZOK || m->gen != z->zc.gen) {
        free(want);
        return 0;
    }
    free(m->sign_on);
    m->sign_on = want;
    return 1;
}

int zk_put_member(zk_sg *z, zk_member *m, drover_error *err)
{
    int rc = put_signed(z, m, err);

    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (put_node(z, m, err) < 0)
        return -1;
    zk_sign_sync(z, m);
    return 0;
}

/* After a new session: every node this handle joined, with its last report. */
int zk_remake_joined(zk_sg *z, drover_error *err)
{
    size_t made = 0;

    for (size_t i = 0; i < z->joined.cap; i++) {
        zk_member *m = z->joined.e[i].key ? z->joined.e[i].val : NULL;
        drover_error why;

        if (!m || m->withdrawn)
            continue;
        if (zk_put_member(z, m, &why) < 0) {
            /* an outage stops us; any other refusal is this member's own,
             * told again at its next heartbeat */
            if (why.code == DROVER_ERR_UNREACHABLE) {
                dv_err_copy(err, &why);
                return -1;
            }
            dv_warn("zk: cannot make %s again: %s", m->path, why.message);
            continue;
        }
        made++;
    }
    if (made)
        dv_info("zk: session 0x%llx: %zu member node(s) made again",
                (unsigned long long)zk_my_session(z), made);
    return 0;
}

