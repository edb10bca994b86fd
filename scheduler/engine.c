/* engine.c - filter, weigh, pick.  The hot path of a placement: one pass
 * over the hosts through the filter chain, a pass per weigher over the
 * survivors, a linear top-k for the pick.  Scratch arrays live in dv_sched and grow only when
 * the fleet does, so a placement allocates nothing per host. */
#include "scheduler/scheduler.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dv_sched_seed(dv_sched *s, uint64_t seed)
{
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t next_random(dv_sched *s)
{
    /* xorshift64*: fast, good enough to spread picks among a few hosts */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int dv_sched_init_lists(dv_sched *s, const dv_sched_params *p, const char *const *filters,
                        size_t n_filters, const char *const *weighers, size_t n_weighers,
                        drover_error *err)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    if (s->p.host_subset_size < 1)
        s->p.host_subset_size = 1;
    if (n_filters > DV_SCHED_MAX_FILTERS || n_weighers > DV_SCHED_MAX_WEIGHERS)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                      "scheduler: at most %d filters and %d weighers can be chained",
                      DV_SCHED_MAX_FILTERS, DV_SCHED_MAX_WEIGHERS);
    for (size_t i = 0; i < n_filters; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(filters[i], filters[j]) == 0)
                return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                              "scheduler.filters lists \"%s\" twice", filters[i]);
        if (!(s->filters[i] = dv_filter_find(filters[i], err)))
            return -1;
    }
    s->n_filters = n_filters;
    for (size_t i = 0; i < n_weighers; i++)
        if (!(s->weighers[i] = dv_weigher_find(weighers[i], err)))
            return -1;
    s->n_weighers = n_weighers;
    dv_sched_seed(s, (uint64_t)dv_wall_ms() * 0x100000001b3ULL ^ (uint64_t)getpid() << 32 ^
                         (uint64_t)(uintptr_t)s);
    return 0;
}

int dv_sched_init(dv_sched *s, const dv_config *cfg, drover_error *err)
{
    dv_sched_params p;
    dv_sched_params_from_config(cfg, &p);
    return dv_sched_init_lists(s, &p, (const char *const *)cfg->scheduler.filters.v,
                               cfg->scheduler.filters.n,
                               (const char *const *)cfg->scheduler.weighers.v,
                               cfg->scheduler.weighers.n, err);
}

void dv_sched_fini(dv_sched *s)
{
    free(s->cand);
    free(s->weight);
    free(s->raw);
    s->cand = NULL;
    s->weight = s->raw = NULL;
    s->cap = 0;
}

static int reserve(dv_sched *s, size_t n, drover_error *err)
{
    uint32_t *c;
    double *w, *r;

    if (n <= s->cap)
        return 0;
    if (n > UINT32_MAX)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                      "%zu hosts is more than the scheduler can index", n);
    c = realloc(s->cand, n * sizeof *c);
    if (c)
        s->cand = c;
    w = realloc(s->weight, n * sizeof *w);
    if (w)
        s->weight = w;
    r = realloc(s->raw, n * sizeof *r);
    if (r)
        s->raw = r;
    if (!c || !w || !r)
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    s->cap = n;
    return 0;
}

int dv_sched_filter(dv_sched *s, const dv_host_state *hosts, size_t n,
                    const dv_sched_request *r, size_t *n_cand, size_t *rejected,
                    dv_verdict *verdicts, drover_error *err)
{
    const size_t nf = s->n_filters;
    size_t kept = 0;

    *n_cand = 0;
    if (reserve(s, n, err) < 0)
        return -1;
    for (size_t f = 0; f < nf; f++)
        rejected[f] = 0;
    /* One pass over the hosts, each through the chain until a filter says
     * no: every host state is read once (filter after filter over the
     * survivors would stream the whole array once per filter).  The counts
     * are the same: a host is charged to the first filter rejecting it. */
    for (size_t i = 0; i < n; i++) {
        const dv_host_state *h = &hosts[i];
        dv_verdict *v = verdicts ? &verdicts[i] : NULL;
        size_t f = 0;
        while (f < nf && s->filters[f]->host_passes(h, r, v ? v->reason : NULL, DV_REASON_MAX))
            f++;
        if (f == nf) {
            s->cand[kept++] = (uint32_t)i;
            continue;
        }
        rejected[f]++;
        if (v) {
            v->kind = DV_VERDICT_FILTERED;
            v->filter = (int)f;
        }
    }
    *n_cand = kept;
    return 0;
}

