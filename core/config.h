/* config.h - the one configuration file of a deployment (libconfig syntax).
 * Only core/config*.c read it.  Every key is parsed and validated there,
 * with defaults following Nova where Nova has an option; the sections that
 * belong to a backend (servicegroup.db, .mc, .zk) are described by that
 * backend (dv_config_section below) and the names a key may take
 * (servicegroup.driver, scheduler.filters, scheduler.weighers) come from
 * the registries of the layers above core, which register them at start-up.
 * core itself names no driver, filter or weigher. */
#ifndef DV_CONFIG_H
#define DV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define DV_CONFIG_MAX_SECTIONS 8       /* sections other layers may add */

typedef struct dv_strlist {
    char **v;
    size_t n;
} dv_strlist;

typedef struct dv_config {
    char *path;                        /* the file this came from ("<string>" for text) */

    struct {
        char *driver;                  /* a registered driver; default the first one */
        int report_interval;           /* s, default 10, 1..3600 */
        int service_down_time;         /* s, default 60, must be > report_interval */
        /* The sections of the drivers that came with drover, kept here for the
         * programs and tests that set them directly; their keys, rules and
         * defaults are each driver's (drivers/<name>/).  A new driver's section
         * lives in dv_config_section_data() instead. */
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
        int lease_ttl_s;               /* the evacuator lease's life without a renewal; 30
                                        * (at least 3 x evacuator.interval in force) */
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

    void *section_data[DV_CONFIG_MAX_SECTIONS];   /* the blocks of sections with a size */
} dv_config;

/* Free the items of l and empty it. */
void dv_strlist_free(dv_strlist *l);

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

/* ---------------------------------------------------------------- sections of other layers */

typedef enum dv_config_kind {
    DV_CONFIG_GROUP, DV_CONFIG_STRING, DV_CONFIG_BOOL, DV_CONFIG_INT, DV_CONFIG_REAL, DV_CONFIG_LIST
} dv_config_kind;

#define DV_CONFIG_SECRET 0x1       /* never show the value */
#define DV_CONFIG_NONEMPTY 0x2     /* strings: "" is an error; lists: at least one item, none "" */
#define DV_CONFIG_LOW_OPEN 0x4     /* reals: the minimum itself is excluded */
#define DV_CONFIG_UNIQUE 0x8       /* lists: no item twice */

/* A rule on a string value or list item: 0, or -1 with why, the message
 * that follows "FILE:LINE: key: " ("expected ..., got \"x\": ..."). */
typedef int (*dv_config_rule)(const char *value, char *why, size_t why_size);

struct dv_config_ctx;
struct config_setting_t;

typedef struct dv_config_key {
    const char *name;              /* NULL ends a table */
    dv_config_kind kind;
    size_t off;                    /* where the value lives: in dv_config, or in the section's block */
    unsigned flags;                /* DV_CONFIG_* */
    long long min, max;            /* INT */
    double dmin, dmax;             /* REAL */
    const char *const *choices;    /* STRING / LIST items: a NULL-terminated set, or NULL */
    dv_config_rule rule;           /* STRING / LIST items: more rules, or NULL */
    /* the default */
    const char *def_str;           /* NULL: "" */
    long long def_int;
    double def_real;
    bool def_bool;
    const char *const *def_list;   /* NULL-terminated; NULL: empty */
    /* core's own tables only */
    const struct dv_config_key *members;
    int (*check)(struct dv_config_ctx *x, struct config_setting_t *s, const char *path,
                 const char *value);
    const char *const *const *names;   /* the registered names this key takes */
    const struct dv_config_section *section;
} dv_config_key;

/* A backend's own section (servicegroup.<name>): its keys and a check of
 * the rules between them. */
typedef struct dv_config_section {
    const char *name;              /* "mc" is the group servicegroup.mc */
    size_t size;                   /* 0: offsets are into dv_config; else a block this large */
    const dv_config_key *keys;
    /* Rules between keys, once every key of the file is valid: 0, or -1 with
     * *key set to the key to blame (its line is reported) and why the whole
     * message after "FILE:LINE: ".  May be NULL. */
    int (*check)(const dv_config *cfg, const char **key, char *why, size_t why_size);
} dv_config_section;

/* Keys in a section's table, with their defaults. */
#define DV_KEY_STRING(n, o, fl, def, rl) \
    { .name = (n), .kind = DV_CONFIG_STRING, .off = (o), .flags = (fl), .def_str = (def), .rule = (rl) }
#define DV_KEY_INT(n, o, lo, hi, def) \
    { .name = (n), .kind = DV_CONFIG_INT, .off = (o), .min = (lo), .max = (hi), .def_int = (def) }
#define DV_KEY_LIST(n, o, fl, def, rl) \
    { .name = (n), .kind = DV_CONFIG_LIST, .off = (o), .flags = (fl), .def_list = (def), .rule = (rl) }
#define DV_KEY_END { .name = NULL }

/* Add a section under parent (only "servicegroup" has sections).  Called
 * by the drivers' registry before main; a section added twice is kept once. */
void dv_config_add_section(const char *parent, const dv_config_section *s);

/* The names key ("servicegroup.driver", "scheduler.filters",
 * "scheduler.weighers") may take, NULL-terminated; also its default (the
 * first name for a string, every name for a list).  Before any registry
 * has registered them, any non-empty name is accepted. */
void dv_config_set_names(const char *key, const char *const *names);

/* The block of a section with size > 0 (NULL when it was not registered). */
void *dv_config_section_data(const dv_config *cfg, const char *name);

/* Check the values of section s in cfg (set by a program, not read from a
 * file) against its keys and its check: 0, or -1 with DROVER_ERR_CONFIG
 * "servicegroup.<name>.<key>: ...".  The same rules as a file gets. */
int dv_config_check_section(const dv_config *cfg, const dv_config_section *s, drover_error *err);

/* A string for a message: quoted, control bytes escaped, long values cut. */
const char *dv_config_quote(char *buf, size_t size, const char *s);

/* Replace a string option (used by programs for command-line overrides). */
int dv_config_set_string(char **slot, const char *value, drover_error *err);

/* The file to read when none is given: $DROVER_CONF when set and not empty,
 * else DV_CONFIG_DEFAULT_PATH.  The one place drover, droverd and the
 * library resolve it. */
#define DV_CONFIG_DEFAULT_PATH "/etc/drover/drover.conf"
const char *dv_config_default_path(void);

#endif
