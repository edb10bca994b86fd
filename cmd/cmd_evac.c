/* cmd_evac.c - `drover evacuation status|list|show ID` (what the controller's
 * last sweep saw and the evacuation journal) and `drover host evacuate HOST
 * [--rebuild] [--force]` (an operator's evacuation, through the same steps
 * and the same gates as the controller's, unless --force; a rebuild always
 * waits for a confirmed fence). */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/clock.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "evacuator/journal.h"
#include "evacuator/lease.h"
#include "evacuator/sweep.h"
#include "store/store.h"
#include "virt/virt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_evacuation(dv_cli *cli, int argc, char **argv);
int cmd_host_evacuate(dv_cli *cli, int argc, char **argv);

static const char evac_help[] =
    "Usage: drover [-c FILE] [--json] evacuation COMMAND [ARGS]\n"
    "\n"
    "The evacuator run by droverd --controller.\n"
    "\n"
    "Commands:\n"
    "  status      the controller's last sweep: leader and epoch, the breaker and\n"
    "              why, the candidate hosts with their timers, the rate tokens\n"
    "  list        every evacuation in the journal\n"
    "  show ID     one evacuation: its guests and every step, with its epoch\n"
    "\n"
    "Options:\n"
    "  --json      machine-readable output\n"
    "  -h, --help  this help\n"
    "\n"
    "Exit status: 0 success, 1 failure (no such evacuation), 2 usage or\n"
    "configuration error, 3 store unreachable.\n";

static const char evacuate_help[] =
    "Usage: drover [-c FILE] [--json] host evacuate HOST [--rebuild] [--force]\n"
    "\n"
    "Evacuate HOST now, as the controller would: its libvirt asked directly; it\n"
    "answers -> disabled and drained live; it does not -> disabled, forced down,\n"
    "evacuator.fence_command run, and only after a confirmed fence, in mode\n"
    "\"rebuild\" (or with --rebuild), its guests rebuilt elsewhere.  The gates\n"
    "hold as for the controller (HOST DOWN for evacuator.grace, the breaker\n"
    "closed) unless --force; --force never rebuilds without a confirmed fence.\n"
    "The evacuator lease is taken for it: refused while a controller holds it.\n"
    "\n"
    "Options:\n"
    "  --rebuild   rebuild after a confirmed fence even in mode \"live\"\n"
    "  --force     skip the gates (grace, breaker)\n"
    "  --json      the evacuation's journal record\n"
    "  -h, --help  this help\n";

typedef struct ev_args {
    const char *cmd, *arg;
    bool help, rebuild, force;
} ev_args;

static int parse(dv_cli *cli, const char *what, int argc, char **argv, ev_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--json") == 0)
            cli->json = true;
        else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)
            a->help = true;
        else if (strcmp(s, "--rebuild") == 0)
            a->rebuild = true;
        else if (strcmp(s, "--force") == 0)
            a->force = true;
        else if (s[0] == '-')
            return dv_cli_usage_error(cli, what, "unknown option '%s'", s);
        else if (!a->cmd)
            a->cmd = s;
        else if (!a->arg)
            a->arg = s;
        else
            return dv_cli_usage_error(cli, what, "unexpected argument '%s'", s);
    }
    return DV_EXIT_OK;
}

static int open_store(dv_cli *cli, dv_store **st)
{
    drover_error err;
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (dv_store_open(cli->cfg, st, &err) < 0)
        return dv_cli_fail(cli, &err);
    return DV_EXIT_OK;
}

/* ---------------------------------------------------------------- status */