void dv_sched_weigh(dv_sched *s, const dv_host_state *hosts, size_t n_cand,
                    const dv_sched_request *r)
{
    for (size_t i = 0; i < n_cand; i++)
        s->weight[i] = 0.0;
    for (size_t w = 0; w < s->n_weighers; w++) {
        double (*weigh)(const dv_host_state *, const dv_sched_request *) = s->weighers[w]->weigh;
        double mult = s->weighers[w]->multiplier(&s->p), lo = 0.0, hi = 0.0, range;
        if (mult == 0.0 || n_cand == 0)
            continue;
        for (size_t i = 0; i < n_cand; i++) {
            double v = weigh(&hosts[s->cand[i]], r);
            s->raw[i] = v;
            if (i == 0 || v < lo)
                lo = v;
            if (i == 0 || v > hi)
                hi = v;
        }
        /* Nova: scale to 0..1 over the hosts being weighed; all equal -> 0 */
        range = hi - lo;
        if (range <= 0.0)
            continue;
        for (size_t i = 0; i < n_cand; i++)
            s->weight[i] += mult * ((s->raw[i] - lo) / range);
    }
}

/* Is candidate a better than b?  Ties go to the lower host index (the
 * member list is sorted by name), so equal hosts are taken in name order. */
static bool better(const dv_sched *s, size_t a, size_t b)
{
    if (s->weight[a] != s->weight[b])
        return s->weight[a] > s->weight[b];
    return s->cand[a] < s->cand[b];
}

static int by_weight(const void *a, const void *b, void *arg)
{
    const dv_sched *s = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return better(s, x, y) ? -1 : better(s, y, x) ? 1 : 0;
}

/* A large subset: sort the positions and take one of the k first.  -1 when
 * the scratch array cannot be had (the caller then caps k). */
static long pick_sorted(dv_sched *s, size_t n, size_t k)
{
    size_t *pos = malloc(n * sizeof *pos);
    long at;

    if (!pos)
        return -1;
    for (size_t i = 0; i < n; i++)
        pos[i] = i;
    qsort_r(pos, n, sizeof *pos, by_weight, s);
    at = (long)pos[next_random(s) % k];
    free(pos);
    return at;
}

long dv_sched_pick(dv_sched *s, size_t *n_cand)
{
    enum { TOPK_MAX = 64 };
    size_t n = *n_cand, k = (size_t)s->p.host_subset_size, top[TOPK_MAX], nt = 0, at;
    long host, sorted;

    if (n == 0)
        return -1;
    if (k > n)
        k = n;
    if (k > TOPK_MAX) {
        if ((sorted = pick_sorted(s, n, k)) >= 0) {
            at = (size_t)sorted;
            goto take;
        }
        k = TOPK_MAX;
    }
    /* keep the k best positions, best first (k is small: insertion) */
    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (nt == k && !better(s, i, top[k - 1]))
            continue;
        j = nt < k ? nt++ : k - 1;
        while (j > 0 && better(s, i, top[j - 1])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    at = top[k > 1 ? next_random(s) % k : 0];
take:
    host = (long)s->cand[at];
    /* remove it: the last candidate takes its slot */
    s->cand[at] = s->cand[n - 1];
    s->weight[at] = s->weight[n - 1];
    *n_cand = n - 1;
    return host;
}
