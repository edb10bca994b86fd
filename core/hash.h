/* hash.h - the one hash and the one string map of drover.
 *
 * dv_fnv1a is FNV-1a (64 bit); dv_hash_bytes adds a final mix, because
 * FNV-1a's low bits depend only on the low bits of each byte and a table
 * masks the low bits: keys that differ in a digit or two would cluster.
 *
 * dv_map maps byte strings to pointers, open addressing with linear
 * probing.  A zeroed dv_map is an empty map that copies its keys; one
 * initialised with .borrow = true keeps the caller's key pointers instead
 * (they must outlive the map), for short-lived maps over keys that already
 * sit in memory.  Values must not be NULL (NULL means "absent"); an index
 * is stored with dv_map_put_index. */
#ifndef DV_HASH_H
#define DV_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DV_FNV_OFFSET 0xcbf29ce484222325ULL

uint64_t dv_fnv1a(const void *p, size_t n, uint64_t h);
/* dv_fnv1a from DV_FNV_OFFSET, then mixed: the hash of the map. */
uint64_t dv_hash_bytes(const void *p, size_t n);

typedef struct dv_map_entry {
    const char *key;               /* NULL: a free slot */
    size_t len;
    uint64_t hash;
    void *val;
} dv_map_entry;

typedef struct dv_map {
    dv_map_entry *e;
    size_t cap, n;                 /* cap is 0 or a power of two */
    bool borrow;                   /* keep key pointers instead of copies */
} dv_map;

/* Room for n entries without growing; -1 on ENOMEM. */
int dv_map_reserve(dv_map *m, size_t n);
/* Insert or replace (val not NULL); -1 on ENOMEM (the map is unchanged). */
int dv_map_putn(dv_map *m, const char *key, size_t len, void *val);
int dv_map_put(dv_map *m, const char *key, void *val);
void *dv_map_getn(const dv_map *m, const char *key, size_t len);
void *dv_map_get(const dv_map *m, const char *key);
/* Remove key; its value, or NULL when it was absent. */
void *dv_map_del(dv_map *m, const char *key);
/* Free the map (and each value with free_val unless NULL); it is empty again. */
void dv_map_free(dv_map *m, void (*free_val)(void *));

/* An index as a value: stored as index + 1, so index 0 is not "absent". */
static inline int dv_map_put_index(dv_map *m, const char *key, size_t len, size_t index)
{
    return dv_map_putn(m, key, len, (void *)(uintptr_t)(index + 1));
}

/* The index stored for key, or (size_t)-1 when it is absent. */
static inline size_t dv_map_get_index(const dv_map *m, const char *key, size_t len)
{
    return (size_t)(uintptr_t)dv_map_getn(m, key, len) - 1;
}

#endif
