/* metrics.c - the metrics registry and its text rendering (see metrics.h).
 * One mutex guards the whole registry: updates are a few per second and a
 * scrape every few seconds, so nothing finer is worth its complexity. */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char **values;                 /* one per label name */
    double value;                  /* counters, gauges */
    unsigned long long *buckets;   /* histograms: non-cumulative counts, n_bounds + 1 */
    double sum;
    unsigned long long count;
} series;

struct dv_metric {
    dv_metrics *owner;
    dv_metric_type type;
    char *name, *help;
    char **labels;
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    series *s;
    size_t n_s, cap_s;
};

struct dv_metrics {
    pthread_mutex_t lock;
    dv_metric **f;
    size_t n_f, cap_f;
};

static void free_series(series *s, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
}

static void free_family(dv_metric *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_s; i++)
        free_series(&f->s[i], f->n_labels);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->s);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

dv_metrics *dv_metrics_new(void)
{
    dv_metrics *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void dv_metrics_free(dv_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_f; i++)
        free_family(m->f[i]);
    free(m->f);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---------------------------------------------------------------- registration */

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (colon && *s == ':')))
            return false;
    return true;
}

static int check_labels(const char *name, const char *const *labels, dv_metric_type type,
                        drover_error *err)
{
    for (size_t i = 0; labels && labels[i]; i++) {
        if (!valid_name(labels[i], false) || strncmp(labels[i], "__", 2) == 0)
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "metric %s: \"%s\" is not a valid label name", name, labels[i]);
        if (type == DV_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "metric %s: a histogram cannot have a label \"le\"", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                              "metric %s: label \"%s\" is listed twice", name, labels[i]);
    }
    return 0;
}

static int check_family(dv_metrics *m, const char *name, const char *const *labels,
                        dv_metric_type type, const double *bounds, size_t nb, drover_error *err)
{
    if (!valid_name(name, true))
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "\"%s\" is not a valid metric name", name ? name : "(null)");
    for (size_t i = 0; i < m->n_f; i++)
        if (strcmp(m->f[i]->name, name) == 0)
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "metric %s is registered twice", name);
    for (size_t i = 0; type == DV_HISTOGRAM && i < nb; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "metric %s: bucket bounds must be finite and strictly increasing", name);
    return check_labels(name, labels, type, err);
}

static series *new_series(dv_metric *f, const char *const *values);

static dv_metric *build_family(dv_metrics *m, dv_metric_type type, const char *name,
                               const char *help, const char *const *labels, const double *bounds,
                               size_t nb)
{
    dv_metric *f = calloc(1, sizeof *f);
    size_t n = 0;

    while (labels && labels[n])
        n++;
    if (!f || !(f->name = strdup(name)) || !(f->help = strdup(help ? help : "")) ||
        !(f->labels = calloc(n ? n : 1, sizeof *f->labels)) ||
        !(f->bounds = malloc((nb ? nb : 1) * sizeof *f->bounds)))
        goto fail;
    f->owner = m;
    f->type = type;
    for (; f->n_labels < n; f->n_labels++)
        if (!(f->labels[f->n_labels] = strdup(labels[f->n_labels])))
            goto fail;
    if (nb)
        memcpy(f->bounds, bounds, nb * sizeof *bounds);
    f->n_bounds = nb;
    if (n == 0 && !new_series(f, NULL))
        goto fail;
    return f;
fail:
    free_family(f);
    return NULL;
}

static dv_metric *family(dv_metrics *m, dv_metric_type type, const char *name, const char *help,
                         const char *const *labels, const double *bounds, size_t nb,
                         drover_error *err)
{
    dv_metric *f = NULL;

    pthread_mutex_lock(&m->lock);
    if (check_family(m, name, labels, type, bounds, nb, err) < 0)
        goto out;
    if (m->n_f == m->cap_f) {
        size_t cap = m->cap_f ? m->cap_f * 2 : 16;
        dv_metric **nf = realloc(m->f, cap * sizeof *nf);
        if (!nf)
            goto nomem;
        m->f = nf;
        m->cap_f = cap;
    }
    if (!(f = build_family(m, type, name, help, labels, bounds, nb)))
        goto nomem;
    m->f[m->n_f++] = f;
    goto out;
nomem:
    dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "metric %s: out of memory", name);
