/* virt.c - libvirt connections, the host report, and reads with a deadline. */
#include "core/virt.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---------------------------------------------------------------- process setup */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static drover_error init_err;     /* set once by do_init, read-only afterwards */
static int init_rc;

static void ignore_error(void *data, virErrorPtr e)
{
    (void)data;
    (void)e;
}

static void *event_loop(void *arg)
{
    (void)arg;
    for (;;)
        if (virEventRunDefaultImpl() < 0)
            dv_sleep_ms(100);   /* do not spin if the loop itself fails */
    return NULL;
}

/* Start a detached thread with every signal blocked, so signals keep going
 * to the thread that waits for them (the agent's signalfd). */
static int start_quiet_thread(pthread_t *t, void *(*fn)(void *), void *arg, bool detached)
{
    sigset_t all, old;
    pthread_attr_t attr;
    int rc;

    sigfillset(&all);
    pthread_attr_init(&attr);
    if (detached)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}

static void do_init(void)
{
    pthread_t t;
    int rc;

    if (virInitialize() < 0) {
        init_rc = dv_virt_error(&init_err, "(none)", "virInitialize");
        return;
    }
    virSetErrorFunc(NULL, ignore_error);
    if (virEventRegisterDefaultImpl() < 0) {
        init_rc = dv_virt_error(&init_err, "(none)", "virEventRegisterDefaultImpl");
        return;
    }
    if ((rc = start_quiet_thread(&t, event_loop, NULL, true)) != 0)
        init_rc = dv_err(&init_err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT,
                         "cannot start the libvirt event loop thread: %s", strerror(rc));
}

int dv_virt_init(drover_error *err)
{
    pthread_once(&init_once, do_init);
    if (init_rc < 0) {
        dv_err_copy(err, &init_err);
        return -1;
    }
    return 0;
}

int dv_virt_error(drover_error *err, const char *uri, const char *call)
{
    virErrorPtr e = virGetLastError();

    dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT, "%s on %s: %s", call, uri,
           e && e->message ? e->message : "failed without saying why");
    virResetLastError();
    return -1;
}

static bool last_error_is(int code)
{
    virErrorPtr e = virGetLastError();
    return e && e->code == code;
}

/* ---------------------------------------------------------------- connections */

struct dv_virt {
    virConnectPtr conn;
    char *uri;
    char *arch, *cpu_xml;        /* capabilities cache */
    int64_t caps_read_ms;        /* dv_mono_ms() when read */
    unsigned caps_reads;
    int memstats_n;              /* parameters of virNodeGetMemoryStats; -1 = unsupported */
};

int dv_virt_open(const char *uri, unsigned flags, int keepalive_interval_s,
                 unsigned keepalive_count, dv_virt **out, drover_error *err)
{
    dv_virt *v;

    *out = NULL;
    if (!uri || !*uri)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt URI given");
    if (dv_virt_init(err) < 0)
        return -1;
    if (!(v = calloc(1, sizeof *v)) || !(v->uri = strdup(uri))) {
        free(v);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    v->conn = (flags & DV_VIRT_READONLY) ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);
    if (!v->conn) {
        dv_virt_error(err, uri, "virConnectOpen");
        dv_virt_close(v);
        return -1;
    }
    if (keepalive_interval_s > 0 &&
        virConnectSetKeepAlive(v->conn, keepalive_interval_s, keepalive_count) < 0) {
        if (!last_error_is(VIR_ERR_NO_SUPPORT)) {
            dv_virt_error(err, uri, "virConnectSetKeepAlive");
            dv_virt_close(v);
            return -1;
        }
        virResetLastError();     /* a local driver: nothing to keep alive */
    }
    *out = v;
    return 0;
}

void dv_virt_close(dv_virt *v)
{
    if (!v)
        return;
    if (v->conn)
        virConnectClose(v->conn);
    free(v->uri);
    free(v->arch);
    free(v->cpu_xml);
    free(v);
}

virConnectPtr dv_virt_conn(const dv_virt *v)
{
    return v->conn;
}

const char *dv_virt_uri(const dv_virt *v)
{
    return v->uri;
}

