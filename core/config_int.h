/* config_int.h - what the files of the config parser share (core only). */
#ifndef DV_CONFIG_INT_H
#define DV_CONFIG_INT_H

#include "core/config.h"

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_LINES 65535            /* libconfig keeps a setting's line in 16 bits */
#define MAX_DEPTH 16               /* drover.conf nests 3 deep; anything past this is junk */

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

/* Walk the text as libconfig's scanner would.  Returns 0, or the (1-based)
 * line of an @include or of too many lines with *why set, or -1 on ENOMEM. */
int dv_config_scan_text(const char *t, size_t len, scan *sc, const char **why);

/* Pair each numeric setting with its literal, in document order.  With
 * attach false only check that the two sequences agree. */
bool dv_config_tie_numbers(config_setting_t *s, scan *sc, size_t *next, bool attach);

typedef struct dv_config_ctx {
    const char *name;              /* the file name in messages */
    dv_config *cfg;
    char *base;                    /* where the offsets of the keys being read start */
    drover_error *err;
} ctx;

/* Fail with "NAME:LINE: <message>" (DROVER_ERR_CONFIG). */
int dv_config_fail_at(ctx *x, int line, const char *fmt, ...) DV_PRINTF(3, 4);

/* The line of a setting (0 if there is none, which the checks avoid). */
static inline int line_of(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

#define fail(x, s, ...) dv_config_fail_at((x), line_of(s), __VA_ARGS__)

/* Rules on values of core's own keys (config_rules.c). */
int dv_config_check_name(ctx *x, config_setting_t *s, const char *path, const char *v);
int dv_config_check_uri(ctx *x, config_setting_t *s, const char *path, const char *v);
int dv_config_check_argv0(ctx *x, config_setting_t *s, const char *path, const char *v);
int dv_config_check_host_uri(ctx *x, config_setting_t *s, const char *path, const char *v);
int dv_config_check_listen(ctx *x, config_setting_t *s, const char *path, const char *v);
int dv_config_check_abs_dir(ctx *x, config_setting_t *s, const char *path, const char *v);

/* Parse and check text (config.c); name stands for the file. */
int dv_config_load_text(const char *text, size_t len, const char *name, dv_config **out,
                        drover_error *err);

/* The keys of drover.conf, a table of groups (config_keys.c). */
extern const dv_config_key dv_config_top_keys[];

/* The section added i-th (NULL past the last), and the names a key was
 * given: for the defaults (config_defaults.c). */
const dv_config_section *dv_config_section_at(size_t i);
const char *const *dv_config_names_of(const char *name);

#endif
