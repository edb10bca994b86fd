/* virt.h - libvirt connections and the host report read from them.
 *
 * Used by the agent (its own host's report), and by the scheduler and the
 * migrator (questions asked of a destination's libvirt).  libvirt's habit of
 * printing every error on stderr is turned off: errors come back as
 * drover_error values with DROVER_ERR_LIBVIRT / DROVER_FROM_LIBVIRT naming the
 * URI and the call that failed.
 *
 * A libvirt call has no timeout of its own.  dv_virt_reader runs the reads in
 * a worker thread so a caller can wait for an answer with a deadline and go on
 * when libvirt is hung, without ever starting a second read on top of a stuck
 * one.
 */
#ifndef DV_VIRT_H
#define DV_VIRT_H

#include <stdbool.h>
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

/* ---------------------------------------------------------------- connections */

typedef struct dv_virt dv_virt;

enum {
    DV_VIRT_READONLY = 1 << 0     /* enough for reports and CPU comparisons */
};

/* Open uri.  keepalive_interval_s > 0 asks the peer for a keepalive answer
 * every interval; after keepalive_count unanswered probes the connection is
 * closed, so calls stuck on a hung daemon return with an error.  Drivers
 * without keepalive (test:///, local drivers) simply run without it. */
int dv_virt_open(const char *uri, unsigned flags, int keepalive_interval_s,
                 unsigned keepalive_count, dv_virt **out, drover_error *err);
void dv_virt_close(dv_virt *v);

virConnectPtr dv_virt_conn(const dv_virt *v);
const char *dv_virt_uri(const dv_virt *v);
/* False once libvirt closed the connection (keepalive, daemon gone). */
bool dv_virt_alive(const dv_virt *v);

/* ---------------------------------------------------------------- host report */

/* Fill a new report of the host behind v.  host and migration_uri are copied
 * into it (migration_uri NULL or "" = the connection's URI).
 *  - hypervisor type/version, libvirt version: virConnectGetType/GetVersion/
 *    GetLibVersion;
 *  - arch and CPU XML: the <cpu> element of <host> in the capabilities, read
 *    once per connection and again after DV_VIRT_CAPS_REFRESH_MS (the first
 *    capabilities probe of a qemu driver takes over a second);
 *  - memory_total_mib and vcpus: virNodeGetInfo;
 *  - memory_free_mib: as Nova does, total minus what the host uses
 *    (virNodeGetMemoryStats: total - free - buffers - cached), so free never
 *    exceeds total even where virNodeGetInfo counts fewer NUMA nodes than
 *    the kernel; drivers without memory stats: virNodeGetFreeMemory;
 *  - instances: every domain (virConnectListAllDomains), sorted by name, with
 *    its maximum memory and its state name (dv_virt_state_name).  A domain
 *    that vanishes while being read is left out. */
#define DV_VIRT_CAPS_REFRESH_MS (15 * 60 * 1000)
int dv_virt_read_report(dv_virt *v, const char *host, const char *migration_uri,
                        drover_report **out, drover_error *err);

/* How many times v read the capabilities (tests check the cache). */
unsigned dv_virt_caps_reads(const dv_virt *v);

/* Find the <cpu> element of <host> in a capabilities document and its <arch>.
 * Both results are malloc'ed.  Anything unexpected is DROVER_ERR_CORRUPT
 * naming what is missing.  what names the source in messages (the URI). */
int dv_virt_parse_host_cpu(const char *caps_xml, const char *what, char **arch,
                           char **cpu_xml, drover_error *err);

/* "running", "paused", "shutoff", ... for a virDomainState; "unknown" else. */
const char *dv_virt_state_name(int state);

/* ---------------------------------------------------------------- reads with a deadline */

typedef struct dv_virt_reader dv_virt_reader;

typedef enum dv_read_status {
    DV_READ_OK = 0,        /* *out holds a fresh report */
    DV_READ_FAILED,        /* libvirt answered with an error (err says which) */
    DV_READ_TIMEOUT,       /* no answer within the timeout; the read goes on */
    DV_READ_STUCK,         /* an earlier read is still waiting for libvirt */
    DV_READ_WOKEN          /* wake_fd became readable first; the read goes on */
} dv_read_status;

/* A worker thread that owns one connection to uri, opened read-only with
 * keepalive (interval about timeout_ms, 3 probes), reopened when it died. */
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

/* Stop the worker.  A worker stuck in libvirt cannot be joined: it is left to
 * free itself when libvirt answers or the process ends. */
void dv_virt_reader_free(dv_virt_reader *r);

#endif
