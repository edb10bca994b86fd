/* mc_config.c - the servicegroup.mc section: its keys, rules and defaults. */
#include "drivers/mc/mc.h"

#define AT(field) offsetof(dv_config, servicegroup.mc.field)

static int server_rule(const char *v, char *why, size_t n)
{
    drover_error e = { 0 };
    char q[96];

    if (dv_config_hostport(v, MC_DEFAULT_PORT, NULL, 0, NULL, &e) == 0)
        return 0;
    snprintf(why, n, "expected \"host:port\" or \"host\" (port %d), got %s: %s", MC_DEFAULT_PORT,
             dv_config_quote(q, sizeof q, v), e.message);
    return -1;
}

static int check(const dv_config *cfg, const char **key, char *why, size_t n)
{
    if (*cfg->servicegroup.mc.password && !*cfg->servicegroup.mc.username) {
        *key = "password";
        snprintf(why, n, "servicegroup.mc.password is set but servicegroup.mc.username is empty");
        return -1;
    }
    return 0;
}

static const char *const default_servers[] = { "127.0.0.1:11211", NULL };

static const dv_config_key keys[] = {
    DV_KEY_LIST("servers", AT(servers), DV_CONFIG_NONEMPTY | DV_CONFIG_UNIQUE, default_servers,
                server_rule),
    DV_KEY_STRING("username", AT(username), 0, "", NULL),
    DV_KEY_STRING("password", AT(password), DV_CONFIG_SECRET, "", NULL),
    DV_KEY_INT("poll_timeout_ms", AT(poll_timeout_ms), 1, 600000, 500),
    DV_KEY_INT("retry_timeout_s", AT(retry_timeout_s), 1, 3600, 2),
    DV_KEY_END,
};

const dv_config_section mc_config_section = { .name = "mc", .keys = keys, .check = check };
