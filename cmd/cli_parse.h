/* cli_parse.h - the command line of `drover`, parsed without side effects
 * (no output, no file opened), so it can be tested and fuzzed on its own. */
#ifndef DV_CLI_PARSE_H
#define DV_CLI_PARSE_H

#include <stdbool.h>

#include "core/error.h"

/* Global options, before the command. */
typedef enum dv_cli_action {
    DV_CLI_RUN,       /* run the command at argv[*next] */
    DV_CLI_HELP,      /* print the usage, exit 0 */
    DV_CLI_VERSION    /* print the version, exit 0 */
} dv_cli_action;

typedef struct dv_cli_global {
    const char *config_path;   /* NULL when not given */
    bool json;
} dv_cli_global;

/* Parse options up to the command; *next = index of the command. */
int dv_cli_parse_global(int argc, char **argv, dv_cli_global *g, dv_cli_action *action,
                        int *next, drover_error *err);

/* What one subcommand accepts. */
typedef struct dv_cli_spec {
    const char *group;        /* "service", "host" */
    const char *name;         /* "list", "show", ... */
    bool needs_host;
    const char *value_flag;   /* e.g. "--reason" (also --reason=TEXT); NULL if none */
    const char *bool_flag;    /* e.g. "--off"; NULL if none */
} dv_cli_spec;

/* A subcommand's arguments, parsed. Strings point into argv. */
typedef struct dv_cli_args {
    const dv_cli_spec *spec;
    const char *host;
    const char *value;        /* value of spec->value_flag, NULL if not given */
    bool flag;                /* spec->bool_flag given */
    bool json;                /* --json given after the command */
    bool help;                /* -h/--help given */
} dv_cli_args;

/* Find the spec of "group name"; DROVER_ERR_INVALID naming the valid ones. */
const dv_cli_spec *dv_cli_spec_find(const char *group, const char *name, drover_error *err);

/* argv[0] is the subcommand's name ("list").  Errors: DROVER_ERR_INVALID
 * with a message naming the argument. */
int dv_cli_parse_args(const dv_cli_spec *spec, int argc, char **argv, dv_cli_args *out,
                      drover_error *err);

#endif
