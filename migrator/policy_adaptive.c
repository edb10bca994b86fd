/* policy_adaptive.c - `adaptive` (the default): steer a live migration by
 * its progress across pre-copy iterations, not by the clock.
 *
 * How pre-copy ends: at the end of each pass (iteration) QEMU re-reads the
 * dirty bitmap; the data then remaining, R, is what the next pass must
 * send.  When R <= transfer rate x maximum downtime, QEMU pauses the guest
 * and sends the rest: the migration converges.  Each pass lasts R / bps
 * seconds, during which the guest dirties memory again, so the next R is
 * about R x dirty / bps (bounded by the guest's working set).  A guest that
 * dirties as fast as the link carries never converges, at any pass count.
 *
 * What this policy does with every sample (samples with data_total = 0,
 * libvirt's first few hundred milliseconds, are ignored):
 *  - at the first one, it sets QEMU's own default maximum downtime, 300 ms
 *    (the configured maximum when that is lower): what a plain `virsh
 *    migrate` gets.  Starting lower (Nova's smallest step) buys nothing the
 *    guest notices -- QEMU pauses for what is left at the switch, R / bps,
 *    usually far below the maximum -- but costs extra passes: measured here,
 *    a 128 MiB guest took ~25 % longer than virsh at Nova's 50 ms;
 *  - at each iteration start from the second on, it estimates R at the
 *    bitmap sync (the remaining data of the sample plus what was sent into
 *    the new pass since the previous sample), and compares it with the
 *    smallest R seen at earlier iteration starts: "stalled" = it did not
 *    shrink by at least 10 % (a guest shrinking slower than that needs tens
 *    of passes to get from its working set to what a downtime allows);
 *  - stalled and R fits the maximum downtime (R <= bps x downtime_ms):
 *    raise the downtime at once to the smallest step that covers R / bps
 *    with a quarter of margin (R here, and in the tests of fitting below, is
 *    the largest of the last four iteration starts: when passes are shorter
 *    than the poll interval a sample lands anywhere in a pass and sees less
 *    than the pass began with);
 *  - R does not fit the maximum downtime and either the dirty rate (pages/s
 *    x page size) is at least the transfer rate or R is stalled: no
 *    convergence is predicted; the downtime goes to the maximum, and when
 *    the prediction holds at the next iteration start too (or R stays
 *    stalled for two iteration starts with the maximum in force),
 *    timeout_action is taken at once: force_complete = post-copy when
 *    permitted (never for a paused guest), else pause the guest until the
 *    copy completes; abort = cancel, with the figures as the reason;
 *  - otherwise the migration is converging: it says nothing, except that
 *    the prediction (passes and seconds left) goes into the reasons.
 * Nova's completion timeout (completion_timeout_s per GiB) stays as a
 * backstop for migrations that make no observable iterations.  In
 * post-copy nothing is done.  Each action is taken once. */
#include "migrator/policy.h"

#include <stdio.h>
#include <string.h>

#define STALL_SHRINK 0.9       /* R must fall below 90 % of the best to count as shrinking */
#define CONFIRM 2              /* iteration starts a no-convergence prediction must hold */
#define MARGIN_NUM 5           /* the downtime chosen covers R / bps x 5/4 */
#define MARGIN_DEN 4
#define DEFAULT_DOWNTIME_MS 300   /* QEMU's, when nothing was set or reported */
#define MIB 1048576.0
#define RECENT 4               /* iteration starts whose largest R sizes a pass */

typedef struct adaptive_state {
    bool started;              /* the first downtime step was set */
    bool acted;                /* the timeout action was taken */
    uint64_t iteration;        /* of the last usable sample */
    uint64_t last_remaining;   /* ... its data_remaining and data_processed */
    uint64_t last_processed;
    uint64_t best;             /* least R at an iteration start since the second */
    uint64_t bps;              /* the last non-zero transfer rate */
    uint64_t set_ms;           /* the downtime this policy last set; 0 none */
    uint64_t recent[RECENT];   /* R at the last iteration starts, a ring */
    unsigned n_recent;
    int hopeless;              /* consecutive iteration starts predicting no convergence */
    int stalled_at_max;        /* consecutive stalled iteration starts at the maximum */
} adaptive_state;

