/* cmd_service.c - `drover service ...`: liveness and admin state of the
 * members of the configured group. */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/clock.h"
#include "drivers/servicegroup.h"

#include <string.h>

static const char service_help[] =
    "Usage: drover [-c FILE] [--json] service COMMAND [ARGS]\n"
    "\n"
    "Liveness and admin state of the members of the configured group\n"
    "(agent.group, \"compute\" by default).\n"
    "\n"
    "Commands:\n"
    "  list                      every member: state, admin state, last heartbeat\n"
    "  show HOST                 one member, with its last host report\n"
    "  is-up HOST                print UP, DOWN or UNKNOWN; exit 0, 1 or 3\n"
    "  disable HOST [--reason TEXT]\n"
    "                            take no new instances on HOST\n"
    "  enable HOST               undo disable\n"
    "  force-down HOST [--off]   report HOST DOWN whatever its heartbeat says\n"
    "                            (--off: stop forcing)\n"
    "\n"
    "Options:\n"
    "  --json      machine-readable output\n"
    "  -h, --help  this help\n"
    "\n"
    "Exit status: 0 success (is-up: UP), 1 failure (is-up: DOWN),\n"
    "2 usage or configuration error, 3 backend unreachable (is-up: UNKNOWN).\n";

/* Everything a service subcommand needs once its arguments are parsed. */
typedef struct svc {
    dv_cli *cli;
    dv_sg *sg;
    const char *group;
} svc;

static int svc_open(dv_cli *cli, svc *s)
{
    s->cli = cli;
    return dv_cli_open_sg(cli, &s->sg, &s->group);
}

static void print_table(const drover_member *m, size_t n, const char *group)
{
    int64_t now = dv_wall_ms();
    int w = 4;
    char age[32];

    for (size_t i = 0; i < n; i++)
        if ((int)strlen(m[i].host) > w)
            w = (int)strlen(m[i].host);
    printf("%-*s  %-7s  %-8s  %-11s  %-10s  %s\n", w, "HOST", "STATE", "ADMIN", "FORCED-DOWN",
           "LAST-SEEN", "REASON");
    for (size_t i = 0; i < n; i++)
        printf("%-*s  %-7s  %-8s  %-11s  %-10s  %s\n", w, m[i].host,
               drover_liveness_name(m[i].state), m[i].disabled ? "disabled" : "enabled",
               m[i].forced_down ? "yes" : "no", dv_fmt_age(now, m[i].last_seen_ms, age, sizeof age),
               m[i].disabled_reason ? m[i].disabled_reason : "");
    if (n == 0)
        printf("(group \"%s\" has no members)\n", group);
}

static int do_list(svc *s)
{
    drover_member *m;
    size_t n;
    drover_error err;

    /* the table shows no reports: the liveness-only sweep is much cheaper */
    if ((s->cli->json ? dv_sg_get_all : dv_sg_get_states)(s->sg, s->group, &m, &n, &err) < 0)
        return dv_cli_fail(s->cli, &err);
    if (s->cli->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(arr, dv_member_json(&m[i]));
        dv_print_json(stdout, arr);
    } else {
        print_table(m, n, s->group);
    }
    drover_members_free(m, n);
    return DV_EXIT_OK;
}

static int do_show(svc *s, const char *host)
{
    drover_member m;
    drover_error err;
    char t[40], age[32];

    if (dv_sg_get(s->sg, s->group, host, &m, &err) < 0)
        return dv_cli_fail(s->cli, &err);
    if (s->cli->json) {
        dv_print_json(stdout, dv_member_json(&m));
    } else {
        printf("host:         %s\ngroup:        %s\nstate:        %s\n", m.host, m.group,
               drover_liveness_name(m.state));
        printf("admin:        %s%s%s\n", m.disabled ? "disabled" : "enabled",
               m.disabled_reason ? " - " : "", m.disabled_reason ? m.disabled_reason : "");
        printf("forced-down:  %s\n", m.forced_down ? "yes" : "no");
        printf("last-seen:    %s (%s)\n", dv_fmt_time(m.last_seen_ms, t, sizeof t),
               dv_fmt_age(dv_wall_ms(), m.last_seen_ms, age, sizeof age));
        if (m.report) {
            const drover_report *r = m.report;
            char hv[32], lv[32];
            printf("hypervisor:   %s %s (libvirt %s)\n", r->hypervisor_type,
                   dv_version_format(r->hypervisor_version, hv, sizeof hv),
                   dv_version_format(r->libvirt_version, lv, sizeof lv));
            printf("arch:         %s, %u vCPUs\n", r->arch, r->vcpus);
            printf("memory:       %llu MiB total, %llu MiB free\n",
                   (unsigned long long)r->memory_total_mib, (unsigned long long)r->memory_free_mib);
            printf("migration:    %s\n", r->migration_uri);
            printf("instances:    %zu\n", r->n_instances);
        } else {
            printf("report:       %s\n", m.report_json ? "(stored, but cannot be decoded)" : "(none yet)");
        }
    }
    drover_member_clear(&m);
    return DV_EXIT_OK;
}

static int do_is_up(svc *s, const char *host)
{
    drover_liveness st;
    drover_error err;
    int rc = dv_sg_is_up(s->sg, s->group, host, &st, &err);

    if (rc < 0 && err.code != DROVER_ERR_UNREACHABLE)
        return dv_cli_fail(s->cli, &err);
    if (s->cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "host", json_object_new_string(host));
        json_object_object_add(o, "state", json_object_new_string(drover_liveness_name(st)));
        if (rc < 0)
            json_object_object_add(o, "reason", json_object_new_string(err.message));
        dv_print_json(stdout, o);
    } else {
        printf("%s\n", drover_liveness_name(st));
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", s->cli->prog, err.message);
        return DV_EXIT_UNREACHABLE;
    }
    return st == DROVER_UP ? DV_EXIT_OK : DV_EXIT_FAIL;
}

static int do_admin(svc *s, const char *cmd, const char *host, const char *reason, bool off)
{
    drover_error err;
    int rc;

    if (strcmp(cmd, "disable") == 0)
        rc = dv_sg_set_disabled(s->sg, s->group, host, true, reason, &err);
    else if (strcmp(cmd, "enable") == 0)
        rc = dv_sg_set_disabled(s->sg, s->group, host, false, NULL, &err);
    else
        rc = dv_sg_set_forced_down(s->sg, s->group, host, !off, &err);
    if (rc < 0)
        return dv_cli_fail(s->cli, &err);
    return do_show(s, host);
}

int cmd_service(dv_cli *cli, int argc, char **argv)
{
    dv_cli_args a;
    svc s = { 0 };
    const char *cmd;
    int rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(service_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? DV_EXIT_USAGE : DV_EXIT_OK;
    }
    if ((rc = dv_cli_parse_sub(cli, "service", argc, argv, &a)) != DV_EXIT_OK)
        return rc;
    if (a.help) {
        fputs(service_help, stdout);
        return DV_EXIT_OK;
    }
    if ((rc = svc_open(cli, &s)) != DV_EXIT_OK)
        return rc;
    cmd = a.spec->name;
    if (strcmp(cmd, "list") == 0)
        rc = do_list(&s);
    else if (strcmp(cmd, "show") == 0)
        rc = do_show(&s, a.host);
    else if (strcmp(cmd, "is-up") == 0)
        rc = do_is_up(&s, a.host);
    else
        rc = do_admin(&s, cmd, a.host, a.value, a.flag);
    dv_sg_close(s.sg);
    return rc;
}
