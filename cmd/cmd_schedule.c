/* cmd_schedule.c - `drover schedule INSTANCE`: where can this instance go?
 *
 * The arguments and the output; the placement itself is dv_schedule's
 * (scheduler/schedule.c).  A question only, unless --claim: then the
 * instance's memory is held on the chosen host until a migration releases
 * it or scheduler.claim_ttl_s passes (the migrator claims for itself). */
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/model.h"
#include "store/store.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"

#include <stdlib.h>
#include <string.h>

static const char schedule_help[] =
    "Usage: drover [-c FILE] [--json] schedule INSTANCE [--to HOST] [--ignore HOST]...\n"
    "                                          [--explain] [--claim]\n"
    "\n"
    "Pick a destination for a live migration of INSTANCE (its name or UUID, as\n"
    "its host reports it; it must be running or paused).  The hosts that pass\n"
    "scheduler.filters are weighed; the best is asked, through its own libvirt,\n"
    "whether it can run the guest (hypervisor type and version, free memory, the\n"
    "guest's CPU).  A host that says no is skipped, up to scheduler.max_retries.\n"
    "A question only: nothing is held unless --claim is given.\n"
    "\n"
    "Options:\n"
    "  --to HOST      this destination only: the filters are skipped, but it must\n"
    "                 be UP, of the same hypervisor type, not older, big enough,\n"
    "                 and pass the live checks\n"
    "  --ignore HOST  never choose HOST (may be repeated)\n"
    "  --explain      every host's verdict and why\n"
    "  --claim        hold the instance's memory on the chosen host in the state\n"
    "                 db (until a migration releases it or scheduler.claim_ttl_s)\n"
    "  --json         machine-readable output\n"
    "  -h, --help     this help\n"
    "\n"
    "Exit status: 0 a host was found (and, with --claim, claimed), 1 no valid\n"
    "host (or the instance cannot be moved), 2 usage or configuration error,\n"
    "3 backend unreachable.\n";

#define MAX_IGNORE 64

typedef struct sched_args {
    const char *instance;
    const char *to;
    const char *ignore[MAX_IGNORE];
    size_t n_ignore;
    bool explain;
    bool claim;
} sched_args;

/* "--to HOST" or "--to=HOST"; *i is advanced past a separate value. */
static int value_of(const char *opt, int argc, char **argv, int *i, const char **out,
                    drover_error *err)
{
    size_t ol = strlen(opt);
    const char *a = argv[*i];

    if (a[ol] == '=') {
        *out = a + ol + 1;
    } else if (*i + 1 < argc) {
        *out = argv[++*i];
    } else {
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s needs a host name", opt);
    }
    if (!**out)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s needs a host name", opt);
    return 0;
}

static bool is_opt(const char *a, const char *opt)
{
    size_t ol = strlen(opt);
    return strncmp(a, opt, ol) == 0 && (a[ol] == '\0' || a[ol] == '=');
}

