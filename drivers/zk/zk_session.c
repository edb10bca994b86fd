/* zk_session.c - the driver's side of its session (zkc/ keeps the handle):
 * joined nodes made again in a new session, retry across losses, the calls. */
#include "drivers/zk/zk.h"

void zk_member_free(void *p)
{
    zk_member *m = p;

    if (m) {
        free(m->path);
        free(m->data);
        free(m->sign_dir);
        free(m->sign_on);
        free(m);
    }
}

char *zk_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

/* ---------------------------------------------------------------- errors */

/* Turn a ZooKeeper result into a drover error: "what" is the verb. */
int zk_fail(const zk_sg *z, int zrc, const char *what, const char *path, drover_error *err)
{
    return dv_zkc_fail(&z->zc, zrc, what, path, err);
}

/* ---------------------------------------------------------------- sessions */

/* A connected session (zkc/: replacing an expired or hopeless handle),
 * with our joined nodes present in it. */
int zk_ensure_session(zk_sg *z, drover_error *err)
{
    if (dv_zkc_ready(&z->zc, err) < 0)
        return -1;
    if (z->nodes_gen != z->zc.gen && !z->remaking) {
        uint64_t gen = z->zc.gen;
        int rc;

        z->remaking = true;
        rc = zk_remake_joined(z, err);
        z->remaking = false;
        if (rc < 0)
            return -1;
        if (z->zc.gen == gen)
            z->nodes_gen = gen;
    }
    return 0;
}

/* Run call with a connected session, across connection losses (bounded by
 * wait_ms per outage) and session expiry.  0 with *zrc = the call's final
 * result; -1 (unreachable) when no session could be had. */
int zk_run(zk_sg *z, zk_call call, zk_op *op, int *zrc, drover_error *err)
{
    for (int attempt = 0; attempt < ZK_MAX_ATTEMPTS; attempt++) {
        if (zk_ensure_session(z, err) < 0)
            return -1;
        *zrc = call(z, op);
        if (!dv_zkc_again(&z->zc, *zrc))
            return 0;
    }
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                  "ZooKeeper %s: %s failed %d times in a row on lost connections",
                  z->zc.hosts, op->path, ZK_MAX_ATTEMPTS);
}

int zk_call_exists(zk_sg *z, zk_op *op)
{
    return zoo_exists(z->zc.zh, op->path, 0, &op->stat);
}

int zk_call_create(zk_sg *z, zk_op *op)
{
    return zoo_create(z->zc.zh, op->path, op->data, op->data ? op->len : -1, z->zc.acl, op->flags, NULL, 0);
}

int zk_call_set(zk_sg *z, zk_op *op)
{
    return zoo_set2(z->zc.zh, op->path, op->data, op->data ? op->len : -1, -1, &op->stat);
}

int zk_call_delete(zk_sg *z, zk_op *op)
{
    return zoo_delete(z->zc.zh, op->path, -1);
}

int zk_call_children(zk_sg *z, zk_op *op)
{
    return zoo_get_children(z->zc.zh, op->path, 0, &op->kids);
}

int zk_call_get_acl(zk_sg *z, zk_op *op)
{
    return zoo_get_acl(z->zc.zh, op->path, &op->acl, &op->stat);
}

int zk_call_set_acl(zk_sg *z, zk_op *op)
{
    return zoo_set_acl(z->zc.zh, op->path, op->version, z->zc.acl);
}

/* Replace a node some other session left (delete + create, atomically). */
int zk_call_take_over(zk_sg *z, zk_op *op)
{
    zoo_op_t ops[2];
    zoo_op_result_t res[2];

    zoo_delete_op_init(&ops[0], op->path, op->version);
    zoo_create_op_init(&ops[1], op->path, op->data, op->data ? op->len : -1, z->zc.acl,
                       ZOO_EPHEMERAL, NULL, 0);
    return zoo_multi(z->zc.zh, 2, ops, res);
}

int64_t zk_my_session(zk_sg *z)
{
    return dv_zkc_session_id(&z->zc);
}
