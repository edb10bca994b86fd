/* test_virt.c - host reports read from libvirt's own test driver
 * (test:///default, in process: a running domain "test" on a 16-CPU i686
 * host), the capabilities parser on bad input, the domain XML helpers, the
 * live checks' questions, error reporting, and calls and reads with a
 * deadline (dv_virt_call, the agent's reader) against a socket that never
 * answers. */
#include "virt/virt.h"
#include "core/clock.h"
#include "core/report.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/tap.h"

#define TEST_URI "test:///default"

/* ---------------------------------------------------------------- parser */

static void parse_ok(const char *xml, const char *want_arch, const char *want_cpu, const char *what)
{
    char *arch, *cpu;
    drover_error e;
    int rc = dv_virt_parse_host_cpu(xml, "caps", &arch, &cpu, &e);

    if (!ok(rc == 0, "parse: %s", what)) {
        diag("   error: %s", e.message);
        return;
    }
    is_str(arch, want_arch, "parse: %s: arch", what);
    is_str(cpu, want_cpu, "parse: %s: cpu element", what);
    free(arch);
    free(cpu);
}

static void parse_bad(const char *xml, const char *needle, const char *what)
{
    char *arch = (char *)"x", *cpu = (char *)"x";
    drover_error e;
    int rc = dv_virt_parse_host_cpu(xml, "caps-of-h1", &arch, &cpu, &e);

    ok(rc == -1 && arch == NULL && cpu == NULL, "parse refuses %s", what);
    if (rc == -1) {
        is_int(e.code, DROVER_ERR_CORRUPT, "parse: %s: code corrupt", what);
        has_str(e.message, "caps-of-h1", "parse: %s: message names the source", what);
        has_str(e.message, needle, "parse: %s: message says what is wrong", what);
    } else {
        free(arch);
        free(cpu);
    }
}

static void test_parser(void)
{
    char long_arch[128];

    parse_ok("<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch><model>qemu64</model></cpu>"
             "<topology><cells><cell><cpus><cpu id='0'/></cpus></cell></cells></topology></host>"
             "<guest><arch name='i686'/></guest></capabilities>",
             "x86_64", "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>", "minimal document");
    parse_ok("<capabilities>\n <host>\n  <cpu mode='x'>\n   <arch>\n aarch64 \n</arch>\n  </cpu>\n </host>\n</capabilities>",
             "aarch64", "<cpu mode='x'>\n   <arch>\n aarch64 \n</arch>\n  </cpu>",
             "attributes and white space");
    parse_ok("<capabilities><hostdev/><host><cpu><arch>ppc64le</arch></cpu></host></capabilities>",
             "ppc64le", "<cpu><arch>ppc64le</arch></cpu>", "<hostdev> is not <host>");

    parse_bad(NULL, "no document", "NULL");
    parse_bad("", "<host>", "an empty document");
    parse_bad("<capabilities/>", "<host>", "no <host>");
    parse_bad("<capabilities><host><cpu><arch>x86_64</arch></cpu>", "<host>", "an unclosed <host>");
    parse_bad("<capabilities><host><uuid/></host><cpu><arch>x86_64</arch></cpu></capabilities>",
              "no <cpu>", "a <cpu> outside <host>");
    parse_bad("<capabilities><host><cpu><arch>x86_64</arch></host></capabilities>", "not closed",
              "an unclosed <cpu>");
    parse_bad("<capabilities><host><cpu/></host></capabilities>", "not closed", "an empty <cpu/>");
    parse_bad("<capabilities><host><cpu><model>x</model></cpu></host></capabilities>", "no <arch>",
              "a <cpu> without <arch>");
    parse_bad("<capabilities><host><cpu><arch>  </arch></cpu></host></capabilities>", "empty",
              "an empty <arch>");
    parse_bad("<capabilities><host><cpu><arch>x86 64</arch></cpu></host></capabilities>", "0x20",
              "an <arch> with a space");
    parse_bad("<capabilities><host><cpu><arch>x86&amp;</arch></cpu></host></capabilities>", "0x26",
              "an <arch> with markup");
    memset(long_arch, 0, sizeof long_arch);
    strcpy(long_arch, "<host><cpu><arch>");
    memset(long_arch + strlen(long_arch), 'a', 40);
    strcat(long_arch, "</arch></cpu></host>");
    parse_bad(long_arch, "longer than 32", "a 40-character <arch>");
    parse_bad("<host><cpu><arch>x86_64</cpu></host>", "no <arch>", "an unclosed <arch>");
}

