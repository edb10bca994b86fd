/* config_rules.c - the rules on values of core's own keys (names, libvirt
 * URIs, fence_command) and the host:port splitter every layer uses. */
#include "core/config_int.h"
#include "core/listen.h"
#include "core/model.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define BAD(msg) dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s", (msg))

/* The host part of s: *h, *hlen, and the ':' before the port (or NULL). */
static int split_host(const char *s, const char **h, size_t *hlen, const char **colon,
                      drover_error *err)
{
    *h = s;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return BAD("'[' without ']'");
        *h = s + 1;
        *hlen = (size_t)(close - *h);
        *colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !*colon)
            return BAD("only \":port\" may follow ']'");
        for (size_t i = 0; i < *hlen; i++)
            if (!isxdigit((unsigned char)(*h)[i]) && (*h)[i] != ':' && (*h)[i] != '.')
                return BAD("an IPv6 address in [] holds only hex digits, ':' and '.'");
    } else {
        *colon = strchr(s, ':');
        if (*colon && strchr(*colon + 1, ':'))
            return BAD("more than one ':' (write an IPv6 address as [address]:port)");
        *hlen = *colon ? (size_t)(*colon - s) : strlen(s);
        for (size_t i = 0; i < *hlen; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
                return BAD("the host may hold only letters, digits, '.', '-' and '_'");
    }
    if (*hlen == 0)
        return BAD("the host is empty");
    if (*hlen > 253)
        return BAD("the host is too long");
    return 0;
}

/* The port after ':' (d), 1..65535. */
static int parse_port(const char *d, int *port, drover_error *err)
{
    long p = 0;

    if (!*d)
        return BAD("the port after ':' is missing");
    for (; *d; d++) {
        if (!isdigit((unsigned char)*d) || p > 65535)
            break;
        p = p * 10 + (*d - '0');
    }
    if (*d || p < 1 || p > 65535)
        return BAD("the port must be 1..65535");
    *port = (int)p;
    return 0;
}

int dv_config_hostport(const char *s, int default_port, char *host, size_t host_size,
                       int *port, drover_error *err)
{
    const char *h = s, *colon = NULL;
    size_t hlen = 0;
    int p = default_port;

    if (split_host(s, &h, &hlen, &colon, err) < 0)
        return -1;
    if (colon ? parse_port(colon + 1, &p, err) < 0 : default_port <= 0)
        return colon ? -1 : BAD("the port is missing");
    if (port)
        *port = p;
    if (host) {
        if (hlen >= host_size)
            return BAD("the host is too long");
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    return 0;
}

int dv_config_check_name(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    drover_error why = { 0 };
    if (dv_name_check(config_setting_name(s), v, &why) < 0)
        return fail(x, s, "%s: expected a name of 1..%d bytes without '/', spaces or control "
                    "characters: %s", path, DV_NAME_MAX, why.message);
    return 0;
}

/* A libvirt URI starts with a scheme ("qemu", "qemu+tcp", "test") and ':'. */
int dv_config_check_uri(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];
    size_t i = 0;

    if (!*v)
        return 0;                  /* only migration_uri may be empty: F_NONEMPTY guards the rest */
    if (isalpha((unsigned char)v[0]))
        for (i = 1; isalnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.'; i++)
            ;
    if (i == 0 || v[i] != ':')
        return fail(x, s, "%s: expected a libvirt URI such as \"qemu:///system\", got %s", path,
                    dv_config_quote(q, sizeof q, v));
    for (; v[i]; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
            return fail(x, s, "%s: a libvirt URI must not contain spaces or control characters, got %s",
                        path, dv_config_quote(q, sizeof q, v));
    return 0;
}

/* fence_command is run with execve (no shell, no PATH search). */
/* "HOST=URI": a member name, '=', a libvirt URI; each host once. */
int dv_config_check_host_uri(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96], host[DV_NAME_MAX + 1];
    const char *eq = strchr(v, '=');
    config_setting_t *list = config_setting_parent(s);
    drover_error why = { 0 };
    size_t hl = eq ? (size_t)(eq - v) : 0;

    if (!eq || hl > DV_NAME_MAX || !eq[1])
        return fail(x, s, "%s: expected HOST=URI, e.g. \"compute1=qemu+ssh://root@10.0.0.1/system\", "
                    "got %s", path, dv_config_quote(q, sizeof q, v));
    memcpy(host, v, hl);
    host[hl] = '\0';
    if (dv_name_check("host", host, &why) < 0)
        return fail(x, s, "%s: %s", path, why.message);
    for (int i = 0;; i++) {
        config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *o;
        if (!e || e == s)
            break;
        o = config_setting_get_string(e);
        if (o && strncmp(o, v, hl + 1) == 0)
            return fail(x, s, "%s: host %s is already given a URI in item %d", path, host, i);
    }
    return dv_config_check_uri(x, s, path, eq + 1);
}

int dv_config_check_argv0(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];
    config_setting_t *list = config_setting_parent(s);

    if (config_setting_get_elem(list, 0) == s && v[0] != '/')
        return fail(x, s, "%s: expected the absolute path of the program (it is run without a "
                    "shell or PATH search), got %s", path, dv_config_quote(q, sizeof q, v));
    return 0;
}

