/* model.h - members, names and the liveness rule shared by every driver. */
#ifndef DV_MODEL_H
#define DV_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define DV_NAME_MAX 255

/* A host or group name usable as a SQLite key, a memcached key part and a
 * ZooKeeper node name: 1..255 bytes, no '/', no control characters or
 * spaces, not "." or "..".  what names the thing in the message ("host"). */
int dv_name_check(const char *what, const char *name, drover_error *err);

/* Nova's rule: UP while |now - last_seen| <= service_down_time, so a small
 * clock skew in either direction does not flap. Forced-down is always DOWN. */
drover_liveness dv_liveness_from_heartbeat(int64_t now_ms, int64_t last_seen_ms,
                                           int service_down_time_s, bool forced_down);

/* Deep-copy helpers; return -1 with DROVER_ERR_NOMEM. */
char *dv_strdup(const char *s);          /* NULL stays NULL; NULL on ENOMEM too */
/* The one growable array: make room in *v (n elements of sz bytes used of
 * *cap) for one more, doubling from 16; the new room is zeroed, so a
 * half-filled element frees cleanly.  -1 (v unchanged) when out of memory. */
int dv_grow(void **v, size_t n, size_t *cap, size_t sz);
/* dst gets allocations of its own (never packed), whatever src is. */
int dv_member_copy(drover_member *dst, const drover_member *src, drover_error *err);

/* libvirt's version number (major * 1e6 + minor * 1e3 + release) as
 * "7.2.22" (from 7002022), into buf; returns buf.  The one formatter of
 * versions: reports, the CLI, the filters' and live checks' reasons. */
const char *dv_version_format(uint64_t v, char *buf, size_t len);

#endif