/* What one iteration start shows. */
typedef struct reading {
    const dv_mig_stats *st;
    uint64_t r;                /* remaining at the bitmap sync (estimate) */
    uint64_t pass;             /* what a pass must send: the largest of r and the
                                * recent iteration starts (a sample taken late in a
                                * short pass sees less than the pass began with) */
    uint64_t bps, dirty;       /* bytes/s */
    uint64_t cur_ms, max_ms;   /* downtime in force, allowed maximum */
    bool stalled;
} reading;

static void adaptive_init(void *state, const dv_mig_params *p)
{
    (void)p;
    adaptive_state *s = state;
    *s = (adaptive_state){ 0 };
}

static uint64_t fit_bytes(uint64_t bps, uint64_t ms)
{
    return (uint64_t)((double)bps * (double)ms / 1000.0);
}

static double mib(uint64_t b)
{
    return (double)b / MIB;
}

/* the figures every reason carries */
static int figures(char *buf, size_t size, const reading *r)
{
    return snprintf(buf, size,
                    "iteration %llu, %.1f s: remaining %.1f MiB (passes of up to %.1f), transfer "
                    "%.1f MiB/s, dirty %.1f MiB/s, downtime %llu ms (max %llu)",
                    (unsigned long long)r->st->mem_iteration, (double)r->st->elapsed_ms / 1000.0,
                    mib(r->r), mib(r->pass), mib(r->bps), mib(r->dirty), (unsigned long long)r->cur_ms,
                    (unsigned long long)r->max_ms);
}

/* a->why already says why; this adds what is done */
static void take_timeout_action(const dv_mig_params *p, dv_mig_action *a)
{
    size_t len = strlen(a->why);
    const char *what = dv_mig_timeout_choose(p, a);

    if (a->kind == DV_MIG_ACT_ABORT)
        what = "abort (the guest stays on the source)";
    snprintf(a->why + len, sizeof a->why - len, ": %s", what);
}

/* where the downtime starts: QEMU's default, within the maximum */
static uint64_t start_ms(const dv_mig_params *p)
{
    uint64_t max_ms = (uint64_t)dv_mig_eff_downtime_ms(p);
    return max_ms < DEFAULT_DOWNTIME_MS ? max_ms : DEFAULT_DOWNTIME_MS;
}

/* the smallest step >= want, the maximum when none is smaller */
static uint64_t step_covering(const dv_mig_params *p, uint64_t want, uint64_t max_ms)
{
    int steps = dv_mig_eff_steps(p);
    for (int i = 0; i < steps; i++) {
        uint64_t ms = dv_mig_step_ms(p, i);
        if (ms >= want)
            return ms < max_ms ? ms : max_ms;
    }
    return max_ms;
}

/* When R fits ms of downtime if it shrinks by dirty / bps each pass: the
 * passes and seconds left; false when it does not shrink. */
static bool predict(const reading *r, uint64_t ms, double *passes, double *secs)
{
    double rho = (double)r->dirty / (double)r->bps, target = (double)fit_bytes(r->bps, ms);

    if ((double)r->pass <= target) {
        *passes = 1;
        *secs = (double)r->pass / (double)r->bps;
        return true;
    }
    if (rho >= 1.0 || r->stalled || target <= 0.0)
        return false;
    /* pass lengths shrink geometrically from R / bps: walk them (a few
     * dozen at most for any rho that is not stalled) */
    double x = (double)r->pass;
    *passes = 0;
    *secs = 0;
    while (x > target && *passes < 1000) {
        *secs += x / (double)r->bps;
        x *= rho;
        *passes += 1;
    }
    *secs += x / (double)r->bps;
    *passes += 1;
    return true;
}

