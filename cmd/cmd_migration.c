/* cmd_migration.c - `drover migration list|show|abort|force-complete|recover|plan`:
 * the migration records, and steering a migration another process runs. */
#include "cmd/cli.h"
#include "cmd/mig_out.h"
#include "cmd/output.h"
#include "migrator/migrate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* helper D1's `drover migration plan` (cmd/cmd_plan.c) */
int cmd_migration_plan(dv_cli *cli, int argc, char **argv);
/* helper D3's `drover migration reconcile` (cmd/cmd_reconcile.c) */
int cmd_migration_reconcile(dv_cli *cli, int argc, char **argv);

static const char migration_help[] =
    "Usage: drover [-c FILE] [--json] migration COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  list [--all]              migrations not settled yet (--all: every record)\n"
    "  show ID|INSTANCE          one record: route, state, owner, progress, the\n"
    "                            policy's last action and why, libvirt's figures\n"
    "  abort ID|INSTANCE         cancel it through the source's libvirt; the guest\n"
    "                            stays on the source (refused in post-copy)\n"
    "  force-complete ID|INSTANCE\n"
    "                            finish it now: post-copy if it was started with\n"
    "                            post-copy, else pause the guest until the copy ends\n"
    "  recover ID                a post-copy that broke: resume it\n"
    "                            (VIR_MIGRATE_POSTCOPY_RESUME) once the link is back\n"
    "  reconcile [ID] [--no-watch]\n"
    "                            settle records whose owner is gone from what both\n"
    "                            libvirts say (a running job is watched to its end)\n"
    "  plan (INSTANCE | --memory-mib N)\n"
    "                            what a migration would get, without migrating\n"
    "\n"
    "INSTANCE stands for its newest record.  --json: machine-readable output.\n"
    "\n"
    "Exit status: 0 success, 1 failure (no such record, nothing to do), 2 usage\n"
    "or configuration error, 3 backend or libvirt unreachable, 4 (recover) the\n"
    "guest still needs an operator: the message says where it is.\n";

enum { EXIT_OPERATOR = 4 };

/* "--json" anywhere, then the positional arguments; one flag allowed. */
static int args_of(dv_cli *cli, int argc, char **argv, const char *flag, bool *flag_set,
                   const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    if (flag_set)
        *flag_set = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            cli->json = true;
        else if (flag && strcmp(argv[i], flag) == 0)
            *flag_set = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return dv_cli_usage_error(cli, "migration ", "%s: unknown option '%s'", argv[1],
                                      argv[i]);
        else if (*n_pos == max_pos)
            return dv_cli_usage_error(cli, "migration ", "%s: unexpected argument '%s'",
                                      argv[1], argv[i]);
        else
            pos[(*n_pos)++] = argv[i];
    }
    return DV_EXIT_OK;
}

static int fail_code(const dv_cli *cli, const drover_error *err)
{
    fprintf(stderr, "%s: %s\n", cli->prog, err->message);
    switch (err->code) {
    case DROVER_ERR_UNREACHABLE:
    case DROVER_ERR_LIBVIRT: return DV_EXIT_UNREACHABLE;
    case DROVER_ERR_CONFIG: return DV_EXIT_USAGE;
    default: return DV_EXIT_FAIL;
    }
}

static void print_record(dv_cli *cli, const dv_mig_record *r)
{
    if (cli->json)
        dv_print_json(stdout, dv_mig_record_json(r, dv_mig_stale_ms(cli->cfg)));
    else
        dv_mig_show(stdout, r);
}

static int do_list(dv_cli *cli, int argc, char **argv)
{
    dv_statedb *db;
    dv_mig_record *v = NULL;
    const char *pos[1];
    drover_error err;
    bool all;
    size_t n = 0;
    int np, rc = args_of(cli, argc, argv, "--all", &all, pos, 0, &np);

    if (rc != DV_EXIT_OK)
        return rc;
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (dv_statedb_open(cli->cfg->state.path, cli->cfg->state.busy_timeout_ms, &db, &err) < 0)
        return fail_code(cli, &err);
    rc = dv_mig_record_list(db, all, &v, &n, &err);
    dv_statedb_close(db);
    if (rc < 0)
        return fail_code(cli, &err);
    if (cli->json) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, dv_mig_record_json(&v[i], dv_mig_stale_ms(cli->cfg)));
        dv_print_json(stdout, a);
    } else {
        dv_mig_table(stdout, v, n, dv_mig_stale_ms(cli->cfg));
    }
    free(v);
    return DV_EXIT_OK;
}

