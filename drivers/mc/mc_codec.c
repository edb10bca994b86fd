/* mc_codec.c - member keys and the value codec. */
#include "drivers/mc/mc.h"

/* ---------------------------------------------------------------- keys */

/* The member's key into buf (KEY_MAX + 1 bytes); returns its length.  Names
 * hold no spaces or control characters (dv_name_check), so keys are valid
 * in either protocol; a pair too long for a key is hashed (the value names
 * the pair, and reads check it). */
size_t mc_member_key(char *buf, const char *group, const char *host)
{
    int n = snprintf(buf, KEY_MAX + 1, KEY_PREFIX ":%s:%s", group, host);
    uint64_t a, b;

    if (n > 0 && n <= KEY_MAX)
        return (size_t)n;
    a = dv_fnv1a(host, strlen(host) + 1, dv_fnv1a(group, strlen(group) + 1, DV_FNV_OFFSET));
    b = dv_fnv1a(host, strlen(host) + 1, dv_fnv1a(group, strlen(group) + 1, 0x84222325cbf29ce4ULL));
    return (size_t)snprintf(buf, KEY_MAX + 1, KEY_PREFIX ":#%016" PRIx64 "%016" PRIx64, a, b);
}

/* The key of the member's summary: the member key with "dvsum" for
 * KEY_PREFIX (one byte shorter, so it always fits).  It is kept on the
 * member key's server (the _by_key calls), whatever it hashes to. */
size_t mc_summary_key(char *buf, const char *group, const char *host)
{
    char k[KEY_MAX + 1];
    size_t n = mc_member_key(k, group, host), pl = sizeof KEY_PREFIX - 1;

    memcpy(buf, SUM_PREFIX, sizeof SUM_PREFIX - 1);
    memcpy(buf + sizeof SUM_PREFIX - 1, k + pl, n - pl + 1);
    return n - pl + sizeof SUM_PREFIX - 1;
}

uint32_t mc_server_of(mc_sg *m, const char *key, size_t len)
{
    return m->n_srv == 1 ? 0 : memcached_generate_hash(m->mc, key, len);
}

void mc_place_of(mc_sg *m, const char *group, const char *host, mc_place *p)
{
    p->klen = mc_member_key(p->key, group, host);
    p->s = mc_server_of(m, p->key, p->klen);
}


/* ---------------------------------------------------------------- values */

/* "dv1 <ms> <group> <host>\n<report>"; malloc'ed, *len set. */
char *mc_value_make(int64_t now, const char *group, const char *host, const char *report,
                    size_t report_len, size_t *len)
{
    size_t cap = 48 + strlen(group) + strlen(host) + report_len;
    char *v = malloc(cap);
    int n;

    if (!v)
        return NULL;
    n = snprintf(v, cap, VALUE_MAGIC "%" PRId64 " %s %s\n", now, group, host);
    if (n < 0 || (size_t)n + report_len >= cap) {
        free(v);
        return NULL;
    }
    memcpy(v + n, report, report_len);
    v[n + report_len] = '\0';
    *len = (size_t)n + report_len;
    return v;
}

/* Match "word " or "word\n" at *p (bounded by end). */
static bool eat_word(const char **p, const char *end, const char *word, char stop)
{
    size_t n = strlen(word);

    if ((size_t)(end - *p) < n + 1 || memcmp(*p, word, n) != 0 || (*p)[n] != stop)
        return false;
    *p += n + 1;
    return true;
}

/* Parse a value read back for (group, host); false if it is not ours. */
bool mc_value_parse(const char *v, size_t len, const char *group, const char *host,
                    mc_parsed *out)
{
    const char *p = v, *end = v + len;
    int64_t ts = 0;
    int digits = 0;

    if (len < sizeof VALUE_MAGIC || memcmp(v, VALUE_MAGIC, sizeof VALUE_MAGIC - 1) != 0)
        return false;
    p += sizeof VALUE_MAGIC - 1;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        ts = ts * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || p == end || *p++ != ' ' || !eat_word(&p, end, group, ' ') ||
        !eat_word(&p, end, host, '\n'))
        return false;
    out->ts = ts;
    out->report = p;
    out->report_len = (size_t)(end - p);
    return true;
}