static void test_state_names(void)
{
    is_str(dv_virt_state_name(VIR_DOMAIN_RUNNING), "running", "state name running");
    is_str(dv_virt_state_name(VIR_DOMAIN_PAUSED), "paused", "state name paused");
    is_str(dv_virt_state_name(VIR_DOMAIN_SHUTOFF), "shutoff", "state name shutoff");
    is_str(dv_virt_state_name(VIR_DOMAIN_PMSUSPENDED), "pmsuspended", "state name pmsuspended");
    is_str(dv_virt_state_name(99), "unknown", "state name of an unknown state");
}

/* ---------------------------------------------------------------- errors */

/* Run fn with stderr sent to a file; return what was printed (malloc'ed). */
static char *stderr_of(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/dv-test-virt-stderr.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    char *buf = calloc(1, 4096);

    if (fd < 0 || saved < 0 || !buf)
        bail_out("cannot capture stderr");
    fflush(stderr);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (pread(fd, buf, 4095, 0) < 0)
        buf[0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

struct open_try {
    const char *uri;
    int rc;
    drover_error err;
};

static void try_open(void *arg)
{
    struct open_try *t = arg;
    dv_virt *v = NULL;
    t->rc = dv_virt_open(t->uri, 0, 0, 0, &v, &t->err);
    dv_virt_close(v);
}

static void test_errors(void)
{
    struct open_try t = { .uri = "nosuchdriver:///nowhere" };
    char *printed = stderr_of(try_open, &t);
    dv_virt *v = (dv_virt *)1;
    drover_error e;

    is_int(t.rc, -1, "opening an unknown URI fails");
    is_int(t.err.code, DROVER_ERR_LIBVIRT, "... with code libvirt");
    is_int(t.err.domain, DROVER_FROM_LIBVIRT, "... from libvirt");
    has_str(t.err.message, "nosuchdriver:///nowhere", "... naming the URI");
    has_str(t.err.message, "virConnectOpen", "... naming the call");
    is_str(printed, "", "libvirt printed nothing on stderr");
    free(printed);

    is_int(dv_virt_open("", 0, 0, 0, &v, &e), -1, "an empty URI is refused");
    ok(v == NULL, "... and *out is NULL");
    is_int(e.code, DROVER_ERR_INVALID, "... as invalid");
    is_int(dv_virt_read_report(NULL, "h", NULL, (drover_report **)&v, &e), -1,
           "reading a report without a connection fails");
}

/* ---------------------------------------------------------------- report */

static const drover_instance *find_instance(const drover_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_instances; i++)
        if (strcmp(r->instances[i].name, name) == 0)
            return &r->instances[i];
    return NULL;
}

static void check_against_libvirt(dv_virt *v, const drover_report *r)
{
    virConnectPtr c = dv_virt_conn(v);
    unsigned long hv = 0, lib = 0;
    virNodeInfo ni;
    char *caps = virConnectGetCapabilities(c);
    unsigned long long free_bytes = virNodeGetFreeMemory(c);

    if (!caps || virConnectGetVersion(c, &hv) < 0 || virConnectGetLibVersion(c, &lib) < 0 ||
        virNodeGetInfo(c, &ni) < 0)
        bail_out("the test driver did not answer a direct call");
    is_int(r->schema, DROVER_REPORT_SCHEMA, "report schema");
    is_str(r->host, "h1", "host name is the one asked for");
    is_str(r->hypervisor_type, virConnectGetType(c), "hypervisor type as virConnectGetType says");
    is_str(r->hypervisor_type, "TEST", "the test driver calls itself TEST");
    is_int(r->hypervisor_version, hv, "hypervisor version as virConnectGetVersion says");
    ok(r->hypervisor_version > 0, "hypervisor version is not 0");
    is_int(r->libvirt_version, lib, "libvirt version as virConnectGetLibVersion says");
    ok(r->libvirt_version >= 6000000, "libvirt version is at least 6.0.0 (%llu)",
       (unsigned long long)r->libvirt_version);
    is_str(r->arch, "i686", "arch of the test host");
    has_str(caps, r->cpu_xml, "cpu XML is taken verbatim from the capabilities");
    ok(strncmp(r->cpu_xml, "<cpu>", 5) == 0, "cpu XML starts with <cpu>");
    has_str(r->cpu_xml, "<arch>i686</arch>", "cpu XML holds the arch");
    is_int(r->memory_total_mib, ni.memory / 1024, "memory total from virNodeGetInfo");
    is_int(r->memory_free_mib, free_bytes >> 20, "memory free from virNodeGetFreeMemory");
    ok(r->memory_free_mib <= r->memory_total_mib, "free (%llu) <= total (%llu) MiB",
       (unsigned long long)r->memory_free_mib, (unsigned long long)r->memory_total_mib);
    is_int(r->vcpus, ni.cpus, "vcpus from virNodeGetInfo");
    ok(r->generated_ms > 0 && llabs(r->generated_ms - dv_wall_ms()) < 60000,
       "generated_ms is the wall clock now");
    free(caps);
}

static void check_test_domain(dv_virt *v, const drover_report *r, const char *want_state)
{
    const drover_instance *in = find_instance(r, "test");
    virDomainPtr d = virDomainLookupByName(dv_virt_conn(v), "test");
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!d || virDomainGetUUIDString(d, uuid) < 0)
        bail_out("the test driver has no domain \"test\"");
    if (!ok(in != NULL, "instance \"test\" is reported")) {
        virDomainFree(d);
        return;
    }
    is_str(in->uuid, uuid, "its UUID as libvirt says");
    is_int(strlen(in->uuid), 36, "UUID is 36 characters");
    is_int(in->memory_mib, virDomainGetMaxMemory(d) / 1024, "its memory as libvirt says (MiB)");
    is_str(in->state, want_state, "its state is %s", want_state);
    virDomainFree(d);
}

