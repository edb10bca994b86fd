/* zk.c - the "zk" state store: ZooKeeper, the distributed engine a
 * deployment that runs the zk servicegroup driver already has (layout in
 * zk_int.h).  Every machine sees the same admin state, claims, records and
 * leases; an unreachable ensemble is DROVER_ERR_UNREACHABLE within
 * session_timeout_ms, never a fall-back to local state (this backend
 * opens no local file at all). */
#include "store/zk_int.h"
#include "core/log.h"
#include "core/statedb.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zk_nomem(drover_error *err)
{
    return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_ZK, "out of memory");
}

char *zk_path(const zk_store *z, const char *a, const char *b, const char *c)
{
    char *p = NULL;
    int rc;

    if (c)
        rc = asprintf(&p, "%s/%s/%s/%s", z->root, a, b, c);
    else if (b)
        rc = asprintf(&p, "%s/%s/%s", z->root, a, b);
    else
        rc = asprintf(&p, "%s/%s", z->root, a);
    return rc < 0 ? NULL : p;
}

typedef struct path_walk {
    zk_store *z;
    drover_error *err;
} path_walk;

static int make_node(void *arg, const char *p, bool last)
{
    path_walk *w = arg;
    zk_store *z = w->z;
    int zrc;

    (void)last;
    ZS_RUN(&z->zs, zrc, zoo_create(z->zs.zh, p, NULL, -1, z->zs.acl, 0, NULL, 0), w->err);
    /* a protected parent refuses even a create that would find the
     * node there: a reader without credentials only needs it to exist */
    if (zrc == ZNOAUTH) {
        struct Stat st;
        int e;
        ZS_RUN(&z->zs, e, zoo_exists(z->zs.zh, p, 0, &st), w->err);
        if (e == ZOK)
            zrc = ZNODEEXISTS;
    }
    if (zrc != ZOK && zrc != ZNODEEXISTS)
        return zs_fail(&z->zs, zrc, "create", p, w->err);
    return 0;
}

int zk_make_path(zk_store *z, const char *path, drover_error *err)
{
    path_walk w = { z, err };
    return dv_zkc_each_prefix(path, make_node, &w, err);
}

int zk_read(zk_store *z, const char *path, char **data, struct Stat *stat, drover_error *err)
{
    int cap = 4096, len, zrc;
    char *buf = NULL;

    *data = NULL;
    for (;;) {
        char *nb = realloc(buf, (size_t)cap + 1);
        if (!nb) {
            free(buf);
            zk_nomem(err);
            return ZSYSTEMERROR;
        }
        buf = nb;
        len = cap;
        ZS_RUN(&z->zs, zrc, zoo_get(z->zs.zh, path, 0, buf, &len, stat), err);
        if (zrc != ZOK || stat->dataLength <= cap)
            break;
        cap = stat->dataLength;
    }
    if (zrc != ZOK) {
        free(buf);
        return zrc;
    }
    buf[len < 0 ? 0 : len] = '\0';
    *data = buf;
    return ZOK;
}

int zk_children(zk_store *z, const char *path, struct String_vector *kids, struct Stat *stat,
                drover_error *err)
{
    struct Stat dummy;
    int zrc;

    memset(kids, 0, sizeof *kids);
    ZS_RUN(&z->zs, zrc, zoo_get_children2(z->zs.zh, path, 0, kids, stat ? stat : &dummy), err);
    return zrc;
}

int zk_list_at(zk_store *z, const char *a, const char *b, struct String_vector *kids,
               struct Stat *stat, const char *op, const char *what, drover_error *err)
{
    char *path = zk_path(z, a, b, NULL);
    int zrc;

    memset(kids, 0, sizeof *kids);
    if (!path)
        return zk_nomem(err);
    zrc = zk_children(z, path, kids, stat, err);
    free(path);
    if (zrc == ZNONODE)
        return 0;
    return zrc == ZOK ? 1 : zs_fail(&z->zs, zrc, op, what, err);
}

/* zoo_async's answer: the server we talk to has caught up with the leader. */
typedef struct synced {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} synced;

