/* scheduler.h - where can instance I go?  Nova's filter scheduler and its
 * live-migration destination loop, for drover.
 *
 * The pieces, in the order a placement uses them:
 *  - host states (host_state.c): one flat record per member of the group,
 *    built from get_all (liveness, admin state, the last report) plus the
 *    memory in-flight claims hold on it;
 *  - filters (filter_*.c, filters.c): cheap yes/no checks run over every
 *    host in the order scheduler.filters lists them; each rejection says why;
 *  - weighers (weigher_*.c, weighers.c): order the survivors; the best few
 *    (host_subset_size) are candidates, one is picked at random;
 *  - the destination loop (destination.c): take a candidate, ask its own
 *    hypervisor (live checks, live_libvirt.c, through virt/), claim its
 *    memory in the state db; on failure ignore it and take the next, up to
 *    max_retries;
 *  - the entry point (schedule.c, dv_schedule): all of the above from a
 *    config, a servicegroup and the state db, for every caller.
 *
 * Filters and weighers are pure functions of a host state and a request: no
 * I/O, no allocation, so a placement over 100k hosts costs milliseconds.
 */
#ifndef DV_SCHEDULER_H
#define DV_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/model.h"
#include "core/report.h"
#include "store/store.h"

#define DV_REASON_MAX 384      /* one rejection, in words */
#define DV_SCHED_MAX_FILTERS 16
#define DV_SCHED_MAX_WEIGHERS 8

/* ---------------------------------------------------------------- host states */

/* What the scheduler knows of one host.  Strings are borrowed from the
 * member (and its report) the state was built from; "" when unknown.
 * The fields every filter reads come first (one cache line); dv_hosts_build
 * interns hypervisor_type and arch (hosts of a kind share one pointer) and
 * hashes the name, so the filters rarely touch memory outside the state. */
typedef struct dv_host_state {
    const char *host;
    drover_liveness state;
    uint32_t name_hash;            /* 0 = not computed (then names are compared) */
    bool disabled;
    bool forced_down;
    bool has_report;               /* false: the host never reported (or garbage) */
    const char *hypervisor_type;
    uint64_t hypervisor_version;
    const char *arch;
    uint64_t memory_total_mib;
    uint64_t memory_used_mib;      /* sum of its instances' memory (Nova's "used") */
    uint64_t claimed_mib;          /* held by unexpired claims of in-flight moves */
    /* colder: for messages and the live checks */
    const char *disabled_reason;   /* "" when none */
    int64_t last_seen_ms;          /* 0 = never */
    uint64_t memory_free_mib;      /* as reported: what the host had free then */
    const drover_report *report;   /* NULL when has_report is false */
} dv_host_state;

/* A set of host states and the members they borrow from. */
typedef struct dv_hosts {
    dv_host_state *v;
    size_t n;
    drover_member *members;        /* owned */
    size_t n_members;
    dv_summary_list sums;          /* owned: built from summaries instead */
} dv_hosts;

/* Build states from members (takes ownership of the array, even on error).
 * claims NULL: no claims are counted.  Otherwise the state store's claim
 * sums, read in one call; the store's clock judges them unexpired. */
int dv_hosts_build(drover_member *members, size_t n, dv_store *claims, int64_t now_ms,
                   dv_hosts *out, drover_error *err);
/* The same from a driver's summaries (dv_sg_get_summaries), which it takes
 * (even on error): each state's report is the member's summary, without
 * the CPU XML (dv_schedule fetches the source's full report for the live
 * checks). */
int dv_hosts_build_summaries(dv_summary_list *sums, dv_store *claims, int64_t now_ms,
                             dv_hosts *out, drover_error *err);
void dv_hosts_free(dv_hosts *hosts);
/* NULL when no member has that name. */
dv_host_state *dv_hosts_find(dv_hosts *hosts, const char *host);
/* The name hash dv_hosts_build stores (never 0). */
uint32_t dv_host_name_hash(const char *host);
/* Two names the same?  Uses the hashes when both states have one. */
static inline bool dv_same_name_hashed(uint32_t ha, const char *a, uint32_t hb, const char *b)
{
    return (!ha || !hb || ha == hb) && strcmp(a, b) == 0;
}

/* ---------------------------------------------------------------- requests */

