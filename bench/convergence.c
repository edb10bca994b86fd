/* bench/convergence.c - a live migration that cannot converge, steered by
 * `adaptive`, beside what `nova` does on the same recorded trace.  Not a
 * test: it prints figures.
 *
 * Two real libvirt hosts (tests/harness/lvhosts.h); a test guest that
 * re-dirties a working set faster than the capped bandwidth carries it;
 * virDomainMigrateToURI3 (LIVE | PEER2PEER, plus POSTCOPY in the
 * force_complete round) in its own thread; virDomainGetJobStats every
 * 500 ms into dv_mig_stats, fed to adaptive, whose actions are carried out
 * (SET_DOWNTIME -> virDomainMigrateSetMaxDowntime, ABORT ->
 * virDomainAbortJob, POSTCOPY -> virDomainMigrateStartPostCopy, PAUSE ->
 * virDomainSuspend).  Then nova is replayed on the recorded trace: its
 * completion timeout for that guest and the downtime steps it would have
 * taken by adaptive's decision.
 *
 *   rounds: abort (timeout_action = abort: the guest must stay on the source)
 *           postcopy (force_complete, post-copy permitted: it must complete)
 *           converge (a small working set: it must complete, no decision)
 *   targets: a decision within 30 s; with post-copy, completed within 60 s
 *
 * usage: bench/convergence [--memory-mib N] [--wss MIB] [--bandwidth MIB/S]
 *                          [--round abort|postcopy|converge|all] [--trace FILE]
 *                          [--postcopy-trace FILE] [--limit S]
 * (--trace saves the abort round's samples in tests/data/traces/ format.) */
#include "migrator/jobstats.h"
#include "migrator/policy.h"
#include "core/clock.h"
#include "tests/harness/lvhosts.h"

#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GUEST "dvb-conv"
#define MAX_SAMPLES 4096
#define POLL_MS 500

typedef struct opts {
    int memory_mib, wss_mib, bandwidth_mib, limit_s;
    bool abort_round, postcopy_round, converge_round;
    const char *trace, *postcopy_trace, *converge_trace;
    int converge_wss_mib;
} opts;

/* The migration call, in its own thread. */
typedef struct mig_call {
    virDomainPtr dom;
    const char *uri;
    virTypedParameterPtr params;
    int nparams;
    unsigned int flags;
    int rc;
    char error[256];
    int64_t end_ms;
    volatile int done;
} mig_call;

/* What one round saw. */
typedef struct round_result {
    dv_mig_stats s[MAX_SAMPLES];
    size_t n;
    dv_mig_action decision;
    bool decided;
    int64_t decision_ms, end_ms;
    uint64_t decision_iteration;
    size_t n_set;
    uint64_t last_set_ms;
    int rc;
    char error[256];
} round_result;