out:
    pthread_mutex_unlock(&m->lock);
    return f;
}

dv_metric *dv_metrics_counter(dv_metrics *m, const char *name, const char *help,
                              const char *const *labels, drover_error *err)
{
    return family(m, DV_COUNTER, name, help, labels, NULL, 0, err);
}

dv_metric *dv_metrics_gauge(dv_metrics *m, const char *name, const char *help,
                            const char *const *labels, drover_error *err)
{
    return family(m, DV_GAUGE, name, help, labels, NULL, 0, err);
}

dv_metric *dv_metrics_histogram(dv_metrics *m, const char *name, const char *help,
                                const char *const *labels, const double *bounds, size_t n_bounds,
                                drover_error *err)
{
    return family(m, DV_HISTOGRAM, name, help, labels, bounds, n_bounds, err);
}

/* ---------------------------------------------------------------- series */

static series *new_series(dv_metric *f, const char *const *values)
{
    series *s;

    if (f->n_s == f->cap_s) {
        size_t cap = f->cap_s ? f->cap_s * 2 : 4;
        series *ns = realloc(f->s, cap * sizeof *ns);
        if (!ns)
            return NULL;
        f->s = ns;
        f->cap_s = cap;
    }
    s = &f->s[f->n_s];
    memset(s, 0, sizeof *s);
    if (!(s->values = calloc(f->n_labels ? f->n_labels : 1, sizeof *s->values)))
        return NULL;
    if (f->type == DV_HISTOGRAM && !(s->buckets = calloc(f->n_bounds + 1, sizeof *s->buckets)))
        goto fail;
    for (size_t i = 0; i < f->n_labels; i++)
        if (!(s->values[i] = strdup(values[i] ? values[i] : "")))
            goto fail;
    f->n_s++;
    return s;
fail:
    free_series(s, f->n_labels);
    return NULL;
}

static series *find_series(dv_metric *f, const char *const *values)
{
    for (size_t i = 0; i < f->n_s; i++) {
        size_t j = 0;
        while (j < f->n_labels && strcmp(f->s[i].values[j], values[j] ? values[j] : "") == 0)
            j++;
        if (j == f->n_labels)
            return &f->s[i];
    }
    return NULL;
}

/* Lock, check, find or make the series; NULL (unlocked, err set) on failure. */
static series *series_for(dv_metric *f, dv_metric_type want, const char *const *values,
                          double v, drover_error *err)
{
    series *s;

    if (!f || !(f->type == want || (want == DV_COUNTER && f->type == DV_GAUGE)) || isnan(v) ||
        (f->n_labels && !values)) {
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "metric %s: %s",
               f ? f->name : "(null)", !f ? "no such metric" : isnan(v) ? "NaN is not a value"
               : f->n_labels && !values ? "label values missing" : "wrong kind of update");
        return NULL;
    }
    pthread_mutex_lock(&f->owner->lock);
    if (!(s = find_series(f, values)) && !(s = new_series(f, values))) {
        pthread_mutex_unlock(&f->owner->lock);
        dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "metric %s: out of memory", f->name);
    }
    return s;
}

int dv_metric_add(dv_metric *f, const char *const *values, double v, drover_error *err)
{
    series *s;

    if (f && f->type == DV_COUNTER && v < 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "metric %s: a counter only goes up (step %g)", f->name, v);
    if (!(s = series_for(f, DV_COUNTER, values, v, err)))
        return -1;
    s->value += v;
    pthread_mutex_unlock(&f->owner->lock);
    return 0;
}

int dv_metric_set(dv_metric *f, const char *const *values, double v, drover_error *err)
{
    series *s = series_for(f, DV_GAUGE, values, v, err);
    if (!s)
        return -1;
    s->value = v;
    pthread_mutex_unlock(&f->owner->lock);
    return 0;
}

int dv_metric_observe(dv_metric *f, const char *const *values, double v, drover_error *err)
{
    series *s = series_for(f, DV_HISTOGRAM, values, v, err);
    size_t b = 0;

    if (!s)
        return -1;
    while (b < f->n_bounds && v > f->bounds[b])
        b++;
    s->buckets[b]++;
    s->sum += v;
    s->count++;
    pthread_mutex_unlock(&f->owner->lock);
    return 0;
}

