/* test_lvhosts.c - the libvirt test harness itself, against real daemons:
 * two hosts that are really distinct (names, host UUIDs), a TCG guest that
 * boots and beats, a real peer-to-peer live migration 1 -> 2 after which the
 * guest runs on host 2 only and has not rebooted, a three-host instance
 * started beside the first, and stops that leave no process and no network
 * namespace behind.  Timings go out as TAP diagnostics. */
#include "tests/harness/lvhosts.h"
#include "tests/harness/guest/guest.h"
#include "core/clock.h"
#include "tests/tap.h"

#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#define GUEST "dvt-mig"

/* libvirt prints every error on stderr by default; the expected ones
 * (looking up a guest that left) would only clutter the log */
static void quiet(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static virConnectPtr connect_or_bail(const lvh_host *host)
{
    virConnectPtr c = virConnectOpen(host->uri);
    if (!c)
        bail_out("cannot connect to %s: %s", host->uri, virGetLastErrorMessage());
    return c;
}

/* the <uuid> of the <host> element of the capabilities */
static int caps_host_uuid(virConnectPtr c, char *out, size_t size)
{
    char *caps = virConnectGetCapabilities(c);
    const char *host = caps ? strstr(caps, "<host>") : NULL;
    const char *u = host ? strstr(host, "<uuid>") : NULL;
    const char *end = u ? strstr(u, "</uuid>") : NULL;
    int rc = -1;

    if (end && (size_t)(end - u - 6) < size) {
        memcpy(out, u + 6, (size_t)(end - u - 6));
        out[end - u - 6] = 0;
        rc = 0;
    }
    free(caps);
    return rc;
}

static void check_host(const lvh_host *host, int k, char *uuid_out)
{
    virConnectPtr c = connect_or_bail(host);
    char *name = virConnectGetHostname(c);
    unsigned long ver = 0;

    is_str(name, host->name, "host %d answers with its own host name", k);
    int vrc = virConnectGetVersion(c, &ver);
    ok(vrc == 0 && ver > 0, "host %d reports a qemu version (%lu)", k, ver);
    ok(caps_host_uuid(c, uuid_out, 40) == 0, "host %d capabilities have a host uuid", k);
    is_str(uuid_out, host->uuid, "host %d host uuid is the one the harness configured", k);
    free(name);
    virConnectClose(c);
}

static int count_domains(virConnectPtr c)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(c, &doms, 0);
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    return n;
}

static int dom_running(virConnectPtr c, const char *name)
{
    return lvh_dom_state(c, name, NULL) == VIR_DOMAIN_RUNNING;
}

static int netns_exists(const char *name)
{
    char path[96];
    struct stat st;
    snprintf(path, sizeof path, "/run/netns/%s", name);
    return stat(path, &st) == 0;
}

/* the pid libvirtd wrote, as seen from outside its mount namespace */
static pid_t read_pid(const char *dir, int k, const char *rel)
{
    char path[256];
    long pid = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/h%d/run/%s", dir, k, rel);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* Everything an instance ran, to prove after the stop that none is left. */
struct remains {
    pid_t pids[16];
    int npids;
    char netns[LVH_MAX_HOSTS + 1][32];
    char dir[64];
};

static void remember(struct remains *r, const lvh *h)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", h->dir);
    snprintf(r->netns[0], sizeof r->netns[0], "dvl%d-0", h->id);   /* the switch */
    for (int k = 0; k < h->n; k++) {
        snprintf(r->netns[k + 1], sizeof r->netns[k + 1], "%s", h->host[k].netns);
        r->pids[r->npids++] = h->host[k].pid;
        r->pids[r->npids++] = read_pid(h->dir, k + 1, "libvirtd.pid");
    }
}

static void remember_qemu(struct remains *r, const lvh *h, int k, const char *guest)
{
    char rel[96];
    snprintf(rel, sizeof rel, "qemu/%s.pid", guest);
    r->pids[r->npids++] = read_pid(h->dir, k, rel);
}

