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
 * Then every setting is checked against a table of keys: unknown keys, wrong
 * types, ranges and enumerations are errors "FILE:LINE: section.key: ...".
 * Secret values (passwords) never appear in a message. */
#include "core/config.h"
#include "core/listen.h"
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

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_LINES 65535            /* libconfig keeps a setting's line in 16 bits */
#define MAX_DEPTH 16               /* drover.conf nests 3 deep; anything past this is junk */

/* ---------------------------------------------------------------- scanner */

typedef struct numtok {
    int type;                      /* CONFIG_TYPE_INT, _INT64 or _FLOAT, as libconfig types it */
    bool exact;                    /* value holds the literal's value (no overflow) */
    long long value;
    const char *text;              /* the literal as written (points into the text) */
    int len;
} numtok;

typedef struct scan {
    numtok *tok;
    size_t n, cap;
    int depth_line;                /* first line nesting deeper than MAX_DEPTH, 0 if none */
    int open_line;                 /* line where an unterminated string/comment starts */
    const char *open_what;
} scan;

static int push_tok(scan *sc, int type, bool exact, long long value, const char *text, size_t len)
{
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        numtok *t = realloc(sc->tok, cap * sizeof *t);
        if (!t)
            return -1;
        sc->tok = t;
        sc->cap = cap;
    }
    sc->tok[sc->n++] = (numtok){ type, exact, value, text, len > 64 ? 64 : (int)len };
    return 0;
}

/* Parse the literal [p, p+len) in base 10 or 16; exact is false on overflow. */
static long long literal_value(const char *p, size_t len, int base, bool *exact)
{
    char buf[72];
    long long v;
    unsigned long long u;
    char *end;

    *exact = false;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    if (base == 16) {
        u = strtoull(buf, &end, 16);
        if (errno || u > (unsigned long long)LLONG_MAX)
            return 0;
        v = (long long)u;
    } else {
        v = strtoll(buf, &end, 10);
        if (errno)
            return 0;
    }
    *exact = true;
    return v;
}

/* A numeric literal at t[*i] (one of [-+0-9.]); follows libconfig's flex
 * rules for integer, integer64, hex, hex64 and float (longest match). */
static int scan_number(const char *t, size_t len, size_t *i, scan *sc)
{
    size_t s = *i, j = s, k, digits;
    bool is_float = false, exact;
    long long v;
    int type;

#define AT(x) ((x) < len ? t[(x)] : '\0')
    if (AT(s) == '0' && (AT(s + 1) == 'x' || AT(s + 1) == 'X') && isxdigit((unsigned char)AT(s + 2))) {
        for (k = s + 2; isxdigit((unsigned char)AT(k)); k++)
            ;
        v = literal_value(t + s, k - s, 16, &exact);
        type = CONFIG_TYPE_INT;
        if (AT(k) == 'L') {
            k += AT(k + 1) == 'L' ? 2 : 1;
            type = CONFIG_TYPE_INT64;
        } else if (exact && v > INT_MAX) {
            exact = false;         /* libconfig keeps only the low 32 bits */
        }
        *i = k;
        return push_tok(sc, type, exact, v, t + s, k - s);
    }
    if (AT(j) == '-' || AT(j) == '+')
        j++;
    for (k = j; isdigit((unsigned char)AT(k)); k++)
        ;
    digits = k - j;
    if (AT(k) == '.') {
        is_float = true;
        for (k++; isdigit((unsigned char)AT(k)); k++)
            ;
    }
    if ((is_float || digits) && (AT(k) == 'e' || AT(k) == 'E')) {
        size_t m = k + 1;
        if (AT(m) == '-' || AT(m) == '+')
            m++;
        if (isdigit((unsigned char)AT(m))) {
            for (; isdigit((unsigned char)AT(m)); m++)
                ;
            k = m;
            is_float = true;
        }
    }
    if (is_float) {
        *i = k;
        return push_tok(sc, CONFIG_TYPE_FLOAT, false, 0, t + s, k - s);
    }
    if (!digits) {                 /* a lone sign: libconfig calls it garbage */
        *i = s + 1;
        return 0;
    }
    v = literal_value(t + s, k - s, 10, &exact);
    type = CONFIG_TYPE_INT;
    if (AT(k) == 'L') {
        k += AT(k + 1) == 'L' ? 2 : 1;
        type = CONFIG_TYPE_INT64;
    } else if (exact && (v < INT_MIN || v > INT_MAX)) {
        exact = false;             /* libconfig 1.5 truncates it to 32 bits */
    }
    *i = k;
    return push_tok(sc, type, exact, v, t + s, k - s);
#undef AT
}

