/* test_filters.c - every scheduler filter at its boundaries, the registry,
 * the chain (order, counts, reasons) and host states built from members.
 * Pure logic: host states are written out by hand. */
#include "scheduler/scheduler.h"
#include "core/model.h"
#include "tests/harness/fleet.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

static dv_sched_params params;       /* dv_fleet_sched_params(), set in main */

static dv_host_state host(const char *name, uint64_t total, uint64_t used)
{
    dv_host_state h = {
        .host = name,
        .state = DROVER_UP,
        .has_report = true,
        .disabled_reason = "",
        .last_seen_ms = NOW - 5000,
        .hypervisor_type = "QEMU",
        .hypervisor_version = 7002022,
        .arch = "x86_64",
        .memory_total_mib = total,
        .memory_free_mib = total - used,
        .memory_used_mib = used,
    };
    return h;
}

static dv_host_state source;

static dv_sched_request request(uint64_t mem)
{
    dv_sched_request r = {
        .instance_name = "vm1",
        .instance_uuid = "0b0b0b0b-0000-4000-8000-000000000001",
        .memory_mib = mem,
        .source = &source,
        .params = &params,
        .now_ms = NOW,
    };
    return r;
}

static bool passes(const dv_filter_ops *f, const dv_host_state *h, const dv_sched_request *r,
                   char *why)
{
    why[0] = '\0';
    return f->host_passes(h, r, why, DV_REASON_MAX);
}

static void test_compute(void)
{
    dv_sched_request r = request(1024);
    dv_host_state h = host("c1", 8192, 0);
    char why[DV_REASON_MAX];

    ok(passes(&dv_filter_compute, &h, &r, why), "compute: UP, enabled passes");
    ok(dv_filter_compute.host_passes(&h, &r, NULL, 0), "compute: passes without a reason buffer");

    h.state = DROVER_DOWN;
    h.last_seen_ms = NOW - 95000;
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: DOWN is rejected");
    is_str(why, "compute: DOWN: last heartbeat 95 s ago (service_down_time is 60 s)",
           "compute: DOWN says how long ago and the limit");
    ok(!dv_filter_compute.host_passes(&h, &r, NULL, 0), "compute: rejects without a reason buffer");

    h.last_seen_ms = 0;
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: never seen is rejected");
    has_str(why, "never sent a heartbeat", "compute: never seen says so");

    h = host("c1", 8192, 0);
    h.state = DROVER_UNKNOWN;
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: UNKNOWN liveness never passes");
    has_str(why, "UNKNOWN", "compute: UNKNOWN is named in the reason");
    h.disabled = false;
    h.forced_down = false;
    h.last_seen_ms = NOW;   /* even with a fresh heartbeat */
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: UNKNOWN with a fresh heartbeat still fails");

    h = host("c1", 8192, 0);
    h.disabled = true;
    h.disabled_reason = "kernel upgrade";
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: disabled is rejected");
    is_str(why, "compute: disabled (reason: kernel upgrade)", "compute: disabled gives the reason");
    h.disabled_reason = "";
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: disabled without reason is rejected");
    is_str(why, "compute: disabled (no reason given)", "compute: disabled without a reason says so");

    h = host("c1", 8192, 0);
    h.forced_down = true;   /* a driver reports it DOWN, but check the flag alone too */
    ok(!passes(&dv_filter_compute, &h, &r, why), "compute: forced down is rejected even if UP");
    has_str(why, "forced down", "compute: forced down is named");
}

static void test_hypervisor_type(void)
{
    static const struct {
        const char *type;
        bool passes;
        const char *what;
    } cases[] = {
        { "QEMU", true, "same type passes" },
        { "Xen", false, "another type is rejected" },
        { "qemu", false, "the comparison is exact (qemu is not QEMU)" },
    };
    dv_sched_request r = request(1024);
    dv_host_state h = host("t1", 8192, 0);
    char why[DV_REASON_MAX];

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        h.hypervisor_type = cases[i].type;
        ok(passes(&dv_filter_hypervisor_type, &h, &r, why) == cases[i].passes, "hypervisor_type: %s",
           cases[i].what);
        if (strcmp(cases[i].type, "Xen") == 0)
            is_str(why, "hypervisor_type: the host runs Xen, the source src runs QEMU",
                   "hypervisor_type: names both types");
    }
    h = host("t1", 8192, 0);
    h.has_report = false;
    h.hypervisor_type = "";
    ok(!passes(&dv_filter_hypervisor_type, &h, &r, why), "hypervisor_type: no report is rejected");
    has_str(why, "not reported", "hypervisor_type: no report says so");
}

