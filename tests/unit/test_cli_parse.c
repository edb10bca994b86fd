/* test_cli_parse.c - drover's command line: good and bad arguments. */
#include "cmd/cli_parse.h"
#include "tests/tap.h"

#define ARGV(...) (char *[]){ __VA_ARGS__, NULL }
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))

static int global(int argc, char **argv, dv_cli_global *g, dv_cli_action *act, int *next,
                  drover_error *err)
{
    return dv_cli_parse_global(argc, argv, g, act, next, err);
}

#define GLOBAL_OK(desc, ...)                                                                \
    do {                                                                                   \
        rc = global(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &g, &act, &next, &err);          \
        ok(rc == 0, "global: %s", desc);                                                   \
    } while (0)
#define GLOBAL_BAD(desc, needle, ...)                                                       \
    do {                                                                                   \
        rc = global(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &g, &act, &next, &err);          \
        ok(rc == -1 && err.code == DROVER_ERR_INVALID, "global refuses %s", desc);         \
        has_str(err.message, needle, "  and says so");                                     \
    } while (0)

static void test_global(void)
{
    dv_cli_global g;
    dv_cli_action act;
    drover_error err;
    int next = -1, rc;

    GLOBAL_OK("-c FILE then command", "drover", "-c", "/x.conf", "service", "list");
    is_str(g.config_path, "/x.conf", "-c sets the config path");
    is_int(next, 3, "command index after -c FILE");
    is_int(act, DV_CLI_RUN, "action is run");
    GLOBAL_OK("--config=FILE --json", "drover", "--config=/y.conf", "--json", "host", "list");
    is_str(g.config_path, "/y.conf", "--config= sets the path");
    ok(g.json, "--json before the command");
    GLOBAL_OK("--help", "drover", "--help", "whatever");
    is_int(act, DV_CLI_HELP, "--help asks for help");
    GLOBAL_OK("-V", "drover", "-V");
    is_int(act, DV_CLI_VERSION, "-V asks for the version");
    GLOBAL_BAD("-c without a file", "needs a file name", "drover", "-c");
    GLOBAL_BAD("-c with an empty file name", "needs a file name", "drover", "-c", "", "service");
    GLOBAL_BAD("--config= empty", "needs a file name", "drover", "--config=", "service");
    GLOBAL_BAD("an unknown option", "unknown option '--frobnicate'", "drover", "--frobnicate");
    GLOBAL_BAD("no command", "no command given", "drover", "--json");
}

#define SUB(group, ...)                                                                     \
    (spec = dv_cli_spec_find(group, ARGV(__VA_ARGS__)[0], &err),                           \
     spec ? dv_cli_parse_args(spec, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &a, &err) : -1)

static void test_sub(void)
{
    const dv_cli_spec *spec;
    dv_cli_args a;
    drover_error err;

    ok(SUB("service", "list") == 0 && !a.host, "service list");
    ok(SUB("service", "list", "--json") == 0 && a.json, "service list --json");
    ok(SUB("service", "is-up", "compute1") == 0, "service is-up HOST");
    is_str(a.host, "compute1", "  host parsed");
    ok(SUB("service", "disable", "c1", "--reason", "DIMM swap") == 0, "disable --reason TEXT");
    is_str(a.value, "DIMM swap", "  reason parsed");
    ok(SUB("service", "disable", "--reason=x y", "c1") == 0, "disable --reason=TEXT before HOST");
    is_str(a.value, "x y", "  reason= parsed");
    is_str(a.host, "c1", "  host after the flag");
    ok(SUB("service", "force-down", "c1", "--off") == 0 && a.flag, "force-down --off");
    ok(SUB("service", "force-down", "c1") == 0 && !a.flag, "force-down without --off");
    ok(SUB("service", "show", "--help") == 0 && a.help, "--help without HOST is fine");
    ok(SUB("host", "show", "c1") == 0, "host show HOST");

    ok(SUB("service", "is-up") == -1, "is-up without HOST refused");
    has_str(err.message, "which host", "  message asks for the host");
    ok(SUB("service", "list", "extra") == -1, "list with an extra argument refused");
    has_str(err.message, "unexpected argument 'extra'", "  message names it");
    ok(SUB("service", "show", "a", "b") == -1, "two hosts refused");
    ok(SUB("service", "disable", "c1", "--reason") == -1, "--reason without a value refused");
    has_str(err.message, "--reason needs a value", "  message names the flag");
    ok(SUB("service", "enable", "c1", "--reason", "x") == -1, "--reason on enable refused");
    has_str(err.message, "unknown option '--reason'", "  message names the option");
    ok(SUB("service", "list", "--off") == -1, "--off on list refused");
    ok(SUB("service", "frob") == -1, "unknown service command refused");
    has_str(err.message, "unknown command 'frob'", "  message names it");
    has_str(err.message, "force-down", "  and lists the valid ones");
    ok(SUB("host", "is-up", "c1") == -1, "a service command under host refused");
    ok(dv_cli_spec_find("service", NULL, &err) == NULL, "missing command refused");
    has_str(err.message, "which command", "  message asks for it");
}

int main(void)
{
    test_global();
    test_sub();
    return done_testing();
}
