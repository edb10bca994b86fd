/* reader.c - the agent's reader: host reports through dv_virt_call, so a
 * hung libvirt costs the agent a deadline and never a second read on top
 * of a stuck one. */
#include "virt/virt.h"

#include <stdlib.h>
#include <string.h>

struct dv_virt_reader {
    dv_virt *v;
    char *host, *migration_uri;
    int timeout_ms;
};

/* One read; owns copies of what it needs, since a read that times out
 * outlives the reader's wait (and maybe the reader). */
typedef struct read_job {
    char *host, *migration_uri;
    drover_report *report;
} read_job;

static void job_free(void *p)
{
    read_job *j = p;
    if (!j)
        return;
    free(j->host);
    free(j->migration_uri);
    drover_report_free(j->report);
    free(j);
}

static int read_fn(dv_virt *v, void *arg, drover_error *err)
{
    read_job *j = arg;
    return dv_virt_read_report(v, j->host, j->migration_uri, &j->report, err);
}

int dv_virt_reader_new(const char *uri, const char *host, const char *migration_uri,
                       int timeout_ms, dv_virt_reader **out, drover_error *err)
{
    dv_virt_reader *r;
    int ka = (timeout_ms + 999) / 1000;

    *out = NULL;
    if (!uri || !*uri)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt URI given");
    if (timeout_ms <= 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT,
                      "libvirt timeout %d ms is not positive", timeout_ms);
    if (!(r = calloc(1, sizeof *r)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    r->timeout_ms = timeout_ms;
    if (!(r->host = strdup(host ? host : "")) ||
        !(r->migration_uri = strdup(migration_uri ? migration_uri : ""))) {
        dv_virt_reader_free(r);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    if (dv_virt_new(uri, DV_VIRT_READONLY, ka > 0 ? ka : 1, 3, &r->v, err) < 0) {
        dv_virt_reader_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static dv_read_status read_status(dv_call_status st)
{
    switch (st) {
    case DV_CALL_OK: return DV_READ_OK;
    case DV_CALL_TIMEOUT: return DV_READ_TIMEOUT;
    case DV_CALL_STUCK: return DV_READ_STUCK;
    case DV_CALL_WOKEN: return DV_READ_WOKEN;
    case DV_CALL_FAILED:
    case DV_CALL_UNREACHABLE: break;
    }
    return DV_READ_FAILED;
}

int dv_virt_reader_read(dv_virt_reader *r, int wake_fd, drover_report **out,
                        dv_read_status *status, drover_error *err)
{
    read_job *j = calloc(1, sizeof *j);
    dv_call_status st;
    int rc;

    *out = NULL;
    *status = DV_READ_FAILED;
    if (!j || !(j->host = strdup(r->host)) || !(j->migration_uri = strdup(r->migration_uri))) {
        job_free(j);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    rc = dv_virt_call_wake(r->v, r->timeout_ms, wake_fd, read_fn, j, job_free, &st, err);
    *status = read_status(st);
    if (st == DV_CALL_TIMEOUT || st == DV_CALL_WOKEN)
        return -1;               /* j is the worker's now */
    if (rc == 0) {
        *out = j->report;
        j->report = NULL;
    }
    job_free(j);
    return rc;
}

int64_t dv_virt_reader_pending_ms(dv_virt_reader *r)
{
    return dv_virt_pending_ms(r->v);
}

void dv_virt_reader_free(dv_virt_reader *r)
{
    if (!r)
        return;
    dv_virt_close(r->v);
    free(r->host);
    free(r->migration_uri);
    free(r);
}
