/* summary.c - the placement summary of a report (core/report.h): what the
 * filters, `host list` and the instance lookup read, in a form a reader
 * parses without a JSON parser and decodes into one block of an arena.
 *
 * The text (all numbers decimal, a string is LEN ':' BYTES, so no byte of a
 * string needs escaping):
 *   "DS1 " schema generated_ms hypervisor_version libvirt_version
 *   memory_total_mib memory_free_mib vcpus n_instances  (each followed by ' ')
 *   host hypervisor_type arch migration_uri             (strings)
 *   per instance: memory_mib ' ' name uuid state
 *   '\n'
 * The final newline lets a backend put the report's JSON right after it. */
#include "core/report.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "DS1 "

/* ---------------------------------------------------------------- encode */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool bad;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 512) + n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_u64(buf *b, uint64_t v)
{
    char t[24];
    put(b, t, (size_t)snprintf(t, sizeof t, "%llu ", (unsigned long long)v));
}

static void put_str(buf *b, const char *s)
{
    char t[24];
    size_t n = s ? strlen(s) : 0;
    put(b, t, (size_t)snprintf(t, sizeof t, "%zu:", n));
    put(b, s ? s : "", n);
}

int dv_summary_encode(const drover_report *r, char **out, size_t *len, drover_error *err)
{
    buf b = { 0 };

    *out = NULL;
    if (len)
        *len = 0;
    put(&b, MAGIC, sizeof MAGIC - 1);
    put_u64(&b, (uint64_t)(r->schema < 0 ? 0 : r->schema));
    put_u64(&b, (uint64_t)(r->generated_ms < 0 ? 0 : r->generated_ms));
    put_u64(&b, r->hypervisor_version);
    put_u64(&b, r->libvirt_version);
    put_u64(&b, r->memory_total_mib);
    put_u64(&b, r->memory_free_mib);
    put_u64(&b, r->vcpus);
    put_u64(&b, r->n_instances);
    put_str(&b, r->host);
    put_str(&b, r->hypervisor_type);
    put_str(&b, r->arch);
    put_str(&b, r->migration_uri);
    for (size_t i = 0; i < r->n_instances; i++) {
        put_u64(&b, r->instances[i].memory_mib);
        put_str(&b, r->instances[i].name);
        put_str(&b, r->instances[i].uuid);
        put_str(&b, r->instances[i].state);
    }
    put(&b, "\n", 1);
    if (b.bad) {
        free(b.p);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

int dv_summary_of_json(dv_report_decoder *dec, const char *json, size_t len, char **out,
                       size_t *out_len, drover_error *err)
{
    drover_report *r = NULL;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (dv_report_decode(dec, json, len, &r, NULL) < 0)
        return 1;
    rc = dv_summary_encode(r, out, out_len, err);
    drover_report_free(r);
    return rc;
}

/* ---------------------------------------------------------------- the arena */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct dv_arena {
    chunk *head;
};

dv_arena *dv_arena_new(void)
{
    return calloc(1, sizeof(dv_arena));
}

void dv_arena_free(dv_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

#define CHUNK_BYTES (256 * 1024)

static void *arena_alloc(dv_arena *a, size_t n)
{
    chunk *c = a->head;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        if (!(c = malloc(sizeof *c + cap)))
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    c->used += n;
    return (char *)c->data + c->used - n;
}

char *dv_arena_strndup(dv_arena *a, const char *s, size_t n)
{
    char *c = arena_alloc(a, n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* ---------------------------------------------------------------- decode */

typedef struct reader {
    const char *p, *end;
    char *strings;            /* where the next string's copy goes */
    const char *bad;          /* the first field that did not read */
} reader;

static uint64_t get_u64(reader *r, const char *field, uint64_t max)
{
    uint64_t v = 0;
    const char *start = r->p;

    if (r->bad)
        return 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        unsigned d = (unsigned)(*r->p++ - '0');
        if (v > max / 10 || (v == max / 10 && d > max % 10)) {
            r->bad = field;
            return 0;
        }
        v = v * 10 + d;
    }
    if (r->p == start || r->p - start > 20 || r->p == r->end || *r->p != ' ') {
        r->bad = field;
        return 0;
    }
    r->p++;
    return v;
}

/* The next string's length; r->p is then at its first byte. */
static size_t str_len(reader *r, const char *field)
{
    uint64_t n = 0;
    const char *start = r->p;

    if (r->bad)
        return 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && r->p - start < 8)
        n = n * 10 + (uint64_t)(*r->p++ - '0');
    if (r->p == start || r->p == r->end || *r->p != ':' ||
        n > (uint64_t)(r->end - r->p - 1) || memchr(r->p + 1, '\0', (size_t)n)) {
        r->bad = field;
        return 0;
    }
    r->p++;
    return (size_t)n;
}

/* A NUL-terminated copy in the strings area (sized by the caller). */
static char *get_str(reader *r, const char *field)
{
    size_t n = str_len(r, field);
    char *s;

    if (r->bad)
        return NULL;
    s = r->strings;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->strings += n + 1;
    r->p += n;
    return s;
}

static int corrupt(const char *field, drover_error *err)
{
    return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_REPORT,
                  "the report's placement summary cannot be read (at %s): the agent that "
                  "wrote it is broken or the backend's data is damaged",
                  field);
}

/* The fixed fields; n_instances is bounded by the bytes left (each
 * instance takes 8 at least), so a lying count cannot ask for memory the
 * text could not fill. */
static void read_head(reader *r, drover_report *rep, uint64_t *n_inst)
{
    rep->schema = (int)get_u64(r, "schema", DROVER_REPORT_SCHEMA);
    rep->generated_ms = (int64_t)get_u64(r, "generated_ms", INT64_MAX);
    rep->hypervisor_version = get_u64(r, "hypervisor_version", UINT64_MAX);
    rep->libvirt_version = get_u64(r, "libvirt_version", UINT64_MAX);
    rep->memory_total_mib = get_u64(r, "memory_total_mib", UINT64_MAX);
    rep->memory_free_mib = get_u64(r, "memory_free_mib", UINT64_MAX);
    rep->vcpus = (uint32_t)get_u64(r, "vcpus", UINT32_MAX);
    *n_inst = get_u64(r, "n_instances", (uint64_t)(r->end - r->p) / 8);
    if (!r->bad && rep->schema < 1)
        r->bad = "schema";
}

/* The bytes of the four strings after the numbers (0 when they do not
 * read: the decode then stops at the same place). */
static size_t head_strings(reader r)
{
    size_t sum = 0;
    for (int k = 0; k < 4 && !r.bad; k++) {
        size_t n = str_len(&r, "a string");
        sum += n;
        r.p += n;
    }
    return r.bad ? (size_t)(r.end - r.p) : sum;
}

/* Past one instance without keeping it: its memory; its strings checked. */
static uint64_t skip_instance(reader *r)
{
    uint64_t mib = get_u64(r, "an instance's memory_mib", UINT32_MAX);
    for (int k = 0; k < 3 && !r->bad; k++)
        r->p += str_len(r, "an instance's strings");
    return mib;
}

int dv_summary_decode(dv_arena *a, const char *text, size_t len, bool instances, size_t *used,
                      dv_member_summary *ms, drover_error *err)
{
    reader r = { .p = text, .end = text + len };
    drover_report head = { 0 }, *rep;
    uint64_t n_inst = 0, n_keep;
    size_t need;

    ms->report = NULL;
    ms->n_instances = 0;
    ms->memory_used_mib = 0;
    if (used)
        *used = 0;
    if (len < sizeof MAGIC - 1 || memcmp(text, MAGIC, sizeof MAGIC - 1) != 0)
        return corrupt("the start", err);
    r.p += sizeof MAGIC - 1;
    read_head(&r, &head, &n_inst);
    if (r.bad)
        return corrupt(r.bad, err);
    n_keep = instances ? n_inst : 0;
    /* strings: at most the bytes left, plus a NUL for each of 4 + 3n;
     * without the instances, the four strings' bytes exactly */
    need = sizeof *rep + (size_t)n_keep * sizeof(drover_instance) +
           (instances ? (size_t)(r.end - r.p) : head_strings(r)) + 4 + 3 * (size_t)n_keep;
    if (!(rep = arena_alloc(a, need)))
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_REPORT, "out of memory");
    *rep = head;
    rep->instances = n_keep ? (drover_instance *)(rep + 1) : NULL;
    rep->n_instances = (size_t)n_keep;
    r.strings = (char *)(rep + 1) + n_keep * sizeof(drover_instance);
    rep->host = get_str(&r, "host");
    rep->hypervisor_type = get_str(&r, "hypervisor_type");
    rep->arch = get_str(&r, "arch");
    rep->migration_uri = get_str(&r, "migration_uri");
    for (size_t i = 0; i < n_inst && !r.bad; i++) {
        drover_instance *in = &rep->instances[i];
        if (!instances) {
            ms->memory_used_mib += skip_instance(&r);
            continue;
        }
        in->memory_mib = get_u64(&r, "an instance's memory_mib", UINT32_MAX);
        in->name = get_str(&r, "an instance's name");
        in->uuid = get_str(&r, "an instance's uuid");
        in->state = get_str(&r, "an instance's state");
        ms->memory_used_mib += in->memory_mib;
    }
    if (!r.bad && (r.p == r.end || *r.p != '\n'))
        r.bad = "the end";
    if (r.bad) {
        ms->memory_used_mib = 0;
        return corrupt(r.bad, err);   /* the block stays in the arena, unused */
    }
    if (used)
        *used = (size_t)(r.p + 1 - text);
    ms->report = rep;
    ms->n_instances = (size_t)n_inst;
    return 0;
}

bool dv_is_summary(const char *text, size_t len)
{
    return len >= sizeof MAGIC - 1 && memcmp(text, MAGIC, sizeof MAGIC - 1) == 0;
}

void dv_summary_list_free(dv_summary_list *l)
{
    if (!l)
        return;
    drover_members_free(l->members, l->n);
    free(l->sums);
    dv_arena_free(l->arena);
    memset(l, 0, sizeof *l);
}
