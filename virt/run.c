/* run.c - the one way drover runs a libvirt call with a deadline.
 *
 * A libvirt call has no timeout of its own, and a hung libvirtd (stopped,
 * wedged in its qemu driver) hangs every call made to it.  So each handle
 * has a worker thread that makes its calls; the caller waits for the
 * worker's eventfd with poll (monotonic, so a wall-clock step changes no
 * deadline) and goes on when the time is up.  The rules a stuck worker
 * follows are in virt.h (dv_virt_call).
 */
#include "virt/internal.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* One call: connect when needed, run fn, drop a connection that died. */
static int run_one(dv_virt *v, dv_virt_fn fn, void *arg, dv_call_status *st, drover_error *err)
{
    if (dv_virt_connect(v, err) < 0) {
        *st = DV_CALL_UNREACHABLE;
        return -1;
    }
    if (fn(v, arg, err) < 0) {
        *st = DV_CALL_FAILED;
        if (!dv_virt_alive(v))
            dv_virt_disconnect(v);
        return -1;
    }
    *st = DV_CALL_OK;
    return 0;
}

/* The caller gave up on this call: say how it ended, and free its arg. */
static void late_answer(dv_virt *v, int64_t took, int rc, const drover_error *e, void *arg,
                        void (*release)(void *))
{
    if (rc == 0)
        dv_info("libvirt at %s answered after %lld ms, too late to use", v->uri, (long long)took);
    else
        dv_info("a late call to libvirt at %s ended after %lld ms: %s", v->uri, (long long)took,
                e->message);
    if (release)
        release(arg);
}

static void *worker(void *p)
{
    dv_virt *v = p;
    bool orphaned;

    pthread_mutex_lock(&v->mu);
    for (;;) {
        dv_virt_fn fn;
        void *arg;
        void (*release)(void *);
        dv_call_status st;
        drover_error e;
        uint64_t seq, one = 1;
        int rc;

        while (!v->asked && !v->quit)
            pthread_cond_wait(&v->cv, &v->mu);
        if (v->quit) {
            /* a call given up before it started: its arg is still ours */
            if (v->asked && v->abandoned && v->release)
                v->release(v->arg);
            break;
        }
        v->asked = false;
        v->busy = true;
        fn = v->fn;
        arg = v->arg;
        release = v->release;
        seq = v->seq;
        pthread_mutex_unlock(&v->mu);

        dv_err_clear(&e);
        rc = run_one(v, fn, arg, &st, &e);

        pthread_mutex_lock(&v->mu);
        v->busy = false;
        if (v->abandoned) {
            int64_t took = dv_mono_ms() - v->started_ms;
            pthread_mutex_unlock(&v->mu);
            late_answer(v, took, rc, &e, arg, release);
            pthread_mutex_lock(&v->mu);
            continue;
        }
        v->rc = rc;
        v->status = st;
        v->err = e;
        v->done_seq = seq;
        if (write(v->done_fd, &one, sizeof one) < 0) {
            /* the counter cannot overflow at one write per call */
        }
    }
    orphaned = v->orphaned;
    pthread_mutex_unlock(&v->mu);
    if (orphaned)
        dv_virt_destroy(v);      /* nobody holds v any more */
    return NULL;
}

static void drain(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof n) > 0)
        ;
}

/* Under mu: hand the call to the worker (started on first use). */
static int submit(dv_virt *v, int timeout_ms, dv_virt_fn fn, void *arg, void (*release)(void *),
                  dv_call_status *st, drover_error *err)
{
    int rc;

    if (!v->started) {
        if (v->done_fd < 0 && (v->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT, "eventfd: %s",
                          strerror(errno));
        if ((rc = dv_virt_start_thread(&v->thread, worker, v, false)) != 0)
            return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT,
                          "cannot start a libvirt worker thread: %s", strerror(rc));
        v->started = true;
    }
    if (v->asked || v->busy) {
        *st = DV_CALL_STUCK;
        return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                      "libvirt at %s has not answered a call started %lld ms ago (timeout %d ms)",
                      v->uri, (long long)(dv_mono_ms() - v->started_ms), v->timeout_ms);
    }
    drain(v->done_fd);
    v->fn = fn;
    v->arg = arg;
    v->release = release;
    v->abandoned = false;
    v->seq++;
    v->asked = true;
    v->timeout_ms = timeout_ms;
    v->started_ms = dv_mono_ms();
    pthread_cond_signal(&v->cv);
    return 0;
}

