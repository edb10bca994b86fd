/* host_state.c - flat per-host records for the filters, built once per
 * placement from get_all and the state store's claims. */
#include "scheduler/scheduler.h"
#include "core/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t dv_host_name_hash(const char *host)
{
    /* the one hash (core/hash.h), folded; 0 is kept to mean "no hash" */
    uint64_t h = dv_hash_bytes(host, strlen(host));
    uint32_t x = (uint32_t)(h ^ h >> 32);
    return x ? x : 1;
}

/* Hosts of one kind share a handful of strings ("QEMU", "x86_64"): give
 * them one pointer each, so filters compare pointers, not bytes. */
typedef struct interned {
    const char *v[32];
    size_t n;
} interned;

static const char *intern(interned *t, const char *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i], s) == 0)
            return t->v[i];
    if (t->n < sizeof t->v / sizeof *t->v)
        t->v[t->n++] = s;
    return s;
}

/* ms: the member's summary (NULL: the member holds its full report). */
static void state_from_member(dv_host_state *h, const drover_member *m,
                              const dv_member_summary *ms)
{
    const drover_report *r = ms ? ms->report : m->report;

    memset(h, 0, sizeof *h);
    h->host = m->host;
    h->name_hash = dv_host_name_hash(m->host);
    h->state = m->state;
    h->disabled = m->disabled;
    h->forced_down = m->forced_down;
    h->disabled_reason = m->disabled_reason ? m->disabled_reason : "";
    h->last_seen_ms = m->last_seen_ms;
    h->hypervisor_type = "";
    h->arch = "";
    if (!r)
        return;
    h->has_report = true;
    h->report = r;
    h->hypervisor_type = r->hypervisor_type ? r->hypervisor_type : "";
    h->hypervisor_version = r->hypervisor_version;
    h->arch = r->arch ? r->arch : "";
    h->memory_total_mib = r->memory_total_mib;
    h->memory_free_mib = r->memory_free_mib;
    /* Nova counts what is allocated to guests, whatever their power state:
     * a stopped guest may be started again and needs its memory back. */
    if (ms) {
        h->memory_used_mib = ms->memory_used_mib;
        return;
    }
    for (size_t i = 0; i < r->n_instances; i++)
        h->memory_used_mib += r->instances[i].memory_mib;
}

/* The claim sums (sorted by host) onto the host states: one store call. */
static int add_claims(dv_hosts *out, dv_store *claims, drover_error *err)
{
    dv_store_claim_sum *sums;
    size_t ns;

    if (dv_store_claim_sums(claims, &sums, &ns, err) < 0) {
        dv_err_prefix(err, "reading the claims");
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        dv_host_state *h = &out->v[i];
        size_t lo = 0, hi = ns;
        while (h->has_report && lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = strcmp(sums[mid].host, h->host);
            if (c == 0) {
                h->claimed_mib = sums[mid].mib;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    dv_store_claim_sums_free(sums, ns);
    return 0;
}

/* out->members or out->sums already set */
static int build(dv_hosts *out, drover_member *members, const dv_member_summary *sums, size_t n,
                 dv_store *claims, int64_t now_ms, drover_error *err)
{
    interned types = { .n = 0 }, arches = { .n = 0 };

    (void)now_ms;   /* the store's clock judges expiry */
    if (n && !(out->v = calloc(n, sizeof *out->v))) {
        dv_hosts_free(out);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        dv_host_state *h = &out->v[i];
        state_from_member(h, &members[i], sums ? &sums[i] : NULL);
        h->hypervisor_type = intern(&types, h->hypervisor_type);
        h->arch = intern(&arches, h->arch);
    }
    out->n = n;
    if (claims && add_claims(out, claims, err) < 0) {
        dv_hosts_free(out);
        return -1;
    }
    return 0;
}

int dv_hosts_build(drover_member *members, size_t n, dv_store *claims, int64_t now_ms,
                   dv_hosts *out, drover_error *err)
{
    memset(out, 0, sizeof *out);
    out->members = members;
    out->n_members = n;
    return build(out, members, NULL, n, claims, now_ms, err);
}

int dv_hosts_build_summaries(dv_summary_list *sums, dv_store *claims, int64_t now_ms,
                             dv_hosts *out, drover_error *err)
{
    memset(out, 0, sizeof *out);
    out->sums = *sums;
    memset(sums, 0, sizeof *sums);
    return build(out, out->sums.members, out->sums.sums, out->sums.n, claims, now_ms, err);
}

void dv_hosts_free(dv_hosts *hosts)
{
    if (!hosts)
        return;
    free(hosts->v);
    drover_members_free(hosts->members, hosts->n_members);
    dv_summary_list_free(&hosts->sums);
    memset(hosts, 0, sizeof *hosts);
}

dv_host_state *dv_hosts_find(dv_hosts *hosts, const char *host)
{
    for (size_t i = 0; host && i < hosts->n; i++)
        if (strcmp(hosts->v[i].host, host) == 0)
            return &hosts->v[i];
    return NULL;
}

void dv_sched_params_from_config(const dv_config *cfg, dv_sched_params *p)
{
    memset(p, 0, sizeof *p);
    p->ram_allocation_ratio = cfg->scheduler.ram_allocation_ratio;
    p->reserved_host_memory_mib = cfg->scheduler.reserved_host_memory_mb;
    p->ram_weight_multiplier = cfg->scheduler.ram_weight_multiplier;
    p->host_subset_size = cfg->scheduler.host_subset_size > 0 ? cfg->scheduler.host_subset_size : 1;
    p->max_retries = cfg->scheduler.max_retries;
    p->claim_ttl_s = cfg->scheduler.claim_ttl_s;
    p->service_down_time_s = cfg->servicegroup.service_down_time;
}

int64_t dv_ram_usable_mib(const dv_host_state *h, const dv_sched_params *p, bool with_claims)
{
    /* Nova compares in floating point; truncating the limit (both factors
     * are positive) keeps the arithmetic exact in integers and never
     * promises a fraction of a MiB. */
    double limit = (double)h->memory_total_mib * p->ram_allocation_ratio;
    if (limit < 0.0)
        limit = 0.0;
    int64_t usable = (limit > 9.0e18 ? INT64_MAX / 2 : (int64_t)limit) -
                     (int64_t)h->memory_used_mib - p->reserved_host_memory_mib;
    if (with_claims)
        usable -= (int64_t)h->claimed_mib;
    return usable;
}
