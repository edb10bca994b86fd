/* cli.c - helpers every subcommand of `drover` shares. */
#include "cmd/cli.h"
#include "drivers/servicegroup.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int dv_cli_config(dv_cli *cli)
{
    drover_error err;
    const char *path = cli->config_path;

    if (cli->cfg)
        return 0;
    if (!path || !*path)
        path = dv_config_default_path();
    if (dv_config_load(path, &cli->cfg, &err) < 0) {
        fprintf(stderr, "%s: %s\n", cli->prog, err.message);
        return -1;
    }
    return 0;
}

int dv_cli_fail(const dv_cli *cli, const drover_error *err)
{
    fprintf(stderr, "%s: %s\n", cli->prog, err->message);
    switch (err->code) {
    case DROVER_ERR_UNREACHABLE:
        return DV_EXIT_UNREACHABLE;
    case DROVER_ERR_CONFIG:
    case DROVER_ERR_INVALID:
    case DROVER_ERR_AUTH:      /* the configured credentials are wrong */
        return DV_EXIT_USAGE;
    default:
        return DV_EXIT_FAIL;
    }
}

int dv_cli_usage_error(const dv_cli *cli, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s %s--help' for more information.\n", cli->prog,
            cmd ? cmd : "");
    return DV_EXIT_USAGE;
}

bool dv_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int dv_cli_parse_sub(dv_cli *cli, const char *group, int argc, char **argv, dv_cli_args *args)
{
    drover_error err;
    char hint[64];
    const dv_cli_spec *spec = dv_cli_spec_find(group, argc > 1 ? argv[1] : NULL, &err);

    snprintf(hint, sizeof hint, "%s ", group);
    if (!spec || dv_cli_parse_args(spec, argc - 1, argv + 1, args, &err) < 0)
        return dv_cli_usage_error(cli, hint, "%s", err.message);
    if (args->json)
        cli->json = true;
    return DV_EXIT_OK;
}

int dv_cli_open_sg(dv_cli *cli, struct dv_sg **sg, const char **group)
{
    drover_error err;

    *sg = NULL;
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    *group = cli->cfg->agent.group;
    if (dv_sg_open(cli->cfg, sg, &err) < 0)
        return dv_cli_fail(cli, &err);
    return DV_EXIT_OK;
}
