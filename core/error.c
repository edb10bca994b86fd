/* error.c - error values with a code, a domain and a message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
    [DROVER_OK] = "ok",
    [DROVER_ERR_INVALID] = "invalid",
    [DROVER_ERR_CONFIG] = "config",
    [DROVER_ERR_NOMEM] = "nomem",
    [DROVER_ERR_IO] = "io",
    [DROVER_ERR_UNREACHABLE] = "unreachable",
    [DROVER_ERR_NOT_FOUND] = "not-found",
    [DROVER_ERR_UNSUPPORTED] = "unsupported",
    [DROVER_ERR_CORRUPT] = "corrupt",
    [DROVER_ERR_LIBVIRT] = "libvirt",
    [DROVER_ERR_NO_VALID_HOST] = "no-valid-host",
    [DROVER_ERR_CONFLICT] = "conflict",
    [DROVER_ERR_AUTH] = "auth",
    [DROVER_ERR_INTERNAL] = "internal",
};

static const char *const domain_names[] = {
    [DROVER_FROM_NONE] = "none",
    [DROVER_FROM_CORE] = "core",
    [DROVER_FROM_CONFIG] = "config",
    [DROVER_FROM_SERVICEGROUP] = "servicegroup",
    [DROVER_FROM_DB] = "db",
    [DROVER_FROM_MC] = "mc",
    [DROVER_FROM_ZK] = "zk",
    [DROVER_FROM_LIBVIRT] = "libvirt",
    [DROVER_FROM_STATE] = "state",
    [DROVER_FROM_SCHEDULER] = "scheduler",
    [DROVER_FROM_AGENT] = "agent",
    [DROVER_FROM_REPORT] = "report",
};

const char *drover_code_name(drover_code code)
{
    if ((unsigned)code < sizeof code_names / sizeof code_names[0] && code_names[code])
        return code_names[code];
    return "unknown";
}

const char *drover_domain_name(drover_domain domain)
{
    if ((unsigned)domain < sizeof domain_names / sizeof domain_names[0] && domain_names[domain])
        return domain_names[domain];
    return "unknown";
}

int dv_err(drover_error *err, drover_code code, drover_domain domain, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->domain = domain;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void dv_err_prefix(drover_error *err, const char *fmt, ...)
{
    char head[sizeof err->message];
    char old[sizeof err->message];
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* keep as much of both as fits; truncation is acceptable for a message */
    {
        size_t h = strlen(head), cap = sizeof err->message - 1, o;
        if (h > cap - 2)
            h = cap - 2;
        memcpy(err->message, head, h);
        memcpy(err->message + h, ": ", 2);
        o = strnlen(old, sizeof old);
        if (o > cap - h - 2)
            o = cap - h - 2;
        memcpy(err->message + h + 2, old, o);
        err->message[h + 2 + o] = '\0';
    }
}

void dv_err_clear(drover_error *err)
{
    if (err) {
        err->code = DROVER_OK;
        err->domain = DROVER_FROM_NONE;
        err->message[0] = '\0';
    }
}

void dv_err_copy(drover_error *dst, const drover_error *src)
{
    if (dst && src && dst != src)
        *dst = *src;
}
