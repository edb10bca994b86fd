/* zk_claims.c - claims of the zk state store.
 *
 * R/claims/<host> is the host's claims parent.  A claim is placed by one
 * zoo_multi: a set of the parent's data at the version read together with
 * its children (zoo_get_children2), and the create of the claim node.  Two
 * writers that read the same version cannot both succeed, so two
 * schedulers never both see room for the last MiB.  A release (a delete)
 * does not move the version: a writer that read before it sees less room
 * than there is, never more.  Expired claims count for nobody; whoever
 * reads one deletes it.
 *
 * A claim node is named c-<MiB>-<expires_ms>-<sequence>: the capacity
 * check and the sums need the parent's children list only, one round trip
 * however many claims a host holds.  The node's data (instance, owner) is
 * read only to list claims. */
#include "store/zk_int.h"
#include "core/model.h"
#include "core/statedb.h"

#include <inttypes.h>
#include <pthread.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct claim_node {
    char *instance, *owner;
    uint64_t mib;
    int64_t expires_ms;
} claim_node;

static void claim_node_clear(claim_node *c)
{
    free(c->instance);
    free(c->owner);
    memset(c, 0, sizeof *c);
}

static int claim_parse(const char *data, claim_node *c)
{
    json_object *o = json_tokener_parse(data), *v;

    memset(c, 0, sizeof *c);
    if (!o)
        return -1;
    if (json_object_object_get_ex(o, "mib", &v))
        c->mib = (uint64_t)json_object_get_int64(v);
    if (json_object_object_get_ex(o, "expires_ms", &v))
        c->expires_ms = json_object_get_int64(v);
    c->instance = strdup(json_object_object_get_ex(o, "instance", &v) ? json_object_get_string(v) : "");
    c->owner = strdup(json_object_object_get_ex(o, "owner", &v) ? json_object_get_string(v) : "");
    json_object_put(o);
    return c->instance && c->owner ? 0 : -1;
}

static int64_t seq_of(const char *name)
{
    const char *dash = strrchr(name, '-');
    return dash ? strtoll(dash + 1, NULL, 10) : 0;
}

/* Unexpired claims of host (deleting expired ones); *version = the
 * parent's version read with them.  each (may be NULL) sees every claim. */
typedef int (*claim_fn)(void *arg, const char *host, int64_t id, const claim_node *c);

/* Pipelined reads: every claim node of a host asked at once, answers
 * awaited together (one round trip instead of one per claim). */
typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
} batch;

typedef struct batch_get {
    batch *b;
    int zrc;
    char *data;
} batch_get;

static void got(int rc, const char *value, int len, const struct Stat *stat, const void *arg)
{
    batch_get *g = (batch_get *)arg;

    (void)stat;
    g->zrc = rc;
    if (rc == ZOK && !(g->data = value && len > 0 ? strndup(value, (size_t)len) : strdup("")))
        g->zrc = ZSYSTEMERROR;
    pthread_mutex_lock(&g->b->mu);
    g->b->left--;
    pthread_cond_broadcast(&g->b->cv);
    pthread_mutex_unlock(&g->b->mu);
}

/* Ask for every path; each answer (or a lost connection: the client
 * completes every request it took) lands in gets[i]. */