static void check_json_round_trip(const drover_report *r)
{
    char *json = NULL;
    drover_report *back = NULL;
    drover_error e;

    if (!ok(dv_report_to_json(r, &json, &e) == 0, "report encodes to JSON"))
        return;
    if (!ok(dv_report_from_json(json, strlen(json), &back, &e) == 0, "the JSON decodes")) {
        diag("   %s", e.message);
        free(json);
        return;
    }
    is_str(back->host, r->host, "round trip: host");
    is_str(back->hypervisor_type, r->hypervisor_type, "round trip: type");
    is_int(back->hypervisor_version, r->hypervisor_version, "round trip: hypervisor version");
    is_int(back->libvirt_version, r->libvirt_version, "round trip: libvirt version");
    is_str(back->arch, r->arch, "round trip: arch");
    is_str(back->cpu_xml, r->cpu_xml, "round trip: cpu XML");
    is_int(back->memory_total_mib, r->memory_total_mib, "round trip: memory total");
    is_int(back->memory_free_mib, r->memory_free_mib, "round trip: memory free");
    is_int(back->vcpus, r->vcpus, "round trip: vcpus");
    is_str(back->migration_uri, r->migration_uri, "round trip: migration URI");
    is_int(back->generated_ms, r->generated_ms, "round trip: generated_ms");
    is_int(back->n_instances, r->n_instances, "round trip: instance count");
    for (size_t i = 0; i < back->n_instances && i < r->n_instances; i++) {
        is_str(back->instances[i].name, r->instances[i].name, "round trip: instance %zu name", i);
        is_str(back->instances[i].uuid, r->instances[i].uuid, "round trip: instance %zu uuid", i);
        is_int(back->instances[i].memory_mib, r->instances[i].memory_mib,
               "round trip: instance %zu memory", i);
        is_str(back->instances[i].state, r->instances[i].state, "round trip: instance %zu state", i);
    }
    drover_report_free(back);
    free(json);
}

static const char second_domain[] =
    "<domain type='test'><name>a-stopped</name><uuid>0b5c1f3e-9d2a-4c61-8e77-123456789abc</uuid>"
    "<memory unit='MiB'>300</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>";