bool dv_virt_alive(const dv_virt *v)
{
    return v && v->conn && virConnectIsAlive(v->conn) == 1;
}

unsigned dv_virt_caps_reads(const dv_virt *v)
{
    return v->caps_reads;
}

/* ---------------------------------------------------------------- capabilities */

/* The first "<name>", "<name " or "<name/>" in [p, end). */
static const char *find_open_tag(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    for (; p && p < end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || (size_t)(end - p) < n + 2)
            return NULL;
        if (memcmp(p + 1, name, n) == 0 &&
            (p[n + 1] == '>' || p[n + 1] == ' ' || p[n + 1] == '\n' || p[n + 1] == '\t' ||
             p[n + 1] == '/'))
            return p;
    }
    return NULL;
}

static const char *find_str(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);

    for (; p && p + n <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p || p + n > end)
            return NULL;
        if (memcmp(p, needle, n) == 0)
            return p;
    }
    return NULL;
}

static bool arch_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static char *dup_range(const char *a, const char *b)
{
    char *s = malloc((size_t)(b - a) + 1);
    if (s) {
        memcpy(s, a, (size_t)(b - a));
        s[b - a] = '\0';
    }
    return s;
}

int dv_virt_parse_host_cpu(const char *caps, const char *what, char **arch, char **cpu_xml,
                           drover_error *err)
{
    const char *end, *host, *host_end, *cpu, *cpu_end, *a, *a_end;

    *arch = *cpu_xml = NULL;
    if (!caps)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: no document", what);
    end = caps + strlen(caps);
    if (!(host = find_open_tag(caps, end, "host")) ||
        !(host_end = find_str(host, end, "</host>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s have no complete <host> element", what);
    if (!(cpu = find_open_tag(host, host_end, "cpu")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: <host> has no <cpu> element", what);
    /* the host CPU holds no nested <cpu>; its own end tag closes it */
    if (!(cpu_end = find_str(cpu, host_end, "</cpu>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <cpu> element is not closed", what);
    cpu_end += strlen("</cpu>");
    if (!(a = find_str(cpu, cpu_end, "<arch>")) ||
        !(a_end = find_str(a, cpu_end, "</arch>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <cpu> has no <arch>", what);
    a += strlen("<arch>");
    while (a < a_end && (*a == ' ' || *a == '\n' || *a == '\t' || *a == '\r'))
        a++;
    while (a_end > a && (a_end[-1] == ' ' || a_end[-1] == '\n' || a_end[-1] == '\t' ||
                         a_end[-1] == '\r'))
        a_end--;
    if (a == a_end || a_end - a > 32)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <arch> is %s", what,
                      a == a_end ? "empty" : "longer than 32 characters");
    for (const char *p = a; p < a_end; p++)
        if (!arch_char(*p))
            return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                          "capabilities of %s: the host <arch> holds a character (0x%02x) "
                          "no architecture name has", what, (unsigned char)*p);
    if (!(*arch = dup_range(a, a_end)) || !(*cpu_xml = dup_range(cpu, cpu_end))) {
        free(*arch);
        *arch = NULL;
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    return 0;
}

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

/* ---------------------------------------------------------------- report */

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
        if (!last_error_is(VIR_ERR_NO_SUPPORT))
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

static int read_memory(dv_virt *v, drover_report *r, drover_error *err)
{
    virNodeInfo ni;
    uint64_t used;
    int rc;

    if (virNodeGetInfo(v->conn, &ni) < 0)
        return dv_virt_error(err, v->uri, "virNodeGetInfo");
    r->memory_total_mib = (uint64_t)ni.memory / 1024;
    r->vcpus = ni.cpus;
    if ((rc = used_kib(v, &used, err)) < 0)
        return -1;
    if (rc == 0) {
        used /= 1024;
        r->memory_free_mib = used < r->memory_total_mib ? r->memory_total_mib - used : 0;
    } else {
        unsigned long long bytes = virNodeGetFreeMemory(v->conn);
        if (bytes == 0 && virGetLastError())
            return dv_virt_error(err, v->uri, "virNodeGetFreeMemory");
        r->memory_free_mib = bytes >> 20;
        if (r->memory_free_mib > r->memory_total_mib)
            r->memory_free_mib = r->memory_total_mib;
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
        if (last_error_is(VIR_ERR_NO_DOMAIN)) {
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
    if (refresh_caps(v, err) < 0 || read_memory(v, r, err) < 0 || read_instances(v, r, err) < 0)
        goto fail;
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

/* ---------------------------------------------------------------- reads with a deadline */

struct dv_virt_reader {
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* the worker waits here for a request */
    pthread_t thread;
    int done_fd;                  /* eventfd: a result is ready */
    char *uri, *host, *migration_uri;
    int timeout_ms;

    dv_virt *virt;                /* touched by the worker only */

    /* under mu */
    bool asked, busy, quit, orphaned, have_result;
    uint64_t seq, result_seq;
    int64_t started_ms, done_ms;
    int result_rc;
    drover_report *result;
    drover_error result_err;
};

static void reader_destroy(dv_virt_reader *r)
{
    dv_virt_close(r->virt);
    drover_report_free(r->result);
    if (r->done_fd >= 0)
        close(r->done_fd);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->uri);
    free(r->host);
    free(r->migration_uri);
    free(r);
}

/* One read on the worker's connection, reconnecting when it died. */
static int read_once(dv_virt_reader *r, drover_report **out, drover_error *err)
{
    int ka = (r->timeout_ms + 999) / 1000;

    if (r->virt && !dv_virt_alive(r->virt)) {
        dv_info("libvirt connection to %s was closed; reconnecting", r->uri);
        dv_virt_close(r->virt);
        r->virt = NULL;
    }
    if (!r->virt && dv_virt_open(r->uri, DV_VIRT_READONLY, ka > 0 ? ka : 1, 3, &r->virt, err) < 0)
        return -1;
    if (dv_virt_read_report(r->virt, r->host, r->migration_uri, out, err) < 0) {
        if (!dv_virt_alive(r->virt)) {
            dv_virt_close(r->virt);
            r->virt = NULL;
        }
        return -1;
    }
    return 0;
}

static void *reader_main(void *arg)
{
    dv_virt_reader *r = arg;
    bool orphaned;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        drover_report *rep = NULL;
        drover_error e;
        uint64_t seq;
        int rc;

        while (!r->asked && !r->quit)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->quit)
            break;
        r->asked = false;
        r->busy = true;
        seq = r->seq;
        pthread_mutex_unlock(&r->mu);

        dv_err_clear(&e);
        rc = read_once(r, &rep, &e);

        pthread_mutex_lock(&r->mu);
        r->busy = false;
        if (r->quit) {
            drover_report_free(rep);
            break;
        }
        drover_report_free(r->result);
        r->result = rep;
        r->result_rc = rc;
        r->result_err = e;
        r->result_seq = seq;
        r->done_ms = dv_mono_ms();
        r->have_result = true;
        {
            uint64_t one = 1;
            if (write(r->done_fd, &one, sizeof one) < 0) {
                /* the counter cannot overflow at one write per read */
            }
        }
    }
    orphaned = r->orphaned;
    pthread_mutex_unlock(&r->mu);
    if (orphaned)
        reader_destroy(r);      /* nobody waits for us any more */
    return NULL;
}

int dv_virt_reader_new(const char *uri, const char *host, const char *migration_uri,
                       int timeout_ms, dv_virt_reader **out, drover_error *err)
{
    dv_virt_reader *r;
    int rc;

    *out = NULL;
    if (!uri || !*uri)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt URI given");
    if (timeout_ms <= 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT,
                      "libvirt timeout %d ms is not positive", timeout_ms);
    if (dv_virt_init(err) < 0)
        return -1;
    if (!(r = calloc(1, sizeof *r)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    r->done_fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->timeout_ms = timeout_ms;
    if (!(r->uri = strdup(uri)) || !(r->host = strdup(host ? host : "")) ||
        !(r->migration_uri = strdup(migration_uri ? migration_uri : ""))) {
        reader_destroy(r);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    if ((r->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        rc = errno;
        reader_destroy(r);
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT, "eventfd: %s", strerror(rc));
    }
    if ((rc = start_quiet_thread(&r->thread, reader_main, r, false)) != 0) {
        reader_destroy(r);
        return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT,
                      "cannot start the libvirt reader thread: %s", strerror(rc));
    }
    *out = r;
    return 0;
}

static void drain(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof n) > 0)
        ;
}

/* Take the result of request seq if it is there (under mu). */
static bool take_result(dv_virt_reader *r, uint64_t seq, drover_report **out,
                        dv_read_status *status, drover_error *err, int *rc)
{
    if (!r->have_result || r->result_seq != seq)
        return false;
    r->have_result = false;
    *rc = r->result_rc;
    if (*rc == 0) {
        *out = r->result;
        *status = DV_READ_OK;
    } else {
        dv_err_copy(err, &r->result_err);
        drover_report_free(r->result);
        *status = DV_READ_FAILED;
    }
    r->result = NULL;
    return true;
}

int dv_virt_reader_read(dv_virt_reader *r, int wake_fd, drover_report **out,
                        dv_read_status *status, drover_error *err)
{
    int64_t deadline;
    uint64_t seq;
    int rc = -1;

    *out = NULL;
    *status = DV_READ_FAILED;
    pthread_mutex_lock(&r->mu);
    if (r->asked || r->busy) {
        int64_t waited = dv_mono_ms() - r->started_ms;
        pthread_mutex_unlock(&r->mu);
        *status = DV_READ_STUCK;
        return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                      "libvirt at %s has not answered a read started %lld ms ago "
                      "(timeout %d ms)",
                      r->uri, (long long)waited, r->timeout_ms);
    }
    /* a late answer to a read that timed out is stale now */
    if (r->have_result) {
        long long ms = (long long)(r->done_ms - r->started_ms);
        if (r->result_rc == 0)
            dv_info("libvirt at %s answered a read after %lld ms, too late to use", r->uri, ms);
        else
            dv_info("a late read from libvirt at %s ended after %lld ms: %s", r->uri, ms,
                    r->result_err.message);
    }
    drover_report_free(r->result);
    r->result = NULL;
    r->have_result = false;
    drain(r->done_fd);
    seq = ++r->seq;
    r->asked = true;
    r->started_ms = dv_mono_ms();
    deadline = r->started_ms + r->timeout_ms;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);

    for (;;) {
        struct pollfd p[2] = { { r->done_fd, POLLIN, 0 }, { wake_fd, POLLIN, 0 } };
        int64_t left = deadline - dv_mono_ms();
        int n;

        if (left < 0)
            left = 0;
        n = poll(p, wake_fd >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno != EINTR)
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT, "poll: %s",
                          strerror(errno));
        if (n > 0 && (p[0].revents & POLLIN)) {
            bool got;
            pthread_mutex_lock(&r->mu);
            drain(r->done_fd);
            got = take_result(r, seq, out, status, err, &rc);
            pthread_mutex_unlock(&r->mu);
            if (got)
                return rc;
            continue;
        }
        if (n > 0 && wake_fd >= 0 && p[1].revents) {
            *status = DV_READ_WOKEN;
            return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                          "read from libvirt at %s interrupted", r->uri);
        }
        if (n == 0 && dv_mono_ms() >= deadline) {
            *status = DV_READ_TIMEOUT;
            return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                          "libvirt at %s did not answer within %d ms", r->uri, r->timeout_ms);
        }
    }
}

int64_t dv_virt_reader_pending_ms(dv_virt_reader *r)
{
    int64_t ms = 0;

    pthread_mutex_lock(&r->mu);
    if (r->asked || r->busy)
        ms = dv_mono_ms() - r->started_ms;
    pthread_mutex_unlock(&r->mu);
    return ms;
}

void dv_virt_reader_free(dv_virt_reader *r)
{
    bool stuck;

    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->quit = true;
    stuck = r->busy;
    if (stuck)
        r->orphaned = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (stuck) {
        pthread_detach(r->thread);   /* it frees r when libvirt lets it go */
        return;
    }
    pthread_join(r->thread, NULL);
    reader_destroy(r);
}
