/* zk_records.c - records (the migrator's, the evacuation journal) of the
 * zk state store: R/records/<kind>/<id>, written at the version read. */
#include "store/zk_int.h"
#include "core/statedb.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- records */

int zk_record_put(dv_store *st, const char *kind, const char *id, const char *json,
                         int64_t expected, const dv_fence *fence, int64_t *new_version,
                         drover_error *err)
{
    zk_store *z = ZK(st);
    char *path = zk_path(z, "records", kind, id);
    int rc;

    if (!path)
        return zk_nomem(err);
    rc = zk_put(z, path, json, zk_version_of(expected), fence, new_version, "record", err);
    free(path);
    return rc;
}

static int record_read(zk_store *z, const char *kind, const char *id, dv_store_record *out,
                       drover_error *err)
{
    char *path = zk_path(z, "records", kind, id), *data = NULL;
    struct Stat st = { 0 };
    int zrc;

    memset(out, 0, sizeof *out);
    if (!path)
        return zk_nomem(err);
    zrc = zk_read(z, path, &data, &st, err);
    if (zrc != ZOK) {
        int rc = zrc == ZNONODE ? dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_ZK,
                                         "no record %s/%s", kind, id)
                                : zs_fail(&z->zs, zrc, "read", path, err);
        free(path);
        return rc;
    }
    free(path);
    out->json = data;
    out->version = (int64_t)st.version + 1;
    if (!(out->kind = strdup(kind)) || !(out->id = strdup(id))) {
        dv_store_record_clear(out);
        return zk_nomem(err);
    }
    return 0;
}

int zk_record_get(dv_store *st, const char *kind, const char *id, dv_store_record *out,
                         drover_error *err)
{
    zk_sync(ZK(st));
    return record_read(ZK(st), kind, id, out, err);
}

static int cmp_record(const void *a, const void *b)
{
    return strcmp(((const dv_store_record *)a)->id, ((const dv_store_record *)b)->id);
}

int zk_record_list(dv_store *st, const char *kind, dv_store_record **out, size_t *n,
                          drover_error *err)
{
    zk_store *z = ZK(st);
    struct String_vector kids;
    int rc;

    zk_sync(z);
    if ((rc = zk_list_at(z, "records", kind, &kids, NULL, "list", "records", err)) <= 0)
        return rc;
    rc = 0;
    if (kids.count && !(*out = calloc((size_t)kids.count, sizeof **out)))
        rc = zk_nomem(err);
    for (int i = 0; rc == 0 && i < kids.count; i++) {
        drover_error why = { 0 };
        if (record_read(z, kind, kids.data[i], &(*out)[*n], &why) == 0)
            (*n)++;
        else if (why.code != DROVER_ERR_NOT_FOUND) {   /* deleted meanwhile: skip */
            dv_err_copy(err, &why);
            rc = -1;
        }
    }
    deallocate_String_vector(&kids);
    if (rc < 0) {
        dv_store_records_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    qsort(*out, *n, sizeof **out, cmp_record);
    return 0;
}

int zk_record_delete(dv_store *st, const char *kind, const char *id, int64_t expected,
                            const dv_fence *fence, drover_error *err)
{
    zk_store *z = ZK(st);
    char *path = zk_path(z, "records", kind, id);
    int rc;

    if (!path)
        return zk_nomem(err);
    rc = zk_delete(z, path, expected == DV_STORE_ANY ? -1 : (int)(expected - 1), fence,
                       "record", err);
    free(path);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zk_list_names(dv_store *st, int what, char ***names, size_t *n, drover_error *err)
{
    zk_store *z = ZK(st);
    const char *top = what == DV_STORE_GROUPS ? "admin" : "records";
    struct String_vector kids;
    int rc;

    zk_sync(z);
    if ((rc = zk_list_at(z, top, NULL, &kids, NULL, "list", "names", err)) <= 0)
        return rc;
    if (kids.count && !(*names = calloc((size_t)kids.count, sizeof **names))) {
        deallocate_String_vector(&kids);
        return zk_nomem(err);
    }
    for (int i = 0; i < kids.count; i++) {
        if (!((*names)[i] = strdup(kids.data[i]))) {
            dv_strv_free(*names, (size_t)i);
            *names = NULL;
            deallocate_String_vector(&kids);
            return zk_nomem(err);
        }
    }
    *n = (size_t)kids.count;
    deallocate_String_vector(&kids);
    if (*n)
        qsort(*names, *n, sizeof **names, cmp_str);
    return 0;
}