static void quiet(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static void *run_migration(void *arg)
{
    mig_call *m = arg;
    m->rc = virDomainMigrateToURI3(m->dom, m->uri, m->params, m->nparams, m->flags);
    if (m->rc < 0)
        snprintf(m->error, sizeof m->error, "%s", virGetLastErrorMessage());
    m->end_ms = dv_mono_ms();
    __atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* One sample; false when there is no job (not started yet, or over). */
static bool sample(virDomainPtr dom, int64_t elapsed_ms, bool postcopy, uint64_t downtime_ms,
                   dv_mig_stats *s)
{
    virTypedParameterPtr p = NULL;
    int n = 0, type = 0;

    if (virDomainGetJobStats(dom, &type, &p, &n, 0) < 0 || type == VIR_DOMAIN_JOB_NONE) {
        virTypedParamsFree(p, n);
        return false;
    }
    memset(s, 0, sizeof *s);
    s->elapsed_ms = elapsed_ms;
    dv_mig_stats_from_params(p, n, s);
    virTypedParamsFree(p, n);
    /* virDomainMigrateGetMaxDowntime waits for the migration job to end
     * (libvirt 9.0): the downtime in force is the one last set */
    s->downtime_ms = downtime_ms;
    s->postcopy = postcopy;
    return true;
}

/* Carry out an action on the source (through a connection of its own: on
 * the connection running virDomainMigrateToURI3, libvirt 9.0 held
 * virDomainAbortJob until the job ended some other way); the decisions are
 * recorded. */
static void carry_out(virDomainPtr dom, const dv_mig_action *a, const dv_mig_stats *s,
                      round_result *r, bool *postcopy)
{
    int rc = 0;

    printf("  %6.1f s  iteration %-3llu %-12s %s\n", (double)s->elapsed_ms / 1000,
           (unsigned long long)s->mem_iteration, dv_mig_action_name(a->kind), a->why);
    switch (a->kind) {
    case DV_MIG_ACT_SET_DOWNTIME:
        rc = virDomainMigrateSetMaxDowntime(dom, a->downtime_ms, 0);
        r->n_set++;
        r->last_set_ms = a->downtime_ms;
        return;
    case DV_MIG_ACT_ABORT: rc = virDomainAbortJob(dom); break;
    case DV_MIG_ACT_POSTCOPY:
        rc = virDomainMigrateStartPostCopy(dom, 0);
        *postcopy = rc == 0;
        break;
    case DV_MIG_ACT_PAUSE: rc = virDomainSuspend(dom); break;
    case DV_MIG_ACT_NONE: return;
    }
    if (rc < 0)
        printf("           (libvirt refused: %s)\n", virGetLastErrorMessage());
    if (!r->decided) {
        r->decided = true;
        r->decision = *a;
        r->decision_ms = s->elapsed_ms;
        r->decision_iteration = s->mem_iteration;
    }
}

/* Sample every POLL_MS until the migration call returns (or the limit). */
static void monitor(virDomainPtr dom, virDomainPtr ctl, const dv_mig_params *p, mig_call *m,
                    int64_t t0, int limit_s, round_result *r)
{
    unsigned char state[DV_MIG_POLICY_STATE_MAX] = { 0 };
    bool postcopy = false, aborted_for_limit = false;

    dv_mig_policy_adaptive.init(state, p);
    while (!__atomic_load_n(&m->done, __ATOMIC_ACQUIRE)) {
        int64_t now = dv_mono_ms();
        dv_mig_action a[4];
        if (now - t0 > (int64_t)limit_s * 1000 && !aborted_for_limit) {
            printf("  %6.1f s  bench limit reached: aborting\n", (double)(now - t0) / 1000);
            virDomainAbortJob(ctl);
            aborted_for_limit = true;
        }
        if (r->n < MAX_SAMPLES && sample(dom, now - t0, postcopy, r->last_set_ms ? r->last_set_ms : 300, &r->s[r->n])) {
            size_t k = dv_mig_policy_adaptive.decide(state, p, r->s, r->n + 1, a, 4);
            r->n++;
            for (size_t j = 0; j < k; j++)
                carry_out(ctl, &a[j], &r->s[r->n - 1], r, &postcopy);
        }
        int64_t next = now + POLL_MS;
        while (!__atomic_load_n(&m->done, __ATOMIC_ACQUIRE) && dv_mono_ms() < next)
            dv_sleep_ms(10);
    }
}

static int save_trace(const char *path, const round_result *r, const opts *o, int wss,
                      const char *what)
{
    FILE *f = fopen(path, "w");
    time_t now = time(NULL);
    char date[32];

    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "# real: bench/convergence, %s round, %s; two libvirt 9.0 hosts, TCG guest\n", what,
            date);
    fprintf(f, "# %d MiB guest re-dirtying %d MiB, bandwidth %d MiB/s; adaptive's decision: %s "
            "at %.1f s, iteration %llu\n", o->memory_mib, wss, o->bandwidth_mib,
            r->decided ? dv_mig_action_name(r->decision.kind) : "none",
            (double)r->decision_ms / 1000, (unsigned long long)r->decision_iteration);
    fprintf(f, "# elapsed_ms data_total data_processed data_remaining mem_bps dirty_rate page_size "
            "iteration downtime postcopy\n");
    for (size_t i = 0; i < r->n; i++) {
        const dv_mig_stats *s = &r->s[i];
        fprintf(f, "%lld %llu %llu %llu %llu %llu %llu %llu %llu %d\n", (long long)s->elapsed_ms,
                (unsigned long long)s->data_total, (unsigned long long)s->data_processed,
                (unsigned long long)s->data_remaining, (unsigned long long)s->mem_bps,
                (unsigned long long)s->mem_dirty_rate, (unsigned long long)s->mem_page_size,
                (unsigned long long)s->mem_iteration, (unsigned long long)s->downtime_ms,
                s->postcopy ? 1 : 0);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* What nova does on the same samples: its steps up to adaptive's decision
 * (or the end), and whether it ever acts within the trace. */
static void nova_beside(const dv_mig_params *p, const round_result *r)
{
    unsigned char state[DV_MIG_POLICY_STATE_MAX] = { 0 };
    int64_t until = r->decided ? r->decision_ms : r->end_ms;
    size_t steps = 0, finals = 0;
    uint64_t last = 0;

    dv_mig_policy_nova.init(state, p);
    for (size_t i = 0; i < r->n && r->s[i].elapsed_ms <= until; i++) {
        dv_mig_action a[4];
        size_t k = dv_mig_policy_nova.decide(state, p, r->s, i + 1, a, 4);
        for (size_t j = 0; j < k; j++) {
            if (a[j].kind == DV_MIG_ACT_SET_DOWNTIME) {
                steps++;
                last = a[j].downtime_ms;
            } else {
                finals++;
            }
        }
    }
    printf("  nova on the same trace: completion timeout %lld s (%d s/GiB x %.2f GiB); by %.1f s "
           "it set %zu downtime step(s) (last %llu ms; next at %lld s) and took %zu decision(s)\n",
           (long long)dv_mig_completion_timeout_s(p), p->completion_timeout_s, dv_mig_data_gib(p),
           (double)until / 1000, steps, (unsigned long long)last,
           (long long)dv_mig_step_at_s(p, 1), finals);
}

static bool runs_on(virConnectPtr c, const char *name)
{
    int state = lvh_dom_state(c, name, NULL);
    return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED;
}

static void report(const char *what, const round_result *r, int64_t t0, const mig_call *m,
                   bool on_src, bool on_dst)
{
    printf("  result (%s): migration call %s after %.1f s%s%s\n", what,
           m->rc == 0 ? "succeeded" : "failed", (double)(m->end_ms - t0) / 1000,
           m->rc == 0 ? "" : ": ", m->rc == 0 ? "" : m->error);
    if (r->decided)
        printf("  adaptive decided: %s at %.1f s (iteration %llu) after %zu downtime change(s), "
               "last %llu ms%s\n", dv_mig_action_name(r->decision.kind),
               (double)r->decision_ms / 1000, (unsigned long long)r->decision_iteration, r->n_set,
               (unsigned long long)r->last_set_ms,
               r->decision_ms <= 30000 ? " (target <= 30 s: met)" : " (target <= 30 s: MISSED)");
    else
        printf("  adaptive took no decision; %zu downtime change(s), last %llu ms\n", r->n_set,
               (unsigned long long)r->last_set_ms);
    if (r->decided && r->decision.kind == DV_MIG_ACT_POSTCOPY)
        printf("  post-copy: completed %.1f s after the switch, %.1f s after the start%s\n",
               (double)(m->end_ms - t0 - r->decision_ms) / 1000, (double)(m->end_ms - t0) / 1000,
               m->rc == 0 && m->end_ms - t0 <= 60000 ? " (target <= 60 s: met)" : " (target <= 60 s: MISSED)");
    printf("  the guest runs on: %s%s%s\n", on_src ? "source " : "", on_dst ? "destination" : "",
           !on_src && !on_dst ? "NOWHERE" : "");
}

/* The rounds: what timeout_action is, and what must happen. */
typedef enum round_kind { ROUND_ABORT, ROUND_POSTCOPY, ROUND_CONVERGE } round_kind;
static const char *const round_names[] = { "abort", "force_complete + post-copy",
                                           "converging (small working set)" };

static virDomainPtr start_guest(const lvh *h, virConnectPtr c, const opts *o, round_kind kind)
{
    char cmd[32];
    virDomainPtr dom;
    lvh_beat b;
    int64_t t = dv_mono_ms();

    int wss = kind == ROUND_CONVERGE ? o->converge_wss_mib : o->wss_mib;
    snprintf(cmd, sizeof cmd, "wss=%d", wss);
    if (!(dom = lvh_guest_start(h, c, GUEST, o->memory_mib, cmd)) ||
        lvh_beat_wait_running(dom, 180000, &b) < 0) {
        fprintf(stderr, "the guest did not start and fill its RAM\n");
        if (dom)
            virDomainFree(dom);
        return NULL;
    }
    printf("\nround %s: %d MiB guest, wss %d MiB, bandwidth %d MiB/s (guest ready in %.1f s)\n",
           round_names[kind], o->memory_mib, wss,
           o->bandwidth_mib, (double)(dv_mono_ms() - t) / 1000);
    return dom;
}

/* leave no guest for the next round */
static void destroy_guest(virConnectPtr c)
{
    virDomainPtr d = virDomainLookupByName(c, GUEST);
    if (d) {
        virDomainDestroy(d);
        virDomainFree(d);
    }
}

/* One round on a fresh guest on host 1; 0 when it ended as it should. */
static int run_round(const lvh *h, const opts *o, round_kind kind, round_result *r)
{
    virConnectPtr c1 = virConnectOpen(h->host[0].uri), c2 = virConnectOpen(h->host[1].uri);
    virConnectPtr cc = virConnectOpen(h->host[0].uri);
    virDomainPtr dom, ctl;
    virTypedParameterPtr params = NULL;
    int np = 0, maxp = 0, ok;
    pthread_t th;
    dv_mig_params p = { .memory_mib = (uint64_t)o->memory_mib, .downtime_ms = 500,
                        .downtime_steps = 10, .downtime_delay_s = 75,
                        .completion_timeout_s = 800, .poll_interval_ms = POLL_MS,
                        .timeout_force_complete = kind == ROUND_POSTCOPY,
                        .post_copy_permitted = kind == ROUND_POSTCOPY };
    bool postcopy_round = kind == ROUND_POSTCOPY;

    if (!c1 || !c2 || !cc) {
        fprintf(stderr, "cannot connect to the hosts: %s\n", virGetLastErrorMessage());
        return -1;
    }
    if (!(dom = start_guest(h, c1, o, kind)))
        return -1;
    virTypedParamsAddULLong(&params, &np, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
                            (unsigned long long)o->bandwidth_mib);
    mig_call m = { .dom = dom, .uri = h->host[1].p2p_uri, .params = params, .nparams = np,
                   .flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
                            (postcopy_round ? VIR_MIGRATE_POSTCOPY : 0) };
    if (!(ctl = virDomainLookupByName(cc, GUEST)))
        return -1;
    int64_t t0 = dv_mono_ms();
    if (pthread_create(&th, NULL, run_migration, &m) != 0)
        return -1;
    monitor(dom, ctl, &p, &m, t0, o->limit_s, r);
    pthread_join(th, NULL);
    r->end_ms = m.end_ms - t0;
    r->rc = m.rc;
    snprintf(r->error, sizeof r->error, "%s", m.error);
    bool on_src = runs_on(c1, GUEST), on_dst = runs_on(c2, GUEST);
    report(round_names[kind], r, t0, &m, on_src, on_dst);
    nova_beside(&p, r);
    if (kind == ROUND_ABORT)
        ok = m.rc < 0 && on_src && !on_dst;
    else   /* post-copy completes; a converging guest completes with no decision */
        ok = m.rc == 0 && on_dst && !on_src && (kind == ROUND_POSTCOPY || !r->decided);
    printf("  outcome: %s\n", ok ? "as expected" : "NOT as expected");
    virTypedParamsFree(params, np);
    destroy_guest(on_dst ? c2 : c1);
    virDomainFree(dom);
    virDomainFree(ctl);
    virConnectClose(c1);
    virConnectClose(c2);
    virConnectClose(cc);
    return ok ? 0 : 1;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){ .memory_mib = 256, .wss_mib = 64, .bandwidth_mib = 16, .limit_s = 120,
                 .abort_round = true, .postcopy_round = true, .converge_round = true,
                 .converge_wss_mib = 4 };
    /* every option takes a value */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(a, "--memory-mib"))
            o->memory_mib = atoi(v);
        else if (!strcmp(a, "--wss"))
            o->wss_mib = atoi(v);
        else if (!strcmp(a, "--bandwidth"))
            o->bandwidth_mib = atoi(v);
        else if (!strcmp(a, "--limit"))
            o->limit_s = atoi(v);
        else if (!strcmp(a, "--trace"))
            o->trace = v;
        else if (!strcmp(a, "--postcopy-trace"))
            o->postcopy_trace = v;
        else if (!strcmp(a, "--converge-trace"))
            o->converge_trace = v;
        else if (!strcmp(a, "--converge-wss"))
            o->converge_wss_mib = atoi(v);
        else if (!strcmp(a, "--round")) {
            o->abort_round = !strcmp(v, "abort") || !strcmp(v, "all");
            o->postcopy_round = !strcmp(v, "postcopy") || !strcmp(v, "all");
            o->converge_round = !strcmp(v, "converge") || !strcmp(v, "all");
        } else
            return -1;
    }
    return o->memory_mib > 0 && o->wss_mib >= 0 && o->bandwidth_mib > 0 && o->limit_s > 0 &&
                   (o->abort_round || o->postcopy_round || o->converge_round)
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    static round_result ra, rp, rc;
    opts o;
    lvh h;
    int bad = 0;

    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: %s [--memory-mib N] [--wss MIB] [--bandwidth MIB/S] "
                "[--round abort|postcopy|converge|all] [--trace FILE] [--postcopy-trace FILE] [--limit S]\n",
                argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    virSetErrorFunc(NULL, quiet);
    if (lvh_start(&h, 2) < 0)
        return 99;
    printf("two libvirt hosts in %ld ms\n", h.start_ms);
    if (o.abort_round) {
        bad |= run_round(&h, &o, ROUND_ABORT, &ra) != 0;
        if (o.trace && save_trace(o.trace, &ra, &o, o.wss_mib, "abort") == 0)
            printf("  trace: %zu samples in %s\n", ra.n, o.trace);
    }
    if (o.postcopy_round) {
        bad |= run_round(&h, &o, ROUND_POSTCOPY, &rp) != 0;
        if (o.postcopy_trace && save_trace(o.postcopy_trace, &rp, &o, o.wss_mib, "post-copy") == 0)
            printf("  trace: %zu samples in %s\n", rp.n, o.postcopy_trace);
    }
    if (o.converge_round) {
        bad |= run_round(&h, &o, ROUND_CONVERGE, &rc) != 0;
        if (o.converge_trace && save_trace(o.converge_trace, &rc, &o, o.converge_wss_mib, "converging") == 0)
            printf("  trace: %zu samples in %s\n", rc.n, o.converge_trace);
    }
    lvh_stop(&h);
    return bad ? 1 : 0;
}
