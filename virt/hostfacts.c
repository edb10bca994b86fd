/* hostfacts.c - what a host is: its memory, its CPU, its guests, and the
 * report the agent publishes of it. */
#include "virt/internal.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

/* Read the capabilities when the cache is empty or old. */
static int refresh_caps(dv_virt *v, drover_error *err)
{
    char *caps, *arch, *cpu;
    int rc;

    if (v->cpu_xml && dv_mono_ms() - v->caps_read_ms < DV_VIRT_CAPS_REFRESH_MS)
        return 0;
    if (!(caps = virConnectGetCapabilities(v->conn)))
        return dv_virt_error(err, v->uri, "virConnectGetCapabilities");
    v->caps_reads++;
    rc = dv_virt_parse_host_cpu(caps, v->uri, &arch, &cpu, err);
    free(caps);
    if (rc < 0)
        return -1;
    free(v->arch);
    free(v->cpu_xml);
    v->arch = arch;
    v->cpu_xml = cpu;
    v->caps_read_ms = dv_mono_ms();
    return 0;
}


const char *dv_virt_state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_NOSTATE: return "nostate";
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    }
    return "unknown";
}

/* Bytes the host uses, from the kernel's view (memory stats), in KiB.
 * Returns 1 when the driver has no memory stats. */
static int used_kib(dv_virt *v, uint64_t *used, drover_error *err)
{
    virNodeMemoryStats st[16];
    uint64_t total = 0, avail = 0;
    bool have_total = false, have_free = false;
    int n = v->memstats_n;

    if (n < 0)
        return 1;
    if (n == 0 && virNodeGetMemoryStats(v->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0) {
        if (!dv_virt_last_error_is(VIR_ERR_NO_SUPPORT))
            return dv_virt_error(err, v->uri, "virNodeGetMemoryStats");
        virResetLastError();
        v->memstats_n = -1;
        return 1;
    }
    if (n <= 0 || n > 16) {
        v->memstats_n = -1;
        return 1;
    }
    v->memstats_n = n;
    if (virNodeGetMemoryStats(v->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) < 0)
        return dv_virt_error(err, v->uri, "virNodeGetMemoryStats");
    for (int i = 0; i < n; i++) {
        if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_TOTAL) == 0) {
            total = st[i].value;
            have_total = true;
        } else if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0) {
            avail += st[i].value;
            have_free = true;
        } else if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
                   strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0) {
            avail += st[i].value;
        }
    }
    if (!have_total || !have_free) {
        v->memstats_n = -1;
        return 1;
    }
    *used = total > avail ? total - avail : 0;
    return 0;
}

int dv_virt_read_memory(dv_virt *v, dv_virt_memory *m, drover_error *err)
{
    virNodeInfo ni;
    uint64_t used;
    int rc;

    if (!v->conn)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt connection");
    if (virNodeGetInfo(v->conn, &ni) < 0)
        return dv_virt_error(err, v->uri, "virNodeGetInfo");
    m->total_mib = (uint64_t)ni.memory / 1024;
    m->vcpus = ni.cpus;
    if ((rc = used_kib(v, &used, err)) < 0)
        return -1;
    if (rc == 0) {
        used /= 1024;
        m->free_mib = used < m->total_mib ? m->total_mib - used : 0;
    } else {
        unsigned long long bytes = virNodeGetFreeMemory(v->conn);
        if (bytes == 0 && virGetLastError())
            return dv_virt_error(err, v->uri, "virNodeGetFreeMemory");
        m->free_mib = bytes >> 20;
        if (m->free_mib > m->total_mib)
            m->free_mib = m->total_mib;
    }
    return 0;
}


static int by_name(const void *a, const void *b)
{
    return strcmp(((const drover_instance *)a)->name, ((const drover_instance *)b)->name);
}

/* 1 = the domain went away while we read it; leave it out. */
static int read_instance(dv_virt *v, virDomainPtr d, drover_instance *in, drover_error *err)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainInfo info;
    const char *name = virDomainGetName(d);

    if (virDomainGetInfo(d, &info) < 0) {
        if (dv_virt_last_error_is(VIR_ERR_NO_DOMAIN)) {
            virResetLastError();
            return 1;
        }
        return dv_virt_error(err, v->uri, "virDomainGetInfo");
    }
    if (!name || virDomainGetUUIDString(d, uuid) < 0)
        return dv_virt_error(err, v->uri, "virDomainGetUUIDString");
    in->memory_mib = (uint64_t)info.maxMem / 1024;
    if (!(in->name = strdup(name)) || !(in->uuid = strdup(uuid)) ||
        !(in->state = strdup(dv_virt_state_name(info.state))))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    return 0;
}

static int read_instances(dv_virt *v, drover_report *r, drover_error *err)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(v->conn, &doms, 0), rc = 0;

    if (n < 0)
        return dv_virt_error(err, v->uri, "virConnectListAllDomains");
    if (n > 0 && !(r->instances = calloc((size_t)n, sizeof *r->instances)))
        rc = dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            drover_instance *in = &r->instances[r->n_instances];
            int got = read_instance(v, doms[i], in, err);
            r->n_instances++;             /* counted even half-filled, so it is freed */
            if (got < 0)
                rc = -1;
            else if (got > 0)
                r->n_instances--;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    if (rc == 0 && r->n_instances > 1)
        qsort(r->instances, r->n_instances, sizeof *r->instances, by_name);
    return rc;
}

int dv_virt_read_report(dv_virt *v, const char *host, const char *migration_uri,
                        drover_report **out, drover_error *err)
{
    drover_report *r;
    const char *type;
    unsigned long hv = 0, lib = 0;
    dv_virt_memory mem;

    *out = NULL;
    if (!v || !v->conn)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt connection");
    if (!(r = calloc(1, sizeof *r)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    r->schema = DROVER_REPORT_SCHEMA;
    if (!migration_uri || !*migration_uri)
        migration_uri = v->uri;
    if (!(r->host = strdup(host ? host : "")) || !(r->migration_uri = strdup(migration_uri))) {
        drover_report_free(r);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    if (!(type = virConnectGetType(v->conn))) {
        dv_virt_error(err, v->uri, "virConnectGetType");
        goto fail;
    }
    if (virConnectGetVersion(v->conn, &hv) < 0) {
        dv_virt_error(err, v->uri, "virConnectGetVersion");
        goto fail;
    }
    if (virConnectGetLibVersion(v->conn, &lib) < 0) {
        dv_virt_error(err, v->uri, "virConnectGetLibVersion");
        goto fail;
    }
    r->hypervisor_version = hv;
    r->libvirt_version = lib;
    if (!(r->hypervisor_type = strdup(type))) {
        dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
        goto fail;
    }
    if (refresh_caps(v, err) < 0 || dv_virt_read_memory(v, &mem, err) < 0 ||
        read_instances(v, r, err) < 0)
        goto fail;
    r->memory_total_mib = mem.total_mib;
    r->memory_free_mib = mem.free_mib;
    r->vcpus = mem.vcpus;
    if (!(r->arch = strdup(v->arch)) || !(r->cpu_xml = strdup(v->cpu_xml))) {
        dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
        goto fail;
    }
    r->generated_ms = dv_wall_ms();
    *out = r;
    return 0;

fail:
    drover_report_free(r);
    return -1;
}

unsigned dv_virt_caps_reads(const dv_virt *v)
{
    return v->caps_reads;
}
