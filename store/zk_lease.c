/* zk_lease.c - leader leases of the zk state store.
 *
 * A contender makes an EPHEMERAL_SEQUENTIAL candidate node under
 * R/leases/<name>; the lowest candidate holds the lease.  It takes office
 * with one zoo_multi: a check that its own node still exists (its session
 * lives) and a set of R/epochs/<name> at the version it read, so the
 * epoch (that node's version) grows by exactly one per new holder and two
 * contenders cannot both take the same epoch.  A contender that is not the
 * lowest removes its node at once (acquire does not queue), so a
 * contender that gave up never blocks the next one.
 *
 * The lease lasts as long as the holder's session: ttl_ms is not used
 * (servicegroup.zk.session_timeout_ms is the lease time).  A holder
 * stopped past its session timeout loses its node with its session; the
 * next contender takes a higher epoch; the old holder's renew fails with
 * CONFLICT and its fenced writes are refused by the epoch check. */
#include "store/zk_int.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zk_tenure *tenure_find(zk_store *z, const char *name)
{
    for (size_t i = 0; i < z->n_ten; i++)
        if (strcmp(z->ten[i].name, name) == 0)
            return &z->ten[i];
    return NULL;
}

static void tenure_drop(zk_store *z, zk_tenure *t)
{
    free(t->name);
    free(t->node);
    *t = z->ten[--z->n_ten];
}

void zk_tenures_free(zk_store *z)
{
    while (z->n_ten)
        tenure_drop(z, &z->ten[0]);
    free(z->ten);
    z->ten = NULL;
}

static zk_tenure *tenure_add(zk_store *z, const char *name, const char *node)
{
    zk_tenure *nv = realloc(z->ten, (z->n_ten + 1) * sizeof *nv), *t;

    if (!nv)
        return NULL;
    z->ten = nv;
    t = &z->ten[z->n_ten];
    if (!(t->name = strdup(name)) || !(t->node = strdup(node))) {
        free(t->name);
        return NULL;
    }
    t->gen = z->zs.gen;
    z->n_ten++;
    return t;
}

typedef struct epoch_info {
    bool found;
    int version;
    char holder[256];
    char node[1024];
} epoch_info;

static int epoch_read(zk_store *z, const char *name, epoch_info *e, drover_error *err)
{
    char *path = zk_path(z, "epochs", name, NULL), *data = NULL;
    struct Stat st = { 0 };
    int zrc;

    memset(e, 0, sizeof *e);
    if (!path)
        return zk_nomem(err);
    zrc = zk_read(z, path, &data, &st, err);
    if (zrc == ZOK) {
        json_object *o = json_tokener_parse(data), *v;
        e->found = true;
        e->version = st.version;
        if (o && json_object_object_get_ex(o, "holder", &v))
            snprintf(e->holder, sizeof e->holder, "%s", json_object_get_string(v));
        if (o && json_object_object_get_ex(o, "node", &v))
            snprintf(e->node, sizeof e->node, "%s", json_object_get_string(v));
        json_object_put(o);
    }
    free(data);
    free(path);
    return zrc == ZOK || zrc == ZNONODE ? 0 : zs_fail(&z->zs, zrc, "read", "a lease epoch", err);
}

/* Whether the candidate node path exists (its session lives). */
static int node_alive(zk_store *z, const char *node, bool *alive, drover_error *err)
{
    struct Stat st;
    int zrc;

    *alive = false;
    if (!*node)
        return 0;
    ZS_RUN(&z->zs, zrc, zoo_exists(z->zs.zh, node, 0, &st), err);
    if (zrc == ZOK)
        *alive = true;
    return zrc == ZOK || zrc == ZNONODE ? 0 : zs_fail(&z->zs, zrc, "read", node, err);
}

static int64_t seq_of(const char *name)
{
    const char *dash = strrchr(name, '-');
    return dash ? strtoll(dash + 1, NULL, 10) : INT64_MAX;
}

/* The full path of the lowest candidate ("" when none). */
static int lowest(zk_store *z, const char *lpath, char *out, size_t size, drover_error *err)
{
    struct String_vector kids;
    int zrc = zk_children(z, lpath, &kids, NULL, err), best = -1;

    out[0] = '\0';
    if (zrc != ZOK && zrc != ZNONODE)
        return zs_fail(&z->zs, zrc, "list", lpath, err);
    for (int i = 0; i < kids.count; i++)
        if (best < 0 || seq_of(kids.data[i]) < seq_of(kids.data[best]))
            best = i;
    if (best >= 0)
        snprintf(out, size, "%s/%s", lpath, kids.data[best]);
    deallocate_String_vector(&kids);
    return 0;
}

