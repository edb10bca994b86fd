/* metrics_http.h - GET /metrics over HTTP (libmicrohttpd), serving a
 * core/metrics registry on a listen address such as "127.0.0.1:9464" or
 * "[::1]:9464".  The server runs in a thread of its own; scrapes never
 * block the daemon's main loop. */
#ifndef DV_METRICS_HTTP_H
#define DV_METRICS_HTTP_H

#include "core/error.h"
#include "core/metrics.h"

typedef struct dv_metrics_http dv_metrics_http;

/* Serve m on listen (core/listen.h syntax) until dv_metrics_http_stop.  Its
 * thread starts with the caller's signal mask.  Errors: DROVER_ERR_CONFIG
 * (a bad address), DROVER_ERR_IO (cannot listen: in use, no permission). */
int dv_metrics_http_start(dv_metrics *m, const char *listen, dv_metrics_http **out,
                          drover_error *err);
void dv_metrics_http_stop(dv_metrics_http *h);   /* NULL is fine */

#endif