/* The knobs of scheduler = { ... } a placement needs, copied from the config. */
typedef struct dv_sched_params {
    double ram_allocation_ratio;
    int64_t reserved_host_memory_mib;
    double ram_weight_multiplier;
    int host_subset_size;          /* >= 1 */
    int max_retries;               /* -1 = unlimited */
    int claim_ttl_s;
    int service_down_time_s;       /* only to explain a DOWN host */
} dv_sched_params;

void dv_sched_params_from_config(const dv_config *cfg, dv_sched_params *p);

/* What is being placed, and from where. */
typedef struct dv_sched_request {
    const char *instance_name;
    const char *instance_uuid;
    uint64_t memory_mib;
    const dv_host_state *source;   /* the host running the instance */
    const char *const *ignore;     /* hosts never to pick (--ignore, failed checks) */
    size_t n_ignore;
    const dv_sched_params *params;
    int64_t now_ms;                /* only to explain a DOWN host */
} dv_sched_request;

/* Nova's RAM arithmetic: total x ram_allocation_ratio - used - reserved,
 * and minus the claims when with_claims.  May be negative. */
int64_t dv_ram_usable_mib(const dv_host_state *h, const dv_sched_params *p, bool with_claims);

/* dv_version_format ("7.2.22" from 7002022) is core/model.h's. */

/* ---------------------------------------------------------------- filters */

#define DV_FILTER_OPS_VERSION 1

typedef struct dv_filter_ops {
    int version;               /* DV_FILTER_OPS_VERSION */
    const char *name;          /* as scheduler.filters names it */
    const char *summary;       /* one line: what passes */
    /* True when h may take the request.  On false, when why is not NULL,
     * writes a reason a person can act on, starting with the filter's name
     * ("ram: needs 2048 MiB, has 1535 MiB usable (...)").  Pure: no I/O. */
    bool (*host_passes)(const dv_host_state *h, const dv_sched_request *r, char *why,
                        size_t len);
} dv_filter_ops;

extern const dv_filter_ops dv_filter_compute;
extern const dv_filter_ops dv_filter_hypervisor_type;
extern const dv_filter_ops dv_filter_hypervisor_version;
extern const dv_filter_ops dv_filter_ram;
extern const dv_filter_ops dv_filter_arch;
extern const dv_filter_ops dv_filter_different_host;

/* The registry.  NULL (err: CONFIG, naming the known filters) for an unknown name. */
const dv_filter_ops *dv_filter_find(const char *name, drover_error *err);
const char *const *dv_filter_names(void);

/* ---------------------------------------------------------------- weighers */

#define DV_WEIGHER_OPS_VERSION 1

typedef struct dv_weigher_ops {
    int version;               /* DV_WEIGHER_OPS_VERSION */
    const char *name;
    /* The raw weight; larger is better before the multiplier. */
    double (*weigh)(const dv_host_state *h, const dv_sched_request *r);
    /* The configured multiplier (negative reverses: ram packs instead of spreads). */
    double (*multiplier)(const dv_sched_params *p);
} dv_weigher_ops;

extern const dv_weigher_ops dv_weigher_ram;

const dv_weigher_ops *dv_weigher_find(const char *name, drover_error *err);
const char *const *dv_weigher_names(void);

/* ---------------------------------------------------------------- the engine */

/* A configured scheduler: the chain of filters and weighers resolved by
 * name, the parameters, a random source, and scratch arrays reused from one
 * placement to the next (no allocation per host). */
typedef struct dv_sched {
    dv_sched_params p;
    const dv_filter_ops *filters[DV_SCHED_MAX_FILTERS];
    size_t n_filters;
    const dv_weigher_ops *weighers[DV_SCHED_MAX_WEIGHERS];
    size_t n_weighers;
    uint64_t rng;              /* xorshift64* state; never 0 */
    /* scratch */
    uint32_t *cand;            /* indices of hosts still in the running */
    double *weight;            /* per candidate, parallel to cand */
    double *raw;
    size_t cap;
} dv_sched;

/* Resolve cfg->scheduler.filters / weighers; an unknown name is a CONFIG error. */
int dv_sched_init(dv_sched *s, const dv_config *cfg, drover_error *err);
/* The same from explicit lists (tests, the benchmark). */
int dv_sched_init_lists(dv_sched *s, const dv_sched_params *p, const char *const *filters,
                        size_t n_filters, const char *const *weighers, size_t n_weighers,
                        drover_error *err);
