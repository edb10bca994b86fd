/* config.c - reading and validating drover.conf (libconfig syntax).
 *
 * The file is read into memory here (so a missing file, a directory or an
 * oversized file get a clear message) and handed to libconfig.  Before that,
 * a small scanner that follows libconfig's lexical rules walks the text:
 *  - libconfig 1.5 converts an integer literal without an L suffix with
 *    atoi(), so 4294967306 silently becomes 10.  The scanner keeps the exact
 *    value of every numeric literal, and each numeric setting is tied to its
 *    literal (both come in document order), so ranges are checked against
 *    what the user wrote.
 *  - @include would make libconfig open other files (relative to the current
 *    directory when parsing text): drover reads one file, so it is refused.
 *  - an unterminated string or comment is reported where it starts, not at
 *    the end of the file.
 * Then every setting is checked against the table of keys (config_keys.c):
 * unknown keys, wrong types, ranges and enumerations are errors
 * "FILE:LINE: section.key: ...".
 * Secret values (passwords) never appear in a message. */
#include "core/config_int.h"
#include "core/model.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef dv_config_key key;

/* ---------------------------------------------------------------- messages */

int dv_config_fail_at(ctx *x, int line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dv_err(x->err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s:%d: %s", x->name, line, msg);
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    }
    return "an unknown type";
}

const char *dv_config_quote(char *buf, size_t size, const char *s)
{
    size_t o = 0;

    buf[o++] = '"';
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
        else
            buf[o++] = (char)c;
    }
    if (*s)
        o += (size_t)snprintf(buf + o, size - o, "...");
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---------------------------------------------------------------- walking the tree */

static void *slot(ctx *x, const key *k)
{
    return (x->base ? x->base : (char *)x->cfg) + k->off;
}

static int wrong_type(ctx *x, config_setting_t *s, const char *path, const char *want)
{
    return fail(x, s, "%s: expected %s, got %s", path, want, type_name(config_setting_type(s)));
}

static int nomem(ctx *x)
{
    return dv_err(x->err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", x->name);
}

/* The value the user wrote for an integer setting (exact, see the scanner). */
static int int_value(ctx *x, config_setting_t *s, const char *path, const char *want,
                     long long *v, char *shown, size_t shown_size)
{
    const numtok *t = config_setting_get_hook(s);

    *v = config_setting_get_int64(s);
    if (t) {
        snprintf(shown, shown_size, "%.*s", t->len, t->text);
        if (!t->exact)
            return fail(x, s, "%s: expected %s, got %s, which is too large", path, want, shown);
        *v = t->value;
    } else {
        snprintf(shown, shown_size, "%lld", *v);
    }
    return 0;
}

static int set_int(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char want[96], shown[80];
    long long v;

    snprintf(want, sizeof want, "an integer in %lld..%lld", k->min, k->max);
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return wrong_type(x, s, path, want);
    if (int_value(x, s, path, want, &v, shown, sizeof shown) < 0)
        return -1;
    if (v < k->min || v > k->max)
        return fail(x, s, "%s: expected %s, got %s", path, want, shown);
    *(int *)slot(x, k) = (int)v;
    return 0;
}

static int set_real(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char want[128], shown[80];
    int type = config_setting_type(s);
    long long iv;
    double v;

    snprintf(want, sizeof want, "a number in %s%g, %g]", k->flags & DV_CONFIG_LOW_OPEN ? "(" : "[",
             k->dmin, k->dmax);
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        if (int_value(x, s, path, want, &iv, shown, sizeof shown) < 0)
            return -1;
        v = (double)iv;
    } else if (type == CONFIG_TYPE_FLOAT) {
        const numtok *t = config_setting_get_hook(s);
        v = config_setting_get_float(s);
        if (t)
            snprintf(shown, sizeof shown, "%.*s", t->len, t->text);
        else
            snprintf(shown, sizeof shown, "%g", v);
    } else {
        return wrong_type(x, s, path, want);
    }
    if (!isfinite(v) || v < k->dmin || v > k->dmax || (k->flags & DV_CONFIG_LOW_OPEN && v == k->dmin))
        return fail(x, s, "%s: expected %s, got %s", path, want, shown);
    *(double *)slot(x, k) = v;
    return 0;
}

static int set_bool(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return wrong_type(x, s, path, "a boolean (true or false)");
    *(bool *)slot(x, k) = config_setting_get_bool(s) != 0;
    return 0;
}

/* The set a value of k must be in: its own, or the names a registry gave. */
static const char *const *choices_of(const key *k)
{
    return k->choices ? k->choices : k->names ? *k->names : NULL;
}