static void check_gone(const struct remains *r, const char *what)
{
    int alive = 0, ns = 0, known = 0;
    struct stat st;

    for (int i = 0; i < r->npids; i++) {
        known += r->pids[i] > 0;
        if (lvh_pid_alive(r->pids[i])) {
            alive++;
            diag("   pid %ld still running", (long)r->pids[i]);
        }
    }
    for (int k = 0; k <= LVH_MAX_HOSTS; k++)
        if (r->netns[k][0] && netns_exists(r->netns[k])) {
            ns++;
            diag("   netns %s still there", r->netns[k]);
        }
    is_int(known, r->npids, "%s: every daemon/qemu pid was known before the stop", what);
    is_int(alive, 0, "%s: no tini, libvirtd or qemu left running", what);
    is_int(ns, 0, "%s: no network namespace left", what);
    ok(stat(r->dir, &st) != 0, "%s: its directory %s is removed", what, r->dir);
}

static void test_script_rejects_bad_input(void)
{
    const char *bad_n[] = { "start", "/tmp/dvlv-never", "4", NULL };
    const char *bad_name[] = { "guest-xml", "a b", "64", NULL };
    const char *bad_mem[] = { "guest-xml", "g", "64x", NULL };
    const char *bad_cmd[] = { "guest-xml", "g", "64", "wss=1'/>", NULL };
    const char *stop_none[] = { "stop", "/tmp/dvlv-never-started", NULL };
    const char *bogus[] = { "frobnicate", NULL };
    char *out = NULL;

    ok(lvh_script(NULL, bad_n, NULL) != 0, "script: start with 4 hosts is refused");
    ok(lvh_script(NULL, bad_name, &out) != 0 && out && !*out, "script: guest name with a space is refused");
    free(out);
    ok(lvh_script(NULL, bad_mem, NULL) != 0, "script: non-numeric memory is refused");
    ok(lvh_script(NULL, bad_cmd, NULL) != 0, "script: XML characters in the cmdline are refused");
    ok(lvh_script(NULL, bogus, NULL) != 0, "script: unknown command is refused");
    is_int(lvh_script(NULL, stop_none, NULL), 0, "script: stop of nothing succeeds (idempotent)");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        bail_out("cannot write %s", path);
}

static void test_env_parser(void)
{
    char path[] = "/tmp/dvlv-env.XXXXXX";
    int fd = mkstemp(path);
    lvh h;
    const char *good =
        "LV_N=2\nLV_ID=7\nLV_DIR=/tmp/x\nLV_GUEST=/tmp/x/guest.elf\nLV_SUBNET=10.231.7.0/24\n"
        "LV_1=qemu+unix:///system?socket=/tmp/x/h1/run/libvirt-sock\nLV_1_P2P=qemu+tcp://10.231.7.1/system\n"
        "LV_1_NAME=dvl7h1\nLV_1_UUID=u1\nLV_1_PID=100\n"
        "LV_2=qemu+unix:///system?socket=/tmp/x/h2/run/libvirt-sock\nLV_2_P2P=qemu+tcp://10.231.7.2/system\n"
        "LV_2_NAME=dvl7h2\nLV_2_UUID=u2\nLV_2_PID=101\nLV_READY_MS=12\n";

    if (fd < 0)
        bail_out("mkstemp");
    close(fd);
    write_file(path, good);
    ok(lvh_read_env(&h, path) == 0 && h.n == 2 && h.id == 7 && h.ready_ms == 12 &&
           !strcmp(h.host[1].p2p_uri, "qemu+tcp://10.231.7.2/system") && h.host[0].pid == 100,
       "env.conf: a complete file is read");
    write_file(path, "LV_N=4\n");
    ok(lvh_read_env(&h, path) < 0, "env.conf: LV_N=4 is refused");
    write_file(path, "LV_N=2\nLV_ID=7\nLV_DIR=/tmp/x\nLV_GUEST=/g\nLV_1=u\n");
    ok(lvh_read_env(&h, path) < 0, "env.conf: a host without its peer URI is refused");
    write_file(path, "LV_N=2\njunk\n");
    ok(lvh_read_env(&h, path) < 0, "env.conf: a line without '=' is refused");
    write_file(path, "LV_N=2\nLV_ID=x7\n");
    ok(lvh_read_env(&h, path) < 0, "env.conf: a non-numeric id is refused");
    unlink(path);
    ok(lvh_read_env(&h, path) < 0, "env.conf: a missing file is an error");
}

