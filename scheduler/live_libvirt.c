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
 *
 * libvirt calls have no timeout, and a hung libvirtd (stopped, wedged in
 * its qemu driver) would hang the scheduler with it.  Each question is a
 * job run by a worker thread; the caller waits at most timeout_ms, then
 * gives the host up ("no answer") and leaves the job to the worker, which
 * frees it whenever libvirt returns.  Jobs own copies of everything they
 * read, so nothing they touch goes away under them.
 */
#include "scheduler/scheduler.h"
#include "core/model.h"
#include "core/virt.h"

#include <errno.h>
#include <inttypes.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 5000

/* What the source told: the destinations are held to it. */
typedef struct source_facts {
    char type[64];                 /* virConnectGetType */
    unsigned long long version;    /* virConnectGetVersion */
    char virttype[32];             /* the guest's domain type: "qemu", "kvm" */
    char *cpu_xml;                 /* NULL: nothing to compare */
    const char *cpu_origin;        /* "the guest's CPU", ... (static) */
} source_facts;

typedef struct live_libvirt {
    dv_live_check base;
    char *tmpl;
    char **map;
    size_t n_map;
    char *cpu_override;
    char *virttype_override;
    int timeout_ms;
    bool prepared;
    source_facts src;
} live_libvirt;

/* One question to one libvirt, run by a worker thread. */
typedef struct job job;
struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    int (*work)(job *j, virConnectPtr c);
    /* inputs (owned) */
    char *uri, *host, *source_host, *instance_name, *uuid, *arch;
    char *report_cpu, *cpu_override, *virttype_override;
    uint64_t need_mib;
    int keepalive_s;
    source_facts src;              /* out of the source job, into destination jobs */
    /* results */
    int rc;                        /* source: 0 / -1 (err); destination: 0 / 1 (why) */
    drover_error err;
    char why[DV_REASON_MAX];
};

/* ---------------------------------------------------------------- libvirt basics */