static bool is_include(const char *t, size_t len, size_t i)
{
    static const char word[] = "@include";
    size_t n = sizeof word - 1;
    if (len - i < n || memcmp(t + i, word, n) != 0)
        return false;
    return i + n < len && (t[i + n] == ' ' || t[i + n] == '\t' || t[i + n] == '"');
}

/* Walk the text as libconfig's scanner would.  Returns 0, or the (1-based)
 * line of an @include with *why set, or -1 on ENOMEM. */
static int scan_text(const char *t, size_t len, scan *sc, const char **why)
{
    int line = 1, depth = 0;
    size_t i = 0;

    while (i < len) {
        char c = t[i], d = i + 1 < len ? t[i + 1] : '\0';

        if (c == '\n') {
            line++;
            i++;
        } else if (c == '"') {
            int start = line;
            for (i++; i < len && t[i] != '"'; i++) {
                if (t[i] == '\\' && i + 1 < len && (t[i + 1] == '"' || t[i + 1] == '\\'))
                    i++;
                else if (t[i] == '\n')
                    line++;
            }
            if (i >= len && !sc->open_line) {
                sc->open_line = start;
                sc->open_what = "unterminated string: the closing '\"' is missing";
            }
            i++;
        } else if (c == '/' && d == '*') {
            int start = line;
            for (i += 2; i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/'); i++)
                if (t[i] == '\n')
                    line++;
            if (i >= len && !sc->open_line) {
                sc->open_line = start;
                sc->open_what = "unterminated comment: the closing '*/' is missing";
            }
            i += 2;
        } else if (c == '#' || (c == '/' && d == '/')) {
            while (i < len && t[i] != '\n')
                i++;
        } else if (c == '@' && is_include(t, len, i)) {
            *why = "@include is not supported: drover reads its configuration from one file";
            return line;
        } else if (isalpha((unsigned char)c) || c == '*') {
            while (i < len && (isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_' ||
                               t[i] == '*'))
                i++;
        } else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
            if (scan_number(t, len, &i, sc) < 0)
                return -1;
        } else {
            if ((c == '{' || c == '[' || c == '(') && ++depth > MAX_DEPTH && !sc->depth_line)
                sc->depth_line = line;
            if (c == '}' || c == ']' || c == ')')
                depth--;
            i++;
        }
        if (line > MAX_LINES) {
            *why = "the file has too many lines (the limit is 65535)";
            return line;
        }
    }
    return 0;
}

static bool is_number_type(int type)
{
    return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
}

/* Pair each numeric setting with its literal, in document order.  With
 * attach false only check that the two sequences agree. */
static bool tie_numbers(config_setting_t *s, scan *sc, size_t *next, bool attach)
{
    int type = config_setting_type(s);

    if (config_setting_is_aggregate(s)) {
        for (int i = 0; i < config_setting_length(s); i++)
            if (!tie_numbers(config_setting_get_elem(s, (unsigned)i), sc, next, attach))
                return false;
        return true;
    }
    if (!is_number_type(type))
        return true;
    if (*next >= sc->n || sc->tok[*next].type != type)
        return false;
    if (attach)
        config_setting_set_hook(s, &sc->tok[*next]);
    ++*next;
    return true;
}

/* ---------------------------------------------------------------- messages */

typedef struct ctx {
    const char *name;              /* the file name in messages */
    dv_config *cfg;
    drover_error *err;
} ctx;

static int fail_at(ctx *x, int line, const char *fmt, ...) DV_PRINTF(3, 4);
static int fail_at(ctx *x, int line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dv_err(x->err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "%s:%d: %s", x->name, line, msg);
}