static size_t raise_to(adaptive_state *s, const reading *r, uint64_t ms, const char *because,
                       dv_mig_action *a)
{
    char fig[200], when[96] = "no convergence predicted at it";
    double passes, secs;

    if (ms <= r->cur_ms && ms <= s->set_ms)
        return 0;
    figures(fig, sizeof fig, r);
    if (predict(r, ms, &passes, &secs))
        snprintf(when, sizeof when, "predicted to converge in %.0f iteration(s), ~%.1f s", passes,
                 secs);
    a->kind = DV_MIG_ACT_SET_DOWNTIME;
    a->downtime_ms = ms;
    snprintf(a->why, sizeof a->why, "adaptive: %s; %s: downtime %llu -> %llu ms, %s", fig,
             because, (unsigned long long)r->cur_ms, (unsigned long long)ms, when);
    s->set_ms = ms;
    return 1;
}

/* The decision at an iteration start. */
static size_t at_iteration(adaptive_state *s, const dv_mig_params *p, const reading *r,
                           dv_mig_action *a)
{
    bool fits_max = r->pass <= fit_bytes(r->bps, r->max_ms);
    bool dirty_wins = r->dirty >= r->bps;
    char fig[200];

    if (r->pass <= fit_bytes(r->bps, r->cur_ms)) {
        s->hopeless = s->stalled_at_max = 0;   /* QEMU finishes at this sync */
        return 0;
    }
    s->hopeless = !fits_max && (dirty_wins || r->stalled) ? s->hopeless + 1 : 0;
    s->stalled_at_max = r->stalled && r->cur_ms >= r->max_ms ? s->stalled_at_max + 1 : 0;
    figures(fig, sizeof fig, r);
    if (s->hopeless >= CONFIRM || s->stalled_at_max >= CONFIRM) {
        snprintf(a->why, sizeof a->why, "adaptive: %s; predicted no convergence within %llu ms "
                 "for %d iterations (%s)", fig, (unsigned long long)r->max_ms, CONFIRM,
                 s->hopeless >= CONFIRM ? (dirty_wins ? "dirty rate >= transfer rate"
                                                      : "remaining data not shrinking")
                                        : "not shrinking at the maximum downtime");
        take_timeout_action(p, a);
        s->acted = true;
        return 1;
    }
    if (s->hopeless)
        return raise_to(s, r, r->max_ms,
                        dirty_wins ? "dirty rate >= transfer rate, the maximum is the last chance"
                                   : "not shrinking and beyond the maximum, its last chance",
                        a);
    if (r->stalled) {
        uint64_t need = r->pass * 1000 / r->bps * MARGIN_NUM / MARGIN_DEN;
        return raise_to(s, r, step_covering(p, need, r->max_ms),
                        "remaining data not shrinking; the step covering it", a);
    }
    return 0;
}

static reading read_start(const adaptive_state *s, const dv_mig_params *p, const dv_mig_stats *st)
{
    reading r = { .st = st, .r = st->data_remaining, .bps = s->bps };
    uint64_t page = st->mem_page_size ? st->mem_page_size : 4096;
    uint64_t sent = st->data_processed - s->last_processed;

    /* what went out since the last sample beyond the old pass's rest was
     * already taken off the new pass (one pass boundary between the two
     * samples only: across several, the sum would count whole passes) */
    if (s->last_processed && st->mem_iteration == s->iteration + 1 &&
        st->data_processed > s->last_processed && sent > s->last_remaining)
        r.r += sent - s->last_remaining;
    r.dirty = st->mem_dirty_rate * page;
    r.cur_ms = st->downtime_ms ? st->downtime_ms : s->set_ms ? s->set_ms : DEFAULT_DOWNTIME_MS;
    r.max_ms = (uint64_t)dv_mig_eff_downtime_ms(p);
    r.stalled = st->mem_iteration >= 3 && s->best &&
                (double)r.r >= STALL_SHRINK * (double)s->best;
    r.pass = r.r;
    for (unsigned i = 0; i < s->n_recent && i < RECENT; i++)
        if (s->recent[i] > r.pass)
            r.pass = s->recent[i];
    return r;
}

