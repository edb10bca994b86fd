/* test_evac_journal - the evacuator's pure parts: the journal record's JSON
 * round trip and its step cap; the definitions directory (atomic, 0600,
 * written only on change, read back, bad UUIDs refused); the domain-XML UUID
 * reader; and the sample etc/drover-controller.conf, which must load. */
#include "core/config.h"
#include "evacuator/defs.h"
#include "evacuator/journal.h"
#include "tests/tap.h"
#include "virt/domains.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_json(void)
{
    drover_error err;
    dv_evac e, b;
    char *js = NULL;

    ok(dv_evac_new(&e, "h1", 1000, &err) == 0, "a new evacuation");
    is_str(e.id, "h1.1000", "its id: host and start");
    ok(dv_evac_add_guest(&e, "0d3c1b6e-0000-4000-8000-000000000001", "g1", 64, "running", &err)
           == 0, "a guest");
    snprintf(e.guests[0].outcome, sizeof e.guests[0].outcome, "rebuilt");
    snprintf(e.guests[0].dest, sizeof e.guests[0].dest, "h2");
    e.guests[0].claim_id = 7;
    dv_evac_step_add(&e, 3, "fenced", "confirmed \"%s\" off", "h1");
    e.fenced = e.done = true;
    snprintf(e.state, sizeof e.state, "rebuilt");
    ok(dv_evac_to_json(&e, &js, &err) == 0, "to JSON");
    ok(dv_evac_from_json(js, &b, &err) == 0, "and back");
    is_str(b.host, "h1", "host");
    is_str(b.state, "rebuilt", "state");
    ok(b.fenced && b.done, "fenced, done");
    is_int((long long)b.n_guests, 1, "one guest");
    is_str(b.guests[0].dest, "h2", "its destination");
    is_int(b.guests[0].claim_id, 7, "its claim");
    is_int((long long)b.n_steps, 1, "one step");
    is_int(b.steps[0].epoch, 3, "with its epoch");
    is_str(b.steps[0].msg, "confirmed \"h1\" off", "and its words");
    free(js);
    dv_evac_clear(&b);
    for (int i = 0; i < DV_EVAC_MAX_STEPS + 50; i++)
        dv_evac_step_add(&e, 3, "held", "step %d", i);
    is_int((long long)e.n_steps, DV_EVAC_MAX_STEPS, "steps are capped");
    is_str(e.steps[0].step, "fenced", "  keeping the first");
    dv_evac_clear(&e);
    ok(dv_evac_from_json("[1]", &b, &err) < 0 && err.code == DROVER_ERR_CORRUPT,
       "not an object: corrupt");
    ok(dv_evac_new(&e, "a/b", 1, &err) < 0, "a bad host name is refused");
}

static void test_defs(void)
{
    char dir[] = "/tmp/dv-test-defs.XXXXXX", path[256];
    const char *u = "0d3c1b6e-0000-4000-8000-000000000002";
    const char *xml = "<domain><uuid>0D3C1B6E-0000-4000-8000-000000000002</uuid></domain>";
    drover_error err;
    struct stat st;
    bool w = false;
    char *back = NULL, ux[40];

    if (!mkdtemp(dir))
        bail_out("mkdtemp");
    ok(dv_defs_write(dir, u, xml, &w, &err) == 0 && w, "a definition is written");
    snprintf(path, sizeof path, "%s/%s.xml", dir, u);
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "as DIR/<uuid>.xml, mode 0600");
    ok(dv_defs_write(dir, u, xml, &w, &err) == 0 && !w, "the same content: not written again");
    ok(dv_defs_read(dir, u, &back, &err) == 0 && strcmp(back, xml) == 0, "read back");
    free(back);
    ok(dv_defs_write(dir, u, "<domain/>", &w, &err) == 0 && w, "a change is written");
    ok(dv_defs_read(dir, "0d3c1b6e-0000-4000-8000-00000000dead", &back, &err) < 0 &&
           err.code == DROVER_ERR_NOT_FOUND, "a missing definition: NOT_FOUND");
    ok(dv_defs_write(dir, "../etc/passwd", xml, &w, &err) < 0 && err.code == DROVER_ERR_INVALID,
       "a name that is no UUID is refused");
    ok(dv_virt_xml_uuid(xml, ux, sizeof ux), "the UUID of a domain XML");
    is_str(ux, u, "  in lower case");
    ok(!dv_virt_xml_uuid("<domain/>", ux, sizeof ux), "none: false");
    unlink(path);
    rmdir(dir);
}

static void test_sample(void)
{
    const char *top = getenv("top_srcdir");
    char p[1024];
    dv_config *cfg = NULL;
    drover_error err = { 0 };

    if (!top || !*top)
        top = getenv("srcdir");
    if (!top || !*top)
        bail_out("top_srcdir is not set: run this test with make check");
    snprintf(p, sizeof p, "%s/etc/drover-controller.conf", top);
    ok(dv_config_load(p, &cfg, &err) == 0, "etc/drover-controller.conf loads (%s)",
       err.message);
    if (!cfg)
        return;
    ok(cfg->evacuator.enabled, "  the evacuator enabled");
    is_str(cfg->agent.definitions_dir, "/var/lib/drover/definitions", "  a definitions dir");
    is_int(cfg->evacuator.fence_command.n, 2, "  a fence command");
    dv_config_free(cfg);
}

int main(void)
{
    test_json();
    test_defs();
    test_sample();
    return done_testing();
}
