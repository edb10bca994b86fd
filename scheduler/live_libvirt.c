/* live_libvirt.c - the live checks, asked of the hosts' own libvirt.
 *
 * Filters judge a host by what it last reported; before a guest is sent
 * there, its hypervisor is asked now (Nova's check_can_live_migrate_*):
 *  - the source, once per request: is the guest there, running or paused;
 *    what is its domain type (the virt type CPUs are compared under) and
 *    its CPU; which hypervisor and version runs it;
 *  - each chosen destination: same hypervisor type, not older, no domain
 *    with the guest's UUID already, enough free memory now, and can its
 *    hypervisor provide the guest's CPU (virConnectCompareHypervisorCPU:
 *    under TCG, virConnectCompareCPU judges the host CPU and always says
 *    incompatible; the hypervisor variant asks what qemu can emulate).
 * A destination that cannot be asked fails its check with the reason; the
 * loop moves on.
 */
#include "scheduler/scheduler.h"
#include "core/model.h"

#include <inttypes.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct live_libvirt {
    dv_live_check base;
    char *tmpl;
    char **map;
    size_t n_map;
    char *cpu_override;
    char *virttype_override;
    /* what prepare() learned of the source */
    char src_type[64];
    unsigned long long src_version;
    char virttype[32];
    char *cpu_xml;             /* NULL: nothing to compare (said in the verdict) */
    const char *cpu_origin;    /* "the guest's CPU", "the source host's CPU", ... */
    const char *arch;          /* the source's, from its report */
} live_libvirt;

/* ---------------------------------------------------------------- libvirt basics */

static void quiet(void *arg, virErrorPtr e)
{
    (void)arg;
    (void)e;   /* errors are read with virGetLastError and reported by drover */
}

static pthread_once_t libvirt_once = PTHREAD_ONCE_INIT;

static void libvirt_init(void)
{
    virInitialize();
    virSetErrorFunc(NULL, quiet);
}

static const char *last_error(void)
{
    const char *m = virGetLastErrorMessage();
    return m && *m ? m : "unknown libvirt error";
}

/* ---------------------------------------------------------------- URIs */

/* "qemu+tcp://compute1/system" names a server; "qemu:///system" and
 * "qemu+unix:///system?socket=..." do not: from the controller they would
 * reach its own libvirtd, not the host's. */
static bool names_server(const char *uri)
{
    const char *p = strstr(uri, "://");
    return p && p[3] && p[3] != '/';
}

int dv_host_uri(const dv_host_uris *u, const dv_host_state *h, char *buf, size_t len,
                drover_error *err)
{
    size_t hl = strlen(h->host);

    for (size_t i = 0; u && i < u->n_map; i++) {
        const char *e = u->map[i], *eq = strchr(e, '=');
        if (eq && (size_t)(eq - e) == hl && strncmp(e, h->host, hl) == 0) {
            if ((size_t)snprintf(buf, len, "%s", eq + 1) >= len)
                break;
            return 0;
        }
    }
    if (u && u->tmpl && *u->tmpl) {
        size_t o = 0;
        for (const char *p = u->tmpl; *p && o + 1 < len; p++) {
            if (p[0] == '%' && p[1] == 'h') {
                o += (size_t)snprintf(buf + o, len - o, "%s", h->host);
                p++;
            } else if (p[0] == '%' && p[1] == '%') {
                buf[o++] = '%';
                p++;
            } else {
                buf[o++] = *p;
            }
        }
        if (o + 1 >= len)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                          "the libvirt URI of host %s is longer than %zu bytes", h->host, len - 1);
        buf[o] = '\0';
        return 0;
    }
    if (h->report && h->report->migration_uri && *h->report->migration_uri) {
        if (!names_server(h->report->migration_uri))
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                          "host %s reports migration_uri %s, which names no server: the "
                          "controller cannot reach it that way; set controller.libvirt_uri or "
                          "controller.libvirt_uris",
                          h->host, h->report->migration_uri);
        if ((size_t)snprintf(buf, len, "%s", h->report->migration_uri) >= len)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                          "the libvirt URI of host %s is longer than %zu bytes", h->host, len - 1);
        return 0;
    }
    return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                  "no way to reach host %s's libvirt: it reported no migration_uri; set "
                  "controller.libvirt_uri or controller.libvirt_uris",
                  h->host);
}

