/* domains.c - what an evacuation asks of a host's libvirt: its domains (and
 * their definitions), defining and starting a guest, removing a stale copy.
 * See domains.h. */
#include "virt/domains.h"
#include "core/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dv_virt_doms_free(dv_virt_dom *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++)
        free(d[i].xml);
    free(d);
}

bool dv_virt_state_active(int state)
{
    return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED ||
           state == VIR_DOMAIN_BLOCKED || state == VIR_DOMAIN_SHUTDOWN ||
           state == VIR_DOMAIN_PMSUSPENDED;
}

static int by_uuid(const void *a, const void *b)
{
    return strcmp(((const dv_virt_dom *)a)->uuid, ((const dv_virt_dom *)b)->uuid);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* One domain into *d; 1 when it vanished meanwhile (left out), -1 on error. */
static int read_one(dv_virt *v, virDomainPtr dom, bool with_xml, dv_virt_dom *d,
                    drover_error *err)
{
    const char *name = virDomainGetName(dom);
    int state = 0, reason = 0, pers;

    memset(d, 0, sizeof *d);
    if (virDomainGetUUIDString(dom, d->uuid) < 0 || !name ||
        virDomainGetState(dom, &state, &reason, 0) < 0)
        return 1;
    lower(d->uuid);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->state = state;
    pers = virDomainIsPersistent(dom);
    d->persistent = pers == 1;
    if (with_xml && d->persistent) {
        d->xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_MIGRATABLE);
        if (!d->xml) {
            virErrorPtr e = virGetLastError();
            if (e && e->code == VIR_ERR_NO_DOMAIN)
                return 1;
            return dv_virt_error(err, dv_virt_uri(v), "virDomainGetXMLDesc");
        }
    }
    return 0;
}

int dv_virt_list_domains(dv_virt *v, bool with_xml, dv_virt_dom **out, size_t *n,
                         drover_error *err)
{
    virDomainPtr *doms = NULL;
    dv_virt_dom *d;
    int nd, rc = 0;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if ((nd = virConnectListAllDomains(dv_virt_conn(v), &doms, 0)) < 0)
        return dv_virt_error(err, dv_virt_uri(v), "virConnectListAllDomains");
    if (!(d = calloc((size_t)nd + 1, sizeof *d))) {
        rc = dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_LIBVIRT, "out of memory");
        goto out;
    }
    for (int i = 0; i < nd && rc == 0; i++) {
        int r = read_one(v, doms[i], with_xml, &d[k], err);
        if (r < 0)
            rc = -1;
        else if (r == 0)
            k++;
    }
    if (rc < 0) {
        dv_virt_doms_free(d, k + 1);
        goto out;
    }
    qsort(d, k, sizeof *d, by_uuid);
    *out = d;
    *n = k;
out:
    for (int i = 0; i < nd; i++)
        virDomainFree(doms[i]);
    free(doms);
    return rc;
}

bool dv_virt_xml_uuid(const char *xml, char *buf, size_t len)
{
    const char *p = xml ? strstr(xml, "<uuid>") : NULL, *q;
    size_t n;

    if (!p)
        return false;
    p += 6;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    for (q = p; *q && *q != '<' && *q != ' ' && *q != '\n'; q++)
        ;
    n = (size_t)(q - p);
    if (n != DV_UUID_LEN || len < n + 1)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    lower(buf);
    return true;
}

/* The domain with uuid, or NULL (*err set only when libvirt failed otherwise). */
static virDomainPtr lookup(dv_virt *v, const char *uuid, bool *failed, drover_error *err)
{
    virDomainPtr d = virDomainLookupByUUIDString(dv_virt_conn(v), uuid);
    virErrorPtr e;

    *failed = false;
    if (d)
        return d;
    e = virGetLastError();
    if (e && e->code == VIR_ERR_NO_DOMAIN) {
        virResetLastError();
        return NULL;
    }
    *failed = true;
    dv_virt_error(err, dv_virt_uri(v), "virDomainLookupByUUIDString");
    return NULL;
}

int dv_virt_define_start(dv_virt *v, const char *uuid, const char *xml, bool *already,
                         drover_error *err)
{
    char xu[DV_UUID_LEN + 1];
    virDomainPtr d;
    bool failed;
    int state = 0, reason = 0, rc = 0;

    *already = false;
    if (!dv_virt_xml_uuid(xml, xu, sizeof xu) || strcasecmp(xu, uuid) != 0)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT,
                      "the definition of %s names another UUID (%s)", uuid,
                      xu[0] ? xu : "none");
    d = lookup(v, uuid, &failed, err);
    if (failed)
        return -1;
    if (d && virDomainGetState(d, &state, &reason, 0) == 0 && dv_virt_state_active(state)) {
        *already = true;
        virDomainFree(d);
        return 0;
    }
    if (!d && !(d = virDomainDefineXML(dv_virt_conn(v), xml)))
        return dv_virt_error(err, dv_virt_uri(v), "virDomainDefineXML");
    if (virDomainCreate(d) < 0)
        rc = dv_virt_error(err, dv_virt_uri(v), "virDomainCreate");
    virDomainFree(d);
    return rc;
}

int dv_virt_destroy_undefine(dv_virt *v, const char *uuid, bool *found, drover_error *err)
{
    unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                     VIR_DOMAIN_UNDEFINE_NVRAM;
    int state = 0, reason = 0, rc = 0;
    bool failed;
    virDomainPtr d = lookup(v, uuid, &failed, err);

    *found = d != NULL;
    if (failed)
        return -1;
    if (!d)
        return 0;
    if (virDomainGetState(d, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF &&
        virDomainDestroy(d) < 0)
        rc = dv_virt_error(err, dv_virt_uri(v), "virDomainDestroy");
    if (rc == 0 && virDomainIsPersistent(d) == 1 && virDomainUndefineFlags(d, flags) < 0)
        rc = dv_virt_error(err, dv_virt_uri(v), "virDomainUndefineFlags");
    virDomainFree(d);
    return rc;
}
