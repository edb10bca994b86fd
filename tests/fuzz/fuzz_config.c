/* fuzz_config.c - drover.conf text through dv_config_load_string.
 * Beyond "no crash, no leak": a rejected text gives DROVER_ERR_CONFIG (or
 * NOMEM), no config, and a message "fuzz.conf:LINE: ..." with LINE >= 1;
 * an accepted one satisfies the rules between keys. */
#include "core/config.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

static void check_error(const dv_config *cfg, const drover_error *e)
{
    const char *p = e->message + strlen("fuzz.conf:");
    char *end;
    long line;

    if (cfg || e->domain != DROVER_FROM_CONFIG)
        abort();
    if (e->code == DROVER_ERR_NOMEM)
        return;
    if (e->code != DROVER_ERR_CONFIG || strncmp(e->message, "fuzz.conf:", 10) != 0)
        abort();
    line = strtol(p, &end, 10);
    if (end == p || line < 1 || strncmp(end, ": ", 2) != 0 || !end[2])
        abort();
}

static void check_config(const dv_config *c)
{
    if (c->servicegroup.service_down_time <= c->servicegroup.report_interval ||
        c->servicegroup.report_interval < 1 || c->servicegroup.mc.servers.n == 0 ||
        c->servicegroup.zk.prefix[0] != '/' || !c->agent.host[0] ||
        (strcmp(c->evacuator.mode, "rebuild") == 0 && c->evacuator.fence_command.n == 0) ||
        !(c->scheduler.ram_allocation_ratio > 0) ||
        !(c->evacuator.max_down_fraction >= 0 && c->evacuator.max_down_fraction <= 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    dv_config *cfg = NULL;
    drover_error e = { 0 };

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';             /* a NUL inside ends the text, as for any C string */
    if (dv_config_load_string(text, "fuzz.conf", &cfg, &e) == 0) {
        if (!cfg)
            abort();
        check_config(cfg);
        dv_config_free(cfg);
    } else {
        check_error(cfg, &e);
    }
    free(text);
    return 0;
}
