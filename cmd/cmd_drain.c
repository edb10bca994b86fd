/* cmd_drain.c - `drover host drain HOST`: disable HOST (reason "drain") and
 * live-migrate every running or paused guest off it (migrator/drain.h), one
 * line per guest as it starts and as it ends, then a summary.  Exit 0 only
 * when the host is empty. */
#include "cmd/cli.h"
#include "cmd/mig_out.h"
#include "cmd/output.h"
#include "migrator/drain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int cmd_host_drain(dv_cli *cli, int argc, char **argv);

static const char drain_help[] =
    "Usage: drover [-c FILE] [--json] host drain HOST [--policy nova|adaptive]\n"
    "                                [--bandwidth MIB]\n"
    "\n"
    "Empty HOST for maintenance: disable it (reason \"drain\"), then live-migrate\n"
    "every running or paused guest to hosts the scheduler picks,\n"
    "migration.max_concurrent at a time.  The guests are listed from HOST's own\n"
    "libvirt (its last report when that does not answer); a host whose agent\n"
    "died is drained when its libvirt answers.  One line per guest, then what\n"
    "moved and what could not and why.  --json: one object with every guest.\n"
    "\n"
    "Exit status: 0 the host is empty, 1 guests are left on it, 2 usage or\n"
    "configuration error, 3 backend unreachable (nothing was done).\n";

static void on_progress(void *arg, const dv_drain_item *it, const dv_mig_event *ev)
{
    const dv_cli *cli = arg;

    if (cli->json)
        return;
    if (ev)
        printf("%-20s %s -> %s: migrating (record %" PRId64 ")\n", it->instance,
               it->rec.source, it->rec.destination, it->rec.id);
    else if (it->moved)
        printf("%-20s moved to %s in %.1f s (downtime %" PRId64 " ms, record %" PRId64 ")\n",
               it->instance, it->rec.destination, (double)it->rec.final_total_ms / 1000.0,
               it->rec.final_downtime_ms, it->rec.id);
    else if (it->started && it->rec.id)
        printf("%-20s NOT moved: %s (record %" PRId64 ", %s)\n", it->instance,
               it->rec.message[0] ? it->rec.message : it->err.message, it->rec.id,
               dv_mig_state_name(it->rec.state));
    else
        printf("%-20s NOT moved: %s\n", it->instance, it->err.message);
    fflush(stdout);
}

static void on_listed(void *arg, const dv_drain_result *r)
{
    const dv_cli *cli = arg;

    if (cli->json)
        return;
    printf("draining %s: %zu guest%s (listed from its %s)%s\n", r->host, r->n,
           r->n == 1 ? "" : "s", r->from_libvirt ? "libvirt" : "last report",
           r->source_up ? "" : "; its agent is DOWN, its libvirt answered");
    fflush(stdout);
}

static json_object *item_json(const dv_cli *cli, const dv_drain_item *it)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "instance", json_object_new_string(it->instance));
    json_object_object_add(o, "uuid", json_object_new_string(it->uuid));
    json_object_object_add(o, "state", json_object_new_string(it->state));
    json_object_object_add(o, "moved", json_object_new_boolean(it->moved));
    json_object_object_add(o, "to", it->moved ? json_object_new_string(it->rec.destination) : NULL);
    json_object_object_add(o, "reason", it->moved ? NULL
                                        : json_object_new_string(it->rec.id && it->rec.message[0]
                                                                     ? it->rec.message
                                                                     : it->err.message));
    json_object_object_add(o, "record", it->rec.id ? dv_mig_record_json(&it->rec,
                                                                        dv_mig_stale_ms(cli->cfg))
                                                   : NULL);
    return o;
}

static void summary(const dv_cli *cli, const char *host, const dv_drain_result *r)
{
    size_t moved = 0;

    for (size_t i = 0; i < r->n; i++)
        moved += r->items[i].moved;
    if (cli->json) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        for (size_t i = 0; i < r->n; i++)
            json_object_array_add(a, item_json(cli, &r->items[i]));
        json_object_object_add(o, "host", json_object_new_string(host));
        json_object_object_add(o, "disabled_reason", json_object_new_string("drain"));
        json_object_object_add(o, "agent_up", json_object_new_boolean(r->source_up));
        json_object_object_add(o, "listed_from", json_object_new_string(r->from_libvirt
                                                                            ? "libvirt"
                                                                            : "report"));
        json_object_object_add(o, "guests", a);
        json_object_object_add(o, "moved", json_object_new_int64((int64_t)moved));
        json_object_object_add(o, "remaining", json_object_new_int64((int64_t)r->remaining));
        json_object_object_add(o, "empty", json_object_new_boolean(r->empty));
        dv_print_json(stdout, o);
        return;
    }
    printf("drain %s: %zu of %zu guest%s moved; %s\n", host, moved, r->n, r->n == 1 ? "" : "s",
           r->empty ? "the host is empty (and stays disabled: reason \"drain\")"
                    : "the host is NOT empty");
    for (size_t i = 0; i < r->n; i++)
        if (!r->items[i].moved)
            printf("  left: %s: %s\n", r->items[i].instance,
                   r->items[i].rec.id && r->items[i].rec.message[0] ? r->items[i].rec.message
                                                                    : r->items[i].err.message);
    if (!r->empty && r->remaining > r->n - moved)
        printf("  and %zu guest%s that started there meanwhile\n", r->remaining - (r->n - moved),
               r->remaining - (r->n - moved) == 1 ? "" : "s");
}

int cmd_host_drain(dv_cli *cli, int argc, char **argv)
{
    dv_drain_opts o = { .bandwidth_mib = -1, .progress = on_progress,
                         .listed = on_listed, .arg = cli };
    dv_drain_result r;
    drover_error err;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(drain_help, stdout);
            return DV_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            cli->json = true;
        } else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
            o.policy = argv[++i];
        } else if (!strcmp(argv[i], "--bandwidth") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 1000000)
                return dv_cli_usage_error(cli, "host ", "drain: --bandwidth takes MiB/s "
                                          "(0..1000000), not '%s'", argv[i]);
            o.bandwidth_mib = (int)v;
        } else if (argv[i][0] == '-' || o.host) {
            return dv_cli_usage_error(cli, "host ", "drain: unexpected argument '%s'", argv[i]);
        } else {
            o.host = argv[i];
        }
    }
    if (!o.host)
        return dv_cli_usage_error(cli, "host ", "drain: which host? (host drain HOST)");
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (dv_drain(cli->cfg, &o, &r, &err) < 0)
        return dv_cli_fail(cli, &err);
    summary(cli, o.host, &r);
    {
        int rc = r.empty ? DV_EXIT_OK : DV_EXIT_FAIL;
        dv_drain_result_clear(&r);
        return rc;
    }
}