static void check_beats_on(virDomainPtr dom, const lvh_beat *before, const char *where)
{
    lvh_beat a = { 0 }, b = { 0 };

    ok(lvh_beat_read(dom, &a) == 0, "heartbeat readable %s", where);
    is_int(a.magic, DVG_MAGIC, "heartbeat magic %s", where);
    is_int(a.boot_id, before->boot_id, "same boot id %s: the guest did not reboot", where);
    ok(a.beats >= before->beats, "beat counter %s (%u) not behind the last one seen (%u)", where,
       a.beats, before->beats);
    dv_sleep_ms(150);
    int rc = lvh_beat_read(dom, &b);
    ok(rc == 0 && b.beats > a.beats, "beat counter advances %s (%u -> %u)", where, a.beats, b.beats);
}

/* Host 1 -> host 2, live and peer-to-peer, the way drover's migrator does it. */
static void test_migration(const lvh *h, struct remains *rem)
{
    virConnectPtr c1 = connect_or_bail(&h->host[0]), c2 = connect_or_bail(&h->host[1]);
    virDomainPtr dom, moved;
    lvh_beat b0, b1 = { 0 };
    int64_t t;
    int rc;

    t = dv_mono_ms();
    dom = lvh_guest_start(h, c1, GUEST, 64, "wss=8");
    if (!dom)
        bail_out("the test guest did not start on host 1");
    remember_qemu(rem, h, 1, GUEST);
    ok(lvh_beat_wait_running(dom, 20000, &b0) == 0, "guest boots on host 1 and fills its RAM");
    diag("guest boot + 64 MiB fill: %lld ms", (long long)(dv_mono_ms() - t));
    is_int(b0.wss_mib, 8, "guest read wss=8 from its command line");
    ok(b0.ram_mib >= 60 && b0.ram_mib <= 64, "guest sees about 64 MiB (%u)", b0.ram_mib);
    dv_sleep_ms(100);
    rc = lvh_beat_read(dom, &b1);
    ok(rc == 0 && b1.beats > b0.beats && b1.boot_id == b0.boot_id,
       "heartbeat advances on host 1 (%u -> %u)", b0.beats, b1.beats);

    t = dv_mono_ms();
    rc = virDomainMigrateToURI3(dom, h->host[1].p2p_uri, NULL, 0,
                                    VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER);
    long mig_ms = (long)(dv_mono_ms() - t);
    if (!ok(rc == 0, "live peer-to-peer migration 1 -> 2 (%s)", h->host[1].p2p_uri))
        diag("   %s", virGetLastErrorMessage());
    diag("migration 1 -> 2 (64 MiB, wss 8 MiB): %ld ms", mig_ms);
    virDomainFree(dom);

    remember_qemu(rem, h, 2, GUEST);
    is_int(count_domains(c1), 0, "host 1 has no guest left");
    is_int(count_domains(c2), 1, "host 2 has exactly one guest");
    ok(dom_running(c2, GUEST), "the guest runs on host 2");
    moved = virDomainLookupByName(c2, GUEST);
    if (!moved)
        bail_out("guest not found on host 2");
    check_beats_on(moved, &b1, "on host 2");
    virDomainFree(moved);
    virConnectClose(c1);
    virConnectClose(c2);
}

