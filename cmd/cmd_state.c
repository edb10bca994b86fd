/* cmd_state.c - `drover state show|migrate` and `drover lease list`: where
 * the shared controller state lives, what it holds, who holds the leases,
 * and carrying a per-machine state db into ZooKeeper. */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/clock.h"
#include "store/store.h"

#include <inttypes.h>
#include <string.h>

int cmd_state(dv_cli *cli, int argc, char **argv);
int cmd_lease(dv_cli *cli, int argc, char **argv);

static const char state_help[] =
    "Usage: drover [-c FILE] [--json] state COMMAND [ARGS]\n"
    "\n"
    "The state store: admin state, claims, records and leases that every\n"
    "controller and CLI of the deployment must see alike (state.backend).\n"
    "\n"
    "Commands:\n"
    "  show           backend, where it lives, schema version, counts\n"
    "  migrate --to zk\n"
    "                 carry admin state, claims and records from the sqlite state\n"
    "                 db (state.path) into the ZooKeeper store\n"
    "                 (servicegroup.zk); running it again changes nothing\n"
    "\n"
    "Options:\n"
    "  --json         machine-readable output\n"
    "  -h, --help     this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage or configuration error,\n"
    "3 store unreachable.\n";

static const char lease_help[] =
    "Usage: drover [-c FILE] [--json] lease list\n"
    "\n"
    "The leader leases in the state store: name, holder, epoch (the fencing\n"
    "token: it grows with every new holder) and expiry (\"session\": held while\n"
    "the holder's ZooKeeper session lives).\n"
    "\n"
    "Options:\n"
    "  --json         machine-readable output\n"
    "  -h, --help     this help\n";

typedef struct state_args {
    const char *cmd, *to;
    bool help;
} state_args;

static int parse(dv_cli *cli, const char *what, int argc, char **argv, state_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            cli->json = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            a->help = true;
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            a->to = argv[++i];
        else if (strncmp(argv[i], "--to=", 5) == 0)
            a->to = argv[i] + 5;
        else if (argv[i][0] != '-' && !a->cmd)
            a->cmd = argv[i];
        else
            return dv_cli_usage_error(cli, what, "unexpected argument '%s'", argv[i]);
    }
    return DV_EXIT_OK;
}

static int open_store(dv_cli *cli, const char *backend, dv_store **st)
{
    drover_error err;
    dv_config *cfg;

    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    cfg = cli->cfg;
    if (backend && dv_config_set_string(&cfg->state.backend, backend, &err) < 0)
        return dv_cli_fail(cli, &err);
    if (dv_store_open(cfg, st, &err) < 0)
        return dv_cli_fail(cli, &err);
    return DV_EXIT_OK;
}

static int show(dv_cli *cli)
{
    dv_store_info info;
    drover_error err;
    dv_store *st;
    char warning[512];
    int rc = open_store(cli, NULL, &st);

    if (rc != DV_EXIT_OK)
        return rc;
    if (dv_store_info_get(st, &info, &err) < 0) {
        rc = dv_cli_fail(cli, &err);
        dv_store_close(st);
        return rc;
    }
    dv_store_config_warning(cli->cfg, warning, sizeof warning);
    if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "backend", json_object_new_string(info.backend));
        json_object_object_add(o, "where", json_object_new_string(info.where));
        json_object_object_add(o, "schema", json_object_new_int(info.schema));
        json_object_object_add(o, "admin", json_object_new_int64((int64_t)info.admin));
        json_object_object_add(o, "claims", json_object_new_int64((int64_t)info.claims));
        json_object_object_add(o, "records", json_object_new_int64((int64_t)info.records));
        json_object_object_add(o, "leases", json_object_new_int64((int64_t)info.leases));
        json_object_object_add(o, "warning", *warning ? json_object_new_string(warning) : NULL);
        dv_print_json(stdout, o);
    } else {
        printf("backend:  %s\nwhere:    %s\nschema:   %d\n", info.backend, info.where, info.schema);
        printf("admin:    %zu members disabled or forced down\nclaims:   %zu unexpired\n"
               "records:  %zu\nleases:   %zu\n", info.admin, info.claims, info.records,
               info.leases);
        if (*warning)
            printf("warning:  %s\n", warning);
    }
    dv_store_close(st);
    return DV_EXIT_OK;
}

