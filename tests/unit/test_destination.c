/* test_destination.c - the destination loop's logic: instance lookup, the
 * order hosts are tried in (weighers, host_subset_size), skipping a host
 * whose live check fails, max_retries, and the named destination's checks.
 *
 * The live-check step here is a table (host -> verdict) so the loop's logic
 * is tested on its own; the real libvirt checks are tested against real
 * libvirtd hosts in tests/integration/test_sched_libvirt.c.  Claims go to a
 * real state store (the sqlite one: a SQLite file in a scratch directory),
 * on a clock the test sets. */
#include "scheduler/scheduler.h"
#include "core/model.h"
#include "tests/harness/fleet.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1700000000000LL
#define MAX_HOSTS 16

/* ---------------------------------------------------------------- a fleet */

typedef struct spec {
    const char *host;
    drover_liveness state;
    uint64_t total_mib;
    const char *type;
    uint64_t version;
    const char *instance;      /* running here, or NULL */
    const char *inst_state;
    uint64_t inst_mib;
} spec;

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        bail_out("out of memory");
    return d;
}

static drover_report *report_of(const spec *sp)
{
    drover_report *r = calloc(1, sizeof *r);
    if (!r)
        bail_out("out of memory");
    r->schema = DROVER_REPORT_SCHEMA;
    r->host = xstrdup(sp->host);
    r->hypervisor_type = xstrdup(sp->type ? sp->type : "QEMU");
    r->hypervisor_version = sp->version ? sp->version : 7002022;
    r->arch = xstrdup("x86_64");
    r->cpu_xml = xstrdup("<cpu/>");
    r->migration_uri = xstrdup("");
    r->memory_total_mib = sp->total_mib;
    r->memory_free_mib = sp->total_mib;
    if (sp->instance) {
        char uuid[40];
        /* a UUID derived from the name: the same name on two hosts is the same guest */
        snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-0000000000%02x",
                 (unsigned)strlen(sp->instance) * 0x1010101u, (unsigned char)sp->instance[0]);
        r->instances = calloc(1, sizeof *r->instances);
        if (!r->instances)
            bail_out("out of memory");
        r->instances[0] = (drover_instance){ xstrdup(sp->instance), xstrdup(uuid), sp->inst_mib,
                                             xstrdup(sp->inst_state ? sp->inst_state : "running") };
        r->n_instances = 1;
    }
    return r;
}

static void fleet_claims(const spec *specs, size_t n, dv_store *db, dv_hosts *hosts);
static void fleet(const spec *specs, size_t n, dv_hosts *hosts)
{
    fleet_claims(specs, n, NULL, hosts);
}

static void fleet_claims(const spec *specs, size_t n, dv_store *db, dv_hosts *hosts)
{
    drover_member *m = calloc(n, sizeof *m);
    drover_error err;

    if (!m)
        bail_out("out of memory");
    for (size_t i = 0; i < n; i++) {
        m[i].group = xstrdup("compute");
        m[i].host = xstrdup(specs[i].host);
        m[i].state = specs[i].state;
        m[i].last_seen_ms = specs[i].state == DROVER_UP ? NOW - 1000 : NOW - 120000;
        m[i].report = report_of(&specs[i]);
    }
    if (dv_hosts_build(m, n, db, NOW, hosts, &err) < 0)
        bail_out("hosts: %s", err.message);
}

/* ---------------------------------------------------------------- a table of live verdicts */

typedef struct table_check {
    dv_live_check base;
    const char *refuse[MAX_HOSTS];     /* hosts whose hypervisor says no */
    size_t n_refuse;
    const char *asked[MAX_HOSTS * 4];  /* the order hosts were asked in */
    size_t n_asked;
    int prepared;
    bool fail_prepare;
} table_check;

static int table_prepare(dv_live_check *lc, const dv_sched_request *r, drover_error *err)
{
    table_check *t = (table_check *)lc;
    t->prepared++;
    if (t->fail_prepare)
        return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                      "cannot read %s from its source %s", r->instance_name, r->source->host);
    return 0;
}

