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
        path = getenv("DROVER_CONF");
    if (!path || !*path)
        path = "/etc/drover/drover.conf";
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

/* Parse "CMD HOST [--json]" plus the flags a command takes; *flag_value gets
 * the value of value_flag (e.g. --reason), *bool_set is set by bool_flag. */
int dv_cli_args(dv_cli *cli, const char *group, int argc, char **argv, bool need_host, const char **host,
                      const char *value_flag, const char **flag_value,
                      const char *bool_flag, bool *bool_set)
{
    const char *cmd = argv[0];
    *host = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (value_flag && strcmp(a, value_flag) == 0) {
            if (i + 1 >= argc)
                return dv_cli_usage_error(cli, group, "%s %s: needs a value", cmd, a);
            *flag_value = argv[++i];
        } else if (value_flag && strncmp(a, value_flag, strlen(value_flag)) == 0 &&
                   a[strlen(value_flag)] == '=') {
            *flag_value = a + strlen(value_flag) + 1;
        } else if (bool_flag && strcmp(a, bool_flag) == 0) {
            *bool_set = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return dv_cli_usage_error(cli, group, "%s: unknown option '%s'", cmd, a);
        } else if (!*host && need_host) {
            *host = a;
        } else {
            return dv_cli_usage_error(cli, group, "%s: unexpected argument '%s'", cmd, a);
        }
    }
    if (need_host && !*host)
        return dv_cli_usage_error(cli, group, "%s: which host? (give HOST)", cmd);
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
