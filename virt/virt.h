/* virt.h - the virt layer: everything drover asks of libvirt.
 *
 * Used by the agent (its own host's report), the scheduler's live checks
 * (questions asked of a source's and a destination's libvirt) and the
 * migrator.  libvirt's habit of printing every error on stderr is turned
 * off: errors come back as drover_error values with DROVER_ERR_LIBVIRT /
 * DROVER_FROM_LIBVIRT naming the URI and the call that failed.
 *
 * The files of the layer:
 *   conn.c       process setup (the event loop thread), connections with keepalive
 *   run.c        the one way to run a libvirt call with a deadline (dv_virt_call)
 *   hostfacts.c  host facts: memory, the host report the agent publishes
 *   reader.c     the agent's reader: reports with a deadline, never two at once
 *   questions.c  the live checks' questions: the guest, the hypervisor, CPUs
 *   xml.c        the few pieces of capabilities and domain XML drover reads
 */
#ifndef DV_VIRT_H
#define DV_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "core/error.h"

/* Once per process, from any thread, as often as wanted: silence libvirt's
 * default error printing, register libvirt's default event implementation
 * and start a thread that runs it (keepalive and events need one). */
int dv_virt_init(drover_error *err);

/* Turn this thread's last libvirt error into *err (DROVER_ERR_LIBVIRT,
 * "CALL on URI: libvirt's message") and clear it.  Returns -1. */
int dv_virt_error(drover_error *err, const char *uri, const char *call);

/* libvirt's message of this thread's last error, or a placeholder. */
const char *dv_virt_last_message(void);

/* ---------------------------------------------------------------- connections */

typedef struct dv_virt dv_virt;

enum {
    DV_VIRT_READONLY = 1 << 0     /* enough for reports; not for CPU comparisons */
};

/* A handle on uri, not connected yet: the first dv_virt_call connects, in
 * its worker and under its deadline (virConnectOpen to a hung daemon hangs
 * too).  keepalive_interval_s > 0 asks the peer for a keepalive answer
 * every interval; after keepalive_count unanswered probes libvirt closes
 * the connection, so calls stuck on a hung daemon return with an error.
 * Drivers without keepalive (test:///, local drivers) run without it. */
int dv_virt_new(const char *uri, unsigned flags, int keepalive_interval_s,
                unsigned keepalive_count, dv_virt **out, drover_error *err);
/* The same, connected now, in the caller's thread, without a deadline
 * (tests and tools that talk to a libvirt they trust). */
int dv_virt_open(const char *uri, unsigned flags, int keepalive_interval_s,
                 unsigned keepalive_count, dv_virt **out, drover_error *err);
/* Close and free.  A handle whose worker is stuck in libvirt cannot be
 * freed now: the worker frees it when libvirt lets go (or the process ends). */
void dv_virt_close(dv_virt *v);

/* The connection (NULL before one was made).  Use it directly only from the
 * thread that opened v with dv_virt_open, or inside a dv_virt_call fn. */
virConnectPtr dv_virt_conn(const dv_virt *v);
const char *dv_virt_uri(const dv_virt *v);
/* False once libvirt closed the connection (keepalive, daemon gone). */
bool dv_virt_alive(const dv_virt *v);

/* ---------------------------------------------------------------- calls with a deadline */

typedef enum dv_call_status {
    DV_CALL_OK = 0,        /* fn ran and returned 0 */
    DV_CALL_FAILED,        /* fn ran and failed (err says why) */
    DV_CALL_UNREACHABLE,   /* no connection could be made; fn did not run */
    DV_CALL_TIMEOUT,       /* no answer within the timeout; fn goes on */
    DV_CALL_STUCK,         /* an earlier call on v still waits for libvirt */
    DV_CALL_WOKEN          /* wake_fd became readable first; fn goes on */
} dv_call_status;

/* fn asks libvirt whatever it wants through dv_virt_conn(v) and the
 * functions below; it returns 0, or -1 with *err set. */
typedef int (*dv_virt_fn)(dv_virt *v, void *arg, drover_error *err);