static int migrate(dv_cli *cli, const char *to)
{
    dv_store *from = NULL, *dst = NULL;
    dv_store_copy_stats s;
    drover_error err;
    int rc;

    if (!to || strcmp(to, "zk") != 0)
        return dv_cli_usage_error(cli, "state", "migrate needs --to zk");
    if ((rc = open_store(cli, "sqlite", &from)) != DV_EXIT_OK)
        return rc;
    if ((rc = open_store(cli, "zk", &dst)) != DV_EXIT_OK) {
        dv_store_close(from);
        return rc;
    }
    if (dv_store_copy(from, dst, &s, &err) < 0) {
        rc = dv_cli_fail(cli, &err);
    } else if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "admin", json_object_new_int64((int64_t)s.admin));
        json_object_object_add(o, "claims", json_object_new_int64((int64_t)s.claims));
        json_object_object_add(o, "records", json_object_new_int64((int64_t)s.records));
        json_object_object_add(o, "unchanged", json_object_new_int64((int64_t)s.unchanged));
        dv_print_json(stdout, o);
    } else {
        printf("carried into zk: %zu admin state, %zu claims, %zu records (%zu already there)\n",
               s.admin, s.claims, s.records, s.unchanged);
    }
    dv_store_close(dst);
    dv_store_close(from);
    return rc;
}

int cmd_state(dv_cli *cli, int argc, char **argv)
{
    state_args a;
    int rc = parse(cli, "state", argc, argv, &a);

    if (rc != DV_EXIT_OK)
        return rc;
    if (a.help || !a.cmd) {
        fputs(state_help, a.help ? stdout : stderr);
        return a.help ? DV_EXIT_OK : DV_EXIT_USAGE;
    }
    if (strcmp(a.cmd, "show") == 0 && !a.to)
        return show(cli);
    if (strcmp(a.cmd, "migrate") == 0)
        return migrate(cli, a.to);
    return dv_cli_usage_error(cli, "state", "unknown command '%s'", a.cmd);
}

static int lease_list(dv_cli *cli)
{
    dv_store_lease *l;
    drover_error err;
    dv_store *st;
    size_t n;
    int rc = open_store(cli, NULL, &st);
    char when[64];

    if (rc != DV_EXIT_OK)
        return rc;
    if (dv_store_lease_list(st, &l, &n, &err) < 0) {
        rc = dv_cli_fail(cli, &err);
        dv_store_close(st);
        return rc;
    }
    if (cli->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(l[i].name));
            json_object_object_add(o, "holder", *l[i].holder ? json_object_new_string(l[i].holder)
                                                             : NULL);
            json_object_object_add(o, "epoch", json_object_new_int64(l[i].epoch));
            json_object_object_add(o, "expires_ms", l[i].expires_ms
                                                        ? json_object_new_int64(l[i].expires_ms)
                                                        : NULL);
            json_object_array_add(arr, o);
        }
        dv_print_json(stdout, arr);
    } else {
        printf("%-20s  %-24s  %6s  %s\n", "NAME", "HOLDER", "EPOCH", "EXPIRES");
        for (size_t i = 0; i < n; i++)
            printf("%-20s  %-24s  %6" PRId64 "  %s\n", l[i].name, *l[i].holder ? l[i].holder : "-",
                   l[i].epoch,
                   !*l[i].holder ? "-" : l[i].expires_ms ? dv_fmt_time(l[i].expires_ms, when,
                                                                       sizeof when)
                                                         : "session");
    }
    dv_store_leases_free(l, n);
    dv_store_close(st);
    return DV_EXIT_OK;
}

int cmd_lease(dv_cli *cli, int argc, char **argv)
{
    state_args a;
    int rc = parse(cli, "lease", argc, argv, &a);

    if (rc != DV_EXIT_OK)
        return rc;
    if (a.help || !a.cmd) {
        fputs(lease_help, a.help ? stdout : stderr);
        return a.help ? DV_EXIT_OK : DV_EXIT_USAGE;
    }
    if (strcmp(a.cmd, "list") == 0 && !a.to)
        return lease_list(cli);
    return dv_cli_usage_error(cli, "lease", "unknown command '%s'", a.cmd);
}