/* A listen address: "" (off) or HOST:PORT with a numeric IPv4 or [IPv6]
 * address (dv_listen_parse). */
int dv_config_check_listen(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    drover_error why = { 0 };
    char q[96];

    if (*v && dv_listen_parse(v, NULL, &why) < 0)
        return fail(x, s, "%s: expected \"\" (off) or \"ADDRESS:PORT\" such as \"127.0.0.1:9464\" "
                    "or \"[::1]:9464\", got %s: %s", path, dv_config_quote(q, sizeof q, v),
                    why.message);
    return 0;
}

int dv_config_check_abs_dir(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];

    if (*v && v[0] != '/')
        return fail(x, s, "%s: expected \"\" (off) or an absolute directory path, got %s", path,
                    dv_config_quote(q, sizeof q, v));
    return 0;
}


/* ---------------------------------------------------------------- a section set by a program */

/* What is wrong with string v for key k, into why; 0 when nothing is. */
static int string_why(const dv_config_key *k, const char *v, char *why, size_t n)
{
    char q[96];

    if ((k->flags & DV_CONFIG_NONEMPTY) && !*v) {
        snprintf(why, n, "expected a non-empty string");
        return -1;
    }
    if (k->choices) {
        const char *const *c = k->choices;
        while (*c && strcmp(*c, v) != 0)
            c++;
        if (!*c) {
            snprintf(why, n, "%s is not one of its choices", dv_config_quote(q, sizeof q, v));
            return -1;
        }
    }
    return k->rule ? k->rule(v, why, n) : 0;
}

static int value_why(const dv_config_key *k, const char *p, char *why, size_t n, int *item)
{
    const dv_strlist *l;
    const char *sv;
    double dv;
    int iv;

    *item = -1;
    switch (k->kind) {                 /* read p only as its own type */
    case DV_CONFIG_INT:
        iv = *(const int *)(const void *)p;
        if (iv >= k->min && iv <= k->max)
            return 0;
        snprintf(why, n, "expected an integer in %lld..%lld, got %d", k->min, k->max, iv);
        return -1;
    case DV_CONFIG_REAL:
        dv = *(const double *)(const void *)p;
        if (dv >= k->dmin && dv <= k->dmax && !((k->flags & DV_CONFIG_LOW_OPEN) && dv == k->dmin))
            return 0;
        snprintf(why, n, "expected a number in %s%g, %g], got %g",
                 k->flags & DV_CONFIG_LOW_OPEN ? "(" : "[", k->dmin, k->dmax, dv);
        return -1;
    case DV_CONFIG_STRING:
        sv = *(char *const *)(const void *)p;
        return string_why(k, sv ? sv : "", why, n);
    case DV_CONFIG_LIST:
        l = (const dv_strlist *)(const void *)p;
        if ((k->flags & DV_CONFIG_NONEMPTY) && l->n == 0) {
            snprintf(why, n, "expected at least one item, got an empty list");
            return -1;
        }
        for (size_t i = 0; i < l->n; i++)
            if (string_why(k, l->v[i] ? l->v[i] : "", why, n) < 0) {
                *item = (int)i;
                return -1;
            }
        return 0;
    case DV_CONFIG_BOOL:
    case DV_CONFIG_GROUP:
        return 0;
    }
    return 0;
}

int dv_config_check_section(const dv_config *cfg, const dv_config_section *s, drover_error *err)
{
    const char *base = s->size ? dv_config_section_data(cfg, s->name) : (const char *)cfg;
    const char *blame = NULL;
    char why[700];
    int item;

    if (!base)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "servicegroup.%s: this configuration has no such section", s->name);
    for (const dv_config_key *k = s->keys; k->name; k++) {
        if (value_why(k, base + k->off, why, sizeof why, &item) == 0)
            continue;
        if (item >= 0)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "servicegroup.%s.%s[%d]: %s",
                          s->name, k->name, item, why);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "servicegroup.%s.%s: %s", s->name,
                      k->name, why);
    }
    if (s->check && s->check(cfg, &blame, why, sizeof why) < 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s", why);
    return 0;
}
