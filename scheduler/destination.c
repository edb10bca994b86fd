/* destination.c - Nova's _find_destination for drover.
 *
 * Find the instance and its source host in the reports; filter and weigh
 * once; then, until a host says yes or the retries run out: pick among the
 * best, ask that host's own hypervisor (live checks), claim its memory in the
 * state db.  A host that fails leaves the candidates (Nova re-runs the
 * scheduler with the host on the ignore list; since the host states do not
 * change between tries, dropping it from the weighed list is the same answer
 * without re-filtering).  A named destination skips the filters but must
 * still pass the checks that keep a guest safe: UP, same hypervisor type,
 * not older, same architecture, memory, and the live checks.
 *
 * The source need not be UP: a host being drained may have lost its
 * heartbeat while its libvirt still answers; the live checks' prepare step
 * asks that libvirt directly and fails the request when it cannot.
 */
#include "scheduler/scheduler.h"
#include "core/model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void dv_sched_result_clear(dv_sched_result *res)
{
    if (!res)
        return;
    free(res->host);
    free(res->source);
    free(res->instance_name);
    free(res->instance_uuid);
    free(res->verdicts);
    free(res->verdict_hosts);
    dv_hosts_free(&res->hosts);
    memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- messages */

typedef struct msg {
    char *buf;
    size_t cap, len;
} msg;

static void msg_add(msg *m, const char *fmt, ...) DV_PRINTF(2, 3);
static void msg_add(msg *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->len + 1 >= m->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    m->len += (size_t)n;
    if (m->len >= m->cap) {
        /* truncated: say so rather than cut a word in half silently */
        m->len = m->cap - 1;
        if (m->cap > 4)
            memcpy(m->buf + m->cap - 4, "...", 4);
    }
}

/* "filters removed: compute 2, ram 5" (only the filters that removed some). */
static void msg_filter_counts(msg *m, const dv_sched_result *res)
{
    bool any = false;
    for (size_t f = 0; f < res->n_filters; f++) {
        if (!res->rejected[f])
            continue;
        msg_add(m, "%s%s %zu", any ? ", " : "; filters removed: ", res->filter_names[f],
                res->rejected[f]);
        any = true;
    }
}

/* ---------------------------------------------------------------- the instance */

static bool runs_live(const drover_instance *in)
{
    return in->state && (strcmp(in->state, "running") == 0 || strcmp(in->state, "paused") == 0);
}

static bool matches(const drover_instance *in, const char *key)
{
    return (in->name && strcmp(in->name, key) == 0) ||
           (in->uuid && strcasecmp(in->uuid, key) == 0);
}

/* The host whose report has the instance running or paused. */
static int find_instance(dv_hosts *hosts, const char *key, dv_host_state **src,
                         const drover_instance **inst, drover_error *err)
{
    dv_host_state *idle_host = NULL;
    const drover_instance *idle = NULL;

    *src = NULL;
    *inst = NULL;
    for (size_t i = 0; i < hosts->n; i++) {
        const drover_report *r = hosts->v[i].report;
        for (size_t j = 0; r && j < r->n_instances; j++) {
            const drover_instance *in = &r->instances[j];
            if (!matches(in, key))
                continue;
            if (!runs_live(in)) {
                idle_host = &hosts->v[i];
                idle = in;
                continue;
            }
            if (*inst) {
                bool same = (*inst)->uuid && in->uuid && strcasecmp((*inst)->uuid, in->uuid) == 0;
                if (same)
                    return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                                  "instance %s is reported running on two hosts, %s and %s: "
                                  "a migration may be in progress; try again when it ends",
                                  key, (*src)->host, hosts->v[i].host);
                return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                              "instance name %s is ambiguous: %s runs %s and %s runs %s; "
                              "name the instance by its UUID",
                              key, (*src)->host, (*inst)->uuid, hosts->v[i].host, in->uuid);
            }
            *src = &hosts->v[i];
            *inst = in;
        }
    }
    if (*inst)
        return 0;
    if (idle)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                      "instance %s on host %s is %s: only a running or paused instance can be "
                      "live-migrated",
                      key, idle_host->host, idle->state ? idle->state : "in an unknown state");
    return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_SCHEDULER,
                  "no host reports an instance named %s or with that UUID (%zu hosts' reports "
                  "searched)",
                  key, hosts->n);
}

