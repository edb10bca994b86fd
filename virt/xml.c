/* xml.c - the few pieces of libvirt XML drover reads: the host CPU in the
 * capabilities, a domain's type and its CPU.  Plain string scanning: the
 * documents come from libvirt, and drover needs three elements of them. */
#include "virt/virt.h"

#include <stdlib.h>
#include <string.h>


/* The first "<name>", "<name " or "<name/>" in [p, end). */
static const char *find_open_tag(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    for (; p && p < end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || (size_t)(end - p) < n + 2)
            return NULL;
        if (memcmp(p + 1, name, n) == 0 &&
            (p[n + 1] == '>' || p[n + 1] == ' ' || p[n + 1] == '\n' || p[n + 1] == '\t' ||
             p[n + 1] == '/'))
            return p;
    }
    return NULL;
}

static const char *find_str(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);

    for (; p && p + n <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p || p + n > end)
            return NULL;
        if (memcmp(p, needle, n) == 0)
            return p;
    }
    return NULL;
}

static bool arch_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static char *dup_range(const char *a, const char *b)
{
    char *s = malloc((size_t)(b - a) + 1);
    if (s) {
        memcpy(s, a, (size_t)(b - a));
        s[b - a] = '\0';
    }
    return s;
}

int dv_virt_parse_host_cpu(const char *caps, const char *what, char **arch, char **cpu_xml,
                           drover_error *err)
{
    const char *end, *host, *host_end, *cpu, *cpu_end, *a, *a_end;

    *arch = *cpu_xml = NULL;
    if (!caps)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: no document", what);
    end = caps + strlen(caps);
    if (!(host = find_open_tag(caps, end, "host")) ||
        !(host_end = find_str(host, end, "</host>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s have no complete <host> element", what);
    if (!(cpu = find_open_tag(host, host_end, "cpu")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: <host> has no <cpu> element", what);
    /* the host CPU holds no nested <cpu>; its own end tag closes it */
    if (!(cpu_end = find_str(cpu, host_end, "</cpu>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <cpu> element is not closed", what);
    cpu_end += strlen("</cpu>");
    if (!(a = find_str(cpu, cpu_end, "<arch>")) ||
        !(a_end = find_str(a, cpu_end, "</arch>")))
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <cpu> has no <arch>", what);
    a += strlen("<arch>");
    while (a < a_end && (*a == ' ' || *a == '\n' || *a == '\t' || *a == '\r'))
        a++;
    while (a_end > a && (a_end[-1] == ' ' || a_end[-1] == '\n' || a_end[-1] == '\t' ||
                         a_end[-1] == '\r'))
        a_end--;
    if (a == a_end || a_end - a > 32)
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                      "capabilities of %s: the host <arch> is %s", what,
                      a == a_end ? "empty" : "longer than 32 characters");
    for (const char *p = a; p < a_end; p++)
        if (!arch_char(*p))
            return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_LIBVIRT,
                          "capabilities of %s: the host <arch> holds a character (0x%02x) "
                          "no architecture name has", what, (unsigned char)*p);
    if (!(*arch = dup_range(a, a_end)) || !(*cpu_xml = dup_range(cpu, cpu_end))) {
        free(*arch);
        *arch = NULL;
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
    }
    return 0;
}


bool dv_xml_attr(const char *tag, const char *name, char *buf, size_t len)
{
    const char *end = strchr(tag, '>');
    size_t nl = strlen(name);

    for (const char *p = tag + 1; end && p < end; p++) {
        if (p[-1] != ' ' || strncmp(p, name, nl) != 0 || p[nl] != '=' ||
            (p[nl + 1] != '\'' && p[nl + 1] != '"'))
            continue;
        const char *val = p + nl + 2, *q = strchr(val, p[nl + 1]);
        if (!q || q > end || (size_t)(q - val) >= len)
            return false;
        memcpy(buf, val, (size_t)(q - val));
        buf[q - val] = '\0';
        return true;
    }
    return false;
}

bool dv_virt_domain_type(const char *xml, char *buf, size_t len)
{
    const char *tag = strstr(xml, "<domain ");
    return tag && dv_xml_attr(tag, "type", buf, len);
}

/* The <cpu> element of a domain XML (not <cputune>), malloc'ed; NULL if none. */
static char *cpu_element(const char *xml)
{
    const char *p = xml, *end;

    while ((p = strstr(p, "<cpu")) && p[4] != ' ' && p[4] != '>' && p[4] != '/')
        p += 4;
    if (!p)
        return NULL;
    end = strchr(p, '>');
    if (!end)
        return NULL;
    if (end[-1] != '/') {
        const char *close = strstr(end, "</cpu>");
        if (!close)
            return NULL;
        end = close + 5;
    }
    return strndup(p, (size_t)(end - p + 1));
}

char *dv_virt_domain_cpu(const char *xml)
{
    char *cpu = cpu_element(xml), mode[32] = "custom";

    if (!cpu)
        return NULL;
    dv_xml_attr(cpu, "mode", mode, sizeof mode);
    if (strcmp(mode, "host-passthrough") != 0 && strcmp(mode, "maximum") != 0 &&
        strstr(cpu, "<model"))
        return cpu;
    free(cpu);
    return NULL;
}