static void test_hypervisor_version(void)
{
    static const struct {
        uint64_t version;
        bool passes;
        const char *what;
    } cases[] = {
        { 7002022, true, "equal passes" },
        { 7002023, true, "newer passes" },
        { 8000000, true, "newer major passes" },
        { 7002021, false, "one release older is rejected" },
        { 6999999, false, "an older major is rejected" },
    };
    dv_sched_request r = request(1024);
    dv_host_state h = host("v1", 8192, 0);
    char why[DV_REASON_MAX];

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        h.hypervisor_version = cases[i].version;
        ok(passes(&dv_filter_hypervisor_version, &h, &r, why) == cases[i].passes,
           "hypervisor_version: %s", cases[i].what);
        if (cases[i].version == 7002021)
            is_str(why, "hypervisor_version: the host runs QEMU 7.2.21, older than 7.2.22 on the source src",
                   "hypervisor_version: both versions in words");
    }
    h.has_report = false;
    ok(!passes(&dv_filter_hypervisor_version, &h, &r, why),
       "hypervisor_version: no report is rejected");
}

static void test_ram(void)
{
    dv_sched_request r = request(2048);
    dv_host_state h = host("r1", 8192, 6145);
    char why[DV_REASON_MAX];

    /* 8192 x 1.0 - 6145 - 512 - 0 = 1535 */
    ok(!passes(&dv_filter_ram, &h, &r, why), "ram: 1535 usable for 2048 is rejected");
    is_str(why, "ram: needs 2048 MiB, has 1535 MiB usable (total 8192 x 1 - used 6145 - "
                "reserved 512 - claimed 0)",
           "ram: the arithmetic in words");

    r = request(1535);
    ok(passes(&dv_filter_ram, &h, &r, why), "ram: exactly enough passes");
    r = request(1536);
    ok(!passes(&dv_filter_ram, &h, &r, why), "ram: one MiB short is rejected");
    has_str(why, "needs 1536 MiB, has 1535 MiB usable", "ram: one MiB short in words");

    h.claimed_mib = 1;
    r = request(1535);
    ok(!passes(&dv_filter_ram, &h, &r, why), "ram: a 1 MiB claim takes the last MiB");
    has_str(why, "claimed 1)", "ram: the claim is in the arithmetic");
    r = request(1534);
    ok(passes(&dv_filter_ram, &h, &r, why), "ram: the claim leaves 1534");

    /* overcommit: 8192 x 1.5 = 12288 - 6145 - 512 = 5631 */
    {
        dv_sched_params p = params;
        p.ram_allocation_ratio = 1.5;
        r = request(5631);
        r.params = &p;
        h.claimed_mib = 0;
        ok(passes(&dv_filter_ram, &h, &r, why), "ram: ratio 1.5 gives exactly 5631");
        r.memory_mib = 5632;
        ok(!passes(&dv_filter_ram, &h, &r, why), "ram: ratio 1.5, one MiB more is rejected");
        has_str(why, "x 1.5 -", "ram: the ratio is in the arithmetic");
        is_int(dv_ram_usable_mib(&h, &p, false), 5631, "usable without claims, ratio 1.5");
    }

    /* a host already over its limit: negative usable, still rejected */
    h = host("r1", 1024, 2048);
    r = request(1);
    ok(!passes(&dv_filter_ram, &h, &r, why), "ram: an overfull host is rejected");
    has_str(why, "has -1536 MiB usable", "ram: negative usable is shown as is");
    is_int(dv_ram_usable_mib(&h, &params, true), -1536, "usable can be negative");

    h = host("r1", 8192, 0);
    h.has_report = false;
    ok(!passes(&dv_filter_ram, &h, &r, why), "ram: no report is rejected");
}

static void test_arch(void)
{
    dv_sched_request r = request(1);
    dv_host_state h = host("a1", 8192, 0);
    char why[DV_REASON_MAX];

    ok(passes(&dv_filter_arch, &h, &r, why), "arch: same arch passes");
    h.arch = "aarch64";
    ok(!passes(&dv_filter_arch, &h, &r, why), "arch: another arch is rejected");
    is_str(why, "arch: the host is aarch64, the instance runs on x86_64", "arch: names both");
    h.has_report = false;
    ok(!passes(&dv_filter_arch, &h, &r, why), "arch: no report is rejected");
}