/* ---------------------------------------------------------------- shared steps */

static dv_verdict *verdict_of(dv_sched_result *res, const dv_hosts *hosts, const dv_host_state *h)
{
    return res->verdicts ? &res->verdicts[h - hosts->v] : NULL;
}

static void set_verdict(dv_verdict *v, dv_verdict_kind kind, const char *reason)
{
    if (!v)
        return;
    v->kind = kind;
    v->filter = -1;
    snprintf(v->reason, sizeof v->reason, "%s", reason);
}

/* Who holds a claim, as drover state show lists it: this machine and
 * process, so a claim left behind can be traced. */
static void claim_owner(char *buf, size_t len)
{
    char host[64] = "";

    if (gethostname(host, sizeof host - 1) < 0 || !host[0])
        snprintf(host, sizeof host, "unknown");
    snprintf(buf, len, "%s/pid-%ld", host, (long)getpid());
}

/* Claim the instance's memory on h.  1 = another scheduler got there first
 * (why says how much is claimed); -1 = the state store failed. */
static int place_claim(dv_sched *s, dv_store *db, const dv_host_state *h,
                       const dv_sched_request *r, int64_t *claim_id, char *why, size_t len,
                       drover_error *err)
{
    drover_error e;
    char owner[96];
    int64_t cap = dv_ram_usable_mib(h, &s->p, false);

    *claim_id = 0;
    if (!db)
        return 0;
    dv_err_clear(&e);
    /* no DV_STORE_CLAIM_SESSION: the claim must outlive a CLI that exits
     * right after placing it; its expiry (claim_ttl_s) bounds a lost one */
    claim_owner(owner, sizeof owner);
    if (dv_store_claim_try(db, h->host, r->instance_uuid, owner, r->memory_mib,
                           cap > 0 ? (uint64_t)cap : 0, s->p.claim_ttl_s, 0, NULL, claim_id,
                           &e) == 0)
        return 0;
    if (e.code != DROVER_ERR_CONFLICT) {
        dv_err_copy(err, &e);
        dv_err_prefix(err, "claiming %" PRIu64 " MiB on %s", r->memory_mib, h->host);
        return -1;
    }
    /* the store says how much is claimed; a long message is cut */
    if (snprintf(why, len, "claim: %s", e.message) >= (int)len && len > 4)
        memcpy(why + len - 4, "...", 4);
    return 1;
}

