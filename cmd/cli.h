/* cli.h - what the `drover` command's subcommands share.  Only cmd/ parses
 * argv.  Each subcommand is `int cmd_X(dv_cli *cli, int argc, char **argv)`
 * with argv[0] the subcommand's name; it returns one of the exit codes. */
#ifndef DV_CLI_H
#define DV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cmd/cli_parse.h"
#include "core/config.h"
#include "core/error.h"

enum {
    DV_EXIT_OK = 0,          /* success (is-up: UP; schedule: a host was found) */
    DV_EXIT_FAIL = 1,        /* failure (is-up: DOWN; schedule: no valid host) */
    DV_EXIT_USAGE = 2,       /* usage or config error */
    DV_EXIT_UNREACHABLE = 3  /* backend unreachable (is-up: UNKNOWN) */
};

typedef struct dv_cli {
    const char *prog;        /* "drover" */
    const char *config_path; /* -c FILE, else $DROVER_CONF, else /etc/drover/drover.conf */
    bool json;               /* --json: machine-readable output on stdout */
    dv_config *cfg;          /* loaded by dv_cli_config() */
} dv_cli;

/* Load the config once (idempotent).  On error prints it and returns -1;
 * the caller exits DV_EXIT_USAGE. */
int dv_cli_config(dv_cli *cli);

/* Print "drover: <message>" to stderr; returns the exit code matching the
 * error (UNREACHABLE -> 3, CONFIG/INVALID/AUTH -> 2, else 1). */
int dv_cli_fail(const dv_cli *cli, const drover_error *err);

/* Print a usage error and a hint to use --help; returns DV_EXIT_USAGE. */
int dv_cli_usage_error(const dv_cli *cli, const char *cmd, const char *fmt, ...)
    DV_PRINTF(3, 4);

/* True when argv holds -h/--help (the subcommand then prints its help). */
bool dv_cli_wants_help(int argc, char **argv);

/* Parse "GROUP CMD [HOST] [flags]" (argv[0] = GROUP) with cmd/cli_parse.h;
 * --json after the command sets cli->json.  Prints a usage error and
 * returns DV_EXIT_USAGE when the arguments are wrong. */
int dv_cli_parse_sub(dv_cli *cli, const char *group, int argc, char **argv, dv_cli_args *args);

/* Load the config and open its servicegroup driver; *group = agent.group.
 * Returns DV_EXIT_OK or the exit code (message printed). */
struct dv_sg;
int dv_cli_open_sg(dv_cli *cli, struct dv_sg **sg, const char **group);

/* Subcommands. */
int cmd_service(dv_cli *cli, int argc, char **argv);
int cmd_host(dv_cli *cli, int argc, char **argv);
int cmd_schedule(dv_cli *cli, int argc, char **argv);
int cmd_migrate(dv_cli *cli, int argc, char **argv);
int cmd_migration(dv_cli *cli, int argc, char **argv);

#endif
