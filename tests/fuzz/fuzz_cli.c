/* fuzz_cli.c - command lines through the parsers of drover and droverd.
 * The input is split at NUL bytes into argv.  A parser either accepts
 * (and every string it returns points into argv) or refuses with
 * DROVER_ERR_INVALID and a non-empty message. */
#include "cmd/cli_parse.h"
#include "cmd/droverd_args.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32

static int in_argv(const char *s, char *buf, size_t len)
{
    return !s || (s >= buf && s < buf + len + 1);
}

static void check_refusal(int rc, const drover_error *err)
{
    if (rc < 0 && (err->code != DROVER_ERR_INVALID || !err->message[0]))
        abort();
}

static void run_drover(int argc, char **argv, char *buf, size_t len)
{
    dv_cli_global g;
    dv_cli_action act;
    dv_cli_args a;
    drover_error err = { 0 };
    int next = 0, rc;
    const dv_cli_spec *spec;

    rc = dv_cli_parse_global(argc, argv, &g, &act, &next, &err);
    check_refusal(rc, &err);
    if (rc < 0 || act != DV_CLI_RUN)
        return;
    if (next < 1 || next >= argc || !in_argv(g.config_path, buf, len))
        abort();
    /* argv[next] is the group ("service"), argv[next + 1] the command */
    spec = dv_cli_spec_find(argv[next], next + 1 < argc ? argv[next + 1] : NULL, &err);
    if (!spec) {
        check_refusal(-1, &err);
        return;
    }
    rc = dv_cli_parse_args(spec, argc - next - 1, argv + next + 1, &a, &err);
    check_refusal(rc, &err);
    if (rc == 0 && (!in_argv(a.host, buf, len) || !in_argv(a.value, buf, len) ||
                    (spec->needs_host && !a.host && !a.help)))
        abort();
}

static void run_droverd(int argc, char **argv, char *buf, size_t len)
{
    dv_droverd_args a;
    drover_error err = { 0 };
    int rc = dv_droverd_parse_args(argc, argv, &a, &err);

    check_refusal(rc, &err);
    if (rc == 0 && (!in_argv(a.config_path, buf, len) || !in_argv(a.host, buf, len) ||
                    !in_argv(a.libvirt_uri, buf, len) || !in_argv(a.migration_uri, buf, len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 0;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    argv[argc++] = (char *)"prog";
    for (char *p = buf; argc <= MAX_ARGS && p <= buf + size; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    run_drover(argc, argv, buf, size);
    run_droverd(argc, argv, buf, size);
    free(buf);
    return 0;
}