static int record_choice(dv_sched_result *res, const dv_host_state *h, drover_error *err)
{
    if (!(res->host = dv_strdup(h->host)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- a named destination */

static int named_destination(dv_sched *s, dv_hosts *hosts, dv_live_check *lc, dv_store *db,
                             const dv_sched_opts *o, const dv_sched_request *r,
                             dv_sched_result *res, drover_error *err)
{
    /* the checks a forced host must still pass, in the order an operator
     * would fix them: is it there, is it the same kind, does it fit */
    static const dv_filter_ops *const checks[] = {
        &dv_filter_compute,           &dv_filter_hypervisor_type, &dv_filter_hypervisor_version,
        &dv_filter_arch,              &dv_filter_ram,
    };
    dv_host_state *h = dv_hosts_find(hosts, o->dest);
    char why[DV_REASON_MAX];
    int rc;

    if (!h)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_SCHEDULER,
                      "destination %s is not a member of the group (%zu hosts known)", o->dest,
                      hosts->n);
    if (h == r->source) {
        res->failed_check = "different_host";
        set_verdict(verdict_of(res, hosts, h), DV_VERDICT_FILTERED,
                    "different_host: this is the source host");
        return dv_err(err, DROVER_ERR_NO_VALID_HOST, DROVER_FROM_SCHEDULER,
                      "destination %s is the source host: instance %s already runs there",
                      h->host, r->instance_name);
    }
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        if (checks[i]->host_passes(h, r, why, sizeof why))
            continue;
        res->failed_check = checks[i]->name;
        set_verdict(verdict_of(res, hosts, h), DV_VERDICT_FILTERED, why);
        return dv_err(err, DROVER_ERR_NO_VALID_HOST, DROVER_FROM_SCHEDULER,
                      "destination %s cannot take instance %s: %s", h->host, r->instance_name, why);
    }
    res->tries = 1;
    if (lc && lc->check(lc, h, r, why, sizeof why) != 0) {
        res->failed_check = "live";
        res->live_failures = 1;
        set_verdict(verdict_of(res, hosts, h), DV_VERDICT_LIVE_FAILED, why);
        return dv_err(err, DROVER_ERR_NO_VALID_HOST, DROVER_FROM_SCHEDULER,
                      "destination %s cannot take instance %s: %s", h->host, r->instance_name, why);
    }
    rc = place_claim(s, db, h, r, &res->claim_id, why, sizeof why, err);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        res->failed_check = "claim";
        res->claim_conflicts = 1;
        set_verdict(verdict_of(res, hosts, h), DV_VERDICT_CLAIM_FAILED, why);
        return dv_err(err, DROVER_ERR_NO_VALID_HOST, DROVER_FROM_SCHEDULER,
                      "destination %s cannot take instance %s: %s", h->host, r->instance_name, why);
    }
    set_verdict(verdict_of(res, hosts, h), DV_VERDICT_CHOSEN, "chosen (named destination)");
    return record_choice(res, h, err);
}

/* ---------------------------------------------------------------- the loop */

static int give_up(const dv_sched_result *res, const char *failures, const char *why_stop,
                   drover_error *err)
{
    char buf[sizeof err->message];
    msg m = { buf, sizeof buf, 0 };

    msg_add(&m, "no valid host for instance %s (%" PRIu64 " MiB) from %s: %s; %zu hosts",
            res->instance_name, res->memory_mib, res->source, why_stop, res->n_hosts);
    msg_filter_counts(&m, res);
    if (res->live_failures || res->claim_conflicts)
        msg_add(&m, "; %zu failed the live checks, %zu lost a claim race: %s", res->live_failures,
                res->claim_conflicts, failures);
    return dv_err(err, DROVER_ERR_NO_VALID_HOST, DROVER_FROM_SCHEDULER, "%s", buf);
}

