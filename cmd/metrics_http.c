/* metrics_http.c - the metrics endpoint on libmicrohttpd (see
 * metrics_http.h).  Only GET (and HEAD) /metrics is served; anything else
 * is 404 or 405.  Connections are few and short: a small connection limit
 * and a timeout keep a misbehaving client from holding the daemon. */
#include "cmd/metrics_http.h"
#include "core/listen.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct dv_metrics_http {
    struct MHD_Daemon *d;
    dv_metrics *m;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;

    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned int status, const char *msg)
{
    char *body = strdup(msg);
    return body ? reply(c, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    dv_metrics_http *h = cls;
    char *body = NULL;
    size_t len = 0;
    drover_error err;

    (void)version;
    (void)upload;
    if (!*state) {                 /* first call: headers only; answer on the next */
        *state = h;
        return MHD_YES;
    }
    if (*upload_size) {            /* a body we do not want: drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return text(c, MHD_HTTP_NOT_FOUND, "not found: drover serves GET /metrics\n");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
    if (dv_metrics_render(h->m, &body, &len, &err) < 0)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, MHD_HTTP_OK, CONTENT_TYPE, body, len);
}

int dv_metrics_http_start(dv_metrics *m, const char *listen, dv_metrics_http **out,
                          drover_error *err)
{
    dv_listen_addr a;
    dv_metrics_http *h;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

    *out = NULL;
    if (dv_listen_parse(listen, &a, err) < 0) {
        dv_err_prefix(err, "metrics listen address \"%s\"", listen ? listen : "");
        return -1;
    }
    if (!(h = calloc(1, sizeof *h)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    h->m = m;
    if (a.family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    h->d = MHD_start_daemon(flags, (uint16_t)a.port, NULL, NULL, handle, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                            MHD_OPTION_END);
    if (!h->d) {
        int e = errno;
        free(h);
        return dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE, "cannot serve metrics on %s: %s",
                      listen, e ? strerror(e) : "libmicrohttpd could not start");
    }
    *out = h;
    return 0;
}

void dv_metrics_http_stop(dv_metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
