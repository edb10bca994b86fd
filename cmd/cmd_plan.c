/* cmd_plan.c - `drover migration plan (INSTANCE | --memory-mib N)`: what a
 * live migration would get under the current configuration, without
 * migrating: the convergence policy, the data size its timings scale with,
 * the downtime steps, the completion timeout and what happens then.  The
 * instance's memory comes from the last report of the host that runs it. */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/model.h"
#include "drivers/servicegroup.h"
#include "migrator/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char plan_help[] =
    "Usage: drover [-c FILE] [--json] migration plan (INSTANCE | --memory-mib N)\n"
    "                                                [--policy nova|adaptive]\n"
    "\n"
    "What a live migration of INSTANCE (its name or UUID, as its host reports it)\n"
    "or of a guest of N MiB would get under the current configuration, without\n"
    "migrating: the convergence policy (migration.policy, or --policy), the data\n"
    "size its timings scale with, the downtime steps, the completion timeout and\n"
    "what timeout_action then does.\n"
    "\n"
    "Options:\n"
    "  --memory-mib N   a guest of N MiB instead of an instance\n"
    "  --policy P       this policy instead of migration.policy\n"
    "  --json           machine-readable output: \"policy\", \"data_gib\",\n"
    "                   \"downtime_steps\" ([seconds, milliseconds] pairs; seconds\n"
    "                   is null for a step taken when progress stalls),\n"
    "                   \"completion_timeout_s\", \"timeout_action\", \"summary\"\n"
    "  -h, --help       this help\n"
    "\n"
    "Exit status: 0 success, 1 no such instance, 2 usage or configuration error,\n"
    "3 backend unreachable.\n";

/* cmd/cli.h lists the subcommands; until the `migration` dispatcher there
 * (cmd/drover.c) declares this one, it is declared here */
int cmd_migration_plan(dv_cli *cli, int argc, char **argv);

typedef struct plan_args {
    const char *instance;
    const char *policy;
    uint64_t memory_mib;
} plan_args;

static int value(int argc, char **argv, int *i, const char *opt, const char **out,
                 drover_error *err)
{
    size_t ol = strlen(opt);
    if (argv[*i][ol] == '=')
        *out = argv[*i] + ol + 1;
    else if (*i + 1 < argc)
        *out = argv[++*i];
    else
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s needs a value", opt);
    if (!**out)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s needs a value", opt);
    return 0;
}

static bool is_opt(const char *a, const char *opt)
{
    size_t ol = strlen(opt);
    return strncmp(a, opt, ol) == 0 && (a[ol] == '\0' || a[ol] == '=');
}

static int parse_mib(const char *v, uint64_t *out, drover_error *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-' || n == 0 || n > (1ULL << 40))
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "--memory-mib: \"%s\" is not a memory size in MiB (1..%llu)", v, 1ULL << 40);
    *out = n;
    return 0;
}

static int parse(dv_cli *cli, int argc, char **argv, plan_args *a, drover_error *err)
{
    const char *v;
    bool opts = true;

    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (opts && strcmp(argv[i], "--") == 0) {
            opts = false;
        } else if (opts && is_opt(argv[i], "--memory-mib")) {
            if (value(argc, argv, &i, "--memory-mib", &v, err) < 0 || parse_mib(v, &a->memory_mib, err) < 0)
                return -1;
        } else if (opts && is_opt(argv[i], "--policy")) {
            if (value(argc, argv, &i, "--policy", &a->policy, err) < 0)
                return -1;
        } else if (opts && strcmp(argv[i], "--json") == 0) {
            cli->json = true;
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "unknown option '%s'", argv[i]);
        } else if (a->instance) {
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "one instance at a time: '%s' and '%s' given", a->instance, argv[i]);
        } else {
            a->instance = argv[i];
        }
    }
    if (!a->instance && !a->memory_mib)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "which guest? give an instance (name or UUID) or --memory-mib N");
    if (a->instance && a->memory_mib)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "give an instance or --memory-mib N, not both");
    return 0;
}

/* Fill req from the report of the host running the instance (its name or
 * UUID); host and instance point into *m, which the caller frees. */
static int find_instance(dv_cli *cli, const char *instance, dv_mig_plan_req *req,
                         drover_member **m, size_t *n, drover_error *err)
{
    const char *group;
    dv_sg *sg;
    int rc;

    if ((rc = dv_cli_open_sg(cli, &sg, &group)) != DV_EXIT_OK)
        return rc;
    if (dv_sg_get_all(sg, group, m, n, err) < 0) {
        dv_sg_close(sg);
        return dv_cli_fail(cli, err);
    }
    dv_sg_close(sg);
    for (size_t i = 0; i < *n; i++) {
        const drover_report *r = (*m)[i].report;
        for (size_t k = 0; r && k < r->n_instances; k++) {
            const drover_instance *in = &r->instances[k];
            if (strcmp(in->name, instance) != 0 && strcasecmp(in->uuid, instance) != 0)
                continue;
            req->instance = in->name;
            req->host = (*m)[i].host;
            req->memory_mib = in->memory_mib;
            req->paused = in->state && strcmp(in->state, "paused") == 0;
            return DV_EXIT_OK;
        }
    }
    dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_CORE,
           "no instance \"%s\" in the last reports of group \"%s\" (%zu hosts)", instance, group, *n);
    return dv_cli_fail(cli, err);
}

int cmd_migration_plan(dv_cli *cli, int argc, char **argv)
{
    dv_mig_plan_req req = { 0 };
    drover_member *m = NULL;
    json_object *j = NULL;
    char *text = NULL;
    size_t n = 0;
    plan_args a;
    drover_error err;
    int rc = DV_EXIT_OK;

    if (dv_cli_wants_help(argc, argv)) {
        fputs(plan_help, stdout);
        return DV_EXIT_OK;
    }
    if (parse(cli, argc, argv, &a, &err) < 0)
        return dv_cli_usage_error(cli, "migration plan ", "%s", err.message);
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    req.policy = a.policy;
    req.memory_mib = a.memory_mib;
    if (a.instance && (rc = find_instance(cli, a.instance, &req, &m, &n, &err)) != DV_EXIT_OK)
        goto out;
    if (dv_mig_plan_build(cli->cfg, &req, cli->json ? NULL : &text, cli->json ? &j : NULL, &err) < 0) {
        rc = dv_cli_fail(cli, &err);
        goto out;
    }
    if (cli->json)
        dv_print_json(stdout, j);
    else
        fputs(text, stdout);
out:
    free(text);
    drover_members_free(m, n);
    return rc;
}