static void sync_done(int rc, const char *value, const void *data)
{
    synced *s = (synced *)data;

    (void)rc;
    (void)value;
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void zk_sync(zk_store *z)
{
    synced s = { .done = false };

    if (zs_ready(&z->zs, NULL) < 0)
        return;   /* the read that follows reports the outage */
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    if (zoo_async(z->zs.zh, z->root, sync_done, &s) == ZOK) {
        /* the client completes every request it took, if only with a
         * lost connection */
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
    }
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

int zk_stale(zk_store *z, const dv_fence *fence, drover_error *err)
{
    char *path = zk_path(z, "epochs", fence->lease, NULL), *data = NULL;
    char holder[256] = "";
    struct Stat st = { 0 };
    int zrc;

    if (!path)
        return zk_nomem(err);
    zrc = zk_read(z, path, &data, &st, NULL);
    if (zrc == ZOK && data) {
        json_object *o = json_tokener_parse(data), *h;
        if (o && json_object_object_get_ex(o, "holder", &h))
            snprintf(holder, sizeof holder, "%s", json_object_get_string(h));
        json_object_put(o);
    }
    free(data);
    free(path);
    return dv_store_stale(err, DROVER_FROM_ZK, fence, holder, zrc == ZOK ? st.version : 0);
}

static int moved(const char *what, const char *path, const char *how, drover_error *err)
{
    return dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK, "%s %s %s: read it again", what,
                  path, how);
}

static int make_parent(zk_store *z, const char *path, drover_error *err)
{
    char *parent = strndup(path, (size_t)(strrchr(path, '/') - path));
    int rc = parent ? zk_make_path(z, parent, err) : zk_nomem(err);

    free(parent);
    return rc;
}

/* A write's op refused for e: the version moved, or ZooKeeper said no. */
static int refused(zk_store *z, int e, const char *what, const char *path, drover_error *err)
{
    if (e == ZNODEEXISTS)
        return moved(what, path, "exists already", err);
    if (e == ZNONODE)
        return moved(what, path, "is gone", err);
    if (e == ZBADVERSION)
        return moved(what, path, "changed since it was read", err);
    return zs_fail(&z->zs, e, "write", path, err);
}

int zk_put(zk_store *z, const char *path, const char *data, int zk_version,
           const dv_fence *fence, int64_t *new_version, const char *what, drover_error *err)
{
    char *epath = fence ? zk_path(z, "epochs", fence->lease, NULL) : NULL;
    bool any = zk_version == -1, create = zk_version == ZK_CREATE;
    int rc = -1;

    if (fence && !epath)
        return zk_nomem(err);
    for (int tries = 0; tries < 8; tries++) {
        zoo_op_t ops[2];
        zoo_op_result_t res[2];
        struct Stat st = { 0 };
        int n = 0, zrc, at, e;

        if (fence)
            zoo_check_op_init(&ops[n++], epath, (int)fence->epoch);
        if (create)
            zoo_create_op_init(&ops[n++], path, data, (int)strlen(data), z->zs.acl, 0, NULL, 0);
        else
            zoo_set_op_init(&ops[n++], path, data, (int)strlen(data), zk_version, &st);
        ZS_RUN(&z->zs, zrc, zoo_multi(z->zs.zh, n, ops, res), err);
        if (zrc == ZOK) {
            *new_version = create ? 1 : (int64_t)st.version + 1;
            rc = 0;
            break;
        }
        if (zrc == ZS_UNREACHABLE || (zrc != ZNONODE && zrc != ZNODEEXISTS &&
                                      zrc != ZBADVERSION && zrc != ZNOAUTH)) {
            zs_fail(&z->zs, zrc, "write", path, err);
            break;
        }
        at = zk_failed_at(res, n);
        e = res[at].err;
        if (fence && at == 0) {
            zk_stale(z, fence, err);
            break;
        }
        if (create && e == ZNONODE) {
            if (make_parent(z, path, err) < 0)
                break;
            continue;
        }
        if (any && (e == ZNONODE || e == ZNODEEXISTS)) {
            create = e == ZNONODE;
            continue;
        }
        refused(z, e, what, path, err);
        break;
    }
    free(epath);
    return rc;
}

int zk_delete(zk_store *z, const char *path, int zk_version, const dv_fence *fence,
              const char *what, drover_error *err)
{
    char *epath = fence ? zk_path(z, "epochs", fence->lease, NULL) : NULL;
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    int n = 0, zrc, at;

    if (fence && !epath)
        return zk_nomem(err);
    if (fence)
        zoo_check_op_init(&ops[n++], epath, (int)fence->epoch);
    zoo_delete_op_init(&ops[n++], path, zk_version);
    ZS_RUN(&z->zs, zrc, zoo_multi(z->zs.zh, n, ops, res), err);
    free(epath);
    if (zrc == ZOK)
        return 0;
    if (zrc == ZS_UNREACHABLE || (zrc != ZNONODE && zrc != ZBADVERSION && zrc != ZNOTEMPTY))
        return zs_fail(&z->zs, zrc, "delete", path, err);
    at = zk_failed_at(res, n);
    if (fence && at == 0)
        return zk_stale(z, fence, err);
    if (res[at].err == ZNONODE)
        return zk_version == -1 ? 0
               : dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK, "no %s %s", what, path);
    return moved(what, path, "changed since it was read", err);
}

/* ---------------------------------------------------------------- admin */

