/* lvhosts.h - the C side of tests/harness/lvhosts.sh: start N real libvirtd
 * "hosts" for a test, learn their URIs, run the test guest on them, read its
 * heartbeat, and stop everything when the test ends (also when it bails out
 * or dies: see lvh_start).
 *
 *     lvh h;
 *     if (lvh_start(&h, 2) < 0)
 *         bail_out("libvirt hosts did not start");
 *     virConnectPtr c1 = virConnectOpen(h.host[0].uri);
 *     virDomainPtr dom = lvh_guest_start(&h, c1, "g1", 64, "wss=8");
 *     lvh_beat b;
 *     lvh_beat_wait_running(dom, 15000, &b);
 *     virDomainMigrateToURI3(dom, h.host[1].p2p_uri, NULL, 0,
 *                            VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER);
 *     ...
 *     lvh_stop(&h);          (or leave it to exit)
 *
 * The script and the guest are found through $top_srcdir / $top_builddir
 * (set by make check), else the directories configure saw. */
#ifndef DV_LVHOSTS_H
#define DV_LVHOSTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <libvirt/libvirt.h>

#define LVH_MAX_HOSTS 3

typedef struct lvh_host {
    char uri[160];     /* for clients: qemu+unix:///system?socket=DIR/hK/run/libvirt-sock */
    char p2p_uri[64];  /* for its peers (peer-to-peer migration): qemu+tcp://ADDR/system */
    char name[32];     /* its host name, as virConnectGetHostname says */
    char addr[32];     /* its address on the instance's private network */
    char uuid[40];     /* its host_uuid, as the capabilities say */
    char netns[32];    /* its network namespace (ip netns) */
    pid_t pid;         /* tini, the parent of its libvirtd */
} lvh_host;

typedef struct lvh {
    char dir[64];      /* everything of the instance lives here */
    char guest[96];    /* the guest kernel copied into dir */
    int id;            /* instance id: subnet 10.231.ID.0/24, netns dvlID-K */
    int n;             /* hosts: host[0] .. host[n-1] */
    lvh_host host[LVH_MAX_HOSTS];
    long ready_ms;     /* start: until every daemon answered */
    long probe_ms;     /* start: the capabilities probe after that */
    long start_ms;     /* lvh_start as a whole */
    int slot;          /* private: its entry in lvhosts.c's table, -1 when stopped */
} lvh;

/* The guest's heartbeat block (tests/harness/guest/guest.h). */
typedef struct lvh_beat {
    uint32_t magic, phase, boot_id, ram_mib, wss_mib, filled_mib, beats;
} lvh_beat;

/* Start n (2 or 3) hosts in a fresh directory under /tmp.  0 on success;
 * -1 after printing why on stderr (with the daemons' log tails).  The
 * instance is stopped by lvh_stop, at exit (bail_out included), or, if the
 * process dies without either, by a watchdog process. */
int lvh_start(lvh *h, int n);

/* Stop the instance: destroy guests, stop daemons, kill what is left, delete
 * namespaces, remove the directory (kept when LVH_KEEP=1 is in the
 * environment).  Safe to call twice; 0 when the script reported success. */
int lvh_stop(lvh *h);

/* Run "lvhosts.sh ARGS..." (args ends with NULL) with the instance's
 * LV_DIR/LV_GUEST in its environment (h may be NULL).  With out non-NULL,
 * its stdout is returned in *out (malloc'd); else it goes to stderr.
 * Returns the exit status, or -1 if it could not be run. */
int lvh_script(const lvh *h, const char *const *args, char **out);

/* Read DIR/env.conf into h (dir, id, n, hosts, timings).  0, or -1 with a
 * message on stderr when a key is missing, repeated or out of range. */
int lvh_read_env(lvh *h, const char *path);

/* The domain XML of the test guest (malloc'd), or NULL. */
char *lvh_guest_xml(const lvh *h, const char *name, int mem_mib, const char *cmdline);

/* Create (start) the test guest on conn; NULL on failure. */
virDomainPtr lvh_guest_start(const lvh *h, virConnectPtr conn, const char *name, int mem_mib,
                             const char *cmdline);

/* Domain name on conn: -1 when it is not there (or its state cannot be
 * read), else its virDomainState; *persistent (unless NULL) whether it is
 * defined there. */
int lvh_dom_state(virConnectPtr conn, const char *name, bool *persistent);

/* Read the heartbeat block from guest-physical memory.  0 or -1. */
int lvh_beat_read(virDomainPtr dom, lvh_beat *b);

/* Wait until the guest has filled its RAM and counted at least one sweep. */
int lvh_beat_wait_running(virDomainPtr dom, int timeout_ms, lvh_beat *b);

/* Faults on host k (1-based, as the script counts): "kill" (SIGKILL its
 * libvirtd; its guests run on), "stop" / "cont" (SIGSTOP / SIGCONT it),
 * "start" (start it again with the same configuration: it picks up its
 * definitions and the guests still running), "restart" (kill + start),
 * "poweroff" (kill its libvirtd and its qemu processes).  0, or the
 * script's exit status (its complaint is on stderr). */
int lvh_daemon(lvh *h, int k, const char *what);

/* Cut host k off the others (up = false) or plug it back. */
int lvh_link(const lvh *h, int k, int up);

/* Whether a process exists and is not a zombie. */
int lvh_pid_alive(pid_t pid);

#endif
