/* copy.c - carry a deployment's state from one store to another (drover
 * state migrate --to zk): admin state, unexpired claims, records.  Safe to
 * run again: what is there already is left as it is. */
#include "store/store.h"
#include "core/statedb.h"

#include <stdlib.h>
#include <string.h>

static bool same_admin(const dv_store_admin *a, const dv_store_admin *b)
{
    return a->disabled == b->disabled && a->forced_down == b->forced_down &&
           strcmp(a->reason ? a->reason : "", b->reason ? b->reason : "") == 0;
}

static int copy_admin(dv_store *from, dv_store *to, const char *group,
                      dv_store_copy_stats *stats, drover_error *err)
{
    dv_store_admin *a;
    size_t n;
    int rc = 0;

    if (dv_store_admin_list(from, group, &a, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        dv_store_admin cur;
        dv_store_admin_change chg = { a[i].disabled, a[i].reason, a[i].forced_down };

        if ((rc = dv_store_admin_get(to, group, a[i].host, &cur, err)) < 0)
            break;
        if (same_admin(&cur, &a[i]))
            stats->unchanged++;
        else if ((rc = dv_store_admin_set(to, group, a[i].host, &chg, cur.version, NULL, NULL,
                                          err)) == 0)
            stats->admin++;
        dv_store_admin_clear(&cur);
    }
    dv_store_admins_free(a, n);
    return rc;
}

static bool has_claim(const dv_store_claim *v, size_t n, const dv_store_claim *c)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].host, c->host) == 0 && strcmp(v[i].instance_uuid, c->instance_uuid) == 0)
            return true;
    return false;
}

static int copy_claims(dv_store *from, dv_store *to, dv_store_copy_stats *stats,
                       drover_error *err)
{
    dv_store_claim *src = NULL, *dst = NULL;
    size_t ns = 0, nd = 0;
    int64_t now = dv_clock_now(&from->clock);
    int rc = 0;

    if (dv_store_claim_list(from, NULL, &src, &ns, err) < 0 ||
        dv_store_claim_list(to, NULL, &dst, &nd, err) < 0) {
        dv_store_claims_free(src, ns);
        return -1;
    }
    for (size_t i = 0; i < ns && rc == 0; i++) {
        int64_t id, left_ms = src[i].expires_ms - now;
        if (has_claim(dst, nd, &src[i])) {
            stats->unchanged++;
            continue;
        }
        if (left_ms <= 0)
            continue;
        /* carried as it is: the capacity it was checked against holds */
        rc = dv_store_claim_try(to, src[i].host, src[i].instance_uuid, src[i].owner,
                                src[i].memory_mib, INT64_MAX, (int)((left_ms + 999) / 1000), 0,
                                NULL, &id, err);
        if (rc == 0)
            stats->claims++;
    }
    dv_store_claims_free(src, ns);
    dv_store_claims_free(dst, nd);
    return rc;
}

static int copy_records(dv_store *from, dv_store *to, const char *kind,
                        dv_store_copy_stats *stats, drover_error *err)
{
    dv_store_record *r;
    size_t n;
    int rc = 0;

    if (dv_store_record_list(from, kind, &r, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        dv_store_record cur;
        drover_error why = { 0 };
        int64_t expected = DV_STORE_NEW;

        if (dv_store_record_get(to, kind, r[i].id, &cur, &why) == 0) {
            bool same = strcmp(cur.json, r[i].json) == 0;
            expected = cur.version;
            dv_store_record_clear(&cur);
            if (same) {
                stats->unchanged++;
                continue;
            }
        } else if (why.code != DROVER_ERR_NOT_FOUND) {
            dv_err_copy(err, &why);
            rc = -1;
            break;
        }
        if ((rc = dv_store_record_put(to, kind, r[i].id, r[i].json, expected, NULL, NULL,
                                      err)) == 0)
            stats->records++;
    }
    dv_store_records_free(r, n);
    return rc;
}

int dv_store_copy(dv_store *from, dv_store *to, dv_store_copy_stats *stats, drover_error *err)
{
    char **names;
    size_t n;
    int rc;

    memset(stats, 0, sizeof *stats);
    if (dv_store_list_names(from, DV_STORE_GROUPS, &names, &n, err) < 0)
        return -1;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = copy_admin(from, to, names[i], stats, err);
    dv_strv_free(names, n);
    if (rc < 0 || copy_claims(from, to, stats, err) < 0 ||
        dv_store_list_names(from, DV_STORE_KINDS, &names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = copy_records(from, to, names[i], stats, err);
    dv_strv_free(names, n);
    return rc;
}