static void status_text(json_object *o, const dv_store_lease *l)
{
    json_object *c = NULL, *x;
    char t[64];

    printf("leader:     %s (epoch %" PRId64 ")\n", l->holder && *l->holder ? l->holder : "none",
           l->epoch);
    if (!o) {
        printf("last sweep: none recorded\n");
        return;
    }
#define S(k) (json_object_object_get_ex(o, k, &x) ? json_object_get_string(x) : "")
#define I(k) (json_object_object_get_ex(o, k, &x) ? json_object_get_int64(x) : 0)
    printf("last sweep: %s by %s (epoch %" PRId64 ")\n", dv_fmt_time(I("time_ms"), t, sizeof t),
           S("leader"), I("epoch"));
    printf("members:    %" PRId64 " (%" PRId64 " DOWN, %" PRId64 " UNKNOWN)\n", I("members"),
           I("down"), I("unknown"));
    printf("breaker:    %s%s%s\n",
           json_object_object_get_ex(o, "breaker_open", &x) && json_object_get_boolean(x)
               ? "OPEN"
               : "closed",
           *S("breaker_why") ? ": " : "", S("breaker_why"));
    printf("tokens:     %s (next in %" PRId64 " ms)\n", S("tokens"), I("next_token_ms"));
    json_object_object_get_ex(o, "candidates", &c);
    printf("candidates: %zu\n", c ? json_object_array_length(c) : (size_t)0);
    for (size_t i = 0; c && i < json_object_array_length(c); i++) {
        json_object *e = json_object_array_get_idx(c, i), *y;
#define E(k) (json_object_object_get_ex(e, k, &y) ? json_object_get_string(y) : "")
        printf("  %-20s %-8s %-14s down %5.1fs of %5.1fs  %s\n", E("host"), E("state"),
               E("verdict"), (double)atoll(E("down_ms")) / 1000.0,
               (double)atoll(E("grace_ms")) / 1000.0, E("why"));
#undef E
    }
#undef S
#undef I
}

static int status(dv_cli *cli, dv_store *st)
{
    dv_store_record r;
    dv_store_lease l = { 0 };
    drover_error err;
    json_object *o = NULL;

    if (dv_store_lease_get(st, DV_EVAC_LEASE, &l, &err) < 0 && err.code != DROVER_ERR_NOT_FOUND)
        return dv_cli_fail(cli, &err);
    if (dv_store_record_get(st, DV_EVAC_STATUS_KIND, DV_EVAC_STATUS_ID, &r, &err) == 0) {
        o = json_tokener_parse(r.json);
        dv_store_record_clear(&r);
    } else if (err.code != DROVER_ERR_NOT_FOUND) {
        dv_store_lease_clear(&l);
        return dv_cli_fail(cli, &err);
    }
    if (cli->json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "lease_holder", json_object_new_string(l.holder ? l.holder : ""));
        json_object_object_add(out, "lease_epoch", json_object_new_int64(l.epoch));
        json_object_object_add(out, "last_sweep", o);
        dv_print_json(stdout, out);
    } else {
        status_text(o, &l);
        json_object_put(o);
    }
    dv_store_lease_clear(&l);
    return DV_EXIT_OK;
}

/* ---------------------------------------------------------------- list, show */

static void counts(const dv_evac *e, size_t *moved, size_t *failed)
{
    *moved = *failed = 0;
    for (size_t i = 0; i < e->n_guests; i++) {
        const char *o = e->guests[i].outcome;
        *moved += strcmp(o, "rebuilt") == 0 || strcmp(o, "migrated") == 0;
        *failed += strcmp(o, "failed") == 0 || strcmp(o, "unplaced") == 0;
    }
}

static json_object *evac_json(const dv_evac *e)
{
    char *s = NULL;
    drover_error err;
    json_object *o;
    if (dv_evac_to_json(e, &s, &err) < 0)
        return NULL;
    o = json_tokener_parse(s);
    free(s);
    return o;
}

static int list(dv_cli *cli, dv_store *st)
{
    dv_evac *v;
    size_t n;
    drover_error err;
    char t[64];

    if (dv_evac_list(st, &v, &n, &err) < 0)
        return dv_cli_fail(cli, &err);
    if (cli->json) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, evac_json(&v[i]));
        dv_print_json(stdout, a);
    } else {
        printf("%-36s %-16s %-10s %-8s %-6s %-14s %s\n", "ID", "HOST", "STATE", "PATH", "FENCED",
               "GUESTS", "STARTED");
        for (size_t i = 0; i < n; i++) {
            size_t moved, failed;
            char g[32];
            counts(&v[i], &moved, &failed);
            snprintf(g, sizeof g, "%zu/%zu moved", moved, v[i].n_guests);
            printf("%-36s %-16s %-10s %-8s %-6s %-14s %s\n", v[i].id, v[i].host, v[i].state,
                   *v[i].path ? v[i].path : "-", v[i].fenced ? "yes" : "no", g,
                   dv_fmt_time(v[i].started_ms, t, sizeof t));
        }
    }
    dv_evacs_free(v, n);
    return DV_EXIT_OK;
}