/* ---------------------------------------------------------------- the guest's XML */

/* The value of attribute name in the tag starting at tag (up to its '>'). */
static bool tag_attr(const char *tag, const char *name, char *buf, size_t len)
{
    const char *end = strchr(tag, '>');
    size_t nl = strlen(name);

    for (const char *p = tag + 1; end && p < end; p++) {
        if (p[-1] != ' ' || strncmp(p, name, nl) != 0 || p[nl] != '=' ||
            (p[nl + 1] != '\'' && p[nl + 1] != '"'))
            continue;
        const char *v = p + nl + 2, *q = strchr(v, p[nl + 1]);
        if (!q || q > end || (size_t)(q - v) >= len)
            return false;
        memcpy(buf, v, (size_t)(q - v));
        buf[q - v] = '\0';
        return true;
    }
    return false;
}

/* The <cpu> element of a domain XML (not <cputune>), malloc'ed; NULL if none. */
static char *cpu_element(const char *xml)
{
    const char *p = xml, *end;

    while ((p = strstr(p, "<cpu")) && p[4] != ' ' && p[4] != '>' && p[4] != '/')
        p += 4;
    if (!p)
        return NULL;
    end = strchr(p, '>');
    if (!end)
        return NULL;
    if (end[-1] != '/') {
        const char *close = strstr(end, "</cpu>");
        if (!close)
            return NULL;
        end = close + 5;
    }
    return strndup(p, (size_t)(end - p + 1));
}

/* Decide what CPU the destination must provide, as Nova does: the guest's
 * own CPU model when it has one; the source host's CPU when the guest
 * passes the host CPU through (or names no model). */
static int pick_cpu(live_libvirt *lv, const char *xml, const dv_sched_request *r,
                    drover_error *err)
{
    char *cpu = cpu_element(xml), mode[32] = "custom";

    if (cpu)
        tag_attr(cpu, "mode", mode, sizeof mode);
    if (cpu && strcmp(mode, "host-passthrough") != 0 && strcmp(mode, "maximum") != 0 &&
        strstr(cpu, "<model")) {
        lv->cpu_xml = cpu;
        lv->cpu_origin = "the guest's CPU";
        return 0;
    }
    free(cpu);
    if (r->source->report && r->source->report->cpu_xml && *r->source->report->cpu_xml) {
        if (!(lv->cpu_xml = strdup(r->source->report->cpu_xml)))
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        lv->cpu_origin = "the source host's CPU";
    }
    return 0;
}

/* ---------------------------------------------------------------- prepare: the source */

static int ask_source(live_libvirt *lv, virConnectPtr c, const char *uri,
                      const dv_sched_request *r, drover_error *err)
{
    virDomainPtr dom = virDomainLookupByUUIDString(c, r->instance_uuid);
    unsigned long ver = 0;
    int state = 0, reason = 0, rc = -1;
    const char *type;
    char *xml = NULL;

    if (!dom)
        return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_LIBVIRT,
                      "instance %s (%s) is not on its source host %s any more (libvirt at %s: %s)",
                      r->instance_name, r->instance_uuid, r->source->host, uri, last_error());
    if (virDomainGetState(dom, &state, &reason, 0) < 0 || !(xml = virDomainGetXMLDesc(dom, 0)) ||
        !(type = virConnectGetType(c)) || virConnectGetVersion(c, &ver) < 0) {
        dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
               "cannot read instance %s on its source host %s (libvirt at %s): %s",
               r->instance_name, r->source->host, uri, last_error());
        goto out;
    }
    if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED) {
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
               "instance %s is not running or paused on %s now (libvirt state %d): only a running "
               "or paused instance can be live-migrated",
               r->instance_name, r->source->host, state);
        goto out;
    }
    snprintf(lv->src_type, sizeof lv->src_type, "%s", type);
    lv->src_version = ver;
    if (lv->virttype_override)
        snprintf(lv->virttype, sizeof lv->virttype, "%s", lv->virttype_override);
    else if (!tag_attr(strstr(xml, "<domain ") ? strstr(xml, "<domain ") : xml, "type",
                       lv->virttype, sizeof lv->virttype)) {
        dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
               "instance %s on %s: its domain XML names no type", r->instance_name,
               r->source->host);
        goto out;
    }
    if (lv->cpu_override) {
        if (!(lv->cpu_xml = strdup(lv->cpu_override))) {
            dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
            goto out;
        }
        lv->cpu_origin = "the given CPU";
    } else if (pick_cpu(lv, xml, r, err) < 0) {
        goto out;
    }
    rc = 0;
