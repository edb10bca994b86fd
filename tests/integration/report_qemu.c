/* report_qemu.c - the host report read from a real QEMU driver.
 *
 *   report_qemu URI      (run by test_report_qemu.sh, which starts libvirtd)
 *
 * Starts a tiny TCG guest and defines a stopped one, each with a UUID and a
 * memory size chosen here, then checks the report against sources that are
 * not the code under test: the guests' own definitions, uname(2), the
 * kernel's /proc/meminfo, and the capabilities document. */
#include "core/report.h"
#include "virt/virt.h"

#include <sys/utsname.h>
#include <unistd.h>

#include "tests/tap.h"

#define RUN_UUID "5d0e8a3c-1b7f-4e2a-9c44-0123456789ab"
#define OFF_UUID "5d0e8a3c-1b7f-4e2a-9c44-ba9876543210"

static const char run_xml[] =
    "<domain type='qemu'><name>dv-run</name><uuid>" RUN_UUID "</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
    "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
    "<controller type='usb' model='none'/><memballoon model='none'/></devices></domain>";

static const char off_xml[] =
    "<domain type='qemu'><name>dv-off</name><uuid>" OFF_UUID "</uuid>"
    "<memory unit='MiB'>96</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
    "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>";

/* KiB the kernel counts as used: MemTotal - MemFree - Buffers - Cached. */
static long long meminfo_used_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    long long total = -1, fr = -1, buf = 0, cached = 0, v;
    char key[64];

    if (!f)
        bail_out("cannot read /proc/meminfo");
    while (fscanf(f, "%63s %lld kB\n", key, &v) == 2) {
        if (strcmp(key, "MemTotal:") == 0)
            total = v;
        else if (strcmp(key, "MemFree:") == 0)
            fr = v;
        else if (strcmp(key, "Buffers:") == 0)
            buf = v;
        else if (strcmp(key, "Cached:") == 0)
            cached = v;
    }
    fclose(f);
    if (total < 0 || fr < 0)
        bail_out("/proc/meminfo has no MemTotal/MemFree");
    return total - fr - buf - cached;
}

static const drover_instance *find(const drover_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_instances; i++)
        if (strcmp(r->instances[i].name, name) == 0)
            return &r->instances[i];
    return NULL;
}

static drover_report *read_report(dv_virt *v, const char *what)
{
    drover_report *r;
    drover_error e;

    if (dv_virt_read_report(v, "qemu-h1", "qemu+tcp://qemu-h1/system", &r, &e) < 0)
        bail_out("%s: %s", what, e.message);
    return r;
}

int main(int argc, char **argv)
{
    struct utsname u;
    dv_virt *v;
    drover_error e;
    drover_report *r;
    virDomainPtr run, off;
    const drover_instance *in;
    char *caps;
    long long used_mib, want_free;

    if (argc != 2)
        bail_out("usage: report_qemu URI");
    if (dv_virt_open(argv[1], 0, 5, 3, &v, &e) < 0)
        bail_out("%s", e.message);
    uname(&u);
    run = virDomainCreateXML(dv_virt_conn(v), run_xml, 0);
    off = virDomainDefineXML(dv_virt_conn(v), off_xml);
    if (!run || !off)
        bail_out("cannot start or define the test guests: %s", virGetLastErrorMessage());

    r = read_report(v, "first report");
    is_str(r->hypervisor_type, "QEMU", "hypervisor type QEMU");
    ok(r->hypervisor_version >= 2000000, "QEMU version %llu is at least 2.0.0",
       (unsigned long long)r->hypervisor_version);
    ok(r->libvirt_version >= 6000000, "libvirt version %llu", (unsigned long long)r->libvirt_version);
    is_str(r->arch, u.machine, "arch is the machine's (uname)");
    caps = virConnectGetCapabilities(dv_virt_conn(v));
    has_str(caps, r->cpu_xml, "cpu XML is the capabilities' host <cpu>");
    has_str(r->cpu_xml, "<model>", "  and names a CPU model");
    free(caps);
    is_int(r->vcpus, sysconf(_SC_NPROCESSORS_ONLN), "vcpus are the online CPUs (sysconf)");
    ok(r->memory_total_mib > 0, "memory total %llu MiB", (unsigned long long)r->memory_total_mib);
    ok(r->memory_free_mib <= r->memory_total_mib, "free %llu <= total %llu MiB",
       (unsigned long long)r->memory_free_mib, (unsigned long long)r->memory_total_mib);
    used_mib = meminfo_used_kib() / 1024;
    want_free = (long long)r->memory_total_mib - used_mib;
    if (want_free < 0)
        want_free = 0;
    ok(llabs((long long)r->memory_free_mib - want_free) <= 64,
       "free = total - used (kernel: %lld MiB used): %llu vs %lld MiB", used_mib,
       (unsigned long long)r->memory_free_mib, want_free);
    is_str(r->migration_uri, "qemu+tcp://qemu-h1/system", "migration URI as given");

    in = find(r, "dv-run");
    if (ok(in != NULL, "the running guest is reported")) {
        is_str(in->uuid, RUN_UUID, "  with its UUID");
        is_int(in->memory_mib, 64, "  its memory");
        is_str(in->state, "running", "  running");
    }
    in = find(r, "dv-off");
    if (ok(in != NULL, "the defined guest is reported")) {
        is_str(in->uuid, OFF_UUID, "  with its UUID");
        is_int(in->memory_mib, 96, "  its memory");
        is_str(in->state, "shutoff", "  shut off");
    }
    drover_report_free(r);

    if (virDomainSuspend(run) < 0)
        bail_out("cannot suspend dv-run: %s", virGetLastErrorMessage());
    r = read_report(v, "second report");
    in = find(r, "dv-run");
    ok(in && strcmp(in->state, "paused") == 0, "a suspended guest is paused");
    is_int(dv_virt_caps_reads(v), 1, "capabilities were read once for two reports");
    drover_report_free(r);

    virDomainDestroy(run);
    r = read_report(v, "third report");
    ok(find(r, "dv-run") == NULL, "a destroyed transient guest is gone from the report");
    ok(find(r, "dv-off") != NULL, "the defined one is still there");
    drover_report_free(r);

    virDomainUndefine(off);
    virDomainFree(run);
    virDomainFree(off);
    dv_virt_close(v);
    return done_testing();
}
