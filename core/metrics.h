/* metrics.h - a registry of counters, gauges and histograms with labels,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 * Thread-safe: any thread may update while another renders.  Pure: no
 * I/O; serving the text over HTTP is cmd/metrics_http.c's job. */
#ifndef DV_METRICS_H
#define DV_METRICS_H

#include <stddef.h>

#include "core/error.h"

typedef struct dv_metrics dv_metrics;
typedef struct dv_metric dv_metric;     /* one family: a name, its help, its series */

typedef enum dv_metric_type { DV_COUNTER = 0, DV_GAUGE, DV_HISTOGRAM } dv_metric_type;

dv_metrics *dv_metrics_new(void);       /* NULL on ENOMEM */
void dv_metrics_free(dv_metrics *m);

/* Register a family.  name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: a
 * NULL-terminated list of label names ([a-zA-Z_][a-zA-Z0-9_]*, not "__..."
 * and, for histograms, not "le"), or NULL for none.  A family without
 * labels has its one series from the start (it renders as 0).  bounds: a
 * histogram's upper bounds, strictly increasing, finite ("+Inf" is added).
 * Errors: DROVER_ERR_INVALID (bad name, a name registered twice),
 * DROVER_ERR_NOMEM.  The family lives as long as m. */
dv_metric *dv_metrics_counter(dv_metrics *m, const char *name, const char *help,
                              const char *const *labels, drover_error *err);
dv_metric *dv_metrics_gauge(dv_metrics *m, const char *name, const char *help,
                            const char *const *labels, drover_error *err);
dv_metric *dv_metrics_histogram(dv_metrics *m, const char *name, const char *help,
                                const char *const *labels, const double *bounds, size_t n_bounds,
                                drover_error *err);

/* Update the series with these label values (one per label name, in order;
 * NULL when the family has no labels); a series is created on first use.
 * add: counters (v >= 0) and gauges; set: gauges; observe: histograms.
 * -1 with DROVER_ERR_INVALID for the wrong type, a negative counter step
 * or a NaN; DROVER_ERR_NOMEM. */
int dv_metric_add(dv_metric *f, const char *const *values, double v, drover_error *err);
int dv_metric_set(dv_metric *f, const char *const *values, double v, drover_error *err);
int dv_metric_observe(dv_metric *f, const char *const *values, double v, drover_error *err);

/* The current value of a counter or gauge series (0 if it does not exist). */
double dv_metric_value(dv_metric *f, const char *const *values);

/* The whole registry as text: families in registration order, series in
 * creation order.  *out is NUL-terminated, for free(). */
int dv_metrics_render(dv_metrics *m, char **out, size_t *len, drover_error *err);

#endif