static int table_check_host(dv_live_check *lc, const dv_host_state *dest,
                            const dv_sched_request *r, char *why, size_t len)
{
    table_check *t = (table_check *)lc;
    if (t->n_asked < sizeof t->asked / sizeof *t->asked)
        t->asked[t->n_asked++] = dest->host;
    for (size_t i = 0; i < t->n_refuse; i++)
        if (strcmp(t->refuse[i], dest->host) == 0) {
            snprintf(why, len, "live: CPU of %s lacks avx512f", dest->host);
            return 1;
        }
    return 0;
}

static void table_init(table_check *t)
{
    memset(t, 0, sizeof *t);
    t->base.name = "table";
    t->base.prepare = table_prepare;
    t->base.check = table_check_host;
}

static dv_sched_params params;       /* dv_fleet_sched_params(), set in main */

static void sched(dv_sched *s, const dv_sched_params *p)
{
    static const char *filters[] = { "compute", "different_host", "hypervisor_type",
                                      "hypervisor_version", "arch", "ram" };
    static const char *weighers[] = { "ram" };
    drover_error err;
    if (dv_sched_init_lists(s, p, filters, 6, weighers, 1, &err) < 0)
        bail_out("sched: %s", err.message);
    dv_sched_seed(s, 42);
}

/* src runs vm1 (1024 MiB); five destinations with 2..6 GiB usable */
static const spec base_fleet[] = {
    { "src", DROVER_UP, 16384, NULL, 0, "vm1", "running", 1024 },
    { "a", DROVER_UP, 2560, NULL, 0, NULL, NULL, 0 },     /* 2048 usable */
    { "b", DROVER_UP, 6656, NULL, 0, NULL, NULL, 0 },     /* 6144: the roomiest */
    { "c", DROVER_UP, 4608, NULL, 0, NULL, NULL, 0 },     /* 4096 */
    { "d", DROVER_UP, 5632, NULL, 0, NULL, NULL, 0 },     /* 5120 */
    { "e", DROVER_UP, 3584, NULL, 0, NULL, NULL, 0 },     /* 3072 */
};
#define N_BASE (sizeof base_fleet / sizeof base_fleet[0])

/* One placement's world: the hosts, a scheduler over them, the table of
 * live verdicts, the result and the error. */
typedef struct place {
    dv_hosts h;
    dv_sched s;
    table_check t;
    dv_sched_result res;
    drover_error err;
} place;

static void place_open(place *pl, const spec *f, size_t n, const dv_sched_params *p)
{
    memset(pl, 0, sizeof *pl);
    fleet(f, n, &pl->h);
    sched(&pl->s, p);
    table_init(&pl->t);
}

static void place_close(place *pl)
{
    dv_sched_result_clear(&pl->res);
    dv_sched_fini(&pl->s);
    dv_hosts_free(&pl->h);
}

/* One request; t is the live check (NULL: none).  The result of the
 * request before is cleared first. */
static int run(place *pl, table_check *t, const dv_sched_opts *o)
{
    dv_sched_result_clear(&pl->res);
    dv_err_clear(&pl->err);
    return dv_find_destination(&pl->s, &pl->h, t ? &t->base : NULL, NULL, NOW, o, &pl->res,
                               &pl->err);
}

/* ---------------------------------------------------------------- tests */

