/* zk_signs.c - signs: each live member's placement summary in the name of
 * an ephemeral node, so that one getChildren answers every summary.
 *
 * ZooKeeper's cost is per request (45-75 us of server CPU for a getData
 * here, whatever its size), so reading 10k members' summaries from their
 * own nodes costs 10k requests.  A node's name, though, comes back in its
 * parent's getChildren: an agent that keeps an ephemeral node named
 *   <host> ' ' <its summary, escaped>
 * under <prefix>/.signs/<group>/<shard> lets a reader list every member's
 * summary with ZK_SIGN_SHARDS requests, pipelined.  The shard (two hex
 * digits, FNV-1a of the host) keeps each answer small: ZooKeeper's other
 * clients refuse answers over jute.maxbuffer (1 MiB by default), and 64
 * shards of ~300-byte signs stay under it up to ~200k members.  The sign
 * is written with the member's node in one multi-op (set the node, delete
 * the old sign, create the new one), so the two agree; it dies with the
 * session, like the node.
 *
 * Readers only trust a sign whose member node is live, fall back on the
 * node's own data for a live member without a sign (an agent of an
 * earlier version, a summary too long for a name, a sign lost in a
 * failure), and take the newest (generated_ms) of two signs of one host
 * (an earlier session's sign lives until that session ends).  So signs are
 * an index, never the only copy: nothing is lost when one is missing.
 *
 * The escape: a name may hold any byte ZooKeeper accepts in a path except
 * '/'; bytes outside 0x20..0x7e, '%' and '/' are written %XX. */
#include "drivers/zk/zk.h"

#include <sys/types.h>

/* A summary longer than this gets no sign (its readers read the node). */
#define ZK_SIGN_MAX 8192
/* Part of the layout: writers and readers of one deployment agree on it. */
#define ZK_SIGN_SHARDS 64

static bool plain(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '%' && c != '/';
}

