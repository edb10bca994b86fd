/* test_evac_guard - a leader whose lease was taken over while it slept does
 * nothing more outside the state store.
 *
 * Real SQLite files for the liveness backend and the state store, and a
 * libvirt that cannot answer (its socket does not exist), so the second
 * channel sends the evacuation down the fence path.  Controller A holds the
 * lease at epoch 1 and begins the evacuation of h1; its lease lapses and B
 * takes it (epoch 2).  A's next dv_evac_act must be refused before its
 * first action: h1 not disabled nor forced down in the liveness backend, the
 * fence command never run, the journal untouched.  With B's epoch the same
 * call acts.  And once h1 is fenced and its evacuation done, enabling it
 * while it is still forced down starts nothing new. */
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "evacuator/act.h"
#include "evacuator/journal.h"
#include "store/store.h"
#include "tests/harness/scratch.h"
#include "tests/tap.h"
#include "virt/virt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;
static dv_config *cfg;
static dv_sg *sg;
static dv_store *st;

static void write_file(const char *name, const char *text, mode_t mode)
{
    const char *p = dv_scratch_join(dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(p, mode) < 0)
        bail_out("cannot write %s", p);
}

static void setup(void)
{
    char text[2048];
    drover_error err;

    if (!(dir = dv_scratch_dir()))
        bail_out("no scratch directory");
    snprintf(text, sizeof text, "#!/bin/sh\necho \"$1\" >> %s/fenced.log\nexit 0\n", dir);
    write_file("fence.sh", text, 0700);
    snprintf(text, sizeof text,
             "servicegroup = { driver = \"db\"; db = { path = \"%s/drover.db\"; }; };\n"
             "controller = { libvirt_uris = [ \"h1=qemu+unix:///system?socket=%s/no-such-sock\" ];"
             " libvirt_timeout_ms = 2000; };\n"
             "evacuator = { enabled = true; mode = \"rebuild\";\n"
             "  fence_command = [ \"%s/fence.sh\", \"%%h\" ]; };\n"
             "state = { path = \"%s/state.db\"; };\n",
             dir, dir, dir, dir);
    write_file("drover.conf", text, 0600);
    if (dv_config_load(dv_scratch_join(dir, "drover.conf"), &cfg, &err) < 0 ||
        dv_virt_init(&err) < 0 || dv_sg_open(cfg, &sg, &err) < 0 ||
        dv_store_open(cfg, &st, &err) < 0 || dv_sg_join(sg, "compute", "h1", &err) < 0)
        bail_out("setup: %s", err.message);
}

static bool fenced_ran(void)
{
    return access(dv_scratch_join(dir, "fenced.log"), F_OK) == 0;
}

static void member(drover_member *m)
{
    drover_error err;
    if (dv_sg_get(sg, "compute", "h1", m, &err) < 0)
        bail_out("h1: %s", err.message);
}

/* One dv_evac_act for h1 at epoch, as controller holder; the rc and err. */
static int act(const char *holder, int64_t epoch, drover_error *err)
{
    dv_sweeper s;
    dv_gate_candidate c = { .host = "h1", .state = DROVER_DOWN, .why = "DOWN past the grace" };
    drover_member m;
    dv_evac *ev = NULL;
    size_t nev = 0;
    int rc;

    if (dv_sweeper_init(&s, cfg, sg, st, st, err) < 0)
        bail_out("sweeper: %s", err->message);
    s.holder = holder;
    s.epoch = epoch;
    member(&m);
    if (dv_evac_list(st, &ev, &nev, err) < 0)
        bail_out("journal: %s", err->message);
    rc = dv_evac_act(&s, &m, &c, &ev, &nev, NULL, 0, err);
    dv_evacs_free(ev, nev);
    drover_member_clear(&m);
    dv_sweeper_fini(&s);
    return rc;
}