static void test_report(void)
{
    dv_virt *v;
    drover_report *r;
    drover_error e;
    virDomainPtr extra, test;

    if (dv_virt_open(TEST_URI, DV_VIRT_READONLY, 5, 3, &v, &e) < 0)
        bail_out("cannot open %s: %s", TEST_URI, e.message);
    is_str(dv_virt_uri(v), TEST_URI, "connection keeps its URI");
    ok(dv_virt_alive(v), "the connection is alive");
    if (dv_virt_read_report(v, "h1", NULL, &r, &e) < 0)
        bail_out("cannot read a report from %s: %s", TEST_URI, e.message);
    check_against_libvirt(v, r);
    is_str(r->migration_uri, TEST_URI, "migration URI defaults to the connection's URI");
    is_int(r->n_instances, 1, "the test host has one domain");
    check_test_domain(v, r, "running");
    check_json_round_trip(r);
    drover_report_free(r);
    dv_virt_close(v);

    /* a second, read-write connection changes the (shared) test host */
    if (dv_virt_open(TEST_URI, 0, 0, 0, &v, &e) < 0)
        bail_out("cannot open %s read-write: %s", TEST_URI, e.message);
    extra = virDomainDefineXML(dv_virt_conn(v), second_domain);
    test = virDomainLookupByName(dv_virt_conn(v), "test");
    if (!extra || !test || virDomainSuspend(test) < 0)
        bail_out("cannot define or suspend domains on the test driver");
    if (dv_virt_read_report(v, "h1", "qemu+tcp://h1/system", &r, &e) < 0)
        bail_out("cannot read a report: %s", e.message);
    is_str(r->migration_uri, "qemu+tcp://h1/system", "migration URI as given");
    is_int(r->n_instances, 2, "two domains after defining one");
    if (r->n_instances == 2) {
        is_str(r->instances[0].name, "a-stopped", "instances are sorted by name (first)");
        is_str(r->instances[1].name, "test", "instances are sorted by name (second)");
        is_str(r->instances[0].state, "shutoff", "a defined domain is shutoff");
        is_str(r->instances[0].uuid, "0b5c1f3e-9d2a-4c61-8e77-123456789abc", "its UUID");
        is_int(r->instances[0].memory_mib, 300, "its memory in MiB");
    }
    check_test_domain(v, r, "paused");
    check_json_round_trip(r);
    drover_report_free(r);

    if (dv_virt_read_report(v, "h1", NULL, &r, &e) < 0)
        bail_out("cannot read a report: %s", e.message);
    is_int(dv_virt_caps_reads(v), 1, "capabilities were read once for two reports");
    drover_report_free(r);
    virDomainResume(test);
    virDomainUndefine(extra);
    virDomainFree(extra);
    virDomainFree(test);
    dv_virt_close(v);
}

/* ---------------------------------------------------------------- domain XML */

static void test_domain_xml(void)
{
    static const char model[] =
        "<domain type='kvm' id='3'><name>g</name><cputune><shares>2</shares></cputune>"
        "<cpu mode='custom' match='exact'><model fallback='forbid'>Westmere</model></cpu>"
        "</domain>";
    static const char passthrough[] =
        "<domain type=\"qemu\"><cpu mode='host-passthrough'><model>x</model></cpu></domain>";
    static const char nomodel[] = "<domain type='qemu'><cpu mode='custom'/></domain>";
    char buf[32], tiny[3];
    char *cpu;

    ok(dv_virt_domain_type(model, buf, sizeof buf) && strcmp(buf, "kvm") == 0,
       "domain type of <domain type='kvm'> is kvm");
    ok(dv_virt_domain_type(passthrough, buf, sizeof buf) && strcmp(buf, "qemu") == 0,
       "domain type in double quotes");
    ok(!dv_virt_domain_type("<domain><name>x</name></domain>", buf, sizeof buf),
       "a domain without a type has none");
    ok(!dv_xml_attr("<cpu mode='custom'>", "mode", tiny, sizeof tiny),
       "an attribute longer than the buffer is refused, not cut");
    ok(dv_xml_attr("<model fallback='forbid'>", "fallback", buf, sizeof buf) &&
           strcmp(buf, "forbid") == 0, "an attribute is read");
    cpu = dv_virt_domain_cpu(model);
    ok(cpu && strncmp(cpu, "<cpu mode='custom'", 18) == 0, "a guest's own CPU model is its CPU "
       "(not <cputune>)");
    ok(cpu && strstr(cpu, "Westmere</model></cpu>") != NULL, "... the whole element");
    free(cpu);
    ok(dv_virt_domain_cpu(passthrough) == NULL, "host-passthrough: the guest carries no CPU");
    ok(dv_virt_domain_cpu(nomodel) == NULL, "a <cpu/> naming no model: none");
    ok(dv_virt_domain_cpu("<domain type='kvm'></domain>") == NULL, "no <cpu>: none");
}