void dv_sched_seed(dv_sched *s, uint64_t seed);
void dv_sched_fini(dv_sched *s);

/* Per-host outcome of one placement, for --explain. */
typedef enum dv_verdict_kind {
    DV_VERDICT_NONE = 0,       /* not looked at (the loop stopped first) */
    DV_VERDICT_FILTERED,       /* a filter rejected it */
    DV_VERDICT_CANDIDATE,      /* passed the filters, not tried */
    DV_VERDICT_LIVE_FAILED,    /* its hypervisor said no */
    DV_VERDICT_CLAIM_FAILED,   /* another scheduler took its room first */
    DV_VERDICT_CHOSEN
} dv_verdict_kind;

typedef struct dv_verdict {
    dv_verdict_kind kind;
    int filter;                /* index in dv_sched.filters when FILTERED, else -1 */
    double weight;             /* normalized, for candidates */
    char reason[DV_REASON_MAX];
} dv_verdict;

/* Run the filter chain over hosts (each host until a filter rejects it).
 * On return s->cand[0..*n_cand) are the survivors' indices and rejected[f]
 * counts the hosts filter f removed.  verdicts (NULL, or one per host) get
 * each rejected host's reason; NULL skips writing reasons (fast path). */
int dv_sched_filter(dv_sched *s, const dv_host_state *hosts, size_t n,
                    const dv_sched_request *r, size_t *n_cand, size_t *rejected,
                    dv_verdict *verdicts, drover_error *err);

/* Weigh the survivors: s->weight[i] for s->cand[i], Nova's normalization
 * (each weigher's raw weights scaled to 0..1 over the survivors, times its
 * multiplier, summed). */
void dv_sched_weigh(dv_sched *s, const dv_host_state *hosts, size_t n_cand,
                    const dv_sched_request *r);

/* Pick among the host_subset_size best survivors at random, remove the
 * pick from s->cand (so the next call takes another) and return its host
 * index; -1 when none is left. */
long dv_sched_pick(dv_sched *s, size_t *n_cand);

/* ---------------------------------------------------------------- live checks */

/* The expensive checks asked of a chosen destination's own hypervisor.  A
 * small interface so the loop's logic can be unit-tested with a pure-logic
 * implementation; live_libvirt.c is the real one. */
typedef struct dv_live_check dv_live_check;
struct dv_live_check {
    const char *name;
    /* Once per request, before any destination: learn what the source runs
     * (guest CPU, domain type).  -1 fails the whole request.  NULL: none. */
    int (*prepare)(dv_live_check *lc, const dv_sched_request *r, drover_error *err);
    /* 0: dest may take the instance.  1: it may not, and why says so
     * (starting "live: ...").  A host that cannot be asked is a 1, not an
     * error: the loop moves on to the next. */
    int (*check)(dv_live_check *lc, const dv_host_state *dest, const dv_sched_request *r,
                 char *why, size_t len);
};

/* The real live checks, on the destination's own libvirt (live_libvirt.c).
 *
 * Which URI reaches a host's libvirtd from the controller: a per-host entry
 * "HOST=URI" of map if there is one; else the template with "%h" replaced by
 * the host name; else (no template) the migration_uri the host reported,
 * which is how its peers reach it and, on a management network, how the
 * controller does too (it must name a server: "qemu:///system" would reach
 * the controller's own libvirtd).  cmd/ fills this from controller = { }. */
typedef struct dv_host_uris {
    const char *tmpl;              /* NULL or "" = use the reported migration_uri */
    const char *const *map;        /* "HOST=URI", split at the first '=' */
    size_t n_map;
} dv_host_uris;

int dv_host_uri(const dv_host_uris *u, const dv_host_state *h, char *buf, size_t len,
                drover_error *err);

typedef struct dv_live_libvirt_opts {
    dv_host_uris uris;
    /* What CPU the destination must provide.  NULL: the running guest's CPU
     * as its source libvirt describes it (Nova's vcpu_model), or the source
     * host's reported CPU when the guest passes the host CPU through. */
    const char *cpu_xml;
    /* The virt type to compare under ("kvm", "qemu").  NULL: the guest's
     * domain type as its source libvirt says. */
    const char *virttype;
    /* How long to wait for a libvirt's answer before giving the host up
     * (a hung libvirtd must not hang the scheduler); <= 0: 5000 ms. */
    int timeout_ms;
} dv_live_libvirt_opts;

