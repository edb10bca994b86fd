/* config_scan.c - a scanner that follows libconfig's lexical rules, run
 * over the text before libconfig parses it (see config.c for why). */
#include "core/config_int.h"
#include "core/model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int push_tok(scan *sc, int type, bool exact, long long value, const char *text, size_t len)
{
    if (dv_grow((void **)&sc->tok, sc->n, &sc->cap, sizeof *sc->tok) < 0)
        return -1;
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

#define AT(x) ((x) < len ? t[(x)] : '\0')
/* A hex literal "0x..." at t[*i]. */
static int scan_hex(const char *t, size_t len, size_t *i, scan *sc)
{
    size_t s = *i, k;
    bool exact;
    long long v;
    int type = CONFIG_TYPE_INT;

    for (k = s + 2; isxdigit((unsigned char)AT(k)); k++)
        ;
    v = literal_value(t + s, k - s, 16, &exact);
    if (AT(k) == 'L') {
        k += AT(k + 1) == 'L' ? 2 : 1;
        type = CONFIG_TYPE_INT64;
    } else if (exact && v > INT_MAX) {
        exact = false;             /* libconfig keeps only the low 32 bits */
    }
    *i = k;
    return push_tok(sc, type, exact, v, t + s, k - s);
}

/* A numeric literal at t[*i] (one of [-+0-9.]); follows libconfig's flex
 * rules for integer, integer64, hex, hex64 and float (longest match). */
static int scan_number(const char *t, size_t len, size_t *i, scan *sc)
{
    size_t s = *i, j = s, k, digits;
    bool is_float = false, exact;
    long long v;
    int type;

    if (AT(s) == '0' && (AT(s + 1) == 'x' || AT(s + 1) == 'X') && isxdigit((unsigned char)AT(s + 2)))
        return scan_hex(t, len, i, sc);
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
int dv_config_scan_text(const char *t, size_t len, scan *sc, const char **why)
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
bool dv_config_tie_numbers(config_setting_t *s, scan *sc, size_t *next, bool attach)
{
    int type = config_setting_type(s);

    if (config_setting_is_aggregate(s)) {
        for (int i = 0; i < config_setting_length(s); i++)
            if (!dv_config_tie_numbers(config_setting_get_elem(s, (unsigned)i), sc, next, attach))
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

