/* conn.c - process setup (libvirt's event loop) and connections with keepalive. */
#include "virt/internal.h"
#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

int dv_virt_start_thread(pthread_t *t, void *(*fn)(void *), void *arg, bool detached)
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
    if ((rc = dv_virt_start_thread(&t, event_loop, NULL, true)) != 0)
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

const char *dv_virt_last_message(void)
{
    const char *m = virGetLastErrorMessage();
    return m && *m ? m : "unknown libvirt error";
}

bool dv_virt_last_error_is(int code)
{
    virErrorPtr e = virGetLastError();
    return e && e->code == code;
}

/* ---------------------------------------------------------------- connections */

int dv_virt_new(const char *uri, unsigned flags, int keepalive_interval_s,
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
    v->flags = flags;
    v->ka_interval_s = keepalive_interval_s;
    v->ka_count = keepalive_count;
    v->done_fd = -1;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    *out = v;
    return 0;
}

void dv_virt_disconnect(dv_virt *v)
{
    if (v->conn)
        virConnectClose(v->conn);
    v->conn = NULL;
    free(v->arch);
    free(v->cpu_xml);
    v->arch = v->cpu_xml = NULL;
    v->memstats_n = 0;
}

int dv_virt_connect(dv_virt *v, drover_error *err)
{
    if (v->conn && !dv_virt_alive(v)) {
        dv_info("libvirt connection to %s was closed; reconnecting", v->uri);
        dv_virt_disconnect(v);
    }
    if (v->conn)
        return 0;
    v->conn = (v->flags & DV_VIRT_READONLY) ? virConnectOpenReadOnly(v->uri)
                                            : virConnectOpen(v->uri);
    if (!v->conn)
        return dv_virt_error(err, v->uri, "virConnectOpen");
    if (v->ka_interval_s > 0 &&
        virConnectSetKeepAlive(v->conn, v->ka_interval_s, v->ka_count) < 0) {
        if (!dv_virt_last_error_is(VIR_ERR_NO_SUPPORT)) {
            dv_virt_error(err, v->uri, "virConnectSetKeepAlive");
            dv_virt_disconnect(v);
            return -1;
        }
        virResetLastError();     /* a local driver: nothing to keep alive */
    }
    return 0;
}

int dv_virt_open(const char *uri, unsigned flags, int keepalive_interval_s,
                 unsigned keepalive_count, dv_virt **out, drover_error *err)
{
    if (dv_virt_new(uri, flags, keepalive_interval_s, keepalive_count, out, err) < 0)
        return -1;
    if (dv_virt_connect(*out, err) < 0) {
        dv_virt_close(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

void dv_virt_destroy(dv_virt *v)
{
    dv_virt_disconnect(v);
    if (v->done_fd >= 0)
        close(v->done_fd);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v->uri);
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