/* Run fn(v, arg) in v's worker thread (connecting first, again after the
 * connection died) and wait at most timeout_ms for it.  Returns 0 only when
 * fn returned 0.  Timeout: -1 with DROVER_ERR_LIBVIRT "libvirt at URI did
 * not answer within N ms".
 *
 * The stuck-worker rule: a libvirt call cannot be cancelled, so after a
 * timeout fn goes on in the worker, and
 *  - no call starts on top of it: every dv_virt_call on v fails at once
 *    (DV_CALL_STUCK, "has not answered a call started N ms ago") until fn
 *    returns (keepalive makes it return once the daemon is gone for good);
 *  - arg stays the worker's: the caller must not touch it again.  When fn
 *    returns, the worker calls release(arg) (release NULL: arg is not
 *    freed; give static memory or memory that outlives v).  When fn answers
 *    in time release is not called: arg is the caller's again;
 *  - dv_virt_close(v) leaves v to the worker, which frees it after fn.
 * So pass fn a heap object that owns copies of everything it reads. */
int dv_virt_call(dv_virt *v, int timeout_ms, dv_virt_fn fn, void *arg, void (*release)(void *),
                 drover_error *err);
/* The same, and also stop waiting when wake_fd (>= 0) is readable (a
 * signalfd); *status says how it ended. */
int dv_virt_call_wake(dv_virt *v, int timeout_ms, int wake_fd, dv_virt_fn fn, void *arg,
                      void (*release)(void *), dv_call_status *status, drover_error *err);
/* Milliseconds the current call has been waiting (0 when idle). */
int64_t dv_virt_pending_ms(dv_virt *v);

/* ---------------------------------------------------------------- host facts */

/* Memory of the host behind v, in MiB.  The one free-memory rule, used by
 * the report and by the live checks: as Nova does, total (virNodeGetInfo)
 * minus what the host uses (virNodeGetMemoryStats: total - free - buffers -
 * cached; the kernel gives its caches back), so free never exceeds total
 * even where virNodeGetInfo counts fewer NUMA nodes than the kernel.
 * Drivers without memory stats: virNodeGetFreeMemory, capped at total. */
typedef struct dv_virt_memory {
    uint64_t total_mib;
    uint64_t free_mib;
    unsigned vcpus;
} dv_virt_memory;
int dv_virt_read_memory(dv_virt *v, dv_virt_memory *m, drover_error *err);

/* Fill a new report of the host behind v (connected).  host and
 * migration_uri are copied into it (migration_uri NULL or "" = v's URI).
 *  - hypervisor type/version, libvirt version: virConnectGetType/GetVersion/
 *    GetLibVersion;
 *  - arch and CPU XML: the <cpu> element of <host> in the capabilities, read
 *    once per connection and again after DV_VIRT_CAPS_REFRESH_MS (the first
 *    capabilities probe of a qemu driver takes over a second);
 *  - memory_total_mib, memory_free_mib and vcpus: dv_virt_read_memory;
 *  - instances: every domain (virConnectListAllDomains), sorted by name, with
 *    its maximum memory and its state name (dv_virt_state_name).  A domain
 *    that vanishes while being read is left out. */
#define DV_VIRT_CAPS_REFRESH_MS (15 * 60 * 1000)
int dv_virt_read_report(dv_virt *v, const char *host, const char *migration_uri,
                        drover_report **out, drover_error *err);

/* How many times v read the capabilities (tests check the cache). */
unsigned dv_virt_caps_reads(const dv_virt *v);

/* "running", "paused", "shutoff", ... for a virDomainState; "unknown" else. */
const char *dv_virt_state_name(int state);

/* ---------------------------------------------------------------- the agent's reader */

typedef struct dv_virt_reader dv_virt_reader;

typedef enum dv_read_status {
    DV_READ_OK = 0,        /* *out holds a fresh report */
    DV_READ_FAILED,        /* libvirt answered with an error, or could not be reached */
    DV_READ_TIMEOUT,       /* no answer within the timeout; the read goes on */
    DV_READ_STUCK,         /* an earlier read is still waiting for libvirt */
    DV_READ_WOKEN          /* wake_fd became readable first; the read goes on */
} dv_read_status;