double dv_metric_value(dv_metric *f, const char *const *values)
{
    series *s;
    double v = 0;

    if (!f || f->type == DV_HISTOGRAM || (f->n_labels && !values))
        return 0;
    pthread_mutex_lock(&f->owner->lock);
    if ((s = find_series(f, values)))
        v = s->value;
    pthread_mutex_unlock(&f->owner->lock);
    return v;
}

/* ---------------------------------------------------------------- rendering */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *np;
        while (b->len + n + 1 > cap)
            cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* HELP text escapes '\' and newline; label values also '"'. */
static void put_escaped(buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(b, "\\\\");
        else if (*s == '\n')
            puts_(b, "\\n");
        else if (quote && *s == '"')
            puts_(b, "\\\"");
        else
            put(b, s, 1);
    }
}

/* The shortest text that reads back as v; Prometheus' spellings of the
 * infinities and NaN. */
static void put_number(buf *b, double v)
{
    char t[40];

    if (isnan(v)) {
        puts_(b, "NaN");
        return;
    }
    if (isinf(v)) {
        puts_(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {     /* integers as integers: le="10", not "1e+01" */
        snprintf(t, sizeof t, "%.0f", v);
        puts_(b, t);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v)
            break;
    }
    puts_(b, t);
}

static void put_labels(buf *b, const dv_metric *f, const series *s, const char *le)
{
    bool any = f->n_labels || le;

    if (any)
        puts_(b, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            puts_(b, ",");
        puts_(b, f->labels[i]);
        puts_(b, "=\"");
        put_escaped(b, s->values[i], true);
        puts_(b, "\"");
    }
    if (le) {
        if (f->n_labels)
            puts_(b, ",");
        puts_(b, "le=\"");
        puts_(b, le);
        puts_(b, "\"");
    }
    if (any)
        puts_(b, "}");
}

static void render_histogram(buf *b, const dv_metric *f, const series *s)
{
    unsigned long long cum = 0;
    char le[40], n[32];

    for (size_t i = 0; i <= f->n_bounds; i++) {
        buf t = { 0 };
        cum += s->buckets[i];
        if (i < f->n_bounds) {
            put_number(&t, f->bounds[i]);
            snprintf(le, sizeof le, "%s", t.failed || !t.p ? "0" : t.p);
            free(t.p);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        puts_(b, f->name);
        puts_(b, "_bucket");
        put_labels(b, f, s, le);
        snprintf(n, sizeof n, " %llu\n", cum);
        puts_(b, n);
    }
    puts_(b, f->name);
    puts_(b, "_sum");
    put_labels(b, f, s, NULL);
    puts_(b, " ");
    put_number(b, s->sum);
    puts_(b, "\n");
    puts_(b, f->name);
    puts_(b, "_count");
    put_labels(b, f, s, NULL);
    snprintf(n, sizeof n, " %llu\n", s->count);
    puts_(b, n);
}

static void render_family(buf *b, const dv_metric *f)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };

    puts_(b, "# HELP ");
    puts_(b, f->name);
    puts_(b, " ");
    put_escaped(b, f->help, false);
    puts_(b, "\n# TYPE ");
    puts_(b, f->name);
    puts_(b, " ");
    puts_(b, types[f->type]);
    puts_(b, "\n");
    for (size_t i = 0; i < f->n_s; i++) {
        if (f->type == DV_HISTOGRAM) {
            render_histogram(b, f, &f->s[i]);
            continue;
        }
        puts_(b, f->name);
        put_labels(b, f, &f->s[i], NULL);
        puts_(b, " ");
        put_number(b, f->s[i].value);
        puts_(b, "\n");
    }
}

int dv_metrics_render(dv_metrics *m, char **out, size_t *len, drover_error *err)
{
    buf b = { 0 };

    *out = NULL;
    puts_(&b, "");                 /* an empty registry is "" */
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_f; i++)
        render_family(&b, m->f[i]);
    pthread_mutex_unlock(&m->lock);
    if (b.failed) {
        free(b.p);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "metrics: out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}
