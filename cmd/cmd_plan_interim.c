/* cmd_plan_interim.c - INTERIM until helper D1's cmd/cmd_plan.c is merged
 * (then this file goes): `drover migration plan` says it is not built. */
#include "cmd/cli.h"

int cmd_migration_plan(dv_cli *cli, int argc, char **argv);
int cmd_migration_plan(dv_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: migration plan is not part of this build yet\n", cli->prog);
    return DV_EXIT_USAGE;
}
