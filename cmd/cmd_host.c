/* cmd_host.c - `drover host ...`: what each host last reported about
 * itself (hypervisor, memory, CPU, instances). */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "drivers/servicegroup.h"

#include <string.h>

/* `drover host drain HOST` (cmd/cmd_drain.c) */
int cmd_host_drain(dv_cli *cli, int argc, char **argv);
/* `drover host evacuate HOST` (cmd/cmd_evac.c) */
int cmd_host_evacuate(dv_cli *cli, int argc, char **argv);

static const char host_help[] =
    "Usage: drover [-c FILE] [--json] host COMMAND [ARGS]\n"
    "\n"
    "What the hosts of the configured group last reported with their heartbeat.\n"
    "\n"
    "Commands:\n"
    "  list        every host: state, hypervisor, memory, vCPUs, instances\n"
    "  show HOST   one host's whole report, with its instances and CPU\n"
    "  drain HOST  disable it and live-migrate every guest off it\n"
    "              (drover host drain --help)\n"
    "  evacuate HOST [--rebuild] [--force]\n"
    "              what the controller does with a dead host, now\n"
    "              (drover host evacuate --help)\n"
    "\n"
    "Options:\n"
    "  --json      machine-readable output (the report as the agent stored it)\n"
    "  -h, --help  this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (e.g. no such host), 2 usage or\n"
    "configuration error, 3 backend unreachable.\n";

static json_object *host_json(const drover_member *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(m->host));
    json_object_object_add(o, "state", json_object_new_string(drover_liveness_name(m->state)));
    json_object_object_add(o, "disabled", json_object_new_boolean(m->disabled));
    json_object_object_add(o, "report", dv_report_json(m));
    return o;
}

/* From the summaries: what the table shows is all in them. */
static void list_table(const drover_member *m, const dv_member_summary *sums, size_t n)
{
    int w = 4;
    char ver[32];
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(m[i].host) > w)
            w = (int)strlen(m[i].host);
    printf("%-*s  %-7s  %-12s  %-8s  %-7s  %11s  %10s  %5s  %s\n", w, "HOST", "STATE", "HYPERVISOR",
           "VERSION", "ARCH", "MEM-TOTAL", "MEM-FREE", "VCPUS", "INSTANCES");
    for (size_t i = 0; i < n; i++) {
        const drover_report *r = sums[i].report;
        if (!r) {
            printf("%-*s  %-7s  %s\n", w, m[i].host, drover_liveness_name(m[i].state),
                   sums[i].stored ? "(report cannot be decoded)" : "(no report yet)");
            continue;
        }
        printf("%-*s  %-7s  %-12s  %-8s  %-7s  %7llu MiB  %6llu MiB  %5u  %zu\n", w, m[i].host,
               drover_liveness_name(m[i].state), r->hypervisor_type,
               dv_version_format(r->hypervisor_version, ver, sizeof ver), r->arch,
               (unsigned long long)r->memory_total_mib, (unsigned long long)r->memory_free_mib,
               r->vcpus, sums[i].n_instances);
    }
}

static void show_text(const drover_member *m)
{
    const drover_report *r = m->report;
    char hv[32], lv[32];
    printf("host:         %s (%s)\n", m->host, drover_liveness_name(m->state));
    if (!r) {
        printf("report:       %s\n", m->report_json ? "(stored, but cannot be decoded)" : "(none yet)");
        return;
    }
    printf("hypervisor:   %s %s\nlibvirt:      %s\narch:         %s\nvcpus:        %u\n",
           r->hypervisor_type, dv_version_format(r->hypervisor_version, hv, sizeof hv),
           dv_version_format(r->libvirt_version, lv, sizeof lv), r->arch, r->vcpus);
    printf("memory:       %llu MiB total, %llu MiB free\nmigration:    %s\n",
           (unsigned long long)r->memory_total_mib, (unsigned long long)r->memory_free_mib,
           r->migration_uri);
    printf("instances:    %zu\n", r->n_instances);
    for (size_t i = 0; i < r->n_instances; i++)
        printf("  %-20s  %s  %6llu MiB  %s\n", r->instances[i].name, r->instances[i].uuid,
               (unsigned long long)r->instances[i].memory_mib, r->instances[i].state);
    printf("cpu:\n%s\n", r->cpu_xml);
}

int cmd_host(dv_cli *cli, int argc, char **argv)
{
    const char *host, *group;
    dv_cli_args a;
    dv_sg *sg;
    drover_error err;
    int rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(host_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? DV_EXIT_USAGE : DV_EXIT_OK;
    }
    if (strcmp(argv[1], "drain") == 0)
        return cmd_host_drain(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "evacuate") == 0)
        return cmd_host_evacuate(cli, argc - 1, argv + 1);
    if ((rc = dv_cli_parse_sub(cli, "host", argc, argv, &a)) != DV_EXIT_OK)
        return rc;
    if (a.help) {
        fputs(host_help, stdout);
        return DV_EXIT_OK;
    }
    if ((rc = dv_cli_open_sg(cli, &sg, &group)) != DV_EXIT_OK)
        return rc;
    host = a.host;
    if (host) {
        drover_member m;
        if (dv_sg_get(sg, group, host, &m, &err) < 0) {
            rc = dv_cli_fail(cli, &err);
        } else {
            if (cli->json)
                dv_print_json(stdout, host_json(&m));
            else
                show_text(&m);
            drover_member_clear(&m);
        }
    } else if (!cli->json) {
        dv_summary_list l;
        if (dv_sg_get_summaries(sg, group, false, &l, &err) < 0)
            rc = dv_cli_fail(cli, &err);
        else
            list_table(l.members, l.sums, l.n);
        dv_summary_list_free(&l);
    } else {
        drover_member *m;
        size_t n;
        if (dv_sg_get_all(sg, group, &m, &n, &err) < 0) {
            rc = dv_cli_fail(cli, &err);
        } else {
            json_object *arr = json_object_new_array();
            for (size_t i = 0; i < n; i++)
                json_object_array_add(arr, host_json(&m[i]));
            dv_print_json(stdout, arr);
            drover_members_free(m, n);
        }
    }
    dv_sg_close(sg);
    return rc;
}
