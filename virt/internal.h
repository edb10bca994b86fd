/* internal.h - what the files of virt/ share and nobody else sees. */
#ifndef DV_VIRT_INTERNAL_H
#define DV_VIRT_INTERNAL_H

#include "virt/virt.h"

#include <pthread.h>

struct dv_virt {
    char *uri;
    unsigned flags;
    int ka_interval_s;
    unsigned ka_count;
    virConnectPtr conn;          /* NULL until connected, again after it died */

    /* host facts read once per connection */
    char *arch, *cpu_xml;        /* capabilities cache */
    int64_t caps_read_ms;        /* dv_mono_ms() when read */
    unsigned caps_reads;
    int memstats_n;              /* parameters of virNodeGetMemoryStats; -1 = unsupported */

    /* the worker (run.c) */
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* the worker waits here for a call */
    pthread_t thread;
    bool started;
    int done_fd;                 /* eventfd: a call ended */
    /* under mu */
    bool asked, busy, abandoned, quit, orphaned;
    uint64_t seq, done_seq;
    int64_t started_ms;
    int timeout_ms;              /* of the current call, for messages */
    dv_virt_fn fn;
    void *arg;
    void (*release)(void *);
    int rc;
    dv_call_status status;
    drover_error err;
};

/* Start a thread with every signal blocked, so signals keep going to the
 * thread that waits for them (the agent's signalfd). */
int dv_virt_start_thread(pthread_t *t, void *(*fn)(void *), void *arg, bool detached);

/* Connect v now (in the calling thread); drops a dead connection first.
 * 0 when connected. */
int dv_virt_connect(dv_virt *v, drover_error *err);
/* Drop v's connection and what was read from it. */
void dv_virt_disconnect(dv_virt *v);
/* Free v and its connection (the worker is gone or is the caller). */
void dv_virt_destroy(dv_virt *v);

bool dv_virt_last_error_is(int code);

#endif