out:
    free(xml);
    virDomainFree(dom);
    return rc;
}

static int live_prepare(dv_live_check *lc, const dv_sched_request *r, drover_error *err)
{
    live_libvirt *lv = (live_libvirt *)lc;
    dv_host_uris u = { lv->tmpl, (const char *const *)lv->map, lv->n_map };
    char uri[1024];
    virConnectPtr c;
    int rc;

    pthread_once(&libvirt_once, libvirt_init);
    free(lv->cpu_xml);
    lv->cpu_xml = NULL;
    lv->cpu_origin = NULL;
    lv->arch = r->source->arch;
    if (dv_host_uri(&u, r->source, uri, sizeof uri, err) < 0)
        return -1;
    if (!(c = virConnectOpen(uri)))
        return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                      "cannot reach the source host %s's libvirt at %s to read instance %s: %s",
                      r->source->host, uri, r->instance_name, last_error());
    rc = ask_source(lv, c, uri, r, err);
    virConnectClose(c);
    return rc;
}

/* ---------------------------------------------------------------- check: a destination */

static int refuse(char *why, size_t len, const char *fmt, ...) DV_PRINTF(3, 4);
static int refuse(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(why, len, fmt, ap);
    va_end(ap);
    if (n >= (int)len && len > 4)
        memcpy(why + len - 4, "...", 4);
    return 1;
}

/* Free memory now: free + buffers + page cache (the kernel gives the cache
 * back), over all NUMA cells.  virNodeGetFreeMemory is not used: on some
 * machines it reports one NUMA node only. */