static void show_text(const dv_evac *e)
{
    char t[64];

    printf("id:       %s\nhost:     %s\nstate:    %s%s\npath:     %s\nfenced:   %s\n"
           "epoch:    %" PRId64 "\nstarted:  %s\n",
           e->id, e->host, e->state, e->done ? " (done)" : "", *e->path ? e->path : "-",
           e->fenced ? "yes" : "no", e->epoch, dv_fmt_time(e->started_ms, t, sizeof t));
    printf("guests:\n");
    for (size_t i = 0; i < e->n_guests; i++) {
        const dv_evac_guest *g = &e->guests[i];
        printf("  %-20s %s %6" PRIu64 " MiB  %-9s %-16s %s\n", g->name, g->uuid, g->memory_mib,
               *g->outcome ? g->outcome : "pending", *g->dest ? g->dest : "-", g->why);
    }
    printf("steps:\n");
    for (size_t i = 0; i < e->n_steps; i++)
        printf("  %s  epoch %-4" PRId64 " %-16s %s\n",
               dv_fmt_time(e->steps[i].t_ms, t, sizeof t), e->steps[i].epoch,
               e->steps[i].step, e->steps[i].msg);
}

static int show(dv_cli *cli, dv_store *st, const char *id)
{
    drover_error err;
    dv_evac e;

    if (dv_evac_get(st, id, &e, &err) < 0)
        return dv_cli_fail(cli, &err);
    if (cli->json)
        dv_print_json(stdout, evac_json(&e));
    else
        show_text(&e);
    dv_evac_clear(&e);
    return DV_EXIT_OK;
}

int cmd_evacuation(dv_cli *cli, int argc, char **argv)
{
    dv_store *st;
    ev_args a;
    int rc;

    if ((rc = parse(cli, "evacuation", argc, argv, &a)) != DV_EXIT_OK)
        return rc;
    if (a.help || !a.cmd) {
        fputs(evac_help, a.help ? stdout : stderr);
        return a.help ? DV_EXIT_OK : DV_EXIT_USAGE;
    }
    if (strcmp(a.cmd, "status") && strcmp(a.cmd, "list") && strcmp(a.cmd, "show"))
        return dv_cli_usage_error(cli, "evacuation", "unknown command '%s'", a.cmd);
    if (strcmp(a.cmd, "show") == 0 && !a.arg)
        return dv_cli_usage_error(cli, "evacuation", "show needs an evacuation ID");
    if ((rc = open_store(cli, &st)) != DV_EXIT_OK)
        return rc;
    if (strcmp(a.cmd, "status") == 0)
        rc = status(cli, st);
    else if (strcmp(a.cmd, "list") == 0)
        rc = list(cli, st);
    else
        rc = show(cli, st, a.arg);
    dv_store_close(st);
    return rc;
}

/* ---------------------------------------------------------------- host evacuate */

/* The controller's gates for one host, from what the backend says now:
 * DOWN (never UNKNOWN) for evacuator.grace past service_down_time, and the
 * breaker closed.  1 = held (why says), 0 = may go, -1 = cannot tell. */
