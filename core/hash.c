/* hash.c - FNV-1a and an open-addressing string map. */
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

uint64_t dv_fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t dv_hash_bytes(const void *p, size_t n)
{
    uint64_t h = dv_fnv1a(p, n, DV_FNV_OFFSET);

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The slot holding key, or the free slot where it would go (cap > 0). */
static size_t slot_of(const dv_map *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;

    while (m->e[i].key && !(m->e[i].hash == h && m->e[i].len == len &&
                            memcmp(m->e[i].key, key, len) == 0))
        i = (i + 1) & mask;
    return i;
}

static int resize(dv_map *m, size_t cap)
{
    dv_map bigger = { .cap = cap, .n = m->n, .borrow = m->borrow };

    if (!(bigger.e = calloc(cap, sizeof *bigger.e)))
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].key)
            bigger.e[slot_of(&bigger, m->e[i].key, m->e[i].len, m->e[i].hash)] = m->e[i];
    free(m->e);
    *m = bigger;
    return 0;
}

/* At most three quarters full, so probe runs stay short. */
int dv_map_reserve(dv_map *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;

    while (n * 4 > cap * 3)
        cap *= 2;
    return cap == m->cap ? 0 : resize(m, cap);
}

int dv_map_putn(dv_map *m, const char *key, size_t len, void *val)
{
    uint64_t h = dv_hash_bytes(key, len);
    size_t i;

    if (dv_map_reserve(m, m->n + 1) < 0)
        return -1;
    i = slot_of(m, key, len, h);
    if (!m->e[i].key) {
        char *copy = NULL;
        if (!m->borrow) {
            if (!(copy = malloc(len + 1)))
                return -1;
            memcpy(copy, key, len);
            copy[len] = '\0';
        }
        m->e[i] = (dv_map_entry){ m->borrow ? key : copy, len, h, NULL };
        m->n++;
    }
    m->e[i].val = val;
    return 0;
}

int dv_map_put(dv_map *m, const char *key, void *val)
{
    return dv_map_putn(m, key, strlen(key), val);
}

void *dv_map_getn(const dv_map *m, const char *key, size_t len)
{
    size_t i;

    if (!m->n)
        return NULL;
    i = slot_of(m, key, len, dv_hash_bytes(key, len));
    return m->e[i].key ? m->e[i].val : NULL;
}

void *dv_map_get(const dv_map *m, const char *key)
{
    return dv_map_getn(m, key, strlen(key));
}

/* Entries after the hole move back unless their home slot lies between the
 * hole and them: a lookup never stops at the hole. */
void *dv_map_del(dv_map *m, const char *key)
{
    size_t len = strlen(key), mask = m->cap - 1, i, j;
    void *val;

    if (!m->n || !m->e[i = slot_of(m, key, len, dv_hash_bytes(key, len))].key)
        return NULL;
    val = m->e[i].val;
    if (!m->borrow)
        free((char *)m->e[i].key);
    m->e[i].key = NULL;
    m->n--;
    for (j = (i + 1) & mask; m->e[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)m->e[j].hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        m->e[i] = m->e[j];
        m->e[j].key = NULL;
        i = j;
    }
    return val;
}

void dv_map_free(dv_map *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].key)
            continue;
        if (!m->borrow)
            free((char *)m->e[i].key);
        if (free_val)
            free_val(m->e[i].val);
    }
    free(m->e);
    *m = (dv_map){ .borrow = m->borrow };
}