static void read_all(zk_store *z, char **paths, int n, batch_get *gets)
{
    batch b = { .left = 0 };

    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (int i = 0; i < n; i++) {
        gets[i].b = &b;
        gets[i].zrc = ZCONNECTIONLOSS;
        pthread_mutex_lock(&b.mu);
        b.left++;
        pthread_mutex_unlock(&b.mu);
        if (zoo_aget(z->zs.zh, paths[i], 0, got, &gets[i]) != ZOK) {
            pthread_mutex_lock(&b.mu);
            b.left--;
            pthread_mutex_unlock(&b.mu);
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.left > 0)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
}

/* c-<MiB>-<expires_ms>-<sequence>; 0 when the name is not a claim's. */
static int name_parse(const char *name, claim_node *c)
{
    unsigned long long mib;
    long long expires;
    int used = 0;

    memset(c, 0, sizeof *c);
    if (sscanf(name, "c-%llu-%lld-%*d%n", &mib, &expires, &used) < 2 || !used)
        return 0;
    c->mib = mib;
    c->expires_ms = expires;
    return 1;
}

/* Fill c's instance and owner from a node's data. */
static int data_parse(const char *data, claim_node *c)
{
    claim_node d;
    int rc = claim_parse(data ? data : "{}", &d);

    if (rc == 0) {
        c->instance = d.instance;
        c->owner = d.owner;
        return 0;
    }
    claim_node_clear(&d);
    return (c->instance = strdup("")) && (c->owner = strdup("")) ? 0 : -1;
}

/* Hand each unexpired claim, with its data, to each. */
static int read_each(zk_store *z, const char *host, struct String_vector *kids, char **paths,
                     claim_fn each, void *arg, drover_error *err)
{
    batch_get *gets = calloc((size_t)kids->count, sizeof *gets);
    int rc = 0;

    if (!gets)
        return zk_nomem(err);
    read_all(z, paths, kids->count, gets);
    for (int i = 0; rc == 0 && i < kids->count; i++) {
        claim_node c;
        struct Stat st;

        if (!paths[i])
            continue;
        if (gets[i].zrc != ZOK && gets[i].zrc != ZNONODE)   /* the slow way, with retries */
            gets[i].zrc = zk_read(z, paths[i], &gets[i].data, &st, err);
        if (gets[i].zrc == ZNONODE)
            continue;   /* released meanwhile */
        if (gets[i].zrc != ZOK) {
            rc = zs_fail(&z->zs, gets[i].zrc, "read", paths[i], err);
            break;
        }
        name_parse(kids->data[i], &c);
        if (data_parse(gets[i].data, &c) < 0 || each(arg, host, seq_of(kids->data[i]), &c) < 0)
            rc = zk_nomem(err);
        claim_node_clear(&c);
    }
    for (int i = 0; i < kids->count; i++)
        free(gets[i].data);
    free(gets);
    return rc;
}

static int host_claims(zk_store *z, const char *host, int *version, claim_fn each, void *arg,
                       uint64_t *sum, size_t *count, drover_error *err)
{
    char **paths = NULL;
    struct String_vector kids;
    struct Stat pst = { 0 };
    int64_t now = dv_clock_now(&z->base.clock);
    int rc;

    *sum = 0;
    *version = -1;
    if (count)
        *count = 0;
    if ((rc = zk_list_at(z, "claims", host, &kids, &pst, "list claims of", host, err)) <= 0)
        return rc;
    rc = 0;
    *version = pst.version;
    if (kids.count && !(paths = calloc((size_t)kids.count, sizeof *paths)))
        rc = zk_nomem(err);
    for (int i = 0; rc == 0 && i < kids.count; i++) {
        claim_node c;
        char *p;
        if (!name_parse(kids.data[i], &c))
            continue;
        if (!(p = zk_path(z, "claims", host, kids.data[i]))) {
            rc = zk_nomem(err);
        } else if (c.expires_ms <= now) {
            zoo_delete(z->zs.zh, p, -1);   /* best effort: others ignore it anyway */
            free(p);
        } else {
            *sum += c.mib;
            if (count)
                (*count)++;
            paths[i] = p;
        }
    }
    if (rc == 0 && each && kids.count)
        rc = read_each(z, host, &kids, paths, each, arg, err);
    for (int i = 0; paths && i < kids.count; i++)
        free(paths[i]);
    free(paths);
    deallocate_String_vector(&kids);
    return rc;
}

static char *claim_json(const char *instance, const char *owner, uint64_t mib, int64_t expires)
{
    json_object *o = json_object_new_object();
    char *s;

    if (!o)
        return NULL;
    json_object_object_add(o, "instance", json_object_new_string(instance));
    json_object_object_add(o, "owner", json_object_new_string(owner));
    json_object_object_add(o, "mib", json_object_new_int64((int64_t)mib));
    json_object_object_add(o, "expires_ms", json_object_new_int64(expires));
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* One attempt: 1 placed, 0 lost a race (try again), -1 error. */
static int claim_once(zk_store *z, const char *host, const char *parent, const char *json,
                      uint64_t memory_mib, int64_t expires_ms, uint64_t capacity_mib, int flags,
                      const dv_fence *fence, int64_t *claim_id, drover_error *err)
{
    char *epath = fence ? zk_path(z, "epochs", fence->lease, NULL) : NULL, *child = NULL;
    char made[1024];
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    struct Stat pst;
    uint64_t held;
    int version, n = 0, zrc, rc;

    if ((fence && !epath) ||
        asprintf(&child, "%s/c-%" PRIu64 "-%" PRId64 "-", parent, memory_mib, expires_ms) < 0) {
        free(epath);
        return zk_nomem(err);
    }
    rc = host_claims(z, host, &version, NULL, NULL, &held, NULL, err);
    if (rc == 0 && version < 0)
        rc = zk_make_path(z, parent, err) < 0 ? -1 : 2;   /* made the parent: read again */
    if (rc == 0)
        rc = dv_claim_room_check(host, held, capacity_mib, memory_mib, DROVER_FROM_ZK, err);
    if (rc == 0) {
        if (fence)
            zoo_check_op_init(&ops[n++], epath, (int)fence->epoch);
        zoo_set_op_init(&ops[n++], parent, NULL, -1, version, &pst);
        zoo_create_op_init(&ops[n++], child, json, (int)strlen(json), z->zs.acl,
                           ZOO_SEQUENCE | (flags & DV_STORE_CLAIM_SESSION ? ZOO_EPHEMERAL : 0),
                           made, sizeof made);
        ZS_RUN(&z->zs, zrc, zoo_multi(z->zs.zh, n, ops, res), err);
        if (zrc == ZOK) {
            *claim_id = seq_of(made);
            rc = 1;
        } else if (zrc == ZBADVERSION || zrc == ZNONODE) {
            int at = zk_failed_at(res, n);
            rc = fence && at == 0 ? zk_stale(z, fence, err) : 0;
        } else {
            rc = zs_fail(&z->zs, zrc, "place a claim on", host, err);
        }
    }
    free(child);
    free(epath);
    return rc == 2 ? 0 : rc;
}

int zk_claim_try(dv_store *st, const char *host, const char *instance_uuid, const char *owner,
                 uint64_t memory_mib, uint64_t capacity_mib, int ttl_s, int flags,
                 const dv_fence *fence, int64_t *claim_id, drover_error *err)
{
    zk_store *z = ZK(st);
    char *parent = zk_path(z, "claims", host, NULL);
    int64_t expires_ms = dv_clock_now(&st->clock) + (int64_t)ttl_s * 1000;
    char *json = claim_json(instance_uuid, owner, memory_mib, expires_ms);
    int rc = 0;

    if (!parent || !json)
        rc = zk_nomem(err);
    /* a lost race is retried from a fresh read: the winner's claim now counts */
    for (int tries = 0; rc == 0 && tries < 200; tries++)
        rc = claim_once(z, host, parent, json, memory_mib, expires_ms, capacity_mib, flags, fence,
                        claim_id, err);
    if (rc == 0)
        rc = dv_err(err, DROVER_ERR_CONFLICT, DROVER_FROM_ZK,
                    "host %s: claims keep changing under us; try again", host);
    free(parent);
    free(json);
    return rc < 0 ? -1 : 0;
}

/* The claim's node is found by its sequence number (its name also holds
 * its size and expiry). */
int zk_claim_release(dv_store *st, const char *host, int64_t claim_id, const dv_fence *fence,
                     drover_error *err)
{
    zk_store *z = ZK(st);
    char *path = NULL;
    struct String_vector kids;
    int rc;

    if ((rc = zk_list_at(z, "claims", host, &kids, NULL, "list claims of", host, err)) <= 0)
        return rc;   /* 0: gone already */
    rc = 0;
    for (int i = 0; i < kids.count && !path; i++) {
        claim_node c;
        if (name_parse(kids.data[i], &c) && seq_of(kids.data[i]) == claim_id &&
            !(path = zk_path(z, "claims", host, kids.data[i])))
            rc = zk_nomem(err);
    }
    deallocate_String_vector(&kids);
    if (rc == 0 && path)
        rc = zk_delete(z, path, -1, fence, "claim", err);
    free(path);
    return rc;
}

typedef struct claim_acc {
    dv_store_claim *v;
    size_t n, cap;
} claim_acc;

static int collect(void *arg, const char *host, int64_t id, const claim_node *c)
{
    claim_acc *a = arg;
    dv_store_claim *x;

    if (dv_grow((void **)&a->v, a->n, &a->cap, sizeof *a->v) < 0)
        return -1;
    x = &a->v[a->n];
    x->id = id;
    x->memory_mib = c->mib;
    x->expires_ms = c->expires_ms;
    a->n++;
    return (x->host = strdup(host)) && (x->instance_uuid = strdup(c->instance)) &&
           (x->owner = strdup(c->owner)) ? 0 : -1;
}

static int cmp_claim(const void *a, const void *b)
{
    const dv_store_claim *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The hosts with a claims parent. */
static int claim_hosts(zk_store *z, struct String_vector *hosts, drover_error *err)
{
    return zk_list_at(z, "claims", NULL, hosts, NULL, "list", "claims", err) < 0 ? -1 : 0;
}

int zk_claim_list(dv_store *st, const char *host, dv_store_claim **out, size_t *n,
                  drover_error *err)
{
    zk_store *z = ZK(st);
    struct String_vector hosts = { 0 };
    claim_acc acc = { 0 };
    uint64_t sum;
    int version, rc = 0;

    zk_sync(z);
    if (host)
        rc = host_claims(z, host, &version, collect, &acc, &sum, NULL, err);
    else if ((rc = claim_hosts(z, &hosts, err)) == 0)
        for (int i = 0; rc == 0 && i < hosts.count; i++)
            rc = host_claims(z, hosts.data[i], &version, collect, &acc, &sum, NULL, err);
    deallocate_String_vector(&hosts);
    if (rc < 0) {
        dv_store_claims_free(acc.v, acc.n);
        return -1;
    }
    if (acc.n)
        qsort(acc.v, acc.n, sizeof *acc.v, cmp_claim);
    *out = acc.v;
    *n = acc.n;
    return 0;
}

int zk_claim_sums(dv_store *st, dv_store_claim_sum **out, size_t *n, drover_error *err)
{
    zk_store *z = ZK(st);
    struct String_vector hosts = { 0 };
    int rc;

    *out = NULL;
    *n = 0;
    zk_sync(z);
    rc = claim_hosts(z, &hosts, err);

    if (rc == 0 && hosts.count && !(*out = calloc((size_t)hosts.count, sizeof **out)))
        rc = zk_nomem(err);
    for (int i = 0; rc == 0 && i < hosts.count; i++) {
        dv_store_claim_sum *s = &(*out)[*n];
        int version;
        if ((rc = host_claims(z, hosts.data[i], &version, NULL, NULL, &s->mib, &s->count, err)) < 0)
            break;
        if (!s->count)
            continue;
        if (!(s->host = strdup(hosts.data[i])))
            rc = zk_nomem(err);
        else
            (*n)++;
    }
    deallocate_String_vector(&hosts);
    if (rc < 0) {
        dv_store_claim_sums_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int zk_claimed_mib(dv_store *st, const char *host, uint64_t *mib, drover_error *err)
{
    int version;

    zk_sync(ZK(st));
    return host_claims(ZK(st), host, &version, NULL, NULL, mib, NULL, err);
}