/* The lease's nodes exist; our candidate node exists (made if need be). */
static zk_tenure *candidate(zk_store *z, const char *name, const char *holder, drover_error *err)
{
    char *lpath = zk_path(z, "leases", name, NULL), *epath = zk_path(z, "epochs", name, NULL);
    char *prefix = NULL, made[1024];
    zk_tenure *t = NULL;
    int zrc;

    if (!lpath || !epath || asprintf(&prefix, "%s/n-", lpath) < 0) {
        zk_nomem(err);
        goto out;
    }
    if (zs_ready(&z->zs, err) < 0)
        goto out;
    if ((t = tenure_find(z, name)) && t->gen != z->zs.gen)
        tenure_drop(z, t);   /* made by a session that expired: gone */
    if ((t = tenure_find(z, name)))
        goto out;
    if (zk_make_path(z, lpath, err) < 0)
        goto out;
    *strrchr(epath, '/') = '\0';
    zrc = zk_make_path(z, epath, err);
    epath[strlen(epath)] = '/';
    if (zrc < 0)
        goto out;
    ZS_RUN(&z->zs, zrc, zoo_create(z->zs.zh, epath, "{}", 2, z->zs.acl, 0, NULL, 0), err);
    if (zrc != ZOK && zrc != ZNODEEXISTS) {
        zs_fail(&z->zs, zrc, "create", epath, err);
        goto out;
    }
    ZS_RUN(&z->zs, zrc, zoo_create(z->zs.zh, prefix, holder, (int)strlen(holder), z->zs.acl,
                                   ZOO_EPHEMERAL | ZOO_SEQUENCE, made, sizeof made), err);
    if (zrc != ZOK)
        zs_fail(&z->zs, zrc, "create a candidate under", lpath, err);
    else if (!(t = tenure_add(z, name, made)))
        zk_nomem(err);
out:
    free(prefix);
    free(lpath);
    free(epath);
    return t;
}

static void withdraw(zk_store *z, zk_tenure *t)
{
    zoo_delete(z->zs.zh, t->node, -1);   /* best effort: it dies with the session anyway */
    tenure_drop(z, t);
}

/* The holder's name: the data of its candidate node. */
static void holder_of(zk_store *z, const char *node, char *out, size_t size)
{
    int len = (int)size - 1;

    out[0] = '\0';
    if (*node && zoo_get(z->zs.zh, node, 0, out, &len, NULL) == ZOK && len >= 0)
        out[len] = '\0';
    else
        out[0] = '\0';
}

static int take_office(zk_store *z, const char *name, zk_tenure *t, const char *holder,
                       const epoch_info *e, int64_t *epoch, drover_error *err)
{
    char *epath = zk_path(z, "epochs", name, NULL), *json = NULL;
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    json_object *o = json_object_new_object();
    int zrc;

    if (!epath || !o) {
        free(epath);
        json_object_put(o);
        return zk_nomem(err);
    }
    json_object_object_add(o, "holder", json_object_new_string(holder));
    json_object_object_add(o, "node", json_object_new_string(t->node));
    json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    zoo_check_op_init(&ops[0], t->node, -1);
    zoo_set_op_init(&ops[1], epath, json, json ? (int)strlen(json) : 0, e->version, NULL);
    ZS_RUN(&z->zs, zrc, json ? zoo_multi(z->zs.zh, 2, ops, res) : ZSYSTEMERROR, err);
    free(json);
    free(epath);
    if (zrc == ZOK) {
        *epoch = (int64_t)e->version + 1;
        return 1;
    }
    if (zrc == ZBADVERSION)
        return 0;   /* read again */
    if (zrc == ZNONODE)
        return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                      "lease %s: our candidacy ended with our session", name);
    return zs_fail(&z->zs, zrc, "take lease", name, err);
}

