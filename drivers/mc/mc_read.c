/* mc_read.c - is_up, get, get_all and the liveness sweep. */
#include "drivers/mc/mc.h"

/* ---------------------------------------------------------------- reads */

/* What a hit tells about member i of a batch. */
typedef struct sweep {
    mc_sg *m;
    drover_member *v;
    const size_t *idx;              /* batch position -> member index */
    bool *present;
    bool reports;                   /* copy and decode reports (get_all) or not (get_states) */
} sweep;

static void fill_from_value(mc_sg *m, drover_member *mb, bool *present, bool reports,
                            const char *value, size_t len)
{
    mc_parsed p;

    if (!mc_value_parse(value, len, mb->group, mb->host, &p)) {
        dv_debug("memcached value of %s/%s is not drover's: ignored", mb->group, mb->host);
        return;
    }
    *present = true;
    mb->last_seen_ms = p.ts;
    if (reports && p.report_len && (mb->report_json = malloc(p.report_len + 1))) {
        memcpy(mb->report_json, p.report, p.report_len);
        mb->report_json[p.report_len] = '\0';
        /* a report that does not decode is kept as text; report stays NULL */
        dv_report_decode(m->dec, mb->report_json, p.report_len, &mb->report, NULL);
    }
}

static void sweep_hit(void *ctx, size_t j, const char *value, size_t len)
{
    sweep *sw = ctx;
    size_t i = sw->idx[j];

    fill_from_value(sw->m, &sw->v[i], &sw->present[i], sw->reports, value, len);
}

/* The members (sorted) with admin state merged in. */
int mc_members_from_db(mc_sg *m, const char *group, drover_member **out, size_t *n,
                           drover_error *err)
{
    char **hosts;
    dv_admin *adm;
    size_t nh, na, i;
    drover_member *v;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (dv_statedb_member_list(m->db, group, &hosts, &nh, err) < 0)
        return -1;
    if (sg_admin_all(&m->admin, group, &adm, &na, err) < 0) {
        dv_strv_free(hosts, nh);
        return -1;
    }
    if (!(v = calloc(nh ? nh : 1, sizeof *v))) {
        mc_nomem(err);
        goto out;
    }
    for (i = 0; i < nh; i++) {
        v[i].host = hosts[i];
        hosts[i] = NULL;
        v[i].state = DROVER_UNKNOWN;
        if (!(v[i].group = strdup(group))) {
            mc_nomem(err);
            break;
        }
        if (sg_admin_apply(&v[i], sg_admin_find(adm, na, v[i].host), err) < 0)
            break;
    }
    if (i < nh) {
        drover_members_free(v, nh);
        goto out;
    }
    *out = v;
    *n = nh;
    rc = 0;
out:
    dv_strv_free(hosts, nh);
    dv_admins_free(adm, na);
    return rc;
}

/* The keys of every member (or of their summaries), in one buffer: key[i] (klen[i] bytes); the
 * pointers are set at the end, once the buffer stops moving. */
int mc_member_keys(const char *group, const drover_member *v, size_t nm, bool summary,
                   char **arena_out, char ***key_out, size_t **klen_out)
{
    size_t cap = nm * 32 + 256, used = 0;
    char *arena = malloc(cap), **key = calloc(nm + 1, sizeof *key);
    size_t *klen = calloc(nm + 1, sizeof *klen);

    if (!arena || !key || !klen)
        goto fail;
    for (size_t i = 0; i < nm; i++) {
        if (used + KEY_MAX + 1 > cap) {
            char *bigger = realloc(arena, cap * 2);
            if (!bigger)
                goto fail;
            arena = bigger;
            cap *= 2;
        }
        klen[i] = summary ? mc_summary_key(arena + used, group, v[i].host)
                          : mc_member_key(arena + used, group, v[i].host);
        used += klen[i] + 1;
    }
    for (size_t i = 0, off = 0; i < nm; i++) {
        key[i] = arena + off;
        off += klen[i] + 1;
    }
    *arena_out = arena;
    *key_out = key;
    *klen_out = klen;
    return 0;
fail:
    free(arena);
    free(key);
    free(klen);
    return -1;
}