static size_t backstop(adaptive_state *s, const dv_mig_params *p, const dv_mig_stats *st,
                       dv_mig_action *a)
{
    int64_t t = dv_mig_completion_timeout_s(p);
    if (t <= 0 || st->elapsed_ms <= t * 1000)
        return 0;
    snprintf(a->why, sizeof a->why,
             "adaptive: not completed within the completion timeout of %lld s (%.2f GiB x %d s/GiB); "
             "iteration %llu, remaining %.1f MiB, downtime %llu ms",
             (long long)t, dv_mig_data_gib(p), p->completion_timeout_s,
             (unsigned long long)st->mem_iteration, mib(st->data_remaining),
             (unsigned long long)st->downtime_ms);
    take_timeout_action(p, a);
    s->acted = true;
    return 1;
}

static size_t adaptive_decide(void *state, const dv_mig_params *p, const dv_mig_stats *hist,
                              size_t n, dv_mig_action *out, size_t max)
{
    adaptive_state *s = state;
    const dv_mig_stats *st;
    size_t k = 0;

    if (n == 0 || max == 0 || s->acted || hist[n - 1].postcopy)
        return 0;
    st = &hist[n - 1];
    if (backstop(s, p, st, out))
        return 1;
    if (st->data_total == 0)
        return 0;
    if (st->mem_bps)
        s->bps = st->mem_bps;
    if (!s->started) {
        s->started = true;
        s->set_ms = start_ms(p);
        out[k].kind = DV_MIG_ACT_SET_DOWNTIME;
        out[k].downtime_ms = s->set_ms;
        snprintf(out[k].why, sizeof out[k].why,
                 "adaptive: start at %llu ms of downtime (QEMU's default, within the maximum of "
                 "%d ms); raised when the remaining data stops shrinking; %.1f MiB to copy",
                 (unsigned long long)s->set_ms, dv_mig_eff_downtime_ms(p),
                 mib(st->data_remaining));
        k++;
    }
    if (st->mem_iteration > s->iteration && st->mem_iteration >= 2 && s->bps && k < max) {
        reading r = read_start(s, p, st);
        k += at_iteration(s, p, &r, &out[k]);
        if (!s->best || r.r < s->best)
            s->best = r.r;
        s->recent[s->n_recent++ % RECENT] = r.r;
    }
    if (st->mem_iteration > s->iteration)
        s->iteration = st->mem_iteration;
    s->last_remaining = st->data_remaining;
    s->last_processed = st->data_processed;
    return k;
}

static void adaptive_plan(const dv_mig_params *p, dv_mig_plan *out)
{
    int steps = dv_mig_eff_steps(p), max_ms = dv_mig_eff_downtime_ms(p);
    uint64_t first = start_ms(p);
    int64_t t;
    const char *act;

    dv_mig_plan_start(p, out);
    t = out->completion_timeout_s;
    /* the start, then the steps above it a stall can raise to, the maximum last */
    if (dv_mig_plan_add_step(out, 0, first)) {
        for (int i = 1; i <= steps; i++) {
            uint64_t ms = i == steps ? (uint64_t)max_ms : dv_mig_step_ms(p, i);
            if (ms > first && !dv_mig_plan_add_step(out, DV_MIG_STEP_ON_STALL, ms))
                break;
        }
    }
    act = dv_mig_timeout_plan_words(p);
    snprintf(out->summary, sizeof out->summary,
             "downtime starts at %llu ms (QEMU's default) and is raised (up to %d ms) as soon as "
             "the remaining data stops shrinking across iterations; when no convergence is "
             "predicted within %d ms for %d iterations in a row: %s; completion timeout %lld s "
             "as a backstop",
             (unsigned long long)first, max_ms, max_ms, CONFIRM, act, (long long)t);
}

const dv_mig_policy_ops dv_mig_policy_adaptive = {
    .version = DV_MIG_POLICY_OPS_VERSION,
    .name = "adaptive",
    .summary = "downtime raised when progress stalls; acts in seconds on a migration that "
               "cannot converge",
    .state_size = sizeof(adaptive_state),
    .init = adaptive_init,
    .decide = adaptive_decide,
    .plan = adaptive_plan,
};