/* Under mu: the result of call seq if the worker has it. */
static bool take(dv_virt *v, uint64_t seq, dv_call_status *st, drover_error *err, int *rc)
{
    if (v->done_seq != seq || v->asked || v->busy)
        return false;
    *rc = v->rc;
    *st = v->status;
    if (*rc < 0)
        dv_err_copy(err, &v->err);
    return true;
}

/* Under mu: stop waiting for call seq unless it just ended.  True when
 * given up (the worker releases arg). */
static bool give_up(dv_virt *v, uint64_t seq, dv_call_status *st, drover_error *err, int *rc)
{
    drain(v->done_fd);
    if (take(v, seq, st, err, rc))
        return false;
    v->abandoned = true;
    return true;
}

int dv_virt_call_wake(dv_virt *v, int timeout_ms, int wake_fd, dv_virt_fn fn, void *arg,
                      void (*release)(void *), dv_call_status *status, drover_error *err)
{
    dv_call_status st_local;
    dv_call_status *st = status ? status : &st_local;
    int64_t deadline = dv_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    uint64_t seq;
    int rc = -1;

    *st = DV_CALL_FAILED;
    pthread_mutex_lock(&v->mu);
    if (submit(v, timeout_ms, fn, arg, release, st, err) < 0) {
        pthread_mutex_unlock(&v->mu);
        return -1;
    }
    seq = v->seq;
    pthread_mutex_unlock(&v->mu);

    for (;;) {
        struct pollfd p[2] = { { v->done_fd, POLLIN, 0 }, { wake_fd, POLLIN, 0 } };
        int64_t left = deadline - dv_mono_ms();
        bool woken = false, late = false;
        int n = poll(p, wake_fd >= 0 ? 2 : 1, (int)(left > 0 ? left : 0));

        int poll_errno = n < 0 && errno != EINTR ? errno : 0;

        woken = n > 0 && wake_fd >= 0 && p[1].revents && !(p[0].revents & POLLIN);
        late = (n == 0 && dv_mono_ms() >= deadline) || poll_errno;
        pthread_mutex_lock(&v->mu);
        if (woken || late) {
            bool gone = give_up(v, seq, st, err, &rc);
            pthread_mutex_unlock(&v->mu);
            if (!gone)
                return rc;
            *st = woken ? DV_CALL_WOKEN : DV_CALL_TIMEOUT;
            if (poll_errno)
                return dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_LIBVIRT,
                              "cannot wait for libvirt at %s: poll: %s", v->uri,
                              strerror(poll_errno));
            if (woken)
                return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                              "call to libvirt at %s interrupted", v->uri);
            return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
                          "libvirt at %s did not answer within %d ms", v->uri, timeout_ms);
        }
        if (n > 0 && (p[0].revents & POLLIN)) {
            drain(v->done_fd);
            if (take(v, seq, st, err, &rc)) {
                pthread_mutex_unlock(&v->mu);
                return rc;
            }
        }
        pthread_mutex_unlock(&v->mu);
    }
}

int dv_virt_call(dv_virt *v, int timeout_ms, dv_virt_fn fn, void *arg, void (*release)(void *),
                 drover_error *err)
{
    return dv_virt_call_wake(v, timeout_ms, -1, fn, arg, release, NULL, err);
}

int64_t dv_virt_pending_ms(dv_virt *v)
{
    int64_t ms = 0;

    pthread_mutex_lock(&v->mu);
    if (v->asked || v->busy)
        ms = dv_mono_ms() - v->started_ms;
    pthread_mutex_unlock(&v->mu);
    return ms;
}

void dv_virt_close(dv_virt *v)
{
    bool stuck;

    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    if (!v->started) {
        pthread_mutex_unlock(&v->mu);
        dv_virt_destroy(v);
        return;
    }
    v->quit = true;
    stuck = v->busy || v->asked;
    if (stuck)
        v->orphaned = true;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    if (stuck) {
        pthread_detach(v->thread);   /* it frees v when libvirt lets it go */
        return;
    }
    pthread_join(v->thread, NULL);
    dv_virt_destroy(v);
}