/* One ID|INSTANCE argument, resolved to its record. */
static int one_record(dv_cli *cli, int argc, char **argv, int64_t *id)
{
    const char *pos[1];
    drover_error err;
    int np, rc = args_of(cli, argc, argv, NULL, NULL, pos, 1, &np);

    if (rc != DV_EXIT_OK)
        return rc;
    if (np != 1)
        return dv_cli_usage_error(cli, "migration ", "%s: which migration? give its id or the "
                                  "instance's name", argv[1]);
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (dv_mig_resolve(cli->cfg, pos[0], id, &err) < 0)
        return fail_code(cli, &err);
    return DV_EXIT_OK;
}

static int do_show(dv_cli *cli, int64_t id)
{
    dv_statedb *db;
    dv_mig_record r;
    drover_error err;
    int rc;

    if (dv_statedb_open(cli->cfg->state.path, cli->cfg->state.busy_timeout_ms, &db, &err) < 0)
        return fail_code(cli, &err);
    rc = dv_mig_record_get(db, id, &r, &err);
    dv_statedb_close(db);
    if (rc < 0)
        return fail_code(cli, &err);
    print_record(cli, &r);
    return DV_EXIT_OK;
}

static void who(char *buf, size_t len)
{
    dv_mig_owner o;
    dv_mig_owner_self(&o);
    snprintf(buf, len, "%s pid %ld", o.host, (long)o.pid);
}

static int do_steer(dv_cli *cli, int64_t id, bool abort_it)
{
    dv_mig_record r;
    drover_error err;
    char by[DV_NAME_MAX + 32];
    int rc;

    who(by, sizeof by);
    rc = abort_it ? dv_mig_abort(cli->cfg, id, by, &r, &err)
                  : dv_mig_force_complete(cli->cfg, id, by, &r, &err);
    if (rc < 0)
        return fail_code(cli, &err);
    if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int64(id));
        json_object_object_add(o, "requested", json_object_new_string(abort_it ? "abort"
                                                                               : "force-complete"));
        json_object_object_add(o, "state", json_object_new_string(dv_mig_state_name(r.state)));
        dv_print_json(stdout, o);
    } else {
        printf("migration %" PRId64 " of %s: %s requested (%s)\n", id, r.instance_name,
               abort_it ? "abort" : "force-complete", dv_mig_state_name(r.state));
    }
    return DV_EXIT_OK;
}

static int do_recover(dv_cli *cli, int64_t id)
{
    dv_mig_record r;
    drover_error err;
    int rc = dv_mig_recover(cli->cfg, id, &r, &err);

    if (r.id)
        print_record(cli, &r);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cli->prog, err.message);
        return err.code == DROVER_ERR_CONFLICT ? DV_EXIT_FAIL : EXIT_OPERATOR;
    }
    return DV_EXIT_OK;
}

/* show, abort, force-complete, recover: the commands on one record. */
static bool on_one_record(const char *sub)
{
    return !strcmp(sub, "show") || !strcmp(sub, "abort") || !strcmp(sub, "force-complete") ||
           !strcmp(sub, "recover");
}

static int do_one_record(dv_cli *cli, int argc, char **argv, const char *sub)
{
    int64_t id;
    int rc = one_record(cli, argc, argv, &id);

    if (rc != DV_EXIT_OK)
        return rc;
    if (strcmp(sub, "show") == 0)
        return do_show(cli, id);
    if (strcmp(sub, "recover") == 0)
        return do_recover(cli, id);
    return do_steer(cli, id, strcmp(sub, "abort") == 0);
}

int cmd_migration(dv_cli *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (!sub || ((!strcmp(sub, "-h") || !strcmp(sub, "--help")))) {
        fputs(migration_help, sub ? stdout : stderr);
        return sub ? DV_EXIT_OK : DV_EXIT_USAGE;
    }
    if (strcmp(sub, "plan") == 0)
        return cmd_migration_plan(cli, argc - 1, argv + 1);
    if (dv_cli_wants_help(argc - 1, argv + 1)) {
        fputs(migration_help, stdout);
        return DV_EXIT_OK;
    }
    if (strcmp(sub, "list") == 0)
        return do_list(cli, argc, argv);
    if (on_one_record(sub))
        return do_one_record(cli, argc, argv, sub);
    if (strcmp(sub, "reconcile") == 0)
        return cmd_migration_reconcile(cli, argc, argv);
    return dv_cli_usage_error(cli, "migration ", "unknown migration command '%s' (list, show, "
                              "abort, force-complete, recover, plan)", sub);
}
