/* mc_summary.c - get_summaries: the members' summary keys in multi-gets
 * (mc.h, "Summaries"), their member keys only for those without one. */
#include "drivers/mc/mc.h"

/* One get_summaries call: member i's key, summary key and what was found. */
typedef struct sums {
    mc_sg *m;
    drover_member *v;
    dv_member_summary *ms;
    dv_arena *arena;
    bool instances;
    char *karena, **key, *sarena, **skey;
    size_t *klen, *sklen;
    uint32_t *srv;
    bool *found;                    /* the member's key or summary was there */
    bool *resolved;                 /* its summary is known */
    const size_t *idx;              /* batch position -> member, for the hits */
    drover_error *nomem;            /* set when the arena ran out */
} sums;

static void sums_free(sums *c)
{
    free(c->karena);
    free(c->key);
    free(c->klen);
    free(c->sarena);
    free(c->skey);
    free(c->sklen);
    free(c->srv);
    free(c->found);
    free(c->resolved);
}

/* A summary value's body: the summary, SUM_UNDECODABLE, or nothing (no
 * report).  false: it does not read (the report is asked for instead). */
static bool take_summary(sums *c, size_t i, const char *body, size_t len)
{
    dv_member_summary *ms = &c->ms[i];
    drover_error local;
    size_t used = 0;

    memset(ms, 0, sizeof *ms);
    if (len == 0)
        return true;
    ms->stored = true;
    if (len == sizeof SUM_UNDECODABLE - 1 && memcmp(body, SUM_UNDECODABLE, len) == 0)
        return true;
    if (dv_summary_decode(c->arena, body, len, c->instances, &used, ms, &local) == 0 &&
        used == len) {
        ms->stored = true;
        return true;
    }
    if (local.code == DROVER_ERR_NOMEM && c->nomem)
        dv_err_copy(c->nomem, &local);
    memset(ms, 0, sizeof *ms);
    dv_debug("memcached summary of %s/%s does not read: its report is read instead",
             c->v[i].group, c->v[i].host);
    return false;
}

static void summary_hit(void *ctx, size_t j, const char *value, size_t len)
{
    sums *c = ctx;
    size_t i = c->idx[j];
    mc_parsed p;

    if (!mc_value_parse(value, len, c->v[i].group, c->v[i].host, &p))
        return;                     /* not ours: read the member key */
    c->found[i] = true;
    c->v[i].last_seen_ms = p.ts;
    c->resolved[i] = take_summary(c, i, p.report, p.report_len);
}

/* A member key read because its summary was missing or did not read: an
 * agent of the earlier version (or one whose summary write failed). */
static void report_hit(void *ctx, size_t j, const char *value, size_t len)
{
    sums *c = ctx;
    size_t i = c->idx[j];
    dv_member_summary *ms = &c->ms[i];
    char *s = NULL;
    size_t sl = 0;
    mc_parsed p;

    if (!mc_value_parse(value, len, c->v[i].group, c->v[i].host, &p))
        return;
    c->found[i] = true;
    c->v[i].last_seen_ms = p.ts;
    memset(ms, 0, sizeof *ms);
    if (!p.report_len)
        return;
    ms->stored = true;
    if (dv_summary_of_json(c->m->dec, p.report, p.report_len, &s, &sl, c->nomem) == 0 && s) {
        drover_error local;
        if (dv_summary_decode(c->arena, s, sl, c->instances, NULL, ms, &local) < 0 &&
            local.code == DROVER_ERR_NOMEM && c->nomem)
            dv_err_copy(c->nomem, &local);
        ms->stored = true;
    }
    free(s);
}

/* Ask server s for the keys (summaries: the summary keys) of its members
 * that need it; judge each one asked. */