static void test_different_host(void)
{
    const char *ignore[] = { "x1", "x2" };
    dv_sched_request r = request(1);
    dv_host_state h = host("d1", 8192, 0), copy_of_source = source;
    char why[DV_REASON_MAX];

    ok(passes(&dv_filter_different_host, &h, &r, why), "different_host: another host passes");
    ok(!passes(&dv_filter_different_host, &source, &r, why), "different_host: the source is rejected");
    has_str(why, "source host", "different_host: says it is the source");
    ok(!passes(&dv_filter_different_host, &copy_of_source, &r, why),
       "different_host: the source by name (another record) is rejected");
    r.ignore = ignore;
    r.n_ignore = 2;
    h.host = "x2";
    ok(!passes(&dv_filter_different_host, &h, &r, why), "different_host: an ignored host is rejected");
    has_str(why, "ignore", "different_host: says it is ignored");
    h.host = "x3";
    ok(passes(&dv_filter_different_host, &h, &r, why), "different_host: a host not ignored passes");
}

static void test_registry(void)
{
    const char *const *names = dv_filter_names();
    drover_error err;
    size_t n = 0;

    for (; names[n]; n++) {
        const dv_filter_ops *f = dv_filter_find(names[n], &err);
        ok(f && strcmp(f->name, names[n]) == 0 && f->version == DV_FILTER_OPS_VERSION &&
               f->host_passes && f->summary,
           "registry finds filter %s, complete", names[n]);
    }
    is_int(n, 6, "six filters registered");
    ok(!dv_filter_find("numa", &err), "unknown filter is not found");
    is_int(err.code, DROVER_ERR_CONFIG, "unknown filter is a config error");
    has_str(err.message, "no filter named \"numa\"", "the message names it");
    has_str(err.message, "compute, different_host", "the message lists the known filters");
    ok(dv_weigher_find("ram", &err) == &dv_weigher_ram, "weigher ram is found");
    ok(!dv_weigher_find("cpu", &err), "unknown weigher is not found");
    has_str(err.message, "this build has: ram", "the message lists the known weighers");
}

static void test_init(void)
{
    const char *dup[] = { "ram", "compute", "ram" };
    const char *bad[] = { "compute", "io_ops" };
    const char *w_bad[] = { "cpu" };
    const char *w[] = { "ram" };
    dv_sched s;
    drover_error err;

    ok(dv_sched_init_lists(&s, &params, dup, 3, w, 1, &err) < 0, "a filter listed twice is refused");
    has_str(err.message, "lists \"ram\" twice", "the duplicate is named");
    dv_sched_fini(&s);
    ok(dv_sched_init_lists(&s, &params, bad, 2, w, 1, &err) < 0, "an unknown filter is refused");
    has_str(err.message, "io_ops", "the unknown filter is named");
    dv_sched_fini(&s);
    ok(dv_sched_init_lists(&s, &params, bad, 1, w_bad, 1, &err) < 0, "an unknown weigher is refused");
    is_int(err.code, DROVER_ERR_CONFIG, "an unknown weigher is a config error");
    dv_sched_fini(&s);

    {
        dv_config *cfg = dv_config_new_defaults();
        if (!cfg)
            bail_out("out of memory");
        ok(dv_sched_init(&s, cfg, &err) == 0, "the default config's chain resolves");
        is_int(s.n_filters, 6, "six default filters");
        is_str(s.filters[0]->name, "compute", "config order kept: compute first");
        is_str(s.filters[5]->name, "ram", "config order kept: ram last");
        is_int(s.p.reserved_host_memory_mib, 512, "reserved_host_memory_mb copied");
        is_int(s.p.max_retries, -1, "max_retries copied");
        dv_sched_fini(&s);
        dv_config_free(cfg);
    }
}

/* The chain runs filters in the configured order: a host is counted by the
 * first filter that rejects it, and its verdict carries that reason. */