/* prepare() asks the source's libvirt for the guest (it must be there,
 * running or paused) and its hypervisor; check() asks the destination's:
 * same hypervisor type, not older, the guest's UUID not defined there
 * already, free memory now, and virConnectCompareHypervisorCPU. */
int dv_live_libvirt_new(const dv_live_libvirt_opts *o, dv_live_check **out, drover_error *err);
void dv_live_libvirt_free(dv_live_check *lc);

/* ---------------------------------------------------------------- the loop */

typedef struct dv_sched_opts {
    const char *instance;          /* name or UUID */
    const char *dest;              /* --to: NULL = let the scheduler choose */
    const char *const *ignore;     /* --ignore */
    size_t n_ignore;
    bool explain;                  /* fill dv_sched_result.verdicts */
    /* The instance as host seen_on's own libvirt lists it (a drain): the
     * source and the size, whatever the reports say (they may lag).
     * NULL: found in the reports. */
    const drover_instance *seen;
    const char *seen_on;
    /* dv_schedule only: */
    bool claim;                    /* hold the memory on the chosen host (the
                                    * migrator does); false: a question only */
    dv_live_check *live;           /* NULL: the libvirt live checks of controller = { } */
} dv_sched_opts;

typedef struct dv_sched_result {
    char *host;                    /* chosen destination; NULL when none */
    int64_t claim_id;              /* 0 when no claim was placed (no store) */
    char *source;
    char *instance_name;
    char *instance_uuid;
    uint64_t memory_mib;
    size_t n_hosts;                /* hosts looked at */
    size_t n_filters;
    const char *filter_names[DV_SCHED_MAX_FILTERS];
    size_t rejected[DV_SCHED_MAX_FILTERS];   /* hosts each filter removed */
    size_t n_candidates;           /* hosts that passed every filter */
    size_t live_failures;
    size_t claim_conflicts;
    size_t tries;                  /* destinations tried */
    const char *failed_check;      /* named destination: the check that refused it
                                    * ("compute", "ram", "hypervisor_type", ...,
                                    * "live", "claim"); else NULL */
    dv_verdict *verdicts;          /* explain: one per host, parallel to hosts->v */
    const char **verdict_hosts;
    size_t n_verdicts;
    dv_hosts hosts;                /* dv_schedule: what verdict_hosts borrow from */
} dv_sched_result;

void dv_sched_result_clear(dv_sched_result *res);

/* Nova's _find_destination.  Finds the instance in the hosts' reports (it
 * must be running or paused), then filters, weighs, tries the best: live
 * checks (lc may be NULL: none), then a memory claim in claims (NULL: none).
 * A failing host joins the ignore list, the loop goes on up to max_retries.
 * Errors: NOT_FOUND (no such instance or --to host), INVALID (instance not
 * running/paused, or ambiguous), NO_VALID_HOST (message: what each filter
 * rejected and why the tried hosts failed), LIBVIRT (lc->prepare failed). */
int dv_find_destination(dv_sched *s, dv_hosts *hosts, dv_live_check *lc, dv_store *claims,
                        int64_t now_ms, const dv_sched_opts *o, dv_sched_result *res,
                        drover_error *err);

/* ---------------------------------------------------------------- the entry point */

typedef struct dv_sg dv_sg;        /* drivers/servicegroup.h */

/* Where can o->instance go?  The one entry point the CLI, the library, the
 * migrator and the evacuator call (scheduler/schedule.c): reads the
 * members of cfg->agent.group from sg (liveness, admin state, reports),
 * counts the unexpired claims in the state store st (NULL: none), runs the
 * filters and weighers of cfg->scheduler, asks the chosen hosts' libvirt
 * (o->live, or the checks of cfg->controller), and with o->claim holds the
 * instance's memory on the chosen host in st (o->claim needs st; release it
 * with dv_store_claim_release(st, res->host, res->claim_id, ...)).  Errors
 * as dv_find_destination's; free res with dv_sched_result_clear either way. */
int dv_schedule(const dv_config *cfg, dv_sg *sg, dv_store *st, const dv_sched_opts *o,
                dv_sched_result *res, drover_error *err);

#endif
