/* fleet.c - a synthetic fleet for the benchmarks (see fleet.h). */
#include "tests/harness/fleet.h"
#include "core/report.h"
#include "tests/harness/scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dv_fleet_backend_start(dv_fleet_backend *b, dv_config *cfg, const char *driver,
                           drover_error *err)
{
    /* room for 100k reports */
    static const char *const mc_args[] = { "-m", "1024", NULL };
    const char *dir = dv_scratch_dir();
    char state[600];

    memset(b, 0, sizeof *b);
    if (!dir || !(b->scratch = strdup(dir)))
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE, "cannot make a scratch directory");
    snprintf(state, sizeof state, "%s/state.db", b->scratch);
    if (dv_config_set_string(&cfg->servicegroup.driver, driver, err) < 0 ||
        dv_config_set_string(&cfg->servicegroup.db.path, dv_scratch_join(b->scratch, "bench.db"),
                             err) < 0 ||
        dv_config_set_string(&cfg->state.path, state, err) < 0)
        return -1;
    if (strcmp(driver, "mc") == 0) {
        if (dv_mc_start(&b->mc, NULL, NULL, mc_args) < 0)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC,
                          "cannot start memcached with tests/harness/memcached.sh");
        b->mc_up = true;
        return dv_config_set_string(&cfg->servicegroup.mc.servers.v[0], b->mc.addr, err);
    }
    if (strcmp(driver, "zk") == 0) {
        if (dv_zk_start(&b->zk, 1) < 0)
            return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_ZK,
                          "cannot start ZooKeeper with tests/harness/zookeeper.sh");
        b->zk_up = true;
        cfg->servicegroup.zk.session_timeout_ms = 10000;
        return dv_config_set_string(&cfg->servicegroup.zk.hosts, b->zk.hosts, err);
    }
    return 0;
}

void dv_fleet_backend_stop(dv_fleet_backend *b)
{
    if (b->mc_up)
        dv_mc_stop(&b->mc);
    if (b->zk_up)
        dv_zk_stop(&b->zk);
    if (b->scratch)
        dv_scratch_rmrf(b->scratch);
    free(b->scratch);
    memset(b, 0, sizeof *b);
}

void dv_fleet_host(char *buf, size_t len, size_t i)
{
    snprintf(buf, len, "compute-%06zu.rack%02zu.example.net", i, i % 40);
}

void dv_fleet_uuid(char *buf, size_t len, size_t i, int g)
{
    snprintf(buf, len, "%08x-4c1d-4e2f-8a1b-%012zx", (unsigned)g, i);
}

char *dv_fleet_report(const char *host, size_t i, int64_t now, drover_error *err)
{
    static const char cpu_xml[] =
        "<cpu><arch>x86_64</arch><model>Icelake-Server</model><vendor>Intel</vendor>"
        "<microcode version='16777619'/><counter name='tsc' frequency='2095078000'/>"
        "<topology sockets='2' dies='1' cores='16' threads='2'/>"
        "<feature name='vmx'/><feature name='pdcm'/><feature name='hypervisor'/>"
        "<feature name='md-clear'/><feature name='invtsc'/></cpu>";
    drover_instance in[4];
    char names[4][32], uuids[4][64], uri[300];
    drover_report r = {
        .schema = DROVER_REPORT_SCHEMA, .host = (char *)host, .generated_ms = now,
        .hypervisor_type = "QEMU", .hypervisor_version = 7002000, .libvirt_version = 9000000,
        .arch = "x86_64", .cpu_xml = (char *)cpu_xml, .memory_total_mib = 515000,
        .memory_free_mib = 200000, .vcpus = 64, .migration_uri = uri, .instances = in,
        .n_instances = 4,
    };
    char *json;

    snprintf(uri, sizeof uri, "qemu+tcp://%s/system", host);
    for (int g = 0; g < 4; g++) {
        snprintf(names[g], sizeof names[g], "instance-%08zx", i * 4 + (size_t)g);
        dv_fleet_uuid(uuids[g], sizeof uuids[g], i, g);
        in[g] = (drover_instance){ names[g], uuids[g], 4096u << (g % 3),
                                   (char *)(g == 3 ? "paused" : "running") };
    }
    return dv_report_to_json(&r, &json, err) < 0 ? NULL : json;
}

double dv_fleet_clock(clockid_t which)
{
    struct timespec ts;

    clock_gettime(which, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int dv_fleet_sizes(const char *s, size_t *v, int max)
{
    int n = 0;
    char *end;

    while (*s && n < max) {
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s || x == 0 || x > 10000000 || (*end && *end != ','))
            return -1;
        v[n++] = (size_t)x;
        s = *end ? end + 1 : end;
    }
    return *s ? -1 : n;
}

char *dv_fleet_small_report(const char *h, uint64_t free_mib)
{
    drover_instance in[2] = { { "web-1", "6f1c7c0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", 2048, "running" },
                              { "db-1", "00000000-0000-4000-8000-000000000001", 4096, "paused" } };
    drover_report r = { .schema = DROVER_REPORT_SCHEMA, .host = (char *)h, .generated_ms = 1700000000000,
                        .hypervisor_type = "QEMU", .hypervisor_version = 7002000,
                        .libvirt_version = 9000000, .arch = "x86_64", .cpu_xml = "<cpu/>",
                        .memory_total_mib = 65536, .memory_free_mib = free_mib, .vcpus = 16,
                        .migration_uri = "", .instances = in, .n_instances = 2 };
    char *json = NULL;

    if (dv_report_to_json(&r, &json, NULL) < 0)
        return NULL;
    return json;
}

dv_sched_params dv_fleet_sched_params(void)
{
    dv_sched_params p = {
        .ram_allocation_ratio = 1.0,
        .reserved_host_memory_mib = 512,
        .ram_weight_multiplier = 1.0,
        .host_subset_size = 1,
        .max_retries = -1,
        .claim_ttl_s = 600,
        .service_down_time_s = 60,
    };
    return p;
}