static int gates_hold(const dv_config *cfg, dv_sg *sg, const drover_member *m, char *why,
                      size_t len, drover_error *err)
{
    drover_member *all;
    size_t n, down = 0;
    int64_t since;

    if (m->state != DROVER_DOWN) {
        snprintf(why, len, "%s is %s: only a DOWN host is evacuated (--force to override)",
                 m->host, drover_liveness_name(m->state));
        return 1;
    }
    since = m->last_seen_ms ? dv_wall_ms() - m->last_seen_ms -
                                  (int64_t)cfg->servicegroup.service_down_time * 1000
                            : INT64_MAX;
    if (!m->forced_down && since < (int64_t)cfg->evacuator.grace * 1000) {
        snprintf(why, len, "%s has been DOWN for %.1f s, its grace is %d s (--force to override)",
                 m->host, (double)(since > 0 ? since : 0) / 1000.0, cfg->evacuator.grace);
        return 1;
    }
    if (dv_sg_get_states(sg, cfg->agent.group, &all, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        down += all[i].state == DROVER_DOWN;
    drover_members_free(all, n);
    if (n && (double)down / (double)n > cfg->evacuator.max_down_fraction) {
        snprintf(why, len, "the breaker is open: %zu of %zu members DOWN, more than "
                 "max_down_fraction %.2f (--force to override)", down, n,
                 cfg->evacuator.max_down_fraction);
        return 1;
    }
    return 0;
}

typedef struct evac_run {
    dv_sg *sg;
    dv_store *st;
    dv_evac_lease lease;           /* the controllers' lease, for this run */
} evac_run;

static int evac_open(dv_cli *cli, evac_run *r, drover_error *err)
{
    char host[256] = "drover", holder[300];
    const dv_config *c = cli->cfg;

    gethostname(host, sizeof host - 1);
    snprintf(holder, sizeof holder, "drover@%s:%ld", host, (long)getpid());
    if (dv_virt_init(err) < 0 || dv_sg_open(c, &r->sg, err) < 0 ||
        dv_store_open(c, &r->st, err) < 0)
        return -1;
    /* the controllers' lease life: a killed `drover host evacuate` holds
     * them off no longer than a dead controller would */
    dv_evac_lease_init(&r->lease, r->st, holder, dv_evac_lease_ttl_ms(c));
    return 0;
}

static void evac_close(evac_run *r)
{
    if (r->lease.store) {
        dv_evac_lease_release(&r->lease);
        dv_evac_lease_fini(&r->lease);
    }
    dv_store_close(r->st);
    dv_sg_close(r->sg);
}

static void lease_tick(void *arg)
{
    dv_evac_lease_tick(arg);
}

static int evacuate(dv_cli *cli, evac_run *r, const char *host, const ev_args *a)
{
    const dv_config *c = cli->cfg;
    dv_sweep_result res;
    drover_member m;
    drover_error err;
    dv_sweeper sw;
    char why[512];
    dv_evac e;
    int rc;

    if (dv_sg_get(r->sg, c->agent.group, host, &m, &err) < 0)
        return dv_cli_fail(cli, &err);
    rc = a->force ? 0 : gates_hold(c, r->sg, &m, why, sizeof why, &err);
    drover_member_clear(&m);
    if (rc < 0)
        return dv_cli_fail(cli, &err);
    if (rc > 0) {
        fprintf(stderr, "%s: not evacuated: %s\n", cli->prog, why);
        return DV_EXIT_FAIL;
    }
    if (dv_evac_lease_acquire(&r->lease, &err) < 0) {
        dv_err_prefix(&err, "the evacuator lease");
        return dv_cli_fail(cli, &err);
    }
    if (dv_sweeper_init(&sw, c, r->sg, r->st, r->st, &err) < 0)
        return dv_cli_fail(cli, &err);
    sw.holder = r->lease.holder;
    sw.epoch = r->lease.epoch;
    sw.tick = lease_tick;          /* a drain may outlast the lease */
    sw.tick_arg = &r->lease;
    sw.only_host = host;
    sw.force = true;               /* the gates were checked above */
    sw.force_rebuild = a->rebuild;
    rc = dv_sweep(&sw, &res, &err);
    dv_sweeper_fini(&sw);
    if (rc < 0)
        return dv_cli_fail(cli, &err);
    {
        dv_evac *v;
        size_t n;
        dv_evac *x;
        if (dv_evac_list(r->st, &v, &n, &err) < 0)
            return dv_cli_fail(cli, &err);
        if (!(x = dv_evac_latest(v, n, host))) {
            dv_evacs_free(v, n);
            fprintf(stderr, "%s: %s was not evacuated (nothing recorded)\n", cli->prog, host);
            return DV_EXIT_FAIL;
        }
        e = *x;
        memset(x, 0, sizeof *x);
        dv_evacs_free(v, n);
    }
    if (cli->json)
        dv_print_json(stdout, evac_json(&e));
    else
        show_text(&e);
    rc = e.done ? DV_EXIT_OK : DV_EXIT_FAIL;
    dv_evac_clear(&e);
    return rc;
}

int cmd_host_evacuate(dv_cli *cli, int argc, char **argv)
{
    drover_error err;
    evac_run r = { 0 };
    ev_args a;
    int rc;

    if ((rc = parse(cli, "host evacuate", argc, argv, &a)) != DV_EXIT_OK)
        return rc;
    if (a.help) {
        fputs(evacuate_help, stdout);
        return DV_EXIT_OK;
    }
    if (!a.cmd || a.arg)
        return dv_cli_usage_error(cli, "host evacuate", "give exactly one HOST");
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (evac_open(cli, &r, &err) < 0)
        rc = dv_cli_fail(cli, &err);
    else
        rc = evacuate(cli, &r, a.cmd, &a);
    evac_close(&r);
    return rc;
}
