/* test_config.c - drover.conf parsing and validation.
 *
 * Each bad configuration is written to a real file (in a fresh mkdtemp
 * directory) and loaded with dv_config_load, then loaded again from memory
 * with dv_config_load_string: both must fail with DROVER_ERR_CONFIG and a
 * message that starts with exactly "FILE:LINE: key" and says what was
 * expected.  Good configurations must load and carry their values; the
 * sample etc/drover.conf must load, document every key and state the real
 * defaults; the man page must describe every key. */
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "scheduler/scheduler.h"
#include "tests/tap.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char conf[128];

/* Every key of drover.conf, the specification the sample and man page are held to. */
static const char *const all_keys[] = {
    "servicegroup.driver", "servicegroup.report_interval", "servicegroup.service_down_time",
    "servicegroup.db.path", "servicegroup.db.busy_timeout_ms",
    "servicegroup.mc.servers", "servicegroup.mc.username", "servicegroup.mc.password",
    "servicegroup.mc.poll_timeout_ms", "servicegroup.mc.retry_timeout_s",
    "servicegroup.zk.hosts", "servicegroup.zk.session_timeout_ms", "servicegroup.zk.prefix",
    "servicegroup.zk.auth",
    "agent.host", "agent.group", "agent.libvirt_uri", "agent.migration_uri",
    "agent.libvirt_timeout_ms", "agent.metrics_listen", "agent.definitions_dir",
    "controller.libvirt_uri", "controller.libvirt_uris", "controller.libvirt_timeout_ms",
    "controller.metrics_listen", "controller.lease_ttl_s",
    "scheduler.filters", "scheduler.weighers", "scheduler.ram_weight_multiplier",
    "scheduler.ram_allocation_ratio", "scheduler.reserved_host_memory_mb",
    "scheduler.host_subset_size", "scheduler.max_retries", "scheduler.claim_ttl_s",
    "migration.peer2peer", "migration.tunnelled", "migration.tls", "migration.permit_post_copy",
    "migration.permit_auto_converge", "migration.bandwidth_mib", "migration.downtime_ms",
    "migration.downtime_steps", "migration.downtime_delay_s", "migration.completion_timeout_s",
    "migration.timeout_action", "migration.max_concurrent", "migration.poll_interval_ms",
    "migration.policy",
    "evacuator.enabled", "evacuator.interval", "evacuator.grace", "evacuator.max_down_fraction",
    "evacuator.max_per_minute", "evacuator.mode", "evacuator.fence_command",
    "evacuator.fence_timeout_s", "evacuator.alert_command", "evacuator.flap_window",
    "evacuator.flap_max_grace",
    "state.backend", "state.path", "state.busy_timeout_ms", "log.level", "log.target",
};

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
        bail_out("cannot write %s: %s", path, strerror(errno));
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        bail_out("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    if (n < 0 || !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n)
        bail_out("cannot read %s", path);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Check one failed load: code, domain, no config, the exact prefix
 * "NAME:LINE: KEY" and a needle saying what was expected. */
static void check_failure(const char *what, int rc, dv_config *cfg, const drover_error *e,
                          const char *name, int line, const char *key, const char *needle)
{
    char prefix[512];

    if (!needle)
        bail_out("%s: a case must say what its message says", what);
    snprintf(prefix, sizeof prefix, "%s:%d: %s", name, line, key);
    ok(rc == -1 && cfg == NULL, "%s: rejected", what);
    ok(e->code == DROVER_ERR_CONFIG && e->domain == DROVER_FROM_CONFIG,
       "%s: DROVER_ERR_CONFIG from config (got %s/%s)", what, drover_code_name(e->code),
       drover_domain_name(e->domain));
    /* after the key comes ':' or ' ', so "agent" does not pass for "agent.host" */
    if (!ok(strncmp(e->message, prefix, strlen(prefix)) == 0 &&
            (!*key || e->message[strlen(prefix)] == ':' || e->message[strlen(prefix)] == ' '),
            "%s: message starts with \"%s\"", what, prefix))
        diag("   message: %s", e->message);
    has_str(e->message, needle, "%s: message says %s", what, needle);
}

/* A bad configuration, from a file and from memory. */
static void bad_len(const char *text, size_t len, int line, const char *key, const char *needle)
{
    dv_config *cfg = (dv_config *)&cfg;
    drover_error e = { 0 }, e2 = { 0 };
    char what[96];
    int rc;

    snprintf(what, sizeof what, "%s @%d", *key ? key : "syntax", line);
    write_file(conf, text, len);
    rc = dv_config_load(conf, &cfg, &e);
    check_failure(what, rc, cfg, &e, conf, line, key, needle);
    if (memchr(text, '\0', len))
        return;                    /* text in memory stops at the NUL */
    cfg = (dv_config *)&cfg;
    rc = dv_config_load_string(text, "mem.conf", &cfg, &e2);
    check_failure(what, rc, cfg, &e2, "mem.conf", line, key, needle);
    if (!ok(strcmp(e.message + strlen(conf), e2.message + strlen("mem.conf")) == 0,
            "%s: the same message from a file and from memory", what))
        diag("   file: %s\n#   text: %s", e.message, e2.message);
}

#define bad(text, line, key, needle) bad_len((text), strlen(text), (line), (key), (needle))

/* One bad configuration, written as two lines: the text with the line and
 * key its message must start with ("" for a syntax error), then what the
 * message must say, kept whole so that it can be searched for. */
typedef struct bad_case {
    const char *text;
    int line;
    const char *key;
    const char *needle;
} bad_case;

static void bad_all(const bad_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bad(c[i].text, c[i].line, c[i].key, c[i].needle);
}

static dv_config *good(const char *text, const char *what)
{
    dv_config *cfg = NULL;
    drover_error e = { 0 };

    if (!ok(dv_config_load_string(text, "good.conf", &cfg, &e) == 0 && cfg, "%s: accepted", what))
        diag("   error: %s", e.message);
    return cfg;
}

/* ---------------------------------------------------------------- bad files */

static void test_syntax(void)
{
    static const bad_case cases[] = {
        { "servicegroup = {\n  driver = \"db\";\n  report_interval = ;\n};\n", 3, "",
          "syntax error" },
        /* the string opened on line 2 runs to the end of the file (line 6) */
        { "log = {\n  level = \"info;\n  target = 5;\n};\n\n", 2, "",
          "unterminated string" },
        { "agent = { group = \"x\"; };\n/* commented out from here\nstate = { path = \"/x\"; };\n", 2, "",
          "unterminated comment" },
        { "log = { level = \"info\"; };\nlog = { target = \"stderr\"; };\n", 2, "",
          "duplicate setting" },
        { "scheduler = {\n  filters = [ \"ram\", 5 ];\n};\n", 2, "",
          "mismatched element type" },
        { "# comment\n@include \"/etc/passwd\"\n", 2, "",
          "@include is not supported" },
        { "a = ((((((((((((((((((1))))))))))))))))));\n", 1, "",
          "deeper than 16 levels" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_unknown_keys(void)
{
    static const bad_case cases[] = {
        { "# the file starts here\nservcegroup = { driver = \"db\"; };\n", 2, "servcegroup",
          "unknown key; the valid top-level keys are: servicegroup, agent, controller, scheduler, migration, evacuator, state, log" },
        { "servicegroup = {\n  driver = \"db\";\n  report_intervall = 10;\n};\n", 3, "servicegroup.report_intervall",
          "unknown key; the valid keys in servicegroup are: driver, report_interval, service_down_time, db, mc, zk" },
        { "servicegroup = { db = {\n  file = \"/x\"; }; };\n", 2, "servicegroup.db.file",
          "unknown key; the valid keys in servicegroup.db are: path, busy_timeout_ms" },
        { "servicegroup = { mc = { server = [ \"a\" ]; }; };\n", 1, "servicegroup.mc.server",
          "unknown key; the valid keys in servicegroup.mc are: servers, username, password, poll_timeout_ms, retry_timeout_s" },
        { "servicegroup = { zk = { timeout = 5; }; };\n", 1, "servicegroup.zk.timeout",
          "unknown key; the valid keys in servicegroup.zk are: hosts, session_timeout_ms, prefix, auth" },
        { "agent = { hostname = \"a\"; };\n", 1, "agent.hostname",
          "unknown key; the valid keys in agent are: host, group, libvirt_uri, migration_uri, libvirt_timeout_ms, metrics_listen, definitions_dir" },
        { "controller = { uri = \"\"; };\n", 1, "controller.uri",
          "unknown key; the valid keys in controller are: libvirt_uri, libvirt_uris, libvirt_timeout_ms, metrics_listen, lease_ttl_s" },
        { "controller = { libvirt_timeout_ms = 0; };\n", 1, "controller.libvirt_timeout_ms",
          "expected an integer in 1..3600000, got 0" },
        { "controller = { lease_ttl_s = 2; };\n", 1, "controller.lease_ttl_s",
          "expected an integer in 3..3600, got 2" },
        { "controller = { lease_ttl_s = \"30\"; };\n", 1, "controller.lease_ttl_s",
          "expected an integer" },
        { "scheduler = { filter = [ ]; };\n", 1, "scheduler.filter",
          "unknown key; the valid keys in scheduler are: filters, weighers, ram_weight_multiplier, ram_allocation_ratio, reserved_host_memory_mb, host_subset_size, max_retries, claim_ttl_s" },
        { "migration = {\n peer2peer = true;\n downtime = 500;\n};\n", 3, "migration.downtime",
          "unknown key; the valid keys in migration are: peer2peer, tunnelled, tls, permit_post_copy, permit_auto_converge, bandwidth_mib, downtime_ms, downtime_steps, downtime_delay_s, completion_timeout_s, timeout_action, max_concurrent, poll_interval_ms, policy" },
        { "evacuator = { fence = [ ]; };\n", 1, "evacuator.fence",
          "unknown key; the valid keys in evacuator are: enabled, interval, grace, max_down_fraction, max_per_minute, mode, fence_command, fence_timeout_s, alert_command, flap_window, flap_max_grace" },
        { "state = { dir = \"/x\"; };\n", 1, "state.dir",
          "unknown key; the valid keys in state are: backend, path, busy_timeout_ms" },
        { "log = { file = \"/x\"; };\n", 1, "log.file",
          "unknown key; the valid keys in log are: level, target" },
        { "servicegroup = { redis = { }; };\n", 1, "servicegroup.redis",
          "unknown key; the valid keys in servicegroup are: driver, report_interval, service_down_time, db, mc, zk" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_wrong_types(void)
{
    static const bad_case cases[] = {
        { "servicegroup = { driver = 1; };\n", 1, "servicegroup.driver",
          "expected a string, got an integer" },
        { "\n\n\n\n\n\nservicegroup = {\n  report_interval = \"10\";\n};\n", 8, "servicegroup.report_interval",
          "expected an integer in 1..3600, got a string" },
        { "servicegroup = { report_interval = 10.5; };\n", 1, "servicegroup.report_interval",
          "got a floating-point number" },
        { "agent = ( \"compute1\" );\n", 1, "agent",
          "expected a group { ... }, got a list" },
        { "log = \"debug\";\n", 1, "log",
          "expected a group { ... }, got a string" },
        { "migration = { tls = 1; };\n", 1, "migration.tls",
          "expected a boolean (true or false), got an integer" },
        { "migration = { peer2peer = \"yes\"; };\n", 1, "migration.peer2peer",
          "got a string" },
        { "scheduler = { filters = \"ram\"; };\n", 1, "scheduler.filters",
          "expected an array of strings" },
        { "scheduler = { weighers = { ram = 1; }; };\n", 1, "scheduler.weighers",
          "got a group" },
        { "scheduler = {\n  filters = [ 1, 2 ];\n};\n", 2, "scheduler.filters[0]",
          "expected a string, got an integer" },
        { "evacuator = { fence_command = ( \"/bin/true\",\n  [ \"x\" ] ); };\n", 2, "evacuator.fence_command[1]",
          "expected a string, got an array" },
        { "evacuator = { max_down_fraction = \"0.5\"; };\n", 1, "evacuator.max_down_fraction",
          "expected a number in [0, 1], got a string" },
        { "servicegroup = { db = [ \"/x\" ]; };\n", 1, "servicegroup.db",
          "got an array" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_ranges(void)
{
    static const bad_case cases[] = {
        { "servicegroup = { report_interval = 0; };\n", 1, "servicegroup.report_interval",
          "expected an integer in 1..3600, got 0" },
        { "servicegroup = { report_interval = 3601; service_down_time = 7200; };\n", 1, "servicegroup.report_interval",
          "got 3601" },
        /* libconfig 1.5 would read 99999999999 as 1215752191 and 4294967306 as 10 */
        { "servicegroup = {\n  report_interval = 99999999999;\n};\n", 2, "servicegroup.report_interval",
          "got 99999999999, which is too large" },
        { "servicegroup = {\n  service_down_time = 4294967356;\n};\n", 2, "servicegroup.service_down_time",
          "got 4294967356, which is too large" },
        { "scheduler = { max_retries = 0xFFFFFFFF; };\n", 1, "scheduler.max_retries",
          "got 0xFFFFFFFF, which is too large" },
        { "scheduler = { reserved_host_memory_mb = 99999999999L; };\n", 1, "scheduler.reserved_host_memory_mb",
          "expected an integer in 0..16777216, got 99999999999L" },
        { "scheduler = { max_retries = -2; };\n", 1, "scheduler.max_retries",
          "expected an integer in -1..1000, got -2" },
        { "scheduler = { ram_allocation_ratio = 0; };\n", 1, "scheduler.ram_allocation_ratio",
          "expected a number in (0, 1000], got 0" },
        { "scheduler = { ram_allocation_ratio = -1.5; };\n", 1, "scheduler.ram_allocation_ratio",
          "got -1.5" },
        { "scheduler = { ram_weight_multiplier = 1e400; };\n", 1, "scheduler.ram_weight_multiplier",
          "got 1e400" },
        { "evacuator = { max_down_fraction = 1.01; };\n", 1, "evacuator.max_down_fraction",
          "expected a number in [0, 1], got 1.01" },
        { "migration = { downtime_steps = 2; };\n", 1, "migration.downtime_steps",
          "expected an integer in 3..1000, got 2" },
        { "migration = { poll_interval_ms = 0; };\n", 1, "migration.poll_interval_ms",
          "10..60000" },
        { "servicegroup = { db = { busy_timeout_ms = -1; }; };\n", 1, "servicegroup.db.busy_timeout_ms",
          "expected an integer in 1..3600000, got -1" },
        { "state = {\n  path = \"/x\";\n  busy_timeout_ms = 0;\n};\n", 3, "state.busy_timeout_ms",
          "expected an integer in 1..3600000, got 0" },
        { "state = { busy_timeout_ms = 3600001; };\n", 1, "state.busy_timeout_ms",
          "expected an integer in 1..3600000, got 3600001" },
        { "state = { busy_timeout_ms = \"5000\"; };\n", 1, "state.busy_timeout_ms",
          "expected an integer in 1..3600000, got a string" },
        { "servicegroup = { zk = { session_timeout_ms = 0; }; };\n", 1, "servicegroup.zk.session_timeout_ms",
          "100..600000" },
        { "agent = { libvirt_timeout_ms = 0; };\n", 1, "agent.libvirt_timeout_ms",
          "1..3600000" },
        /* past 64 bits, and a float key given a huge integer */
        { "scheduler = { max_retries = 0x1FFFFFFFFFFFFFFFFL; };\n", 1, "scheduler.max_retries",
          "got 0x1FFFFFFFFFFFFFFFFL, which is too large" },
        { "scheduler = { max_retries = 99999999999999999999L; };\n", 1, "scheduler.max_retries",
          "got 99999999999999999999L, which is too large" },
        { "scheduler = { max_retries = 0000000000000000000000000000000000000000000000000000000000000000000000001; };\n", 1, "scheduler.max_retries",
          "which is too large" },
        { "scheduler = { ram_weight_multiplier = 99999999999; };\n", 1, "scheduler.ram_weight_multiplier",
          "expected a number in [-1e+06, 1e+06], got 99999999999, which is too large" },
        { "scheduler = { ram_weight_multiplier = 1000001; };\n", 1, "scheduler.ram_weight_multiplier",
          "got 1000001" },
        { "evacuator = { max_per_minute = 0; };\n", 1, "evacuator.max_per_minute",
          "1..1000" },
        { "evacuator = { fence_timeout_s = 0; };\n", 1, "evacuator.fence_timeout_s",
          "expected an integer in 1..3600, got 0" },
        { "evacuator = { fence_timeout_s = 3601; };\n", 1, "evacuator.fence_timeout_s",
          "got 3601" },
        { "evacuator = { fence_timeout_s = \"30\"; };\n", 1, "evacuator.fence_timeout_s",
          "got a string" },
        { "evacuator = { flap_window = -1; };\n", 1, "evacuator.flap_window",
          "expected an integer in 0..86400, got -1" },
        { "evacuator = { flap_window = 86401; };\n", 1, "evacuator.flap_window",
          "got 86401" },
        { "evacuator = { flap_max_grace = -1; };\n", 1, "evacuator.flap_max_grace",
          "expected an integer in 0..86400, got -1" },
        { "evacuator = { flap_max_grace = 1.5; };\n", 1, "evacuator.flap_max_grace",
          "got a floating-point number" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_cross_rules(void)
{
    static const bad_case cases[] = {
        { "servicegroup = {\n  report_interval = 30;\n  service_down_time = 30;\n};\n", 3, "servicegroup.service_down_time",
          "greater than servicegroup.report_interval" },
        { "servicegroup = {\n  service_down_time = 5;\n};\n", 2, "servicegroup.service_down_time",
          "servicegroup.report_interval (10)" },
        /* only report_interval is set: its line is the one to look at */
        { "\nservicegroup = {\n  report_interval = 60;\n};\n", 3, "servicegroup.service_down_time",
          "servicegroup.report_interval (60)" },
        { "evacuator = {\n  enabled = true;\n  mode = \"rebuild\";\n};\n", 3, "evacuator.mode \"rebuild\" needs evacuator.fence_command",
          "fence" },
        { "evacuator = {\n  mode = \"rebuild\";\n  fence_command = [ ];\n};\n", 2, "evacuator.mode",
          "needs evacuator.fence_command" },
        { "migration = {\n  peer2peer = false;\n  tunnelled = true;\n};\n", 3, "migration.tunnelled",
          "needs migration.peer2peer" },
        { "migration = {\n  tunnelled = true;\n  tls = true;\n};\n", 3, "migration.tls",
          "exclude each other" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_enums(void)
{
    static const bad_case cases[] = {
        { "servicegroup = { driver = \"redis\"; };\n", 1, "servicegroup.driver",
          "expected one of \"db\", \"mc\", \"zk\", got \"redis\"" },
        { "servicegroup = { driver = \"DB\"; };\n", 1, "servicegroup.driver",
          "got \"DB\"" },
        { "migration = { timeout_action = \"pause\"; };\n", 1, "migration.timeout_action",
          "expected one of \"abort\", \"force_complete\", got \"pause\"" },
        { "migration = {\n  policy = \"fast\";\n};\n", 2, "migration.policy",
          "expected one of \"adaptive\", \"nova\", got \"fast\"" },
        { "migration = { policy = \"\"; };\n", 1, "migration.policy",
          "expected a non-empty string" },
        { "evacuator = { mode = \"cold\"; };\n", 1, "evacuator.mode",
          "expected one of \"live\", \"rebuild\"" },
        { "log = { level = \"warn\"; };\n", 1, "log.level",
          "expected one of \"debug\", \"info\", \"warning\", \"error\", got \"warn\"" },
        { "log = { target = \"file\"; };\n", 1, "log.target",
          "expected one of \"stderr\", \"syslog\"" },
        { "scheduler = {\n  filters = [ \"compute\",\n    \"numa\" ];\n};\n", 3, "scheduler.filters[1]",
          "expected one of \"compute\", \"different_host\", \"hypervisor_type\", \"hypervisor_version\", \"arch\", \"ram\", got \"numa\"" },
        { "scheduler = {\n  filters = [ \"ram\", \"arch\",\n  \"ram\" ];\n};\n", 3, "scheduler.filters[2]",
          "\"ram\" is already listed as scheduler.filters[0]" },
        { "scheduler = { weighers = [ \"cpu\" ]; };\n", 1, "scheduler.weighers[0]",
          "expected one of \"ram\", got \"cpu\"" },
        { "scheduler = { weighers = [ \"ram\", \"ram\" ]; };\n", 1, "scheduler.weighers[1]",
          "already listed" },
        /* control characters are shown escaped, never raw; long values are cut */
        { "log = { level = \"in\\nfo\"; };\n", 1, "log.level",
          "got \"in\\x0afo\"" },
        { "log = { level = \"a\\\"b\\\\c\"; };\n", 1, "log.level",
          "got \"a\\\"b\\\\c\"" },
        { "log = { level = \"01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"; };\n", 1, "log.level",
          "got \"012345678901234567890123456789012345678901234567890123456789012345678901234567890123456...\"" },
    };

    bad_all(cases, sizeof cases / sizeof *cases);
}

static void test_addresses_and_names(void)
{
    static const bad_case cases[] = {
        { "servicegroup = { mc = { servers = [ ]; }; };\n", 1, "servicegroup.mc.servers",
          "expected at least one item" },
        { "servicegroup = { mc = {\n  servers = [ \"127.0.0.1:11211\",\n    \"10.0.0.1:70000\" ]; }; };\n", 3, "servicegroup.mc.servers[1]",
          "the port must be 1..65535" },
        { "servicegroup = { mc = { servers = [ \"h:0\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "expected \"host:port\" or \"host\" (port 11211), got \"h:0\"" },
        { "servicegroup = { mc = { servers = [ \"::1:11211\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "more than one ':'" },
        { "servicegroup = { mc = { servers = [ \":11211\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "the host is empty" },
        { "servicegroup = { mc = { servers = [ \"host:\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "the port after ':' is missing" },
        { "servicegroup = { mc = { servers = [ \"a b:1\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "letters, digits" },
        { "servicegroup = { mc = { servers = [ \"[::1\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "'[' without ']'" },
        { "servicegroup = { mc = { servers = [ \"a:1\", \"a:1\" ]; }; };\n", 1, "servicegroup.mc.servers[1]",
          "already listed" },
        { "servicegroup = { zk = { hosts = \"z1:2181,z2\"; }; };\n", 1, "servicegroup.zk.hosts",
          "server 2: the port is missing" },
        { "servicegroup = { zk = { hosts = \"z1:2181,\"; }; };\n", 1, "servicegroup.zk.hosts",
          "server 2: the host is empty" },
        { "servicegroup = { mc = { servers = [ \"[fe80::1%eth0]:1\" ]; }; };\n", 1, "servicegroup.mc.servers[0]",
          "an IPv6 address in [] holds only hex digits" },
        { "servicegroup = { zk = { prefix = \"/a\\tb\"; }; };\n", 1, "servicegroup.zk.prefix",
          "control characters" },
        { "servicegroup = { zk = { hosts = \"z1:2181/chroot\"; }; };\n", 1, "servicegroup.zk.hosts",
          "the port must be 1..65535" },
        { "servicegroup = { zk = { hosts = \"\"; }; };\n", 1, "servicegroup.zk.hosts",
          "expected a non-empty string" },
        { "servicegroup = { zk = {\n  prefix = \"drover\"; }; };\n", 2, "servicegroup.zk.prefix",
          "it must start with '/'" },
        { "servicegroup = { zk = { prefix = \"/drover/\"; }; };\n", 1, "servicegroup.zk.prefix",
          "it must not end with '/'" },
        { "servicegroup = { zk = { prefix = \"/a//b\"; }; };\n", 1, "servicegroup.zk.prefix",
          "\"//\"" },
        { "servicegroup = { zk = { prefix = \"/a/../b\"; }; };\n", 1, "servicegroup.zk.prefix",
          "\"..\"" },
        { "agent = {\n  host = \"rack1/compute1\";\n};\n", 2, "agent.host",
          "contains '/'" },
        { "agent = { host = \"\"; };\n", 1, "agent.host",
          "host name is empty" },
        { "agent = { host = \"compute 1\"; };\n", 1, "agent.host",
          "space or control character" },
        { "agent = { group = \"..\"; };\n", 1, "agent.group",
          "is not allowed" },
        { "agent = { libvirt_uri = \"/var/run/libvirt\"; };\n", 1, "agent.libvirt_uri",
          "expected a libvirt URI such as \"qemu:///system\"" },
        { "agent = { libvirt_uri = \"\"; };\n", 1, "agent.libvirt_uri",
          "expected a non-empty string" },
        { "agent = { migration_uri = \"qemu+tcp://h /system\"; };\n", 1, "agent.migration_uri",
          "must not contain spaces" },
        { "servicegroup = { db = { path = \"\"; }; };\n", 1, "servicegroup.db.path",
          "non-empty" },
        { "state = { path = \"\"; };\n", 1, "state.path",
          "expected a non-empty string" },
        { "evacuator = { fence_command = [ \"fence_ipmilan\", \"%h\" ]; };\n", 1, "evacuator.fence_command[0]",
          "expected the absolute path of the program" },
        { "controller = { libvirt_uri = \"compute1\"; };\n", 1, "controller.libvirt_uri",
          "expected a libvirt URI" },
        { "controller = { libvirt_uris = [ \"compute1\" ]; };\n", 1, "controller.libvirt_uris[0]",
          "expected HOST=URI" },
        { "controller = { libvirt_uris = [ \"c1=\" ]; };\n", 1, "controller.libvirt_uris[0]",
          "expected HOST=URI" },
        { "controller = { libvirt_uris = [ \"=qemu:///system\" ]; };\n", 1, "controller.libvirt_uris[0]",
          "host name is empty" },
        { "controller = { libvirt_uris = [ \"a/b=qemu:///system\" ]; };\n", 1, "controller.libvirt_uris[0]",
          "contains '/'" },
        { "controller = { libvirt_uris = [ \"c1=not a uri\" ]; };\n", 1, "controller.libvirt_uris[0]",
          "expected a libvirt URI" },
        { "controller = {\n  libvirt_uris = [ \"c1=qemu:///a\",\n  \"c1=qemu:///b\" ];\n};\n", 3, "controller.libvirt_uris[1]",
          "host c1 is already given a URI in item 0" },
        { "evacuator = { alert_command = [ \"alert.sh\", \"%h\" ]; };\n", 1, "evacuator.alert_command[0]",
          "expected the absolute path of the program" },
        { "evacuator = { alert_command = \"/bin/alert\"; };\n", 1, "evacuator.alert_command",
          "expected an array of strings" },
        { "evacuator = { alert_command = [ 1 ]; };\n", 1, "evacuator.alert_command[0]",
          "expected a string, got an integer" },
        { "agent = { metrics_listen = \"9464\"; };\n", 1, "agent.metrics_listen",
          "the port is missing" },
        { "agent = { metrics_listen = \"localhost:9464\"; };\n", 1, "agent.metrics_listen",
          "is not a numeric IPv4 address" },
        { "agent = { metrics_listen = \"127.0.0.1:0\"; };\n", 1, "agent.metrics_listen",
          "the port must be 1..65535" },
        { "agent = { metrics_listen = \"127.0.0.1:65536\"; };\n", 1, "agent.metrics_listen",
          "the port must be 1..65535" },
        { "agent = { metrics_listen = \"::1:9464\"; };\n", 1, "agent.metrics_listen",
          "more than one ':'" },
        { "agent = { metrics_listen = \"[::g]:9464\"; };\n", 1, "agent.metrics_listen",
          "an IPv6 address in [] holds only hex digits" },
        { "agent = { metrics_listen = \"[1:2:3]:9464\"; };\n", 1, "agent.metrics_listen",
          "is not an IPv6 address" },
        { "agent = { metrics_listen = \"256.0.0.1:9464\"; };\n", 1, "agent.metrics_listen",
          "is not a numeric IPv4 address" },
        { "agent = { metrics_listen = 9464; };\n", 1, "agent.metrics_listen",
          "expected a string, got an integer" },
        { "controller = {\n  metrics_listen = \"[::1]\";\n};\n", 2, "controller.metrics_listen",
          "the port is missing" },
        { "controller = { metrics_listen = \" 127.0.0.1:1\"; };\n", 1, "controller.metrics_listen",
          "expected \"\" (off) or \"ADDRESS:PORT\"" },
        { "agent = { definitions_dir = \"defs\"; };\n", 1, "agent.definitions_dir",
          "expected \"\" (off) or an absolute directory path, got \"defs\"" },
        { "agent = { definitions_dir = [ \"/x\" ]; };\n", 1, "agent.definitions_dir",
          "expected a string, got an array" },
    };
    char text[1200], host[400];

    bad_all(cases, sizeof cases / sizeof *cases);
    /* a host name of 300 characters */
    memset(host, 'h', 300);
    host[300] = '\0';
    snprintf(text, sizeof text, "servicegroup = { mc = { servers = [ \"%s:1\" ]; }; };\n", host);
    bad(text, 1, "servicegroup.mc.servers[0]", "the host is too long");
    snprintf(text, sizeof text, "servicegroup = { zk = { hosts = \"z:1,%s:2\"; }; };\n", host);
    bad(text, 1, "servicegroup.zk.hosts", "server 2: it is too long");
}

/* Secrets are never part of a message. */
static void test_secrets(void)
{
    static const char *const texts[] = {
        "servicegroup = { zk = { auth = \"s3cr3t-pw\"; }; };\n",
        "servicegroup = { zk = { auth = \":s3cr3t-pw\"; }; };\n",
        "servicegroup = { zk = { auth = \"user:\"; }; };\n",
        "servicegroup = { zk = { auth = 5; }; };\n",
    };
    drover_error e = { 0 };
    dv_config *cfg;

    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        bad(texts[i], 1, "servicegroup.zk.auth", "expected");
    bad("servicegroup = { zk = { auth = \"s3cr3t-pw\"; }; };\n", 1, "servicegroup.zk.auth",
        "\"user:password\"");
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        dv_config_load_string(texts[i], "x", &cfg, &e);
        ok(!strstr(e.message, "s3cr3t"), "zk.auth case %zu: the secret is not in the message", i);
    }
    bad("servicegroup = { mc = {\n  password = \"s3cr3t-pw\";\n}; };\n", 2, "servicegroup.mc.password",
        "servicegroup.mc.username is empty");
    dv_config_load_string("servicegroup = { mc = { password = \"s3cr3t-pw\"; }; };", "x", &cfg, &e);
    ok(!strstr(e.message, "s3cr3t"), "mc.password: the secret is not in the message");
}

static void test_files(void)
{
    char path[200], big_path[200];
    dv_config *cfg = (dv_config *)&cfg;
    drover_error e = { 0 };
    size_t big = 1024 * 1024 + 10;
    char *text;

    snprintf(path, sizeof path, "%s/no-such.conf", dir);
    ok(dv_config_load(path, &cfg, &e) == -1 && cfg == NULL, "missing file: rejected");
    is_int(e.code, DROVER_ERR_CONFIG, "missing file: DROVER_ERR_CONFIG");
    has_str(e.message, path, "missing file: the message names the path");
    has_str(e.message, strerror(ENOENT), "missing file: the message gives the reason");

    ok(dv_config_load(dir, &cfg, &e) == -1, "a directory: rejected");
    has_str(e.message, dir, "a directory: the message names the path");
    has_str(e.message, strerror(EISDIR), "a directory: the message gives the reason");

    if (geteuid() != 0) {
        write_file(conf, "", 0);
        chmod(conf, 0);
        ok(dv_config_load(conf, &cfg, &e) == -1, "unreadable file: rejected");
        has_str(e.message, strerror(EACCES), "unreadable file: the message gives the reason");
        chmod(conf, 0600);
    }

    ok(dv_config_load("", &cfg, &e) == -1 && e.code == DROVER_ERR_CONFIG, "empty path: rejected");

    /* a NUL byte would silently end the text libconfig sees */
    {
        static const char nul_text[] = "log = { level = \"info\"; };\n\n\0state = { path = \"/x\"; };\n";
        bad_len(nul_text, sizeof nul_text - 1, 3, "", "contains a NUL byte");
    }

    {
        size_t n = 65536 + 2;
        char *many = malloc(n + 1);
        memset(many, '\n', n);
        many[n] = '\0';
        bad(many, 65536, "", "too many lines (the limit is 65535)");
        free(many);
    }

    snprintf(big_path, sizeof big_path, "%s/big.conf", dir);
    text = malloc(big);
    memset(text, '#', big);
    write_file(big_path, text, big);
    free(text);
    ok(dv_config_load(big_path, &cfg, &e) == -1, "a file over 1 MiB: rejected");
    has_str(e.message, "larger than 1048576 bytes", "a file over 1 MiB: the message says so");
    unlink(big_path);

    /* load_string: the name stands for the file; none given gives <string> */
    ok(dv_config_load_string("foo = 1;", NULL, &cfg, &e) == -1, "text without a name: rejected");
    has_str(e.message, "<string>:1: foo: unknown key", "text without a name: called <string>");
    ok(dv_config_load_string(NULL, "t", &cfg, &e) == -1 && e.code == DROVER_ERR_CONFIG,
       "NULL text: rejected");
}

/* ---------------------------------------------------------------- good files */

static bool same_list(const dv_strlist *a, const dv_strlist *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

/* Every field but path; names the first that differs. */
static const char *config_diff(const dv_config *a, const dv_config *b)
{
#define S(f) if (strcmp(a->f, b->f) != 0) return #f
#define N(f) if (a->f != b->f) return #f
#define L(f) if (!same_list(&a->f, &b->f)) return #f
    S(servicegroup.driver); N(servicegroup.report_interval); N(servicegroup.service_down_time);
    S(servicegroup.db.path); N(servicegroup.db.busy_timeout_ms);
    L(servicegroup.mc.servers); S(servicegroup.mc.username); S(servicegroup.mc.password);
    N(servicegroup.mc.poll_timeout_ms); N(servicegroup.mc.retry_timeout_s);
    S(servicegroup.zk.hosts); N(servicegroup.zk.session_timeout_ms); S(servicegroup.zk.prefix);
    S(servicegroup.zk.auth);
    S(agent.host); S(agent.group); S(agent.libvirt_uri); S(agent.migration_uri);
    N(agent.libvirt_timeout_ms); S(agent.metrics_listen); S(agent.definitions_dir);
    S(controller.libvirt_uri); L(controller.libvirt_uris); N(controller.libvirt_timeout_ms);
    S(controller.metrics_listen);
    L(scheduler.filters); L(scheduler.weighers); N(scheduler.ram_weight_multiplier);
    N(scheduler.ram_allocation_ratio); N(scheduler.reserved_host_memory_mb);
    N(scheduler.host_subset_size); N(scheduler.max_retries); N(scheduler.claim_ttl_s);
    N(migration.peer2peer); N(migration.tunnelled); N(migration.tls); N(migration.permit_post_copy);
    N(migration.permit_auto_converge); N(migration.bandwidth_mib); N(migration.downtime_ms);
    N(migration.downtime_steps); N(migration.downtime_delay_s); N(migration.completion_timeout_s);
    S(migration.timeout_action); N(migration.max_concurrent); N(migration.poll_interval_ms);
    S(migration.policy);
    N(evacuator.enabled); N(evacuator.interval); N(evacuator.grace); N(evacuator.max_down_fraction);
    N(evacuator.max_per_minute); S(evacuator.mode); L(evacuator.fence_command);
    N(evacuator.fence_timeout_s); L(evacuator.alert_command); N(evacuator.flap_window);
    N(evacuator.flap_max_grace);
    S(state.path); N(state.busy_timeout_ms); S(log.level); S(log.target);
    return NULL;
#undef S
#undef N
#undef L
}

static void test_defaults(void)
{
    dv_config *def = dv_config_new_defaults(), *cfg;
    const char *d;
    char host[256] = "";

    if (!def)
        bail_out("dv_config_new_defaults failed");
    gethostname(host, sizeof host - 1);
    is_str(def->agent.host, host[0] ? host : "localhost", "default agent.host is the host name");
    is_str(def->servicegroup.driver, "db", "default driver is db");
    is_int(def->servicegroup.report_interval, 10, "default report_interval");
    is_int(def->servicegroup.service_down_time, 60, "default service_down_time");
    is_int(def->state.busy_timeout_ms, 5000, "default state.busy_timeout_ms");

    if ((cfg = good("", "an empty text"))) {
        d = config_diff(cfg, def);
        ok(!d, "an empty text gives every default (differs in %s)", d ? d : "nothing");
        dv_config_free(cfg);
    }
    if ((cfg = good("# only a comment\n/* and another */\n// and a third\n", "comments only"))) {
        ok(!config_diff(cfg, def), "comments only give every default");
        dv_config_free(cfg);
    }
    if ((cfg = good("servicegroup = { }; agent = { }; scheduler = { }; migration = { };\n"
                    "evacuator = { }; state = { }; log = { };\n", "empty sections"))) {
        ok(!config_diff(cfg, def), "empty sections give every default");
        dv_config_free(cfg);
    }
    {
        dv_config *f = NULL;
        drover_error e = { 0 };
        write_file(conf, "", 0);
        ok(dv_config_load(conf, &f, &e) == 0 && f, "an empty file: accepted (%s)", e.message);
        if (f) {
            ok(!config_diff(f, def), "an empty file gives every default");
            is_str(f->path, conf, "cfg->path is the file's path");
            dv_config_free(f);
        }
    }
    dv_config_free(def);
}

static void test_overrides(void)
{
    const char *text =
        "servicegroup: {\n"
        "  driver = \"zk\"; report_interval = 5; service_down_time = 0x1E;\n"
        "  db = { path = \"/tmp/x.db\"; busy_timeout_ms = 100; };\n"
        "  mc = { servers = ( \"mc1\", \"[::1]:11212\", \"mc_3.example:1\" ); username = \"u\";\n"
        "         password = \"p\"; poll_timeout_ms = 20; retry_timeout_s = 1; };\n"
        "  zk = { hosts = \"z1:2181,z2:2182\"; session_timeout_ms = 400; prefix = \"/\"; auth = \"a:b:c\"; };\n"
        "};\n"
        "agent = { host = \"compute-7.example\"; group = \"g1\"; libvirt_uri = \"test:///default\";\n"
        "  migration_uri = \"qemu+tcp://10.0.0.7/system\"; libvirt_timeout_ms = 250;\n"
        "  metrics_listen = \"[::1]:9464\"; definitions_dir = \"/shared/defs\"; };\n"
        "controller = { libvirt_uri = \"qemu+ssh://root@%h/system\";\n"
        "  libvirt_uris = [ \"c1=qemu+unix:///system?socket=/x/c1.sock\", \"c2=qemu+tcp://h=2/system\" ];\n"
        "  libvirt_timeout_ms = 1500; metrics_listen = \"0.0.0.0:9465\"; };\n"
        "scheduler = { filters = [ ]; weighers = ( ); ram_weight_multiplier = -2;\n"
        "  ram_allocation_ratio = 1.5; reserved_host_memory_mb = 0; host_subset_size = 3;\n"
        "  max_retries = 7; claim_ttl_s = 30L; };\n"
        "migration = { peer2peer = TRUE; tunnelled = true; tls = false; permit_post_copy = true;\n"
        "  permit_auto_converge = true; bandwidth_mib = 64; downtime_ms = 100; downtime_steps = 3;\n"
        "  downtime_delay_s = 3; completion_timeout_s = 0; timeout_action = \"force_complete\";\n"
        "  max_concurrent = 2; poll_interval_ms = 10; policy = \"nova\"; };\n"
        "evacuator = { enabled = true; interval = 1; grace = 0; max_down_fraction = 1;\n"
        "  max_per_minute = 1; mode = \"rebuild\"; fence_command = [ \"/usr/bin/fence\", \"%h\", \"\" ];\n"
        "  fence_timeout_s = 3600; alert_command = [ \"/usr/bin/alert\", \"-q\" ]; flap_window = 0;\n"
        "  flap_max_grace = 86400; };\n"
        "state = { path = \"rel/state.db\"; busy_timeout_ms = 3600000; };\n"
        "log = { level = \"debug\"; target = \"syslog\"; };\n";
    dv_config *c = good(text, "every key set");

    if (!c)
        return;
    is_str(c->servicegroup.driver, "zk", "driver");
    is_int(c->servicegroup.report_interval, 5, "report_interval");
    is_int(c->servicegroup.service_down_time, 30, "service_down_time (hex)");
    is_str(c->servicegroup.db.path, "/tmp/x.db", "db.path");
    is_int(c->servicegroup.db.busy_timeout_ms, 100, "db.busy_timeout_ms");
    is_int(c->servicegroup.mc.servers.n, 3, "mc.servers: 3 items");
    if (c->servicegroup.mc.servers.n == 3) {
        is_str(c->servicegroup.mc.servers.v[0], "mc1", "mc.servers[0]");
        is_str(c->servicegroup.mc.servers.v[1], "[::1]:11212", "mc.servers[1]");
        is_str(c->servicegroup.mc.servers.v[2], "mc_3.example:1", "mc.servers[2]");
    }
    is_str(c->servicegroup.mc.username, "u", "mc.username");
    is_str(c->servicegroup.mc.password, "p", "mc.password");
    is_int(c->servicegroup.mc.poll_timeout_ms, 20, "mc.poll_timeout_ms");
    is_int(c->servicegroup.mc.retry_timeout_s, 1, "mc.retry_timeout_s");
    is_str(c->servicegroup.zk.hosts, "z1:2181,z2:2182", "zk.hosts");
    is_int(c->servicegroup.zk.session_timeout_ms, 400, "zk.session_timeout_ms");
    is_str(c->servicegroup.zk.prefix, "/", "zk.prefix \"/\"");
    is_str(c->servicegroup.zk.auth, "a:b:c", "zk.auth (the password may hold ':')");
    is_str(c->agent.host, "compute-7.example", "agent.host");
    is_str(c->agent.group, "g1", "agent.group");
    is_str(c->agent.libvirt_uri, "test:///default", "agent.libvirt_uri");
    is_str(c->agent.migration_uri, "qemu+tcp://10.0.0.7/system", "agent.migration_uri");
    is_str(c->controller.libvirt_uri, "qemu+ssh://root@%h/system", "controller.libvirt_uri");
    is_int(c->controller.libvirt_uris.n, 2, "controller.libvirt_uris: 2 items");
    is_int(c->controller.libvirt_timeout_ms, 1500, "controller.libvirt_timeout_ms");
    if (c->controller.libvirt_uris.n == 2)
        is_str(c->controller.libvirt_uris.v[1], "c2=qemu+tcp://h=2/system",
               "controller.libvirt_uris[1]: split at the first '='");
    is_int(c->agent.libvirt_timeout_ms, 250, "agent.libvirt_timeout_ms");
    is_int(c->scheduler.filters.n, 0, "scheduler.filters may be empty");
    is_int(c->scheduler.weighers.n, 0, "scheduler.weighers may be an empty list");
    ok(c->scheduler.ram_weight_multiplier == -2.0, "ram_weight_multiplier: an integer where a float is expected");
    ok(c->scheduler.ram_allocation_ratio == 1.5, "ram_allocation_ratio");
    is_int(c->scheduler.reserved_host_memory_mb, 0, "reserved_host_memory_mb");
    is_int(c->scheduler.host_subset_size, 3, "host_subset_size");
    is_int(c->scheduler.max_retries, 7, "max_retries");
    is_int(c->scheduler.claim_ttl_s, 30, "claim_ttl_s (64-bit literal in range)");
    ok(c->migration.peer2peer && c->migration.tunnelled && !c->migration.tls &&
       c->migration.permit_post_copy && c->migration.permit_auto_converge, "migration booleans");
    is_int(c->migration.bandwidth_mib, 64, "bandwidth_mib");
    is_int(c->migration.downtime_ms, 100, "downtime_ms");
    is_int(c->migration.downtime_steps, 3, "downtime_steps");
    is_int(c->migration.downtime_delay_s, 3, "downtime_delay_s");
    is_int(c->migration.completion_timeout_s, 0, "completion_timeout_s");
    is_str(c->migration.timeout_action, "force_complete", "timeout_action");
    is_int(c->migration.max_concurrent, 2, "max_concurrent");
    is_int(c->migration.poll_interval_ms, 10, "poll_interval_ms");
    is_str(c->migration.policy, "nova", "policy");
    ok(c->evacuator.enabled, "evacuator.enabled");
    is_int(c->evacuator.interval, 1, "evacuator.interval");
    is_int(c->evacuator.grace, 0, "evacuator.grace");
    ok(c->evacuator.max_down_fraction == 1.0, "evacuator.max_down_fraction (integer 1)");
    is_int(c->evacuator.max_per_minute, 1, "evacuator.max_per_minute");
    is_str(c->evacuator.mode, "rebuild", "evacuator.mode");
    is_int(c->evacuator.fence_command.n, 3, "fence_command: 3 items");
    if (c->evacuator.fence_command.n == 3) {
        is_str(c->evacuator.fence_command.v[1], "%h", "fence_command[1]");
        is_str(c->evacuator.fence_command.v[2], "", "fence_command[2] may be empty");
    }
    is_str(c->agent.metrics_listen, "[::1]:9464", "agent.metrics_listen");
    is_str(c->agent.definitions_dir, "/shared/defs", "agent.definitions_dir");
    is_str(c->controller.metrics_listen, "0.0.0.0:9465", "controller.metrics_listen");
    is_int(c->evacuator.fence_timeout_s, 3600, "evacuator.fence_timeout_s (at its maximum)");
    is_int(c->evacuator.alert_command.n, 2, "evacuator.alert_command: 2 items");
    is_int(c->evacuator.flap_window, 0, "evacuator.flap_window 0 (off)");
    is_int(c->evacuator.flap_max_grace, 86400, "evacuator.flap_max_grace (at its maximum)");
    is_str(c->state.path, "rel/state.db", "state.path");
    is_int(c->state.busy_timeout_ms, 3600000, "state.busy_timeout_ms (at its maximum)");
    is_str(c->log.level, "debug", "log.level");
    is_str(c->log.target, "syslog", "log.target");
    is_str(c->path, "good.conf", "cfg->path is the name given");
    dv_config_free(c);

    /* a later value for a key replaces an earlier list, not appends */
    if ((c = good("scheduler = { filters = [ \"ram\" ]; };", "one filter"))) {
        ok(c->scheduler.filters.n == 1 && strcmp(c->scheduler.filters.v[0], "ram") == 0,
           "filters replaces the default list");
        dv_config_free(c);
    }
    /* the edges of ranges are inside */
    if ((c = good("servicegroup = { report_interval = 3600; service_down_time = 86400; };\n"
                  "scheduler = { max_retries = -1; ram_allocation_ratio = 1000.0; };\n"
                  "evacuator = { max_down_fraction = 0.0; };\n"
                  "migration = { bandwidth_mib = 1048576; };\n", "range edges"))) {
        is_int(c->servicegroup.service_down_time, 86400, "service_down_time at its maximum");
        is_int(c->migration.bandwidth_mib, 1048576, "bandwidth_mib at its maximum");
        dv_config_free(c);
    }
}

static void test_hostport(void)
{
    char host[64];
    int port = 0;
    drover_error e = { 0 };

    ok(dv_config_hostport("mc1:1234", 11211, host, sizeof host, &port, &e) == 0 &&
       strcmp(host, "mc1") == 0 && port == 1234, "hostport: host:port");
    ok(dv_config_hostport("mc1", 11211, host, sizeof host, &port, &e) == 0 && port == 11211,
       "hostport: the default port");
    ok(dv_config_hostport("[fe80::1]:99", 0, host, sizeof host, &port, &e) == 0 &&
       strcmp(host, "fe80::1") == 0 && port == 99, "hostport: [IPv6]:port");
    ok(dv_config_hostport("mc1", 0, host, sizeof host, &port, &e) == -1, "hostport: port required");
    ok(dv_config_hostport("h:65535", 0, NULL, 0, &port, &e) == 0 && port == 65535, "hostport: port 65535");
    ok(dv_config_hostport("h:99999999999999999999", 0, NULL, 0, &port, &e) == -1,
       "hostport: a huge port does not overflow");
    ok(dv_config_hostport("h:+1", 0, NULL, 0, &port, &e) == -1, "hostport: a signed port");
    ok(dv_config_hostport("[::1]x", 0, NULL, 0, &port, &e) == -1, "hostport: junk after ]");
    ok(dv_config_hostport("averyveryverylongname", 1, host, 8, &port, &e) == -1,
       "hostport: host buffer too small is an error, not an overflow");
}

/* The sample must load, keep every default and show every key; the man
 * page must describe every key. */
static void test_sample_and_man(void)
{
    const char *top = getenv("top_srcdir");
    char sample[1024], man_path[1024];
    dv_config *cfg = NULL, *def = dv_config_new_defaults();
    drover_error e = { 0 };
    config_t lc;
    char *man;

    if (!top || !*top)
        top = getenv("srcdir");    /* automake's serial harness exports only srcdir */
    if (!top || !*top)
        bail_out("top_srcdir is not set: run this test with make check");
    snprintf(sample, sizeof sample, "%s/etc/drover.conf", top);
    snprintf(man_path, sizeof man_path, "%s/docs/drover.conf.5", top);

    ok(dv_config_load(sample, &cfg, &e) == 0, "the sample etc/drover.conf loads (%s)", e.message);
    if (cfg) {
        const char *d = config_diff(cfg, def);
        ok(!d, "the sample states the built-in defaults (differs in %s)", d ? d : "nothing");
        dv_config_free(cfg);
    }
    dv_config_free(def);

    config_init(&lc);
    if (!config_read_file(&lc, sample))
        bail_out("libconfig cannot read %s", sample);
    for (size_t i = 0; i < sizeof all_keys / sizeof *all_keys; i++) {
        /* agent.host defaults to the machine's name: the sample shows it commented out */
        if (strcmp(all_keys[i], "agent.host") == 0)
            continue;
        ok(config_lookup(&lc, all_keys[i]) != NULL, "the sample sets %s", all_keys[i]);
    }
    config_destroy(&lc);
    {
        char *text = read_all(sample);
        has_str(text, "# host = ", "the sample shows agent.host (commented out)");
        free(text);
    }

    man = read_all(man_path);
    for (size_t i = 0; i < sizeof all_keys / sizeof *all_keys; i++) {
        const char *leaf = strrchr(all_keys[i], '.') + 1;
        char entry[96], section[96];
        snprintf(section, sizeof section, "\n.SH SECTION %.*s\n",
                 (int)(strchr(all_keys[i], '.') - all_keys[i]), all_keys[i]);
        if (i == 0 || strncmp(all_keys[i], all_keys[i - 1], strcspn(all_keys[i], ".") + 1) != 0)
            has_str(man, section, "the man page has a section for %s", all_keys[i]);
        snprintf(entry, sizeof entry, "\n.BR %s \"", leaf);
        has_str(man, entry, "the man page describes %s", all_keys[i]);
    }
    free(man);
}

/* Also runs after bail_out(), so no temporary directory is left behind. */
static void remove_dir(void)
{
    char path[200];
    unlink(conf);
    snprintf(path, sizeof path, "%s/big.conf", dir);
    unlink(path);
    rmdir(dir);
}

/* The names a config may use are the registries' names, and a config a
 * program built is held to a driver's rules when the driver opens. */
static void test_registries(void)
{
    const char *const *sets[] = { dv_sg_names(), dv_filter_names(), dv_weigher_names() };
    const char *texts[] = { "servicegroup = { driver = \"nope\"; };\n",
                            "scheduler = { filters = [ \"nope\" ]; };\n",
                            "scheduler = { weighers = [ \"nope\" ]; };\n" };
    drover_error e = { 0 };
    dv_config *cfg = NULL, *def = dv_config_new_defaults();
    dv_sg *sg = NULL;

    for (size_t i = 0; i < 3; i++) {
        int listed = 0, n = 0;
        dv_config_load_string(texts[i], "r.conf", &cfg, &e);
        for (const char *const *p = sets[i]; *p; p++, n++) {
            char q[80];
            snprintf(q, sizeof q, "\"%s\"", *p);
            listed += strstr(e.message, q) != NULL;
        }
        ok(n > 0 && listed == n, "registry %zu: the message lists its %d names (%s)", i, n, e.message);
    }
    if (!def)
        bail_out("out of memory");
    is_str(def->servicegroup.driver, dv_sg_names()[0], "default driver: the registry's first");
    ok(def->scheduler.filters.n > 0 && strcmp(def->scheduler.filters.v[0], dv_filter_names()[0]) == 0,
       "default filters: the registry's");
    ok(dv_config_section_data(def, "mc") == NULL, "the built-in sections keep their values in dv_config");
    dv_config_free(def);

    /* one rule: the driver's open checks a program's config with the file's rules */
    if (!(def = dv_config_new_defaults()))
        bail_out("out of memory");
    for (size_t i = 0; i < def->servicegroup.mc.servers.n; i++)
        free(def->servicegroup.mc.servers.v[i]);
    def->servicegroup.mc.servers.n = 0;
    dv_config_set_string(&def->servicegroup.driver, "mc", NULL);
    ok(dv_sg_open(def, &sg, &e) < 0 && e.code == DROVER_ERR_CONFIG && !sg,
       "mc open refuses an empty server list");
    has_str(e.message, "servicegroup.mc.servers: expected at least one item", "... with the file's words");
    def->servicegroup.mc.retry_timeout_s = 0;
    dv_config_set_string(&def->servicegroup.driver, "zk", NULL);
    dv_config_set_string(&def->servicegroup.zk.prefix, "/zookeeper/x", NULL);
    ok(dv_sg_open(def, &sg, &e) < 0 && e.code == DROVER_ERR_CONFIG && !sg,
       "zk open refuses ZooKeeper's own prefix");
    has_str(e.message, "servicegroup.zk.prefix: expected a ZooKeeper path", "... with the file's words");
    dv_config_free(def);
    bad("servicegroup = { zk = { prefix = \"/zookeeper\"; }; };\n", 1, "servicegroup.zk.prefix",
        "/zookeeper belongs to ZooKeeper itself");
    bad("servicegroup = { zk = { prefix = \"/a b\"; }; };\n", 1, "servicegroup.zk.prefix",
        "node name");
}

/* A fourth driver's section, registered the way drivers/registry.c does:
 * its values live in a block of its own, with defaults, rules, FILE:LINE
 * errors and the rules between keys, and nothing in core names it. */
struct fake_settings {
    char *endpoint;
    int timeout_ms;
    dv_strlist peers;
};

static int fake_endpoint_rule(const char *v, char *why, size_t n)
{
    if (strncmp(v, "fake://", 7) == 0)
        return 0;
    snprintf(why, n, "expected a fake:// endpoint");
    return -1;
}

static int fake_check(const dv_config *cfg, const char **key, char *why, size_t n)
{
    const struct fake_settings *f = dv_config_section_data(cfg, "fake");
    if (f->peers.n > 0 && f->timeout_ms < 100) {
        *key = "timeout_ms";
        snprintf(why, n, "servicegroup.fake.timeout_ms must be at least 100 with peers");
        return -1;
    }
    return 0;
}

static void test_new_section(void)
{
    static const char *const peers[] = { "p1", NULL };
    static const dv_config_key keys[] = {
        DV_KEY_STRING("endpoint", offsetof(struct fake_settings, endpoint), DV_CONFIG_NONEMPTY,
                      "fake://here", fake_endpoint_rule),
        DV_KEY_INT("timeout_ms", offsetof(struct fake_settings, timeout_ms), 1, 1000, 250),
        DV_KEY_LIST("peers", offsetof(struct fake_settings, peers), 0, peers, NULL),
        DV_KEY_END,
    };
    static const dv_config_section fake = { .name = "fake", .size = sizeof(struct fake_settings),
                                            .keys = keys, .check = fake_check };
    static const char *const drivers[] = { "db", "mc", "zk", "fake", NULL };
    drover_error e = { 0 };
    dv_config *cfg = NULL;
    struct fake_settings *f;

    dv_config_add_section("servicegroup", &fake);
    dv_config_set_names("servicegroup.driver", drivers);
    if (!(cfg = dv_config_new_defaults()) || !(f = dv_config_section_data(cfg, "fake")))
        bail_out("no block for the new section");
    is_str(f->endpoint, "fake://here", "new section: string default");
    is_int(f->timeout_ms, 250, "new section: integer default");
    ok(f->peers.n == 1 && strcmp(f->peers.v[0], "p1") == 0, "new section: list default");
    dv_config_free(cfg);
    ok(dv_config_load_string("servicegroup = { driver = \"fake\";\n  fake = { endpoint = "
                             "\"fake://x\"; timeout_ms = 900; peers = [ ]; }; };\n", "f.conf",
                             &cfg, &e) == 0, "new section: a file that uses it loads (%s)", e.message);
    if (cfg && (f = dv_config_section_data(cfg, "fake"))) {
        is_str(f->endpoint, "fake://x", "new section: string read");
        is_int(f->timeout_ms, 900, "new section: integer read");
        is_int((int)f->peers.n, 0, "new section: list read");
    }
    dv_config_free(cfg);
    bad("servicegroup = { fake = {\n  timeout_ms = 0; }; };\n", 2, "servicegroup.fake.timeout_ms",
        "expected an integer in 1..1000, got 0");
    bad("servicegroup = { fake = { endpoint = \"http://x\"; }; };\n", 1,
        "servicegroup.fake.endpoint", "expected a fake:// endpoint");
    bad("servicegroup = { fake = { port = 1; }; };\n", 1, "servicegroup.fake.port",
        "unknown key; the valid keys in servicegroup.fake are: endpoint, timeout_ms, peers");
    bad("servicegroup = { fake = {\n\n  timeout_ms = 50; }; };\n", 3, "servicegroup.fake.timeout_ms",
        "must be at least 100 with peers");
    bad("servicegroup = { driver = \"nope\"; };\n", 1, "servicegroup.driver", "\"fake\"");
}

int main(void)
{
    strcpy(dir, "/tmp/dv-test-config.XXXXXX");
    if (!mkdtemp(dir))
        bail_out("mkdtemp: %s", strerror(errno));
    snprintf(conf, sizeof conf, "%s/drover.conf", dir);
    atexit(remove_dir);

    test_syntax();
    test_unknown_keys();
    test_wrong_types();
    test_ranges();
    test_cross_rules();
    test_enums();
    test_addresses_and_names();
    test_secrets();
    test_files();
    test_defaults();
    test_overrides();
    test_hostport();
    test_registries();
    test_sample_and_man();
    test_new_section();            /* last: it adds a section to the parser */
    return done_testing();
}