static int admin_parse(const char *host, const char *data, int64_t version, dv_store_admin *a)
{
    json_object *o = data && *data ? json_tokener_parse(data) : NULL, *v;

    memset(a, 0, sizeof *a);
    a->version = version;
    if (o && json_object_object_get_ex(o, "disabled", &v))
        a->disabled = json_object_get_boolean(v);
    if (o && json_object_object_get_ex(o, "forced_down", &v))
        a->forced_down = json_object_get_boolean(v);
    if (o && json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
        a->reason = strdup(json_object_get_string(v));
    json_object_put(o);
    return (a->host = strdup(host)) ? 0 : -1;
}

static int admin_read(zk_store *z, const char *group, const char *host, dv_store_admin *a,
                      drover_error *err)
{
    char *path = zk_path(z, "admin", group, host), *data = NULL;
    struct Stat st = { 0 };
    int zrc, rc;

    if (!path)
        return zk_nomem(err);
    zrc = zk_read(z, path, &data, &st, err);
    if (zrc != ZOK && zrc != ZNONODE) {
        rc = zs_fail(&z->zs, zrc, "read", path, err);
    } else {
        rc = admin_parse(host, data, zrc == ZOK ? (int64_t)st.version + 1 : 0, a) < 0
             ? zk_nomem(err) : 0;
    }
    free(data);
    free(path);
    return rc;
}

static int zk_admin_get(dv_store *st, const char *group, const char *host, dv_store_admin *out,
                        drover_error *err)
{
    zk_sync(ZK(st));
    return admin_read(ZK(st), group, host, out, err);
}

static int cmp_admin(const void *a, const void *b)
{
    return strcmp(((const dv_store_admin *)a)->host, ((const dv_store_admin *)b)->host);
}

static int zk_admin_list(dv_store *st, const char *group, dv_store_admin **out, size_t *n,
                         drover_error *err)
{
    zk_store *z = ZK(st);
    struct String_vector kids;
    int rc;

    zk_sync(z);
    if ((rc = zk_list_at(z, "admin", group, &kids, NULL, "list", "admin state", err)) <= 0)
        return rc;
    rc = 0;
    if (kids.count && !(*out = calloc((size_t)kids.count, sizeof **out)))
        rc = zk_nomem(err);
    for (int i = 0; rc == 0 && i < kids.count; i++) {
        dv_store_admin a;
        if ((rc = admin_read(z, group, kids.data[i], &a, err)) < 0)
            break;
        if (a.disabled || a.forced_down)
            (*out)[(*n)++] = a;
        else
            dv_store_admin_clear(&a);
    }
    deallocate_String_vector(&kids);
    if (rc < 0) {
        dv_store_admins_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    qsort(*out, *n, sizeof **out, cmp_admin);
    return 0;
}

static char *admin_json(const dv_store_admin *a)
{
    json_object *o = json_object_new_object();
    char *s;

    if (!o)
        return NULL;
    json_object_object_add(o, "disabled", json_object_new_boolean(a->disabled));
    json_object_object_add(o, "reason", a->reason ? json_object_new_string(a->reason) : NULL);
    json_object_object_add(o, "forced_down", json_object_new_boolean(a->forced_down));
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* Read, change, write at the read version; an unconditional write reads
 * again when another writer came between. */
static int zk_admin_set(dv_store *st, const char *group, const char *host,
                        const dv_store_admin_change *chg, int64_t expected,
                        const dv_fence *fence, int64_t *new_version, drover_error *err)
{
    zk_store *z = ZK(st);
    char *path = zk_path(z, "admin", group, host);
    int rc = -1;

    if (!path)
        return zk_nomem(err);
    for (int tries = 0; tries < 20; tries++) {
        dv_store_admin a;
        drover_error why = { 0 };
        char *json;

        if (admin_read(z, group, host, &a, err) < 0)
            break;
        if (expected != DV_STORE_ANY && a.version != expected) {
            dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                   "admin state of %s/%s is at version %" PRId64 ", not %" PRId64
                   " any more: read it again", group, host, a.version, expected);
            dv_store_admin_clear(&a);
            break;
        }
        if (chg->disabled >= 0) {
            a.disabled = chg->disabled;
            free(a.reason);
            a.reason = chg->disabled && chg->reason && *chg->reason ? strdup(chg->reason) : NULL;
        }
        if (chg->forced_down >= 0)
            a.forced_down = chg->forced_down;
        json = admin_json(&a);
        rc = json ? zk_put(z, path, json, zk_version_of(a.version), fence, new_version,
                           "admin state", &why)
                  : zk_nomem(&why);
        free(json);
        dv_store_admin_clear(&a);
        if (rc == 0 || why.code != DROVER_ERR_CONFLICT || expected != DV_STORE_ANY ||
            strstr(why.message, "stale epoch")) {
            dv_err_copy(err, &why);
            break;
        }
    }
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- info */

/* Children of R/top/<each child> counted. */
static int count_grandchildren(zk_store *z, const char *top, size_t *n, drover_error *err)
{
    struct String_vector kids;
    int rc;

    *n = 0;
    if ((rc = zk_list_at(z, top, NULL, &kids, NULL, "list", top, err)) <= 0)
        return rc;
    for (int i = 0; i < kids.count; i++) {
        char *p = zk_path(z, top, kids.data[i], NULL);
        struct Stat s = { 0 };
        int r;
        if (!p)
            break;
        ZS_RUN(&z->zs, r, zoo_exists(z->zs.zh, p, 0, &s), err);
        if (r == ZOK)
            *n += (size_t)s.numChildren;
        free(p);
    }
    deallocate_String_vector(&kids);
    return 0;
}

static int zk_info(dv_store *st, dv_store_info *info, drover_error *err)
{
    zk_store *z = ZK(st);
    dv_store_claim_sum *sums;
    size_t ns;
    int zrc;
    struct Stat s = { 0 };
    char *ep = zk_path(z, "epochs", NULL, NULL);

    snprintf(info->where, sizeof info->where, "%s %s", z->zs.hosts, z->root);
    zk_sync(z);
    info->schema = 1;
    if (!ep)
        return zk_nomem(err);
    ZS_RUN(&z->zs, zrc, zoo_exists(z->zs.zh, ep, 0, &s), err);
    free(ep);
    if (zrc != ZOK && zrc != ZNONODE)
        return zs_fail(&z->zs, zrc, "read", "leases", err);
    info->leases = zrc == ZOK ? (size_t)s.numChildren : 0;
    if (count_grandchildren(z, "admin", &info->admin, err) < 0 ||
        count_grandchildren(z, "records", &info->records, err) < 0 ||
        zk_claim_sums(st, &sums, &ns, err) < 0)
        return -1;
    for (size_t i = 0; i < ns; i++)
        info->claims += sums[i].count;
    dv_store_claim_sums_free(sums, ns);
    return 0;
}

/* ---------------------------------------------------------------- open / close */

static void zk_close(dv_store *st)
{
    zk_store *z = ZK(st);

    if (!z)
        return;
    zk_tenures_free(z);
    zs_close(&z->zs);
    free(z->root);
    free(z);
}

static int zk_open(const dv_config *cfg, dv_store **out, drover_error *err)
{
    const char *prefix = cfg->servicegroup.zk.prefix;
    drover_error why = { 0 };
    zk_store *z;

    *out = NULL;
    if (!prefix || prefix[0] != '/' || (prefix[1] && prefix[strlen(prefix) - 1] == '/'))
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_ZK,
                      "servicegroup.zk.prefix \"%s\" must be an absolute path without a trailing"
                      " '/', like \"/drover\"", prefix ? prefix : "");
    if (!(z = calloc(1, sizeof *z)))
        return zk_nomem(err);
    if (asprintf(&z->root, "%s/.state", strcmp(prefix, "/") == 0 ? "" : prefix) < 0) {
        free(z);
        return zk_nomem(err);
    }
    if (zs_open(&z->zs, cfg->servicegroup.zk.hosts, cfg->servicegroup.zk.session_timeout_ms,
                cfg->servicegroup.zk.auth, err) < 0) {
        zk_close(&z->base);
        return -1;
    }
    /* a dead ensemble is no configuration error: calls fail UNREACHABLE;
     * a reader without credentials cannot make the root where nobody made
     * it yet, and needs none: there is no state to read (writes fail AUTH) */
    if (zk_make_path(z, z->root, &why) < 0) {
        if (why.code != DROVER_ERR_UNREACHABLE && why.code != DROVER_ERR_AUTH) {
            dv_err_copy(err, &why);
            zk_close(&z->base);
            return -1;
        }
        if (why.code == DROVER_ERR_UNREACHABLE)
            dv_warn("state store: %s", why.message);
    }
    *out = &z->base;
    return 0;
}

const dv_store_ops dv_store_zk_ops = {
    .version = DV_STORE_OPS_VERSION,
    .name = "zk",
    .open = zk_open,
    .close = zk_close,
    .info = zk_info,
    .admin_get = zk_admin_get,
    .admin_list = zk_admin_list,
    .admin_set = zk_admin_set,
    .claim_try = zk_claim_try,
    .claim_release = zk_claim_release,
    .claim_list = zk_claim_list,
    .claim_sums = zk_claim_sums,
    .claimed_mib = zk_claimed_mib,
    .record_put = zk_record_put,
    .record_get = zk_record_get,
    .record_list = zk_record_list,
    .record_delete = zk_record_delete,
    .lease_acquire = zk_lease_acquire,
    .lease_renew = zk_lease_renew,
    .lease_release = zk_lease_release,
    .lease_get = zk_lease_get,
    .lease_list = zk_lease_list,
    .list_names = zk_list_names,
};
