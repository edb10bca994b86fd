/* drover.c - the `drover` command: global options, then a subcommand. */
#include "cmd/cli.h"

#include <stdlib.h>
#include <signal.h>
#include <string.h>

int cmd_state(dv_cli *cli, int argc, char **argv);   /* cmd/cmd_state.c */
int cmd_lease(dv_cli *cli, int argc, char **argv);
int cmd_evacuation(dv_cli *cli, int argc, char **argv);   /* cmd/cmd_evac.c */

static const char usage[] =
    "Usage: drover [-c FILE] [--json] COMMAND [ARGS]\n"
    "\n"
    "drover keeps a fleet of libvirt/KVM hosts healthy: which hosts are up,\n"
    "where an instance can go, and moving it there.\n"
    "\n"
    "Commands:\n"
    "  service list|show|is-up|disable|enable|force-down\n"
    "                    liveness and admin state of the group's members\n"
    "  host list|show    what each host last reported (hypervisor, memory, instances)\n"
    "%s"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default: $DROVER_CONF, else\n"
    "                     " DV_CONFIG_DEFAULT_PATH "); see drover.conf(5)\n"
    "  --json             machine-readable output\n"
    "  -h, --help         this help; 'drover COMMAND --help' for a command's\n"
    "  -V, --version      print the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage or configuration error,\n"
    "3 backend unreachable.  See drover(1).\n";

typedef struct subcommand {
    const char *name;
    int (*run)(dv_cli *cli, int argc, char **argv);
    const char *summary;   /* extra usage line, "" for those listed above */
} subcommand;

static const subcommand subcommands[] = {
    { "service", cmd_service, "" },
    { "host", cmd_host, "" },
    { "schedule", cmd_schedule,
      "  schedule INSTANCE [--to HOST] [--ignore HOST]... [--explain]\n"
      "                    pick a destination for a live migration\n" },
    { "migrate", cmd_migrate, "  migrate INSTANCE [--to HOST] ...   live-migrate it, watch it move\n" },
    { "migration", cmd_migration, "  migration list|show|abort|force-complete|recover|plan\n" },
    { "state", cmd_state, "  state show|migrate --to zk   the shared state store\n" },
    { "lease", cmd_lease, "  lease list        leader leases: holder, epoch, expiry\n" },
    { "evacuation", cmd_evacuation,
      "  evacuation status|list|show ID   the controller's evacuator and its journal\n" },
};
#define N_SUB (sizeof subcommands / sizeof subcommands[0])

static void print_usage(FILE *out)
{
    char extra[2048] = "";
    for (size_t i = 0; i < N_SUB; i++)
        strncat(extra, subcommands[i].summary, sizeof extra - strlen(extra) - 1);
    fprintf(out, usage, extra);
}

int main(int argc, char **argv)
{
    dv_cli cli = { .prog = "drover" };
    dv_cli_global g;
    dv_cli_action action;
    drover_error err;
    int next, rc;

    /* a libvirtd that dies under a call makes libvirt's client write to a
     * closed socket: that must be an error, not the end of the process */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        print_usage(stderr);
        return DV_EXIT_USAGE;
    }
    if (dv_cli_parse_global(argc, argv, &g, &action, &next, &err) < 0)
        return dv_cli_usage_error(&cli, NULL, "%s", err.message);
    /* next is set only for DV_CLI_RUN */
    if (action == DV_CLI_HELP || (action == DV_CLI_RUN && strcmp(argv[next], "help") == 0)) {
        print_usage(stdout);
        return DV_EXIT_OK;
    }
    if (action == DV_CLI_VERSION) {
        printf("drover %s\n", DROVER_VERSION_STRING);
        return DV_EXIT_OK;
    }
    cli.config_path = g.config_path;
    cli.json = g.json;
    for (size_t k = 0; k < N_SUB; k++) {
        if (strcmp(argv[next], subcommands[k].name) == 0) {
            rc = subcommands[k].run(&cli, argc - next, argv + next);
            dv_config_free(cli.cfg);
            return rc;
        }
    }
    return dv_cli_usage_error(&cli, NULL, "unknown command '%s'", argv[next]);
}
