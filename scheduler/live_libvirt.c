/* live_libvirt.c - the live checks, asked of the hosts' own libvirt.
 *
 * Filters judge a host by what it last reported; before a guest is sent
 * there, its hypervisor is asked now (Nova's check_can_live_migrate_*):
 *  - the source, once per request: is the guest there, running or paused;
 *    what is its domain type (the virt type CPUs are compared under) and
 *    its CPU; which hypervisor and version runs it;
 *  - each chosen destination: same hypervisor type, not older, no domain
 *    with the guest's UUID already, enough free memory now, and can its
 *    hypervisor provide the guest's CPU.
 * A destination that cannot be asked fails its check with the reason; the
 * loop moves on.
 *
 * The questions are virt/'s; this file holds what the scheduler makes of
 * the answers.  Each host's questions run as one dv_virt_call with
 * controller.libvirt_timeout_ms: a hung libvirtd costs the scheduler that
 * long, then the host is given up ("no answer") and the call is left to
 * its worker with a job that owns copies of everything it reads.
 */
#include "scheduler/scheduler.h"
#include "core/model.h"
#include "virt/virt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The questions to one host, run by dv_virt_call; owns its inputs, since
 * an abandoned job outlives the check that made it. */
typedef struct job {
    char *host, *source_host, *instance_name, *uuid, *arch;
    char *report_cpu, *cpu_override, *virttype_override;
    uint64_t need_mib;
    source_facts src;              /* out of the source job, into destination jobs */
    char why[DV_REASON_MAX];       /* destination: why not ("" = it may) */
} job;

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

/* ---------------------------------------------------------------- jobs */

static void job_free(void *p)
{
    job *j = p;
    if (!j)
        return;
    free(j->host);
    free(j->source_host);
    free(j->instance_name);
    free(j->uuid);
    free(j->arch);
    free(j->report_cpu);
    free(j->cpu_override);
    free(j->virttype_override);
    free(j->src.cpu_xml);
    free(j);
}

static bool dup_into(char **dst, const char *src)
{
    return !src || (*dst = strdup(src)) != NULL;
}

static job *job_new(const char *host, const dv_sched_request *r)
{
    job *j = calloc(1, sizeof *j);

    if (j && (!dup_into(&j->host, host) || !dup_into(&j->source_host, r->source->host) ||
              !dup_into(&j->instance_name, r->instance_name) ||
              !dup_into(&j->uuid, r->instance_uuid) || !dup_into(&j->arch, r->source->arch))) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* Run fn(j) on uri's libvirt with the check's deadline.  0: fn answered
 * (rc its result, err its error); -1: no answer in time, or none could be
 * had (st says which; j belongs to the worker after a timeout). */
static int ask(const live_libvirt *lv, const char *uri, dv_virt_fn fn, job *j,
               dv_call_status *st, drover_error *err)
{
    /* not read-only: libvirt 9 refuses virConnectCompareHypervisorCPU on a
     * read-only connection.  Keepalive makes a connection to a daemon that
     * stopped answering fail instead of block, so an abandoned worker
     * returns too, in time. */
    int ka = lv->timeout_ms >= 2000 ? lv->timeout_ms / 1000 : 1;
    dv_virt *v;
    int rc;

    *st = DV_CALL_UNREACHABLE;
    if (dv_virt_new(uri, 0, ka, 3, &v, err) < 0)
        return -1;
    rc = dv_virt_call_wake(v, lv->timeout_ms, -1, fn, j, job_free, st, err);
    dv_virt_close(v);            /* a stuck worker keeps v until libvirt returns */
    return rc;
}

/* ---------------------------------------------------------------- prepare: the source */

/* Decide what CPU the destination must provide, as Nova does: the guest's
 * own CPU model when it has one; the source host's CPU when the guest
 * passes the host CPU through (or names no model). */
static int pick_cpu(job *j, dv_virt_guest *g, drover_error *err)
{
    if (j->cpu_override) {
        if (!(j->src.cpu_xml = strdup(j->cpu_override)))
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        j->src.cpu_origin = "the given CPU";
    } else if (g->cpu_xml) {
        j->src.cpu_xml = g->cpu_xml;
        g->cpu_xml = NULL;
        j->src.cpu_origin = "the guest's CPU";
    } else if (j->report_cpu && *j->report_cpu) {
        if (!(j->src.cpu_xml = strdup(j->report_cpu)))
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
        j->src.cpu_origin = "the source host's CPU";
    }
    return 0;
}

static int source_fn(dv_virt *v, void *arg, drover_error *err)
{
    job *j = arg;
    dv_virt_guest g;
    int rc = -1;

    if (dv_virt_guest_read(v, j->uuid, &g, err) < 0) {
        if (err->code == DROVER_ERR_NOT_FOUND)
            dv_err_prefix(err, "instance %s (%s) is not on its source host %s any more",
                          j->instance_name, j->uuid, j->source_host);
        else
            dv_err_prefix(err, "cannot read instance %s on its source host %s",
                          j->instance_name, j->source_host);
        return -1;
    }
    if (dv_virt_hypervisor(v, j->src.type, sizeof j->src.type, &j->src.version, err) < 0) {
        dv_err_prefix(err, "cannot ask the source host %s's hypervisor", j->source_host);
    } else if (g.state != VIR_DOMAIN_RUNNING && g.state != VIR_DOMAIN_PAUSED) {
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_SCHEDULER,
               "instance %s is %s on %s now: only a running or paused instance can be "
               "live-migrated",
               j->instance_name, dv_virt_state_name(g.state), j->source_host);
    } else {
        snprintf(j->src.virttype, sizeof j->src.virttype, "%s",
                 j->virttype_override ? j->virttype_override : g.virttype);
        rc = pick_cpu(j, &g, err);
    }
    dv_virt_guest_clear(&g);
    return rc;
}