static void test_instance_lookup(void)
{
    static const spec f[] = {
        { "h1", DROVER_UP, 8192, NULL, 0, "web", "running", 512 },
        { "h2", DROVER_UP, 8192, NULL, 0, "db", "shutoff", 512 },
        { "h3", DROVER_UP, 8192, NULL, 0, "pp", "paused", 256 },
        { "h4", DROVER_UP, 8192, NULL, 0, "twin", "running", 256 },
        { "h5", DROVER_UP, 8192, NULL, 0, "twin", "running", 256 },
    };
    place pl;
    dv_sched_opts o = { 0 };
    char uuid[40];

    place_open(&pl, f, 5, &params);
    o.instance = "web";
    ok(run(&pl, NULL, &o) == 0, "by name: found and placed");
    is_str(pl.res.source, "h1", "by name: the source is the host reporting it");
    is_int(pl.res.memory_mib, 512, "by name: its memory from the report");
    snprintf(uuid, sizeof uuid, "%s", pl.res.instance_uuid);
    for (char *p = uuid; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    o.instance = uuid;
    ok(run(&pl, NULL, &o) == 0, "by UUID (upper case): found");
    is_str(pl.res.instance_name, "web", "by UUID: the instance's name");

    o.instance = "pp";
    ok(run(&pl, NULL, &o) == 0, "a paused instance can be placed");

    o.instance = "db";
    ok(run(&pl, NULL, &o) < 0, "a shutoff instance is refused");
    is_int(pl.err.code, DROVER_ERR_INVALID, "shutoff: INVALID");
    has_str(pl.err.message, "instance db on host h2 is shutoff: only a running or paused", "shutoff: why");

    o.instance = "nope";
    ok(run(&pl, NULL, &o) < 0, "an unknown instance is refused");
    is_int(pl.err.code, DROVER_ERR_NOT_FOUND, "unknown: NOT_FOUND");
    has_str(pl.err.message, "no host reports an instance named nope", "unknown: says so");
    has_str(pl.err.message, "5 hosts", "unknown: says how many reports were searched");

    o.instance = "twin";
    ok(run(&pl, NULL, &o) < 0, "an instance running on two hosts is refused");
    has_str(pl.err.message, "running on two hosts, h4 and h5", "twin: names both hosts");

    o.instance = "";
    ok(run(&pl, NULL, &o) < 0 && pl.err.code == DROVER_ERR_INVALID,
       "an empty instance name is refused");
    place_close(&pl);
}

static void test_spread_and_skip(void)
{
    place pl;
    dv_sched_opts o = { .instance = "vm1", .explain = true };
    const dv_sched_result *res = &pl.res;

    place_open(&pl, base_fleet, N_BASE, &params);
    ok(run(&pl, &pl.t, &o) == 0, "spread: a host is found");
    is_str(res->host, "b", "spread: the roomiest host (b) is chosen");
    is_int(pl.t.prepared, 1, "prepare ran once");
    is_int(pl.t.n_asked, 1, "only the chosen host was asked");
    is_int(res->tries, 1, "one try");
    is_int(res->n_candidates, 5, "five candidates passed the filters");
    is_int(res->verdicts[2].kind, DV_VERDICT_CHOSEN, "explain: b is chosen");
    is_int(res->verdicts[0].kind, DV_VERDICT_FILTERED, "explain: the source is filtered");
    has_str(res->verdicts[0].reason, "different_host", "explain: the source's reason");
    is_int(res->verdicts[1].kind, DV_VERDICT_CANDIDATE, "explain: a is a candidate not tried");
    ok(res->verdicts[2].weight > res->verdicts[4].weight &&
           res->verdicts[4].weight > res->verdicts[3].weight,
       "explain: weights follow usable memory (b > d > c)");
    ok(res->verdicts[2].weight == 1.0 && res->verdicts[1].weight == 0.0,
       "explain: weights normalized to 0..1");

    /* the best host's hypervisor says no: the next best is taken */
    table_init(&pl.t);
    pl.t.refuse[pl.t.n_refuse++] = "b";
    ok(run(&pl, &pl.t, &o) == 0, "skip: a host is found");
    is_str(res->host, "d", "skip: b failed its live check, d (next best) is chosen");
    is_int(pl.t.n_asked, 2, "skip: two hosts asked");
    is_str(pl.t.asked[0], "b", "skip: b asked first");
    is_int(res->live_failures, 1, "skip: one live failure");
    is_int(res->verdicts[2].kind, DV_VERDICT_LIVE_FAILED, "explain: b failed live");
    has_str(res->verdicts[2].reason, "live: CPU of b lacks avx512f", "explain: b's reason");

    /* every candidate fails: the message lists the failures */
    table_init(&pl.t);
    pl.t.refuse[pl.t.n_refuse++] = "a";
    pl.t.refuse[pl.t.n_refuse++] = "b";
    pl.t.refuse[pl.t.n_refuse++] = "c";
    pl.t.refuse[pl.t.n_refuse++] = "d";
    pl.t.refuse[pl.t.n_refuse++] = "e";
    ok(run(&pl, &pl.t, &o) < 0, "all fail: no host");
    is_int(pl.err.code, DROVER_ERR_NO_VALID_HOST, "all fail: NO_VALID_HOST");
    has_str(pl.err.message, "every candidate was tried and failed", "all fail: says so");
    has_str(pl.err.message, "different_host 1", "all fail: counts what filters removed");
    has_str(pl.err.message, "5 failed the live checks", "all fail: counts live failures");
    has_str(pl.err.message, "b (live: CPU of b lacks avx512f)", "all fail: gives each host's reason");
    ok(res->host == NULL, "all fail: no host in the result");
    is_int(res->tries, 5, "all fail: five tries (unlimited retries)");
    place_close(&pl);
}

static void test_max_retries(void)
{
    dv_sched_params p = params;
    place pl;
    dv_sched_opts o = { .instance = "vm1" };

    p.max_retries = 1;
    place_open(&pl, base_fleet, N_BASE, &p);
    pl.t.refuse[pl.t.n_refuse++] = "b";
    pl.t.refuse[pl.t.n_refuse++] = "d";
    pl.t.refuse[pl.t.n_refuse++] = "c";
    ok(run(&pl, &pl.t, &o) < 0, "max_retries 1: b and d fail, no third try");
    is_int(pl.err.code, DROVER_ERR_NO_VALID_HOST, "max_retries: NO_VALID_HOST");
    has_str(pl.err.message, "gave up after 2 tries (scheduler.max_retries = 1)",
            "max_retries: a clear message");
    has_str(pl.err.message, "d (live: CPU of d lacks avx512f)", "max_retries: the failures listed");
    is_int(pl.t.n_asked, 2, "max_retries: exactly two hosts asked");

    /* max_retries 1 is one retry: the second host may succeed */
    table_init(&pl.t);
    pl.t.refuse[pl.t.n_refuse++] = "b";
    ok(run(&pl, &pl.t, &o) == 0, "max_retries 1: second try succeeds");
    is_str(pl.res.host, "d", "max_retries 1: d");
    place_close(&pl);

    p.max_retries = 0;
    place_open(&pl, base_fleet, N_BASE, &p);
    pl.t.refuse[pl.t.n_refuse++] = "b";
    ok(run(&pl, &pl.t, &o) < 0, "max_retries 0: one try only");
    has_str(pl.err.message, "gave up after 1 tries (scheduler.max_retries = 0)", "max_retries 0: message");
    is_int(pl.t.n_asked, 1, "max_retries 0: one host asked");
    place_close(&pl);
}

static void test_all_filtered(void)
{
    static const spec f[] = {
        { "src", DROVER_UP, 16384, NULL, 0, "big", "running", 8192 },
        { "a", DROVER_UP, 4096, NULL, 0, NULL, NULL, 0 },
        { "b", DROVER_DOWN, 65536, NULL, 0, NULL, NULL, 0 },
        { "c", DROVER_UP, 8192, NULL, 0, NULL, NULL, 0 },
    };
    place pl;
    dv_sched_opts o = { .instance = "big", .explain = true };

    place_open(&pl, f, 4, &params);
    ok(run(&pl, &pl.t, &o) < 0, "all filtered: no host");
    is_int(pl.err.code, DROVER_ERR_NO_VALID_HOST, "all filtered: NO_VALID_HOST");
    has_str(pl.err.message, "no valid host for instance big (8192 MiB) from src: every host was "
                            "filtered out; 4 hosts; filters removed: compute 1, different_host 1, ram 2",
            "all filtered: counts per filter");
    is_int(pl.t.n_asked, 0, "all filtered: no live check asked");
    is_int(pl.res.rejected[5], 2, "result: ram removed 2");
    is_str(pl.res.filter_names[5], "ram", "result: filter names");
    has_str(pl.res.verdicts[3].reason, "ram: needs 8192 MiB, has 7680 MiB usable", "explain: c's reason");
    place_close(&pl);
}

/* Whether, under p, every live check failing, the loop asks the five
 * destinations of base_fleet in the order want. */
static bool tried_in_order(const dv_sched_params *p, const char *const want[5])
{
    static const char *const all[] = { "a", "b", "c", "d", "e" };
    place pl;
    dv_sched_opts o = { .instance = "vm1" };
    bool same;

    place_open(&pl, base_fleet, N_BASE, p);
    for (size_t i = 0; i < 5; i++)
        pl.t.refuse[pl.t.n_refuse++] = all[i];
    run(&pl, &pl.t, &o);
    same = pl.t.n_asked == 5;
    for (size_t i = 0; same && i < 5; i++)
        same = strcmp(pl.t.asked[i], want[i]) == 0;
    place_close(&pl);
    return same;
}

static void test_weigher_order(void)
{
    static const char *const spread[] = { "b", "d", "c", "e", "a" };
    static const char *const pack[] = { "a", "e", "c", "d", "b" };
    dv_sched_params p = params;
    place pl;
    dv_sched_opts o = { .instance = "vm1" };

    ok(tried_in_order(&p, spread), "multiplier 1.0 spreads: tried b, d, c, e, a (most usable first)");
    p.ram_weight_multiplier = -1.0;
    ok(tried_in_order(&p, pack),
       "multiplier -1.0 packs: tried a, e, c, d, b (least usable that fits first)");

    /* multiplier 0: no preference; ties go in name order */
    p.ram_weight_multiplier = 0.0;
    place_open(&pl, base_fleet, N_BASE, &p);
    ok(run(&pl, NULL, &o) == 0, "multiplier 0: placed");
    is_str(pl.res.host, "a", "multiplier 0: equal weights, the first by name");
    place_close(&pl);
}

/* How often each host of base_fleet (indexed like it) is picked in rounds
 * placements under p. */
static void pick_counts(const dv_sched_params *p, int rounds, int count[N_BASE])
{
    place pl;
    dv_sched_opts o = { .instance = "vm1" };

    memset(count, 0, N_BASE * sizeof *count);
    place_open(&pl, base_fleet, N_BASE, p);
    for (int i = 0; i < rounds; i++) {
        if (run(&pl, NULL, &o) < 0)
            bail_out("subset: %s", pl.err.message);
        count[dv_hosts_find(&pl.h, pl.res.host) - pl.h.v]++;
    }
    place_close(&pl);
}

static void test_subset(void)
{
    dv_sched_params p = params;
    int count[N_BASE];

    p.host_subset_size = 3;
    pick_counts(&p, 300, count);
    diag("host_subset_size 3 over 300 placements: b %d, d %d, c %d, e %d, a %d", count[2], count[4],
         count[3], count[5], count[1]);
    ok(count[2] > 50 && count[4] > 50 && count[3] > 50,
       "host_subset_size 3: each of the 3 best (b, d, c) is picked often");
    is_int(count[1] + count[5], 0, "host_subset_size 3: never a host outside the 3 best");

    /* subset larger than the candidates: any candidate, never a filtered host */
    p.host_subset_size = 50;
    pick_counts(&p, 300, count);
    ok(count[0] == 0 && count[1] > 0 && count[2] > 0 && count[3] > 0 && count[4] > 0 && count[5] > 0,
       "host_subset_size 50: every candidate gets picked, the source never");

    /* subset 1 is deterministic */
    p.host_subset_size = 1;
    pick_counts(&p, 20, count);
    is_int(count[2], 20, "host_subset_size 1: always the best");
}

/* A subset larger than the linear top-k handles (more than 64 of the best):
 * 100 candidates, weights 0..99, host_subset_size 80: picks come from the
 * 80 heaviest only, and spread over them. */
static void test_big_subset(void)
{
    static const char *filters[] = { "compute" };
    static const char *weighers[] = { "ram" };
    dv_sched_params p = params;
    dv_host_state hs[101];
    char names[101][8];
    size_t rejected[DV_SCHED_MAX_FILTERS], n_cand;
    int seen[101] = { 0 }, distinct = 0, low = 0;
    dv_sched_request r;
    dv_sched s;
    drover_error err;

    memset(hs, 0, sizeof hs);
    for (int i = 0; i <= 100; i++) {
        snprintf(names[i], sizeof names[i], "h%03d", i);
        hs[i].host = names[i];
        hs[i].state = DROVER_UP;
        hs[i].disabled_reason = "";
        hs[i].has_report = true;
        hs[i].memory_total_mib = 1024 + (uint64_t)i * 100;   /* h100 heaviest */
    }
    memset(&r, 0, sizeof r);
    r.source = &hs[0];
    r.params = &p;
    p.reserved_host_memory_mib = 0;
    p.host_subset_size = 80;
    if (dv_sched_init_lists(&s, &p, filters, 1, weighers, 1, &err) < 0)
        bail_out("%s", err.message);
    dv_sched_seed(&s, 7);
    for (int round = 0; round < 2000; round++) {
        long at;
        dv_sched_filter(&s, hs + 1, 100, &r, &n_cand, rejected, NULL, &err);
        dv_sched_weigh(&s, hs + 1, n_cand, &r);
        at = dv_sched_pick(&s, &n_cand);
        if (at < 0)
            bail_out("no pick");
        seen[at + 1]++;
    }
    for (int i = 1; i <= 100; i++) {
        distinct += seen[i] > 0;
        if (i <= 20)
            low += seen[i];
    }
    is_int(low, 0, "host_subset_size 80 of 100: never one of the 20 lightest");
    is_int(distinct, 80, "host_subset_size 80 of 100: each of the 80 heaviest was picked");
    dv_sched_fini(&s);
}

static void named(const spec *f, size_t n, const char *dest, table_check *t, int want_rc,
                  const char *want_check, const char *want_msg, const char *what)
{
    place pl;
    dv_sched_opts o = { .instance = "vm1", .dest = dest };

    place_open(&pl, f, n, &params);
    is_int(run(&pl, t, &o), want_rc, "--to %s: %s", dest, what);
    if (want_rc < 0) {
        if (want_check)
            is_str(pl.res.failed_check, want_check, "--to %s: the failing check is %s", dest,
                   want_check);
        has_str(pl.err.message, want_msg, "--to %s: the message says why", dest);
    } else {
        is_str(pl.res.host, dest, "--to %s: it is the destination", dest);
    }
    place_close(&pl);
}

static void test_named(void)
{
    static const spec f[] = {
        { "src", DROVER_UP, 16384, NULL, 0, "vm1", "running", 1024 },
        { "down", DROVER_DOWN, 16384, NULL, 0, NULL, NULL, 0 },
        { "small", DROVER_UP, 1535, NULL, 0, NULL, NULL, 0 },  /* 1023 usable */
        { "exact", DROVER_UP, 1536, NULL, 0, NULL, NULL, 0 },  /* 1024 usable */
        { "xen", DROVER_UP, 16384, "Xen", 0, NULL, NULL, 0 },
        { "old", DROVER_UP, 16384, NULL, 7002021, NULL, NULL, 0 },
        { "new", DROVER_UP, 16384, NULL, 8000000, NULL, NULL, 0 },
    };
    const size_t n = sizeof f / sizeof *f;
    table_check t;

    named(f, n, "down", NULL, -1, "compute", "destination down cannot take instance vm1: compute: DOWN",
          "a DOWN destination is refused");
    named(f, n, "small", NULL, -1, "ram", "ram: needs 1024 MiB, has 1023 MiB usable",
          "a destination one MiB too small is refused");
    named(f, n, "exact", NULL, 0, NULL, NULL, "a destination with exactly enough is taken");
    named(f, n, "xen", NULL, -1, "hypervisor_type", "the host runs Xen, the source src runs QEMU",
          "a destination of another hypervisor type is refused");
    named(f, n, "old", NULL, -1, "hypervisor_version", "QEMU 7.2.21, older than 7.2.22",
          "an older destination is refused");
    named(f, n, "new", NULL, 0, NULL, NULL, "a newer destination is taken");
    named(f, n, "src", NULL, -1, "different_host", "is the source host",
          "the source as destination is refused");
    named(f, n, "nowhere", NULL, -1, NULL, "destination nowhere is not a member",
          "an unknown destination is refused");
    table_init(&t);
    t.refuse[t.n_refuse++] = "new";
    named(f, n, "new", &t, -1, "live", "live: CPU of new lacks avx512f",
          "a destination failing its live check is refused");
    is_int(t.n_asked, 1, "--to: the live check asked only the named host");
    table_init(&t);
    named(f, n, "old", &t, -1, "hypervisor_version", "older", "--to old with live checks");
    is_int(t.n_asked, 0, "--to: no live check when a cheap check already failed");
}


static void test_prepare_fails(void)
{
    place pl;
    dv_sched_opts o = { .instance = "vm1" };

    place_open(&pl, base_fleet, N_BASE, &params);
    pl.t.fail_prepare = true;
    ok(run(&pl, &pl.t, &o) < 0, "prepare failing fails the request");
    is_int(pl.err.code, DROVER_ERR_LIBVIRT, "prepare: its error code is kept");
    has_str(pl.err.message, "cannot read vm1 from its source src", "prepare: its message is kept");
    is_int(pl.t.n_asked, 0, "prepare: no destination asked");
    place_close(&pl);
}

static void test_ignore(void)
{
    const char *ignore[] = { "b", "d" };
    place pl;
    dv_sched_opts o = { .instance = "vm1", .ignore = ignore, .n_ignore = 2 };

    place_open(&pl, base_fleet, N_BASE, &params);
    ok(run(&pl, NULL, &o) == 0, "--ignore b --ignore d: placed");
    is_str(pl.res.host, "c", "--ignore: the best host not ignored (c)");
    is_int(pl.res.rejected[1], 3, "--ignore: different_host removed the source and two ignored");
    place_close(&pl);
}

/* Another scheduler claims the best host's room after our host states were
 * read: our claim conflicts, that host is skipped, the next one is taken. */
static int64_t store_now;

static int64_t now_of_test(void *arg)
{
    (void)arg;
    return store_now;
}

static void test_claims(void)
{
    static const spec f[] = {
        { "src", DROVER_UP, 16384, NULL, 0, "vm1", "running", 1024 },
        { "a", DROVER_UP, 6656, NULL, 0, NULL, NULL, 0 },   /* 6144 usable */
        { "b", DROVER_UP, 4608, NULL, 0, NULL, NULL, 0 },   /* 4096 usable */
    };
    char dir[] = "/tmp/drover-test-sched-XXXXXX", path[600];
    dv_config *cfg = dv_config_new_defaults();
    dv_store *db;
    dv_hosts h;
    dv_sched s;
    dv_sched_result res;
    dv_sched_opts o = { .instance = "vm1", .explain = true };
    drover_error err;
    int64_t other = 0;
    uint64_t mib = 0;

    if (!mkdtemp(dir))
        bail_out("mkdtemp: cannot make a scratch directory");
    snprintf(path, sizeof path, "%s/state.db", dir);
    if (!cfg || dv_config_set_string(&cfg->state.backend, "sqlite", NULL) < 0 ||
        dv_config_set_string(&cfg->state.path, path, NULL) < 0)
        bail_out("config: out of memory");
    if (dv_store_open(cfg, &db, &err) < 0)
        bail_out("state store: %s", err.message);
    store_now = NOW;
    db->clock.now_ms = now_of_test;
    fleet_claims(f, 3, db, &h);
    is_int(h.v[1].claimed_mib, 0, "claims: nothing claimed on a when the states are read");
    ok(dv_store_claim_try(db, "a", "other-instance", "test", 5500, 6144, 600, 0, NULL, &other,
                          &err) == 0,
       "claims: another scheduler claims 5500 of a's 6144 MiB");
    sched(&s, &params);
    ok(dv_find_destination(&s, &h, NULL, db, NOW, &o, &res, &err) == 0, "claims: a host is found");
    is_str(res.host, "b", "claims: a lost the race, b is taken");
    ok(res.claim_id > 0 && res.claim_id != other, "claims: b's claim has its own id");
    is_int(res.claim_conflicts, 1, "claims: one conflict");
    is_int(res.tries, 2, "claims: two tries");
    is_int(res.verdicts[1].kind, DV_VERDICT_CLAIM_FAILED, "explain: a lost the claim");
    has_str(res.verdicts[1].reason, "claim: host a: 5500 MiB claimed already of 6144 MiB",
            "explain: a's reason says what is claimed");
    ok(dv_store_claimed_mib(db, "b", &mib, &err) == 0 && mib == 1024,
       "claims: 1024 MiB are now claimed on b");
    dv_sched_result_clear(&res);
    dv_hosts_free(&h);

    /* states read now see the claims: a is filtered, b has less room */
    fleet_claims(f, 3, db, &h);
    is_int(h.v[1].claimed_mib, 5500, "claims: a's claim is in its host state");
    is_int(h.v[2].claimed_mib, 1024, "claims: b's claim is in its host state");
    ok(dv_find_destination(&s, &h, NULL, db, NOW, &o, &res, &err) == 0, "claims: placed again");
    is_str(res.host, "b", "claims: b again (a is full of claims)");
    has_str(res.verdicts[1].reason, "ram: needs 1024 MiB, has 644 MiB usable", "claims: a filtered by ram");
    has_str(res.verdicts[1].reason, "claimed 5500)", "claims: the claim is in the arithmetic");
    dv_sched_result_clear(&res);

    /* a named destination whose room was claimed meanwhile: "claim" */
    o.dest = "b";
    if (dv_store_claim_try(db, "b", "third", "test", 2048, 4096, 600, 0, NULL, &other, &err) < 0)
        bail_out("claim: %s", err.message);
    ok(dv_find_destination(&s, &h, NULL, db, NOW, &o, &res, &err) < 0, "claims: --to b is refused");
    is_str(res.failed_check, "claim", "claims: the claim check failed");
    has_str(err.message, "destination b cannot take instance vm1: claim: host b:", "claims: why");
    dv_sched_result_clear(&res);

    /* after the claims expire there is room again */
    store_now = NOW + 601000;
    ok(dv_find_destination(&s, &h, NULL, db, NOW + 601000, &o, &res, &err) == 0,
       "claims: once the claims expire, --to b fits");
    dv_sched_result_clear(&res);
    dv_sched_fini(&s);
    dv_hosts_free(&h);
    dv_store_close(db);
    dv_config_free(cfg);
    unlink(path);
    snprintf(path, sizeof path, "%s/state.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/state.db-shm", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/state.db-lock", dir);
    unlink(path);
    if (rmdir(dir) < 0)
        diag("could not remove %s", dir);
}

int main(void)
{
    params = dv_fleet_sched_params();
    test_instance_lookup();
    test_spread_and_skip();
    test_max_retries();
    test_all_filtered();
    test_weigher_order();
    test_subset();
    test_big_subset();
    test_named();
    test_prepare_fails();
    test_ignore();
    test_claims();
    return done_testing();
}