static size_t steps_of_h1(void)
{
    dv_evac *ev = NULL, *e;
    size_t nev = 0, n;
    drover_error err;

    if (dv_evac_list(st, &ev, &nev, &err) < 0)
        bail_out("journal: %s", err.message);
    e = dv_evac_latest(ev, nev, "h1");
    n = e ? e->n_steps : 0;
    dv_evacs_free(ev, nev);
    return n;
}

static size_t evacuations(void)
{
    dv_evac *ev = NULL;
    size_t nev = 0;
    drover_error err;

    if (dv_evac_list(st, &ev, &nev, &err) < 0)
        bail_out("journal: %s", err.message);
    dv_evacs_free(ev, nev);
    return nev;
}

int main(void)
{
    drover_error err;
    drover_member m;
    int64_t ea = 0, eb = 0;
    dv_evac e;
    size_t steps;

    setup();
    ok(dv_store_lease_acquire(st, DV_EVAC_LEASE, "A", 100, &ea, &err) == 0 && ea == 1,
       "A holds the lease at epoch 1");
    /* A began the evacuation (detected, gated) before it slept */
    if (dv_evac_new(&e, "h1", 1000, &err) < 0)
        bail_out("%s", err.message);
    dv_evac_step_add(&e, ea, "detected", "h1 is DOWN");
    dv_evac_step_add(&e, ea, "gated", "DOWN past the grace");
    ok(dv_evac_put(st, &e, ea, &err) == 0, "A journals the evacuation of h1 at epoch 1");
    dv_evac_clear(&e);
    steps = steps_of_h1();
    usleep(300 * 1000);                      /* A's lease lapses ... */
    ok(dv_store_lease_acquire(st, DV_EVAC_LEASE, "B", 30000, &eb, &err) == 0 && eb == 2,
       "... and B takes it at epoch 2");

    ok(act("A", ea, &err) < 0, "A, back from its sleep, is refused");
    is_int(err.code, DROVER_ERR_CONFLICT, "  a conflict (%s)", err.message);
    member(&m);
    ok(!m.disabled && !m.forced_down, "  h1 is neither disabled nor forced down by A");
    drover_member_clear(&m);
    ok(!fenced_ran(), "  A never ran the fence command");
    is_int((long long)steps_of_h1(), (long long)steps, "  A added nothing to the journal");

    ok(act("B", eb, &err) == 0, "B, the leader, acts (%s)", err.code ? err.message : "ok");
    member(&m);
    ok(m.disabled && m.forced_down, "  h1 is disabled and forced down (libvirt does not answer)");
    drover_member_clear(&m);
    ok(fenced_ran(), "  B ran the fence command");
    ok(steps_of_h1() > steps, "  B's steps are journaled");

    /* B finished: h1 fenced, its evacuation done.  An operator enables h1
     * before lifting its force-down: h1 stays handled, nothing starts anew */
    {
        dv_evac *ev = NULL;
        size_t nev = 0;
        if (dv_evac_list(st, &ev, &nev, &err) < 0)
            bail_out("journal: %s", err.message);
        dv_evac *last = dv_evac_latest(ev, nev, "h1");
        last->done = true;
        snprintf(last->state, sizeof last->state, "rebuilt");
        if (!last->fenced || dv_evac_put(st, last, eb, &err) < 0)
            bail_out("journal: h1 not fenced or %s", err.message);
        dv_evacs_free(ev, nev);
    }
    if (dv_sg_set_disabled(sg, "compute", "h1", false, NULL, &err) < 0)
        bail_out("enable: %s", err.message);
    unlink(dv_scratch_join(dir, "fenced.log"));
    steps = evacuations();
    ok(act("B", eb, &err) == 0, "h1 enabled while still forced down: B does nothing (%s)",
       err.code ? err.message : "ok");
    member(&m);
    ok(!m.disabled && m.forced_down, "  h1 stays enabled, forced down");
    drover_member_clear(&m);
    ok(!fenced_ran(), "  no new fence");
    is_int((long long)evacuations(), (long long)steps, "  no new evacuation of h1");

    dv_store_close(st);
    dv_sg_close(sg);
    dv_config_free(cfg);
    dv_scratch_rmrf(dir);
    return done_testing();
}
