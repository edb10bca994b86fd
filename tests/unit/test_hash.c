/* test_hash.c - the one hash and string map (core/hash.c).
 *
 * FNV-1a against its published test vectors; the map empty, growing far
 * past its first size, with keys that share a slot (found by search, so the
 * probe runs and deletions inside them are exercised for real), absent
 * keys, replacement, deletion with back-shifting, borrowed keys with
 * lengths (not NUL-terminated) and index values. */
#include "core/hash.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int freed;

static void count_free(void *p)
{
    (void)p;
    freed++;
}

static void test_fnv(void)
{
    /* FNV-1a 64 test vectors (Fowler, Noll, Vo) */
    ok(dv_fnv1a("", 0, DV_FNV_OFFSET) == 0xcbf29ce484222325ULL, "fnv1a of \"\"");
    ok(dv_fnv1a("a", 1, DV_FNV_OFFSET) == 0xaf63dc4c8601ec8cULL, "fnv1a of \"a\"");
    ok(dv_fnv1a("foobar", 6, DV_FNV_OFFSET) == 0x85944171f73967e8ULL, "fnv1a of \"foobar\"");
    ok(dv_fnv1a("bar", 3, dv_fnv1a("foo", 3, DV_FNV_OFFSET)) ==
           dv_fnv1a("foobar", 6, DV_FNV_OFFSET), "fnv1a chains across calls");
    ok(dv_hash_bytes("host1", 5) != dv_hash_bytes("host2", 5), "mixed hashes differ");
}

static void test_empty(void)
{
    dv_map m = { 0 };

    ok(dv_map_get(&m, "x") == NULL, "empty map: get finds nothing");
    ok(dv_map_getn(&m, "", 0) == NULL, "empty map: the empty key is absent");
    ok(dv_map_del(&m, "x") == NULL, "empty map: del of an absent key is NULL");
    is_int((int)dv_map_get_index(&m, "x", 1), -1, "empty map: no index");
    dv_map_free(&m, NULL);
    ok(m.n == 0 && m.cap == 0 && m.e == NULL, "free of an empty map leaves it empty");
}

static void test_growth(void)
{
    dv_map m = { 0 };
    char key[32];
    int bad = 0, *vals = calloc(5000, sizeof *vals);

    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "compute/host-%d", i);
        vals[i] = i;
        if (dv_map_put(&m, key, &vals[i]) < 0)
            bad++;
    }
    is_int(bad, 0, "5000 puts succeed");
    is_int((int)m.n, 5000, "5000 entries");
    ok(m.cap >= 5000 * 4 / 3 && (m.cap & (m.cap - 1)) == 0, "capacity grew to a power of two "
       "at most three quarters full (%zu)", m.cap);
    for (int i = 0; i < 5000; i++) {
        int *v;
        snprintf(key, sizeof key, "compute/host-%d", i);
        v = dv_map_get(&m, key);
        if (!v || *v != i)
            bad++;
    }
    is_int(bad, 0, "every key finds its value after growth");
    ok(dv_map_get(&m, "compute/host-5000") == NULL, "an absent key is absent");
    ok(dv_map_get(&m, "compute/host-") == NULL, "a prefix of keys is absent");
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "compute/host-%d", i);
        if (dv_map_del(&m, key) != &vals[i])
            bad++;
    }
    is_int(bad, 0, "deleting half returns their values");
    for (int i = 0; i < 5000; i++) {
        void *v;
        snprintf(key, sizeof key, "compute/host-%d", i);
        v = dv_map_get(&m, key);
        if (i % 2 ? v != &vals[i] : v != NULL)
            bad++;
    }
    is_int(bad, 0, "after deletions the rest are still found, the deleted are not");
    freed = 0;
    dv_map_free(&m, count_free);
    is_int(freed, 2500, "free calls free_val once per remaining entry");
    free(vals);
}

/* Keys whose home slot in a 16-slot map is the same. */
static int colliding(char keys[][16], int want)
{
    int n = 0;
    uint64_t home = dv_hash_bytes("k0", 2) & 15;

    for (int i = 0; i < 100000 && n < want; i++) {
        char k[16];
        int len = snprintf(k, sizeof k, "k%d", i);
        if ((dv_hash_bytes(k, (size_t)len) & 15) == home)
            memcpy(keys[n++], k, sizeof k);
    }
    return n;
}

static void test_collisions(void)
{
    char keys[6][16];
    int vals[6], bad = 0;
    dv_map m = { 0 };

    is_int(colliding(keys, 6), 6, "found six keys sharing a home slot");
    ok(dv_map_reserve(&m, 8) == 0 && m.cap == 16, "reserve 8 gives 16 slots");
    for (int i = 0; i < 6; i++) {
        vals[i] = i;
        dv_map_put(&m, keys[i], &vals[i]);
    }
    is_int((int)m.cap, 16, "no growth: the collisions share one probe run");
    for (int i = 0; i < 6; i++)
        if (dv_map_get(&m, keys[i]) != &vals[i])
            bad++;
    is_int(bad, 0, "each colliding key finds its own value");
    ok(dv_map_del(&m, keys[1]) == &vals[1], "delete inside the run");
    ok(dv_map_del(&m, keys[0]) == &vals[0], "delete the head of the run");
    for (int i = 2; i < 6; i++)
        if (dv_map_get(&m, keys[i]) != &vals[i])
            bad++;
    is_int(bad, 0, "keys behind the holes are still found");
    ok(dv_map_get(&m, keys[0]) == NULL && dv_map_get(&m, keys[1]) == NULL,
       "deleted colliding keys are absent");
    ok(dv_map_put(&m, keys[3], &vals[0]) == 0 && dv_map_get(&m, keys[3]) == &vals[0] && m.n == 4,
       "put of a present key replaces its value, the count stays");
    dv_map_free(&m, NULL);
}

static void test_borrowed(void)
{
    const char text[] = "alphabetagamma";
    dv_map m = { .borrow = true };

    ok(dv_map_put_index(&m, text, 5, 0) == 0 && dv_map_put_index(&m, text + 5, 4, 1) == 0 &&
       dv_map_put_index(&m, text + 9, 5, 2) == 0, "three borrowed keys with lengths");
    ok(m.e[0].key == NULL || m.borrow, "the map borrows");
    is_int((int)dv_map_get_index(&m, "beta", 4), 1, "index 1 found by a key of another buffer");
    is_int((int)dv_map_get_index(&m, "alpha", 5), 0, "index 0 is not mistaken for absent");
    is_int((int)dv_map_get_index(&m, "gamma", 5), 2, "index 2");
    is_int((int)dv_map_get_index(&m, "alph", 4), -1, "a shorter key is absent");
    is_int((int)dv_map_get_index(&m, "alphab", 6), -1, "a longer key is absent");
    dv_map_free(&m, NULL);
    ok(m.borrow && m.n == 0, "free keeps the borrow mode");
}

int main(void)
{
    test_fnv();
    test_empty();
    test_growth();
    test_collisions();
    test_borrowed();
    return done_testing();
}
