/* policy_nova.c - `nova`: what Nova's libvirt driver does with a running
 * live migration, to the integer.
 *
 * The data size is data_gib (RAM, at least 2 GiB, plus disks).  The
 * downtime steps are downtime_steps(data_gib): step i = 0..steps at
 * int(delay * i) seconds, delay = int(downtime_delay_s * data_gib), sets
 * the maximum downtime to int(base + offset * i) ms, base = downtime /
 * steps, offset = (downtime - base) / steps.  After each sample, like
 * update_downtime, the last step whose time is strictly below the elapsed
 * time is applied when it differs from the downtime this policy last set.
 * The completion timeout is int(completion_timeout_s * data_gib) seconds;
 * once the elapsed time is strictly above it (should_trigger_timeout_action)
 * timeout_action is taken: abort, or force_complete = post-copy when the
 * migration permits it (never for a paused guest), else pause the guest.
 *
 * Where drover differs: Nova re-queues force_complete on every poll after
 * the timeout and keeps setting the downtime in post-copy, where it has no
 * effect; this policy acts once and does nothing at all in post-copy. */
#include "migrator/policy.h"

#include <stdio.h>

typedef struct nova_state {
    bool downtime_set;         /* Nova's curdowntime is not None */
    uint64_t downtime_ms;      /* ... and its value */
    bool timed_out;            /* the timeout action was taken */
} nova_state;

static void nova_init(void *state, const dv_mig_params *p)
{
    (void)p;
    nova_state *s = state;
    s->downtime_set = false;
    s->downtime_ms = 0;
    s->timed_out = false;
}

static void timeout_action(const dv_mig_params *p, int64_t timeout_s, const dv_mig_stats *st,
                           dv_mig_action *a)
{
    const char *what = dv_mig_timeout_choose(p, a);

    snprintf(a->why, sizeof a->why,
             "nova: not completed after the completion timeout of %lld s (%.2f GiB x %d s/GiB); "
             "%.1f s elapsed, %.1f MiB remaining, iteration %llu, downtime %llu ms: %s",
             (long long)timeout_s, dv_mig_data_gib(p), p->completion_timeout_s,
             (double)st->elapsed_ms / 1000.0, (double)st->data_remaining / 1048576.0,
             (unsigned long long)st->mem_iteration, (unsigned long long)st->downtime_ms, what);
}

/* the last step i with elapsed > int(delay * i); -1 before the first */
static int current_step(const dv_mig_params *p, int64_t elapsed_ms)
{
    int64_t delay_ms = dv_mig_step_at_s(p, 1) * 1000;
    int steps = dv_mig_eff_steps(p);

    if (elapsed_ms <= 0)
        return -1;
    if (delay_ms <= 0)
        return steps;
    int64_t i = (elapsed_ms - 1) / delay_ms;
    return i > steps ? steps : (int)i;
}

static size_t nova_decide(void *state, const dv_mig_params *p, const dv_mig_stats *hist, size_t n,
                          dv_mig_action *out, size_t max)
{
    nova_state *s = state;
    const dv_mig_stats *st;
    int64_t timeout_s;
    int i;

    if (n == 0 || max == 0)
        return 0;
    st = &hist[n - 1];
    if (st->postcopy)
        return 0;
    timeout_s = dv_mig_completion_timeout_s(p);
    if (timeout_s > 0 && !s->timed_out && st->elapsed_ms > timeout_s * 1000) {
        /* Nova also steps the downtime in the same poll: pointless once the
         * job is aborted or switched, so the timeout action comes alone */
        timeout_action(p, timeout_s, st, &out[0]);
        s->timed_out = true;
        return 1;
    }
    i = current_step(p, st->elapsed_ms);
    if (i < 0)
        return 0;
    uint64_t ms = dv_mig_step_ms(p, i);
    if (s->downtime_set && s->downtime_ms == ms)
        return 0;
    s->downtime_set = true;
    s->downtime_ms = ms;
    out[0].kind = DV_MIG_ACT_SET_DOWNTIME;
    out[0].downtime_ms = ms;
    snprintf(out[0].why, sizeof out[0].why,
             "nova: step %d of %d at %lld s (%.2f GiB x %d s/GiB per step): maximum downtime "
             "%llu ms; %.1f s elapsed, %.1f MiB remaining, iteration %llu",
             i, dv_mig_eff_steps(p), (long long)dv_mig_step_at_s(p, i), dv_mig_data_gib(p),
             dv_mig_eff_delay_s(p), (unsigned long long)ms, (double)st->elapsed_ms / 1000.0,
             (double)st->data_remaining / 1048576.0, (unsigned long long)st->mem_iteration);
    return 1;
}

static void nova_plan(const dv_mig_params *p, dv_mig_plan *out)
{
    int steps = dv_mig_eff_steps(p);
    int64_t t;
    const char *act;

    dv_mig_plan_start(p, out);
    t = out->completion_timeout_s;
    for (int i = 0; i <= steps; i++) {
        if (!dv_mig_plan_add_step(out, dv_mig_step_at_s(p, i), dv_mig_step_ms(p, i)))
            break;
    }
    act = dv_mig_timeout_plan_words(p);
    if (t > 0)
        snprintf(out->summary, sizeof out->summary,
                 "downtime stepped on the clock every %lld s up to %d ms; after %lld s "
                 "(%d s per GiB of %.2f GiB) %s, whatever the progress",
                 (long long)dv_mig_step_at_s(p, 1), dv_mig_eff_downtime_ms(p), (long long)t,
                 p->completion_timeout_s, out->data_gib, act);
    else
        snprintf(out->summary, sizeof out->summary,
                 "downtime stepped on the clock every %lld s up to %d ms; no completion timeout: "
                 "a migration that cannot converge runs until it is aborted by hand",
                 (long long)dv_mig_step_at_s(p, 1), dv_mig_eff_downtime_ms(p));
}

const dv_mig_policy_ops dv_mig_policy_nova = {
    .version = DV_MIG_POLICY_OPS_VERSION,
    .name = "nova",
    .summary = "Nova's downtime steps on the clock and completion timeout per GiB",
    .state_size = sizeof(nova_state),
    .init = nova_init,
    .decide = nova_decide,
    .plan = nova_plan,
};