static void test_chain(void)
{
    const char *order1[] = { "compute", "different_host", "hypervisor_type", "hypervisor_version",
                             "arch", "ram" };
    const char *order2[] = { "ram", "compute" };
    const char *w[] = { "ram" };
    dv_host_state hs[6];
    dv_verdict v[6];
    size_t rejected[DV_SCHED_MAX_FILTERS], n_cand;
    dv_sched_request r = request(1024);
    dv_sched s;
    drover_error err;

    hs[0] = source;
    hs[1] = host("down-and-small", 1024, 1000);
    hs[1].state = DROVER_DOWN;
    hs[2] = host("good", 8192, 0);
    hs[3] = host("xen", 8192, 0);
    hs[3].hypervisor_type = "Xen";
    hs[4] = host("small", 1024, 0);
    hs[5] = host("old", 8192, 0);
    hs[5].hypervisor_version = 6000000;
    memset(v, 0, sizeof v);

    if (dv_sched_init_lists(&s, &params, order1, 6, w, 1, &err) < 0)
        bail_out("init: %s", err.message);
    ok(dv_sched_filter(&s, hs, 6, &r, &n_cand, rejected, v, &err) == 0, "chain runs");
    is_int(n_cand, 1, "one host survives");
    is_str(hs[s.cand[0]].host, "good", "the survivor is the good host");
    is_int(rejected[0], 1, "compute removed one");
    is_int(rejected[1], 1, "different_host removed the source");
    is_int(rejected[2], 1, "hypervisor_type removed one");
    is_int(rejected[3], 1, "hypervisor_version removed one");
    is_int(rejected[4], 0, "arch removed none");
    is_int(rejected[5], 1, "ram removed one");
    is_int(v[1].kind, DV_VERDICT_FILTERED, "the down host's verdict: filtered");
    is_int(v[1].filter, 0, "by the first filter (compute)");
    has_str(v[1].reason, "compute: DOWN", "with compute's reason");
    has_str(v[4].reason, "ram: needs 1024 MiB, has 512 MiB usable", "small host: ram's reason");
    has_str(v[5].reason, "hypervisor_version:", "old host: version's reason");
    is_int(v[2].kind, DV_VERDICT_NONE, "the survivor has no rejection");
    dv_sched_fini(&s);

    /* the order of scheduler.filters decides who gets the blame */
    memset(v, 0, sizeof v);
    if (dv_sched_init_lists(&s, &params, order2, 2, w, 1, &err) < 0)
        bail_out("init: %s", err.message);
    ok(dv_sched_filter(&s, hs, 6, &r, &n_cand, rejected, v, &err) == 0, "chain 2 runs");
    is_int(rejected[0], 2, "ram first removes the down-and-small and the small host");
    is_int(rejected[1], 0, "compute then has nothing left to remove");
    has_str(v[1].reason, "ram:", "down-and-small is blamed on ram now");
    is_int(n_cand, 4, "source, good, xen and old pass ram and compute");
    /* the fast path (no verdicts) gives the same survivors */
    ok(dv_sched_filter(&s, hs, 6, &r, &n_cand, rejected, NULL, &err) == 0 && n_cand == 4,
       "no verdicts: same survivors");
    dv_sched_fini(&s);
}

static drover_report *report(const char *host, uint64_t total)
{
    drover_report *r = calloc(1, sizeof *r);
    if (!r)
        bail_out("out of memory");
    r->schema = DROVER_REPORT_SCHEMA;
    r->host = strdup(host);
    r->hypervisor_type = strdup("QEMU");
    r->hypervisor_version = 7002022;
    r->arch = strdup("x86_64");
    r->cpu_xml = strdup("");
    r->migration_uri = strdup("");
    r->memory_total_mib = total;
    r->memory_free_mib = total / 2;
    r->n_instances = 2;
    r->instances = calloc(2, sizeof *r->instances);
    r->instances[0] = (drover_instance){ strdup("a"), strdup("u-a"), 1024, strdup("running") };
    r->instances[1] = (drover_instance){ strdup("b"), strdup("u-b"), 512, strdup("shutoff") };
    return r;
}