/* A sweep's keys and answers, one slot per member (+ 1 for n == 0). */
typedef struct sweep_buf {
    char *arena, **key;
    size_t *klen, *lens, *idx;
    uint32_t *srv;
    const char **bkeys;
    bool *present;
    answer *verdict;
} sweep_buf;

static void sweep_buf_free(sweep_buf *b)
{
    free(b->arena);
    free(b->key);
    free(b->klen);
    free(b->srv);
    free(b->present);
    free(b->bkeys);
    free(b->lens);
    free(b->idx);
    free(b->verdict);
}

static int sweep_buf_make(mc_sg *m, const char *group, const drover_member *v, size_t nm,
                          sweep_buf *b)
{
    if (mc_member_keys(group, v, nm, false, &b->arena, &b->key, &b->klen) < 0 ||
        !(b->srv = calloc(nm + 1, sizeof *b->srv)) ||
        !(b->present = calloc(nm + 1, sizeof *b->present)) ||
        !(b->bkeys = calloc(nm + 1, sizeof *b->bkeys)) ||
        !(b->lens = calloc(nm + 1, sizeof *b->lens)) || !(b->idx = calloc(nm + 1, sizeof *b->idx)) ||
        !(b->verdict = calloc(nm + 1, sizeof *b->verdict)))
        return -1;
    for (size_t i = 0; i < nm; i++)
        b->srv[i] = mc_server_of(m, b->key[i], b->klen[i]);
    return 0;
}

/* Judge the members on server s (forced-down members need no answer). */
static int sweep_server(mc_sg *m, uint32_t s, drover_member *v, size_t nm, bool reports,
                        sweep_buf *b, drover_error *err)
{
    sweep sw = { m, v, b->idx, b->present, reports };
    memcached_return_t why;
    size_t n = 0;

    for (size_t i = 0; i < nm; i++)
        if (b->srv[i] == s && !v[i].forced_down) {
            b->bkeys[n] = b->key[i];
            b->lens[n] = b->klen[i];
            b->idx[n++] = i;
        }
    if (!n)
        return 0;
    if (mc_ask(m, s, b->bkeys, b->lens, n, sweep_hit, &sw, b->verdict, &why) < 0)
        return mc_nomem(err);
    if (why != MEMCACHED_SUCCESS && mc_is_auth(m->srv[s].cause))
        return mc_fail(m, s, why, "listing members", err);
    if (why != MEMCACHED_SUCCESS) {
        char buf[160];
        dv_debug("listing members: memcached %s cannot be asked (%s): its members are UNKNOWN",
                 m->srv[s].addr, mc_cause_text(m, s, why, buf, sizeof buf));
    }
    for (size_t j = 0; j < n; j++)
        v[b->idx[j]].state = mc_judge(false, b->present[b->idx[j]], b->verdict[j]);
    return 0;
}

/* Every member, asking each server apart; reports too if asked for. */
static int sweep_all(dv_sg *sg, const char *group, bool reports, drover_member **members,
                     size_t *n, drover_error *err)
{
    mc_sg *m = mc_me(sg);
    drover_member *v;
    size_t nm;
    sweep_buf b = { 0 };
    int rc = -1;

    if (mc_idx_sync(m, group, SIZE_MAX, err) < 0 || mc_members_from_db(m, group, &v, &nm, err) < 0)
        return -1;
    if (sweep_buf_make(m, group, v, nm, &b) < 0) {
        mc_nomem(err);
        goto out;
    }
    for (uint32_t s = 0; s < m->n_srv; s++)
        if (sweep_server(m, s, v, nm, reports, &b, err) < 0)
            goto out;
    for (size_t i = 0; i < nm; i++)
        if (v[i].forced_down)
            v[i].state = DROVER_DOWN;
    *members = v;
    *n = nm;
    v = NULL;
    rc = 0;
out:
    drover_members_free(v, nm);
    sweep_buf_free(&b);
    return rc;
}

