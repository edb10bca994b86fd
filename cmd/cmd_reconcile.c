/* cmd_reconcile.c - `drover migration reconcile [ID] [--no-watch]`: settle
 * the records whose owner is gone from what both libvirts say
 * (migrator/reconcile.h), one line (or JSON object) per record. */
#include "cmd/cli.h"
#include "cmd/mig_out.h"
#include "cmd/output.h"
#include "migrator/migrate.h"
#include "migrator/reconcile.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int cmd_migration_reconcile(dv_cli *cli, int argc, char **argv);

enum { EXIT_OPERATOR = 4 };

static void print_line(void *arg, const dv_mig_reconciled *r)
{
    const dv_cli *cli = arg;

    if (cli->json)
        return;
    printf("migration %" PRId64 " of %s (%s -> %s): %s -> %s: %s\n", r->rec.id,
           r->rec.instance_name, r->rec.source, r->rec.destination[0] ? r->rec.destination : "-",
           dv_mig_state_name(r->was), r->how == DV_REC_LEFT ? "left as it is"
                                                            : dv_mig_state_name(r->rec.state),
           r->facts);
    fflush(stdout);
}

static json_object *result_json(const dv_cli *cli, const dv_mig_reconciled *r)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_int64(r->rec.id));
    json_object_object_add(o, "instance", json_object_new_string(r->rec.instance_name));
    json_object_object_add(o, "was", json_object_new_string(dv_mig_state_name(r->was)));
    json_object_object_add(o, "state", json_object_new_string(dv_mig_state_name(r->rec.state)));
    json_object_object_add(o, "how", json_object_new_string(dv_mig_settled_name(r->how)));
    json_object_object_add(o, "facts", json_object_new_string(r->facts));
    json_object_object_add(o, "record", dv_mig_record_json(&r->rec, dv_mig_stale_ms(cli->cfg)));
    return o;
}

static int parse(dv_cli *cli, int argc, char **argv, dv_mig_reconcile_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool digits = *a != '\0';
        for (const char *p = a; *p; p++)
            digits = digits && isdigit((unsigned char)*p);
        if (strcmp(a, "--json") == 0)
            cli->json = true;
        else if (strcmp(a, "--no-watch") == 0)
            o->watch = false;
        else if (digits && !o->only_id && strlen(a) <= 18)
            o->only_id = strtoll(a, NULL, 10);
        else
            return dv_cli_usage_error(cli, "migration ", "reconcile: unexpected argument '%s' "
                                      "(reconcile [ID] [--no-watch] [--json])", a);
    }
    return DV_EXIT_OK;
}

int cmd_migration_reconcile(dv_cli *cli, int argc, char **argv)
{
    dv_mig_reconcile_opts o = { .watch = true, .progress = print_line, .arg = cli };
    dv_mig_reconciled *v = NULL;
    drover_error err;
    size_t n = 0;
    int rc = parse(cli, argc, argv, &o);
    bool left = false, operator = false;

    if (rc != DV_EXIT_OK)
        return rc;
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (dv_mig_reconcile(cli->cfg, &o, &v, &n, &err) < 0)
        return dv_cli_fail(cli, &err);
    for (size_t i = 0; i < n; i++) {
        left = left || v[i].how == DV_REC_LEFT;
        operator = operator || v[i].rec.state == DV_MIG_ERROR;
    }
    if (cli->json) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, result_json(cli, &v[i]));
        dv_print_json(stdout, a);
    } else if (n == 0) {
        printf("no orphaned migrations\n");
    } else {
        printf("%zu orphaned migration%s looked at%s%s\n", n, n == 1 ? "" : "s",
               left ? "; some were left as they are (see above)" : "",
               operator ? "; some need an operator (state error: see the facts)" : "");
    }
    free(v);
    return operator ? EXIT_OPERATOR : left ? DV_EXIT_FAIL : DV_EXIT_OK;
}
