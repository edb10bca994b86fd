/* fuzz_report.c - stored host reports through dv_report_from_json.
 * A rejected text gives DROVER_ERR_CORRUPT (or NOMEM) and no report; an
 * accepted one encodes again, and that encoding decodes to the same report
 * and encodes to the same text.  One decoder kept across inputs (as a
 * driver's get_all keeps one) must give the same verdict every time. */
#include "core/report.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

static int same_str(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int same_report(const drover_report *a, const drover_report *b)
{
    if (a->schema != b->schema || !same_str(a->host, b->host) || a->generated_ms != b->generated_ms ||
        !same_str(a->hypervisor_type, b->hypervisor_type) ||
        a->hypervisor_version != b->hypervisor_version || a->libvirt_version != b->libvirt_version ||
        !same_str(a->arch, b->arch) || !same_str(a->cpu_xml, b->cpu_xml) ||
        a->memory_total_mib != b->memory_total_mib || a->memory_free_mib != b->memory_free_mib ||
        a->vcpus != b->vcpus || !same_str(a->migration_uri, b->migration_uri) ||
        a->n_instances != b->n_instances)
        return 0;
    for (size_t i = 0; i < a->n_instances; i++) {
        const drover_instance *x = &a->instances[i], *y = &b->instances[i];
        if (!same_str(x->name, y->name) || !same_str(x->uuid, y->uuid) ||
            !same_str(x->state, y->state) || x->memory_mib != y->memory_mib)
            return 0;
    }
    return 1;
}

static void round_trip(const drover_report *r)
{
    drover_report *again = NULL;
    drover_error e = { 0 };
    char *json = NULL, *json2 = NULL;

    if (dv_report_to_json(r, &json, &e) < 0) {
        if (e.code == DROVER_ERR_NOMEM)
            return;
        abort();                   /* what was read must be writable */
    }
    if (dv_report_from_json(json, strlen(json), &again, &e) < 0 || !same_report(r, again))
        abort();
    if (dv_report_to_json(again, &json2, &e) == 0 && strcmp(json, json2) != 0)
        abort();
    free(json);
    free(json2);
    drover_report_free(again);
}

/* The same verdict from the decoder every input goes through. */
static void reused(const uint8_t *data, size_t size, const drover_report *r, const drover_error *e)
{
    static dv_report_decoder *dec;
    drover_report *r2 = NULL;
    drover_error e2 = { 0 };
    int rc;

    if (!dec && !(dec = dv_report_decoder_new()))
        return;
    rc = dv_report_decode(dec, (const char *)data, size, &r2, &e2);
    if (r ? rc != 0 || !same_report(r, r2)
          : rc == 0 || (e->code != DROVER_ERR_NOMEM && e2.code != DROVER_ERR_NOMEM &&
                        strcmp(e->message, e2.message) != 0))
        abort();
    drover_report_free(r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drover_report *r = NULL;
    drover_error e = { 0 };

    if (dv_report_from_json((const char *)data, size, &r, &e) == 0) {
        if (!r)
            abort();
        round_trip(r);
    } else if (r || e.domain != DROVER_FROM_REPORT || !e.message[0] ||
               (e.code != DROVER_ERR_CORRUPT && e.code != DROVER_ERR_NOMEM)) {
        abort();
    }
    reused(data, size, r, &e);
    drover_report_free(r);
    return 0;
}
