/* cli_parse.c - parse drover's command line into plain structs. */
#include "cmd/cli_parse.h"

#include <string.h>

static const dv_cli_spec specs[] = {
    { .group = "service", .name = "list" },
    { .group = "service", .name = "show", .needs_host = true },
    { .group = "service", .name = "is-up", .needs_host = true },
    { .group = "service", .name = "disable", .needs_host = true, .value_flag = "--reason" },
    { .group = "service", .name = "enable", .needs_host = true },
    { .group = "service", .name = "force-down", .needs_host = true, .bool_flag = "--off" },
    { .group = "host", .name = "list" },
    { .group = "host", .name = "show", .needs_host = true },
};
#define N_SPECS (sizeof specs / sizeof specs[0])

#define invalid(err, ...) dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, __VA_ARGS__)

int dv_cli_parse_global(int argc, char **argv, dv_cli_global *g, dv_cli_action *action,
                        int *next, drover_error *err)
{
    int i;

    g->config_path = NULL;
    g->json = false;
    *action = DV_CLI_RUN;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return invalid(err, "%s needs a file name", a);
            g->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            if (!a[9])
                return invalid(err, "--config needs a file name");
            g->config_path = a + 9;
        } else if (strcmp(a, "--json") == 0) {
            g->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *action = DV_CLI_HELP;
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            *action = DV_CLI_VERSION;
            return 0;
        } else {
            return invalid(err, "unknown option '%s'", a);
        }
    }
    if (i >= argc)
        return invalid(err, "no command given");
    *next = i;
    return 0;
}

const dv_cli_spec *dv_cli_spec_find(const char *group, const char *name, drover_error *err)
{
    char known[256] = "";

    for (size_t i = 0; i < N_SPECS; i++) {
        if (strcmp(specs[i].group, group) != 0)
            continue;
        if (name && strcmp(specs[i].name, name) == 0)
            return &specs[i];
        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, specs[i].name, sizeof known - strlen(known) - 1);
    }
    if (!name)
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s: which command? (one of: %s)",
               group, known);
    else
        dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s: unknown command '%s' (one of: %s)",
               group, name, known);
    return NULL;
}

int dv_cli_parse_args(const dv_cli_spec *spec, int argc, char **argv, dv_cli_args *out,
                      drover_error *err)
{
    size_t vlen = spec->value_flag ? strlen(spec->value_flag) : 0;

    memset(out, 0, sizeof *out);
    out->spec = spec;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            out->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = true;
        } else if (vlen && strcmp(a, spec->value_flag) == 0) {
            if (i + 1 >= argc)
                return invalid(err, "%s: %s needs a value", spec->name, a);
            out->value = argv[++i];
        } else if (vlen && strncmp(a, spec->value_flag, vlen) == 0 && a[vlen] == '=') {
            out->value = a + vlen + 1;
        } else if (spec->bool_flag && strcmp(a, spec->bool_flag) == 0) {
            out->flag = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return invalid(err, "%s: unknown option '%s'", spec->name, a);
        } else if (!out->host && spec->needs_host) {
            out->host = a;
        } else {
            return invalid(err, "%s: unexpected argument '%s'", spec->name, a);
        }
    }
    if (spec->needs_host && !out->host && !out->help)
        return invalid(err, "%s: which host? (give HOST)", spec->name);
    return 0;
}