/* libvirt's message of this thread's last error (core/virt.c silenced its
 * printing; the message is ours to report). */
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
static int pick_cpu(job *j, const char *xml)
{
    char *cpu = cpu_element(xml), mode[32] = "custom";

    if (cpu)
        tag_attr(cpu, "mode", mode, sizeof mode);
    if (cpu && strcmp(mode, "host-passthrough") != 0 && strcmp(mode, "maximum") != 0 &&
        strstr(cpu, "<model")) {
        j->src.cpu_xml = cpu;
        j->src.cpu_origin = "the guest's CPU";
        return 0;
    }
    free(cpu);
    if (j->report_cpu && *j->report_cpu) {
        if (!(j->src.cpu_xml = strdup(j->report_cpu)))
            return dv_err(&j->err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        j->src.cpu_origin = "the source host's CPU";
    }
    return 0;
}

/* ---------------------------------------------------------------- jobs */

static void job_free(job *j)
{
    if (!j)
        return;
    free(j->uri);
    free(j->host);
    free(j->source_host);
    free(j->instance_name);
    free(j->uuid);
    free(j->arch);
    free(j->report_cpu);
    free(j->cpu_override);
    free(j->virttype_override);
    free(j->src.cpu_xml);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static bool dup_into(char **dst, const char *src)
{
    return !src || (*dst = strdup(src)) != NULL;
}

static job *job_new(int (*work)(job *, virConnectPtr), const char *uri, const char *host,
                    const dv_sched_request *r)
{
    job *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;

    if (!j)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->work = work;
    if (!dup_into(&j->uri, uri) || !dup_into(&j->host, host) ||
        !dup_into(&j->source_host, r->source->host) ||
        !dup_into(&j->instance_name, r->instance_name) || !dup_into(&j->uuid, r->instance_uuid) ||
        !dup_into(&j->arch, r->source->arch)) {
        job_free(j);
        return NULL;
    }
    return j;
}


static void *job_thread(void *arg)
{
    job *j = arg;
    dv_virt *v = NULL;
    bool abandoned;

    /* not read-only: libvirt 9 refuses virConnectCompareHypervisorCPU on a
     * read-only connection.  Keepalive makes a connection to a daemon that
     * stopped answering fail instead of block, so an abandoned worker
     * returns too, in time. */
    if (dv_virt_open(j->uri, 0, j->keepalive_s, 3, &v, &j->err) < 0) {
        j->rc = j->work(j, NULL);
    } else {
        j->rc = j->work(j, dv_virt_conn(v));
        dv_virt_close(v);
    }
    pthread_mutex_lock(&j->mu);
    j->done = true;
    abandoned = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned)
        job_free(j);   /* the caller gave up waiting: the job is ours to free */
    return NULL;
}

/* Run j, waiting at most timeout_ms.  0: done (the caller frees j).
 * -1: no answer in time; the worker keeps j and frees it when libvirt
 * returns, so the caller must not touch j again. */
static int job_run(job *j, int timeout_ms)
{
    pthread_attr_t attr;
    pthread_t t;
    struct timespec deadline;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, job_thread, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        job_thread(j);   /* no thread to be had: ask without a deadline */
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &deadline) != ETIMEDOUT)
        ;
    if (!j->done) {
        j->abandoned = true;
        pthread_mutex_unlock(&j->mu);
        return -1;
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* ---------------------------------------------------------------- prepare: the source */

static int source_work(job *j, virConnectPtr c)
{
    virDomainPtr dom;
    unsigned long ver = 0;
    int state = 0, reason = 0, rc = -1;
    const char *type, *dtag;
    char *xml = NULL;

    if (!c) {
        dv_err_prefix(&j->err, "cannot reach the source host %s's libvirt to read instance %s",
                      j->source_host, j->instance_name);
        return -1;
    }
    if (!(dom = virDomainLookupByUUIDString(c, j->uuid)))
        return dv_err(&j->err, DROVER_ERR_NOT_FOUND, DROVER_FROM_LIBVIRT,
                      "instance %s (%s) is not on its source host %s any more (libvirt at %s: %s)",
                      j->instance_name, j->uuid, j->source_host, j->uri, last_error());
    if (virDomainGetState(dom, &state, &reason, 0) < 0 || !(xml = virDomainGetXMLDesc(dom, 0)) ||
        !(type = virConnectGetType(c)) || virConnectGetVersion(c, &ver) < 0) {
        dv_err(&j->err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
               "cannot read instance %s on its source host %s (libvirt at %s): %s",
               j->instance_name, j->source_host, j->uri, last_error());
        goto out;
    }
    if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED) {
        dv_err(&j->err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
               "instance %s is %s on %s now: only a running or paused instance can be "
               "live-migrated",
               j->instance_name, dv_virt_state_name(state), j->source_host);
        goto out;
    }
    snprintf(j->src.type, sizeof j->src.type, "%s", type);
    j->src.version = ver;
    dtag = strstr(xml, "<domain ");
    if (j->virttype_override)
        snprintf(j->src.virttype, sizeof j->src.virttype, "%s", j->virttype_override);
    else if (!dtag || !tag_attr(dtag, "type", j->src.virttype, sizeof j->src.virttype)) {
        dv_err(&j->err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
               "instance %s on %s: its domain XML names no type", j->instance_name,
               j->source_host);
        goto out;
    }
    if (j->cpu_override) {
        if (!(j->src.cpu_xml = strdup(j->cpu_override))) {
            dv_err(&j->err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
            goto out;
        }
        j->src.cpu_origin = "the given CPU";
    } else if (pick_cpu(j, xml) < 0) {
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
    const drover_report *rep = r->source->report;
    char uri[1024];
    job *j;

    if (dv_virt_init(err) < 0)
        return -1;
    free(lv->src.cpu_xml);
    memset(&lv->src, 0, sizeof lv->src);
    lv->prepared = false;
    if (dv_host_uri(&u, r->source, uri, sizeof uri, err) < 0)
        return -1;
    if ((j = job_new(source_work, uri, r->source->host, r)))
        j->keepalive_s = lv->timeout_ms >= 2000 ? lv->timeout_ms / 1000 : 1;
    if (!j ||
        !dup_into(&j->report_cpu, rep ? rep->cpu_xml : NULL) ||
        !dup_into(&j->cpu_override, lv->cpu_override) ||
        !dup_into(&j->virttype_override, lv->virttype_override)) {
        job_free(j);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    }
    if (job_run(j, lv->timeout_ms) < 0)
        return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                      "the source host %s's libvirt at %s gave no answer in %d ms (hung?) about "
                      "instance %s",
                      r->source->host, uri, lv->timeout_ms, r->instance_name);
    if (j->rc < 0) {
        dv_err_copy(err, &j->err);
        job_free(j);
        return -1;
    }
    lv->src = j->src;            /* the facts move over, cpu_xml with them */
    j->src.cpu_xml = NULL;
    job_free(j);
    lv->prepared = true;
    return 0;
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

static int check_cpu(job *j, virConnectPtr c)
{
    virErrorPtr e;
    int rc;

    if (!j->src.cpu_xml)
        return 0;   /* the source names no CPU: nothing to hold the destination to */
    rc = virConnectCompareHypervisorCPU(c, NULL, j->arch && *j->arch ? j->arch : NULL, NULL,
                                        j->src.virttype, j->src.cpu_xml,
                                        VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
    if (rc == VIR_CPU_COMPARE_IDENTICAL || rc == VIR_CPU_COMPARE_SUPERSET)
        return 0;
    e = virGetLastError();
    if (rc == VIR_CPU_COMPARE_INCOMPATIBLE || (e && e->code == VIR_ERR_CPU_INCOMPATIBLE))
        return refuse(j->why, sizeof j->why, "live: CPU: %s cannot provide %s (virt type %s): %s",
                      j->host, j->src.cpu_origin, j->src.virttype, last_error());
    return refuse(j->why, sizeof j->why, "live: CPU: cannot compare %s on %s: %s",
                  j->src.cpu_origin, j->host, last_error());
}

static int dest_work(job *j, virConnectPtr c)
{
    unsigned long ver = 0;
    const char *type, *h = j->host;
    virDomainPtr dom;
    uint64_t mib = 0;

    if (!c)
        return refuse(j->why, sizeof j->why, "live: cannot reach %s's libvirt: %s", h,
                      j->err.message);
    if (!(type = virConnectGetType(c)) || virConnectGetVersion(c, &ver) < 0)
        return refuse(j->why, sizeof j->why, "live: cannot ask %s's hypervisor (libvirt at %s): %s",
                      h, j->uri, last_error());
    if (strcmp(type, j->src.type) != 0)
        return refuse(j->why, sizeof j->why, "live: %s runs %s now, the source %s runs %s", h, type,
                      j->source_host, j->src.type);
    if (ver < j->src.version) {
        char have[32], want[32];
        dv_version_format(ver, have, sizeof have);
        dv_version_format(j->src.version, want, sizeof want);
        return refuse(j->why, sizeof j->why, "live: %s runs %s %s now, older than %s on the source %s",
                      h, type, have, want, j->source_host);
    }
    if ((dom = virDomainLookupByUUIDString(c, j->uuid))) {
        virDomainFree(dom);
        return refuse(j->why, sizeof j->why,
                      "live: a domain with the instance's UUID %s is already defined on %s: "
                      "remove it first",
                      j->uuid, h);
    }
    if (free_mib(c, &mib) < 0)
        return refuse(j->why, sizeof j->why, "live: cannot read %s's free memory: %s", h,
                      last_error());
    if (mib < j->need_mib)
        return refuse(j->why, sizeof j->why,
                      "live: %s has only %" PRIu64 " MiB free now, the instance needs %" PRIu64 " MiB",
                      h, mib, j->need_mib);
    return check_cpu(j, c);
}

static int live_check(dv_live_check *lc, const dv_host_state *dest, const dv_sched_request *r,
                      char *why, size_t len)
{
    live_libvirt *lv = (live_libvirt *)lc;
    dv_host_uris u = { lv->tmpl, (const char *const *)lv->map, lv->n_map };
    double ratio = r->params ? r->params->ram_allocation_ratio : 1.0;
    char uri[1024];
    drover_error e;
    job *j;
    int rc;

    if (dv_virt_init(&e) < 0)
        return refuse(why, len, "live: %s", e.message);
    if (!lv->prepared)
        return refuse(why, len, "live: the source was not asked first (prepare): a bug in drover");
    if (dv_host_uri(&u, dest, uri, sizeof uri, &e) < 0)
        return refuse(why, len, "live: %s", e.message);
    if ((j = job_new(dest_work, uri, dest->host, r)))
        j->keepalive_s = lv->timeout_ms >= 2000 ? lv->timeout_ms / 1000 : 1;
    if (!j || !dup_into(&j->src.cpu_xml, lv->src.cpu_xml)) {
        job_free(j);
        return refuse(why, len, "live: out of memory asking %s", dest->host);
    }
    memcpy(j->src.type, lv->src.type, sizeof j->src.type);
    memcpy(j->src.virttype, lv->src.virttype, sizeof j->src.virttype);
    j->src.version = lv->src.version;
    j->src.cpu_origin = lv->src.cpu_origin;
    /* under overcommit (ratio > 1) the operator expects guests not to touch
     * all their memory: hold free memory to the same ratio */
    j->need_mib = ratio > 1.0 ? (uint64_t)((double)r->memory_mib / ratio) : r->memory_mib;
    if (job_run(j, lv->timeout_ms) < 0)
        return refuse(why, len, "live: %s's libvirt at %s gave no answer in %d ms (hung?)",
                      dest->host, uri, lv->timeout_ms);
    rc = j->rc;
    if (rc)
        snprintf(why, len, "%s", j->why);
    job_free(j);
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
    free(lv->src.cpu_xml);
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
        lv->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
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