/* The line of a setting (0 if there is none, which the checks avoid). */
static int line_of(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

#define fail(x, s, ...) fail_at((x), line_of(s), __VA_ARGS__)

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

/* A string for a message: quoted, control bytes escaped, long values cut. */
static const char *quote(char *buf, size_t size, const char *s)
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

/* ---------------------------------------------------------------- key table */

typedef enum kind { K_GROUP, K_STRING, K_BOOL, K_INT, K_REAL, K_LIST } kind;

#define F_SECRET 0x1               /* never show the value */
#define F_NONEMPTY 0x2             /* strings: "" is an error; lists: at least one item, none "" */
#define F_LOW_OPEN 0x4             /* reals: the minimum itself is excluded */
#define F_UNIQUE 0x8               /* lists: no item twice */

typedef struct key key;
typedef int (*check_fn)(ctx *x, config_setting_t *s, const char *path, const char *value);

struct key {
    const char *name;
    kind kind;
    size_t off;                    /* where the value lives in dv_config */
    unsigned flags;
    long long min, max;            /* K_INT */
    double dmin, dmax;             /* K_REAL */
    const char *const *choices;    /* K_STRING / K_LIST items: NULL-terminated set */
    check_fn check;                /* K_STRING / K_LIST items: more rules */
    const key *members;            /* K_GROUP */
};

#define AT(field) offsetof(dv_config, field)
#define GROUP(n, m) { .name = n, .kind = K_GROUP, .members = m }
#define STR(n, f, fl, ch, ck) { .name = n, .kind = K_STRING, .off = AT(f), .flags = fl, .choices = ch, .check = ck }
#define BOOL(n, f) { .name = n, .kind = K_BOOL, .off = AT(f) }
#define INT(n, f, lo, hi) { .name = n, .kind = K_INT, .off = AT(f), .min = lo, .max = hi }
#define REAL(n, f, fl, lo, hi) { .name = n, .kind = K_REAL, .off = AT(f), .flags = fl, .dmin = lo, .dmax = hi }
#define LIST(n, f, fl, ch, ck) { .name = n, .kind = K_LIST, .off = AT(f), .flags = fl, .choices = ch, .check = ck }
#define END { .name = NULL }

static int check_hostport(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_zk_hosts(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_zk_prefix(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_zk_auth(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_name(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_uri(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_argv0(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_host_uri(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_listen(ctx *x, config_setting_t *s, const char *path, const char *v);
static int check_abs_dir(ctx *x, config_setting_t *s, const char *path, const char *v);

static const char *const drivers[] = { "db", "mc", "zk", NULL };
static const char *const filters[] = { "compute", "different_host", "hypervisor_type",
                                       "hypervisor_version", "arch", "ram", NULL };
static const char *const weighers[] = { "ram", NULL };
static const char *const timeout_actions[] = { "abort", "force_complete", NULL };
static const char *const evac_modes[] = { "live", "rebuild", NULL };
static const char *const store_backends[] = { "auto", "sqlite", "zk", NULL };
static const char *const log_levels[] = { "debug", "info", "warning", "error", NULL };
static const char *const log_targets[] = { "stderr", "syslog", NULL };

static const key db_keys[] = {
    STR("path", servicegroup.db.path, F_NONEMPTY, NULL, NULL),
    INT("busy_timeout_ms", servicegroup.db.busy_timeout_ms, 1, 3600000),
    END,
};

static const key mc_keys[] = {
    LIST("servers", servicegroup.mc.servers, F_NONEMPTY | F_UNIQUE, NULL, check_hostport),
    STR("username", servicegroup.mc.username, 0, NULL, NULL),
    STR("password", servicegroup.mc.password, F_SECRET, NULL, NULL),
    INT("poll_timeout_ms", servicegroup.mc.poll_timeout_ms, 1, 600000),
    INT("retry_timeout_s", servicegroup.mc.retry_timeout_s, 1, 3600),
    END,
};

static const key zk_keys[] = {
    STR("hosts", servicegroup.zk.hosts, F_NONEMPTY, NULL, check_zk_hosts),
    INT("session_timeout_ms", servicegroup.zk.session_timeout_ms, 100, 600000),
    STR("prefix", servicegroup.zk.prefix, F_NONEMPTY, NULL, check_zk_prefix),
    STR("auth", servicegroup.zk.auth, F_SECRET, NULL, check_zk_auth),
    END,
};

static const key servicegroup_keys[] = {
    STR("driver", servicegroup.driver, 0, drivers, NULL),
    INT("report_interval", servicegroup.report_interval, 1, 3600),
    INT("service_down_time", servicegroup.service_down_time, 2, 86400),
    GROUP("db", db_keys),
    GROUP("mc", mc_keys),
    GROUP("zk", zk_keys),
    END,
};

static const key agent_keys[] = {
    STR("host", agent.host, 0, NULL, check_name),
    STR("group", agent.group, 0, NULL, check_name),
    STR("libvirt_uri", agent.libvirt_uri, F_NONEMPTY, NULL, check_uri),
    STR("migration_uri", agent.migration_uri, 0, NULL, check_uri),
    INT("libvirt_timeout_ms", agent.libvirt_timeout_ms, 1, 3600000),
    STR("metrics_listen", agent.metrics_listen, 0, NULL, check_listen),
    STR("definitions_dir", agent.definitions_dir, 0, NULL, check_abs_dir),
    END,
};

static const key controller_keys[] = {
    STR("libvirt_uri", controller.libvirt_uri, 0, NULL, check_uri),
    LIST("libvirt_uris", controller.libvirt_uris, 0, NULL, check_host_uri),
    INT("libvirt_timeout_ms", controller.libvirt_timeout_ms, 1, 3600000),
    STR("metrics_listen", controller.metrics_listen, 0, NULL, check_listen),
    END,
};

static const key scheduler_keys[] = {
    LIST("filters", scheduler.filters, F_UNIQUE, filters, NULL),
    LIST("weighers", scheduler.weighers, F_UNIQUE, weighers, NULL),
    REAL("ram_weight_multiplier", scheduler.ram_weight_multiplier, 0, -1000000.0, 1000000.0),
    REAL("ram_allocation_ratio", scheduler.ram_allocation_ratio, F_LOW_OPEN, 0.0, 1000.0),
    INT("reserved_host_memory_mb", scheduler.reserved_host_memory_mb, 0, 16777216),
    INT("host_subset_size", scheduler.host_subset_size, 1, 1000),
    INT("max_retries", scheduler.max_retries, -1, 1000),
    INT("claim_ttl_s", scheduler.claim_ttl_s, 1, 86400),
    END,
};

static const key migration_keys[] = {
    BOOL("peer2peer", migration.peer2peer),
    BOOL("tunnelled", migration.tunnelled),
    BOOL("tls", migration.tls),
    BOOL("permit_post_copy", migration.permit_post_copy),
    BOOL("permit_auto_converge", migration.permit_auto_converge),
    INT("bandwidth_mib", migration.bandwidth_mib, 0, 1048576),
    INT("downtime_ms", migration.downtime_ms, 100, 600000),
    INT("downtime_steps", migration.downtime_steps, 3, 1000),
    INT("downtime_delay_s", migration.downtime_delay_s, 3, 3600),
    INT("completion_timeout_s", migration.completion_timeout_s, 0, 86400),
    STR("timeout_action", migration.timeout_action, 0, timeout_actions, NULL),
    INT("max_concurrent", migration.max_concurrent, 1, 1000),
    INT("poll_interval_ms", migration.poll_interval_ms, 10, 60000),
    /* a convergence policy's name: to be checked at load against migrator/policy.c's registry */
    STR("policy", migration.policy, F_NONEMPTY, NULL, NULL),
    STR("inbound_addr", migration.inbound_addr, 0, NULL, NULL),
    END,
};

static const key evacuator_keys[] = {
    BOOL("enabled", evacuator.enabled),
    INT("interval", evacuator.interval, 1, 3600),
    INT("grace", evacuator.grace, 0, 86400),
    REAL("max_down_fraction", evacuator.max_down_fraction, 0, 0.0, 1.0),
    INT("max_per_minute", evacuator.max_per_minute, 1, 1000),
    STR("mode", evacuator.mode, 0, evac_modes, NULL),
    LIST("fence_command", evacuator.fence_command, 0, NULL, check_argv0),
    INT("fence_timeout_s", evacuator.fence_timeout_s, 1, 3600),
    LIST("alert_command", evacuator.alert_command, 0, NULL, check_argv0),
    INT("flap_window", evacuator.flap_window, 0, 86400),
    INT("flap_max_grace", evacuator.flap_max_grace, 0, 86400),
    END,
};

static const key state_keys[] = {
    STR("backend", state.backend, 0, store_backends, NULL),
    STR("path", state.path, F_NONEMPTY, NULL, NULL),
    INT("busy_timeout_ms", state.busy_timeout_ms, 1, 3600000),
    END,
};

static const key log_keys[] = {
    STR("level", log.level, 0, log_levels, NULL),
    STR("target", log.target, 0, log_targets, NULL),
    END,
};

static const key top_keys[] = {
    GROUP("servicegroup", servicegroup_keys),
    GROUP("agent", agent_keys),
    GROUP("controller", controller_keys),
    GROUP("scheduler", scheduler_keys),
    GROUP("migration", migration_keys),
    GROUP("evacuator", evacuator_keys),
    GROUP("state", state_keys),
    GROUP("log", log_keys),
    END,
};

/* ---------------------------------------------------------------- value checks */

int dv_config_hostport(const char *s, int default_port, char *host, size_t host_size,
                       int *port, drover_error *err)
{
    const char *h = s, *colon;
    size_t hlen;
    bool bracket = *s == '[';

    if (bracket) {
        const char *close = strchr(s, ']');
        if (!close)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "'[' without ']'");
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "only \":port\" may follow ']'");
        for (size_t i = 0; i < hlen; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                              "an IPv6 address in [] holds only hex digits, ':' and '.'");
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "more than one ':' (write an IPv6 address as [address]:port)");
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        for (size_t i = 0; i < hlen; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
                return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                              "the host may hold only letters, digits, '.', '-' and '_'");
    }
    if (hlen == 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the host is empty");
    if (hlen > 253)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the host is too long");
    if (colon) {
        long p = 0;
        const char *d = colon + 1;
        if (!*d)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the port after ':' is missing");
        for (; *d; d++) {
            if (!isdigit((unsigned char)*d) || p > 65535)
                break;
            p = p * 10 + (*d - '0');
        }
        if (*d || p < 1 || p > 65535)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the port must be 1..65535");
        if (port)
            *port = (int)p;
    } else if (default_port > 0) {
        if (port)
            *port = default_port;
    } else {
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the port is missing");
    }
    if (host) {
        if (hlen >= host_size)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the host is too long");
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    return 0;
}

static int check_hostport(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    drover_error why = { 0 };
    char q[96];
    if (dv_config_hostport(v, 11211, NULL, 0, NULL, &why) < 0)
        return fail(x, s, "%s: expected \"host:port\" or \"host\" (port 11211), got %s: %s", path,
                    quote(q, sizeof q, v), why.message);
    return 0;
}

static int check_zk_hosts(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char item[300], q[96];
    const char *p = v;

    for (int n = 1;; n++) {
        size_t len = strcspn(p, ",");
        drover_error why = { 0 };
        if (len >= sizeof item) {
            why.code = DROVER_ERR_CONFIG;
            snprintf(why.message, sizeof why.message, "it is too long");
        } else {
            memcpy(item, p, len);
            item[len] = '\0';
            dv_config_hostport(item, 0, NULL, 0, NULL, &why);
        }
        if (why.code != DROVER_OK)
            return fail(x, s, "%s: expected \"host:port[,host:port...]\", got %s: server %d: %s",
                        path, quote(q, sizeof q, v), n, why.message);
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

static int check_zk_prefix(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];
    const char *why = NULL;
    size_t len = strlen(v);

    if (v[0] != '/')
        why = "it must start with '/'";
    else if (len > 1 && v[len - 1] == '/')
        why = "it must not end with '/' (unless it is \"/\")";
    else if (strstr(v, "//"))
        why = "it must not contain an empty node name (\"//\")";
    else if (strstr(v, "/./") || strstr(v, "/../") || (len >= 2 && strcmp(v + len - 2, "/.") == 0) ||
             (len >= 3 && strcmp(v + len - 3, "/..") == 0))
        why = "ZooKeeper forbids \".\" and \"..\" as node names";
    else
        for (size_t i = 0; i < len && !why; i++)
            if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                why = "it must not contain control characters";
    if (why)
        return fail(x, s, "%s: expected a ZooKeeper path such as \"/drover\", got %s: %s", path,
                    quote(q, sizeof q, v), why);
    return 0;
}

static int check_zk_auth(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    const char *colon = strchr(v, ':');
    if (*v && (!colon || colon == v || !colon[1]))
        return fail(x, s, "%s: expected \"\" (no authentication) or \"user:password\" with a non-empty "
                    "user and password (value not shown)", path);
    return 0;
}

static int check_name(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    drover_error why = { 0 };
    if (dv_name_check(config_setting_name(s), v, &why) < 0)
        return fail(x, s, "%s: expected a name of 1..%d bytes without '/', spaces or control "
                    "characters: %s", path, DV_NAME_MAX, why.message);
    return 0;
}

/* A libvirt URI starts with a scheme ("qemu", "qemu+tcp", "test") and ':'. */
static int check_uri(ctx *x, config_setting_t *s, const char *path, const char *v)
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
                    quote(q, sizeof q, v));
    for (; v[i]; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
            return fail(x, s, "%s: a libvirt URI must not contain spaces or control characters, got %s",
                        path, quote(q, sizeof q, v));
    return 0;
}

/* fence_command is run with execve (no shell, no PATH search). */
/* "HOST=URI": a member name, '=', a libvirt URI; each host once. */
static int check_host_uri(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96], host[DV_NAME_MAX + 1];
    const char *eq = strchr(v, '=');
    config_setting_t *list = config_setting_parent(s);
    drover_error why = { 0 };
    size_t hl = eq ? (size_t)(eq - v) : 0;

    if (!eq || hl > DV_NAME_MAX || !eq[1])
        return fail(x, s, "%s: expected HOST=URI, e.g. \"compute1=qemu+ssh://root@10.0.0.1/system\", "
                    "got %s", path, quote(q, sizeof q, v));
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
    return check_uri(x, s, path, eq + 1);
}

static int check_argv0(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];
    config_setting_t *list = config_setting_parent(s);

    if (config_setting_get_elem(list, 0) == s && v[0] != '/')
        return fail(x, s, "%s: expected the absolute path of the program (it is run without a "
                    "shell or PATH search), got %s", path, quote(q, sizeof q, v));
    return 0;
}

/* A listen address: "" (off) or HOST:PORT with a numeric IPv4 or [IPv6]
 * address (dv_listen_parse). */
static int check_listen(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    drover_error why = { 0 };
    char q[96];

    if (*v && dv_listen_parse(v, NULL, &why) < 0)
        return fail(x, s, "%s: expected \"\" (off) or \"ADDRESS:PORT\" such as \"127.0.0.1:9464\" "
                    "or \"[::1]:9464\", got %s: %s", path, quote(q, sizeof q, v), why.message);
    return 0;
}

static int check_abs_dir(ctx *x, config_setting_t *s, const char *path, const char *v)
{
    char q[96];

    if (*v && v[0] != '/')
        return fail(x, s, "%s: expected \"\" (off) or an absolute directory path, got %s", path,
                    quote(q, sizeof q, v));
    return 0;
}

/* ---------------------------------------------------------------- walking the tree */

static void *slot(ctx *x, const key *k)
{
    return (char *)x->cfg + k->off;
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

    snprintf(want, sizeof want, "a number in %s%g, %g]", k->flags & F_LOW_OPEN ? "(" : "[",
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
    if (!isfinite(v) || v < k->dmin || v > k->dmax || (k->flags & F_LOW_OPEN && v == k->dmin))
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

static int choose(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    char list[256], q[96];
    size_t o = 0;

    for (const char *const *c = k->choices; *c; c++)
        if (strcmp(*c, v) == 0)
            return 0;
    list[0] = '\0';
    for (const char *const *c = k->choices; *c && o < sizeof list; c++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", o ? ", " : "", *c);
    return fail(x, s, "%s: expected one of %s, got %s", path, list, quote(q, sizeof q, v));
}

/* A string value: the rules of k, then its check function. */
static int check_string(ctx *x, const key *k, config_setting_t *s, const char *path, const char *v)
{
    if ((k->flags & F_NONEMPTY) && !*v)
        return fail(x, s, "%s: expected a non-empty string", path);
    if (k->choices && choose(x, k, s, path, v) < 0)
        return -1;
    if (k->check && k->check(x, s, path, v) < 0)
        return -1;
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

static void strlist_free(dv_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int set_list(ctx *x, const key *k, config_setting_t *s, const char *path)
{
    int type = config_setting_type(s), n;
    dv_strlist l = { 0 }, *dst = slot(x, k);
    char item_path[192], q[96];

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return wrong_type(x, s, path, "an array of strings [ \"...\", ... ]");
    n = config_setting_length(s);
    if ((k->flags & F_NONEMPTY) && n == 0)
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
        for (size_t j = 0; (k->flags & F_UNIQUE) && j < l.n; j++)
            if (strcmp(l.v[j], v) == 0) {
                fail(x, e, "%s: %s is already listed as %s[%zu]; each item may appear once",
                     item_path, quote(q, sizeof q, v), path, j);
                goto bad;
            }
        if (!(l.v[l.n] = strdup(v))) {
            nomem(x);
            goto bad;
        }
        l.n++;
    }
    strlist_free(dst);
    *dst = l;
    return 0;
bad:
    strlist_free(&l);
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
    case K_GROUP:
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            return wrong_type(x, s, path, "a group { ... }");
        return walk_group(x, s, k->members, path);
    case K_STRING: return set_string(x, k, s, path);
    case K_BOOL: return set_bool(x, k, s, path);
    case K_INT: return set_int(x, k, s, path);
    case K_REAL: return set_real(x, k, s, path);
    case K_LIST: return set_list(x, k, s, path);
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
    if (*cfg->servicegroup.mc.password && !*cfg->servicegroup.mc.username) {
        s = config_lookup(c, "servicegroup.mc.password");
        return fail(x, s, "servicegroup.mc.password is set but servicegroup.mc.username is empty");
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

/* ---------------------------------------------------------------- loading */

static int load_text(const char *text, size_t len, const char *name, dv_config **out,
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
    line = scan_text(text, len, &sc, &why);
    if (line < 0) {
        nomem(&x);
    } else if (line > 0) {
        fail_at(&x, line, "%s", why);
    } else if (config_read_string(&c, text) != CONFIG_TRUE) {
        /* An unterminated string runs to the end of the file, where libconfig
         * notices: the line where it starts helps more. */
        if (sc.open_line && sc.open_line <= config_error_line(&c))
            fail_at(&x, sc.open_line, "%s", sc.open_what);
        else
            fail_at(&x, config_error_line(&c), "%s", config_error_text(&c));
    } else if (sc.open_line) {
        fail_at(&x, sc.open_line, "%s", sc.open_what);
    } else if (sc.depth_line) {
        fail_at(&x, sc.depth_line, "groups, arrays and lists nest deeper than %d levels", MAX_DEPTH);
    } else {
        /* If the two sequences ever disagree, ranges are still checked on
         * libconfig's values; only the overflow detection is lost. */
        if (tie_numbers(config_root_setting(&c), &sc, &next, false) && next == sc.n) {
            next = 0;
            tie_numbers(config_root_setting(&c), &sc, &next, true);
        } else {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
            abort();               /* fuzzing: the scanner must agree with libconfig */
#endif
        }
        if (walk_group(&x, config_root_setting(&c), top_keys, "") == 0 && cross_checks(&x, &c) == 0)
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
    return load_text(text, strlen(text), name, out, err);
}

/* Read the whole file: at most MAX_FILE_BYTES, no NUL bytes. */
static int read_file(const char *path, char **text, size_t *len, drover_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int e;

    *text = NULL;
    if (fd < 0) {
        e = errno;
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: cannot open the configuration file: %s", path, strerror(e));
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: cannot read the configuration file: %s", path, strerror(EISDIR));
    }
    if (!(buf = malloc(MAX_FILE_BYTES + 2))) {
        close(fd);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", path);
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, MAX_FILE_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            free(buf);
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "%s: cannot read the configuration file: %s", path, strerror(e));
        }
        n += (size_t)r;
        if (r == 0 || n > MAX_FILE_BYTES)
            break;
    }
    close(fd);
    if (n > MAX_FILE_BYTES) {
        free(buf);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: the configuration file is larger than %d bytes", path, MAX_FILE_BYTES);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int dv_config_load(const char *path, dv_config **out, drover_error *err)
{
    char *text;
    size_t len = 0;
    const char *nul;
    int rc;

    *out = NULL;
    if (!path || !*path)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "no configuration file named");
    if (read_file(path, &text, &len, err) < 0)
        return -1;
    if ((nul = memchr(text, '\0', len))) {
        int line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        free(text);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s:%d: the file contains a NUL byte: it is not a text file", path, line);
    }
    rc = load_text(text, len, path, out, err);
    free(text);
    return rc;
}

const char *dv_config_default_path(void)
{
    const char *env = getenv("DROVER_CONF");
    return env && *env ? env : DV_CONFIG_DEFAULT_PATH;
}
