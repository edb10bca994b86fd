/* droverd_args.h - droverd's command line, parsed without side effects (no
 * output, no file opened), so it can be tested on its own. */
#ifndef DV_DROVERD_ARGS_H
#define DV_DROVERD_ARGS_H

#include <stdbool.h>

#include "core/error.h"

typedef struct dv_droverd_args {
    const char *config_path;     /* -c FILE; NULL = $DROVER_CONF, else the default */
    const char *host;            /* overrides agent.host */
    const char *libvirt_uri;     /* overrides agent.libvirt_uri */
    const char *migration_uri;   /* overrides agent.migration_uri */
    const char *log_level;       /* overrides log.level; already checked */
    bool once;                   /* one heartbeat, then exit */
    bool controller;             /* --controller: run the evacuator, not the agent */
    bool help, version;
} dv_droverd_args;

/* Strings point into argv.  The last of a repeated option wins.  Errors are
 * DROVER_ERR_INVALID with a message naming the argument. */
int dv_droverd_parse_args(int argc, char **argv, dv_droverd_args *out, drover_error *err);

#endif