static void test_hosts_build(void)
{
    drover_member *m = calloc(3, sizeof *m);
    dv_hosts hosts;
    drover_error err;

    if (!m)
        bail_out("out of memory");
    m[0] = (drover_member){ .group = strdup("compute"), .host = strdup("h1"), .state = DROVER_UP,
                            .last_seen_ms = NOW, .report = report("h1", 4096) };
    m[1] = (drover_member){ .group = strdup("compute"), .host = strdup("h2"),
                            .state = DROVER_DOWN, .disabled = true,
                            .disabled_reason = strdup("rma") };
    m[2] = (drover_member){ .group = strdup("compute"), .host = strdup("h3"),
                            .state = DROVER_UNKNOWN, .forced_down = true,
                            .report = report("h3", 2048) };
    ok(dv_hosts_build(m, 3, NULL, NOW, &hosts, &err) == 0, "host states build");
    is_int(hosts.n, 3, "one state per member");
    is_str(hosts.v[0].host, "h1", "state 0 is h1");
    ok(hosts.v[0].has_report, "h1 has a report");
    is_int(hosts.v[0].memory_used_mib, 1536, "used counts every instance, stopped ones too");
    is_int(hosts.v[0].memory_total_mib, 4096, "total from the report");
    is_str(hosts.v[0].hypervisor_type, "QEMU", "hypervisor type from the report");
    ok(!hosts.v[1].has_report, "h2 never reported");
    is_str(hosts.v[1].hypervisor_type, "", "no report: empty type, never NULL");
    ok(hosts.v[1].disabled, "h2 disabled");
    is_str(hosts.v[1].disabled_reason, "rma", "h2's reason");
    is_str(hosts.v[0].disabled_reason, "", "no reason: empty, never NULL");
    ok(hosts.v[2].forced_down && hosts.v[2].state == DROVER_UNKNOWN, "h3: forced down, UNKNOWN");
    ok(dv_hosts_find(&hosts, "h3") == &hosts.v[2], "find by name");
    ok(dv_hosts_find(&hosts, "h4") == NULL, "find: no such host");
    dv_hosts_free(&hosts);
    ok(hosts.v == NULL && hosts.n == 0, "freed");
}

/* Which URI reaches a host's libvirtd from the controller. */
static void test_host_uri(void)
{
    const char *map[] = { "c10=qemu+unix:///system?socket=/s/c10", "c1=qemu+tcp://h=1/system" };
    dv_host_uris u = { .tmpl = "qemu+ssh://root@%h/system?x=%%", .map = map, .n_map = 2 };
    drover_report rep = { .migration_uri = "qemu+tcp://10.0.0.9/system" };
    dv_host_state h = host("c1", 1, 0);
    char buf[256], tiny[12];
    drover_error err;

    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) == 0, "uri: c1 from the map");
    is_str(buf, "qemu+tcp://h=1/system", "uri: the map entry, split at the first '='");
    h.host = "c10";
    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) == 0, "uri: c10 from the map");
    is_str(buf, "qemu+unix:///system?socket=/s/c10", "uri: c10 is not c1 (prefixes do not match)");
    h.host = "c2";
    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) == 0, "uri: c2 from the template");
    is_str(buf, "qemu+ssh://root@c2/system?x=%", "uri: %%h is the host, %%%% a percent");
    ok(dv_host_uri(&u, &h, tiny, sizeof tiny, &err) < 0, "uri: too long for the buffer is an error");
    u.tmpl = "";
    h.report = &rep;
    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) == 0, "uri: no template: the reported one");
    is_str(buf, "qemu+tcp://10.0.0.9/system", "uri: the reported migration_uri");
    rep.migration_uri = "qemu:///system";
    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) < 0, "uri: a reported local URI is refused");
    has_str(err.message, "names no server", "uri: says why");
    has_str(err.message, "controller.libvirt_uris", "uri: says what to set");
    rep.migration_uri = "";
    ok(dv_host_uri(&u, &h, buf, sizeof buf, &err) < 0, "uri: nothing reported, nothing configured");
    is_int(err.code, DROVER_ERR_CONFIG, "uri: a config error");
    h.report = NULL;
    ok(dv_host_uri(NULL, &h, buf, sizeof buf, &err) < 0, "uri: no map, no report");
}

int main(void)
{
    char buf[32];

    params = dv_fleet_sched_params();
    source = host("src", 16384, 4096);
    test_compute();
    test_hypervisor_type();
    test_hypervisor_version();
    test_ram();
    test_arch();
    test_different_host();
    test_registry();
    test_init();
    test_chain();
    test_hosts_build();
    test_host_uri();
    dv_version_format(7002022, buf, sizeof buf);
    is_str(buf, "7.2.22", "version format");
    dv_version_format(9000000, buf, sizeof buf);
    is_str(buf, "9.0.0", "version format, zeros");
    return done_testing();
}