/* A second instance, of three hosts, while the first still runs. */
static void test_three_hosts(const lvh *first)
{
    lvh h;
    struct remains rem;
    char uuid[LVH_MAX_HOSTS][40];
    int64_t t = dv_mono_ms();

    if (lvh_start(&h, 3) < 0)
        bail_out("three libvirt hosts did not start");
    diag("start 3 hosts: %ld ms (daemons ready %ld ms, capabilities %ld ms)", (long)(dv_mono_ms() - t),
         h.ready_ms, h.probe_ms);
    remember(&rem, &h);
    is_int(h.n, 3, "three hosts");
    ok(h.id != first->id, "a second instance gets its own id (%d vs %d)", h.id, first->id);
    ok(strcmp(h.host[0].netns, first->host[0].netns) != 0, "and its own network namespaces");
    for (int k = 0; k < 3; k++)
        check_host(&h.host[k], k + 1, uuid[k]);
    ok(strcmp(uuid[0], uuid[1]) && strcmp(uuid[1], uuid[2]) && strcmp(uuid[0], uuid[2]) &&
           strcmp(uuid[0], first->host[0].uuid),
       "all host UUIDs differ");

    /* host 3 reaches host 1 over the instance's bridge: a small migration */
    virConnectPtr c3 = connect_or_bail(&h.host[2]), c1 = connect_or_bail(&h.host[0]);
    virDomainPtr dom = lvh_guest_start(&h, c3, "dvt-small", 32, "wss=1 fill=0");
    lvh_beat b;
    ok(dom && lvh_beat_wait_running(dom, 20000, &b) == 0, "a guest runs on host 3");
    if (dom) {
        remember_qemu(&rem, &h, 3, "dvt-small");
        t = dv_mono_ms();
        int rc = virDomainMigrateToURI3(dom, h.host[0].p2p_uri, NULL, 0,
                                        VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER);
        if (!ok(rc == 0, "live migration 3 -> 1 over the bridge"))
            diag("   %s", virGetLastErrorMessage());
        diag("migration 3 -> 1 (32 MiB, zero-filled): %lld ms", (long long)(dv_mono_ms() - t));
        ok(dom_running(c1, "dvt-small") && count_domains(c3) == 0, "it runs on host 1 only");
        remember_qemu(&rem, &h, 1, "dvt-small");
        virDomainFree(dom);
    }
    virConnectClose(c1);
    virConnectClose(c3);

    t = dv_mono_ms();
    lvh_stop(&h);
    diag("stop 3 hosts: %lld ms", (long long)(dv_mono_ms() - t));
    check_gone(&rem, "3-host instance");
}

int main(void)
{
    lvh h;
    struct remains rem;
    char uuid1[40] = "", uuid2[40] = "";
    int64_t t;

    setvbuf(stdout, NULL, _IOLBF, 0);
    virSetErrorFunc(NULL, quiet);
    test_env_parser();
    test_script_rejects_bad_input();

    t = dv_mono_ms();
    if (lvh_start(&h, 2) < 0)
        bail_out("two libvirt hosts did not start");
    diag("start 2 hosts: %lld ms (daemons ready %ld ms, capabilities %ld ms)",
         (long long)(dv_mono_ms() - t), h.ready_ms, h.probe_ms);
    remember(&rem, &h);
    is_int(h.n, 2, "two hosts");
    check_host(&h.host[0], 1, uuid1);
    check_host(&h.host[1], 2, uuid2);
    ok(strcmp(h.host[0].name, h.host[1].name) != 0, "host names differ");
    ok(uuid1[0] && strcmp(uuid1, uuid2) != 0, "host UUIDs differ (%s, %s)", uuid1, uuid2);

    test_migration(&h, &rem);
    test_three_hosts(&h);

    t = dv_mono_ms();
    lvh_stop(&h);
    diag("stop 2 hosts (one guest): %lld ms", (long long)(dv_mono_ms() - t));
    check_gone(&rem, "2-host instance");
    is_int(lvh_stop(&h), 0, "a second stop is harmless");
    return done_testing();
}