static int choose(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    const char *const *set = choices_of(k);
    char list[256], q[96];
    size_t o = 0;

    for (const char *const *c = set; *c; c++)
        if (strcmp(*c, v) == 0)
            return 0;
    list[0] = '\0';
    for (const char *const *c = set; *c && o < sizeof list; c++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", o ? ", " : "", *c);
    return fail(x, s, "%s: expected one of %s, got %s", path, list, dv_config_quote(q, sizeof q, v));
}

/* A string value: the rules of k, then its check function. */
static int check_string(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    if ((k->flags & DV_CONFIG_NONEMPTY) && !*v)
        return fail(x, s, "%s: expected a non-empty string", path);
    if (choices_of(k) && choose(x, k, s, path, v) < 0)
        return -1;
    if (k->check && k->check(x, s, path, v) < 0)
        return -1;
    if (k->rule) {
        char why[700];
        if (k->rule(v, why, sizeof why) < 0)
            return fail(x, s, "%s: %s", path, why);
    }
    return 0;
}

static int set_string(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    char **dst = slot(x, k);
    const char *v;
    char *copy;

    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return wrong_type(x, s, path, "a string");
    v = config_setting_get_string(s);
    if (check_string(x, k, s, path, v) < 0)
        return -1;
    if (!(copy = strdup(v)))
        return nomem(x);
    free(*dst);
    *dst = copy;
    return 0;
}

static int set_list(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    int type = config_setting_type(s), n;
    dv_strlist l = { 0 }, *dst = slot(x, k);
    char item_path[192], q[96];

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return wrong_type(x, s, path, "an array of strings [ \"...\", ... ]");
    n = config_setting_length(s);
    if ((k->flags & DV_CONFIG_NONEMPTY) && n == 0)
        return fail(x, s, "%s: expected at least one item, got an empty list", path);
    if (!(l.v = calloc(n ? (size_t)n : 1, sizeof *l.v)))
        return nomem(x);
    for (int i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        snprintf(item_path, sizeof item_path, "%.160s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            wrong_type(x, e, item_path, "a string");
            goto bad;
        }
        v = config_setting_get_string(e);
        if (check_string(x, k, e, item_path, v) < 0)
            goto bad;
        for (size_t j = 0; (k->flags & DV_CONFIG_UNIQUE) && j < l.n; j++)
            if (strcmp(l.v[j], v) == 0) {
                fail(x, e, "%s: %s is already listed as %s[%zu]; each item may appear once",
                     item_path, dv_config_quote(q, sizeof q, v), path, j);
                goto bad;
            }
        if (!(l.v[l.n] = strdup(v))) {
            nomem(x);
            goto bad;
        }
        l.n++;
    }
    dv_strlist_free(dst);
    *dst = l;
    return 0;
bad:
    dv_strlist_free(&l);
    return -1;
}

static int walk_group(ctx *x, config_setting_t *g, const key *table, const char *prefix);

static int unknown_key(ctx *x, config_setting_t *s, const key *table, const char *prefix,
                       const char *path)
{
    char names[512];
    size_t o = 0;

    names[0] = '\0';
    for (const key *k = table; k->name && o < sizeof names; k++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", k->name);
    if (!*prefix)
        return fail(x, s, "%s: unknown key; the valid top-level keys are: %s", path, names);
    return fail(x, s, "%s: unknown key; the valid keys in %s are: %s", path, prefix, names);
}

static int set_value(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    switch (k->kind) {
    case DV_CONFIG_GROUP: {
        char *outer = x->base;
        int rc;
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            return wrong_type(x, s, path, "a group { ... }");
        if (k->section && k->section->size)
            x->base = dv_config_section_data(x->cfg, k->section->name);
        rc = walk_group(x, s, k->members, path);
        x->base = outer;
        return rc;
    }
    case DV_CONFIG_STRING: return set_string(x, k, s, path);
    case DV_CONFIG_BOOL: return set_bool(x, k, s, path);
    case DV_CONFIG_INT: return set_int(x, k, s, path);
    case DV_CONFIG_REAL: return set_real(x, k, s, path);
    case DV_CONFIG_LIST: return set_list(x, k, s, path);
    }
    return dv_err(x->err, DROVER_ERR_INTERNAL, DROVER_FROM_CONFIG, "bad key table");
}

/* The settings of group g in file order, so the first error reported is
 * the first one in the file. */
static int walk_group(ctx *x, config_setting_t *g, const key *table, const char *prefix)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[160];
        const key *k;

        snprintf(path, sizeof path, "%s%s%.64s", prefix, *prefix ? "." : "", name ? name : "?");
        for (k = table; k->name && (!name || strcmp(k->name, name) != 0); k++)
            ;
        if (!k->name)
            return unknown_key(x, s, table, prefix, path);
        if (set_value(x, k, s, path) < 0)
            return -1;
    }
    return 0;
}

