/* migtest.h - what the migrator's tests share: two real libvirt hosts from
 * the harness, a drover configuration for them (db driver, state db,
 * controller URIs, fast polling), their reports published the way droverd
 * would, `drover` run as a separate process, and the facts to assert:
 * where a guest runs, whether it is persistent, its heartbeat, the record.
 * Header-only: each test is one program. */
#ifndef DV_MIGTEST_H
#define DV_MIGTEST_H

#include "core/clock.h"
#include "core/config.h"
#include "core/report.h"
#include "core/statedb.h"
#include "drivers/servicegroup.h"
#include "migrator/record.h"
#include "tests/harness/drover_run.h"
#include "tests/harness/lvhosts.h"
#include "tests/tap.h"
#include "virt/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static lvh mt_h;
static char mt_work[128], mt_conf[192], mt_bin[512];
static virConnectPtr mt_conn[2];

static inline void mt_quiet(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* The config; scheduler is what goes inside scheduler = { ... } (NULL: a
 * reserve of 256 MiB), migration_extra is put inside migration = { ... }. */
static inline void mt_write_config_sched(const char *scheduler, const char *migration_extra)
{
    FILE *f = fopen(mt_conf, "w");
    if (!f)
        bail_out("cannot write %s: %s", mt_conf, strerror(errno));
    fprintf(f,
            "servicegroup = { driver = \"db\"; report_interval = 10; service_down_time = 3600;\n"
            "  db = { path = \"%s/drover.db\"; }; };\n"
            "controller = { libvirt_uris = [ \"%s=%s\", \"%s=%s\" ]; libvirt_timeout_ms = 5000; };\n"
            "scheduler = { %s };\n"
            "migration = { poll_interval_ms = 200; max_concurrent = 1; %s };\n"
            "state = { path = \"%s/state.db\"; };\n"
            "log = { level = \"debug\"; };\n",
            mt_work, mt_h.host[0].name, mt_h.host[0].uri, mt_h.host[1].name, mt_h.host[1].uri,
            scheduler ? scheduler : "reserved_host_memory_mb = 256;",
            migration_extra ? migration_extra : "", mt_work);
    if (fclose(f) != 0)
        bail_out("cannot write %s", mt_conf);
}

static inline void mt_write_config(const char *migration_extra)
{
    mt_write_config_sched(NULL, migration_extra);
}

/* Heartbeat both hosts with fresh reports, as their agents would. */
static inline void mt_publish(void)
{
    dv_config *cfg;
    drover_error err;
    dv_sg *sg;

    if (dv_config_load(mt_conf, &cfg, &err) < 0 || dv_sg_open(cfg, &sg, &err) < 0)
        bail_out("publish: %s", err.message);
    for (int k = 0; k < 2; k++) {
        drover_report *r;
        dv_virt *v;
        char *json;
        if (dv_virt_open(mt_h.host[k].uri, DV_VIRT_READONLY, 0, 0, &v, &err) < 0 ||
            dv_virt_read_report(v, mt_h.host[k].name, mt_h.host[k].p2p_uri, &r, &err) < 0)
            bail_out("host %d: %s", k + 1, err.message);
        dv_virt_close(v);
        if (dv_report_to_json(r, &json, &err) < 0 ||
            dv_sg_heartbeat(sg, "compute", mt_h.host[k].name, json, &err) < 0)
            bail_out("publish host %d: %s", k + 1, err.message);
        free(json);
        drover_report_free(r);
    }
    dv_sg_close(sg);
    dv_config_free(cfg);
}

static inline void mt_setup(const char *migration_extra)
{
    const char *bd = getenv("top_builddir");

    setvbuf(stdout, NULL, _IOLBF, 0);
    virSetErrorFunc(NULL, mt_quiet);
    snprintf(mt_bin, sizeof mt_bin, "%s/cmd/drover", bd && *bd ? bd : LVH_TOP_BUILDDIR);
    if (access(mt_bin, X_OK) != 0)
        bail_out("%s is not built", mt_bin);
    if (lvh_start(&mt_h, 2) < 0)
        bail_out("two libvirt hosts did not start");
    snprintf(mt_work, sizeof mt_work, "%s/drover", mt_h.dir);
    if (mkdir(mt_work, 0700) < 0)
        bail_out("mkdir %s: %s", mt_work, strerror(errno));
    snprintf(mt_conf, sizeof mt_conf, "%s/drover.conf", mt_work);
    for (int k = 0; k < 2; k++)
        if (!(mt_conn[k] = virConnectOpen(mt_h.host[k].uri)))
            bail_out("cannot connect to host %d", k + 1);
    mt_write_config(migration_extra);
    mt_publish();
}

/* ---------------------------------------------------------------- drover as a process */

typedef dv_drun mt_run;

static inline char *mt_slurp(const char *path)
{
    return dv_drun_slurp(path);
}

/* `drover -c CONF ARGS...` in the background, output in files named by tag
 * (tests/harness/drover_run.h, $DV_TEST_WRAPPER in front). */
static inline void mt_spawn(mt_run *r, const char *tag, const char *const *args)
{
    if (dv_drun_spawn(r, mt_bin, mt_conf, mt_work, tag, args) < 0)
        bail_out("fork: %s", strerror(errno));
}

/* Wait for it (killed after timeout_s: a hang fails the checks). */
static inline int mt_finish(mt_run *r, int timeout_s)
{
    if (dv_drun_finish(r, timeout_s) < 0)
        bail_out("waitpid: %s", strerror(errno));
    return r->status;
}

static inline void mt_run_free(mt_run *r)
{
    dv_drun_free(r);
}

static inline int mt_drover(mt_run *r, const char *tag, const char *const *args, int timeout_s)
{
    mt_spawn(r, tag, args);
    return mt_finish(r, timeout_s);
}

static inline void mt_diag_text(const char *title, const char *text)
{
    dv_drun_diag_text(title, text);
}

/* ---------------------------------------------------------------- facts */

static inline dv_statedb *mt_db(void)
{
    char path[256];
    dv_statedb *db;
    drover_error err;

    snprintf(path, sizeof path, "%s/state.db", mt_work);
    if (dv_statedb_open(path, 5000, &db, &err) < 0)
        bail_out("state db: %s", err.message);
    return db;
}

static inline long long mt_claimed(int k)
{
    dv_statedb *db = mt_db();
    drover_error err;
    uint64_t mib = 0;

    if (dv_statedb_claimed_mib(db, mt_h.host[k].name, dv_wall_ms(), &mib, &err) < 0)
        bail_out("claimed: %s", err.message);
    dv_statedb_close(db);
    return (long long)mib;
}

/* The newest record of an instance; 0 when it has none. */
static inline int mt_record(const char *instance, dv_mig_record *r)
{
    dv_statedb *db = mt_db();
    drover_error err;
    int rc = dv_mig_record_find_instance(db, instance, r, &err);

    dv_statedb_close(db);
    if (rc < 0)
        memset(r, 0, sizeof *r);
    return rc == 0;
}

static inline size_t mt_count_records(void)
{
    dv_statedb *db = mt_db();
    dv_mig_record *v;
    drover_error err;
    size_t n = 0;

    if (dv_mig_record_list(db, true, &v, &n, &err) < 0)
        bail_out("list: %s", err.message);
    free(v);
    dv_statedb_close(db);
    return n;
}

/* Wait until the instance's newest record is in state s (or terminal). */
static inline bool mt_wait_state(const char *instance, dv_mig_state s, int timeout_ms, dv_mig_record *r)
{
    int64_t end = dv_mono_ms() + timeout_ms;

    do {
        if (mt_record(instance, r) && (r->state == s || dv_mig_state_terminal(r->state)))
            return r->state == s;
        dv_sleep_ms(50);
    } while (dv_mono_ms() < end);
    return false;
}

/* The guest on host k: -1 absent, else its virDomainState; *persistent. */
static inline int mt_dom_state(int k, const char *name, bool *persistent)
{
    return lvh_dom_state(mt_conn[k], name, persistent);
}

/* Start a guest on host k and wait until it beats. */
static inline virDomainPtr mt_guest(int k, const char *name, int mib, const char *cmdline, lvh_beat *b)
{
    virDomainPtr d = lvh_guest_start(&mt_h, mt_conn[k], name, mib, cmdline);
    if (!d || lvh_beat_wait_running(d, 60000, b) < 0)
        bail_out("guest %s did not start on host %d", name, k + 1);
    return d;
}

/* After a move: the guest beats on host k under the same boot id. */
static inline bool mt_beats_on(int k, const char *name, const lvh_beat *before)
{
    virDomainPtr d = virDomainLookupByName(mt_conn[k], name);
    lvh_beat a = { 0 }, b = { 0 };
    bool good = false;

    if (!d)
        return false;
    if (lvh_beat_read(d, &a) == 0 && a.boot_id == before->boot_id && a.beats >= before->beats) {
        for (int i = 0; i < 40 && !good; i++) {
            dv_sleep_ms(100);
            good = lvh_beat_read(d, &b) == 0 && b.boot_id == a.boot_id && b.beats > a.beats;
        }
    }
    if (!good)
        diag("   beats on host %d: boot %u/%u, beats %u -> %u (before %u)", k + 1, a.boot_id,
             before->boot_id, a.beats, b.beats, before->beats);
    virDomainFree(d);
    return good;
}

/* Remove a guest wherever it is (between tests). */
static inline void mt_remove(const char *name)
{
    for (int k = 0; k < 2; k++) {
        virDomainPtr d = virDomainLookupByName(mt_conn[k], name);
        if (!d)
            continue;
        if (virDomainIsActive(d) == 1)
            virDomainDestroy(d);
        if (virDomainIsPersistent(d) == 1)
            virDomainUndefine(d);
        virDomainFree(d);
    }
}

#endif