static int ask_server(sums *c, uint32_t s, size_t nm, bool summaries, const char **bk,
                      size_t *bl, size_t *idx, answer *verdict, drover_error *err)
{
    mc_sg *m = c->m;
    memcached_return_t why;
    size_t n = 0;

    for (size_t i = 0; i < nm; i++)
        if (c->srv[i] == s && !c->v[i].forced_down && !c->resolved[i] &&
            (summaries || c->v[i].state != DROVER_UNKNOWN)) {
            if (!summaries)
                c->found[i] = false;    /* liveness by the member key now */
            bk[n] = summaries ? c->skey[i] : c->key[i];
            bl[n] = summaries ? c->sklen[i] : c->klen[i];
            idx[n++] = i;
        }
    if (!n)
        return 0;
    c->idx = idx;
    if (mc_ask(m, s, bk, bl, n, summaries ? summary_hit : report_hit, c, verdict, &why) < 0)
        return mc_nomem(err);
    if (why != MEMCACHED_SUCCESS && mc_is_auth(m->srv[s].cause))
        return mc_fail(m, s, why, "listing member summaries", err);
    for (size_t j = 0; j < n; j++) {
        size_t i = idx[j];
        /* a summary pass leaves DOWN for the report pass to confirm */
        c->v[i].state = mc_judge(false, c->found[i], verdict[j]);
        if (summaries && c->v[i].state != DROVER_UP && verdict[j] != ANS_NONE)
            c->v[i].state = DROVER_DOWN;
    }
    return 0;
}

static int sums_make(sums *c, const char *group, size_t nm)
{
    if (mc_member_keys(group, c->v, nm, false, &c->karena, &c->key, &c->klen) < 0 ||
        mc_member_keys(group, c->v, nm, true, &c->sarena, &c->skey, &c->sklen) < 0 ||
        !(c->srv = calloc(nm + 1, sizeof *c->srv)) ||
        !(c->found = calloc(nm + 1, sizeof *c->found)) ||
        !(c->resolved = calloc(nm + 1, sizeof *c->resolved)))
        return -1;
    for (size_t i = 0; i < nm; i++)
        c->srv[i] = mc_server_of(c->m, c->key[i], c->klen[i]);
    return 0;
}

/* Both passes over every server: the summaries, then the member keys of
 * those whose summary did not answer. */
static int ask_all(sums *c, size_t nm, drover_error *err)
{
    const char **bk = calloc(nm + 1, sizeof *bk);
    size_t *bl = calloc(nm + 1, sizeof *bl), *idx = calloc(nm + 1, sizeof *idx);
    answer *verdict = calloc(nm + 1, sizeof *verdict);
    int rc = bk && bl && idx && verdict ? 0 : mc_nomem(err);

    for (int pass = 0; rc == 0 && pass < 2; pass++)
        for (uint32_t s = 0; rc == 0 && s < c->m->n_srv; s++)
            rc = ask_server(c, s, nm, pass == 0, bk, bl, idx, verdict, err);
    free(bk);
    free(bl);
    free(idx);
    free(verdict);
    return rc;
}

int mc_get_summaries(dv_sg *sg, const char *group, bool instances, dv_summary_list *out,
                     drover_error *err)
{
    mc_sg *m = mc_me(sg);
    drover_error nomem = { 0 };
    sums c = { .m = m, .instances = instances, .nomem = &nomem };
    size_t nm = 0;

    memset(out, 0, sizeof *out);
    if (mc_idx_sync(m, group, SIZE_MAX, err) < 0 || mc_members_from_db(m, group, &c.v, &nm, err) < 0)
        return -1;
    out->members = c.v;
    out->n = nm;
    if (!(out->arena = c.arena = dv_arena_new()) ||
        !(out->sums = c.ms = calloc(nm + 1, sizeof *c.ms)) || sums_make(&c, group, nm) < 0) {
        mc_nomem(err);
        goto fail;
    }
    if (ask_all(&c, nm, err) < 0)
        goto fail;
    if (nomem.code) {
        dv_err_copy(err, &nomem);
        goto fail;
    }
    for (size_t i = 0; i < nm; i++)
        if (c.v[i].forced_down)
            c.v[i].state = DROVER_DOWN;
    sums_free(&c);
    return 0;
fail:
    sums_free(&c);
    dv_summary_list_free(out);
    return -1;
}