/* ---------------------------------------------------------------- questions */

static void test_questions(void)
{
    char type[64], uuid[VIR_UUID_STRING_BUFLEN];
    unsigned long long ver = 0;
    unsigned long want_ver = 0;
    dv_virt_memory mem;
    dv_virt_guest g;
    drover_report *r;
    drover_error e;
    bool defined;
    virDomainPtr d;
    dv_virt *v;

    if (dv_virt_open(TEST_URI, 0, 0, 0, &v, &e) < 0)
        bail_out("cannot open %s: %s", TEST_URI, e.message);
    d = virDomainLookupByName(dv_virt_conn(v), "test");
    if (!d || virDomainGetUUIDString(d, uuid) < 0 ||
        virConnectGetVersion(dv_virt_conn(v), &want_ver) < 0)
        bail_out("the test driver has no domain \"test\"");
    virDomainFree(d);
    is_int(dv_virt_hypervisor(v, type, sizeof type, &ver, &e), 0, "hypervisor: answered");
    is_str(type, "TEST", "hypervisor: the test driver's type");
    is_int(ver, want_ver, "hypervisor: its version");

    is_int(dv_virt_guest_read(v, uuid, &g, &e), 0, "guest: the test domain is read by UUID");
    is_int(g.state, VIR_DOMAIN_RUNNING, "guest: running");
    is_str(g.virttype, "test", "guest: its domain type");
    dv_virt_guest_clear(&g);
    is_int(dv_virt_guest_read(v, "00000000-0000-4000-8000-000000000000", &g, &e), -1,
           "guest: an unknown UUID fails");
    is_int(e.code, DROVER_ERR_NOT_FOUND, "guest: ... not found");
    has_str(e.message, "00000000-0000-4000-8000-000000000000", "guest: ... naming the UUID");

    ok(dv_virt_has_domain(v, uuid, &defined, &e) == 0 && defined, "has_domain: the test domain");
    ok(dv_virt_has_domain(v, "00000000-0000-4000-8000-000000000000", &defined, &e) == 0 &&
           !defined, "has_domain: not an unknown UUID, and no error");

    if (dv_virt_read_memory(v, &mem, &e) < 0 || dv_virt_read_report(v, "h1", NULL, &r, &e) < 0)
        bail_out("memory: %s", e.message);
    is_int(mem.total_mib, r->memory_total_mib, "memory: the report's total is dv_virt_read_memory's");
    is_int(mem.free_mib, r->memory_free_mib, "memory: the report's free is dv_virt_read_memory's");
    is_int(mem.vcpus, r->vcpus, "memory: and its vCPUs");
    drover_report_free(r);
    dv_virt_close(v);
}

/* ---------------------------------------------------------------- deadlines */

/* A libvirt URI whose unix socket, in a directory of its own, accepts
 * nothing and answers nothing. */
typedef struct silent_libvirt {
    char dir[64], sock[128], uri[256];
    int fd;
} silent_libvirt;

static void silent_open(silent_libvirt *sl)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };

    snprintf(sl->dir, sizeof sl->dir, "/tmp/dvtv.XXXXXX");
    if (!mkdtemp(sl->dir))
        bail_out("mkdtemp");
    snprintf(sl->sock, sizeof sl->sock, "%s/sock", sl->dir);
    snprintf(sl->uri, sizeof sl->uri, "qemu+unix:///system?socket=%s", sl->sock);
    if (strlen(sl->sock) >= sizeof a.sun_path)
        bail_out("socket path %s is too long", sl->sock);
    memcpy(a.sun_path, sl->sock, strlen(sl->sock) + 1);
    sl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sl->fd < 0 || bind(sl->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(sl->fd, 8) < 0)
        bail_out("cannot listen on %s", sl->sock);
}

/* The socket file and its directory, once the test has closed sl->fd. */
static void silent_remove(silent_libvirt *sl)
{
    unlink(sl->sock);
    rmdir(sl->dir);
}