static int parse(dv_cli *cli, int argc, char **argv, sched_args *s, drover_error *err)
{
    bool opts = true;

    memset(s, 0, sizeof *s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && is_opt(a, "--to")) {
            if (value_of("--to", argc, argv, &i, &v, err) < 0)
                return -1;
            if (s->to)
                return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "--to given twice");
            s->to = v;
        } else if (opts && is_opt(a, "--ignore")) {
            if (value_of("--ignore", argc, argv, &i, &v, err) < 0)
                return -1;
            if (s->n_ignore == MAX_IGNORE)
                return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                              "at most %d --ignore options", MAX_IGNORE);
            s->ignore[s->n_ignore++] = v;
        } else if (opts && strcmp(a, "--explain") == 0) {
            s->explain = true;
        } else if (opts && strcmp(a, "--claim") == 0) {
            s->claim = true;
        } else if (opts && strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (opts && a[0] == '-' && a[1]) {
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "unknown option '%s'", a);
        } else if (s->instance) {
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "one instance at a time: '%s' and '%s' given", s->instance, a);
        } else {
            s->instance = a;
        }
    }
    if (!s->instance)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "which instance? give its name or UUID");
    if (s->to && s->n_ignore)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "--ignore has no effect with --to: give one or the other");
    for (size_t k = 0; k < s->n_ignore; k++)
        if (dv_name_check("--ignore host", s->ignore[k], err) < 0)
            return -1;
    if (s->to && dv_name_check("--to host", s->to, err) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- output */

static const char *verdict_name(dv_verdict_kind k)
{
    switch (k) {
    case DV_VERDICT_FILTERED: return "filtered";
    case DV_VERDICT_CANDIDATE: return "candidate";
    case DV_VERDICT_LIVE_FAILED: return "live-failed";
    case DV_VERDICT_CLAIM_FAILED: return "claim-lost";
    case DV_VERDICT_CHOSEN: return "chosen";
    case DV_VERDICT_NONE: break;
    }
    return "not-looked-at";
}

/* chosen, then the hosts that were tried and failed, the candidates by
 * weight, the filtered ones; by name within each */
static int rank(dv_verdict_kind k)
{
    static const int r[] = { [DV_VERDICT_CHOSEN] = 0, [DV_VERDICT_LIVE_FAILED] = 1,
                             [DV_VERDICT_CLAIM_FAILED] = 1, [DV_VERDICT_CANDIDATE] = 2,
                             [DV_VERDICT_FILTERED] = 3, [DV_VERDICT_NONE] = 4 };
    return r[k];
}

static int by_verdict(const void *a, const void *b, void *arg)
{
    const dv_sched_result *res = arg;
    const dv_verdict *x = &res->verdicts[*(const size_t *)a];
    const dv_verdict *y = &res->verdicts[*(const size_t *)b];
    if (rank(x->kind) != rank(y->kind))
        return rank(x->kind) - rank(y->kind);
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return strcmp(res->verdict_hosts[*(const size_t *)a], res->verdict_hosts[*(const size_t *)b]);
}

static size_t *verdict_order(const dv_sched_result *res)
{
    size_t *idx = calloc(res->n_verdicts ? res->n_verdicts : 1, sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < res->n_verdicts; i++)
        idx[i] = i;
    qsort_r(idx, res->n_verdicts, sizeof *idx, by_verdict, (void *)res);
    return idx;
}

static void explain_text(const dv_sched_result *res)
{
    size_t *idx = verdict_order(res);
    int w = 4;

    if (!idx)
        return;
    for (size_t i = 0; i < res->n_verdicts; i++)
        if ((int)strlen(res->verdict_hosts[i]) > w)
            w = (int)strlen(res->verdict_hosts[i]);
    printf("%-*s  %-13s  %6s  %s\n", w, "HOST", "VERDICT", "WEIGHT", "WHY");
    for (size_t k = 0; k < res->n_verdicts; k++) {
        const dv_verdict *v = &res->verdicts[idx[k]];
        bool weighed = v->kind == DV_VERDICT_CANDIDATE || v->kind == DV_VERDICT_CHOSEN ||
                       v->kind == DV_VERDICT_LIVE_FAILED || v->kind == DV_VERDICT_CLAIM_FAILED;
        char wbuf[16] = "-";
        if (weighed)
            snprintf(wbuf, sizeof wbuf, "%.3f", v->weight);
        printf("%-*s  %-13s  %6s  %s\n", w, res->verdict_hosts[idx[k]], verdict_name(v->kind), wbuf,
               v->kind == DV_VERDICT_NONE ? "" : v->reason);
    }
    free(idx);
}

static void result_text(const dv_sched_result *res, const dv_config *cfg)
{
    printf("destination: %s\n", res->host);
    printf("instance:    %s (%s), %llu MiB, on %s\n", res->instance_name, res->instance_uuid,
           (unsigned long long)res->memory_mib, res->source);
    if (res->claim_id)
        printf("claim:       %lld (%llu MiB held on %s for %d s, until the migration releases it)\n",
               (long long)res->claim_id, (unsigned long long)res->memory_mib, res->host,
               cfg->scheduler.claim_ttl_s);
    else
        printf("claim:       none (a question only; --claim holds the memory there)\n");
    printf("tried:       %zu of %zu candidates (%zu hosts)\n", res->tries, res->n_candidates,
           res->n_hosts);
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *result_json(const dv_sched_result *res, const drover_error *err)
{
    json_object *o = json_object_new_object(), *rej = json_object_new_object();

    if (res->instance_name) {
        json_object *in = json_object_new_object();
        json_object_object_add(in, "name", json_object_new_string(res->instance_name));
        json_object_object_add(in, "uuid", json_object_new_string(res->instance_uuid));
        json_object_object_add(in, "memory_mib", json_object_new_int64((int64_t)res->memory_mib));
        json_object_object_add(o, "instance", in);
    }
    json_object_object_add(o, "source", str_or_null(res->source));
    json_object_object_add(o, "destination", str_or_null(res->host));
    json_object_object_add(o, "claim_id", res->claim_id ? json_object_new_int64(res->claim_id) : NULL);
    json_object_object_add(o, "hosts", json_object_new_int64((int64_t)res->n_hosts));
    json_object_object_add(o, "candidates", json_object_new_int64((int64_t)res->n_candidates));
    json_object_object_add(o, "tries", json_object_new_int64((int64_t)res->tries));
    for (size_t f = 0; f < res->n_filters; f++)
        json_object_object_add(rej, res->filter_names[f],
                               json_object_new_int64((int64_t)res->rejected[f]));
    json_object_object_add(o, "rejected_by_filter", rej);
    json_object_object_add(o, "live_failures", json_object_new_int64((int64_t)res->live_failures));
    json_object_object_add(o, "claim_conflicts", json_object_new_int64((int64_t)res->claim_conflicts));
    json_object_object_add(o, "failed_check", str_or_null(res->failed_check));
    if (err) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "code", json_object_new_string(drover_code_name(err->code)));
        json_object_object_add(e, "message", json_object_new_string(err->message));
        json_object_object_add(o, "error", e);
    } else {
        json_object_object_add(o, "error", NULL);
    }
    if (res->verdicts) {
        json_object *arr = json_object_new_array();
        size_t *idx = verdict_order(res);
        for (size_t k = 0; idx && k < res->n_verdicts; k++) {
            const dv_verdict *v = &res->verdicts[idx[k]];
            json_object *h = json_object_new_object();
            json_object_object_add(h, "host", json_object_new_string(res->verdict_hosts[idx[k]]));
            json_object_object_add(h, "verdict", json_object_new_string(verdict_name(v->kind)));
            json_object_object_add(h, "filter",
                                   v->filter >= 0 ? json_object_new_string(res->filter_names[v->filter])
                                                  : NULL);
            json_object_object_add(h, "weight", json_object_new_double(v->weight));
            json_object_object_add(h, "reason", json_object_new_string(v->reason));
            json_object_array_add(arr, h);
        }
        free(idx);
        json_object_object_add(o, "verdicts", arr);
    }
    return o;
}

