/* fence.c - running evacuator.fence_command for one host (see fence.h). */
#include "evacuator/fence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dv_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

static char *expand_item(const char *t, const char *host)
{
    size_t hl = strlen(host), n = 0;
    char *out, *o;

    for (const char *p = t; *p; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            n += hl;
            p++;
        } else {
            n++;
            p += p[0] == '%' && p[1] == '%';
        }
    }
    if (!(out = malloc(n + 1)))
        return NULL;
    for (o = out; *t; t++) {
        if (t[0] == '%' && t[1] == 'h') {
            memcpy(o, host, hl);
            o += hl;
            t++;
        } else {
            *o++ = *t;
            t += t[0] == '%' && t[1] == '%';
        }
    }
    *o = '\0';
    return out;
}

int dv_command_expand(const dv_strlist *tmpl, const char *host, char ***out, drover_error *err)
{
    char **argv;

    *out = NULL;
    if (!tmpl || tmpl->n == 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the command is empty");
    if (!(argv = calloc(tmpl->n + 1, sizeof *argv)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
    for (size_t i = 0; i < tmpl->n; i++)
        if (!(argv[i] = expand_item(tmpl->v[i], host ? host : ""))) {
            dv_argv_free(argv);
            return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory");
        }
    *out = argv;
    return 0;
}

void dv_fence_result_free(dv_fence_result *res)
{
    if (res)
        dv_proc_result_free(&res->proc);
}

/* The last line of the output, for a message (the whole is in res). */
static void last_line(const dv_proc_result *r, char *buf, size_t len)
{
    size_t end = r->output_len, start;

    buf[0] = '\0';
    while (end > 0 && (r->output[end - 1] == '\n' || r->output[end - 1] == '\r'))
        end--;
    for (start = end; start > 0 && r->output[start - 1] != '\n'; start--)
        ;
    if (end > start)
        snprintf(buf, len, "; it said: %.*s", (int)(end - start), r->output + start);
}

int dv_fence_host(const dv_strlist *cmd, const char *host, int64_t timeout_ms,
                  dv_fence_result *res, drover_error *err)
{
    return dv_fence_host_ticking(cmd, host, timeout_ms, NULL, NULL, res, err);
}

int dv_fence_host_ticking(const dv_strlist *cmd, const char *host, int64_t timeout_ms,
                          void (*tick)(void *arg), void *arg, dv_fence_result *res,
                          drover_error *err)
{
    dv_fence_result local;
    dv_proc_opts o = { .timeout_ms = timeout_ms, .kill_grace_ms = DV_FENCE_KILL_GRACE_MS,
                       .output_max = DV_FENCE_OUTPUT_MAX, .tick = tick, .tick_arg = arg };
    char **argv = NULL, how[256], said[300];
    int rc;

    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (!cmd || cmd->n == 0)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "host %s is not fenced: evacuator.fence_command is empty, so nobody can "
                      "confirm it is off", host);
    if (dv_command_expand(cmd, host, &argv, err) < 0)
        return -1;
    rc = dv_proc_run(argv, &o, &res->proc, err);
    if (rc < 0) {
        dv_err_prefix(err, "fencing host %s with %s", host, argv[0]);
    } else if (res->proc.outcome == DV_PROC_EXITED && res->proc.exit_code == 0) {
        res->confirmed = true;
    } else {
        dv_proc_describe(&res->proc, &o, how, sizeof how);
        last_line(&res->proc, said, sizeof said);
        rc = dv_err(err, DROVER_ERR_IO, DROVER_FROM_CORE,
                    "host %s is not confirmed off: the fence command %s %s%s", host, argv[0],
                    how, said);
    }
    dv_argv_free(argv);
    if (res == &local)
        dv_fence_result_free(res);
    return rc;
}
