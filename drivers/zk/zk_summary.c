/* zk_summary.c - a member node's value (its report's summary, then the
 * report) and get_summaries, which reads the summaries alone (zk.h). */
#include "drivers/zk/zk.h"

#include <inttypes.h>

/* ---------------------------------------------------------------- the value */

/* "dvs1 <L>\n" + summary (L bytes) + json, malloc'ed in *out.  A report that
 * does not decode gets L = 0: readers then know it without parsing it. */
int zk_value_make(zk_sg *z, const char *json, char **out, int *len, drover_error *err)
{
    size_t jl = strlen(json), sl = 0, cap;
    char *sum = NULL, *v;
    int n;

    *out = NULL;
    if (jl == 0) {      /* no report: the node stays empty, as before */
        *len = 0;
        return (*out = strdup("")) ? 0 : zk_nomem(err);
    }
    if (dv_summary_of_json(z->dec, json, jl, &sum, &sl, err) < 0)
        return -1;
    cap = sizeof ZK_SUM_MAGIC + 24 + sl + jl;
    if (!(v = malloc(cap))) {
        free(sum);
        return zk_nomem(err);
    }
    n = snprintf(v, cap, ZK_SUM_MAGIC "%zu\n", sl);
    if (sl)
        memcpy(v + n, sum, sl);
    memcpy(v + n + sl, json, jl);
    v[(size_t)n + sl + jl] = '\0';
    free(sum);
    *out = v;
    *len = (int)((size_t)n + sl + jl);
    return 0;
}

bool zk_value_split(const char *data, size_t len, const char **sum, size_t *sum_len,
                    const char **json, size_t *json_len)
{
    const size_t ml = sizeof ZK_SUM_MAGIC - 1;
    const char *p = data + ml, *end = data + len;
    uint64_t l = 0;
    int digits = 0;

    *sum = *json = NULL;
    *sum_len = *json_len = 0;
    if (len < ml || memcmp(data, ZK_SUM_MAGIC, ml) != 0) {
        *json = data;
        *json_len = len;
        return true;
    }
    while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
        l = l * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (!digits || p == end || *p++ != '\n' || l > (uint64_t)(end - p))
        return false;
    *sum = l ? p : NULL;
    *sum_len = (size_t)l;
    *json = p + l;
    *json_len = (size_t)(end - *json);
    return true;
}

/* On the completion thread: decode the summary of a node's value into
 * f->arena.  false when the value has none that reads (a node of the
 * earlier version, or a summary that does not decode): the caller then
 * keeps the value and the report is summarised from its JSON. */
bool zk_fetch_summarise(zk_fetch *f, const char *value, int len)
{
    const char *sum, *json;
    size_t sum_len, json_len, used = 0;

    if (!zk_value_split(value, (size_t)len, &sum, &sum_len, &json, &json_len) || !sum_len)
        return false;
    memset(&f->sum, 0, sizeof f->sum);
    if (dv_summary_decode(f->arena, sum, sum_len, f->instances, &used, &f->sum, NULL) < 0 ||
        used != sum_len) {
        memset(&f->sum, 0, sizeof f->sum);
        return false;
    }
    f->sum.stored = true;
    f->summarised = true;
    return true;
}

/* ---------------------------------------------------------------- get_summaries */

/* A node whose summary was not decoded on arrival: of the earlier version
 * (JSON alone), a report that does not decode (L = 0), a summary that does
 * not read (ignored in favour of the report after it) or a header that
 * does not (refused: no report). */
static int summary_of_data(zk_sg *z, zk_fetch *f, dv_arena *a, bool instances,
                           dv_member_summary *ms, drover_error *err)
{
    const char *sum, *json;
    size_t sum_len, json_len;
    char *s = NULL;
    size_t sl = 0;

    memset(ms, 0, sizeof *ms);
    if (!f->data)
        return 0;
    ms->stored = true;
    if (!zk_value_split(f->data, (size_t)f->len, &sum, &sum_len, &json, &json_len)) {
        dv_debug("zk: %s: its value's summary header does not read: listed without a report",
                 f->path);
        return 0;
    }
    if (!sum && json != f->data)
        return 0;   /* "dvs1 0\n": the writer found the report undecodable */
    if (sum_len)
        dv_debug("zk: %s: its summary does not read: the report after it is read instead",
                 f->path);
    if (dv_summary_of_json(z->dec, json, json_len, &s, &sl, err) < 0)
        return -1;
    if (s) {
        drover_error local;
        int rc = dv_summary_decode(a, s, sl, instances, NULL, ms, &local);
        free(s);
        if (rc < 0 && local.code == DROVER_ERR_NOMEM)
            return zk_nomem(err);
        ms->stored = true;
    }
    return 0;
}

/* Member k of the list, its strings in the arena (the list is packed). */
static int summary_member(zk_sg *z, const zk_listing *l, const char *g, const char *host,
                          int64_t now, dv_arena *a, bool instances, drover_member *m,
                          dv_member_summary *ms, drover_error *err)
{
    const dv_admin *ad = sg_admin_find(l->admin, l->n_admin, host);
    zk_fetch *f = zk_listing_find(l, host);

    memset(m, 0, sizeof *m);
    memset(ms, 0, sizeof *ms);
    m->packed = true;
    m->group = (char *)g;
    m->state = l->reachable ? zk_state_of(f, ad) : DROVER_UNKNOWN;
    if (!(m->host = dv_arena_strndup(a, host, strlen(host))))
        return zk_nomem(err);
    if (ad) {
        m->disabled = ad->disabled;
        m->forced_down = ad->forced_down;
        if (ad->reason && !(m->disabled_reason = dv_arena_strndup(a, ad->reason, strlen(ad->reason))))
            return zk_nomem(err);
    }
    if (!f || f->rc != ZOK)
        return 0;
    m->last_seen_ms = now;
    if (f->summarised) {
        *ms = f->sum;
        return 0;
    }
    return summary_of_data(z, f, a, instances, ms, err);
}

static int summaries_of(zk_sg *z, const char *group, bool instances, dv_summary_list *out,
                        drover_error *err)
{
    zk_listing l = { 0 };
    char **hosts = NULL, *g;
    size_t nh = 0;
    int64_t now;
    int rc = -1;

    if (!(out->arena = dv_arena_new()) || !(g = dv_arena_strndup(out->arena, group, strlen(group))))
        return zk_nomem(err);
    if (zk_list_group(z, group, true, out->arena, instances, &l, err) < 0)
        goto done;
    now = dv_clock_now(&z->base.clock);
    if (!l.reachable && l.n_known + l.n_admin == 0) {
        dv_err_copy(err, &l.why);
        goto done;
    }
    if (!(hosts = zk_listing_hosts(&l, &nh)) || !(out->members = calloc(nh + 1, sizeof *out->members)) ||
        !(out->sums = calloc(nh + 1, sizeof *out->sums))) {
        zk_nomem(err);
        goto done;
    }
    for (; out->n < nh; out->n++)
        if (summary_member(z, &l, g, hosts[out->n], now, out->arena, instances,
                           &out->members[out->n], &out->sums[out->n], err) < 0)
            goto done;
    rc = 0;
done:
    free(hosts);
    zk_listing_free(&l);
    return rc;
}

/* Every member with its summary, from the same pipelined reads as get_all;
 * the summaries are decoded as they arrive, no report is parsed. */
int zk_op_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                        drover_error *err)
{
    memset(out, 0, sizeof *out);
    if (summaries_of(zk_me(sg), group, instances, out, err) < 0) {
        dv_summary_list_free(out);
        return -1;
    }
    return 0;
}