/* Reports of the host behind uri, read by dv_virt_call on one read-only
 * connection with keepalive (interval about timeout_ms, 3 probes),
 * reopened when it died. */
int dv_virt_reader_new(const char *uri, const char *host, const char *migration_uri,
                       int timeout_ms, dv_virt_reader **out, drover_error *err);

/* Read a report, waiting at most the reader's timeout.  wake_fd >= 0: give
 * up waiting as soon as it is readable (a signalfd).  When an earlier read
 * is still waiting for libvirt, no new read starts (DV_READ_STUCK at once).
 * Returns 0 only with DV_READ_OK. */
int dv_virt_reader_read(dv_virt_reader *r, int wake_fd, drover_report **out,
                        dv_read_status *status, drover_error *err);

/* Milliseconds the current read has been waiting (0 when idle). */
int64_t dv_virt_reader_pending_ms(dv_virt_reader *r);

/* Stop reading.  A read stuck in libvirt is left to finish on its own. */
void dv_virt_reader_free(dv_virt_reader *r);

/* ---------------------------------------------------------------- questions */

/* The answers below take a connected v: call them inside a dv_virt_call fn
 * (or on a handle from dv_virt_open).  Each returns 0, or -1 with *err
 * naming the URI and the call. */

/* virConnectGetType and virConnectGetVersion. */
int dv_virt_hypervisor(dv_virt *v, char *type, size_t type_len, unsigned long long *version,
                       drover_error *err);

/* What a domain's own libvirt says of it. */
typedef struct dv_virt_guest {
    int state;                     /* virDomainState */
    char virttype[32];             /* the domain type: "kvm", "qemu" */
    char *cpu_xml;                 /* its own CPU (dv_virt_domain_cpu); NULL: none */
} dv_virt_guest;
/* The domain with uuid: DROVER_ERR_NOT_FOUND when v has none.  Frees with
 * dv_virt_guest_clear. */
int dv_virt_guest_read(dv_virt *v, const char *uuid, dv_virt_guest *g, drover_error *err);
void dv_virt_guest_clear(dv_virt_guest *g);

/* *defined = whether v has a domain with uuid (running or not). */
int dv_virt_has_domain(dv_virt *v, const char *uuid, bool *defined, drover_error *err);

/* Can v's hypervisor provide cpu_xml under virttype (arch NULL or "": the
 * host's)?  virConnectCompareHypervisorCPU (under TCG, virConnectCompareCPU
 * judges the host CPU and always says incompatible; the hypervisor variant
 * asks what qemu can emulate; it needs a read-write connection).
 * Returns 0 yes, 1 no (err says why, code LIBVIRT), -1 could not compare. */
int dv_virt_compare_cpu(dv_virt *v, const char *arch, const char *virttype, const char *cpu_xml,
                        drover_error *err);

/* ---------------------------------------------------------------- XML */

/* Find the <cpu> element of <host> in a capabilities document and its <arch>.
 * Both results are malloc'ed.  Anything unexpected is DROVER_ERR_CORRUPT
 * naming what is missing.  what names the source in messages (the URI). */
int dv_virt_parse_host_cpu(const char *caps_xml, const char *what, char **arch,
                           char **cpu_xml, drover_error *err);

/* The value of attribute name of the element starting at tag (up to its
 * '>'), into buf.  False when absent or longer than len - 1. */
bool dv_xml_attr(const char *tag, const char *name, char *buf, size_t len);

/* The domain type of a domain XML ("kvm" in <domain type='kvm'>). */
bool dv_virt_domain_type(const char *domain_xml, char *buf, size_t len);

/* The CPU a domain carries with it, as Nova reads vcpu_model: its <cpu>
 * element (malloc'ed) when it names a model and does not pass the host CPU
 * through (host-passthrough, maximum); NULL otherwise (then what it needs
 * is the source host's CPU). */
char *dv_virt_domain_cpu(const char *domain_xml);

#endif