char *zk_sign_encode(const char *host, const char *sum, size_t sum_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t hl = strlen(host), k;
    char *s;

    if (!sum_len || sum[sum_len - 1] != '\n')
        return NULL;
    sum_len--;            /* the final newline is implied */
    if (sum_len > ZK_SIGN_MAX || !(s = malloc(hl + 2 + 3 * sum_len)))
        return NULL;
    memcpy(s, host, hl);
    s[hl] = ' ';
    k = hl + 1;
    for (size_t i = 0; i < sum_len; i++) {
        unsigned char c = (unsigned char)sum[i];
        if (plain(c)) {
            s[k++] = (char)c;
        } else {
            s[k++] = '%';
            s[k++] = hex[c >> 4];
            s[k++] = hex[c & 15];
        }
    }
    s[k] = '\0';
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undo the escape of text into out (room for strlen(text) + 2): the
 * summary with its final newline.  -1 on a bad escape. */
static ssize_t unescape(const char *text, char *out)
{
    size_t k = 0;

    for (const char *p = text; *p; p++) {
        int hi, lo;
        if (*p != '%') {
            if (!plain((unsigned char)*p))
                return -1;
            out[k++] = *p;
            continue;
        }
        if ((hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0 || plain((unsigned char)(hi << 4 | lo)))
            return -1;      /* one spelling per summary: a byte is escaped only when it must be */
        out[k++] = (char)(hi << 4 | lo);
        p += 2;
    }
    out[k++] = '\n';
    out[k] = '\0';
    return (ssize_t)k;
}

int zk_sign_decode(dv_arena *a, const char *name, bool instances, size_t *host_len,
                   dv_member_summary *ms)
{
    const char *sp = strchr(name, ' ');
    size_t hl, n;
    char *buf;
    ssize_t len;
    int rc = -1;

    memset(ms, 0, sizeof *ms);
    if (!sp || sp == name)
        return -1;
    hl = (size_t)(sp - name);
    n = strlen(sp + 1);
    if (n > 3 * ZK_SIGN_MAX || !(buf = malloc(n + 2)))
        return -1;
    if ((len = unescape(sp + 1, buf)) > 0) {
        size_t used = 0;
        if (dv_summary_decode(a, buf, (size_t)len, instances, &used, ms, NULL) == 0 &&
            used == (size_t)len && ms->report->host && strlen(ms->report->host) == hl &&
            memcmp(ms->report->host, name, hl) == 0)
            rc = 0;
    }
    free(buf);
    if (rc < 0)
        memset(ms, 0, sizeof *ms);
    else
        ms->stored = true;
    *host_len = hl;
    return rc;
}

/* ---------------------------------------------------------------- paths */

char *zk_signs_path(const zk_sg *z, const char *group)
{
    return zk_printf("%s/.signs/%s", z->prefix, group);
}

unsigned zk_sign_shard(const char *host)
{
    return (unsigned)(dv_fnv1a(host, strlen(host), DV_FNV_OFFSET) % ZK_SIGN_SHARDS);
}

char *zk_sign_dir(const zk_sg *z, const char *group, const char *host)
{
    return zk_printf("%s/.signs/%s/%02x", z->prefix, group, zk_sign_shard(host));
}

/* The sign m's node value calls for, as a path; NULL when it calls for
 * none (no summary, or too long) or memory ran out. */
char *zk_sign_wanted(const zk_member *m)
{
    const char *sum, *json, *host = strrchr(m->path, '/') + 1;
    size_t sum_len, json_len;
    char *name, *path;

    if (!m->data || !m->sign_dir ||
        !zk_value_split(m->data, (size_t)m->len, &sum, &sum_len, &json, &json_len) || !sum)
        return NULL;
    if (!(name = zk_sign_encode(host, sum, sum_len)))
        return NULL;
    path = zk_printf("%s/%s", m->sign_dir, name);
    free(name);
    return path;
}

/* ---------------------------------------------------------------- writing */

void zk_sign_forget(zk_member *m)
{
    free(m->sign_on);
    m->sign_on = NULL;
}

/* The node and its sign in one request, when the session that holds both
 * writes a new report: ZOK, or the code that sends the caller the long way
 * (zk_put_member's, then zk_sign_sync). */
int zk_call_set_signed(zk_sg *z, zk_op *op)
{
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    int n = 0;

    zoo_set_op_init(&ops[n++], op->path, op->data, op->len, -1, NULL);
    zoo_delete_op_init(&ops[n++], op->sign_old, -1);
    zoo_create_op_init(&ops[n++], op->sign_new, NULL, -1, z->zc.acl, ZOO_EPHEMERAL, NULL, 0);
    return zoo_multi(z->zc.zh, n, ops, res);
}

/* <prefix>/.signs, its group and the shard (dir), made once per handle. */
static int make_signs_dir(zk_sg *z, const char *dir, drover_error *err)
{
    char *p;
    int rc = 0;

    if (dv_map_get(&z->ready, dir))
        return 0;
    if (!(p = strdup(dir)))
        return zk_nomem(err);
    /* the three components below the prefix, top down */
    for (int up = 2; up >= 0 && rc == 0; up--) {
        char *cut = p + strlen(p);
        for (int i = 0; i < up; i++)
            while (cut > p && *--cut != '/')
                ;
        char keep = *cut;
        *cut = '\0';
        rc = zk_make_persistent(z, p, true, err);
        *cut = keep;
    }
    free(p);
    if (rc == 0 && dv_map_put(&z->ready, dir, z) < 0)
        rc = zk_nomem(err);
    return rc;
}

/* Make m's sign match its node value, the long way (a new session, a first
 * report, a take-over, or a multi that failed): delete the sign this
 * session made, make the one wanted. */
static int sign_sync(zk_sg *z, zk_member *m, drover_error *err)
{
    char *want = zk_sign_wanted(m);
    zk_op op = { .flags = ZOO_EPHEMERAL };
    int zrc;

    if (m->sign_gen != z->zc.gen)
        zk_sign_forget(m);       /* it died with its session */
    if ((!want && !m->sign_on) || (want && m->sign_on && strcmp(want, m->sign_on) == 0)) {
        free(want);
        return 0;
    }
    if (m->sign_on) {
        op.path = m->sign_on;
        if (zk_run(z, zk_call_delete, &op, &zrc, err) < 0)
            goto fail;
        if (zrc != ZOK && zrc != ZNONODE) {
            zk_fail(z, zrc, "delete the sign", m->sign_on, err);
            goto fail;
        }
        zk_sign_forget(m);
    }
    if (want) {
        if (make_signs_dir(z, m->sign_dir, err) < 0)
            goto fail;
        op.path = want;
        if (zk_run(z, zk_call_create, &op, &zrc, err) < 0)
            goto fail;
        if (zrc == ZNODEEXISTS) {
            /* an earlier session's (a restart within its timeout): ours now */
            if (zk_run(z, zk_call_delete, &op, &zrc, err) < 0 ||
                zk_run(z, zk_call_create, &op, &zrc, err) < 0)
                goto fail;
        }
        if (zrc != ZOK) {
            zk_fail(z, zrc, "create the sign", want, err);
            goto fail;
        }
        m->sign_on = want;
        m->sign_gen = z->zc.gen;
    }
    return 0;
fail:
    free(want);
    return -1;
}

/* After m's node was written the long way.  A sign that cannot be made
 * costs readers one read of the node, never a member: it is told, and the
 * heartbeat still succeeds. */
void zk_sign_sync(zk_sg *z, zk_member *m)
{
    drover_error why = { 0 };

    if (sign_sync(z, m, &why) < 0) {
        if (!m->sign_failed)
            dv_warn("zk: %s: its sign is not written (readers read its node instead): %s",
                    m->path, why.message);
        m->sign_failed = true;
    } else if (m->sign_failed) {
        dv_info("zk: %s: its sign is written again", m->path);
        m->sign_failed = false;
    }
}

/* ---------------------------------------------------------------- reading */

/* One shard's answer, taken on the client's completion thread while the
 * caller waits: the newest sign of each live member becomes its summary,
 * and its node is not read. */
typedef struct sign_read {
    zk_batch *batch;
    zk_listing *l;
    dv_arena *arena;
    bool instances;
} sign_read;

static void take_sign(sign_read *r, const char *name)
{
    const char *sp = strchr(name, ' ');
    char host[DV_NAME_MAX + 1], **kid;
    dv_member_summary ms;
    zk_fetch *f;
    size_t hl;

    if (!sp || (size_t)(sp - name) > DV_NAME_MAX)
        return;
    memcpy(host, name, (size_t)(sp - name));
    host[sp - name] = '\0';
    if (!(kid = zk_find_str(host, r->l->kids.data, (size_t)r->l->kids.count)))
        return;    /* not live: its node is gone */
    f = &r->l->fetch[kid - r->l->kids.data];
    if (zk_sign_decode(r->arena, name, r->instances, &hl, &ms) < 0)
        return;
    if (f->from_sign && f->sum.report->generated_ms >= ms.report->generated_ms)
        return;
    f->sum = ms;
    f->summarised = f->from_sign = true;
    f->rc = ZOK;
}

static void on_shard(int rc, const struct String_vector *v, const void *arg)
{
    sign_read *r = (sign_read *)arg;

    /* a shard that cannot be read: its members' nodes are read instead */
    for (int i = 0; rc == ZOK && v && i < v->count; i++)
        take_sign(r, v->data[i]);
    zk_batch_answered(r->batch, 0);
}

/* Every shard's signs, asked at once.  Nothing happens when they cannot be
 * listed: every node is read instead. */
void zk_read_signs(zk_sg *z, const char *group, zk_listing *l, dv_arena *arena, bool instances)
{
    char *base = zk_signs_path(z, group);
    zk_batch b;
    sign_read r = { &b, l, arena, instances };
    drover_error why;

    if (!base || !l->kids.count || zk_ensure_session(z, &why) < 0) {
        free(base);
        return;
    }
    zk_batch_init(&b);
    for (unsigned k = 0; k < ZK_SIGN_SHARDS; k++) {
        char *path = zk_printf("%s/%02x", base, k);
        if (!path)
            break;
        zk_batch_ask(&b, 0);
        if (zoo_aget_children(z->zc.zh, path, 0, on_shard, &r) != ZOK)
            on_shard(ZSYSTEMERROR, NULL, &r);
        free(path);
    }
    zk_batch_wait(&b);
    free(base);
}