/* ---------------------------------------------------------------- the run */

static int exit_code(const drover_error *err)
{
    switch (err->code) {
    case DROVER_ERR_UNREACHABLE: return DV_EXIT_UNREACHABLE;
    case DROVER_ERR_CONFIG: return DV_EXIT_USAGE;
    default: return DV_EXIT_FAIL;   /* no valid host, no such instance, not running, ... */
    }
}

/* The servicegroup to read the hosts from and the state store of the
 * claims (state = { }: shared by every scheduler of the deployment). */
static int open_backends(const dv_config *cfg, dv_sg **sg, dv_store **st, drover_error *err)
{
    if (dv_sg_open(cfg, sg, err) < 0)
        return -1;
    if (dv_store_open(cfg, st, err) < 0) {
        dv_err_prefix(err, "the state store holds the scheduler's claims");
        return -1;
    }
    return 0;
}

static void print_result(const dv_cli *cli, const sched_args *a, const dv_sched_result *res,
                         int rc, const drover_error *err)
{
    if (cli->json) {
        dv_print_json(stdout, result_json(res, rc < 0 ? err : NULL));
        return;
    }
    if (a->explain && res->verdicts)
        explain_text(res);
    if (rc == 0)
        result_text(res, cli->cfg);
}

int cmd_schedule(dv_cli *cli, int argc, char **argv)
{
    dv_sg *sg = NULL;
    dv_store *db = NULL;
    dv_sched_opts o;
    dv_sched_result res = { 0 };
    sched_args a;
    drover_error err;
    int rc;

    if (dv_cli_wants_help(argc, argv)) {
        fputs(schedule_help, stdout);
        return DV_EXIT_OK;
    }
    if (parse(cli, argc, argv, &a, &err) < 0)
        return dv_cli_usage_error(cli, "schedule ", "%s", err.message);
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    if (open_backends(cli->cfg, &sg, &db, &err) < 0) {
        rc = dv_cli_fail(cli, &err);
        goto out;
    }
    memset(&o, 0, sizeof o);
    o.instance = a.instance;
    o.dest = a.to;
    o.ignore = a.ignore;
    o.n_ignore = a.n_ignore;
    o.explain = a.explain;
    o.claim = a.claim;
    rc = dv_schedule(cli->cfg, sg, db, &o, &res, &err);
    print_result(cli, &a, &res, rc, &err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cli->prog, err.message);
        rc = exit_code(&err);
    }
out:
    dv_sched_result_clear(&res);
    dv_store_close(db);
    dv_sg_close(sg);
    return rc;
}
