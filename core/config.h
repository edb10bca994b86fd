/* config.h - the one configuration file of a deployment (libconfig syntax).
 * Only core/config.c reads it.  Every key of every section is parsed and
 * validated here, with defaults following Nova where Nova has an option. */
#ifndef DV_CONFIG_H
#define DV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct dv_strlist {
    char **v;
    size_t n;
} dv_strlist;

typedef struct dv_config {
    char *path;                        /* the file this came from ("<string>" for text) */

    struct {
        char *driver;                  /* "db" | "mc" | "zk"; default "db" */
        int report_interval;           /* s, default 10, 1..3600 */
        int service_down_time;         /* s, default 60, must be > report_interval */
        struct {
            char *path;                /* default /var/lib/drover/drover.db */
            int busy_timeout_ms;       /* default 5000 */
        } db;
        struct {
            dv_strlist servers;        /* "host:port"; default [ "127.0.0.1:11211" ] */
            char *username;            /* "" = no SASL */
            char *password;
            int poll_timeout_ms;       /* default 500 */
            int retry_timeout_s;       /* default 2 */
        } mc;
        struct {
            char *hosts;               /* connect string, default "127.0.0.1:2181" */
            int session_timeout_ms;    /* default 4000 */
            char *prefix;              /* default "/drover" */
            char *auth;                /* "user:password" for digest; "" = none */
        } zk;
    } servicegroup;

    struct {
        char *host;                    /* default: this machine's host name */
        char *group;                   /* default "compute" */
        char *libvirt_uri;             /* default "qemu:///system" */
        char *migration_uri;           /* default "" = libvirt_uri */
        int libvirt_timeout_ms;        /* default 5000 */
        char *metrics_listen;          /* "HOST:PORT" for GET /metrics; default "" = off */
        char *definitions_dir;         /* guests' XML on the shared storage; "" = off */
    } agent;

    struct {
        char *libvirt_uri;             /* how the controller reaches a host's libvirtd;
                                        * "%h" = the host name; default "" = the
                                        * migration_uri the host reports */
        dv_strlist libvirt_uris;       /* per-host "HOST=URI", checked first; default [ ] */
        int libvirt_timeout_ms;        /* a host's libvirt silent this long is given up; 5000 */
        char *metrics_listen;          /* "HOST:PORT" for GET /metrics; default "" = off */
    } controller;

    struct {
        dv_strlist filters;
        dv_strlist weighers;
        double ram_weight_multiplier;  /* default 1.0 */
        double ram_allocation_ratio;   /* default 1.0 */
        int reserved_host_memory_mb;   /* default 512 */
        int host_subset_size;          /* default 1 */
        int max_retries;               /* default -1 = unlimited */
        int claim_ttl_s;               /* default 600 */
    } scheduler;

    struct {
        bool peer2peer, tunnelled, tls, permit_post_copy, permit_auto_converge;
        int bandwidth_mib;             /* 0 = hypervisor default */
        int downtime_ms, downtime_steps, downtime_delay_s;
        int completion_timeout_s;      /* per GiB; 0 = none */
        char *timeout_action;          /* "abort" | "force_complete" */
        int max_concurrent;
        int poll_interval_ms;
        char *policy;                  /* convergence policy, "adaptive" | "nova"; default "adaptive" */
        char *inbound_addr;            /* the data channel's address on the destination
                                        * (Nova's live_migration_inbound_addr); "" = libvirt's */
    } migration;

    struct {
        bool enabled;
        int interval, grace;
        double max_down_fraction;
        int max_per_minute;
        char *mode;                    /* "live" | "rebuild" */
        dv_strlist fence_command;      /* argv; "%h" = host name */
        int fence_timeout_s;           /* default 30 */
        dv_strlist alert_command;      /* argv, a JSON event on stdin; default [ ] */
        int flap_window;               /* s a recovery counts for hysteresis; 600, 0 = off */
        int flap_max_grace;            /* s, the cap of the doubled grace; default 600 */
    } evacuator;

    struct {
        char *backend;                 /* "auto" (by servicegroup.driver) | "sqlite" | "zk" */
        char *path;                    /* default /var/lib/drover/state.db */
        int busy_timeout_ms;           /* default 5000 */
    } state;

    struct {
        char *level;                   /* "debug" | "info" | "warning" | "error" */
        char *target;                  /* "stderr" | "syslog" */
    } log;
} dv_config;

/* A config holding every default (no file read).  NULL on ENOMEM. */
dv_config *dv_config_new_defaults(void);

/* Read and validate a file.  Errors are DROVER_ERR_CONFIG with a message
 * "FILE:LINE: ..." naming the key; a missing file names the path. */
int dv_config_load(const char *path, dv_config **out, drover_error *err);

/* The same for text in memory (tests, fuzzing); name stands for the file. */
int dv_config_load_string(const char *text, const char *name, dv_config **out,
                          drover_error *err);

void dv_config_free(dv_config *cfg);

/* Split a server address: "host:port", "host" (then *port = default_port;
 * default_port 0 makes the port mandatory) or "[IPv6 address]:port".  host
 * (if not NULL) receives the host without brackets.  On a bad address:
 * -1 and DROVER_ERR_CONFIG with a message saying what is wrong. */
int dv_config_hostport(const char *item, int default_port, char *host, size_t host_size,
                       int *port, drover_error *err);

/* Replace a string option (used by programs for command-line overrides). */
int dv_config_set_string(char **slot, const char *value, drover_error *err);

/* The file to read when none is given: $DROVER_CONF when set and not empty,
 * else DV_CONFIG_DEFAULT_PATH.  The one place drover, droverd and the
 * library resolve it. */
#define DV_CONFIG_DEFAULT_PATH "/etc/drover/drover.conf"
const char *dv_config_default_path(void);

#endif