static int scheduled_destination(dv_sched *s, dv_hosts *hosts, dv_live_check *lc,
                                 dv_store *db, const dv_sched_request *r,
                                 dv_sched_result *res, drover_error *err)
{
    char why[DV_REASON_MAX], failbuf[768] = "";
    msg fails = { failbuf, sizeof failbuf, 0 };
    size_t n_cand;

    if (dv_sched_filter(s, hosts->v, hosts->n, r, &n_cand, res->rejected, res->verdicts, err) < 0)
        return -1;
    res->n_candidates = n_cand;
    if (n_cand == 0)
        return give_up(res, "", "every host was filtered out", err);
    dv_sched_weigh(s, hosts->v, n_cand, r);
    for (size_t i = 0; res->verdicts && i < n_cand; i++) {
        dv_verdict *v = &res->verdicts[s->cand[i]];
        v->kind = DV_VERDICT_CANDIDATE;
        v->filter = -1;
        v->weight = s->weight[i];
        snprintf(v->reason, sizeof v->reason, "passed every filter; not tried");
    }
    for (;;) {
        const dv_host_state *h;
        dv_verdict *v;
        long at;
        int rc;

        /* Nova: retries = hosts tried - 1; more than max_retries ends it */
        if (s->p.max_retries >= 0 && res->tries > (size_t)s->p.max_retries) {
            char stop[96];
            snprintf(stop, sizeof stop, "gave up after %zu tries (scheduler.max_retries = %d)",
                     res->tries, s->p.max_retries);
            return give_up(res, failbuf, stop, err);
        }
        if ((at = dv_sched_pick(s, &n_cand)) < 0)
            return give_up(res, failbuf, "every candidate was tried and failed", err);
        h = &hosts->v[at];
        v = verdict_of(res, hosts, h);
        res->tries++;
        if (lc && lc->check(lc, h, r, why, sizeof why) != 0) {
            res->live_failures++;
            msg_add(&fails, "%s%s (%s)", fails.len ? "; " : "", h->host, why);
            set_verdict(v, DV_VERDICT_LIVE_FAILED, why);
            continue;
        }
        rc = place_claim(s, db, h, r, &res->claim_id, why, sizeof why, err);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            res->claim_conflicts++;
            msg_add(&fails, "%s%s (%s)", fails.len ? "; " : "", h->host, why);
            set_verdict(v, DV_VERDICT_CLAIM_FAILED, why);
            continue;
        }
        if (v) {
            double w = v->weight;
            set_verdict(v, DV_VERDICT_CHOSEN, "chosen");
            v->weight = w;
        }
        return record_choice(res, h, err);
    }
}

static int result_init(dv_sched *s, dv_hosts *hosts, const dv_host_state *src,
                       const drover_instance *in, bool explain, dv_sched_result *res,
                       drover_error *err)
{
    res->n_hosts = hosts->n;
    res->memory_mib = in->memory_mib;
    res->n_filters = s->n_filters;
    for (size_t f = 0; f < s->n_filters; f++)
        res->filter_names[f] = s->filters[f]->name;
    if (!(res->source = dv_strdup(src->host)) ||
        !(res->instance_name = dv_strdup(in->name ? in->name : "")) ||
        !(res->instance_uuid = dv_strdup(in->uuid ? in->uuid : "")))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    if (explain && hosts->n) {
        res->verdicts = calloc(hosts->n, sizeof *res->verdicts);
        res->verdict_hosts = calloc(hosts->n, sizeof *res->verdict_hosts);
        if (!res->verdicts || !res->verdict_hosts)
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        for (size_t i = 0; i < hosts->n; i++) {
            res->verdicts[i].filter = -1;
            res->verdict_hosts[i] = hosts->v[i].host;
        }
        res->n_verdicts = hosts->n;
    }
    return 0;
}

int dv_find_destination(dv_sched *s, dv_hosts *hosts, dv_live_check *lc, dv_store *claims,
                        int64_t now_ms, const dv_sched_opts *o, dv_sched_result *res,
                        drover_error *err)
{
    dv_host_state *src;
    const drover_instance *in;
    dv_sched_request r;

    memset(res, 0, sizeof *res);
    if (!o->instance || !*o->instance)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
                      "which instance? give its name or UUID");
    if (o->seen && o->seen_on && (src = dv_hosts_find(hosts, o->seen_on)))
        in = o->seen;
    else if (find_instance(hosts, o->instance, &src, &in, err) < 0)
        return -1;
    if (result_init(s, hosts, src, in, o->explain, res, err) < 0)
        return -1;
    memset(&r, 0, sizeof r);
    r.instance_name = res->instance_name;
    r.instance_uuid = res->instance_uuid;
    r.memory_mib = in->memory_mib;
    r.source = src;
    r.ignore = o->ignore;
    r.n_ignore = o->n_ignore;
    r.params = &s->p;
    r.now_ms = now_ms;
    if (lc && lc->prepare && lc->prepare(lc, &r, err) < 0)
        return -1;
    if (o->dest)
        return named_destination(s, hosts, lc, claims, o, &r, res, err);
    return scheduled_destination(s, hosts, lc, claims, &r, res, err);
}