static int free_mib(virConnectPtr c, uint64_t *mib)
{
    virNodeMemoryStatsPtr st = NULL;
    int n = 0;
    uint64_t kib = 0;

    if (virNodeGetMemoryStats(c, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0 || n <= 0)
        return -1;
    if (!(st = calloc((size_t)n, sizeof *st)))
        return -1;
    if (virNodeGetMemoryStats(c, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) < 0) {
        free(st);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
            strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
            strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0)
            kib += st[i].value;
    free(st);
    *mib = kib / 1024;
    return 0;
}

static int check_cpu(live_libvirt *lv, virConnectPtr c, const char *host, char *why, size_t len)
{
    virErrorPtr e;
    int rc;

    if (!lv->cpu_xml)
        return 0;   /* the source names no CPU: nothing to hold the destination to */
    rc = virConnectCompareHypervisorCPU(c, NULL, lv->arch && *lv->arch ? lv->arch : NULL, NULL,
                                        lv->virttype, lv->cpu_xml,
                                        VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
    if (rc == VIR_CPU_COMPARE_IDENTICAL || rc == VIR_CPU_COMPARE_SUPERSET)
        return 0;
    e = virGetLastError();
    if (rc == VIR_CPU_COMPARE_INCOMPATIBLE || (e && e->code == VIR_ERR_CPU_INCOMPATIBLE))
        return refuse(why, len, "live: CPU: %s cannot provide %s (virt type %s): %s", host,
                      lv->cpu_origin, lv->virttype, last_error());
    return refuse(why, len, "live: CPU: cannot compare %s on %s: %s", lv->cpu_origin, host,
                  last_error());
}

static int ask_dest(live_libvirt *lv, virConnectPtr c, const char *uri, const dv_host_state *dest,
                    const dv_sched_request *r, char *why, size_t len)
{
    const char *h = dest->host;
    unsigned long ver = 0;
    const char *type = virConnectGetType(c);
    virDomainPtr dom;
    uint64_t mib = 0, need;
    double ratio = r->params ? r->params->ram_allocation_ratio : 1.0;

    if (!type || virConnectGetVersion(c, &ver) < 0)
        return refuse(why, len, "live: cannot ask %s's hypervisor (libvirt at %s): %s", h, uri,
                      last_error());
    if (strcmp(type, lv->src_type) != 0)
        return refuse(why, len, "live: %s runs %s now, the source %s runs %s", h, type,
                      r->source->host, lv->src_type);
    if (ver < lv->src_version) {
        char have[32], want[32];
        dv_version_format(ver, have, sizeof have);
        dv_version_format(lv->src_version, want, sizeof want);
        return refuse(why, len, "live: %s runs %s %s now, older than %s on the source %s", h,
                      type, have, want, r->source->host);
    }
    if ((dom = virDomainLookupByUUIDString(c, r->instance_uuid))) {
        virDomainFree(dom);
        return refuse(why, len, "live: a domain with the instance's UUID %s is already defined "
                                "on %s: remove it first",
                      r->instance_uuid, h);
    }
    if (free_mib(c, &mib) < 0)
        return refuse(why, len, "live: cannot read %s's free memory: %s", h, last_error());
    /* under overcommit (ratio > 1) the operator expects guests not to touch
     * all their memory: hold free memory to the same ratio */
    need = ratio > 1.0 ? (uint64_t)((double)r->memory_mib / ratio) : r->memory_mib;
    if (mib < need)
        return refuse(why, len, "live: %s has only %" PRIu64 " MiB free now, the instance needs %"
                                PRIu64 " MiB",
                      h, mib, need);
    return check_cpu(lv, c, h, why, len);
}

static int live_check(dv_live_check *lc, const dv_host_state *dest, const dv_sched_request *r,
                      char *why, size_t len)
{
    live_libvirt *lv = (live_libvirt *)lc;
    dv_host_uris u = { lv->tmpl, (const char *const *)lv->map, lv->n_map };
    char uri[1024];
    drover_error e;
    virConnectPtr c;
    int rc;

    pthread_once(&libvirt_once, libvirt_init);
    if (!lv->src_type[0])
        return refuse(why, len, "live: the source was not asked first (prepare): a bug in drover");
    if (dv_host_uri(&u, dest, uri, sizeof uri, &e) < 0)
        return refuse(why, len, "live: %s", e.message);
    if (!(c = virConnectOpen(uri)))
        return refuse(why, len, "live: cannot reach %s's libvirt at %s: %s", dest->host, uri,
                      last_error());
    rc = ask_dest(lv, c, uri, dest, r, why, len);
    virConnectClose(c);
    return rc;
}

/* ---------------------------------------------------------------- life */

void dv_live_libvirt_free(dv_live_check *lc)
{
    live_libvirt *lv = (live_libvirt *)lc;
    if (!lv)
        return;
    free(lv->tmpl);
    for (size_t i = 0; i < lv->n_map; i++)
        free(lv->map[i]);
    free(lv->map);
    free(lv->cpu_override);
    free(lv->virttype_override);
    free(lv->cpu_xml);
    free(lv);
}

int dv_live_libvirt_new(const dv_live_libvirt_opts *o, dv_live_check **out, drover_error *err)
{
    live_libvirt *lv = calloc(1, sizeof *lv);
    bool bad = !lv;

    *out = NULL;
    if (lv) {
        lv->base.name = "libvirt";
        lv->base.prepare = live_prepare;
        lv->base.check = live_check;
        bad = (o->uris.tmpl && !(lv->tmpl = strdup(o->uris.tmpl))) ||
              (o->cpu_xml && !(lv->cpu_override = strdup(o->cpu_xml))) ||
              (o->virttype && !(lv->virttype_override = strdup(o->virttype))) ||
              (o->uris.n_map && !(lv->map = calloc(o->uris.n_map, sizeof *lv->map)));
        for (size_t i = 0; !bad && i < o->uris.n_map; i++) {
            if (!strchr(o->uris.map[i], '=')) {
                dv_live_libvirt_free(&lv->base);
                return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_SCHEDULER,
                              "host URI \"%s\" is not HOST=URI", o->uris.map[i]);
            }
            bad = !(lv->map[i] = strdup(o->uris.map[i]));
            lv->n_map = i + 1;
        }
    }
    if (bad) {
        dv_live_libvirt_free(lv ? &lv->base : NULL);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    }
    *out = &lv->base;
    return 0;
}