static void wait_idle(dv_virt_reader *r, const char *what)
{
    for (int i = 0; i < 500 && dv_virt_reader_pending_ms(r) > 0; i++)
        dv_sleep_ms(10);
    if (dv_virt_reader_pending_ms(r) > 0)
        bail_out("%s: the stuck libvirt call did not return within 5 s", what);
}

static void test_reader(void)
{
    silent_libvirt sl;
    dv_virt_reader *r, *orphan;
    drover_report *rep;
    dv_read_status st;
    drover_error e;
    int wake;
    int64_t t0, took;

    /* a libvirt that answers */
    if (dv_virt_reader_new(TEST_URI, "h1", "", 2000, &r, &e) < 0)
        bail_out("reader: %s", e.message);
    is_int(dv_virt_reader_read(r, -1, &rep, &st, &e), 0, "reader reads a report from " TEST_URI);
    is_int(st, DV_READ_OK, "... with status OK");
    ok(rep && strcmp(rep->hypervisor_type, "TEST") == 0 && rep->n_instances >= 1,
       "... and it is the test host's report");
    drover_report_free(rep);
    is_int(dv_virt_reader_read(r, -1, &rep, &st, &e), 0, "a second read works too");
    drover_report_free(rep);
    is_int(dv_virt_reader_pending_ms(r), 0, "nothing pending after a read");
    dv_virt_reader_free(r);

    /* a libvirt that never answers */
    silent_open(&sl);
    if (dv_virt_reader_new(sl.uri, "h1", "", 300, &r, &e) < 0)
        bail_out("reader: %s", e.message);
    t0 = dv_mono_ms();
    is_int(dv_virt_reader_read(r, -1, &rep, &st, &e), -1, "a read of a silent libvirt fails");
    took = dv_mono_ms() - t0;
    is_int(st, DV_READ_TIMEOUT, "... with status TIMEOUT");
    ok(rep == NULL, "... and no report");
    is_int(e.code, DROVER_ERR_LIBVIRT, "... code libvirt");
    has_str(e.message, sl.sock, "... the message names the URI");
    has_str(e.message, "300 ms", "... and the timeout");
    ok(took >= 290 && took < 3000, "... after about the timeout (%lld ms)", (long long)took);
    diag("timed out after %lld ms (timeout 300 ms)", (long long)took);

    t0 = dv_mono_ms();
    is_int(dv_virt_reader_read(r, -1, &rep, &st, &e), -1, "the next read fails too");
    is_int(st, DV_READ_STUCK, "... at once with status STUCK (no read on top of a stuck one)");
    has_str(e.message, "has not answered", "... saying libvirt has not answered");
    ok(dv_mono_ms() - t0 < 200, "... without waiting");
    /* the worker's clock starts a moment after ours: counting from the
     * second read would give under 200 ms, from the first about 300 */
    ok(dv_virt_reader_pending_ms(r) >= 250, "pending time counts from the first read (%lld ms)",
       (long long)dv_virt_reader_pending_ms(r));

    /* a second reader left behind while stuck frees itself later */
    if (dv_virt_reader_new(sl.uri, "h1", "", 100, &orphan, &e) < 0)
        bail_out("reader: %s", e.message);
    wake = eventfd(1, EFD_CLOEXEC);
    is_int(dv_virt_reader_read(orphan, wake, &rep, &st, &e), -1, "a read with a ready wake fd");
    is_int(st, DV_READ_WOKEN, "... returns WOKEN");
    close(wake);
    dv_virt_reader_free(orphan);

    /* the silent server goes away: the stuck call returns, reads resume */
    close(sl.fd);
    wait_idle(r, "after closing the silent socket");
    ok(1, "the stuck read returned once the server went away");
    t0 = dv_mono_ms();
    is_int(dv_virt_reader_read(r, -1, &rep, &st, &e), -1, "a read with no server fails");
    is_int(st, DV_READ_FAILED, "... with status FAILED, not STUCK or TIMEOUT");
    has_str(e.message, "virConnectOpen", "... saying which call failed");
    has_str(e.message, sl.sock, "... and where");
    dv_virt_reader_free(r);
    silent_remove(&sl);
}

/* ---------------------------------------------------------------- dv_virt_call */

