/* test_droverd_args.c - droverd's command line: good and bad arguments. */
#include "cmd/droverd_args.h"
#include "tests/tap.h"

#define ARGV(...) (char *[]){ "droverd", __VA_ARGS__, NULL }
#define ARGC(...) ((int)(sizeof((char *[]){ "droverd", __VA_ARGS__ }) / sizeof(char *)))

static dv_droverd_args a;
static drover_error err;

#define GOOD(desc, ...)                                                                   \
    do {                                                                                 \
        int rc_ = dv_droverd_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &a, &err); \
        if (!ok(rc_ == 0, "accepts %s", desc))                                           \
            diag("   error: %s", err.message);                                           \
    } while (0)
#define BAD(desc, needle, ...)                                                            \
    do {                                                                                 \
        int rc_ = dv_droverd_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &a, &err); \
        ok(rc_ == -1 && err.code == DROVER_ERR_INVALID, "refuses %s", desc);             \
        has_str(err.message, needle, "  and says: %s", needle);                          \
    } while (0)

int main(void)
{
    char *none[] = { "droverd", NULL };

    ok(dv_droverd_parse_args(1, none, &a, &err) == 0, "no arguments at all");
    ok(!a.config_path && !a.host && !a.libvirt_uri && !a.migration_uri && !a.log_level &&
       !a.once && !a.help && !a.version, "  leave everything unset");

    GOOD("every option, space separated", "-c", "/x.conf", "--host", "h1", "--libvirt-uri",
         "test:///default", "--migration-uri", "qemu+tcp://h1/system", "--log-level", "debug",
         "--once");
    is_str(a.config_path, "/x.conf", "-c sets the config path");
    is_str(a.host, "h1", "--host");
    is_str(a.libvirt_uri, "test:///default", "--libvirt-uri");
    is_str(a.migration_uri, "qemu+tcp://h1/system", "--migration-uri");
    is_str(a.log_level, "debug", "--log-level");
    ok(a.once, "--once");

    GOOD("--opt=value forms", "--config=/y.conf", "--host=h2", "--libvirt-uri=qemu:///system",
         "--migration-uri=qemu+ssh://h2/system", "--log-level=warning");
    is_str(a.config_path, "/y.conf", "--config=");
    is_str(a.host, "h2", "--host=");
    is_str(a.libvirt_uri, "qemu:///system", "--libvirt-uri=");
    is_str(a.migration_uri, "qemu+ssh://h2/system", "--migration-uri=");
    is_str(a.log_level, "warning", "--log-level=");
    ok(!a.once, "no --once");

    GOOD("a repeated option", "--host", "a", "--host", "b");
    is_str(a.host, "b", "  the last one wins");
    GOOD("--help", "--help", "--bogus");
    ok(a.help, "--help asks for help (and stops parsing)");
    GOOD("-h", "-h");
    ok(a.help, "-h asks for help");
    GOOD("--version", "--version");
    ok(a.version, "--version asks for the version");
    GOOD("-V", "-V");
    ok(a.version, "-V asks for the version");

    BAD("an unknown option", "unknown option '--frobnicate'", "--frobnicate");
    BAD("a positional argument", "unexpected argument 'extra'", "extra");
    BAD("-c without a file", "-c needs a file name", "-c");
    BAD("--host without a name", "--host needs a host name", "--host");
    BAD("--libvirt-uri without a URI", "--libvirt-uri needs a URI", "--libvirt-uri");
    BAD("--migration-uri without a URI", "--migration-uri needs a URI", "--migration-uri");
    BAD("--log-level without a level", "--log-level needs a level", "--log-level");
    BAD("an empty --config=", "not an empty string", "--config=");
    BAD("an empty --host value", "not an empty string", "--host", "");
    BAD("an unknown log level", "'loud' is not one of debug, info, warning, error",
        "--log-level", "loud");
    BAD("a host name with a slash", "contains '/'", "--host", "a/b");
    BAD("a host name with a space", "space or control character", "--host", "a b");
    BAD("the host name '..'", "not allowed", "--host", "..");
    BAD("--once with a value", "unknown option '--once=1'", "--once=1");
    GOOD("--controller", "-c", "/c.conf", "--controller", "--log-level", "info");
    ok(a.controller, "--controller runs the controller");
    is_str(a.config_path, "/c.conf", "  with its config");
    GOOD("no --controller", "--once");
    ok(!a.controller, "  the agent by default");
    BAD("--controller with --once", "--controller takes no agent option", "--controller",
        "--once");
    BAD("--controller with --libvirt-uri", "--controller takes no agent option",
        "--libvirt-uri", "qemu:///system", "--controller");
    BAD("--hostname (not an option)", "unknown option '--hostname'", "--hostname", "x");
    return done_testing();
}
