/* zk_config.c - the servicegroup.zk section: its keys, rules and defaults.
 * These are the only checks of the section: zk_open trusts them. */
#include "drivers/zk/zk.h"
#include "core/model.h"

#define AT(field) offsetof(dv_config, servicegroup.zk.field)

static int hosts_rule(const char *v, char *why, size_t n)
{
    char item[300], q[96];
    const char *p = v;

    for (int i = 1;; i++) {
        size_t len = strcspn(p, ",");
        drover_error e = { 0 };
        if (len >= sizeof item) {
            e.code = DROVER_ERR_CONFIG;
            snprintf(e.message, sizeof e.message, "it is too long");
        } else {
            memcpy(item, p, len);
            item[len] = '\0';
            dv_config_hostport(item, 0, NULL, 0, NULL, &e);
        }
        if (e.code != DROVER_OK) {
            snprintf(why, n, "expected \"host:port[,host:port...]\", got %s: server %d: %s",
                     dv_config_quote(q, sizeof q, v), i, e.message);
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* Why the path v cannot be the prefix, or NULL.  A node name follows the
 * rules of member names (dv_name_check); /zookeeper is ZooKeeper's own. */
static const char *prefix_why(const char *v, drover_error *e)
{
    size_t len = strlen(v);
    char part[DV_NAME_MAX + 2];

    if (v[0] != '/')
        return "it must start with '/'";
    if (len > 1 && v[len - 1] == '/')
        return "it must not end with '/' (unless it is \"/\")";
    if (strstr(v, "//"))
        return "it must not contain an empty node name (\"//\")";
    if (strstr(v, "/./") || strstr(v, "/../") || (len >= 2 && strcmp(v + len - 2, "/.") == 0) ||
        (len >= 3 && strcmp(v + len - 3, "/..") == 0))
        return "ZooKeeper forbids \".\" and \"..\" as node names";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return "it must not contain control characters";
    if (strncmp(v, "/zookeeper", 10) == 0 && (!v[10] || v[10] == '/'))
        return "/zookeeper belongs to ZooKeeper itself";
    for (const char *p = v + 1; *p;) {
        size_t l = strcspn(p, "/");
        snprintf(part, sizeof part, "%.*s", (int)(l > DV_NAME_MAX ? DV_NAME_MAX + 1 : l), p);
        if (dv_name_check("node name", part, e) < 0)
            return e->message;
        p += l + (p[l] == '/');
    }
    return NULL;
}

static int prefix_rule(const char *v, char *why, size_t n)
{
    drover_error e = { 0 };
    const char *w = prefix_why(v, &e);
    char q[96];

    if (!w)
        return 0;
    snprintf(why, n, "expected a ZooKeeper path such as \"/drover\", got %s: %s",
             dv_config_quote(q, sizeof q, v), w);
    return -1;
}

static int auth_rule(const char *v, char *why, size_t n)
{
    const char *colon = strchr(v, ':');

    if (!*v || (colon && colon != v && colon[1]))
        return 0;
    snprintf(why, n, "expected \"\" (no authentication) or \"user:password\" with a non-empty "
             "user and password (value not shown)");
    return -1;
}

static const dv_config_key keys[] = {
    DV_KEY_STRING("hosts", AT(hosts), DV_CONFIG_NONEMPTY, "127.0.0.1:2181", hosts_rule),
    DV_KEY_INT("session_timeout_ms", AT(session_timeout_ms), 100, 600000, 4000),
    DV_KEY_STRING("prefix", AT(prefix), DV_CONFIG_NONEMPTY, "/drover", prefix_rule),
    DV_KEY_STRING("auth", AT(auth), DV_CONFIG_SECRET, "", auth_rule),
    DV_KEY_END,
};

const dv_config_section zk_config_section = { .name = "zk", .keys = keys };