/* Rules that tie keys together, checked once every key is valid. */
static int cross_checks(ctx *x, config_t *c)
{
    const dv_config *cfg = x->cfg;
    config_setting_t *s;

    if (cfg->servicegroup.service_down_time <= cfg->servicegroup.report_interval) {
        if (!(s = config_lookup(c, "servicegroup.service_down_time")))
            s = config_lookup(c, "servicegroup.report_interval");
        return fail(x, s, "servicegroup.service_down_time (%d) must be greater than "
                    "servicegroup.report_interval (%d): a host would look down between two heartbeats",
                    cfg->servicegroup.service_down_time, cfg->servicegroup.report_interval);
    }
    if (strcmp(cfg->evacuator.mode, "rebuild") == 0 && cfg->evacuator.fence_command.n == 0) {
        if (!(s = config_lookup(c, "evacuator.mode")))
            s = config_lookup(c, "evacuator.fence_command");
        return fail(x, s, "evacuator.mode \"rebuild\" needs evacuator.fence_command: a host is "
                    "rebuilt elsewhere only after the fence command confirmed it is off");
    }
    if (cfg->migration.tunnelled && !cfg->migration.peer2peer) {
        s = config_lookup(c, "migration.tunnelled");
        return fail(x, s, "migration.tunnelled needs migration.peer2peer = true (libvirt tunnels "
                    "only peer-to-peer migrations)");
    }
    if (cfg->migration.tunnelled && cfg->migration.tls) {
        if (!(s = config_lookup(c, "migration.tls")))
            s = config_lookup(c, "migration.tunnelled");
        return fail(x, s, "migration.tls and migration.tunnelled exclude each other: choose "
                    "QEMU-native TLS or a tunnel through libvirtd");
    }
    return 0;
}

/* The rules between the keys of each added section. */
static int section_checks(ctx *x, config_t *c)
{
    const dv_config_section *sec;

    for (size_t i = 0; (sec = dv_config_section_at(i)); i++) {
        const char *blame = NULL;
        char why[700], path[160];
        if (!sec->check || sec->check(x->cfg, &blame, why, sizeof why) == 0)
            continue;
        snprintf(path, sizeof path, "servicegroup.%s.%s", sec->name, blame ? blame : "");
        return fail(x, config_lookup(c, path), "%s", why);
    }
    return 0;
}

/* ---------------------------------------------------------------- loading */

int dv_config_load_text(const char *text, size_t len, const char *name, dv_config **out,
                     drover_error *err)
{
    ctx x = { .name = name, .err = err };
    scan sc = { 0 };
    config_t c;
    const char *why = NULL;
    size_t next = 0;
    int line, rc = -1;

    if (!(x.cfg = dv_config_new_defaults()))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", name);
    if (dv_config_set_string(&x.cfg->path, name, err) < 0) {
        dv_config_free(x.cfg);
        return -1;
    }
    config_init(&c);
    line = dv_config_scan_text(text, len, &sc, &why);
    if (line < 0) {
        nomem(&x);
    } else if (line > 0) {
        dv_config_fail_at(&x, line, "%s", why);
    } else if (config_read_string(&c, text) != CONFIG_TRUE) {
        /* An unterminated string runs to the end of the file, where libconfig
         * notices: the line where it starts helps more. */
        if (sc.open_line && sc.open_line <= config_error_line(&c))
            dv_config_fail_at(&x, sc.open_line, "%s", sc.open_what);
        else
            dv_config_fail_at(&x, config_error_line(&c), "%s", config_error_text(&c));
    } else if (sc.open_line) {
        dv_config_fail_at(&x, sc.open_line, "%s", sc.open_what);
    } else if (sc.depth_line) {
        dv_config_fail_at(&x, sc.depth_line, "groups, arrays and lists nest deeper than %d levels", MAX_DEPTH);
    } else {
        /* If the two sequences ever disagree, ranges are still checked on
         * libconfig's values; only the overflow detection is lost. */
        if (dv_config_tie_numbers(config_root_setting(&c), &sc, &next, false) && next == sc.n) {
            next = 0;
            dv_config_tie_numbers(config_root_setting(&c), &sc, &next, true);
        } else {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
            abort();               /* fuzzing: the scanner must agree with libconfig */
#endif
        }
        if (walk_group(&x, config_root_setting(&c), dv_config_top_keys, "") == 0 && cross_checks(&x, &c) == 0 &&
            section_checks(&x, &c) == 0)
            rc = 0;
    }
    config_destroy(&c);
    free(sc.tok);
    if (rc < 0) {
        dv_config_free(x.cfg);
        return -1;
    }
    *out = x.cfg;
    return 0;
}

int dv_config_load_string(const char *text, const char *name, dv_config **out, drover_error *err)
{
    *out = NULL;
    if (!name || !*name)
        name = "<string>";
    if (!text)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s: no configuration text", name);
    return dv_config_load_text(text, strlen(text), name, out, err);
}

