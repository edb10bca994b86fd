/* model.c - members, names and the liveness rule. */
#include "core/model.h"
#include "core/report.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const char *drover_liveness_name(drover_liveness state)
{
    switch (state) {
    case DROVER_UP: return "UP";
    case DROVER_DOWN: return "DOWN";
    case DROVER_UNKNOWN: return "UNKNOWN";
    }
    return "UNKNOWN";
}

int dv_name_check(const char *what, const char *name, drover_error *err)
{
    size_t len;

    if (!name || !*name)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s name is empty", what);
    len = strlen(name);
    if (len > DV_NAME_MAX)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "%s name is %zu bytes long; the limit is %d", what, len, DV_NAME_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "%s name \"%s\" is not allowed", what, name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/')
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "%s name \"%s\" contains '/'", what, name);
        if (c <= 0x20 || c == 0x7f)
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "%s name contains a space or control character (byte 0x%02x at offset %zu)",
                          what, c, i);
    }
    return 0;
}

drover_liveness dv_liveness_from_heartbeat(int64_t now_ms, int64_t last_seen_ms,
                                           int service_down_time_s, bool forced_down)
{
    int64_t age;

    if (forced_down || last_seen_ms <= 0)
        return DROVER_DOWN;
    age = now_ms - last_seen_ms;
    if (age < 0)
        age = -age;
    return age <= (int64_t)service_down_time_s * 1000 ? DROVER_UP : DROVER_DOWN;
}

char *dv_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int dv_grow(void **v, size_t n, size_t *cap, size_t sz)
{
    size_t c;
    void *nv;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 16;
    if (c < *cap || c > SIZE_MAX / sz || !(nv = realloc(*v, c * sz)))
        return -1;
    memset((char *)nv + *cap * sz, 0, (c - *cap) * sz);
    *v = nv;
    *cap = c;
    return 0;
}

void drover_member_clear(drover_member *m)
{
    if (!m)
        return;
    if (!m->packed) {
        free(m->group);
        free(m->host);
        free(m->disabled_reason);
    }
    free(m->report_json);
    drover_report_free(m->report);
    memset(m, 0, sizeof *m);
}

/* A packed list's strings follow its array in the same block: free(members)
 * releases them. */
void drover_members_free(drover_member *members, size_t n)
{
    if (!members)
        return;
    for (size_t i = 0; i < n; i++)
        drover_member_clear(&members[i]);
    free(members);
}

int dv_member_copy(drover_member *dst, const drover_member *src, drover_error *err)
{
    memset(dst, 0, sizeof *dst);
    dst->state = src->state;
    dst->disabled = src->disabled;
    dst->forced_down = src->forced_down;
    dst->last_seen_ms = src->last_seen_ms;
    if ((src->group && !(dst->group = strdup(src->group))) ||
        (src->host && !(dst->host = strdup(src->host))) ||
        (src->disabled_reason && !(dst->disabled_reason = strdup(src->disabled_reason))) ||
        (src->report_json && !(dst->report_json = strdup(src->report_json)))) {
        drover_member_clear(dst);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CORE, "out of memory copying a member");
    }
    if (dst->report_json && dv_report_from_json(dst->report_json, strlen(dst->report_json),
                                                &dst->report, NULL) < 0)
        dst->report = NULL;
    return 0;
}

const char *dv_version_format(uint64_t v, char *buf, size_t len)
{
    snprintf(buf, len, "%llu.%llu.%llu", (unsigned long long)(v / 1000000),
             (unsigned long long)(v / 1000 % 1000), (unsigned long long)(v % 1000));
    return buf;
}