int zk_lease_acquire(dv_store *st, const char *name, const char *holder, int ttl_ms,
                     int64_t *epoch, drover_error *err)
{
    zk_store *z = ZK(st);
    char *lpath = zk_path(z, "leases", name, NULL), low[1024], who[256];
    int rc = -1;

    (void)ttl_ms;
    if (!lpath)
        return zk_nomem(err);
    for (int tries = 0; tries < 10; tries++) {
        zk_tenure *t = candidate(z, name, holder, err);
        epoch_info e;

        if (!t || lowest(z, lpath, low, sizeof low, err) < 0 || epoch_read(z, name, &e, err) < 0)
            break;
        if (strcmp(low, t->node) != 0) {
            holder_of(z, low, who, sizeof who);
            withdraw(z, t);
            dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                   "lease %s is held by %s at epoch %d", name, *who ? who : "another contender",
                   e.version);
            break;
        }
        if (strcmp(e.node, t->node) == 0) {
            *epoch = e.version;   /* ours already */
            rc = 0;
            break;
        }
        rc = take_office(z, name, t, holder, &e, epoch, err);
        if (rc != 0) {
            rc = rc > 0 ? 0 : -1;
            break;
        }
        rc = -1;
        dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK, "lease %s keeps changing", name);
    }
    free(lpath);
    return rc;
}

static int lost(const char *holder, const char *name, int64_t epoch, const char *why,
                drover_error *err)
{
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                  "%s lost lease %s: epoch %" PRId64 " is over (%s)", holder, name, epoch, why);
}

int zk_lease_renew(dv_store *st, const char *name, const char *holder, int64_t epoch,
                   int ttl_ms, drover_error *err)
{
    zk_store *z = ZK(st);
    zk_tenure *t;
    epoch_info e;
    bool alive;
    char why[400];

    (void)ttl_ms;
    if (zs_ready(&z->zs, err) < 0)
        return -1;
    if (!(t = tenure_find(z, name)))
        return lost(holder, name, epoch, "this handle does not hold it", err);
    if (t->gen != z->zs.gen) {
        tenure_drop(z, t);
        return lost(holder, name, epoch, "its ZooKeeper session expired", err);
    }
    if (node_alive(z, t->node, &alive, err) < 0 || epoch_read(z, name, &e, err) < 0)
        return -1;
    if (!alive || t->gen != z->zs.gen) {
        if ((t = tenure_find(z, name)))
            tenure_drop(z, t);
        return lost(holder, name, epoch, "its ZooKeeper session expired", err);
    }
    if (e.version != epoch || strcmp(e.node, t->node) != 0) {
        snprintf(why, sizeof why, "it is held by %s at epoch %d", *e.holder ? e.holder : "nobody",
                 e.version);
        return lost(holder, name, epoch, why, err);
    }
    return 0;
}

int zk_lease_release(dv_store *st, const char *name, const char *holder, int64_t epoch,
                     drover_error *err)
{
    zk_store *z = ZK(st);
    zk_tenure *t = tenure_find(z, name);
    int zrc;

    (void)holder;
    (void)epoch;
    if (!t)
        return 0;
    if (t->gen == z->zs.gen) {
        ZS_RUN(&z->zs, zrc, zoo_delete(z->zs.zh, t->node, -1), err);
        if (zrc != ZOK && zrc != ZNONODE) {
            zs_fail(&z->zs, zrc, "delete", t->node, err);
            return -1;
        }
    }
    if ((t = tenure_find(z, name)))
        tenure_drop(z, t);
    return 0;
}

int zk_lease_get(dv_store *st, const char *name, dv_store_lease *out, drover_error *err)
{
    zk_store *z = ZK(st);
    epoch_info e;
    bool alive;

    memset(out, 0, sizeof *out);
    zk_sync(z);
    if (epoch_read(z, name, &e, err) < 0 || node_alive(z, e.node, &alive, err) < 0)
        return -1;
    if (!e.found)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK, "no lease %s", name);
    out->epoch = e.version;
    if (!(out->name = strdup(name)) || !(out->holder = strdup(alive ? e.holder : ""))) {
        dv_store_lease_clear(out);
        return zk_nomem(err);
    }
    return 0;
}

int zk_lease_list(dv_store *st, dv_store_lease **out, size_t *n, drover_error *err)
{
    zk_store *z = ZK(st);
    struct String_vector kids;
    int rc;

    if ((rc = zk_list_at(z, "epochs", NULL, &kids, NULL, "list", "leases", err)) <= 0)
        return rc;
    rc = 0;
    if (kids.count && !(*out = calloc((size_t)kids.count, sizeof **out)))
        rc = zk_nomem(err);
    for (int i = 0; rc == 0 && i < kids.count; i++) {
        if ((rc = zk_lease_get(st, kids.data[i], &(*out)[*n], err)) == 0)
            (*n)++;
    }
    deallocate_String_vector(&kids);
    if (rc < 0) {
        dv_store_leases_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
