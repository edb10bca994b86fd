/* droverd_args.c - parse droverd's options into a plain struct. */
#include "cmd/droverd_args.h"
#include "core/log.h"
#include "core/model.h"

#include <stddef.h>
#include <string.h>

#define invalid(err, ...) dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_AGENT, __VA_ARGS__)

typedef struct valued {
    const char *shrt;           /* "-c" or NULL */
    const char *lng;            /* "--config" */
    const char *what;           /* "a file name" */
    size_t slot;                /* offset of the const char * in dv_droverd_args */
} valued;

static const valued valued_opts[] = {
    { "-c", "--config", "a file name", offsetof(dv_droverd_args, config_path) },
    { NULL, "--host", "a host name", offsetof(dv_droverd_args, host) },
    { NULL, "--libvirt-uri", "a URI", offsetof(dv_droverd_args, libvirt_uri) },
    { NULL, "--migration-uri", "a URI", offsetof(dv_droverd_args, migration_uri) },
    { NULL, "--log-level", "a level (debug, info, warning, error)",
      offsetof(dv_droverd_args, log_level) },
};
#define N_VALUED (sizeof valued_opts / sizeof valued_opts[0])

/* Match argv[*i] against a valued option ("--x V", "--x=V", "-c V"). 1 = taken. */
static int take_value(const valued *o, int argc, char **argv, int *i, dv_droverd_args *out,
                      drover_error *err)
{
    const char *a = argv[*i], *v;
    size_t n = strlen(o->lng);

    if ((o->shrt && strcmp(a, o->shrt) == 0) || strcmp(a, o->lng) == 0) {
        if (*i + 1 >= argc)
            return invalid(err, "%s needs %s", a, o->what);
        v = argv[++*i];
    } else if (strncmp(a, o->lng, n) == 0 && a[n] == '=') {
        v = a + n + 1;
    } else {
        return 0;
    }
    if (!*v)
        return invalid(err, "%s needs %s, not an empty string", o->lng, o->what);
    *(const char **)((char *)out + o->slot) = v;
    return 1;
}

static int check_values(const dv_droverd_args *a, drover_error *err)
{
    if (a->controller && (a->once || a->libvirt_uri || a->migration_uri))
        return invalid(err, "--controller takes no agent option (--once, --libvirt-uri, "
                            "--migration-uri)");
    if (a->log_level && dv_log_level_parse(a->log_level) < 0)
        return invalid(err, "--log-level '%s' is not one of debug, info, warning, error",
                       a->log_level);
    if (a->host && dv_name_check("--host", a->host, err) < 0)
        return -1;
    return 0;
}

int dv_droverd_parse_args(int argc, char **argv, dv_droverd_args *out, drover_error *err)
{
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int taken = 0;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = true;
            return 0;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            out->version = true;
            return 0;
        }
        if (strcmp(a, "--once") == 0) {
            out->once = true;
            continue;
        }
        if (strcmp(a, "--controller") == 0) {
            out->controller = true;
            continue;
        }
        for (size_t k = 0; k < N_VALUED && !taken; k++)
            if ((taken = take_value(&valued_opts[k], argc, argv, &i, out, err)) < 0)
                return -1;
        if (taken)
            continue;
        if (a[0] == '-')
            return invalid(err, "unknown option '%s'", a);
        return invalid(err, "unexpected argument '%s' (droverd takes options only)", a);
    }
    return check_values(out, err);
}