int mc_get_all(dv_sg *sg, const char *group, drover_member **members, size_t *n,
               drover_error *err)
{
    return sweep_all(sg, group, true, members, n, err);
}

/* The liveness sweep: the same multi-gets, no report copied or decoded. */
int mc_get_states(dv_sg *sg, const char *group, drover_member **members, size_t *n,
                  drover_error *err)
{
    return sweep_all(sg, group, false, members, n, err);
}

typedef struct one {
    mc_sg *m;
    drover_member *mb;
    bool present;
} one;

static void one_hit(void *ctx, size_t j, const char *value, size_t len)
{
    one *o = ctx;

    (void)j;
    fill_from_value(o->m, o->mb, &o->present, true, value, len);
}

/* Ask about one member: fills mb (group, host, admin, state, last seen,
 * report).  Returns 0, or -1 on a statedb, auth or NOT_FOUND error; an
 * unanswered server gives state UNKNOWN and the reason in *why_text. */
static int probe(mc_sg *m, const char *group, const char *host, bool ask_forced,
                 drover_member *mb, char *why_text, size_t why_sz, drover_error *err)
{
    mc_place at;
    const char *keys[1];
    size_t lens[1];
    uint32_t s;
    dv_admin adm = { 0 };
    one o = { m, mb, false };
    memcached_return_t why;
    answer a;

    memset(mb, 0, sizeof *mb);
    why_text[0] = '\0';
    if (mc_need_member(m, group, host, err) < 0)
        return -1;
    if (sg_admin_get(&m->admin, group, host, &adm, err) < 0)
        return -1;
    if (sg_admin_apply(mb, &adm, err) < 0) {
        dv_admin_clear(&adm);
        return -1;
    }
    dv_admin_clear(&adm);
    if (!(mb->group = strdup(group)) || !(mb->host = strdup(host))) {
        drover_member_clear(mb);
        return mc_nomem(err);
    }
    if (mb->forced_down && !ask_forced) {
        mb->state = DROVER_DOWN;
        return 0;
    }
    mc_place_of(m, group, host, &at);
    keys[0] = at.key;
    lens[0] = at.klen;
    s = at.s;
    if (mc_ask(m, s, keys, lens, 1, one_hit, &o, &a, &why) < 0) {
        drover_member_clear(mb);
        return mc_nomem(err);
    }
    if (a == ANS_NONE && mc_is_auth(m->srv[s].cause)) {
        drover_member_clear(mb);
        return mc_fail(m, s, why, host, err);
    }
    mb->state = mc_judge(mb->forced_down, o.present, a);
    if (a == ANS_NONE) {
        char buf[160];
        snprintf(why_text, why_sz, "cannot reach memcached %s: %s", m->srv[s].addr,
                 mc_cause_text(m, s, why, buf, sizeof buf));
    } else if (mb->state == DROVER_UNKNOWN) {
        snprintf(why_text, why_sz,
                 "memcached %s lost its keys less than %lld s ago (restarted or flushed) and "
                 "\"%s\" has not heartbeated since: UNKNOWN until it does or that time passes",
                 m->srv[s].addr, (long long)m->ttl, host);
    }
    return 0;
}

int mc_is_up(dv_sg *sg, const char *group, const char *host, drover_liveness *state,
             drover_error *err)
{
    drover_member mb;
    char why[512];
    int rc = probe(mc_me(sg), group, host, false, &mb, why, sizeof why, err);

    if (rc < 0)
        return -1;
    *state = mb.state;
    drover_member_clear(&mb);
    if (*state == DROVER_UNKNOWN)
        return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC, "is %s up? %s", host, why);
    return 0;
}

/* One member; when memcached cannot be asked its state is UNKNOWN (and the
 * admin state, kept locally, is still right). */
int mc_get(dv_sg *sg, const char *group, const char *host, drover_member *member,
           drover_error *err)
{
    char why[512];

    if (probe(mc_me(sg), group, host, true, member, why, sizeof why, err) < 0)
        return -1;
    if (why[0])
        dv_debug("%s", why);
    return 0;
}