static int live_prepare(dv_live_check *lc, const dv_sched_request *r, drover_error *err)
{
    live_libvirt *lv = (live_libvirt *)lc;
    dv_host_uris u = { lv->tmpl, (const char *const *)lv->map, lv->n_map };
    const drover_report *rep = r->source->report;
    dv_call_status st;
    char uri[1024];
    job *j;

    free(lv->src.cpu_xml);
    memset(&lv->src, 0, sizeof lv->src);
    lv->prepared = false;
    if (dv_host_uri(&u, r->source, uri, sizeof uri, err) < 0)
        return -1;
    j = job_new(r->source->host, r);
    if (!j || !dup_into(&j->report_cpu, rep ? rep->cpu_xml : NULL) ||
        !dup_into(&j->cpu_override, lv->cpu_override) ||
        !dup_into(&j->virttype_override, lv->virttype_override)) {
        job_free(j);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_SCHEDULER, "out of memory");
    }
    if (ask(lv, uri, source_fn, j, &st, err) < 0) {
        if (st == DV_CALL_TIMEOUT)
            return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                          "the source host %s's libvirt at %s gave no answer in %d ms (hung?) "
                          "about instance %s",
                          r->source->host, uri, lv->timeout_ms, r->instance_name);
        if (st == DV_CALL_UNREACHABLE)
            dv_err_prefix(err, "cannot reach the source host %s's libvirt to read instance %s",
                          r->source->host, r->instance_name);
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

/* The destination's answers, held to the source's: 0 it may take the
 * instance, 1 it may not (j->why says why). */
static int dest_judge(dv_virt *v, job *j, drover_error *err)
{
    const char *h = j->host;
    char type[64];
    unsigned long long ver = 0;
    bool defined = false;
    dv_virt_memory mem;
    int cmp;

    if (dv_virt_hypervisor(v, type, sizeof type, &ver, err) < 0)
        return refuse(j->why, sizeof j->why, "live: cannot ask %s's hypervisor: %s", h,
                      err->message);
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
    if (dv_virt_has_domain(v, j->uuid, &defined, err) < 0)
        return refuse(j->why, sizeof j->why, "live: cannot look for the instance on %s: %s", h,
                      err->message);
    if (defined)
        return refuse(j->why, sizeof j->why,
                      "live: a domain with the instance's UUID %s is already defined on %s: "
                      "remove it first",
                      j->uuid, h);
    if (dv_virt_read_memory(v, &mem, err) < 0)
        return refuse(j->why, sizeof j->why, "live: cannot read %s's free memory: %s", h,
                      err->message);
    if (mem.free_mib < j->need_mib)
        return refuse(j->why, sizeof j->why,
                      "live: %s has only %" PRIu64 " MiB free now, the instance needs %" PRIu64 " MiB",
                      h, mem.free_mib, j->need_mib);
    if (!j->src.cpu_xml)
        return 0;   /* the source names no CPU: nothing to hold the destination to */
    cmp = dv_virt_compare_cpu(v, j->arch, j->src.virttype, j->src.cpu_xml, err);
    if (cmp == 1)
        return refuse(j->why, sizeof j->why, "live: CPU: %s cannot provide %s (virt type %s): %s",
                      h, j->src.cpu_origin, j->src.virttype, err->message);
    if (cmp < 0)
        return refuse(j->why, sizeof j->why, "live: CPU: cannot compare %s on %s: %s",
                      j->src.cpu_origin, h, err->message);
    return 0;
}

/* A refusal is an answer, not an error: the loop moves on to the next host. */
static int dest_fn(dv_virt *v, void *arg, drover_error *err)
{
    (void)dest_judge(v, arg, err);
    return 0;
}

static int live_check(dv_live_check *lc, const dv_host_state *dest, const dv_sched_request *r,
                      char *why, size_t len)
{
    live_libvirt *lv = (live_libvirt *)lc;
    dv_host_uris u = { lv->tmpl, (const char *const *)lv->map, lv->n_map };
    double ratio = r->params ? r->params->ram_allocation_ratio : 1.0;
    dv_call_status st;
    char uri[1024];
    drover_error e;
    job *j;
    int rc;

    if (!lv->prepared)
        return refuse(why, len, "live: the source was not asked first (prepare): a bug in drover");
    if (dv_host_uri(&u, dest, uri, sizeof uri, &e) < 0)
        return refuse(why, len, "live: %s", e.message);
    j = job_new(dest->host, r);
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
    if (ask(lv, uri, dest_fn, j, &st, &e) < 0) {
        if (st == DV_CALL_TIMEOUT)
            return refuse(why, len, "live: %s's libvirt at %s gave no answer in %d ms (hung?)",
                          dest->host, uri, lv->timeout_ms);
        refuse(why, len, "live: cannot reach %s's libvirt: %s", dest->host, e.message);
        job_free(j);
        return 1;
    }
    rc = j->why[0] != '\0';
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