typedef struct call_arg {
    unsigned long version;
    _Atomic int released;
} call_arg;

static int version_fn(dv_virt *v, void *p, drover_error *err)
{
    call_arg *a = p;
    if (virConnectGetVersion(dv_virt_conn(v), &a->version) < 0)
        return dv_virt_error(err, dv_virt_uri(v), "virConnectGetVersion");
    return 0;
}

static int failing_fn(dv_virt *v, void *p, drover_error *err)
{
    (void)p;
    return dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT, "asked %s and it said no",
                  dv_virt_uri(v));
}

static void mark_released(void *p)
{
    atomic_store(&((call_arg *)p)->released, 1);
}

static void test_call(void)
{
    static call_arg stuck;       /* the worker's after a timeout: it must outlive the test */
    silent_libvirt sl;
    call_arg a = { 0 };
    dv_call_status st;
    drover_error e;
    int64_t t0, took;
    dv_virt *v;

    is_int(dv_virt_new(TEST_URI, DV_VIRT_READONLY, 0, 0, &v, &e), 0, "new: a handle, not connected");
    ok(dv_virt_conn(v) == NULL, "... no connection yet");
    is_int(dv_virt_call(v, 2000, version_fn, &a, mark_released, &e), 0,
           "call: fn runs on a connection the worker made");
    ok(a.version > 0, "... and its answer is the caller's");
    is_int(atomic_load(&a.released), 0, "... release is not called for an answer in time");
    is_int(dv_virt_call_wake(v, 2000, -1, failing_fn, &a, NULL, &st, &e), -1, "call: fn fails");
    is_int(st, DV_CALL_FAILED, "... status FAILED");
    has_str(e.message, "it said no", "... with fn's error");
    is_int(dv_virt_pending_ms(v), 0, "nothing pending between calls");
    dv_virt_close(v);

    silent_open(&sl);
    if (dv_virt_new(sl.uri, DV_VIRT_READONLY, 1, 3, &v, &e) < 0)
        bail_out("new: %s", e.message);
    t0 = dv_mono_ms();
    is_int(dv_virt_call_wake(v, 300, -1, version_fn, &stuck, mark_released, &st, &e), -1,
           "call on a libvirt that never answers: fails");
    took = dv_mono_ms() - t0;
    is_int(st, DV_CALL_TIMEOUT, "... status TIMEOUT");
    is_int(e.code, DROVER_ERR_LIBVIRT, "... code libvirt");
    has_str(e.message, "did not answer within 300 ms", "... saying it did not answer within 300 ms");
    has_str(e.message, sl.sock, "... naming the URI");
    ok(took >= 290 && took < 3000, "... after about the timeout (%lld ms)", (long long)took);
    is_int(dv_virt_call_wake(v, 300, -1, version_fn, &a, mark_released, &st, &e), -1,
           "a second call while the first is stuck fails");
    is_int(st, DV_CALL_STUCK, "... at once with status STUCK");
    has_str(e.message, "has not answered a call started", "... saying so");
    is_int(atomic_load(&a.released), 0, "... and its arg was never the worker's");

    close(sl.fd);
    for (int i = 0; i < 500 && !atomic_load(&stuck.released); i++)
        dv_sleep_ms(10);
    is_int(atomic_load(&stuck.released), 1, "the stuck call's arg is released once libvirt lets go");
    for (int i = 0; i < 500 && dv_virt_pending_ms(v) > 0; i++)
        dv_sleep_ms(10);
    is_int(dv_virt_call_wake(v, 2000, -1, version_fn, &a, NULL, &st, &e), -1,
           "the next call, with no server, fails");
    is_int(st, DV_CALL_UNREACHABLE, "... status UNREACHABLE: fn did not run");
    has_str(e.message, "virConnectOpen", "... naming the call that failed");
    dv_virt_close(v);
    silent_remove(&sl);
}

int main(void)
{
    drover_error e;

    if (dv_virt_init(&e) < 0)
        bail_out("dv_virt_init: %s", e.message);
    ok(dv_virt_init(&e) == 0, "dv_virt_init can be called again");
    test_parser();
    test_state_names();
    test_errors();
    test_report();
    test_domain_xml();
    test_questions();
    test_call();
    test_reader();
    return done_testing();
}
